//! Stage: `sandboxctl explain` for the command lines the front-end takes.
//! Inputs: the plan [`crate::run`] built (the program optional here), each
//! op's line from the core's description (`sandbox_core::ops::describe`, the
//! one the addon gives the Node CLI), and the host's filesystem (which mount
//! points a run would create on it). Output: the text or the JSON the Node
//! CLI's `explain` prints (packages/core/src/explain.ts `explainPlan` and
//! `formatExplanation`, packages/cli/src/commands/explain.ts), byte for
//! byte; test/sandbox/front compares the two.
//!
//! Invariant: `None` for anything the plain flags cannot make, so explain.ts
//! has nothing here it would say differently: a plan key or op kind of
//! presets, configs or images (notes, placeholders, overlays, a network
//! allow list, limits, the write allow-list), and a path that is not in
//! its normal form (`//`, `.`, `..`, a trailing `/`: Node's path functions
//! would rewrite it). The Node CLI then explains it.

use crate::json::{Obj, J};

/// One line of a section (explain.ts `ExplainItem`; no preset, so no `why`).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub path: String,
    pub what: String,
    pub op: String,
    pub index: usize,
}

/// explain.ts `Explanation` for a plan of plain flags.
#[derive(Debug, Default, PartialEq)]
pub struct Explanation {
    pub argv: Vec<String>,
    pub cwd: Option<String>,
    pub host_root: bool,
    pub visible: Vec<Item>,
    pub writable: Vec<Item>,
    pub hidden: Vec<Item>,
    pub protected: Vec<Item>,
    pub other: Vec<Item>,
    pub host_changes: Vec<String>,
    pub denied: Vec<(&'static str, String)>,
}

/// What explain.ts asks of the host (presets/host.ts `realHost`).
pub trait Host {
    /// `statSync` succeeds (following links): the path exists.
    fn exists(&self, path: &str) -> bool;
    /// `statSync(path).isDirectory()`.
    fn is_dir(&self, path: &str) -> bool;
    /// `lstatSync(path).isSymbolicLink()` and `readlinkSync` succeeds.
    fn is_link(&self, path: &str) -> bool;
}

/// The real filesystem.
pub struct RealHost;

impl Host for RealHost {
    fn exists(&self, path: &str) -> bool {
        std::fs::metadata(path).is_ok()
    }
    fn is_dir(&self, path: &str) -> bool {
        std::fs::metadata(path).is_ok_and(|m| m.is_dir())
    }
    fn is_link(&self, path: &str) -> bool {
        std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) && std::fs::read_link(path).is_ok()
    }
}

/// The plan keys the plain flags make ([`crate::run`]); any other is Node's to explain.
const PLAN_KEYS: [&str; 17] = [
    "version",
    "argv",
    "network",
    "uid",
    "gid",
    "hostname",
    "cwd",
    "argv0",
    "lingerMs",
    "seccomp",
    "capAdd",
    "capDrop",
    "newSession",
    "tty",
    "landlock",
    "ops",
    "env",
];

struct Mount {
    target: String,
    writable: bool,
    source: Option<String>,
}

fn str_of<'a>(o: &'a Obj, key: &str) -> Option<&'a str> {
    match o.get(key) {
        Some(Some(J::Str(s))) => Some(s),
        _ => None,
    }
}

fn bool_of(o: &Obj, key: &str) -> bool {
    matches!(o.get(key), Some(Some(J::Bool(true))))
}

/// An absolute path Node's `path` functions leave as it is.
pub(crate) fn normal(path: &str) -> bool {
    path == "/" || (path.starts_with('/') && !path.ends_with('/') && path[1..].split('/').all(|p| !p.is_empty() && p != "." && p != ".."))
}

/// paths.ts `isWithin`.
fn is_within(path: &str, dir: &str) -> bool {
    path == dir || path.starts_with(&if dir == "/" { "/".to_string() } else { format!("{dir}/") })
}

fn covering(mounts: &[Mount], path: &str) -> Option<usize> {
    mounts.iter().rposition(|m| is_within(path, &m.target))
}

