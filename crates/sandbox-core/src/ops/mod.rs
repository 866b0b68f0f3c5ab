//! Stage: the setup ops, run by pid 1 in plan order. One op per file, each
//! implementing [`SetupOp`] with the same four parts: `validate` (pure, all
//! of its own fields, before anything exists), `early` (host root still
//! visible: gathers what apply needs into the op's own `Prepared` value,
//! changes nothing), `apply` (in the intermediate root, through the
//! [`RootFs`] toolkit: sources under `/host`, targets inside `/sysroot`) and
//! `Display` (the one description of the op, also the addon's).
//!
//! `dispatch!` below is the one place that lists the op kinds: it writes
//! every `match` on [`Op`] once. Ops never call each other; what they share
//! is in the toolkit (`rootfs.rs`).

/// The early phase of an op that needs nothing from the host: nothing to
/// prepare. Written inside the op's `impl SetupOp`.
macro_rules! no_early {
    () => {
        type Prepared = ();

        fn early(&self, _: &dyn crate::sys::Sys, _: &crate::ops::EarlyCx) -> Result<(), crate::error::SetupError> {
            Ok(())
        }
    };
}

mod autoetc;
mod autoroot;
mod bind;
mod chmod;
pub(crate) mod dev;
mod dir;
mod file;
mod mqueue;
mod overlay;
mod passwd;
pub mod placeholder;
mod proc;
mod remount;
pub(crate) mod rootfs;
mod symlink;
mod tmpfs;

use crate::error::SetupError;
use crate::plan::*;
use crate::sys::Sys;
use std::fmt;

pub use rootfs::{fd_path, RootFs, SYSROOT};

/// A field of an op that is not valid, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpProblem {
    /// The field's JSON name (`source`, `mode`…).
    pub field: &'static str,
    pub reason: String,
}

impl OpProblem {
    pub fn new(field: &'static str, reason: impl Into<String>) -> OpProblem {
        OpProblem { field, reason: reason.into() }
    }
}

/// What the early phase of every op may know about the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EarlyCx {
    /// The program keeps the caller's session (and may get its terminal).
    pub keep_session: bool,
    /// The sandbox's uid and gid.
    pub uid: u32,
    pub gid: u32,
}

/// One setup op.
pub trait SetupOp: fmt::Display {
    /// What early hands to apply: the op's own facts about the host.
    type Prepared;
    /// Check every field of the op (its target included), before anything exists.
    fn validate(&self) -> Result<(), OpProblem>;
    /// With the host root still visible: read what apply needs; change nothing.
    fn early(&self, sys: &dyn Sys, cx: &EarlyCx) -> Result<Self::Prepared, SetupError>;
    /// In the intermediate root: change the new root through the toolkit.
    fn apply(&self, prep: Self::Prepared, root: &mut RootFs) -> Result<(), SetupError>;
}

/// The target check every op starts its validation with.
fn check_target(target: &str) -> Result<(), OpProblem> {
    crate::check::check_abs(target).map_err(|r| OpProblem::new("target", r))
}

/// The mode check of the ops that take one.
fn check_mode(mode: u32) -> Result<(), OpProblem> {
    crate::check::check_mode(mode).map_err(|r| OpProblem::new("mode", r))
}

/// Writes every `match` on [`Op`]: `Variant: OpType = "kind"`.
macro_rules! dispatch {
    ($($v:ident: $t:ty = $kind:literal),* $(,)?) => {
        /// An op with what its early phase prepared, ready for apply.
        pub enum Prepared<'a> {
            $($v(&'a $t, <$t as SetupOp>::Prepared)),*
        }

        /// Check every field of `op`.
        pub fn validate(op: &Op) -> Result<(), OpProblem> {
            match op {
                $(Op::$v(o) => o.validate()),*
            }
        }

        /// The early phase of `op` (host root visible).
        pub fn early<'a>(op: &'a Op, sys: &dyn Sys, cx: &EarlyCx) -> Result<Prepared<'a>, SetupError> {
            match op {
                $(Op::$v(o) => o.early(sys, cx).map(|p| Prepared::$v(o, p))),*
            }
        }

        impl Prepared<'_> {
            /// The apply phase of the op, with what its early phase found.
            pub fn apply(self, root: &mut RootFs) -> Result<(), SetupError> {
                match self {
                    $(Prepared::$v(o, p) => o.apply(p, root)),*
                }
            }
        }

        impl Op {
            /// The `kind` string of this op as it appears in JSON.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Op::$v(_) => $kind),*
                }
            }

            /// The path inside the sandbox this op creates or changes.
            pub fn target(&self) -> &str {
                match self {
                    $(Op::$v(o) => &o.target),*
                }
            }
        }

        impl fmt::Display for Op {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Op::$v(o) => o.fmt(f)),*
                }
            }
        }
    };
}

