//! Git configuration files, read as git reads them (config.c's parser:
//! sections with quoted subsections, the deprecated `[a.b]` form, values
//! with quotes, escapes, comments and `\` continuation lines, a variable on
//! the same line as its section header), and the keys among them that make
//! git execute a program or read further configuration.
//!
//! Invariant: git refuses a file it cannot parse, and so do we: a changed
//! file this parser rejects is reported, never silently passed.

/// One `key = value`: `section[.subsection].name`, section and name lower
/// case, the subsection as written. A bare `name` has the value `None`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub section: String,
    pub subsection: Option<String>,
    pub name: String,
    pub value: Option<String>,
}

impl Entry {
    pub fn key(&self) -> String {
        match &self.subsection {
            Some(s) => format!("{}.{}.{}", self.section, s, self.name),
            None => format!("{}.{}", self.section, self.name),
        }
    }
}

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{} = {}", self.key(), v.escape_debug()),
            None => write!(f, "{}", self.key()),
        }
    }
}

/// Where and why the file is not git configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub reason: &'static str,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad config line {}: {}", self.line, self.reason)
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    line: usize,
}

impl Reader<'_> {
    /// The next byte, `\r\n` read as `\n`, and `\n` at the end (as git).
    fn next(&mut self) -> Option<u8> {
        let c = *self.data.get(self.pos)?;
        self.pos += 1;
        if c == b'\r' && self.data.get(self.pos) == Some(&b'\n') {
            self.pos += 1;
            self.line += 1;
            return Some(b'\n');
        }
        if c == b'\n' {
            self.line += 1;
        }
        Some(c)
    }
    fn next_or_nl(&mut self) -> u8 {
        self.next().unwrap_or(b'\n')
    }
    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }
    fn err(&self, reason: &'static str) -> ParseError {
        ParseError { line: self.line + 1, reason }
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Every entry of a git config file, in order.
pub fn parse(data: &[u8]) -> Result<Vec<Entry>, ParseError> {
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    let mut r = Reader { data, pos: 0, line: 0 };
    let mut out = Vec::new();
    let mut section: Option<(String, Option<String>)> = None;
    let mut comment = false;
    while let Some(c) = r.next() {
        if c == b'\n' {
            comment = false;
            continue;
        }
        if comment || is_space(c) {
            continue;
        }
        if c == b'#' || c == b';' {
            comment = true;
            continue;
        }
        if c == b'[' {
            section = Some(section_header(&mut r)?);
            continue;
        }
        if !c.is_ascii_alphabetic() {
            return Err(r.err("a variable name must start with a letter"));
        }
        let mut name = String::from((c as char).to_ascii_lowercase());
        while let Some(c) = r.peek().filter(|c| c.is_ascii_alphanumeric() || *c == b'-') {
            r.pos += 1;
            name.push((c as char).to_ascii_lowercase());
        }
        let Some((sec, sub)) = &section else {
            return Err(r.err("a variable outside any section"));
        };
        // Blanks, then the end of the line (a bare boolean) or `=`.
        let mut c = r.next_or_nl();
        while c != b'\n' && is_space(c) {
            c = r.next_or_nl();
        }
        let value = match c {
            b'\n' => None,
            b'#' | b';' => {
                comment = true;
                None
            }
            b'=' => Some(value(&mut r)?),
            _ => return Err(r.err("expected = after a variable name")),
        };
        out.push(Entry { section: sec.clone(), subsection: sub.clone(), name, value });
    }
    Ok(out)
}

/// After `[`: `name]`, `name "sub"]` or the deprecated `name.sub]`.
fn section_header(r: &mut Reader) -> Result<(String, Option<String>), ParseError> {
    let mut name = String::new();
    loop {
        let c = r.next().ok_or_else(|| r.err("unterminated section header"))?;
        match c {
            b']' => break,
            c if is_space(c) && c != b'\n' => {
                let sub = quoted_subsection(r)?;
                if name.is_empty() {
                    return Err(r.err("empty section name"));
                }
                return Ok((name, Some(sub)));
            }
            c if c.is_ascii_alphanumeric() || c == b'-' || c == b'.' => name.push((c as char).to_ascii_lowercase()),
            _ => return Err(r.err("bad character in a section name")),
        }
    }
    if name.is_empty() || name.starts_with('.') || name.ends_with('.') {
        return Err(r.err("empty section name"));
    }
    // `[section.sub]`: git keeps it as `section.sub`, all lower case.
    Ok(match name.split_once('.') {
        Some((s, rest)) => (s.to_string(), Some(rest.to_string())),
        None => (name, None),
    })
}

fn quoted_subsection(r: &mut Reader) -> Result<String, ParseError> {
    let mut c = r.next_or_nl();
    while c != b'\n' && is_space(c) {
        c = r.next_or_nl();
    }
    if c != b'"' {
        return Err(r.err("a subsection must be quoted"));
    }
    let mut sub = Vec::new();
    loop {
        let c = r.next_or_nl();
        match c {
            b'\n' => return Err(r.err("unterminated subsection")),
            b'"' => break,
            b'\\' => {
                let e = r.next_or_nl();
                if e == b'\n' {
                    return Err(r.err("unterminated subsection"));
                }
                sub.push(e);
            }
            c => sub.push(c),
        }
    }
    if r.next() != Some(b']') {
        return Err(r.err("expected ] after a subsection"));
    }
    Ok(String::from_utf8_lossy(&sub).into_owned())
}

/// After `=`: git's parse_value.
fn value(r: &mut Reader) -> Result<String, ParseError> {
    let mut out = Vec::new();
    let (mut quote, mut comment, mut space) = (false, false, 0usize);
    loop {
        let c = r.next_or_nl();
        if c == b'\n' {
            if quote {
                return Err(r.err("unterminated quote"));
            }
            return Ok(String::from_utf8_lossy(&out).into_owned());
        }
        if comment {
            continue;
        }
        if is_space(c) && !quote {
            if !out.is_empty() {
                space += 1;
            }
            continue;
        }
        if !quote && (c == b';' || c == b'#') {
            comment = true;
            continue;
        }
        out.extend(std::iter::repeat_n(b' ', space));
        space = 0;
        match c {
            b'\\' => {
                let e = r.next_or_nl();
                match e {
                    b'\n' => continue,
                    b't' => out.push(b'\t'),
                    b'b' => out.push(8),
                    b'n' => out.push(b'\n'),
                    b'\\' | b'"' => out.push(e),
                    _ => return Err(r.err("bad escape in a value")),
                }
            }
            b'"' => quote = !quote,
            c => out.push(c),
        }
    }
}

/// Does this entry make git run a program, read more configuration, trust
/// another directory or send traffic somewhere else? From `git help config`.
pub fn is_dangerous(e: &Entry) -> bool {
    let v = e.value.as_deref().unwrap_or("");
    let sub = e.subsection.is_some();
    let n = e.name.as_str();
    match e.section.as_str() {
        "core" => matches!(n, "fsmonitor" | "hookspath" | "sshcommand" | "editor" | "pager" | "gitproxy" | "askpass" | "worktree" | "alternaterefscommand"),
        "sequence" => n == "editor",
        "diff" => (!sub && n == "external") || (sub && matches!(n, "textconv" | "command")),
        "difftool" | "mergetool" => matches!(n, "cmd" | "path"),
        "merge" => sub && n == "driver",
        // Every key of these sections runs, includes, trusts or redirects.
        "filter" | "credential" | "include" | "includeif" | "safe" | "uploadpack" | "receivepack" | "pager" | "man" | "protocol" | "url" | "hook"
        | "trailer" | "browser" => true,
        "alias" => v.trim_start().starts_with('!'),
        "gpg" => n == "program",
        "interactive" => n == "difffilter",
        "web" => n == "browser",
        "remote" => sub && matches!(n, "uploadpack" | "receivepack"),
        "submodule" => sub && n == "update" && v.trim_start().starts_with('!'),
        "sendemail" => matches!(n, "smtpserver" | "tocmd" | "cccmd" | "headercmd"),
        _ => false,
    }
}

/// The dangerous entries of a parsed file.
pub fn dangerous(entries: &[Entry]) -> Vec<Entry> {
    entries.iter().filter(|e| is_dangerous(e)).cloned().collect()
}

/// The value of `section.name` (no subsection), last one wins as in git.
pub fn get<'a>(entries: &'a [Entry], section: &str, name: &str) -> Option<&'a str> {
    entries.iter().rev().find(|e| e.section == section && e.subsection.is_none() && e.name == name).map(|e| e.value.as_deref().unwrap_or("true"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Vec<String> {
        parse(text.as_bytes()).unwrap().iter().map(|e| e.to_string()).collect()
    }
    fn bad(text: &str) -> &'static str {
        parse(text.as_bytes()).unwrap_err().reason
    }

    #[test]
    fn sections_and_names_are_case_folded_subsections_are_not() {
        assert_eq!(keys("[core]\n\tfsmonitor = x\n"), ["core.fsmonitor = x"]);
        assert_eq!(keys("[Core]\n FSMonitor = x"), ["core.fsmonitor = x"]);
        assert_eq!(keys("[diff \"X y\"]\ntextconv = cat"), ["diff.X y.textconv = cat"]);
        assert_eq!(keys("[Diff.Sub]\nTextConv = cat"), ["diff.sub.textconv = cat"]);
        assert_eq!(keys("[includeIf \"gitdir:/tmp/**\"]\n  path = /tmp/x"), ["includeif.gitdir:/tmp/**.path = /tmp/x"]);
        assert_eq!(keys("[sub \"a\\\"b\\\\c\"]\nk=v"), ["sub.a\"b\\c.k = v"]);
    }

    #[test]
    fn values_follow_git_quoting_escapes_comments_and_continuations() {
        assert_eq!(keys("[a]\nk = \"x ; y\" # c\n"), ["a.k = x ; y"]);
        assert_eq!(keys("[a]\nk = x ; y\n"), ["a.k = x"]);
        assert_eq!(keys("[a]\nk =   one   two  \n"), ["a.k = one   two"]);
        assert_eq!(keys("[a]\nk = fs\\\nmon\\\n  itor\n"), ["a.k = fsmon  itor"]);
        assert_eq!(keys("[a]\nk = fs\\\nmonitor\n"), ["a.k = fsmonitor"]);
        assert_eq!(keys("[a]\nk = \"q\\\"\\\\\\t\\n\"\n"), ["a.k = q\\\"\\\\\\t\\n"]);
        assert_eq!(parse(b"[a]\nk = \"q\\\"\\\\\\t\\n\"\n").unwrap()[0].value.as_deref(), Some("q\"\\\t\n"));
        assert_eq!(keys("[a]\nflag\nother # c\n"), ["a.flag", "a.other"]);
        assert_eq!(keys("[a] k = same line"), ["a.k = same line"]);
        assert_eq!(keys("\u{feff}; comment\n# [core]\n[a]\r\nk = v\r\n"), ["a.k = v"]);
        assert_eq!(keys("[a]k=v[b]"), ["a.k = v[b]"]);
    }

    #[test]
    fn refuses_what_git_refuses() {
        assert_eq!(bad("k = v\n"), "a variable outside any section");
        assert_eq!(bad("[a]\n1k = v\n"), "a variable name must start with a letter");
        assert_eq!(bad("[a]\nk v\n"), "expected = after a variable name");
        assert_eq!(bad("[a]\nk = \"open\n"), "unterminated quote");
        assert_eq!(bad("[a]\nk = \\q\n"), "bad escape in a value");
        assert_eq!(bad("[a b]\n"), "a subsection must be quoted");
        assert_eq!(bad("[a \"b\n"), "unterminated subsection");
        assert_eq!(bad("[a \"b\" ]\n"), "expected ] after a subsection");
        assert_eq!(bad("[a"), "unterminated section header");
        assert_eq!(bad("[a!]"), "bad character in a section name");
        assert_eq!(bad("[]"), "empty section name");
        assert_eq!(parse(b"[a]\nk = \\q\n").unwrap_err().line, 2);
    }

    #[test]
    fn dangerous_keys() {
        let d = |text: &str| dangerous(&parse(text.as_bytes()).unwrap()).iter().map(|e| e.key()).collect::<Vec<_>>();
        assert_eq!(
            d("[core]\nfsmonitor=x\nhooksPath=.h\nbare=false\neditor=vi\nworktree=/w\nfilemode = true"),
            ["core.fsmonitor", "core.hookspath", "core.editor", "core.worktree"]
        );
        assert_eq!(
            d("[diff]\nexternal=x\ntool=y\n[diff \"pdf\"]\ntextconv=t\ncommand=c\nbinary=true"),
            ["diff.external", "diff.pdf.textconv", "diff.pdf.command"]
        );
        assert_eq!(d("[alias]\nst = status\nx = \" !sh\"\ny = !sh"), ["alias.x", "alias.y"]);
        assert_eq!(d("[filter \"lfs\"]\nclean=x\n[merge \"m\"]\ndriver=d\nname=n\n[merge]\nff=only"), ["filter.lfs.clean", "merge.m.driver"]);
        assert_eq!(d("[gpg]\nprogram=p\nformat=ssh\n[gpg \"ssh\"]\nprogram=q\nallowedSignersFile=f"), ["gpg.program", "gpg.ssh.program"]);
        assert_eq!(
            d("[remote \"o\"]\nurl=u\nuploadpack=u\nreceivepack=r\n[url \"ext::\"]\ninsteadOf=https://"),
            ["remote.o.uploadpack", "remote.o.receivepack", "url.ext::.insteadof"]
        );
        assert_eq!(d("[submodule \"s\"]\nupdate=!x\npath=p\n[submodule \"t\"]\nupdate=rebase"), ["submodule.s.update"]);
        assert_eq!(
            d("[user]\nname=n\n[color]\nui=auto\n[interactive]\ndiffFilter=f\n[web]\nbrowser=b\n[sequence]\neditor=e"),
            ["interactive.difffilter", "web.browser", "sequence.editor"]
        );
        for s in ["credential", "include", "includeIf \"x\"", "safe", "uploadpack", "receivepack", "pager", "man", "protocol", "hook \"h\"", "trailer \"t\""] {
            assert_eq!(d(&format!("[{s}]\nanything = v")).len(), 1, "{s}");
        }
    }

    #[test]
    fn last_value_wins() {
        let e = parse(b"[core]\nhooksPath = a\n[core \"x\"]\nhookspath = c\n[core]\nhooksPath = b\nbare").unwrap();
        assert_eq!(get(&e, "core", "hookspath"), Some("b"));
        assert_eq!(get(&e, "core", "bare"), Some("true"));
        assert_eq!(get(&e, "core", "none"), None);
    }
}
