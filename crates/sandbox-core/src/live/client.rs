//! The native client, `sandboxctl-init client ...`: what Node spawns to act
//! on a live sandbox (Node cannot pass fds over a unix socket).
//!
//!   client exec [--report-fd N] [--tty] [--clear-env] [--env K=V]... [--cwd D] NAME -- ARGV...
//!   client stop [--timeout-ms N] NAME...
//!   client cp SRC DEST              one of them NAME:PATH (docker cp's rules)
//!   client fs NAME                  a filesystem view (view.rs) served on stdin/stdout
//!   client ps                       the running sandboxes, a JSON array on stdout
//!   client root                     the registry directory
//!
//! `exec` sends its own stdin, stdout and stderr with the request (or, with
//! `--tty`, relays the pseudo-terminal pid 1 opened on the sandbox's devpts),
//! passes SIGINT, SIGTERM, SIGHUP and SIGQUIT on, reports `started` or an
//! error on the report fd like the launcher, and exits with the program's
//! status. Errors are `CODE: message` on stderr without a report fd; exit 125.

use super::net;
use super::proto::{ExecRequest, Reply, Request};
use super::registry::{Registry, SOCKET};
use crate::error::{Code, Error, SetupError};
use crate::report::Report;
use crate::sys::{Fd, LinuxSys, Sys, POLLIN};
use std::os::fd::{AsRawFd, OwnedFd};

const EXIT_SETUP: i32 = 125;

fn fail(report_fd: Option<Fd>, e: SetupError) -> ! {
    crate::report::error(&LinuxSys, report_fd, &Error::from(e));
    LinuxSys.exit(EXIT_SETUP)
}

fn usage(msg: &str) -> ! {
    fail(None, SetupError::new(Code::Usage, format!("{msg}\nusage: sandboxctl-init client exec|stop|cp|fs|ps|root ...")))
}

/// `sandboxctl-init client ARGS...`. Never returns.
pub fn main(args: &[String]) -> ! {
    crate::sys::setup_signals();
    match args.first().map(String::as_str) {
        Some("exec") => exec_main(&args[1..]),
        Some("stop") => stop_main(&args[1..]),
        Some("cp") => match args.get(1..).unwrap_or_default() {
            [src, dst] => match cp(src, dst) {
                Ok(()) => LinuxSys.exit(0),
                Err(e) => fail(None, e),
            },
            _ => usage("cp takes SRC and DEST, one of them NAME:PATH"),
        },
        Some("fs") => match args.get(1..).unwrap_or_default() {
            [name] => match fs_view(name) {
                Ok(()) => LinuxSys.exit(0),
                Err(e) => fail(None, e),
            },
            _ => usage("fs takes one sandbox name"),
        },
        Some("ps") => {
            let reg = Registry::open().unwrap_or_else(|e| fail(None, e));
            println!("{}", serde_json::to_string(&reg.list()).expect("states serialize"));
            LinuxSys.exit(0)
        }
        Some("root") => {
            let reg = Registry::open().unwrap_or_else(|e| fail(None, e));
            println!("{}", reg.root);
            LinuxSys.exit(0)
        }
        _ => usage("unknown client command"),
    }
}

/// Connect to the running sandbox `name` and wait for its greeting: pid 1's
/// `hello`, or the supervisor's refusal (`E_CONTROL_DENIED`). Nothing is
/// sent before it, so a refused peer never hands over an fd.
pub fn connect(name: &str) -> Result<OwnedFd, SetupError> {
    let conn = dial(name)?;
    match reply(conn.as_raw_fd(), name)? {
        Some((Reply::Hello { .. }, _)) => Ok(conn),
        Some((Reply::Error { code, message }, _)) => Err(SetupError::new(code, message)),
        Some(_) => Err(SetupError::new(Code::Setup, format!("unexpected greeting from sandbox {name}"))),
        None => Err(SetupError::new(Code::SandboxClosed, format!("sandbox {name} closed the connection"))),
    }
}

