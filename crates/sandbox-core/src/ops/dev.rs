//! dev: a minimal /dev as hakurei's: a tmpfs with the host's null, zero,
//! full, random, urandom and tty bound in, the stdio and fd links, a private
//! devpts instance (ptmx links into it), a writable shm tmpfs, and the /dev
//! tmpfs itself made read-only afterwards (unless `writable`). With
//! `mqueue`, a private mqueue on mqueue/. When the program keeps the
//! caller's session and stdout is a terminal, that terminal is bound on
//! console (hakurei's behaviour).
//!
//! The host's devices are opened O_PATH in early and bound from those fds:
//! apply may run in the host's own tree kept as the new root (init/root.rs),
//! where the host's `/dev` is already covered by this op's tmpfs.

use super::rootfs::Point;
use super::{check_target, EarlyCx, OpProblem, RootFs, SetupOp};
use crate::error::{Code, SetupError};
use crate::plan::DevOp;
use crate::sys::{Errno, Fd, MsFlags, Sys, ATTR_NODEV, ATTR_NOEXEC, ATTR_NOSUID, ATTR_RDONLY};
use std::fmt;

pub const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];
pub const LINKS: [(&str, &str); 6] = [
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("fd", "/proc/self/fd"),
    ("core", "/proc/kcore"),
    ("ptmx", "pts/ptmx"),
];

/// What early found on the host: each of [`DEVICES`] opened O_PATH (or why
/// not, reported where its bind is made), and the caller's terminal to bind
/// on console, if any, the same way.
#[derive(Debug, PartialEq, Eq)]
pub struct HostDevices {
    pub devices: Vec<Result<Fd, Errno>>,
    pub console: Option<(String, Result<Fd, Errno>)>,
}

impl HostDevices {
    /// Take the fd at `slot` (leaving EBADF), so what is left is closed once.
    fn take(slot: &mut Result<Fd, Errno>) -> Result<Fd, Errno> {
        std::mem::replace(slot, Err(Errno(libc::EBADF)))
    }

    pub fn close(self, sys: &dyn Sys) {
        for fd in self.devices.into_iter().chain(self.console.map(|c| c.1)).flatten() {
            let _ = sys.close(fd);
        }
    }
}

impl SetupOp for DevOp {
    type Prepared = HostDevices;

    fn validate(&self) -> Result<(), OpProblem> {
        check_target(&self.target)
    }

    /// Host root: pin the devices, and find the caller's terminal when the
    /// session is kept.
    fn early(&self, sys: &dyn Sys, cx: &EarlyCx) -> Result<HostDevices, SetupError> {
        let devices = DEVICES.iter().map(|n| sys.open(&format!("/dev/{n}"), libc::O_PATH)).collect();
        let console = if !cx.keep_session || !sys.isatty(1) {
            None
        } else {
            // Not a terminal of /dev (or gone already): no console, as hakurei.
            sys.readlink("/proc/self/fd/1").ok().filter(|tty| tty.starts_with("/dev/")).map(|tty| {
                let fd = sys.open(&tty, libc::O_PATH);
                (tty, fd)
            })
        };
        Ok(HostDevices { devices, console })
    }

    fn apply(&self, mut host: HostDevices, root: &mut RootFs) -> Result<(), SetupError> {
        let r = self.build(&mut host, root);
        host.close(root.sys());
        r
    }
}

fn mount_error(what: String) -> impl FnOnce(Errno) -> SetupError {
    move |e| SetupError::sys(Code::Mount, what, e)
}

impl DevOp {
    fn target(&self) -> &str {
        let t = self.target.trim_end_matches('/');
        if t.is_empty() {
            "/"
        } else {
            t
        }
    }

    fn join(&self, n: &str) -> String {
        match self.target() {
            "/" => format!("/{n}"),
            t => format!("{t}/{n}"),
        }
    }

