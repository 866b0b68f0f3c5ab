//! `cp`: docker cp's rules, streamed as tar through a pipe.
//!
//! In: the client tars the host source (no symlink followed below it; the
//! source itself only with a trailing `/`) into a pipe; a worker that pid 1
//! forks (after its privilege drop: the sandbox's uid owns what it makes)
//! extracts it below a directory inside. Out: a worker tars the path inside;
//! the client extracts on the host. Extraction never follows a symlink on
//! the way to an entry: on the host every parent is opened with openat2
//! `RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS` below the
//! destination's fd (`E_CP_UNSAFE` otherwise); inside, where the strict
//! filter answers openat2 with ENOSYS, component by component with
//! `O_NOFOLLOW|O_DIRECTORY` (inside, `/` already is the sandbox's root). A
//! final component is created `O_EXCL|O_NOFOLLOW` (or mkdirat, symlinkat,
//! linkat, mknodat); when something is already there it is unlinked and
//! made again, an existing directory merged into when a directory comes.
//! Each side reads and writes in [`STREAM_BUF`] pieces through a pipe that
//! wide: a 100 KiB file is one read and one write.

use crate::error::{Code, SetupError};
use nix::fcntl::{self, OFlag};
use nix::sys::stat::{self, Mode};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Component, Path};

/// How parents are resolved below the extraction directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolve {
    /// openat2 RESOLVE_BENEATH|NO_SYMLINKS|NO_MAGICLINKS (the host).
    Openat2,
    /// One component at a time, O_NOFOLLOW (inside the sandbox).
    Walk,
}

/// What a copied path is.
pub fn kind_of(md: &std::fs::Metadata) -> &'static str {
    let t = md.file_type();
    if t.is_dir() {
        "dir"
    } else if t.is_symlink() {
        "symlink"
    } else if t.is_file() {
        "file"
    } else {
        "other"
    }
}

/// The error for an errno met while copying `what`.
pub fn errno_error(e: nix::errno::Errno, what: &str) -> SetupError {
    use nix::errno::Errno as E;
    let code = match e {
        E::ENOENT => Code::NotFound,
        E::ENOTDIR => Code::NotDir,
        E::EISDIR => Code::IsDir,
        E::EEXIST => Code::Exists,
        E::ENOTEMPTY => Code::NotEmpty,
        E::EROFS => Code::ReadOnly,
        E::EACCES | E::EPERM => Code::Permission,
        E::ELOOP | E::EXDEV => Code::CpUnsafe,
        _ => Code::Setup,
    };
    let why = crate::sys::Errno(e as i32);
    SetupError::new(code, format!("cannot copy {what}: {why}"))
}

/// Tar `path` (lstat; a directory recursively, links as links) into `out`,
/// its entries named `name/...`, or with `contents` the directory's entries
/// themselves.
pub fn tar_path(path: &Path, name: &str, contents: bool, out: impl Write) -> Result<(), SetupError> {
    let mut b = Tar { b: tar::Builder::new(out), links: std::collections::HashMap::new(), buf: vec![0; STREAM_BUF] };
    b.b.follow_symlinks(false);
    let md = std::fs::symlink_metadata(path)
        .map_err(|e| errno_error(nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)), &path.display().to_string()))?;
    let io = |e: std::io::Error| errno_error(nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)), &path.display().to_string());
    if md.is_dir() && contents {
        let mut names: Vec<_> = std::fs::read_dir(path).map_err(io)?.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
        names.sort();
        for n in names {
            add(&mut b, &path.join(&n), Path::new(&n)).map_err(io)?;
        }
    } else {
        add(&mut b, path, Path::new(name)).map_err(io)?;
    }
    b.b.into_inner().map_err(io)?.flush().map_err(io)
}

/// The archive being written, and the first name of each file with more
/// than one link (the later ones become hard-link entries, as docker cp's).
struct Tar<W: Write> {
    b: tar::Builder<W>,
    links: std::collections::HashMap<(u64, u64), std::path::PathBuf>,
    /// One read buffer for every file: the builder copies in 8 KiB pieces,
    /// which are memcpys from here, not 8 KiB reads.
    buf: Vec<u8>,
}

