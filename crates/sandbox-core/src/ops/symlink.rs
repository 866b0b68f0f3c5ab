//! symlink: a link in the new root. Idempotent as bubblewrap: an existing
//! link with the same contents is fine.

use super::*;
use crate::plan::SymlinkOp;

pub fn validate(o: &SymlinkOp) -> Result<(), (&'static str, String)> {
    if o.linkname.is_empty() || o.linkname.contains('\0') || o.linkname.len() > crate::validate::MAX_PATH {
        return Err(("linkname", "linkname must be 1 to 4096 bytes without NUL".into()));
    }
    if o.target == "/" {
        return Err(("target", "cannot replace / with a symlink".into()));
    }
    Ok(())
}

pub fn apply(o: &SymlinkOp, sys: &dyn Sys, st: &mut State) -> Result<(), SetupError> {
    let what = || format!("create symlink {} -> {}", o.target, o.linkname);
    let (parent, name) = split(&o.target);
    let pfd = mkdir_all(sys, st.root, parent, 0o755).map_err(|e| fail(st, Code::Setup, what(), e))?;
    let r = match sys.symlinkat(&o.linkname, pfd, name) {
        Err(Errno(libc::EEXIST)) => match sys.readlinkat(pfd, name) {
            Ok(existing) if existing == o.linkname => Ok(()),
            _ => Err(Errno(libc::EEXIST)),
        },
        r => r,
    };
    let _ = sys.close(pfd);
    r.map_err(|e| fail(st, Code::Setup, what(), e))
}

impl fmt::Display for SymlinkOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "symlink {} -> {}", self.target, self.linkname)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::sys::script::{Ret, Script};

    fn op() -> SymlinkOp {
        SymlinkOp { target: "/bin".into(), linkname: "usr/bin".into() }
    }

    #[test]
    fn creates_the_link_in_its_parent() {
        let s = Script::new(vec![open_dir(3, "/", 4), call("symlinkat(\"usr/bin\", 4, \"bin\")", Ret::Ok), close(4)]);
        apply(&op(), &s, &mut State { root: 3, index: 0, files: false }).unwrap();
        s.done();
    }

    #[test]
    fn same_link_twice_is_fine_a_different_one_is_not() {
        let s = Script::new(vec![
            open_dir(3, "/", 4),
            call("symlinkat(\"usr/bin\", 4, \"bin\")", Ret::Err(libc::EEXIST)),
            call("readlinkat(4, \"bin\")", Ret::Text("usr/bin".into())),
            close(4),
        ]);
        apply(&op(), &s, &mut State { root: 3, index: 0, files: false }).unwrap();
        let s = Script::new(vec![
            open_dir(3, "/", 4),
            call("symlinkat(\"usr/bin\", 4, \"bin\")", Ret::Err(libc::EEXIST)),
            call("readlinkat(4, \"bin\")", Ret::Text("elsewhere".into())),
            close(4),
        ]);
        let e = apply(&op(), &s, &mut State { root: 3, index: 0, files: false }).unwrap_err();
        assert_eq!(e.message, "cannot create symlink /bin -> usr/bin: file exists");
        s.done();
    }

    #[test]
    fn validation() {
        assert!(validate(&SymlinkOp { target: "/x".into(), linkname: "".into() }).is_err());
        assert!(validate(&SymlinkOp { target: "/".into(), linkname: "a".into() }).is_err());
        assert_eq!(op().to_string(), "symlink /bin -> usr/bin");
    }
}
