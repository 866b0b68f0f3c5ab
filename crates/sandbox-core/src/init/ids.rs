//! Stage: who pid 1 is inside. Writes its own uid and gid maps (one id each:
//! the caller's outside, the plan's inside; the launcher never needs to) and
//! the hostname of the new UTS namespace.

use super::InitContext;
use crate::error::{Code, Ctx, SetupError};
use crate::plan::Plan;
use crate::sys::{Errno, Prctl, Sys};

/// The ids inside the sandbox.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
}

/// Map the plan's ids (default: the caller's) onto the caller's.
pub fn map(sys: &dyn Sys, cx: &InitContext) -> Result<Ids, SetupError> {
    // A user namespace joined by fd (plan.joinNs.user) has its maps: we are
    // who they make us. The launcher cloned us not dumpable.
    // plan.uid/gid there (bubblewrap's --uid/--gid with --userns) are ids
    // of that namespace's maps, switched to at once (see [`switch_joined`]).
    if cx.plan.join_ns.as_ref().is_some_and(|j| j.user.is_some()) {
        let ids = Ids { uid: cx.plan.uid.unwrap_or_else(|| sys.getuid()), gid: cx.plan.gid.unwrap_or_else(|| sys.getgid()) };
        switch_joined(sys, cx.plan, ids)?;
        return Ok(ids);
    }
    let ids = Ids { uid: cx.plan.uid.unwrap_or(cx.host_uid), gid: cx.plan.gid.unwrap_or(cx.host_gid) };
    // /proc/self/*_map are writable by us only while dumpable, so allow it
    // just for this.
    sys.prctl(Prctl::SetDumpable(true)).ctx(Code::Setup, "set dumpable")?;
    sys.write_file("/proc/self/uid_map", format!("{} {} 1\n", ids.uid, cx.host_uid).as_bytes()).ctx(Code::Setup, "write the uid map")?;
    match sys.write_file("/proc/self/setgroups", b"deny\n") {
        Ok(()) | Err(Errno(libc::ENOENT)) => {}
        Err(e) => return Err(SetupError::sys(Code::Setup, "deny setgroups", e)),
    }
    sys.write_file("/proc/self/gid_map", format!("{} {} 1\n", ids.gid, cx.host_gid).as_bytes()).ctx(Code::Setup, "write the gid map")?;
    // Not dumpable from here on: nothing inside may ptrace or read our memory.
    sys.prctl(Prctl::SetDumpable(false)).ctx(Code::Setup, "clear dumpable")?;
    Ok(ids)
}

/// The plan's hostname, when it names one.
pub fn hostname(sys: &dyn Sys, plan: &Plan) -> Result<(), SetupError> {
    match &plan.hostname {
        Some(h) => sys.sethostname(h).ctx(Code::Setup, "set the hostname"),
        None => Ok(()),
    }
}

/// In a user namespace joined by fd (plan.joinNs.user), become the plan's
/// uid and gid (bubblewrap's `--uid`/`--gid` with `--userns`) before the
/// root is built, as bubblewrap does: the caller's own id may have no map
/// there (the overflow id, which cannot create files). The capabilities
/// setns gave stay permitted across the change (keep-caps) and are made
/// effective again, so the set-up and the drop work as without a switch,
/// even from uid 0 (where bubblewrap would lose them). An id the namespace
/// does not map is refused by the kernel (EINVAL): a failed setup.
fn switch_joined(sys: &dyn Sys, plan: &Plan, ids: Ids) -> Result<(), SetupError> {
    if plan.uid.is_none() && plan.gid.is_none() {
        return Ok(());
    }
    let last_cap = super::privileges::last_cap(sys)?;
    sys.prctl(Prctl::SetKeepCaps(true)).ctx(Code::Setup, "keep capabilities")?;
    if plan.gid.is_some() {
        sys.setresgid(ids.gid).ctx(Code::Setup, format_args!("switch to gid {} in the joined user namespace", ids.gid))?;
    }
    if plan.uid.is_some() {
        sys.setresuid(ids.uid).ctx(Code::Setup, format_args!("switch to uid {} in the joined user namespace", ids.uid))?;
    }
    sys.prctl(Prctl::SetKeepCaps(false)).ctx(Code::Setup, "clear keep-caps")?;
    // Leaving uid 0 clears the effective set; the permitted one is whole.
    let all = if last_cap >= 63 { u64::MAX } else { (1u64 << (last_cap + 1)) - 1 };
    sys.capset_sets(all, all, 0).ctx(Code::Setup, "make the permitted capabilities effective again")?;
    // New credentials reset dumpable to fs.suid_dumpable.
    sys.prctl(Prctl::SetDumpable(false)).ctx(Code::Setup, "clear dumpable")
}
