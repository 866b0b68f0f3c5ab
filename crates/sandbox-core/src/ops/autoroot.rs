//! autoroot: every top-level entry of the host root but proc, dev, tmp, mnt
//! and etc (those the sandbox makes its own), as hakurei's: directories and
//! files bound (read-only unless writable), symlinks recreated as they are
//! (so /bin -> usr/bin stays a link).

use super::*;
use crate::plan::{AutorootOp, BindOp};

const SKIP: [&str; 5] = ["proc", "dev", "tmp", "mnt", "etc"];

/// Host root: list / with kinds and link contents.
pub fn early(sys: &dyn Sys) -> Result<Fact, SetupError> {
    let names = sys.read_dir("/").map_err(|e| SetupError::sys(Code::Mount, "list /", e))?;
    let mut out = Vec::new();
    for name in names.into_iter().filter(|n| !SKIP.contains(&n.as_str())) {
        let path = format!("/{name}");
        let kind = match sys.lstat(&path) {
            Ok(k) => k,
            Err(Errno(libc::ENOENT)) => continue,
            Err(e) => return Err(SetupError::sys(Code::Mount, format_args!("stat {path}"), e)),
        };
        let link = if kind == FileKind::Symlink {
            Some(sys.readlink(&path).map_err(|e| SetupError::sys(Code::Mount, format_args!("read link {path}"), e))?)
        } else {
            None
        };
        out.push((name, kind, link));
    }
    Ok(Fact::Entries(out))
}

pub fn apply(o: &AutorootOp, sys: &dyn Sys, st: &mut State, fact: &Fact) -> Result<(), SetupError> {
    let Fact::Entries(entries) = fact else { return Ok(()) };
    let t = o.target.trim_end_matches('/');
    for (name, kind, link) in entries {
        let target = format!("{t}/{name}");
        match (kind, link) {
            (FileKind::Symlink, Some(l)) => {
                let op = crate::plan::SymlinkOp { target, linkname: l.clone(), dereference: false };
                super::symlink::apply(&op, sys, st, &Fact::Nothing)?;
            }
            (FileKind::Dir | FileKind::File, _) => {
                let op = BindOp {
                    source: format!("/{name}"),
                    source_fd: None,
                    target,
                    writable: o.writable,
                    device: false,
                    optional: true,
                    ensure: false,
                    recursive: true,
                };
                super::bind::apply(&op, sys, st, &Fact::Source(*kind))?;
            }
            _ => {}
        }
    }
    Ok(())
}

impl fmt::Display for AutorootOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host root entries (but proc, dev, tmp, mnt, etc) on {}{}", self.target, if self.writable { " writable" } else { " read-only" })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::sys::script::{Ret, Script};

    #[test]
    fn lists_the_root_without_the_sandboxs_own_dirs() {
        let s = Script::new(vec![
            call("read_dir(\"/\")", Ret::Names(vec!["bin".into(), "dev".into(), "etc".into(), "usr".into()])),
            call("lstat(\"/bin\")", Ret::Kind(FileKind::Symlink)),
            call("readlink(\"/bin\")", Ret::Text("usr/bin".into())),
            call("lstat(\"/usr\")", Ret::Kind(FileKind::Dir)),
        ]);
        let fact = early(&s).unwrap();
        s.done();
        assert_eq!(fact, Fact::Entries(vec![("bin".into(), FileKind::Symlink, Some("usr/bin".into())), ("usr".into(), FileKind::Dir, None)]));
        let s = Script::new(
            [
                vec![open_dir(3, "/", 4), call("symlinkat(\"usr/bin\", 4, \"bin\")", Ret::Ok), close(4)],
                vec![open_dir(3, "/usr", 5), call("mount(\"/host/usr\", \"/host/proc/self/fd/5\", -, BIND|REC, -)", Ret::Ok), close(5)],
                setattr(3, "/usr", 6, true, "RDONLY|NOSUID|NODEV"),
            ]
            .concat(),
        );
        apply(&AutorootOp { target: "/".into(), writable: false }, &s, &mut State::test(3, 0), &fact).unwrap();
        s.done();
    }
}
