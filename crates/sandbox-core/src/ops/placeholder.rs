//! placeholder: keep a path that does not exist yet read-only inside the
//! sandbox (the agent preset's `.vscode`, `.mcp.json`, `.git/hooks`…), and
//! leave nothing behind in the user's tree.
//!
//! A mount needs a mount point, so the stand-in must exist on the host while
//! the sandbox runs. The launcher (host side) owns its life: before clone it
//! takes a shared flock on a per-path lock file in a private runtime
//! directory and creates the empty stand-in when it is missing, recording so
//! in the lock file; pid 1 mounts an empty read-only directory or /dev/null
//! over it. When the sandbox has ended, the launcher that gets the exclusive
//! lock (no other sandbox uses the path) removes the stand-in if a sandbox
//! created it and it is still empty. Removing it while another sandbox runs
//! would detach that sandbox's mount and let its program create the path.

use super::*;
use crate::plan::{PlaceholderOp, PlaceholderType};
use crate::sys::{ATTR_NODEV, ATTR_NOSUID, ATTR_RDONLY};

const CREATED: &[u8] = b"created\n";

/// In pid 1, inside the new root: what the user has there (a non-empty
/// directory or file) is bound read-only onto itself; an empty or new path
/// gets the empty read-only stand-in. The preset emits this op whether the
/// path exists or not, so every sandbox using the path holds its lock.
pub fn apply(o: &PlaceholderOp, sys: &dyn Sys, st: &mut State) -> Result<(), SetupError> {
    let what = || format!("protect {}", o.target);
    if let Ok(fd) = sys.open_in_root(st.root, &o.target, 0) {
        let kept = matches!(sys.is_empty(&fd_path(fd)), Ok(false));
        if kept {
            let path = fd_path(fd);
            let r = sys.mount(Some(&path), &path, None, (libc::MS_BIND | libc::MS_REC) as MsFlags, None);
            let _ = sys.close(fd);
            r.map_err(|e| fail(st, Code::Mount, what(), e))?;
            return set_attrs(sys, st, &o.target, true, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV).map_err(|e| fail(st, Code::Mount, what(), e));
        }
        let _ = sys.close(fd);
    }
    match o.kind {
        PlaceholderType::Dir => {
            let fd = mkdir_all(sys, st.root, &o.target, 0o555).map_err(|e| fail(st, Code::Mount, what(), e))?;
            let flags = (libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV) as MsFlags;
            mount_on(sys, st, &o.target, fd, Some("tmpfs"), Some("tmpfs"), flags, Some("mode=555,size=4096"))
                .map_err(|e| fail(st, Code::Mount, what(), e))
        }
        PlaceholderType::File => {
            let fd = ensure_target(sys, st.root, &o.target, FileKind::File, 0o444).map_err(|e| fail(st, Code::Mount, what(), e))?;
            let null = format!("{HOST}/dev/null");
            mount_on(sys, st, &o.target, fd, Some(&null), None, libc::MS_BIND as MsFlags, None).map_err(|e| fail(st, Code::Mount, what(), e))?;
            set_attrs(sys, st, &o.target, false, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV).map_err(|e| fail(st, Code::Mount, what(), e))
        }
    }
}

/// A stand-in the launcher holds for the sandbox's lifetime.
#[derive(Debug, PartialEq, Eq)]
pub struct Held {
    lock: Fd,
    path: String,
    kind: PlaceholderType,
}

/// The lock file for `path`: FNV-1a of the path, in the runtime directory.
pub fn lock_path(dir: &str, path: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in path.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{dir}/{h:016x}")
}

/// Before clone: lock, and create the stand-in when it is missing.
pub fn acquire(sys: &dyn Sys, dir: &str, o: &PlaceholderOp) -> Result<Held, SetupError> {
    let err = |what: &str, e| SetupError::sys(Code::Setup, format_args!("{what} placeholder {}", o.target), e);
    let lock = sys.open_lock(&lock_path(dir, &o.target)).map_err(|e| err("lock", e))?;
    if let Err(e) = sys.flock(lock, libc::LOCK_SH) {
        let _ = sys.close(lock);
        return Err(err("lock", e));
    }
    let made = match sys.lstat(&o.target) {
        Ok(_) => Ok(false),
        Err(Errno(libc::ENOENT)) => match o.kind {
            PlaceholderType::Dir => sys.mkdir(&o.target, 0o555),
            PlaceholderType::File => sys.create_file(&o.target, b"", 0o444),
        }
        .map(|()| true)
        .or_else(|e| if e.0 == libc::EEXIST { Ok(false) } else { Err(e) }),
        Err(e) => Err(e),
    };
    match made {
        Ok(created) => {
            if created {
                let _ = sys.write_fd(lock, CREATED);
            }
            Ok(Held { lock, path: o.target.clone(), kind: o.kind })
        }
        Err(e) => {
            let _ = sys.close(lock);
            Err(err("create", e))
        }
    }
}

