//! The HTTP proxy: `CONNECT host:port` tunnels, and absolute-form requests
//! (`GET http://host/path HTTP/1.1`) forwarded in origin form, with
//! keep-alive on both sides: a client connection carries any number of
//! requests, and its upstream connection is used again while the next
//! request names the same host and port.
//!
//! Every request is checked on its own: its host goes through the policy
//! (`dial`) unless it is the very host and port of the open upstream, and
//! a refusal closes the client connection. Each message is framed here
//! (Content-Length, chunked, or to the end) and only its own bytes go on:
//! a second request pipelined behind the first is parsed and checked as a
//! request, never passed through as the first one's body. Requests whose
//! framing two parsers could read differently are refused with a 400
//! (Transfer-Encoding with Content-Length, conflicting lengths, a coding
//! other than `chunked`, folded or malformed header lines, bare CR or LF),
//! and the Host header is always the request URI's authority (RFC 9112
//! 3.2.2: a proxy replaces it), so a request checked for one host cannot
//! name another to the server it reaches.

use super::dial::{dial, DialError};
use super::relay::Pump;
use super::Shared;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;

/// Largest request or response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// A connection and the bytes read from it that are not used yet.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn new(s: TcpStream) -> Conn {
        Conn { s, buf: Vec::new() }
    }

    /// More bytes into `buf`; false at EOF or on an error.
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.s.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return true;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
    }

    /// A head up to its blank line; None at EOF, on an error or past MAX_HEAD.
    fn head(&mut self) -> Option<Vec<u8>> {
        let mut from = 0;
        loop {
            if let Some(i) = self.buf[from..].windows(4).position(|w| w == b"\r\n\r\n") {
                let end = from + i + 4;
                let rest = self.buf.split_off(end);
                return Some(std::mem::replace(&mut self.buf, rest));
            }
            if self.buf.len() > MAX_HEAD {
                return None;
            }
            from = self.buf.len().saturating_sub(3);
            if !self.fill() {
                return None;
            }
        }
    }

    /// One CRLF-ended line (without it), at most 4 KiB.
    fn line(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let rest = self.buf.split_off(i + 2);
                let mut line = std::mem::replace(&mut self.buf, rest);
                line.truncate(i);
                return Some(line);
            }
            if self.buf.len() > 4096 || !self.fill() {
                return None;
            }
        }
    }

    /// Exactly `n` bytes of body to `to`: what is buffered, then the rest.
    fn copy_n(&mut self, to: &TcpStream, pump: &mut Pump, n: u64) -> std::io::Result<()> {
        let have = self.buf.len().min(n.min(usize::MAX as u64) as usize);
        let mut w = to;
        w.write_all(&self.buf[..have])?;
        self.buf.drain(..have);
        pump.copy_n(&self.s, to, n - have as u64)
    }

    /// Everything to EOF.
    fn copy_to_end(&mut self, to: &TcpStream, pump: &mut Pump) -> std::io::Result<()> {
        let mut w = to;
        w.write_all(&self.buf)?;
        self.buf.clear();
        pump.copy_to_end(&self.s, to)
    }

    /// A chunked body, passed on re-framed (chunk extensions dropped), with
    /// its trailers.
    fn copy_chunked(&mut self, to: &TcpStream, pump: &mut Pump) -> std::io::Result<()> {
        let bad = || std::io::Error::new(ErrorKind::InvalidData, "bad chunked body");
        let mut w = to;
        loop {
            let line = self.line().ok_or_else(bad)?;
            let size = line.split(|&b| b == b';').next().unwrap_or(&[]);
            let size = std::str::from_utf8(size).map_err(|_| bad())?.trim_matches([' ', '\t']);
            if size.is_empty() || size.len() > 15 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            let n = u64::from_str_radix(size, 16).map_err(|_| bad())?;
            w.write_all(format!("{n:x}\r\n").as_bytes())?;
            if n == 0 {
                break;
            }
            self.copy_n(to, pump, n)?;
            if !self.line().is_some_and(|l| l.is_empty()) {
                return Err(bad());
            }
            w.write_all(b"\r\n")?;
        }
        loop {
            let line = self.line().ok_or_else(bad)?;
            if line.contains(&b'\r') || line.contains(&b'\n') || line.contains(&0) {
                return Err(bad());
            }
            w.write_all(&line)?;
            w.write_all(b"\r\n")?;
            if line.is_empty() {
                return Ok(());
            }
        }
    }
}

