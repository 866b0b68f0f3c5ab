//! The registry of live sandboxes, in the user's private runtime directory:
//! `$XDG_RUNTIME_DIR/sandboxctl` when that directory is ours and 0700, else
//! `/run/sandboxctl` for root, else `/run/user/$UID/sandboxctl` when ours
//! and 0700, else `~/.local/state/sandboxctl/run-$HOSTNAME` (the home from
//! the password database). Never a predictable path in /tmp: another user
//! could pre-create it.
//!
//! Layout: `ROOT/sandboxes/NAME/` with `lock` (the supervisor holds
//! `flock(LOCK_EX)` on it for its whole life), `state.json` (written
//! tmp+rename once the sandbox is ready) and `control.sock`. Every level is
//! opened `O_DIRECTORY|O_NOFOLLOW` and must be ours with no group or other
//! bits, else `E_REGISTRY_UNSAFE`.
//!
//! An entry is made as `.NAME.RANDOM` holding its lock already taken, then
//! renamed to `NAME` with RENAME_NOREPLACE: an entry is never visible without
//! its lock held. Liveness comes from the lock, never from a pid, so a
//! recycled pid cannot fool it; an entry whose lock can be taken is stale
//! and whoever takes it (`ps`, a new sandbox of that name) removes it
//! without signalling anything.

use super::proto::SandboxState;
use crate::error::{Code, SetupError};
use nix::fcntl::{self, OFlag, RenameFlags};
use nix::sys::stat::{self, Mode};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

pub const SOCKET: &str = "control.sock";
const LOCK: &str = "lock";
const STATE: &str = "state.json";

/// The opened registry: its `sandboxes` directory, checked.
pub struct Registry {
    pub root: String,
    dir: OwnedFd,
}

/// A registry entry this process made and holds.
#[derive(Debug)]
pub struct Entry {
    pub name: String,
    pub dir: OwnedFd,
    pub lock: OwnedFd,
    /// The entry's directory on the host.
    pub path: String,
}

/// A running sandbox found by name.
#[derive(Debug)]
pub struct Found {
    pub state: SandboxState,
    /// The entry directory (O_PATH), to reach its socket.
    pub dir: OwnedFd,
}

fn unsafe_err(path: &str, why: impl std::fmt::Display) -> SetupError {
    SetupError::new(Code::RegistryUnsafe, format!("registry directory {path} is unsafe: {why}"))
        .with_hint("it must be a directory owned by you with mode 0700 (remove it if someone else made it)")
}

fn sys_err(what: &str, e: impl std::fmt::Display) -> SetupError {
    SetupError::new(Code::Setup, format!("cannot {what}: {e}"))
}

/// Open `name` under `at` (or the path itself when `at` is None) as a
/// directory, never through a symlink, and check it is ours and private.
fn open_private_dir(at: Option<&OwnedFd>, name: &str, shown: &str, create: bool) -> Result<OwnedFd, SetupError> {
    let dirfd = at.map(|d| d.as_raw_fd()).unwrap_or(libc::AT_FDCWD);
    if create {
        match stat::mkdirat(unsafe { std::os::fd::BorrowedFd::borrow_raw(dirfd) }, name, Mode::from_bits_truncate(0o700)) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(sys_err(&format!("create {shown}"), e)),
        }
    }
    let fd = fcntl::openat(
        unsafe { std::os::fd::BorrowedFd::borrow_raw(dirfd) },
        name,
        OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDONLY,
        Mode::empty(),
    )
    .map_err(|e| match e {
        nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR => unsafe_err(shown, "not a directory (a symlink?)"),
        e => sys_err(&format!("open {shown}"), e),
    })?;
    let st = stat::fstat(fd.as_fd()).map_err(|e| sys_err(&format!("stat {shown}"), e))?;
    let uid = nix::unistd::geteuid().as_raw();
    if st.st_uid != uid {
        return Err(unsafe_err(shown, format_args!("owned by uid {}, not {uid}", st.st_uid)));
    }
    if st.st_mode & 0o077 != 0 {
        return Err(unsafe_err(shown, format_args!("mode {:o} is open to group or others", st.st_mode & 0o7777)));
    }
    Ok(fd)
}

/// A directory that is ours and closed to others (for choosing the root).
fn private_base(path: &str) -> bool {
    std::fs::symlink_metadata(path).map(|m| m.is_dir() && m.uid() == nix::unistd::geteuid().as_raw() && m.mode() & 0o077 == 0).unwrap_or(false)
}

/// Where the registry lives for this user (see the module doc).
pub fn root_path() -> Result<String, SetupError> {
    root_path_for(std::env::var("XDG_RUNTIME_DIR").ok().as_deref())
}

