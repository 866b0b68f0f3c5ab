//! sandboxctl.json, the config file: a preset, the presets' parameters and
//! plan fields (every one but `argv` and `version`: the program is always the
//! caller's). [`check`] decodes a file's JSON into [`ConfigFile`] before the
//! TypeScript library reads it and names the JSON path of the first bad
//! value in the config errors' words (`ops[0].target: expected string, got
//! 3`); [`json_schema`] is schema/config.schema.json, generated from the same
//! type with each plan field's schema taken from the plan's.
//!
//! Invariant: a file is accepted exactly when every key is known and every
//! value has its plan field's type. Two places where serde alone would be
//! looser or vaguer are handled here: serde's derive takes a struct from an
//! array of its fields in order ([`Strict`] refuses that), and it buffers an
//! op (an internally tagged enum) before decoding it, so an error inside an
//! op carries only the op's path ([`narrow`] finds the field).

use crate::plan::{AuditSpec, EnvPolicy, FdPass, Landlock, Namespaces, Network, Op, RootSpec, Seccomp};
use schemars::JsonSchema;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

/// A sandboxctl config file: a preset, extra ops and policy. Found in the
/// current directory or the nearest parent that has one, or named with
/// --config; command-line flags override it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "sandboxctl.json")]
pub struct ConfigFile {
    // The config's own keys first, then the plan fields in the plan schema's
    // (alphabetical) order: an unknown key's message lists them so. Nothing
    // serializes this type; `skip_serializing_if` only tells schemars that
    // an absent field has no default to show.
    /// Where editors find this schema, e.g. "./node_modules/sandboxctl/schema/config.schema.json".
    #[serde(rename = "$schema", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub schema: Option<String>,
    /// Start from this preset; its ops come first, the ops below after, and the fields below override its policy.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Preset")]
    pub preset: Option<Preset>,
    /// Variables the agent preset keeps although they look like credentials.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Vec<String>")]
    pub allow_env: Option<Vec<String>>,
    /// The build preset's readable inputs (default: the current directory); relative paths resolve against this file's directory.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Vec<String>")]
    pub inputs: Option<Vec<String>>,
    /// The build preset's writable output directory (default: ./out); relative to this file's directory.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub output: Option<String>,
    /// Filesystem rules: host paths (relative to this file's directory, `~` the real home, globs expanded at start); precedence in docs/limits.md.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "FilesystemConfig")]
    pub filesystem: Option<FilesystemConfig>,
    /// Resource limits, as the flags take them: `{ "memory": "2G", "pids": 256, "cpus": 1.5, "timeout": "10m", "rlimits": { "nofile": "1024:4096" } }`.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "LimitsConfig")]
    pub limits: Option<LimitsConfig>,

    // Plan fields: optional here; null only where the plan takes null.
    pub argv0: Option<String>,
    pub audit: Option<AuditSpec>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Vec<String>")]
    pub cap_add: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Vec<String>")]
    pub cap_drop: Option<Vec<String>>,
    pub cwd: Option<String>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub die_with_parent: Option<bool>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "EnvPolicy")]
    pub env: Option<EnvPolicy>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Vec<FdPass>")]
    pub fds: Option<Vec<FdPass>>,
    pub gid: Option<u32>,
    pub hostname: Option<String>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Landlock")]
    pub landlock: Option<Landlock>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u32")]
    pub linger_ms: Option<u32>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Namespaces")]
    pub namespaces: Option<Namespaces>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Network")]
    pub network: Option<Network>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub new_session: Option<bool>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Vec<Op>")]
    pub ops: Option<Vec<Op>>,
    pub root: Option<RootSpec>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Seccomp")]
    pub seccomp: Option<Seccomp>,
    pub status_fd: Option<i32>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub tty: Option<bool>,
    pub uid: Option<u32>,
}

/// The presets sandboxctl ships (the TypeScript `PRESET_NAMES`; a unit test
/// there keeps the two lists equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(inline)]
pub enum Preset {
    Strict,
    RoHost,
    Agent,
    Build,
}

