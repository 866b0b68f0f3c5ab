//! The image stages through the call script: pid 1's open and mount of
//! every mode, each fatal branch with its own marker, and the launcher's
//! detached mount and server.

use super::fuse::prepare;
use super::root::{mount_sysroot, open, Opened};
use crate::error::Code;
use crate::plan::{Plan, RootSpec};
use crate::sys::script::{Ret, Script};
use crate::sys::FileKind;

fn c(s: impl Into<String>, r: Ret) -> (String, Ret) {
    (s.into(), r)
}

fn spec(json: &str) -> RootSpec {
    serde_json::from_str(json).unwrap()
}

fn sysroot_attrs(rec: bool, attrs: &str) -> Vec<(String, Ret)> {
    vec![
        c(format!("open(\"/sysroot\", {:#o})", libc::O_PATH | libc::O_DIRECTORY), Ret::Fd(30)),
        c(format!("mount_setattr(30, {}, {attrs})", if rec { "recursive" } else { "single" }), Ret::Ok),
        c("close(30)", Ret::Ok),
    ]
}

/// Run `calls` as the script of `mount_sysroot`; every fallible call then
/// fails in turn with a marker that must surface, with `code`.
fn check_all(spec: &RootSpec, opened: impl Fn() -> Opened, calls: Vec<(String, Ret)>) {
    let s = Script::new(calls.clone());
    mount_sysroot(&s, spec, opened()).unwrap();
    s.done();
    for i in 0..calls.len() {
        if calls[i].0.starts_with("close") {
            continue;
        }
        let marker = 30_000 + i as i32;
        let mut script = calls[..i].to_vec();
        script.push((calls[i].0.clone(), Ret::Err(marker)));
        // On the way out: the closes right after the failed call, then the
        // input's fd (image directory or mount) when not closed yet.
        let after: Vec<_> = calls[i + 1..].iter().take_while(|(call, _)| call.starts_with("close")).cloned().collect();
        let made: Vec<String> = script.iter().chain(&after).map(|(call, _)| call.clone()).collect();
        script.extend(after);
        for input in ["close(7)", "close(8)"] {
            if calls.iter().any(|(call, _)| call == input) && !made.iter().any(|call| call == input) {
                script.push(c(input, Ret::Ok));
            }
        }
        let s = Script::new(script);
        let r = mount_sysroot(&s, spec, opened()).map_err(|e| (e.code, e.message));
        let (code, msg) = r.expect_err(&calls[i].0);
        assert!(msg.contains(&format!("error {marker}")), "{}: {msg}", calls[i].0);
        let want = if calls[i].0.starts_with("mount") || calls[i].0.starts_with("move_mount") { Code::Mount } else { Code::Setup };
        assert_eq!(code, want, "{}: {msg}", calls[i].0);
    }
}

