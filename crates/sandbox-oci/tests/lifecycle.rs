//! Real containers through the built `sandboxctl-oci`: the lifecycle as
//! runtime-spec's runtime.md states it, and the mount attacks of design
//! §5.4 (destinations that would leave the rootfs land inside it, /proc
//! cannot be redirected). Needs root and busybox-static (`/bin/busybox`):
//! without them the tests say so, and fail under CI=true.

mod common;

use common::{ready, stderr, Bundle};
use std::path::Path;

#[test]
fn lifecycle_as_runtime_md_says() {
    if !ready() {
        return;
    }
    let b = Bundle::new("life", &["sleep", "100"], serde_json::json!({}));
    let pidfile = b.dir.join("pid");
    let o = b.oci(&["create", "--bundle", b.dir.join("bundle").to_str().unwrap(), "--pid-file", pidfile.to_str().unwrap(), "c1"]);
    assert!(o.status.success(), "create: {}", stderr(&o));
    let st = b.state("c1");
    assert_eq!(st["status"], "created");
    assert_eq!(st["ociVersion"], "1.2.0");
    assert_eq!(st["pid"].as_i64().unwrap().to_string(), std::fs::read_to_string(&pidfile).unwrap());
    assert!(st["bundle"].as_str().unwrap().starts_with('/'));
    // A second create of the same id fails and leaves the first alone.
    let o = b.oci(&["create", "c1"]);
    assert!(!o.status.success() && stderr(&o).contains("E_OCI_EXISTS"), "{}", stderr(&o));
    // runtime.md: delete of a container that is not stopped fails, and leaves it be.
    let o = b.oci(&["delete", "c1"]);
    assert!(!o.status.success() && stderr(&o).contains("created, not stopped"), "{}", stderr(&o));
    assert_eq!(b.state("c1")["status"], "created");
    let o = b.oci(&["start", "c1"]);
    assert!(o.status.success(), "start: {}", stderr(&o));
    assert_eq!(b.state("c1")["status"], "running");
    let o = b.oci(&["start", "c1"]);
    assert!(!o.status.success() && stderr(&o).contains("E_OCI_STATE") && stderr(&o).contains("running"), "{}", stderr(&o));
    let o = b.oci(&["delete", "c1"]);
    assert!(!o.status.success() && stderr(&o).contains("running, not stopped"), "{}", stderr(&o));
    let o = b.oci(&["kill", "c1", "KILL"]);
    assert!(o.status.success(), "kill: {}", stderr(&o));
    // We are not its parent (create exited): it is reaped by init or stays a zombie, both read as stopped.
    let t = std::time::Instant::now();
    while b.state("c1")["status"] != "stopped" {
        assert!(t.elapsed().as_secs() < 10, "still not stopped");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(b.state("c1").get("pid").is_none());
    let o = b.oci(&["kill", "c1", "TERM"]);
    assert!(!o.status.success() && stderr(&o).contains("stopped"), "{}", stderr(&o));
    let o = b.oci(&["delete", "c1"]);
    assert!(o.status.success(), "delete: {}", stderr(&o));
    let o = b.oci(&["state", "c1"]);
    assert!(!o.status.success() && stderr(&o).contains("E_OCI_NOT_FOUND"), "{}", stderr(&o));
}

#[test]
fn run_returns_the_status_and_applies_the_spec() {
    if !ready() {
        return;
    }
    let script = "test \"$(cat /proc/sys/kernel/hostname)\" = oci-it || exit 11; \
                  grep -q '^NoNewPrivs:.1' /proc/self/status || exit 12; \
                  grep -q '^CapEff:.0000000000000020' /proc/self/status || exit 13; \
                  echo x > /proc/sys/kernel/domainname 2>/dev/null && exit 14; \
                  test -c /dev/null && test -L /dev/ptmx && test -L /dev/fd || exit 15; \
                  exit 7";
    let b = Bundle::new("run", &["sh", "-c", script], serde_json::json!({}));
    let o = b.oci(&["run", "r1"]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&b.root).unwrap().count(), 0, "run leaves no state");
}

#[test]
fn destinations_that_leave_the_rootfs_land_inside_it() {
    if !ready() {
        return;
    }
    let marker = format!("sandboxctl-oci-escape-{}", std::process::id());
    let src = std::env::temp_dir().join(format!("{marker}-src"));
    std::fs::create_dir_all(&src).unwrap();
    let b = Bundle::new(
        "escape",
        &["sh", "-c", "test -d /etc/m1 && test -d /tmp/m2 && test -d /etc/m3"],
        serde_json::json!({"mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/evil/m1", "type": "bind", "source": src.to_str().unwrap(), "options": ["rbind", "ro"]},
            {"destination": "/../../../../../tmp/m2", "type": "bind", "source": src.to_str().unwrap(), "options": ["rbind"]},
            {"destination": "/up/up/up/etc/m3", "type": "tmpfs", "source": "tmpfs"}
        ]}),
    );
    std::os::unix::fs::symlink("/etc", b.rootfs().join("evil")).unwrap();
    std::os::unix::fs::symlink("../../../../..", b.rootfs().join("up")).unwrap();
    let o = b.oci(&["run", "e1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for host in ["/etc/m1", "/tmp/m2", "/etc/m3"] {
        assert!(!Path::new(host).exists(), "{host} was created on the host");
    }
    for inside in ["etc/m1", "tmp/m2", "etc/m3"] {
        assert!(b.rootfs().join(inside).is_dir(), "{inside} not created inside the rootfs");
    }
    std::fs::remove_dir_all(&src).unwrap();
}

#[test]
fn proc_cannot_be_redirected_and_nothing_is_left() {
    if !ready() {
        return;
    }
    let b = Bundle::new("proc", &["true"], serde_json::json!({}));
    std::fs::remove_dir(b.rootfs().join("proc")).unwrap();
    std::os::unix::fs::symlink("/etc", b.rootfs().join("proc")).unwrap();
    let o = b.oci(&["create", "p1"]);
    assert!(!o.status.success() && stderr(&o).contains("E_SPEC_INVALID") && stderr(&o).contains("mounts[0].destination"), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&b.root).unwrap().count(), 0, "a failed create leaves no state");
}
