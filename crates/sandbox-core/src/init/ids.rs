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
    if cx.plan.join_ns.as_ref().is_some_and(|j| j.user.is_some()) {
        return Ok(Ids { uid: sys.getuid(), gid: sys.getgid() });
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
