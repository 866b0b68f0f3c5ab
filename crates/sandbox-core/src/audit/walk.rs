//! The bounded walk of one audit root: which directories are git
//! directories, and the state of every file under the roots that a host tool
//! executes or obeys. No symlink is followed, no other device is entered,
//! and past [`Limits::entries`] the walk stops and says so.

use super::gitconfig;
use super::index;
use super::{AuditFs, Item, Limits, Meta, Role, Root, State};
use crate::sys::FileKind;
use std::collections::BTreeMap;

/// Directories whose every file editors and agent tools obey.
pub const TOOL_DIRS: [&str; 4] = [".vscode", ".idea", ".claude", ".husky"];
/// Files tools obey wherever they are: agent MCP servers, the next
/// sandboxctl run's config (found by an upward search), direnv.
pub const TOOL_FILES: [&str; 3] = [".mcp.json", "sandboxctl.json", ".envrc"];
/// Inside a git directory, not walked: object store, refs, reflogs, LFS
/// blobs. Git runs nothing from them and they hold most of the entries.
const GIT_BULK: [&str; 4] = ["objects", "refs", "logs", "lfs"];

/// A git directory found under a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitDir {
    /// The worktree git works in (the parent of `.git`), `None` when bare
    /// or a linked worktree's or submodule's directory.
    pub worktree: Option<String>,
    /// Gitlink paths in its index, relative to the worktree.
    pub gitlinks: Vec<String>,
    /// (size, ino, ctime) of the index the gitlinks came from.
    pub index_id: Option<(u64, u64, i64)>,
}

/// What one walk saw.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    pub items: BTreeMap<String, Item>,
    pub git_dirs: BTreeMap<String, GitDir>,
    /// Why the walk stopped early.
    pub incomplete: Option<String>,
    /// Bytes of file content kept.
    kept: usize,
}

pub fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}

