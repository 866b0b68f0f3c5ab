//! Stage: `sandboxctl run`'s argv → the plan, for the flags the front-end
//! takes itself. Inputs: the arguments after `run`, the current directory,
//! and with `--image` the caller's `USER`, `HOME` and `TMPDIR` (the image
//! preset reads them: packages/core/src/presets/image.ts).
//! Output: the plan exactly as the Node CLI's `resolvePlan` makes it
//! (packages/cli/src/flags.ts PLAN_FLAGS, packages/core/src/plan/builder.ts,
//! compose.ts, sources.ts: same keys in the same order, same values), and
//! for each op the flag as typed (`--bind a b`, for errors), or `None`.
//!
//! Invariant: `None` for anything this module does not reproduce exactly —
//! a flag outside the subset, `--flag=value`, `-h` anywhere, a value
//! starting with `-` or empty, a number or mode the table's validators
//! might read otherwise, a misplaced `--perms`/`--size`, a setting that
//! excludes another — so the Node CLI decides (and prints its own error).
//! The front-end is never looser: the launcher checks the plan it gets
//! with the same Rust check either way.

use crate::json::{Obj, J};

/// What an op flag adds (packages/core/src/plan/builder.ts).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    /// `--bind` and its kin: writable, device, optional.
    Bind(bool, bool, bool),
    Proc,
    Dev,
    Tmpfs,
    Dir,
    Symlink,
    FileData,
    Remount,
    Mqueue,
    Chmod,
    Autoetc,
    Autoroot,
    Passwd,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Op(Op),
    Perms,
    Size,
    /// A policy or source flag (its name says what it does).
    Other,
    /// `--image` and the flags that shape the image preset ([`image_layer`]).
    Image,
    /// `--join` and its kin: not the plan's, how the run meets its peers ([`join_args`]).
    Join,
}

struct Spec {
    flag: &'static str,
    arity: usize,
    /// Every occurrence counts; otherwise the last one decides, in its place.
    repeat: bool,
    kind: Kind,
}

const fn s(flag: &'static str, arity: usize, repeat: bool, kind: Kind) -> Spec {
    Spec { flag, arity, repeat, kind }
}

/// The subset of PLAN_FLAGS the front-end takes (docs/internals.md).
const SUBSET: &[Spec] = &[
    s("--bind", 2, true, Kind::Op(Op::Bind(true, false, false))),
    s("--bind-try", 2, true, Kind::Op(Op::Bind(true, false, true))),
    s("--ro-bind", 2, true, Kind::Op(Op::Bind(false, false, false))),
    s("--ro-bind-try", 2, true, Kind::Op(Op::Bind(false, false, true))),
    s("--dev-bind", 2, true, Kind::Op(Op::Bind(true, true, false))),
    s("--dev-bind-try", 2, true, Kind::Op(Op::Bind(true, true, true))),
    s("--proc", 1, true, Kind::Op(Op::Proc)),
    s("--dev", 1, true, Kind::Op(Op::Dev)),
    s("--tmpfs", 1, true, Kind::Op(Op::Tmpfs)),
    s("--dir", 1, true, Kind::Op(Op::Dir)),
    s("--symlink", 2, true, Kind::Op(Op::Symlink)),
    s("--file-data", 2, true, Kind::Op(Op::FileData)),
    s("--remount-ro", 1, true, Kind::Op(Op::Remount)),
    s("--mqueue", 1, true, Kind::Op(Op::Mqueue)),
    s("--chmod", 2, true, Kind::Op(Op::Chmod)),
    s("--autoetc", 1, true, Kind::Op(Op::Autoetc)),
    s("--autoroot", 1, true, Kind::Op(Op::Autoroot)),
    s("--passwd", 1, true, Kind::Op(Op::Passwd)),
    s("--perms", 1, true, Kind::Perms),
    s("--size", 1, true, Kind::Size),
    s("--share-net", 0, false, Kind::Other),
    s("--unshare-net", 0, false, Kind::Other),
    s("--unshare-all", 0, false, Kind::Other),
    s("--unshare-user", 0, false, Kind::Other),
    s("--unshare-user-try", 0, false, Kind::Other),
    s("--unshare-pid", 0, false, Kind::Other),
    s("--unshare-ipc", 0, false, Kind::Other),
    s("--unshare-uts", 0, false, Kind::Other),
    s("--unshare-cgroup", 0, false, Kind::Other),
    s("--unshare-cgroup-try", 0, false, Kind::Other),
    s("--die-with-parent", 0, false, Kind::Other),
    s("--new-session", 0, false, Kind::Other),
    s("--uid", 1, false, Kind::Other),
    s("--gid", 1, false, Kind::Other),
    s("--hostname", 1, false, Kind::Other),
    s("--chdir", 1, false, Kind::Other),
    s("--setenv", 2, true, Kind::Other),
    s("--unsetenv", 1, true, Kind::Other),
    s("--clearenv", 0, false, Kind::Other),
    s("--seccomp", 1, false, Kind::Other),
    s("--linger-ms", 1, false, Kind::Other),
    s("--cap-add", 1, true, Kind::Other),
    s("--cap-drop", 1, true, Kind::Other),
    s("--argv0", 1, false, Kind::Other),
    s("--keep-session", 0, false, Kind::Other),
    s("--tty", 0, false, Kind::Other),
    s("--allow-signals", 0, false, Kind::Other),
    s("--allow-abstract-unix", 0, false, Kind::Other),
    s("--no-config", 0, false, Kind::Other),
    s("--image", 1, false, Kind::Image),
    s("--write", 0, false, Kind::Image),
    s("--write-fake", 0, false, Kind::Image),
    s("--write-fake-size", 1, false, Kind::Image),
    s("--home", 0, false, Kind::Image),
    s("--private-tmp", 0, false, Kind::Image),
    s("--cd", 1, false, Kind::Image),
    s("--join", 0, false, Kind::Join),
    s("--join-ct", 1, false, Kind::Join),
    s("--join-tag", 1, false, Kind::Join),
    s("--join-timeout", 1, false, Kind::Join),
    s("--join-pid", 1, false, Kind::Join),
];

