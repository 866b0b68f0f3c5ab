//! `sandboxctl-front`: the native front of the `sandboxctl` command. The
//! package's `bin/sandboxctl` script starts it as `sandboxctl-front CLI_JS
//! ARGS...` (CLI_JS: the package's `bin/sandboxctl.js`) when the platform
//! package has it. It answers without Node what it can answer exactly:
//!
//! - `sandboxctl`, `--help`/`-h` and `--version`/`-v`: the bytes the Node
//!   CLI prints, which the build wrote into `dist/front/` beside CLI_JS
//!   (scripts/bundle-cli.mjs), plain or coloured as Node would decide;
//! - `run` with only the flags [`run`] reproduces, no sandboxctl.json found
//!   (packages/core/src/config: the current directory and its parents) and
//!   no `SANDBOXCTL_INIT` (Node would run that launcher): the plan is built
//!   here and run by [`monitor`] through the core's launcher, when the CLI
//!   package is of this front's version; with `--image` and its plain
//!   flags too (the image preset's layer, ch-run's defaults), and as a peer
//!   (`--join`, `--join-ct`, `--join-tag`, `--join-timeout`, `--join-pid`):
//!   then `sandboxctl-init join` beside this executable runs it, as Node
//!   spawns it;
//! - `explain` with those flags (the program optional, `--json`): the plan
//!   in words by [`explain`], as packages/core/src/explain.ts words it;
//! - `doctor` and `doctor --json` of a healthy install with no sandboxctl.json
//!   nearby: [`doctor`] asks one small `node -e` for Node's own facts (its
//!   version, the addon loaded) and gathers the rest itself.
//!
//! Everything else is one exec of `node CLI_JS ARGS...`, the same argv,
//! environment and fds. Invariant: what the front-end does itself is what
//! the Node CLI would do, byte for byte (the drift tests in
//! test/sandbox/front compare them); when in doubt it is Node's.

pub mod doctor;
pub mod explain;
pub mod json;
pub mod monitor;
pub mod resolve;
pub mod run;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// What the front-end does with a command line.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Print this file of `dist/front/` (help or version).
    Print(&'static str),
    Run(Box<run::RunPlan>),
    /// `explain` of this plan (`--json`: as JSON).
    Explain(Box<run::RunPlan>, bool),
    /// `doctor` (`--json`: as JSON).
    Doctor(bool),
    /// One exec of Node.
    Node,
}

/// Writes all of `bytes` to `fd`; false when the reader went away.
pub(crate) fn write_all(fd: i32, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        // SAFETY: writing from a live slice.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return false;
        }
        bytes = &bytes[n as usize..];
    }
    true
}

/// The status of a process killed by SIGPIPE, as the Node CLI exits on a broken pipe.
const BROKEN_PIPE: i32 = 141;

fn env(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

fn isatty(fd: i32) -> bool {
    // SAFETY: isatty only reads the fd's state.
    unsafe { libc::isatty(fd) == 1 }
}

/// Decides for `args` (the user's, after the CLI path).
pub fn decide(args: &[OsString], cwd: Option<&Path>) -> Action {
    // Node reads its arguments as UTF-8; anything else is Node's to decode.
    let Some(args) = args.iter().map(|a| a.to_str().map(String::from)).collect::<Option<Vec<String>>>() else { return Action::Node };
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => return colored("overview"),
        ["--help" | "-h"] => return colored("help"),
        ["--version" | "-v"] => return Action::Print("version.txt"),
        _ => {}
    }
    let Some(cwd) = cwd.and_then(Path::to_str) else { return Action::Node };
    match args[0].as_str() {
        "doctor" => {
            // diagnose.ts: the config a run here would use is checked for trust: Node's.
            let json = match &args[1..] {
                [] => false,
                [j] if j == "--json" => true,
                _ => return Action::Node,
            };
            if config_nearby(Path::new(cwd)) {
                return Action::Node;
            }
            Action::Doctor(json)
        }
        "explain" => {
            let Some((plan, json)) = run::explain_plan(&args[1..], cwd) else { return Action::Node };
            // explain shows an untrusted config for review: Node's.
            if plan.discover_config && config_nearby(Path::new(cwd)) {
                return Action::Node;
            }
            Action::Explain(Box::new(plan), json)
        }
        "run" if env("SANDBOXCTL_INIT").is_none_or(|v| v.is_empty()) => {
            let Some(plan) = run::plan(&args[1..], cwd) else { return Action::Node };
            if plan.discover_config && config_nearby(Path::new(cwd)) {
                return Action::Node;
            }
            Action::Run(Box::new(plan))
        }
        _ => Action::Node,
    }
}

