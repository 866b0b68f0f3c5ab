//! `sandboxctl-init`: the launcher and, after clone, the sandbox's pid 1.
//! Started fresh (never forked from Node), single-threaded.
//!
//!   sandboxctl-init --plan-fd N     plan on fd N (one JSON line), reports back on it
//!   sandboxctl-init --plan FILE|-   plan from a file or stdin, errors on stderr
//!   sandboxctl-init --version

use sandbox_core::error::Error;
use sandbox_core::init::{report, EXIT_SETUP};
use sandbox_core::launch::{run_launcher, LaunchContext};
use sandbox_core::sys::{setup_signals, Fd, LinuxSys, Sys};
use sandbox_core::{seccomp, validate};
use std::io::Read;
use std::os::fd::FromRawFd;
use std::os::unix::ffi::OsStrExt;

const USAGE: &str = "usage: sandboxctl-init --plan FILE | --plan-fd N | --version";

fn die(msg: &str) -> ! {
    LinuxSys.log(msg);
    LinuxSys.exit(EXIT_SETUP)
}

/// Read one line (the plan) from `fd` without reading past it: the same
/// socket carries our reports afterwards.
fn read_plan_fd(fd: Fd) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        // SAFETY: buf is a valid buffer for its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("cannot read the plan from fd {fd}: {e}"));
        }
        if n == 0 {
            return Ok(out);
        }
        let chunk = &buf[..n as usize];
        if let Some(i) = chunk.iter().position(|&b| b == b'\n') {
            out.extend_from_slice(&chunk[..i]);
            return Ok(out);
        }
        out.extend_from_slice(chunk);
        if out.len() > 64 << 20 {
            return Err("the plan is larger than 64 MiB".into());
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (bytes, report_fd) = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["--version"] => {
            println!("sandboxctl-init {}", sandbox_core::VERSION);
            return;
        }
        ["--plan-fd", n] => {
            let fd: Fd = n.parse().unwrap_or_else(|_| die(&format!("E_USAGE: bad fd {n}\n{USAGE}")));
            // The report fd must not reach the program: close-on-exec.
            // SAFETY: fcntl on an fd number we were handed.
            if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
                die(&format!("E_USAGE: fd {fd} is not open"));
            }
            match read_plan_fd(fd) {
                Ok(b) => (b, Some(fd)),
                Err(e) => die(&format!("E_PLAN_INVALID: {e}")),
            }
        }
        ["--plan", "-"] => {
            let mut b = Vec::new();
            // SAFETY: fd 0 stays open; ManuallyDrop keeps it so.
            let mut stdin = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(0) });
            if let Err(e) = stdin.read_to_end(&mut b) {
                die(&format!("E_PLAN_INVALID: cannot read the plan from stdin: {e}"));
            }
            (b, None)
        }
        ["--plan", file] => match std::fs::read(file) {
            Ok(b) => (b, None),
            Err(e) => die(&format!("E_PLAN_INVALID: cannot read plan {file}: {e}")),
        },
        _ => die(&format!("E_USAGE: {USAGE}")),
    };
    let sys = LinuxSys;
    let plan = match validate::check(&bytes) {
        Ok(p) => p,
        Err(e) => {
            report(&sys, report_fd, &Error::from(e));
            sys.exit(EXIT_SETUP)
        }
    };
    let filters = match seccomp::compile(&plan.seccomp, !plan.new_session) {
        Ok(f) => f,
        Err(e) => die(&format!("E_SETUP: cannot compile the seccomp filter: {e}")),
    };
    let env: Vec<String> = std::env::vars_os()
        .map(|(k, v)| {
            let mut s = k.as_bytes().to_vec();
            s.push(b'=');
            s.extend_from_slice(v.as_bytes());
            String::from_utf8_lossy(&s).into_owned()
        })
        .collect();
    let caller_cwd = std::env::current_dir().ok().and_then(|p| p.to_str().map(String::from));
    // Placeholder locks: checked and chosen by the launcher (ops/placeholder.rs).
    let runtime_dir = std::env::var("XDG_RUNTIME_DIR").ok();
    setup_signals();
    let cx = LaunchContext { plan: &plan, report_fd, seccomp: &filters, env, caller_cwd, parent: sys.getppid(), runtime_dir };
    // SAFETY: getuid/getgid have no arguments.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    run_launcher(&sys, uid, gid, &cx)
}