    fn build(&self, host: &mut HostDevices, root: &mut RootFs) -> Result<(), SetupError> {
        self.nodes(host, root)?;
        self.build_own(root)?;
        let join = |n: &str| self.join(n);
        let m = mount_error;

        if let Some((tty, slot)) = host.console.as_mut() {
            let path = join("console");
            let what = format!("bind {tty} on {path}");
            let source = HostDevices::take(slot).map_err(m(what.clone()))?;
            let from = root.fd_path(source);
            let r = root.mount_point(&path, Point::File).and_then(|fd| root.mount_on(&path, fd, Some(&from), None, libc::MS_BIND as MsFlags, None));
            let _ = root.sys().close(source);
            r.and_then(|()| root.restore(&path, false, 0)).map_err(m(what))?;
        }

        if self.mqueue {
            let mq = join("mqueue");
            let flags = (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC) as MsFlags;
            root.mount_fs(&mq, "mqueue", flags, None).map_err(m(format!("mount mqueue on {mq}")))?;
        }

        if self.writable {
            return Ok(());
        }
        self.seal(root)
    }

    /// What a warm pool's zygote builds once for every sandbox it forks
    /// (init/root.rs, `ops::shared_dev` says when): the tmpfs with the
    /// devices, links and mount points, read-only. Each sandbox then mounts
    /// only its own devpts and shm ([`Self::build_own`]).
    pub fn build_shared(&self, mut host: HostDevices, root: &mut RootFs) -> Result<(), SetupError> {
        let r = self.nodes(&mut host, root).and_then(|()| self.seal(root));
        host.close(root.sys());
        r
    }

    /// A sandbox's own part of /dev: a new devpts instance and a new shm tmpfs.
    pub fn build_own(&self, root: &mut RootFs) -> Result<(), SetupError> {
        let m = mount_error;
        let nosuid_nodev = (libc::MS_NOSUID | libc::MS_NODEV) as MsFlags;
        let pts = self.join("pts");
        let fd = root.open(&pts, libc::O_DIRECTORY).map_err(m(format!("mount devpts on {pts}")))?;
        let data = "newinstance,ptmxmode=0666,mode=620";
        root.mount_on(&pts, fd, Some("devpts"), Some("devpts"), (libc::MS_NOSUID | libc::MS_NOEXEC) as MsFlags, Some(data))
            .map_err(m(format!("mount devpts on {pts}")))?;

        let shm = self.join("shm");
        let fd = root.open(&shm, libc::O_DIRECTORY).map_err(m(format!("mount tmpfs on {shm}")))?;
        root.mount_on(&shm, fd, Some("tmpfs"), Some("tmpfs"), nosuid_nodev, Some("mode=1777")).map_err(m(format!("mount tmpfs on {shm}")))
    }

    /// The /dev tmpfs made read-only (its own mount only: pts and shm stay writable).
    fn seal(&self, root: &mut RootFs) -> Result<(), SetupError> {
        let t = self.target();
        root.set_attrs(t, false, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV).map_err(mount_error(format!("remount {t} read-only")))
    }

    /// The tmpfs, the host's devices bound in, the links and the mount points.
    fn nodes(&self, host: &mut HostDevices, root: &mut RootFs) -> Result<(), SetupError> {
        let t = self.target();
        let join = |n: &str| self.join(n);
        let m = mount_error;

        let nosuid_nodev = (libc::MS_NOSUID | libc::MS_NODEV) as MsFlags;
        root.mount_fs(t, "tmpfs", nosuid_nodev, Some("mode=755")).map_err(m(format!("mount dev on {t}")))?;

        for (name, slot) in DEVICES.iter().zip(host.devices.iter_mut()) {
            let path = join(name);
            let what = format!("bind /dev/{name} on {path}");
            let source = HostDevices::take(slot).map_err(m(what.clone()))?;
            let from = root.fd_path(source);
            let r = root.mount_point(&path, Point::File).and_then(|fd| root.mount_on(&path, fd, Some(&from), None, libc::MS_BIND as MsFlags, None));
            let _ = root.sys().close(source);
            r.map_err(m(what.clone()))?;
            // Device nodes stay usable (no nodev); nothing may be run or gain privileges through them.
            root.set_attrs_kept(&path, false, ATTR_NOSUID | ATTR_NOEXEC).map_err(m(what))?;
        }

        let sys = root.sys();
        let dfd = root.open(t, libc::O_DIRECTORY).map_err(m(format!("open {t}")))?;
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
        r.map_err(|(what, e)| SetupError::sys(Code::Setup, what, e))
    }
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

