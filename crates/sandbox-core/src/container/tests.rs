//! The container's pid 1 through the call script: the privilege drop in
//! runc's order with each fallible call failing in turn under a unique errno
//! marker, the release and dumpable failures reported over the sync socket,
//! the console, the start gate and the exec.

use super::*;
use crate::oci::spec::{Capabilities, Process, Rlimit, User};
use crate::sys::script::{expect_exit, Ret, Script};

fn c(s: impl Into<String>, r: Ret) -> (String, Ret) {
    (s.into(), r)
}

fn process() -> Process {
    let kill = vec!["CAP_KILL".to_string()];
    Process {
        args: vec!["sh".into()],
        env: vec!["PATH=/bin".into()],
        cwd: "/w".into(),
        user: User { uid: 1000, gid: 100, umask: None, additional_gids: vec![10] },
        capabilities: Some(Capabilities { bounding: kill.clone(), effective: kill.clone(), permitted: kill.clone(), ambient: kill, ..Default::default() }),
        rlimits: vec![Rlimit { kind: "RLIMIT_NOFILE".into(), soft: 1024, hard: 1024 }],
        no_new_privileges: true,
        oom_score_adj: Some(5),
        ..Default::default()
    }
}

fn spec() -> Spec {
    Spec { process: Some(process()), ..Default::default() }
}

/// The fixture every container unit test starts from (mounts.rs's too).
pub(super) fn container(spec: &Spec) -> Container<'_> {
    Container {
        spec,
        rootfs: "/b/rootfs".into(),
        bundle: "/b".into(),
        gate: 4,
        mount_ns: None,
        console_socket: None,
        sync: 9,
        userns: false,
        // Ours (one instruction) then the spec's (two), as oci::seccomp::filters orders them.
        seccomp: vec![vec![allow()], vec![allow(), allow()]],
        privileged: true,
        preserve_fds: 0,
        keyring: None,
    }
}

fn allow() -> libc::sock_filter {
    libc::sock_filter { code: 6, jt: 0, jf: 0, k: 0x7fff_0000 }
}

/// (call, what it returns, fatal): the whole drop for `process()`.
fn privilege_calls() -> Vec<(String, Ret, bool)> {
    vec![
        ("write_file(\"/proc/self/oom_score_adj\", \"5\")".into(), Ret::Ok, true),
        ("setrlimit(7, 1024, 1024)".into(), Ret::Ok, true),
        ("chdir(\"/w\")".into(), Ret::Ok, false),
        ("is_executable(\"/bin/sh\")".into(), Ret::Int(1), false),
        ("read_file(\"/proc/sys/kernel/cap_last_cap\")".into(), Ret::Bytes(b"6\n".to_vec()), false),
        ("prctl(CapBsetDrop(0))".into(), Ret::Ok, true),
        ("prctl(CapBsetDrop(1))".into(), Ret::Ok, true),
        ("prctl(CapBsetDrop(2))".into(), Ret::Ok, true),
        ("prctl(CapBsetDrop(3))".into(), Ret::Ok, true),
        ("prctl(CapBsetDrop(4))".into(), Ret::Ok, true),
        ("prctl(CapBsetDrop(6))".into(), Ret::Ok, true),
        ("prctl(SetKeepCaps(true))".into(), Ret::Ok, true),
        ("setgroups([10])".into(), Ret::Ok, true),
        ("setresgid(100)".into(), Ret::Ok, true),
        ("setresuid(1000)".into(), Ret::Ok, true),
        ("prctl(SetKeepCaps(false))".into(), Ret::Ok, true),
        ("capset_sets(0x20, 0x20, 0x0)".into(), Ret::Ok, true),
        ("prctl(CapAmbientClearAll)".into(), Ret::Ok, true),
        // An ambient cap the kernel refuses is skipped, as runc skips it.
        ("prctl(CapAmbientRaise(5))".into(), Ret::Ok, false),
        ("umask(22)".into(), Ret::Int(0o22), false),
        ("prctl(SetNoNewPrivs)".into(), Ret::Ok, true),
    ]
}

fn script(calls: &[(String, Ret, bool)]) -> Script {
    Script::new(calls.iter().map(|(c, r, _)| (c.clone(), r.clone())).collect())
}

