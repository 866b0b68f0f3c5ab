//! `sandboxctl-oci`: runc's command line as engines call it (conmon,
//! containerd's runc shim through go-runc, runtime-tools).
//!
//!   [--root DIR] [--log FILE] [--log-format text|json] [--debug] [--systemd-cgroup]
//!   create [--bundle DIR] [--pid-file F] [--console-socket S] [--preserve-fds N] [--no-pivot] [--no-new-keyring] ID
//!   start ID | state ID | kill [--all] ID [SIGNAL] | delete [--force] ID | run [create options] [--detach] ID
//!   features | --version
//!
//! Errors exit 1 (engines test non-zero), on stderr as `sandboxctl-oci:
//! E_CODE: message` and, with `--log`, as runc's JSON log line, which
//! conmon and the shim show to the user.

use super::{Container, Sync};
use crate::container;
use crate::error::{Code, SetupError};
use crate::oci::spec::{self, Spec};
use crate::oci::state::{self, Record, Status};
use crate::oci::{hooks, seccomp};
use crate::sys::{bfd, Errno, Sys};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// Global options.
#[derive(Debug, Default, Clone)]
pub struct Global {
    pub root: Option<String>,
    pub log: Option<String>,
    pub log_json: bool,
    pub debug: bool,
    pub systemd_cgroup: bool,
}

/// `create`/`run` options.
#[derive(Debug, Default, Clone)]
pub struct CreateOpts {
    pub bundle: Option<String>,
    pub pid_file: Option<String>,
    pub console_socket: Option<String>,
    pub preserve_fds: u32,
    pub no_new_keyring: bool,
    pub detach: bool,
    /// Global `--systemd-cgroup`: `cgroupsPath` is `slice:prefix:name`.
    pub systemd_cgroup: bool,
}

#[derive(Debug, Clone)]
pub enum Command {
    Create(CreateOpts, String),
    Run(CreateOpts, String),
    Start(String),
    State(String),
    Kill { all: bool, id: String, signal: String },
    Delete { force: bool, id: String },
    Exec(super::exec::ExecOpts, String),
    Features,
    Version,
    List { json: bool, quiet: bool },
    Ps { json: bool, id: String },
    Spec { rootless: bool, bundle: Option<String> },
}

fn usage(msg: impl Into<String>) -> SetupError {
    SetupError::new(Code::Usage, msg)
}

/// `--flag value`, `--flag=value`, `-f value`.
fn take_value(args: &[String], i: &mut usize, name: &str) -> Result<String, SetupError> {
    let a = &args[*i];
    if let Some(v) = a.split_once('=').map(|(_, v)| v.to_string()) {
        return Ok(v);
    }
    *i += 1;
    args.get(*i).cloned().ok_or_else(|| usage(format!("{name} needs a value")))
}

fn flag_is(a: &str, names: &[&str]) -> bool {
    let key = a.split_once('=').map_or(a, |(k, _)| k);
    names.contains(&key)
}

