//! overlay: an overlay filesystem from host layers. Three modes, as
//! bubblewrap and hakurei: `rw` (writes to a host upper dir, with a work dir
//! on the same filesystem), `tmp` (upper and work on a tmpfs in the
//! intermediate root: writes vanish with the sandbox) and `ro` (two or more
//! lowers, no writes). Layer paths are resolved in early and escaped for the
//! option string (`\`, `,` and `:` backslash-escaped). `userxattr` so it
//! mounts inside a user namespace.

use super::*;
use crate::plan::{OverlayMode, OverlayOp};

pub fn validate(o: &OverlayOp) -> Result<(), (&'static str, String)> {
    for (i, l) in o.lowers.iter().enumerate() {
        crate::validate::check_abs(l).map_err(|r| ("lowers", format!("lowers[{i}]: {r}")))?;
    }
    match o.mode {
        OverlayMode::Rw => {
            if o.lowers.is_empty() {
                return Err(("lowers", "an overlay needs at least one lower layer".into()));
            }
            let upper = o.upper.as_deref().ok_or(("upper", "mode rw needs an upper directory".to_string()))?;
            let work = o.work.as_deref().ok_or(("work", "mode rw needs a work directory".to_string()))?;
            crate::validate::check_abs(upper).map_err(|r| ("upper", r))?;
            crate::validate::check_abs(work).map_err(|r| ("work", r))?;
        }
        OverlayMode::Tmp | OverlayMode::Ro => {
            if o.upper.is_some() || o.work.is_some() {
                return Err(("upper", "only mode rw takes upper and work".into()));
            }
            if o.lowers.is_empty() {
                return Err(("lowers", "an overlay needs at least one lower layer".into()));
            }
            if o.mode == OverlayMode::Ro && o.lowers.len() < 2 {
                return Err(("lowers", "a read-only overlay needs at least two lower layers".into()));
            }
        }
    }
    Ok(())
}

