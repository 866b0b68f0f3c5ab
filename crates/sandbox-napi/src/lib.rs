//! napi binding glue over sandbox-core: plan checking with precise errors,
//! kernel probes and versions. Nothing here forks, unshares or mounts: Node
//! is multi-threaded, so all namespace work happens in `sandboxctl-init`.

use napi_derive::napi;
use sandbox_core::{probe, validate};

/// Why a plan cannot run (null when it can).
#[napi(object)]
pub struct PlanProblem {
    /// Stable code: E_PLAN_INVALID or E_SOURCE_MISSING.
    pub code: String,
    pub message: String,
    pub op_index: Option<u32>,
    /// JSON path of the offending field, e.g. `plan.ops[3].source`.
    pub path: Option<String>,
    pub hint: Option<String>,
}

/// Decode, validate and preflight a plan (JSON text), as the init will.
#[napi]
pub fn check_plan(json: String) -> Option<PlanProblem> {
    validate::check(json.as_bytes()).err().map(|e| PlanProblem {
        code: e.code.as_str().to_string(),
        message: e.to_string(),
        op_index: e.op_index.map(|i| i as u32),
        path: Some(e.path),
        hint: None,
    })
}

#[napi(object)]
pub struct UsernsProbe {
    pub available: bool,
    pub max_user_namespaces: Option<f64>,
    pub unprivileged_userns_clone: Option<f64>,
    pub apparmor_restrict_unprivileged_userns: Option<f64>,
    pub problem: Option<String>,
    pub hint: Option<String>,
}

#[napi(object)]
pub struct Probe {
    pub kernel_release: String,
    pub userns: UsernsProbe,
    pub seccomp: bool,
    pub landlock_abi: i64,
}

/// What the kernel supports, read without creating anything.
#[napi]
pub fn probe() -> Probe {
    let p = probe::probe();
    let u = p.userns;
    Probe {
        kernel_release: p.kernel_release,
        userns: UsernsProbe {
            available: u.available,
            max_user_namespaces: u.max_user_namespaces.map(|v| v as f64),
            unprivileged_userns_clone: u.unprivileged_userns_clone.map(|v| v as f64),
            apparmor_restrict_unprivileged_userns: u.apparmor_restrict_unprivileged_userns.map(|v| v as f64),
            problem: u.problem,
            hint: u.hint,
        },
        seccomp: p.seccomp,
        landlock_abi: p.landlock_abi,
    }
}

/// Version of the native core.
#[napi]
pub fn version() -> String {
    sandbox_core::VERSION.to_string()
}

/// The plan's JSON Schema.
#[napi]
pub fn plan_schema() -> String {
    sandbox_core::plan::json_schema()
}
