//! `exec` (runc's model): a new process in a running container. The
//! process comes from `--process FILE` or from the container's own
//! `process` with the command line's args, env and cwd on top. The runtime
//! joins the namespaces of pid 1 with `setns(pidfd, …)` (all or none,
//! Linux 5.8; the mount namespace in the child, after the pid file is
//! written on the host), forks so the child is in the pid namespace, and the child
//! takes the container's limits, ids, capabilities, no_new_privs and the
//! seccomp filter compiled from the stored config.json, then execs.
//! The child waits until the runtime has written it into the container's
//! cgroups (the directories recorded at create), so it is counted and
//! limited with pid 1 from its first instruction.
//! `--detach` writes `--pid-file` and leaves the process to the caller's
//! subreaper (conmon, the shim); otherwise its status is ours.

use crate::container;
use crate::error::{Code, SetupError};
use crate::oci::spec::{self, Process};
use crate::oci::state::{self, Status};
use crate::sys::Sys;
use std::ffi::CString;
use std::os::fd::IntoRawFd;
use std::path::Path;

#[derive(Debug, Default, Clone)]
pub struct ExecOpts {
    pub process: Option<String>,
    pub detach: bool,
    pub pid_file: Option<String>,
    pub console_socket: Option<String>,
    pub tty: bool,
    pub env: Vec<String>,
    pub cwd: Option<String>,
    pub args: Vec<String>,
}

/// The process to run: `--process`, or the container's with overrides.
pub fn process(o: &ExecOpts, container: &spec::Spec) -> Result<Process, SetupError> {
    let mut p = match &o.process {
        Some(f) => {
            let b = std::fs::read(f).map_err(|e| SetupError::new(Code::SpecInvalid, format!("cannot read {f}: {e}")))?;
            let de = &mut serde_json::Deserializer::from_slice(&b);
            serde_path_to_error::deserialize::<_, Process>(de).map_err(|e| SetupError::new(Code::SpecInvalid, format!("{f}: {}: {}", e.path(), e.inner())))?
        }
        None => {
            let mut p = container.process.clone().unwrap_or_default();
            if o.args.is_empty() {
                return Err(SetupError::new(Code::Usage, "exec needs --process FILE or a command"));
            }
            p.args = o.args.clone();
            p.terminal = o.tty;
            p
        }
    };
    for e in &o.env {
        let key = e.split('=').next().unwrap_or("");
        p.env.retain(|x| x.split('=').next() != Some(key));
        p.env.push(e.clone());
    }
    if let Some(c) = &o.cwd {
        p.cwd = c.clone();
    }
    if p.cwd.is_empty() {
        p.cwd = "/".into();
    }
    if p.args.is_empty() {
        return Err(SetupError::new(Code::SpecInvalid, "process.args: must name a program"));
    }
    Ok(p)
}

