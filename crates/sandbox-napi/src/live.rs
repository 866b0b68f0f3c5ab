//! Control connections to live sandboxes from Node's own process, so an
//! `exec` needs no native client process (issue 13, design §8).
//!
//! Node is multi-threaded: nothing here forks, unshares or enters a
//! namespace. It connects to a sandbox's control socket (the registry's
//! checks apply; the supervisor checks our credentials and user namespace),
//! sends requests with their fds (SCM_RIGHTS) and hands every reply to a
//! JavaScript callback. One reader thread of the addon waits on all the
//! connections (epoll) and passes each message through a thread-safe
//! function, so the event loop never blocks and no libuv worker is held
//! while a program runs.
//!
//! A connection is named by a number of ours, never by its fd: the reader
//! thread closes the fd when the peer ends the connection, and a late
//! `liveSend` with that number finds nothing rather than a reused fd.

use napi::bindgen_prelude::FnArgs;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use sandbox_core::live::{client, net, registry};
use sandbox_core::sys::{LinuxSys, Sys};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};
use std::sync::{Mutex, OnceLock};

/// The callback: each message as JSON with the fd it carried, then `null`
/// once the connection ended.
type Message = FnArgs<(Option<String>, Option<i32>)>;
type OnMessage = ThreadsafeFunction<Message, (), Message, napi::Status, false>;

struct Conn {
    fd: OwnedFd,
    on_message: OnMessage,
}

struct Reader {
    epoll: OwnedFd,
    conns: Mutex<HashMap<u64, Conn>>,
    next: Mutex<u64>,
}

static READER: OnceLock<Result<Reader, String>> = OnceLock::new();

