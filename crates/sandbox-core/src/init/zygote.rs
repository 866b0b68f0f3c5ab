//! Stage: pid 1 of a warm pool's zygote (plan.live.end `zygote`, issue 15).
//! The pool's user namespace and id maps are made once ([`super::before_root`]);
//! pid 1 then keeps the host view and every capability of that namespace,
//! drops nothing, runs no program, and serves the supervisor's channel: for
//! each control connection handed to it, it forks (clone, one thread: no
//! namespace work on threads) a sandbox into fresh pid, mount, ipc, uts,
//! cgroup and net namespaces (as the plan has them; never a new user
//! namespace). That child is pid 1 of its pid namespace and runs the same
//! stages as any sandbox's pid 1 from the hostname on (its own root from the
//! host view, so every mount it has, tmpfs, proc, dev, mqueue, is a new one
//! of its own; then the privilege drop), greets the connection, runs the one
//! `exec` it gets and ends with it ([`crate::live::pid1::serve_one`]): its
//! namespaces, and whatever its program left in them, die with it. A child
//! whose set-up fails answers the connection with the error and exits: it
//! never greets, so it is never used.
//!
//! What every sandbox would build the same is built once, before the
//! zygote serves ([`super::root::build_shared`]): for a root kept in place
//! with a `dev` op, the tree's attributes and /dev's read-only tmpfs of
//! device binds and links; each sandbox's clone copies that tree and mounts
//! only its own devpts and shm (with proc, tmpfs and the rest of its ops).
//! That part holds nothing a run can change: it is read-only in every
//! sandbox, whose capabilities are gone before its program starts.
//!
//! So is what every sandbox would drop the same ([`super::privileges::preload`]):
//! the bounding set, and the bulk of the strict filter, every rule for a
//! call no sandbox's set-up makes (seccomp::compile_zygote); each sandbox
//! loads the rest (the mount family, namespaces, openat2) once its root is
//! built. Stacked, the two parts answer every call as the whole filter
//! does; the kernel converts and compiles the bulk once per pool.
//!
//! Invariants: the zygote is not dumpable (nobody attaches to it) and
//! closes every fd it was given but stdio and the channel; a child
//! closes the zygote's channel and signalfd before anything else and holds
//! only its connection; the zygote holds no caller fd (the connection is
//! closed once the child has its copy); it exits when the supervisor goes
//! (the channel's end), or is signalled, which ends its pid namespace and so
//! every sandbox it forked.

use super::ids::Ids;
use super::{clone_flags, pid1, sandbox, Failed, InitContext, EXIT_SETUP, EXIT_UNEXPECTED_WAIT};
use crate::error::Code;
use crate::live::net;
use crate::live::pid1::{default_cwd, serve_one, Defaults};
use crate::live::proto::Reply;
use crate::sys::{Fd, Prctl, Sys, HANDLED_SIGNALS, POLLIN};

