//! The launcher through the call script: the tty checks, the relay loop
//! (master from pid 1, raw mode, both directions, SIGWINCH, restore on every
//! way out) and the signal policy (first forwarded, second SIGKILLs the
//! sandbox, clean-up still runs).

use super::*;
use crate::init::EXIT_SETUP;
use crate::launch::{run_launcher, LaunchContext};
use crate::plan::{DevOp, TmpfsOp};
use crate::sys::script::{expect_exit, Ret, Script};
use crate::sys::ExitStatus;

fn c(s: impl Into<String>, r: Ret) -> (String, Ret) {
    (s.into(), r)
}

fn plan(tty: bool) -> Plan {
    let mut p = Plan::new(vec!["/bin/sh".into()]);
    p.ops.push(Op::Tmpfs(TmpfsOp { target: "/tmp".into(), size: None, mode: 0o755, read_only: false }));
    p.ops.push(Op::Dev(DevOp { target: "/dev/".into(), mqueue: false, writable: false }));
    p.tty = tty;
    p
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
        runtime_dir: Some("/run/sbx".into()),
    }
}

fn flags(p: &Plan) -> String {
    format!("clone_sandbox({:#x})", crate::launch::clone_flags(p))
}

/// Up to the relay's first poll: checks, socket pair, clone, signalfd.
fn start(p: &Plan) -> Vec<(String, Ret)> {
    vec![
        c("prctl(SetPdeathsig(9))", Ret::Ok),
        c("getppid()", Ret::Int(77)),
        c("isatty(0)", Ret::Int(1)),
        c("socketpair()", Ret::Pair(10, 11)),
        c(flags(p), Ret::Int(4242)),
        c("close(11)", Ret::Ok),
        c("signal_fd([17, 15, 2, 1, 3, 28])", Ret::Fd(12)),
    ]
}

fn ev(v: &[i16]) -> Ret {
    Ret::Events(v.to_vec())
}

const IN: i16 = libc::POLLIN;
const HUP: i16 = libc::POLLHUP;

/// The master arrives: non-blocking, sized, terminal raw.
fn attach() -> Vec<(String, Ret)> {
    vec![
        c("poll([12:IN 10:IN], -1)", ev(&[0, IN])),
        c("recv_fd(10)", Ret::Fd(13)),
        c("set_nonblock(13)", Ret::Ok),
        c("winsize(0)", Ret::Size(24, 80)),
        c("set_winsize(13, 24x80)", Ret::Ok),
        c("tty_raw(0)", Ret::Ok),
        c("close(10)", Ret::Ok),
    ]
}

/// pid 1 reaped with `st`: last output drained, terminal restored, fds closed.
fn reaped(st: ExitStatus) -> Vec<(String, Ret)> {
    vec![
        c("read_signal(12)", Ret::Signal(Some(libc::SIGCHLD))),
        c("reap()", Ret::Reaped(4242, st)),
        c("read(13, 16384)", Ret::Bytes(b"bye\r\n".to_vec())),
        c("write_fd(1, \"bye\\r\\n\")", Ret::Ok),
        c("read(13, 16384)", Ret::Err(libc::EIO)),
        c("close(12)", Ret::Ok),
        c("tty_restore(0)", Ret::Ok),
        c("close(13)", Ret::Ok),
    ]
}

fn run(calls: Vec<(String, Ret)>, p: &Plan) -> (i32, Script) {
    let s = Script::new(calls);
    let code = expect_exit(|| run_launcher(&s, 1000, 1000, &lcx(p)));
    (code, s)
}

