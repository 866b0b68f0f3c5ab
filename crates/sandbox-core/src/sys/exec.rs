//! Stage: the last step of init. Starts the program (it becomes pid 2) as
//! posix_spawn does: a child that shares init's memory (CLONE_VM) on a
//! stack of its own while init waits (CLONE_VFORK) until the child has
//! exec'd or exited, so no copy of init's memory is made, faulted in and
//! torn down for a process that is about to exec. The child prepares itself
//! and execs; it allocates nothing (everything it needs, the exec's pointer
//! arrays included, is made before the clone) and writes only its answer, a
//! failure's stage and errno, where init reads it once it runs again: so
//! "started" means the new image is running.
//!
//! The program starts as a shell would start it: every signal at its default
//! disposition with an empty mask (init's Rust runtime ignores SIGPIPE, and
//! an ignored signal survives execve: `seq | head` would print "Broken
//! pipe"), and, as execvp, a file the kernel cannot execute (ENOEXEC: a
//! script without `#!`) run by /bin/sh.

use crate::sys::{Errno, Exec, ExecFailure, LinuxSys, Sys, SysResult};
use std::ffi::{CStr, CString};

const STAGE_CHDIR: u8 = 1;
const STAGE_EXEC: u8 = 2;
const STAGE_SETUP: u8 = 3;

/// Default PATH when the program's environment has none (as execvp).
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The shell execvp hands a file without `#!` to (glibc's _PATH_BSHELL).
const SH: &CStr = c"/bin/sh";

/// The kernel's highest signal number (_NSIG - 1 on x86_64 and aarch64).
const SIGMAX: i32 = 64;

fn c(s: &str) -> CString {
    // validate() rejects NUL bytes in argv, env and paths.
    CString::new(s).unwrap_or_default()
}

/// Candidate paths for argv[0]: itself when it has a slash, else each PATH entry.
fn candidates(exec: &Exec) -> Vec<CString> {
    let name = &exec.argv[0];
    if name.contains('/') {
        return vec![c(name)];
    }
    let path = exec.env.iter().find_map(|e| e.strip_prefix("PATH=")).unwrap_or(DEFAULT_PATH);
    path.split(':').map(|d| if d.is_empty() { "." } else { d }).map(|d| c(&format!("{}/{name}", d.trim_end_matches('/')))).collect()
}

/// What the child works from, all made before the clone: it allocates
/// nothing (an allocation would be made in init's heap and leak there once
/// the exec succeeded).
struct Prepared {
    progs: Vec<CString>,
    /// argv and envp: what the pointer arrays point into.
    _strings: (Vec<CString>, Vec<CString>),
    cwd: CString,
    /// Null-terminated pointer arrays for execve: argv, envp, and the
    /// shell's argv for a file without `#!` (`/bin/sh FILE ARGS...`, the
    /// FILE slot filled per candidate).
    argv_ptrs: Vec<*const libc::c_char>,
    envp_ptrs: Vec<*const libc::c_char>,
    sh_ptrs: Vec<*const libc::c_char>,
    filters: Vec<Vec<libc::sock_filter>>,
    /// Room for the passed fds' temporary copies.
    moved: Vec<(i32, i32)>,
}

fn ptrs<'a>(strings: impl Iterator<Item = &'a CStr>) -> Vec<*const libc::c_char> {
    strings.map(CStr::as_ptr).chain([std::ptr::null()]).collect()
}

impl Prepared {
    fn new(exec: &Exec) -> Prepared {
        let progs = candidates(exec);
        let mut argv: Vec<CString> = exec.argv.iter().map(|a| c(a)).collect();
        if let Some(a0) = &exec.argv0 {
            argv[0] = c(a0);
        }
        let envp: Vec<CString> = exec.env.iter().map(|e| c(e)).collect();
        let argv_ptrs = ptrs(argv.iter().map(CString::as_c_str));
        let envp_ptrs = ptrs(envp.iter().map(CString::as_c_str));
        let sh_ptrs = ptrs([SH, SH].into_iter().chain(argv.iter().skip(1).map(CString::as_c_str)));
        let filters = exec.filters.iter().map(|f| f.iter().map(|&(code, jt, jf, k)| libc::sock_filter { code, jt, jf, k }).collect()).collect();
        Prepared { progs, _strings: (argv, envp), cwd: c(&exec.cwd), argv_ptrs, envp_ptrs, sh_ptrs, filters, moved: Vec::with_capacity(exec.fds.len()) }
    }
}

