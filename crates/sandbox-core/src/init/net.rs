//! Stage: the proxy's listening sockets (plan.network is an allow policy),
//! made by pid 1 right after loopback is up, inside the sandbox's network
//! namespace and before any privilege is dropped, then sent to the launcher
//! (SCM_RIGHTS) whose proxy process serves them from the host's namespace
//! (proxy/mod.rs). pid 1 keeps none of them: nothing of the proxy runs or
//! stays open inside the sandbox.

use super::InitContext;
use crate::error::{Code, Ctx, SetupError};
use crate::sys::{Errno, Sys};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Listen on 127.0.0.1 and [::1] at both ports; send each out, close ours.
/// IPv6 may be off in the kernel: [::1] is then skipped.
pub fn listen(sys: &dyn Sys, cx: &InitContext) -> Result<(), SetupError> {
    let Some(sock) = cx.net_sock else { return Ok(()) };
    for port in [crate::net::HTTP_PORT, crate::net::SOCKS_PORT] {
        for ip in [IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)] {
            let addr = SocketAddr::new(ip, port);
            let fd = match sys.listen_tcp(addr) {
                Ok(fd) => fd,
                Err(Errno(libc::EADDRNOTAVAIL | libc::EAFNOSUPPORT)) if ip.is_ipv6() => continue,
                Err(e) => return Err(SetupError::sys(Code::Setup, format!("listen on {addr} for the network proxy"), e)),
            };
            let sent = sys.send_fd(sock, fd).ctx(Code::Setup, "pass the proxy's socket to the launcher");
            let _ = sys.close(fd);
            sent?;
        }
    }
    sys.close(sock).ctx(Code::Setup, "close the proxy's channel")
}
