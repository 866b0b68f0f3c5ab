//! Host rules: `registry.npmjs.org`, `*.example.com` (its subdomains, not
//! the apex), `host:443`, `10.0.0.7`, `[2001:db8::1]:8080`. Parsed once from
//! the plan (a bad entry is `E_PLAN_INVALID` naming it) and matched by the
//! proxy for every connection: deny rules first, then allow; no match is a
//! refusal, so an empty allow list means no network (srt's CVE fix).

use crate::plan::{NetPolicy, Network};
use std::net::IpAddr;

/// What a rule names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// Every host (`*`, deny lists only).
    Any,
    /// One name, lower case, no trailing dot.
    Exact(String),
    /// `*.suffix`: names ending in `.suffix`, not `suffix` itself.
    Suffix(String),
    /// An address literal.
    Ip(IpAddr),
}

/// One parsed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRule {
    pub host: HostPattern,
    pub port: Option<u16>,
    /// The entry as written (what report lines and 403 bodies name).
    pub text: String,
}

/// A parsed `plan.network` allow policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub allow: Vec<HostRule>,
    pub deny: Vec<HostRule>,
    pub allow_local_binding: bool,
}

/// The answer for one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed by this rule.
    Allow(HostRule),
    /// Refused: the rule that refused it (none: no allow rule matched) and why.
    Deny { rule: Option<String>, reason: String },
}

/// Public suffixes under which a wildcard would cover unrelated owners
/// (`*.co.uk`): the common ICANN second-level ones. Single labels (`*.com`)
/// are refused by rule.
const PUBLIC_SUFFIXES: &[&str] = &[
    "co.uk",
    "org.uk",
    "ac.uk",
    "gov.uk",
    "me.uk",
    "ltd.uk",
    "plc.uk",
    "net.uk",
    "com.au",
    "net.au",
    "org.au",
    "edu.au",
    "gov.au",
    "co.nz",
    "org.nz",
    "net.nz",
    "co.jp",
    "ne.jp",
    "or.jp",
    "ac.jp",
    "go.jp",
    "com.br",
    "net.br",
    "org.br",
    "com.cn",
    "net.cn",
    "org.cn",
    "gov.cn",
    "com.tw",
    "com.hk",
    "co.in",
    "net.in",
    "org.in",
    "co.za",
    "org.za",
    "co.kr",
    "or.kr",
    "com.mx",
    "com.ar",
    "com.tr",
    "com.sg",
    "com.my",
    "co.id",
    "co.il",
    "com.ua",
    "com.pl",
    "co.th",
    "com.vn",
    "com.ph",
    "com.pk",
    "com.ng",
    "com.eg",
    "com.sa",
    "co.ke",
    "eu.org",
    "us.com",
    "uk.com",
    "github.io",
    "gitlab.io",
    "herokuapp.com",
    "appspot.com",
    "cloudfront.net",
    "amazonaws.com",
    "azurewebsites.net",
    "netlify.app",
    "vercel.app",
    "pages.dev",
    "workers.dev",
    "blogspot.com",
];

