//! passwd: a synthesized /etc/passwd and /etc/group for the sandbox's uid
//! and gid, as charliecloud's ch-run: root and nobody, plus the sandbox user
//! with the host's name for that uid when it has one (read from the host's
//! files in early; LDAP users get a stand-in name). Placed read-only like
//! the file op.

use super::{check_target, EarlyCx, OpProblem, RootFs, SetupOp};
use crate::error::SetupError;
use crate::plan::{PasswdOp, PasswdStyle};
use crate::sys::Sys;
use std::fmt;

fn lookup(db: &str, id: u32, id_field: usize) -> Option<Vec<String>> {
    db.lines().map(|l| l.split(':').map(String::from).collect::<Vec<_>>()).find(|f| f.len() > id_field && f[id_field] == id.to_string())
}

/// The two files' contents for `uid`/`gid` given the host's databases, in
/// the given form (ch-run's passwd_setup for `ChRun`).
pub fn synthesize_as(style: PasswdStyle, uid: u32, gid: u32, home: &str, host_passwd: &str, host_group: &str) -> (String, String) {
    let chrun = style == PasswdStyle::ChRun;
    let mut passwd = String::new();
    if uid != 0 {
        passwd.push_str("root:x:0:0:root:/root:/bin/sh\n");
    }
    if uid != 65534 {
        passwd.push_str(if chrun { "nobody:x:65534:65534:nobody:/:/bin/false\n" } else { "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n" });
    }
    let (name, gecos) = match lookup(host_passwd, uid, 2) {
        Some(f) => (f[0].clone(), f.get(4).cloned().unwrap_or_default()),
        None if uid == 0 => ("root".into(), "root".into()),
        None if chrun => ("charlie".into(), "Charlie".into()),
        None => ("sandbox".into(), "sandbox user".into()),
    };
    passwd.push_str(&format!("{name}:x:{uid}:{gid}:{gecos}:{home}:/bin/sh\n"));
    let mut group = String::new();
    if gid != 0 {
        group.push_str("root:x:0:\n");
    }
    if gid != 65534 {
        group.push_str("nogroup:x:65534:\n");
    }
    let gname = match lookup(host_group, gid, 2) {
        Some(f) => f[0].clone(),
        None if gid == 0 => "root".into(),
        None if chrun => "charliegroup".into(),
        None => "sandbox".into(),
    };
    group.push_str(&format!("{gname}:x:{gid}:\n"));
    (passwd, group)
}

/// The two files the sandbox gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Databases {
    pub passwd: String,
    pub group: String,
}

impl SetupOp for PasswdOp {
    type Prepared = Databases;

