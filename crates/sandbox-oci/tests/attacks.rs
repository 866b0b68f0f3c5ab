//! The OCI attack tests of design §5.4 that need a real kernel, each one
//! failing if its protection is removed: the bundle's author is trusted
//! (sources are host paths by the spec), the rootfs content is not.
//! Destination symlinks in loops or chains too long, a symlink swapped in
//! by a racing helper during create, masked and read-only paths checked
//! from inside, and the two mount option bugs of gVisor's seed (`rw` alone
//! set read-only there; read-only given on the first bind, which the kernel
//! ignores). Root and busybox-static, as lifecycle.rs.

mod common;

use common::{ready, stderr, Bundle};
use std::ffi::CString;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A directory on the host, removed when the test ends, failed or not.
struct HostDir(std::path::PathBuf);

impl std::ops::Deref for HostDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for HostDir {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn host_dir(tag: &str) -> HostDir {
    let d = std::env::temp_dir().join(format!("sandboxctl-oci-attack-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    HostDir(d)
}

/// Stdout of a `run` that must succeed.
fn run_ok(b: &Bundle, id: &str) -> String {
    let o = b.oci(&["run", id]);
    assert!(o.status.success(), "run {id}: status {:?}: {}{}", o.status, String::from_utf8_lossy(&o.stdout), stderr(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn destination_link_loops_and_chains_of_more_than_255_links_are_refused_and_leave_nothing() {
    if !ready() {
        return;
    }
    let host = host_dir("loop");
    for (name, dest) in [("loop", "/l1/m"), ("chain", "/c0/m")] {
        let b = Bundle::new(
            &format!("links-{name}"),
            &["sh", "-c", "true"],
            serde_json::json!({"mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": dest, "type": "tmpfs", "source": "tmpfs"}
            ]}),
        );
        let r = b.rootfs();
        symlink("l2", r.join("l1")).unwrap();
        symlink("/l1", r.join("l2")).unwrap();
        // 300 links: c0 -> c1 -> ... -> c299 -> the host directory.
        for i in 0..300 {
            symlink(format!("c{}", i + 1), r.join(format!("c{i}"))).unwrap();
        }
        symlink(&host, r.join("c300")).unwrap();
        let o = b.oci(&["run", name]);
        assert!(!o.status.success(), "{name}: a destination through {dest} was accepted");
        assert!(stderr(&o).contains("E_SPEC_INVALID") && stderr(&o).contains("mounts[1].destination"), "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains("too many levels of symbolic links"), "{name}: {}", stderr(&o));
        assert_eq!(std::fs::read_dir(&b.root).map(|d| d.count()).unwrap_or(0), 0, "{name}: state left behind");
        assert_eq!(std::fs::read_dir(&host).unwrap().count(), 0, "{name}: something was made in the host directory");
    }
}

/// rename(2) with RENAME_EXCHANGE: `a` and `b` swap atomically.
fn exchange(a: &Path, b: &Path) {
    let (a, b) = (CString::new(a.as_os_str().as_encoded_bytes()).unwrap(), CString::new(b.as_os_str().as_encoded_bytes()).unwrap());
    // SAFETY: two NUL-terminated paths; renameat2 reads them only.
    let r = unsafe { libc::syscall(libc::SYS_renameat2, libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), libc::RENAME_EXCHANGE) };
    assert_eq!(r, 0, "renameat2: {}", std::io::Error::last_os_error());
}

#[test]
fn a_symlink_swapped_in_during_create_never_sends_a_mount_point_out_of_the_rootfs() {
    if !ready() {
        return;
    }
    let host = host_dir("swap");
    let b = Bundle::new(
        "swap",
        &["sh", "-c", "true"],
        serde_json::json!({"mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/target/sub/dir", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/target/sub/file", "type": "bind", "source": "/etc/hostname", "options": ["bind", "ro"]}
        ]}),
    );
    let r = b.rootfs();
    std::fs::create_dir(r.join("target")).unwrap();
    symlink(&host, r.join("target.swap")).unwrap();
    // The racer flips rootfs/target between the directory and a link to the
    // host directory as fast as it can while containers are created.
    let stop = Arc::new(AtomicBool::new(false));
    let racer = {
        let (stop, a, b) = (stop.clone(), r.join("target"), r.join("target.swap"));
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                exchange(&a, &b);
                n += 1;
            }
            n
        })
    };
    // Nothing is cleaned between runs: a removal through the link would
    // erase the evidence on the host. Checked after every run.
    let mut ran = 0;
    let mut escaped = None;
    for i in 0..40 {
        let o = b.oci(&["run", &format!("s{i}")]);
        ran += o.status.success() as usize;
        if !o.status.success() && i == 0 {
            eprintln!("run s0: {}", stderr(&o));
        }
        if std::fs::read_dir(&host).unwrap().count() > 0 {
            escaped = Some(i);
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let flips = racer.join().unwrap();
    assert!(flips > 100, "the racer only flipped {flips} times");
    assert_eq!(escaped, None, "a mount point was made through the swapped link, on the host ({ran} runs succeeded)");
    // Runs may fail on a swap (the point changed kind under them), not all of them.
    assert!(ran > 0, "no run got through its mounts: the race was not exercised");
    eprintln!("{ran} of 40 runs succeeded, {flips} flips");
}

#[test]
fn masked_paths_are_masked_from_inside() {
    if !ready() {
        return;
    }
    let script = "cat /secret/file; ls /secretdir; cat /secretdir/inner 2>/dev/null; echo end; \
                  echo x > /secret/file 2>/dev/null && echo wrote-file; touch /secretdir/new 2>/dev/null && echo wrote-dir; true";
    let b = Bundle::new("mask", &["sh", "-c", script], serde_json::json!({"linux": {"maskedPaths": ["/secret/file", "/secretdir", "/absent"]}}));
    std::fs::create_dir_all(b.rootfs().join("secret")).unwrap();
    std::fs::create_dir_all(b.rootfs().join("secretdir")).unwrap();
    std::fs::write(b.rootfs().join("secret/file"), "SECRET-FILE\n").unwrap();
    std::fs::write(b.rootfs().join("secretdir/inner"), "SECRET-DIR\n").unwrap();
    // Without the masks the same container reads both secrets (the test can fail).
    let clear = Bundle::new("unmasked", &["sh", "-c", script], serde_json::json!({}));
    std::fs::create_dir_all(clear.rootfs().join("secret")).unwrap();
    std::fs::create_dir_all(clear.rootfs().join("secretdir")).unwrap();
    std::fs::write(clear.rootfs().join("secret/file"), "SECRET-FILE\n").unwrap();
    std::fs::write(clear.rootfs().join("secretdir/inner"), "SECRET-DIR\n").unwrap();
    assert!(run_ok(&clear, "u1").contains("SECRET-FILE\ninner\nSECRET-DIR"));
    let out = run_ok(&b, "m1");
    // A masked file is /dev/null (a write is discarded), a masked directory
    // an empty read-only tmpfs.
    assert_eq!(out, "end\nwrote-file\n", "masked paths showed or took data: {out:?}");
    assert_eq!(std::fs::read_to_string(b.rootfs().join("secret/file")).unwrap(), "SECRET-FILE\n");
}

#[test]
fn readonly_paths_are_read_only_from_inside_and_others_stay_writable() {
    if !ready() {
        return;
    }
    let script = "touch /data/x 2>&1; touch /data/sub/x 2>&1; touch /free/x && echo free-ok";
    let b = Bundle::new(
        "ro",
        &["sh", "-c", script],
        serde_json::json!({
            "process": {"capabilities": {"bounding": ["CAP_SYS_ADMIN"], "effective": ["CAP_SYS_ADMIN"], "permitted": ["CAP_SYS_ADMIN"]}},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/data", "type": "tmpfs", "source": "tmpfs"},
                {"destination": "/data/sub", "type": "tmpfs", "source": "tmpfs"},
                {"destination": "/free", "type": "tmpfs", "source": "tmpfs"}
            ],
            "linux": {"readonlyPaths": ["/data"]}
        }),
    );
    let out = run_ok(&b, "ro1");
    assert_eq!(out, "touch: /data/x: Read-only file system\ntouch: /data/sub/x: Read-only file system\nfree-ok\n", "{out}");
}

#[test]
fn rw_alone_is_writable_and_ro_noexec_on_a_bind_hold_though_the_first_bind_ignores_them() {
    if !ready() {
        return;
    }
    let src = host_dir("opts");
    std::fs::copy("/bin/busybox", src.join("busybox")).unwrap();
    let s = src.to_str().unwrap();
    let script = "touch /rw/made-rw && echo rw-ok; touch /ro/x 2>&1; /nx/busybox true 2>&1 || echo noexec-held; \
                  touch /rorw/made-rorw && echo rorw-ok";
    let b = Bundle::new(
        "opts",
        &["sh", "-c", script],
        serde_json::json!({"mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            // gVisor's seed XORs: ["rw"] alone would set read-only there.
            {"destination": "/rw", "type": "bind", "source": s, "options": ["rbind", "rw"]},
            // The kernel ignores ro/noexec on the first bind: a remount must follow.
            {"destination": "/ro", "type": "bind", "source": s, "options": ["bind", "ro"]},
            {"destination": "/nx", "type": "bind", "source": s, "options": ["bind", "noexec"]},
            {"destination": "/rorw", "type": "bind", "source": s, "options": ["bind", "ro", "rw"]}
        ]}),
    );
    let out = run_ok(&b, "o1");
    assert!(out.starts_with("rw-ok\ntouch: /ro/x: Read-only file system\n"), "{out}");
    assert!(out.contains("Permission denied") && out.contains("noexec-held\n"), "{out}");
    assert!(out.ends_with("rorw-ok\n"), "{out}");
    assert!(src.join("made-rw").exists() && src.join("made-rorw").exists() && !src.join("x").exists());
}