/// Absent is `None` (with `default`); null is refused unless `T` takes it,
/// as the plan refuses it for a field that is not optional there.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Plan fields a config file cannot set: the program is always the caller's,
/// and so is a live sandbox's name (`run --name`) and where the denial
/// report goes (`--report`, the library's `report`); nor the bubblewrap
/// drop-in's per-run fields (pid 1 mode, capability inheritance, block fds,
/// namespace fds).
pub const EXCLUDED: [&str; 10] = ["argv", "version", "live", "report", "asPid1", "capInherit", "blockFd", "usernsBlockFd", "reportNamespaces", "joinNs"];

/// What is wrong with a config file: the JSON path of the value ('' for the
/// whole file) and why, e.g. `ops[2].target` and `expected string, got 3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub path: String,
    pub message: String,
}

/// Check a config file's JSON; the first problem, as the old JSON Schema
/// checker worded it.
pub fn check(json: &str) -> Result<ConfigFile, ConfigProblem> {
    let value: Value = serde_json::from_str(json).map_err(|e| ConfigProblem { path: String::new(), message: format!("not valid JSON: {e}") })?;
    let file = decode(&value).map_err(|(path, message)| explain(&value, path, &message))?;
    if let Some((path, n)) = beyond_safe(&value, &mut Vec::new()) {
        return Err(ConfigProblem { path: show(&path), message: format!("must be at most {MAX_SAFE_INTEGER}, got {n}") });
    }
    Ok(file)
}

/// The largest integer a JavaScript number holds exactly: the bound of the
/// plan's 64-bit fields for a file the TypeScript library reads.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The first integer beyond [`MAX_SAFE_INTEGER`] (only a 64-bit field takes
/// one once the file decoded).
fn beyond_safe(v: &Value, path: &mut Path) -> Option<(Path, u64)> {
    match v {
        Value::Number(n) => n.as_u64().filter(|&n| n > MAX_SAFE_INTEGER).map(|n| (path.clone(), n)),
        Value::Array(a) => a.iter().enumerate().find_map(|(i, v)| {
            path.push(Step::Index(i));
            let found = beyond_safe(v, path);
            path.pop();
            found
        }),
        Value::Object(m) => m.iter().find_map(|(k, v)| {
            path.push(Step::Key(k.clone()));
            let found = beyond_safe(v, path);
            path.pop();
            found
        }),
        _ => None,
    }
}

type Path = Vec<Step>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

fn decode(value: &Value) -> Result<ConfigFile, (Path, String)> {
    serde_path_to_error::deserialize(Strict(value)).map_err(|e| {
        let mut path = Vec::new();
        for segment in e.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => path.push(Step::Index(*index)),
                serde_path_to_error::Segment::Map { key } => path.push(Step::Key(key.clone())),
                serde_path_to_error::Segment::Enum { variant } => path.push(Step::Key(variant.clone())),
                serde_path_to_error::Segment::Unknown => break,
            }
        }
        (path, e.inner().to_string())
    })
}

fn at<'v>(root: &'v Value, path: &[Step]) -> Option<&'v Value> {
    path.iter().try_fold(root, |v, step| match step {
        Step::Key(k) => v.get(k.as_str()),
        Step::Index(i) => v.get(*i),
    })
}

fn at_mut<'v>(root: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    path.iter().try_fold(root, |v, step| match step {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Index(i) => v.get_mut(*i),
    })
}

/// `root` with the value at `path` replaced.
fn replaced(root: &Value, path: &[Step], with: Value) -> Value {
    let mut copy = root.clone();
    if let Some(slot) = at_mut(&mut copy, path) {
        *slot = with;
    }
    copy
}