/// The child's stack: its frames only (prepare_and_exec and the calls it
/// makes), with a guard page below.
const STACK: usize = 256 << 10;
const PAGE: usize = 4096;

/// What the child and init share: the plan for the child, and its answer.
struct Shared<'a> {
    exec: &'a Exec,
    prepared: Prepared,
    /// Set by the child when it failed (stage, errno); untouched on exec.
    failed: Option<(u8, i32)>,
}

extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the Shared that spawn holds across the clone; init
    // is stopped (CLONE_VFORK) until this child execs or exits, so nothing
    // else touches it meanwhile.
    unsafe {
        let shared = &mut *arg.cast::<Shared>();
        let (stage, errno) = prepare_and_exec(shared.exec, &mut shared.prepared);
        std::ptr::write_volatile(&mut shared.failed, Some((stage, errno)));
        libc::_exit(if stage == STAGE_EXEC && errno != libc::ENOENT { 126 } else { 127 })
    }
}

pub(crate) fn spawn(exec: &Exec) -> Result<i32, (Option<i32>, ExecFailure)> {
    // Everything the child needs is made before the clone.
    let mut prepared = Prepared::new(exec);
    if exec.in_place {
        // SAFETY: init is single-threaded; on success this never returns.
        let (stage, errno) = unsafe { prepare_and_exec(exec, &mut prepared) };
        return Err((None, failure(stage, Errno(errno))));
    }
    // SAFETY: a fresh private anonymous mapping, unmapped below; its lowest
    // page becomes the guard.
    let stack = unsafe {
        libc::mmap(std::ptr::null_mut(), STACK + PAGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK, -1, 0)
    };
    if stack == libc::MAP_FAILED {
        return Err((None, ExecFailure::Fork(Errno::last())));
    }
    let mut shared = Shared { exec, prepared, failed: None };
    // SAFETY: the guard page is inside the mapping; the child runs on the
    // stack above it (which grows down from its end) and sees `shared`
    // through the pointer; CLONE_VFORK returns here only once the child
    // has exec'd or exited, after which neither the stack nor `shared` is
    // used by it again. Init is single-threaded, so no lock is held by a
    // thread the child lacks.
    let pid = unsafe {
        libc::mprotect(stack, PAGE, libc::PROT_NONE);
        libc::clone(child_main, stack.cast::<u8>().add(STACK + PAGE).cast(), libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD, (&raw mut shared).cast())
    };
    let clone_errno = Errno::last();
    // SAFETY: our mapping, no longer in use (see above).
    unsafe { libc::munmap(stack, STACK + PAGE) };
    if pid < 0 {
        return Err((None, ExecFailure::Fork(clone_errno)));
    }
    // SAFETY: written by the child before it exited, if it failed.
    match unsafe { std::ptr::read_volatile(&shared.failed) } {
        Some((stage, errno)) => Err((Some(pid), failure(stage, Errno(errno)))),
        None => Ok(pid),
    }
}

fn failure(stage: u8, errno: Errno) -> ExecFailure {
    match stage {
        STAGE_CHDIR => ExecFailure::Chdir(errno),
        STAGE_SETUP => ExecFailure::Setup(errno),
        _ => ExecFailure::Exec(errno),
    }
}

/// plan.tty: the pty slave becomes the controlling terminal of the new
/// session and the program's stdin, stdout and stderr (as login_tty(3)).
/// Its own fd is above 2 and close-on-exec, so exec drops it.
unsafe fn tty_stdio(tty: i32) -> Result<(), i32> {
    if libc::ioctl(tty, libc::TIOCSCTTY, 0) < 0 {
        return Err(Errno::last().0);
    }
    for fd in 0..3 {
        if libc::dup2(tty, fd) < 0 {
            return Err(Errno::last().0);
        }
    }
    Ok(())
}