/// `posix.join(source, posix.relative(target, path))` for normal paths, `path` within `target`.
fn host_path(source: &str, target: &str, path: &str) -> String {
    let rel = if target == "/" { &path[1..] } else { path[target.len()..].trim_start_matches('/') };
    match (source, rel) {
        (s, "") => s.to_string(),
        ("/", r) => format!("/{r}"),
        (s, r) => format!("{s}/{r}"),
    }
}

/// The plan in words (explain.ts `explainPlan`), or `None`: Node's.
pub fn explain(plan: &Obj, lines: &[String], host: &dyn Host) -> Option<Explanation> {
    if plan.0.iter().any(|(k, v)| v.is_some() && !PLAN_KEYS.contains(&k.as_str())) {
        return None;
    }
    let mut out = Explanation::default();
    let Some(Some(J::Arr(argv))) = plan.get("argv") else { return None };
    for a in argv {
        let J::Str(a) = a else { return None };
        out.argv.push(a.clone());
    }
    out.cwd = str_of(plan, "cwd").map(String::from);
    let ops: &[J] = match plan.get("ops") {
        Some(Some(J::Arr(ops))) => ops,
        None => &[],
        _ => return None,
    };
    if lines.len() != ops.len() {
        return None;
    }
    let mut mounts: Vec<Mount> = Vec::new();
    for (index, op) in ops.iter().enumerate() {
        let J::Obj(op) = op else { return None };
        let kind = str_of(op, "kind")?;
        let target = str_of(op, "target")?;
        if !normal(target) {
            return None;
        }
        let item = |path: &str, what: String| Item { path: path.to_string(), what, op: lines[index].clone(), index };
        if !matches!(kind, "remount" | "chmod") {
            note_host_change(op, kind, target, &mounts, host, &mut out.host_changes)?;
        }
        let cover = covering(&mounts, target);
        let in_writable = cover.is_some_and(|i| mounts[i].writable);
        match kind {
            "bind" => {
                let source = str_of(op, "source")?;
                if !normal(source) {
                    return None;
                }
                let writable = bool_of(op, "writable");
                let same = source == target;
                if source == "/dev/null" && !bool_of(op, "device") {
                    out.hidden.push(item(target, "unreadable, /dev/null is bound over it".into()));
                } else if writable {
                    out.writable.push(item(target, if same { "writable".into() } else { format!("writable: host {source}") }));
                } else {
                    let what = if same { "read-only".into() } else { format!("read-only: host {source}") };
                    if in_writable {
                        out.protected.push(item(target, what));
                    } else {
                        out.visible.push(item(target, what));
                    }
                }
                if target == "/" {
                    out.host_root = true;
                }
                mounts.push(Mount { target: target.into(), writable, source: Some(source.into()) });
            }
            "tmpfs" => {
                if op.get("readOnly").is_some() {
                    return None;
                }
                let mode = match op.get("mode") {
                    Some(Some(J::Num(m))) => *m,
                    None => 0o755,
                    _ => return None,
                };
                if mode == 0 {
                    out.hidden.push(item(target, "an empty directory nobody may enter (mode 0000)".into()));
                } else {
                    let size = match op.get("size") {
                        Some(Some(J::Num(n))) => format!(", at most {}", bytes(*n)),
                        None => String::new(),
                        _ => return None,
                    };
                    out.writable.push(item(target, format!("private: empty at the start, gone after the run{size}")));
                }
                mounts.push(Mount { target: target.into(), writable: true, source: None });
            }
            "remount" => {
                // A remount of a mount itself turns its line read-only; one
                // of a path below a mount is protection inside it.
                let own = cover.filter(|&i| mounts[i].target == target);
                if let Some(i) = own {
                    mounts[i].writable = false;
                    if let Some(at) = out.writable.iter().rposition(|w| w.path == target) {
                        let mut moved = out.writable.remove(at);
                        moved.what = format!("{}, then made read-only", moved.what);
                        out.visible.push(moved);
                        continue;
                    }
                }
                let mut rest = mounts.iter().enumerate().filter(|(i, _)| Some(*i) != own).map(|(_, m)| m);
                let inside = rest.rfind(|m| is_within(target, &m.target)).is_some_and(|m| m.writable);
                let what = item(target, "made read-only".into());
                if inside {
                    out.protected.push(what);
                } else {
                    out.visible.push(what);
                }
            }
            "autoroot" => {
                out.host_root = true;
                let writable = bool_of(op, "writable");
                let what = format!("every top-level host directory but /proc, /dev, /tmp, /mnt and /etc, {}", if writable { "writable" } else { "read-only" });
                if writable {
                    out.writable.push(item(target, what));
                } else {
                    out.visible.push(item(target, what));
                }
            }
            "file" => {
                let data = str_of(op, "data")?;
                let what = format!("a file written for the run ({} bytes), read-only", data.len());
                if in_writable {
                    out.protected.push(item(target, what));
                } else {
                    out.visible.push(item(target, what));
                }
            }
            "proc" | "dev" => {
                out.other.push(item(
                    target,
                    if kind == "proc" {
                        "a private proc: processes of this sandbox only"
                    } else {
                        "a minimal /dev: null, zero, full, random, urandom, tty, a private pts and shm"
                    }
                    .into(),
                ));
                mounts.push(Mount { target: target.into(), writable: false, source: None });
            }
            "dir" | "symlink" | "mqueue" | "chmod" | "autoetc" | "passwd" => out.other.push(item(target, lines[index].clone())),
            _ => return None,
        }
    }
    out.denied = denied(plan, out.host_root)?;
    Some(out)
}

