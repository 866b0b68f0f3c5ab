//! remount: make an existing mount read-only, as bubblewrap's --remount-ro
//! (that mount only; `recursive` for its submounts too). nosuid is kept;
//! nothing is ever made writable.

use super::{check_target, OpProblem, RootFs, SetupOp};
use crate::error::{Code, SetupError};
use crate::plan::RemountOp;
use crate::sys::{ATTR_NODEV, ATTR_NOSUID, ATTR_RDONLY};
use std::fmt;

impl SetupOp for RemountOp {
    no_early!();

    fn validate(&self) -> Result<(), OpProblem> {
        check_target(&self.target)
    }

    fn apply(&self, (): (), root: &mut RootFs) -> Result<(), SetupError> {
        let mut attrs = ATTR_NOSUID;
        if self.read_only {
            attrs |= ATTR_RDONLY;
        }
        if self.no_dev {
            attrs |= ATTR_NODEV;
        }
        root.set_attrs(&self.target, self.recursive, attrs).map_err(|e| SetupError::sys(Code::Mount, format_args!("remount {} read-only", self.target), e))
    }
}

impl fmt::Display for RemountOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "remount {}{}{}{}",
            self.target,
            if self.read_only { " read-only" } else { "" },
            if self.no_dev { " nodev" } else { "" },
            if self.recursive { " recursively" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::sys::script::{Ret, Script};

    #[test]
    fn sets_read_only_on_the_mount_or_the_tree() {
        let s = Script::new(setattr(3, "/usr", 6, false, "RDONLY|NOSUID"));
        RemountOp { target: "/usr".into(), read_only: true, recursive: false, no_dev: false }.apply((), &mut RootFs::new(&s, 3)).unwrap();
        s.done();
        let s = Script::new(setattr(3, "/usr", 6, true, "RDONLY|NOSUID"));
        RemountOp { target: "/usr".into(), read_only: true, recursive: true, no_dev: false }.apply((), &mut RootFs::new(&s, 3)).unwrap();
        s.done();
        let s = Script::new(setattr(3, "/usr", 6, false, "NOSUID|NODEV"));
        RemountOp { target: "/usr".into(), read_only: false, recursive: false, no_dev: true }.apply((), &mut RootFs::new(&s, 3)).unwrap();
        s.done();
    }

    #[test]
    fn failure_is_a_mount_error() {
        let s = Script::new(vec![open_any(3, "/usr", Ret::Err(libc::ENOENT))]);
        let o = RemountOp { target: "/usr".into(), read_only: true, recursive: false, no_dev: false };
        let e = o.apply((), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!(e.message, "cannot remount /usr read-only: no such file or directory");
        assert_eq!(o.to_string(), "remount /usr read-only");
    }
}