/// A sandboxctl.json in `dir` or a parent, or one that cannot be looked at:
/// the Node CLI decides (findConfig in packages/core/src/config).
fn config_nearby(dir: &Path) -> bool {
    dir.ancestors().any(|d| match std::fs::metadata(d.join("sandboxctl.json")) {
        Ok(_) => true,
        Err(e) => e.kind() != std::io::ErrorKind::NotFound && e.raw_os_error() != Some(libc::ENOTDIR),
    })
}

fn colored(name: &'static str) -> Action {
    match color(isatty(1), &|n| env(n)) {
        Some(true) => Action::Print(if name == "help" { "help.color.txt" } else { "overview.color.txt" }),
        Some(false) => Action::Print(if name == "help" { "help.txt" } else { "overview.txt" }),
        None => Action::Node,
    }
}

/// Whether the Node CLI colours its help (packages/cli/src/help.ts
/// `colorDepthOf`, then Node 20's `getColorDepth` for a terminal); `None`:
/// a case left to Node (a value that is not UTF-8, or FORCE_COLOR beside
/// NO_COLOR or NODE_DISABLE_COLORS, where Node may warn).
pub fn color(tty: bool, get: &dyn Fn(&str) -> Option<OsString>) -> Option<bool> {
    let var = |n: &str| -> Result<Option<String>, ()> { get(n).map(|v| v.into_string().map_err(|_| ())).transpose() };
    let force = var("FORCE_COLOR").ok()?;
    let no_color = var("NO_COLOR").ok()?;
    if let Some(f) = force {
        if no_color.is_some() || get("NODE_DISABLE_COLORS").is_some() {
            return None;
        }
        return Some(!(f == "0" || f == "false"));
    }
    if no_color.as_deref().is_some_and(|v| !v.is_empty()) || !tty {
        return Some(false);
    }
    let term = var("TERM").ok()?;
    if get("NODE_DISABLE_COLORS").is_some() || no_color.is_some() || term.as_deref() == Some("dumb") {
        return Some(false);
    }
    let set = |n: &str| get(n).is_some_and(|v| !v.is_empty());
    if set("TMUX") {
        return Some(true);
    }
    if set("CI") {
        let signs = ["APPVEYOR", "BUILDKITE", "CIRCLECI", "DRONE", "GITHUB_ACTIONS", "GITLAB_CI", "TRAVIS"];
        return Some(signs.iter().any(|s| get(s).is_some()) || var("CI_NAME").ok()?.as_deref() == Some("codeship"));
    }
    if let Some(v) = var("TEAMCITY_VERSION").ok()? {
        // /^(9\.(0*[1-9]\d*)\.|\d{2,}\.)/
        let digits = v.bytes().take_while(u8::is_ascii_digit).count();
        let rest = &v[digits..];
        let nine = v.starts_with("9.") && {
            let after = &v[2..];
            let zeros = after.bytes().take_while(|&b| b == b'0').count();
            let n = after[zeros..].bytes().take_while(u8::is_ascii_digit).count();
            after.as_bytes().get(zeros).is_some_and(|b| (b'1'..=b'9').contains(b)) && after[zeros + n..].starts_with('.')
        };
        return Some(nine || (digits >= 2 && rest.starts_with('.')));
    }
    if let Some("iTerm.app" | "HyperTerm" | "MacTerm" | "Apple_Terminal") = var("TERM_PROGRAM").ok()?.as_deref() {
        return Some(true);
    }
    let colorterm = var("COLORTERM").ok()?;
    if matches!(colorterm.as_deref(), Some("truecolor" | "24bit")) {
        return Some(true);
    }
    if let Some(t) = term.filter(|t| !t.is_empty()) {
        let t = t.to_lowercase();
        const NAMES: [&str; 16] = [
            "eterm",
            "cons25",
            "console",
            "cygwin",
            "dtterm",
            "gnome",
            "hurd",
            "jfbterm",
            "konsole",
            "kterm",
            "mlterm",
            "mosh",
            "putty",
            "st",
            "rxvt-unicode-24bit",
            "terminator",
        ];
        let con = t.strip_prefix("con").is_some_and(|r| {
            let d = r.bytes().take_while(u8::is_ascii_digit).count();
            r[d..].strip_prefix('x').is_some_and(|x| x.as_bytes().first().is_some_and(u8::is_ascii_digit))
        });
        let prefixes = ["rxvt", "screen", "xterm", "vt100"];
        if NAMES.contains(&t.as_str()) || ["ansi", "color", "linux"].iter().any(|w| t.contains(w)) || con || prefixes.iter().any(|p| t.starts_with(p)) {
            return Some(true);
        }
    }
    Some(colorterm.is_some_and(|c| !c.is_empty()))
}

