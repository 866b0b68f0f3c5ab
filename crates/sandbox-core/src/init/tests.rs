//! init through the call script: the whole sequence in order, every fatal
//! branch (each fallible call fails in turn with a unique errno marker), the
//! reaper and the launcher.

use super::*;
use crate::launch::{run_launcher, LaunchContext};
use crate::plan::{Op, TmpfsOp};
use crate::sys::script::{expect_exit, Ret, Script};
use crate::sys::{Errno, ExecFailure, ExitStatus};

fn plan() -> Plan {
    let mut p = Plan::new(vec!["/bin/true".into()]);
    p.hostname = Some("box".into());
    p.ops.push(Op::Tmpfs(TmpfsOp { target: "/tmp".into(), size: None, mode: 0o755, read_only: false }));
    p
}

fn progs() -> &'static [Vec<libc::sock_filter>] {
    Box::leak(Box::new(vec![vec![libc::sock_filter { code: 6, jt: 0, jf: 0, k: 0x7fff_0000 }]]))
}

fn cx(plan: &Plan) -> InitContext<'_> {
    InitContext {
        plan,
        host_uid: 1000,
        host_gid: 1001,
        caller_cwd: None,
        report_fd: None,
        seccomp: progs(),
        zygote_seccomp: &[],
        bounded: false,
        program_seccomp: &[],
        env: vec!["PATH=/usr/bin".into()],
        tty_sock: None,
        image_mount: None,
        live_chan: None,
        env_steps: Vec::new(),
        net_sock: None,
        seccomp_notify: None,
    }
}

fn c(s: impl Into<String>, r: Ret) -> (String, Ret) {
    (s.into(), r)
}

/// Every call of a successful init up to and including the spawn.
fn setup_calls() -> Vec<(String, Ret)> {
    let mut v = vec![
        c("getpid()", Ret::Int(1)),
        c("prctl(SetPtracerNone)", Ret::Ok),
        c("hide_cmdline()", Ret::Ok),
        c("prctl(SetPdeathsig(9))", Ret::Ok),
        c("loopback_up()", Ret::Ok),
        c("prctl(SetDumpable(true))", Ret::Ok),
        c("write_file(\"/proc/self/uid_map\", \"1000 1000 1\\n\")", Ret::Ok),
        c("write_file(\"/proc/self/setgroups\", \"deny\\n\")", Ret::Ok),
        c("write_file(\"/proc/self/gid_map\", \"1001 1001 1\\n\")", Ret::Ok),
        c("prctl(SetDumpable(false))", Ret::Ok),
        c("umask(0)", Ret::Int(0o22)),
        c("sethostname(\"box\")", Ret::Ok),
        c("read_file(\"/proc/sys/kernel/cap_last_cap\")", Ret::Bytes(b"40\n".to_vec())),
        c("mount(-, \"/\", -, REC|SLAVE, -)", Ret::Ok),
        c("mount(\"tmpfs\", \"/proc/self/fd\", \"tmpfs\", NOSUID|NODEV, \"mode=700\")", Ret::Ok),
        c("chdir(\"/proc/self/fd\")", Ret::Ok),
        c("mkdir(\"sysroot\", 755)", Ret::Ok),
        c("mount(\"tmpfs\", \"sysroot\", \"tmpfs\", NOSUID|NODEV, \"mode=755\")", Ret::Ok),
        c("mkdir(\"host\", 755)", Ret::Ok),
        c("pivot_root(\".\", \"host\")", Ret::Ok),
        c("chdir(\"/\")", Ret::Ok),
        c(format!("open(\"/sysroot\", {:#o})", libc::O_PATH | libc::O_DIRECTORY), Ret::Fd(3)),
        c(format!("open_in_root(3, \"/tmp\", {:#o})", libc::O_DIRECTORY), Ret::Fd(5)),
        c("mount(\"tmpfs\", \"/host/proc/self/fd/5\", \"tmpfs\", NOSUID|NODEV, \"mode=755\")", Ret::Ok),
        c("close(5)", Ret::Ok),
        c("close(3)", Ret::Ok),
        c("mount(-, \"/host\", -, REC|PRIVATE, -)", Ret::Ok),
        c("umount2(\"/host\", 2)", Ret::Ok),
        c(format!("open(\"/\", {:#o})", libc::O_DIRECTORY | libc::O_RDONLY), Ret::Fd(4)),
        c("chdir(\"/sysroot\")", Ret::Ok),
        c("pivot_root(\".\", \".\")", Ret::Ok),
        c("fchdir(4)", Ret::Ok),
        c("umount2(\".\", 2)", Ret::Ok),
        c("chdir(\"/\")", Ret::Ok),
        c("close(4)", Ret::Ok),
        c("prctl(CapAmbientClearAll)", Ret::Ok),
    ];
    for cap in 0..=40 {
        v.push(c(format!("prctl(CapBsetDrop({cap}))"), Ret::Ok));
    }
    v.extend([
        c("capset(0x0)", Ret::Ok),
        c("prctl(SetNoNewPrivs)", Ret::Ok),
        c("landlock_scope(0x3)", Ret::Ok),
        c("seccomp_load(1 insns)", Ret::Ok),
        c("umask(22)", Ret::Int(0)),
        c("spawn([\"/bin/true\"], cwd=\"/\", session=true)", Ret::Int(2)),
    ]);
    v
}

#[test]
fn the_whole_sequence_in_order() {
    let p = plan();
    let mut calls = setup_calls();
    calls.extend([c("reap()", Ret::Reaped(2, ExitStatus::Exited(42))), c("monotonic_ms()", Ret::Int(1000)), c("reap()", Ret::Err(libc::ECHILD))]);
    let s = Script::new(calls);
    assert_eq!(expect_exit(|| run_init(&s, &cx(&p))), 42);
    s.done();
    assert!(s.logs().is_empty(), "{:?}", s.logs());
}

/// Calls whose failure init deliberately tolerates.
fn tolerated(call: &str) -> bool {
    call == "prctl(SetPtracerNone)" || call == "close(5)" || call == "close(3)"
}

#[test]
fn every_fallible_call_is_a_fatal_branch_with_its_own_error() {
    let p = plan();
    let calls = setup_calls();
    let mut fatal = 0;
    for i in 0..calls.len() {
        let (call, ret) = &calls[i];
        // Infallible calls return plain values.
        if matches!(ret, Ret::Int(_)) && !call.starts_with("spawn") || call.starts_with("umask") {
            continue;
        }
        let marker = 20_000 + i as i32;
        let mut script: Vec<(String, Ret)> = calls[..i].to_vec();
        let injected = if call.starts_with("spawn") { Ret::ExecFailed(Some(2), ExecFailure::Exec(Errno(marker))) } else { Ret::Err(marker) };
        script.push((call.clone(), injected));
        // A failed mount onto a target fd still closes that fd.
        if call.contains("/host/proc/self/fd/5") {
            script.push(c("close(5)", Ret::Ok));
        }
        let s = Script::new(script);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| expect_exit(|| run_init(&s, &cx(&p)))));
        if tolerated(call) {
            // Init goes on past a tolerated failure: the script runs out.
            let msg = r.expect_err("tolerated failure must not exit");
            let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
            assert!(msg.contains("script exhausted"), "{call}: {msg}");
            continue;
        }
        let code = r.unwrap_or_else(|_| panic!("{call}: init did not exit"));
        let want = if call.starts_with("spawn") { 126 } else { EXIT_SETUP };
        assert_eq!(code, want, "{call}");
        let logs = s.logs().join("\n");
        assert!(logs.contains(&format!("error {marker}")), "{call}: the injected error did not surface: {logs}");
        let code_name = if call.starts_with("spawn") {
            "E_EXEC"
        } else if call.starts_with("mount") || call.starts_with("pivot") || call.starts_with("umount") || call.starts_with("open_in_root") {
            "E_MOUNT"
        } else {
            "E_SETUP"
        };
        assert!(logs.starts_with(code_name), "{call}: {logs}");
        s.done();
        fatal += 1;
    }
    assert!(fatal > 70, "only {fatal} fatal branches driven");
}

#[test]
fn not_pid_1_is_fatal() {
    let p = plan();
    let s = Script::new(vec![c("getpid()", Ret::Int(7))]);
    assert_eq!(expect_exit(|| run_init(&s, &cx(&p))), EXIT_SETUP);
    assert_eq!(s.logs(), ["E_SETUP: this process must run as pid 1"]);
}

#[test]
fn bad_cap_last_cap_is_fatal() {
    let p = plan();
    let mut calls: Vec<_> = setup_calls().into_iter().take_while(|(c, _)| !c.starts_with("read_file")).collect();
    calls.push(c("read_file(\"/proc/sys/kernel/cap_last_cap\")", Ret::Bytes(b"many".to_vec())));
    let s = Script::new(calls);
    assert_eq!(expect_exit(|| run_init(&s, &cx(&p))), EXIT_SETUP);
    assert_eq!(s.logs(), ["E_SETUP: cannot parse /proc/sys/kernel/cap_last_cap"]);
}

#[test]
fn setgroups_may_be_absent() {
    let p = plan();
    let mut calls = setup_calls();
    let at = calls.iter().position(|(c, _)| c.contains("/proc/self/setgroups")).expect("the setgroups write");
    calls[at].1 = Ret::Err(libc::ENOENT);
    calls.extend([c("reap()", Ret::Reaped(2, ExitStatus::Exited(0))), c("monotonic_ms()", Ret::Int(0)), c("reap()", Ret::Err(libc::ECHILD))]);
    let s = Script::new(calls);
    assert_eq!(expect_exit(|| run_init(&s, &cx(&p))), 0);
    s.done();
}

#[test]
fn errors_go_to_the_report_socket_with_code_and_op_index() {
    let p = plan();
    let mut calls: Vec<_> = setup_calls().into_iter().take_while(|(c, _)| !c.starts_with("mount(\"tmpfs\", \"/host")).collect();
    calls.push(c("mount(\"tmpfs\", \"/host/proc/self/fd/5\", \"tmpfs\", NOSUID|NODEV, \"mode=755\")", Ret::Err(libc::EPERM)));
    calls.push(c("close(5)", Ret::Ok));
    calls.push(c(
        "write_fd(9, \"{\\\"event\\\":\\\"error\\\",\\\"code\\\":\\\"E_MOUNT\\\",\\\"message\\\":\\\"cannot mount tmpfs on /tmp: operation not permitted\\\",\\\"opIndex\\\":0}\\n\")",
        Ret::Ok,
    ));
    let s = Script::new(calls);
    let mut cx = cx(&p);
    cx.report_fd = Some(9);
    assert_eq!(expect_exit(|| run_init(&s, &cx)), EXIT_SETUP);
    s.done();
}

