//! The syscall seam. Everything in this crate that touches the kernel goes
//! through [`Sys`]: [`LinuxSys`] is the real thing, `Script` (compiled for
//! tests only) is an ordered call script that checks every call, its
//! arguments and its order. Inject it explicitly: `run_init(&LinuxSys, ..)`.

mod exec;
mod linux;
#[cfg(test)]
pub mod script;

pub(crate) use exec::affinity;
pub(crate) use linux::bfd;
pub use linux::{setup_signals, LinuxSys};

use std::ffi::{CStr, CString};
use std::fmt;

/// A file descriptor number.
pub type Fd = i32;

/// An errno value. A newtype (not nix's enum) so test doubles can inject
/// unique markers outside the kernel's range and see which one surfaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    pub fn last() -> Errno {
        Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }
    pub fn from_io(e: &std::io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }
}

impl fmt::Display for Errno {
    /// Lower case, as every message: `permission denied`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 > 0 && self.0 < 4096 {
            let s = std::io::Error::from_raw_os_error(self.0).to_string();
            // std renders "Permission denied (os error 13)".
            let s = s.split(" (os error").next().unwrap_or(&s);
            let mut c = s.chars();
            match c.next() {
                Some(first) => write!(f, "{}{}", first.to_lowercase(), c.as_str()),
                None => write!(f, "error {}", self.0),
            }
        } else {
            write!(f, "error {}", self.0)
        }
    }
}

pub type SysResult<T> = Result<T, Errno>;

/// What a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Dir,
    File,
    Symlink,
    Other,
}

/// How a child ended (from wait4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(i32),
}

impl ExitStatus {
    /// Shell convention: the code, or 128 + the signal.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled(s) => 128 + s,
        }
    }
}

/// prctl operations init uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prctl {
    SetPdeathsig(i32),
    SetDumpable(bool),
    SetNoNewPrivs,
    /// Yama: no process may ptrace us by exception (PR_SET_PTRACER 0).
    SetPtracerNone,
    CapAmbientClearAll,
    CapAmbientRaise(u32),
    CapBsetDrop(u32),
    /// PR_SET_KEEPCAPS: keep the permitted set across a change of uid.
    SetKeepCaps(bool),
}

/// What the program is started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exec {
    pub argv: Vec<String>,
    /// `KEY=VALUE` entries.
    pub env: Vec<String>,
    /// Working directory and whether failing to enter it is fatal.
    pub cwd: String,
    pub cwd_required: bool,
    pub new_session: bool,
    /// The caller's umask, restored in the program.
    pub umask: u32,
    /// argv[0] as the program sees it, when it differs from the executable.
    pub argv0: Option<String>,
    /// (fd in init, fd in the program) pairs passed in.
    pub fds: Vec<(Fd, Fd)>,
    /// A pseudo-terminal slave (plan.tty): the program's stdin, stdout,
    /// stderr and controlling terminal, in a new session.
    pub tty: Option<Fd>,
    /// The CPUs the program may run on (sched_setaffinity); empty: init's own.
    /// A `--join` rank keeps the binding its launcher (srun's task) was given.
    pub cpus: Vec<u32>,
    /// Exec in this process instead of a fork (plan.asPid1: the program is
    /// pid 1); returns only on failure.
    pub in_place: bool,
    /// Seccomp programs (code, jt, jf, k) loaded in the program's process
    /// just before exec, after init's own (bubblewrap's `--seccomp`: the
    /// caller's programs, which may refuse what init itself needs).
    pub filters: Vec<Vec<(u16, u8, u8, u32)>>,
}

/// A terminal's settings, saved to be put back.
#[derive(Clone, Copy)]
pub struct TermState(pub libc::termios);

impl fmt::Debug for TermState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TermState")
    }
}

/// poll(2) event bits, re-exported for callers and scripts.
pub const POLLIN: i16 = libc::POLLIN;
pub const POLLOUT: i16 = libc::POLLOUT;

/// Why the program could not be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecFailure {
    /// fork itself failed.
    Fork(Errno),
    /// The working directory could not be entered.
    Chdir(Errno),
    /// execve failed for every candidate (the most relevant errno).
    Exec(Errno),
    /// setsid or signal reset failed in the child.
    Setup(Errno),
}

