//! Stage: pid 1 of a live sandbox, in place of the reaper (init/reap.rs)
//! once the program (if any) runs. One poll over a signalfd, the channel
//! from the supervisor (each message an accepted, already checked client
//! connection) and the client connections.
//!
//! pid 1 has dropped its privileges before it gets here (caps, no_new_privs,
//! Landlock scopes, seccomp), so every program it forks for `exec` inherits
//! exactly the sandbox's restrictions and domain. Orphans are reaped as
//! before. A connection that goes away takes its program's process group
//! with it (SIGKILL). `stop` sends SIGTERM to every process (kill(-1) from
//! pid 1) and exits at the deadline, which kills the rest of the namespace.

use super::net;
use super::proto::{ExecRequest, Reply, Request, PROTOCOL_VERSION};
use crate::error::Code;
use crate::plan::{LiveEnd, Plan};
use crate::sys::{Errno, Exec, ExecFailure, ExitStatus, Fd, Sys, HANDLED_SIGNALS, POLLIN};
use std::os::fd::FromRawFd;

/// What pid 1 keeps from the start for the programs it forks.
pub struct Defaults {
    /// The program environment computed at start.
    pub env: Vec<String>,
    /// The sandbox's working directory.
    pub cwd: String,
    /// The caller's umask, as the program got it.
    pub umask: u32,
    /// The plan's ch-run environment steps (prepared by the launcher),
    /// applied to each `--join` peer's environment as to the program's.
    pub steps: Vec<crate::env::Ready>,
}

/// A `--join` peer group (`live.end` is `group`): how many peers may come,
/// which of their programs run, and until when the rest may still come.
struct Group {
    count: u32,
    started: u32,
    running: Vec<i32>,
    /// monotonic ms; none once every peer came.
    deadline: Option<u64>,
    timeout_ms: u32,
    /// The deadline passed with fewer peers: later ones are refused.
    closed: bool,
}

/// The working directory programs start in: the plan's, else the caller's
/// (when it exists inside), else `/`.
pub fn default_cwd(plan: &Plan, caller_cwd: Option<&str>) -> (String, bool) {
    match (&plan.cwd, caller_cwd) {
        (Some(c), _) => (c.clone(), true),
        (None, Some(c)) => (c.to_string(), false),
        (None, None) => ("/".to_string(), false),
    }
}

struct Conn {
    fd: Fd,
    /// The program this connection started.
    child: Option<i32>,
}

/// As init's: setup failures, and wait4 answering something unexpected.
const EXIT_SETUP: i32 = 125;
const EXIT_UNEXPECTED_WAIT: i32 = 2;

/// How long `stop` waits by default when the supervisor is signalled.
const STOP_MS: u64 = 10_000;

struct State<'a> {
    sys: &'a dyn Sys,
    plan: &'a Plan,
    defaults: Defaults,
    conns: Vec<Conn>,
    program: Option<i32>,
    /// The program's status once it ended (live.end == program).
    ended: Option<ExitStatus>,
    /// When pid 1 exits: the linger after the program, or a stop's deadline.
    deadline: Option<u64>,
    stopping: bool,
    group: Option<Group>,
    /// A zygote's sandbox ([`serve_one`]): one connection, no `stop` of its own.
    single: bool,
}

/// Serve until the sandbox ends. Never returns.
pub fn serve(sys: &dyn Sys, plan: &Plan, chan: Fd, program: Option<i32>, defaults: Defaults) -> ! {
    serve_with(sys, plan, Some(chan), None, program, defaults)
}

/// A zygote's sandbox (init/zygote.rs): serve the one connection it was
/// forked for, and end once that connection has gone (its program ended,
/// or its caller left): a sandbox is never used twice.
pub fn serve_one(sys: &dyn Sys, plan: &Plan, conn: Fd, defaults: Defaults) -> ! {
    serve_with(sys, plan, None, Some(conn), None, defaults)
}

