//! `linux.seccomp` compiled to one classic-BPF program for this machine's
//! architecture: rules in the spec's order, each `names × args → action`,
//! then `defaultAction`. OCI profiles are allow-lists with per-rule
//! actions, which the plan's compiler (default allow, one action per
//! seccompiler program) does not express; this emitter does, with 64-bit
//! argument comparisons as libseccomp makes them.
//!
//! Calls of another architecture (i386 on x86_64) and x32 calls answer
//! ENOSYS: no rule was written for their numbers. Names this kernel table
//! does not know are skipped, as runc and crun skip them.
//!
//! The program starts with a binary search on the call's number, as the
//! preset compiler's does (seccomp/mod.rs): a number no rule names gets
//! `defaultAction` at once, a named one jumps to its first rule and runs
//! the rules in order from there. The answer is the linear program's
//! (unit-tested on every number); the kernel's work is not. An allow-list
//! profile names most of the table, and the kernel's action cache runs the
//! program once per number when it is loaded: for the unit tests'
//! engine-like allow-list on x86_64 that is 109 thousand steps through the
//! rules in order and 9 thousand through the search; and a call with an
//! argument rule (clone, socket, personality) no longer walks every rule
//! before it at run time.
//! Should the search push a program past the kernel's 4096 instructions,
//! the rules are emitted alone, as before.
//!
//! [`filters`] is what a container gets, our defaults included: without
//! `linux.seccomp` the preset filter `sandboxctl run` loads, less the rules a
//! capability the spec grants lifts (moby's default profile does the same:
//! CAP_SYS_ADMIN brings back mount and unshare); with one, the spec's
//! filter and the terminal deny list stacked on it.

use super::spec::{Seccomp, SyscallArg};
use crate::plan::{Seccomp as PlanSeccomp, SeccompPreset, SyscallRule as PlanRule};
use crate::seccomp::{Arch, List, PresetRule, PRESET_RULES};
// The values the preset compiler uses too (seccomp/mod.rs), one definition.
use crate::seccomp::{
    BPF_JA as JA, BPF_JEQ_K as JEQ, BPF_JGE_K as JGE, BPF_LD_W_ABS as LD_W_ABS, BPF_MAXINSNS, BPF_RET_K as RET_K, SECCOMP_RET_ALLOW as RET_ALLOW,
    SECCOMP_RET_ERRNO as RET_ERRNO, SECCOMP_RET_KILL_PROCESS as RET_KILL_PROCESS, X32_SYSCALL_BIT as X32_BIT,
};

const RET_KILL_THREAD: u32 = 0;
const RET_TRAP: u32 = 0x0003_0000;
const RET_TRACE: u32 = 0x7ff0_0000;
const RET_LOG: u32 = 0x7ffc_0000;

fn audit_arch(a: Arch) -> u32 {
    match a {
        Arch::X86_64 => 0xC000_003E,
        Arch::Aarch64 => 0xC000_00B7,
    }
}

/// An action name with its errno → the filter's return value.
pub fn action(name: &str, errno: Option<u32>, default_errno: u32) -> Result<u32, String> {
    Ok(match name {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => RET_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS" => RET_KILL_PROCESS,
        "SCMP_ACT_TRAP" => RET_TRAP,
        "SCMP_ACT_ERRNO" => RET_ERRNO | (errno.unwrap_or(default_errno) & 0xffff),
        "SCMP_ACT_TRACE" => RET_TRACE | (errno.unwrap_or(default_errno) & 0xffff),
        "SCMP_ACT_LOG" => RET_LOG,
        "SCMP_ACT_ALLOW" => RET_ALLOW,
        "SCMP_ACT_NOTIFY" => return Err("SCMP_ACT_NOTIFY is not supported".into()),
        other => return Err(format!("unknown action {other}")),
    })
}

#[derive(Clone, Copy)]
enum Target {
    Next,
    Label(usize),
}

enum Insn {
    Stmt(u16, u32),
    Jump(u16, u32, Target, Target),
    /// An unconditional jump to a label: 32 bits of offset, where the
    /// conditional ones have 8.
    Always(usize),
    Label(usize),
}

