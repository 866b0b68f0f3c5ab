//! Stage: the container's root. The host's mounts become slaves (or the
//! spec's `rootfsPropagation`), the rootfs is bound onto itself, then each
//! of `mounts` in order: its destination resolved inside the rootfs
//! (oci/resolve.rs), its mount point made and opened inside the root and
//! mounted through `/proc/self/fd/N` by the same toolkit the sandbox ops use
//! (ops/rootfs.rs `RootFs::at`: openat2 RESOLVE_IN_ROOT, parents through
//! fds), so nothing can swap a symlink in between (moby's and runc's fix for
//! CVE-2021-30465). Each option class is its own call
//! (oci/options.rs). Devices, /dev links, the pivot (runc's
//! pivot_root(".", ".")), masked and read-only paths follow.

use super::Container;
use crate::error::{Code, Ctx, SetupError};
use crate::oci::options::{self, MountOptions};
use crate::oci::resolve::{self, Host};
use crate::oci::spec::{Mount, Spec};
use crate::ops::rootfs::{Point, RootFs};
use crate::sys::{Errno, Fd, FileKind, MsFlags, Sys};

const MS_BIND: u64 = libc::MS_BIND;
const MS_REC: u64 = libc::MS_REC;
const MS_REMOUNT: u64 = libc::MS_REMOUNT;
const MS_RDONLY: u64 = libc::MS_RDONLY;

/// /proc entries a mount may cover (runc's checkProcMount list: lxcfs).
const PROC_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

fn propagation(p: Option<&str>) -> u64 {
    let f = |x: u64| x;
    match p.unwrap_or("") {
        "private" => f(libc::MS_PRIVATE),
        "rprivate" => f(libc::MS_PRIVATE | libc::MS_REC),
        "slave" => f(libc::MS_SLAVE),
        "shared" => f(libc::MS_SHARED),
        "rshared" => f(libc::MS_SHARED | libc::MS_REC),
        "unbindable" => f(libc::MS_UNBINDABLE),
        "runbindable" => f(libc::MS_UNBINDABLE | libc::MS_REC),
        _ => f(libc::MS_SLAVE | libc::MS_REC),
    }
}

/// Nothing mounted below propagates to the host; the rootfs is a mount.
/// The host's tree is at most a slave of ours (rprivate when asked);
/// `rootfsPropagation` proper is applied to the new root after the pivot
/// ([`root_propagation`]): pivot_root refuses a shared new root or parent.
pub fn prepare_root(sys: &dyn Sys, c: &Container) -> Result<(), SetupError> {
    let host = match c.spec.linux.rootfs_propagation.as_deref() {
        Some("private" | "rprivate") => libc::MS_PRIVATE | MS_REC,
        _ => libc::MS_SLAVE | MS_REC,
    };
    sys.mount(None, "/", None, host, None).ctx(Code::Mount, "make / a slave of the host")?;
    sys.mount(Some(&c.rootfs), &c.rootfs, None, MS_BIND | MS_REC, None).ctx(Code::Mount, format_args!("bind the rootfs {}", c.rootfs))
}

/// After the pivot: the new root's propagation as the spec asks.
pub fn root_propagation(sys: &dyn Sys, spec: &Spec) -> Result<(), SetupError> {
    match spec.linux.rootfs_propagation.as_deref() {
        None | Some("") => Ok(()),
        p => sys.mount(None, "/", None, propagation(p), None).ctx(Code::Mount, "set the root's propagation"),
    }
}

/// Every mount of the spec, in order.
pub fn mount_all(sys: &dyn Sys, c: &Container) -> Result<(), SetupError> {
    let root = sys.open(&c.rootfs, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC).ctx(Code::Setup, format_args!("open the rootfs {}", c.rootfs))?;
    let mut fs = RootFs::at(sys, root, &c.rootfs);
    for (i, m) in c.spec.mounts.iter().enumerate() {
        let dest = resolve::resolve(&c.rootfs, &m.destination, &Host).map_err(|e| crate::oci::spec::invalid(format!("mounts[{i}].destination"), e))?;
        check_dest(m, &dest).map_err(|e| crate::oci::spec::invalid(format!("mounts[{i}].destination"), e))?;
        mount_one(&mut fs, c, m, &dest).map_err(|e| SetupError { message: format!("mounts[{i}] ({}): {}", m.destination, e.message), ..e })?;
    }
    fs.close();
    Ok(())
}

