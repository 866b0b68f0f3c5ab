//! napi binding glue over sandbox-core: plan checking with precise errors,
//! kernel probes and versions. Nothing here forks, unshares or mounts: Node
//! is multi-threaded, so all namespace work happens in `sandboxctl-init`.

pub mod live;

use napi_derive::napi;
use sandbox_core::{config, probe, validate};

/// Why a plan cannot run (null when it can).
#[napi(object)]
pub struct PlanProblem {
    /// Stable code: E_PLAN_INVALID or E_SOURCE_MISSING.
    pub code: String,
    pub message: String,
    pub op_index: Option<u32>,
    /// JSON path of the offending field, e.g. `plan.ops[3].source`.
    pub path: Option<String>,
}

/// Decode, validate and preflight a plan (JSON text), as the init will.
#[napi]
pub fn check_plan(json: String) -> Option<PlanProblem> {
    validate::check(json.as_bytes()).err().map(|e| PlanProblem {
        code: e.code.as_str().to_string(),
        message: e.to_string(),
        op_index: e.op_index.map(|i| i as u32),
        path: Some(e.path),
    })
}

/// Each op of a plan's `ops` (a JSON array) in words, in order: the Rust
/// side's description of an op, the one `explain`, `presets show` and the
/// preset docs use. An op that does not decode is an `E_PLAN_INVALID` error
/// naming its JSON path (`plan.ops[2].kind: ...`).
#[napi]
pub fn describe_ops(ops_json: String) -> napi::Result<Vec<String>, String> {
    let ops = validate::decode_ops(ops_json.as_bytes()).map_err(|e| napi::Error::new(e.code.as_str().to_string(), e.to_string()))?;
    Ok(sandbox_core::ops::describe(&ops))
}

/// What is wrong with a config file (null when nothing is).
#[napi(object)]
pub struct ConfigProblem {
    /// JSON path of the value, e.g. `ops[2].target`; '' for the whole file.
    pub path: String,
    pub message: String,
}

/// Check a sandboxctl.json file's JSON against the config type: the first
/// problem with the JSON path of the value.
#[napi]
pub fn check_config(json: String) -> Option<ConfigProblem> {
    config::check(&json).err().map(|p| ConfigProblem { path: p.path, message: p.message })
}

/// The JSON Schema of sandboxctl.json (schema/config.schema.json).
#[napi]
pub fn config_schema() -> String {
    config::json_schema()
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

/// Compile a plan's `seccomp` section (JSON) into the filters the init
/// would load, in load order (none for `preset: none` without rules). Each
/// Buffer is the raw `struct sock_filter` array, as bubblewrap's
/// `--seccomp FD` reads it. `keepSession` forces the deny-tty rules on;
/// `arch` (`x86_64` or `aarch64`) defaults to this machine's. Errors carry
/// the code `E_PLAN_INVALID` and name the plan field at fault.
#[napi]
pub fn compile_seccomp(policy_json: String, keep_session: bool, arch: Option<String>) -> napi::Result<Vec<napi::bindgen_prelude::Buffer>, String> {
    use sandbox_core::seccomp::{self, Arch};
    let invalid = |message: String| napi::Error::new("E_PLAN_INVALID".to_string(), message);
    let policy: sandbox_core::plan::Seccomp = serde_json::from_str(&policy_json).map_err(|e| invalid(format!("plan.seccomp: {e}")))?;
    let arch = match arch.as_deref() {
        None => Arch::host().ok_or_else(|| invalid(format!("no seccomp support for the {} architecture", std::env::consts::ARCH)))?,
        Some(name) => Arch::from_name(name).ok_or_else(|| invalid(format!("unknown architecture {name:?}: x86_64 or aarch64")))?,
    };
    let filters = seccomp::compile_for(&policy, keep_session, arch).map_err(|e| invalid(e.to_string()))?;
    Ok(filters.iter().map(|f| seccomp::to_bytes(f).into()).collect())
}