dispatch! {
    Bind: BindOp = "bind",
    Proc: ProcOp = "proc",
    Dev: DevOp = "dev",
    Tmpfs: TmpfsOp = "tmpfs",
    Dir: DirOp = "dir",
    Symlink: SymlinkOp = "symlink",
    File: FileOp = "file",
    Remount: RemountOp = "remount",
    Overlay: OverlayOp = "overlay",
    Mqueue: MqueueOp = "mqueue",
    Chmod: ChmodOp = "chmod",
    Autoetc: AutoetcOp = "autoetc",
    Autoroot: AutorootOp = "autoroot",
    Passwd: PasswdOp = "passwd",
    Placeholder: PlaceholderOp = "placeholder",
}

/// The early phase of every op, in plan order (host root visible); an
/// error names its op.
pub fn early_all<'a>(ops: &'a [Op], sys: &dyn Sys, cx: &EarlyCx) -> Result<Vec<Prepared<'a>>, SetupError> {
    ops.iter().enumerate().map(|(i, op)| early(op, sys, cx).map_err(|e| e.at_op(i))).collect()
}

/// The apply phase of every op, in plan order; an error names its op.
pub fn apply_all(prepared: Vec<Prepared<'_>>, root: &mut RootFs) -> Result<(), SetupError> {
    for (i, p) in prepared.into_iter().enumerate() {
        p.apply(root).map_err(|e| e.at_op(i))?;
    }
    Ok(())
}

/// Whether pid 1 may keep its namespace's copy of the host's tree as the new
/// root (init/root.rs): the first op binds the host's root on `/` with its
/// submounts, and no later op names a host path to mount from (autoroot's
/// directories, overlay's layers), since the kept root under `/host` is
/// what the ops change.
pub fn keeps_host_root(ops: &[Op]) -> bool {
    let Some((Op::Bind(root), rest)) = ops.split_first() else {
        return false;
    };
    root.binds_host_root() && rest.iter().all(|op| may_follow_kept_root(op, root))
}

/// Whether `op` may come after `root`, the bind of the host's root, when
/// that root is kept in place.
fn may_follow_kept_root(op: &Op, root: &BindOp) -> bool {
    match op {
        // Host paths as mount sources (`/host/...`): that tree is the one
        // the ops change.
        Op::Autoetc(_) | Op::Autoroot(_) | Op::Overlay(_) => false,
        // Setup files need a scratch tmpfs outside the new root.
        Op::File(_) | Op::Passwd(_) => false,
        // A bind of a host subtree that wants what the first op took away
        // (writable below a read-only root, devices below a nodev one)
        // could meet a read-only host mount in it (RootFs::restore).
        Op::Bind(b) if b.recursive && ((b.writable && !root.writable) || (b.device && !root.device)) => false,
        // A mount on the root itself would stack on it unseen: the root is
        // never entered again.
        op => !op.target().trim_end_matches('/').is_empty(),
    }
}

/// Whether two absolute paths may overlap: the same, or one below the
/// other, by their components (`//dev/./pts/` is `/dev/pts`). A `..` could
/// lead anywhere: it overlaps everything.
fn overlap(a: &str, b: &str) -> bool {
    let parts = |p: &str| -> Option<Vec<String>> {
        let v: Vec<String> = p.split('/').filter(|c| !c.is_empty() && *c != ".").map(str::to_string).collect();
        (!v.iter().any(|c| c == "..")).then_some(v)
    };
    match (parts(a), parts(b)) {
        (Some(a), Some(b)) => a.iter().zip(&b).all(|(x, y)| x == y),
        _ => true,
    }
}

