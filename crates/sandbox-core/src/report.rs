//! The report channel: what the launcher and pid 1 tell the caller, one JSON
//! line per [`Report`] on the `--plan-fd` socket (docs/internals.md). Every
//! line is a serialized `Report`; `npm run gen` writes its JSON Schema to
//! `schema/report.schema.json` and from there the TypeScript types in
//! `packages/core/src/report-types.ts`. Without a report socket, errors go to
//! stderr as `CODE: message` and `hint: …` lines.

use crate::audit::AuditReport;
use crate::error::{Code, Error};
use crate::image::report::{ImageInfo, ProgressInfo};
use crate::sys::{Fd, Sys, SysResult};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One report line, told apart by its `event`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Report {
    /// Setup failed (the launcher or pid 1 then exits 125, or 126/127 for `E_EXEC`).
    Error(ErrorReport),
    /// The launcher cloned pid 1.
    Spawned {
        /// pid 1 of the sandbox, as the caller's pid namespace sees it.
        pid: i32,
    },
    /// The program is running (its image replaced the fork's); the socket closes after this line.
    Started,
    /// A live sandbox is registered and serves requests (its program, if
    /// any, is running).
    Ready {
        /// The sandbox's name in the caller's registry.
        name: String,
        /// pid 1 of the sandbox, as the caller's pid namespace sees it.
        pid: i32,
        /// The control socket's path.
        socket: String,
    },
    /// The post-run audit's findings, after pid 1 was reaped.
    Audit(AuditReport),
    /// `sandboxctl-init image import|pack|inspect`: the image made or inspected (the last line).
    Image(Box<ImageInfo>),
    /// `sandboxctl-init image import|pack --progress`: how far it got (at most ten a second).
    Progress(ProgressInfo),
    /// A limit of plan.limits ended the program (an OOM kill, a refused
    /// fork, the timeout), after pid 1 was reaped.
    LimitHit { limit: crate::plan::LimitKind },
    /// Something the sandbox's policy refused (plan.report): one line each,
    /// as it happens.
    Denied(Denial),
    /// pid 1's namespaces by name (`mnt`, `pid`, ...) and inode number, sent
    /// first thing when plan.reportNamespaces (bubblewrap's `--info-fd`).
    Namespaces { ids: std::collections::BTreeMap<String, u64> },
}

/// What was refused, told apart by its `kind`. The `--report` file's lines
/// are these; other kinds (`write`) may join as variants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Denial {
    /// A connection the network proxy refused.
    Network {
        /// The host as the program asked for it (a name or an address).
        host: String,
        port: u16,
        /// The rule that refused it; absent when no allow rule covered it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule: Option<String>,
        /// Why, in words.
        reason: String,
        /// Through which proxy: `http` or `socks`.
        via: String,
    },
    /// A limit of plan.limits that ended the program (the same as the
    /// `limithit` line, in the report's vocabulary).
    Limit { limit: crate::plan::LimitKind },
    /// A system call the seccomp filter refused (seccomp/notify.rs): the
    /// program got `errno`, as it would without a report.
    Syscall {
        /// Its name on the caller's architecture (`nr N` when unknown).
        name: String,
        nr: i32,
        /// The errno the call failed with.
        errno: i32,
        /// The calling process, as the caller's pid namespace sees it.
        pid: u32,
    },
}

/// An `error` line: the failure's stable code and where it applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ErrorReport {
    pub code: Code,
    /// Lower case, no trailing period.
    pub message: String,
    /// The plan op the error is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_index: Option<usize>,
    /// JSON path of the offending plan field, e.g. `plan.ops[3].source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// How to fix it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl From<&Error> for ErrorReport {
    fn from(err: &Error) -> ErrorReport {
        ErrorReport {
            code: err.code(),
            message: err.to_string(),
            op_index: err.op_index(),
            path: match err {
                Error::Plan(p) => Some(p.path.clone()),
                Error::Setup(_) => None,
            },
            hint: err.hint().map(String::from),
        }
    }
}

impl Report {
    /// The line as sent: compact JSON and a newline.
    pub fn line(&self) -> String {
        let mut s = serde_json::to_string(self).expect("a report serializes");
        s.push('\n');
        s
    }

    /// Write the line on the report socket.
    pub fn send(&self, sys: &dyn Sys, fd: Fd) -> SysResult<()> {
        sys.write_fd(fd, self.line().as_bytes())
    }
}