/// Serve the supervisor's channel until it ends. Never returns.
pub fn serve(sys: &dyn Sys, cx: &InitContext, ids: Ids, old_umask: u32, shared: Option<usize>) -> ! {
    let Some(chan) = cx.live_chan else {
        sys.log("a zygote needs the supervisor's channel");
        sys.exit(EXIT_SETUP)
    };
    // It keeps every capability of the pool's user namespace: nobody attaches to it.
    if let Err(e) = sys.prctl(Prctl::SetDumpable(false)) {
        sys.log(&format!("cannot clear dumpable: {e}"));
        sys.exit(EXIT_SETUP)
    }
    // The supervisor reports `ready`; the sandboxes answer on their connections.
    if let Some(fd) = cx.report_fd {
        let _ = sys.close(fd);
    }
    // Whatever else the launcher was given (a caller's fd without
    // O_CLOEXEC): neither the zygote nor its sandboxes keep any of it.
    match sys.read_dir("/proc/self/fd") {
        Ok(names) => {
            for fd in names.iter().filter_map(|n| n.parse::<Fd>().ok()).filter(|&fd| fd > 2 && fd != chan) {
                let _ = sys.close(fd);
            }
        }
        Err(e) => {
            sys.log(&format!("cannot list its fds in /proc/self/fd: {e}"));
            sys.exit(EXIT_SETUP)
        }
    }
    let sfd = match sys.signal_fd(&HANDLED_SIGNALS) {
        Ok(fd) => fd,
        Err(e) => {
            sys.log(&format!("cannot wait for signals: {e}"));
            sys.exit(EXIT_UNEXPECTED_WAIT)
        }
    };
    let _ = sys.write_fd(chan, b"R");
    let flags = clone_flags(cx.plan) & !(libc::CLONE_NEWUSER as u64);
    loop {
        let rev = match sys.poll(&[(sfd, POLLIN), (chan, POLLIN)], -1) {
            Ok(r) => r,
            Err(e) => {
                sys.log(&format!("cannot poll: {e}"));
                sys.exit(EXIT_UNEXPECTED_WAIT)
            }
        };
        if rev[0] != 0 {
            while let Ok(Some(sig)) = sys.read_signal(sfd) {
                if sig != libc::SIGCHLD {
                    // The supervisor asks the pool to end: our exit ends every sandbox.
                    sys.exit(0)
                }
                // Sandboxes that ended: their status went to their callers.
                while let Ok(Some(_)) = sys.reap() {}
            }
        }
        if rev[1] != 0 {
            let conn = match sys.recv_fd(chan) {
                Ok(Some(conn)) => conn,
                // The supervisor is gone: nobody can reach us any more.
                _ => sys.exit(0),
            };
            match sys.clone_sandbox(flags) {
                Ok(0) => child(sys, cx, ids, old_umask, shared, conn, [chan, sfd]),
                Ok(_) => {}
                Err(e) => {
                    let _ = net::send(sys, conn, &Reply::error(Code::Setup, format!("cannot fork a sandbox of the pool: {e}")).to_bytes(), &[]);
                }
            }
            let _ = sys.close(conn);
        }
    }
}

/// A sandbox of the pool: pid 1 of its new namespaces, with `conn` only.
fn child(sys: &dyn Sys, cx: &InitContext, ids: Ids, old_umask: u32, shared: Option<usize>, conn: Fd, zygote: [Fd; 2]) -> ! {
    for fd in zygote {
        let _ = sys.close(fd);
    }
    // The zygote's signalfd blocked them; serve_one makes its own.
    let _ = sys.unblock_signals();
    let own = InitContext {
        plan: cx.plan,
        host_uid: cx.host_uid,
        host_gid: cx.host_gid,
        caller_cwd: cx.caller_cwd.clone(),
        report_fd: None,
        seccomp: cx.seccomp,
        zygote_seccomp: &[],
        bounded: true,
        program_seccomp: cx.program_seccomp,
        env: cx.env.clone(),
        tty_sock: None,
        image_mount: None,
        live_chan: None,
        env_steps: cx.env_steps.clone(),
        net_sock: None,
        seccomp_notify: None,
    };
    match pid1(sys, cx.plan, false).map_err(Failed::from).and_then(|()| sandbox(sys, &own, ids, old_umask, shared)) {
        Ok((_, env)) => {
            sys.release_memory();
            let (cwd, _) = default_cwd(cx.plan, cx.caller_cwd.as_deref());
            serve_one(sys, cx.plan, conn, Defaults { env, cwd, umask: old_umask, steps: cx.env_steps.clone() })
        }
        Err(Failed { err, status }) => {
            let _ = net::send(sys, conn, &Reply::Error { code: err.code, message: err.to_string() }.to_bytes(), &[]);
            sys.exit(status)
        }
    }
}

#[cfg(test)]
mod tests {
    //! The zygote's loop and its fatal branches through the call script;
    //! its sandboxes run for real in test/sandbox/pool.
    use super::*;
    use crate::plan::{LiveEnd, LiveSpec, Plan};
    use crate::sys::script::{expect_exit, Ret, Script};
    use crate::sys::ExitStatus;

    const CHAN: Fd = 31;
    const SFD: Fd = 30;
    const CONN: Fd = 50;
    const REPORT: Fd = 9;

