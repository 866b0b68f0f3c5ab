//! Stage: the sandbox's root. In order: make the host's mounts rslave, run
//! every op's early phase (host view), build the intermediate root and pivot
//! into it, run every op's apply phase (sources under `/host`, targets in
//! `/sysroot`), detach the host root, and pivot a second time so only the
//! new root is left (hakurei's sequence; bubblewrap's new root tmpfs).
//!
//! When the plan's root is the host's own (its first op binds `/` on `/`
//! with the submounts, `--ro-bind / /`, and no later op needs what the
//! intermediate root gives: `ops::keeps_host_root`), the mount namespace
//! clone() made is that tree already: it is kept as the new root in place,
//! with no intermediate root, copy, pivot or detach. Those were the costliest
//! kernel steps of a start: each detach waits for an RCU grace period
//! (bench/README.md, issue 15 part 4). The first op then only sets the
//! attributes of the tree, the others apply to `/` as they would to
//! `/sysroot`, and the program sees the same mounts.
//!
//! The order of these calls is the contract: the init unit tests' call
//! scripts check it.

use super::ids::Ids;
use crate::error::{Code, Ctx, SetupError};
use crate::image;
use crate::ops::{self, RootFs, SetupOp, SYSROOT};
use crate::plan::Op;
use crate::plan::Plan;
use crate::sys::{Fd, MsFlags, Sys};

/// Where the intermediate tmpfs root is mounted: always present, always a
/// directory, private to this process and never visible after the pivots
/// (hakurei's reasoning for the same choice).
pub const INTERMEDIATE: &str = "/proc/self/fd";

/// A warm pool's zygote, before it forks any sandbox: when the plan allows
/// it (`ops::shared_dev`), the parts every sandbox it forks would build the
/// same, built once in the zygote's own mount namespace, which each
/// sandbox's clone copies: the kept root's attributes (the first op) and
/// the read-only part of /dev. Returns the `dev` op's index when it did;
/// each sandbox then runs [`build`] with it, mounting only its own devpts
/// and shm there. None (nothing done): each sandbox builds everything.
pub fn build_shared(sys: &dyn Sys, plan: &Plan, ids: Ids) -> Result<Option<usize>, SetupError> {
    let own_userns = plan.join_ns.as_ref().is_none_or(|j| j.user.is_none());
    let Some(d) = ops::shared_dev(&plan.ops).filter(|_| own_userns && plan.root.is_none()) else { return Ok(None) };
    let early = ops::EarlyCx { keep_session: !plan.new_session, uid: ids.uid, gid: ids.gid };
    let (Some(Op::Dev(dev)), Some(first)) = (plan.ops.get(d), plan.ops.first()) else { return Ok(None) };
    let host = dev.early(sys, &early).map_err(|e| e.at_op(d))?;
    if host.console.is_some() {
        // A terminal on console: each sandbox binds its own, as a plain start does.
        host.close(sys);
        return Ok(None);
    }
    let first = match ops::early(first, sys, &early) {
        Ok(p) => p,
        Err(e) => {
            host.close(sys);
            return Err(e.at_op(0));
        }
    };
    // Nothing we mount may propagate back to the host.
    sys.mount(None, "/", None, (libc::MS_SLAVE | libc::MS_REC) as MsFlags, None).ctx(Code::Mount, "make / rslave")?;
    in_place(sys, |rootfs| ops::apply_in_place(vec![first], rootfs).and_then(|()| dev.build_shared(host, rootfs).map_err(|e| e.at_op(d))))?;
    Ok(Some(d))
}

/// Build the root the program will see, and make it ours. `shared`: the
/// index of the `dev` op a pool's zygote built with the root's attributes
/// ([`build_shared`]); only the rest is built here.
pub fn build(sys: &dyn Sys, plan: &Plan, ids: Ids, image_mount: Option<Fd>, shared: Option<usize>) -> Result<(), SetupError> {
    // Nothing we mount may propagate back to the host.
    sys.mount(None, "/", None, (libc::MS_SLAVE | libc::MS_REC) as MsFlags, None).ctx(Code::Mount, "make / rslave")?;

    // early: the host root is still our root; gather facts, change nothing.
    let early = ops::EarlyCx { keep_session: !plan.new_session, uid: ids.uid, gid: ids.gid };
    if let Some(d) = shared {
        return on_shared(sys, plan, &early, d);
    }
    let prepared = ops::early_all(&plan.ops, sys, &early)?;
    // An image root (issue 11): opened from the host view, put on sysroot
    // in place of the empty tmpfs, before any op resolves a target in it.
    let image = match &plan.root {
        Some(spec) => Some((spec, image::root::open(sys, spec, image_mount)?)),
        None => None,
    };

    // Only in a user namespace of its own: the copy of the host's tree then
    // has every host mount's flags locked (mount_namespaces(7)), which
    // RootFs::restore relies on.
    let own_userns = plan.join_ns.as_ref().is_none_or(|j| j.user.is_none());
    if image.is_none() && own_userns && ops::keeps_host_root(&plan.ops) {
        return keep_host_root(sys, prepared);
    }
    intermediate_root(sys, image.is_none())?;
    if let Some((spec, opened)) = image {
        image::root::mount_sysroot(sys, spec, opened)?;
    }

    // apply: sources under /host, targets resolved inside /sysroot.
    let root = sys.open(SYSROOT, libc::O_PATH | libc::O_DIRECTORY).ctx(Code::Setup, "open sysroot")?;
    let mut rootfs = RootFs::new(sys, root);
    if plan.root.is_some() {
        rootfs.guard_binds();
    }
    ops::apply_all(prepared, &mut rootfs)?;
    rootfs.close();

    detach_host(sys)?;
    enter_sysroot(sys)
}