struct Asm {
    code: Vec<Insn>,
    labels: usize,
}

const AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
const JGT: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
const JSET: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;

impl Asm {
    fn label(&mut self) -> usize {
        self.labels += 1;
        self.labels
    }
    fn ld(&mut self, off: u32) {
        self.code.push(Insn::Stmt(LD_W_ABS, off));
    }
    fn ret(&mut self, k: u32) {
        self.code.push(Insn::Stmt(RET_K, k));
    }
    fn jmp(&mut self, op: u16, k: u32, jt: Target, jf: Target) {
        self.code.push(Insn::Jump(op, k, jt, jf));
    }
    fn place(&mut self, l: usize) {
        self.code.push(Insn::Label(l));
    }
    fn always(&mut self, l: usize) {
        self.code.push(Insn::Always(l));
    }

    fn finish(self) -> Result<Vec<libc::sock_filter>, String> {
        let mut at = vec![0usize; self.labels + 1];
        let mut n = 0;
        for i in &self.code {
            match i {
                Insn::Label(l) => at[*l] = n,
                _ => n += 1,
            }
        }
        if n > BPF_MAXINSNS {
            return Err(format!("the filter has {n} instructions, more than the kernel's {BPF_MAXINSNS}"));
        }
        let mut out = Vec::with_capacity(n);
        for i in &self.code {
            let pc = out.len();
            let off = |t: Target| -> Result<u8, String> {
                match t {
                    Target::Next => Ok(0),
                    Target::Label(l) => u8::try_from(at[l] - pc - 1).map_err(|_| "a rule is too long to jump over".to_string()),
                }
            };
            match i {
                Insn::Label(_) => {}
                Insn::Stmt(code, k) => out.push(libc::sock_filter { code: *code, jt: 0, jf: 0, k: *k }),
                Insn::Jump(code, k, jt, jf) => out.push(libc::sock_filter { code: *code, jt: off(*jt)?, jf: off(*jf)?, k: *k }),
                Insn::Always(l) => out.push(libc::sock_filter { code: JA, jt: 0, jf: 0, k: (at[*l] - pc - 1) as u32 }),
            }
        }
        Ok(out)
    }
}

/// seccomp_data: nr at 0, arch at 4, args at 16 + 8i (low word first).
fn arg_lo(i: u32) -> u32 {
    16 + 8 * i
}
fn arg_hi(i: u32) -> u32 {
    20 + 8 * i
}

/// Emit one argument test: falls through when it holds, jumps to `fail` when not.
fn arg(a: &mut Asm, c: &SyscallArg, fail: usize) -> Result<(), String> {
    if c.index > 5 {
        return Err(format!("argument index {} is above 5", c.index));
    }
    let (hi, lo) = ((c.value >> 32) as u32, c.value as u32);
    let pass = a.label();
    let (f, p, n) = (Target::Label(fail), Target::Label(pass), Target::Next);
    a.ld(arg_hi(c.index));
    match c.op.as_str() {
        "SCMP_CMP_EQ" => {
            a.jmp(JEQ, hi, n, f);
            a.ld(arg_lo(c.index));
            a.jmp(JEQ, lo, n, f);
        }
        "SCMP_CMP_NE" => {
            a.jmp(JEQ, hi, n, p);
            a.ld(arg_lo(c.index));
            a.jmp(JEQ, lo, f, n);
        }
        "SCMP_CMP_GT" | "SCMP_CMP_GE" => {
            a.jmp(JGT, hi, p, n);
            a.jmp(JEQ, hi, n, f);
            a.ld(arg_lo(c.index));
            a.jmp(if c.op == "SCMP_CMP_GT" { JGT } else { JGE }, lo, n, f);
        }
        "SCMP_CMP_LT" | "SCMP_CMP_LE" => {
            a.jmp(JGT, hi, f, n);
            a.jmp(JEQ, hi, n, p);
            a.ld(arg_lo(c.index));
            a.jmp(if c.op == "SCMP_CMP_LT" { JGE } else { JGT }, lo, f, n);
        }
        "SCMP_CMP_MASKED_EQ" => {
            let (dhi, dlo) = ((c.value_two >> 32) as u32, c.value_two as u32);
            a.code.push(Insn::Stmt(AND_K, hi));
            a.jmp(JEQ, dhi, n, f);
            a.ld(arg_lo(c.index));
            a.code.push(Insn::Stmt(AND_K, lo));
            a.jmp(JEQ, dlo, n, f);
        }
        other => return Err(format!("unknown operator {other}")),
    }
    a.place(pass);
    Ok(())
}

