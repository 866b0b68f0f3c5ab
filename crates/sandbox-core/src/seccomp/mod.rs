//! Stage: compiled in the launcher before any namespace exists, loaded by
//! pid 1 last, after no_new_privs and after every capability is gone.
//! Input: the plan's `seccomp` section and whether the caller's terminal
//! session is kept. Output: classic-BPF programs in load order.
//!
//! The first filter holds the preset's rules (`presets.rs`) and the plan's
//! own `rules`; every entry of `stack` is a filter of its own after it.
//! seccompiler compiles one match action per program, so each filter is a
//! chain of programs, one per action; every "allow" return of a program but
//! the last becomes a jump to the next one, so a call runs one BPF program
//! however many answers the filter has. Programs run in the kernel's order
//! of precedence: kill, then errno (the plan's own errnos before the
//! preset's, so a custom rule can change a preset answer), then log. The
//! first program that does not allow answers, as the kernel would answer
//! for the same programs stacked.
//!
//! Every filter starts with a dispatch on the syscall number (a binary
//! search over the numbers its rules name): a call no rule names is allowed
//! there, in a dozen instructions, and only the named ones run the chain.
//! The answers are the chain's own; what changes is the kernel's work when
//! the filter is loaded, which emulates the filter for every syscall number
//! to find the ones it may allow without running it (the action cache):
//! through the chain that was every number times the whole filter (76
//! thousand steps for strict on x86_64, 13 thousand with the dispatch; the
//! load went from 0.28-0.40 to 0.16-0.21 ms under strace).
//!
//! Architectures: rules are compiled for x86_64 or aarch64 (names resolved
//! through the tables in `table_*.rs`). seccompiler starts every program
//! with an architecture check that kills the process on a mismatch, so i386
//! calls on x86_64 (AUDIT_ARCH_I386) and arm32 calls on aarch64 are always
//! killed, multiarch or not: their syscall numbers differ and no rule would
//! match them. x32 calls carry the x86_64 audit arch with bit 30 set in the
//! number, so that check lets them through and no rule (written with x86_64
//! numbers) would match them: every filter therefore starts with a program
//! that answers them ENOSYS, as a kernel built or booted without x32 does
//! (most distributions), so a program probing for x32 sees it absent. This
//! holds with `multiarch` too: letting x32 through would let every rule be
//! bypassed on a kernel with x32 enabled. `multiarch` only allows modify_ldt.

pub mod fakeroot;
pub mod notify;
mod presets;
mod table_aarch64;
mod table_x86_64;
#[cfg(test)]
mod tests;

pub use presets::{List, PresetRule, RULES as PRESET_RULES};