fn spec(flag: &str) -> Option<&'static Spec> {
    SUBSET.iter().find(|s| s.flag == flag)
}

/// One flag as given.
struct Occurrence<'a> {
    spec: &'static Spec,
    /// `--no-tty`.
    negated: bool,
    values: &'a [String],
}

/// The plan of `sandboxctl run ARGS` when the front-end takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    /// As `sandboxctl plan --json` prints it (before run's terminal default).
    pub plan: Obj,
    /// The flag and values each op came from, as the Node CLI names them in errors.
    pub origins: Vec<String>,
    /// Whether the config file search applies (no `--no-config`).
    pub discover_config: bool,
    /// How many ops at the start are the image preset's (their origins say so).
    pub preset_ops: usize,
    /// An image is the root (`--image`).
    pub image: bool,
    /// `--write` was given (a hint names it when the image cannot be written).
    pub write: bool,
    /// A peer of a group (`--join`…) or a run in a running sandbox
    /// (`--join-pid`): `sandboxctl-init join`'s arguments after `--plan-fd 3`.
    pub join: Option<Vec<String>>,
}

impl RunPlan {
    fn has(&self, key: &str) -> bool {
        self.plan.get(key).is_some()
    }

    /// `plan.newSession !== false`.
    pub fn new_session(&self) -> bool {
        !matches!(self.plan.get("newSession"), Some(Some(J::Bool(false))))
    }

    /// `--tty` / `--no-tty` as given.
    pub fn tty(&self) -> Option<bool> {
        match self.plan.get("tty") {
            Some(Some(J::Bool(b))) => Some(*b),
            _ => None,
        }
    }

    /// A `dev` op on `/dev` (packages/core/src/launcher/terminal.ts `canUseTty`).
    pub fn private_dev(&self) -> bool {
        let Some(Some(J::Arr(ops))) = self.plan.get("ops") else { return false };
        ops.iter().any(|op| {
            let J::Obj(o) = op else { return false };
            matches!(o.get("kind"), Some(Some(J::Str(k))) if k == "dev")
                && matches!(o.get("target"), Some(Some(J::Str(t))) if t.trim_end_matches('/') == "/dev")
        })
    }

    /// run's default: a pseudo-terminal when stdin and stdout are terminals
    /// (packages/cli/src/commands/run.ts); a peer passes its own stdio.
    pub fn default_tty(&mut self, can: bool) {
        if !self.has("tty") && can && self.join.is_none() {
            self.plan.set("tty", J::Bool(true));
        }
    }
}

/// The caller's environment as Node's `process.env` reads it: `None` for
/// a variable set to bytes that are not UTF-8 (Node's decoding is Node's),
/// `Some(None)` for one not set.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<Option<String>>;

/// This process's environment.
pub fn real_env(name: &str) -> Option<Option<String>> {
    match std::env::var_os(name) {
        None => Some(None),
        Some(v) => v.into_string().ok().map(Some),
    }
}

/// The plan for `run ARGS` (`args` after `run`), or `None`: the Node CLI takes it.
pub fn plan(args: &[String], cwd: &str) -> Option<RunPlan> {
    plan_in(args, cwd, &real_env)
}

/// [`plan`] with the caller's environment given.
pub fn plan_in(args: &[String], cwd: &str, env: Env) -> Option<RunPlan> {
    let (found, argv, json) = scan(args, cwd, false)?;
    if json {
        return None;
    }
    build(&found, argv, cwd, env)
}

/// The plan for `explain ARGS` and whether `--json` was given, or `None`:
/// the Node CLI takes it. The program is optional there, and it is a rest
/// list, not a proxy: a later argument that looks like a flag is parsed as
/// one by the Node CLI, so such a command line is Node's.
pub fn explain_plan(args: &[String], cwd: &str) -> Option<(RunPlan, bool)> {
    let (found, argv, json) = scan(args, cwd, true)?;
    // explain words no peer group: Node's (its flag table decides).
    if found.iter().any(|o| o.spec.kind == Kind::Join) {
        return None;
    }
    Some((build(&found, argv, cwd, &real_env)?, json))
}

/// The flags up to `--` or the program, as scanFlagOrder reads them, and
/// the program's argv; `explain`: the program may be absent, and `--json` is a flag.
fn scan<'a>(args: &'a [String], cwd: &str, explain: bool) -> Option<(Vec<Occurrence<'a>>, &'a [String], bool)> {
    if args.iter().any(|a| a == "-h" || a == "--help") || !cwd.starts_with('/') {
        return None;
    }
    let mut found = Vec::new();
    let mut json = false;
    let mut i = 0;
    let argv = loop {
        let Some(arg) = args.get(i) else {
            if explain {
                break &args[i..];
            }
            return None;
        };
        if arg == "--" {
            break &args[i + 1..];
        }
        if !arg.starts_with('-') {
            if explain && args[i + 1..].iter().any(|a| a.starts_with('-')) {
                return None;
            }
            break &args[i..];
        }
        if explain && arg == "--json" {
            json = true;
            i += 1;
            continue;
        }
        let (spec, negated) = match spec(arg) {
            Some(s) => (s, false),
            None if arg == "--no-tty" => (spec("--tty")?, true),
            None => return None,
        };
        let values = args.get(i + 1..i + 1 + spec.arity)?;
        if values.iter().any(|v| v.is_empty() || v.starts_with('-')) {
            return None;
        }
        found.push(Occurrence { spec, negated, values });
        i += 1 + spec.arity;
    };
    if argv.is_empty() && !explain {
        return None;
    }
    if argv.first().is_some_and(|a| a.is_empty() || a == "-") {
        return None;
    }
    Some((found, argv, json))
}

