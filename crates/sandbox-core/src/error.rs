//! The crate error: every failure carries a stable code (what tests and the
//! JavaScript `SandboxError.code` see), a lower-case message, and where it
//! applies the op index, the JSON path of the offending field and a hint.

use crate::sys::Errno;
use serde::{Deserialize, Serialize};

/// Declares [`Code`] once: its variants, their wire names and what each means.
/// `npm run gen` writes the list to `schema/error-codes.json` and from there
/// the TypeScript `ERROR_CODES` and the code tables of README.md,
/// docs/api.md and docs/internals.md; a test here fails when the committed
/// JSON drifts, a jest test when the TypeScript or a table does.
macro_rules! codes {
    ($($(#[doc = $doc:literal])+ $variant:ident = $name:literal,)+) => {
        /// Stable error codes, the one list for Rust and TypeScript. Never rename
        /// one: callers match on them. Some are raised only by the Node side
        /// (their doc says so); they are listed here so there is one source.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
        pub enum Code {
            $($(#[doc = $doc])+ #[serde(rename = $name)] $variant,)+
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)+
                }
            }

            /// What the code means (its doc comment).
            pub fn description(self) -> &'static str {
                match self {
                    $(Code::$variant => concat!($($doc),+).trim_ascii(),)+
                }
            }
        }
    };
}

