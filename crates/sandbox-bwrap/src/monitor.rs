//! Stage: bubblewrap's monitor. Takes the caller's fds bubblewrap would
//! read (seccomp programs) or leave to the program (everything else not
//! close-on-exec), holds `--lock-file` locks, forks our launcher with a
//! report socket, and speaks bubblewrap's protocols from the reports:
//! `--info-fd` (one JSON object, then closed) and `--json-status-fd`
//! (`child-pid` line, then `exit-code` only when the program ran).
//!
//! Invariant: nothing of ours reaches the program: the report socket is
//! close-on-exec and the init closes every fd the plan does not pass.

use crate::args::{Opts, SetupOp};
use crate::{plan, Log, EXIT_FAILURE};
use sandbox_core::error::Code;
use sandbox_core::launch::{run_launcher, LaunchContext};
use sandbox_core::report::Report;
use sandbox_core::sys::{LinuxSys, Prctl, Sys};
use std::io::{BufRead, BufReader};
use std::os::fd::FromRawFd;

/// The fds the caller gave us that are not close-on-exec: bubblewrap
/// leaves these open for the program.
fn inheritable_fds() -> Vec<i32> {
    let mut fds: Vec<i32> =
        std::fs::read_dir("/proc/self/fd").map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect()).unwrap_or_default();
    fds.sort_unstable();
    // SAFETY: F_GETFD on a number; -1 for a closed fd (the read_dir's own).
    fds.retain(|&fd| fd > 2 && unsafe { libc::fcntl(fd, libc::F_GETFD) } & libc::FD_CLOEXEC == 0 && unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0);
    fds
}

/// Read a seccomp program (raw `struct sock_filter`s) from a caller fd.
fn read_filter(fd: i32) -> Result<Vec<libc::sock_filter>, String> {
    use std::io::Read;
    // SAFETY: bubblewrap takes ownership of the fd: we read and close it.
    let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
    let mut b = Vec::new();
    f.read_to_end(&mut b).map_err(|e| format!("Can't read seccomp data: {}", strerror(e.raw_os_error().unwrap_or(libc::EIO))))?;
    if b.len() % 8 != 0 {
        return Err("Invalid seccomp data, must be multiple of 8".into());
    }
    Ok(b.chunks(8)
        .map(|c| libc::sock_filter { code: u16::from_ne_bytes([c[0], c[1]]), jt: c[2], jf: c[3], k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]) })
        .collect())
}

/// strerror, as bubblewrap's `die_with_error` prints it.
pub fn strerror(e: i32) -> String {
    let s = std::io::Error::from_raw_os_error(e).to_string();
    s.split(" (os error").next().unwrap_or(&s).to_string()
}

/// Take `--lock-file`'s read lock (bubblewrap's pid 1 does; we hold it
/// here, for as long as the sandbox runs).
fn lock(path: &str) -> Result<std::fs::File, String> {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(path).map_err(|e| format!("Unable to open lock file {path}: {}", strerror(e.raw_os_error().unwrap_or(libc::EIO))))?;
    let l = libc::flock { l_type: libc::F_RDLCK as i16, l_whence: libc::SEEK_SET as i16, l_start: 0, l_len: 0, l_pid: 0 };
    // SAFETY: a valid fd and flock.
    if unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLK, &l) } < 0 {
        return Err(format!("Unable to lock file {path}: {}", strerror(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))));
    }
    Ok(f)
}

/// Namespace ids as bubblewrap's `namespace_ids_write` lists them (only the
/// ones asked for; mnt always), from pid 1's own report: it is not
/// dumpable, so its /proc/PID/ns cannot be read from here.
fn namespace_ids(ids: &std::collections::BTreeMap<String, u64>, o: &Opts, cgroup: bool) -> Vec<(&'static str, u64)> {
    let wanted = [("cgroup", cgroup), ("ipc", o.unshare_ipc), ("mnt", true), ("net", o.unshare_net), ("pid", o.unshare_pid), ("uts", o.unshare_uts)];
    wanted.iter().filter(|(_, on)| *on).filter_map(|(name, _)| ids.get(*name).map(|id| (*name, *id))).collect()
}

