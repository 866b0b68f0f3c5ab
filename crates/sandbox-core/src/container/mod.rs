//! The OCI runtime (issue 12) over what `crate::oci` decodes: `cli` is
//! runc's command line and lifecycle, `exec` joins a running container,
//! `cgroups` places it; this file is its pid 1.
//!
//! Stage: an OCI container's pid 1, from clone to `execve` (runc's model:
//! the program replaces pid 1 once `start` opens the gate). Named stages
//! joined with `?`: ids, the rootfs and the spec's mounts (`mounts`),
//! devices, the pivot, masked and read-only paths, sysctls, the console,
//! the privilege drop, then the gate and the exec.
//!
//! Inputs: the checked spec, the bundle, the gate fifo and the sync socket
//! to the `create` process. Invariant: until `ready` is sent every failure
//! goes back over the sync socket (the `create` process reports it and
//! exits 1, leaving nothing); after it, a failure can only be the exec's.

pub mod cgroups;
pub mod cli;
pub mod exec;
pub mod mounts;
pub mod relay;

use crate::error::{Code, Ctx, SetupError};
use crate::oci::spec::{self, Spec};
use crate::sys::{Errno, Fd, Prctl, Sys};
use serde::{Deserialize, Serialize};
use std::ffi::CString;

/// What pid 1 is given.
pub struct Container<'a> {
    pub spec: &'a Spec,
    /// Absolute host path of the rootfs.
    pub rootfs: String,
    pub bundle: String,
    /// `exec.fifo`, opened O_RDONLY|O_NONBLOCK by `create` before clone
    /// (a user namespace's root may not reach ROOT/ID).
    pub gate: Fd,
    /// `linux.namespaces` mount `path`: joined first (opened before clone).
    pub mount_ns: Option<Fd>,
    pub console_socket: Option<String>,
    /// Our end of the sync socket to `create`.
    pub sync: Fd,
    /// A new user namespace: wait for `create` to write the maps.
    pub userns: bool,
    /// The filters to load, in order (`oci::seccomp::filters`: our
    /// defaults, and the spec's `linux.seccomp` when it has one).
    pub seccomp: Vec<Vec<libc::sock_filter>>,
    /// The caller is root in the initial user namespace (mknod works).
    pub privileged: bool,
    /// `--preserve-fds N`: fds 3..3+N reach the program.
    pub preserve_fds: u32,
    /// The session keyring to join (`_ses.ID`, as runc); None with
    /// `--no-new-keyring`.
    pub keyring: Option<String>,
}

/// Messages pid 1 sends `create`, one JSON line each.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "msg", rename_all = "camelCase")]
pub enum Sync {
    /// createRuntime (and prestart) hooks are due: `create` runs them and
    /// answers one byte.
    Hooks,
    /// Setup is done; pid 1 waits at the gate.
    Ready,
    Error {
        code: Code,
        message: String,
    },
}

impl Sync {
    pub fn send(&self, sys: &dyn Sys, fd: Fd) -> Result<(), Errno> {
        let mut b = serde_json::to_vec(self).expect("sync serializes");
        b.push(b'\n');
        sys.write_fd(fd, &b)
    }
}

/// pid 1's whole life. Never returns.
pub fn run(sys: &dyn Sys, c: &Container) -> ! {
    match setup(sys, c) {
        Ok((program, gate, pid)) => {
            let _ = Sync::Ready.send(sys, c.sync);
            let _ = sys.close(c.sync);
            let err = start(sys, c, program, gate, pid);
            sys.log(&format!("sandboxctl-oci: {err}"));
            sys.exit(if err.code == Code::Exec { 127 } else { 1 })
        }
        Err(e) => {
            let _ = Sync::Error { code: e.code, message: e.message.clone() }.send(sys, c.sync);
            sys.exit(1)
        }
    }
}

