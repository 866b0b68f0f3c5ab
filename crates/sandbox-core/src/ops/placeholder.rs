//! placeholder: keep a path read-only inside the sandbox whether or not it
//! exists yet (the agent preset's `.vscode`, `.claude`, `.git/hooks`…), and
//! leave nothing behind in the user's tree.
//!
//! A mount needs a mount point, so a missing directory needs an empty
//! stand-in on the host while the sandbox runs. Files get none: an empty file
//! is not invisible to git as an empty directory is, and the post-run audit
//! deals with a file the run creates. The launcher (host side) owns a
//! stand-in's life: before clone it takes a shared flock on a per-path lock
//! file in a private lock directory and creates the stand-in when it is
//! missing, recording its device, inode and ctime in the lock file; pid 1 mounts an
//! empty read-only directory over it. When the sandbox has ended, the
//! launcher that gets the exclusive lock (no other sandbox uses the path)
//! removes the directory if it is still the very inode a launcher created
//! (same number and same ctime: a number reused for a new directory is not it)
//! and still empty. A record left by a launcher killed with SIGKILL is found
//! by the next run that protects the path, which removes the stand-in then.
//!
//! Every host step goes through fds pinned before the run: the base (the
//! project directory) is opened first, the stand-in's parent below it with
//! RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, and creation and removal are
//! relative to that parent fd. A symlink planted or swapped in by a sandbox
//! (this one or another in the same directory) is refused, never followed,
//! so the launcher creates and deletes nothing outside the project.
//!
//! Races between concurrent runs: the plan is made from the host as it was
//! a moment before, which may include another run's stand-in or miss one
//! it removed since. So nothing here trusts the plan's view: pid 1 protects
//! what is there when it runs (its kind included), a stand-in is never
//! nested in another stand-in (the presets emit them only in real
//! directories), and a directory the caller cannot write needs no stand-in
//! (the program inside, with the same uid and fewer rights, cannot create
//! the path either).

use super::rootfs::split;
use super::{check_target, EarlyCx, OpProblem, RootFs, SetupOp};
use crate::check::check_abs;
use crate::error::{Code, SetupError};
use crate::plan::{PlaceholderOp, PlaceholderType};
use crate::sys::{Errno, Fd, FileKind, MsFlags, Sys, ATTR_NODEV, ATTR_NOSUID, ATTR_RDONLY};
use std::fmt;

impl SetupOp for PlaceholderOp {
    /// The host's /dev/null, opened O_PATH for an empty file's stand-in (or
    /// why not): the launcher did the rest of the host side before clone,
    /// and apply may run where the host's `/dev` is covered already (the
    /// root kept in place, init/root.rs).
    type Prepared = Result<Fd, Errno>;

    fn early(&self, sys: &dyn Sys, _: &EarlyCx) -> Result<Result<Fd, Errno>, SetupError> {
        Ok(sys.open("/dev/null", libc::O_PATH))
    }

    /// The target, and the base: an absolute directory above the target.
    fn validate(&self) -> Result<(), OpProblem> {
        check_target(&self.target)?;
        if let Some(base) = &self.base {
            check_abs(base).map_err(|r| OpProblem::new("base", r))?;
            let rest = if base == "/" { self.target.strip_prefix('/') } else { self.target.strip_prefix(base.as_str()).and_then(|r| r.strip_prefix('/')) };
            if rest.is_none_or(|r| r.is_empty()) {
                return Err(OpProblem::new("base", format!("target {} is not below base {base}", self.target)));
            }
        }
        Ok(())
    }

    /// In pid 1, inside the new root: what is there now is protected, by its
    /// kind now: a non-empty directory or file is bound read-only onto itself,
    /// an empty directory gets an empty read-only tmpfs and an empty file
    /// /dev/null. Nothing there: nothing to protect (the launcher could not
    /// create it, and the program cannot either), or a file (the audit's).
    fn apply(&self, null: Result<Fd, Errno>, root: &mut RootFs) -> Result<(), SetupError> {
        let r = self.protect(null, root);
        if let Ok(fd) = null {
            let _ = root.sys().close(fd);
        }
        r
    }
}

