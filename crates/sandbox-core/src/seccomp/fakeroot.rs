//! `--fakeroot` as data: ch-run's `--seccomp` root emulation (charliecloud
//! ch_core.c `seccomp_install`, doc/ch-image.rst "Root emulation mode
//! seccomp"). Each call answers "errno 0", which the kernel hands back as
//! a successful return without running the call: ownership changes, id
//! changes, capability sets and kexec_load pretend to work, so a package
//! manager that insists on them (dpkg's chown, apt's setgroups/setuid to
//! `_apt`) runs in an unprivileged image. `mknod`/`mknodat` pretend only
//! for character and block devices (the mode's `S_IFMT` bits): a FIFO or a
//! socket is still really made. Names an architecture lacks (the `*32`
//! variants, `chown` and `mknod` on aarch64) are skipped when compiled.
//!
//! The lie is inconsistent on purpose, as ch-run's: `getuid` after a faked
//! `setuid` still answers the real id.

use crate::plan::{ArgCondition, CmpOp};

/// Calls faked unconditionally.
pub const ALWAYS: &[&str] = &[
    "capset",
    "chown",
    "chown32",
    "fchown",
    "fchown32",
    "fchownat",
    "lchown",
    "lchown32",
    "kexec_load",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setuid",
    "setuid32",
];

/// `mknod` (mode is argument 1) and `mknodat` (argument 2): faked for
/// device nodes only.
pub const DEVICE_NODES: &[(&str, u8)] = &[("mknod", 1), ("mknodat", 2)];

/// The conditions "argument `index` makes a character or a block device",
/// one alternative each.
pub fn device_conditions(index: u8) -> [Vec<ArgCondition>; 2] {
    let is = |kind: u32| vec![ArgCondition { index, op: CmpOp::MaskedEq, value: u64::from(kind), mask: Some(u64::from(libc::S_IFMT)), low32: true }];
    [is(libc::S_IFCHR), is(libc::S_IFBLK)]
}
