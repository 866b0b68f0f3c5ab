//! bind: a host path in the sandbox. Read-only, nodev and nosuid unless the
//! plan says writable/device; recursive by default, and then read-only
//! recursively (every submount too, as bubblewrap). `optional` skips a
//! missing source, `ensure` creates it (0700, as hakurei).
//!
//! The source is opened O_PATH in early and mounted from that fd
//! (`/host/proc/self/fd/N`): a symlink swapped in after the check cannot
//! redirect the mount (bubblewrap CVE-2024-42472). A caller fd
//! (`sourceFd`, `--bind-fd`) is used the same way.

use super::*;
use crate::plan::BindOp;
use crate::sys::{ATTR_NODEV, ATTR_NOSUID, ATTR_RDONLY};

pub fn validate(o: &BindOp) -> Result<(), (&'static str, String)> {
    match (o.source.is_empty(), o.source_fd) {
        (true, None) => return Err(("source", "give a source path or a sourceFd".into())),
        (false, Some(_)) => return Err(("sourceFd", "give either source or sourceFd, not both".into())),
        (true, Some(fd)) if fd < 0 => return Err(("sourceFd", format!("fd {fd} is not a descriptor"))),
        (true, Some(_)) if o.optional || o.ensure => return Err(("sourceFd", "optional and ensure need a source path".into())),
        (false, None) => crate::validate::check_abs(&o.source).map_err(|r| ("source", r))?,
        _ => {}
    }
    if o.optional && o.ensure {
        return Err(("ensure", "ensure and optional contradict each other".into()));
    }
    if !o.recursive && o.device {
        // A non-recursive bind cannot reveal what submounts cover; nothing to check.
    }
    Ok(())
}

/// Host root: create (`ensure`) and pin the source.
pub fn early(o: &BindOp, sys: &dyn Sys) -> Result<Fact, SetupError> {
    if let Some(fd) = o.source_fd {
        return pin_caller_fd(sys, fd);
    }
    if o.ensure {
        if let Err(e) = mkdir_p(sys, "", &o.source, 0o700) {
            return Err(SetupError::sys(Code::Mount, format_args!("create bind source {}", o.source), e));
        }
    }
    let fd = match sys.open(&o.source, libc::O_PATH) {
        Ok(fd) => fd,
        Err(Errno(libc::ENOENT)) if o.optional => return Ok(Fact::Skip),
        Err(Errno(libc::ENOENT)) => return Err(SetupError::new(Code::SourceMissing, format!("source {} does not exist", o.source))),
        Err(e) => return Err(SetupError::sys(Code::Mount, format_args!("open bind source {}", o.source), e)),
    };
    match sys.fstat(fd) {
        Ok(kind) => Ok(Fact::Pinned { fd, kind, owned: true }),
        Err(e) => {
            let _ = sys.close(fd);
            Err(SetupError::sys(Code::Mount, format_args!("stat bind source {}", o.source), e))
        }
    }
}

/// A caller's fd names a mount of the caller's mount namespace, which
/// mount(2) refuses as a bind source in ours (EINVAL, check_mnt). So find
/// its path, reopen that here, and accept it only if it is the very same
/// inode: a path swapped in the meantime fails instead of being mounted.
fn pin_caller_fd(sys: &dyn Sys, fd: Fd) -> Result<Fact, SetupError> {
    let err = |what: &str, e| SetupError::sys(Code::Mount, format_args!("use bind source fd {fd}: {what}"), e);
    let want = sys.file_id(fd).map_err(|e| err("fstat", e))?;
    let path = sys.readlink(&format!("/proc/self/fd/{fd}")).map_err(|e| err("readlink", e))?;
    if !path.starts_with('/') || path.ends_with(" (deleted)") {
        return Err(SetupError::new(Code::Mount, format!("cannot use bind source fd {fd}: it names no path ({path})")));
    }
    let own = sys.open(&path, libc::O_PATH | libc::O_NOFOLLOW).map_err(|e| err(&format!("reopen {path}"), e))?;
    let check = sys.file_id(own).and_then(|id| sys.fstat(own).map(|k| (id, k)));
    match check {
        Ok((id, kind)) if id == want => Ok(Fact::Pinned { fd: own, kind, owned: true }),
        Ok(_) => {
            let _ = sys.close(own);
            Err(SetupError::new(Code::Mount, format!("cannot use bind source fd {fd}: {path} was replaced")))
        }
        Err(e) => {
            let _ = sys.close(own);
            Err(err(&format!("stat {path}"), e))
        }
    }
}

