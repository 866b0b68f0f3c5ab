//! safe_extract against real directories: the path rules, whiteouts and
//! opaque directories, and each attack of docs/images.md, with a check that
//! nothing beside the target changed.

use super::safe_extract::*;
use crate::error::Code;
use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// One tar entry, written by hand (tar::Builder refuses `..` and `/`).
pub struct E<'a> {
    pub name: &'a str,
    pub kind: u8,
    pub data: &'a [u8],
    pub link: &'a str,
    pub mode: u32,
}

pub fn file<'a>(name: &'a str, data: &'a [u8]) -> E<'a> {
    E { name, kind: b'0', data, link: "", mode: 0o644 }
}
pub fn dir(name: &str) -> E<'_> {
    E { name, kind: b'5', data: b"", link: "", mode: 0o755 }
}
pub fn symlink<'a>(name: &'a str, to: &'a str) -> E<'a> {
    E { name, kind: b'2', data: b"", link: to, mode: 0o777 }
}
pub fn hardlink<'a>(name: &'a str, to: &'a str) -> E<'a> {
    E { name, kind: b'1', data: b"", link: to, mode: 0o644 }
}

/// A ustar stream of `entries` (names and links up to 100 bytes).
pub fn tar(entries: &[E]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut h = [0u8; 512];
        h[..e.name.len()].copy_from_slice(e.name.as_bytes());
        let octal = |h: &mut [u8], at: usize, len: usize, v: u64| {
            let s = format!("{v:0w$o}\0", w = len - 1);
            h[at..at + len].copy_from_slice(s.as_bytes());
        };
        octal(&mut h, 100, 8, u64::from(e.mode));
        octal(&mut h, 108, 8, 0);
        octal(&mut h, 116, 8, 0);
        octal(&mut h, 124, 12, e.data.len() as u64);
        octal(&mut h, 136, 12, 1_700_000_000);
        h[156] = e.kind;
        h[157..157 + e.link.len()].copy_from_slice(e.link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(e.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// A scratch area: `base/dest` is the target, `base/outside` a sibling
/// holding a file the attacks aim at.
struct Scratch {
    base: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let base = std::env::temp_dir().join(format!("sbx-extract-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(base.join("dest")).unwrap();
        fs::create_dir_all(base.join("outside")).unwrap();
        fs::write(base.join("outside/passwd"), "root:x:0:0\n").unwrap();
        Scratch { base }
    }
    fn dest(&self) -> PathBuf {
        self.base.join("dest")
    }
    /// Everything outside `dest`, with contents, for before/after checks.
    fn outside(&self) -> Vec<(String, Vec<u8>)> {
        let mut v = Vec::new();
        walk(&self.base, &self.base, &mut v, &self.dest());
        v.sort();
        v
    }
    fn layer(&self, entries: &[E]) -> Result<Stats, crate::error::SetupError> {
        let d = fs::File::open(self.dest()).unwrap();
        extract(&tar(entries)[..], d.as_fd(), &Options::layer("layer 1"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chmod").args(["-R", "u+rwx"]).arg(&self.base).status();
        let _ = fs::remove_dir_all(&self.base);
    }
}

fn walk(root: &Path, p: &Path, out: &mut Vec<(String, Vec<u8>)>, skip: &Path) {
    for e in fs::read_dir(p).unwrap() {
        let path = e.unwrap().path();
        if path == skip {
            continue;
        }
        let rel = path.strip_prefix(root).unwrap().display().to_string();
        let md = fs::symlink_metadata(&path).unwrap();
        if md.is_dir() {
            out.push((rel, vec![]));
            walk(root, &path, out, skip);
        } else if md.is_file() {
            out.push((rel, fs::read(&path).unwrap()));
        } else {
            out.push((rel, fs::read_link(&path).unwrap().into_os_string().into_encoded_bytes()));
        }
    }
}

/// The entries of one attack, one layer each: the last must fail with
/// `code` naming `entry`, and nothing outside may change.
fn attack(name: &str, layers: &[&[E]], code: Code, entry: &str) {
    let s = Scratch::new(name);
    let before = s.outside();
    let mut err = None;
    for l in layers {
        if let Err(e) = s.layer(l) {
            err = Some(e);
            break;
        }
    }
    let e = err.unwrap_or_else(|| panic!("{name}: no error"));
    assert_eq!(e.code, code, "{name}: {}", e.message);
    assert!(e.message.contains(entry), "{name}: {}", e.message);
    assert_eq!(s.outside(), before, "{name}: something outside the target changed");
    assert_eq!(fs::read(s.base.join("outside/passwd")).unwrap(), b"root:x:0:0\n");
}

#[test]
fn components_refuse_absolute_and_dotdot() {
    assert_eq!(components(b"./a//b/").unwrap(), [&b"a"[..], b"b"]);
    assert!(components(b".").unwrap().is_empty());
    assert!(components(b"/etc/x").is_err());
    assert!(components(b"a/../b").is_err());
    assert!(components(b"..").is_err());
    assert!(components(b"a/..").is_err());
    assert_eq!(components(b"a/..b").unwrap(), [&b"a"[..], b"..b"]);
}

#[test]
fn whiteout_names() {
    assert_eq!(whiteout(b".wh..wh..opq"), Ok(Whiteout::Opaque));
    assert_eq!(whiteout(b".wh.x"), Ok(Whiteout::Remove(b"x")));
    assert_eq!(whiteout(b".wh..x"), Ok(Whiteout::Remove(b".x")));
    assert_eq!(whiteout(b"x.wh.y"), Ok(Whiteout::None));
    assert!(whiteout(b".wh...").is_err());
    assert!(whiteout(b".wh..").is_err());
    assert!(whiteout(b".wh.").is_err());
}

#[test]
fn whiteouts_remove_what_lower_layers_made() {
    let s = Scratch::new("whiteout");
    s.layer(&[dir("a"), file("a/x", b"1"), file("a/y", b"2"), dir("d"), file("d/deep", b"3"), symlink("l", "/etc")]).unwrap();
    let st = s.layer(&[file("a/.wh.x", b""), file(".wh.d", b""), file(".wh.l", b""), file(".wh.never", b"")]).unwrap();
    assert_eq!(st.whiteouts, 4);
    let d = s.dest();
    assert!(!d.join("a/x").exists() && d.join("a/y").exists());
    assert!(!d.join("d").exists() && fs::symlink_metadata(d.join("l")).is_err());
    assert!(!d.join("a/.wh.x").exists(), "a whiteout is never extracted as a file");
}

#[test]
fn opaque_directories_hide_lower_layers_but_keep_their_own_layer() {
    let s = Scratch::new("opaque");
    s.layer(&[dir("o"), file("o/old", b"1"), dir("o/sub"), file("o/sub/f", b"2"), file("keep", b"k")]).unwrap();
    // This layer's own entry comes before the marker and must stay.
    s.layer(&[dir("o"), file("o/new1", b"n"), file("o/.wh..wh..opq", b""), file("o/new2", b"m")]).unwrap();
    let mut names: Vec<String> = fs::read_dir(s.dest().join("o")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["new1", "new2"]);
    assert_eq!(fs::read(s.dest().join("keep")).unwrap(), b"k");
}

#[test]
fn a_later_entry_replaces_and_never_writes_through() {
    let s = Scratch::new("replace");
    let target = s.base.join("outside/passwd");
    // A symlink to outside, then a file of the same name: the link is replaced.
    s.layer(&[symlink("s", target.to_str().unwrap())]).unwrap();
    s.layer(&[file("s", b"mine")]).unwrap();
    assert_eq!(fs::read(s.dest().join("s")).unwrap(), b"mine");
    assert!(!fs::symlink_metadata(s.dest().join("s")).unwrap().file_type().is_symlink());
    // A symlinked directory replaced by a real one, then written into.
    s.layer(&[symlink("d", s.base.join("outside").to_str().unwrap())]).unwrap();
    s.layer(&[dir("d"), file("d/x", b"in")]).unwrap();
    assert_eq!(fs::read(s.dest().join("d/x")).unwrap(), b"in");
    assert!(!s.base.join("outside/x").exists());
    assert_eq!(fs::read(&target).unwrap(), b"root:x:0:0\n");
}

#[test]
fn modes_devices_and_hard_links() {
    let s = Scratch::new("modes");
    let mut suid = file("bin/su", b"#!");
    suid.mode = 0o4755;
    let mut ro = dir("ro");
    ro.mode = 0o555;
    let dev = E { name: "dev/null", kind: b'3', data: b"", link: "", mode: 0o666 };
    let fifo = E { name: "run/fifo", kind: b'6', data: b"", link: "", mode: 0o600 };
    let st = s.layer(&[suid, ro, file("ro/f", b"x"), dev, fifo, file("a", b"same"), hardlink("b", "a")]).unwrap();
    // Another layer still writes into the 0555 directory (owner rwx until finish).
    let st2 = s.layer(&[file("ro/g", b"y")]).unwrap();
    let d = s.dest();
    assert_eq!(fs::metadata(d.join("bin/su")).unwrap().permissions().mode() & 0o7777, 0o755, "setuid dropped");
    assert_eq!((st.devices_skipped, st.fifos, st.hardlinks), (1, 1, 1));
    assert!(!d.join("dev/null").exists());
    assert_eq!(fs::metadata(d.join("a")).unwrap().ino(), fs::metadata(d.join("b")).unwrap().ino());
    let mut all = st;
    all.add(st2);
    finish(fs::File::open(&d).unwrap().as_fd(), &all, Parents::NoSymlinks).unwrap();
    assert_eq!(fs::metadata(d.join("ro")).unwrap().permissions().mode() & 0o777, 0o555);
    assert_eq!(fs::read(d.join("ro/g")).unwrap(), b"y");
}

#[test]
fn attacks_are_refused_and_change_nothing_outside() {
    let u = Code::ImageUnsafe;
    let outside = format!("{}/sbx-extract-absolute-{}/outside/passwd", std::env::temp_dir().display(), std::process::id());
    attack("absolute", &[&[file(&outside, b"pwned")]], u, "is an absolute path");
    attack("dotdot", &[&[file("../outside/passwd", b"pwned")]], u, "../outside/passwd");
    attack("dotdot-deep", &[&[dir("a"), file("a/../../outside/passwd", b"pwned")]], u, "has a .. component");
    // `a -> /`, then a file through it aimed at this test's own outside/passwd
    // (never at a real host file, should the protection ever break).
    let through = format!("a{}/sbx-extract-symlink-root-{}/outside/passwd", std::env::temp_dir().display(), std::process::id());
    attack("symlink-root", &[&[symlink("a", "/")], &[file(&through, b"pwned")]], u, "its parent a is a symlink");
    attack("symlink-outside", &[&[symlink("a", "../outside")], &[file("a/passwd", b"pwned")]], u, "its parent a is a symlink");
    attack("symlink-dotdot-same-layer", &[&[symlink("a", ".."), file("a/outside/passwd", b"pwned")]], u, "its parent a is a symlink");
    attack("hardlink-absolute", &[&[hardlink("h", "/etc/passwd")]], u, "hard link target /etc/passwd is an absolute path");
    attack("hardlink-dotdot", &[&[hardlink("h", "../outside/passwd")]], u, "has a .. component");
    attack("hardlink-to-symlink", &[&[symlink("l", "/etc/passwd"), hardlink("h", "l")]], u, "is not a regular file inside");
    attack("hardlink-through-symlink", &[&[symlink("l", "../outside"), hardlink("h", "l/passwd")]], u, "its parent l is a symlink");
    attack("whiteout-dotdot-path", &[&[file("../.wh.outside", b"")]], u, "has a .. component");
    attack("whiteout-of-dotdot", &[&[dir("a"), file("a/.wh..", b"")]], u, "is a whiteout of");
    attack("symlink-loop", &[&[symlink("l1", "l2"), symlink("l2", "l1"), file("l1/x", b"")]], u, "its parent l1 is a symlink");
    attack("file-as-parent", &[&[file("f", b""), file("f/x", b"")]], u, "its parent f is not a directory");
}

#[test]
fn in_root_parents_follow_symlinks_inside_only() {
    let s = Scratch::new("inroot");
    let before = s.outside();
    let d = fs::File::open(s.dest()).unwrap();
    let o = Options { parents: Parents::InRoot, whiteouts: false, ..Options::layer("the archive") };
    extract(&tar(&[symlink("a", "/"), dir("etc"), file("a/etc/x", b"inside"), symlink("up", "../../.."), file("up/y", b"inside too")])[..], d.as_fd(), &o)
        .unwrap();
    assert_eq!(fs::read(s.dest().join("etc/x")).unwrap(), b"inside");
    assert_eq!(fs::read(s.dest().join("y")).unwrap(), b"inside too");
    assert_eq!(s.outside(), before);
}

#[test]
fn a_truncated_or_foreign_stream_is_invalid() {
    let s = Scratch::new("truncated");
    let mut t = tar(&[file("big", &[7u8; 5000])]);
    t.truncate(1024);
    let d = fs::File::open(s.dest()).unwrap();
    let e = extract(&t[..], d.as_fd(), &Options::layer("layer 1")).unwrap_err();
    assert_eq!(e.code, Code::ImageInvalid, "{}", e.message);
    let e = extract(&b"not a tar at all, just words"[..], d.as_fd(), &Options::layer("layer 1"));
    // 28 bytes are no whole header: an empty archive, or an error; never an entry.
    if let Ok(st) = e {
        assert_eq!(st, Stats::default());
    }
}

#[test]
fn a_path_deeper_than_path_max_is_invalid_with_a_short_message() {
    let s = Scratch::new("deep");
    let deep = "d/".repeat(3000) + "f";
    let mut entries = Vec::new();
    let owned: Vec<String> = (1..=3000).map(|n| "d/".repeat(n)).collect();
    for p in &owned {
        entries.push(dir(p));
    }
    // Names over 100 bytes need GNU long names: build them through tar::Builder.
    let mut b = tar::Builder::new(Vec::new());
    for e in &entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h, e.name, &[][..]).unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    b.append_data(&mut h, &deep, &b"x"[..]).unwrap();
    let bytes = b.into_inner().unwrap();
    let d = fs::File::open(s.dest()).unwrap();
    let e = extract(&bytes[..], d.as_fd(), &Options::layer("layer 1")).unwrap_err();
    assert_eq!(e.code, Code::ImageInvalid, "{}", e.message);
    assert!(e.message.len() < 400, "{}", e.message.len());
    assert!(e.message.contains("file name too long"), "{}", e.message);
}
