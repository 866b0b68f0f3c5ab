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
//! final component that exists and is not a directory is unlinked first,
//! then created `O_EXCL|O_NOFOLLOW`.

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
    let mut b = Tar { b: tar::Builder::new(out), links: std::collections::HashMap::new() };
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
        b.append_data(&mut h, name, f)
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

/// Extract the tar stream `input` below the directory `root`, entries
/// rebased by `rename` (the first component replaced, docker's rename of
/// the copied top), permission bits kept but set-id bits dropped, owned by
/// whoever extracts.
pub fn extract(input: impl Read, root: &OwnedFd, rename: Option<&str>, how: Resolve) -> Result<Stats, SetupError> {
    let mut ar = tar::Archive::new(input);
    let mut stats = Stats::default();
    let io = |e: std::io::Error| errno_error(nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)), "the archive");
    for entry in ar.entries().map_err(io)? {
        let mut entry = entry.map_err(io)?;
        let path = entry.path().map_err(io)?.into_owned();
        let mut parts = components(&path)?;
        if let (Some(r), Some(first)) = (rename, parts.first_mut()) {
            *first = r.to_string();
        }
        let Some((last, parents)) = parts.split_last() else { continue };
        let dir = open_parent(root, parents, how)?;
        let shown = parts.join("/");
        let mode = entry.header().mode().unwrap_or(0o644) & 0o1777;
        let kind = entry.header().entry_type();
        // What is there: a directory stays (merged), anything else goes.
        let existing = stat::fstatat(dir.as_fd(), last.as_str(), fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).ok();
        let existing_dir = existing.is_some_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR);
        if existing.is_some() && !(kind.is_dir() && existing_dir) {
            let flag = if existing_dir { nix::unistd::UnlinkatFlags::RemoveDir } else { nix::unistd::UnlinkatFlags::NoRemoveDir };
            nix::unistd::unlinkat(dir.as_fd(), last.as_str(), flag).map_err(|e| errno_error(e, &shown))?;
        }
        match kind {
            // An existing directory is merged into.
            tar::EntryType::Directory if existing_dir => {}
            tar::EntryType::Directory => {
                stat::mkdirat(dir.as_fd(), last.as_str(), Mode::from_bits_truncate(mode | 0o700)).map_err(|e| errno_error(e, &shown))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let fd = fcntl::openat(
                    dir.as_fd(),
                    last.as_str(),
                    OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(mode),
                )
                .map_err(|e| errno_error(e, &shown))?;
                let mut f = std::fs::File::from(fd);
                stats.bytes += std::io::copy(&mut entry, &mut f).map_err(io)?;
                stats.files += 1;
            }
            tar::EntryType::Symlink => {
                let target = entry.link_name().map_err(io)?.ok_or_else(|| SetupError::new(Code::CpUnsafe, format!("symlink {shown} without a target")))?;
                nix::unistd::symlinkat(target.as_ref(), dir.as_fd(), last.as_str()).map_err(|e| errno_error(e, &shown))?;
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
                nix::unistd::linkat(tdir.as_fd(), tlast.as_str(), dir.as_fd(), last.as_str(), fcntl::AtFlags::empty()).map_err(|e| errno_error(e, &shown))?;
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
                match stat::mknodat(dir.as_fd(), last.as_str(), kind, Mode::from_bits_truncate(mode & 0o777), dev) {
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

    /// A tar with a symlink `a` to `target`, then a file `a/x` through it.
    fn link_then_file(target: &Path) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "a", target).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        b.append_data(&mut h, "a/x", &b"pwn"[..]).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn a_file_through_a_symlink_in_the_archive_is_refused_both_ways() {
        for how in [Resolve::Openat2, Resolve::Walk] {
            let base = tmp(&format!("{how:?}"));
            let (dest, victim) = (base.join("dest"), base.join("victim"));
            std::fs::create_dir_all(&dest).unwrap();
            std::fs::create_dir_all(&victim).unwrap();
            let e = extract(&link_then_file(&victim)[..], &dirfd(&dest), None, how).unwrap_err();
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
}
