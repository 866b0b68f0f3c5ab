//! dir: a directory (and its missing parents) in the new root.

use super::*;
use crate::plan::DirOp;

pub fn apply(o: &DirOp, sys: &dyn Sys, st: &mut State) -> Result<(), SetupError> {
    let fd = mkdir_all(sys, st.root, &o.target, o.mode).map_err(|e| fail(st, Code::Setup, format!("create directory {}", o.target), e))?;
    let _ = sys.close(fd);
    Ok(())
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
        apply(&DirOp { target: "/work".into(), mode: 0o700 }, &s, &mut State::test(3, 0)).unwrap();
        s.done();
    }

    #[test]
    fn failure_names_the_directory() {
        let s = Script::new(vec![open_dir_missing(3, "/w"), open_dir(3, "/", 4), mkdirat(4, "w", 0o755, Ret::Err(libc::EROFS)), close(4)]);
        let e = apply(&DirOp { target: "/w".into(), mode: 0o755 }, &s, &mut State::test(3, 0)).unwrap_err();
        assert_eq!(e.message, "cannot create directory /w: read-only file system");
        assert_eq!(DirOp { target: "/w".into(), mode: 0o755 }.to_string(), "directory /w mode 755");
    }
}
