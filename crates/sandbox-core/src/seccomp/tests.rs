//! The compiled programs are checked by running them: a small classic-BPF
//! interpreter (the instructions seccompiler and `refuse_x32` emit) answers
//! what the kernel would for a given call, on either architecture.

use super::*;
use crate::plan::SeccompFilter as StackFilter;
use std::collections::BTreeSet;

const RET_ERRNO: u32 = SECCOMP_RET_ERRNO;
const RET_LOG: u32 = 0x7ffc_0000;
const ALLOW: u32 = SECCOMP_RET_ALLOW;
const KILL: u32 = SECCOMP_RET_KILL_PROCESS;
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;

fn errno(e: i32) -> u32 {
    RET_ERRNO | e as u32
}

/// A call as the kernel shows it to the filter (struct seccomp_data).
#[derive(Clone, Copy)]
struct Call {
    nr: u32,
    arch: u32,
    args: [u64; 6],
}

fn audit(arch: Arch) -> u32 {
    match arch {
        Arch::X86_64 => AUDIT_ARCH_X86_64,
        Arch::Aarch64 => AUDIT_ARCH_AARCH64,
    }
}

fn call(arch: Arch, name: &str, args: &[u64]) -> Call {
    let nr = arch.syscall_nr(name).unwrap_or_else(|| panic!("{name} on {arch}"));
    let mut a = [0; 6];
    a[..args.len()].copy_from_slice(args);
    Call { nr, arch: audit(arch), args: a }
}

/// Run one program on one call: the SECCOMP_RET_* value it returns.
fn run(prog: &[libc::sock_filter], c: Call) -> u32 {
    let word = |off: u32| -> u32 {
        match off {
            0 => c.nr,
            4 => c.arch,
            16..=63 if off.is_multiple_of(4) => {
                let a = c.args[((off - 16) / 8) as usize];
                if (off - 16).is_multiple_of(8) {
                    a as u32
                } else {
                    (a >> 32) as u32
                }
            }
            _ => panic!("load from offset {off}"),
        }
    };
    let (mut pc, mut acc) = (0usize, 0u32);
    loop {
        let f = prog[pc];
        pc += 1;
        let cond = |taken: bool| if taken { f.jt as usize } else { f.jf as usize };
        match f.code {
            BPF_LD_W_ABS => acc = word(f.k),
            0x54 => acc &= f.k, // BPF_ALU | BPF_AND | BPF_K
            BPF_JA => pc += f.k as usize,
            BPF_JEQ_K => pc += cond(acc == f.k),
            0x25 => pc += cond(acc > f.k), // BPF_JGT
            BPF_JGE_K => pc += cond(acc >= f.k),
            0x45 => pc += cond(acc & f.k != 0), // BPF_JSET
            BPF_RET_K => return f.k,
            code => panic!("instruction {code:#x} at {}", pc - 1),
        }
    }
}

/// Precedence of a return value, as the kernel orders them across filters.
fn precedence(ret: u32) -> u8 {
    match ret & 0xffff_0000 {
        KILL => 0,
        RET_ERRNO => 3,
        RET_LOG => 6,
        ALLOW => 7,
        r => panic!("return {r:#x}"),
    }
}

/// Run every filter on the call; the kernel answers with the strictest
/// result, the latest filter winning a tie.
fn answer(filters: &[Vec<libc::sock_filter>], c: Call) -> u32 {
    let mut best = ALLOW;
    for f in filters {
        let r = run(f, c);
        if precedence(r) <= precedence(best) {
            best = r;
        }
    }
    best
}

fn strict() -> Seccomp {
    Seccomp::default()
}

fn none() -> Seccomp {
    Seccomp { preset: SeccompPreset::None, ..Default::default() }
}

fn rule(syscall: &str, action: RuleAction) -> SyscallRule {
    SyscallRule { syscall: syscall.into(), args: Vec::new(), action }
}

fn cond(index: u8, op: CmpOp, value: u64) -> ArgCondition {
    ArgCondition { index, op, value, mask: None, low32: false }
}

fn filters(policy: &Seccomp, keep_session: bool, arch: Arch) -> Vec<Vec<libc::sock_filter>> {
    compile_for(policy, keep_session, arch).unwrap()
}

/// The filters as bytes, comparable (sock_filter has no PartialEq).
fn bytes(policy: &Seccomp, keep_session: bool, arch: Arch) -> Vec<Vec<u8>> {
    filters(policy, keep_session, arch).iter().map(|f| to_bytes(f)).collect()
}

#[test]
fn strict_answers_every_preset_rule_on_both_arches() {
    for arch in Arch::ALL {
        let f = filters(&strict(), false, arch);
        assert_eq!(f.len(), 1, "{arch}: one filter");
        let a = |name: &str, args: &[u64]| answer(&f, call(arch, name, args));
        // every unconditional preset rule the architecture has
        for r in PRESET_RULES.iter().filter(|r| r.args.is_empty() && arch.syscall_nr(r.syscall).is_some()) {
            let RuleAction::Errno(e) = r.action else { panic!() };
            assert_eq!(a(r.syscall, &[]), errno(e.into()), "{arch}: {} ({})", r.syscall, r.list.name());
        }
        for name in ["io_uring_setup", "io_uring_enter", "io_uring_register", "process_vm_readv", "process_vm_writev", "userfaultfd", "bpf", "keyctl", "ptrace"]
        {
            assert_eq!(a(name, &[]), errno(libc::EPERM), "{arch}: {name}");
        }
        for name in ["clone3", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr"] {
            assert_eq!(a(name, &[]), errno(libc::ENOSYS), "{arch}: {name}");
        }
        // clone: only with CLONE_NEWUSER
        assert_eq!(a("clone", &[0x11 | presets::CLONE_NEWUSER]), errno(libc::EPERM), "{arch}");
        assert_eq!(a("clone", &[0x11 | 0x2000_0000 /* CLONE_NEWNET alone */]), ALLOW, "{arch}");
        // ioctl: TIOCSTI and TIOCLINUX, high bits ignored (CVE-2019-10063)
        for req in [presets::TIOCSTI, presets::TIOCLINUX, 0xffff_ffff_0000_0000 | presets::TIOCSTI, 1 << 32 | presets::TIOCLINUX] {
            assert_eq!(a("ioctl", &[0, req]), errno(libc::EPERM), "{arch}: ioctl {req:#x}");
        }
        assert_eq!(a("ioctl", &[0, 0x5401 /* TCGETS */]), ALLOW, "{arch}");
        // personality: PER_LINUX and the query only
        assert_eq!(a("personality", &[0]), ALLOW, "{arch}");
        assert_eq!(a("personality", &[0xffff_ffff]), ALLOW, "{arch}");
        assert_eq!(a("personality", &[0x0008 /* PER_LINUX32 */]), errno(libc::EPERM), "{arch}");
        assert_eq!(a("personality", &[0x0040_0000 /* READ_IMPLIES_EXEC */]), errno(libc::EPERM), "{arch}");
        // socket families
        for fam in [0, 1, 2, 10, 16] {
            assert_eq!(a("socket", &[fam, 1, 0]), ALLOW, "{arch}: family {fam}");
        }
        for fam in [17 /* AF_PACKET */, 29 /* AF_CAN */, 31 /* AF_BLUETOOTH */, 40 /* AF_VSOCK */] {
            assert_eq!(a("socket", &[fam, 3, 0]), errno(libc::EAFNOSUPPORT), "{arch}: family {fam}");
        }
        // ordinary calls pass
        for name in ["read", "write", "getpid", "execve", "mmap", "openat", "getcwd", "setsid"] {
            assert_eq!(a(name, &[]), ALLOW, "{arch}: {name}");
        }
        // a foreign architecture is killed
        let mut foreign = call(arch, "getpid", &[]);
        foreign.arch = AUDIT_ARCH_I386;
        assert_eq!(answer(&f, foreign), KILL, "{arch}: i386");
    }
}

