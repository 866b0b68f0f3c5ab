//! Stage: the seccomp listener process (plan.report, issue 14). pid 1
//! loads the first filter as its notify variant (seccomp/notify.rs) and
//! sends the listener fd out over a socket pair before anything else runs
//! (init/privileges.rs); the launcher forks this process after clone, as it
//! forks the network proxy: it dies with the launcher (fork_child's parent
//! death signal), and ends by itself once no process of the sandbox is left
//! under the filter (the listener polls POLLHUP). Nothing of it is inside.
//!
//! For each notification it writes a `denied` line of kind `syscall` on the
//! report socket, then fails the call with the errno the plain filter
//! returns for the same data. The line goes first, so a program that exits
//! right after its denied call still has it reported. It never lets a call
//! through and never reads the caller's memory: nothing to race.

use crate::error::{Code, Ctx, SetupError};
use crate::report::{Denial, Report};
use crate::seccomp::notify;
use crate::sys::{Errno, Fd, Sys};

use super::LaunchContext;

/// Fork the listener process on `chan` (the launcher's end of pid 1's
/// socket); its pid.
pub fn listen(sys: &dyn Sys, cx: &LaunchContext, chan: Fd) -> Result<i32, SetupError> {
    let (Some(report), Some(original)) = (cx.report_fd, cx.seccomp.first()) else { return Ok(0) };
    sys.fork_child(&mut || {
        sys.ignore_signal(libc::SIGPIPE);
        serve(sys, chan, original, report)
    })
    .ctx(Code::Setup, "start the seccomp listener")
}

/// The listener process: take the listener from `chan`, then answer every
/// notification until no process is left under the filter. Its exit status.
pub fn serve(sys: &dyn Sys, chan: Fd, original: &[libc::sock_filter], report: Fd) -> i32 {
    // pid 1 failed before sending it (its error is reported) or loaded the
    // plain filter instead (already under a listener): nothing to serve.
    let listener = match sys.recv_fd(chan) {
        Ok(Some(fd)) => fd,
        _ => return 0,
    };
    let _ = sys.close(chan);
    loop {
        match sys.poll(&[(listener, libc::POLLIN)], -1) {
            Ok(ev) if ev[0] & libc::POLLIN != 0 => {}
            // Every process of the sandbox is gone.
            Ok(ev) if ev[0] & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 => return 0,
            Ok(_) | Err(Errno(libc::EINTR)) => continue,
            Err(e) => {
                sys.log(&format!("seccomp listener: cannot poll: {e}"));
                return 1;
            }
        }
        let n = match sys.seccomp_notif_recv(listener) {
            Ok(n) => n,
            // The caller died (or a signal interrupted its call) meanwhile.
            Err(Errno(libc::ENOENT | libc::EINTR)) => continue,
            Err(e) => {
                sys.log(&format!("seccomp listener: cannot receive: {e}"));
                return 1;
            }
        };
        let errno = notify::answer(original, &n.data);
        let name = notify::name(n.data.arch, n.data.nr).map_or_else(|| format!("nr {}", n.data.nr), String::from);
        // One write of a short line: lines of the proxy and this process on
        // the same socket never interleave (a unix stream write this small
        // is one queued buffer).
        let _ = Report::Denied(Denial::Syscall { name, nr: n.data.nr, errno, pid: n.pid }).send(sys, report);
        // ENOENT: the caller is gone (killed meanwhile); nothing to answer.
        let _ = sys.seccomp_notif_deny(listener, n.id, errno);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::script::{Ret, Script};
    use crate::sys::{SeccompData, SeccompNotif};

    fn ptrace(id: u64) -> SeccompNotif {
        SeccompNotif { id, pid: 4242, data: SeccompData { nr: 101, arch: 0xc000_003e, ip: 0, args: [0; 6] } }
    }

    /// A filter that answers every call EACCES.
    const EACCES_ALL: [libc::sock_filter; 1] = [libc::sock_filter { code: 0x06, jt: 0, jf: 0, k: 0x0005_0000 | libc::EACCES as u32 }];

    #[test]
    fn each_notification_is_reported_then_denied_with_the_filters_errno() {
        let line = Report::Denied(Denial::Syscall { name: "ptrace".into(), nr: 101, errno: libc::EACCES, pid: 4242 }).line();
        let sys = Script::new(vec![
            ("recv_fd(7)", Ret::Fd(9)),
            ("close(7)", Ret::Ok),
            ("poll([9:IN], -1)", Ret::Events(vec![libc::POLLIN])),
            ("seccomp_notif_recv(9)", Ret::Notif(ptrace(1))),
            (&*format!("write_fd(3, {line:?})"), Ret::Ok),
            ("seccomp_notif_deny(9, 1, 13)", Ret::Ok),
            // The caller died between poll and recv: next.
            ("poll([9:IN], -1)", Ret::Events(vec![libc::POLLIN])),
            ("seccomp_notif_recv(9)", Ret::Err(libc::ENOENT)),
            ("poll([9:IN], -1)", Ret::Err(libc::EINTR)),
            // The report socket is gone: the call is still denied.
            ("poll([9:IN], -1)", Ret::Events(vec![libc::POLLIN])),
            ("seccomp_notif_recv(9)", Ret::Notif(ptrace(2))),
            (&*format!("write_fd(3, {line:?})"), Ret::Err(libc::EPIPE)),
            ("seccomp_notif_deny(9, 2, 13)", Ret::Err(libc::ENOENT)),
            ("poll([9:IN], -1)", Ret::Events(vec![libc::POLLHUP])),
        ]);
        assert_eq!(serve(&sys, 7, &EACCES_ALL, 3), 0);
        sys.done();
    }

    #[test]
    fn no_listener_sent_nothing_served() {
        let sys = Script::new(vec![("recv_fd(7)", Ret::NoneYet)]);
        assert_eq!(serve(&sys, 7, &EACCES_ALL, 3), 0);
        sys.done();
    }

    #[test]
    fn a_failing_listener_ends_with_a_log() {
        let sys = Script::new(vec![
            ("recv_fd(7)", Ret::Fd(9)),
            ("close(7)", Ret::Ok),
            ("poll([9:IN], -1)", Ret::Events(vec![libc::POLLIN])),
            ("seccomp_notif_recv(9)", Ret::Err(libc::EBADF)),
        ]);
        assert_eq!(serve(&sys, 7, &EACCES_ALL, 3), 1);
        sys.done();
        let sys = Script::new(vec![("recv_fd(7)", Ret::Fd(9)), ("close(7)", Ret::Ok), ("poll([9:IN], -1)", Ret::Err(libc::ENOMEM))]);
        assert_eq!(serve(&sys, 7, &EACCES_ALL, 3), 1);
        sys.done();
    }
}
