//! Stage: the privilege drop, once the root is built. Capabilities (all but
//! those the plan keeps), no_new_privs, Landlock scopes, then the seccomp
//! filters: after this pid 1 holds nothing the program may not.

use crate::error::{Code, Ctx, SetupError};
use crate::plan::{Op, Plan};
use crate::sys::{Errno, Fd, Prctl, Sys};

const LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1;
const LANDLOCK_SCOPE_SIGNAL: u64 = 2;

/// The highest capability number this kernel knows. Read while the host's
/// /proc is still reachable (before the pivots).
pub fn last_cap(sys: &dyn Sys) -> Result<u32, SetupError> {
    let b = sys.read_file("/proc/sys/kernel/cap_last_cap").ctx(Code::Setup, "read /proc/sys/kernel/cap_last_cap")?;
    match String::from_utf8_lossy(&b).trim().parse::<u32>() {
        Ok(n) if n < 64 => Ok(n),
        _ => Err(SetupError::new(Code::Setup, "cannot parse /proc/sys/kernel/cap_last_cap")),
    }
}

/// Drop what the program may not have, in this order. `bounded`: the
/// bounding set was already dropped (a pool's zygote did it: [`preload`]).
pub fn drop(
    sys: &dyn Sys,
    plan: &Plan,
    seccomp: &[Vec<libc::sock_filter>],
    notify: Option<(&[libc::sock_filter], Fd)>,
    last_cap: u32,
    bounded: bool,
) -> Result<(), SetupError> {
    capabilities(sys, plan, last_cap, bounded)?;
    sys.prctl(Prctl::SetNoNewPrivs).ctx(Code::Setup, "set no_new_privs")?;
    landlock(sys, plan)?;
    for (i, prog) in seccomp.iter().enumerate() {
        match notify.filter(|_| i == 0) {
            Some((variant, chan)) => listener(sys, prog, variant, chan).map_err(|e| e.unwrap_or_else(load_error))?,
            None => sys.seccomp_load(prog).map_err(load_error)?,
        }
    }
    Ok(())
}

fn load_error(e: Errno) -> SetupError {
    let err = SetupError::sys(Code::Setup, "load the seccomp filter", e);
    if e.0 == libc::EINVAL {
        err.with_hint("the kernel rejected the filter: is CONFIG_SECCOMP_FILTER enabled?")
    } else {
        err
    }
}

/// A pool's zygote, before it serves: what every sandbox it forks would
/// drop the same, dropped once here and inherited through each fork. The
/// bounding set (the zygote keeps its effective and permitted sets, which
/// the bounding set does not limit: each sandbox's set-up still mounts, and
/// drops those after its root is built); then the part of the filters that
/// every sandbox shares (seccomp::compile_zygote), after no_new_privs (which
/// each sandbox sets anyway). The zygote's own calls from here on (poll,
/// recvmsg, the clone of a sandbox, wait) and a sandbox's set-up are calls
/// that part allows; each sandbox loads the rest after its root is built.
pub fn preload(sys: &dyn Sys, plan: &Plan, filters: &[Vec<libc::sock_filter>], last_cap: u32) -> Result<(), SetupError> {
    bounding(sys, plan, last_cap)?;
    if filters.is_empty() {
        return Ok(());
    }
    sys.prctl(Prctl::SetNoNewPrivs).ctx(Code::Setup, "set no_new_privs")?;
    for prog in filters {
        sys.seccomp_load(prog).map_err(load_error)?;
    }
    Ok(())
}

/// plan.report: the first filter as its notify variant; its listener goes
/// to the launcher over `chan` at once (only the calls the variant never
/// notifies run in between) and pid 1 keeps no copy, so nothing in the
/// sandbox can answer its own denials. A listener is refused (EBUSY) when
/// this process already sits under one (a sandbox with a report inside
/// another): the plain filter then, and no syscall lines.
fn listener(sys: &dyn Sys, plain: &[libc::sock_filter], variant: &[libc::sock_filter], chan: Fd) -> Result<(), Result<SetupError, Errno>> {
    let fd = match sys.seccomp_load_listener(variant) {
        Ok(fd) => fd,
        Err(Errno(libc::EBUSY)) => {
            let _ = sys.close(chan);
            return sys.seccomp_load(plain).map_err(Err);
        }
        Err(e) => {
            let _ = sys.close(chan);
            return Err(Err(e));
        }
    };
    let sent = sys.send_fd(chan, fd).ctx(Code::Setup, "pass the seccomp listener to the launcher");
    let _ = sys.close(fd);
    let _ = sys.close(chan);
    sent.map_err(Ok)
}