    fn validate(&self) -> Result<(), OpProblem> {
        check_target(&self.target)?;
        match &self.home {
            Some(home) => {
                crate::check::check_abs(home).map_err(|r| OpProblem::new("home", r))?;
                // a field of the passwd line: a ':' or a newline would forge another
                if home.contains([':', '\n']) {
                    return Err(OpProblem::new("home", format!("home {home:?} contains ':' or a newline")));
                }
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Host root: read the host's databases (a missing or unreadable one
    /// is an empty one) and build both files.
    fn early(&self, sys: &dyn Sys, cx: &EarlyCx) -> Result<Databases, SetupError> {
        let read = |p: &str| sys.read_file(p).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        let (passwd, group) = synthesize_as(self.style, cx.uid, cx.gid, self.home.as_deref().unwrap_or("/"), &read("/etc/passwd"), &read("/etc/group"));
        Ok(Databases { passwd, group })
    }

    fn apply(&self, db: Databases, root: &mut RootFs) -> Result<(), SetupError> {
        let t = self.target.trim_end_matches('/');
        root.place_file(&format!("{t}/passwd"), db.passwd.as_bytes(), 0o444)?;
        root.place_file(&format!("{t}/group"), db.group.as_bytes(), 0o444)
    }
}

impl fmt::Display for PasswdOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "synthesized passwd and group in {}", self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST_PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice A,,,:/home/alice:/bin/bash\n";
    const HOST_GROUP: &str = "root:x:0:\nalice:x:1000:\n";

    #[test]
    fn chrun_style_is_ch_runs_lines() {
        let (p, g) = synthesize_as(PasswdStyle::ChRun, 1000, 1000, "/", HOST_PASSWD, HOST_GROUP);
        assert_eq!(p, "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\nalice:x:1000:1000:Alice A,,,:/:/bin/sh\n");
        assert_eq!(g, "root:x:0:\nnogroup:x:65534:\nalice:x:1000:\n");
        let (p, g) = synthesize_as(PasswdStyle::ChRun, 4242, 4243, "/", HOST_PASSWD, HOST_GROUP);
        assert_eq!(p, "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\ncharlie:x:4242:4243:Charlie:/:/bin/sh\n");
        assert_eq!(g, "root:x:0:\nnogroup:x:65534:\ncharliegroup:x:4243:\n");
        // As root: no separate root line, the user's own is root's.
        let (p, g) = synthesize_as(PasswdStyle::ChRun, 0, 0, "/", HOST_PASSWD, HOST_GROUP);
        assert_eq!(p, "nobody:x:65534:65534:nobody:/:/bin/false\nroot:x:0:0:root:/:/bin/sh\n");
        assert_eq!(g, "nogroup:x:65534:\nroot:x:0:\n");
    }

    #[test]
    fn known_user_keeps_the_hosts_name() {
        let (p, g) = synthesize_as(PasswdStyle::Sandbox, 1000, 1000, "/home/alice", HOST_PASSWD, HOST_GROUP);
        assert_eq!(
            p,
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nalice:x:1000:1000:Alice A,,,:/home/alice:/bin/sh\n"
        );
        assert_eq!(g, "root:x:0:\nnogroup:x:65534:\nalice:x:1000:\n");
    }

    #[test]
    fn unknown_and_root_users() {
        let (p, _) = synthesize_as(PasswdStyle::Sandbox, 4242, 4242, "/", HOST_PASSWD, HOST_GROUP);
        assert!(p.ends_with("sandbox:x:4242:4242:sandbox user:/:/bin/sh\n"), "{p}");
        let (p, g) = synthesize_as(PasswdStyle::Sandbox, 0, 0, "/root", HOST_PASSWD, HOST_GROUP);
        assert_eq!(p.lines().filter(|l| l.starts_with("root:")).count(), 1);
        assert_eq!(g.lines().filter(|l| l.starts_with("root:")).count(), 1);
    }

    #[test]
    fn early_reads_the_hosts_databases_and_apply_places_both_files() {
        use super::super::testutil::*;
        use crate::sys::script::{Ret, Script};
        let o = PasswdOp { target: "/etc".into(), home: Some("/home/alice".into()), style: PasswdStyle::Sandbox };
        let s = Script::new(vec![
            call("read_file(\"/etc/passwd\")", Ret::Bytes(HOST_PASSWD.as_bytes().to_vec())),
            call("read_file(\"/etc/group\")", Ret::Err(libc::EACCES)),
        ]);
        let db = o.early(&s, &cx()).unwrap();
        s.done();
        assert!(db.passwd.ends_with("alice:x:1000:1000:Alice A,,,:/home/alice:/bin/sh\n"), "{}", db.passwd);
        assert_eq!(db.group, "root:x:0:\nnogroup:x:65534:\nsandbox:x:1000:\n");
        let placed = |name: &str, data: &str, fd: i32| {
            [
                vec![
                    call("mkdir(\"/files/etc\", 755)", Ret::Err(libc::EEXIST)),
                    call(format!("unlink(\"/files/etc/{name}\")"), Ret::Err(libc::ENOENT)),
                    call(format!("create_file(\"/files/etc/{name}\", {data:?}, 444)"), Ret::Ok),
                    open_any(3, &format!("/etc/{name}"), Ret::Fd(fd)),
                    call(format!("mount(\"/files/etc/{name}\", \"/host/proc/self/fd/{fd}\", -, BIND, -)"), Ret::Ok),
                    close(fd),
                ],
                setattr(3, &format!("/etc/{name}"), fd + 1, false, "RDONLY|NOSUID|NODEV"),
            ]
            .concat()
        };
        let s = Script::new(
            [
                vec![call("mkdir(\"/files\", 700)", Ret::Ok), call("mount(\"tmpfs\", \"/files\", \"tmpfs\", NOSUID|NODEV, \"mode=755\")", Ret::Ok)],
                placed("passwd", &db.passwd, 5),
                placed("group", &db.group, 7),
            ]
            .concat(),
        );
        o.apply(db, &mut RootFs::new(&s, 3)).unwrap();
        s.done();
        assert_eq!(o.to_string(), "synthesized passwd and group in /etc");
        assert_eq!(PasswdOp { target: "/etc".into(), home: Some("rel".into()), style: PasswdStyle::Sandbox }.validate().unwrap_err().field, "home");
        assert_eq!(PasswdOp { target: "/etc".into(), home: Some("/a:b".into()), style: PasswdStyle::Sandbox }.validate().unwrap_err().field, "home");
        assert_eq!(PasswdOp { target: "/etc".into(), home: None, style: PasswdStyle::ChRun }.validate(), Ok(()));
    }
}