/// Report an error: on the socket when there is one, else (or when the
/// socket is gone) on stderr.
pub fn error(sys: &dyn Sys, report_fd: Option<Fd>, err: &Error) {
    let log = |hint: bool| {
        sys.log(&format!("{}: {err}", err.code().as_str()));
        if let Some(h) = err.hint().filter(|_| hint) {
            sys.log(&format!("hint: {h}"));
        }
    };
    match report_fd {
        Some(fd) => {
            if Report::Error(err.into()).send(sys, fd).is_err() {
                log(false);
            }
        }
        None => log(true),
    }
}

/// The JSON Schema of [`Report`], as committed in `schema/report.schema.json`.
/// It describes the lines as written: an absent optional field is left out,
/// never `null` (`skip_serializing_if`), so optional fields are not nullable.
pub fn json_schema() -> String {
    let mut schema = serde_json::to_value(schemars::schema_for!(Report)).expect("schema serializes");
    absent_not_null(&mut schema);
    ref_with_properties(&mut schema);
    let mut s = serde_json::to_string_pretty(&schema).expect("schema serializes");
    s.push('\n');
    s
}

/// A variant that wraps a tagged enum (`Denied(Denial)`) comes out as a
/// `$ref` with the `event` property beside it, which TypeScript generators
/// ignore: `allOf` of the two says the same and keeps `event`.
fn ref_with_properties(schema: &mut serde_json::Value) {
    let Some(variants) = schema.get_mut("oneOf").and_then(|v| v.as_array_mut()) else { return };
    for v in variants {
        let Some(obj) = v.as_object_mut() else { continue };
        if !(obj.contains_key("$ref") && obj.contains_key("properties")) {
            continue;
        }
        let r = obj.remove("$ref").expect("checked");
        let mut own = serde_json::Map::new();
        for k in ["properties", "required", "type"] {
            if let Some(x) = obj.remove(k) {
                own.insert(k.to_string(), x);
            }
        }
        obj.insert("allOf".into(), serde_json::json!([{ "$ref": r }, own]));
    }
}

/// `"type": ["string", "null"]` of a property not `required` -> `"type": "string"`.
fn absent_not_null(node: &mut serde_json::Value) {
    use serde_json::Value;
    match node {
        Value::Object(map) => {
            let required: Vec<String> =
                map.get("required").and_then(Value::as_array).map(|r| r.iter().filter_map(|v| v.as_str().map(String::from)).collect()).unwrap_or_default();
            if let Some(Value::Object(props)) = map.get_mut("properties") {
                for (_, prop) in props.iter_mut().filter(|(name, _)| !required.contains(name)) {
                    let ty = prop.get("type").and_then(Value::as_array).map(|t| t.iter().filter(|t| *t != "null").cloned().collect::<Vec<_>>());
                    if let Some([one]) = ty.as_deref() {
                        prop["type"] = one.clone();
                    }
                }
            }
            map.values_mut().for_each(absent_not_null);
        }
        Value::Array(items) => items.iter_mut().for_each(absent_not_null),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{PlanError, SetupError};

    #[test]
    fn committed_json_schema_is_fresh() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema/report.schema.json");
        let committed = std::fs::read_to_string(path).expect("schema/report.schema.json exists");
        assert!(committed == json_schema(), "schema/report.schema.json is stale: run `npm run gen`");
    }

    #[test]
    fn the_lines() {
        assert_eq!(Report::Spawned { pid: 42 }.line(), "{\"event\":\"spawned\",\"pid\":42}\n");
        assert_eq!(Report::Started.line(), "{\"event\":\"started\"}\n");
        let plan = Error::from(PlanError {
            path: "plan.ops[3].source".into(),
            op_index: Some(3),
            kind: Some("bind"),
            reason: "nope".into(),
            code: Code::SourceMissing,
        });
        assert_eq!(
            Report::Error((&plan).into()).line(),
            "{\"event\":\"error\",\"code\":\"E_SOURCE_MISSING\",\"message\":\"plan.ops[3].source (bind): nope\",\"opIndex\":3,\"path\":\"plan.ops[3].source\"}\n"
        );
        let setup = Error::from(SetupError::new(Code::Mount, "m").with_hint("h"));
        assert_eq!(Report::Error((&setup).into()).line(), "{\"event\":\"error\",\"code\":\"E_MOUNT\",\"message\":\"m\",\"hint\":\"h\"}\n");
    }

    #[test]
    fn lines_read_back() {
        for line in ["{\"event\":\"started\"}", "{\"event\":\"spawned\",\"pid\":7}", "{\"event\":\"error\",\"code\":\"E_EXEC\",\"message\":\"m\"}"] {
            let r: Report = serde_json::from_str(line).unwrap();
            assert_eq!(r.line().trim_end(), line);
        }
        assert!(serde_json::from_str::<Report>("{\"event\":\"error\",\"code\":\"E_EXEC\",\"message\":\"m\",\"extra\":1}").is_err());
    }
}
