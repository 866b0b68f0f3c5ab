//! `sandboxctl-init join`: ranks that share one sandbox (`run --join`,
//! ch-run's `--join`, and `--join-pid`).
//!
//!   join --plan-fd N --tag TAG --count N --timeout-ms MS    a peer of group TAG
//!   join --plan-fd N --pid PID                              into the sandbox holding PID
//!
//! The plan comes on the report socket as for a run. A peer computes its
//! program's request from it (argv, its own environment through the plan's
//! policy, cwd), then finds the group's sandbox: the live sandbox
//! `join.TAG` in the caller's registry. The election is the registry's: the
//! peer whose launcher registers `join.TAG` (create-then-rename, atomic) is
//! the winner; its launcher becomes the sandbox's supervisor (detached, a
//! group of `count` peers that closes after the timeout) and runs no
//! program. Every peer, the winner too, then execs its program through the
//! control socket with `peer: true`: pid 1 forks them all, so the ranks
//! share the user, mount and pid namespaces and every restriction, and each
//! keeps its own stdio and environment. Each peer's client exits with its
//! own program's status; pid 1 ends after the last peer's program.
//!
//! Nothing is shared through /dev/shm: a peer killed with SIGKILL closes its
//! connection (pid 1 kills its program and counts it ended); a supervisor
//! killed so leaves an entry whose lock is free, which the next peer or
//! `ps` removes.

use crate::error::{Code, Error, SetupError};
use crate::init::EXIT_SETUP;
use crate::live::proto::ExecRequest;
use crate::live::registry::Registry;
use crate::plan::{LiveEnd, LiveSpec, Plan};
use crate::sys::{Fd, LinuxSys, Sys};
use crate::validate;
use std::os::fd::{AsRawFd, OwnedFd};

/// How a process joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinHow {
    Group { tag: String, count: u32, timeout_ms: u32 },
    Pid(i32),
}

/// What `join` is told on its command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinArgs {
    pub plan_fd: Fd,
    pub how: JoinHow,
    /// `--pass-fd FROM:TO`: this process's fd FROM becomes the program's fd
    /// TO (the launcher passes a rank's `PMI_FD`, PMI-2's socket to srun).
    pub pass: Vec<(Fd, Fd)>,
}

/// The most fds `--pass-fd` passes.
const MAX_PASS: usize = 8;

fn fail(report_fd: Option<Fd>, e: SetupError) -> ! {
    crate::report::error(&LinuxSys, report_fd, &Error::from(e));
    LinuxSys.exit(EXIT_SETUP)
}

fn usage(report_fd: Option<Fd>, msg: &str) -> ! {
    fail(
        report_fd,
        SetupError::new(
            Code::Usage,
            format!("{msg}\nusage: sandboxctl-init join --plan-fd N (--tag TAG --count N --timeout-ms MS | --pid PID) [--pass-fd FROM:TO]..."),
        ),
    )
}

