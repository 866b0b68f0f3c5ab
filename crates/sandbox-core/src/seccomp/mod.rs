//! Stage: compiled in the launcher before any namespace exists, loaded by
//! pid 1 last, after every capability is gone. The strict preset is
//! hakurei's ext|deny-ns|deny-tty|deny-devel set (container/seccomp/
//! presets.go) plus its socket-family filter; each rule says why.
//!
//! seccompiler compiles one match action per filter, and the presets answer
//! with three errnos (EPERM, ENOSYS, EAFNOSUPPORT). Rather than stacking
//! three filters (three BPF runs per syscall), the programs are chained into
//! one: every "allow" return of a program becomes a jump to the next one.

use crate::plan::{Seccomp, SeccompPreset};
use seccompiler::{
    SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Cmp, SeccompCondition as Cond, SeccompFilter, SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

/// One rule of a preset: a syscall, optional argument conditions, the errno
/// it answers and the reason it is there.
struct Rule {
    nr: libc::c_long,
    conds: Vec<Vec<Cond>>,
    errno: i32,
    #[allow(dead_code)]
    why: &'static str,
}

fn deny(nr: libc::c_long, errno: i32, why: &'static str) -> Rule {
    Rule { nr, conds: Vec::new(), errno, why }
}

fn cond(arg: u8, len: Len, op: Cmp, v: u64) -> Cond {
    Cond::new(arg, len, op, v).expect("valid seccomp condition")
}


/// hakurei's strict set, for the architecture this binary runs on.
fn strict_rules() -> Vec<Rule> {
    use libc::*;
    let mut r = Vec::new();
    // always: kernel interfaces a sandboxed program has no business with.
    for (nr, why) in [
        (SYS_syslog, "kernel log"),
        (SYS_uselib, "obsolete loader interface"),
        (SYS_acct, "process accounting"),
        (SYS_quotactl, "disk quotas"),
        (SYS_add_key, "kernel keyring is not namespaced"),
        (SYS_keyctl, "kernel keyring is not namespaced"),
        (SYS_request_key, "kernel keyring is not namespaced"),
        (SYS_move_pages, "NUMA placement"),
        (SYS_mbind, "NUMA placement"),
        (SYS_get_mempolicy, "NUMA placement"),
        (SYS_set_mempolicy, "NUMA placement"),
        (SYS_migrate_pages, "NUMA placement"),
    ] {
        r.push(deny(nr, EPERM, why));
    }
    // ext: clock, modules, kexec, reboot, swap.
    for (nr, why) in [
        (SYS_adjtimex, "system clock"),
        (SYS_clock_adjtime, "system clock"),
        (SYS_clock_settime, "system clock"),
        (SYS_settimeofday, "system clock"),
        (SYS_delete_module, "kernel modules"),
        (SYS_finit_module, "kernel modules"),
        (SYS_init_module, "kernel modules"),
        (SYS_kexec_file_load, "kexec"),
        (SYS_kexec_load, "kexec"),
        (SYS_reboot, "reboot"),
        (SYS_swapoff, "swap"),
        (SYS_swapon, "swap"),
    ] {
        r.push(deny(nr, EPERM, why));
    }
    // deny-ns: no new namespaces or mounts from inside.
    for (nr, why) in [
        (SYS_unshare, "new namespaces"),
        (SYS_setns, "joining namespaces"),
        (SYS_mount, "mounts"),
        (SYS_umount2, "mounts"),
        (SYS_pivot_root, "mounts"),
        (SYS_chroot, "chroot"),
    ] {
        r.push(deny(nr, EPERM, why));
    }
    r.push(Rule {
        nr: SYS_clone,
        conds: vec![vec![cond(0, Len::Qword, Cmp::MaskedEq(CLONE_NEWUSER as u64), CLONE_NEWUSER as u64)]],
        errno: EPERM,
        why: "clone with CLONE_NEWUSER",
    });
    // A filter cannot read clone3's struct, so clone3 must look absent for
    // libc to fall back to clone, where the flags are visible (CVE-2021-41133);
    // the new mount API likewise.
    for nr in [SYS_clone3, SYS_open_tree, SYS_move_mount, SYS_fsopen, SYS_fsconfig, SYS_fsmount, SYS_fspick, SYS_mount_setattr] {
        r.push(deny(nr, ENOSYS, "clone3 and the new mount API escape argument filtering (CVE-2021-41133)"));
    }
    // deny-ns + ext: identity changes.
    for nr in [
        SYS_setuid, SYS_setgid, SYS_setreuid, SYS_setregid, SYS_setresuid, SYS_setresgid, SYS_setfsuid, SYS_setfsgid, SYS_setgroups,
        SYS_chown, SYS_fchown, SYS_lchown, SYS_fchownat,
    ] {
        r.push(deny(nr, EPERM, "identity and ownership changes"));
    }
    // deny-tty: TIOCSTI/TIOCLINUX push input into a terminal (CVE-2017-5226,
    // CVE-2023-28100); compare only the low 32 bits, the kernel does
    // (CVE-2019-10063).
    r.push(Rule {
        nr: SYS_ioctl,
        conds: vec![
            vec![cond(1, Len::Dword, Cmp::Eq, TIOCSTI as u64)],
            vec![cond(1, Len::Dword, Cmp::Eq, TIOCLINUX as u64)],
        ],
        errno: EPERM,
        why: "terminal input injection",
    });
    // deny-devel: tracing and profiling.
    r.push(deny(SYS_ptrace, EPERM, "ptrace"));
    r.push(deny(SYS_perf_event_open, EPERM, "perf events"));
    r.push(Rule {
        nr: SYS_personality,
        conds: vec![vec![cond(0, Len::Dword, Cmp::Ne, 0), cond(0, Len::Dword, Cmp::Ne, 0xffff_ffff)]],
        errno: EPERM,
        why: "personality other than PER_LINUX (and the query)",
    });
    #[cfg(target_arch = "x86_64")]
    r.push(deny(SYS_modify_ldt, EPERM, "16-bit segments (multiarch off)"));
    // Socket families other than unspec, local, inet, inet6 and netlink.
    r.push(Rule {
        nr: SYS_socket,
        conds: vec![[AF_UNSPEC, AF_UNIX, AF_INET, AF_INET6, AF_NETLINK]
            .iter()
            .map(|f| cond(0, Len::Dword, Cmp::Ne, *f as u64))
            .collect()],
        errno: EAFNOSUPPORT,
        why: "uncommon socket families",
    });
    r
}

fn target_arch() -> TargetArch {
    TargetArch::try_from(std::env::consts::ARCH).expect("seccomp: unsupported architecture")
}

/// Compile the plan's filters, in load order (empty: no filter at all).
/// `keep_session` forces the deny-tty rules on: a program that shares the
/// caller's terminal session must not push input into it.
pub fn compile(policy: &Seccomp, keep_session: bool) -> Result<Vec<Vec<libc::sock_filter>>, String> {
    let _ = keep_session;
    match policy.preset {
        SeccompPreset::None => Ok(Vec::new()),
        SeccompPreset::Strict => compile_rules(strict_rules()).map(|p| vec![p]),
    }
}

fn compile_rules(rules: Vec<Rule>) -> Result<Vec<libc::sock_filter>, String> {
    let mut by_errno: BTreeMap<i32, BTreeMap<i64, Vec<SeccompRule>>> = BTreeMap::new();
    for rule in rules {
        let entry = by_errno.entry(rule.errno).or_default().entry(rule.nr as i64).or_default();
        for c in rule.conds {
            entry.push(SeccompRule::new(c).map_err(|e| e.to_string())?);
        }
    }
    let mut programs = Vec::new();
    for (errno, map) in by_errno {
        let f = SeccompFilter::new(map, SeccompAction::Allow, SeccompAction::Errno(errno as u32), target_arch())
            .map_err(|e| e.to_string())?;
        let prog: seccompiler::BpfProgram = f.try_into().map_err(|e: seccompiler::BackendError| e.to_string())?;
        programs.push(prog);
    }
    Ok(chain(programs))
}

const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K
const BPF_JA: u16 = 0x05; // BPF_JMP | BPF_JA
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;

/// Chain programs: an "allow" return anywhere but in the last program jumps
/// to the start of the next one. Jumps are forward only, as BPF requires.
fn chain(programs: Vec<seccompiler::BpfProgram>) -> Vec<libc::sock_filter> {
    let n = programs.len();
    let mut out = Vec::new();
    for (i, prog) in programs.into_iter().enumerate() {
        let len = prog.len();
        for (j, ins) in prog.into_iter().enumerate() {
            let mut f = libc::sock_filter { code: ins.code, jt: ins.jt, jf: ins.jf, k: ins.k };
            if i + 1 < n && ins.code == BPF_RET_K && ins.k == SECCOMP_RET_ALLOW {
                f = libc::sock_filter { code: BPF_JA, jt: 0, jf: 0, k: (len - j - 1) as u32 };
            }
            out.push(f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_compiles_into_one_program_within_kernel_limits() {
        let p = compile(&Seccomp::default(), false).unwrap().remove(0);
        assert!(!p.is_empty() && p.len() < 4096, "{} instructions", p.len());
        // Only the last program may return allow.
        let allows: Vec<usize> = p.iter().enumerate().filter(|(_, f)| f.code == BPF_RET_K && f.k == SECCOMP_RET_ALLOW).map(|(i, _)| i).collect();
        assert!(!allows.is_empty());
        // every jump lands inside the program
        for (i, f) in p.iter().enumerate() {
            if f.code == BPF_JA {
                assert!(i + 1 + (f.k as usize) < p.len());
            }
        }
    }

    #[test]
    fn none_compiles_to_nothing() {
        assert!(compile(&Seccomp { preset: SeccompPreset::None, ..Default::default() }, false).unwrap().is_empty());
    }
}