#[test]
fn the_privilege_drop_is_runcs_order() {
    let p = process();
    let s = script(&privilege_calls());
    let program = privileges_and_cwd(&s, &p, &[], false).unwrap();
    assert_eq!(program.to_str().unwrap(), "/bin/sh");
    s.done();
}

#[test]
fn every_fatal_call_of_the_drop_surfaces_its_own_errno() {
    let p = process();
    let all = privilege_calls();
    for (n, (call, _, fatal)) in all.iter().enumerate() {
        if !fatal {
            continue;
        }
        let marker = 9000 + n as i32;
        let mut v = all[..=n].to_vec();
        v[n].1 = Ret::Err(marker);
        let s = script(&v);
        let e = privileges_and_cwd(&s, &p, &[], false).unwrap_err();
        assert_eq!(e.code, Code::Setup, "{call}");
        assert!(e.message.contains(&format!("error {marker}")), "{call}: {}", e.message);
        s.done();
    }
}

#[test]
fn a_refused_ambient_cap_is_not_fatal() {
    let p = process();
    let mut v = privilege_calls();
    let at = v.iter().position(|c| c.0.starts_with("prctl(CapAmbientRaise")).unwrap();
    v[at].1 = Ret::Err(libc::EPERM);
    let s = script(&v);
    privileges_and_cwd(&s, &p, &[], false).unwrap();
    s.done();
}

/// Without no_new_privs the filter is loaded while CAP_SYS_ADMIN is ours:
/// before the bounding set is touched.
#[test]
fn seccomp_without_no_new_privs_loads_before_the_drop() {
    let mut p = process();
    p.no_new_privileges = false;
    let filters = [vec![allow()], vec![allow(), allow()]];
    // Each filter in turn fails; the first failure stops the drop.
    for n in [0, 1] {
        let mut v = privilege_calls();
        v.pop();
        v.insert(4, ("seccomp_load(1 insns)".into(), Ret::Ok, true));
        v.insert(5, ("seccomp_load(2 insns)".into(), Ret::Ok, true));
        v[4 + n].1 = Ret::Err(9100 + n as i32);
        v.truncate(5 + n);
        let s = script(&v);
        let e = privileges_and_cwd(&s, &p, &filters, false).unwrap_err();
        assert!(e.message.contains("load the seccomp filter") && e.message.contains(&format!("error {}", 9100 + n)), "{}", e.message);
        s.done();
    }
}

#[test]
fn a_missing_cwd_is_made_and_a_missing_program_is_an_exec_error() {
    let p = process();
    let s = Script::new(vec![
        c("write_file(\"/proc/self/oom_score_adj\", \"5\")", Ret::Ok),
        c("setrlimit(7, 1024, 1024)", Ret::Ok),
        c("chdir(\"/w\")", Ret::Err(libc::ENOENT)),
        c("mkdir(\"/w\", 755)", Ret::Err(9200)),
    ]);
    let e = privileges_and_cwd(&s, &p, &[], false).unwrap_err();
    assert!(e.message.contains("create the working directory /w") && e.message.contains("error 9200"), "{}", e.message);
    s.done();

    let s = Script::new(vec![
        c("write_file(\"/proc/self/oom_score_adj\", \"5\")", Ret::Ok),
        c("setrlimit(7, 1024, 1024)", Ret::Ok),
        c("chdir(\"/w\")", Ret::Err(libc::ENOENT)),
        c("mkdir(\"/w\", 755)", Ret::Ok),
        c("chdir(\"/w\")", Ret::Ok),
        c("is_executable(\"/bin/sh\")", Ret::Int(0)),
    ]);
    let e = privileges_and_cwd(&s, &p, &[], false).unwrap_err();
    assert_eq!(e.code, Code::Exec);
    s.done();
}