/// The index of the `dev` op a warm pool's zygote may build once, in its
/// own mount namespace, for every sandbox it forks (init/root.rs): its
/// tmpfs of device binds and links is read-only and holds nothing of a
/// run, so each sandbox only mounts its own devpts and shm on it. Only
/// where that cannot change what a sandbox sees: a root kept in place
/// (which the zygote's tree already is), one `dev` op, neither writable nor
/// with mqueue (a run's own), and every other op of a kind that names no
/// host path but a bind's source, with target and source clear of the
/// `dev` target (so building it first changes nothing they resolve). A
/// caller's terminal on `console` is decided when the zygote builds it.
pub fn shared_dev(ops: &[Op]) -> Option<usize> {
    if !keeps_host_root(ops) {
        return None;
    }
    let mut devs = ops.iter().enumerate().filter(|(_, op)| matches!(op, Op::Dev(_)));
    let (d, Op::Dev(dev)) = devs.next()? else { return None };
    if devs.next().is_some() || dev.writable || dev.mqueue {
        return None;
    }
    let clear = |op: &Op| match op {
        Op::Bind(b) => b.source_fd.is_none() && !overlap(&b.source, &dev.target) && !overlap(&b.target, &dev.target),
        Op::Proc(_) | Op::Tmpfs(_) | Op::Mqueue(_) | Op::Dir(_) | Op::Symlink(_) | Op::Remount(_) | Op::Chmod(_) => !overlap(op.target(), &dev.target),
        _ => false,
    };
    ops.iter().enumerate().skip(1).filter(|&(i, _)| i != d).all(|(_, op)| clear(op)).then_some(d)
}

/// The apply phase for a root kept in place: the first op, the bind of the
/// host's root, sets the attributes of the tree already there; the others
/// apply as usual. An error names its op.
pub fn apply_in_place(prepared: Vec<Prepared<'_>>, root: &mut RootFs) -> Result<(), SetupError> {
    let mut rest = prepared.into_iter();
    match rest.next() {
        Some(Prepared::Bind(o, source)) if o.binds_host_root() => o.keep_root(source, root).map_err(|e| e.at_op(0))?,
        _ => return Err(SetupError::new(crate::error::Code::Setup, "a root kept in place needs the bind of / on / first")),
    }
    for (i, p) in rest.enumerate() {
        p.apply(root).map_err(|e| e.at_op(i + 1))?;
    }
    Ok(())
}

