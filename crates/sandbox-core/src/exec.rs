//! Stage: the last step of init. Forks the program (it becomes pid 2),
//! prepares it in the child and execs it; an exec failure travels back over a
//! close-on-exec pipe, so "started" means the new image is running.

use crate::sys::{Errno, Exec, ExecFailure};
use std::ffi::CString;

const STAGE_CHDIR: u8 = 1;
const STAGE_EXEC: u8 = 2;
const STAGE_SETUP: u8 = 3;

/// Default PATH when the program's environment has none (as execvp).
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

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
    path.split(':')
        .map(|d| if d.is_empty() { "." } else { d })
        .map(|d| c(&format!("{}/{name}", d.trim_end_matches('/'))))
        .collect()
}

pub(crate) fn spawn(exec: &Exec) -> Result<i32, (Option<i32>, ExecFailure)> {
    // Everything the child needs is allocated before fork.
    let progs = candidates(exec);
    let mut argv: Vec<CString> = exec.argv.iter().map(|a| c(a)).collect();
    if let Some(a0) = &exec.argv0 {
        argv[0] = c(a0);
    }
    let envp: Vec<CString> = exec.env.iter().map(|e| c(e)).collect();
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut envp_p: Vec<*const libc::c_char> = envp.iter().map(|e| e.as_ptr()).collect();
    envp_p.push(std::ptr::null());
    let cwd = c(&exec.cwd);

    let mut pipe = [0; 2];
    // SAFETY: pipe is a valid 2-int array.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err((None, ExecFailure::Fork(Errno::last())));
    }
    // SAFETY: init is single-threaded, so the child may run arbitrary code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = Errno::last();
        // SAFETY: our own pipe fds.
        unsafe {
            libc::close(pipe[0]);
            libc::close(pipe[1]);
        }
        return Err((None, ExecFailure::Fork(e)));
    }
    if pid == 0 {
        // SAFETY: child of a single-threaded fork; only syscalls, then exec or _exit.
        unsafe { child(exec, &progs, &argv_p, &envp_p, &cwd, pipe[1]) }
    }
    // SAFETY: our own pipe fds; buf is a valid buffer.
    unsafe {
        libc::close(pipe[1]);
        let mut buf = [0u8; 5];
        let n = loop {
            let n = libc::read(pipe[0], buf.as_mut_ptr().cast(), buf.len());
            if n < 0 && Errno::last().0 == libc::EINTR {
                continue;
            }
            break n;
        };
        libc::close(pipe[0]);
        if n == 5 {
            let errno = Errno(i32::from_ne_bytes([buf[1], buf[2], buf[3], buf[4]]));
            let f = match buf[0] {
                STAGE_CHDIR => ExecFailure::Chdir(errno),
                STAGE_SETUP => ExecFailure::Setup(errno),
                _ => ExecFailure::Exec(errno),
            };
            return Err((Some(pid), f));
        }
    }
    Ok(pid)
}

unsafe fn fail(pipe: i32, stage: u8, errno: i32) -> ! {
    let mut buf = [stage, 0, 0, 0, 0];
    buf[1..].copy_from_slice(&errno.to_ne_bytes());
    libc::write(pipe, buf.as_ptr().cast(), buf.len());
    libc::_exit(if stage == STAGE_EXEC && errno != libc::ENOENT { 126 } else { 127 })
}

/// plan.tty: the pty slave becomes the controlling terminal of the new
/// session and the program's stdin, stdout and stderr (as login_tty(3)).
/// Its own fd is above 2 and close-on-exec, so exec drops it.
unsafe fn tty_stdio(tty: i32, pipe: i32) {
    if libc::ioctl(tty, libc::TIOCSCTTY, 0) < 0 {
        fail(pipe, STAGE_SETUP, Errno::last().0);
    }
    for fd in 0..3 {
        if libc::dup2(tty, fd) < 0 {
            fail(pipe, STAGE_SETUP, Errno::last().0);
        }
    }
}

unsafe fn child(
    exec: &Exec,
    progs: &[CString],
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
    cwd: &CString,
    pipe: i32,
) -> ! {
    // Undo what init holds for itself: the blocked signal mask.
    let mut empty: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut empty);
    if libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) < 0 {
        fail(pipe, STAGE_SETUP, Errno::last().0);
    }
    // A new session detaches the program from the caller's terminal, so
    // TIOCSTI cannot push input into it (CVE-2017-5226).
    if (exec.new_session || exec.tty.is_some()) && libc::setsid() < 0 {
        fail(pipe, STAGE_SETUP, Errno::last().0);
    }
    if let Some(tty) = exec.tty {
        tty_stdio(tty, pipe);
    }
    libc::umask(exec.umask as libc::mode_t);
    if libc::chdir(cwd.as_ptr()) < 0 {
        if exec.cwd_required {
            fail(pipe, STAGE_CHDIR, Errno::last().0);
        }
        libc::chdir(c"/".as_ptr());
    }
    // Passed fds: first out of the way (a source may be another's target),
    // then onto their numbers.
    let base = exec.fds.iter().map(|&(a, b)| a.max(b)).max().unwrap_or(0) + 1;
    let mut moved = Vec::with_capacity(exec.fds.len());
    for &(from, to) in &exec.fds {
        let tmp = libc::fcntl(from, libc::F_DUPFD_CLOEXEC, base);
        if tmp < 0 {
            fail(pipe, STAGE_SETUP, Errno::last().0);
        }
        moved.push((tmp, to));
    }
    // Only stdio and passed fds reach the program: every other fd is close-on-exec.
    if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) < 0 {
        // close_range is Linux 5.9+: mark them one by one.
        for fd in 3..1024 {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    for (tmp, to) in moved {
        // dup2 clears close-on-exec on `to`; the pipe to init may be `to`:
        // then errors after this point are reported by the exit status only.
        if libc::dup2(tmp, to) < 0 {
            fail(pipe, STAGE_SETUP, Errno::last().0);
        }
    }
    // As execvp: remember EACCES, keep looking past ENOENT/ENOTDIR.
    let mut err = libc::ENOENT;
    for p in progs {
        libc::execve(p.as_ptr(), argv.as_ptr(), envp.as_ptr());
        match Errno::last().0 {
            libc::ENOENT | libc::ENOTDIR => {}
            libc::EACCES => err = libc::EACCES,
            e => {
                err = e;
                break;
            }
        }
    }
    fail(pipe, STAGE_EXEC, err)
}

#[cfg(test)]
mod tests {
    use super::*;

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