/// serde's error message → the config error at its precise path.
fn explain(root: &Value, mut path: Path, message: &str) -> ConfigProblem {
    let problem = |path: &Path, message: String| ConfigProblem { path: show(path), message };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (name, known) = rest.split_once('`').unwrap_or((rest, ""));
        let mut known = quoted(known);
        // Inside an op serde names the op, not the field, and lists the
        // fields without the op's tag.
        if path.last() != Some(&Step::Key(name.to_string())) {
            if at(root, &path).is_some_and(|v| v.get("kind").is_some()) && !known.iter().any(|k| k == "kind") {
                known.insert(0, "kind".into());
            }
            path.push(Step::Key(name.to_string()));
        }
        return problem(&path, unknown_field(name, &known));
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        if name == "kind" {
            // An op without its kind: the kinds it could have.
            let kinds = variants(root, &path, serde_json::json!({ "kind": "\0" })).unwrap_or_default();
            path.push(Step::Key("kind".into()));
            return problem(&path, format!("expected {}", one_of(&kinds)));
        }
        return problem(&path, format!("{name} is required"));
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (name, list) = rest.split_once("`, expected ").unwrap_or((rest, ""));
        let known = quoted(list);
        if path.last() == Some(&Step::Key("kind".into())) {
            return problem(&path, format!("unknown kind {}; known: {}", json_string(name), known.join(", ")));
        }
        let got = at(root, &path).map_or_else(|| json_string(name), describe);
        return problem(&path, format!("expected {}, got {got}", one_of(&known)));
    }
    let Some((unexpected, expected)) =
        message.strip_prefix("invalid type: ").or_else(|| message.strip_prefix("invalid value: ")).and_then(|m| m.rsplit_once(", expected "))
    else {
        return problem(&path, message.to_string());
    };
    narrow(root, &mut path, unexpected);
    let node = at(root, &path).unwrap_or(&Value::Null);
    let got = describe(node);
    if let (Some(n), Some((min, max))) = (as_int(node), int_bounds(expected)) {
        if n < min {
            return problem(&path, format!("must be at least {min}, got {got}"));
        }
        if n > max {
            return problem(&path, format!("must be at most {max}, got {got}"));
        }
    }
    let wanted = match expected {
        "a string" => "string".to_string(),
        "a boolean" => "boolean".to_string(),
        "a sequence" => "array".to_string(),
        "unit" => "null".to_string(),
        "f32" | "f64" => "number".to_string(),
        e if int_bounds(e).is_some() => "integer".to_string(),
        e if e == "a map" || e.starts_with("struct ") || e.starts_with("internally tagged enum ") => "object".to_string(),
        "string or map" | "variant identifier" => match variants(root, &path, Value::String("\0".into())) {
            Some(names) => one_of(&names),
            None => expected.to_string(),
        },
        e => e.to_string(),
    };
    problem(&path, format!("expected {wanted}, got {got}"))
}

/// serde reports an error inside an op at the op (it decodes a buffered
/// copy); find the member at fault. Members are decoded in order (a map's
/// keys sorted, as serde_json keeps them), so the first prefix of the
/// member list that fails with more than a missing field ends at it.
fn narrow(root: &Value, path: &mut Path, unexpected: &str) {
    loop {
        let Some(node) = at(root, path) else { return };
        let members: Vec<Step> = match node {
            // The node itself is the value of the wrong type.
            Value::Object(_) if unexpected == "map" => return,
            Value::Array(_) if unexpected == "sequence" => return,
            Value::Object(m) => m.keys().filter(|k| *k != "kind").map(|k| Step::Key(k.clone())).collect(),
            Value::Array(a) => (0..a.len()).map(Step::Index).collect(),
            _ => return,
        };
        let mut culprit = None;
        for n in 1..=members.len() {
            let prefix = match node {
                // An op keeps its kind in every prefix.
                Value::Object(m) => Value::Object(
                    m.iter()
                        .filter(|(k, _)| *k == "kind" || members[..n].contains(&Step::Key((*k).clone())))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect::<Map<_, _>>(),
                ),
                Value::Array(a) => Value::Array(a[..n].to_vec()),
                _ => return,
            };
            match decode(&replaced(root, path, prefix)) {
                Err((_, m)) if !m.starts_with("missing field") => {
                    culprit = Some(members[n - 1].clone());
                    break;
                }
                _ => {}
            }
        }
        match culprit {
            Some(step) => path.push(step),
            None => return,
        }
    }
}

/// The variant names serde lists when the value at `path` is replaced by
/// `probe`, which holds an impossible name.
fn variants(root: &Value, path: &[Step], probe: Value) -> Option<Vec<String>> {
    let (_, m) = decode(&replaced(root, path, probe)).err()?;
    let list = m.strip_prefix("unknown variant `")?.split_once("`, expected ")?.1;
    Some(quoted(list))
}

