//! What the real-container tests share: the gate (root and busybox-static,
//! fatal under CI=true), a bundle of busybox with a config merged from the
//! test's JSON, and the runtime run on it with files for stdio.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_sandboxctl-oci");

pub fn ready() -> bool {
    // SAFETY: geteuid has no arguments.
    let root = unsafe { libc::geteuid() } == 0;
    let busybox = Path::new("/bin/busybox").exists();
    if root && busybox {
        return true;
    }
    let why = format!("needs root (uid 0: {root}) and busybox-static (/bin/busybox: {busybox}); install busybox-static and run as root");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}");
    }
    eprintln!("skipped: {why}");
    false
}

pub struct Bundle {
    pub dir: PathBuf,
    pub root: PathBuf,
}

impl Bundle {
    pub fn new(name: &str, args: &[&str], extra: serde_json::Value) -> Bundle {
        let dir = std::env::temp_dir().join(format!("sandboxctl-oci-it-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let rootfs = dir.join("bundle/rootfs");
        for d in ["bin", "proc", "dev", "sys", "tmp", "etc"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
        for a in ["sh", "sleep", "cat", "ls", "id", "echo", "test", "grep", "touch", "wc"] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a)).unwrap();
        }
        let mut cfg = serde_json::json!({
            "ociVersion": "1.2.0",
            "root": {"path": "rootfs"},
            "process": {"args": args, "cwd": "/", "env": ["PATH=/bin"], "noNewPrivileges": true,
                        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}},
            "hostname": "oci-it",
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}
            ],
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}],
                      "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"]}
        });
        merge(&mut cfg, extra);
        std::fs::write(dir.join("bundle/config.json"), cfg.to_string()).unwrap();
        Bundle { root: dir.join("state"), dir }
    }
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("bundle/rootfs")
    }
    pub fn oci(&self, args: &[&str]) -> Output {
        let mut all = vec!["--root", self.root.to_str().unwrap()];
        all.extend_from_slice(args);
        // Files, not pipes: a created container keeps its stdio open, and
        // output() would wait for it to exit.
        let (out, err) = (self.dir.join("out"), self.dir.join("err"));
        let status = Command::new(BIN)
            .args(&all)
            .current_dir(self.dir.join("bundle"))
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .status()
            .unwrap();
        Output { status, stdout: std::fs::read(&out).unwrap(), stderr: std::fs::read(&err).unwrap() }
    }
    pub fn state(&self, id: &str) -> serde_json::Value {
        let o = self.oci(&["state", id]);
        assert!(o.status.success(), "state: {}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
    match (a, b) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            b.into_iter().for_each(|(k, v)| merge(a.entry(k).or_insert(serde_json::Value::Null), v))
        }
        (a, b) => *a = b,
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
