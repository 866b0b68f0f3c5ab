//! JSON values that keep their keys in insertion order, written as
//! `JSON.stringify` writes them: the plan the front-end builds is compared
//! byte for byte with the one the Node CLI prints (`sandboxctl plan
//! --json`), and JavaScript objects keep insertion order. A key present with
//! no value (`None`) is one JavaScript holds as `undefined`: it keeps its
//! place and is not written.

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum J {
    Str(String),
    Num(u64),
    Bool(bool),
    Arr(Vec<J>),
    Obj(Obj),
}

/// An object: keys in insertion order; `None` is JavaScript's `undefined`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Obj(pub Vec<(String, Option<J>)>);

impl Obj {
    pub fn get(&self, key: &str) -> Option<&Option<J>> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Option<J>> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// `o[key] = value`: in place when the key exists, else appended.
    pub fn set(&mut self, key: &str, value: J) {
        match self.get_mut(key) {
            Some(slot) => *slot = Some(value),
            None => self.0.push((key.to_string(), Some(value))),
        }
    }

    /// `o[key] = undefined`.
    pub fn set_undefined(&mut self, key: &str) {
        match self.get_mut(key) {
            Some(slot) => *slot = None,
            None => self.0.push((key.to_string(), None)),
        }
    }

    /// `delete o[key]`.
    pub fn delete(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }

    /// `o[key] ??= {}` (or `[]`), then the value.
    pub fn or_insert(&mut self, key: &str, empty: J) -> &mut J {
        if !matches!(self.get(key), Some(Some(_))) {
            self.set(key, empty);
        }
        self.get_mut(key).and_then(Option::as_mut).expect("just set")
    }
}

impl J {
    pub fn str(s: &str) -> J {
        J::Str(s.to_string())
    }

    pub fn obj(pairs: Vec<(&str, J)>) -> J {
        J::Obj(Obj(pairs.into_iter().map(|(k, v)| (k.to_string(), Some(v))).collect()))
    }

    /// The compact form, as `JSON.stringify(value)`.
    pub fn write(&self, out: &mut String) {
        match self {
            // serde_json escapes as JSON.stringify does: \" \\ \b \f \n \r \t, other controls as \u00xx.
            J::Str(s) => out.push_str(&serde_json::to_string(s).expect("a string serializes")),
            J::Num(n) => out.push_str(&n.to_string()),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Arr(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            J::Obj(o) => {
                out.push('{');
                let mut first = true;
                for (k, v) in &o.0 {
                    let Some(v) = v else { continue };
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    J::Str(k.clone()).write(out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    pub fn to_json(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }

    /// The indented form, as `JSON.stringify(value, null, 2)`.
    pub fn to_json_pretty(&self) -> String {
        let mut s = String::new();
        self.write_pretty(&mut s, 0);
        s
    }

    fn write_pretty(&self, out: &mut String, depth: usize) {
        let indent = |out: &mut String, d: usize| {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', 2 * d));
        };
        match self {
            J::Arr(a) if !a.is_empty() => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    indent(out, depth + 1);
                    v.write_pretty(out, depth + 1);
                }
                indent(out, depth);
                out.push(']');
            }
            J::Obj(o) if o.0.iter().any(|(_, v)| v.is_some()) => {
                out.push('{');
                let mut first = true;
                for (k, v) in &o.0 {
                    let Some(v) = v else { continue };
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    indent(out, depth + 1);
                    J::Str(k.clone()).write(out);
                    out.push_str(": ");
                    v.write_pretty(out, depth + 1);
                }
                indent(out, depth);
                out.push('}');
            }
            other => other.write(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_as_json_stringify() {
        let mut o = Obj::default();
        o.set_undefined("unset");
        o.set("set", J::obj(vec![("A", J::str("a\"\n\u{1b}"))]));
        o.set("n", J::Num(7));
        assert_eq!(J::Obj(o.clone()).to_json(), r#"{"set":{"A":"a\"\n\u001b"},"n":7}"#);
        // An undefined key keeps its place when it gets a value.
        o.set("unset", J::Arr(vec![J::str("B")]));
        assert_eq!(J::Obj(o.clone()).to_json(), r#"{"unset":["B"],"set":{"A":"a\"\n\u001b"},"n":7}"#);
        o.delete("unset");
        o.or_insert("unset", J::Arr(vec![]));
        assert_eq!(J::Obj(o.clone()).to_json(), r#"{"set":{"A":"a\"\n\u001b"},"n":7,"unset":[]}"#);
        o.set_undefined("gone");
        o.set("empty", J::Obj(Obj(vec![("x".into(), None)])));
        o.set("list", J::Arr(vec![J::Num(1), J::obj(vec![("b", J::Bool(false))])]));
        let pretty = "{\n  \"set\": {\n    \"A\": \"a\\\"\\n\\u001b\"\n  },\n  \"n\": 7,\n  \"unset\": [],\n  \"empty\": {},\n  \"list\": [\n    1,\n    {\n      \"b\": false\n    }\n  ]\n}";
        assert_eq!(J::Obj(o).to_json_pretty(), pretty);
    }
}
