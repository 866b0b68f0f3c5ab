//! tmpfs: a private tmpfs, nosuid and nodev, with a size limit and the mode
//! of its root directory.

use super::*;
use crate::plan::TmpfsOp;

/// tmpfs takes sizes as a signed long.
const MAX_SIZE: u64 = i64::MAX as u64;

pub fn validate(o: &TmpfsOp) -> Result<(), (&'static str, String)> {
    match o.size {
        Some(0) => Err(("size", "size must be greater than 0".into())),
        Some(s) if s > MAX_SIZE => Err(("size", format!("size {s} is out of range"))),
        _ => Ok(()),
    }
}

pub fn data(o: &TmpfsOp) -> String {
    match o.size {
        Some(s) => format!("mode={:o},size={s}", o.mode),
        None => format!("mode={:o}", o.mode),
    }
}

pub fn apply(o: &TmpfsOp, sys: &dyn Sys, st: &mut State) -> Result<(), SetupError> {
    let what = || format!("mount tmpfs on {}", o.target);
    let fd = mkdir_all(sys, st.root, &o.target, 0o755).map_err(|e| fail(st, Code::Mount, what(), e))?;
    let mut flags = (libc::MS_NOSUID | libc::MS_NODEV) as MsFlags;
    if o.read_only {
        flags |= libc::MS_RDONLY as MsFlags;
    }
    mount_on(sys, st, &o.target, fd, Some("tmpfs"), Some("tmpfs"), flags, Some(&data(o))).map_err(|e| fail(st, Code::Mount, what(), e))
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
        apply(&o, &s, &mut State::test(3, 0)).unwrap();
        s.done();
        assert_eq!(o.to_string(), "tmpfs on /tmp mode 1777 size 1048576");
    }

    #[test]
    fn zero_size_is_invalid() {
        let o = TmpfsOp { target: "/tmp".into(), size: Some(0), mode: 0o755, read_only: false };
        assert_eq!(validate(&o).unwrap_err().0, "size");
    }

    #[test]
    fn missing_target_dir_failure() {
        let o = TmpfsOp { target: "/t".into(), size: None, mode: 0o755, read_only: true };
        let s = Script::new(vec![call(format!("open_in_root(3, \"/t\", {:#o})", libc::O_DIRECTORY), Ret::Err(10_005))]);
        let e = apply(&o, &s, &mut State::test(3, 1)).unwrap_err();
        assert_eq!(e.message, "cannot mount tmpfs on /t: error 10005");
        s.done();
    }
}
