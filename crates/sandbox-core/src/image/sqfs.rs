//! Stage: the FUSE server's reader of a SquashFS 4.0 image (image/serve.rs),
//! lazy as squashfuse is: [`Reader::open`] reads the superblock, the id and
//! fragment tables, the xattr table's header and the root inode, and walks
//! the inode table's block headers (a corrupt table is refused before the
//! sandbox exists); inodes, directory listings and extended attributes are
//! read when the kernel asks for them. backhand's reader parses every inode
//! up front, which made the mount of a 20,000-file image wait for it.
//!
//! The layout is squashfs-tools' squashfs_fs.h (and the kernel's
//! fs/squashfs): metadata blocks of at most 8 KiB, each behind a 2-byte
//! header; inode references `(block << 16) | offset` relative to the inode
//! table; data blocks whose size word has bit 24 set when stored raw.
//!
//! Invariants: every length and reference read from the image is checked
//! against the image and the format's limits before it is used; every
//! decompression is bounded (8 KiB for metadata, the block size for data);
//! every loop advances through the file or a bounded count, so a hostile
//! image gets a clear error, never a hang, a panic or an unbounded
//! allocation. Caches are bounded in bytes.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// Largest decompressed metadata block.
const META: usize = 8192;
/// "No fragment" and "no xattrs" in an inode; "no table" in the superblock.
const NONE32: u32 = u32::MAX;
const NONE64: u64 = u64::MAX;
// The caches are small: the kernel keeps entries, attributes, listings and
// pages for as long as it likes (the image never changes), so what reaches
// the server is mostly read once; they catch neighbours (an 8 KiB block of
// inodes read for one, a fragment for many small files).
/// Bytes of decompressed metadata blocks kept.
const META_CACHE: usize = 1 << 20;
/// Bytes of decompressed data and fragment blocks kept (the kernel's page
/// cache keeps the pages; this catches blocks read in pieces, fragments and
/// the blocks decompressed ahead, each dropped once read whole).
const DATA_CACHE: usize = 4 << 20;
/// Bytes of directory listings kept.
const NODE_CACHE: usize = 1 << 20;
/// Bytes of inodes (with their files' block lists) kept.
const INODE_CACHE: usize = 512 << 10;

/// Why an image or one of its parts cannot be read.
pub type Error = String;

fn bad(what: impl std::fmt::Display) -> Error {
    format!("cannot read the SquashFS image: {what}")
}

/// The compressions we read (squashfs_fs.h's ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Xz,
    Zstd,
}

/// The superblock's fields the reader uses.
#[derive(Debug, Clone)]
pub struct Super {
    pub inodes: u32,
    pub block_size: u32,
    pub compression: Compression,
    pub root: u64,
    pub bytes_used: u64,
    id_table: u64,
    xattr_table: u64,
    inode_table: u64,
    dir_table: u64,
    frag_table: u64,
    export_table: u64,
    frag_count: u32,
    id_count: u16,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or_default())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default())
}

impl Super {
    /// Parse and check the 96-byte superblock of an image of `size` bytes.
    pub fn parse(b: &[u8], size: u64) -> Result<Super, Error> {
        if b.len() < 96 || &b[..4] != b"hsqs" {
            return Err(bad("no SquashFS superblock"));
        }
        let (major, minor) = (u16_at(b, 28), u16_at(b, 30));
        if (major, minor) != (4, 0) {
            return Err(bad(format!("version {major}.{minor} (4.0 is read)")));
        }
        let compression = match u16_at(b, 20) {
            1 => Compression::Gzip,
            4 => Compression::Xz,
            6 => Compression::Zstd,
            n => {
                return Err(bad(format!(
                    "compression {} is not supported (gzip, xz and zstd are)",
                    ["none", "gzip", "lzma", "lzo", "xz", "lz4", "zstd"].get(n as usize).copied().unwrap_or("unknown")
                )))
            }
        };
        let s = Super {
            inodes: u32_at(b, 4),
            block_size: u32_at(b, 12),
            frag_count: u32_at(b, 16),
            id_count: u16_at(b, 26),
            compression,
            root: u64_at(b, 32),
            bytes_used: u64_at(b, 40),
            id_table: u64_at(b, 48),
            xattr_table: u64_at(b, 56),
            inode_table: u64_at(b, 64),
            dir_table: u64_at(b, 72),
            frag_table: u64_at(b, 80),
            export_table: u64_at(b, 88),
        };
        let log = u16_at(b, 22);
        if !(4096..=1 << 20).contains(&s.block_size) || !s.block_size.is_power_of_two() || 1u32 << log.min(31) != s.block_size {
            return Err(bad(format!("block size {} (log {log})", s.block_size)));
        }
        if s.inodes == 0 || s.id_count == 0 {
            return Err(bad("no inodes or no ids"));
        }
        if s.bytes_used > size {
            return Err(bad(format!("{} bytes used but the file has {size} (truncated)", s.bytes_used)));
        }
        if !(96 <= s.inode_table && s.inode_table < s.dir_table && s.dir_table < s.bytes_used && s.id_table < s.bytes_used) {
            return Err(bad("tables out of order or outside the image"));
        }
        for t in [s.frag_table, s.export_table, s.xattr_table] {
            if t != NONE64 && t >= s.bytes_used {
                return Err(bad("a table outside the image"));
            }
        }
        Ok(s)
    }
}

/// What an inode is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A directory: its listing's place in the directory table and size,
    /// and its parent's inode number.
    Dir {
        block: u32,
        offset: u16,
        size: u32,
        parent: u32,
    },
    File(Arc<FileData>),
    Symlink(Vec<u8>),
    BlockDev(u32),
    CharDev(u32),
    Fifo,
    Socket,
}

/// Where a regular file's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileData {
    pub size: u64,
    /// Each full block's place and size word (bit 24: stored raw; 0: a hole).
    blocks: Vec<(u64, u32)>,
    /// The tail's fragment and offset in it, if the tail is in one.
    frag: Option<(u32, u32)>,
}

/// One inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inode {
    pub kind: Kind,
    pub mode: u16,
    pub uid: u32,
    pub gid: u32,
    pub mtime: u32,
    pub number: u32,
    pub nlink: u32,
    pub xattr: u32,
}

impl Inode {
    /// The size `stat` shows.
    pub fn size(&self) -> u64 {
        match &self.kind {
            Kind::Dir { size, .. } => u64::from(*size),
            Kind::File(f) => f.size,
            Kind::Symlink(t) => t.len() as u64,
            _ => 0,
        }
    }
}

/// One extended attribute: its full name (`user.x`) and value.
pub type Xattr = (Vec<u8>, Vec<u8>);

/// One directory entry: its name, inode reference and inode number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    pub name: Box<[u8]>,
    pub inode: u64,
    pub number: u32,
}

/// A decompressed metadata block and where the next one starts.
struct MetaBlock {
    data: Vec<u8>,
    next: u64,
}

/// A FIFO cache bounded in bytes.
struct Cache<T> {
    map: HashMap<u64, (Arc<T>, usize)>,
    order: VecDeque<u64>,
    bytes: usize,
    limit: usize,
}

impl<T> Cache<T> {
    fn new(limit: usize) -> Self {
        Cache { map: HashMap::new(), order: VecDeque::new(), bytes: 0, limit }
    }

    fn get(&self, k: u64) -> Option<Arc<T>> {
        self.map.get(&k).map(|v| v.0.clone())
    }

    /// Drop `k` now.
    fn remove(&mut self, k: u64) {
        if let Some((_, c)) = self.map.remove(&k) {
            self.bytes -= c;
            self.order.retain(|&o| o != k);
        }
    }

    fn put(&mut self, k: u64, v: Arc<T>, cost: usize) {
        if cost > self.limit || self.map.contains_key(&k) {
            return;
        }
        self.bytes += cost;
        self.map.insert(k, (v, cost));
        self.order.push_back(k);
        while self.bytes > self.limit {
            let Some(old) = self.order.pop_front() else { break };
            if let Some((_, c)) = self.map.remove(&old) {
                self.bytes -= c;
            }
        }
    }
}

