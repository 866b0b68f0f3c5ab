//! passwd: a synthesized /etc/passwd and /etc/group for the sandbox's uid
//! and gid, as charliecloud's ch-run: root and nobody, plus the sandbox user
//! with the host's name for that uid when it has one (read from the host's
//! files in early; LDAP users get a stand-in name). Placed read-only like
//! the file op.

use super::*;
use crate::plan::PasswdOp;

fn lookup(db: &str, id: u32, id_field: usize) -> Option<Vec<String>> {
    db.lines().map(|l| l.split(':').map(String::from).collect::<Vec<_>>()).find(|f| f.len() > id_field && f[id_field] == id.to_string())
}

/// The two files' contents for `uid`/`gid` given the host's databases.
pub fn synthesize(uid: u32, gid: u32, home: &str, host_passwd: &str, host_group: &str) -> (String, String) {
    let mut passwd = String::new();
    if uid != 0 {
        passwd.push_str("root:x:0:0:root:/root:/bin/sh\n");
    }
    if uid != 65534 {
        passwd.push_str("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
    }
    let (name, gecos) = match lookup(host_passwd, uid, 2) {
        Some(f) => (f[0].clone(), f.get(4).cloned().unwrap_or_default()),
        None if uid == 0 => ("root".into(), "root".into()),
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
        None => "sandbox".into(),
    };
    group.push_str(&format!("{gname}:x:{gid}:\n"));
    (passwd, group)
}

/// Host root: read the host's databases and build both files.
pub fn early(o: &PasswdOp, sys: &dyn Sys, st: &State) -> Result<Fact, SetupError> {
    let read = |p: &str| sys.read_file(p).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let (p, g) = synthesize(st.uid, st.gid, o.home.as_deref().unwrap_or("/"), &read("/etc/passwd"), &read("/etc/group"));
    let mut data = p.into_bytes();
    data.push(0);
    data.extend_from_slice(g.as_bytes());
    Ok(Fact::Data(data))
}

pub fn apply(o: &PasswdOp, sys: &dyn Sys, st: &mut State, fact: &Fact) -> Result<(), SetupError> {
    let Fact::Data(data) = fact else { return Ok(()) };
    let cut = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let t = o.target.trim_end_matches('/');
    super::file::place(sys, st, &format!("{t}/passwd"), &data[..cut], 0o444)?;
    super::file::place(sys, st, &format!("{t}/group"), data.get(cut + 1..).unwrap_or(&[]), 0o444)
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
    fn known_user_keeps_the_hosts_name() {
        let (p, g) = synthesize(1000, 1000, "/home/alice", HOST_PASSWD, HOST_GROUP);
        assert_eq!(
            p,
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nalice:x:1000:1000:Alice A,,,:/home/alice:/bin/sh\n"
        );
        assert_eq!(g, "root:x:0:\nnogroup:x:65534:\nalice:x:1000:\n");
    }

    #[test]
    fn unknown_and_root_users() {
        let (p, _) = synthesize(4242, 4242, "/", HOST_PASSWD, HOST_GROUP);
        assert!(p.ends_with("sandbox:x:4242:4242:sandbox user:/:/bin/sh\n"), "{p}");
        let (p, g) = synthesize(0, 0, "/root", HOST_PASSWD, HOST_GROUP);
        assert_eq!(p.lines().filter(|l| l.starts_with("root:")).count(), 1);
        assert_eq!(g.lines().filter(|l| l.starts_with("root:")).count(), 1);
    }
}
