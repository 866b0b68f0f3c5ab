//! Stage: a plan the front-end built, run as the Node CLI runs it
//! (packages/core/src/launcher/process.ts, packages/cli/src/commands/run.ts;
//! a peer of `--join` through `sandboxctl-init join`, [`Launch::Join`]),
//! with the same processes: this process stays as Node would (it forwards
//! SIGINT, SIGTERM, SIGHUP and SIGQUIT, and SIGWINCH with a terminal, and
//! reads the report lines), and a forked child, out of the terminal's
//! foreground group unless `--keep-session` (Node's `detached`), is the launcher:
//! `sandbox_core::launch::entry::launch_plan`, the code `sandboxctl-init
//! --plan-fd` runs, with the plan and the report socket in hand. So the
//! launcher's parent is this process, as it is Node for the Node CLI
//! (die-with-parent follows `sandboxctl`, not its caller).
//!
//! Failures print as the Node CLI prints them (packages/cli/src/report.ts):
//! `sandboxctl: E_CODE: message (from --flag values)` and a hint line, exit
//! 125, or 126/127 for a program that could not be executed.

use sandbox_core::report::{ErrorReport, Report};
use sandbox_core::sys::{LinuxSys, Sys};
use std::io::{BufRead, BufReader};
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// The launcher's pid, for the signal handler.
static LAUNCHER: AtomicI32 = AtomicI32::new(0);
/// A signal was passed on (Node's `signalledByCaller`).
static SIGNALLED: AtomicBool = AtomicBool::new(false);

const FORWARDED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];
/// The CLI's own failures (report.ts TOOL_FAILURE).
const TOOL_FAILURE: i32 = 125;

extern "C" fn forward(sig: libc::c_int) {
    let pid = LAUNCHER.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
    if sig != libc::SIGWINCH {
        SIGNALLED.store(true, Ordering::SeqCst);
    }
}

fn sigset(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigemptyset and sigaddset write the set they are given.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// What names an error's op and gives its hint (plan-command.ts `explain`).
#[derive(Debug, Default)]
pub struct Naming<'a> {
    /// Each op's flag as typed, or `preset image: why`.
    pub origins: &'a [String],
    /// How many ops at the start are the image preset's.
    pub preset_ops: usize,
    /// An image is the root.
    pub image: bool,
    /// `--write` was given.
    pub write: bool,
}

/// plan-command.ts: an item of the image preset whose mount point a read-only image lacks.
const IMAGE_HINT: &str = "the image has no mount point for it: add it to the image, run with --write-fake, or leave the item out with --image-omit (items: dev, proc, sys, host-files, passwd, tmp, image-env)";
/// plan-command.ts: an op that would make something inside a bind of the host.
const XDEV_HINT: &str = "it would be made inside an earlier bind of a host path (a link in the image may lead there): nothing is created there, as in ch-run";
/// plan-command.ts: an image `--write` cannot write.
const WRITE_HINT: &str = "--write changes a directory image; for writes that vanish with the sandbox, use --write-fake";

/// Who runs the plan.
#[derive(Debug)]
pub enum Launch {
    /// A sandbox of its own: the launcher's code, in the forked child.
    Plan,
    /// A peer (`--join`): `INIT join --plan-fd 3 ARGS...`, executed by the
    /// forked child as Node spawns it (process.ts `join`), with `pmi` (a
    /// rank's `PMI_FD` socket) on fd 4 and passed on to the program's number.
    Join { init: std::ffi::CString, args: Vec<String>, pmi: Option<i32> },
}

/// The fd a rank keeps (launcher/join.ts `pmiFd`): `PMI_FD`, 3 to 1023,
/// and an open socket; `None` otherwise.
pub fn pmi_fd(value: Option<&str>) -> Option<i32> {
    let text = value?;
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let fd: i32 = text.parse().ok()?;
    if !(3..=1023).contains(&fd) {
        return None;
    }
    // SAFETY: fstat writes the struct it is given.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above; a closed fd is EBADF.
    let ok = unsafe { libc::fstat(fd, &mut st) } == 0;
    (ok && st.st_mode & libc::S_IFMT == libc::S_IFSOCK).then_some(fd)
}

/// In the forked child: `fd` onto `to`, open across exec (also when it is already there).
fn place(fd: i32, to: i32) -> bool {
    // SAFETY: fd operations on fds this process holds.
    unsafe {
        if fd == to {
            libc::fcntl(fd, libc::F_SETFD, 0) == 0
        } else {
            libc::dup2(fd, to) == to
        }
    }
}

