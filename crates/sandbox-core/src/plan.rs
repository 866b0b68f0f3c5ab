//! The plan: the one serde schema shared by the native init, the napi addon and
//! (through the generated JSON Schema) the TypeScript packages.
//!
//! Inputs: JSON from the caller. Invariants: unknown fields are rejected
//! everywhere; every field that has a default is optional in JSON; a decoded
//! plan is not yet valid until [`crate::validate::validate`] accepts it. The
//! ops' behaviour (validation, setup, descriptions, `Op::kind`) is in `ops/`.

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
    /// Give the program a pseudo-terminal of its own from the sandbox's
    /// devpts (the `dev` op on /dev), relayed by the launcher to its own
    /// terminal as `docker run -it` and ssh do: job control, Ctrl-C/Ctrl-Z
    /// and window size work, and TIOCSTI reaches only the sandbox's pty.
    /// The launcher's stdin must be a terminal. Implies a new session.
    #[serde(default, skip_serializing_if = "is_false")]
    pub tty: bool,
    /// After the program exits, how long to wait for the processes it left
    /// behind before killing them, in milliseconds.
    #[serde(default = "default_linger_ms")]
    pub linger_ms: u32,
    /// System call filter loaded last, before the program starts.
    #[serde(default)]
    pub seccomp: Seccomp,
    /// Capabilities kept inside the user namespace (bubblewrap's --cap-add);
    /// every other one is dropped. Names like `CAP_NET_ADMIN`, or `ALL`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    /// Capabilities dropped again from `capAdd` (applied after it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    /// Landlock scopes (ABI 6+): what the sandbox may still reach outside it.
    #[serde(default)]
    pub landlock: Landlock,
    /// Caller file descriptors passed into the program, at the numbers
    /// given; every other descriptor is closed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fds: Vec<FdPass>,
    /// argv[0] as the program sees it (`--argv0`); argv[0] of `argv` is still
    /// the program that is executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argv0: Option<String>,
    /// Caller fd that receives JSON status lines, as bubblewrap's
    /// --json-status-fd: `{"child-pid": N}` then `{"exit-code": N}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_fd: Option<i32>,
    /// Post-run audit: after the sandbox ends, the launcher looks under
    /// these roots for what host tools would execute that the run created or
    /// changed (git configuration and hooks, editor and agent settings), and
    /// acts on it (see `crate::audit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditSpec>,
    /// The sandbox's root is an image (a directory or a SquashFS file)
    /// instead of an empty tmpfs; ops then resolve their targets inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<RootSpec>,
    /// A live sandbox (issue 13): named, registered, and reachable through
    /// its control socket (`exec`, `stop`) while it runs. `argv` may be
    /// empty when `live.end` is `stop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveSpec>,
    /// Resource limits (issue 14): cgroup memory, pids and cpu, rlimits set
    /// by pid 1 before the exec, and a wall-clock timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// Send a `denied` report line for each thing the sandbox's policy
    /// refused (`--report`): network connections the proxy refused.
    #[serde(default, skip_serializing_if = "is_false")]
    pub report: bool,
    /// The program is the sandbox's pid 1 itself (bubblewrap's
    /// `--as-pid-1`): no init stays to reap, and the sandbox ends with it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub as_pid1: bool,
    /// Kept capabilities (`capAdd`) are also inheritable and raised
    /// ambient, so they survive the exec of a program that is not uid 0
    /// (the default). false: effective and permitted only, as bubblewrap
    /// leaves a root caller's own capabilities.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub cap_inherit: bool,
    /// A caller fd pid 1 reads one byte (or end of file) from before it
    /// starts the program, then closes (bubblewrap's `--block-fd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_fd: Option<i32>,
    /// A caller fd pid 1 reads one byte (or end of file) from first thing,
    /// before its id maps and root (bubblewrap's `--userns-block-fd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userns_block_fd: Option<i32>,
    /// pid 1 sends a `namespaces` report line (its namespaces' inode
    /// numbers) first thing; it is not dumpable, so the caller cannot read
    /// them from /proc itself.
    #[serde(default, skip_serializing_if = "is_false")]
    pub report_namespaces: bool,
    /// Namespaces entered by fd instead of made (bubblewrap's `--userns`,
    /// `--userns2`, `--pidns`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_ns: Option<JoinNs>,
}

