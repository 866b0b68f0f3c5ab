//! `sandboxctl-bwrap`: bubblewrap's command line (0.11) over our init.
//!
//! Stages: [`args`] parses argv as bubblewrap does; [`main`] makes
//! bubblewrap's own checks (its messages, exit 1); [`plan`] turns the
//! options into our plan; [`monitor`] forks our launcher
//! (`sandbox_core::launch::run_launcher`, the same path as
//! `sandboxctl-init`) with a report socket and stays as bubblewrap's
//! monitor does: it speaks bubblewrap's fd protocols (`--info-fd`,
//! `--json-status-fd`, `--lock-file`), turns our report lines into
//! `bwrap: ...` messages and exits with the program's status.
//!
//! Our own error and exit conventions (E_* codes, 125) are bubblewrap's
//! here: a message `bwrap: ...` on stderr and exit 1.

pub mod args;
pub mod monitor;
pub mod plan;

use args::{Opts, Parsed};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// bubblewrap's exit status for every failure of its own.
pub const EXIT_FAILURE: i32 = 1;

/// How messages are printed: `bwrap: ...`, with `--level-prefix` `<3>bwrap: ...`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Log {
    pub level_prefix: bool,
}

impl Log {
    /// The line bubblewrap prints for a message at syslog `level` (3 error, 4 warning).
    pub fn line(&self, level: u8, msg: &str) -> String {
        let p = if self.level_prefix { format!("<{level}>") } else { String::new() };
        format!("{p}bwrap: {msg}\n")
    }
    pub fn warn(&self, msg: &str) {
        eprint!("{}", self.line(4, msg));
    }
    pub fn error(&self, msg: &str) {
        eprint!("{}", self.line(3, msg));
    }
}

fn lossy(s: &OsString) -> String {
    String::from_utf8_lossy(s.as_bytes()).into_owned()
}

/// Read all of a caller's fd (`--args`), then close it as bubblewrap does.
fn read_all_and_close(fd: i32) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::fd::FromRawFd;
    if fd < 0 || nix::fcntl::fcntl(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }, nix::fcntl::FcntlArg::F_GETFD).is_err() {
        return Err(std::io::Error::from_raw_os_error(libc::EBADF).to_string().split(" (os error").next().unwrap_or("").to_string());
    }
    // SAFETY: the caller handed this fd to us (--args FD); we own it from here and close it.
    let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
    let mut out = Vec::new();
    f.read_to_end(&mut out).map_err(|e| e.to_string().split(" (os error").next().unwrap_or("").to_string())?;
    Ok(out)
}

/// The whole program: argv (with argv[0]) in, exit status out.
pub fn main(argv: Vec<OsString>) -> i32 {
    let prog = argv.first().map(lossy).unwrap_or_else(|| "bwrap".into());
    let args: Vec<String> = argv.iter().skip(1).map(lossy).collect();
    // --level-prefix applies to messages from the start, as far as argv goes.
    let log = Log { level_prefix: args.iter().take_while(|a| *a != "--").any(|a| a == "--level-prefix") };
    if args.len() == 1 && args[0] == "--version" {
        return version();
    }
    if args.is_empty() {
        eprint!("{}", args::usage(&prog));
        return EXIT_FAILURE;
    }
    let env: Vec<(String, String)> = std::env::vars_os().map(|(k, v)| (lossy(&k), lossy(&v))).collect();
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let caps_start = if uid == 0 { caller_caps() } else { 0 };
    let parsed = args::parse(&args, env, caps_start, &mut read_all_and_close);
    let opts = match parsed {
        Ok(Parsed::Help) => {
            print!("{}", args::usage(&prog));
            return 0;
        }
        Ok(Parsed::Version) => return version(),
        Ok(Parsed::Run(o)) => o,
        Err(msg) => {
            log.error(&msg);
            return EXIT_FAILURE;
        }
    };
    for w in &opts.warnings {
        log.warn(w);
    }
    if opts.command.is_empty() {
        eprint!("{}", args::usage(&prog));
        return EXIT_FAILURE;
    }
    match check(&opts, uid) {
        Ok(()) => monitor::run(&opts, uid, log),
        Err(msg) => {
            log.error(&msg);
            EXIT_FAILURE
        }
    }
}

/// The caller's effective capabilities: what bubblewrap run by root
/// leaves the program, and where `--cap-add`/`--cap-drop` start from.
pub fn caller_caps() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:")).map(str::trim).unwrap_or("0");
    u64::from_str_radix(hex, 16).unwrap_or(0) & args::all_caps()
}

fn version() -> i32 {
    println!("bubblewrap {} (sandboxctl-bwrap {})", args::BWRAP_VERSION, sandbox_core::VERSION);
    0
}

