//! A foreground `run` of a spec with `process.terminal` and no
//! `--console-socket`: the runtime is the console socket itself, as runc
//! is (runc's `setupIO` with `detach` false). Before anything is created it
//! opens the caller's controlling terminal (`/dev/tty`; none is an error
//! naming `process.terminal`, as runc's `open /dev/tty: no such device or
//! address`) and listens on a socket in a fresh private directory; pid 1
//! connects to it and sends the pty master during its setup. Then the
//! caller's terminal goes raw with the master sized like it, and bytes flow
//! stdin → master and master → stdout until pid 1 exits; the terminal's
//! settings are restored whatever happens.

use crate::error::{Code, SetupError};
use crate::oci::spec;
use crate::sys::{Fd, Sys};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

pub struct Relay {
    tty: Fd,
    saved: libc::termios,
    dir: PathBuf,
    listener: UnixListener,
    raw: bool,
}

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

impl Relay {
    /// The caller's terminal and the socket pid 1 will send the master to.
    /// Nothing of the container exists yet.
    pub fn open() -> Result<Relay, SetupError> {
        // SAFETY: a path we own; the fd is ours to close (Drop).
        let tty = unsafe { libc::open(c"/dev/tty".as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
        if tty < 0 {
            return Err(spec::invalid(
                "process.terminal",
                format!(
                    "true needs a terminal to relay: cannot open /dev/tty: {} (run from a terminal, pass --console-socket, or set it false)",
                    crate::sys::Errno::last()
                ),
            ));
        }
        // SAFETY: termios is plain data; tcgetattr fills it.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tty is an open fd, saved a valid termios.
        if unsafe { libc::tcgetattr(tty, &mut saved) } < 0 {
            let e = errno();
            // SAFETY: ours.
            unsafe { libc::close(tty) };
            return Err(spec::invalid("process.terminal", format!("cannot read the settings of /dev/tty: {e}")));
        }
        let fail = |what: &str, e: std::io::Error| SetupError::new(Code::Setup, format!("cannot {what}: {e}"));
        // A directory only we can enter (mkdtemp: 0700, a fresh name), so no
        // one else connects first or swaps the socket.
        let dir = nix::unistd::mkdtemp(&std::env::temp_dir().join("sandboxctl-oci-tty.XXXXXX"))
            .map_err(|e| fail("create the terminal socket's directory", e.into()))?;
        let listener = match UnixListener::bind(dir.join("console.sock")) {
            Ok(l) => l,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                // SAFETY: ours.
                unsafe { libc::close(tty) };
                return Err(fail("listen for the container's terminal", e));
            }
        };
        Ok(Relay { tty, saved, dir, listener, raw: false })
    }

    /// The path to give pid 1 as `--console-socket`.
    pub fn socket(&self) -> String {
        self.dir.join("console.sock").to_string_lossy().into_owned()
    }

    /// After `create`: the master pid 1 sent during its setup (queued on the
    /// connection before `Ready`, so accept does not wait).
    pub fn master(&mut self, sys: &dyn Sys) -> Result<Fd, SetupError> {
        use std::os::fd::AsRawFd;
        let (conn, _) = self.listener.accept().map_err(|e| SetupError::new(Code::Setup, format!("cannot accept the container's terminal: {e}")))?;
        let _ = std::fs::remove_dir_all(&self.dir);
        let master = sys
            .recv_fd(conn.as_raw_fd())
            .map_err(|e| SetupError::sys(Code::Setup, "receive the container's terminal", e))?
            .ok_or_else(|| SetupError::new(Code::Setup, "the container sent no terminal"))?;
        // The master as large as the caller's terminal, the caller's raw.
        // SAFETY: winsize is plain data, filled by TIOCGWINSZ on our tty and
        // read by TIOCSWINSZ on the master, both fds open.
        unsafe {
            let mut ws: libc::winsize = std::mem::zeroed();
            if libc::ioctl(self.tty, libc::TIOCGWINSZ, &mut ws) == 0 {
                libc::ioctl(master, libc::TIOCSWINSZ, &ws);
            }
            let mut raw = self.saved;
            libc::cfmakeraw(&mut raw);
            if libc::tcsetattr(self.tty, libc::TCSADRAIN, &raw) == 0 {
                self.raw = true;
            }
        }
        Ok(master)
    }

    /// Copy stdin → master and master → stdout until `pid` exits (its pidfd
    /// turns readable), then drain what the master still holds. SIGWINCH
    /// resizes the master. Returns when the program is gone; the caller reaps.
    pub fn copy(&self, master: Fd, pid: i32) -> Result<(), SetupError> {
        // SAFETY: pidfd_open takes a pid and flags; the fd is ours.
        let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
        if pidfd < 0 {
            return Err(SetupError::new(Code::Setup, format!("cannot watch the container's process: {}", errno())));
        }
        let winch = winch_fd();
        let mut buf = [0u8; 8192];
        let mut stdin_open = true;
        let mut master_open = true;
        loop {
            let mut fds = vec![
                libc::pollfd { fd: master, events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: pidfd, events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: if stdin_open { 0 } else { -1 }, events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: winch, events: libc::POLLIN, revents: 0 },
            ];
            // SAFETY: fds is a valid array of pollfd for its length.
            if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) } < 0 {
                if errno().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                break;
            }
            if master_open && fds[0].revents != 0 && !pump(master, 1, &mut buf) {
                master_open = false;
            }
            if fds[2].revents != 0 && !pump(0, master, &mut buf) {
                stdin_open = false;
            }
            if fds[3].revents != 0 {
                // SAFETY: drain the signalfd's record into our buffer; resize as above.
                unsafe {
                    libc::read(winch, buf.as_mut_ptr().cast(), std::mem::size_of::<libc::signalfd_siginfo>());
                    let mut ws: libc::winsize = std::mem::zeroed();
                    if libc::ioctl(self.tty, libc::TIOCGWINSZ, &mut ws) == 0 {
                        libc::ioctl(master, libc::TIOCSWINSZ, &ws);
                    }
                }
            }
            if fds[1].revents != 0 || !master_open {
                break;
            }
        }
        // What the program wrote just before it exited.
        // SAFETY: master is open; non-blocking from here so a slave kept open
        // by a leftover process cannot hold us.
        unsafe { libc::fcntl(master, libc::F_SETFL, libc::O_NONBLOCK) };
        while master_open && pump(master, 1, &mut buf) {}
        // SAFETY: ours.
        unsafe {
            libc::close(pidfd);
            if winch >= 0 {
                libc::close(winch);
            }
        }
        Ok(())
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        // SAFETY: restore what we read at open; tty is ours.
        unsafe {
            if self.raw {
                libc::tcsetattr(self.tty, libc::TCSADRAIN, &self.saved);
            }
            libc::close(self.tty);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One read from `from` written whole to `to`; false at EOF or an error
/// (EIO on the master: every slave is closed).
fn pump(from: Fd, to: Fd, buf: &mut [u8]) -> bool {
    // SAFETY: buf is ours for its length.
    let n = unsafe { libc::read(from, buf.as_mut_ptr().cast(), buf.len()) };
    if n <= 0 {
        return n < 0 && errno().raw_os_error() == Some(libc::EINTR);
    }
    let mut off = 0;
    while off < n as usize {
        // SAFETY: the filled part of buf.
        let w = unsafe { libc::write(to, buf[off..n as usize].as_ptr().cast(), n as usize - off) };
        if w <= 0 {
            if w < 0 && errno().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return false;
        }
        off += w as usize;
    }
    true
}

/// SIGWINCH as a readable fd (blocked for normal delivery); -1 if the
/// kernel refuses, and the master keeps its first size.
fn winch_fd() -> Fd {
    // SAFETY: a sigset we own, SIGWINCH only; signalfd returns a new fd.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGWINCH);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK)
    }
}
