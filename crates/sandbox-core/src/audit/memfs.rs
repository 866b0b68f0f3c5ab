//! The audit's test double: an in-memory tree with the real
//! implementation's rules (no symlink followed on the way, ELOOP instead;
//! RENAME_NOREPLACE; creation only where nothing is), injectable errors
//! with unique markers, and a log of every change it was asked to make.

use super::{AuditFs, Listing, Meta, Root};
use crate::sys::{Errno, FileKind, SysResult};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Dir,
    File(Vec<u8>),
    Symlink(String),
    Fifo,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub body: Body,
    pub mode: u32,
    pub dev: u64,
    pub ino: u64,
    pub ctime: i64,
}

pub struct MemFs {
    nodes: RefCell<BTreeMap<String, Node>>,
    roots: RefCell<Vec<String>>,
    now: Cell<i64>,
    ino: Cell<u64>,
    pub home: Option<String>,
    /// (operation, absolute path, error) injected.
    fail: RefCell<Vec<(&'static str, String, Errno)>>,
    /// `quarantine SRC -> DEST`, `put_file PATH MODE`, `put_symlink PATH -> T`.
    pub log: RefCell<Vec<String>>,
    /// Calls of `read`, to check what is read again.
    pub reads: RefCell<Vec<String>>,
}

fn parent(p: &str) -> &str {
    match p.rsplit_once('/') {
        Some(("", _)) => "/",
        Some((a, _)) => a,
        None => "/",
    }
}

impl Default for MemFs {
    fn default() -> Self {
        Self::new()
    }
}

impl MemFs {
    pub fn new() -> MemFs {
        let fs = MemFs {
            nodes: RefCell::new(BTreeMap::new()),
            roots: RefCell::new(Vec::new()),
            now: Cell::new(1_000 * 1_000_000_000),
            ino: Cell::new(1),
            home: Some("/home/u".into()),
            fail: RefCell::new(Vec::new()),
            log: RefCell::new(Vec::new()),
            reads: RefCell::new(Vec::new()),
        };
        fs.insert("/", Body::Dir, 0o755);
        fs
    }

    fn insert(&self, path: &str, body: Body, mode: u32) {
        let ino = self.ino.get();
        self.ino.set(ino + 1);
        let dev = if path == "/" { 1 } else { self.nodes.borrow().get(parent(path)).map_or(1, |n| n.dev) };
        self.nodes.borrow_mut().insert(path.to_string(), Node { body, mode, dev, ino, ctime: self.now.get() });
    }

    /// `mkdir -p`.
    pub fn dir(&self, path: &str) -> &Self {
        let mut cur = String::new();
        for c in path.split('/').filter(|c| !c.is_empty()) {
            cur.push('/');
            cur.push_str(c);
            if !self.nodes.borrow().contains_key(&cur) {
                self.insert(&cur, Body::Dir, 0o755);
            }
        }
        self
    }
    /// Write a file (parents created), changing its ctime to now.
    pub fn file(&self, path: &str, data: &str) -> &Self {
        self.file_mode(path, data.as_bytes(), 0o644)
    }
    pub fn file_mode(&self, path: &str, data: &[u8], mode: u32) -> &Self {
        self.dir(parent(path));
        let existing = self.nodes.borrow().get(path).cloned();
        match existing {
            Some(mut n) => {
                n.body = Body::File(data.to_vec());
                n.mode = mode;
                n.ctime = self.now.get();
                self.nodes.borrow_mut().insert(path.to_string(), n);
            }
            None => self.insert(path, Body::File(data.to_vec()), mode),
        }
        self
    }
    pub fn symlink(&self, path: &str, target: &str) -> &Self {
        self.dir(parent(path));
        self.remove(path);
        self.insert(path, Body::Symlink(target.into()), 0o777);
        self
    }
    pub fn fifo(&self, path: &str) -> &Self {
        self.dir(parent(path));
        self.insert(path, Body::Fifo, 0o644);
        self
    }
    /// Remove a path and everything below it.
    pub fn remove(&self, path: &str) -> &Self {
        let prefix = format!("{path}/");
        self.nodes.borrow_mut().retain(|k, _| k != path && !k.starts_with(&prefix));
        self
    }
    /// Put a path (a mount point) on another device.
    pub fn set_dev(&self, path: &str, dev: u64) -> &Self {
        if let Some(n) = self.nodes.borrow_mut().get_mut(path) {
            n.dev = dev;
        }
        self
    }
    /// Let the clock run (the snapshot/run boundary).
    pub fn tick(&self) -> &Self {
        self.now.set(self.now.get() + 10 * 1_000_000_000);
        self
    }
    pub fn fail(&self, op: &'static str, path: &str, e: Errno) -> &Self {
        self.fail.borrow_mut().push((op, path.to_string(), e));
        self
    }
    pub fn get(&self, path: &str) -> Option<Node> {
        self.nodes.borrow().get(path).cloned()
    }
    pub fn text(&self, path: &str) -> Option<String> {
        match self.get(path)?.body {
            Body::File(d) => Some(String::from_utf8_lossy(&d).into_owned()),
            _ => None,
        }
    }

