//! dev: a minimal /dev as hakurei's: a tmpfs with the host's null, zero,
//! full, random, urandom and tty bound in, the stdio and fd links, a private
//! devpts instance (ptmx links into it), a writable shm tmpfs, and the /dev
//! tmpfs itself made read-only afterwards.

use super::*;
use crate::plan::DevOp;
use crate::sys::{ATTR_NODEV, ATTR_NOSUID, ATTR_RDONLY};

pub const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];
pub const LINKS: [(&str, &str); 6] = [
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("fd", "/proc/self/fd"),
    ("core", "/proc/kcore"),
    ("ptmx", "pts/ptmx"),
];

pub fn apply(o: &DevOp, sys: &dyn Sys, st: &mut State) -> Result<(), SetupError> {
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
        mount_on(sys, st, &path, fd, Some(&format!("{HOST}/dev/{name}")), None, libc::MS_BIND as MsFlags, None).map_err(m(what))?;
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

    set_attrs(sys, st, t, false, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV).map_err(m(format!("remount {t} read-only")))
}

impl fmt::Display for DevOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dev on {}", self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::sys::script::{Ret, Script};

    fn happy_prefix() -> Vec<Call> {
        let mut v = vec![
            open_dir(3, "/dev", 10),
            call("mount(\"tmpfs\", \"/host/proc/self/fd/10\", \"tmpfs\", NOSUID|NODEV, \"mode=755\")", Ret::Ok),
            close(10),
        ];
        for (i, n) in DEVICES.iter().enumerate() {
            let fd = 20 + i as i32;
            v.push(open_any(3, &format!("/dev/{n}"), Ret::Err(libc::ENOENT)));
            v.push(open_dir(3, "/dev", 30));
            v.push(call(format!("mkfileat(30, {n:?}, 444)"), Ret::Ok));
            v.push(close(30));
            v.push(open_any(3, &format!("/dev/{n}"), Ret::Fd(fd)));
            v.push(call(format!("mount(\"/host/dev/{n}\", \"/host/proc/self/fd/{fd}\", -, BIND, -)"), Ret::Ok));
            v.push(close(fd));
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
        apply(&DevOp { target: "/dev".into() }, &s, &mut State { root: 3, index: 0, files: false }).unwrap();
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
        let e = apply(&DevOp { target: "/dev".into() }, &s, &mut State { root: 3, index: 3, files: false }).unwrap_err();
        assert_eq!(e.message, "cannot mount devpts on /dev/pts: error 10008");
        assert_eq!(e.op_index, Some(3));
        s.done();
    }
}
