//! Stage: the post-run audit, in the launcher. Before clone it walks the
//! plan's audit roots ([`Audit::snapshot`]): git directories (a `.git`
//! directory, a `.git` file, the bare shape HEAD + objects/ + refs/ anywhere,
//! the root included), their config, hooks, redirect files and index
//! gitlinks, and the files editors and agent tools obey. After pid 1 is
//! reaped (every process of the sandbox is gone, so nothing changes under
//! us any more) it walks again ([`Audit::check`]); what the run created or
//! changed that a host tool would execute is a finding. Then it acts
//! ([`Audit::act`]): revert (put back what was there, move what is new into
//! a quarantine), fail, or only report.
//!
//! Invariants: no host tool ever runs (a tainted repository is attacker
//! code); every filesystem access goes through [`AuditFs`], whose real
//! implementation resolves every path from a directory fd pinned before
//! the run, never following a symlink (the sandbox may have planted some).

pub mod gitconfig;
pub mod index;
mod linux;
#[cfg(test)]
pub mod memfs;
mod revert;
#[cfg(test)]
mod tests;
pub mod walk;

pub use linux::LinuxAuditFs;

use crate::plan::{AuditSpec, OnTaint};
use crate::sys::{FileKind, SysResult};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use walk::Tree;

/// A pinned audit root (a directory fd in the real implementation).
pub type Root = i32;

/// lstat(2) facts the audit compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: FileKind,
    /// Permission bits (07777).
    pub mode: u32,
    pub size: u64,
    pub dev: u64,
    pub ino: u64,
    /// Change time in nanoseconds: no unprivileged call sets it back, so an
    /// unchanged ctime means unchanged content and mode.
    pub ctime: i64,
}

/// One directory's entries and the device it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub dev: u64,
    /// (name, kind), sorted by name.
    pub entries: Vec<(String, FileKind)>,
}

/// The audit's narrow filesystem seam. `rel` paths are relative to a root
/// pinned by [`AuditFs::pin`] (`""` is the root itself); no component of one
/// is ever followed as a symlink (ELOOP instead).
pub trait AuditFs {
    fn pin(&self, path: &str) -> SysResult<Root>;
    fn list(&self, root: Root, rel: &str) -> SysResult<Listing>;
    fn lstat(&self, root: Root, rel: &str) -> SysResult<Meta>;
    /// At most `limit` bytes of a regular file.
    fn read(&self, root: Root, rel: &str, limit: usize) -> SysResult<Vec<u8>>;
    fn readlink(&self, root: Root, rel: &str) -> SysResult<String>;
    /// Move `rel` (of any kind, a directory with what it holds) to
    /// `dest`, an absolute path below `qdir`; `qdir` and the directories
    /// between are created 0700 when missing.
    fn quarantine(&self, root: Root, rel: &str, qdir: &str, dest: &str) -> SysResult<()>;
    /// Create `rel` (it must not exist) as a file with `data` and `mode`.
    fn put_file(&self, root: Root, rel: &str, data: &[u8], mode: u32) -> SysResult<()>;
    fn put_symlink(&self, root: Root, rel: &str, target: &str) -> SysResult<()>;
    /// The caller's home from the password database (never `$HOME`).
    fn real_home(&self) -> Option<String>;
    /// Wall clock in nanoseconds, coarse like file timestamps.
    fn now_ns(&self) -> i64;
    fn pid(&self) -> i32;
}

/// Bounds of the audit.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Directory entries walked per root before the audit says it is incomplete.
    pub entries: usize,
    /// Largest audited file whose content is kept (for revert).
    pub file_bytes: usize,
    /// All kept content together.
    pub total_bytes: usize,
    /// Largest index file parsed for gitlinks.
    pub index_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { entries: 500_000, file_bytes: 1 << 20, total_bytes: 64 << 20, index_bytes: 64 << 20 }
    }
}

