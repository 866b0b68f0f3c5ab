//! Stage: the launcher, a freshly executed single-threaded process in the
//! host's namespaces. It checks the plan (nothing is created for a bad one),
//! compiles seccomp, clones pid 1 into new namespaces, forwards signals to
//! it and exits with its status.

use crate::audit::{self, Audit, AuditFs, LinuxAuditFs};
use crate::error::{Code, Error, SetupError};
use crate::init::{self, InitContext, EXIT_SETUP};
use crate::ops::placeholder;
use crate::plan::{Network, Op, Plan};
use crate::sys::{Errno, Fd, Prctl, Sys};

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
    /// Private directory for placeholder lock files (used only when the plan
    /// has placeholder ops).
    pub runtime_dir: String,
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
        hint.push("AppArmor restricts unprivileged user namespaces: sysctl kernel.apparmor_restrict_unprivileged_userns=0 (or an AppArmor profile allowing userns)");
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
    // Post-run audit: the snapshot of what host tools execute, taken while
    // nothing of the sandbox exists yet (audit/mod.rs).
    let mut audit = audit_before(&LinuxAuditFs, sys, cx.report_fd, plan);
    // Stand-ins for protected paths that do not exist yet: created on the
    // host before the sandbox, removed after it (ops/placeholder.rs).
    let mut held = Vec::new();
    if plan.ops.iter().any(|o| matches!(o, Op::Placeholder(_))) {
        if let Err(e) = sys.private_dir(&cx.runtime_dir) {
            fatal(sys, cx.report_fd, SetupError::sys(Code::Setup, format_args!("use {} for placeholder locks", cx.runtime_dir), e));
        }
        for (i, op) in plan.ops.iter().enumerate() {
            if let Op::Placeholder(p) = op {
                match placeholder::acquire(sys, &cx.runtime_dir, p) {
                    Ok(h) => held.push(h),
                    Err(e) => {
                        held.into_iter().for_each(|h| placeholder::release(sys, h));
                        fatal(sys, cx.report_fd, e.at_op(i))
                    }
                }
            }
        }
    }
    let pid = match sys.clone_sandbox(clone_flags(plan)) {
        Ok(0) => {
            let icx = InitContext {
                plan,
                host_uid,
                host_gid,
                caller_cwd: cx.caller_cwd.clone(),
                report_fd: cx.report_fd,
                seccomp: cx.seccomp,
                env: program_env(plan, &cx.env),
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
    if let Some(fd) = cx.report_fd {
        let _ = sys.write_fd(fd, format!("{{\"event\":\"spawned\",\"pid\":{pid}}}\n").as_bytes());
    }
    // bubblewrap's --json-status-fd lines.
    if let Some(fd) = plan.status_fd {
        let _ = sys.write_fd(fd, format!("{{ \"child-pid\": {pid} }}\n").as_bytes());
    }
    let mut held = Some(held);
    let mut exit = |code: i32| -> ! {
        // pid 1 is gone: its copies of the lock fds with it.
        held.take().into_iter().flatten().for_each(|h| placeholder::release(sys, h));
        if let Some(fd) = plan.status_fd {
            let _ = sys.write_fd(fd, format!("{{ \"exit-code\": {code} }}\n").as_bytes());
        }
        let code = audit_after(&LinuxAuditFs, sys, cx.report_fd, audit.take(), code);
        sys.exit(code)
    };
    loop {
        match sys.wait_signal(None) {
            Ok(Some(libc::SIGCHLD)) => loop {
                match sys.reap() {
                    Ok(Some((p, st))) if p == pid => exit(st.code()),
                    Ok(Some(_)) => continue,
                    Ok(None) => break,
                    Err(e) => {
                        sys.log(&format!("cannot wait for the sandbox: {e}"));
                        sys.exit(EXIT_SETUP)
                    }
                }
            },
            Ok(Some(sig)) => {
                let _ = sys.kill(pid, sig);
            }
            Ok(None) => {}
            Err(e) => {
                sys.log(&format!("cannot wait for signals: {e}"));
                let _ = sys.kill(pid, libc::SIGKILL);
                sys.exit(EXIT_SETUP)
            }
        }
    }
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
