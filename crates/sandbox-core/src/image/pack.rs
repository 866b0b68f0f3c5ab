//! `image pack DIR OUT.sqfs`: a directory into a SquashFS image, written
//! with the `backhand` crate's writer (pure Rust; no mksquashfs).
//!
//! The tree is walked from a directory fd with `openat(O_NOFOLLOW)` and
//! `fstatat(AT_SYMLINK_NOFOLLOW)`: no symlink is followed, and a mount
//! point below DIR is kept as an empty directory (one filesystem). File
//! data is read when the image is written, each file opened then with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` from the same fd and
//! closed after (no fd per file held, so no fd limit on large trees). The
//! image is written to `.OUT.pack-XXXXXX` beside OUT and renamed into
//! place (`E_IMAGE_EXISTS` unless `force`).
//!
//! Stored: modes (setuid/setgid too: every image mount is nosuid), mtimes,
//! symlinks, empty directories, FIFOs, sockets, device nodes; owners as
//! 0:0 (what `mksquashfs -all-root` does: the sandbox shows owner 0 as its
//! user). What backhand 0.25's writer cannot store: **hard links** (each
//! name becomes its own inode; the data is stored once, its duplicate-file
//! check shares the blocks, so only the link count differs) and **xattrs**
//! (it writes no xattr table: e.g. `security.capability`, which a nosuid
//! mount ignores anyway). Both are counted in [`Packed`].

use super::import::{install, remove_path, staging};
use super::progress::{Meter, Shared, Sink};
use super::report::PackCounts;
use crate::archive::safe_extract::{self, Parents};
use crate::error::{Code, SetupError};
use backhand::compression::Compressor;
use backhand::{FilesystemCompressor, FilesystemWriter, NodeHeader};
use nix::errno::Errno;
use nix::fcntl::{self, AtFlags, OFlag};
use nix::sys::stat::{self, FileStat, Mode};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// How to pack.
#[derive(Debug, Clone, Default)]
pub struct PackOptions {
    pub force: bool,
    /// `gzip` (default, what mksquashfs uses), `zstd` or `xz`.
    pub compression: Option<String>,
}

/// What a pack did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Packed {
    /// What was stored, as `image pack --json` reports it.
    pub counts: PackCounts,
    pub compression: String,
    /// Size of the image written.
    pub image_bytes: u64,
}

fn invalid(msg: impl Into<String>) -> SetupError {
    SetupError::new(Code::ImageInvalid, msg)
}

fn errno(e: Errno) -> crate::sys::Errno {
    crate::sys::Errno(e as i32)
}

/// A file of the tree, opened on its first read.
struct LazyFile<'a> {
    root: BorrowedFd<'a>,
    path: Vec<u8>,
    file: Option<File>,
    done: bool,
    meter: Shared,
}

impl Read for LazyFile<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        if self.file.is_none() {
            let fd = safe_extract::open_in(self.root, &self.path, OFlag::O_RDONLY | OFlag::O_NOFOLLOW, Parents::NoSymlinks)
                .map_err(|e| io::Error::other(format!("cannot open {}: {}", String::from_utf8_lossy(&self.path), errno(e))))?;
            self.file = Some(File::from(fd));
        }
        let n = self.file.as_mut().expect("opened").read(buf)?;
        if n == 0 {
            self.file = None;
            self.done = true;
        }
        self.meter.borrow_mut().add(u64::from(n == 0), n as u64);
        Ok(n)
    }
}

fn compressor(name: Option<&str>) -> Result<(Compressor, &'static str), SetupError> {
    Ok(match name.unwrap_or("gzip") {
        "gzip" => (Compressor::Gzip, "gzip"),
        "zstd" => (Compressor::Zstd, "zstd"),
        "xz" => (Compressor::Xz, "xz"),
        other => return Err(SetupError::new(Code::Usage, format!("compression {other:?} is not one of gzip, zstd, xz"))),
    })
}

struct Walk<'r> {
    root: BorrowedFd<'r>,
    meter: Shared,
    dev: u64,
    seen: HashMap<(u64, u64), ()>,
    stats: Packed,
}

fn header(st: &FileStat) -> NodeHeader {
    NodeHeader::new((st.st_mode & 0o7777) as u16, 0, 0, st.st_mtime.clamp(0, i64::from(u32::MAX)) as u32)
}

