//! The plan: the one serde schema shared by the native init, the napi addon and
//! (through the generated JSON Schema) the TypeScript packages.
//!
//! Inputs: JSON from the caller. Invariants: unknown fields are rejected
//! everywhere; every field that has a default is optional in JSON; a decoded
//! plan is not yet valid until [`crate::validate::validate`] accepts it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the plan format understood by this build.
pub const PLAN_VERSION: u32 = 1;

/// A sandbox: ordered setup ops plus the policy the program runs under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "Plan")]
pub struct Plan {
    /// Plan format version; must be 1.
    #[serde(default = "default_version")]
    pub version: u32,
    /// The program and its arguments; argv[0] without a slash is looked up in
    /// PATH inside the sandbox.
    pub argv: Vec<String>,
    /// Filesystem setup, applied in order inside the new root.
    #[serde(default)]
    pub ops: Vec<Op>,
    /// Environment of the program.
    #[serde(default)]
    pub env: EnvPolicy,
    /// Working directory inside the sandbox. When absent the caller's working
    /// directory is used if it exists inside the sandbox, else `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// User id inside the sandbox; the caller's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Group id inside the sandbox; the caller's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Hostname inside the sandbox (needs the uts namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Which namespaces are created. user, mount and pid are always created.
    #[serde(default)]
    pub namespaces: Namespaces,
    /// Network: `none` (a new network namespace with loopback up) or `host`.
    #[serde(default)]
    pub network: Network,
    /// Kill the whole sandbox when the process that launched it dies.
    #[serde(default = "yes")]
    pub die_with_parent: bool,
    /// Start the program in a new session (setsid), so it cannot reach the
    /// caller's terminal with TIOCSTI.
    #[serde(default = "yes")]
    pub new_session: bool,
    /// After the program exits, how long to wait for the processes it left
    /// behind before killing them, in milliseconds.
    #[serde(default = "default_linger_ms")]
    pub linger_ms: u32,
    /// System call filter loaded last, before the program starts.
    #[serde(default)]
    pub seccomp: Seccomp,
}

fn default_version() -> u32 {
    PLAN_VERSION
}
fn yes() -> bool {
    true
}
/// Default wait for lingering processes, as hakurei.
pub const DEFAULT_LINGER_MS: u32 = 5_000;
fn default_linger_ms() -> u32 {
    DEFAULT_LINGER_MS
}

impl Plan {
    /// A plan with the given argv and every default.
    pub fn new(argv: Vec<String>) -> Plan {
        Plan {
            version: PLAN_VERSION,
            argv,
            ops: Vec::new(),
            env: EnvPolicy::default(),
            cwd: None,
            uid: None,
            gid: None,
            hostname: None,
            namespaces: Namespaces::default(),
            network: Network::default(),
            die_with_parent: true,
            new_session: true,
            linger_ms: DEFAULT_LINGER_MS,
            seccomp: Seccomp::default(),
        }
    }
}

/// How the program's environment is built from the launcher's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvPolicy {
    /// Start from the caller's environment (false: start empty, `--clearenv`).
    #[serde(default = "yes")]
    pub inherit: bool,
    /// Variables removed, applied before `set`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unset: Vec<String>,
    /// Variables set, last.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
}

impl Default for EnvPolicy {
    fn default() -> Self {
        EnvPolicy { inherit: true, unset: Vec::new(), set: BTreeMap::new() }
    }
}

/// Namespaces beyond user, mount and pid (always new).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Namespaces {
    /// New IPC namespace.
    #[serde(default = "yes")]
    pub ipc: bool,
    /// New UTS namespace (hostname).
    #[serde(default = "yes")]
    pub uts: bool,
    /// New cgroup namespace.
    #[serde(default = "yes")]
    pub cgroup: bool,
}

impl Default for Namespaces {
    fn default() -> Self {
        Namespaces { ipc: true, uts: true, cgroup: true }
    }
}

/// Network mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// A new, empty network namespace with loopback up.
    #[default]
    None,
    /// The host's network namespace (`--share-net`).
    Host,
}

/// System call filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Seccomp {
    /// Named preset: `strict` (the default) or `none` (no filter at all).
    #[serde(default)]
    pub preset: SeccompPreset,
}