fn write_fd(fd: i32, s: &str) {
    let _ = LinuxSys.write_fd(fd, s.as_bytes());
}

/// What bubblewrap says for our error report.
fn message(e: &sandbox_core::report::ErrorReport, argv0: &str) -> String {
    if e.code == Code::NsJoin {
        // `cannot enter the joinNs.user namespace fd 11: invalid argument`
        let rest = e.message.strip_prefix(sandbox_core::init::JOIN_PREFIX).unwrap_or(&e.message);
        let which = rest.split(' ').next().unwrap_or("");
        let why = capitalized(e.message.rsplit(": ").next().unwrap_or(""));
        return match which {
            "user" if why == "Invalid argument" => {
                "Joining the specified user namespace failed, it might not be a descendant of the current user namespace.".into()
            }
            "user" => format!("Joining specified user namespace failed: {why}"),
            "pid" => format!("Setting pidns failed: {why}"),
            "user2" => format!("Setting userns2 failed: {why}"),
            _ => e.message.clone(),
        };
    }
    // `cannot switch to uid 5 in the joined user namespace: invalid argument`
    if let Some(rest) = e.message.strip_prefix("cannot switch to ").filter(|r| r.contains(" in the joined user namespace: ")) {
        let (which, _) = rest.split_once(" in the joined").unwrap_or((rest, ""));
        let why = capitalized(e.message.rsplit(": ").next().unwrap_or(""));
        return format!("unable to switch to {which}: {why}");
    }
    if e.code == Code::Exec {
        let why = capitalized(e.message.rsplit(": ").next().unwrap_or(&e.message));
        return format!("execvp {argv0}: {why}");
    }
    e.message.clone()
}

/// Our errno text (`bad file descriptor`) as strerror has it.
fn capitalized(s: &str) -> String {
    let mut s = s.to_string();
    if let Some(c) = s.get(0..1) {
        s.replace_range(0..1, &c.to_uppercase());
    }
    s
}