/// An open image.
pub struct Reader {
    file: File,
    pub sb: Super,
    ids: Vec<u32>,
    /// Each fragment block's place and size word.
    frags: Vec<(u64, u32)>,
    /// The xattr table: where its key/value blocks start, how many ids, and
    /// the places of the blocks of its id table.
    xattrs: Option<(u64, u32, Vec<u64>)>,
    /// The end of the inode table as its block headers say, and how many blocks it has.
    inode_end: u64,
    inode_blocks: u64,
    meta: Mutex<Cache<MetaBlock>>,
    data: Mutex<Cache<Vec<u8>>>,
    dirs: Mutex<Cache<Vec<Child>>>,
    inodes: Mutex<Cache<Inode>>,
    /// Data blocks being decompressed now (by a read or the work ahead):
    /// a second reader of one waits for it instead of doing it again.
    busy: Mutex<HashSet<u64>>,
    done: Condvar,
    /// Blocks scheduled to be decompressed ahead ([`Reader::ahead`]) and
    /// not yet taken: by the work ahead, or by a read of the whole block
    /// (the kernel has it then, and the work ahead skips it).
    pending: Mutex<HashSet<u64>>,
    /// Data blocks decompressed (tests count them).
    #[cfg(test)]
    inflated: AtomicUsize,
}

/// What [`Reader::claim`] found of a data block.
enum Claim<'a> {
    /// Decompressed, in the cache.
    Cached(Arc<Vec<u8>>),
    /// Ours to decompress; released when dropped.
    Mine(Claimed<'a>),
    /// Another thread is at it (only when not asked to wait).
    Taken,
}

/// A data block this thread decompresses: the others wait until it is dropped.
struct Claimed<'a>(&'a Reader, u64);

impl Drop for Claimed<'_> {
    fn drop(&mut self) {
        if let Ok(mut b) = self.0.busy.lock() {
            b.remove(&self.1);
        }
        self.0.done.notify_all();
    }
}

/// Blocks to decompress ahead, shared by the threads doing it
/// ([`Reader::prefetch`]), each taking the next; made by [`Reader::ahead`].
pub struct Ahead {
    blocks: Vec<(u64, u32)>,
    next: AtomicUsize,
}

/// Bounded decompression of `src`, appended to `out`: at most `limit`
/// bytes, else an error and `out` as it was.
fn decompress(c: Compression, src: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), String> {
    let mark = out.len();
    out.resize(mark + limit, 0);
    let dst = &mut out[mark..];
    let n = match c {
        Compression::Gzip => {
            let mut z = flate2::Decompress::new(true);
            match z.decompress(src, dst, flate2::FlushDecompress::Finish) {
                Ok(flate2::Status::StreamEnd) => Ok(z.total_out() as usize),
                Ok(_) => Err("a zlib block larger than its limit or cut short".to_string()),
                Err(e) => Err(format!("zlib: {e}")),
            }
        }
        Compression::Zstd => zstd::bulk::decompress_to_buffer(src, dst).map_err(|e| format!("zstd: {e}")),
        Compression::Xz => match liblzma::stream::Stream::new_stream_decoder(64 << 20, 0) {
            Ok(mut s) => match s.process(src, dst, liblzma::stream::Action::Finish) {
                Ok(liblzma::stream::Status::StreamEnd) => Ok(s.total_out() as usize),
                Ok(_) => Err("an xz block larger than its limit or cut short".to_string()),
                Err(e) => Err(format!("xz: {e}")),
            },
            Err(e) => Err(format!("xz: {e}")),
        },
    };
    match n {
        Ok(n) => {
            out.truncate(mark + n);
            Ok(())
        }
        Err(e) => {
            out.truncate(mark);
            Err(e)
        }
    }
}

/// A reading position in a metadata table.
struct Cursor<'a> {
    r: &'a Reader,
    block: Arc<MetaBlock>,
    at: usize,
}

impl Cursor<'_> {
    /// The next `n` bytes (across blocks).
    fn take(&mut self, n: usize, out: &mut Vec<u8>) -> Result<(), Error> {
        out.clear();
        while out.len() < n {
            if self.at >= self.block.data.len() {
                self.block = self.r.meta_block(self.block.next)?;
                self.at = 0;
            }
            let k = (n - out.len()).min(self.block.data.len() - self.at);
            out.extend_from_slice(&self.block.data[self.at..self.at + k]);
            self.at += k;
        }
        Ok(())
    }

    fn bytes(&mut self, n: usize) -> Result<Vec<u8>, Error> {
        let mut v = Vec::with_capacity(n);
        self.take(n, &mut v)?;
        Ok(v)
    }

    fn u16(&mut self) -> Result<u16, Error> {
        let b = self.bytes(2)?;
        Ok(u16_at(&b, 0))
    }

    fn u32(&mut self) -> Result<u32, Error> {
        let b = self.bytes(4)?;
        Ok(u32_at(&b, 0))
    }

    fn u64(&mut self) -> Result<u64, Error> {
        let b = self.bytes(8)?;
        Ok(u64_at(&b, 0))
    }
}

impl Reader {
    /// Open the image on `file`: the superblock, id and fragment tables, the
    /// xattr table's header, the inode table's framing and the root inode.
    pub fn open(file: File) -> Result<Reader, Error> {
        let size = file.metadata().map_err(|e| format!("cannot stat the image: {e}"))?.len();
        let mut head = [0u8; 96];
        file.read_exact_at(&mut head, 0).map_err(|e| bad(format!("cannot read the superblock: {e}")))?;
        let sb = Super::parse(&head, size)?;
        let mut r = Reader {
            file,
            sb,
            ids: Vec::new(),
            frags: Vec::new(),
            xattrs: None,
            inode_end: 0,
            inode_blocks: 0,
            meta: Mutex::new(Cache::new(META_CACHE)),
            data: Mutex::new(Cache::new(DATA_CACHE)),
            dirs: Mutex::new(Cache::new(NODE_CACHE)),
            inodes: Mutex::new(Cache::new(INODE_CACHE)),
            busy: Mutex::new(HashSet::new()),
            done: Condvar::new(),
            pending: Mutex::new(HashSet::new()),
            #[cfg(test)]
            inflated: AtomicUsize::new(0),
        };
        // The inode table's blocks must end exactly where the directory
        // table starts. Their headers are read 128 KiB at a time (one pread
        // each was a tenth of a millisecond per hundred blocks of a start).
        let mut at = r.sb.inode_table;
        let mut buf = Vec::new();
        let mut base = at;
        while at < r.sb.dir_table {
            if at + 2 > base + buf.len() as u64 {
                let n = (r.sb.dir_table - at).clamp(2, 128 << 10);
                if at + n > r.sb.bytes_used {
                    return Err(bad(format!("a metadata block at {at} is outside the image")));
                }
                buf.resize(n as usize, 0);
                r.file.read_exact_at(&mut buf, at).map_err(|e| bad(format!("a metadata block at {at}: {e}")))?;
                base = at;
            }
            let len = u64::from(u16_at(&buf, (at - base) as usize) & 0x7fff);
            if len == 0 || len > META as u64 || at + 2 + len > r.sb.bytes_used {
                return Err(bad(format!("a metadata block at {at} with a bad length ({len})")));
            }
            at += 2 + len;
            r.inode_blocks += 1;
        }
        if at != r.sb.dir_table {
            return Err(bad("the inode table runs into the directory table"));
        }
        r.inode_end = at;
        r.ids = r.table(r.sb.id_table, usize::from(r.sb.id_count), 4, "id")?.chunks(4).map(|c| u32_at(c, 0)).collect();
        if r.sb.frag_count > 0 && r.sb.frag_table != NONE64 {
            let raw = r.table(r.sb.frag_table, r.sb.frag_count as usize, 16, "fragment")?;
            r.frags = raw.chunks(16).map(|c| (u64_at(c, 0), u32_at(c, 8))).collect();
        }
        if r.sb.xattr_table != NONE64 {
            let mut h = [0u8; 16];
            r.file.read_exact_at(&mut h, r.sb.xattr_table).map_err(|e| bad(format!("the xattr table: {e}")))?;
            let (kv, ids) = (u64_at(&h, 0), u32_at(&h, 8));
            let n = (ids as usize).div_ceil(512);
            if kv >= r.sb.xattr_table || r.sb.xattr_table + 16 + 8 * n as u64 > r.sb.bytes_used {
                return Err(bad("the xattr table is outside the image"));
            }
            let mut idx = vec![0u8; 8 * n];
            r.file.read_exact_at(&mut idx, r.sb.xattr_table + 16).map_err(|e| bad(format!("the xattr table: {e}")))?;
            r.xattrs = Some((kv, ids, idx.chunks(8).map(|c| u64_at(c, 0)).collect()));
        }
        let root = r.inode(r.sb.root)?;
        if !matches!(root.kind, Kind::Dir { .. }) {
            return Err(bad("the root inode is not a directory"));
        }
        Ok(r)
    }

