//! The control socket's calls: a SOCK_SEQPACKET listener bound in a
//! registry entry, messages with fds (SCM_RIGHTS), and the peer check.
//!
//! These run in the supervisor and the client, on the host, and in pid 1
//! on an inherited connection; they are the live protocol's transport, not
//! setup steps, so they call the kernel directly (as relay.rs's loop goes
//! through `Sys` only for what its tests script).

use super::proto::{MAX_FDS, MAX_MSG};
use crate::sys::{Errno, Fd, SysResult};
use nix::sys::socket::{self, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};

fn retry<T>(mut f: impl FnMut() -> nix::Result<T>) -> SysResult<T> {
    loop {
        match f() {
            Err(nix::errno::Errno::EINTR) => continue,
            r => return r.map_err(|e| Errno(e as i32)),
        }
    }
}

/// A listening control socket bound as `name` in the directory `dirfd`
/// (through /proc/self/fd, so a long registry path fits sun_path), mode 0600.
pub fn listen(dirfd: Fd, name: &str) -> SysResult<Fd> {
    let sock = socket::socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None).map_err(|e| Errno(e as i32))?;
    let addr = UnixAddr::new(format!("/proc/self/fd/{dirfd}/{name}").as_str()).map_err(|e| Errno(e as i32))?;
    // The socket file is created with the umask's bits: owner-only from the start.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let bound = socket::bind(sock.as_raw_fd(), &addr);
    nix::sys::stat::umask(old);
    bound.map_err(|e| Errno(e as i32))?;
    socket::listen(&sock, socket::Backlog::new(128).unwrap_or(socket::Backlog::MAXCONN)).map_err(|e| Errno(e as i32))?;
    Ok(sock.into_raw_fd())
}

/// Connect to the control socket `name` in `dirfd`.
pub fn connect(dirfd: Fd, name: &str) -> SysResult<Fd> {
    let sock = socket::socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None).map_err(|e| Errno(e as i32))?;
    let addr = UnixAddr::new(format!("/proc/self/fd/{dirfd}/{name}").as_str()).map_err(|e| Errno(e as i32))?;
    retry(|| socket::connect(sock.as_raw_fd(), &addr))?;
    Ok(sock.into_raw_fd())
}

/// accept4(SOCK_CLOEXEC).
pub fn accept(listener: Fd) -> SysResult<Fd> {
    retry(|| socket::accept4(listener, SockFlag::SOCK_CLOEXEC))
}

/// One message with its fds. MSG_NOSIGNAL: a peer that left is EPIPE.
pub fn send(sock: Fd, data: &[u8], fds: &[Fd]) -> SysResult<()> {
    let iov = [IoSlice::new(data)];
    let rights = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &rights };
    retry(|| socket::sendmsg::<()>(sock, &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None)).map(drop)
}

/// One message and the fds it carried (close-on-exec, owned by the caller);
/// `None` when the peer closed. A truncated message or its fds is EMSGSIZE
/// (the fds that came are closed).
pub fn recv(sock: Fd) -> SysResult<Option<(Vec<u8>, Vec<OwnedFd>)>> {
    let mut buf = vec![0u8; MAX_MSG];
    let mut space = nix::cmsg_space!([Fd; MAX_FDS]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut fds = Vec::new();
    let (n, truncated) = loop {
        match socket::recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Errno(e as i32)),
            Ok(msg) => {
                for c in msg.cmsgs().map_err(|e| Errno(e as i32))? {
                    if let ControlMessageOwned::ScmRights(list) = c {
                        // SAFETY: the kernel just installed these fds for us; each is owned once.
                        fds.extend(list.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
                    }
                }
                break (msg.bytes, msg.flags.intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC));
            }
        }
    };
    if truncated {
        return Err(Errno(libc::EMSGSIZE));
    }
    if n == 0 && fds.is_empty() {
        return Ok(None);
    }
    buf.truncate(n);
    Ok(Some((buf, fds)))
}

/// SO_PEERPIDFD (Linux 6.5).
const SO_PEERPIDFD: libc::c_int = 77;
/// PIDFD_GET_USER_NAMESPACE: _IO(0xFF, 9) (Linux 6.11).
const PIDFD_GET_USER_NAMESPACE: libc::c_ulong = 0xFF09;

fn dev_ino(fd: Fd) -> SysResult<(u64, u64)> {
    let st = nix::sys::stat::fstat(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }).map_err(|e| Errno(e as i32))?;
    Ok((st.st_dev, st.st_ino))
}

/// Whether the peer of `conn` may control our sandboxes: its uid is ours
/// and it lives in our user namespace. A process inside any sandbox is in a
/// child user namespace (even root there, even with the registry bound in),
/// so it is refused: it can only do what it could already do. The peer's
/// namespace comes from its pidfd (SO_PEERPIDFD), so a pid recycled after
/// the peer left cannot stand in for it. Err: why not, for the message.
pub fn peer_allowed(conn: Fd) -> Result<(), String> {
    let cred = socket::getsockopt(&unsafe { std::os::fd::BorrowedFd::borrow_raw(conn) }, socket::sockopt::PeerCredentials)
        .map_err(|e| format!("cannot read the peer's credentials: {e}"))?;
    let uid = nix::unistd::getuid().as_raw();
    if cred.uid() != uid {
        return Err(format!("peer uid {} is not the owner {uid}", cred.uid()));
    }
    let ours = std::fs::metadata("/proc/self/ns/user").map_err(|e| format!("cannot read our user namespace: {e}"))?;
    use std::os::unix::fs::MetadataExt;
    let ours = (ours.dev(), ours.ino());
    let mut pidfd: libc::c_int = -1;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes one int into `pidfd` and its size into `len`.
    let r = unsafe { libc::getsockopt(conn, libc::SOL_SOCKET, SO_PEERPIDFD, (&mut pidfd as *mut libc::c_int).cast(), &mut len) };
    if r < 0 || pidfd < 0 {
        return Err(format!("cannot identify the peer (SO_PEERPIDFD): {}", Errno::last()));
    }
    // SAFETY: the kernel gave us this fd; we own it.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    // SAFETY: the ioctl takes no argument and returns a new fd or -1.
    let ns = unsafe { libc::ioctl(pidfd.as_raw_fd(), PIDFD_GET_USER_NAMESPACE as _, 0) };
    if ns < 0 {
        return Err(format!("cannot read the peer's user namespace: {}", Errno::last()));
    }
    // SAFETY: a new fd from the ioctl; we own it.
    let ns = unsafe { OwnedFd::from_raw_fd(ns) };
    let theirs = dev_ino(ns.as_raw_fd()).map_err(|e| format!("cannot read the peer's user namespace: {e}"))?;
    if theirs != ours {
        return Err("the peer is in another user namespace (inside a sandbox)".into());
    }
    Ok(())
}
