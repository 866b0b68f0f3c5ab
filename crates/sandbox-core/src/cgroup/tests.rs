use super::*;
use crate::sys::script::{Ret, Script};
use crate::sys::FileKind;

const HYBRID: &str = "cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n\
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n\
cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0\n\
cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0\n\
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n";
const OWN: &str = "8:pids:/\n4:memory:/a/b\n1:cpu:/\n0::/\n";
const V2: &str = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0\n";
const USER: &str = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/run-1.scope\n";
const SCOPE: &str = "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/run-1.scope";

fn c(s: impl Into<String>, r: Ret) -> (String, Ret) {
    (s.into(), r)
}
fn text(s: &str) -> Ret {
    Ret::Bytes(s.as_bytes().to_vec())
}

#[test]
fn hierarchies_and_own_paths_are_read_from_proc() {
    let h = hierarchies(HYBRID);
    assert_eq!(h.len(), 5);
    assert_eq!(h[1], Hierarchy { mount: "/sys/fs/cgroup/memory".into(), v2: false, controllers: vec!["memory".into()] });
    assert!(h[4].v2);
    assert_eq!(own_path(OWN, false, "memory").as_deref(), Some("/a/b"));
    assert_eq!(own_path(OWN, true, "").as_deref(), Some("/"));
    assert_eq!(own_path("3:cpu,cpuacct:/x\n", false, "cpu").as_deref(), Some("/x"));
}

