//! overlay: an overlay filesystem from host layers. Three modes, as
//! bubblewrap and hakurei: `rw` (writes to a host upper dir, with a work dir
//! on the same filesystem), `tmp` (upper and work on a tmpfs in the
//! intermediate root: writes vanish with the sandbox) and `ro` (two or more
//! lowers, no writes). Layer paths are resolved in early and escaped for the
//! option string (`\`, `,` and `:` backslash-escaped). `userxattr` so it
//! mounts inside a user namespace.

use super::rootfs::HOST;
use super::{check_target, EarlyCx, OpProblem, RootFs, SetupOp};
use crate::check::check_abs;
use crate::error::{Code, SetupError};
use crate::plan::{OverlayMode, OverlayOp};
use crate::sys::{Errno, FileKind, MsFlags, Sys};
use std::fmt;

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

/// The layers, resolved in the host root and kept as escaped `/host` paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layers {
    pub lowers: Vec<String>,
    pub upper: Upper,
}

/// Where writes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upper {
    /// Nowhere: a read-only overlay.
    None,
    /// Host directories (mode `rw`).
    Host { upper: String, work: String },
    /// A tmpfs of the overlay's own in the intermediate root (mode `tmp`).
    Scratch,
}

impl SetupOp for OverlayOp {
    type Prepared = Layers;

    fn validate(&self) -> Result<(), OpProblem> {
        check_target(&self.target)?;
        for (i, l) in self.lowers.iter().enumerate() {
            check_abs(l).map_err(|r| OpProblem::new("lowers", format!("lowers[{i}]: {r}")))?;
        }
        match self.mode {
            OverlayMode::Rw => {
                if self.lowers.is_empty() {
                    return Err(OpProblem::new("lowers", "an overlay needs at least one lower layer"));
                }
                let upper = self.upper.as_deref().ok_or(OpProblem::new("upper", "mode rw needs an upper directory"))?;
                let work = self.work.as_deref().ok_or(OpProblem::new("work", "mode rw needs a work directory"))?;
                check_abs(upper).map_err(|r| OpProblem::new("upper", r))?;
                check_abs(work).map_err(|r| OpProblem::new("work", r))?;
            }
            OverlayMode::Tmp | OverlayMode::Ro => {
                if self.upper.is_some() || self.work.is_some() {
                    return Err(OpProblem::new("upper", "only mode rw takes upper and work"));
                }
                if self.lowers.is_empty() {
                    return Err(OpProblem::new("lowers", "an overlay needs at least one lower layer"));
                }
                if self.mode == OverlayMode::Ro && self.lowers.len() < 2 {
                    return Err(OpProblem::new("lowers", "a read-only overlay needs at least two lower layers"));
                }
            }
        }
        Ok(())
    }

    /// Host root: resolve every layer (symlinks followed, as hakurei's
    /// EvalSymlinks) and keep it as a /host path, escaped.
    fn early(&self, sys: &dyn Sys, _: &EarlyCx) -> Result<Layers, SetupError> {
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
        let lowers = self.lowers.iter().map(|l| resolve(l)).collect::<Result<Vec<_>, _>>()?;
        let upper = match (self.mode, &self.upper, &self.work) {
            (OverlayMode::Rw, Some(upper), Some(work)) => Upper::Host { upper: resolve(upper)?, work: resolve(work)? },
            (OverlayMode::Rw, _, _) => return Err(SetupError::new(Code::PlanInvalid, format!("overlay on {} in mode rw has no upper and work", self.target))),
            (OverlayMode::Tmp, _, _) => Upper::Scratch,
            (OverlayMode::Ro, _, _) => Upper::None,
        };
        Ok(Layers { lowers, upper })
    }