/// Parse argv (without argv[0]).
pub fn parse(args: &[String]) -> Result<(Global, Command), SetupError> {
    let mut g = Global::default();
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') {
        let a = args[i].as_str();
        match () {
            _ if a == "--version" || a == "-v" => return Ok((g, Command::Version)),
            _ if flag_is(a, &["--root"]) => g.root = Some(take_value(args, &mut i, "--root")?),
            _ if flag_is(a, &["--log"]) => g.log = Some(take_value(args, &mut i, "--log")?),
            _ if flag_is(a, &["--log-format"]) => g.log_json = take_value(args, &mut i, "--log-format")? == "json",
            _ if a == "--debug" => g.debug = true,
            _ if flag_is(a, &["--systemd-cgroup"]) => g.systemd_cgroup = true,
            // Accepted for runc compatibility; nothing here depends on them.
            _ if flag_is(a, &["--rootless", "--criu"]) => {
                if !a.contains('=') {
                    i += 1;
                }
            }
            _ => return Err(usage(format!("unknown global option {a}"))),
        }
        i += 1;
    }
    let cmd = args.get(i).ok_or_else(|| usage("no command (create, start, state, kill, delete, run, features)"))?.clone();
    let rest = &args[i + 1..];
    let mut pos = Vec::new();
    let mut o = CreateOpts::default();
    let (mut all, mut force, mut json, mut quiet, mut rootless) = (false, false, false, false, false);
    let mut x = super::exec::ExecOpts::default();
    let mut j = 0;
    while j < rest.len() {
        let a = rest[j].as_str();
        if cmd == "exec" && !pos.is_empty() {
            // After the id everything is the command.
            pos.push(a.to_string());
        } else if a == "--" {
        } else if !a.starts_with('-') || a == "-" {
            pos.push(a.to_string());
        } else if cmd == "exec" && flag_is(a, &["--process", "-p"]) {
            x.process = Some(take_value(rest, &mut j, "--process")?);
        } else if cmd == "exec" && flag_is(a, &["--env", "-e"]) {
            x.env.push(take_value(rest, &mut j, "--env")?);
        } else if cmd == "exec" && flag_is(a, &["--cwd"]) {
            x.cwd = Some(take_value(rest, &mut j, "--cwd")?);
        } else if cmd == "exec" && (a == "--tty" || a == "-t") {
            x.tty = true;
        } else if cmd == "exec" && flag_is(a, &["--user", "-u", "--process-label", "--apparmor", "--cap", "-c", "--cgroup"]) {
            return Err(usage(format!("exec: {a} is not supported yet")));
        } else if flag_is(a, &["--bundle", "-b"]) {
            o.bundle = Some(take_value(rest, &mut j, "--bundle")?);
        } else if flag_is(a, &["--pid-file"]) {
            o.pid_file = Some(take_value(rest, &mut j, "--pid-file")?);
        } else if flag_is(a, &["--console-socket"]) {
            o.console_socket = Some(take_value(rest, &mut j, "--console-socket")?);
        } else if flag_is(a, &["--preserve-fds"]) {
            o.preserve_fds = take_value(rest, &mut j, "--preserve-fds")?.parse().map_err(|_| usage("--preserve-fds needs a number"))?;
        } else if flag_is(a, &["--no-new-keyring"]) {
            o.no_new_keyring = true;
        } else if flag_is(a, &["--no-pivot", "--no-subreaper"]) {
        } else if a == "--detach" || a == "-d" {
            o.detach = true;
        } else if flag_is(a, &["--format", "-f"]) && (cmd == "ps" || cmd == "list") {
            json = take_value(rest, &mut j, "--format")? == "json";
        } else if (a == "--quiet" || a == "-q") && cmd == "list" {
            quiet = true;
        } else if a == "--rootless" && cmd == "spec" {
            rootless = true;
        } else if a == "--all" || a == "-a" {
            all = true;
        } else if a == "--force" || a == "-f" {
            force = true;
        } else if a.starts_with('-') && a[1..].parse::<i32>().is_ok() {
            // `kill ID -9` is not runc's form, but a bare negative number is a signal.
            pos.push(a[1..].to_string());
        } else {
            return Err(usage(format!("{cmd}: unknown option {a}")));
        }
        j += 1;
    }
    let id = |n: usize| {
        pos.first().cloned().ok_or_else(|| usage(format!("{cmd} needs a container id"))).and_then(|id| {
            if pos.len() > n {
                Err(usage(format!("{cmd}: too many arguments")))
            } else {
                Ok(id)
            }
        })
    };
    let c = match cmd.as_str() {
        "create" => Command::Create(o, id(1)?),
        "run" => Command::Run(o, id(1)?),
        "start" => Command::Start(id(1)?),
        "state" => Command::State(id(1)?),
        "kill" => Command::Kill { all, id: id(2)?, signal: pos.get(1).cloned().unwrap_or_else(|| "SIGTERM".into()) },
        "delete" => Command::Delete { force, id: id(1)? },
        "exec" => {
            let id = pos.first().cloned().ok_or_else(|| usage("exec needs a container id"))?;
            x.args = pos[1..].to_vec();
            x.detach = o.detach;
            x.pid_file = o.pid_file.clone();
            x.console_socket = o.console_socket.clone();
            Command::Exec(x, id)
        }
        "features" => Command::Features,
        "list" => Command::List { json, quiet },
        "ps" => Command::Ps { json, id: id(1)? },
        "spec" => Command::Spec { rootless, bundle: o.bundle.clone() },
        other => return Err(usage(format!("unknown command {other}"))),
    };
    Ok((g, c))
}

/// The three lines go-runc parses (`version`, `commit:`, `spec:`).
pub fn version() -> String {
    format!("sandboxctl-oci version {}\ncommit: {}\nspec: {}\n", crate::VERSION, option_env!("SANDBOXCTL_COMMIT").unwrap_or("unknown"), state::OCI_VERSION)
}

/// runc's `features` document (runtime-spec features.md), what we do.
pub fn features() -> String {
    let opts: Vec<&str> = crate::oci::options::TABLE.iter().map(|(n, _)| *n).collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": state::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": opts,
        "linux": {
            "namespaces": spec::NAMESPACES.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            "capabilities": crate::caps::NAMES.to_vec(),
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {"enabled": true, "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"]},
            "apparmor": {"enabled": false}, "selinux": {"enabled": false}
        },
        "annotations": {"org.opencontainers.runc.version": "none", "io.github.sandboxctl.version": crate::VERSION}
    }))
    .expect("features serialize")
        + "\n"
}

/// Run a parsed command; the process exit status.
pub fn main(sys: &dyn Sys, args: &[String]) -> i32 {
    let (g, cmd) = match parse(args) {
        Ok(p) => p,
        Err(e) => {
            report(&Global::default(), &e);
            return 1;
        }
    };
    match execute(sys, &g, cmd) {
        Ok(code) => code,
        Err(e) => {
            report(&g, &e);
            1
        }
    }
}