/// What the user namespace already makes harmless passes the filter: the
/// kernel answers a real change itself (tested in real sandboxes).
#[test]
fn strict_allows_identity_calls_personality_reads_and_prctl() {
    for arch in Arch::ALL {
        let f = filters(&strict(), false, arch);
        let a = |name: &str, args: &[u64]| answer(&f, call(arch, name, args));
        for name in ["setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid", "setgroups", "fchown", "fchownat"] {
            // a no-op (own ids) and a real change alike: the kernel decides
            assert_eq!(a(name, &[1000, 1000, 1000]), ALLOW, "{arch}: {name} own ids");
            assert_eq!(a(name, &[0, 0, 0]), ALLOW, "{arch}: {name} to root");
            assert_eq!(a(name, &[u64::from(u32::MAX), 0, 0]), ALLOW, "{arch}: {name} -1");
        }
        if arch == Arch::X86_64 {
            for name in ["chown", "lchown"] {
                assert_eq!(a(name, &[0, 0, 0]), ALLOW, "{arch}: {name}");
            }
        }
        // personality: PER_LINUX and the query, nothing else
        assert_eq!(a("personality", &[0]), ALLOW, "{arch}: PER_LINUX");
        assert_eq!(a("personality", &[0xffff_ffff]), ALLOW, "{arch}: query");
        assert_eq!(a("personality", &[1 << 32 /* high half ignored: PER_LINUX */]), ALLOW, "{arch}");
        for bad in [
            0x0008,      /* PER_LINUX32 */
            0x0040_0000, /* READ_IMPLIES_EXEC */
            0x0004_0000, /* ADDR_NO_RANDOMIZE */
            0x0002_0000, /* UNAME26 */
            0xffff_fffe,
        ] {
            assert_eq!(a("personality", &[bad]), errno(libc::EPERM), "{arch}: personality {bad:#x}");
        }
        // prctl: reads (and everything else: prctl is not filtered)
        for op in [
            libc::PR_GET_NAME,
            libc::PR_GET_DUMPABLE,
            libc::PR_GET_NO_NEW_PRIVS,
            libc::PR_CAPBSET_READ,
            libc::PR_GET_SECCOMP,
            libc::PR_GET_PDEATHSIG,
            libc::PR_SET_NAME,
        ] {
            assert_eq!(a("prctl", &[op as u64]), ALLOW, "{arch}: prctl {op}");
        }
        // NUMA: reading one's own policy passes; changing placement does not
        assert_eq!(a("get_mempolicy", &[]), ALLOW, "{arch}");
        for name in ["mbind", "set_mempolicy", "move_pages", "migrate_pages"] {
            assert_eq!(a(name, &[]), errno(libc::EPERM), "{arch}: {name}");
        }
    }
}

/// No set-uid or set-gid bit: every call that sets a mode, with either bit,
/// answers EPERM; the same calls without them pass.
#[test]
fn strict_refuses_set_uid_and_set_gid_modes() {
    use presets::{O_CREAT, O_TMPFILE_BIT, S_ISGID, S_ISUID};
    const O_RDWR: u64 = 2;
    for arch in Arch::ALL {
        let f = filters(&strict(), false, arch);
        let a = |name: &str, args: &[u64]| answer(&f, call(arch, name, args));
        // (name, index of the mode argument)
        let mut modes = vec![("fchmod", 1), ("fchmodat", 2), ("fchmodat2", 2), ("mknodat", 2)];
        if arch == Arch::X86_64 {
            modes.extend([("chmod", 1), ("creat", 1), ("mknod", 1)]);
        }
        for (name, at) in modes {
            let with = |mode: u64| {
                let mut args = [3u64, 0, 0, 0];
                args[at] = mode;
                a(name, &args)
            };
            for bad in [S_ISUID | 0o755, S_ISGID | 0o755, 0o6755, 0o4000, 0o2000, 0o7777, 1 << 32 | S_ISUID, 0o100_000 | S_ISUID /* S_IFREG for mknod */] {
                assert_eq!(with(bad), errno(libc::EPERM), "{arch}: {name} {bad:#o}");
            }
            for good in [0o755, 0o644, 0o1777 /* sticky */, 0o777, 0o020_000 | 0o666 /* S_IFCHR */, 1 << 32 | 0o755] {
                assert_eq!(with(good), ALLOW, "{arch}: {name} {good:#o}");
            }
        }
        let mut opens = vec![("openat", 2)];
        if arch == Arch::X86_64 {
            opens.push(("open", 1));
        }
        for (name, at) in opens {
            let with = |flags: u64, mode: u64| {
                let mut args = [3u64, 0, 0, 0];
                args[at] = flags;
                args[at + 1] = mode;
                a(name, &args)
            };
            for create in [O_CREAT, O_CREAT | O_RDWR | 0o1000 /* O_TRUNC */, O_TMPFILE_BIT | 0o200_000 /* O_TMPFILE */ | O_RDWR] {
                assert_eq!(with(create, S_ISUID | 0o755), errno(libc::EPERM), "{arch}: {name} {create:#o} set-uid");
                assert_eq!(with(create, S_ISGID | 0o755), errno(libc::EPERM), "{arch}: {name} {create:#o} set-gid");
                assert_eq!(with(create, 0o755), ALLOW, "{arch}: {name} {create:#o} 0755");
            }
            // without O_CREAT or O_TMPFILE the mode argument means nothing
            assert_eq!(with(O_RDWR, 0o6755), ALLOW, "{arch}: {name} no create");
            assert_eq!(with(0, 0xffff_ffff), ALLOW, "{arch}: {name} garbage mode");
        }
        // openat2's struct cannot be read: absent, so callers fall back to openat
        assert_eq!(a("openat2", &[3, 0, 0, 24]), errno(libc::ENOSYS), "{arch}");
        for name in ["setxattr", "lsetxattr", "fsetxattr", "setxattrat"] {
            assert_eq!(a(name, &[]), errno(libc::EOPNOTSUPP), "{arch}: {name}");
        }
        for name in ["getxattr", "lgetxattr", "fgetxattr", "listxattr", "removexattr", "fremovexattr", "getxattrat", "removexattrat"] {
            assert_eq!(a(name, &[]), ALLOW, "{arch}: {name}");
        }
        assert_eq!(a("open_tree_attr", &[]), errno(libc::ENOSYS), "{arch}: the newest mount API call");
        // mkdir: the kernel drops both bits from the mode itself (cp -r of a set-gid directory asks)
        assert_eq!(a("mkdirat", &[3, 0, 0o2775]), ALLOW, "{arch}: mkdirat");
        if arch == Arch::X86_64 {
            assert_eq!(a("mkdir", &[0, 0o6755]), ALLOW, "{arch}: mkdir");
        }
        // preset none has none of these
        let none_f = filters(&none(), true, arch);
        assert_eq!(answer(&none_f, call(arch, "fchmod", &[3, 0o4755])), ALLOW, "{arch}: preset none");
    }
}

