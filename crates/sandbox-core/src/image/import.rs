//! `image import SRC DEST`: an OCI image layout directory, an OCI archive
//! (a tar of one: `podman save --format oci-archive`) or a `docker save`
//! archive (`podman save --format docker-archive`) into a directory image,
//! or a SquashFS image when DEST ends in `.sqfs` or `.squashfs`.
//!
//! Order, so that bad input leaves nothing behind: DEST is checked
//! (`E_IMAGE_EXISTS` unless `force`), the source read and its manifest and
//! config parsed, then the layers are applied in order into a staging
//! directory beside DEST (`.NAME.import-XXXXXX`, removed on any failure)
//! through `archive::safe_extract` (whiteouts, opaque directories, nothing
//! outside). Each blob is checked while it streams: an OCI blob against its
//! digest, a docker layer against the config's `diff_ids`. The config's
//! defaults are written into the image (image/meta.rs), then the staging
//! directory is renamed to DEST or packed into it. Members of an archive
//! are read in place (`pread` of the offsets an index pass found), never
//! unpacked to disk first; nothing a manifest names is used as a host path
//! (blob names are checked to be `sha256:` and 64 hex digits, or looked up
//! among the archive's own members).

use super::meta::ImageMeta;
use super::progress::{Meter, Shared, Sink};
use crate::archive::safe_extract::{self, Options, Parents, Stats};
use crate::error::{Code, SetupError};
use nix::errno::Errno;
use nix::fcntl::{self, OFlag, RenameFlags};
use nix::sys::stat::{self, Mode};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The largest JSON document (index, manifest, config) read.
const MAX_JSON: u64 = 16 << 20;

fn invalid(msg: impl Into<String>) -> SetupError {
    SetupError::new(Code::ImageInvalid, msg)
}

fn io_err(what: impl std::fmt::Display, e: &io::Error) -> SetupError {
    invalid(format!("cannot {what}: {}", crate::sys::Errno::from_io(e)))
}

/// What to do.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Replace an existing DEST.
    pub force: bool,
    /// `os/arch[/variant]` of the manifest to take from a multi-platform
    /// index; default the host's.
    pub platform: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    pub layers: u32,
    pub stats: Stats,
    pub meta: ImageMeta,
}

/// Where the source's members are.
enum Store {
    /// An OCI layout directory.
    Dir(OwnedFd),
    /// A tar archive: member name (without `./`) → (data offset, size).
    Tar { file: File, members: HashMap<String, (u64, u64)> },
}