/// /proc and /sys may not be covered by tricks: proc and sysfs mount only
/// where their destination is itself, and nothing mounts inside /proc but
/// runc's list.
fn check_dest(m: &Mount, dest: &str) -> Result<(), String> {
    let kind = m.kind.as_deref().unwrap_or("");
    if (kind == "proc" || kind == "sysfs") && dest != m.destination.trim_end_matches('/') {
        return Err(format!("{kind} destination {} resolves to {dest} through a symlink", m.destination));
    }
    if dest.starts_with("/proc/") && !PROC_ALLOWED.contains(&dest) {
        return Err(format!("{dest} is inside /proc"));
    }
    Ok(())
}

/// The source as the host sees it (relative to the bundle).
fn source(c: &Container, m: &Mount) -> Option<String> {
    m.source.as_ref().map(|s| if s.starts_with('/') || !is_bind(m) { s.clone() } else { format!("{}/{s}", c.bundle) })
}

fn is_bind(m: &Mount) -> bool {
    m.kind.as_deref() == Some("bind") || m.options.iter().any(|o| o == "bind" || o == "rbind")
}

/// One mount: point, mount or bind, remount, propagation, attributes.
pub fn mount_one(fs: &mut RootFs, c: &Container, m: &Mount, dest: &str) -> Result<(), SetupError> {
    let sys = fs.sys();
    let o: MountOptions = options::parse(&m.options).map_err(|e| SetupError::new(Code::SpecInvalid, e))?;
    let kind = m.kind.clone().unwrap_or_default();
    let src = source(c, m);
    // cgroup v1 hierarchies cannot be mounted as one: bind the host's tree.
    let (bind, recursive, src) = match kind.as_str() {
        "cgroup" => (true, true, Some("/sys/fs/cgroup".to_string())),
        _ => (o.bind, o.recursive, src),
    };
    let point = match (bind, src.as_deref()) {
        (true, Some(s)) => Point::for_kind(sys.stat(s).ctx(Code::SourceMissing, format_args!("find the source {s}"))?),
        _ => Point::Dir,
    };
    let what = || format!("mount {} on {dest}", src.as_deref().unwrap_or(&kind));
    let fd = fs.mount_point(dest, point).map_err(|e| SetupError::sys(Code::Setup, format_args!("create the mount point {dest}"), e))?;
    let data = (!o.data.is_empty()).then_some(o.data.as_str());
    if bind {
        fs.mount_on(dest, fd, src.as_deref(), None, MS_BIND | if recursive { MS_REC } else { 0 }, None).map_err(|e| SetupError::sys(Code::Mount, what(), e))?;
    } else {
        match (fs.mount_on(dest, fd, src.as_deref(), Some(&kind), o.flags & !MS_REMOUNT, data), kind.as_str()) {
            // In a user namespace sysfs needs its own network namespace and
            // mqueue its own ipc namespace; bind the host's then (runc).
            (Err(Errno(libc::EPERM | libc::EBUSY)), "sysfs" | "mqueue") => {
                let host = if kind == "sysfs" { "/sys" } else { "/dev/mqueue" };
                let fd = fs.open(dest, 0).ctx(Code::Setup, format_args!("open {dest} in the rootfs"))?;
                fs.mount_on(dest, fd, Some(host), None, MS_BIND | MS_REC, None).map_err(|e| SetupError::sys(Code::Mount, what(), e))?;
            }
            (r, _) => r.map_err(|e| SetupError::sys(Code::Mount, what(), e))?,
        }
    }
    // The fd named the covered directory: reopen to reach the new mount.
    let fd = fs.open(dest, 0).ctx(Code::Setup, format_args!("open {dest} in the rootfs"))?;
    let target = fs.fd_path(fd);
    let mut o = o;
    if kind == "cgroup" && o.flags & MS_RDONLY != 0 {
        // The host's hierarchies are submounts: read-only must reach them all.
        o.attr_set |= options::ATTR_RDONLY;
    }
    let result = after_mount(sys, fd, &target, bind, &o);
    let _ = sys.close(fd);
    result
}

