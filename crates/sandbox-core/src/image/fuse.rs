//! Stage: the launcher, for `plan.root`, before clone. [`prepare`] checks
//! the image (bad input fails here, before any namespace exists) and, for
//! a SquashFS image, mounts it detached and starts its server; pid 1
//! inherits the mount fd and attaches it (image/root.rs).
//!
//! The mount is made by a helper child in a user namespace that maps 0 to
//! the caller (`Sys::fuse_mount_detached`: fsopen, fsconfig, fsmount):
//! files the image stores as root's are the sandbox user's inside, as in
//! ch-run (whose squashfuse runs in such an outer namespace). The server is
//! ours (image/serve.rs: our lazy reader image/sqfs.rs reads the image, fuser answers the
//! kernel), a fork of the launcher (no exec) holding the image fd the
//! launcher checked and the mount's `/dev/fuse` fd: no system
//! package, no fusermount, no setuid helper. The launcher waits for its
//! word on a socket (`ok`, else why the image cannot be read, reported as
//! `E_IMAGE_INVALID` naming the file) before it makes any namespace. It
//! runs in the host's pid namespace (not visible from inside, and the
//! sandbox's Landlock signal scope could not reach it anyway), in a
//! session of its own (a terminal's Ctrl-C does not end it, unlike ch-run
//! #1212), not dumpable, with the launcher's death as its SIGKILL. It ends
//! by itself when the kernel aborts the connection: the sandbox's mount
//! namespace died with its last process, so it outlives daemonised
//! children (unlike ch-run #1161), and no mount of it ever exists on the
//! host.

use super::detect::{detect, fuse_error, ImageKind};
use crate::error::{Code, Ctx, SetupError};
use crate::plan::Plan;
use crate::sys::{Fd, Sys};

/// The options of the FUSE mount: mountinfo says `fuse.sandboxctl image`;
/// owner 0 of the helper's namespace is the caller (see `Sys::fuse_mount_detached`).
/// No allow_other: every process of the sandbox has the caller's kernel
/// uid (one id is mapped), which is what FUSE admits without it. No
/// default_permissions, as ch-run: the mount is read-only and its bytes
/// are the caller's to read anyway.
pub const MOUNT_OPTIONS: [(&str, &str); 5] = [("source", "image"), ("subtype", "sandboxctl"), ("rootmode", "40000"), ("user_id", "0"), ("group_id", "0")];

/// Check `plan.root` before clone. `None` for no image or a directory
/// (pid 1 opens that itself); for a SquashFS image, the detached FUSE
/// mount, already served, that pid 1 attaches (it inherits the fd).
pub fn prepare(sys: &dyn Sys, plan: &Plan) -> Result<Option<Fd>, SetupError> {
    let Some(spec) = &plan.root else { return Ok(None) };
    let (kind, image) = detect(sys, spec)?;
    if kind == ImageKind::Dir {
        let _ = sys.close(image);
        return Ok(None);
    }
    let r = serve(sys, &spec.image, image, plan.argv.first().map(String::as_str));
    let _ = sys.close(image);
    r.map(Some)
}

/// Mount the image detached and start its server; the mount fd once the
/// server said it serves.
fn serve(sys: &dyn Sys, path: &str, image: Fd, program: Option<&str>) -> Result<Fd, SetupError> {
    let (mount, fuse) = sys.fuse_mount_detached(&MOUNT_OPTIONS).map_err(|e| match e.0 {
        libc::EACCES | libc::EPERM | libc::ENOENT | libc::ENODEV | libc::ENXIO => fuse_error(e),
        _ => SetupError::sys(Code::FuseUnavailable, "mount the SquashFS image (fuse)", e),
    })?;
    let r = start(sys, path, image, fuse, program);
    let _ = sys.close(fuse);
    match r {
        Ok(()) => Ok(mount),
        Err(e) => {
            let _ = sys.close(mount);
            Err(e)
        }
    }
}

/// Start the server and wait for its word.
/// The server is a fork of the launcher, without exec (image/serve.rs
/// `serve`): an exec of this static binary, its start and a second look at
/// the image cost more than the tables it reads. The program (`argv[0]`)
/// goes along as a hint: the server decompresses its blocks while the
/// sandbox is set up.
fn start(sys: &dyn Sys, path: &str, image: Fd, fuse: Fd, program: Option<&str>) -> Result<(), SetupError> {
    let (mine, theirs) = sys.socketpair().ctx(Code::FuseUnavailable, "make the FUSE server's socket")?;
    let started = match sys.fork_server(&[image, fuse, theirs]) {
        Ok(0) => sys.exit(super::serve::serve(image, fuse, theirs, program.filter(|p| !p.is_empty()))),
        r => r.map(drop).ctx(Code::FuseUnavailable, "start the FUSE server"),
    };
    let _ = sys.close(theirs);
    let word = started.and_then(|()| sys.read(mine, 4096).ctx(Code::FuseUnavailable, "hear from the FUSE server"));
    let _ = sys.close(mine);
    match word?.as_slice() {
        b"ok" => Ok(()),
        [] => Err(SetupError::new(Code::FuseUnavailable, "the FUSE server ended before serving the SquashFS image")),
        why if why.starts_with(super::serve::UNAVAILABLE.as_bytes()) => Err(SetupError::new(
            Code::FuseUnavailable,
            format!("the FUSE server cannot serve {path}: {}", String::from_utf8_lossy(&why[super::serve::UNAVAILABLE.len()..])),
        )),
        why => Err(SetupError::new(Code::ImageInvalid, format!("{path}: {}", String::from_utf8_lossy(why)))),
    }
}