/// In the forked child: execs `sandboxctl-init join` with the report socket
/// on fd 3 and the PMI socket on fd 4, every other fd above 2 closed on
/// exec (Node's spawn passes the stdio array only). Never returns.
fn exec_join(init: &std::ffi::CStr, args: &[String], pmi: Option<i32>, theirs: i32) -> ! {
    // SAFETY: fcntl/close_range on our fds; execv with NUL-terminated
    // strings and a NULL-terminated array that outlive the call.
    unsafe {
        // Out of the way first: either may sit on 3 or 4.
        let report = libc::fcntl(theirs, libc::F_DUPFD_CLOEXEC, 5);
        let copy = pmi.map(|p| libc::fcntl(p, libc::F_DUPFD_CLOEXEC, 5));
        let placed = report >= 0 && place(report, 3) && copy.is_none_or(|p| p >= 0 && place(p, 4));
        if copy.is_none() {
            // Fd 4 is nobody's to pass then (an inherited one stays here).
            libc::fcntl(4, libc::F_SETFD, libc::FD_CLOEXEC);
        }
        if placed && libc::syscall(libc::SYS_close_range, 5u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) == 0 {
            let mut argv: Vec<std::ffi::CString> = vec![init.to_owned()];
            // Fd 4 becomes the program's PMI_FD again.
            let pass = pmi.map(|p| ["--pass-fd".to_string(), format!("4:{p}")]);
            for a in ["join", "--plan-fd", "3"].iter().map(|s| s.to_string()).chain(args.iter().cloned()).chain(pass.into_iter().flatten()) {
                argv.extend(std::ffi::CString::new(a).ok());
            }
            let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
            ptrs.push(std::ptr::null());
            libc::execv(init.as_ptr(), ptrs.as_ptr());
        }
        let e = std::io::Error::last_os_error();
        crate::write_all(2, format!("sandboxctl: E_SETUP: cannot start {}: {e}\n", init.to_string_lossy()).as_bytes());
        libc::_exit(TOOL_FAILURE)
    }
}

/// Runs the plan (`json`, compact), with `naming` naming each op's flag.
/// Returns the exit status.
pub fn run(json: &str, naming: &Naming, new_session: bool, tty: bool, launch: &Launch) -> i32 {
    let sys = LinuxSys;
    let (mine, theirs) = match sys.socketpair() {
        Ok(p) => p,
        Err(e) => return fail("E_SETUP", &format!("cannot create the report socket: {e}"), None),
    };
    let mut handled = FORWARDED.to_vec();
    if tty {
        handled.push(libc::SIGWINCH);
    }
    // Blocked across fork: a signal that comes before the handlers are in
    // place waits for them rather than killing this process alone.
    let block = sigset(&handled);
    // SAFETY: an empty set to receive the old mask; single-threaded.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid sets; single-threaded.
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &block, &mut old) };
    // SAFETY: single-threaded (the front-end never starts a thread), so the
    // child may run any code; it only ever execs or exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // The launcher, as Node spawns `sandboxctl-init`: every signal at its
        // default (libuv's child does so; an ignored SIGINT of a background
        // job is not inherited), SIGPIPE ignored as a Rust program starts,
        // no signal blocked.
        for s in 1..libc::SIGRTMAX() {
            if s != libc::SIGKILL && s != libc::SIGSTOP {
                // SAFETY: SIG_DFL for a valid signal number.
                unsafe { libc::signal(s, libc::SIG_DFL) };
            }
        }
        // SAFETY: as Rust's runtime does at start.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        let none = sigset(&[]);
        // SAFETY: an empty mask, as libuv's child sets before exec.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) };
        let _ = sys.close(mine);
        // Out of the terminal's foreground group, so a ^C reaches the
        // program once, through this process (Node's `detached`). A session
        // of its own only with the pseudo-terminal, whose relay reads the
        // terminal (a background group would be stopped): a new session is
        // a new scheduler autogroup, which cost 15-20 ms of a run on a busy
        // machine (bench/README.md), and without a relay the launcher never
        // touches the terminal (the program gets a session from pid 1).
        if new_session && tty {
            // SAFETY: setsid has no memory effects; the child leads no group.
            unsafe { libc::setsid() };
        } else if new_session {
            // SAFETY: as above; a group of its own in this session.
            unsafe { libc::setpgid(0, 0) };
        }
        match launch {
            Launch::Plan => sandbox_core::launch::entry::launch_plan(json.as_bytes(), Some(theirs)),
            Launch::Join { init, args, pmi } => exec_join(init, args, *pmi, theirs),
        }
    }
    let _ = sys.close(theirs);
    if pid < 0 {
        // SAFETY: restoring the old mask.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
        return fail("E_SETUP", &format!("cannot start the launcher: {}", std::io::Error::last_os_error()), None);
    }
    LAUNCHER.store(pid, Ordering::SeqCst);
    for &s in &handled {
        // SAFETY: the handler only calls kill(2) and stores atomics.
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = forward as *const () as usize;
            act.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(s, &act, std::ptr::null_mut());
        }
    }
    // SAFETY: restoring the old mask; the handlers are in place.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };

    if matches!(launch, Launch::Join { .. }) {
        // The plan on the socket, one line, as Node writes it; a launcher
        // that is gone reports nothing more and its status says why.
        crate::write_all(mine, format!("{json}\n").as_bytes());
    }
    // The report lines, until the launcher and pid 1 have closed the socket.
    // SAFETY: our end of the socket pair, owned from here.
    let reader = BufReader::new(unsafe { std::fs::File::from_raw_fd(mine) });
    let mut error: Option<ErrorReport> = None;
    let mut started = false;
    for line in reader.split(b'\n') {
        let Ok(line) = line else { break };
        match serde_json::from_slice::<Report>(&line) {
            Ok(Report::Error(e)) => {
                error.get_or_insert(e);
            }
            Ok(Report::Started) => started = true,
            _ => {}
        }
    }
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return fail("E_SETUP", &format!("cannot wait for the launcher: {}", std::io::Error::last_os_error()), None);
        }
    }
    let (code, signal) = if libc::WIFEXITED(status) { (Some(libc::WEXITSTATUS(status)), None) } else { (None, Some(libc::WTERMSIG(status))) };
    let (text, status) = outcome(error, started, SIGNALLED.load(Ordering::SeqCst), code, signal, naming);
    crate::write_all(2, text.as_bytes());
    status
}