/// The control socket of the running sandbox `name`, connected; its
/// greeting not read yet (the addon reads it without blocking Node). The
/// registry's checks (a private root, a held entry) apply as for [`connect`].
pub fn dial(name: &str) -> Result<OwnedFd, SetupError> {
    dial_in(&Registry::open()?, name)
}

/// [`dial`] in the registry `reg`.
pub fn dial_in(reg: &Registry, name: &str) -> Result<OwnedFd, SetupError> {
    let found = reg.find(name)?;
    match net::connect(&LinuxSys, found.dir.as_raw_fd(), SOCKET) {
        // SAFETY: a new socket fd we own.
        Ok(fd) => Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }),
        Err(e) => Err(SetupError::new(Code::SandboxClosed, format!("cannot reach sandbox {name}: {e}"))),
    }
}

fn reply(conn: Fd, name: &str) -> Result<Option<(Reply, Vec<OwnedFd>)>, SetupError> {
    match net::recv(&LinuxSys, conn) {
        Ok(Some((bytes, fds))) => {
            // SAFETY: the kernel just installed these fds for us; each is owned once.
            let fds: Vec<OwnedFd> = fds.into_iter().map(|fd| unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }).collect();
            serde_json::from_slice(&bytes)
                .map(|r| Some((r, fds)))
                .map_err(|e| SetupError::new(Code::Setup, format!("unreadable reply from sandbox {name}: {e}")))
        }
        Ok(None) => Ok(None),
        Err(e) => Err(SetupError::new(Code::SandboxClosed, format!("lost sandbox {name}: {e}"))),
    }
}

