//! fnmatch(3) with `FNM_EXTMATCH` and no other flag, as ch-run's
//! `--unset-env` calls it: `*` and `?` match any character (`/` and a
//! leading `.` included), `[...]` sets (`!` or `^` negates, ranges,
//! `[:class:]`), `\` escapes, and the extglobs `?(a|b)`, `*(a|b)`,
//! `+(a|b)`, `@(a|b)` and `!(a|b)`, nested. musl has no FNM_EXTMATCH, so
//! this is our own: a pattern that is not well formed matches its
//! characters literally, as glibc treats an unclosed `[` or `(`.
//!
//! Input: a pattern and a variable name. Matching is by backtracking over
//! characters; names and patterns are short.

/// One element of a parsed pattern.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Char(char),
    /// `?`
    One,
    /// `*`
    Any,
    /// `[...]`: negated, items.
    Set(bool, Vec<SetItem>),
    /// An extglob: its kind (`?*+@!`) and alternatives.
    Ext(char, Vec<Vec<Node>>),
}

#[derive(Debug, Clone, PartialEq)]
enum SetItem {
    Char(char),
    Range(char, char),
    Class(String),
}

/// Whether `name` matches `pattern` as a whole.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let nodes = parse(&p, &mut 0, false);
    let s: Vec<char> = name.chars().collect();
    matches(&nodes, &s)
}

/// Parse until the end, or inside an extglob until its `|` or `)`
/// (left for the caller).
fn parse(p: &[char], i: &mut usize, nested: bool) -> Vec<Node> {
    let mut out = Vec::new();
    while *i < p.len() {
        let c = p[*i];
        if nested && (c == '|' || c == ')') {
            break;
        }
        if "?*+@!".contains(c) && p.get(*i + 1) == Some(&'(') {
            if let Some((alts, end)) = parse_ext(p, *i + 2) {
                out.push(Node::Ext(c, alts));
                *i = end;
                continue;
            }
        }
        match c {
            '?' => out.push(Node::One),
            '*' => out.push(Node::Any),
            '[' => match parse_set(p, *i + 1) {
                Some((node, end)) => {
                    out.push(node);
                    *i = end;
                    continue;
                }
                None => out.push(Node::Char('[')),
            },
            '\\' if *i + 1 < p.len() => {
                *i += 1;
                out.push(Node::Char(p[*i]));
            }
            c => out.push(Node::Char(c)),
        }
        *i += 1;
    }
    out
}

/// The alternatives of an extglob whose list starts at `start`; the index
/// after its `)`, or None when it is not closed.
fn parse_ext(p: &[char], start: usize) -> Option<(Vec<Vec<Node>>, usize)> {
    let mut i = start;
    let mut alts = Vec::new();
    loop {
        alts.push(parse(p, &mut i, true));
        match p.get(i) {
            Some('|') => i += 1,
            Some(')') => return Some((alts, i + 1)),
            _ => return None,
        }
    }
}

/// A `[...]` set whose body starts at `start`; the index after its `]`, or
/// None when it is not closed.
fn parse_set(p: &[char], start: usize) -> Option<(Node, usize)> {
    let mut i = start;
    let negated = matches!(p.get(i), Some('!') | Some('^'));
    if negated {
        i += 1;
    }
    let mut items = Vec::new();
    let first = i;
    loop {
        let c = *p.get(i)?;
        if c == ']' && i > first {
            return Some((Node::Set(negated, items), i + 1));
        }
        if c == '[' && p.get(i + 1) == Some(&':') {
            let rest: String = p[i + 2..].iter().collect();
            if let Some(end) = rest.find(":]") {
                items.push(SetItem::Class(rest[..end].to_string()));
                i += 2 + rest[..end].chars().count() + 2;
                continue;
            }
        }
        let lo = if c == '\\' {
            i += 1;
            *p.get(i)?
        } else {
            c
        };
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&h| h != ']') {
            let mut j = i + 2;
            let hi = if p[j] == '\\' {
                j += 1;
                *p.get(j)?
            } else {
                p[j]
            };
            items.push(SetItem::Range(lo, hi));
            i = j + 1;
        } else {
            items.push(SetItem::Char(lo));
            i += 1;
        }
    }
}

fn in_class(class: &str, c: char) -> bool {
    match class {
        "alpha" => c.is_ascii_alphabetic(),
        "digit" => c.is_ascii_digit(),
        "alnum" => c.is_ascii_alphanumeric(),
        "upper" => c.is_ascii_uppercase(),
        "lower" => c.is_ascii_lowercase(),
        "space" => c.is_ascii_whitespace() || c == '\x0b',
        "blank" => c == ' ' || c == '\t',
        "punct" => c.is_ascii_punctuation(),
        "xdigit" => c.is_ascii_hexdigit(),
        "cntrl" => c.is_ascii_control(),
        "print" => c.is_ascii_graphic() || c == ' ',
        "graph" => c.is_ascii_graphic(),
        _ => false,
    }
}

fn set_has(negated: bool, items: &[SetItem], c: char) -> bool {
    let hit = items.iter().any(|it| match it {
        SetItem::Char(x) => *x == c,
        SetItem::Range(lo, hi) => *lo <= c && c <= *hi,
        SetItem::Class(name) => in_class(name, c),
    });
    hit != negated
}