    fn plan() -> Plan {
        let mut p = Plan::new(Vec::new());
        p.live = Some(LiveSpec { name: "p".into(), detach: false, end: LiveEnd::Zygote, labels: Default::default() });
        p
    }

    fn cx(p: &Plan, chan: Option<Fd>) -> InitContext<'_> {
        InitContext {
            plan: p,
            host_uid: 1000,
            host_gid: 1000,
            caller_cwd: None,
            report_fd: Some(REPORT),
            seccomp: &[],
            zygote_seccomp: &[],
            bounded: false,
            program_seccomp: &[],
            env: Vec::new(),
            tty_sock: None,
            image_mount: None,
            live_chan: chan,
            env_steps: Vec::new(),
            net_sock: None,
            seccomp_notify: None,
        }
    }

    fn c(s: &str, r: Ret) -> (String, Ret) {
        (s.to_string(), r)
    }

    /// Up to the first poll: not dumpable, the report socket closed, the signalfd, `R`.
    fn start() -> Vec<(String, Ret)> {
        vec![
            c("prctl(SetDumpable(false))", Ret::Ok),
            c("close(9)", Ret::Ok),
            // a stray fd of the caller's (251) is closed; stdio and the channel stay
            c("read_dir(\"/proc/self/fd\")", Ret::Names(vec!["0".into(), "1".into(), "2".into(), "251".into(), "31".into()])),
            c("close(251)", Ret::Ok),
            c("signal_fd([17, 15, 2, 1, 3])", Ret::Fd(SFD)),
            c("write_fd(31, \"R\")", Ret::Ok),
        ]
    }

    fn poll(rev: [i16; 2]) -> (String, Ret) {
        (format!("poll([{SFD}:IN {CHAN}:IN], -1)"), Ret::Events(rev.to_vec()))
    }

    /// A sandbox's clone: every namespace of the plan but the user namespace.
    fn clone() -> String {
        format!("clone_sandbox({:#x})", clone_flags(&plan()) & !(libc::CLONE_NEWUSER as u64))
    }

    fn run(chan: Option<Fd>, calls: Vec<(String, Ret)>) -> (i32, Vec<String>) {
        let p = plan();
        let s = Script::new(calls);
        let code = expect_exit(|| serve(&s, &cx(&p, chan), Ids { uid: 1000, gid: 1000 }, 0o22, None));
        s.done();
        (code, s.logs())
    }

    #[test]
    fn the_clone_makes_every_namespace_but_the_user_namespace() {
        let f = clone_flags(&plan()) & !(libc::CLONE_NEWUSER as u64);
        for ns in [libc::CLONE_NEWPID, libc::CLONE_NEWNS, libc::CLONE_NEWIPC, libc::CLONE_NEWUTS, libc::CLONE_NEWNET, libc::CLONE_NEWCGROUP] {
            assert_ne!(f & ns as u64, 0, "{ns:#x}");
        }
        assert_eq!(f & libc::CLONE_NEWUSER as u64, 0);
    }

    #[test]
    fn without_the_supervisors_channel_or_when_it_stays_dumpable_it_stops_before_serving() {
        let (code, logs) = run(None, vec![]);
        assert_eq!((code, logs[0].as_str()), (EXIT_SETUP, "a zygote needs the supervisor's channel"));
        let (code, logs) = run(Some(CHAN), vec![c("prctl(SetDumpable(false))", Ret::Err(libc::EPERM))]);
        assert_eq!(code, EXIT_SETUP);
        assert!(logs[0].starts_with("cannot clear dumpable"), "{logs:?}");
        // fds it cannot list, it cannot be sure to have closed
        let calls = vec![c("prctl(SetDumpable(false))", Ret::Ok), c("close(9)", Ret::Ok), c("read_dir(\"/proc/self/fd\")", Ret::Err(libc::ENOENT))];
        let (code, logs) = run(Some(CHAN), calls);
        assert_eq!(code, EXIT_SETUP);
        assert!(logs[0].starts_with("cannot list its fds"), "{logs:?}");
    }

    #[test]
    fn no_signalfd_or_a_failed_poll_ends_it_with_the_wait_status() {
        let calls = vec![
            c("prctl(SetDumpable(false))", Ret::Ok),
            c("close(9)", Ret::Ok),
            c("read_dir(\"/proc/self/fd\")", Ret::Names(vec!["31".into()])),
            c("signal_fd([17, 15, 2, 1, 3])", Ret::Err(libc::EMFILE)),
        ];
        let (code, logs) = run(Some(CHAN), calls);
        assert_eq!(code, EXIT_UNEXPECTED_WAIT);
        assert!(logs[0].starts_with("cannot wait for signals"), "{logs:?}");
        let mut calls = start();
        calls.push((format!("poll([{SFD}:IN {CHAN}:IN], -1)"), Ret::Err(libc::EINVAL)));
        let (code, logs) = run(Some(CHAN), calls);
        assert_eq!(code, EXIT_UNEXPECTED_WAIT);
        assert!(logs[0].starts_with("cannot poll"), "{logs:?}");
    }

    #[test]
    fn it_reaps_ended_sandboxes_and_ends_with_the_supervisor_or_its_signal() {
        let mut calls = start();
        calls.extend([
            poll([libc::POLLIN, 0]),
            c("read_signal(30)", Ret::Signal(Some(libc::SIGCHLD))),
            c("reap()", Ret::Reaped(7, ExitStatus::Exited(0))),
            c("reap()", Ret::Reaped(8, ExitStatus::Signaled(9))),
            c("reap()", Ret::NoneYet),
            c("read_signal(30)", Ret::Signal(None)),
            // the supervisor is gone: the channel's end
            poll([0, libc::POLLHUP]),
            c("recv_fd(31)", Ret::NoneYet),
        ]);
        assert_eq!(run(Some(CHAN), calls).0, 0);
        let mut calls = start();
        calls.extend([poll([libc::POLLIN, 0]), c("read_signal(30)", Ret::Signal(Some(libc::SIGTERM)))]);
        assert_eq!(run(Some(CHAN), calls).0, 0);
    }

    #[test]
    fn a_failed_fork_answers_the_connection_and_the_zygote_serves_on() {
        let err = Reply::error(Code::Setup, "cannot fork a sandbox of the pool: resource temporarily unavailable").to_bytes();
        let mut calls = start();
        calls.extend([
            poll([0, libc::POLLIN]),
            c("recv_fd(31)", Ret::Fd(CONN)),
            (clone(), Ret::Err(libc::EAGAIN)),
            (format!("send_msg(50, {}, [])", String::from_utf8(err).unwrap()), Ret::Ok),
            c("close(50)", Ret::Ok),
            poll([0, libc::POLLIN]),
            c("recv_fd(31)", Ret::Fd(51)),
            (clone(), Ret::Int(12)),
            // the zygote keeps no copy of the caller's connection
            c("close(51)", Ret::Ok),
            poll([0, libc::POLLHUP]),
            c("recv_fd(31)", Ret::Err(libc::ECONNRESET)),
        ]);
        assert_eq!(run(Some(CHAN), calls).0, 0);
    }

    #[test]
    fn a_sandbox_whose_setup_fails_answers_the_error_and_exits_never_greeting() {
        let err = Reply::Error { code: Code::Setup, message: "this process must run as pid 1".into() }.to_bytes();
        let mut calls = start();
        calls.extend([
            poll([0, libc::POLLIN]),
            c("recv_fd(31)", Ret::Fd(CONN)),
            (clone(), Ret::Int(0)),
            // the child: the zygote's channel and signalfd closed first
            c("close(31)", Ret::Ok),
            c("close(30)", Ret::Ok),
            c("unblock_signals()", Ret::Ok),
            c("getpid()", Ret::Int(5)),
            (format!("send_msg(50, {}, [])", String::from_utf8(err).unwrap()), Ret::Ok),
        ]);
        assert_eq!(run(Some(CHAN), calls).0, EXIT_SETUP);
    }
}
