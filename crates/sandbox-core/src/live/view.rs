//! The filesystem view (seed 001's `containerFSView`, issue 13): a worker
//! that pid 1 forks after its privilege drop, so it has exactly the
//! sandbox's restrictions, root, tmpfs and overlay contents, serving file
//! operations from the library over the client's stdin/stdout (the pipes
//! Node made: libuv's socketpairs).
//!
//! Frames both ways: one JSON line, then `len` raw bytes (writeFile's data,
//! readFile's contents). One operation at a time; the working directory
//! (`chdir`) persists across calls, as the seed's per-view cwd does.
//!
//! Every path is resolved inside the root fd the view holds, as
//! openat2(RESOLVE_IN_ROOT) does: `..` stops at the root, an absolute
//! symlink starts again at the root, at most 40 links. The walk is done
//! here one component at a time (each directory opened O_PATH|O_NOFOLLOW
//! under the one before) because the sandbox's own filter answers openat2
//! with ENOSYS (seccomp/presets.rs, the CVE-2021-41133 rule) and the worker
//! must keep that filter. An operation then acts on (directory fd, last
//! name) with the *at calls, never following a link there: a directory
//! swapped for a symlink between the walk and the call fails the call
//! (ELOOP/ENOTDIR) and the walk starts again, never goes through it.

use crate::error::Code;
use nix::errno::Errno;
use nix::fcntl::{self, AtFlags, OFlag};
use nix::sys::stat::{self, FileStat, Mode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::VecDeque;
use std::io::{BufRead, Read, Write};
use std::os::fd::{AsFd, OwnedFd};

/// Symlinks followed in one resolution (the kernel's MAXSYMLINKS).
const MAX_LINKS: usize = 40;
/// Walks restarted after a race before giving up (EAGAIN, as openat2).
const RETRIES: usize = 16;
/// The longest request line.
const MAX_LINE: usize = 64 * 1024;

/// One request: `{"id":1,"op":"stat","path":"/x"}` (and `len` bytes after it).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Frame {
    pub id: u64,
    #[serde(default)]
    pub len: u64,
    #[serde(flatten)]
    pub op: Op,
}

fn default_file_mode() -> u32 {
    0o666
}
fn default_dir_mode() -> u32 {
    0o777
}

/// The operations; paths are absolute or relative to the view's directory.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Op {
    Stat {
        path: String,
    },
    Lstat {
        path: String,
    },
    ReadFile {
        path: String,
    },
    WriteFile {
        path: String,
        #[serde(default = "default_file_mode")]
        mode: u32,
        /// `w` (create or truncate), `wx` (create, fail if it exists), `a` (append).
        #[serde(default)]
        flag: Option<String>,
    },
    Readdir {
        path: String,
    },
    Mkdir {
        path: String,
        #[serde(default)]
        recursive: bool,
        #[serde(default = "default_dir_mode")]
        mode: u32,
    },
    Rm {
        path: String,
        #[serde(default)]
        recursive: bool,
        #[serde(default)]
        force: bool,
    },
    Rename {
        from: String,
        to: String,
    },
    Realpath {
        path: String,
    },
    Readlink {
        path: String,
    },
    Symlink {
        target: String,
        path: String,
    },
    Chmod {
        path: String,
        mode: u32,
    },
    Chdir {
        path: String,
    },
    Cwd,
}

/// A failed operation, as the library shows it (Node's `errno`/`syscall`/`path` and our code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ViewError {
    pub code: Code,
    pub errno: String,
    pub syscall: String,
    pub path: String,
    pub message: String,
}

/// What a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FsEntryType {
    Dir,
    File,
    Symlink,
    Fifo,
    Socket,
    Char,
    Block,
    Other,
    /// readdir only: the filesystem did not say (DT_UNKNOWN).
    Unknown,
}

/// `stat` and `lstat`: seed 001's `PathStat` and Node's `Stats` fields.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FsStat {
    /// The last component of the path asked (`/` for the root).
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FsEntryType,
    /// `st_mode` (type and permission bits).
    pub mode: u32,
    pub size: i64,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u64,
    pub ino: u64,
    pub dev: u64,
    pub mtime_ms: f64,
    pub atime_ms: f64,
    pub ctime_ms: f64,
    /// When the path itself is a symlink: where it leads, every link on the
    /// way followed inside the sandbox's root (as far as it goes for a broken
    /// one); else null.
    #[schemars(required)]
    pub link_target: Option<String>,
}

/// One entry of `readdir`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
pub struct FsDirent {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FsEntryType,
}

