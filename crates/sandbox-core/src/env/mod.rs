//! Stage: ch-run's environment rules (`plan.env.steps`, issue 11), after
//! the launcher's `inherit`/`unset`/`set`. Two halves:
//!
//! - [`prepare`], in the launcher before any namespace exists: every
//!   assignment is parsed and every host file read, so a mistake is an
//!   `E_PLAN_INVALID` naming the file and line before anything is made;
//! - [`finish`], in pid 1 once the new root is in place: the steps apply
//!   in order, and a file of the image (`scope: root`, `/ch/environment`)
//!   is read there, inside the sandbox's root.
//!
//! The rules themselves are pure functions in `steps.rs` (unit-tested
//! there and in `tests.rs`); `glob.rs` is fnmatch with extglob.

pub mod glob;
pub mod steps;
#[cfg(test)]
mod tests;

use crate::error::{Code, SetupError};
use crate::plan::{EnvStep, FileScope};
use crate::sys::{Errno, FileKind, Sys};

/// The longest environment file read (ch-run's are a few lines).
pub const MAX_FILE: usize = 1 << 20;

/// A step with its host half done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ready {
    /// Assignments (a host file's, or one `assign`), set in order.
    Vars {
        vars: Vec<steps::Var>,
        expand: bool,
    },
    Unset(String),
    AppendPath {
        name: String,
        dir: String,
    },
    /// A file of the new root, read by pid 1.
    RootFile {
        path: String,
        expand: bool,
        optional: bool,
    },
}

/// What is wrong with a step, before any file is read: (field, reason).
pub fn check(list: &[EnvStep]) -> Result<(), (String, String)> {
    for (i, step) in list.iter().enumerate() {
        let at = |f: &str| format!("env.steps[{i}].{f}");
        let nul = |s: &str| s.contains('\0');
        match step {
            EnvStep::Set { name, value, .. } => {
                if name.is_empty() || name.contains('=') || nul(name) || nul(value) {
                    return Err((at("name"), format!("{name:?} is not a variable name (empty, or holds = or NUL)")));
                }
            }
            EnvStep::Assign { text, .. } => {
                if nul(text) {
                    return Err((at("text"), "contains a NUL byte".into()));
                }
                steps::parse_assign(text).map_err(|e| (at("text"), e.message(text)))?;
            }
            EnvStep::Unset { glob } if glob.is_empty() => return Err((at("glob"), "the glob must have non-zero length".into())),
            EnvStep::Unset { .. } => {}
            EnvStep::AppendPath { name, dir } => {
                if name.is_empty() || name.contains('=') || dir.is_empty() {
                    return Err((at("name"), "name and dir must be non-empty, name without =".into()));
                }
            }
            EnvStep::File { path, .. } => crate::check::check_abs(path).map_err(|r| (at("path"), r))?,
        }
    }
    Ok(())
}

/// The launcher's half: parse assignments, read and parse host files.
pub fn prepare(sys: &dyn Sys, list: &[EnvStep]) -> Result<Vec<Ready>, SetupError> {
    check(list).map_err(|(field, reason)| SetupError::new(Code::PlanInvalid, format!("plan.{field}: {reason}")))?;
    let mut out = Vec::new();
    for step in list {
        out.push(match step {
            EnvStep::Set { name, value, expand } => Ready::Vars { vars: vec![(name.clone(), value.clone())], expand: *expand },
            EnvStep::Assign { text, expand } => Ready::Vars { vars: vec![steps::parse_assign(text).expect("checked above")], expand: *expand },
            EnvStep::Unset { glob } => Ready::Unset(glob.clone()),
            EnvStep::AppendPath { name, dir } => Ready::AppendPath { name: name.clone(), dir: dir.clone() },
            EnvStep::File { path, scope: FileScope::Root, expand, optional } => Ready::RootFile { path: path.clone(), expand: *expand, optional: *optional },
            EnvStep::File { path, scope: FileScope::Host, expand, optional } => match read_env_file(sys, path)? {
                Some(vars) => Ready::Vars { vars, expand: *expand },
                None if *optional => continue,
                None => return Err(SetupError::new(Code::PlanInvalid, format!("cannot open environment file {path}: no such file or directory"))),
            },
        });
    }
    Ok(out)
}

/// pid 1's half: the steps applied to `env` in order, reading files of
/// the new root (which is `/` by now).
pub fn finish(sys: &dyn Sys, ready: &[Ready], mut env: Vec<String>) -> Result<Vec<String>, SetupError> {
    for step in ready {
        match step {
            Ready::Vars { vars, expand } => steps::set_all(&mut env, vars, *expand),
            Ready::Unset(glob) => steps::unset(&mut env, glob),
            Ready::AppendPath { name, dir } => {
                steps::append_path(&mut env, name, dir);
            }
            Ready::RootFile { path, expand, optional } => match read_env_file(sys, path)? {
                Some(vars) => steps::set_all(&mut env, &vars, *expand),
                None if *optional => {}
                None => {
                    return Err(SetupError::new(Code::PlanInvalid, format!("cannot open environment file {path} in the sandbox: no such file or directory")))
                }
            },
        }
    }
    Ok(env)
}

/// Read size of [`read_capped`].
const CHUNK: usize = 64 * 1024;

/// The whole file, refused once it passes [`MAX_FILE`] (never read further).
fn read_capped(sys: &dyn Sys, fd: crate::sys::Fd, path: &str) -> Result<Vec<u8>, SetupError> {
    let mut bytes = Vec::new();
    loop {
        let chunk = sys.read(fd, CHUNK).map_err(|e| SetupError::sys(Code::PlanInvalid, format_args!("read environment file {path}"), e))?;
        if chunk.is_empty() {
            return Ok(bytes);
        }
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_FILE {
            return Err(SetupError::new(Code::PlanInvalid, format!("cannot read environment file {path}: larger than {MAX_FILE} bytes")));
        }
    }
}

/// An environment file's assignments; None when it does not exist. Only a
/// regular file is read (a FIFO or device in an image would hang or flood
/// pid 1), at most [`MAX_FILE`] bytes.
fn read_env_file(sys: &dyn Sys, path: &str) -> Result<Option<Vec<steps::Var>>, SetupError> {
    let fd = match sys.open(path, libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC) {
        Ok(fd) => fd,
        Err(Errno(libc::ENOENT)) => return Ok(None),
        Err(e) => return Err(SetupError::sys(Code::PlanInvalid, format_args!("open environment file {path}"), e)),
    };
    let read = match sys.fstat(fd) {
        Ok(FileKind::File) => read_capped(sys, fd, path),
        Ok(_) => Err(SetupError::new(Code::PlanInvalid, format!("cannot read environment file {path}: not a regular file"))),
        Err(e) => Err(SetupError::sys(Code::PlanInvalid, format_args!("stat environment file {path}"), e)),
    };
    let _ = sys.close(fd);
    let bytes = read?;
    let text = String::from_utf8(bytes).map_err(|_| SetupError::new(Code::PlanInvalid, format!("cannot read environment file {path}: not UTF-8")))?;
    if text.contains('\0') {
        return Err(SetupError::new(Code::PlanInvalid, format!("cannot read environment file {path}: contains a NUL byte")));
    }
    steps::parse_file(path, &text).map(Some).map_err(|m| SetupError::new(Code::PlanInvalid, m))
}