/// Fork the launcher and be bubblewrap's monitor. Returns the exit status.
pub fn run(o: &Opts, uid: u32, log: Log) -> i32 {
    let die = |msg: String| {
        log.error(&msg);
        EXIT_FAILURE
    };
    let sys = LinuxSys;
    // bubblewrap's pre-flight on bind sources, in its words.
    for op in &o.ops {
        if let SetupOp::Bind { src, allow_missing: false, .. } = op {
            if let Err(e) = std::fs::metadata(src) {
                return die(format!("Can't find source path {src}: {}", strerror(e.raw_os_error().unwrap_or(libc::ENOENT))));
            }
        }
    }
    let cgroup = o.unshare_cgroup || (o.unshare_cgroup_try && std::fs::metadata("/proc/self/ns/cgroup").is_ok());
    let mut filters = Vec::new();
    for fd in o.seccomp_fd.iter().chain(&o.add_seccomp_fds) {
        match read_filter(*fd) {
            Ok(f) => filters.push(f),
            Err(m) => return die(m),
        }
    }
    if o.assert_userns_disabled && !o.disable_userns {
        // Our sandbox always has a user namespace of its own, in which a
        // nested one can be made unless --disable-userns filtered it.
        return die("creation of new user namespaces was not disabled as requested".into());
    }
    let mut locks = Vec::new();
    for p in &o.lock_files {
        match lock(p) {
            Ok(f) => locks.push(f),
            Err(m) => return die(m),
        }
    }
    // Fds bubblewrap reads or keeps for itself do not reach the program.
    // The namespace fds too: they stay with the launcher and pid 1.
    let mut consumed: Vec<i32> =
        [o.info_fd, o.json_status_fd, o.block_fd, o.userns_block_fd, o.sync_fd, o.userns_fd, o.userns2_fd, o.pidns_fd].iter().flatten().copied().collect();
    consumed.extend(&o.args_fds);
    for op in &o.ops {
        if let SetupOp::File { fd, .. } = op {
            consumed.push(*fd);
        }
    }
    let inherit: Vec<i32> = inheritable_fds().into_iter().filter(|fd| !consumed.contains(fd)).collect();
    let caller_cwd = std::env::current_dir().ok().and_then(|p| p.to_str().map(String::from));
    let caps = o.caps.unwrap_or(if uid == 0 { crate::caller_caps() } else { 0 });
    let plan = plan::to_plan(o, &inherit, caps, cgroup, uid == 0, caller_cwd.as_deref());
    if let Err(e) = sandbox_core::validate::validate(&plan).and_then(|_| sandbox_core::validate::preflight(&plan)) {
        return die(e.to_string());
    }
    // Our terminal rules (plan.rs) and, with --sandboxctl-defaults, our
    // default filter, loaded by pid 1; the caller's programs go on the
    // program alone, last.
    let compiled = match sandbox_core::seccomp::compile(&plan.seccomp, false) {
        Ok(c) => c,
        Err(e) => return die(format!("cannot compile the seccomp filter: {e}")),
    };
    let (mine, theirs) = match sys.socketpair() {
        Ok(p) => p,
        Err(e) => return die(format!("Can't create report socket: {}", strerror(e.0))),
    };
    // SAFETY: getgid cannot fail.
    let gid = unsafe { libc::getgid() };
    let parent = sys.getpid();
    let launched = sys.fork_child(&mut || {
        let _ = sys.close(mine);
        sandbox_core::sys::setup_signals();
        let cx = LaunchContext {
            plan: &plan,
            report_fd: Some(theirs),
            seccomp: &compiled,
            zygote_seccomp: &[],
            program_seccomp: &filters,
            seccomp_notify: None,
            env: Vec::new(),
            caller_cwd: caller_cwd.clone(),
            parent,
            runtime_dir: std::env::var("XDG_RUNTIME_DIR").ok(),
        };
        run_launcher(&sys, uid, gid, &cx)
    });
    let _ = sys.close(theirs);
    let launcher = match launched {
        Ok(p) => p,
        Err(e) => return die(format!("Creating new namespace failed: {}", strerror(e.0))),
    };
    if o.die_with_parent && sys.prctl(Prctl::SetPdeathsig(libc::SIGKILL)).is_err() {
        return die("prctl".into());
    }
    // The fds the program and pid 1 have now.
    for fd in o.ops.iter().filter_map(|op| if let SetupOp::File { fd, .. } = op { Some(*fd) } else { None }) {
        let _ = sys.close(fd);
    }
    // SAFETY: our end of the socket pair, owned from here.
    let reader = BufReader::new(unsafe { std::fs::File::from_raw_fd(mine) });
    let mut error = None;
    let mut started = false;
    // The launcher's `spawned` (pid 1's pid) and pid 1's `namespaces` and
    // `started` come in any order. child-pid names the program's process:
    // bubblewrap's child is dumpable once set up, so callers join its
    // namespaces through /proc/PID/ns (--userns, --pidns); our pid 1 is
    // not dumpable, and stays so. So the fds are written when the program
    // starts (with --as-pid-1 it is pid 1); with --block-fd or
    // --userns-block-fd the caller may wait for them before it lets the
    // sandbox go on, so they name pid 1 (the program does not exist yet) as
    // soon as it does; and pid 1's when the program never started or ended
    // before it was found.
    let early = o.userns_block_fd.is_some() || o.block_fd.is_some();
    let (mut child, mut ns, mut told) = (None, None, false);
    let tell = |pid: i32, ids: &std::collections::BTreeMap<String, u64>| {
        let ids = namespace_ids(ids, o, cgroup);
        if let Some(fd) = o.info_fd {
            let mut s = format!("{{\n    \"child-pid\": {pid}");
            for (n, id) in &ids {
                s.push_str(&format!(",\n    \"{n}-namespace\": {id}"));
            }
            s.push_str("\n}\n");
            write_fd(fd, &s);
            let _ = sys.close(fd);
        }
        if let Some(fd) = o.json_status_fd {
            let mut s = format!("{{ \"child-pid\": {pid}");
            for (n, id) in &ids {
                s.push_str(&format!(", \"{n}-namespace\": {id}"));
            }
            s.push_str(" }\n");
            write_fd(fd, &s);
        }
    };
    for line in reader.lines() {
        let Ok(line) = line else { break };
        match serde_json::from_str::<Report>(&line) {
            Ok(Report::Spawned { pid }) => child = Some(pid),
            Ok(Report::Namespaces { ids }) => ns = Some(ids),
            Ok(Report::Started) => started = true,
            Ok(Report::Error(e)) => error = Some(e),
            _ => {}
        }
        if let (false, Some(pid1), Some(ids)) = (told, child, ns.as_ref()) {
            if early || started {
                told = true;
                let pid = if early || o.as_pid_1 { pid1 } else { program_pid(pid1).unwrap_or(pid1) };
                tell(pid, ids);
            }
        }
    }
    if let (false, Some(pid1), Some(ids)) = (told, child, ns.as_ref()) {
        tell(pid1, ids);
    }
    let status = wait(launcher);
    drop(locks);
    if let Some(e) = error {
        return die(message(&e, &o.command[0]));
    }
    if started {
        if let Some(fd) = o.json_status_fd {
            write_fd(fd, &format!("{{ \"exit-code\": {status} }}\n"));
        }
        return status;
    }
    EXIT_FAILURE
}

