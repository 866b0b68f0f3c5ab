//! Stage: the SquashFS image's FUSE server, a process of its own
//! (`sandboxctl-init image-serve IMAGE_FD FUSE_FD READY_FD`, started by
//! image/fuse.rs outside the sandbox). It reads the image with `backhand`
//! and answers the kernel with `fuser` on the `/dev/fuse` fd of the
//! detached mount the launcher made; it never mounts, unmounts or touches
//! a namespace.
//!
//! Inputs: the image fd (O_RDONLY, checked by image/detect.rs), the fuse
//! fd (the mount already exists, its INIT request is queued) and a pipe on
//! which it answers `ok` once the image is parsed and the handshake done,
//! else the reason, which the launcher reports as `E_IMAGE_INVALID`.
//!
//! Invariants: read-only (every write-type request is answered EROFS by
//! fuser's defaults or ours); not dumpable (nothing may ptrace it or read
//! its memory); ends when the kernel aborts the connection (ENODEV: the
//! sandbox's mount namespace died with its last process). The image is
//! immutable, so entries, attributes, pages and directory listings are
//! cached by the kernel for as long as it likes (long TTLs, keep_cache,
//! cache_dir, cache_symlinks); decompressed blocks are kept in a small
//! cache of our own (fragment blocks hold the tails of many small files).

use backhand::compression::{CompressionAction, Compressor, DefaultCompressor};
use backhand::{DataSize, FilesystemReader, InnerNode, SquashfsFileReader};
use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, InitFlags, KernelConfig, OpenFlags, ReplyAttr, ReplyData,
    ReplyDirectory, ReplyDirectoryPlus, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyXattr, Request, Session, SessionACL,
};
use std::collections::{HashMap, VecDeque};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

/// How long the kernel may trust an entry or attribute: the image never changes.
const TTL: Duration = Duration::from_secs(365 * 24 * 3600);
/// Bytes of decompressed blocks kept (the kernel's page cache keeps file pages).
const CACHE_BYTES: usize = 8 << 20;
/// Largest read the kernel sends (FUSE_MAX_PAGES: 256 pages).
const MAX_IO: u32 = 1 << 20;
/// The comm of the server, as `ps` and the tests see it.
pub const COMM: &str = "sandboxctl-sqfs";

/// One inode: its backhand node, its parent and, for a directory, its
/// children sorted by name (backhand's node order).
struct Entry {
    node: usize,
    parent: u64,
    children: Vec<(OsString, u64)>,
    subdirs: u32,
}

/// The image, indexed for FUSE: inode N is `entries[N - 1]` (1 is the root).
pub struct Image {
    fs: FilesystemReader<'static>,
    entries: Vec<Entry>,
    file: File,
    compressor: Compressor,
    block: u32,
    size: u64,
    cache: Mutex<BlockCache>,
}

/// A small FIFO-by-insertion cache of decompressed blocks keyed by their
/// place in the image.
#[derive(Default)]
struct BlockCache {
    map: HashMap<u64, Arc<Vec<u8>>>,
    order: VecDeque<u64>,
    bytes: usize,
}

impl BlockCache {
    fn get(&self, at: u64) -> Option<Arc<Vec<u8>>> {
        self.map.get(&at).cloned()
    }

    fn put(&mut self, at: u64, data: Arc<Vec<u8>>) {
        if self.map.contains_key(&at) {
            return;
        }
        self.bytes += data.len();
        self.map.insert(at, data);
        self.order.push_back(at);
        while self.bytes > CACHE_BYTES {
            let Some(old) = self.order.pop_front() else { break };
            if let Some(d) = self.map.remove(&old) {
                self.bytes -= d.len();
            }
        }
    }
}

impl Image {
    /// Parse the image on `file` (superblock, id, fragment, inode and
    /// directory tables) and index it. Why not, in words.
    pub fn open(file: File) -> Result<Image, String> {
        let size = file.metadata().map_err(|e| format!("cannot stat the image: {e}"))?.len();
        let mut dup = file.try_clone().map_err(|e| format!("cannot read the image: {e}"))?;
        // The launcher read the superblock through the same open file.
        dup.seek(SeekFrom::Start(0)).map_err(|e| format!("cannot read the image: {e}"))?;
        let fs = FilesystemReader::from_reader(BufReader::new(dup)).map_err(|e| format!("cannot read the SquashFS image: {}", describe(&e)))?;
        let compressor = match fs.compressor {
            Some(c) => c.into(),
            None => Compressor::Uncompressed,
        };
        if !matches!(compressor, Compressor::Uncompressed | Compressor::Gzip | Compressor::Xz | Compressor::Zstd) {
            return Err(format!("cannot read the SquashFS image: {compressor:?} compression is not supported (gzip, xz and zstd are)"));
        }
        let entries = index(&fs)?;
        let block = fs.block_size;
        Ok(Image { fs, entries, file, compressor, block, size, cache: Mutex::new(BlockCache::default()) })
    }

