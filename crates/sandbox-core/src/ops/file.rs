//! file: a read-only file with given contents, from the plan (`data`) or
//! copied from a host file at setup (`source`). As hakurei's place op the
//! bytes go to a file outside the new root, bound read-only, nodev and
//! nosuid on the target. Unlike it, that file lives on a tmpfs of its own at
//! the target's own path and is not unlinked, so mountinfo inside shows
//! `/etc/motd` as the mount's root rather than a setup name (`tmp.*//deleted`).
//! The tmpfs is in the intermediate root, gone from reach after the pivots.

use super::*;
use crate::plan::FileOp;
use crate::sys::{ATTR_NODEV, ATTR_NOSUID, ATTR_RDONLY};

pub fn validate(o: &FileOp) -> Result<(), (&'static str, String)> {
    let given = [o.data.is_some(), o.source.is_some(), o.source_fd.is_some()].iter().filter(|b| **b).count();
    if given != 1 {
        return Err(("data", "give the contents as exactly one of data, source and sourceFd".into()));
    }
    match (&o.data, &o.source, o.source_fd) {
        (Some(d), _, _) if d.len() > crate::validate::MAX_FILE_DATA => Err(("data", "data is larger than 16 MiB".into())),
        (_, Some(s), _) => crate::validate::check_abs(s).map_err(|r| ("source", r)),
        (_, _, Some(fd)) if fd < 0 => Err(("sourceFd", format!("fd {fd} is not a descriptor"))),
        _ => Ok(()),
    }
}

/// Host root: read a host source (or the caller's fd) now, while visible.
pub fn early(o: &FileOp, sys: &dyn Sys) -> Result<Fact, SetupError> {
    if let Some(fd) = o.source_fd {
        return sys.read_file(&format!("/proc/self/fd/{fd}")).map(Fact::Data).map_err(|e| SetupError::sys(Code::Setup, format_args!("read fd {fd}"), e));
    }
    let Some(src) = &o.source else { return Ok(Fact::Nothing) };
    match sys.read_file(src) {
        Ok(d) => Ok(Fact::Data(d)),
        Err(Errno(libc::ENOENT)) => Err(SetupError::new(Code::SourceMissing, format!("source {src} does not exist"))),
        Err(e) => Err(SetupError::sys(Code::Setup, format_args!("read {src}"), e)),
    }
}

pub fn apply(o: &FileOp, sys: &dyn Sys, st: &mut State, fact: &Fact) -> Result<(), SetupError> {
    let data: &[u8] = match (fact, &o.data) {
        (Fact::Data(d), _) => d,
        (_, Some(d)) => d.as_bytes(),
        _ => &[],
    };
    place(sys, st, &o.target, data, o.mode)
}

/// Put `data` at `target` in the new root, read-only (shared with passwd).
pub fn place(sys: &dyn Sys, st: &mut State, target: &str, data: &[u8], mode: u32) -> Result<(), SetupError> {
    let what = || format!("place file {target}");
    if !st.files {
        sys.mkdir(FILES, 0o700).map_err(|e| fail(st, Code::Setup, what(), e))?;
        let flags = (libc::MS_NOSUID | libc::MS_NODEV) as MsFlags;
        sys.mount(Some("tmpfs"), FILES, Some("tmpfs"), flags, Some("mode=755")).map_err(|e| fail(st, Code::Mount, what(), e))?;
        st.files = true;
    }
    // Mirror the target's parents; the same target placed twice replaces the file.
    mkdir_p(sys, FILES, split(target).0, 0o755).map_err(|e| fail(st, Code::Setup, what(), e))?;
    let tmp = format!("{FILES}{target}");
    match sys.unlink(&tmp) {
        Ok(()) | Err(Errno(libc::ENOENT)) => {}
        Err(e) => return Err(fail(st, Code::Setup, what(), e)),
    }
    sys.create_file(&tmp, data, mode).map_err(|e| fail(st, Code::Setup, what(), e))?;
    let fd = ensure_target(sys, st.root, target, FileKind::File, 0o444).map_err(|e| fail(st, Code::Mount, what(), e))?;
    mount_on(sys, st, target, fd, Some(&tmp), None, libc::MS_BIND as MsFlags, None).map_err(|e| fail(st, Code::Mount, what(), e))?;
    set_attrs(sys, st, target, false, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV).map_err(|e| fail(st, Code::Mount, what(), e))
}