/// Every signal back to SIG_DFL (SIGKILL and SIGSTOP cannot change), then
/// an empty mask: init blocks the signals it waits for and ignores SIGPIPE.
pub(crate) fn reset_signals(sys: &dyn Sys) -> SysResult<()> {
    for sig in (1..=SIGMAX).filter(|&s| s != libc::SIGKILL && s != libc::SIGSTOP) {
        sys.signal_default(sig)?;
    }
    sys.unblock_signals()
}

/// As execvp: each candidate in turn, past ENOENT and ENOTDIR, remembering
/// EACCES. A file the kernel cannot execute (ENOEXEC) is a script for
/// `/bin/sh FILE ARGS...`, as glibc's execvp and shells run it; when /bin/sh
/// cannot run either, the answer stays the file's own ENOEXEC. `execve(path,
/// None)` runs a candidate, `execve(path, Some(file))` the shell on `file`.
/// Returns the errno to report (Ok only from a double: the new image is
/// running).
fn exec_with(progs: &[CString], mut execve: impl FnMut(&CStr, Option<&CStr>) -> Result<(), Errno>) -> Result<(), Errno> {
    let mut err = Errno(libc::ENOENT);
    for p in progs {
        match execve(p, None) {
            Ok(()) => return Ok(()),
            Err(Errno(libc::ENOENT | libc::ENOTDIR)) => {}
            Err(e @ Errno(libc::EACCES)) => err = e,
            Err(Errno(libc::ENOEXEC)) => return execve(SH, Some(p)).map_err(|_| Errno(libc::ENOEXEC)),
            Err(e) => return Err(e),
        }
    }
    Err(err)
}

/// [`exec_with`] through the syscall seam (the tests' double).
#[cfg(test)]
fn exec_program(sys: &dyn Sys, progs: &[CString], argv: &[CString], envp: &[CString]) -> Result<(), Errno> {
    exec_with(progs, |path, script| match script {
        None => sys.execve(path, argv, envp),
        Some(file) => {
            let sh: Vec<CString> = [SH.to_owned(), file.to_owned()].into_iter().chain(argv.iter().skip(1).cloned()).collect();
            sys.execve(SH, &sh, envp)
        }
    })
}

/// Bind the calling process to `cpus`. Best effort, as a binding is about
/// speed, not safety: a CPU that is not in the sandbox's cpuset (or beyond
/// the kernel's set size) leaves the inherited binding in place.
unsafe fn set_affinity(cpus: &[u32]) {
    let mut set: libc::cpu_set_t = std::mem::zeroed();
    let max = (std::mem::size_of::<libc::cpu_set_t>() * 8) as u32;
    for &cpu in cpus.iter().filter(|&&c| c < max) {
        libc::CPU_SET(cpu as usize, &mut set);
    }
    libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
}

/// The CPUs the calling process may run on, in order.
pub(crate) fn affinity() -> Vec<u32> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the kernel fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) < 0 {
            return Vec::new();
        }
        let max = (std::mem::size_of::<libc::cpu_set_t>() * 8) as u32;
        (0..max).filter(|&c| libc::CPU_ISSET(c as usize, &set)).collect()
    }
}

