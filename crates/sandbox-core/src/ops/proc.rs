//! proc: a private proc instance for the new pid namespace; nosuid, noexec,
//! nodev. Mounting proc needs a fully visible proc in the mount namespace,
//! which holds while the host root is still attached under /host.
//!
//! The kernel-wide knobs in it (sys, sysrq-trigger, irq, bus, fs) are then
//! bound read-only onto themselves, as Docker's read-only paths: sysctl
//! checks plain file modes, so a sandbox whose uid 0 is the host's root (a
//! root caller) could otherwise write global sysctls such as kernel.panic.

use super::{check_target, OpProblem, RootFs, SetupOp};
use crate::error::{Code, SetupError};
use crate::plan::ProcOp;
use crate::sys::{Errno, MsFlags, ATTR_NODEV, ATTR_NOEXEC, ATTR_NOSUID, ATTR_RDONLY};
use std::fmt;

impl SetupOp for ProcOp {
    no_early!();

    fn validate(&self) -> Result<(), OpProblem> {
        check_target(&self.target)
    }

    fn apply(&self, (): (), root: &mut RootFs) -> Result<(), SetupError> {
        let flags = (libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV) as MsFlags;
        root.mount_fs(&self.target, "proc", flags, None).map_err(|e| SetupError::sys(Code::Mount, format_args!("mount proc on {}", self.target), e))?;
        let base = self.target.trim_end_matches('/');
        for name in READ_ONLY {
            let path = format!("{base}/{name}");
            let fail = |e| SetupError::sys(Code::Mount, format_args!("make {path} read-only"), e);
            let fd = match root.open(&path, 0) {
                Ok(fd) => fd,
                // not in this kernel (bus without PCI): nothing to lock
                Err(Errno(libc::ENOENT)) => continue,
                Err(e) => return Err(fail(e)),
            };
            root.bind_onto_itself(fd).map_err(fail)?;
            root.set_attrs(&path, true, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV | ATTR_NOEXEC).map_err(fail)?;
        }
        Ok(())
    }
}

/// Kernel-wide knobs of proc kept read-only inside (Docker's list).
pub const READ_ONLY: [&str; 5] = ["sys", "sysrq-trigger", "irq", "bus", "fs"];

impl fmt::Display for ProcOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "proc on {}", self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::sys::script::{Ret, Script};

    #[test]
    fn mounts_proc_through_the_target_fd_and_locks_the_kernel_knobs() {
        let mut v = vec![open_dir(3, "/proc", 5), call("mount(\"proc\", \"/host/proc/self/fd/5\", \"proc\", NOSUID|NODEV|NOEXEC, -)", Ret::Ok), close(5)];
        for (i, name) in READ_ONLY.iter().enumerate() {
            let fd = 10 + i as i32;
            if *name == "bus" {
                v.push(open_any(3, "/proc/bus", Ret::Err(libc::ENOENT)));
                continue;
            }
            v.push(open_any(3, &format!("/proc/{name}"), Ret::Fd(fd)));
            v.push(call(format!("mount(\"/host/proc/self/fd/{fd}\", \"/host/proc/self/fd/{fd}\", -, BIND|REC, -)"), Ret::Ok));
            v.push(close(fd));
            v.extend(setattr(3, &format!("/proc/{name}"), 20 + i as i32, true, "RDONLY|NOSUID|NODEV|NOEXEC"));
        }
        let s = Script::new(v);
        ProcOp { target: "/proc".into() }.apply((), &mut RootFs::new(&s, 3)).unwrap();
        s.done();
    }

    #[test]
    fn failure_is_a_mount_error() {
        let s = Script::new(vec![
            open_dir(3, "/proc", 5),
            call("mount(\"proc\", \"/host/proc/self/fd/5\", \"proc\", NOSUID|NODEV|NOEXEC, -)", Ret::Err(10_004)),
            close(5),
        ]);
        let e = ProcOp { target: "/proc".into() }.apply((), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (Code::Mount, "cannot mount proc on /proc: error 10004"));
        // a knob that cannot be locked fails the op
        let s = Script::new(vec![
            open_dir(3, "/proc", 5),
            call("mount(\"proc\", \"/host/proc/self/fd/5\", \"proc\", NOSUID|NODEV|NOEXEC, -)", Ret::Ok),
            close(5),
            open_any(3, "/proc/sys", Ret::Fd(6)),
            call("mount(\"/host/proc/self/fd/6\", \"/host/proc/self/fd/6\", -, BIND|REC, -)", Ret::Err(10_016)),
            close(6),
        ]);
        let e = ProcOp { target: "/proc".into() }.apply((), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!(e.message, "cannot make /proc/sys read-only: error 10016");
        s.done();
        let s = Script::new(vec![
            open_dir(3, "/proc", 5),
            call("mount(\"proc\", \"/host/proc/self/fd/5\", \"proc\", NOSUID|NODEV|NOEXEC, -)", Ret::Ok),
            close(5),
            open_any(3, "/proc/sys", Ret::Err(libc::EACCES)),
        ]);
        let e = ProcOp { target: "/proc".into() }.apply((), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!(e.message, "cannot make /proc/sys read-only: permission denied");
        s.done();
        assert_eq!(ProcOp { target: "proc".into() }.validate().unwrap_err().field, "target");
        assert_eq!(ProcOp { target: "/proc".into() }.to_string(), "proc on /proc");
    }
}