fn after_mount(sys: &dyn Sys, fd: Fd, target: &str, bind: bool, o: &MountOptions) -> Result<(), SetupError> {
    let again = options::remount_flags(o.flags);
    if bind && again != 0 {
        remount(sys, target, again)?;
    }
    for p in &o.propagation {
        sys.mount(None, target, None, *p as MsFlags, None).ctx(Code::Mount, "change the mount's propagation")?;
    }
    if o.attr_set != 0 || o.attr_clr != 0 {
        sys.mount_setattr_clr(fd, true, o.attr_set, o.attr_clr).ctx(Code::Mount, "set recursive mount attributes")?;
    }
    Ok(())
}

/// MS_REMOUNT|MS_BIND with `flags`; in a user namespace the flags the
/// mount already has are locked, so a refusal is retried with them kept.
fn remount(sys: &dyn Sys, target: &str, flags: u64) -> Result<(), SetupError> {
    match sys.mount(None, target, None, MS_REMOUNT | MS_BIND | flags, None) {
        Err(Errno(libc::EPERM)) => {
            let locked = sys.mount_flags(target).unwrap_or(0);
            sys.mount(None, target, None, MS_REMOUNT | MS_BIND | flags | locked, None).ctx(Code::Mount, "remount")
        }
        r => r.ctx(Code::Mount, "remount"),
    }
}

/// Remount `path` read-only (root.readonly, readonlyPaths).
pub fn remount_ro(sys: &dyn Sys, path: &str) -> Result<(), SetupError> {
    remount(sys, path, MS_RDONLY).map_err(|e| SetupError { message: format!("{path}: {}", e.message), ..e })
}

/// The default devices and `linux.devices`: mknod as real root, else a bind
/// of the host's node; then the /dev links.
pub fn devices(sys: &dyn Sys, c: &Container) -> Result<(), SetupError> {
    let root = sys.open(&c.rootfs, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC).ctx(Code::Setup, "open the rootfs")?;
    let mut fs = RootFs::at(sys, root, &c.rootfs);
    let mut list: Vec<(String, u32, u64, u64, u32, u32, u32)> =
        [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)]
            .iter()
            .map(|(n, ma, mi)| (format!("/dev/{n}"), libc::S_IFCHR, *ma, *mi, 0o666, 0, 0))
            .collect();
    for d in &c.spec.linux.devices {
        let t = match d.kind.as_str() {
            "b" => libc::S_IFBLK,
            "p" => libc::S_IFIFO,
            _ => libc::S_IFCHR,
        };
        list.retain(|l| l.0 != d.path);
        list.push((d.path.clone(), t, d.major as u64, d.minor as u64, d.file_mode.unwrap_or(0o666) & 0o7777, d.uid.unwrap_or(0), d.gid.unwrap_or(0)));
    }
    for (path, kind, major, minor, mode, uid, gid) in &list {
        let dest = resolve::resolve(&c.rootfs, path, &Host).map_err(|e| SetupError::new(Code::Setup, format!("device {path}: {e}")))?;
        let (parent, name) = crate::ops::rootfs::split(&dest);
        let dir = fs.mkdir_all(parent, 0o755).map_err(|e| SetupError::sys(Code::Setup, format_args!("create {parent} in the rootfs"), e))?;
        let made = if c.privileged {
            let _ = sys.unlinkat(dir, name, 0);
            sys.mknodat(dir, name, *kind | mode, libc::makedev(*major as u32, *minor as u32))
                .and_then(|_| sys.fchownat(dir, name, *uid, *gid))
                // mknod applied the umask: the spec's mode is exact.
                .and_then(|_| sys.fchmodat(dir, name, *mode))
        } else {
            Err(Errno(libc::EPERM))
        };
        let _ = sys.close(dir);
        if made.is_err() {
            // Not real root: the host's node, bound (runc's bindMountDeviceNode).
            let fd = fs.mount_point(&dest, Point::File).map_err(|e| SetupError::sys(Code::Setup, format_args!("create {path}"), e))?;
            fs.mount_on(&dest, fd, Some(path), None, MS_BIND, None).map_err(|e| SetupError::sys(Code::Mount, format_args!("bind the host's {path}"), e))?;
        }
    }
    let root = fs.root();
    let dev = sys.open_in_root(root, "/dev", libc::O_DIRECTORY).ctx(Code::Setup, "open /dev in the rootfs")?;
    for (name, link) in
        [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore")]
    {
        match sys.symlinkat(link, dev, name) {
            Ok(()) | Err(Errno(libc::EEXIST)) => {}
            Err(e) => return Err(SetupError::sys(Code::Setup, format_args!("link /dev/{name}"), e)),
        }
    }
    // /dev/ptmx → pts/ptmx: the devpts instance of the container (runc's setupPtmx).
    let _ = sys.unlinkat(dev, "ptmx", 0);
    sys.symlinkat("pts/ptmx", dev, "ptmx").ctx(Code::Setup, "link /dev/ptmx")?;
    let _ = sys.close(dev);
    fs.close();
    Ok(())
}