#[test]
fn started_is_reported_and_the_socket_closed_before_reaping() {
    let p = plan();
    let mut calls = setup_calls();
    calls.extend([
        c("write_fd(9, \"{\\\"event\\\":\\\"started\\\"}\\n\")", Ret::Ok),
        c("close(9)", Ret::Ok),
        c("reap()", Ret::Reaped(2, ExitStatus::Signaled(9))),
        c("monotonic_ms()", Ret::Int(0)),
        c("reap()", Ret::Err(libc::ECHILD)),
    ]);
    let s = Script::new(calls);
    let mut cx = cx(&p);
    cx.report_fd = Some(9);
    assert_eq!(expect_exit(|| run_init(&s, &cx)), 137);
    s.done();
}

#[test]
fn program_not_found_is_127_with_e_exec() {
    let p = plan();
    let mut calls = setup_calls();
    calls.last_mut().unwrap().1 = Ret::ExecFailed(Some(2), ExecFailure::Exec(Errno(libc::ENOENT)));
    let s = Script::new(calls);
    assert_eq!(expect_exit(|| run_init(&s, &cx(&p))), 127);
    assert_eq!(s.logs(), ["E_EXEC: cannot execute /bin/true: no such file or directory"]);
}

#[test]
fn explicit_cwd_is_required_caller_cwd_is_not() {
    let mut p = plan();
    p.cwd = Some("/work".into());
    let mut calls = setup_calls();
    calls.last_mut().unwrap().0 = "spawn([\"/bin/true\"], cwd=\"/work\", session=true)".into();
    calls.last_mut().unwrap().1 = Ret::ExecFailed(Some(2), ExecFailure::Chdir(Errno(libc::ENOENT)));
    let s = Script::new(calls);
    assert_eq!(expect_exit(|| run_init(&s, &cx(&p))), 127);
    assert_eq!(s.logs(), ["E_EXEC: cannot enter working directory /work: no such file or directory"]);
}

fn reap_only(calls: Vec<(String, Ret)>, linger: u32) -> (i32, Vec<String>) {
    let mut p = plan();
    p.linger_ms = linger;
    let s = Script::new(calls);
    let code = expect_exit(|| reap(&s, &p, 2));
    s.done();
    (code, s.logs())
}

#[test]
fn reaper_forwards_signals_and_reaps_orphans() {
    let (code, logs) = reap_only(
        vec![
            c("reap()", Ret::NoneYet),
            c("wait_signal(None)", Ret::Signal(Some(libc::SIGTERM))),
            c("kill(2, 15)", Ret::Ok),
            c("reap()", Ret::NoneYet),
            c("wait_signal(None)", Ret::Signal(Some(libc::SIGCHLD))),
            // an orphaned grandchild re-parented to us
            c("reap()", Ret::Reaped(17, ExitStatus::Exited(0))),
            // A stop was asked: the program's end ends the sandbox, no linger.
            c("reap()", Ret::Reaped(2, ExitStatus::Signaled(libc::SIGTERM))),
        ],
        5000,
    );
    assert_eq!(code, 128 + libc::SIGTERM);
    assert!(logs.is_empty());
}

#[test]
fn a_program_that_traps_the_stop_and_exits_ends_the_sandbox_with_its_status_at_once() {
    // `--timeout`'s SIGTERM (or a Ctrl-C) passed on; the program cleans up and
    // exits 7 while a background child still runs: no linger, status 7.
    let (code, logs) = reap_only(
        vec![
            c("reap()", Ret::NoneYet),
            c("wait_signal(None)", Ret::Signal(Some(libc::SIGINT))),
            c("kill(2, 2)", Ret::Ok),
            c("reap()", Ret::Reaped(2, ExitStatus::Exited(7))),
        ],
        5000,
    );
    assert_eq!(code, 7);
    assert!(logs.is_empty());
    // Another signal (SIGUSR1) is passed on but is no stop: the linger stays.
    let (code, _) = reap_only(
        vec![
            c("reap()", Ret::NoneYet),
            c("wait_signal(None)", Ret::Signal(Some(libc::SIGUSR1))),
            c("kill(2, 10)", Ret::Ok),
            c("reap()", Ret::Reaped(2, ExitStatus::Exited(0))),
            c("monotonic_ms()", Ret::Int(0)),
            c("reap()", Ret::Err(libc::ECHILD)),
        ],
        5000,
    );
    assert_eq!(code, 0);
}

#[test]
fn lingering_processes_are_given_the_delay_then_killed() {
    let (code, logs) = reap_only(
        vec![
            c("reap()", Ret::Reaped(2, ExitStatus::Exited(3))),
            c("monotonic_ms()", Ret::Int(1000)),
            c("reap()", Ret::NoneYet),
            c("monotonic_ms()", Ret::Int(1200)),
            c("wait_signal(Some(4800))", Ret::Signal(None)),
            c("reap()", Ret::NoneYet),
            c("monotonic_ms()", Ret::Int(6000)),
        ],
        5000,
    );
    assert_eq!(code, 3);
    assert_eq!(logs, ["timeout exceeded waiting for lingering processes; killing them"]);
}

#[test]
fn a_signal_after_the_program_exited_ends_the_sandbox() {
    let (code, _) = reap_only(
        vec![
            c("reap()", Ret::Reaped(2, ExitStatus::Exited(0))),
            c("monotonic_ms()", Ret::Int(0)),
            c("reap()", Ret::NoneYet),
            c("monotonic_ms()", Ret::Int(10)),
            c("wait_signal(Some(4990))", Ret::Signal(Some(libc::SIGINT))),
        ],
        5000,
    );
    assert_eq!(code, 0);
}

#[test]
fn unexpected_wait4_error_exits_2() {
    let (code, logs) = reap_only(vec![c("reap()", Ret::Err(20_999))], 5000);
    assert_eq!(code, EXIT_UNEXPECTED_WAIT);
    assert_eq!(logs, ["unexpected wait4 response: error 20999"]);
    let (code, logs) = reap_only(vec![c("reap()", Ret::NoneYet), c("wait_signal(None)", Ret::Err(20_998))], 5000);
    assert_eq!(code, EXIT_UNEXPECTED_WAIT);
    assert_eq!(logs, ["cannot wait for signals: error 20998"]);
}

fn lcx(plan: &Plan) -> LaunchContext<'_> {
    LaunchContext {
        plan,
        report_fd: None,
        seccomp: &[],
        zygote_seccomp: &[],
        program_seccomp: &[],
        seccomp_notify: None,
        env: vec![],
        caller_cwd: None,
        parent: 77,
        runtime_dir: Some("/run/user/1000".into()),
    }
}

const FLAGS: &str = "clone_sandbox(0x7e020000)";

#[test]
fn launcher_waits_for_pid1_and_forwards_signals() {
    let p = plan();
    let s = Script::new(vec![
        c("prctl(SetPdeathsig(9))", Ret::Ok),
        c("getppid()", Ret::Int(77)),
        c(FLAGS, Ret::Int(4242)),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGINT))),
        c("kill(4242, 2)", Ret::Ok),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGCHLD))),
        c("reap()", Ret::Reaped(4242, ExitStatus::Exited(130))),
    ]);
    assert_eq!(expect_exit(|| run_launcher(&s, 1000, 1000, &lcx(&p))), 130);
    s.done();
}

#[test]
fn launcher_clone_flags_follow_the_plan() {
    let mut p = plan();
    p.network = crate::plan::Network::HOST;
    p.namespaces.cgroup = false;
    let f = crate::launch::clone_flags(&p);
    assert_eq!(f & libc::CLONE_NEWNET as u64, 0);
    assert_eq!(f & libc::CLONE_NEWCGROUP as u64, 0);
    assert_ne!(f & libc::CLONE_NEWUSER as u64, 0);
    assert_eq!(FLAGS, format!("clone_sandbox({:#x})", crate::launch::clone_flags(&plan())));
}

#[test]
fn launcher_userns_refused_is_e_userns_unavailable_with_the_sysctl() {
    let p = plan();
    let s = Script::new(vec![
        c("prctl(SetPdeathsig(9))", Ret::Ok),
        c("getppid()", Ret::Int(77)),
        c(FLAGS, Ret::Err(libc::EPERM)),
        c("read_file(\"/proc/sys/kernel/apparmor_restrict_unprivileged_userns\")", Ret::Bytes(b"1\n".to_vec())),
        c("read_file(\"/proc/sys/kernel/unprivileged_userns_clone\")", Ret::Err(libc::ENOENT)),
        c("read_file(\"/proc/sys/user/max_user_namespaces\")", Ret::Bytes(b"15000\n".to_vec())),
    ]);
    assert_eq!(expect_exit(|| run_launcher(&s, 1000, 1000, &lcx(&p))), EXIT_SETUP);
    s.done();
    let logs = s.logs();
    assert_eq!(logs[0], "E_USERNS_UNAVAILABLE: cannot create a user namespace: operation not permitted");
    assert!(logs[1].contains("kernel.apparmor_restrict_unprivileged_userns=0"), "{logs:?}");
}

#[test]
fn launcher_exits_when_its_parent_already_died() {
    let p = plan();
    let s = Script::new(vec![c("prctl(SetPdeathsig(9))", Ret::Ok), c("getppid()", Ret::Int(1))]);
    assert_eq!(expect_exit(|| run_launcher(&s, 1000, 1000, &lcx(&p))), EXIT_SETUP);
    s.done();
}

#[test]
fn launcher_other_clone_failure_and_pdeathsig_failure() {
    let p = plan();
    let s = Script::new(vec![c("prctl(SetPdeathsig(9))", Ret::Ok), c("getppid()", Ret::Int(77)), c(FLAGS, Ret::Err(libc::ENOMEM))]);
    assert_eq!(expect_exit(|| run_launcher(&s, 1000, 1000, &lcx(&p))), EXIT_SETUP);
    assert_eq!(s.logs(), ["E_SETUP: cannot create the sandbox process: cannot allocate memory"]);
    let s = Script::new(vec![c("prctl(SetPdeathsig(9))", Ret::Err(20_100))]);
    assert_eq!(expect_exit(|| run_launcher(&s, 1000, 1000, &lcx(&p))), EXIT_SETUP);
    assert_eq!(s.logs(), ["E_SETUP: cannot set the parent-death signal: error 20100"]);
}