    fn injected(&self, op: &str, path: &str) -> SysResult<()> {
        match self.fail.borrow().iter().find(|(o, p, _)| *o == op && p == path) {
            Some((_, _, e)) => Err(*e),
            None => Ok(()),
        }
    }

    /// The absolute path of `rel` under `root`, every component before the
    /// last a directory (a symlink on the way: ELOOP).
    fn resolve(&self, root: Root, rel: &str) -> SysResult<String> {
        let base = self.roots.borrow().get(root as usize).cloned().ok_or(Errno(libc::EBADF))?;
        let mut cur = base.trim_end_matches('/').to_string();
        let comps: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
        for (i, c) in comps.iter().enumerate() {
            if *c == ".." {
                return Err(Errno(libc::EXDEV));
            }
            cur = format!("{cur}/{c}");
            if i + 1 < comps.len() {
                match self.nodes.borrow().get(&cur).map(|n| n.body.clone()) {
                    Some(Body::Dir) => {}
                    Some(Body::Symlink(_)) => return Err(Errno(libc::ELOOP)),
                    Some(_) => return Err(Errno(libc::ENOTDIR)),
                    None => return Err(Errno(libc::ENOENT)),
                }
            }
        }
        if cur.is_empty() {
            cur.push('/');
        }
        Ok(cur)
    }

    fn node(&self, root: Root, rel: &str) -> SysResult<(String, Node)> {
        let p = self.resolve(root, rel)?;
        let n = self.nodes.borrow().get(&p).cloned().ok_or(Errno(libc::ENOENT))?;
        Ok((p, n))
    }

    fn mkdir_p_checked(&self, abs: &str) -> SysResult<()> {
        let mut cur = String::new();
        for c in abs.split('/').filter(|c| !c.is_empty()) {
            cur.push('/');
            cur.push_str(c);
            let existing = self.nodes.borrow().get(&cur).map(|n| n.body.clone());
            match existing {
                Some(Body::Dir) => {}
                Some(Body::Symlink(_)) => return Err(Errno(libc::ELOOP)),
                Some(_) => return Err(Errno(libc::ENOTDIR)),
                None => self.insert(&cur, Body::Dir, 0o700),
            }
        }
        Ok(())
    }
}

impl AuditFs for MemFs {
    fn pin(&self, path: &str) -> SysResult<Root> {
        self.injected("pin", path)?;
        match self.nodes.borrow().get(path).map(|n| &n.body) {
            Some(Body::Dir) => {}
            Some(_) => return Err(Errno(libc::ENOTDIR)),
            None => return Err(Errno(libc::ENOENT)),
        }
        let mut roots = self.roots.borrow_mut();
        roots.push(path.to_string());
        Ok((roots.len() - 1) as Root)
    }

