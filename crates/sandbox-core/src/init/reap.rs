//! Stage: pid 1 once the program runs. Reaps every child (orphans of the
//! sandbox are re-parented to it), forwards signals to the program, and
//! after the program exits gives the rest `linger_ms` to finish; pid 1's
//! exit then kills whatever is left in the namespace. A program that ends
//! after a stop was asked (SIGTERM, SIGINT or SIGHUP passed on: the caller's
//! Ctrl-C, `kill`, a `--timeout`) ends the sandbox at once with its status:
//! the caller is stopping it, the linger is not for that.

use super::EXIT_UNEXPECTED_WAIT;
use crate::plan::Plan;
use crate::sys::{Errno, ExitStatus, Sys};

/// pid 1's loop: reap every child until none is left, forward signals to
/// the program, and after it exits give the rest `linger_ms` to finish.
pub fn reap(sys: &dyn Sys, plan: &Plan, program: i32) -> ! {
    let mut status: Option<ExitStatus> = None;
    let mut deadline: Option<u64> = None;
    let mut stopping = false;
    loop {
        loop {
            match sys.reap() {
                Ok(Some((pid, st))) => {
                    if pid == program {
                        if stopping {
                            // pid 1 exiting kills everything left in the namespace.
                            sys.exit(st.code());
                        }
                        status = Some(st);
                        deadline = Some(sys.monotonic_ms() + plan.linger_ms as u64);
                    }
                }
                Ok(None) => break,
                Err(Errno(libc::ECHILD)) => sys.exit(status.map_or(EXIT_UNEXPECTED_WAIT, ExitStatus::code)),
                Err(e) => {
                    sys.log(&format!("unexpected wait4 response: {e}"));
                    sys.exit(EXIT_UNEXPECTED_WAIT)
                }
            }
        }
        let timeout = match (status, deadline) {
            (Some(st), Some(d)) => {
                let now = sys.monotonic_ms();
                if now >= d {
                    // pid 1 exiting kills everything left in the namespace.
                    sys.log("timeout exceeded waiting for lingering processes; killing them");
                    sys.exit(st.code());
                }
                Some(d - now)
            }
            _ => None,
        };
        match sys.wait_signal(timeout) {
            Ok(Some(libc::SIGCHLD)) | Ok(None) => {}
            Ok(Some(sig)) => match status {
                None => {
                    stopping |= matches!(sig, libc::SIGTERM | libc::SIGINT | libc::SIGHUP);
                    let _ = sys.kill(program, sig);
                }
                // The program is gone: a signal now ends the sandbox.
                Some(st) => sys.exit(st.code()),
            },
            Err(e) => {
                sys.log(&format!("cannot wait for signals: {e}"));
                sys.exit(status.map_or(EXIT_UNEXPECTED_WAIT, ExitStatus::code))
            }
        }
    }
}
