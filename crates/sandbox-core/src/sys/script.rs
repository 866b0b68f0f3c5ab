//! The test double: an ordered call script. Each expected call is the
//! rendered call with its arguments and what it returns; a call out of order
//! or with other arguments fails the test at once, and [`Script::done`]
//! fails when an expected call was left unmade. `exit` unwinds with
//! [`Exited`] so fatal paths can be driven and observed.

use super::*;
use std::cell::RefCell;
use std::collections::VecDeque;

/// `NAME|NAME|0x..`: the bits of `value` by name, what no name covers in hex,
/// `0` for none. How flags read in call scripts.
fn bits(value: u64, names: &[(u64, &str)]) -> String {
    let mut rest = value;
    let mut out: Vec<String> = Vec::new();
    for &(bit, name) in names {
        if rest & bit != 0 {
            out.push(name.into());
            rest &= !bit;
        }
    }
    if rest != 0 {
        out.push(format!("{rest:#x}"));
    }
    if out.is_empty() {
        "0".into()
    } else {
        out.join("|")
    }
}

fn fmt_poll(events: i16) -> String {
    let names = [(libc::POLLIN, "IN"), (libc::POLLOUT, "OUT"), (libc::POLLERR, "ERR"), (libc::POLLHUP, "HUP"), (libc::POLLNVAL, "NVAL")];
    bits(events as u16 as u64, &names.map(|(b, n)| (b as u16 as u64, n)))
}

fn fmt_ms(flags: MsFlags) -> String {
    let names = [
        (libc::MS_RDONLY, "RDONLY"),
        (libc::MS_NOSUID, "NOSUID"),
        (libc::MS_NODEV, "NODEV"),
        (libc::MS_NOEXEC, "NOEXEC"),
        (libc::MS_REMOUNT, "REMOUNT"),
        (libc::MS_BIND, "BIND"),
        (libc::MS_REC, "REC"),
        (libc::MS_SILENT, "SILENT"),
        (libc::MS_PRIVATE, "PRIVATE"),
        (libc::MS_SLAVE, "SLAVE"),
    ];
    bits(flags, &names)
}

fn fmt_resolve(resolve: u64) -> String {
    let names = [
        (libc::RESOLVE_BENEATH, "BENEATH"),
        (libc::RESOLVE_NO_SYMLINKS, "NO_SYMLINKS"),
        (libc::RESOLVE_NO_MAGICLINKS, "NO_MAGICLINKS"),
        (libc::RESOLVE_IN_ROOT, "IN_ROOT"),
        (libc::RESOLVE_NO_XDEV, "NO_XDEV"),
    ];
    bits(resolve, &names)
}

fn fmt_ns(nstype: i32) -> String {
    let names = [
        (libc::CLONE_NEWNS, "NEWNS"),
        (libc::CLONE_NEWUTS, "NEWUTS"),
        (libc::CLONE_NEWIPC, "NEWIPC"),
        (libc::CLONE_NEWUSER, "NEWUSER"),
        (libc::CLONE_NEWPID, "NEWPID"),
        (libc::CLONE_NEWNET, "NEWNET"),
        (libc::CLONE_NEWCGROUP, "NEWCGROUP"),
    ];
    bits(nstype as u32 as u64, &names.map(|(b, n)| (b as u32 as u64, n)))
}

fn fmt_attr(attr: u64) -> String {
    bits(attr, &[(ATTR_RDONLY, "RDONLY"), (ATTR_NOSUID, "NOSUID"), (ATTR_NODEV, "NODEV"), (ATTR_NOEXEC, "NOEXEC")])
}