fn exec_main(args: &[String]) -> ! {
    let mut report_fd = None;
    let mut req = ExecRequest::default();
    let mut it = args.iter();
    let mut name = None;
    while let Some(a) = it.next() {
        let mut val = |flag: &str| it.next().cloned().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match a.as_str() {
            "--report-fd" => report_fd = Some(val(a).parse::<Fd>().unwrap_or_else(|_| usage("bad --report-fd"))),
            "--tty" => req.tty = true,
            "--clear-env" => req.clear_env = true,
            "--env" => req.env.push(val(a)),
            "--cwd" => req.cwd = Some(val(a)),
            "--" => {
                req.argv = it.by_ref().cloned().collect();
                break;
            }
            s if s.starts_with('-') => usage(&format!("unknown option {s}")),
            s if name.is_none() => name = Some(s.to_string()),
            _ => usage("one sandbox name, then -- and the program"),
        }
    }
    if let Some(fd) = report_fd {
        // The report fd must not reach anything we start: close-on-exec.
        // SAFETY: fcntl on an fd number; a closed one fails harmlessly.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    let name = name.unwrap_or_else(|| usage("exec needs a sandbox name"));
    if req.argv.is_empty() {
        usage("exec needs a program after --");
    }
    exec_to_end(&name, req, report_fd)
}

/// Start `req` in the running sandbox `name` with this process's stdio (or
/// terminal), report `started` (or the error) on `report_fd`, pass signals
/// on and exit with the program's status.
pub fn exec_to_end(name: &str, req: ExecRequest, report_fd: Option<Fd>) -> ! {
    let conn = connect(name).unwrap_or_else(|e| fail(report_fd, e));
    exec_connected(conn, name, req, report_fd)
}

/// [`exec_to_end`] on a connection [`connect`] already made (a `--join`
/// peer retries the connection while a dead group's entry goes away).
pub fn exec_connected(conn: OwnedFd, name: &str, mut req: ExecRequest, report_fd: Option<Fd>) -> ! {
    let name = name.to_string();
    let sys = LinuxSys;
    let saved = if req.tty {
        if !sys.isatty(0) {
            fail(
                report_fd,
                SetupError::new(Code::Setup, "a pseudo-terminal needs a terminal on stdin to relay").with_hint("run it from a terminal, or without -t"),
            );
        }
        req.winsize = sys.winsize(0).ok();
        Some(())
    } else {
        None
    };
    let conn = conn.as_raw_fd();
    // stdio, then the fds the program gets at the same numbers as here.
    let stdio: Vec<Fd> = if req.tty { Vec::new() } else { vec![0, 1, 2] }.into_iter().chain(req.pass_fds.iter().copied()).collect();
    if let Err(e) = net::send(&LinuxSys, conn, &Request::Exec(req.clone()).to_bytes(), &stdio) {
        fail(report_fd, SetupError::new(Code::SandboxClosed, format!("cannot reach sandbox {name}: {e}")));
    }
    let master = match reply(conn, &name) {
        Ok(Some((Reply::Started { .. }, fds))) => fds.into_iter().next(),
        Ok(Some((Reply::Error { code, message }, _))) => {
            // An exec failure is followed by the status a shell would give (126/127).
            let status = match reply(conn, &name) {
                Ok(Some((Reply::Exited { status }, _))) => status,
                _ => EXIT_SETUP,
            };
            crate::report::error(&sys, report_fd, &Error::from(SetupError::new(code, message)));
            sys.exit(status)
        }
        Ok(Some(_)) => fail(report_fd, SetupError::new(Code::Setup, format!("unexpected reply from sandbox {name}"))),
        Ok(None) => fail(report_fd, SetupError::new(Code::SandboxClosed, format!("sandbox {name} closed the connection"))),
        Err(e) => fail(report_fd, e),
    };
    if let Some(fd) = report_fd {
        let _ = Report::Started.send(&sys, fd);
        let _ = sys.close(fd);
    }
    let status = match (saved, master) {
        (Some(()), Some(m)) => relay_tty(&sys, conn, m.as_raw_fd(), &name),
        _ => wait_exit(&sys, conn, &name),
    };
    sys.exit(status)
}

fn closed(name: &str) -> i32 {
    LinuxSys.log(&format!("E_SANDBOX_CLOSED: sandbox {name} ended before the program did"));
    EXIT_SETUP
}

/// Pass signals on until the program's status arrives.
fn wait_exit(sys: &dyn Sys, conn: Fd, name: &str) -> i32 {
    let Ok(sfd) = sys.signal_fd(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT]) else { return closed(name) };
    loop {
        let Ok(rev) = sys.poll(&[(conn, POLLIN), (sfd, POLLIN)], -1) else { return closed(name) };
        if rev[1] != 0 {
            while let Ok(Some(sig)) = sys.read_signal(sfd) {
                let _ = net::send(&LinuxSys, conn, &Request::Signal { signal: sig }.to_bytes(), &[]);
            }
        }
        if rev[0] != 0 {
            match reply(conn, name) {
                Ok(Some((Reply::Exited { status }, _))) => return status,
                // A notice while the program runs (a peer group's timeout): shown, the program goes on.
                Ok(Some((Reply::Error { code, message }, _))) => sys.log(&format!("warning: {}: {message}", code.as_str())),
                Ok(Some(_)) => {}
                _ => return closed(name),
            }
        }
    }
}

/// `exec -t`: the caller's terminal in raw mode, stdin to the master, the
/// master to stdout, window sizes passed on, until the program's status.
fn relay_tty(sys: &dyn Sys, conn: Fd, master: Fd, name: &str) -> i32 {
    let saved = sys.tty_raw(0).ok();
    let restore = |code: i32| {
        if let Some(s) = &saved {
            let _ = sys.tty_restore(0, s);
        }
        code
    };
    let Ok(sfd) = sys.signal_fd(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGWINCH]) else { return restore(closed(name)) };
    let mut stdin_open = true;
    let mut master_open = true;
    loop {
        let mut fds = vec![(conn, POLLIN), (sfd, POLLIN)];
        if master_open {
            fds.push((master, POLLIN));
        }
        if stdin_open && master_open {
            fds.push((0, POLLIN));
        }
        let Ok(rev) = sys.poll(&fds, -1) else { return restore(closed(name)) };
        if rev[1] != 0 {
            while let Ok(Some(sig)) = sys.read_signal(sfd) {
                if sig == libc::SIGWINCH {
                    if let Ok(size) = sys.winsize(0) {
                        let _ = sys.set_winsize(master, size);
                    }
                } else {
                    let _ = net::send(&LinuxSys, conn, &Request::Signal { signal: sig }.to_bytes(), &[]);
                }
            }
        }
        if master_open && rev[2] != 0 {
            match sys.read(master, 16 * 1024) {
                Ok(b) if !b.is_empty() => write_all(sys, 1, &b),
                // EIO: every slave fd closed.
                _ => master_open = false,
            }
        }
        if fds.len() > 3 && rev[3] != 0 {
            match sys.read(0, 16 * 1024) {
                Ok(b) if !b.is_empty() => write_all(sys, master, &b),
                _ => stdin_open = false,
            }
        }
        if rev[0] != 0 {
            match reply(conn, name) {
                Ok(Some((Reply::Exited { status }, _))) => {
                    // What the program wrote last is still in the master.
                    while let Ok(b) = sys.read(master, 16 * 1024) {
                        if b.is_empty() {
                            break;
                        }
                        write_all(sys, 1, &b);
                    }
                    return restore(status);
                }
                Ok(Some(_)) => {}
                _ => return restore(closed(name)),
            }
        }
    }
}