fn base(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

/// Where the walk is: the nearest git directory above and whether a tool
/// directory (`.vscode`...) is on the way.
#[derive(Clone)]
struct At {
    rel: String,
    git: Option<String>,
    tool: bool,
}

/// Walk one root. `previous` (the snapshot's tree) lets an unchanged index
/// be taken over instead of parsed again.
pub fn walk(fs: &dyn AuditFs, root: Root, root_path: &str, limits: &Limits, previous: Option<&Tree>) -> Tree {
    let mut tree = Tree::default();
    let root_dev = match fs.list(root, "") {
        Ok(l) => l.dev,
        Err(e) => {
            tree.incomplete = Some(format!("cannot read the root: {e}"));
            return tree;
        }
    };
    let mut seen = 0usize;
    let mut stack = vec![At { rel: String::new(), git: None, tool: false }];
    while let Some(at) = stack.pop() {
        let listing = match fs.list(root, &at.rel) {
            Ok(listing) => listing,
            // Unreadable to us is unreadable to the caller's tools too; gone
            // or no longer a directory (the host changed it meanwhile) holds
            // nothing to audit.
            Err(e) if [libc::EACCES, libc::ENOENT, libc::ENOTDIR, libc::ELOOP].contains(&e.0) => continue,
            // Anything else (EIO, a readdir failing partway, EMFILE) leaves
            // what is inside unknown: say so rather than pass it as clean.
            Err(e) => {
                tree.incomplete.get_or_insert_with(|| format!("cannot read {}: {e}", if at.rel.is_empty() { "the root" } else { &at.rel }));
                continue;
            }
        };
        if listing.dev != root_dev {
            continue;
        }
        seen += listing.entries.len();
        if seen > limits.entries {
            tree.incomplete = Some(format!("more than {} entries under the root; the rest was not audited", limits.entries));
            break;
        }
        let has = |n: &str, k: FileKind| listing.entries.iter().any(|(name, kind)| name == n && *kind == k);
        let name = base(&at.rel);
        let is_git = (name == ".git" && at.git.is_none())
            || (has("HEAD", FileKind::File) && ((has("objects", FileKind::Dir) && has("refs", FileKind::Dir)) || has("commondir", FileKind::File)));
        let git = if is_git { Some(at.rel.clone()) } else { at.git.clone() };
        if is_git {
            let worktree = (name == ".git").then(|| at.rel.rsplit_once('/').map_or(String::new(), |(p, _)| p.to_string()));
            tree.git_dirs.insert(at.rel.clone(), GitDir { worktree, gitlinks: Vec::new(), index_id: None });
        }
        for (name, kind) in &listing.entries {
            let rel = join(&at.rel, name);
            if let Some(role) = role_of(&rel, name, *kind, git.as_deref(), at.tool) {
                let state = state_of(fs, root, &rel, limits, &mut tree.kept);
                tree.items.insert(rel.clone(), Item { role, state });
            }
            if *kind == FileKind::Dir && !(is_git && GIT_BULK.contains(&name.as_str())) {
                let tool = at.tool || (git.is_none() && TOOL_DIRS.contains(&name.as_str()));
                stack.push(At { rel, git: git.clone(), tool });
            }
        }
    }
    let dirs: Vec<String> = tree.git_dirs.keys().cloned().collect();
    for dir in dirs {
        hooks_path(fs, root, root_path, &dir, limits, &mut tree);
        read_gitlinks(fs, root, &dir, limits, previous, &mut tree);
    }
    tree
}

/// Which audited role, if any, this entry has.
fn role_of(rel: &str, name: &str, kind: FileKind, git: Option<&str>, tool: bool) -> Option<Role> {
    if kind == FileKind::Dir {
        // A directory is audited through what is in it; only a symlink in
        // place of one is an entry of its own (below).
        return None;
    }
    if name == ".git" {
        return Some(Role::GitFile);
    }
    if let Some(g) = git {
        let sub = rel.strip_prefix(g).and_then(|s| s.strip_prefix('/')).unwrap_or(rel);
        return match sub {
            "config" | "config.worktree" => Some(Role::GitConfig),
            "commondir" => Some(Role::GitRedirect),
            // `gitdir` (worktrees/*/gitdir) only tells `git worktree prune`
            // where the checkout is; git never reads configuration or runs
            // anything through it. `info/` holds exclude (ignore patterns),
            // attributes (which can only name filter/diff drivers, and those
            // must be defined in config, which is audited; a project's own
            // .gitattributes has the same power and is plain project content),
            // sparse-checkout and grafts: data, never code.
            // `hooks` itself when it is not a directory: a symlink to a
            // directory of the program's making.
            s if s.starts_with("hooks/") || s == "hooks" => Some(Role::Hook),
            _ => None,
        };
    }
    if tool || TOOL_FILES.contains(&name) || (kind == FileKind::Symlink && TOOL_DIRS.contains(&name)) {
        return Some(Role::ToolFile);
    }
    None
}

pub fn state_of(fs: &dyn AuditFs, root: Root, rel: &str, limits: &Limits, kept: &mut usize) -> State {
    match fs.lstat(root, rel) {
        Ok(m) if m.kind == FileKind::File => {
            let content = if m.size as usize <= limits.file_bytes && *kept + m.size as usize <= limits.total_bytes {
                match fs.read(root, rel, limits.file_bytes + 1) {
                    Ok(b) if b.len() <= limits.file_bytes => {
                        *kept += b.len();
                        Some(b)
                    }
                    _ => None,
                }
            } else {
                None
            };
            State::File { meta: m, content }
        }
        Ok(m) if m.kind == FileKind::Symlink => State::Symlink { target: fs.readlink(root, rel).unwrap_or_default(), meta: m },
        Ok(m) => State::Other { meta: m },
        Err(_) => State::Gone,
    }
}

/// The parsed config of a git directory (None when absent or unparseable).
pub fn config_of(tree: &Tree, dir: &str) -> Option<Vec<gitconfig::Entry>> {
    match &tree.items.get(&join(dir, "config"))?.state {
        State::File { content: Some(c), .. } => gitconfig::parse(c).ok(),
        _ => None,
    }
}

/// core.hooksPath names a directory whose files git runs as hooks (husky's
/// `.husky/_`): audit them as hooks when it lies under this root.
fn hooks_path(fs: &dyn AuditFs, root: Root, root_path: &str, dir: &str, limits: &Limits, tree: &mut Tree) {
    let Some(config) = config_of(tree, dir) else {
        return;
    };
    let Some(path) = gitconfig::get(&config, "core", "hookspath") else {
        return;
    };
    let Some(gd) = tree.git_dirs.get(dir) else {
        return;
    };
    // Relative to the worktree (where hooks run), or to the git directory when bare.
    let base = gd.worktree.clone().unwrap_or_else(|| dir.to_string());
    let root_path = root_path.trim_end_matches('/');
    let rel = match path.strip_prefix(root_path).filter(|r| r.starts_with('/')) {
        Some(under_root) => normalize("", &under_root[1..]),
        None => normalize(&base, path),
    };
    let Some(rel) = rel else {
        return;
    };
    let Ok(listing) = fs.list(root, &rel) else {
        return;
    };
    for (name, kind) in listing.entries.iter().take(limits.entries) {
        if *kind != FileKind::Dir {
            let item_rel = join(&rel, name);
            if !tree.items.contains_key(&item_rel) {
                let state = state_of(fs, root, &item_rel, limits, &mut tree.kept);
                tree.items.insert(item_rel, Item { role: Role::Hook, state });
            }
        }
    }
}

/// `path` (relative to `base`, both root-relative) as a root-relative path
/// without `.` or `..`, or None when absolute or leading out of the root.
pub fn normalize(base: &str, path: &str) -> Option<String> {
    if path.starts_with('/') || path.starts_with('~') {
        return None;
    }
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

fn read_gitlinks(fs: &dyn AuditFs, root: Root, dir: &str, limits: &Limits, previous: Option<&Tree>, tree: &mut Tree) {
    let index_rel = join(dir, "index");
    let Ok(meta) = fs.lstat(root, &index_rel) else {
        return;
    };
    if meta.kind != FileKind::File {
        return;
    }
    let id = Some((meta.size, meta.ino, meta.ctime));
    let sha256 = config_of(tree, dir).is_some_and(|c| gitconfig::get(&c, "extensions", "objectformat").is_some_and(|v| v.eq_ignore_ascii_case("sha256")));
    let hash = if sha256 { 32 } else { 20 };
    // The index, and the shared indexes of split-index mode (their entries
    // are the index's too).
    let mut files = vec![index_rel.clone()];
    if let Ok(l) = fs.list(root, dir) {
        files.extend(l.entries.iter().filter(|(n, k)| n.starts_with("sharedindex.") && *k == FileKind::File).map(|(n, _)| join(dir, n)));
    }
    if files.len() == 1 {
        if let Some(prev) = previous.and_then(|p| p.git_dirs.get(dir)).filter(|g| g.index_id == id) {
            let links = prev.gitlinks.clone();
            if let Some(g) = tree.git_dirs.get_mut(dir) {
                g.gitlinks = links;
                g.index_id = id;
            }
            return;
        }
    }
    let mut links = Vec::new();
    for file in files {
        let size = fs.lstat(root, &file).map(|m| m.size).unwrap_or(0);
        let bytes = if size as usize > limits.index_bytes { Err(()) } else { fs.read(root, &file, limits.index_bytes).map_err(drop) };
        match bytes {
            // A file git cannot parse either makes git stop, never run a
            // gitlink's repository: only what git could read matters.
            Ok(b) => links.extend(index::gitlinks(&b, hash).unwrap_or_default()),
            Err(()) => {
                tree.incomplete.get_or_insert_with(|| format!("{file}: too large or unreadable; its gitlinks were not audited"));
            }
        }
    }
    if let Some(g) = tree.git_dirs.get_mut(dir) {
        g.gitlinks = links;
        g.index_id = id;
    }
}

/// `meta` of a git directory entry for tests and the checker.
pub fn exists(fs: &dyn AuditFs, root: Root, rel: &str) -> Option<Meta> {
    fs.lstat(root, rel).ok()
}