/// stderr, and the `--log` file (runc's JSON line with `--log-format json`).
fn report(g: &Global, e: &SetupError) {
    let msg = format!("{}: {}", e.code.as_str(), e.message);
    eprintln!("sandboxctl-oci: {msg}");
    if let Some(log) = &g.log {
        let line = if g.log_json {
            serde_json::json!({"level": "error", "msg": msg, "time": state::now_rfc3339()}).to_string()
        } else {
            format!("time=\"{}\" level=error msg=\"{}\"", state::now_rfc3339(), msg.replace('"', "\\\""))
        };
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
            let _ = writeln!(f, "{line}");
        }
    }
}

fn execute(sys: &dyn Sys, g: &Global, cmd: Command) -> Result<i32, SetupError> {
    let root = || state::open_root(&g.root.clone().unwrap_or_else(state::default_root));
    match cmd {
        Command::Version => {
            print!("{}", version());
            Ok(0)
        }
        Command::Features => {
            print!("{}", features());
            Ok(0)
        }
        Command::Create(o, id) => create(sys, &root()?, &CreateOpts { systemd_cgroup: g.systemd_cgroup, ..o }, &id, false).map(|_| 0),
        Command::Run(o, id) => run(sys, &root()?, &CreateOpts { systemd_cgroup: g.systemd_cgroup, ..o }, &id),
        Command::Start(id) => start(sys, &root()?, &id).map(|_| 0),
        Command::State(id) => {
            let dir = state::container_dir(&root()?, &id)?;
            let rec = state::load(&dir)?;
            println!("{}", serde_json::to_string_pretty(&state::state(&dir, &rec)).expect("state serializes"));
            Ok(0)
        }
        Command::Kill { all, id, signal } => kill(sys, &root()?, &id, &signal, all).map(|_| 0),
        Command::Delete { force, id } => delete(&root()?, &id, force).map(|_| 0),
        Command::Exec(x, id) => super::exec::exec(sys, &root()?, &id, &x),
        Command::List { json, quiet } => list(&root()?, json, quiet).map(|_| 0),
        Command::Ps { json, id } => ps(&root()?, &id, json).map(|_| 0),
        Command::Spec { rootless, bundle } => write_spec(bundle.as_deref(), rootless).map(|_| 0),
    }
}

fn abs(p: &str) -> Result<PathBuf, SetupError> {
    std::path::absolute(p).map_err(|e| usage(format!("{p}: {e}")))
}

/// Decode and check the bundle: nothing is created before this passes.
pub fn load_bundle(bundle: &Path) -> Result<(Spec, Vec<u8>, String), SetupError> {
    let cfg = bundle.join("config.json");
    let bytes = std::fs::read(&cfg).map_err(|e| SetupError::new(Code::SpecInvalid, format!("cannot read {}: {e}", cfg.display())))?;
    let spec = spec::decode(&bytes)?;
    spec::validate(&spec)?;
    let root = &spec.root.as_ref().expect("validated").path;
    let rootfs = if root.starts_with('/') { PathBuf::from(root) } else { bundle.join(root) };
    let rootfs = rootfs.canonicalize().map_err(|e| spec::invalid("root.path", format!("{}: {e}", rootfs.display())))?;
    if !rootfs.is_dir() {
        return Err(spec::invalid("root.path", format!("{} is not a directory", rootfs.display())));
    }
    Ok((spec, bytes, rootfs.to_string_lossy().into_owned()))
}

/// Write `data` to `path` atomically (tmp + rename), as engines read pid files.
fn write_atomic(path: &str, data: &str) -> Result<(), SetupError> {
    let tmp = format!("{path}.tmp{}", std::process::id());
    std::fs::write(&tmp, data).and_then(|_| std::fs::rename(&tmp, path)).map_err(|e| SetupError::new(Code::Setup, format!("cannot write {path}: {e}")))
}

fn state_json(id: &str, status: &str, pid: i32, bundle: &str, spec: &Spec) -> String {
    serde_json::json!({"ociVersion": state::OCI_VERSION, "id": id, "status": status, "pid": pid, "bundle": bundle, "annotations": spec.annotations}).to_string()
}

