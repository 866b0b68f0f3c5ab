//! Plan decoding and validation (`sandbox_core::validate::check`) on any
//! bytes: never a panic, and the answer keeps its promises.
//!
//! - rejected: the code is E_PLAN_INVALID or E_SOURCE_MISSING, the JSON path
//!   starts with `plan`, and `op_index` agrees with the path;
//! - accepted: every path the init will resolve is absolute, free of NUL and
//!   `..`, and at most PATH_MAX long (checked here independently of the
//!   validator), and the plan survives a round trip through JSON unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandbox_core::error::Code;
use sandbox_core::validate::{check, MAX_PATH};
use serde_json::Value;

fn clean_abs(what: &str, p: &str) {
    assert!(p.starts_with('/'), "{what} {p:?} accepted but not absolute");
    assert!(!p.contains('\0'), "{what} {p:?} accepted with a NUL byte");
    assert!(!p.split('/').any(|c| c == ".."), "{what} {p:?} accepted with ..");
    assert!(p.len() <= MAX_PATH, "{what} accepted with {} bytes", p.len());
}

fuzz_target!(|data: &[u8]| {
    match check(data) {
        Err(e) => {
            assert!(matches!(e.code, Code::PlanInvalid | Code::SourceMissing), "unexpected code {:?}", e.code);
            assert!(e.path == "plan" || e.path.starts_with("plan.") || e.path.starts_with("plan["), "path {:?}", e.path);
            if let Some(rest) = e.path.strip_prefix("plan.ops[") {
                let n: Option<usize> = rest.split(']').next().and_then(|s| s.parse().ok());
                assert_eq!(e.op_index, n, "op_index disagrees with path {:?}", e.path);
            } else {
                assert_eq!(e.op_index, None, "op_index without an ops path {:?}", e.path);
            }
        }
        Ok(plan) => {
            let json = serde_json::to_vec(&plan).expect("an accepted plan serializes");
            let again = check(&json).expect("an accepted plan, re-serialized, is accepted again");
            assert_eq!(plan, again, "the plan changed through a JSON round trip");
            let v: Value = serde_json::from_slice(&json).unwrap();
            for a in v["argv"].as_array().unwrap() {
                assert!(!a.as_str().unwrap().contains('\0'), "argv accepted with a NUL byte");
            }
            if let Some(cwd) = v["cwd"].as_str() {
                clean_abs("cwd", cwd);
            }
            for (i, op) in v["ops"].as_array().unwrap().iter().enumerate() {
                for key in ["target", "source", "upper", "work"] {
                    if let Some(p) = op[key].as_str() {
                        clean_abs(&format!("ops[{i}].{key}"), p);
                    }
                }
                for l in op["lowers"].as_array().into_iter().flatten() {
                    clean_abs(&format!("ops[{i}].lowers"), l.as_str().unwrap());
                }
            }
        }
    }
});
