//! Stage: the launcher's start, after `sandboxctl-init` parsed its argv.
//! Reads the plan from where argv said (one line on the report socket, a
//! file, stdin), checks it and compiles its seccomp filters before anything
//! exists, builds the [`LaunchContext`] from this process (environment,
//! working directory, `$XDG_RUNTIME_DIR`, parent, ids) and launches.

use super::{run_launcher, LaunchContext};
use crate::error::{Code, Error, SetupError};
use crate::init::EXIT_SETUP;
use crate::sys::{bfd, setup_signals, Errno, Fd, LinuxSys, Sys};
use crate::{report, seccomp, validate};
use nix::errno::Errno as NixErrno;
use nix::fcntl::{self, FcntlArg, FdFlag};
use nix::unistd;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;

/// Where the plan comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanInput {
    /// One JSON line on this socket, which then carries the report lines.
    Fd(Fd),
    /// A file; errors go to stderr.
    File(String),
    /// All of stdin; errors go to stderr.
    Stdin,
}

/// The largest plan read from a socket.
const MAX_PLAN: usize = 64 << 20;

/// Read, check and launch. Never returns.
pub fn launch(input: PlanInput) -> ! {
    let sys = LinuxSys;
    let report_fd = match input {
        PlanInput::Fd(fd) => Some(fd),
        _ => None,
    };
    // Until the plan is read the socket carries nothing: a failure to read
    // it goes to stderr.
    let bytes = read_plan(&input).unwrap_or_else(|e| fatal(&sys, None, e.into()));
    launch_plan(&bytes, report_fd)
}

/// Check and launch a plan already read (`bytes`: its JSON), reporting on
/// `report_fd` when given: what `sandboxctl-init --plan-fd` does after the
/// read, and what the native `sandboxctl` front-end's launcher process does
/// with the plan it built (crates/sandbox-front). Never returns.
pub fn launch_plan(bytes: &[u8], report_fd: Option<Fd>) -> ! {
    let sys = LinuxSys;
    let plan = validate::check(bytes).unwrap_or_else(|e| fatal(&sys, report_fd, e.into()));
    let compiled = if plan.is_zygote() {
        // The bulk loaded once by the zygote, the rest by each sandbox it forks.
        seccomp::compile_zygote(&plan.seccomp, !plan.new_session, plan.sets_id_bits()).map(|z| (z.zygote, z.sandbox))
    } else {
        seccomp::compile(&plan.seccomp, !plan.new_session).map(|f| (Vec::new(), f))
    };
    let (zygote_filters, filters) =
        compiled.unwrap_or_else(|e| fatal(&sys, report_fd, SetupError::new(Code::Setup, format!("cannot compile the seccomp filter: {e}")).into()));
    // plan.report: the first filter's notify variant (seccomp/notify.rs).
    let notify =
        filters.first().filter(|_| plan.report && report_fd.is_some()).and_then(|f| seccomp::Arch::host().and_then(|a| seccomp::notify::variant(f, a)));
    setup_signals();
    let cx = LaunchContext {
        plan: &plan,
        report_fd,
        seccomp: &filters,
        zygote_seccomp: &zygote_filters,
        program_seccomp: &[],
        seccomp_notify: notify.as_deref(),
        env: environment(),
        caller_cwd: std::env::current_dir().ok().and_then(|p| p.to_str().map(String::from)),
        parent: sys.getppid(),
        // Placeholder locks: checked and chosen by the launcher (ops/placeholder.rs).
        runtime_dir: std::env::var("XDG_RUNTIME_DIR").ok(),
    };
    run_launcher(&sys, unistd::getuid().as_raw(), unistd::getgid().as_raw(), &cx)
}

fn fatal(sys: &dyn Sys, report_fd: Option<Fd>, err: Error) -> ! {
    report::error(sys, report_fd, &err);
    sys.exit(EXIT_SETUP)
}

/// This process's environment as `KEY=VALUE` (lossy for non-UTF-8 bytes).
pub(crate) fn environment() -> Vec<String> {
    std::env::vars_os()
        .map(|(k, v)| {
            let mut s = k.as_bytes().to_vec();
            s.push(b'=');
            s.extend_from_slice(v.as_bytes());
            String::from_utf8_lossy(&s).into_owned()
        })
        .collect()
}

pub(crate) fn read_plan(input: &PlanInput) -> Result<Vec<u8>, SetupError> {
    let invalid = |msg: String| SetupError::new(Code::PlanInvalid, msg);
    match input {
        PlanInput::Fd(fd) => {
            // The report fd must not reach the program: close-on-exec.
            if bfd(*fd).and_then(|b| fcntl::fcntl(b, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(Errno::from)).is_err() {
                return Err(SetupError::new(Code::Usage, format!("fd {fd} is not open")));
            }
            read_line(*fd).map_err(invalid)
        }
        PlanInput::File(file) => std::fs::read(file).map_err(|e| invalid(format!("cannot read plan {file}: {e}"))),
        PlanInput::Stdin => {
            let mut b = Vec::new();
            std::io::stdin().lock().read_to_end(&mut b).map_err(|e| invalid(format!("cannot read the plan from stdin: {e}")))?;
            Ok(b)
        }
    }
}

/// Read one line (the plan) from `fd` without reading past it: the same
/// socket carries our reports afterwards.
fn read_line(fd: Fd) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    let failed = |e: i32| format!("cannot read the plan from fd {fd}: {}", std::io::Error::from_raw_os_error(e));
    let sock = bfd(fd).map_err(|e| failed(e.0))?;
    loop {
        let n = match unistd::read(sock, &mut buf) {
            Err(NixErrno::EINTR) => continue,
            Err(e) => return Err(failed(e as i32)),
            Ok(n) => n,
        };
        if n == 0 {
            return Ok(out);
        }
        let chunk = &buf[..n];
        if let Some(i) = chunk.iter().position(|&b| b == b'\n') {
            out.extend_from_slice(&chunk[..i]);
            return Ok(out);
        }
        out.extend_from_slice(chunk);
        if out.len() > MAX_PLAN {
            return Err("the plan is larger than 64 MiB".into());
        }
    }
}