/// What a scripted call returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Ret {
    Ok,
    Err(i32),
    Fd(Fd),
    Int(i64),
    Kind(FileKind),
    /// `stamp`: device, inode, ctime in nanoseconds.
    Stamp(u64, u64, i64),
    /// `owner_mode`: kind, owner uid, permission bits.
    Owned(FileKind, u32, u32),
    Bytes(Vec<u8>),
    Text(String),
    Names(Vec<String>),
    Signal(Option<i32>),
    Reaped(i32, ExitStatus),
    /// `reap` found children but none exited.
    NoneYet,
    ExecFailed(Option<i32>, ExecFailure),
    /// Two fds (socketpair, open_pty).
    Pair(Fd, Fd),
    /// poll's revents, one per fd.
    Events(Vec<i16>),
    /// A window size (rows, columns).
    Size(u16, u16),
    /// `recv_msg`: a message and the fds it carried.
    Msg(Vec<u8>, Vec<Fd>),
    /// `seccomp_notif_recv`: a notification.
    Notif(SeccompNotif),
}

/// The panic payload of a scripted `exit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exited(pub i32);

pub struct Script {
    calls: RefCell<VecDeque<(String, Ret)>>,
    made: RefCell<Vec<String>>,
    logs: RefCell<Vec<String>>,
}

impl Script {
    pub fn new<S: Into<String>>(calls: Vec<(S, Ret)>) -> Script {
        Script { calls: RefCell::new(calls.into_iter().map(|(c, r)| (c.into(), r)).collect()), made: RefCell::new(Vec::new()), logs: RefCell::new(Vec::new()) }
    }

    /// Fails when calls remain unmade.
    pub fn done(&self) {
        let left: Vec<String> = self.calls.borrow().iter().map(|(c, _)| c.clone()).collect();
        assert!(left.is_empty(), "expected calls were not made: {left:#?}\nmade: {:#?}", self.made.borrow());
    }

    /// Everything logged with `log`.
    pub fn logs(&self) -> Vec<String> {
        self.logs.borrow().clone()
    }

    fn next(&self, call: String) -> Ret {
        let n = self.made.borrow().len();
        self.made.borrow_mut().push(call.clone());
        let (want, ret) =
            self.calls.borrow_mut().pop_front().unwrap_or_else(|| panic!("unexpected call #{n}: {call} (script exhausted)\nmade: {:#?}", self.made.borrow()));
        assert_eq!(call, want, "call #{n} differs from the script");
        ret
    }

    fn unit(&self, call: String) -> SysResult<()> {
        match self.next(call.clone()) {
            Ret::Ok => Ok(()),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("{call}: script returns {r:?}, expected Ok or Err"),
        }
    }
    fn fd(&self, call: String) -> SysResult<Fd> {
        match self.next(call.clone()) {
            Ret::Fd(fd) => Ok(fd),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("{call}: script returns {r:?}, expected Fd or Err"),
        }
    }
    fn pair(&self, call: String) -> SysResult<(Fd, Fd)> {
        match self.next(call.clone()) {
            Ret::Pair(a, b) => Ok((a, b)),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("{call}: script returns {r:?}, expected Pair or Err"),
        }
    }
    fn kind(&self, call: String) -> SysResult<FileKind> {
        match self.next(call.clone()) {
            Ret::Kind(k) => Ok(k),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("{call}: script returns {r:?}, expected Kind or Err"),
        }
    }
}

/// Run `f` and return the code it exited with through `Sys::exit`.
/// The script is meant to be inspected after the unwind, hence AssertUnwindSafe.
pub fn expect_exit<F: FnOnce() -> R, R: std::fmt::Debug>(f: F) -> i32 {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        if info.payload().downcast_ref::<Exited>().is_none() {
            eprintln!("{info}");
        }
    }));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(prev);
    match r {
        Ok(v) => panic!("expected exit, returned {v:?}"),
        Err(p) => match p.downcast_ref::<Exited>() {
            Some(Exited(code)) => *code,
            None => std::panic::resume_unwind(p),
        },
    }
}

fn q(s: &str) -> String {
    format!("{s:?}")
}
fn oq(s: Option<&str>) -> String {
    s.map(q).unwrap_or_else(|| "-".into())
}

