//! dir: a directory (and its missing parents) in the new root.

use super::{check_mode, check_target, OpProblem, RootFs, SetupOp};
use crate::error::{Code, SetupError};
use crate::plan::DirOp;
use std::fmt;

impl SetupOp for DirOp {
    no_early!();

    fn validate(&self) -> Result<(), OpProblem> {
        check_target(&self.target)?;
        check_mode(self.mode)
    }

    fn apply(&self, (): (), root: &mut RootFs) -> Result<(), SetupError> {
        let fd = root
            .mkdir_tree(&self.target, self.mode, parents_mode(self.mode))
            .map_err(|e| SetupError::sys(Code::Setup, format_args!("create directory {}", self.target), e))?;
        let _ = root.sys().close(fd);
        Ok(())
    }
}

/// The mode of the parents a dir op creates, as bubblewrap makes them:
/// the owner's rwx, and r-x for group and others each where the
/// directory's own mode gives them anything (0750 for 0710, 0705 for 0604).
pub fn parents_mode(mode: u32) -> u32 {
    let mut m = 0o700;
    if mode & 0o070 != 0 {
        m |= 0o050;
    }
    if mode & 0o007 != 0 {
        m |= 0o005;
    }
    m
}

impl fmt::Display for DirOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "directory {} mode {:o}", self.target, self.mode)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::sys::script::{Ret, Script};

    #[test]
    fn creates_with_mode() {
        let s = Script::new(vec![
            open_dir_missing(3, "/work"),
            open_dir(3, "/", 4),
            mkdirat(4, "work", 0o700, Ret::Ok),
            close(4),
            open_dir(3, "/work", 5),
            close(5),
        ]);
        DirOp { target: "/work".into(), mode: 0o700 }.apply((), &mut RootFs::new(&s, 3)).unwrap();
        s.done();
    }

    #[test]
    fn failure_names_the_directory() {
        let s = Script::new(vec![open_dir_missing(3, "/w"), open_dir(3, "/", 4), mkdirat(4, "w", 0o755, Ret::Err(libc::EROFS)), close(4)]);
        let e = DirOp { target: "/w".into(), mode: 0o755 }.apply((), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!(e.message, "cannot create directory /w: read-only file system");
        assert_eq!(DirOp { target: "/w".into(), mode: 0o755 }.to_string(), "directory /w mode 755");
        assert_eq!(DirOp { target: "/w".into(), mode: 0o70000 }.validate().unwrap_err().field, "mode");
        assert_eq!(DirOp { target: "/w".into(), mode: 0o7777 }.validate(), Ok(()));
    }
}
