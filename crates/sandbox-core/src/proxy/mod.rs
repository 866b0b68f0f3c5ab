//! Stage: the network proxy process (issue 14). The launcher forks it after
//! clone; pid 1 made the listening sockets inside the sandbox's own network
//! namespace (127.0.0.1 and [::1], ports 3128 HTTP and 1080 SOCKS5) and sent
//! them out over the channel. A socket keeps the namespace it was created
//! in, so this process, in the host's namespace, accepts the sandbox's
//! connections and dials out itself: one hop, nothing running inside the
//! sandbox, nothing listening on the host's ports.
//!
//! Every destination goes through `net::rules` (deny first, then allow) and,
//! for names, one resolution whose addresses pass `net::addr` (DNS
//! rebinding). A refusal is an HTTP 403 (`X-Proxy-Error:
//! blocked-by-sandboxctl`) or SOCKS reply 2, and a `denied` report line when
//! plan.report is set. A thread per connection, at most [`MAX_CONNECTIONS`];
//! bytes move through one growing buffer per direction (relay.rs says why
//! not splice), never through JavaScript.

mod dial;
mod http;
mod relay;
mod socks;

use crate::net::rules::Policy;
use crate::report::{Denial, Report};
use crate::sys::Fd;
use std::net::{IpAddr, TcpListener, TcpStream};
use std::os::fd::FromRawFd;
use std::sync::{Arc, Condvar, Mutex};

/// Connections served at once; the accept loops wait beyond that.
pub const MAX_CONNECTIONS: usize = 256;

/// What every connection's thread shares.
pub struct Shared {
    pub policy: Policy,
    /// The host's own interface addresses (refused after resolution).
    pub host_addrs: Vec<IpAddr>,
    /// The report socket, when plan.report is set.
    report: Option<Mutex<Fd>>,
    slots: (Mutex<usize>, Condvar),
}

impl Shared {
    pub fn new(policy: Policy, host_addrs: Vec<IpAddr>, report: Option<Fd>) -> Shared {
        Shared { policy, host_addrs, report: report.map(Mutex::new), slots: (Mutex::new(0), Condvar::new()) }
    }

    /// A `denied` line on the report socket (one write under the lock, so
    /// lines from concurrent connections never interleave).
    pub fn denied(&self, via: &str, host: &str, port: u16, rule: Option<String>, reason: &str) {
        if let Some(fd) = &self.report {
            let line = Report::Denied(Denial::Network { host: host.to_string(), port, rule, reason: reason.to_string(), via: via.to_string() }).line();
            let fd = fd.lock().unwrap_or_else(|e| e.into_inner());
            let mut data = line.as_bytes();
            while !data.is_empty() {
                // SAFETY: fd is the report socket this process owns; data is a live slice.
                let n = unsafe { libc::send(*fd, data.as_ptr().cast(), data.len(), libc::MSG_NOSIGNAL) };
                if n <= 0 {
                    if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                        continue;
                    }
                    return;
                }
                data = &data[n as usize..];
            }
        }
    }

    fn acquire(&self) {
        let (count, cv) = &self.slots;
        let mut n = count.lock().unwrap_or_else(|e| e.into_inner());
        while *n >= MAX_CONNECTIONS {
            n = cv.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n += 1;
    }

    fn release(&self) {
        let (count, cv) = &self.slots;
        *count.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        cv.notify_one();
    }
}

/// Which protocol a listening socket speaks (from its port).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Http,
    Socks,
}

/// The proxy process's body: receive the listening sockets on `chan` until
/// pid 1 closes it, then serve them until this process is killed. Returns
/// the exit status when there is nothing to serve.
pub fn serve(chan: Fd, policy: Policy, report: Option<Fd>, sys: &dyn crate::sys::Sys) -> i32 {
    close_others(&[Some(chan), report]);
    let mut listeners = Vec::new();
    while let Ok(Some(fd)) = sys.recv_fd(chan) {
        // SAFETY: recv_fd handed us this descriptor; we own it from here on.
        listeners.push(unsafe { TcpListener::from_raw_fd(fd) });
    }
    let _ = sys.close(chan);
    if listeners.is_empty() {
        return 0;
    }
    let shared = Arc::new(Shared::new(policy, dial::host_addresses(), report));
    let mut threads = Vec::new();
    for l in listeners {
        let kind = match l.local_addr().map(|a| a.port()) {
            Ok(crate::net::SOCKS_PORT) => Kind::Socks,
            _ => Kind::Http,
        };
        let shared = shared.clone();
        threads.push(std::thread::spawn(move || accept_loop(l, kind, shared)));
    }
    for t in threads {
        let _ = t.join();
    }
    0
}

/// Close every descriptor from 3 up but `keep`: the launcher's lock fds,
/// terminal sockets and image mount are not the proxy's to hold.
fn close_others(keep: &[Option<Fd>]) {
    let mut keep: Vec<u32> = keep.iter().flatten().map(|&f| f as u32).filter(|&f| f >= 3).collect();
    keep.sort_unstable();
    let mut from = 3u32;
    for k in keep.into_iter().chain([u32::MAX]) {
        if k > from {
            // SAFETY: close_range on a range of this process's own descriptors, no flags.
            unsafe { libc::syscall(libc::SYS_close_range, from, k - 1, 0u32) };
        }
        from = k.saturating_add(1);
    }
}

fn accept_loop(l: TcpListener, kind: Kind, shared: Arc<Shared>) {
    loop {
        shared.acquire();
        let conn = match l.accept() {
            Ok((c, _)) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                shared.release();
                continue;
            }
            Err(_) => {
                shared.release();
                // EMFILE and the like: let connections finish, then go on.
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
        };
        let s = shared.clone();
        let spawned = std::thread::Builder::new().stack_size(256 * 1024).spawn(move || {
            let _ = conn.set_nodelay(true);
            match kind {
                Kind::Http => http::serve(conn, &s),
                Kind::Socks => socks::serve(conn, &s),
            }
            s.release();
        });
        if spawned.is_err() {
            shared.release();
        }
    }
}

/// Read timeouts while a request is parsed: a client that says nothing
/// does not hold a slot for ever.
fn set_head_timeout(c: &TcpStream, on: bool) {
    let t = on.then(|| std::time::Duration::from_secs(30));
    let _ = c.set_read_timeout(t);
}

#[cfg(test)]
mod tests;
