//! Stage: `sandboxctl doctor` and `doctor --json` without the Node CLI.
//! Inputs: the CLI package (`bin/sandboxctl.js`), the facts only Node can
//! give — its version, its N-API version, the native addon loaded as the
//! CLI loads it, the core package's version and where `@sandboxctl/native`'s
//! init-path.js finds `sandboxctl-init` and `sandboxctl-oci` — from one
//! small `node -e` that loads nothing else, and the rest from here: the
//! kernel probe (the function the addon calls), each executable's
//! existence, mode and `--version`. Output: the bytes the Node CLI's doctor
//! prints (packages/core/src/diagnose.ts, packages/cli/src/commands/doctor.ts);
//! test/sandbox/front compares the two.
//!
//! Invariant: only a healthy install is answered here. Any problem — the
//! addon does not load, an executable is missing, not executable or its
//! `--version` fails, user namespaces or seccomp unavailable — and any
//! sandboxctl.json nearby (trust is the Node CLI's) is `None`: the Node CLI
//! runs and words the problem itself.

use crate::json::{Obj, J};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};

/// What the small Node prints: one JSON object. `DIR` (argv[1]) is the CLI
/// package's bin directory; packages resolve from there as from the
/// CLI's bundle beside it.
const FACTS_JS: &str = r#"'use strict';
const fs = require('node:fs'), path = require('node:path');
const dir = process.argv[1];
const at = (name) => require.resolve(name, { paths: [dir] });
let core = 'unknown';
try { core = JSON.parse(fs.readFileSync(at('@sandboxctl/core/package.json'), 'utf8')).version ?? 'unknown'; } catch {}
const native = require(at('@sandboxctl/native'));
const version = native.version();
let addon = Object.keys(require.cache).find((k) => /sandboxctl\.[^/]*\.node$/.test(k));
if (addon === undefined) {
  try {
    const d = path.dirname(at('@sandboxctl/native'));
    const f = fs.readdirSync(d).find((n) => /^sandboxctl\..*\.node$/.test(n));
    if (f !== undefined) addon = path.join(d, f);
  } catch {}
}
const ip = require(at('@sandboxctl/native/init-path'));
const exe = (env, p, candidates) => {
  const abs = path.resolve(p);
  return { path: abs, fromEnv: Boolean(process.env[env]), from: candidates.find((c) => path.resolve(c.path) === abs)?.from };
};
fs.writeSync(1, JSON.stringify({
  node: process.version, napi: process.versions.napi, core, version, addon,
  init: exe('SANDBOXCTL_INIT', ip.initPath(), ip.initCandidates()),
  oci: exe('SANDBOXCTL_OCI', ip.ociPath(), ip.ociCandidates()),
}));
"#;

/// The small Node when everything else was found without it
/// ([`crate::resolve::install`]): the addon at `PATH` (argv[1]) loaded as
/// `require` loads a `.node` file, without the module loader's start.
const FAST_JS: &str = r#"'use strict';
const m = { exports: {} };
process.dlopen(m, process.argv[1]);
require('node:fs').writeSync(1, JSON.stringify({ node: process.version, napi: process.versions.napi, version: m.exports.version() }));
"#;

/// diagnose.ts `Executable` of a healthy install.
struct Exe {
    path: String,
    from_env: bool,
    from: Option<String>,
    version: Option<String>,
}

/// Node's answer, parsed.
struct Facts {
    node: String,
    napi: Option<String>,
    core: String,
    version: String,
    addon: Option<String>,
    init: Exe,
    oci: Exe,
}

fn text(v: &serde_json::Value, key: &str) -> Option<String> {
    v.get(key).and_then(|s| s.as_str()).map(String::from)
}

fn exe(v: &serde_json::Value) -> Option<Exe> {
    Some(Exe { path: text(v, "path")?, from_env: v.get("fromEnv")?.as_bool()?, from: text(v, "from"), version: None })
}

/// Starts the small Node; its stdout is read by [`facts`].
fn start_node(cli_js: &OsStr) -> Option<std::process::Child> {
    let bin = std::path::Path::new(cli_js).parent()?;
    let dir = if bin.as_os_str().is_empty() { std::path::PathBuf::from(".") } else { bin.to_path_buf() };
    Command::new("node").arg("-e").arg(FACTS_JS).arg(dir).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().ok()
}

