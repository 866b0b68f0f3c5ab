//! mqueue: a POSIX message queue filesystem for the sandbox's own ipc
//! namespace (needs it: mqueue shows the mounter's ipc namespace).

use super::*;
use crate::plan::MqueueOp;

pub fn apply(o: &MqueueOp, sys: &dyn Sys, st: &mut State) -> Result<(), SetupError> {
    let what = || format!("mount mqueue on {}", o.target);
    let fd = mkdir_all(sys, st.root, &o.target, 0o755).map_err(|e| fail(st, Code::Mount, what(), e))?;
    let flags = (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC) as MsFlags;
    mount_on(sys, st, &o.target, fd, Some("mqueue"), Some("mqueue"), flags, None).map_err(|e| fail(st, Code::Mount, what(), e))
}

impl fmt::Display for MqueueOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mqueue on {}", self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::sys::script::{Ret, Script};

    #[test]
    fn mounts_mqueue() {
        let s = Script::new(vec![
            open_dir(3, "/dev/mqueue", 5),
            call("mount(\"mqueue\", \"/host/proc/self/fd/5\", \"mqueue\", NOSUID|NODEV|NOEXEC, -)", Ret::Ok),
            close(5),
        ]);
        apply(&MqueueOp { target: "/dev/mqueue".into() }, &s, &mut State::test(3, 0)).unwrap();
        s.done();
        let s = Script::new(vec![
            open_dir(3, "/mq", 5),
            call("mount(\"mqueue\", \"/host/proc/self/fd/5\", \"mqueue\", NOSUID|NODEV|NOEXEC, -)", Ret::Err(libc::EPERM)),
            close(5),
        ]);
        let e = apply(&MqueueOp { target: "/mq".into() }, &s, &mut State::test(3, 1)).unwrap_err();
        assert_eq!(e.message, "cannot mount mqueue on /mq: operation not permitted");
        assert_eq!(MqueueOp { target: "/mq".into() }.to_string(), "mqueue on /mq");
    }
}