/// What the Node CLI prints on stderr and exits with once the launcher has
/// exited (`code`, or killed by `signal`): process.ts `#finish`, run.ts
/// `explain` (an op's error names the flag it came from) and `exitStatus`,
/// report.ts `describeFailure` (125, or the launcher's 126/127 for E_EXEC).
/// `signalled`: a signal was passed on to the launcher.
pub fn outcome(error: Option<ErrorReport>, started: bool, signalled: bool, code: Option<i32>, signal: Option<i32>, naming: &Naming) -> (String, i32) {
    if let Some(e) = error {
        let exec = e.code.as_str() == "E_EXEC" && matches!(code, Some(126 | 127));
        let status = if exec { code.unwrap_or(TOOL_FAILURE) } else { TOOL_FAILURE };
        if e.code.as_str() == "E_IMAGE_INVALID" && naming.write && e.hint.is_none() {
            return (failure(e.code.as_str(), &e.message, Some(WRITE_HINT)), status);
        }
        let (message, hint) = match e.op_index.and_then(|i| naming.origins.get(i).map(|o| (i, o))) {
            Some((i, o)) => {
                let hint = if i < naming.preset_ops && e.message.ends_with("read-only file system") {
                    Some(IMAGE_HINT)
                } else if naming.image && e.message.ends_with("invalid cross-device link") {
                    Some(XDEV_HINT)
                } else {
                    None
                };
                (format!("{} (from {o})", e.message), e.hint.as_deref().or(hint))
            }
            None => (e.message.clone(), e.hint.as_deref()),
        };
        return (failure(e.code.as_str(), &message, hint), status);
    }
    if !started && !signalled && signal.is_none() {
        let code = code.map_or("null".to_string(), |c| c.to_string());
        return (failure("E_SETUP", &format!("sandboxctl-init exited with status {code} before starting the program"), None), TOOL_FAILURE);
    }
    let status = match (code, signal) {
        (Some(c), _) => c,
        (None, s) => 128 + s.unwrap_or(0),
    };
    (String::new(), status)
}

/// `sandboxctl: E_CODE: message` and a hint line (report.ts `formatFailure`).
fn failure(code: &str, message: &str, hint: Option<&str>) -> String {
    let mut text = format!("sandboxctl: {code}: {message}\n");
    if let Some(h) = hint.filter(|h| !h.is_empty()) {
        text.push_str(&format!("sandboxctl: hint: {h}\n"));
    }
    text
}

