//! `sbx-try`: run inside a sandbox by the integration tests, the escape
//! suite and the benchmarks. Each subcommand tries one thing with harmless
//! arguments and prints `ok` or the errno name (`EPERM`), so a blocked call is
//! visible without side effects. Nothing here writes to a file it opens for
//! writing: the open itself is the probe.
//!
//!   sbx-try syscall NAME          one of the names in `try_syscall`
//!   sbx-try fds                   open fds (besides the one listing them)
//!   sbx-try open PATH r|w         open(2) for reading or writing, nothing read or written
//!   sbx-try read PATH             open and read one byte
//!   sbx-try connect-tcp IP PORT   TCP connect to an IPv4 address
//!   sbx-try connect-abstract NAME connect to the abstract unix socket @NAME (NUL-padded, as Node binds)
//!   sbx-try kill PID SIG          kill(2)
//!   sbx-try vm-read PID           process_vm_readv one byte of PID's stack area
//!   sbx-try loop-getppid N        N getppid calls; prints the nanoseconds they took
//!   sbx-try mode CALL PATH MODE   create PATH, or set its mode, with CALL and MODE (octal):
//!                                 chmod fchmod fchmodat fchmodat2 (on a file made 0644 first),
//!                                 creat open openat openat2 tmpfile mkdir mkdirat mknod mknodat
//!   sbx-try xattr CALL PATH NAME  set attribute NAME on PATH (made first when missing) with CALL:
//!                                 setxattr lsetxattr fsetxattr setxattrat; the value of a
//!                                 security.capability name is a real v2 capability (cap_setuid)
//!   sbx-try ids                   the identity calls: no-ops, then real changes, one line
//!   sbx-try ldisc                 the line discipline number of fd 0 (TIOCGETD), or the errno
//!   sbx-try xattrs PATH           PATH's extended attributes (llistxattr, lgetxattr), `name=value`
//!                                 one a line in listed order, `none` or the errno

use std::ffi::{CStr, CString};

extern "C" {
    // glibc ≥ 2.32; the sandboxes run the host's libc.
    fn strerrorname_np(errnum: libc::c_int) -> *const libc::c_char;
}

fn errno_name(e: i32) -> String {
    // SAFETY: strerrorname_np returns a static string or NULL.
    let p = unsafe { strerrorname_np(e) };
    if p.is_null() {
        format!("E{e}")
    } else {
        // SAFETY: non-null, NUL-terminated static string.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn result(rc: libc::c_long) -> String {
    if rc < 0 {
        errno_name(last_errno())
    } else {
        "ok".into()
    }
}

fn signal_name(sig: i32) -> String {
    // SAFETY: sigabbrev_np returns a static string or NULL (glibc ≥ 2.32).
    extern "C" {
        fn sigabbrev_np(sig: libc::c_int) -> *const libc::c_char;
    }
    let p = unsafe { sigabbrev_np(sig) };
    if p.is_null() {
        format!("SIG{sig}")
    } else {
        // SAFETY: non-null, NUL-terminated static string.
        format!("SIG{}", unsafe { CStr::from_ptr(p) }.to_string_lossy())
    }
}

/// Run `f` in a forked child and report how the child ended: its errno
/// result (exit status = errno, 0 for ok) or the signal that killed it.
fn in_child(f: impl FnOnce() -> i32) -> String {
    // SAFETY: fork in a single-threaded process; the child only makes raw
    // syscalls and _exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return format!("fork failed: {}", errno_name(last_errno()));
    }
    if pid == 0 {
        let e = f();
        // SAFETY: leaving the child without running destructors.
        unsafe { libc::_exit(e) }
    }
    let mut st = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut st, 0) };
    if libc::WIFSIGNALED(st) {
        signal_name(libc::WTERMSIG(st))
    } else {
        match libc::WEXITSTATUS(st) {
            0 => "ok".into(),
            e => errno_name(e),
        }
    }
}