fn respond(c: &mut TcpStream, status: &str, proxy_error: Option<&str>, body: &str) {
    let header = proxy_error.map(|e| format!("X-Proxy-Error: {e}\r\n")).unwrap_or_default();
    let body = format!("{body}\n");
    let _ =
        write!(c, "HTTP/1.1 {status}\r\n{header}Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
}

/// Split `host:port` / `[v6]:port` / `host` (with a default port).
pub fn split_host_port(s: &str, default: Option<u16>) -> Option<(String, u16)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default?,
            None => return None,
        };
        return Some((format!("[{h}]"), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h.to_string(), p.parse().ok()?)),
        Some(_) => None,
        None => Some((s.to_string(), default?)),
    }
}

/// How a message's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    None,
    Length(u64),
    Chunked,
    ToEnd,
}

/// A parsed head: the first line's words and the header lines.
#[derive(Debug)]
pub struct Head {
    pub start: [String; 3],
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// Strict parse: a start line of three words (a response's reason may
    /// have spaces or be empty), `name: value` lines with a token name, no
    /// folding, no bare CR, LF or NUL anywhere.
    pub fn parse(head: &[u8], request: bool) -> Result<Head, &'static str> {
        let text = std::str::from_utf8(head).map_err(|_| "the head is not UTF-8")?;
        let text = text.strip_suffix("\r\n\r\n").ok_or("no end of head")?;
        let mut lines = text.split("\r\n");
        let first = lines.next().unwrap_or("");
        let words: Vec<&str> = if request { first.split(' ').collect() } else { first.splitn(3, ' ').chain([""]).take(3).collect() };
        let [a, b, c] = words[..] else { return Err("not an HTTP request line") };
        let mut headers = Vec::new();
        for line in std::iter::once(first).chain(lines.clone()) {
            if line.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err("a bare CR, LF or NUL in the head");
            }
        }
        for line in lines {
            if line.starts_with([' ', '\t']) {
                return Err("a folded header line");
            }
            let (name, value) = line.split_once(':').ok_or("a header line without a colon")?;
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)) {
                return Err("a bad header name");
            }
            headers.push((name.to_ascii_lowercase(), value.trim_matches([' ', '\t']).to_string()));
        }
        Ok(Head { start: [a.to_string(), b.to_string(), c.to_string()], headers })
    }

    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(n, _)| n == name).flat_map(|(_, v)| v.split(',')).map(|v| v.trim_matches([' ', '\t']))
    }

    fn has_token(&self, name: &str, token: &str) -> bool {
        self.values(name).any(|v| v.eq_ignore_ascii_case(token))
    }

    /// A request's body framing, or why the request is refused.
    pub fn request_body(&self) -> Result<Body, &'static str> {
        let te: Vec<&str> = self.values("transfer-encoding").filter(|v| !v.is_empty()).collect();
        let cl = content_length(self)?;
        if !te.is_empty() {
            if cl.is_some() {
                return Err("both Transfer-Encoding and Content-Length");
            }
            if te.len() != 1 || !te[0].eq_ignore_ascii_case("chunked") || self.start[2] == "HTTP/1.0" {
                return Err("a transfer coding other than chunked");
            }
            return Ok(Body::Chunked);
        }
        Ok(cl.map_or(Body::None, Body::Length))
    }

    /// A response's body framing (RFC 9112 6.3), for a request of `method`.
    fn response_body(&self, method: &str) -> Body {
        let status: u16 = self.start[1].parse().unwrap_or(0);
        if method.eq_ignore_ascii_case("HEAD") || (100..200).contains(&status) || status == 204 || status == 304 {
            return Body::None;
        }
        if self.headers.iter().any(|(n, _)| n == "transfer-encoding") {
            return if self.values("transfer-encoding").last().is_some_and(|v| v.eq_ignore_ascii_case("chunked")) { Body::Chunked } else { Body::ToEnd };
        }
        match content_length(self) {
            Ok(Some(n)) => Body::Length(n),
            _ => Body::ToEnd,
        }
    }
}

/// Every Content-Length value must be the same run of digits.
fn content_length(h: &Head) -> Result<Option<u64>, &'static str> {
    let mut out = None;
    for v in h.values("content-length") {
        if v.is_empty() || v.len() > 18 || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err("a bad Content-Length");
        }
        let n: u64 = v.parse().map_err(|_| "a bad Content-Length")?;
        if out.is_some_and(|o| o != n) {
            return Err("conflicting Content-Length values");
        }
        out = Some(n);
    }
    Ok(out)
}

/// Hop-by-hop headers (RFC 9110 7.6.1) and the proxy's own: not passed on.
fn hop_by_hop(name: &str, listed: &[String]) -> bool {
    matches!(name, "connection" | "keep-alive" | "proxy-connection" | "proxy-authorization" | "proxy-authenticate" | "te" | "upgrade")
        || listed.iter().any(|l| l == name && l != "transfer-encoding" && l != "content-length" && l != "host")
}

/// The open upstream connection of a client connection.
struct Upstream {
    host: String,
    port: u16,
    conn: Conn,
}

