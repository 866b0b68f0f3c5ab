//! Stage: the setup ops, run by pid 1 in plan order. Each op file has the
//! same four parts: `validate` (pure, before anything exists), `early` (host
//! root still visible, gathers facts, changes nothing), `apply` (in the
//! intermediate root: sources under `/host`, targets inside `/sysroot`) and
//! `Display`.
//!
//! Invariant: every target is resolved with openat2(RESOLVE_IN_ROOT) against
//! the sysroot fd, parents are created through fds, and mounts land on the
//! resolved fd (`/host/proc/self/fd/N`), so no symlink planted in the new
//! root can send a mount or a new file outside it (bubblewrap's 2026
//! setup-time symlink CVE; moby GHSA-vp62-88p7-qqf5).

mod autoetc;
mod autoroot;
mod bind;
mod chmod;
mod dev;
mod dir;
mod file;
mod mqueue;
pub mod overlay;
mod passwd;
pub mod placeholder;
mod proc;
mod remount;
mod symlink;
mod tmpfs;

use crate::error::{Code, SetupError};
use crate::plan::Op;
use crate::sys::{Errno, Fd, FileKind, MsFlags, Sys};
use std::fmt;

/// Where the host root is during apply.
pub const HOST: &str = "/host";
/// Where the new root is during apply.
pub const SYSROOT: &str = "/sysroot";

/// What `early` learned for one op.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    Nothing,
    /// Optional source missing: apply does nothing.
    Skip,
    /// The source's kind (bind).
    Source(FileKind),
    /// File contents read from the host (file op with a source).
    Data(Vec<u8>),
    /// The source opened O_PATH in the host root: the mount comes from this
    /// fd, so a symlink swapped in afterwards cannot redirect it
    /// (CVE-2024-42472). `owned`: init opened it and closes it after use.
    Pinned {
        fd: Fd,
        kind: FileKind,
        owned: bool,
    },
    /// A dereferenced host symlink's contents.
    Link(String),
    /// Resolved and escaped overlay layer paths (under /host).
    Overlay {
        lowers: Vec<String>,
        upper: Option<String>,
        work: Option<String>,
    },
    /// Host directory entries with their kinds and link contents.
    Entries(Vec<(String, FileKind, Option<String>)>),
    /// The user's console to bind on /dev/console.
    Console(Option<String>),
}

/// State shared by the ops in early and apply.
pub struct State {
    /// O_PATH fd of the new root (`/sysroot`), reopened when a mount covers
    /// it; -1 during early.
    pub root: Fd,
    /// Index of the op being applied.
    pub index: usize,
    /// Whether the tmpfs holding placed files is mounted (file op).
    pub files: bool,
    /// The program keeps the caller's session (and may get its terminal).
    pub keep_session: bool,
    /// The sandbox's uid and gid.
    pub uid: u32,
    pub gid: u32,
}

impl State {
    pub fn new(root: Fd, keep_session: bool, uid: u32, gid: u32) -> State {
        State { root, index: 0, files: false, keep_session, uid, gid }
    }
    #[cfg(test)]
    pub fn test(root: Fd, index: usize) -> State {
        State { root, index, files: false, keep_session: false, uid: 1000, gid: 1000 }
    }
}

/// Pure checks; (field, reason) on failure. Targets are checked by the caller.
pub fn validate(op: &Op) -> Result<(), (&'static str, String)> {
    match op {
        Op::Bind(o) => bind::validate(o),
        Op::Proc(_) | Op::Dev(_) | Op::Dir(_) | Op::Remount(_) | Op::Mqueue(_) | Op::Passwd(_) | Op::Placeholder(_) => Ok(()),
        Op::Tmpfs(o) => tmpfs::validate(o),
        Op::Symlink(o) => symlink::validate(o),
        Op::File(o) => file::validate(o),
        Op::Overlay(o) => overlay::validate(o),
        Op::Chmod(o) => chmod::validate(o),
        Op::Autoetc(_) | Op::Autoroot(_) => Ok(()),
    }
}

pub fn early(op: &Op, sys: &dyn Sys, st: &State) -> Result<Fact, SetupError> {
    match op {
        Op::Bind(o) => bind::early(o, sys),
        Op::File(o) => file::early(o, sys),
        Op::Symlink(o) => symlink::early(o, sys),
        Op::Overlay(o) => overlay::early(o, sys),
        Op::Autoetc(_) => autoetc::early(sys),
        Op::Autoroot(_) => autoroot::early(sys),
        Op::Passwd(o) => passwd::early(o, sys, st),
        Op::Dev(o) => dev::early(o, sys, st),
        _ => Ok(Fact::Nothing),
    }
}