    /// The six devices opened in early, as fds 50..=55.
    fn opens() -> Vec<Call> {
        DEVICES.iter().enumerate().map(|(i, n)| call(format!("open(\"/dev/{n}\", {:#o})", libc::O_PATH), Ret::Fd(50 + i as i32))).collect()
    }

    fn host(console: Option<(&str, Result<Fd, Errno>)>) -> HostDevices {
        HostDevices { devices: (50..56).map(Ok).collect(), console: console.map(|(t, fd)| (t.to_string(), fd)) }
    }

    #[test]
    fn early_pins_the_devices_and_the_console_only_with_a_kept_session_on_a_terminal() {
        let s = Script::new(opens());
        assert_eq!(dev().early(&s, &cx()).unwrap(), host(None));
        s.done();
        let kept = EarlyCx { keep_session: true, ..cx() };
        let mut v = opens();
        v.extend([
            call("isatty(1)", Ret::Int(1)),
            call("readlink(\"/proc/self/fd/1\")", Ret::Text("/dev/pts/3".into())),
            call(format!("open(\"/dev/pts/3\", {:#o})", libc::O_PATH), Ret::Fd(60)),
        ]);
        let s = Script::new(v);
        assert_eq!(dev().early(&s, &kept).unwrap(), host(Some(("/dev/pts/3", Ok(60)))));
        s.done();
        let mut v = opens();
        v.push(call("isatty(1)", Ret::Int(0)));
        let s = Script::new(v);
        assert_eq!(dev().early(&s, &kept).unwrap(), host(None));
        s.done();
        for ret in [Ret::Text("pipe:[123]".into()), Ret::Err(libc::EACCES)] {
            let mut v = opens();
            v.extend([call("isatty(1)", Ret::Int(1)), call("readlink(\"/proc/self/fd/1\")", ret)]);
            let s = Script::new(v);
            assert_eq!(dev().early(&s, &kept).unwrap(), host(None));
            s.done();
        }
        // A device that cannot be opened is kept as its error, for apply to report.
        let mut v = opens();
        v[1] = call(format!("open(\"/dev/zero\", {:#o})", libc::O_PATH), Ret::Err(10_032));
        let s = Script::new(v);
        assert_eq!(dev().early(&s, &cx()).unwrap().devices[1], Err(Errno(10_032)));
        s.done();
    }

