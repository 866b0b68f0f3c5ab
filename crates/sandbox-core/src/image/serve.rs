//! Stage: the SquashFS image's FUSE server, a process of its own: a fork
//! of the launcher without exec ([`serve`], from image/fuse.rs, outside the
//! sandbox; `sandboxctl-init image-serve IMAGE_FD FUSE_FD READY_FD` is the
//! same server on inherited fds). It reads the image with our lazy
//! reader (image/sqfs.rs: the superblock and small tables at start, every
//! inode and listing when asked) and answers the kernel with `fuser` on
//! the `/dev/fuse` fd of the detached mount the launcher made; it never
//! mounts, unmounts or touches a namespace.
//!
//! Inputs: the image fd (O_RDONLY, checked by image/detect.rs), the fuse
//! fd (the mount already exists, its INIT request is queued) and a pipe on
//! which it answers `ok` once the image's tables are read and checked,
//! else the reason, which the launcher reports as `E_IMAGE_INVALID`.
//!
//! Invariants: read-only (every write-type request is answered EROFS by
//! fuser's defaults or ours); not dumpable (nothing may ptrace it or read
//! its memory); ends when the kernel aborts the connection (ENODEV: the
//! sandbox's mount namespace died with its last process). The image is
//! immutable, so entries, attributes, pages and directory listings are
//! cached by the kernel for as long as it likes (long TTLs, keep_cache,
//! cache_dir, cache_symlinks); the reader's own caches are bounded.
//!
//! Node ids are inode references (`(block << 16) | offset`, plus 2; the
//! root is 1), so no table maps them and hard links (one inode, many
//! entries) are one node with the image's link count. A directory entry
//! that points back at an ancestor is one node with two names, which the
//! kernel refuses to splice (ELOOP), so a loop in the image's directory
//! table cannot make a loop in the tree.

use super::sqfs::{Child, Inode, Kind, Reader};
use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, InitFlags, KernelConfig, OpenFlags, ReplyAttr, ReplyData,
    ReplyDirectory, ReplyDirectoryPlus, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyXattr, Request, Session, SessionACL,
};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

/// How long the kernel may trust an entry or attribute: the image never changes.
const TTL: Duration = Duration::from_secs(365 * 24 * 3600);
/// Largest read the kernel sends (FUSE_MAX_PAGES: 256 pages).
const MAX_IO: u32 = 1 << 20;
/// How the server's word begins when it cannot serve for a reason that is
/// not the image's (the launcher reports `E_FUSE_UNAVAILABLE`, not
/// `E_IMAGE_INVALID`).
pub const UNAVAILABLE: &str = "unavailable: ";
/// The comm of the server, as `ps` and the tests see it.
pub const COMM: &str = "sandboxctl-sqfs";

