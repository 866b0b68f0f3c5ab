//! cgroups shared by the launcher (plan.limits) and the OCI runtime
//! (`container/cgroups.rs`, linux.resources): where the hierarchies are
//! mounted, which cgroup a process is in, and (`Sandbox`) the per-sandbox
//! child cgroup the launcher makes, enters for the clone of pid 1, reads
//! and removes.
//!
//! Layout: cgroup v2 for a controller when the unified hierarchy offers it
//! in our own cgroup (`cgroup.controllers`), else the v1 hierarchy that has
//! it (hybrid machines: the unified tree there holds no controller). The
//! sandbox's cgroup is `sandboxctl.<launcher pid>` under the launcher's own
//! cgroup of each hierarchy used, so the caller's own limits still apply
//! above it (nsjail and systemd nest the same way).
//!
//! Who may: root writes any hierarchy; an unprivileged caller only a
//! delegated v2 subtree (systemd's `Delegate=`: its own cgroup chowned to
//! it). Anything else is `E_LIMIT_UNAVAILABLE` with the way to get one,
//! before anything of the sandbox exists.

use crate::error::{Code, SetupError};
use crate::plan::{LimitKind, Limits};
use crate::sys::{Errno, Sys};

/// How an unprivileged user gets a delegated cgroup v2 subtree.
pub const DELEGATE_HINT: &str = "run it inside a delegated cgroup v2 subtree: systemd-run --user --scope -p Delegate=yes -- sandboxctl run ... (as root a cgroup of our own is made under your cgroup; rlimits (--rlimit) and --timeout need no cgroup)";

/// A mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where it is mounted.
    pub mount: String,
    /// cgroup2 (the unified hierarchy).
    pub v2: bool,
    /// v1: the controllers bound to it (`memory`, `name=systemd`, ...).
    pub controllers: Vec<String>,
}

/// The cgroup hierarchies of `/proc/self/mounts`' text.
pub fn hierarchies(mounts: &str) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [_, mount, fstype, opts, ..] = f.as_slice() else { continue };
        let mount = mount.replace("\\040", " ");
        match *fstype {
            "cgroup2" => out.push(Hierarchy { mount, v2: true, controllers: Vec::new() }),
            "cgroup" => {
                let controllers = opts
                    .split(',')
                    .filter(|o| {
                        !matches!(*o, "rw" | "ro" | "relatime" | "nosuid" | "nodev" | "noexec" | "clone_children" | "noprefix" | "xattr")
                            && !o.starts_with("release_agent=")
                    })
                    .map(String::from)
                    .collect();
                out.push(Hierarchy { mount, v2: false, controllers })
            }
            _ => {}
        }
    }
    out
}

/// A process's cgroup in the v2 hierarchy (`0::/path`) and in the v1
/// hierarchy bound to `controller`, from `/proc/PID/cgroup`'s text.
pub fn own_path(proc_cgroup: &str, v2: bool, controller: &str) -> Option<String> {
    proc_cgroup.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, names, path) = (parts.next()?, parts.next()?, parts.next()?);
        let hit = if v2 { names.is_empty() } else { names.split(',').any(|n| n == controller) };
        hit.then(|| path.to_string())
    })
}

/// The cgroup controllers the limits need.
fn wanted(l: &Limits) -> Vec<&'static str> {
    let mut w = Vec::new();
    if l.memory.is_some() {
        w.push("memory");
    }
    if l.pids.is_some() {
        w.push("pids");
    }
    if l.cpu_millis.is_some() {
        w.push("cpu");
    }
    w
}

/// One directory of the sandbox's cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dir {
    /// The sandbox's cgroup directory.
    pub path: String,
    /// Where the launcher goes back to after the clone.
    pub home: String,
    pub v2: bool,
    /// The controllers limited through it.
    pub controllers: Vec<&'static str>,
}

/// The sandbox's own cgroup: one directory (v2) or one per v1 controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    pub dirs: Vec<Dir>,
}

fn join(mount: &str, rel: &str) -> String {
    let rel = rel.trim_matches('/');
    if rel.is_empty() {
        mount.trim_end_matches('/').to_string()
    } else {
        format!("{}/{rel}", mount.trim_end_matches('/'))
    }
}

fn unavailable(msg: impl Into<String>) -> SetupError {
    SetupError::new(Code::LimitUnavailable, msg).with_hint(DELEGATE_HINT)
}