/// `create`: check, make ROOT/ID, clone pid 1 into its namespaces, drive
/// the sync protocol to `Ready`, record the state. On any failure ROOT/ID
/// is removed and pid 1, if any, killed. Returns pid 1's pid.
pub fn create(sys: &dyn Sys, root: &Path, o: &CreateOpts, id: &str, stay: bool) -> Result<i32, SetupError> {
    state::check_id(id)?;
    let bundle = abs(o.bundle.as_deref().unwrap_or("."))?;
    let (spec, bytes, rootfs) = load_bundle(&bundle)?;
    let filter = seccomp::filters(&spec)?;
    if spec.process.as_ref().is_some_and(|p| p.terminal) && o.console_socket.is_none() {
        // A foreground `run` relays one itself (relay.rs); `create` and
        // `run --detach` cannot, as runc cannot.
        return Err(spec::invalid("process.terminal", "true needs --console-socket, or a foreground run from a terminal"));
    }
    let dir = root.join(id);
    if std::fs::symlink_metadata(&dir).is_ok() {
        return Err(SetupError::new(Code::OciExists, format!("container {id} already exists")));
    }
    std::fs::create_dir(&dir).map_err(|e| SetupError::new(Code::OciExists, format!("cannot create {}: {e}", dir.display())))?;
    let _ = state::private(&dir);
    let mut pid = 0;
    let mut cgroup_paths = Vec::new();
    let r = (|| {
        std::fs::write(dir.join("config.json"), &bytes).map_err(|e| SetupError::new(Code::Setup, format!("cannot copy config.json: {e}")))?;
        let fifo = dir.join("exec.fifo").to_string_lossy().into_owned();
        sys.mkfifo(&fifo, 0o600).map_err(|e| SetupError::sys(Code::Setup, format_args!("create {fifo}"), e))?;
        let bundle_s = bundle.to_string_lossy().into_owned();
        (pid, cgroup_paths) = spawn(&Creating { sys, spec: &spec, bundle: &bundle_s, id }, &rootfs, &fifo, o, filter)?;
        let (_, start) = state::proc_stat(pid).ok_or_else(|| SetupError::new(Code::Setup, "the container's process vanished"))?;
        let owner = nix::unistd::geteuid().as_raw();
        let rec = Record {
            id: id.into(),
            pid,
            init_start: start,
            bundle: bundle_s,
            created: state::now_rfc3339(),
            annotations: spec.annotations.clone(),
            owner,
            cgroup_paths: cgroup_paths.clone(),
        };
        state::save(&dir, &rec)?;
        if let Some(p) = &o.pid_file {
            write_atomic(&abs(p)?.to_string_lossy(), &pid.to_string())?;
        }
        Ok(pid)
    })();
    if r.is_err() {
        if pid > 0 {
            kill_and_reap(sys, pid);
        }
        let _ = state::remove(&dir);
        container::cgroups::remove(&cgroup_paths);
    }
    let _ = stay;
    r
}

/// What a create works on: the seam, the checked spec, the bundle and the id.
#[derive(Clone, Copy)]
struct Creating<'a> {
    sys: &'a dyn Sys,
    spec: &'a Spec,
    bundle: &'a str,
    id: &'a str,
}

/// Join namespaces named by path, clone pid 1, write its id maps, run the
/// createRuntime hooks when it asks, wait for `Ready`.
fn spawn(c: &Creating, rootfs: &str, fifo: &str, o: &CreateOpts, filter: Vec<Vec<libc::sock_filter>>) -> Result<(i32, Vec<String>), SetupError> {
    let Creating { sys, spec, bundle, id } = *c;
    // Joins first (user first, so the others are joined with its rights);
    // pid joins take effect for the child only, as wanted.
    let mut joins: Vec<_> = spec.linux.namespaces.iter().filter(|n| n.path.is_some() && n.kind != "mount").collect();
    joins.sort_by_key(|n| n.kind != "user");
    for n in joins {
        let path = n.path.as_deref().expect("filtered");
        let fd = sys.open(path, libc::O_RDONLY | libc::O_CLOEXEC).map_err(|e| SetupError::sys(Code::Setup, format_args!("open namespace {path}"), e))?;
        let flag = spec::ns_flag(&n.kind).expect("validated");
        sys.setns(fd, flag).map_err(|e| SetupError::sys(Code::Setup, format_args!("join the {} namespace {path}", n.kind), e))?;
        let _ = sys.close(fd);
    }
    let mut flags = 0u64;
    for n in spec.linux.namespaces.iter().filter(|n| n.path.is_none()) {
        flags |= spec::ns_flag(&n.kind).expect("validated") as u64;
    }
    let userns = flags & libc::CLONE_NEWUSER as u64 != 0;
    // The mount namespace is joined by pid 1 itself (this process goes on
    // writing the state on the host).
    let mount_ns = match spec.linux.namespaces.iter().find(|n| n.kind == "mount").and_then(|n| n.path.as_deref()) {
        Some(path) => {
            Some(sys.open(path, libc::O_RDONLY | libc::O_CLOEXEC).map_err(|e| SetupError::sys(Code::Setup, format_args!("open namespace {path}"), e))?)
        }
        None => None,
    };
    let gate = sys.open(fifo, libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC).map_err(|e| SetupError::sys(Code::Setup, format_args!("open {fifo}"), e))?;
    let (mine, theirs) = sys.socketpair().map_err(|e| SetupError::sys(Code::Setup, "create the sync socket", e))?;
    let privileged = nix::unistd::geteuid().is_root() && !userns;
    std::env::set_var("SANDBOXCTL_OCI_ID", id);
    let preserve = o.preserve_fds;
    match sys.clone_sandbox(flags) {
        Ok(0) => {
            let _ = sys.close(mine);
            for fd in 3..3 + preserve as i32 {
                // Clearing close-on-exec on the fds the caller asked to keep.
                if let Ok(f) = bfd(fd) {
                    let _ = nix::fcntl::fcntl(f, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()));
                }
            }
            let c = Container {
                spec,
                rootfs: rootfs.into(),
                bundle: bundle.into(),
                gate,
                mount_ns,
                console_socket: o.console_socket.as_ref().map(|s| abs(s).map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|_| s.clone())),
                sync: theirs,
                userns,
                seccomp: filter,
                privileged,
                preserve_fds: preserve,
                keyring: (!o.no_new_keyring).then(|| format!("_ses.{id}")),
            };
            container::run(sys, &c)
        }
        Ok(pid) => {
            let _ = sys.close(theirs);
            let _ = sys.close(gate);
            if let Some(fd) = mount_ns {
                let _ = sys.close(fd);
            }
            let r = drive(c, pid, mine, userns, o.systemd_cgroup);
            let _ = sys.close(mine);
            r.map(|cg| (pid, cg)).inspect_err(|_| {
                kill_and_reap(sys, pid);
            })
        }
        Err(e) => Err(SetupError::sys(Code::Setup, "create the container's process", e)),
    }
}