/// The one ordered pass (flags.ts `applyFlags`) and the composition (compose.ts, sources.ts).
fn build(found: &[Occurrence], argv: &[String], cwd: &str, getenv: Env) -> Option<RunPlan> {
    let last = |flag: &str| found.iter().rposition(|o| o.spec.flag == flag);
    let on = |flag: &str| last(flag).is_some_and(|i| !found[i].negated);
    // The schema: --share-net and --unshare-net exclude each other (clipanion's error).
    if on("--share-net") && on("--unshare-net") {
        return None;
    }
    let mut policy = Obj::default();
    let mut env: Option<Obj> = None;
    let mut ops: Vec<J> = Vec::new();
    let mut origins = Vec::new();
    let (mut perms, mut size): (Option<u64>, Option<u64>) = (None, None);
    for (position, o) in found.iter().enumerate() {
        let v = |k: usize| o.values[k].as_str();
        if !o.spec.repeat && last(o.spec.flag) != Some(position) {
            continue;
        }
        match o.spec.kind {
            Kind::Perms => {
                if perms.is_some() || !v(0).bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                    return None;
                }
                // parseInt(text, 8), at most 0o7777 (a longer one is the table's usage error).
                let digits = v(0).trim_start_matches('0');
                if digits.len() > 4 {
                    return None;
                }
                perms = Some(if digits.is_empty() { 0 } else { u64::from_str_radix(digits, 8).ok()? });
            }
            Kind::Size => {
                if size.is_some() {
                    return None;
                }
                size = Some(number(v(0), 1, (1 << 53) - 1)?);
            }
            Kind::Op(op) => {
                let takes_perms = matches!(op, Op::Tmpfs | Op::Dir | Op::FileData);
                if (perms.is_some() && !takes_perms) || (size.is_some() && op != Op::Tmpfs) {
                    return None;
                }
                let target = |t: &str| ("target", J::str(t));
                let mut fields: Vec<(&str, J)> = vec![("kind", J::str(op_kind(op)))];
                match op {
                    Op::Bind(writable, device, optional) => {
                        fields.extend([("source", J::str(v(0))), target(v(1))]);
                        for (on, name) in [(writable, "writable"), (device, "device"), (optional, "optional")] {
                            if on {
                                fields.push((name, J::Bool(true)));
                            }
                        }
                    }
                    Op::Tmpfs => {
                        fields.push(target(v(0)));
                        fields.extend(size.take().map(|b| ("size", J::Num(b))));
                        fields.extend(perms.take().map(|m| ("mode", J::Num(m))));
                    }
                    Op::Dir => {
                        fields.push(target(v(0)));
                        fields.extend(perms.take().map(|m| ("mode", J::Num(m))));
                    }
                    Op::Symlink => fields.extend([target(v(1)), ("linkname", J::str(v(0)))]),
                    Op::FileData => {
                        fields.extend([target(v(1)), ("data", J::str(v(0)))]);
                        fields.extend(perms.take().map(|m| ("mode", J::Num(m))));
                    }
                    Op::Chmod => {
                        if !(1..=4).contains(&v(0).len()) || !v(0).bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                            return None;
                        }
                        fields.extend([target(v(1)), ("mode", J::Num(u64::from_str_radix(v(0), 8).ok()?))]);
                    }
                    _ => fields.push(target(v(0))),
                }
                // ownLayer: relative op paths against the current directory.
                let fields = fields.into_iter().map(|(k, j)| match (k, j) {
                    ("source" | "target", J::Str(p)) if !p.starts_with('/') => (k, J::Str(resolve(cwd, &p))),
                    other => other,
                });
                ops.push(J::obj(fields.collect()));
                let typed: Vec<String> = std::iter::once(o.spec.flag).chain(o.values.iter().map(String::as_str)).map(shell_word).collect();
                origins.push(typed.join(" "));
            }
            Kind::Other => apply(o, &mut policy, &mut env, cwd)?,
            Kind::Image | Kind::Join => {}
        }
    }
    // A modifier not followed by its op (flags.ts: a usage error).
    if perms.is_some() || size.is_some() {
        return None;
    }
    // bubblewrap's --unshare-net/--unshare-all say "no network"; --share-net wins.
    if !on("--share-net") && (on("--unshare-net") || on("--unshare-all")) {
        policy.set("network", J::str("none"));
    }
    let value = |flag: &str| last(flag).map(|i| found[i].values[0].as_str());
    let image = value("--image");
    let write = on("--write");
    let mut plan = Obj::default();
    plan.set("version", J::Num(1));
    plan.set("argv", J::Arr(argv.iter().map(|a| J::str(a)).collect()));
    let mut preset_ops = 0;
    let mut root = None;
    let mut env = env.map(J::Obj);
    match image {
        None => {
            // plan-command.ts imageOption: the image's flags without it are a usage error.
            if found.iter().any(|o| o.spec.kind == Kind::Image) {
                return None;
            }
        }
        Some(path) => {
            let fake = on("--write-fake");
            let given = ImageFlags {
                path,
                write,
                fake,
                fake_size: value("--write-fake-size"),
                home: on("--home"),
                private_tmp: on("--private-tmp"),
                cd: value("--cd"),
            };
            let layer = image_layer(&given, cwd, getenv)?;
            // compose.ts: the preset's policy first, the flags' replacing it in place.
            plan.0.extend(layer.policy.0);
            preset_ops = layer.ops.len();
            let mut own = std::mem::take(&mut ops);
            ops = layer.ops;
            ops.append(&mut own);
            origins = layer.origins.into_iter().chain(origins).collect();
            env = Some(image_env(env, layer.steps));
            root = Some(layer.root);
        }
    }
    for (k, v) in policy.0 {
        match v {
            Some(v) => plan.set(&k, v),
            None => plan.set_undefined(&k),
        }
    }
    plan.set("ops", J::Arr(ops));
    if let Some(env) = env {
        plan.set("env", env);
    }
    if let Some(root) = root {
        plan.set("root", root);
    }
    let join = if found.iter().any(|o| o.spec.kind == Kind::Join) {
        let flags = JoinFlags {
            group: on("--join") || ["--join-ct", "--join-tag", "--join-timeout"].iter().any(|f| last(f).is_some()),
            count: value("--join-ct"),
            tag: value("--join-tag"),
            timeout: value("--join-timeout"),
            pid: value("--join-pid"),
        };
        // run.ts joinSpec: a pseudo-terminal is refused (each peer passes its own stdio).
        if on("--tty") {
            return None;
        }
        Some(join_args(&flags, getenv, parent_pid())?)
    } else {
        None
    };
    Some(RunPlan { plan, origins, discover_config: !on("--no-config"), preset_ops, image: image.is_some(), write, join })
}