fn read(sys: &dyn Sys, path: &str) -> String {
    sys.read_file(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
}

/// A directory (our own cgroup in a hierarchy), whether it is v2, and the
/// controllers the limits use through it.
type Placement = (String, bool, Vec<&'static str>);

/// Where each wanted controller is.
fn placement(sys: &dyn Sys, l: &Limits) -> Result<Vec<Placement>, SetupError> {
    let mounts = read(sys, "/proc/self/mounts");
    let own = read(sys, "/proc/self/cgroup");
    let hier = hierarchies(&mounts);
    let mut out: Vec<Placement> = Vec::new();
    let v2 = hier.iter().find(|h| h.v2).and_then(|h| own_path(&own, true, "").map(|p| join(&h.mount, &p)));
    let v2_has = v2.as_ref().map(|d| read(sys, &format!("{d}/cgroup.controllers"))).unwrap_or_default();
    for c in wanted(l) {
        if let (Some(dir), true) = (&v2, v2_has.split_whitespace().any(|x| x == c)) {
            match out.iter_mut().find(|(d, v, _)| *v && d == dir) {
                Some(e) => e.2.push(c),
                None => out.push((dir.clone(), true, vec![c])),
            }
            continue;
        }
        let Some(h) = hier.iter().find(|h| !h.v2 && h.controllers.iter().any(|x| x == c)) else {
            return Err(unavailable(format!("cannot limit {}: no cgroup hierarchy here has the {c} controller", limit_name(c))));
        };
        let path = own_path(&own, false, c).unwrap_or_else(|| "/".into());
        out.push((join(&h.mount, &path), false, vec![c]));
    }
    Ok(out)
}

/// The flag a controller serves, for messages.
fn limit_name(controller: &str) -> &'static str {
    match controller {
        "memory" => "memory (--memory)",
        "pids" => "processes (--pids)",
        _ => "cpu (--cpus)",
    }
}

impl Sandbox {
    /// Make the sandbox's cgroup with its limits, or `E_LIMIT_UNAVAILABLE`
    /// (nothing left behind). `name` is `sandboxctl.<launcher pid>`.
    pub fn create(sys: &dyn Sys, l: &Limits, name: &str) -> Result<Sandbox, SetupError> {
        let mut made = Sandbox { dirs: Vec::new() };
        for (parent, v2, controllers) in placement(sys, l)? {
            let path = format!("{parent}/{name}");
            let r = if v2 { made.v2_dir(sys, &parent, &path, &controllers, l) } else { made.v1_dir(sys, &parent, &path, controllers[0], l) };
            if let Err(e) = r {
                made.remove(sys);
                return Err(e);
            }
        }
        Ok(made)
    }

    fn v1_dir(&mut self, sys: &dyn Sys, parent: &str, path: &str, c: &'static str, l: &Limits) -> Result<(), SetupError> {
        mkdir(sys, path, c)?;
        self.dirs.push(Dir { path: path.to_string(), home: parent.to_string(), v2: false, controllers: vec![c] });
        match c {
            "memory" => {
                let m = l.memory.expect("wanted");
                set(sys, path, "memory.limit_in_bytes", m)?;
                // No swap beyond it where the kernel accounts swap.
                if sys.stat(&format!("{path}/memory.memsw.limit_in_bytes")).is_ok() {
                    set(sys, path, "memory.memsw.limit_in_bytes", m)?;
                }
            }
            "pids" => set(sys, path, "pids.max", l.pids.expect("wanted"))?,
            _ => {
                set(sys, path, "cpu.cfs_period_us", 100_000)?;
                set(sys, path, "cpu.cfs_quota_us", u64::from(l.cpu_millis.expect("wanted")) * 100)?;
            }
        }
        Ok(())
    }

    fn v2_dir(&mut self, sys: &dyn Sys, parent: &str, path: &str, controllers: &[&'static str], l: &Limits) -> Result<(), SetupError> {
        let enable = controllers.iter().map(|c| format!("+{c}")).collect::<Vec<_>>().join(" ");
        let mut home = parent.to_string();
        if let Err(e) = sys.write_file(&format!("{parent}/cgroup.subtree_control"), enable.as_bytes()) {
            if e.0 != libc::EBUSY {
                return Err(denied(e, &format!("{parent}/cgroup.subtree_control")));
            }
            // "No internal processes" (cgroup-v2.rst): a delegated scope's
            // processes (the caller, this launcher) move into a leaf of
            // their own before its controllers can be enabled for children,
            // as systemd's CGROUP_DELEGATION.md asks of a delegate.
            home = format!("{parent}/sandboxctl-caller");
            match sys.mkdir(&home, 0o755) {
                Ok(()) | Err(Errno(libc::EEXIST)) => {}
                Err(e) => return Err(denied(e, &home)),
            }
            for pid in read(sys, &format!("{parent}/cgroup.procs")).split_whitespace() {
                let _ = sys.write_file(&format!("{home}/cgroup.procs"), pid.as_bytes());
            }
            sys.write_file(&format!("{parent}/cgroup.subtree_control"), enable.as_bytes())
                .map_err(|e| denied(e, &format!("{parent}/cgroup.subtree_control")))?;
        }
        mkdir(sys, path, controllers[0])?;
        self.dirs.push(Dir { path: path.to_string(), home, v2: true, controllers: controllers.to_vec() });
        if let Some(m) = l.memory {
            set(sys, path, "memory.max", m)?;
            if sys.stat(&format!("{path}/memory.swap.max")).is_ok() {
                set(sys, path, "memory.swap.max", 0)?;
            }
            // The whole sandbox goes when it runs out, not one random process.
            let _ = sys.write_file(&format!("{path}/memory.oom.group"), b"1");
        }
        if let Some(p) = l.pids {
            set(sys, path, "pids.max", p)?;
        }
        if let Some(c) = l.cpu_millis {
            set(sys, path, "cpu.max", format_args!("{} 100000", u64::from(c) * 100))?;
        }
        Ok(())
    }

    /// Move the calling process (the launcher, about to clone pid 1) in:
    /// pid 1 is then born inside, before any of its setup or the program.
    pub fn enter(&self, sys: &dyn Sys) -> Result<(), SetupError> {
        for d in &self.dirs {
            sys.write_file(&format!("{}/cgroup.procs", d.path), b"0").map_err(|e| SetupError::sys(Code::Setup, format_args!("enter cgroup {}", d.path), e))?;
        }
        Ok(())
    }

    /// Move the launcher back where it was (its own processes are not the sandbox's).
    pub fn leave(&self, sys: &dyn Sys) -> Result<(), SetupError> {
        for d in &self.dirs {
            sys.write_file(&format!("{}/cgroup.procs", d.home), b"0").map_err(|e| SetupError::sys(Code::Setup, format_args!("leave cgroup {}", d.path), e))?;
        }
        Ok(())
    }

    /// The limit that was hit, if any: an OOM kill, then a refused fork.
    pub fn hit(&self, sys: &dyn Sys) -> Option<LimitKind> {
        let count = |text: String, key: &str| -> u64 { text.lines().find_map(|l| l.strip_prefix(key).and_then(|v| v.trim().parse().ok())).unwrap_or(0) };
        for d in &self.dirs {
            if d.controllers.contains(&"memory") {
                let file = if d.v2 { "memory.events" } else { "memory.oom_control" };
                if count(read(sys, &format!("{}/{file}", d.path)), "oom_kill ") > 0 {
                    return Some(LimitKind::Memory);
                }
            }
        }
        for d in &self.dirs {
            if d.controllers.contains(&"pids") && count(read(sys, &format!("{}/pids.events", d.path)), "max ") > 0 {
                return Some(LimitKind::Pids);
            }
        }
        None
    }

    /// Remove the directories. Once pid 1 is reaped the kernel has killed
    /// every process of its namespace, but their exit may still be under
    /// way: EBUSY is retried for a second.
    pub fn remove(&self, sys: &dyn Sys) {
        for d in self.dirs.iter().rev() {
            for _ in 0..100 {
                match sys.rmdir(&d.path) {
                    Err(Errno(libc::EBUSY)) => {
                        let _ = sys.poll(&[], 10);
                    }
                    _ => break,
                }
            }
        }
    }
}

fn denied(e: Errno, path: &str) -> SetupError {
    if matches!(e.0, libc::EACCES | libc::EPERM | libc::EROFS) {
        unavailable(format!("cannot make a cgroup for the limits: {path}: {e}"))
    } else {
        SetupError::sys(Code::Setup, format_args!("set up cgroup {path}"), e)
    }
}

fn mkdir(sys: &dyn Sys, path: &str, _c: &str) -> Result<(), SetupError> {
    sys.mkdir(path, 0o755).map_err(|e| denied(e, path))
}

fn set(sys: &dyn Sys, dir: &str, file: &str, v: impl std::fmt::Display) -> Result<(), SetupError> {
    let path = format!("{dir}/{file}");
    sys.write_file(&path, v.to_string().as_bytes()).map_err(|e| denied(e, &path))
}

#[cfg(test)]
mod tests;
