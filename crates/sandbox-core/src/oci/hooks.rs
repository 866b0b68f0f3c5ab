//! Lifecycle hooks (config.md "POSIX-platform Hooks"): `path` run with
//! `args` (args[0] is argv[0]) and exactly `env`, the container's state
//! JSON on stdin, killed after `timeout` seconds. createRuntime, prestart,
//! poststart and poststop run in the runtime's namespaces; createContainer
//! and startContainer are run by the container's pid 1.

use super::spec::Hook;
use crate::error::{Code, SetupError};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run one hook; `Err` when it fails, times out or cannot start.
pub fn run(h: &Hook, kind: &str, state: &str) -> Result<(), SetupError> {
    let fail = |what: String| SetupError::new(Code::Hook, format!("{kind} hook {}: {what}", h.path));
    let mut cmd = Command::new(&h.path);
    if let Some((arg0, rest)) = h.args.split_first() {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear();
    for e in &h.env {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    let mut child = cmd.stdin(Stdio::piped()).spawn().map_err(|e| fail(format!("cannot start: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is not an error (EPIPE).
        let _ = stdin.write_all(state.as_bytes());
    }
    let deadline = h.timeout.filter(|t| *t > 0).map(|t| Instant::now() + Duration::from_secs(t as u64));
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => return Ok(()),
            Ok(Some(st)) => return Err(fail(format!("exited with {st}"))),
            Ok(None) => {}
            Err(e) => return Err(fail(format!("cannot wait: {e}"))),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!("timed out after {}s", h.timeout.unwrap_or(0))));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every hook of a list, in order; the first failure stops them.
pub fn run_all(hooks: &[Hook], kind: &str, state: &str) -> Result<(), SetupError> {
    hooks.iter().try_for_each(|h| run(h, kind, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(args: &[&str], timeout: Option<i64>) -> Hook {
        Hook { path: "/bin/sh".into(), args: args.iter().map(|s| s.to_string()).collect(), env: vec!["X=1".into()], timeout }
    }

    #[test]
    fn state_on_stdin_env_exact_and_status() {
        let out = std::env::temp_dir().join(format!("sandboxctl-hook-{}", std::process::id()));
        let script = format!("cat > {0}; echo \"$X:$HOME\" >> {0}", out.display());
        run(&hook(&["sh", "-c", &script], None), "poststart", "{\"id\":\"a\"}").unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\"id\":\"a\"}1:\n");
        std::fs::remove_file(&out).unwrap();
        let e = run(&hook(&["sh", "-c", "exit 3"], None), "poststop", "{}").unwrap_err();
        assert_eq!(e.code, Code::Hook);
        let e = run(&hook(&["sh", "-c", "sleep 5"], Some(1)), "createRuntime", "{}").unwrap_err();
        assert!(e.message.contains("timed out"), "{}", e.message);
    }
}
