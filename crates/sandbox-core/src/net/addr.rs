//! The resolved-address check (DNS rebinding): an allowed *name* may still
//! resolve to an address the sandbox must not reach through the proxy (the
//! host's own services, cloud metadata). srt 0.0.78's classes; IPv6 forms
//! that embed an IPv4 address (mapped, compatible, NAT64, 6to4) are judged
//! by that address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Metadata endpoints outside the link-local range (169.254.169.254 and
/// 169.254.170.2 are refused as link-local already).
const METADATA_V4: &[Ipv4Addr] = &[
    Ipv4Addr::new(100, 100, 100, 200), // Alibaba Cloud
    Ipv4Addr::new(168, 63, 129, 16),   // Azure wireserver
    Ipv4Addr::new(192, 0, 0, 192),     // Oracle Cloud
];

/// An IPv6 address that carries an IPv4 one, as that IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => embedded_v4(v6).map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let o = v6.octets();
    let tail = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    // ::a.b.c.d (deprecated IPv4-compatible), but not :: and ::1 themselves.
    if s[..6].iter().all(|&x| x == 0) && u32::from(tail) > 1 {
        return Some(tail);
    }
    // NAT64 well-known prefix 64:ff9b::/96 and the local-use 64:ff9b:1::/48.
    if s[0] == 0x64 && s[1] == 0xff9b && (s[2..6].iter().all(|&x| x == 0) || s[2] == 1) {
        return Some(tail);
    }
    // 6to4: 2002:AABB:CCDD::/48.
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

/// Why the proxy must not dial `ip`, if it must not. `host` are the
/// addresses of the host's own interfaces.
pub fn refused(ip: IpAddr, host: &[IpAddr]) -> Option<&'static str> {
    let ip = canonical(ip);
    let class = class(ip);
    if class.is_none() && host.iter().any(|h| canonical(*h) == ip) {
        return Some("an address of this host");
    }
    class
}

/// The refused class of an address (the embedded IPv4 one already taken out).
fn class(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4 == Ipv4Addr::new(169, 254, 169, 254) || METADATA_V4.contains(&v4) {
                Some("a cloud metadata endpoint")
            } else if o[0] == 0 {
                Some("unspecified")
            } else if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if v4.is_multicast() {
                Some("multicast")
            } else if v4.is_broadcast() {
                Some("broadcast")
            } else if o[0] >= 240 {
                Some("reserved")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if s[0] == 0xfd00 && s[1] == 0x0ec2 {
                Some("a cloud metadata endpoint")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.is_loopback() {
                Some("loopback")
            } else if s[0] & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if s[0] & 0xffc0 == 0xfec0 {
                Some("site-local")
            } else if v6.is_multicast() {
                Some("multicast")
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn refused_classes() {
        let table: &[(&str, &str)] = &[
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("169.254.1.1", "link-local"),
            ("169.254.169.254", "a cloud metadata endpoint"),
            ("169.254.170.2", "link-local"),
            ("100.100.100.200", "a cloud metadata endpoint"),
            ("168.63.129.16", "a cloud metadata endpoint"),
            ("192.0.0.192", "a cloud metadata endpoint"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("fd00:ec2::254", "a cloud metadata endpoint"),
            ("fd00:ec2::1", "a cloud metadata endpoint"),
            // Embedded IPv4 forms, judged by the IPv4 address.
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "a cloud metadata endpoint"),
            ("::127.0.0.1", "loopback"),
            ("::a9fe:a9fe", "a cloud metadata endpoint"),
            ("64:ff9b::7f00:1", "loopback"),
            ("64:ff9b:1::a9fe:a9fe", "a cloud metadata endpoint"),
            ("2002:7f00:1::", "loopback"),
            ("2002:a9fe:a9fe::1", "a cloud metadata endpoint"),
            ("::ffff:0.0.0.0", "unspecified"),
        ];
        for (a, why) in table {
            assert_eq!(refused(ip(a), &[]), Some(*why), "{a}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for a in
            ["93.184.216.34", "10.0.0.1", "192.168.1.1", "172.16.0.1", "2606:2800:220:1::1", "::ffff:93.184.216.34", "64:ff9b::5db8:d822", "2002:5db8:d822::1"]
        {
            assert_eq!(refused(ip(a), &[]), None, "{a}");
        }
    }

    #[test]
    fn the_hosts_own_addresses_are_refused_in_every_form() {
        let host = [ip("10.0.0.5"), ip("2001:db8::5")];
        assert_eq!(refused(ip("10.0.0.5"), &host), Some("an address of this host"));
        assert_eq!(refused(ip("::ffff:10.0.0.5"), &host), Some("an address of this host"));
        assert_eq!(refused(ip("2002:0a00:0005::"), &host), Some("an address of this host"));
        assert_eq!(refused(ip("2001:db8::5"), &host), Some("an address of this host"));
        assert_eq!(refused(ip("10.0.0.6"), &host), None);
        // A host address in a class is named by its class (127.0.0.1 is on lo).
        assert_eq!(refused(ip("127.0.0.1"), &[ip("127.0.0.1")]), Some("loopback"));
    }
}
