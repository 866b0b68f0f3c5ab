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
    /// No new namespaces or mounts (hakurei `deny-ns`). hakurei's set*id and
    /// chown rules are left out on purpose: see [`RULES`].
    DenyNs,
    /// No terminal input injection (hakurei `deny-tty`) and none of the line
    /// discipline and console ioctls that change a terminal for whoever uses
    /// it next; also forced on by `keep_session`, whatever the preset.
    DenyTty,
    /// No tracing or profiling (hakurei `deny-devel`).
    DenyDevel,
    /// Legacy-ABI calls, refused unless the plan sets `multiarch` (hakurei's
    /// "unless multiarch" rules).
    NoMultiarch,
    /// Socket families other than unspec, local, inet, inet6 and netlink
    /// (hakurei, always on).
    Socket,
    /// No set-uid or set-gid bit and no file capability can be created: the
    /// mounts' nosuid holds only inside, and a file left in a bind of the
    /// host would keep its bits there (sandboxctl's own list).
    NoSuid,
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
            List::NoSuid => "no-suid",
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
const EOPNOTSUPP: RuleAction = RuleAction::Errno(libc::EOPNOTSUPP as u16);

// Values shared by x86_64 and aarch64 (asm-generic/ioctls.h, linux/socket.h,
// linux/sched.h); `tests::constants_match_libc` checks them on the host.
pub(super) const TIOCSTI: u64 = 0x5412;
pub(super) const TIOCLINUX: u64 = 0x541c;
pub(super) const TIOCCONS: u64 = 0x541d;
pub(super) const TIOCSETD: u64 = 0x5423;
pub(super) const TIOCVHANGUP: u64 = 0x5437;
pub(super) const TIOCSLCKTRMIOS: u64 = 0x5457;
/// linux/kd.h: every console ioctl is `0x4Bxx` ('K', no direction bits).
pub(super) const KD_FIRST: u64 = 0x4b00;
pub(super) const KD_LAST: u64 = 0x4bff;
/// linux/vt.h: every virtual-terminal ioctl is `0x56xx` ('V').
pub(super) const VT_FIRST: u64 = 0x5600;
pub(super) const VT_LAST: u64 = 0x56ff;
pub(super) const S_ISUID: u64 = 0o4000;
pub(super) const S_ISGID: u64 = 0o2000;
pub(super) const O_CREAT: u64 = 0o100;
/// `__O_TMPFILE` (O_TMPFILE is this | O_DIRECTORY): an unnamed file, made
/// visible later by linkat, created with the mode argument as O_CREAT is.
pub(super) const O_TMPFILE_BIT: u64 = 0o20_000_000;
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

