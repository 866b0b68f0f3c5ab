//! The control socket's calls: a SOCK_SEQPACKET listener bound in a
//! registry entry, messages with fds (SCM_RIGHTS), and the peer check.
//!
//! They run in the supervisor and the client, on the host, in pid 1 on an
//! inherited connection, and in the addon (Node's process): every kernel
//! call goes through [`Sys`], so the fatal branches of the supervisor's and
//! pid 1's connection handling are driven by the call script in tests.

use super::proto::{MAX_FDS, MAX_MSG};
use crate::sys::{Fd, Sys, SysResult};

/// A listening control socket bound as `name` in the directory `dirfd`, mode 0600.
pub fn listen(sys: &dyn Sys, dirfd: Fd, name: &str) -> SysResult<Fd> {
    sys.seqpacket_listen(dirfd, name)
}

/// Connect to the control socket `name` in `dirfd`.
pub fn connect(sys: &dyn Sys, dirfd: Fd, name: &str) -> SysResult<Fd> {
    sys.seqpacket_connect(dirfd, name)
}

/// accept4(SOCK_CLOEXEC).
pub fn accept(sys: &dyn Sys, listener: Fd) -> SysResult<Fd> {
    sys.accept(listener)
}

/// One message with its fds. A peer that left is EPIPE.
pub fn send(sys: &dyn Sys, sock: Fd, data: &[u8], fds: &[Fd]) -> SysResult<()> {
    sys.send_msg(sock, data, fds)
}

/// One message and the fds it carried (close-on-exec, the caller's to
/// close); `None` when the peer closed. A truncated message or its fds is
/// EMSGSIZE (the fds that came are closed).
pub fn recv(sys: &dyn Sys, sock: Fd) -> SysResult<Option<(Vec<u8>, Vec<Fd>)>> {
    sys.recv_msg(sock, MAX_MSG, MAX_FDS)
}

/// Whether the peer of `conn` may control our sandboxes: its uid is ours
/// and it lives in our user namespace. A process inside any sandbox is in a
/// child user namespace (even root there, even with the registry bound in),
/// so it is refused: it can only do what it could already do. The peer's
/// namespace comes from its pidfd (SO_PEERPIDFD), so a pid recycled after
/// the peer left cannot stand in for it. Err: why not, for the message.
pub fn peer_allowed(sys: &dyn Sys, conn: Fd) -> Result<(), String> {
    let peer = sys.peer_uid(conn).map_err(|e| format!("cannot read the peer's credentials: {e}"))?;
    let (dev, ino, uid) = sys.own_userns().map_err(|e| format!("cannot read our user namespace: {e}"))?;
    if peer != uid {
        return Err(format!("peer uid {peer} is not the owner {uid}"));
    }
    let theirs = sys.peer_userns(conn).map_err(|e| format!("cannot read the peer's user namespace: {e}"))?;
    if theirs != (dev, ino) {
        return Err("the peer is in another user namespace (inside a sandbox)".into());
    }
    Ok(())
}
