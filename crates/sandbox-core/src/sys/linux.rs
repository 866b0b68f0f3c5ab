//! The real [`Sys`]: thin wrappers over the kernel. No policy lives here;
//! the init sequence and the ops decide what to call and in which order.
//!
//! nix makes the call wherever it has one. Raw libc remains, each `unsafe`
//! with its reason, for what nix lacks: the fork-like clone, capset,
//! Landlock, seccomp, mount_setattr, open_tree/move_mount, the prctls nix
//! has no wrapper for, rt_sigaction of glibc's own signals, sigtimedwait,
//! wait4 (nix's `WaitStatus` cannot hold a real-time signal), flock on a bare
//! fd, the interface and terminal ioctls, malloc_trim and _exit. The seam
//! deals in fd numbers; [`bfd`] lends one to nix for a single call.

use super::*;
use nix::errno::Errno as NixErrno;
use nix::fcntl::{self, FcntlArg, OFlag, OpenHow, ResolveFlag, AT_FDCWD};
use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::socket::{self, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType};
use nix::sys::stat::{self, FchmodatFlags, FileStat, Mode};
use nix::sys::{prctl, signalfd, termios, uio};
use nix::unistd::{self, Pid, Uid, UnlinkatFlags};
use std::ffi::CString;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};

/// The kernel.
pub struct LinuxSys;

/// `fuse_mount_detached`'s child: a user and mount namespace of its own
/// (0 → the caller, as ch-run's outer namespace), then the new mount API,
/// so the mount exists in no namespace until pid 1 attaches it.
/// fork(2) a child that dies with its parent: in the child, the parent-death
/// signal is SIGKILL, and a parent already gone before it took effect makes
/// the child `_exit(lost)`. The child's pid in the parent, 0 in the child.
///
/// # Safety
/// The caller is single-threaded; what the child may do after it is the
/// caller's to restrict.
unsafe fn fork_dying_with_caller(lost: i32) -> SysResult<i32> {
    let parent = unistd::getpid().as_raw();
    // SAFETY: the caller's contract.
    let pid = check(unsafe { libc::fork() } as libc::c_long)? as i32;
    if pid == 0 {
        // SAFETY: raw calls in the fork child on valid arguments; _exit never returns.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            if libc::getppid() != parent {
                libc::_exit(lost);
            }
        }
    }
    Ok(pid)
}

fn fuse_helper(sys: &LinuxSys, sock: Fd, uid: u32, gid: u32, options: &[(&str, &str)]) -> SysResult<()> {
    const FSCONFIG_SET_STRING: libc::c_uint = 1;
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    const FSMOUNT_CLOEXEC: libc::c_uint = 1;
    unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS)?;
    sys.write_file("/proc/self/uid_map", format!("0 {uid} 1\n").as_bytes())?;
    sys.write_file("/proc/self/setgroups", b"deny\n")?;
    sys.write_file("/proc/self/gid_map", format!("0 {gid} 1\n").as_bytes())?;
    // Opened here: the kernel wants the device opened in the mount's namespace.
    let fuse = sys.open("/dev/fuse", libc::O_RDWR)?;
    // SAFETY: a valid C string; a new fd or -1.
    let fs = check(unsafe { libc::syscall(libc::SYS_fsopen, c"fuse".as_ptr(), 1 as libc::c_uint) })? as Fd;
    let fd_value = fuse.to_string();
    for (k, v) in [("fd", fd_value.as_str())].into_iter().chain(options.iter().copied()) {
        let (k, v) = (cstr(k)?, cstr(v)?);
        // SAFETY: valid C strings on the fs context fd.
        check(unsafe { libc::syscall(libc::SYS_fsconfig, fs, FSCONFIG_SET_STRING, k.as_ptr(), v.as_ptr(), 0) })?;
    }
    // SAFETY: the fs context fd; no key or value.
    check(unsafe { libc::syscall(libc::SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, std::ptr::null::<libc::c_char>(), std::ptr::null::<libc::c_void>(), 0) })?;
    let attrs = (ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV) as libc::c_uint;
    // SAFETY: the fs context fd; a new mount fd or -1.
    let mnt = check(unsafe { libc::syscall(libc::SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs) })? as Fd;
    sys.send_fd(sock, mnt)?;
    sys.send_fd(sock, fuse)
}

fn unshare(flags: libc::c_int) -> SysResult<()> {
    // SAFETY: unshare takes flags only.
    check(unsafe { libc::unshare(flags) } as libc::c_long).map(drop)
}

/// nix's errno is the kernel's number; the seam keeps its own newtype.
impl From<NixErrno> for Errno {
    fn from(e: NixErrno) -> Errno {
        Errno(e as i32)
    }
}

fn cstr(s: &str) -> SysResult<CString> {
    CString::new(s).map_err(|_| Errno(libc::EINVAL))
}

/// A raw syscall's return value, or errno.
fn check(rc: libc::c_long) -> SysResult<libc::c_long> {
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(rc)
    }
}

/// `f` again while it answers EINTR.
fn retry<T>(mut f: impl FnMut() -> nix::Result<T>) -> SysResult<T> {
    loop {
        match f() {
            Err(NixErrno::EINTR) => continue,
            r => return r.map_err(Errno::from),
        }
    }
}

/// Lend an fd number (the seam's, an audit root, the plan socket) to nix
/// for one call. -1 is never an open fd (and BorrowedFd cannot hold it):
/// EBADF, as the kernel would answer.
pub(crate) fn bfd<'a>(fd: Fd) -> SysResult<BorrowedFd<'a>> {
    if fd == -1 {
        return Err(Errno(libc::EBADF));
    }
    // SAFETY: every caller borrows `fd` for the one call it makes and
    // whoever owns it (the seam's caller, the audit, the launcher) keeps it
    // open across that call; a number that is not open (or AT_FDCWD where a
    // directory fd is asked) is the kernel's to refuse, as with the raw call.
    Ok(unsafe { BorrowedFd::borrow_raw(fd) })
}

/// The bits of `flags` (O_*) as nix's type, unknown ones kept for the kernel to judge.
fn oflag(flags: i32) -> OFlag {
    OFlag::from_bits_retain(flags)
}

fn mode(m: u32) -> Mode {
    Mode::from_bits_retain(m)
}

/// A signal number as nix's enum (the standard signals; nix has no
/// real-time ones, and the seam sends and waits for none).
fn sig(s: i32) -> SysResult<Signal> {
    Signal::try_from(s).map_err(Errno::from)
}

fn kind_of(mode: libc::mode_t) -> FileKind {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => FileKind::Dir,
        libc::S_IFREG => FileKind::File,
        libc::S_IFLNK => FileKind::Symlink,
        _ => FileKind::Other,
    }
}

fn open_owned(path: &str, flags: i32, m: u32) -> SysResult<OwnedFd> {
    fcntl::open(path, oflag(flags | libc::O_CLOEXEC), mode(m)).map_err(Errno::from)
}