impl PlaceholderOp {
    fn protect(&self, null: Result<Fd, Errno>, root: &mut RootFs) -> Result<(), SetupError> {
        let fail = |e| SetupError::sys(Code::Mount, format_args!("protect {}", self.target), e);
        if self.kind == PlaceholderType::Link && keep_link(&self.target, root).map_err(fail)? {
            return Ok(());
        }
        let sys = root.sys();
        let fd = match root.open(&self.target, 0) {
            Ok(fd) => fd,
            Err(Errno(libc::ENOENT)) => return Ok(()),
            Err(e) => return Err(fail(e)),
        };
        let kind = sys.fstat(fd);
        let empty = sys.is_empty(&root.fd_path(fd));
        let kind = match (kind, empty) {
            (Ok(k @ (FileKind::Dir | FileKind::File)), Ok(true)) => k,
            (Ok(_), Ok(_)) | (Ok(_), Err(_)) => {
                root.bind_onto_itself(fd).map_err(fail)?;
                return root.set_attrs(&self.target, true, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV).map_err(fail);
            }
            (Err(e), _) => {
                let _ = sys.close(fd);
                return Err(fail(e));
            }
        };
        if kind == FileKind::Dir {
            let flags = (libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV) as MsFlags;
            root.mount_on(&self.target, fd, Some("tmpfs"), Some("tmpfs"), flags, Some("mode=555,size=4096")).map_err(fail)
        } else {
            let null = match null {
                Ok(null) => root.fd_path(null),
                Err(e) => {
                    let _ = sys.close(fd);
                    return Err(fail(e));
                }
            };
            root.mount_on(&self.target, fd, Some(&null), None, libc::MS_BIND as MsFlags, None).map_err(fail)?;
            root.set_attrs(&self.target, false, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV).map_err(fail)
        }
    }
}

/// A protected path that is a symlink: the link itself becomes a mount
/// point, so it cannot be removed or replaced by a directory of the
/// program's. False when it is no longer a symlink (then protected as is).
fn keep_link(target: &str, root: &RootFs) -> Result<bool, Errno> {
    let sys = root.sys();
    let (parent, name) = split(target);
    let pfd = match root.open(parent, libc::O_DIRECTORY) {
        Ok(fd) => fd,
        Err(Errno(libc::ENOENT)) => return Ok(false),
        Err(e) => return Err(e),
    };
    let r = match sys.readlinkat(pfd, name) {
        Ok(_) => sys.bind_link_onto_itself(pfd, name).map(|()| true),
        Err(Errno(libc::EINVAL | libc::ENOENT)) => Ok(false),
        Err(e) => Err(e),
    };
    let _ = sys.close(pfd);
    r
}

/// A stand-in the launcher holds for the sandbox's lifetime: the lock, and
/// the stand-in's parent directory pinned when it could be reached.
#[derive(Debug, PartialEq, Eq)]
pub struct Held {
    lock: Fd,
    parent: Option<Fd>,
    name: String,
}

/// The lock file for `path`: FNV-1a of the path, in the lock directory.
pub fn lock_path(dir: &str, path: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in path.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{dir}/{h:016x}")
}

/// Where lock files live: a directory no other user can have made. The
/// session's runtime directory when it is a directory of ours closed to
/// others (systemd makes it so; a stale or foreign `$XDG_RUNTIME_DIR` is not
/// trusted), else under the home the password database gives (never
/// `$HOME`, never /tmp, where another user could pre-create it).
pub fn lock_dir(sys: &dyn Sys, runtime_dir: Option<&str>, uid: u32) -> Result<String, SetupError> {
    let err = |dir: &str, e| SetupError::sys(Code::Setup, format_args!("use {dir} for placeholder locks"), e);
    if let Some(run) = runtime_dir.filter(|d| d.starts_with('/') && check_abs(d).is_ok()) {
        if let Ok((FileKind::Dir, owner, mode)) = sys.owner_mode(run) {
            if owner == uid && mode & 0o777 == 0o700 {
                let dir = format!("{}/sandboxctl-locks", run.trim_end_matches('/'));
                sys.private_dir(&dir).map_err(|e| err(&dir, e))?;
                return Ok(dir);
            }
        }
    }
    let home = sys.passwd_home(uid).map_err(|e| err("the home directory of the password database", e))?;
    if check_abs(&home).is_err() || home == "/" {
        return Err(SetupError::new(Code::Setup, format!("cannot keep placeholder locks: the password database gives home {home:?} for uid {uid}")));
    }
    let base = home.trim_end_matches('/');
    for step in [".local", ".local/state", ".local/state/sandboxctl"] {
        let dir = format!("{base}/{step}");
        match sys.mkdir(&dir, 0o700) {
            Ok(()) | Err(Errno(libc::EEXIST)) => {}
            Err(e) => return Err(err(&dir, e)),
        }
    }
    let dir = format!("{base}/.local/state/sandboxctl/locks");
    sys.private_dir(&dir).map_err(|e| err(&dir, e))?;
    Ok(dir)
}

const BENEATH: u64 = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS;

