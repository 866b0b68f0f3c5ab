//! Stage: host-side file tooling (`image import`; LIVE's `cp` into a
//! sandbox). Unpacks one tar stream into a directory given as a dirfd, and
//! never writes outside it, whatever the archive says:
//!
//! - an absolute name, or one with a `..` component, is refused;
//! - every parent is resolved from the dirfd with `openat2`: with
//!   [`Parents::NoSymlinks`] (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`) a
//!   symlink on the way, one planted by an earlier entry or layer included,
//!   is refused; with [`Parents::InRoot`] (`RESOLVE_IN_ROOT`, docker cp's
//!   rule) it is followed as if the dirfd were `/`. Both add
//!   `RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV`;
//! - the last component is never written through: what is there is removed
//!   (`unlinkat`) and the new entry made with `O_CREAT | O_EXCL |
//!   O_NOFOLLOW`, `mkdirat`, `symlinkat`, `mknodat` or `linkat` (no follow);
//! - a hard link must name a regular file already inside (same rules);
//! - device nodes are skipped and counted (an image is mounted nodev, its
//!   `/dev` comes from the host); FIFOs are made;
//! - files are the caller's, setuid and setgid bits are dropped, xattrs are
//!   not applied; a directory stays open to its owner (u+rwx) until
//!   [`finish`] gives it its real mode, so a later entry or layer can still
//!   write into a `0555` directory as an unprivileged user.
//!
//! With [`Options::whiteouts`] the OCI layer rules apply (image-spec
//! layer.md): `.wh.NAME` removes NAME from the layers below and
//! `.wh..wh..opq` empties its directory of what the layers below put there
//! (containerd's rule: entries of this layer stay, wherever they come in the
//! stream). The stream is read once, entry by entry: memory grows with the
//! paths of one layer (for the opaque rule), never with file data.
//!
//! Kernel calls go through nix directly, not the `Sys` seam: this runs on the
//! host in a plain process, never in the setup sequence the call script
//! checks; its fatal branches are tested against real archives instead.

use crate::error::{Code, SetupError};
use nix::errno::Errno;
use nix::fcntl::{self, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{self, Mode, SFlag};
use nix::unistd::{self, UnlinkatFlags};
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// How the parents of an entry are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parents {
    /// A symlink on the way is refused (image layers: a layer never needs
    /// one, and an earlier layer's `a -> /` must not steer a later one).
    NoSymlinks,
    /// Symlinks are followed inside the target, as if it were `/`.
    InRoot,
}

/// What [`extract`] does with one stream.
#[derive(Debug, Clone)]
pub struct Options {
    /// The stream in messages: `layer 2 (sha256:…)`, `the archive`.
    pub label: String,
    /// Apply OCI whiteouts instead of extracting them as files.
    pub whiteouts: bool,
    pub parents: Parents,
    /// The code of an entry that would land outside: `E_IMAGE_UNSAFE` here,
    /// the caller's own for cp.
    pub unsafe_code: Code,
    /// The code of a stream that is not a tar, or an entry that cannot be made.
    pub invalid_code: Code,
}

impl Options {
    /// An image layer: whiteouts on, symlinked parents refused.
    pub fn layer(label: impl Into<String>) -> Options {
        Options { label: label.into(), whiteouts: true, parents: Parents::NoSymlinks, unsafe_code: Code::ImageUnsafe, invalid_code: Code::ImageInvalid }
    }
}

/// What one stream held, and the directory modes [`finish`] still owes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinks: u64,
    pub fifos: u64,
    pub whiteouts: u64,
    /// Character and block devices, not made.
    pub devices_skipped: u64,
    /// Bytes of regular file data written.
    pub bytes: u64,
    /// Directories made or kept open to their owner, with the mode the
    /// archive gave them, for [`finish`].
    pub deferred_modes: Vec<(String, u32)>,
}

impl Stats {
    /// Add another stream's counts (the layers of one image).
    pub fn add(&mut self, o: Stats) {
        self.files += o.files;
        self.dirs += o.dirs;
        self.symlinks += o.symlinks;
        self.hardlinks += o.hardlinks;
        self.fifos += o.fifos;
        self.whiteouts += o.whiteouts;
        self.devices_skipped += o.devices_skipped;
        self.bytes += o.bytes;
        self.deferred_modes.extend(o.deferred_modes);
    }
}