/// Namespaces the sandbox enters from caller fds (`/proc/PID/ns/*` of a
/// process the caller may ptrace, such as another sandbox's program) instead
/// of making its own. The launcher enters `user` and `pid` just before it
/// clones pid 1, born not dumpable; pid 1 enters `user2` once the root is
/// built. Processes that share a namespace are trusted with each other, as
/// with bubblewrap.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JoinNs {
    /// A user namespace fd: no user namespace of the sandbox's own and no id
    /// maps written (the namespace has its own). `uid`/`gid`, when given, are
    /// ids of its maps that pid 1 switches to before it builds the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<i32>,
    /// A user namespace fd pid 1 switches to after building the root, before
    /// dropping its privileges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user2: Option<i32>,
    /// A pid namespace fd: pid 1 is a process of it, not its pid 1 (a pid
    /// namespace nested in it would need one more fork between the setns
    /// and the clone, which the launcher does not make).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
}

/// What the post-run audit looks at and what it does with a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuditSpec {
    /// Absolute host directories walked before and after the run (the
    /// project, the enclosing repository's worktree and git directories).
    pub roots: Vec<String>,
    /// What to do with a finding: `revert` (default), `fail` or `warn`.
    #[serde(default)]
    pub on_taint: OnTaint,
    /// The directory under which the run's quarantine `<run>/` is made;
    /// default `~/.local/state/sandboxctl/quarantine` under the real home.
    /// No symlink is followed on the way to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<String>,
}

/// What the audit does when it finds something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnTaint {
    /// Put back what existed before the run, move what it created into the
    /// quarantine.
    #[default]
    Revert,
    /// Leave everything and exit non-zero with `E_TAINTED`.
    Fail,
    /// Report only.
    Warn,
}

/// Landlock scoping. Both default to denied.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Landlock {
    /// Allow signals to processes outside the sandbox.
    #[serde(default)]
    pub allow_signals: bool,
    /// Allow connecting to abstract unix sockets created outside the sandbox.
    #[serde(default)]
    pub allow_abstract_unix: bool,
    /// Filesystem write allow-list (ABI 1+, best-effort): when given, the
    /// program may write only beneath these sandbox paths and the sandbox's
    /// private mounts (every `tmpfs`, `dev`, `proc`, `mqueue` and `overlay`
    /// op's target), even where a mount is writable. Reads and executes are
    /// not restricted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<Vec<String>>,
}

/// One caller fd passed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FdPass {
    /// The fd in the caller (the launcher's fd of that number).
    pub fd: i32,
    /// The number it has in the program (defaults to `fd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<i32>,
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
    /// A warm pool's zygote (plan.live.end `zygote`).
    pub fn is_zygote(&self) -> bool {
        self.live.as_ref().is_some_and(|l| l.end == LiveEnd::Zygote)
    }

    /// Whether an op asks for a mode with a set-uid or set-gid bit: the
    /// set-up then makes calls strict's set-uid rules refuse (a pool's
    /// zygote leaves those rules to each sandbox: seccomp::compile_zygote).
    pub fn sets_id_bits(&self) -> bool {
        self.ops.iter().any(|op| match op {
            Op::Tmpfs(TmpfsOp { mode, .. }) | Op::Dir(DirOp { mode, .. }) | Op::File(FileOp { mode, .. }) | Op::Chmod(ChmodOp { mode, .. }) => {
                mode & 0o6000 != 0
            }
            _ => false,
        })
    }

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
            tty: false,
            linger_ms: DEFAULT_LINGER_MS,
            seccomp: Seccomp::default(),
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            landlock: Landlock::default(),
            fds: Vec::new(),
            argv0: None,
            status_fd: None,
            audit: None,
            root: None,
            live: None,
            limits: None,
            report: false,
            as_pid1: false,
            cap_inherit: true,
            block_fd: None,
            userns_block_fd: None,
            report_namespaces: false,
            join_ns: None,
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
    /// Variables set, after `unset`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
    /// ch-run's environment rules, applied in order by pid 1 after
    /// `inherit`, `unset` and `set`, once the root is built (so a file of the
    /// image can be read): see `crate::env`. The `image` preset's only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<EnvStep>,
}