/// The line-discipline and console family, on top of TIOCSTI/TIOCLINUX;
/// what shells and editors use stays open.
#[test]
fn strict_refuses_the_terminal_family_and_keeps_job_control() {
    use presets::{TIOCCONS, TIOCSETD, TIOCSLCKTRMIOS, TIOCVHANGUP};
    for arch in Arch::ALL {
        for (policy, keep) in [(strict(), false), (none(), true)] {
            let f = filters(&policy, keep, arch);
            let a = |req: u64| answer(&f, call(arch, "ioctl", &[0, req]));
            for req in [TIOCSETD, TIOCCONS, TIOCVHANGUP, TIOCSLCKTRMIOS, 1 << 32 | TIOCSETD, 0xffff_ffff_0000_0000 | TIOCCONS] {
                assert_eq!(a(req), errno(libc::EPERM), "{arch}: ioctl {req:#x}");
            }
            // linux/kd.h and linux/vt.h: first, last and the dangerous ones
            for req in [
                0x4b00, 0x4b49, /* KDSKBSENT */
                0x4b47, /* KDSKBENT */
                0x4b3a, /* KDSETMODE */
                0x4b45, /* KDSKBMODE */
                0x4bff, 0x5600, 0x5606, /* VT_ACTIVATE */
                0x56ff,
            ] {
                assert_eq!(a(req), errno(libc::EPERM), "{arch}: ioctl {req:#x}");
            }
            // job control, termios, window size, reading the line discipline, ptys
            let open = [
                0x5401u64,
                /* TCGETS */ 0x5402,
                /* TCSETS */ 0x5403,
                /* TCSETSW */ 0x540e,
                /* TIOCSCTTY */ 0x540f, /* TIOCGPGRP */
                0x5410,
                /* TIOCSPGRP */ 0x5413,
                /* TIOCGWINSZ */ 0x5414,
                /* TIOCSWINSZ */ 0x5422,
                /* TIOCNOTTY */ 0x5424, /* TIOCGETD */
                0x541b,
                /* FIONREAD */ 0x5421,
                /* FIONBIO */ 0x4aff,
                0x4c00,
                0x55ff,
                0x5700,
                0x8004_5430,
                /* TIOCGPTN */ 0x4004_5431, /* TIOCSPTLCK */
            ];
            for req in open {
                assert_eq!(a(req), ALLOW, "{arch}: ioctl {req:#x}");
            }
        }
    }
}

#[test]
fn x86_64_answers_x32_enosys_always_and_refuses_modify_ldt_unless_multiarch() {
    let x32 = |name: &str| {
        let mut c = call(Arch::X86_64, name, &[]);
        c.nr |= X32_SYSCALL_BIT;
        c
    };
    let f = filters(&strict(), false, Arch::X86_64);
    assert_eq!(answer(&f, x32("getpid")), errno(libc::ENOSYS));
    assert_eq!(answer(&f, x32("keyctl")), errno(libc::ENOSYS));
    assert_eq!(answer(&f, x32("unshare")), errno(libc::ENOSYS));
    assert_eq!(answer(&f, call(Arch::X86_64, "modify_ldt", &[])), errno(libc::EPERM));
    // even a filter of custom rules only: the x32 numbers would bypass them
    let custom = Seccomp { rules: vec![rule("getcwd", RuleAction::Errno(13))], ..none() };
    assert_eq!(answer(&filters(&custom, false, Arch::X86_64), x32("getpid")), errno(libc::ENOSYS));

    let multi = Seccomp { multiarch: true, ..strict() };
    let f = filters(&multi, false, Arch::X86_64);
    assert_eq!(answer(&f, call(Arch::X86_64, "modify_ldt", &[])), ALLOW);
    // x32 stays refused: with it open every rule could be bypassed
    assert_eq!(answer(&f, x32("getpid")), errno(libc::ENOSYS));
    assert_eq!(answer(&f, x32("keyctl")), errno(libc::ENOSYS));
    assert_eq!(answer(&f, call(Arch::X86_64, "keyctl", &[])), errno(libc::EPERM));
    let mut i386 = call(Arch::X86_64, "getpid", &[]);
    i386.arch = AUDIT_ARCH_I386;
    assert_eq!(answer(&f, i386), KILL, "i386 stays refused by the architecture check");
    // aarch64 has no x32 and no modify_ldt: multiarch changes nothing there
    assert_eq!(bytes(&multi, false, Arch::Aarch64), bytes(&strict(), false, Arch::Aarch64));
}

