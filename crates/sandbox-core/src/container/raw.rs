//! Credentials, capability sets, rlimits, namespaces and terminal calls the
//! OCI path needs and `Sys` does not carry yet. Thin libc wrappers; each
//! returns the errno.
// TODO(issue 12): move these behind `Sys` (with script entries) once the
// core's seam is open for additions again.

use crate::sys::{Errno, Fd, SysResult};
use std::ffi::CString;

fn check(rc: libc::c_long) -> SysResult<libc::c_long> {
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(rc)
    }
}

pub fn setns(fd: Fd, nstype: i32) -> SysResult<()> {
    // SAFETY: setns on an fd we hold.
    check(unsafe { libc::setns(fd, nstype) } as _).map(drop)
}

pub fn unshare(flags: i32) -> SysResult<()> {
    // SAFETY: plain flags.
    check(unsafe { libc::unshare(flags) } as _).map(drop)
}

pub fn mknodat(dirfd: Fd, name: &str, mode: u32, dev: u64) -> SysResult<()> {
    let c = CString::new(name).map_err(|_| Errno(libc::EINVAL))?;
    // SAFETY: a NUL-terminated name alive for the call.
    check(unsafe { libc::mknodat(dirfd, c.as_ptr(), mode, dev) } as _).map(drop)
}

pub fn fchownat(dirfd: Fd, name: &str, uid: u32, gid: u32) -> SysResult<()> {
    let c = CString::new(name).map_err(|_| Errno(libc::EINVAL))?;
    // SAFETY: as above; AT_SYMLINK_NOFOLLOW never follows a planted link.
    check(unsafe { libc::fchownat(dirfd, c.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) } as _).map(drop)
}

pub fn fchmodat(dirfd: Fd, name: &str, mode: u32) -> SysResult<()> {
    let c = CString::new(name).map_err(|_| Errno(libc::EINVAL))?;
    // SAFETY: a NUL-terminated name alive for the call (device nodes are never links).
    check(unsafe { libc::fchmodat(dirfd, c.as_ptr(), mode, 0) } as _).map(drop)
}

pub fn setresuid(uid: u32) -> SysResult<()> {
    // SAFETY: raw syscall (the libc wrapper would broadcast to threads; we have none).
    check(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }).map(drop)
}

pub fn setresgid(gid: u32) -> SysResult<()> {
    // SAFETY: as setresuid.
    check(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) }).map(drop)
}

pub fn setgroups(groups: &[u32]) -> SysResult<()> {
    // SAFETY: a slice alive for the call.
    check(unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) }).map(drop)
}

pub fn setrlimit(resource: u32, soft: u64, hard: u64) -> SysResult<()> {
    let r = libc::rlimit64 { rlim_cur: soft, rlim_max: hard };
    // SAFETY: prlimit64 on ourselves with a struct we own.
    check(unsafe { libc::prlimit64(0, resource as _, &r, std::ptr::null_mut()) } as _).map(drop)
}

pub fn set_keepcaps(on: bool) -> SysResult<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, on as libc::c_ulong, 0, 0, 0) } as _).map(drop)
}

/// capset(2) with the three sets given apart (v3, 64 bits).
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> SysResult<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut h = Header { version: 0x2008_0522, pid: 0 };
    let d = [
        Data { effective: effective as u32, permitted: permitted as u32, inheritable: inheritable as u32 },
        Data { effective: (effective >> 32) as u32, permitted: (permitted >> 32) as u32, inheritable: (inheritable >> 32) as u32 },
    ];
    // SAFETY: header and two data structs as capset(2) v3 wants, alive for the call.
    check(unsafe { libc::syscall(libc::SYS_capset, &mut h as *mut Header, d.as_ptr()) }).map(drop)
}