impl Default for EnvPolicy {
    fn default() -> Self {
        EnvPolicy { inherit: true, unset: Vec::new(), set: BTreeMap::new(), steps: Vec::new() }
    }
}

/// One of ch-run's environment changes (`--set-env`, `--unset-env`, its
/// own adjustments), applied in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum EnvStep {
    /// Set `name` to `value`; with `expand`, ch-run's `$VAR` expansion of
    /// the value's `:`-separated items first.
    #[schemars(title = "SetEnvStep")]
    Set {
        name: String,
        value: String,
        #[serde(default, skip_serializing_if = "is_false")]
        expand: bool,
    },
    /// A `NAME=VALUE` as ch-run's `--set-env` takes it: split at the first
    /// `=`, one pair of single quotes around the value stripped.
    #[schemars(title = "AssignEnvStep")]
    Assign {
        text: String,
        #[serde(default, skip_serializing_if = "is_false")]
        expand: bool,
    },
    /// Remove every variable whose name matches `glob` (fnmatch with
    /// extglob, ch-run's `--unset-env`).
    #[schemars(title = "UnsetEnvStep")]
    Unset { glob: String },
    /// Append `:dir` to `name` unless it starts with `dir` or holds `:dir`
    /// (ch-run's PATH rule); an unset variable stays unset.
    #[schemars(title = "AppendPathEnvStep")]
    AppendPath { name: String, dir: String },
    /// Lines `NAME=VALUE` of a file, each as `assign` (empty lines skipped).
    #[schemars(title = "FileEnvStep")]
    File {
        path: String,
        /// `host`: read by the launcher before the sandbox exists; `root`:
        /// read by pid 1 inside the new root (the image's `/ch/environment`).
        #[serde(default, skip_serializing_if = "is_default")]
        scope: FileScope,
        #[serde(default, skip_serializing_if = "is_false")]
        expand: bool,
        /// A missing file is skipped instead of an error.
        #[serde(default, skip_serializing_if = "is_false")]
        optional: bool,
    },
}

/// Where an environment file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileScope {
    #[default]
    Host,
    Root,
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

/// Network: `none`, `host`, or an allow-list policy (issue 14).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Network {
    /// `none` or `host`.
    Mode(NetMode),
    /// The sandbox's own network namespace, reaching out only through the
    /// launcher's proxy (HTTP on 127.0.0.1:3128 and SOCKS5 on :1080) to the
    /// hosts the policy allows.
    Allow(NetPolicy),
}

/// By hand rather than `untagged`, so a wrong value gets serde's own
/// messages (an unknown mode names the modes; a policy's fields keep their
/// JSON paths) instead of "did not match any variant".
impl<'de> Deserialize<'de> for Network {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Network;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                // config.rs turns "string or map" into the list of modes.
                f.write_str("string or map")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Network, E> {
                match v {
                    "none" => Ok(Network::NONE),
                    "host" => Ok(Network::HOST),
                    _ => Err(E::unknown_variant(v, &["none", "host"])),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Network, A::Error> {
                NetPolicy::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Network::Allow)
            }
        }
        d.deserialize_any(V)
    }
}

impl Default for Network {
    fn default() -> Self {
        Network::Mode(NetMode::None)
    }
}

impl Network {
    /// `none`.
    pub const NONE: Network = Network::Mode(NetMode::None);
    /// `host`.
    pub const HOST: Network = Network::Mode(NetMode::Host);
    /// Whether the sandbox gets a network namespace of its own.
    pub fn own_namespace(&self) -> bool {
        !matches!(self, Network::Mode(NetMode::Host))
    }
    /// The allow policy, when there is one.
    pub fn policy(&self) -> Option<&NetPolicy> {
        match self {
            Network::Allow(p) => Some(p),
            Network::Mode(_) => None,
        }
    }
}