/// Before clone: lock, and create a missing directory stand-in. None for
/// the kinds that never get one (files, links).
pub fn acquire(sys: &dyn Sys, dir: &str, o: &PlaceholderOp) -> Result<Option<Held>, SetupError> {
    if o.kind != PlaceholderType::Dir {
        return Ok(None);
    }
    let err = |what: &str, e| SetupError::sys(Code::Setup, format_args!("{what} placeholder {}", o.target), e);
    let lock = sys.open_lock(&lock_path(dir, &o.target)).map_err(|e| err("lock", e))?;
    if let Err(e) = sys.flock(lock, libc::LOCK_SH) {
        let _ = sys.close(lock);
        return Err(err("lock", e));
    }
    let (_, name) = split(&o.target);
    let mut held = Held { lock, parent: None, name: name.to_string() };
    held.parent = match pin_parent(sys, o) {
        Ok(p) => p,
        Err(e) => {
            release(sys, held);
            return Err(err("reach", e));
        }
    };
    let Some(pfd) = held.parent else {
        return Ok(Some(held));
    };
    match sys.mkdirat(pfd, name, 0o555) {
        Ok(()) => {}
        // There already (another run's stand-in, the user's, or anything
        // else: pid 1 protects what it finds), or a directory the caller
        // cannot write: no stand-in needed, the program cannot create it.
        Err(Errno(libc::EEXIST | libc::EACCES | libc::EROFS | libc::EPERM)) => return Ok(Some(held)),
        Err(e) => {
            release(sys, held);
            return Err(err("create", e));
        }
    }
    let id = sys.openat2(pfd, name, libc::O_PATH | libc::O_DIRECTORY, BENEATH).and_then(|fd| {
        let id = sys.stamp(fd);
        let _ = sys.close(fd);
        id
    });
    let recorded = id.and_then(|(dev, ino, ctime)| {
        sys.truncate(lock)?;
        sys.write_fd(lock, format!("created {dev} {ino} {ctime}\n").as_bytes())
    });
    if let Err(e) = recorded {
        let _ = sys.unlinkat(pfd, name, libc::AT_REMOVEDIR);
        release(sys, held);
        return Err(err("record", e));
    }
    Ok(Some(held))
}