/// A clean relative path: its components, or why it is refused.
/// `./a//b/` → `["a", "b"]`; `/a`, `a/../b` are refused; `.` is `[]`.
pub fn components(raw: &[u8]) -> Result<Vec<&[u8]>, &'static str> {
    if raw.first() == Some(&b'/') {
        return Err("is an absolute path");
    }
    let mut out = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err("has a .. component"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// What a whiteout entry asks, by its last component (image-spec layer.md).
#[derive(Debug, PartialEq, Eq)]
pub enum Whiteout<'a> {
    /// `.wh..wh..opq`: the directory hides everything below it.
    Opaque,
    /// `.wh.NAME`: NAME is removed.
    Remove(&'a [u8]),
    /// Not a whiteout.
    None,
}

pub const OPAQUE: &[u8] = b".wh..wh..opq";
pub const WHITEOUT_PREFIX: &[u8] = b".wh.";

/// Classify the last component; a whiteout of `.`, `..` or nothing is refused.
pub fn whiteout(name: &[u8]) -> Result<Whiteout<'_>, &'static str> {
    if name == OPAQUE {
        return Ok(Whiteout::Opaque);
    }
    match name.strip_prefix(WHITEOUT_PREFIX) {
        None => Ok(Whiteout::None),
        Some(b"" | b"." | b"..") => Err("is a whiteout of ., .. or nothing"),
        Some(target) => Ok(Whiteout::Remove(target)),
    }
}

fn resolve_flags(parents: Parents) -> ResolveFlag {
    let base = ResolveFlag::RESOLVE_NO_MAGICLINKS | ResolveFlag::RESOLVE_NO_XDEV;
    match parents {
        Parents::NoSymlinks => base | ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS,
        Parents::InRoot => base | ResolveFlag::RESOLVE_IN_ROOT,
    }
}

fn open_beneath(root: BorrowedFd, path: &[u8], flags: OFlag, parents: Parents) -> Result<OwnedFd, Errno> {
    let path = if path.is_empty() { &b"."[..] } else { path };
    let how = OpenHow::new().flags(flags | OFlag::O_CLOEXEC).resolve(resolve_flags(parents));
    loop {
        match fcntl::openat2(root, std::ffi::OsStr::from_bytes(path), how) {
            Err(Errno::EAGAIN | Errno::EINTR) => continue,
            r => return r,
        }
    }
}

fn join(parts: &[&[u8]]) -> Vec<u8> {
    parts.join(&b'/')
}

/// A name for a message: lossy UTF-8, its middle cut when it is long (an
/// archive may hold names of any length).
fn lossy(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 256 {
        return s.into_owned();
    }
    let head: String = chars[..120].iter().collect();
    let tail: String = chars[chars.len() - 120..].iter().collect();
    format!("{head}…{tail}")
}

fn errno_of(e: &io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// One extraction in progress.
struct Extractor<'a> {
    root: BorrowedFd<'a>,
    o: &'a Options,
    stats: Stats,
    /// Paths this stream made (the opaque rule spares them).
    made: HashSet<Vec<u8>>,
}

impl Extractor<'_> {
    fn unsafe_entry(&self, path: &[u8], why: impl std::fmt::Display) -> SetupError {
        SetupError::new(self.o.unsafe_code, format!("{}: entry {} escapes the target: {why}", self.o.label, lossy(path)))
    }

    fn failed(&self, path: &[u8], what: &str, e: Errno) -> SetupError {
        SetupError::new(self.o.invalid_code, format!("{}: cannot {what} {}: {}", self.o.label, lossy(path), crate::sys::Errno(e as i32)))
    }

    /// The directory `parts` (made, 0755, where missing), as an O_PATH fd.
    /// `entry` names the archive entry in errors. One `openat2` of the whole
    /// path when it exists (an archive's usual case); a missing directory is
    /// made from its deepest existing parent, so a deep tree costs one
    /// resolution per entry, not one per level.
    fn parent(&mut self, entry: &[u8], parts: &[&[u8]]) -> Result<OwnedFd, SetupError> {
        let dir_flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
        let path = join(parts);
        match open_beneath(self.root, &path, dir_flags, self.o.parents) {
            Ok(fd) => Ok(fd),
            Err(Errno::ENOENT) if !parts.is_empty() => {
                let (last, up) = parts.split_last().expect("not empty");
                let above = self.parent(entry, up)?;
                match stat::mkdirat(above.as_fd(), std::ffi::OsStr::from_bytes(last), Mode::from_bits_truncate(0o755)) {
                    Ok(()) => {
                        self.stats.dirs += 1;
                        self.made.insert(path.clone());
                    }
                    Err(Errno::EEXIST) => {}
                    Err(e) => return Err(self.failed(&path, "create the directory", e)),
                }
                open_beneath(self.root, &path, dir_flags, self.o.parents).map_err(|e| self.refused(entry, parts, e))
            }
            Err(e) => Err(self.refused(entry, parts, e)),
        }
    }

    /// Why `parts` could not be opened as a directory: which prefix is a
    /// symlink, leads outside or is no directory (found by a walk, once).
    fn refused(&self, entry: &[u8], parts: &[&[u8]], e: Errno) -> SetupError {
        let dir_flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
        let mut culprit = join(parts);
        if matches!(e, Errno::ELOOP | Errno::EXDEV | Errno::ENOTDIR) {
            for i in 0..parts.len() {
                let prefix = join(&parts[..=i]);
                if open_beneath(self.root, &prefix, dir_flags, self.o.parents).is_err() {
                    culprit = prefix;
                    break;
                }
            }
        }
        match e {
            Errno::ELOOP => self.unsafe_entry(entry, format_args!("its parent {} is a symlink", lossy(&culprit))),
            Errno::EXDEV => self.unsafe_entry(entry, format_args!("its parent {} leads outside", lossy(&culprit))),
            Errno::ENOTDIR => self.unsafe_entry(entry, format_args!("its parent {} is not a directory", lossy(&culprit))),
            e => self.failed(&culprit, "open the directory", e),
        }
    }

    /// What `name` is in `dir`, without following it.
    fn kind(dir: BorrowedFd, name: &[u8]) -> Option<SFlag> {
        stat::fstatat(dir, std::ffi::OsStr::from_bytes(name), AtFlags::AT_SYMLINK_NOFOLLOW).ok().map(|st| SFlag::from_bits_truncate(st.st_mode & libc::S_IFMT))
    }

    /// Remove whatever `name` is in `dir`, a directory with all it holds.
    fn remove(&self, dir: BorrowedFd, name: &[u8], path: &[u8]) -> Result<(), SetupError> {
        remove_at(dir, name).map_err(|e| self.failed(path, "remove", e))
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<(), SetupError> {
        let raw = entry.path_bytes().into_owned();
        let kind = entry.header().entry_type();
        if matches!(kind, tar::EntryType::XGlobalHeader | tar::EntryType::XHeader | tar::EntryType::GNULongName | tar::EntryType::GNULongLink) {
            return Ok(());
        }
        let parts = components(&raw).map_err(|why| self.unsafe_entry(&raw, why))?;
        let Some((&name, parent_parts)) = parts.split_last() else {
            // `.` or `./`: the target itself; its mode is the caller's.
            return Ok(());
        };
        let path = join(&parts);
        if self.o.whiteouts {
            match whiteout(name).map_err(|why| self.unsafe_entry(&raw, why))? {
                Whiteout::None => {}
                Whiteout::Opaque => {
                    let dir = self.parent(&raw, parent_parts)?;
                    self.stats.whiteouts += 1;
                    return self.opaque(dir.as_fd(), &join(parent_parts));
                }
                Whiteout::Remove(target) => {
                    let dir = self.parent(&raw, parent_parts)?;
                    self.stats.whiteouts += 1;
                    let mut gone = join(parent_parts);
                    if !gone.is_empty() {
                        gone.push(b'/');
                    }
                    gone.extend_from_slice(target);
                    return match Self::kind(dir.as_fd(), target) {
                        Some(_) => self.remove(dir.as_fd(), target, &gone),
                        None => Ok(()),
                    };
                }
            }
        }
        let dir = self.parent(&raw, parent_parts)?;
        let dir = dir.as_fd();
        let cname = std::ffi::OsStr::from_bytes(name);
        let header_mode = entry.header().mode().unwrap_or(0o644);
        // setuid and setgid dropped; sticky kept (a /tmp in the image).
        let mode = header_mode & 0o1777;
        let existing = Self::kind(dir, name);
        let is_dir = kind == tar::EntryType::Directory;
        if existing.is_some() && !(is_dir && existing == Some(SFlag::S_IFDIR)) {
            self.remove(dir, name, &path)?;
        }
        match kind {
            tar::EntryType::Directory => {
                if existing != Some(SFlag::S_IFDIR) {
                    stat::mkdirat(dir, cname, Mode::from_bits_truncate(0o700)).map_err(|e| self.failed(&path, "create the directory", e))?;
                }
                let fd = fcntl::openat(dir, cname, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
                    .map_err(|e| self.failed(&path, "open the directory", e))?;
                stat::fchmod(&fd, Mode::from_bits_truncate(mode | 0o700)).map_err(|e| self.failed(&path, "set the mode of", e))?;
                if mode & 0o700 != 0o700 {
                    self.stats.deferred_modes.push((lossy(&path), mode));
                }
                self.stats.dirs += 1;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                let fd = fcntl::openat(
                    dir,
                    cname,
                    OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(|e| self.failed(&path, "create", e))?;
                let mut file = File::from(fd);
                let n = io::copy(entry, &mut file).map_err(|e| self.failed(&path, "write", errno_of(&e)))?;
                stat::fchmod(&file, Mode::from_bits_truncate(mode)).map_err(|e| self.failed(&path, "set the mode of", e))?;
                if let Ok(mtime) = entry.header().mtime() {
                    let t = nix::sys::time::TimeSpec::new(mtime.min(i64::MAX as u64) as i64, 0);
                    let _ = stat::futimens(&file, &t, &t);
                }
                self.stats.files += 1;
                self.stats.bytes += n;
            }
            tar::EntryType::Symlink => {
                let target = entry.link_name_bytes().ok_or_else(|| self.failed(&path, "read the link of", Errno::EINVAL))?.into_owned();
                unistd::symlinkat(std::ffi::OsStr::from_bytes(&target), dir, cname).map_err(|e| self.failed(&path, "create the symlink", e))?;
                if let Ok(mtime) = entry.header().mtime() {
                    let t = nix::sys::time::TimeSpec::new(mtime.min(i64::MAX as u64) as i64, 0);
                    let _ = stat::utimensat(dir, cname, &t, &t, stat::UtimensatFlags::NoFollowSymlink);
                }
                self.stats.symlinks += 1;
            }
            tar::EntryType::Link => {
                let target = entry.link_name_bytes().ok_or_else(|| self.failed(&path, "read the link of", Errno::EINVAL))?.into_owned();
                let tparts = components(&target).map_err(|why| self.unsafe_entry(&raw, format_args!("its hard link target {} {why}", lossy(&target))))?;
                let Some((&tname, tparent)) = tparts.split_last() else {
                    return Err(self.unsafe_entry(&raw, "its hard link target is the target directory"));
                };
                let tdir = self.parent(&raw, tparent)?;
                if Self::kind(tdir.as_fd(), tname) != Some(SFlag::S_IFREG) {
                    return Err(self.unsafe_entry(&raw, format_args!("its hard link target {} is not a regular file inside", lossy(&target))));
                }
                // No AT_SYMLINK_FOLLOW: the name itself is linked.
                unistd::linkat(tdir.as_fd(), std::ffi::OsStr::from_bytes(tname), dir, cname, AtFlags::empty())
                    .map_err(|e| self.failed(&path, "create the hard link", e))?;
                self.stats.hardlinks += 1;
            }
            tar::EntryType::Fifo => {
                stat::mknodat(dir, cname, SFlag::S_IFIFO, Mode::from_bits_truncate(mode & 0o777), 0).map_err(|e| self.failed(&path, "create the fifo", e))?;
                self.stats.fifos += 1;
            }
            tar::EntryType::Char | tar::EntryType::Block => {
                self.stats.devices_skipped += 1;
                return Ok(());
            }
            other => {
                return Err(SetupError::new(
                    self.o.invalid_code,
                    format!("{}: entry {} has a tar type this does not make ({other:?})", self.o.label, lossy(&raw)),
                ));
            }
        }
        if self.o.whiteouts {
            self.made.insert(path);
        }
        Ok(())
    }

    /// `.wh..wh..opq` in `dir` (at `path`): remove what this stream did not make.
    fn opaque(&self, dir: BorrowedFd, path: &[u8]) -> Result<(), SetupError> {
        let names = list(dir).map_err(|e| self.failed(path, "list", e))?;
        for name in names {
            let mut full = path.to_vec();
            if !full.is_empty() {
                full.push(b'/');
            }
            full.extend_from_slice(&name);
            if !self.made.contains(&full) {
                self.remove(dir, &name, &full)?;
            }
        }
        Ok(())
    }
}

/// The names in a directory (an O_PATH fd is reopened to read it).
fn list(dir: BorrowedFd) -> Result<Vec<Vec<u8>>, Errno> {
    let fd = fcntl::openat(dir, ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
    let mut d = nix::dir::Dir::from_fd(fd)?;
    let mut names = Vec::new();
    for e in d.iter() {
        let name = e?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            names.push(name);
        }
    }
    Ok(names)
}

/// Remove `name` in `dir`, recursively, never following a symlink; a
/// directory is opened to its owner first (a 0555 one from an image).
pub fn remove_at(dir: BorrowedFd, name: &[u8]) -> Result<(), Errno> {
    let cname = std::ffi::OsStr::from_bytes(name);
    let st = match stat::fstatat(dir, cname, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(e),
    };
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return unistd::unlinkat(dir, cname, UnlinkatFlags::NoRemoveDir);
    }
    let sub = fcntl::openat(dir, cname, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())?;
    let _ = stat::fchmod(&sub, Mode::from_bits_truncate(0o700));
    for child in list(sub.as_fd())? {
        remove_at(sub.as_fd(), &child)?;
    }
    drop(sub);
    unistd::unlinkat(dir, cname, UnlinkatFlags::RemoveDir)
}

/// Unpack the tar stream `reader` into the directory `dest`. Directory
/// modes that would lock the owner out are owed in the result: call
/// [`finish`] once every stream of the target is in.
pub fn extract<R: Read>(reader: R, dest: BorrowedFd, options: &Options) -> Result<Stats, SetupError> {
    extract_stream(reader, dest, options).map(|(stats, _)| stats)
}

/// [`extract`], giving the reader back (so a caller can read it to its end,
/// for a digest).
pub fn extract_stream<R: Read>(reader: R, dest: BorrowedFd, options: &Options) -> Result<(Stats, R), SetupError> {
    extract_stream_with(reader, dest, options, &mut || {})
}

/// [`extract_stream`], calling `on_entry` after each entry (progress).
pub fn extract_stream_with<R: Read>(reader: R, dest: BorrowedFd, options: &Options, on_entry: &mut dyn FnMut()) -> Result<(Stats, R), SetupError> {
    let mut ar = tar::Archive::new(reader);
    let mut x = Extractor { root: dest, o: options, stats: Stats::default(), made: HashSet::new() };
    let bad = |e: io::Error| SetupError::new(options.invalid_code, format!("{}: not a readable tar stream: {e}", options.label));
    for entry in ar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        x.entry(&mut entry)?;
        on_entry();
    }
    let stats = x.stats;
    Ok((stats, ar.into_inner()))
}

/// Give the directories their archive modes, deepest first (so a parent
/// made 0500 does not stop its child's chmod). Entries gone or no longer
/// directories by now are passed over.
pub fn finish(dest: BorrowedFd, stats: &Stats, parents: Parents) -> Result<(), SetupError> {
    let mut modes: Vec<&(String, u32)> = stats.deferred_modes.iter().collect();
    modes.sort_by_key(|(p, _)| std::cmp::Reverse(p.matches('/').count()));
    for (path, mode) in modes {
        let Ok(fd) = open_beneath(dest, path.as_bytes(), OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW, parents) else { continue };
        stat::fchmod(&fd, Mode::from_bits_truncate(*mode))
            .map_err(|e| SetupError::new(Code::ImageInvalid, format!("cannot set the mode of {path}: {}", crate::sys::Errno(e as i32))))?;
    }
    Ok(())
}

/// Open `path` below `root` by the same rules (for callers that write a
/// file of their own into the target, e.g. the image's metadata).
pub fn open_in(root: BorrowedFd, path: &[u8], flags: OFlag, parents: Parents) -> Result<OwnedFd, Errno> {
    open_beneath(root, path, flags, parents)
}