    fn apply(&self, layers: Layers, root: &mut RootFs) -> Result<(), SetupError> {
        let what = || format!("mount overlay on {}", self.target);
        let upper = match layers.upper {
            Upper::None => None,
            Upper::Host { upper, work } => Some((upper, work)),
            Upper::Scratch => {
                let dir = root.new_scratch("overlay").map_err(|(code, e)| SetupError::sys(code, what(), e))?;
                for sub in ["upper", "work"] {
                    root.scratch_dir(&format!("{dir}/{sub}"), 0o755).map_err(|e| SetupError::sys(Code::Setup, what(), e))?;
                }
                Some((format!("{dir}/upper"), format!("{dir}/work")))
            }
        };
        let mut data = Vec::new();
        if let Some((u, w)) = &upper {
            data.push(format!("upperdir={u}"));
            data.push(format!("workdir={w}"));
        }
        data.push(format!("lowerdir={}", layers.lowers.join(":")));
        data.push("userxattr".into());
        let flags = (libc::MS_NOSUID | libc::MS_NODEV) as MsFlags;
        root.mount_fs(&self.target, "overlay", flags, Some(&data.join(","))).map_err(|e| SetupError::sys(Code::Mount, what(), e))
    }
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
        let layers = || Layers { lowers: vec!["/host/l1".into(), "/host/a\\,b".into()], upper: Upper::Scratch };
        let mounted = |n: usize, fd: i32| {
            vec![
                call(format!("mkdir(\"/overlay.{n}\", 700)"), Ret::Ok),
                call(format!("mount(\"tmpfs\", \"/overlay.{n}\", \"tmpfs\", NOSUID|NODEV, \"mode=755\")"), Ret::Ok),
                call(format!("mkdir(\"/overlay.{n}/upper\", 755)"), Ret::Ok),
                call(format!("mkdir(\"/overlay.{n}/work\", 755)"), Ret::Ok),
                open_dir(3, "/app", fd),
                call(format!("mount(\"overlay\", \"/host/proc/self/fd/{fd}\", \"overlay\", NOSUID|NODEV, \"upperdir=/overlay.{n}/upper,workdir=/overlay.{n}/work,lowerdir=/host/l1:/host/a\\\\,b,userxattr\")"), Ret::Ok),
                close(fd),
            ]
        };
        // each tmp overlay gets a tmpfs of its own
        let s = Script::new([mounted(0, 5), mounted(1, 6)].concat());
        let mut root = RootFs::new(&s, 3);
        let o = op(OverlayMode::Tmp, &["/l1", "/a,b"]);
        o.apply(layers(), &mut root).unwrap();
        o.apply(layers(), &mut root).unwrap();
        s.done();
        let s = Script::new(vec![
            call("mkdir(\"/overlay.0\", 700)", Ret::Ok),
            call("mount(\"tmpfs\", \"/overlay.0\", \"tmpfs\", NOSUID|NODEV, \"mode=755\")", Ret::Err(10_024)),
        ]);
        let e = o.apply(layers(), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (Code::Mount, "cannot mount overlay on /app: error 10024"));
        s.done();
        let s = Script::new(vec![
            call("mkdir(\"/overlay.0\", 700)", Ret::Ok),
            call("mount(\"tmpfs\", \"/overlay.0\", \"tmpfs\", NOSUID|NODEV, \"mode=755\")", Ret::Ok),
            call("mkdir(\"/overlay.0/upper\", 755)", Ret::Err(10_025)),
        ]);
        let e = o.apply(layers(), &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (Code::Setup, "cannot mount overlay on /app: error 10025"));
        s.done();
    }

    #[test]
    fn read_only_overlay_has_no_upper() {
        let layers = Layers { lowers: vec!["/host/a".into(), "/host/b".into()], upper: Upper::None };
        let s = Script::new(vec![
            open_dir(3, "/app", 5),
            call("mount(\"overlay\", \"/host/proc/self/fd/5\", \"overlay\", NOSUID|NODEV, \"lowerdir=/host/a:/host/b,userxattr\")", Ret::Err(10_010)),
            close(5),
        ]);
        let e = op(OverlayMode::Ro, &["/a", "/b"]).apply(layers, &mut RootFs::new(&s, 3)).unwrap_err();
        assert_eq!(e.message, "cannot mount overlay on /app: error 10010");
        s.done();
    }

    #[test]
    fn validation_per_mode() {
        assert!(op(OverlayMode::Ro, &["/a"]).validate().is_err());
        assert!(op(OverlayMode::Tmp, &[]).validate().is_err());
        assert_eq!(op(OverlayMode::Rw, &["/a"]).validate().unwrap_err().field, "upper");
        assert_eq!(op(OverlayMode::Tmp, &["rel"]).validate().unwrap_err(), OpProblem::new("lowers", "lowers[0]: path rel is not absolute"));
        let mut o = op(OverlayMode::Tmp, &["/a"]);
        o.upper = Some("/u".into());
        assert!(o.validate().is_err());
        let mut o = op(OverlayMode::Rw, &["/a"]);
        o.upper = Some("/u".into());
        assert_eq!(o.validate().unwrap_err().field, "work");
        o.work = Some("/w".into());
        assert!(o.validate().is_ok());
        assert_eq!(o.to_string(), "writable overlay on /app of /a (upper /u, work /w)");
    }

    #[test]
    fn early_resolves_each_layer_in_the_host_root() {
        let mut o = op(OverlayMode::Rw, &["/"]);
        o.upper = Some("/".into());
        o.work = Some("/".into());
        let s = Script::new(vec![
            call("stat(\"/\")", Ret::Kind(FileKind::Dir)),
            call("stat(\"/\")", Ret::Kind(FileKind::Dir)),
            call("stat(\"/\")", Ret::Kind(FileKind::Dir)),
        ]);
        let layers = o.early(&s, &cx()).unwrap();
        s.done();
        assert_eq!(layers, Layers { lowers: vec!["/host/".into()], upper: Upper::Host { upper: "/host/".into(), work: "/host/".into() } });
        let s = Script::new(vec![call("stat(\"/\")", Ret::Kind(FileKind::File))]);
        assert_eq!(op(OverlayMode::Tmp, &["/"]).early(&s, &cx()).unwrap_err().message, "overlay layer / is not a directory");
        s.done();
        let s = Script::new(vec![call("stat(\"/\")", Ret::Err(10_026))]);
        assert_eq!(op(OverlayMode::Tmp, &["/"]).early(&s, &cx()).unwrap_err().message, "cannot use overlay layer /: error 10026");
        s.done();
        let s = Script::new(Vec::<Call>::new());
        assert_eq!(op(OverlayMode::Tmp, &["/nonexistent-sandboxctl"]).early(&s, &cx()).unwrap_err().code, Code::SourceMissing);
        let s = Script::new(vec![call("stat(\"/\")", Ret::Kind(FileKind::Dir))]);
        assert_eq!(op(OverlayMode::Tmp, &["/"]).early(&s, &cx()).unwrap(), Layers { lowers: vec!["/host/".into()], upper: Upper::Scratch });
        // mode rw without its directories never reaches early; if it did, it is refused, not guessed
        let s = Script::new(vec![call("stat(\"/\")", Ret::Kind(FileKind::Dir))]);
        assert_eq!(op(OverlayMode::Rw, &["/"]).early(&s, &cx()).unwrap_err().code, Code::PlanInvalid);
    }
}