fn serve_with(sys: &dyn Sys, plan: &Plan, chan: Option<Fd>, only: Option<Fd>, program: Option<i32>, defaults: Defaults) -> ! {
    let sfd = match sys.signal_fd(&HANDLED_SIGNALS) {
        Ok(fd) => fd,
        Err(e) => {
            sys.log(&format!("cannot wait for signals: {e}"));
            sys.exit(EXIT_UNEXPECTED_WAIT)
        }
    };
    // Ready: the supervisor registers the sandbox now.
    if let Some(chan) = chan {
        let _ = sys.write_fd(chan, b"R");
    }
    let group = match plan.live.as_ref().map(|l| l.end) {
        Some(LiveEnd::Group { count, timeout_ms }) => {
            Some(Group { count, started: 0, running: Vec::new(), deadline: Some(sys.monotonic_ms() + timeout_ms as u64), timeout_ms, closed: false })
        }
        _ => None,
    };
    let mut st = State { sys, plan, defaults, conns: Vec::new(), program, ended: None, deadline: None, stopping: false, group, single: only.is_some() };
    if let Some(conn) = only {
        st.accept(conn);
    }
    loop {
        if only.is_some() && st.conns.is_empty() {
            st.finish();
        }
        let mut fds = vec![(sfd, POLLIN)];
        fds.extend(chan.map(|c| (c, POLLIN)));
        let first_conn = fds.len();
        fds.extend(st.conns.iter().map(|c| (c.fd, POLLIN)));
        let group_deadline = st.group.as_ref().and_then(|g| g.deadline);
        let next = match (st.deadline, group_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = next.map_or(-1, |d| d.saturating_sub(sys.monotonic_ms()) as i32);
        let rev = match sys.poll(&fds, timeout) {
            Ok(r) => r,
            Err(e) => {
                sys.log(&format!("cannot poll: {e}"));
                st.finish()
            }
        };
        if st.deadline.is_some_and(|d| sys.monotonic_ms() >= d) {
            st.finish();
        }
        if group_deadline.is_some_and(|d| sys.monotonic_ms() >= d) {
            st.group_timeout();
        }
        if rev[0] != 0 {
            while let Ok(Some(sig)) = sys.read_signal(sfd) {
                st.signal(sig);
            }
        }
        if let (Some(chan), true) = (chan, first_conn > 1 && rev[1] != 0) {
            match sys.recv_fd(chan) {
                Ok(Some(conn)) => st.accept(conn),
                // The supervisor is gone: nobody can reach us any more.
                _ => st.finish(),
            }
        }
        // Connections, newest last; handling one may remove it.
        let ready: Vec<Fd> = fds[first_conn..].iter().zip(&rev[first_conn..]).filter(|(_, r)| **r != 0).map(|((fd, _), _)| *fd).collect();
        for fd in ready {
            st.request(fd);
        }
    }
}

impl State<'_> {
    fn exit_code(&self) -> i32 {
        self.ended.map_or(0, ExitStatus::code)
    }

    /// pid 1 exits: the kernel kills whatever is left in the namespace.
    fn finish(&self) -> ! {
        self.sys.exit(self.exit_code())
    }

    fn closed(&self) -> bool {
        self.stopping || self.ended.is_some()
    }

    /// The peer group's name as the user gave it (`join.TAG` → `TAG`).
    fn group_name(&self) -> &str {
        let name = self.plan.live.as_ref().map_or("", |l| l.name.as_str());
        name.strip_prefix("join.").unwrap_or(name)
    }

    /// The group's timeout passed before every peer came: it closes, the
    /// peers that run are told (a warning, their programs go on), and the
    /// sandbox ends once they have.
    fn group_timeout(&mut self) {
        let name = self.group_name().to_string();
        let Some(g) = self.group.as_mut() else { return };
        g.deadline = None;
        if g.started >= g.count {
            return;
        }
        g.closed = true;
        let msg = format!("peer group {name}: only {} of {} peers came within {} s", g.started, g.count, g.timeout_ms.div_ceil(1000));
        let running = g.running.clone();
        let done = running.is_empty();
        for c in self.conns.iter().filter(|c| c.child.is_some_and(|p| running.contains(&p))) {
            let _ = net::send(self.sys, c.fd, &Reply::error(Code::JoinTimeout, msg.clone()).to_bytes(), &[]);
        }
        if done {
            self.finish();
        }
    }

    /// Admit a peer's program into the group, or say why not.
    fn admit_peer(&self) -> Result<(), (Code, String, i32)> {
        let name = self.group_name();
        let Some(g) = &self.group else { return Err((Code::Join, format!("sandbox {name} is not a peer group"), EXIT_SETUP)) };
        if g.closed {
            return Err((
                Code::Join,
                format!("peer group {name} closed after {} s with {} of {} peers: this peer came too late", g.timeout_ms.div_ceil(1000), g.started, g.count),
                EXIT_SETUP,
            ));
        }
        if g.started >= g.count {
            return Err((Code::Join, format!("peer group {name} already has its {} peers", g.count), EXIT_SETUP));
        }
        Ok(())
    }

    fn stop(&mut self, timeout_ms: u64) {
        if !self.stopping {
            self.stopping = true;
            let _ = self.sys.kill(-1, libc::SIGTERM);
        }
        let d = self.sys.monotonic_ms() + timeout_ms;
        self.deadline = Some(self.deadline.map_or(d, |old| old.min(d)));
        self.reap();
    }

    fn signal(&mut self, sig: i32) {
        if sig == libc::SIGCHLD {
            return self.reap();
        }
        match (self.program, self.ended) {
            (Some(p), None) => {
                let _ = self.sys.kill(p, sig);
            }
            // No program to give it to: the supervisor asks the sandbox to end.
            _ => self.stop(STOP_MS),
        }
    }

    fn reap(&mut self) {
        loop {
            match self.sys.reap() {
                Ok(Some((pid, status))) => {
                    if Some(pid) == self.program && self.ended.is_none() {
                        self.ended = Some(status);
                        if self.plan.live.as_ref().is_some_and(|l| l.end == LiveEnd::Program) {
                            let d = self.sys.monotonic_ms() + self.plan.linger_ms as u64;
                            self.deadline = Some(self.deadline.map_or(d, |old| old.min(d)));
                        } else {
                            self.ended = None;
                            self.program = None;
                        }
                    }
                    if let Some(i) = self.conns.iter().position(|c| c.child == Some(pid)) {
                        let c = self.conns.remove(i);
                        let _ = net::send(self.sys, c.fd, &Reply::Exited { status: status.code() }.to_bytes(), &[]);
                        let _ = self.sys.close(c.fd);
                    }
                    // A peer group ends with the last of its peers' programs.
                    if let Some(g) = self.group.as_mut() {
                        if let Some(i) = g.running.iter().position(|p| *p == pid) {
                            g.running.remove(i);
                            if g.running.is_empty() && (g.closed || g.started >= g.count) {
                                self.finish();
                            }
                        }
                    }
                }
                Ok(None) => return,
                Err(Errno(libc::ECHILD)) => {
                    if self.closed() {
                        self.finish();
                    }
                    return;
                }
                Err(e) => {
                    self.sys.log(&format!("unexpected wait4 response: {e}"));
                    self.sys.exit(EXIT_UNEXPECTED_WAIT)
                }
            }
        }
    }

    fn accept(&mut self, conn: Fd) {
        if self.closed() {
            let _ = net::send(self.sys, conn, &Reply::error(Code::SandboxClosed, "the sandbox is ending").to_bytes(), &[]);
            let _ = self.sys.close(conn);
            return;
        }
        // The greeting: the client sends nothing (no fd above all) before it.
        if net::send(self.sys, conn, &Reply::Hello { version: PROTOCOL_VERSION }.to_bytes(), &[]).is_err() {
            let _ = self.sys.close(conn);
            return;
        }
        self.conns.push(Conn { fd: conn, child: None });
    }

    fn drop_conn(&mut self, fd: Fd) {
        if let Some(i) = self.conns.iter().position(|c| c.fd == fd) {
            let c = self.conns.remove(i);
            // Its caller is gone: so is what it started (its own session and group).
            if let Some(pid) = c.child {
                let _ = self.sys.kill(-pid, libc::SIGKILL);
                let _ = self.sys.kill(pid, libc::SIGKILL);
            }
            let _ = self.sys.close(c.fd);
        }
    }

    fn reply(&mut self, fd: Fd, r: Reply, close: bool) {
        if net::send(self.sys, fd, &r.to_bytes(), &[]).is_err() || close {
            self.drop_conn(fd);
        }
    }

    fn request(&mut self, fd: Fd) {
        let (bytes, fds) = match net::recv(self.sys, fd) {
            Ok(Some(m)) => m,
            // The peer left, or sent what does not fit (EMSGSIZE): the connection goes.
            _ => return self.drop_conn(fd),
        };
        self.handle(fd, &bytes, &fds);
        // The fds that came with it: the program or the worker holds its own copies now.
        for f in fds {
            let _ = self.sys.close(f);
        }
    }

    fn handle(&mut self, fd: Fd, bytes: &[u8], fds: &[Fd]) {
        let req: Request = match serde_json::from_slice(bytes) {
            Ok(r) => r,
            Err(e) => return self.reply(fd, Reply::error(Code::Usage, format!("bad request: {e}")), true),
        };
        match &req {
            Request::Hello { .. } => self.reply(fd, Reply::Hello { version: PROTOCOL_VERSION }, false),
            Request::Signal { signal } => {
                if let Some(pid) = self.conns.iter().find(|c| c.fd == fd).and_then(|c| c.child) {
                    let _ = self.sys.kill(pid, *signal);
                }
            }
            // Stopping the one sandbox forked for this connection would not stop
            // the pool: say so, rather than let `stop` wait for an entry that stays.
            Request::Stop { .. } if self.single => self.reply(
                fd,
                Reply::error(
                    Code::Usage,
                    "this is a warm pool's zygote: each connection gets a sandbox of its own; close the pool (or signal its supervisor) to stop it",
                ),
                true,
            ),
            Request::Stop { timeout_ms } => self.stop(*timeout_ms as u64),
            Request::Stat { path, follow } => {
                let p = self.in_cwd(path);
                let md = if *follow { std::fs::metadata(&p) } else { std::fs::symlink_metadata(&p) };
                self.reply(fd, Reply::Stat { kind: md.ok().map(|m| super::copy::kind_of(&m).to_string()) }, false)
            }
            Request::CopyIn { .. } | Request::CopyOut { .. } | Request::FsView => {
                if self.closed() {
                    return self.reply(fd, Reply::error(Code::SandboxClosed, "the sandbox is ending"), true);
                }
                let want = if matches!(req, Request::FsView) { 2 } else { 1 };
                if fds.len() != want || self.conns.iter().any(|c| c.fd == fd && c.child.is_some()) {
                    return self.reply(fd, Reply::error(Code::Usage, "a copy passes exactly one fd, a view two, one request per connection"), true);
                }
                let raw: Vec<Fd> = fds.to_vec();
                match self.worker(fd, &req, &raw) {
                    Ok(pid) => {
                        if let Some(c) = self.conns.iter_mut().find(|c| c.fd == fd) {
                            c.child = Some(pid);
                        }
                    }
                    Err(e) => self.reply(fd, Reply::error(Code::Setup, format!("cannot fork the copy worker: {e}")), true),
                }
            }
            Request::Exec(x) => {
                if self.closed() {
                    return self.reply(fd, Reply::error(Code::SandboxClosed, "the sandbox is ending"), true);
                }
                if self.conns.iter().any(|c| c.fd == fd && c.child.is_some()) {
                    return self.reply(fd, Reply::error(Code::Usage, "one exec per connection"), true);
                }
                if x.peer {
                    if let Err((code, msg, status)) = self.admit_peer() {
                        let _ = net::send(self.sys, fd, &Reply::error(code, msg).to_bytes(), &[]);
                        return self.reply(fd, Reply::Exited { status }, true);
                    }
                }
                let raw: Vec<Fd> = fds.to_vec();
                match self.exec(x, &raw) {
                    Ok((pid, master)) => {
                        if x.peer {
                            if let Some(g) = self.group.as_mut() {
                                g.started += 1;
                                g.running.push(pid);
                                if g.started >= g.count {
                                    g.deadline = None;
                                }
                            }
                        }
                        let sent = net::send(self.sys, fd, &Reply::Started { pid }.to_bytes(), master.as_slice());
                        if let Some(m) = master {
                            let _ = self.sys.close(m);
                        }
                        if let Some(c) = self.conns.iter_mut().find(|c| c.fd == fd) {
                            c.child = Some(pid);
                        }
                        if sent.is_err() {
                            self.drop_conn(fd);
                        }
                    }
                    Err((code, msg, status)) => {
                        let _ = net::send(self.sys, fd, &Reply::error(code, msg).to_bytes(), &[]);
                        self.reply(fd, Reply::Exited { status }, true);
                    }
                }
            }
        }
    }

    /// A path of a request: absolute, or relative to the sandbox's working directory.
    fn in_cwd(&self, path: &str) -> std::path::PathBuf {
        std::path::Path::new(&self.defaults.cwd).join(path)
    }

    /// Fork a copy worker: it holds the sandbox's restrictions (inherited
    /// from pid 1 after its drop), works in the sandbox's root and working
    /// directory, reports a failure on the connection and exits 1.
    fn worker(&self, conn: Fd, req: &Request, streams: &[Fd]) -> Result<i32, Errno> {
        // SAFETY: pid 1 is single-threaded; the child only runs Rust code of
        // this crate and leaves with _exit.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(Errno::last());
        }
        if pid > 0 {
            return Ok(pid);
        }
        let _ = crate::sys::LinuxSys.unblock_signals();
        // SAFETY: the fds came with the request; the worker owns its copies.
        let file = |fd: Fd| unsafe { std::fs::File::from_raw_fd(libc::dup(fd)) };
        if matches!(req, Request::FsView) {
            // Files it makes get the programs' umask, as `exec`'s would.
            let _ = self.sys.umask(self.defaults.umask);
            // It lives as long as its view: it keeps nothing of pid 1's (the
            // channel, other clients' connections), only its two streams as 0 and 1.
            // SAFETY: fd juggling in the forked child; F_DUPFD keeps the two
            // clear of 0 and 1 before dup2 puts them there.
            unsafe {
                let (a, b) = (libc::fcntl(streams[0], libc::F_DUPFD, 10), libc::fcntl(streams[1], libc::F_DUPFD, 10));
                if a < 0 || b < 0 || libc::dup2(a, 0) < 0 || libc::dup2(b, 1) < 0 {
                    libc::_exit(1)
                }
                libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            }
            let status = super::view::run_worker(file(0), file(1));
            // SAFETY: leave the forked worker without running pid 1's exit paths.
            unsafe { libc::_exit(status) }
        }
        let result = (|| -> Result<(), crate::error::SetupError> {
            let stream = file(streams[0]);
            match req {
                Request::CopyIn { dir, rename } => {
                    let p = self.in_cwd(dir);
                    let root = nix::fcntl::open(&p, nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
                        .map_err(|e| super::copy::errno_error(e, &p.display().to_string()))?;
                    super::copy::extract(
                        std::io::BufReader::with_capacity(super::copy::STREAM_BUF, stream),
                        &root,
                        rename.as_deref(),
                        super::copy::Resolve::Walk,
                    )
                    .map(drop)
                }
                Request::CopyOut { path, name, contents } => {
                    super::copy::tar_path(&self.in_cwd(path), name, *contents, std::io::BufWriter::with_capacity(super::copy::STREAM_BUF, stream))
                }
                _ => Ok(()),
            }
        })();
        let status = match result {
            Ok(()) => 0,
            Err(e) => {
                let _ = net::send(self.sys, conn, &Reply::Error { code: e.code, message: e.to_string() }.to_bytes(), &[]);
                1
            }
        };
        // SAFETY: leave the forked worker without running pid 1's exit paths.
        unsafe { libc::_exit(status) }
    }

    /// Fork the program of an `exec`: the sandbox's environment with the
    /// request's changes, its working directory unless one is asked, a new
    /// session, stdio from the client (or a pty of the sandbox's devpts).
    fn exec(&self, x: &ExecRequest, fds: &[Fd]) -> Result<(i32, Option<Fd>), (Code, String, i32)> {
        let usage = |m: &str| (Code::Usage, m.to_string(), EXIT_SETUP);
        if x.argv.is_empty() || x.argv[0].is_empty() {
            return Err(usage("exec needs a program"));
        }
        if x.argv.iter().chain(&x.env).any(|a| a.contains('\0')) || x.env.iter().any(|e| !e.contains('=')) {
            return Err(usage("bad argv or environment (NUL byte, or an entry without '=')"));
        }
        let mut env: Vec<String> = if x.clear_env { Vec::new() } else { self.defaults.env.clone() };
        for kv in &x.env {
            let k = kv.split('=').next().unwrap_or("");
            env.retain(|e| e.split('=').next() != Some(k));
            env.push(kv.clone());
        }
        if x.peer && !self.defaults.steps.is_empty() {
            // A peer's own environment, through the same ch-run steps as the program's.
            env = crate::env::finish(self.sys, &self.defaults.steps, env).map_err(|e| (e.code, e.to_string(), EXIT_SETUP))?;
        }
        // Passed fds land on numbers above stdio, each once, below the usual
        // soft limit; the message carries exactly as many after stdio.
        let stdio = if x.tty { 0 } else { 3 };
        let mut seen = std::collections::BTreeSet::new();
        if x.pass_fds.iter().any(|&n| !(3..1024).contains(&n) || !seen.insert(n)) {
            return Err(usage("passed fds must be distinct numbers from 3 to 1023"));
        }
        if fds.len() < stdio || fds.len() - stdio != x.pass_fds.len() {
            return Err(usage(if x.tty {
                "exec with a tty passes only the fds it names (passFds)"
            } else {
                "exec without a tty passes stdin, stdout, stderr and the fds it names (passFds)"
            }));
        }
        let passed = fds[stdio..].iter().copied().zip(x.pass_fds.iter().copied());
        let (tty, master) = if x.tty {
            let (m, s) = self
                .sys
                .open_pty("/dev/ptmx")
                .map_err(|e| (Code::Setup, format!("cannot open a pseudo-terminal on the sandbox's /dev/ptmx: {e}"), EXIT_SETUP))?;
            if let Some(size) = x.winsize {
                let _ = self.sys.set_winsize(m, size);
            }
            (Some(s), Some(m))
        } else {
            (None, None)
        };
        let exec = Exec {
            argv: x.argv.clone(),
            env,
            cwd: x.cwd.clone().unwrap_or_else(|| self.defaults.cwd.clone()),
            cwd_required: x.cwd.is_some(),
            new_session: true,
            umask: self.defaults.umask,
            argv0: None,
            fds: if tty.is_some() { Vec::new() } else { vec![(fds[0], 0), (fds[1], 1), (fds[2], 2)] }.into_iter().chain(passed).collect(),
            tty,
            cpus: x.cpus.clone(),
            in_place: false,
            filters: Vec::new(),
        };
        let spawned = self.sys.spawn(&exec);
        if let Some(s) = tty {
            let _ = self.sys.close(s);
        }
        match spawned {
            Ok(pid) => Ok((pid, master)),
            Err((_, failure)) => {
                if let Some(m) = master {
                    let _ = self.sys.close(m);
                }
                Err(match failure {
                    ExecFailure::Exec(e) => (Code::Exec, format!("cannot execute {}: {e}", x.argv[0]), if e.0 == libc::ENOENT { 127 } else { 126 }),
                    ExecFailure::Chdir(e) => (Code::Exec, format!("cannot enter working directory {}: {e}", exec.cwd), 127),
                    ExecFailure::Setup(e) => (Code::Setup, format!("cannot prepare the program: {e}"), EXIT_SETUP),
                    ExecFailure::Fork(e) => (Code::Setup, format!("cannot fork the program: {e}"), EXIT_SETUP),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! pid 1's loop through the call script: its fatal branches and its
    //! end rules (no client connection is made here: those run for real in
    //! test/sandbox/live).
    use super::*;
    use crate::plan::LiveSpec;
    use crate::sys::script::{expect_exit, Ret, Script};

    const SFD: Fd = 30;
    const CHAN: Fd = 31;

    fn plan(end: LiveEnd) -> Plan {
        let mut p = Plan::new(vec!["/bin/true".into()]);
        p.linger_ms = 500;
        p.live = Some(LiveSpec { name: "t".into(), detach: false, end, labels: Default::default() });
        p
    }

    fn defaults() -> Defaults {
        Defaults { env: vec!["A=1".into()], cwd: "/".into(), umask: 0o22, steps: Vec::new() }
    }

    fn c(s: &str, r: Ret) -> (String, Ret) {
        (s.to_string(), r)
    }

    /// The calls up to the first poll: the signalfd, then `R` to the supervisor.
    fn start() -> Vec<(String, Ret)> {
        vec![c("signal_fd([17, 15, 2, 1, 3])", Ret::Fd(SFD)), c("write_fd(31, \"R\")", Ret::Ok)]
    }

    fn poll(timeout: i32, rev: [i16; 2]) -> (String, Ret) {
        (format!("poll([{SFD}:IN {CHAN}:IN], {timeout})"), Ret::Events(rev.to_vec()))
    }

    fn run(p: &Plan, program: Option<i32>, calls: Vec<(String, Ret)>) -> (i32, Vec<String>) {
        let s = Script::new(calls);
        let code = expect_exit(|| serve(&s, p, CHAN, program, defaults()));
        s.done();
        (code, s.logs())
    }

    fn state<'a>(s: &'a Script, p: &'a Plan) -> State<'a> {
        State {
            sys: s,
            plan: p,
            defaults: defaults(),
            conns: Vec::new(),
            program: None,
            ended: None,
            deadline: None,
            stopping: false,
            group: None,
            single: false,
        }
    }

    #[test]
    fn a_zygotes_sandbox_serves_its_one_connection_and_ends_when_it_goes() {
        let hello = String::from_utf8(Reply::Hello { version: PROTOCOL_VERSION }.to_bytes()).unwrap();
        let exited = String::from_utf8(Reply::Exited { status: 3 }.to_bytes()).unwrap();
        // Its caller leaves before any request: the sandbox ends at once.
        let s = Script::new(vec![
            c("signal_fd([17, 15, 2, 1, 3])", Ret::Fd(SFD)),
            (format!("send_msg(50, {hello}, [])"), Ret::Ok),
            c("poll([30:IN 50:IN], -1)", Ret::Events(vec![0, libc::POLLHUP])),
            c("recv_msg(50, 65536, 16)", Ret::NoneYet),
            c("close(50)", Ret::Ok),
        ]);
        assert_eq!(expect_exit(|| serve_one(&s, &plan(LiveEnd::Zygote), 50, defaults())), 0);
        s.done();
        // `stop` is refused (it would stop this sandbox, not the pool), and the sandbox ends.
        let refused = String::from_utf8(
            Reply::error(
                Code::Usage,
                "this is a warm pool's zygote: each connection gets a sandbox of its own; close the pool (or signal its supervisor) to stop it",
            )
            .to_bytes(),
        )
        .unwrap();
        let s = Script::new(vec![
            c("signal_fd([17, 15, 2, 1, 3])", Ret::Fd(SFD)),
            (format!("send_msg(50, {hello}, [])"), Ret::Ok),
            c("poll([30:IN 50:IN], -1)", Ret::Events(vec![0, libc::POLLIN])),
            c("recv_msg(50, 65536, 16)", Ret::Msg(br#"{"op":"stop","timeoutMs":5}"#.to_vec(), vec![])),
            (format!("send_msg(50, {refused}, [])"), Ret::Ok),
            c("close(50)", Ret::Ok),
        ]);
        assert_eq!(expect_exit(|| serve_one(&s, &plan(LiveEnd::Zygote), 50, defaults())), 0);
        s.done();
        // Its program ends: `exited` goes to the caller and the sandbox ends
        // (no channel is polled: nothing else ever reaches it).
        let exec = r#"{"op":"exec","argv":["true"]}"#;
        let s = Script::new(vec![
            c("signal_fd([17, 15, 2, 1, 3])", Ret::Fd(SFD)),
            (format!("send_msg(50, {hello}, [])"), Ret::Ok),
            c("poll([30:IN 50:IN], -1)", Ret::Events(vec![0, libc::POLLIN])),
            c("recv_msg(50, 65536, 16)", Ret::Msg(exec.as_bytes().to_vec(), vec![20, 21, 22])),
            c(r#"spawn(["true"], cwd="/", session=true)"#, Ret::Int(2)),
            c("send_msg(50, {\"event\":\"started\",\"pid\":2}, [])", Ret::Ok),
            c("close(20)", Ret::Ok),
            c("close(21)", Ret::Ok),
            c("close(22)", Ret::Ok),
            c("poll([30:IN 50:IN], -1)", Ret::Events(vec![libc::POLLIN, 0])),
            c("read_signal(30)", Ret::Signal(Some(libc::SIGCHLD))),
            c("reap()", Ret::Reaped(2, ExitStatus::Exited(3))),
            (format!("send_msg(50, {exited}, [])"), Ret::Ok),
            c("close(50)", Ret::Ok),
            c("reap()", Ret::NoneYet),
            c("read_signal(30)", Ret::Signal(None)),
        ]);
        assert_eq!(expect_exit(|| serve_one(&s, &plan(LiveEnd::Zygote), 50, defaults())), 0);
        s.done();
    }

    #[test]
    fn an_exec_passes_its_named_fds_and_cpus_to_the_program_and_refuses_bad_counts() {
        let p = plan(LiveEnd::Stop);
        let x = ExecRequest { argv: vec!["rank".into()], cpus: vec![1], pass_fds: vec![13], ..Default::default() };
        // stdio, then fd 40 as the program's 13, bound to CPU 1.
        let s = Script::new(vec![c(r#"spawn(["rank"], cwd="/", session=true, cpus=[1], fds=[(40, 13)])"#, Ret::Int(7))]);
        assert_eq!(state(&s, &p).exec(&x, &[20, 21, 22, 40]).unwrap(), (7, None));
        s.done();
        // Refused before anything is spawned: a missing or extra fd, a number
        // on stdio or beyond 1023, one number twice.
        let s = Script::new(Vec::<(String, Ret)>::new());
        for (fds, pass) in [
            (&[20, 21, 22][..], vec![13]),
            (&[20, 21, 22, 40, 41][..], vec![13]),
            (&[20, 21, 22, 40], vec![2]),
            (&[20, 21, 22, 40], vec![1024]),
            (&[20, 21, 22, 40, 41], vec![9, 9]),
        ] {
            let x = ExecRequest { argv: vec!["rank".into()], pass_fds: pass.clone(), ..Default::default() };
            let (code, msg, status) = state(&s, &p).exec(&x, fds).unwrap_err();
            assert_eq!((code, status), (Code::Usage, EXIT_SETUP), "{fds:?} {pass:?}: {msg}");
        }
        s.done();
    }

    #[test]
    fn no_signalfd_is_fatal_before_anything_is_served() {
        let (code, logs) = run(&plan(LiveEnd::Stop), None, vec![c("signal_fd([17, 15, 2, 1, 3])", Ret::Err(libc::EMFILE))]);
        assert_eq!(code, EXIT_UNEXPECTED_WAIT);
        assert!(logs[0].starts_with("cannot wait for signals"), "{logs:?}");
    }

    #[test]
    fn a_failed_poll_ends_the_sandbox_with_the_programs_status_so_far() {
        let mut calls = start();
        calls.extend([poll(-1, [0, 0]).0.as_str()].map(|s| c(s, Ret::Err(libc::EINVAL))));
        let (code, logs) = run(&plan(LiveEnd::Stop), None, calls);
        assert_eq!(code, 0);
        assert!(logs[0].starts_with("cannot poll"), "{logs:?}");
    }

    #[test]
    fn the_supervisor_gone_ends_the_sandbox() {
        let mut calls = start();
        calls.extend([poll(-1, [0, libc::POLLHUP]), c("recv_fd(31)", Ret::NoneYet)]);
        assert_eq!(run(&plan(LiveEnd::Stop), None, calls).0, 0);
        // an error on the channel is the same: nobody can reach the sandbox any more
        let mut calls = start();
        calls.extend([poll(-1, [0, libc::POLLIN]), c("recv_fd(31)", Ret::Err(libc::ECONNRESET))]);
        assert_eq!(run(&plan(LiveEnd::Stop), None, calls).0, 0);
    }

    #[test]
    fn an_unexpected_wait4_error_is_fatal() {
        let mut calls = start();
        calls.extend([poll(-1, [libc::POLLIN, 0]), c("read_signal(30)", Ret::Signal(Some(libc::SIGCHLD))), c("reap()", Ret::Err(libc::EINVAL))]);
        let (code, logs) = run(&plan(LiveEnd::Stop), Some(2), calls);
        assert_eq!(code, EXIT_UNEXPECTED_WAIT);
        assert!(logs[0].starts_with("unexpected wait4 response"), "{logs:?}");
    }

    #[test]
    fn the_program_ending_under_end_program_lingers_then_exits_with_its_status() {
        let mut calls = start();
        calls.extend([
            poll(-1, [libc::POLLIN, 0]),
            c("read_signal(30)", Ret::Signal(Some(libc::SIGCHLD))),
            c("reap()", Ret::Reaped(2, ExitStatus::Exited(7))),
            c("monotonic_ms()", Ret::Int(1000)),
            c("reap()", Ret::NoneYet),
            c("read_signal(30)", Ret::Signal(None)),
            // the linger: 500 ms
            c("monotonic_ms()", Ret::Int(1000)),
            poll(500, [0, 0]),
            c("monotonic_ms()", Ret::Int(1500)),
        ]);
        assert_eq!(run(&plan(LiveEnd::Program), Some(2), calls).0, 7);
    }

    #[test]
    fn under_end_stop_the_program_ending_keeps_the_sandbox_serving() {
        let mut calls = start();
        calls.extend([
            poll(-1, [libc::POLLIN, 0]),
            c("read_signal(30)", Ret::Signal(Some(libc::SIGCHLD))),
            c("reap()", Ret::Reaped(2, ExitStatus::Exited(7))),
            c("reap()", Ret::Err(libc::ECHILD)),
            c("read_signal(30)", Ret::Signal(None)),
            // still serving: no deadline; then the supervisor asks it to end (SIGTERM)
            poll(-1, [libc::POLLIN, 0]),
            c("read_signal(30)", Ret::Signal(Some(libc::SIGTERM))),
            c("kill(-1, 15)", Ret::Ok),
            c("monotonic_ms()", Ret::Int(0)),
            c("reap()", Ret::Err(libc::ECHILD)),
        ]);
        assert_eq!(run(&plan(LiveEnd::Stop), Some(2), calls).0, 0);
    }

    #[test]
    fn a_signal_goes_to_the_running_program_and_wake_ups_without_news_change_nothing() {
        let mut calls = start();
        calls.extend([
            poll(-1, [libc::POLLIN, 0]),
            c("read_signal(30)", Ret::Signal(Some(libc::SIGHUP))),
            c("kill(2, 1)", Ret::Ok),
            c("read_signal(30)", Ret::Signal(None)),
            poll(-1, [0, 0]),
        ]);
        // a SIGCHLD of no child of ours, then the supervisor gone
        calls.extend([
            poll(-1, [libc::POLLIN, 0]),
            c("read_signal(30)", Ret::Signal(Some(libc::SIGCHLD))),
            c("reap()", Ret::NoneYet),
            c("read_signal(30)", Ret::Err(libc::EAGAIN)),
            poll(-1, [0, libc::POLLIN]),
            c("recv_fd(31)", Ret::NoneYet),
        ]);
        assert_eq!(run(&plan(LiveEnd::Program), Some(2), calls).0, 0);
    }

    fn msg(r: Reply) -> String {
        String::from_utf8(r.to_bytes()).unwrap()
    }

    /// A connection handed over by the supervisor and greeted.
    fn connected() -> Vec<(String, Ret)> {
        let mut calls = start();
        calls.extend([
            poll(-1, [0, libc::POLLIN]),
            c("recv_fd(31)", Ret::Fd(50)),
            (format!("send_msg(50, {}, [])", msg(Reply::Hello { version: PROTOCOL_VERSION })), Ret::Ok),
        ]);
        calls
    }

    fn poll3(rev: [i16; 3]) -> (String, Ret) {
        (format!("poll([{SFD}:IN {CHAN}:IN 50:IN], -1)"), Ret::Events(rev.to_vec()))
    }

    /// Then the supervisor goes: the sandbox ends.
    fn supervisor_gone(calls: &mut Vec<(String, Ret)>) {
        calls.extend([poll(-1, [0, libc::POLLHUP]), c("recv_fd(31)", Ret::NoneYet)]);
    }

    #[test]
    fn a_client_that_cannot_be_greeted_is_closed_and_not_served() {
        let mut calls = start();
        calls.extend([
            poll(-1, [0, libc::POLLIN]),
            c("recv_fd(31)", Ret::Fd(50)),
            (format!("send_msg(50, {}, [])", msg(Reply::Hello { version: PROTOCOL_VERSION })), Ret::Err(libc::EPIPE)),
            c("close(50)", Ret::Ok),
        ]);
        // not polled any more: the next poll has only the signalfd and the channel
        supervisor_gone(&mut calls);
        assert_eq!(run(&plan(LiveEnd::Stop), None, calls).0, 0);
    }

    #[test]
    fn a_truncated_request_drops_the_connection() {
        let mut calls = connected();
        calls.extend([poll3([0, 0, libc::POLLIN]), c("recv_msg(50, 65536, 16)", Ret::Err(libc::EMSGSIZE)), c("close(50)", Ret::Ok)]);
        supervisor_gone(&mut calls);
        assert_eq!(run(&plan(LiveEnd::Stop), None, calls).0, 0);
    }

    #[test]
    fn a_client_gone_mid_request_drops_the_connection() {
        let mut calls = connected();
        calls.extend([poll3([0, 0, libc::POLLHUP]), c("recv_msg(50, 65536, 16)", Ret::NoneYet), c("close(50)", Ret::Ok)]);
        supervisor_gone(&mut calls);
        assert_eq!(run(&plan(LiveEnd::Stop), None, calls).0, 0);
    }

    #[test]
    fn an_unparsable_request_is_a_usage_error_and_its_fds_are_closed() {
        let mut calls = connected();
        let bad = serde_json::from_slice::<Request>(b"{nope").unwrap_err();
        calls.extend([
            poll3([0, 0, libc::POLLIN]),
            c("recv_msg(50, 65536, 16)", Ret::Msg(b"{nope".to_vec(), vec![60])),
            (format!("send_msg(50, {}, [])", msg(Reply::error(Code::Usage, format!("bad request: {bad}")))), Ret::Ok),
            c("close(50)", Ret::Ok),
            c("close(60)", Ret::Ok),
        ]);
        supervisor_gone(&mut calls);
        assert_eq!(run(&plan(LiveEnd::Stop), None, calls).0, 0);
    }

    #[test]
    fn an_exec_with_the_wrong_fds_starts_nothing_and_closes_what_came() {
        let mut calls = connected();
        calls.extend([
            poll3([0, 0, libc::POLLIN]),
            c("recv_msg(50, 65536, 16)", Ret::Msg(br#"{"op":"exec","argv":["true"]}"#.to_vec(), vec![60, 61])),
            (
                format!(
                    "send_msg(50, {}, [])",
                    msg(Reply::error(Code::Usage, "exec without a tty passes stdin, stdout, stderr and the fds it names (passFds)"))
                ),
                Ret::Ok,
            ),
            (format!("send_msg(50, {}, [])", msg(Reply::Exited { status: EXIT_SETUP })), Ret::Ok),
            c("close(50)", Ret::Ok),
            c("close(60)", Ret::Ok),
            c("close(61)", Ret::Ok),
        ]);
        supervisor_gone(&mut calls);
        assert_eq!(run(&plan(LiveEnd::Stop), None, calls).0, 0);
    }

    #[test]
    fn a_started_reply_that_cannot_be_sent_kills_what_was_started() {
        let mut calls = connected();
        calls.extend([
            poll3([0, 0, libc::POLLIN]),
            c("recv_msg(50, 65536, 16)", Ret::Msg(br#"{"op":"exec","argv":["true"]}"#.to_vec(), vec![60, 61, 62])),
            c(r#"spawn(["true"], cwd="/", session=true)"#, Ret::Int(9)),
            (format!("send_msg(50, {}, [])", msg(Reply::Started { pid: 9 })), Ret::Err(libc::EPIPE)),
            c("kill(-9, 9)", Ret::Ok),
            c("kill(9, 9)", Ret::Ok),
            c("close(50)", Ret::Ok),
            c("close(60)", Ret::Ok),
            c("close(61)", Ret::Ok),
            c("close(62)", Ret::Ok),
        ]);
        supervisor_gone(&mut calls);
        assert_eq!(run(&plan(LiveEnd::Stop), None, calls).0, 0);
    }
}