/// Parse `join`'s arguments: the plan fd, how to join, the fds to pass.
pub fn parse(args: &[String]) -> Result<JoinArgs, String> {
    let (mut fd, mut tag, mut count, mut timeout, mut pid) = (None, None, None, 30_000u32, None);
    let mut pass: Vec<(Fd, Fd)> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
        let num = |what: &str| v.parse::<u32>().map_err(|_| format!("bad {what} {v:?}"));
        match a.as_str() {
            "--plan-fd" => fd = Some(num("--plan-fd")? as Fd),
            "--tag" => tag = Some(v.clone()),
            "--count" => count = Some(num("--count")?),
            "--timeout-ms" => timeout = num("--timeout-ms")?,
            "--pid" => pid = Some(num("--pid")? as i32),
            "--pass-fd" => {
                let bad = || format!("bad --pass-fd {v:?}: give FROM:TO, fd numbers from 3 to 1023, each TO once, at most {MAX_PASS}");
                let (from, to) = v.split_once(':').ok_or_else(bad)?;
                let (from, to) = (from.parse::<Fd>().map_err(|_| bad())?, to.parse::<Fd>().map_err(|_| bad())?);
                if !(3..1024).contains(&from) || !(3..1024).contains(&to) || pass.iter().any(|&(_, t)| t == to) || pass.len() == MAX_PASS {
                    return Err(bad());
                }
                pass.push((from, to));
            }
            s => return Err(format!("unknown option {s}")),
        }
    }
    let fd = fd.ok_or("--plan-fd is required")?;
    let how = match (tag, count, pid) {
        (None, None, Some(p)) if p > 0 => JoinHow::Pid(p),
        (Some(tag), Some(count), None) if count > 0 && timeout > 0 => {
            group_name(&tag)?;
            JoinHow::Group { tag, count, timeout_ms: timeout }
        }
        _ => return Err("give --tag, --count (at least 1) and --timeout-ms, or --pid alone".into()),
    };
    if pass.iter().any(|&(from, to)| from == fd || to == fd) {
        return Err(format!("--pass-fd cannot name the plan fd {fd}"));
    }
    Ok(JoinArgs { plan_fd: fd, how, pass })
}

/// Put each passed fd on its number in this process (the client sends fds
/// by their numbers here, which are the program's), close-on-exec like
/// every fd of ours; a source that is not open is an error.
pub fn place_passed(sys: &dyn Sys, pass: &[(Fd, Fd)]) -> Result<Vec<Fd>, SetupError> {
    let err = |from: Fd, e: crate::sys::Errno| SetupError::new(Code::Usage, format!("--pass-fd {from}: the fd is not open ({e})"));
    // First out of the way (a source may be another's target), then on their numbers.
    let mut moved = Vec::with_capacity(pass.len());
    for &(from, to) in pass {
        moved.push((sys.dup_above(from, 1024).map_err(|e| err(from, e))?, to));
        let _ = sys.close(from);
    }
    for &(tmp, to) in &moved {
        sys.dup_onto(tmp, to).map_err(|e| err(tmp, e))?;
        let _ = sys.close(tmp);
    }
    Ok(moved.iter().map(|&(_, to)| to).collect())
}

/// The registry name of group `tag`.
pub fn group_name(tag: &str) -> Result<String, String> {
    if tag.is_empty() {
        return Err("peer group tag cannot be empty".into());
    }
    let name = format!("join.{tag}");
    crate::check::check_sandbox_name(&name).map_err(|_| format!("bad peer group tag {tag:?}: use at most 58 letters, digits, '_', '.' or '-'"))?;
    Ok(name)
}

/// The program request of this peer: its plan's argv, its own environment
/// through the plan's policy (pid 1 applies the ch-run steps), its cwd.
/// A rank keeps its own CPU binding (srun's `--cpu-bind`, mpirun's
/// `--bind-to`) and its passed fds, as it would entering the namespaces itself.
pub fn request(plan: &Plan, launcher_env: &[String], peer: bool, cpus: Vec<u32>, pass_fds: Vec<Fd>) -> ExecRequest {
    ExecRequest {
        argv: plan.argv.clone(),
        env: super::program_env(plan, launcher_env),
        clear_env: true,
        cwd: plan.cwd.clone(),
        peer,
        cpus,
        pass_fds,
        ..Default::default()
    }
}

/// What a join refuses in a plan before anything starts.
pub fn check_plan(plan: &Plan) -> Result<(), SetupError> {
    let bad = |what: &str| Err(SetupError::new(Code::Usage, format!("--join cannot be combined with {what}")));
    if plan.live.is_some() {
        return bad("--name or --detach (the peer group's sandbox is named join.TAG)");
    }
    if plan.tty {
        return bad("--tty (each peer passes its own stdio)");
    }
    if !plan.fds.is_empty() || plan.status_fd.is_some() {
        return bad("passed file descriptors (--file FD, --json-status-fd, fds)");
    }
    if plan.audit.is_some() {
        return bad("the post-run audit (the agent preset)");
    }
    if plan.argv.is_empty() {
        return Err(SetupError::new(Code::Usage, "--join needs a program"));
    }
    Ok(())
}

