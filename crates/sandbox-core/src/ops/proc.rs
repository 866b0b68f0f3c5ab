//! proc: a private proc instance for the new pid namespace; nosuid, noexec,
//! nodev. Mounting proc needs a fully visible proc in the mount namespace,
//! which holds while the host root is still attached under /host.

use super::*;
use crate::plan::ProcOp;

pub fn apply(o: &ProcOp, sys: &dyn Sys, st: &mut State) -> Result<(), SetupError> {
    let what = || format!("mount proc on {}", o.target);
    let fd = mkdir_all(sys, st.root, &o.target, 0o755).map_err(|e| fail(st, Code::Mount, what(), e))?;
    let flags = (libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV) as MsFlags;
    mount_on(sys, st, &o.target, fd, Some("proc"), Some("proc"), flags, None).map_err(|e| fail(st, Code::Mount, what(), e))
}

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
    fn mounts_proc_through_the_target_fd() {
        let s = Script::new(vec![
            open_dir(3, "/proc", 5),
            call("mount(\"proc\", \"/host/proc/self/fd/5\", \"proc\", NOSUID|NODEV|NOEXEC, -)", Ret::Ok),
            close(5),
        ]);
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
