//! Stage: the launcher, before clone (and pid 1 again for a directory, see
//! root.rs). What the image is: a directory, else a regular file whose
//! first four bytes are the SquashFS magic `hsqs` (ch-run's test, digest
//! A3 image_type) and whose superblock is sane; anything else is
//! `E_IMAGE_INVALID` naming the file and what was found. The superblock
//! check (SquashFS 4.0 layout, squashfs-tools' squashfs_fs.h) refuses a
//! corrupt image before any namespace exists, where ch-run's squashfuse
//! fails only at mount time.

use crate::error::{Code, SetupError};
use crate::plan::{ImageFormat, RootSpec, RootWrite};
use crate::sys::{Errno, Fd, FileKind, Sys};

/// What an image is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Dir,
    Squashfs,
}

/// Size of a SquashFS 4.0 superblock.
pub const SUPERBLOCK: usize = 96;
const MAGIC: &[u8; 4] = b"hsqs";

fn invalid(msg: String) -> SetupError {
    SetupError::new(Code::ImageInvalid, msg)
}

/// Open and recognise `spec.image`: a directory (an O_PATH fd) or a
/// SquashFS file (an O_RDONLY fd, for the FUSE server). Symlinks to the
/// image are followed, as ch-run does.
pub fn detect(sys: &dyn Sys, spec: &RootSpec) -> Result<(ImageKind, Fd), SetupError> {
    let image = &spec.image;
    let fd = sys.open(image, libc::O_PATH).map_err(|e| SetupError::sys(Code::ImageInvalid, format_args!("open the image {image}"), e))?;
    let kind = sys.fstat(fd).map_err(|e| SetupError::sys(Code::ImageInvalid, format_args!("stat the image {image}"), e));
    let kind = match kind {
        Ok(k) => k,
        Err(e) => {
            let _ = sys.close(fd);
            return Err(e);
        }
    };
    if kind == FileKind::Dir {
        if spec.format == ImageFormat::Squashfs {
            let _ = sys.close(fd);
            return Err(invalid(format!("{image}: is a directory, not a SquashFS file")));
        }
        return Ok((ImageKind::Dir, fd));
    }
    let _ = sys.close(fd);
    if kind != FileKind::File {
        return Err(invalid(format!("{image}: not a directory or SquashFS image (a device, fifo or socket)")));
    }
    if spec.format == ImageFormat::Dir {
        return Err(invalid(format!("{image}: is a file, not a directory")));
    }
    let fd = sys.open(image, libc::O_RDONLY | libc::O_NOCTTY).map_err(|e| SetupError::sys(Code::ImageInvalid, format_args!("open the image {image}"), e))?;
    let head = match sys.read(fd, SUPERBLOCK) {
        Ok(b) => b,
        Err(e) => {
            let _ = sys.close(fd);
            return Err(SetupError::sys(Code::ImageInvalid, format_args!("read the image {image}"), e));
        }
    };
    if let Err(why) = check_superblock(&head) {
        let _ = sys.close(fd);
        return Err(invalid(format!("{image}: {why}")));
    }
    if spec.write == RootWrite::Writable {
        let _ = sys.close(fd);
        return Err(invalid(format!("{image}: a SquashFS image cannot be written (use write \"fake\" for writes that vanish with the sandbox)")));
    }
    Ok((ImageKind::Squashfs, fd))
}

/// The compressions of a SquashFS superblock's `compression` field.
pub fn compression_name(id: u16) -> Option<&'static str> {
    Some(match id {
        1 => "gzip",
        2 => "lzma",
        3 => "lzo",
        4 => "xz",
        5 => "lz4",
        6 => "zstd",
        _ => return None,
    })
}