/// The group's sandbox: this peer's plan without a program, registered as
/// `join.TAG`, detached, ending with its peers.
pub fn group_plan(plan: &Plan, name: &str, count: u32, timeout_ms: u32) -> Plan {
    let mut p = plan.clone();
    p.argv = Vec::new();
    p.argv0 = None;
    p.die_with_parent = false;
    p.live = Some(LiveSpec {
        name: name.to_string(),
        detach: true,
        end: LiveEnd::Group { count, timeout_ms },
        labels: [("joinTag".to_string(), name.trim_start_matches("join.").to_string())].into(),
    });
    p
}

/// `sandboxctl-init join ...`. Never returns.
pub fn main(args: &[String]) -> ! {
    crate::sys::setup_signals();
    // A peer whose caller is killed (kill -9 of its CLI) goes too: its
    // connection closes and pid 1 kills its program.
    let parent = LinuxSys.getppid();
    let _ = LinuxSys.prctl(crate::sys::Prctl::SetPdeathsig(libc::SIGKILL));
    if LinuxSys.getppid() != parent {
        LinuxSys.exit(EXIT_SETUP);
    }
    let JoinArgs { plan_fd: fd, how, pass } = parse(args).unwrap_or_else(|m| usage(None, &m));
    let bytes = super::entry::read_plan(&super::entry::PlanInput::Fd(fd)).unwrap_or_else(|e| fail(None, e));
    let report_fd = Some(fd);
    let plan = validate::check(&bytes).unwrap_or_else(|e| {
        crate::report::error(&LinuxSys, report_fd, &e.into());
        LinuxSys.exit(EXIT_SETUP)
    });
    check_plan(&plan).unwrap_or_else(|e| fail(report_fd, e));
    let pass_fds = place_passed(&LinuxSys, &pass).unwrap_or_else(|e| fail(report_fd, e));
    let cpus = crate::sys::affinity();
    let env = super::entry::environment();
    match how {
        JoinHow::Pid(pid) => {
            let name = find_by_pid(pid).unwrap_or_else(|e| fail(report_fd, e));
            crate::live::client::exec_to_end(&name, request(&plan, &env, false, cpus, pass_fds), report_fd)
        }
        JoinHow::Group { tag, count, timeout_ms } => {
            let name = group_name(&tag).unwrap_or_else(|m| usage(report_fd, &m));
            let conn = elect_and_connect(&plan, &name, count, timeout_ms).unwrap_or_else(|e| fail(report_fd, e));
            crate::live::client::exec_connected(conn, &name, request(&plan, &env, true, cpus, pass_fds), report_fd)
        }
    }
}

/// [`elect`], then connect to the group's sandbox. A group whose supervisor
/// was killed keeps its entry until its last process is gone: found ready,
/// then unreachable. That is not this peer's failure: elect again (the
/// entry goes, one peer builds the group anew) until the timeout.
fn elect_and_connect(plan: &Plan, name: &str, count: u32, timeout_ms: u32) -> Result<OwnedFd, SetupError> {
    let sys = LinuxSys;
    let deadline = sys.monotonic_ms() + timeout_ms as u64;
    loop {
        let left = deadline.saturating_sub(sys.monotonic_ms()).max(1);
        elect(plan, name, count, left.min(timeout_ms as u64) as u32)?;
        match crate::live::client::connect(name) {
            Ok(conn) => return Ok(conn),
            Err(e) if matches!(e.code, Code::SandboxNotFound | Code::SandboxClosed) && sys.monotonic_ms() < deadline => {
                let _ = sys.poll(&[], 20);
            }
            Err(e) => return Err(e),
        }
    }
}

