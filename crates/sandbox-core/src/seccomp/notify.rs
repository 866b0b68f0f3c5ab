//! Denied-syscall reporting (plan.report, issue 14): the first filter of
//! [`super::compile`] turned into a user-notification filter, and what its
//! listener needs to answer exactly as the filter would have.
//!
//! Precedence decides the shape (seccomp(2): kill > trap > errno >
//! user_notif > trace > log > allow). A separate notify filter beside the
//! errno filter would never fire (errno wins), so the filter itself is
//! rewritten: every `RET ERRNO(e)` with `e > 0` becomes `RET USER_NOTIF`;
//! `ERRNO(0)` (fakeroot's faked success), kill and log stay. Allowed calls
//! never leave the kernel. The listener (launch/notify.rs) answers each
//! notification with the errno the *original* program returns for the same
//! `seccomp_data`, found by running that program here ([`run`], a classic
//! BPF interpreter), so the program sees the same answer as without a
//! report. It never answers "continue": no decision of the listener can be
//! raced (no TOCTOU), and with the listener gone the kernel answers ENOSYS.
//!
//! Against stacked filters the rewrite changes nothing: an errno of a later
//! filter wins over the notification as it won over the first filter's
//! errno (the most recent filter wins ties), and kill still beats both.
//!
//! A prologue keeps pid 1's hand-off of the listener out of the
//! notification path: `sendmsg`, `close`, `write` and `seccomp` (the stacked
//! filters' loads) run the original program, so a plan rule denying one of
//! them can never block pid 1 on a listener it still holds itself. Those
//! four are therefore never reported. On x86_64 the x32 check (after the
//! dispatch, before the first rule) stays ENOSYS unreported (x32 is
//! "absent", not denied).

use super::{Arch, BPF_JEQ_K, BPF_LD_W_ABS, BPF_MAXINSNS, BPF_RET_K, SECCOMP_RET_ERRNO};

/// `SECCOMP_RET_USER_NOTIF`.
pub const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
const SECCOMP_RET_ACTION_FULL: u32 = 0xffff_0000;
const BPF_JA: u16 = 0x05;

/// The calls pid 1 makes between loading the notify filter and handing its
/// listener out: never notified.
const HANDOFF: [&str; 4] = ["sendmsg", "close", "write", "seccomp"];

/// The notify variant of `program` (a filter of [`super::compile_for`] for
/// `arch`), or `None` when nothing in it is denied with an errno or the
/// variant would exceed the kernel's length limit (then the plain filter is
/// loaded and syscall denials go unreported).
pub fn variant(program: &[libc::sock_filter], arch: Arch) -> Option<Vec<libc::sock_filter>> {
    // Up to the end of the x32 check (after the dispatch): not denials.
    let skip = if arch == Arch::X86_64 {
        // Its last instruction (the allow) is a jump once chained: up to its ENOSYS.
        let x32 = &super::refuse_x32()[..6];
        program
            .windows(x32.len())
            .position(|w| w.iter().zip(x32).all(|(a, b)| (a.code, a.jt, a.jf, a.k) == (b.code, b.jt, b.jf, b.k)))
            .map_or(0, |at| at + x32.len())
    } else {
        0
    };
    let denies = |i: usize, ins: &libc::sock_filter| i >= skip && is_errno_deny(ins);
    if !program.iter().enumerate().any(|(i, ins)| denies(i, ins)) {
        return None;
    }
    let nrs: Vec<u32> = HANDOFF.iter().filter_map(|n| arch.syscall_nr(n)).collect();
    // ld nr; jeq each hand-off call -> original; ja -> rewritten; original; rewritten.
    let mut out = vec![stmt(BPF_LD_W_ABS, 0)];
    for (i, nr) in nrs.iter().enumerate() {
        let to_original = (nrs.len() - i) as u8; // past the remaining jeqs and the ja
        out.push(libc::sock_filter { code: BPF_JEQ_K, jt: to_original, jf: 0, k: *nr });
    }
    out.push(stmt(BPF_JA, program.len() as u32));
    out.extend_from_slice(program);
    out.extend(program.iter().enumerate().map(|(i, ins)| if denies(i, ins) { stmt(BPF_RET_K, SECCOMP_RET_USER_NOTIF) } else { *ins }));
    (out.len() <= BPF_MAXINSNS).then_some(out)
}

fn is_errno_deny(ins: &libc::sock_filter) -> bool {
    ins.code == BPF_RET_K && ins.k & SECCOMP_RET_ACTION_FULL == SECCOMP_RET_ERRNO && ins.k & 0xffff != 0
}

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt: 0, jf: 0, k }
}