#[test]
fn none_is_no_filter_unless_the_session_is_kept() {
    for arch in Arch::ALL {
        assert!(filters(&none(), false, arch).is_empty());
        let f = filters(&none(), true, arch);
        assert_eq!(f.len(), 1);
        assert_eq!(answer(&f, call(arch, "ioctl", &[0, 1 << 40 | presets::TIOCSTI])), errno(libc::EPERM), "{arch}");
        assert_eq!(answer(&f, call(arch, "ioctl", &[0, presets::TIOCLINUX])), errno(libc::EPERM), "{arch}");
        assert_eq!(answer(&f, call(arch, "keyctl", &[])), ALLOW, "{arch}");
        assert_eq!(answer(&f, call(arch, "ioctl", &[0, 0x5401])), ALLOW, "{arch}");
        // strict already has them: keep_session changes nothing
        assert_eq!(bytes(&strict(), true, arch), bytes(&strict(), false, arch));
    }
}

#[test]
fn custom_rules_join_the_first_filter_with_their_own_answers() {
    let policy = Seccomp {
        rules: vec![
            rule("getcwd", RuleAction::Errno(13)),
            SyscallRule { syscall: "kill".into(), args: vec![cond(1, CmpOp::Eq, 9)], action: RuleAction::Kill },
            rule("uname", RuleAction::Log),
            // a custom errno wins over the preset's for the same call
            rule("keyctl", RuleAction::Errno(38)),
            SyscallRule {
                syscall: "openat".into(),
                args: vec![ArgCondition { index: 2, op: CmpOp::MaskedEq, value: 0o100, mask: Some(0o100), low32: true }],
                action: RuleAction::Errno(30),
            },
            SyscallRule { syscall: "write".into(), args: vec![cond(0, CmpOp::Ge, 1000), cond(2, CmpOp::Lt, 10)], action: RuleAction::Errno(28) },
        ],
        ..strict()
    };
    for arch in Arch::ALL {
        let f = filters(&policy, false, arch);
        assert_eq!(f.len(), 1);
        let a = |name: &str, args: &[u64]| answer(&f, call(arch, name, args));
        assert_eq!(a("getcwd", &[]), errno(libc::EACCES), "{arch}");
        assert_eq!(a("kill", &[1, 9]), KILL, "{arch}");
        assert_eq!(a("kill", &[1, 15]), ALLOW, "{arch}");
        assert_eq!(a("uname", &[]), RET_LOG, "{arch}");
        assert_eq!(a("keyctl", &[]), errno(libc::ENOSYS), "{arch}");
        assert_eq!(a("add_key", &[]), errno(libc::EPERM), "{arch}: the preset is still there");
        assert_eq!(a("openat", &[0, 0, 0o102]), errno(libc::EROFS), "{arch}: O_CREAT");
        assert_eq!(a("openat", &[0, 0, 1 << 32 | 0o2]), ALLOW, "{arch}: low32 ignores the high half");
        assert_eq!(a("write", &[1000, 0, 5]), errno(libc::ENOSPC), "{arch}");
        assert_eq!(a("write", &[1000, 0, 10]), ALLOW, "{arch}");
        assert_eq!(a("write", &[999, 0, 5]), ALLOW, "{arch}");
        assert_eq!(a("getpid", &[]), ALLOW, "{arch}");
        // a preset-blocked call stays blocked under a log rule
        let log = Seccomp { rules: vec![rule("ptrace", RuleAction::Log)], ..strict() };
        assert_eq!(answer(&filters(&log, false, arch), call(arch, "ptrace", &[])), errno(libc::EPERM), "{arch}");
    }
}

#[test]
fn an_unconditional_rule_covers_the_conditional_ones_of_its_answer() {
    // ioctl is conditional in deny-tty; an unconditional EPERM ioctl rule
    // must not be narrowed to the TIOCSTI/TIOCLINUX conditions.
    for arch in Arch::ALL {
        let policy = Seccomp { rules: vec![rule("ioctl", RuleAction::Errno(1))], ..strict() };
        let f = filters(&policy, false, arch);
        assert_eq!(answer(&f, call(arch, "ioctl", &[0, 0x5401])), errno(libc::EPERM), "{arch}");
        assert_eq!(answer(&f, call(arch, "ioctl", &[0, presets::TIOCSTI])), errno(libc::EPERM), "{arch}");
    }
}

#[test]
fn stacked_filters_come_after_the_first_each_on_its_own() {
    let policy = Seccomp {
        rules: vec![rule("getcwd", RuleAction::Errno(13))],
        stack: vec![
            StackFilter { rules: vec![rule("getcwd", RuleAction::Errno(1)), rule("uname", RuleAction::Errno(22))] },
            StackFilter { rules: vec![rule("getppid", RuleAction::Kill)] },
        ],
        ..none()
    };
    for arch in Arch::ALL {
        let f = filters(&policy, false, arch);
        assert_eq!(f.len(), 3, "{arch}");
        assert_eq!(run(&f[0], call(arch, "uname", &[])), ALLOW, "{arch}: the first filter has only its own rules");
        assert_eq!(run(&f[1], call(arch, "uname", &[])), errno(libc::EINVAL));
        assert_eq!(run(&f[1], call(arch, "getcwd", &[])), errno(libc::EPERM));
        // same precedence: the filter loaded last wins, as in the kernel
        assert_eq!(answer(&f, call(arch, "getcwd", &[])), errno(libc::EPERM), "{arch}");
        assert_eq!(answer(&f, call(arch, "getppid", &[])), KILL, "{arch}");
        assert_eq!(answer(&f, call(arch, "getpid", &[])), ALLOW, "{arch}");
    }
    // a stack alone, with preset none
    let only = Seccomp { stack: vec![StackFilter { rules: vec![rule("getppid", RuleAction::Errno(1))] }], ..none() };
    assert_eq!(filters(&only, false, Arch::X86_64).len(), 1);
}