/// runc's pivot: pivot_root(".", ".") stacks the old root on the new one,
/// which a lazy unmount then removes (no put_old directory in the rootfs).
pub fn pivot(sys: &dyn Sys, rootfs: &str) -> Result<(), SetupError> {
    let old = sys.open("/", libc::O_DIRECTORY | libc::O_RDONLY | libc::O_CLOEXEC).ctx(Code::Setup, "open the old root")?;
    let new = sys.open(rootfs, libc::O_DIRECTORY | libc::O_RDONLY | libc::O_CLOEXEC).ctx(Code::Setup, "open the rootfs")?;
    sys.fchdir(new).ctx(Code::Setup, "enter the rootfs")?;
    sys.pivot_root(".", ".").ctx(Code::Mount, "pivot into the rootfs")?;
    sys.fchdir(old).ctx(Code::Setup, "enter the old root")?;
    // The old root may be shared: a slave first so the unmount stays here.
    sys.mount(None, ".", None, MS_REC | libc::MS_SLAVE, None).ctx(Code::Mount, "make the old root a slave")?;
    sys.umount2(".", libc::MNT_DETACH).ctx(Code::Mount, "detach the old root")?;
    sys.chdir("/").ctx(Code::Setup, "enter the new root")?;
    let _ = sys.close(old);
    let _ = sys.close(new);
    Ok(())
}

