//! bind: a host path in the sandbox. Read-only, nodev and nosuid unless the
//! plan says writable/device; recursive, and read-only recursively (every
//! submount too, as bubblewrap). `optional` skips a missing source.

use super::*;
use crate::plan::BindOp;
use crate::sys::{ATTR_NODEV, ATTR_NOSUID, ATTR_RDONLY};

pub fn validate(o: &BindOp) -> Result<(), (&'static str, String)> {
    crate::validate::check_abs(&o.source).map_err(|r| ("source", r))
}

/// Host root: learn what the source is (following symlinks, as bwrap).
pub fn early(o: &BindOp, sys: &dyn Sys) -> Result<Fact, SetupError> {
    match sys.stat(&o.source) {
        Ok(kind) => Ok(Fact::Source(kind)),
        Err(Errno(libc::ENOENT)) if o.optional => Ok(Fact::Skip),
        Err(Errno(libc::ENOENT)) => Err(SetupError::new(Code::SourceMissing, format!("source {} does not exist", o.source))),
        Err(e) => Err(SetupError::sys(Code::Mount, format_args!("stat bind source {}", o.source), e)),
    }
}

pub fn apply(o: &BindOp, sys: &dyn Sys, st: &mut State, fact: &Fact) -> Result<(), SetupError> {
    let kind = match fact {
        Fact::Skip => return Ok(()),
        Fact::Source(k) => *k,
        _ => FileKind::Dir,
    };
    let what = || format!("bind {} on {}", o.source, o.target);
    let fd = ensure_target(sys, st.root, &o.target, kind, 0o444).map_err(|e| fail(st, Code::Mount, what(), e))?;
    let source = format!("{HOST}{}", o.source);
    mount_on(sys, st, &o.target, fd, Some(&source), None, (libc::MS_BIND | libc::MS_REC) as MsFlags, None)
        .map_err(|e| fail(st, Code::Mount, what(), e))?;
    let mut attrs = ATTR_NOSUID;
    if !o.writable {
        attrs |= ATTR_RDONLY;
    }
    if !o.device {
        attrs |= ATTR_NODEV;
    }
    set_attrs(sys, st, &o.target, true, attrs).map_err(|e| fail(st, Code::Mount, format!("make {} {}", o.target, if o.writable { "nosuid" } else { "read-only" }), e))
}

impl fmt::Display for BindOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match (self.writable, self.device) {
            (_, true) => "dev-bind",
            (true, false) => "bind",
            (false, false) => "ro-bind",
        };
        write!(f, "{mode} {} on {}{}", self.source, self.target, if self.optional { " (if present)" } else { "" })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::sys::script::{Ret, Script};

    fn op(src: &str, dst: &str) -> BindOp {
        BindOp { source: src.into(), target: dst.into(), writable: false, device: false, optional: false }
    }

    #[test]
    fn early_learns_the_source_kind_or_skips() {
        let s = Script::new(vec![call("stat(\"/usr\")", Ret::Kind(FileKind::Dir))]);
        assert_eq!(early(&op("/usr", "/usr"), &s).unwrap(), Fact::Source(FileKind::Dir));
        let mut o = op("/nope", "/x");
        o.optional = true;
        let s = Script::new(vec![call("stat(\"/nope\")", Ret::Err(libc::ENOENT))]);
        assert_eq!(early(&o, &s).unwrap(), Fact::Skip);
        s.done();
    }

    #[test]
    fn early_missing_source_is_source_missing() {
        let s = Script::new(vec![call("stat(\"/nope\")", Ret::Err(libc::ENOENT))]);
        assert_eq!(early(&op("/nope", "/x"), &s).unwrap_err().code, Code::SourceMissing);
        let s = Script::new(vec![call("stat(\"/secret\")", Ret::Err(10_002))]);
        let e = early(&op("/secret", "/x"), &s).unwrap_err();
        assert_eq!(e.code, Code::Mount);
        assert!(e.message.contains("error 10002"), "{}", e.message);
    }

    #[test]
    fn read_only_bind_of_a_directory() {
        let s = Script::new(
            [
                vec![
                    open_dir(3, "/usr", 7),
                    call("mount(\"/host/usr\", \"/host/proc/self/fd/7\", -, BIND|REC, -)", Ret::Ok),
                    close(7),
                ],
                setattr(3, "/usr", 8, true, "RDONLY|NOSUID|NODEV"),
            ]
            .concat(),
        );
        let mut st = State { root: 3, index: 0, files: false };
        apply(&op("/usr", "/usr"), &s, &mut st, &Fact::Source(FileKind::Dir)).unwrap();
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
        let mut st = State { root: 3, index: 0, files: false };
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
        let mut st = State { root: 3, index: 0, files: false };
        apply(&op("/etc/hosts", "/etc/hosts"), &s, &mut st, &Fact::Source(FileKind::File)).unwrap();
        s.done();
    }

    #[test]
    fn mount_failure_names_the_op() {
        let s = Script::new(vec![
            open_dir(3, "/usr", 7),
            call("mount(\"/host/usr\", \"/host/proc/self/fd/7\", -, BIND|REC, -)", Ret::Err(10_003)),
            close(7),
        ]);
        let mut st = State { root: 3, index: 4, files: false };
        let e = apply(&op("/usr", "/usr"), &s, &mut st, &Fact::Source(FileKind::Dir)).unwrap_err();
        assert_eq!((e.code, e.op_index), (Code::Mount, Some(4)));
        assert_eq!(e.message, "cannot bind /usr on /usr: error 10003");
        s.done();
    }

    #[test]
    fn skipped_optional_does_nothing() {
        let s = Script::new(Vec::<Call>::new());
        let mut st = State { root: 3, index: 0, files: false };
        apply(&op("/nope", "/x"), &s, &mut st, &Fact::Skip).unwrap();
        s.done();
    }

    #[test]
    fn display_names_the_mode() {
        assert_eq!(op("/a", "/b").to_string(), "ro-bind /a on /b");
    }
}