/// The `--join` flags as given (packages/cli/src/commands/run.ts `joinSpec`).
struct JoinFlags<'a> {
    /// `--join`, `--join-ct`, `--join-tag` or `--join-timeout`.
    group: bool,
    count: Option<&'a str>,
    tag: Option<&'a str>,
    timeout: Option<&'a str>,
    pid: Option<&'a str>,
}

/// The largest count or pid (launcher/join.ts INT_MAX).
const INT_MAX: u64 = (1 << 31) - 1;

/// Digits only, 1 to INT_MAX (join.ts `parseJoinCount`, `parseJoinPid`).
fn count_or_pid(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u64>().ok().filter(|n| (1..=INT_MAX).contains(n))
}

/// `sandboxctl-init join`'s arguments as launcher/join.ts `resolveJoin` and
/// `joinArgs` make them, or `None` for anything Node words an error for (a
/// bad count, tag, timeout or pid, `--join-pid` beside the group's flags,
/// no group size in the environment) or reads otherwise (a timeout that is
/// not plain digits with at most three decimals).
fn join_args(f: &JoinFlags, getenv: Env, ppid: u32) -> Option<Vec<String>> {
    if let Some(pid) = f.pid {
        if f.group {
            return None;
        }
        return Some(vec!["--pid".into(), count_or_pid(pid)?.to_string()]);
    }
    let count = match f.count {
        Some(c) => count_or_pid(c)?,
        None => {
            // countFromEnv: the first set of these, its leading digits.
            let mut found = None;
            for name in ["OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_STEP_TASKS_PER_NODE", "SLURM_CPUS_ON_NODE"] {
                match getenv(name)? {
                    Some(v) if !v.is_empty() => {
                        let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
                        let n = digits.parse::<u64>().ok().filter(|n| (1..=INT_MAX).contains(n))?;
                        found = Some(n);
                        break;
                    }
                    _ => {}
                }
            }
            found?
        }
    };
    let tag = match f.tag {
        Some(t) => t.to_string(),
        // tagFromEnv: SLURM_JOB_ID.SLURM_STEP_ID under Slurm, else the parent's pid.
        None => match getenv("SLURM_STEP_ID")? {
            Some(step) if !step.is_empty() => match getenv("SLURM_JOB_ID")? {
                Some(job) if !job.is_empty() => format!("{job}.{step}"),
                _ => step,
            },
            _ => ppid.to_string(),
        },
    };
    if tag.is_empty() || tag.len() > 58 || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-') {
        return None;
    }
    let ms = match f.timeout {
        None => 30_000,
        Some(t) => {
            let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
            let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
            if whole.is_empty() || whole.len() > 5 || frac.len() > 3 || !digits(whole) || !digits(frac) || (t.contains('.') && frac.is_empty()) {
                return None;
            }
            let seconds: f64 = t.parse().ok()?;
            if seconds <= 0.0 || seconds > 86_400.0 {
                return None;
            }
            // Math.ceil(seconds * 1000), in the same doubles.
            (seconds * 1000.0).ceil() as u64
        }
    };
    Some(vec!["--tag".into(), tag, "--count".into(), count.to_string(), "--timeout-ms".into(), ms.to_string()])
}

/// This process's parent (Node's `process.ppid`: the bin execs the front, which would exec Node).
fn parent_pid() -> u32 {
    // SAFETY: getppid has no failure and no memory effects.
    unsafe { libc::getppid() as u32 }
}

/// The image flags as given (plan-command.ts `imageOption`).
struct ImageFlags<'a> {
    path: &'a str,
    write: bool,
    fake: bool,
    fake_size: Option<&'a str>,
    home: bool,
    private_tmp: bool,
    cd: Option<&'a str>,
}

/// The image preset's layer (presets/image.ts `resolveImagePreset`) and the root (sources.ts `imageRoot`).
struct ImageLayer {
    ops: Vec<J>,
    origins: Vec<String>,
    policy: Obj,
    steps: Vec<J>,
    root: J,
}

/// ch-run's BINDS_DEFAULT, optional ones (presets/image.ts IMAGE_HOST_FILES): path, writable, why.
const IMAGE_HOST_FILES: [(&str, bool, &str); 12] = [
    ("/etc/hosts", false, "host names of the cluster"),
    ("/etc/resolv.conf", false, "the host's DNS resolver"),
    ("/etc/machine-id", false, "the host's machine id"),
    ("/var/lib/hugetlbfs", true, "Cray hugepages (MPI allocates there)"),
    ("/etc/opt/cray/wlm_detect", false, "Cray workload manager detection"),
    ("/opt/cray/wlm_detect", false, "Cray workload manager detection"),
    ("/opt/cray/alps", false, "Cray ALPS"),
    ("/opt/cray/udreg", false, "Cray Gemini/Aries interconnect"),
    ("/opt/cray/ugni", false, "Cray Gemini/Aries interconnect"),
    ("/opt/cray/xpmem", false, "Cray XPMEM"),
    ("/var/opt/cray/alps", false, "Cray ALPS"),
    ("/var/spool/slurmd", false, "Slurm (Cray Shasta/Slingshot)"),
];

