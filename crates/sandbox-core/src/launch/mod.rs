//! Stage: the launcher, a freshly executed single-threaded process in the
//! host's namespaces. [`entry`] reads and checks the plan (nothing is created
//! for a bad one), compiles seccomp and builds the [`LaunchContext`] from
//! this process. [`run_launcher`] then runs named stages joined with `?`
//! (`start`): follow the parent, check the terminal, snapshot for the
//! audit, make the stand-ins (`cleanup`), clone pid 1 into new namespaces.
//! One place turns a failure into its report line and exit 125. After clone
//! it forwards signals to pid 1 (`stop`; `relay` relays its
//! pseudo-terminal with plan.tty), cleans up after it in one place
//! ([`Cleanup::finish`]) and exits with its status.

mod cleanup;
pub mod entry;
pub mod image;
pub mod join;
mod notify;
pub(crate) mod relay;
mod stop;

pub use cleanup::{audit_after, audit_before, Cleanup};
pub use stop::{reap_pid1, wait, Stop};

use crate::audit::LinuxAuditFs;
use crate::error::{Code, Ctx, Error, SetupError};
use crate::init::{self, InitContext, EXIT_SETUP};
use crate::plan::Plan;
use crate::report::Report;
use crate::sys::{Errno, Fd, Prctl, Sys};

/// What the launcher is given: the checked plan and this process's context
/// ([`entry::launch`] builds it from the real process).
pub struct LaunchContext<'a> {
    pub plan: &'a Plan,
    pub report_fd: Option<Fd>,
    /// Compiled seccomp filters, loaded in order.
    pub seccomp: &'a [Vec<libc::sock_filter>],
    /// A pool's zygote: the part it loads once (InitContext::zygote_seccomp).
    pub zygote_seccomp: &'a [Vec<libc::sock_filter>],
    /// Seccomp programs for the program's process only (bubblewrap's `--seccomp`).
    pub program_seccomp: &'a [Vec<libc::sock_filter>],
    /// plan.report: the first filter's notify variant, loaded in its place
    /// (seccomp/notify.rs; `notify.rs` serves its listener).
    pub seccomp_notify: Option<&'a [libc::sock_filter]>,
    /// The launcher's environment, `KEY=VALUE`.
    pub env: Vec<String>,
    pub caller_cwd: Option<String>,
    /// The launcher's parent when it started (die-with-parent race check).
    pub parent: i32,
    /// `$XDG_RUNTIME_DIR` as the launcher got it: placeholder locks go there
    /// when it is a private directory of the caller's (ops/placeholder.rs).
    pub runtime_dir: Option<String>,
}

pub use crate::init::clone_flags;

/// The program's environment from the launcher's and the plan's policy.
pub fn program_env(plan: &Plan, launcher_env: &[String]) -> Vec<String> {
    let mut env: Vec<String> = if plan.env.inherit { launcher_env.to_vec() } else { Vec::new() };
    let name = |e: &String| e.split('=').next().unwrap_or("").to_string();
    env.retain(|e| !plan.env.unset.contains(&name(e)) && !plan.env.set.contains_key(&name(e)));
    env.extend(plan.env.set.iter().map(|(k, v)| format!("{k}={v}")));
    if let Some(policy) = plan.network.policy() {
        let vars = proxy_env(policy.allow_local_binding);
        const NO_PROXY: [&str; 3] = ["NO_PROXY", "no_proxy", "npm_config_noproxy"];
        env.retain(|e| !vars.iter().any(|(k, _)| *k == name(e)) && !NO_PROXY.contains(&name(e).as_str()));
        env.extend(vars.iter().map(|(k, v)| format!("{k}={v}")));
    }
    env
}

