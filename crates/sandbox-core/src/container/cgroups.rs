//! `linux.cgroupsPath` and `linux.resources` (memory, pids, cpu): run by
//! `create` on the host, after clone and before pid 1 goes on, so the whole
//! setup and the program are accounted. cgroup v2 when /sys/fs/cgroup is
//! the unified hierarchy; else v1, one directory per mounted controller
//! (this machine's hybrid layout: the v2 tree there holds no controller we
//! set). Only where the hierarchy is writable (root, or a delegated tree);
//! otherwise a warning and no cgroup, never a failure.
//!
//! Paths: absolute `cgroupsPath` is under each hierarchy's root; relative,
//! under the runtime's own cgroup; absent, `/sandboxctl-oci/ID`. With
//! `--systemd-cgroup`, `slice:prefix:name` becomes `slice/prefix-name.scope`
//! (no D-Bus: the same cgroupfs directories systemd would make).

use crate::error::{Code, SetupError};
use crate::oci::spec::Spec;
use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";
/// v1 controllers a container is placed in (cpuset needs its parent's cpus
/// and mems copied first).
const V1: &[&str] = &["memory", "pids", "cpu", "cpuacct", "cpuset", "blkio", "devices", "freezer", "net_cls", "perf_event", "hugetlb", "systemd"];

/// The relative cgroup path (`a/b`) for the spec.
pub fn relative_path(spec: &Spec, id: &str, systemd: bool) -> String {
    let p = spec.linux.cgroups_path.clone().unwrap_or_default();
    if p.is_empty() {
        return format!("sandboxctl-oci/{id}");
    }
    if systemd {
        let parts: Vec<&str> = p.split(':').collect();
        if let [slice, prefix, name] = parts.as_slice() {
            let slice = if slice.is_empty() { "system.slice" } else { slice };
            return format!("{slice}/{prefix}-{name}.scope");
        }
    }
    if let Some(abs) = p.strip_prefix('/') {
        return abs.to_string();
    }
    // Relative to our own cgroup (the v2 line, or the memory line on v1).
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let base = crate::cgroup::own_path(&own, true, "").or_else(|| crate::cgroup::own_path(&own, false, "memory")).unwrap_or_else(|| "/".into());
    format!("{}/{p}", base.trim_matches('/')).trim_start_matches('/').to_string()
}

fn is_v2() -> bool {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
    statfs(ROOT).is_ok_and(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC)
}

/// The directories made and joined, to remove at delete.
pub fn setup(spec: &Spec, id: &str, pid: i32, systemd: bool) -> Result<Vec<String>, SetupError> {
    let rel = relative_path(spec, id, systemd);
    if rel.split('/').any(|c| c == "..") {
        return Err(crate::oci::spec::invalid("linux.cgroupsPath", "must not contain .."));
    }
    let r = if is_v2() { v2(spec, &rel, pid) } else { v1(spec, &rel, pid) };
    match r {
        Ok(dirs) => Ok(dirs),
        Err(e) if resources_asked(spec) && e.kind() != std::io::ErrorKind::PermissionDenied && e.raw_os_error() != Some(libc::EROFS) => {
            Err(SetupError::new(Code::Setup, format!("cannot set up cgroup {rel}: {e}")))
        }
        Err(e) => {
            if resources_asked(spec) {
                eprintln!("sandboxctl-oci: warning: no cgroup for container {id} ({rel}: {e}); linux.resources not applied");
            }
            Ok(Vec::new())
        }
    }
}

fn resources_asked(spec: &Spec) -> bool {
    spec.linux.resources.as_ref().is_some_and(|r| r.memory.is_some() || r.pids.is_some() || r.cpu.is_some())
}

fn write(dir: &Path, file: &str, v: impl std::fmt::Display) -> std::io::Result<()> {
    std::fs::write(dir.join(file), v.to_string()).map_err(|e| std::io::Error::new(e.kind(), format!("{}/{file}: {e}", dir.display())))
}

