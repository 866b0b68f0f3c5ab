//! The crate error: every failure carries a stable code (what tests and the
//! JavaScript `SandboxError.code` see), a lower-case message, and where it
//! applies the op index, the JSON path of the offending field and a hint.

use crate::sys::Errno;
use serde::Serialize;

/// Stable error codes. Never rename one: callers match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Code {
    #[serde(rename = "E_PLAN_INVALID")]
    PlanInvalid,
    #[serde(rename = "E_SOURCE_MISSING")]
    SourceMissing,
    #[serde(rename = "E_USERNS_UNAVAILABLE")]
    UsernsUnavailable,
    #[serde(rename = "E_MOUNT")]
    Mount,
    #[serde(rename = "E_SETUP")]
    Setup,
    #[serde(rename = "E_EXEC")]
    Exec,
    /// The post-run audit found something planted and `onTaint` is `fail`,
    /// or a revert did not hold.
    #[serde(rename = "E_TAINTED")]
    Tainted,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::PlanInvalid => "E_PLAN_INVALID",
            Code::SourceMissing => "E_SOURCE_MISSING",
            Code::UsernsUnavailable => "E_USERNS_UNAVAILABLE",
            Code::Mount => "E_MOUNT",
            Code::Setup => "E_SETUP",
            Code::Exec => "E_EXEC",
            Code::Tainted => "E_TAINTED",
        }
    }
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
}

/// Hints for the known traps.
fn hint_for(code: Code, errno: Errno) -> Option<String> {
    match (code, errno.0) {
        (Code::Mount, libc::ENOSPC) => Some(
            "the mount table is full: raise fs.mount-max or use fewer mounts".into(),
        ),
        (Code::Setup, libc::EINVAL) => None,
        _ => None,
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

    /// The report line sent to the caller (see docs/internals.md).
    pub fn to_report(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "event": "error",
            "code": self.code().as_str(),
            "message": self.to_string(),
        });
        if let Some(i) = self.op_index() {
            v["opIndex"] = i.into();
        }
        if let Error::Plan(p) = self {
            v["path"] = p.path.clone().into();
        }
        if let Some(h) = self.hint() {
            v["hint"] = h.into();
        }
        v
    }
}