#[test]
fn a_read_only_directory_image_is_bound_then_made_read_only_recursively() {
    let mut calls = vec![c("mount(\"/host/proc/self/fd/7\", \"/sysroot\", -, BIND|REC, -)", Ret::Ok), c("close(7)", Ret::Ok)];
    calls.extend(sysroot_attrs(true, "RDONLY|NOSUID|NODEV"));
    check_all(&spec(r#"{"image":"/img"}"#), || Opened::Dir(7), calls);
}

#[test]
fn a_writable_directory_image_is_still_nosuid_and_nodev() {
    let mut calls = vec![c("mount(\"/host/proc/self/fd/7\", \"/sysroot\", -, BIND, -)", Ret::Ok), c("close(7)", Ret::Ok)];
    calls.extend(sysroot_attrs(false, "NOSUID|NODEV"));
    check_all(&spec(r#"{"image":"/img","write":"writable","recursive":false}"#), || Opened::Dir(7), calls);
}

fn fake_calls(size: &str) -> Vec<(String, Ret)> {
    vec![
        c("mkdir(\"/fake\", 700)", Ret::Ok),
        c(format!("mount(\"tmpfs\", \"/fake\", \"tmpfs\", NOSUID|NODEV, \"size={size},mode=755\")"), Ret::Ok),
        c("mkdir(\"/fake/upper\", 755)", Ret::Ok),
        c("mkdir(\"/fake/work\", 755)", Ret::Ok),
        c(
            "mount(\"overlay\", \"/sysroot\", \"overlay\", NOSUID|NODEV, \"lowerdir=/lower,upperdir=/fake/upper,workdir=/fake/work,userxattr,volatile\")",
            Ret::Ok,
        ),
    ]
}

#[test]
fn fake_writes_overlay_a_sized_tmpfs_on_the_image() {
    let mut calls =
        vec![c("mkdir(\"/lower\", 755)", Ret::Ok), c("mount(\"/host/proc/self/fd/7\", \"/lower\", -, BIND|REC, -)", Ret::Ok), c("close(7)", Ret::Ok)];
    calls.extend(fake_calls("12%"));
    calls.extend(sysroot_attrs(true, "NOSUID|NODEV"));
    check_all(&spec(r#"{"image":"/img","write":"fake"}"#), || Opened::Dir(7), calls);
}

fn attach_calls() -> Vec<(String, Ret)> {
    vec![c("mkdir(\"/lower\", 755)", Ret::Ok), c("move_mount(8, \"/lower\")", Ret::Ok), c("close(8)", Ret::Ok)]
}

#[test]
fn a_squashfs_image_is_the_launchers_detached_mount_attached() {
    let mut calls = attach_calls();
    calls.push(c("mount(\"/lower\", \"/sysroot\", -, BIND, -)", Ret::Ok));
    calls.extend(sysroot_attrs(true, "RDONLY|NOSUID|NODEV"));
    check_all(&spec(r#"{"image":"/i.sqfs"}"#), || Opened::Squashfs(8), calls);
    let mut calls = attach_calls();
    calls.extend(fake_calls("1G"));
    calls.extend(sysroot_attrs(true, "NOSUID|NODEV"));
    check_all(&spec(r#"{"image":"/i.sqfs","write":"fake","fakeSize":"1G"}"#), || Opened::Squashfs(8), calls);
}

#[test]
fn without_mount_setattr_the_root_is_remounted() {
    let s = Script::new(vec![
        c("mount(\"/host/proc/self/fd/7\", \"/sysroot\", -, BIND|REC, -)", Ret::Ok),
        c("close(7)", Ret::Ok),
        c(format!("open(\"/sysroot\", {:#o})", libc::O_PATH | libc::O_DIRECTORY), Ret::Fd(30)),
        c("mount_setattr(30, recursive, RDONLY|NOSUID|NODEV)", Ret::Err(libc::ENOSYS)),
        c("mount(-, \"/sysroot\", -, RDONLY|NOSUID|NODEV|REMOUNT|BIND, -)", Ret::Ok),
        c("close(30)", Ret::Ok),
    ]);
    mount_sysroot(&s, &spec(r#"{"image":"/img"}"#), Opened::Dir(7)).unwrap();
    s.done();
}

#[test]
fn pid1_opens_the_directory_or_takes_the_mount() {
    let s = Script::new(vec![c(format!("open(\"/img\", {:#o})", libc::O_PATH | libc::O_DIRECTORY), Ret::Err(libc::ENOTDIR))]);
    let e = open(&s, &spec(r#"{"image":"/img"}"#), None).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (Code::ImageInvalid, "cannot open the image /img: not a directory"));
    s.done();
    let s = Script::new(Vec::<(String, Ret)>::new());
    assert_eq!(open(&s, &spec(r#"{"image":"/i.sqfs"}"#), Some(8)).unwrap(), Opened::Squashfs(8));
    s.done();
}

fn sqfs_plan() -> Plan {
    let mut p = Plan::new(vec!["true".into()]);
    p.root = Some(spec(r#"{"image":"/i.sqfs"}"#));
    p
}

fn detect_sqfs() -> Vec<(String, Ret)> {
    vec![
        c(format!("open(\"/i.sqfs\", {:#o})", libc::O_PATH), Ret::Fd(5)),
        c("fstat(5)", Ret::Kind(FileKind::File)),
        c("close(5)", Ret::Ok),
        c(format!("open(\"/i.sqfs\", {:#o})", libc::O_RDONLY | libc::O_NOCTTY), Ret::Fd(6)),
        c("read(6, 96)", Ret::Bytes(super::detect::tests_superblock())),
    ]
}

const MOUNT: &str = "fuse_mount_detached(source=image,subtype=sandboxctl,rootmode=40000,user_id=0,group_id=0)";
// A fork of the launcher (no exec) keeping the image, the fuse fd and its end of the socket.
const SERVER: &str = "fork_server(keep=[6, 11, 21])";

/// The launcher's side up to the server's word: mount, socket, start.
fn mounted_and_started(server: Ret) -> Vec<(String, Ret)> {
    let mut calls = detect_sqfs();
    calls.extend([c(MOUNT, Ret::Pair(10, 11)), c("socketpair()", Ret::Pair(20, 21)), c(SERVER, server), c("close(21)", Ret::Ok)]);
    calls
}

#[test]
fn the_launcher_mounts_and_serves_only_a_squashfs_image() {
    let mut calls = mounted_and_started(Ret::Int(77));
    calls.extend([c("read(20, 4096)", Ret::Bytes(b"ok".to_vec())), c("close(20)", Ret::Ok), c("close(11)", Ret::Ok), c("close(6)", Ret::Ok)]);
    let s = Script::new(calls);
    assert_eq!(prepare(&s, &sqfs_plan()).unwrap(), Some(10));
    s.done();
    // No image, or a directory: nothing to serve.
    let s = Script::new(Vec::<(String, Ret)>::new());
    assert_eq!(prepare(&s, &Plan::new(vec!["true".into()])).unwrap(), None);
    let mut p = Plan::new(vec!["true".into()]);
    p.root = Some(spec(r#"{"image":"/img"}"#));
    let s = Script::new(vec![c(format!("open(\"/img\", {:#o})", libc::O_PATH), Ret::Fd(5)), c("fstat(5)", Ret::Kind(FileKind::Dir)), c("close(5)", Ret::Ok)]);
    assert_eq!(prepare(&s, &p).unwrap(), None);
    s.done();
}

#[test]
fn a_closed_dev_fuse_a_failed_start_or_a_refused_image_fails_before_clone_leaving_no_mount() {
    let mut calls = detect_sqfs();
    calls.extend([c(MOUNT, Ret::Err(libc::EACCES)), c("close(6)", Ret::Ok)]);
    let s = Script::new(calls);
    let e = prepare(&s, &sqfs_plan()).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (Code::FuseUnavailable, "cannot open /dev/fuse: permission denied"));
    assert!(e.hint.unwrap().contains("chmod 0666 /dev/fuse"));
    s.done();
    // The server cannot start: the mount fd is closed, nothing is left.
    let mut calls = mounted_and_started(Ret::Err(30_500));
    calls.extend([c("close(20)", Ret::Ok), c("close(11)", Ret::Ok), c("close(10)", Ret::Ok), c("close(6)", Ret::Ok)]);
    let s = Script::new(calls);
    let e = prepare(&s, &sqfs_plan()).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (Code::FuseUnavailable, "cannot start the FUSE server: error 30500"));
    s.done();
    // The server started, then ended with `word` on its status socket (empty: without one).
    let ended_saying = |word: Vec<u8>| {
        let mut calls = mounted_and_started(Ret::Int(77));
        calls.extend([
            c("read(20, 4096)", Ret::Bytes(word)),
            c("close(20)", Ret::Ok),
            c("close(11)", Ret::Ok),
            c("close(10)", Ret::Ok),
            c("close(6)", Ret::Ok),
        ]);
        let s = Script::new(calls);
        let e = prepare(&s, &sqfs_plan()).unwrap_err();
        s.done();
        (e.code, e.message)
    };
    assert_eq!(ended_saying(vec![]), (Code::FuseUnavailable, "the FUSE server ended before serving the SquashFS image".to_string()));
    // It could not start a single thread (a pid shortage): E_FUSE_UNAVAILABLE, not the image's fault.
    assert_eq!(
        ended_saying(format!("{}no thread can start", super::serve::UNAVAILABLE).into_bytes()),
        (Code::FuseUnavailable, "the FUSE server cannot serve /i.sqfs: no thread can start".to_string())
    );
    // It could not read the image: E_IMAGE_INVALID naming the file.
    assert_eq!(
        ended_saying(b"cannot read the SquashFS image: bad inode table".to_vec()),
        (Code::ImageInvalid, "/i.sqfs: cannot read the SquashFS image: bad inode table".to_string())
    );
}