codes! {
    /// The plan does not decode or fails validation (no `argv`; a caller fd the plan names, in `fds`, `statusFd` or a `sourceFd`, is not open; a preset refuses the directory); `opIndex` and `path` name the field.
    PlanInvalid = "E_PLAN_INVALID",
    /// A bind/file source does not exist (non-`optional` ops).
    SourceMissing = "E_SOURCE_MISSING",
    /// The kernel refused a user namespace; the hint names the sysctl.
    UsernsUnavailable = "E_USERNS_UNAVAILABLE",
    /// A mount, remount or pivot failed during setup.
    Mount = "E_MOUNT",
    /// Any other setup step failed (uid map, hostname, loopback, caps, seccomp load).
    Setup = "E_SETUP",
    /// The program could not be executed (exit status 126) or found (127).
    Exec = "E_EXEC",
    /// (Node only) the `sandboxctl-init` launcher was not found; the hint names the platform package.
    InitMissing = "E_INIT_MISSING",
    /// (Node only) the `sandboxctl-oci` OCI runtime was not found (`sandboxctl oci`); the hint names the platform package.
    OciMissing = "E_OCI_MISSING",
    /// (Node only) the napi addon could not be loaded.
    NativeMissing = "E_NATIVE_MISSING",
    /// (Node only) a config file (sandboxctl.json) is unreadable or invalid; the message names the file and JSON path.
    ConfigInvalid = "E_CONFIG_INVALID",
    /// (Node only) a sandboxctl.json found by looking up from the current directory is not trusted, or changed since it was (the message names the file and the `sandboxctl trust` command); or the trust store is unsafe.
    ConfigUntrusted = "E_CONFIG_UNTRUSTED",
    /// The post-run audit found what host tools would execute and `onTaint` is `fail`, or a revert did not hold; `taint` lists it (exit 125, after the program ran).
    Tainted = "E_TAINTED",
    /// (OCI runtime) `config.json` does not decode or fails validation; the message names its JSON path (`linux.mounts[3].destination`).
    SpecInvalid = "E_SPEC_INVALID",
    /// (OCI runtime) the operation is not valid in the container's state (the message names the state), as runtime-spec's lifecycle says.
    OciState = "E_OCI_STATE",
    /// (OCI runtime) no container of that id under `--root`.
    OciNotFound = "E_OCI_NOT_FOUND",
    /// (OCI runtime) a container of that id already exists under `--root`.
    OciExists = "E_OCI_EXISTS",
    /// (OCI runtime) a lifecycle hook failed or timed out.
    Hook = "E_HOOK",
    /// The image named by `root.image` is not usable: missing, not a directory or SquashFS file (the message names the file and the magic found), a corrupt SquashFS superblock, or a kind its write mode cannot take.
    ImageInvalid = "E_IMAGE_INVALID",
    /// A SquashFS image cannot be served: `/dev/fuse` cannot be opened (the hint says how to open it to users) or the FUSE server program is missing.
    FuseUnavailable = "E_FUSE_UNAVAILABLE",
    /// A bind's target does not exist in a read-only image root and the op may not create it (`missingTarget: refuse`, `--image-bind`); the hint says how to make the image writable.
    TargetMissing = "E_TARGET_MISSING",
    /// `image import`: an archive entry would land outside the target (an absolute path, a `..` component, a symlinked parent, a hard link to outside, a whiteout of `..`); the message names the layer and the entry. Nothing is left behind.
    ImageUnsafe = "E_IMAGE_UNSAFE",
    /// `image import` or `image pack`: the destination exists (pass `--force` to replace it).
    ImageExists = "E_IMAGE_EXISTS",
    /// A live sandbox's name is not `^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`.
    NameInvalid = "E_NAME_INVALID",
    /// A running sandbox of the caller's already has this name.
    NameInUse = "E_NAME_IN_USE",
    /// No running sandbox of the caller's has this name.
    SandboxNotFound = "E_SANDBOX_NOT_FOUND",
    /// The sandbox ended (or is ending) while a request was made or served.
    SandboxClosed = "E_SANDBOX_CLOSED",
    /// The control socket refused the peer: another user, or a process in another user namespace (inside a sandbox).
    ControlDenied = "E_CONTROL_DENIED",
    /// The registry directory of live sandboxes is not safe to use: not a directory we own, a symlink, or open to group or others (the message names it).
    RegistryUnsafe = "E_REGISTRY_UNSAFE",
    /// A path to copy or to act on in a live sandbox does not exist (the message names it and where).
    NotFound = "E_NOT_FOUND",
    /// A path component is not a directory, or a directory was to be copied onto a file.
    NotDir = "E_NOT_DIR",
    /// A directory where a file was expected.
    IsDir = "E_IS_DIR",
    /// The path already exists.
    Exists = "E_EXISTS",
    /// The directory is not empty.
    NotEmpty = "E_NOT_EMPTY",
    /// The target is on a read-only mount of the sandbox.
    ReadOnly = "E_READ_ONLY",
    /// The sandbox's user may not do this (EACCES, EPERM).
    Permission = "E_PERMISSION",
    /// A copy would go through a symlink or leave its destination (an archive entry with `..`, a symlinked parent on the host).
    CpUnsafe = "E_CP_UNSAFE",
    /// (CLI only) a bad flag or argument.
    Usage = "E_USAGE",
    /// (CLI only) a bug in sandboxctl itself.
    Internal = "E_INTERNAL",
    /// A cgroup limit (`memory`, `pids`, `cpus`) cannot be given here: no cgroup hierarchy we may write (unprivileged without a delegated cgroup v2 subtree, or the controller is missing); the hint says how to get one.
    LimitUnavailable = "E_LIMIT_UNAVAILABLE",
    /// `--join`: a peer group refused this peer: it closed (its timeout passed or its count was reached), or `--join-pid` names a process that is not in one of the caller's sandboxes (the message names the group or pid).
    Join = "E_JOIN",
    /// `--join`: the peers or the winner of a peer group did not come within the group's timeout (30 s by default; the message names the group and what was missing).
    JoinTimeout = "E_JOIN_TIMEOUT",
    /// (Node only) the `sandboxctl-bwrap` bubblewrap drop-in was not found (`sandboxctl bwrap-path`); the hint names the platform package.
    BwrapMissing = "E_BWRAP_MISSING",
    /// A namespace given by fd (`plan.joinNs`, bubblewrap's `--userns`, `--userns2`, `--pidns`) cannot be entered: the fd is closed, not a namespace, a namespace of another type, or one this process may not enter (the message names the fd and the errno).
    NsJoin = "E_NS_JOIN",
    /// `run --image` with no command: the image config's `User` names a user or group that is not in the image's own /etc/passwd or /etc/group (the message names it and the image).
    ImageUser = "E_IMAGE_USER",
}