/// Parse one entry. `deny` allows a bare `*` (deny everything).
pub fn parse_rule(entry: &str, deny: bool) -> Result<HostRule, String> {
    let text = entry.trim();
    let msg = |why: &str| format!("{entry:?}: {why}");
    let bad = |why: &str| Err(msg(why));
    if text.is_empty() {
        return bad("an empty host pattern");
    }
    if text.contains("://") {
        return bad("a host pattern has no scheme: write the host alone, e.g. registry.npmjs.org");
    }
    if text.contains('/') || text.contains('?') || text.contains('#') {
        return bad("a host pattern has no path: write the host alone, e.g. registry.npmjs.org");
    }
    if text.contains('@') || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("not a host name");
    }
    // Split host and port: `[v6]:port`, `[v6]`, `host:port`, `host`.
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let Some((inner, after)) = rest.split_once(']') else { return bad("an IPv6 literal's `[` has no `]`") };
        let ip: std::net::Ipv6Addr = match inner.parse() {
            Ok(ip) => ip,
            Err(_) => return bad("not an IPv6 address between the brackets"),
        };
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(p) => Some(parse_port(p).map_err(|e| msg(&e))?),
                None => return bad("only `:port` may follow `]`"),
            },
        };
        return Ok(HostRule { host: HostPattern::Ip(IpAddr::V6(ip)), port, text: text.to_string() });
    } else {
        match text.matches(':').count() {
            0 => (text, None),
            1 => {
                let (h, p) = text.split_once(':').unwrap_or((text, ""));
                (h, Some(parse_port(p).map_err(|e| msg(&e))?))
            }
            _ => return bad("an IPv6 literal must be in brackets, e.g. [2001:db8::1] or [2001:db8::1]:443"),
        }
    };
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let pattern = if host == "*" {
        if !deny {
            return bad("a bare `*` would allow every host: use --share-net (network: 'host') for that, or name the hosts");
        }
        HostPattern::Any
    } else if let Some(suffix) = host.strip_prefix("*.") {
        check_name(suffix).map_err(|e| msg(&e))?;
        if !suffix.contains('.') || PUBLIC_SUFFIXES.contains(&suffix) {
            return bad(&format!("`*.{suffix}` is a public-suffix wildcard (it covers unrelated owners): name a domain below it"));
        }
        HostPattern::Suffix(suffix.to_string())
    } else if host.contains('*') {
        return bad("`*` is allowed only as the whole first label (`*.example.com`)");
    } else if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
        HostPattern::Ip(IpAddr::V4(ip))
    } else {
        check_name(&host).map_err(|e| msg(&e))?;
        HostPattern::Exact(host)
    };
    Ok(HostRule { host: pattern, port, text: text.to_string() })
}

fn parse_port(p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 && !p.starts_with('+') => Ok(n),
        _ => Err(format!("port {p:?} is not a number from 1 to 65535")),
    }
}

/// A DNS name: labels of letters, digits, `-` and `_`, 1 to 63 bytes each, 253 in all.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 253 {
        return Err("not a host name".into());
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 || label.starts_with('-') || label.ends_with('-') {
            return Err(format!("`{label}` is not a host name label"));
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(format!("`{label}` is not a host name label (letters, digits, `-`; IDNs in their xn-- form)"));
        }
    }
    // All-numeric dotted names are addresses, and malformed ones at that.
    if name.split('.').all(|l| l.bytes().all(|b| b.is_ascii_digit())) {
        return Err("not an IPv4 address".into());
    }
    Ok(())
}

impl Policy {
    /// The policy of `plan.network`; `None` for `none` and `host`. Errors
    /// are `(JSON path under plan.network, message)`.
    pub fn of(network: &Network) -> Result<Option<Policy>, (String, String)> {
        match network {
            Network::Mode(_) => Ok(None),
            Network::Allow(p) => Policy::parse(p).map(Some),
        }
    }

    /// Parse every entry; the sets expand to their rules.
    pub fn parse(p: &NetPolicy) -> Result<Policy, (String, String)> {
        let mut out = Policy { allow_local_binding: p.allow_local_binding, ..Policy::default() };
        for (i, e) in p.allow.iter().enumerate() {
            out.allow.push(parse_rule(e, false).map_err(|m| (format!("allow[{i}]"), m))?);
        }
        for &set in &p.allow_sets {
            for e in super::hosts::set(set) {
                out.allow.push(parse_rule(e, false).map_err(|m| ("allowSets".to_string(), m))?);
            }
        }
        for (i, e) in p.deny.iter().enumerate() {
            out.deny.push(parse_rule(e, true).map_err(|m| (format!("deny[{i}]"), m))?);
        }
        Ok(out)
    }

    /// Deny rules first, then allow rules; no match is a refusal.
    pub fn decide(&self, host: &str, port: u16) -> Decision {
        let host = normalize(host);
        if let Some(r) = self.deny.iter().find(|r| r.matches(&host, port)) {
            return Decision::Deny { rule: Some(r.text.clone()), reason: format!("denied by the rule {}", r.text) };
        }
        match self.allow.iter().find(|r| r.matches(&host, port)) {
            Some(r) => Decision::Allow(r.clone()),
            None if self.allow.is_empty() => Decision::Deny { rule: None, reason: "the allow list is empty: no network".into() },
            None => Decision::Deny { rule: None, reason: format!("{host}:{port} is not in the allow list") },
        }
    }