/// `dist/front/NAME` of the CLI package whose `bin/sandboxctl.js` is `cli_js`.
fn front_file(cli_js: &OsStr, name: &str) -> Option<Vec<u8>> {
    let bin = Path::new(cli_js).parent()?;
    let dir = if bin.as_os_str().is_empty() { PathBuf::from("..") } else { bin.join("..") };
    std::fs::read(dir.join("dist/front").join(name)).ok()
}

/// Replaces this process with `node CLI_JS ARGS...`, as `#!/usr/bin/env node` finds it.
fn exec_node(cli_js: &OsStr, args: &[OsString]) -> i32 {
    let c = |s: &OsStr| std::ffi::CString::new(s.as_bytes()).ok();
    let mut argv: Vec<std::ffi::CString> = Vec::with_capacity(args.len() + 2);
    argv.push(c(OsStr::new("node")).expect("no NUL"));
    for a in std::iter::once(cli_js).chain(args.iter().map(OsString::as_os_str)) {
        // argv from the kernel holds no NUL.
        argv.extend(c(a));
    }
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: NUL-terminated strings and a NULL-terminated array that outlive the call.
    unsafe { libc::execvp(argv[0].as_ptr(), ptrs.as_ptr()) };
    let e = std::io::Error::last_os_error();
    write_all(2, format!("sandboxctl: cannot execute node: {}\n", e.to_string().split(" (os error").next().unwrap_or("")).as_bytes());
    if e.raw_os_error() == Some(libc::ENOENT) {
        127
    } else {
        126
    }
}

fn can_use_tty(plan: &run::RunPlan) -> bool {
    // terminal.ts canUseTty: a private /dev, a new session, stdin and stdout
    // terminals, and this process in the terminal's foreground group.
    plan.private_dev() && plan.new_session() && isatty(0) && isatty(1) && in_foreground()
}

/// `/proc/self/stat`'s process group equals the terminal's foreground group (terminal.ts).
fn in_foreground() -> bool {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return true };
    let Some(close) = stat.rfind(')') else { return true };
    let fields: Vec<&str> = stat.get(close + 2..).unwrap_or("").split(' ').collect();
    fields.get(2) == fields.get(5)
}

/// The whole program: `argv` is `sandboxctl-front CLI_JS ARGS...`; returns the exit status.
///
/// Two hidden forms serve the drift tests: `--front-plan CLI_JS run ARGS...`
/// prints the plan `sandboxctl plan --json` would (exit 3: Node's), and for
/// a peer `{"join":[...]}`, the launcher's join arguments, on a second line;
/// `--front-color` prints whether help on a terminal would be coloured.
pub fn main(argv: Vec<OsString>) -> i32 {
    let cwd = std::env::current_dir().ok();
    match argv.get(1).map(|a| a.as_bytes()) {
        Some(b"--front-plan") if argv.len() >= 3 => {
            return match decide(&argv[3..], cwd.as_deref()) {
                Action::Run(p) => {
                    write_all(1, format!("{}\n", json::J::Obj(p.plan).to_json()).as_bytes());
                    if let Some(join) = p.join {
                        // A peer: `sandboxctl-init join`'s arguments on a second line.
                        let list = json::J::Arr(join.iter().map(|a| json::J::str(a)).collect());
                        write_all(1, format!("{}\n", json::J::obj(vec![("join", list)]).to_json()).as_bytes());
                    }
                    0
                }
                _ => 3,
            };
        }
        Some(b"--front-color") => {
            let answer = match color(true, &|n| env(n)) {
                Some(true) => "color\n",
                Some(false) => "plain\n",
                None => "node\n",
            };
            write_all(1, answer.as_bytes());
            return 0;
        }
        None => {
            write_all(2, b"sandboxctl: E_USAGE: usage: sandboxctl-front CLI_JS [ARGS...] (started by the sandboxctl package's bin/sandboxctl)\n");
            return 125;
        }
        _ => {}
    }
    let cli_js = argv[1].clone();
    let args = &argv[2..];
    match decide(args, cwd.as_deref()) {
        Action::Print(name) => match front_file(&cli_js, name) {
            Some(bytes) => {
                if write_all(1, &bytes) {
                    0
                } else {
                    BROKEN_PIPE
                }
            }
            None => exec_node(&cli_js, args),
        },
        Action::Run(mut plan) => {
            if !same_version(&cli_js) {
                return exec_node(&cli_js, args);
            }
            if plan.tty() == Some(true) && !(isatty(0) && isatty(1)) {
                // Node's own E_SETUP (terminal.ts assertTerminals) names the stdio entries.
                return exec_node(&cli_js, args);
            }
            let can = can_use_tty(&plan);
            plan.default_tty(can);
            let json = json::J::Obj(plan.plan.clone()).to_json();
            let naming = monitor::Naming { origins: &plan.origins, preset_ops: plan.preset_ops, image: plan.image, write: plan.write };
            let launch = match plan.join.take() {
                None => monitor::Launch::Plan,
                // A peer: the launcher beside this front-end (the package's own), as Node's resolveInit finds it.
                Some(join) => match sibling_init() {
                    Some(init) => monitor::Launch::Join { init, args: join, pmi: monitor::pmi_fd(std::env::var("PMI_FD").ok().as_deref()) },
                    None => return exec_node(&cli_js, args),
                },
            };
            monitor::run(&json, &naming, plan.new_session(), plan.tty() == Some(true), &launch)
        }
        Action::Explain(plan, json) => match explain::answer(&plan.plan, json).filter(|_| same_version(&cli_js)) {
            Some(text) => print(&text),
            None => exec_node(&cli_js, args),
        },
        Action::Doctor(json) => {
            if !same_version(&cli_js) {
                return exec_node(&cli_js, args);
            }
            match doctor::answer(&cli_js, sandbox_core::VERSION, json) {
                Some(text) => print(&text),
                None => exec_node(&cli_js, args),
            }
        }
        Action::Node => exec_node(&cli_js, args),
    }
}