/// A minimal BPF program (`r0 = 0; exit`) loaded as a kprobe program:
/// tracing programs need CAP_BPF and CAP_PERFMON in the initial namespace.
fn bpf_prog_load_kprobe() -> libc::c_long {
    let insns: [u64; 2] = [0x0000_0000_0000_00b7, 0x0000_0000_0000_0095];
    let license = c"GPL";
    let mut attr = [0u64; 16];
    attr[0] = 2; // prog_type = BPF_PROG_TYPE_KPROBE, insn_cnt in the high half
    attr[0] |= 2u64 << 32;
    attr[1] = insns.as_ptr() as u64;
    attr[2] = license.as_ptr() as u64;
    // SAFETY: attr and insns outlive the call; size is attr's.
    unsafe {
        libc::syscall(libc::SYS_bpf, 5 /* BPF_PROG_LOAD */, attr.as_ptr(), std::mem::size_of_val(&attr))
    }
}

fn try_syscall(name: &str) -> Option<String> {
    use libc::*;
    // The i386 ABI through `int 0x80`: a filter that only knows x86_64
    // numbers must kill the process, not let it through.
    #[cfg(target_arch = "x86_64")]
    if name == "int80-unshare-user" {
        return Some(in_child(|| {
            let ret: i32;
            // SAFETY: i386 unshare(CLONE_NEWUSER) (nr 310); no memory arguments.
            // rbx is LLVM's: swap the argument in and out around the trap.
            unsafe {
                core::arch::asm!(
                    "xchg rbx, {arg}", "int 0x80", "xchg rbx, {arg}",
                    arg = inout(reg) CLONE_NEWUSER as u64 => _,
                    inlateout("eax") 310i32 => ret,
                    options(nostack)
                )
            };
            if ret < 0 {
                -ret
            } else {
                0
            }
        }));
    }
    if name == "clone-newns" {
        return Some(in_child(|| {
            // SAFETY: raw clone; the new child exits at once.
            let r = unsafe { syscall(SYS_clone, (CLONE_NEWNS | SIGCHLD) as c_ulong, 0, 0, 0, 0) };
            if r == 0 {
                // SAFETY: leaving the grandchild.
                unsafe { _exit(0) }
            }
            if r < 0 {
                last_errno()
            } else {
                0
            }
        }));
    }
    // SAFETY: each call passes harmless or null arguments; a call that
    // succeeds changes nothing outside this short-lived process.
    let rc = unsafe {
        match name {
            "unshare-user" => unshare(CLONE_NEWUSER) as c_long,
            "unshare-ns" => unshare(CLONE_NEWNS) as c_long,
            "unshare-net" => unshare(CLONE_NEWNET) as c_long,
            "unshare-pid" => unshare(CLONE_NEWPID) as c_long,
            "setns" => setns(-1, 0) as c_long,
            "setns-pid1-mnt" => {
                let fd = open(c"/proc/1/ns/mnt".as_ptr(), O_RDONLY | O_CLOEXEC);
                if fd < 0 {
                    -1
                } else {
                    setns(fd, 0) as c_long
                }
            }
            "clone-newuser" => {
                let r = syscall(SYS_clone, (CLONE_NEWUSER | SIGCHLD) as c_ulong, 0, 0, 0, 0);
                if r == 0 {
                    _exit(0);
                }
                if r > 0 {
                    waitpid(r as i32, std::ptr::null_mut(), 0);
                }
                r
            }
            "clone3" => syscall(SYS_clone3, std::ptr::null::<u8>(), 0usize),
            "mount" => mount(c"none".as_ptr(), c"/".as_ptr(), c"tmpfs".as_ptr(), 0, std::ptr::null()) as c_long,
            "mount-bind-proc" => mount(c"/proc".as_ptr(), c"/tmp".as_ptr(), std::ptr::null(), MS_BIND, std::ptr::null()) as c_long,
            "umount" => umount2(c"/".as_ptr(), MNT_DETACH) as c_long,
            "umount-proc" => umount2(c"/proc".as_ptr(), MNT_DETACH) as c_long,
            "pivot_root" => syscall(SYS_pivot_root, c"/".as_ptr(), c"/".as_ptr()),
            "chroot" => chroot(c"/".as_ptr()) as c_long,
            "open_tree" => syscall(SYS_open_tree, -1, c"/".as_ptr(), 0),
            "move_mount" => syscall(SYS_move_mount, -1, c"/".as_ptr(), -1, c"/".as_ptr(), 0),
            "fsopen" => syscall(SYS_fsopen, c"tmpfs".as_ptr(), 0),
            "fsconfig" => syscall(SYS_fsconfig, -1, 0, 0, 0, 0),
            "fsmount" => syscall(SYS_fsmount, -1, 0, 0),
            "fspick" => syscall(SYS_fspick, -1, c"/".as_ptr(), 0),
            "mount_setattr" => syscall(SYS_mount_setattr, -1, c"/".as_ptr(), 0, 0, 0),
            "keyctl" => syscall(SYS_keyctl, 0, 0, 0, 0, 0),
            "add_key" => syscall(SYS_add_key, c"user".as_ptr(), c"x".as_ptr(), std::ptr::null::<u8>(), 0, 0),
            "request_key" => syscall(SYS_request_key, c"user".as_ptr(), c"x".as_ptr(), std::ptr::null::<u8>(), 0),
            "ptrace-pid1" => ptrace(PTRACE_ATTACH, 1, 0, 0),
            "ptrace-traceme" => ptrace(PTRACE_TRACEME, 0, 0, 0),
            "perf_event_open" => syscall(SYS_perf_event_open, std::ptr::null::<u8>(), 0, -1, -1, 0),
            "bpf-prog-load-kprobe" => bpf_prog_load_kprobe(),
            "userfaultfd" => syscall(SYS_userfaultfd, O_CLOEXEC),
            "io_uring_setup" => {
                let mut params = [0u8; 120];
                let r = syscall(SYS_io_uring_setup, 1, params.as_mut_ptr());
                if r >= 0 {
                    close(r as i32);
                }
                r
            }
            "personality-linux32" => personality(0x0008) as c_long,
            "personality-no-aslr" => personality(0x0040000) as c_long,
            "personality-query" => personality(0xffff_ffff) as c_long,
            "ioctl-tiocsti" => ioctl(0, TIOCSTI, c"x".as_ptr()) as c_long,
            "ioctl-tiocsti-high" => syscall(SYS_ioctl, 0, 0xffff_ffff_0000_0000u64 | TIOCSTI, c"x".as_ptr()),
            "ioctl-tioclinux" => ioctl(0, TIOCLINUX, c"\x06".as_ptr()) as c_long,
            "socket-packet" => socket(AF_PACKET, SOCK_RAW, 0) as c_long,
            "socket-vsock" => socket(AF_VSOCK, SOCK_STREAM, 0) as c_long,
            "socket-alg" => socket(AF_ALG, SOCK_SEQPACKET, 0) as c_long,
            "socket-key" => socket(AF_KEY, SOCK_RAW, 2) as c_long,
            "socket-bluetooth" => socket(AF_BLUETOOTH, SOCK_RAW, 0) as c_long,
            "socket-raw-inet" => socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) as c_long,
            "socket-inet" => {
                let s = socket(AF_INET, SOCK_STREAM, 0);
                if s >= 0 {
                    close(s);
                }
                s as c_long
            }
            "setuid-0" => setuid(0) as c_long,
            // Another id than the caller's: a real change (the sandbox maps one uid and gid).
            "setuid-other" => setuid(other(getuid())) as c_long,
            "setgid-other" => setgid(other(getgid())) as c_long,
            "setresuid-other" => setresuid(other(getuid()), other(getuid()), other(getuid())) as c_long,
            "setgroups-other" => {
                let g = other(getgid());
                setgroups(1, &g) as c_long
            }
            "chown-other" => chown(c"/tmp".as_ptr(), other(getuid()), u32::MAX) as c_long,
            "chgrp-other" => chown(c"/tmp".as_ptr(), u32::MAX, other(getgid())) as c_long,
            "ioctl-tiocsetd" => {
                let n_null: c_int = 27;
                ioctl(0, TIOCSETD, &n_null) as c_long
            }
            // The same discipline again (N_TTY): harmless, for controls.
            "ioctl-tiocsetd-ntty" => {
                let n_tty: c_int = 0;
                ioctl(0, TIOCSETD, &n_tty) as c_long
            }
            "ioctl-tioccons" => ioctl(0, TIOCCONS) as c_long,
            "ioctl-tiocvhangup" => ioctl(0, TIOCVHANGUP) as c_long,
            "ioctl-tiocslcktrmios" => {
                let mut t: termios = std::mem::zeroed();
                ioctl(0, TIOCSLCKTRMIOS, &mut t) as c_long
            }
            // KDSKBSENT: a function key's string; VT_ACTIVATE: switch the console.
            "ioctl-kdskbsent" => {
                let mut ent = [0u8; 513];
                ent[1..4].copy_from_slice(b"id\n");
                syscall(SYS_ioctl, 0, 0x4b49, ent.as_mut_ptr())
            }
            "ioctl-vt-activate" => syscall(SYS_ioctl, 0, 0x5606, 1),
            "personality-linux" => personality(0) as c_long,
            "get_mempolicy" => {
                let mut mode: c_int = 0;
                syscall(SYS_get_mempolicy, &mut mode, std::ptr::null_mut::<c_ulong>(), 0, std::ptr::null::<u8>(), 0)
            }
            "prctl-reads" => {
                let mut name = [0u8; 16];
                // Unused arguments 0: PR_GET_NO_NEW_PRIVS insists.
                let r = [
                    syscall(SYS_prctl, PR_GET_NAME, name.as_mut_ptr(), 0, 0, 0),
                    syscall(SYS_prctl, PR_GET_DUMPABLE, 0, 0, 0, 0),
                    syscall(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
                    syscall(SYS_prctl, PR_CAPBSET_READ, 0, 0, 0, 0),
                    syscall(SYS_prctl, PR_GET_SECCOMP, 0, 0, 0, 0),
                    syscall(SYS_prctl, PR_GET_TIMERSLACK, 0, 0, 0, 0),
                ];
                if r.iter().any(|&r| r < 0) {
                    -1
                } else {
                    0
                }
            }
            "setgid-0" => setgid(0) as c_long,
            "setresuid-0" => setresuid(0, 0, 0) as c_long,
            "setgroups-0" => setgroups(0, std::ptr::null()) as c_long,
            "chown-root" => chown(c"/tmp".as_ptr(), 0, 0) as c_long,
            "fchownat-root" => fchownat(AT_FDCWD, c"/tmp".as_ptr(), 0, 0, 0) as c_long,
            "mknod-char" => mknod(c"/tmp/sbx-null".as_ptr(), S_IFCHR | 0o666, makedev(1, 3)) as c_long,
            "mknod-block" => mknod(c"/tmp/sbx-disk".as_ptr(), S_IFBLK | 0o666, makedev(8, 0)) as c_long,
            "sethostname" => sethostname(c"x".as_ptr(), 1) as c_long,
            "setdomainname" => setdomainname(c"x".as_ptr(), 1) as c_long,
            "syslog" => syscall(SYS_syslog, 10, 0, 0),
            "init_module" => syscall(SYS_init_module, std::ptr::null::<u8>(), 0, c"".as_ptr()),
            "finit_module" => syscall(SYS_finit_module, -1, c"".as_ptr(), 0),
            "delete_module" => syscall(SYS_delete_module, c"sbx_none".as_ptr(), O_NONBLOCK),
            "kexec_load" => syscall(SYS_kexec_load, 0, 0, std::ptr::null::<u8>(), 0),
            "kexec_file_load" => syscall(SYS_kexec_file_load, -1, -1, 0, std::ptr::null::<u8>(), 0),
            // Magic numbers wrong on purpose: even an unfiltered reboot(2) only fails EINVAL.
            "reboot" => syscall(SYS_reboot, 0, 0, 0, std::ptr::null::<u8>()),
            "swapon" => syscall(SYS_swapon, c"/nonexistent-swap".as_ptr(), 0),
            "swapoff" => syscall(SYS_swapoff, c"/nonexistent-swap".as_ptr()),
            "acct" => syscall(SYS_acct, std::ptr::null::<u8>()),
            "quotactl" => syscall(SYS_quotactl, 0, std::ptr::null::<u8>(), 0, std::ptr::null::<u8>()),
            "uselib" => syscall(SYS_uselib, std::ptr::null::<u8>()),
            // A time in the past would change the clock if it were allowed:
            // pass a NULL pointer so even an allowed call only fails EFAULT.
            "clock_settime" => syscall(SYS_clock_settime, CLOCK_REALTIME, std::ptr::null::<u8>()),
            "settimeofday" => syscall(SYS_settimeofday, std::ptr::null::<u8>(), std::ptr::null::<u8>()),
            "adjtimex" => {
                let mut t: timex = std::mem::zeroed();
                adjtimex(&mut t) as c_long
            }
            "iopl" => syscall(SYS_iopl, 3),
            "ioperm" => syscall(SYS_ioperm, 0x80, 1, 1),
            "modify_ldt" => syscall(SYS_modify_ldt, 0, std::ptr::null::<u8>(), 0),
            "move_pages" => syscall(SYS_move_pages, 0, 0, std::ptr::null::<u8>(), std::ptr::null::<u8>(), std::ptr::null::<u8>(), 0),
            "set_mempolicy" => syscall(SYS_set_mempolicy, 0, std::ptr::null::<u8>(), 0),
            // Unfiltered these fail EBADF (no ring), EFAULT (nothing mapped
            // at 0x10000) or succeed: any errno of the filter's shows.
            "getcwd" => {
                let mut buf = [0u8; 4096];
                syscall(SYS_getcwd, buf.as_mut_ptr(), buf.len())
            }
            "io_uring_enter" => syscall(SYS_io_uring_enter, -1, 0, 0, 0, std::ptr::null::<u8>(), 0),
            "io_uring_register" => syscall(SYS_io_uring_register, -1, 0, std::ptr::null::<u8>(), 0),
            "process_vm_readv-self" | "process_vm_writev-self" => {
                let mut buf = [0u8; 1];
                let local = iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: 1 };
                let remote = iovec { iov_base: 0x10000 as *mut c_void, iov_len: 1 };
                let nr = if name == "process_vm_readv-self" { SYS_process_vm_readv } else { SYS_process_vm_writev };
                syscall(nr, getpid(), &local, 1, &remote, 1, 0)
            }
            // x32 syscall numbers carry bit 30 with the x86_64 audit arch: a
            // filter that compares plain numbers lets them through to a
            // kernel with x32 enabled.
            #[cfg(target_arch = "x86_64")]
            "x32-unshare-user" => syscall(0x4000_0000 | SYS_unshare, CLONE_NEWUSER),
            _ => return None,
        }
    };
    Some(result(rc))
}