/// SIGKILL our own child and reap it (a failed create leaves no process).
fn kill_and_reap(sys: &dyn Sys, pid: i32) {
    let _ = sys.kill(pid, libc::SIGKILL);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
}

/// The create side of the sync protocol.
fn drive(c: &Creating, pid: i32, sock: i32, userns: bool, systemd: bool) -> Result<Vec<String>, SetupError> {
    let Creating { sys, spec, id, .. } = *c;
    let cgroups = container::cgroups::setup(spec, id, pid, systemd)?;
    let release = || -> Result<(), SetupError> {
        if userns {
            write_maps(spec, pid)?;
        }
        sys.write_fd(sock, &[0]).map_err(|e| SetupError::sys(Code::Setup, "release the container's process", e))
    };
    let r = release().and_then(|_| await_ready(c, pid, sock));
    if r.is_err() {
        // The cgroup can go only once the process has.
        kill_and_reap(sys, pid);
        container::cgroups::remove(&cgroups);
    }
    r.map(|_| cgroups)
}

/// Read pid 1's sync messages until `Ready`, running createRuntime hooks when asked.
fn await_ready(c: &Creating, pid: i32, sock: i32) -> Result<(), SetupError> {
    let Creating { sys, spec, bundle, id } = *c;
    // A dup of our own socket, so the reader owns its fd.
    let file = std::fs::File::from(
        bfd(sock).and_then(|f| nix::unistd::dup(f).map_err(Errno::from)).map_err(|e| SetupError::sys(Code::Setup, "dup the sync socket", e))?,
    );
    let mut lines = std::io::BufReader::new(file).lines();
    loop {
        let line = match lines.next() {
            Some(Ok(l)) => l,
            _ => return Err(SetupError::new(Code::Setup, "the container's process exited during setup")),
        };
        match serde_json::from_str::<Sync>(&line) {
            Ok(Sync::Ready) => return Ok(()),
            Ok(Sync::Hooks) => {
                let st = state_json(id, "creating", pid, bundle, spec);
                let r = hooks::run_all(&spec.hooks.prestart, "prestart", &st).and_then(|_| hooks::run_all(&spec.hooks.create_runtime, "createRuntime", &st));
                sys.write_fd(sock, &[r.is_err() as u8]).map_err(|e| SetupError::sys(Code::Setup, "answer the container's process", e))?;
                r?;
            }
            Ok(Sync::Error { code, message }) => return Err(SetupError::new(code, message)),
            Err(e) => return Err(SetupError::new(Code::Internal, format!("bad sync message {line:?}: {e}"))),
        }
    }
}

/// uid_map and gid_map of pid 1: the spec's ranges as root; otherwise the
/// kernel allows exactly the caller's own id (setgroups denied first).
fn write_maps(spec: &Spec, pid: i32) -> Result<(), SetupError> {
    let text = |m: &[spec::IdMapping]| m.iter().map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size)).collect::<String>();
    if !nix::unistd::geteuid().is_root() {
        let _ = std::fs::write(format!("/proc/{pid}/setgroups"), "deny");
    }
    for (file, maps, field) in [("uid_map", &spec.linux.uid_mappings, "linux.uidMappings"), ("gid_map", &spec.linux.gid_mappings, "linux.gidMappings")] {
        std::fs::write(format!("/proc/{pid}/{file}"), text(maps))
            .map_err(|e| spec::invalid(field, format!("cannot write {file}: {e} (without root, only your own id can be mapped, with size 1)")))?;
    }
    Ok(())
}

/// How long `start` waits for the program to replace pid 1 (startContainer
/// hooks run first) before it returns anyway.
const START_WAIT_MS: i32 = 10_000;