/// The layer `--image` brings, or `None` for anything Node words an error
/// for (a write flag without its pair, `--home` without `$USER`/`$HOME`, a
/// relative `--cd`) or would spell differently (a `$TMPDIR` not in normal form).
fn image_layer(f: &ImageFlags, cwd: &str, getenv: Env) -> Option<ImageLayer> {
    if (f.fake_size.is_some() && !f.fake) || (f.write && f.fake) {
        return None;
    }
    // sources.ts FAKE_SIZE: digits, then k, m, g or %.
    if let Some(size) = f.fake_size {
        let digits = size.trim_end_matches(['k', 'm', 'g', 'K', 'M', 'G', '%']);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || size.len() - digits.len() > 1 {
            return None;
        }
    }
    let home = if f.home {
        let user = getenv("USER")?.filter(|u| !u.is_empty() && !u.contains('/') && u != "." && u != "..")?;
        let host_home = getenv("HOME")?.filter(|h| h.starts_with('/'))?;
        Some((user, host_home))
    } else {
        None
    };
    let cd = f.cd.unwrap_or("/");
    if !cd.starts_with('/') {
        return None;
    }
    let mut ops = Vec::new();
    let mut origins = Vec::new();
    let mut add = |op: J, why: String| {
        ops.push(op);
        origins.push(format!("preset image: {why}"));
    };
    let bind = |source: &str, target: &str, more: &[(&str, J)]| {
        let mut o = vec![("kind", J::str("bind")), ("source", J::str(source)), ("target", J::str(target))];
        o.extend(more.iter().cloned());
        J::obj(o)
    };
    let yes = J::Bool(true);
    add(
        bind("/dev", "/dev", &[("writable", yes.clone()), ("device", yes.clone())]),
        "the host's devices (GPUs, interconnects, /dev/shm for MPI), as ch-run".into(),
    );
    add(
        J::obj(vec![("kind", J::str("proc")), ("target", J::str("/proc"))]),
        "processes of this sandbox only (ch-run shows the host's: it has no pid namespace)".into(),
    );
    add(bind("/sys", "/sys", &[]), "the host's /sys, read-only (ch-run's is writable where the host lets it)".into());
    for (path, writable, why) in IMAGE_HOST_FILES {
        let mut more = vec![("optional", yes.clone()), ("missingTarget", J::str("skip"))];
        if writable {
            more.push(("writable", yes.clone()));
        }
        add(bind(path, path, &more), format!("{why}; skipped when the host or the image lacks it"));
    }
    add(
        J::obj(vec![("kind", J::str("passwd")), ("target", J::str("/etc")), ("style", J::str("chRun"))]),
        "passwd and group in ch-run's form: you (or a stand-in), root and nobody".into(),
    );
    if f.private_tmp {
        add(
            J::obj(vec![("kind", J::str("tmpfs")), ("target", J::str("/tmp")), ("mode", J::Num(0o1777))]),
            "a private /tmp, gone after the run (--private-tmp)".into(),
        );
    } else {
        // posix.normalize($TMPDIR) when absolute: only a path already in normal form is taken here.
        let tmp = match getenv("TMPDIR")? {
            Some(t) if t.starts_with('/') => {
                if !crate::explain::normal(&t) {
                    return None;
                }
                t
            }
            _ => "/tmp".to_string(),
        };
        let why = if tmp == "/tmp" { "the host's /tmp on /tmp, as ch-run".to_string() } else { format!("the host's $TMPDIR ({tmp}) on /tmp, as ch-run") };
        add(bind(&tmp, "/tmp", &[("writable", yes.clone())]), why);
    }
    let mut steps = Vec::new();
    if let Some((user, host_home)) = &home {
        let inside = format!("/home/{user}");
        add(
            J::obj(vec![("kind", J::str("tmpfs")), ("target", J::str("/home")), ("mode", J::Num(0o755))]),
            "an empty /home over the image's, holding your home's mount point (--home, as ch-run 0.31)".into(),
        );
        add(bind(host_home, &inside, &[("writable", yes.clone())]), format!("your home {host_home} at {inside}, writable (--home)"));
        steps.push(J::obj(vec![("kind", J::str("set")), ("name", J::str("HOME")), ("value", J::Str(inside))]));
    }
    steps.push(J::obj(vec![("kind", J::str("appendPath")), ("name", J::str("PATH")), ("dir", J::str("/bin"))]));
    steps.push(J::obj(vec![("kind", J::str("unset")), ("glob", J::str("TMPDIR"))]));
    steps.push(J::obj(vec![
        ("kind", J::str("file")),
        ("path", J::str("/ch/environment")),
        ("scope", J::str("root")),
        ("expand", yes.clone()),
        ("optional", yes.clone()),
    ]));
    let mut policy = Obj::default();
    policy.set("network", J::str("host"));
    policy.set("seccomp", J::obj(vec![("preset", J::str("none"))]));
    policy.set("cwd", J::str(cd));
    // image.ts impliedWrite: --home writes fake unless the image is written.
    let write = if f.write {
        "writable"
    } else if f.fake || f.home {
        "fake"
    } else {
        "readOnly"
    };
    let mut root = vec![("image", J::Str(resolve(cwd, f.path))), ("write", J::str(write))];
    if let Some(size) = f.fake_size {
        root.push(("fakeSize", J::str(size)));
    }
    Some(ImageLayer { ops, origins, policy, steps, root: J::obj(root) })
}

/// compose.ts `mergeEnv({ inherit: true }, flags)`, then sources.ts's
/// steps: the preset's, and the marker last.
fn image_env(own: Option<J>, mut steps: Vec<J>) -> J {
    let mut env = match own {
        Some(J::Obj(o)) if matches!(o.get("inherit"), Some(Some(J::Bool(false)))) => o,
        Some(J::Obj(o)) => {
            let mut out = Obj::default();
            out.set("inherit", J::Bool(true));
            if let Some(Some(J::Arr(unset))) = o.get("unset") {
                if !unset.is_empty() {
                    out.set("unset", J::Arr(unset.clone()));
                }
            }
            if let Some(Some(J::Obj(set))) = o.get("set") {
                if !set.0.is_empty() {
                    out.set("set", J::Obj(set.clone()));
                }
            }
            out
        }
        _ => Obj(vec![("inherit".into(), Some(J::Bool(true)))]),
    };
    steps.push(J::obj(vec![("kind", J::str("set")), ("name", J::str("SANDBOXCTL_RUNNING")), ("value", J::str("1"))]));
    env.set("steps", J::Arr(steps));
    J::Obj(env)
}

