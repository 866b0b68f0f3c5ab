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
    match (&o.data, &o.source) {
        (Some(_), Some(_)) => Err(("source", "give either data or source, not both".into())),
        (None, None) => Err(("data", "give the contents as data or a host source".into())),
        (Some(d), None) if d.len() > crate::validate::MAX_FILE_DATA => Err(("data", "data is larger than 16 MiB".into())),
        (None, Some(s)) => crate::validate::check_abs(s).map_err(|r| ("source", r)),
        _ => Ok(()),
    }
}

/// Host root: read a host source now, while it is visible.
pub fn early(o: &FileOp, sys: &dyn Sys) -> Result<Fact, SetupError> {
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
    let what = || format!("place file {}", o.target);
    if !st.files {
        sys.mkdir(FILES, 0o700).map_err(|e| fail(st, Code::Setup, what(), e))?;
        let flags = (libc::MS_NOSUID | libc::MS_NODEV) as MsFlags;
        sys.mount(Some("tmpfs"), FILES, Some("tmpfs"), flags, Some("mode=755")).map_err(|e| fail(st, Code::Mount, what(), e))?;
        st.files = true;
    }
    // Mirror the target's parents; the same target placed twice replaces the file.
    let mut dir = String::from(FILES);
    for part in split(&o.target).0.split('/').filter(|p| !p.is_empty()) {
        dir.push('/');
        dir.push_str(part);
        match sys.mkdir(&dir, 0o755) {
            Ok(()) | Err(Errno(libc::EEXIST)) => {}
            Err(e) => return Err(fail(st, Code::Setup, what(), e)),
        }
    }
    let tmp = format!("{FILES}{}", o.target);
    match sys.unlink(&tmp) {
        Ok(()) | Err(Errno(libc::ENOENT)) => {}
        Err(e) => return Err(fail(st, Code::Setup, what(), e)),
    }
    sys.create_file(&tmp, data, o.mode).map_err(|e| fail(st, Code::Setup, what(), e))?;
    let fd = ensure_target(sys, st.root, &o.target, FileKind::File, 0o444).map_err(|e| fail(st, Code::Mount, what(), e))?;
    mount_on(sys, st, &o.target, fd, Some(&tmp), None, libc::MS_BIND as MsFlags, None).map_err(|e| fail(st, Code::Mount, what(), e))?;
    set_attrs(sys, st, &o.target, false, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV).map_err(|e| fail(st, Code::Mount, what(), e))
}

/// The tmpfs holding placed files, in the intermediate root.
const FILES: &str = "/files";

impl fmt::Display for FileOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.data, &self.source) {
            (Some(d), _) => write!(f, "file {} ({} bytes)", self.target, d.len()),
            (_, Some(s)) => write!(f, "file {} copied from {s}", self.target),
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
        FileOp { target: "/etc/motd".into(), data: data.map(Into::into), source: source.map(Into::into), mode: 0o444 }
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
        let mut st = State { root: 3, index: 2, files: false };
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
        let e = apply(&op(Some("x"), None), &s, &mut State { root: 3, index: 0, files: true }, &Fact::Nothing).unwrap_err();
        assert_eq!(e.message, "cannot place file /etc/motd: error 10007");
        s.done();
    }

    #[test]
    fn exactly_one_of_data_and_source() {
        assert!(validate(&op(None, None)).is_err());
        assert!(validate(&op(Some("a"), Some("/b"))).is_err());
        assert!(validate(&op(None, Some("rel"))).is_err());
        assert!(validate(&op(Some("a"), None)).is_ok());
        assert_eq!(op(Some("ab"), None).to_string(), "file /etc/motd (2 bytes)");
    }
}