#[test]
fn program_env_applies_inherit_unset_and_set() {
    let mut p = plan();
    p.env.unset = vec!["SECRET".into()];
    p.env.set.insert("A".into(), "1".into());
    let base = vec!["PATH=/bin".to_string(), "SECRET=x".into(), "A=0".into()];
    assert_eq!(crate::launch::program_env(&p, &base), ["PATH=/bin", "A=1"]);
    p.env.inherit = false;
    assert_eq!(crate::launch::program_env(&p, &base), ["A=1"]);
}

/// plan.tty: the init sequence with pid 1's pty calls after the root is
/// built (the second pivot done) and the slave handed to the program.
fn tty_calls() -> Vec<(String, Ret)> {
    let mut v = setup_calls();
    let at = v.iter().position(|(c, _)| c == "close(4)").unwrap() + 1;
    v.splice(
        at..at,
        [
            c("open_pty(\"/dev/ptmx\")", Ret::Pair(6, 7)),
            c("winsize(0)", Ret::Size(40, 120)),
            c("set_winsize(6, 40x120)", Ret::Ok),
            c("send_fd(8, 6)", Ret::Ok),
            c("close(6)", Ret::Ok),
            c("close(8)", Ret::Ok),
        ],
    );
    v.last_mut().unwrap().0 = "spawn([\"/bin/true\"], cwd=\"/\", session=true, tty=7)".into();
    v
}

fn tty_cx(plan: &Plan) -> InitContext<'_> {
    let mut cx = cx(plan);
    cx.tty_sock = Some(8);
    cx
}

#[test]
fn tty_pid1_opens_the_pty_in_the_new_root_and_gives_the_program_the_slave() {
    let mut p = plan();
    p.tty = true;
    let mut calls = tty_calls();
    calls.extend([
        // pid 1 lets go of the slave: the program's exit then ends the master's reads.
        c("close(7)", Ret::Ok),
        c("reap()", Ret::Reaped(2, ExitStatus::Exited(3))),
        c("monotonic_ms()", Ret::Int(0)),
        c("reap()", Ret::Err(libc::ECHILD)),
    ]);
    let s = Script::new(calls);
    assert_eq!(expect_exit(|| run_init(&s, &tty_cx(&p))), 3);
    s.done();
    assert!(s.logs().is_empty(), "{:?}", s.logs());
}

#[test]
fn tty_an_unknown_window_size_is_left_alone() {
    let mut p = plan();
    p.tty = true;
    let mut calls = tty_calls();
    let at = calls.iter().position(|(c, _)| c == "winsize(0)").unwrap();
    calls[at].1 = Ret::Err(libc::ENOTTY);
    calls.remove(at + 1);
    calls.extend([c("close(7)", Ret::Ok), c("reap()", Ret::Err(libc::ECHILD))]);
    let s = Script::new(calls);
    assert_eq!(expect_exit(|| run_init(&s, &tty_cx(&p))), EXIT_UNEXPECTED_WAIT);
    s.done();
}

fn with_placeholders(p: &mut Plan) {
    use crate::plan::{PlaceholderOp, PlaceholderType};
    let op = |target: &str, kind| Op::Placeholder(PlaceholderOp { target: target.into(), kind, base: Some("/p".into()) });
    p.ops.push(op("/p/.mcp.json", PlaceholderType::File));
    p.ops.push(op("/p/.vscode", PlaceholderType::Dir));
    p.ops.push(op("/p/.idea", PlaceholderType::Dir));
}

#[test]
fn launcher_makes_stand_ins_before_clone_and_removes_its_own_after_pid1_exits() {
    use crate::ops::placeholder::lock_path;
    let mut p = plan();
    with_placeholders(&mut p);
    let dir = "/run/user/1000/sandboxctl-locks";
    let d = libc::O_PATH | libc::O_DIRECTORY;
    let base = || c(format!("openat2({}, \"/p\", {d:#o}, NO_SYMLINKS)", libc::AT_FDCWD), Ret::Fd(20));
    let s = Script::new(vec![
        c("prctl(SetPdeathsig(9))", Ret::Ok),
        c("getppid()", Ret::Int(77)),
        c("owner_mode(\"/run/user/1000\")", Ret::Owned(crate::sys::FileKind::Dir, 1000, 0o700)),
        c(format!("private_dir({dir:?})"), Ret::Ok),
        // .mcp.json: a file gets no stand-in and no lock; .vscode is made, .idea is there
        c(format!("open_lock({:?})", lock_path(dir, "/p/.vscode")), Ret::Fd(9)),
        c(format!("flock(9, {})", libc::LOCK_SH), Ret::Ok),
        base(),
        c("mkdirat(20, \".vscode\", 555)", Ret::Ok),
        c(format!("openat2(20, \".vscode\", {d:#o}, BENEATH|NO_SYMLINKS)"), Ret::Fd(21)),
        c("stamp(21)", Ret::Stamp(0, 5, 9)),
        c("close(21)", Ret::Ok),
        c("truncate(9)", Ret::Ok),
        c("write_fd(9, \"created 0 5 9\\n\")", Ret::Ok),
        c(format!("open_lock({:?})", lock_path(dir, "/p/.idea")), Ret::Fd(10)),
        c(format!("flock(10, {})", libc::LOCK_SH), Ret::Ok),
        c(format!("openat2({}, \"/p\", {d:#o}, NO_SYMLINKS)", libc::AT_FDCWD), Ret::Fd(22)),
        c("mkdirat(22, \".idea\", 555)", Ret::Err(libc::EEXIST)),
        c(FLAGS, Ret::Int(4242)),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGCHLD))),
        c("reap()", Ret::Reaped(4242, ExitStatus::Exited(3))),
        c(format!("flock(9, {})", libc::LOCK_EX | libc::LOCK_NB), Ret::Ok),
        c("read_fd(9)", Ret::Bytes(b"created 0 5 9\n".to_vec())),
        c(format!("openat2(20, \".vscode\", {d:#o}, BENEATH|NO_SYMLINKS)"), Ret::Fd(23)),
        c("stamp(23)", Ret::Stamp(0, 5, 9)),
        c("close(23)", Ret::Ok),
        c(format!("unlinkat(20, \".vscode\", {:#x})", libc::AT_REMOVEDIR), Ret::Ok),
        c("truncate(9)", Ret::Ok),
        c("close(20)", Ret::Ok),
        c("close(9)", Ret::Ok),
        c(format!("flock(10, {})", libc::LOCK_EX | libc::LOCK_NB), Ret::Err(libc::EWOULDBLOCK)),
        c("close(22)", Ret::Ok),
        c("close(10)", Ret::Ok),
    ]);
    assert_eq!(expect_exit(|| run_launcher(&s, 1000, 1000, &lcx(&p))), 3);
    s.done();
}

#[test]
fn tty_no_ptmx_in_the_new_root_is_e_setup_with_the_hint() {
    let mut p = plan();
    p.tty = true;
    let mut calls = tty_calls();
    let at = calls.iter().position(|(c, _)| c.starts_with("open_pty")).unwrap();
    calls.truncate(at + 1);
    calls[at].1 = Ret::Err(libc::ENOENT);
    let s = Script::new(calls);
    assert_eq!(expect_exit(|| run_init(&s, &tty_cx(&p))), EXIT_SETUP);
    s.done();
    let logs = s.logs();
    assert!(logs[0].starts_with("E_SETUP: cannot open a pseudo-terminal on the sandbox's /dev/ptmx"), "{logs:?}");
    assert_eq!(logs[1], format!("hint: {TTY_HINT}"));
}

#[test]
fn tty_passing_the_master_fails_with_e_setup() {
    let mut p = plan();
    p.tty = true;
    let mut calls = tty_calls();
    let at = calls.iter().position(|(c, _)| c.starts_with("send_fd")).unwrap();
    calls.truncate(at + 1);
    calls[at].1 = Ret::Err(20_777);
    let s = Script::new(calls);
    assert_eq!(expect_exit(|| run_init(&s, &tty_cx(&p))), EXIT_SETUP);
    s.done();
    assert_eq!(s.logs(), ["E_SETUP: cannot pass the pseudo-terminal to the launcher: error 20777"]);
}

#[test]
fn launcher_stand_in_failures_are_setup_errors_that_release_what_was_held_and_clone_nothing() {
    let mut p = plan();
    with_placeholders(&mut p);
    // no usable lock directory: nothing is made
    let s = Script::new(vec![
        c("prctl(SetPdeathsig(9))", Ret::Ok),
        c("getppid()", Ret::Int(77)),
        c("owner_mode(\"/run/user/1000\")", Ret::Owned(crate::sys::FileKind::Dir, 0, 0o755)),
        c("passwd_home(1000)", Ret::Err(libc::ENOENT)),
    ]);
    assert_eq!(expect_exit(|| run_launcher(&s, 1000, 1000, &lcx(&p))), EXIT_SETUP);
    s.done();
    assert!(s.logs()[0].starts_with("E_SETUP: cannot use the home directory of the password database for placeholder locks"), "{:?}", s.logs());
    // the second stand-in fails: the first is released, no sandbox is cloned
    let d = libc::O_PATH | libc::O_DIRECTORY;
    let s = Script::new(vec![
        c("prctl(SetPdeathsig(9))", Ret::Ok),
        c("getppid()", Ret::Int(77)),
        c("owner_mode(\"/run/user/1000\")", Ret::Owned(crate::sys::FileKind::Dir, 1000, 0o700)),
        c("private_dir(\"/run/user/1000/sandboxctl-locks\")", Ret::Ok),
        c(format!("open_lock({:?})", crate::ops::placeholder::lock_path("/run/user/1000/sandboxctl-locks", "/p/.vscode")), Ret::Fd(9)),
        c(format!("flock(9, {})", libc::LOCK_SH), Ret::Ok),
        c(format!("openat2({}, \"/p\", {d:#o}, NO_SYMLINKS)", libc::AT_FDCWD), Ret::Fd(20)),
        c("mkdirat(20, \".vscode\", 555)", Ret::Err(libc::EEXIST)),
        c(format!("open_lock({:?})", crate::ops::placeholder::lock_path("/run/user/1000/sandboxctl-locks", "/p/.idea")), Ret::Err(libc::EMFILE)),
        c(format!("flock(9, {})", libc::LOCK_EX | libc::LOCK_NB), Ret::Err(libc::EWOULDBLOCK)),
        c("close(20)", Ret::Ok),
        c("close(9)", Ret::Ok),
    ]);
    assert_eq!(expect_exit(|| run_launcher(&s, 1000, 1000, &lcx(&p))), EXIT_SETUP);
    s.done();
    assert_eq!(s.logs()[0], "E_SETUP: cannot lock placeholder /p/.idea: too many open files");
}