/// The names in serde's "one of `a`, `b`" / "`a` or `b`" lists.
fn quoted(list: &str) -> Vec<String> {
    list.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// `one of "a", "b"`.
fn one_of(names: &[String]) -> String {
    format!("one of {}", names.iter().map(|k| json_string(k)).collect::<Vec<_>>().join(", "))
}

fn unknown_field(name: &str, known: &[String]) -> String {
    if known.is_empty() {
        format!("unknown field {}", json_string(name))
    } else {
        format!("unknown field {}; known: {}", json_string(name), known.join(", "))
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// A value as messages show it: `"text"`, `3`, `null`, `an array`, `an object`.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
        Value::String(s) if s.chars().count() > 40 => json_string(&format!("{}...", s.chars().take(37).collect::<String>())),
        Value::String(s) => json_string(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
    }
}

fn as_int(v: &Value) -> Option<i128> {
    v.as_i64().map(i128::from).or_else(|| v.as_u64().map(i128::from))
}

fn int_bounds(ty: &str) -> Option<(i128, i128)> {
    Some(match ty {
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u64" | "usize" => (0, u64::MAX.into()),
        "i8" => (i8::MIN.into(), i8::MAX.into()),
        "i16" => (i16::MIN.into(), i16::MAX.into()),
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        "i64" | "isize" => (i64::MIN.into(), i64::MAX.into()),
        _ => return None,
    })
}

/// `ops[2].target`, `env.set["MY-VAR"]`; '' for the whole file.
fn show(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Index(i) => out.push_str(&format!("[{i}]")),
            Step::Key(k) if is_identifier(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Key(k) => out.push_str(&format!("[{}]", json_string(k))),
        }
    }
    out
}

fn is_identifier(k: &str) -> bool {
    let mut chars = k.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// A JSON value decoded as serde_json decodes it, except that a struct or a
/// map must be an object: serde's derive would also take a struct from an
/// array of its fields in order, which no config file written by hand means
/// and the plan's JSON Schema refuses.
struct Strict<'a>(&'a Value);

fn unexpected(v: &Value) -> Unexpected<'_> {
    match v {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Unexpected::Unsigned(u),
            (_, Some(i), _) => Unexpected::Signed(i),
            (_, _, f) => Unexpected::Float(f.unwrap_or(f64::NAN)),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

macro_rules! delegate {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.0.$method(visitor)
        })*
    };
}

impl<'de> Deserializer<'de> for Strict<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Array(a) => visitor.visit_seq(Seq(a.iter())),
            Value::Object(m) => visitor.visit_map(Members { iter: m.iter(), value: None }),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Array(a) => visitor.visit_seq(Seq(a.iter())),
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(self, _name: &'static str, _len: usize, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Object(m) => visitor.visit_map(Members { iter: m.iter(), value: None }),
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(self, _name: &'static str, _fields: &'static [&'static str], visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(self, name: &'static str, variants: &'static [&'static str], visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_unit_struct(name, visitor)
    }

    delegate! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64
        deserialize_char deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf deserialize_unit
        deserialize_identifier deserialize_ignored_any
    }
}

struct Seq<'a>(std::slice::Iter<'a, Value>);

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Self::Error> {
        self.0.next().map(|v| seed.deserialize(Strict(v))).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Members<'a> {
    iter: serde_json::map::Iter<'a>,
    value: Option<&'a Value>,
}

impl<'de> MapAccess<'de> for Members<'de> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Self::Error> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(de::value::BorrowedStrDeserializer::new(k)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Self::Error> {
        match self.value.take() {
            Some(v) => seed.deserialize(Strict(v)),
            None => Err(de::Error::custom("value asked before its key")),
        }
    }
}

/// The JSON Schema of sandboxctl.json (schema/config.schema.json): the
/// [`ConfigFile`] type's, each plan field's schema as in the plan schema
/// (its description and default included), the plan's definitions.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(ConfigFile);
    let mut schema = serde_json::to_value(schema).expect("schema serializes");
    let plan = plan_schema();
    let relative = "Relative paths (source, target, upper, work, lowers, cwd) resolve against this file's directory.";
    if let (Some(properties), Some(plan_properties)) = (schema.get_mut("properties").and_then(Value::as_object_mut), plan["properties"].as_object()) {
        for (name, field) in plan_properties.iter().filter(|(name, _)| !EXCLUDED.contains(&name.as_str())) {
            let mut field = field.clone();
            if name == "ops" || name == "cwd" {
                let description = match field.get("description").and_then(Value::as_str) {
                    Some(d) => format!("{d} {relative}"),
                    None => relative.to_string(),
                };
                field["description"] = Value::String(description);
            }
            properties.insert(name.clone(), field);
        }
    }
    // The plan's definitions, all of them (some belong to excluded fields).
    schema["$defs"] = plan["$defs"].clone();
    let mut s = serde_json::to_string_pretty(&schema).expect("schema serializes");
    s.push('\n');
    s
}