/// The root kept in place: this process's root is the namespace's copy of
/// the host's tree already, so nothing is pivoted, copied or detached. The
/// cwd goes to this process's fd directory in the host's proc (where the
/// toolkit names fds as mount targets), the ops apply to `/`, and the cwd
/// comes back to `/`.
fn keep_host_root(sys: &dyn Sys, prepared: Vec<ops::Prepared>) -> Result<(), SetupError> {
    in_place(sys, |rootfs| ops::apply_in_place(prepared, rootfs))
}

/// Run `build` on this process's root kept in place, from pid 1's fd
/// directory (where the toolkit names fds as mount targets); the root's fd
/// is closed whatever `build` returns, and the cwd comes back to `/`.
fn in_place(sys: &dyn Sys, build: impl FnOnce(&mut RootFs) -> Result<(), SetupError>) -> Result<(), SetupError> {
    sys.chdir(FD_DIR).ctx(Code::Setup, "enter the fd directory")?;
    let root = sys.open("/", libc::O_PATH | libc::O_DIRECTORY).ctx(Code::Setup, "open the root")?;
    let mut rootfs = RootFs::in_place(sys, root);
    let r = build(&mut rootfs);
    rootfs.close();
    r?;
    sys.chdir("/").ctx(Code::Setup, "enter the new root")
}

/// A sandbox of a pool whose zygote built the root's attributes and the
/// read-only part of /dev (op `d`): the other ops as on a kept root, in
/// plan order, and at `d` only this sandbox's devpts and shm. The ops'
/// indexes in errors are the plan's.
fn on_shared(sys: &dyn Sys, plan: &Plan, early: &ops::EarlyCx, d: usize) -> Result<(), SetupError> {
    let Some(Op::Dev(dev)) = plan.ops.get(d) else {
        return Err(SetupError::new(Code::Setup, format!("op {d} of a pool's shared root is not dev")));
    };
    let mut prepared = Vec::new();
    for (i, op) in plan.ops.iter().enumerate().skip(1) {
        prepared.push((i, if i == d { None } else { Some(ops::early(op, sys, early).map_err(|e| e.at_op(i))?) }));
    }
    in_place(sys, |rootfs| {
        prepared.into_iter().try_for_each(|(i, p)| {
            match p {
                Some(p) => p.apply(rootfs),
                None => dev.build_own(rootfs),
            }
            .map_err(|e| e.at_op(i))
        })
    })
}

/// pid 1's fd directory in the host's proc, its cwd while a kept root is
/// built: a later mount on the root's `/proc` does not move the cwd.
const FD_DIR: &str = "/proc/self/fd";

/// A tmpfs holding `sysroot` (the new root) and `host` (where pivot_root
/// puts the old root), pivoted into.
fn intermediate_root(sys: &dyn Sys, tmpfs_root: bool) -> Result<(), SetupError> {
    sys.mount(Some("tmpfs"), INTERMEDIATE, Some("tmpfs"), (libc::MS_NODEV | libc::MS_NOSUID) as MsFlags, Some("mode=700"))
        .ctx(Code::Mount, "mount the intermediate root")?;
    sys.chdir(INTERMEDIATE).ctx(Code::Setup, "enter the intermediate root")?;
    sys.mkdir("sysroot", 0o755).ctx(Code::Setup, "create sysroot")?;
    // The new root is a tmpfs of its own (as bubblewrap's): a mount point
    // for the second pivot, and in mountinfo a plain `/` that names nothing
    // of the setup.
    // (An image root goes there after this pivot, by image::root.)
    if tmpfs_root {
        sys.mount(Some("tmpfs"), "sysroot", Some("tmpfs"), (libc::MS_NODEV | libc::MS_NOSUID) as MsFlags, Some("mode=755"))
            .ctx(Code::Mount, "mount the new root")?;
    }
    sys.mkdir("host", 0o755).ctx(Code::Setup, "create host")?;
    sys.pivot_root(".", "host").ctx(Code::Mount, "pivot into the intermediate root")?;
    sys.chdir("/").ctx(Code::Setup, "enter the intermediate root")
}

/// Detach the host root: rprivate first so the unmount cannot propagate.
fn detach_host(sys: &dyn Sys) -> Result<(), SetupError> {
    sys.mount(None, "/host", None, (libc::MS_REC | libc::MS_PRIVATE) as MsFlags, None).ctx(Code::Mount, "make the host root rprivate")?;
    sys.umount2("/host", libc::MNT_DETACH).ctx(Code::Mount, "detach the host root")
}

/// Second pivot: pivot_root(".", ".") stacks the intermediate root on top
/// of sysroot; unmounting "." then leaves only the sandbox's root.
fn enter_sysroot(sys: &dyn Sys) -> Result<(), SetupError> {
    let fd = sys.open("/", libc::O_DIRECTORY | libc::O_RDONLY).ctx(Code::Setup, "open the intermediate root")?;
    sys.chdir(SYSROOT).ctx(Code::Setup, "enter sysroot")?;
    sys.pivot_root(".", ".").ctx(Code::Mount, "pivot into sysroot")?;
    sys.fchdir(fd).ctx(Code::Setup, "re-enter the intermediate root")?;
    sys.umount2(".", libc::MNT_DETACH).ctx(Code::Mount, "unmount the intermediate root")?;
    sys.chdir("/").ctx(Code::Setup, "enter the new root")?;
    sys.close(fd).ctx(Code::Setup, "close the intermediate root")
}