impl Sys for Script {
    fn getpid(&self) -> i32 {
        match self.next("getpid()".into()) {
            Ret::Int(p) => p as i32,
            r => panic!("getpid: {r:?}"),
        }
    }
    fn getuid(&self) -> u32 {
        match self.next("getuid()".into()) {
            Ret::Int(u) => u as u32,
            r => panic!("getuid: {r:?}"),
        }
    }
    fn getgid(&self) -> u32 {
        match self.next("getgid()".into()) {
            Ret::Int(g) => g as u32,
            r => panic!("getgid: {r:?}"),
        }
    }
    fn getppid(&self) -> i32 {
        match self.next("getppid()".into()) {
            Ret::Int(p) => p as i32,
            r => panic!("getppid: {r:?}"),
        }
    }
    fn clone_sandbox(&self, flags: u64) -> SysResult<i32> {
        match self.next(format!("clone_sandbox({flags:#x})")) {
            Ret::Int(p) => Ok(p as i32),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("clone_sandbox: {r:?}"),
        }
    }
    fn prctl(&self, op: Prctl) -> SysResult<()> {
        self.unit(format!("prctl({op:?})"))
    }
    fn capset(&self, keep: u64) -> SysResult<()> {
        self.unit(format!("capset({keep:#x})"))
    }
    fn landlock_scope(&self, scoped: u64) -> SysResult<()> {
        self.unit(format!("landlock_scope({scoped:#x})"))
    }
    fn landlock_write(&self, allowed: &[String]) -> SysResult<u32> {
        match self.next(format!("landlock_write({allowed:?})")) {
            Ret::Int(n) => Ok(n as u32),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("landlock_write: {r:?}"),
        }
    }
    fn isatty(&self, fd: Fd) -> bool {
        match self.next(format!("isatty({fd})")) {
            Ret::Int(v) => v != 0,
            r => panic!("isatty: {r:?}"),
        }
    }
    fn lstat(&self, path: &str) -> SysResult<FileKind> {
        self.kind(format!("lstat({})", q(path)))
    }
    fn readlink(&self, path: &str) -> SysResult<String> {
        match self.next(format!("readlink({})", q(path))) {
            Ret::Text(t) => Ok(t),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("readlink: {r:?}"),
        }
    }
    fn read_dir(&self, path: &str) -> SysResult<Vec<String>> {
        match self.next(format!("read_dir({})", q(path))) {
            Ret::Names(n) => Ok(n),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("read_dir: {r:?}"),
        }
    }
    fn open_lock(&self, path: &str) -> SysResult<Fd> {
        self.fd(format!("open_lock({})", q(path)))
    }
    fn flock(&self, fd: Fd, how: i32) -> SysResult<()> {
        self.unit(format!("flock({fd}, {how})"))
    }
    fn read_fd(&self, fd: Fd) -> SysResult<Vec<u8>> {
        match self.next(format!("read_fd({fd})")) {
            Ret::Bytes(b) => Ok(b),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("read_fd: {r:?}"),
        }
    }
    fn is_empty(&self, path: &str) -> SysResult<bool> {
        match self.next(format!("is_empty({})", q(path))) {
            Ret::Int(v) => Ok(v != 0),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("is_empty: {r:?}"),
        }
    }
    fn truncate(&self, fd: Fd) -> SysResult<()> {
        self.unit(format!("truncate({fd})"))
    }
    fn private_dir(&self, path: &str) -> SysResult<()> {
        self.unit(format!("private_dir({})", q(path)))
    }
    fn rmdir(&self, path: &str) -> SysResult<()> {
        self.unit(format!("rmdir({})", q(path)))
    }
    fn chmod(&self, path: &str, mode: u32) -> SysResult<()> {
        self.unit(format!("chmod({}, {mode:o})", q(path)))
    }
    fn seccomp_load(&self, program: &[libc::sock_filter]) -> SysResult<()> {
        self.unit(format!("seccomp_load({} insns)", program.len()))
    }
    fn umask(&self, mask: u32) -> u32 {
        match self.next(format!("umask({mask:o})")) {
            Ret::Int(m) => m as u32,
            r => panic!("umask: {r:?}"),
        }
    }
    fn sethostname(&self, name: &str) -> SysResult<()> {
        self.unit(format!("sethostname({})", q(name)))
    }
    fn loopback_up(&self) -> SysResult<()> {
        self.unit("loopback_up()".into())
    }
    fn hide_cmdline(&self) -> SysResult<()> {
        self.unit("hide_cmdline()".into())
    }
    fn read_file(&self, path: &str) -> SysResult<Vec<u8>> {
        match self.next(format!("read_file({})", q(path))) {
            Ret::Bytes(b) => Ok(b),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("read_file: {r:?}"),
        }
    }
    fn write_file(&self, path: &str, data: &[u8]) -> SysResult<()> {
        self.unit(format!("write_file({}, {})", q(path), q(&String::from_utf8_lossy(data))))
    }
    fn create_file(&self, path: &str, data: &[u8], mode: u32) -> SysResult<()> {
        self.unit(format!("create_file({}, {}, {mode:o})", q(path), q(&String::from_utf8_lossy(data))))
    }
    fn unlink(&self, path: &str) -> SysResult<()> {
        self.unit(format!("unlink({})", q(path)))
    }
    fn mkdir(&self, path: &str, mode: u32) -> SysResult<()> {
        self.unit(format!("mkdir({}, {mode:o})", q(path)))
    }
    fn chdir(&self, path: &str) -> SysResult<()> {
        self.unit(format!("chdir({})", q(path)))
    }
    fn fchdir(&self, fd: Fd) -> SysResult<()> {
        self.unit(format!("fchdir({fd})"))
    }
    fn open(&self, path: &str, flags: i32) -> SysResult<Fd> {
        self.fd(format!("open({}, {flags:#o})", q(path)))
    }
    fn close(&self, fd: Fd) -> SysResult<()> {
        self.unit(format!("close({fd})"))
    }
    fn dup_above(&self, fd: Fd, min: Fd) -> SysResult<Fd> {
        match self.next(format!("dup_above({fd}, {min})")) {
            Ret::Fd(n) => Ok(n),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("dup_above: {r:?}"),
        }
    }
    fn dup_onto(&self, from: Fd, to: Fd) -> SysResult<()> {
        self.unit(format!("dup_onto({from}, {to})"))
    }
    fn stat(&self, path: &str) -> SysResult<FileKind> {
        self.kind(format!("stat({})", q(path)))
    }
    fn write_fd(&self, fd: Fd, data: &[u8]) -> SysResult<()> {
        self.unit(format!("write_fd({fd}, {})", q(&String::from_utf8_lossy(data))))
    }
    fn openat2(&self, dirfd: Fd, path: &str, flags: i32, resolve: u64) -> SysResult<Fd> {
        self.fd(format!("openat2({dirfd}, {}, {flags:#o}, {})", q(path), fmt_resolve(resolve)))
    }
    fn stamp(&self, fd: Fd) -> SysResult<(u64, u64, i64)> {
        match self.next(format!("stamp({fd})")) {
            Ret::Stamp(dev, ino, ctime) => Ok((dev, ino, ctime)),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("stamp: {r:?}"),
        }
    }
    fn unlinkat(&self, dirfd: Fd, name: &str, flags: i32) -> SysResult<()> {
        self.unit(format!("unlinkat({dirfd}, {}, {flags:#x})", q(name)))
    }
    fn owner_mode(&self, path: &str) -> SysResult<(FileKind, u32, u32)> {
        match self.next(format!("owner_mode({})", q(path))) {
            Ret::Owned(k, uid, mode) => Ok((k, uid, mode)),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("owner_mode: {r:?}"),
        }
    }
    fn passwd_home(&self, uid: u32) -> SysResult<String> {
        match self.next(format!("passwd_home({uid})")) {
            Ret::Text(t) => Ok(t),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("passwd_home: {r:?}"),
        }
    }
    fn bind_link_onto_itself(&self, dirfd: Fd, name: &str) -> SysResult<()> {
        self.unit(format!("bind_link_onto_itself({dirfd}, {})", q(name)))
    }
    fn open_in_root(&self, dirfd: Fd, path: &str, flags: i32) -> SysResult<Fd> {
        self.fd(format!("open_in_root({dirfd}, {}, {flags:#o})", q(path)))
    }
    fn mkdirat(&self, dirfd: Fd, name: &str, mode: u32) -> SysResult<()> {
        self.unit(format!("mkdirat({dirfd}, {}, {mode:o})", q(name)))
    }
    fn mkfileat(&self, dirfd: Fd, name: &str, mode: u32) -> SysResult<()> {
        self.unit(format!("mkfileat({dirfd}, {}, {mode:o})", q(name)))
    }
    fn symlinkat(&self, linkname: &str, dirfd: Fd, name: &str) -> SysResult<()> {
        self.unit(format!("symlinkat({}, {dirfd}, {})", q(linkname), q(name)))
    }
    fn readlinkat(&self, dirfd: Fd, name: &str) -> SysResult<String> {
        match self.next(format!("readlinkat({dirfd}, {})", q(name))) {
            Ret::Text(t) => Ok(t),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("readlinkat: {r:?}"),
        }
    }
    fn file_id(&self, fd: Fd) -> SysResult<(u64, u64)> {
        match self.next(format!("file_id({fd})")) {
            Ret::Int(v) => Ok((0, v as u64)),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("file_id: {r:?}"),
        }
    }
    fn fstat(&self, fd: Fd) -> SysResult<FileKind> {
        self.kind(format!("fstat({fd})"))
    }
    fn mount(&self, source: Option<&str>, target: &str, fstype: Option<&str>, flags: MsFlags, data: Option<&str>) -> SysResult<()> {
        self.unit(format!("mount({}, {}, {}, {}, {})", oq(source), q(target), oq(fstype), fmt_ms(flags), oq(data)))
    }
    fn mount_setattr(&self, fd: Fd, recursive: bool, attr_set: u64) -> SysResult<()> {
        self.unit(format!("mount_setattr({fd}, {}, {})", if recursive { "recursive" } else { "single" }, fmt_attr(attr_set)))
    }
    fn mount_setattr_clr(&self, fd: Fd, recursive: bool, attr_set: u64, attr_clr: u64) -> SysResult<()> {
        self.unit(format!("mount_setattr({fd}, {}, set {}, clear {})", if recursive { "recursive" } else { "single" }, fmt_attr(attr_set), fmt_attr(attr_clr)))
    }
    fn mount_flags(&self, path: &str) -> SysResult<MsFlags> {
        match self.next(format!("mount_flags({})", q(path))) {
            Ret::Int(f) => Ok(f as MsFlags),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("mount_flags: {r:?}"),
        }
    }
    fn setns(&self, fd: Fd, nstype: i32) -> SysResult<()> {
        self.unit(format!("setns({fd}, {})", fmt_ns(nstype)))
    }
    fn setdomainname(&self, name: &str) -> SysResult<()> {
        self.unit(format!("setdomainname({})", q(name)))
    }
    fn mknodat(&self, dirfd: Fd, name: &str, mode: u32, dev: u64) -> SysResult<()> {
        self.unit(format!("mknodat({dirfd}, {}, {mode:o}, {}:{})", q(name), libc::major(dev), libc::minor(dev)))
    }
    fn fchownat(&self, dirfd: Fd, name: &str, uid: u32, gid: u32) -> SysResult<()> {
        self.unit(format!("fchownat({dirfd}, {}, {uid}, {gid})", q(name)))
    }
    fn fchmodat(&self, dirfd: Fd, name: &str, mode: u32) -> SysResult<()> {
        self.unit(format!("fchmodat({dirfd}, {}, {mode:o})", q(name)))
    }
    fn setresuid(&self, uid: u32) -> SysResult<()> {
        self.unit(format!("setresuid({uid})"))
    }
    fn setresgid(&self, gid: u32) -> SysResult<()> {
        self.unit(format!("setresgid({gid})"))
    }
    fn setgroups(&self, groups: &[u32]) -> SysResult<()> {
        self.unit(format!("setgroups({groups:?})"))
    }
    fn setrlimit(&self, resource: u32, soft: u64, hard: u64) -> SysResult<()> {
        self.unit(format!("setrlimit({resource}, {soft}, {hard})"))
    }
    fn capset_sets(&self, effective: u64, permitted: u64, inheritable: u64) -> SysResult<()> {
        self.unit(format!("capset_sets({effective:#x}, {permitted:#x}, {inheritable:#x})"))
    }
    fn setsid(&self) -> SysResult<()> {
        self.unit("setsid()".into())
    }
    fn take_terminal(&self, fd: Fd) -> SysResult<()> {
        self.unit(format!("take_terminal({fd})"))
    }
    fn connect_unix(&self, path: &str) -> SysResult<Fd> {
        self.fd(format!("connect_unix({})", q(path)))
    }
    fn mkfifo(&self, path: &str, mode: u32) -> SysResult<()> {
        self.unit(format!("mkfifo({}, {mode:o})", q(path)))
    }
    fn cloexec_from(&self, first: u32) -> SysResult<()> {
        self.unit(format!("cloexec_from({first})"))
    }
    fn is_executable(&self, path: &str) -> bool {
        match self.next(format!("is_executable({})", q(path))) {
            Ret::Int(v) => v != 0,
            r => panic!("is_executable: {r:?}"),
        }
    }
    fn join_session_keyring(&self, name: &str) -> SysResult<()> {
        self.unit(format!("join_session_keyring({})", q(name)))
    }
    fn umount2(&self, target: &str, flags: i32) -> SysResult<()> {
        self.unit(format!("umount2({}, {flags})", q(target)))
    }
    fn pivot_root(&self, new_root: &str, put_old: &str) -> SysResult<()> {
        self.unit(format!("pivot_root({}, {})", q(new_root), q(put_old)))
    }
    fn spawn(&self, exec: &Exec) -> Result<i32, (Option<i32>, ExecFailure)> {
        let tty = exec.tty.map(|fd| format!(", tty={fd}")).unwrap_or_default();
        let cpus = if exec.cpus.is_empty() { String::new() } else { format!(", cpus={:?}", exec.cpus) };
        let fds = if exec.fds.len() > 3 { format!(", fds={:?}", &exec.fds[3..]) } else { String::new() };
        match self.next(format!("spawn({:?}, cwd={}, session={}{tty}{cpus}{fds})", exec.argv, q(&exec.cwd), exec.new_session)) {
            Ret::Int(pid) => Ok(pid as i32),
            Ret::ExecFailed(pid, f) => Err((pid, f)),
            r => panic!("spawn: {r:?}"),
        }
    }
    fn signal_default(&self, sig: i32) -> SysResult<()> {
        self.unit(format!("signal_default({sig})"))
    }
    fn unblock_signals(&self) -> SysResult<()> {
        self.unit("unblock_signals()".into())
    }
    fn execve(&self, path: &std::ffi::CStr, argv: &[std::ffi::CString], _envp: &[std::ffi::CString]) -> SysResult<()> {
        let argv: Vec<_> = argv.iter().map(|a| a.to_string_lossy()).collect();
        self.unit(format!("execve({}, {argv:?})", q(&path.to_string_lossy())))
    }
    fn wait_signal(&self, timeout_ms: Option<u64>) -> SysResult<Option<i32>> {
        match self.next(format!("wait_signal({timeout_ms:?})")) {
            Ret::Signal(s) => Ok(s),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("wait_signal: {r:?}"),
        }
    }
    fn reap(&self) -> SysResult<Option<(i32, ExitStatus)>> {
        match self.next("reap()".into()) {
            Ret::Reaped(pid, st) => Ok(Some((pid, st))),
            Ret::NoneYet => Ok(None),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("reap: {r:?}"),
        }
    }
    fn kill(&self, pid: i32, sig: i32) -> SysResult<()> {
        self.unit(format!("kill({pid}, {sig})"))
    }
    fn fork_server(&self, keep: &[Fd]) -> SysResult<i32> {
        match self.next(format!("fork_server(keep={keep:?})")) {
            Ret::Int(pid) => Ok(pid as i32),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("fork_server: {r:?}"),
        }
    }
    fn fuse_mount_detached(&self, options: &[(&str, &str)]) -> SysResult<(Fd, Fd)> {
        let opts: Vec<String> = options.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.pair(format!("fuse_mount_detached({})", opts.join(",")))
    }
    fn move_mount(&self, fd: Fd, target: &str) -> SysResult<()> {
        self.unit(format!("move_mount({fd}, {})", q(target)))
    }
    fn socketpair(&self) -> SysResult<(Fd, Fd)> {
        self.pair("socketpair()".into())
    }
    fn send_fd(&self, sock: Fd, fd: Fd) -> SysResult<()> {
        self.unit(format!("send_fd({sock}, {fd})"))
    }
    fn recv_fd(&self, sock: Fd) -> SysResult<Option<Fd>> {
        match self.next(format!("recv_fd({sock})")) {
            Ret::Fd(fd) => Ok(Some(fd)),
            Ret::NoneYet => Ok(None),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("recv_fd: {r:?}"),
        }
    }
    fn seqpacket_listen(&self, dirfd: Fd, name: &str) -> SysResult<Fd> {
        self.fd(format!("seqpacket_listen({dirfd}, {})", q(name)))
    }
    fn seqpacket_connect(&self, dirfd: Fd, name: &str) -> SysResult<Fd> {
        self.fd(format!("seqpacket_connect({dirfd}, {})", q(name)))
    }
    fn accept(&self, listener: Fd) -> SysResult<Fd> {
        self.fd(format!("accept({listener})"))
    }
    fn send_msg(&self, sock: Fd, data: &[u8], fds: &[Fd]) -> SysResult<()> {
        self.unit(format!("send_msg({sock}, {}, {fds:?})", String::from_utf8_lossy(data)))
    }
    fn recv_msg(&self, sock: Fd, max: usize, max_fds: usize) -> SysResult<Option<(Vec<u8>, Vec<Fd>)>> {
        match self.next(format!("recv_msg({sock}, {max}, {max_fds})")) {
            Ret::Msg(data, fds) => Ok(Some((data, fds))),
            Ret::NoneYet => Ok(None),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("recv_msg: {r:?}"),
        }
    }
    fn peer_uid(&self, conn: Fd) -> SysResult<u32> {
        match self.next(format!("peer_uid({conn})")) {
            Ret::Int(v) => Ok(v as u32),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("peer_uid: {r:?}"),
        }
    }
    fn peer_userns(&self, conn: Fd) -> SysResult<(u64, u64)> {
        match self.next(format!("peer_userns({conn})")) {
            Ret::Stamp(dev, ino, _) => Ok((dev, ino)),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("peer_userns: {r:?}"),
        }
    }
    fn own_userns(&self) -> SysResult<(u64, u64, u32)> {
        match self.next("own_userns()".into()) {
            Ret::Stamp(dev, ino, uid) => Ok((dev, ino, uid as u32)),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("own_userns: {r:?}"),
        }
    }
    fn open_pty(&self, ptmx: &str) -> SysResult<(Fd, Fd)> {
        self.pair(format!("open_pty({})", q(ptmx)))
    }
    fn tty_raw(&self, fd: Fd) -> SysResult<TermState> {
        // SAFETY: termios is plain data.
        self.unit(format!("tty_raw({fd})")).map(|()| TermState(unsafe { std::mem::zeroed() }))
    }
    fn tty_restore(&self, fd: Fd, _saved: &TermState) -> SysResult<()> {
        self.unit(format!("tty_restore({fd})"))
    }
    fn winsize(&self, fd: Fd) -> SysResult<(u16, u16)> {
        match self.next(format!("winsize({fd})")) {
            Ret::Size(r, c) => Ok((r, c)),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("winsize: {r:?}"),
        }
    }
    fn set_winsize(&self, fd: Fd, (rows, cols): (u16, u16)) -> SysResult<()> {
        self.unit(format!("set_winsize({fd}, {rows}x{cols})"))
    }
    fn set_nonblock(&self, fd: Fd) -> SysResult<()> {
        self.unit(format!("set_nonblock({fd})"))
    }
    fn signal_fd(&self, signals: &[i32]) -> SysResult<Fd> {
        self.fd(format!("signal_fd({signals:?})"))
    }
    fn read_signal(&self, fd: Fd) -> SysResult<Option<i32>> {
        match self.next(format!("read_signal({fd})")) {
            Ret::Signal(s) => Ok(s),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("read_signal: {r:?}"),
        }
    }
    fn ignore_signal(&self, sig: i32) {
        self.made.borrow_mut().push(format!("ignore_signal({sig})"));
    }
    fn poll(&self, fds: &[(Fd, i16)], timeout_ms: i32) -> SysResult<Vec<i16>> {
        let list: Vec<String> = fds.iter().map(|(fd, ev)| format!("{fd}:{}", fmt_poll(*ev))).collect();
        match self.next(format!("poll([{}], {timeout_ms})", list.join(" "))) {
            Ret::Events(v) => {
                assert_eq!(v.len(), fds.len(), "poll: one revents per fd");
                Ok(v)
            }
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("poll: {r:?}"),
        }
    }
    fn read(&self, fd: Fd, max: usize) -> SysResult<Vec<u8>> {
        match self.next(format!("read({fd}, {max})")) {
            Ret::Bytes(b) => Ok(b),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("read: {r:?}"),
        }
    }
    fn write_some(&self, fd: Fd, data: &[u8]) -> SysResult<usize> {
        match self.next(format!("write_some({fd}, {})", q(&String::from_utf8_lossy(data)))) {
            Ret::Int(n) => Ok(n as usize),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("write_some: {r:?}"),
        }
    }
    fn release_memory(&self) {
        self.made.borrow_mut().push("release_memory()".into());
    }
    fn monotonic_ms(&self) -> u64 {
        match self.next("monotonic_ms()".into()) {
            Ret::Int(t) => t as u64,
            r => panic!("monotonic_ms: {r:?}"),
        }
    }
    fn log(&self, msg: &str) {
        self.logs.borrow_mut().push(msg.to_string());
    }
    fn listen_tcp(&self, addr: std::net::SocketAddr) -> SysResult<Fd> {
        self.fd(format!("listen_tcp({addr})"))
    }
    fn landlock_net(&self, ports: &[u16]) -> SysResult<()> {
        self.unit(format!("landlock_net({ports:?})"))
    }
    fn seccomp_load_listener(&self, program: &[libc::sock_filter]) -> SysResult<Fd> {
        self.fd(format!("seccomp_load_listener({} insns)", program.len()))
    }
    fn seccomp_notif_recv(&self, fd: Fd) -> SysResult<SeccompNotif> {
        match self.next(format!("seccomp_notif_recv({fd})")) {
            Ret::Notif(n) => Ok(n),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("seccomp_notif_recv: script returns {r:?}, expected Notif or Err"),
        }
    }
    fn seccomp_notif_deny(&self, fd: Fd, id: u64, errno: i32) -> SysResult<()> {
        self.unit(format!("seccomp_notif_deny({fd}, {id}, {errno})"))
    }
    fn fork_child(&self, _child: &mut dyn FnMut() -> i32) -> SysResult<i32> {
        match self.next("fork_child()".into()) {
            Ret::Int(p) => Ok(p as i32),
            Ret::Err(e) => Err(Errno(e)),
            r => panic!("fork_child: script returns {r:?}, expected Int or Err"),
        }
    }
    fn exit(&self, code: i32) -> ! {
        self.made.borrow_mut().push(format!("exit({code})"));
        std::panic::panic_any(Exited(code))
    }
}