fn plan_schema() -> Value {
    serde_json::from_str(&crate::plan::json_schema()).expect("the plan schema is JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(json: &str) -> (String, String) {
        let p = check(json).expect_err("refused");
        (p.path, p.message)
    }

    #[test]
    fn committed_json_schema_is_fresh() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema/config.schema.json");
        let committed = std::fs::read_to_string(path).expect("schema/config.schema.json exists");
        assert!(committed == json_schema(), "schema/config.schema.json is stale: run `npm run gen` (node scripts/gen-config-schema.mjs)");
    }

    #[test]
    fn has_every_plan_field_but_argv_and_version_and_the_plan_definitions() {
        let config: Value = serde_json::from_str(&json_schema()).unwrap();
        let plan = plan_schema();
        let mut want: Vec<&str> = plan["properties"].as_object().unwrap().keys().map(String::as_str).filter(|k| !EXCLUDED.contains(k)).collect();
        // `limits` is a plan field too, in the flags' form here (`"2G"`, `"10m"`).
        want.extend(["$schema", "preset", "allowEnv", "inputs", "output", "filesystem"]);
        want.sort_unstable();
        let mut have: Vec<&str> = config["properties"].as_object().unwrap().keys().map(String::as_str).collect();
        have.sort_unstable();
        assert_eq!(have, want);
        // ConfigFile's own schemars output names the same fields (none only patched in).
        let own = serde_json::to_value(schemars::schema_for!(ConfigFile)).unwrap();
        let mut own: Vec<&str> = own["properties"].as_object().unwrap().keys().map(String::as_str).collect();
        own.sort_unstable();
        assert_eq!(own, want);
        assert_eq!(config["$defs"], plan["$defs"]);
        assert_eq!(config["additionalProperties"], Value::Bool(false));
        for (name, field) in plan["properties"].as_object().unwrap() {
            if !EXCLUDED.contains(&name.as_str()) && name != "ops" && name != "cwd" {
                assert_eq!(&config["properties"][name], field, "{name}");
            }
        }
    }

    #[test]
    fn accepts_a_full_file_and_an_empty_one() {
        check("{}").unwrap();
        let file = check(
            r#"{"$schema":"./node_modules/sandboxctl/schema/config.schema.json","preset":"build","inputs":["src","/opt/sdk"],"output":"dist",
                "allowEnv":["NPM_TOKEN"],"ops":[{"kind":"bind","source":"../cache","target":"/cache","writable":true},
                {"kind":"symlink","target":"link","linkname":"relative/stays"}],"network":"host","cwd":"src","env":{"set":{"A":"1"}},
                "cwd":null,"uid":null,"lingerMs":0}"#,
        )
        .unwrap();
        assert_eq!(file.preset, Some(Preset::Build));
        assert_eq!(file.ops.map(|o| o.len()), Some(2));
    }

    #[test]
    fn names_the_path_and_says_what_is_wrong_as_the_schema_checker_did() {
        for (json, path, message) in [
            (
                r#"{"presets":"agent"}"#,
                "presets",
                r#"unknown field "presets"; known: $schema, preset, allowEnv, inputs, output, filesystem, limits, argv0, audit, capAdd"#,
            ),
            (r#"{"preset":"agnet"}"#, "preset", r#"expected one of "strict", "ro-host", "agent", "build", got "agnet""#),
            (r#"{"ops":[{"kind":"proc","target":"/proc"},{"kind":"bnid","target":"/x"}]}"#, "ops[1].kind", r#"unknown kind "bnid"; known: bind, proc, dev"#),
            (r#"{"ops":[{"kind":"tmpfs","target":3}]}"#, "ops[0].target", "expected string, got 3"),
            (r#"{"ops":[{"kind":"tmpfs","target":"/t","mode":-1}]}"#, "ops[0].mode", "must be at least 0, got -1"),
            (r#"{"ops":[{"kind":"tmpfs","target":"/t","mode":4294967296}]}"#, "ops[0].mode", "must be at most 4294967295, got 4294967296"),
            (r#"{"ops":[{"kind":"bind","source":"/a"}]}"#, "ops[0]", "target is required"),
            (r#"{"ops":[{"kind":"dir","target":"/d","extra":true}]}"#, "ops[0].extra", r#"unknown field "extra"; known: kind, target, mode"#),
            (r#"{"ops":[{"target":"/d"}]}"#, "ops[0].kind", r#"expected one of "bind", "proc""#),
            (r#"{"ops":[{"kind":0,"target":"/d"}]}"#, "ops[0].kind", r#"expected one of "bind", "proc""#),
            (r#"{"ops":[3]}"#, "ops[0]", "expected object, got 3"),
            (r#"{"ops":[{"kind":"overlay","target":"/o","lowers":["/a",7]}]}"#, "ops[0].lowers[1]", "expected string, got 7"),
            (r#"{"network":"internet"}"#, "network", r#"expected one of "none", "host", got "internet""#),
            (r#"{"network":3}"#, "network", r#"expected one of "none", "host", got 3"#),
            (r#"{"network":null}"#, "network", r#"expected one of "none", "host", got null"#),
            (r#"{"lingerMs":1.5}"#, "lingerMs", "expected integer, got 1.5"),
            (r#"{"env":{"set":{"A":1}}}"#, "env.set.A", "expected string, got 1"),
            (r#"{"env":{"set":{"MY-VAR":1}}}"#, r#"env.set["MY-VAR"]"#, "expected string, got 1"),
            (r#"{"env":[true]}"#, "env", "expected object, got an array"),
            (r#"{"output":null}"#, "output", "expected string, got null"),
            (
                r#"{"seccomp":{"stack":[{"rules":[{"syscall":"x","action":{"errno":-1}}]}]}}"#,
                "seccomp.stack[0].rules[0].action.errno",
                "must be at least 0, got -1",
            ),
            (r#"{"argv":["sh"]}"#, "argv", r#"unknown field "argv""#),
            (r#"{"version":1}"#, "version", r#"unknown field "version""#),
            ("[]", "", "expected object, got an array"),
            (r#"{"ops":[{"kind":"tmpfs","target":"/t","size":9007199254740992}]}"#, "ops[0].size", "must be at most 9007199254740991, got 9007199254740992"),
        ] {
            let (p, m) = problem(json);
            assert_eq!(p, path, "{json}: {m}");
            assert!(m.starts_with(message), "{json}: {m}");
        }
    }
}

/// `filesystem` of sandboxctl.json.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FilesystemConfig {
    /// Hidden: a directory becomes an empty read-only tmpfs, a file reads as empty.
    #[serde(default)]
    pub deny_read: Vec<String>,
    /// Readable again (read-only) inside a denied tree.
    #[serde(default)]
    pub allow_read: Vec<String>,
    /// Writable binds of existing host paths.
    #[serde(default)]
    pub allow_write: Vec<String>,
    /// Read-only inside a writable tree; a missing path is covered.
    #[serde(default)]
    pub deny_write: Vec<String>,
}

/// A number, or a string with a unit (`2G`, `10m`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum NumberOrText {
    Number(f64),
    Text(String),
}

/// `limits` of sandboxctl.json.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LimitsConfig {
    /// Bytes, or `512M`, `2G`.
    pub memory: Option<NumberOrText>,
    /// Processes and threads, pid 1 included (at least 2).
    pub pids: Option<u32>,
    /// CPUs, e.g. 1.5.
    pub cpus: Option<NumberOrText>,
    /// Milliseconds, or `90s`, `10m`, `1h`.
    pub timeout: Option<NumberOrText>,
    /// Per resource (`nofile`, `nproc`, ...): `SOFT[:HARD]` or a number.
    #[serde(default)]
    pub rlimits: std::collections::BTreeMap<crate::plan::RlimitName, NumberOrText>,
}