/// A member of an archive, read with pread.
struct Section<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for Section<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min((self.end - self.pos) as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// A reader that hashes what passes through it (and counts it, for progress).
struct Hashing<R> {
    inner: R,
    hash: Rc<RefCell<Sha256>>,
    meter: Option<Shared>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.borrow_mut().update(&buf[..n]);
        if let Some(m) = &self.meter {
            m.borrow_mut().add(0, n as u64);
        }
        Ok(n)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `sha256:` and 64 lower-case hex digits, or why not.
fn check_digest(d: &str) -> Result<&str, SetupError> {
    match d.strip_prefix("sha256:") {
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) => Ok(h),
        _ => Err(invalid(format!("digest {d:?} is not sha256: and 64 hex digits"))),
    }
}

fn normalize(name: &str) -> String {
    name.trim_start_matches("./").to_string()
}

impl Store {
    fn open_source(src: &str) -> Result<(Store, &'static str), SetupError> {
        let fd = fcntl::open(src, OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY, Mode::empty())
            .map_err(|e| invalid(format!("cannot open {src}: {}", crate::sys::Errno(e as i32))))?;
        let st = stat::fstat(&fd).map_err(|e| invalid(format!("cannot stat {src}: {}", crate::sys::Errno(e as i32))))?;
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            let store = Store::Dir(fd);
            if !store.has("oci-layout") || !store.has("index.json") {
                return Err(invalid(format!("{src}: a directory but not an OCI image layout (no oci-layout and index.json)")));
            }
            return Ok((store, "oci-layout"));
        }
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(invalid(format!("{src}: not an OCI layout directory or an image archive (a device, fifo or socket)")));
        }
        let file = File::from(fd);
        let mut head = [0u8; 512];
        let n = file.read_at(&mut head, 0).map_err(|e| io_err(format_args!("read {src}"), &e))?;
        let compressed = match head[..n.min(4)] {
            [0x1f, 0x8b, ..] => Some("gzip"),
            [0x28, 0xb5, 0x2f, 0xfd] => Some("zstd"),
            [0xfd, b'7', b'z', b'X'] => Some("xz"),
            _ => None,
        };
        if let Some(c) = compressed {
            return Err(invalid(format!("{src}: a {c}-compressed file; decompress it first (an image archive is a plain tar)")));
        }
        if n < 512 || &head[257..262] != b"ustar" {
            let magic: Vec<String> = head[..n.min(4)].iter().map(|b| format!("{b:02x}")).collect();
            return Err(invalid(format!("{src}: not an OCI layout directory or an image archive (not a tar: magic {})", magic.join(" "))));
        }
        let mut members = HashMap::new();
        let mut links = HashMap::new();
        let mut ar = tar::Archive::new(&file);
        let bad = |e: io::Error| invalid(format!("{src}: not a readable tar: {e}"));
        for entry in ar.entries().map_err(bad)? {
            let entry = entry.map_err(bad)?;
            let name = normalize(&String::from_utf8_lossy(&entry.path_bytes()));
            if entry.header().entry_type().is_file() {
                members.insert(name, (entry.raw_file_position(), entry.size()));
            } else if entry.header().entry_type().is_symlink() {
                // docker save's `ID/layer.tar -> ../DIGEST.tar`: resolved among the members.
                if let Some(target) = entry.link_name_bytes() {
                    links.insert(name, String::from_utf8_lossy(&target).into_owned());
                }
            }
        }
        // A link resolves to a member (never a host path); up to 8 hops.
        for (name, target) in &links {
            let (mut at, mut to) = (name.clone(), target.clone());
            for _ in 0..8 {
                let base = at.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
                let mut parts: Vec<&str> = if to.starts_with('/') { Vec::new() } else { base.split('/').filter(|p| !p.is_empty()).collect() };
                for p in to.split('/') {
                    match p {
                        "" | "." => {}
                        ".." => {
                            parts.pop();
                        }
                        p => parts.push(p),
                    }
                }
                let resolved = parts.join("/");
                if let Some(&m) = members.get(&resolved) {
                    members.insert(name.clone(), m);
                    break;
                }
                match links.get(&resolved) {
                    Some(next) => (at, to) = (resolved, next.clone()),
                    None => break,
                }
            }
        }
        let store = Store::Tar { file, members };
        let kind = if store.has("index.json") {
            "oci-archive"
        } else if store.has("manifest.json") {
            "docker-archive"
        } else {
            return Err(invalid(format!("{src}: a tar, but neither an OCI archive (no index.json) nor a docker save archive (no manifest.json)")));
        };
        Ok((store, kind))
    }

    fn has(&self, name: &str) -> bool {
        match self {
            Store::Dir(fd) => safe_extract::open_in(fd.as_fd(), name.as_bytes(), OFlag::O_PATH, Parents::NoSymlinks).is_ok(),
            Store::Tar { members, .. } => members.contains_key(name),
        }
    }

    fn open(&self, name: &str) -> Result<(Box<dyn Read + '_>, Option<u64>), SetupError> {
        let missing = || invalid(format!("the image has no {name}"));
        match self {
            Store::Dir(fd) => {
                let f = safe_extract::open_in(fd.as_fd(), name.as_bytes(), OFlag::O_RDONLY | OFlag::O_NOFOLLOW, Parents::NoSymlinks).map_err(|_| missing())?;
                let file = File::from(f);
                let size = file.metadata().ok().map(|m| m.len());
                Ok((Box::new(file), size))
            }
            Store::Tar { file, members } => {
                let &(pos, size) = members.get(&normalize(name)).ok_or_else(missing)?;
                Ok((Box::new(Section { file, pos, end: pos + size }), Some(size)))
            }
        }
    }

    /// A JSON member, checked against `digest` when given.
    fn json(&self, name: &str, digest: Option<&str>) -> Result<Value, SetupError> {
        let (r, size) = self.open(name)?;
        if size.is_some_and(|s| s > MAX_JSON) {
            return Err(invalid(format!("{name} is larger than {MAX_JSON} bytes")));
        }
        let mut bytes = Vec::new();
        r.take(MAX_JSON + 1).read_to_end(&mut bytes).map_err(|e| io_err(format_args!("read {name}"), &e))?;
        if let Some(d) = digest {
            let got = hex(&Sha256::digest(&bytes));
            if got != check_digest(d)? {
                return Err(invalid(format!("{name}: its sha256 is {got}, not the {d} that names it")));
            }
        }
        serde_json::from_slice(&bytes).map_err(|e| invalid(format!("{name} is not valid JSON: {e}")))
    }
}