/// A policy flag's part of the plan (builder.ts), at its place in argv.
fn apply(o: &Occurrence, policy: &mut Obj, env: &mut Option<Obj>, cwd: &str) -> Option<()> {
    let v = |k: usize| o.values[k].as_str();
    let on = !o.negated;
    const U32: u64 = 0xffff_ffff;
    match o.spec.flag {
        "--share-net" => policy.set("network", J::str("host")),
        "--uid" => policy.set("uid", J::Num(number(v(0), 0, U32)?)),
        "--gid" => policy.set("gid", J::Num(number(v(0), 0, U32)?)),
        "--hostname" => policy.set("hostname", J::str(v(0))),
        // sources.ts resolves the working directory, absolute or not.
        "--chdir" => policy.set("cwd", J::Str(resolve(cwd, v(0)))),
        "--argv0" => policy.set("argv0", J::str(v(0))),
        "--linger-ms" => policy.set("lingerMs", J::Num(number(v(0), 0, U32)?)),
        "--seccomp" => match v(0) {
            "strict" | "none" => policy.set("seccomp", J::obj(vec![("preset", J::str(v(0)))])),
            _ => return None,
        },
        "--cap-add" | "--cap-drop" => {
            let key = if o.spec.flag == "--cap-add" { "capAdd" } else { "capDrop" };
            let J::Arr(list) = policy.or_insert(key, J::Arr(Vec::new())) else { return None };
            list.push(J::str(v(0)));
        }
        "--keep-session" => policy.set("newSession", J::Bool(false)),
        "--tty" => policy.set("tty", J::Bool(on)),
        "--allow-signals" | "--allow-abstract-unix" => {
            let key = if o.spec.flag == "--allow-signals" { "allowSignals" } else { "allowAbstractUnix" };
            let J::Obj(l) = policy.or_insert("landlock", J::Obj(Obj::default())) else { return None };
            l.set(key, J::Bool(true));
        }
        "--clearenv" => *env = Some(Obj(vec![("inherit".into(), Some(J::Bool(false)))])),
        "--setenv" | "--unsetenv" => {
            // JavaScript puts integer-like keys first in an object, and
            // `set.__proto__ = v` sets no key: not reproduced.
            if v(0).bytes().all(|b| b.is_ascii_digit()) || v(0) == "__proto__" {
                return None;
            }
            let e = env.get_or_insert_with(Obj::default);
            if o.spec.flag == "--setenv" {
                setenv(e, v(0), v(1));
            } else {
                unsetenv(e, v(0));
            }
        }
        // Accepted for bubblewrap compatibility, or read elsewhere (--no-config).
        _ => {}
    }
    Some(())
}

/// builder.ts `setenv`: `env.unset = env.unset?.filter(...)` leaves the key
/// (undefined) in its place, which a later `unset` fills.
fn setenv(env: &mut Obj, name: &str, value: &str) {
    match env.get("unset").cloned() {
        Some(Some(J::Arr(list))) => {
            let kept: Vec<J> = list.into_iter().filter(|n| *n != J::str(name)).collect();
            if kept.is_empty() {
                env.delete("unset");
            } else {
                env.set("unset", J::Arr(kept));
            }
        }
        _ => env.set_undefined("unset"),
    }
    if let J::Obj(set) = env.or_insert("set", J::Obj(Obj::default())) {
        set.set(name, J::str(value));
    }
}

/// builder.ts `unsetenv`.
fn unsetenv(env: &mut Obj, name: &str) {
    if let Some(Some(J::Obj(set))) = env.get_mut("set") {
        if set.get(name).is_some() {
            set.delete(name);
            if set.0.is_empty() {
                env.delete("set");
            }
        }
    }
    let inherit = !matches!(env.get("inherit"), Some(Some(J::Bool(false))));
    let listed = matches!(env.get("unset"), Some(Some(J::Arr(l))) if l.contains(&J::str(name)));
    if inherit && !listed {
        if let J::Arr(list) = env.or_insert("unset", J::Arr(Vec::new())) {
            list.push(J::str(name));
        }
    }
}

fn op_kind(op: Op) -> &'static str {
    match op {
        Op::Bind(..) => "bind",
        Op::Proc => "proc",
        Op::Dev => "dev",
        Op::Tmpfs => "tmpfs",
        Op::Dir => "dir",
        Op::Symlink => "symlink",
        Op::FileData => "file",
        Op::Remount => "remount",
        Op::Mqueue => "mqueue",
        Op::Chmod => "chmod",
        Op::Autoetc => "autoetc",
        Op::Autoroot => "autoroot",
        Op::Passwd => "passwd",
    }
}

/// A decimal integer written plainly (`0`, `42`) within `min..=max`; other
/// spellings typanion may read (`0x10`, `1e3`, ` 7`) go to Node.
fn number(text: &str, min: u64, max: u64) -> Option<u64> {
    let plain = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && (text == "0" || !text.starts_with('0')) && text.len() <= 16;
    text.parse::<u64>().ok().filter(|n| plain && (min..=max).contains(n))
}