    fn entry(&self, ino: INodeNo) -> Option<&Entry> {
        usize::try_from(ino.0).ok().and_then(|i| i.checked_sub(1)).and_then(|i| self.entries.get(i))
    }

    fn attr(&self, ino: u64) -> FileAttr {
        let e = &self.entries[ino as usize - 1];
        let node = &self.fs.root.nodes[e.node];
        let h = &node.header;
        let (kind, size, rdev, nlink) = match &node.inner {
            InnerNode::File(f) => (FileType::RegularFile, f.file_len() as u64, 0, 1),
            InnerNode::Symlink(s) => (FileType::Symlink, s.link.as_os_str().len() as u64, 0, 1),
            InnerNode::Dir(_) => (FileType::Directory, 4096, 0, 2 + e.subdirs),
            InnerNode::CharacterDevice(d) => (FileType::CharDevice, 0, d.device_number, 1),
            InnerNode::BlockDevice(d) => (FileType::BlockDevice, 0, d.device_number, 1),
            InnerNode::NamedPipe => (FileType::NamedPipe, 0, 0, 1),
            InnerNode::Socket => (FileType::Socket, 0, 0, 1),
        };
        let time = UNIX_EPOCH + Duration::from_secs(u64::from(h.mtime));
        FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: time,
            mtime: time,
            ctime: time,
            crtime: time,
            kind,
            perm: h.permissions & 0o7777,
            nlink,
            uid: h.uid,
            gid: h.gid,
            rdev,
            blksize: self.block,
            flags: 0,
        }
    }

    /// The decompressed block stored at `at` with `size` (a hole when 0,
    /// `len` bytes of zeros), from the cache or the image.
    fn block(&self, at: u64, size: DataSize, len: usize) -> Result<Arc<Vec<u8>>, Errno> {
        if size.size() == 0 {
            return Ok(Arc::new(vec![0; len]));
        }
        if let Some(b) = self.cache.lock().map_err(|_| Errno::EIO)?.get(at) {
            return Ok(b);
        }
        let mut raw = vec![0; size.size() as usize];
        self.file.read_exact_at(&mut raw, at).map_err(|_| Errno::EIO)?;
        let data = if size.uncompressed() {
            raw
        } else {
            let mut out = Vec::with_capacity(self.block as usize);
            DefaultCompressor.decompress(&raw, &mut out, self.compressor).map_err(|_| Errno::EIO)?;
            out
        };
        let data = Arc::new(data);
        self.cache.lock().map_err(|_| Errno::EIO)?.put(at, data.clone());
        Ok(data)
    }

    /// Up to `size` bytes of `f` from `offset`.
    fn read(&self, f: &SquashfsFileReader, offset: u64, size: u32) -> Result<Vec<u8>, Errno> {
        let len = f.file_len() as u64;
        let end = len.min(offset.saturating_add(u64::from(size)));
        let mut out = Vec::with_capacity(end.saturating_sub(offset) as usize);
        let bs = u64::from(self.block);
        let sizes = f.block_sizes();
        let mut pos = offset;
        // Where block k starts: the blocks are stored one after another.
        let mut k = 0usize;
        let mut at = f.blocks_start();
        while pos < end {
            let want = (pos / bs) as usize;
            let data = if want < sizes.len() {
                while k < want {
                    at += u64::from(sizes[k].size());
                    k += 1;
                }
                let full = (len - want as u64 * bs).min(bs) as usize;
                self.block(at, sizes[want], full)?
            } else {
                let frags = self.fs.fragments.as_ref().ok_or(Errno::EIO)?;
                let frag = frags.get(f.frag_index()).ok_or(Errno::EIO)?;
                let whole = self.block(frag.start, frag.size, 0)?;
                let start = f.block_offset() as usize;
                let tail = (len - sizes.len() as u64 * bs) as usize;
                let piece = whole.get(start..start + tail).ok_or(Errno::EIO)?;
                let from = (pos - sizes.len() as u64 * bs) as usize;
                out.extend_from_slice(&piece[from..(from + (end - pos) as usize).min(piece.len())]);
                break;
            };
            let from = (pos % bs) as usize;
            let to = data.len().min(from + (end - pos) as usize);
            let piece = data.get(from..to).ok_or(Errno::EIO)?;
            if piece.is_empty() {
                return Err(Errno::EIO);
            }
            out.extend_from_slice(piece);
            pos += piece.len() as u64;
        }
        Ok(out)
    }
}

