//! Stage: pid 1's root stage (init/root.rs), for `plan.root`. Two steps:
//!
//! - [`open`], with the host root still ours: a directory image is opened
//!   O_PATH (what the bind takes, so a path swapped later cannot redirect
//!   it); a SquashFS image is the detached FUSE mount the launcher made and
//!   serves (image/fuse.rs), inherited as an fd.
//! - [`mount_sysroot`], in the intermediate root right after the first
//!   pivot (host under `/host`, cwd `/`): the image goes on `/sysroot`
//!   where an empty tmpfs goes otherwise, so every op target that follows
//!   is resolved inside the image by the RootFs toolkit.
//!
//! Modes (ch-run's, digest A3 mounts_setup, with the kernel's facts):
//! read-only is a bind made read-only by `mount_setattr(AT_RECURSIVE)` (a
//! `MS_RDONLY` on the first bind, as ch-run passes, is ignored by the
//! kernel); `writable` is the bind alone; `fake` is an overlay of a tmpfs
//! (`size=`) on the image, `userxattr` as an unprivileged overlay needs
//! (Linux 5.11), `volatile` since nothing of it outlives the sandbox.
//! ch-run also passes `index=on`; it needs a real upper's file handles and
//! is refused with `userxattr` on tmpfs by older kernels, and hard-link
//! copy-up is not worth a failed mount here, so we leave it out. Every
//! image mount is nosuid and nodev: a setuid file or a device node shipped
//! in an image gives nothing (devices come from the `dev` op or a bind).
//! Lower and upper live in the intermediate root (ch-run uses the host's
//! `/srv`); the overlay holds them after the intermediate root is gone.

use crate::error::{Code, Ctx, SetupError};
use crate::ops::fd_path;
use crate::plan::{RootSpec, RootWrite, DEFAULT_FAKE_SIZE};
use crate::sys::{Fd, MsFlags, Sys, ATTR_NODEV, ATTR_NOSUID, ATTR_RDONLY};

/// The image's lower layer (fake writes, SquashFS), in the intermediate root.
pub const LOWER: &str = "/lower";
/// The tmpfs holding the fake writes, in the intermediate root.
pub const FAKE: &str = "/fake";
const SYSROOT: &str = crate::ops::SYSROOT;

/// What pid 1 holds of the image while the host root is its own.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// O_PATH fd of the image directory.
    Dir(Fd),
    /// The detached, served FUSE mount of a SquashFS image.
    Squashfs(Fd),
}

/// Open what the root stage needs of the image (host view): the launcher's
/// detached mount when it made one (SquashFS), else the directory.
pub fn open(sys: &dyn Sys, spec: &RootSpec, image_mount: Option<Fd>) -> Result<Opened, SetupError> {
    if let Some(fd) = image_mount {
        return Ok(Opened::Squashfs(fd));
    }
    sys.open(&spec.image, libc::O_PATH | libc::O_DIRECTORY)
        .map(Opened::Dir)
        .map_err(|e| SetupError::sys(Code::ImageInvalid, format_args!("open the image {}", spec.image), e))
}

/// Put the image on `/sysroot` (cwd: the intermediate root).
pub fn mount_sysroot(sys: &dyn Sys, spec: &RootSpec, opened: Opened) -> Result<(), SetupError> {
    let image = &spec.image;
    // Where the image is now mounted, to put on /sysroot (or under the overlay).
    let lower = match opened {
        Opened::Dir(fd) => {
            let mut flags = libc::MS_BIND as MsFlags;
            if spec.recursive {
                flags |= libc::MS_REC as MsFlags;
            }
            let target = if spec.write == RootWrite::Fake { LOWER } else { SYSROOT };
            let made = if target == LOWER { sys.mkdir(LOWER, 0o755).ctx(Code::Setup, "create the image's lower directory") } else { Ok(()) };
            let r = made.and_then(|()| sys.mount(Some(&fd_path(fd)), target, None, flags, None).ctx(Code::Mount, format_args!("bind the image {image}")));
            let _ = sys.close(fd);
            r?;
            target
        }
        Opened::Squashfs(mount) => {
            let made = sys.mkdir(LOWER, 0o755).ctx(Code::Setup, "create the image's mount point");
            let r = made.and_then(|()| sys.move_mount(mount, LOWER).ctx(Code::Mount, "attach the SquashFS image"));
            let _ = sys.close(mount);
            r?;
            LOWER
        }
    };
    match spec.write {
        RootWrite::Fake => fake(sys, spec)?,
        _ if lower == LOWER => {
            sys.mount(Some(LOWER), SYSROOT, None, libc::MS_BIND as MsFlags, None).ctx(Code::Mount, format_args!("bind the image {image}"))?
        }
        _ => {}
    }
    let mut attrs = ATTR_NOSUID | ATTR_NODEV;
    if spec.write == RootWrite::ReadOnly {
        attrs |= ATTR_RDONLY;
    }
    let what = if spec.write == RootWrite::ReadOnly { "make the image read-only" } else { "make the image nosuid and nodev" };
    let fd = sys.open(SYSROOT, libc::O_PATH | libc::O_DIRECTORY).ctx(Code::Setup, "open sysroot")?;
    let r = match sys.mount_setattr(fd, spec.recursive, attrs) {
        // Before Linux 5.12: the top mount only, by a bind remount.
        Err(crate::sys::Errno(libc::ENOSYS)) => {
            let mut flags = (libc::MS_REMOUNT | libc::MS_BIND | libc::MS_NOSUID | libc::MS_NODEV) as MsFlags;
            if attrs & ATTR_RDONLY != 0 {
                flags |= libc::MS_RDONLY as MsFlags;
            }
            sys.mount(None, SYSROOT, None, flags, None)
        }
        r => r,
    };
    let _ = sys.close(fd);
    r.ctx(Code::Mount, what)
}

/// The fake writes: a tmpfs of `fakeSize` with upper and work, overlaid on
/// LOWER at SYSROOT.
fn fake(sys: &dyn Sys, spec: &RootSpec) -> Result<(), SetupError> {
    let size = spec.fake_size.as_deref().unwrap_or(DEFAULT_FAKE_SIZE);
    sys.mkdir(FAKE, 0o700).ctx(Code::Setup, "create the directory for fake writes")?;
    sys.mount(Some("tmpfs"), FAKE, Some("tmpfs"), (libc::MS_NOSUID | libc::MS_NODEV) as MsFlags, Some(&format!("size={size},mode=755")))
        .ctx(Code::Mount, format_args!("mount the tmpfs for fake writes (size={size})"))?;
    for d in ["upper", "work"] {
        sys.mkdir(&format!("{FAKE}/{d}"), 0o755).ctx(Code::Setup, format_args!("create {FAKE}/{d}"))?;
    }
    let data = format!("lowerdir={LOWER},upperdir={FAKE}/upper,workdir={FAKE}/work,userxattr,volatile");
    sys.mount(Some("overlay"), SYSROOT, Some("overlay"), (libc::MS_NOSUID | libc::MS_NODEV) as MsFlags, Some(&data))
        .ctx(Code::Mount, "mount the overlay for fake writes")
        .map_err(|e| e.with_hint("fake writes need an unprivileged overlay with userxattr (Linux 5.11)"))
}
