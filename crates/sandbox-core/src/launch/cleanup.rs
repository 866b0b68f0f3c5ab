//! Stage: the launcher after pid 1 is reaped, and what it prepared for
//! that before clone: the stand-ins it made (ops/placeholder.rs) and the
//! post-run audit's snapshot (audit/mod.rs).

use super::LaunchContext;
use crate::audit::{self, Audit, AuditFs, LinuxAuditFs};
use crate::error::{Code, Error, SetupError};
use crate::init::EXIT_SETUP;
use crate::ops::placeholder;
use crate::plan::{LimitKind, Op, PlaceholderType, Plan};
use crate::report::Report;
use crate::sys::{Fd, Sys};

/// Stand-ins for protected paths that do not exist yet: created on the host
/// before the sandbox, removed after it. On failure what was made is
/// released again.
pub fn stand_ins(sys: &dyn Sys, cx: &LaunchContext, host_uid: u32) -> Result<Vec<placeholder::Held>, SetupError> {
    let plan = cx.plan;
    let mut held = Vec::new();
    if !plan.ops.iter().any(|o| matches!(o, Op::Placeholder(p) if p.kind == PlaceholderType::Dir)) {
        return Ok(held);
    }
    let dir = placeholder::lock_dir(sys, cx.runtime_dir.as_deref(), host_uid)?;
    for (i, op) in plan.ops.iter().enumerate() {
        if let Op::Placeholder(p) = op {
            match placeholder::acquire(sys, &dir, p) {
                Ok(h) => held.extend(h),
                Err(e) => {
                    release(sys, held);
                    return Err(e.at_op(i));
                }
            }
        }
    }
    Ok(held)
}

/// Remove the stand-ins this run made (those another run still uses stay).
pub fn release(sys: &dyn Sys, held: Vec<placeholder::Held>) {
    held.into_iter().for_each(|h| placeholder::release(sys, h));
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
    /// plan.limits: the sandbox's cgroup, read for the limit hit and removed.
    pub cgroup: Option<crate::cgroup::Sandbox>,
    /// plan.limits.timeoutMs ended the sandbox.
    pub timed_out: bool,
}

impl Cleanup {
    /// Clean up, write the status line and exit with `code`.
    pub fn finish(self, sys: &dyn Sys, cx: &LaunchContext, code: i32) -> ! {
        // pid 1 is gone: its copies of the lock fds with it.
        release(sys, self.held);
        let limit = if self.timed_out { Some(LimitKind::Timeout) } else { self.cgroup.as_ref().and_then(|c| c.hit(sys)) };
        if let Some(c) = &self.cgroup {
            c.remove(sys);
        }
        if let (Some(limit), Some(fd)) = (limit, cx.report_fd) {
            let _ = Report::LimitHit { limit }.send(sys, fd);
            if cx.plan.report {
                let _ = Report::Denied(crate::report::Denial::Limit { limit }).send(sys, fd);
            }
        }
        if let Some(fd) = cx.plan.status_fd {
            let _ = sys.write_fd(fd, format!("{{ \"exit-code\": {code} }}\n").as_bytes());
        }
        let code = audit_after(&LinuxAuditFs, sys, cx.report_fd, self.audit, code);
        sys.exit(code)
    }
}

/// The audit's snapshot when the plan asks for one; a root that cannot be
/// read is fatal (no audited run without its snapshot).
pub fn audit_before(fs: &dyn AuditFs, plan: &Plan) -> Result<Option<Audit>, SetupError> {
    let Some(spec) = plan.audit.as_ref() else { return Ok(None) };
    match Audit::snapshot(fs, spec, audit::Limits::default()) {
        Ok(a) => Ok(Some(a)),
        Err((root, e)) => Err(SetupError::sys(Code::Setup, format_args!("audit {root}"), e)),
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
            let _ = Report::Audit(report.clone()).send(sys, fd);
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
    crate::report::error(sys, report_fd, &Error::from(SetupError::new(Code::Tainted, message)));
    EXIT_SETUP
}