fn write_all(sys: &dyn Sys, fd: Fd, mut b: &[u8]) {
    while !b.is_empty() {
        match sys.write_some(fd, b) {
            Ok(0) | Err(_) => return,
            Ok(n) => b = &b[n..],
        }
    }
}

fn stop_main(args: &[String]) -> ! {
    let mut timeout_ms: u32 = 10_000;
    let mut names = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--timeout-ms" => timeout_ms = it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| usage("bad --timeout-ms")),
            s if s.starts_with('-') => usage(&format!("unknown option {s}")),
            s => names.push(s.to_string()),
        }
    }
    if names.is_empty() {
        usage("stop needs a sandbox name");
    }
    let mut status = 0;
    for name in &names {
        if let Err(e) = stop(name, timeout_ms) {
            crate::report::error(&LinuxSys, None, &Error::from(e));
            status = EXIT_SETUP;
        }
    }
    LinuxSys.exit(status)
}

/// Stop `name` through its control socket (SIGTERM to everything inside,
/// SIGKILL after `timeout_ms`) and wait until its entry is gone. Nothing
/// is ever signalled by a pid read from the registry.
pub fn stop(name: &str, timeout_ms: u32) -> Result<(), SetupError> {
    let conn = connect(name)?;
    let sys = LinuxSys;
    net::send(&LinuxSys, conn.as_raw_fd(), &Request::Stop { timeout_ms }.to_bytes(), &[])
        .map_err(|e| SetupError::new(Code::SandboxClosed, format!("cannot reach sandbox {name}: {e}")))?;
    let deadline = sys.monotonic_ms() + timeout_ms as u64 + 5_000;
    // The connection ends when pid 1 does.
    loop {
        let left = deadline.saturating_sub(sys.monotonic_ms());
        if left == 0 {
            return Err(SetupError::new(Code::Setup, format!("sandbox {name} did not end within {} ms", timeout_ms as u64 + 5_000)));
        }
        match sys.poll(&[(conn.as_raw_fd(), POLLIN)], left as i32) {
            Ok(rev) if rev[0] != 0 => match reply(conn.as_raw_fd(), name) {
                Ok(Some((Reply::Error { code, message }, _))) => return Err(SetupError::new(code, message)),
                Ok(Some(_)) => {}
                _ => break,
            },
            _ => {}
        }
    }
    // Then the supervisor removes the entry and exits (its lock goes with it).
    let reg = Registry::open()?;
    while sys.monotonic_ms() < deadline {
        match reg.find(name) {
            Err(e) if e.code == Code::SandboxNotFound => return Ok(()),
            _ => {
                let _ = sys.poll(&[], 10);
            }
        }
    }
    Ok(())
}

/// `client fs NAME`: hand our stdin and stdout to a view worker inside and
/// wait for it. Ours are then /dev/null, so the caller sees the end of the
/// stream when the worker ends (the sandbox stopped, or the view closed).
fn fs_view(name: &str) -> Result<(), SetupError> {
    let conn = send_req(name, &Request::FsView, &[0, 1])?;
    if let Ok(null) = LinuxSys.open("/dev/null", libc::O_RDWR) {
        for fd in 0..2 {
            // SAFETY: dup2 onto our own stdin and stdout.
            unsafe { libc::dup2(null, fd) };
        }
        let _ = LinuxSys.close(null);
    }
    wait_worker(&conn, name)
}

