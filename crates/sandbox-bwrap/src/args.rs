//! bubblewrap 0.11's command line, parsed in one ordered pass as its
//! `parse_args_recurse` does: the same options, the same order rules
//! (`--perms`/`--size` modify the next op, `--overlay-src` feeds the next
//! overlay), the same messages (without the `bwrap: ` prefix, added by the
//! caller) and the same environment edits (`--setenv`, `--unsetenv`,
//! `--clearenv` apply to the environment in argv order).
//!
//! Input: argv after argv[0], the caller's environment, and a reader for
//! `--args FD`. Output: [`Parsed`], or the message bubblewrap dies with.

/// The largest number of arguments, `--args` data included (bubblewrap's MAX_ARGS).
pub const MAX_ARGS: usize = 9000;

/// bubblewrap's MAX_TMPFS_BYTES: SIZE_MAX / 2.
pub const MAX_TMPFS_BYTES: u64 = u64::MAX >> 1;

/// The version bubblewrap's command line is taken from.
pub const BWRAP_VERSION: &str = "0.11.1";

/// What argv asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// `--help`: usage on stdout, exit 0.
    Help,
    /// `--version`.
    Version,
    /// A sandbox.
    Run(Box<Opts>),
}

/// How a bind treats its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindKind {
    /// `--bind`: read-write, nodev.
    Rw,
    /// `--ro-bind`.
    Ro,
    /// `--dev-bind`: read-write with devices.
    Dev,
}

/// Which overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverlayKind {
    /// `--overlay RWSRC WORKDIR DEST`.
    Rw { upper: String, work: String },
    /// `--tmp-overlay DEST`.
    Tmp,
    /// `--ro-overlay DEST`.
    Ro,
}

/// One setup op, in argv order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupOp {
    Bind {
        kind: BindKind,
        src: String,
        dest: String,
        allow_missing: bool,
    },
    BindFd {
        ro: bool,
        fd: i32,
        dest: String,
    },
    RemountRo {
        dest: String,
    },
    Overlay {
        kind: OverlayKind,
        srcs: Vec<String>,
        dest: String,
    },
    Proc {
        dest: String,
    },
    Dev {
        dest: String,
    },
    Tmpfs {
        dest: String,
        perms: u32,
        size: Option<u64>,
    },
    Mqueue {
        dest: String,
    },
    Dir {
        dest: String,
        perms: u32,
    },
    /// `--file` (a copy), `--bind-data` and `--ro-bind-data` (bound files).
    File {
        fd: i32,
        dest: String,
        perms: u32,
        bind: Option<bool>,
    },
    Symlink {
        src: String,
        dest: String,
    },
    Chmod {
        perms: u32,
        dest: String,
    },
}

/// Everything else argv sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Opts {
    pub ops: Vec<SetupOp>,
    /// The command and its arguments (may be empty: usage then).
    pub command: Vec<String>,
    pub argv0: Option<String>,
    pub level_prefix: bool,
    pub unshare_user: bool,
    pub unshare_user_try: bool,
    pub unshare_ipc: bool,
    pub unshare_pid: bool,
    pub unshare_net: bool,
    pub unshare_uts: bool,
    pub unshare_cgroup: bool,
    pub unshare_cgroup_try: bool,
    pub chdir: Option<String>,
    pub disable_userns: bool,
    pub assert_userns_disabled: bool,
    pub lock_files: Vec<String>,
    pub sync_fd: Option<i32>,
    pub block_fd: Option<i32>,
    pub userns_block_fd: Option<i32>,
    pub info_fd: Option<i32>,
    pub json_status_fd: Option<i32>,
    pub seccomp_fd: Option<i32>,
    pub add_seccomp_fds: Vec<i32>,
    pub userns_fd: Option<i32>,
    pub userns2_fd: Option<i32>,
    pub pidns_fd: Option<i32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub hostname: Option<String>,
    pub new_session: bool,
    pub die_with_parent: bool,
    pub as_pid_1: bool,
    /// `--cap-add`/`--cap-drop` were given: the requested set, starting
    /// from `caps_start` (all for a root caller, none otherwise).
    pub caps: Option<u64>,
    pub exec_label: Option<String>,
    pub file_label: Option<String>,
    /// Our own `--sandboxctl-defaults`: our default seccomp filter and Landlock scopes.
    pub sandboxctl_defaults: bool,
    /// The environment after `--setenv`, `--unsetenv`, `--clearenv`.
    pub env: Vec<(String, String)>,
    /// Warnings printed as bubblewrap prints them while parsing.
    pub warnings: Vec<String>,
    /// The fds `--args` read (closed after reading, as bubblewrap does).
    pub args_fds: Vec<i32>,
}

/// Reads `--args FD` data.
pub type ReadFd<'a> = &'a mut dyn FnMut(i32) -> Result<Vec<u8>, String>;

/// Parse argv (without argv[0]). `caps_start` is the capability set a
/// `--cap-add`/`--cap-drop` sequence starts from (bubblewrap: all for root).
pub fn parse(args: &[String], env: Vec<(String, String)>, caps_start: u64, read_fd: ReadFd) -> Result<Parsed, String> {
    let mut st = State { opts: Opts { env, ..Opts::default() }, next_perms: None, next_size: None, overlay_srcs: Vec::new(), caps_start, total: args.len() };
    if let Some(p) = st.recurse(args, false, read_fd)? {
        return Ok(p);
    }
    Ok(Parsed::Run(Box::new(st.opts)))
}

