//! Stage: the launcher's terminal relay (plan.tty), as `docker run -it` and
//! ssh do it. pid 1 opens a pseudo-terminal on the sandbox's own devpts and
//! sends the master here; this loop puts the caller's terminal (stdin) in
//! raw mode, copies stdin to the master and the master to stdout, passes
//! SIGWINCH on as TIOCSWINSZ, hands other signals to [`Stop`], and puts the
//! terminal back on every way out (program exit, forced stop, errors).
//!
//! Keystrokes such as Ctrl-C and Ctrl-Z are plain bytes here: the line
//! discipline of the sandbox's pty turns them into signals for the sandbox's
//! foreground job, so job control behaves as on a local terminal, and
//! TIOCSTI or line-discipline tricks inside reach only that pty.
//!
//! Invariants: single-threaded, one poll over a signalfd, the socket from
//! pid 1, stdin and the master. stdin is never made non-blocking (that flag
//! would be shared with the caller's shell); the master is ours and is.

use super::{reap_pid1, wait, Stop};
use crate::error::{Code, SetupError};
use crate::init::TTY_HINT;
use crate::plan::{Op, Plan};
use crate::sys::{Errno, Fd, Sys, TermState, POLLIN, POLLOUT};

/// Signals the relay takes through its signalfd.
pub const RELAY_SIGNALS: [i32; 6] = [libc::SIGCHLD, libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT, libc::SIGWINCH];
/// Bytes moved per read.
pub const CHUNK: usize = 16 * 1024;

/// Before anything exists: the plan gives the sandbox a devpts of its own
/// (the dev op on /dev) and the launcher's stdin is a terminal to relay.
pub fn check(sys: &dyn Sys, plan: &Plan) -> Result<(), SetupError> {
    let private_dev = plan.ops.iter().any(|o| matches!(o, Op::Dev(d) if d.target.trim_end_matches('/') == "/dev"));
    if !private_dev {
        return Err(SetupError::new(Code::Setup, "a pseudo-terminal needs the sandbox's own /dev, and the plan has no dev op on /dev").with_hint(TTY_HINT));
    }
    if !sys.isatty(0) {
        return Err(SetupError::new(Code::Setup, "a pseudo-terminal needs a terminal on stdin to relay")
            .with_hint("run it from a terminal, or without a pseudo-terminal (`--no-tty`)"));
    }
    Ok(())
}

struct Relay<'a> {
    sys: &'a dyn Sys,
    /// From pid 1, until the master arrived (or pid 1 closed it).
    sock: Option<Fd>,
    master: Option<Fd>,
    /// The master still gives output (EIO once no slave is open).
    master_open: bool,
    stdin_open: bool,
    /// Read from stdin, not yet written to the master.
    input: Vec<u8>,
    /// The caller's terminal settings before raw mode.
    saved: Option<TermState>,
}

/// Relay until pid 1 is reaped; the run's exit status.
pub fn relay(sys: &dyn Sys, sock: Fd, stop: &mut Stop) -> i32 {
    // stdout may go away: EPIPE then, not death with the terminal left raw.
    sys.ignore_signal(libc::SIGPIPE);
    let mut r = Relay { sys, sock: Some(sock), master: None, master_open: false, stdin_open: true, input: Vec::new(), saved: None };
    let sfd = match sys.signal_fd(&RELAY_SIGNALS) {
        Ok(fd) => fd,
        Err(e) => {
            stop.fail(sys, &format!("cannot wait for signals: {e}"));
            r.close_sock();
            return wait(sys, stop);
        }
    };
    let code = r.run(sfd, stop);
    let _ = sys.close(sfd);
    r.end();
    code
}