fn has_xattrs(dir: BorrowedFd, name: &[u8]) -> bool {
    // An O_PATH fd takes no f*xattr call; listxattr through its /proc link
    // reaches the inode itself (a symlink's own, never its target).
    let Ok(fd) = fcntl::openat(dir, std::ffi::OsStr::from_bytes(name), OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty()) else {
        return false;
    };
    let p = std::ffi::CString::new(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd))).expect("no nul");
    // SAFETY: a NUL-terminated path, a null buffer of size 0 (asks the size only).
    let n = unsafe { libc::listxattr(p.as_ptr(), std::ptr::null_mut(), 0) };
    n > 0
}

impl<'r> Walk<'r> {
    fn dir(&mut self, w: &mut FilesystemWriter<'_, '_, 'r>, dir: &OwnedFd, rel: &[u8]) -> Result<(), SetupError> {
        let d = fcntl::openat(dir, ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| invalid(format!("cannot open {}: {}", show(rel), errno(e))))?;
        let mut names: Vec<Vec<u8>> = Vec::new();
        let mut it = nix::dir::Dir::from_fd(d).map_err(|e| invalid(format!("cannot read {}: {}", show(rel), errno(e))))?;
        for e in it.iter() {
            let e = e.map_err(|e| invalid(format!("cannot read {}: {}", show(rel), errno(e))))?;
            let n = e.file_name().to_bytes();
            if n != b"." && n != b".." {
                names.push(n.to_vec());
            }
        }
        names.sort();
        for name in names {
            let mut path = rel.to_vec();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(&name);
            let cname = std::ffi::OsStr::from_bytes(&name);
            let st = stat::fstatat(dir, cname, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(|e| invalid(format!("cannot stat {}: {}", show(&path), errno(e))))?;
            let h = header(&st);
            let at = std::ffi::OsStr::from_bytes(&path);
            let stored = |r: Result<(), backhand::BackhandError>| r.map_err(|e| invalid(format!("cannot store {}: {e}", show(&path))));
            if has_xattrs(dir.as_fd(), &name) {
                self.stats.counts.xattrs_dropped += 1;
            }
            match st.st_mode & libc::S_IFMT {
                libc::S_IFDIR => {
                    stored(w.push_dir(at, h))?;
                    self.stats.counts.dirs += 1;
                    if st.st_dev != self.dev {
                        self.stats.counts.mounts_skipped += 1;
                        continue;
                    }
                    let sub = fcntl::openat(dir, cname, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
                        .map_err(|e| invalid(format!("cannot open {}: {}", show(&path), errno(e))))?;
                    self.dir(w, &sub, &path)?;
                }
                libc::S_IFREG => {
                    if st.st_nlink > 1 && self.seen.insert((st.st_dev, st.st_ino), ()).is_some() {
                        self.stats.counts.hardlinks_split += 1;
                    }
                    let lazy = LazyFile { root: self.root, path: path.clone(), file: None, done: false, meter: self.meter.clone() };
                    stored(w.push_file(lazy, at, h))?;
                    self.stats.counts.files += 1;
                    self.stats.counts.bytes += st.st_size as u64;
                }
                libc::S_IFLNK => {
                    let target = fcntl::readlinkat(dir, cname).map_err(|e| invalid(format!("cannot read the link {}: {}", show(&path), errno(e))))?;
                    stored(w.push_symlink(std::path::PathBuf::from(target), at, h))?;
                    self.stats.counts.symlinks += 1;
                }
                libc::S_IFCHR => {
                    stored(w.push_char_device(st.st_rdev as u32, at, h))?;
                    self.stats.counts.others += 1;
                }
                libc::S_IFBLK => {
                    stored(w.push_block_device(st.st_rdev as u32, at, h))?;
                    self.stats.counts.others += 1;
                }
                libc::S_IFIFO => {
                    stored(w.push_fifo(at, h))?;
                    self.stats.counts.others += 1;
                }
                _ => {
                    stored(w.push_socket(at, h))?;
                    self.stats.counts.others += 1;
                }
            }
        }
        Ok(())
    }
}

fn show(p: &[u8]) -> String {
    if p.is_empty() {
        "the directory".into()
    } else {
        String::from_utf8_lossy(p).into_owned()
    }
}

/// Pack the tree at the directory fd `root` into the SquashFS file `out`.
pub fn pack_to(root: BorrowedFd, out: &str, o: &PackOptions, progress: Option<Sink>) -> Result<Packed, SetupError> {
    super::import::check_dest(out, o.force)?;
    let (comp, comp_name) = compressor(o.compression.as_deref())?;
    let root_st = stat::fstat(root).map_err(|e| invalid(format!("cannot stat the directory: {}", errno(e))))?;
    let mut w = FilesystemWriter::default();
    w.set_compressor(FilesystemCompressor::new(comp, None).map_err(|e| invalid(format!("compression {comp_name}: {e}")))?);
    w.set_root_mode((root_st.st_mode & 0o7777) as u16);
    w.set_root_uid(0);
    w.set_root_gid(0);
    w.set_time(root_st.st_mtime.clamp(0, i64::from(u32::MAX)) as u32);
    let meter = Meter::new("pack", progress);
    let mut walk =
        Walk { root, meter: meter.clone(), dev: root_st.st_dev, seen: HashMap::new(), stats: Packed { compression: comp_name.into(), ..Default::default() } };
    let top = fcntl::openat(root, ".", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| invalid(format!("cannot open the directory: {}", errno(e))))?;
    walk.dir(&mut w, &top, b"")?;
    meter.borrow_mut().totals(Some(walk.stats.counts.files), Some(walk.stats.counts.bytes));
    let (tmp, _) = staging(out, "pack", false)?;
    let r = (|| {
        let file = fcntl::open(&tmp, OFlag::O_WRONLY | OFlag::O_TRUNC | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| invalid(format!("cannot open {}: {}", tmp.display(), errno(e))))?;
        let mut out_file = BufWriter::with_capacity(1 << 20, File::from(file));
        let (_, size) = w.write(&mut out_file).map_err(|e| invalid(format!("cannot write the SquashFS image: {e}")))?;
        let file = out_file.into_inner().map_err(|e| invalid(format!("cannot write {}: {}", tmp.display(), e.error())))?;
        // backhand writes a duplicate file's data, then seeks back over it
        // when it finds the match; what it wrote past the image's end stays
        // unless cut off here.
        file.set_len(size).map_err(|e| invalid(format!("cannot truncate {}: {e}", tmp.display())))?;
        file.sync_all().ok();
        walk.stats.image_bytes = size;
        meter.borrow().emit();
        install(&tmp, out, o.force)
    })();
    if r.is_err() {
        remove_path(&tmp);
    }
    r.map(|()| walk.stats)
}

/// `image pack DIR OUT`.
pub fn pack(src: &str, out: &str, o: &PackOptions, progress: Option<Sink>) -> Result<Packed, SetupError> {
    super::import::check_dest(out, o.force)?;
    if !super::import::is_squashfs_name(out) {
        return Err(SetupError::new(Code::Usage, format!("{out}: the output of image pack is a SquashFS file: name it *.sqfs or *.squashfs")));
    }
    let root = fcntl::open(src, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()).map_err(|e| {
        let why = if e == Errno::ENOTDIR { "not a directory".to_string() } else { errno(e).to_string() };
        invalid(format!("cannot open the directory {src}: {why}"))
    })?;
    pack_to(root.as_fd(), out, o, progress)
}

#[cfg(test)]
mod tests {
    use super::*;
    use backhand::{FilesystemReader, InnerNode};
    use std::collections::BTreeMap;
    use std::fs;
    use std::io::BufReader;
    use std::os::unix::fs::{symlink, PermissionsExt};

    /// 3 MB that do not compress (an LCG's high bytes).
    fn noise() -> Vec<u8> {
        let mut x: u32 = 12345;
        (0..3_000_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 24) as u8
            })
            .collect()
    }