/// A whole file, read into a page-sized buffer first: a procfs file (no
/// size to ask for) is one read and the EOF, where std::fs::read asks
/// statx for the size and then reads 32, 32, 64, 128… bytes at a time.
fn read_whole(path: &str) -> SysResult<Vec<u8>> {
    let fd = open_owned(path, libc::O_RDONLY, 0)?;
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = retry(|| unistd::read(&fd, &mut buf[len..]))?;
        if n == 0 {
            buf.truncate(len);
            return Ok(buf);
        }
        len += n;
    }
}

fn write_all(fd: Fd, mut data: &[u8]) -> SysResult<()> {
    let fd = bfd(fd)?;
    while !data.is_empty() {
        let n = retry(|| unistd::write(fd, data))?;
        data = &data[n..];
    }
    Ok(())
}

/// The signal set init blocks and waits on.
pub(crate) fn handled_sigset() -> SigSet {
    let mut set = SigSet::empty();
    for s in HANDLED_SIGNALS.iter().filter_map(|&s| Signal::try_from(s).ok()) {
        set.add(s);
    }
    set
}

extern "C" fn ignore(_: libc::c_int) {}

/// Block the handled signals and give each a (never run) handler. Done in
/// the launcher before clone, so pid 1 inherits both. The handler matters:
/// the kernel drops signals sent to a pid namespace's init from outside
/// unless it has a handler (pid_namespaces(7)); blocked, they queue for
/// sigtimedwait instead of running it.
pub fn setup_signals() {
    let set = handled_sigset();
    let _ = signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
    let action = SigAction::new(SigHandler::Handler(ignore), SaFlags::SA_RESTART, SigSet::empty());
    for s in set.iter() {
        // SAFETY: the handler does nothing (it never runs: the signals are
        // blocked), so it is async-signal-safe; single-threaded program.
        let _ = unsafe { signal::sigaction(s, &action) };
    }
}

impl Sys for LinuxSys {
    fn getpid(&self) -> i32 {
        unistd::getpid().as_raw()
    }

    fn getppid(&self) -> i32 {
        unistd::getppid().as_raw()
    }

    fn getuid(&self) -> u32 {
        unistd::getuid().as_raw()
    }

    fn getgid(&self) -> u32 {
        unistd::getgid().as_raw()
    }

    fn clone_sandbox(&self, flags: u64) -> SysResult<i32> {
        // SAFETY: fork-like raw clone (no CLONE_VM, null stack) as bubblewrap's
        // raw_clone: the child continues on a copy of our stack. The launcher
        // is single-threaded, so no lock can be held by a vanished thread.
        // nix's clone wants a separate stack and a callback, which this is not.
        let rc = unsafe { libc::syscall(libc::SYS_clone, flags | libc::SIGCHLD as u64, 0usize, 0usize, 0usize, 0usize) };
        check(rc).map(|p| p as i32)
    }

    fn prctl(&self, op: Prctl) -> SysResult<()> {
        let (o, a, b): (libc::c_int, libc::c_ulong, libc::c_ulong) = match op {
            Prctl::SetPdeathsig(0) => return prctl::set_pdeathsig(None).map_err(Errno::from),
            Prctl::SetPdeathsig(s) => return prctl::set_pdeathsig(sig(s)?).map_err(Errno::from),
            Prctl::SetDumpable(d) => return prctl::set_dumpable(d).map_err(Errno::from),
            Prctl::SetNoNewPrivs => return prctl::set_no_new_privs().map_err(Errno::from),
            Prctl::SetKeepCaps(on) => return prctl::set_keepcaps(on).map_err(Errno::from),
            // nix has no wrapper for these three.
            Prctl::SetPtracerNone => (libc::PR_SET_PTRACER, 0, 0),
            Prctl::CapAmbientClearAll => (libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as _, 0),
            Prctl::CapAmbientRaise(c) => (libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE as _, c as _),
            Prctl::CapBsetDrop(c) => (libc::PR_CAPBSET_DROP, c as _, 0),
        };
        // SAFETY: prctl with integer arguments only; no pointer is passed.
        check(unsafe { libc::prctl(o, a, b, 0 as libc::c_ulong, 0 as libc::c_ulong) } as _).map(drop)
    }

    fn capset(&self, keep: u64) -> SysResult<()> {
        self.capset_sets(keep, keep, keep)
    }

    fn capset_sets(&self, effective: u64, permitted: u64, inheritable: u64) -> SysResult<()> {
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        #[derive(Default, Clone, Copy)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        let mut h = Header { version: 0x2008_0522, pid: 0 }; // _LINUX_CAPABILITY_VERSION_3
        let half =
            |shift: u32| Data { effective: (effective >> shift) as u32, permitted: (permitted >> shift) as u32, inheritable: (inheritable >> shift) as u32 };
        let d = [half(0), half(32)];
        // SAFETY: header and two data structs as capset(2) v3 expects, alive
        // for the call (nix has no capset).
        check(unsafe { libc::syscall(libc::SYS_capset, &mut h as *mut Header, d.as_ptr()) }).map(drop)
    }

