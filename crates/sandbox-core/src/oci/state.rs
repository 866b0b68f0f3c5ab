//! Container state under `--root`: `ROOT/ID/state.json` (runtime-spec's
//! state plus what we need to find the process again), `exec.fifo` (the
//! start gate, present while the container is `created`) and
//! `config.json` (the bundle's, as `exec` will read it).
//!
//! Status is derived, never trusted from the file: a pid is ours only while
//! `/proc/PID/stat`'s start time equals the one recorded at create, so a
//! recycled pid reads as `stopped`, and signals go through a pidfd opened
//! before that check.

use crate::error::{Code, SetupError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const OCI_VERSION: &str = "1.2.0";

/// runtime-spec's state, plus ours (camelCase, as the spec's).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    pub bundle: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopped => "stopped",
        })
    }
}

/// What `state.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub id: String,
    pub pid: i32,
    /// `/proc/PID/stat` field 22 at create.
    pub init_start: u64,
    pub bundle: String,
    pub created: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub owner: u32,
    /// cgroup directories made at create, removed at delete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cgroup_paths: Vec<String>,
}

/// `--root`'s default: `/run/sandboxctl-oci` for the host's root, else
/// under `$XDG_RUNTIME_DIR` (also for root of a user namespace, as rootless
/// podman runs its runtime: /run there is the real root's).
pub fn default_root() -> String {
    // SAFETY: geteuid has no arguments.
    if unsafe { libc::geteuid() } == 0 && initial_userns() {
        return "/run/sandboxctl-oci".into();
    }
    match std::env::var("XDG_RUNTIME_DIR") {
        Ok(d) if !d.is_empty() => format!("{d}/sandboxctl-oci"),
        // SAFETY: getuid has no arguments.
        _ => format!("/run/user/{}/sandboxctl-oci", unsafe { libc::getuid() }),
    }
}

/// Are we in the initial user namespace (the identity map of every id)?
pub fn initial_userns() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
}

/// runc's rule for ids: `^[\w+\-.]+$`, not `.` or `..`, ≤ 1024 bytes.
pub fn check_id(id: &str) -> Result<(), SetupError> {
    let ok = !id.is_empty() && id.len() <= 1024 && id != "." && id != ".." && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(SetupError::new(Code::SpecInvalid, format!("invalid container id {id:?}: letters, digits and _+-. only")))
    }
}

/// The state root: created 0700 if missing; refused when it is a symlink,
/// not ours, or writable by group or others (another user could plant a
/// container there).
pub fn open_root(root: &str) -> Result<PathBuf, SetupError> {
    let p = PathBuf::from(root);
    if !p.is_absolute() {
        return Err(SetupError::new(Code::Usage, format!("--root {root}: must be absolute")));
    }
    if let Err(e) = fs::DirBuilder::new().recursive(true).mode(0o700).create(&p) {
        return Err(SetupError::new(Code::Setup, format!("cannot create {root}: {e}")));
    }
    let m = fs::symlink_metadata(&p).map_err(|e| SetupError::new(Code::Setup, format!("cannot stat {root}: {e}")))?;
    // SAFETY: geteuid has no arguments.
    let me = unsafe { libc::geteuid() };
    if !m.is_dir() || m.uid() != me || m.mode() & 0o022 != 0 {
        return Err(SetupError::new(Code::Setup, format!("{root} is unsafe: it must be a directory of ours, not writable by group or others")));
    }
    Ok(p)
}

/// `ROOT/ID`, which must be a real directory (no symlink swapped in).
pub fn container_dir(root: &Path, id: &str) -> Result<PathBuf, SetupError> {
    check_id(id)?;
    let d = root.join(id);
    match fs::symlink_metadata(&d) {
        Ok(m) if m.is_dir() => Ok(d),
        Ok(_) => Err(SetupError::new(Code::OciNotFound, format!("container {id}: {} is not a directory", d.display()))),
        Err(_) => Err(SetupError::new(Code::OciNotFound, format!("container {id} does not exist"))),
    }
}

/// Write `state.json` atomically (tmp + rename), 0600.
pub fn save(dir: &Path, rec: &Record) -> Result<(), SetupError> {
    let tmp = dir.join(".state.json.tmp");
    let write = || -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(&serde_json::to_vec(rec).expect("state serializes"))?;
        f.sync_all()?;
        fs::rename(&tmp, dir.join("state.json"))
    };
    write().map_err(|e| SetupError::new(Code::Setup, format!("cannot write {}/state.json: {e}", dir.display())))
}

pub fn load(dir: &Path) -> Result<Record, SetupError> {
    let b = fs::read(dir.join("state.json")).map_err(|e| SetupError::new(Code::OciNotFound, format!("cannot read {}/state.json: {e}", dir.display())))?;
    serde_json::from_slice(&b).map_err(|e| SetupError::new(Code::OciNotFound, format!("{}/state.json is damaged: {e}", dir.display())))
}

/// `/proc/PID/stat`: (state letter, start time), or None when gone.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may hold spaces and parentheses: fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    Some((f.first()?.chars().next()?, f.get(19)?.parse().ok()?))
}

/// Is the recorded process still ours and alive (not a zombie)?
pub fn alive(rec: &Record) -> bool {
    matches!(proc_stat(rec.pid), Some((st, start)) if start == rec.init_start && st != 'Z' && st != 'X')
}

/// The container's status from its record and the system.
pub fn status(dir: &Path, rec: &Record) -> Status {
    if !alive(rec) {
        Status::Stopped
    } else if dir.join("exec.fifo").exists() {
        Status::Created
    } else {
        Status::Running
    }
}