use crate::plan::{ArgCondition, CmpOp, RuleAction, Seccomp, SeccompPreset, SyscallRule};
use seccompiler::{SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Cmp, SeccompCondition as Cond, SeccompFilter, SeccompRule, TargetArch};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The architectures filters can be compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// The architecture this binary runs on, if filters can be compiled for it.
    pub fn host() -> Option<Arch> {
        Arch::from_name(std::env::consts::ARCH)
    }

    /// `x86_64` or `aarch64` (as `uname -m` and Rust name them).
    pub fn from_name(name: &str) -> Option<Arch> {
        match name {
            "x86_64" => Some(Arch::X86_64),
            "aarch64" => Some(Arch::Aarch64),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The syscall number of `name` on this architecture.
    pub fn syscall_nr(self, name: &str) -> Option<u32> {
        let table = self.table();
        table.binary_search_by(|(n, _)| (*n).cmp(name)).ok().map(|i| table[i].1)
    }

    /// Every syscall name and number of this architecture, sorted by name.
    pub fn table(self) -> &'static [(&'static str, u32)] {
        match self {
            Arch::X86_64 => table_x86_64::TABLE,
            Arch::Aarch64 => table_aarch64::TABLE,
        }
    }

    fn target(self) -> TargetArch {
        match self {
            Arch::X86_64 => TargetArch::x86_64,
            Arch::Aarch64 => TargetArch::aarch64,
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a policy does not compile. `path` is the JSON path of the offending
/// plan field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeccompError {
    #[error("{path}: unknown syscall {name:?} on {arch}")]
    UnknownSyscall { path: String, name: String, arch: Arch },
    #[error("{path}: {reason}")]
    InvalidRule { path: String, reason: String },
    #[error("{path}: the filter has {len} instructions, more than the kernel's limit of {max}")]
    TooLong { path: String, len: usize, max: usize },
    #[error("{path}: cannot compile the filter: {reason}")]
    Backend { path: String, reason: String },
    #[error("plan.seccomp: no seccomp support for the {0} architecture (x86_64 and aarch64 only)")]
    UnsupportedArch(String),
}

impl SeccompError {
    /// JSON path of the plan field at fault.
    pub fn path(&self) -> &str {
        match self {
            SeccompError::UnknownSyscall { path, .. }
            | SeccompError::InvalidRule { path, .. }
            | SeccompError::TooLong { path, .. }
            | SeccompError::Backend { path, .. } => path,
            SeccompError::UnsupportedArch(_) => "plan.seccomp",
        }
    }
}

/// Compile the plan's filters for this machine, in load order (empty: no
/// filter at all). `keep_session` forces the deny-tty rules on: a program
/// that shares the caller's terminal session must not push input into it.
pub fn compile(policy: &Seccomp, keep_session: bool) -> Result<Vec<Vec<libc::sock_filter>>, String> {
    let arch = Arch::host().ok_or_else(|| SeccompError::UnsupportedArch(std::env::consts::ARCH.into()).to_string())?;
    compile_for(policy, keep_session, arch).map_err(|e| e.to_string())
}

/// Check that the policy compiles on this machine, without keeping the
/// result: unknown syscall names, bad conditions, oversized filters.
pub fn check(policy: &Seccomp) -> Result<(), SeccompError> {
    let arch = Arch::host().ok_or_else(|| SeccompError::UnsupportedArch(std::env::consts::ARCH.into()))?;
    compile_for(policy, true, arch).map(drop)
}

/// [`compile`] for a given architecture.
pub fn compile_for(policy: &Seccomp, keep_session: bool, arch: Arch) -> Result<Vec<Vec<libc::sock_filter>>, SeccompError> {
    let first = first_rules(policy, keep_session, arch)?;
    let order = answer_order(first.iter().map(|(r, _)| r.action));
    let mut filters = Vec::new();
    if !first.is_empty() {
        filters.push(build(first.into_iter().map(|(r, _)| r).collect(), &order, arch, "plan.seccomp")?);
    }
    filters.extend(stacked(policy, arch)?);
    Ok(filters)
}

/// [`compile`] in two parts for a warm pool's zygote (init/zygote.rs): the
/// zygote loads the first part once, before it serves, and every sandbox it
/// forks inherits it; each sandbox loads only the second part, after its
/// root is built. The kernel then converts, compiles and caches the bulk of
/// the filter once per pool instead of once per sandbox.
///
/// The first part holds the preset's rules for calls no sandbox's set-up
/// makes with arguments they refuse; the second part every other rule of
/// the first filter (the mount family, namespaces and openat2, which the
/// set-up makes; the set-uid rules when `id_bits`, a plan op's mode with a
/// set-uid or set-gid bit; the plan's own rules and fakeroot's, which may
/// name anything), then the stacked filters. The rules are split by syscall
/// number, every rule of a number on one side, and each side's programs
/// keep the whole filter's order of answers: for any call one part answers
/// as the whole filter would and the other allows it, so the two stacked
/// answer as [`compile_for`]'s filters do (tests: the_zygotes_two_parts_
/// answer_as_the_whole_filter).
pub fn compile_zygote(policy: &Seccomp, keep_session: bool, id_bits: bool) -> Result<ZygoteFilters, String> {
    let arch = Arch::host().ok_or_else(|| SeccompError::UnsupportedArch(std::env::consts::ARCH.into()).to_string())?;
    compile_zygote_for(policy, keep_session, id_bits, arch).map_err(|e| e.to_string())
}

/// The two parts of [`compile_zygote`]: the zygote's, and each sandbox's.
#[derive(Debug, Default)]
pub struct ZygoteFilters {
    pub zygote: Vec<Vec<libc::sock_filter>>,
    pub sandbox: Vec<Vec<libc::sock_filter>>,
}

/// [`compile_zygote`] for a given architecture.
pub fn compile_zygote_for(policy: &Seccomp, keep_session: bool, id_bits: bool, arch: Arch) -> Result<ZygoteFilters, SeccompError> {
    let first = first_rules(policy, keep_session, arch)?;
    let order = answer_order(first.iter().map(|(r, _)| r.action));
    let late_list = |list: List| list == List::DenyNs || (id_bits && list == List::NoSuid);
    // The set-up resolves every op's target with openat2 (RESOLVE_IN_ROOT).
    let openat2 = arch.syscall_nr("openat2");
    // Every number some rule must answer in the sandbox's own part.
    let late: BTreeSet<u32> = first.iter().filter(|(r, from)| Some(r.nr) == openat2 || from.is_none_or(late_list)).map(|(r, _)| r.nr).collect();
    let (sandbox, zygote): (Vec<_>, Vec<_>) = first.into_iter().map(|(r, _)| r).partition(|r| late.contains(&r.nr));
    let mut out = ZygoteFilters::default();
    if !zygote.is_empty() {
        out.zygote.push(build(zygote, &order, arch, "plan.seccomp")?);
    }
    if !sandbox.is_empty() {
        out.sandbox.push(build(sandbox, &order, arch, "plan.seccomp")?);
    }
    out.sandbox.extend(stacked(policy, arch)?);
    Ok(out)
}

/// The first filter's rules in order, each with the preset list it comes
/// from (none: the plan's own rules and fakeroot's).
fn first_rules(policy: &Seccomp, keep_session: bool, arch: Arch) -> Result<Vec<(Lowered, Option<List>)>, SeccompError> {
    let mut first = Vec::new();
    // The plan's own rules go first: among answers of one kind, the first
    // program wins, and a custom errno should win over the preset's.
    for (i, r) in policy.rules.iter().enumerate() {
        first.push((lower_custom(r, &format!("plan.seccomp.rules[{i}]"), arch)?, None));
    }
    let strict = policy.preset == SeccompPreset::Strict;
    for r in PRESET_RULES {
        let on = match r.list {
            List::DenyTty => strict || keep_session,
            List::NoMultiarch => strict && !policy.multiarch,
            _ => strict,
        };
        // Names this architecture lacks have nothing to block.
        if let (true, Some(nr)) = (on, arch.syscall_nr(r.syscall)) {
            first.push((lower(nr, r.args, r.action, "plan.seccomp.preset")?, Some(r.list)));
        }
    }
    if policy.fakeroot {
        for name in fakeroot::ALWAYS {
            if let Some(nr) = arch.syscall_nr(name) {
                first.push((lower(nr, &[], RuleAction::Errno(0), "plan.seccomp.fakeroot")?, None));
            }
        }
        for (name, index) in fakeroot::DEVICE_NODES {
            if let Some(nr) = arch.syscall_nr(name) {
                for conds in fakeroot::device_conditions(*index) {
                    first.push((lower(nr, &conds, RuleAction::Errno(0), "plan.seccomp.fakeroot")?, None));
                }
            }
        }
    }
    Ok(first)
}

/// The stacked filters (plan.seccomp.stack), each a filter of its own.
fn stacked(policy: &Seccomp, arch: Arch) -> Result<Vec<Vec<libc::sock_filter>>, SeccompError> {
    let mut filters = Vec::new();
    for (s, filter) in policy.stack.iter().enumerate() {
        let path = format!("plan.seccomp.stack[{s}]");
        if filter.rules.is_empty() {
            return Err(SeccompError::InvalidRule { path: format!("{path}.rules"), reason: "a stacked filter needs at least one rule".into() });
        }
        let rules = filter.rules.iter().enumerate().map(|(i, r)| lower_custom(r, &format!("{path}.rules[{i}]"), arch)).collect::<Result<Vec<_>, _>>()?;
        let order = answer_order(rules.iter().map(|r| r.action));
        filters.push(build(rules, &order, arch, &path)?);
    }
    Ok(filters)
}

/// A program as the kernel and bubblewrap's `--seccomp FD` read it: the
/// `struct sock_filter` array, 8 bytes per instruction (u16 code, u8 jt,
/// u8 jf, u32 k), little-endian as on both supported architectures.
pub fn to_bytes(program: &[libc::sock_filter]) -> Vec<u8> {
    let mut out = Vec::with_capacity(program.len() * 8);
    for f in program {
        out.extend_from_slice(&f.code.to_le_bytes());
        out.push(f.jt);
        out.push(f.jf);
        out.extend_from_slice(&f.k.to_le_bytes());
    }
    out
}

/// One rule, resolved: syscall number, the conditions that must all hold
/// (none: every call), and the answer.
struct Lowered {
    nr: u32,
    conds: Vec<Cond>,
    action: RuleAction,
}

fn lower_custom(r: &SyscallRule, path: &str, arch: Arch) -> Result<Lowered, SeccompError> {
    let nr = arch.syscall_nr(&r.syscall).ok_or_else(|| SeccompError::UnknownSyscall { path: format!("{path}.syscall"), name: r.syscall.clone(), arch })?;
    if let RuleAction::Errno(e) = r.action {
        // The kernel hands back -errno; above MAX_ERRNO libc would take it
        // for a successful return value.
        if e > 4095 {
            return Err(SeccompError::InvalidRule { path: format!("{path}.action"), reason: format!("errno {e} is out of range 0..4095") });
        }
    }
    lower(nr, &r.args, r.action, path)
}

fn lower(nr: u32, args: &[ArgCondition], action: RuleAction, path: &str) -> Result<Lowered, SeccompError> {
    let mut conds = Vec::new();
    for (j, a) in args.iter().enumerate() {
        let bad = |field: &str, reason: String| SeccompError::InvalidRule { path: format!("{path}.args[{j}]{field}"), reason };
        if a.index > 5 {
            return Err(bad(".index", format!("argument index {} is out of range 0..5", a.index)));
        }
        let op = match (a.op, a.mask) {
            (CmpOp::MaskedEq, Some(mask)) => Cmp::MaskedEq(mask),
            (CmpOp::MaskedEq, None) => return Err(bad(".mask", "maskedEq needs a mask".into())),
            (_, Some(_)) => return Err(bad(".mask", "a mask only applies to maskedEq".into())),
            (CmpOp::Eq, None) => Cmp::Eq,
            (CmpOp::Ne, None) => Cmp::Ne,
            (CmpOp::Lt, None) => Cmp::Lt,
            (CmpOp::Le, None) => Cmp::Le,
            (CmpOp::Gt, None) => Cmp::Gt,
            (CmpOp::Ge, None) => Cmp::Ge,
        };
        let len = if a.low32 {
            if a.value > u64::from(u32::MAX) || a.mask.is_some_and(|m| m > u64::from(u32::MAX)) {
                return Err(bad("", format!("value {:#x} does not fit in the 32 bits low32 compares", a.value.max(a.mask.unwrap_or(0)))));
            }
            Len::Dword
        } else {
            Len::Qword
        };
        conds.push(Cond::new(a.index, len, op, a.value).map_err(|e| bad("", e.to_string()))?);
    }
    Ok(Lowered { nr, conds, action })
}

/// Precedence class of an answer: the kernel's (kill over errno over log).
fn class(action: RuleAction) -> u8 {
    match action {
        RuleAction::Kill => 0,
        RuleAction::Errno(_) => 1,
        RuleAction::Log => 2,
    }
}

/// The order of a filter's programs, one per answer: the kernel's order of
/// precedence (kill, then errno, then log), and within a class the order in
/// which the answers first appear (stable).
fn answer_order(actions: impl IntoIterator<Item = RuleAction>) -> Vec<RuleAction> {
    let mut order: Vec<RuleAction> = Vec::new();
    for a in actions {
        if !order.contains(&a) {
            order.push(a);
        }
    }
    order.sort_by_key(|a| class(*a));
    order
}

/// Group rules into one program per answer, order the programs, compile
/// them and chain them into one.
fn build(rules: Vec<Lowered>, order: &[RuleAction], arch: Arch, path: &str) -> Result<Vec<libc::sock_filter>, SeccompError> {
    // answer → syscall → alternatives; None once any alternative is
    // unconditional (seccompiler's empty rule list matches every call).
    type Alternatives = BTreeMap<i64, Option<Vec<SeccompRule>>>;
    let mut groups: Vec<(RuleAction, Alternatives)> = Vec::new();
    for r in rules {
        let at = match groups.iter().position(|(a, _)| *a == r.action) {
            Some(at) => at,
            None => {
                groups.push((r.action, BTreeMap::new()));
                groups.len() - 1
            }
        };
        let entry = groups[at].1.entry(i64::from(r.nr)).or_insert_with(|| Some(Vec::new()));
        match (entry.as_mut(), r.conds.is_empty()) {
            (_, true) => *entry = None,
            (Some(alts), false) => alts.push(SeccompRule::new(r.conds).map_err(|e| backend(path, e))?),
            (None, false) => {}
        }
    }
    // The whole filter's order of answers (a part of it keeps it).
    groups.sort_by_key(|(a, _)| order.iter().position(|o| o == a));
    // Every number some program names: the others are allowed by the dispatch.
    let named: BTreeSet<u32> = groups.iter().flat_map(|(_, m)| m.keys()).filter_map(|&nr| u32::try_from(nr).ok()).collect();

    let mut programs = Vec::new();
    if arch == Arch::X86_64 {
        programs.push(refuse_x32());
    }
    for (action, map) in groups {
        let map = map.into_iter().map(|(nr, alts)| (nr, alts.unwrap_or_default())).collect();
        let on_match = match action {
            RuleAction::Errno(e) => SeccompAction::Errno(u32::from(e)),
            RuleAction::Kill => SeccompAction::KillProcess,
            RuleAction::Log => SeccompAction::Log,
        };
        let f = SeccompFilter::new(map, SeccompAction::Allow, on_match, arch.target()).map_err(|e| backend(path, e))?;
        let prog: seccompiler::BpfProgram = f.try_into().map_err(|e: seccompiler::BackendError| backend(path, e))?;
        programs.push(prog.into_iter().map(|i| libc::sock_filter { code: i.code, jt: i.jt, jf: i.jf, k: i.k }).collect());
    }
    let mut out = dispatch(arch, &named);
    out.extend(chain(programs));
    if out.len() > BPF_MAXINSNS {
        return Err(SeccompError::TooLong { path: path.into(), len: out.len(), max: BPF_MAXINSNS });
    }
    Ok(out)
}

fn backend(path: &str, e: impl fmt::Display) -> SeccompError {
    SeccompError::Backend { path: path.into(), reason: e.to_string() }
}

pub(crate) const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
pub(crate) const BPF_JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
pub(crate) const BPF_JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
pub(crate) const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K
pub(crate) const BPF_JA: u16 = 0x05; // BPF_JMP | BPF_JA
pub(crate) const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
pub(crate) const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
pub(crate) const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
pub(crate) const X32_SYSCALL_BIT: u32 = 0x4000_0000;
pub(crate) const BPF_MAXINSNS: usize = 4096;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The audit arch of the calls a filter's rules are written for.
fn audit_arch(arch: Arch) -> u32 {
    match arch {
        Arch::X86_64 => AUDIT_ARCH_X86_64,
        Arch::Aarch64 => AUDIT_ARCH_AARCH64,
    }
}

/// The prologue of a filter whose chain follows it: a call of another
/// architecture, an x32 call or a call whose number is in `named` goes on to
/// the chain (a jump to the prologue's end); any other call is allowed,
/// which is what the chain answers for it (every program's default is to
/// allow). A binary search: at each level one `JGE` and one `JA` (jumps
/// farther than a conditional jump's 255 go through `JA`), then at most four
/// `JEQ` per leaf.
pub(crate) fn dispatch(arch: Arch, named: &BTreeSet<u32>) -> Vec<libc::sock_filter> {
    // (instruction, whether it is a jump to the chain, fixed once the length is known)
    let mut out: Vec<(libc::sock_filter, bool)> = vec![
        (stmt(BPF_LD_W_ABS, 4), false), // seccomp_data.arch
        (jump(BPF_JEQ_K, audit_arch(arch), 1, 0), false),
        (stmt(BPF_JA, 0), true),
        (stmt(BPF_LD_W_ABS, 0), false), // seccomp_data.nr
    ];
    if arch == Arch::X86_64 {
        out.push((jump(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1), false));
        out.push((stmt(BPF_JA, 0), true));
    }
    let named: Vec<u32> = named.iter().copied().collect();
    search(&named, &mut out);
    let len = out.len();
    out.into_iter()
        .enumerate()
        .map(|(i, (mut f, to_chain))| {
            if to_chain {
                f.k = (len - i - 1) as u32;
            }
            f
        })
        .collect()
}

/// Instructions the kernel's action cache runs at load for the native
/// arch (seccomp_cache_prepare: each number, no argument known; it stops at
/// a return or a load of anything but nr and arch).
#[cfg(test)]
pub(crate) fn cache_work(prog: &[libc::sock_filter], arch: Arch) -> usize {
    let max = arch.table().iter().map(|(_, nr)| *nr).max().unwrap();
    let mut steps = 0;
    for nr in 0..=max {
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let f = prog[pc];
            pc += 1;
            steps += 1;
            let cond = |taken: bool| if taken { f.jt as usize } else { f.jf as usize };
            match f.code {
                BPF_LD_W_ABS if f.k == 0 => acc = nr,
                BPF_LD_W_ABS if f.k == 4 => acc = audit_arch(arch),
                BPF_LD_W_ABS | BPF_RET_K => break,
                BPF_JA => pc += f.k as usize,
                BPF_JEQ_K => pc += cond(acc == f.k),
                0x25 => pc += cond(acc > f.k),
                BPF_JGE_K => pc += cond(acc >= f.k),
                0x45 => pc += cond(acc & f.k != 0),
                code => panic!("instruction {code:#x}"),
            }
        }
    }
    steps
}