impl Default for Seccomp {
    fn default() -> Self {
        Seccomp { preset: SeccompPreset::Strict }
    }
}

/// Seccomp presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SeccompPreset {
    /// hakurei's strict set: always, ext, deny-ns, deny-tty, deny-devel, socket families.
    #[default]
    Strict,
    /// No filter. Only by explicit request.
    None,
}

/// One filesystem setup step. `kind` names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Op {
    /// Bind a host path into the sandbox (`--ro-bind`, `--bind`, `--dev-bind`, `-try`).
    Bind(BindOp),
    /// A private proc instance (`--proc`).
    Proc(ProcOp),
    /// A minimal /dev (`--dev`).
    Dev(DevOp),
    /// A tmpfs (`--tmpfs`).
    Tmpfs(TmpfsOp),
    /// A directory (`--dir`).
    Dir(DirOp),
    /// A symbolic link (`--symlink`).
    Symlink(SymlinkOp),
    /// A read-only file with given contents (`--file`, `--ro-bind-data`).
    File(FileOp),
    /// Remount an existing mount read-only (`--remount-ro`).
    Remount(RemountOp),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BindOp {
    /// Absolute host path.
    pub source: String,
    /// Absolute path inside the sandbox.
    pub target: String,
    /// Read-write (`--bind`); read-only otherwise.
    #[serde(default, skip_serializing_if = "is_false")]
    pub writable: bool,
    /// Allow device nodes (`--dev-bind`); nodev otherwise.
    #[serde(default, skip_serializing_if = "is_false")]
    pub device: bool,
    /// Skip the op when the source does not exist (`-try`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProcOp {
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DevOp {
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TmpfsOp {
    pub target: String,
    /// Size limit in bytes (`--size`); the kernel default (half of RAM) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Permission bits of the root directory (`--perms`), default 0755.
    #[serde(default = "mode_755")]
    pub mode: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DirOp {
    pub target: String,
    /// Permission bits (`--perms`), default 0755.
    #[serde(default = "mode_755")]
    pub mode: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SymlinkOp {
    /// Where the link is created, inside the sandbox.
    pub target: String,
    /// What the link points to; stored as given, never resolved.
    pub linkname: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileOp {
    pub target: String,
    /// File contents as UTF-8 text. Exactly one of `data` and `source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Absolute host path whose contents are copied in at setup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Permission bits (`--perms`), default 0444. The file is always mounted read-only.
    #[serde(default = "mode_444")]
    pub mode: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RemountOp {
    pub target: String,
    /// Make the mount read-only. Only `true` is meaningful today.
    #[serde(default = "yes")]
    pub read_only: bool,
    /// Also every mount below the target (bubblewrap's --remount-ro is not).
    #[serde(default, skip_serializing_if = "is_false")]
    pub recursive: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}
fn mode_755() -> u32 {
    0o755
}
fn mode_444() -> u32 {
    0o444
}

impl Op {
    /// The `kind` string of this op as it appears in JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Bind(_) => "bind",
            Op::Proc(_) => "proc",
            Op::Dev(_) => "dev",
            Op::Tmpfs(_) => "tmpfs",
            Op::Dir(_) => "dir",
            Op::Symlink(_) => "symlink",
            Op::File(_) => "file",
            Op::Remount(_) => "remount",
        }
    }

    /// The path inside the sandbox this op creates or changes.
    pub fn target(&self) -> &str {
        match self {
            Op::Bind(o) => &o.target,
            Op::Proc(o) => &o.target,
            Op::Dev(o) => &o.target,
            Op::Tmpfs(o) => &o.target,
            Op::Dir(o) => &o.target,
            Op::Symlink(o) => &o.target,
            Op::File(o) => &o.target,
            Op::Remount(o) => &o.target,
        }
    }
}

/// The JSON Schema of [`Plan`], as committed in `schema/plan.schema.json`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Plan);
    let mut s = serde_json::to_string_pretty(&schema).expect("schema serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn committed_json_schema_is_fresh() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema/plan.schema.json");
        let committed = std::fs::read_to_string(path).expect("schema/plan.schema.json exists");
        assert!(
            committed == super::json_schema(),
            "schema/plan.schema.json is stale: run `npm run gen` (cargo run -q -p sandbox-core --example gen-schema > schema/plan.schema.json)"
        );
    }
}