#[test]
fn bad_rules_name_their_json_path() {
    let x86 = |p: &Seccomp| compile_for(p, false, Arch::X86_64).unwrap_err().to_string();
    let p = Seccomp { rules: vec![rule("getpid", RuleAction::Kill), rule("getcwd", RuleAction::Log), rule("foo", RuleAction::Kill)], ..strict() };
    assert_eq!(x86(&p), r#"plan.seccomp.rules[2].syscall: unknown syscall "foo" on x86_64"#);
    let e = compile_for(&p, false, Arch::X86_64).unwrap_err();
    assert_eq!(e.path(), "plan.seccomp.rules[2].syscall");
    // names that exist on one architecture only
    let open = Seccomp { rules: vec![rule("open", RuleAction::Errno(1))], ..none() };
    assert!(compile_for(&open, false, Arch::X86_64).is_ok());
    assert_eq!(compile_for(&open, false, Arch::Aarch64).unwrap_err().to_string(), r#"plan.seccomp.rules[0].syscall: unknown syscall "open" on aarch64"#);
    let stacked = Seccomp {
        stack: vec![StackFilter { rules: vec![rule("getpid", RuleAction::Kill)] }, StackFilter { rules: vec![rule("nope", RuleAction::Kill)] }],
        ..strict()
    };
    assert_eq!(x86(&stacked), r#"plan.seccomp.stack[1].rules[0].syscall: unknown syscall "nope" on x86_64"#);
    let empty = Seccomp { stack: vec![StackFilter { rules: vec![] }], ..strict() };
    assert_eq!(x86(&empty), "plan.seccomp.stack[0].rules: a stacked filter needs at least one rule");

    let with = |a: ArgCondition, action: RuleAction| Seccomp {
        rules: vec![SyscallRule { syscall: "read".into(), args: vec![cond(0, CmpOp::Eq, 0), a], action }],
        ..none()
    };
    let errno1 = RuleAction::Errno(1);
    assert_eq!(x86(&with(cond(6, CmpOp::Eq, 0), errno1)), "plan.seccomp.rules[0].args[1].index: argument index 6 is out of range 0..5");
    assert_eq!(x86(&with(cond(1, CmpOp::MaskedEq, 0), errno1)), "plan.seccomp.rules[0].args[1].mask: maskedEq needs a mask");
    assert_eq!(
        x86(&with(ArgCondition { mask: Some(1), ..cond(1, CmpOp::Eq, 0) }, errno1)),
        "plan.seccomp.rules[0].args[1].mask: a mask only applies to maskedEq"
    );
    assert_eq!(
        x86(&with(ArgCondition { low32: true, ..cond(1, CmpOp::Eq, 1 << 32) }, errno1)),
        "plan.seccomp.rules[0].args[1]: value 0x100000000 does not fit in the 32 bits low32 compares"
    );
    assert_eq!(x86(&with(cond(1, CmpOp::Eq, 0), RuleAction::Errno(4096))), "plan.seccomp.rules[0].action: errno 4096 is out of range 0..4095");
    // the public entry point carries the same words
    assert_eq!(
        compile(&with(cond(1, CmpOp::Eq, 0), RuleAction::Errno(5000)), false).unwrap_err(),
        "plan.seccomp.rules[0].action: errno 5000 is out of range 0..4095"
    );
    assert!(check(&p).is_err() && check(&strict()).is_ok());
}

#[test]
fn programs_are_well_formed() {
    let policies = [
        strict(),
        Seccomp { multiarch: true, ..strict() },
        Seccomp { rules: vec![rule("getcwd", RuleAction::Kill), rule("uname", RuleAction::Log), rule("getpid", RuleAction::Errno(5))], ..strict() },
    ];
    for arch in Arch::ALL {
        for p in &policies {
            for prog in filters(p, true, arch) {
                assert!(prog.len() < 1024, "{arch}: {} instructions", prog.len());
                // only the dispatch (up to the chain's first program) and
                // the last program return allow: the rest jump on
                let chain_start = prologue_len(&prog);
                let last_start = prog.iter().rposition(|f| f.code == BPF_LD_W_ABS && f.k == 4).unwrap();
                for (i, f) in prog.iter().enumerate() {
                    if f.code == BPF_RET_K && f.k == ALLOW {
                        assert!(i < chain_start || i > last_start, "{arch}: allow at {i} in the chain before the last program ({last_start})");
                    }
                    // every jump lands inside the program
                    let reach = match f.code {
                        BPF_JA => Some(f.k as usize),
                        c if c & 0x07 == 0x05 => Some(f.jt.max(f.jf) as usize),
                        _ => None,
                    };
                    if let Some(reach) = reach {
                        assert!(i + 1 + reach < prog.len(), "{arch}: jump at {i} leaves the program");
                    }
                }
                assert_eq!(prog.last().unwrap().code, BPF_RET_K);
                assert_eq!(to_bytes(&prog).len(), prog.len() * 8);
            }
        }
    }
}

/// Where the chain starts: the dispatch ends before the second load of the arch.
fn prologue_len(prog: &[libc::sock_filter]) -> usize {
    prog.iter().enumerate().filter(|(_, f)| f.code == BPF_LD_W_ABS && f.k == 4).nth(1).expect("a chain after the dispatch").0
}

/// Policies of every shape: presets, custom answers of each kind, conditions, fakeroot, stacks.
fn shapes() -> Vec<(Seccomp, bool)> {
    let mut custom = strict();
    custom.rules = vec![
        rule("getcwd", RuleAction::Kill),
        rule("uname", RuleAction::Log),
        rule("getpid", RuleAction::Errno(5)),
        SyscallRule { args: vec![cond(0, CmpOp::Eq, 7)], ..rule("close", RuleAction::Errno(9)) },
        SyscallRule { args: vec![cond(1, CmpOp::Ge, 1 << 40)], ..rule("mmap", RuleAction::Errno(12)) },
    ];
    custom.stack = vec![StackFilter { rules: vec![rule("read", RuleAction::Errno(4)), rule("openat", RuleAction::Log)] }];
    let mut fake = strict();
    fake.fakeroot = true;
    vec![(strict(), false), (strict(), true), (Seccomp { multiarch: true, ..strict() }, false), (custom, false), (fake, true), (none(), true)]
}

/// Every call a filter could be asked about: each number of the table and
/// beyond it, x32 numbers, foreign architectures, arguments of each kind.
fn every_call(arch: Arch) -> Vec<Call> {
    let mut out = Vec::new();
    let foreign = [AUDIT_ARCH_X86_64, AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, 0];
    let max = arch.table().iter().map(|(_, nr)| *nr).max().unwrap();
    for nr in (0..max + 64).chain([X32_SYSCALL_BIT, X32_SYSCALL_BIT | 1, X32_SYSCALL_BIT | 59, u32::MAX]) {
        for a in foreign {
            for args in [[0; 6], [u64::MAX; 6], [7, 1 << 41, 3, 4, 5, 6], [libc::AF_NETLINK as u64, 0x5412, 0, 0, 0, 0]] {
                out.push(Call { nr, arch: a, args });
            }
        }
    }
    out
}

#[test]
fn the_dispatch_answers_as_the_chain_behind_it() {
    for arch in Arch::ALL {
        for (policy, keep) in shapes() {
            for prog in filters(&policy, keep, arch) {
                let chain = &prog[prologue_len(&prog)..];
                for c in every_call(arch) {
                    assert_eq!(run(&prog, c), run(chain, c), "{arch} nr {} arch {:#x} args {:?}", c.nr, c.arch, c.args);
                }
            }
        }
    }
}

#[test]
fn the_dispatch_cuts_the_kernels_work_at_load() {
    for arch in Arch::ALL {
        let prog = &filters(&strict(), false, arch)[0];
        let (with, without) = (cache_work(prog, arch), cache_work(&prog[prologue_len(prog)..], arch));
        println!("{arch}: {} instructions, the action cache's emulation {with} steps (the chain alone {without})", prog.len());
        assert!(with * 4 < without, "{arch}: {with} against {without}");
        // Every call no rule names is allowed within the dispatch: a few levels of search.
        let named: BTreeSet<u32> = PRESET_RULES.iter().filter_map(|r| arch.syscall_nr(r.syscall)).collect();
        let depth = prologue_len(prog);
        assert!(depth < 4 * named.len(), "{arch}: a dispatch of {depth} for {} numbers", named.len());
    }
}

#[test]
fn to_bytes_is_the_kernel_layout() {
    let p = [jump(BPF_JEQ_K, AUDIT_ARCH_X86_64, 1, 2), stmt(BPF_RET_K, SECCOMP_RET_ALLOW)];
    assert_eq!(to_bytes(&p), [0x15, 0, 1, 2, 0x3e, 0, 0, 0xc0, 0x06, 0, 0, 0, 0, 0, 0xff, 0x7f]);
    #[cfg(target_endian = "little")]
    {
        // SAFETY: sock_filter is a plain C struct of integers, 8 bytes, no padding.
        let native = unsafe { std::slice::from_raw_parts(p.as_ptr().cast::<u8>(), p.len() * 8) };
        assert_eq!(native, to_bytes(&p).as_slice());
    }
}

/// SHA-256 of the exported bytes of each filter, per preset and arch. A
/// change here changes what every sandbox loads: review the BPF, then
/// update the hash (`cargo test -p sandbox-core seccomp -- --nocapture`
/// prints the new ones).
#[test]
fn golden_hashes() {
    let cases: [(&str, Seccomp, bool, Arch, &str); 6] = [
        ("strict", strict(), false, Arch::X86_64, "0523d6e1edfb9d8f76da26ded252b3f8ec1976861af98be7a1118141f8a808d1"),
        ("strict", strict(), false, Arch::Aarch64, "ea4bec0e7133e1958b85c387e8d7e817cff16eaac05e998752c114a3bb052d20"),
        ("strict multiarch", Seccomp { multiarch: true, ..strict() }, false, Arch::X86_64, "0eb2066248361dfbc865d0d864ce616e1392970274148dc3ec3df252a2bc4415"),
        ("strict multiarch", Seccomp { multiarch: true, ..strict() }, false, Arch::Aarch64, "ea4bec0e7133e1958b85c387e8d7e817cff16eaac05e998752c114a3bb052d20"),
        ("none keep-session", none(), true, Arch::X86_64, "18128b666dbeee8e8e368b8ad63c18e40b23e56858e1b14dab167ce6973359e6"),
        ("none keep-session", none(), true, Arch::Aarch64, "df481e6b7f26639c8080b1e0d620866296e3ab5c5065ce532340c01f20f3d8fd"),
    ];
    let mut wrong = Vec::new();
    for (name, policy, keep, arch, want) in cases {
        let f = filters(&policy, keep, arch);
        assert_eq!(f.len(), 1);
        let got = hex(&sha256(&to_bytes(&f[0])));
        println!("{name} {arch}: {} instructions, sha256 {got}", f[0].len());
        if got != want {
            wrong.push(format!("{name} {arch}: {got}"));
        }
    }
    assert!(wrong.is_empty(), "golden hashes changed:\n{}", wrong.join("\n"));
}

#[test]
fn tables_are_sorted_and_agree_with_libc() {
    for arch in Arch::ALL {
        let t = match arch {
            Arch::X86_64 => table_x86_64::TABLE,
            Arch::Aarch64 => table_aarch64::TABLE,
        };
        assert!(t.windows(2).all(|w| w[0].0 < w[1].0), "{arch}: sorted and unique");
        assert!(t.len() > 300, "{arch}");
    }
    // pinned from asm-generic/unistd.h and arch/x86/entry/syscalls/syscall_64.tbl
    for (name, x86, arm) in [
        ("read", Some(0), Some(63)),
        ("keyctl", Some(250), Some(219)),
        ("io_uring_setup", Some(425), Some(425)),
        ("userfaultfd", Some(323), Some(282)),
        ("process_vm_readv", Some(310), Some(270)),
        ("bpf", Some(321), Some(280)),
        ("ioctl", Some(16), Some(29)),
        ("getcwd", Some(79), Some(17)),
        ("clone3", Some(435), Some(435)),
        ("open", Some(2), None),
        ("modify_ldt", Some(154), None),
        ("umount", None, None),
        ("fchmodat2", Some(452), Some(452)),
        ("openat2", Some(437), Some(437)),
        ("setxattrat", Some(463), Some(463)),
        ("open_tree_attr", Some(467), Some(467)),
        ("file_setattr", Some(469), Some(469)),
        ("creat", Some(85), None),
        ("mknodat", Some(259), Some(33)),
    ] {
        assert_eq!((Arch::X86_64.syscall_nr(name), Arch::Aarch64.syscall_nr(name)), (x86, arm), "{name}");
    }
    // every preset name the host has, against libc's constants
    macro_rules! agree {
        ($($sys:ident),* $(,)?) => {
            let host = Arch::host().unwrap();
            $( assert_eq!(host.syscall_nr(&stringify!($sys)[4..]), Some(libc::$sys as u32), stringify!($sys)); )*
        };
    }
    agree!(
        SYS_syslog,
        SYS_acct,
        SYS_quotactl,
        SYS_add_key,
        SYS_keyctl,
        SYS_request_key,
        SYS_move_pages,
        SYS_mbind,
        SYS_get_mempolicy,
        SYS_set_mempolicy,
        SYS_migrate_pages,
        SYS_adjtimex,
        SYS_clock_adjtime,
        SYS_clock_settime,
        SYS_settimeofday,
        SYS_delete_module,
        SYS_finit_module,
        SYS_init_module,
        SYS_kexec_file_load,
        SYS_kexec_load,
        SYS_reboot,
        SYS_swapoff,
        SYS_swapon,
        SYS_unshare,
        SYS_setns,
        SYS_mount,
        SYS_umount2,
        SYS_pivot_root,
        SYS_chroot,
        SYS_clone,
        SYS_clone3,
        SYS_open_tree,
        SYS_move_mount,
        SYS_fsopen,
        SYS_fsconfig,
        SYS_fsmount,
        SYS_fspick,
        SYS_mount_setattr,
        SYS_setuid,
        SYS_setgid,
        SYS_setreuid,
        SYS_setregid,
        SYS_setresuid,
        SYS_setresgid,
        SYS_setfsuid,
        SYS_setfsgid,
        SYS_setgroups,
        SYS_fchown,
        SYS_fchownat,
        SYS_ioctl,
        SYS_perf_event_open,
        SYS_ptrace,
        SYS_personality,
        SYS_socket,
        SYS_io_uring_setup,
        SYS_io_uring_enter,
        SYS_io_uring_register,
        SYS_process_vm_readv,
        SYS_process_vm_writev,
        SYS_userfaultfd,
        SYS_bpf,
        SYS_read,
        SYS_write,
        SYS_getcwd,
        SYS_getpid,
        SYS_uname,
        SYS_kill,
        SYS_openat,
        SYS_execve,
        SYS_getppid,
        SYS_fchmod,
        SYS_fchmodat,
        SYS_fchmodat2,
        SYS_mkdirat,
        SYS_mknodat,
        SYS_openat2,
        SYS_setxattr,
        SYS_lsetxattr,
        SYS_fsetxattr,
        SYS_get_mempolicy,
        SYS_prctl,
    );
    #[cfg(target_arch = "x86_64")]
    agree!(SYS_open, SYS_chown, SYS_lchown, SYS_modify_ldt, SYS_uselib, SYS_chmod, SYS_creat, SYS_mkdir, SYS_mknod);
}

#[test]
fn constants_match_libc() {
    assert_eq!(presets::TIOCSTI, libc::TIOCSTI);
    assert_eq!(presets::TIOCLINUX, libc::TIOCLINUX);
    assert_eq!(presets::TIOCSETD, libc::TIOCSETD);
    assert_eq!(presets::TIOCCONS, libc::TIOCCONS);
    assert_eq!(presets::TIOCVHANGUP, libc::TIOCVHANGUP);
    assert_eq!(presets::TIOCSLCKTRMIOS, libc::TIOCSLCKTRMIOS);
    assert_eq!(presets::S_ISUID, u64::from(libc::S_ISUID));
    assert_eq!(presets::S_ISGID, u64::from(libc::S_ISGID));
    assert_eq!(presets::O_CREAT, libc::O_CREAT as u64);
    assert_eq!(presets::O_TMPFILE_BIT, (libc::O_TMPFILE & !libc::O_DIRECTORY) as u64);
    assert_eq!(presets::CLONE_NEWUSER, libc::CLONE_NEWUSER as u64);
    let families = [libc::AF_UNSPEC, libc::AF_UNIX, libc::AF_INET, libc::AF_INET6, libc::AF_NETLINK].map(|f| f as u64);
    let socket = PRESET_RULES.iter().find(|r| r.syscall == "socket").unwrap();
    assert_eq!(socket.args.iter().map(|a| a.value).collect::<Vec<_>>(), families);
}

#[test]
fn every_preset_rule_says_why_and_where_from() {
    for r in PRESET_RULES {
        assert!(!r.reason.is_empty() && !r.source.is_empty(), "{}", r.syscall);
        assert!(r.source.starts_with("hakurei") || r.source.starts_with("sandboxctl") || r.list == List::Extra, "{}: {}", r.syscall, r.source);
    }
}

/// Preset names an architecture lacks are skipped; pin which, so a typo in a
/// name cannot pass for an absent syscall.
#[test]
fn preset_names_absent_per_arch() {
    let absent = |arch: Arch| -> Vec<&str> {
        let mut v: Vec<&str> = PRESET_RULES.iter().map(|r| r.syscall).filter(|n| arch.syscall_nr(n).is_none()).collect();
        v.dedup();
        v
    };
    let everywhere = ["clock_adjtime64", "clock_settime64", "umount", "subpage_prot", "switch_endian", "vm86", "vm86old"];
    let mut x86 = absent(Arch::X86_64);
    x86.sort();
    let mut want = everywhere.to_vec();
    want.sort();
    assert_eq!(x86, want, "x86_64");
    let mut arm = absent(Arch::Aarch64);
    arm.sort();
    want.extend(["uselib", "modify_ldt", "chmod", "creat", "open", "mknod"]);
    want.sort();
    assert_eq!(arm, want, "aarch64");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// FIPS 180-4 SHA-256, enough for the golden hashes without a dependency.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
        0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
        0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ];
    let mut h: [u32; 8] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes(block[i * 4..i * 4 + 4].try_into().unwrap());
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let t1 = hh
                .wrapping_add(e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25))
                .wrapping_add((e & f) ^ (!e & g))
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let t2 = (a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22)).wrapping_add((a & b) ^ (a & c) ^ (b & c));
            (hh, g, f, e, d, c, b, a) = (g, f, e, d.wrapping_add(t1), c, b, a, t1.wrapping_add(t2));
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (i, x) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

#[test]
fn sha256_matches_the_standard_vectors() {
    assert_eq!(hex(&sha256(b"")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_eq!(hex(&sha256(b"abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_eq!(hex(&sha256(&[b'a'; 1000])), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

#[test]
fn fakeroot_fakes_ownership_ids_and_device_nodes_only() {
    let policy = Seccomp { fakeroot: true, ..none() };
    for arch in Arch::ALL {
        let f = filters(&policy, false, arch);
        assert_eq!(f.len(), 1, "{arch}");
        let a = |name: &str, args: &[u64]| answer(&f, call(arch, name, args));
        for name in [
            "fchownat",
            "fchown",
            "setuid",
            "setgid",
            "setresuid",
            "setresgid",
            "setreuid",
            "setregid",
            "setgroups",
            "setfsuid",
            "setfsgid",
            "capset",
            "kexec_load",
        ] {
            assert_eq!(a(name, &[0, 0, 0, 0]), errno(0), "{arch}: {name}");
        }
        let (chr, blk, fifo, sock, reg) = (libc::S_IFCHR as u64, libc::S_IFBLK as u64, libc::S_IFIFO as u64, libc::S_IFSOCK as u64, libc::S_IFREG as u64);
        assert_eq!(a("mknodat", &[0, 0, chr | 0o666, 0x103]), errno(0), "{arch}: char device");
        assert_eq!(a("mknodat", &[0, 0, blk | 0o600, 0x801]), errno(0), "{arch}: block device");
        assert_eq!(a("mknodat", &[0, 0, fifo | 0o644, 0]), ALLOW, "{arch}: a FIFO is really made");
        assert_eq!(a("mknodat", &[0, 0, sock | 0o644, 0]), ALLOW, "{arch}: a socket is really made");
        assert_eq!(a("mknodat", &[0, 0, reg | 0o644, 0]), ALLOW, "{arch}: a regular file is really made");
        assert_eq!(a("mknodat", &[0, 0, 1 << 32 | fifo, 0]), ALLOW, "{arch}: the high half of mode is not read");
        if arch == Arch::X86_64 {
            assert_eq!(a("mknod", &[0, chr | 0o666, 0x103]), errno(0));
            assert_eq!(a("mknod", &[0, fifo | 0o666, 0]), ALLOW);
            assert_eq!(a("chown", &[0, 0, 0]), errno(0));
            assert_eq!(a("lchown", &[0, 0, 0]), errno(0));
        }
        // Nothing else changes.
        for name in ["getuid", "openat", "chmod", "mount", "unshare", "ptrace", "process_vm_readv"] {
            if arch.syscall_nr(name).is_some() {
                assert_eq!(a(name, &[0, 0, 0, 0]), ALLOW, "{arch}: {name}");
            }
        }
    }
    // With the strict preset too: the preset's answers stay.
    let both = Seccomp { fakeroot: true, ..strict() };
    for arch in Arch::ALL {
        let f = filters(&both, false, arch);
        assert_eq!(answer(&f, call(arch, "setuid", &[0])), errno(0), "{arch}");
        assert_eq!(answer(&f, call(arch, "ptrace", &[])), errno(libc::EPERM), "{arch}");
    }
}

/// A pool's zygote loads one part and each sandbox the other: stacked, they
/// answer every call (each number, x32, foreign architectures, arguments of
/// each kind) as the whole filters do, for every shape of policy.
#[test]
fn the_zygotes_two_parts_answer_as_the_whole_filter() {
    for arch in Arch::ALL {
        for (policy, keep) in shapes() {
            let whole = filters(&policy, keep, arch);
            for id_bits in [false, true] {
                let parts = compile_zygote_for(&policy, keep, id_bits, arch).unwrap();
                let stacked: Vec<_> = parts.zygote.iter().chain(&parts.sandbox).cloned().collect();
                for c in every_call(arch) {
                    assert_eq!(answer(&stacked, c), answer(&whole, c), "{arch} id_bits {id_bits} nr {} arch {:#x} args {:?}", c.nr, c.arch, c.args);
                }
            }
        }
    }
}

/// What the set-up of a sandbox the zygote forks calls after the zygote's
/// part is loaded (mounts, openat2, the clone of the sandbox and of its
/// program), and an op's mode with a set-uid bit when the plan has one, gets
/// through that part; the rest of strict is in it, and the sandbox's own
/// part is the small one.
#[test]
fn the_zygotes_part_lets_the_set_up_through_and_holds_the_bulk() {
    let setup: &[(&str, [u64; 6])] = &[
        ("mount", [0; 6]),
        ("umount2", [0; 6]),
        ("pivot_root", [0; 6]),
        ("open_tree", [0; 6]),
        ("move_mount", [0; 6]),
        ("fsopen", [0; 6]),
        ("fsconfig", [0; 6]),
        ("fsmount", [0; 6]),
        ("mount_setattr", [0; 6]),
        ("openat2", [0; 6]),
        ("chroot", [0; 6]),
        ("unshare", [0; 6]),
        ("setns", [0; 6]),
        (
            "clone",
            [
                (libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWNET | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS | libc::CLONE_NEWCGROUP) as u64,
                0,
                0,
                0,
                0,
                0,
            ],
        ),
        ("clone", [libc::SIGCHLD as u64, 0, 0, 0, 0, 0]),
        ("socket", [libc::AF_INET as u64, libc::SOCK_DGRAM as u64, 0, 0, 0, 0]),
        ("ioctl", [3, libc::SIOCSIFFLAGS, 0, 0, 0, 0]),
    ];
    let suid: &[(&str, [u64; 6])] =
        &[("fchmodat", [3, 0, 0o4755, 0, 0, 0]), ("chmod", [0, 0o4755, 0, 0, 0, 0]), ("openat", [3, 0, libc::O_CREAT as u64, 0o4755, 0, 0])];
    for arch in Arch::ALL {
        for id_bits in [false, true] {
            let parts = compile_zygote_for(&strict(), false, id_bits, arch).unwrap();
            let zygote = &parts.zygote[0];
            for (name, args) in setup.iter().chain(if id_bits { suid } else { &[] }) {
                let Some(nr) = arch.syscall_nr(name) else { continue };
                assert_eq!(run(zygote, Call { nr, arch: audit(arch), args: *args }), ALLOW, "{arch}: {name} {args:?}");
            }
            // Without such a mode the set-uid rules are the zygote's, as are ptrace, bpf, keyctl...
            for (name, args) in suid.iter().filter(|_| !id_bits).chain(&[("ptrace", [0; 6]), ("bpf", [0; 6]), ("keyctl", [0; 6]), ("io_uring_setup", [0; 6])]) {
                let Some(nr) = arch.syscall_nr(name) else { continue };
                assert_ne!(run(zygote, Call { nr, arch: audit(arch), args: *args }), ALLOW, "{arch}: {name} {args:?}");
                assert_eq!(answer(&parts.sandbox, Call { nr, arch: audit(arch), args: *args }), ALLOW, "{arch}: {name} {args:?}");
            }
            let whole = filters(&strict(), false, arch)[0].len();
            let (z, s) = (zygote.len(), parts.sandbox[0].len());
            println!("{arch} id_bits {id_bits}: whole {whole} instructions, the zygote's part {z}, each sandbox's {s}");
            if !id_bits {
                assert!(s * 3 < whole, "{arch}: each sandbox loads {s} of {whole}");
            }
        }
    }
}
