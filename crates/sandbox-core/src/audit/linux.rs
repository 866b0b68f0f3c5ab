//! The real [`AuditFs`]: every path resolved from a root fd pinned before
//! the run with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so a
//! symlink the sandbox planted anywhere on the way is refused (ELOOP), not
//! followed, and nothing outside the root is reached through `..`.
//!
//! Every call goes through nix; a root is a raw fd number, lent to nix
//! with [`bfd`] as the seam's fds are.

use super::{AuditFs, Listing, Meta, Root};
use crate::sys::{bfd, Errno, FileKind, SysResult};
use nix::dir::{Dir, Type};
use nix::errno::Errno as NixErrno;
use nix::fcntl::{self, AtFlags, OFlag, OpenHow, RenameFlags, ResolveFlag};
use nix::sys::stat::{self, FileStat, Mode};
use nix::time::{clock_gettime, ClockId};
use nix::unistd::{self, UnlinkatFlags};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

pub struct LinuxAuditFs;

/// Entries copied at most when a move crosses devices.
const COPY_ENTRIES: usize = 100_000;

/// openat2 beneath `dir`, refusing every symlink (a trailing one is
/// returned as itself with O_PATH|O_NOFOLLOW).
fn beneath(dir: BorrowedFd, rel: &str, flags: OFlag) -> SysResult<OwnedFd> {
    let path = if rel.is_empty() { "." } else { rel };
    let resolve = ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_NO_MAGICLINKS;
    let how = OpenHow::new().flags(flags | OFlag::O_CLOEXEC).resolve(resolve);
    loop {
        match fcntl::openat2(dir, path, how) {
            // openat2 answers EAGAIN when a rename raced the lookup.
            Err(NixErrno::EAGAIN | NixErrno::EINTR) => continue,
            r => return r.map_err(Errno::from),
        }
    }
}

fn split(rel: &str) -> (&str, &str) {
    rel.rsplit_once('/').unwrap_or(("", rel))
}

fn kind_of(mode: u32) -> FileKind {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => FileKind::Dir,
        libc::S_IFREG => FileKind::File,
        libc::S_IFLNK => FileKind::Symlink,
        _ => FileKind::Other,
    }
}

/// lstat of `name` in `dir`, or of `dir` itself when `name` is empty.
fn fstatat(dir: impl AsFd, name: &str) -> SysResult<FileStat> {
    let flags = AtFlags::AT_SYMLINK_NOFOLLOW | if name.is_empty() { AtFlags::AT_EMPTY_PATH } else { AtFlags::empty() };
    stat::fstatat(dir, name, flags).map_err(Errno::from)
}

fn meta_of(st: &FileStat) -> Meta {
    Meta {
        kind: kind_of(st.st_mode),
        mode: st.st_mode & 0o7777,
        size: st.st_size as u64,
        dev: st.st_dev,
        ino: st.st_ino,
        ctime: st.st_ctime * 1_000_000_000 + st.st_ctime_nsec,
    }
}