/// Whether `nodes` match all of `s`.
fn matches(nodes: &[Node], s: &[char]) -> bool {
    let Some((first, rest)) = nodes.split_first() else {
        return s.is_empty();
    };
    match first {
        Node::Char(c) => s.first() == Some(c) && matches(rest, &s[1..]),
        Node::One => !s.is_empty() && matches(rest, &s[1..]),
        Node::Set(neg, items) => s.first().is_some_and(|&c| set_has(*neg, items, c)) && matches(rest, &s[1..]),
        Node::Any => (0..=s.len()).any(|k| matches(rest, &s[k..])),
        Node::Ext(kind, alts) => (0..=s.len()).any(|k| ext_matches(*kind, alts, &s[..k]) && matches(rest, &s[k..])),
    }
}

/// Whether the extglob matches all of `s`.
fn ext_matches(kind: char, alts: &[Vec<Node>], s: &[char]) -> bool {
    let one = |t: &[char]| alts.iter().any(|a| matches(a, t));
    match kind {
        '@' => one(s),
        '?' => s.is_empty() || one(s),
        '!' => !one(s),
        '*' => repeated(alts, s, true),
        '+' => repeated(alts, s, false),
        _ => unreachable!("extglob kinds are ?*+@!"),
    }
}

/// `s` as a sequence of pieces each matching an alternative (one at least
/// unless `empty_ok`). Empty pieces are not tried: they add nothing.
fn repeated(alts: &[Vec<Node>], s: &[char], empty_ok: bool) -> bool {
    if s.is_empty() {
        return empty_ok || alts.iter().any(|a| matches(a, s));
    }
    (1..=s.len()).any(|k| alts.iter().any(|a| matches(a, &s[..k])) && repeated(alts, &s[k..], true))
}

#[cfg(test)]
mod tests {
    use super::fnmatch;

    #[test]
    fn plain_wildcards_match_as_fnmatch_without_flags() {
        for (p, s, want) in [
            ("*", "", true),
            ("*", "ANYTHING", true),
            ("A*", "AB", true),
            ("A*", "BA", false),
            ("?", "A", true),
            ("?", "", false),
            ("?", "AB", false),
            ("SLURM*", "SLURM_JOB_ID", true),
            ("SLURM*", "XSLURM", false),
            ("*_ID", "SLURM_JOB_ID", true),
            ("A*B*C", "AxxBxxC", true),
            ("A*B*C", "AxxCxxB", false),
            ("a/b", "a/b", true),
            ("*", ".hidden/x", true),
            ("HOME", "HOME", true),
            ("HOME", "HOMER", false),
            ("", "", true),
            ("", "A", false),
        ] {
            assert_eq!(fnmatch(p, s), want, "{p:?} vs {s:?}");
        }
    }

    #[test]
    fn sets_ranges_classes_and_escapes() {
        for (p, s, want) in [
            ("[AB]", "A", true),
            ("[AB]", "C", false),
            ("[!AB]", "C", true),
            ("[^AB]", "A", false),
            ("[A-C]X", "BX", true),
            ("[A-C]X", "DX", false),
            ("[]]", "]", true),
            ("[!]]", "]", false),
            ("[a-]", "-", true),
            ("[[:digit:]]*", "1A", true),
            ("[[:digit:]]*", "A1", false),
            ("[[:upper:]_]*", "_X", true),
            ("[[:alpha:][:digit:]]", "7", true),
            ("[", "[", true),
            ("[A", "[A", true),
            ("\\*", "*", true),
            ("\\*", "A", false),
            ("A\\?", "A?", true),
            ("[\\]]", "]", true),
        ] {
            assert_eq!(fnmatch(p, s), want, "{p:?} vs {s:?}");
        }
    }

    #[test]
    fn extglobs() {
        for (p, s, want) in [
            // ch-run's documented example: keep the wanted ones only.
            ("!(WANTED_*|ALSO_WANTED_*)", "WANTED_1", false),
            ("!(WANTED_*|ALSO_WANTED_*)", "ALSO_WANTED_2", false),
            ("!(WANTED_*|ALSO_WANTED_*)", "OTHER", true),
            ("!(WANTED_*|ALSO_WANTED_*)", "", true),
            ("@(A|B)", "A", true),
            ("@(A|B)", "AB", false),
            ("@(A|B)", "", false),
            ("?(A|B)X", "X", true),
            ("?(A|B)X", "AX", true),
            ("?(A|B)X", "ABX", false),
            ("*(A|B)", "", true),
            ("*(A|B)", "ABBA", true),
            ("*(A|B)", "ABC", false),
            ("+(A|B)", "", false),
            ("+(A|B)", "BAB", true),
            ("+(AB|C)D", "ABCABD", true),
            ("+(AB|C)D", "ACD", false),
            ("X!(A)", "XB", true),
            ("X!(A)", "XA", false),
            ("X!(A)", "X", true),
            ("!(A)*", "A", true), // !(A) matches the empty prefix, * the rest
            ("@(A|+(B|C))", "BCB", true),
            ("@(A|+(B|C))", "AB", false),
            ("!(*_KEY|*_TOKEN)", "GITHUB_TOKEN", false),
            ("!(*_KEY|*_TOKEN)", "PATH", true),
            ("@(A|B", "@(A|B", true), // unclosed: literal
            ("*(", "*(", true),
            ("a@(b)", "ab", true),
            ("@()", "", true),
            ("@(|A)", "", true),
            ("+(|A)", "AA", true),
        ] {
            assert_eq!(fnmatch(p, s), want, "{p:?} vs {s:?}");
        }
    }
}