/// The running sandbox of the caller's whose pid 1 is `pid` or an ancestor
/// of it (every process of a sandbox descends from its pid 1). The program
/// still goes in through the control socket: nobody calls setns.
pub fn find_by_pid(pid: i32) -> Result<String, SetupError> {
    let not_ours = || {
        SetupError::new(Code::Join, format!("pid {pid} is not in a running sandboxctl sandbox of yours"))
            .with_hint("`sandboxctl ps` lists them with their pid 1; --join-pid takes any process of one")
    };
    if std::fs::metadata(format!("/proc/{pid}")).is_err() {
        return Err(SetupError::new(Code::Join, format!("no process with pid {pid}")));
    }
    let reg = Registry::open()?;
    let sandboxes = reg.list();
    let mut p = pid;
    for _ in 0..4096 {
        if let Some(st) = sandboxes.iter().find(|s| s.pid1 == p) {
            return Ok(st.name.clone());
        }
        match parent_of(p) {
            Some(pp) if pp > 0 => p = pp,
            _ => break,
        }
    }
    Err(not_ours())
}

/// The parent pid from /proc/PID/stat (after the command's closing parenthesis).
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Find or become the group's sandbox: returns once `name` is running and
/// ready. The winner is whoever's launcher registers it first.
fn elect(plan: &Plan, name: &str, count: u32, timeout_ms: u32) -> Result<(), SetupError> {
    let sys = LinuxSys;
    let start = sys.monotonic_ms();
    let deadline = start + timeout_ms as u64;
    let tag = name.trim_start_matches("join.");
    loop {
        let reg = Registry::open()?;
        match reg.find(name) {
            Ok(_) => return Ok(()),
            Err(e) if e.code == Code::SandboxNotFound => {}
            Err(e) => return Err(e),
        }
        // Held but not ready: the winner is still building it.
        if !reg.held(name) {
            match launch_group(plan, name, count, timeout_ms) {
                Ok(()) => return Ok(()),
                Err(e) if e.code == Code::NameInUse => {}
                Err(e) => return Err(e),
            }
        }
        if sys.monotonic_ms() >= deadline {
            return Err(SetupError::new(
                Code::JoinTimeout,
                format!("peer group {tag}: the winner's sandbox did not come up within {} s", timeout_ms.div_ceil(1000)),
            )
            .with_hint("a peer that won the election died while building it, or is stuck; `sandboxctl ps` shows join.TAG"));
        }
        let _ = sys.poll(&[], wait_ms(sys.monotonic_ms() - start));
    }
}

/// How long a peer waits before it looks again for the group's sandbox,
/// `waited` ms after it first looked: a winner builds it in 5-20 ms (an
/// image's FUSE server included), so the peers look every 2 ms for the
/// first half second (at 20 ms they lost 10 ms on average, a third of a
/// group's start: bench/README.md), then every 20 ms for a winner that is slow.
pub fn wait_ms(waited: u64) -> i32 {
    if waited < 500 {
        2
    } else {
        20
    }
}