/// What an operation gives back.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ViewResult {
    Stat(FsStat),
    Entries(Vec<FsDirent>),
    /// realpath, readlink, chdir and cwd: a path.
    Path(String),
}

/// One reply line: `{id, ok: true, result}`, `{id, ok: true, len}` before
/// `len` bytes of file data, or `{id, ok: false, error}`. `id` is null only
/// for a request line that could not be parsed.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ViewReply {
    #[schemars(required)]
    pub id: Option<u64>,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ViewResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ViewError>,
}

/// The view protocol's contract for the library (packages/core/src/live/view-types.ts,
/// generated by `npm run gen`): the requests and the replies.
#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
pub struct ViewProtocol {
    pub request: Op,
    pub reply: ViewReply,
}

/// The JSON Schema of the view protocol (schema/view.schema.json).
pub fn json_schema() -> String {
    let mut s = serde_json::to_string_pretty(&schemars::schema_for!(ViewProtocol)).expect("schema serializes");
    s.push('\n');
    s
}

/// The stable code for an errno of a view operation.
pub fn code_of(e: Errno) -> Code {
    match e {
        Errno::ENOENT => Code::NotFound,
        Errno::ENOTDIR => Code::NotDir,
        Errno::EISDIR => Code::IsDir,
        Errno::EEXIST => Code::Exists,
        Errno::ENOTEMPTY => Code::NotEmpty,
        Errno::EROFS => Code::ReadOnly,
        Errno::EACCES | Errno::EPERM => Code::Permission,
        Errno::EINVAL | Errno::EBUSY => Code::Usage,
        _ => Code::Setup,
    }
}

fn fail(e: Errno, syscall: &str, path: &str) -> ViewError {
    ViewError {
        code: code_of(e),
        errno: format!("{e:?}"),
        syscall: syscall.to_string(),
        path: path.to_string(),
        message: format!("{}, {syscall} '{path}'", e.desc().to_lowercase()),
    }
}

/// Where a path leads: the directory holding its last component (opened
/// O_PATH, reached without following a link the walk did not resolve
/// itself), that component (`.` for a directory reached by `..`, or the
/// root), and the path as seen from the root.
pub struct Place {
    pub dir: OwnedFd,
    pub name: String,
    pub path: String,
}

fn dup(fd: &OwnedFd) -> Result<OwnedFd, Errno> {
    fd.try_clone().map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EBADF)))
}