pub fn apply(o: &BindOp, sys: &dyn Sys, st: &mut State, fact: &Fact) -> Result<(), SetupError> {
    let (source, kind) = match fact {
        Fact::Skip => return Ok(()),
        Fact::Pinned { fd, kind, .. } => (fd_path(*fd), *kind),
        // autoroot: a path under the host root, checked in its early.
        Fact::Source(k) => (format!("{HOST}{}", o.source), *k),
        _ => (format!("{HOST}{}", o.source), FileKind::Dir),
    };
    let r = bind_from(o, sys, st, &source, kind);
    if let Fact::Pinned { fd, owned: true, .. } = fact {
        let _ = sys.close(*fd);
    }
    r
}

fn bind_from(o: &BindOp, sys: &dyn Sys, st: &mut State, source: &str, kind: FileKind) -> Result<(), SetupError> {
    let shown = if o.source.is_empty() { format!("fd {}", o.source_fd.unwrap_or(-1)) } else { o.source.clone() };
    let what = || format!("bind {shown} on {}", o.target);
    let fd = ensure_target(sys, st.root, &o.target, kind, 0o444).map_err(|e| fail(st, Code::Mount, what(), e))?;
    let mut flags = libc::MS_BIND as MsFlags;
    if o.recursive {
        flags |= libc::MS_REC as MsFlags;
    }
    mount_on(sys, st, &o.target, fd, Some(source), None, flags, None).map_err(|e| fail(st, Code::Mount, what(), e))?;
    let mut attrs = ATTR_NOSUID;
    if !o.writable {
        attrs |= ATTR_RDONLY;
    }
    if !o.device {
        attrs |= ATTR_NODEV;
    }
    set_attrs(sys, st, &o.target, o.recursive, attrs)
        .map_err(|e| fail(st, Code::Mount, format!("make {} {}", o.target, if o.writable { "nosuid" } else { "read-only" }), e))
}