/// Why `head` (the first bytes of a file) is not a usable SquashFS 4.0
/// superblock; the compression's name when it is.
pub fn check_superblock(head: &[u8]) -> Result<&'static str, String> {
    if head.len() < 4 || &head[..4] != MAGIC {
        let magic: Vec<String> = head.iter().take(4).map(|b| format!("{b:02x}")).collect();
        let found = if magic.is_empty() { "an empty file".to_string() } else { format!("magic {}", magic.join(" ")) };
        return Err(format!("not a directory or SquashFS image ({found})"));
    }
    if head.len() < SUPERBLOCK {
        return Err("cannot read the SquashFS superblock: the file is shorter than one".into());
    }
    let u16_at = |o: usize| u16::from_le_bytes([head[o], head[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes(head[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(head[o..o + 8].try_into().unwrap());
    let bad = |what: String| Err(format!("cannot read the SquashFS superblock: {what}"));
    let (major, minor) = (u16_at(28), u16_at(30));
    if (major, minor) != (4, 0) {
        return bad(format!("version {major}.{minor} (only 4.0 is read)"));
    }
    if u32_at(4) == 0 {
        return bad("inode count 0".into());
    }
    let block = u32_at(12);
    let log = u16_at(22);
    if !(4096..=1 << 20).contains(&block) || !block.is_power_of_two() || u32::from(log) != block.trailing_zeros() {
        return bad(format!("block size {block} (log {log})"));
    }
    let Some(comp) = compression_name(u16_at(20)) else {
        return bad(format!("unknown compression {}", u16_at(20)));
    };
    let used = u64_at(40);
    let (ids, inodes, dirs) = (u64_at(48), u64_at(64), u64_at(72));
    if inodes < SUPERBLOCK as u64 || inodes >= dirs || dirs >= used || ids >= used {
        return bad("table offsets out of order".into());
    }
    Ok(comp)
}

/// The `E_FUSE_UNAVAILABLE` error for `/dev/fuse` refusing us.
pub fn fuse_error(e: Errno) -> SetupError {
    let hint = match e.0 {
        libc::ENOENT | libc::ENODEV | libc::ENXIO => "the fuse module is not loaded: modprobe fuse",
        _ => "/dev/fuse is not open to users: chmod 0666 /dev/fuse (what Debian's udev rule does)",
    };
    SetupError::sys(Code::FuseUnavailable, "open /dev/fuse", e).with_hint(hint)
}

/// A sane superblock, for the other modules' tests.
#[cfg(test)]
pub fn tests_superblock() -> Vec<u8> {
    tests::good_superblock()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::script::{Ret, Script};

    /// A superblock as mksquashfs 4.5 writes it (gzip, 128 KiB blocks).
    pub fn good_superblock() -> Vec<u8> {
        let mut b = vec![0u8; SUPERBLOCK];
        b[..4].copy_from_slice(MAGIC);
        b[4..8].copy_from_slice(&18u32.to_le_bytes());
        b[12..16].copy_from_slice(&(128u32 << 10).to_le_bytes());
        b[20..22].copy_from_slice(&1u16.to_le_bytes());
        b[22..24].copy_from_slice(&17u16.to_le_bytes());
        b[28..30].copy_from_slice(&4u16.to_le_bytes());
        b[40..48].copy_from_slice(&1_040_000u64.to_le_bytes());
        b[48..56].copy_from_slice(&1_039_000u64.to_le_bytes());
        b[64..72].copy_from_slice(&1_000_000u64.to_le_bytes());
        b[72..80].copy_from_slice(&1_020_000u64.to_le_bytes());
        b
    }

    fn spec(json: &str) -> RootSpec {
        serde_json::from_str(json).unwrap()
    }

    fn c(s: impl Into<String>, r: Ret) -> (String, Ret) {
        (s.into(), r)
    }

    #[test]
    fn superblock_checks() {
        assert_eq!(check_superblock(&good_superblock()), Ok("gzip"));
        assert_eq!(check_superblock(b"You are"), Err("not a directory or SquashFS image (magic 59 6f 75 20)".into()));
        assert_eq!(check_superblock(b""), Err("not a directory or SquashFS image (an empty file)".into()));
        assert!(check_superblock(&good_superblock()[..50]).unwrap_err().contains("shorter"));
        let corrupt = |at: usize, bytes: &[u8]| {
            let mut b = good_superblock();
            b[at..at + bytes.len()].copy_from_slice(bytes);
            check_superblock(&b).unwrap_err()
        };
        assert!(corrupt(4, &[0, 0, 0, 0]).contains("inode count 0"));
        assert!(corrupt(28, &[3, 0]).contains("version 3.0"));
        assert!(corrupt(12, &[0, 0, 3, 0]).contains("block size"));
        assert!(corrupt(22, &[16, 0]).contains("block size"));
        assert!(corrupt(20, &[9, 0]).contains("unknown compression 9"));
        assert!(corrupt(64, &[0xff; 8]).contains("table offsets"));
    }

    #[test]
    fn a_directory_is_an_o_path_fd() {
        let s = Script::new(vec![c(format!("open(\"/img\", {:#o})", libc::O_PATH), Ret::Fd(5)), c("fstat(5)", Ret::Kind(FileKind::Dir))]);
        assert_eq!(detect(&s, &spec(r#"{"image":"/img"}"#)).unwrap(), (ImageKind::Dir, 5));
        s.done();
        let s =
            Script::new(vec![c(format!("open(\"/img\", {:#o})", libc::O_PATH), Ret::Fd(5)), c("fstat(5)", Ret::Kind(FileKind::Dir)), c("close(5)", Ret::Ok)]);
        let e = detect(&s, &spec(r#"{"image":"/img","format":"squashfs"}"#)).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (Code::ImageInvalid, "/img: is a directory, not a SquashFS file"));
        s.done();
    }

    fn file_calls(head: Vec<u8>) -> Vec<(String, Ret)> {
        vec![
            c(format!("open(\"/i.sqfs\", {:#o})", libc::O_PATH), Ret::Fd(5)),
            c("fstat(5)", Ret::Kind(FileKind::File)),
            c("close(5)", Ret::Ok),
            c(format!("open(\"/i.sqfs\", {:#o})", libc::O_RDONLY | libc::O_NOCTTY), Ret::Fd(6)),
            c("read(6, 96)", Ret::Bytes(head)),
        ]
    }

    #[test]
    fn a_squashfs_file_is_a_read_fd() {
        let s = Script::new(file_calls(good_superblock()));
        assert_eq!(detect(&s, &spec(r#"{"image":"/i.sqfs"}"#)).unwrap(), (ImageKind::Squashfs, 6));
        s.done();
    }

    #[test]
    fn other_files_are_invalid_with_what_was_found() {
        let mut calls = file_calls(b"You are not".to_vec());
        calls.push(c("close(6)", Ret::Ok));
        let s = Script::new(calls);
        let e = detect(&s, &spec(r#"{"image":"/i.sqfs"}"#)).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (Code::ImageInvalid, "/i.sqfs: not a directory or SquashFS image (magic 59 6f 75 20)"));
        s.done();
        let mut calls = file_calls(good_superblock());
        calls.push(c("close(6)", Ret::Ok));
        let s = Script::new(calls);
        let e = detect(&s, &spec(r#"{"image":"/i.sqfs","write":"writable"}"#)).unwrap_err();
        assert!(e.message.contains("cannot be written"), "{}", e.message);
        s.done();
        let s = Script::new(vec![c(format!("open(\"/nope\", {:#o})", libc::O_PATH), Ret::Err(libc::ENOENT))]);
        let e = detect(&s, &spec(r#"{"image":"/nope"}"#)).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (Code::ImageInvalid, "cannot open the image /nope: no such file or directory"));
        s.done();
        let s = Script::new(vec![
            c(format!("open(\"/fifo\", {:#o})", libc::O_PATH), Ret::Fd(5)),
            c("fstat(5)", Ret::Kind(FileKind::Other)),
            c("close(5)", Ret::Ok),
        ]);
        assert!(detect(&s, &spec(r#"{"image":"/fifo"}"#)).unwrap_err().message.contains("device, fifo or socket"));
        s.done();
    }
}
