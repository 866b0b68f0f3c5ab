//! autoetc: the host's /etc in the sandbox as hakurei does it: the whole of
//! it bound read-only at `<target>/.host`, and in `<target>` one relative
//! symlink per entry, so the sandbox can still place its own files (passwd,
//! group, hosts…) beside them. passwd and group are left out (see the passwd
//! op); mtab points at /proc/mounts.

use super::rootfs::{Bind, Point, HOST};
use super::{check_target, EarlyCx, OpProblem, RootFs, SetupOp};
use crate::error::{Code, SetupError};
use crate::plan::AutoetcOp;
use crate::sys::Sys;
use std::fmt;

impl SetupOp for AutoetcOp {
    /// The names in the host's /etc.
    type Prepared = Vec<String>;

    fn validate(&self) -> Result<(), OpProblem> {
        check_target(&self.target)
    }

    /// Host root: list /etc.
    fn early(&self, sys: &dyn Sys, _: &EarlyCx) -> Result<Vec<String>, SetupError> {
        sys.read_dir("/etc").map_err(|e| SetupError::sys(Code::Mount, "list /etc", e))
    }

    fn apply(&self, names: Vec<String>, root: &mut RootFs) -> Result<(), SetupError> {
        let t = self.target.trim_end_matches('/');
        let hidden = format!("{t}/.host");
        let source = format!("{HOST}/etc");
        root.bind(&Bind { shown: "/etc", source: &source, target: &hidden, point: Point::Dir, recursive: true, writable: false, device: false })?;
        let sys = root.sys();
        let dfd = root.open(t, libc::O_DIRECTORY).map_err(|e| SetupError::sys(Code::Setup, format_args!("populate {t}"), e))?;
        let mut r = Ok(());
        for name in &names {
            if matches!(name.as_str(), ".host" | "passwd" | "group") {
                continue;
            }
            let link = if name == "mtab" { "/proc/mounts".to_string() } else { format!(".host/{name}") };
            if let Err(e) = sys.symlinkat(&link, dfd, name) {
                // An earlier op may have placed its own file there: it wins.
                if e.0 != libc::EEXIST {
                    r = Err(SetupError::sys(Code::Setup, format_args!("create symlink {t}/{name} -> {link}"), e));
                    break;
                }
            }
        }
        let _ = sys.close(dfd);
        r
    }
}

impl fmt::Display for AutoetcOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host /etc on {} through per-entry symlinks", self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::sys::script::{Ret, Script};

    fn etc() -> AutoetcOp {
        AutoetcOp { target: "/etc".into() }
    }

    #[test]
    fn binds_etc_and_links_each_entry() {
        let s = Script::new(vec![call("read_dir(\"/etc\")", Ret::Names(vec!["group".into(), "hosts".into(), "mtab".into(), "passwd".into()]))]);
        let names = etc().early(&s, &cx()).unwrap();
        s.done();
        let s = Script::new(
            [
                vec![open_dir(3, "/etc/.host", 5), call("mount(\"/host/etc\", \"/host/proc/self/fd/5\", -, BIND|REC, -)", Ret::Ok), close(5)],
                setattr(3, "/etc/.host", 6, true, "RDONLY|NOSUID|NODEV"),
                vec![
                    open_dir(3, "/etc", 7),
                    call("symlinkat(\".host/hosts\", 7, \"hosts\")", Ret::Ok),
                    call("symlinkat(\"/proc/mounts\", 7, \"mtab\")", Ret::Err(libc::EEXIST)),
                    close(7),
                ],
            ]
            .concat(),
        );
        etc().apply(names, &mut RootFs::new(&s, 3)).unwrap();
        s.done();
        assert_eq!(etc().to_string(), "host /etc on /etc through per-entry symlinks");
    }

    #[test]
    fn failures() {
        let s = Script::new(vec![call("read_dir(\"/etc\")", Ret::Err(libc::EACCES))]);
        assert_eq!(etc().early(&s, &cx()).unwrap_err().message, "cannot list /etc: permission denied");
        s.done();
        let s =
            Script::new(vec![open_dir(3, "/etc/.host", 5), call("mount(\"/host/etc\", \"/host/proc/self/fd/5\", -, BIND|REC, -)", Ret::Err(10_019)), close(5)]);
        assert_eq!(etc().apply(vec![], &mut RootFs::new(&s, 3)).unwrap_err().message, "cannot bind /etc on /etc/.host: error 10019");
        s.done();
        let s = Script::new(
            [
                vec![open_dir(3, "/etc/.host", 5), call("mount(\"/host/etc\", \"/host/proc/self/fd/5\", -, BIND|REC, -)", Ret::Ok), close(5)],
                setattr(3, "/etc/.host", 6, true, "RDONLY|NOSUID|NODEV"),
                vec![open_dir(3, "/etc", 7), call("symlinkat(\".host/hosts\", 7, \"hosts\")", Ret::Err(10_020)), close(7)],
            ]
            .concat(),
        );
        let e = etc().apply(vec!["hosts".into(), "x".into()], &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (Code::Setup, "cannot create symlink /etc/hosts -> .host/hosts: error 10020"));
        s.done();
    }
}