/// Directory entries of an open directory (consumes the fd).
fn entries(fd: OwnedFd) -> SysResult<Vec<(String, FileKind)>> {
    // fdopendir keeps the number: the stream's fd for fstatat below.
    let raw = fd.as_raw_fd();
    let mut out = Vec::new();
    // Owning iteration: no rewinddir at the end; closedir when the loop ends.
    for ent in Dir::from_fd(fd)? {
        // A readdir error is not the end: a listing cut short could hide
        // what the run planted, so the walk hears of it.
        let ent = ent?;
        let name = ent.file_name().to_string_lossy().into_owned();
        if name == "." || name == ".." {
            continue;
        }
        let kind = match ent.file_type() {
            Some(Type::Directory) => FileKind::Dir,
            Some(Type::File) => FileKind::File,
            Some(Type::Symlink) => FileKind::Symlink,
            // DT_UNKNOWN: the filesystem does not say; ask it.
            None => bfd(raw).and_then(|dir| fstatat(dir, &name)).map_or(FileKind::Other, |st| kind_of(st.st_mode)),
            Some(_) => FileKind::Other,
        };
        out.push((name, kind));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// A second fd on `fd`'s directory for [`entries`], which consumes one:
/// fcntl(F_DUPFD_CLOEXEC) through std, whose result is owned (nix's fcntl
/// returns a bare number).
fn dup(fd: &OwnedFd) -> SysResult<OwnedFd> {
    fd.try_clone().map_err(|e| Errno::from_io(&e))
}

/// Open (creating 0700 when missing) each component of `abs` without
/// following a symlink.
fn mkdir_p(abs: &str) -> SysResult<OwnedFd> {
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let mut fd = fcntl::open("/", flags, Mode::empty())?;
    for comp in abs.split('/').filter(|c| !c.is_empty()) {
        match stat::mkdirat(&fd, comp, Mode::S_IRWXU) {
            Ok(()) | Err(NixErrno::EEXIST) => {}
            Err(e) => return Err(e.into()),
        }
        fd = fcntl::openat(&fd, comp, flags | OFlag::O_NOFOLLOW, Mode::empty())?;
    }
    Ok(fd)
}

fn copy_tree(src: BorrowedFd, name: &str, dst: BorrowedFd, dname: &str, budget: &mut usize) -> SysResult<()> {
    if *budget == 0 {
        return Err(Errno(libc::EFBIG));
    }
    *budget -= 1;
    let st = fstatat(src, name)?;
    match kind_of(st.st_mode) {
        FileKind::Dir => {
            stat::mkdirat(dst, dname, Mode::S_IRWXU)?;
            let from = fcntl::openat(src, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())?;
            let to = fcntl::openat(dst, dname, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())?;
            for (e, _) in entries(dup(&from)?)? {
                copy_tree(from.as_fd(), &e, to.as_fd(), &e, budget)?;
            }
            Ok(())
        }
        FileKind::File => {
            let from = fcntl::openat(src, name, OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC, Mode::empty())?;
            let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            let to = fcntl::openat(dst, dname, flags, Mode::S_IRUSR | Mode::S_IWUSR)?;
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = unistd::read(&from, &mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                write_all(&to, &buf[..n])?;
            }
        }
        FileKind::Symlink => {
            let target = readlinkat(src, name)?;
            unistd::symlinkat(target.as_str(), dst, dname).map_err(Errno::from)
        }
        // Fifos, sockets, devices: nothing a tool runs; not copied.
        FileKind::Other => Ok(()),
    }
}

fn remove_tree(parent: BorrowedFd, name: &str) -> SysResult<()> {
    if kind_of(fstatat(parent, name)?.st_mode) == FileKind::Dir {
        let dir = fcntl::openat(parent, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())?;
        for (e, _) in entries(dup(&dir)?)? {
            remove_tree(dir.as_fd(), &e)?;
        }
        unistd::unlinkat(parent, name, UnlinkatFlags::RemoveDir).map_err(Errno::from)
    } else {
        unistd::unlinkat(parent, name, UnlinkatFlags::NoRemoveDir).map_err(Errno::from)
    }
}

fn readlinkat(dir: impl AsFd, name: &str) -> SysResult<String> {
    Ok(String::from_utf8_lossy(fcntl::readlinkat(dir, name)?.as_bytes()).into_owned())
}

fn write_all(fd: impl AsFd, mut data: &[u8]) -> SysResult<()> {
    let fd = fd.as_fd();
    while !data.is_empty() {
        match unistd::write(fd, data) {
            Err(NixErrno::EINTR) => continue,
            r => data = &data[r?..],
        }
    }
    Ok(())
}

impl AuditFs for LinuxAuditFs {
    fn pin(&self, path: &str) -> SysResult<Root> {
        // The root is named by the caller before the run: its own path may
        // hold symlinks (a /home link); nothing below it is followed.
        let fd = fcntl::open(path, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
        Ok(fd.into_raw_fd())
    }

    fn list(&self, root: Root, rel: &str) -> SysResult<Listing> {
        let fd = beneath(bfd(root)?, rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW)?;
        let dev = fstatat(&fd, "")?.st_dev;
        Ok(Listing { dev, entries: entries(fd)? })
    }

    fn lstat(&self, root: Root, rel: &str) -> SysResult<Meta> {
        let fd = beneath(bfd(root)?, rel, OFlag::O_PATH | OFlag::O_NOFOLLOW)?;
        Ok(meta_of(&fstatat(&fd, "")?))
    }

    fn read(&self, root: Root, rel: &str, limit: usize) -> SysResult<Vec<u8>> {
        let fd = beneath(bfd(root)?, rel, OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK)?;
        if kind_of(fstatat(&fd, "")?.st_mode) != FileKind::File {
            return Err(Errno(libc::EINVAL));
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        while out.len() < limit {
            let want = buf.len().min(limit - out.len());
            let n = match unistd::read(&fd, &mut buf[..want]) {
                Err(NixErrno::EINTR) => continue,
                r => r?,
            };
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        Ok(out)
    }

    fn readlink(&self, root: Root, rel: &str) -> SysResult<String> {
        let fd = beneath(bfd(root)?, rel, OFlag::O_PATH | OFlag::O_NOFOLLOW)?;
        readlinkat(&fd, "")
    }

    fn quarantine(&self, root: Root, rel: &str, qdir: &str, dest: &str) -> SysResult<()> {
        let (parent, name) = split(rel);
        if name.is_empty() || !dest.starts_with(qdir) {
            return Err(Errno(libc::EINVAL));
        }
        let src = beneath(bfd(root)?, parent, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        // The run's directory: 0700, under a base only we write to.
        mkdir_p(qdir)?;
        let (dparent, dname) = dest.rsplit_once('/').ok_or(Errno(libc::EINVAL))?;
        let dst = mkdir_p(dparent)?;
        match fcntl::renameat2(&src, name, &dst, dname, RenameFlags::RENAME_NOREPLACE) {
            Err(NixErrno::EXDEV) => {
                // Another filesystem: copy (bounded), then remove the original.
                copy_tree(src.as_fd(), name, dst.as_fd(), dname, &mut COPY_ENTRIES.clone())?;
                remove_tree(src.as_fd(), name)
            }
            r => r.map_err(Errno::from),
        }
    }

    fn put_file(&self, root: Root, rel: &str, data: &[u8], mode: u32) -> SysResult<()> {
        let (parent, name) = split(rel);
        let dir = beneath(bfd(root)?, parent, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        // Never a set-uid or set-gid bit, whatever the snapshot said.
        let mode = Mode::from_bits_retain(mode & 0o1777);
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = fcntl::openat(&dir, name, flags, mode)?;
        write_all(&fd, data)?;
        // The umask narrowed the create mode; the snapshot's mode is the truth.
        stat::fchmod(&fd, mode).map_err(Errno::from)
    }

    fn put_symlink(&self, root: Root, rel: &str, target: &str) -> SysResult<()> {
        let (parent, name) = split(rel);
        let dir = beneath(bfd(root)?, parent, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        unistd::symlinkat(target, &dir, name).map_err(Errno::from)
    }

    fn real_home(&self) -> Option<String> {
        let home = unistd::User::from_uid(unistd::geteuid()).ok()??.dir;
        // Resolved once here, so every component below is opened O_NOFOLLOW.
        std::fs::canonicalize(home).ok()?.to_str().map(String::from)
    }

    fn now_ns(&self) -> i64 {
        clock_gettime(ClockId::CLOCK_REALTIME_COARSE).map_or(0, |t| t.tv_sec() * 1_000_000_000 + t.tv_nsec())
    }

    fn pid(&self) -> i32 {
        unistd::getpid().as_raw()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn tmp(base: &str, name: &str) -> String {
        let d = format!("{base}/sbx-audit-{name}-{}", std::process::id());
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_real_fs_never_follows_a_symlink() {
        let d = tmp("/tmp", "nofollow");
        fs::create_dir_all(format!("{d}/p/sub")).unwrap();
        fs::write(format!("{d}/p/sub/f"), "data").unwrap();
        fs::write(format!("{d}/outside"), "secret").unwrap();
        symlink(&d, format!("{d}/p/link")).unwrap();
        symlink("../outside", format!("{d}/p/file-link")).unwrap();
        let fs_ = LinuxAuditFs;
        let root = fs_.pin(&format!("{d}/p")).unwrap();
        let l = fs_.list(root, "").unwrap();
        assert_eq!(l.entries, [("file-link".into(), FileKind::Symlink), ("link".into(), FileKind::Symlink), ("sub".into(), FileKind::Dir)]);
        assert_eq!(fs_.read(root, "sub/f", 100).unwrap(), b"data");
        assert_eq!(fs_.read(root, "sub/f", 2).unwrap(), b"da");
        assert_eq!(fs_.lstat(root, "link").unwrap().kind, FileKind::Symlink);
        assert_eq!(fs_.readlink(root, "file-link").unwrap(), "../outside");
        assert_eq!(fs_.read(root, "file-link", 100), Err(Errno(libc::ELOOP)));
        // O_DIRECTORY on a symlink answers ENOTDIR before ELOOP: refused either way.
        assert_eq!(fs_.list(root, "link").map(drop), Err(Errno(libc::ENOTDIR)));
        assert_eq!(fs_.lstat(root, "link/outside").map(drop), Err(Errno(libc::ELOOP)));
        assert_eq!(fs_.lstat(root, "../outside").map(drop), Err(Errno(libc::EXDEV)));
        assert_eq!(fs_.put_file(root, "link/new", b"x", 0o644), Err(Errno(libc::ELOOP)));
        assert!(!std::path::Path::new(&format!("{d}/new")).exists());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn moves_and_restores_on_one_filesystem_and_across_two() {
        let fs_ = LinuxAuditFs;
        for qbase in ["/tmp", "/dev/shm"] {
            if !std::path::Path::new(qbase).is_dir() {
                continue;
            }
            let d = tmp("/tmp", "move");
            let q = format!("{}/q", tmp(qbase, "qdir"));
            fs::create_dir_all(format!("{d}/p/.git/hooks/deep")).unwrap();
            fs::write(format!("{d}/p/.git/hooks/pre-commit"), "evil").unwrap();
            fs::write(format!("{d}/p/.git/hooks/deep/x"), "x").unwrap();
            symlink("/etc/passwd", format!("{d}/p/.git/hooks/l")).unwrap();
            fs::write(format!("{d}/p/.mcp.json"), "{}").unwrap();
            let root = fs_.pin(&format!("{d}/p")).unwrap();
            let dest = format!("{q}/run{d}/p/.git/hooks");
            fs_.quarantine(root, ".git/hooks", &format!("{q}/run"), &dest).unwrap();
            assert!(!std::path::Path::new(&format!("{d}/p/.git/hooks")).exists());
            assert_eq!(fs::read_to_string(format!("{dest}/pre-commit")).unwrap(), "evil");
            assert_eq!(fs::read_to_string(format!("{dest}/deep/x")).unwrap(), "x");
            assert_eq!(fs::read_link(format!("{dest}/l")).unwrap().to_str(), Some("/etc/passwd"));
            assert_eq!(fs::metadata(format!("{q}/run")).unwrap().permissions().mode() & 0o777, 0o700);
            // The previous content back, with its mode but never set-uid.
            let dest2 = format!("{q}/run{d}/p/.mcp.json");
            fs_.quarantine(root, ".mcp.json", &format!("{q}/run"), &dest2).unwrap();
            fs_.put_file(root, ".mcp.json", b"old", 0o4751).unwrap();
            assert_eq!(fs::read_to_string(format!("{d}/p/.mcp.json")).unwrap(), "old");
            assert_eq!(fs::metadata(format!("{d}/p/.mcp.json")).unwrap().permissions().mode() & 0o7777, 0o751);
            assert_eq!(fs_.put_file(root, ".mcp.json", b"again", 0o644), Err(Errno(libc::EEXIST)));
            fs_.put_symlink(root, "l", "target").unwrap();
            assert_eq!(fs::read_link(format!("{d}/p/l")).unwrap().to_str(), Some("target"));
            // A quarantine path that already holds the name is not overwritten.
            fs::write(format!("{d}/p/again"), "1").unwrap();
            let dest3 = format!("{q}/run{d}/p/.mcp.json");
            assert_eq!(fs_.quarantine(root, "again", &format!("{q}/run"), &dest3), Err(Errno(libc::EEXIST)));
            assert_eq!(fs_.quarantine(root, "", &format!("{q}/run"), &dest3), Err(Errno(libc::EINVAL)));
            fs::remove_dir_all(&d).unwrap();
            fs::remove_dir_all(std::path::Path::new(&q).parent().unwrap()).unwrap();
        }
        assert!(fs_.real_home().is_some_and(|h| h.starts_with('/')));
        assert!(fs_.now_ns() > 1_600_000_000 * 1_000_000_000);
    }
}