/// Why a path is audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A git directory's `config` or `config.worktree`.
    GitConfig,
    /// `commondir`: git reads config and hooks from where it points.
    GitRedirect,
    /// A file under `hooks/` or the core.hooksPath directory.
    Hook,
    /// A `.git` that is a file (`gitdir: ...`) or a symlink.
    GitFile,
    /// Editor and agent settings, `.envrc`, `sandboxctl.json`, `.husky/`.
    ToolFile,
}

/// The state of an audited path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// `content` is None when larger than the snapshot keeps.
    File {
        meta: Meta,
        content: Option<Vec<u8>>,
    },
    Symlink {
        meta: Meta,
        target: String,
    },
    Other {
        meta: Meta,
    },
    Gone,
}

impl State {
    fn meta(&self) -> Option<&Meta> {
        match self {
            State::File { meta, .. } | State::Symlink { meta, .. } | State::Other { meta } => Some(meta),
            State::Gone => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub role: Role,
    pub state: State,
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TaintKind {
    /// A git config file gained keys that run programs or redirect git.
    GitConfig,
    /// A git hook (hooks/ or the core.hooksPath directory).
    GitHook,
    /// `commondir`: git would read config and hooks elsewhere.
    GitRedirect,
    /// A `.git` file or symlink pointing outside the audited roots.
    GitFile,
    /// A gitlink in an index naming a repository that git status would enter.
    Gitlink,
    /// Editor or agent settings, `.envrc`, `sandboxctl.json`, `.husky/`.
    ToolFile,
    /// The audit could not look at everything.
    Incomplete,
}

/// Whether the run created the path or changed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TaintChange {
    Created,
    Changed,
    /// For `incomplete`: nothing in particular.
    Unknown,
}

/// What the audit did about a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TaintOutcome {
    /// The previous content and mode are back (the run's version is in the quarantine).
    Restored,
    /// Moved into the quarantine.
    Quarantined,
    /// Left in place (`fail`, `warn`, or nothing to undo).
    Left,
    /// Reverting failed: the path is still as the run left it.
    Failed,
}

/// One thing the run planted, as the launcher reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TaintFinding {
    pub kind: TaintKind,
    /// Absolute host path.
    pub path: String,
    pub change: TaintChange,
    /// What in it is dangerous, e.g. `core.fsmonitor = "touch /tmp/x"`.
    pub detail: String,
    pub outcome: TaintOutcome,
    /// Where the run's version now is, when it was moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantined_as: Option<String>,
    /// Why reverting failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The launcher's `{"event":"audit",...}` report line (`Report::Audit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuditReport {
    pub action: OnTaint,
    pub findings: Vec<TaintFinding>,
    /// The run's quarantine directory, when something was moved there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<String>,
    /// The program's exit status (128+N for signal N).
    pub status: i32,
}

/// What to undo for one finding.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fix {
    /// Move the run's version aside and put this state back.
    Restore(State),
    /// Move this root-relative path into the quarantine.
    Quarantine(String),
    /// Nothing can be undone.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    root: usize,
    kind: TaintKind,
    rel: String,
    change: TaintChange,
    detail: String,
    fix: Fix,
}

struct PinnedRoot {
    path: String,
    fd: Option<Root>,
    before: Tree,
}

/// A snapshot, taken before the sandbox exists.
pub struct Audit {
    spec: AuditSpec,
    limits: Limits,
    roots: Vec<PinnedRoot>,
    /// When the snapshot was taken (ns): a file whose ctime is older was not
    /// touched by the run.
    started: i64,
}

/// A file timestamp may lag the clock by a tick; two seconds of margin.
const CLOCK_SLACK_NS: i64 = 2_000_000_000;