/// Mount flags (MS_*), a u64 to carry them portably.
pub type MsFlags = u64;

/// What a seccomp filter sees of a call: `struct seccomp_data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeccompData {
    pub nr: i32,
    /// AUDIT_ARCH_*.
    pub arch: u32,
    pub ip: u64,
    pub args: [u64; 6],
}

/// One user notification: `struct seccomp_notif`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeccompNotif {
    pub id: u64,
    /// The caller, in the listener's pid namespace.
    pub pid: u32,
    pub data: SeccompData,
}

/// The syscall seam.
pub trait Sys {
    fn getpid(&self) -> i32;
    fn getppid(&self) -> i32;
    /// The real uid and gid as the current user namespace maps them.
    fn getuid(&self) -> u32;
    fn getgid(&self) -> u32;
    /// clone(2) with namespace `flags` and SIGCHLD, fork-like (no new
    /// stack): 0 in the child, the child's pid in the parent.
    fn clone_sandbox(&self, flags: u64) -> SysResult<i32>;
    fn prctl(&self, op: Prctl) -> SysResult<()>;
    /// Set effective, permitted and inheritable capability sets to `keep`
    /// (a bit per capability; 0 clears them all).
    fn capset(&self, keep: u64) -> SysResult<()>;
    /// Landlock: restrict ourselves with the given `scoped` bits (ABI 6+),
    /// handling no filesystem or network access.
    fn landlock_scope(&self, scoped: u64) -> SysResult<()>;
    /// Landlock filesystem write allow-list (plan.landlock.write), best
    /// effort: the write rights this kernel's ABI knows are handled, and
    /// granted only beneath `allowed` (missing paths skipped). Returns the
    /// ABI enforced, 0 when the kernel has no Landlock.
    fn landlock_write(&self, allowed: &[String]) -> SysResult<u32>;
    fn isatty(&self, fd: Fd) -> bool;
    /// Load one classic BPF seccomp program (no_new_privs must be set).
    fn seccomp_load(&self, program: &[libc::sock_filter]) -> SysResult<()>;
    fn umask(&self, mask: u32) -> u32;
    fn sethostname(&self, name: &str) -> SysResult<()>;
    /// Bring the loopback interface up in the current network namespace.
    fn loopback_up(&self) -> SysResult<()>;
    /// Overwrite this process's argument area (what /proc/PID/cmdline
    /// shows, readable by everyone whatever the dumpable flag) with
    /// [`cmdline_shown`]: pid 1 is a fork of the launcher, whose argv names
    /// its path on the host.
    fn hide_cmdline(&self) -> SysResult<()>;