/// `NAME:PATH` (the part before the first `:` holds no `/`), else a host path.
fn sandbox_side(arg: &str) -> Option<(&str, &str)> {
    let (name, path) = arg.split_once(':')?;
    (!name.is_empty() && !name.contains('/')).then_some((name, path))
}

/// One request on a fresh connection.
fn send_req(name: &str, req: &Request, fds: &[Fd]) -> Result<OwnedFd, SetupError> {
    let conn = connect(name)?;
    net::send(&LinuxSys, conn.as_raw_fd(), &req.to_bytes(), fds)
        .map_err(|e| SetupError::new(Code::SandboxClosed, format!("cannot reach sandbox {name}: {e}")))?;
    Ok(conn)
}

/// One request on a fresh connection and its first reply.
fn ask(name: &str, req: &Request, fds: &[Fd]) -> Result<(OwnedFd, Reply), SetupError> {
    let conn = send_req(name, req, fds)?;
    match reply(conn.as_raw_fd(), name)? {
        Some((Reply::Error { code, message }, _)) => Err(SetupError::new(code, message)),
        Some((r, _)) => Ok((conn, r)),
        None => Err(SetupError::new(Code::SandboxClosed, format!("sandbox {name} closed the connection"))),
    }
}

fn stat_inside(name: &str, path: &str, follow: bool) -> Result<Option<String>, SetupError> {
    match ask(name, &Request::Stat { path: path.into(), follow }, &[])? {
        (_, Reply::Stat { kind }) => Ok(kind),
        _ => Err(SetupError::new(Code::Setup, format!("unexpected reply from sandbox {name}"))),
    }
}

/// Wait for a copy worker: its error, else its status.
fn wait_worker(conn: &OwnedFd, name: &str) -> Result<(), SetupError> {
    let mut err = None;
    loop {
        match reply(conn.as_raw_fd(), name)? {
            Some((Reply::Error { code, message }, _)) => err = Some(SetupError::new(code, message)),
            Some((Reply::Exited { status }, _)) => {
                return match (err, status) {
                    (Some(e), _) => Err(e),
                    (None, 0) => Ok(()),
                    (None, s) => Err(SetupError::new(Code::Setup, format!("the copy in sandbox {name} failed with status {s}"))),
                };
            }
            Some(_) => {}
            None => return Err(err.unwrap_or_else(|| SetupError::new(Code::SandboxClosed, format!("sandbox {name} ended during the copy")))),
        }
    }
}

/// The last component of a path (`/` and `.` have none: the contents).
fn base(p: &str) -> Option<String> {
    std::path::Path::new(p.trim_end_matches('/')).file_name().map(|s| s.to_string_lossy().into_owned())
}

fn parent(p: &str) -> String {
    let t = p.trim_end_matches('/');
    match t.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => t[..i].into(),
        None => ".".into(),
    }
}

/// Where a copy lands by docker cp's rules: (directory, rename of the top
/// entry, contents only). `dest_kind` is what the destination is (followed).
fn rebase(
    src: &str,
    src_is_dir: bool,
    dest: &str,
    dest_kind: Option<&str>,
    parent_is_dir: impl FnOnce(&str) -> Result<bool, SetupError>,
    where_: &str,
) -> Result<(String, Option<String>, bool), SetupError> {
    let contents = src_is_dir && (src.ends_with("/.") || src == ".");
    match dest_kind {
        Some("dir") => Ok((dest.to_string(), None, contents)),
        Some(_) if src_is_dir => Err(SetupError::new(Code::NotDir, format!("cannot copy a directory to a file: {dest} {where_}"))),
        Some(_) => Ok((parent(dest), base(dest), false)),
        None => {
            if dest.ends_with('/') && !src_is_dir {
                return Err(SetupError::new(Code::NotFound, format!("destination directory {dest} does not exist {where_}")));
            }
            let p = parent(dest);
            if !parent_is_dir(&p)? {
                return Err(SetupError::new(Code::NotFound, format!("could not find the parent directory {p} {where_}")));
            }
            // A new name: the source (a directory with its contents) becomes it.
            Ok((p, base(dest), false))
        }
    }
}