/// Compile for this machine. `Err((json path suffix, reason))`.
pub fn compile(s: &Seccomp) -> Result<Vec<libc::sock_filter>, (String, String)> {
    let arch = Arch::host().ok_or_else(|| (String::new(), format!("seccomp is not supported on {}", std::env::consts::ARCH)))?;
    compile_for(s, arch)
}

pub fn compile_for(s: &Seccomp, arch: Arch) -> Result<Vec<libc::sock_filter>, (String, String)> {
    match emit(s, arch, true) {
        Err((path, e)) if path.is_empty() && e.contains("more than the kernel's") => emit(s, arch, false),
        r => r,
    }
}

/// The program, with the search on the number in front of the rules or not.
fn emit(s: &Seccomp, arch: Arch, search: bool) -> Result<Vec<libc::sock_filter>, (String, String)> {
    if s.listener_path.is_some() {
        return Err((".listenerPath".into(), "seccomp notification is not supported".into()));
    }
    for (i, f) in s.flags.iter().enumerate() {
        if !["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"].contains(&f.as_str()) {
            return Err((format!(".flags[{i}]"), format!("unsupported flag {f}")));
        }
    }
    let default_errno = s.default_errno_ret.unwrap_or(libc::EPERM as u32);
    let default = action(&s.default_action, None, default_errno).map_err(|e| (".defaultAction".to_string(), e))?;
    let enosys = RET_ERRNO | libc::ENOSYS as u32;
    let mut a = Asm { code: Vec::new(), labels: 0 };
    let native = a.label();
    a.ld(4);
    a.jmp(JEQ, audit_arch(arch), Target::Label(native), Target::Next);
    a.ret(enosys);
    a.place(native);
    a.ld(0);
    if arch == Arch::X86_64 {
        let not_x32 = a.label();
        a.jmp(JSET, X32_BIT, Target::Next, Target::Label(not_x32));
        a.ret(enosys);
        a.place(not_x32);
    }
    // Each named number's first rule, a label the search jumps to.
    let mut first: std::collections::BTreeMap<u32, usize> = std::collections::BTreeMap::new();
    if search {
        for nr in s.syscalls.iter().flat_map(|r| &r.names).filter_map(|n| arch.syscall_nr(n)) {
            first.entry(nr).or_insert_with(|| a.label());
        }
        let named: Vec<(u32, usize)> = first.iter().map(|(&nr, &l)| (nr, l)).collect();
        dispatch(&mut a, &named, default);
    }
    let mut nr_loaded = true;
    for (i, rule) in s.syscalls.iter().enumerate() {
        let act = action(&rule.action, rule.errno_ret, libc::EPERM as u32).map_err(|e| (format!(".syscalls[{i}].action"), e))?;
        for name in &rule.names {
            let Some(nr) = arch.syscall_nr(name) else { continue };
            // The search comes here with the number loaded; the rules
            // before fall through to here as they always did.
            if let Some(l) = first.remove(&nr) {
                a.place(l);
            }
            if !nr_loaded {
                a.ld(0);
            }
            let next = a.label();
            a.jmp(JEQ, nr, Target::Next, Target::Label(next));
            for c in &rule.args {
                arg(&mut a, c, next).map_err(|e| (format!(".syscalls[{i}].args"), e))?;
            }
            a.ret(act);
            a.place(next);
            nr_loaded = rule.args.is_empty();
        }
    }
    a.ret(default);
    a.finish().map_err(|e| (String::new(), e))
}