struct State {
    opts: Opts,
    next_perms: Option<u32>,
    next_size: Option<u64>,
    overlay_srcs: Vec<String>,
    caps_start: u64,
    total: usize,
}

/// strtol(s, 10) with bubblewrap's checks: the whole string, not empty, >= 0.
fn parse_nonneg(s: &str) -> Option<i64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if s.is_empty() {
        return None;
    }
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = digits.parse().ok()?;
    let v = if neg { -v } else { v };
    (v >= 0).then_some(v)
}

fn parse_fd(s: &str) -> Result<i32, String> {
    parse_nonneg(s).and_then(|v| i32::try_from(v).ok()).ok_or_else(|| format!("Invalid fd: {s}"))
}

/// strtoul(s, 8) with the whole string used and a value <= 07777.
fn parse_octal(s: &str) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    let v = u64::from_str_radix(digits, 8).ok()?;
    if neg && v != 0 {
        return None;
    }
    (v <= 0o7777).then_some(v as u32)
}

/// strtoull(s, 0) for `--size`: a digit first, the whole string used, not
/// zero, no overflow.
fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || "--size takes a non-zero number of bytes".to_string();
    if !s.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return Err(bad());
    }
    let v = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).map_err(|_| bad())?
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).map_err(|_| bad())?
    } else {
        s.parse::<u64>().map_err(|_| bad())?
    };
    if v == 0 {
        return Err(bad());
    }
    if v > MAX_TMPFS_BYTES {
        return Err(format!("--size (for tmpfs) is limited to {MAX_TMPFS_BYTES}"));
    }
    Ok(v)
}

/// libcap's cap_from_name: `cap_kill` in any case, or a number.
pub fn cap_bit(name: &str) -> Option<u32> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        let n: u32 = name.parse().ok()?;
        return (n < sandbox_core::caps::NAMES.len() as u32).then_some(n);
    }
    let up = name.to_ascii_uppercase();
    sandbox_core::caps::NAMES.iter().position(|n| *n == up).map(|i| i as u32)
}

/// All the capabilities this build knows.
pub fn all_caps() -> u64 {
    (1u64 << sandbox_core::caps::NAMES.len()) - 1
}

impl State {
    fn need(args: &[String], n: usize, msg: &str) -> Result<(), String> {
        if args.len() < n + 1 {
            return Err(msg.to_string());
        }
        Ok(())
    }

    fn take_perms(&mut self, default: u32) -> u32 {
        self.next_perms.take().unwrap_or(default)
    }

    fn take_overlay(&mut self, dest: &str, kind: OverlayKind) {
        let srcs = std::mem::take(&mut self.overlay_srcs);
        self.opts.ops.push(SetupOp::Overlay { kind, srcs, dest: dest.to_string() });
    }

    fn warn_last(&mut self, set: bool, name: &str) {
        if set {
            self.opts.warnings.push(format!("Only the last {name} option will take effect"));
        }
    }

    fn setenv(&mut self, k: &str, v: &str) -> Result<(), String> {
        if k.is_empty() || k.contains('=') {
            return Err("setenv: Invalid argument".to_string());
        }
        self.opts.env.retain(|(n, _)| n != k);
        self.opts.env.push((k.to_string(), v.to_string()));
        Ok(())
    }