/// The program's side of the clone (or pid 1 itself with `in_place`): its
/// signals, session, terminal, umask, working directory and fds, then the
/// exec. Returns only on failure: the stage and errno. Allocates nothing.
unsafe fn prepare_and_exec(exec: &Exec, p: &mut Prepared) -> (u8, i32) {
    // Undo what init holds for itself: signal dispositions and the mask.
    if let Err(e) = reset_signals(&LinuxSys) {
        return (STAGE_SETUP, e.0);
    }
    // A new session detaches the program from the caller's terminal, so
    // TIOCSTI cannot push input into it (CVE-2017-5226).
    if (exec.new_session || exec.tty.is_some()) && libc::setsid() < 0 {
        return (STAGE_SETUP, Errno::last().0);
    }
    if let Some(tty) = exec.tty {
        if let Err(e) = tty_stdio(tty) {
            return (STAGE_SETUP, e);
        }
    }
    libc::umask(exec.umask as libc::mode_t);
    if !exec.cpus.is_empty() {
        set_affinity(&exec.cpus);
    }
    if libc::chdir(p.cwd.as_ptr()) < 0 {
        if exec.cwd_required {
            return (STAGE_CHDIR, Errno::last().0);
        }
        libc::chdir(c"/".as_ptr());
    }
    // Passed fds: first out of the way (a source may be another's target),
    // then onto their numbers.
    let base = exec.fds.iter().map(|&(a, b)| a.max(b)).max().unwrap_or(0) + 1;
    // Within the capacity made before the clone: no allocation.
    p.moved.clear();
    for &(from, to) in &exec.fds {
        let tmp = libc::fcntl(from, libc::F_DUPFD_CLOEXEC, base);
        if tmp < 0 {
            return (STAGE_SETUP, Errno::last().0);
        }
        p.moved.push((tmp, to));
    }
    // Only stdio and passed fds reach the program: every other fd is close-on-exec.
    if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) < 0 {
        // close_range is Linux 5.9+: mark them one by one.
        for fd in 3..1024 {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    for &(tmp, to) in &p.moved {
        // dup2 clears close-on-exec on `to`.
        if libc::dup2(tmp, to) < 0 {
            return (STAGE_SETUP, Errno::last().0);
        }
    }
    for prog in &p.filters {
        let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_ptr() as *mut _ };
        // prctl, not seccomp(2), as bubblewrap loads them: a caller's
        // program that must let the next one load allows prctl.
        if libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER as libc::c_ulong, &fprog as *const libc::sock_fprog) < 0 {
            return (STAGE_SETUP, Errno::last().0);
        }
    }
    // Returning at all means every exec failed (the real execve never answers Ok).
    let (argv, envp, sh) = (p.argv_ptrs.as_ptr(), p.envp_ptrs.as_ptr(), p.sh_ptrs.as_mut_ptr());
    let err = exec_with(&p.progs, |path, script| {
        match script {
            None => libc::execve(path.as_ptr(), argv, envp),
            Some(file) => {
                *sh.add(1) = file.as_ptr();
                libc::execve(SH.as_ptr(), sh, envp)
            }
        };
        Err(Errno::last())
    })
    .err()
    .unwrap_or(Errno(libc::ENOEXEC));
    (STAGE_EXEC, err.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::script::{Ret, Script};

    fn cs(v: &[&str]) -> Vec<CString> {
        v.iter().map(|s| c(s)).collect()
    }

    /// The calls reset_signals makes, every signal but SIGKILL and SIGSTOP.
    fn resets() -> Vec<(String, Ret)> {
        (1..=64).filter(|&s| s != 9 && s != 19).map(|s| (format!("signal_default({s})"), Ret::Ok)).collect()
    }

    #[test]
    fn signals_go_back_to_default_then_the_mask_is_emptied() {
        let mut calls = resets();
        assert_eq!(calls.len(), 62);
        assert!(calls.iter().any(|(c, _)| c == "signal_default(13)"), "SIGPIPE");
        calls.push(("unblock_signals()".into(), Ret::Ok));
        let sys = Script::new(calls);
        assert_eq!(reset_signals(&sys), Ok(()));
        sys.done();
    }

    #[test]
    fn a_signal_that_cannot_be_reset_stops_the_start_with_its_errno() {
        let mut calls: Vec<(String, Ret)> = resets().into_iter().take_while(|(c, _)| c != "signal_default(13)").collect();
        calls.push(("signal_default(13)".into(), Ret::Err(9013)));
        let sys = Script::new(calls);
        assert_eq!(reset_signals(&sys), Err(Errno(9013)));
        sys.done();
        let sys = Script::new(resets().into_iter().chain([("unblock_signals()".to_string(), Ret::Err(9014))]).collect());
        assert_eq!(reset_signals(&sys), Err(Errno(9014)));
        sys.done();
    }

    #[test]
    fn exec_tries_each_candidate_past_enoent_and_enotdir() {
        let sys = Script::new(vec![
            (r#"execve("/a/ls", ["ls", "-l"])"#, Ret::Err(libc::ENOENT)),
            (r#"execve("/b/ls", ["ls", "-l"])"#, Ret::Err(libc::ENOTDIR)),
            (r#"execve("/c/ls", ["ls", "-l"])"#, Ret::Ok),
        ]);
        assert_eq!(exec_program(&sys, &cs(&["/a/ls", "/b/ls", "/c/ls", "/d/ls"]), &cs(&["ls", "-l"]), &[]), Ok(()));
        sys.done();
    }

    #[test]
    fn exec_remembers_eacces_and_stops_at_other_errors() {
        let sys = Script::new(vec![(r#"execve("/a/x", ["x"])"#, Ret::Err(libc::EACCES)), (r#"execve("/b/x", ["x"])"#, Ret::Err(libc::ENOENT))]);
        assert_eq!(exec_program(&sys, &cs(&["/a/x", "/b/x"]), &cs(&["x"]), &[]), Err(Errno(libc::EACCES)));
        sys.done();
        // E2BIG (or any other) is the answer: later candidates are not tried
        let sys = Script::new(vec![(r#"execve("/a/x", ["x"])"#, Ret::Err(libc::E2BIG))]);
        assert_eq!(exec_program(&sys, &cs(&["/a/x", "/b/x"]), &cs(&["x"]), &[]), Err(Errno(libc::E2BIG)));
        sys.done();
        let sys = Script::new(vec![(r#"execve("/a/x", ["x"])"#, Ret::Err(libc::ENOENT))]);
        assert_eq!(exec_program(&sys, &cs(&["/a/x"]), &cs(&["x"]), &[]), Err(Errno(libc::ENOENT)));
        sys.done();
    }

    #[test]
    fn a_file_without_shebang_runs_with_bin_sh_as_execvp_does() {
        // /bin/sh FILE ARGS...: argv[0] gives way to the shell and the file's path
        let sys = Script::new(vec![
            (r#"execve("/a/x", ["x", "one", "two"])"#, Ret::Err(libc::ENOENT)),
            (r#"execve("/b/x", ["x", "one", "two"])"#, Ret::Err(libc::ENOEXEC)),
            (r#"execve("/bin/sh", ["/bin/sh", "/b/x", "one", "two"])"#, Ret::Ok),
        ]);
        assert_eq!(exec_program(&sys, &cs(&["/a/x", "/b/x", "/c/x"]), &cs(&["x", "one", "two"]), &[]), Ok(()));
        sys.done();
    }

    #[test]
    fn without_a_shell_a_file_without_shebang_fails_with_its_own_enoexec() {
        let sys =
            Script::new(vec![(r#"execve("./x", ["./x"])"#, Ret::Err(libc::ENOEXEC)), (r#"execve("/bin/sh", ["/bin/sh", "./x"])"#, Ret::Err(libc::ENOENT))]);
        assert_eq!(exec_program(&sys, &cs(&["./x"]), &cs(&["./x"]), &[]), Err(Errno(libc::ENOEXEC)));
        sys.done();
    }

    fn exec(argv0: &str, env: &[&str]) -> Exec {
        Exec {
            argv: vec![argv0.into()],
            env: env.iter().map(|s| s.to_string()).collect(),
            cwd: "/".into(),
            cwd_required: false,
            new_session: false,
            umask: 0o022,
            argv0: None,
            fds: Vec::new(),
            tty: None,
            cpus: Vec::new(),
            in_place: false,
            filters: Vec::new(),
        }
    }

    #[test]
    fn path_lookup_uses_the_programs_path() {
        let got: Vec<String> = candidates(&exec("ls", &["PATH=/a:/b/:"])).into_iter().map(|c| c.into_string().unwrap()).collect();
        assert_eq!(got, ["/a/ls", "/b/ls", "./ls"]);
        let got = candidates(&exec("ls", &[]));
        assert_eq!(got.len(), 3);
        assert_eq!(candidates(&exec("./x", &["PATH=/a"]))[0].to_str().unwrap(), "./x");
    }
}