fn v1(spec: &Spec, rel: &str, pid: i32) -> std::io::Result<Vec<String>> {
    let mut dirs = Vec::new();
    let res = spec.linux.resources.clone().unwrap_or_default();
    for c in V1 {
        let hier = Path::new(ROOT).join(c);
        if !hier.join("cgroup.procs").exists() {
            continue;
        }
        let dir = hier.join(rel);
        std::fs::create_dir_all(&dir)?;
        dirs.push(dir.to_string_lossy().into_owned());
        if *c == "cpuset" {
            // A new v1 cpuset is empty: inherit cpus and mems down the path.
            copy_cpuset(&hier, rel)?;
            if let Some(cpu) = &res.cpu {
                if let Some(cpus) = cpu.cpus.as_deref().filter(|s| !s.is_empty()) {
                    write(&dir, "cpuset.cpus", cpus)?;
                }
                if let Some(mems) = cpu.mems.as_deref().filter(|s| !s.is_empty()) {
                    write(&dir, "cpuset.mems", mems)?;
                }
            }
        }
        match *c {
            "memory" => {
                if let Some(m) = &res.memory {
                    if let Some(l) = m.limit {
                        write(&dir, "memory.limit_in_bytes", l)?;
                    }
                    if let Some(s) = m.swap {
                        if dir.join("memory.memsw.limit_in_bytes").exists() {
                            write(&dir, "memory.memsw.limit_in_bytes", s)?;
                        }
                    }
                    if let Some(r) = m.reservation {
                        write(&dir, "memory.soft_limit_in_bytes", r)?;
                    }
                    if let Some(sw) = m.swappiness.filter(|s| *s <= 100) {
                        write(&dir, "memory.swappiness", sw)?;
                    }
                    if m.disable_oom_killer == Some(true) {
                        write(&dir, "memory.oom_control", 1)?;
                    }
                    // Kernel memory, where the hierarchy still has the files
                    // (v1; crun sets them, runc 1.1 ignores them). The kernel
                    // limit is deprecated and a no-op since Linux 6.1: its
                    // write is best effort.
                    if let Some(k) = m.kernel.filter(|_| dir.join("memory.kmem.limit_in_bytes").exists()) {
                        let _ = write(&dir, "memory.kmem.limit_in_bytes", k);
                    }
                    if let Some(k) = m.kernel_tcp.filter(|_| dir.join("memory.kmem.tcp.limit_in_bytes").exists()) {
                        write(&dir, "memory.kmem.tcp.limit_in_bytes", k)?;
                    }
                }
            }
            "pids" => {
                if let Some(p) = &res.pids {
                    write(&dir, "pids.max", if p.limit <= 0 { "max".to_string() } else { p.limit.to_string() })?;
                }
            }
            "cpu" => {
                if let Some(cpu) = &res.cpu {
                    if let Some(s) = cpu.shares {
                        write(&dir, "cpu.shares", s)?;
                    }
                    if let Some(p) = cpu.period {
                        write(&dir, "cpu.cfs_period_us", p)?;
                    }
                    if let Some(q) = cpu.quota {
                        write(&dir, "cpu.cfs_quota_us", q)?;
                    }
                    if let Some(p) = cpu.realtime_period {
                        write(&dir, "cpu.rt_period_us", p)?;
                    }
                    if let Some(r) = cpu.realtime_runtime {
                        write(&dir, "cpu.rt_runtime_us", r)?;
                    }
                }
            }
            _ => {}
        }
        write(&dir, "cgroup.procs", pid)?;
    }
    Ok(dirs)
}

fn copy_cpuset(hier: &Path, rel: &str) -> std::io::Result<()> {
    let mut at = hier.to_path_buf();
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        let parent = at.clone();
        at.push(part);
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let cur = std::fs::read_to_string(at.join(f)).unwrap_or_default();
            if cur.trim().is_empty() {
                write(&at, f, std::fs::read_to_string(parent.join(f))?.trim())?;
            }
        }
    }
    Ok(())
}

