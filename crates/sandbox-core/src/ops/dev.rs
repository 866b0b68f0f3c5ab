//! dev: a minimal /dev as hakurei's: a tmpfs with the host's null, zero,
//! full, random, urandom and tty bound in, the stdio and fd links, a private
//! devpts instance (ptmx links into it), a writable shm tmpfs, and the /dev
//! tmpfs itself made read-only afterwards (unless `writable`). With
//! `mqueue`, a private mqueue on mqueue/. When the program keeps the
//! caller's session and stdout is a terminal, that terminal is bound on
//! console (hakurei's behaviour).

use super::*;
use crate::plan::DevOp;
use crate::sys::{ATTR_NODEV, ATTR_NOEXEC, ATTR_NOSUID, ATTR_RDONLY};

pub const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];
pub const LINKS: [(&str, &str); 6] = [
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("fd", "/proc/self/fd"),
    ("core", "/proc/kcore"),
    ("ptmx", "pts/ptmx"),
];

/// Host root: find the caller's terminal when the session is kept.
pub fn early(_o: &DevOp, sys: &dyn Sys, st: &State) -> Result<Fact, SetupError> {
    if !st.keep_session || !sys.isatty(1) {
        return Ok(Fact::Console(None));
    }
    match sys.readlink("/proc/self/fd/1") {
        Ok(tty) if tty.starts_with("/dev/") => Ok(Fact::Console(Some(tty))),
        _ => Ok(Fact::Console(None)),
    }
}

pub fn apply(o: &DevOp, sys: &dyn Sys, st: &mut State, fact: &Fact) -> Result<(), SetupError> {
    let t = o.target.trim_end_matches('/');
    let t = if t.is_empty() { "/" } else { t };
    let join = |n: &str| if t == "/" { format!("/{n}") } else { format!("{t}/{n}") };
    let idx = st.index;
    let m = move |what: String| move |e| SetupError::sys(Code::Mount, what, e).at_op(idx);

    let fd = mkdir_all(sys, st.root, t, 0o755).map_err(m(format!("mount dev on {t}")))?;
    let nosuid_nodev = (libc::MS_NOSUID | libc::MS_NODEV) as MsFlags;
    mount_on(sys, st, t, fd, Some("tmpfs"), Some("tmpfs"), nosuid_nodev, Some("mode=755")).map_err(m(format!("mount dev on {t}")))?;

    for name in DEVICES {
        let path = join(name);
        let what = format!("bind /dev/{name} on {path}");
        let fd = ensure_target(sys, st.root, &path, FileKind::Other, 0o444).map_err(m(what.clone()))?;
        mount_on(sys, st, &path, fd, Some(&format!("{HOST}/dev/{name}")), None, libc::MS_BIND as MsFlags, None).map_err(m(what.clone()))?;
        // Device nodes stay usable (no nodev); nothing may be run or gain privileges through them.
        set_attrs(sys, st, &path, false, ATTR_NOSUID | ATTR_NOEXEC).map_err(m(what))?;
    }

    let dfd = sys.open_in_root(st.root, t, libc::O_DIRECTORY).map_err(m(format!("open {t}")))?;
    let r = (|| {
        for (name, link) in LINKS {
            sys.symlinkat(link, dfd, name).map_err(|e| (format!("create symlink {} -> {link}", join(name)), e))?;
        }
        for name in ["shm", "pts"] {
            sys.mkdirat(dfd, name, 0o755).map_err(|e| (format!("create directory {}", join(name)), e))?;
        }
        Ok::<(), (String, Errno)>(())
    })();
    let _ = sys.close(dfd);
    r.map_err(|(what, e)| fail(st, Code::Setup, what, e))?;

    let pts = join("pts");
    let fd = sys.open_in_root(st.root, &pts, libc::O_DIRECTORY).map_err(m(format!("mount devpts on {pts}")))?;
    let data = "newinstance,ptmxmode=0666,mode=620";
    mount_on(sys, st, &pts, fd, Some("devpts"), Some("devpts"), (libc::MS_NOSUID | libc::MS_NOEXEC) as MsFlags, Some(data))
        .map_err(m(format!("mount devpts on {pts}")))?;

    let shm = join("shm");
    let fd = sys.open_in_root(st.root, &shm, libc::O_DIRECTORY).map_err(m(format!("mount tmpfs on {shm}")))?;
    mount_on(sys, st, &shm, fd, Some("tmpfs"), Some("tmpfs"), nosuid_nodev, Some("mode=1777")).map_err(m(format!("mount tmpfs on {shm}")))?;

    if let Fact::Console(Some(tty)) = fact {
        let path = join("console");
        let fd = ensure_target(sys, st.root, &path, FileKind::Other, 0o444).map_err(m(format!("bind {tty} on {path}")))?;
        mount_on(sys, st, &path, fd, Some(&format!("{HOST}{tty}")), None, libc::MS_BIND as MsFlags, None).map_err(m(format!("bind {tty} on {path}")))?;
    }

    if o.mqueue {
        let mq = join("mqueue");
        let fd = mkdir_all(sys, st.root, &mq, 0o755).map_err(m(format!("mount mqueue on {mq}")))?;
        let flags = (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC) as MsFlags;
        mount_on(sys, st, &mq, fd, Some("mqueue"), Some("mqueue"), flags, None).map_err(m(format!("mount mqueue on {mq}")))?;
    }

    if o.writable {
        return Ok(());
    }
    set_attrs(sys, st, t, false, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV).map_err(m(format!("remount {t} read-only")))
}

