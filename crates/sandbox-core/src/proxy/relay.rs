//! Both directions of a connection, spliced through a pipe each (the bytes
//! stay in the kernel); a half-close is passed on as shutdown(SHUT_WR).

use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;

/// Bytes moved per splice: a 1 MiB pipe (pipe-max-size's default) halves
/// and halves again the syscalls of a large download against 64 KiB.
const CHUNK: usize = 1 << 20;

/// Relay until both sides are done. `a` is the client, `b` the upstream.
pub fn relay(a: TcpStream, b: TcpStream) {
    let (a2, b2) = match (a.try_clone(), b.try_clone()) {
        (Ok(a2), Ok(b2)) => (a2, b2),
        _ => return,
    };
    let up = std::thread::Builder::new().stack_size(128 * 1024).spawn(move || one_way(&a2, &b2));
    one_way(&b, &a);
    if let Ok(t) = up {
        let _ = t.join();
    }
}

/// from → to until EOF or an error, then shut `to`'s writing side.
fn one_way(from: &TcpStream, to: &TcpStream) {
    if splice_loop(from, to).is_err() {
        // Nothing more goes either way on an error.
        let _ = from.shutdown(Shutdown::Both);
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn splice_loop(from: &TcpStream, to: &TcpStream) -> std::io::Result<()> {
    let mut p = [0i32; 2];
    // SAFETY: p is a two-int array for pipe2 to fill.
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return copy_loop(from, to);
    }
    let (r, w) = (p[0], p[1]);
    // SAFETY: F_SETPIPE_SZ on our own pipe; failure leaves the default size,
    // and the chunk then follows what the pipe holds.
    let size = unsafe { libc::fcntl(w, libc::F_SETPIPE_SZ, CHUNK as libc::c_int) };
    let chunk = if size > 0 { size as usize } else { 1 << 16 };
    let res = (|| loop {
        // SAFETY: splice between descriptors we own; null offsets (sockets and pipes).
        let n = unsafe { libc::splice(from.as_raw_fd(), std::ptr::null_mut(), w, std::ptr::null_mut(), chunk, libc::SPLICE_F_MOVE) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Ok(());
        }
        let mut left = n as usize;
        while left > 0 {
            // SAFETY: as above.
            let m = unsafe { libc::splice(r, std::ptr::null_mut(), to.as_raw_fd(), std::ptr::null_mut(), left, libc::SPLICE_F_MOVE) };
            if m < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if m == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            left -= m as usize;
        }
    })();
    // SAFETY: our pipe's two ends, closed once.
    unsafe {
        libc::close(r);
        libc::close(w);
    }
    res
}

/// Without a pipe: a plain copy.
fn copy_loop(mut from: &TcpStream, mut to: &TcpStream) -> std::io::Result<()> {
    std::io::copy(&mut from, &mut to).map(drop)
}
