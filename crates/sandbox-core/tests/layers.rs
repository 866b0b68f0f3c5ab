//! The crate's modules form layers, and every `crate::` path in production
//! code points down (or sideways within its own layer's module). A path back
//! up, or a circle, fails here with the file and line that made it. Test code
//! (`tests.rs`, `*_tests.rs`, `#[cfg(test)] mod tests`, the call-script double)
//! may reach anywhere.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Lowest first: a module may use modules of lower layers only.
#[rustfmt::skip]
const LAYERS: &[&[&str]] = &[
    &["check", "sys"],
    &["error"],
    &["plan"],
    &["caps", "seccomp", "probe", "net"],
    &["ops", "audit", "oci", "env", "archive", "cgroup"],
    &["image"],
    &["validate", "report", "config"],
    &["live", "proxy"],
    &["init", "container"],
    &["launch"],
];

fn layer_of(module: &str) -> usize {
    LAYERS.iter().position(|row| row.contains(&module)).unwrap_or_else(|| panic!("module `{module}` is in no layer: add it to LAYERS"))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn is_test_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap();
    name == "tests.rs" || name.ends_with("_tests.rs") || rel == "sys/script.rs" || rel == "audit/memfs.rs"
}

/// Every `crate::module` named in production code: (module, "file:line").
fn uses(src: &Path) -> BTreeMap<String, Vec<(String, String)>> {
    let mut files = Vec::new();
    sources(src, &mut files);
    let mut by_module: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap().to_string_lossy().into_owned();
        if rel == "lib.rs" || is_test_file(&rel) {
            continue;
        }
        let module = rel.split('/').next().unwrap().trim_end_matches(".rs").to_string();
        let text = fs::read_to_string(&file).unwrap();
        let production = text.split("#[cfg(test)]\nmod tests").next().unwrap();
        for (n, line) in production.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for (i, _) in line.match_indices("crate::") {
                let rest = &line[i + 7..];
                // `use crate::{a, b::C}` names several modules at once.
                let names: Vec<&str> = match rest.strip_prefix('{') {
                    Some(group) => group.split('}').next().unwrap().split(',').map(|n| n.trim().split("::").next().unwrap()).collect(),
                    None => vec![rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap()],
                };
                for target in names {
                    // `crate::Code` and friends are lib.rs re-exports of lower modules.
                    if target.is_empty() || target.starts_with(char::is_uppercase) || target == module {
                        continue;
                    }
                    by_module.entry(module.clone()).or_default().push((target.to_string(), format!("{rel}:{}", n + 1)));
                }
            }
        }
    }
    by_module
}

#[test]
fn every_crate_path_points_down_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    for (module, targets) in uses(&src) {
        for (target, at) in targets {
            if layer_of(&target) > layer_of(&module) {
                wrong.push(format!("{at}: {module} (layer {}) uses {target} (layer {})", layer_of(&module), layer_of(&target)));
            }
        }
    }
    assert!(wrong.is_empty(), "arrows back up a layer:\n{}", wrong.join("\n"));
}

#[test]
fn modules_in_one_layer_do_not_use_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    for (module, targets) in uses(&src) {
        for (target, at) in targets {
            if layer_of(&target) == layer_of(&module) {
                wrong.push(format!("{at}: {module} uses {target}, in the same layer: give one of them a layer of its own"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_module_of_lib_rs_has_a_layer() {
    let lib = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for line in lib.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("pub mod ").or_else(|| line.strip_prefix("mod ")) {
            layer_of(rest.trim_end_matches(';'));
        }
    }
}