impl fmt::Display for BindOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match (self.writable, self.device) {
            (_, true) => "dev-bind",
            (true, false) => "bind",
            (false, false) => "ro-bind",
        };
        match self.source_fd {
            Some(fd) => write!(f, "{mode} fd {fd} on {}", self.target)?,
            None => write!(f, "{mode} {} on {}", self.source, self.target)?,
        }
        if self.optional {
            write!(f, " (if present)")?;
        }
        if self.ensure {
            write!(f, " (source created if missing)")?;
        }
        if !self.recursive {
            write!(f, " (without submounts)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::sys::script::{Ret, Script};

    fn op(src: &str, dst: &str) -> BindOp {
        BindOp { source: src.into(), source_fd: None, target: dst.into(), writable: false, device: false, optional: false, ensure: false, recursive: true }
    }

    fn o_path(p: &str) -> String {
        format!("open({p:?}, {:#o})", libc::O_PATH)
    }

    #[test]
    fn early_pins_the_source_or_skips() {
        let s = Script::new(vec![call(o_path("/usr"), Ret::Fd(20)), call("fstat(20)", Ret::Kind(FileKind::Dir))]);
        assert_eq!(early(&op("/usr", "/usr"), &s).unwrap(), Fact::Pinned { fd: 20, kind: FileKind::Dir, owned: true });
        s.done();
        let mut o = op("/nope", "/x");
        o.optional = true;
        let s = Script::new(vec![call(o_path("/nope"), Ret::Err(libc::ENOENT))]);
        assert_eq!(early(&o, &s).unwrap(), Fact::Skip);
        s.done();
    }

    #[test]
    fn early_missing_source_is_source_missing() {
        let s = Script::new(vec![call(o_path("/nope"), Ret::Err(libc::ENOENT))]);
        assert_eq!(early(&op("/nope", "/x"), &s).unwrap_err().code, Code::SourceMissing);
        let s = Script::new(vec![call(o_path("/secret"), Ret::Err(10_002))]);
        let e = early(&op("/secret", "/x"), &s).unwrap_err();
        assert_eq!(e.code, Code::Mount);
        assert!(e.message.contains("error 10002"), "{}", e.message);
        let s = Script::new(vec![call(o_path("/x"), Ret::Fd(21)), call("fstat(21)", Ret::Err(10_009)), call("close(21)", Ret::Ok)]);
        assert_eq!(early(&op("/x", "/x"), &s).unwrap_err().message, "cannot stat bind source /x: error 10009");
        s.done();
    }

    #[test]
    fn ensure_creates_the_source_first() {
        let mut o = op("/data/cache", "/cache");
        o.ensure = true;
        let s = Script::new(vec![
            call("mkdir(\"/data\", 700)", Ret::Err(libc::EEXIST)),
            call("mkdir(\"/data/cache\", 700)", Ret::Ok),
            call(o_path("/data/cache"), Ret::Fd(22)),
            call("fstat(22)", Ret::Kind(FileKind::Dir)),
        ]);
        assert_eq!(early(&o, &s).unwrap(), Fact::Pinned { fd: 22, kind: FileKind::Dir, owned: true });
        s.done();
    }

    #[test]
    fn caller_fd_source_is_used_as_given() {
        let o = BindOp { source: String::new(), source_fd: Some(7), ..op("", "/in") };
        let s = Script::new(vec![
            call("file_id(7)", Ret::Int(42)),
            call("readlink(\"/proc/self/fd/7\")", Ret::Text("/srv/data".into())),
            call(format!("open(\"/srv/data\", {:#o})", libc::O_PATH | libc::O_NOFOLLOW), Ret::Fd(30)),
            call("file_id(30)", Ret::Int(42)),
            call("fstat(30)", Ret::Kind(FileKind::Dir)),
        ]);
        assert_eq!(early(&o, &s).unwrap(), Fact::Pinned { fd: 30, kind: FileKind::Dir, owned: true });
        s.done();
        // the path now names another file: refused
        let s = Script::new(vec![
            call("file_id(7)", Ret::Int(42)),
            call("readlink(\"/proc/self/fd/7\")", Ret::Text("/srv/data".into())),
            call(format!("open(\"/srv/data\", {:#o})", libc::O_PATH | libc::O_NOFOLLOW), Ret::Fd(30)),
            call("file_id(30)", Ret::Int(43)),
            call("fstat(30)", Ret::Kind(FileKind::Dir)),
            call("close(30)", Ret::Ok),
        ]);
        assert_eq!(early(&o, &s).unwrap_err().message, "cannot use bind source fd 7: /srv/data was replaced");
        s.done();
        let s = Script::new(
            [
                vec![open_dir(3, "/in", 8), call("mount(\"/host/proc/self/fd/30\", \"/host/proc/self/fd/8\", -, BIND|REC, -)", Ret::Ok), close(8)],
                setattr(3, "/in", 9, true, "RDONLY|NOSUID|NODEV"),
                vec![close(30)],
            ]
            .concat(),
        );
        apply(&o, &s, &mut State::test(3, 0), &Fact::Pinned { fd: 30, kind: FileKind::Dir, owned: true }).unwrap();
        s.done();
        assert_eq!(o.to_string(), "ro-bind fd 7 on /in");
    }

    #[test]
    fn contradictions_are_rejected() {
        let mut o = op("/a", "/b");
        o.optional = true;
        o.ensure = true;
        assert_eq!(validate(&o).unwrap_err().0, "ensure");
        let o = BindOp { source_fd: Some(3), ..op("/a", "/b") };
        assert_eq!(validate(&o).unwrap_err().0, "sourceFd");
        let o = BindOp { source: String::new(), ..op("", "/b") };
        assert_eq!(validate(&o).unwrap_err().0, "source");
    }

    #[test]
    fn read_only_bind_of_a_directory() {
        let s = Script::new(
            [
                vec![open_dir(3, "/usr", 7), call("mount(\"/host/proc/self/fd/20\", \"/host/proc/self/fd/7\", -, BIND|REC, -)", Ret::Ok), close(7)],
                setattr(3, "/usr", 8, true, "RDONLY|NOSUID|NODEV"),
                vec![close(20)],
            ]
            .concat(),
        );
        let mut st = State::test(3, 0);
        apply(&op("/usr", "/usr"), &s, &mut st, &Fact::Pinned { fd: 20, kind: FileKind::Dir, owned: true }).unwrap();
        s.done();
    }

    #[test]
    fn bind_on_root_reopens_the_root() {
        let mut o = op("/", "/");
        o.writable = true;
        o.device = true;
        let s = Script::new(
            [
                vec![
                    open_dir(3, "/", 7),
                    call("mount(\"/host/\", \"/host/proc/self/fd/7\", -, BIND|REC, -)", Ret::Ok),
                    close(7),
                    call(format!("open(\"/sysroot\", {:#o})", libc::O_PATH | libc::O_DIRECTORY), Ret::Fd(9)),
                    close(3),
                ],
                setattr(9, "/", 10, true, "NOSUID"),
            ]
            .concat(),
        );
        let mut st = State::test(3, 0);
        apply(&o, &s, &mut st, &Fact::Source(FileKind::Dir)).unwrap();
        assert_eq!(st.root, 9);
        s.done();
    }

    #[test]
    fn file_source_gets_an_empty_file_target() {
        let s = Script::new(
            [
                vec![
                    open_any(3, "/etc/hosts", Ret::Err(libc::ENOENT)),
                    open_dir(3, "/etc", 5),
                    call("mkfileat(5, \"hosts\", 444)", Ret::Ok),
                    close(5),
                    open_any(3, "/etc/hosts", Ret::Fd(6)),
                    call("mount(\"/host/etc/hosts\", \"/host/proc/self/fd/6\", -, BIND|REC, -)", Ret::Ok),
                    close(6),
                ],
                setattr(3, "/etc/hosts", 8, true, "RDONLY|NOSUID|NODEV"),
            ]
            .concat(),
        );
        let mut st = State::test(3, 0);
        apply(&op("/etc/hosts", "/etc/hosts"), &s, &mut st, &Fact::Source(FileKind::File)).unwrap();
        s.done();
    }

    #[test]
    fn mount_failure_names_the_op() {
        let s = Script::new(vec![
            open_dir(3, "/usr", 7),
            call("mount(\"/host/proc/self/fd/20\", \"/host/proc/self/fd/7\", -, BIND|REC, -)", Ret::Err(10_003)),
            close(7),
            close(20),
        ]);
        let mut st = State::test(3, 4);
        let e = apply(&op("/usr", "/usr"), &s, &mut st, &Fact::Pinned { fd: 20, kind: FileKind::Dir, owned: true }).unwrap_err();
        assert_eq!((e.code, e.op_index), (Code::Mount, Some(4)));
        assert_eq!(e.message, "cannot bind /usr on /usr: error 10003");
        s.done();
    }

    #[test]
    fn skipped_optional_does_nothing() {
        let s = Script::new(Vec::<Call>::new());
        let mut st = State::test(3, 0);
        apply(&op("/nope", "/x"), &s, &mut st, &Fact::Skip).unwrap();
        s.done();
    }

    #[test]
    fn display_names_the_mode() {
        assert_eq!(op("/a", "/b").to_string(), "ro-bind /a on /b");
    }
}