/// An id other than `own`: the caller's is the only one mapped.
fn other(own: u32) -> u32 {
    if own == 0 {
        1
    } else {
        0
    }
}

/// The identity calls programs make: no-ops first (they must succeed), then
/// real changes (the kernel must refuse them), as `name=answer` pairs.
fn ids() -> String {
    use libc::*;
    let mut out = Vec::new();
    // The answer of one call, errno read at once.
    let mut rec = |name: &str, rc: c_long| out.push(format!("{name}={}", result(rc)));
    // SAFETY: identity syscalls with the process's own ids or one other id;
    // a successful real change would only affect this short-lived process.
    unsafe {
        let (u, g) = (getuid(), getgid());
        let mut groups = [0 as gid_t; 64];
        let n = getgroups(64, groups.as_mut_ptr());
        rec("setuid(own)", setuid(u) as c_long);
        rec("setgid(own)", setgid(g) as c_long);
        rec("seteuid(own)", seteuid(u) as c_long);
        rec("setegid(own)", setegid(g) as c_long);
        rec("setreuid(-1,own)", setreuid(u32::MAX, u) as c_long);
        rec("setresuid(own)", setresuid(u, u, u) as c_long);
        rec("setresgid(own)", setresgid(g, g, g) as c_long);
        // setfsuid answers the previous fsuid, never an error.
        rec("setfsuid(own)", if setfsuid(u) as u32 == u { 0 } else { -1 });
        let fd = open(c"/tmp/sbx-ids".as_ptr(), O_CREAT | O_WRONLY | O_CLOEXEC, 0o644);
        rec("fchown(own)", fchown(fd, u, g) as c_long);
        rec("setuid(other)", setuid(other(u)) as c_long);
        rec("setgid(other)", setgid(other(g)) as c_long);
        rec("setresuid(other)", setresuid(other(u), other(u), other(u)) as c_long);
        rec("fchown(other)", fchown(fd, other(u), u32::MAX) as c_long);
        close(fd);
        // Without CAP_SETGID the kernel refuses setgroups even to the same list.
        rec("setgroups(same)", if n < 0 { -1 } else { setgroups(n as usize, groups.as_ptr()) as c_long });
    }
    out.join(" ")
}

