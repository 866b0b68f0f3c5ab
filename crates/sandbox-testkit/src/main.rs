//! `sbx-try`: run inside a sandbox by the integration tests. Tries one
//! syscall with harmless arguments and prints `ok` or the errno name, so a
//! blocked syscall is visible without side effects.
//!
//!   sbx-try syscall NAME      one of the names in `try_syscall`
//!   sbx-try fds               open fds (besides the one listing them)

use std::ffi::CStr;

fn errno_name(e: i32) -> String {
    let names = [
        (libc::EPERM, "EPERM"),
        (libc::ENOENT, "ENOENT"),
        (libc::ESRCH, "ESRCH"),
        (libc::EBADF, "EBADF"),
        (libc::EACCES, "EACCES"),
        (libc::EFAULT, "EFAULT"),
        (libc::EINVAL, "EINVAL"),
        (libc::ENOTTY, "ENOTTY"),
        (libc::EROFS, "EROFS"),
        (libc::ENOSYS, "ENOSYS"),
        (libc::EAFNOSUPPORT, "EAFNOSUPPORT"),
        (libc::EOPNOTSUPP, "EOPNOTSUPP"),
        (libc::ENOSPC, "ENOSPC"),
        (libc::EUSERS, "EUSERS"),
        (libc::EBUSY, "EBUSY"),
        (libc::E2BIG, "E2BIG"),
        (libc::ENOMEM, "ENOMEM"),
        (libc::ENODEV, "ENODEV"),
    ];
    names.iter().find(|(n, _)| *n == e).map(|(_, s)| s.to_string()).unwrap_or_else(|| format!("E{e}"))
}

fn result(rc: libc::c_long) -> String {
    if rc < 0 {
        errno_name(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        "ok".into()
    }
}

fn try_syscall(name: &str) -> Option<String> {
    // SAFETY: each call passes harmless or null arguments; a call that
    // succeeds changes nothing outside this short-lived process.
    let rc = unsafe {
        match name {
            "unshare-user" => libc::unshare(libc::CLONE_NEWUSER) as libc::c_long,
            "unshare-ns" => libc::unshare(libc::CLONE_NEWNS) as libc::c_long,
            "clone-newuser" => {
                let r = libc::syscall(libc::SYS_clone, (libc::CLONE_NEWUSER | libc::SIGCHLD) as libc::c_ulong, 0, 0, 0, 0);
                if r == 0 {
                    libc::_exit(0);
                }
                if r > 0 {
                    libc::waitpid(r as i32, std::ptr::null_mut(), 0);
                }
                r
            }
            "clone3" => libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize),
            "mount" => libc::mount(c"none".as_ptr(), c"/".as_ptr(), c"tmpfs".as_ptr(), 0, std::ptr::null()) as libc::c_long,
            "umount" => libc::umount2(c"/".as_ptr(), libc::MNT_DETACH) as libc::c_long,
            "pivot_root" => libc::syscall(libc::SYS_pivot_root, c"/".as_ptr(), c"/".as_ptr()),
            "chroot" => libc::chroot(c"/".as_ptr()) as libc::c_long,
            "open_tree" => libc::syscall(libc::SYS_open_tree, -1, c"/".as_ptr(), 0),
            "fsopen" => libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), 0),
            "keyctl" => libc::syscall(libc::SYS_keyctl, 0, 0, 0, 0, 0),
            "add_key" => libc::syscall(libc::SYS_add_key, c"user".as_ptr(), c"x".as_ptr(), std::ptr::null::<u8>(), 0, 0),
            "ptrace-pid1" => libc::ptrace(libc::PTRACE_ATTACH, 1, 0, 0),
            "perf_event_open" => libc::syscall(libc::SYS_perf_event_open, std::ptr::null::<u8>(), 0, -1, -1, 0),
            "personality-linux32" => libc::personality(0x0008) as libc::c_long,
            "personality-query" => libc::personality(0xffff_ffff) as libc::c_long,
            "ioctl-tiocsti" => libc::ioctl(0, libc::TIOCSTI, c"x".as_ptr()) as libc::c_long,
            "ioctl-tiocsti-high" => libc::syscall(libc::SYS_ioctl, 0, 0xffff_ffff_0000_0000u64 | libc::TIOCSTI as u64, c"x".as_ptr()),
            "socket-packet" => libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) as libc::c_long,
            "socket-inet" => {
                let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
                if s >= 0 {
                    libc::close(s);
                }
                s as libc::c_long
            }
            "setuid-0" => libc::setuid(0) as libc::c_long,
            "sethostname" => libc::sethostname(c"x".as_ptr(), 1) as libc::c_long,
            "syslog" => libc::syscall(libc::SYS_syslog, 10, 0, 0),
            _ => return None,
        }
    };
    Some(result(rc))
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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["syscall", name] => try_syscall(name).unwrap_or_else(|| {
            eprintln!("sbx-try: unknown syscall {name}");
            std::process::exit(2)
        }),
        ["fds"] => fds(),
        _ => {
            eprintln!("usage: sbx-try syscall NAME | fds");
            std::process::exit(2)
        }
    };
    println!("{out}");
}
