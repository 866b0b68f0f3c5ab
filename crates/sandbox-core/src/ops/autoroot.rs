//! autoroot: every top-level entry of the host root but proc, dev, tmp, mnt
//! and etc (those the sandbox makes its own), as hakurei's: directories and
//! files bound (read-only unless writable), symlinks recreated as they are
//! (so /bin -> usr/bin stays a link).

use super::rootfs::{Bind, Point, HOST};
use super::{check_target, EarlyCx, OpProblem, RootFs, SetupOp};
use crate::error::{Code, SetupError};
use crate::plan::AutorootOp;
use crate::sys::{Errno, FileKind, Sys};
use std::fmt;

const SKIP: [&str; 5] = ["proc", "dev", "tmp", "mnt", "etc"];

/// A top-level host entry as it will appear in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A symlink, recreated with these contents.
    Link { name: String, contents: String },
    /// A directory or a file, bound.
    Bind { name: String, point: Point },
}

impl SetupOp for AutorootOp {
    type Prepared = Vec<Entry>;

    fn validate(&self) -> Result<(), OpProblem> {
        check_target(&self.target)
    }

    /// Host root: list / with kinds and link contents. Sockets, fifos and
    /// devices at the top level are left out.
    fn early(&self, sys: &dyn Sys, _: &EarlyCx) -> Result<Vec<Entry>, SetupError> {
        let names = sys.read_dir("/").map_err(|e| SetupError::sys(Code::Mount, "list /", e))?;
        let mut out = Vec::new();
        for name in names.into_iter().filter(|n| !SKIP.contains(&n.as_str())) {
            let path = format!("/{name}");
            let entry = match sys.lstat(&path) {
                Ok(FileKind::Symlink) => {
                    let contents = sys.readlink(&path).map_err(|e| SetupError::sys(Code::Mount, format_args!("read link {path}"), e))?;
                    Entry::Link { name, contents }
                }
                Ok(kind @ (FileKind::Dir | FileKind::File)) => Entry::Bind { name, point: Point::for_kind(kind) },
                Ok(FileKind::Other) | Err(Errno(libc::ENOENT)) => continue,
                Err(e) => return Err(SetupError::sys(Code::Mount, format_args!("stat {path}"), e)),
            };
            out.push(entry);
        }
        Ok(out)
    }

    fn apply(&self, entries: Vec<Entry>, root: &mut RootFs) -> Result<(), SetupError> {
        let t = self.target.trim_end_matches('/');
        for entry in entries {
            match entry {
                Entry::Link { name, contents } => {
                    let target = format!("{t}/{name}");
                    root.symlink(&target, &contents).map_err(|e| SetupError::sys(Code::Setup, format_args!("create symlink {target} -> {contents}"), e))?;
                }
                Entry::Bind { name, point } => {
                    let (shown, source, target) = (format!("/{name}"), format!("{HOST}/{name}"), format!("{t}/{name}"));
                    root.bind(&Bind { shown: &shown, source: &source, target: &target, point, recursive: true, writable: self.writable, device: false })?;
                }
            }
        }
        Ok(())
    }
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
        let o = AutorootOp { target: "/".into(), writable: false };
        let s = Script::new(vec![
            call("read_dir(\"/\")", Ret::Names(vec!["bin".into(), "dev".into(), "etc".into(), "gone".into(), "sock".into(), "usr".into()])),
            call("lstat(\"/bin\")", Ret::Kind(FileKind::Symlink)),
            call("readlink(\"/bin\")", Ret::Text("usr/bin".into())),
            call("lstat(\"/gone\")", Ret::Err(libc::ENOENT)),
            call("lstat(\"/sock\")", Ret::Kind(FileKind::Other)),
            call("lstat(\"/usr\")", Ret::Kind(FileKind::Dir)),
        ]);
        let entries = o.early(&s, &cx()).unwrap();
        s.done();
        assert_eq!(entries, vec![Entry::Link { name: "bin".into(), contents: "usr/bin".into() }, Entry::Bind { name: "usr".into(), point: Point::Dir }]);
        let s = Script::new(
            [
                vec![open_dir(3, "/", 4), call("symlinkat(\"usr/bin\", 4, \"bin\")", Ret::Ok), close(4)],
                vec![open_dir(3, "/usr", 5), call("mount(\"/host/usr\", \"/host/proc/self/fd/5\", -, BIND|REC, -)", Ret::Ok), close(5)],
                setattr(3, "/usr", 6, true, "RDONLY|NOSUID|NODEV"),
            ]
            .concat(),
        );
        o.apply(entries, &mut RootFs::new(&s, 3)).unwrap();
        s.done();
    }

    #[test]
    fn files_are_bound_on_files_and_failures_name_the_entry() {
        let o = AutorootOp { target: "/".into(), writable: true };
        let s = Script::new(
            [
                vec![
                    open_any(3, "/init", Ret::Err(libc::ENOENT)),
                    open_dir(3, "/", 4),
                    call("mkfileat(4, \"init\", 444)", Ret::Ok),
                    close(4),
                    open_any(3, "/init", Ret::Fd(5)),
                    call("mount(\"/host/init\", \"/host/proc/self/fd/5\", -, BIND|REC, -)", Ret::Ok),
                    close(5),
                ],
                setattr(3, "/init", 6, true, "NOSUID|NODEV"),
                vec![open_dir(3, "/", 4), call("symlinkat(\"usr/lib\", 4, \"lib\")", Ret::Err(10_021)), close(4)],
            ]
            .concat(),
        );
        let entries = vec![Entry::Bind { name: "init".into(), point: Point::File }, Entry::Link { name: "lib".into(), contents: "usr/lib".into() }];
        let e = o.apply(entries, &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!(e.message, "cannot create symlink /lib -> usr/lib: error 10021");
        s.done();
        let s = Script::new(vec![call("read_dir(\"/\")", Ret::Names(vec!["a".into()])), call("lstat(\"/a\")", Ret::Err(10_022))]);
        assert_eq!(o.early(&s, &cx()).unwrap_err().message, "cannot stat /a: error 10022");
        s.done();
        let s = Script::new(vec![
            call("read_dir(\"/\")", Ret::Names(vec!["a".into()])),
            call("lstat(\"/a\")", Ret::Kind(FileKind::Symlink)),
            call("readlink(\"/a\")", Ret::Err(10_023)),
        ]);
        assert_eq!(o.early(&s, &cx()).unwrap_err().message, "cannot read link /a: error 10023");
        s.done();
        assert_eq!(o.to_string(), "host root entries (but proc, dev, tmp, mnt, etc) on / writable");
    }
}
