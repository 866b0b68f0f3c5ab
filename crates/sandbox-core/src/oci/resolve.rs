//! Mount destinations resolved inside the container's root, as gVisor's
//! `resolveSymlinks` means to (seed 003): `..` is clamped at the root, an
//! absolute link target restarts at the root, missing components are kept,
//! and more than 255 links (a loop) is an error. Unlike the seed, `..` is
//! taken after the links before it, as the kernel (and so openat2's
//! RESOLVE_IN_ROOT, which opens the result) takes it.
//!
//! A pure walker over [`Lookup`]: the host implementation reads the rootfs,
//! the tests a table.

use std::path::Path;

/// What a path is, for the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Missing,
    Link(String),
    Other,
}

pub trait Lookup {
    /// `path` is absolute on the host (the root joined with the walk so far).
    fn entry(&self, path: &str) -> Result<Entry, String>;
}

/// The host filesystem.
pub struct Host;

impl Lookup for Host {
    fn entry(&self, path: &str) -> Result<Entry, String> {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => std::fs::read_link(path).map(|t| Entry::Link(t.to_string_lossy().into_owned())).map_err(|e| e.to_string()),
            Ok(_) => Ok(Entry::Other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) => Ok(Entry::Missing),
            Err(e) => Err(format!("cannot look up {path}: {e}")),
        }
    }
}

/// The most links followed (gVisor's and the kernel's bound is 40; the seed's 255).
pub const MAX_LINKS: u32 = 255;

/// `rel` resolved inside `root`; returns the path inside the root (`/a/b`).
pub fn resolve(root: &str, rel: &str, fs: &dyn Lookup) -> Result<String, String> {
    let root = root.trim_end_matches('/');
    let mut todo: Vec<String> = components(rel).rev().collect();
    let mut done: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(name) = todo.pop() {
        if name == ".." {
            done.pop();
            continue;
        }
        let host = format!("{root}/{}", join(&done, &name));
        match fs.entry(&host)? {
            Entry::Link(target) => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(format!("{rel}: too many levels of symbolic links"));
                }
                if target.starts_with('/') {
                    done.clear();
                }
                todo.extend(components(&target).rev());
            }
            Entry::Missing | Entry::Other => done.push(name),
        }
    }
    Ok(format!("/{}", done.join("/")))
}

fn components(p: &str) -> impl DoubleEndedIterator<Item = String> + '_ {
    p.split('/').filter(|c| !c.is_empty() && *c != ".").map(String::from)
}

fn join(done: &[String], name: &str) -> String {
    if done.is_empty() {
        name.to_string()
    } else {
        format!("{}/{name}", done.join("/"))
    }
}