impl Relay<'_> {
    fn run(&mut self, sfd: Fd, stop: &mut Stop) -> i32 {
        loop {
            let mut fds = vec![(sfd, POLLIN)];
            let sock_at = self.sock.map(|s| push(&mut fds, s, POLLIN));
            let stdin_at = (self.master.is_some() && self.stdin_open && self.input.is_empty()).then(|| push(&mut fds, 0, POLLIN));
            let master_at = match self.master {
                Some(m) if self.master_open => Some(push(&mut fds, m, if self.input.is_empty() { POLLIN } else { POLLIN | POLLOUT })),
                _ => None,
            };
            let timeout = stop.time_left(self.sys).map_or(-1, |ms| ms.min(i32::MAX as u64) as i32);
            let rev = match self.sys.poll(&fds, timeout) {
                Ok(v) => v,
                Err(e) => {
                    stop.fail(self.sys, &format!("cannot relay the terminal: {e}"));
                    return wait(self.sys, stop);
                }
            };
            if rev[0] != 0 {
                loop {
                    match self.sys.read_signal(sfd) {
                        Ok(Some(libc::SIGCHLD)) => {
                            if let Some(code) = reap_pid1(self.sys, stop) {
                                self.drain();
                                return code;
                            }
                        }
                        Ok(Some(libc::SIGWINCH)) => self.resize(),
                        Ok(Some(sig)) => stop.signal(self.sys, sig),
                        Ok(None) => break,
                        Err(e) => {
                            stop.fail(self.sys, &format!("cannot read signals: {e}"));
                            return wait(self.sys, stop);
                        }
                    }
                }
            }
            if let Some(i) = sock_at {
                if rev[i] != 0 {
                    // Nothing arrives when pid 1 failed first: its report says why.
                    if let Ok(Some(m)) = self.sys.recv_fd(self.sock.unwrap_or(-1)) {
                        self.attach(m);
                    }
                    self.close_sock();
                }
            }
            if let Some(i) = stdin_at {
                if rev[i] != 0 {
                    match self.sys.read(0, CHUNK) {
                        Ok(b) if !b.is_empty() => self.input = b,
                        Err(Errno(libc::EAGAIN | libc::EINTR)) => {}
                        // The caller's terminal hung up (EIO) or ended: as a
                        // dropped ssh connection, the sandbox gets SIGHUP.
                        _ => {
                            self.stdin_open = false;
                            stop.signal(self.sys, libc::SIGHUP);
                        }
                    }
                }
            }
            if let (Some(i), Some(m)) = (master_at, self.master) {
                if rev[i] & POLLOUT != 0 && !self.input.is_empty() {
                    match self.sys.write_some(m, &self.input) {
                        Ok(n) => drop(self.input.drain(..n.min(self.input.len()))),
                        Err(Errno(libc::EAGAIN | libc::EINTR)) => {}
                        Err(_) => self.input.clear(),
                    }
                }
                if rev[i] & !POLLOUT != 0 && !self.pump(m) {
                    self.master_open = false;
                    self.input.clear();
                }
            }
        }
    }

    /// pid 1 sent the master: size it as our terminal, then go raw.
    fn attach(&mut self, m: Fd) {
        if let Err(e) = self.sys.set_nonblock(m) {
            self.sys.log(&format!("cannot make the pseudo-terminal non-blocking: {e}"));
        }
        self.master = Some(m);
        self.master_open = true;
        self.resize();
        match self.sys.tty_raw(0) {
            Ok(t) => self.saved = Some(t),
            Err(e) => self.sys.log(&format!("cannot put the terminal in raw mode: {e}")),
        }
    }

    /// Our terminal's size onto the master (the kernel then sends SIGWINCH
    /// to the sandbox's foreground job).
    fn resize(&self) {
        if let Some(m) = self.master {
            if let Ok(size) = self.sys.winsize(0) {
                let _ = self.sys.set_winsize(m, size);
            }
        }
    }

    /// One read of the master to stdout; false once it gives no more.
    fn pump(&self, m: Fd) -> bool {
        match self.sys.read(m, CHUNK) {
            Ok(b) if !b.is_empty() => {
                // A closed stdout only loses the output; the run goes on.
                let _ = self.sys.write_fd(1, &b);
                true
            }
            Err(Errno(libc::EAGAIN | libc::EINTR)) => true,
            _ => false,
        }
    }

    /// pid 1 is gone: what the program wrote last is still in the master.
    fn drain(&mut self) {
        if let Some(m) = self.master.filter(|_| self.master_open) {
            while let Ok(b) = self.sys.read(m, CHUNK) {
                if b.is_empty() {
                    break;
                }
                let _ = self.sys.write_fd(1, &b);
            }
        }
        self.master_open = false;
    }

    fn close_sock(&mut self) {
        if let Some(s) = self.sock.take() {
            let _ = self.sys.close(s);
        }
    }

    /// Every way out: the caller's terminal as it was, our fds closed.
    fn end(&mut self) {
        self.close_sock();
        if let Some(t) = self.saved.take() {
            if let Err(e) = self.sys.tty_restore(0, &t) {
                self.sys.log(&format!("cannot restore the terminal settings: {e}"));
            }
        }
        if let Some(m) = self.master.take() {
            let _ = self.sys.close(m);
        }
    }
}

fn push(fds: &mut Vec<(Fd, i16)>, fd: Fd, events: i16) -> usize {
    fds.push((fd, events));
    fds.len() - 1
}

#[cfg(test)]
#[path = "relay_tests.rs"]
mod tests;