/// Network mode without a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NetMode {
    /// A new, empty network namespace with loopback up.
    #[default]
    None,
    /// The host's network namespace (`--share-net`).
    Host,
}

/// An allow-list network policy. Deny rules are checked first; a
/// destination no allow rule covers is refused, so an empty policy means
/// no network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NetPolicy {
    /// Host rules: `registry.npmjs.org`, `*.example.com` (subdomains, not
    /// the apex), an optional `:port`, IPv4 literals, bracketed IPv6
    /// literals (`[2001:db8::1]:443`).
    #[serde(default)]
    pub allow: Vec<String>,
    /// Named host sets allowed as well.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_sets: Vec<HostSet>,
    /// Host rules refused even when an allow rule covers them; `*` refuses
    /// everything.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
    /// Let the program bind TCP ports inside the sandbox (local servers on
    /// its own loopback); refused by Landlock otherwise.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_local_binding: bool,
}

/// The named host sets (`crate::net::hosts` lists their hosts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HostSet {
    Npm,
    Pypi,
    Crates,
    Github,
    Go,
    Maven,
    Debian,
}

/// System call filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Seccomp {
    /// Named preset: `strict` (the default) or `none` (no preset rules).
    #[serde(default)]
    pub preset: SeccompPreset,
    /// Extra rules, added to the preset's filter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<SyscallRule>,
    /// Allow modify_ldt (16-bit segments, used by some emulators). Other
    /// ABIs stay refused either way: i386 calls are killed, x32 calls
    /// answer ENOSYS, as no rule could apply to their numbers.
    #[serde(default, skip_serializing_if = "is_false")]
    pub multiarch: bool,
    /// Further filters, each loaded on its own after the first (stacked:
    /// the kernel applies the strictest answer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stack: Vec<SeccompFilter>,
    /// Root emulation (ch-run's `--seccomp`, `--fakeroot`): the chown
    /// family, set*id, setgroups, capset and kexec_load succeed without
    /// effect, and so does mknod of a character or block device.
    #[serde(default, skip_serializing_if = "is_false")]
    pub fakeroot: bool,
}

impl Default for Seccomp {
    fn default() -> Self {
        Seccomp { preset: SeccompPreset::Strict, rules: Vec::new(), multiarch: false, stack: Vec::new(), fakeroot: false }
    }
}

/// Seccomp presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SeccompPreset {
    /// hakurei's strict set (always, ext, deny-ns, deny-tty, deny-devel,
    /// socket families) plus io_uring, process_vm_* and userfaultfd.
    #[default]
    Strict,
    /// No preset rules. Only by explicit request.
    None,
}

/// A filter of its own in `stack`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeccompFilter {
    pub rules: Vec<SyscallRule>,
}

/// One rule: a syscall, conditions on its arguments (all must hold), and
/// what it answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyscallRule {
    /// Syscall name as in the kernel's table, e.g. `ptrace`.
    pub syscall: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ArgCondition>,
    pub action: RuleAction,
}

/// A condition on one argument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ArgCondition {
    /// Argument index, 0 to 5.
    pub index: u8,
    pub op: CmpOp,
    pub value: u64,
    /// For `maskedEq`: `(arg & mask) == value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<u64>,
    /// Compare only the low 32 bits (as the kernel reads int arguments).
    #[serde(default, skip_serializing_if = "is_false")]
    pub low32: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    MaskedEq,
}