/// `inner` read in whole-buffer reads, handed out in whatever pieces asked,
/// and exactly `left` bytes of it: the size the header already gave. A file
/// that grew since is cut there and one that shrank is padded with zeros (as
/// GNU tar does), so the stream stays a well-formed archive either way; and
/// no read is spent finding the end.
struct Refill<'a, R> {
    inner: R,
    buf: &'a mut [u8],
    pos: usize,
    len: usize,
    left: u64,
}

impl<R: Read> Read for Refill<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        if self.pos == self.len {
            let want = self.buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
            self.len = self.inner.read(&mut self.buf[..want])?;
            self.pos = 0;
            if self.len == 0 {
                let n = out.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
                out[..n].fill(0);
                self.left -= n as u64;
                return Ok(n);
            }
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        self.left -= n as u64;
        Ok(n)
    }
}

fn add<W: Write>(t: &mut Tar<W>, src: &Path, name: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let md = std::fs::symlink_metadata(src)?;
    let ft = md.file_type();
    if !md.is_dir() && md.nlink() > 1 {
        if let Some(first) = t.links.get(&(md.dev(), md.ino())) {
            let mut h = tar::Header::new_gnu();
            h.set_metadata(&md);
            h.set_entry_type(tar::EntryType::Link);
            h.set_size(0);
            let first = first.clone();
            return t.b.append_link(&mut h, name, first);
        }
        t.links.insert((md.dev(), md.ino()), name.to_path_buf());
    }
    let b = &mut t.b;
    if md.is_dir() {
        b.append_dir(name, src)?;
        let mut names: Vec<_> = std::fs::read_dir(src)?.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
        names.sort();
        for n in names {
            add(t, &src.join(&n), &name.join(&n))?;
        }
        Ok(())
    } else if md.file_type().is_symlink() {
        let mut h = tar::Header::new_gnu();
        h.set_metadata(&md);
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, name, std::fs::read_link(src)?)
    } else if md.is_file() {
        // O_NOFOLLOW: the file checked above is the file read.
        let f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(src)?;
        let mut h = tar::Header::new_gnu();
        h.set_metadata(&md);
        b.append_data(&mut h, name, Refill { inner: f, buf: &mut t.buf, pos: 0, len: 0, left: md.len() })
    } else if ft.is_fifo() || ft.is_char_device() || ft.is_block_device() {
        // As nodes, as docker cp's archive does; sockets are skipped (tar has no type for them).
        let mut h = tar::Header::new_gnu();
        h.set_metadata(&md);
        h.set_size(0);
        if !ft.is_fifo() {
            h.set_device_major(libc::major(md.rdev()))?;
            h.set_device_minor(libc::minor(md.rdev()))?;
        }
        b.append_data(&mut h, name, std::io::empty())
    } else {
        Ok(())
    }
}

use std::os::unix::fs::OpenOptionsExt;

/// The components of an entry's relative path: `E_CP_UNSAFE` for an
/// absolute path or `..`.
fn components(p: &Path) -> Result<Vec<String>, SetupError> {
    let mut out = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => return Err(SetupError::new(Code::CpUnsafe, format!("archive entry {} leaves the destination", p.display()))),
        }
    }
    Ok(out)
}

fn open_parent(root: &OwnedFd, parts: &[String], how: Resolve) -> Result<OwnedFd, SetupError> {
    let shown = parts.join("/");
    let unsafe_err = || SetupError::new(Code::CpUnsafe, format!("refusing to copy through {shown}: a symlink or another mount on the way"));
    if parts.is_empty() {
        return fcntl::openat(root.as_fd(), ".", OFlag::O_DIRECTORY | OFlag::O_CLOEXEC | OFlag::O_RDONLY, Mode::empty()).map_err(|e| errno_error(e, "."));
    }
    match how {
        Resolve::Openat2 => {
            use crate::sys::Sys;
            let flags = libc::O_DIRECTORY | libc::O_RDONLY;
            let resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
            let fd = crate::sys::LinuxSys.openat2(root.as_raw_fd(), &shown, flags, resolve).map_err(|e| match nix::errno::Errno::from_raw(e.0) {
                nix::errno::Errno::ELOOP | nix::errno::Errno::EXDEV | nix::errno::Errno::ENOTDIR => unsafe_err(),
                e => errno_error(e, &shown),
            })?;
            // SAFETY: a new fd we own.
            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
        }
        Resolve::Walk => {
            let mut cur =
                fcntl::openat(root.as_fd(), ".", OFlag::O_DIRECTORY | OFlag::O_CLOEXEC | OFlag::O_RDONLY, Mode::empty()).map_err(|e| errno_error(e, "."))?;
            for p in parts {
                cur = fcntl::openat(cur.as_fd(), p.as_str(), OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDONLY, Mode::empty())
                    .map_err(|e| match e {
                        nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR => unsafe_err(),
                        e => errno_error(e, &shown),
                    })?;
            }
            Ok(cur)
        }
    }
}

