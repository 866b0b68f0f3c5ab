//! Stage: the program. With plan.tty, its pseudo-terminal from the new
//! root's devpts; then its working directory, environment and fds, the fork
//! and exec (sys/exec.rs), and the `started` report that closes the socket.

use super::{Failed, InitContext, EXIT_SETUP};
use crate::error::{Code, Ctx, SetupError};
use crate::report::Report;
use crate::sys::{Exec, ExecFailure, Fd, Sys};

/// What to do when the sandbox has no devpts of its own for plan.tty.
pub const TTY_HINT: &str = "a pseudo-terminal comes from the sandbox's own devpts: add `--dev /dev` (the presets have it), or run without one with `--no-tty`";

/// plan.tty: a new pseudo-terminal from the new root's /dev/ptmx (the dev
/// op's private devpts, so TIOCSTI and line-discipline tricks reach only
/// it). The master goes to the launcher over `sock` (SCM_RIGHTS); the slave
/// is returned for the program.
pub fn open_tty(sys: &dyn Sys, sock: Fd) -> Result<Fd, SetupError> {
    let (master, slave) =
        sys.open_pty("/dev/ptmx").map_err(|e| SetupError::sys(Code::Setup, "open a pseudo-terminal on the sandbox's /dev/ptmx", e).with_hint(TTY_HINT))?;
    // Sized as the caller's terminal (our stdin) before the program can ask;
    // the launcher passes later changes on.
    if let Ok(size) = sys.winsize(0) {
        let _ = sys.set_winsize(master, size);
    }
    sys.send_fd(sock, master).ctx(Code::Setup, "pass the pseudo-terminal to the launcher")?;
    let _ = sys.close(master);
    let _ = sys.close(sock);
    Ok(slave)
}

/// Start the program and tell the caller; its pid.
pub fn start(sys: &dyn Sys, cx: &InitContext, umask: u32, tty: Option<Fd>, env: Option<Vec<String>>) -> Result<i32, Failed> {
    let plan = cx.plan;
    let (cwd, cwd_required) = match (&plan.cwd, &cx.caller_cwd) {
        (Some(c), _) => (c.clone(), true),
        (None, Some(c)) => (c.clone(), false),
        (None, None) => ("/".to_string(), false),
    };
    let exec = Exec {
        argv: plan.argv.clone(),
        env: env.unwrap_or_else(|| cx.env.clone()),
        cwd,
        cwd_required,
        new_session: plan.new_session,
        umask,
        argv0: plan.argv0.clone(),
        fds: plan.fds.iter().map(|f| (f.fd, f.target.unwrap_or(f.fd))).collect(),
        tty,
        cpus: Vec::new(),
        in_place: plan.as_pid1,
        filters: cx.program_seccomp.iter().map(|f| f.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect()).collect(),
    };
    if exec.in_place {
        // The program replaces pid 1: tell the caller first (the socket is
        // close-on-exec); a failed exec reports after it.
        if let Some(fd) = cx.report_fd {
            let _ = Report::Started.send(sys, fd);
        }
    }
    let program = sys.spawn(&exec).map_err(|(_, failure)| spawn_failed(&exec, failure))?;
    // The program holds the slave now; when it and its children close it,
    // the launcher's reads of the master end.
    if let Some(slave) = tty {
        let _ = sys.close(slave);
    }
    if let Some(fd) = cx.report_fd {
        let _ = Report::Started.send(sys, fd);
        let _ = sys.close(fd);
    }
    Ok(program)
}

/// A program that could not start: 127 not found (or no such working
/// directory), 126 not executable, as a shell says; 125 for our own part.
fn spawn_failed(exec: &Exec, failure: ExecFailure) -> Failed {
    let (code, status, msg) = match failure {
        ExecFailure::Exec(e) => (Code::Exec, if e.0 == libc::ENOENT { 127 } else { 126 }, format!("cannot execute {}: {e}", exec.argv[0])),
        ExecFailure::Chdir(e) => (Code::Exec, 127, format!("cannot enter working directory {}: {e}", exec.cwd)),
        ExecFailure::Setup(e) => (Code::Setup, EXIT_SETUP, format!("cannot prepare the program: {e}")),
        ExecFailure::Fork(e) => (Code::Setup, EXIT_SETUP, format!("cannot fork the program: {e}")),
    };
    Failed { err: SetupError::new(code, msg), status }
}