/// The tmpfs holding placed files, in the intermediate root.
const FILES: &str = "/files";

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

    #[test]
    fn places_data_read_only_and_removes_the_temp_file() {
        let s = Script::new(
            [
                vec![
                    call("mkdir(\"/files\", 700)", Ret::Ok),
                    call("mount(\"tmpfs\", \"/files\", \"tmpfs\", NOSUID|NODEV, \"mode=755\")", Ret::Ok),
                    call("mkdir(\"/files/etc\", 755)", Ret::Ok),
                    call("unlink(\"/files/etc/motd\")", Ret::Err(libc::ENOENT)),
                    call("create_file(\"/files/etc/motd\", \"hi\\n\", 444)", Ret::Ok),
                    open_any(3, "/etc/motd", Ret::Fd(6)),
                    call("mount(\"/files/etc/motd\", \"/host/proc/self/fd/6\", -, BIND, -)", Ret::Ok),
                    close(6),
                ],
                setattr(3, "/etc/motd", 7, false, "RDONLY|NOSUID|NODEV"),
            ]
            .concat(),
        );
        let mut st = State::test(3, 2);
        apply(&op(Some("hi\n"), None), &s, &mut st, &Fact::Nothing).unwrap();
        assert!(st.files);
        s.done();
    }

    #[test]
    fn host_source_is_read_in_early() {
        let s = Script::new(vec![call("read_file(\"/etc/hostname\")", Ret::Bytes(b"box\n".to_vec()))]);
        assert_eq!(early(&op(None, Some("/etc/hostname")), &s).unwrap(), Fact::Data(b"box\n".to_vec()));
        let s = Script::new(vec![call("read_file(\"/nope\")", Ret::Err(libc::ENOENT))]);
        assert_eq!(early(&op(None, Some("/nope")), &s).unwrap_err().code, Code::SourceMissing);
        let s = Script::new(vec![call("read_file(\"/x\")", Ret::Err(10_006))]);
        assert_eq!(early(&op(None, Some("/x")), &s).unwrap_err().message, "cannot read /x: error 10006");
    }

    #[test]
    fn temp_file_failure() {
        let s = Script::new(vec![
            call("mkdir(\"/files/etc\", 755)", Ret::Err(libc::EEXIST)),
            call("unlink(\"/files/etc/motd\")", Ret::Ok),
            call("create_file(\"/files/etc/motd\", \"x\", 444)", Ret::Err(10_007)),
        ]);
        let e = apply(
            &op(Some("x"), None),
            &s,
            &mut {
                let mut st = State::test(3, 0);
                st.files = true;
                st
            },
            &Fact::Nothing,
        )
        .unwrap_err();
        assert_eq!(e.message, "cannot place file /etc/motd: error 10007");
        s.done();
    }

    #[test]
    fn exactly_one_of_data_and_source() {
        assert!(validate(&op(None, None)).is_err());
        assert!(validate(&op(Some("a"), Some("/b"))).is_err());
        assert!(validate(&op(None, Some("rel"))).is_err());
        assert!(validate(&op(Some("a"), None)).is_ok());
        let mut o = op(None, None);
        o.source_fd = Some(5);
        assert!(validate(&o).is_ok());
        assert_eq!(o.to_string(), "file /etc/motd read from fd 5");
        let s = Script::new(vec![call("read_file(\"/proc/self/fd/5\")", Ret::Bytes(b"fd data".to_vec()))]);
        assert_eq!(early(&o, &s).unwrap(), Fact::Data(b"fd data".to_vec()));
        assert_eq!(op(Some("ab"), None).to_string(), "file /etc/motd (2 bytes)");
    }
}