fn fds() -> String {
    let mut out = Vec::new();
    // SAFETY: opendir/readdir/closedir on a path we own; dirfd excluded.
    unsafe {
        let d = libc::opendir(c"/proc/self/fd".as_ptr());
        if d.is_null() {
            return "cannot open /proc/self/fd".into();
        }
        let own = libc::dirfd(d);
        loop {
            let e = libc::readdir(d);
            if e.is_null() {
                break;
            }
            let name = CStr::from_ptr((*e).d_name.as_ptr()).to_string_lossy().into_owned();
            if let Ok(n) = name.parse::<i32>() {
                if n != own {
                    out.push(n);
                }
            }
        }
        libc::closedir(d);
    }
    out.sort();
    out.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(" ")
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| usage())
}

fn open(path: &str, mode: &str) -> String {
    let flags = match mode {
        "r" => libc::O_RDONLY,
        "w" => libc::O_WRONLY,
        _ => usage(),
    };
    // SAFETY: open/close on a NUL-terminated path; nothing is written.
    unsafe {
        let fd = libc::open(cstr(path).as_ptr(), flags | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK);
        if fd >= 0 {
            libc::close(fd);
        }
        result(fd as libc::c_long)
    }
}

fn read(path: &str) -> String {
    // SAFETY: open/read/close with a one-byte buffer we own.
    unsafe {
        let fd = libc::open(cstr(path).as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK);
        if fd < 0 {
            return result(-1);
        }
        let mut b = 0u8;
        let n = libc::read(fd, (&mut b as *mut u8).cast(), 1);
        let r = result(n as libc::c_long);
        libc::close(fd);
        r
    }
}