    #[test]
    fn writable_with_mqueue_and_console() {
        let mut v = happy_prefix();
        v.extend(pts_and_shm());
        v.extend([
            open_any(3, "/dev/console", Ret::Err(libc::ENOENT)),
            open_dir(3, "/dev", 30),
            call("mkfileat(30, \"console\", 444)", Ret::Ok),
            close(30),
            open_any(3, "/dev/console", Ret::Fd(14)),
            call("mount(\"/host/proc/self/fd/60\", \"/host/proc/self/fd/14\", -, BIND, -)", Ret::Ok),
            close(14),
            close(60),
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
        o.apply(host(Some(("/dev/pts/3", Ok(60)))), &mut RootFs::new(&s, 3)).unwrap();
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
            v.push(call(format!("mount(\"/host/proc/self/fd/{}\", \"/host/proc/self/fd/{fd}\", -, BIND, -)", 50 + i), Ret::Ok));
            v.push(close(fd));
            v.push(close(50 + i as i32));
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

    /// devpts on the fd [`happy_prefix`] leaves open, then /dev/shm's tmpfs.
    fn pts_and_shm() -> Vec<Call> {
        vec![
            call("mount(\"devpts\", \"/host/proc/self/fd/12\", \"devpts\", NOSUID|NOEXEC, \"newinstance,ptmxmode=0666,mode=620\")", Ret::Ok),
            close(12),
            open_dir(3, "/dev/shm", 13),
            call("mount(\"tmpfs\", \"/host/proc/self/fd/13\", \"tmpfs\", NOSUID|NODEV, \"mode=1777\")", Ret::Ok),
            close(13),
        ]
    }

    /// A pool's zygote builds the read-only part (the same calls, then the
    /// remount), each sandbox only its devpts and shm: together what one
    /// start builds.
    #[test]
    fn the_shared_part_and_a_sandboxs_own_part_are_the_whole_dev() {
        let mut v = happy_prefix();
        let pts = v.pop().unwrap();
        v.extend(setattr(3, "/dev", 14, false, "RDONLY|NOSUID|NODEV"));
        let s = Script::new(v);
        dev().build_shared(host(None), &mut RootFs::new(&s, 3)).unwrap();
        s.done();
        let mut v = vec![pts];
        v.extend(pts_and_shm());
        let s = Script::new(v);
        dev().build_own(&mut RootFs::new(&s, 3)).unwrap();
        s.done();
        // a failed bind in the shared part: the error, every fd early opened closed
        let mut v =
            vec![open_dir(3, "/dev", 10), call("mount(\"tmpfs\", \"/host/proc/self/fd/10\", \"tmpfs\", NOSUID|NODEV, \"mode=755\")", Ret::Ok), close(10)];
        v.extend((51..56).map(close));
        let s = Script::new(v);
        let mut h = host(None);
        h.devices[0] = Err(Errno(10_033));
        let e = dev().build_shared(h, &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (Code::Mount, "cannot bind /dev/null on /dev/null: error 10033"));
        s.done();
    }

    #[test]
    fn builds_a_minimal_read_only_dev() {
        let mut v = happy_prefix();
        v.extend(pts_and_shm());
        v.extend(setattr(3, "/dev", 14, false, "RDONLY|NOSUID|NODEV"));
        let s = Script::new(v);
        dev().apply(host(None), &mut RootFs::new(&s, 3)).unwrap();
        s.done();
    }

    #[test]
    fn a_device_early_could_not_open_is_reported_at_its_bind_and_the_rest_closed() {
        let mut v =
            vec![open_dir(3, "/dev", 10), call("mount(\"tmpfs\", \"/host/proc/self/fd/10\", \"tmpfs\", NOSUID|NODEV, \"mode=755\")", Ret::Ok), close(10)];
        v.extend((51..56).map(close));
        v.push(close(60));
        let s = Script::new(v);
        let mut h = host(Some(("/dev/pts/3", Ok(60))));
        h.devices[0] = Err(Errno(10_033));
        let e = dev().apply(h, &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (Code::Mount, "cannot bind /dev/null on /dev/null: error 10033"));
        s.done();
        // and the console's own error, after everything else is made
        let mut v = happy_prefix();
        v.extend(pts_and_shm());
        let s = Script::new(v);
        let e = dev().apply(host(Some(("/dev/pts/3", Err(Errno(10_034))))), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!(e.message, "cannot bind /dev/pts/3 on /dev/console: error 10034");
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
        let e = dev().apply(host(None), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (Code::Mount, "cannot mount devpts on /dev/pts: error 10008"));
        s.done();
        // a link that cannot be made is a setup error
        let s = Script::new(
            [
                happy_prefix()[..happy_prefix().len() - 11].to_vec(),
                vec![open_dir(3, "/dev", 11), call("symlinkat(\"/proc/self/fd/0\", 11, \"stdin\")", Ret::Err(10_017)), close(11)],
            ]
            .concat(),
        );
        let e = dev().apply(host(None), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (Code::Setup, "cannot create symlink /dev/stdin -> /proc/self/fd/0: error 10017"));
        s.done();
        let mut v = vec![
            open_dir(3, "/dev", 10),
            call("mount(\"tmpfs\", \"/host/proc/self/fd/10\", \"tmpfs\", NOSUID|NODEV, \"mode=755\")", Ret::Err(10_018)),
            close(10),
        ];
        v.extend((50..56).map(close));
        let s = Script::new(v);
        assert_eq!(dev().apply(host(None), &mut RootFs::new(&s, 3)).unwrap_err().message, "cannot mount dev on /dev: error 10018");
        s.done();
        assert_eq!(dev().to_string(), "dev on /dev");
    }
}