impl Audit {
    /// Pin every root and walk it. A root that does not exist is skipped
    /// (nothing under it can be planted where the sandbox cannot write);
    /// one that cannot be opened otherwise is an error: no run without audit.
    pub fn snapshot(fs: &dyn AuditFs, spec: &AuditSpec, limits: Limits) -> Result<Audit, (String, crate::sys::Errno)> {
        let started = fs.now_ns();
        let mut roots = Vec::new();
        for path in &spec.roots {
            // A root inside another is walked as part of it: once, so a
            // finding is not reverted twice.
            let inside = |p: &str, q: &str| {
                let q = q.trim_end_matches('/');
                p.trim_end_matches('/') == q || p.starts_with(&format!("{q}/"))
            };
            let covered = spec.roots.iter().any(|q| q != path && inside(path, q) && !inside(q, path));
            if covered || roots.iter().any(|r: &PinnedRoot| &r.path == path) {
                continue;
            }
            match fs.pin(path) {
                Ok(fd) => {
                    let before = walk::walk(fs, fd, path, &limits, None);
                    roots.push(PinnedRoot { path: path.clone(), fd: Some(fd), before });
                }
                Err(crate::sys::Errno(libc::ENOENT)) => roots.push(PinnedRoot { path: path.clone(), fd: None, before: Tree::default() }),
                Err(e) => return Err((path.clone(), e)),
            }
        }
        Ok(Audit { spec: spec.clone(), limits, roots, started })
    }

    fn abs(&self, root: usize, rel: &str) -> String {
        let r = &self.roots[root].path;
        if rel.is_empty() {
            r.clone()
        } else {
            format!("{}/{rel}", r.trim_end_matches('/'))
        }
    }

    /// Is `abs` (a path a `.git` file names) inside one of the roots?
    fn within_roots(&self, abs: &str) -> bool {
        self.roots.iter().any(|r| {
            let p = r.path.trim_end_matches('/');
            abs == p || abs.starts_with(&format!("{p}/"))
        })
    }

    /// Walk again and compare.
    fn findings(&self, fs: &dyn AuditFs) -> Vec<Found> {
        let mut out = Vec::new();
        for (i, r) in self.roots.iter().enumerate() {
            let Some(fd) = r.fd else { continue };
            let after = walk::walk(fs, fd, &r.path, &self.limits, Some(&r.before));
            if let Some(why) = after.incomplete.as_ref().or(r.before.incomplete.as_ref()) {
                out.push(Found { root: i, kind: TaintKind::Incomplete, rel: String::new(), change: TaintChange::Unknown, detail: why.clone(), fix: Fix::None });
            }
            for (rel, item) in &after.items {
                let before = r.before.items.get(rel).map(|b| &b.state);
                if let Some(f) = self.judge(i, rel, item, before) {
                    out.push(f);
                }
            }
            self.gitlinks(fs, i, fd, &after, &mut out);
        }
        out
    }