#[test]
fn hybrid_v1_as_root_makes_one_directory_per_controller() {
    let l = Limits { memory: Some(64 << 20), pids: Some(32), cpu_millis: Some(1500), ..Limits::default() };
    let s = Script::new(vec![
        c("read_file(\"/proc/self/mounts\")", text(HYBRID)),
        c("read_file(\"/proc/self/cgroup\")", text(OWN)),
        c("read_file(\"/sys/fs/cgroup/unified/cgroup.controllers\")", text("")),
        c("mkdir(\"/sys/fs/cgroup/memory/a/b/sandboxctl.9\", 755)", Ret::Ok),
        c("write_file(\"/sys/fs/cgroup/memory/a/b/sandboxctl.9/memory.limit_in_bytes\", \"67108864\")", Ret::Ok),
        c("stat(\"/sys/fs/cgroup/memory/a/b/sandboxctl.9/memory.memsw.limit_in_bytes\")", Ret::Kind(FileKind::File)),
        c("write_file(\"/sys/fs/cgroup/memory/a/b/sandboxctl.9/memory.memsw.limit_in_bytes\", \"67108864\")", Ret::Ok),
        c("mkdir(\"/sys/fs/cgroup/pids/sandboxctl.9\", 755)", Ret::Ok),
        c("write_file(\"/sys/fs/cgroup/pids/sandboxctl.9/pids.max\", \"32\")", Ret::Ok),
        c("mkdir(\"/sys/fs/cgroup/cpu/sandboxctl.9\", 755)", Ret::Ok),
        c("write_file(\"/sys/fs/cgroup/cpu/sandboxctl.9/cpu.cfs_period_us\", \"100000\")", Ret::Ok),
        c("write_file(\"/sys/fs/cgroup/cpu/sandboxctl.9/cpu.cfs_quota_us\", \"150000\")", Ret::Ok),
        // enter, leave, and what was hit
        c("write_file(\"/sys/fs/cgroup/memory/a/b/sandboxctl.9/cgroup.procs\", \"0\")", Ret::Ok),
        c("write_file(\"/sys/fs/cgroup/pids/sandboxctl.9/cgroup.procs\", \"0\")", Ret::Ok),
        c("write_file(\"/sys/fs/cgroup/cpu/sandboxctl.9/cgroup.procs\", \"0\")", Ret::Ok),
        c("write_file(\"/sys/fs/cgroup/memory/a/b/cgroup.procs\", \"0\")", Ret::Ok),
        c("write_file(\"/sys/fs/cgroup/pids/cgroup.procs\", \"0\")", Ret::Ok),
        c("write_file(\"/sys/fs/cgroup/cpu/cgroup.procs\", \"0\")", Ret::Ok),
        c("read_file(\"/sys/fs/cgroup/memory/a/b/sandboxctl.9/memory.oom_control\")", text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")),
        c("read_file(\"/sys/fs/cgroup/pids/sandboxctl.9/pids.events\")", text("max 3\n")),
        c("rmdir(\"/sys/fs/cgroup/cpu/sandboxctl.9\")", Ret::Ok),
        c("rmdir(\"/sys/fs/cgroup/pids/sandboxctl.9\")", Ret::Err(libc::EBUSY)),
        c("poll([], 10)", Ret::Events(vec![])),
        c("rmdir(\"/sys/fs/cgroup/pids/sandboxctl.9\")", Ret::Ok),
        c("rmdir(\"/sys/fs/cgroup/memory/a/b/sandboxctl.9\")", Ret::Ok),
    ]);
    let cg = Sandbox::create(&s, &l, "sandboxctl.9").unwrap();
    cg.enter(&s).unwrap();
    cg.leave(&s).unwrap();
    assert_eq!(cg.hit(&s), Some(LimitKind::Pids));
    cg.remove(&s);
    s.done();
}

#[test]
fn unprivileged_without_delegation_is_refused_and_nothing_is_left() {
    let l = Limits { memory: Some(64 << 20), pids: Some(32), ..Limits::default() };
    let s = Script::new(vec![
        c("read_file(\"/proc/self/mounts\")", text(HYBRID)),
        c("read_file(\"/proc/self/cgroup\")", text(OWN)),
        c("read_file(\"/sys/fs/cgroup/unified/cgroup.controllers\")", text("")),
        c("mkdir(\"/sys/fs/cgroup/memory/a/b/sandboxctl.9\", 755)", Ret::Ok),
        c("write_file(\"/sys/fs/cgroup/memory/a/b/sandboxctl.9/memory.limit_in_bytes\", \"67108864\")", Ret::Ok),
        c("stat(\"/sys/fs/cgroup/memory/a/b/sandboxctl.9/memory.memsw.limit_in_bytes\")", Ret::Err(libc::ENOENT)),
        c("mkdir(\"/sys/fs/cgroup/pids/sandboxctl.9\", 755)", Ret::Err(libc::EACCES)),
        // the memory directory made before goes again
        c("rmdir(\"/sys/fs/cgroup/memory/a/b/sandboxctl.9\")", Ret::Ok),
    ]);
    let e = Sandbox::create(&s, &l, "sandboxctl.9").unwrap_err();
    assert_eq!(e.code, Code::LimitUnavailable);
    assert!(e.hint.as_deref().unwrap().contains("systemd-run --user --scope -p Delegate=yes"));
    s.done();
}

#[test]
fn a_missing_controller_is_refused_before_any_directory() {
    let l = Limits { memory: Some(64 << 20), ..Limits::default() };
    let s = Script::new(vec![
        c("read_file(\"/proc/self/mounts\")", text("cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n")),
        c("read_file(\"/proc/self/cgroup\")", text("0::/\n")),
        c("read_file(\"/sys/fs/cgroup/unified/cgroup.controllers\")", text("pids\n")),
    ]);
    let e = Sandbox::create(&s, &l, "sandboxctl.9").unwrap_err();
    assert_eq!(e.code, Code::LimitUnavailable);
    assert!(e.to_string().contains("memory (--memory)"), "{e}");
    s.done();
}

#[test]
fn a_delegated_v2_scope_moves_its_processes_to_a_leaf_first() {
    let l = Limits { memory: Some(64 << 20), cpu_millis: Some(500), ..Limits::default() };
    let sc = |f: &str| format!("{SCOPE}/{f}");
    let s = Script::new(vec![
        c("read_file(\"/proc/self/mounts\")", text(V2)),
        c("read_file(\"/proc/self/cgroup\")", text(USER)),
        c(format!("read_file({:?})", sc("cgroup.controllers")), text("cpu memory pids\n")),
        c(format!("write_file({:?}, \"+memory +cpu\")", sc("cgroup.subtree_control")), Ret::Err(libc::EBUSY)),
        c(format!("mkdir({:?}, 755)", sc("sandboxctl-caller")), Ret::Ok),
        c(format!("read_file({:?})", sc("cgroup.procs")), text("100\n101\n")),
        c(format!("write_file({:?}, \"100\")", sc("sandboxctl-caller/cgroup.procs")), Ret::Ok),
        c(format!("write_file({:?}, \"101\")", sc("sandboxctl-caller/cgroup.procs")), Ret::Ok),
        c(format!("write_file({:?}, \"+memory +cpu\")", sc("cgroup.subtree_control")), Ret::Ok),
        c(format!("mkdir({:?}, 755)", sc("sandboxctl.9")), Ret::Ok),
        c(format!("write_file({:?}, \"67108864\")", sc("sandboxctl.9/memory.max")), Ret::Ok),
        c(format!("stat({:?})", sc("sandboxctl.9/memory.swap.max")), Ret::Kind(FileKind::File)),
        c(format!("write_file({:?}, \"0\")", sc("sandboxctl.9/memory.swap.max")), Ret::Ok),
        c(format!("write_file({:?}, \"1\")", sc("sandboxctl.9/memory.oom.group")), Ret::Ok),
        c(format!("write_file({:?}, \"50000 100000\")", sc("sandboxctl.9/cpu.max")), Ret::Ok),
        c(format!("read_file({:?})", sc("sandboxctl.9/memory.events")), text("low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n")),
    ]);
    let cg = Sandbox::create(&s, &l, "sandboxctl.9").unwrap();
    assert_eq!(cg.dirs[0].home, sc("sandboxctl-caller"));
    assert_eq!(cg.hit(&s), Some(LimitKind::Memory));
    s.done();
}
