//! bind: a host path in the sandbox. Read-only, nodev and nosuid unless the
//! plan says writable/device; recursive by default, and then read-only
//! recursively (every submount too, as bubblewrap). `optional` skips a
//! missing source, `ensure` creates it (0700, as hakurei).
//!
//! The source is opened O_PATH in early and mounted from that fd
//! (`/host/proc/self/fd/N`): a symlink swapped in after the check cannot
//! redirect the mount (bubblewrap CVE-2024-42472). A caller fd
//! (`sourceFd`, `--bind-fd`) is used the same way.

use super::rootfs::{mkdir_p, Bind, Point};
use super::{check_target, EarlyCx, OpProblem, RootFs, SetupOp};
use crate::error::{Code, SetupError};
use crate::plan::{BindOp, MissingTarget};
use crate::sys::{Errno, Fd, FileKind, Sys};
use std::fmt;

/// What early found of the source.
#[derive(Debug, PartialEq, Eq)]
pub enum Source {
    /// An optional source that does not exist: apply does nothing.
    Missing,
    /// The source opened O_PATH in the host root (or a caller's fd reopened
    /// there); apply mounts from this fd and closes it.
    Pinned { fd: Fd, kind: FileKind },
}

impl SetupOp for BindOp {
    type Prepared = Source;

    fn validate(&self) -> Result<(), OpProblem> {
        check_target(&self.target)?;
        match (self.source.is_empty(), self.source_fd) {
            (true, None) => return Err(OpProblem::new("source", "give a source path or a sourceFd")),
            (false, Some(_)) => return Err(OpProblem::new("sourceFd", "give either source or sourceFd, not both")),
            (true, Some(fd)) if fd < 0 => return Err(OpProblem::new("sourceFd", format!("fd {fd} is not a descriptor"))),
            (true, Some(_)) if self.optional || self.ensure => return Err(OpProblem::new("sourceFd", "optional and ensure need a source path")),
            (true, Some(_)) => {}
            (false, None) => crate::check::check_abs(&self.source).map_err(|r| OpProblem::new("source", r))?,
        }
        if self.optional && self.ensure {
            return Err(OpProblem::new("ensure", "ensure and optional contradict each other"));
        }
        Ok(())
    }

    /// Host root: create (`ensure`) and pin the source.
    fn early(&self, sys: &dyn Sys, _: &EarlyCx) -> Result<Source, SetupError> {
        if let Some(fd) = self.source_fd {
            return pin_caller_fd(sys, fd);
        }
        if self.ensure {
            if let Err(e) = mkdir_p(sys, "", &self.source, 0o700) {
                return Err(SetupError::sys(Code::Mount, format_args!("create bind source {}", self.source), e));
            }
        }
        let fd = match sys.open(&self.source, libc::O_PATH) {
            Ok(fd) => fd,
            Err(Errno(libc::ENOENT)) if self.optional => return Ok(Source::Missing),
            Err(Errno(libc::ENOENT)) => return Err(SetupError::new(Code::SourceMissing, format!("source {} does not exist", self.source))),
            Err(e) => return Err(SetupError::sys(Code::Mount, format_args!("open bind source {}", self.source), e)),
        };
        match sys.fstat(fd) {
            Ok(kind) => Ok(Source::Pinned { fd, kind }),
            Err(e) => {
                let _ = sys.close(fd);
                Err(SetupError::sys(Code::Mount, format_args!("stat bind source {}", self.source), e))
            }
        }
    }