    /// One level of parse_args_recurse; `Some` for --help/--version.
    fn recurse(&mut self, args: &[String], in_file: bool, read_fd: ReadFd) -> Result<Option<Parsed>, String> {
        if self.total > MAX_ARGS {
            return Err(format!("Exceeded maximum number of arguments {MAX_ARGS}"));
        }
        let mut i = 0;
        while i < args.len() {
            let a = &args[i..];
            let arg = a[0].as_str();
            // How many values the option took.
            let mut used = 0;
            match arg {
                "--help" => return Ok(Some(Parsed::Help)),
                "--version" => return Ok(Some(Parsed::Version)),
                "--args" => {
                    if in_file {
                        return Err("--args not supported in arguments file".into());
                    }
                    Self::need(a, 1, "--args takes an argument")?;
                    let fd = parse_fd(&a[1])?;
                    let data = read_fd(fd).map_err(|e| format!("Can't read --args data: {e}"))?;
                    self.opts.args_fds.push(fd);
                    let mut items: Vec<String> = data.split(|&b| b == 0).map(|s| String::from_utf8_lossy(s).into_owned()).collect();
                    // A trailing NUL ends the last item; it starts no new one.
                    if data.last() == Some(&0) || data.is_empty() {
                        items.pop();
                    }
                    self.total += items.len();
                    if self.total > MAX_ARGS {
                        return Err(format!("Exceeded maximum number of arguments {MAX_ARGS}"));
                    }
                    // An inner `--help` wins as bubblewrap's would; the rest
                    // (a command inside the file) is ignored as in bubblewrap.
                    if let Some(p) = self.recurse(&items, true, read_fd)? {
                        return Ok(Some(p));
                    }
                    used = 1;
                }
                "--argv0" => {
                    Self::need(a, 1, "--argv0 takes one argument")?;
                    if self.opts.argv0.is_some() {
                        return Err("--argv0 used multiple times".into());
                    }
                    self.opts.argv0 = Some(a[1].clone());
                    used = 1;
                }
                "--level-prefix" => self.opts.level_prefix = true,
                "--unshare-all" => {
                    let o = &mut self.opts;
                    o.unshare_user_try = true;
                    o.unshare_ipc = true;
                    o.unshare_pid = true;
                    o.unshare_uts = true;
                    o.unshare_cgroup_try = true;
                    o.unshare_net = true;
                }
                "--unshare-user" => self.opts.unshare_user = true,
                "--unshare-user-try" => self.opts.unshare_user_try = true,
                "--unshare-ipc" => self.opts.unshare_ipc = true,
                "--unshare-pid" => self.opts.unshare_pid = true,
                "--unshare-net" => self.opts.unshare_net = true,
                "--unshare-uts" => self.opts.unshare_uts = true,
                "--unshare-cgroup" => self.opts.unshare_cgroup = true,
                "--unshare-cgroup-try" => self.opts.unshare_cgroup_try = true,
                "--share-net" => self.opts.unshare_net = false,
                "--chdir" => {
                    Self::need(a, 1, "--chdir takes one argument")?;
                    let set = self.opts.chdir.is_some();
                    self.warn_last(set, "--chdir");
                    self.opts.chdir = Some(a[1].clone());
                    used = 1;
                }
                "--disable-userns" => self.opts.disable_userns = true,
                "--assert-userns-disabled" => self.opts.assert_userns_disabled = true,
                "--remount-ro" => {
                    Self::need(a, 1, "--remount-ro takes one argument")?;
                    self.opts.ops.push(SetupOp::RemountRo { dest: a[1].clone() });
                    used = 1;
                }
                "--bind" | "--bind-try" | "--ro-bind" | "--ro-bind-try" | "--dev-bind" | "--dev-bind-try" => {
                    Self::need(a, 2, &format!("{arg} takes two arguments"))?;
                    let kind = match arg {
                        "--bind" | "--bind-try" => BindKind::Rw,
                        "--ro-bind" | "--ro-bind-try" => BindKind::Ro,
                        _ => BindKind::Dev,
                    };
                    self.opts.ops.push(SetupOp::Bind { kind, src: a[1].clone(), dest: a[2].clone(), allow_missing: arg.ends_with("-try") });
                    used = 2;
                }
                "--bind-fd" | "--ro-bind-fd" => {
                    Self::need(a, 2, "--bind-fd takes two arguments")?;
                    let fd = parse_fd(&a[1])?;
                    self.opts.ops.push(SetupOp::BindFd { ro: arg == "--ro-bind-fd", fd, dest: a[2].clone() });
                    used = 2;
                }
                "--overlay-src" => {
                    Self::need(a, 1, "--overlay-src takes an argument")?;
                    self.overlay_srcs.push(a[1].clone());
                    used = 1;
                }
                "--overlay" => {
                    Self::need(a, 3, "--overlay takes three arguments")?;
                    if self.overlay_srcs.is_empty() {
                        return Err("--overlay requires at least one --overlay-src".into());
                    }
                    self.take_overlay(&a[3], OverlayKind::Rw { upper: a[1].clone(), work: a[2].clone() });
                    used = 3;
                }
                "--tmp-overlay" => {
                    Self::need(a, 1, "--tmp-overlay takes an argument")?;
                    if self.overlay_srcs.is_empty() {
                        return Err("--tmp-overlay requires at least one --overlay-src".into());
                    }
                    self.take_overlay(&a[1], OverlayKind::Tmp);
                    used = 1;
                }
                "--ro-overlay" => {
                    Self::need(a, 1, "--ro-overlay takes an argument")?;
                    if self.overlay_srcs.len() < 2 {
                        return Err("--ro-overlay requires at least two --overlay-src".into());
                    }
                    self.take_overlay(&a[1], OverlayKind::Ro);
                    used = 1;
                }
                "--proc" => {
                    Self::need(a, 1, "--proc takes an argument")?;
                    self.opts.ops.push(SetupOp::Proc { dest: a[1].clone() });
                    used = 1;
                }
                "--exec-label" | "--file-label" => {
                    Self::need(a, 1, &format!("{arg} takes an argument"))?;
                    // bubblewrap built without SELinux refuses any label.
                    return Err("labeling not supported on this system".into());
                }
                "--dev" => {
                    Self::need(a, 1, "--dev takes an argument")?;
                    self.opts.ops.push(SetupOp::Dev { dest: a[1].clone() });
                    used = 1;
                }
                "--tmpfs" => {
                    Self::need(a, 1, "--tmpfs takes an argument")?;
                    let perms = self.take_perms(0o755);
                    let size = self.next_size.take();
                    self.opts.ops.push(SetupOp::Tmpfs { dest: a[1].clone(), perms, size });
                    used = 1;
                }
                "--mqueue" => {
                    Self::need(a, 1, "--mqueue takes an argument")?;
                    self.opts.ops.push(SetupOp::Mqueue { dest: a[1].clone() });
                    used = 1;
                }
                "--dir" => {
                    Self::need(a, 1, "--dir takes an argument")?;
                    let perms = self.take_perms(0o755);
                    self.opts.ops.push(SetupOp::Dir { dest: a[1].clone(), perms });
                    used = 1;
                }
                "--file" | "--bind-data" | "--ro-bind-data" => {
                    Self::need(a, 2, &format!("{arg} takes two arguments"))?;
                    let fd = parse_fd(&a[1])?;
                    let (default, bind) = match arg {
                        "--file" => (0o666, None),
                        "--bind-data" => (0o600, Some(false)),
                        _ => (0o600, Some(true)),
                    };
                    let perms = self.take_perms(default);
                    self.opts.ops.push(SetupOp::File { fd, dest: a[2].clone(), perms, bind });
                    used = 2;
                }
                "--symlink" => {
                    Self::need(a, 2, "--symlink takes two arguments")?;
                    self.opts.ops.push(SetupOp::Symlink { src: a[1].clone(), dest: a[2].clone() });
                    used = 2;
                }
                "--lock-file" => {
                    Self::need(a, 1, "--lock-file takes an argument")?;
                    self.opts.lock_files.push(a[1].clone());
                    used = 1;
                }
                "--sync-fd" | "--block-fd" | "--userns-block-fd" | "--info-fd" | "--json-status-fd" | "--userns" | "--userns2" | "--pidns" => {
                    Self::need(a, 1, &format!("{arg} takes an argument"))?;
                    let was = {
                        let o = &self.opts;
                        match arg {
                            "--sync-fd" => o.sync_fd,
                            "--block-fd" => o.block_fd,
                            "--userns-block-fd" => o.userns_block_fd,
                            "--info-fd" => o.info_fd,
                            "--json-status-fd" => o.json_status_fd,
                            "--userns" => o.userns_fd,
                            "--userns2" => o.userns2_fd,
                            _ => o.pidns_fd,
                        }
                    };
                    self.warn_last(was.is_some(), arg);
                    let fd = Some(parse_fd(&a[1])?);
                    let o = &mut self.opts;
                    match arg {
                        "--sync-fd" => o.sync_fd = fd,
                        "--block-fd" => o.block_fd = fd,
                        "--userns-block-fd" => o.userns_block_fd = fd,
                        "--info-fd" => o.info_fd = fd,
                        "--json-status-fd" => o.json_status_fd = fd,
                        "--userns" => o.userns_fd = fd,
                        "--userns2" => o.userns2_fd = fd,
                        _ => o.pidns_fd = fd,
                    }
                    used = 1;
                }
                "--seccomp" => {
                    Self::need(a, 1, "--seccomp takes an argument")?;
                    if !self.opts.add_seccomp_fds.is_empty() {
                        return Err("--seccomp cannot be combined with --add-seccomp-fd".into());
                    }
                    let set = self.opts.seccomp_fd.is_some();
                    self.warn_last(set, "--seccomp");
                    self.opts.seccomp_fd = Some(parse_fd(&a[1])?);
                    used = 1;
                }
                "--add-seccomp-fd" => {
                    Self::need(a, 1, "--add-seccomp-fd takes an argument")?;
                    if self.opts.seccomp_fd.is_some() {
                        return Err("--add-seccomp-fd cannot be combined with --seccomp".into());
                    }
                    let fd = parse_fd(&a[1])?;
                    self.opts.add_seccomp_fds.push(fd);
                    used = 1;
                }
                "--clearenv" => self.opts.env.clear(),
                "--setenv" => {
                    Self::need(a, 2, "--setenv takes two arguments")?;
                    self.setenv(&a[1].clone(), &a[2].clone())?;
                    used = 2;
                }
                "--unsetenv" => {
                    Self::need(a, 1, "--unsetenv takes an argument")?;
                    let k = a[1].clone();
                    if k.is_empty() || k.contains('=') {
                        return Err("unsetenv: Invalid argument".to_string());
                    }
                    self.opts.env.retain(|(n, _)| *n != k);
                    used = 1;
                }
                "--uid" | "--gid" => {
                    Self::need(a, 1, &format!("{arg} takes an argument"))?;
                    let which = &arg[2..];
                    let set = if which == "uid" { self.opts.uid.is_some() } else { self.opts.gid.is_some() };
                    self.warn_last(set, arg);
                    let v = parse_nonneg(&a[1]).and_then(|v| u32::try_from(v).ok()).ok_or_else(|| format!("Invalid {which}: {}", a[1]))?;
                    if which == "uid" {
                        self.opts.uid = Some(v);
                    } else {
                        self.opts.gid = Some(v);
                    }
                    used = 1;
                }
                "--hostname" => {
                    Self::need(a, 1, "--hostname takes an argument")?;
                    let set = self.opts.hostname.is_some();
                    self.warn_last(set, "--hostname");
                    self.opts.hostname = Some(a[1].clone());
                    used = 1;
                }
                "--new-session" => self.opts.new_session = true,
                "--die-with-parent" => self.opts.die_with_parent = true,
                "--as-pid-1" => self.opts.as_pid_1 = true,
                "--sandboxctl-defaults" => self.opts.sandboxctl_defaults = true,
                "--cap-add" | "--cap-drop" => {
                    Self::need(a, 1, &format!("{arg} takes an argument"))?;
                    let mut caps = self.opts.caps.unwrap_or(self.caps_start);
                    let bits =
                        if a[1].eq_ignore_ascii_case("ALL") { all_caps() } else { 1u64 << cap_bit(&a[1]).ok_or_else(|| format!("unknown cap: {}", a[1]))? };
                    if arg == "--cap-add" {
                        caps |= bits;
                    } else {
                        caps &= !bits;
                    }
                    self.opts.caps = Some(caps);
                    used = 1;
                }
                "--perms" => {
                    Self::need(a, 1, "--perms takes an argument")?;
                    if self.next_perms.is_some() {
                        return Err("--perms given twice for the same action".into());
                    }
                    self.next_perms = Some(parse_octal(&a[1]).ok_or("--perms takes an octal argument <= 07777")?);
                    used = 1;
                }
                "--size" => {
                    Self::need(a, 1, "--size takes an argument")?;
                    if self.next_size.is_some() {
                        return Err("--size given twice for the same action".into());
                    }
                    self.next_size = Some(parse_size(&a[1])?);
                    used = 1;
                }
                "--chmod" => {
                    Self::need(a, 2, "--chmod takes two arguments")?;
                    let perms = parse_octal(&a[1]).ok_or("--chmod takes an octal argument <= 07777")?;
                    self.opts.ops.push(SetupOp::Chmod { perms, dest: a[2].clone() });
                    used = 2;
                }
                "--" => {
                    i += 1;
                    break;
                }
                _ if arg.starts_with('-') => return Err(format!("Unknown option {arg}")),
                _ => break,
            }
            let modifier = arg == "--perms" || arg == "--size";
            if !modifier && self.next_perms.is_some() {
                return Err("--perms must be followed by an option that creates a file".into());
            }
            if !modifier && self.next_size.is_some() {
                return Err("--size must be followed by --tmpfs".into());
            }
            if arg != "--overlay-src" && !self.overlay_srcs.is_empty() {
                return Err("--overlay-src must be followed by another --overlay-src or one of --overlay, --tmp-overlay, or --ro-overlay".into());
            }
            i += 1 + used;
        }
        if !in_file {
            self.opts.command = args[i.min(args.len())..].to_vec();
        }
        Ok(None)
    }
}

