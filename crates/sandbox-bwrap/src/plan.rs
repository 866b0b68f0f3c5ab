//! bubblewrap's options as our plan (`sandbox_core::plan::Plan`). Pure:
//! the caller's facts (uid, inherited fds) come in as arguments.
//!
//! bubblewrap's semantics where the plan has a default of its own: no
//! seccomp preset and no Landlock scopes unless `--sandboxctl-defaults`,
//! the host network unless `--unshare-net`, ipc/uts/cgroup only when asked,
//! the environment exactly as argv edited it. Where we keep more than
//! bubblewrap (docs/bwrap.md): a user and a pid namespace always (pid 1 is
//! our init, not ptraceable), the terminal deny filter (TIOCSTI, TIOCLINUX)
//! always, and the launcher dies with this process.

use crate::args::{BindKind, Opts, OverlayKind, SetupOp};
use sandbox_core::plan::{
    BindOp, ChmodOp, DevOp, DirOp, FdPass, FileOp, JoinNs, Landlock, MissingTarget, MqueueOp, Network, Op, OverlayMode, OverlayOp, Plan, ProcOp, RemountOp,
    RuleAction, Seccomp, SeccompPreset, SymlinkOp, TmpfsOp,
};

/// The plan for `opts`. `inherit` are the caller's fds that reach the
/// program (every fd bubblewrap would leave open); `caps` the capability
/// set the program keeps.
pub fn to_plan(opts: &Opts, inherit: &[i32], caps: u64, cgroup: bool, root: bool, cwd: Option<&str>) -> Plan {
    let mut plan = Plan::new(opts.command.clone());
    plan.argv0 = opts.argv0.clone();
    plan.ops = opts.ops.iter().map(op).collect();
    plan.env.inherit = false;
    plan.env.set = opts.env.iter().cloned().collect();
    // bubblewrap sets PWD to where the program starts: --chdir, else the
    // caller's directory (which init enters when it exists inside).
    if let Some(pwd) = opts.chdir.as_deref().or(cwd) {
        plan.env.set.insert("PWD".into(), pwd.into());
    }
    plan.cwd = opts.chdir.clone();
    plan.uid = opts.uid;
    plan.gid = opts.gid;
    plan.hostname = opts.hostname.clone();
    plan.namespaces.ipc = opts.unshare_ipc;
    plan.namespaces.uts = opts.unshare_uts;
    plan.namespaces.cgroup = cgroup;
    plan.network = if opts.unshare_net { Network::NONE } else { Network::HOST };
    // The launcher is our child: it (and pid 1 with it) dies with us;
    // whether we die with our caller is --die-with-parent's.
    plan.die_with_parent = true;
    plan.new_session = opts.new_session;
    plan.linger_ms = 0;
    plan.seccomp = Seccomp { preset: if opts.sandboxctl_defaults { SeccompPreset::Strict } else { SeccompPreset::None }, ..Seccomp::default() };
    plan.seccomp.rules.extend(terminal_rules());
    if opts.disable_userns {
        plan.seccomp.rules.extend(disable_userns_rules());
    }
    plan.landlock = if opts.sandboxctl_defaults { Landlock::default() } else { Landlock { allow_signals: true, allow_abstract_unix: true, write: None } };
    plan.cap_add = cap_names(caps);
    plan.as_pid1 = opts.as_pid_1;
    plan.block_fd = opts.block_fd;
    plan.report_namespaces = opts.info_fd.is_some() || opts.json_status_fd.is_some();
    plan.userns_block_fd = opts.userns_block_fd;
    // bubblewrap leaves root's capabilities as they were unless told.
    plan.cap_inherit = opts.caps.is_some() || !root;
    plan.fds = inherit.iter().map(|&fd| FdPass { fd, target: None }).collect();
    if opts.userns_fd.is_some() || opts.userns2_fd.is_some() || opts.pidns_fd.is_some() {
        plan.join_ns = Some(JoinNs { user: opts.userns_fd, user2: opts.userns2_fd, pid: opts.pidns_fd });
    }
    plan
}

/// The capability names of a set.
pub fn cap_names(caps: u64) -> Vec<String> {
    sandbox_core::caps::NAMES.iter().enumerate().filter(|(i, _)| caps & (1u64 << i) != 0).map(|(_, n)| n.to_string()).collect()
}

