//! autoetc: the host's /etc in the sandbox as hakurei does it: the whole of
//! it bound read-only at `<target>/.host`, and in `<target>` one relative
//! symlink per entry, so the sandbox can still place its own files (passwd,
//! group, hosts…) beside them. passwd and group are left out (see the passwd
//! op); mtab points at /proc/mounts.

use super::*;
use crate::plan::{AutoetcOp, BindOp};

/// Host root: list /etc.
pub fn early(sys: &dyn Sys) -> Result<Fact, SetupError> {
    let names = sys.read_dir("/etc").map_err(|e| SetupError::sys(Code::Mount, "list /etc", e))?;
    Ok(Fact::Entries(names.into_iter().map(|n| (n, FileKind::Other, None)).collect()))
}

pub fn apply(o: &AutoetcOp, sys: &dyn Sys, st: &mut State, fact: &Fact) -> Result<(), SetupError> {
    let t = o.target.trim_end_matches('/');
    let hidden = format!("{t}/.host");
    let bind =
        BindOp { source: "/etc".into(), source_fd: None, target: hidden, writable: false, device: false, optional: false, ensure: false, recursive: true };
    super::bind::apply(&bind, sys, st, &Fact::Source(FileKind::Dir))?;
    let Fact::Entries(entries) = fact else { return Ok(()) };
    let what = || format!("populate {t}");
    let dfd = sys.open_in_root(st.root, t, libc::O_DIRECTORY).map_err(|e| fail(st, Code::Setup, what(), e))?;
    let mut r = Ok(());
    for (name, _, _) in entries {
        if matches!(name.as_str(), ".host" | "passwd" | "group") {
            continue;
        }
        let link = if name == "mtab" { "/proc/mounts".to_string() } else { format!(".host/{name}") };
        if let Err(e) = sys.symlinkat(&link, dfd, name) {
            // An earlier op may have placed its own file there: it wins.
            if e.0 != libc::EEXIST {
                r = Err(fail(st, Code::Setup, format!("create symlink {t}/{name} -> {link}"), e));
                break;
            }
        }
    }
    let _ = sys.close(dfd);
    r
}

impl fmt::Display for AutoetcOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host /etc on {} through per-entry symlinks", self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::sys::script::{Ret, Script};

    #[test]
    fn binds_etc_and_links_each_entry() {
        let s = Script::new(vec![call("read_dir(\"/etc\")", Ret::Names(vec!["group".into(), "hosts".into(), "mtab".into(), "passwd".into()]))]);
        let fact = early(&s).unwrap();
        s.done();
        let s = Script::new(
            [
                vec![open_dir(3, "/etc/.host", 5), call("mount(\"/host/etc\", \"/host/proc/self/fd/5\", -, BIND|REC, -)", Ret::Ok), close(5)],
                setattr(3, "/etc/.host", 6, true, "RDONLY|NOSUID|NODEV"),
                vec![
                    open_dir(3, "/etc", 7),
                    call("symlinkat(\".host/hosts\", 7, \"hosts\")", Ret::Ok),
                    call("symlinkat(\"/proc/mounts\", 7, \"mtab\")", Ret::Err(libc::EEXIST)),
                    close(7),
                ],
            ]
            .concat(),
        );
        apply(&AutoetcOp { target: "/etc".into() }, &s, &mut State::test(3, 0), &fact).unwrap();
        s.done();
    }
}