    /// Whether an allow rule names this address literally (for this port):
    /// such an address passes the resolved-address check.
    pub fn allows_literal(&self, ip: IpAddr, port: u16) -> bool {
        let ip = super::addr::canonical(ip);
        self.allow.iter().any(|r| matches!(r.host, HostPattern::Ip(a) if super::addr::canonical(a) == ip) && r.port.is_none_or(|p| p == port))
    }
}

/// Lower case, no trailing dot, no IPv6 brackets.
pub fn normalize(host: &str) -> String {
    let h = host.trim_end_matches('.');
    let h = h.strip_prefix('[').and_then(|x| x.strip_suffix(']')).unwrap_or(h);
    h.to_ascii_lowercase()
}

impl HostRule {
    /// Does this rule cover `host` (normalized) on `port`?
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(name) => host == name,
            HostPattern::Suffix(s) => host.len() > s.len() + 1 && host.ends_with(s.as_str()) && host.as_bytes()[host.len() - s.len() - 1] == b'.',
            HostPattern::Ip(ip) => host.parse::<IpAddr>().is_ok_and(|h| super::addr::canonical(h) == super::addr::canonical(*ip)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], deny: &[&str]) -> Policy {
        let p = NetPolicy { allow: allow.iter().map(|s| s.to_string()).collect(), deny: deny.iter().map(|s| s.to_string()).collect(), ..NetPolicy::default() };
        Policy::parse(&p).unwrap()
    }

    #[test]
    fn good_entries_parse() {
        let table: &[(&str, HostPattern, Option<u16>)] = &[
            ("registry.npmjs.org", HostPattern::Exact("registry.npmjs.org".into()), None),
            ("Registry.NPMJS.org.", HostPattern::Exact("registry.npmjs.org".into()), None),
            ("example.com:8443", HostPattern::Exact("example.com".into()), Some(8443)),
            ("*.example.com", HostPattern::Suffix("example.com".into()), None),
            ("*.example.co.uk", HostPattern::Suffix("example.co.uk".into()), None),
            ("*.example.com:443", HostPattern::Suffix("example.com".into()), Some(443)),
            ("localhost", HostPattern::Exact("localhost".into()), None),
            ("127.0.0.1:3000", HostPattern::Ip("127.0.0.1".parse().unwrap()), Some(3000)),
            ("[::1]", HostPattern::Ip("::1".parse().unwrap()), None),
            ("[2001:db8::1]:8080", HostPattern::Ip("2001:db8::1".parse().unwrap()), Some(8080)),
            ("my_host.internal", HostPattern::Exact("my_host.internal".into()), None),
        ];
        for (entry, host, port) in table {
            let r = parse_rule(entry, false).unwrap_or_else(|e| panic!("{entry}: {e}"));
            assert_eq!((&r.host, r.port), (host, *port), "{entry}");
        }
        assert_eq!(parse_rule("*", true).unwrap().host, HostPattern::Any);
    }

    #[test]
    fn bad_entries_are_refused_with_the_reason() {
        let table: &[(&str, &str)] = &[
            ("https://registry.npmjs.org", "scheme"),
            ("registry.npmjs.org/path", "path"),
            ("*", "bare `*`"),
            ("*.com", "public-suffix"),
            ("*.co.uk", "public-suffix"),
            ("*.github.io", "public-suffix"),
            ("2001:db8::1", "brackets"),
            ("::1", "brackets"),
            ("[2001:db8::1", "no `]`"),
            ("[zz::1]", "IPv6"),
            ("[::1]x", "`:port`"),
            ("a.*.example.com", "first label"),
            ("foo*.example.com", "first label"),
            ("example.com:0", "port"),
            ("example.com:65536", "port"),
            ("example.com:http", "port"),
            ("", "empty"),
            ("exa mple.com", "not a host name"),
            ("user@example.com", "not a host name"),
            ("-bad.example.com", "label"),
            ("bad..example.com", "label"),
            ("999.1.1.1", "IPv4"),
            ("ex!ample.com", "label"),
        ];
        for (entry, why) in table {
            let e = parse_rule(entry, false).expect_err(entry);
            assert!(e.contains(why), "{entry}: {e}");
        }
    }

    #[test]
    fn deny_first_wildcard_not_apex_ports_and_literals() {
        let p = policy(&["*.example.com", "api.test.org:443", "10.1.2.3", "[2001:db8::1]:80"], &["secret.example.com", "*.bad.example.com"]);
        let allowed = |h: &str, port: u16| matches!(p.decide(h, port), Decision::Allow(_));
        assert!(allowed("www.example.com", 443));
        assert!(allowed("A.B.Example.COM.", 80));
        assert!(!allowed("example.com", 443), "the apex is not covered by *.example.com");
        assert!(!allowed("notexample.com", 443));
        assert!(!allowed("secret.example.com", 443), "deny wins");
        assert!(!allowed("x.bad.example.com", 443));
        assert!(allowed("bad.example.com", 443), "*.bad.example.com does not cover its apex");
        assert!(allowed("api.test.org", 443));
        assert!(!allowed("api.test.org", 80));
        assert!(allowed("10.1.2.3", 22));
        assert!(allowed("[2001:db8::1]", 80));
        assert!(allowed("2001:db8:0::1", 80));
        assert!(!allowed("2001:db8::1", 81));
        assert!(allowed("::ffff:10.1.2.3", 1), "a v4-mapped literal is the v4 address");
        match p.decide("secret.example.com", 1) {
            Decision::Deny { rule, .. } => assert_eq!(rule.as_deref(), Some("secret.example.com")),
            d => panic!("{d:?}"),
        }
        match p.decide("other.org", 1) {
            Decision::Deny { rule, reason } => {
                assert_eq!(rule, None);
                assert!(reason.contains("not in the allow list"), "{reason}");
            }
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn an_empty_allow_list_refuses_everything() {
        let p = policy(&[], &[]);
        for h in ["example.com", "127.0.0.1", "localhost", "::1"] {
            assert!(matches!(p.decide(h, 80), Decision::Deny { .. }), "{h}");
        }
    }

    #[test]
    fn a_deny_star_refuses_everything() {
        let p = policy(&["example.com"], &["*"]);
        assert!(matches!(p.decide("example.com", 80), Decision::Deny { .. }));
    }

    #[test]
    fn sets_expand_and_paths_name_the_entry() {
        let p = NetPolicy { allow_sets: vec![crate::plan::HostSet::Npm, crate::plan::HostSet::Github], ..NetPolicy::default() };
        let p = Policy::parse(&p).unwrap();
        assert!(matches!(p.decide("registry.npmjs.org", 443), Decision::Allow(_)));
        assert!(matches!(p.decide("objects.githubusercontent.com", 443), Decision::Allow(_)));
        assert!(matches!(p.decide("pypi.org", 443), Decision::Deny { .. }));
        let bad = NetPolicy { allow: vec!["ok.org".into(), "*.com".into()], ..NetPolicy::default() };
        let (path, msg) = Policy::parse(&bad).unwrap_err();
        assert_eq!(path, "allow[1]");
        assert!(msg.contains("\"*.com\""), "{msg}");
        let bad = NetPolicy { deny: vec!["http://x".into()], ..NetPolicy::default() };
        assert_eq!(Policy::parse(&bad).unwrap_err().0, "deny[0]");
    }

    #[test]
    fn every_set_parses() {
        use crate::plan::HostSet::*;
        for s in [Npm, Pypi, Crates, Github, Go, Maven, Debian] {
            for e in super::super::hosts::set(s) {
                parse_rule(e, false).unwrap_or_else(|m| panic!("{s:?}: {m}"));
            }
        }
    }

    #[test]
    fn literal_allows() {
        let p = policy(&["127.0.0.1:3000", "[::1]", "localhost"], &[]);
        assert!(p.allows_literal("127.0.0.1".parse().unwrap(), 3000));
        assert!(!p.allows_literal("127.0.0.1".parse().unwrap(), 3001));
        assert!(p.allows_literal("::1".parse().unwrap(), 5));
        assert!(p.allows_literal("::ffff:127.0.0.1".parse().unwrap(), 3000));
        assert!(!p.allows_literal("127.0.0.2".parse().unwrap(), 3000));
    }
}