/// maskedPaths (runc's maskPath: /dev/null over a file, an empty read-only
/// tmpfs over a directory) and readonlyPaths; missing paths are skipped.
/// After the pivot, so every path is the container's own.
pub fn masked_and_readonly(sys: &dyn Sys, spec: &Spec) -> Result<(), SetupError> {
    for p in &spec.linux.masked_paths {
        match sys.stat(p) {
            Err(Errno(libc::ENOENT | libc::ENOTDIR)) => continue,
            Err(e) => return Err(SetupError::sys(Code::Mount, format_args!("mask {p}"), e)),
            Ok(FileKind::Dir) => sys.mount(Some("tmpfs"), p, Some("tmpfs"), MS_RDONLY, Some("size=0")),
            Ok(_) => sys.mount(Some("/dev/null"), p, None, MS_BIND, None),
        }
        .ctx(Code::Mount, format_args!("mask {p}"))?;
    }
    for p in &spec.linux.readonly_paths {
        match sys.mount(Some(p), p, None, MS_BIND | MS_REC, None) {
            Err(Errno(libc::ENOENT | libc::ENOTDIR)) => continue,
            r => r.ctx(Code::Mount, format_args!("bind {p} read-only"))?,
        }
        remount_ro(sys, p)?;
        // The remount reaches the top mount only (runc stops there): the
        // mounts below `p` are made read-only too, in one atomic call.
        // Before Linux 5.12 (ENOSYS) they stay as they are.
        let fd = sys.open(p, libc::O_PATH | libc::O_CLOEXEC).ctx(Code::Mount, format_args!("open {p}"))?;
        let r = sys.mount_setattr_clr(fd, true, options::ATTR_RDONLY, 0);
        let _ = sys.close(fd);
        match r {
            Err(Errno(libc::ENOSYS)) => {}
            r => r.ctx(Code::Mount, format_args!("make the mounts below {p} read-only"))?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::script::{Ret, Script};

    /// The shared fixture, without a seccomp filter (no mount test loads one).
    fn container(spec: &Spec) -> Container<'_> {
        Container { seccomp: Vec::new(), ..crate::container::tests::container(spec) }
    }

    fn mount(dest: &str, kind: &str, src: &str, opts: &[&str]) -> Mount {
        Mount { destination: dest.into(), kind: Some(kind.into()), source: Some(src.into()), options: opts.iter().map(|s| s.to_string()).collect() }
    }

    /// A read-only bind: the bind alone, then the remount the kernel needs
    /// for ro, then propagation, each its own call, all through the fd.
    #[test]
    fn a_read_only_bind_is_bind_then_remount_then_propagation() {
        let spec = Spec::default();
        let c = container(&spec);
        let s = Script::new(vec![
            ("stat(\"/b/data\")", Ret::Kind(FileKind::Dir)),
            ("open_in_root(5, \"/mnt/data\", 0o200000)", Ret::Fd(7)),
            ("mount(\"/b/data\", \"/proc/self/fd/7\", -, BIND|REC, -)", Ret::Ok),
            ("close(7)", Ret::Ok),
            ("open_in_root(5, \"/mnt/data\", 0o0)", Ret::Fd(8)),
            ("mount(-, \"/proc/self/fd/8\", -, RDONLY|NOSUID|REMOUNT|BIND, -)", Ret::Ok),
            ("mount(-, \"/proc/self/fd/8\", -, PRIVATE, -)", Ret::Ok),
            ("close(8)", Ret::Ok),
        ]);
        let mut fs = RootFs::at(&s, 5, "/b/rootfs");
        mount_one(&mut fs, &c, &mount("/mnt/data", "bind", "data", &["rbind", "ro", "nosuid", "private"]), "/mnt/data").unwrap();
        s.done();
    }

    /// A missing mount point is made inside the root through the rootfs
    /// toolkit (each missing parent from its opened parent); a file source
    /// gets a file; a tmpfs gets its data; mount errors name the mount.
    #[test]
    fn missing_points_are_made_inside_the_root() {
        let spec = Spec::default();
        let c = container(&spec);
        let s = Script::new(vec![
            ("open_in_root(5, \"/a/b\", 0o200000)", Ret::Err(libc::ENOENT)),
            ("open_in_root(5, \"/a\", 0o200000)", Ret::Err(libc::ENOENT)),
            ("open_in_root(5, \"/\", 0o200000)", Ret::Fd(6)),
            ("mkdirat(6, \"a\", 755)", Ret::Err(libc::EEXIST)),
            ("close(6)", Ret::Ok),
            ("open_in_root(5, \"/a\", 0o200000)", Ret::Fd(6)),
            ("mkdirat(6, \"b\", 755)", Ret::Ok),
            ("close(6)", Ret::Ok),
            ("open_in_root(5, \"/a/b\", 0o200000)", Ret::Fd(7)),
            ("mount(\"tmpfs\", \"/proc/self/fd/7\", \"tmpfs\", NOSUID|NODEV, \"mode=755,size=1m\")", Ret::Err(libc::ENOSPC)),
            ("close(7)", Ret::Ok),
        ]);
        let mut fs = RootFs::at(&s, 5, "/b/rootfs");
        let e = mount_one(&mut fs, &c, &mount("/a/b", "tmpfs", "tmpfs", &["nosuid", "nodev", "mode=755", "size=1m"]), "/a/b").unwrap_err();
        assert_eq!(e.code, Code::Mount);
        s.done();
        let s = Script::new(vec![
            ("stat(\"/etc/hostname\")", Ret::Kind(FileKind::File)),
            ("open_in_root(5, \"/h\", 0o0)", Ret::Err(libc::ENOENT)),
            ("open_in_root(5, \"/\", 0o200000)", Ret::Fd(6)),
            ("mkfileat(6, \"h\", 444)", Ret::Ok),
            ("close(6)", Ret::Ok),
            ("open_in_root(5, \"/h\", 0o0)", Ret::Fd(7)),
            ("mount(\"/etc/hostname\", \"/proc/self/fd/7\", -, BIND, -)", Ret::Err(10_001)),
            ("close(7)", Ret::Ok),
        ]);
        let mut fs = RootFs::at(&s, 5, "/b/rootfs");
        let e = mount_one(&mut fs, &c, &mount("/h", "bind", "/etc/hostname", &["bind"]), "/h").unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (Code::Mount, "cannot mount /etc/hostname on /h: error 10001"));
        s.done();
    }

    #[test]
    fn proc_and_sys_cannot_be_redirected() {
        let m = mount("/proc", "proc", "proc", &[]);
        assert!(check_dest(&m, "/proc").is_ok());
        assert!(check_dest(&m, "/etc").is_err(), "rootfs/proc -> /etc");
        let b = mount("/proc/self/x", "bind", "/tmp", &["rbind"]);
        assert!(check_dest(&b, "/proc/self/x").is_err());
        let lxcfs = mount("/proc/meminfo", "bind", "/var/lib/lxcfs/proc/meminfo", &["bind"]);
        assert!(check_dest(&lxcfs, "/proc/meminfo").is_ok());
    }

    #[test]
    fn masked_paths_use_dev_null_or_an_empty_tmpfs() {
        let spec = Spec {
            linux: crate::oci::spec::Linux {
                masked_paths: vec!["/proc/kcore".into(), "/proc/acpi".into(), "/proc/nope".into()],
                readonly_paths: vec!["/proc/sys".into()],
                ..Default::default()
            },
            ..Default::default()
        };
        let s = Script::new(vec![
            ("stat(\"/proc/kcore\")", Ret::Kind(FileKind::File)),
            ("mount(\"/dev/null\", \"/proc/kcore\", -, BIND, -)", Ret::Ok),
            ("stat(\"/proc/acpi\")", Ret::Kind(FileKind::Dir)),
            ("mount(\"tmpfs\", \"/proc/acpi\", \"tmpfs\", RDONLY, \"size=0\")", Ret::Ok),
            ("stat(\"/proc/nope\")", Ret::Err(libc::ENOENT)),
            ("mount(\"/proc/sys\", \"/proc/sys\", -, BIND|REC, -)", Ret::Ok),
            ("mount(-, \"/proc/sys\", -, RDONLY|REMOUNT|BIND, -)", Ret::Ok),
            ("open(\"/proc/sys\", 0o12000000)", Ret::Fd(9)),
            ("mount_setattr(9, recursive, set RDONLY, clear 0)", Ret::Ok),
            ("close(9)", Ret::Ok),
        ]);
        masked_and_readonly(&s, &spec).unwrap();
        s.done();
    }

    /// runc's pivot: the old root stacked under the new one, made a slave
    /// and detached; each failure is its own error.
    #[test]
    fn pivot_is_runcs_dot_dot_sequence() {
        let calls = |fail: Option<usize>| {
            let mut v: Vec<(&str, Ret)> = vec![
                ("open(\"/\", 0o2200000)", Ret::Fd(3)),
                ("open(\"/b/rootfs\", 0o2200000)", Ret::Fd(4)),
                ("fchdir(4)", Ret::Ok),
                ("pivot_root(\".\", \".\")", Ret::Ok),
                ("fchdir(3)", Ret::Ok),
                ("mount(-, \".\", -, REC|SLAVE, -)", Ret::Ok),
                ("umount2(\".\", 2)", Ret::Ok),
                ("chdir(\"/\")", Ret::Ok),
                ("close(3)", Ret::Ok),
                ("close(4)", Ret::Ok),
            ];
            if let Some(n) = fail {
                v[n].1 = Ret::Err(libc::EINVAL);
                v.truncate(n + 1);
            }
            v
        };
        let s = Script::new(calls(None));
        pivot(&s, "/b/rootfs").unwrap();
        s.done();
        let s = Script::new(calls(Some(3)));
        let e = pivot(&s, "/b/rootfs").unwrap_err();
        assert_eq!(e.code, Code::Mount);
        assert!(e.message.contains("pivot into the rootfs"), "{}", e.message);
        s.done();
    }

    /// Without real root a device is the host's node bound on a file made
    /// inside the root; the /dev links follow.
    #[test]
    fn devices_without_root_are_bound_from_the_host() {
        let spec = Spec::default();
        let mut c = container(&spec);
        c.privileged = false;
        c.rootfs = "/nonexistent-rootfs".into();
        let mut v: Vec<(String, Ret)> = vec![("open(\"/nonexistent-rootfs\", 0o12200000)".into(), Ret::Fd(5))];
        for (i, n) in ["null", "zero", "full", "random", "urandom", "tty"].iter().enumerate() {
            let fd = 20 + i as i32;
            v.push(("open_in_root(5, \"/dev\", 0o200000)".into(), Ret::Fd(7)));
            v.push(("close(7)".into(), Ret::Ok));
            v.push((format!("open_in_root(5, \"/dev/{n}\", 0o0)"), Ret::Err(libc::ENOENT)));
            v.push(("open_in_root(5, \"/dev\", 0o200000)".into(), Ret::Fd(6)));
            v.push((format!("mkfileat(6, \"{n}\", 444)"), Ret::Ok));
            v.push(("close(6)".into(), Ret::Ok));
            v.push((format!("open_in_root(5, \"/dev/{n}\", 0o0)"), Ret::Fd(fd)));
            v.push((format!("mount(\"/dev/{n}\", \"/proc/self/fd/{fd}\", -, BIND, -)"), Ret::Ok));
            v.push((format!("close({fd})"), Ret::Ok));
        }
        v.push(("open_in_root(5, \"/dev\", 0o200000)".into(), Ret::Fd(8)));
        for (n, l) in
            [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore")]
        {
            v.push((format!("symlinkat(\"{l}\", 8, \"{n}\")"), Ret::Err(libc::EEXIST)));
        }
        v.push(("unlinkat(8, \"ptmx\", 0x0)".into(), Ret::Err(libc::ENOENT)));
        v.push(("symlinkat(\"pts/ptmx\", 8, \"ptmx\")".into(), Ret::Ok));
        v.push(("close(8)".into(), Ret::Ok));
        v.push(("close(5)".into(), Ret::Ok));
        let s = Script::new(v);
        devices(&s, &c).unwrap();
        s.done();
    }

    /// As real root a device is mknod'ed, chowned and given the spec's exact
    /// mode; a node any of those refuse falls back to the host's node, bound.
    #[test]
    fn devices_as_root_are_made_and_a_refused_one_is_bound() {
        let spec = Spec::default();
        let mut c = container(&spec);
        c.rootfs = "/nonexistent-rootfs".into();
        let mut v: Vec<(String, Ret)> = vec![("open(\"/nonexistent-rootfs\", 0o12200000)".into(), Ret::Fd(5))];
        for (i, (n, dev)) in [("null", "1:3"), ("zero", "1:5"), ("full", "1:7"), ("random", "1:8"), ("urandom", "1:9"), ("tty", "5:0")].iter().enumerate() {
            v.push(("open_in_root(5, \"/dev\", 0o200000)".into(), Ret::Fd(7)));
            v.push((format!("unlinkat(7, \"{n}\", 0x0)"), Ret::Err(libc::ENOENT)));
            v.push((format!("mknodat(7, \"{n}\", 20666, {dev})"), Ret::Ok));
            if *n == "zero" {
                v.push((format!("fchownat(7, \"{n}\", 0, 0)"), Ret::Err(libc::EPERM)));
                v.push(("close(7)".into(), Ret::Ok));
                v.push((format!("open_in_root(5, \"/dev/{n}\", 0o0)"), Ret::Fd(20 + i as i32)));
                v.push((format!("mount(\"/dev/{n}\", \"/proc/self/fd/{}\", -, BIND, -)", 20 + i), Ret::Ok));
                v.push((format!("close({})", 20 + i), Ret::Ok));
            } else {
                v.push((format!("fchownat(7, \"{n}\", 0, 0)"), Ret::Ok));
                v.push((format!("fchmodat(7, \"{n}\", 666)"), Ret::Ok));
                v.push(("close(7)".into(), Ret::Ok));
            }
        }
        v.push(("open_in_root(5, \"/dev\", 0o200000)".into(), Ret::Fd(8)));
        for (n, l) in
            [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore")]
        {
            v.push((format!("symlinkat(\"{l}\", 8, \"{n}\")"), Ret::Ok));
        }
        v.push(("unlinkat(8, \"ptmx\", 0x0)".into(), Ret::Ok));
        v.push(("symlinkat(\"pts/ptmx\", 8, \"ptmx\")".into(), Ret::Err(9700)));
        let s = Script::new(v);
        let e = devices(&s, &c).unwrap_err();
        assert!(e.message.contains("link /dev/ptmx") && e.message.contains("error 9700"), "{}", e.message);
        s.done();
    }
}