    /// Did the run create or change this item, and is that dangerous?
    fn judge(&self, root: usize, rel: &str, item: &Item, before: Option<&State>) -> Option<Found> {
        let now = &item.state;
        let change = match before {
            Some(b) if same(b, now) => return None,
            Some(State::Gone) | None => {
                // Not in the snapshot (a directory that only became a git
                // directory during the run), yet untouched since before it.
                if now.meta().is_some_and(|m| m.ctime + CLOCK_SLACK_NS < self.started) {
                    return None;
                }
                TaintChange::Created
            }
            Some(_) => TaintChange::Changed,
        };
        if matches!(now, State::Gone) {
            return None;
        }
        // A new empty file holds nothing a tool could run or obey (an empty
        // hook runs nothing, an empty settings file sets nothing), and it is
        // what the stand-ins of another agent run in the same directory look
        // like while that run lasts: not a finding.
        let empty = matches!(now, State::File { meta, .. } if meta.size == 0);
        if empty && change == TaintChange::Created && matches!(item.role, Role::ToolFile | Role::Hook) {
            return None;
        }
        let name = rel.rsplit('/').next().unwrap_or(rel);
        let (kind, detail) = match item.role {
            Role::GitConfig => {
                let after = match now {
                    State::File { content: Some(c), .. } => gitconfig::parse(c).map_err(|e| e.to_string()),
                    State::File { content: None, .. } => Err("too large to audit".into()),
                    _ => Err("not a regular file".into()),
                };
                let old: Vec<gitconfig::Entry> = match before {
                    Some(State::File { content: Some(c), .. }) => gitconfig::parse(c).map(|e| gitconfig::dangerous(&e)).unwrap_or_default(),
                    _ => Vec::new(),
                };
                match after {
                    Ok(entries) => {
                        let new: Vec<String> = gitconfig::dangerous(&entries).into_iter().filter(|e| !old.contains(e)).map(|e| e.to_string()).collect();
                        if new.is_empty() {
                            return None;
                        }
                        (TaintKind::GitConfig, new.join("; "))
                    }
                    Err(e) => (TaintKind::GitConfig, e),
                }
            }
            Role::GitRedirect => {
                let text = match now {
                    State::File { content: Some(c), .. } => String::from_utf8_lossy(c).trim_end().to_string(),
                    _ => String::new(),
                };
                // `git worktree add` writes `../..` into worktrees/<x>/commondir:
                // the repository it belongs to.
                let parts: Vec<&str> = rel.split('/').collect();
                if text == "../.." && parts.len() >= 3 && parts[parts.len() - 3] == "worktrees" {
                    return None;
                }
                (TaintKind::GitRedirect, format!("commondir -> {text}"))
            }
            Role::Hook => {
                // git runs only hooks with their exact names, never *.sample.
                if name.ends_with(".sample") {
                    return None;
                }
                (TaintKind::GitHook, "a hook git would run".into())
            }
            Role::GitFile => match now {
                State::File { content: Some(c), .. } => {
                    let text = String::from_utf8_lossy(c);
                    let target = text.lines().next().and_then(|l| l.strip_prefix("gitdir:")).map(|t| t.trim().to_string());
                    let dir = self.abs(root, rel.rsplit_once('/').map_or("", |(p, _)| p));
                    match target {
                        Some(t) => {
                            let abs = if t.starts_with('/') { t.clone() } else { format!("{dir}/{t}") };
                            match walk::normalize("", abs.trim_start_matches('/')) {
                                Some(n) if self.within_roots(&format!("/{n}")) => return None,
                                _ => (TaintKind::GitFile, format!("gitdir: {t} (outside the audited directories)")),
                            }
                        }
                        None => (TaintKind::GitFile, "a .git file git cannot read as gitdir: <path>".into()),
                    }
                }
                State::Symlink { target, .. } => (TaintKind::GitFile, format!("symlink to {target}")),
                _ => (TaintKind::GitFile, "not a regular file".into()),
            },
            Role::ToolFile => (
                TaintKind::ToolFile,
                match now {
                    State::Symlink { target, .. } => format!("symlink to {target}"),
                    _ => "editor, agent or shell settings".into(),
                },
            ),
        };
        let fix = match (change, before) {
            (TaintChange::Changed, Some(b @ (State::File { content: Some(_), .. } | State::Symlink { .. }))) => Fix::Restore(b.clone()),
            _ => Fix::Quarantine(rel.to_string()),
        };
        let detail = match (change, before) {
            (TaintChange::Changed, Some(State::File { content: None, .. })) => {
                format!("{detail} (the previous content was too large to keep)")
            }
            _ => detail,
        };
        Some(Found { root, kind, rel: rel.to_string(), change, detail, fix })
    }