fn is_link(st: &FileStat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFLNK
}
fn is_dir(st: &FileStat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

/// A view's state: its root and working directory.
pub struct View {
    root: OwnedFd,
    cwd: String,
}

impl View {
    /// A view of the tree under `root` (inside a sandbox, its `/`).
    pub fn new(root: OwnedFd) -> View {
        View { root, cwd: "/".into() }
    }

    pub fn cwd(&self) -> &str {
        &self.cwd
    }

    fn absolute(&self, path: &str) -> String {
        if path.starts_with('/') {
            path.to_string()
        } else {
            format!("{}/{path}", self.cwd)
        }
    }

    /// Resolve `path` in the root; `follow`: a symlink as the last component
    /// is followed too (always with a trailing `/`). `lenient`: missing
    /// components are taken as written (seed 001's link target of a broken
    /// link); the place's `dir` is then meaningless.
    pub fn resolve(&self, path: &str, follow: bool, lenient: bool) -> Result<Place, Errno> {
        if path.is_empty() || path.contains('\0') {
            return Err(Errno::ENOENT);
        }
        let follow = follow || path.ends_with('/');
        for _ in 0..RETRIES {
            match self.walk(&self.absolute(path), follow, lenient) {
                Err(Errno::EAGAIN) => continue,
                r => return r,
            }
        }
        Err(Errno::EAGAIN)
    }

    fn walk(&self, abs: &str, follow: bool, lenient: bool) -> Result<Place, Errno> {
        let mut todo: VecDeque<String> = abs.split('/').filter(|c| !c.is_empty() && *c != ".").map(String::from).collect();
        let mut stack: Vec<(String, OwnedFd)> = Vec::new();
        let mut links = 0;
        let shown = |stack: &[(String, OwnedFd)], last: Option<&str>| {
            let mut p: String = stack.iter().map(|(n, _)| format!("/{n}")).collect();
            if let Some(l) = last {
                p.push('/');
                p.push_str(l);
            }
            if p.is_empty() {
                p.push('/');
            }
            p
        };
        while let Some(comp) = todo.pop_front() {
            if comp == ".." {
                stack.pop();
                continue;
            }
            let cur = stack.last().map_or(&self.root, |(_, fd)| fd);
            let last = todo.is_empty();
            let st = match stat::fstatat(cur.as_fd(), comp.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(Errno::ENOENT) if last => return Ok(Place { dir: dup(cur)?, path: shown(&stack, Some(&comp)), name: comp }),
                Err(Errno::ENOENT) if lenient => {
                    // The rest as written, `..` lexically.
                    let mut names: Vec<String> = stack.iter().map(|(n, _)| n.clone()).collect();
                    names.push(comp);
                    for c in todo {
                        if c == ".." {
                            names.pop();
                        } else {
                            names.push(c);
                        }
                    }
                    let path = if names.is_empty() { "/".to_string() } else { names.iter().map(|n| format!("/{n}")).collect() };
                    return Ok(Place { dir: dup(&self.root)?, name: String::new(), path });
                }
                Err(e) => return Err(e),
            };
            if is_link(&st) && (!last || follow) {
                links += 1;
                if links > MAX_LINKS {
                    return Err(Errno::ELOOP);
                }
                let target = fcntl::readlinkat(cur.as_fd(), comp.as_str())?;
                let target = target.to_string_lossy();
                if target.starts_with('/') {
                    stack.clear();
                }
                for c in target.split('/').rev().filter(|c| !c.is_empty() && *c != ".") {
                    todo.push_front(c.to_string());
                }
                continue;
            }
            if last {
                return Ok(Place { dir: dup(cur)?, path: shown(&stack, Some(&comp)), name: comp });
            }
            if !is_dir(&st) {
                return Err(Errno::ENOTDIR);
            }
            match fcntl::openat(cur.as_fd(), comp.as_str(), OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty()) {
                Ok(fd) => stack.push((comp, fd)),
                // Swapped for a link or a file since the fstatat: walk again.
                Err(Errno::ELOOP | Errno::ENOTDIR | Errno::ENOENT) => return Err(Errno::EAGAIN),
                Err(e) => return Err(e),
            }
        }
        // The path ends at a directory the walk holds (the root, or after `..`).
        let dir = dup(stack.last().map_or(&self.root, |(_, fd)| fd))?;
        Ok(Place { dir, name: ".".into(), path: shown(&stack, None) })
    }

    /// Resolve, then `f` on the place; a race seen by `f` (EAGAIN) walks again.
    fn with<T>(&self, path: &str, follow: bool, mut f: impl FnMut(&Place) -> Result<T, Errno>) -> Result<T, Errno> {
        for _ in 0..RETRIES {
            let place = self.resolve(path, follow, false)?;
            match f(&place) {
                Err(Errno::EAGAIN) => continue,
                r => return r,
            }
        }
        Err(Errno::EAGAIN)
    }

    /// The place's own stat (never through a link).
    fn lstat_at(p: &Place) -> Result<FileStat, Errno> {
        stat::fstatat(p.dir.as_fd(), p.name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
    }

    /// A path the caller names for what only a name can be (mkdir, rm, rename, symlink).
    fn named(p: &Place) -> Result<(), Errno> {
        if p.name == "." {
            Err(Errno::EBUSY)
        } else {
            Ok(())
        }
    }

    fn open_at(p: &Place, flags: OFlag, mode: u32) -> Result<OwnedFd, Errno> {
        match fcntl::openat(p.dir.as_fd(), p.name.as_str(), flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::from_bits_truncate(mode)) {
            // A link here now: it was resolved a moment ago, so it was swapped in.
            Err(Errno::ELOOP) => Err(Errno::EAGAIN),
            r => r,
        }
    }

    pub fn stat(&self, path: &str, follow: bool) -> Result<FsStat, ViewError> {
        let e = |err| fail(err, if follow { "stat" } else { "lstat" }, path);
        let own = self.with(path, false, Self::lstat_at).map_err(e)?;
        let link_target = if is_link(&own) { Some(self.resolve(path, true, true).map_err(e)?.path) } else { None };
        let st = if follow && is_link(&own) {
            self.with(path, true, |p| match Self::lstat_at(p)? {
                st if is_link(&st) => Err(Errno::EAGAIN),
                st => Ok(st),
            })
            .map_err(e)?
        } else {
            own
        };
        let name = std::path::Path::new(path.trim_end_matches('/')).file_name().map_or("/".into(), |n| n.to_string_lossy().into_owned());
        Ok(fs_stat(&st, &name, link_target))
    }

    pub fn read_file(&self, path: &str) -> Result<Vec<u8>, ViewError> {
        let fd = self.with(path, true, |p| Self::open_at(p, OFlag::O_RDONLY, 0)).map_err(|e| fail(e, "open", path))?;
        let mut f = std::fs::File::from(fd);
        if f.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(fail(Errno::EISDIR, "read", path));
        }
        let mut out = Vec::new();
        f.read_to_end(&mut out).map_err(|e| fail(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)), "read", path))?;
        Ok(out)
    }

    /// Open for writeFile; the caller copies the data.
    pub fn open_write(&self, path: &str, mode: u32, flag: Option<&str>) -> Result<std::fs::File, ViewError> {
        let (follow, extra) = match flag.unwrap_or("w") {
            "w" => (true, OFlag::O_TRUNC),
            // O_EXCL: a link there, even a dangling one, exists (open(2)).
            "wx" => (false, OFlag::O_EXCL),
            "a" => (true, OFlag::O_APPEND),
            _ => return Err(fail(Errno::EINVAL, "open", path)),
        };
        let fd = self
            .with(path, follow, |p| {
                Self::named(p)?;
                Self::open_at(p, OFlag::O_WRONLY | OFlag::O_CREAT | extra, mode & 0o7777)
            })
            .map_err(|e| fail(if e == Errno::EBUSY { Errno::EISDIR } else { e }, "open", path))?;
        Ok(std::fs::File::from(fd))
    }

    pub fn readdir(&self, path: &str) -> Result<Vec<FsDirent>, ViewError> {
        let e = |err| fail(err, "scandir", path);
        let fd = self.with(path, true, |p| Self::open_at(p, OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0)).map_err(e)?;
        let mut dir = nix::dir::Dir::from_fd(fd).map_err(e)?;
        let mut out: Vec<FsDirent> = Vec::new();
        for ent in dir.iter() {
            let ent = ent.map_err(e)?;
            let name = ent.file_name().to_string_lossy().into_owned();
            if name == "." || name == ".." {
                continue;
            }
            use nix::dir::Type;
            let kind = match ent.file_type() {
                Some(Type::Directory) => FsEntryType::Dir,
                Some(Type::File) => FsEntryType::File,
                Some(Type::Symlink) => FsEntryType::Symlink,
                Some(_) => FsEntryType::Other,
                None => FsEntryType::Unknown,
            };
            out.push(FsDirent { name, kind });
        }
        out.sort();
        Ok(out)
    }

    pub fn mkdir(&self, path: &str, recursive: bool, mode: u32) -> Result<(), ViewError> {
        let e = |err| fail(err, "mkdir", path);
        let mode = Mode::from_bits_truncate(mode & 0o7777);
        let make = |p: &str| {
            self.with(p, false, |pl| {
                Self::named(pl).map_err(|_| Errno::EEXIST)?;
                stat::mkdirat(pl.dir.as_fd(), pl.name.as_str(), mode)
            })
        };
        if !recursive {
            return make(path).map_err(e);
        }
        // mkdir -p: each prefix in turn, through links to directories.
        let abs = self.absolute(path);
        let parts: Vec<&str> = abs.split('/').filter(|c| !c.is_empty()).collect();
        for i in 1..=parts.len() {
            let prefix = format!("/{}", parts[..i].join("/"));
            match self.with(&prefix, true, Self::lstat_at) {
                Ok(st) if is_dir(&st) => continue,
                Ok(_) => return Err(fail(Errno::ENOTDIR, "mkdir", path)),
                Err(Errno::ENOENT) => {}
                Err(err) => return Err(e(err)),
            }
            match make(&prefix) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(err) => return Err(e(err)),
            }
        }
        Ok(())
    }

    pub fn rm(&self, path: &str, recursive: bool, force: bool) -> Result<(), ViewError> {
        let e = |err| fail(err, "rm", path);
        let r = self.with(path, false, |p| {
            Self::named(p)?;
            let st = Self::lstat_at(p)?;
            if !is_dir(&st) {
                return nix::unistd::unlinkat(p.dir.as_fd(), p.name.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
            }
            if !recursive {
                return Err(Errno::EISDIR);
            }
            remove_tree(&p.dir, &p.name)
        });
        match r {
            Err(Errno::ENOENT) if force => Ok(()),
            r => r.map_err(e),
        }
    }

    pub fn rename(&self, from: &str, to: &str) -> Result<(), ViewError> {
        let e = |err| fail(err, "rename", from);
        let a = self.resolve(from, false, false).map_err(e)?;
        let b = self.resolve(to, false, false).map_err(e)?;
        Self::named(&a).and_then(|_| Self::named(&b)).map_err(e)?;
        fcntl::renameat(a.dir.as_fd(), a.name.as_str(), b.dir.as_fd(), b.name.as_str()).map_err(e)
    }

    pub fn realpath(&self, path: &str) -> Result<String, ViewError> {
        self.with(path, true, |p| Self::lstat_at(p).map(|_| p.path.clone())).map_err(|e| fail(e, "realpath", path))
    }

    pub fn readlink(&self, path: &str) -> Result<String, ViewError> {
        self.with(path, false, |p| fcntl::readlinkat(p.dir.as_fd(), p.name.as_str()))
            .map(|t| t.to_string_lossy().into_owned())
            .map_err(|e| fail(e, "readlink", path))
    }

    pub fn symlink(&self, target: &str, path: &str) -> Result<(), ViewError> {
        if target.is_empty() || target.contains('\0') {
            return Err(fail(Errno::ENOENT, "symlink", path));
        }
        self.with(path, false, |p| {
            Self::named(p).map_err(|_| Errno::EEXIST)?;
            nix::unistd::symlinkat(target, p.dir.as_fd(), p.name.as_str())
        })
        .map_err(|e| fail(e, "symlink", path))
    }

    pub fn chmod(&self, path: &str, mode: u32) -> Result<(), ViewError> {
        self.with(path, true, |p| {
            // Pin it: a link swapped in after the walk is seen, not followed.
            let fd = fcntl::openat(p.dir.as_fd(), p.name.as_str(), OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())?;
            if is_link(&stat::fstat(&fd)?) {
                return Err(Errno::EAGAIN);
            }
            stat::fchmodat(p.dir.as_fd(), p.name.as_str(), Mode::from_bits_truncate(mode & 0o7777), stat::FchmodatFlags::FollowSymlink)
        })
        .map_err(|e| fail(e, "chmod", path))
    }

    pub fn chdir(&mut self, path: &str) -> Result<String, ViewError> {
        let e = |err| fail(err, "chdir", path);
        let to = self.with(path, true, |p| match Self::lstat_at(p)? {
            st if is_dir(&st) => Ok(p.path.clone()),
            st if is_link(&st) => Err(Errno::EAGAIN),
            _ => Err(Errno::ENOTDIR),
        });
        self.cwd = to.map_err(e)?;
        Ok(self.cwd.clone())
    }
}