/// Everything up to the gate; the program's resolved path, the gate and
/// our host pid.
fn setup(sys: &dyn Sys, c: &Container) -> Result<(CString, Fd, i32), SetupError> {
    let spec = c.spec;
    let process = spec.process.as_ref().expect("validated");
    ids(sys, c)?;
    let pid = host_pid(sys);
    // Nothing in the container may ptrace or read pid 1 before its exec
    // (which resets this, as for runc); after the maps, which `create` writes
    // through /proc/PID while we are still dumpable.
    sys.prctl(Prctl::SetDumpable(false)).ctx(Code::Setup, "clear dumpable")?;
    if let Some(name) = &c.keyring {
        join_keyring(sys, name)?;
    }
    if let Some(fd) = c.mount_ns {
        sys.setns(fd, libc::CLONE_NEWNS).ctx(Code::Setup, "join the mount namespace")?;
        let _ = sys.close(fd);
    }
    if spec.linux.namespaces.iter().any(|n| n.kind == "uts") {
        if let Some(h) = &spec.hostname {
            sys.sethostname(h).ctx(Code::Setup, "set the hostname")?;
        }
        if let Some(d) = &spec.domainname {
            sys.setdomainname(d).ctx(Code::Setup, "set the domain name")?;
        }
    }
    if spec.linux.namespaces.iter().any(|n| n.kind == "network" && n.path.is_none()) {
        sys.loopback_up().ctx(Code::Setup, "bring up the loopback interface")?;
    }
    mounts::prepare_root(sys, c)?;
    if !spec.hooks.prestart.is_empty() || !spec.hooks.create_runtime.is_empty() {
        Sync::Hooks.send(sys, c.sync).ctx(Code::Setup, "ask for the createRuntime hooks")?;
        match sys.read(c.sync, 1).as_deref() {
            Ok([0]) => {}
            _ => return Err(SetupError::new(Code::Hook, "a createRuntime hook failed")),
        }
    }
    crate::oci::hooks::run_all(&spec.hooks.create_container, "createContainer", &hook_state(c, "created", pid))?;
    mounts::mount_all(sys, c)?;
    mounts::devices(sys, c)?;
    let gate = c.gate;
    // Host paths are reachable only until the pivot: the console socket.
    let console = match &c.console_socket {
        Some(path) => Some(sys.connect_unix(path).ctx(Code::Setup, format_args!("connect to the console socket {path}"))?),
        None => None,
    };
    mounts::pivot(sys, &c.rootfs)?;
    mounts::root_propagation(sys, spec)?;
    // Sysctls before readonlyPaths (which usually hold /proc/sys), as runc.
    for (k, v) in &spec.linux.sysctl {
        sys.write_file(&format!("/proc/sys/{}", k.replace('.', "/")), v.as_bytes()).ctx(Code::Setup, format_args!("set sysctl {k}"))?;
    }
    mounts::masked_and_readonly(sys, spec)?;
    if spec.root.as_ref().is_some_and(|r| r.readonly) {
        mounts::remount_ro(sys, "/")?;
    }
    if let Some(sock) = console {
        console_pty(sys, sock, true)?;
    } else if process.terminal {
        return Err(SetupError::new(Code::Setup, "process.terminal needs --console-socket"));
    }
    let process = c.spec.process.as_ref().expect("validated");
    // Before any seccomp filter is loaded: a spec's filter may not allow
    // close_range (runc's finalizeNamespace marks them before its filter too).
    close_stray_fds(sys, c.preserve_fds, &process.env).ctx(Code::Setup, "mark stray fds close-on-exec")?;
    let program = privileges_and_cwd(sys, process, &c.seccomp, c.userns)?;
    landlock_scopes(sys, spec);
    Ok((program, gate, pid))
}

/// A session keyring of the container's own: keys are not namespaced, and
/// without this the program would share the caller's session keyring.
/// A kernel without keys (ENOSYS) has nothing to share, as runc says.
pub fn join_keyring(sys: &dyn Sys, name: &str) -> Result<(), SetupError> {
    match sys.join_session_keyring(name) {
        Err(Errno(libc::ENOSYS)) => Ok(()),
        r => r.ctx(Code::Setup, format_args!("join a new session keyring {name}")),
    }
}

