//! Stage: pid 1 of the sandbox, right after clone created its namespaces.
//! Follows hakurei's container init step by step (see docs/internals.md):
//! id maps, hostname, rslave, early, intermediate root, pivot, apply, host
//! detach, second pivot, privilege drop, seccomp, start the program, reap.
//!
//! Invariant: every step goes through `Sys`, every failure before the
//! program starts is reported with a stable code and exits 125.

use crate::error::{Code, Error, SetupError};
use crate::ops::{self, RootFs, SYSROOT};
use crate::plan::{Network, Plan};
use crate::sys::{Errno, Exec, ExecFailure, ExitStatus, Fd, MsFlags, Prctl, Sys};

/// Where the intermediate tmpfs root is mounted: always present, always a
/// directory, private to this process and never visible after the pivots
/// (hakurei's reasoning for the same choice).
pub const INTERMEDIATE: &str = "/proc/self/fd";

const LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1;
const LANDLOCK_SCOPE_SIGNAL: u64 = 2;

/// Exit status when setup fails (the tool's own failure, as env/timeout).
pub const EXIT_SETUP: i32 = 125;
/// Exit status when wait4 answers something unexpected (as hakurei).
pub const EXIT_UNEXPECTED_WAIT: i32 = 2;

/// What pid 1 needs besides the plan.
pub struct InitContext<'a> {
    pub plan: &'a Plan,
    /// The caller's ids outside, mapped to the plan's ids inside.
    pub host_uid: u32,
    pub host_gid: u32,
    /// The caller's working directory, tried when the plan names none.
    pub caller_cwd: Option<String>,
    /// Report socket (docs/internals.md); stderr when absent.
    pub report_fd: Option<Fd>,
    /// Compiled seccomp filters, loaded in order.
    pub seccomp: &'a [Vec<libc::sock_filter>],
    /// The program's final environment (`KEY=VALUE`).
    pub env: Vec<String>,
    /// plan.tty: pid 1's end of the socket the pty master goes back on.
    pub tty_sock: Option<Fd>,
}

/// What to do when the sandbox has no devpts of its own for plan.tty.
pub const TTY_HINT: &str = "a pseudo-terminal comes from the sandbox's own devpts: add `--dev /dev` (the presets have it), or run without one with `--no-tty`";

/// Send a report line, or log to stderr when there is no report socket.
pub fn report(sys: &dyn Sys, report_fd: Option<Fd>, err: &Error) {
    match report_fd {
        Some(fd) => {
            let mut line = err.to_report().to_string();
            line.push('\n');
            if sys.write_fd(fd, line.as_bytes()).is_err() {
                sys.log(&format!("{}: {err}", err.code().as_str()));
            }
        }
        None => {
            sys.log(&format!("{}: {err}", err.code().as_str()));
            if let Some(h) = err.hint() {
                sys.log(&format!("hint: {h}"));
            }
        }
    }
}

fn fatal(sys: &dyn Sys, cx: &InitContext, err: impl Into<Error>) -> ! {
    report(sys, cx.report_fd, &err.into());
    sys.exit(EXIT_SETUP)
}

fn setup(what: &str, e: Errno) -> SetupError {
    SetupError::sys(Code::Setup, what, e)
}
fn mount_err(what: &str, e: Errno) -> SetupError {
    SetupError::sys(Code::Mount, what, e)
}