    /// A gitlink the index gained, at a path that holds a repository: host
    /// `git status` enters it and runs its config.
    fn gitlinks(&self, fs: &dyn AuditFs, root: usize, fd: Root, after: &Tree, out: &mut Vec<Found>) {
        let before = &self.roots[root].before;
        for (dir, gd) in &after.git_dirs {
            let Some(worktree) = &gd.worktree else {
                continue;
            };
            let old = before.git_dirs.get(dir).map(|g| g.gitlinks.as_slice()).unwrap_or(&[]);
            for link in gd.gitlinks.iter().filter(|l| !old.contains(l)) {
                let Some(path) = walk::normalize(worktree, link) else {
                    continue;
                };
                let dot_git = walk::join(&path, ".git");
                let repo = if walk::exists(fs, fd, &dot_git).is_some() {
                    Some(dot_git)
                } else if after.git_dirs.contains_key(&path) {
                    Some(path.clone())
                } else {
                    None
                };
                let Some(repo) = repo else { continue };
                // A repository that was there before the run is the user's: it
                // stays (its own config changes are findings of their own).
                let created = !before.git_dirs.contains_key(&repo) && !before.items.contains_key(&repo);
                let fix = if created { Fix::Quarantine(repo.clone()) } else { Fix::None };
                out.push(Found {
                    root,
                    kind: TaintKind::Gitlink,
                    rel: walk::join(dir, "index"),
                    change: TaintChange::Created,
                    detail: format!("gitlink {link} -> repository {}", self.abs(root, &repo)),
                    fix,
                });
            }
        }
    }

    /// Walk again, act as `onTaint` says, and build the report line.
    pub fn check(&self, fs: &dyn AuditFs, status: i32) -> AuditReport {
        let found = self.findings(fs);
        let mut report = AuditReport { action: self.spec.on_taint, findings: Vec::new(), quarantine: None, status };
        if self.spec.on_taint == OnTaint::Revert {
            revert::revert(self, fs, found, &mut report);
        } else {
            report.findings = found
                .into_iter()
                .map(|f| TaintFinding {
                    kind: f.kind,
                    path: self.abs(f.root, &f.rel),
                    change: f.change,
                    detail: f.detail,
                    outcome: TaintOutcome::Left,
                    quarantined_as: None,
                    error: None,
                })
                .collect();
        }
        report
    }
}

/// Unchanged: same kind, mode and content (or, without kept content, the
/// same inode, size and ctime).
fn same(a: &State, b: &State) -> bool {
    match (a, b) {
        (State::File { meta: m1, content: Some(c1) }, State::File { meta: m2, content: Some(c2) }) => m1.mode == m2.mode && c1 == c2,
        (State::File { meta: m1, .. }, State::File { meta: m2, .. }) => m1.mode == m2.mode && m1.ino == m2.ino && m1.size == m2.size && m1.ctime == m2.ctime,
        (State::Symlink { target: t1, .. }, State::Symlink { target: t2, .. }) => t1 == t2,
        (State::Other { meta: m1 }, State::Other { meta: m2 }) => m1.kind == m2.kind && m1.mode == m2.mode && m1.ino == m2.ino,
        (State::Gone, State::Gone) => true,
        _ => false,
    }
}

/// Does this report make the run fail (`fail` with findings, or a revert
/// that could not undo one)?
pub fn tainted(report: &AuditReport) -> bool {
    match report.action {
        OnTaint::Fail => !report.findings.is_empty(),
        OnTaint::Revert => report.findings.iter().any(|f| f.outcome == TaintOutcome::Failed),
        OnTaint::Warn => false,
    }
}

/// The stderr lines for a caller without a report channel.
pub fn describe(report: &AuditReport) -> Vec<String> {
    let mut lines = Vec::new();
    for f in &report.findings {
        let kind = serde_json::to_value(f.kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let outcome = match (f.outcome, &f.quarantined_as) {
            (TaintOutcome::Restored, _) => "restored".to_string(),
            (TaintOutcome::Quarantined, Some(q)) => format!("moved to {q}"),
            (TaintOutcome::Quarantined, None) => "moved to the quarantine".to_string(),
            (TaintOutcome::Left, _) => "left in place".to_string(),
            (TaintOutcome::Failed, _) => {
                format!("NOT reverted: {}", f.error.as_deref().unwrap_or("error"))
            }
        };
        lines.push(format!("audit: {kind} {}: {} ({outcome})", f.path, f.detail));
    }
    lines
}
