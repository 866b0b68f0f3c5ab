//! Stage: the launcher of a live sandbox becomes its supervisor. Before
//! clone ([`prepare`]) it makes the registry entry (`E_NAME_IN_USE` before
//! anything else exists), binds the control socket in it and makes the
//! channel to pid 1. After clone ([`supervise`]) it waits for pid 1 to say
//! it serves, writes `state.json`, reports `ready`, leaves the caller's
//! session with `detach`, then runs one poll over a signalfd and the
//! listening socket: each client is checked ([`net::peer_allowed`]: our uid,
//! our user namespace) and its connection handed to pid 1, which serves it.
//! The supervisor never opens a host path a request names. When pid 1 is
//! reaped the entry goes, and the launcher cleans up as for any run.

use super::net;
use super::proto::{Reply, SandboxState, PROTOCOL_VERSION};
use super::registry::{Entry, Registry, SOCKET};
use crate::error::{Code, SetupError};
use crate::plan::Plan;
use crate::report::Report;
use crate::sys::{Errno, ExitStatus, Fd, Prctl, Sys, POLLIN};
use std::os::fd::AsRawFd;

/// What the supervisor holds from before clone.
pub struct LiveHold {
    reg_root: String,
    entry: Entry,
    listener: Fd,
    /// (ours, pid 1's) ends of the channel.
    chan: (Fd, Fd),
}

/// Before clone: the entry, the listening socket, the channel.
pub fn prepare(sys: &dyn Sys, plan: &Plan) -> Result<Option<LiveHold>, SetupError> {
    let Some(live) = &plan.live else { return Ok(None) };
    let reg = Registry::open()?;
    let entry = reg.create(&live.name)?;
    let listener = match net::listen(entry.dir.as_raw_fd(), SOCKET) {
        Ok(fd) => fd,
        Err(e) => {
            entry.remove(&reg.root);
            return Err(SetupError::sys(Code::Setup, "bind the control socket", e));
        }
    };
    let chan = match sys.socketpair() {
        Ok(c) => c,
        Err(e) => {
            let _ = sys.close(listener);
            entry.remove(&reg.root);
            return Err(SetupError::sys(Code::Setup, "create the channel to pid 1", e));
        }
    };
    Ok(Some(LiveHold { reg_root: reg.root, entry, listener, chan }))
}

impl LiveHold {
    /// In pid 1 right after clone: drop what is the supervisor's (the lock
    /// above all: a copy held here would keep a dead supervisor's entry
    /// alive). pid 1's end of the channel.
    pub fn in_child(&self, sys: &dyn Sys) -> Fd {
        let _ = sys.close(self.entry.lock.as_raw_fd());
        let _ = sys.close(self.entry.dir.as_raw_fd());
        let _ = sys.close(self.listener);
        let _ = sys.close(self.chan.0);
        self.chan.1
    }