/// backhand's message, or its name when it has none.
fn describe(e: &backhand::BackhandError) -> String {
    let s = e.to_string();
    if s.trim().is_empty() {
        format!("{e:?}")
    } else {
        s
    }
}

/// Inode numbers for backhand's nodes (sorted by path: a parent comes
/// before its children, and a directory's children in name order).
fn index(fs: &FilesystemReader) -> Result<Vec<Entry>, String> {
    let nodes = &fs.root.nodes;
    let mut by_path: HashMap<&std::path::Path, u64> = HashMap::with_capacity(nodes.len());
    let mut entries: Vec<Entry> = Vec::with_capacity(nodes.len());
    for (i, node) in nodes.iter().enumerate() {
        let ino = i as u64 + 1;
        let parent = match node.fullpath.parent() {
            None => ino,
            Some(p) => *by_path.get(p).ok_or_else(|| format!("cannot read the SquashFS image: {} has no parent", node.fullpath.display()))?,
        };
        if i == 0 && parent != ino {
            return Err("cannot read the SquashFS image: no root directory".into());
        }
        by_path.insert(node.fullpath.as_path(), ino);
        entries.push(Entry { node: i, parent, children: Vec::new(), subdirs: 0 });
        if parent != ino {
            let name = node.fullpath.file_name().unwrap_or_default().to_os_string();
            let is_dir = matches!(node.inner, InnerNode::Dir(_));
            let p = &mut entries[parent as usize - 1];
            p.children.push((name, ino));
            p.subdirs += u32::from(is_dir);
        }
    }
    for e in &mut entries {
        e.children.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    }
    Ok(entries)
}

fn kind_of(attr: &FileAttr) -> FileType {
    attr.kind
}