/// Remove the directory `name` below `parent` and all it holds, never
/// through a link (a link is removed, not followed).
fn remove_tree(parent: &OwnedFd, name: &str) -> Result<(), Errno> {
    let fd = fcntl::openat(parent.as_fd(), name, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty()).map_err(|e| {
        if e == Errno::ELOOP {
            Errno::EAGAIN
        } else {
            e
        }
    })?;
    let held = dup(&fd)?;
    let mut dir = nix::dir::Dir::from_fd(fd)?;
    let names: Vec<String> =
        dir.iter().filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n != "." && n != "..").collect();
    for n in names {
        match nix::unistd::unlinkat(held.as_fd(), n.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(Errno::EISDIR) => remove_tree(&held, &n)?,
            Err(e) => return Err(e),
        }
    }
    nix::unistd::unlinkat(parent.as_fd(), name, nix::unistd::UnlinkatFlags::RemoveDir)
}

fn fs_stat(st: &FileStat, name: &str, link_target: Option<String>) -> FsStat {
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => FsEntryType::Dir,
        libc::S_IFREG => FsEntryType::File,
        libc::S_IFLNK => FsEntryType::Symlink,
        libc::S_IFIFO => FsEntryType::Fifo,
        libc::S_IFSOCK => FsEntryType::Socket,
        libc::S_IFCHR => FsEntryType::Char,
        libc::S_IFBLK => FsEntryType::Block,
        _ => FsEntryType::Other,
    };
    let ms = |s: i64, ns: i64| s as f64 * 1000.0 + ns as f64 / 1e6;
    FsStat {
        name: name.to_string(),
        kind,
        mode: st.st_mode,
        size: st.st_size,
        uid: st.st_uid,
        gid: st.st_gid,
        nlink: st.st_nlink,
        ino: st.st_ino,
        dev: st.st_dev,
        mtime_ms: ms(st.st_mtime, st.st_mtime_nsec),
        atime_ms: ms(st.st_atime, st.st_atime_nsec),
        ctime_ms: ms(st.st_ctime, st.st_ctime_nsec),
        link_target,
    }
}