/// Serve one client connection: CONNECT once, or any number of requests.
pub fn serve(c: TcpStream, shared: &Shared) {
    let mut client = Conn::new(c);
    let mut up: Option<Upstream> = None;
    let (mut down_pump, mut up_pump) = (Pump::new(), Pump::new());
    loop {
        super::set_head_timeout(&client.s, true);
        let Some(raw) = client.head() else { return };
        let head = match Head::parse(&raw, true) {
            Ok(h) => h,
            Err(why) => return respond(&mut client.s, "400 Bad Request", None, &format!("sandboxctl proxy: {why}")),
        };
        let [method, target, version] = &head.start;
        if !version.starts_with("HTTP/1.") {
            return respond(&mut client.s, "505 HTTP Version Not Supported", None, "sandboxctl proxy: HTTP/1.x only");
        }
        if method.eq_ignore_ascii_case("CONNECT") {
            return tunnel(client, shared, target);
        }
        // Absolute form: http://host[:port]/path.
        let Some(after) = target.strip_prefix("http://").or_else(|| target.strip_prefix("HTTP://")) else {
            let why = if target.starts_with("https://") { "https URLs go through CONNECT" } else { "a proxy request needs an absolute http:// URL" };
            return respond(&mut client.s, "400 Bad Request", None, &format!("sandboxctl proxy: {why}"));
        };
        let (authority, path) = match after.find(['/', '?']) {
            Some(i) if after.as_bytes()[i] == b'/' => (&after[..i], after[i..].to_string()),
            Some(i) => (&after[..i], format!("/{}", &after[i..])),
            None => (after, "/".to_string()),
        };
        if authority.contains('@') {
            return respond(&mut client.s, "400 Bad Request", None, "sandboxctl proxy: no user information in proxy URLs");
        }
        let Some((host, port)) = split_host_port(authority, Some(80)) else {
            return respond(&mut client.s, "400 Bad Request", None, "sandboxctl proxy: bad host in the URL");
        };
        let body = match head.request_body() {
            Ok(b) => b,
            Err(why) => return respond(&mut client.s, "400 Bad Request", None, &format!("sandboxctl proxy: {why}")),
        };
        let client_close = head.has_token("connection", "close") || (version == "HTTP/1.0" && !head.has_token("connection", "keep-alive"));
        let upgrade = head.has_token("connection", "upgrade") && head.headers.iter().any(|(n, _)| n == "upgrade");
        let continue_100 = head.has_token("expect", "100-continue") && body != Body::None;
        let listed: Vec<String> = head.values("connection").map(|v| v.to_ascii_lowercase()).collect();
        // The head in origin form; Host is the URI's authority (RFC 9112 3.2.2).
        let mut out = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\n");
        for (name, value) in &head.headers {
            let ours = matches!(name.as_str(), "host" | "transfer-encoding" | "expect") || (hop_by_hop(name, &listed) && !(upgrade && name == "upgrade"));
            if !ours {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        if upgrade {
            out.push_str("Connection: upgrade\r\n");
        }
        if body == Body::Chunked {
            out.push_str("Transfer-Encoding: chunked\r\n");
        }
        out.push_str("\r\n");

        // The same host and port as the open upstream: the decision made for
        // it stands (the policy does not change while the proxy runs).
        // Anything else is dialled, which checks the policy first.
        let key = crate::net::rules::normalize(&host);
        if up.as_ref().is_some_and(|u| u.host != key || u.port != port) {
            up = None;
        }
        // `Expect: 100-continue` is answered here: the client sends its body
        // at once, and the upstream is not asked to wait.
        if continue_100 && client.s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
            return;
        }
        let mut answer = None;
        for _ in 0..2 {
            let reused = up.is_some();
            if up.is_none() {
                let Some(s) = connect(&mut client.s, shared, &host, port) else { return };
                up = Some(Upstream { host: key.clone(), port, conn: Conn::new(s) });
            }
            let u = up.as_mut().expect("dialled above");
            super::set_head_timeout(&client.s, false);
            let sent = (&u.conn.s).write_all(out.as_bytes()).and_then(|()| match body {
                Body::None | Body::ToEnd => Ok(()),
                Body::Length(n) => client.copy_n(&u.conn.s, &mut up_pump, n),
                Body::Chunked => client.copy_chunked(&u.conn.s, &mut up_pump),
            });
            let got = if sent.is_ok() { final_head(u, &mut client.s, method) } else { Err(false) };
            match got {
                Ok(a) => {
                    answer = Some(a);
                    break;
                }
                // A kept-alive upstream that closed before it read anything
                // of a body-less request: once more on a new connection
                // (the dial checks the policy again).
                Err(false) if reused && body == Body::None => up = None,
                Err(_) => return respond(&mut client.s, "502 Bad Gateway", None, "sandboxctl proxy: the upstream closed without an answer"),
            }
        }
        let Some((resp, resp_body)) = answer else { return };
        let u = up.as_mut().expect("answered");
        if resp.start[1] == "101" && upgrade {
            // A protocol switch: the connection is a tunnel from here on.
            if (&client.s).write_all(&response_head(&resp, false, true)).is_err() || (&client.s).write_all(&u.conn.buf).is_err() {
                return;
            }
            let upstream = up.take().expect("open").conn;
            if (&upstream.s).write_all(&client.buf).is_err() {
                return;
            }
            return super::relay::relay(client.s, upstream.s);
        }
        let upstream_close = resp.has_token("connection", "close") || (resp.start[0] == "HTTP/1.0" && !resp.has_token("connection", "keep-alive"));
        let close = client_close || resp_body == Body::ToEnd;
        let mut head_out = response_head(&resp, close, false);
        if !close && version == "HTTP/1.0" {
            head_out.truncate(head_out.len() - 2);
            head_out.extend_from_slice(b"Connection: keep-alive\r\n\r\n");
        }
        if (&client.s).write_all(&head_out).is_err() {
            return;
        }
        let moved = match resp_body {
            Body::None => Ok(()),
            Body::Length(n) => u.conn.copy_n(&client.s, &mut down_pump, n),
            Body::Chunked => u.conn.copy_chunked(&client.s, &mut down_pump),
            Body::ToEnd => u.conn.copy_to_end(&client.s, &mut down_pump),
        };
        if moved.is_err() || close {
            return;
        }
        // Bytes the upstream sent past its answer belong to no request.
        if upstream_close || !u.conn.buf.is_empty() {
            up = None;
        }
    }
}

/// The upstream's final answer head (1xx heads passed on to the client, a
/// 100 the proxy already sent dropped) and how its body ends. Err(false):
/// the upstream closed before it said anything; Err(true): it said
/// something that is not an HTTP answer.
fn final_head(u: &mut Upstream, client: &mut TcpStream, method: &str) -> Result<(Head, Body), bool> {
    let mut first = true;
    loop {
        let Some(raw) = u.conn.head() else { return Err(!(first && u.conn.buf.is_empty())) };
        first = false;
        let resp = Head::parse(&raw, false).map_err(|_| true)?;
        if !resp.start[0].starts_with("HTTP/1.") {
            return Err(true);
        }
        let status: u16 = resp.start[1].parse().map_err(|_| true)?;
        if (100..200).contains(&status) && status != 101 {
            if status != 100 && client.write_all(&raw).is_err() {
                return Err(true);
            }
            continue;
        }
        let body = resp.response_body(method);
        return Ok((resp, body));
    }
}

/// The response head for the client: hop-by-hop headers dropped, and
/// `Connection: close` when this connection ends after it.
fn response_head(resp: &Head, close: bool, upgrade: bool) -> Vec<u8> {
    let listed: Vec<String> = resp.values("connection").map(|v| v.to_ascii_lowercase()).collect();
    let [v, status, reason] = &resp.start;
    let mut out = format!("{v} {status} {reason}\r\n");
    for (name, value) in &resp.headers {
        if !hop_by_hop(name, &listed) || (upgrade && name == "upgrade") {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    out.push_str(if upgrade {
        "Connection: upgrade\r\n"
    } else if close {
        "Connection: close\r\n"
    } else {
        ""
    });
    out.push_str("\r\n");
    out.into_bytes()
}

/// `CONNECT host:port`: check, dial, then a tunnel to the end.
fn tunnel(mut client: Conn, shared: &Shared, target: &str) {
    let Some((host, port)) = split_host_port(target, None) else {
        return respond(&mut client.s, "400 Bad Request", None, "sandboxctl proxy: CONNECT needs host:port");
    };
    let Some(up) = connect(&mut client.s, shared, &host, port) else { return };
    super::set_head_timeout(&client.s, false);
    if client.s.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").is_err() {
        return;
    }
    if !client.buf.is_empty() && (&up).write_all(&client.buf).is_err() {
        return;
    }
    super::relay::relay(client.s, up)
}

/// Dial, or answer the client why not.
fn connect(c: &mut TcpStream, shared: &Shared, host: &str, port: u16) -> Option<TcpStream> {
    match dial(shared, host, port) {
        Ok(up) => Some(up),
        Err(DialError::Refused { rule, reason }) => {
            shared.denied("http", host, port, rule, &reason);
            respond(
                c,
                "403 Forbidden",
                Some("blocked-by-sandboxctl"),
                &format!("sandboxctl: connection to {host}:{port} blocked by the network policy: {reason}"),
            );
            None
        }
        Err(DialError::Failed { reason, .. }) => {
            respond(c, "502 Bad Gateway", None, &format!("sandboxctl proxy: {reason}"));
            None
        }
    }
}