thread_local! {
    /// The thread's buffer for read replies.
    static REPLY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A directory node: its inode, its listing and its parent's node.
type Dir = (Arc<Inode>, Arc<Vec<Child>>, u64);

/// The image, served.
pub struct Image {
    r: Arc<Reader>,
    /// Each directory node's parent node, as lookups and listings met them
    /// (for `..` in readdir; directories only, 16 bytes each).
    parents: Mutex<HashMap<u64, u64>>,
    /// Set when the image is dropped (see [`Ended`]).
    ended: Ended,
}

impl Drop for Image {
    fn drop(&mut self) {
        self.ended.set();
    }
}

impl Image {
    /// Open the image on `file` (see [`Reader::open`]). Why not, in words.
    pub fn open(file: File) -> Result<Image, String> {
        Ok(Image { r: Arc::new(Reader::open(file)?), parents: Mutex::new(HashMap::new()), ended: Ended::default() })
    }

    /// The node id of the inode at reference `r`.
    fn node(&self, r: u64) -> u64 {
        if r == self.r.sb.root {
            1
        } else {
            r + 2
        }
    }

    /// The inode reference of node `n`.
    fn reference(&self, n: INodeNo) -> u64 {
        if n.0 == 1 {
            self.r.sb.root
        } else {
            n.0.wrapping_sub(2)
        }
    }

    fn inode(&self, n: INodeNo) -> Result<Arc<Inode>, Errno> {
        self.r.inode(self.reference(n)).map_err(|_| Errno::EIO)
    }

    fn attr(&self, node: u64, i: &Inode) -> FileAttr {
        let (kind, rdev) = match &i.kind {
            Kind::Dir { .. } => (FileType::Directory, 0),
            Kind::File(_) => (FileType::RegularFile, 0),
            Kind::Symlink(_) => (FileType::Symlink, 0),
            Kind::BlockDev(d) => (FileType::BlockDevice, *d),
            Kind::CharDev(d) => (FileType::CharDevice, *d),
            Kind::Fifo => (FileType::NamedPipe, 0),
            Kind::Socket => (FileType::Socket, 0),
        };
        let time = UNIX_EPOCH + Duration::from_secs(u64::from(i.mtime));
        let size = i.size();
        FileAttr {
            ino: INodeNo(node),
            size,
            blocks: size.div_ceil(512),
            atime: time,
            mtime: time,
            ctime: time,
            crtime: time,
            kind,
            perm: i.mode & 0o7777,
            nlink: i.nlink.max(1),
            uid: i.uid,
            gid: i.gid,
            rdev,
            blksize: self.r.sb.block_size,
            flags: 0,
        }
    }

    /// The attributes of a negative entry: node 0 tells the kernel the name
    /// is absent (fuse_lookup_name), the TTL how long it may say so.
    fn absent(&self) -> FileAttr {
        FileAttr {
            ino: INodeNo(0),
            size: 0,
            blocks: 0,
            atime: UNIX_EPOCH,
            mtime: UNIX_EPOCH,
            ctime: UNIX_EPOCH,
            crtime: UNIX_EPOCH,
            kind: FileType::RegularFile,
            perm: 0,
            nlink: 0,
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: self.r.sb.block_size,
            flags: 0,
        }
    }

    /// Directory node `n`: its inode, its listing and its parent's node.
    fn dir(&self, n: INodeNo) -> Result<Dir, Errno> {
        let dir = self.inode(n)?;
        if !matches!(dir.kind, Kind::Dir { .. }) {
            return Err(Errno::ENOTDIR);
        }
        let list = self.r.list(self.reference(n), &dir).map_err(|_| Errno::EIO)?;
        let parent = self.parents.lock().map_err(|_| Errno::EIO)?.get(&n.0).copied().unwrap_or(n.0);
        Ok((dir, list, parent))
    }

    /// Remember that directory `child` is in `parent`.
    fn met(&self, parent: u64, child: u64, i: &Inode) {
        if matches!(i.kind, Kind::Dir { .. }) && child != 1 {
            if let Ok(mut p) = self.parents.lock() {
                p.entry(child).or_insert(parent);
            }
        }
    }
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
        let dir = match self.inode(parent) {
            Ok(d) => d,
            Err(e) => return reply.error(e),
        };
        if !matches!(dir.kind, Kind::Dir { .. }) {
            return reply.error(Errno::ENOTDIR);
        }
        let list = match self.r.list(self.reference(parent), &dir) {
            Ok(l) => l,
            Err(_) => return reply.error(Errno::EIO),
        };
        // A name that is not there: a negative entry the kernel keeps as long
        // as the others (node 0; the image never changes), so a second
        // look-up of it (each directory of `$PATH` an exec walks, a missing
        // config file) costs no round trip.
        let Some(c) = list.iter().find(|c| &*c.name == name.as_bytes()) else { return reply.entry(&TTL, &self.absent(), Generation(0)) };
        let node = self.node(c.inode);
        match self.r.inode(c.inode) {
            Ok(i) => {
                self.met(parent.0, node, &i);
                reply.entry(&TTL, &self.attr(node, &i), Generation(0))
            }
            Err(_) => reply.error(Errno::EIO),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.inode(ino) {
            Ok(i) => reply.attr(&TTL, &self.attr(ino.0, &i)),
            Err(e) => reply.error(e),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.inode(ino).as_deref().map(|i| &i.kind) {
            Ok(Kind::Symlink(t)) => reply.data(t),
            Ok(_) => reply.error(Errno::EINVAL),
            Err(e) => reply.error(*e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if flags.0 & libc::O_ACCMODE != libc::O_RDONLY {
            return reply.error(Errno::EROFS);
        }
        match self.inode(ino).as_deref().map(|i| &i.kind) {
            Ok(Kind::File(_)) => reply.opened(FileHandle(0), FopenFlags::FOPEN_KEEP_CACHE),
            Ok(_) => reply.error(Errno::EINVAL),
            Err(e) => reply.error(*e),
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
        let i = match self.inode(ino) {
            Ok(i) => i,
            Err(e) => return reply.error(e),
        };
        let Kind::File(f) = &i.kind else { return reply.error(Errno::EINVAL) };
        // One reply buffer per thread, kept: a fresh 1 MiB one per read was
        // mapped, faulted in and unmapped every time (see `serve`'s mallopt).
        REPLY.with_borrow_mut(|out| {
            out.clear();
            out.reserve(size.min(MAX_IO) as usize);
            match self.r.read(f, offset, size, out) {
                Ok(()) => reply.data(out),
                Err(_) => reply.error(Errno::EIO),
            }
        })
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.inode(ino).as_deref().map(|i| &i.kind) {
            Ok(Kind::Dir { .. }) => reply.opened(FileHandle(0), FopenFlags::FOPEN_KEEP_CACHE | FopenFlags::FOPEN_CACHE_DIR),
            Ok(_) => reply.error(Errno::ENOTDIR),
            Err(e) => reply.error(*e),
        }
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let (_, list, parent) = match self.dir(ino) {
            Ok(d) => d,
            Err(e) => return reply.error(e),
        };
        // Offsets: 1 after ".", 2 after "..", 3 + i after child i.
        for k in offset as usize..list.len() + 2 {
            let (name, node, kind): (&[u8], u64, FileType) = match k {
                0 => (b".", ino.0, FileType::Directory),
                1 => (b"..", parent, FileType::Directory),
                _ => {
                    let c = &list[k - 2];
                    let node = self.node(c.inode);
                    match self.r.inode(c.inode) {
                        Ok(i) => {
                            self.met(ino.0, node, &i);
                            (&c.name, node, kind_of(&self.attr(node, &i)))
                        }
                        Err(_) => return reply.error(Errno::EIO),
                    }
                }
            };
            if reply.add(INodeNo(node), k as u64 + 1, kind, OsStr::from_bytes(name)) {
                break;
            }
        }
        reply.ok()
    }

    fn readdirplus(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectoryPlus) {
        let (dir, list, parent) = match self.dir(ino) {
            Ok(d) => d,
            Err(e) => return reply.error(e),
        };
        for k in offset as usize..list.len() + 2 {
            // The kernel links no entry for "." and ".." (fuse_direntplus_link): their attributes are the directory's.
            let (name, node, attr): (&[u8], u64, FileAttr) = match k {
                0 => (b".", ino.0, self.attr(ino.0, &dir)),
                1 => (b"..", parent, self.attr(parent, &dir)),
                _ => {
                    let c = &list[k - 2];
                    let node = self.node(c.inode);
                    match self.r.inode(c.inode) {
                        Ok(i) => {
                            self.met(ino.0, node, &i);
                            (&c.name, node, self.attr(node, &i))
                        }
                        Err(_) => return reply.error(Errno::EIO),
                    }
                }
            };
            if reply.add(INodeNo(node), k as u64 + 1, OsStr::from_bytes(name), &TTL, &attr, Generation(0)) {
                break;
            }
        }
        reply.ok()
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let bs = u64::from(self.r.sb.block_size);
        reply.statfs(self.r.sb.bytes_used.div_ceil(bs), 0, 0, u64::from(self.r.sb.inodes), 0, self.r.sb.block_size, 256, self.r.sb.block_size);
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let all = match self.inode(ino).and_then(|i| self.r.xattrs(&i).map_err(|_| Errno::EIO)) {
            Ok(a) => a,
            Err(e) => return reply.error(e),
        };
        match all.iter().find(|(n, _)| n.as_slice() == name.as_bytes()) {
            None => reply.error(Errno::ENODATA),
            Some((_, v)) if size == 0 => reply.size(v.len() as u32),
            Some((_, v)) if v.len() > size as usize => reply.error(Errno::ERANGE),
            Some((_, v)) => reply.data(v),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        let all = match self.inode(ino).and_then(|i| self.r.xattrs(&i).map_err(|_| Errno::EIO)) {
            Ok(a) => a,
            Err(e) => return reply.error(e),
        };
        let mut names = Vec::new();
        for (n, _) in &all {
            names.extend_from_slice(n);
            names.push(0);
        }
        if size == 0 {
            reply.size(names.len() as u32)
        } else if names.len() > size as usize {
            reply.error(Errno::ERANGE)
        } else {
            reply.data(&names)
        }
    }
}

/// Where the sandbox's program likely is in the image: `program` itself
/// when absolute, else the first of the usual `PATH` directories that has
/// it (a hint: a wrong guess costs only this thread's work).
fn program_in(r: &Reader, program: &str) -> Option<Arc<super::sqfs::FileData>> {
    const DIRS: [&str; 6] = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
    let candidates: Vec<String> = if program.starts_with('/') {
        vec![program.to_string()]
    } else if program.contains('/') {
        Vec::new()
    } else {
        DIRS.iter().map(|d| format!("{d}/{program}")).collect()
    };
    candidates.iter().find_map(|c| {
        let i = r.lookup(c.as_bytes()).ok().flatten()?;
        match &i.kind {
            Kind::File(f) => Some(f.clone()),
            _ => None,
        }
    })
}

/// Decompress the first blocks of the sandbox's program (up to half the
/// reader's data cache) so its exec finds them ready: on `workers` threads
/// (this one and more, as many as start), each taking the next block.
fn prefetch(r: &Arc<Reader>, program: &str, workers: usize) {
    let Some(f) = program_in(r, program) else { return };
    let Ok(ahead) = r.ahead(&[f], usize::MAX) else { return };
    let ahead = Arc::new(ahead);
    let mut helpers = Vec::new();
    for _ in 1..workers {
        let (r, a) = (Arc::clone(r), Arc::clone(&ahead));
        match std::thread::Builder::new().name("sqfs-prefetch".into()).spawn(move || r.prefetch(&a)) {
            Ok(h) => helpers.push(h),
            Err(_) => break,
        }
    }
    let _ = r.prefetch(&ahead);
    for h in helpers {
        let _ = h.join();
    }
}

/// Threads answering the kernel: one per core this process may run on
/// (sched_getaffinity: std's available_parallelism also reads the cgroup's
/// CPU quota files, a few hundred microseconds of every start), at most
/// four (each has a buffer, touched only as far as a request goes).
fn threads() -> usize {
    // SAFETY: a zeroed cpu_set_t filled by the kernel for this process.
    let cores = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            libc::CPU_COUNT(&set) as usize
        } else {
            1
        }
    };
    cores.clamp(1, MAX_THREADS)
}

/// The most threads the server starts.
const MAX_THREADS: usize = 4;

/// How many of `want` threads can start now, down to one; none when not
/// even one can (a pid shortage: RLIMIT_NPROC, a pids cgroup, a full pid
/// table). `spawn(i)` starts the i-th and holds it until all are counted.
pub(crate) fn startable(want: usize, spawn: &mut dyn FnMut(usize) -> std::io::Result<()>) -> usize {
    (0..want).take_while(|&i| spawn(i).is_ok()).count()
}

/// [`startable`] with real threads, parked on a lock until all are counted,
/// then let go and joined: fuser's `Session::run` starts one thread per
/// channel and gives up at the first that cannot start, so the server asks
/// it for only as many as can.
#[cfg(test)]
fn probe(want: usize) -> usize {
    Probe::start(want).count()
}

/// The threads of [`probe`], started and parked until [`Probe::count`]
/// lets them go (so that they are all alive while they are counted).
struct Probe {
    go: Ended,
    parked: Vec<std::thread::JoinHandle<()>>,
}

impl Probe {
    fn start(want: usize) -> Probe {
        let go = Ended::default();
        let mut parked = Vec::new();
        startable(want, &mut |_| {
            let g = go.clone();
            std::thread::Builder::new().name("fuser-probe".into()).stack_size(64 << 10).spawn(move || g.wait()).map(|h| parked.push(h))
        });
        Probe { go, parked }
    }

    /// How many started (each holds its pid until [`Probe::finish`]): known
    /// when they were made, without waiting for any of them to run.
    fn started(&self) -> usize {
        self.parked.len()
    }

    /// Let them go and join them (their pids free again for fuser's).
    fn finish(self) {
        self.go.set();
        for h in self.parked {
            let _ = h.join();
        }
    }

    /// How many started; each let go and joined.
    #[cfg(test)]
    fn count(self) -> usize {
        let n = self.started();
        self.finish();
        n
    }
}

/// Set when the filesystem is dropped: by `Session::run` when it ends, or by
/// the last of its threads when `run` gave up starting the others and
/// returned (they keep serving, detached, until the kernel ends the
/// connection).
#[derive(Clone, Default)]
pub(crate) struct Ended(Arc<(Mutex<bool>, std::sync::Condvar)>);

impl Ended {
    fn set(&self) {
        let (m, c) = &*self.0;
        if let Ok(mut done) = m.lock() {
            *done = true;
        }
        c.notify_all();
    }

    /// Wait until the filesystem is gone.
    pub(crate) fn wait(&self) {
        let (m, c) = &*self.0;
        let Ok(mut done) = m.lock() else { return };
        while !*done {
            match c.wait(done) {
                Ok(d) => done = d,
                Err(_) => return,
            }
        }
    }
}

/// Entry: `image-serve IMAGE_FD FUSE_FD READY_FD [PROGRAM]`, the server on
/// fds inherited across an exec (the launcher forks it without one:
/// [`serve`]). Exit 0 when the kernel ended the connection, 1 when the
/// image could not be served (the reason written on READY_FD).
pub fn main(args: &[String]) -> i32 {
    let fds: Vec<i32> = args.iter().take(3).filter_map(|a| a.parse().ok()).collect();
    let [image, fuse, ready] = fds[..] else {
        eprintln!("usage: sandboxctl-init image-serve IMAGE_FD FUSE_FD READY_FD [PROGRAM]");
        return 2;
    };
    serve(image, fuse, ready, args.get(3).map(String::as_str))
}

/// The server, in the process the launcher forked for it (image/fuse.rs):
/// the image fd, the mount's `/dev/fuse` fd and the socket for its word are
/// its own; `program` is the sandbox's `argv[0]`, decompressed ahead. What
/// to exit with: 0 when the kernel ended the connection, 1 when the image
/// could not be served (the reason written on `ready`).
pub fn serve(image: i32, fuse: i32, ready: i32, program: Option<&str>) -> i32 {
    let program = program.map(String::from);
    // Memory given back when freed: blocks of 64 KiB and more are mapped
    // and unmapped (glibc otherwise raises that bar to the largest block
    // freed, and the decompressed blocks then stay in the heap), the heap is
    // trimmed above 128 KiB free, and the threads share two arenas (one each
    // kept what its first reads had used).
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt with glibc's parameters, before any thread of ours.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 10);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 10);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
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
    // As many threads as can start (down to one during a pid shortage),
    // counted before the word (none at all is the launcher's
    // E_FUSE_UNAVAILABLE); they start while the tables are read.
    let probe = Probe::start(threads());
    let fs = match Image::open(image) {
        Ok(fs) => fs,
        Err(why) => return fail(&mut ready, why),
    };
    let r = Arc::clone(&fs.r);
    // Counted as they were made: waiting for them to run and end cost the
    // word a scheduling delay or two on a busy machine.
    let n = probe.started();
    if n == 0 {
        return fail(&mut ready, format!("{UNAVAILABLE}no thread can start (a pid shortage: RLIMIT_NPROC, a pids limit or a full pid table)"));
    }
    let ended = fs.ended.clone();
    let mut config = Config::default();
    config.n_threads = Some(n);
    config.clone_fd = n > 1;
    // SessionACL::All: the kernel already admits only the mount's owner
    // (no allow_other); its uid as the server sees it differs from ours.
    let session = match Session::from_fd(fs, fuse, SessionACL::All, config) {
        Ok(s) => s,
        Err(e) => return fail(&mut ready, format!("{UNAVAILABLE}{e}")),
    };
    let _ = ready.write_all(b"ok");
    drop(ready);
    probe.finish();
    // The program's blocks decompressed while the sandbox is set up, after
    // the word: before it, these threads took the cores the word and the
    // launcher wait for. One core is left to the sandbox's set-up (its
    // look-ups are served at once; a read of a block being decompressed
    // here waits for it instead of doing it again).
    if let Some(p) = program {
        let workers = threads().saturating_sub(1).max(1);
        let _ = std::thread::Builder::new().name("sqfs-prefetch".into()).spawn(move || prefetch(&r, &p, workers));
    } else {
        drop(r);
    }
    match session.run() {
        Ok(()) => 0,
        // fuser gave up starting threads after the count (pids taken in
        // between): those it started serve on, detached, until the kernel
        // ends the connection; the last one drops the image.
        Err(_) => {
            ended.wait();
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_count_falls_back_to_those_that_start() {
        let fails_from = |k: usize| move |i: usize| if i < k { Ok(()) } else { Err(std::io::Error::from_raw_os_error(libc::EAGAIN)) };
        assert_eq!(startable(4, &mut fails_from(9)), 4);
        assert_eq!(startable(4, &mut fails_from(2)), 2);
        assert_eq!(startable(4, &mut fails_from(1)), 1);
        assert_eq!(startable(4, &mut fails_from(0)), 0);
        // Counting stops at the first refusal: no thread is asked for after it.
        let mut asked = Vec::new();
        let n = startable(4, &mut |i| {
            asked.push(i);
            if i == 1 {
                Err(std::io::Error::from_raw_os_error(libc::EAGAIN))
            } else {
                Ok(())
            }
        });
        assert_eq!((n, asked), (1, vec![0, 1]));
    }

    #[test]
    fn the_probe_lets_its_threads_go() {
        // probe returns only once every thread it started was let go and joined.
        assert_eq!(probe(3), 3);
        assert!((1..=MAX_THREADS).contains(&threads()));
    }

    /// `probe(4)` in a child with uid `UNUSED` and RLIMIT_NPROC `limit`: the
    /// child is that uid's only task, so `limit - 1` threads can start.
    fn probe_with_nproc(limit: u64) -> i32 {
        const UNUSED: libc::uid_t = 2_000_000_123;
        // SAFETY: the child makes raw calls, then probes (glibc's fork leaves
        // malloc usable) and _exits; the parent waits for it.
        unsafe {
            let pid = libc::fork();
            assert!(pid >= 0);
            if pid == 0 {
                let lim = libc::rlimit { rlim_cur: limit, rlim_max: limit };
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(UNUSED) != 0
                    || libc::setuid(UNUSED) != 0
                    || libc::setrlimit(libc::RLIMIT_NPROC, &lim) != 0
                {
                    libc::_exit(99);
                }
                libc::_exit(probe(4) as i32);
            }
            let mut status = 0;
            assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
            assert!(libc::WIFEXITED(status));
            libc::WEXITSTATUS(status)
        }
    }

    #[test]
    fn a_pid_shortage_leaves_as_many_threads_as_can_start() {
        // The kernel's own refusal (RLIMIT_NPROC), which root is exempt from:
        // the child takes an unused uid first, so this needs root.
        // SAFETY: getuid has no preconditions.
        if unsafe { libc::getuid() } != 0 {
            eprintln!("skipped: needs root to take an unused uid (CI runs cargo test as root)");
            return;
        }
        assert_eq!(probe_with_nproc(64), 4);
        assert_eq!(probe_with_nproc(3), 2);
        assert_eq!(probe_with_nproc(2), 1);
        // Not even one: the server says so instead of serving (main).
        assert_eq!(probe_with_nproc(1), 0);
    }

    #[test]
    fn ended_is_set_when_the_last_holder_drops_the_image() {
        let ended = Ended::default();
        let held = ended.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            held.set();
        });
        ended.wait();
        t.join().unwrap();
        // Set already: wait returns at once.
        ended.wait();
    }
}
