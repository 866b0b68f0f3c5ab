//! Stage: the launcher, for `plan.root`, before clone. [`prepare`] checks
//! the image (bad input fails here, before any namespace exists) and, for
//! a SquashFS image, mounts it detached and starts its server; pid 1
//! inherits the mount fd and attaches it (image/root.rs).
//!
//! The mount is made by a helper child in a user namespace that maps 0 to
//! the caller (`Sys::fuse_mount_detached`: fsopen, fsconfig, fsmount):
//! files the image stores as root's are the sandbox user's inside, as in
//! ch-run (whose squashfuse runs in such an outer namespace). The server is
//! Debian's `squashfuse_ll` (libfuse 3 takes `/dev/fd/N` as an already
//! mounted device, so no fusermount3, no setuid helper), given the image as
//! the fd the launcher checked (`/dev/fd/M`). It runs in the
//! host's pid namespace (not visible from inside, and the sandbox's
//! Landlock signal scope could not reach it anyway), in a session of its
//! own (a terminal's Ctrl-C does not end it, unlike ch-run #1212), with
//! the launcher's death as its SIGKILL. It ends by itself when the kernel
//! aborts the connection: the sandbox's mount namespace died with its last
//! process, so it outlives daemonised children (unlike ch-run #1161), and
//! no mount of it ever exists on the host.

use super::detect::{detect, fuse_error, ImageKind};
use crate::error::{Code, Ctx, SetupError};
use crate::plan::Plan;
use crate::sys::{Fd, FileKind, Sys};

/// The server program, looked up in `PATH` unless this names it.
pub const SERVER_ENV: &str = "SANDBOXCTL_SQUASHFUSE";
const SERVER: &str = "squashfuse_ll";

/// The options of the FUSE mount: mountinfo says `fuse.squashfuse image`;
/// owner 0 of the helper's namespace is the caller (see `Sys::fuse_mount_detached`).
/// No allow_other: every process of the sandbox has the caller's kernel
/// uid (one id is mapped), which is what FUSE admits without it. No
/// default_permissions, as ch-run: the mount is read-only and its bytes
/// are the caller's to read anyway.
pub const MOUNT_OPTIONS: [(&str, &str); 5] = [("source", "image"), ("subtype", "squashfuse"), ("rootmode", "40000"), ("user_id", "0"), ("group_id", "0")];

/// Check `plan.root` before clone. `None` for no image or a directory
/// (pid 1 opens that itself); for a SquashFS image, the detached FUSE
/// mount, already served, that pid 1 attaches (it inherits the fd).
pub fn prepare(sys: &dyn Sys, plan: &Plan, env: &[String]) -> Result<Option<Fd>, SetupError> {
    let Some(spec) = &plan.root else { return Ok(None) };
    let (kind, image) = detect(sys, spec)?;
    if kind == ImageKind::Dir {
        let _ = sys.close(image);
        return Ok(None);
    }
    let r = find_server(sys, env).and_then(|server| serve(sys, &server, image));
    let _ = sys.close(image);
    r.map(Some)
}

/// Mount the image detached and start its server; the mount fd.
fn serve(sys: &dyn Sys, server: &str, image: Fd) -> Result<Fd, SetupError> {
    let (mount, fuse) = sys.fuse_mount_detached(&MOUNT_OPTIONS).map_err(|e| match e.0 {
        libc::EACCES | libc::EPERM | libc::ENOENT | libc::ENODEV | libc::ENXIO => fuse_error(e),
        _ => SetupError::sys(Code::FuseUnavailable, "mount the SquashFS image (fuse)", e),
    })?;
    // -f: stay in the foreground (our child); -s: one thread, so the server
    // is one small process (ch-run's choice, #1157).
    let argv = vec![server.to_string(), "-f".into(), "-s".into(), format!("/dev/fd/{image}"), format!("/dev/fd/{fuse}")];
    let started = sys.spawn_server(&argv, &[image, fuse]).map(drop).ctx(Code::FuseUnavailable, format_args!("start the FUSE server {server}"));
    let _ = sys.close(fuse);
    match started {
        Ok(()) => Ok(mount),
        Err(e) => {
            let _ = sys.close(mount);
            Err(e)
        }
    }
}
/// `$SANDBOXCTL_SQUASHFUSE`, else `squashfuse_ll` in the launcher's `PATH`
/// (then /usr/bin and /bin).
fn find_server(sys: &dyn Sys, env: &[String]) -> Result<String, SetupError> {
    let var = |name: &str| env.iter().find_map(|e| e.strip_prefix(name).and_then(|v| v.strip_prefix('=')));
    let missing = |what: String| {
        SetupError::new(Code::FuseUnavailable, what).with_hint(format!("install squashfuse (apt-get install squashfuse) or name the server in ${SERVER_ENV}"))
    };
    if let Some(p) = var(SERVER_ENV).filter(|p| !p.is_empty()) {
        return match sys.stat(p) {
            Ok(FileKind::File) if p.starts_with('/') => Ok(p.to_string()),
            _ => Err(missing(format!("the FUSE server {p} (${SERVER_ENV}) is not an absolute path to a file"))),
        };
    }
    let path = var("PATH").unwrap_or("");
    for dir in path.split(':').filter(|d| d.starts_with('/')).chain(["/usr/bin", "/bin"]) {
        let p = format!("{}/{SERVER}", dir.trim_end_matches('/'));
        if sys.stat(&p) == Ok(FileKind::File) {
            return Ok(p);
        }
    }
    Err(missing(format!("the FUSE server {SERVER} for SquashFS images is not installed")))
}