/// A rootless single map denies setgroups: with no groups asked that is fine,
/// with groups asked it is an error.
#[test]
fn setgroups_denied_in_a_user_namespace_is_fatal_only_with_groups() {
    let mut p = process();
    p.user.additional_gids.clear();
    let mut v = privilege_calls();
    let at = v.iter().position(|c| c.0.starts_with("setgroups")).unwrap();
    v[at] = ("setgroups([])".into(), Ret::Err(libc::EPERM), true);
    let s = script(&v);
    privileges_and_cwd(&s, &p, &[], true).unwrap();
    s.done();

    let p = process();
    let mut v = privilege_calls()[..=at].to_vec();
    v[at].1 = Ret::Err(libc::EPERM);
    let s = script(&v);
    let e = privileges_and_cwd(&s, &p, &[], true).unwrap_err();
    assert!(e.message.contains("supplementary groups"), "{}", e.message);
    s.done();
}

fn sync_error(code: Code, message: &str) -> String {
    let mut b = serde_json::to_string(&Sync::Error { code, message: message.into() }).unwrap();
    b.push('\n');
    format!("write_fd(9, {b:?})")
}

/// Before `ready` every failure goes back over the sync socket and pid 1
/// exits 1: here `create` never released it, then the user namespace's root
/// could not be taken, then dumpable could not be cleared.
#[test]
fn setup_failures_are_sent_to_create_and_exit_1() {
    let spec = spec();
    let c0 = container(&spec);
    let s = Script::new(vec![
        c("read(9, 1)", Ret::Bytes(vec![])),
        c(sync_error(Code::Setup, "create did not release the container's process (cgroup or id maps)"), Ret::Ok),
    ]);
    assert_eq!(expect_exit(|| run(&s, &c0)), 1);
    s.done();

    let mut cu = container(&spec);
    cu.userns = true;
    let s = Script::new(vec![
        c("read(9, 1)", Ret::Bytes(vec![0])),
        c("setresgid(0)", Ret::Ok),
        c("setresuid(0)", Ret::Err(9300)),
        c(sync_error(Code::Setup, "cannot become uid 0 in the user namespace: error 9300"), Ret::Ok),
    ]);
    assert_eq!(expect_exit(|| run(&s, &cu)), 1);
    s.done();

    let s = Script::new(vec![
        c("read(9, 1)", Ret::Bytes(vec![0])),
        c("readlink(\"/proc/self\")", Ret::Text("4242".into())),
        c("prctl(SetDumpable(false))", Ret::Err(9301)),
        c(sync_error(Code::Setup, "cannot clear dumpable: error 9301"), Ret::Ok),
    ]);
    assert_eq!(expect_exit(|| run(&s, &c0)), 1);
    s.done();
}

/// The session keyring is joined first thing after dumpable is cleared; a
/// kernel without keys goes on, any other failure is a setup error.
#[test]
fn a_new_session_keyring_is_joined_unless_asked_not_to() {
    let spec = spec();
    let mut ck = container(&spec);
    ck.keyring = Some("_ses.c1".into());
    let head = || vec![c("read(9, 1)", Ret::Bytes(vec![0])), c("readlink(\"/proc/self\")", Ret::Text("4242".into())), c("prctl(SetDumpable(false))", Ret::Ok)];
    let mut v = head();
    v.push(c("join_session_keyring(\"_ses.c1\")", Ret::Err(9450)));
    v.push(c(sync_error(Code::Setup, "cannot join a new session keyring _ses.c1: error 9450"), Ret::Ok));
    let s = Script::new(v);
    assert_eq!(expect_exit(|| run(&s, &ck)), 1);
    s.done();
    let s = Script::new(vec![c("join_session_keyring(\"_ses.c1\")", Ret::Err(libc::ENOSYS))]);
    join_keyring(&s, "_ses.c1").unwrap();
    s.done();
}