/// The proxy variables of an allow-list network, as srt and Codex set them
/// (upper and lower case; curl, wget, git, pip, npm, yarn, bundler, docker
/// and gcloud read them). Everything goes through the proxy, where the
/// rules apply, `localhost` too (the host's, reached only when allowed as a
/// literal); with `allowLocalBinding` NO_PROXY names the sandbox's own
/// loopback, where the program's own servers listen.
pub fn proxy_env(local_binding: bool) -> Vec<(&'static str, String)> {
    let http = format!("http://127.0.0.1:{}", crate::net::HTTP_PORT);
    let socks = format!("socks5h://127.0.0.1:{}", crate::net::SOCKS_PORT);
    let no_proxy = "localhost,127.0.0.1,::1".to_string();
    let mut v = Vec::new();
    for k in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "npm_config_proxy", "npm_config_https_proxy", "YARN_HTTP_PROXY", "YARN_HTTPS_PROXY"] {
        v.push((k, http.clone()));
    }
    for k in ["PIP_PROXY", "BUNDLE_HTTP_PROXY", "BUNDLE_HTTPS_PROXY", "DOCKER_HTTP_PROXY", "DOCKER_HTTPS_PROXY"] {
        v.push((k, http.clone()));
    }
    v.push(("ALL_PROXY", socks.clone()));
    v.push(("all_proxy", socks));
    if local_binding {
        v.push(("NO_PROXY", no_proxy.clone()));
        v.push(("no_proxy", no_proxy.clone()));
        v.push(("npm_config_noproxy", no_proxy));
    }
    v.push(("RSYNC_PROXY", format!("127.0.0.1:{}", crate::net::HTTP_PORT)));
    v.push(("CLOUDSDK_PROXY_TYPE", "http".into()));
    v.push(("CLOUDSDK_PROXY_ADDRESS", "127.0.0.1".into()));
    v.push(("CLOUDSDK_PROXY_PORT", crate::net::HTTP_PORT.to_string()));
    v.push(("SANDBOXCTL_PROXY", format!("http=127.0.0.1:{} socks5=127.0.0.1:{}", crate::net::HTTP_PORT, crate::net::SOCKS_PORT)));
    v
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
    SetupError::new(Code::UsernsUnavailable, format!("cannot create a user namespace: {e}")).with_hint(hint.join("; "))
}

/// Clone pid 1 and wait for it. Never returns.
pub fn run_launcher(sys: &dyn Sys, host_uid: u32, host_gid: u32, cx: &LaunchContext) -> ! {
    let Launched { pid, tty, mut cleanup, live } = match start(sys, host_uid, host_gid, cx) {
        Ok(l) => l,
        // The one place a launcher failure becomes its report and exit status.
        Err(e) => {
            crate::report::error(sys, cx.report_fd, &Error::from(e));
            sys.exit(EXIT_SETUP)
        }
    };
    if let Some((_, theirs)) = tty {
        let _ = sys.close(theirs);
    }
    if let Some(fd) = cx.report_fd {
        let _ = Report::Spawned { pid }.send(sys, fd);
    }
    // bubblewrap's --json-status-fd lines (its format, not a report line).
    if let Some(fd) = cx.plan.status_fd {
        let _ = sys.write_fd(fd, format!("{{ \"child-pid\": {pid} }}\n").as_bytes());
    }
    // A live sandbox: the launcher is its supervisor until pid 1 ends.
    if let Some(hold) = live {
        let code = crate::live::supervisor::supervise(sys, cx.plan, hold, pid, cx.report_fd);
        cleanup.finish(sys, cx, code)
    }
    let mut stop = Stop::new(pid, cx.plan);
    stop.deadline = cx.plan.limits.as_ref().and_then(|l| l.timeout_ms).map(|t| sys.monotonic_ms().saturating_add(t));
    stop.grace = cx.plan.limits.as_ref().map(|l| l.timeout_grace_ms.unwrap_or(crate::plan::TIMEOUT_GRACE_MS));
    let code = match tty {
        Some((mine, _)) => relay::relay(sys, mine, &mut stop),
        None => wait(sys, &mut stop),
    };
    cleanup.timed_out = stop.timed_out;
    cleanup.finish(sys, cx, code)
}

/// pid 1 is running.
struct Launched {
    pid: i32,
    /// plan.tty: the socket pair pid 1 sends the pty master back on.
    tty: Option<(Fd, Fd)>,
    cleanup: Cleanup,
    /// plan.live: the registry entry, control socket and channel to pid 1.
    live: Option<crate::live::supervisor::LiveHold>,
}

/// Every stage up to a cloned pid 1, in order.
fn start(sys: &dyn Sys, host_uid: u32, host_gid: u32, cx: &LaunchContext) -> Result<Launched, SetupError> {
    let plan = cx.plan;
    follow_parent(sys, cx)?;
    if plan.tty {
        relay::check(sys, plan)?;
    }
    // plan.limits: the sandbox's cgroup first, so a machine that cannot
    // give the limits refuses before anything else exists.
    let cgroup = match plan.limits.as_ref().filter(|l| l.cgroup()) {
        Some(l) => Some(crate::cgroup::Sandbox::create(sys, l, &format!("sandboxctl.{}", sys.getpid()))?),
        None => None,
    };
    match start_in(sys, host_uid, host_gid, cx, cgroup.as_ref()) {
        Ok(mut l) => {
            l.cleanup.cgroup = cgroup;
            Ok(l)
        }
        Err(e) => {
            if let Some(c) = &cgroup {
                c.remove(sys);
            }
            Err(e)
        }
    }
}

