//! chmod: change the mode of a path in the new root (bubblewrap's --chmod),
//! resolved inside the root and changed through its fd.

use super::{check_mode, check_target, OpProblem, RootFs, SetupOp};
use crate::error::{Code, SetupError};
use crate::plan::ChmodOp;
use std::fmt;

impl SetupOp for ChmodOp {
    no_early!();

    fn validate(&self) -> Result<(), OpProblem> {
        check_target(&self.target)?;
        check_mode(self.mode)
    }

    fn apply(&self, (): (), root: &mut RootFs) -> Result<(), SetupError> {
        root.chmod(&self.target, self.mode).map_err(|e| SetupError::sys(Code::Setup, format_args!("chmod {:o} {}", self.mode, self.target), e))
    }
}

impl fmt::Display for ChmodOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "chmod {:o} {}", self.mode, self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::sys::script::{Ret, Script};

    #[test]
    fn changes_the_mode_through_the_fd() {
        let s = Script::new(vec![open_any(3, "/work", Ret::Fd(6)), call("chmod(\"/host/proc/self/fd/6\", 700)", Ret::Ok), close(6)]);
        ChmodOp { target: "/work".into(), mode: 0o700 }.apply((), &mut RootFs::new(&s, 3)).unwrap();
        s.done();
        let s = Script::new(vec![open_any(3, "/ro", Ret::Fd(6)), call("chmod(\"/host/proc/self/fd/6\", 700)", Ret::Err(libc::EROFS)), close(6)]);
        let e = ChmodOp { target: "/ro".into(), mode: 0o700 }.apply((), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!(e.message, "cannot chmod 700 /ro: read-only file system");
        s.done();
        let s = Script::new(vec![open_any(3, "/gone", Ret::Err(libc::ENOENT))]);
        let e = ChmodOp { target: "/gone".into(), mode: 0o700 }.apply((), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!(e.message, "cannot chmod 700 /gone: no such file or directory");
        s.done();
        assert_eq!(ChmodOp { target: "/x".into(), mode: 0o17777 }.validate().unwrap_err().field, "mode");
        assert_eq!(ChmodOp { target: "/x".into(), mode: 0o700 }.to_string(), "chmod 700 /x");
    }
}