/// Escape a path for overlayfs' option parser.
pub fn escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if matches!(c, '\\' | ',' | ':') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Host root: resolve every layer (symlinks followed, as hakurei's
/// EvalSymlinks) and keep it as a /host path, escaped.
pub fn early(o: &OverlayOp, sys: &dyn Sys) -> Result<Fact, SetupError> {
    let resolve = |p: &str| -> Result<String, SetupError> {
        match std::fs::canonicalize(p) {
            Ok(r) => match sys.stat(&r.to_string_lossy()) {
                Ok(FileKind::Dir) => Ok(escape(&format!("{HOST}{}", r.to_string_lossy()))),
                Ok(_) => Err(SetupError::new(Code::Mount, format!("overlay layer {p} is not a directory"))),
                Err(e) => Err(SetupError::sys(Code::Mount, format_args!("use overlay layer {p}"), e)),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(SetupError::new(Code::SourceMissing, format!("overlay layer {p} does not exist"))),
            Err(e) => Err(SetupError::sys(Code::Mount, format_args!("resolve overlay layer {p}"), Errno::from_io(&e))),
        }
    };
    let lowers = o.lowers.iter().map(|l| resolve(l)).collect::<Result<Vec<_>, _>>()?;
    let upper = o.upper.as_deref().map(resolve).transpose()?;
    let work = o.work.as_deref().map(resolve).transpose()?;
    Ok(Fact::Overlay { lowers, upper, work })
}

pub fn apply(o: &OverlayOp, sys: &dyn Sys, st: &mut State, fact: &Fact) -> Result<(), SetupError> {
    let what = || format!("mount overlay on {}", o.target);
    let Fact::Overlay { lowers, upper, work } = fact else {
        return Err(fail(st, Code::Mount, what(), Errno(libc::EINVAL)));
    };
    let (upper, work) = match o.mode {
        OverlayMode::Rw => (upper.clone(), work.clone()),
        OverlayMode::Ro => (None, None),
        OverlayMode::Tmp => {
            // A tmpfs of its own in the intermediate root holds upper and work.
            let dir = format!("/overlay.{}", st.index);
            sys.mkdir(&dir, 0o700).map_err(|e| fail(st, Code::Setup, what(), e))?;
            let flags = (libc::MS_NOSUID | libc::MS_NODEV) as MsFlags;
            sys.mount(Some("tmpfs"), &dir, Some("tmpfs"), flags, Some("mode=755")).map_err(|e| fail(st, Code::Mount, what(), e))?;
            for sub in ["upper", "work"] {
                sys.mkdir(&format!("{dir}/{sub}"), 0o755).map_err(|e| fail(st, Code::Setup, what(), e))?;
            }
            (Some(format!("{dir}/upper")), Some(format!("{dir}/work")))
        }
    };
    let mut data = Vec::new();
    if let (Some(u), Some(w)) = (&upper, &work) {
        data.push(format!("upperdir={u}"));
        data.push(format!("workdir={w}"));
    }
    data.push(format!("lowerdir={}", lowers.join(":")));
    data.push("userxattr".into());
    let data = data.join(",");
    let fd = mkdir_all(sys, st.root, &o.target, 0o755).map_err(|e| fail(st, Code::Mount, what(), e))?;
    let flags = (libc::MS_NOSUID | libc::MS_NODEV) as MsFlags;
    mount_on(sys, st, &o.target, fd, Some("overlay"), Some("overlay"), flags, Some(&data)).map_err(|e| fail(st, Code::Mount, what(), e))
}

impl fmt::Display for OverlayOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            OverlayMode::Rw => "writable",
            OverlayMode::Tmp => "throwaway-writable",
            OverlayMode::Ro => "read-only",
        };
        write!(f, "{mode} overlay on {} of {}", self.target, self.lowers.join(", "))?;
        if let (Some(u), Some(w)) = (&self.upper, &self.work) {
            write!(f, " (upper {u}, work {w})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::sys::script::{Ret, Script};

    fn op(mode: OverlayMode, lowers: &[&str]) -> OverlayOp {
        OverlayOp { target: "/app".into(), lowers: lowers.iter().map(|s| s.to_string()).collect(), mode, upper: None, work: None }
    }

    #[test]
    fn escapes_the_option_separators() {
        assert_eq!(escape("/a,b:c\\d"), "/a\\,b\\:c\\\\d");
        assert_eq!(escape("/plain"), "/plain");
    }

    #[test]
    fn tmp_overlay_puts_upper_and_work_on_a_tmpfs() {
        let fact = Fact::Overlay { lowers: vec!["/host/l1".into(), "/host/a\\,b".into()], upper: None, work: None };
        let s = Script::new(vec![
            call("mkdir(\"/overlay.2\", 700)", Ret::Ok),
            call("mount(\"tmpfs\", \"/overlay.2\", \"tmpfs\", NOSUID|NODEV, \"mode=755\")", Ret::Ok),
            call("mkdir(\"/overlay.2/upper\", 755)", Ret::Ok),
            call("mkdir(\"/overlay.2/work\", 755)", Ret::Ok),
            open_dir(3, "/app", 5),
            call("mount(\"overlay\", \"/host/proc/self/fd/5\", \"overlay\", NOSUID|NODEV, \"upperdir=/overlay.2/upper,workdir=/overlay.2/work,lowerdir=/host/l1:/host/a\\\\,b,userxattr\")", Ret::Ok),
            close(5),
        ]);
        apply(&op(OverlayMode::Tmp, &["/l1", "/a,b"]), &s, &mut State::test(3, 2), &fact).unwrap();
        s.done();
    }

    #[test]
    fn read_only_overlay_has_no_upper() {
        let fact = Fact::Overlay { lowers: vec!["/host/a".into(), "/host/b".into()], upper: None, work: None };
        let s = Script::new(vec![
            open_dir(3, "/app", 5),
            call("mount(\"overlay\", \"/host/proc/self/fd/5\", \"overlay\", NOSUID|NODEV, \"lowerdir=/host/a:/host/b,userxattr\")", Ret::Err(10_010)),
            close(5),
        ]);
        let e = apply(&op(OverlayMode::Ro, &["/a", "/b"]), &s, &mut State::test(3, 0), &fact).unwrap_err();
        assert_eq!(e.message, "cannot mount overlay on /app: error 10010");
        s.done();
    }

    #[test]
    fn validation_per_mode() {
        assert!(validate(&op(OverlayMode::Ro, &["/a"])).is_err());
        assert!(validate(&op(OverlayMode::Tmp, &[])).is_err());
        assert_eq!(validate(&op(OverlayMode::Rw, &["/a"])).unwrap_err().0, "upper");
        let mut o = op(OverlayMode::Tmp, &["/a"]);
        o.upper = Some("/u".into());
        assert!(validate(&o).is_err());
        let mut o = op(OverlayMode::Rw, &["/a"]);
        o.upper = Some("/u".into());
        o.work = Some("/w".into());
        assert!(validate(&o).is_ok());
        assert_eq!(o.to_string(), "writable overlay on /app of /a (upper /u, work /w)");
    }
}