/// `setup_calls` with an image root: the image (or /dev/fuse) opened from
/// the host view, no tmpfs on sysroot, the image put there right after the
/// first pivot and before the ops resolve anything in it.
fn image_calls(open: Option<(String, Ret)>, mount: Vec<(String, Ret)>) -> Vec<(String, Ret)> {
    let mut calls = setup_calls();
    calls.retain(|(call, _)| !call.starts_with("mount(\"tmpfs\", \"sysroot\""));
    let at = calls.iter().position(|(call, _)| call.starts_with("mount(\"tmpfs\", \"/proc/self/fd\"")).unwrap();
    calls.splice(at..at, open);
    let at = calls.iter().position(|(call, _)| call.starts_with("open(\"/sysroot\"")).unwrap();
    calls.splice(at..at, mount);
    calls.extend([c("reap()", Ret::Reaped(2, ExitStatus::Exited(0))), c("monotonic_ms()", Ret::Int(1000)), c("reap()", Ret::Err(libc::ECHILD))]);
    calls
}

fn sysroot_read_only() -> Vec<(String, Ret)> {
    vec![
        c(format!("open(\"/sysroot\", {:#o})", libc::O_PATH | libc::O_DIRECTORY), Ret::Fd(30)),
        c("mount_setattr(30, recursive, RDONLY|NOSUID|NODEV)", Ret::Ok),
        c("close(30)", Ret::Ok),
    ]
}

#[test]
fn a_directory_image_goes_on_sysroot_before_the_ops() {
    let mut p = plan();
    p.root = Some(serde_json::from_str(r#"{"image":"/img"}"#).unwrap());
    let mut mount = vec![c("mount(\"/host/proc/self/fd/7\", \"/sysroot\", -, BIND|REC, -)", Ret::Ok), c("close(7)", Ret::Ok)];
    mount.extend(sysroot_read_only());
    let s = Script::new(image_calls(Some(c(format!("open(\"/img\", {:#o})", libc::O_PATH | libc::O_DIRECTORY), Ret::Fd(7))), mount));
    assert_eq!(expect_exit(|| run_init(&s, &cx(&p))), 0);
    s.done();
}

#[test]
fn a_squashfs_image_is_attached_from_the_launchers_detached_mount() {
    let mut p = plan();
    p.root = Some(serde_json::from_str(r#"{"image":"/i.sqfs"}"#).unwrap());
    let mut mount = vec![
        c("mkdir(\"/lower\", 755)", Ret::Ok),
        c("move_mount(8, \"/lower\")", Ret::Ok),
        c("close(8)", Ret::Ok),
        c("mount(\"/lower\", \"/sysroot\", -, BIND, -)", Ret::Ok),
    ];
    mount.extend(sysroot_read_only());
    let s = Script::new(image_calls(None, mount));
    let mut icx = cx(&p);
    icx.image_mount = Some(8);
    assert_eq!(expect_exit(|| run_init(&s, &icx)), 0);
    s.done();
}

/// The calls of reading an image's environment file `text` as fd 6.
fn env_file_calls(text: &str) -> Vec<(String, Ret)> {
    vec![
        c(format!("open(\"/ch/environment\", {:#o})", libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC), Ret::Fd(6)),
        c("fstat(6)", Ret::Kind(crate::sys::FileKind::File)),
        c("read(6, 65536)", Ret::Bytes(text.as_bytes().to_vec())),
        c("read(6, 65536)", Ret::Bytes(Vec::new())),
        c("close(6)", Ret::Ok),
    ]
}

fn with_image_env(p: &Plan) -> InitContext<'_> {
    let mut cx = cx(p);
    let step = crate::plan::EnvStep::File { path: "/ch/environment".into(), scope: crate::plan::FileScope::Root, expand: true, optional: true };
    cx.env_steps = crate::env::prepare(&Script::new(Vec::<(String, Ret)>::new()), &[step]).unwrap();
    cx
}

#[test]
fn env_steps_read_the_image_file_in_the_new_root_before_privileges_drop() {
    let p = plan();
    let mut calls = setup_calls();
    let at = calls.iter().position(|(call, _)| call == "prctl(CapAmbientClearAll)").unwrap();
    calls.splice(at..at, env_file_calls("A=1\n"));
    calls.extend([c("reap()", Ret::Reaped(2, ExitStatus::Exited(0))), c("monotonic_ms()", Ret::Int(1000)), c("reap()", Ret::Err(libc::ECHILD))]);
    let s = Script::new(calls);
    assert_eq!(expect_exit(|| run_init(&s, &with_image_env(&p))), 0);
    s.done();
}

#[test]
fn a_bad_image_env_file_is_fatal_before_privileges_drop() {
    let p = plan();
    let mut calls = setup_calls();
    let at = calls.iter().position(|(call, _)| call == "prctl(CapAmbientClearAll)").unwrap();
    calls.truncate(at);
    calls.extend(env_file_calls("A=1\noops\n"));
    let s = Script::new(calls);
    assert_eq!(expect_exit(|| run_init(&s, &with_image_env(&p))), EXIT_SETUP);
    s.done();
    assert_eq!(s.logs(), ["E_PLAN_INVALID: cannot parse variable: no delimiter: /ch/environment:2"]);
}

/// plan.limits.rlimits and plan.landlock.write: their calls in place, and their fatal branches.
#[test]
fn rlimits_and_the_landlock_write_list_in_order() {
    use crate::plan::{Limits, Rlimit, RlimitName};
    let mut p = plan();
    p.limits = Some(Limits {
        rlimits: vec![Rlimit { name: RlimitName::Nofile, soft: Some(64), hard: Some(128) }, Rlimit { name: RlimitName::Core, soft: Some(0), hard: None }],
        ..Limits::default()
    });
    p.landlock.write = Some(vec!["/work".into()]);
    let with = |fail: Option<(&str, i32)>| {
        let mut calls = setup_calls();
        let at = calls.iter().position(|(k, _)| k == "prctl(CapAmbientClearAll)").unwrap();
        calls.insert(at, c(format!("setrlimit({}, 64, 128)", libc::RLIMIT_NOFILE), Ret::Ok));
        calls.insert(at + 1, c(format!("setrlimit({}, 0, {})", libc::RLIMIT_CORE, libc::RLIM_INFINITY), Ret::Ok));
        let at = calls.iter().position(|(k, _)| k == "landlock_scope(0x3)").unwrap();
        calls.insert(at + 1, c("landlock_write([\"/work\", \"/tmp\"])", Ret::Int(7)));
        if let Some((call, errno)) = fail {
            let i = calls.iter().position(|(k, _)| k.starts_with(call)).unwrap();
            calls.truncate(i + 1);
            calls[i].1 = Ret::Err(errno);
        }
        calls
    };
    let mut calls = with(None);
    calls.extend([c("reap()", Ret::Reaped(2, ExitStatus::Exited(0))), c("monotonic_ms()", Ret::Int(1000)), c("reap()", Ret::Err(libc::ECHILD))]);
    let s = Script::new(calls);
    assert_eq!(expect_exit(|| run_init(&s, &cx(&p))), 0);
    s.done();

    for (call, code) in [("setrlimit(7", "E_PLAN_INVALID"), ("landlock_write", "E_SETUP")] {
        let s = Script::new(with(Some((call, 30_001))));
        assert_eq!(expect_exit(|| run_init(&s, &cx(&p))), EXIT_SETUP, "{call}");
        let logs = s.logs().join("\n");
        assert!(logs.starts_with(code) && logs.contains("error 30001"), "{call}: {logs}");
        s.done();
    }
    // A kernel without Landlock: the run goes on (best effort).
    let mut calls = with(None);
    let i = calls.iter().position(|(k, _)| k.starts_with("landlock_write")).unwrap();
    calls[i].1 = Ret::Err(libc::ENOSYS);
    calls.extend([c("reap()", Ret::Reaped(2, ExitStatus::Exited(0))), c("monotonic_ms()", Ret::Int(1000)), c("reap()", Ret::Err(libc::ECHILD))]);
    let s = Script::new(calls);
    assert_eq!(expect_exit(|| run_init(&s, &cx(&p))), 0);
    s.done();
}

/// plan.limits.timeoutMs: the launcher sends pid 1 SIGTERM at the deadline,
/// SIGKILL after the grace, and reports the limit.
#[test]
fn launcher_terms_then_kills_the_sandbox_at_its_timeout() {
    let mut p = plan();
    p.limits = Some(crate::plan::Limits { timeout_ms: Some(500), timeout_grace_ms: Some(300), ..Default::default() });
    let mut l = lcx(&p);
    l.report_fd = Some(9);
    // The spawned line comes first on the report fd.
    let s = Script::new(vec![
        c("prctl(SetPdeathsig(9))", Ret::Ok),
        c("getppid()", Ret::Int(77)),
        c(FLAGS, Ret::Int(4242)),
        c("write_fd(9, \"{\\\"event\\\":\\\"spawned\\\",\\\"pid\\\":4242}\\n\")", Ret::Ok),
        c("monotonic_ms()", Ret::Int(10_000)),
        c("monotonic_ms()", Ret::Int(10_100)),
        c("wait_signal(Some(400))", Ret::Signal(None)),
        c("monotonic_ms()", Ret::Int(10_500)),
        c("kill(4242, 15)", Ret::Ok),
        c("wait_signal(Some(300))", Ret::Signal(None)),
        c("monotonic_ms()", Ret::Int(10_800)),
        c("kill(4242, 9)", Ret::Ok),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGCHLD))),
        c("reap()", Ret::Reaped(4242, ExitStatus::Signaled(9))),
        c("write_fd(9, \"{\\\"event\\\":\\\"limithit\\\",\\\"limit\\\":\\\"timeout\\\"}\\n\")", Ret::Ok),
    ]);
    assert_eq!(expect_exit(|| run_launcher(&s, 1000, 1000, &l)), 137);
    s.done();
}

