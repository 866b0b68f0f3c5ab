//! The rootfs toolkit: every change an op makes to the new root goes
//! through here, so the ops never call each other. The OCI container's
//! pid 1 mounts through it too ([`RootFs::at`]: the rootfs seen from the
//! host's view before its pivot), so there is one mount-point and
//! mount-through-fd implementation.
//!
//! Stage: apply, in the intermediate root (the host's root under `/host`, the
//! new root at `/sysroot`). Invariant: every target is resolved with
//! openat2(RESOLVE_IN_ROOT) against the sysroot fd, parents are created
//! through fds, and mounts land on the resolved fd (`/host/proc/self/fd/N`),
//! so no symlink planted in the new root can send a mount or a new file
//! outside it (bubblewrap's 2026 setup-time symlink CVE; moby
//! GHSA-vp62-88p7-qqf5).

use crate::error::{Code, SetupError};
use crate::sys::{Errno, Fd, FileKind, MsFlags, Sys, ATTR_NODEV, ATTR_NOEXEC, ATTR_NOSUID, ATTR_RDONLY};

/// Where the host root is during apply.
pub const HOST: &str = "/host";
/// Where the new root is during apply.
pub const SYSROOT: &str = "/sysroot";
/// The tmpfs holding placed files, in the intermediate root.
const FILES: &str = "/files";

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

/// What a mount point is made as when it is missing: a directory for a
/// directory source, an empty read-only file for anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    Dir,
    File,
}

impl Point {
    /// The mount point a source of `kind` needs.
    pub fn for_kind(kind: FileKind) -> Point {
        if kind == FileKind::Dir {
            Point::Dir
        } else {
            Point::File
        }
    }
}

/// A bind with the bind op's semantics: read-only unless `writable`, nodev
/// unless `device`, always nosuid; `recursive` takes the submounts along
/// (and then the attributes apply to all of them).
pub struct Bind<'a> {
    /// The source as the user named it, for messages.
    pub shown: &'a str,
    /// The source as mount(2) takes it here: a `/host` path or an fd path.
    pub source: &'a str,
    pub target: &'a str,
    pub point: Point,
    pub recursive: bool,
    pub writable: bool,
    pub device: bool,
}

/// The new root as the ops see it during apply.
pub struct RootFs<'s> {
    sys: &'s dyn Sys,
    /// O_PATH fd of `/sysroot`, reopened when a mount covers it.
    root: Fd,
    /// Whether the tmpfs holding placed files is mounted.
    files: bool,
    /// How many numbered scratch tmpfs there are.
    scratches: usize,
    /// The directory whose entry `N` names fd N as a mount target: a
    /// proc's `self/fd`, or `.` (the root kept in place: pid 1's cwd is its
    /// fd directory of the host's proc, which no op can cover or replace).
    fd_dir: &'static str,
    /// This process's mountinfo in the same view.
    mountinfo: &'static str,
    /// Whether setup files may be mounted (not with the root kept in place:
    /// there is no intermediate root to hide them in).
    scratch_ok: bool,
    /// The root's path in this view, reopened after a mount on `/`.
    path: String,
    /// With an image root (ch-run's mkdirs deny-list): the mounts made, as
    /// paths of this process, each with whether it is a bind, so nothing
    /// is created inside a bind of a host path (it would be made on the
    /// host) unless a later mount covers it there. None: not kept.
    binds: Option<Vec<(String, bool)>>,
    /// With the host's root kept in place: the attributes the first op set
    /// on the host's tree, which a copy of a host mount made later inherits
    /// and a bind that does not want them takes off again ([`RootFs::restore`]).
    kept: u64,
}