/// [`start`] once the cgroup (if any) exists.
fn start_in(sys: &dyn Sys, host_uid: u32, host_gid: u32, cx: &LaunchContext, cgroup: Option<&crate::cgroup::Sandbox>) -> Result<Launched, SetupError> {
    let plan = cx.plan;
    // ch-run's environment steps: assignments parsed, host files read.
    let env_steps = crate::env::prepare(sys, &plan.env.steps)?;
    // An image root: checked here, before any namespace exists (a SquashFS
    // image is mounted, detached, and served from here on).
    let image_mount = crate::image::fuse::prepare(sys, plan)?;
    // Post-run audit: the snapshot of what host tools execute, taken while
    // nothing of the sandbox exists yet (audit/mod.rs).
    let audit = audit_before(&LinuxAuditFs, plan)?;
    let held = cleanup::stand_ins(sys, cx, host_uid)?;
    // plan.live: the registry entry (E_NAME_IN_USE) and the control socket.
    let live = match crate::live::supervisor::prepare(sys, plan) {
        Ok(l) => l,
        Err(e) => {
            if let Some(fd) = image_mount {
                let _ = sys.close(fd);
            }
            cleanup::release(sys, held);
            return Err(e);
        }
    };
    let launched = clone_pid1(sys, host_uid, host_gid, cx, image_mount, live.as_ref(), env_steps, cgroup);
    // pid 1 holds the image's mount now (or it failed): ours goes, so the
    // mount and its server end with the sandbox.
    if let Some(fd) = image_mount {
        let _ = sys.close(fd);
    }
    match launched {
        Ok((pid, tty)) => Ok(Launched { pid, tty, cleanup: Cleanup { held, audit, cgroup: None, timed_out: false }, live }),
        Err(e) => {
            if let Some(l) = live {
                l.release(sys);
            }
            cleanup::release(sys, held);
            Err(e)
        }
    }
}

/// plan.dieWithParent: the launcher dies with its caller.
fn follow_parent(sys: &dyn Sys, cx: &LaunchContext) -> Result<(), SetupError> {
    if !cx.plan.die_with_parent {
        return Ok(());
    }
    sys.prctl(Prctl::SetPdeathsig(libc::SIGKILL)).ctx(Code::Setup, "set the parent-death signal")?;
    // The parent may have died before the prctl took effect: nobody is left
    // to read a report, so exit without one.
    if sys.getppid() != cx.parent {
        sys.exit(EXIT_SETUP);
    }
    Ok(())
}