/// A program that cleans up on the timeout's SIGTERM and exits within the
/// grace: its own status, and still the timeout in the report.
#[test]
fn a_program_that_ends_within_the_grace_keeps_its_status() {
    let mut p = plan();
    p.limits = Some(crate::plan::Limits { timeout_ms: Some(500), ..Default::default() });
    let mut l = lcx(&p);
    l.report_fd = Some(9);
    let s = Script::new(vec![
        c("prctl(SetPdeathsig(9))", Ret::Ok),
        c("getppid()", Ret::Int(77)),
        c(FLAGS, Ret::Int(4242)),
        c("write_fd(9, \"{\\\"event\\\":\\\"spawned\\\",\\\"pid\\\":4242}\\n\")", Ret::Ok),
        c("monotonic_ms()", Ret::Int(10_000)),
        c("monotonic_ms()", Ret::Int(10_500)),
        c("kill(4242, 15)", Ret::Ok),
        c(format!("wait_signal(Some({}))", crate::plan::TIMEOUT_GRACE_MS), Ret::Signal(Some(libc::SIGCHLD))),
        c("reap()", Ret::Reaped(4242, ExitStatus::Exited(3))),
        c("write_fd(9, \"{\\\"event\\\":\\\"limithit\\\",\\\"limit\\\":\\\"timeout\\\"}\\n\")", Ret::Ok),
    ]);
    assert_eq!(expect_exit(|| run_launcher(&s, 1000, 1000, &l)), 3);
    s.done();
}

/// plan.report with a limit hit: the `limithit` line, then the same as a `denied` line of the report.
#[test]
fn a_limit_hit_is_a_report_line_too_when_the_plan_asks_for_a_report() {
    let mut p = plan();
    p.limits = Some(crate::plan::Limits { timeout_ms: Some(500), timeout_grace_ms: Some(0), ..Default::default() });
    p.report = true;
    let mut l = lcx(&p);
    l.report_fd = Some(9);
    let s = Script::new(vec![
        c("prctl(SetPdeathsig(9))", Ret::Ok),
        c("getppid()", Ret::Int(77)),
        c(FLAGS, Ret::Int(4242)),
        c("write_fd(9, \"{\\\"event\\\":\\\"spawned\\\",\\\"pid\\\":4242}\\n\")", Ret::Ok),
        c("monotonic_ms()", Ret::Int(10_000)),
        c("monotonic_ms()", Ret::Int(10_100)),
        c("wait_signal(Some(400))", Ret::Signal(None)),
        c("monotonic_ms()", Ret::Int(10_500)),
        c("kill(4242, 9)", Ret::Ok),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGCHLD))),
        c("reap()", Ret::Reaped(4242, ExitStatus::Signaled(9))),
        c("write_fd(9, \"{\\\"event\\\":\\\"limithit\\\",\\\"limit\\\":\\\"timeout\\\"}\\n\")", Ret::Ok),
        c("write_fd(9, \"{\\\"event\\\":\\\"denied\\\",\\\"kind\\\":\\\"limit\\\",\\\"limit\\\":\\\"timeout\\\"}\\n\")", Ret::Ok),
    ]);
    assert_eq!(expect_exit(|| run_launcher(&s, 1000, 1000, &l)), 137);
    s.done();
}

/// plan.limits with a cgroup: made first, entered for the clone and left, read and removed after.
#[test]
fn launcher_runs_pid1_in_its_cgroup_and_removes_it() {
    let mut p = plan();
    p.limits = Some(crate::plan::Limits { pids: Some(10), ..Default::default() });
    let s = Script::new(vec![
        c("prctl(SetPdeathsig(9))", Ret::Ok),
        c("getppid()", Ret::Int(77)),
        c("getpid()", Ret::Int(600)),
        c("read_file(\"/proc/self/mounts\")", Ret::Bytes(b"cgroup /sys/fs/cgroup/pids cgroup rw,pids 0 0\n".to_vec())),
        c("read_file(\"/proc/self/cgroup\")", Ret::Bytes(b"3:pids:/u\n".to_vec())),
        c("mkdir(\"/sys/fs/cgroup/pids/u/sandboxctl.600\", 755)", Ret::Ok),
        c("write_file(\"/sys/fs/cgroup/pids/u/sandboxctl.600/pids.max\", \"10\")", Ret::Ok),
        c("write_file(\"/sys/fs/cgroup/pids/u/sandboxctl.600/cgroup.procs\", \"0\")", Ret::Ok),
        c(FLAGS, Ret::Int(4242)),
        c("write_file(\"/sys/fs/cgroup/pids/u/cgroup.procs\", \"0\")", Ret::Ok),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGCHLD))),
        c("reap()", Ret::Reaped(4242, ExitStatus::Exited(1))),
        c("read_file(\"/sys/fs/cgroup/pids/u/sandboxctl.600/pids.events\")", Ret::Bytes(b"max 0\n".to_vec())),
        c("rmdir(\"/sys/fs/cgroup/pids/u/sandboxctl.600\")", Ret::Ok),
    ]);
    assert_eq!(expect_exit(|| run_launcher(&s, 1000, 1000, &lcx(&p))), 1);
    s.done();

    // A cgroup that cannot be made: refused before the clone, nothing left.
    let s = Script::new(vec![
        c("prctl(SetPdeathsig(9))", Ret::Ok),
        c("getppid()", Ret::Int(77)),
        c("getpid()", Ret::Int(600)),
        c("read_file(\"/proc/self/mounts\")", Ret::Bytes(b"cgroup /sys/fs/cgroup/pids cgroup rw,pids 0 0\n".to_vec())),
        c("read_file(\"/proc/self/cgroup\")", Ret::Bytes(b"3:pids:/u\n".to_vec())),
        c("mkdir(\"/sys/fs/cgroup/pids/u/sandboxctl.600\", 755)", Ret::Err(libc::EACCES)),
    ]);
    assert_eq!(expect_exit(|| run_launcher(&s, 1000, 1000, &lcx(&p))), EXIT_SETUP);
    assert!(s.logs().join("\n").starts_with("E_LIMIT_UNAVAILABLE"), "{:?}", s.logs());
    s.done();
}

/// An allow-list network: pid 1 makes the proxy's listening sockets right
/// after loopback, sends each out and keeps none; IPv6 off is tolerated;
/// any other failure is fatal (E_SETUP, exit 125) before the id maps.
fn net_plan() -> Plan {
    let mut p = plan();
    p.network = crate::plan::Network::Allow(crate::plan::NetPolicy::default());
    p
}

fn net_calls(v6: Ret) -> Vec<(String, Ret)> {
    let mut v = vec![c("listen_tcp(127.0.0.1:3128)", Ret::Fd(10)), c("send_fd(9, 10)", Ret::Ok), c("close(10)", Ret::Ok)];
    let v6_ok = matches!(v6, Ret::Fd(_));
    v.push(c("listen_tcp([::1]:3128)", v6));
    if v6_ok {
        v.extend([c("send_fd(9, 11)", Ret::Ok), c("close(11)", Ret::Ok)]);
    }
    v.extend([c("listen_tcp(127.0.0.1:1080)", Ret::Fd(12)), c("send_fd(9, 12)", Ret::Ok), c("close(12)", Ret::Ok)]);
    v.push(c("listen_tcp([::1]:1080)", if v6_ok { Ret::Fd(13) } else { Ret::Err(libc::EADDRNOTAVAIL) }));
    if v6_ok {
        v.extend([c("send_fd(9, 13)", Ret::Ok), c("close(13)", Ret::Ok)]);
    }
    v.push(c("close(9)", Ret::Ok));
    v
}

fn with_net(net: Vec<(String, Ret)>) -> Vec<(String, Ret)> {
    let mut calls = setup_calls();
    let at = calls.iter().position(|(k, _)| k == "loopback_up()").unwrap() + 1;
    calls.splice(at..at, net);
    let ll = calls.iter().position(|(k, _)| k == "landlock_scope(0x3)").unwrap();
    calls.insert(ll, c("landlock_net([3128, 1080])", Ret::Ok));
    calls.extend([c("reap()", Ret::Reaped(2, ExitStatus::Exited(0))), c("monotonic_ms()", Ret::Int(0)), c("reap()", Ret::Err(libc::ECHILD))]);
    calls
}

#[test]
fn an_allow_list_network_sends_the_listening_sockets_out_and_restricts_tcp() {
    let p = net_plan();
    for v6 in [Ret::Fd(11), Ret::Err(libc::EADDRNOTAVAIL)] {
        let s = Script::new(with_net(net_calls(v6)));
        let mut icx = cx(&p);
        icx.net_sock = Some(9);
        assert_eq!(expect_exit(|| run_init(&s, &icx)), 0);
        s.done();
    }
}

#[test]
fn the_proxy_sockets_failures_are_fatal_and_landlock_net_is_best_effort() {
    let p = net_plan();
    for (i, call) in ["listen_tcp(127.0.0.1:3128)", "send_fd(9, 10)", "close(9)"].iter().enumerate() {
        let marker = 30_000 + i as i32;
        let mut calls = setup_calls();
        let at = calls.iter().position(|(k, _)| k == "loopback_up()").unwrap() + 1;
        let all = net_calls(Ret::Fd(11));
        let upto = all.iter().position(|(k, _)| k == call).unwrap();
        let mut net: Vec<(String, Ret)> = all[..upto].to_vec();
        net.push(c(*call, Ret::Err(marker)));
        if *call == "send_fd(9, 10)" {
            net.push(c("close(10)", Ret::Ok));
        }
        calls.truncate(at);
        calls.extend(net);
        let s = Script::new(calls);
        let mut icx = cx(&p);
        icx.net_sock = Some(9);
        assert_eq!(expect_exit(|| run_init(&s, &icx)), EXIT_SETUP, "{call}");
        s.done();
        assert!(s.logs().iter().any(|l| l.contains("E_SETUP") && l.contains(&Errno(marker).to_string())), "{call}: {:?}", s.logs());
    }
    // A kernel without Landlock network rules (ABI < 4): go on without.
    let mut calls = with_net(net_calls(Ret::Fd(11)));
    let ll = calls.iter().position(|(k, _)| k == "landlock_net([3128, 1080])").unwrap();
    calls[ll].1 = Ret::Err(libc::EINVAL);
    let s = Script::new(calls);
    let mut icx = cx(&p);
    icx.net_sock = Some(9);
    assert_eq!(expect_exit(|| run_init(&s, &icx)), 0);
    s.done();
}

/// plan.report's seccomp listener: setup up to the seccomp load, then `rest`.
fn with_notify(rest: Vec<(String, Ret)>) -> Vec<(String, Ret)> {
    let mut calls = setup_calls();
    let at = calls.iter().position(|(call, _)| call == "seccomp_load(1 insns)").unwrap();
    calls.truncate(at);
    calls.extend(rest);
    calls
}

