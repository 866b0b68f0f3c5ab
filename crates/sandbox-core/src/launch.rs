//! Stage: the launcher, a freshly executed single-threaded process in the
//! host's namespaces. It checks the plan (nothing is created for a bad one),
//! compiles seccomp, clones pid 1 into new namespaces, forwards signals to
//! it (relaying its pseudo-terminal with plan.tty, relay.rs), cleans up after
//! it in one place ([`Cleanup::finish`]) and exits with its status.

use crate::audit::{self, Audit, AuditFs, LinuxAuditFs};
use crate::error::{Code, Error, SetupError};
use crate::init::{self, InitContext, EXIT_SETUP};
use crate::ops::placeholder;
use crate::plan::{Network, Op, PlaceholderType, Plan};
use crate::relay;
use crate::sys::{Errno, ExitStatus, Fd, Prctl, Sys};

/// What the launcher is given by `main`.
pub struct LaunchContext<'a> {
    pub plan: &'a Plan,
    pub report_fd: Option<Fd>,
    /// Compiled seccomp filters, loaded in order.
    pub seccomp: &'a [Vec<libc::sock_filter>],
    /// The launcher's environment, `KEY=VALUE`.
    pub env: Vec<String>,
    pub caller_cwd: Option<String>,
    /// The launcher's parent when it started (die-with-parent race check).
    pub parent: i32,
    /// `$XDG_RUNTIME_DIR` as the launcher got it: placeholder locks go there
    /// when it is a private directory of the caller's (ops/placeholder.rs).
    pub runtime_dir: Option<String>,
}

/// clone(2) flags for the plan's namespaces.
pub fn clone_flags(plan: &Plan) -> u64 {
    let mut f = libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWPID;
    if plan.namespaces.ipc {
        f |= libc::CLONE_NEWIPC;
    }
    if plan.namespaces.uts {
        f |= libc::CLONE_NEWUTS;
    }
    if plan.namespaces.cgroup {
        f |= libc::CLONE_NEWCGROUP;
    }
    if plan.network == Network::None {
        f |= libc::CLONE_NEWNET;
    }
    f as u64
}

/// The program's environment from the launcher's and the plan's policy.
pub fn program_env(plan: &Plan, launcher_env: &[String]) -> Vec<String> {
    let mut env: Vec<String> = if plan.env.inherit { launcher_env.to_vec() } else { Vec::new() };
    let name = |e: &String| e.split('=').next().unwrap_or("").to_string();
    env.retain(|e| !plan.env.unset.contains(&name(e)) && !plan.env.set.contains_key(&name(e)));
    env.extend(plan.env.set.iter().map(|(k, v)| format!("{k}={v}")));
    env
}

/// Why the kernel refused a user namespace, with the knob to check.
pub fn userns_error(sys: &dyn Sys, e: Errno) -> SetupError {
    let read = |p: &str| sys.read_file(p).ok().map(|b| String::from_utf8_lossy(&b).trim().to_string());
    let mut hint = Vec::new();
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        hint.push(
            "AppArmor restricts unprivileged user namespaces: sysctl kernel.apparmor_restrict_unprivileged_userns=0 (or an AppArmor profile allowing userns)",
        );
    }
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        hint.push("unprivileged user namespaces are disabled: sysctl kernel.unprivileged_userns_clone=1");
    }
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        hint.push("user namespaces are disabled: sysctl user.max_user_namespaces=15000");
    }
    if hint.is_empty() {
        hint.push("check sysctls kernel.apparmor_restrict_unprivileged_userns, kernel.unprivileged_userns_clone and user.max_user_namespaces, and whether a container runtime's seccomp policy blocks clone(CLONE_NEWUSER)");
    }
    let mut err = SetupError::new(Code::UsernsUnavailable, format!("cannot create a user namespace: {e}"));
    err.hint = Some(hint.join("; "));
    err
}