#[test]
fn a_tampered_state_never_signals_another_process_and_a_linked_container_dir_is_refused() {
    if !ready() {
        return;
    }
    let b = Bundle::new("tamper", &["sleep", "100"], serde_json::json!({}));
    let o = b.oci(&["create", "t1"]);
    assert!(o.status.success(), "create: {}", stderr(&o));
    // A bystander the edited record points at.
    let mut victim = std::process::Command::new("/bin/busybox").args(["sleep", "100"]).spawn().unwrap();
    let file = b.root.join("t1/state.json");
    let mut rec: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let real = rec["pid"].clone();
    rec["pid"] = serde_json::json!(victim.id());
    std::fs::write(&file, rec.to_string()).unwrap();
    let o = b.oci(&["kill", "t1", "KILL"]);
    assert!(!o.status.success() && stderr(&o).contains("stopped"), "kill of an edited record: {}", stderr(&o));
    assert_eq!(b.state("t1")["status"], "stopped");
    assert!(victim.try_wait().unwrap().is_none(), "the bystander was signalled");
    victim.kill().unwrap();
    victim.wait().unwrap();
    // ROOT/t2 a symlink to t1's directory: not a container.
    symlink(b.root.join("t1"), b.root.join("t2")).unwrap();
    for cmd in [&["state", "t2"][..], &["kill", "t2", "KILL"], &["delete", "--force", "t2"], &["start", "t2"]] {
        let o = b.oci(cmd);
        if cmd[0] == "delete" {
            // runc: --force on what is not there is not an error; t1 must be untouched.
            assert!(b.root.join("t1/state.json").exists(), "delete --force t2 removed t1's state");
            continue;
        }
        assert!(!o.status.success() && stderr(&o).contains("E_OCI_NOT_FOUND"), "{cmd:?}: {}", stderr(&o));
    }
    // The real container is still there, and goes with its real pid.
    rec["pid"] = real;
    std::fs::write(&file, rec.to_string()).unwrap();
    let o = b.oci(&["delete", "--force", "t1"]);
    assert!(o.status.success(), "delete: {}", stderr(&o));
}