const VARIANT: [libc::sock_filter; 2] = [libc::sock_filter { code: 6, jt: 0, jf: 0, k: 0x7fc0_0000 }; 2];

#[test]
fn the_seccomp_listener_goes_to_the_launcher_and_pid1_keeps_no_copy() {
    let p = plan();
    let mut icx = cx(&p);
    icx.seccomp_notify = Some((&VARIANT, 11));
    let s = Script::new(with_notify(vec![
        c("seccomp_load_listener(2 insns)", Ret::Fd(12)),
        c("send_fd(11, 12)", Ret::Ok),
        c("close(12)", Ret::Ok),
        c("close(11)", Ret::Ok),
        c("umask(22)", Ret::Int(0)),
        c("spawn([\"/bin/true\"], cwd=\"/\", session=true)", Ret::Int(2)),
        c("reap()", Ret::Reaped(2, ExitStatus::Exited(0))),
        c("monotonic_ms()", Ret::Int(1000)),
        c("reap()", Ret::Err(libc::ECHILD)),
    ]));
    assert_eq!(expect_exit(|| run_init(&s, &icx)), 0);
    s.done();
}

#[test]
fn under_another_listener_the_plain_filter_is_loaded() {
    let p = plan();
    let mut icx = cx(&p);
    icx.seccomp_notify = Some((&VARIANT, 11));
    let s = Script::new(with_notify(vec![
        c("seccomp_load_listener(2 insns)", Ret::Err(libc::EBUSY)),
        c("close(11)", Ret::Ok),
        c("seccomp_load(1 insns)", Ret::Ok),
        c("umask(22)", Ret::Int(0)),
        c("spawn([\"/bin/true\"], cwd=\"/\", session=true)", Ret::Int(2)),
        c("reap()", Ret::Err(libc::ECHILD)),
    ]));
    assert_eq!(expect_exit(|| run_init(&s, &icx)), EXIT_UNEXPECTED_WAIT);
    s.done();
}

#[test]
fn the_listeners_fatal_branches() {
    let p = plan();
    for (rest, marker) in [
        (vec![c("seccomp_load_listener(2 insns)", Ret::Err(20_901)), c("close(11)", Ret::Ok)], 20_901),
        (vec![c("seccomp_load_listener(2 insns)", Ret::Err(libc::EBUSY)), c("close(11)", Ret::Ok), c("seccomp_load(1 insns)", Ret::Err(20_902))], 20_902),
        (
            vec![c("seccomp_load_listener(2 insns)", Ret::Fd(12)), c("send_fd(11, 12)", Ret::Err(20_903)), c("close(12)", Ret::Ok), c("close(11)", Ret::Ok)],
            20_903,
        ),
    ] {
        let mut icx = cx(&p);
        icx.seccomp_notify = Some((&VARIANT, 11));
        let s = Script::new(with_notify(rest));
        assert_eq!(expect_exit(|| run_init(&s, &icx)), EXIT_SETUP);
        s.done();
        let logs = s.logs().join("\n");
        assert!(logs.starts_with("E_SETUP: ") && logs.contains(&Errno(marker).to_string()), "{logs}");
    }
}

/// plan.joinNs (bubblewrap's --userns, --userns2, --pidns).
fn join_plan() -> Plan {
    let mut p = plan();
    p.join_ns = Some(crate::plan::JoinNs { user: Some(11), user2: Some(13), pid: Some(12) });
    p
}

/// The launcher's calls up to the clone for join_plan: the namespaces are
/// entered, then the flag cleared, so pid 1 is born not dumpable.
fn join_launch_calls() -> Vec<(String, Ret)> {
    vec![
        c("prctl(SetPdeathsig(9))", Ret::Ok),
        c("getppid()", Ret::Int(77)),
        c("setns(11, NEWUSER)", Ret::Ok),
        c("setns(12, NEWPID)", Ret::Ok),
        c("prctl(SetDumpable(false))", Ret::Ok),
    ]
}

#[test]
fn join_launcher_enters_the_namespaces_then_clones_pid1_not_dumpable_into_them() {
    let p = join_plan();
    let flags = crate::launch::clone_flags(&p);
    assert_eq!(flags & (libc::CLONE_NEWUSER | libc::CLONE_NEWPID) as u64, 0, "no user or pid namespace of its own");
    assert_ne!(flags & libc::CLONE_NEWNS as u64, 0);
    let mut calls = join_launch_calls();
    calls.extend([
        c(format!("clone_sandbox({flags:#x})"), Ret::Int(4242)),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGCHLD))),
        c("reap()", Ret::Reaped(4242, ExitStatus::Exited(0))),
    ]);
    let s = Script::new(calls);
    assert_eq!(expect_exit(|| run_launcher(&s, 1000, 1000, &lcx(&p))), 0);
    s.done();
}

#[test]
fn join_launcher_failures_are_e_ns_join_and_nothing_is_cloned() {
    let p = join_plan();
    let calls = join_launch_calls();
    let cases = [
        (2, libc::EINVAL, "E_NS_JOIN: cannot enter the joinNs.user namespace fd 11: invalid argument"),
        (2, libc::EBADF, "E_NS_JOIN: cannot enter the joinNs.user namespace fd 11: bad file descriptor"),
        (3, libc::EINVAL, "E_NS_JOIN: cannot enter the joinNs.pid namespace fd 12: invalid argument"),
        (3, libc::EPERM, "E_NS_JOIN: cannot enter the joinNs.pid namespace fd 12: operation not permitted"),
        (4, 20_400, "E_SETUP: cannot clear dumpable: error 20400"),
    ];
    for (at, errno, want) in cases {
        let mut script = calls[..at].to_vec();
        script.push((calls[at].0.clone(), Ret::Err(errno)));
        let s = Script::new(script);
        assert_eq!(expect_exit(|| run_launcher(&s, 1000, 1000, &lcx(&p))), EXIT_SETUP, "{want}");
        s.done();
        assert_eq!(s.logs(), [want]);
    }
}

/// init's calls for join_plan: not pid 1 of the joined pid namespace (no
/// check), no id maps (the joined namespace has its own), user2 entered
/// once the root is built.
fn join_init_calls() -> Vec<(String, Ret)> {
    let mut v = setup_calls();
    v.retain(|(call, _)| call != "getpid()" && !call.contains("_map") && !call.contains("setgroups") && !call.starts_with("prctl(SetDumpable"));
    let at = v.iter().position(|(call, _)| call == "umask(0)").unwrap();
    v.splice(at..at, [c("getuid()", Ret::Int(1000)), c("getgid()", Ret::Int(1001))]);
    let at = v.iter().position(|(call, _)| call == "close(4)").unwrap() + 1;
    v.splice(at..at, [c("setns(13, NEWUSER)", Ret::Ok), c("prctl(SetDumpable(false))", Ret::Ok), c("close(13)", Ret::Ok)]);
    v
}

#[test]
fn join_init_writes_no_id_maps_and_enters_user2_after_the_root() {
    let p = join_plan();
    let mut calls = join_init_calls();
    calls.extend([c("reap()", Ret::Reaped(2, ExitStatus::Exited(0))), c("monotonic_ms()", Ret::Int(1000)), c("reap()", Ret::Err(libc::ECHILD))]);
    let s = Script::new(calls);
    assert_eq!(expect_exit(|| run_init(&s, &cx(&p))), 0);
    s.done();
}

#[test]
fn join_init_user2_failure_is_e_ns_join_before_the_privileges_drop() {
    let p = join_plan();
    let calls = join_init_calls();
    let at = calls.iter().position(|(call, _)| call == "setns(13, NEWUSER)").unwrap();
    for (errno, want) in [
        (libc::EINVAL, "E_NS_JOIN: cannot enter the joinNs.user2 namespace fd 13: invalid argument"),
        (libc::EBADF, "E_NS_JOIN: cannot enter the joinNs.user2 namespace fd 13: bad file descriptor"),
    ] {
        let mut script = calls[..at].to_vec();
        script.push(c("setns(13, NEWUSER)", Ret::Err(errno)));
        let s = Script::new(script);
        assert_eq!(expect_exit(|| run_init(&s, &cx(&p))), EXIT_SETUP);
        s.done();
        assert_eq!(s.logs(), [want]);
    }
    // Without a joined pid namespace, pid 1 must still be pid 1.
    let mut p = join_plan();
    p.join_ns.as_mut().unwrap().pid = None;
    let s = Script::new(vec![c("getpid()", Ret::Int(7))]);
    assert_eq!(expect_exit(|| run_init(&s, &cx(&p))), EXIT_SETUP);
    assert_eq!(s.logs(), ["E_SETUP: this process must run as pid 1"]);
}

/// join_init_calls with plan.uid/gid (bubblewrap's --uid/--gid with
/// --userns): no getuid/getgid (the plan names the ids), and the switch
/// before the root is built, capabilities kept across it.
fn join_switch_calls() -> Vec<(String, Ret)> {
    let mut v = join_init_calls();
    v.retain(|(call, _)| call != "getuid()" && call != "getgid()");
    let at = v.iter().position(|(call, _)| call == "umask(0)").unwrap();
    v.splice(
        at..at,
        [
            c("read_file(\"/proc/sys/kernel/cap_last_cap\")", Ret::Bytes(b"40\n".to_vec())),
            c("prctl(SetKeepCaps(true))", Ret::Ok),
            c("setresgid(5)", Ret::Ok),
            c("setresuid(0)", Ret::Ok),
            c("prctl(SetKeepCaps(false))", Ret::Ok),
            c("capset_sets(0x1ffffffffff, 0x1ffffffffff, 0x0)", Ret::Ok),
            c("prctl(SetDumpable(false))", Ret::Ok),
        ],
    );
    v
}

#[test]
fn join_init_switches_to_the_plans_ids_in_the_joined_namespace_before_the_drop() {
    let mut p = join_plan();
    (p.uid, p.gid) = (Some(0), Some(5));
    let mut calls = join_switch_calls();
    calls.extend([c("reap()", Ret::Reaped(2, ExitStatus::Exited(0))), c("monotonic_ms()", Ret::Int(1000)), c("reap()", Ret::Err(libc::ECHILD))]);
    let s = Script::new(calls);
    assert_eq!(expect_exit(|| run_init(&s, &cx(&p))), 0);
    s.done();
}

