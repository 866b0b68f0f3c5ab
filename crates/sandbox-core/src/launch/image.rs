//! Entry: `sandboxctl-init image import|pack|inspect …`, the native side of
//! the CLI's `image` commands (a process of its own, so Node never blocks on
//! a large tree and a crash takes nothing else down). Writes report lines
//! on stdout: `progress` lines with `--progress`, then the `image` line when
//! done, else an `error` line; exit 0 or 125. The work is image/import.rs,
//! image/pack.rs and image/inspect.rs.
//!
//!   image import SRC DEST [--force] [--platform OS/ARCH] [--progress]
//!   image pack DIR OUT.sqfs [--force] [--compression gzip|zstd|xz] [--progress]
//!   image inspect IMAGE [--meta-only]   (--meta-only: a directory is not walked)

use crate::error::{Code, Error, SetupError};
use crate::image::import::{import, ImportOptions};
use crate::image::inspect::inspect;
use crate::image::pack::{pack, PackOptions};
use crate::image::progress::Sink;
use crate::image::report::{ImageInfo, ImportCounts, ProgressInfo};
use crate::init::EXIT_SETUP;
use crate::report::Report;
use std::io::Write;

pub const USAGE: &str = "usage: sandboxctl-init image import SRC DEST [--force] [--platform OS/ARCH] [--progress] | pack DIR OUT.sqfs [--force] [--compression gzip|zstd|xz] [--progress] | inspect IMAGE [--meta-only]";

fn usage(msg: impl std::fmt::Display) -> SetupError {
    SetupError::new(Code::Usage, format!("{msg}")).with_hint(USAGE)
}

/// Positional arguments, and `--flag [value]` options as (name, value).
type Parsed<'a> = (Vec<&'a str>, Vec<(&'a str, Option<&'a str>)>);

fn parse<'a>(args: &'a [String], flags: &[&str], valued: &[&str]) -> Result<Parsed<'a>, SetupError> {
    let (mut pos, mut opts) = (Vec::new(), Vec::new());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            pos.extend(it.by_ref().map(String::as_str));
            break;
        }
        if let Some(name) = a.strip_prefix("--") {
            let (name, inline) = match name.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (name, None),
            };
            if flags.contains(&name) && inline.is_none() {
                opts.push((name, None));
            } else if valued.contains(&name) {
                let v = match inline {
                    Some(v) => v,
                    None => it.next().map(String::as_str).ok_or_else(|| usage(format_args!("--{name} needs a value")))?,
                };
                opts.push((name, Some(v)));
            } else {
                return Err(usage(format_args!("unknown option {a}")));
            }
        } else {
            pos.push(a.as_str());
        }
    }
    Ok((pos, opts))
}

/// With `--progress`: progress lines on stdout.
fn sink(opts: &[(&str, Option<&str>)]) -> Option<Sink> {
    opts.iter().any(|(n, _)| *n == "progress").then(|| {
        Box::new(|p: &ProgressInfo| {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(Report::Progress(p.clone()).line().as_bytes());
            let _ = out.flush();
        }) as Sink
    })
}

/// Run one `image` command.
pub fn run(args: &[String]) -> Result<ImageInfo, SetupError> {
    let Some((cmd, rest)) = args.split_first() else { return Err(usage("no image command")) };
    match cmd.as_str() {
        "import" => {
            let (pos, opts) = parse(rest, &["force", "progress"], &["platform"])?;
            let [src, dest] = pos.as_slice() else { return Err(usage("image import takes SRC and DEST")) };
            let o = ImportOptions {
                force: opts.iter().any(|(n, _)| *n == "force"),
                platform: opts.iter().find(|(n, _)| *n == "platform").and_then(|(_, v)| v.map(String::from)),
            };
            let (imported, packed) = import(src, dest, &o, sink(&opts))?;
            let mut info = inspect(dest, true)?;
            let s = &imported.stats;
            info.imported = Some(ImportCounts {
                layers: imported.layers,
                files: s.files,
                dirs: s.dirs,
                symlinks: s.symlinks,
                hardlinks: s.hardlinks,
                fifos: s.fifos,
                whiteouts: s.whiteouts,
                devices_skipped: s.devices_skipped,
                bytes: s.bytes,
            });
            info.packed = packed.map(|p| p.counts);
            Ok(info)
        }
        "pack" => {
            let (pos, opts) = parse(rest, &["force", "progress"], &["compression"])?;
            let [src, out] = pos.as_slice() else { return Err(usage("image pack takes DIR and OUT")) };
            let o = PackOptions {
                force: opts.iter().any(|(n, _)| *n == "force"),
                compression: opts.iter().find(|(n, _)| *n == "compression").and_then(|(_, v)| v.map(String::from)),
            };
            let packed = pack(src, out, &o, sink(&opts))?;
            let mut info = inspect(out, true)?;
            info.packed = Some(packed.counts);
            Ok(info)
        }
        "inspect" => {
            let (pos, opts) = parse(rest, &["meta-only"], &[])?;
            let [image] = pos.as_slice() else { return Err(usage("image inspect takes IMAGE")) };
            inspect(image, opts.is_empty())
        }
        other => Err(usage(format_args!("unknown image command {other:?}"))),
    }
}

/// `sandboxctl-init image ARGS`: report lines on stdout; the exit status.
pub fn main(args: &[String]) -> i32 {
    let line = match run(args) {
        Ok(info) => Ok(Report::Image(Box::new(info))),
        Err(e) => Err(Report::Error((&Error::Setup(e)).into())),
    };
    let (line, code) = match line {
        Ok(l) => (l, 0),
        Err(l) => (l, EXIT_SETUP),
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.line().as_bytes());
    let _ = out.flush();
    code
}