/// What an extraction did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub files: u64,
    pub bytes: u64,
}

/// The buffer of each side of a copy's stream, and the pipe's capacity:
/// a 100 KiB file is one read and one write, not thirteen of 8 KiB.
pub const STREAM_BUF: usize = 1 << 20;

/// Widen a copy's pipe to [`STREAM_BUF`] (the unprivileged ceiling,
/// `/proc/sys/fs/pipe-max-size`); a refusal leaves the default 64 KiB.
pub fn widen_pipe(fd: &OwnedFd) {
    let _ = fcntl::fcntl(fd.as_fd(), fcntl::FcntlArg::F_SETPIPE_SZ(STREAM_BUF as i32));
}

/// Make `last` in `dir` with `make`; when something is already there
/// (EEXIST), remove it (a directory only when empty) and make it again.
/// Trying first spares a stat per entry in the usual case, a fresh target.
fn replace<T>(dir: &OwnedFd, last: &str, make: impl Fn() -> nix::Result<T>) -> nix::Result<T> {
    match make() {
        Err(nix::errno::Errno::EEXIST) => {}
        r => return r,
    }
    let st = stat::fstatat(dir.as_fd(), last, fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)?;
    let flag = if st.st_mode & libc::S_IFMT == libc::S_IFDIR { nix::unistd::UnlinkatFlags::RemoveDir } else { nix::unistd::UnlinkatFlags::NoRemoveDir };
    nix::unistd::unlinkat(dir.as_fd(), last, flag)?;
    make()
}

