//! proc: a private proc instance for the new pid namespace; nosuid, noexec,
//! nodev. Mounting proc needs a fully visible proc in the mount namespace,
//! which holds while the host root is still attached under /host.
//!
//! The kernel-wide knobs in it (sys, sysrq-trigger, irq, bus, fs) are then
//! bound read-only onto themselves, as Docker's read-only paths: sysctl
//! checks plain file modes, so a sandbox whose uid 0 is the host's root (a
//! root caller) could otherwise write global sysctls such as kernel.panic.

use super::*;
use crate::plan::ProcOp;
use crate::sys::{ATTR_NODEV, ATTR_NOEXEC, ATTR_NOSUID, ATTR_RDONLY};

pub fn apply(o: &ProcOp, sys: &dyn Sys, st: &mut State) -> Result<(), SetupError> {
    let what = || format!("mount proc on {}", o.target);
    let fd = mkdir_all(sys, st.root, &o.target, 0o755).map_err(|e| fail(st, Code::Mount, what(), e))?;
    let flags = (libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV) as MsFlags;
    mount_on(sys, st, &o.target, fd, Some("proc"), Some("proc"), flags, None).map_err(|e| fail(st, Code::Mount, what(), e))?;
    let base = o.target.trim_end_matches('/');
    for name in READ_ONLY {
        let path = format!("{base}/{name}");
        let what = || format!("make {path} read-only");
        let fd = match sys.open_in_root(st.root, &path, 0) {
            Ok(fd) => fd,
            Err(Errno(libc::ENOENT)) => continue,
            Err(e) => return Err(fail(st, Code::Mount, what(), e)),
        };
        let p = fd_path(fd);
        let r = sys.mount(Some(&p), &p, None, (libc::MS_BIND | libc::MS_REC) as MsFlags, None);
        let _ = sys.close(fd);
        r.map_err(|e| fail(st, Code::Mount, what(), e))?;
        set_attrs(sys, st, &path, true, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV | ATTR_NOEXEC).map_err(|e| fail(st, Code::Mount, what(), e))?;
    }
    Ok(())
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
        apply(&ProcOp { target: "/proc".into() }, &s, &mut State::test(3, 0)).unwrap();
        s.done();
    }

    #[test]
    fn failure_is_a_mount_error() {
        let s = Script::new(vec![
            open_dir(3, "/proc", 5),
            call("mount(\"proc\", \"/host/proc/self/fd/5\", \"proc\", NOSUID|NODEV|NOEXEC, -)", Ret::Err(10_004)),
            close(5),
        ]);
        let e = apply(&ProcOp { target: "/proc".into() }, &s, &mut State::test(3, 2)).unwrap_err();
        assert_eq!(e.message, "cannot mount proc on /proc: error 10004");
        assert_eq!(e.op_index, Some(2));
        assert_eq!(ProcOp { target: "/proc".into() }.to_string(), "proc on /proc");
    }
}