/// `start`: open the gate (the container must be `created`), wait for the
/// exec, run poststart.
pub fn start(sys: &dyn Sys, root: &Path, id: &str) -> Result<(), SetupError> {
    let dir = state::container_dir(root, id)?;
    let rec = state::load(&dir)?;
    let st = state::status(&dir, &rec);
    if st != Status::Created {
        return Err(SetupError::new(Code::OciState, format!("container {id} is {st}, not created")));
    }
    let fifo = dir.join("exec.fifo");
    let f = std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&fifo).map_err(|e| {
        if e.raw_os_error() == Some(libc::ENXIO) {
            SetupError::new(Code::OciState, format!("container {id} is stopped, not created"))
        } else {
            SetupError::new(Code::Setup, format!("cannot open {}: {e}", fifo.display()))
        }
    })?;
    let _ = std::fs::remove_file(&fifo);
    (&f).write_all(&[0]).map_err(|e| SetupError::new(Code::Setup, format!("cannot start container {id}: {e}")))?;
    // Return once the program has replaced pid 1: pid 1's end of the fifo
    // is close-on-exec, and a fifo's writer sees POLLERR when the last
    // reader is gone (the exec, or pid 1's death). Engines signal right
    // after `start`; before the exec the signal would reach our pid 1, and
    // a pid 1 drops what it has no handler for (runtime-tools' killsig).
    // startContainer hooks run in between: bounded by START_WAIT_MS.
    let _ = sys.poll(&[(f.as_raw_fd(), 0)], START_WAIT_MS);
    drop(f);
    let spec = spec::decode(&std::fs::read(dir.join("config.json")).unwrap_or_default()).unwrap_or_default();
    if let Err(e) = hooks::run_all(&spec.hooks.poststart, "poststart", &state_json(id, "running", rec.pid, &rec.bundle, &spec)) {
        // The container runs already; a failing poststart hook is reported (runc logs it).
        eprintln!("sandboxctl-oci: warning: {}", e.message);
    }
    Ok(())
}

use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

/// `kill`: only `created` or `running` containers; `--all` signals every
/// process of its pid namespace.
pub fn kill(sys: &dyn Sys, root: &Path, id: &str, signal: &str, all: bool) -> Result<(), SetupError> {
    let dir = state::container_dir(root, id)?;
    let rec = state::load(&dir)?;
    let sig = state::parse_signal(signal).ok_or_else(|| usage(format!("unknown signal {signal}")))?;
    let st = state::status(&dir, &rec);
    if st == Status::Stopped {
        return Err(SetupError::new(Code::OciState, format!("container {id} is stopped, not created or running")));
    }
    if all && !rec.cgroup_paths.is_empty() {
        for pid in container::cgroups::pids(&rec.cgroup_paths).into_iter().filter(|p| *p != rec.pid) {
            let _ = sys.kill(pid, sig);
        }
    } else if all {
        if let Ok(ns) = std::fs::read_link(format!("/proc/{}/ns/pid", rec.pid)) {
            for p in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else { continue };
                if pid != rec.pid && std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok().as_ref() == Some(&ns) {
                    let _ = sys.kill(pid, sig);
                }
            }
        }
    }
    state::signal(&rec, sig)
}

