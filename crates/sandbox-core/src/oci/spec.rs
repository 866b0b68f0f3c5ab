//! `config.json` (runtime-spec 1.0 to 1.2): the fields this runtime reads,
//! decoded with their JSON path on error, and checked as a whole before
//! anything exists (a bad bundle leaves no state, mount or process).
//!
//! Unknown fields are accepted (the spec lets runtimes ignore what they do
//! not know, and engines add vendor fields); a field we know with a wrong
//! type or value is an `E_SPEC_INVALID` naming its path.

use super::options::{self, MountOptions};
use crate::error::{Code, SetupError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    #[serde(default)]
    pub oci_version: String,
    pub root: Option<Root>,
    pub process: Option<Process>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub domainname: Option<String>,
    #[serde(default)]
    pub mounts: Vec<Mount>,
    #[serde(default)]
    pub hooks: Hooks,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub linux: Linux,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Root {
    pub path: String,
    #[serde(default)]
    pub readonly: bool,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Process {
    #[serde(default)]
    pub terminal: bool,
    #[serde(default)]
    pub user: User,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub cwd: String,
    #[serde(default)]
    pub capabilities: Option<Capabilities>,
    #[serde(default)]
    pub rlimits: Vec<Rlimit>,
    #[serde(default)]
    pub no_new_privileges: bool,
    #[serde(default)]
    pub oom_score_adj: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
    #[serde(default)]
    pub umask: Option<u32>,
    #[serde(default)]
    pub additional_gids: Vec<u32>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Capabilities {
    #[serde(default)]
    pub bounding: Vec<String>,
    #[serde(default)]
    pub effective: Vec<String>,
    #[serde(default)]
    pub inheritable: Vec<String>,
    #[serde(default)]
    pub permitted: Vec<String>,
    #[serde(default)]
    pub ambient: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Rlimit {
    #[serde(rename = "type")]
    pub kind: String,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mount {
    pub destination: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hooks {
    #[serde(default)]
    pub prestart: Vec<Hook>,
    #[serde(default)]
    pub create_runtime: Vec<Hook>,
    #[serde(default)]
    pub create_container: Vec<Hook>,
    #[serde(default)]
    pub start_container: Vec<Hook>,
    #[serde(default)]
    pub poststart: Vec<Hook>,
    #[serde(default)]
    pub poststop: Vec<Hook>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hook {
    pub path: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub timeout: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Linux {
    #[serde(default)]
    pub namespaces: Vec<Namespace>,
    #[serde(default)]
    pub uid_mappings: Vec<IdMapping>,
    #[serde(default)]
    pub gid_mappings: Vec<IdMapping>,
    #[serde(default)]
    pub devices: Vec<Device>,
    #[serde(default)]
    pub sysctl: BTreeMap<String, String>,
    #[serde(default)]
    pub seccomp: Option<Seccomp>,
    #[serde(default)]
    pub rootfs_propagation: Option<String>,
    #[serde(default)]
    pub masked_paths: Vec<String>,
    #[serde(default)]
    pub readonly_paths: Vec<String>,
    #[serde(default)]
    pub cgroups_path: Option<String>,
    #[serde(default)]
    pub resources: Option<Resources>,
}

/// The parts of `linux.resources` applied (container/cgroups.rs).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Resources {
    #[serde(default)]
    pub memory: Option<Memory>,
    #[serde(default)]
    pub pids: Option<Pids>,
    #[serde(default)]
    pub cpu: Option<Cpu>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Memory {
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub reservation: Option<i64>,
    #[serde(default)]
    pub swap: Option<i64>,
    #[serde(default)]
    pub swappiness: Option<u64>,
    #[serde(default, rename = "disableOOMKiller")]
    pub disable_oom_killer: Option<bool>,
    /// Deprecated in runtime-spec 1.2: v1 `memory.kmem.limit_in_bytes`.
    #[serde(default)]
    pub kernel: Option<i64>,
    /// v1 `memory.kmem.tcp.limit_in_bytes`.
    #[serde(default, rename = "kernelTCP")]
    pub kernel_tcp: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Pids {
    pub limit: i64,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Cpu {
    #[serde(default)]
    pub shares: Option<u64>,
    #[serde(default)]
    pub quota: Option<i64>,
    #[serde(default)]
    pub period: Option<u64>,
    #[serde(default)]
    pub cpus: Option<String>,
    #[serde(default)]
    pub mems: Option<String>,
    #[serde(default, rename = "realtimeRuntime")]
    pub realtime_runtime: Option<i64>,
    #[serde(default, rename = "realtimePeriod")]
    pub realtime_period: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Namespace {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub path: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IdMapping {
    #[serde(rename = "containerID")]
    pub container_id: u32,
    #[serde(rename = "hostID")]
    pub host_id: u32,
    pub size: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    #[serde(rename = "type")]
    pub kind: String,
    pub path: String,
    #[serde(default)]
    pub major: i64,
    #[serde(default)]
    pub minor: i64,
    #[serde(default)]
    pub file_mode: Option<u32>,
    #[serde(default)]
    pub uid: Option<u32>,
    #[serde(default)]
    pub gid: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Seccomp {
    pub default_action: String,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub architectures: Vec<String>,
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default)]
    pub listener_path: Option<String>,
    #[serde(default)]
    pub syscalls: Vec<SyscallRule>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    pub names: Vec<String>,
    pub action: String,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Vec<SyscallArg>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SyscallArg {
    pub index: u32,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: String,
}

/// `E_SPEC_INVALID: config.json: <path>: <reason>`.
pub fn invalid(path: impl std::fmt::Display, reason: impl std::fmt::Display) -> SetupError {
    SetupError::new(Code::SpecInvalid, format!("config.json: {path}: {reason}"))
}

/// Decode `config.json`, naming the JSON path of a bad value.
pub fn decode(bytes: &[u8]) -> Result<Spec, SetupError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        invalid(if path == "." { "(document)".to_string() } else { path }, e.inner())
    })
}

/// Namespace types of config-linux.md, with their clone flag.
pub const NAMESPACES: &[(&str, i32)] = &[
    ("pid", libc::CLONE_NEWPID),
    ("network", libc::CLONE_NEWNET),
    ("mount", libc::CLONE_NEWNS),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("user", libc::CLONE_NEWUSER),
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("time", libc::CLONE_NEWTIME),
];

/// The clone flag of a namespace type.
pub fn ns_flag(kind: &str) -> Option<i32> {
    NAMESPACES.iter().find(|(n, _)| *n == kind).map(|(_, f)| *f)
}

/// Sysctls that belong to a namespace (runc's validator): the rest would
/// change the host.
pub fn sysctl_allowed(key: &str, namespaces: &[Namespace]) -> Result<(), String> {
    let has = |t: &str| namespaces.iter().any(|n| n.kind == t);
    let ipc = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"];
    if ipc.contains(&key) || key.starts_with("fs.mqueue.") {
        return if has("ipc") { Ok(()) } else { Err("needs an ipc namespace".into()) };
    }
    if key.starts_with("net.") {
        return if has("network") { Ok(()) } else { Err("needs a network namespace".into()) };
    }
    if key == "kernel.hostname" || key == "kernel.domainname" {
        return if has("uts") { Ok(()) } else { Err("needs a uts namespace".into()) };
    }
    Err("is not namespaced: it would change the host".into())
}

/// Everything checked before anything is created.
pub fn validate(spec: &Spec) -> Result<(), SetupError> {
    let root = spec.root.as_ref().ok_or_else(|| invalid("root", "missing"))?;
    if root.path.is_empty() {
        return Err(invalid("root.path", "must not be empty"));
    }
    let p = spec.process.as_ref().ok_or_else(|| invalid("process", "missing (this runtime does not create containers without a process)"))?;
    if p.args.is_empty() {
        return Err(invalid("process.args", "must name a program"));
    }
    if !p.cwd.starts_with('/') {
        return Err(invalid("process.cwd", "must be absolute"));
    }
    for (i, e) in p.env.iter().enumerate() {
        if !e.contains('=') {
            return Err(invalid(format!("process.env[{i}]"), "must be KEY=VALUE"));
        }
    }
    if let Some(c) = &p.capabilities {
        for (set, names) in
            [("bounding", &c.bounding), ("effective", &c.effective), ("inheritable", &c.inheritable), ("permitted", &c.permitted), ("ambient", &c.ambient)]
        {
            for (i, n) in names.iter().enumerate() {
                if cap_number(n).is_none() {
                    return Err(invalid(format!("process.capabilities.{set}[{i}]"), format!("unknown capability {n}")));
                }
            }
        }
    }
    for (i, r) in p.rlimits.iter().enumerate() {
        if rlimit_resource(&r.kind).is_none() {
            return Err(invalid(format!("process.rlimits[{i}].type"), format!("unknown rlimit {}", r.kind)));
        }
        if r.soft > r.hard {
            return Err(invalid(format!("process.rlimits[{i}]"), "soft limit is above the hard limit"));
        }
    }
    for (i, m) in spec.mounts.iter().enumerate() {
        if !m.destination.starts_with('/') {
            return Err(invalid(format!("mounts[{i}].destination"), "must be absolute"));
        }
        let opts: MountOptions = options::parse(&m.options).map_err(|e| invalid(format!("mounts[{i}].options"), e))?;
        if !opts.bind && m.kind.as_deref().unwrap_or("").is_empty() {
            return Err(invalid(format!("mounts[{i}].type"), "required unless the options say bind or rbind"));
        }
    }
    let mut seen = Vec::new();
    for (i, n) in spec.linux.namespaces.iter().enumerate() {
        if ns_flag(&n.kind).is_none() {
            return Err(invalid(format!("linux.namespaces[{i}].type"), format!("unknown namespace {}", n.kind)));
        }
        if seen.contains(&n.kind) {
            return Err(invalid(format!("linux.namespaces[{i}].type"), format!("{} is listed twice", n.kind)));
        }
        if n.kind == "time" && n.path.is_none() {
            return Err(invalid(format!("linux.namespaces[{i}]"), "a new time namespace is not supported yet"));
        }
        if let Some(path) = &n.path {
            if !path.starts_with('/') {
                return Err(invalid(format!("linux.namespaces[{i}].path"), "must be absolute"));
            }
        }
        seen.push(n.kind.clone());
    }
    let userns = spec.linux.namespaces.iter().any(|n| n.kind == "user" && n.path.is_none());
    for (field, maps) in [("uidMappings", &spec.linux.uid_mappings), ("gidMappings", &spec.linux.gid_mappings)] {
        if !maps.is_empty() && !userns {
            return Err(invalid(format!("linux.{field}"), "given without a new user namespace"));
        }
    }
    if userns && (spec.linux.uid_mappings.is_empty() || spec.linux.gid_mappings.is_empty()) {
        return Err(invalid("linux.uidMappings", "a new user namespace needs uid and gid mappings"));
    }
    if !spec.linux.namespaces.iter().any(|n| n.kind == "mount") {
        return Err(invalid("linux.namespaces", "a mount namespace is required (this runtime never mounts in the host's)"));
    }
    for k in spec.linux.sysctl.keys() {
        sysctl_allowed(k, &spec.linux.namespaces).map_err(|e| invalid(format!("linux.sysctl.{k}"), e))?;
    }
    if let Some(prop) = &spec.linux.rootfs_propagation {
        if !["", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"].contains(&prop.as_str()) {
            return Err(invalid("linux.rootfsPropagation", format!("unknown propagation {prop}")));
        }
    }
    for (i, d) in spec.linux.devices.iter().enumerate() {
        if !["c", "b", "u", "p"].contains(&d.kind.as_str()) {
            return Err(invalid(format!("linux.devices[{i}].type"), format!("unknown device type {}", d.kind)));
        }
        if !d.path.starts_with("/dev/") {
            return Err(invalid(format!("linux.devices[{i}].path"), "must be under /dev"));
        }
    }
    if let Some(s) = &spec.linux.seccomp {
        super::seccomp::compile(s).map_err(|(path, e)| invalid(format!("linux.seccomp{path}"), e))?;
    }
    for (kind, hooks) in spec.hooks.all() {
        for (i, h) in hooks.iter().enumerate() {
            if !h.path.starts_with('/') {
                return Err(invalid(format!("hooks.{kind}[{i}].path"), "must be absolute"));
            }
        }
    }
    Ok(())
}

impl Hooks {
    pub fn all(&self) -> [(&'static str, &Vec<Hook>); 6] {
        [
            ("prestart", &self.prestart),
            ("createRuntime", &self.create_runtime),
            ("createContainer", &self.create_container),
            ("startContainer", &self.start_container),
            ("poststart", &self.poststart),
            ("poststop", &self.poststop),
        ]
    }
}

/// `CAP_NET_RAW` → 13.
pub fn cap_number(name: &str) -> Option<u32> {
    crate::caps::NAMES.iter().position(|n| *n == name).map(|i| i as u32)
}

/// `RLIMIT_NOFILE` → its resource number.
pub fn rlimit_resource(name: &str) -> Option<u32> {
    let r = match name {
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        _ => return None,
    };
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.2.0",
            "root": {"path": "rootfs"},
            "process": {"args": ["sh"], "cwd": "/", "env": ["PATH=/bin"]},
            "linux": {"namespaces": [{"type": "mount"}, {"type": "pid"}]}
        })
    }
    fn check(v: serde_json::Value) -> Result<(), SetupError> {
        validate(&decode(v.to_string().as_bytes())?)
    }

    #[test]
    fn a_minimal_spec_is_valid() {
        check(base()).unwrap();
    }

    #[test]
    fn decode_errors_name_the_json_path() {
        let mut v = base();
        v["linux"]["namespaces"][1]["type"] = serde_json::json!(3);
        let e = check(v).unwrap_err();
        assert_eq!(e.code, Code::SpecInvalid);
        assert!(e.message.contains("linux.namespaces[1].type"), "{}", e.message);
    }

    #[test]
    fn validation_errors_name_the_field() {
        let cases: Vec<(&str, serde_json::Value, &str)> = vec![
            ("/mounts", serde_json::json!([{"destination": "rel", "type": "tmpfs"}]), "mounts[0].destination"),
            ("/mounts", serde_json::json!([{"destination": "/x"}]), "mounts[0].type"),
            ("/mounts", serde_json::json!([{"destination": "/x", "type": "bind", "options": ["rbind", "idmap"]}]), "mounts[0].options"),
            ("/linux/sysctl", serde_json::json!({"kernel.panic": "1"}), "linux.sysctl.kernel.panic"),
            ("/linux/namespaces", serde_json::json!([{"type": "mount"}, {"type": "mount"}]), "linux.namespaces[1].type"),
            ("/linux/namespaces", serde_json::json!([{"type": "pid"}]), "linux.namespaces"),
            ("/linux/namespaces", serde_json::json!([{"type": "mount"}, {"type": "user"}]), "linux.uidMappings"),
            ("/linux/uidMappings", serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}]), "linux.uidMappings"),
            ("/process/cwd", serde_json::json!("rel"), "process.cwd"),
            ("/process/capabilities", serde_json::json!({"bounding": ["CAP_NOPE"]}), "process.capabilities.bounding[0]"),
            ("/process/rlimits", serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]), "process.rlimits[0]"),
            ("/linux/seccomp", serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY"}), "linux.seccomp"),
            ("/hooks", serde_json::json!({"poststop": [{"path": "rel"}]}), "hooks.poststop[0].path"),
        ];
        for (ptr, value, want) in cases {
            let mut v = base();
            *v.pointer_mut(ptr.rsplit_once('/').unwrap().0)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .entry(ptr.rsplit_once('/').unwrap().1)
                .or_insert(serde_json::Value::Null) = value;
            let e = check(v).expect_err(want);
            assert_eq!(e.code, Code::SpecInvalid, "{want}");
            assert!(e.message.contains(want), "{want}: {}", e.message);
        }
    }

    #[test]
    fn only_namespaced_sysctls_pass() {
        let ns = vec![Namespace { kind: "ipc".into(), path: None }, Namespace { kind: "network".into(), path: None }];
        assert!(sysctl_allowed("kernel.shmmax", &ns).is_ok());
        assert!(sysctl_allowed("fs.mqueue.msg_max", &ns).is_ok());
        assert!(sysctl_allowed("net.ipv4.ip_forward", &ns).is_ok());
        assert!(sysctl_allowed("net.ipv4.ip_forward", &[]).is_err());
        assert!(sysctl_allowed("vm.overcommit_memory", &ns).is_err());
    }
}
