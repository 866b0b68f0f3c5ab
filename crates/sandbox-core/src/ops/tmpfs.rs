//! tmpfs: a private tmpfs, nosuid and nodev, with a size limit and the mode
//! of its root directory.

use super::{check_mode, check_target, OpProblem, RootFs, SetupOp};
use crate::error::{Code, SetupError};
use crate::plan::TmpfsOp;
use crate::sys::MsFlags;
use std::fmt;

/// tmpfs takes sizes as a signed long.
const MAX_SIZE: u64 = i64::MAX as u64;

/// The mount data: the root's mode and the size limit.
fn data(o: &TmpfsOp) -> String {
    match o.size {
        Some(s) => format!("mode={:o},size={s}", o.mode),
        None => format!("mode={:o}", o.mode),
    }
}

impl SetupOp for TmpfsOp {
    no_early!();

    fn validate(&self) -> Result<(), OpProblem> {
        check_target(&self.target)?;
        match self.size {
            Some(0) => return Err(OpProblem::new("size", "size must be greater than 0")),
            Some(s) if s > MAX_SIZE => return Err(OpProblem::new("size", format!("size {s} is out of range"))),
            _ => {}
        }
        check_mode(self.mode)
    }

    fn apply(&self, (): (), root: &mut RootFs) -> Result<(), SetupError> {
        let mut flags = (libc::MS_NOSUID | libc::MS_NODEV) as MsFlags;
        if self.read_only {
            flags |= libc::MS_RDONLY as MsFlags;
        }
        root.mount_fs(&self.target, "tmpfs", flags, Some(&data(self)))
            .map_err(|e| SetupError::sys(Code::Mount, format_args!("mount tmpfs on {}", self.target), e))
    }
}

impl fmt::Display for TmpfsOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}tmpfs on {} mode {:o}", if self.read_only { "read-only " } else { "" }, self.target, self.mode)?;
        if let Some(s) = self.size {
            write!(f, " size {s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::sys::script::{Ret, Script};

    #[test]
    fn size_and_mode_reach_the_mount_data() {
        let o = TmpfsOp { target: "/tmp".into(), size: Some(1 << 20), mode: 0o1777, read_only: false };
        let s = Script::new(vec![
            open_dir(3, "/tmp", 5),
            call("mount(\"tmpfs\", \"/host/proc/self/fd/5\", \"tmpfs\", NOSUID|NODEV, \"mode=1777,size=1048576\")", Ret::Ok),
            close(5),
        ]);
        o.apply((), &mut RootFs::new(&s, 3)).unwrap();
        s.done();
        assert_eq!(o.to_string(), "tmpfs on /tmp mode 1777 size 1048576");
    }

    #[test]
    fn zero_size_is_invalid() {
        let o = TmpfsOp { target: "/tmp".into(), size: Some(0), mode: 0o755, read_only: false };
        assert_eq!(o.validate().unwrap_err().field, "size");
        assert_eq!(TmpfsOp { size: Some(u64::MAX), ..o.clone() }.validate().unwrap_err().field, "size");
        assert_eq!(TmpfsOp { size: None, mode: 0o10000, ..o.clone() }.validate().unwrap_err().field, "mode");
        assert_eq!(TmpfsOp { size: None, ..o }.validate(), Ok(()));
    }

    #[test]
    fn missing_target_dir_failure() {
        let o = TmpfsOp { target: "/t".into(), size: None, mode: 0o755, read_only: true };
        let s = Script::new(vec![call(format!("open_in_root(3, \"/t\", {:#o})", libc::O_DIRECTORY), Ret::Err(10_005))]);
        let e = o.apply((), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!(e.message, "cannot mount tmpfs on /t: error 10005");
        s.done();
    }
}