#[test]
fn relays_both_ways_resizes_and_restores_the_terminal_on_exit() {
    let p = plan(true);
    let mut v = start(&p);
    v.extend(attach());
    v.extend([
        // A keystroke: stdin to the master.
        c("poll([12:IN 0:IN 13:IN], -1)", ev(&[0, IN, 0])),
        c("read(0, 16384)", Ret::Bytes(b"ls\r".to_vec())),
        c("poll([12:IN 13:IN|OUT], -1)", ev(&[0, libc::POLLOUT])),
        c("write_some(13, \"ls\\r\")", Ret::Int(2)),
        c("poll([12:IN 13:IN|OUT], -1)", ev(&[0, libc::POLLOUT])),
        c("write_some(13, \"\\r\")", Ret::Int(1)),
        // Output: the master to stdout.
        c("poll([12:IN 0:IN 13:IN], -1)", ev(&[0, 0, IN])),
        c("read(13, 16384)", Ret::Bytes(b"a b\r\n".to_vec())),
        c("write_fd(1, \"a b\\r\\n\")", Ret::Ok),
        // The caller's window changed.
        c("poll([12:IN 0:IN 13:IN], -1)", ev(&[IN, 0, 0])),
        c("read_signal(12)", Ret::Signal(Some(libc::SIGWINCH))),
        c("winsize(0)", Ret::Size(50, 132)),
        c("set_winsize(13, 50x132)", Ret::Ok),
        c("read_signal(12)", Ret::Signal(None)),
        c("poll([12:IN 0:IN 13:IN], -1)", ev(&[IN, 0, 0])),
    ]);
    v.extend(reaped(ExitStatus::Exited(7)));
    let (code, s) = run(v, &p);
    assert_eq!(code, 7);
    s.done();
    assert!(s.logs().is_empty(), "{:?}", s.logs());
}

#[test]
fn second_sigint_kills_the_sandbox_and_still_restores_and_cleans_up() {
    let mut p = plan(true);
    p.status_fd = Some(20);
    let mut v = start(&p);
    v.insert(6, c("write_fd(20, \"{ \\\"child-pid\\\": 4242 }\\n\")", Ret::Ok));
    v.extend(attach());
    v.extend([
        c("poll([12:IN 0:IN 13:IN], -1)", ev(&[IN, 0, 0])),
        c("read_signal(12)", Ret::Signal(Some(libc::SIGINT))),
        c("kill(4242, 2)", Ret::Ok),
        c("read_signal(12)", Ret::Signal(Some(libc::SIGINT))),
        c("kill(4242, 9)", Ret::Ok),
        // A third changes nothing: the sandbox is already being killed.
        c("read_signal(12)", Ret::Signal(Some(libc::SIGTERM))),
        c("read_signal(12)", Ret::Signal(None)),
        c("poll([12:IN 0:IN 13:IN], -1)", ev(&[IN, 0, HUP])),
    ]);
    v.extend(reaped(ExitStatus::Signaled(9)));
    v.push(c("write_fd(20, \"{ \\\"exit-code\\\": 130 }\\n\")", Ret::Ok));
    let (code, s) = run(v, &p);
    assert_eq!(code, 130);
    s.done();
}

#[test]
fn pid1_failing_before_the_program_leaves_the_terminal_alone() {
    let p = plan(true);
    let mut v = start(&p);
    v.extend([
        c("poll([12:IN 10:IN], -1)", ev(&[0, HUP])),
        c("recv_fd(10)", Ret::NoneYet),
        c("close(10)", Ret::Ok),
        c("poll([12:IN], -1)", ev(&[IN])),
        c("read_signal(12)", Ret::Signal(Some(libc::SIGCHLD))),
        c("reap()", Ret::Reaped(4242, ExitStatus::Exited(125))),
        c("close(12)", Ret::Ok),
    ]);
    let (code, s) = run(v, &p);
    assert_eq!(code, EXIT_SETUP);
    s.done();
}

#[test]
fn stdin_hangup_sends_sighup_and_master_eof_stops_reading_it() {
    let p = plan(true);
    let mut v = start(&p);
    v.extend(attach());
    v.extend([
        c("poll([12:IN 0:IN 13:IN], -1)", ev(&[0, HUP, 0])),
        c("read(0, 16384)", Ret::Err(libc::EIO)),
        c("kill(4242, 1)", Ret::Ok),
        c("poll([12:IN 13:IN], -1)", ev(&[0, HUP])),
        c("read(13, 16384)", Ret::Err(libc::EIO)),
        // Neither stdin nor the master is polled any more.
        c("poll([12:IN], -1)", ev(&[IN])),
        c("read_signal(12)", Ret::Signal(Some(libc::SIGCHLD))),
        c("reap()", Ret::Reaped(4242, ExitStatus::Signaled(1))),
        c("close(12)", Ret::Ok),
        c("tty_restore(0)", Ret::Ok),
        c("close(13)", Ret::Ok),
    ]);
    let (code, s) = run(v, &p);
    assert_eq!(code, 129);
    s.done();
}