    fn tree(base: &std::path::Path) -> std::path::PathBuf {
        let src = base.join("src");
        fs::create_dir_all(src.join("private/deep")).unwrap();
        fs::create_dir_all(src.join("empty")).unwrap();
        fs::set_permissions(src.join("private"), fs::Permissions::from_mode(0o750)).unwrap();
        fs::write(src.join("private/secret"), "s\n").unwrap();
        fs::set_permissions(src.join("private/secret"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(src.join("su"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(src.join("su"), fs::Permissions::from_mode(0o4755)).unwrap();
        symlink("private/secret", src.join("rel")).unwrap();
        symlink("/etc", src.join("abs")).unwrap();
        symlink("nowhere", src.join("dangling")).unwrap();
        fs::write(src.join("big"), noise()).unwrap();
        fs::hard_link(src.join("big"), src.join("big-link")).unwrap();
        nix::unistd::mkfifo(&src.join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
        let p = std::ffi::CString::new(src.join("su").to_str().unwrap()).unwrap();
        // SAFETY: NUL-terminated path, name and a 2-byte value.
        let r = unsafe { libc::setxattr(p.as_ptr(), c"user.test".as_ptr(), b"hi".as_ptr().cast(), 2, 0) };
        assert_eq!(r, 0, "setxattr: {}", io::Error::last_os_error());
        src
    }

    #[test]
    fn a_tree_round_trips_through_backhand() {
        let base = std::env::temp_dir().join(format!("sbx-pack-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(&base).unwrap();
        let src = tree(&base);
        let out = base.join("out.sqfs");
        let packed = pack(src.to_str().unwrap(), out.to_str().unwrap(), &PackOptions { compression: Some("zstd".into()), ..Default::default() }, None).unwrap();
        assert_eq!(
            (packed.counts.files, packed.counts.symlinks, packed.counts.others, packed.counts.hardlinks_split, packed.counts.xattrs_dropped),
            (4, 3, 1, 1, 1),
            "{packed:?}"
        );
        let fs_ = FilesystemReader::from_reader(BufReader::new(fs::File::open(&out).unwrap())).unwrap();
        let mut nodes = BTreeMap::new();
        for n in fs_.files() {
            let what = match &n.inner {
                InnerNode::File(f) => {
                    let mut b = Vec::new();
                    fs_.file(f).reader().read_to_end(&mut b).unwrap();
                    format!("file {} {:x}", b.len(), b.iter().map(|&x| u64::from(x)).sum::<u64>())
                }
                InnerNode::Symlink(l) => format!("-> {}", l.link.display()),
                InnerNode::Dir(_) => "dir".into(),
                InnerNode::NamedPipe => "fifo".into(),
                _ => "other".into(),
            };
            assert_eq!((n.header.uid, n.header.gid), (0, 0), "{}", n.fullpath.display());
            nodes.insert(n.fullpath.display().to_string(), (format!("{:o}", n.header.permissions), what));
        }
        let big_sum: u64 = noise().iter().map(|&b| u64::from(b)).sum();
        let big = format!("file 3000000 {big_sum:x}");
        let want: BTreeMap<String, (String, String)> = [
            ("/", "755", "dir"),
            ("/abs", "777", "-> /etc"),
            ("/big", "644", big.as_str()),
            ("/big-link", "644", big.as_str()),
            ("/dangling", "777", "-> nowhere"),
            ("/empty", "755", "dir"),
            ("/fifo", "644", "fifo"),
            ("/private", "750", "dir"),
            ("/private/deep", "755", "dir"),
            ("/private/secret", "600", "file 2 7d"),
            ("/rel", "777", "-> private/secret"),
            ("/su", "4755", "file 10 2c0"),
        ]
        .into_iter()
        .map(|(p, m, w)| (p.to_string(), (m.to_string(), w.to_string())))
        .collect();
        assert_eq!(nodes, want);
        // The data of the hard-linked pair is stored once: the image is
        // smaller than two copies of the incompressible file.
        let size = fs::metadata(&out).unwrap().len();
        assert!((3_000_000..4_000_000).contains(&size), "{size}");
        let e = pack(src.to_str().unwrap(), out.to_str().unwrap(), &PackOptions::default(), None).unwrap_err();
        assert_eq!(e.code, Code::ImageExists);
        assert_eq!(pack(src.to_str().unwrap(), base.join("out.img").to_str().unwrap(), &PackOptions::default(), None).unwrap_err().code, Code::Usage);
        assert_eq!(
            pack(base.join("nope").to_str().unwrap(), base.join("n.sqfs").to_str().unwrap(), &PackOptions::default(), None).unwrap_err().code,
            Code::ImageInvalid
        );
        let _ = fs::remove_dir_all(&base);
    }
}