#[test]
fn join_init_switch_failures_are_fatal_and_nothing_runs() {
    let mut p = join_plan();
    (p.uid, p.gid) = (Some(0), Some(5));
    let calls = join_switch_calls();
    let first = calls.iter().position(|(call, _)| call == "prctl(SetKeepCaps(true))").unwrap();
    let first = first - 1;
    let want = [
        "E_SETUP: cannot parse /proc/sys/kernel/cap_last_cap",
        "E_SETUP: cannot keep capabilities: operation not permitted",
        "E_SETUP: cannot switch to gid 5 in the joined user namespace: invalid argument",
        "E_SETUP: cannot switch to uid 0 in the joined user namespace: invalid argument",
        "E_SETUP: cannot clear keep-caps: operation not permitted",
        "E_SETUP: cannot make the permitted capabilities effective again: operation not permitted",
        "E_SETUP: cannot clear dumpable: operation not permitted",
    ];
    for (i, want) in want.iter().enumerate() {
        let mut script = calls[..first + i].to_vec();
        let (call, _) = calls[first + i].clone();
        let ret = match call.as_str() {
            c if c.starts_with("read_file") => Ret::Bytes(b"many".to_vec()),
            c if c.starts_with("setres") => Ret::Err(libc::EINVAL),
            _ => Ret::Err(libc::EPERM),
        };
        script.push((call, ret));
        let s = Script::new(script);
        assert_eq!(expect_exit(|| run_init(&s, &cx(&p))), EXIT_SETUP);
        s.done();
        assert_eq!(s.logs(), [*want]);
    }
    // Only the uid: no gid switch.
    let mut p = join_plan();
    p.uid = Some(0);
    let mut calls = join_switch_calls();
    let at = calls.iter().position(|(call, _)| call == "setresgid(5)").unwrap();
    calls.remove(at);
    // gid comes from the namespace then, before the switch.
    let at = calls.iter().position(|(call, _)| call.contains("cap_last_cap")).unwrap();
    calls.insert(at, c("getgid()", Ret::Int(1001)));
    calls.extend([c("reap()", Ret::Reaped(2, ExitStatus::Exited(0))), c("monotonic_ms()", Ret::Int(1000)), c("reap()", Ret::Err(libc::ECHILD))]);
    let s = Script::new(calls);
    assert_eq!(expect_exit(|| run_init(&s, &cx(&p))), 0);
    s.done();
}