/// Clone pid 1 into the plan's namespaces (with plan.tty, a socket pair for
/// the pty master first). In the child this runs the init and never
/// returns; in the launcher, pid 1's pid and the socket pair.
#[allow(clippy::too_many_arguments)]
fn clone_pid1(
    sys: &dyn Sys,
    host_uid: u32,
    host_gid: u32,
    cx: &LaunchContext,
    image_mount: Option<Fd>,
    live: Option<&crate::live::supervisor::LiveHold>,
    env_steps: Vec<crate::env::Ready>,
    cgroup: Option<&crate::cgroup::Sandbox>,
) -> Result<(i32, Option<(Fd, Fd)>), SetupError> {
    let plan = cx.plan;
    join_namespaces(sys, plan)?;
    let tty = plan.tty.then(|| sys.socketpair()).transpose().ctx(Code::Setup, "create the pseudo-terminal socket")?;
    let net = match plan.network.policy().map(|_| sys.socketpair()).transpose() {
        Ok(n) => n,
        Err(e) => {
            if let Some((a, b)) = tty {
                let _ = (sys.close(a), sys.close(b));
            }
            return Err(SetupError::sys(Code::Setup, "create the network proxy's socket", e));
        }
    };
    let notify = match cx.seccomp_notify.filter(|_| cx.report_fd.is_some()).map(|_| sys.socketpair()).transpose() {
        Ok(n) => n,
        Err(e) => {
            for (a, b) in tty.into_iter().chain(net) {
                let _ = (sys.close(a), sys.close(b));
            }
            return Err(SetupError::sys(Code::Setup, "create the seccomp listener's socket", e));
        }
    };
    // pid 1 is born in the sandbox's cgroup: the launcher steps in for the
    // clone and back out after it, so nothing of the sandbox runs outside.
    if let Some(c) = cgroup {
        c.enter(sys)?;
    }
    let cloned = sys.clone_sandbox(clone_flags(plan));
    if let (Some(c), Ok(pid)) = (cgroup, &cloned) {
        if *pid != 0 {
            if let Err(e) = c.leave(sys) {
                let _ = sys.kill(*pid, libc::SIGKILL);
                let _ = sys.reap();
                return Err(e);
            }
        }
    } else if let (Some(c), Err(_)) = (cgroup, &cloned) {
        let _ = c.leave(sys);
    }
    match cloned {
        Ok(0) => {
            if let Some((mine, _)) = tty {
                let _ = sys.close(mine);
            }
            if let Some((mine, _)) = net {
                let _ = sys.close(mine);
            }
            if let Some((mine, _)) = notify {
                let _ = sys.close(mine);
            }
            let icx = InitContext {
                plan,
                host_uid,
                host_gid,
                caller_cwd: cx.caller_cwd.clone(),
                report_fd: cx.report_fd,
                seccomp: cx.seccomp,
                zygote_seccomp: cx.zygote_seccomp,
                bounded: false,
                program_seccomp: cx.program_seccomp,
                env: program_env(plan, &cx.env),
                tty_sock: tty.map(|(_, theirs)| theirs),
                image_mount,
                live_chan: live.map(|l| l.in_child(sys)),
                env_steps,
                net_sock: net.map(|(_, theirs)| theirs),
                seccomp_notify: cx.seccomp_notify.zip(notify.map(|(_, theirs)| theirs)),
            };
            init::run_init(sys, &icx)
        }
        Ok(pid) => {
            // pid 1's ends first, before any fork: a helper that inherited
            // one would keep the other's channel open (no EOF after pid 1's
            // last fd, the proxy would wait for more forever). Each helper
            // is forked with no end of the other's channel left here.
            for (_, theirs) in net.iter().chain(notify.iter()) {
                let _ = sys.close(*theirs);
            }
            if let Some((mine, _)) = net {
                let spawned = proxy(sys, cx, mine);
                let _ = sys.close(mine);
                if let Err(e) = spawned {
                    let _ = sys.kill(pid, libc::SIGKILL);
                    if let Some((mine, _)) = notify {
                        let _ = sys.close(mine);
                    }
                    return Err(e);
                }
            }
            if let Some((mine, _)) = notify {
                let spawned = notify::listen(sys, cx, mine);
                let _ = sys.close(mine);
                if let Err(e) = spawned {
                    let _ = sys.kill(pid, libc::SIGKILL);
                    return Err(e);
                }
            }
            Ok((pid, tty))
        }
        Err(e)
            if matches!(e.0, libc::EPERM | libc::EACCES | libc::ENOSPC | libc::EUSERS | libc::EINVAL)
                && clone_flags(plan) & libc::CLONE_NEWUSER as u64 != 0 =>
        {
            Err(userns_error(sys, e))
        }
        Err(e) => Err(SetupError::sys(Code::Setup, "create the sandbox process", e)),
    }
}

/// plan.joinNs: enter the user and pid namespaces pid 1 is to be cloned
/// into (bubblewrap's `--userns` and `--pidns`). This process is single
/// threaded and freshly executed, as setns(CLONE_NEWUSER) requires. It
/// stops being dumpable first, so pid 1 is born not dumpable: a process of
/// a joined namespace may be waiting for it, and a dumpable pid 1 (with this
/// process's memory) could be attached to before it clears the flag itself
/// (docs/bwrap.md).
fn join_namespaces(sys: &dyn Sys, plan: &Plan) -> Result<(), SetupError> {
    let Some(j) = plan.join_ns.as_ref().filter(|j| j.user.is_some() || j.pid.is_some()) else { return Ok(()) };
    if let Some(fd) = j.user {
        sys.setns(fd, libc::CLONE_NEWUSER).map_err(|e| init::join_error("user", fd, e))?;
    }
    if let Some(fd) = j.pid {
        sys.setns(fd, libc::CLONE_NEWPID).map_err(|e| init::join_error("pid", fd, e))?;
    }
    // After the setns: new credentials reset the flag to fs.suid_dumpable.
    sys.prctl(Prctl::SetDumpable(false)).ctx(Code::Setup, "clear dumpable")
}

/// plan.network is an allow policy: fork the proxy process, which takes
/// the listening sockets pid 1 sends on `chan` and serves them from the
/// host's network namespace until the launcher dies (proxy/mod.rs).
fn proxy(sys: &dyn Sys, cx: &LaunchContext, chan: Fd) -> Result<i32, SetupError> {
    let Some(policy) = cx.plan.network.policy() else { return Ok(0) };
    // validate.rs parsed the rules already: this cannot fail.
    let policy = crate::net::rules::Policy::parse(policy).map_err(|(p, m)| SetupError::new(Code::PlanInvalid, format!("plan.network.{p}: {m}")))?;
    let report = if cx.plan.report { cx.report_fd } else { None };
    sys.fork_child(&mut || {
        sys.ignore_signal(libc::SIGPIPE);
        crate::proxy::serve(chan, policy.clone(), report, sys)
    })
    .ctx(Code::Setup, "start the network proxy")
}