pub fn apply(op: &Op, sys: &dyn Sys, st: &mut State, fact: &Fact) -> Result<(), SetupError> {
    match op {
        Op::Bind(o) => bind::apply(o, sys, st, fact),
        Op::Proc(o) => proc::apply(o, sys, st),
        Op::Dev(o) => dev::apply(o, sys, st, fact),
        Op::Tmpfs(o) => tmpfs::apply(o, sys, st),
        Op::Dir(o) => dir::apply(o, sys, st),
        Op::Symlink(o) => symlink::apply(o, sys, st, fact),
        Op::File(o) => file::apply(o, sys, st, fact),
        Op::Remount(o) => remount::apply(o, sys, st),
        Op::Overlay(o) => overlay::apply(o, sys, st, fact),
        Op::Mqueue(o) => mqueue::apply(o, sys, st),
        Op::Chmod(o) => chmod::apply(o, sys, st),
        Op::Autoetc(o) => autoetc::apply(o, sys, st, fact),
        Op::Autoroot(o) => autoroot::apply(o, sys, st, fact),
        Op::Passwd(o) => passwd::apply(o, sys, st, fact),
        Op::Placeholder(o) => placeholder::apply(o, sys, st),
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Bind(o) => o.fmt(f),
            Op::Proc(o) => o.fmt(f),
            Op::Dev(o) => o.fmt(f),
            Op::Tmpfs(o) => o.fmt(f),
            Op::Dir(o) => o.fmt(f),
            Op::Symlink(o) => o.fmt(f),
            Op::File(o) => o.fmt(f),
            Op::Remount(o) => o.fmt(f),
            Op::Overlay(o) => o.fmt(f),
            Op::Mqueue(o) => o.fmt(f),
            Op::Chmod(o) => o.fmt(f),
            Op::Autoetc(o) => o.fmt(f),
            Op::Autoroot(o) => o.fmt(f),
            Op::Passwd(o) => o.fmt(f),
            Op::Placeholder(o) => o.fmt(f),
        }
    }
}

/// The magic-link path that names `fd`, usable as a mount target.
pub fn fd_path(fd: Fd) -> String {
    format!("{HOST}/proc/self/fd/{fd}")
}

/// `/a/b/c` → (`/a/b`, `c`); `/c` → (`/`, `c`).
pub fn split(path: &str) -> (&str, &str) {
    let p = path.trim_end_matches('/');
    match p.rfind('/') {
        Some(0) => ("/", &p[1..]),
        Some(i) => (&p[..i], &p[i + 1..]),
        None => ("/", p),
    }
}

/// Open directory `path` inside the root, creating it and its missing
/// parents (parents 0755, the last one `mode`). Returns an O_PATH fd.
pub fn mkdir_all(sys: &dyn Sys, root: Fd, path: &str, mode: u32) -> Result<Fd, Errno> {
    match sys.open_in_root(root, path, libc::O_DIRECTORY) {
        Err(Errno(libc::ENOENT)) => {}
        r => return r,
    }
    let (parent, name) = split(path);
    let pfd = mkdir_all(sys, root, parent, 0o755)?;
    let made = sys.mkdirat(pfd, name, mode);
    let _ = sys.close(pfd);
    match made {
        Ok(()) | Err(Errno(libc::EEXIST)) => {}
        Err(e) => return Err(e),
    }
    sys.open_in_root(root, path, libc::O_DIRECTORY)
}

/// Open the mount point for a source of `kind`: a directory for a
/// directory, else a file (created empty with `mode`).
pub fn ensure_target(sys: &dyn Sys, root: Fd, path: &str, kind: FileKind, mode: u32) -> Result<Fd, Errno> {
    if kind == FileKind::Dir {
        return mkdir_all(sys, root, path, 0o755);
    }
    match sys.open_in_root(root, path, 0) {
        Err(Errno(libc::ENOENT)) => {}
        r => return r,
    }
    let (parent, name) = split(path);
    let pfd = mkdir_all(sys, root, parent, 0o755)?;
    let made = sys.mkfileat(pfd, name, mode);
    let _ = sys.close(pfd);
    match made {
        Ok(()) | Err(Errno(libc::EEXIST)) => {}
        Err(e) => return Err(e),
    }
    sys.open_in_root(root, path, 0)
}

/// Mount onto `target` through its fd. When the target is the root itself,
/// reopen the root fd so later ops see the new mount, not the covered one.
// mount(2)'s five arguments plus the seam, the state and the target's fd.
#[allow(clippy::too_many_arguments)]
pub fn mount_on(
    sys: &dyn Sys,
    st: &mut State,
    target: &str,
    fd: Fd,
    source: Option<&str>,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), Errno> {
    let r = sys.mount(source, &fd_path(fd), fstype, flags, data);
    let _ = sys.close(fd);
    r?;
    if target == "/" {
        let fresh = sys.open(SYSROOT, libc::O_PATH | libc::O_DIRECTORY)?;
        let _ = sys.close(st.root);
        st.root = fresh;
    }
    Ok(())
}