/// Start the group's sandbox: a launcher of our own binary, detached once
/// ready, its stdio /dev/null (it must not hold srun's pipes open). Ok once
/// it reported `ready`; its error otherwise (`E_NAME_IN_USE`: another peer won).
fn launch_group(plan: &Plan, name: &str, count: u32, timeout_ms: u32) -> Result<(), SetupError> {
    let err = |what: &str, e: std::io::Error| SetupError::new(Code::Setup, format!("cannot {what}: {e}"));
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().map_err(|e| err("create the report socket", e))?;
    let theirs_fd: OwnedFd = theirs.into();
    let line = format!("{}\n", serde_json::to_string(&group_plan(plan, name, count, timeout_ms)).expect("a plan serializes"));
    let exe = std::fs::read_link("/proc/self/exe").map_err(|e| err("find sandboxctl-init", e))?;
    let raw = theirs_fd.as_raw_fd();
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["--plan-fd", "3"]).stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    // SAFETY: between fork and exec only dup2 (async-signal-safe).
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || if libc::dup2(raw, 3) < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) });
    }
    let mut child = cmd.spawn().map_err(|e| err("start the group's launcher", e))?;
    drop(theirs_fd);
    use std::io::{BufRead, Write};
    (&ours).write_all(line.as_bytes()).map_err(|e| err("send the plan", e))?;
    let mut reader = std::io::BufReader::new(&ours);
    let mut failure = None;
    let mut buf = String::new();
    loop {
        buf.clear();
        match reader.read_line(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        match serde_json::from_str::<crate::report::Report>(&buf) {
            Ok(crate::report::Report::Ready { .. }) => {
                // The supervisor runs on, detached; we do not wait for it.
                std::mem::forget(child);
                return Ok(());
            }
            Ok(crate::report::Report::Error(r)) => {
                let mut e = SetupError::new(r.code, r.message);
                if let Some(h) = r.hint {
                    e = e.with_hint(h);
                }
                failure.get_or_insert(e);
            }
            _ => {}
        }
    }
    let _ = child.wait();
    Err(failure.unwrap_or_else(|| SetupError::new(Code::Setup, "the peer group's launcher ended before its sandbox was ready")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments_are_checked_before_anything() {
        assert_eq!(
            parse(&args(&["--plan-fd", "3", "--tag", "foo", "--count", "4", "--timeout-ms", "500"])).unwrap(),
            JoinArgs { plan_fd: 3, how: JoinHow::Group { tag: "foo".into(), count: 4, timeout_ms: 500 }, pass: vec![] }
        );
        assert_eq!(parse(&args(&["--plan-fd", "3", "--pid", "77"])).unwrap(), JoinArgs { plan_fd: 3, how: JoinHow::Pid(77), pass: vec![] });
        assert_eq!(parse(&args(&["--plan-fd", "3", "--pid", "77", "--pass-fd", "4:13", "--pass-fd", "5:4"])).unwrap().pass, vec![(4, 13), (5, 4)]);
        for bad in [
            &["--plan-fd", "3"][..],
            &["--tag", "foo", "--count", "4"],
            &["--plan-fd", "3", "--tag", "foo", "--count", "0"],
            &["--plan-fd", "3", "--tag", "", "--count", "2"],
            &["--plan-fd", "3", "--tag", "a/b", "--count", "2"],
            &["--plan-fd", "3", "--tag", "foo", "--count", "2", "--pid", "5"],
            &["--plan-fd", "3", "--pid", "0"],
            &["--plan-fd", "3", "--tag", "foo", "--count", "2", "--timeout-ms", "0"],
            &["--plan-fd", "3", "--bogus", "1"],
            &["--plan-fd", "3", "--pid", "7", "--pass-fd", "4"],
            &["--plan-fd", "3", "--pid", "7", "--pass-fd", "4:x"],
            &["--plan-fd", "3", "--pid", "7", "--pass-fd", "4:2"],
            &["--plan-fd", "3", "--pid", "7", "--pass-fd", "1:9"],
            &["--plan-fd", "3", "--pid", "7", "--pass-fd", "4:1024"],
            &["--plan-fd", "3", "--pid", "7", "--pass-fd", "4:3"],
            &["--plan-fd", "3", "--pid", "7", "--pass-fd", "3:9"],
            &["--plan-fd", "3", "--pid", "7", "--pass-fd", "4:9", "--pass-fd", "5:9"],
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_group_plan_has_no_program_and_outlives_its_peers() {
        let mut plan = Plan::new(vec!["hostname".into()]);
        assert!(check_plan(&plan).is_ok());
        let g = group_plan(&plan, "join.7.0", 4, 30_000);
        assert!(g.argv.is_empty() && !g.die_with_parent);
        let live = g.live.unwrap();
        assert_eq!((live.name.as_str(), live.detach, live.end), ("join.7.0", true, LiveEnd::Group { count: 4, timeout_ms: 30_000 }));
        plan.tty = true;
        assert_eq!(check_plan(&plan).unwrap_err().code, Code::Usage);
        plan.tty = false;
        plan.fds = vec![crate::plan::FdPass { fd: 5, target: None }];
        assert_eq!(check_plan(&plan).unwrap_err().code, Code::Usage);
    }

    #[test]
    fn a_peer_sends_its_own_environment_through_the_plan_policy() {
        let mut plan = Plan::new(vec!["true".into()]);
        plan.env.unset = vec!["SECRET".into()];
        let r = request(&plan, &["SLURM_PROCID=3".into(), "SECRET=x".into()], true, vec![1], vec![13]);
        assert!(r.peer && r.clear_env);
        assert_eq!((r.cpus, r.pass_fds), (vec![1], vec![13]));
        assert_eq!(r.env, vec!["SLURM_PROCID=3".to_string()]);
        assert_eq!(group_name("x").unwrap(), "join.x");
        assert!(group_name(&"a".repeat(59)).is_err());
    }

    #[test]
    fn a_launcher_error_line_is_read_with_its_code() {
        let line =
            crate::report::Report::Error(crate::report::ErrorReport { code: Code::NameInUse, message: "taken".into(), op_index: None, path: None, hint: None })
                .line();
        assert!(matches!(serde_json::from_str::<crate::report::Report>(&line), Ok(crate::report::Report::Error(r)) if r.code == Code::NameInUse));
    }

    #[test]
    fn passed_fds_are_moved_out_of_the_way_then_placed_on_their_numbers() {
        use crate::sys::script::{Ret, Script};
        // 4 -> 5 and 5 -> 4: a swap, through copies above 1024.
        let sys = Script::new(vec![
            ("dup_above(4, 1024)", Ret::Fd(1024)),
            ("close(4)", Ret::Ok),
            ("dup_above(5, 1024)", Ret::Fd(1025)),
            ("close(5)", Ret::Ok),
            ("dup_onto(1024, 5)", Ret::Ok),
            ("close(1024)", Ret::Ok),
            ("dup_onto(1025, 4)", Ret::Ok),
            ("close(1025)", Ret::Ok),
        ]);
        assert_eq!(place_passed(&sys, &[(4, 5), (5, 4)]).unwrap(), vec![5, 4]);
        sys.done();
        // A source that is not open is the caller's mistake, named.
        let sys = Script::new(vec![("dup_above(9, 1024)", Ret::Err(libc::EBADF))]);
        let e = place_passed(&sys, &[(9, 13)]).unwrap_err();
        assert_eq!(e.code, Code::Usage);
        assert!(e.to_string().contains("--pass-fd 9"), "{e}");
        sys.done();
        let sys = Script::new(vec![("dup_above(4, 1024)", Ret::Fd(1024)), ("close(4)", Ret::Ok), ("dup_onto(1024, 13)", Ret::Err(libc::EMFILE))]);
        assert_eq!(place_passed(&sys, &[(4, 13)]).unwrap_err().code, Code::Usage);
        sys.done();
    }

    #[test]
    fn peers_look_often_while_a_winner_builds_then_rarely() {
        assert_eq!((wait_ms(0), wait_ms(499)), (2, 2));
        assert_eq!((wait_ms(500), wait_ms(30_000)), (20, 20));
    }

    #[test]
    fn this_processs_cpus_are_read() {
        let cpus = crate::sys::affinity();
        assert!(!cpus.is_empty() && cpus.windows(2).all(|w| w[0] < w[1]), "{cpus:?}");
    }

    #[test]
    fn the_parent_of_this_process_is_read_from_proc() {
        assert_eq!(parent_of(std::process::id() as i32), Some(nix::unistd::getppid().as_raw()));
    }
}
