//! symlink: a link in the new root. Idempotent as bubblewrap: an existing
//! link with the same contents is fine.

use super::{check_target, EarlyCx, OpProblem, RootFs, SetupOp};
use crate::error::{Code, SetupError};
use crate::plan::SymlinkOp;
use crate::sys::Sys;
use std::fmt;

impl SetupOp for SymlinkOp {
    /// What the link will hold: `linkname`, or with `dereference` what the
    /// host link of that name points to.
    type Prepared = String;

    fn validate(&self) -> Result<(), OpProblem> {
        check_target(&self.target)?;
        if self.linkname.is_empty() || self.linkname.contains('\0') || self.linkname.len() > crate::check::MAX_PATH {
            return Err(OpProblem::new("linkname", "linkname must be 1 to 4096 bytes without NUL"));
        }
        if self.target == "/" {
            return Err(OpProblem::new("target", "cannot replace / with a symlink"));
        }
        if self.dereference && !self.linkname.starts_with('/') {
            return Err(OpProblem::new("linkname", "dereference needs an absolute host path"));
        }
        Ok(())
    }

    /// Host root: with `dereference`, read what the host link points to.
    fn early(&self, sys: &dyn Sys, _: &EarlyCx) -> Result<String, SetupError> {
        if !self.dereference {
            return Ok(self.linkname.clone());
        }
        sys.readlink(&self.linkname).map_err(|e| SetupError::sys(Code::Setup, format_args!("read link {}", self.linkname), e))
    }

    fn apply(&self, linkname: String, root: &mut RootFs) -> Result<(), SetupError> {
        root.symlink(&self.target, &linkname).map_err(|e| SetupError::sys(Code::Setup, format_args!("create symlink {} -> {linkname}", self.target), e))
    }
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
        SymlinkOp { target: "/bin".into(), linkname: "usr/bin".into(), dereference: false }
    }

    #[test]
    fn creates_the_link_in_its_parent() {
        let s = Script::new(Vec::<Call>::new());
        let link = op().early(&s, &cx()).unwrap();
        assert_eq!(link, "usr/bin");
        let s = Script::new(vec![open_dir(3, "/", 4), call("symlinkat(\"usr/bin\", 4, \"bin\")", Ret::Ok), close(4)]);
        op().apply(link, &mut RootFs::new(&s, 3)).unwrap();
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
        op().apply("usr/bin".into(), &mut RootFs::new(&s, 3)).unwrap();
        let s = Script::new(vec![
            open_dir(3, "/", 4),
            call("symlinkat(\"usr/bin\", 4, \"bin\")", Ret::Err(libc::EEXIST)),
            call("readlinkat(4, \"bin\")", Ret::Text("elsewhere".into())),
            close(4),
        ]);
        let e = op().apply("usr/bin".into(), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!(e.message, "cannot create symlink /bin -> usr/bin: file exists");
        s.done();
    }

    #[test]
    fn dereference_copies_the_host_links_contents() {
        let o = SymlinkOp { target: "/etc/localtime".into(), linkname: "/etc/localtime".into(), dereference: true };
        let s = Script::new(vec![call("readlink(\"/etc/localtime\")", Ret::Text("/usr/share/zoneinfo/UTC".into()))]);
        let link = o.early(&s, &cx()).unwrap();
        s.done();
        let s = Script::new(vec![open_dir(3, "/etc", 4), call("symlinkat(\"/usr/share/zoneinfo/UTC\", 4, \"localtime\")", Ret::Ok), close(4)]);
        o.apply(link, &mut RootFs::new(&s, 3)).unwrap();
        s.done();
        let s = Script::new(vec![call("readlink(\"/etc/localtime\")", Ret::Err(libc::EINVAL))]);
        assert_eq!(o.early(&s, &cx()).unwrap_err().message, "cannot read link /etc/localtime: invalid argument");
        s.done();
        assert!(SymlinkOp { dereference: true, linkname: "rel".into(), ..o }.validate().is_err());
    }

    #[test]
    fn validation() {
        assert_eq!(SymlinkOp { target: "/x".into(), linkname: "".into(), dereference: false }.validate().unwrap_err().field, "linkname");
        assert_eq!(SymlinkOp { target: "/".into(), linkname: "a".into(), dereference: false }.validate().unwrap_err().field, "target");
        assert_eq!(SymlinkOp { target: "x".into(), linkname: "a".into(), dereference: false }.validate().unwrap_err().field, "target");
        assert_eq!(op().validate(), Ok(()));
        assert_eq!(op().to_string(), "symlink /bin -> usr/bin");
    }
}