/// What a matching call gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RuleAction {
    /// Fail with this errno.
    Errno(u16),
    /// Kill the process.
    Kill,
    /// Allow and log.
    Log,
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
    /// An overlay filesystem (`--overlay`, `--tmp-overlay`, `--ro-overlay`).
    Overlay(OverlayOp),
    /// A POSIX message queue filesystem (`--mqueue`).
    Mqueue(MqueueOp),
    /// Change the mode of a path (`--chmod`).
    Chmod(ChmodOp),
    /// The host's /etc behind one symlink per entry.
    Autoetc(AutoetcOp),
    /// Every top-level host entry but proc, dev, tmp, mnt and etc.
    Autoroot(AutorootOp),
    /// A synthesized /etc/passwd and /etc/group for the sandbox's uid and gid.
    Passwd(PasswdOp),
    /// An empty read-only stand-in where a protected path does not exist yet.
    Placeholder(PlaceholderOp),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BindOp {
    /// Absolute host path. Exactly one of `source` and `sourceFd`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// A caller fd naming the source (`--bind-fd`, `--ro-bind-fd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_fd: Option<i32>,
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
    /// Create the source directory (0700) when it does not exist.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ensure: bool,
    /// Bind submounts too (the default); read-only then applies to all of them.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub recursive: bool,
    /// What happens when the target does not exist in the new root
    /// (an image root, ch-run's bind rules): `create` it (the default),
    /// `skip` the op (ch-run's optional binds), or `refuse` with
    /// `E_TARGET_MISSING` (a read-only image).
    #[serde(default, skip_serializing_if = "is_default")]
    pub missing_target: MissingTarget,
}

/// What a bind does when its target is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum MissingTarget {
    #[default]
    Create,
    Skip,
    Refuse,
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
    /// Also mount a private mqueue on `<target>/mqueue`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub mqueue: bool,
    /// Leave the /dev tmpfs writable (hakurei's DevWritable).
    #[serde(default, skip_serializing_if = "is_false")]
    pub writable: bool,
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
    /// Mount it read-only (an empty, unwritable directory).
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
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
    /// What the link points to; stored as given, never resolved (unless
    /// `dereference`).
    pub linkname: String,
    /// `linkname` is an absolute host symlink: copy what it points to.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dereference: bool,
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
    /// A caller fd whose contents are read at setup (`--file FD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_fd: Option<i32>,
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
    /// Also make it nodev.
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_dev: bool,
}

/// Overlay modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OverlayMode {
    /// Writes go to `upper` (with `work` on the same filesystem).
    Rw,
    /// Writes go to a tmpfs inside the sandbox and vanish with it (`--tmp-overlay`).
    Tmp,
    /// No writes; needs at least two lower layers (`--ro-overlay`).
    Ro,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OverlayOp {
    pub target: String,
    /// Host directories, uppermost first (`--overlay-src`, in order).
    pub lowers: Vec<String>,
    pub mode: OverlayMode,
    /// Host directory for writes (mode `rw`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper: Option<String>,
    /// Empty host directory on upper's filesystem (mode `rw`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MqueueOp {
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChmodOp {
    pub target: String,
    pub mode: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AutoetcOp {
    /// Where /etc goes, default `/etc`.
    #[serde(default = "etc")]
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AutorootOp {
    /// Where the entries go, default `/`.
    #[serde(default = "slash")]
    pub target: String,
    /// Bind them writable.
    #[serde(default, skip_serializing_if = "is_false")]
    pub writable: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PasswdOp {
    /// The directory holding `passwd` and `group`, default `/etc`.
    #[serde(default = "etc")]
    pub target: String,
    /// Home directory of the sandbox user, default `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    /// Whose form the files take: `sandbox` (default) or `chRun` (ch-run's
    /// exact lines: nobody's home `/` and shell `/bin/false`, a user the
    /// host does not know as `charlie`/`charliegroup`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub style: PasswdStyle,
}

/// The form of the synthesized passwd and group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PasswdStyle {
    #[default]
    Sandbox,
    ChRun,
}

/// What a placeholder stands in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PlaceholderType {
    /// A directory: an empty read-only stand-in while it does not exist.
    Dir,
    /// A file: protected when it exists, no stand-in when it does not (the
    /// post-run audit deals with a file the run creates).
    File,
    /// A symlink kept in place: the link itself is bound onto itself, so it
    /// cannot be removed, renamed or replaced (its target is protected by
    /// another op).
    Link,
}

/// Keeps a path that may not exist yet read-only inside the sandbox. The
/// target must be at the same path on the host (a directory bound at its own
/// path, as the agent preset binds the working directory): for a directory
/// the launcher creates the empty stand-in there when it is missing, and
/// removes it when the last sandbox using it has ended and it is still the
/// directory it created, so nothing is left in the user's tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PlaceholderOp {
    pub target: String,
    #[serde(rename = "type")]
    pub kind: PlaceholderType,
    /// The directory the stand-in is made in and removed from, no symlink
    /// followed below it (the project directory); default: the target's
    /// parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
}

/// An image as the sandbox's root (issue 11; ch-run's IMAGE argument).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RootSpec {
    /// Absolute host path of the image: a directory or a SquashFS file.
    pub image: String,
    /// What the image is: `auto` (a directory, else the file's magic), `dir` or `squashfs`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub format: ImageFormat,
    /// How writes to the root are handled (default read-only).
    #[serde(default, skip_serializing_if = "is_default")]
    pub write: RootWrite,
    /// Size of the tmpfs holding the writes of `fake`, in tmpfs `size=`
    /// syntax (`1G`, `12%`); default `12%`, as ch-run's `--write-fake`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fake_size: Option<String>,
    /// Bind a directory image with its submounts (ch-run's rbind).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub recursive: bool,
}