/// explain.ts `noteHostChange`: a target below a writable host bind that
/// is missing on the host is created there and stays after the run.
fn note_host_change(op: &Obj, kind: &str, target: &str, mounts: &[Mount], host: &dyn Host, changes: &mut Vec<String>) -> Option<()> {
    let Some(m) = covering(mounts, target).map(|i| &mounts[i]) else { return Some(()) };
    let Some(source) = m.source.as_deref().filter(|_| m.writable && m.target != target) else { return Some(()) };
    let path = host_path(source, &m.target, target);
    if host.exists(&path) || host.is_link(&path) {
        return Some(());
    }
    let file = match kind {
        "file" | "passwd" => true,
        "bind" => !host.is_dir(str_of(op, "source")?),
        _ => false,
    };
    let what = match kind {
        "symlink" => "a symlink",
        "dir" => "a directory",
        _ if file => "an empty file",
        _ => "an empty directory",
    };
    changes.push(format!("{path} ({what})"));
    Some(())
}

/// explain.ts `deniedLines` for the plain flags' keys.
fn denied(plan: &Obj, host_root: bool) -> Option<Vec<(&'static str, String)>> {
    let mut out = Vec::new();
    let network = match str_of(plan, "network") {
        Some("host") => "not denied: the host's network is shared",
        Some("none") => "none: a new network namespace with only loopback",
        None if plan.get("network").is_none_or(Option::is_none) => "none: a new network namespace with only loopback",
        _ => return None,
    };
    out.push(("network", network.to_string()));
    let preset = match plan.get("seccomp") {
        Some(Some(J::Obj(s))) => {
            if s.0.iter().any(|(k, v)| v.is_some() && k != "preset") {
                return None;
            }
            str_of(s, "preset")
        }
        None => None,
        _ => return None,
    };
    out.push((
        "system calls",
        if preset == Some("none") {
            "no preset filter".into()
        } else {
            "the strict filter: kernel keyring, modules, kexec, clock, swap, reboot, mount and namespaces, identity changes, TIOCSTI/TIOCLINUX, ptrace, perf, personality, uncommon socket families".into()
        },
    ));
    let kept = strings(plan, "capAdd")?;
    out.push((
        "privileges",
        if kept.is_empty() {
            "every capability dropped; no_new_privs; pid 1 cannot be traced".into()
        } else {
            format!("every capability dropped but {} (inside the user namespace); no_new_privs", kept.join(", "))
        },
    ));
    let env = match plan.get("env") {
        Some(Some(J::Obj(e))) => Some(e),
        None => None,
        _ => return None,
    };
    let set: Vec<&str> = match env.and_then(|e| e.get("set")) {
        Some(Some(J::Obj(s))) => s.0.iter().map(|(k, _)| k.as_str()).collect(),
        None | Some(None) => Vec::new(),
        _ => return None,
    };
    let unset = match env {
        Some(e) => strings(e, "unset")?,
        None => Vec::new(),
    };
    if env.is_some_and(|e| matches!(e.get("inherit"), Some(Some(J::Bool(false))))) {
        out.push(("environment", if set.is_empty() { "empty".into() } else { format!("empty but {}", set.join(", ")) }));
    } else {
        let plus = if set.is_empty() { String::new() } else { format!("; set: {}", set.join(", ")) };
        if unset.is_empty() {
            out.push(("environment", format!("the caller's, whole{plus}")));
        } else {
            out.push(("environment", format!("the caller's, minus {}: {}{plus}", unset.len(), unset.join(", "))));
        }
    }
    if !host_root {
        out.push(("filesystem", "every host path not listed above".into()));
    }
    if let Some(h) = str_of(plan, "hostname") {
        out.push(("hostname", format!("{h} (not the host's)")));
    }
    if let Some(Some(J::Obj(l))) = plan.get("landlock") {
        if l.0.iter().any(|(k, v)| v.is_some() && k != "allowSignals" && k != "allowAbstractUnix") {
            return None;
        }
    }
    Some(out)
}