/// `delete`: a stopped container's state goes; a created or running one
/// only with `--force` (killed first). poststop hooks run, their failures
/// are warnings.
pub fn delete(root: &Path, id: &str, force: bool) -> Result<(), SetupError> {
    let dir = match state::container_dir(root, id) {
        Ok(d) => d,
        // runc: deleting what is not there with --force is not an error.
        Err(e) if force && e.code == Code::OciNotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let rec = match state::load(&dir) {
        Ok(r) => r,
        Err(_) if force => return state::remove(&dir),
        Err(e) => return Err(e),
    };
    let st = state::status(&dir, &rec);
    // runtime.md: deleting a container that is not stopped MUST fail
    // (runc kills a created one; the spec's word is kept here).
    if st != Status::Stopped && !force {
        return Err(SetupError::new(Code::OciState, format!("container {id} is {st}, not stopped (use --force)")));
    }
    if st != Status::Stopped {
        let _ = state::signal(&rec, libc::SIGKILL);
        let t = std::time::Instant::now();
        while state::alive(&rec) && t.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    let spec = spec::decode(&std::fs::read(dir.join("config.json")).unwrap_or_default()).unwrap_or_default();
    if let Err(e) = hooks::run_all(&spec.hooks.poststop, "poststop", &state_json(id, "stopped", rec.pid, &rec.bundle, &spec)) {
        eprintln!("sandboxctl-oci: warning: {}", e.message);
    }
    container::cgroups::remove(&rec.cgroup_paths);
    state::remove(&dir)
}

/// `list`: every container under the root (runc's table or JSON).
pub fn list(root: &Path, json: bool, quiet: bool) -> Result<(), SetupError> {
    let mut rows = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(root).into_iter().flatten().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    for id in names {
        let Ok(dir) = state::container_dir(root, &id) else { continue };
        let Ok(rec) = state::load(&dir) else { continue };
        let st = state::state(&dir, &rec);
        rows.push(serde_json::json!({
            "ociVersion": st.oci_version, "id": rec.id, "pid": st.pid.unwrap_or(0), "status": st.status,
            "bundle": rec.bundle, "created": rec.created, "owner": rec.owner.to_string(), "annotations": rec.annotations,
        }));
    }
    if json {
        println!("{}", serde_json::Value::Array(rows));
    } else if quiet {
        rows.iter().for_each(|r| println!("{}", r["id"].as_str().unwrap_or_default()));
    } else {
        println!("{:<24} {:<8} {:<10} {:<40} {:<32} OWNER", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
        for r in &rows {
            println!(
                "{:<24} {:<8} {:<10} {:<40} {:<32} {}",
                r["id"].as_str().unwrap_or_default(),
                r["pid"].as_i64().unwrap_or(0),
                r["status"].as_str().unwrap_or_default(),
                r["bundle"].as_str().unwrap_or_default(),
                r["created"].as_str().unwrap_or_default(),
                r["owner"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// `ps`: the container's processes (its cgroup, else its pid namespace);
/// `--format json` is the array of host pids the containerd shim reads.
pub fn ps(root: &Path, id: &str, json: bool) -> Result<(), SetupError> {
    let dir = state::container_dir(root, id)?;
    let rec = state::load(&dir)?;
    if state::status(&dir, &rec) == Status::Stopped {
        return Err(SetupError::new(Code::OciState, format!("container {id} is stopped, not running")));
    }
    let mut pids = container::cgroups::pids(&rec.cgroup_paths);
    if pids.is_empty() {
        let ns = std::fs::read_link(format!("/proc/{}/ns/pid", rec.pid)).ok();
        for p in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else { continue };
            if ns.is_some() && std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok() == ns {
                pids.push(pid);
            }
        }
    }
    pids.sort();
    if json {
        println!("{}", serde_json::to_string(&pids).expect("pids serialize"));
    } else {
        println!("PID   CMD");
        for p in pids {
            let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            println!("{p:<5} {}", String::from_utf8_lossy(&cmd).replace('\0', " ").trim());
        }
    }
    Ok(())
}

/// `spec`: a starting `config.json` (runc's defaults; with `--rootless`, a
/// user namespace mapping only the caller's ids). Written into `--bundle`, or
/// `./config.json` on a terminal, as runc does; without `--bundle` and with
/// stdout not a terminal it is printed (`sandboxctl oci spec > config.json`,
/// as `ctr oci spec` prints). `process.terminal` is false: a foreground `run`
/// does not relay a terminal (engines pass `--console-socket`).
pub fn write_spec(bundle: Option<&str>, rootless: bool) -> Result<(), SetupError> {
    use std::io::IsTerminal;
    let to_stdout = bundle.is_none() && !std::io::stdout().is_terminal();
    let path = Path::new(bundle.unwrap_or(".")).join("config.json");
    if !to_stdout && path.exists() {
        return Err(SetupError::new(Code::OciExists, format!("{} exists: remove it first", path.display())));
    }
    let caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let mut namespaces = vec![
        serde_json::json!({"type": "pid"}),
        serde_json::json!({"type": "network"}),
        serde_json::json!({"type": "ipc"}),
        serde_json::json!({"type": "uts"}),
        serde_json::json!({"type": "mount"}),
        serde_json::json!({"type": "cgroup"}),
    ];
    let mut linux = serde_json::json!({
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    });
    if rootless {
        let (uid, gid) = (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw());
        namespaces.retain(|n| n["type"] != "network" && n["type"] != "cgroup");
        namespaces.push(serde_json::json!({"type": "user"}));
        linux["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = serde_json::json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    }
    linux["namespaces"] = serde_json::Value::Array(namespaces);
    let spec = serde_json::json!({
        "ociVersion": state::OCI_VERSION,
        "process": {
            "terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/", "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}], "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "sandboxctl",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": if rootless { "none" } else { "sysfs" }, "source": if rootless { "/sys" } else { "sysfs" },
             "options": if rootless { vec!["rbind", "nosuid", "noexec", "nodev", "ro"] } else { vec!["nosuid", "noexec", "nodev", "ro"] }}
        ],
        "linux": linux
    });
    let text = serde_json::to_string_pretty(&spec).expect("spec serializes") + "\n";
    if to_stdout {
        use std::io::Write;
        return std::io::stdout().write_all(text.as_bytes()).map_err(|e| SetupError::new(Code::Setup, format!("cannot write the spec to stdout: {e}")));
    }
    std::fs::write(&path, text).map_err(|e| SetupError::new(Code::Setup, format!("cannot write {}: {e}", path.display())))
}

/// `run`: create, start and (unless `--detach`) wait for the process, then
/// delete; the process's exit status (128+N for a signal).
pub fn run(sys: &dyn Sys, root: &Path, o: &CreateOpts, id: &str) -> Result<i32, SetupError> {
    // A terminal and no --console-socket in the foreground: relay one, as
    // runc does (and, like runc, refuse when the caller has no terminal).
    let mut relay = None;
    if !o.detach && o.console_socket.is_none() {
        let (spec, _, _) = load_bundle(&abs(o.bundle.as_deref().unwrap_or("."))?)?;
        if spec.process.as_ref().is_some_and(|p| p.terminal) {
            relay = Some(super::relay::Relay::open()?);
        }
    }
    let o = &CreateOpts { console_socket: relay.as_ref().map(|r| r.socket()).or_else(|| o.console_socket.clone()), ..o.clone() };
    let pid = create(sys, root, o, id, true)?;
    let master = match relay.as_mut().map(|r| r.master(sys)).transpose() {
        Ok(m) => m,
        Err(e) => {
            let _ = delete(root, id, true);
            return Err(e);
        }
    };
    start(sys, root, id)?;
    if o.detach {
        return Ok(0);
    }
    if let (Some(r), Some(m)) = (&relay, master) {
        r.copy(m, pid)?;
        let _ = sys.close(m);
    }
    drop(relay);
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { while libc::waitpid(pid, &mut status, 0) < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {} };
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 128 + libc::WTERMSIG(status) };
    delete(root, id, true)?;
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::LinuxSys;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_what_conmon_and_go_runc_send() {
        let (g, c) = parse(&args(
            "--root /run/x --log /l.json --log-format json --systemd-cgroup create --bundle /b --pid-file /p --console-socket /s --no-new-keyring id1",
        ))
        .unwrap();
        assert_eq!(g.root.as_deref(), Some("/run/x"));
        assert!(g.log_json && g.systemd_cgroup);
        match c {
            Command::Create(o, id) => {
                assert_eq!((o.bundle.as_deref(), o.pid_file.as_deref(), o.console_socket.as_deref(), id.as_str()), (Some("/b"), Some("/p"), Some("/s"), "id1"))
            }
            c => panic!("{c:?}"),
        }
        assert!(matches!(parse(&args("kill --all id 9")).unwrap().1, Command::Kill { all: true, ref id, ref signal } if id == "id" && signal == "9"));
        assert!(matches!(parse(&args("kill id")).unwrap().1, Command::Kill { ref signal, .. } if signal == "SIGTERM"));
        assert!(matches!(parse(&args("delete --force id")).unwrap().1, Command::Delete { force: true, .. }));
        assert!(matches!(parse(&args("--root=/r run -b=/b -d id")).unwrap().1, Command::Run(CreateOpts { detach: true, .. }, _)));
        assert!(matches!(parse(&args("--version")).unwrap().1, Command::Version));
        assert!(matches!(parse(&args("list --format json")).unwrap().1, Command::List { json: true, quiet: false }));
        assert!(matches!(parse(&args("ps --format=json id")).unwrap().1, Command::Ps { json: true, .. }));
        assert!(matches!(parse(&args("spec --rootless --bundle /b")).unwrap().1, Command::Spec { rootless: true, bundle: Some(_) }));
        match parse(&args("exec --process /p.json --detach --pid-file /pid --console-socket /s c1")).unwrap().1 {
            Command::Exec(x, id) => {
                assert_eq!((x.process.as_deref(), x.detach, x.pid_file.as_deref(), id.as_str()), (Some("/p.json"), true, Some("/pid"), "c1"))
            }
            c => panic!("{c:?}"),
        }
        match parse(&args("exec -t --env A=1 --cwd /tmp c1 sh -c true")).unwrap().1 {
            Command::Exec(x, _) => assert_eq!((x.tty, x.env, x.cwd.as_deref(), x.args), (true, vec!["A=1".to_string()], Some("/tmp"), args("sh -c true"))),
            c => panic!("{c:?}"),
        }
        for bad in ["", "frobnicate id", "start", "start a b", "create --nope id", "--nope state id"] {
            assert_eq!(parse(&args(bad)).unwrap_err().code, Code::Usage, "{bad}");
        }
    }

    #[test]
    fn spec_writes_a_config_that_validates() {
        let d = std::env::temp_dir().join(format!("sandboxctl-oci-spec-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        for rootless in [false, true] {
            let _ = std::fs::remove_file(d.join("config.json"));
            write_spec(d.to_str(), rootless).unwrap();
            let s = spec::decode(&std::fs::read(d.join("config.json")).unwrap()).unwrap();
            spec::validate(&s).unwrap();
            assert_eq!(s.linux.namespaces.iter().any(|n| n.kind == "user"), rootless);
        }
        assert_eq!(write_spec(d.to_str(), false).unwrap_err().code, Code::OciExists);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn version_has_the_three_lines_go_runc_parses() {
        let v = version();
        let lines: Vec<&str> = v.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].contains("version "));
        assert!(lines[1].starts_with("commit: "));
        assert_eq!(lines[2], "spec: 1.2.0");
    }

    #[test]
    fn a_bad_bundle_leaves_nothing() {
        let base = std::env::temp_dir().join(format!("sandboxctl-oci-bad-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (root, bundle) = (base.join("root"), base.join("bundle"));
        std::fs::create_dir_all(bundle.join("rootfs")).unwrap();
        std::fs::write(bundle.join("config.json"), r#"{"ociVersion":"1.2.0","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"},"mounts":[{"destination":"x","type":"tmpfs"}],"linux":{"namespaces":[{"type":"mount"}]}}"#).unwrap();
        let root = state::open_root(root.to_str().unwrap()).unwrap();
        let o = CreateOpts { bundle: Some(bundle.to_string_lossy().into()), ..Default::default() };
        let e = create(&LinuxSys, &root, &o, "c1", false).unwrap_err();
        assert_eq!(e.code, Code::SpecInvalid);
        assert!(e.message.contains("mounts[0].destination"), "{}", e.message);
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0, "state left behind");
        assert_eq!(start(&LinuxSys, &root, "c1").unwrap_err().code, Code::OciNotFound);
        assert_eq!(create(&LinuxSys, &root, &o, "../x", false).unwrap_err().code, Code::SpecInvalid);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