/// What an image is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// A directory, else a SquashFS file by its magic; anything else is refused.
    #[default]
    Auto,
    Dir,
    Squashfs,
}

/// Writes to an image root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RootWrite {
    /// Read-only, submounts included (remounted: a read-only flag on the
    /// first bind is ignored by the kernel).
    #[default]
    ReadOnly,
    /// Writes go to the image itself (a directory image only; ch-run's `--write`).
    Writable,
    /// Writes go to a tmpfs overlaid on the image and vanish with the
    /// sandbox (ch-run's `--write-fake`).
    Fake,
}

/// The tmpfs size of `--write-fake` when none is given (ch-run's).
pub const DEFAULT_FAKE_SIZE: &str = "12%";

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn etc() -> String {
    "/etc".into()
}
fn slash() -> String {
    "/".into()
}
fn is_true(b: &bool) -> bool {
    *b
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

/// A live sandbox: its name in the caller's registry and when it ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LiveSpec {
    /// `^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$` (docker's rule), unique among the
    /// caller's running sandboxes.
    pub name: String,
    /// The launcher (the supervisor) leaves the caller's session once the
    /// sandbox is ready and does not die with its caller.
    #[serde(default)]
    pub detach: bool,
    /// When the sandbox ends.
    #[serde(default)]
    pub end: LiveEnd,
    /// Free-form labels shown by `ps` (preset, image, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// When a live sandbox ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum LiveEnd {
    /// With its program (`argv`), as a plain run; later requests get
    /// `E_SANDBOX_CLOSED`.
    #[default]
    Program,
    /// Only when stopped (`sandboxctl stop`); `argv` may be empty.
    Stop,
    /// A `--join` peer group (`argv` empty): once `count` peers have run
    /// their programs and all ended, or, when fewer came within
    /// `timeoutMs`, once those ended (later peers are refused).
    #[serde(rename_all = "camelCase")]
    Group { count: u32, timeout_ms: u32 },
    /// A warm pool's zygote (`argv` empty; ends when stopped): pid 1 keeps
    /// the user namespace and the host view, and each control connection
    /// gets a sandbox of its own, forked into fresh pid, mount, ipc, uts,
    /// net and cgroup namespaces (as the plan has them), its root built and
    /// its privileges dropped, which runs one `exec` and ends with it
    /// (init/zygote.rs). Only for plans a fork can set up alone: no fds from
    /// the caller, no image root, allow-list network, limits or audit.
    Zygote,
}

