//! The control protocol: one JSON message per SOCK_SEQPACKET datagram
//! (at most [`MAX_MSG`] bytes) with up to [`MAX_FDS`] fds (SCM_RIGHTS).
//! pid 1 greets each accepted connection with `hello` (the supervisor
//! instead answers a refused peer with `error` and closes); only then does
//! the client send [`Request`]s, which pid 1 answers with [`Reply`]s.

use crate::error::Code;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const PROTOCOL_VERSION: u32 = 1;
/// The largest message.
pub const MAX_MSG: usize = 64 * 1024;
/// The most fds one message carries.
pub const MAX_FDS: usize = 16;

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase", deny_unknown_fields)]
pub enum Request {
    Hello {
        version: u32,
    },
    /// Start a program; the message carries its stdin, stdout and stderr
    /// (none with `tty`: the pty master comes back with `started`).
    Exec(ExecRequest),
    /// Signal the program this connection started.
    Signal {
        signal: i32,
    },
    /// SIGTERM to every process of the sandbox, SIGKILL after the timeout;
    /// the connection closes when the sandbox has ended.
    Stop {
        #[serde(rename = "timeoutMs")]
        timeout_ms: u32,
    },
    /// What `path` is inside (cp's preflight); `follow`: stat, not lstat.
    Stat {
        path: String,
        follow: bool,
    },
    /// Extract the tar stream on the message's one fd below the directory `dir`,
    /// the first component of each entry renamed to `rename` when given.
    CopyIn {
        dir: String,
        rename: Option<String>,
    },
    /// Write `path` as a tar stream on the message's one fd, its entries named
    /// `name/...` (or, with `contents`, the directory's entries themselves).
    CopyOut {
        path: String,
        name: String,
        contents: bool,
    },
    /// A filesystem view (view.rs): a worker reads requests on the
    /// message's first fd and answers on its second, until the first ends.
    FsView,
}

/// A program to start in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecRequest {
    pub argv: Vec<String>,
    /// `KEY=VALUE` added to (or replacing in) the sandbox's environment.
    #[serde(default)]
    pub env: Vec<String>,
    /// Only `env`, not the sandbox's environment.
    #[serde(default)]
    pub clear_env: bool,
    /// The working directory; the sandbox's when absent.
    #[serde(default)]
    pub cwd: Option<String>,
    #[serde(default)]
    pub tty: bool,
    /// (rows, columns) of the caller's terminal, with `tty`.
    #[serde(default)]
    pub winsize: Option<(u16, u16)>,
    /// A `--join` peer's program: counted in the sandbox's peer group, its
    /// `env` gets the sandbox's ch-run environment steps.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub peer: bool,
    /// The CPUs the program is bound to (a `--join` rank keeps its launcher's
    /// binding, e.g. srun's `--cpu-bind`); empty: pid 1's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u32>,
    /// The numbers, in the program, of the fds the message carries after
    /// stdin, stdout and stderr (a `--join` rank's `PMI_FD`, PMI-2's socket to
    /// its launcher).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass_fds: Vec<i32>,
}

/// What pid 1 (or the supervisor, for `error`) answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum Reply {
    Hello {
        version: u32,
    },
    /// The program runs; its pid in the sandbox's pid namespace.
    Started {
        pid: i32,
    },
    /// The program ended: its status as a shell reports it (128+N for signal N).
    Exited {
        status: i32,
    },
    Error {
        code: Code,
        message: String,
    },
    /// What a path is: `dir`, `file`, `symlink`, `other`; none when missing.
    Stat {
        kind: Option<String>,
    },
}

/// A registry entry's `state.json`: what `ps` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxState {
    pub version: u32,
    pub name: String,
    /// The supervisor (the launcher) on the host.
    pub supervisor_pid: i32,
    /// The sandbox's pid 1 as the host sees it.
    pub pid1: i32,
    pub created_ms: u64,
    pub argv: Vec<String>,
    pub detached: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The control socket (set by the reader, not stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<String>,
}

impl Request {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a request serializes")
    }
}

impl Reply {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a reply serializes")
    }
    pub fn error(code: Code, message: impl Into<String>) -> Reply {
        Reply::Error { code, message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_have_their_wire_shape() {
        let r: Request = serde_json::from_str(r#"{"op":"exec","argv":["true"],"env":["A=1"],"tty":false}"#).unwrap();
        assert_eq!(r, Request::Exec(ExecRequest { argv: vec!["true".into()], env: vec!["A=1".into()], ..Default::default() }));
        assert_eq!(String::from_utf8(Request::Stop { timeout_ms: 5 }.to_bytes()).unwrap(), r#"{"op":"stop","timeoutMs":5}"#);
        assert_eq!(String::from_utf8(Reply::Exited { status: 3 }.to_bytes()).unwrap(), r#"{"event":"exited","status":3}"#);
        assert_eq!(
            String::from_utf8(Reply::error(Code::ControlDenied, "no").to_bytes()).unwrap(),
            r#"{"event":"error","code":"E_CONTROL_DENIED","message":"no"}"#
        );
        assert!(serde_json::from_str::<Request>(r#"{"op":"exec","argv":[],"extra":1}"#).is_err());
    }
}