/// The program's pid (in our pid namespace): pid 1's first child, the one
/// started earliest (orphans re-parented to pid 1 come later). Read from
/// /proc/PID/stat, which needs no ptrace access to pid 1. None when it has
/// ended already.
fn program_pid(pid1: i32) -> Option<i32> {
    let mut first: Option<(u64, i32)> = None;
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        if let Some((ppid, start)) = stat_parent_and_start(&stat) {
            if ppid == pid1 && first.is_none_or(|f| (start, pid) < f) {
                first = Some((start, pid));
            }
        }
    }
    first.map(|(_, pid)| pid)
}

/// ppid and starttime from a /proc/PID/stat line (proc(5): fields 4 and
/// 22; the command name before them may hold spaces and parentheses).
fn stat_parent_and_start(stat: &str) -> Option<(i32, u64)> {
    let (_, rest) = stat.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((f.get(1)?.parse().ok()?, f.get(19)?.parse().ok()?))
}

/// The launcher's exit status (bubblewrap's: 128+n for a signal).
fn wait(pid: i32) -> i32 {
    let mut st = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut st, 0) };
        if r == pid {
            break;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return EXIT_FAILURE;
        }
    }
    if libc::WIFEXITED(st) {
        libc::WEXITSTATUS(st)
    } else if libc::WIFSIGNALED(st) {
        128 + libc::WTERMSIG(st)
    } else {
        255
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_give_parent_and_start_time() {
        let line = "4242 (we (ird) name) S 17 4242 17 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 100";
        assert_eq!(stat_parent_and_start(line), Some((17, 987654)));
        assert_eq!(stat_parent_and_start("1 (x) S"), None);
        // This process is its parent's child, started after it.
        let me = std::process::id() as i32;
        let parent = std::os::unix::process::parent_id() as i32;
        let (ppid, _) = stat_parent_and_start(&std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap()).unwrap();
        assert_eq!(ppid, parent);
    }

    #[test]
    fn join_failures_take_bubblewraps_words() {
        use sandbox_core::error::Error;
        use sandbox_core::init::join_error;
        use sandbox_core::report::ErrorReport;
        use sandbox_core::sys::Errno;
        let said = |which: &str, e: i32| message(&ErrorReport::from(&Error::from(join_error(which, 11, Errno(e)))), "true");
        assert_eq!(said("user", libc::EINVAL), "Joining the specified user namespace failed, it might not be a descendant of the current user namespace.");
        assert_eq!(said("user", libc::EBADF), "Joining specified user namespace failed: Bad file descriptor");
        assert_eq!(said("pid", libc::EINVAL), "Setting pidns failed: Invalid argument");
        assert_eq!(said("user2", libc::EPERM), "Setting userns2 failed: Operation not permitted");
        // --uid/--gid with --userns: an id the joined namespace does not map.
        let switch = |what: &str| {
            let e = sandbox_core::error::SetupError::sys(Code::Setup, format_args!("switch to {what} in the joined user namespace"), Errno(libc::EINVAL));
            message(&ErrorReport::from(&Error::from(e)), "true")
        };
        assert_eq!(switch("uid 5"), "unable to switch to uid 5: Invalid argument");
        assert_eq!(switch("gid 7"), "unable to switch to gid 7: Invalid argument");
    }
}