    fn read_file(&self, path: &str) -> SysResult<Vec<u8>>;
    /// Write to an existing file (procfs knobs).
    fn write_file(&self, path: &str, data: &[u8]) -> SysResult<()>;
    /// Create a new file (O_EXCL) with `data` and `mode`.
    fn create_file(&self, path: &str, data: &[u8], mode: u32) -> SysResult<()>;
    fn unlink(&self, path: &str) -> SysResult<()>;
    fn mkdir(&self, path: &str, mode: u32) -> SysResult<()>;
    fn chdir(&self, path: &str) -> SysResult<()>;
    fn fchdir(&self, fd: Fd) -> SysResult<()>;
    /// open(2); O_CLOEXEC is always added.
    fn open(&self, path: &str, flags: i32) -> SysResult<Fd>;
    fn close(&self, fd: Fd) -> SysResult<()>;
    /// fcntl(F_DUPFD_CLOEXEC): a copy of `fd` on the lowest free number >= `min`.
    fn dup_above(&self, fd: Fd, min: Fd) -> SysResult<Fd>;
    /// dup3(from, to, O_CLOEXEC): `from` on the number `to` (closed first if open).
    fn dup_onto(&self, from: Fd, to: Fd) -> SysResult<()>;
    /// stat(2), following symlinks.
    fn stat(&self, path: &str) -> SysResult<FileKind>;
    /// lstat(2): a symlink is reported as one.
    fn lstat(&self, path: &str) -> SysResult<FileKind>;
    fn readlink(&self, path: &str) -> SysResult<String>;
    /// Entry names of a directory (without . and ..), sorted.
    fn read_dir(&self, path: &str) -> SysResult<Vec<String>>;
    fn chmod(&self, path: &str, mode: u32) -> SysResult<()>;
    /// Open (creating, 0600) a lock file read-write.
    fn open_lock(&self, path: &str) -> SysResult<Fd>;
    /// flock(2): LOCK_SH / LOCK_EX, with LOCK_NB: Err(EWOULDBLOCK) when held.
    fn flock(&self, fd: Fd, how: i32) -> SysResult<()>;
    /// Whole contents of an open file, from its start.
    fn read_fd(&self, fd: Fd) -> SysResult<Vec<u8>>;
    /// An empty directory or an empty regular file (and nothing else).
    fn is_empty(&self, path: &str) -> SysResult<bool>;
    fn rmdir(&self, path: &str) -> SysResult<()>;
    /// ftruncate(fd, 0).
    fn truncate(&self, fd: Fd) -> SysResult<()>;
    /// Make sure `path` is a directory only we can use: created 0700 when
    /// missing, and refused unless it is ours and closed to others (a
    /// directory planted in /tmp by someone else is not used, CVE-2019-12439).
    fn private_dir(&self, path: &str) -> SysResult<()>;
    fn write_fd(&self, fd: Fd, data: &[u8]) -> SysResult<()>;
    /// openat2(dirfd, path, flags|O_CLOEXEC, resolve) with RESOLVE_* bits:
    /// the launcher's stand-ins are reached with RESOLVE_BENEATH|
    /// RESOLVE_NO_SYMLINKS below the project directory's fd.
    fn openat2(&self, dirfd: Fd, path: &str, flags: i32, resolve: u64) -> SysResult<Fd>;
    /// (device, inode, ctime in nanoseconds) of what `fd` names: the inode
    /// and when it was made, so a number the kernel reuses for a new
    /// directory is not taken for the old one.
    fn stamp(&self, fd: Fd) -> SysResult<(u64, u64, i64)>;
    /// unlinkat(2); `AT_REMOVEDIR` in `flags` for a directory.
    fn unlinkat(&self, dirfd: Fd, name: &str, flags: i32) -> SysResult<()>;
    /// lstat(2) of `path`: what it is, its owner and its permission bits.
    fn owner_mode(&self, path: &str) -> SysResult<(FileKind, u32, u32)>;
    /// The home directory of `uid` in the password database (never `$HOME`).
    fn passwd_home(&self, uid: u32) -> SysResult<String>;
    /// Bind the symlink `name` in directory `dirfd` onto itself
    /// (open_tree(AT_SYMLINK_NOFOLLOW|OPEN_TREE_CLONE) and move_mount): the
    /// link becomes a mount point, which unlink and rename refuse (EBUSY).
    fn bind_link_onto_itself(&self, dirfd: Fd, name: &str) -> SysResult<()>;

    /// openat2(dirfd, path, O_PATH|flags, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS):
    /// resolve `path` with `dirfd` as the root, so no symlink leads out of it.
    fn open_in_root(&self, dirfd: Fd, path: &str, flags: i32) -> SysResult<Fd>;
    fn mkdirat(&self, dirfd: Fd, name: &str, mode: u32) -> SysResult<()>;
    /// Create an empty regular file (O_CREAT|O_EXCL).
    fn mkfileat(&self, dirfd: Fd, name: &str, mode: u32) -> SysResult<()>;
    fn symlinkat(&self, linkname: &str, dirfd: Fd, name: &str) -> SysResult<()>;
    fn readlinkat(&self, dirfd: Fd, name: &str) -> SysResult<String>;
    fn fstat(&self, fd: Fd) -> SysResult<FileKind>;
    /// (device, inode) of what `fd` names.
    fn file_id(&self, fd: Fd) -> SysResult<(u64, u64)>;

    fn mount(&self, source: Option<&str>, target: &str, fstype: Option<&str>, flags: MsFlags, data: Option<&str>) -> SysResult<()>;
    /// mount_setattr(fd, "", AT_EMPTY_PATH[|AT_RECURSIVE]) setting MOUNT_ATTR_* bits.
    fn mount_setattr(&self, fd: Fd, recursive: bool, attr_set: u64) -> SysResult<()>;
    fn umount2(&self, target: &str, flags: i32) -> SysResult<()>;
    fn pivot_root(&self, new_root: &str, put_old: &str) -> SysResult<()>;

