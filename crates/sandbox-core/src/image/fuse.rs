//! Stage: the launcher, for `plan.root`. Before clone, [`prepare`] checks
//! the image (bad input fails here, before any namespace exists) and, for
//! a SquashFS image, finds the FUSE server, checks `/dev/fuse` and makes
//! the socket pair pid 1 hands the FUSE device back on. After clone,
//! [`serve`] receives that fd and starts the server outside the sandbox.
//!
//! The server is Debian's `squashfuse_ll` (libfuse 3 takes `/dev/fd/N` as
//! an already mounted device, so no fusermount3, no setuid helper), given
//! the image as the fd the launcher checked (`/dev/fd/M`). It runs in the
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

/// What the launcher keeps for a SquashFS image between clone and serve.
#[derive(Debug, PartialEq, Eq)]
pub struct FuseChan {
    /// The image, opened and checked.
    pub image: Fd,
    /// The launcher's end of the socket pair.
    pub mine: Fd,
    /// pid 1's end (closed by the launcher after clone).
    pub theirs: Fd,
    /// Absolute path of the server.
    pub server: String,
}

/// Check `plan.root` before clone. `None` for no image or a directory
/// (pid 1 opens that itself); the channel for a SquashFS image.
pub fn prepare(sys: &dyn Sys, plan: &Plan, env: &[String]) -> Result<Option<FuseChan>, SetupError> {
    let Some(spec) = &plan.root else { return Ok(None) };
    let (kind, image) = detect(sys, spec)?;
    if kind == ImageKind::Dir {
        let _ = sys.close(image);
        return Ok(None);
    }
    let ready = find_server(sys, env).and_then(|server| {
        let fuse = sys.open("/dev/fuse", libc::O_RDWR).map_err(fuse_error)?;
        let _ = sys.close(fuse);
        let (mine, theirs) = sys.socketpair().ctx(Code::Setup, "create the FUSE socket")?;
        Ok(FuseChan { image, mine, theirs, server })
    });
    if ready.is_err() {
        let _ = sys.close(image);
    }
    ready.map(Some)
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

/// After clone: take the FUSE device pid 1 mounted and start the server
/// on it. When pid 1 failed before sending it, there is nothing to serve
/// (pid 1 reports its own error).
pub fn serve(sys: &dyn Sys, chan: FuseChan) -> Result<(), SetupError> {
    let _ = sys.close(chan.theirs);
    let got = sys.recv_fd(chan.mine);
    let _ = sys.close(chan.mine);
    let r = match got {
        Ok(None) => Ok(()),
        Err(e) => Err(SetupError::sys(Code::Setup, "receive the FUSE device from the sandbox", e)),
        Ok(Some(fuse)) => {
            // -f: stay in the foreground (our child); -s: one thread, so
            // the server is one small process (ch-run's choice, #1157).
            let argv = vec![chan.server.clone(), "-f".into(), "-s".into(), format!("/dev/fd/{}", chan.image), format!("/dev/fd/{fuse}")];
            let r = sys.spawn_server(&argv, &[chan.image, fuse]).map(drop).ctx(Code::FuseUnavailable, format_args!("start the FUSE server {}", chan.server));
            let _ = sys.close(fuse);
            r
        }
    };
    let _ = sys.close(chan.image);
    r
}