    /// The header of the metadata block at `at`: its stored length and
    /// compression, and where the next block starts.
    fn meta_header(&self, at: u64) -> Result<(usize, u64, bool), Error> {
        let mut h = [0u8; 2];
        if at.checked_add(2).is_none_or(|e| e > self.sb.bytes_used) {
            return Err(bad(format!("a metadata block at {at} is outside the image")));
        }
        self.file.read_exact_at(&mut h, at).map_err(|e| bad(format!("a metadata block at {at}: {e}")))?;
        let h = u16::from_le_bytes(h);
        let len = usize::from(h & 0x7fff);
        if len == 0 || len > META || at + 2 + len as u64 > self.sb.bytes_used {
            return Err(bad(format!("a metadata block at {at} with a bad length ({len})")));
        }
        Ok((len, at + 2 + len as u64, h & 0x8000 == 0))
    }

    /// The metadata block at `at`, decompressed, from the cache or the image.
    fn meta_block(&self, at: u64) -> Result<Arc<MetaBlock>, Error> {
        if let Some(b) = self.meta.lock().map_err(|_| bad("a poisoned lock"))?.get(at) {
            return Ok(b);
        }
        let (len, next, compressed) = self.meta_header(at)?;
        let mut raw = vec![0u8; len];
        self.file.read_exact_at(&mut raw, at + 2).map_err(|e| bad(format!("a metadata block at {at}: {e}")))?;
        let data = if compressed {
            let mut out = Vec::new();
            decompress(self.sb.compression, &raw, &mut out, META).map_err(|e| bad(format!("a metadata block at {at}: {e}")))?;
            out
        } else {
            raw
        };
        if data.is_empty() {
            return Err(bad(format!("an empty metadata block at {at}")));
        }
        let b = Arc::new(MetaBlock { data, next });
        self.meta.lock().map_err(|_| bad("a poisoned lock"))?.put(at, b.clone(), META + 64);
        Ok(b)
    }