/// The search over sorted `v`, appended to `out`.
fn search(v: &[u32], out: &mut Vec<(libc::sock_filter, bool)>) {
    if v.len() <= 4 {
        for (j, &nr) in v.iter().enumerate() {
            // past the JEQs after this one and the allow: the jump to the chain
            out.push((jump(BPF_JEQ_K, nr, (v.len() - j) as u8, 0), false));
        }
        out.push((stmt(BPF_RET_K, SECCOMP_RET_ALLOW), false));
        out.push((stmt(BPF_JA, 0), true));
        return;
    }
    let (below, above) = v.split_at(v.len() / 2);
    // nr >= the pivot: the next instruction, a jump over the lower half.
    out.push((jump(BPF_JGE_K, above[0], 0, 1), false));
    let over = out.len();
    out.push((stmt(BPF_JA, 0), false));
    search(below, out);
    out[over].0.k = (out.len() - over - 1) as u32;
    search(above, out);
}

/// x32 calls share x86_64's audit arch and differ only by bit 30 of the
/// number (`__X32_SYSCALL_BIT`): answer them ENOSYS.
fn refuse_x32() -> Vec<libc::sock_filter> {
    vec![
        stmt(BPF_LD_W_ABS, 4), // seccomp_data.arch
        jump(BPF_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, 0), // seccomp_data.nr
        jump(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(BPF_RET_K, SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
        stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
    ]
}

/// Chain programs: an "allow" return anywhere but in the last program jumps
/// to the start of the next one. Jumps are forward only, as BPF requires.
fn chain(programs: Vec<Vec<libc::sock_filter>>) -> Vec<libc::sock_filter> {
    let n = programs.len();
    let mut out = Vec::new();
    for (i, prog) in programs.into_iter().enumerate() {
        let len = prog.len();
        for (j, ins) in prog.into_iter().enumerate() {
            if i + 1 < n && ins.code == BPF_RET_K && ins.k == SECCOMP_RET_ALLOW {
                out.push(stmt(BPF_JA, (len - j - 1) as u32));
            } else {
                out.push(ins);
            }
        }
    }
    out
}
