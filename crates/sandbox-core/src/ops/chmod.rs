//! chmod: change the mode of a path in the new root (bubblewrap's --chmod),
//! resolved inside the root and changed through its fd.

use super::*;
use crate::plan::ChmodOp;

pub fn validate(o: &ChmodOp) -> Result<(), (&'static str, String)> {
    if o.mode > 0o7777 {
        return Err(("mode", format!("mode {:o} has bits beyond 07777", o.mode)));
    }
    Ok(())
}

pub fn apply(o: &ChmodOp, sys: &dyn Sys, st: &mut State) -> Result<(), SetupError> {
    let what = || format!("chmod {:o} {}", o.mode, o.target);
    let fd = sys.open_in_root(st.root, &o.target, 0).map_err(|e| fail(st, Code::Setup, what(), e))?;
    let r = sys.chmod(&fd_path(fd), o.mode);
    let _ = sys.close(fd);
    r.map_err(|e| fail(st, Code::Setup, what(), e))
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
        apply(&ChmodOp { target: "/work".into(), mode: 0o700 }, &s, &mut State::test(3, 0)).unwrap();
        s.done();
        let s = Script::new(vec![open_any(3, "/ro", Ret::Fd(6)), call("chmod(\"/host/proc/self/fd/6\", 700)", Ret::Err(libc::EROFS)), close(6)]);
        let e = apply(&ChmodOp { target: "/ro".into(), mode: 0o700 }, &s, &mut State::test(3, 0)).unwrap_err();
        assert_eq!(e.message, "cannot chmod 700 /ro: read-only file system");
        assert!(validate(&ChmodOp { target: "/x".into(), mode: 0o17777 }).is_err());
    }
}
