//! An image config's `User` given as a name (`app`, `app:staff`, `1000:staff`,
//! `app:100`), resolved in the image's own `/etc/passwd` and `/etc/group`:
//! read inside the image root (a directory through `open_in` with symlinks
//! followed inside it; a SquashFS file through our reader, symlinks
//! resolved inside the image), never the host's. Numbers and `root` need no
//! files and are the TS side's (`imageUser`); what this returns goes to
//! `plan.uid`/`plan.gid` as the ids the caller is mapped to, never a
//! privilege. A name the image does not list is `E_IMAGE_USER` naming it.

use super::report::UserIds;
use super::sqfs::{Kind, Reader};
use crate::archive::safe_extract::{self, Parents};
use crate::error::{Code, SetupError};
use nix::fcntl::OFlag;
use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;

/// The largest passwd or group file read.
const MAX_FILE: u64 = 4 << 20;

/// Where the image's files are read from.
pub enum Source<'a> {
    /// An image directory (an fd of it).
    Dir(std::os::fd::BorrowedFd<'a>),
    /// A SquashFS image.
    Squashfs(&'a Reader),
}

fn user_error(image: &str, msg: impl std::fmt::Display) -> SetupError {
    SetupError::new(Code::ImageUser, format!("{image}: {msg}")).with_hint("the image config's User names an account of the image: add it to the image's /etc/passwd (and /etc/group), or give the ids as UID[:GID], or run a command with --uid/--gid")
}

/// Whether `user` needs the image's files: a name other than root in either part.
pub fn names_an_account(user: &str) -> bool {
    let (u, g) = user.split_once(':').unwrap_or((user, ""));
    let named = |s: &str| !s.is_empty() && !s.bytes().all(|b| b.is_ascii_digit());
    !(user == "root" || user == "root:root") && (named(u) || named(g))
}

/// Read `path` (relative, e.g. `etc/passwd`) of the image; `None` when absent.
fn read(src: &Source, path: &str) -> Result<Option<Vec<u8>>, String> {
    match src {
        // O_NONBLOCK and a regular file only: a FIFO the image ships as
        // /etc/passwd must not hang the run (nor a device feed it).
        Source::Dir(root) => match safe_extract::open_in(*root, path.as_bytes(), OFlag::O_RDONLY | OFlag::O_NONBLOCK, Parents::InRoot) {
            Ok(fd) => {
                let st = nix::sys::stat::fstat(&fd).map_err(|e| format!("cannot stat /{path}: {}", crate::sys::Errno(e as i32)))?;
                if st.st_mode & libc::S_IFMT != libc::S_IFREG {
                    return Ok(None);
                }
                let mut b = Vec::new();
                File::from(fd).take(MAX_FILE).read_to_end(&mut b).map_err(|e| format!("cannot read /{path}: {e}"))?;
                Ok(Some(b))
            }
            Err(nix::errno::Errno::ENOENT) | Err(nix::errno::Errno::ENOTDIR) => Ok(None),
            Err(e) => Err(format!("cannot open /{path}: {}", crate::sys::Errno(e as i32))),
        },
        Source::Squashfs(r) => read_sqfs(r, path),
    }
}

/// `path` of the SquashFS image, symlinks resolved inside the image.
fn read_sqfs(r: &Reader, path: &str) -> Result<Option<Vec<u8>>, String> {
    let Some(node) = r.lookup(path.as_bytes())? else { return Ok(None) };
    let Kind::File(f) = &node.kind else { return Ok(None) };
    if f.size > MAX_FILE {
        return Err(format!("/{path} is larger than {MAX_FILE} bytes"));
    }
    let mut out = Vec::new();
    r.read(f, 0, f.size as u32, &mut out)?;
    Ok(Some(out))
}

/// The fields of the line of `file` whose first field is `name`.
fn find<'a>(file: &'a str, name: &str) -> Option<Vec<&'a str>> {
    file.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| f.len() >= 3 && f[0] == name)
}