/// Our terminal deny list (the core's `deny-tty`: TIOCSTI, TIOCLINUX,
/// TIOCSETD, TIOCCONS, TIOCVHANGUP, TIOCSLCKTRMIOS, compared on the low 32
/// bits as the kernel reads the request, CVE-2019-10063) on every fd that
/// can be open. A negative fd never names a terminal: the kernel answers it
/// EBADF as without a filter, which is what bubblewrap's callers (and its
/// test suite) see from bwrap.
pub fn terminal_rules() -> Vec<sandbox_core::plan::SyscallRule> {
    use sandbox_core::plan::{ArgCondition, CmpOp, SyscallRule};
    const REQUESTS: [u64; 6] = [0x5412, 0x541c, 0x5423, 0x541d, 0x5437, 0x5457];
    REQUESTS
        .iter()
        .map(|&r| SyscallRule {
            syscall: "ioctl".into(),
            args: vec![
                ArgCondition { index: 0, op: CmpOp::Lt, value: 0x8000_0000, mask: None, low32: true },
                ArgCondition { index: 1, op: CmpOp::Eq, value: r, mask: None, low32: true },
            ],
            action: RuleAction::Errno(libc::EPERM as u16),
        })
        .collect()
}

/// `--disable-userns`: no new user namespace from inside, by unshare,
/// clone or setns (bubblewrap lowers user.max_user_namespaces in a nested
/// namespace; a filter gives the same answer, EPERM, without one).
fn disable_userns_rules() -> Vec<sandbox_core::plan::SyscallRule> {
    use sandbox_core::plan::{ArgCondition, CmpOp, SyscallRule};
    let newuser = libc::CLONE_NEWUSER as u64;
    let flag = |syscall: &str, index: u8| SyscallRule {
        syscall: syscall.into(),
        args: vec![ArgCondition { index, op: CmpOp::MaskedEq, value: newuser, mask: Some(newuser), low32: false }],
        action: RuleAction::Errno(libc::EPERM as u16),
    };
    vec![
        flag("unshare", 0),
        flag("clone", 0),
        flag("setns", 1),
        // clone3's flags are behind a pointer: callers fall back to clone.
        SyscallRule { syscall: "clone3".into(), args: vec![], action: RuleAction::Errno(libc::ENOSYS as u16) },
    ]
}

fn op(o: &SetupOp) -> Op {
    match o {
        SetupOp::Bind { kind, src, dest, allow_missing } => Op::Bind(BindOp {
            source: src.clone(),
            source_fd: None,
            target: dest.clone(),
            writable: *kind != BindKind::Ro,
            device: *kind == BindKind::Dev,
            optional: *allow_missing,
            ensure: false,
            recursive: true,
            missing_target: MissingTarget::Create,
        }),
        SetupOp::BindFd { ro, fd, dest } => Op::Bind(BindOp {
            source: String::new(),
            source_fd: Some(*fd),
            target: dest.clone(),
            writable: !ro,
            device: false,
            optional: false,
            ensure: false,
            recursive: true,
            missing_target: MissingTarget::Create,
        }),
        SetupOp::RemountRo { dest } => Op::Remount(RemountOp { target: dest.clone(), read_only: true, recursive: false, no_dev: false }),
        SetupOp::Overlay { kind, srcs, dest } => {
            // bubblewrap's layers come bottom first; ours uppermost first.
            let lowers = srcs.iter().rev().cloned().collect();
            let (mode, upper, work) = match kind {
                OverlayKind::Rw { upper, work } => (OverlayMode::Rw, Some(upper.clone()), Some(work.clone())),
                OverlayKind::Tmp => (OverlayMode::Tmp, None, None),
                OverlayKind::Ro => (OverlayMode::Ro, None, None),
            };
            Op::Overlay(OverlayOp { target: dest.clone(), lowers, mode, upper, work })
        }
        SetupOp::Proc { dest } => Op::Proc(ProcOp { target: dest.clone() }),
        SetupOp::Dev { dest } => Op::Dev(DevOp { target: dest.clone(), mqueue: false, writable: true }),
        SetupOp::Tmpfs { dest, perms, size } => Op::Tmpfs(TmpfsOp { target: dest.clone(), size: *size, mode: *perms, read_only: false }),
        SetupOp::Mqueue { dest } => Op::Mqueue(MqueueOp { target: dest.clone() }),
        SetupOp::Dir { dest, perms } => Op::Dir(DirOp { target: dest.clone(), mode: *perms }),
        SetupOp::File { fd, dest, perms, .. } => Op::File(FileOp { target: dest.clone(), data: None, source: None, source_fd: Some(*fd), mode: *perms }),
        SetupOp::Symlink { src, dest } => Op::Symlink(SymlinkOp { target: dest.clone(), linkname: src.clone(), dereference: false }),
        SetupOp::Chmod { perms, dest } => Op::Chmod(ChmodOp { target: dest.clone(), mode: *perms }),
    }
}
