//! mqueue: a POSIX message queue filesystem for the sandbox's own ipc
//! namespace (needs it: mqueue shows the mounter's ipc namespace).

use super::{check_target, OpProblem, RootFs, SetupOp};
use crate::error::{Code, SetupError};
use crate::plan::MqueueOp;
use crate::sys::MsFlags;
use std::fmt;

impl SetupOp for MqueueOp {
    no_early!();

    fn validate(&self) -> Result<(), OpProblem> {
        check_target(&self.target)
    }

    fn apply(&self, (): (), root: &mut RootFs) -> Result<(), SetupError> {
        let flags = (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC) as MsFlags;
        root.mount_fs(&self.target, "mqueue", flags, None).map_err(|e| SetupError::sys(Code::Mount, format_args!("mount mqueue on {}", self.target), e))
    }
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
        MqueueOp { target: "/dev/mqueue".into() }.apply((), &mut RootFs::new(&s, 3)).unwrap();
        s.done();
        let s = Script::new(vec![
            open_dir(3, "/mq", 5),
            call("mount(\"mqueue\", \"/host/proc/self/fd/5\", \"mqueue\", NOSUID|NODEV|NOEXEC, -)", Ret::Err(libc::EPERM)),
            close(5),
        ]);
        let e = MqueueOp { target: "/mq".into() }.apply((), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!(e.message, "cannot mount mqueue on /mq: operation not permitted");
        assert_eq!(MqueueOp { target: "/mq".into() }.to_string(), "mqueue on /mq");
    }
}
