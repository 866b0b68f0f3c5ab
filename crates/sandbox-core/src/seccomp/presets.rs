//! The preset rules as data: one entry per syscall (or per alternative
//! argument match), each with the list it belongs to, the answer, the reason
//! and the source it comes from. The lists and their names are hakurei's
//! (container/seccomp/presets.go); `strict` is its ext|deny-ns|deny-tty|
//! deny-devel set, its socket-family filter, and our own additions.
//!
//! Names are resolved per architecture when a filter is compiled; a name the
//! architecture lacks (open, chown and modify_ldt on aarch64, the *32 and
//! *64 variants on both 64-bit targets) is simply not there to block.
//! `tests::preset_names_absent_per_arch` pins which ones.

use crate::plan::{ArgCondition, CmpOp, RuleAction};

/// hakurei's list names, plus our own additions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    /// Kernel interfaces no sandboxed program needs (hakurei `always`).
    Always,
    /// Clock, modules, kexec, reboot, swap (hakurei `ext`).
    Ext,
    /// No new namespaces, mounts or identities (hakurei `deny-ns`, and
    /// `deny-ns + ext` for the set*id/chown family).
    DenyNs,
    /// No terminal input injection (hakurei `deny-tty`); also forced on by
    /// `keep_session`, whatever the preset.
    DenyTty,
    /// No tracing or profiling (hakurei `deny-devel`).
    DenyDevel,
    /// Legacy-ABI calls, refused unless the plan sets `multiarch` (hakurei's
    /// "unless multiarch" rules).
    NoMultiarch,
    /// Socket families other than unspec, local, inet, inet6 and netlink
    /// (hakurei, always on).
    Socket,
    /// sandboxctl's additions to the strict set.
    Extra,
}

impl List {
    pub fn name(self) -> &'static str {
        match self {
            List::Always => "always",
            List::Ext => "ext",
            List::DenyNs => "deny-ns",
            List::DenyTty => "deny-tty",
            List::DenyDevel => "deny-devel",
            List::NoMultiarch => "unless-multiarch",
            List::Socket => "socket",
            List::Extra => "sandboxctl",
        }
    }
}

/// One preset rule. Several entries for one syscall are alternatives (any
/// match applies); the conditions of one entry must all hold.
#[derive(Debug, Clone, Copy)]
pub struct PresetRule {
    pub list: List,
    pub syscall: &'static str,
    pub args: &'static [ArgCondition],
    pub action: RuleAction,
    pub reason: &'static str,
    /// Where the rule comes from: hakurei's list name, a CVE, a peer.
    pub source: &'static str,
}

const EPERM: RuleAction = RuleAction::Errno(libc::EPERM as u16);
const ENOSYS: RuleAction = RuleAction::Errno(libc::ENOSYS as u16);
const EAFNOSUPPORT: RuleAction = RuleAction::Errno(libc::EAFNOSUPPORT as u16);

// Values shared by x86_64 and aarch64 (asm-generic/ioctls.h, linux/socket.h,
// linux/sched.h); `tests::constants_match_libc` checks them on the host.
pub(super) const TIOCSTI: u64 = 0x5412;
pub(super) const TIOCLINUX: u64 = 0x541c;
pub(super) const CLONE_NEWUSER: u64 = 0x1000_0000;
const PER_LINUX: u64 = 0;
const PERSONALITY_QUERY: u64 = 0xffff_ffff;
const AF_UNSPEC: u64 = 0;
const AF_UNIX: u64 = 1;
const AF_INET: u64 = 2;
const AF_INET6: u64 = 10;
const AF_NETLINK: u64 = 16;

/// `(arg & 0xffffffff) op value`: the kernel reads these arguments as
/// `unsigned int`, so the high half is ignored (CVE-2019-10063: flatpak
/// compared all 64 bits of ioctl's request and TIOCSTI|1<<32 got through).
const fn low32(index: u8, op: CmpOp, value: u64) -> ArgCondition {
    ArgCondition { index, op, value, mask: None, low32: true }
}

const fn rule(list: List, syscall: &'static str, action: RuleAction, reason: &'static str, source: &'static str) -> PresetRule {
    PresetRule { list, syscall, args: &[], action, reason, source }
}

const fn always(syscall: &'static str, reason: &'static str) -> PresetRule {
    rule(List::Always, syscall, EPERM, reason, "hakurei always")
}