fn blob_name(digest: &str) -> Result<String, SetupError> {
    Ok(format!("blobs/sha256/{}", check_digest(digest)?))
}

/// `linux/amd64` for this host.
fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        a => a,
    };
    format!("linux/{arch}")
}

fn platform_of(m: &Value) -> Option<String> {
    let p = m.get("platform")?;
    let mut s = format!("{}/{}", p.get("os")?.as_str()?, p.get("architecture")?.as_str()?);
    if let Some(v) = p.get("variant").and_then(Value::as_str) {
        s.push('/');
        s.push_str(v);
    }
    Some(s)
}

fn is_index(media: Option<&str>) -> bool {
    matches!(media, Some("application/vnd.oci.image.index.v1+json" | "application/vnd.docker.distribution.manifest.list.v2+json"))
}

/// The layers (blob name, digest of the blob, diff_id) and config of the
/// image to import.
struct Chosen {
    layers: Vec<(String, Option<String>, Option<String>)>,
    config: Value,
    config_digest: Option<String>,
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v?.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
}

fn diff_ids(config: &Value) -> Vec<Option<String>> {
    config.pointer("/rootfs/diff_ids").and_then(Value::as_array).map(|a| a.iter().map(|d| d.as_str().map(String::from)).collect()).unwrap_or_default()
}

fn choose_oci(store: &Store, platform: &str) -> Result<Chosen, SetupError> {
    let mut index = store.json("index.json", None)?;
    let mut depth = 0;
    let manifest_digest = loop {
        let manifests = index.get("manifests").and_then(Value::as_array).cloned().unwrap_or_default();
        let pick = match manifests.len() {
            0 => return Err(invalid("index.json lists no manifest")),
            1 => manifests[0].clone(),
            _ => {
                let found: Vec<&Value> =
                    manifests.iter().filter(|m| platform_of(m).as_deref().is_some_and(|p| p == platform || p.starts_with(&format!("{platform}/")))).collect();
                match found.first() {
                    Some(m) => (*m).clone(),
                    None => {
                        let have: Vec<String> = manifests.iter().map(|m| platform_of(m).unwrap_or_else(|| "unknown".into())).collect();
                        return Err(invalid(format!("no manifest for {platform} in the index (it has {})", have.join(", "))));
                    }
                }
            }
        };
        let digest = pick.get("digest").and_then(Value::as_str).ok_or_else(|| invalid("a manifest in index.json has no digest"))?.to_string();
        if !is_index(pick.get("mediaType").and_then(Value::as_str)) {
            break digest;
        }
        depth += 1;
        if depth > 4 {
            return Err(invalid("image indexes nest deeper than 4"));
        }
        index = store.json(&blob_name(&digest)?, Some(&digest))?;
    };
    let manifest = store.json(&blob_name(&manifest_digest)?, Some(&manifest_digest))?;
    let config_digest = manifest.pointer("/config/digest").and_then(Value::as_str).ok_or_else(|| invalid("the manifest has no config digest"))?.to_string();
    let config = store.json(&blob_name(&config_digest)?, Some(&config_digest))?;
    let mut layers = Vec::new();
    for l in manifest.get("layers").and_then(Value::as_array).cloned().unwrap_or_default() {
        let digest = l.get("digest").and_then(Value::as_str).ok_or_else(|| invalid("a layer in the manifest has no digest"))?.to_string();
        if let Some(media) = l.get("mediaType").and_then(Value::as_str) {
            if media.contains("encrypted") || !(media.contains("tar") || media.contains("layer")) {
                return Err(invalid(format!("layer {digest}: media type {media} is not a tar layer")));
            }
        }
        layers.push((blob_name(&digest)?, Some(digest), None));
    }
    let ids = diff_ids(&config);
    for (i, l) in layers.iter_mut().enumerate() {
        l.2 = ids.get(i).cloned().flatten();
    }
    Ok(Chosen { layers, config, config_digest: Some(config_digest) })
}