    /// Clone failed: nothing was registered.
    pub fn release(self, sys: &dyn Sys) {
        let _ = sys.close(self.listener);
        let _ = sys.close(self.chan.0);
        let _ = sys.close(self.chan.1);
        self.entry.remove(&self.reg_root);
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// After clone: serve until pid 1 is reaped; the run's exit status.
pub fn supervise(sys: &dyn Sys, plan: &Plan, hold: LiveHold, pid1: i32, report_fd: Option<Fd>) -> i32 {
    let live = plan.live.as_ref().expect("a live plan");
    let _ = sys.close(hold.chan.1);
    let chan = hold.chan.0;
    let sfd = match sys.signal_fd(&[libc::SIGCHLD, libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT]) {
        Ok(fd) => fd,
        Err(e) => {
            sys.log(&format!("cannot wait for signals: {e}"));
            let _ = sys.kill(pid1, libc::SIGKILL);
            return wait_pid1(sys, pid1, &hold);
        }
    };
    let mut ready = false;
    let mut asked = false;
    loop {
        let fds = if ready { vec![(sfd, POLLIN), (hold.listener, POLLIN)] } else { vec![(sfd, POLLIN), (chan, POLLIN)] };
        let rev = match sys.poll(&fds, -1) {
            Ok(r) => r,
            Err(e) => {
                sys.log(&format!("cannot poll: {e}"));
                let _ = sys.kill(pid1, libc::SIGKILL);
                return wait_pid1(sys, pid1, &hold);
            }
        };
        if rev[0] != 0 {
            while let Ok(Some(sig)) = sys.read_signal(sfd) {
                if sig == libc::SIGCHLD {
                    if let Some(code) = reap(sys, pid1) {
                        hold.entry.remove(&hold.reg_root);
                        let _ = sys.close(hold.listener);
                        return code;
                    }
                } else {
                    // The first asks pid 1 to end the sandbox; a second insists.
                    let _ = sys.kill(pid1, if asked && sig != libc::SIGQUIT { libc::SIGKILL } else { libc::SIGTERM });
                    asked = true;
                }
            }
        }
        if !ready && rev[1] != 0 {
            // pid 1 serves (b"R"), or died before (end of file).
            match sys.read(chan, 1) {
                Ok(b) if b == b"R" => {}
                _ => continue,
            }
            ready = true;
            let state = SandboxState {
                version: PROTOCOL_VERSION,
                name: live.name.clone(),
                supervisor_pid: sys.getpid(),
                pid1,
                created_ms: now_ms(),
                argv: plan.argv.clone(),
                detached: live.detach,
                labels: live.labels.clone(),
                socket: None,
            };
            if let Err(e) = hold.entry.write_state(&state) {
                crate::report::error(sys, report_fd, &e.into());
                let _ = sys.kill(pid1, libc::SIGKILL);
                return wait_pid1(sys, pid1, &hold);
            }
            if let Some(fd) = report_fd {
                let _ = Report::Ready { name: live.name.clone(), pid: pid1, socket: hold.entry.socket_path() }.send(sys, fd);
            }
            if live.detach {
                detach(sys, report_fd);
            }
        } else if ready && rev[1] != 0 {
            let Ok(conn) = net::accept(hold.listener) else { continue };
            match net::peer_allowed(conn) {
                Ok(()) => {
                    if sys.send_fd(chan, conn).is_err() {
                        let _ = net::send(conn, &Reply::error(Code::SandboxClosed, format!("sandbox {} is ending", live.name)).to_bytes(), &[]);
                    }
                }
                Err(why) => {
                    let _ = net::send(conn, &Reply::error(Code::ControlDenied, format!("control of sandbox {} refused: {why}", live.name)).to_bytes(), &[]);
                }
            }
            let _ = sys.close(conn);
        }
    }
}

/// Leave the caller: no parent-death signal, a session of our own, stdio
/// on /dev/null, the report socket closed after `ready`.
fn detach(sys: &dyn Sys, report_fd: Option<Fd>) {
    let _ = sys.prctl(Prctl::SetPdeathsig(0));
    // SAFETY: setsid has no memory effects; it fails harmlessly when we already lead a session.
    unsafe { libc::setsid() };
    if let Ok(null) = sys.open("/dev/null", libc::O_RDWR) {
        for fd in 0..3 {
            // SAFETY: dup2 onto our own stdio.
            unsafe { libc::dup2(null, fd) };
        }
        let _ = sys.close(null);
    }
    if let Some(fd) = report_fd {
        let _ = sys.close(fd);
    }
}

/// Reap what exited; pid 1's status once it was reaped.
fn reap(sys: &dyn Sys, pid1: i32) -> Option<i32> {
    loop {
        match sys.reap() {
            Ok(Some((p, st))) if p == pid1 => return Some(st.code()),
            Ok(Some(_)) => continue,
            Ok(None) => return None,
            Err(Errno(libc::ECHILD)) => return Some(ExitStatus::Exited(125).code()),
            Err(_) => return None,
        }
    }
}

fn wait_pid1(sys: &dyn Sys, pid1: i32, hold: &LiveHold) -> i32 {
    let code = loop {
        if let Some(c) = reap(sys, pid1) {
            break c;
        }
        let _ = sys.poll(&[], 10);
    };
    let _ = std::fs::remove_dir_all(&hold.entry.path);
    code
}