fn connect_tcp(ip: &str, port: &str) -> String {
    let ip: std::net::Ipv4Addr = ip.parse().unwrap_or_else(|_| usage());
    let port: u16 = port.parse().unwrap_or_else(|_| usage());
    // SAFETY: a socket we own, a sockaddr_in on the stack.
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if s < 0 {
            return result(-1);
        }
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as u16;
        sa.sin_port = port.to_be();
        sa.sin_addr.s_addr = u32::from(ip).to_be();
        let r = libc::connect(s, (&sa as *const libc::sockaddr_in).cast(), std::mem::size_of_val(&sa) as u32);
        let out = result(r as libc::c_long);
        libc::close(s);
        out
    }
}

fn connect_abstract(name: &str) -> String {
    // SAFETY: a socket we own, a sockaddr_un on the stack.
    unsafe {
        let s = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if s < 0 {
            return result(-1);
        }
        let mut sa: libc::sockaddr_un = std::mem::zeroed();
        sa.sun_family = libc::AF_UNIX as u16;
        let bytes = name.as_bytes();
        if bytes.len() + 1 > sa.sun_path.len() {
            usage();
        }
        for (i, b) in bytes.iter().enumerate() {
            sa.sun_path[i + 1] = *b as libc::c_char;
        }
        // The whole sun_path, NUL-padded: what libuv (Node) binds.
        let len = std::mem::size_of::<libc::sockaddr_un>() as u32;
        let r = libc::connect(s, (&sa as *const libc::sockaddr_un).cast(), len);
        let out = result(r as libc::c_long);
        libc::close(s);
        out
    }
}