/// The plan of `--ro-bind / / --tmpfs /tmp`: the host's root kept in place.
fn kept_root_plan() -> Plan {
    let mut p = plan();
    p.ops.insert(0, Op::Bind(serde_json::from_str(r#"{"source":"/","target":"/"}"#).unwrap()));
    p
}

/// The root's calls of [`setup_calls`] for [`kept_root_plan`]: no
/// intermediate root, copy, pivot or detach; the tree's attributes set on
/// it at once; the other ops mounted through pid 1's fd directory.
fn kept_root_calls() -> Vec<(String, Ret)> {
    vec![
        c("mount(-, \"/\", -, REC|SLAVE, -)", Ret::Ok),
        c(format!("open(\"/\", {:#o})", libc::O_PATH), Ret::Fd(20)),
        c("fstat(20)", Ret::Kind(crate::sys::FileKind::Dir)),
        c("chdir(\"/proc/self/fd\")", Ret::Ok),
        c(format!("open(\"/\", {:#o})", libc::O_PATH | libc::O_DIRECTORY), Ret::Fd(3)),
        c("close(20)", Ret::Ok),
        c("open_in_root(3, \"/\", 0o0)", Ret::Fd(6)),
        c("mount_setattr(6, recursive, RDONLY|NOSUID|NODEV)", Ret::Ok),
        c("close(6)", Ret::Ok),
        c(format!("open_in_root(3, \"/tmp\", {:#o})", libc::O_DIRECTORY), Ret::Fd(5)),
        c("mount(\"tmpfs\", \"./5\", \"tmpfs\", NOSUID|NODEV, \"mode=755\")", Ret::Ok),
        c("close(5)", Ret::Ok),
        c("close(3)", Ret::Ok),
        c("chdir(\"/\")", Ret::Ok),
    ]
}

/// [`setup_calls`] with the root's part replaced by `root`.
fn with_root(root: Vec<(String, Ret)>) -> Vec<(String, Ret)> {
    let all = setup_calls();
    let start = all.iter().position(|(s, _)| s.starts_with("mount(-, \"/\"")).unwrap();
    let end = all.iter().position(|(s, _)| s == "prctl(CapAmbientClearAll)").unwrap();
    [all[..start].to_vec(), root, all[end..].to_vec()].concat()
}

#[test]
fn a_host_root_is_kept_in_place_with_no_copy_pivot_or_detach() {
    let p = kept_root_plan();
    let mut calls = with_root(kept_root_calls());
    calls.extend([c("reap()", Ret::Reaped(2, ExitStatus::Exited(0))), c("monotonic_ms()", Ret::Int(1000)), c("reap()", Ret::Err(libc::ECHILD))]);
    let s = Script::new(calls);
    assert_eq!(expect_exit(|| run_init(&s, &cx(&p))), 0);
    s.done();
    assert!(s.logs().is_empty(), "{:?}", s.logs());
}

#[test]
fn every_fallible_call_of_the_kept_root_is_a_fatal_branch_with_its_own_error() {
    let p = kept_root_plan();
    let root = kept_root_calls();
    // What each failing call leaves to close, and the code it reports.
    let after = |call: &str| -> (Vec<(String, Ret)>, &str) {
        match call {
            "fstat(20)" => (vec![c("close(20)", Ret::Ok)], "E_MOUNT"),
            c if c.starts_with("open(\"/\", 0o10000000)") => (vec![], "E_MOUNT"),
            // after the root's fd is open, a failure closes it too
            c if c.starts_with("mount_setattr") => (vec![c_close(6), c_close(3)], "E_MOUNT"),
            c if c.starts_with("mount(\"tmpfs\"") => (vec![c_close(5), c_close(3)], "E_MOUNT"),
            c if c.starts_with("open_in_root") => (vec![c_close(3)], "E_MOUNT"),
            c if c.starts_with("mount(") => (vec![], "E_MOUNT"),
            _ => (vec![], "E_SETUP"),
        }
    };
    let mut fatal = 0;
    for (i, (call, _)) in root.iter().enumerate() {
        if call.starts_with("close(") {
            continue;
        }
        let marker = 30_000 + i as i32;
        let (rest, code) = after(call);
        let script = with_root([root[..i].to_vec(), vec![(call.clone(), Ret::Err(marker))], rest].concat());
        let cut = script.iter().position(|(s, r)| s == call && matches!(r, Ret::Err(m) if *m == marker)).unwrap();
        let tail = script[cut + 1..].iter().take_while(|(s, _)| s.starts_with("close(")).count();
        let s = Script::new(script[..cut + 1 + tail].to_vec());
        let status = expect_exit(|| run_init(&s, &cx(&p)));
        assert_eq!(status, EXIT_SETUP, "{call}");
        let logs = s.logs().join("\n");
        assert!(logs.contains(&format!("error {marker}")), "{call}: the injected error did not surface: {logs}");
        assert!(logs.starts_with(code), "{call}: {logs}");
        s.done();
        fatal += 1;
    }
    assert_eq!(fatal, 10);
}

fn c_close(fd: i32) -> (String, Ret) {
    c(format!("close({fd})"), Ret::Ok)
}

/// `--ro-bind / / --tmpfs /tmp --dev /dev`: a plan whose /dev a pool's zygote builds once.
fn shared_dev_plan() -> Plan {
    let mut p = kept_root_plan();
    p.ops.push(Op::Dev(serde_json::from_str(r#"{"target":"/dev"}"#).unwrap()));
    p
}

const IDS: super::ids::Ids = super::ids::Ids { uid: 1000, gid: 1000 };

/// The zygote's calls for [`shared_dev_plan`]: the devices pinned, the
/// root's source pinned, then in its own tree the root's attributes and
/// /dev's read-only part (no devpts, no shm).
fn shared_calls(console: bool) -> Vec<(String, Ret)> {
    let mut v: Vec<(String, Ret)> =
        crate::ops::dev::DEVICES.iter().enumerate().map(|(i, n)| c(format!("open(\"/dev/{n}\", {:#o})", libc::O_PATH), Ret::Fd(50 + i as i32))).collect();
    if console {
        v.push(c("isatty(1)", Ret::Int(1)));
        v.push(c("readlink(\"/proc/self/fd/1\")", Ret::Text("/dev/pts/3".into())));
        v.push(c(format!("open(\"/dev/pts/3\", {:#o})", libc::O_PATH), Ret::Fd(60)));
        return v;
    }
    v.extend([
        c(format!("open(\"/\", {:#o})", libc::O_PATH), Ret::Fd(20)),
        c("fstat(20)", Ret::Kind(crate::sys::FileKind::Dir)),
        c("mount(-, \"/\", -, REC|SLAVE, -)", Ret::Ok),
        c("chdir(\"/proc/self/fd\")", Ret::Ok),
        c(format!("open(\"/\", {:#o})", libc::O_PATH | libc::O_DIRECTORY), Ret::Fd(3)),
        c("close(20)", Ret::Ok),
        c("open_in_root(3, \"/\", 0o0)", Ret::Fd(6)),
        c("mount_setattr(6, recursive, RDONLY|NOSUID|NODEV)", Ret::Ok),
        c("close(6)", Ret::Ok),
        c(format!("open_in_root(3, \"/dev\", {:#o})", libc::O_DIRECTORY), Ret::Fd(7)),
        c("mount(\"tmpfs\", \"./7\", \"tmpfs\", NOSUID|NODEV, \"mode=755\")", Ret::Ok),
        c("close(7)", Ret::Ok),
    ]);
    for (i, n) in crate::ops::dev::DEVICES.iter().enumerate() {
        let src = 50 + i as i32;
        v.extend([
            c(format!("open_in_root(3, \"/dev/{n}\", 0o0)"), Ret::Err(libc::ENOENT)),
            c(format!("open_in_root(3, \"/dev\", {:#o})", libc::O_DIRECTORY), Ret::Fd(8)),
            c(format!("mkfileat(8, {n:?}, 444)"), Ret::Ok),
            c("close(8)", Ret::Ok),
            c(format!("open_in_root(3, \"/dev/{n}\", 0o0)"), Ret::Fd(9)),
            c(format!("mount(\"./{src}\", \"./9\", -, BIND, -)"), Ret::Ok),
            c("close(9)", Ret::Ok),
            c(format!("close({src})"), Ret::Ok),
            c(format!("open_in_root(3, \"/dev/{n}\", 0o0)"), Ret::Fd(9)),
            c("mount_setattr(9, single, set NOSUID|NOEXEC, clear RDONLY|NODEV)", Ret::Ok),
            c("close(9)", Ret::Ok),
        ]);
    }
    v.push(c(format!("open_in_root(3, \"/dev\", {:#o})", libc::O_DIRECTORY), Ret::Fd(8)));
    for (n, l) in crate::ops::dev::LINKS {
        v.push(c(format!("symlinkat({l:?}, 8, {n:?})"), Ret::Ok));
    }
    v.extend([
        c("mkdirat(8, \"shm\", 755)", Ret::Ok),
        c("mkdirat(8, \"pts\", 755)", Ret::Ok),
        c("close(8)", Ret::Ok),
        c("open_in_root(3, \"/dev\", 0o0)", Ret::Fd(9)),
        c("mount_setattr(9, single, RDONLY|NOSUID|NODEV)", Ret::Ok),
        c("close(9)", Ret::Ok),
        c("close(3)", Ret::Ok),
        c("chdir(\"/\")", Ret::Ok),
    ]);
    v
}

#[test]
fn a_pools_zygote_builds_the_roots_attributes_and_devs_read_only_part_once() {
    let p = shared_dev_plan();
    let s = Script::new(shared_calls(false));
    assert_eq!(super::root::build_shared(&s, &p, IDS).unwrap(), Some(2));
    s.done();
    // nothing where a sandbox could see the difference: no calls at all
    for p in [kept_root_plan(), plan()] {
        let s = Script::new(Vec::<(String, Ret)>::new());
        assert_eq!(super::root::build_shared(&s, &p, IDS).unwrap(), None);
        s.done();
    }
    // a terminal on console (a kept session): each sandbox binds its own; the zygote closes what it opened
    let mut p = shared_dev_plan();
    p.new_session = false;
    let mut calls = shared_calls(true);
    calls.extend((50..56).chain([60]).map(c_close));
    let s = Script::new(calls);
    assert_eq!(super::root::build_shared(&s, &p, IDS).unwrap(), None);
    s.done();
}

/// Runs the zygote's shared part on `script` until it fails, answering
/// each close it makes after the script's end (what a failure leaves to
/// close, in whatever order), and returns the error.
fn shared_error(p: &Plan, mut script: Vec<(String, Ret)>) -> SetupError {
    loop {
        let s = Script::new(script.clone());
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| super::root::build_shared(&s, p, IDS))) {
            Ok(Err(e)) => {
                s.done();
                return e;
            }
            Ok(Ok(v)) => panic!("the failure was swallowed: {v:?}"),
            Err(payload) => {
                let msg = payload.downcast_ref::<String>().cloned().unwrap_or_default();
                let call = msg.split_once(": ").and_then(|(_, rest)| rest.split_once(" (script exhausted)")).map(|(c, _)| c.to_string());
                match call {
                    Some(call) if call.starts_with("close(") => script.push((call, Ret::Ok)),
                    _ => panic!("after the failure, a call that is not a close: {msg}"),
                }
            }
        }
    }
}

#[test]
fn every_fallible_call_of_the_zygotes_shared_part_is_a_fatal_branch() {
    let p = shared_dev_plan();
    let all = shared_calls(false);
    let mut fatal = 0;
    for (i, (call, ret)) in all.iter().enumerate() {
        // Closes cannot fail here; a device's first lookup answers ENOENT
        // already (missing: made next); a device early could not open is
        // reported at its bind (ops::dev's tests).
        if call.starts_with("close(") || matches!(ret, Ret::Err(_)) || call.starts_with("open(\"/dev/") {
            continue;
        }
        let marker = 31_000 + i as i32;
        let mut script = all[..i].to_vec();
        script.push((call.clone(), Ret::Err(marker)));
        let e = shared_error(&p, script);
        assert!(e.to_string().contains(&format!("error {marker}")), "{call}: {e}");
        assert!(matches!(e.code, crate::error::Code::Mount | crate::error::Code::Setup), "{call}: {e}");
        fatal += 1;
    }
    // the root: 9 (early 2, rslave, chdir, open, attributes 2, tmpfs 2); 6 per device; links and mount points 9; remount 2; chdir 1
    assert_eq!(fatal, 9 + 6 * 6 + 9 + 2 + 1, "every fallible call");
}

/// A sandbox the zygote forks for [`shared_dev_plan`]: the other ops as on
/// a kept root, and at the dev op only its own devpts and shm.
fn own_calls() -> Vec<(String, Ret)> {
    vec![
        c("mount(-, \"/\", -, REC|SLAVE, -)", Ret::Ok),
        c("chdir(\"/proc/self/fd\")", Ret::Ok),
        c(format!("open(\"/\", {:#o})", libc::O_PATH | libc::O_DIRECTORY), Ret::Fd(3)),
        c(format!("open_in_root(3, \"/tmp\", {:#o})", libc::O_DIRECTORY), Ret::Fd(5)),
        c("mount(\"tmpfs\", \"./5\", \"tmpfs\", NOSUID|NODEV, \"mode=755\")", Ret::Ok),
        c("close(5)", Ret::Ok),
        c(format!("open_in_root(3, \"/dev/pts\", {:#o})", libc::O_DIRECTORY), Ret::Fd(6)),
        c("mount(\"devpts\", \"./6\", \"devpts\", NOSUID|NOEXEC, \"newinstance,ptmxmode=0666,mode=620\")", Ret::Ok),
        c("close(6)", Ret::Ok),
        c(format!("open_in_root(3, \"/dev/shm\", {:#o})", libc::O_DIRECTORY), Ret::Fd(7)),
        c("mount(\"tmpfs\", \"./7\", \"tmpfs\", NOSUID|NODEV, \"mode=1777\")", Ret::Ok),
        c("close(7)", Ret::Ok),
        c("close(3)", Ret::Ok),
        c("chdir(\"/\")", Ret::Ok),
    ]
}

#[test]
fn a_sandbox_of_the_zygote_mounts_only_its_own_part_and_every_failure_is_fatal() {
    let p = shared_dev_plan();
    let s = Script::new(own_calls());
    super::root::build(&s, &p, IDS, None, Some(2)).unwrap();
    s.done();
    let all = own_calls();
    let mut fatal = 0;
    for (i, (call, _)) in all.iter().enumerate() {
        if call.starts_with("close(") {
            continue;
        }
        let marker = 32_000 + i as i32;
        let mut script = all[..i].to_vec();
        script.push((call.clone(), Ret::Err(marker)));
        // what the failure leaves to close: the mount's fd, then the root's
        if call.starts_with("mount(\"") {
            script.push(all[i + 1].clone());
        }
        if i > 2 && i < all.len() - 2 {
            script.push(c("close(3)", Ret::Ok));
        }
        let s = Script::new(script);
        let e = super::root::build(&s, &p, IDS, None, Some(2)).unwrap_err();
        s.done();
        assert!(e.to_string().contains(&format!("error {marker}")), "{call}: {e}");
        // ops keep the plan's numbering: the tmpfs is op 1, the dev op 2
        if call.contains("/tmp") || call.contains("\"tmpfs\", \"./5\"") {
            assert_eq!(e.op_index, Some(1), "{call}");
        }
        if call.contains("/dev/") || call.contains("devpts") || call.contains("./7") {
            assert_eq!(e.op_index, Some(2), "{call}");
        }
        fatal += 1;
    }
    assert_eq!(fatal, 10);
    // the index must name the plan's dev op
    let s = Script::new(vec![c("mount(-, \"/\", -, REC|SLAVE, -)", Ret::Ok)]);
    assert!(super::root::build(&s, &p, IDS, None, Some(1)).unwrap_err().to_string().contains("is not dev"));
    s.done();
}

/// A pool's zygote drops, once before it serves, what each sandbox would
/// drop the same: the bounding set (but the caps the plan keeps), then
/// no_new_privs and its part of the filters; every failure is fatal, and a
/// plan without such a part loads nothing.
#[test]
fn the_zygote_drops_the_bounding_set_and_loads_its_part_of_the_filters_once_and_each_failure_is_fatal() {
    let two = vec![vec![libc::sock_filter { code: 6, jt: 0, jf: 0, k: 0x7fff_0000 }; 3], vec![libc::sock_filter { code: 6, jt: 0, jf: 0, k: 0x7fff_0000 }; 5]];
    let mut p = plan();
    p.cap_add.push("CAP_NET_RAW".into());
    // CAP_NET_RAW is 13: kept, the other 40 dropped
    let mut all: Vec<(String, Ret)> = (0..=40).filter(|&cap| cap != 13).map(|cap| c(format!("prctl(CapBsetDrop({cap}))"), Ret::Ok)).collect();
    let drops = all.len();
    all.extend([c("prctl(SetNoNewPrivs)", Ret::Ok), c("seccomp_load(3 insns)", Ret::Ok), c("seccomp_load(5 insns)", Ret::Ok)]);
    let s = Script::new(all.clone());
    super::privileges::preload(&s, &p, &two, 40).unwrap();
    s.done();
    for i in 0..all.len() {
        let mut script = all[..i].to_vec();
        script.push((all[i].0.clone(), Ret::Err(libc::EINVAL)));
        let s = Script::new(script);
        let e = super::privileges::preload(&s, &p, &two, 40).unwrap_err();
        s.done();
        assert_eq!(e.code, crate::error::Code::Setup);
        let what = if i < drops {
            "from the bounding set"
        } else if i == drops {
            "no_new_privs"
        } else {
            "load the seccomp filter"
        };
        assert!(e.to_string().contains(what), "{e}");
    }
    let s = Script::new(all[..drops].to_vec());
    super::privileges::preload(&s, &p, &[], 40).unwrap();
    s.done();
}

/// A sandbox the zygote forked drops the rest and no bounding capability
/// again: the same calls as any sandbox's pid 1 but those.
#[test]
fn a_sandbox_of_the_zygote_does_not_drop_the_bounding_set_again() {
    let p = plan();
    let all: Vec<(String, Ret)> = setup_calls().into_iter().filter(|(call, _)| !call.starts_with("prctl(CapBsetDrop")).collect();
    let from = all.iter().position(|(call, _)| call == "prctl(CapAmbientClearAll)").unwrap();
    let to = all.iter().position(|(call, _)| call.starts_with("seccomp_load")).unwrap();
    let s = Script::new(all[from..=to].to_vec());
    super::privileges::drop(&s, &p, progs(), None, 40, true).unwrap();
    s.done();
}