    fn cursor(&self, at: u64, offset: usize) -> Result<Cursor<'_>, Error> {
        let block = self.meta_block(at)?;
        if offset >= block.data.len() {
            return Err(bad(format!("offset {offset} past the metadata block at {at}")));
        }
        Ok(Cursor { r: self, block, at: offset })
    }

    /// A table of `count` entries of `each` bytes behind an index of block
    /// places at `at` (the id, fragment and xattr id tables).
    fn table(&self, at: u64, count: usize, each: usize, what: &str) -> Result<Vec<u8>, Error> {
        let blocks = (count * each).div_ceil(META);
        if at.checked_add(8 * blocks as u64).is_none_or(|e| e > self.sb.bytes_used) {
            return Err(bad(format!("the {what} table is outside the image")));
        }
        let mut idx = vec![0u8; 8 * blocks];
        self.file.read_exact_at(&mut idx, at).map_err(|e| bad(format!("the {what} table: {e}")))?;
        let mut out = Vec::with_capacity(count * each);
        for (i, c) in idx.chunks(8).enumerate() {
            let want = (count * each - i * META).min(META);
            let b = self.meta_block(u64_at(c, 0))?;
            let got = b.data.get(..want).ok_or_else(|| bad(format!("the {what} table is cut short")))?;
            out.extend_from_slice(got);
        }
        Ok(out)
    }

    fn id(&self, i: u16) -> Result<u32, Error> {
        self.ids.get(usize::from(i)).copied().ok_or_else(|| bad(format!("id index {i} past the id table")))
    }

    /// The inode at reference `r` (`(block << 16) | offset` in the inode table).
    pub fn inode(&self, r: u64) -> Result<Arc<Inode>, Error> {
        if let Some(i) = self.inodes.lock().map_err(|_| bad("a poisoned lock"))?.get(r) {
            return Ok(i);
        }
        let (block, offset) = (r >> 16, (r & 0xffff) as usize);
        let at = self.sb.inode_table.checked_add(block).filter(|a| *a < self.inode_end && r >> 48 == 0 && offset < META);
        let at = at.ok_or_else(|| bad(format!("inode reference {r:#x} outside the inode table")))?;
        let mut c = self.cursor(at, offset)?;
        let h = c.bytes(16)?;
        let (kind, mode, uid, gid, mtime, number) =
            (u16_at(&h, 0), u16_at(&h, 2), self.id(u16_at(&h, 4))?, self.id(u16_at(&h, 6))?, u32_at(&h, 8), u32_at(&h, 12));
        if number == 0 || number > self.sb.inodes {
            return Err(bad(format!("inode number {number} at {r:#x} out of range")));
        }
        let mut nlink = 1;
        let mut xattr = NONE32;
        let kind = match kind {
            1 => {
                let (block, n, size, offset, parent) = (c.u32()?, c.u32()?, c.u16()?, c.u16()?, c.u32()?);
                nlink = n;
                Kind::Dir { block, offset, size: u32::from(size), parent }
            }
            8 => {
                let (n, size, block, parent, _index, offset) = (c.u32()?, c.u32()?, c.u32()?, c.u32()?, c.u16()?, c.u16()?);
                nlink = n;
                xattr = c.u32()?;
                Kind::Dir { block, offset, size, parent }
            }
            2 | 9 => {
                let (start, size, frag, frag_off) = if kind == 2 {
                    let (start, frag, off, size) = (c.u32()?, c.u32()?, c.u32()?, c.u32()?);
                    (u64::from(start), u64::from(size), frag, off)
                } else {
                    let (start, size, _sparse) = (c.u64()?, c.u64()?, c.u64()?);
                    nlink = c.u32()?;
                    let (frag, off) = (c.u32()?, c.u32()?);
                    xattr = c.u32()?;
                    (start, size, frag, off)
                };
                let bs = u64::from(self.sb.block_size);
                let n = if frag == NONE32 { size.div_ceil(bs) } else { size / bs };
                // Each block's size word is 4 bytes of the (decompressed) inode table.
                if n > self.inode_blocks * (META as u64 / 4) {
                    return Err(bad(format!("inode {number}: {size} bytes in more blocks than the inode table holds")));
                }
                let words = c.bytes(4 * n as usize)?;
                let mut blocks = Vec::with_capacity(n as usize);
                let mut place = start;
                for w in words.chunks(4) {
                    let w = u32_at(w, 0);
                    blocks.push((place, w));
                    place = place.checked_add(u64::from(w & 0x00ff_ffff)).ok_or_else(|| bad(format!("inode {number}: blocks past the end")))?;
                }
                let frag = (frag != NONE32).then_some((frag, frag_off));
                if let Some((f, _)) = frag {
                    if f as usize >= self.frags.len() {
                        return Err(bad(format!("inode {number}: fragment {f} past the fragment table")));
                    }
                }
                Kind::File(Arc::new(FileData { size, blocks, frag }))
            }
            3 | 10 => {
                nlink = c.u32()?;
                let len = c.u32()? as usize;
                if len == 0 || len > 4096 {
                    return Err(bad(format!("inode {number}: a symlink of {len} bytes")));
                }
                let t = c.bytes(len)?;
                if kind == 10 {
                    xattr = c.u32()?;
                }
                Kind::Symlink(t)
            }
            4 | 5 | 11 | 12 => {
                nlink = c.u32()?;
                let dev = c.u32()?;
                if kind > 10 {
                    xattr = c.u32()?;
                }
                if kind % 7 == 4 {
                    Kind::BlockDev(dev)
                } else {
                    Kind::CharDev(dev)
                }
            }
            6 | 7 | 13 | 14 => {
                nlink = c.u32()?;
                if kind > 10 {
                    xattr = c.u32()?;
                }
                if kind % 7 == 6 {
                    Kind::Fifo
                } else {
                    Kind::Socket
                }
            }
            k => return Err(bad(format!("inode {number} of unknown type {k}"))),
        };
        let cost = 128 + if let Kind::File(f) = &kind { f.blocks.len() * 16 } else { 0 };
        let i = Arc::new(Inode { kind, mode, uid, gid, mtime, number, nlink, xattr });
        self.inodes.lock().map_err(|_| bad("a poisoned lock"))?.put(r, i.clone(), cost);
        Ok(i)
    }

    /// The entries of the directory `dir` (an inode of kind Dir), in the
    /// image's order, without `.` and `..`.
    pub fn list(&self, r: u64, dir: &Inode) -> Result<Arc<Vec<Child>>, Error> {
        let Kind::Dir { block, offset, size, .. } = dir.kind else { return Err(bad("not a directory")) };
        if let Some(l) = self.dirs.lock().map_err(|_| bad("a poisoned lock"))?.get(r) {
            return Ok(l);
        }
        // The listing's size counts 3 bytes for `.` and `..`, which are not stored.
        let mut left = (size as usize).saturating_sub(3);
        let mut out = Vec::new();
        if left > 0 {
            let at = self.sb.dir_table.checked_add(u64::from(block)).filter(|a| *a < self.sb.bytes_used);
            let at = at.ok_or_else(|| bad(format!("directory {}: its listing is outside the image", dir.number)))?;
            let mut c = self.cursor(at, usize::from(offset))?;
            let mut buf = Vec::new();
            while left > 0 {
                if left < 12 {
                    return Err(bad(format!("directory {}: a listing cut short", dir.number)));
                }
                c.take(12, &mut buf)?;
                left -= 12;
                let (count, start, base) = (u32_at(&buf, 0) + 1, u32_at(&buf, 4), u32_at(&buf, 8));
                if count > 256 {
                    return Err(bad(format!("directory {}: a run of {count} entries (256 at most)", dir.number)));
                }
                for _ in 0..count {
                    if left < 8 {
                        return Err(bad(format!("directory {}: a listing cut short", dir.number)));
                    }
                    c.take(8, &mut buf)?;
                    let (off, delta, len) = (u16_at(&buf, 0), u16_at(&buf, 2) as i16, usize::from(u16_at(&buf, 6)) + 1);
                    if left < 8 + len {
                        return Err(bad(format!("directory {}: a listing cut short", dir.number)));
                    }
                    left -= 8 + len;
                    let name = c.bytes(len)?;
                    if name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0) {
                        return Err(bad(format!("directory {}: an entry named {:?}", dir.number, String::from_utf8_lossy(&name))));
                    }
                    let number = i64::from(base) + i64::from(delta);
                    if !(1..=i64::from(self.sb.inodes)).contains(&number) || usize::from(off) >= META {
                        return Err(bad(format!("directory {}: entry {:?} out of range", dir.number, String::from_utf8_lossy(&name))));
                    }
                    out.push(Child { name: name.into_boxed_slice(), inode: (u64::from(start) << 16) | u64::from(off), number: number as u32 });
                }
            }
        }
        let cost = 64 + out.iter().map(|c| c.name.len() + 48).sum::<usize>();
        let l = Arc::new(out);
        self.dirs.lock().map_err(|_| bad("a poisoned lock"))?.put(r, l.clone(), cost);
        Ok(l)
    }

    /// The decompressed data block at `at` with size word `word` (a hole
    /// when 0: `len` zeros), from the cache or the image.
    fn block(&self, at: u64, word: u32, len: usize) -> Result<Arc<Vec<u8>>, Error> {
        if word == 0 {
            return Ok(Arc::new(vec![0; len]));
        }
        match self.claim(at, true)? {
            Claim::Cached(b) => Ok(b),
            Claim::Mine(mine) => self.fill(at, word, mine),
            Claim::Taken => Err(bad(format!("a data block at {at} claimed twice"))),
        }
    }

    /// Decompress the data block at `at`, claimed by this thread, into the
    /// cache (before the claim is let go, so its waiters find it there).
    fn fill(&self, at: u64, word: u32, mine: Claimed<'_>) -> Result<Arc<Vec<u8>>, Error> {
        let mut out = Vec::new();
        self.block_into(at, word, &mut out)?;
        let b = Arc::new(out);
        self.data.lock().map_err(|_| bad("a poisoned lock"))?.put(at, b.clone(), b.capacity());
        drop(mine);
        Ok(b)
    }

    /// The data block at `at` from the cache, else claimed for this thread
    /// to decompress; while another thread decompresses it, wait for it
    /// (`wait`) or say so. Lock order: `busy`, then `data`.
    fn claim(&self, at: u64, wait: bool) -> Result<Claim<'_>, Error> {
        let mut busy = self.busy.lock().map_err(|_| bad("a poisoned lock"))?;
        loop {
            if let Some(b) = self.data.lock().map_err(|_| bad("a poisoned lock"))?.get(at) {
                return Ok(Claim::Cached(b));
            }
            if busy.insert(at) {
                return Ok(Claim::Mine(Claimed(self, at)));
            }
            if !wait {
                return Ok(Claim::Taken);
            }
            busy = self.done.wait(busy).map_err(|_| bad("a poisoned lock"))?;
        }
    }

    /// Read and decompress the data block at `at` into `out` (cleared).
    fn block_into(&self, at: u64, word: u32, out: &mut Vec<u8>) -> Result<(), Error> {
        let stored = (word & 0x00ff_ffff) as usize;
        let bs = self.sb.block_size as usize;
        if stored > bs || at.checked_add(stored as u64).is_none_or(|e| e > self.sb.bytes_used) {
            return Err(bad(format!("a data block at {at} of {stored} bytes")));
        }
        if word & (1 << 24) != 0 {
            out.clear();
            out.resize(stored, 0);
            return self.file.read_exact_at(out, at).map_err(|e| bad(format!("a data block at {at}: {e}")));
        }
        let mut raw = vec![0u8; stored];
        self.file.read_exact_at(&mut raw, at).map_err(|e| bad(format!("a data block at {at}: {e}")))?;
        out.clear();
        #[cfg(test)]
        self.inflated.fetch_add(1, Ordering::Relaxed);
        decompress(self.sb.compression, &raw, out, bs).map_err(|e| bad(format!("a data block at {at}: {e}")))
    }

    /// The compressed blocks of `files`, in order, up to `budget` bytes
    /// (and never more than half the block cache), scheduled to be
    /// decompressed ahead by [`Reader::prefetch`].
    pub fn ahead(&self, files: &[Arc<FileData>], budget: usize) -> Result<Ahead, Error> {
        let bs = u64::from(self.sb.block_size);
        let budget = budget.min(DATA_CACHE / 2);
        let mut blocks = Vec::new();
        let mut bytes = 0;
        'files: for f in files {
            for (k, &(at, word)) in f.blocks.iter().enumerate() {
                if bytes >= budget {
                    break 'files;
                }
                if word != 0 && word & (1 << 24) == 0 {
                    blocks.push((at, word));
                    bytes += (f.size - k as u64 * bs).min(bs) as usize;
                }
            }
        }
        self.pending.lock().map_err(|_| bad("a poisoned lock"))?.extend(blocks.iter().map(|b| b.0));
        Ok(Ahead { blocks, next: AtomicUsize::new(0) })
    }

    /// Decompress blocks of `ahead` into the cache, one at a time, until
    /// none is left (what the server does for the program the sandbox is
    /// about to run while the sandbox is being set up, so that the reads of
    /// its exec find most blocks ready). Several threads may call it on one
    /// `ahead`: each takes the next block. Blocks a read took whole already,
    /// or is decompressing, are skipped.
    pub fn prefetch(&self, ahead: &Ahead) -> Result<(), Error> {
        loop {
            let k = ahead.next.fetch_add(1, Ordering::Relaxed);
            let Some(&(at, word)) = ahead.blocks.get(k) else { return Ok(()) };
            if let Claim::Mine(mine) = self.claim(at, false)? {
                if self.pending.lock().map_err(|_| bad("a poisoned lock"))?.remove(&at) {
                    self.fill(at, word, mine)?;
                }
            }
        }
    }

    /// The inode at `path` (absolute or relative to the root), symlinks
    /// resolved inside the image (`..` stops at its root, an absolute target
    /// starts again from it), as the kernel would with the image as `/`;
    /// `None` when a part is missing or not a directory.
    pub fn lookup(&self, path: &[u8]) -> Result<Option<Arc<Inode>>, Error> {
        /// Symlinks followed on one path, as the kernel's limit.
        const MAX_LINKS: usize = 40;
        let parts = |p: &[u8]| -> Vec<Vec<u8>> { p.split(|&b| b == b'/').filter(|c| !c.is_empty()).map(<[u8]>::to_vec).rev().collect() };
        let mut dirs = vec![self.sb.root];
        let mut todo = parts(path);
        let mut links = 0;
        let mut last = self.inode(self.sb.root)?;
        while let Some(name) = todo.pop() {
            match name.as_slice() {
                b"." => continue,
                b".." => {
                    if dirs.len() > 1 {
                        dirs.pop();
                    }
                    last = self.inode(*dirs.last().expect("the root stays"))?;
                    continue;
                }
                _ => {}
            }
            let at = *dirs.last().expect("the root stays");
            let dir = self.inode(at)?;
            if !matches!(dir.kind, Kind::Dir { .. }) {
                return Ok(None);
            }
            let list = self.list(at, &dir)?;
            let Some(c) = list.iter().find(|c| *c.name == *name) else { return Ok(None) };
            let node = self.inode(c.inode)?;
            match &node.kind {
                Kind::Symlink(target) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(bad(format!("too many symlinks on {}", String::from_utf8_lossy(path))));
                    }
                    if target.first() == Some(&b'/') {
                        dirs.truncate(1);
                    }
                    todo.extend(parts(target));
                    last = self.inode(*dirs.last().expect("the root stays"))?;
                }
                Kind::Dir { .. } => {
                    dirs.push(c.inode);
                    last = node;
                }
                _ if todo.is_empty() => return Ok(Some(node)),
                _ => return Ok(None),
            }
        }
        Ok(Some(last))
    }

    /// While work ahead is under way (the program's blocks, at its exec),
    /// a read of blocks it has scheduled decompresses them into the cache
    /// itself, from the far end of the read (the work ahead goes from the
    /// near end), so that two threads decompress and neither waits on the
    /// other; blocks in progress or done are left alone. Blocks `first` to
    /// `last` of `f`.
    fn help_ahead(&self, f: &FileData, first: u64, last: u64) -> Result<(), Error> {
        if self.pending.lock().map_err(|_| bad("a poisoned lock"))?.is_empty() {
            return Ok(());
        }
        for k in (first..=last).rev() {
            let Some(&(at, word)) = f.blocks.get(k as usize) else { continue };
            if !self.pending.lock().map_err(|_| bad("a poisoned lock"))?.contains(&at) {
                continue;
            }
            if let Claim::Mine(mine) = self.claim(at, false)? {
                if self.pending.lock().map_err(|_| bad("a poisoned lock"))?.remove(&at) {
                    self.fill(at, word, mine)?;
                }
            }
        }
        Ok(())
    }

    /// Up to `size` bytes of the file `f` from `offset`, appended to `out`.
    /// Whole blocks the read covers are read or decompressed straight into
    /// `out`; pieces of blocks and fragment tails go through the cache.
    pub fn read(&self, f: &FileData, offset: u64, size: u32, out: &mut Vec<u8>) -> Result<(), Error> {
        let len = f.size;
        let end = len.min(offset.saturating_add(u64::from(size)));
        let bs = u64::from(self.sb.block_size);
        if offset < end {
            self.help_ahead(f, offset / bs, (end - 1) / bs)?;
        }
        let mut pos = offset;
        let mut raw = Vec::new();
        while pos < end {
            let k = (pos / bs) as usize;
            let from = (pos % bs) as usize;
            let full = (len - k as u64 * bs).min(bs) as usize;
            if let Some(&(at, word)) = f.blocks.get(k) {
                let want = ((end - pos) as usize).min(full - from);
                if from == 0 && want == full && word & (1 << 24) != 0 {
                    // Whole blocks stored raw, one after another in the
                    // image: one read straight into the reply.
                    let mut n = 1;
                    let mut bytes = full;
                    while let Some(&(next, w)) = f.blocks.get(k + n) {
                        let whole = (len - (k + n) as u64 * bs).min(bs) as usize;
                        if w & (1 << 24) == 0 || next != at + bytes as u64 || pos + (bytes + whole) as u64 > end || (w & 0x00ff_ffff) as usize != whole {
                            break;
                        }
                        bytes += whole;
                        n += 1;
                    }
                    if (word & 0x00ff_ffff) as usize != full || at.checked_add(bytes as u64).is_none_or(|e| e > self.sb.bytes_used) {
                        return Err(bad(format!("a data block at {at} of {} bytes, not {full}", word & 0x00ff_ffff)));
                    }
                    let mark = out.len();
                    out.resize(mark + bytes, 0);
                    self.file.read_exact_at(&mut out[mark..], at).map_err(|e| bad(format!("a data block at {at}: {e}")))?;
                    pos += bytes as u64;
                    continue;
                }
                // A whole compressed block: from the cache (decompressed ahead,
                // or a piece read earlier; waiting for the thread at it),
                // else decompressed straight into the reply, not cached.
                let whole = if from == 0 && want == full && word != 0 { Some(self.claim(at, true)?) } else { None };
                if let Some(Claim::Cached(data)) = whole {
                    let piece = data.get(..full).ok_or_else(|| bad(format!("a data block at {at} cut short")))?;
                    out.extend_from_slice(piece);
                    // Read whole, it is in the kernel's page cache now (keep_cache): ours can go.
                    self.data.lock().map_err(|_| bad("a poisoned lock"))?.remove(at);
                    self.pending.lock().map_err(|_| bad("a poisoned lock"))?.remove(&at);
                } else if let Some(Claim::Mine(_mine)) = whole {
                    let stored = (word & 0x00ff_ffff) as usize;
                    if stored > bs as usize || at.checked_add(stored as u64).is_none_or(|e| e > self.sb.bytes_used) {
                        return Err(bad(format!("a data block at {at} of {stored} bytes")));
                    }
                    raw.resize(stored, 0);
                    self.file.read_exact_at(&mut raw, at).map_err(|e| bad(format!("a data block at {at}: {e}")))?;
                    let mark = out.len();
                    #[cfg(test)]
                    self.inflated.fetch_add(1, Ordering::Relaxed);
                    decompress(self.sb.compression, &raw, out, full).map_err(|e| bad(format!("a data block at {at}: {e}")))?;
                    if out.len() - mark != full {
                        return Err(bad(format!("a data block at {at} of {} bytes, not {full}", out.len() - mark)));
                    }
                    // Before the claim goes: work ahead that comes to it later skips it.
                    self.pending.lock().map_err(|_| bad("a poisoned lock"))?.remove(&at);
                } else {
                    let data = self.block(at, word, full)?;
                    let piece = data.get(from..from + want).ok_or_else(|| bad(format!("a data block at {at} cut short")))?;
                    out.extend_from_slice(piece);
                }
                pos += want as u64;
            } else {
                let (fi, foff) = f.frag.ok_or_else(|| bad("a file shorter than its blocks"))?;
                let &(at, word) = self.frags.get(fi as usize).ok_or_else(|| bad(format!("fragment {fi} past the fragment table")))?;
                let whole = self.block(at, word, 0)?;
                let tail = (len - f.blocks.len() as u64 * bs) as usize;
                let start = foff as usize + from;
                let piece = whole.get(start..foff as usize + tail).ok_or_else(|| bad(format!("fragment {fi} cut short")))?;
                let want = ((end - pos) as usize).min(piece.len());
                out.extend_from_slice(&piece[..want]);
                break;
            }
        }
        Ok(())
    }

    /// The extended attributes of `inode`: full names (`user.x`) and values.
    /// `trusted.*` is left out, as the kernel's squashfs shows it only to
    /// the host's root.
    pub fn xattrs(&self, inode: &Inode) -> Result<Vec<Xattr>, Error> {
        let Some((kv, ids, idx)) = &self.xattrs else { return Ok(Vec::new()) };
        if inode.xattr == NONE32 {
            return Ok(Vec::new());
        }
        let i = inode.xattr;
        if i >= *ids {
            return Err(bad(format!("inode {}: xattr id {i} past the xattr table", inode.number)));
        }
        let block = *idx.get(i as usize / 512).ok_or_else(|| bad("the xattr id table is cut short"))?;
        let mut c = self.cursor(block, (i as usize % 512) * 16)?;
        let (at, count) = (c.u64()?, c.u32()?);
        let place = |r: u64| -> Result<(u64, usize), Error> {
            let a = kv.checked_add(r >> 16).filter(|a| *a < self.sb.xattr_table && (r & 0xffff) < META as u64);
            Ok((a.ok_or_else(|| bad(format!("inode {}: an xattr reference {r:#x} outside the table", inode.number)))?, (r & 0xffff) as usize))
        };
        let (a, o) = place(at)?;
        let mut c = self.cursor(a, o)?;
        let mut out = Vec::new();
        if count > 65536 {
            return Err(bad(format!("inode {}: {count} xattrs", inode.number)));
        }
        for _ in 0..count {
            let (t, n) = (c.u16()?, usize::from(c.u16()?));
            if n > 255 {
                return Err(bad(format!("inode {}: an xattr name of {n} bytes", inode.number)));
            }
            let name = c.bytes(n)?;
            let vlen = c.u32()? as usize;
            if vlen > 65536 {
                return Err(bad(format!("inode {}: an xattr value of {vlen} bytes", inode.number)));
            }
            let mut value = c.bytes(vlen)?;
            if t & 0x100 != 0 {
                // Out of line: the value is a reference to the real one.
                if vlen != 8 {
                    return Err(bad(format!("inode {}: a bad out-of-line xattr", inode.number)));
                }
                let (a, o) = place(u64_at(&value, 0))?;
                let mut v = self.cursor(a, o)?;
                let n = v.u32()? as usize;
                if n > 65536 {
                    return Err(bad(format!("inode {}: an xattr value of {n} bytes", inode.number)));
                }
                value = v.bytes(n)?;
            }
            let prefix: &[u8] = match t & 0xff {
                0 => b"user.",
                2 => b"security.",
                1 => continue,
                k => return Err(bad(format!("inode {}: an xattr of unknown type {k}", inode.number))),
            };
            out.push(([prefix, &name].concat(), value));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    //! The reader against images written by backhand's writer (whole
    //! blocks, a hole, a fragment tail, links, devices), then against
    //! corrupt ones: garbled tables, references out of range, listings
    //! that run on, decompression bombs and a thousand flipped bytes, each
    //! a clear error and never a hang or a panic.
    use super::*;
    use backhand::compression::Compressor as BC;
    use backhand::{FilesystemCompressor, FilesystemWriter, NodeHeader};
    use std::io::Cursor as IoCursor;

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

    /// An image: /etc/{big,holey,small,link}, /null; its bytes and the files' contents.
    fn image_bytes(comp: BC) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
        let big = bytes(4096 * 3 + 1000, 7);
        let mut holey = vec![0u8; 4096 * 2];
        holey.extend(bytes(100, 9));
        let small = b"tail of a file in a fragment\n".to_vec();
        let h = NodeHeader::new(0o644, 0, 0, 1_700_000_000);
        let mut w = FilesystemWriter::default();
        w.set_block_size(4096);
        w.set_compressor(FilesystemCompressor::new(comp, None).unwrap());
        w.push_dir("etc", NodeHeader::new(0o755, 0, 0, 1)).unwrap();
        w.push_file(IoCursor::new(big.clone()), "etc/big", h).unwrap();
        w.push_file(IoCursor::new(holey.clone()), "etc/holey", h).unwrap();
        w.push_file(IoCursor::new(small.clone()), "etc/small", h).unwrap();
        w.push_symlink("small", "etc/link", NodeHeader::new(0o777, 0, 0, 1)).unwrap();
        w.push_char_device(0x0103, "null", NodeHeader::new(0o666, 0, 0, 1)).unwrap();
        let mut out = IoCursor::new(Vec::new());
        w.write(&mut out).unwrap();
        (out.into_inner(), big, holey, small)
    }

    fn open(b: &[u8]) -> Result<Reader, Error> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("sbx-sqfs-{}-{n}.sqfs", std::process::id()));
        std::fs::write(&path, b).unwrap();
        let file = File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        Reader::open(file)
    }

    fn child(r: &Reader, dir: u64, name: &str) -> u64 {
        let i = r.inode(dir).unwrap();
        r.list(dir, &i).unwrap().iter().find(|c| &*c.name == name.as_bytes()).unwrap_or_else(|| panic!("no {name}")).inode
    }

    fn read(r: &Reader, ino: u64, offset: u64, size: u32) -> Vec<u8> {
        let i = r.inode(ino).unwrap();
        let Kind::File(f) = &i.kind else { panic!("not a file: {i:?}") };
        let mut out = Vec::new();
        r.read(f, offset, size, &mut out).unwrap();
        out
    }

    #[test]
    fn reads_blocks_holes_and_fragments_at_any_offset() {
        for comp in [BC::Gzip, BC::Xz, BC::Zstd] {
            let (img, big, holey, small) = image_bytes(comp);
            let r = open(&img).unwrap();
            let etc = child(&r, r.sb.root, "etc");
            let (bi, hi, si) = (child(&r, etc, "big"), child(&r, etc, "holey"), child(&r, etc, "small"));
            assert_eq!(read(&r, bi, 0, 1 << 20), big, "{comp:?}");
            for (off, n) in [(0u64, 1u32), (4095, 2), (4096, 4096), (5000, 9000), (12288, 5000), (13287, 10), (13288, 10)] {
                let want = &big[(off as usize).min(big.len())..((off + u64::from(n)) as usize).min(big.len())];
                assert_eq!(read(&r, bi, off, n), want, "{comp:?} big at {off}+{n}");
            }
            assert_eq!(read(&r, hi, 0, 1 << 20), holey, "{comp:?}");
            assert_eq!(read(&r, hi, 8000, 300), holey[8000..], "{comp:?}");
            assert_eq!(read(&r, si, 5, 100), small[5..], "{comp:?}");
            let i = r.inode(si).unwrap();
            assert_eq!((i.size(), i.mode, i.uid, i.nlink, i.xattr), (small.len() as u64, 0o644, 0, 1, NONE32));
        }
    }

    #[test]
    fn prefetched_blocks_read_back_the_same_from_the_cache() {
        for comp in [BC::Gzip, BC::Zstd] {
            // Compressible (random bytes are stored raw, which needs no work ahead).
            let big: Vec<u8> = (0..4096 * 3 + 1000).map(|i| b"compressible text, block by block\n"[i % 34] ^ (i / 4096) as u8).collect();
            let mut w = FilesystemWriter::default();
            w.set_block_size(4096);
            w.set_compressor(FilesystemCompressor::new(comp, None).unwrap());
            w.push_dir("etc", NodeHeader::new(0o755, 0, 0, 1)).unwrap();
            w.push_file(IoCursor::new(big.clone()), "etc/big", NodeHeader::new(0o644, 0, 0, 1)).unwrap();
            let mut img = IoCursor::new(Vec::new());
            w.write(&mut img).unwrap();
            let r = open(&img.into_inner()).unwrap();
            let bi = child(&r, child(&r, r.sb.root, "etc"), "big");
            let i = r.inode(bi).unwrap();
            let Kind::File(f) = &i.kind else { panic!("not a file") };
            assert!(f.blocks.iter().all(|&(_, w)| w & (1 << 24) == 0), "{comp:?}: stored compressed");
            // A budget of one block: only the first is decompressed ahead.
            r.prefetch(&r.ahead(std::slice::from_ref(f), 1).unwrap()).unwrap();
            let cached = |k: usize| r.data.lock().unwrap().get(f.blocks[k].0).is_some();
            assert!(cached(0) && !cached(1), "{comp:?}");
            r.prefetch(&r.ahead(std::slice::from_ref(f), usize::MAX).unwrap()).unwrap();
            assert!((0..f.blocks.len()).all(cached), "{comp:?}");
            // Whole blocks now come from the cache: the same bytes, at any offset.
            assert_eq!(read(&r, bi, 0, 1 << 20), big, "{comp:?}");
            for (off, n) in [(0u64, 4096u32), (4096, 8192), (100, 5000), (12288, 2000)] {
                let want = &big[off as usize..((off + u64::from(n)) as usize).min(big.len())];
                assert_eq!(read(&r, bi, off, n), want, "{comp:?} big at {off}+{n}");
            }
        }
    }

    /// An image of one compressible file of `n` blocks of 4 KiB: the reader and the file.
    fn compressible(comp: BC, n: usize) -> (Reader, Arc<FileData>, Vec<u8>) {
        let big: Vec<u8> = (0..4096 * n + 1000).map(|i| b"compressible text, block by block\n"[i % 34] ^ (i / 4096) as u8).collect();
        let mut w = FilesystemWriter::default();
        w.set_block_size(4096);
        w.set_compressor(FilesystemCompressor::new(comp, None).unwrap());
        w.push_file(IoCursor::new(big.clone()), "big", NodeHeader::new(0o644, 0, 0, 1)).unwrap();
        let mut img = IoCursor::new(Vec::new());
        w.write(&mut img).unwrap();
        let r = open(&img.into_inner()).unwrap();
        let i = r.inode(child(&r, r.sb.root, "big")).unwrap();
        let Kind::File(f) = &i.kind else { panic!("not a file") };
        assert!(f.blocks.iter().all(|&(_, w)| w & (1 << 24) == 0), "{comp:?}: stored compressed");
        (r, f.clone(), big)
    }

    #[test]
    fn concurrent_readers_of_one_block_wait_for_one_decompression() {
        for comp in [BC::Gzip, BC::Zstd, BC::Xz] {
            let (r, f, big) = compressible(comp, 4);
            // Pieces of block 2 (through the cache), from eight threads at once.
            let got: Vec<Vec<u8>> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..8u64)
                    .map(|k| {
                        let (r, f) = (&r, &f);
                        s.spawn(move || {
                            let mut out = Vec::new();
                            r.read(f, 8192 + 100 * k, 1000, &mut out).unwrap();
                            out
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for (k, out) in got.iter().enumerate() {
                let at = 8192 + 100 * k;
                assert_eq!(out[..], big[at..at + 1000], "{comp:?} reader {k}");
            }
            assert_eq!(r.inflated.load(Ordering::Relaxed), 1, "{comp:?}: block 2 decompressed once");
            assert!(r.busy.lock().unwrap().is_empty(), "{comp:?}: no claim left");
        }
    }

    #[test]
    fn the_work_ahead_and_the_reads_decompress_each_block_once_between_them() {
        for comp in [BC::Gzip, BC::Zstd] {
            let (r, f, big) = compressible(comp, 24);
            let n = f.blocks.len();
            let ahead = r.ahead(std::slice::from_ref(&f), usize::MAX).unwrap();
            // Two threads ahead, one reading every block whole, in order, at the same time.
            let read = std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| r.prefetch(&ahead).unwrap());
                }
                let mut out = Vec::new();
                for k in 0..n as u64 {
                    r.read(&f, k * 4096, 4096, &mut out).unwrap();
                }
                out
            });
            assert_eq!(read, big, "{comp:?}");
            assert_eq!(r.inflated.load(Ordering::Relaxed), n, "{comp:?}: no block twice");
            assert!(r.busy.lock().unwrap().is_empty() && r.pending.lock().unwrap().is_empty(), "{comp:?}");
            // A block read whole from the cache left it (the kernel keeps the pages).
            let cached = (0..n).filter(|&k| r.data.lock().unwrap().get(f.blocks[k].0).is_some()).count();
            assert_eq!(cached, 0, "{comp:?}: {cached} blocks still cached");
        }
    }

    #[test]
    fn a_read_of_blocks_scheduled_ahead_takes_them_itself_and_the_work_ahead_then_skips_them() {
        let (r, f, big) = compressible(BC::Gzip, 12);
        let n = f.blocks.len();
        let ahead = r.ahead(std::slice::from_ref(&f), usize::MAX).unwrap();
        // One read of blocks 2 to 9 before any thread works ahead: it decompresses them itself.
        let mut out = Vec::new();
        r.read(&f, 2 * 4096, 8 * 4096, &mut out).unwrap();
        assert_eq!(out[..], big[2 * 4096..10 * 4096]);
        assert_eq!(r.inflated.load(Ordering::Relaxed), 8);
        // What it took left the cache; the rest is still scheduled and decompressed ahead once.
        assert!((2..10).all(|k| r.data.lock().unwrap().get(f.blocks[k].0).is_none()));
        r.prefetch(&ahead).unwrap();
        assert_eq!(r.inflated.load(Ordering::Relaxed), n);
        assert!(r.pending.lock().unwrap().is_empty() && r.busy.lock().unwrap().is_empty());
        let mut all = Vec::new();
        r.read(&f, 0, 1 << 20, &mut all).unwrap();
        assert_eq!(all, big);
    }

    #[test]
    fn the_work_ahead_never_reads_outside_the_image() {
        let (r, f, _) = compressible(BC::Gzip, 3);
        let end = r.sb.bytes_used;
        // Block places and sizes a corrupt inode could give: past the end, across it, larger than a block.
        for blocks in [vec![(end + 10, 100u32)], vec![(end - 10, 4000)], vec![(96, 0x00ff_ffff)], vec![(u64::MAX - 5, 100)]] {
            let bad_file = Arc::new(FileData { size: 4096 * blocks.len() as u64, blocks, frag: None });
            let ahead = r.ahead(&[bad_file.clone(), f.clone()], usize::MAX).unwrap();
            let e = r.prefetch(&ahead).unwrap_err();
            assert!(e.contains("data block"), "{e}");
            assert!(r.busy.lock().unwrap().is_empty(), "a failed block leaves no claim: {e}");
            assert!(r.read(&bad_file, 0, 4096, &mut Vec::new()).is_err());
        }
        // The budget bounds the work: none at all decompresses nothing.
        r.prefetch(&r.ahead(std::slice::from_ref(&f), 0).unwrap()).unwrap();
        assert_eq!(r.inflated.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn paths_resolve_inside_the_image_symlinks_too() {
        let (img, ..) = image_bytes(BC::Gzip);
        let r = open(&img).unwrap();
        let small = r.lookup(b"/etc/small").unwrap().unwrap();
        // etc/link -> small (relative to etc); `..` past the root stays at it.
        for p in ["/etc/link", "etc/link", "/../../etc/./link", "/etc/../etc/small"] {
            assert_eq!(r.lookup(p.as_bytes()).unwrap().as_deref(), Some(&*small), "{p}");
        }
        assert!(matches!(r.lookup(b"/etc").unwrap().unwrap().kind, Kind::Dir { .. }));
        assert!(matches!(r.lookup(b"/").unwrap().unwrap().kind, Kind::Dir { .. }));
        for p in ["/nope", "/etc/nope", "/etc/small/x", "/null/x", "/etc/link/x"] {
            assert_eq!(r.lookup(p.as_bytes()).unwrap(), None, "{p}");
        }
    }

    #[test]
    fn lists_names_links_devices_and_link_counts() {
        let (img, ..) = image_bytes(BC::Gzip);
        let r = open(&img).unwrap();
        let root = r.inode(r.sb.root).unwrap();
        let names: Vec<_> = r.list(r.sb.root, &root).unwrap().iter().map(|c| String::from_utf8_lossy(&c.name).into_owned()).collect();
        assert_eq!(names, ["etc", "null"]);
        let etc = child(&r, r.sb.root, "etc");
        let names: Vec<_> = r.list(etc, &r.inode(etc).unwrap()).unwrap().iter().map(|c| String::from_utf8_lossy(&c.name).into_owned()).collect();
        assert_eq!(names, ["big", "holey", "link", "small"]);
        let link = r.inode(child(&r, etc, "link")).unwrap();
        assert_eq!(link.kind, Kind::Symlink(b"small".to_vec()));
        assert_eq!(r.inode(child(&r, r.sb.root, "null")).unwrap().kind, Kind::CharDev(0x0103));
        assert!(matches!(root.kind, Kind::Dir { .. }));
        assert!(r.xattrs(&root).unwrap().is_empty());
    }

    #[test]
    fn a_sparse_file_of_many_blocks_reads() {
        // Its block list (zeros) compresses far below its 4 bytes a block.
        let mut w = FilesystemWriter::default();
        w.set_block_size(4096);
        let len = 4096 * 3000 + 5;
        let mut data = vec![0u8; len];
        data[len - 5..].copy_from_slice(b"end\n\n");
        w.push_file(IoCursor::new(data.clone()), "sparse", NodeHeader::new(0o644, 0, 0, 1)).unwrap();
        let mut out = IoCursor::new(Vec::new());
        w.write(&mut out).unwrap();
        let r = open(&out.into_inner()).unwrap();
        let f = child(&r, r.sb.root, "sparse");
        assert_eq!(r.inode(f).unwrap().size(), len as u64);
        assert_eq!(read(&r, f, len as u64 - 100, 200), data[len - 100..]);
        assert_eq!(read(&r, f, 0, 1 << 20), data[..1 << 20]);
    }

    #[test]
    fn refuses_what_is_not_an_image_or_a_sane_superblock() {
        assert!(open(&[0u8; 4096]).err().unwrap().contains("no SquashFS superblock"));
        let (img, ..) = image_bytes(BC::Gzip);
        let cases: [(usize, &[u8], &str); 5] = [
            (28, &[3, 0], "version 3.0"),
            (12, &[0, 0, 0x10, 0], "block size"),
            (20, &[3, 0], "lzo is not supported"),
            (40, &[0xff, 0xff, 0xff, 0x7f], "truncated"),
            (64, &[0xff, 0xff, 0xff, 0x7f], "out of order"),
        ];
        for (at, patch, want) in cases {
            let mut b = img.clone();
            b[at..at + patch.len()].copy_from_slice(patch);
            let e = open(&b).err().unwrap_or_else(|| panic!("{want}: opened"));
            assert!(e.starts_with("cannot read the SquashFS image: ") && e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn refuses_a_garbled_inode_table_at_open() {
        let (mut img, ..) = image_bytes(BC::Gzip);
        let at = u64_at(&img, 64) as usize;
        img[at..at + 2].copy_from_slice(&[0xff, 0xff]);
        assert!(open(&img).err().unwrap().contains("bad length"));
    }

    #[test]
    fn refuses_inode_references_out_of_range() {
        let (img, ..) = image_bytes(BC::Gzip);
        let r = open(&img).unwrap();
        for bad in [u64::MAX, 1 << 48, (1 << 40) | 5, r.sb.root | 0xfff0, 0x2000] {
            let e = r.inode(bad).err().unwrap_or_else(|| panic!("{bad:#x} read"));
            assert!(e.starts_with("cannot read the SquashFS image: "), "{e}");
        }
        // A reference into the middle of an inode reads garbage that must be refused or harmless.
        for off in 1..64u64 {
            let _ = r.inode(off);
        }
    }

    #[test]
    fn a_listing_that_runs_on_or_points_anywhere_ends_with_an_error() {
        let (img, ..) = image_bytes(BC::Gzip);
        let r = open(&img).unwrap();
        let root = r.inode(r.sb.root).unwrap();
        let Kind::Dir { block, offset, parent, .. } = root.kind else { panic!() };
        // Runs on past the table, to the end of the image.
        let long = Inode { kind: Kind::Dir { block, offset, size: u32::MAX, parent }, ..(*root).clone() };
        assert!(r.list(1 << 40, &long).is_err());
        // Points into the inode table's bytes and at an offset past its block.
        let astray = Inode { kind: Kind::Dir { block: 0, offset: 0, size: 4000, parent }, ..(*root).clone() };
        let dir_table = r.sb.dir_table;
        let r2 = Reader { sb: Super { dir_table: r.sb.inode_table, ..r.sb.clone() }, ..open(&img).unwrap() };
        assert!(r2.list(1 << 41, &astray).is_err());
        let past = Inode { kind: Kind::Dir { block, offset: 9000, size: 100, parent }, ..(*root).clone() };
        assert!(r.list(1 << 42, &past).err().unwrap().contains("past the metadata block"));
        assert_eq!(r.sb.dir_table, dir_table);
    }

    #[test]
    fn a_fragment_or_block_out_of_range_is_an_error() {
        let (img, ..) = image_bytes(BC::Gzip);
        let r = open(&img).unwrap();
        let f = FileData { size: 100, blocks: vec![], frag: Some((1000, 0)) };
        assert!(r.read(&f, 0, 100, &mut Vec::new()).err().unwrap().contains("past the fragment table"));
        let f = FileData { size: 4096, blocks: vec![(img.len() as u64 - 10, 4096 | 1 << 24)], frag: None };
        assert!(r.read(&f, 0, 4096, &mut Vec::new()).is_err());
        let f = FileData { size: 4096, blocks: vec![(0, 0x00ff_ffff)], frag: None };
        assert!(r.read(&f, 0, 4096, &mut Vec::new()).err().unwrap().contains("data block"));
    }

    #[test]
    fn decompression_is_bounded() {
        use std::io::Write as _;
        let zeros = vec![0u8; 1 << 20];
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&zeros).unwrap();
        let gz = z.finish().unwrap();
        let zs = zstd::bulk::compress(&zeros, 3).unwrap();
        for (c, src) in [(Compression::Gzip, gz), (Compression::Zstd, zs)] {
            let mut out = Vec::new();
            assert!(decompress(c, &src, &mut out, META).is_err(), "{c:?}");
            assert!(out.capacity() < 1 << 20, "{c:?}: {}", out.capacity());
            decompress(c, &src, &mut out, 1 << 20).unwrap();
            assert_eq!(out, zeros);
            assert!(decompress(c, &src[..src.len() / 2], &mut out, 1 << 20).is_err(), "{c:?} cut short");
        }
    }

    /// Every inode, listing, file and xattr under `r`, each at most once.
    fn walk(r: &Reader) {
        let mut seen = std::collections::HashSet::new();
        let mut todo = vec![r.sb.root];
        while let Some(at) = todo.pop() {
            if !seen.insert(at) || seen.len() > 10_000 {
                continue;
            }
            let Ok(i) = r.inode(at) else { continue };
            let _ = r.xattrs(&i);
            match &i.kind {
                Kind::Dir { .. } => {
                    if let Ok(l) = r.list(at, &i) {
                        todo.extend(l.iter().map(|c| c.inode));
                    }
                }
                Kind::File(f) => {
                    if let Ok(a) = r.ahead(std::slice::from_ref(f), usize::MAX) {
                        let _ = r.prefetch(&a);
                    }
                    let _ = r.read(f, 0, 1 << 20, &mut Vec::new());
                }
                _ => {}
            }
        }
    }

    #[test]
    fn a_thousand_flipped_bytes_never_hang_or_panic() {
        for comp in [BC::Gzip, BC::Zstd] {
            let (img, ..) = image_bytes(comp);
            let mut x = 0x9e37_79b9u32;
            for _ in 0..500 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let mut b = img.clone();
                let at = x as usize % b.len();
                b[at] ^= (x >> 8) as u8 | 1;
                if let Ok(r) = open(&b) {
                    walk(&r);
                }
            }
        }
    }
}