/// Each op in words, in order: their `Display`, the one description of an
/// op (the addon's `describeOps`, so `explain` and the docs say the same).
pub fn describe(ops: &[Op]) -> Vec<String> {
    ops.iter().map(Op::to_string).collect()
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Shared scripts for op tests: the calls that resolve and create a path.
    use crate::sys::script::Ret;

    pub type Call = (String, Ret);

    pub fn call(s: impl Into<String>, r: Ret) -> Call {
        (s.into(), r)
    }

    /// The early context of a sandbox user 1000 in a session of its own.
    pub fn cx() -> super::EarlyCx {
        super::EarlyCx { keep_session: false, uid: 1000, gid: 1000 }
    }

    /// `open_in_root(root, path, O_DIRECTORY)` finding an existing directory.
    pub fn open_dir(root: i32, path: &str, fd: i32) -> Call {
        call(format!("open_in_root({root}, {path:?}, {:#o})", libc::O_DIRECTORY), Ret::Fd(fd))
    }
    pub fn open_dir_missing(root: i32, path: &str) -> Call {
        call(format!("open_in_root({root}, {path:?}, {:#o})", libc::O_DIRECTORY), Ret::Err(libc::ENOENT))
    }
    pub fn open_any(root: i32, path: &str, ret: Ret) -> Call {
        call(format!("open_in_root({root}, {path:?}, 0o0)"), ret)
    }
    pub fn mkdirat(dirfd: i32, name: &str, mode: u32, ret: Ret) -> Call {
        call(format!("mkdirat({dirfd}, {name:?}, {mode:o})"), ret)
    }
    pub fn close(fd: i32) -> Call {
        call(format!("close({fd})"), Ret::Ok)
    }
    pub fn setattr(root: i32, target: &str, fd: i32, rec: bool, attrs: &str) -> Vec<Call> {
        vec![
            open_any(root, target, Ret::Fd(fd)),
            call(format!("mount_setattr({fd}, {}, {attrs})", if rec { "recursive" } else { "single" }), Ret::Ok),
            close(fd),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_is_the_json_tag() {
        let plan: Plan = serde_json::from_str(
            r#"{"argv":["x"],"ops":[
            {"kind":"bind","source":"/a","target":"/a"},{"kind":"proc","target":"/proc"},{"kind":"dev","target":"/dev"},
            {"kind":"tmpfs","target":"/t"},{"kind":"dir","target":"/d"},{"kind":"symlink","target":"/l","linkname":"x"},
            {"kind":"file","target":"/f","data":""},{"kind":"remount","target":"/r"},{"kind":"overlay","target":"/o","lowers":["/a"],"mode":"tmp"},
            {"kind":"mqueue","target":"/m"},{"kind":"chmod","target":"/c","mode":448},{"kind":"autoetc"},{"kind":"autoroot"},
            {"kind":"passwd"},{"kind":"placeholder","target":"/p","type":"dir"}]}"#,
        )
        .unwrap();
        assert_eq!(plan.ops.len(), 15);
        for op in &plan.ops {
            let json = serde_json::to_value(op).unwrap();
            assert_eq!(json["kind"], op.kind());
            assert_eq!(json["target"], op.target());
        }
        assert_eq!(describe(&plan.ops)[0], "ro-bind /a on /a");
    }

    #[test]
    fn the_host_root_is_kept_in_place_only_when_nothing_needs_the_intermediate_root() {
        let ops = |json: &str| -> Vec<Op> { serde_json::from_str(json).unwrap() };
        let root = r#"{"kind":"bind","source":"/","target":"/"}"#;
        let keeps = |rest: &str| keeps_host_root(&ops(&format!("[{root}{}{rest}]", if rest.is_empty() { "" } else { "," })));
        // bubblewrap's --ro-bind / / --proc /proc --dev /dev, and read-only binds after it
        assert!(keeps(""));
        assert!(keeps(r#"{"kind":"proc","target":"/proc"},{"kind":"dev","target":"/dev"},{"kind":"tmpfs","target":"/tmp"}"#));
        assert!(keeps(r#"{"kind":"bind","source":"/usr","target":"/opt/usr"},{"kind":"placeholder","target":"/p","type":"dir"}"#));
        // a single writable or device mount below it: its flags are restored exactly
        assert!(keeps(r#"{"kind":"bind","source":"/tmp/x","target":"/x","writable":true,"recursive":false}"#));
        // not: host paths as sources, setup files, a recursive writable bind
        // below a read-only root, a mount on the root itself
        for rest in [
            r#"{"kind":"autoetc"}"#,
            r#"{"kind":"autoroot"}"#,
            r#"{"kind":"overlay","target":"/o","lowers":["/a"],"mode":"tmp"}"#,
            r#"{"kind":"file","target":"/f","data":""}"#,
            r#"{"kind":"passwd"}"#,
            r#"{"kind":"bind","source":"/tmp/x","target":"/x","writable":true}"#,
            r#"{"kind":"bind","source":"/dev","target":"/dev","device":true}"#,
            r#"{"kind":"remount","target":"/"}"#,
            r#"{"kind":"tmpfs","target":"//"}"#,
        ] {
            assert!(!keeps(rest), "{rest}");
        }
        // a writable recursive bind below a writable root needs nothing restored
        assert!(keeps_host_root(&ops(
            r#"[{"kind":"bind","source":"/","target":"/","writable":true},{"kind":"bind","source":"/tmp/x","target":"/x","writable":true}]"#
        )));
        // the first op must be the host's whole root, with its submounts
        for first in [
            r#"{"kind":"bind","source":"/usr","target":"/"}"#,
            r#"{"kind":"bind","source":"/","target":"/r"}"#,
            r#"{"kind":"bind","source":"/","target":"/","recursive":false}"#,
            r#"{"kind":"bind","sourceFd":3,"target":"/"}"#,
            r#"{"kind":"bind","source":"/","target":"/","missingTarget":"skip"}"#,
            r#"{"kind":"tmpfs","target":"/"}"#,
        ] {
            assert!(!keeps_host_root(&ops(&format!("[{first}]"))), "{first}");
        }
        assert!(!keeps_host_root(&[]));
        assert!(keeps_host_root(&ops(r#"[{"kind":"bind","source":"//","target":"/"}]"#)));
    }

    #[test]
    fn a_pools_zygote_builds_dev_once_only_where_nothing_else_could_see_the_difference() {
        let ops = |json: &str| -> Vec<Op> { serde_json::from_str(json).unwrap() };
        let root = r#"{"kind":"bind","source":"/","target":"/"}"#;
        let dev = r#"{"kind":"dev","target":"/dev"}"#;
        let shared = |rest: &str| shared_dev(&ops(&format!("[{root},{rest}]")));
        // bubblewrap's full set-up, and ops clear of /dev in any order around it
        assert_eq!(shared(dev), Some(1));
        assert_eq!(shared(&format!(r#"{{"kind":"proc","target":"/proc"}},{dev},{{"kind":"tmpfs","target":"/tmp"}}"#)), Some(2));
        let clear = r#"{"kind":"bind","source":"/usr","target":"/opt/u"},{"kind":"dir","target":"/d"},{"kind":"symlink","target":"/l","linkname":"/dev/null"},{"kind":"mqueue","target":"/m"},{"kind":"remount","target":"/usr"},{"kind":"chmod","target":"/devx","mode":448}"#;
        assert_eq!(shared(&format!("{clear},{dev}")), Some(7));
        // not: no dev op, two, a writable one or one with mqueue (a run's own), a root not kept
        assert_eq!(shared(r#"{"kind":"proc","target":"/proc"}"#), None);
        assert_eq!(shared(&format!("{dev},{dev}")), None);
        assert_eq!(shared(r#"{"kind":"dev","target":"/dev","writable":true}"#), None);
        assert_eq!(shared(r#"{"kind":"dev","target":"/dev","mqueue":true}"#), None);
        assert_eq!(shared_dev(&ops(&format!(r#"[{{"kind":"tmpfs","target":"/x"}},{dev}]"#))), None);
        assert_eq!(shared(&format!(r#"{dev},{{"kind":"overlay","target":"/o","lowers":["/a"],"mode":"tmp"}}"#)), None);
        // not: an op on, above or below the dev target, a bind from there, a caller's fd, kinds that read host paths
        for other in [
            r#"{"kind":"tmpfs","target":"/dev/shm"}"#,
            r#"{"kind":"tmpfs","target":"//dev/./shm/"}"#,
            r#"{"kind":"bind","source":"/dev/fuse","target":"/dev/fuse","device":true}"#,
            r#"{"kind":"bind","source":"/dev/kvm","target":"/kvm"}"#,
            r#"{"kind":"bind","source":"//dev","target":"/hostdev"}"#,
            r#"{"kind":"bind","sourceFd":3,"target":"/x"}"#,
            r#"{"kind":"bind","source":"/usr/../dev","target":"/x"}"#,
            r#"{"kind":"symlink","target":"/dev/foo","linkname":"/x"}"#,
            r#"{"kind":"dir","target":"/dev/d"}"#,
            r#"{"kind":"remount","target":"/dev"}"#,
            r#"{"kind":"placeholder","target":"/p","type":"dir"}"#,
        ] {
            assert_eq!(shared(&format!("{other},{dev}")), None, "{other}");
            assert_eq!(shared(&format!("{dev},{other}")), None, "{other}");
        }
        // the dev target anywhere, by its components
        assert_eq!(shared_dev(&ops(&format!(r#"[{root},{{"kind":"dev","target":"/sb/dev"}},{{"kind":"tmpfs","target":"/sb"}}]"#))), None);
        assert_eq!(shared_dev(&ops(&format!(r#"[{root},{{"kind":"dev","target":"/sb/dev"}},{{"kind":"tmpfs","target":"/sb/devx"}}]"#))), Some(1));
    }

    #[test]
    fn apply_in_place_sets_the_trees_attributes_and_names_the_failing_op() {
        use super::testutil::*;
        use crate::error::Code;
        use crate::sys::script::{Ret, Script};
        let ops: Vec<Op> = serde_json::from_str(r#"[{"kind":"bind","source":"/","target":"/"},{"kind":"dir","target":"/a"}]"#).unwrap();
        let prepared = vec![
            Prepared::Bind(
                match &ops[0] {
                    Op::Bind(b) => b,
                    _ => unreachable!(),
                },
                bind::Source::Pinned { fd: 20, kind: crate::sys::FileKind::Dir },
            ),
            early(&ops[1], &Script::new(Vec::<Call>::new()), &cx()).unwrap(),
        ];
        let s = Script::new(
            [
                vec![close(20)],
                vec![open_any(3, "/", Ret::Fd(6)), call("mount_setattr(6, recursive, RDONLY|NOSUID|NODEV)", Ret::Ok), close(6)],
                vec![call(format!("open_in_root(3, \"/a\", {:#o})", libc::O_DIRECTORY), Ret::Err(10_035))],
            ]
            .concat(),
        );
        let e = apply_in_place(prepared, &mut RootFs::in_place(&s, 3)).unwrap_err();
        assert_eq!((e.code, e.op_index), (Code::Setup, Some(1)));
        s.done();
        // a first op that is not the host root's bind is refused
        let s = Script::new(Vec::<Call>::new());
        let prepared = vec![early(&ops[1], &s, &cx()).unwrap()];
        assert_eq!(apply_in_place(prepared, &mut RootFs::in_place(&s, 3)).unwrap_err().code, Code::Setup);
    }

    #[test]
    fn errors_name_the_op_they_come_from() {
        use super::testutil::*;
        use crate::error::Code;
        use crate::sys::script::{Ret, Script};
        let plan: Plan = serde_json::from_str(
            r#"{"argv":["x"],"ops":[{"kind":"dir","target":"/a"},{"kind":"bind","source":"/nope","target":"/b"},{"kind":"dir","target":"/c"}]}"#,
        )
        .unwrap();
        let s = Script::new(vec![call(format!("open(\"/nope\", {:#o})", libc::O_PATH), Ret::Err(libc::ENOENT))]);
        let e = early_all(&plan.ops, &s, &cx()).err().unwrap();
        assert_eq!((e.code, e.op_index), (Code::SourceMissing, Some(1)));
        s.done();
        let s = Script::new(vec![call(format!("open(\"/nope\", {:#o})", libc::O_PATH), Ret::Fd(20)), call("fstat(20)", Ret::Kind(crate::sys::FileKind::Dir))]);
        let prepared = early_all(&plan.ops, &s, &cx()).unwrap();
        s.done();
        let s = Script::new(vec![
            open_dir(3, "/a", 4),
            close(4),
            open_dir(3, "/b", 5),
            call("mount(\"/host/proc/self/fd/20\", \"/host/proc/self/fd/5\", -, BIND|REC, -)", Ret::Err(10_027)),
            close(5),
            close(20),
        ]);
        let e = apply_all(prepared, &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!((e.code, e.op_index, e.message.as_str()), (Code::Mount, Some(1), "cannot bind /nope on /b: error 10027"));
        s.done();
        // validation names the field
        let plan: Plan = serde_json::from_str(r#"{"argv":["x"],"ops":[{"kind":"tmpfs","target":"/t","mode":65535}]}"#).unwrap();
        assert_eq!(validate(&plan.ops[0]).unwrap_err().field, "mode");
    }
}
