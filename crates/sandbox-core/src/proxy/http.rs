//! The HTTP proxy: `CONNECT host:port` tunnels, and absolute-form requests
//! (`GET http://host/path HTTP/1.1`) forwarded in origin form with
//! `Connection: close` (one request per upstream connection; clients open
//! a new one, as they do when a server closes).

use super::dial::{dial, DialError};
use super::Shared;
use std::io::{Read, Write};
use std::net::TcpStream;

/// Largest request head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// The request head and whatever of the body came with it.
fn read_head(c: &mut TcpStream) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = c.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        let from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf[from..].windows(4).position(|w| w == b"\r\n\r\n") {
            let end = from + i + 4;
            let rest = buf.split_off(end);
            return Some((buf, rest));
        }
        if buf.len() > MAX_HEAD {
            return None;
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

/// Serve one client connection.
pub fn serve(mut c: TcpStream, shared: &Shared) {
    super::set_head_timeout(&c, true);
    let Some((head, rest)) = read_head(&mut c) else { return };
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let request = lines.next().unwrap_or("");
    let mut parts = request.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return respond(&mut c, "400 Bad Request", None, "sandboxctl proxy: not an HTTP request");
    };
    if !version.starts_with("HTTP/1.") {
        return respond(&mut c, "505 HTTP Version Not Supported", None, "sandboxctl proxy: HTTP/1.x only");
    }
    if method.eq_ignore_ascii_case("CONNECT") {
        let Some((host, port)) = split_host_port(target, None) else {
            return respond(&mut c, "400 Bad Request", None, "sandboxctl proxy: CONNECT needs host:port");
        };
        let Some(up) = connect(&mut c, shared, &host, port) else { return };
        super::set_head_timeout(&c, false);
        if c.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").is_err() {
            return;
        }
        let mut upw = &up;
        if !rest.is_empty() && upw.write_all(&rest).is_err() {
            return;
        }
        return super::relay::relay(c, up);
    }
    // Absolute form: http://host[:port]/path.
    let Some(after) = target.strip_prefix("http://").or_else(|| target.strip_prefix("HTTP://")) else {
        let why = if target.starts_with("https://") { "https URLs go through CONNECT" } else { "a proxy request needs an absolute http:// URL" };
        return respond(&mut c, "400 Bad Request", None, &format!("sandboxctl proxy: {why}"));
    };
    let (authority, path) = match after.find(['/', '?']) {
        Some(i) if after.as_bytes()[i] == b'/' => (&after[..i], after[i..].to_string()),
        Some(i) => (&after[..i], format!("/{}", &after[i..])),
        None => (after, "/".to_string()),
    };
    if authority.contains('@') {
        return respond(&mut c, "400 Bad Request", None, "sandboxctl proxy: no user information in proxy URLs");
    }
    let Some((host, port)) = split_host_port(authority, Some(80)) else {
        return respond(&mut c, "400 Bad Request", None, "sandboxctl proxy: bad host in the URL");
    };
    let Some(up) = connect(&mut c, shared, &host, port) else { return };
    super::set_head_timeout(&c, false);
    // The head in origin form; hop-by-hop proxy headers dropped; one request.
    let mut out = format!("{method} {path} {version}\r\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let name = line.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
        if matches!(name.as_str(), "proxy-connection" | "proxy-authorization" | "connection" | "keep-alive") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut upw = &up;
    if upw.write_all(out.as_bytes()).is_err() || (!rest.is_empty() && upw.write_all(&rest).is_err()) {
        return respond(&mut c, "502 Bad Gateway", None, "sandboxctl proxy: the upstream closed");
    }
    super::relay::relay(c, up)
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