    fn apply(&self, source: Source, root: &mut RootFs) -> Result<(), SetupError> {
        let (fd, kind) = match source {
            // optional, and not there
            Source::Missing => return Ok(()),
            Source::Pinned { fd, kind } => (fd, kind),
        };
        let shown = match self.source_fd {
            Some(caller) => format!("fd {caller}"),
            None => self.source.clone(),
        };
        // ch-run's rules for a target missing in an image root.
        if self.missing_target != MissingTarget::Create {
            match root.open(&self.target, libc::O_PATH) {
                Ok(t) => {
                    let _ = root.sys().close(t);
                }
                Err(Errno(libc::ENOENT)) => {
                    let _ = root.sys().close(fd);
                    if self.missing_target == MissingTarget::Skip {
                        return Ok(());
                    }
                    return Err(SetupError::new(Code::TargetMissing, format!("cannot bind {shown}: {} does not exist in the read-only image", self.target))
                        .with_hint("make the image writable to create it: --write-fake (writes gone after the run) or --write (a directory image)"));
                }
                Err(e) => {
                    let _ = root.sys().close(fd);
                    return Err(SetupError::sys(Code::Mount, format_args!("bind {shown} on {}", self.target), e));
                }
            }
        }
        let from = root.fd_path(fd);
        let bind = Bind {
            shown: &shown,
            source: &from,
            target: &self.target,
            point: Point::for_kind(kind),
            recursive: self.recursive,
            writable: self.writable,
            device: self.device,
        };
        let r = root.bind(&bind);
        let _ = root.sys().close(fd);
        r
    }
}

impl BindOp {
    /// Whether this op binds the host's whole root on `/` with its
    /// submounts: then pid 1 keeps its namespace's copy of that tree as the
    /// new root instead of copying it again (init/root.rs).
    pub fn binds_host_root(&self) -> bool {
        let root = |p: &str| !p.is_empty() && p.trim_end_matches('/').is_empty();
        self.source_fd.is_none() && root(&self.source) && root(&self.target) && self.recursive && self.missing_target == MissingTarget::Create
    }

    /// Apply of a [`BindOp::binds_host_root`] op when the root is kept in
    /// place: the tree is already at `/`, so only its attributes are set,
    /// on every mount of it at once, as the bind sets them on its copy.
    pub fn keep_root(&self, source: Source, root: &mut RootFs) -> Result<(), SetupError> {
        if let Source::Pinned { fd, .. } = source {
            let _ = root.sys().close(fd);
        }
        root.keep_host_attrs(self.writable, self.device)
    }
}

