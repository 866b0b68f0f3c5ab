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
        check(unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &prog as *const libc::sock_fprog) }).map(drop)
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
        let mut v: Vec<String> =
            std::fs::read_dir(path).map_err(|e| Errno::from_io(&e))?.filter_map(|e| e.ok().and_then(|e| e.file_name().into_string().ok())).collect();
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
            let rc = unsafe { libc::syscall(libc::SYS_openat2, dirfd, p.as_ptr(), &how as *const libc::open_how, std::mem::size_of::<libc::open_how>()) };
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
            let rc = unsafe { libc::syscall(libc::SYS_openat2, dirfd, p.as_ptr(), &how as *const libc::open_how, std::mem::size_of::<libc::open_how>()) };
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
        let fd = unsafe { libc::openat(dirfd, p.as_ptr(), libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC, mode) };
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
            let rc = unsafe { libc::syscall(libc::SYS_mount_setattr, fd, c"".as_ptr(), flags, &attr as *const MountAttr, std::mem::size_of::<MountAttr>()) };
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
        super::exec::spawn(exec)
    }

    fn signal_default(&self, sig: i32) -> SysResult<()> {
        // The kernel's struct sigaction (handler, flags, restorer, mask) on
        // x86_64 and aarch64; all zero is SIG_DFL with no flags. The raw call
        // because glibc's wrapper refuses its own signals (32, 33).
        let act = [0u64; 4];
        // SAFETY: a valid kernel sigaction; no old action asked for.
        check(unsafe { libc::syscall(libc::SYS_rt_sigaction, sig, act.as_ptr(), std::ptr::null_mut::<u64>(), 8usize) }).map(drop)
    }

    fn unblock_signals(&self) -> SysResult<()> {
        // SAFETY: an empty set we own.
        unsafe {
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            if libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) < 0 {
                return Err(Errno::last());
            }
        }
        Ok(())
    }

    fn execve(&self, path: &std::ffi::CStr, argv: &[CString], envp: &[CString]) -> SysResult<()> {
        let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
        a.push(std::ptr::null());
        let mut e: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
        e.push(std::ptr::null());
        // SAFETY: NUL-terminated strings and NULL-terminated arrays that
        // outlive the call; it returns only on failure.
        unsafe { libc::execve(path.as_ptr(), a.as_ptr(), e.as_ptr()) };
        Err(Errno::last())
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
            let st = if libc::WIFSIGNALED(status) { ExitStatus::Signaled(libc::WTERMSIG(status)) } else { ExitStatus::Exited(libc::WEXITSTATUS(status)) };
            return Ok(Some((pid, st)));
        }
    }

    fn kill(&self, pid: i32, sig: i32) -> SysResult<()> {
        // SAFETY: plain syscall.
        check(unsafe { libc::kill(pid, sig) } as _).map(drop)
    }

    fn socketpair(&self) -> SysResult<(Fd, Fd)> {
        let mut fds = [0; 2];
        // SAFETY: fds is a valid 2-int array.
        check(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) } as _)?;
        Ok((fds[0], fds[1]))
    }

    fn send_fd(&self, sock: Fd, fd: Fd) -> SysResult<()> {
        // One byte of payload carries the SCM_RIGHTS message (unix(7)).
        let mut byte = [0u8; 1];
        // SAFETY: msghdr, iovec and the control buffer live for the call;
        // CMSG_* compute offsets inside the buffer we sized with CMSG_SPACE.
        unsafe {
            let space = libc::CMSG_SPACE(std::mem::size_of::<Fd>() as u32) as usize;
            let mut control = vec![0u8; space];
            let mut iov = libc::iovec { iov_base: byte.as_mut_ptr().cast(), iov_len: 1 };
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = space as _;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<Fd>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<Fd>(), fd);
            loop {
                if libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) >= 0 {
                    return Ok(());
                }
                match Errno::last() {
                    Errno(libc::EINTR) => continue,
                    e => return Err(e),
                }
            }
        }
    }

    fn recv_fd(&self, sock: Fd) -> SysResult<Option<Fd>> {
        let mut byte = [0u8; 1];
        // SAFETY: as in send_fd; the received fd is read from our buffer.
        unsafe {
            let space = libc::CMSG_SPACE(std::mem::size_of::<Fd>() as u32) as usize;
            let mut control = vec![0u8; space];
            let mut iov = libc::iovec { iov_base: byte.as_mut_ptr().cast(), iov_len: 1 };
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = space as _;
            let n = loop {
                let n = libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC);
                if n < 0 && Errno::last().0 == libc::EINTR {
                    continue;
                }
                break n;
            };
            if n < 0 {
                return Err(Errno::last());
            }
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            if cmsg.is_null() || (*cmsg).cmsg_level != libc::SOL_SOCKET || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
                return if n == 0 { Ok(None) } else { Err(Errno(libc::EBADMSG)) };
            }
            Ok(Some(std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<Fd>())))
        }
    }

    fn open_pty(&self, ptmx: &str) -> SysResult<(Fd, Fd)> {
        let master = self.open(ptmx, libc::O_RDWR | libc::O_NOCTTY)?;
        let unlock: libc::c_int = 0;
        // SAFETY: TIOCSPTLCK reads an int; TIOCGPTPEER (Linux 4.13) takes open flags.
        let slave = unsafe {
            if libc::ioctl(master, libc::TIOCSPTLCK, &unlock) < 0 {
                let e = Errno::last();
                libc::close(master);
                return Err(e);
            }
            libc::ioctl(master, libc::TIOCGPTPEER, libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC)
        };
        if slave < 0 {
            let e = Errno::last();
            let _ = self.close(master);
            return Err(e);
        }
        Ok((master, slave))
    }

    fn tty_raw(&self, fd: Fd) -> SysResult<TermState> {
        // SAFETY: termios is plain data filled by tcgetattr.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            check(libc::tcgetattr(fd, &mut t) as _)?;
            let saved = TermState(t);
            libc::cfmakeraw(&mut t);
            loop {
                if libc::tcsetattr(fd, libc::TCSADRAIN, &t) == 0 {
                    return Ok(saved);
                }
                match Errno::last() {
                    Errno(libc::EINTR) => continue,
                    e => return Err(e),
                }
            }
        }
    }

    fn tty_restore(&self, fd: Fd, saved: &TermState) -> SysResult<()> {
        loop {
            // SAFETY: saved holds settings tcgetattr filled.
            if unsafe { libc::tcsetattr(fd, libc::TCSADRAIN, &saved.0) } == 0 {
                return Ok(());
            }
            match Errno::last() {
                Errno(libc::EINTR) => continue,
                e => return Err(e),
            }
        }
    }

    fn winsize(&self, fd: Fd) -> SysResult<(u16, u16)> {
        // SAFETY: winsize is plain data filled by the ioctl.
        unsafe {
            let mut w: libc::winsize = std::mem::zeroed();
            check(libc::ioctl(fd, libc::TIOCGWINSZ, &mut w) as _)?;
            Ok((w.ws_row, w.ws_col))
        }
    }

    fn set_winsize(&self, fd: Fd, (rows, cols): (u16, u16)) -> SysResult<()> {
        let w = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCSWINSZ reads a winsize.
        check(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &w) } as _).map(drop)
    }

    fn set_nonblock(&self, fd: Fd) -> SysResult<()> {
        // SAFETY: plain fcntl calls.
        unsafe {
            let fl = check(libc::fcntl(fd, libc::F_GETFL) as _)?;
            check(libc::fcntl(fd, libc::F_SETFL, fl as libc::c_int | libc::O_NONBLOCK) as _).map(drop)
        }
    }

    fn signal_fd(&self, signals: &[i32]) -> SysResult<Fd> {
        // SAFETY: sigset_t is plain data; sigprocmask/signalfd read it.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &s in signals {
                libc::sigaddset(&mut set, s);
            }
            check(libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) as _)?;
            check(libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) as _).map(|fd| fd as Fd)
        }
    }

    fn read_signal(&self, fd: Fd) -> SysResult<Option<i32>> {
        // SAFETY: signalfd_siginfo is plain data; read fills at most its size.
        unsafe {
            let mut info: libc::signalfd_siginfo = std::mem::zeroed();
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            loop {
                let n = libc::read(fd, (&mut info as *mut libc::signalfd_siginfo).cast(), size);
                if n == size as isize {
                    return Ok(Some(info.ssi_signo as i32));
                }
                match Errno::last() {
                    Errno(libc::EINTR) if n < 0 => continue,
                    Errno(libc::EAGAIN) if n < 0 => return Ok(None),
                    e if n < 0 => return Err(e),
                    _ => return Err(Errno(libc::EIO)),
                }
            }
        }
    }

    fn ignore_signal(&self, sig: i32) {
        // SAFETY: SIG_IGN needs no handler.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }

    fn poll(&self, fds: &[(Fd, i16)], timeout_ms: i32) -> SysResult<Vec<i16>> {
        let mut p: Vec<libc::pollfd> = fds.iter().map(|&(fd, events)| libc::pollfd { fd, events, revents: 0 }).collect();
        // SAFETY: p is a valid array of its length.
        let rc = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) };
        if rc < 0 {
            return match Errno::last() {
                Errno(libc::EINTR) => Ok(vec![0; fds.len()]),
                e => Err(e),
            };
        }
        Ok(p.iter().map(|p| p.revents).collect())
    }

    fn read(&self, fd: Fd, max: usize) -> SysResult<Vec<u8>> {
        let mut buf = vec![0u8; max];
        loop {
            // SAFETY: buf is valid for max bytes.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), max) };
            if n >= 0 {
                buf.truncate(n as usize);
                return Ok(buf);
            }
            match Errno::last() {
                Errno(libc::EINTR) => continue,
                e => return Err(e),
            }
        }
    }

    fn write_some(&self, fd: Fd, data: &[u8]) -> SysResult<usize> {
        loop {
            // SAFETY: data is a valid slice.
            let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
            if n >= 0 {
                return Ok(n as usize);
            }
            match Errno::last() {
                Errno(libc::EINTR) => continue,
                e => return Err(e),
            }
        }
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
