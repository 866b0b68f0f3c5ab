//! Stage: pid 1 of the sandbox, right after clone created its namespaces.
//! Follows hakurei's container init step by step (see docs/internals.md),
//! as named stages joined with `?` (`start`): pid 1's own settings, the
//! id maps (`ids`), the root (`root`: rslave, early, intermediate root,
//! pivot, apply, host detach, second pivot), the privilege drop
//! (`privileges`: caps, no_new_privs, Landlock, seccomp), the program
//! (`program`), then the reaper ([`reap`]).
//!
//! Invariant: every step goes through `Sys`; every failure before the
//! program starts comes back here as a `SetupError` and [`run_init`], the
//! one fatal point, reports it with its stable code and exits 125 (126/127
//! when the program cannot be executed).

mod ids;
mod net;
mod privileges;
mod program;
mod reap;
mod root;
#[cfg(test)]
mod tests;
mod zygote;

pub use program::TTY_HINT;
pub use reap::reap;
pub use root::INTERMEDIATE;

use crate::error::{Code, Ctx, Error, SetupError};
use crate::plan::Plan;
use crate::sys::{Fd, Prctl, Sys};

/// Exit status when setup fails (the tool's own failure, as env/timeout).
pub const EXIT_SETUP: i32 = 125;
/// Exit status when wait4 answers something unexpected (as hakurei).
pub const EXIT_UNEXPECTED_WAIT: i32 = 2;

/// What pid 1 needs besides the plan.
pub struct InitContext<'a> {
    pub plan: &'a Plan,
    /// The caller's ids outside, mapped to the plan's ids inside.
    pub host_uid: u32,
    pub host_gid: u32,
    /// The caller's working directory, tried when the plan names none.
    pub caller_cwd: Option<String>,
    /// Report socket (docs/internals.md); stderr when absent.
    pub report_fd: Option<Fd>,
    /// Compiled seccomp filters, loaded in order.
    pub seccomp: &'a [Vec<libc::sock_filter>],
    /// A pool's zygote: the part of the filters it loads once for every
    /// sandbox it forks (seccomp::compile_zygote; `seccomp` is then each
    /// sandbox's own part). Empty otherwise.
    pub zygote_seccomp: &'a [Vec<libc::sock_filter>],
    /// A sandbox the pool's zygote forked: the zygote dropped the bounding
    /// set already (privileges::preload).
    pub bounded: bool,
    /// Seccomp programs loaded in the program's process before its exec
    /// (after `seccomp`, which pid 1 loads).
    pub program_seccomp: &'a [Vec<libc::sock_filter>],
    /// The program's final environment (`KEY=VALUE`).
    pub env: Vec<String>,
    /// plan.tty: pid 1's end of the socket the pty master goes back on.
    pub tty_sock: Option<Fd>,
    /// plan.root is a SquashFS image: the detached FUSE mount the launcher
    /// made and serves, which pid 1 attaches (image/fuse.rs).
    pub image_mount: Option<Fd>,
    /// plan.live: pid 1's end of the channel the supervisor hands accepted
    /// control connections on (live/pid1.rs serves them).
    pub live_chan: Option<Fd>,
    /// plan.env.steps with the launcher's half done (crate::env), applied
    /// to `env` once the root is built.
    pub env_steps: Vec<crate::env::Ready>,
    /// plan.network is an allow policy: pid 1's end of the socket the
    /// proxy's listening sockets go out on (init/net.rs).
    pub net_sock: Option<Fd>,
    /// plan.report with a seccomp filter that denies with errnos: the
    /// first filter's notify variant and pid 1's end of the socket its
    /// listener goes out on (seccomp/notify.rs, launch/notify.rs).
    pub seccomp_notify: Option<(&'a [libc::sock_filter], Fd)>,
}

/// Why init stops before the program runs: the error to report and the
/// exit status (125, or 126/127 for a program that cannot be executed).
#[derive(Debug)]
pub struct Failed {
    pub err: SetupError,
    pub status: i32,
}

impl From<SetupError> for Failed {
    fn from(err: SetupError) -> Failed {
        Failed { err, status: EXIT_SETUP }
    }
}