fn vm_read(pid: i32) -> String {
    let mut buf = [0u8; 1];
    let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: 1 };
    // Any address will do: the permission check comes before the copy.
    let remote = libc::iovec { iov_base: 0x10000 as *mut libc::c_void, iov_len: 1 };
    // SAFETY: one local buffer we own; the remote side is the kernel's to check.
    let r = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    result(r as libc::c_long)
}

fn loop_getppid(n: u64) -> String {
    let t = std::time::Instant::now();
    for _ in 0..n {
        // SAFETY: no arguments; a raw syscall so libc cannot cache it.
        unsafe { libc::syscall(libc::SYS_getppid) };
    }
    t.elapsed().as_nanos().to_string()
}

/// Create `path` with `call` and `mode`, or make it 0644 and then set
/// `mode` with `call`: the raw syscall each time, so libc cannot pick another.
fn mode(call: &str, path: &str, mode: &str) -> String {
    use libc::*;
    let mode = c_long::from_str_radix(mode, 8).unwrap_or_else(|_| usage());
    let p = cstr(path);
    let wr = c_long::from(O_CREAT | O_WRONLY | O_EXCL | O_CLOEXEC);
    // SAFETY: raw syscalls on a NUL-terminated path we own and small structs
    // on the stack; a created fd is closed.
    unsafe {
        let closing = |fd: c_long| {
            if fd >= 0 {
                close(fd as c_int);
            }
            fd
        };
        let rc = match call {
            "chmod" | "fchmod" | "fchmodat" | "fchmodat2" => {
                let fd = open(p.as_ptr(), O_CREAT | O_WRONLY | O_CLOEXEC, 0o644);
                if fd < 0 {
                    return format!("cannot create {path}: {}", errno_name(last_errno()));
                }
                close(fd);
                match call {
                    #[cfg(target_arch = "x86_64")]
                    "chmod" => syscall(SYS_chmod, p.as_ptr(), mode),
                    "fchmod" => {
                        let fd = open(p.as_ptr(), O_RDONLY | O_CLOEXEC);
                        let r = syscall(SYS_fchmod, fd, mode);
                        close(fd);
                        r
                    }
                    "fchmodat" => syscall(SYS_fchmodat, AT_FDCWD, p.as_ptr(), mode),
                    "fchmodat2" => syscall(452, AT_FDCWD, p.as_ptr(), mode, 0),
                    _ => return "ENOSYS".into(), // chmod on aarch64: no such call
                }
            }
            #[cfg(target_arch = "x86_64")]
            "creat" => closing(syscall(SYS_creat, p.as_ptr(), mode)),
            #[cfg(target_arch = "x86_64")]
            "open" => closing(syscall(SYS_open, p.as_ptr(), wr, mode)),
            "openat" => closing(syscall(SYS_openat, AT_FDCWD, p.as_ptr(), wr, mode)),
            "openat2" => {
                // struct open_how: flags, mode, resolve
                let how: [u64; 3] = [wr as u64, mode as u64, 0];
                closing(syscall(SYS_openat2, AT_FDCWD, p.as_ptr(), how.as_ptr(), std::mem::size_of_val(&how)))
            }
            "tmpfile" => {
                // An unnamed file in PATH's directory, then linked in as PATH.
                let dir = cstr(std::path::Path::new(path).parent().and_then(|d| d.to_str()).unwrap_or("."));
                let fd = syscall(SYS_openat, AT_FDCWD, dir.as_ptr(), c_long::from(O_TMPFILE | O_WRONLY | O_CLOEXEC), mode);
                if fd < 0 {
                    fd
                } else {
                    let proc = cstr(&format!("/proc/self/fd/{fd}"));
                    let r = linkat(AT_FDCWD, proc.as_ptr(), AT_FDCWD, p.as_ptr(), AT_SYMLINK_FOLLOW) as c_long;
                    close(fd as c_int);
                    r
                }
            }
            #[cfg(target_arch = "x86_64")]
            "mkdir" => syscall(SYS_mkdir, p.as_ptr(), mode),
            "mkdirat" => syscall(SYS_mkdirat, AT_FDCWD, p.as_ptr(), mode),
            #[cfg(target_arch = "x86_64")]
            "mknod" => syscall(SYS_mknod, p.as_ptr(), c_long::from(S_IFREG) | mode, 0),
            "mknodat" => syscall(SYS_mknodat, AT_FDCWD, p.as_ptr(), c_long::from(S_IFREG) | mode, 0),
            #[cfg(not(target_arch = "x86_64"))]
            "creat" | "open" | "mkdir" | "mknod" => return "ENOSYS".into(),
            _ => usage(),
        };
        result(rc)
    }
}