fn choose_docker(store: &Store) -> Result<Chosen, SetupError> {
    let manifest = store.json("manifest.json", None)?;
    let images = manifest.as_array().ok_or_else(|| invalid("manifest.json is not a list"))?;
    let image = match images.as_slice() {
        [one] => one,
        [] => return Err(invalid("manifest.json lists no image")),
        many => return Err(invalid(format!("manifest.json lists {} images; save one image per archive", many.len()))),
    };
    let config_name = image.get("Config").and_then(Value::as_str).ok_or_else(|| invalid("manifest.json has no Config"))?;
    // docker names the config by its digest (`HEX.json` or `blobs/sha256/HEX`).
    let stem = config_name.rsplit('/').next().unwrap_or(config_name).trim_end_matches(".json");
    let config_digest = format!("sha256:{stem}");
    let known = check_digest(&config_digest).is_ok();
    let config = store.json(config_name, known.then_some(config_digest.as_str()))?;
    let ids = diff_ids(&config);
    let names = strings(image.get("Layers")).ok_or_else(|| invalid("manifest.json has no Layers"))?;
    if ids.len() != names.len() {
        return Err(invalid(format!("manifest.json lists {} layers, the config's rootfs.diff_ids {}", names.len(), ids.len())));
    }
    let layers = names.into_iter().zip(ids).map(|(n, id)| (n, None, id)).collect();
    Ok(Chosen { layers, config, config_digest: known.then_some(config_digest) })
}

fn meta_of(source: &str, chosen: &Chosen) -> ImageMeta {
    let c = chosen.config.get("config").or_else(|| chosen.config.get("container_config"));
    let get = |k: &str| c.and_then(|c| c.get(k));
    let text = |k: &str| get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(String::from);
    ImageMeta {
        source: source.into(),
        config_digest: chosen.config_digest.clone(),
        env: strings(get("Env")).unwrap_or_default(),
        entrypoint: strings(get("Entrypoint")),
        cmd: strings(get("Cmd")),
        working_dir: text("WorkingDir"),
        user: text("User"),
    }
}

/// One layer into `root`.
fn apply_layer(store: &Store, index: usize, layer: &(String, Option<String>, Option<String>), root: BorrowedFd, meter: &Shared) -> Result<Stats, SetupError> {
    let (name, digest, diff_id) = layer;
    let label = format!("layer {} ({})", index + 1, digest.as_deref().or(diff_id.as_deref()).unwrap_or(name));
    let (raw, _) = store.open(name)?;
    let raw_hash = Rc::new(RefCell::new(Sha256::new()));
    let mut buffered = BufReader::with_capacity(1 << 16, Hashing { inner: raw, hash: raw_hash.clone(), meter: Some(meter.clone()) });
    let head = buffered.fill_buf().map_err(|e| io_err(format_args!("read {label}"), &e))?;
    let decoded: Box<dyn Read> = match head {
        [0x1f, 0x8b, ..] => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Box::new(zstd::stream::read::Decoder::with_buffer(buffered).map_err(|e| io_err(format_args!("read {label}"), &e))?),
        _ => Box::new(buffered),
    };
    let diff_hash = Rc::new(RefCell::new(Sha256::new()));
    let reader = Hashing { inner: decoded, hash: diff_hash.clone(), meter: None };
    let (stats, mut rest) = safe_extract::extract_stream_with(reader, root, &Options::layer(label.clone()), &mut || meter.borrow_mut().add(1, 0))?;
    // The tar ends before its stream does (padding): read the rest, for the digests.
    io::copy(&mut rest, &mut io::sink()).map_err(|e| invalid(format!("{label}: cannot read to its end: {e}")))?;
    drop(rest);
    let lie = |what: &str, want: &str, got: String| invalid(format!("{label}: its {what} is sha256:{got}, not the {want} the image names"));
    if let Some(want) = digest {
        let got = hex(&raw_hash.borrow_mut().clone().finalize());
        if got != check_digest(want)? {
            return Err(lie("blob", want, got));
        }
    }
    if let Some(want) = diff_id {
        let got = hex(&diff_hash.borrow_mut().clone().finalize());
        if got != check_digest(want)? {
            return Err(lie("uncompressed content", want, got));
        }
    }
    Ok(stats)
}