/// [`root_path`] for the given `XDG_RUNTIME_DIR` (the addon passes Node's
/// `process.env`'s, which need not be the C environment's).
pub fn root_path_for(runtime_dir: Option<&str>) -> Result<String, SetupError> {
    let uid = nix::unistd::geteuid().as_raw();
    if let Some(x) = runtime_dir {
        if x.starts_with('/') && private_base(x) {
            return Ok(format!("{}/sandboxctl", x.trim_end_matches('/')));
        }
    }
    if uid == 0 {
        return Ok("/run/sandboxctl".into());
    }
    let run_user = format!("/run/user/{uid}");
    if private_base(&run_user) {
        return Ok(format!("{run_user}/sandboxctl"));
    }
    let home = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.dir.to_string_lossy().into_owned())
        .ok_or_else(|| SetupError::new(Code::RegistryUnsafe, format!("no runtime directory and no home directory for uid {uid}")))?;
    let host = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| "localhost".into());
    let state = format!("{home}/.local/state/sandboxctl");
    std::fs::create_dir_all(&state).map_err(|e| sys_err(&format!("create {state}"), e))?;
    Ok(format!("{state}/run-{host}"))
}

fn random_suffix() -> String {
    let mut b = [0u8; 6];
    if let Ok(f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = (&f).read_exact(&mut b);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn flock(fd: &OwnedFd, how: i32) -> Result<(), nix::errno::Errno> {
    // SAFETY: flock on an fd we own.
    loop {
        if unsafe { libc::flock(fd.as_raw_fd(), how) } == 0 {
            return Ok(());
        }
        match nix::errno::Errno::last() {
            nix::errno::Errno::EINTR => continue,
            e => return Err(e),
        }
    }
}

fn open_at(dir: &OwnedFd, name: &str, flags: OFlag, mode: u32) -> nix::Result<OwnedFd> {
    fcntl::openat(dir.as_fd(), name, flags | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW, Mode::from_bits_truncate(mode))
}

/// How an entry's lock answers.
enum Liveness {
    /// Someone holds it: a running sandbox (or one being made).
    Held,
    /// We took it exclusively: stale; the lock is ours until dropped.
    Stale(OwnedFd),
    /// No lock file (an entry half made or half removed).
    Missing,
}

impl Registry {
    /// The caller's registry, created if missing.
    pub fn open() -> Result<Registry, SetupError> {
        Registry::open_at(&root_path()?)
    }

    /// The registry at `root` (its parent must exist).
    pub fn open_at(root: &str) -> Result<Registry, SetupError> {
        let top = open_private_dir(None, root, root, true)?;
        let dir = open_private_dir(Some(&top), "sandboxes", &format!("{root}/sandboxes"), true)?;
        Ok(Registry { root: root.to_string(), dir })
    }

    fn entry_dir(&self, name: &str) -> nix::Result<OwnedFd> {
        open_at(&self.dir, name, OFlag::O_DIRECTORY | OFlag::O_RDONLY, 0)
    }

    fn liveness(&self, name: &str) -> Liveness {
        let Ok(dir) = self.entry_dir(name) else { return Liveness::Missing };
        let Ok(lock) = open_at(&dir, LOCK, OFlag::O_RDWR, 0) else { return Liveness::Missing };
        match flock(&lock, libc::LOCK_EX | libc::LOCK_NB) {
            Ok(()) => Liveness::Stale(lock),
            Err(_) => Liveness::Held,
        }
    }

    /// Remove the entry `name` (its lock is held by the caller or gone).
    fn remove_dir(&self, name: &str) {
        if let Ok(dir) = self.entry_dir(name) {
            if let Ok(d) = nix::dir::Dir::openat(dir.as_fd(), ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()) {
                let names: Vec<String> =
                    d.into_iter().filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n != "." && n != "..").collect();
                for n in names {
                    let _ = nix::unistd::unlinkat(dir.as_fd(), n.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
                }
            }
        }
        let _ = nix::unistd::unlinkat(self.dir.as_fd(), name, nix::unistd::UnlinkatFlags::RemoveDir);
    }

    /// Make the entry `name`, its lock held: `E_NAME_IN_USE` when a running
    /// sandbox has it; a stale entry of that name is removed first.
    pub fn create(&self, name: &str) -> Result<Entry, SetupError> {
        crate::check::check_sandbox_name(name).map_err(|r| SetupError::new(Code::NameInvalid, r))?;
        let in_use =
            || SetupError::new(Code::NameInUse, format!("a sandbox named {name} is already running")).with_hint("pick another --name, or `sandboxctl stop` it");
        if let Liveness::Held = self.liveness(name) {
            return Err(in_use());
        }
        let tmp = format!(".{name}.{}", random_suffix());
        stat::mkdirat(self.dir.as_fd(), tmp.as_str(), Mode::from_bits_truncate(0o700)).map_err(|e| sys_err("create a registry entry", e))?;
        let made = (|| {
            let dir = self.entry_dir(&tmp).map_err(|e| sys_err("open the new registry entry", e))?;
            let lock = open_at(&dir, LOCK, OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL, 0o600).map_err(|e| sys_err("create the entry's lock", e))?;
            flock(&lock, libc::LOCK_EX | libc::LOCK_NB).map_err(|e| sys_err("lock the new entry", e))?;
            Ok::<_, SetupError>((dir, lock))
        })();
        let (dir, lock) = match made {
            Ok(x) => x,
            Err(e) => {
                self.remove_dir(&tmp);
                return Err(e);
            }
        };
        for _ in 0..2 {
            match fcntl::renameat2(self.dir.as_fd(), tmp.as_str(), self.dir.as_fd(), name, RenameFlags::RENAME_NOREPLACE) {
                Ok(()) => return Ok(Entry { name: name.into(), dir, lock, path: format!("{}/sandboxes/{name}", self.root) }),
                Err(nix::errno::Errno::EEXIST) => match self.liveness(name) {
                    // Stale: remove it while its lock is ours, then try again.
                    Liveness::Stale(_l) => self.remove_dir(name),
                    Liveness::Held => break,
                    // Half made by a creator that died before its lock existed.
                    Liveness::Missing => self.remove_dir(name),
                },
                Err(e) => {
                    self.remove_dir(&tmp);
                    return Err(sys_err("register the sandbox", e));
                }
            }
        }
        drop(lock);
        self.remove_dir(&tmp);
        Err(in_use())
    }

    /// Whether a running (or starting) sandbox holds the entry `name`.
    pub fn held(&self, name: &str) -> bool {
        matches!(self.liveness(name), Liveness::Held)
    }

    /// Every running sandbox; stale entries met on the way are removed.
    pub fn list(&self) -> Vec<SandboxState> {
        let mut out = Vec::new();
        let Ok(d) = nix::dir::Dir::openat(self.dir.as_fd(), ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()) else { return out };
        let mut names: Vec<String> =
            d.into_iter().filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n != "." && n != "..").collect();
        names.sort();
        for name in names {
            match self.liveness(&name) {
                Liveness::Held => {
                    if let Ok(found) = self.find(&name) {
                        out.push(found.state);
                    }
                }
                Liveness::Stale(_lock) => self.remove_dir(&name),
                Liveness::Missing => {
                    // A half-made temporary entry older than a minute: its creator died.
                    let old = self.entry_dir(&name).ok().and_then(|d| stat::fstat(d.as_fd()).ok()).is_some_and(|st| {
                        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
                        now - st.st_mtime > 60
                    });
                    if name.starts_with('.') && old {
                        self.remove_dir(&name);
                    }
                }
            }
        }
        out
    }

    /// The running sandbox `name`: `E_SANDBOX_NOT_FOUND` unless its entry is
    /// held and ready.
    pub fn find(&self, name: &str) -> Result<Found, SetupError> {
        let not_found = || SetupError::new(Code::SandboxNotFound, format!("no running sandbox named {name}")).with_hint("`sandboxctl ps` lists them");
        if crate::check::check_sandbox_name(name).is_err() {
            return Err(SetupError::new(Code::NameInvalid, crate::check::check_sandbox_name(name).unwrap_err()));
        }
        match self.liveness(name) {
            Liveness::Held => {}
            Liveness::Stale(_lock) => {
                self.remove_dir(name);
                return Err(not_found());
            }
            Liveness::Missing => return Err(not_found()),
        }
        let dir = self.entry_dir(name).map_err(|_| not_found())?;
        let f = open_at(&dir, STATE, OFlag::O_RDONLY, 0).map_err(|_| not_found())?;
        let mut text = String::new();
        use std::io::Read;
        std::fs::File::from(f).read_to_string(&mut text).map_err(|_| not_found())?;
        let mut state: SandboxState =
            serde_json::from_str(&text).map_err(|e| SetupError::new(Code::RegistryUnsafe, format!("unreadable state of sandbox {name}: {e}")))?;
        state.socket = Some(format!("{}/sandboxes/{name}/{SOCKET}", self.root));
        Ok(Found { state, dir })
    }
}

impl Entry {
    /// Write `state.json` (tmp + rename, 0600).
    pub fn write_state(&self, state: &SandboxState) -> Result<(), SetupError> {
        let tmp = format!(".{STATE}.tmp");
        let f = open_at(&self.dir, &tmp, OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC, 0o600).map_err(|e| sys_err("write the sandbox's state", e))?;
        use std::io::Write;
        std::fs::File::from(f).write_all(&serde_json::to_vec(state).expect("state serializes")).map_err(|e| sys_err("write the sandbox's state", e))?;
        fcntl::renameat(self.dir.as_fd(), tmp.as_str(), self.dir.as_fd(), STATE).map_err(|e| sys_err("write the sandbox's state", e))
    }

    pub fn socket_path(&self) -> String {
        format!("{}/{SOCKET}", self.path)
    }

    /// Remove the entry; the lock goes last (with this process's fd).
    pub fn remove(self, reg_root: &str) {
        if let Ok(reg) = Registry::open_at(reg_root) {
            reg.remove_dir(&self.name);
        }
        drop(self.lock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tmp() -> String {
        let d = std::env::temp_dir().join(format!("sbx-reg-{}-{}", std::process::id(), random_suffix()));
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        d.to_string_lossy().into_owned()
    }

    fn state(name: &str) -> SandboxState {
        SandboxState {
            version: 1,
            name: name.into(),
            supervisor_pid: 1,
            pid1: 2,
            created_ms: 0,
            argv: vec![],
            detached: false,
            labels: Default::default(),
            socket: None,
        }
    }

    #[test]
    fn an_entry_is_found_while_its_lock_is_held_and_is_stale_after() {
        let base = tmp();
        let reg = Registry::open_at(&format!("{base}/r")).unwrap();
        let e = reg.create("web").unwrap();
        assert_eq!(reg.find("web").unwrap_err().code, Code::SandboxNotFound, "not ready before state.json");
        e.write_state(&state("web")).unwrap();
        assert_eq!(reg.find("web").unwrap().state.name, "web");
        assert_eq!(reg.create("web").err().unwrap().code, Code::NameInUse);
        assert_eq!(reg.list().len(), 1);
        // The process holding it dies: its lock goes with its fds.
        drop(e);
        assert!(reg.list().is_empty(), "a stale entry disappears from ps");
        assert!(!std::path::Path::new(&format!("{base}/r/sandboxes/web")).exists(), "and is removed");
        assert_eq!(reg.find("web").unwrap_err().code, Code::SandboxNotFound);
        // and its name can be taken again
        let again = reg.create("web").unwrap();
        again.remove(&format!("{base}/r"));
        assert!(std::fs::read_dir(format!("{base}/r/sandboxes")).unwrap().next().is_none());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_stale_entry_is_taken_over_by_a_new_sandbox_of_that_name() {
        let base = tmp();
        let reg = Registry::open_at(&format!("{base}/r")).unwrap();
        drop(reg.create("a").unwrap());
        let e = reg.create("a").unwrap();
        assert!(matches!(reg.liveness("a"), Liveness::Held));
        drop(e);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn names_are_checked() {
        let base = tmp();
        let reg = Registry::open_at(&format!("{base}/r")).unwrap();
        for bad in ["", "../x", ".hidden", "a/b", "-x", &"a".repeat(64)] {
            assert_eq!(reg.create(bad).err().unwrap().code, Code::NameInvalid, "{bad:?}");
            assert_eq!(reg.find(bad).err().unwrap().code, Code::NameInvalid, "{bad:?}");
        }
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn an_unsafe_root_is_refused() {
        let base = tmp();
        // a symlinked root
        std::fs::create_dir(format!("{base}/real")).unwrap();
        std::fs::set_permissions(format!("{base}/real"), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink(format!("{base}/real"), format!("{base}/link")).unwrap();
        assert_eq!(Registry::open_at(&format!("{base}/link")).err().unwrap().code, Code::RegistryUnsafe);
        // a 0755 root
        std::fs::create_dir(format!("{base}/open")).unwrap();
        std::fs::set_permissions(format!("{base}/open"), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(Registry::open_at(&format!("{base}/open")).err().unwrap().code, Code::RegistryUnsafe);
        // a symlinked sandboxes dir inside a good root
        std::fs::create_dir(format!("{base}/good")).unwrap();
        std::fs::set_permissions(format!("{base}/good"), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink(format!("{base}/real"), format!("{base}/good/sandboxes")).unwrap();
        assert_eq!(Registry::open_at(&format!("{base}/good")).err().unwrap().code, Code::RegistryUnsafe);
        // a file, not a directory
        std::fs::write(format!("{base}/file"), "").unwrap();
        assert_eq!(Registry::open_at(&format!("{base}/file")).err().unwrap().code, Code::RegistryUnsafe);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_root_owned_by_another_user_is_refused() {
        if !nix::unistd::geteuid().is_root() {
            return; // needs chown: run by `cargo test` as root in CI; the sandbox suite covers it for both users
        }
        let base = tmp();
        std::fs::create_dir(format!("{base}/theirs")).unwrap();
        std::fs::set_permissions(format!("{base}/theirs"), std::fs::Permissions::from_mode(0o700)).unwrap();
        nix::unistd::chown(format!("{base}/theirs").as_str(), Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        assert_eq!(Registry::open_at(&format!("{base}/theirs")).err().unwrap().code, Code::RegistryUnsafe);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