impl fmt::Display for DevOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dev on {}{}{}", self.target, if self.mqueue { " with mqueue" } else { "" }, if self.writable { " writable" } else { "" })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::sys::script::{Ret, Script};

    fn dev() -> DevOp {
        DevOp { target: "/dev".into(), mqueue: false, writable: false }
    }

    #[test]
    fn console_only_with_a_kept_session_on_a_terminal() {
        let st = State::test(-1, 0);
        let s = Script::new(Vec::<Call>::new());
        assert_eq!(early(&dev(), &s, &st).unwrap(), Fact::Console(None));
        let mut st = State::test(-1, 0);
        st.keep_session = true;
        let s = Script::new(vec![call("isatty(1)", Ret::Int(1)), call("readlink(\"/proc/self/fd/1\")", Ret::Text("/dev/pts/3".into()))]);
        assert_eq!(early(&dev(), &s, &st).unwrap(), Fact::Console(Some("/dev/pts/3".into())));
        let s = Script::new(vec![call("isatty(1)", Ret::Int(0))]);
        assert_eq!(early(&dev(), &s, &st).unwrap(), Fact::Console(None));
        s.done();
    }

    #[test]
    fn writable_with_mqueue_and_console() {
        let mut v = happy_prefix();
        v.extend([
            call("mount(\"devpts\", \"/host/proc/self/fd/12\", \"devpts\", NOSUID|NOEXEC, \"newinstance,ptmxmode=0666,mode=620\")", Ret::Ok),
            close(12),
            open_dir(3, "/dev/shm", 13),
            call("mount(\"tmpfs\", \"/host/proc/self/fd/13\", \"tmpfs\", NOSUID|NODEV, \"mode=1777\")", Ret::Ok),
            close(13),
            open_any(3, "/dev/console", Ret::Err(libc::ENOENT)),
            open_dir(3, "/dev", 30),
            call("mkfileat(30, \"console\", 444)", Ret::Ok),
            close(30),
            open_any(3, "/dev/console", Ret::Fd(14)),
            call("mount(\"/host/dev/pts/3\", \"/host/proc/self/fd/14\", -, BIND, -)", Ret::Ok),
            close(14),
            open_dir_missing(3, "/dev/mqueue"),
            open_dir(3, "/dev", 31),
            mkdirat(31, "mqueue", 0o755, Ret::Ok),
            close(31),
            open_dir(3, "/dev/mqueue", 15),
            call("mount(\"mqueue\", \"/host/proc/self/fd/15\", \"mqueue\", NOSUID|NODEV|NOEXEC, -)", Ret::Ok),
            close(15),
        ]);
        let s = Script::new(v);
        let o = DevOp { target: "/dev".into(), mqueue: true, writable: true };
        apply(&o, &s, &mut State::test(3, 0), &Fact::Console(Some("/dev/pts/3".into()))).unwrap();
        s.done();
        assert_eq!(o.to_string(), "dev on /dev with mqueue writable");
    }

    fn happy_prefix() -> Vec<Call> {
        let mut v =
            vec![open_dir(3, "/dev", 10), call("mount(\"tmpfs\", \"/host/proc/self/fd/10\", \"tmpfs\", NOSUID|NODEV, \"mode=755\")", Ret::Ok), close(10)];
        for (i, n) in DEVICES.iter().enumerate() {
            let fd = 20 + i as i32;
            v.push(open_any(3, &format!("/dev/{n}"), Ret::Err(libc::ENOENT)));
            v.push(open_dir(3, "/dev", 30));
            v.push(call(format!("mkfileat(30, {n:?}, 444)"), Ret::Ok));
            v.push(close(30));
            v.push(open_any(3, &format!("/dev/{n}"), Ret::Fd(fd)));
            v.push(call(format!("mount(\"/host/dev/{n}\", \"/host/proc/self/fd/{fd}\", -, BIND, -)"), Ret::Ok));
            v.push(close(fd));
            v.extend(setattr(3, &format!("/dev/{n}"), 40 + i as i32, false, "NOSUID|NOEXEC"));
        }
        v.push(open_dir(3, "/dev", 11));
        for (n, l) in LINKS {
            v.push(call(format!("symlinkat({l:?}, 11, {n:?})"), Ret::Ok));
        }
        v.push(mkdirat(11, "shm", 0o755, Ret::Ok));
        v.push(mkdirat(11, "pts", 0o755, Ret::Ok));
        v.push(close(11));
        v.push(open_dir(3, "/dev/pts", 12));
        v
    }

    #[test]
    fn builds_a_minimal_read_only_dev() {
        let mut v = happy_prefix();
        v.extend([
            call("mount(\"devpts\", \"/host/proc/self/fd/12\", \"devpts\", NOSUID|NOEXEC, \"newinstance,ptmxmode=0666,mode=620\")", Ret::Ok),
            close(12),
            open_dir(3, "/dev/shm", 13),
            call("mount(\"tmpfs\", \"/host/proc/self/fd/13\", \"tmpfs\", NOSUID|NODEV, \"mode=1777\")", Ret::Ok),
            close(13),
        ]);
        v.extend(setattr(3, "/dev", 14, false, "RDONLY|NOSUID|NODEV"));
        let s = Script::new(v);
        apply(&dev(), &s, &mut State::test(3, 0), &Fact::Console(None)).unwrap();
        s.done();
    }

    #[test]
    fn devpts_failure_is_reported() {
        let mut v = happy_prefix();
        v.extend([
            call("mount(\"devpts\", \"/host/proc/self/fd/12\", \"devpts\", NOSUID|NOEXEC, \"newinstance,ptmxmode=0666,mode=620\")", Ret::Err(10_008)),
            close(12),
        ]);
        let s = Script::new(v);
        let e = apply(&dev(), &s, &mut State::test(3, 3), &Fact::Console(None)).unwrap_err();
        assert_eq!(e.message, "cannot mount devpts on /dev/pts: error 10008");
        assert_eq!(e.op_index, Some(3));
        s.done();
    }
}
