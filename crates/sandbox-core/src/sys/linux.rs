//! The real [`Sys`]: thin wrappers over libc/nix. No policy lives here; the
//! init sequence and the ops decide what to call and in which order.

use super::*;
use std::ffi::CString;

/// The kernel.
pub struct LinuxSys;

fn cstr(s: &str) -> SysResult<CString> {
    CString::new(s).map_err(|_| Errno(libc::EINVAL))
}

fn check(rc: libc::c_long) -> SysResult<libc::c_long> {
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(rc)
    }
}

fn kind_of(mode: libc::mode_t) -> FileKind {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => FileKind::Dir,
        libc::S_IFREG => FileKind::File,
        libc::S_IFLNK => FileKind::Symlink,
        _ => FileKind::Other,
    }
}

fn write_all(fd: Fd, mut data: &[u8]) -> SysResult<()> {
    while !data.is_empty() {
        // SAFETY: data is a valid slice; fd is owned by the caller.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 {
            let e = Errno::last();
            if e.0 == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        data = &data[n as usize..];
    }
    Ok(())
}

/// The signal set init blocks and waits on.
pub(crate) fn handled_sigset() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in HANDLED_SIGNALS {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

extern "C" fn ignore(_: libc::c_int) {}

/// Block the handled signals and give each a (never run) handler. Done in
/// the launcher before clone, so pid 1 inherits both. The handler matters:
/// the kernel drops signals sent to a pid namespace's init from outside
/// unless it has a handler (pid_namespaces(7)); blocked, they queue for
/// sigtimedwait instead of running it.
pub fn setup_signals() {
    let set = handled_sigset();
    // SAFETY: valid set and sigaction; single-threaded program.
    unsafe {
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        for s in HANDLED_SIGNALS {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = ignore as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = libc::SA_RESTART;
            libc::sigaction(s, &sa, std::ptr::null_mut());
        }
    }
}

impl Sys for LinuxSys {
    fn getpid(&self) -> i32 {
        // SAFETY: no arguments.
        unsafe { libc::getpid() }
    }

    fn getppid(&self) -> i32 {
        // SAFETY: no arguments.
        unsafe { libc::getppid() }
    }

    fn clone_sandbox(&self, flags: u64) -> SysResult<i32> {
        // SAFETY: fork-like raw clone (no CLONE_VM, null stack) as bubblewrap's
        // raw_clone: the child continues on a copy of our stack. The launcher
        // is single-threaded, so no lock can be held by a vanished thread.
        let rc = unsafe { libc::syscall(libc::SYS_clone, flags | libc::SIGCHLD as u64, 0usize, 0usize, 0usize, 0usize) };
        check(rc).map(|p| p as i32)
    }

    fn prctl(&self, op: Prctl) -> SysResult<()> {
        let (o, a): (libc::c_int, libc::c_ulong) = match op {
            Prctl::SetPdeathsig(s) => (libc::PR_SET_PDEATHSIG, s as _),
            Prctl::SetDumpable(d) => (libc::PR_SET_DUMPABLE, d as _),
            Prctl::SetNoNewPrivs => (libc::PR_SET_NO_NEW_PRIVS, 1),
            Prctl::SetPtracerNone => (libc::PR_SET_PTRACER, 0),
            Prctl::CapAmbientClearAll => {
                // SAFETY: plain prctl.
                let rc = unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) };
                return check(rc as _).map(drop);
            }
            Prctl::CapBsetDrop(c) => (libc::PR_CAPBSET_DROP, c as _),
            Prctl::CapAmbientRaise(c) => {
                // SAFETY: plain prctl.
                let rc = unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE, c as libc::c_ulong, 0, 0) };
                return check(rc as _).map(drop);
            }
        };
        // SAFETY: plain prctl with integer arguments.
        check(unsafe { libc::prctl(o, a, 0, 0, 0) } as _).map(drop)
    }

    fn capset(&self, keep: u64) -> SysResult<()> {
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
        let lo = keep as u32;
        let hi = (keep >> 32) as u32;
        let d = [Data { effective: lo, permitted: lo, inheritable: lo }, Data { effective: hi, permitted: hi, inheritable: hi }];
        // SAFETY: header and two data structs as capset(2) v3 expects.
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
        // SAFETY: attr lives for the call; size is the struct's.
        let fd = check(unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, &attr as *const RulesetAttr, std::mem::size_of::<RulesetAttr>(), 0u32) })?;
        // SAFETY: fd is the ruleset just created; no flags.
        let r = check(unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd as i32, 0u32) }).map(drop);
        let _ = self.close(fd as Fd);
        r
    }

    fn isatty(&self, fd: Fd) -> bool {
        // SAFETY: plain call.
        unsafe { libc::isatty(fd) == 1 }
    }

    fn seccomp_load(&self, program: &[libc::sock_filter]) -> SysResult<()> {
        let prog = libc::sock_fprog { len: program.len() as u16, filter: program.as_ptr() as *mut _ };
        // SAFETY: prog points at `program`, alive for the call.
        check(unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &prog as *const libc::sock_fprog) })
            .map(drop)
    }

    fn umask(&self, mask: u32) -> u32 {
        // SAFETY: always succeeds.
        unsafe { libc::umask(mask as libc::mode_t) as u32 }
    }

    fn sethostname(&self, name: &str) -> SysResult<()> {
        // SAFETY: pointer and length of a live slice.
        check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) } as _).map(drop)
    }

    fn loopback_up(&self) -> SysResult<()> {
        // SAFETY: socket/ioctl on a zeroed ifreq naming "lo"; fd closed below.
        unsafe {
            let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
            if s < 0 {
                return Err(Errno::last());
            }
            let mut req: libc::ifreq = std::mem::zeroed();
            for (i, b) in b"lo".iter().enumerate() {
                req.ifr_name[i] = *b as libc::c_char;
            }
            let mut rc = libc::ioctl(s, libc::SIOCGIFFLAGS, &mut req);
            if rc == 0 {
                req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
                rc = libc::ioctl(s, libc::SIOCSIFFLAGS, &req);
            }
            let e = Errno::last();
            libc::close(s);
            if rc < 0 {
                return Err(e);
            }
        }
        Ok(())
    }

    fn read_file(&self, path: &str) -> SysResult<Vec<u8>> {
        std::fs::read(path).map_err(|e| Errno::from_io(&e))
    }

    fn write_file(&self, path: &str, data: &[u8]) -> SysResult<()> {
        let fd = self.open(path, libc::O_WRONLY)?;
        let r = write_all(fd, data);
        let _ = self.close(fd);
        r
    }

    fn create_file(&self, path: &str, data: &[u8], mode: u32) -> SysResult<()> {
        let p = cstr(path)?;
        // SAFETY: valid C string.
        let fd = unsafe { libc::open(p.as_ptr(), libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC, mode) };
        if fd < 0 {
            return Err(Errno::last());
        }
        let r = write_all(fd, data);
        let _ = self.close(fd);
        r
    }

    fn unlink(&self, path: &str) -> SysResult<()> {
        let p = cstr(path)?;
        // SAFETY: valid C string.
        check(unsafe { libc::unlink(p.as_ptr()) } as _).map(drop)
    }

    fn mkdir(&self, path: &str, mode: u32) -> SysResult<()> {
        let p = cstr(path)?;
        // SAFETY: valid C string.
        check(unsafe { libc::mkdir(p.as_ptr(), mode) } as _).map(drop)
    }

    fn chdir(&self, path: &str) -> SysResult<()> {
        let p = cstr(path)?;
        // SAFETY: valid C string.
        check(unsafe { libc::chdir(p.as_ptr()) } as _).map(drop)
    }

    fn fchdir(&self, fd: Fd) -> SysResult<()> {
        // SAFETY: plain syscall.
        check(unsafe { libc::fchdir(fd) } as _).map(drop)
    }

    fn open(&self, path: &str, flags: i32) -> SysResult<Fd> {
        let p = cstr(path)?;
        // SAFETY: valid C string.
        check(unsafe { libc::open(p.as_ptr(), flags | libc::O_CLOEXEC) } as _).map(|fd| fd as Fd)
    }

    fn close(&self, fd: Fd) -> SysResult<()> {
        // SAFETY: the caller owns fd.
        check(unsafe { libc::close(fd) } as _).map(drop)
    }

    fn stat(&self, path: &str) -> SysResult<FileKind> {
        let p = cstr(path)?;
        // SAFETY: zeroed stat buffer, valid C string.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            check(libc::stat(p.as_ptr(), &mut st) as _)?;
            Ok(kind_of(st.st_mode))
        }
    }

    fn write_fd(&self, fd: Fd, data: &[u8]) -> SysResult<()> {
        write_all(fd, data)
    }

    fn lstat(&self, path: &str) -> SysResult<FileKind> {
        let p = cstr(path)?;
        // SAFETY: zeroed stat buffer, valid C string.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            check(libc::lstat(p.as_ptr(), &mut st) as _)?;
            Ok(kind_of(st.st_mode))
        }
    }

    fn readlink(&self, path: &str) -> SysResult<String> {
        self.readlinkat(libc::AT_FDCWD, path)
    }

    fn read_dir(&self, path: &str) -> SysResult<Vec<String>> {
        let mut v: Vec<String> = std::fs::read_dir(path)
            .map_err(|e| Errno::from_io(&e))?
            .filter_map(|e| e.ok().and_then(|e| e.file_name().into_string().ok()))
            .collect();
        v.sort();
        Ok(v)
    }

    fn open_lock(&self, path: &str) -> SysResult<Fd> {
        let p = cstr(path)?;
        // SAFETY: valid C string; O_NOFOLLOW: a planted link is refused.
        check(unsafe { libc::open(p.as_ptr(), libc::O_RDWR | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0o600) } as _).map(|fd| fd as Fd)
    }

    fn flock(&self, fd: Fd, how: i32) -> SysResult<()> {
        loop {
            // SAFETY: plain syscall.
            match check(unsafe { libc::flock(fd, how) } as _) {
                Err(Errno(libc::EINTR)) => continue,
                r => return r.map(drop),
            }
        }
    }

    fn read_fd(&self, fd: Fd) -> SysResult<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 512];
        let mut off = 0i64;
        loop {
            // SAFETY: valid buffer; pread leaves the offset alone.
            let n = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), off) };
            if n < 0 {
                return Err(Errno::last());
            }
            if n == 0 || out.len() > 4096 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n as usize]);
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
        // SAFETY: plain syscall.
        check(unsafe { libc::ftruncate(fd, 0) } as _).map(drop)
    }

    fn private_dir(&self, path: &str) -> SysResult<()> {
        use std::os::unix::fs::MetadataExt;
        match self.mkdir(path, 0o700) {
            Ok(()) | Err(Errno(libc::EEXIST)) => {}
            Err(e) => return Err(e),
        }
        let md = std::fs::symlink_metadata(path).map_err(|e| Errno::from_io(&e))?;
        // SAFETY: no arguments.
        let me = unsafe { libc::geteuid() };
        if !md.is_dir() || md.uid() != me || md.mode() & 0o077 != 0 {
            return Err(Errno(libc::EPERM));
        }
        Ok(())
    }

    fn rmdir(&self, path: &str) -> SysResult<()> {
        let p = cstr(path)?;
        // SAFETY: valid C string.
        check(unsafe { libc::rmdir(p.as_ptr()) } as _).map(drop)
    }

    fn chmod(&self, path: &str, mode: u32) -> SysResult<()> {
        let p = cstr(path)?;
        // SAFETY: valid C string.
        check(unsafe { libc::chmod(p.as_ptr(), mode) } as _).map(drop)
    }

    fn open_in_root(&self, dirfd: Fd, path: &str, flags: i32) -> SysResult<Fd> {
        let p = cstr(path)?;
        // SAFETY: open_how is plain data; zeroed then filled.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = (libc::O_PATH | libc::O_CLOEXEC | flags) as u64;
        how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
        loop {
            // SAFETY: valid pointers for the duration of the call.
            let rc = unsafe {
                libc::syscall(libc::SYS_openat2, dirfd, p.as_ptr(), &how as *const libc::open_how, std::mem::size_of::<libc::open_how>())
            };
            match check(rc) {
                // openat2 answers EAGAIN when a rename raced the lookup.
                Err(Errno(libc::EAGAIN)) | Err(Errno(libc::EINTR)) => continue,
                r => return r.map(|fd| fd as Fd),
            }
        }
    }

    fn openat2(&self, dirfd: Fd, path: &str, flags: i32, resolve: u64) -> SysResult<Fd> {
        let p = cstr(path)?;
        // SAFETY: open_how is plain data; zeroed then filled.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = (libc::O_CLOEXEC | flags) as u64;
        how.resolve = resolve;
        loop {
            // SAFETY: valid pointers for the duration of the call.
            let rc = unsafe {
                libc::syscall(libc::SYS_openat2, dirfd, p.as_ptr(), &how as *const libc::open_how, std::mem::size_of::<libc::open_how>())
            };
            match check(rc) {
                Err(Errno(libc::EAGAIN)) | Err(Errno(libc::EINTR)) => continue,
                r => return r.map(|fd| fd as Fd),
            }
        }
    }

    fn stamp(&self, fd: Fd) -> SysResult<(u64, u64, i64)> {
        // SAFETY: zeroed stat buffer.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            check(libc::fstat(fd, &mut st) as _)?;
            Ok((st.st_dev, st.st_ino, st.st_ctime.saturating_mul(1_000_000_000).saturating_add(st.st_ctime_nsec)))
        }
    }

    fn unlinkat(&self, dirfd: Fd, name: &str, flags: i32) -> SysResult<()> {
        let n = cstr(name)?;
        // SAFETY: valid C string.
        check(unsafe { libc::unlinkat(dirfd, n.as_ptr(), flags) } as _).map(drop)
    }

    fn owner_mode(&self, path: &str) -> SysResult<(FileKind, u32, u32)> {
        let p = cstr(path)?;
        // SAFETY: zeroed stat buffer, valid C string.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            check(libc::lstat(p.as_ptr(), &mut st) as _)?;
            Ok((kind_of(st.st_mode), st.st_uid, st.st_mode & 0o7777))
        }
    }

    fn passwd_home(&self, uid: u32) -> SysResult<String> {
        let mut buf = vec![0 as libc::c_char; 16384];
        // SAFETY: zeroed passwd record; getpwuid_r writes into buf of the given length.
        unsafe {
            let mut pw: libc::passwd = std::mem::zeroed();
            let mut out: *mut libc::passwd = std::ptr::null_mut();
            let rc = libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut out);
            if rc != 0 {
                return Err(Errno(rc));
            }
            if out.is_null() || pw.pw_dir.is_null() {
                return Err(Errno(libc::ENOENT));
            }
            let dir = std::ffi::CStr::from_ptr(pw.pw_dir).to_str().map_err(|_| Errno(libc::EILSEQ))?;
            Ok(dir.to_string())
        }
    }

    fn bind_link_onto_itself(&self, dirfd: Fd, name: &str) -> SysResult<()> {
        const OPEN_TREE_CLONE: libc::c_uint = 1;
        const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
        let n = cstr(name)?;
        let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | libc::AT_SYMLINK_NOFOLLOW as libc::c_uint;
        // SAFETY: valid C string; the kernel returns a new fd or -1.
        let tree = check(unsafe { libc::syscall(libc::SYS_open_tree, dirfd, n.as_ptr(), flags) })? as Fd;
        let empty = cstr("")?;
        // SAFETY: valid C strings; without MOVE_MOUNT_T_SYMLINKS the target link is not followed.
        let r = check(unsafe { libc::syscall(libc::SYS_move_mount, tree, empty.as_ptr(), dirfd, n.as_ptr(), MOVE_MOUNT_F_EMPTY_PATH) });
        let _ = self.close(tree);
        r.map(drop)
    }

    fn mkdirat(&self, dirfd: Fd, name: &str, mode: u32) -> SysResult<()> {
        let p = cstr(name)?;
        // SAFETY: valid C string.
        check(unsafe { libc::mkdirat(dirfd, p.as_ptr(), mode) } as _).map(drop)
    }

    fn mkfileat(&self, dirfd: Fd, name: &str, mode: u32) -> SysResult<()> {
        let p = cstr(name)?;
        // SAFETY: valid C string; O_NOFOLLOW|O_EXCL never follows a planted link.
        let fd = unsafe {
            libc::openat(dirfd, p.as_ptr(), libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC, mode)
        };
        if fd < 0 {
            return Err(Errno::last());
        }
        self.close(fd)
    }

    fn symlinkat(&self, linkname: &str, dirfd: Fd, name: &str) -> SysResult<()> {
        let l = cstr(linkname)?;
        let n = cstr(name)?;
        // SAFETY: valid C strings.
        check(unsafe { libc::symlinkat(l.as_ptr(), dirfd, n.as_ptr()) } as _).map(drop)
    }

    fn readlinkat(&self, dirfd: Fd, name: &str) -> SysResult<String> {
        let n = cstr(name)?;
        let mut buf = vec![0u8; 4097];
        // SAFETY: buffer of the given length.
        let len = check(unsafe { libc::readlinkat(dirfd, n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) } as _)?;
        buf.truncate(len as usize);
        String::from_utf8(buf).map_err(|_| Errno(libc::EILSEQ))
    }

    fn fstat(&self, fd: Fd) -> SysResult<FileKind> {
        // SAFETY: zeroed stat buffer.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            check(libc::fstat(fd, &mut st) as _)?;
            Ok(kind_of(st.st_mode))
        }
    }

    fn file_id(&self, fd: Fd) -> SysResult<(u64, u64)> {
        // SAFETY: zeroed stat buffer.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            check(libc::fstat(fd, &mut st) as _)?;
            Ok((st.st_dev, st.st_ino))
        }
    }

    fn mount(&self, source: Option<&str>, target: &str, fstype: Option<&str>, flags: MsFlags, data: Option<&str>) -> SysResult<()> {
        let s = source.map(cstr).transpose()?;
        let t = cstr(target)?;
        let f = fstype.map(cstr).transpose()?;
        let d = data.map(cstr).transpose()?;
        let p = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        // SAFETY: every pointer is a live C string or null.
        check(unsafe { libc::mount(p(&s), t.as_ptr(), p(&f), flags as libc::c_ulong, p(&d).cast()) } as _).map(drop)
    }

    fn mount_setattr(&self, fd: Fd, recursive: bool, attr_set: u64) -> SysResult<()> {
        #[repr(C)]
        struct MountAttr {
            attr_set: u64,
            attr_clr: u64,
            propagation: u64,
            userns_fd: u64,
        }
        let attr = MountAttr { attr_set, attr_clr: 0, propagation: 0, userns_fd: 0 };
        let flags = libc::AT_EMPTY_PATH | if recursive { libc::AT_RECURSIVE } else { 0 };
        loop {
            // SAFETY: empty path with AT_EMPTY_PATH; attr lives for the call.
            let rc = unsafe {
                libc::syscall(libc::SYS_mount_setattr, fd, c"".as_ptr(), flags, &attr as *const MountAttr, std::mem::size_of::<MountAttr>())
            };
            match check(rc) {
                Err(Errno(libc::EINTR)) => continue,
                r => return r.map(drop),
            }
        }
    }

    fn umount2(&self, target: &str, flags: i32) -> SysResult<()> {
        let t = cstr(target)?;
        // SAFETY: valid C string.
        check(unsafe { libc::umount2(t.as_ptr(), flags) } as _).map(drop)
    }

    fn pivot_root(&self, new_root: &str, put_old: &str) -> SysResult<()> {
        let n = cstr(new_root)?;
        let o = cstr(put_old)?;
        // SAFETY: valid C strings.
        check(unsafe { libc::syscall(libc::SYS_pivot_root, n.as_ptr(), o.as_ptr()) }).map(drop)
    }

    fn spawn(&self, exec: &Exec) -> Result<i32, (Option<i32>, ExecFailure)> {
        crate::exec::spawn(exec)
    }

    fn wait_signal(&self, timeout_ms: Option<u64>) -> SysResult<Option<i32>> {
        let set = handled_sigset();
        let ts = timeout_ms.map(|ms| libc::timespec { tv_sec: (ms / 1000) as _, tv_nsec: ((ms % 1000) * 1_000_000) as _ });
        loop {
            // SAFETY: valid set and optional timespec.
            let rc = unsafe {
                match &ts {
                    Some(t) => libc::sigtimedwait(&set, std::ptr::null_mut(), t),
                    None => libc::sigwaitinfo(&set, std::ptr::null_mut()),
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
            // SAFETY: status is a valid out pointer.
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
            let st = if libc::WIFSIGNALED(status) {
                ExitStatus::Signaled(libc::WTERMSIG(status))
            } else {
                ExitStatus::Exited(libc::WEXITSTATUS(status))
            };
            return Ok(Some((pid, st)));
        }
    }

    fn kill(&self, pid: i32, sig: i32) -> SysResult<()> {
        // SAFETY: plain syscall.
        check(unsafe { libc::kill(pid, sig) } as _).map(drop)
    }

    fn release_memory(&self) {
        // SAFETY: malloc_trim only returns free heap pages; no pointer is touched.
        unsafe { libc::malloc_trim(0) };
    }

    fn monotonic_ms(&self) -> u64 {
        // SAFETY: zeroed timespec out parameter.
        unsafe {
            let mut t: libc::timespec = std::mem::zeroed();
            libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t);
            t.tv_sec as u64 * 1000 + t.tv_nsec as u64 / 1_000_000
        }
    }

    fn log(&self, msg: &str) {
        let line = format!("sandboxctl: {msg}\n");
        let _ = write_all(2, line.as_bytes());
    }

    fn exit(&self, code: i32) -> ! {
        // SAFETY: _exit never returns; nothing to flush (we write with write(2)).
        unsafe { libc::_exit(code) }
    }
}
