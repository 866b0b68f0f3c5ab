//! Stage: where Node would find doctor's facts, found without Node.
//! Inputs: the CLI package's bin directory, the environment, the files of
//! the install. Output: what doctor's full `node -e` (doctor.rs FACTS_JS)
//! would answer for the core package's version, the addon's path and
//! where init-path.js finds `sandboxctl-init` and `sandboxctl-oci`; Node
//! is then only asked what only it knows (its versions, and that the addon
//! loads: `process.dlopen` of the path found here, no module loader).
//!
//! Invariant: answered only where Node's answer is certain — packages found
//! in a `node_modules` beside or above the start, without an `exports`
//! field where it would decide, no variable that changes Node's resolution
//! or the addon's loader, this host's libc read from `/usr/bin/ldd` as both
//! loaders read it. Anything else is `None`, and the full `node -e` runs.

use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

/// An executable as init-path.js names it (doctor.rs `Exe` before its
/// `--version`).
#[derive(Debug, PartialEq, Eq)]
pub struct Found {
    pub path: String,
    pub from_env: bool,
    pub from: Option<String>,
}

/// Everything but Node's own versions.
#[derive(Debug, PartialEq, Eq)]
pub struct Install {
    pub core: String,
    pub addon: String,
    pub init: Found,
    pub oci: Found,
}

/// What the process sees: the environment and the current directory
/// (given, so tests need not change the process's own).
pub struct Env<'a> {
    pub var: &'a dyn Fn(&str) -> Option<String>,
    pub cwd: &'a Path,
}

/// Node's `path.resolve(p)`: absolute against `cwd`, `.` and `..` folded
/// by name (no symlink followed), no trailing slash.
pub fn node_resolve(cwd: &Path, p: &str) -> PathBuf {
    let joined = if p.starts_with('/') { PathBuf::from(p) } else { cwd.join(p) };
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The package.json of a package, parsed.
fn manifest(dir: &Path) -> Option<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(dir.join("package.json")).ok()?).ok()
}

/// `require.resolve(name + '/package.json', { paths: [from] })`'s directory,
/// for a package in a `node_modules` of `from` or of a directory above it
/// (Node's `_nodeModulePaths`: none inside a `node_modules` segment itself),
/// symlinks resolved as Node's realpath does. `Err(())` where Node could
/// look further (NODE_PATH, the global folders) or would read `exports`.
fn package_dir(env: &Env, from: &Path, name: &str) -> Result<Option<PathBuf>, ()> {
    for dir in from.ancestors() {
        if dir.file_name() == Some(OsStr::new("node_modules")) {
            continue;
        }
        let cand = dir.join("node_modules").join(name);
        if cand.join("package.json").is_file() {
            let m = manifest(&cand).ok_or(())?;
            // `exports` decides what may be required: left to Node.
            if m.get("exports").is_some() {
                return Err(());
            }
            return std::fs::canonicalize(&cand).map(Some).map_err(|_| ());
        }
    }
    // Not in any node_modules: Node would try NODE_PATH and its global
    // folders next; answer only when there are none.
    if (env.var)("NODE_PATH").is_some_and(|v| !v.is_empty()) {
        return Err(());
    }
    if let Some(home) = (env.var)("HOME") {
        if [".node_modules", ".node_libraries"].iter().any(|d| Path::new(&home).join(d).exists()) {
            return Err(());
        }
    }
    if node_prefix_lib(env).is_none_or(|p| p.exists()) {
        return Err(());
    }
    Ok(None)
}

/// `$PREFIX/lib/node`, the global folder Node derives from its own path:
/// `node` as PATH finds it, resolved.
fn node_prefix_lib(env: &Env) -> Option<PathBuf> {
    let path = (env.var)("PATH")?;
    let node = path.split(':').filter(|d| !d.is_empty()).map(|d| Path::new(d).join("node")).find(|p| p.is_file())?;
    let real = std::fs::canonicalize(node).ok()?;
    Some(real.parent()?.parent()?.join("lib/node"))
}

/// The core package's version, as FACTS_JS reads it (`unknown` when its
/// package.json is not found or has none); `Err` where Node must answer.
/// The core package declares `./package.json` in `exports`, which Node
/// honours: read here only for exactly that declaration.
fn core_version(env: &Env, bin: &Path) -> Result<String, ()> {
    for dir in bin.ancestors() {
        if dir.file_name() == Some(OsStr::new("node_modules")) {
            continue;
        }
        let cand = dir.join("node_modules/@sandboxctl/core");
        if cand.join("package.json").is_file() {
            let Some(m) = manifest(&cand) else { return Ok("unknown".into()) };
            match m.get("exports") {
                None => {}
                Some(e) if e.get("./package.json").and_then(|v| v.as_str()) == Some("./package.json") => {}
                Some(_) => return Err(()),
            }
            return Ok(m.get("version").and_then(|v| v.as_str()).unwrap_or("unknown").to_string());
        }
    }
    package_dir(env, bin, "@sandboxctl/core").map(|_| "unknown".to_string())
}