/// Node's `path.resolve(base, p)` for an absolute `base`.
pub fn resolve(base: &str, p: &str) -> String {
    let joined = if p.starts_with('/') { p.to_string() } else { format!("{base}/{p}") };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

/// A value as the Node CLI shows it in errors (flags.ts `shellWord`): cut
/// after 37 UTF-16 units when longer than 40, quoted unless plain.
pub fn shell_word(value: &str) -> String {
    let units: Vec<u16> = value.encode_utf16().collect();
    let cut = if units.len() > 40 { format!("{}...", String::from_utf16_lossy(&units[..37])) } else { value.to_string() };
    let plain = !cut.is_empty() && cut.chars().all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if plain {
        cut
    } else {
        format!("'{}'", cut.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    fn json(s: &[&str]) -> Option<String> {
        plan(&args(s), "/w/d").map(|p| J::Obj(p.plan).to_json())
    }

    #[test]
    fn builds_plans_as_the_node_cli() {
        assert_eq!(
            json(&["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--", "true"]).unwrap(),
            r#"{"version":1,"argv":["true"],"ops":[{"kind":"bind","source":"/","target":"/"},{"kind":"proc","target":"/proc"},{"kind":"dev","target":"/dev"}]}"#
        );
        assert_eq!(
            json(&["--hostname", "a", "--share-net", "--hostname", "b", "--unshare-all", "--clearenv", "--setenv", "B", "y", "--tty", "true", "x"]).unwrap(),
            r#"{"version":1,"argv":["true","x"],"network":"host","hostname":"b","tty":true,"ops":[],"env":{"inherit":false,"set":{"B":"y"}}}"#
        );
        assert_eq!(
            json(&["--setenv", "A", "1", "--unsetenv", "B", "--", "t"]).unwrap(),
            r#"{"version":1,"argv":["t"],"ops":[],"env":{"unset":["B"],"set":{"A":"1"}}}"#
        );
        assert_eq!(
            json(&["--perms", "0700", "--size", "4096", "--tmpfs", "t", "--symlink", "a", "../l", "--", "t"]).unwrap(),
            r#"{"version":1,"argv":["t"],"ops":[{"kind":"tmpfs","target":"/w/d/t","size":4096,"mode":448},{"kind":"symlink","target":"/w/l","linkname":"a"}]}"#
        );
    }

    #[test]
    fn leaves_the_rest_to_node() {
        for a in [
            &["--preset", "agent", "--", "t"][..],
            &["--bind=/", "/", "--", "t"],
            &["--ro-bind", "/", "/", "--", "t", "-h"],
            &["--seccomp", "loose", "--", "t"],
            &["--uid", "0x10", "--", "t"],
            &["--perms", "0700", "--proc", "/p", "--", "t"],
            &["--perms", "0700", "--", "t"],
            &["--perms", "17777", "--dir", "/d", "--", "t"],
            &["--share-net", "--unshare-net", "--", "t"],
            &["--setenv", "A", "-x", "--", "t"],
            &["--setenv", "1", "x", "--", "t"],
            &["--unsetenv", "__proto__", "--", "t"],
            &["--ro-bind", "/", "/", "--"],
            &["--ro-bind", "/", "/"],
            &["--ro-bind", "/", "/", "-", "x"],
            &["--report", "-", "--", "t"],
        ] {
            assert_eq!(json(a), None, "{a:?}");
        }
    }

    fn image_json(s: &[&str], vars: &[(&str, &str)]) -> Option<RunPlan> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let env = move |name: &str| Some(vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()));
        plan_in(&args(s), "/w/d", &env)
    }

    #[test]
    fn builds_the_image_preset_as_the_node_cli() {
        let p = image_json(
            &["--hostname", "h", "--image", "img", "--home", "--cd", "/c", "--chdir", "/x", "--tmpfs", "/t", "--setenv", "A", "1", "--", "t"],
            &[("USER", "u"), ("HOME", "/h/u"), ("TMPDIR", "/var/tmp")],
        )
        .unwrap();
        let j = J::Obj(p.plan.clone()).to_json();
        // The preset's policy first, the flags' replacing it in place (cwd) or after it (hostname).
        assert!(j.starts_with(r#"{"version":1,"argv":["t"],"network":"host","seccomp":{"preset":"none"},"cwd":"/x","hostname":"h","ops":[{"kind":"bind","source":"/dev","target":"/dev","writable":true,"device":true},"#), "{j}");
        assert!(j.contains(r#"{"kind":"bind","source":"/var/tmp","target":"/tmp","writable":true},{"kind":"tmpfs","target":"/home","mode":493},{"kind":"bind","source":"/h/u","target":"/home/u","writable":true},{"kind":"tmpfs","target":"/t"}]"#), "{j}");
        assert!(j.ends_with(r#""env":{"inherit":true,"set":{"A":"1"},"steps":[{"kind":"set","name":"HOME","value":"/home/u"},{"kind":"appendPath","name":"PATH","dir":"/bin"},{"kind":"unset","glob":"TMPDIR"},{"kind":"file","path":"/ch/environment","scope":"root","expand":true,"optional":true},{"kind":"set","name":"SANDBOXCTL_RUNNING","value":"1"}]},"root":{"image":"/w/d/img","write":"fake"}}"#), "{j}");
        assert_eq!((p.preset_ops, p.origins.len(), p.image, p.write), (19, 20, true, false));
        assert_eq!(p.origins[18], "preset image: your home /h/u at /home/u, writable (--home)");
        assert_eq!(p.origins[16], "preset image: the host's $TMPDIR (/var/tmp) on /tmp, as ch-run");
        assert_eq!(p.origins[19], "--tmpfs /t");
        // --private-tmp, --write, a size; no TMPDIR.
        let p = image_json(&["--image", "/i", "--write-fake", "--write-fake-size", "12%", "--private-tmp", "--", "t"], &[]).unwrap();
        let j = J::Obj(p.plan).to_json();
        assert!(j.contains(r#"{"kind":"tmpfs","target":"/tmp","mode":1023}],"env":{"inherit":true,"steps":[{"kind":"appendPath""#), "{j}");
        assert!(j.ends_with(r#""root":{"image":"/i","write":"fake","fakeSize":"12%"}}"#), "{j}");
        let p = image_json(&["--image", "/i", "--write", "--clearenv", "--", "t"], &[("TMPDIR", "rel")]).unwrap();
        assert!(p.write);
        let j = J::Obj(p.plan).to_json();
        assert!(j.contains(r#"{"kind":"bind","source":"/tmp","target":"/tmp","writable":true}],"env":{"inherit":false,"steps":["#), "{j}");
        assert!(j.ends_with(r#""root":{"image":"/i","write":"writable"}}"#), "{j}");
    }

    #[test]
    fn leaves_image_errors_to_node() {
        let home = [("USER", "u"), ("HOME", "/h")];
        for (a, vars) in [
            (&["--home", "--", "t"][..], &home[..]),
            (&["--write", "--", "t"], &[]),
            (&["--image", "i", "--write", "--write-fake", "--", "t"], &[]),
            (&["--image", "i", "--write-fake-size", "1G", "--", "t"], &[]),
            (&["--image", "i", "--write-fake", "--write-fake-size", "1x", "--", "t"], &[]),
            (&["--image", "i", "--write-fake", "--write-fake-size", "G", "--", "t"], &[]),
            (&["--image", "i", "--write-fake", "--write-fake-size", "1%%", "--", "t"], &[]),
            (&["--image", "i", "--cd", "rel", "--", "t"], &[]),
            (&["--image", "i", "--home", "--", "t"], &[]),
            (&["--image", "i", "--home", "--", "t"], &[("USER", ".."), ("HOME", "/h")]),
            (&["--image", "i", "--home", "--", "t"], &[("USER", "u"), ("HOME", "h")]),
            (&["--image", "i", "--", "t"], &[("TMPDIR", "/tmp/")]),
            (&["--image", "i", "--", "t"], &[("TMPDIR", "/a/../b")]),
            (&["--image", "i"], &[]),
        ] {
            assert!(image_json(a, vars).is_none(), "{a:?} {vars:?}");
        }
        // A variable Node would decode its own way.
        let undecodable = |_: &str| None;
        assert!(plan_in(&args(&["--image", "i", "--", "t"]), "/", &undecodable).is_none());
        assert!(plan_in(&args(&["--ro-bind", "/", "/", "--", "t"]), "/", &undecodable).is_some(), "no image: the environment is not read");
    }

    #[test]
    fn names_ops_as_typed() {
        let p = plan(&args(&["--bind", "a b", "/x", "--tmpfs", &"y".repeat(45), "--", "t"]), "/").unwrap();
        assert_eq!(p.origins, ["--bind 'a b' /x".to_string(), format!("--tmpfs {}...", "y".repeat(37))]);
        assert_eq!(resolve("/a/b", "../c/./d/"), "/a/c/d");
        assert_eq!(resolve("/a", "/x//y/.."), "/x");
    }

    #[test]
    fn joins_as_the_node_cli() {
        let join = |a: &[&str], vars: &[(&str, &str)]| image_json(a, vars).map(|p| p.join);
        let some = |v: &[&str]| Some(Some(args(v)));
        let slurm = [("SLURM_STEP_TASKS_PER_NODE", "4(x2)"), ("SLURM_JOB_ID", "77"), ("SLURM_STEP_ID", "3")];
        assert_eq!(join(&["--join", "--", "t"], &slurm), some(&["--tag", "77.3", "--count", "4", "--timeout-ms", "30000"]));
        // ch-run's order of the count's variables; a step alone is the tag.
        let ompi = [("OMPI_COMM_WORLD_LOCAL_SIZE", "2"), ("SLURM_CPUS_ON_NODE", "9"), ("SLURM_STEP_ID", "5")];
        assert_eq!(join(&["--join", "--", "t"], &ompi), some(&["--tag", "5", "--count", "2", "--timeout-ms", "30000"]));
        assert_eq!(
            join(&["--join-ct", "007", "--join-tag", "a.b-c_9", "--join-timeout", "1.001", "--", "t"], &[]),
            some(&["--tag", "a.b-c_9", "--count", "7", "--timeout-ms", "1001"])
        );
        // No tag anywhere: the parent's pid.
        let ppid = parent_pid().to_string();
        assert_eq!(join(&["--join-ct", "2", "--", "t"], &[]), some(&["--tag", &ppid, "--count", "2", "--timeout-ms", "30000"]));
        assert_eq!(join(&["--join-pid", "0042", "--", "t"], &[]), some(&["--pid", "42"]));
        assert_eq!(join(&["--no-tty", "--join-ct", "1", "--", "t"], &[]), some(&["--tag", &ppid, "--count", "1", "--timeout-ms", "30000"]));
        assert_eq!(join(&["--", "t"], &slurm), Some(None));
        // Every error is Node's to word; so is a number it reads its own way.
        for (a, vars) in [
            (&["--join", "--", "t"][..], &[][..]),
            (&["--join", "--", "t"], &[("SLURM_CPUS_ON_NODE", "x4")]),
            (&["--join", "--", "t"], &[("SLURM_CPUS_ON_NODE", "0")]),
            (&["--join-ct", "0", "--", "t"], &[]),
            (&["--join-ct", "2147483648", "--", "t"], &[]),
            (&["--join-ct", "2x", "--", "t"], &[]),
            (&["--join-ct", "2", "--join-tag", "a/b", "--", "t"], &[]),
            (&["--join-ct", "2", "--join-tag", &"a".repeat(59), "--", "t"], &[]),
            (&["--join-ct", "2", "--join-timeout", "0", "--", "t"], &[]),
            (&["--join-ct", "2", "--join-timeout", "86401", "--", "t"], &[]),
            (&["--join-ct", "2", "--join-timeout", "1e3", "--", "t"], &[]),
            (&["--join-ct", "2", "--join-timeout", "1.", "--", "t"], &[]),
            (&["--join-ct", "2", "--join-timeout", ".5", "--", "t"], &[]),
            (&["--join-ct", "2", "--tty", "--", "t"], &[]),
            (&["--join-pid", "5", "--join", "--", "t"], &slurm),
            (&["--join-pid", "5", "--join-tag", "x", "--", "t"], &[]),
            (&["--join-pid", "0", "--", "t"], &[]),
            (&["--join-pid", "-5", "--", "t"], &[]),
        ] {
            assert_eq!(join(a, vars), None, "{a:?} {vars:?}");
        }
        assert!(explain_plan(&args(&["--join-ct", "2", "--", "t"]), "/").is_none(), "explain with --join: Node's");
        // A pseudo-terminal is never the default of a peer.
        let mut p = image_json(&["--join-ct", "2", "--", "t"], &[]).unwrap();
        p.default_tty(true);
        assert_eq!(p.tty(), None);
    }
}