fn reader() -> Result<&'static Reader, String> {
    READER
        .get_or_init(|| {
            // SAFETY: epoll_create1 returns a new fd or -1.
            let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            if ep < 0 {
                return Err(format!("cannot create an epoll instance: {}", std::io::Error::last_os_error()));
            }
            // SAFETY: a new fd we own.
            let epoll = unsafe { std::os::fd::FromRawFd::from_raw_fd(ep) };
            let reader = Reader { epoll, conns: Mutex::new(HashMap::new()), next: Mutex::new(1) };
            std::thread::Builder::new().name("sandboxctl-live".into()).spawn(run_reader).map_err(|e| format!("cannot start the control reader thread: {e}"))?;
            Ok(reader)
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn run_reader() {
    // The thread starts inside get_or_init; wait until the reader is stored.
    let r = loop {
        match READER.get() {
            Some(Ok(r)) => break r,
            Some(Err(_)) => return,
            None => std::thread::yield_now(),
        }
    };
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
    loop {
        // SAFETY: `events` has room for 64 entries.
        let n = unsafe { libc::epoll_wait(r.epoll.as_raw_fd(), events.as_mut_ptr(), events.len() as i32, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        for ev in &events[..n as usize] {
            let id = ev.u64;
            let mut conns = r.conns.lock().unwrap_or_else(|e| e.into_inner());
            let Some(conn) = conns.get(&id) else { continue };
            match net::recv(&LinuxSys, conn.fd.as_raw_fd()) {
                Ok(Some((bytes, fds))) => {
                    let mut fds = fds.into_iter();
                    // Only `started` of a terminal carries one (the pty master); any more are closed.
                    let fd = fds.next();
                    for extra in fds {
                        let _ = LinuxSys.close(extra);
                    }
                    conn.on_message.call((Some(String::from_utf8_lossy(&bytes).into_owned()), fd).into(), ThreadsafeFunctionCallMode::NonBlocking);
                }
                // Ended (or broken): out of the set, closed, and the callback told.
                _ => {
                    if let Some(conn) = conns.remove(&id) {
                        // SAFETY: removing a registered fd; the event pointer may be null since 2.6.9.
                        unsafe { libc::epoll_ctl(r.epoll.as_raw_fd(), libc::EPOLL_CTL_DEL, conn.fd.as_raw_fd(), std::ptr::null_mut()) };
                        conn.on_message.call((None, None).into(), ThreadsafeFunctionCallMode::NonBlocking);
                    }
                }
            }
        }
    }
}

/// `liveConnect`'s answer: a connection number, or why there is none.
#[napi(object)]
pub struct LiveConnected {
    pub id: Option<f64>,
    pub code: Option<String>,
    pub message: Option<String>,
    pub hint: Option<String>,
}

/// Connect to the running sandbox `name`'s control socket. Every message it
/// sends (the greeting first) reaches `onMessage(json, fd)`, then
/// `onMessage(null, null)` once the connection ended. Errors are returned,
/// not thrown: `E_SANDBOX_NOT_FOUND`, `E_SANDBOX_CLOSED`, `E_REGISTRY_UNSAFE`…
/// `runtimeDir` is the caller's `XDG_RUNTIME_DIR` (the registry's place),
/// as a child process given `process.env` would see it.
#[napi(ts_args_type = "name: string, runtimeDir: string | undefined | null, onMessage: (json: string | null, fd: number | null) => void")]
pub fn live_connect(name: String, runtime_dir: Option<String>, on_message: OnMessage) -> LiveConnected {
    let fail = |code: String, message: String, hint: Option<String>| LiveConnected { id: None, code: Some(code), message: Some(message), hint };
    let r = match reader() {
        Ok(r) => r,
        Err(m) => return fail("E_SETUP".into(), m, None),
    };
    let reg = match registry::root_path_for(runtime_dir.as_deref()).and_then(|root| registry::Registry::open_at(&root)) {
        Ok(reg) => reg,
        Err(e) => return fail(e.code.as_str().to_string(), e.message, e.hint),
    };
    let fd = match client::dial_in(&reg, &name) {
        Ok(fd) => fd,
        Err(e) => return fail(e.code.as_str().to_string(), e.message, e.hint),
    };
    let id = {
        let mut next = r.next.lock().unwrap_or_else(|e| e.into_inner());
        *next += 1;
        *next
    };
    let raw = fd.as_raw_fd();
    let mut conns = r.conns.lock().unwrap_or_else(|e| e.into_inner());
    conns.insert(id, Conn { fd, on_message });
    let mut ev = libc::epoll_event { events: (libc::EPOLLIN | libc::EPOLLRDHUP) as u32, u64: id };
    // SAFETY: registering an fd we hold, with a valid event.
    if unsafe { libc::epoll_ctl(r.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, raw, &mut ev) } < 0 {
        let e = std::io::Error::last_os_error();
        conns.remove(&id);
        return fail("E_SETUP".into(), format!("cannot watch the connection to sandbox {name}: {e}"), None);
    }
    LiveConnected { id: Some(id as f64), code: None, message: None, hint: None }
}

/// Send one request (JSON) with `fds` on connection `id`. False when the
/// connection is gone (ended, or closed by `liveClose`); an error when the
/// send itself failed. The fds become a program's stdio: O_NONBLOCK is
/// cleared on them first, as libuv does for a spawned child's stdio (Node
/// sets it on its own stdin, the same open file, and a program reading a
/// non-blocking pipe fails with EAGAIN).
#[napi]
pub fn live_send(id: f64, json: String, fds: Vec<i32>) -> napi::Result<bool> {
    let r = reader().map_err(napi::Error::from_reason)?;
    for &fd in &fds {
        // SAFETY: fcntl on fd numbers the caller passes; a bad one fails harmlessly (and then the send does).
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags >= 0 && flags & libc::O_NONBLOCK != 0 {
                libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
            }
        }
    }
    let conns = r.conns.lock().unwrap_or_else(|e| e.into_inner());
    let Some(conn) = conns.get(&(id as u64)) else { return Ok(false) };
    net::send(&LinuxSys, conn.fd.as_raw_fd(), json.as_bytes(), &fds)
        .map_err(|e| napi::Error::new(napi::Status::GenericFailure, format!("cannot send to the sandbox: {e}")))?;
    Ok(true)
}

/// End connection `id` (pid 1 then kills the program it started): the
/// reader thread sees the end, closes the fd and calls `onMessage(null)`.
#[napi]
pub fn live_close(id: f64) {
    if let Ok(r) = reader() {
        let conns = r.conns.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(conn) = conns.get(&(id as u64)) {
            // SAFETY: shutdown of a socket we hold; it stays open until the reader closes it.
            unsafe { libc::shutdown(conn.fd.as_raw_fd(), libc::SHUT_RDWR) };
        }
    }
}

/// A pipe, both ends close-on-exec: [read, write].
#[napi]
pub fn live_pipe() -> napi::Result<Vec<i32>> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| napi::Error::from_reason(format!("cannot make a pipe: {e}")))?;
    Ok(vec![r.into_raw_fd(), w.into_raw_fd()])
}