/// Set MOUNT_ATTR_* on the mount now at `target` (and its submounts when
/// `recursive`). mount_setattr is atomic over the whole tree (moby's
/// makeMountRRO); before Linux 5.12 fall back to bind remounts, one per
/// mount of the tree, as bubblewrap does.
pub fn set_attrs(sys: &dyn Sys, st: &State, target: &str, recursive: bool, attrs: u64) -> Result<(), Errno> {
    let fd = sys.open_in_root(st.root, target, 0)?;
    let r = match sys.mount_setattr(fd, recursive, attrs) {
        Err(Errno(libc::ENOSYS)) => remount_tree(sys, fd, recursive, attrs),
        r => r,
    };
    let _ = sys.close(fd);
    r
}

/// MS_* flags for MOUNT_ATTR_* bits.
fn ms_of(attrs: u64) -> MsFlags {
    let mut flags = 0;
    for (a, m) in [
        (crate::sys::ATTR_RDONLY, libc::MS_RDONLY),
        (crate::sys::ATTR_NOSUID, libc::MS_NOSUID),
        (crate::sys::ATTR_NODEV, libc::MS_NODEV),
        (crate::sys::ATTR_NOEXEC, libc::MS_NOEXEC),
    ] {
        if attrs & a != 0 {
            flags |= m as MsFlags;
        }
    }
    flags
}

/// Flags a mount already has (mountinfo's per-mount options): a remount
/// inside a user namespace must keep the locked ones or fail with EPERM.
fn ms_kept(options: &str) -> MsFlags {
    let mut flags = 0;
    for o in options.split(',') {
        flags |= match o {
            "ro" => libc::MS_RDONLY,
            "nosuid" => libc::MS_NOSUID,
            "nodev" => libc::MS_NODEV,
            "noexec" => libc::MS_NOEXEC,
            "noatime" => libc::MS_NOATIME,
            "nodiratime" => libc::MS_NODIRATIME,
            "relatime" => libc::MS_RELATIME,
            "strictatime" => libc::MS_STRICTATIME,
            _ => 0,
        } as MsFlags;
    }
    flags
}

/// `\040`-style escapes of mountinfo.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The fallback: find where the target mount is (the fd's path in our
/// root), then remount it and, when recursive, every mount below it.
fn remount_tree(sys: &dyn Sys, fd: Fd, recursive: bool, attrs: u64) -> Result<(), Errno> {
    let top = sys.readlink(&format!("{HOST}/proc/self/fd/{fd}"))?;
    let info = sys.read_file(&format!("{HOST}/proc/self/mountinfo"))?;
    let info = String::from_utf8_lossy(&info);
    let prefix = if top == "/" { "/".to_string() } else { format!("{top}/") };
    let mut found = false;
    for line in info.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() < 6 {
            continue;
        }
        let point = unescape(f[4]);
        let under = point == top || (recursive && point.starts_with(&prefix));
        if !under {
            continue;
        }
        found = true;
        let flags = (libc::MS_REMOUNT | libc::MS_BIND) as MsFlags | ms_kept(f[5]) | ms_of(attrs);
        sys.mount(None, &point, None, flags, None)?;
    }
    if found {
        Ok(())
    } else {
        Err(Errno(libc::EINVAL))
    }
}