/// The CLI package's bin directory as FACTS_JS's `paths: [dir]` names it
/// to Node: absolute against the working directory.
fn bin_dir(cli_js: &OsStr, cwd: &std::path::Path) -> Option<std::path::PathBuf> {
    let bin = std::path::Path::new(cli_js).parent()?;
    let bin = if bin.as_os_str().is_empty() { "." } else { bin.to_str()? };
    Some(crate::resolve::node_resolve(cwd, bin))
}

/// FAST_JS's answer with the rest found here.
fn fast_facts(child: std::process::Child, i: crate::resolve::Install) -> Option<Facts> {
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let exe = |f: crate::resolve::Found| Exe { path: f.path, from_env: f.from_env, from: f.from, version: None };
    Some(Facts {
        node: text(&v, "node")?,
        napi: text(&v, "napi"),
        core: i.core,
        version: text(&v, "version")?,
        addon: Some(i.addon),
        init: exe(i.init),
        oci: exe(i.oci),
    })
}

fn facts(child: std::process::Child) -> Option<Facts> {
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some(Facts {
        node: text(&v, "node")?,
        napi: text(&v, "napi"),
        core: text(&v, "core")?,
        version: text(&v, "version")?,
        addon: text(&v, "addon"),
        init: exe(v.get("init")?)?,
        oci: exe(v.get("oci")?)?,
    })
}

/// diagnose.ts `inspectExecutable` for a healthy one: a regular file,
/// executable, whose `--version` succeeds; its first line, trimmed.
fn start_version(path: &str) -> Option<std::process::Child> {
    let meta = std::fs::metadata(path).ok()?;
    let c = std::ffi::CString::new(OsStr::new(path).as_bytes()).ok()?;
    // SAFETY: access(2) reads a NUL-terminated path.
    if !meta.is_file() || unsafe { libc::access(c.as_ptr(), libc::X_OK) } != 0 {
        return None;
    }
    Command::new(path).arg("--version").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().ok()
}

/// Where init-path.js most likely finds an executable: its variable,
/// resolved against the current directory as `path.resolve` does for a
/// normal path, else beside this front (a source build's or the platform
/// package's directory). `None` when there is no good guess.
fn likely_path(env: &str, file: &str) -> Option<String> {
    let p = match std::env::var(env) {
        Ok(v) if !v.is_empty() => {
            let p = std::path::Path::new(&v);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                std::env::current_dir().ok()?.join(p)
            }
        }
        Ok(_) | Err(std::env::VarError::NotPresent) => std::env::current_exe().ok()?.parent()?.join(file),
        Err(_) => return None,
    };
    p.into_os_string().into_string().ok()
}

/// The `--version` run started early for `guessed`, when Node named that
/// path; otherwise it is ended and one is started for `path`.
fn reuse(early: Option<(Option<std::process::Child>, String)>, path: &str) -> Option<std::process::Child> {
    match early {
        Some((child, guessed)) if guessed == path => child,
        Some((child, _)) => {
            child.into_iter().for_each(end);
            start_version(path)
        }
        None => start_version(path),
    }
}