const fn ext(syscall: &'static str, reason: &'static str) -> PresetRule {
    rule(List::Ext, syscall, EPERM, reason, "hakurei ext")
}

const fn deny_ns(syscall: &'static str, reason: &'static str) -> PresetRule {
    rule(List::DenyNs, syscall, EPERM, reason, "hakurei deny-ns")
}

const fn id_change(syscall: &'static str) -> PresetRule {
    rule(List::DenyNs, syscall, EPERM, "identity and ownership changes: the sandbox has one uid and gid", "hakurei deny-ns + ext")
}

const fn absent(syscall: &'static str) -> PresetRule {
    rule(
        List::DenyNs,
        syscall,
        ENOSYS,
        "a filter cannot read the struct or the path this call takes, so it must look absent and libc falls back to calls whose flags the filter sees",
        "hakurei deny-ns; CVE-2021-41133 (flatpak)",
    )
}

const fn extra(syscall: &'static str, reason: &'static str, source: &'static str) -> PresetRule {
    rule(List::Extra, syscall, EPERM, reason, source)
}

/// Every preset rule, in filter order. `strict` uses all of them (the
/// `NoMultiarch` ones unless multiarch); `none` uses only `DenyTty`, and only
/// when the session is kept.
pub static RULES: &[PresetRule] = &[
    always("syslog", "the kernel log leaks addresses and host activity"),
    always("uselib", "obsolete a.out loader interface"),
    always("acct", "process accounting is host-wide"),
    always("quotactl", "disk quotas are host-wide"),
    always("add_key", "the kernel keyring is not namespaced"),
    always("keyctl", "the kernel keyring is not namespaced"),
    always("request_key", "the kernel keyring is not namespaced"),
    always("move_pages", "NUMA placement of other processes' pages"),
    always("mbind", "NUMA placement"),
    always("get_mempolicy", "NUMA placement"),
    always("set_mempolicy", "NUMA placement"),
    always("migrate_pages", "NUMA placement of other processes' pages"),
    ext("adjtimex", "the system clock is host-wide"),
    ext("clock_adjtime", "the system clock is host-wide"),
    ext("clock_adjtime64", "the system clock is host-wide"),
    ext("clock_settime", "the system clock is host-wide"),
    ext("clock_settime64", "the system clock is host-wide"),
    ext("settimeofday", "the system clock is host-wide"),
    ext("delete_module", "kernel modules"),
    ext("finit_module", "kernel modules"),
    ext("init_module", "kernel modules"),
    ext("kexec_file_load", "kexec replaces the running kernel"),
    ext("kexec_load", "kexec replaces the running kernel"),
    ext("reboot", "reboot"),
    ext("swapoff", "swap is host-wide"),
    ext("swapon", "swap is host-wide"),
    deny_ns("unshare", "new namespaces: the kernel attack surface of a fresh user namespace"),
    deny_ns("setns", "joining other namespaces"),
    deny_ns("mount", "mounts: the mount table is fixed once the program runs"),
    deny_ns("umount", "mounts: the mount table is fixed once the program runs"),
    deny_ns("umount2", "mounts: the mount table is fixed once the program runs"),
    deny_ns("pivot_root", "mounts: the mount table is fixed once the program runs"),
    deny_ns("chroot", "chroot"),
    PresetRule {
        list: List::DenyNs,
        syscall: "clone",
        args: &[ArgCondition { index: 0, op: CmpOp::MaskedEq, value: CLONE_NEWUSER, mask: Some(CLONE_NEWUSER), low32: false }],
        action: EPERM,
        reason: "clone with CLONE_NEWUSER: a new user namespace",
        source: "hakurei deny-ns",
    },
    absent("clone3"),
    absent("open_tree"),
    absent("move_mount"),
    absent("fsopen"),
    absent("fsconfig"),
    absent("fsmount"),
    absent("fspick"),
    absent("mount_setattr"),
    id_change("setuid"),
    id_change("setuid32"),
    id_change("setgid"),
    id_change("setgid32"),
    id_change("setreuid"),
    id_change("setreuid32"),
    id_change("setregid"),
    id_change("setregid32"),
    id_change("setresuid"),
    id_change("setresuid32"),
    id_change("setresgid"),
    id_change("setresgid32"),
    id_change("setfsuid"),
    id_change("setfsuid32"),
    id_change("setfsgid"),
    id_change("setfsgid32"),
    id_change("setgroups"),
    id_change("setgroups32"),
    id_change("chown"),
    id_change("chown32"),
    id_change("fchown"),
    id_change("fchown32"),
    id_change("fchownat"),
    id_change("lchown"),
    id_change("lchown32"),
    PresetRule {
        list: List::DenyTty,
        syscall: "ioctl",
        args: &[low32(1, CmpOp::Eq, TIOCSTI)],
        action: EPERM,
        reason: "TIOCSTI pushes input into the terminal, to be run by the caller's shell",
        source: "hakurei deny-tty; CVE-2017-5226 (bubblewrap), CVE-2019-10063 (high bits)",
    },
    PresetRule {
        list: List::DenyTty,
        syscall: "ioctl",
        args: &[low32(1, CmpOp::Eq, TIOCLINUX)],
        action: EPERM,
        reason: "TIOCLINUX can paste the console selection as input",
        source: "hakurei deny-tty; CVE-2023-28100 (flatpak)",
    },
    rule(List::DenyDevel, "perf_event_open", EPERM, "performance counters leak across processes", "hakurei deny-devel"),
    rule(List::DenyDevel, "ptrace", EPERM, "tracing other processes", "hakurei deny-devel"),
    PresetRule {
        list: List::DenyDevel,
        syscall: "personality",
        args: &[low32(0, CmpOp::Ne, PER_LINUX), low32(0, CmpOp::Ne, PERSONALITY_QUERY)],
        action: EPERM,
        reason: "execution domains other than PER_LINUX (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE); the query stays allowed",
        source: "hakurei deny-devel",
    },
    rule(List::NoMultiarch, "modify_ldt", EPERM, "16-bit segments: legacy code only", "hakurei (unless multiarch)"),
    rule(List::NoMultiarch, "subpage_prot", EPERM, "legacy ABI (powerpc)", "hakurei ext (unless multiarch)"),
    rule(List::NoMultiarch, "switch_endian", EPERM, "legacy ABI (powerpc)", "hakurei ext (unless multiarch)"),
    rule(List::NoMultiarch, "vm86", EPERM, "virtual 8086 mode (i386)", "hakurei ext (unless multiarch)"),
    rule(List::NoMultiarch, "vm86old", EPERM, "virtual 8086 mode (i386)", "hakurei ext (unless multiarch)"),
    PresetRule {
        list: List::Socket,
        syscall: "socket",
        args: &[
            low32(0, CmpOp::Ne, AF_UNSPEC),
            low32(0, CmpOp::Ne, AF_UNIX),
            low32(0, CmpOp::Ne, AF_INET),
            low32(0, CmpOp::Ne, AF_INET6),
            low32(0, CmpOp::Ne, AF_NETLINK),
        ],
        action: EAFNOSUPPORT,
        reason: "uncommon socket families carry most of the network stack's bugs",
        source: "hakurei socket-family filter",
    },
    extra(
        "io_uring_setup",
        "io_uring runs operations without syscalls the filter could see, and is a rich source of kernel exploits",
        "moby default profile (25.0); Google kCTF: most 2022 submissions were io_uring (CVE-2022-29582, CVE-2023-2598)",
    ),
    extra("io_uring_enter", "io_uring: see io_uring_setup", "moby default profile (25.0)"),
    extra("io_uring_register", "io_uring: see io_uring_setup", "moby default profile (25.0)"),
    extra(
        "process_vm_readv",
        "reads another process's memory: ptrace without ptrace, which deny-devel blocks",
        "moby default profile (needs CAP_SYS_PTRACE there)",
    ),
    extra(
        "process_vm_writev",
        "writes another process's memory: ptrace without ptrace, which deny-devel blocks",
        "moby default profile (needs CAP_SYS_PTRACE there)",
    ),
    extra(
        "userfaultfd",
        "stalls kernel page faults at will, the usual way to win kernel race conditions",
        "moby default profile; vm.unprivileged_userfaultfd (Linux 5.2) exists for this reason",
    ),
    extra(
        "bpf",
        "eBPF verifier bugs give kernel code execution",
        "moby default profile; CVE-2021-3490, CVE-2021-31440; kernel.unprivileged_bpf_disabled",
    ),
];
