//! ch-run's environment rules as pure functions over `KEY=VALUE` lists
//! (charliecloud 0.31, measured on Debian's ch-run; docs/hpc.md):
//!
//! - an assignment splits at the first `=`; one pair of straight single
//!   quotes around the whole value is stripped (`'q'` → `q`, `''''` →
//!   `''`); double quotes, backslashes and `#` are nothing special;
//! - a file is lines of assignments; empty lines are skipped, anything
//!   else without `=` is an error naming `FILE:LINE`;
//! - expansion splits the value at `:` and replaces each item that is `$`
//!   followed by a name with that variable's value, dropping the item and
//!   its colon when the variable is unset or empty (`$A:$NOPE:z` → `1:z`;
//!   `$` alone and `x$A` stay as written);
//! - `PATH` gets `:/bin` unless it starts with `/bin` or holds `:/bin`.

use super::glob::fnmatch;

/// A name and value from an assignment.
pub type Var = (String, String);

/// Why an assignment does not parse (ch-run's two cases).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    NoDelimiter,
    EmptyName,
}

impl ParseError {
    /// `cannot parse variable: no delimiter: WHERE` (ch-run's words).
    pub fn message(&self, at: &str) -> String {
        let what = match self {
            ParseError::NoDelimiter => "no delimiter",
            ParseError::EmptyName => "empty name",
        };
        format!("cannot parse variable: {what}: {at}")
    }
}

/// `NAME=VALUE` as ch-run's `--set-env` and environment files take it.
pub fn parse_assign(text: &str) -> Result<Var, ParseError> {
    let (name, value) = text.split_once('=').ok_or(ParseError::NoDelimiter)?;
    if name.is_empty() {
        return Err(ParseError::EmptyName);
    }
    let value = match value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        Some(inner) if value.len() >= 2 => inner,
        _ => value,
    };
    Ok((name.to_string(), value.to_string()))
}

/// The assignments of a file's text, in order; the error names `file:line`.
pub fn parse_file(file: &str, text: &str) -> Result<Vec<Var>, String> {
    let mut out = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        out.push(parse_assign(line).map_err(|e| e.message(&format!("{file}:{}", n + 1)))?);
    }
    Ok(out)
}

/// The value of `name` in `env`, if set.
pub fn get<'e>(env: &'e [String], name: &str) -> Option<&'e str> {
    env.iter().find_map(|e| e.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v))
}

/// ch-run's expansion of `value` against `env`.
pub fn expand(value: &str, env: &[String]) -> String {
    let items: Vec<&str> = value
        .split(':')
        .filter_map(|item| match item.strip_prefix('$') {
            Some(name) if !name.is_empty() => get(env, name).filter(|v| !v.is_empty()),
            _ => Some(item),
        })
        .collect();
    items.join(":")
}

/// Set `name`: replaced where it is, else added at the end (setenv's order).
pub fn set(env: &mut Vec<String>, name: &str, value: &str) {
    let entry = format!("{name}={value}");
    match env.iter().position(|e| e.split_once('=').map_or(e == name, |(k, _)| k == name)) {
        Some(i) => env[i] = entry,
        None => env.push(entry),
    }
}

/// Remove every variable whose name matches `glob`.
pub fn unset(env: &mut Vec<String>, glob: &str) {
    env.retain(|e| !fnmatch(glob, e.split_once('=').map_or(e.as_str(), |(k, _)| k)));
}

/// `:dir` appended to `name` unless it starts with `dir` or holds `:dir`;
/// false when `name` is unset (ch-run warns and leaves it unset).
pub fn append_path(env: &mut Vec<String>, name: &str, dir: &str) -> bool {
    let Some(old) = get(env, name) else {
        return false;
    };
    if !old.starts_with(dir) && !old.contains(&format!(":{dir}")) {
        let new = format!("{old}:{dir}");
        set(env, name, &new);
    }
    true
}

/// Set each variable in order, expanded first when asked.
pub fn set_all(env: &mut Vec<String>, vars: &[Var], expand_values: bool) {
    for (name, value) in vars {
        let value = if expand_values { expand(value, env) } else { value.clone() };
        set(env, name, &value);
    }
}