/// Node's name for this machine's architecture, where the packages exist.
fn node_arch() -> Option<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => Some("x64"),
        "aarch64" => Some("arm64"),
        _ => None,
    }
}

/// Everything doctor's full `node -e` answers but Node's versions, from
/// the CLI package's bin directory `bin` (absolute); `None`: ask Node.
pub fn install(env: &Env, bin: &Path) -> Option<Install> {
    // Variables that change how Node resolves or what the addon's loader
    // loads: Node answers.
    for v in ["NODE_PRESERVE_SYMLINKS", "NAPI_RS_NATIVE_LIBRARY_PATH", "NAPI_RS_FORCE_WASI", "NAPI_RS_ENFORCE_VERSION_CHECK"] {
        if (env.var)(v).is_some() {
            return None;
        }
    }
    if (env.var)("NODE_OPTIONS").is_some_and(|o| o.contains("symlinks") || o.contains("conditions") || o.contains("-C")) {
        return None;
    }
    let arch = node_arch()?;
    // Both loaders (the addon's and init-path.js) read /usr/bin/ldd first;
    // without it they ask Node's process report.
    let musl = std::fs::read("/usr/bin/ldd").ok()?.windows(4).any(|w| w == b"musl");
    let libcs = if musl { ["musl", "gnu"] } else { ["gnu", "musl"] };
    let core = core_version(env, bin).ok()?;
    let native = package_dir(env, bin, "@sandboxctl/native").ok()??;
    let m = manifest(&native)?;
    if m.get("main").and_then(|v| v.as_str()).is_some_and(|main| main != "index.js" && main != "./index.js") {
        return None;
    }
    // The platform packages as init-path.js (beside index.js) resolves them.
    let mut platform = Vec::new();
    for libc in libcs {
        let name = format!("@sandboxctl/native-linux-{arch}-{libc}");
        if let Some(dir) = package_dir(env, &native, &name).ok()? {
            platform.push((name, dir));
        }
    }
    // The addon's loader: this libc's file beside index.js, else its platform package's main.
    let local = native.join(format!("sandboxctl.linux-{arch}-{}.node", libcs[0]));
    let addon = if local.is_file() {
        std::fs::canonicalize(local).ok()?
    } else {
        let (_, dir) = platform.iter().find(|(n, _)| n.ends_with(libcs[0]))?;
        let main = manifest(dir)?.get("main")?.as_str()?.to_string();
        std::fs::canonicalize(dir.join(main)).ok()?
    };
    let addon = addon.into_os_string().into_string().ok()?;
    // FACTS_JS names the addon by this pattern; another name is Node's to find.
    let base = addon.rsplit('/').next()?;
    if !(base.starts_with("sandboxctl.") && base.ends_with(".node")) {
        return None;
    }
    let exe = |var: &str, file: &str| -> Option<Found> {
        let mut candidates: Vec<(PathBuf, String)> = Vec::new();
        let named = (env.var)(var).filter(|v| !v.is_empty());
        if let Some(v) = &named {
            candidates.push((PathBuf::from(v), var.to_string()));
        }
        candidates.push((native.join(file), "source build".into()));
        candidates.extend(platform.iter().map(|(n, d)| (d.join(file), n.clone())));
        let chosen = match &named {
            Some(v) => PathBuf::from(v),
            None => candidates.iter().find(|(p, _)| p.exists()).unwrap_or(&candidates[0]).0.clone(),
        };
        let abs = node_resolve(env.cwd, chosen.to_str()?);
        let from = candidates.iter().find(|(p, _)| p.to_str().map(|p| node_resolve(env.cwd, p)) == Some(abs.clone())).map(|(_, f)| f.clone());
        Some(Found { path: abs.into_os_string().into_string().ok()?, from_env: named.is_some(), from })
    };
    Some(Install { core, addon, init: exe("SANDBOXCTL_INIT", "sandboxctl-init")?, oci: exe("SANDBOXCTL_OCI", "sandboxctl-oci")? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::fs;

    #[test]
    fn paths_fold_as_node_path_resolve() {
        let cwd = Path::new("/w/a");
        assert_eq!(node_resolve(cwd, "./x/../y"), PathBuf::from("/w/a/y"));
        assert_eq!(node_resolve(cwd, "../../../z/"), PathBuf::from("/z"));
        assert_eq!(node_resolve(cwd, "/p//q/./r"), PathBuf::from("/p/q/r"));
        assert_eq!(node_resolve(cwd, "."), PathBuf::from("/w/a"));
    }

    /// A fake install under a temporary directory.
    struct Tree(PathBuf);
    impl Tree {
        fn new(tag: &str) -> Tree {
            let d = std::env::temp_dir().join(format!("sbx-front-resolve-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&d);
            fs::create_dir_all(&d).unwrap();
            Tree(fs::canonicalize(d).unwrap())
        }
        fn file(&self, rel: &str, text: &str) -> PathBuf {
            let p = self.0.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, text).unwrap();
            p
        }
    }
    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn with(vars: &[(&str, &str)], cwd: &Path, f: impl FnOnce(&Env) -> Option<Install>) -> Option<Install> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let var = move |k: &str| map.get(k).cloned();
        f(&Env { var: &var, cwd })
    }

    #[test]
    fn an_installed_cli_with_its_platform_package() {
        let Some(arch) = node_arch() else { return };
        let libc = if fs::read("/usr/bin/ldd").is_ok_and(|l| l.windows(4).any(|w| w == b"musl")) { "musl" } else { "gnu" };
        if fs::read("/usr/bin/ldd").is_err() {
            return;
        }
        let t = Tree::new("installed");
        let nm = "proj/node_modules";
        let bin = t.0.join(format!("{nm}/sandboxctl/bin"));
        fs::create_dir_all(&bin).unwrap();
        t.file(&format!("{nm}/@sandboxctl/core/package.json"), r#"{"version":"1.2.3","exports":{"./package.json":"./package.json"}}"#);
        t.file(&format!("{nm}/@sandboxctl/native/package.json"), r#"{"main":"index.js"}"#);
        let pkg = format!("{nm}/@sandboxctl/native-linux-{arch}-{libc}");
        t.file(&format!("{pkg}/package.json"), &format!(r#"{{"main":"sandboxctl.linux-{arch}-{libc}.node"}}"#));
        t.file(&format!("{pkg}/sandboxctl.linux-{arch}-{libc}.node"), "");
        t.file(&format!("{pkg}/sandboxctl-init"), "");
        let real_path = std::env::var("PATH").unwrap_or_default();
        let path = [("PATH", real_path.as_str()), ("HOME", "/nonexistent")];
        let got = with(&path, &t.0, |e| install(e, &bin)).expect("answered");
        let p = |rel: &str| t.0.join(rel).to_str().unwrap().to_string();
        assert_eq!(got.core, "1.2.3");
        assert_eq!(got.addon, p(&format!("{pkg}/sandboxctl.linux-{arch}-{libc}.node")));
        let plat = format!("@sandboxctl/native-linux-{arch}-{libc}");
        assert_eq!(got.init, Found { path: p(&format!("{pkg}/sandboxctl-init")), from_env: false, from: Some(plat) });
        // None exists: the source-build path, named as such.
        assert_eq!(got.oci, Found { path: p(&format!("{nm}/@sandboxctl/native/sandboxctl-oci")), from_env: false, from: Some("source build".into()) });
        // A variable names the launcher, relative to the working directory.
        let rel = [("SANDBOXCTL_INIT", "./a/../x-init"), path[0], path[1]];
        let got = with(&rel, Path::new("/w"), |e| install(e, &bin)).expect("answered");
        assert_eq!(got.init, Found { path: "/w/x-init".into(), from_env: true, from: Some("SANDBOXCTL_INIT".into()) });
        // A local addon beside index.js wins over the platform package's.
        t.file(&format!("{nm}/@sandboxctl/native/sandboxctl.linux-{arch}-{libc}.node"), "");
        let got = with(&path, &t.0, |e| install(e, &bin)).expect("answered");
        assert_eq!(got.addon, p(&format!("{nm}/@sandboxctl/native/sandboxctl.linux-{arch}-{libc}.node")));
        // Whatever changes Node's resolution or the loader leaves it to Node.
        for v in ["NODE_PRESERVE_SYMLINKS", "NAPI_RS_NATIVE_LIBRARY_PATH", "NAPI_RS_ENFORCE_VERSION_CHECK"] {
            assert!(with(&[(v, "1"), path[0]], &t.0, |e| install(e, &bin)).is_none(), "{v}");
        }
        assert!(with(&[("NODE_OPTIONS", "--preserve-symlinks"), path[0]], &t.0, |e| install(e, &bin)).is_none());
        // A core package whose exports would not let package.json out: Node's.
        t.file(&format!("{nm}/@sandboxctl/core/package.json"), r#"{"version":"1.2.3","exports":{".":"./i.js"}}"#);
        assert!(with(&path, &t.0, |e| install(e, &bin)).is_none());
        // No core package anywhere: `unknown`, as FACTS_JS says, unless Node could look further.
        fs::remove_dir_all(t.0.join(format!("{nm}/@sandboxctl/core"))).unwrap();
        assert_eq!(with(&path, &t.0, |e| install(e, &bin)).expect("answered").core, "unknown");
        assert!(with(&[("NODE_PATH", "/x"), path[0]], &t.0, |e| install(e, &bin)).is_none());
    }

    #[test]
    fn no_native_package_is_left_to_node() {
        let t = Tree::new("empty");
        let bin = t.0.join("cli/bin");
        fs::create_dir_all(&bin).unwrap();
        assert!(with(&[("PATH", "/nonexistent"), ("HOME", "/nonexistent")], &t.0, |e| install(e, &bin)).is_none());
    }
}