#[test]
fn raw_mode_and_restore_failures_are_logged_not_fatal() {
    let p = plan(true);
    let mut v = start(&p);
    v.extend([
        c("poll([12:IN 10:IN], -1)", ev(&[0, IN])),
        c("recv_fd(10)", Ret::Fd(13)),
        c("set_nonblock(13)", Ret::Err(20_301)),
        c("winsize(0)", Ret::Err(libc::ENOTTY)),
        c("tty_raw(0)", Ret::Err(20_302)),
        c("close(10)", Ret::Ok),
        c("poll([12:IN 0:IN 13:IN], -1)", ev(&[IN, 0, 0])),
        c("read_signal(12)", Ret::Signal(Some(libc::SIGCHLD))),
        c("reap()", Ret::Reaped(4242, ExitStatus::Exited(0))),
        c("read(13, 16384)", Ret::Err(libc::EAGAIN)),
        c("close(12)", Ret::Ok),
        c("close(13)", Ret::Ok),
    ]);
    let (code, s) = run(v, &p);
    assert_eq!(code, 0);
    s.done();
    assert_eq!(s.logs(), ["cannot make the pseudo-terminal non-blocking: error 20301", "cannot put the terminal in raw mode: error 20302"]);
}

#[test]
fn poll_failure_kills_the_sandbox_restores_and_exits_125() {
    let p = plan(true);
    let mut v = start(&p);
    v.extend(attach());
    v.extend([
        c("poll([12:IN 0:IN 13:IN], -1)", Ret::Err(20_401)),
        c("kill(4242, 9)", Ret::Ok),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGCHLD))),
        c("reap()", Ret::Reaped(4242, ExitStatus::Signaled(9))),
        c("close(12)", Ret::Ok),
        c("tty_restore(0)", Ret::Ok),
        c("close(13)", Ret::Ok),
    ]);
    let (code, s) = run(v, &p);
    assert_eq!(code, EXIT_SETUP);
    s.done();
    assert_eq!(s.logs(), ["cannot relay the terminal: error 20401"]);
}

#[test]
fn signalfd_failure_falls_back_to_waiting() {
    let p = plan(true);
    let mut v = start(&p);
    v.last_mut().unwrap().1 = Ret::Err(20_501);
    v.extend([
        c("kill(4242, 9)", Ret::Ok),
        c("close(10)", Ret::Ok),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGCHLD))),
        c("reap()", Ret::Reaped(4242, ExitStatus::Signaled(9))),
    ]);
    let (code, s) = run(v, &p);
    assert_eq!(code, EXIT_SETUP);
    s.done();
    assert_eq!(s.logs(), ["cannot wait for signals: error 20501"]);
}

#[test]
fn signal_read_failure_ends_the_sandbox() {
    let p = plan(true);
    let mut v = start(&p);
    v.extend(attach());
    v.extend([
        c("poll([12:IN 0:IN 13:IN], -1)", ev(&[IN, 0, 0])),
        c("read_signal(12)", Ret::Err(20_601)),
        c("kill(4242, 9)", Ret::Ok),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGCHLD))),
        c("reap()", Ret::Reaped(4242, ExitStatus::Signaled(9))),
        c("close(12)", Ret::Ok),
        c("tty_restore(0)", Ret::Ok),
        c("close(13)", Ret::Ok),
    ]);
    let (code, s) = run(v, &p);
    assert_eq!(code, EXIT_SETUP);
    s.done();
    assert_eq!(s.logs(), ["cannot read signals: error 20601"]);
}

#[test]
fn tty_without_a_private_dev_is_e_setup_with_the_hint_before_clone() {
    let mut p = plan(true);
    p.ops.retain(|o| !matches!(o, Op::Dev(_)));
    let (code, s) = run(vec![c("prctl(SetPdeathsig(9))", Ret::Ok), c("getppid()", Ret::Int(77))], &p);
    assert_eq!(code, EXIT_SETUP);
    s.done();
    let logs = s.logs();
    assert!(logs[0].starts_with("E_SETUP: a pseudo-terminal needs the sandbox's own /dev"), "{logs:?}");
    assert!(logs[1].contains("--no-tty") && logs[1].contains("--dev /dev"), "{logs:?}");
}

#[test]
fn tty_without_a_terminal_on_stdin_is_e_setup() {
    let p = plan(true);
    let (code, s) = run(vec![c("prctl(SetPdeathsig(9))", Ret::Ok), c("getppid()", Ret::Int(77)), c("isatty(0)", Ret::Int(0))], &p);
    assert_eq!(code, EXIT_SETUP);
    s.done();
    assert!(s.logs()[0].starts_with("E_SETUP: a pseudo-terminal needs a terminal on stdin"), "{:?}", s.logs());
}

