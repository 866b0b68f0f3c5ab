//! Stage: the launcher, a freshly executed single-threaded process in the
//! host's namespaces. It checks the plan (nothing is created for a bad one),
//! compiles seccomp, clones pid 1 into new namespaces, forwards signals to
//! it and exits with its status.

use crate::error::{Code, Error, SetupError};
use crate::init::{self, InitContext, EXIT_SETUP};
use crate::ops::placeholder;
use crate::plan::{Network, Op, PlaceholderType, Plan};
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

fn fatal(sys: &dyn Sys, report_fd: Option<Fd>, err: SetupError) -> ! {
    init::report(sys, report_fd, &Error::from(err));
    sys.exit(EXIT_SETUP)
}