    fn landlock_scope(&self, scoped: u64) -> SysResult<()> {
        #[repr(C)]
        struct RulesetAttr {
            handled_access_fs: u64,
            handled_access_net: u64,
            scoped: u64,
        }
        let attr = RulesetAttr { handled_access_fs: 0, handled_access_net: 0, scoped };
        // SAFETY: attr lives for the call; size is the struct's (nix has no Landlock).
        let fd = check(unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, &attr as *const RulesetAttr, std::mem::size_of::<RulesetAttr>(), 0u32) })?;
        // SAFETY: fd is the ruleset just created; no flags, no pointer.
        let r = check(unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd as i32, 0u32) }).map(drop);
        let _ = self.close(fd as Fd);
        r
    }

    fn landlock_write(&self, allowed: &[String]) -> SysResult<u32> {
        // landlock(7): the write rights of ABI 1, REFER from 2, TRUNCATE from 3.
        const V1: u64 = (1 << 1) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);
        const REFER: u64 = 1 << 13;
        const TRUNCATE: u64 = 1 << 14;
        const RULE_PATH_BENEATH: u32 = 1;
        #[repr(C)]
        struct RulesetAttr {
            handled_access_fs: u64,
        }
        #[repr(C, packed)]
        struct PathBeneath {
            allowed_access: u64,
            parent_fd: i32,
        }
        // SAFETY: NULL attr, size 0 and LANDLOCK_CREATE_RULESET_VERSION ask for the ABI only.
        let abi = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, 0usize, 0usize, 1u32) };
        if abi < 1 {
            return Ok(0);
        }
        let handled = V1 | if abi >= 2 { REFER } else { 0 } | if abi >= 3 { TRUNCATE } else { 0 };
        let attr = RulesetAttr { handled_access_fs: handled };
        // SAFETY: attr lives for the call; its size is the ABI 1 struct's (fs rights only).
        let rs =
            check(unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, &attr as *const RulesetAttr, std::mem::size_of::<RulesetAttr>(), 0u32) })? as Fd;
        let result = (|| {
            for path in allowed {
                let fd = match self.open(path, libc::O_PATH | libc::O_CLOEXEC) {
                    Ok(fd) => fd,
                    Err(Errno(libc::ENOENT)) => continue,
                    Err(e) => return Err(e),
                };
                // A file gets the rights that apply to files only.
                let is_dir = matches!(self.fstat(fd), Ok(FileKind::Dir));
                let rule = PathBeneath { allowed_access: if is_dir { handled } else { handled & ((1 << 1) | TRUNCATE) }, parent_fd: fd };
                // SAFETY: rule lives for the call; rs and fd are open.
                let r = check(unsafe { libc::syscall(libc::SYS_landlock_add_rule, rs as i32, RULE_PATH_BENEATH, &rule as *const PathBeneath, 0u32) });
                let _ = self.close(fd);
                r?;
            }
            // SAFETY: rs is the ruleset just filled; no flags.
            check(unsafe { libc::syscall(libc::SYS_landlock_restrict_self, rs as i32, 0u32) }).map(drop)
        })();
        let _ = self.close(rs);
        result.map(|()| abi as u32)
    }

    fn isatty(&self, fd: Fd) -> bool {
        bfd(fd).is_ok_and(|fd| unistd::isatty(fd).unwrap_or(false))
    }

    fn seccomp_load(&self, program: &[libc::sock_filter]) -> SysResult<()> {
        let prog = libc::sock_fprog { len: program.len() as u16, filter: program.as_ptr() as *mut _ };
        // SAFETY: prog points at `program`, alive for the call; the kernel
        // only reads it (nix has no seccomp).
        check(unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &prog as *const libc::sock_fprog) }).map(drop)
    }

    fn umask(&self, mask: u32) -> u32 {
        stat::umask(mode(mask)).bits()
    }

    fn sethostname(&self, name: &str) -> SysResult<()> {
        unistd::sethostname(name).map_err(Errno::from)
    }

    fn hide_cmdline(&self) -> SysResult<()> {
        let stat = read_whole("/proc/self/stat")?;
        let (start, end) = arg_area(&stat).ok_or(Errno(libc::EINVAL))?;
        let len = usize::try_from(end - start).map_err(|_| Errno(libc::E2BIG))?;
        let area = [uio::RemoteIoVec { base: usize::try_from(start).map_err(|_| Errno(libc::EFAULT))?, len }];
        // process_vm_readv/writev on ourselves: no file to open (a process
        // that is not dumpable may not open its own /proc/self/mem: the
        // zygote's sandboxes, a launcher that joined namespaces), and an
        // area not mapped as the kernel said is EFAULT, not a crash.
        let me = unistd::getpid();
        let mut args = vec![0u8; len];
        if uio::process_vm_readv(me, &mut [IoSliceMut::new(&mut args)], &area)? != len {
            return Err(Errno(libc::EFAULT));
        }
        let shown = cmdline_shown(&args);
        if uio::process_vm_writev(me, &[IoSlice::new(&shown)], &area)? != len {
            return Err(Errno(libc::EFAULT));
        }
        Ok(())
    }

    fn loopback_up(&self) -> SysResult<()> {
        let s = socket::socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)?;
        // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq we own,
        // zeroed (plain data) and naming "lo"; nix has no wrapper for them.
        let rc = unsafe {
            let mut req: libc::ifreq = std::mem::zeroed();
            for (i, b) in b"lo".iter().enumerate() {
                req.ifr_name[i] = *b as libc::c_char;
            }
            let mut rc = libc::ioctl(s.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req);
            if rc == 0 {
                req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
                rc = libc::ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS, &req);
            }
            rc
        };
        if rc < 0 {
            return Err(Errno::last());
        }
        Ok(())
    }

    fn read_file(&self, path: &str) -> SysResult<Vec<u8>> {
        read_whole(path)
    }

    fn write_file(&self, path: &str, data: &[u8]) -> SysResult<()> {
        let fd = open_owned(path, libc::O_WRONLY, 0)?;
        write_all(fd.as_raw_fd(), data)
    }

    fn create_file(&self, path: &str, data: &[u8], mode: u32) -> SysResult<()> {
        let fd = open_owned(path, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL, mode)?;
        write_all(fd.as_raw_fd(), data)
    }

    fn unlink(&self, path: &str) -> SysResult<()> {
        unistd::unlink(path).map_err(Errno::from)
    }

    fn mkdir(&self, path: &str, m: u32) -> SysResult<()> {
        unistd::mkdir(path, mode(m)).map_err(Errno::from)
    }

    fn chdir(&self, path: &str) -> SysResult<()> {
        unistd::chdir(path).map_err(Errno::from)
    }

    fn fchdir(&self, fd: Fd) -> SysResult<()> {
        unistd::fchdir(bfd(fd)?).map_err(Errno::from)
    }

    fn open(&self, path: &str, flags: i32) -> SysResult<Fd> {
        open_owned(path, flags, 0).map(IntoRawFd::into_raw_fd)
    }

    fn close(&self, fd: Fd) -> SysResult<()> {
        unistd::close(fd).map_err(Errno::from)
    }

    fn dup_above(&self, fd: Fd, min: Fd) -> SysResult<Fd> {
        // SAFETY: fcntl on fd numbers; a closed fd fails with EBADF.
        let r = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) };
        if r < 0 {
            Err(Errno::last())
        } else {
            Ok(r)
        }
    }

    fn dup_onto(&self, from: Fd, to: Fd) -> SysResult<()> {
        // SAFETY: dup3 on fd numbers; a closed `from` fails with EBADF.
        if unsafe { libc::dup3(from, to, libc::O_CLOEXEC) } < 0 {
            Err(Errno::last())
        } else {
            Ok(())
        }
    }

    fn stat(&self, path: &str) -> SysResult<FileKind> {
        Ok(kind_of(stat::stat(path)?.st_mode))
    }

    fn write_fd(&self, fd: Fd, data: &[u8]) -> SysResult<()> {
        write_all(fd, data)
    }

    fn lstat(&self, path: &str) -> SysResult<FileKind> {
        Ok(kind_of(stat::lstat(path)?.st_mode))
    }

    fn readlink(&self, path: &str) -> SysResult<String> {
        self.readlinkat(libc::AT_FDCWD, path)
    }

    fn read_dir(&self, path: &str) -> SysResult<Vec<String>> {
        let mut v: Vec<String> =
            std::fs::read_dir(path).map_err(|e| Errno::from_io(&e))?.filter_map(|e| e.ok().and_then(|e| e.file_name().into_string().ok())).collect();
        v.sort();
        Ok(v)
    }

    fn open_lock(&self, path: &str) -> SysResult<Fd> {
        // O_NOFOLLOW: a planted link is refused.
        open_owned(path, libc::O_RDWR | libc::O_CREAT | libc::O_NOFOLLOW, 0o600).map(IntoRawFd::into_raw_fd)
    }

    fn flock(&self, fd: Fd, how: i32) -> SysResult<()> {
        loop {
            // SAFETY: flock takes no pointer. Raw: nix's flock function is
            // deprecated for `Flock`, which owns the file, and the seam's
            // caller owns this fd.
            match check(unsafe { libc::flock(fd, how) } as _) {
                Err(Errno(libc::EINTR)) => continue,
                r => return r.map(drop),
            }
        }
    }

    fn read_fd(&self, fd: Fd) -> SysResult<Vec<u8>> {
        let fd = bfd(fd)?;
        let mut out = Vec::new();
        let mut buf = [0u8; 512];
        let mut off = 0i64;
        loop {
            // pread leaves the file offset alone.
            let n = uio::pread(fd, &mut buf, off)?;
            if n == 0 || out.len() > 4096 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
            off += n as i64;
        }
    }

    fn is_empty(&self, path: &str) -> SysResult<bool> {
        // Follows links: callers pass /proc/self/fd paths, or check lstat first.
        let md = std::fs::metadata(path).map_err(|e| Errno::from_io(&e))?;
        if md.is_dir() {
            Ok(std::fs::read_dir(path).map_err(|e| Errno::from_io(&e))?.next().is_none())
        } else {
            Ok(md.is_file() && md.len() == 0)
        }
    }

    fn truncate(&self, fd: Fd) -> SysResult<()> {
        unistd::ftruncate(bfd(fd)?, 0).map_err(Errno::from)
    }

    fn private_dir(&self, path: &str) -> SysResult<()> {
        use std::os::unix::fs::MetadataExt;
        match self.mkdir(path, 0o700) {
            Ok(()) | Err(Errno(libc::EEXIST)) => {}
            Err(e) => return Err(e),
        }
        let md = std::fs::symlink_metadata(path).map_err(|e| Errno::from_io(&e))?;
        if !md.is_dir() || md.uid() != unistd::geteuid().as_raw() || md.mode() & 0o077 != 0 {
            return Err(Errno(libc::EPERM));
        }
        Ok(())
    }

    fn rmdir(&self, path: &str) -> SysResult<()> {
        // rmdir(2) is unlinkat(AT_FDCWD, path, AT_REMOVEDIR); nix has only the latter.
        unistd::unlinkat(AT_FDCWD, path, UnlinkatFlags::RemoveDir).map_err(Errno::from)
    }

    fn chmod(&self, path: &str, m: u32) -> SysResult<()> {
        stat::fchmodat(AT_FDCWD, path, mode(m), FchmodatFlags::FollowSymlink).map_err(Errno::from)
    }

    fn open_in_root(&self, dirfd: Fd, path: &str, flags: i32) -> SysResult<Fd> {
        self.openat2(dirfd, path, libc::O_PATH | flags, libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS)
    }

    fn openat2(&self, dirfd: Fd, path: &str, flags: i32, resolve: u64) -> SysResult<Fd> {
        let dir = bfd(dirfd)?;
        let how = || OpenHow::new().flags(oflag(libc::O_CLOEXEC | flags)).resolve(ResolveFlag::from_bits_retain(resolve));
        loop {
            match fcntl::openat2(dir, path, how()) {
                // openat2 answers EAGAIN when a rename raced the lookup.
                Err(NixErrno::EAGAIN | NixErrno::EINTR) => continue,
                r => return r.map(IntoRawFd::into_raw_fd).map_err(Errno::from),
            }
        }
    }

    fn stamp(&self, fd: Fd) -> SysResult<(u64, u64, i64)> {
        let st = fstat(fd)?;
        Ok((st.st_dev, st.st_ino, st.st_ctime.saturating_mul(1_000_000_000).saturating_add(st.st_ctime_nsec)))
    }

    fn unlinkat(&self, dirfd: Fd, name: &str, flags: i32) -> SysResult<()> {
        let how = match flags {
            0 => UnlinkatFlags::NoRemoveDir,
            libc::AT_REMOVEDIR => UnlinkatFlags::RemoveDir,
            // The kernel refuses any other bit.
            _ => return Err(Errno(libc::EINVAL)),
        };
        unistd::unlinkat(bfd(dirfd)?, name, how).map_err(Errno::from)
    }

    fn owner_mode(&self, path: &str) -> SysResult<(FileKind, u32, u32)> {
        let st = stat::lstat(path)?;
        Ok((kind_of(st.st_mode), st.st_uid, st.st_mode & 0o7777))
    }

    fn passwd_home(&self, uid: u32) -> SysResult<String> {
        let user = unistd::User::from_uid(Uid::from_raw(uid))?.ok_or(Errno(libc::ENOENT))?;
        user.dir.into_os_string().into_string().map_err(|_| Errno(libc::EILSEQ))
    }

    fn bind_link_onto_itself(&self, dirfd: Fd, name: &str) -> SysResult<()> {
        const OPEN_TREE_CLONE: libc::c_uint = 1;
        const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
        let n = cstr(name)?;
        let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | libc::AT_SYMLINK_NOFOLLOW as libc::c_uint;
        // SAFETY: valid C string; the kernel returns a new fd or -1 (nix has no open_tree).
        let tree = check(unsafe { libc::syscall(libc::SYS_open_tree, dirfd, n.as_ptr(), flags) })? as Fd;
        // SAFETY: valid C strings; without MOVE_MOUNT_T_SYMLINKS the target
        // link is not followed (nix has no move_mount).
        let r = check(unsafe { libc::syscall(libc::SYS_move_mount, tree, c"".as_ptr(), dirfd, n.as_ptr(), MOVE_MOUNT_F_EMPTY_PATH) });
        let _ = self.close(tree);
        r.map(drop)
    }

    fn mkdirat(&self, dirfd: Fd, name: &str, m: u32) -> SysResult<()> {
        stat::mkdirat(bfd(dirfd)?, name, mode(m)).map_err(Errno::from)
    }

    fn mkfileat(&self, dirfd: Fd, name: &str, m: u32) -> SysResult<()> {
        // O_NOFOLLOW|O_EXCL never follows a planted link.
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        let fd = fcntl::openat(bfd(dirfd)?, name, oflag(flags), mode(m))?;
        unistd::close(fd).map_err(Errno::from)
    }

    fn symlinkat(&self, linkname: &str, dirfd: Fd, name: &str) -> SysResult<()> {
        unistd::symlinkat(linkname, bfd(dirfd)?, name).map_err(Errno::from)
    }

    fn readlinkat(&self, dirfd: Fd, name: &str) -> SysResult<String> {
        fcntl::readlinkat(bfd(dirfd)?, name)?.into_string().map_err(|_| Errno(libc::EILSEQ))
    }

    fn fstat(&self, fd: Fd) -> SysResult<FileKind> {
        Ok(kind_of(fstat(fd)?.st_mode))
    }

    fn file_id(&self, fd: Fd) -> SysResult<(u64, u64)> {
        let st = fstat(fd)?;
        Ok((st.st_dev, st.st_ino))
    }

    fn mount(&self, source: Option<&str>, target: &str, fstype: Option<&str>, flags: MsFlags, data: Option<&str>) -> SysResult<()> {
        nix::mount::mount(source, target, fstype, nix::mount::MsFlags::from_bits_retain(flags as libc::c_ulong), data).map_err(Errno::from)
    }

    fn mount_setattr(&self, fd: Fd, recursive: bool, attr_set: u64) -> SysResult<()> {
        self.mount_setattr_clr(fd, recursive, attr_set, 0)
    }

    fn mount_setattr_clr(&self, fd: Fd, recursive: bool, attr_set: u64, attr_clr: u64) -> SysResult<()> {
        #[repr(C)]
        struct MountAttr {
            attr_set: u64,
            attr_clr: u64,
            propagation: u64,
            userns_fd: u64,
        }
        let attr = MountAttr { attr_set, attr_clr, propagation: 0, userns_fd: 0 };
        let flags = libc::AT_EMPTY_PATH | if recursive { libc::AT_RECURSIVE } else { 0 };
        loop {
            // SAFETY: empty path with AT_EMPTY_PATH; attr lives for the call
            // and its size is passed (nix has no mount_setattr).
            let rc = unsafe { libc::syscall(libc::SYS_mount_setattr, fd, c"".as_ptr(), flags, &attr as *const MountAttr, std::mem::size_of::<MountAttr>()) };
            match check(rc) {
                Err(Errno(libc::EINTR)) => continue,
                r => return r.map(drop),
            }
        }
    }

    fn mount_flags(&self, path: &str) -> SysResult<MsFlags> {
        use nix::sys::statvfs::{statvfs, FsFlags};
        let f = statvfs(path)?.flags();
        let table = [
            (FsFlags::ST_RDONLY, libc::MS_RDONLY),
            (FsFlags::ST_NOSUID, libc::MS_NOSUID),
            (FsFlags::ST_NODEV, libc::MS_NODEV),
            (FsFlags::ST_NOEXEC, libc::MS_NOEXEC),
            (FsFlags::ST_NOATIME, libc::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, libc::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, libc::MS_RELATIME),
        ];
        Ok(table.iter().filter(|(st, _)| f.contains(*st)).fold(0, |m, (_, ms)| m | ms))
    }

    fn setns(&self, fd: Fd, nstype: i32) -> SysResult<()> {
        nix::sched::setns(bfd(fd)?, nix::sched::CloneFlags::from_bits_retain(nstype)).map_err(Errno::from)
    }

    fn setdomainname(&self, name: &str) -> SysResult<()> {
        // SAFETY: a buffer with its length, read for the call (nix has no setdomainname).
        check(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) } as _).map(drop)
    }

    fn mknodat(&self, dirfd: Fd, name: &str, m: u32, dev: u64) -> SysResult<()> {
        stat::mknodat(bfd(dirfd)?, name, stat::SFlag::from_bits_retain(m & libc::S_IFMT), mode(m & !libc::S_IFMT), dev).map_err(Errno::from)
    }

    fn fchownat(&self, dirfd: Fd, name: &str, uid: u32, gid: u32) -> SysResult<()> {
        unistd::fchownat(bfd(dirfd)?, name, Some(Uid::from_raw(uid)), Some(unistd::Gid::from_raw(gid)), fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(Errno::from)
    }

    fn fchmodat(&self, dirfd: Fd, name: &str, m: u32) -> SysResult<()> {
        stat::fchmodat(bfd(dirfd)?, name, mode(m), FchmodatFlags::FollowSymlink).map_err(Errno::from)
    }

    fn setresuid(&self, uid: u32) -> SysResult<()> {
        // SAFETY: integer arguments only. The raw syscall, not nix's libc
        // call: glibc's setxid broadcast to other threads has nothing to do
        // in a clone(2)d pid 1 whose thread list it did not make.
        check(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }).map(drop)
    }

    fn setresgid(&self, gid: u32) -> SysResult<()> {
        // SAFETY: as setresuid.
        check(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) }).map(drop)
    }

    fn setgroups(&self, groups: &[u32]) -> SysResult<()> {
        // SAFETY: a slice with its length, alive for the call; raw for the
        // reason setresuid is.
        check(unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) }).map(drop)
    }

    fn setrlimit(&self, resource: u32, soft: u64, hard: u64) -> SysResult<()> {
        let r = libc::rlimit64 { rlim_cur: soft, rlim_max: hard };
        // SAFETY: prlimit64 on ourselves with a struct we own (nix's setrlimit
        // takes its own enum, and the spec names resources by number).
        check(unsafe { libc::prlimit64(0, resource as _, &r, std::ptr::null_mut()) } as _).map(drop)
    }

    fn setsid(&self) -> SysResult<()> {
        unistd::setsid().map(drop).map_err(Errno::from)
    }

    fn take_terminal(&self, fd: Fd) -> SysResult<()> {
        // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal); nix has no wrapper.
        check(unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) } as _)?;
        let t = bfd(fd)?;
        unistd::dup2_stdin(t)?;
        unistd::dup2_stdout(t)?;
        unistd::dup2_stderr(t)?;
        Ok(())
    }

    fn connect_unix(&self, path: &str) -> SysResult<Fd> {
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(s) => Ok(s.into_raw_fd()),
            Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => {
                let addr = socket::UnixAddr::new(path)?;
                let s = socket::socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None)?;
                socket::connect(s.as_raw_fd(), &addr)?;
                Ok(s.into_raw_fd())
            }
            Err(e) => Err(Errno::from_io(&e)),
        }
    }

    fn mkfifo(&self, path: &str, m: u32) -> SysResult<()> {
        unistd::mkfifo(path, mode(m)).map_err(Errno::from)
    }

    fn cloexec_from(&self, first: u32) -> SysResult<()> {
        // SAFETY: close_range (Linux 5.11) with CLOSE_RANGE_CLOEXEC only sets
        // flags; nix has no close_range.
        check(unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) }).map(drop)
    }

    fn is_executable(&self, path: &str) -> bool {
        stat::stat(path).is_ok_and(|s| s.st_mode & libc::S_IFMT == libc::S_IFREG && s.st_mode & 0o111 != 0)
    }

    fn join_session_keyring(&self, name: &str) -> SysResult<()> {
        const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
        let name = std::ffi::CString::new(name).map_err(|_| Errno(libc::EINVAL))?;
        // SAFETY: keyctl reads the NUL-terminated name we own; the result is a key serial.
        let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
        if r < 0 {
            return Err(Errno::last());
        }
        Ok(())
    }

    fn umount2(&self, target: &str, flags: i32) -> SysResult<()> {
        nix::mount::umount2(target, nix::mount::MntFlags::from_bits_retain(flags)).map_err(Errno::from)
    }

    fn pivot_root(&self, new_root: &str, put_old: &str) -> SysResult<()> {
        unistd::pivot_root(new_root, put_old).map_err(Errno::from)
    }

    fn spawn(&self, exec: &Exec) -> Result<i32, (Option<i32>, ExecFailure)> {
        super::exec::spawn(exec)
    }

    fn signal_default(&self, sig: i32) -> SysResult<()> {
        // The kernel's struct sigaction (handler, flags, restorer, mask) on
        // x86_64 and aarch64; all zero is SIG_DFL with no flags. The raw call
        // because glibc's wrapper (and so nix's) refuses its own signals (32, 33).
        let act = [0u64; 4];
        // SAFETY: a valid kernel sigaction; no old action asked for.
        check(unsafe { libc::syscall(libc::SYS_rt_sigaction, sig, act.as_ptr(), std::ptr::null_mut::<u64>(), 8usize) }).map(drop)
    }

    fn unblock_signals(&self) -> SysResult<()> {
        signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None).map_err(Errno::from)
    }

    fn execve(&self, path: &std::ffi::CStr, argv: &[CString], envp: &[CString]) -> SysResult<()> {
        // Returns only when it failed.
        match unistd::execve(path, argv, envp) {
            Err(e) => Err(e.into()),
            Ok(never) => match never {},
        }
    }

    fn wait_signal(&self, timeout_ms: Option<u64>) -> SysResult<Option<i32>> {
        let set = handled_sigset();
        let ts = timeout_ms.map(|ms| libc::timespec { tv_sec: (ms / 1000) as _, tv_nsec: ((ms % 1000) * 1_000_000) as _ });
        loop {
            // SAFETY: a valid set and optional timespec, alive for the call;
            // no siginfo asked for (nix has no sigtimedwait).
            let rc = unsafe {
                match &ts {
                    Some(t) => libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), t),
                    None => libc::sigwaitinfo(set.as_ref(), std::ptr::null_mut()),
                }
            };
            if rc >= 0 {
                return Ok(Some(rc));
            }
            match Errno::last() {
                Errno(libc::EINTR) => continue,
                Errno(libc::EAGAIN) => return Ok(None),
                e => return Err(e),
            }
        }
    }

    fn reap(&self) -> SysResult<Option<(i32, ExitStatus)>> {
        let mut status = 0;
        loop {
            // SAFETY: status is a valid out pointer; no rusage asked for.
            // Raw: nix's waitpid answers EINVAL, the child already reaped,
            // when a real-time signal killed it (its `Signal` has none).
            let pid = unsafe { libc::wait4(-1, &mut status, libc::WNOHANG | libc::__WALL, std::ptr::null_mut()) };
            if pid < 0 {
                let e = Errno::last();
                if e.0 == libc::EINTR {
                    continue;
                }
                return Err(e);
            }
            if pid == 0 {
                return Ok(None);
            }
            let st = if libc::WIFSIGNALED(status) { ExitStatus::Signaled(libc::WTERMSIG(status)) } else { ExitStatus::Exited(libc::WEXITSTATUS(status)) };
            return Ok(Some((pid, st)));
        }
    }

    fn kill(&self, pid: i32, s: i32) -> SysResult<()> {
        let s = if s == 0 { None } else { Some(sig(s)?) };
        signal::kill(Pid::from_raw(pid), s).map_err(Errno::from)
    }

    fn fork_server(&self, keep: &[Fd]) -> SysResult<i32> {
        // The server reads nothing from the caller's terminal or pipe.
        let null = open_owned("/dev/null", libc::O_RDWR, 0)?;
        let mut keep: Vec<Fd> = keep.iter().copied().filter(|&f| f > 2).collect();
        keep.sort_unstable();
        // SAFETY: the launcher is single-threaded; the child makes raw calls
        // on memory prepared above and returns to the caller, which serves
        // and _exits.
        let pid = unsafe { fork_dying_with_caller(127) }?;
        if pid > 0 {
            return Ok(pid);
        }
        // Closed below with the rest (not again when dropped).
        let null = null.into_raw_fd();
        // SAFETY: raw calls in the fork child, on valid arguments.
        unsafe {
            libc::setsid();
            libc::dup2(null, 0);
            // No exec resets them: the handlers setup_signals gives would
            // swallow a SIGTERM once unblocked. SIGPIPE stays ignored, as std
            // leaves it in every Rust program.
            for s in HANDLED_SIGNALS {
                libc::signal(s, libc::SIG_DFL);
            }
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            // Nothing of the launcher's reaches the server but `keep`.
            let mut from = 3u32;
            for &fd in &keep {
                if fd as u32 > from {
                    libc::syscall(libc::SYS_close_range, from, fd as u32 - 1, 0u32);
                }
                from = fd as u32 + 1;
            }
            libc::syscall(libc::SYS_close_range, from, u32::MAX, 0u32);
        }
        Ok(0)
    }

    fn fuse_mount_detached(&self, options: &[(&str, &str)]) -> SysResult<(Fd, Fd)> {
        let (uid, gid) = (unistd::getuid().as_raw(), unistd::getgid().as_raw());
        let (mine, theirs) = self.socketpair()?;
        // SAFETY: the launcher is single-threaded: the child may allocate;
        // it only sends two fds back and _exits with 0 or an errno.
        let pid = check(unsafe { libc::fork() } as libc::c_long)? as i32;
        if pid == 0 {
            let code = match fuse_helper(self, theirs, uid, gid, options) {
                Ok(()) => 0,
                Err(Errno(e)) => e.clamp(1, 255),
            };
            // SAFETY: leave the fork child without running the launcher's exit path.
            unsafe { libc::_exit(code) }
        }
        let _ = self.close(theirs);
        let mut status = 0;
        // SAFETY: wait for the child we forked.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        let got = match (libc::WIFEXITED(status), libc::WEXITSTATUS(status)) {
            (true, 0) => self.recv_fd(mine).and_then(|m| Ok((m.ok_or(Errno(libc::EIO))?, self.recv_fd(mine)?.ok_or(Errno(libc::EIO))?))),
            (true, e) => Err(Errno(e)),
            _ => Err(Errno(libc::EIO)),
        };
        let _ = self.close(mine);
        got
    }

    fn move_mount(&self, fd: Fd, target: &str) -> SysResult<()> {
        const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
        let t = cstr(target)?;
        // SAFETY: valid C strings (nix has no move_mount).
        check(unsafe { libc::syscall(libc::SYS_move_mount, fd, c"".as_ptr(), libc::AT_FDCWD, t.as_ptr(), MOVE_MOUNT_F_EMPTY_PATH) }).map(drop)
    }

    fn socketpair(&self) -> SysResult<(Fd, Fd)> {
        let (a, b) = socket::socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::SOCK_CLOEXEC)?;
        Ok((a.into_raw_fd(), b.into_raw_fd()))
    }

    fn send_fd(&self, sock: Fd, fd: Fd) -> SysResult<()> {
        // One byte of payload carries the SCM_RIGHTS message (unix(7)).
        let fds = [fd];
        let iov = [IoSlice::new(&[0u8])];
        let rights = [ControlMessage::ScmRights(&fds)];
        retry(|| socket::sendmsg::<()>(sock, &iov, &rights, MsgFlags::MSG_NOSIGNAL, None)).map(drop)
    }

    fn recv_fd(&self, sock: Fd) -> SysResult<Option<Fd>> {
        let mut byte = [0u8; 1];
        let mut space = nix::cmsg_space!(Fd);
        let (n, first) = loop {
            let mut iov = [IoSliceMut::new(&mut byte)];
            match socket::recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
                Err(NixErrno::EINTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(msg) => break (msg.bytes, msg.cmsgs()?.next()),
            }
        };
        match first {
            Some(ControlMessageOwned::ScmRights(fds)) if !fds.is_empty() => Ok(Some(fds[0])),
            _ if n == 0 => Ok(None),
            _ => Err(Errno(libc::EBADMSG)),
        }
    }

    fn seqpacket_listen(&self, dirfd: Fd, name: &str) -> SysResult<Fd> {
        let sock = socket::socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None)?;
        let addr = socket::UnixAddr::new(format!("/proc/self/fd/{dirfd}/{name}").as_str())?;
        // The socket file is created with the umask's bits: owner-only from the start.
        let old = stat::umask(Mode::from_bits_truncate(0o177));
        let bound = socket::bind(sock.as_raw_fd(), &addr);
        stat::umask(old);
        bound?;
        socket::listen(&sock, socket::Backlog::new(128).unwrap_or(socket::Backlog::MAXCONN))?;
        Ok(sock.into_raw_fd())
    }

    fn seqpacket_connect(&self, dirfd: Fd, name: &str) -> SysResult<Fd> {
        let sock = socket::socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None)?;
        let addr = socket::UnixAddr::new(format!("/proc/self/fd/{dirfd}/{name}").as_str())?;
        retry(|| socket::connect(sock.as_raw_fd(), &addr))?;
        Ok(sock.into_raw_fd())
    }

    fn accept(&self, listener: Fd) -> SysResult<Fd> {
        retry(|| socket::accept4(listener, SockFlag::SOCK_CLOEXEC))
    }

    fn send_msg(&self, sock: Fd, data: &[u8], fds: &[Fd]) -> SysResult<()> {
        let iov = [IoSlice::new(data)];
        let rights = [ControlMessage::ScmRights(fds)];
        let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &rights };
        retry(|| socket::sendmsg::<()>(sock, &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None)).map(drop)
    }

    fn recv_msg(&self, sock: Fd, max: usize, max_fds: usize) -> SysResult<Option<(Vec<u8>, Vec<Fd>)>> {
        let mut buf = vec![0u8; max];
        // SAFETY: CMSG_SPACE is a pure size computation.
        let mut space = vec![0u8; unsafe { libc::CMSG_SPACE((max_fds * std::mem::size_of::<Fd>()) as u32) } as usize];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut fds = Vec::new();
        let (n, truncated) = loop {
            match socket::recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
                Err(NixErrno::EINTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(msg) => {
                    for c in msg.cmsgs()? {
                        if let ControlMessageOwned::ScmRights(list) = c {
                            fds.extend(list);
                        }
                    }
                    break (msg.bytes, msg.flags.intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC));
                }
            }
        };
        if truncated {
            for fd in fds {
                let _ = unistd::close(fd);
            }
            return Err(Errno(libc::EMSGSIZE));
        }
        if n == 0 && fds.is_empty() {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((buf, fds)))
    }

    fn peer_uid(&self, conn: Fd) -> SysResult<u32> {
        Ok(socket::getsockopt(&bfd(conn)?, socket::sockopt::PeerCredentials)?.uid())
    }

    fn peer_userns(&self, conn: Fd) -> SysResult<(u64, u64)> {
        /// SO_PEERPIDFD (Linux 6.5).
        const SO_PEERPIDFD: libc::c_int = 77;
        /// PIDFD_GET_USER_NAMESPACE: _IO(0xFF, 9) (Linux 6.11).
        const PIDFD_GET_USER_NAMESPACE: libc::c_ulong = 0xFF09;
        let mut pidfd: libc::c_int = -1;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes one int into `pidfd` and its size into `len`.
        if unsafe { libc::getsockopt(conn, libc::SOL_SOCKET, SO_PEERPIDFD, (&mut pidfd as *mut libc::c_int).cast(), &mut len) } < 0 || pidfd < 0 {
            return Err(Errno::last());
        }
        // SAFETY: the kernel gave us this fd; we own it.
        let pidfd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(pidfd) };
        // SAFETY: the ioctl takes no argument and returns a new fd or -1.
        let ns = unsafe { libc::ioctl(pidfd.as_raw_fd(), PIDFD_GET_USER_NAMESPACE as _, 0) };
        if ns < 0 {
            return Err(Errno::last());
        }
        // SAFETY: a new fd from the ioctl; we own it.
        let ns = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(ns) };
        let st = stat::fstat(&ns)?;
        Ok((st.st_dev, st.st_ino))
    }

    fn own_userns(&self) -> SysResult<(u64, u64, u32)> {
        let st = stat::stat("/proc/self/ns/user")?;
        Ok((st.st_dev, st.st_ino, unistd::getuid().as_raw()))
    }

    fn open_pty(&self, ptmx: &str) -> SysResult<(Fd, Fd)> {
        let master = open_owned(ptmx, libc::O_RDWR | libc::O_NOCTTY, 0)?;
        let unlock: libc::c_int = 0;
        // SAFETY: TIOCSPTLCK reads the int we own; TIOCGPTPEER (Linux 4.13)
        // takes open flags and returns a new fd. nix's pty module unlocks
        // only a master it opened itself and has no TIOCGPTPEER.
        let slave = unsafe {
            if libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) < 0 {
                return Err(Errno::last());
            }
            libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC)
        };
        if slave < 0 {
            return Err(Errno::last());
        }
        Ok((master.into_raw_fd(), slave))
    }

    fn tty_raw(&self, fd: Fd) -> SysResult<TermState> {
        let fd = bfd(fd)?;
        let mut t = termios::tcgetattr(fd)?;
        let saved = TermState(t.clone().into());
        termios::cfmakeraw(&mut t);
        retry(|| termios::tcsetattr(fd, termios::SetArg::TCSADRAIN, &t))?;
        Ok(saved)
    }

    fn tty_restore(&self, fd: Fd, saved: &TermState) -> SysResult<()> {
        let fd = bfd(fd)?;
        let t = termios::Termios::from(saved.0);
        retry(|| termios::tcsetattr(fd, termios::SetArg::TCSADRAIN, &t))
    }

    fn winsize(&self, fd: Fd) -> SysResult<(u16, u16)> {
        let mut w = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCGWINSZ fills the winsize we own (nix has no wrapper).
        check(unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut w) } as _)?;
        Ok((w.ws_row, w.ws_col))
    }

    fn set_winsize(&self, fd: Fd, (rows, cols): (u16, u16)) -> SysResult<()> {
        let w = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCSWINSZ reads the winsize we own (nix has no wrapper).
        check(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &w) } as _).map(drop)
    }

    fn set_nonblock(&self, fd: Fd) -> SysResult<()> {
        let fd = bfd(fd)?;
        let fl = fcntl::fcntl(fd, FcntlArg::F_GETFL)?;
        fcntl::fcntl(fd, FcntlArg::F_SETFL(oflag(fl | libc::O_NONBLOCK))).map(drop).map_err(Errno::from)
    }

    fn signal_fd(&self, signals: &[i32]) -> SysResult<Fd> {
        let mut set = SigSet::empty();
        for &s in signals {
            set.add(sig(s)?);
        }
        signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)?;
        let sfd = signalfd::SignalFd::with_flags(&set, signalfd::SfdFlags::SFD_CLOEXEC | signalfd::SfdFlags::SFD_NONBLOCK)?;
        Ok(OwnedFd::from(sfd).into_raw_fd())
    }

    fn read_signal(&self, fd: Fd) -> SysResult<Option<i32>> {
        // One struct signalfd_siginfo per read; its first field is the signal.
        const SIZE: usize = std::mem::size_of::<libc::signalfd_siginfo>();
        const AT: usize = std::mem::offset_of!(libc::signalfd_siginfo, ssi_signo);
        let fd = bfd(fd)?;
        let mut info = [0u8; SIZE];
        loop {
            return match unistd::read(fd, &mut info) {
                Ok(SIZE) => Ok(Some(u32::from_ne_bytes([info[AT], info[AT + 1], info[AT + 2], info[AT + 3]]) as i32)),
                Ok(_) => Err(Errno(libc::EIO)),
                Err(NixErrno::EINTR) => continue,
                Err(NixErrno::EAGAIN) => Ok(None),
                Err(e) => Err(e.into()),
            };
        }
    }

    fn ignore_signal(&self, s: i32) {
        if let Ok(s) = sig(s) {
            // SAFETY: SIG_IGN installs no handler code.
            let _ = unsafe { signal::signal(s, SigHandler::SigIgn) };
        }
    }

    fn poll(&self, fds: &[(Fd, i16)], timeout_ms: i32) -> SysResult<Vec<i16>> {
        use nix::poll::{PollFd, PollFlags, PollTimeout};
        let mut p = fds.iter().map(|&(fd, events)| Ok(PollFd::new(bfd(fd)?, PollFlags::from_bits_retain(events)))).collect::<SysResult<Vec<_>>>()?;
        // Any negative timeout is infinite to the kernel; nix takes -1 for it.
        match nix::poll::poll(&mut p, PollTimeout::try_from(timeout_ms).unwrap_or(PollTimeout::NONE)) {
            Ok(_) => Ok(p.iter().map(|p| p.revents().map_or(0, |r| r.bits())).collect()),
            Err(NixErrno::EINTR) => Ok(vec![0; fds.len()]),
            Err(e) => Err(e.into()),
        }
    }

    fn read(&self, fd: Fd, max: usize) -> SysResult<Vec<u8>> {
        let fd = bfd(fd)?;
        let mut buf = vec![0u8; max];
        let n = retry(|| unistd::read(fd, &mut buf))?;
        buf.truncate(n);
        Ok(buf)
    }

    fn write_some(&self, fd: Fd, data: &[u8]) -> SysResult<usize> {
        let fd = bfd(fd)?;
        retry(|| unistd::write(fd, data))
    }

    fn release_memory(&self) {
        // SAFETY: malloc_trim only returns free heap pages; no pointer is
        // touched (a glibc call nix does not wrap).
        unsafe { libc::malloc_trim(0) };
    }

    fn monotonic_ms(&self) -> u64 {
        // CLOCK_MONOTONIC cannot fail.
        nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).map_or(0, |t| t.tv_sec() as u64 * 1000 + t.tv_nsec() as u64 / 1_000_000)
    }

    fn log(&self, msg: &str) {
        let line = format!("sandboxctl: {msg}\n");
        let _ = write_all(2, line.as_bytes());
    }

    fn listen_tcp(&self, addr: std::net::SocketAddr) -> SysResult<Fd> {
        // std sets SO_REUSEADDR and close-on-exec; [::1] takes no IPv4 peers.
        std::net::TcpListener::bind(addr).map(|l| l.into_raw_fd()).map_err(|e| Errno::from_io(&e))
    }

    fn landlock_net(&self, ports: &[u16]) -> SysResult<()> {
        const BIND_TCP: u64 = 1;
        const CONNECT_TCP: u64 = 2;
        const RULE_NET_PORT: u32 = 2;
        #[repr(C)]
        struct RulesetAttr {
            handled_access_fs: u64,
            handled_access_net: u64,
        }
        #[repr(C, packed)]
        struct NetPortAttr {
            allowed_access: u64,
            port: u64,
        }
        let attr = RulesetAttr { handled_access_fs: 0, handled_access_net: BIND_TCP | CONNECT_TCP };
        // SAFETY: attr lives for the call; size is the struct's (nix has no Landlock).
        let fd =
            check(unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, &attr as *const RulesetAttr, std::mem::size_of::<RulesetAttr>(), 0u32) })? as Fd;
        let r = (|| {
            for &port in ports {
                let rule = NetPortAttr { allowed_access: CONNECT_TCP, port: port as u64 };
                // SAFETY: rule lives for the call; the kernel reads it only.
                check(unsafe { libc::syscall(libc::SYS_landlock_add_rule, fd, RULE_NET_PORT, &rule as *const NetPortAttr, 0u32) })?;
            }
            // SAFETY: fd is the ruleset just created; no flags, no pointer.
            check(unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd, 0u32) }).map(drop)
        })();
        let _ = self.close(fd);
        r
    }

    fn seccomp_load_listener(&self, program: &[libc::sock_filter]) -> SysResult<Fd> {
        let prog = libc::sock_fprog { len: program.len() as u16, filter: program.as_ptr() as *mut _ };
        // SAFETY: as seccomp_load; with NEW_LISTENER the kernel returns the
        // listener fd (close-on-exec) instead of 0.
        let fd = check(unsafe {
            libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, libc::SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog as *const libc::sock_fprog)
        })?;
        Ok(fd as Fd)
    }

    fn seccomp_notif_recv(&self, fd: Fd) -> SysResult<SeccompNotif> {
        // SAFETY: seccomp_notif is plain data; the kernel requires it zeroed.
        let mut n: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: NOTIF_RECV fills the struct we own.
        check(unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV as _, &mut n as *mut libc::seccomp_notif) }.into())?;
        let d = n.data;
        Ok(SeccompNotif { id: n.id, pid: n.pid, data: SeccompData { nr: d.nr, arch: d.arch, ip: d.instruction_pointer, args: d.args } })
    }

    fn seccomp_notif_deny(&self, fd: Fd, id: u64, errno: i32) -> SysResult<()> {
        let mut resp = libc::seccomp_notif_resp { id, val: 0, error: -errno, flags: 0 };
        // SAFETY: NOTIF_SEND reads the response we own; flags 0: never
        // SECCOMP_USER_NOTIF_FLAG_CONTINUE.
        check(unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND as _, &mut resp as *mut libc::seccomp_notif_resp) }.into()).map(drop)
    }

    fn fork_child(&self, child: &mut dyn FnMut() -> i32) -> SysResult<i32> {
        // SAFETY: the caller is single-threaded (the launcher), so the child
        // may go on with the whole runtime: allocation, threads.
        let pid = unsafe { fork_dying_with_caller(125) }?;
        if pid > 0 {
            return Ok(pid);
        }
        let code = child();
        // SAFETY: leave the fork child without running the launcher's exit path.
        unsafe { libc::_exit(code) }
    }

    fn exit(&self, code: i32) -> ! {
        // SAFETY: _exit never returns; nothing to flush (we write with
        // write(2)). std::process::exit would run atexit handlers; nix has no _exit.
        unsafe { libc::_exit(code) }
    }
}

fn fstat(fd: Fd) -> SysResult<FileStat> {
    stat::fstat(bfd(fd)?).map_err(Errno::from)
}