/// The search over `named` (sorted by number, the number loaded): a number
/// found jumps to its label, one not found returns `default`. Conditional
/// jumps only ever skip one instruction; the far ones are unconditional.
fn dispatch(a: &mut Asm, named: &[(u32, usize)], default: u32) {
    if named.len() <= 4 {
        for &(nr, l) in named {
            let skip = a.label();
            a.jmp(JEQ, nr, Target::Next, Target::Label(skip));
            a.always(l);
            a.place(skip);
        }
        a.ret(default);
        return;
    }
    let (below, above) = named.split_at(named.len() / 2);
    let (lower, upper) = (a.label(), a.label());
    a.jmp(JGE, above[0].0, Target::Next, Target::Label(lower));
    a.always(upper);
    a.place(lower);
    dispatch(a, below, default);
    a.place(upper);
    dispatch(a, above, default);
}

/// The capability that lifts a preset rule for a container whose bounding
/// set holds it (moby's default profile, `includes.caps`): a program given
/// that capability is meant to make the call. None: always on, whatever the
/// capabilities (the keyring is not namespaced; io_uring, AF_VSOCK and the
/// terminal ioctls are kernel surface no capability asks for).
pub fn lifted_by(r: &PresetRule) -> Option<&'static str> {
    match r.list {
        // Mounts, namespaces and the new mount API, as moby's CAP_SYS_ADMIN
        // block; chroot is its own capability.
        List::DenyNs if r.syscall == "chroot" => Some("CAP_SYS_CHROOT"),
        List::DenyNs => Some("CAP_SYS_ADMIN"),
        // With CAP_SYS_ADMIN the container can mount over a host bind
        // anyway: the set-id guard would stop nothing.
        List::NoSuid => Some("CAP_SYS_ADMIN"),
        List::DenyTty | List::Socket | List::NoMultiarch => None,
        _ => match r.syscall {
            "syslog" => Some("CAP_SYSLOG"),
            "acct" => Some("CAP_SYS_PACCT"),
            "quotactl" | "swapon" | "swapoff" | "perf_event_open" | "bpf" => Some("CAP_SYS_ADMIN"),
            "move_pages" | "mbind" | "set_mempolicy" | "migrate_pages" => Some("CAP_SYS_NICE"),
            "adjtimex" | "clock_adjtime" | "clock_adjtime64" | "clock_settime" | "clock_settime64" | "settimeofday" => Some("CAP_SYS_TIME"),
            "init_module" | "finit_module" | "delete_module" => Some("CAP_SYS_MODULE"),
            "kexec_load" | "kexec_file_load" | "reboot" => Some("CAP_SYS_BOOT"),
            "ptrace" | "process_vm_readv" | "process_vm_writev" | "userfaultfd" => Some("CAP_SYS_PTRACE"),
            _ => None,
        },
    }
}

/// Our default filter for a spec without `linux.seccomp`: the strict preset
/// as plan rules, without those a capability in `bounding` lifts and those
/// `arch` lacks (nothing there to block).
pub fn default_rules(bounding: &[String], arch: Arch) -> Vec<PlanRule> {
    PRESET_RULES
        .iter()
        .filter(|r| arch.syscall_nr(r.syscall).is_some())
        .filter(|r| lifted_by(r).is_none_or(|cap| !bounding.iter().any(|b| b == cap)))
        .map(|r| PlanRule { syscall: r.syscall.into(), args: r.args.to_vec(), action: r.action })
        .collect()
}