/// `schema/error-codes.json`: every code with its description, as `npm run gen`
/// commits it.
pub fn codes_json() -> String {
    #[derive(Serialize)]
    struct Entry {
        code: Code,
        description: &'static str,
    }
    let list: Vec<Entry> = Code::ALL.iter().map(|&code| Entry { code, description: code.description() }).collect();
    let mut s = serde_json::to_string_pretty(&list).expect("codes serialize");
    s.push('\n');
    s
}

/// A plan that cannot run, found before any namespace exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}{}: {reason}", kind.map(|k| format!(" ({k})")).unwrap_or_default())]
pub struct PlanError {
    /// JSON path of the offending value, e.g. `plan.ops[3].source`.
    pub path: String,
    /// Index of the op, when the error is inside `ops`.
    pub op_index: Option<usize>,
    /// The op's kind, when known.
    pub kind: Option<&'static str>,
    pub reason: String,
    pub code: Code,
}

/// A setup step that failed inside the sandbox (or while creating it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SetupError {
    pub code: Code,
    pub message: String,
    pub op_index: Option<usize>,
    pub hint: Option<String>,
}

impl SetupError {
    pub fn new(code: Code, message: impl Into<String>) -> SetupError {
        SetupError { code, message: message.into(), op_index: None, hint: None }
    }
    /// `cannot <what>: <errno>`, the one message form.
    pub fn sys(code: Code, what: impl std::fmt::Display, errno: Errno) -> SetupError {
        let mut e = SetupError::new(code, format!("cannot {what}: {errno}"));
        e.hint = hint_for(code, errno);
        e
    }
    pub fn at_op(mut self, index: usize) -> SetupError {
        self.op_index = Some(index);
        self
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> SetupError {
        self.hint = Some(hint.into());
        self
    }
}

/// Hints for the known traps.
fn hint_for(code: Code, errno: Errno) -> Option<String> {
    match (code, errno.0) {
        (Code::Mount, libc::ENOSPC) => Some("the mount table is full: raise fs.mount-max or use fewer mounts".into()),
        // A FUSE mount whose server is gone (an image's, image/fuse.rs).
        (Code::Mount | Code::Setup, libc::ENOTCONN) => Some("the SquashFS image's FUSE server ended: its own message, if any, is above".into()),
        _ => None,
    }
}

/// Context for a failed syscall: `sys.mount(..).ctx(Code::Mount, "mount the
/// new root")?` is `SetupError::sys(Code::Mount, "mount the new root", errno)`,
/// so `cannot mount the new root: <errno>`.
pub trait Ctx<T> {
    fn ctx(self, code: Code, what: impl std::fmt::Display) -> Result<T, SetupError>;
}

impl<T> Ctx<T> for Result<T, Errno> {
    fn ctx(self, code: Code, what: impl std::fmt::Display) -> Result<T, SetupError> {
        self.map_err(|e| SetupError::sys(code, what, e))
    }
}

/// Everything that can stop a sandbox from starting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Setup(#[from] SetupError),
}

impl Error {
    pub fn code(&self) -> Code {
        match self {
            Error::Plan(e) => e.code,
            Error::Setup(e) => e.code,
        }
    }
    pub fn op_index(&self) -> Option<usize> {
        match self {
            Error::Plan(e) => e.op_index,
            Error::Setup(e) => e.op_index,
        }
    }
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Plan(_) => None,
            Error::Setup(e) => e.hint.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Code;

    #[test]
    fn committed_error_codes_are_fresh() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema/error-codes.json");
        let committed = std::fs::read_to_string(path).expect("schema/error-codes.json exists");
        assert!(committed == super::codes_json(), "schema/error-codes.json is stale: run `npm run gen`");
    }

    #[test]
    fn names_are_unique_and_serde_agrees() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{} twice", c.as_str());
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            assert!(!c.description().is_empty());
        }
        assert!(seen.contains("E_CONFIG_UNTRUSTED"));
    }
}
