//! file: a read-only file with given contents, from the plan (`data`) or
//! copied from a host file at setup (`source`). As hakurei's place op the
//! bytes go to a file outside the new root, bound read-only, nodev and
//! nosuid on the target. Unlike it, that file lives on a tmpfs of its own at
//! the target's own path and is not unlinked, so mountinfo inside shows
//! `/etc/motd` as the mount's root rather than a setup name (`tmp.*//deleted`).
//! The tmpfs is in the intermediate root, gone from reach after the pivots.

use super::{check_mode, check_target, EarlyCx, OpProblem, RootFs, SetupOp};
use crate::error::{Code, SetupError};
use crate::plan::FileOp;
use crate::sys::{Errno, Sys};
use std::fmt;

impl SetupOp for FileOp {
    /// The file's contents: the plan's `data`, or what was read from the
    /// host source or the caller's fd.
    type Prepared = Vec<u8>;

    fn validate(&self) -> Result<(), OpProblem> {
        check_target(&self.target)?;
        match (&self.data, &self.source, self.source_fd) {
            (Some(d), None, None) if d.len() > crate::check::MAX_FILE_DATA => return Err(OpProblem::new("data", "data is larger than 16 MiB")),
            (Some(_), None, None) => {}
            (None, Some(s), None) => crate::check::check_abs(s).map_err(|r| OpProblem::new("source", r))?,
            (None, None, Some(fd)) if fd < 0 => return Err(OpProblem::new("sourceFd", format!("fd {fd} is not a descriptor"))),
            (None, None, Some(_)) => {}
            _ => return Err(OpProblem::new("data", "give the contents as exactly one of data, source and sourceFd")),
        }
        check_mode(self.mode)
    }

    /// Host root: read a host source (or the caller's fd) now, while visible.
    fn early(&self, sys: &dyn Sys, _: &EarlyCx) -> Result<Vec<u8>, SetupError> {
        match (&self.data, &self.source, self.source_fd) {
            (_, _, Some(fd)) => sys.read_file(&format!("/proc/self/fd/{fd}")).map_err(|e| SetupError::sys(Code::Setup, format_args!("read fd {fd}"), e)),
            (_, Some(src), None) => match sys.read_file(src) {
                Ok(d) => Ok(d),
                Err(Errno(libc::ENOENT)) => Err(SetupError::new(Code::SourceMissing, format!("source {src} does not exist"))),
                Err(e) => Err(SetupError::sys(Code::Setup, format_args!("read {src}"), e)),
            },
            (Some(d), None, None) => Ok(d.as_bytes().to_vec()),
            (None, None, None) => Err(SetupError::new(Code::PlanInvalid, format!("file {} has no contents", self.target))),
        }
    }

    fn apply(&self, data: Vec<u8>, root: &mut RootFs) -> Result<(), SetupError> {
        root.place_file(&self.target, &data, self.mode)
    }
}

impl fmt::Display for FileOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.data, &self.source, self.source_fd) {
            (Some(d), _, _) => write!(f, "file {} ({} bytes)", self.target, d.len()),
            (_, Some(s), _) => write!(f, "file {} copied from {s}", self.target),
            (_, _, Some(fd)) => write!(f, "file {} read from fd {fd}", self.target),
            _ => write!(f, "file {}", self.target),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::sys::script::{Ret, Script};

    fn op(data: Option<&str>, source: Option<&str>) -> FileOp {
        FileOp { target: "/etc/motd".into(), data: data.map(Into::into), source: source.map(Into::into), source_fd: None, mode: 0o444 }
    }

    fn placed(first: Vec<Call>) -> Vec<Call> {
        [
            first,
            vec![
                call("mkdir(\"/files/etc\", 755)", Ret::Ok),
                call("unlink(\"/files/etc/motd\")", Ret::Err(libc::ENOENT)),
                call("create_file(\"/files/etc/motd\", \"hi\\n\", 444)", Ret::Ok),
                open_any(3, "/etc/motd", Ret::Fd(6)),
                call("mount(\"/files/etc/motd\", \"/host/proc/self/fd/6\", -, BIND, -)", Ret::Ok),
                close(6),
            ],
            setattr(3, "/etc/motd", 7, false, "RDONLY|NOSUID|NODEV"),
        ]
        .concat()
    }