/// Our pid as the host sees it (hooks get it in the state). Read from the
/// host's /proc before the pivot (where /proc/self names us by our pid in
/// the host's namespace), kept for startContainer, which runs after.
fn host_pid(sys: &dyn Sys) -> i32 {
    sys.readlink("/proc/self").ok().and_then(|p| p.parse().ok()).unwrap_or(0)
}

fn hook_state(c: &Container, status: &str, pid: i32) -> String {
    serde_json::json!({
        "ociVersion": crate::oci::state::OCI_VERSION,
        "id": std::env::var("SANDBOXCTL_OCI_ID").unwrap_or_default(),
        "status": status,
        "pid": pid,
        "bundle": c.bundle,
        "annotations": c.spec.annotations,
    })
    .to_string()
}

/// Wait for `create` to place us in our cgroup and, with a new user
/// namespace, to write the maps; then become that namespace's root.
fn ids(sys: &dyn Sys, c: &Container) -> Result<(), SetupError> {
    match sys.read(c.sync, 1).as_deref() {
        Ok([0]) => {}
        _ => return Err(SetupError::new(Code::Setup, "create did not release the container's process (cgroup or id maps)")),
    }
    if !c.userns {
        return Ok(());
    }
    sys.setresgid(0).ctx(Code::Setup, "become gid 0 in the user namespace")?;
    sys.setresuid(0).ctx(Code::Setup, "become uid 0 in the user namespace")
}

/// process.terminal: a pty from the container's own /dev/ptmx; the master
/// goes to the console socket (SCM_RIGHTS), the slave becomes our
/// controlling terminal and /dev/console.
pub fn console_pty(sys: &dyn Sys, sock: Fd, mount_console: bool) -> Result<(), SetupError> {
    let (master, slave) = sys.open_pty("/dev/ptmx").ctx(Code::Setup, "open a pseudo-terminal on the container's /dev/ptmx")?;
    sys.send_fd(sock, master).ctx(Code::Setup, "send the pseudo-terminal to the console socket")?;
    let _ = sys.close(master);
    let _ = sys.close(sock);
    if mount_console {
        dev_console(sys, slave)?;
    }
    sys.setsid().ctx(Code::Setup, "start a session")?;
    sys.take_terminal(slave).ctx(Code::Setup, "take the terminal")?;
    let _ = sys.close(slave);
    Ok(())
}

/// /dev/console is the slave, as runc's mountConsole.
fn dev_console(sys: &dyn Sys, slave: Fd) -> Result<(), SetupError> {
    let root = sys.open("/", libc::O_PATH | libc::O_DIRECTORY).ctx(Code::Setup, "open /")?;
    match sys.open_in_root(root, "/dev/console", 0) {
        Ok(fd) => {
            let _ = sys.close(fd);
        }
        Err(_) => {
            let dev = sys.open_in_root(root, "/dev", libc::O_DIRECTORY).ctx(Code::Setup, "open /dev")?;
            let _ = sys.mkfileat(dev, "console", 0o600);
            let _ = sys.close(dev);
        }
    }
    let _ = sys.close(root);
    sys.mount(Some(&format!("/proc/self/fd/{slave}")), "/dev/console", None, libc::MS_BIND, None).ctx(Code::Mount, "bind the terminal on /dev/console")
}

fn cap_mask(names: &[String]) -> u64 {
    names.iter().filter_map(|n| spec::cap_number(n)).fold(0, |m, c| m | (1 << c))
}