/// Run `exec`; the exit status (0 with `--detach`).
pub fn exec(sys: &dyn Sys, root: &Path, id: &str, o: &ExecOpts) -> Result<i32, SetupError> {
    let dir = state::container_dir(root, id)?;
    let rec = state::load(&dir)?;
    let st = state::status(&dir, &rec);
    if st != Status::Running && st != Status::Created {
        return Err(SetupError::new(Code::OciState, format!("container {id} is {st}, not running")));
    }
    let cfg = spec::decode(
        &std::fs::read(dir.join("config.json")).map_err(|e| SetupError::new(Code::OciNotFound, format!("cannot read the container's config.json: {e}")))?,
    )?;
    let p = process(o, &cfg)?;
    let filter = crate::oci::seccomp::filters(&cfg)?;
    let userns = cfg.linux.namespaces.iter().any(|n| n.kind == "user");
    let mut flags = 0;
    for n in &cfg.linux.namespaces {
        flags |= spec::ns_flag(&n.kind).expect("validated at create");
    }
    // The console socket is a host path: connect before entering the mount namespace.
    let console = match &o.console_socket {
        Some(s) if p.terminal => Some(sys.connect_unix(s).map_err(|e| SetupError::sys(Code::Setup, format_args!("connect to the console socket {s}"), e))?),
        _ => None,
    };
    // SAFETY: pidfd_open takes a pid and flags; the fd is ours.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, rec.pid, 0) } as i32;
    if pidfd < 0 || !state::alive(&rec) {
        return Err(SetupError::new(Code::OciState, format!("container {id} is stopped, not running")));
    }
    // All but the mount namespace here: the pid file is a host path. The
    // child joins that one before anything else.
    sys.setns(pidfd, flags & !libc::CLONE_NEWNS).map_err(|e| SetupError::sys(Code::Setup, format_args!("join the namespaces of container {id}"), e))?;
    // The child waits on this pipe until we have put it in the container's
    // cgroup (runc's exec does the same through its sync pipe): it must not
    // run a single instruction of the program outside the limits.
    let (gate_r, gate_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| SetupError::sys(Code::Setup, "create the exec's gate", e.into()))?;
    let (gate_r, gate_w) = (gate_r.into_raw_fd(), gate_w.into_raw_fd());
    // SAFETY: fork in a single-threaded process; the child only execs or exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(SetupError::new(Code::Setup, format!("cannot fork: {}", std::io::Error::last_os_error())));
    }
    if pid == 0 {
        let _ = sys.close(gate_w);
        if !matches!(sys.read(gate_r, 1).as_deref(), Ok([0])) {
            sys.exit(1);
        }
        let _ = sys.close(gate_r);
        if let Err(e) = sys.setns(pidfd, libc::CLONE_NEWNS) {
            eprintln!("sandboxctl-oci: E_SETUP: cannot join the mount namespace of container {id}: {e}");
            sys.exit(1);
        }
        let _ = sys.close(pidfd);
        // As runc's exec: a session keyring of the container's, not ours.
        if let Err(e) = container::join_keyring(sys, &format!("_ses.{id}")) {
            eprintln!("sandboxctl-oci: {}: {}", e.code.as_str(), e.message);
            sys.exit(1);
        }
        let e = child(sys, &p, &filter, userns, console);
        eprintln!("sandboxctl-oci: {}: {}", e.code.as_str(), e.message);
        sys.exit(if e.code == Code::Exec { 127 } else { 1 });
    }
    let _ = sys.close(pidfd);
    let _ = sys.close(gate_r);
    if let Some(c) = console {
        let _ = sys.close(c);
    }
    let joined = join_cgroups(&rec.cgroup_paths, pid)
        .and_then(|_| sys.write_fd(gate_w, &[0]).map_err(|e| SetupError::sys(Code::Setup, "release the exec'd process", e)));
    let _ = sys.close(gate_w);
    if let Err(e) = joined {
        let _ = sys.kill(pid, libc::SIGKILL);
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        return Err(e);
    }
    if let Some(f) = &o.pid_file {
        let tmp = format!("{f}.tmp{}", std::process::id());
        std::fs::write(&tmp, pid.to_string())
            .and_then(|_| std::fs::rename(&tmp, f))
            .map_err(|e| SetupError::new(Code::Setup, format!("cannot write {f}: {e}")))?;
    }
    if o.detach {
        return Ok(0);
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { while libc::waitpid(pid, &mut status, 0) < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {} };
    Ok(if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 128 + libc::WTERMSIG(status) })
}

/// Put `pid` in every cgroup directory pid 1 was placed in at create (none
/// when the hierarchy was not writable then: nothing to join).
fn join_cgroups(dirs: &[String], pid: i32) -> Result<(), SetupError> {
    for d in dirs {
        std::fs::write(format!("{d}/cgroup.procs"), pid.to_string())
            .map_err(|e| SetupError::new(Code::Setup, format!("cannot join the container's cgroup {d}: {e}")))?;
    }
    Ok(())
}

/// The exec'd process's side: terminal, privileges, filter, exec.
fn child(sys: &dyn Sys, p: &Process, filter: &[Vec<libc::sock_filter>], userns: bool, console: Option<i32>) -> SetupError {
    let run = || -> Result<(), SetupError> {
        if let Some(sock) = console {
            container::console_pty(sys, sock, false)?;
        } else if !p.terminal {
            // A new session only for terminals; otherwise keep the caller's stdio.
        }
        let program = container::privileges_and_cwd(sys, p, filter, userns)?;
        if p.no_new_privileges {
            container::load_filters(sys, filter)?;
        }
        let argv: Vec<CString> = p.args.iter().filter_map(|a| CString::new(a.as_str()).ok()).collect();
        let envp: Vec<CString> = p.env.iter().filter_map(|a| CString::new(a.as_str()).ok()).collect();
        sys.execve(&program, &argv, &envp).map_err(|e| SetupError::sys(Code::Exec, format_args!("execute {}", p.args[0]), e))
    };
    match run() {
        Ok(()) => SetupError::new(Code::Exec, "execve returned"),
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_env_and_cwd_override_the_containers_process() {
        let spec = spec::Spec {
            process: Some(Process { args: vec!["sh".into()], env: vec!["PATH=/bin".into(), "A=1".into()], cwd: "/".into(), ..Default::default() }),
            ..Default::default()
        };
        let o = ExecOpts { args: vec!["id".into()], env: vec!["A=2".into()], cwd: Some("/tmp".into()), ..Default::default() };
        let p = process(&o, &spec).unwrap();
        assert_eq!(p.args, vec!["id"]);
        assert_eq!(p.env, vec!["PATH=/bin", "A=2"]);
        assert_eq!(p.cwd, "/tmp");
        assert_eq!(process(&ExecOpts::default(), &spec).unwrap_err().code, Code::Usage);
    }
}