/// The stand-in's parent, pinned: the base opened without following a
/// symlink anywhere in its path (a base path holding a symlink of the
/// user's own higher up is followed there, never in its last component: a
/// project directory swapped for a symlink gets no stand-in), then the
/// parent below it with
/// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS. None when it is not there or is a
/// symlink now: no stand-in then.
fn pin_parent(sys: &dyn Sys, o: &PlaceholderOp) -> Result<Option<Fd>, Errno> {
    let (parent, _) = split(&o.target);
    let base = o.base.as_deref().unwrap_or(parent);
    let flags = libc::O_PATH | libc::O_DIRECTORY;
    let bfd = match sys.openat2(libc::AT_FDCWD, base, flags, libc::RESOLVE_NO_SYMLINKS) {
        Err(Errno(libc::ELOOP)) => sys.open(base, flags | libc::O_NOFOLLOW),
        r => r,
    };
    let bfd = match bfd {
        Ok(fd) => fd,
        Err(Errno(libc::ENOENT | libc::ENOTDIR | libc::EACCES | libc::ELOOP)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let below = parent.strip_prefix(base).unwrap_or("").trim_start_matches('/');
    if below.is_empty() {
        return Ok(Some(bfd));
    }
    let r = sys.openat2(bfd, below, flags, BENEATH);
    let _ = sys.close(bfd);
    match r {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno(libc::ENOENT | libc::ENOTDIR | libc::ELOOP | libc::EXDEV | libc::EACCES)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// "created DEV INO CTIME" from a lock file.
fn record(bytes: &[u8]) -> Option<(u64, u64, i64)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut words = text.strip_prefix("created ")?.split_whitespace();
    Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?, words.next()?.parse().ok()?))
}

/// After the sandbox: the last user removes the stand-in a launcher created
/// (this one, or one killed before it could), if it is still that inode and
/// still empty; a path replaced or filled in meanwhile is kept.
pub fn release(sys: &dyn Sys, held: Held) {
    if sys.flock(held.lock, libc::LOCK_EX | libc::LOCK_NB).is_ok() {
        let rec = sys.read_fd(held.lock).ok().and_then(|b| record(&b));
        if let (Some(want), Some(pfd)) = (rec, held.parent) {
            let now = sys.openat2(pfd, &held.name, libc::O_PATH | libc::O_DIRECTORY, BENEATH).and_then(|fd| {
                let id = sys.stamp(fd);
                let _ = sys.close(fd);
                id
            });
            if now == Ok(want) {
                // ENOTEMPTY: filled in meanwhile, the user's now.
                let _ = sys.unlinkat(pfd, &held.name, libc::AT_REMOVEDIR);
            }
            // Gone, or no longer a stand-in: either way not ours any more.
            let _ = sys.truncate(held.lock);
        }
    }
    if let Some(pfd) = held.parent {
        let _ = sys.close(pfd);
    }
    let _ = sys.close(held.lock);
}

impl fmt::Display for PlaceholderOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PlaceholderType::Dir => write!(f, "{} kept read-only (an empty directory while it does not exist)", self.target),
            PlaceholderType::File => write!(f, "{} kept read-only when it exists", self.target),
            PlaceholderType::Link => write!(f, "{} kept in place (the symlink itself cannot be removed or replaced)", self.target),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::sys::script::{Ret, Script};

    /// No /dev/null pinned (the branches that do not use it).
    const NO_NULL: Result<Fd, Errno> = Err(Errno(libc::ENOENT));

    const D: i32 = libc::O_PATH | libc::O_DIRECTORY;

    fn op(kind: PlaceholderType) -> PlaceholderOp {
        PlaceholderOp { target: "/p/.vscode".into(), kind, base: Some("/p".into()) }
    }
    fn sub_op() -> PlaceholderOp {
        PlaceholderOp { target: "/p/sub/.vscode".into(), kind: PlaceholderType::Dir, base: Some("/p".into()) }
    }
    fn lock() -> String {
        lock_path("/run/sbx", "/p/.vscode")
    }
    fn locked(path: &str) -> Vec<Call> {
        vec![call(format!("open_lock({:?})", lock_path("/run/sbx", path)), Ret::Fd(9)), call(format!("flock(9, {})", libc::LOCK_SH), Ret::Ok)]
    }
    fn base(ret: Ret) -> Call {
        call(format!("openat2({}, \"/p\", {D:#o}, NO_SYMLINKS)", libc::AT_FDCWD), ret)
    }
    fn beneath(dirfd: i32, path: &str, ret: Ret) -> Call {
        call(format!("openat2({dirfd}, {path:?}, {D:#o}, BENEATH|NO_SYMLINKS)"), ret)
    }
    fn rmdir_at(dirfd: i32, name: &str) -> Call {
        call(format!("unlinkat({dirfd}, {name:?}, {:#x})", libc::AT_REMOVEDIR), Ret::Ok)
    }
    fn try_release(ret: Ret) -> Call {
        call(format!("flock(9, {})", libc::LOCK_EX | libc::LOCK_NB), ret)
    }

    #[test]
    fn acquire_creates_a_missing_stand_in_through_pinned_fds_and_records_its_inode() {
        let s = Script::new(
            [
                locked("/p/.vscode"),
                vec![
                    base(Ret::Fd(10)),
                    mkdirat(10, ".vscode", 0o555, Ret::Ok),
                    beneath(10, ".vscode", Ret::Fd(11)),
                    call("stamp(11)", Ret::Stamp(0, 77, 9)),
                    close(11),
                    call("truncate(9)", Ret::Ok),
                    call("write_fd(9, \"created 0 77 9\\n\")", Ret::Ok),
                ],
            ]
            .concat(),
        );
        let held = acquire(&s, "/run/sbx", &op(PlaceholderType::Dir)).unwrap().unwrap();
        s.done();
        // the last user removes that very inode, through the pinned parent, and forgets it
        let s = Script::new(vec![
            try_release(Ret::Ok),
            call("read_fd(9)", Ret::Bytes(b"created 0 77 9\n".to_vec())),
            beneath(10, ".vscode", Ret::Fd(12)),
            call("stamp(12)", Ret::Stamp(0, 77, 9)),
            close(12),
            rmdir_at(10, ".vscode"),
            call("truncate(9)", Ret::Ok),
            close(10),
            close(9),
        ]);
        release(&s, held);
        s.done();
    }

    #[test]
    fn a_stand_in_in_a_subdirectory_is_reached_beneath_the_base() {
        let s = Script::new(
            [
                locked("/p/sub/.vscode"),
                vec![base(Ret::Fd(10)), beneath(10, "sub", Ret::Fd(11)), close(10), mkdirat(11, ".vscode", 0o555, Ret::Err(libc::EEXIST))],
            ]
            .concat(),
        );
        let held = acquire(&s, "/run/sbx", &sub_op()).unwrap().unwrap();
        s.done();
        // no record: nothing to remove
        let s = Script::new(vec![try_release(Ret::Ok), call("read_fd(9)", Ret::Bytes(vec![])), close(11), close(9)]);
        release(&s, held);
        s.done();
    }

    #[test]
    fn a_parent_swapped_for_a_symlink_gets_no_stand_in_and_nothing_outside_is_touched() {
        let s = Script::new([locked("/p/sub/.vscode"), vec![base(Ret::Fd(10)), beneath(10, "sub", Ret::Err(libc::ELOOP)), close(10)]].concat());
        let held = acquire(&s, "/run/sbx", &sub_op()).unwrap().unwrap();
        s.done();
        // a stale record stays for a run that can reach the path
        let s = Script::new(vec![try_release(Ret::Ok), call("read_fd(9)", Ret::Bytes(b"created 0 5 9\n".to_vec())), close(9)]);
        release(&s, held);
        s.done();
    }

    #[test]
    fn a_base_path_with_the_users_own_symlink_is_opened_as_given() {
        let s = Script::new(
            [
                locked("/p/.vscode"),
                vec![
                    base(Ret::Err(libc::ELOOP)),
                    call(format!("open(\"/p\", {:#o})", D | libc::O_NOFOLLOW), Ret::Fd(10)),
                    mkdirat(10, ".vscode", 0o555, Ret::Err(libc::EEXIST)),
                ],
            ]
            .concat(),
        );
        assert!(acquire(&s, "/run/sbx", &op(PlaceholderType::Dir)).unwrap().is_some());
        s.done();
    }

    #[test]
    fn a_base_swapped_for_a_symlink_gets_no_stand_in() {
        let s = Script::new(
            [locked("/p/.vscode"), vec![base(Ret::Err(libc::ELOOP)), call(format!("open(\"/p\", {:#o})", D | libc::O_NOFOLLOW), Ret::Err(libc::ENOTDIR))]]
                .concat(),
        );
        let held = acquire(&s, "/run/sbx", &op(PlaceholderType::Dir)).unwrap().unwrap();
        s.done();
        let s = Script::new(vec![try_release(Ret::Ok), call("read_fd(9)", Ret::Bytes(vec![])), close(9)]);
        release(&s, held);
        s.done();
    }

    #[test]
    fn a_directory_the_caller_cannot_write_needs_no_stand_in() {
        for errno in [libc::EACCES, libc::EROFS, libc::EPERM] {
            let s = Script::new([locked("/p/.vscode"), vec![base(Ret::Fd(10)), mkdirat(10, ".vscode", 0o555, Ret::Err(errno))]].concat());
            let held = acquire(&s, "/run/sbx", &op(PlaceholderType::Dir)).unwrap().unwrap();
            s.done();
            let s = Script::new(vec![try_release(Ret::Ok), call("read_fd(9)", Ret::Bytes(vec![])), close(10), close(9)]);
            release(&s, held);
            s.done();
        }
        // a project directory that cannot be opened at all: no stand-in either
        let s = Script::new([locked("/p/.vscode"), vec![base(Ret::Err(libc::EACCES))]].concat());
        assert!(acquire(&s, "/run/sbx", &op(PlaceholderType::Dir)).unwrap().is_some());
        s.done();
    }

    #[test]
    fn other_creation_failures_are_setup_errors_and_release_the_lock() {
        let s = Script::new(
            [
                locked("/p/.vscode"),
                vec![base(Ret::Fd(10)), mkdirat(10, ".vscode", 0o555, Ret::Err(libc::ENOSPC)), try_release(Ret::Err(libc::EWOULDBLOCK)), close(10), close(9)],
            ]
            .concat(),
        );
        let e = acquire(&s, "/run/sbx", &op(PlaceholderType::Dir)).unwrap_err();
        assert_eq!(e.code, Code::Setup);
        assert_eq!(e.message, "cannot create placeholder /p/.vscode: no space left on device");
        s.done();
        let s = Script::new(vec![call(format!("open_lock({:?})", lock()), Ret::Err(libc::EMFILE))]);
        assert_eq!(acquire(&s, "/run/sbx", &op(PlaceholderType::Dir)).unwrap_err().code, Code::Setup);
        s.done();
        let s = Script::new([locked("/p/.vscode"), vec![base(Ret::Err(libc::EIO)), try_release(Ret::Err(libc::EWOULDBLOCK)), close(9)]].concat());
        assert_eq!(acquire(&s, "/run/sbx", &op(PlaceholderType::Dir)).unwrap_err().code, Code::Setup);
        s.done();
    }

    #[test]
    fn a_stand_in_whose_inode_cannot_be_recorded_is_removed_at_once() {
        let s = Script::new(
            [
                locked("/p/.vscode"),
                vec![
                    base(Ret::Fd(10)),
                    mkdirat(10, ".vscode", 0o555, Ret::Ok),
                    beneath(10, ".vscode", Ret::Fd(11)),
                    call("stamp(11)", Ret::Stamp(0, 77, 9)),
                    close(11),
                    call("truncate(9)", Ret::Ok),
                    call("write_fd(9, \"created 0 77 9\\n\")", Ret::Err(libc::ENOSPC)),
                    rmdir_at(10, ".vscode"),
                    try_release(Ret::Err(libc::EWOULDBLOCK)),
                    close(10),
                    close(9),
                ],
            ]
            .concat(),
        );
        assert_eq!(acquire(&s, "/run/sbx", &op(PlaceholderType::Dir)).unwrap_err().message, "cannot record placeholder /p/.vscode: no space left on device");
        s.done();
    }

    #[test]
    fn files_and_links_get_no_stand_in_and_no_lock() {
        for kind in [PlaceholderType::File, PlaceholderType::Link] {
            let s = Script::new(Vec::<Call>::new());
            assert_eq!(acquire(&s, "/run/sbx", &op(kind)).unwrap(), None);
            s.done();
        }
    }

    #[test]
    fn another_sandbox_still_using_it_keeps_it() {
        let held = Held { lock: 9, parent: Some(10), name: ".vscode".into() };
        let s = Script::new(vec![try_release(Ret::Err(libc::EWOULDBLOCK)), close(10), close(9)]);
        release(&s, held);
        s.done();
    }

    #[test]
    fn only_the_inode_created_is_removed() {
        // replaced by another directory (the user's, or planted): kept, record forgotten
        let held = Held { lock: 9, parent: Some(10), name: ".vscode".into() };
        let s = Script::new(vec![
            try_release(Ret::Ok),
            call("read_fd(9)", Ret::Bytes(b"created 0 77 9\n".to_vec())),
            beneath(10, ".vscode", Ret::Fd(12)),
            call("stamp(12)", Ret::Stamp(0, 78, 9)),
            close(12),
            call("truncate(9)", Ret::Ok),
            close(10),
            close(9),
        ]);
        release(&s, held);
        s.done();
        // removed and made again by the user: the kernel may reuse the inode number, not the ctime
        let held = Held { lock: 9, parent: Some(10), name: ".vscode".into() };
        let s = Script::new(vec![
            try_release(Ret::Ok),
            call("read_fd(9)", Ret::Bytes(b"created 0 77 9\n".to_vec())),
            beneath(10, ".vscode", Ret::Fd(12)),
            call("stamp(12)", Ret::Stamp(0, 77, 10)),
            close(12),
            call("truncate(9)", Ret::Ok),
            close(10),
            close(9),
        ]);
        release(&s, held);
        s.done();
        // replaced by a symlink to somewhere outside: refused, never followed
        for errno in [libc::ELOOP, libc::ENOTDIR, libc::ENOENT] {
            let held = Held { lock: 9, parent: Some(10), name: ".vscode".into() };
            let s = Script::new(vec![
                try_release(Ret::Ok),
                call("read_fd(9)", Ret::Bytes(b"created 0 77 9\n".to_vec())),
                beneath(10, ".vscode", Ret::Err(errno)),
                call("truncate(9)", Ret::Ok),
                close(10),
                close(9),
            ]);
            release(&s, held);
            s.done();
        }
    }

    #[test]
    fn a_stale_record_of_a_killed_launcher_is_recovered_by_the_next_run() {
        // the killed launcher's stand-in is there: this run did not create it
        let s = Script::new([locked("/p/.vscode"), vec![base(Ret::Fd(10)), mkdirat(10, ".vscode", 0o555, Ret::Err(libc::EEXIST))]].concat());
        let held = acquire(&s, "/run/sbx", &op(PlaceholderType::Dir)).unwrap().unwrap();
        s.done();
        // but the record names it, so the last user removes it
        let s = Script::new(vec![
            try_release(Ret::Ok),
            call("read_fd(9)", Ret::Bytes(b"created 0 77 9\n".to_vec())),
            beneath(10, ".vscode", Ret::Fd(12)),
            call("stamp(12)", Ret::Stamp(0, 77, 9)),
            close(12),
            rmdir_at(10, ".vscode"),
            call("truncate(9)", Ret::Ok),
            close(10),
            close(9),
        ]);
        release(&s, held);
        s.done();
        assert_eq!(record(b"created 1 2 3\n"), Some((1, 2, 3)));
        assert_eq!(record(b"created 1 2\n"), None);
        assert_eq!(record(b"created\n"), None);
        assert_eq!(record(b""), None);
    }

    #[test]
    fn the_lock_directory_is_never_one_another_user_could_make() {
        // the runtime directory when it is ours and 0700
        let s = Script::new(vec![
            call("owner_mode(\"/run/user/1000\")", Ret::Owned(FileKind::Dir, 1000, 0o700)),
            call("private_dir(\"/run/user/1000/sandboxctl-locks\")", Ret::Ok),
        ]);
        assert_eq!(lock_dir(&s, Some("/run/user/1000"), 1000).unwrap(), "/run/user/1000/sandboxctl-locks");
        s.done();
        // someone else's, open to others, a symlink, or unset: the home from the password database
        let home = |first: Vec<Call>| {
            [
                first,
                vec![
                    call("passwd_home(1000)", Ret::Text("/home/u".into())),
                    call("mkdir(\"/home/u/.local\", 700)", Ret::Err(libc::EEXIST)),
                    call("mkdir(\"/home/u/.local/state\", 700)", Ret::Ok),
                    call("mkdir(\"/home/u/.local/state/sandboxctl\", 700)", Ret::Ok),
                    call("private_dir(\"/home/u/.local/state/sandboxctl/locks\")", Ret::Ok),
                ],
            ]
            .concat()
        };
        for (xdg, first) in [
            (Some("/tmp/x"), vec![call("owner_mode(\"/tmp/x\")", Ret::Owned(FileKind::Dir, 1001, 0o700))]),
            (Some("/tmp/x"), vec![call("owner_mode(\"/tmp/x\")", Ret::Owned(FileKind::Dir, 1000, 0o755))]),
            (Some("/tmp/x"), vec![call("owner_mode(\"/tmp/x\")", Ret::Owned(FileKind::Symlink, 1000, 0o700))]),
            (Some("/tmp/x"), vec![call("owner_mode(\"/tmp/x\")", Ret::Err(libc::ENOENT))]),
            (Some("relative"), vec![]),
            (None, vec![]),
        ] {
            let s = Script::new(home(first));
            assert_eq!(lock_dir(&s, xdg, 1000).unwrap(), "/home/u/.local/state/sandboxctl/locks");
            s.done();
        }
        // a lock directory planted or opened up is refused with a setup error
        let s = Script::new(vec![
            call("passwd_home(0)", Ret::Text("/root".into())),
            call("mkdir(\"/root/.local\", 700)", Ret::Err(libc::EEXIST)),
            call("mkdir(\"/root/.local/state\", 700)", Ret::Err(libc::EEXIST)),
            call("mkdir(\"/root/.local/state/sandboxctl\", 700)", Ret::Err(libc::EEXIST)),
            call("private_dir(\"/root/.local/state/sandboxctl/locks\")", Ret::Err(libc::EPERM)),
        ]);
        assert_eq!(lock_dir(&s, None, 0).unwrap_err().code, Code::Setup);
        s.done();
        let s = Script::new(vec![call("passwd_home(5)", Ret::Err(libc::ENOENT))]);
        assert_eq!(lock_dir(&s, None, 5).unwrap_err().code, Code::Setup);
        s.done();
        let s = Script::new(vec![call("passwd_home(5)", Ret::Text("/".into()))]);
        assert_eq!(lock_dir(&s, None, 5).unwrap_err().code, Code::Setup);
        s.done();
    }

    #[test]
    fn what_is_there_is_bound_read_only_onto_itself() {
        let s = Script::new(
            [
                vec![
                    open_any(3, "/p/.vscode", Ret::Fd(5)),
                    call("fstat(5)", Ret::Kind(FileKind::Dir)),
                    call("is_empty(\"/host/proc/self/fd/5\")", Ret::Int(0)),
                    call("mount(\"/host/proc/self/fd/5\", \"/host/proc/self/fd/5\", -, BIND|REC, -)", Ret::Ok),
                    close(5),
                ],
                setattr(3, "/p/.vscode", 6, true, "RDONLY|NOSUID|NODEV"),
            ]
            .concat(),
        );
        op(PlaceholderType::Dir).apply(NO_NULL, &mut RootFs::new(&s, 3)).unwrap();
        s.done();
    }

    #[test]
    fn an_empty_path_gets_a_stand_in_of_the_kind_it_is_now() {
        // planned as a directory, an empty file now (another run's, or the user's): /dev/null
        let s = Script::new(
            [
                vec![
                    open_any(3, "/p/.vscode", Ret::Fd(5)),
                    call("fstat(5)", Ret::Kind(FileKind::File)),
                    call("is_empty(\"/host/proc/self/fd/5\")", Ret::Int(1)),
                    call("mount(\"/host/proc/self/fd/9\", \"/host/proc/self/fd/5\", -, BIND, -)", Ret::Ok),
                    close(5),
                ],
                setattr(3, "/p/.vscode", 6, false, "RDONLY|NOSUID|NODEV"),
                vec![close(9)],
            ]
            .concat(),
        );
        op(PlaceholderType::Dir).apply(Ok(9), &mut RootFs::new(&s, 3)).unwrap();
        s.done();
        // the host's /dev/null could not be opened in early: that error, and no fd left
        let s = Script::new(vec![
            open_any(3, "/p/.vscode", Ret::Fd(5)),
            call("fstat(5)", Ret::Kind(FileKind::File)),
            call("is_empty(\"/host/proc/self/fd/5\")", Ret::Int(1)),
            close(5),
        ]);
        let e = op(PlaceholderType::Dir).apply(Err(Errno(10_031)), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (Code::Mount, "cannot protect /p/.vscode: error 10031"));
        s.done();
        let s = Script::new(vec![
            open_any(3, "/p/.vscode", Ret::Fd(5)),
            call("fstat(5)", Ret::Kind(FileKind::Dir)),
            call("is_empty(\"/host/proc/self/fd/5\")", Ret::Int(1)),
            call("mount(\"tmpfs\", \"/host/proc/self/fd/5\", \"tmpfs\", RDONLY|NOSUID|NODEV, \"mode=555,size=4096\")", Ret::Ok),
            close(5),
        ]);
        let o = op(PlaceholderType::File);
        o.apply(NO_NULL, &mut RootFs::new(&s, 3)).unwrap();
        s.done();
        assert_eq!(o.to_string(), "/p/.vscode kept read-only when it exists");
        assert_eq!(op(PlaceholderType::Dir).to_string(), "/p/.vscode kept read-only (an empty directory while it does not exist)");
    }

    #[test]
    fn nothing_there_is_nothing_to_protect_and_nothing_is_created() {
        let s = Script::new(vec![open_any(3, "/p/.vscode", Ret::Err(libc::ENOENT))]);
        op(PlaceholderType::Dir).apply(NO_NULL, &mut RootFs::new(&s, 3)).unwrap();
        s.done();
        let s = Script::new(vec![open_any(3, "/p/.vscode", Ret::Err(libc::EIO))]);
        assert_eq!(op(PlaceholderType::Dir).apply(NO_NULL, &mut RootFs::new(&s, 3)).unwrap_err().code, Code::Mount);
        s.done();
        let s = Script::new(vec![
            open_any(3, "/p/.vscode", Ret::Fd(5)),
            call("fstat(5)", Ret::Err(libc::EIO)),
            call("is_empty(\"/host/proc/self/fd/5\")", Ret::Int(1)),
            close(5),
        ]);
        assert_eq!(op(PlaceholderType::Dir).apply(NO_NULL, &mut RootFs::new(&s, 3)).unwrap_err().code, Code::Mount);
        s.done();
    }

    #[test]
    fn a_protected_symlink_itself_becomes_a_mount_point() {
        let s = Script::new(vec![
            open_dir(3, "/p", 5),
            call("readlinkat(5, \".vscode\")", Ret::Text("tools/vscode".into())),
            call("bind_link_onto_itself(5, \".vscode\")", Ret::Ok),
            close(5),
        ]);
        let o = op(PlaceholderType::Link);
        o.apply(NO_NULL, &mut RootFs::new(&s, 3)).unwrap();
        s.done();
        assert_eq!(o.to_string(), "/p/.vscode kept in place (the symlink itself cannot be removed or replaced)");
        // no longer a symlink: protected as what it is
        let s = Script::new(vec![
            open_dir(3, "/p", 5),
            call("readlinkat(5, \".vscode\")", Ret::Err(libc::EINVAL)),
            close(5),
            open_any(3, "/p/.vscode", Ret::Err(libc::ENOENT)),
        ]);
        o.apply(NO_NULL, &mut RootFs::new(&s, 3)).unwrap();
        s.done();
        let s = Script::new(vec![
            open_dir(3, "/p", 5),
            call("readlinkat(5, \".vscode\")", Ret::Text("x".into())),
            call("bind_link_onto_itself(5, \".vscode\")", Ret::Err(libc::EPERM)),
            close(5),
        ]);
        assert_eq!(o.apply(NO_NULL, &mut RootFs::new(&s, 3)).unwrap_err().code, Code::Mount);
        s.done();
    }
}