/// `sandboxctl-init` in this executable's directory, when it is a file that can be executed.
fn sibling_init() -> Option<std::ffi::CString> {
    let init = std::env::current_exe().ok()?.parent()?.join("sandboxctl-init");
    let c = std::ffi::CString::new(init.into_os_string().into_vec()).ok()?;
    // SAFETY: a NUL-terminated path.
    (unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0).then_some(c)
}

/// This front builds plans and words answers as the CLI of its own version
/// does: a CLI package of another version (mixed installs) decides itself.
fn same_version(cli_js: &OsStr) -> bool {
    let ours = format!("{}\n", sandbox_core::VERSION);
    front_file(cli_js, "version.txt").as_deref() == Some(ours.as_bytes())
}

/// Writes the answer to stdout: 0, or Node's status on a broken pipe.
fn print(text: &str) -> i32 {
    if write_all(1, text.as_bytes()) {
        0
    } else {
        BROKEN_PIPE
    }
}

/// `OsString` from bytes (tests).
pub fn os(s: &str) -> OsString {
    OsString::from_vec(s.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decides_what_is_native() {
        let d = |a: &[&str]| decide(&a.iter().map(|s| os(s)).collect::<Vec<_>>(), Some(Path::new("/proc/self/fdinfo")));
        assert_eq!(d(&["--version"]), Action::Print("version.txt"));
        assert_eq!(d(&["-v", "x"]), Action::Node);
        assert_eq!(d(&["help"]), Action::Node);
        assert_eq!(d(&["plan", "--", "true"]), Action::Node);
        assert!(matches!(d(&["run", "--proc", "/proc", "--", "true"]), Action::Run(_)));
        let bad = OsString::from_vec(vec![b'r', b'u', b'n', 0xff]);
        assert_eq!(decide(&[os("run"), os("--"), bad], Some(Path::new("/"))), Action::Node);
    }

    #[test]
    fn colors_as_node() {
        let c = |tty: bool, vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            color(tty, &move |n| vars.iter().find(|(k, _)| k == n).map(|(_, v)| os(v)))
        };
        assert_eq!(c(false, &[]), Some(false));
        assert_eq!(c(false, &[("FORCE_COLOR", "1")]), Some(true));
        assert_eq!(c(true, &[("FORCE_COLOR", "0")]), Some(false));
        assert_eq!(c(true, &[("FORCE_COLOR", "1"), ("NO_COLOR", "")]), None);
        assert_eq!(c(true, &[]), Some(false));
        assert_eq!(c(true, &[("TERM", "xterm-256color")]), Some(true));
        assert_eq!(c(true, &[("TERM", "dumb"), ("COLORTERM", "truecolor")]), Some(false));
        assert_eq!(c(true, &[("TERM", "con80x25")]), Some(true));
        assert_eq!(c(true, &[("CI", "1"), ("TERM", "xterm")]), Some(false));
        assert_eq!(c(true, &[("TEAMCITY_VERSION", "9.01.2")]), Some(true));
        assert_eq!(c(true, &[("TEAMCITY_VERSION", "9.0.2")]), Some(false));
    }
}
