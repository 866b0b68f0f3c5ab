//! Resolve once, filter the addresses, dial the first that passes.

use super::Shared;
use crate::net::rules::{Decision, HostRule};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Why a destination was not reached: refused by policy (a report line and
/// a 403 / SOCKS 2), or it failed (a 502 / SOCKS 4/5).
#[derive(Debug)]
pub enum DialError {
    Refused { rule: Option<String>, reason: String },
    Failed { reason: String, refused: bool },
}

/// The addresses of this host's interfaces (the host's namespace: the
/// proxy runs there).
pub fn host_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we walk read-only and free
    // once; each ifa_addr is read as the family it says it is.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return out;
        }
        let mut p = head;
        while !p.is_null() {
            let a = (*p).ifa_addr;
            if !a.is_null() {
                match (*a).sa_family as i32 {
                    libc::AF_INET => {
                        let sin = &*(a as *const libc::sockaddr_in);
                        out.push(IpAddr::V4(std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(a as *const libc::sockaddr_in6);
                        out.push(IpAddr::V6(std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
                    }
                    _ => {}
                }
            }
            p = (*p).ifa_next;
        }
        libc::freeifaddrs(head);
    }
    out
}

/// Check the rules, resolve, filter, connect.
pub fn dial(shared: &Shared, host: &str, port: u16) -> Result<TcpStream, DialError> {
    let rule: HostRule = match shared.policy.decide(host, port) {
        Decision::Allow(r) => r,
        Decision::Deny { rule, reason } => return Err(DialError::Refused { rule, reason }),
    };
    let bare = crate::net::rules::normalize(host);
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        // One lookup: the address dialled is one of these, never a second answer.
        Err(_) => match (bare.as_str(), port).to_socket_addrs() {
            Ok(a) => a.collect(),
            Err(e) => return Err(DialError::Failed { reason: format!("cannot resolve {bare}: {e}"), refused: false }),
        },
    };
    let mut why = None;
    let mut last_err = None;
    for a in addrs {
        if let Some(class) = crate::net::addr::refused(a.ip(), &shared.host_addrs) {
            if !shared.policy.allows_literal(a.ip(), port) {
                why.get_or_insert_with(|| format!("{bare} resolves to {} ({class}), which is refused unless that address is allowed as a literal", a.ip()));
                continue;
            }
        }
        match TcpStream::connect_timeout(&a, Duration::from_secs(15)) {
            Ok(s) => return Ok(s),
            Err(e) => last_err = Some((a, e)),
        }
    }
    match (last_err, why) {
        (Some((a, e)), _) => {
            Err(DialError::Failed { reason: format!("cannot connect to {a}: {e}"), refused: e.kind() == std::io::ErrorKind::ConnectionRefused })
        }
        (None, Some(reason)) => Err(DialError::Refused { rule: Some(rule.text), reason }),
        (None, None) => Err(DialError::Failed { reason: format!("{bare} has no address"), refused: false }),
    }
}