    /// Fork the program: in the child reset signals, setsid, chdir, mark
    /// every fd above 2 close-on-exec and execve (PATH lookup inside the
    /// sandbox). Returns the child's pid once exec succeeded.
    fn spawn(&self, exec: &Exec) -> Result<i32, (Option<i32>, ExecFailure)>;
    /// In the program's child: rt_sigaction(sig, SIG_DFL). Only ignored
    /// signals survive execve, and init's Rust runtime ignores SIGPIPE.
    fn signal_default(&self, sig: i32) -> SysResult<()>;
    /// In the program's child: sigprocmask(SIG_SETMASK, empty).
    fn unblock_signals(&self) -> SysResult<()>;
    /// execve(2). The real call returns only when it failed; a double
    /// answers Ok for "the new image is running".
    fn execve(&self, path: &CStr, argv: &[CString], envp: &[CString]) -> SysResult<()>;
    /// Wait for one of the blocked signals, up to `timeout_ms`.
    fn wait_signal(&self, timeout_ms: Option<u64>) -> SysResult<Option<i32>>;
    /// wait4(-1, WNOHANG): Ok(None) when children remain but none exited;
    /// Err(ECHILD) when none remain.
    fn reap(&self) -> SysResult<Option<(i32, ExitStatus)>>;
    fn kill(&self, pid: i32, sig: i32) -> SysResult<()>;
    /// The launcher's helper process (an image's FUSE server): fork, and in
    /// the child set the parent-death signal to SIGKILL, start a session of
    /// its own (a terminal's Ctrl-C must not reach it), stdin from
    /// /dev/null, every signal's disposition back to the default and none
    /// blocked, and every fd above 2 closed but the `keep` fds. No exec:
    /// the child (0 returned) goes on in the caller's code and must end with
    /// `exit`; the parent gets the child's pid. The launcher is
    /// single-threaded, so the child may allocate and start threads.
    fn fork_server(&self, keep: &[Fd]) -> SysResult<i32>;
    /// A detached FUSE mount (fsopen, fsconfig with `options`, fsmount
    /// read-only, nosuid, nodev) made by a helper child in a user namespace
    /// of its own that maps 0 to the caller's uid and gid: the owner 0 a
    /// FUSE server reports is then the caller, as the sandbox sees it.
    /// Returns (mount fd, /dev/fuse fd), both close-on-exec.
    fn fuse_mount_detached(&self, options: &[(&str, &str)]) -> SysResult<(Fd, Fd)>;
    /// move_mount(fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH): attach
    /// a detached mount.
    fn move_mount(&self, fd: Fd, target: &str) -> SysResult<()>;