/// Kills and reaps a `--version` run whose answer is not wanted.
fn end(mut child: std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn version_of(child: std::process::Child) -> Option<Option<String>> {
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?;
    let s = s.trim();
    Some(if s.is_empty() { None } else { s.split('\n').next().map(String::from) })
}

/// diagnose.ts `socketReach`.
fn sockets(abi: i64) -> String {
    if abi >= 9 {
        format!("masked by the plan (private /run, sockets found masked); Landlock ABI {abi} could restrict them too, not used yet")
    } else {
        let what = if abi > 0 { format!("ABI {abi}") } else { "absent".to_string() };
        format!("masked by the plan (private /run, sockets found masked); Landlock {what} cannot restrict them (needs ABI 9)")
    }
}

fn exe_line(e: &Exe, env: &str) -> String {
    let from = match (&e.from, e.from_env) {
        (Some(f), _) => format!(" (from {f})"),
        (None, true) => format!(" (from {env})"),
        (None, false) => String::new(),
    };
    let version = e.version.as_ref().map(|v| format!(" ({v})")).unwrap_or_default();
    format!("{}{from}: ok{version}", e.path)
}

/// doctor.ts `formatDiagnosis` of a healthy install.
fn format(cli: &str, f: &Facts, p: &sandbox_core::probe::Probe) -> String {
    let u = &p.userns;
    let mut lines = vec![
        format!("sandboxctl {cli} (core {}), node {}, N-API {}", f.core, f.node, f.napi.as_deref().unwrap_or("unknown")),
        format!("addon:    {} (native {})", f.addon.as_deref().unwrap_or("loaded"), f.version),
        format!("init:     {}", exe_line(&f.init, "SANDBOXCTL_INIT")),
        format!("oci:      {}", exe_line(&f.oci, "SANDBOXCTL_OCI")),
        "config:   none (no sandboxctl.json here or above)".to_string(),
        format!("kernel:   {}", p.kernel_release),
    ];
    let sysctls: Vec<String> = [
        ("user.max_user_namespaces", u.max_user_namespaces),
        ("kernel.unprivileged_userns_clone", u.unprivileged_userns_clone),
        ("kernel.apparmor_restrict_unprivileged_userns", u.apparmor_restrict_unprivileged_userns),
    ]
    .iter()
    .filter_map(|(name, v)| v.map(|v| format!("{name}={v}")))
    .collect();
    lines.push(format!("userns:   yes{}", if sysctls.is_empty() { String::new() } else { format!(" ({})", sysctls.join(", ")) }));
    lines.push("seccomp:  yes".to_string());
    let abi = p.landlock_abi;
    lines.push(if abi > 0 {
        format!(
            "landlock: ABI {abi} (scopes {}; the --allow-write write allow-list enforced{})",
            if abi >= 6 { "enforced" } else { "need ABI 6" },
            if abi < 3 { ", without truncate control (ABI 3)" } else { "" }
        )
    } else {
        "landlock: no".to_string()
    });
    lines.push(format!("sockets:  {}", sockets(abi)));
    lines.push(String::new());
    lines.push("no problems found".to_string());
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

fn exe_json(e: &Exe) -> J {
    let mut o = vec![("path", J::str(&e.path)), ("fromEnv", J::Bool(e.from_env)), ("exists", J::Bool(true)), ("executable", J::Bool(true))];
    if let Some(f) = &e.from {
        o.push(("from", J::str(f)));
    }
    if let Some(v) = &e.version {
        o.push(("version", J::str(v)));
    }
    J::obj(o)
}

/// `JSON.stringify({ cli: { version }, ...diagnose() }, null, 2)` of a healthy install.
fn to_json(cli: &str, f: &Facts, p: &sandbox_core::probe::Probe) -> Option<String> {
    let u = &p.userns;
    let mut userns = vec![("available", J::Bool(u.available))];
    for (k, v) in [
        ("maxUserNamespaces", u.max_user_namespaces),
        ("unprivilegedUsernsClone", u.unprivileged_userns_clone),
        ("apparmorRestrictUnprivilegedUserns", u.apparmor_restrict_unprivileged_userns),
    ] {
        if let Some(v) = v {
            userns.push((k, J::Num(v)));
        }
    }
    let mut node = Obj::default();
    node.set("version", J::str(&f.node));
    match &f.napi {
        Some(n) => node.set("napi", J::str(n)),
        None => node.set_undefined("napi"),
    }
    let mut addon = vec![("loaded", J::Bool(true)), ("version", J::str(&f.version))];
    if let Some(a) = &f.addon {
        addon.push(("path", J::str(a)));
    }
    let abi = u64::try_from(p.landlock_abi).ok()?;
    let report = J::obj(vec![
        ("cli", J::obj(vec![("version", J::str(cli))])),
        ("ok", J::Bool(true)),
        ("node", J::Obj(node)),
        ("core", J::obj(vec![("version", J::str(&f.core))])),
        ("addon", J::obj(addon)),
        ("init", exe_json(&f.init)),
        ("oci", exe_json(&f.oci)),
        ("config", J::Obj(Obj::default())),
        ("problems", J::Arr(Vec::new())),
        (
            "kernel",
            J::obj(vec![
                ("kernelRelease", J::str(&p.kernel_release)),
                ("userns", J::obj(userns)),
                ("seccomp", J::Bool(p.seccomp)),
                ("landlockAbi", J::Num(abi)),
            ]),
        ),
        (
            "sockets",
            J::obj(vec![("landlockCanRestrict", J::Bool(p.landlock_abi >= 9)), ("inForce", J::str("mount-masks")), ("text", J::str(&sockets(p.landlock_abi)))]),
        ),
    ]);
    let mut text = report.to_json_pretty();
    text.push('\n');
    Some(text)
}

/// The doctor's output for a healthy install (`cli`: the CLI's version), or
/// `None`: the Node CLI's doctor answers.
pub fn answer(cli_js: &OsStr, cli: &str, json: bool) -> Option<String> {
    let cwd = std::env::current_dir().ok()?;
    let var = |k: &str| std::env::var(k).ok();
    let found = bin_dir(cli_js, &cwd).and_then(|bin| crate::resolve::install(&crate::resolve::Env { var: &var, cwd: &cwd }, &bin));
    if let Some(i) = found {
        // Every path is known: Node only loads the addon, and the
        // executables' `--version` and the probe run meanwhile.
        let node = Command::new("node").arg("-e").arg(FAST_JS).arg(&i.addon).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().ok()?;
        let (init, oci) = (start_version(&i.init.path), start_version(&i.oci.path));
        let probe = sandbox_core::probe::probe();
        let f = fast_facts(node, i).filter(|_| probe.userns.available && probe.seccomp);
        let Some(mut f) = f else {
            [init, oci].into_iter().flatten().for_each(end);
            return None;
        };
        let (init, oci) = (init.and_then(version_of), oci.and_then(version_of));
        f.init.version = init?;
        f.oci.version = oci?;
        return if json { to_json(cli, &f, &probe) } else { Some(format(cli, &f, &probe)) };
    }
    // Node starts first: it is most of the time, and the rest runs meanwhile:
    // the kernel's probe, and `--version` of the executables Node will most
    // likely name (run again for any other path it names).
    let node = start_node(cli_js)?;
    let guess = |env: &str, file: &str| likely_path(env, file);
    let early = [guess("SANDBOXCTL_INIT", "sandboxctl-init"), guess("SANDBOXCTL_OCI", "sandboxctl-oci")].map(|p| p.map(|p| (start_version(&p), p)));
    let probe = sandbox_core::probe::probe();
    let f = facts(node).filter(|_| probe.userns.available && probe.seccomp);
    let Some(mut f) = f else {
        // Node answers then; nothing of ours is left running or unreaped.
        early.into_iter().flatten().filter_map(|(child, _)| child).for_each(end);
        return None;
    };
    let [early_init, early_oci] = early;
    let (init, oci) = (reuse(early_init, &f.init.path), reuse(early_oci, &f.oci.path));
    let (init, oci) = (init.and_then(version_of), oci.and_then(version_of));
    f.init.version = init?;
    f.oci.version = oci?;
    if json {
        to_json(cli, &f, &probe)
    } else {
        Some(format(cli, &f, &probe))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandbox_core::probe::{Probe, Userns};

    fn facts() -> Facts {
        let e = |p: &str, from: Option<&str>, env: bool| Exe {
            path: p.into(),
            from_env: env,
            from: from.map(String::from),
            version: Some("sandboxctl-init 0.1.0".into()),
        };
        Facts {
            node: "v20.1.0".into(),
            napi: Some("9".into()),
            core: "0.1.0".into(),
            version: "0.1.0".into(),
            addon: Some("/n/sandboxctl.linux-x64-gnu.node".into()),
            init: e("/n/bin/sandboxctl-init", Some("package"), false),
            oci: Exe { version: None, ..e("/o/sandboxctl-oci", None, true) },
        }
    }

    fn probe(abi: i64, sysctl: Option<u64>) -> Probe {
        Probe {
            kernel_release: "6.18.0".into(),
            userns: Userns {
                available: true,
                max_user_namespaces: sysctl,
                unprivileged_userns_clone: None,
                apparmor_restrict_unprivileged_userns: None,
                problem: None,
                hint: None,
            },
            seccomp: true,
            landlock_abi: abi,
        }
    }

    #[test]
    fn text_of_a_healthy_install() {
        let text = format("0.1.0", &facts(), &probe(7, Some(1000)));
        let want = "sandboxctl 0.1.0 (core 0.1.0), node v20.1.0, N-API 9\n\
addon:    /n/sandboxctl.linux-x64-gnu.node (native 0.1.0)\n\
init:     /n/bin/sandboxctl-init (from package): ok (sandboxctl-init 0.1.0)\n\
oci:      /o/sandboxctl-oci (from SANDBOXCTL_OCI): ok\n\
config:   none (no sandboxctl.json here or above)\n\
kernel:   6.18.0\n\
userns:   yes (user.max_user_namespaces=1000)\n\
seccomp:  yes\n\
landlock: ABI 7 (scopes enforced; the --allow-write write allow-list enforced)\n\
sockets:  masked by the plan (private /run, sockets found masked); Landlock ABI 7 cannot restrict them (needs ABI 9)\n\
\n\
no problems found\n";
        assert_eq!(text, want);
        let mut f = facts();
        f.napi = None;
        f.addon = None;
        let text = format("0.2.0", &f, &probe(2, None));
        assert!(text.starts_with("sandboxctl 0.2.0 (core 0.1.0), node v20.1.0, N-API unknown\naddon:    loaded (native 0.1.0)\n"), "{text}");
        assert!(text.contains("\nuserns:   yes\n"), "{text}");
        assert!(
            text.contains("landlock: ABI 2 (scopes need ABI 6; the --allow-write write allow-list enforced, without truncate control (ABI 3))\n"),
            "{text}"
        );
        assert!(format("0", &f, &probe(0, None))
            .contains("\nlandlock: no\nsockets:  masked by the plan (private /run, sockets found masked); Landlock absent cannot"));
        assert!(sockets(9).starts_with("masked by the plan (private /run, sockets found masked); Landlock ABI 9 could restrict them too"));
    }

    #[test]
    fn json_of_a_healthy_install() {
        let text = to_json("0.1.0", &facts(), &probe(7, Some(5))).unwrap();
        assert!(text.ends_with("}\n"));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        // The keys in diagnose.ts's order (serde_json's map sorts them, so read the text).
        let at: Vec<usize> = ["cli", "ok", "node", "core", "addon", "init", "oci", "config", "problems", "kernel", "sockets"]
            .iter()
            .map(|k| text.find(&format!("\n  \"{k}\": ")).unwrap())
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert_eq!(v["ok"], true);
        assert_eq!(
            v["init"],
            serde_json::json!({"path": "/n/bin/sandboxctl-init", "fromEnv": false, "exists": true, "executable": true, "from": "package", "version": "sandboxctl-init 0.1.0"})
        );
        assert_eq!(v["oci"], serde_json::json!({"path": "/o/sandboxctl-oci", "fromEnv": true, "exists": true, "executable": true}));
        assert_eq!(v["kernel"]["userns"], serde_json::json!({"available": true, "maxUserNamespaces": 5}));
        assert_eq!(v["sockets"]["landlockCanRestrict"], false);
        // An unknown N-API version is undefined in Node: no key at all.
        let mut f = facts();
        f.napi = None;
        let v: serde_json::Value = serde_json::from_str(&to_json("0.1.0", &f, &probe(7, None)).unwrap()).unwrap();
        assert_eq!(v["node"], serde_json::json!({"version": "v20.1.0"}));
        assert!(to_json("0.1.0", &f, &probe(-1, None)).is_none(), "a negative ABI is not a healthy install's");
    }

    #[test]
    fn versions_of_executables() {
        assert!(start_version("/nonexistent/sandboxctl-init").is_none());
        assert!(start_version("/").is_none(), "a directory");
        let dir = std::env::temp_dir().join(format!("sbx-front-doctor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("tool");
        std::fs::write(&script, "#!/bin/sh\nprintf '  tool 1.2\\nmore\\n'\n").unwrap();
        assert!(start_version(script.to_str().unwrap()).is_none(), "not executable");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let child = start_version(script.to_str().unwrap()).unwrap();
        assert_eq!(version_of(child), Some(Some("tool 1.2".into())));
        std::fs::write(&script, "#!/bin/sh\nexit 3\n").unwrap();
        assert_eq!(version_of(start_version(script.to_str().unwrap()).unwrap()), None, "a failing --version");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        assert_eq!(version_of(start_version(script.to_str().unwrap()).unwrap()), Some(None), "silent");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