/// Set attribute `name` on `path` (created empty first when missing).
fn xattr(call: &str, path: &str, name: &str) -> String {
    use libc::*;
    let p = cstr(path);
    let n = cstr(name);
    // security.capability: struct vfs_cap_data, revision 2, effective,
    // permitted = CAP_SETUID: what `setcap cap_setuid+ep` writes.
    let cap: [u32; 5] = [0x0200_0001, 1 << 7, 0, 0, 0];
    let (value, len): (*const c_void, usize) =
        if name == "security.capability" { (cap.as_ptr().cast(), std::mem::size_of_val(&cap)) } else { (c"1".as_ptr().cast(), 1) };
    // SAFETY: NUL-terminated strings and a value buffer that outlive the calls.
    unsafe {
        let fd = open(p.as_ptr(), O_CREAT | O_RDONLY | O_CLOEXEC, 0o644);
        if fd < 0 {
            return format!("cannot create {path}: {}", errno_name(last_errno()));
        }
        let rc = match call {
            "setxattr" => setxattr(p.as_ptr(), n.as_ptr(), value, len, 0) as c_long,
            "lsetxattr" => lsetxattr(p.as_ptr(), n.as_ptr(), value, len, 0) as c_long,
            "fsetxattr" => fsetxattr(fd, n.as_ptr(), value, len, 0) as c_long,
            "setxattrat" => {
                // struct xattr_args: value pointer, size, flags (Linux 6.13).
                let args: [u64; 2] = [value as u64, len as u64];
                syscall(463, AT_FDCWD, p.as_ptr(), 0, n.as_ptr(), args.as_ptr(), std::mem::size_of_val(&args))
            }
            _ => usage(),
        };
        let out = result(rc);
        close(fd);
        out
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: sbx-try syscall NAME | fds | open PATH r|w | read PATH | connect-tcp IP PORT | connect-abstract NAME | kill PID SIG | vm-read PID | ptrace PID | loop-getppid N | mode CALL PATH MODE | xattr CALL PATH NAME | ids | ldisc"
    );
    std::process::exit(2)
}

