//! The SOCKS5 proxy (RFC 1928): no authentication, CONNECT only, addresses
//! as a name, IPv4 or IPv6; UDP ASSOCIATE and BIND are refused (reply 7).

use super::dial::{dial, DialError};
use super::Shared;
use std::io::{Read, Write};
use std::net::TcpStream;

fn reply(c: &mut TcpStream, code: u8) {
    let _ = c.write_all(&[5, code, 0, 1, 0, 0, 0, 0, 0, 0]);
}

/// Serve one client connection.
pub fn serve(mut c: TcpStream, shared: &Shared) {
    super::set_head_timeout(&c, true);
    let mut hello = [0u8; 2];
    if c.read_exact(&mut hello).is_err() || hello[0] != 5 {
        return;
    }
    let mut methods = vec![0u8; hello[1] as usize];
    if c.read_exact(&mut methods).is_err() {
        return;
    }
    if !methods.contains(&0) {
        let _ = c.write_all(&[5, 0xff]);
        return;
    }
    if c.write_all(&[5, 0]).is_err() {
        return;
    }
    let mut req = [0u8; 4];
    if c.read_exact(&mut req).is_err() || req[0] != 5 {
        return;
    }
    let host = match req[3] {
        1 => {
            let mut a = [0u8; 4];
            if c.read_exact(&mut a).is_err() {
                return;
            }
            std::net::Ipv4Addr::from(a).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            if c.read_exact(&mut len).is_err() {
                return;
            }
            let mut name = vec![0u8; len[0] as usize];
            if c.read_exact(&mut name).is_err() {
                return;
            }
            match String::from_utf8(name) {
                Ok(n) => n,
                Err(_) => return reply(&mut c, 1),
            }
        }
        4 => {
            let mut a = [0u8; 16];
            if c.read_exact(&mut a).is_err() {
                return;
            }
            format!("[{}]", std::net::Ipv6Addr::from(a))
        }
        _ => return reply(&mut c, 8),
    };
    let mut port = [0u8; 2];
    if c.read_exact(&mut port).is_err() {
        return;
    }
    let port = u16::from_be_bytes(port);
    if req[1] != 1 {
        // BIND and UDP ASSOCIATE: not offered (the sandbox has no UDP out).
        return reply(&mut c, 7);
    }
    match dial(shared, &host, port) {
        Ok(up) => {
            super::set_head_timeout(&c, false);
            reply(&mut c, 0);
            super::relay::relay(c, up)
        }
        Err(DialError::Refused { rule, reason }) => {
            shared.denied("socks", &host, port, rule, &reason);
            reply(&mut c, 2)
        }
        Err(DialError::Failed { refused, .. }) => reply(&mut c, if refused { 5 } else { 4 }),
    }
}