impl<'s> RootFs<'s> {
    /// Over the sysroot fd `root` (opened O_PATH|O_DIRECTORY); the toolkit
    /// owns it from here and closes it in [`RootFs::close`].
    pub fn new(sys: &'s dyn Sys, root: Fd) -> RootFs<'s> {
        RootFs {
            sys,
            root,
            files: false,
            scratches: 0,
            fd_dir: "/host/proc/self/fd",
            mountinfo: "/host/proc/self/mountinfo",
            scratch_ok: true,
            path: SYSROOT.to_string(),
            binds: None,
            kept: 0,
        }
    }

    /// Over the O_PATH fd `root` of the host's own root, kept in place as
    /// the new root (init/root.rs): this process's root, with its cwd in
    /// its fd directory of the host's proc, so the magic links stay ours
    /// whatever an op mounts on the root's `/proc`.
    pub fn in_place(sys: &'s dyn Sys, root: Fd) -> RootFs<'s> {
        RootFs { sys, root, files: false, scratches: 0, fd_dir: ".", mountinfo: "../mountinfo", scratch_ok: false, path: "/".to_string(), binds: None, kept: 0 }
    }

    /// Over the O_PATH fd `root` of the directory `path`, in a view where
    /// `/proc` is the caller's own (the OCI container's pid 1 before its
    /// pivot). Placed files and scratch tmpfs are for the intermediate root
    /// only.
    pub fn at(sys: &'s dyn Sys, root: Fd, path: &str) -> RootFs<'s> {
        RootFs {
            sys,
            root,
            files: false,
            scratches: 0,
            fd_dir: "/proc/self/fd",
            mountinfo: "/proc/self/mountinfo",
            scratch_ok: true,
            path: path.to_string(),
            binds: None,
            kept: 0,
        }
    }

    /// The magic-link path that names `fd` in this view, usable as a mount target.
    pub fn fd_path(&self, fd: Fd) -> String {
        format!("{}/{fd}", self.fd_dir)
    }

    /// Keep the list of bind targets and refuse to create a bind's mount
    /// point below one of them (image roots: ch-run's rule).
    pub fn guard_binds(&mut self) {
        self.binds = Some(Vec::new());
    }

    /// With [`RootFs::guard_binds`]: when `target` is missing, the earlier
    /// bind its nearest existing ancestor lies in, as a path in the new root.
    fn bind_above(&self, target: &str) -> Result<Option<String>, Errno> {
        if self.binds.as_ref().is_none_or(|b| b.is_empty()) {
            return Ok(None);
        }
        let mut path = target;
        let fd = loop {
            match self.open(path, libc::O_PATH) {
                Ok(fd) if path == target => {
                    let _ = self.sys.close(fd);
                    return Ok(None);
                }
                Ok(fd) => break fd,
                Err(Errno(libc::ENOENT)) if path != "/" => path = split(path).0,
                Err(e) => return Err(e),
            }
        };
        let real = self.sys.readlink(&self.fd_path(fd));
        let _ = self.sys.close(fd);
        let real = real?;
        Ok(self.in_bind(&real).map(|b| b.strip_prefix(self.path.as_str()).filter(|s| !s.is_empty()).unwrap_or("/").to_string()))
    }

    /// The bind whose mount `real` is in: the deepest kept mount at or above
    /// it (the later one of two at the same place), when it is a bind.
    fn in_bind(&self, real: &str) -> Option<&str> {
        let mut best: Option<&(String, bool)> = None;
        for m in self.binds.as_deref().unwrap_or(&[]) {
            let covers = real == m.0 || real.starts_with(&format!("{}/", m.0));
            if covers && best.is_none_or(|b| m.0.len() >= b.0.len()) {
                best = Some(m);
            }
        }
        best.filter(|m| m.1).map(|m| m.0.as_str())
    }

    /// With [`RootFs::guard_binds`]: EXDEV when the directory `pfd` lies in
    /// an earlier bind, so no op makes anything there (a link in the image
    /// leading into the host's /dev or /tmp would otherwise create it on
    /// the host).
    fn may_create_in(&self, pfd: Fd) -> Result<(), Errno> {
        if self.binds.as_ref().is_none_or(|b| b.is_empty()) {
            return Ok(());
        }
        let real = self.sys.readlink(&self.fd_path(pfd))?;
        match self.in_bind(&real) {
            Some(_) => Err(Errno(libc::EXDEV)),
            None => Ok(()),
        }
    }

    /// With [`RootFs::guard_binds`]: remember the mount now at `target`.
    fn record_bind(&mut self, target: &str) -> Result<(), Errno> {
        if self.binds.is_none() {
            return Ok(());
        }
        let fd = self.open(target, libc::O_PATH)?;
        let real = self.sys.readlink(&self.fd_path(fd));
        let _ = self.sys.close(fd);
        self.binds.as_mut().expect("checked").push((real?, true));
        Ok(())
    }

    /// The seam, for fd-relative calls on an fd the toolkit handed out.
    pub fn sys(&self) -> &'s dyn Sys {
        self.sys
    }

    /// The current root fd, for fd-relative calls below it (still owned here).
    pub fn root(&self) -> Fd {
        self.root
    }

    /// Close the sysroot fd: apply is over.
    pub fn close(self) {
        let _ = self.sys.close(self.root);
    }

    /// Open `path` inside the new root (RESOLVE_IN_ROOT).
    pub fn open(&self, path: &str, flags: i32) -> Result<Fd, Errno> {
        self.sys.open_in_root(self.root, path, flags)
    }

    /// Open directory `path` inside the root, creating it and its missing
    /// parents (parents 0755, the last one `mode`). Returns an O_PATH fd.
    pub fn mkdir_all(&self, path: &str, mode: u32) -> Result<Fd, Errno> {
        self.mkdir_tree(path, mode, 0o755)
    }

    /// [`RootFs::mkdir_all`] with the missing parents made `parents`.
    pub fn mkdir_tree(&self, path: &str, mode: u32, parents: u32) -> Result<Fd, Errno> {
        match self.open(path, libc::O_DIRECTORY) {
            Err(Errno(libc::ENOENT)) => {}
            r => return r,
        }
        let (parent, name) = split(path);
        let pfd = self.mkdir_tree(parent, parents, parents)?;
        let made = self.may_create_in(pfd).and_then(|()| self.sys.mkdirat(pfd, name, mode));
        let _ = self.sys.close(pfd);
        match made {
            Ok(()) | Err(Errno(libc::EEXIST)) => {}
            Err(e) => return Err(e),
        }
        self.open(path, libc::O_DIRECTORY)
    }

    /// Open the mount point `path`, creating it when missing: a directory
    /// (and parents) for `Point::Dir`, else an empty 0444 file in a
    /// directory created as needed.
    pub fn mount_point(&self, path: &str, point: Point) -> Result<Fd, Errno> {
        if point == Point::Dir {
            return self.mkdir_all(path, 0o755);
        }
        match self.open(path, 0) {
            Err(Errno(libc::ENOENT)) => {}
            r => return r,
        }
        let (parent, name) = split(path);
        let pfd = self.mkdir_all(parent, 0o755)?;
        let made = self.may_create_in(pfd).and_then(|()| self.sys.mkfileat(pfd, name, 0o444));
        let _ = self.sys.close(pfd);
        match made {
            Ok(()) | Err(Errno(libc::EEXIST)) => {}
            Err(e) => return Err(e),
        }
        self.open(path, 0)
    }

    /// Mount onto `target` through its fd (closed here). When the target is
    /// the root itself, reopen the root fd so later ops see the new mount,
    /// not the covered one.
    pub fn mount_on(&mut self, target: &str, fd: Fd, source: Option<&str>, fstype: Option<&str>, flags: MsFlags, data: Option<&str>) -> Result<(), Errno> {
        // A mount over (part of) a kept bind covers it there (the dev op's
        // tmpfs on a bound /dev): kept too, as no bind (a bind says so
        // after, in record_bind).
        let covering = match self.binds.as_ref().filter(|b| !b.is_empty()) {
            Some(_) => match self.sys.readlink(&self.fd_path(fd)) {
                Ok(real) => Some(real),
                Err(e) => {
                    let _ = self.sys.close(fd);
                    return Err(e);
                }
            },
            None => None,
        };
        let r = self.sys.mount(source, &self.fd_path(fd), fstype, flags, data);
        let _ = self.sys.close(fd);
        r?;
        if let (Some(real), Some(kept)) = (covering, self.binds.as_mut()) {
            kept.push((real, false));
        }
        if target == "/" {
            let fresh = self.sys.open(&self.path, libc::O_PATH | libc::O_DIRECTORY)?;
            let _ = self.sys.close(self.root);
            self.root = fresh;
        }
        Ok(())
    }

    /// A filesystem `fstype` (with the same name as its source) on the
    /// directory `target`, created as needed.
    pub fn mount_fs(&mut self, target: &str, fstype: &str, flags: MsFlags, data: Option<&str>) -> Result<(), Errno> {
        let fd = self.mkdir_all(target, 0o755)?;
        self.mount_on(target, fd, Some(fstype), Some(fstype), flags, data)
    }

    /// Bind what `fd` names onto itself, recursively (closing `fd`): a
    /// mount of its own, so its attributes can be set apart from the
    /// mount it is in.
    pub fn bind_onto_itself(&self, fd: Fd) -> Result<(), Errno> {
        let p = self.fd_path(fd);
        let r = self.sys.mount(Some(&p), &p, None, (libc::MS_BIND | libc::MS_REC) as MsFlags, None);
        let _ = self.sys.close(fd);
        r
    }

    /// Set MOUNT_ATTR_* on the mount now at `target` (and its submounts when
    /// `recursive`). mount_setattr is atomic over the whole tree (moby's
    /// makeMountRRO); before Linux 5.12 fall back to bind remounts, one per
    /// mount of the tree, as bubblewrap does.
    pub fn set_attrs(&self, target: &str, recursive: bool, attrs: u64) -> Result<(), Errno> {
        let fd = self.open(target, 0)?;
        let r = match self.sys.mount_setattr(fd, recursive, attrs) {
            Err(Errno(libc::ENOSYS)) => self.remount_tree(fd, recursive, attrs),
            r => r,
        };
        let _ = self.sys.close(fd);
        r
    }

    /// The fallback: find where the target mount is (the fd's path in our
    /// root), then remount it and, when recursive, every mount below it.
    fn remount_tree(&self, fd: Fd, recursive: bool, attrs: u64) -> Result<(), Errno> {
        let top = self.sys.readlink(&self.fd_path(fd))?;
        let info = self.sys.read_file(self.mountinfo)?;
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
            self.sys.mount(None, &point, None, flags, None)?;
        }
        if found {
            Ok(())
        } else {
            Err(Errno(libc::EINVAL))
        }
    }

    /// Bind `b.source` on `b.target` with the bind op's semantics. Errors:
    /// `cannot bind SHOWN on TARGET`, then `cannot make TARGET read-only`
    /// (or `nosuid` when writable).
    pub fn bind(&mut self, b: &Bind<'_>) -> Result<(), SetupError> {
        let what = || format!("bind {} on {}", b.shown, b.target);
        if let Some(above) = self.bind_above(b.target).map_err(|e| SetupError::sys(Code::Mount, what(), e))? {
            return Err(SetupError::new(Code::Mount, format!("cannot create {}: {above} is a bind mount, and its mount point would be made there", b.target))
                .with_hint("bind on a path that exists in the image, or not below another bind"));
        }
        let fd = self.mount_point(b.target, b.point).map_err(|e| SetupError::sys(Code::Mount, what(), e))?;
        let mut flags = libc::MS_BIND as MsFlags;
        if b.recursive {
            flags |= libc::MS_REC as MsFlags;
        }
        self.mount_on(b.target, fd, Some(b.source), None, flags, None).map_err(|e| SetupError::sys(Code::Mount, what(), e))?;
        self.bind_attrs(b.target, b.recursive, b.writable, b.device)?;
        self.record_bind(b.target).map_err(|e| SetupError::sys(Code::Mount, what(), e))
    }

    /// The root kept in place: give the host's whole tree the attributes of
    /// a bind of it (`bind_attrs` of `/`, recursive), remembered for
    /// [`RootFs::restore`].
    pub fn keep_host_attrs(&mut self, writable: bool, device: bool) -> Result<(), SetupError> {
        self.bind_attrs("/", true, writable, device)?;
        self.kept = attrs_of(writable, device);
        Ok(())
    }

    /// After a bind from the host's tree kept in place: take off the mount
    /// now at `target` what the first op added and this bind does not want
    /// (`wanted`), so it gets what a bind from the untouched host gets: the
    /// host mount's own attributes and its own. A flag the host mount had
    /// itself is locked (the user namespace's copy locks them, mount_namespaces(7)):
    /// EPERM then, and it stays, as it would. One flag at a time after an
    /// EPERM, so one locked flag does not keep the other. With `recursive`,
    /// one locked submount keeps the flag on all (the safe way round); the
    /// plans that would need that keep the root the other way
    /// (ops::keeps_host_root).
    pub fn restore(&self, target: &str, recursive: bool, wanted: u64) -> Result<(), Errno> {
        let clear = self.kept & !wanted & (ATTR_RDONLY | ATTR_NODEV);
        if clear == 0 {
            return Ok(());
        }
        let fd = self.open(target, 0)?;
        let r = self.clear_attrs(fd, recursive, clear);
        let _ = self.sys.close(fd);
        r
    }

    fn clear_attrs(&self, fd: Fd, recursive: bool, clear: u64) -> Result<(), Errno> {
        match self.clear_once(fd, recursive, clear) {
            Err(Errno(libc::EPERM)) => {}
            r => return r,
        }
        for flag in [ATTR_RDONLY, ATTR_NODEV] {
            if clear & flag != 0 && clear != flag {
                match self.clear_once(fd, recursive, flag) {
                    Ok(()) | Err(Errno(libc::EPERM)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// mount_setattr's attr_clr, or before Linux 5.12 a bind remount with
    /// the mount's flags but `clear` (that mount only).
    fn clear_once(&self, fd: Fd, recursive: bool, clear: u64) -> Result<(), Errno> {
        match self.sys.mount_setattr_clr(fd, recursive, 0, clear) {
            Err(Errno(libc::ENOSYS)) => {
                let path = self.fd_path(fd);
                let now = self.sys.mount_flags(&path)?;
                self.sys.mount(None, &path, None, (libc::MS_REMOUNT | libc::MS_BIND) as MsFlags | (now & !ms_of(clear)), None)
            }
            r => r,
        }
    }

    /// [`RootFs::set_attrs`] then [`RootFs::restore`]: `attrs` on the mount
    /// at `target`, and off it what the root kept in place added and these
    /// do not want. In one mount_setattr (set and clear at once, atomic) when
    /// there is something to clear; the two steps when the kernel refuses
    /// that call (EPERM: a locked flag, which the steps then leave as it is;
    /// ENOSYS: before Linux 5.12), so the outcome is theirs either way.
    pub fn set_attrs_kept(&self, target: &str, recursive: bool, attrs: u64) -> Result<(), Errno> {
        let clear = self.kept & !attrs & (ATTR_RDONLY | ATTR_NODEV);
        if clear != 0 {
            let fd = self.open(target, 0)?;
            let r = self.sys.mount_setattr_clr(fd, recursive, attrs, clear);
            let _ = self.sys.close(fd);
            match r {
                Err(Errno(libc::EPERM | libc::ENOSYS)) => {}
                r => return r,
            }
        }
        self.set_attrs(target, recursive, attrs).and_then(|()| self.restore(target, recursive, attrs))
    }

    /// The attributes a bind gives the mount at `target` (and its submounts
    /// when `recursive`): always nosuid, read-only unless `writable`, nodev
    /// unless `device`. Error: `cannot make TARGET read-only` (or `nosuid`).
    pub fn bind_attrs(&self, target: &str, recursive: bool, writable: bool, device: bool) -> Result<(), SetupError> {
        let attrs = attrs_of(writable, device);
        self.set_attrs_kept(target, recursive, attrs)
            .map_err(|e| SetupError::sys(Code::Mount, format_args!("make {target} {}", if writable { "nosuid" } else { "read-only" }), e))
    }

    /// A symlink `target` -> `linkname`, its parents created as needed.
    /// Idempotent as bubblewrap: an existing link with the same contents is
    /// fine, anything else there is EEXIST.
    pub fn symlink(&self, target: &str, linkname: &str) -> Result<(), Errno> {
        let (parent, name) = split(target);
        let pfd = self.mkdir_all(parent, 0o755)?;
        let r = match self.may_create_in(pfd).and_then(|()| self.sys.symlinkat(linkname, pfd, name)) {
            Err(Errno(libc::EEXIST)) => match self.sys.readlinkat(pfd, name) {
                Ok(existing) if existing == linkname => Ok(()),
                _ => Err(Errno(libc::EEXIST)),
            },
            r => r,
        };
        let _ = self.sys.close(pfd);
        r
    }

    /// A private nosuid, nodev tmpfs at `dir` in the intermediate root
    /// (outside the new root, gone from reach after the pivots), for setup
    /// files the new root only sees through mounts. The error carries the
    /// failed step's code.
    fn scratch(&self, dir: &str) -> Result<(), (Code, Errno)> {
        if !self.scratch_ok {
            // ops::keeps_host_root keeps such plans out; never in the new root.
            return Err((Code::Setup, Errno(libc::EXDEV)));
        }
        self.sys.mkdir(dir, 0o700).map_err(|e| (Code::Setup, e))?;
        let flags = (libc::MS_NOSUID | libc::MS_NODEV) as MsFlags;
        self.sys.mount(Some("tmpfs"), dir, Some("tmpfs"), flags, Some("mode=755")).map_err(|e| (Code::Mount, e))
    }

    /// A new scratch tmpfs `/STEM.N` (N counts them from 0); its path.
    pub fn new_scratch(&mut self, stem: &str) -> Result<String, (Code, Errno)> {
        let dir = format!("/{stem}.{}", self.scratches);
        self.scratch(&dir)?;
        self.scratches += 1;
        Ok(dir)
    }

    /// A directory in the intermediate root (below a [`RootFs::new_scratch`]).
    pub fn scratch_dir(&self, path: &str, mode: u32) -> Result<(), Errno> {
        self.sys.mkdir(path, mode)
    }

    /// Put `data` at `target` in the new root, read-only, nodev and nosuid:
    /// the bytes go to a file of the same path on a scratch tmpfs (made on
    /// first use), bound on the target. Placing the same target twice
    /// replaces the file.
    pub fn place_file(&mut self, target: &str, data: &[u8], mode: u32) -> Result<(), SetupError> {
        let what = || format!("place file {target}");
        if !self.files {
            self.scratch(FILES).map_err(|(code, e)| SetupError::sys(code, what(), e))?;
            self.files = true;
        }
        mkdir_p(self.sys, FILES, split(target).0, 0o755).map_err(|e| SetupError::sys(Code::Setup, what(), e))?;
        let tmp = format!("{FILES}{target}");
        match self.sys.unlink(&tmp) {
            Ok(()) | Err(Errno(libc::ENOENT)) => {}
            Err(e) => return Err(SetupError::sys(Code::Setup, what(), e)),
        }
        self.sys.create_file(&tmp, data, mode).map_err(|e| SetupError::sys(Code::Setup, what(), e))?;
        let fd = self.mount_point(target, Point::File).map_err(|e| SetupError::sys(Code::Mount, what(), e))?;
        self.mount_on(target, fd, Some(&tmp), None, libc::MS_BIND as MsFlags, None).map_err(|e| SetupError::sys(Code::Mount, what(), e))?;
        self.set_attrs(target, false, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV).map_err(|e| SetupError::sys(Code::Mount, what(), e))
    }

    /// chmod `path` in the new root, through its fd.
    pub fn chmod(&self, path: &str, mode: u32) -> Result<(), Errno> {
        let fd = self.open(path, 0)?;
        let r = self.sys.chmod(&self.fd_path(fd), mode);
        let _ = self.sys.close(fd);
        r
    }
}

/// The attributes of a bind: always nosuid, read-only unless `writable`,
/// nodev unless `device`.
fn attrs_of(writable: bool, device: bool) -> u64 {
    let mut attrs = ATTR_NOSUID;
    if !writable {
        attrs |= ATTR_RDONLY;
    }
    if !device {
        attrs |= ATTR_NODEV;
    }
    attrs
}

/// MS_* flags for MOUNT_ATTR_* bits.
fn ms_of(attrs: u64) -> MsFlags {
    let mut flags = 0;
    for (a, m) in [(ATTR_RDONLY, libc::MS_RDONLY), (ATTR_NOSUID, libc::MS_NOSUID), (ATTR_NODEV, libc::MS_NODEV), (ATTR_NOEXEC, libc::MS_NOEXEC)] {
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

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
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
        assert_eq!(RootFs::new(&s, 3).mkdir_all("/a/b", 0o700), Ok(12));
        s.done();
    }

    #[test]
    fn mkdir_all_stops_at_the_first_hard_error() {
        let s = Script::new(vec![open_dir_missing(3, "/a"), open_dir(3, "/", 10), mkdirat(10, "a", 0o755, Ret::Err(10_001)), close(10)]);
        assert_eq!(RootFs::new(&s, 3).mkdir_all("/a", 0o755), Err(Errno(10_001)));
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
        RootFs::new(&s, 3).set_attrs("/usr", true, ATTR_RDONLY | ATTR_NOSUID).unwrap();
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
        assert_eq!(RootFs::new(&s, 3).set_attrs("/usr", false, ATTR_RDONLY), Err(Errno(10_011)));
        s.done();
    }

    #[test]
    fn a_fallback_that_finds_no_mount_is_einval() {
        let s = Script::new(vec![
            open_any(3, "/usr", Ret::Fd(9)),
            call("mount_setattr(9, single, RDONLY)", Ret::Err(libc::ENOSYS)),
            call("readlink(\"/host/proc/self/fd/9\")", Ret::Text("/sysroot/usr".into())),
            call("read_file(\"/host/proc/self/mountinfo\")", Ret::Bytes(b"short line\n".to_vec())),
            close(9),
        ]);
        assert_eq!(RootFs::new(&s, 3).set_attrs("/usr", false, ATTR_RDONLY), Err(Errno(libc::EINVAL)));
        s.done();
    }

    /// The toolkit over a kept root whose first op was `--ro-bind / /`.
    fn kept(s: &Script) -> RootFs<'_> {
        let mut root = RootFs::in_place(s, 3);
        root.kept = ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV;
        root
    }

    #[test]
    fn set_and_clear_in_one_call_on_a_kept_root_else_the_two_steps() {
        // one call: nosuid and noexec on, read-only and nodev off
        let s =
            Script::new(vec![open_any(3, "/dev/null", Ret::Fd(9)), call("mount_setattr(9, single, set NOSUID|NOEXEC, clear RDONLY|NODEV)", Ret::Ok), close(9)]);
        kept(&s).set_attrs_kept("/dev/null", false, ATTR_NOSUID | ATTR_NOEXEC).unwrap();
        s.done();
        // a locked flag (EPERM) or a kernel before 5.12 (ENOSYS): the set, then the clear flag by flag
        for refused in [libc::EPERM, libc::ENOSYS] {
            let s = Script::new(vec![
                open_any(3, "/x", Ret::Fd(9)),
                call("mount_setattr(9, single, set NOSUID, clear RDONLY|NODEV)", Ret::Err(refused)),
                close(9),
                open_any(3, "/x", Ret::Fd(9)),
                call("mount_setattr(9, single, NOSUID)", Ret::Ok),
                close(9),
                open_any(3, "/x", Ret::Fd(9)),
                call("mount_setattr(9, single, set 0, clear RDONLY|NODEV)", Ret::Err(libc::EPERM)),
                call("mount_setattr(9, single, set 0, clear RDONLY)", Ret::Err(libc::EPERM)),
                call("mount_setattr(9, single, set 0, clear NODEV)", Ret::Ok),
                close(9),
            ]);
            kept(&s).set_attrs_kept("/x", false, ATTR_NOSUID).unwrap();
            s.done();
        }
        // any other error is the answer, the fd closed
        let s = Script::new(vec![open_any(3, "/x", Ret::Fd(9)), call("mount_setattr(9, single, set NOSUID, clear RDONLY|NODEV)", Ret::Err(10_037)), close(9)]);
        assert_eq!(kept(&s).set_attrs_kept("/x", false, ATTR_NOSUID), Err(Errno(10_037)));
        s.done();
        // nothing to clear (a read-only nodev bind, or a root not kept): the set alone
        let s = Script::new(vec![open_any(3, "/r", Ret::Fd(9)), call("mount_setattr(9, recursive, RDONLY|NOSUID|NODEV)", Ret::Ok), close(9)]);
        kept(&s).set_attrs_kept("/r", true, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV).unwrap();
        s.done();
        let s = Script::new(vec![open_any(3, "/d", Ret::Fd(9)), call("mount_setattr(9, single, NOSUID|NOEXEC)", Ret::Ok), close(9)]);
        RootFs::in_place(&s, 3).set_attrs_kept("/d", false, ATTR_NOSUID | ATTR_NOEXEC).unwrap();
        s.done();
        // the open failing: its error
        let s = Script::new(vec![open_any(3, "/gone", Ret::Err(libc::ENOENT))]);
        assert_eq!(kept(&s).set_attrs_kept("/gone", false, ATTR_NOSUID), Err(Errno(libc::ENOENT)));
        s.done();
    }

    #[test]
    fn a_bind_from_the_kept_root_gets_back_what_the_first_op_added() {
        // a device: neither read-only nor nodev, as from the untouched host
        let s = Script::new(vec![open_any(3, "/dev/null", Ret::Fd(9)), call("mount_setattr(9, single, set 0, clear RDONLY|NODEV)", Ret::Ok), close(9)]);
        kept(&s).restore("/dev/null", false, ATTR_NOSUID | ATTR_NOEXEC).unwrap();
        s.done();
        // the host mount was read-only itself (locked: EPERM): it stays so, nodev still comes off
        let s = Script::new(vec![
            open_any(3, "/x", Ret::Fd(9)),
            call("mount_setattr(9, single, set 0, clear RDONLY|NODEV)", Ret::Err(libc::EPERM)),
            call("mount_setattr(9, single, set 0, clear RDONLY)", Ret::Err(libc::EPERM)),
            call("mount_setattr(9, single, set 0, clear NODEV)", Ret::Ok),
            close(9),
        ]);
        kept(&s).restore("/x", false, ATTR_NOSUID).unwrap();
        s.done();
        // a writable bind that wants nodev: only read-only comes off
        let s = Script::new(vec![open_any(3, "/w", Ret::Fd(9)), call("mount_setattr(9, single, set 0, clear RDONLY)", Ret::Err(libc::EPERM)), close(9)]);
        kept(&s).restore("/w", false, ATTR_NOSUID | ATTR_NODEV).unwrap();
        s.done();
        // what the bind wants anyway, or a root that was not kept: no call at all
        let s = Script::new(Vec::<Call>::new());
        kept(&s).restore("/r", true, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV).unwrap();
        RootFs::new(&s, 3).restore("/r", false, 0).unwrap();
        s.done();
    }

    #[test]
    fn restoring_fails_on_any_other_error_and_falls_back_to_a_remount_before_5_12() {
        let s = Script::new(vec![open_any(3, "/x", Ret::Fd(9)), call("mount_setattr(9, single, set 0, clear RDONLY|NODEV)", Ret::Err(10_036)), close(9)]);
        assert_eq!(kept(&s).restore("/x", false, 0), Err(Errno(10_036)));
        s.done();
        let s = Script::new(vec![open_any(3, "/x", Ret::Fd(9)), call("mount_setattr(9, single, set 0, clear RDONLY)", Ret::Err(libc::EPERM)), close(9)]);
        // one flag to clear and locked: no second try of the same
        let mut root = kept(&s);
        root.kept = ATTR_RDONLY;
        assert_eq!(root.restore("/x", false, 0), Ok(()));
        s.done();
        let s = Script::new(vec![
            open_any(3, "/x", Ret::Fd(9)),
            call("mount_setattr(9, single, set 0, clear RDONLY|NODEV)", Ret::Err(libc::ENOSYS)),
            call("mount_flags(\"./9\")", Ret::Int((libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC) as i64)),
            call("mount(-, \"./9\", -, NOSUID|NOEXEC|REMOUNT|BIND, -)", Ret::Ok),
            close(9),
        ]);
        kept(&s).restore("/x", false, 0).unwrap();
        s.done();
    }

    #[test]
    fn no_setup_file_is_made_with_the_root_kept_in_place() {
        let s = Script::new(Vec::<Call>::new());
        let e = kept(&s).place_file("/etc/motd", b"hi", 0o644).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (Code::Setup, format!("cannot place file /etc/motd: {}", Errno(libc::EXDEV)).as_str()));
        assert_eq!(kept(&s).new_scratch("overlay"), Err((Code::Setup, Errno(libc::EXDEV))));
        s.done();
    }

    #[test]
    fn a_mount_on_the_root_reopens_it_and_close_closes_the_fresh_fd() {
        let s = Script::new(vec![
            open_dir(3, "/", 7),
            call("mount(\"tmpfs\", \"/host/proc/self/fd/7\", \"tmpfs\", NOSUID, -)", Ret::Ok),
            close(7),
            call(format!("open(\"/sysroot\", {:#o})", libc::O_PATH | libc::O_DIRECTORY), Ret::Fd(9)),
            close(3),
            close(9),
        ]);
        let mut root = RootFs::new(&s, 3);
        root.mount_fs("/", "tmpfs", libc::MS_NOSUID as MsFlags, None).unwrap();
        assert_eq!(root.root(), 9);
        root.close();
        s.done();
    }
}