/// bubblewrap's usage text; `prog` is argv[0] as given.
pub fn usage(prog: &str) -> String {
    format!(
        "usage: {prog} [OPTIONS...] [--] COMMAND [ARGS...]\n\n{}",
        concat!(
            "    --help                       Print this help\n",
            "    --version                    Print version\n",
            "    --args FD                    Parse NUL-separated args from FD\n",
            "    --argv0 VALUE                Set argv[0] to the value VALUE before running the program\n",
            "    --level-prefix               Prepend e.g. <3> to diagnostic messages\n",
            "    --unshare-all                Unshare every namespace we support by default\n",
            "    --share-net                  Retain the network namespace (can only combine with --unshare-all)\n",
            "    --unshare-user               Create new user namespace (may be automatically implied if not setuid)\n",
            "    --unshare-user-try           Create new user namespace if possible else continue by skipping it\n",
            "    --unshare-ipc                Create new ipc namespace\n",
            "    --unshare-pid                Create new pid namespace\n",
            "    --unshare-net                Create new network namespace\n",
            "    --unshare-uts                Create new uts namespace\n",
            "    --unshare-cgroup             Create new cgroup namespace\n",
            "    --unshare-cgroup-try         Create new cgroup namespace if possible else continue by skipping it\n",
            "    --userns FD                  Use this user namespace (cannot combine with --unshare-user)\n",
            "    --userns2 FD                 After setup switch to this user namespace, only useful with --userns\n",
            "    --disable-userns             Disable further use of user namespaces inside sandbox\n",
            "    --assert-userns-disabled     Fail unless further use of user namespace inside sandbox is disabled\n",
            "    --pidns FD                   Use this pid namespace (as parent namespace if using --unshare-pid)\n",
            "    --uid UID                    Custom uid in the sandbox (requires --unshare-user or --userns)\n",
            "    --gid GID                    Custom gid in the sandbox (requires --unshare-user or --userns)\n",
            "    --hostname NAME              Custom hostname in the sandbox (requires --unshare-uts)\n",
            "    --chdir DIR                  Change directory to DIR\n",
            "    --clearenv                   Unset all environment variables\n",
            "    --setenv VAR VALUE           Set an environment variable\n",
            "    --unsetenv VAR               Unset an environment variable\n",
            "    --lock-file DEST             Take a lock on DEST while sandbox is running\n",
            "    --sync-fd FD                 Keep this fd open while sandbox is running\n",
            "    --bind SRC DEST              Bind mount the host path SRC on DEST\n",
            "    --bind-try SRC DEST          Equal to --bind but ignores non-existent SRC\n",
            "    --dev-bind SRC DEST          Bind mount the host path SRC on DEST, allowing device access\n",
            "    --dev-bind-try SRC DEST      Equal to --dev-bind but ignores non-existent SRC\n",
            "    --ro-bind SRC DEST           Bind mount the host path SRC readonly on DEST\n",
            "    --ro-bind-try SRC DEST       Equal to --ro-bind but ignores non-existent SRC\n",
            "    --bind-fd FD DEST            Bind open directory or path fd on DEST\n",
            "    --ro-bind-fd FD DEST         Bind open directory or path fd read-only on DEST\n",
            "    --remount-ro DEST            Remount DEST as readonly; does not recursively remount\n",
            "    --overlay-src SRC            Read files from SRC in the following overlay\n",
            "    --overlay RWSRC WORKDIR DEST Mount overlayfs on DEST, with RWSRC as the host path for writes and\n",
            "                                 WORKDIR an empty directory on the same filesystem as RWSRC\n",
            "    --tmp-overlay DEST           Mount overlayfs on DEST, with writes going to an invisible tmpfs\n",
            "    --ro-overlay DEST            Mount overlayfs read-only on DEST\n",
            "    --exec-label LABEL           Exec label for the sandbox\n",
            "    --file-label LABEL           File label for temporary sandbox content\n",
            "    --proc DEST                  Mount new procfs on DEST\n",
            "    --dev DEST                   Mount new dev on DEST\n",
            "    --tmpfs DEST                 Mount new tmpfs on DEST\n",
            "    --mqueue DEST                Mount new mqueue on DEST\n",
            "    --dir DEST                   Create dir at DEST\n",
            "    --file FD DEST               Copy from FD to destination DEST\n",
            "    --bind-data FD DEST          Copy from FD to file which is bind-mounted on DEST\n",
            "    --ro-bind-data FD DEST       Copy from FD to file which is readonly bind-mounted on DEST\n",
            "    --symlink SRC DEST           Create symlink at DEST with target SRC\n",
            "    --seccomp FD                 Load and use seccomp rules from FD (not repeatable)\n",
            "    --add-seccomp-fd FD          Load and use seccomp rules from FD (repeatable)\n",
            "    --block-fd FD                Block on FD until some data to read is available\n",
            "    --userns-block-fd FD         Block on FD until the user namespace is ready\n",
            "    --info-fd FD                 Write information about the running container to FD\n",
            "    --json-status-fd FD          Write container status to FD as multiple JSON documents\n",
            "    --new-session                Create a new terminal session\n",
            "    --die-with-parent            Kills with SIGKILL child process (COMMAND) when bwrap or bwrap's parent dies.\n",
            "    --as-pid-1                   Do not install a reaper process with PID=1\n",
            "    --cap-add CAP                Add cap CAP when running as privileged user\n",
            "    --cap-drop CAP               Drop cap CAP when running as privileged user\n",
            "    --perms OCTAL                Set permissions of next argument (--bind-data, --file, etc.)\n",
            "    --size BYTES                 Set size of next argument (only for --tmpfs)\n",
            "    --chmod OCTAL PATH           Change permissions of PATH (must already exist)\n",
            "\nsandboxctl-bwrap adds:\n",
            "    --sandboxctl-defaults        Also apply sandboxctl's default seccomp filter and Landlock scopes\n",
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    fn run(s: &[&str]) -> Result<Opts, String> {
        let mut no_fd = |fd: i32| -> Result<Vec<u8>, String> { Err(format!("no fd {fd}")) };
        match parse(&argv(s), vec![("HOME".into(), "/root".into()), ("FOO".into(), "x".into())], 0, &mut no_fd)? {
            Parsed::Run(o) => Ok(*o),
            p => panic!("not a run: {p:?}"),
        }
    }

    fn err(s: &[&str]) -> String {
        run(s).expect_err("argv should be refused")
    }

    #[test]
    fn help_and_version_win_wherever_they_are() {
        let mut no_fd = |_: i32| -> Result<Vec<u8>, String> { unreachable!() };
        assert_eq!(parse(&argv(&["--bind", "/", "/", "--help", "--bogus"]), vec![], 0, &mut no_fd), Ok(Parsed::Help));
        assert_eq!(parse(&argv(&["--version"]), vec![], 0, &mut no_fd), Ok(Parsed::Version));
        assert!(usage("bwrap").starts_with("usage: bwrap [OPTIONS...] [--] COMMAND [ARGS...]\n\n    --help "));
        assert!(usage("/x/y").starts_with("usage: /x/y "));
    }

    #[test]
    fn ops_keep_argv_order_and_modifiers_apply_to_the_next_op() {
        let o = run(&[
            "--perms",
            "0700",
            "--dir",
            "/a",
            "--size",
            "4096",
            "--perms",
            "1777",
            "--tmpfs",
            "/t",
            "--ro-bind-try",
            "/x",
            "/y",
            "--file",
            "3",
            "/f",
            "sh",
        ])
        .unwrap();
        assert_eq!(
            o.ops,
            vec![
                SetupOp::Dir { dest: "/a".into(), perms: 0o700 },
                SetupOp::Tmpfs { dest: "/t".into(), perms: 0o1777, size: Some(4096) },
                SetupOp::Bind { kind: BindKind::Ro, src: "/x".into(), dest: "/y".into(), allow_missing: true },
                SetupOp::File { fd: 3, dest: "/f".into(), perms: 0o666, bind: None },
            ]
        );
        assert_eq!(o.command, argv(&["sh"]));
        let o = run(&["--bind-data", "4", "/b", "--ro-bind-data", "5", "/r", "--dir", "/d", "--tmpfs", "/t", "true"]).unwrap();
        assert_eq!(o.ops[0], SetupOp::File { fd: 4, dest: "/b".into(), perms: 0o600, bind: Some(false) });
        assert_eq!(o.ops[1], SetupOp::File { fd: 5, dest: "/r".into(), perms: 0o600, bind: Some(true) });
        assert_eq!(o.ops[2], SetupOp::Dir { dest: "/d".into(), perms: 0o755 });
        assert_eq!(o.ops[3], SetupOp::Tmpfs { dest: "/t".into(), perms: 0o755, size: None });
    }

    #[test]
    fn double_dash_ends_options_and_defangs_what_follows() {
        let o = run(&["--", "--dev-bind", "/dev", "/dev"]).unwrap();
        assert!(o.ops.is_empty());
        assert_eq!(o.command, argv(&["--dev-bind", "/dev", "/dev"]));
        let o = run(&["--unshare-all", "--share-net", "ls", "--bind"]).unwrap();
        assert!(o.unshare_pid && o.unshare_ipc && o.unshare_uts && o.unshare_user_try && o.unshare_cgroup_try && !o.unshare_net);
        assert_eq!(o.command, argv(&["ls", "--bind"]));
    }

    #[test]
    fn environment_edits_apply_in_order() {
        let o = run(&["--setenv", "A", "1", "--unsetenv", "FOO", "--setenv", "HOME", "/h", "true"]).unwrap();
        assert_eq!(o.env, vec![("A".into(), "1".into()), ("HOME".into(), "/h".into())]);
        let o = run(&["--setenv", "A", "1", "--clearenv", "--setenv", "B", "2", "true"]).unwrap();
        assert_eq!(o.env, vec![("B".into(), "2".into())]);
    }

    #[test]
    fn overlay_sources_feed_the_next_overlay() {
        let o = run(&["--overlay-src", "/l1", "--overlay-src", "/l2", "--ro-overlay", "/o", "--overlay-src", "/l3", "--overlay", "/u", "/w", "/p", "true"])
            .unwrap();
        assert_eq!(o.ops[0], SetupOp::Overlay { kind: OverlayKind::Ro, srcs: argv(&["/l1", "/l2"]), dest: "/o".into() });
        assert_eq!(o.ops[1], SetupOp::Overlay { kind: OverlayKind::Rw { upper: "/u".into(), work: "/w".into() }, srcs: argv(&["/l3"]), dest: "/p".into() });
    }

    #[test]
    fn caps_start_from_the_callers_and_apply_in_order() {
        let mut no_fd = |_: i32| -> Result<Vec<u8>, String> { unreachable!() };
        let p = parse(
            &argv(&["--cap-drop", "ALL", "--cap-add", "cap_net_raw", "--cap-add", "CAP_KILL", "--cap-drop", "cap_kill", "true"]),
            vec![],
            all_caps(),
            &mut no_fd,
        );
        let Ok(Parsed::Run(o)) = p else { panic!() };
        assert_eq!(o.caps, Some(1 << 13));
        let o = run(&["--cap-add", "12", "true"]).unwrap();
        assert_eq!(o.caps, Some(1 << 12));
        assert_eq!(run(&["true"]).unwrap().caps, None);
    }

    #[test]
    fn args_fd_is_read_and_parsed_as_argv() {
        let mut fds = |fd: i32| -> Result<Vec<u8>, String> {
            match fd {
                3 => Ok(b"--dir\0/a\0--args\0".to_vec()),
                4 => Ok(b"--dir\0/b\0--setenv\0K\0V\0".to_vec()),
                _ => Err("Bad file descriptor".into()),
            }
        };
        let p = parse(&argv(&["--args", "4", "true"]), vec![], 0, &mut fds).unwrap();
        let Parsed::Run(o) = p else { panic!() };
        assert_eq!(o.ops, vec![SetupOp::Dir { dest: "/b".into(), perms: 0o755 }]);
        assert_eq!(o.env, vec![("K".into(), "V".into())]);
        assert_eq!(o.args_fds, vec![4]);
        assert_eq!(parse(&argv(&["--args", "3", "true"]), vec![], 0, &mut fds), Err("--args not supported in arguments file".into()));
        assert_eq!(parse(&argv(&["--args", "9", "true"]), vec![], 0, &mut fds), Err("Can't read --args data: Bad file descriptor".into()));
        let mut many = |_: i32| -> Result<Vec<u8>, String> { Ok(b"--new-session\0".repeat(MAX_ARGS + 1)) };
        assert_eq!(parse(&argv(&["--args", "5", "true"]), vec![], 0, &mut many), Err(format!("Exceeded maximum number of arguments {MAX_ARGS}")));
    }

    #[test]
    fn last_of_a_single_valued_option_wins_with_bubblewraps_warning() {
        let o = run(&["--chdir", "/a", "--chdir", "/b", "--info-fd", "3", "--info-fd", "4", "--uid", "1", "--uid", "2", "true"]).unwrap();
        assert_eq!((o.chdir.as_deref(), o.info_fd, o.uid), (Some("/b"), Some(4), Some(2)));
        assert_eq!(
            o.warnings,
            vec![
                "Only the last --chdir option will take effect",
                "Only the last --info-fd option will take effect",
                "Only the last --uid option will take effect"
            ]
        );
    }

    #[test]
    fn every_missing_value_has_bubblewraps_message() {
        for (flag, msg) in [
            ("--args", "--args takes an argument"),
            ("--argv0", "--argv0 takes one argument"),
            ("--chdir", "--chdir takes one argument"),
            ("--remount-ro", "--remount-ro takes one argument"),
            ("--bind", "--bind takes two arguments"),
            ("--bind-try", "--bind-try takes two arguments"),
            ("--ro-bind", "--ro-bind takes two arguments"),
            ("--ro-bind-try", "--ro-bind-try takes two arguments"),
            ("--dev-bind", "--dev-bind takes two arguments"),
            ("--dev-bind-try", "--dev-bind-try takes two arguments"),
            ("--bind-fd", "--bind-fd takes two arguments"),
            ("--ro-bind-fd", "--bind-fd takes two arguments"),
            ("--overlay-src", "--overlay-src takes an argument"),
            ("--proc", "--proc takes an argument"),
            ("--exec-label", "--exec-label takes an argument"),
            ("--file-label", "--file-label takes an argument"),
            ("--dev", "--dev takes an argument"),
            ("--tmpfs", "--tmpfs takes an argument"),
            ("--mqueue", "--mqueue takes an argument"),
            ("--dir", "--dir takes an argument"),
            ("--file", "--file takes two arguments"),
            ("--bind-data", "--bind-data takes two arguments"),
            ("--ro-bind-data", "--ro-bind-data takes two arguments"),
            ("--symlink", "--symlink takes two arguments"),
            ("--lock-file", "--lock-file takes an argument"),
            ("--sync-fd", "--sync-fd takes an argument"),
            ("--block-fd", "--block-fd takes an argument"),
            ("--userns-block-fd", "--userns-block-fd takes an argument"),
            ("--info-fd", "--info-fd takes an argument"),
            ("--json-status-fd", "--json-status-fd takes an argument"),
            ("--seccomp", "--seccomp takes an argument"),
            ("--add-seccomp-fd", "--add-seccomp-fd takes an argument"),
            ("--userns", "--userns takes an argument"),
            ("--userns2", "--userns2 takes an argument"),
            ("--pidns", "--pidns takes an argument"),
            ("--setenv", "--setenv takes two arguments"),
            ("--unsetenv", "--unsetenv takes an argument"),
            ("--uid", "--uid takes an argument"),
            ("--gid", "--gid takes an argument"),
            ("--hostname", "--hostname takes an argument"),
            ("--cap-add", "--cap-add takes an argument"),
            ("--cap-drop", "--cap-drop takes an argument"),
            ("--perms", "--perms takes an argument"),
            ("--size", "--size takes an argument"),
            ("--chmod", "--chmod takes two arguments"),
        ] {
            assert_eq!(err(&[flag]), msg, "{flag}");
        }
        assert_eq!(err(&["--overlay", "a", "b"]), "--overlay takes three arguments");
        assert_eq!(err(&["--tmp-overlay"]), "--tmp-overlay takes an argument");
        assert_eq!(err(&["--ro-overlay"]), "--ro-overlay takes an argument");
    }

    #[test]
    fn bad_values_have_bubblewraps_messages() {
        for fd_flag in [
            "--sync-fd",
            "--block-fd",
            "--userns-block-fd",
            "--info-fd",
            "--json-status-fd",
            "--seccomp",
            "--add-seccomp-fd",
            "--userns",
            "--userns2",
            "--pidns",
            "--args",
        ] {
            for bad in ["", "x", "-1", "3x", "99999999999"] {
                assert_eq!(err(&[fd_flag, bad, "true"]), format!("Invalid fd: {bad}"), "{fd_flag} {bad:?}");
            }
        }
        assert_eq!(err(&["--file", "x", "/f", "true"]), "Invalid fd: x");
        assert_eq!(err(&["--bind-data", "-2", "/f", "true"]), "Invalid fd: -2");
        assert_eq!(err(&["--ro-bind-data", "", "/f", "true"]), "Invalid fd: ");
        assert_eq!(err(&["--bind-fd", "a", "/f", "true"]), "Invalid fd: a");
        assert_eq!(err(&["--uid", "-1", "true"]), "Invalid uid: -1");
        assert_eq!(err(&["--gid", "g", "true"]), "Invalid gid: g");
        assert_eq!(err(&["--cap-add", "CAP_NOPE", "true"]), "unknown cap: CAP_NOPE");
        assert_eq!(err(&["--cap-drop", "kill", "true"]), "unknown cap: kill");
        for bad in ["", "8", "10000", "-1", "7x"] {
            assert_eq!(err(&["--perms", bad, "--dir", "/d", "true"]), "--perms takes an octal argument <= 07777", "{bad:?}");
            assert_eq!(err(&["--chmod", bad, "/d", "true"]), "--chmod takes an octal argument <= 07777", "{bad:?}");
        }
        for bad in ["0", "123bogus", "", "-12345678", " -12345678", "18446744073709551616"] {
            assert_eq!(err(&["--size", bad, "--tmpfs", "/t", "true"]), "--size takes a non-zero number of bytes", "{bad:?}");
        }
        assert_eq!(err(&["--size", "9223372036854775809", "--tmpfs", "/t", "true"]), format!("--size (for tmpfs) is limited to {MAX_TMPFS_BYTES}"));
        assert_eq!(
            run(&["--size", "0x100000", "--tmpfs", "/t", "true"]).unwrap().ops[0],
            SetupOp::Tmpfs { dest: "/t".into(), perms: 0o755, size: Some(1 << 20) }
        );
        assert_eq!(err(&["--setenv", "A=B", "v", "true"]), "setenv: Invalid argument");
        assert_eq!(err(&["--unsetenv", "", "true"]), "unsetenv: Invalid argument");
        assert_eq!(err(&["--exec-label", "l", "true"]), "labeling not supported on this system");
        assert_eq!(err(&["--bogus", "true"]), "Unknown option --bogus");
        assert_eq!(err(&["-x"]), "Unknown option -x");
    }

    #[test]
    fn order_rules_have_bubblewraps_messages() {
        assert_eq!(err(&["--perms", "0700", "--perms", "0700", "--dir", "/d", "true"]), "--perms given twice for the same action");
        assert_eq!(err(&["--size", "1", "--size", "1", "--tmpfs", "/d", "true"]), "--size given twice for the same action");
        assert_eq!(err(&["--perms", "0700", "--proc", "/p", "true"]), "--perms must be followed by an option that creates a file");
        assert_eq!(err(&["--size", "1", "--dir", "/d", "true"]), "--size must be followed by --tmpfs");
        assert_eq!(
            err(&["--overlay-src", "/l", "--dir", "/d", "true"]),
            "--overlay-src must be followed by another --overlay-src or one of --overlay, --tmp-overlay, or --ro-overlay"
        );
        assert_eq!(err(&["--overlay", "/u", "/w", "/d", "true"]), "--overlay requires at least one --overlay-src");
        assert_eq!(err(&["--tmp-overlay", "/d", "true"]), "--tmp-overlay requires at least one --overlay-src");
        assert_eq!(err(&["--overlay-src", "/l", "--ro-overlay", "/d", "true"]), "--ro-overlay requires at least two --overlay-src");
        assert_eq!(err(&["--argv0", "a", "--argv0", "b", "true"]), "--argv0 used multiple times");
        assert_eq!(err(&["--seccomp", "3", "--add-seccomp-fd", "4", "true"]), "--add-seccomp-fd cannot be combined with --seccomp");
        assert_eq!(err(&["--add-seccomp-fd", "4", "--seccomp", "3", "true"]), "--seccomp cannot be combined with --add-seccomp-fd");
    }
}