/// Run the init. Never returns: exits with the program's status. The one
/// place a setup failure becomes its report line and exit status.
pub fn run_init(sys: &dyn Sys, cx: &InitContext) -> ! {
    // A warm pool's zygote: the same stages, the root and the drop in each
    // sandbox it forks (zygote.rs).
    if cx.plan.is_zygote() {
        let shared = |(ids, old_umask)| -> Result<_, Failed> {
            let shared = root::build_shared(sys, cx.plan, ids)?;
            privileges::preload(sys, cx.plan, cx.zygote_seccomp, privileges::last_cap(sys)?)?;
            Ok((ids, old_umask, shared))
        };
        match before_root(sys, cx).and_then(shared) {
            Ok((ids, old_umask, shared)) => zygote::serve(sys, cx, ids, old_umask, shared),
            Err(Failed { err, status }) => {
                crate::report::error(sys, cx.report_fd, &Error::from(err));
                sys.exit(status)
            }
        }
    }
    match start(sys, cx) {
        Ok((program, env)) => {
            sys.release_memory();
            match (cx.live_chan, program) {
                (Some(chan), program) => {
                    let (cwd, _) = crate::live::pid1::default_cwd(cx.plan, cx.caller_cwd.as_deref());
                    // Programs `exec` starts get the environment the first one got
                    // (ch-run's steps included), not the launcher's half.
                    let defaults = crate::live::pid1::Defaults { env, cwd, umask: program_umask(sys), steps: cx.env_steps.clone() };
                    crate::live::pid1::serve(sys, cx.plan, chan, program, defaults)
                }
                (None, Some(program)) => reap(sys, cx.plan, program),
                // Only a live plan may have no program (validate.rs).
                (None, None) => sys.exit(EXIT_SETUP),
            }
        }
        Err(Failed { err, status }) => {
            crate::report::error(sys, cx.report_fd, &Error::from(err));
            sys.exit(status)
        }
    }
}

/// clone(2) flags for the plan's namespaces.
pub fn clone_flags(plan: &Plan) -> u64 {
    let mut f = libc::CLONE_NEWNS;
    let join = plan.join_ns.clone().unwrap_or_default();
    if join.user.is_none() {
        f |= libc::CLONE_NEWUSER;
    }
    if join.pid.is_none() {
        f |= libc::CLONE_NEWPID;
    }
    if plan.namespaces.ipc {
        f |= libc::CLONE_NEWIPC;
    }
    if plan.namespaces.uts {
        f |= libc::CLONE_NEWUTS;
    }
    if plan.namespaces.cgroup {
        f |= libc::CLONE_NEWCGROUP;
    }
    if plan.network.own_namespace() {
        f |= libc::CLONE_NEWNET;
    }
    f as u64
}

/// The umask programs get: the caller's, which pid 1 restored after setup.
fn program_umask(sys: &dyn Sys) -> u32 {
    let m = sys.umask(0o022);
    sys.umask(m);
    m
}

/// Every stage up to the running program, in order; its pid (none for a
/// live sandbox started without one) and the program environment.
fn start(sys: &dyn Sys, cx: &InitContext) -> Result<(Option<i32>, Vec<String>), Failed> {
    let (ids, old_umask) = before_root(sys, cx)?;
    sandbox(sys, cx, ids, old_umask, None)
}

/// The stages before the root: pid 1's settings, the id maps; the caller's
/// umask (ours is 0 from here on, so modes the ops create are exact).
fn before_root(sys: &dyn Sys, cx: &InitContext) -> Result<(ids::Ids, u32), Failed> {
    let plan = cx.plan;
    pid1(sys, plan, true)?;
    if let (true, Some(fd)) = (plan.report_namespaces, cx.report_fd) {
        let _ = crate::report::Report::Namespaces { ids: namespace_ids(sys) }.send(sys, fd);
    }
    if let Some(fd) = plan.userns_block_fd {
        wait_for(sys, fd)?;
    }
    net::listen(sys, cx)?;
    let ids = ids::map(sys, cx)?;
    // Modes the ops create are exact; the program gets the caller's umask back.
    Ok((ids, sys.umask(0)))
}