/// The host path of `inside` under `root`.
pub fn host_path(root: &str, inside: &str) -> String {
    Path::new(root).join(inside.trim_start_matches('/')).to_string_lossy().trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// gVisor's `construct` tree (runsc/container/fs_test.go).
    const TREE: &[(&str, &str)] = &[
        ("dir1/dir11/dir111/dir1111", ""),
        ("dir1/lnk12", "dir11"),
        ("dir1/lnk13", "./dir11"),
        ("dir1/lnk14", "../dir1/dir11"),
        ("dir1/dir15/lnk151", ".."),
        ("dir1/lnk16", "dir11/dir111"),
        ("dir1/lnk17", "."),
        ("dir1/lnk18", "lnk13"),
        ("lnk2", "dir1/lnk13"),
        ("dir3/dir21/lnk211", "../.."),
        ("dir3/lnk22", "/"),
        ("dir3/lnk23", "/dir1"),
        ("dir3/lnk24", "/dir1/lnk12"),
        ("lnk5", "../../.."),
    ];

    fn construct(root: &Path, tree: &[(&str, &str)]) {
        for (rel, link) in tree {
            let p = root.join(rel);
            if link.is_empty() {
                std::fs::create_dir_all(&p).unwrap();
            } else {
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                symlink(link, &p).unwrap();
            }
        }
    }

    fn tempdir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("sandboxctl-resolve-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d.canonicalize().unwrap()
    }

    /// Every row of gVisor's TestResolveSymlinks; `true` where the host's
    /// realpath must agree.
    #[test]
    fn gvisor_resolve_symlinks_table() {
        let root = tempdir("table");
        construct(&root, TREE);
        let rows: &[(&str, &str, &str, bool)] = &[
            ("root", "/", "/", true),
            ("basic dir", "/dir1/dir11/dir111", "/dir1/dir11/dir111", true),
            ("dot 1", "/dir1/dir11/./dir111", "/dir1/dir11/dir111", true),
            ("dot 2", "/dir1/././dir11/./././././dir111/.", "/dir1/dir11/dir111", true),
            ("dotdot 1", "/dir1/dir11/../dir15", "/dir1/dir15", true),
            ("dotdot 2", "/dir1/dir11/dir1111/../..", "/dir1", true),
            ("link sibling", "/dir1/lnk12", "/dir1/dir11", true),
            ("link sibling + dir", "/dir1/lnk12/dir111", "/dir1/dir11/dir111", true),
            ("link sibling through self", "/dir1/lnk13", "/dir1/dir11", true),
            ("link sibling through parent", "/dir1/lnk14", "/dir1/dir11", true),
            ("link parent", "/dir1/dir15/lnk151", "/dir1", true),
            ("link parent + dir", "/dir1/dir15/lnk151/dir11", "/dir1/dir11", true),
            ("link child", "/dir1/lnk16", "/dir1/dir11/dir111", true),
            ("link child + dir", "/dir1/lnk16/dir1111", "/dir1/dir11/dir111/dir1111", true),
            ("link self", "/dir1/lnk17", "/dir1", true),
            ("link self + dir", "/dir1/lnk17/dir11", "/dir1/dir11", true),
            ("link^2", "/dir1/lnk18", "/dir1/dir11", true),
            ("link^2 + dir", "/dir1/lnk18/dir111", "/dir1/dir11/dir111", true),
            ("link^3", "/lnk2", "/dir1/dir11", true),
            ("link^3 + dir", "/lnk2/dir111", "/dir1/dir11/dir111", true),
            ("link abs", "/dir3/lnk23", "/dir1", false),
            ("link abs + dir", "/dir3/lnk23/dir11", "/dir1/dir11", false),
            ("link^2 abs", "/dir3/lnk24", "/dir1/dir11", false),
            ("link^2 abs + dir", "/dir3/lnk24/dir111", "/dir1/dir11/dir111", false),
            ("root link rel", "/dir3/dir21/lnk211", "/", true),
            ("root link abs", "/dir3/lnk22", "/", false),
            ("root contain link", "/lnk5/dir1", "/dir1", false),
            ("root contain dotdot", "/dir1/dir11/../../../../../../../..", "/", false),
            ("crazy", "/dir3/dir21/lnk211/dir3/lnk22/dir1/dir11/../../lnk5/dir3/../dir3/lnk24/dir111/dir1111/..", "/dir1/dir11/dir111", false),
        ];
        let r = root.to_str().unwrap();
        for (name, rel, want, compare_host) in rows {
            let got = resolve(r, rel, &Host).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&got, want, "{name}");
            if *compare_host {
                // As gVisor's test, the host path is joined (so cleaned
                // lexically: "dotdot 2" names a missing dir11/dir1111) first.
                let host = std::fs::canonicalize(root.join(clean(rel).trim_start_matches('/'))).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(host.to_str().unwrap(), host_path(r, &got), "{name}: host realpath differs");
            }
        }
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn gvisor_resolve_symlinks_loop() {
        let root = tempdir("loop");
        construct(&root, &[("loop1", "loop2"), ("loop2", "loop1")]);
        let e = resolve(root.to_str().unwrap(), "loop1", &Host).unwrap_err();
        assert!(e.contains("too many levels of symbolic links"), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// Attack cases: destinations that would leave the rootfs land inside.
    #[test]
    fn escapes_land_inside_the_root() {
        let root = tempdir("escape");
        construct(&root, &[("etc", ""), ("link", "/etc"), ("up", "../../.."), ("proc", ""), ("sneaky", "/proc/self/root/etc"), ("rel/deep", "")]);
        let r = root.to_str().unwrap();
        assert_eq!(resolve(r, "/../../../etc", &Host).unwrap(), "/etc");
        assert_eq!(resolve(r, "/link/passwd", &Host).unwrap(), "/etc/passwd");
        assert_eq!(resolve(r, "/up/up/etc", &Host).unwrap(), "/etc");
        // A magic link is only a name inside the root: it resolves to the
        // rootfs's own /proc/self/root/etc path, not the host's.
        assert_eq!(resolve(r, "/sneaky", &Host).unwrap(), "/proc/self/root/etc");
        assert_eq!(resolve(r, "/rel/deep/../../../missing/x", &Host).unwrap(), "/missing/x");
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// Go's path.Clean for absolute paths.
    fn clean(p: &str) -> String {
        let mut out: Vec<&str> = Vec::new();
        for c in p.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    out.pop();
                }
                c => out.push(c),
            }
        }
        format!("/{}", out.join("/"))
    }

    struct Table(Vec<(&'static str, Entry)>);
    impl Lookup for Table {
        fn entry(&self, path: &str) -> Result<Entry, String> {
            Ok(self.0.iter().find(|(p, _)| *p == path).map(|(_, e)| e.clone()).unwrap_or(Entry::Missing))
        }
    }

    #[test]
    fn missing_components_are_kept_and_dotdot_follows_links() {
        let t = Table(vec![("/r/a", Entry::Link("b/c".into())), ("/r/b", Entry::Other), ("/r/b/c", Entry::Other)]);
        // /a -> b/c, then .. is taken after the link, as the kernel does: /b.
        assert_eq!(resolve("/r", "/a/../x", &t).unwrap(), "/b/x");
        assert_eq!(resolve("/r/", "/no/such/../dir", &t).unwrap(), "/no/dir");
        let lookups = Table(vec![("/r/self", Entry::Link("self".into()))]);
        assert!(resolve("/r", "/self", &lookups).is_err());
    }
}
