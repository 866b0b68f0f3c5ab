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
    if o.dereference && !o.linkname.starts_with('/') {
        return Err(("linkname", "dereference needs an absolute host path".into()));
    }
    Ok(())
}

/// Host root: with `dereference`, read what the host link points to.
pub fn early(o: &SymlinkOp, sys: &dyn Sys) -> Result<Fact, SetupError> {
    if !o.dereference {
        return Ok(Fact::Nothing);
    }
    sys.readlink(&o.linkname).map(Fact::Link).map_err(|e| SetupError::sys(Code::Setup, format_args!("read link {}", o.linkname), e))
}

pub fn apply(o: &SymlinkOp, sys: &dyn Sys, st: &mut State, fact: &Fact) -> Result<(), SetupError> {
    let linkname = match fact {
        Fact::Link(l) => l.as_str(),
        _ => o.linkname.as_str(),
    };
    let what = || format!("create symlink {} -> {linkname}", o.target);
    let (parent, name) = split(&o.target);
    let pfd = mkdir_all(sys, st.root, parent, 0o755).map_err(|e| fail(st, Code::Setup, what(), e))?;
    let r = match sys.symlinkat(linkname, pfd, name) {
        Err(Errno(libc::EEXIST)) => match sys.readlinkat(pfd, name) {
            Ok(existing) if existing == linkname => Ok(()),
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
        SymlinkOp { target: "/bin".into(), linkname: "usr/bin".into(), dereference: false }
    }

    #[test]
    fn creates_the_link_in_its_parent() {
        let s = Script::new(vec![open_dir(3, "/", 4), call("symlinkat(\"usr/bin\", 4, \"bin\")", Ret::Ok), close(4)]);
        apply(&op(), &s, &mut State::test(3, 0), &Fact::Nothing).unwrap();
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
        apply(&op(), &s, &mut State::test(3, 0), &Fact::Nothing).unwrap();
        let s = Script::new(vec![
            open_dir(3, "/", 4),
            call("symlinkat(\"usr/bin\", 4, \"bin\")", Ret::Err(libc::EEXIST)),
            call("readlinkat(4, \"bin\")", Ret::Text("elsewhere".into())),
            close(4),
        ]);
        let e = apply(&op(), &s, &mut State::test(3, 0), &Fact::Nothing).unwrap_err();
        assert_eq!(e.message, "cannot create symlink /bin -> usr/bin: file exists");
        s.done();
    }

    #[test]
    fn dereference_copies_the_host_links_contents() {
        let o = SymlinkOp { target: "/etc/localtime".into(), linkname: "/etc/localtime".into(), dereference: true };
        let s = Script::new(vec![call("readlink(\"/etc/localtime\")", Ret::Text("/usr/share/zoneinfo/UTC".into()))]);
        let fact = early(&o, &s).unwrap();
        let s = Script::new(vec![open_dir(3, "/etc", 4), call("symlinkat(\"/usr/share/zoneinfo/UTC\", 4, \"localtime\")", Ret::Ok), close(4)]);
        apply(&o, &s, &mut State::test(3, 0), &fact).unwrap();
        s.done();
        assert!(validate(&SymlinkOp { dereference: true, linkname: "rel".into(), ..o }).is_err());
    }

    #[test]
    fn validation() {
        assert!(validate(&SymlinkOp { target: "/x".into(), linkname: "".into(), dereference: false }).is_err());
        assert!(validate(&SymlinkOp { target: "/".into(), linkname: "a".into(), dereference: false }).is_err());
        assert_eq!(op().to_string(), "symlink /bin -> usr/bin");
    }
}