/// mkdir -p of `rel` below the existing directory `base` ("" for `/`), by
/// absolute paths: for the host in early (bind `ensure`) and for the
/// intermediate root (ours alone: no symlinks to fear there).
pub fn mkdir_p(sys: &dyn Sys, base: &str, rel: &str, mode: u32) -> Result<(), Errno> {
    let mut dir = base.trim_end_matches('/').to_string();
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        dir.push('/');
        dir.push_str(part);
        match sys.mkdir(&dir, mode) {
            Ok(()) | Err(Errno(libc::EEXIST)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `cannot <what>: <errno>` with the op index attached.
pub fn fail(st: &State, code: Code, what: impl fmt::Display, e: Errno) -> SetupError {
    SetupError::sys(code, what, e).at_op(st.index)
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Shared scripts for op tests: the calls that resolve and create a path.
    use crate::sys::script::Ret;

    pub type Call = (String, Ret);

    pub fn call(s: impl Into<String>, r: Ret) -> Call {
        (s.into(), r)
    }

    /// `open_in_root(root, path, O_DIRECTORY)` finding an existing directory.
    pub fn open_dir(root: i32, path: &str, fd: i32) -> Call {
        call(format!("open_in_root({root}, {path:?}, {:#o})", libc::O_DIRECTORY), Ret::Fd(fd))
    }
    pub fn open_dir_missing(root: i32, path: &str) -> Call {
        call(format!("open_in_root({root}, {path:?}, {:#o})", libc::O_DIRECTORY), Ret::Err(libc::ENOENT))
    }
    pub fn open_any(root: i32, path: &str, ret: Ret) -> Call {
        call(format!("open_in_root({root}, {path:?}, 0o0)"), ret)
    }
    pub fn mkdirat(dirfd: i32, name: &str, mode: u32, ret: Ret) -> Call {
        call(format!("mkdirat({dirfd}, {name:?}, {mode:o})"), ret)
    }
    pub fn close(fd: i32) -> Call {
        call(format!("close({fd})"), Ret::Ok)
    }
    pub fn setattr(root: i32, target: &str, fd: i32, rec: bool, attrs: &str) -> Vec<Call> {
        vec![
            open_any(root, target, Ret::Fd(fd)),
            call(format!("mount_setattr({fd}, {}, {attrs})", if rec { "recursive" } else { "single" }), Ret::Ok),
            close(fd),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use crate::sys::script::{Ret, Script};

    #[test]
    fn split_paths() {
        assert_eq!(split("/a/b/c"), ("/a/b", "c"));
        assert_eq!(split("/c"), ("/", "c"));
        assert_eq!(split("/a/b/"), ("/a", "b"));
    }

    #[test]
    fn mkdir_all_creates_missing_parents_through_fds() {
        let s = Script::new(vec![
            open_dir_missing(3, "/a/b"),
            open_dir_missing(3, "/a"),
            open_dir(3, "/", 10),
            mkdirat(10, "a", 0o755, Ret::Ok),
            close(10),
            open_dir(3, "/a", 11),
            mkdirat(11, "b", 0o700, Ret::Err(libc::EEXIST)),
            close(11),
            open_dir(3, "/a/b", 12),
        ]);
        assert_eq!(mkdir_all(&s, 3, "/a/b", 0o700), Ok(12));
        s.done();
    }

    #[test]
    fn mkdir_all_stops_at_the_first_hard_error() {
        let s = Script::new(vec![open_dir_missing(3, "/a"), open_dir(3, "/", 10), mkdirat(10, "a", 0o755, Ret::Err(10_001)), close(10)]);
        assert_eq!(mkdir_all(&s, 3, "/a", 0o755), Err(Errno(10_001)));
        s.done();
    }

    #[test]
    fn set_attrs_falls_back_to_remounting_every_submount() {
        let mountinfo = "60 50 0:1 / / rw - tmpfs tmpfs rw\n\
            70 60 8:1 /usr /sysroot/usr rw,relatime - ext4 /dev/sda rw\n\
            71 70 0:9 / /sysroot/usr/my\\040dir rw,nosuid,nodev - tmpfs tmpfs rw\n\
            72 60 8:1 /usrx /sysroot/usrx rw - ext4 /dev/sda rw\n";
        let s = Script::new(vec![
            open_any(3, "/usr", Ret::Fd(9)),
            call("mount_setattr(9, recursive, RDONLY|NOSUID)", Ret::Err(libc::ENOSYS)),
            call("readlink(\"/host/proc/self/fd/9\")", Ret::Text("/sysroot/usr".into())),
            call("read_file(\"/host/proc/self/mountinfo\")", Ret::Bytes(mountinfo.as_bytes().to_vec())),
            call("mount(-, \"/sysroot/usr\", -, RDONLY|NOSUID|REMOUNT|BIND|0x200000, -)", Ret::Ok),
            call("mount(-, \"/sysroot/usr/my dir\", -, RDONLY|NOSUID|NODEV|REMOUNT|BIND, -)", Ret::Ok),
            close(9),
        ]);
        let st = State::test(3, 0);
        set_attrs(&s, &st, "/usr", true, crate::sys::ATTR_RDONLY | crate::sys::ATTR_NOSUID).unwrap();
        s.done();
    }

    #[test]
    fn non_recursive_fallback_remounts_only_the_target() {
        let mountinfo = "70 60 8:1 /usr /sysroot/usr ro - ext4 /dev/sda rw\n71 70 0:9 / /sysroot/usr/x rw - tmpfs tmpfs rw\n";
        let s = Script::new(vec![
            open_any(3, "/usr", Ret::Fd(9)),
            call("mount_setattr(9, single, RDONLY)", Ret::Err(libc::ENOSYS)),
            call("readlink(\"/host/proc/self/fd/9\")", Ret::Text("/sysroot/usr".into())),
            call("read_file(\"/host/proc/self/mountinfo\")", Ret::Bytes(mountinfo.as_bytes().to_vec())),
            call("mount(-, \"/sysroot/usr\", -, RDONLY|REMOUNT|BIND, -)", Ret::Err(10_011)),
            close(9),
        ]);
        let st = State::test(3, 0);
        assert_eq!(set_attrs(&s, &st, "/usr", false, crate::sys::ATTR_RDONLY), Err(Errno(10_011)));
        s.done();
    }
}