/// Drop every capability but those the plan keeps: ambient, bounding, then
/// the three sets; kept ones are raised ambient so they survive the exec of
/// a program that is not uid 0 (bubblewrap's --cap-add). Without
/// plan.capInherit (bubblewrap run by root, no --cap-add/--cap-drop) they
/// stay out of the inheritable and ambient sets: a uid 0 program gets its
/// bounding set at exec anyway.
fn capabilities(sys: &dyn Sys, plan: &Plan, last_cap: u32, bounded: bool) -> Result<(), SetupError> {
    let keep = crate::caps::kept(plan);
    sys.prctl(Prctl::CapAmbientClearAll).ctx(Code::Setup, "clear the ambient capability set")?;
    if !bounded {
        bounding(sys, plan, last_cap)?;
    }
    if !plan.cap_inherit && keep != 0 {
        sys.capset_sets(keep, keep, 0).ctx(Code::Setup, "set the capability sets")?;
        // bubblewrap's sequence for root: each kept one is offered to the
        // ambient set, which the kernel refuses (EPERM: not inheritable),
        // so none becomes ambient; any other answer is a failed setup.
        for cap in (0..=last_cap).filter(|c| keep & (1 << c) != 0) {
            match sys.prctl(Prctl::CapAmbientRaise(cap)) {
                Err(Errno(libc::EPERM)) => {}
                Ok(()) => return Err(SetupError::new(Code::Setup, format!("capability {cap} became ambient without being inheritable"))),
                Err(e) => return Err(SetupError::sys(Code::Setup, format_args!("check capability {cap}"), e)),
            }
        }
        return Ok(());
    }
    sys.capset(keep).ctx(Code::Setup, "set the capability sets")?;
    for cap in (0..=last_cap).filter(|c| keep & (1 << c) != 0) {
        sys.prctl(Prctl::CapAmbientRaise(cap)).ctx(Code::Setup, format_args!("keep capability {cap}"))?;
    }
    Ok(())
}

/// Every capability the plan does not keep out of the bounding set.
fn bounding(sys: &dyn Sys, plan: &Plan, last_cap: u32) -> Result<(), SetupError> {
    let keep = crate::caps::kept(plan);
    for cap in (0..=last_cap).filter(|c| keep & (1 << c) == 0) {
        sys.prctl(Prctl::CapBsetDrop(cap)).ctx(Code::Setup, format_args!("drop capability {cap} from the bounding set"))?;
    }
    Ok(())
}

/// Landlock scopes (ABI 6+): no signals to, and no abstract unix sockets
/// of, processes outside the sandbox. Older kernels lack them: go on
/// without (doctor reports the ABI). With an allow-list network, a TCP
/// layer (ABI 4+) too: connect only to the proxy's two ports, bind none,
/// unless plan.network.allowLocalBinding.
fn landlock(sys: &dyn Sys, plan: &Plan) -> Result<(), SetupError> {
    if plan.network.policy().is_some_and(|p| !p.allow_local_binding) {
        match sys.landlock_net(&[crate::net::HTTP_PORT, crate::net::SOCKS_PORT]) {
            Ok(()) | Err(Errno(libc::ENOSYS | libc::EOPNOTSUPP | libc::EINVAL | libc::E2BIG)) => {}
            Err(e) => return Err(SetupError::sys(Code::Setup, "restrict TCP with landlock", e)),
        }
    }
    let scoped =
        ((!plan.landlock.allow_abstract_unix as u64) * LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET) | ((!plan.landlock.allow_signals as u64) * LANDLOCK_SCOPE_SIGNAL);
    if scoped == 0 {
        return Ok(());
    }
    match sys.landlock_scope(scoped) {
        Ok(()) | Err(Errno(libc::ENOSYS | libc::EOPNOTSUPP | libc::EINVAL | libc::E2BIG)) => {}
        Err(e) => return Err(SetupError::sys(Code::Setup, "restrict with landlock scopes", e)),
    }
    landlock_write(sys, plan)
}

/// plan.landlock.write: writes only beneath the listed paths and the
/// sandbox's private mounts (its tmpfs, dev, mqueue, proc and overlay ops),
/// even through a writable bind. Best effort: a kernel without Landlock
/// runs without it (doctor and explain show the ABI); a kernel that has it
/// and refuses the ruleset is a setup failure.
fn landlock_write(sys: &dyn Sys, plan: &Plan) -> Result<(), SetupError> {
    let Some(list) = &plan.landlock.write else { return Ok(()) };
    let mut allowed: Vec<String> = list.clone();
    for op in &plan.ops {
        let t = match op {
            Op::Tmpfs(o) => &o.target,
            Op::Dev(o) => &o.target,
            Op::Mqueue(o) => &o.target,
            Op::Proc(o) => &o.target,
            Op::Overlay(o) => &o.target,
            _ => continue,
        };
        if !allowed.contains(t) {
            allowed.push(t.clone());
        }
    }
    match sys.landlock_write(&allowed) {
        Ok(_) | Err(Errno(libc::ENOSYS | libc::EOPNOTSUPP)) => Ok(()),
        Err(e) => Err(SetupError::sys(Code::Setup, "restrict writes with landlock", e)),
    }
}