/// Run the init. Never returns: exits with the program's status.
pub fn run_init(sys: &dyn Sys, cx: &InitContext) -> ! {
    let plan = cx.plan;
    if sys.getpid() != 1 {
        fatal(sys, cx, SetupError::new(Code::Setup, "this process must run as pid 1"));
    }
    // Yama: nobody may attach to us by exception. Not fatal: Yama may be absent.
    let _ = sys.prctl(Prctl::SetPtracerNone);
    if plan.die_with_parent {
        if let Err(e) = sys.prctl(Prctl::SetPdeathsig(libc::SIGKILL)) {
            fatal(sys, cx, setup("set the parent-death signal", e));
        }
    }
    if plan.network == Network::None {
        if let Err(e) = sys.loopback_up() {
            fatal(sys, cx, setup("bring up the loopback interface", e));
        }
    }

    // Write our own id maps: the parent never needs to. /proc/self/*_map
    // are writable by us only while dumpable, so allow it just for this.
    if let Err(e) = sys.prctl(Prctl::SetDumpable(true)) {
        fatal(sys, cx, setup("set dumpable", e));
    }
    let uid = plan.uid.unwrap_or(cx.host_uid);
    let gid = plan.gid.unwrap_or(cx.host_gid);
    if let Err(e) = sys.write_file("/proc/self/uid_map", format!("{uid} {} 1\n", cx.host_uid).as_bytes()) {
        fatal(sys, cx, setup("write the uid map", e));
    }
    match sys.write_file("/proc/self/setgroups", b"deny\n") {
        Ok(()) | Err(Errno(libc::ENOENT)) => {}
        Err(e) => fatal(sys, cx, setup("deny setgroups", e)),
    }
    if let Err(e) = sys.write_file("/proc/self/gid_map", format!("{gid} {} 1\n", cx.host_gid).as_bytes()) {
        fatal(sys, cx, setup("write the gid map", e));
    }
    // Not dumpable from here on: nothing inside may ptrace or read our memory.
    if let Err(e) = sys.prctl(Prctl::SetDumpable(false)) {
        fatal(sys, cx, setup("clear dumpable", e));
    }

    let old_umask = sys.umask(0);
    if let Some(h) = &plan.hostname {
        if let Err(e) = sys.sethostname(h) {
            fatal(sys, cx, setup("set the hostname", e));
        }
    }
    // Read before the pivots, while the host's /proc is at hand.
    let last_cap = match sys.read_file("/proc/sys/kernel/cap_last_cap") {
        Ok(b) => match String::from_utf8_lossy(&b).trim().parse::<u32>() {
            Ok(n) if n < 64 => n,
            _ => fatal(sys, cx, SetupError::new(Code::Setup, "cannot parse /proc/sys/kernel/cap_last_cap")),
        },
        Err(e) => fatal(sys, cx, setup("read /proc/sys/kernel/cap_last_cap", e)),
    };

    // Nothing we mount may propagate back to the host.
    if let Err(e) = sys.mount(None, "/", None, (libc::MS_SLAVE | libc::MS_REC) as MsFlags, None) {
        fatal(sys, cx, mount_err("make / rslave", e));
    }

    // early: the host root is still our root; gather facts, change nothing.
    let early = ops::EarlyCx { keep_session: !plan.new_session, uid, gid };
    let prepared = ops::early_all(&plan.ops, sys, &early).unwrap_or_else(|e| fatal(sys, cx, e));

    // The intermediate root: a tmpfs holding `sysroot` (the new root) and
    // `host` (where pivot_root puts the old root).
    if let Err(e) = sys.mount(Some("tmpfs"), INTERMEDIATE, Some("tmpfs"), (libc::MS_NODEV | libc::MS_NOSUID) as MsFlags, Some("mode=700")) {
        fatal(sys, cx, mount_err("mount the intermediate root", e));
    }
    if let Err(e) = sys.chdir(INTERMEDIATE) {
        fatal(sys, cx, setup("enter the intermediate root", e));
    }
    if let Err(e) = sys.mkdir("sysroot", 0o755) {
        fatal(sys, cx, setup("create sysroot", e));
    }
    // The new root is a tmpfs of its own (as bubblewrap's): a mount point
    // for the second pivot, and in mountinfo a plain `/` that names nothing
    // of the setup.
    if let Err(e) = sys.mount(Some("tmpfs"), "sysroot", Some("tmpfs"), (libc::MS_NODEV | libc::MS_NOSUID) as MsFlags, Some("mode=755")) {
        fatal(sys, cx, mount_err("mount the new root", e));
    }
    if let Err(e) = sys.mkdir("host", 0o755) {
        fatal(sys, cx, setup("create host", e));
    }
    if let Err(e) = sys.pivot_root(".", "host") {
        fatal(sys, cx, mount_err("pivot into the intermediate root", e));
    }
    if let Err(e) = sys.chdir("/") {
        fatal(sys, cx, setup("enter the intermediate root", e));
    }

    // apply: sources under /host, targets resolved inside /sysroot.
    let root = match sys.open(SYSROOT, libc::O_PATH | libc::O_DIRECTORY) {
        Ok(fd) => fd,
        Err(e) => fatal(sys, cx, setup("open sysroot", e)),
    };
    let mut rootfs = RootFs::new(sys, root);
    if let Err(e) = ops::apply_all(prepared, &mut rootfs) {
        fatal(sys, cx, e);
    }
    rootfs.close();

    // Detach the host root: rprivate first so the unmount cannot propagate.
    if let Err(e) = sys.mount(None, "/host", None, (libc::MS_REC | libc::MS_PRIVATE) as MsFlags, None) {
        fatal(sys, cx, mount_err("make the host root rprivate", e));
    }
    if let Err(e) = sys.umount2("/host", libc::MNT_DETACH) {
        fatal(sys, cx, mount_err("detach the host root", e));
    }

    // Second pivot: pivot_root(".", ".") stacks the intermediate root on
    // top of sysroot; unmounting "." then leaves only the sandbox's root.
    let fd = match sys.open("/", libc::O_DIRECTORY | libc::O_RDONLY) {
        Ok(fd) => fd,
        Err(e) => fatal(sys, cx, setup("open the intermediate root", e)),
    };
    if let Err(e) = sys.chdir(SYSROOT) {
        fatal(sys, cx, setup("enter sysroot", e));
    }
    if let Err(e) = sys.pivot_root(".", ".") {
        fatal(sys, cx, mount_err("pivot into sysroot", e));
    }
    if let Err(e) = sys.fchdir(fd) {
        fatal(sys, cx, setup("re-enter the intermediate root", e));
    }
    if let Err(e) = sys.umount2(".", libc::MNT_DETACH) {
        fatal(sys, cx, mount_err("unmount the intermediate root", e));
    }
    if let Err(e) = sys.chdir("/") {
        fatal(sys, cx, setup("enter the new root", e));
    }
    if let Err(e) = sys.close(fd) {
        fatal(sys, cx, setup("close the intermediate root", e));
    }
    // The new root is complete: its /dev/ptmx is the sandbox's own devpts.
    let tty = cx.tty_sock.map(|sock| open_tty(sys, cx, sock));

    // Drop every capability but those the plan keeps: ambient, bounding,
    // then the three sets; kept ones are raised ambient so they survive the
    // exec of a program that is not uid 0 (bubblewrap's --cap-add).
    let keep = crate::caps::kept(plan);
    if let Err(e) = sys.prctl(Prctl::CapAmbientClearAll) {
        fatal(sys, cx, setup("clear the ambient capability set", e));
    }
    for cap in 0..=last_cap {
        if keep & (1 << cap) != 0 {
            continue;
        }
        if let Err(e) = sys.prctl(Prctl::CapBsetDrop(cap)) {
            fatal(sys, cx, setup(&format!("drop capability {cap} from the bounding set"), e));
        }
    }
    if let Err(e) = sys.capset(keep) {
        fatal(sys, cx, setup("set the capability sets", e));
    }
    for cap in (0..=last_cap).filter(|c| keep & (1 << c) != 0) {
        if let Err(e) = sys.prctl(Prctl::CapAmbientRaise(cap)) {
            fatal(sys, cx, setup(&format!("keep capability {cap}"), e));
        }
    }
    if let Err(e) = sys.prctl(Prctl::SetNoNewPrivs) {
        fatal(sys, cx, setup("set no_new_privs", e));
    }
    // Landlock scopes (ABI 6+): no signals to, and no abstract unix sockets
    // of, processes outside the sandbox. Older kernels lack them: go on
    // without (doctor reports the ABI).
    let scoped =
        ((!plan.landlock.allow_abstract_unix as u64) * LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET) | ((!plan.landlock.allow_signals as u64) * LANDLOCK_SCOPE_SIGNAL);
    if scoped != 0 {
        match sys.landlock_scope(scoped) {
            Ok(()) | Err(Errno(libc::ENOSYS | libc::EOPNOTSUPP | libc::EINVAL | libc::E2BIG)) => {}
            Err(e) => fatal(sys, cx, setup("restrict with landlock scopes", e)),
        }
    }
    for prog in cx.seccomp {
        if let Err(e) = sys.seccomp_load(prog) {
            let mut err = setup("load the seccomp filter", e);
            if e.0 == libc::EINVAL {
                err.hint = Some("the kernel rejected the filter: is CONFIG_SECCOMP_FILTER enabled?".into());
            }
            fatal(sys, cx, err);
        }
    }
    sys.umask(old_umask);

    let (cwd, cwd_required) = match (&plan.cwd, &cx.caller_cwd) {
        (Some(c), _) => (c.clone(), true),
        (None, Some(c)) => (c.clone(), false),
        (None, None) => ("/".to_string(), false),
    };
    let exec = Exec {
        argv: plan.argv.clone(),
        env: cx.env.clone(),
        cwd,
        cwd_required,
        new_session: plan.new_session,
        umask: old_umask,
        argv0: plan.argv0.clone(),
        fds: plan.fds.iter().map(|f| (f.fd, f.target.unwrap_or(f.fd))).collect(),
        tty,
    };
    let program = match sys.spawn(&exec) {
        Ok(pid) => pid,
        Err((_, failure)) => {
            let (code, status, msg) = match failure {
                ExecFailure::Exec(e) => (Code::Exec, if e.0 == libc::ENOENT { 127 } else { 126 }, format!("cannot execute {}: {e}", exec.argv[0])),
                ExecFailure::Chdir(e) => (Code::Exec, 127, format!("cannot enter working directory {}: {e}", exec.cwd)),
                ExecFailure::Setup(e) => (Code::Setup, EXIT_SETUP, format!("cannot prepare the program: {e}")),
                ExecFailure::Fork(e) => (Code::Setup, EXIT_SETUP, format!("cannot fork the program: {e}")),
            };
            report(sys, cx.report_fd, &SetupError::new(code, msg).into());
            sys.exit(status)
        }
    };
    // The program holds the slave now; when it and its children close it,
    // the launcher's reads of the master end.
    if let Some(slave) = tty {
        let _ = sys.close(slave);
    }
    if let Some(fd) = cx.report_fd {
        let _ = sys.write_fd(fd, b"{\"event\":\"started\"}\n");
        let _ = sys.close(fd);
    }
    drop(exec);
    sys.release_memory();
    reap(sys, cx.plan, program)
}