/// mount_setattr(2) with set and clear masks.
pub fn mount_setattr(fd: Fd, recursive: bool, set: u64, clr: u64) -> SysResult<()> {
    #[repr(C)]
    struct Attr {
        set: u64,
        clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let a = Attr { set, clr, propagation: 0, userns_fd: 0 };
    let empty = c"";
    let flags = libc::AT_EMPTY_PATH as libc::c_uint | if recursive { libc::AT_RECURSIVE as libc::c_uint } else { 0 };
    // SAFETY: an fd we hold, an empty path with AT_EMPTY_PATH, and the attr struct with its size.
    check(unsafe { libc::syscall(libc::SYS_mount_setattr, fd, empty.as_ptr(), flags, &a as *const Attr, std::mem::size_of::<Attr>()) }).map(drop)
}

/// statvfs flags of the mount at `path`, as MS_* (to keep locked flags on a remount).
pub fn mount_flags(path: &str) -> SysResult<u64> {
    let c = CString::new(path).map_err(|_| Errno(libc::EINVAL))?;
    // SAFETY: statvfs fills the struct we own.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    check(unsafe { libc::statvfs(c.as_ptr(), &mut s) } as _)?;
    let f = s.f_flag;
    let mut ms = 0u64;
    for (st, m) in [
        (libc::ST_RDONLY, libc::MS_RDONLY),
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if f & st != 0 {
            ms |= m;
        }
    }
    Ok(ms)
}

pub fn setsid() -> SysResult<()> {
    // SAFETY: no arguments.
    check(unsafe { libc::setsid() } as _).map(drop)
}

/// Make `fd` our controlling terminal and stdin, stdout and stderr.
pub fn take_terminal(fd: Fd) -> SysResult<()> {
    // SAFETY: ioctl and dup2 on fds we hold.
    unsafe {
        check(libc::ioctl(fd, libc::TIOCSCTTY, 0) as _)?;
        for t in 0..3 {
            check(libc::dup2(fd, t) as _)?;
        }
    }
    Ok(())
}

/// Connect to a unix socket path: stream first (runc's clients dial
/// "unix"), seqpacket when the listener is one.
pub fn connect_unix(path: &str) -> SysResult<Fd> {
    use std::os::unix::io::IntoRawFd;
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(s) => Ok(s.into_raw_fd()),
        Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => {
            let addr = nix::sys::socket::UnixAddr::new(path).map_err(Errno::from)?;
            let s = nix::sys::socket::socket(
                nix::sys::socket::AddressFamily::Unix,
                nix::sys::socket::SockType::SeqPacket,
                nix::sys::socket::SockFlag::SOCK_CLOEXEC,
                None,
            )
            .map_err(Errno::from)?;
            nix::sys::socket::connect(std::os::unix::io::AsRawFd::as_raw_fd(&s), &addr).map_err(Errno::from)?;
            Ok(s.into_raw_fd())
        }
        Err(e) => Err(Errno::from_io(&e)),
    }
}

pub fn mkfifo(path: &str, mode: u32) -> SysResult<()> {
    let c = CString::new(path).map_err(|_| Errno(libc::EINVAL))?;
    // SAFETY: a NUL-terminated path alive for the call.
    check(unsafe { libc::mkfifo(c.as_ptr(), mode) } as _).map(drop)
}

pub fn write_all(fd: Fd, data: &[u8]) -> SysResult<()> {
    let mut off = 0;
    while off < data.len() {
        // SAFETY: a slice alive for the call.
        let n = unsafe { libc::write(fd, data[off..].as_ptr().cast(), data.len() - off) };
        if n < 0 {
            let e = Errno::last();
            if e.0 == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        off += n as usize;
    }
    Ok(())
}

/// Read until EOF.
pub fn read_all(fd: Fd) -> SysResult<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: a buffer we own.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = Errno::last();
            if e.0 == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
}

/// Read one byte (blocking); None at EOF.
pub fn read_byte(fd: Fd) -> SysResult<Option<u8>> {
    let mut b = [0u8; 1];
    loop {
        // SAFETY: a one-byte buffer we own.
        let n = unsafe { libc::read(fd, b.as_mut_ptr().cast(), 1) };
        if n < 0 && Errno::last().0 == libc::EINTR {
            continue;
        }
        return match n {
            n if n < 0 => Err(Errno::last()),
            0 => Ok(None),
            _ => Ok(Some(b[0])),
        };
    }
}

pub fn close(fd: Fd) {
    // SAFETY: closing an fd we own.
    unsafe { libc::close(fd) };
}

pub fn set_oom_score_adj(v: i32) -> SysResult<()> {
    std::fs::write("/proc/self/oom_score_adj", v.to_string()).map_err(|e| Errno::from_io(&e))
}

pub fn setdomainname(name: &str) -> SysResult<()> {
    // SAFETY: a buffer with its length.
    check(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) } as _).map(drop)
}