#[test]
fn tty_socketpair_failure_is_e_setup() {
    let p = plan(true);
    let v = vec![c("prctl(SetPdeathsig(9))", Ret::Ok), c("getppid()", Ret::Int(77)), c("isatty(0)", Ret::Int(1)), c("socketpair()", Ret::Err(20_701))];
    let (code, s) = run(v, &p);
    assert_eq!(code, EXIT_SETUP);
    s.done();
    assert_eq!(s.logs(), ["E_SETUP: cannot create the pseudo-terminal socket: error 20701"]);
}

#[test]
fn without_tty_a_second_sigterm_kills_the_sandbox_and_exits_143() {
    let p = plan(false);
    let v = vec![
        c("prctl(SetPdeathsig(9))", Ret::Ok),
        c("getppid()", Ret::Int(77)),
        c(flags(&p), Ret::Int(4242)),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGTERM))),
        c("kill(4242, 15)", Ret::Ok),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGQUIT))),
        c("kill(4242, 3)", Ret::Ok),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGTERM))),
        c("kill(4242, 9)", Ret::Ok),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGCHLD))),
        c("reap()", Ret::Reaped(4242, ExitStatus::Signaled(9))),
    ];
    let (code, s) = run(v, &p);
    assert_eq!(code, 143);
    s.done();
}

#[test]
fn sighup_then_sigint_escalates_but_repeated_sighups_do_not() {
    let p = plan(false);
    let v = vec![
        c("prctl(SetPdeathsig(9))", Ret::Ok),
        c("getppid()", Ret::Int(77)),
        c(flags(&p), Ret::Int(4242)),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGHUP))),
        c("kill(4242, 1)", Ret::Ok),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGHUP))),
        c("kill(4242, 1)", Ret::Ok),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGINT))),
        c("kill(4242, 9)", Ret::Ok),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGCHLD))),
        c("reap()", Ret::NoneYet),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGCHLD))),
        c("reap()", Ret::Reaped(99, ExitStatus::Exited(0))),
        c("reap()", Ret::Reaped(4242, ExitStatus::Signaled(9))),
    ];
    let (code, s) = run(v, &p);
    assert_eq!(code, 130);
    s.done();
}

#[test]
fn with_the_callers_session_kept_sigint_is_only_forwarded() {
    let mut p = plan(false);
    p.new_session = false;
    let v = vec![
        c("prctl(SetPdeathsig(9))", Ret::Ok),
        c("getppid()", Ret::Int(77)),
        c(flags(&p), Ret::Int(4242)),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGINT))),
        c("kill(4242, 2)", Ret::Ok),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGINT))),
        c("kill(4242, 2)", Ret::Ok),
        // A SIGTERM after keyboard SIGINTs is still a first request.
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGTERM))),
        c("kill(4242, 15)", Ret::Ok),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGTERM))),
        c("kill(4242, 9)", Ret::Ok),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGCHLD))),
        c("reap()", Ret::Reaped(4242, ExitStatus::Signaled(9))),
    ];
    let (code, s) = run(v, &p);
    assert_eq!(code, 143);
    s.done();
}

#[test]
fn wait_errors_kill_the_sandbox_and_still_reach_the_clean_up() {
    let mut p = plan(false);
    p.status_fd = Some(20);
    let v = vec![
        c("prctl(SetPdeathsig(9))", Ret::Ok),
        c("getppid()", Ret::Int(77)),
        c(flags(&p), Ret::Int(4242)),
        c("write_fd(20, \"{ \\\"child-pid\\\": 4242 }\\n\")", Ret::Ok),
        c("wait_signal(None)", Ret::Signal(Some(libc::SIGCHLD))),
        c("reap()", Ret::Err(20_801)),
        c("kill(4242, 9)", Ret::Ok),
        c("write_fd(20, \"{ \\\"exit-code\\\": 125 }\\n\")", Ret::Ok),
    ];
    let (code, s) = run(v, &p);
    assert_eq!(code, EXIT_SETUP);
    s.done();
    assert_eq!(s.logs(), ["cannot wait for the sandbox: error 20801"]);
    let v = vec![
        c("prctl(SetPdeathsig(9))", Ret::Ok),
        c("getppid()", Ret::Int(77)),
        c(flags(&p), Ret::Int(4242)),
        c("write_fd(20, \"{ \\\"child-pid\\\": 4242 }\\n\")", Ret::Ok),
        c("wait_signal(None)", Ret::Err(20_802)),
        c("kill(4242, 9)", Ret::Ok),
        c("reap()", Ret::NoneYet),
        c("poll([], 10)", ev(&[])),
        c("reap()", Ret::Reaped(4242, ExitStatus::Signaled(9))),
        c("write_fd(20, \"{ \\\"exit-code\\\": 125 }\\n\")", Ret::Ok),
    ];
    let (code, s) = run(v, &p);
    assert_eq!(code, EXIT_SETUP);
    s.done();
    assert_eq!(s.logs(), ["cannot wait for signals: error 20802"]);
}