fn send(out: &mut impl Write, head: ViewReply, data: &[u8]) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(&head).expect("a reply serializes");
    line.push(b'\n');
    out.write_all(&line)?;
    out.write_all(data)?;
    out.flush()
}

/// Serve frames from `input` until it ends; replies on `output`.
pub fn serve(view: &mut View, input: impl Read, mut output: impl Write) -> std::io::Result<()> {
    let mut input = std::io::BufReader::with_capacity(1 << 16, input);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut input).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        if line.last() != Some(&b'\n') {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "request line too long or cut"));
        }
        let frame: Frame = match serde_json::from_slice(&line) {
            Ok(f) => f,
            // Without a parsed length the stream cannot be followed further.
            Err(e) => {
                let id = serde_json::from_slice::<Value>(&line).ok().and_then(|v| v.get("id").and_then(Value::as_u64));
                let err =
                    ViewError { code: Code::Usage, errno: "EINVAL".into(), syscall: "parse".into(), path: String::new(), message: format!("bad request: {e}") };
                send(&mut output, ViewReply { id, ok: false, len: None, result: None, error: Some(err) }, &[])?;
                return Ok(());
            }
        };
        let id = frame.id;
        let ok = |result: Option<ViewResult>| ViewReply { id: Some(id), ok: true, len: None, result, error: None };
        let res: Result<(ViewReply, Vec<u8>), ViewError> = match frame.op {
            Op::Stat { path } => view.stat(&path, true).map(|v| (ok(Some(ViewResult::Stat(v))), vec![])),
            Op::Lstat { path } => view.stat(&path, false).map(|v| (ok(Some(ViewResult::Stat(v))), vec![])),
            Op::ReadFile { path } => {
                view.read_file(&path).map(|d| (ViewReply { id: Some(id), ok: true, len: Some(d.len() as u64), result: None, error: None }, d))
            }
            Op::WriteFile { path, mode, flag } => {
                let mut data = (&mut input).take(frame.len);
                let r = view.open_write(&path, mode, flag.as_deref()).and_then(|mut f| {
                    std::io::copy(&mut data, &mut f).map(drop).map_err(|e| fail(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)), "write", &path))
                });
                // What was not written is still read: the next frame starts after it.
                std::io::copy(&mut data, &mut std::io::sink())?;
                r.map(|()| (ok(None), vec![]))
            }
            Op::Readdir { path } => view.readdir(&path).map(|v| (ok(Some(ViewResult::Entries(v))), vec![])),
            Op::Mkdir { path, recursive, mode } => view.mkdir(&path, recursive, mode).map(|()| (ok(None), vec![])),
            Op::Rm { path, recursive, force } => view.rm(&path, recursive, force).map(|()| (ok(None), vec![])),
            Op::Rename { from, to } => view.rename(&from, &to).map(|()| (ok(None), vec![])),
            Op::Realpath { path } => view.realpath(&path).map(|p| (ok(Some(ViewResult::Path(p))), vec![])),
            Op::Readlink { path } => view.readlink(&path).map(|p| (ok(Some(ViewResult::Path(p))), vec![])),
            Op::Symlink { target, path } => view.symlink(&target, &path).map(|()| (ok(None), vec![])),
            Op::Chmod { path, mode } => view.chmod(&path, mode).map(|()| (ok(None), vec![])),
            Op::Chdir { path } => view.chdir(&path).map(|p| (ok(Some(ViewResult::Path(p))), vec![])),
            Op::Cwd => Ok((ok(Some(ViewResult::Path(view.cwd().to_string()))), vec![])),
        };
        match res {
            Ok((head, data)) => send(&mut output, head, &data)?,
            Err(err) => send(&mut output, ViewReply { id: Some(id), ok: false, len: None, result: None, error: Some(err) }, &[])?,
        }
    }
}