/// Write `bytes` at `dir/name` in `root`, replacing what is there (never
/// through a symlink a layer planted).
pub(crate) fn put_file(root: BorrowedFd, dir: &str, name: &str, bytes: &[u8]) -> Result<(), SetupError> {
    let fail = |what: &str, e: Errno| invalid(format!("cannot {what} /{dir}/{name} in the image: {}", crate::sys::Errno(e as i32)));
    let d = match safe_extract::open_in(root, dir.as_bytes(), OFlag::O_PATH | OFlag::O_DIRECTORY, Parents::NoSymlinks) {
        Ok(d) => d,
        Err(_) => {
            safe_extract::remove_at(root, dir.as_bytes()).map_err(|e| fail("make room for", e))?;
            stat::mkdirat(root, dir, Mode::from_bits_truncate(0o755)).map_err(|e| fail("create the directory of", e))?;
            safe_extract::open_in(root, dir.as_bytes(), OFlag::O_PATH | OFlag::O_DIRECTORY, Parents::NoSymlinks)
                .map_err(|e| fail("open the directory of", e))?
        }
    };
    safe_extract::remove_at(d.as_fd(), name.as_bytes()).map_err(|e| fail("replace", e))?;
    let fd = fcntl::openat(
        d.as_fd(),
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o644),
    )
    .map_err(|e| fail("create", e))?;
    File::from(fd).write_all(bytes).map_err(|e| fail("write", Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))))
}

/// DEST's output kind by its name.
pub fn is_squashfs_name(dest: &str) -> bool {
    dest.ends_with(".sqfs") || dest.ends_with(".squashfs")
}

/// `E_IMAGE_EXISTS` unless `force` when `dest` exists (not followed).
pub fn check_dest(dest: &str, force: bool) -> Result<bool, SetupError> {
    if dest.is_empty() {
        return Err(SetupError::new(Code::Usage, "the destination is empty"));
    }
    match std::fs::symlink_metadata(dest) {
        Ok(_) if !force => Err(SetupError::new(Code::ImageExists, format!("{dest} exists")).with_hint("pass --force to replace it")),
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err(format_args!("stat {dest}"), &e)),
    }
}

/// A fresh directory `.NAME.TAG-XXXXXX` beside `dest` (same filesystem, so
/// the final rename is atomic): its path and an fd.
pub(crate) fn staging(dest: &str, tag: &str, dir: bool) -> Result<(PathBuf, Option<OwnedFd>), SetupError> {
    let path = Path::new(dest);
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| SetupError::new(Code::Usage, format!("{dest}: not a file name")))?;
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0) ^ u128::from(std::process::id());
    for i in 0..64u128 {
        let n = (seed.wrapping_mul(6364136223846793005).wrapping_add(i * 1442695040888963407) >> 40) as u64 % 36u64.pow(6);
        let suffix: String = (0..6).map(|k| char::from_digit(((n / 36u64.pow(k)) % 36) as u32, 36).unwrap()).collect();
        let p = parent.join(format!(".{}.{tag}-{suffix}", name.to_string_lossy()));
        let made = if dir {
            nix::unistd::mkdir(&p, Mode::from_bits_truncate(0o700))
                .and_then(|()| fcntl::open(&p, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty()).map(Some))
        } else {
            fcntl::open(&p, OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::from_bits_truncate(0o644))
                .map(|_| None)
        };
        match made {
            Ok(fd) => return Ok((p, fd)),
            Err(Errno::EEXIST) => continue,
            Err(e) => return Err(invalid(format!("cannot create {}: {}", p.display(), crate::sys::Errno(e as i32)))),
        }
    }
    Err(invalid(format!("cannot find a free staging name beside {dest}")))
}