/// The spec's state document.
pub fn state(dir: &Path, rec: &Record) -> State {
    let status = status(dir, rec);
    State {
        oci_version: OCI_VERSION.into(),
        id: rec.id.clone(),
        status,
        pid: (status != Status::Stopped).then_some(rec.pid),
        bundle: rec.bundle.clone(),
        annotations: rec.annotations.clone(),
    }
}

/// Signal the recorded process through a pidfd opened before checking its
/// start time: the signal cannot reach a process that recycled the pid.
pub fn signal(rec: &Record, sig: i32) -> Result<(), SetupError> {
    // SAFETY: pidfd_open takes a pid and flags; the fd is owned below.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, rec.pid, 0) } as i32;
    if fd < 0 {
        return Err(SetupError::new(Code::OciState, format!("container {} is stopped", rec.id)));
    }
    let result = if alive(rec) || matches!(proc_stat(rec.pid), Some((_, s)) if s == rec.init_start) {
        // SAFETY: a pidfd we own; no siginfo.
        let rc = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, fd, sig, std::ptr::null::<libc::siginfo_t>(), 0) };
        if rc < 0 {
            Err(SetupError::new(Code::Setup, format!("cannot signal container {}: {}", rec.id, std::io::Error::last_os_error())))
        } else {
            Ok(())
        }
    } else {
        Err(SetupError::new(Code::OciState, format!("container {} is stopped (pid {} is no longer its process)", rec.id, rec.pid)))
    };
    // SAFETY: closing the fd we opened.
    unsafe { libc::close(fd) };
    result
}

/// A signal by name (`KILL`, `SIGKILL`) or number.
pub fn parse_signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    let n = match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "ILL" => libc::SIGILL,
        "TRAP" => libc::SIGTRAP,
        "ABRT" | "IOT" => libc::SIGABRT,
        "BUS" => libc::SIGBUS,
        "FPE" => libc::SIGFPE,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "SEGV" => libc::SIGSEGV,
        "USR2" => libc::SIGUSR2,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "STKFLT" => libc::SIGSTKFLT,
        "CHLD" => libc::SIGCHLD,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "TSTP" => libc::SIGTSTP,
        "TTIN" => libc::SIGTTIN,
        "TTOU" => libc::SIGTTOU,
        "URG" => libc::SIGURG,
        "XCPU" => libc::SIGXCPU,
        "XFSZ" => libc::SIGXFSZ,
        "VTALRM" => libc::SIGVTALRM,
        "PROF" => libc::SIGPROF,
        "WINCH" => libc::SIGWINCH,
        "IO" | "POLL" => libc::SIGIO,
        "PWR" => libc::SIGPWR,
        "SYS" => libc::SIGSYS,
        _ => return None,
    };
    Some(n)
}

/// Remove `ROOT/ID` (no symlink followed: remove_dir_all does not follow them).
pub fn remove(dir: &Path) -> Result<(), SetupError> {
    fs::remove_dir_all(dir).map_err(|e| SetupError::new(Code::Setup, format!("cannot remove {}: {e}", dir.display())))
}

/// RFC 3339 UTC time, for `created` and the JSON log.
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z", rem / 3600, rem / 60 % 60, rem % 60, d.subsec_nanos())
}

/// Make `p` 0700 (the umask may have widened nothing, but be exact).
pub fn private(p: &Path) -> std::io::Result<()> {
    fs::set_permissions(p, fs::Permissions::from_mode(0o700))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_runc_rules() {
        for ok in ["a", "abc-1.2_3+x", &"x".repeat(1024)] {
            check_id(ok).unwrap();
        }
        for bad in ["", ".", "..", "../x", "a/b", "a b", &"x".repeat(1025)] {
            assert_eq!(check_id(bad).unwrap_err().code, Code::SpecInvalid, "{bad}");
        }
    }

    #[test]
    fn signals_by_name_or_number() {
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal("KILL"), Some(libc::SIGKILL));
        assert_eq!(parse_signal("sigterm"), Some(libc::SIGTERM));
        assert_eq!(parse_signal("0"), None);
        assert_eq!(parse_signal("NOPE"), None);
    }

    #[test]
    fn a_recycled_pid_reads_as_stopped() {
        let me = std::process::id() as i32;
        let (_, start) = proc_stat(me).unwrap();
        let dir = std::env::temp_dir();
        let rec = Record {
            id: "x".into(),
            pid: me,
            init_start: start,
            bundle: "/b".into(),
            created: now_rfc3339(),
            annotations: BTreeMap::new(),
            owner: 0,
            cgroup_paths: Vec::new(),
        };
        assert_eq!(status(Path::new("/nonexistent"), &rec), Status::Running);
        let moved = Record { init_start: start + 1, ..rec.clone() };
        assert_eq!(status(&dir, &moved), Status::Stopped);
        assert_eq!(signal(&moved, 0).unwrap_err().code, Code::OciState);
        signal(&rec, 0).unwrap();
    }

    #[test]
    fn unsafe_roots_are_refused() {
        let d = std::env::temp_dir().join(format!("sandboxctl-oci-root-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        open_root(d.to_str().unwrap()).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o770)).unwrap();
        assert!(open_root(d.to_str().unwrap()).is_err());
        fs::remove_dir_all(&d).unwrap();
        let link = std::env::temp_dir().join(format!("sandboxctl-oci-link-{}", std::process::id()));
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink("/tmp", &link).unwrap();
        assert!(open_root(link.to_str().unwrap()).is_err());
        fs::remove_file(&link).unwrap();
    }

    #[test]
    fn time_is_rfc3339() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 30, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }
}