/// A list of strings under `key` (absent or undefined: empty).
fn strings<'a>(o: &'a Obj, key: &str) -> Option<Vec<&'a str>> {
    match o.get(key) {
        None | Some(None) => Some(Vec::new()),
        Some(Some(J::Arr(a))) => a.iter().map(|v| if let J::Str(s) = v { Some(s.as_str()) } else { None }).collect(),
        _ => None,
    }
}

/// explain.ts `bytes`.
fn bytes(n: u64) -> String {
    if n.is_multiple_of(1 << 30) {
        format!("{} GiB", n >> 30)
    } else if n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n.is_multiple_of(1024) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// explain.ts `shellWord`: quoted unless every character is one of `\w@%+=:,./-`.
fn shell_word(value: &str) -> String {
    if !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c)) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

/// explain.ts `escapeControl`: C0, DEL, C1 and the bidirectional overrides
/// as `\xNN` or `\u{NNNN}`.
pub fn escape_control(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let n = c as u32;
        if c.is_control() {
            out.push_str(&format!("\\x{n:02x}"));
        } else if (0x202a..=0x202e).contains(&n) || (0x2066..=0x2069).contains(&n) {
            out.push_str(&format!("\\u{{{n:x}}}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// Length in UTF-16 units, as JavaScript counts for `padEnd`.
fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

/// One section of the text form: a blank line, the title, the items (or `empty`).
fn section(lines: &mut Vec<String>, width: usize, title: &str, items: &[Item], empty: Option<&str>) {
    if items.is_empty() && empty.is_none() {
        return;
    }
    lines.push(String::new());
    lines.push(title.to_string());
    if let (true, Some(empty)) = (items.is_empty(), empty) {
        lines.push(format!("  {empty}"));
    }
    for i in items {
        let n = units(&i.path);
        let pad = if n >= width { 2 } else { width - n };
        lines.push(format!("  {}{}{}", i.path, " ".repeat(pad), i.what));
    }
}

/// The text form (explain.ts `formatExplanation`).
pub fn format(e: &Explanation) -> String {
    let mut lines: Vec<String> = Vec::new();
    let program = if e.argv.is_empty() { "(none given)".to_string() } else { e.argv.iter().map(|a| shell_word(a)).collect::<Vec<_>>().join(" ") };
    lines.push(format!("program:   {program}"));
    lines.push(format!("directory: {}", e.cwd.as_deref().unwrap_or("the caller's, when the sandbox shows it; else /")));
    let all = [&e.visible, &e.writable, &e.hidden, &e.protected, &e.other];
    let width = all.iter().flat_map(|s| s.iter()).map(|i| units(&i.path) + 2).fold(16, usize::max).min(48);
    section(&mut lines, width, "visible, read-only:", &e.visible, if e.host_root { None } else { Some("nothing of the host") });
    if !e.host_root && !e.visible.is_empty() {
        lines.push("  (nothing else of the host)".to_string());
    }
    section(&mut lines, width, "writable:", &e.writable, Some("nothing"));
    section(&mut lines, width, "hidden:", &e.hidden, None);
    section(&mut lines, width, "read-only inside writable places:", &e.protected, None);
    section(&mut lines, width, "also:", &e.other, None);
    if !e.host_changes.is_empty() {
        lines.push(String::new());
        lines.push("left on the host (mount points created for this run):".into());
        lines.extend(e.host_changes.iter().map(|c| format!("  {c}")));
    }
    lines.push(String::new());
    lines.push("denied:".into());
    let topic = e.denied.iter().map(|(t, _)| t.len()).max().unwrap_or(0) + 2;
    lines.extend(e.denied.iter().map(|(t, text)| format!("  {t:<topic$}{text}")));
    let mut text = lines.iter().map(|l| escape_control(l)).collect::<Vec<_>>().join("\n");
    text.push('\n');
    text
}

/// The JSON form: `JSON.stringify({ ...explanation, skipped: [], removedEnv: [] }, null, 2)`.
pub fn to_json(e: &Explanation) -> String {
    let items = |list: &[Item]| {
        J::Arr(
            list.iter()
                .map(|i| J::obj(vec![("path", J::str(&i.path)), ("what", J::str(&i.what)), ("op", J::str(&i.op)), ("index", J::Num(i.index as u64))]))
                .collect(),
        )
    };
    let mut o = vec![
        ("argv", J::Arr(e.argv.iter().map(|a| J::str(a)).collect())),
        ("hostRoot", J::Bool(e.host_root)),
        ("visible", items(&e.visible)),
        ("writable", items(&e.writable)),
        ("hidden", items(&e.hidden)),
        ("protected", items(&e.protected)),
        ("other", items(&e.other)),
        ("hostChanges", J::Arr(e.host_changes.iter().map(|c| J::str(c)).collect())),
        ("denied", J::Arr(e.denied.iter().map(|(t, text)| J::obj(vec![("topic", J::str(t)), ("text", J::str(text))])).collect())),
    ];
    if let Some(cwd) = &e.cwd {
        o.push(("cwd", J::str(cwd)));
    }
    o.push(("skipped", J::Arr(Vec::new())));
    o.push(("removedEnv", J::Arr(Vec::new())));
    let mut text = J::obj(o).to_json_pretty();
    text.push('\n');
    text
}

/// The whole command for a plan: `Some(output)`, or `None` when the Node
/// CLI must answer (a plan the core refuses, an op it cannot describe, or
/// anything [`explain`] leaves to Node).
pub fn answer(plan: &Obj, json: bool) -> Option<String> {
    // The plan is checked as `run` would, with a stand-in program when none was given.
    let mut checked = plan.clone();
    if matches!(plan.get("argv"), Some(Some(J::Arr(a))) if a.is_empty()) {
        checked.set("argv", J::Arr(vec![J::str("true")]));
    }
    sandbox_core::validate::check(J::Obj(checked).to_json().as_bytes()).ok()?;
    let ops = match plan.get("ops") {
        Some(Some(ops)) => ops.to_json(),
        _ => "[]".to_string(),
    };
    let lines = sandbox_core::ops::describe(&sandbox_core::validate::decode_ops(ops.as_bytes()).ok()?);
    let e = explain(plan, &lines, &RealHost)?;
    Some(if json { to_json(&e) } else { format(&e) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A made-up host: the paths that exist, those that are directories, those that are links.
    struct Fake {
        files: Vec<&'static str>,
        dirs: Vec<&'static str>,
        links: Vec<&'static str>,
    }

    impl Host for Fake {
        fn exists(&self, path: &str) -> bool {
            self.files.contains(&path) || self.dirs.contains(&path)
        }
        fn is_dir(&self, path: &str) -> bool {
            self.dirs.contains(&path)
        }
        fn is_link(&self, path: &str) -> bool {
            self.links.contains(&path)
        }
    }

    fn empty_host() -> Fake {
        Fake { files: vec![], dirs: vec![], links: vec![] }
    }

    fn plan(ops: Vec<J>) -> Obj {
        let J::Obj(o) = J::obj(vec![("version", J::Num(1)), ("argv", J::Arr(vec![J::str("make"), J::str("it's")])), ("ops", J::Arr(ops))]) else {
            unreachable!()
        };
        o
    }

    fn op(pairs: Vec<(&str, J)>) -> J {
        J::obj(pairs)
    }

    fn lines(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("op {i}")).collect()
    }

    #[test]
    fn sorts_each_op_into_its_section() {
        let ops = vec![
            op(vec![("kind", J::str("bind")), ("source", J::str("/usr")), ("target", J::str("/usr"))]),
            op(vec![("kind", J::str("bind")), ("source", J::str("/home/u/src")), ("target", J::str("/work")), ("writable", J::Bool(true))]),
            op(vec![("kind", J::str("bind")), ("source", J::str("/etc/hosts")), ("target", J::str("/work/.git"))]),
            op(vec![("kind", J::str("bind")), ("source", J::str("/dev/null")), ("target", J::str("/work/.env"))]),
            op(vec![("kind", J::str("tmpfs")), ("target", J::str("/tmp")), ("size", J::Num(64 << 20))]),
            op(vec![("kind", J::str("tmpfs")), ("target", J::str("/secret")), ("mode", J::Num(0))]),
            op(vec![("kind", J::str("proc")), ("target", J::str("/proc"))]),
            op(vec![("kind", J::str("file")), ("target", J::str("/work/note")), ("data", J::str("hi"))]),
            op(vec![("kind", J::str("remount")), ("target", J::str("/tmp"))]),
        ];
        let host = Fake { files: vec!["/home/u/src/.env"], dirs: vec!["/etc"], links: vec![] };
        let e = explain(&plan(ops), &lines(9), &host).expect("plain flags");
        let paths = |l: &[Item]| l.iter().map(|i| (i.path.clone(), i.what.clone(), i.index)).collect::<Vec<_>>();
        assert_eq!(
            paths(&e.visible),
            vec![
                ("/usr".into(), "read-only".into(), 0),
                ("/tmp".into(), "private: empty at the start, gone after the run, at most 64 MiB, then made read-only".into(), 4)
            ]
        );
        assert_eq!(paths(&e.writable), vec![("/work".into(), "writable: host /home/u/src".into(), 1)]);
        assert_eq!(
            paths(&e.hidden),
            vec![
                ("/work/.env".into(), "unreadable, /dev/null is bound over it".into(), 3),
                ("/secret".into(), "an empty directory nobody may enter (mode 0000)".into(), 5)
            ]
        );
        assert_eq!(
            paths(&e.protected),
            vec![
                ("/work/.git".into(), "read-only: host /etc/hosts".into(), 2),
                ("/work/note".into(), "a file written for the run (2 bytes), read-only".into(), 7)
            ]
        );
        assert_eq!(paths(&e.other), vec![("/proc".into(), "a private proc: processes of this sandbox only".into(), 6)]);
        assert_eq!(e.other[0].op, "op 6");
        // The .git mount point and the note are missing below the writable bind: left on the host; .env exists.
        assert_eq!(e.host_changes, vec!["/home/u/src/.git (an empty file)", "/home/u/src/note (an empty file)"]);
        assert!(!e.host_root);
        let topics: Vec<&str> = e.denied.iter().map(|(t, _)| *t).collect();
        assert_eq!(topics, vec!["network", "system calls", "privileges", "environment", "filesystem"]);
        assert_eq!(e.denied[3].1, "the caller's, whole");
    }

    #[test]
    fn a_remount_below_a_writable_mount_protects_inside_it() {
        let ops = vec![
            op(vec![("kind", J::str("bind")), ("source", J::str("/")), ("target", J::str("/")), ("writable", J::Bool(true))]),
            op(vec![("kind", J::str("remount")), ("target", J::str("/etc"))]),
            op(vec![("kind", J::str("symlink")), ("target", J::str("/new/link"))]),
        ];
        let host = Fake { files: vec![], dirs: vec!["/", "/etc"], links: vec!["/new/link"] };
        let e = explain(&plan(ops), &lines(3), &host).unwrap();
        assert!(e.host_root);
        assert_eq!(e.protected.len(), 1);
        assert_eq!(e.protected[0].what, "made read-only");
        // A link that exists on the host is no change; no "filesystem" line with the host's root.
        assert!(e.host_changes.is_empty());
        assert!(e.denied.iter().all(|(t, _)| *t != "filesystem"));
        let host = empty_host();
        let ops = vec![
            op(vec![("kind", J::str("bind")), ("source", J::str("/")), ("target", J::str("/")), ("writable", J::Bool(true))]),
            op(vec![("kind", J::str("dir")), ("target", J::str("/d"))]),
        ];
        assert_eq!(explain(&plan(ops), &lines(2), &host).unwrap().host_changes, vec!["/d (a directory)"]);
    }

    #[test]
    fn leaves_to_node_what_it_would_say_differently() {
        let host = empty_host();
        for target in ["/a//b", "/a/./b", "/a/../b", "/a/", "a", ""] {
            let ops = vec![op(vec![("kind", J::str("tmpfs")), ("target", J::str(target))])];
            assert!(explain(&plan(ops), &lines(1), &host).is_none(), "{target}");
        }
        for kind in ["overlay", "image", "bogus"] {
            let ops = vec![op(vec![("kind", J::str(kind)), ("target", J::str("/x"))])];
            assert!(explain(&plan(ops), &lines(1), &host).is_none(), "{kind}");
        }
        let mut p = plan(vec![]);
        p.set("limits", J::obj(vec![]));
        assert!(explain(&p, &[], &host).is_none(), "a key of presets");
        let mut p = plan(vec![]);
        p.set("network", J::str("allow"));
        assert!(explain(&p, &[], &host).is_none(), "a network the flags cannot make");
        let mut p = plan(vec![]);
        p.set("seccomp", J::obj(vec![("preset", J::str("strict")), ("deny", J::Arr(vec![]))]));
        assert!(explain(&p, &[], &host).is_none(), "seccomp beyond a preset");
        let mut p = plan(vec![]);
        p.set("landlock", J::obj(vec![("allowWrite", J::Arr(vec![]))]));
        assert!(explain(&p, &[], &host).is_none(), "the write allow-list");
        // One description per op, or nothing.
        assert!(explain(&plan(vec![op(vec![("kind", J::str("proc")), ("target", J::str("/proc"))])]), &[], &host).is_none());
        // A key present as undefined is no key.
        let mut p = plan(vec![]);
        p.set_undefined("limits");
        assert!(explain(&p, &[], &host).is_some());
    }

    #[test]
    fn denied_lines_follow_the_plan() {
        let host = empty_host();
        let mut p = plan(vec![]);
        p.set("network", J::str("host"));
        p.set("seccomp", J::obj(vec![("preset", J::str("none"))]));
        p.set("capAdd", J::Arr(vec![J::str("CAP_NET_RAW")]));
        p.set("env", J::obj(vec![("inherit", J::Bool(false)), ("set", J::obj(vec![("A", J::str("1")), ("B", J::str("2"))]))]));
        p.set("hostname", J::str("box"));
        let e = explain(&p, &[], &host).unwrap();
        let d: Vec<(&str, &str)> = e.denied.iter().map(|(t, s)| (*t, s.as_str())).collect();
        assert_eq!(
            d,
            vec![
                ("network", "not denied: the host's network is shared"),
                ("system calls", "no preset filter"),
                ("privileges", "every capability dropped but CAP_NET_RAW (inside the user namespace); no_new_privs"),
                ("environment", "empty but A, B"),
                ("filesystem", "every host path not listed above"),
                ("hostname", "box (not the host's)"),
            ]
        );
        let mut p = plan(vec![]);
        p.set("env", J::obj(vec![("unset", J::Arr(vec![J::str("TOKEN"), J::str("KEY")])), ("set", J::obj(vec![("X", J::str("1"))]))]));
        let e = explain(&p, &[], &host).unwrap();
        assert_eq!(e.denied[3].1, "the caller's, minus 2: TOKEN, KEY; set: X");
    }

    #[test]
    fn text_form_pads_quotes_and_escapes() {
        let ops = vec![op(vec![("kind", J::str("bind")), ("source", J::str("/usr")), ("target", J::str("/usr\u{1b}[2J"))])];
        let mut p = plan(ops);
        p.set("cwd", J::str("/w"));
        let e = explain(&p, &lines(1), &empty_host()).unwrap();
        let text = format(&e);
        // Padded by the raw path's length (8), then escaped: as explain.ts does.
        let want = "program:   make 'it'\\''s'\ndirectory: /w\n\nvisible, read-only:\n  /usr\\x1b[2J        read-only: host /usr\n  (nothing else of the host)\n\nwritable:\n  nothing\n\ndenied:\n  network       none: a new network namespace with only loopback\n";
        assert!(text.starts_with(want), "{text}");
        assert!(text.ends_with("  filesystem    every host path not listed above\n"), "{text}");
        let e = Explanation { host_root: true, ..Explanation::default() };
        let text = format(&e);
        assert!(
            text.starts_with("program:   (none given)\ndirectory: the caller's, when the sandbox shows it; else /\n\nwritable:\n  nothing\n\ndenied:\n"),
            "{text}"
        );
    }

    #[test]
    fn json_form_is_json_stringify_of_the_explanation() {
        let ops = vec![op(vec![("kind", J::str("proc")), ("target", J::str("/proc"))])];
        let e = explain(&plan(ops), &lines(1), &empty_host()).unwrap();
        let text = to_json(&e);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["argv"], serde_json::json!(["make", "it's"]));
        assert_eq!(v["other"][0], serde_json::json!({"path": "/proc", "what": "a private proc: processes of this sandbox only", "op": "op 0", "index": 0}));
        assert_eq!(v["skipped"], serde_json::json!([]));
        assert!(v.get("cwd").is_none());
        assert!(text.ends_with("}\n") && text.starts_with("{\n  \"argv\": [\n"));
    }

    #[test]
    fn helpers_match_explain_ts() {
        assert_eq!(bytes(1 << 30), "1 GiB");
        assert_eq!(bytes(3 << 20), "3 MiB");
        assert_eq!(bytes(4096), "4 KiB");
        assert_eq!(bytes(1000), "1000 bytes");
        assert_eq!(shell_word("a-b_c/d.e:f,g=h+i%j@k"), "a-b_c/d.e:f,g=h+i%j@k");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("é"), "'é'");
        assert_eq!(escape_control("a\u{7}\u{7f}\u{85}\u{202e}b\u{2066}é"), "a\\x07\\x7f\\x85\\u{202e}b\\u{2066}é");
        assert_eq!(escape_control("\t\n"), "\\x09\\x0a");
        assert_eq!(units("a\u{1f600}"), 3);
        assert!(normal("/") && normal("/a/b") && !normal("/a/") && !normal("//") && !normal("/a/.."));
        assert!(is_within("/a/b", "/a") && is_within("/a", "/a") && !is_within("/ab", "/a") && is_within("/x", "/"));
        assert_eq!(host_path("/src", "/w", "/w/x/y"), "/src/x/y");
        assert_eq!(host_path("/", "/", "/x"), "/x");
        assert_eq!(host_path("/src", "/w", "/w"), "/src");
    }
}
