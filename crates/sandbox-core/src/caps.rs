//! Capability names (capabilities(7)) and the set kept inside the sandbox:
//! none by default; `capAdd` keeps named ones inside the user namespace, as
//! bubblewrap's --cap-add, `capDrop` removes them again.

use crate::plan::Plan;

pub const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// `CAP_NET_ADMIN`, `net_admin` or `ALL` → the bits it names.
pub fn parse(name: &str) -> Option<u64> {
    let up = name.to_ascii_uppercase();
    if up == "ALL" {
        return Some((1u64 << NAMES.len()) - 1);
    }
    let full = if up.starts_with("CAP_") { up } else { format!("CAP_{up}") };
    NAMES.iter().position(|n| *n == full).map(|i| 1u64 << i)
}

/// The capabilities the program keeps (already validated names).
pub fn kept(plan: &Plan) -> u64 {
    let add = plan.cap_add.iter().filter_map(|n| parse(n)).fold(0, |a, b| a | b);
    let drop = plan.cap_drop.iter().filter_map(|n| parse(n)).fold(0, |a, b| a | b);
    add & !drop
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_all() {
        assert_eq!(parse("CAP_NET_ADMIN"), Some(1 << 12));
        assert_eq!(parse("net_raw"), Some(1 << 13));
        assert_eq!(parse("ALL").unwrap().count_ones(), 41);
        assert_eq!(parse("CAP_NOPE"), None);
        let mut p = Plan::new(vec!["x".into()]);
        p.cap_add = vec!["ALL".into()];
        p.cap_drop = vec!["CAP_SYS_ADMIN".into()];
        assert_eq!(kept(&p), parse("ALL").unwrap() & !(1 << 21));
    }
}