/// `(arg & bit) == bit`, on the low 32 bits the kernel reads (mode_t, int flags).
const fn has(index: u8, bit: u64) -> ArgCondition {
    ArgCondition { index, op: CmpOp::MaskedEq, value: bit, mask: Some(bit), low32: true }
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

const fn absent(syscall: &'static str) -> PresetRule {
    rule(
        List::DenyNs,
        syscall,
        ENOSYS,
        "a filter cannot read the struct or the path this call takes, so it must look absent and libc falls back to calls whose flags the filter sees",
        "hakurei deny-ns; CVE-2021-41133 (flatpak)",
    )
}

const NO_SUID_SOURCE: &str = "sandboxctl; issue 8: a set-uid-root binary left in the project by a root caller";
const SUID_REASON: &str = "a set-uid or set-gid bit: nosuid holds only inside, the file keeps its bit on the host";

/// One no-suid rule: EPERM when every condition holds. Written out one
/// alternative per line in [`RULES`]: a set-uid bit and a set-gid bit, and for
/// the open calls each with O_CREAT and with O_TMPFILE (without either, the
/// mode argument means nothing: glibc passes 0, other callers anything).
macro_rules! no_suid {
    ($syscall:literal, $($cond:expr),+) => {
        PresetRule { list: List::NoSuid, syscall: $syscall, args: &[$($cond),+], action: EPERM, reason: SUID_REASON, source: NO_SUID_SOURCE }
    };
}

/// One refused terminal ioctl request, high bits ignored.
macro_rules! tty {
    ($request:expr, $reason:literal, $source:literal) => {
        PresetRule { list: List::DenyTty, syscall: "ioctl", args: &[low32(1, CmpOp::Eq, $request)], action: EPERM, reason: $reason, source: $source }
    };
}

const fn no_xattr(syscall: &'static str) -> PresetRule {
    rule(
        List::NoSuid,
        syscall,
        EOPNOTSUPP,
        "a filter cannot read the attribute name, and security.capability set by a root caller is a file capability on the host; EOPNOTSUPP is what a file system without xattrs answers",
        NO_SUID_SOURCE,
    )
}

const fn extra(syscall: &'static str, reason: &'static str, source: &'static str) -> PresetRule {
    rule(List::Extra, syscall, EPERM, reason, source)
}

/// Every preset rule, in filter order. `strict` uses all of them (the
/// `NoMultiarch` ones unless multiarch); `none` uses only `DenyTty`, and only
/// when the session is kept.
///
/// Left out of hakurei's lists on purpose, because the user namespace already
/// makes them harmless and ordinary programs make them: every set*id and
/// setgroups call and the chown family (one uid and one gid are mapped and
/// the program holds no capability, so the kernel refuses any real change
/// with EINVAL or EPERM, and a no-op such as GNU make's `posix_spawn` with
/// POSIX_SPAWN_RESETIDS, `setgid(getgid())` or `cp -a` as root succeeds, as
/// on the host); `get_mempolicy`, a read of the caller's own NUMA policy
/// (libnuma's `numa_available`). prctl is not filtered at all.
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
    absent("open_tree_attr"),
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
    tty!(
        TIOCSETD,
        "TIOCSETD changes the line discipline, and it stays changed for the caller's terminal after the sandbox",
        "sandboxctl (deny-tty family); issue 8: a null line discipline left on the caller's terminal"
    ),
    tty!(TIOCCONS, "TIOCCONS redirects console output to this terminal", "sandboxctl (deny-tty family); the kernel also wants CAP_SYS_ADMIN for it"),
    tty!(TIOCVHANGUP, "TIOCVHANGUP hangs up the terminal for every process using it", "sandboxctl (deny-tty family)"),
    tty!(TIOCSLCKTRMIOS, "TIOCSLCKTRMIOS locks the terminal's settings for every later user", "sandboxctl (deny-tty family)"),
    PresetRule {
        list: List::DenyTty,
        syscall: "ioctl",
        args: &[low32(1, CmpOp::Ge, KD_FIRST), low32(1, CmpOp::Le, KD_LAST)],
        action: EPERM,
        reason: "console ioctls (linux/kd.h): keymaps and function-key strings (KDSKBENT, KDSKBSENT) outlive the program and type for the next user",
        source: "sandboxctl (deny-tty family); the loadkeys string-injection trick",
    },
    PresetRule {
        list: List::DenyTty,
        syscall: "ioctl",
        args: &[low32(1, CmpOp::Ge, VT_FIRST), low32(1, CmpOp::Le, VT_LAST)],
        action: EPERM,
        reason: "virtual-terminal ioctls (linux/vt.h): switching and locking the host's consoles",
        source: "sandboxctl (deny-tty family)",
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
    no_suid!("chmod", has(1, S_ISUID)),
    no_suid!("chmod", has(1, S_ISGID)),
    no_suid!("fchmod", has(1, S_ISUID)),
    no_suid!("fchmod", has(1, S_ISGID)),
    no_suid!("fchmodat", has(2, S_ISUID)),
    no_suid!("fchmodat", has(2, S_ISGID)),
    no_suid!("fchmodat2", has(2, S_ISUID)),
    no_suid!("fchmodat2", has(2, S_ISGID)),
    no_suid!("creat", has(1, S_ISUID)),
    no_suid!("creat", has(1, S_ISGID)),
    no_suid!("open", has(1, O_CREAT), has(2, S_ISUID)),
    no_suid!("open", has(1, O_CREAT), has(2, S_ISGID)),
    no_suid!("open", has(1, O_TMPFILE_BIT), has(2, S_ISUID)),
    no_suid!("open", has(1, O_TMPFILE_BIT), has(2, S_ISGID)),
    no_suid!("openat", has(2, O_CREAT), has(3, S_ISUID)),
    no_suid!("openat", has(2, O_CREAT), has(3, S_ISGID)),
    no_suid!("openat", has(2, O_TMPFILE_BIT), has(3, S_ISUID)),
    no_suid!("openat", has(2, O_TMPFILE_BIT), has(3, S_ISGID)),
    // Not mkdir/mkdirat: the kernel drops S_ISUID and S_ISGID from their mode
    // (vfs_mkdir keeps rwx and the sticky bit; a set-gid directory only
    // inherits the bit from its parent), and `cp -r` of a set-gid directory
    // passes its mode to mkdir. mknod makes regular files too (S_IFREG), with
    // the mode as given.
    no_suid!("mknod", has(1, S_ISUID)),
    no_suid!("mknod", has(1, S_ISGID)),
    no_suid!("mknodat", has(2, S_ISUID)),
    no_suid!("mknodat", has(2, S_ISGID)),
    rule(
        List::NoSuid,
        "openat2",
        ENOSYS,
        "its mode and flags are in a struct the filter cannot read: it must look absent, and libc and callers fall back to openat",
        "sandboxctl; the CVE-2021-41133 reasoning (flatpak) applied to openat2",
    ),
    no_xattr("setxattr"),
    no_xattr("lsetxattr"),
    no_xattr("fsetxattr"),
    no_xattr("setxattrat"),
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
    extra("bpf", "eBPF verifier bugs give kernel code execution", "moby default profile; CVE-2021-3490, CVE-2021-31440; kernel.unprivileged_bpf_disabled"),
];