/// A joined mount namespace and the UTS names come before the rootfs.
#[test]
fn mount_namespace_join_and_domainname_failures_are_setup_errors() {
    let mut spec = spec();
    spec.domainname = Some("dom".into());
    spec.linux.namespaces = vec![crate::oci::spec::Namespace { kind: "uts".into(), path: None }];
    let mut cm = container(&spec);
    cm.mount_ns = Some(11);
    let s = Script::new(vec![
        c("read(9, 1)", Ret::Bytes(vec![0])),
        c("readlink(\"/proc/self\")", Ret::Text("4242".into())),
        c("prctl(SetDumpable(false))", Ret::Ok),
        c("setns(11, NEWNS)", Ret::Err(9400)),
        c(sync_error(Code::Setup, "cannot join the mount namespace: error 9400"), Ret::Ok),
    ]);
    assert_eq!(expect_exit(|| run(&s, &cm)), 1);
    s.done();

    let cd = container(&spec);
    let s = Script::new(vec![
        c("read(9, 1)", Ret::Bytes(vec![0])),
        c("readlink(\"/proc/self\")", Ret::Text("4242".into())),
        c("prctl(SetDumpable(false))", Ret::Ok),
        c("setdomainname(\"dom\")", Ret::Err(9401)),
        c(sync_error(Code::Setup, "cannot set the domain name: error 9401"), Ret::Ok),
    ]);
    assert_eq!(expect_exit(|| run(&s, &cd)), 1);
    s.done();
}

/// The master goes to the console socket; the slave becomes our terminal.
#[test]
fn console_pty_failures_name_their_step() {
    let calls = || {
        vec![
            c("open_pty(\"/dev/ptmx\")", Ret::Pair(20, 21)),
            c("send_fd(7, 20)", Ret::Ok),
            c("close(20)", Ret::Ok),
            c("close(7)", Ret::Ok),
            c("setsid()", Ret::Ok),
            c("take_terminal(21)", Ret::Ok),
            c("close(21)", Ret::Ok),
        ]
    };
    let s = Script::new(calls());
    console_pty(&s, 7, false).unwrap();
    s.done();
    for (n, what) in [(0, "open a pseudo-terminal"), (1, "send the pseudo-terminal"), (4, "start a session"), (5, "take the terminal")] {
        let mut v = calls();
        v.truncate(n + 1);
        v[n].1 = Ret::Err(9500 + n as i32);
        let s = Script::new(v);
        let e = console_pty(&s, 7, false).unwrap_err();
        assert!(e.message.contains(what) && e.message.contains(&format!("error {}", 9500 + n)), "{}", e.message);
        s.done();
    }
}

/// After `ready`: the gate, seccomp (with no_new_privs: last), the exec;
/// each failure is returned for pid 1 to report.
#[test]
fn start_waits_at_the_gate_then_loads_seccomp_and_execs() {
    let spec = spec();
    let cx = container(&spec);
    let calls = || {
        vec![
            c("poll([4:IN], -1)", Ret::Events(vec![libc::POLLIN])),
            c("read(4, 1)", Ret::Bytes(vec![0])),
            c("seccomp_load(1 insns)", Ret::Ok),
            c("seccomp_load(2 insns)", Ret::Ok),
            c("execve(\"/bin/sh\", [\"sh\"])", Ret::Err(libc::ENOEXEC)),
        ]
    };
    let program = || CString::new("/bin/sh").unwrap();
    let s = Script::new(calls());
    let e = start(&s, &cx, program(), 4, 4242);
    assert_eq!(e.code, Code::Exec);
    s.done();
    for n in [0, 1, 2, 3] {
        let mut v = calls();
        v.truncate(n + 1);
        v[n].1 = Ret::Err(9600 + n as i32);
        let s = Script::new(v);
        let e = start(&s, &cx, program(), 4, 4242);
        assert_eq!(e.code, Code::Setup);
        assert!(e.message.contains(&format!("error {}", 9600 + n)), "{}", e.message);
        s.done();
    }
}

#[test]
fn a_gate_closed_without_a_start_is_an_error() {
    let s = Script::new(vec![c("poll([4:IN], -1)", Ret::Events(vec![libc::POLLHUP]))]);
    let e = wait_gate(&s, 4).unwrap_err();
    assert!(e.message.contains("closed without a start"), "{}", e.message);
    s.done();
}

/// LISTEN_FDS and --preserve-fds keep their fds: the larger wins.
#[test]
fn stray_fds_start_after_the_preserved_ones() {
    let s = Script::new(vec![c("cloexec_from(5)", Ret::Ok), c("cloexec_from(7)", Ret::Ok)]);
    close_stray_fds(&s, 2, &["LISTEN_FDS=1".into()]).unwrap();
    close_stray_fds(&s, 2, &["LISTEN_FDS=4".into()]).unwrap();
    s.done();
}
