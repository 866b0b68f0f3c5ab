//! `image inspect IMAGE`: what an image is (a directory or SquashFS, by the
//! same test `run --image` uses), its size, how many entries it holds, and
//! the defaults an import stored in it (image/meta.rs). A SquashFS image is
//! read with backhand's reader (tables only, and the two small metadata
//! files); nothing is mounted.

use super::detect::{check_superblock, SUPERBLOCK};
use super::meta::{ImageMeta, ENV_PATH, META_PATH};
use super::report::{ImageInfo, UserIds};
use super::user::{names_an_account, resolve_at};
use crate::archive::safe_extract::{self, Parents};
use crate::error::{Code, SetupError};
use backhand::{FilesystemReader, InnerNode};
use nix::fcntl::{self, AtFlags, OFlag};
use nix::sys::stat::{self, Mode};
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;

/// The largest metadata file read.
const MAX_META: u64 = 1 << 20;

fn invalid(msg: impl Into<String>) -> SetupError {
    SetupError::new(Code::ImageInvalid, msg)
}

fn parse_meta(path: &str, bytes: Option<Vec<u8>>) -> Result<Option<ImageMeta>, SetupError> {
    bytes.map(|b| serde_json::from_slice(&b).map_err(|e| invalid(format!("{path}: /{META_PATH} is not valid: {e}")))).transpose()
}

/// Count entries and file bytes below `dir`, without following symlinks.
fn walk(dir: BorrowedFd, files: &mut u64, bytes: &mut u64) -> Result<(), nix::errno::Errno> {
    let fd = fcntl::openat(dir, ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
    let mut d = nix::dir::Dir::from_fd(fd)?;
    let mut subdirs = Vec::new();
    for e in d.iter() {
        let e = e?;
        let name = e.file_name().to_owned();
        if matches!(name.to_bytes(), b"." | b"..") {
            continue;
        }
        *files += 1;
        let st = stat::fstatat(dir, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW)?;
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => subdirs.push(name),
            libc::S_IFREG => *bytes += st.st_size as u64,
            _ => {}
        }
    }
    for name in subdirs {
        if let Ok(sub) = fcntl::openat(dir, name.as_c_str(), OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty()) {
            walk(sub.as_fd(), files, bytes)?;
        }
    }
    Ok(())
}

fn read_in_dir(root: BorrowedFd, path: &str) -> Option<Vec<u8>> {
    let fd = safe_extract::open_in(root, path.as_bytes(), OFlag::O_RDONLY | OFlag::O_NOFOLLOW, Parents::NoSymlinks).ok()?;
    let mut b = Vec::new();
    File::from(fd).take(MAX_META).read_to_end(&mut b).ok()?;
    Some(b)
}

/// Inspect `path`; without `count`, a directory's entries are not walked
/// (`files` and `bytes` are 0: what `run --image` asks for its defaults).
pub fn inspect(path: &str, count: bool) -> Result<ImageInfo, SetupError> {
    let fd = fcntl::open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK, Mode::empty())
        .map_err(|e| invalid(format!("cannot open the image {path}: {}", crate::sys::Errno(e as i32))))?;
    let st = stat::fstat(&fd).map_err(|e| invalid(format!("cannot stat the image {path}: {}", crate::sys::Errno(e as i32))))?;
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        let (mut files, mut bytes) = (0, 0);
        if count {
            walk(fd.as_fd(), &mut files, &mut bytes).map_err(|e| invalid(format!("cannot read {path}: {}", crate::sys::Errno(e as i32))))?;
        }
        let meta = parse_meta(path, read_in_dir(fd.as_fd(), META_PATH))?;
        let environment = read_in_dir(fd.as_fd(), ENV_PATH).map(|b| String::from_utf8_lossy(&b).into_owned());
        let user_ids = user_ids(path, &fd, false, count, meta.as_ref())?;
        return Ok(ImageInfo { path: path.into(), format: "dir".into(), compression: None, bytes, files, meta, environment, user_ids, ..Default::default() });
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(invalid(format!("{path}: not a directory or SquashFS image (a device, fifo or socket)")));
    }
    let image_fd = fd.try_clone().map_err(|e| invalid(format!("cannot read the image {path}: {e}")))?;
    let file = File::from(fd);
    let mut head = vec![0u8; SUPERBLOCK];
    let n = std::os::unix::fs::FileExt::read_at(&file, &mut head, 0).unwrap_or(0);
    head.truncate(n);
    let compression = check_superblock(&head).map_err(|why| invalid(format!("{path}: {why}")))?;
    let fs = FilesystemReader::from_reader(BufReader::new(file)).map_err(|e| invalid(format!("{path}: cannot read the SquashFS image: {e}")))?;
    let (mut files, mut meta_bytes, mut env_bytes) = (0u64, None, None);
    for node in fs.files() {
        let p = node.fullpath.as_os_str().as_bytes();
        if p == b"/" {
            continue;
        }
        files += 1;
        if let InnerNode::File(f) = &node.inner {
            let want = if p == format!("/{META_PATH}").as_bytes() {
                &mut meta_bytes
            } else if p == format!("/{ENV_PATH}").as_bytes() {
                &mut env_bytes
            } else {
                continue;
            };
            let mut b = Vec::new();
            let r = fs.file(f).reader_checked().map_err(|e| invalid(format!("{path}: cannot read {}: {e}", node.fullpath.display())))?;
            r.take(MAX_META).read_to_end(&mut b).map_err(|e| invalid(format!("{path}: cannot read {}: {e}", node.fullpath.display())))?;
            *want = Some(b);
        }
    }
    let meta = parse_meta(path, meta_bytes)?;
    let environment = env_bytes.map(|b| String::from_utf8_lossy(&b).into_owned());
    let user_ids = user_ids(path, &image_fd, true, count, meta.as_ref())?;
    Ok(ImageInfo {
        path: path.into(),
        format: "squashfs".into(),
        compression: Some(compression.into()),
        bytes: st.st_size as u64,
        files,
        meta,
        environment,
        user_ids,
        ..Default::default()
    })
}

/// With `--meta-only` (what `run --image` with no command asks), the
/// config's `User` resolved in the image's own files when it names an
/// account; `E_IMAGE_USER` when the image does not list it.
fn user_ids(path: &str, fd: &std::os::fd::OwnedFd, squashfs: bool, count: bool, meta: Option<&ImageMeta>) -> Result<Option<UserIds>, SetupError> {
    match meta.and_then(|m| m.user.as_deref()) {
        Some(user) if !count && names_an_account(user) => resolve_at(path, fd, squashfs, user).map(Some),
        _ => Ok(None),
    }
}