/// The worker's body, in the process pid 1 forked: `/` is the sandbox's root.
pub fn run_worker(input: std::fs::File, output: std::fs::File) -> i32 {
    let root = match fcntl::open("/", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(_) => return 1,
    };
    let mut view = View::new(root);
    match serve(&mut view, input, std::io::BufWriter::with_capacity(1 << 16, output)) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn the_committed_view_schema_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema/view.schema.json");
        let committed = std::fs::read_to_string(path).expect("schema/view.schema.json exists");
        assert!(committed == json_schema(), "schema/view.schema.json is stale: run `npm run gen`");
    }
    use std::path::{Path, PathBuf};

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sbx-view-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A root with a victim next to it (outside) and hostile links inside.
    fn tree(tag: &str) -> (PathBuf, PathBuf, View) {
        let base = tmp(tag);
        let (root, outside) = (base.join("root"), base.join("outside"));
        for d in ["etc/alternatives", "tmp/sub", "usr/bin"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), "host").unwrap();
        std::fs::write(root.join("secret"), "inside").unwrap();
        std::fs::write(root.join("usr/bin/x1"), "x").unwrap();
        let ln = |t: &str, at: &str| std::os::unix::fs::symlink(t, root.join(at)).unwrap();
        ln("/usr/bin/x1", "etc/alternatives/x");
        ln("../../../../outside", "tmp/up");
        ln("/../../outside/secret", "tmp/abs");
        ln(outside.to_str().unwrap(), "tmp/host");
        ln("/tmp/sub", "tmp/dirlink");
        ln("/nowhere/at/all", "tmp/broken");
        ln("loop2", "tmp/loop1");
        ln("loop1", "tmp/loop2");
        let fd = fcntl::open(&root, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()).unwrap();
        (root, outside, View::new(fd))
    }

    /// What the kernel's RESOLVE_IN_ROOT makes of `path` below `root`, as a path inside it.
    fn kernel(view: &View, root: &Path, path: &str) -> Result<String, i32> {
        use crate::sys::Sys;
        let fd =
            crate::sys::LinuxSys.openat2(view.root.as_raw_fd(), path, libc::O_PATH, libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS).map_err(|e| e.0)?;
        let real = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
        let _ = nix::unistd::close(fd);
        let rel = real.strip_prefix(root).expect("RESOLVE_IN_ROOT stays in the root");
        Ok(format!("/{}", rel.display()).replace("//", "/").trim_end_matches('/').to_string()).map(|p| if p.is_empty() { "/".into() } else { p })
    }

    #[test]
    fn resolution_matches_resolve_in_root_and_never_leaves_the_root() {
        let (root, _outside, view) = tree("resolve");
        for path in [
            "/",
            "/..",
            "/../../..",
            "/etc/alternatives/x",
            "/tmp/up",
            "/tmp/up/secret",
            "/tmp/abs",
            "/tmp/host/secret",
            "/tmp/dirlink",
            "/tmp/dirlink/../..",
            "/tmp/sub/../../secret",
            "tmp/../../../../secret",
            "/tmp/host",
            "/usr/bin/../../etc",
        ] {
            let ours = view.resolve(path, true, false).ok().filter(|p| View::lstat_at(p).is_ok()).map(|p| p.path);
            let theirs = kernel(&view, &root, path).ok();
            assert_eq!(ours, theirs, "{path}");
        }
        assert_eq!(view.resolve("/tmp/loop1", true, false).err(), Some(Errno::ELOOP));
        assert_eq!(kernel(&view, &root, "/tmp/loop1"), Err(libc::ELOOP));
    }

    #[test]
    fn operations_through_links_that_point_outside_stay_inside() {
        let (root, outside, mut view) = tree("ops");
        // reads: the link's target is taken inside the root
        assert_eq!(view.read_file("/tmp/abs").unwrap_err().code, Code::NotFound);
        assert_eq!(view.read_file("/tmp/up/secret").unwrap_err().code, Code::NotFound);
        assert_eq!(view.read_file("/tmp/host/../secret").unwrap_err().code, Code::NotFound, "the link leads nowhere inside");
        assert_eq!(view.read_file("/tmp/sub/../../secret").unwrap(), b"inside");
        assert_eq!(view.read_file("/../../secret").unwrap(), b"inside");
        // writes, mkdir and symlink through a link to the outside fail (it leads nowhere inside), never reach it
        assert_eq!(view.open_write("/tmp/up/secret", 0o644, None).unwrap_err().code, Code::NotFound);
        assert_eq!(view.open_write("/tmp/host/secret", 0o644, None).unwrap_err().code, Code::NotFound);
        assert_eq!(view.mkdir("/tmp/host/new", false, 0o755).unwrap_err().code, Code::NotFound);
        assert!(view.mkdir("/tmp/host/a/b", true, 0o755).is_err());
        assert_eq!(view.symlink("/x", "/tmp/up/planted").unwrap_err().code, Code::NotFound);
        assert_eq!(std::fs::read_to_string(outside.join("secret")).unwrap(), "host");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
        // once the same path exists inside, the link leads there
        std::fs::create_dir_all(root.join("outside")).unwrap();
        view.open_write("/tmp/up/secret", 0o644, None).unwrap().write_all(b"in").unwrap();
        assert_eq!(std::fs::read_to_string(root.join("outside/secret")).unwrap(), "in");
        assert_eq!(std::fs::read_to_string(outside.join("secret")).unwrap(), "host");
        // rm and rename of a link remove the link, not its target
        view.rm("/tmp/dirlink", true, false).unwrap();
        assert!(root.join("tmp/sub").is_dir());
        view.rename("/tmp/host", "/tmp/moved").unwrap();
        assert!(outside.join("secret").exists());
        // stat: lstat of a link with its target in scope; broken links tolerated
        let st = view.stat("/etc/alternatives/x", false).unwrap();
        assert_eq!((st.kind, st.link_target.as_deref()), (FsEntryType::Symlink, Some("/usr/bin/x1")));
        let st = view.stat("/etc/alternatives/x", true).unwrap();
        assert_eq!((st.kind, st.size, st.link_target.as_deref()), (FsEntryType::File, 1, Some("/usr/bin/x1")));
        assert_eq!(view.stat("/tmp/broken", false).unwrap().link_target.as_deref(), Some("/nowhere/at/all"));
        assert_eq!(view.stat("/tmp/broken", true).unwrap_err().code, Code::NotFound);
        // chdir persists; relative paths and `..` stay inside
        assert_eq!(view.chdir("/tmp/sub").unwrap(), "/tmp/sub");
        assert_eq!(view.realpath("../../../..").unwrap(), "/");
        assert_eq!(view.read_file("../../secret").unwrap(), b"inside");
        assert_eq!(view.chdir("/secret").unwrap_err().code, Code::NotDir);
        assert_eq!(view.cwd(), "/tmp/sub");
        // the root itself is no name
        assert_eq!(view.rm("/", true, false).unwrap_err().code, Code::Usage);
        assert_eq!(view.rm("/..", true, false).unwrap_err().code, Code::Usage);
        std::fs::remove_dir_all(root.parent().unwrap()).unwrap();
    }

    #[test]
    fn errors_have_node_errnos_and_our_codes() {
        let (root, _outside, view) = tree("errors");
        let e = view.read_file("/nope").unwrap_err();
        assert_eq!((e.code, e.errno.as_str(), e.syscall.as_str(), e.path.as_str()), (Code::NotFound, "ENOENT", "open", "/nope"));
        assert_eq!(view.read_file("/secret/x").unwrap_err().code, Code::NotDir);
        assert_eq!(view.read_file("/tmp").unwrap_err().code, Code::IsDir);
        assert_eq!(view.mkdir("/tmp", false, 0o755).unwrap_err().code, Code::Exists);
        assert_eq!(view.open_write("/tmp/broken", 0o644, Some("wx")).unwrap_err().code, Code::Exists);
        assert_eq!(view.rm("/tmp", false, false).unwrap_err().code, Code::IsDir);
        assert_eq!(view.rm("/nope", false, true), Ok(()));
        assert_eq!(view.readlink("/tmp/up").unwrap(), "../../../../outside");
        std::fs::remove_dir_all(root.parent().unwrap()).unwrap();
    }

    #[test]
    fn the_frame_protocol_carries_data_both_ways_and_keeps_going_after_errors() {
        let (root, _outside, mut view) = tree("frames");
        let mut input = Vec::new();
        input.extend_from_slice(b"{\"id\":1,\"op\":\"writeFile\",\"path\":\"/nope/x\",\"len\":3}\nabc");
        input.extend_from_slice(b"{\"id\":2,\"op\":\"writeFile\",\"path\":\"/tmp/f\",\"len\":5}\nhello");
        input.extend_from_slice(b"{\"id\":3,\"op\":\"readFile\",\"path\":\"/tmp/f\"}\n");
        input.extend_from_slice(b"{\"id\":4,\"op\":\"cwd\"}\n");
        let mut out = Vec::new();
        serve(&mut view, &input[..], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.split('\n').collect();
        assert!(lines[0].contains(r#""id":1"#) && lines[0].contains("E_NOT_FOUND"), "{text}");
        assert!(lines[1].contains(r#""id":2"#) && lines[1].contains(r#""ok":true"#), "{text}");
        assert!(lines[2].contains(r#""len":5"#), "{text}");
        assert!(lines[3].starts_with("hello{"), "{text}");
        assert_eq!(std::fs::read_to_string(root.join("tmp/f")).unwrap(), "hello");
        std::fs::remove_dir_all(root.parent().unwrap()).unwrap();
    }
}