    // The pseudo-terminal (plan.tty): pid 1 opens it, the launcher relays it.
    /// socketpair(AF_UNIX, SOCK_STREAM), both ends close-on-exec.
    fn socketpair(&self) -> SysResult<(Fd, Fd)>;
    /// Send `fd` over the unix socket `sock` (SCM_RIGHTS).
    fn send_fd(&self, sock: Fd, fd: Fd) -> SysResult<()>;
    /// Receive an fd sent with `send_fd` (close-on-exec); Ok(None) when the
    /// other end closed without sending one.
    fn recv_fd(&self, sock: Fd) -> SysResult<Option<Fd>>;
    // The live control socket (live/net.rs): SOCK_SEQPACKET, one message per
    // datagram with its fds.
    /// A listening socket bound as `name` in the directory `dirfd` (through
    /// /proc/self/fd, so a long path fits sun_path), mode 0600 from the start.
    fn seqpacket_listen(&self, dirfd: Fd, name: &str) -> SysResult<Fd>;
    /// Connect to the socket `name` in the directory `dirfd`.
    fn seqpacket_connect(&self, dirfd: Fd, name: &str) -> SysResult<Fd>;
    /// accept4(SOCK_CLOEXEC).
    fn accept(&self, listener: Fd) -> SysResult<Fd>;
    /// One message with `fds` (SCM_RIGHTS), MSG_NOSIGNAL: a peer gone is EPIPE.
    fn send_msg(&self, sock: Fd, data: &[u8], fds: &[Fd]) -> SysResult<()>;
    /// One message of at most `max` bytes and the fds it carried (at most
    /// `max_fds`, close-on-exec, the caller's to close); Ok(None) when the
    /// peer closed. A message or fds cut short is EMSGSIZE, and the fds that
    /// came are closed.
    fn recv_msg(&self, sock: Fd, max: usize, max_fds: usize) -> SysResult<Option<(Vec<u8>, Vec<Fd>)>>;
    /// The uid of the peer of `conn` (SO_PEERCRED).
    fn peer_uid(&self, conn: Fd) -> SysResult<u32>;
    /// (device, inode) of the user namespace of the peer of `conn`, read
    /// from its pidfd (SO_PEERPIDFD, Linux 6.5; PIDFD_GET_USER_NAMESPACE,
    /// 6.11), so a pid recycled after the peer left cannot stand in for it.
    fn peer_userns(&self, conn: Fd) -> SysResult<(u64, u64)>;
    /// (device, inode) of our own user namespace, and our uid.
    fn own_userns(&self) -> SysResult<(u64, u64, u32)>;
    /// A new pseudo-terminal from `ptmx`, unlocked: (master, slave), both
    /// O_NOCTTY and close-on-exec. The slave is opened from the master
    /// (TIOCGPTPEER), never by a path someone could swap.
    fn open_pty(&self, ptmx: &str) -> SysResult<(Fd, Fd)>;
    /// Put the terminal on `fd` in raw mode (cfmakeraw); returns the settings before.
    fn tty_raw(&self, fd: Fd) -> SysResult<TermState>;
    fn tty_restore(&self, fd: Fd, saved: &TermState) -> SysResult<()>;
    /// TIOCGWINSZ: (rows, columns).
    fn winsize(&self, fd: Fd) -> SysResult<(u16, u16)>;
    /// TIOCSWINSZ with (rows, columns).
    fn set_winsize(&self, fd: Fd, size: (u16, u16)) -> SysResult<()>;
    fn set_nonblock(&self, fd: Fd) -> SysResult<()>;
    /// Block `signals` and return a non-blocking signalfd for them.
    fn signal_fd(&self, signals: &[i32]) -> SysResult<Fd>;
    /// The next signal queued on a signal_fd; Ok(None) when none is.
    fn read_signal(&self, fd: Fd) -> SysResult<Option<i32>>;
    /// SIG_IGN for `sig`.
    fn ignore_signal(&self, sig: i32);
    /// poll(2) on (fd, events) pairs: each one's revents, in order (all 0 on EINTR).
    fn poll(&self, fds: &[(Fd, i16)], timeout_ms: i32) -> SysResult<Vec<i16>>;
    /// One read(2) of at most `max` bytes; empty at end of file.
    fn read(&self, fd: Fd, max: usize) -> SysResult<Vec<u8>>;
    /// One write(2): how many bytes were written.
    fn write_some(&self, fd: Fd, data: &[u8]) -> SysResult<usize>;
    fn monotonic_ms(&self) -> u64;
    /// Give freed heap back to the kernel (malloc_trim): pid 1 lives as long
    /// as the sandbox, and its setup garbage need not stay resident.
    fn release_memory(&self);
    // The OCI runtime (container/): namespaces joined by fd, credentials,
    // limits, device nodes, the console and the start gate.
    /// setns(2) on a namespace fd or a pidfd, with CLONE_NEW* `nstype`.
    fn setns(&self, fd: Fd, nstype: i32) -> SysResult<()>;
    fn setdomainname(&self, name: &str) -> SysResult<()>;
    /// mknodat(2): `mode` holds the S_IF* kind and the permission bits (the umask applies).
    fn mknodat(&self, dirfd: Fd, name: &str, mode: u32, dev: u64) -> SysResult<()>;
    /// fchownat(2) with AT_SYMLINK_NOFOLLOW: a planted link is never followed.
    fn fchownat(&self, dirfd: Fd, name: &str, uid: u32, gid: u32) -> SysResult<()>;
    /// fchmodat(2) of a name in `dirfd` (a device node, never a link).
    fn fchmodat(&self, dirfd: Fd, name: &str, mode: u32) -> SysResult<()>;
    /// setresuid(uid, uid, uid), for this thread (pid 1 has no other).
    fn setresuid(&self, uid: u32) -> SysResult<()>;
    /// setresgid(gid, gid, gid), for this thread.
    fn setresgid(&self, gid: u32) -> SysResult<()>;
    fn setgroups(&self, groups: &[u32]) -> SysResult<()>;
    /// prlimit64(0, resource, {soft, hard}).
    fn setrlimit(&self, resource: u32, soft: u64, hard: u64) -> SysResult<()>;
    /// capset(2) with the effective, permitted and inheritable sets given apart.
    fn capset_sets(&self, effective: u64, permitted: u64, inheritable: u64) -> SysResult<()>;
    /// mount_setattr(fd, "", AT_EMPTY_PATH[|AT_RECURSIVE]) setting `attr_set`
    /// and clearing `attr_clr` (MOUNT_ATTR_* bits).
    fn mount_setattr_clr(&self, fd: Fd, recursive: bool, attr_set: u64, attr_clr: u64) -> SysResult<()>;
    /// The flags of the mount at `path` (statvfs) as MS_*: a remount must
    /// repeat the ones a user namespace locked.
    fn mount_flags(&self, path: &str) -> SysResult<MsFlags>;
    fn setsid(&self) -> SysResult<()>;
    /// Make the terminal `fd` our controlling one (TIOCSCTTY) and our stdin,
    /// stdout and stderr.
    fn take_terminal(&self, fd: Fd) -> SysResult<()>;
    /// Connect to the unix socket at `path`: stream first (runc's clients
    /// dial "unix"), seqpacket when the listener is one. Close-on-exec.
    fn connect_unix(&self, path: &str) -> SysResult<Fd>;
    fn mkfifo(&self, path: &str, mode: u32) -> SysResult<()>;
    /// close_range(first, ~0, CLOSE_RANGE_CLOEXEC): every fd from `first`
    /// up closes at the next execve.
    fn cloexec_from(&self, first: u32) -> SysResult<()>;
    /// A regular file (symlinks followed) with an execute bit, as execvp's
    /// PATH search wants.
    fn is_executable(&self, path: &str) -> bool;
    /// keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): a session keyring of our
    /// own (runc gives each container `_ses.ID`), so the container does not
    /// share the caller's session keys.
    fn join_session_keyring(&self, name: &str) -> SysResult<()>;