/// The stages from the hostname to the running program (none for a live
/// sandbox started without one): the root, the privilege drop.
/// `shared`: the `dev` op a pool's zygote built ([`root::build_shared`]).
fn sandbox(sys: &dyn Sys, cx: &InitContext, ids: ids::Ids, old_umask: u32, shared: Option<usize>) -> Result<(Option<i32>, Vec<String>), Failed> {
    let plan = cx.plan;
    ids::hostname(sys, plan)?;
    // Read before the pivots, while the host's /proc is at hand.
    let last_cap = privileges::last_cap(sys)?;
    root::build(sys, plan, ids, cx.image_mount, shared)?;
    // plan.joinNs.user2 (bubblewrap's --userns2): after the root, before
    // the privileges are dropped (in the new namespace's terms).
    if let Some(fd) = plan.join_ns.as_ref().and_then(|j| j.user2) {
        sys.setns(fd, libc::CLONE_NEWUSER).map_err(|e| join_error("user2", fd, e))?;
        sys.prctl(Prctl::SetDumpable(false)).ctx(Code::Setup, "clear dumpable")?;
        let _ = sys.close(fd);
    }
    // The new root is complete: its /dev/ptmx is the sandbox's own devpts.
    let tty = cx.tty_sock.map(|sock| program::open_tty(sys, sock)).transpose()?;
    // ch-run's environment rules, now that the image's files are at hand.
    let env = if cx.env_steps.is_empty() { None } else { Some(crate::env::finish(sys, &cx.env_steps, cx.env.clone())?) };
    // plan.limits.rlimits, inherited by the program through fork and exec.
    for r in plan.limits.iter().flat_map(|l| &l.rlimits) {
        let (soft, hard) = (r.soft.unwrap_or(libc::RLIM_INFINITY), r.hard.unwrap_or(libc::RLIM_INFINITY));
        sys.setrlimit(r.name.resource(), soft, hard).map_err(|e| {
            SetupError::sys(
                Code::PlanInvalid,
                format_args!("cannot set rlimit {} to {soft}:{hard}", serde_json::to_string(&r.name).unwrap_or_default().trim_matches('"')),
                e,
            )
            .with_hint("a hard limit can only be lowered: see `ulimit -H -a` for the caller's")
        })?;
    }
    privileges::drop(sys, plan, cx.seccomp, cx.seccomp_notify, last_cap, cx.bounded)?;
    sys.umask(old_umask);
    if let Some(fd) = plan.block_fd {
        wait_for(sys, fd)?;
    }
    let program_env = env.clone().unwrap_or_else(|| cx.env.clone());
    if plan.argv.is_empty() {
        // A live sandbox without a program: it serves from now on.
        if let Some(fd) = cx.report_fd {
            let _ = sys.close(fd);
        }
        return Ok((None, program_env));
    }
    program::start(sys, cx, old_umask, tty, env).map(|pid| (Some(pid), program_env))
}

/// This process's namespaces by name and inode (`/proc/self/ns/*` links
/// read `mnt:[4026531841]`).
fn namespace_ids(sys: &dyn Sys) -> std::collections::BTreeMap<String, u64> {
    ["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"]
        .iter()
        .filter_map(|n| {
            let link = sys.readlinkat(libc::AT_FDCWD, &format!("/proc/self/ns/{n}")).ok()?;
            let id = link.split_once(":[")?.1.trim_end_matches(']').parse().ok()?;
            Some((n.to_string(), id))
        })
        .collect()
}

/// plan.blockFd, plan.usernsBlockFd: one byte or the end of file from the
/// caller, then the fd is closed (it never reaches the program).
fn wait_for(sys: &dyn Sys, fd: Fd) -> Result<(), SetupError> {
    loop {
        match sys.read(fd, 1) {
            Err(crate::sys::Errno(libc::EINTR)) => continue,
            r => {
                r.map_err(|e| SetupError::sys(Code::Setup, format_args!("wait on fd {fd}"), e))?;
                break;
            }
        }
    }
    let _ = sys.close(fd);
    Ok(())
}

/// The message for a namespace fd (plan.joinNs) that cannot be entered;
/// `which` is its field: `user`, `pid` or `user2`. Callers that speak
/// another tool's words (sandboxctl-bwrap) match on [`JOIN_PREFIX`].
pub fn join_error(which: &str, fd: Fd, e: crate::sys::Errno) -> SetupError {
    SetupError::new(Code::NsJoin, format!("{JOIN_PREFIX}{which} namespace fd {fd}: {e}"))
}
pub const JOIN_PREFIX: &str = "cannot enter the joinNs.";

/// This process as the sandbox's pid 1: nobody attaches to it, its argv
/// names nothing of the host (`hide`: false in a sandbox the pool's zygote
/// forked, whose memory is the zygote's, already rewritten), it dies with
/// the launcher, and a new network namespace gets its loopback.
fn pid1(sys: &dyn Sys, plan: &Plan, hide: bool) -> Result<(), SetupError> {
    // In a pid namespace it joined (plan.joinNs.pid), that namespace's own
    // pid 1 is someone else.
    let joined_pid = plan.join_ns.as_ref().is_some_and(|j| j.pid.is_some());
    if !joined_pid && sys.getpid() != 1 {
        return Err(SetupError::new(Code::Setup, "this process must run as pid 1"));
    }
    // Yama: nobody may attach to us by exception. Not fatal: Yama may be absent.
    let _ = sys.prctl(Prctl::SetPtracerNone);
    // The launcher's argv (its host path) is not for the sandbox's eyes.
    if hide {
        sys.hide_cmdline().ctx(Code::Setup, "hide the launcher's command line")?;
    }
    // A live sandbox's pid 1 always dies with its supervisor.
    if plan.die_with_parent || plan.live.is_some() {
        sys.prctl(Prctl::SetPdeathsig(libc::SIGKILL)).ctx(Code::Setup, "set the parent-death signal")?;
    }
    if plan.network.own_namespace() {
        sys.loopback_up().ctx(Code::Setup, "bring up the loopback interface")?;
    }
    Ok(())
}