/// bubblewrap's checks after parsing, in its order and words; and what we
/// do not do (--uid with --userns) said the same way.
pub fn check(o: &Opts, uid: u32) -> Result<(), String> {
    if o.userns_block_fd.is_some() && !o.unshare_user {
        return Err("--userns-block-fd requires --unshare-user".into());
    }
    if o.userns_block_fd.is_some() && o.info_fd.is_none() {
        return Err("--userns-block-fd requires --info-fd".into());
    }
    if o.userns_fd.is_some() && o.unshare_user {
        return Err("--userns not compatible --unshare-user".into());
    }
    if o.userns_fd.is_some() && o.unshare_user_try {
        return Err("--userns not compatible --unshare-user-try".into());
    }
    if o.disable_userns && !o.unshare_user {
        return Err("--disable-userns requires --unshare-user".into());
    }
    if o.disable_userns && o.userns_block_fd.is_some() {
        return Err("--disable-userns is not compatible with  --userns-block-fd".into());
    }
    // bubblewrap unshares the user namespace for every caller but root;
    // --userns gives one as well.
    let unshare_user = o.unshare_user || uid != 0 || o.unshare_user_try || o.userns_fd.is_some();
    if !unshare_user && o.uid.is_some_and(|u| u != uid) {
        return Err("Specifying --uid requires --unshare-user or --userns".into());
    }
    // SAFETY: getgid cannot fail.
    let gid = unsafe { libc::getgid() };
    if !unshare_user && o.gid.is_some_and(|g| g != gid) {
        return Err("Specifying --gid requires --unshare-user or --userns".into());
    }
    if !o.unshare_uts && o.hostname.is_some() {
        return Err("Specifying --hostname requires --unshare-uts".into());
    }
    if o.as_pid_1 && !o.unshare_pid {
        return Err("Specifying --as-pid-1 requires --unshare-pid".into());
    }
    if o.as_pid_1 && !o.lock_files.is_empty() {
        return Err("Specifying --as-pid-1 and --lock-file is not permitted".into());
    }
    // bubblewrap nests a new pid namespace in the joined one (one more
    // fork between its setns and unshare); ours joins it as it is.
    if o.pidns_fd.is_some() && o.unshare_pid {
        return Err("Specifying --pidns with --unshare-pid is not supported by sandboxctl-bwrap".into());
    }
    if o.unshare_cgroup && std::fs::metadata("/proc/self/ns/cgroup").is_err() {
        return Err("Cannot create new cgroup namespace because the kernel does not support it".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(f: impl FnOnce(&mut Opts)) -> Opts {
        let mut o = Opts { command: vec!["true".into()], ..Opts::default() };
        f(&mut o);
        o
    }

    #[test]
    fn bubblewraps_checks_after_parsing_have_its_messages() {
        let cases: Vec<(Opts, u32, &str)> = vec![
            (opts(|o| o.userns_block_fd = Some(3)), 1000, "--userns-block-fd requires --unshare-user"),
            (
                opts(|o| {
                    o.userns_block_fd = Some(3);
                    o.unshare_user = true
                }),
                1000,
                "--userns-block-fd requires --info-fd",
            ),
            (
                opts(|o| {
                    o.userns_fd = Some(3);
                    o.unshare_user = true
                }),
                1000,
                "--userns not compatible --unshare-user",
            ),
            (
                opts(|o| {
                    o.userns_fd = Some(3);
                    o.unshare_user_try = true
                }),
                1000,
                "--userns not compatible --unshare-user-try",
            ),
            (opts(|o| o.disable_userns = true), 1000, "--disable-userns requires --unshare-user"),
            (
                opts(|o| {
                    o.disable_userns = true;
                    o.unshare_user = true;
                    o.userns_block_fd = Some(3);
                    o.info_fd = Some(4)
                }),
                1000,
                "--disable-userns is not compatible with  --userns-block-fd",
            ),
            (opts(|o| o.uid = Some(5)), 0, "Specifying --uid requires --unshare-user or --userns"),
            (opts(|o| o.gid = Some(5)), 0, "Specifying --gid requires --unshare-user or --userns"),
            (opts(|o| o.hostname = Some("h".into())), 1000, "Specifying --hostname requires --unshare-uts"),
            (opts(|o| o.as_pid_1 = true), 1000, "Specifying --as-pid-1 requires --unshare-pid"),
            (
                opts(|o| {
                    o.as_pid_1 = true;
                    o.unshare_pid = true;
                    o.lock_files = vec!["/l".into()]
                }),
                1000,
                "Specifying --as-pid-1 and --lock-file is not permitted",
            ),
            (
                opts(|o| {
                    o.pidns_fd = Some(3);
                    o.unshare_pid = true
                }),
                1000,
                "Specifying --pidns with --unshare-pid is not supported by sandboxctl-bwrap",
            ),
        ];
        for (o, uid, msg) in cases {
            assert_eq!(check(&o, uid), Err(msg.to_string()));
        }
        // Not root: the user namespace is implied, so --uid needs nothing more.
        assert_eq!(check(&opts(|o| o.uid = Some(5)), 1000), Ok(()));
        assert_eq!(check(&opts(|_| {}), 0), Ok(()));
        // --userns, --userns2 and --pidns are taken (the launcher joins them).
        assert_eq!(
            check(
                &opts(|o| {
                    o.userns_fd = Some(3);
                    o.userns2_fd = Some(4);
                    o.pidns_fd = Some(5)
                }),
                1000
            ),
            Ok(())
        );
        // --uid/--gid with --userns: ids of the joined namespace, switched to by pid 1.
        for uid in [0, 1000] {
            assert_eq!(
                check(
                    &opts(|o| {
                        o.userns_fd = Some(3);
                        o.uid = Some(0);
                        o.gid = Some(5)
                    }),
                    uid
                ),
                Ok(())
            );
        }
    }

    #[test]
    fn messages_take_bubblewraps_form() {
        assert_eq!(Log::default().line(3, "Unknown option --x"), "bwrap: Unknown option --x\n");
        assert_eq!(Log { level_prefix: true }.line(4, "w"), "<4>bwrap: w\n");
    }
}