    // The network allow-list (issue 14).
    /// A listening TCP socket on `addr` (SO_REUSEADDR, close-on-exec) in
    /// this process's network namespace.
    fn listen_tcp(&self, addr: std::net::SocketAddr) -> SysResult<Fd>;
    /// A Landlock layer over TCP (ABI 4+): `connect` only to `ports`,
    /// `bind` to none.
    fn landlock_net(&self, ports: &[u16]) -> SysResult<()>;
    /// fork(): in the child (dies with this process) run `child` and exit
    /// with its status; in this process, the child's pid. This process
    /// must be single-threaded.
    fn fork_child(&self, child: &mut dyn FnMut() -> i32) -> SysResult<i32>;

    // Denied-syscall reporting (issue 14, seccomp/notify.rs).
    /// Load a seccomp program with SECCOMP_FILTER_FLAG_NEW_LISTENER
    /// (no_new_privs must be set): its listener fd (close-on-exec).
    fn seccomp_load_listener(&self, program: &[libc::sock_filter]) -> SysResult<Fd>;
    /// SECCOMP_IOCTL_NOTIF_RECV: the next notification (blocks).
    fn seccomp_notif_recv(&self, fd: Fd) -> SysResult<SeccompNotif>;
    /// SECCOMP_IOCTL_NOTIF_SEND: fail the notified call `id` with `errno`
    /// (never "continue").
    fn seccomp_notif_deny(&self, fd: Fd, id: u64, errno: i32) -> SysResult<()>;

    /// A line on stderr, prefixed `sandboxctl: `.
    fn log(&self, msg: &str);
    fn exit(&self, code: i32) -> !;
}

