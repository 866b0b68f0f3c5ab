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
    let listener = match net::listen(sys, entry.dir.as_raw_fd(), SOCKET) {
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
            let Ok(conn) = net::accept(sys, hold.listener) else { continue };
            match net::peer_allowed(sys, conn) {
                Ok(()) => {
                    if sys.send_fd(chan, conn).is_err() {
                        let _ = net::send(sys, conn, &Reply::error(Code::SandboxClosed, format!("sandbox {} is ending", live.name)).to_bytes(), &[]);
                    }
                }
                Err(why) => {
                    let _ =
                        net::send(sys, conn, &Reply::error(Code::ControlDenied, format!("control of sandbox {} refused: {why}", live.name)).to_bytes(), &[]);
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

#[cfg(test)]
mod tests {
    //! The supervisor's fatal branches through the call script, over a real
    //! registry entry in a private temporary directory (the entry must go
    //! whichever way the supervisor ends).
    use super::*;
    use crate::plan::{LiveEnd, LiveSpec};
    use crate::sys::script::{Ret, Script};

    const LISTENER: Fd = 40;
    const CHAN: (Fd, Fd) = (41, 42);
    const SFD: Fd = 43;
    const PID1: i32 = 77;
    const SIGNALS: &str = "signal_fd([17, 15, 2, 1, 3])";

    fn hold(tag: &str) -> (LiveHold, String) {
        let root = std::env::temp_dir().join(format!("sbx-sup-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir(&root).unwrap();
        std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let reg = Registry::open_at(root.to_str().unwrap()).unwrap();
        let entry = reg.create("t").unwrap();
        let path = entry.path.clone();
        (LiveHold { reg_root: reg.root, entry, listener: LISTENER, chan: CHAN }, path)
    }

    fn plan() -> Plan {
        let mut p = Plan::new(vec!["/bin/true".into()]);
        p.live = Some(LiveSpec { name: "t".into(), detach: false, end: LiveEnd::Program, labels: Default::default() });
        p
    }

    fn c(s: &str, r: Ret) -> (String, Ret) {
        (s.to_string(), r)
    }

    fn run(tag: &str, calls: Vec<(String, Ret)>) -> (i32, Vec<String>) {
        let (hold, path) = hold(tag);
        let s = Script::new(calls);
        let code = supervise(&s, &plan(), hold, PID1, None);
        s.done();
        assert!(!std::path::Path::new(&path).exists(), "the entry {path} is gone");
        let _ = std::fs::remove_dir_all(std::path::Path::new(&path).parent().unwrap().parent().unwrap());
        (code, s.logs())
    }

    #[test]
    fn no_signalfd_kills_pid1_and_removes_the_entry() {
        let (code, logs) = run(
            "sfd",
            vec![
                c("close(42)", Ret::Ok),
                c(SIGNALS, Ret::Err(libc::EMFILE)),
                c("kill(77, 9)", Ret::Ok),
                c("reap()", Ret::Reaped(PID1, ExitStatus::Signaled(9))),
            ],
        );
        assert_eq!(code, 137);
        assert!(logs[0].starts_with("cannot wait for signals"), "{logs:?}");
    }

    #[test]
    fn a_failed_poll_kills_pid1_and_removes_the_entry() {
        let (code, logs) = run(
            "poll",
            vec![
                c("close(42)", Ret::Ok),
                c(SIGNALS, Ret::Fd(SFD)),
                c("poll([43:IN 41:IN], -1)", Ret::Err(libc::EINVAL)),
                c("kill(77, 9)", Ret::Ok),
                c("reap()", Ret::NoneYet),
                c("poll([], 10)", Ret::Events(vec![])),
                c("reap()", Ret::Reaped(PID1, ExitStatus::Signaled(9))),
            ],
        );
        assert_eq!(code, 137);
        assert!(logs[0].starts_with("cannot poll"), "{logs:?}");
    }

    #[test]
    fn pid1_dying_before_it_serves_ends_the_run_with_its_status_and_no_entry() {
        let (code, _) = run(
            "early",
            vec![
                c("close(42)", Ret::Ok),
                c(SIGNALS, Ret::Fd(SFD)),
                // the channel's end of file: pid 1 is gone before `R`
                c("poll([43:IN 41:IN], -1)", Ret::Events(vec![0, libc::POLLHUP])),
                c("read(41, 1)", Ret::Bytes(vec![])),
                // a signal first asks pid 1 to end, a second insists
                c("poll([43:IN 41:IN], -1)", Ret::Events(vec![libc::POLLIN, 0])),
                c("read_signal(43)", Ret::Signal(Some(libc::SIGTERM))),
                c("kill(77, 15)", Ret::Ok),
                c("read_signal(43)", Ret::Signal(Some(libc::SIGINT))),
                c("kill(77, 9)", Ret::Ok),
                c("read_signal(43)", Ret::Signal(Some(libc::SIGCHLD))),
                c("reap()", Ret::Reaped(12, ExitStatus::Exited(0))),
                c("reap()", Ret::Reaped(PID1, ExitStatus::Exited(125))),
                c("close(40)", Ret::Ok),
            ],
        );
        assert_eq!(code, 125);
    }

    #[test]
    fn losing_every_child_is_a_setup_failure_not_a_hang() {
        let (code, _) = run(
            "echild",
            vec![
                c("close(42)", Ret::Ok),
                c(SIGNALS, Ret::Fd(SFD)),
                c("poll([43:IN 41:IN], -1)", Ret::Events(vec![libc::POLLIN, 0])),
                c("read_signal(43)", Ret::Signal(Some(libc::SIGCHLD))),
                c("reap()", Ret::Err(libc::ECHILD)),
                c("close(40)", Ret::Ok),
            ],
        );
        assert_eq!(code, 125);
    }

    /// The calls up to a ready supervisor polling its listener: pid 1's `R`, `state.json` written.
    fn until_ready() -> Vec<(String, Ret)> {
        vec![
            c("close(42)", Ret::Ok),
            c(SIGNALS, Ret::Fd(SFD)),
            c("poll([43:IN 41:IN], -1)", Ret::Events(vec![0, libc::POLLIN])),
            c("read(41, 1)", Ret::Bytes(b"R".to_vec())),
            c("getpid()", Ret::Int(5)),
        ]
    }

    /// A client knocks (the listener readable), then pid 1 ends the run.
    fn knock_then_end(mid: Vec<(String, Ret)>) -> Vec<(String, Ret)> {
        let mut calls = until_ready();
        calls.push(c("poll([43:IN 40:IN], -1)", Ret::Events(vec![0, libc::POLLIN])));
        calls.extend(mid);
        calls.extend([
            c("poll([43:IN 40:IN], -1)", Ret::Events(vec![libc::POLLIN, 0])),
            c("read_signal(43)", Ret::Signal(Some(libc::SIGCHLD))),
            c("reap()", Ret::Reaped(PID1, ExitStatus::Exited(0))),
            c("close(40)", Ret::Ok),
        ]);
        calls
    }

    fn denied(why: &str) -> String {
        let r = Reply::error(Code::ControlDenied, format!("control of sandbox t refused: {why}"));
        format!("send_msg(50, {}, [])", String::from_utf8(r.to_bytes()).unwrap())
    }

    #[test]
    fn a_failed_accept_is_skipped_and_the_sandbox_serves_on() {
        let (code, _) = run("accept", knock_then_end(vec![c("accept(40)", Ret::Err(libc::EMFILE))]));
        assert_eq!(code, 0);
    }

    #[test]
    fn a_peer_of_another_uid_is_refused_before_anything_reaches_pid1() {
        let calls = knock_then_end(vec![
            c("accept(40)", Ret::Fd(50)),
            c("peer_uid(50)", Ret::Int(4242)),
            c("own_userns()", Ret::Stamp(1, 2, 1000)),
            (denied("peer uid 4242 is not the owner 1000"), Ret::Ok),
            c("close(50)", Ret::Ok),
        ]);
        assert_eq!(run("uid", calls).0, 0);
    }

    #[test]
    fn a_peer_in_another_user_namespace_is_refused() {
        let calls = knock_then_end(vec![
            c("accept(40)", Ret::Fd(50)),
            c("peer_uid(50)", Ret::Int(1000)),
            c("own_userns()", Ret::Stamp(1, 2, 1000)),
            c("peer_userns(50)", Ret::Stamp(1, 3, 0)),
            (denied("the peer is in another user namespace (inside a sandbox)"), Ret::Ok),
            c("close(50)", Ret::Ok),
        ]);
        assert_eq!(run("userns", calls).0, 0);
    }

    #[test]
    fn unreadable_peer_credentials_are_a_refusal_not_a_pass() {
        let calls = knock_then_end(vec![
            c("accept(40)", Ret::Fd(50)),
            c("peer_uid(50)", Ret::Err(libc::ENOTCONN)),
            (denied(&format!("cannot read the peer's credentials: {}", Errno(libc::ENOTCONN))), Ret::Ok),
            c("close(50)", Ret::Ok),
        ]);
        assert_eq!(run("cred", calls).0, 0);
        // no pidfd for the peer (a kernel before 6.5, or the peer gone): refused too
        let calls = knock_then_end(vec![
            c("accept(40)", Ret::Fd(50)),
            c("peer_uid(50)", Ret::Int(1000)),
            c("own_userns()", Ret::Stamp(1, 2, 1000)),
            c("peer_userns(50)", Ret::Err(libc::ENOPROTOOPT)),
            (denied(&format!("cannot read the peer's user namespace: {}", Errno(libc::ENOPROTOOPT))), Ret::Ok),
            c("close(50)", Ret::Ok),
        ]);
        assert_eq!(run("pidfd", calls).0, 0);
    }

    #[test]
    fn a_connection_that_cannot_be_passed_to_pid1_is_told_the_sandbox_is_ending() {
        let closed = Reply::error(Code::SandboxClosed, "sandbox t is ending");
        let calls = knock_then_end(vec![
            c("accept(40)", Ret::Fd(50)),
            c("peer_uid(50)", Ret::Int(1000)),
            c("own_userns()", Ret::Stamp(1, 2, 1000)),
            c("peer_userns(50)", Ret::Stamp(1, 2, 0)),
            c("send_fd(41, 50)", Ret::Err(libc::EPIPE)),
            (format!("send_msg(50, {}, [])", String::from_utf8(closed.to_bytes()).unwrap()), Ret::Ok),
            c("close(50)", Ret::Ok),
        ]);
        assert_eq!(run("pass", calls).0, 0);
    }
}