/// Copy one entry's data into `f` in chunks of the whole buffer.
fn copy_data(entry: &mut impl Read, f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<u64> {
    let mut total = 0u64;
    loop {
        let mut n = 0;
        while n < buf.len() {
            match entry.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if n == 0 {
            return Ok(total);
        }
        f.write_all(&buf[..n])?;
        total += n as u64;
        if n < buf.len() {
            return Ok(total);
        }
    }
}

/// Extract the tar stream `input` below the directory `root`, entries
/// rebased by `rename` (the first component replaced, docker's rename of
/// the copied top), permission bits kept but set-id bits dropped, owned by
/// whoever extracts. The parent of the last entry stays open for the next
/// one with the same parents (a directory's files come together in a
/// tar): the fd was resolved by the same rules, and holding it is no
/// different from holding it for one entry.
pub fn extract(input: impl Read, root: &OwnedFd, rename: Option<&str>, how: Resolve) -> Result<Stats, SetupError> {
    let mut ar = tar::Archive::new(input);
    let mut stats = Stats::default();
    let mut buf = vec![0u8; STREAM_BUF];
    let mut cached: Option<(Vec<String>, OwnedFd)> = None;
    let io = |e: std::io::Error| errno_error(nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)), "the archive");
    for entry in ar.entries().map_err(io)? {
        let mut entry = entry.map_err(io)?;
        let path = entry.path().map_err(io)?.into_owned();
        let mut parts = components(&path)?;
        if let (Some(r), Some(first)) = (rename, parts.first_mut()) {
            *first = r.to_string();
        }
        let Some((last, parents)) = parts.split_last() else { continue };
        if cached.as_ref().is_none_or(|(k, _)| k.as_slice() != parents) {
            cached = Some((parents.to_vec(), open_parent(root, parents, how)?));
        }
        let dir = &cached.as_ref().expect("just set").1;
        let shown = parts.join("/");
        let mode = entry.header().mode().unwrap_or(0o644) & 0o1777;
        let kind = entry.header().entry_type();
        let name = last.as_str();
        match kind {
            tar::EntryType::Directory => match stat::mkdirat(dir.as_fd(), name, Mode::from_bits_truncate(mode | 0o700)) {
                Ok(()) => {}
                // An existing directory is merged into; anything else goes.
                Err(nix::errno::Errno::EEXIST) => {
                    let st = stat::fstatat(dir.as_fd(), name, fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).map_err(|e| errno_error(e, &shown))?;
                    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                        replace(dir, name, || stat::mkdirat(dir.as_fd(), name, Mode::from_bits_truncate(mode | 0o700))).map_err(|e| errno_error(e, &shown))?;
                    }
                }
                Err(e) => return Err(errno_error(e, &shown)),
            },
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
                let fd = replace(dir, name, || fcntl::openat(dir.as_fd(), name, flags, Mode::from_bits_truncate(mode))).map_err(|e| errno_error(e, &shown))?;
                let mut f = std::fs::File::from(fd);
                stats.bytes += copy_data(&mut entry, &mut f, &mut buf).map_err(io)?;
                stats.files += 1;
            }
            tar::EntryType::Symlink => {
                let target = entry.link_name().map_err(io)?.ok_or_else(|| SetupError::new(Code::CpUnsafe, format!("symlink {shown} without a target")))?;
                replace(dir, name, || nix::unistd::symlinkat(target.as_ref(), dir.as_fd(), name)).map_err(|e| errno_error(e, &shown))?;
                stats.files += 1;
            }
            tar::EntryType::Link => {
                // The target is an earlier entry: found below the destination
                // the same way (no link followed, nothing outside), renamed alike.
                let target = entry.link_name().map_err(io)?.ok_or_else(|| SetupError::new(Code::CpUnsafe, format!("hard link {shown} without a target")))?;
                let mut tparts = components(&target)?;
                if let (Some(r), Some(first)) = (rename, tparts.first_mut()) {
                    *first = r.to_string();
                }
                let Some((tlast, tparents)) = tparts.split_last() else {
                    return Err(SetupError::new(Code::CpUnsafe, format!("hard link {shown} to the destination itself")));
                };
                let tdir = open_parent(root, tparents, how)?;
                replace(dir, name, || nix::unistd::linkat(tdir.as_fd(), tlast.as_str(), dir.as_fd(), name, fcntl::AtFlags::empty()))
                    .map_err(|e| errno_error(e, &shown))?;
                stats.files += 1;
            }
            tar::EntryType::Fifo | tar::EntryType::Char | tar::EntryType::Block => {
                let (kind, dev) = match kind {
                    tar::EntryType::Fifo => (stat::SFlag::S_IFIFO, 0),
                    k => {
                        let major = entry.header().device_major().ok().flatten().unwrap_or(0);
                        let minor = entry.header().device_minor().ok().flatten().unwrap_or(0);
                        (if k == tar::EntryType::Char { stat::SFlag::S_IFCHR } else { stat::SFlag::S_IFBLK }, libc::makedev(major, minor))
                    }
                };
                match replace(dir, name, || stat::mknodat(dir.as_fd(), name, kind, Mode::from_bits_truncate(mode & 0o777), dev)) {
                    Ok(()) => stats.files += 1,
                    // A device node needs CAP_MKNOD in the host's namespace (docker's
                    // daemon has it; a user does not): skipped, as GNU tar run by a user
                    // leaves it, but the copy goes on.
                    Err(nix::errno::Errno::EPERM) if kind != stat::SFlag::S_IFIFO => {}
                    Err(e) => return Err(errno_error(e, &shown)),
                }
            }
            // Sockets and the rest are not made.
            _ => {}
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("sbx-copy-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn dirfd(p: &Path) -> OwnedFd {
        fcntl::open(p, OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()).unwrap()
    }

    /// A fresh `base` with an empty `dest` to extract into and an empty `victim` directory beside it.
    fn dest_and_victim(tag: &str) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
        let base = tmp(tag);
        let (dest, victim) = (base.join("dest"), base.join("victim"));
        std::fs::create_dir_all(&dest).unwrap();
        std::fs::create_dir_all(&victim).unwrap();
        (base, dest, victim)
    }

    #[test]
    fn a_file_through_a_symlink_in_the_archive_is_refused_both_ways() {
        for how in [Resolve::Openat2, Resolve::Walk] {
            let (base, dest, victim) = dest_and_victim(&format!("{how:?}"));
            // a symlink `a` to the victim, then a file `a/x` through it
            let archive = entries(&[("a", Some(victim.to_str().unwrap())), ("a/x", None)]);
            let e = extract(&archive[..], &dirfd(&dest), None, how).unwrap_err();
            assert_eq!(e.code, Code::CpUnsafe, "{how:?}: {e}");
            assert!(!victim.join("x").exists(), "{how:?}: nothing written through the link");
            std::fs::remove_dir_all(&base).unwrap();
        }
    }

    #[test]
    fn entries_that_leave_the_destination_are_refused() {
        let base = tmp("dotdot");
        let dest = base.join("dest");
        std::fs::create_dir_all(&dest).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        // tar's builder refuses `..` itself: write the name into the header by hand.
        h.as_old_mut().name[..4].copy_from_slice(b"../x");
        h.set_cksum();
        b.append(&h, &b"x"[..]).unwrap();
        let e = extract(&b.into_inner().unwrap()[..], &dirfd(&dest), None, Resolve::Openat2).unwrap_err();
        assert_eq!(e.code, Code::CpUnsafe);
        assert!(!base.join("x").exists());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn hard_links_stay_one_file_and_fifos_stay_fifos_as_docker_cp_copies_them() {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let base = tmp("nodes");
        let src = base.join("src");
        std::fs::create_dir_all(src.join("d")).unwrap();
        std::fs::write(src.join("a"), "shared").unwrap();
        std::fs::hard_link(src.join("a"), src.join("d/b")).unwrap();
        nix::unistd::mkfifo(&src.join("pipe"), Mode::from_bits_truncate(0o640)).unwrap();
        let mut buf = Vec::new();
        tar_path(&src, "src", false, &mut buf).unwrap();
        let dest = base.join("dest");
        std::fs::create_dir_all(&dest).unwrap();
        extract(&buf[..], &dirfd(&dest), Some("top"), Resolve::Walk).unwrap();
        let (a, b) = (std::fs::metadata(dest.join("top/a")).unwrap(), std::fs::metadata(dest.join("top/d/b")).unwrap());
        assert_eq!((a.ino(), a.nlink()), (b.ino(), 2), "one file, two names");
        let p = std::fs::symlink_metadata(dest.join("top/pipe")).unwrap();
        assert!(p.file_type().is_fifo());
        assert_eq!(p.mode() & 0o777, 0o640);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_hard_link_to_outside_the_destination_is_refused() {
        let base = tmp("hardout");
        let dest = base.join("dest");
        std::fs::create_dir_all(&dest).unwrap();
        std::fs::write(base.join("victim"), "v").unwrap();
        std::os::unix::fs::symlink(&base, dest.join("up")).unwrap();
        for target in ["../victim", "/etc/passwd", "up/victim"] {
            let mut b = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Link);
            h.set_size(0);
            h.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
            h.as_old_mut().name[..1].copy_from_slice(b"x");
            h.set_cksum();
            b.append(&h, &b""[..]).unwrap();
            let e = extract(&b.into_inner().unwrap()[..], &dirfd(&dest), None, Resolve::Openat2).unwrap_err();
            assert_eq!(e.code, Code::CpUnsafe, "{target}: {e}");
            assert!(!dest.join("x").exists(), "{target}");
        }
        assert_eq!(std::fs::metadata(base.join("victim")).map(|m| std::os::unix::fs::MetadataExt::nlink(&m)).unwrap(), 1);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_tree_round_trips_with_links_as_links_and_a_renamed_top() {
        let base = tmp("round");
        let src = base.join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("f"), "data").unwrap();
        std::fs::write(src.join("sub/g"), "more").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("abs")).unwrap();
        let mut buf = Vec::new();
        tar_path(&src, "src", false, &mut buf).unwrap();
        let dest = base.join("dest");
        std::fs::create_dir_all(&dest).unwrap();
        // an existing symlink where the top goes is replaced, never followed
        std::os::unix::fs::symlink(&base, dest.join("new")).unwrap();
        let stats = extract(&buf[..], &dirfd(&dest), Some("new"), Resolve::Openat2).unwrap();
        assert_eq!(stats, Stats { files: 3, bytes: 8 });
        assert!(std::fs::symlink_metadata(dest.join("new")).unwrap().is_dir());
        assert_eq!(std::fs::read_to_string(dest.join("new/sub/g")).unwrap(), "more");
        assert_eq!(std::fs::read_link(dest.join("new/abs")).unwrap(), Path::new("/etc/passwd"));
        std::fs::remove_dir_all(&base).unwrap();
    }
    /// A tar of the given entries: (name, Some(target)) a symlink, (name, None) with a
    /// trailing `/` a directory, else a file holding its own name.
    fn entries(list: &[(&str, Option<&str>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, target) in list {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o755);
            match target {
                Some(t) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    b.append_link(&mut h, name, t).unwrap();
                }
                None if name.ends_with('/') => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    b.append_data(&mut h, name, std::io::empty()).unwrap();
                }
                None => {
                    h.set_size(name.len() as u64);
                    b.append_data(&mut h, name, name.as_bytes()).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn a_directory_replaced_by_a_symlink_mid_stream_is_not_written_through() {
        // The kept-open parent must not outlive the directory it was: `d/x` is
        // written into d, then d becomes a link to the victim, then `d/y` comes.
        for how in [Resolve::Openat2, Resolve::Walk] {
            let (base, dest, victim) = dest_and_victim(&format!("swap-{how:?}"));
            let v = victim.to_str().unwrap();
            for list in
                [vec![("e/", None), ("e", Some(v)), ("e/y", None)], vec![("d/", None), ("d/x", None), ("d/z/", None), ("d/z", Some(v)), ("d/z/y", None)]]
            {
                let e = extract(&entries(&list)[..], &dirfd(&dest), None, how).unwrap_err();
                assert_eq!(e.code, Code::CpUnsafe, "{how:?} {list:?}: {e}");
            }
            assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0, "{how:?}: nothing written through the link");
            assert_eq!(std::fs::read_to_string(dest.join("d/x")).unwrap(), "d/x");
            std::fs::remove_dir_all(&base).unwrap();
        }
    }

    #[test]
    fn what_is_there_is_replaced_never_followed_and_a_full_directory_stays() {
        for how in [Resolve::Openat2, Resolve::Walk] {
            let base = tmp(&format!("replace-{how:?}"));
            let (dest, victim) = (base.join("dest"), base.join("victim"));
            std::fs::create_dir_all(dest.join("emptydir")).unwrap();
            std::fs::create_dir_all(dest.join("fulldir")).unwrap();
            std::fs::write(dest.join("fulldir/keep"), "k").unwrap();
            std::fs::write(&victim, "victim").unwrap();
            std::fs::write(dest.join("file"), "old").unwrap();
            std::os::unix::fs::symlink(&victim, dest.join("link")).unwrap();
            std::os::unix::fs::symlink(&victim, dest.join("link2")).unwrap();
            std::fs::write(dest.join("todir"), "old").unwrap();
            let list = [("file", None), ("link", None), ("link2", Some("/elsewhere")), ("emptydir", None), ("todir/", None), ("todir/in", None)];
            extract(&entries(&list)[..], &dirfd(&dest), None, how).unwrap();
            assert_eq!(std::fs::read_to_string(&victim).unwrap(), "victim", "{how:?}: the link was replaced, not written through");
            assert_eq!(std::fs::read_to_string(dest.join("file")).unwrap(), "file");
            assert_eq!(std::fs::read_to_string(dest.join("link")).unwrap(), "link");
            assert_eq!(std::fs::read_link(dest.join("link2")).unwrap(), Path::new("/elsewhere"));
            assert_eq!(std::fs::read_to_string(dest.join("emptydir")).unwrap(), "emptydir");
            assert_eq!(std::fs::read_to_string(dest.join("todir/in")).unwrap(), "todir/in");
            let e = extract(&entries(&[("fulldir", None)])[..], &dirfd(&dest), None, how).unwrap_err();
            assert_eq!(e.code, Code::NotEmpty, "{how:?}: {e}");
            assert_eq!(std::fs::read_to_string(dest.join("fulldir/keep")).unwrap(), "k");
            std::fs::remove_dir_all(&base).unwrap();
        }
    }

    #[test]
    fn a_file_read_is_exactly_its_header_size_grown_or_shrunk() {
        let mut buf = vec![0u8; 4];
        let mut out = Vec::new();
        // longer than the header said: cut; shorter: padded with zeros
        Refill { inner: &b"abcdefgh"[..], buf: &mut buf, pos: 0, len: 0, left: 6 }.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abcdef");
        out.clear();
        Refill { inner: &b"abc"[..], buf: &mut buf, pos: 0, len: 0, left: 6 }.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc\0\0\0");
    }
}