fn id(s: &str) -> Option<u32> {
    s.parse::<u32>().ok().filter(|&n| n != u32::MAX)
}

/// Resolve `user` (`NAME`, `NAME:GROUP`, `UID:GROUP`, `NAME:GID`) in `image`'s files.
pub fn resolve(image: &str, src: &Source, user: &str) -> Result<UserIds, SetupError> {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    if u.is_empty() || g == Some("") {
        return Err(user_error(image, format_args!("the image's User {user:?} is not NAME[:GROUP] or UID[:GID]")));
    }
    let file = |path: &str| -> Result<Option<String>, SetupError> {
        read(src, path).map(|b| b.map(|b| String::from_utf8_lossy(&b).into_owned())).map_err(|why| user_error(image, why))
    };
    let (uid, primary) = match id(u) {
        Some(uid) => (uid, None),
        None => {
            let Some(passwd) = file("etc/passwd")? else {
                return Err(user_error(image, format_args!("the image's User {user:?} names the user {u:?}, and the image has no /etc/passwd")));
            };
            let Some(f) = find(&passwd, u) else {
                return Err(user_error(image, format_args!("the image's User {user:?} names the user {u:?}, which is not in the image's /etc/passwd")));
            };
            match (f.get(2).and_then(|s| id(s)), f.get(3).and_then(|s| id(s))) {
                (Some(uid), Some(gid)) => (uid, Some(gid)),
                _ => return Err(user_error(image, format_args!("the image's /etc/passwd line of {u:?} has no valid uid and gid"))),
            }
        }
    };
    let gid = match g {
        None => primary,
        Some(g) => match id(g) {
            Some(gid) => Some(gid),
            None => {
                let Some(group) = file("etc/group")? else {
                    return Err(user_error(image, format_args!("the image's User {user:?} names the group {g:?}, and the image has no /etc/group")));
                };
                let Some(f) = find(&group, g) else {
                    return Err(user_error(image, format_args!("the image's User {user:?} names the group {g:?}, which is not in the image's /etc/group")));
                };
                match f.get(2).and_then(|s| id(s)) {
                    Some(gid) => Some(gid),
                    None => return Err(user_error(image, format_args!("the image's /etc/group line of {g:?} has no valid gid"))),
                }
            }
        },
    };
    Ok(UserIds { uid, gid })
}

/// [`resolve`] for the image at `path` (a directory or a SquashFS file), as `inspect` opened it.
pub fn resolve_at(path: &str, fd: &std::os::fd::OwnedFd, squashfs: bool, user: &str) -> Result<UserIds, SetupError> {
    if !squashfs {
        return resolve(path, &Source::Dir(fd.as_fd()), user);
    }
    let file = File::from(fd.try_clone().map_err(|e| user_error(path, format_args!("cannot read the image: {e}")))?);
    let r = Reader::open(file).map_err(|why| SetupError::new(Code::ImageInvalid, format!("{path}: {why}")))?;
    resolve(path, &Source::Squashfs(&r), user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_need_the_image_files() {
        for named in ["app", "app:staff", "1000:staff", "app:100", "root:staff", "nobody:root"] {
            assert!(names_an_account(named), "{named}");
        }
        for plain in ["", "root", "root:root", "1000", "1000:100", "0:0"] {
            assert!(!names_an_account(plain), "{plain}");
        }
    }

    #[test]
    fn passwd_lines_are_matched_by_their_whole_first_field() {
        let passwd = "root:x:0:0::/root:/bin/sh\napplication:x:7:7::/:/bin/sh\napp:x:1000:100::/home/app:/bin/sh\n";
        assert_eq!(find(passwd, "app").map(|f| f[2]), Some("1000"));
        assert_eq!(find(passwd, "ap"), None);
        assert_eq!(find(passwd, "x"), None);
        assert_eq!(id("4294967295"), None);
        assert_eq!(id("-1"), None);
        assert_eq!(id("65534"), Some(65534));
    }
}