/// Resource limits. cgroup limits (`memory`, `pids`, `cpus`) need a
/// cgroup of our own: as root a child of the launcher's cgroup in each
/// hierarchy (v1 or v2), unprivileged a delegated v2 subtree
/// (`E_LIMIT_UNAVAILABLE` otherwise, before anything starts).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Limits {
    /// Memory of the whole sandbox in bytes (cgroup memory.max /
    /// memory.limit_in_bytes; no swap beyond it where the kernel accounts it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    /// Processes and threads of the whole sandbox, its pid 1 included (pids.max); at least 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<u32>,
    /// CPU time per wall time in thousandths of a CPU (1500 = 1.5 CPUs;
    /// cpu.max / cfs_quota_us over a 100 ms period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_millis: Option<u32>,
    /// Wall time in milliseconds from the start; then the program gets
    /// SIGTERM, and the sandbox is killed `timeoutGraceMs` later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Resource limits (setrlimit) set by pid 1 before the exec, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rlimits: Vec<Rlimit>,
    /// After the timeout's SIGTERM, how long the program has to clean up
    /// before the sandbox is killed (SIGKILL), in milliseconds; absent:
    /// [`TIMEOUT_GRACE_MS`]; 0: killed at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_grace_ms: Option<u64>,
}

/// The default of plan.limits.timeoutGraceMs.
pub const TIMEOUT_GRACE_MS: u64 = 5000;

impl Limits {
    /// Whether a cgroup is needed.
    pub fn cgroup(&self) -> bool {
        self.memory.is_some() || self.pids.is_some() || self.cpu_millis.is_some()
    }
}

/// One setrlimit(2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rlimit {
    /// The resource: `as`, `core`, `cpu`, `data`, `fsize`, `locks`,
    /// `memlock`, `msgqueue`, `nice`, `nofile`, `nproc`, `rss`, `rtprio`,
    /// `rttime`, `sigpending`, `stack`.
    pub name: RlimitName,
    /// Soft limit; absent = unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft: Option<u64>,
    /// Hard limit; absent = unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard: Option<u64>,
}

/// The rlimit resources, as prlimit(1) names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RlimitName {
    As,
    Core,
    Cpu,
    Data,
    Fsize,
    Locks,
    Memlock,
    Msgqueue,
    Nice,
    Nofile,
    Nproc,
    Rss,
    Rtprio,
    Rttime,
    Sigpending,
    Stack,
}

impl RlimitName {
    /// Every resource.
    pub const ALL: [RlimitName; 16] = [
        RlimitName::As,
        RlimitName::Core,
        RlimitName::Cpu,
        RlimitName::Data,
        RlimitName::Fsize,
        RlimitName::Locks,
        RlimitName::Memlock,
        RlimitName::Msgqueue,
        RlimitName::Nice,
        RlimitName::Nofile,
        RlimitName::Nproc,
        RlimitName::Rss,
        RlimitName::Rtprio,
        RlimitName::Rttime,
        RlimitName::Sigpending,
        RlimitName::Stack,
    ];

    /// The resource number setrlimit(2) takes.
    // u32 on glibc, c_int on musl.
    #[allow(clippy::unnecessary_cast)]
    pub fn resource(self) -> u32 {
        (match self {
            RlimitName::As => libc::RLIMIT_AS,
            RlimitName::Core => libc::RLIMIT_CORE,
            RlimitName::Cpu => libc::RLIMIT_CPU,
            RlimitName::Data => libc::RLIMIT_DATA,
            RlimitName::Fsize => libc::RLIMIT_FSIZE,
            RlimitName::Locks => libc::RLIMIT_LOCKS,
            RlimitName::Memlock => libc::RLIMIT_MEMLOCK,
            RlimitName::Msgqueue => libc::RLIMIT_MSGQUEUE,
            RlimitName::Nice => libc::RLIMIT_NICE,
            RlimitName::Nofile => libc::RLIMIT_NOFILE,
            RlimitName::Nproc => libc::RLIMIT_NPROC,
            RlimitName::Rss => libc::RLIMIT_RSS,
            RlimitName::Rtprio => libc::RLIMIT_RTPRIO,
            RlimitName::Rttime => libc::RLIMIT_RTTIME,
            RlimitName::Sigpending => libc::RLIMIT_SIGPENDING,
            RlimitName::Stack => libc::RLIMIT_STACK,
        }) as u32
    }
}

/// Which limit ended the program (the `limitHit` report line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LimitKind {
    Memory,
    Pids,
    Timeout,
}