    fn list(&self, root: Root, rel: &str) -> SysResult<Listing> {
        let (p, n) = self.node(root, rel)?;
        self.injected("list", &p)?;
        match n.body {
            Body::Dir => {}
            Body::Symlink(_) => return Err(Errno(libc::ELOOP)),
            _ => return Err(Errno(libc::ENOTDIR)),
        }
        let prefix = if p == "/" { "/".to_string() } else { format!("{p}/") };
        let entries = self
            .nodes
            .borrow()
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| !k[prefix.len()..].contains('/') && k.len() > prefix.len())
            .map(|(k, v)| {
                let kind = match v.body {
                    Body::Dir => FileKind::Dir,
                    Body::File(_) => FileKind::File,
                    Body::Symlink(_) => FileKind::Symlink,
                    Body::Fifo => FileKind::Other,
                };
                (k[prefix.len()..].to_string(), kind)
            })
            .collect();
        Ok(Listing { dev: n.dev, entries })
    }

    fn lstat(&self, root: Root, rel: &str) -> SysResult<Meta> {
        let (p, n) = self.node(root, rel)?;
        self.injected("lstat", &p)?;
        let (kind, size) = match &n.body {
            Body::Dir => (FileKind::Dir, 0),
            Body::File(d) => (FileKind::File, d.len() as u64),
            Body::Symlink(t) => (FileKind::Symlink, t.len() as u64),
            Body::Fifo => (FileKind::Other, 0),
        };
        Ok(Meta { kind, mode: n.mode, size, dev: n.dev, ino: n.ino, ctime: n.ctime })
    }

    fn read(&self, root: Root, rel: &str, limit: usize) -> SysResult<Vec<u8>> {
        let (p, n) = self.node(root, rel)?;
        self.injected("read", &p)?;
        self.reads.borrow_mut().push(p);
        match n.body {
            Body::File(d) => Ok(d[..d.len().min(limit)].to_vec()),
            Body::Symlink(_) => Err(Errno(libc::ELOOP)),
            Body::Dir => Err(Errno(libc::EISDIR)),
            Body::Fifo => Err(Errno(libc::EINVAL)),
        }
    }

    fn readlink(&self, root: Root, rel: &str) -> SysResult<String> {
        match self.node(root, rel)?.1.body {
            Body::Symlink(t) => Ok(t),
            _ => Err(Errno(libc::EINVAL)),
        }
    }

    fn quarantine(&self, root: Root, rel: &str, qdir: &str, dest: &str) -> SysResult<()> {
        let (p, _) = self.node(root, rel)?;
        self.injected("quarantine", &p)?;
        if rel.is_empty() || !dest.starts_with(qdir) {
            return Err(Errno(libc::EINVAL));
        }
        self.mkdir_p_checked(qdir)?;
        self.mkdir_p_checked(parent(dest))?;
        if self.nodes.borrow().contains_key(dest) {
            return Err(Errno(libc::EEXIST));
        }
        let prefix = format!("{p}/");
        let moving: Vec<(String, Node)> =
            self.nodes.borrow().iter().filter(|(k, _)| **k == p || k.starts_with(&prefix)).map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut nodes = self.nodes.borrow_mut();
        for (k, v) in moving {
            nodes.remove(&k);
            nodes.insert(format!("{dest}{}", &k[p.len()..]), v);
        }
        self.log.borrow_mut().push(format!("quarantine {p} -> {dest}"));
        Ok(())
    }

    fn put_file(&self, root: Root, rel: &str, data: &[u8], mode: u32) -> SysResult<()> {
        let p = self.resolve(root, rel)?;
        self.injected("put_file", &p)?;
        if self.nodes.borrow().contains_key(&p) {
            return Err(Errno(libc::EEXIST));
        }
        self.insert(&p, Body::File(data.to_vec()), mode & 0o1777);
        self.log.borrow_mut().push(format!("put_file {p} {:o}", mode & 0o1777));
        Ok(())
    }

    fn put_symlink(&self, root: Root, rel: &str, target: &str) -> SysResult<()> {
        let p = self.resolve(root, rel)?;
        self.injected("put_symlink", &p)?;
        if self.nodes.borrow().contains_key(&p) {
            return Err(Errno(libc::EEXIST));
        }
        self.insert(&p, Body::Symlink(target.into()), 0o777);
        self.log.borrow_mut().push(format!("put_symlink {p} -> {target}"));
        Ok(())
    }

    fn real_home(&self) -> Option<String> {
        self.home.clone()
    }

    fn now_ns(&self) -> i64 {
        self.now.get()
    }

    fn pid(&self) -> i32 {
        42
    }
}