#[test]
fn relay_retries_what_would_block_and_drops_input_the_master_refuses() {
    let p = plan(true);
    let mut v = start(&p);
    v.extend([
        // Nothing usable from pid 1's socket: it is closed all the same.
        c("poll([12:IN 10:IN], -1)", ev(&[0, IN])),
        c("recv_fd(10)", Ret::Err(libc::ECONNRESET)),
        c("close(10)", Ret::Ok),
        c("poll([12:IN], -1)", ev(&[IN])),
        c("read_signal(12)", Ret::Signal(Some(libc::SIGCHLD))),
        c("reap()", Ret::Err(libc::ECHILD)),
        c("close(12)", Ret::Ok),
    ]);
    let (code, s) = run(v, &p);
    assert_eq!(code, EXIT_SETUP);
    s.done();

    let mut v = start(&p);
    v.extend(attach());
    v.extend([
        c("poll([12:IN 0:IN 13:IN], -1)", ev(&[0, IN, IN])),
        c("read(0, 16384)", Ret::Err(libc::EAGAIN)),
        c("read(13, 16384)", Ret::Err(libc::EAGAIN)),
        c("poll([12:IN 0:IN 13:IN], -1)", ev(&[0, IN, 0])),
        c("read(0, 16384)", Ret::Bytes(b"abc".to_vec())),
        c("poll([12:IN 13:IN|OUT], -1)", ev(&[0, libc::POLLOUT])),
        c("write_some(13, \"abc\")", Ret::Err(libc::EAGAIN)),
        c("poll([12:IN 13:IN|OUT], -1)", ev(&[0, libc::POLLOUT])),
        c("write_some(13, \"abc\")", Ret::Err(libc::EIO)),
        // Refused input is dropped: stdin is read again.
        c("poll([12:IN 0:IN 13:IN], -1)", ev(&[0, IN, 0])),
        c("read(0, 16384)", Ret::Bytes(Vec::new())),
        c("kill(4242, 1)", Ret::Ok),
        c("poll([12:IN 13:IN], -1)", ev(&[IN, 0])),
    ]);
    v.extend(reaped(ExitStatus::Exited(0)));
    let (code, s) = run(v, &p);
    assert_eq!(code, 0);
    s.done();
}

#[test]
fn the_child_side_of_clone_closes_the_launchers_end() {
    let p = plan(true);
    let v = vec![
        c("prctl(SetPdeathsig(9))", Ret::Ok),
        c("getppid()", Ret::Int(77)),
        c("isatty(0)", Ret::Int(1)),
        c("socketpair()", Ret::Pair(10, 11)),
        c(flags(&p), Ret::Int(0)),
        c("close(10)", Ret::Ok),
        // run_init: the script stops it at its first check.
        c("getpid()", Ret::Int(5)),
    ];
    let (code, s) = run(v, &p);
    assert_eq!(code, EXIT_SETUP);
    s.done();
}

#[test]
fn without_signals_the_launcher_polls_for_pid1_a_bounded_time() {
    let p = plan(false);
    let mut v = vec![
        c("prctl(SetPdeathsig(9))", Ret::Ok),
        c("getppid()", Ret::Int(77)),
        c(flags(&p), Ret::Int(4242)),
        c("wait_signal(None)", Ret::Err(20_901)),
        c("kill(4242, 9)", Ret::Ok),
    ];
    for _ in 0..1000 {
        v.push(c("reap()", Ret::NoneYet));
        v.push(c("poll([], 10)", ev(&[])));
    }
    let (code, s) = run(v, &p);
    assert_eq!(code, EXIT_SETUP);
    s.done();
}