fn num<T: std::str::FromStr>(s: &str) -> T {
    s.parse().unwrap_or_else(|_| usage())
}

/// `xattrs PATH`: every extended attribute of PATH as `name=value` lines.
fn xattrs(path: &str) -> String {
    let p = CString::new(path).unwrap_or_default();
    let mut names = vec![0u8; 65536];
    // SAFETY: the buffer is as long as the length passed.
    let n = unsafe { libc::llistxattr(p.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n < 0 {
        return result(-1);
    }
    let mut out = Vec::new();
    for name in names[..n as usize].split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let c = CString::new(name).unwrap_or_default();
        let mut v = vec![0u8; 65536];
        // SAFETY: as above.
        let m = unsafe { libc::lgetxattr(p.as_ptr(), c.as_ptr(), v.as_mut_ptr().cast(), v.len()) };
        let v = if m < 0 { result(-1) } else { String::from_utf8_lossy(&v[..m as usize]).into_owned() };
        out.push(format!("{}={v}", String::from_utf8_lossy(name)));
    }
    if out.is_empty() {
        "none".into()
    } else {
        out.join("\n")
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["syscall", name] => try_syscall(name).unwrap_or_else(|| {
            eprintln!("sbx-try: unknown syscall {name}");
            std::process::exit(2)
        }),
        ["fds"] => fds(),
        ["open", path, mode] => open(path, mode),
        ["read", path] => read(path),
        ["connect-tcp", ip, port] => connect_tcp(ip, port),
        ["connect-abstract", name] => connect_abstract(name),
        // SAFETY: kill(2) with the caller's numbers.
        ["kill", pid, sig] => result(unsafe { libc::kill(num(pid), num(sig)) } as libc::c_long),
        ["vm-read", pid] => vm_read(num(pid)),
        ["ptrace", pid] => {
            // SAFETY: PTRACE_ATTACH to the caller's pid; detached again when it was allowed.
            let r = unsafe { libc::ptrace(libc::PTRACE_ATTACH, num::<i32>(pid), 0, 0) };
            if r == 0 {
                // SAFETY: as above.
                unsafe { libc::ptrace(libc::PTRACE_DETACH, num::<i32>(pid), 0, 0) };
            }
            result(r)
        }
        ["loop-getppid", n] => loop_getppid(num(n)),
        ["mode", call, path, m] => mode(call, path, m),
        ["xattr", call, path, name] => xattr(call, path, name),
        ["ids"] => ids(),
        ["ldisc"] => {
            let mut d: libc::c_int = -1;
            // SAFETY: TIOCGETD writes one int.
            let r = unsafe { libc::ioctl(0, libc::TIOCGETD, &mut d) };
            if r < 0 {
                result(-1)
            } else {
                d.to_string()
            }
        }
        ["xattrs", path] => xattrs(path),
        _ => usage(),
    };
    println!("{out}");
}