/// A caller's fd names a mount of the caller's mount namespace, which
/// mount(2) refuses as a bind source in ours (EINVAL, check_mnt). So find
/// its path, reopen that here, and accept it only if it is the very same
/// inode: a path swapped in the meantime fails instead of being mounted.
fn pin_caller_fd(sys: &dyn Sys, fd: Fd) -> Result<Source, SetupError> {
    let err = |what: &str, e| SetupError::sys(Code::Mount, format_args!("use bind source fd {fd}: {what}"), e);
    let want = sys.file_id(fd).map_err(|e| err("fstat", e))?;
    let path = sys.readlink(&format!("/proc/self/fd/{fd}")).map_err(|e| err("readlink", e))?;
    if !path.starts_with('/') || path.ends_with(" (deleted)") {
        return Err(SetupError::new(Code::Mount, format!("cannot use bind source fd {fd}: it names no path ({path})")));
    }
    let own = sys.open(&path, libc::O_PATH | libc::O_NOFOLLOW).map_err(|e| err(&format!("reopen {path}"), e))?;
    let check = sys.file_id(own).and_then(|id| sys.fstat(own).map(|k| (id, k)));
    match check {
        Ok((id, kind)) if id == want => Ok(Source::Pinned { fd: own, kind }),
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
        match self.missing_target {
            MissingTarget::Create => {}
            MissingTarget::Skip => write!(f, " (skipped when the target is missing)")?,
            MissingTarget::Refuse => write!(f, " (the target must exist)")?,
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
        BindOp {
            source: src.into(),
            source_fd: None,
            target: dst.into(),
            writable: false,
            device: false,
            optional: false,
            ensure: false,
            recursive: true,
            missing_target: MissingTarget::Create,
        }
    }

    fn o_path(p: &str) -> String {
        format!("open({p:?}, {:#o})", libc::O_PATH)
    }

    fn pinned(fd: Fd, kind: FileKind) -> Source {
        Source::Pinned { fd, kind }
    }

    #[test]
    fn early_pins_the_source_or_skips() {
        let s = Script::new(vec![call(o_path("/usr"), Ret::Fd(20)), call("fstat(20)", Ret::Kind(FileKind::Dir))]);
        assert_eq!(op("/usr", "/usr").early(&s, &cx()).unwrap(), pinned(20, FileKind::Dir));
        s.done();
        let mut o = op("/nope", "/x");
        o.optional = true;
        let s = Script::new(vec![call(o_path("/nope"), Ret::Err(libc::ENOENT))]);
        assert_eq!(o.early(&s, &cx()).unwrap(), Source::Missing);
        s.done();
    }

    #[test]
    fn early_missing_source_is_source_missing() {
        let s = Script::new(vec![call(o_path("/nope"), Ret::Err(libc::ENOENT))]);
        assert_eq!(op("/nope", "/x").early(&s, &cx()).unwrap_err().code, Code::SourceMissing);
        let s = Script::new(vec![call(o_path("/secret"), Ret::Err(10_002))]);
        let e = op("/secret", "/x").early(&s, &cx()).unwrap_err();
        assert_eq!(e.code, Code::Mount);
        assert!(e.message.contains("error 10002"), "{}", e.message);
        let s = Script::new(vec![call(o_path("/x"), Ret::Fd(21)), call("fstat(21)", Ret::Err(10_009)), call("close(21)", Ret::Ok)]);
        assert_eq!(op("/x", "/x").early(&s, &cx()).unwrap_err().message, "cannot stat bind source /x: error 10009");
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
        assert_eq!(o.early(&s, &cx()).unwrap(), pinned(22, FileKind::Dir));
        s.done();
        let s = Script::new(vec![call("mkdir(\"/data\", 700)", Ret::Err(10_012))]);
        assert_eq!(o.early(&s, &cx()).unwrap_err().message, "cannot create bind source /data/cache: error 10012");
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
        assert_eq!(o.early(&s, &cx()).unwrap(), pinned(30, FileKind::Dir));
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
        assert_eq!(o.early(&s, &cx()).unwrap_err().message, "cannot use bind source fd 7: /srv/data was replaced");
        s.done();
        // a deleted file names no path
        let s = Script::new(vec![call("file_id(7)", Ret::Int(42)), call("readlink(\"/proc/self/fd/7\")", Ret::Text("/srv/x (deleted)".into()))]);
        assert_eq!(o.early(&s, &cx()).unwrap_err().message, "cannot use bind source fd 7: it names no path (/srv/x (deleted))");
        s.done();
        let s = Script::new(
            [
                vec![open_dir(3, "/in", 8), call("mount(\"/host/proc/self/fd/30\", \"/host/proc/self/fd/8\", -, BIND|REC, -)", Ret::Ok), close(8)],
                setattr(3, "/in", 9, true, "RDONLY|NOSUID|NODEV"),
                vec![close(30)],
            ]
            .concat(),
        );
        o.apply(pinned(30, FileKind::Dir), &mut RootFs::new(&s, 3)).unwrap();
        s.done();
        assert_eq!(o.to_string(), "ro-bind fd 7 on /in");
    }

    #[test]
    fn contradictions_are_rejected() {
        let mut o = op("/a", "/b");
        o.optional = true;
        o.ensure = true;
        assert_eq!(o.validate().unwrap_err().field, "ensure");
        let o = BindOp { source_fd: Some(3), ..op("/a", "/b") };
        assert_eq!(o.validate().unwrap_err().field, "sourceFd");
        let o = BindOp { source: String::new(), ..op("", "/b") };
        assert_eq!(o.validate().unwrap_err().field, "source");
        let o = BindOp { source: String::new(), source_fd: Some(-1), ..op("", "/b") };
        assert_eq!(o.validate().unwrap_err(), OpProblem::new("sourceFd", "fd -1 is not a descriptor"));
        let o = BindOp { source: String::new(), source_fd: Some(4), optional: true, ..op("", "/b") };
        assert_eq!(o.validate().unwrap_err().reason, "optional and ensure need a source path");
        assert_eq!(op("rel", "/b").validate().unwrap_err().field, "source");
        assert_eq!(op("/a", "b").validate().unwrap_err().field, "target");
        assert_eq!(BindOp { source: String::new(), source_fd: Some(4), ..op("", "/b") }.validate(), Ok(()));
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
        op("/usr", "/usr").apply(pinned(20, FileKind::Dir), &mut RootFs::new(&s, 3)).unwrap();
        s.done();
    }

    fn o_path_in(root: i32, path: &str, ret: Ret) -> Call {
        call(format!("open_in_root({root}, {path:?}, {:#o})", libc::O_PATH), ret)
    }

    #[test]
    fn a_missing_target_is_skipped_or_refused_as_asked() {
        let mut o = op("/etc/hosts", "/etc/hosts");
        o.missing_target = MissingTarget::Skip;
        let s = Script::new(vec![o_path_in(3, "/etc/hosts", Ret::Err(libc::ENOENT)), close(20)]);
        o.apply(pinned(20, FileKind::File), &mut RootFs::new(&s, 3)).unwrap();
        s.done();

        let mut o = op("/data", "/data");
        o.missing_target = MissingTarget::Refuse;
        let s = Script::new(vec![o_path_in(3, "/data", Ret::Err(libc::ENOENT)), close(20)]);
        let e = o.apply(pinned(20, FileKind::Dir), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!(e.code, Code::TargetMissing);
        assert_eq!(e.message, "cannot bind /data: /data does not exist in the read-only image");
        assert!(e.hint.unwrap().contains("--write-fake"));
        s.done();

        let s = Script::new(vec![o_path_in(3, "/data", Ret::Err(10_004)), close(20)]);
        let e = o.apply(pinned(20, FileKind::Dir), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (Code::Mount, "cannot bind /data on /data: error 10004"));
        s.done();

        // Present: bound as any bind.
        let s = Script::new(
            [
                vec![o_path_in(3, "/data", Ret::Fd(6)), close(6)],
                vec![open_dir(3, "/data", 7), call("mount(\"/host/proc/self/fd/20\", \"/host/proc/self/fd/7\", -, BIND|REC, -)", Ret::Ok), close(7)],
                setattr(3, "/data", 8, true, "RDONLY|NOSUID|NODEV"),
                vec![close(20)],
            ]
            .concat(),
        );
        o.apply(pinned(20, FileKind::Dir), &mut RootFs::new(&s, 3)).unwrap();
        s.done();
    }

    #[test]
    fn with_an_image_root_no_mount_point_is_made_below_an_earlier_bind() {
        let readlink = |fd: i32, to: &str| call(format!("readlink(\"/host/proc/self/fd/{fd}\")"), Ret::Text(to.into()));
        let s = Script::new(
            [
                // The first bind: /tmp exists; bound, then remembered.
                vec![open_dir(3, "/tmp", 7), call("mount(\"/host/proc/self/fd/20\", \"/host/proc/self/fd/7\", -, BIND|REC, -)", Ret::Ok), close(7)],
                setattr(3, "/tmp", 8, true, "NOSUID|NODEV"),
                vec![o_path_in(3, "/tmp", Ret::Fd(9)), readlink(9, "/sysroot/tmp"), close(9), close(20)],
                // The second: /tmp/x/y is missing, its nearest ancestor is in /tmp.
                vec![
                    o_path_in(3, "/tmp/x/y", Ret::Err(libc::ENOENT)),
                    o_path_in(3, "/tmp/x", Ret::Err(libc::ENOENT)),
                    o_path_in(3, "/tmp", Ret::Fd(10)),
                    readlink(10, "/sysroot/tmp"),
                    close(10),
                    close(21),
                ],
                // The third: /mnt/a exists (a mount point of the image): fine.
                vec![o_path_in(3, "/mnt/a", Ret::Fd(11)), close(11)],
                vec![
                    open_dir(3, "/mnt/a", 12),
                    readlink(12, "/sysroot/mnt/a"),
                    call("mount(\"/host/proc/self/fd/22\", \"/host/proc/self/fd/12\", -, BIND|REC, -)", Ret::Ok),
                    close(12),
                ],
                setattr(3, "/mnt/a", 13, true, "NOSUID|NODEV"),
                vec![o_path_in(3, "/mnt/a", Ret::Fd(14)), readlink(14, "/sysroot/mnt/a"), close(14), close(22)],
            ]
            .concat(),
        );
        let mut root = RootFs::new(&s, 3);
        root.guard_binds();
        let w = |src: &str, dst: &str| BindOp { writable: true, ..op(src, dst) };
        w("/host-tmp", "/tmp").apply(pinned(20, FileKind::Dir), &mut root).unwrap();
        let e = w("/d", "/tmp/x/y").apply(pinned(21, FileKind::Dir), &mut root).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (Code::Mount, "cannot create /tmp/x/y: /tmp is a bind mount, and its mount point would be made there"));
        w("/a", "/mnt/a").apply(pinned(22, FileKind::Dir), &mut root).unwrap();
        s.done();
    }

    #[test]
    fn with_an_image_root_no_op_creates_anything_in_an_earlier_bind() {
        let readlink = |fd: i32, to: &str| call(format!("readlink(\"/host/proc/self/fd/{fd}\")"), Ret::Text(to.into()));
        let s = Script::new(
            [
                // /dev bound and remembered.
                vec![open_dir(3, "/dev", 7), call("mount(\"/host/proc/self/fd/20\", \"/host/proc/self/fd/7\", -, BIND|REC, -)", Ret::Ok), close(7)],
                setattr(3, "/dev", 8, true, "NOSUID"),
                vec![o_path_in(3, "/dev", Ret::Fd(9)), readlink(9, "/sysroot/dev"), close(9), close(20)],
                // /etc leads (by a link in the image) to /dev/evil: mkdir_all of /etc finds /dev.
                vec![
                    open_dir_missing(3, "/etc"),
                    open_dir(3, "/", 10),
                    readlink(10, "/sysroot"),
                    mkdirat(10, "etc", 0o755, Ret::Err(libc::EEXIST)),
                    close(10),
                    open_dir_missing(3, "/etc"),
                ],
                // a symlink whose parent is the bind itself
                vec![open_dir(3, "/dev", 11), readlink(11, "/sysroot/dev"), close(11)],
                // and a directory directly in it
                vec![open_dir_missing(3, "/dev/x"), open_dir(3, "/dev", 12), readlink(12, "/sysroot/dev"), close(12)],
            ]
            .concat(),
        );
        let mut root = RootFs::new(&s, 3);
        root.guard_binds();
        BindOp { writable: true, device: true, ..op("/dev", "/dev") }.apply(pinned(20, FileKind::Dir), &mut root).unwrap();
        // The parent exists in the image and is no bind: made (here it already was, and /etc still resolves nowhere).
        assert_eq!(root.mkdir_all("/etc", 0o755), Err(Errno(libc::ENOENT)));
        assert_eq!(root.symlink("/dev/evil", "x"), Err(Errno(libc::EXDEV)));
        assert_eq!(root.mkdir_all("/dev/x", 0o755), Err(Errno(libc::EXDEV)));
        s.done();
    }

    #[test]
    fn a_later_mount_over_a_bind_lets_ops_create_inside_it() {
        let readlink = |fd: i32, to: &str| call(format!("readlink(\"/host/proc/self/fd/{fd}\")"), Ret::Text(to.into()));
        let s = Script::new(
            [
                vec![open_dir(3, "/dev", 7), call("mount(\"/host/proc/self/fd/20\", \"/host/proc/self/fd/7\", -, BIND|REC, -)", Ret::Ok), close(7)],
                setattr(3, "/dev", 8, true, "NOSUID"),
                vec![o_path_in(3, "/dev", Ret::Fd(9)), readlink(9, "/sysroot/dev"), close(9), close(20)],
                // the dev op's tmpfs over it
                vec![
                    open_dir(3, "/dev", 10),
                    readlink(10, "/sysroot/dev"),
                    call("mount(\"tmpfs\", \"/host/proc/self/fd/10\", \"tmpfs\", NOSUID|NODEV, -)", Ret::Ok),
                    close(10),
                ],
                // now /dev/pts may be made there
                vec![
                    open_dir_missing(3, "/dev/pts"),
                    open_dir(3, "/dev", 11),
                    readlink(11, "/sysroot/dev"),
                    mkdirat(11, "pts", 0o755, Ret::Ok),
                    close(11),
                    open_dir(3, "/dev/pts", 12),
                ],
            ]
            .concat(),
        );
        let mut root = RootFs::new(&s, 3);
        root.guard_binds();
        BindOp { writable: true, device: true, ..op("/dev", "/dev") }.apply(pinned(20, FileKind::Dir), &mut root).unwrap();
        root.mount_fs("/dev", "tmpfs", (libc::MS_NOSUID | libc::MS_NODEV) as crate::sys::MsFlags, None).unwrap();
        assert_eq!(root.mkdir_all("/dev/pts", 0o755), Ok(12));
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
                    call("mount(\"/host/proc/self/fd/20\", \"/host/proc/self/fd/7\", -, BIND|REC, -)", Ret::Ok),
                    close(7),
                    call(format!("open(\"/sysroot\", {:#o})", libc::O_PATH | libc::O_DIRECTORY), Ret::Fd(9)),
                    close(3),
                ],
                setattr(9, "/", 10, true, "NOSUID"),
                vec![close(20)],
            ]
            .concat(),
        );
        let mut root = RootFs::new(&s, 3);
        o.apply(pinned(20, FileKind::Dir), &mut root).unwrap();
        assert_eq!(root.root(), 9);
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
                    call("mount(\"/host/proc/self/fd/20\", \"/host/proc/self/fd/6\", -, BIND, -)", Ret::Ok),
                    close(6),
                ],
                setattr(3, "/etc/hosts", 8, false, "RDONLY|NOSUID|NODEV"),
                vec![close(20)],
            ]
            .concat(),
        );
        let o = BindOp { recursive: false, ..op("/etc/hosts", "/etc/hosts") };
        o.apply(pinned(20, FileKind::File), &mut RootFs::new(&s, 3)).unwrap();
        s.done();
        assert_eq!(o.to_string(), "ro-bind /etc/hosts on /etc/hosts (without submounts)");
    }

    #[test]
    fn mount_failure_names_the_op() {
        let s = Script::new(vec![
            open_dir(3, "/usr", 7),
            call("mount(\"/host/proc/self/fd/20\", \"/host/proc/self/fd/7\", -, BIND|REC, -)", Ret::Err(10_003)),
            close(7),
            close(20),
        ]);
        let e = op("/usr", "/usr").apply(pinned(20, FileKind::Dir), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!(e.code, Code::Mount);
        assert_eq!(e.message, "cannot bind /usr on /usr: error 10003");
        s.done();
        // the attributes: read-only, or only nosuid when writable
        let s = Script::new(vec![
            open_dir(3, "/w", 7),
            call("mount(\"/host/proc/self/fd/20\", \"/host/proc/self/fd/7\", -, BIND|REC, -)", Ret::Ok),
            close(7),
            open_any(3, "/w", Ret::Err(10_013)),
            close(20),
        ]);
        let o = BindOp { writable: true, ..op("/w", "/w") };
        assert_eq!(o.apply(pinned(20, FileKind::Dir), &mut RootFs::new(&s, 3)).unwrap_err().message, "cannot make /w nosuid: error 10013");
        s.done();
    }

    #[test]
    fn skipped_optional_does_nothing() {
        let s = Script::new(Vec::<Call>::new());
        op("/nope", "/x").apply(Source::Missing, &mut RootFs::new(&s, 3)).unwrap();
        s.done();
    }

    #[test]
    fn display_names_the_mode() {
        assert_eq!(op("/a", "/b").to_string(), "ro-bind /a on /b");
        let o = BindOp { writable: true, optional: true, ..op("/a", "/b") };
        assert_eq!(o.to_string(), "bind /a on /b (if present)");
        let o = BindOp { device: true, ensure: true, ..op("/a", "/b") };
        assert_eq!(o.to_string(), "dev-bind /a on /b (source created if missing)");
    }
}