/// What the kernel hands a filter: `struct seccomp_data`.
pub use crate::sys::SeccompData as Data;

/// The 32-bit word of `data` at byte `off` (native, little-endian on both
/// supported architectures), as `BPF_LD|BPF_W|BPF_ABS` reads it.
fn word(data: &Data, off: u32) -> Option<u32> {
    let mut bytes = [0u8; 64];
    bytes[0..4].copy_from_slice(&data.nr.to_le_bytes());
    bytes[4..8].copy_from_slice(&data.arch.to_le_bytes());
    bytes[8..16].copy_from_slice(&data.ip.to_le_bytes());
    for (i, a) in data.args.iter().enumerate() {
        bytes[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
    }
    let off = off as usize;
    (off.is_multiple_of(4) && off + 4 <= 64).then(|| u32::from_le_bytes(bytes[off..off + 4].try_into().expect("4 bytes")))
}

/// Run a classic BPF seccomp program on `data`: its return value, or `None`
/// for a program the kernel would have refused (bad load, jump or opcode).
pub fn run(program: &[libc::sock_filter], data: &Data) -> Option<u32> {
    let (mut a, mut x, mut mem) = (0u32, 0u32, [0u32; 16]);
    let mut pc = 0usize;
    while let Some(ins) = program.get(pc) {
        pc += 1;
        let k = ins.k;
        let class = ins.code & 0x07;
        let src = if ins.code & 0x08 != 0 { x } else { k };
        match class {
            0x00 | 0x01 => {
                // BPF_LD / BPF_LDX
                let v = match ins.code & 0xe0 {
                    0x20 if ins.code & 0x18 == 0 => word(data, k)?, // ABS, word
                    0x00 => k,                                      // IMM
                    0x60 => *mem.get(k as usize)?,                  // MEM
                    0x80 => 64,                                     // LEN
                    _ => return None,
                };
                if class == 0x00 {
                    a = v
                } else {
                    x = v
                }
            }
            0x02 => *mem.get_mut(k as usize)? = a, // BPF_ST
            0x03 => *mem.get_mut(k as usize)? = x, // BPF_STX
            0x04 => {
                a = match ins.code & 0xf0 {
                    0x00 => a.wrapping_add(src),
                    0x10 => a.wrapping_sub(src),
                    0x20 => a.wrapping_mul(src),
                    0x30 => a.checked_div(src)?,
                    0x40 => a | src,
                    0x50 => a & src,
                    0x60 => a.checked_shl(src).unwrap_or(0),
                    0x70 => a.checked_shr(src).unwrap_or(0),
                    0x80 => a.wrapping_neg(),
                    0x90 => a.checked_rem(src)?,
                    0xa0 => a ^ src,
                    _ => return None,
                }
            }
            0x05 => {
                let taken = match ins.code & 0xf0 {
                    0x00 => {
                        pc = pc.checked_add(k as usize)?;
                        continue;
                    }
                    0x10 => a == src,
                    0x20 => a > src,
                    0x30 => a >= src,
                    0x40 => a & src != 0,
                    _ => return None,
                };
                pc += usize::from(if taken { ins.jt } else { ins.jf });
            }
            0x06 => return Some(if ins.code & 0x18 == 0x10 { a } else { k }), // BPF_RET (A or K)
            _ => match ins.code {
                0x07 => x = a, // TAX
                0x87 => a = x, // TXA
                _ => return None,
            },
        }
    }
    None
}

/// The errno a notified call gets: the original program's answer for the
/// same data. Anything but an errno denial there (which cannot happen for
/// a call the variant notified) is answered EPERM: never allowed.
pub fn answer(original: &[libc::sock_filter], data: &Data) -> i32 {
    match run(original, data) {
        Some(r) if r & SECCOMP_RET_ACTION_FULL == SECCOMP_RET_ERRNO && r & 0xffff != 0 => (r & 0xffff) as i32,
        _ => libc::EPERM,
    }
}

/// The name of syscall `nr` on the architecture of `audit_arch`, if known.
pub fn name(audit_arch: u32, nr: i32) -> Option<&'static str> {
    let arch = match audit_arch {
        0xc000_003e => Arch::X86_64,
        0xc000_00b7 => Arch::Aarch64,
        _ => return None,
    };
    let nr = u32::try_from(nr).ok()?;
    arch.table().iter().find(|(_, n)| *n == nr).map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{RuleAction, Seccomp, SeccompPreset, SyscallRule};

    fn strict() -> Seccomp {
        Seccomp { preset: SeccompPreset::Strict, ..Default::default() }
    }

    fn data(arch: Arch, name: &str, args: [u64; 6]) -> Data {
        let audit = if arch == Arch::X86_64 { 0xc000_003e } else { 0xc000_00b7 };
        Data { nr: arch.syscall_nr(name).unwrap() as i32, arch: audit, ip: 0, args }
    }

    #[test]
    fn the_variant_notifies_exactly_where_the_filter_denies_with_an_errno() {
        for arch in Arch::ALL {
            let mut policy = strict();
            policy.fakeroot = true;
            policy.rules.push(SyscallRule { syscall: "sendmsg".into(), args: vec![], action: RuleAction::Errno(libc::EACCES as u16) });
            let filters = crate::seccomp::compile_for(&policy, false, arch).unwrap();
            let original = &filters[0];
            let notify = variant(original, arch).expect("strict denies with errnos");
            let mut notified = 0;
            for (name, nr) in arch.table() {
                for args in [[0; 6], [u64::MAX; 6], [1, 2, 3, 4, 5, 6], [libc::AF_NETLINK as u64, 0x5412, 0, 0, 0, 0]] {
                    let d = Data { args, ..data(arch, name, [0; 6]) };
                    let (o, n) = (run(original, &d).unwrap(), run(&notify, &d).unwrap());
                    let deny = o & SECCOMP_RET_ACTION_FULL == SECCOMP_RET_ERRNO && o & 0xffff != 0;
                    if deny && !HANDOFF.contains(name) {
                        assert_eq!(n, SECCOMP_RET_USER_NOTIF, "{arch} {name} {args:?}");
                        assert_eq!(answer(original, &d), (o & 0xffff) as i32);
                        notified += 1;
                    } else {
                        assert_eq!(n, o, "{arch} {name} {args:?}: the variant answers as the filter");
                    }
                    let _ = nr;
                }
            }
            assert!(notified > 20, "{arch}: {notified}");
            // The plan's own rule on a hand-off call keeps its errno, unnotified.
            let d = data(arch, "sendmsg", [0; 6]);
            assert_eq!(run(&notify, &d), Some(SECCOMP_RET_ERRNO | libc::EACCES as u32));
        }
    }

    #[test]
    fn x32_and_fakeroot_and_kill_stay() {
        let mut policy = strict();
        policy.fakeroot = true;
        let filters = crate::seccomp::compile_for(&policy, false, Arch::X86_64).unwrap();
        let notify = variant(&filters[0], Arch::X86_64).unwrap();
        let x32 = Data { nr: (crate::seccomp::X32_SYSCALL_BIT | 1) as i32, arch: 0xc000_003e, ip: 0, args: [0; 6] };
        assert_eq!(run(&notify, &x32), Some(SECCOMP_RET_ERRNO | libc::ENOSYS as u32));
        let chown = data(Arch::X86_64, "chown", [0; 6]);
        assert_eq!(run(&notify, &chown), Some(SECCOMP_RET_ERRNO));
        let i386 = Data { nr: 1, arch: 0x4000_0003, ip: 0, args: [0; 6] };
        assert_eq!(run(&notify, &i386), Some(crate::seccomp::SECCOMP_RET_KILL_PROCESS));
    }

    #[test]
    fn nothing_denied_no_variant_and_names() {
        let mut policy = Seccomp { preset: SeccompPreset::None, ..Default::default() };
        policy.fakeroot = true;
        let filters = crate::seccomp::compile_for(&policy, false, Arch::X86_64).unwrap();
        assert_eq!(variant(&filters[0], Arch::X86_64), None);
        assert_eq!(name(0xc000_003e, 101), Some("ptrace"));
        assert_eq!(name(0xc000_00b7, 117), Some("ptrace"));
        assert_eq!(name(0x4000_0003, 1), None);
        assert_eq!(name(0xc000_003e, -1), None);
    }

    #[test]
    fn the_interpreter_refuses_what_the_kernel_refuses() {
        assert_eq!(run(&[stmt(BPF_LD_W_ABS, 2), stmt(BPF_RET_K, 0)], &data(Arch::X86_64, "read", [0; 6])), None);
        assert_eq!(run(&[stmt(BPF_LD_W_ABS, 64)], &data(Arch::X86_64, "read", [0; 6])), None);
        assert_eq!(run(&[stmt(0x04 | 0x30, 0), stmt(BPF_RET_K, 0)], &data(Arch::X86_64, "read", [0; 6])), None);
        assert_eq!(run(&[stmt(BPF_JA, 5)], &data(Arch::X86_64, "read", [0; 6])), None);
        assert_eq!(answer(&[stmt(BPF_RET_K, crate::seccomp::SECCOMP_RET_ALLOW)], &data(Arch::X86_64, "read", [0; 6])), libc::EPERM);
    }
}