fn fail(code: &str, message: &str, hint: Option<&str>) -> i32 {
    crate::write_all(2, failure(code, message, hint).as_bytes());
    TOOL_FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandbox_core::error::Code;

    fn err(code: Code, op: Option<usize>, hint: Option<&str>) -> Option<ErrorReport> {
        Some(ErrorReport { code, message: "m".into(), op_index: op, path: None, hint: hint.map(String::from) })
    }

    #[test]
    fn ends_as_the_node_cli() {
        let list = ["--bind a b".to_string()];
        let origins = Naming { origins: &list, ..Naming::default() };
        assert_eq!(outcome(None, true, false, Some(3), None, &origins), (String::new(), 3));
        assert_eq!(outcome(None, true, false, None, Some(15), &origins), (String::new(), 143));
        // An op's error names its flag; a hint line follows.
        assert_eq!(
            outcome(err(Code::Mount, Some(0), Some("h")), false, false, Some(125), None, &origins),
            ("sandboxctl: E_MOUNT: m (from --bind a b)\nsandboxctl: hint: h\n".into(), 125)
        );
        // 126/127 of a program that could not be executed stay; anything else is 125.
        assert_eq!(outcome(err(Code::Exec, None, None), false, false, Some(127), None, &origins).1, 127);
        assert_eq!(outcome(err(Code::Exec, None, None), false, false, None, Some(9), &origins).1, 125);
        assert_eq!(outcome(err(Code::PlanInvalid, Some(4), None), false, false, Some(125), None, &origins).0, "sandboxctl: E_PLAN_INVALID: m\n");
        // The launcher gone before the program, unasked.
        assert_eq!(
            outcome(None, false, false, Some(0), None, &origins),
            ("sandboxctl: E_SETUP: sandboxctl-init exited with status 0 before starting the program\n".into(), 125)
        );
        assert_eq!(outcome(None, false, true, Some(130), None, &origins), (String::new(), 130));
    }

    #[test]
    fn hints_of_an_image_run() {
        let list = ["preset image: the host's /sys".to_string(), "--bind a b".to_string()];
        let naming = Naming { origins: &list, preset_ops: 1, image: true, write: true };
        let with = |message: &str, code: Code, op: Option<usize>, hint: Option<&str>| {
            let e = ErrorReport { code, message: message.into(), op_index: op, path: None, hint: hint.map(String::from) };
            outcome(Some(e), false, false, Some(125), None, &naming).0
        };
        // A preset item's mount point missing in a read-only image.
        assert_eq!(
            with("cannot mount /sys: read-only file system", Code::Mount, Some(0), None),
            format!("sandboxctl: E_MOUNT: cannot mount /sys: read-only file system (from preset image: the host's /sys)\nsandboxctl: hint: {IMAGE_HINT}\n")
        );
        // Not the preset's op: no such hint; the launcher's own hint wins.
        assert_eq!(with("x: read-only file system", Code::Mount, Some(1), None), "sandboxctl: E_MOUNT: x: read-only file system (from --bind a b)\n");
        assert_eq!(
            with("x: read-only file system", Code::Mount, Some(0), Some("h")),
            "sandboxctl: E_MOUNT: x: read-only file system (from preset image: the host's /sys)\nsandboxctl: hint: h\n"
        );
        assert_eq!(
            with("y: invalid cross-device link", Code::Mount, Some(1), None),
            format!("sandboxctl: E_MOUNT: y: invalid cross-device link (from --bind a b)\nsandboxctl: hint: {XDEV_HINT}\n")
        );
        // --write on an image it cannot write: the flag's hint, no origin.
        assert_eq!(
            with("not a directory image", Code::ImageInvalid, Some(1), None),
            format!("sandboxctl: E_IMAGE_INVALID: not a directory image\nsandboxctl: hint: {WRITE_HINT}\n")
        );
        let plain = Naming { origins: &list, ..Naming::default() };
        let e = ErrorReport { code: Code::Mount, message: "y: invalid cross-device link".into(), op_index: Some(1), path: None, hint: None };
        assert_eq!(outcome(Some(e), false, false, Some(125), None, &plain).0, "sandboxctl: E_MOUNT: y: invalid cross-device link (from --bind a b)\n");
    }

    #[test]
    fn a_pmi_fd_is_an_open_socket_from_3_to_1023() {
        let (a, b) = LinuxSys.socketpair().unwrap();
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        use std::os::fd::AsRawFd;
        assert_eq!(pmi_fd(Some(&a.to_string())), Some(a));
        for bad in [None, Some(""), Some("x"), Some("2"), Some("1024"), Some("00003"), Some("-3")] {
            assert_eq!(pmi_fd(bad), None, "{bad:?}");
        }
        assert_eq!(pmi_fd(Some(&file.as_raw_fd().to_string())), None, "not a socket");
        assert_eq!(pmi_fd(Some("1000")), None, "not open");
        let _ = LinuxSys.close(b);
        let _ = LinuxSys.close(a);
    }
}