/// plan.tty: a new pseudo-terminal from the new root's /dev/ptmx (the dev
/// op's private devpts, so TIOCSTI and line-discipline tricks reach only
/// it). The master goes to the launcher over `sock` (SCM_RIGHTS); the slave
/// is returned for the program.
fn open_tty(sys: &dyn Sys, cx: &InitContext, sock: Fd) -> Fd {
    let (master, slave) = match sys.open_pty("/dev/ptmx") {
        Ok(p) => p,
        Err(e) => {
            let mut err = setup("open a pseudo-terminal on the sandbox's /dev/ptmx", e);
            err.hint = Some(TTY_HINT.into());
            fatal(sys, cx, err)
        }
    };
    // Sized as the caller's terminal (our stdin) before the program can ask;
    // the launcher passes later changes on.
    if let Ok(size) = sys.winsize(0) {
        let _ = sys.set_winsize(master, size);
    }
    if let Err(e) = sys.send_fd(sock, master) {
        fatal(sys, cx, setup("pass the pseudo-terminal to the launcher", e));
    }
    let _ = sys.close(master);
    let _ = sys.close(sock);
    slave
}

/// pid 1's loop: reap every child until none is left, forward signals to
/// the program, and after it exits give the rest `linger_ms` to finish.
pub fn reap(sys: &dyn Sys, plan: &Plan, program: i32) -> ! {
    let mut status: Option<ExitStatus> = None;
    let mut deadline: Option<u64> = None;
    loop {
        loop {
            match sys.reap() {
                Ok(Some((pid, st))) => {
                    if pid == program {
                        status = Some(st);
                        deadline = Some(sys.monotonic_ms() + plan.linger_ms as u64);
                    }
                }
                Ok(None) => break,
                Err(Errno(libc::ECHILD)) => sys.exit(status.map_or(EXIT_UNEXPECTED_WAIT, ExitStatus::code)),
                Err(e) => {
                    sys.log(&format!("unexpected wait4 response: {e}"));
                    sys.exit(EXIT_UNEXPECTED_WAIT)
                }
            }
        }
        let timeout = match (status, deadline) {
            (Some(st), Some(d)) => {
                let now = sys.monotonic_ms();
                if now >= d {
                    // pid 1 exiting kills everything left in the namespace.
                    sys.log("timeout exceeded waiting for lingering processes; killing them");
                    sys.exit(st.code());
                }
                Some(d - now)
            }
            _ => None,
        };
        match sys.wait_signal(timeout) {
            Ok(Some(libc::SIGCHLD)) | Ok(None) => {}
            Ok(Some(sig)) => match status {
                None => {
                    let _ = sys.kill(program, sig);
                }
                // The program is gone: a signal now ends the sandbox.
                Some(st) => sys.exit(st.code()),
            },
            Err(e) => {
                sys.log(&format!("cannot wait for signals: {e}"));
                sys.exit(status.map_or(EXIT_UNEXPECTED_WAIT, ExitStatus::code))
            }
        }
    }
}

#[cfg(test)]
#[path = "init_tests.rs"]
mod tests;
