//! Stage: the launcher while the sandbox runs (without a pseudo-terminal;
//! relay.rs with one). Passes signals on to pid 1 and reaps it.

use crate::init::EXIT_SETUP;
use crate::plan::Plan;
use crate::sys::{Errno, ExitStatus, Sys};

/// How the launcher passes signals on. The first SIGINT, SIGTERM or SIGHUP
/// goes to pid 1, which gives it to the program; a second SIGINT or SIGTERM
/// (the program ignored the first, or the caller insists) SIGKILLs pid 1
/// and so the whole sandbox, and the launcher still cleans up and exits
/// 128 + that signal, as a shell reports it. SIGQUIT is always forwarded.
///
/// With the caller's session kept (`newSession: false`) the terminal's
/// Ctrl-C reaches the program's process group directly and the launcher's
/// too, so SIGINT is only forwarded then, never escalated.
pub struct Stop {
    pub pid: i32,
    keep_session: bool,
    asked: bool,
    /// The exit status once the launcher decided it (forced stop, failure).
    forced: Option<i32>,
    /// plan.limits.timeoutMs: when (monotonic ms) the program gets SIGTERM
    /// (then, after `grace`, when the sandbox is killed).
    pub deadline: Option<u64>,
    /// plan.limits.timeoutGraceMs, until the timeout's SIGTERM was sent.
    pub grace: Option<u64>,
    /// The timeout ended the sandbox.
    pub timed_out: bool,
}

impl Stop {
    pub fn new(pid: i32, plan: &Plan) -> Stop {
        Stop { pid, keep_session: !plan.new_session, asked: false, forced: None, deadline: None, grace: None, timed_out: false }
    }

    /// Milliseconds left before the deadline (none without one), for a
    /// wait or poll. At the deadline pid 1 gets SIGTERM, which it passes to
    /// the program (its trap may clean up), and the deadline moves `grace`
    /// on; at that one (or at once without a grace) the sandbox is killed
    /// (pid 1 takes every process of its namespace with it) and the wait
    /// goes on for it. As timeout(1) and `docker stop`.
    pub fn time_left(&mut self, sys: &dyn Sys) -> Option<u64> {
        let deadline = self.deadline?;
        let now = sys.monotonic_ms();
        if now < deadline {
            return Some(deadline - now);
        }
        self.timed_out = true;
        match self.grace.take().filter(|g| *g > 0) {
            Some(grace) => {
                let _ = sys.kill(self.pid, libc::SIGTERM);
                self.deadline = Some(now.saturating_add(grace));
                Some(grace)
            }
            None => {
                self.deadline = None;
                let _ = sys.kill(self.pid, libc::SIGKILL);
                None
            }
        }
    }

    pub fn signal(&mut self, sys: &dyn Sys, sig: i32) {
        let counted = match sig {
            libc::SIGTERM | libc::SIGHUP => true,
            libc::SIGINT => !self.keep_session,
            _ => false,
        };
        if self.asked && counted && sig != libc::SIGHUP {
            if self.forced.is_none() {
                self.forced = Some(128 + sig);
                let _ = sys.kill(self.pid, libc::SIGKILL);
            }
            return;
        }
        self.asked |= counted;
        let _ = sys.kill(self.pid, sig);
    }

    /// The launcher cannot go on relaying or waiting: end the sandbox; the
    /// caller still reaps it and cleans up, and the run exits 125.
    pub fn fail(&mut self, sys: &dyn Sys, msg: &str) {
        sys.log(msg);
        self.forced.get_or_insert(EXIT_SETUP);
        let _ = sys.kill(self.pid, libc::SIGKILL);
    }

    /// The run's exit status from pid 1's.
    pub fn status(&self, st: ExitStatus) -> i32 {
        self.forced.unwrap_or(st.code())
    }
}

/// Reap whatever exited; the run's status once pid 1 has been reaped.
pub fn reap_pid1(sys: &dyn Sys, stop: &mut Stop) -> Option<i32> {
    loop {
        match sys.reap() {
            Ok(Some((p, st))) if p == stop.pid => return Some(stop.status(st)),
            Ok(Some(_)) => continue,
            Ok(None) => return None,
            // No child left: pid 1 was reaped on another path.
            Err(Errno(libc::ECHILD)) => return Some(stop.forced.unwrap_or(EXIT_SETUP)),
            Err(e) => {
                stop.fail(sys, &format!("cannot wait for the sandbox: {e}"));
                return Some(EXIT_SETUP);
            }
        }
    }
}

/// Without a pseudo-terminal: wait for signals until pid 1 is reaped.
pub fn wait(sys: &dyn Sys, stop: &mut Stop) -> i32 {
    loop {
        match sys.wait_signal(stop.time_left(sys)) {
            Ok(Some(libc::SIGCHLD)) => {
                if let Some(code) = reap_pid1(sys, stop) {
                    return code;
                }
            }
            Ok(Some(sig)) => stop.signal(sys, sig),
            Ok(None) => {}
            Err(e) => {
                stop.fail(sys, &format!("cannot wait for signals: {e}"));
                // pid 1 is being killed; its exit is all that is left to see.
                return reap_blocking(sys, stop);
            }
        }
    }
}

/// Last resort when signals cannot be waited for: poll for pid 1's exit.
fn reap_blocking(sys: &dyn Sys, stop: &mut Stop) -> i32 {
    for _ in 0..1000 {
        if let Some(code) = reap_pid1(sys, stop) {
            return code;
        }
        let _ = sys.poll(&[], 10);
    }
    stop.forced.unwrap_or(EXIT_SETUP)
}