/// Remove a path (a staging tree), never following a symlink.
pub(crate) fn remove_path(p: &Path) {
    let parent = p.parent().filter(|q| !q.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if let (Ok(dir), Some(name)) = (fcntl::open(parent, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()), p.file_name()) {
        let _ = safe_extract::remove_at(dir.as_fd(), name.as_bytes());
    }
}

/// Rename `from` to `to`; with `force` an existing `to` is removed first,
/// else it must not exist (RENAME_NOREPLACE: a DEST that appeared meanwhile
/// is not replaced).
pub(crate) fn install(from: &Path, to: &str, force: bool) -> Result<(), SetupError> {
    if force {
        remove_path(Path::new(to));
    }
    fcntl::renameat2(fcntl::AT_FDCWD, from, fcntl::AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE).map_err(|e| match e {
        Errno::EEXIST | Errno::ENOTEMPTY => SetupError::new(Code::ImageExists, format!("{to} exists")).with_hint("pass --force to replace it"),
        e => invalid(format!("cannot rename {} to {to}: {}", from.display(), crate::sys::Errno(e as i32))),
    })
}

/// Import `src` into `dest` (see the module doc).
pub fn import(src: &str, dest: &str, o: &ImportOptions, progress: Option<Sink>) -> Result<(Imported, Option<super::pack::Packed>), SetupError> {
    let squash = is_squashfs_name(dest);
    check_dest(dest, o.force)?;
    let (store, source) = Store::open_source(src)?;
    let platform = o.platform.clone().unwrap_or_else(host_platform);
    let chosen = if source == "docker-archive" { choose_docker(&store)? } else { choose_oci(&store, &platform)? };
    let meta = meta_of(source, &chosen);
    let meter = Meter::new("import", progress);
    let mut total = Some(0u64);
    for (name, _, _) in &chosen.layers {
        total = total.zip(store.open(name)?.1).map(|(a, b)| a + b);
    }
    meter.borrow_mut().totals(None, total);
    let (stage, root) = staging(dest, "import", true)?;
    let root = root.expect("a staging directory has an fd");
    let r = (|| {
        let mut stats = Stats::default();
        for (i, layer) in chosen.layers.iter().enumerate() {
            stats.add(apply_layer(&store, i, layer, root.as_fd(), &meter)?);
        }
        meter.borrow().emit();
        let json = serde_json::to_vec_pretty(&meta).expect("meta serializes");
        put_file(root.as_fd(), ".sandboxctl", "image.json", &json)?;
        if !meta.env.is_empty() {
            put_file(root.as_fd(), "ch", "environment", meta.environment_file().as_bytes())?;
        }
        safe_extract::finish(root.as_fd(), &stats, Parents::NoSymlinks)?;
        stat::fchmod(&root, Mode::from_bits_truncate(0o755))
            .map_err(|e| invalid(format!("cannot set the mode of {}: {}", stage.display(), crate::sys::Errno(e as i32))))?;
        let packed = if squash {
            Some(super::pack::pack_to(root.as_fd(), dest, &super::pack::PackOptions { force: o.force, ..Default::default() }, meter.borrow_mut().sink.take())?)
        } else {
            None
        };
        Ok((Imported { layers: chosen.layers.len() as u32, stats, meta: meta.clone() }, packed))
    })();
    let r = r.and_then(|(imported, packed)| {
        if !squash {
            install(&stage, dest, o.force)?;
        }
        Ok((imported, packed))
    });
    if squash || r.is_err() {
        remove_path(&stage);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked_before_they_name_a_path() {
        let h = "a".repeat(64);
        assert_eq!(blob_name(&format!("sha256:{h}")).unwrap(), format!("blobs/sha256/{h}"));
        for bad in ["sha256:../../etc/passwd", "sha512:abc", &format!("sha256:{}", "A".repeat(64)), &format!("sha256:{}", "a".repeat(63))] {
            assert_eq!(blob_name(bad).unwrap_err().code, Code::ImageInvalid, "{bad}");
        }
    }

    #[test]
    fn platforms() {
        let m: Value = serde_json::from_str(r#"{"platform":{"os":"linux","architecture":"arm","variant":"v7"}}"#).unwrap();
        assert_eq!(platform_of(&m).as_deref(), Some("linux/arm/v7"));
        assert!(host_platform().starts_with("linux/"));
    }

    #[test]
    fn squashfs_output_follows_the_suffix() {
        assert!(is_squashfs_name("/x/app.sqfs") && is_squashfs_name("a.squashfs"));
        assert!(!is_squashfs_name("/x/rootfs") && !is_squashfs_name("a.sqfs.d"));
    }
}