/// Clone pid 1 and wait for it. Never returns.
pub fn run_launcher(sys: &dyn Sys, host_uid: u32, host_gid: u32, cx: &LaunchContext) -> ! {
    let plan = cx.plan;
    if plan.die_with_parent {
        if let Err(e) = sys.prctl(Prctl::SetPdeathsig(libc::SIGKILL)) {
            fatal(sys, cx.report_fd, SetupError::sys(Code::Setup, "set the parent-death signal", e));
        }
        // The parent may have died before the prctl took effect.
        if sys.getppid() != cx.parent {
            sys.exit(EXIT_SETUP);
        }
    }
    if plan.tty {
        if let Err(e) = relay::check(sys, plan) {
            fatal(sys, cx.report_fd, e);
        }
    }
    // Post-run audit: the snapshot of what host tools execute, taken while
    // nothing of the sandbox exists yet (audit/mod.rs).
    let audit = audit_before(&LinuxAuditFs, sys, cx.report_fd, plan);
    // Stand-ins for protected paths that do not exist yet: created on the
    // host before the sandbox, removed after it (ops/placeholder.rs).
    let mut held = Vec::new();
    if plan.ops.iter().any(|o| matches!(o, Op::Placeholder(p) if p.kind == PlaceholderType::Dir)) {
        let dir = placeholder::lock_dir(sys, cx.runtime_dir.as_deref(), host_uid).unwrap_or_else(|e| fatal(sys, cx.report_fd, e));
        for (i, op) in plan.ops.iter().enumerate() {
            if let Op::Placeholder(p) = op {
                match placeholder::acquire(sys, &dir, p) {
                    Ok(h) => held.extend(h),
                    Err(e) => {
                        held.into_iter().for_each(|h| placeholder::release(sys, h));
                        fatal(sys, cx.report_fd, e.at_op(i))
                    }
                }
            }
        }
    }
    // plan.tty: pid 1 sends the pty master back on this socket pair.
    let tty = match plan.tty.then(|| sys.socketpair()) {
        None => None,
        Some(Ok(pair)) => Some(pair),
        Some(Err(e)) => {
            held.into_iter().for_each(|h| placeholder::release(sys, h));
            fatal(sys, cx.report_fd, SetupError::sys(Code::Setup, "create the pseudo-terminal socket", e))
        }
    };
    let pid = match sys.clone_sandbox(clone_flags(plan)) {
        Ok(0) => {
            if let Some((mine, _)) = tty {
                let _ = sys.close(mine);
            }
            let icx = InitContext {
                plan,
                host_uid,
                host_gid,
                caller_cwd: cx.caller_cwd.clone(),
                report_fd: cx.report_fd,
                seccomp: cx.seccomp,
                env: program_env(plan, &cx.env),
                tty_sock: tty.map(|(_, theirs)| theirs),
            };
            init::run_init(sys, &icx)
        }
        Ok(pid) => pid,
        Err(e) => {
            held.into_iter().for_each(|h| placeholder::release(sys, h));
            if matches!(e.0, libc::EPERM | libc::EACCES | libc::ENOSPC | libc::EUSERS | libc::EINVAL) {
                fatal(sys, cx.report_fd, userns_error(sys, e))
            }
            fatal(sys, cx.report_fd, SetupError::sys(Code::Setup, "create the sandbox process", e))
        }
    };
    if let Some((_, theirs)) = tty {
        let _ = sys.close(theirs);
    }
    if let Some(fd) = cx.report_fd {
        let _ = sys.write_fd(fd, format!("{{\"event\":\"spawned\",\"pid\":{pid}}}\n").as_bytes());
    }
    // bubblewrap's --json-status-fd lines.
    if let Some(fd) = plan.status_fd {
        let _ = sys.write_fd(fd, format!("{{ \"child-pid\": {pid} }}\n").as_bytes());
    }
    let mut stop = Stop::new(pid, plan);
    let code = match tty {
        Some((mine, _)) => relay::relay(sys, mine, &mut stop),
        None => wait(sys, &mut stop),
    };
    Cleanup { held, audit }.finish(sys, cx, code)
}

/// What the launcher undoes once pid 1 has been reaped, on every path after
/// clone (program exit, forced stop, wait errors): pid 1 and with it every
/// process of the sandbox is gone by then. One place, so later steps (the
/// post-run audit and its snapshot) join here as fields and steps.
pub struct Cleanup {
    /// Stand-ins to remove.
    pub held: Vec<placeholder::Held>,
    /// The post-run audit's snapshot, checked after the stand-ins are gone.
    pub audit: Option<Audit>,
}

impl Cleanup {
    /// Clean up, write the status line and exit with `code`.
    pub fn finish(self, sys: &dyn Sys, cx: &LaunchContext, code: i32) -> ! {
        // pid 1 is gone: its copies of the lock fds with it.
        self.held.into_iter().for_each(|h| placeholder::release(sys, h));
        if let Some(fd) = cx.plan.status_fd {
            let _ = sys.write_fd(fd, format!("{{ \"exit-code\": {code} }}\n").as_bytes());
        }
        let code = audit_after(&LinuxAuditFs, sys, cx.report_fd, self.audit, code);
        sys.exit(code)
    }
}

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
}

impl Stop {
    pub fn new(pid: i32, plan: &Plan) -> Stop {
        Stop { pid, keep_session: !plan.new_session, asked: false, forced: None }
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
        match sys.wait_signal(None) {
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

/// The audit's snapshot when the plan asks for one; a root that cannot be
/// read is fatal (no audited run without its snapshot).
pub fn audit_before(fs: &dyn AuditFs, sys: &dyn Sys, report_fd: Option<Fd>, plan: &Plan) -> Option<Audit> {
    let spec = plan.audit.as_ref()?;
    match Audit::snapshot(fs, spec, audit::Limits::default()) {
        Ok(a) => Some(a),
        Err((root, e)) => fatal(sys, report_fd, SetupError::sys(Code::Setup, format_args!("audit {root}"), e)),
    }
}

/// After pid 1 is reaped: check, act, report the `audit` line, and turn a
/// tainted run (`fail` with findings, a revert that did not hold) into
/// E_TAINTED. Returns the launcher's exit status.
pub fn audit_after(fs: &dyn AuditFs, sys: &dyn Sys, report_fd: Option<Fd>, audit: Option<Audit>, status: i32) -> i32 {
    let Some(a) = audit else { return status };
    let report = a.check(fs, status);
    match report_fd {
        Some(fd) => {
            let mut line = serde_json::to_string(&report).unwrap_or_default();
            line.push('\n');
            let _ = sys.write_fd(fd, line.as_bytes());
        }
        None => audit::describe(&report).iter().for_each(|l| sys.log(l)),
    }
    if !audit::tainted(&report) {
        return status;
    }
    let failed = report.findings.iter().filter(|f| f.outcome == audit::TaintOutcome::Failed).count();
    let first = report.findings.first().map(|f| f.path.as_str()).unwrap_or_default();
    let message = if failed > 0 {
        format!("the post-run audit could not undo {failed} of {} findings (first: {first})", report.findings.len())
    } else {
        format!("the run left {} findings host tools would act on (first: {first}); left in place as --on-taint=fail asks", report.findings.len())
    };
    init::report(sys, report_fd, &Error::from(SetupError::new(Code::Tainted, message)));
    EXIT_SETUP
}

fn fatal(sys: &dyn Sys, report_fd: Option<Fd>, err: SetupError) -> ! {
    init::report(sys, report_fd, &Error::from(err));
    sys.exit(EXIT_SETUP)
}