/// Signals the init blocks and waits for with `wait_signal`.
pub const HANDLED_SIGNALS: [i32; 5] = [libc::SIGCHLD, libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT];

/// MOUNT_ATTR_* bits.
pub const ATTR_RDONLY: u64 = 0x1;
pub const ATTR_NOSUID: u64 = 0x2;
pub const ATTR_NODEV: u64 = 0x4;
pub const ATTR_NOEXEC: u64 = 0x8;

/// The argument area `[arg_start, arg_end)` from /proc/self/stat (fields
/// 48 and 49, counted after the command name, which may hold spaces and
/// parentheses of its own).
pub fn arg_area(stat: &[u8]) -> Option<(u64, u64)> {
    let after = stat.iter().rposition(|&b| b == b')')?;
    let fields: Vec<&[u8]> = stat[after + 1..].split(|b| b.is_ascii_whitespace()).filter(|f| !f.is_empty()).collect();
    // Field 3 (the state) is the first after the name: field N at N - 3.
    let num = |i: usize| std::str::from_utf8(fields.get(i)?).ok()?.parse::<u64>().ok();
    let (start, end) = (num(45)?, num(46)?);
    (start < end).then_some((start, end))
}

/// What replaces the argument area `args`: argv[0]'s last component, a NUL,
/// NULs to the end, and a last byte that is not NUL. The kernel then reads
/// the area as a retitled process's (setproctitle): up to the first NUL, so
/// /proc/PID/cmdline is the name alone. Same length as `args`.
pub fn cmdline_shown(args: &[u8]) -> Vec<u8> {
    let argv0 = args.split(|&b| b == 0).next().unwrap_or_default();
    let name = match argv0.rsplit(|&b| b == b'/').next() {
        Some(n) if !n.is_empty() => n,
        _ => b"sandboxctl-init".as_slice(),
    };
    let mut out = vec![0u8; args.len()];
    let keep = name.len().min(args.len().saturating_sub(1));
    out[..keep].copy_from_slice(&name[..keep]);
    if args.len() > keep + 1 {
        *out.last_mut().expect("longer than the name") = b' ';
    }
    out
}

#[cfg(test)]
mod cmdline_tests {
    use super::*;

    #[test]
    fn the_area_is_read_after_the_name() {
        let mut stat = b"42 (a) b) (c) S".to_vec();
        for n in 4..=52u64 {
            stat.extend(
                format!(
                    " {}",
                    if n == 48 {
                        1000
                    } else if n == 49 {
                        1050
                    } else {
                        n
                    }
                )
                .bytes(),
            );
        }
        assert_eq!(arg_area(&stat), Some((1000, 1050)));
        assert_eq!(arg_area(b"42 (x) S 1 2"), None, "too few fields");
        assert_eq!(arg_area(b"no name"), None);
        let mut empty = b"1 (x) S".to_vec();
        for n in 4..=49u64 {
            empty.extend(format!(" {}", if n >= 48 { 7 } else { n }).bytes());
        }
        assert_eq!(arg_area(&empty), None, "an empty area");
    }

    #[test]
    fn only_the_last_component_of_argv0_is_left() {
        let args = b"/home/alice/proj/node_modules/@sandboxctl/linux-x64-gnu/sandboxctl-init\0--plan-fd\x003\0";
        let shown = cmdline_shown(args);
        assert_eq!(shown.len(), args.len());
        assert!(shown.starts_with(b"sandboxctl-init\0"));
        assert!(shown[16..shown.len() - 1].iter().all(|&b| b == 0));
        assert_eq!(*shown.last().unwrap(), b' ', "the kernel stops at the first NUL");
        assert!(!shown.windows(5).any(|w| w == b"alice"));
    }

    #[test]
    fn short_and_odd_areas() {
        assert_eq!(cmdline_shown(b"init\0"), b"init\0", "exactly the name: nothing to mark");
        assert_eq!(cmdline_shown(b"ab\0"), b"ab\0");
        assert_eq!(cmdline_shown(b"/x/\0-v\0"), b"sandbo\0", "no last component: the launcher's name, cut to the area");
        assert_eq!(cmdline_shown(b"a/b\0"), b"b\0\0 ");
        assert_eq!(cmdline_shown(b""), b"");
    }
}