/// `sandboxctl cp SRC DEST`: one side is `NAME:PATH`. Streams tar through a
/// pipe; see copy.rs for how each side resolves paths.
pub fn cp(src: &str, dst: &str) -> Result<(), SetupError> {
    use super::copy;
    let usage = |m: &str| SetupError::new(Code::Usage, m.to_string());
    match (sandbox_side(src), sandbox_side(dst)) {
        (None, Some((name, dest))) => {
            // Host to sandbox. The source: links copied as links unless it ends in `/`.
            let follow = src.ends_with('/') || src.ends_with("/.");
            let md = if follow { std::fs::metadata(src) } else { std::fs::symlink_metadata(src) };
            let md = md.map_err(|_| SetupError::new(Code::NotFound, format!("could not find {src} on the host")))?;
            let where_ = format!("in sandbox {name}");
            let dest_kind = stat_inside(name, dest, true)?;
            let (dir, rename, contents) =
                rebase(src, md.is_dir(), dest, dest_kind.as_deref(), |p| Ok(stat_inside(name, p, true)?.as_deref() == Some("dir")), &where_)?;
            let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| copy::errno_error(e, "a pipe"))?;
            copy::widen_pipe(&w);
            let top = if contents { String::new() } else { base(src).unwrap_or_else(|| ".".into()) };
            // The worker reads while we write; its answer comes after.
            let conn = send_req(name, &Request::CopyIn { dir: dir.clone(), rename }, &[r.as_raw_fd()])?;
            drop(r);
            let src_path = if follow { std::fs::canonicalize(src).unwrap_or_else(|_| src.into()) } else { src.into() };
            let sent = copy::tar_path(&src_path, &top, contents, std::io::BufWriter::with_capacity(copy::STREAM_BUF, std::fs::File::from(w)));
            let done = wait_worker(&conn, name);
            // The worker's error says more than a broken pipe here.
            done.and(sent).map_err(|e| {
                if e.code == Code::ReadOnly {
                    SetupError::new(Code::ReadOnly, format!("cannot copy into {dir}: read-only in sandbox {name}"))
                } else {
                    e
                }
            })
        }
        (Some((name, path)), None) => {
            // Sandbox to host.
            let follow = path.ends_with('/') || path.ends_with("/.");
            let kind = stat_inside(name, path, follow)?.ok_or_else(|| SetupError::new(Code::NotFound, format!("could not find {path} in sandbox {name}")))?;
            let is_dir = kind == "dir";
            let dest_kind = std::fs::metadata(dst).ok().map(|m| copy::kind_of(&m));
            let (dir, rename, contents) =
                rebase(path, is_dir, dst, dest_kind, |p| Ok(std::fs::metadata(p).map(|m| m.is_dir()).unwrap_or(false)), "on the host")?;
            let root = nix::fcntl::open(dir.as_str(), nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
                .map_err(|e| copy::errno_error(e, &dir))?;
            let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| copy::errno_error(e, "a pipe"))?;
            copy::widen_pipe(&w);
            let name_in = if contents { String::new() } else { base(path).unwrap_or_else(|| ".".into()) };
            let conn = send_req(name, &Request::CopyOut { path: path.into(), name: name_in, contents }, &[w.as_raw_fd()])?;
            drop(w);
            let got =
                copy::extract(std::io::BufReader::with_capacity(copy::STREAM_BUF, std::fs::File::from(r)), &root, rename.as_deref(), copy::Resolve::Openat2);
            let done = wait_worker(&conn, name);
            done.and(got.map(drop))
        }
        (Some(_), Some(_)) => Err(usage("copying between two sandboxes is not supported: copy through the host")),
        (None, None) => Err(usage("one of SRC and DEST must be NAME:PATH")),
    }
}