impl Filesystem for Image {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Large reads; the kernel caches what it may; readdirplus always
        // (one request lists a directory with its attributes: no lookup per
        // entry for `find` or `ls -l`); lookups in parallel.
        let _ = config.set_max_write(MAX_IO);
        let _ = config.set_max_readahead(MAX_IO);
        let want = InitFlags::FUSE_DO_READDIRPLUS
            | InitFlags::FUSE_CACHE_SYMLINKS
            | InitFlags::FUSE_PARALLEL_DIROPS
            | InitFlags::FUSE_ASYNC_READ
            | InitFlags::FUSE_MAX_PAGES;
        let _ = config.add_capabilities(want & config.capabilities());
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let Some(dir) = self.entry(parent) else { return reply.error(Errno::ENOENT) };
        match dir.children.binary_search_by(|c| c.0.as_bytes().cmp(name.as_bytes())) {
            Ok(i) => reply.entry(&TTL, &self.attr(dir.children[i].1), Generation(0)),
            Err(_) => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.entry(ino) {
            Some(_) => reply.attr(&TTL, &self.attr(ino.0)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.entry(ino).map(|e| &self.fs.root.nodes[e.node].inner) {
            Some(InnerNode::Symlink(s)) => reply.data(s.link.as_os_str().as_bytes()),
            Some(_) => reply.error(Errno::EINVAL),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if flags.0 & libc::O_ACCMODE != libc::O_RDONLY {
            return reply.error(Errno::EROFS);
        }
        match self.entry(ino).map(|e| &self.fs.root.nodes[e.node].inner) {
            Some(InnerNode::File(_)) => reply.opened(FileHandle(0), FopenFlags::FOPEN_KEEP_CACHE),
            Some(_) => reply.error(Errno::EINVAL),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock: Option<fuser::LockOwner>,
        reply: ReplyData,
    ) {
        match self.entry(ino).map(|e| &self.fs.root.nodes[e.node].inner) {
            Some(InnerNode::File(f)) => match self.read(f, offset, size) {
                Ok(data) => reply.data(&data),
                Err(e) => reply.error(e),
            },
            Some(_) => reply.error(Errno::EINVAL),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.entry(ino).map(|e| &self.fs.root.nodes[e.node].inner) {
            Some(InnerNode::Dir(_)) => reply.opened(FileHandle(0), FopenFlags::FOPEN_KEEP_CACHE | FopenFlags::FOPEN_CACHE_DIR),
            Some(_) => reply.error(Errno::ENOTDIR),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let Some(dir) = self.entry(ino) else { return reply.error(Errno::ENOENT) };
        // Offsets: 1 after ".", 2 after "..", 3 + i after child i.
        let dots = [(OsStr::new("."), ino.0), (OsStr::new(".."), dir.parent)];
        let all = dots.into_iter().chain(dir.children.iter().map(|(n, i)| (n.as_os_str(), *i)));
        for (k, (name, child)) in all.enumerate().skip(offset as usize) {
            if reply.add(INodeNo(child), k as u64 + 1, kind_of(&self.attr(child)), name) {
                break;
            }
        }
        reply.ok()
    }

    fn readdirplus(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectoryPlus) {
        let Some(dir) = self.entry(ino) else { return reply.error(Errno::ENOENT) };
        let dots = [(OsStr::new("."), ino.0), (OsStr::new(".."), dir.parent)];
        let all = dots.into_iter().chain(dir.children.iter().map(|(n, i)| (n.as_os_str(), *i)));
        for (k, (name, child)) in all.enumerate().skip(offset as usize) {
            if reply.add(INodeNo(child), k as u64 + 1, name, &TTL, &self.attr(child), Generation(0)) {
                break;
            }
        }
        reply.ok()
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let files = self.entries.len() as u64;
        reply.statfs(self.size.div_ceil(u64::from(self.block)), 0, 0, files, 0, self.block, 256, self.block);
    }

    fn getxattr(&self, _req: &Request, _ino: INodeNo, _name: &OsStr, _size: u32, reply: ReplyXattr) {
        // backhand's reader keeps no extended attributes: none to show.
        reply.error(Errno::ENODATA)
    }

    fn listxattr(&self, _req: &Request, _ino: INodeNo, size: u32, reply: ReplyXattr) {
        if size == 0 {
            reply.size(0)
        } else {
            reply.data(&[])
        }
    }
}

/// Threads answering the kernel: one per core, at most four (each has a
/// buffer, touched only as far as a request goes).
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4)
}

/// Entry: `image-serve IMAGE_FD FUSE_FD READY_FD`. Exit 0 when the kernel
/// ended the connection, 1 when the image could not be served (the reason
/// written on READY_FD).
pub fn main(args: &[String]) -> i32 {
    let fds: Vec<i32> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let [image, fuse, ready] = fds[..] else {
        eprintln!("usage: sandboxctl-init image-serve IMAGE_FD FUSE_FD READY_FD");
        return 2;
    };
    // SAFETY: prctl with integer arguments and a NUL-terminated name.
    unsafe {
        // Not dumpable: the sandbox's processes have the caller's uid and
        // could otherwise ptrace the server or read its memory.
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        libc::prctl(libc::PR_SET_NAME, c"sandboxctl-sqfs".as_ptr(), 0, 0, 0);
    }
    // SAFETY: the three fds were passed to us by the launcher and are ours alone.
    let (image, fuse, mut ready) = unsafe { (File::from_raw_fd(image), OwnedFd::from_raw_fd(fuse), File::from_raw_fd(ready)) };
    let fail = |ready: &mut File, why: String| {
        let _ = ready.write_all(why.as_bytes());
        1
    };
    let fs = match Image::open(image) {
        Ok(fs) => fs,
        Err(why) => return fail(&mut ready, why),
    };
    let mut config = Config::default();
    config.n_threads = Some(threads());
    config.clone_fd = true;
    // SessionACL::All: the kernel already admits only the mount's owner
    // (no allow_other); its uid as the server sees it differs from ours.
    let session = match Session::from_fd(fs, fuse, SessionACL::All, config) {
        Ok(s) => s,
        Err(e) => return fail(&mut ready, format!("cannot serve the SquashFS image: {e}")),
    };
    let _ = ready.write_all(b"ok");
    drop(ready);
    match session.run() {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

#[cfg(test)]
mod tests {
    //! The reader against an image written by backhand's writer: whole
    //! blocks, a hole, a fragment tail, reads across block edges, names.
    use super::*;
    use backhand::{FilesystemCompressor, FilesystemWriter, NodeHeader};
    use std::io::Cursor;

    fn bytes(n: usize, seed: u32) -> Vec<u8> {
        let mut x = seed.wrapping_mul(2_654_435_761) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect()
    }

    fn image(comp: Compressor) -> (Image, Vec<u8>, Vec<u8>) {
        let big = bytes(4096 * 3 + 1000, 7);
        let mut holey = vec![0u8; 4096 * 2];
        holey.extend(bytes(100, 9));
        let small = b"tail of a file in a fragment\n".to_vec();
        let h = NodeHeader::new(0o644, 0, 0, 1_700_000_000);
        let mut w = FilesystemWriter::default();
        w.set_block_size(4096);
        w.set_compressor(FilesystemCompressor::new(comp, None).unwrap());
        w.push_dir("etc", NodeHeader::new(0o755, 0, 0, 1)).unwrap();
        w.push_file(Cursor::new(big.clone()), "etc/big", h).unwrap();
        w.push_file(Cursor::new(holey.clone()), "etc/holey", h).unwrap();
        w.push_file(Cursor::new(small.clone()), "etc/small", h).unwrap();
        w.push_symlink("small", "etc/link", NodeHeader::new(0o777, 0, 0, 1)).unwrap();
        w.push_char_device(0x0103, "null", NodeHeader::new(0o666, 0, 0, 1)).unwrap();
        let mut out = Cursor::new(Vec::new());
        w.write(&mut out).unwrap();
        let path = std::env::temp_dir().join(format!("sbx-serve-{}-{comp:?}.sqfs", std::process::id()));
        std::fs::write(&path, out.into_inner()).unwrap();
        let file = File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        (Image::open(file).unwrap(), big, [holey, small].concat())
    }

    fn find(img: &Image, dir: u64, name: &str) -> u64 {
        let e = &img.entries[dir as usize - 1];
        e.children[e.children.binary_search_by(|c| c.0.as_bytes().cmp(name.as_bytes())).unwrap()].1
    }

    fn read(img: &Image, ino: u64, offset: u64, size: u32) -> Vec<u8> {
        match &img.fs.root.nodes[img.entries[ino as usize - 1].node].inner {
            InnerNode::File(f) => img.read(f, offset, size).unwrap(),
            other => panic!("not a file: {other:?}"),
        }
    }

    #[test]
    fn reads_blocks_holes_and_fragments_at_any_offset() {
        for comp in [Compressor::Gzip, Compressor::Xz, Compressor::Zstd] {
            let (img, big, rest) = image(comp);
            let etc = find(&img, 1, "etc");
            let (bi, hi, si) = (find(&img, etc, "big"), find(&img, etc, "holey"), find(&img, etc, "small"));
            assert_eq!(read(&img, bi, 0, 1 << 20), big, "{comp:?}");
            for (off, n) in [(0u64, 1u32), (4095, 2), (4096, 4096), (5000, 9000), (12288, 5000), (13287, 10), (13288, 10)] {
                let want = &big[(off as usize).min(big.len())..((off + u64::from(n)) as usize).min(big.len())];
                assert_eq!(read(&img, bi, off, n), want, "{comp:?} big at {off}+{n}");
            }
            let holey_len = 4096 * 2 + 100;
            assert_eq!(read(&img, hi, 0, 1 << 20), rest[..holey_len], "{comp:?}");
            assert_eq!(read(&img, hi, 8000, 300), rest[8000..holey_len], "{comp:?}");
            assert_eq!(read(&img, si, 5, 100), rest[holey_len + 5..], "{comp:?}");
            let a = img.attr(si);
            assert_eq!((a.size, a.perm, a.kind, a.uid), ((rest.len() - holey_len) as u64, 0o644, FileType::RegularFile, 0));
        }
    }

    #[test]
    fn indexes_names_parents_links_and_devices() {
        let (img, _, _) = image(Compressor::Gzip);
        let etc = find(&img, 1, "etc");
        assert_eq!(img.entries[etc as usize - 1].parent, 1);
        assert_eq!(img.attr(1).nlink, 3, "root: itself, its entry and etc's ..");
        let names: Vec<_> = img.entries[etc as usize - 1].children.iter().map(|c| c.0.to_str().unwrap().to_string()).collect();
        assert_eq!(names, ["big", "holey", "link", "small"]);
        let link = find(&img, etc, "link");
        assert_eq!((img.attr(link).kind, img.attr(link).size), (FileType::Symlink, 5));
        let null = find(&img, 1, "null");
        assert_eq!((img.attr(null).kind, img.attr(null).rdev), (FileType::CharDevice, 0x0103));
        assert!(img.entries[0].children.binary_search_by(|c| c.0.as_bytes().cmp(b"missing".as_slice())).is_err());
    }

    #[test]
    fn refuses_a_file_that_is_not_an_image() {
        let path = std::env::temp_dir().join(format!("sbx-serve-bad-{}", std::process::id()));
        std::fs::write(&path, vec![0u8; 4096]).unwrap();
        let file = File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(Image::open(file).err().unwrap().starts_with("cannot read the SquashFS image: "));
    }
}
