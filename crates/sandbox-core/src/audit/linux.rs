//! The real [`AuditFs`]: every path resolved from a root fd pinned before
//! the run with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so a
//! symlink the sandbox planted anywhere on the way is refused (ELOOP), not
//! followed, and nothing outside the root is reached through `..`.

use super::{AuditFs, Listing, Meta, Root};
use crate::sys::{Errno, FileKind, SysResult};
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub struct LinuxAuditFs;

/// Entries copied at most when a move crosses devices.
const COPY_ENTRIES: usize = 100_000;

fn cstr(s: &str) -> SysResult<CString> {
    CString::new(s).map_err(|_| Errno(libc::EINVAL))
}

fn check(rc: i64) -> SysResult<i64> {
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(rc)
    }
}

fn owned(fd: i64) -> OwnedFd {
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

/// openat2 beneath `dirfd`, refusing every symlink (a trailing one is
/// returned as itself with O_PATH|O_NOFOLLOW).
fn beneath(dirfd: RawFd, rel: &str, flags: i32) -> SysResult<OwnedFd> {
    let p = cstr(if rel.is_empty() { "." } else { rel })?;
    // SAFETY: open_how is plain data; zeroed then filled.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    loop {
        // SAFETY: valid pointers for the duration of the call.
        let rc = unsafe { libc::syscall(libc::SYS_openat2, dirfd, p.as_ptr(), &how as *const libc::open_how, std::mem::size_of::<libc::open_how>()) };
        match check(rc) {
            Err(Errno(libc::EAGAIN)) | Err(Errno(libc::EINTR)) => continue,
            r => return r.map(owned),
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

fn fstatat(fd: RawFd, name: &str) -> SysResult<libc::stat> {
    let p = cstr(name)?;
    // SAFETY: zeroed stat buffer, valid C string.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        let flags = libc::AT_SYMLINK_NOFOLLOW | if name.is_empty() { libc::AT_EMPTY_PATH } else { 0 };
        check(libc::fstatat(fd, p.as_ptr(), &mut st, flags) as i64)?;
        Ok(st)
    }
}

fn meta_of(st: &libc::stat) -> Meta {
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
    let raw = fd.as_raw_fd();
    // SAFETY: fdopendir takes ownership of the fd on success.
    let dir = unsafe { libc::fdopendir(raw) };
    if dir.is_null() {
        return Err(Errno::last());
    }
    std::mem::forget(fd);
    let mut out = Vec::new();
    loop {
        // SAFETY: dir is a valid DIR*; readdir's entry lives until the next call.
        let ent = unsafe { libc::readdir(dir) };
        if ent.is_null() {
            break;
        }
        // SAFETY: d_name is NUL-terminated.
        let (name, dtype) = unsafe { (CStr::from_ptr((*ent).d_name.as_ptr()).to_string_lossy().into_owned(), (*ent).d_type) };
        if name == "." || name == ".." {
            continue;
        }
        let kind = match dtype {
            libc::DT_DIR => FileKind::Dir,
            libc::DT_REG => FileKind::File,
            libc::DT_LNK => FileKind::Symlink,
            libc::DT_UNKNOWN => {
                // SAFETY: dirfd of a valid DIR*.
                let dfd = unsafe { libc::dirfd(dir) };
                fstatat(dfd, &name).map(|st| kind_of(st.st_mode)).unwrap_or(FileKind::Other)
            }
            _ => FileKind::Other,
        };
        out.push((name, kind));
    }
    // SAFETY: dir is valid and closed once.
    unsafe { libc::closedir(dir) };
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Open (creating 0700 when missing) each component of `abs` without
/// following a symlink.
fn mkdir_p(abs: &str) -> SysResult<OwnedFd> {
    let mut fd = owned(check(unsafe { libc::open(c"/".as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) } as i64)?);
    for comp in abs.split('/').filter(|c| !c.is_empty()) {
        let c = cstr(comp)?;
        // SAFETY: valid fd and C string.
        let rc = unsafe { libc::mkdirat(fd.as_raw_fd(), c.as_ptr(), 0o700) };
        if rc < 0 && Errno::last().0 != libc::EEXIST {
            return Err(Errno::last());
        }
        // SAFETY: valid fd and C string.
        let next = unsafe { libc::openat(fd.as_raw_fd(), c.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC) };
        fd = owned(check(next as i64)?);
    }
    Ok(fd)
}

fn copy_tree(src: RawFd, name: &str, dst: RawFd, dname: &str, budget: &mut usize) -> SysResult<()> {
    if *budget == 0 {
        return Err(Errno(libc::EFBIG));
    }
    *budget -= 1;
    let st = fstatat(src, name)?;
    let (n, d) = (cstr(name)?, cstr(dname)?);
    match kind_of(st.st_mode) {
        FileKind::Dir => {
            // SAFETY: valid fds and C strings.
            check(unsafe { libc::mkdirat(dst, d.as_ptr(), 0o700) } as i64)?;
            let from = owned(check(unsafe { libc::openat(src, n.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC) } as i64)?);
            let to = owned(check(unsafe { libc::openat(dst, d.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC) } as i64)?);
            let dup = owned(check(unsafe { libc::fcntl(from.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) } as i64)?);
            for (e, _) in entries(dup)? {
                copy_tree(from.as_raw_fd(), &e, to.as_raw_fd(), &e, budget)?;
            }
            Ok(())
        }
        FileKind::File => {
            // SAFETY: valid fds and C strings.
            let from = owned(check(unsafe { libc::openat(src, n.as_ptr(), libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC) } as i64)?);
            let to =
                owned(check(
                    unsafe { libc::openat(dst, d.as_ptr(), libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0o600) } as i64,
                )?);
            let mut buf = vec![0u8; 1 << 16];
            loop {
                // SAFETY: buf is valid for its length.
                let n = check(unsafe { libc::read(from.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } as i64)? as usize;
                if n == 0 {
                    return Ok(());
                }
                write_all(to.as_raw_fd(), &buf[..n])?;
            }
        }
        FileKind::Symlink => {
            let target = readlinkat(src, name)?;
            let t = cstr(&target)?;
            // SAFETY: valid fd and C strings.
            check(unsafe { libc::symlinkat(t.as_ptr(), dst, d.as_ptr()) } as i64).map(drop)
        }
        // Fifos, sockets, devices: nothing a tool runs; not copied.
        FileKind::Other => Ok(()),
    }
}

fn remove_tree(parent: RawFd, name: &str) -> SysResult<()> {
    let n = cstr(name)?;
    if kind_of(fstatat(parent, name)?.st_mode) == FileKind::Dir {
        // SAFETY: valid fd and C string.
        let dir = owned(check(unsafe { libc::openat(parent, n.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC) } as i64)?);
        let dup = owned(check(unsafe { libc::fcntl(dir.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) } as i64)?);
        for (e, _) in entries(dup)? {
            remove_tree(dir.as_raw_fd(), &e)?;
        }
        // SAFETY: valid fd and C string.
        check(unsafe { libc::unlinkat(parent, n.as_ptr(), libc::AT_REMOVEDIR) } as i64).map(drop)
    } else {
        // SAFETY: valid fd and C string.
        check(unsafe { libc::unlinkat(parent, n.as_ptr(), 0) } as i64).map(drop)
    }
}

fn readlinkat(fd: RawFd, name: &str) -> SysResult<String> {
    let p = cstr(name)?;
    let mut buf = vec![0u8; 4097];
    // SAFETY: buf is valid for its length.
    let n = check(unsafe { libc::readlinkat(fd, p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) } as i64)? as usize;
    buf.truncate(n);
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn write_all(fd: RawFd, mut data: &[u8]) -> SysResult<()> {
    while !data.is_empty() {
        // SAFETY: data is valid for its length.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 {
            if Errno::last().0 == libc::EINTR {
                continue;
            }
            return Err(Errno::last());
        }
        data = &data[n as usize..];
    }
    Ok(())
}

impl AuditFs for LinuxAuditFs {
    fn pin(&self, path: &str) -> SysResult<Root> {
        let p = cstr(path)?;
        // The root is named by the caller before the run: its own path may
        // hold symlinks (a /home link); nothing below it is followed.
        // SAFETY: valid C string.
        let fd = check(unsafe { libc::open(p.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) } as i64)?;
        Ok(fd as Root)
    }

    fn list(&self, root: Root, rel: &str) -> SysResult<Listing> {
        let fd = beneath(root, rel, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW)?;
        let dev = fstatat(fd.as_raw_fd(), "")?.st_dev;
        Ok(Listing { dev, entries: entries(fd)? })
    }

    fn lstat(&self, root: Root, rel: &str) -> SysResult<Meta> {
        let fd = beneath(root, rel, libc::O_PATH | libc::O_NOFOLLOW)?;
        Ok(meta_of(&fstatat(fd.as_raw_fd(), "")?))
    }

    fn read(&self, root: Root, rel: &str, limit: usize) -> SysResult<Vec<u8>> {
        let fd = beneath(root, rel, libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK)?;
        if kind_of(fstatat(fd.as_raw_fd(), "")?.st_mode) != FileKind::File {
            return Err(Errno(libc::EINVAL));
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        while out.len() < limit {
            let want = buf.len().min(limit - out.len());
            // SAFETY: buf is valid for `want` bytes.
            let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), want) };
            if n < 0 {
                if Errno::last().0 == libc::EINTR {
                    continue;
                }
                return Err(Errno::last());
            }
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n as usize]);
        }
        Ok(out)
    }

    fn readlink(&self, root: Root, rel: &str) -> SysResult<String> {
        let fd = beneath(root, rel, libc::O_PATH | libc::O_NOFOLLOW)?;
        readlinkat(fd.as_raw_fd(), "")
    }

    fn quarantine(&self, root: Root, rel: &str, qdir: &str, dest: &str) -> SysResult<()> {
        let (parent, name) = split(rel);
        if name.is_empty() || !dest.starts_with(qdir) {
            return Err(Errno(libc::EINVAL));
        }
        let src = beneath(root, parent, libc::O_PATH | libc::O_DIRECTORY)?;
        // The run's directory: 0700, under a base only we write to.
        mkdir_p(qdir)?;
        let (dparent, dname) = dest.rsplit_once('/').ok_or(Errno(libc::EINVAL))?;
        let dst = mkdir_p(dparent)?;
        let (n, d) = (cstr(name)?, cstr(dname)?);
        // SAFETY: valid fds and C strings.
        let rc = unsafe { libc::renameat2(src.as_raw_fd(), n.as_ptr(), dst.as_raw_fd(), d.as_ptr(), libc::RENAME_NOREPLACE) };
        if rc == 0 {
            return Ok(());
        }
        let e = Errno::last();
        if e.0 != libc::EXDEV {
            return Err(e);
        }
        // Another filesystem: copy (bounded), then remove the original.
        copy_tree(src.as_raw_fd(), name, dst.as_raw_fd(), dname, &mut COPY_ENTRIES.clone())?;
        remove_tree(src.as_raw_fd(), name)
    }

    fn put_file(&self, root: Root, rel: &str, data: &[u8], mode: u32) -> SysResult<()> {
        let (parent, name) = split(rel);
        let dir = beneath(root, parent, libc::O_PATH | libc::O_DIRECTORY)?;
        let n = cstr(name)?;
        // Never a set-uid or set-gid bit, whatever the snapshot said.
        let mode = mode & 0o1777;
        // SAFETY: valid fd and C string.
        let fd = owned(check(unsafe {
            libc::openat(dir.as_raw_fd(), n.as_ptr(), libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC, mode)
        } as i64)?);
        write_all(fd.as_raw_fd(), data)?;
        // The umask narrowed the create mode; the snapshot's mode is the truth.
        // SAFETY: valid fd.
        check(unsafe { libc::fchmod(fd.as_raw_fd(), mode) } as i64).map(drop)
    }

    fn put_symlink(&self, root: Root, rel: &str, target: &str) -> SysResult<()> {
        let (parent, name) = split(rel);
        let dir = beneath(root, parent, libc::O_PATH | libc::O_DIRECTORY)?;
        let (n, t) = (cstr(name)?, cstr(target)?);
        // SAFETY: valid fd and C strings.
        check(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), n.as_ptr()) } as i64).map(drop)
    }

    fn real_home(&self) -> Option<String> {
        let mut buf = vec![0u8; 16384];
        // SAFETY: zeroed passwd, buffer valid for its length.
        let home = unsafe {
            let mut pw: libc::passwd = std::mem::zeroed();
            let mut res: *mut libc::passwd = std::ptr::null_mut();
            if libc::getpwuid_r(libc::geteuid(), &mut pw, buf.as_mut_ptr().cast(), buf.len(), &mut res) != 0 || res.is_null() || pw.pw_dir.is_null() {
                return None;
            }
            CStr::from_ptr(pw.pw_dir).to_string_lossy().into_owned()
        };
        // Resolved once here, so every component below is opened O_NOFOLLOW.
        std::fs::canonicalize(&home).ok()?.to_str().map(String::from)
    }

    fn now_ns(&self) -> i64 {
        // SAFETY: zeroed timespec.
        let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointer.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
        ts.tv_sec * 1_000_000_000 + ts.tv_nsec
    }

    fn pid(&self) -> i32 {
        // SAFETY: no arguments.
        unsafe { libc::getpid() }
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