fn v2(spec: &Spec, rel: &str, pid: i32) -> std::io::Result<Vec<String>> {
    let dir: PathBuf = Path::new(ROOT).join(rel);
    // Enable the controllers on the way down (the leaf needs them in its parent).
    let mut at = PathBuf::from(ROOT);
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        let avail = std::fs::read_to_string(at.join("cgroup.controllers")).unwrap_or_default();
        let want: Vec<String> = ["memory", "pids", "cpu"].iter().filter(|c| avail.split_whitespace().any(|a| a == **c)).map(|c| format!("+{c}")).collect();
        if !want.is_empty() {
            let _ = write(&at, "cgroup.subtree_control", want.join(" "));
        }
        at.push(part);
        if !at.exists() {
            std::fs::create_dir(&at)?;
        }
    }
    let res = spec.linux.resources.clone().unwrap_or_default();
    if let Some(m) = &res.memory {
        if m.disable_oom_killer == Some(true) {
            let _ = write(&dir, "memory.oom.group", 0);
        }
        if let Some(l) = m.limit {
            write(&dir, "memory.max", if l < 0 { "max".to_string() } else { l.to_string() })?;
        }
        if let (Some(s), Some(l)) = (m.swap, m.limit) {
            // v1's swap is memory+swap; v2's is swap alone.
            if s >= 0 && l >= 0 && dir.join("memory.swap.max").exists() {
                write(&dir, "memory.swap.max", (s - l).max(0))?;
            }
        }
    }
    if let Some(p) = &res.pids {
        write(&dir, "pids.max", if p.limit <= 0 { "max".to_string() } else { p.limit.to_string() })?;
    }
    if let Some(cpu) = &res.cpu {
        if let Some(q) = cpu.quota {
            let period = cpu.period.unwrap_or(100_000);
            write(&dir, "cpu.max", if q <= 0 { format!("max {period}") } else { format!("{q} {period}") })?;
        }
        for (f, v) in [("cpuset.cpus", &cpu.cpus), ("cpuset.mems", &cpu.mems)] {
            if let Some(v) = v.as_deref().filter(|s| !s.is_empty()) {
                write(&dir, f, v)?;
            }
        }
        if let Some(s) = cpu.shares {
            // runc's conversion of shares (2..262144) to weight (1..10000).
            write(&dir, "cpu.weight", 1 + ((s.clamp(2, 262_144) - 2) * 9999) / 262_142)?;
        }
    }
    write(&dir, "cgroup.procs", pid)?;
    Ok(vec![dir.to_string_lossy().into_owned()])
}

/// Every process in the container's cgroup (kill --all).
pub fn pids(dirs: &[String]) -> Vec<i32> {
    dirs.first()
        .map(|d| std::fs::read_to_string(format!("{d}/cgroup.procs")).unwrap_or_default())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Remove the directories (empty once the container's processes are gone).
pub fn remove(dirs: &[String]) {
    for d in dirs {
        let _ = std::fs::remove_dir(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(path: Option<&str>) -> Spec {
        let mut s = Spec::default();
        s.linux.cgroups_path = path.map(String::from);
        s
    }

    #[test]
    fn paths_as_engines_give_them() {
        assert_eq!(relative_path(&spec(Some("/libpod_parent/libpod-abc")), "abc", false), "libpod_parent/libpod-abc");
        assert_eq!(relative_path(&spec(None), "c1", false), "sandboxctl-oci/c1");
        assert_eq!(relative_path(&spec(Some("machine.slice:libpod:abc")), "abc", true), "machine.slice/libpod-abc.scope");
        assert_eq!(relative_path(&spec(Some(":libpod:abc")), "abc", true), "system.slice/libpod-abc.scope");
        assert!(!relative_path(&spec(Some("rel/x")), "x", false).starts_with('/'));
    }

    #[test]
    fn dotdot_is_refused() {
        assert_eq!(setup(&spec(Some("/../../etc")), "x", 1, false).unwrap_err().code, Code::SpecInvalid);
    }
}