/// Every filter a container's processes load, in load order (ours first: a
/// spec's allow-list may not allow `seccomp` itself, so it must come last).
/// Without `linux.seccomp`: our default ([`default_rules`]). With it: the
/// terminal deny list (TIOCSTI, TIOCLINUX, ...), then the spec's. bwrap and
/// crun load only what they are given; we keep the terminal list because a
/// foreground container shares the caller's terminal, and no profile an
/// engine sends (moby's, podman's) refuses TIOCSTI.
pub fn filters(spec: &super::spec::Spec) -> Result<Vec<Vec<libc::sock_filter>>, crate::error::SetupError> {
    let ours = |policy: &PlanSeccomp, tty: bool| {
        crate::seccomp::compile(policy, tty).map_err(|e| super::spec::invalid("linux.seccomp", format!("our default filter: {e}")))
    };
    match &spec.linux.seccomp {
        None => {
            let caps = spec.process.as_ref().and_then(|p| p.capabilities.as_ref()).map(|c| c.bounding.as_slice()).unwrap_or(&[]);
            let arch = Arch::host().ok_or_else(|| super::spec::invalid("linux.seccomp", format!("seccomp is not supported on {}", std::env::consts::ARCH)))?;
            ours(&PlanSeccomp { preset: SeccompPreset::None, rules: default_rules(caps, arch), ..Default::default() }, false)
        }
        Some(s) => {
            let mut f = ours(&PlanSeccomp { preset: SeccompPreset::None, ..Default::default() }, true)?;
            f.push(compile(s).map_err(|(p, e)| super::spec::invalid(format!("linux.seccomp{p}"), e))?);
            Ok(f)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::spec::SyscallRule;
    use super::*;

    /// A tiny cBPF interpreter: enough to run what `compile_for` emits.
    fn run(prog: &[libc::sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, v) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&v.to_le_bytes());
        }
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let f = prog[pc];
            pc += 1;
            match f.code {
                LD_W_ABS => acc = u32::from_le_bytes(data[f.k as usize..f.k as usize + 4].try_into().unwrap()),
                RET_K => return f.k,
                AND_K => acc &= f.k,
                JA => pc += f.k as usize,
                op => {
                    let t = match op {
                        JEQ => acc == f.k,
                        JGT => acc > f.k,
                        JGE => acc >= f.k,
                        JSET => acc & f.k != 0,
                        _ => panic!("opcode {op}"),
                    };
                    pc += if t { f.jt } else { f.jf } as usize;
                }
            }
        }
    }

    fn rule(names: &[&str], action: &str, args: Vec<SyscallArg>) -> SyscallRule {
        SyscallRule { names: names.iter().map(|s| s.to_string()).collect(), action: action.into(), errno_ret: None, args }
    }
    fn cmp(index: u32, op: &str, value: u64, value_two: u64) -> SyscallArg {
        SyscallArg { index, value, value_two, op: op.into() }
    }

    #[test]
    fn allow_list_with_errno_default() {
        let s = Seccomp {
            default_action: "SCMP_ACT_ERRNO".into(),
            default_errno_ret: Some(38),
            syscalls: vec![
                rule(&["read", "write"], "SCMP_ACT_ALLOW", vec![]),
                rule(&["personality"], "SCMP_ACT_ALLOW", vec![cmp(0, "SCMP_CMP_EQ", 0xffff_ffff, 0)]),
                rule(&["clone"], "SCMP_ACT_ALLOW", vec![cmp(0, "SCMP_CMP_MASKED_EQ", 0x7E02_0000, 0)]),
                rule(&["kill"], "SCMP_ACT_KILL_PROCESS", vec![]),
                rule(&["no_such_call"], "SCMP_ACT_ALLOW", vec![]),
            ],
            ..Default::default()
        };
        let x = Arch::X86_64;
        let p = compile_for(&s, x).unwrap();
        let arch = audit_arch(x);
        let nr = |n: &str| x.syscall_nr(n).unwrap();
        assert_eq!(run(&p, arch, nr("read"), [0; 6]), RET_ALLOW);
        assert_eq!(run(&p, arch, nr("write"), [0; 6]), RET_ALLOW);
        assert_eq!(run(&p, arch, nr("open"), [0; 6]), RET_ERRNO | 38);
        assert_eq!(run(&p, arch, nr("personality"), [0xffff_ffff, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(run(&p, arch, nr("personality"), [0x1_ffff_ffff, 0, 0, 0, 0, 0]), RET_ERRNO | 38);
        assert_eq!(run(&p, arch, nr("clone"), [libc::SIGCHLD as u64, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(run(&p, arch, nr("clone"), [libc::CLONE_NEWUSER as u64, 0, 0, 0, 0, 0]), RET_ERRNO | 38);
        assert_eq!(run(&p, arch, nr("kill"), [0; 6]), RET_KILL_PROCESS);
        assert_eq!(run(&p, 0x4000_0003, 3, [0; 6]), RET_ERRNO | libc::ENOSYS as u32, "i386");
        assert_eq!(run(&p, arch, nr("read") | X32_BIT, [0; 6]), RET_ERRNO | libc::ENOSYS as u32, "x32");
    }

    #[test]
    fn ordered_comparisons_are_64_bit() {
        let x = Arch::X86_64;
        let nr = x.syscall_nr("socket").unwrap();
        for (op, v, cases) in [
            ("SCMP_CMP_GT", 10u64, vec![(11u64, true), (10, false), (1 << 32, true), (0, false)]),
            ("SCMP_CMP_GE", 10, vec![(10, true), (9, false), (1 << 33, true)]),
            ("SCMP_CMP_LT", 1 << 32, vec![(5, true), (1 << 32, false), ((1 << 32) + 1, false)]),
            ("SCMP_CMP_LE", 10, vec![(10, true), (11, false), ((1 << 32) + 1, false), (0, true)]),
            ("SCMP_CMP_NE", 7, vec![(7, false), (8, true), ((1 << 32) + 7, true)]),
        ] {
            let s = Seccomp {
                default_action: "SCMP_ACT_ALLOW".into(),
                syscalls: vec![rule(&["socket"], "SCMP_ACT_ERRNO", vec![cmp(1, op, v, 0)])],
                ..Default::default()
            };
            let p = compile_for(&s, x).unwrap();
            for (arg, hit) in cases {
                let got = run(&p, audit_arch(x), nr, [0, arg, 0, 0, 0, 0]);
                assert_eq!(got == RET_ERRNO | libc::EPERM as u32, hit, "{op} {v} vs {arg}");
            }
        }
    }

    /// A profile of the shape engines hand over (podman's and moby's
    /// default): an allow-list of most of the table with errno as the
    /// default, argument rules on a few calls, a call named twice, a kill
    /// and a name this table does not know.
    fn engine_like(arch: Arch) -> Seccomp {
        let table: Vec<&str> = arch.table().iter().map(|(n, _)| *n).collect();
        let refused = ["clone", "clone3", "personality", "socket", "ptrace", "mount", "unshare", "kexec_load", "bpf", "reboot"];
        let allowed: Vec<&str> = table.iter().copied().filter(|n| !refused.contains(n)).collect();
        Seccomp {
            default_action: "SCMP_ACT_ERRNO".into(),
            default_errno_ret: Some(1),
            syscalls: vec![
                rule(&allowed, "SCMP_ACT_ALLOW", vec![]),
                rule(&["personality"], "SCMP_ACT_ALLOW", vec![cmp(0, "SCMP_CMP_EQ", 0, 0)]),
                rule(&["personality"], "SCMP_ACT_ALLOW", vec![cmp(0, "SCMP_CMP_EQ", 8, 0)]),
                rule(&["clone"], "SCMP_ACT_ALLOW", vec![cmp(0, "SCMP_CMP_MASKED_EQ", 0x7E02_0000, 0)]),
                rule(&["socket"], "SCMP_ACT_ERRNO", vec![cmp(0, "SCMP_CMP_EQ", 40, 0)]),
                rule(&["socket"], "SCMP_ACT_ALLOW", vec![cmp(0, "SCMP_CMP_NE", 16, 0), cmp(1, "SCMP_CMP_LE", 5, 0)]),
                rule(&["clone3"], "SCMP_ACT_ERRNO", vec![]),
                rule(&["kexec_load", "no_such_call"], "SCMP_ACT_KILL_PROCESS", vec![]),
                rule(&["read"], "SCMP_ACT_KILL_PROCESS", vec![]),
            ],
            ..Default::default()
        }
    }

    /// Deny-list profiles too: allow by default, a few answers.
    fn deny_list() -> Seccomp {
        Seccomp {
            default_action: "SCMP_ACT_ALLOW".into(),
            syscalls: vec![
                rule(&["mount", "umount2", "ptrace"], "SCMP_ACT_ERRNO", vec![]),
                rule(&["ioctl"], "SCMP_ACT_ERRNO", vec![cmp(1, "SCMP_CMP_MASKED_EQ", 0xffff_ffff, 0x5412)]),
                rule(&["kill", "tkill", "tgkill", "socket", "bind"], "SCMP_ACT_TRAP", vec![]),
                rule(&["personality"], "SCMP_ACT_LOG", vec![cmp(0, "SCMP_CMP_GT", 0xff, 0)]),
            ],
            ..Default::default()
        }
    }

    /// Every number of the table and past it, both arches' audit values,
    /// x32 numbers, and argument shapes that meet and miss each operator.
    fn every_call(arch: Arch) -> Vec<(u32, u32, [u64; 6])> {
        let max = arch.table().iter().map(|(_, nr)| *nr).max().unwrap();
        let shapes: [[u64; 6]; 6] = [
            [0; 6],
            [8, 0, 0, 0, 0, 0],
            [0x7E02_0000, 3, 0, 0, 0, 0],
            [libc::SIGCHLD as u64, 1, 0, 0, 0, 0],
            [40, 9, 0, 0, 0, 0],
            [0x1_0000_0100, 0x5412, 0, 0, 0, 0],
        ];
        let mut calls = Vec::new();
        for nr in 0..=max + 3 {
            for args in shapes {
                calls.push((audit_arch(arch), nr, args));
            }
            calls.push((audit_arch(arch), nr | X32_BIT, [0; 6]));
            calls.push((0x4000_0003, nr, [0; 6]));
        }
        calls
    }

    #[test]
    fn the_search_answers_as_the_rules_alone() {
        for arch in Arch::ALL {
            for s in [engine_like(arch), deny_list()] {
                let with = emit(&s, arch, true).unwrap();
                let without = emit(&s, arch, false).unwrap();
                assert!(with.len() > without.len());
                assert_eq!(compile_for(&s, arch).unwrap().len(), with.len(), "{arch}: the search is used");
                for (a, nr, args) in every_call(arch) {
                    assert_eq!(run(&with, a, nr, args), run(&without, a, nr, args), "{arch} arch {a:#x} nr {nr} args {args:?}");
                }
            }
        }
    }

    #[test]
    fn the_search_cuts_the_kernels_work_at_load() {
        for arch in Arch::ALL {
            let s = engine_like(arch);
            let (with, without) =
                (crate::seccomp::cache_work(&emit(&s, arch, true).unwrap(), arch), crate::seccomp::cache_work(&emit(&s, arch, false).unwrap(), arch));
            println!("{arch}: the action cache's emulation {with} steps with the search, {without} without");
            assert!(with * 8 < without, "{arch}: {with} against {without}");
        }
    }

    #[test]
    fn a_profile_the_search_would_push_past_the_limit_is_emitted_without_it() {
        let x = Arch::X86_64;
        let mut s = engine_like(x);
        // Argument rules until the rules alone nearly fill the program.
        while emit(&s, x, false).unwrap().len() < BPF_MAXINSNS - 40 {
            let v = s.syscalls.len() as u64;
            s.syscalls.push(rule(&["ioctl"], "SCMP_ACT_ALLOW", vec![cmp(1, "SCMP_CMP_EQ", v, 0)]));
        }
        assert!(emit(&s, x, true).is_err());
        let p = compile_for(&s, x).unwrap();
        assert_eq!(p.len(), emit(&s, x, false).unwrap().len());
        assert_eq!(run(&p, audit_arch(x), x.syscall_nr("ioctl").unwrap(), [0, 20, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(run(&p, audit_arch(x), x.syscall_nr("mount").unwrap(), [0; 6]), RET_ERRNO | 1);
        // Beyond the limit even without it: refused, as before.
        while emit(&s, x, false).is_ok() {
            let v = s.syscalls.len() as u64;
            s.syscalls.push(rule(&["ioctl"], "SCMP_ACT_ALLOW", vec![cmp(1, "SCMP_CMP_EQ", v, 0)]));
        }
        assert!(compile_for(&s, x).unwrap_err().1.contains("more than the kernel's 4096"));
    }

    #[test]
    fn notify_and_unknown_actions_are_refused() {
        let s = Seccomp { default_action: "SCMP_ACT_NOTIFY".into(), ..Default::default() };
        assert_eq!(compile_for(&s, Arch::X86_64).unwrap_err().0, ".defaultAction");
        let s = Seccomp { default_action: "SCMP_ACT_ALLOW".into(), syscalls: vec![rule(&["read"], "SCMP_ACT_NOPE", vec![])], ..Default::default() };
        assert_eq!(compile_for(&s, Arch::X86_64).unwrap_err().0, ".syscalls[0].action");
    }
}

#[cfg(test)]
mod default_tests {
    use super::super::spec::{self, Capabilities, Process, Spec};
    use super::*;

    fn names(rules: &[PlanRule]) -> Vec<&str> {
        rules.iter().map(|r| r.syscall.as_str()).collect()
    }

    /// runc's default spec (`oci spec`): every preset rule, none lifted.
    #[test]
    fn the_default_spec_gets_the_whole_preset() {
        let caps: Vec<String> = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"].map(String::from).to_vec();
        for arch in Arch::ALL {
            assert_eq!(default_rules(&caps, arch).len(), PRESET_RULES.iter().filter(|r| arch.syscall_nr(r.syscall).is_some()).count(), "{arch}");
        }
    }

    /// A capability lifts exactly the calls that need it; the keyring,
    /// io_uring, socket families and terminal ioctls stay refused with every
    /// capability (podman --privileged).
    #[test]
    fn capabilities_lift_what_they_grant_and_nothing_else() {
        let x = Arch::X86_64;
        let admin = default_rules(&["CAP_SYS_ADMIN".into()], x);
        for gone in ["mount", "unshare", "setns", "clone3", "fsopen", "chmod", "bpf"] {
            assert!(!names(&admin).contains(&gone), "{gone}");
        }
        for kept in ["ptrace", "keyctl", "io_uring_setup", "socket", "ioctl", "modify_ldt", "chroot", "reboot"] {
            assert!(names(&admin).contains(&kept), "{kept}");
        }
        let ptrace = default_rules(&["CAP_SYS_PTRACE".into()], x);
        assert!(!names(&ptrace).contains(&"ptrace") && !names(&ptrace).contains(&"process_vm_writev"));
        assert!(names(&ptrace).contains(&"mount"));
        let all: Vec<String> = crate::caps::NAMES.iter().map(|n| n.to_string()).collect();
        let known = PRESET_RULES.iter().filter(|r| x.syscall_nr(r.syscall).is_some());
        assert_eq!(default_rules(&all, x).len(), known.filter(|r| lifted_by(r).is_none()).count());
        for r in PRESET_RULES {
            if let Some(cap) = lifted_by(r) {
                assert!(spec::cap_number(cap).is_some(), "{cap}");
            }
        }
    }

    /// Without linux.seccomp one filter (ours); with it, the terminal deny
    /// list first and the spec's program last, as compiled alone.
    #[test]
    fn filters_in_load_order() {
        let mut s = Spec { process: Some(Process { capabilities: Some(Capabilities::default()), ..Default::default() }), ..Default::default() };
        assert_eq!(filters(&s).unwrap().len(), 1);
        let own = super::super::spec::Seccomp { default_action: "SCMP_ACT_ALLOW".into(), ..Default::default() };
        s.linux.seccomp = Some(own.clone());
        let f = filters(&s).unwrap();
        assert_eq!(f.len(), 2);
        let last = compile(&own).unwrap();
        assert_eq!(f[1].iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect::<Vec<_>>(), last.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect::<Vec<_>>());
    }
}