/// The process's working directory, limits, user and capabilities, in
/// runc's order: bounding set, keep-caps across the id change, the three
/// sets, ambient. seccomp without no_new_privs must be loaded while
/// CAP_SYS_ADMIN is still ours: before the drop.
pub fn privileges_and_cwd(sys: &dyn Sys, p: &spec::Process, seccomp: &[Vec<libc::sock_filter>], userns: bool) -> Result<CString, SetupError> {
    if let Some(adj) = p.oom_score_adj {
        sys.write_file("/proc/self/oom_score_adj", adj.to_string().as_bytes()).ctx(Code::Setup, "set oom_score_adj")?;
    }
    for r in &p.rlimits {
        let res = spec::rlimit_resource(&r.kind).expect("validated");
        sys.setrlimit(res, r.soft, r.hard).ctx(Code::Setup, format_args!("set {}", r.kind))?;
    }
    if sys.chdir(&p.cwd).is_err() {
        mkdir_all(sys, &p.cwd).map_err(|e| SetupError::sys(Code::Setup, format_args!("create the working directory {}", p.cwd), e))?;
        sys.chdir(&p.cwd).ctx(Code::Setup, format_args!("enter {}", p.cwd))?;
    }
    let program =
        lookup(sys, &p.args[0], &p.env).ok_or_else(|| SetupError::new(Code::Exec, format!("cannot execute {}: no such file or directory", p.args[0])))?;
    if !p.no_new_privileges {
        load_filters(sys, seccomp)?;
    }
    let caps = p.capabilities.clone().unwrap_or_default();
    let last = sys.read_file("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| String::from_utf8_lossy(&s).trim().parse::<u32>().ok()).unwrap_or(40);
    let bounding = cap_mask(&caps.bounding);
    for cap in (0..=last).filter(|c| bounding & (1 << c) == 0) {
        sys.prctl(Prctl::CapBsetDrop(cap)).ctx(Code::Setup, format_args!("drop capability {cap} from the bounding set"))?;
    }
    sys.prctl(Prctl::SetKeepCaps(true)).ctx(Code::Setup, "keep capabilities")?;
    let mut groups = p.user.additional_gids.clone();
    groups.dedup();
    match sys.setgroups(&groups) {
        // A user namespace with setgroups denied (a rootless single map).
        Err(Errno(libc::EPERM)) if userns && groups.is_empty() => {}
        r => r.ctx(Code::Setup, "set the supplementary groups")?,
    }
    sys.setresgid(p.user.gid).ctx(Code::Setup, format_args!("set gid {}", p.user.gid))?;
    sys.setresuid(p.user.uid).ctx(Code::Setup, format_args!("set uid {}", p.user.uid))?;
    sys.prctl(Prctl::SetKeepCaps(false)).ctx(Code::Setup, "clear keep-caps")?;
    sys.capset_sets(cap_mask(&caps.effective), cap_mask(&caps.permitted), cap_mask(&caps.inheritable)).ctx(Code::Setup, "set the capability sets")?;
    sys.prctl(Prctl::CapAmbientClearAll).ctx(Code::Setup, "clear the ambient set")?;
    // The kernel raises an ambient cap only if it is permitted and
    // inheritable; one that is not is skipped, as runc skips it.
    for cap in caps.ambient.iter().filter_map(|n| spec::cap_number(n)) {
        let _ = sys.prctl(Prctl::CapAmbientRaise(cap));
    }
    sys.umask(p.user.umask.unwrap_or(0o022));
    if p.no_new_privileges {
        sys.prctl(Prctl::SetNoNewPrivs).ctx(Code::Setup, "set no_new_privs")?;
    }
    Ok(program)
}

/// Load the filters in order (ours before the spec's, which may not allow
/// `seccomp` itself).
pub fn load_filters(sys: &dyn Sys, filters: &[Vec<libc::sock_filter>]) -> Result<(), SetupError> {
    for f in filters {
        sys.seccomp_load(f).ctx(Code::Setup, "load the seccomp filter")?;
    }
    Ok(())
}

/// mkdir -p over the seam (0755, as runc makes a missing cwd).
fn mkdir_all(sys: &dyn Sys, path: &str) -> Result<(), Errno> {
    let mut at = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        at.push('/');
        at.push_str(part);
        match sys.mkdir(&at, 0o755) {
            Ok(()) | Err(Errno(libc::EEXIST)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// argv[0] in the container's PATH (from process.env), as execvp would.
fn lookup(sys: &dyn Sys, arg0: &str, env: &[String]) -> Option<CString> {
    let exe = |p: &str| sys.is_executable(p);
    if arg0.contains('/') {
        return exe(arg0).then(|| CString::new(arg0).ok()).flatten();
    }
    let path = env.iter().find_map(|e| e.strip_prefix("PATH=")).unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    path.split(':').map(|d| format!("{}/{arg0}", if d.is_empty() { "." } else { d })).find(|p| exe(p)).and_then(|p| CString::new(p).ok())
}

/// After `ready`: wait at the gate, run startContainer hooks, load seccomp
/// (with no_new_privs: last, as runc), exec. Returns only on failure.
fn start(sys: &dyn Sys, c: &Container, program: CString, gate: Fd, pid: i32) -> SetupError {
    let p = c.spec.process.as_ref().expect("validated");
    if let Err(e) = wait_gate(sys, gate) {
        return e;
    }
    if let Err(e) = crate::oci::hooks::run_all(&c.spec.hooks.start_container, "startContainer", &hook_state(c, "running", pid)) {
        return e;
    }
    if p.no_new_privileges {
        if let Err(e) = load_filters(sys, &c.seccomp) {
            return e;
        }
    }
    let argv: Vec<CString> = p.args.iter().filter_map(|a| CString::new(a.as_str()).ok()).collect();
    let envp: Vec<CString> = p.env.iter().filter_map(|a| CString::new(a.as_str()).ok()).collect();
    match sys.execve(&program, &argv, &envp) {
        Ok(()) => SetupError::new(Code::Exec, "execve returned"),
        Err(e) => SetupError::sys(Code::Exec, format_args!("execute {}", p.args[0]), e),
    }
}

/// Our default on top of the spec: where the container shares the host's
/// pid namespace it may not signal host processes, where it shares the
/// network namespace it may not reach the host's abstract unix sockets
/// (Landlock scopes, ABI 6). With namespaces of its own they add nothing,
/// and an `exec`'d process would be in another domain, so they are not set
/// (design §5.2). Best effort: older kernels, or no no_new_privs and no
/// CAP_SYS_ADMIN left, go on without.
fn landlock_scopes(sys: &dyn Sys, spec: &Spec) {
    const ABSTRACT_UNIX_SOCKET: u64 = 1;
    const SIGNAL: u64 = 2;
    let shared = |t: &str| !spec.linux.namespaces.iter().any(|n| n.kind == t);
    let scoped = (shared("network") as u64 * ABSTRACT_UNIX_SOCKET) | (shared("pid") as u64 * SIGNAL);
    if scoped != 0 {
        let _ = sys.landlock_scope(scoped);
    }
}

/// Only fds 0-2, `--preserve-fds` and systemd's `LISTEN_FDS` reach the
/// program (runtime-linux.md): every other one is close-on-exec from here
/// (what pid 1 opens later, it opens close-on-exec).
fn close_stray_fds(sys: &dyn Sys, preserve: u32, env: &[String]) -> Result<(), Errno> {
    let listen = env.iter().find_map(|e| e.strip_prefix("LISTEN_FDS=")).and_then(|n| n.parse::<u32>().ok()).unwrap_or(0);
    sys.cloexec_from(3 + preserve.max(listen))
}

/// Block until `start` writes a byte into the fifo. pid 1 opened it
/// O_RDONLY|O_NONBLOCK before the pivot; with no writer yet, poll reports
/// nothing (no POLLHUP before a first writer), so the wait is a plain poll.
/// The fd stays open, close-on-exec: `start` waits for it to close, so the
/// program has replaced pid 1 when `start` returns.
fn wait_gate(sys: &dyn Sys, fd: Fd) -> Result<(), SetupError> {
    loop {
        let ev = sys.poll(&[(fd, libc::POLLIN)], -1).ctx(Code::Setup, "wait for start")?;
        if ev[0] & libc::POLLIN != 0 {
            let b = sys.read(fd, 1).ctx(Code::Setup, "read the start gate")?;
            if !b.is_empty() {
                return Ok(());
            }
        }
        if ev[0] & (libc::POLLHUP | libc::POLLERR) != 0 {
            return Err(SetupError::new(Code::Setup, "the start gate closed without a start"));
        }
    }
}

#[cfg(test)]
mod tests;