    #[test]
    fn places_data_read_only_and_mounts_the_files_tmpfs_once() {
        let s = Script::new(
            [
                placed(vec![call("mkdir(\"/files\", 700)", Ret::Ok), call("mount(\"tmpfs\", \"/files\", \"tmpfs\", NOSUID|NODEV, \"mode=755\")", Ret::Ok)]),
                placed(vec![]),
            ]
            .concat(),
        );
        let o = op(Some("hi\n"), None);
        let data = o.early(&Script::new(Vec::<Call>::new()), &cx()).unwrap();
        assert_eq!(data, b"hi\n");
        let mut root = RootFs::new(&s, 3);
        o.apply(data.clone(), &mut root).unwrap();
        o.apply(data, &mut root).unwrap();
        s.done();
    }

    #[test]
    fn host_source_is_read_in_early() {
        let s = Script::new(vec![call("read_file(\"/etc/hostname\")", Ret::Bytes(b"box\n".to_vec()))]);
        assert_eq!(op(None, Some("/etc/hostname")).early(&s, &cx()).unwrap(), b"box\n");
        let s = Script::new(vec![call("read_file(\"/nope\")", Ret::Err(libc::ENOENT))]);
        assert_eq!(op(None, Some("/nope")).early(&s, &cx()).unwrap_err().code, Code::SourceMissing);
        let s = Script::new(vec![call("read_file(\"/x\")", Ret::Err(10_006))]);
        assert_eq!(op(None, Some("/x")).early(&s, &cx()).unwrap_err().message, "cannot read /x: error 10006");
        let mut o = op(None, None);
        o.source_fd = Some(5);
        let s = Script::new(vec![call("read_file(\"/proc/self/fd/5\")", Ret::Err(10_014))]);
        assert_eq!(o.early(&s, &cx()).unwrap_err().message, "cannot read fd 5: error 10014");
        // no contents at all is a plan validate refuses, never an empty file
        assert_eq!(op(None, None).early(&Script::new(Vec::<Call>::new()), &cx()).unwrap_err().code, Code::PlanInvalid);
    }

    #[test]
    fn temp_file_failure() {
        let s = Script::new(vec![call("mkdir(\"/files\", 700)", Ret::Err(libc::EEXIST))]);
        let e = op(Some("x"), None).apply(b"x".to_vec(), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (Code::Setup, "cannot place file /etc/motd: file exists"));
        s.done();
        let s = Script::new(vec![
            call("mkdir(\"/files\", 700)", Ret::Ok),
            call("mount(\"tmpfs\", \"/files\", \"tmpfs\", NOSUID|NODEV, \"mode=755\")", Ret::Ok),
            call("mkdir(\"/files/etc\", 755)", Ret::Err(libc::EEXIST)),
            call("unlink(\"/files/etc/motd\")", Ret::Ok),
            call("create_file(\"/files/etc/motd\", \"x\", 444)", Ret::Err(10_007)),
        ]);
        let e = op(Some("x"), None).apply(b"x".to_vec(), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!(e.message, "cannot place file /etc/motd: error 10007");
        s.done();
        let s = Script::new(vec![
            call("mkdir(\"/files\", 700)", Ret::Ok),
            call("mount(\"tmpfs\", \"/files\", \"tmpfs\", NOSUID|NODEV, \"mode=755\")", Ret::Err(10_015)),
        ]);
        let e = op(Some("x"), None).apply(b"x".to_vec(), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (Code::Mount, "cannot place file /etc/motd: error 10015"));
        s.done();
    }

    #[test]
    fn exactly_one_of_data_and_source() {
        assert_eq!(op(None, None).validate().unwrap_err().field, "data");
        assert!(op(Some("a"), Some("/b")).validate().is_err());
        assert_eq!(op(None, Some("rel")).validate().unwrap_err().field, "source");
        assert!(op(Some("a"), None).validate().is_ok());
        assert_eq!(FileOp { mode: 0o10000, ..op(Some("a"), None) }.validate().unwrap_err().field, "mode");
        assert_eq!(FileOp { target: "rel".into(), ..op(Some("a"), None) }.validate().unwrap_err().field, "target");
        let mut o = op(None, None);
        o.source_fd = Some(-2);
        assert_eq!(o.validate().unwrap_err().field, "sourceFd");
        o.source_fd = Some(5);
        assert!(o.validate().is_ok());
        assert_eq!(o.to_string(), "file /etc/motd read from fd 5");
        let s = Script::new(vec![call("read_file(\"/proc/self/fd/5\")", Ret::Bytes(b"fd data".to_vec()))]);
        assert_eq!(o.early(&s, &cx()).unwrap(), b"fd data");
        assert_eq!(op(Some("ab"), None).to_string(), "file /etc/motd (2 bytes)");
        assert_eq!(op(None, Some("/h")).to_string(), "file /etc/motd copied from /h");
    }
}