/// After the sandbox: the last user removes a stand-in a sandbox created, if
/// it is still empty; a path the user filled in meanwhile is theirs, kept.
pub fn release(sys: &dyn Sys, held: Held) {
    if sys.flock(held.lock, libc::LOCK_EX | libc::LOCK_NB).is_ok() {
        let ours = sys.read_fd(held.lock).map(|m| m.starts_with(CREATED)).unwrap_or(false);
        if ours {
            let kind_matches = match (held.kind, sys.lstat(&held.path)) {
                (PlaceholderType::Dir, Ok(FileKind::Dir)) | (PlaceholderType::File, Ok(FileKind::File)) => true,
                _ => false,
            };
            if kind_matches && matches!(sys.is_empty(&held.path), Ok(true)) {
                let _ = match held.kind {
                    PlaceholderType::Dir => sys.rmdir(&held.path),
                    PlaceholderType::File => sys.unlink(&held.path),
                };
            }
            // Gone, or no longer a stand-in: either way not ours any more.
            let _ = sys.truncate(held.lock);
        }
    }
    let _ = sys.close(held.lock);
}

impl fmt::Display for PlaceholderOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            PlaceholderType::Dir => "directory",
            PlaceholderType::File => "file",
        };
        write!(f, "{} kept read-only (an empty {what} while it does not exist)", self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::sys::script::{Ret, Script};

    fn op(kind: PlaceholderType) -> PlaceholderOp {
        PlaceholderOp { target: "/p/.vscode".into(), kind }
    }

    fn lock() -> String {
        lock_path("/run/sbx", "/p/.vscode")
    }

    #[test]
    fn acquire_creates_a_missing_stand_in_and_records_it() {
        let s = Script::new(vec![
            call(format!("open_lock({:?})", lock()), Ret::Fd(9)),
            call(format!("flock(9, {})", libc::LOCK_SH), Ret::Ok),
            call("lstat(\"/p/.vscode\")", Ret::Err(libc::ENOENT)),
            call("mkdir(\"/p/.vscode\", 555)", Ret::Ok),
            call("write_fd(9, \"created\\n\")", Ret::Ok),
        ]);
        let held = acquire(&s, "/run/sbx", &op(PlaceholderType::Dir)).unwrap();
        s.done();
        // the last user removes it while empty, and forgets it
        let s = Script::new(vec![
            call(format!("flock(9, {})", libc::LOCK_EX | libc::LOCK_NB), Ret::Ok),
            call("read_fd(9)", Ret::Bytes(b"created\n".to_vec())),
            call("lstat(\"/p/.vscode\")", Ret::Kind(FileKind::Dir)),
            call("is_empty(\"/p/.vscode\")", Ret::Int(1)),
            call("rmdir(\"/p/.vscode\")", Ret::Ok),
            call("truncate(9)", Ret::Ok),
            close(9),
        ]);
        release(&s, held);
        s.done();
    }

    #[test]
    fn an_existing_path_is_not_ours_and_a_filled_one_is_kept() {
        let s = Script::new(vec![
            call(format!("open_lock({:?})", lock()), Ret::Fd(9)),
            call(format!("flock(9, {})", libc::LOCK_SH), Ret::Ok),
            call("lstat(\"/p/.vscode\")", Ret::Kind(FileKind::File)),
        ]);
        let held = acquire(&s, "/run/sbx", &op(PlaceholderType::File)).unwrap();
        s.done();
        let s = Script::new(vec![
            call(format!("flock(9, {})", libc::LOCK_EX | libc::LOCK_NB), Ret::Ok),
            call("read_fd(9)", Ret::Bytes(b"created\n".to_vec())),
            call("lstat(\"/p/.vscode\")", Ret::Kind(FileKind::File)),
            call("is_empty(\"/p/.vscode\")", Ret::Int(0)),
            call("truncate(9)", Ret::Ok),
            close(9),
        ]);
        release(&s, held);
        s.done();
    }

    #[test]
    fn another_sandbox_still_using_it_keeps_it() {
        let held = Held { lock: 9, path: "/p/.vscode".into(), kind: PlaceholderType::Dir };
        let s = Script::new(vec![call(format!("flock(9, {})", libc::LOCK_EX | libc::LOCK_NB), Ret::Err(libc::EWOULDBLOCK)), close(9)]);
        release(&s, held);
        s.done();
    }

    #[test]
    fn acquire_failure_is_a_setup_error() {
        let s = Script::new(vec![
            call(format!("open_lock({:?})", lock()), Ret::Fd(9)),
            call(format!("flock(9, {})", libc::LOCK_SH), Ret::Ok),
            call("lstat(\"/p/.vscode\")", Ret::Err(libc::ENOENT)),
            call("create_file(\"/p/.vscode\", \"\", 444)", Ret::Err(libc::EACCES)),
            close(9),
        ]);
        let e = acquire(&s, "/run/sbx", &op(PlaceholderType::File)).unwrap_err();
        assert_eq!(e.message, "cannot create placeholder /p/.vscode: permission denied");
        s.done();
    }

    #[test]
    fn a_planted_symlink_is_not_removed_as_a_stand_in() {
        let held = Held { lock: 9, path: "/p/.vscode".into(), kind: PlaceholderType::Dir };
        let s = Script::new(vec![
            call(format!("flock(9, {})", libc::LOCK_EX | libc::LOCK_NB), Ret::Ok),
            call("read_fd(9)", Ret::Bytes(b"created\n".to_vec())),
            call("lstat(\"/p/.vscode\")", Ret::Kind(FileKind::Symlink)),
            call("truncate(9)", Ret::Ok),
            close(9),
        ]);
        release(&s, held);
        s.done();
    }

    #[test]
    fn what_the_user_has_there_is_bound_read_only_onto_itself() {
        let s = Script::new(
            [
                vec![
                    open_any(3, "/p/.vscode", Ret::Fd(5)),
                    call("is_empty(\"/host/proc/self/fd/5\")", Ret::Int(0)),
                    call("mount(\"/host/proc/self/fd/5\", \"/host/proc/self/fd/5\", -, BIND|REC, -)", Ret::Ok),
                    close(5),
                ],
                setattr(3, "/p/.vscode", 6, true, "RDONLY|NOSUID|NODEV"),
            ]
            .concat(),
        );
        apply(&op(PlaceholderType::Dir), &s, &mut State::test(3, 0)).unwrap();
        s.done();
    }

    #[test]
    fn in_the_sandbox_an_empty_read_only_stand_in() {
        let s = Script::new(
            [
                vec![
                    open_any(3, "/p/f", Ret::Fd(4)),
                    call("is_empty(\"/host/proc/self/fd/4\")", Ret::Int(1)),
                    close(4),
                    open_any(3, "/p/f", Ret::Fd(5)),
                    call("mount(\"/host/dev/null\", \"/host/proc/self/fd/5\", -, BIND, -)", Ret::Ok),
                    close(5),
                ],
                setattr(3, "/p/f", 6, false, "RDONLY|NOSUID|NODEV"),
            ]
            .concat(),
        );
        apply(&PlaceholderOp { target: "/p/f".into(), kind: PlaceholderType::File }, &s, &mut State::test(3, 0)).unwrap();
        s.done();
        let s = Script::new(vec![
            open_any(3, "/p/d", Ret::Err(libc::ENOENT)),
            open_dir(3, "/p/d", 5),
            call("mount(\"tmpfs\", \"/host/proc/self/fd/5\", \"tmpfs\", RDONLY|NOSUID|NODEV, \"mode=555,size=4096\")", Ret::Ok),
            close(5),
        ]);
        let o = PlaceholderOp { target: "/p/d".into(), kind: PlaceholderType::Dir };
        apply(&o, &s, &mut State::test(3, 0)).unwrap();
        s.done();
        assert_eq!(o.to_string(), "/p/d kept read-only (an empty directory while it does not exist)");
    }
}
