/**
 * GENERATED FILE, DO NOT EDIT.
 * Source: schema/plan.schema.json (from crates/sandbox-core/src/plan.rs).
 * Regenerate with `npm run gen`; a unit test fails when this file drifts.
 */

/**
 * What the audit does when it finds something.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "OnTaint".
 */
export type OnTaint = 'revert' | 'fail' | 'warn';
/**
 * One of ch-run's environment changes (`--set-env`, `--unset-env`, its
 * own adjustments), applied in order.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "EnvStep".
 */
export type EnvStep = SetEnvStep | AssignEnvStep | UnsetEnvStep | AppendPathEnvStep | FileEnvStep;
/**
 * Where an environment file is read.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "FileScope".
 */
export type FileScope = 'host' | 'root';
/**
 * The rlimit resources, as prlimit(1) names them.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "RlimitName".
 */
export type RlimitName =
  | 'as'
  | 'core'
  | 'cpu'
  | 'data'
  | 'fsize'
  | 'locks'
  | 'memlock'
  | 'msgqueue'
  | 'nice'
  | 'nofile'
  | 'nproc'
  | 'rss'
  | 'rtprio'
  | 'rttime'
  | 'sigpending'
  | 'stack';
/**
 * When a live sandbox ends.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "LiveEnd".
 */
export type LiveEnd = ProgramOp | StopOp | GroupOp | ZygoteOp;
/**
 * Network: `none`, `host`, or an allow-list policy (issue 14).
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "Network".
 */
export type Network = NetMode | NetPolicy;
/**
 * Network mode without a policy.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "NetMode".
 */
export type NetMode = 'none' | 'host';
/**
 * The named host sets (`crate::net::hosts` lists their hosts).
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "HostSet".
 */
export type HostSet = 'npm' | 'pypi' | 'crates' | 'github' | 'go' | 'maven' | 'debian';
/**
 * One filesystem setup step. `kind` names it.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "Op".
 */
export type Op =
  | BindOp
  | ProcOp
  | DevOp
  | TmpfsOp
  | DirOp
  | SymlinkOp
  | FileOp
  | RemountOp
  | OverlayOp
  | MqueueOp
  | ChmodOp
  | AutoetcOp
  | AutorootOp
  | PasswdOp
  | PlaceholderOp;
/**
 * What a bind does when its target is missing.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "MissingTarget".
 */
export type MissingTarget = 'create' | 'skip' | 'refuse';
/**
 * Overlay modes.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "OverlayMode".
 */
export type OverlayMode = 'rw' | 'tmp' | 'ro';
/**
 * The form of the synthesized passwd and group.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "PasswdStyle".
 */
export type PasswdStyle = 'sandbox' | 'chRun';
/**
 * What a placeholder stands in for.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "PlaceholderType".
 */
export type PlaceholderType = 'dir' | 'file' | 'link';
/**
 * What an image is.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "ImageFormat".
 */
export type ImageFormat = ('dir' | 'squashfs') | 'auto';
/**
 * Writes to an image root.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "RootWrite".
 */
export type RootWrite = 'readOnly' | 'writable' | 'fake';
/**
 * Seccomp presets.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "SeccompPreset".
 */
export type SeccompPreset = 'strict' | 'none';
/**
 * What a matching call gets.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "RuleAction".
 */
export type RuleAction =
  | {
      errno: number;
    }
  | 'kill'
  | 'log';
/**
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "CmpOp".
 */
export type CmpOp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'maskedEq';

/**
 * A sandbox: ordered setup ops plus the policy the program runs under.
 */
export interface Plan {
  /**
   * The program and its arguments; argv[0] without a slash is looked up in
   * PATH inside the sandbox.
   */
  argv: string[];
  /**
   * argv[0] as the program sees it (`--argv0`); argv[0] of `argv` is still
   * the program that is executed.
   */
  argv0?: string | null;
  /**
   * The program is the sandbox's pid 1 itself (bubblewrap's
   * `--as-pid-1`): no init stays to reap, and the sandbox ends with it.
   */
  asPid1?: boolean;
  /**
   * Post-run audit: after the sandbox ends, the launcher looks under
   * these roots for what host tools would execute that the run created or
   * changed (git configuration and hooks, editor and agent settings), and
   * acts on it (see `crate::audit`).
   */
  audit?: AuditSpec | null;
  /**
   * A caller fd pid 1 reads one byte (or end of file) from before it
   * starts the program, then closes (bubblewrap's `--block-fd`).
   */
  blockFd?: number | null;
  /**
   * Capabilities kept inside the user namespace (bubblewrap's --cap-add);
   * every other one is dropped. Names like `CAP_NET_ADMIN`, or `ALL`.
   */
  capAdd?: string[];
  /**
   * Capabilities dropped again from `capAdd` (applied after it).
   */
  capDrop?: string[];
  /**
   * Kept capabilities (`capAdd`) are also inheritable and raised
   * ambient, so they survive the exec of a program that is not uid 0
   * (the default). false: effective and permitted only, as bubblewrap
   * leaves a root caller's own capabilities.
   */
  capInherit?: boolean;
  /**
   * Working directory inside the sandbox. When absent the caller's working
   * directory is used if it exists inside the sandbox, else `/`.
   */
  cwd?: string | null;
  /**
   * Kill the whole sandbox when the process that launched it dies.
   */
  dieWithParent?: boolean;
  env?: EnvPolicy;
  /**
   * Caller file descriptors passed into the program, at the numbers
   * given; every other descriptor is closed.
   */
  fds?: FdPass[];
  /**
   * Group id inside the sandbox; the caller's when absent.
   */
  gid?: number | null;
  /**
   * Hostname inside the sandbox (needs the uts namespace).
   */
  hostname?: string | null;
  /**
   * Namespaces entered by fd instead of made (bubblewrap's `--userns`,
   * `--userns2`, `--pidns`).
   */
  joinNs?: JoinNs | null;
  landlock?: Landlock;
  /**
   * Resource limits (issue 14): cgroup memory, pids and cpu, rlimits set
   * by pid 1 before the exec, and a wall-clock timeout.
   */
  limits?: Limits | null;
  /**
   * After the program exits, how long to wait for the processes it left
   * behind before killing them, in milliseconds.
   */
  lingerMs?: number;
  /**
   * A live sandbox (issue 13): named, registered, and reachable through
   * its control socket (`exec`, `stop`) while it runs. `argv` may be
   * empty when `live.end` is `stop`.
   */
  live?: LiveSpec | null;
  namespaces?: Namespaces;
  network?: Network;
  /**
   * Start the program in a new session (setsid), so it cannot reach the
   * caller's terminal with TIOCSTI.
   */
  newSession?: boolean;
  /**
   * Filesystem setup, applied in order inside the new root.
   */
  ops?: Op[];
  /**
   * Send a `denied` report line for each thing the sandbox's policy
   * refused (`--report`): network connections the proxy refused.
   */
  report?: boolean;
  /**
   * pid 1 sends a `namespaces` report line (its namespaces' inode
   * numbers) first thing; it is not dumpable, so the caller cannot read
   * them from /proc itself.
   */
  reportNamespaces?: boolean;
  /**
   * The sandbox's root is an image (a directory or a SquashFS file)
   * instead of an empty tmpfs; ops then resolve their targets inside it.
   */
  root?: RootSpec | null;
  seccomp?: Seccomp;
  /**
   * Caller fd that receives JSON status lines, as bubblewrap's
   * --json-status-fd: `{"child-pid": N}` then `{"exit-code": N}`.
   */
  statusFd?: number | null;
  /**
   * Give the program a pseudo-terminal of its own from the sandbox's
   * devpts (the `dev` op on /dev), relayed by the launcher to its own
   * terminal as `docker run -it` and ssh do: job control, Ctrl-C/Ctrl-Z
   * and window size work, and TIOCSTI reaches only the sandbox's pty.
   * The launcher's stdin must be a terminal. Implies a new session.
   */
  tty?: boolean;
  /**
   * User id inside the sandbox; the caller's when absent.
   */
  uid?: number | null;
  /**
   * A caller fd pid 1 reads one byte (or end of file) from first thing,
   * before its id maps and root (bubblewrap's `--userns-block-fd`).
   */
  usernsBlockFd?: number | null;
  /**
   * Plan format version; must be 1.
   */
  version?: number;
}
/**
 * What the post-run audit looks at and what it does with a finding.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "AuditSpec".
 */
export interface AuditSpec {
  onTaint?: OnTaint;
  /**
   * The directory under which the run's quarantine `<run>/` is made;
   * default `~/.local/state/sandboxctl/quarantine` under the real home.
   * No symlink is followed on the way to it.
   */
  quarantine?: string | null;
  /**
   * Absolute host directories walked before and after the run (the
   * project, the enclosing repository's worktree and git directories).
   */
  roots: string[];
}
/**
 * How the program's environment is built from the launcher's.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "EnvPolicy".
 */
export interface EnvPolicy {
  /**
   * Start from the caller's environment (false: start empty, `--clearenv`).
   */
  inherit?: boolean;
  /**
   * Variables set, after `unset`.
   */
  set?: {
    [k: string]: string | undefined;
  };
  /**
   * ch-run's environment rules, applied in order by pid 1 after
   * `inherit`, `unset` and `set`, once the root is built (so a file of the
   * image can be read): see `crate::env`. The `image` preset's only.
   */
  steps?: EnvStep[];
  /**
   * Variables removed, applied before `set`.
   */
  unset?: string[];
}
/**
 * Set `name` to `value`; with `expand`, ch-run's `$VAR` expansion of
 * the value's `:`-separated items first.
 */
export interface SetEnvStep {
  expand?: boolean;
  kind: 'set';
  name: string;
  value: string;
}
/**
 * A `NAME=VALUE` as ch-run's `--set-env` takes it: split at the first
 * `=`, one pair of single quotes around the value stripped.
 */
export interface AssignEnvStep {
  expand?: boolean;
  kind: 'assign';
  text: string;
}
/**
 * Remove every variable whose name matches `glob` (fnmatch with
 * extglob, ch-run's `--unset-env`).
 */
export interface UnsetEnvStep {
  glob: string;
  kind: 'unset';
}
/**
 * Append `:dir` to `name` unless it starts with `dir` or holds `:dir`
 * (ch-run's PATH rule); an unset variable stays unset.
 */
export interface AppendPathEnvStep {
  dir: string;
  kind: 'appendPath';
  name: string;
}
/**
 * Lines `NAME=VALUE` of a file, each as `assign` (empty lines skipped).
 */
export interface FileEnvStep {
  expand?: boolean;
  kind: 'file';
  /**
   * A missing file is skipped instead of an error.
   */
  optional?: boolean;
  path: string;
  scope?: FileScope;
}
/**
 * One caller fd passed in.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "FdPass".
 */
export interface FdPass {
  /**
   * The fd in the caller (the launcher's fd of that number).
   */
  fd: number;
  /**
   * The number it has in the program (defaults to `fd`).
   */
  target?: number | null;
}
/**
 * Namespaces the sandbox enters from caller fds (`/proc/PID/ns/*` of a
 * process the caller may ptrace, such as another sandbox's program) instead
 * of making its own. The launcher enters `user` and `pid` just before it
 * clones pid 1, born not dumpable; pid 1 enters `user2` once the root is
 * built. Processes that share a namespace are trusted with each other, as
 * with bubblewrap.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "JoinNs".
 */
export interface JoinNs {
  /**
   * A pid namespace fd: pid 1 is a process of it, not its pid 1 (a pid
   * namespace nested in it would need one more fork between the setns
   * and the clone, which the launcher does not make).
   */
  pid?: number | null;
  /**
   * A user namespace fd: no user namespace of the sandbox's own and no id
   * maps written (the namespace has its own). `uid`/`gid`, when given, are
   * ids of its maps that pid 1 switches to before it builds the root.
   */
  user?: number | null;
  /**
   * A user namespace fd pid 1 switches to after building the root, before
   * dropping its privileges.
   */
  user2?: number | null;
}
/**
 * Landlock scoping. Both default to denied.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "Landlock".
 */
export interface Landlock {
  /**
   * Allow connecting to abstract unix sockets created outside the sandbox.
   */
  allowAbstractUnix?: boolean;
  /**
   * Allow signals to processes outside the sandbox.
   */
  allowSignals?: boolean;
  /**
   * Filesystem write allow-list (ABI 1+, best-effort): when given, the
   * program may write only beneath these sandbox paths and the sandbox's
   * private mounts (every `tmpfs`, `dev`, `proc`, `mqueue` and `overlay`
   * op's target), even where a mount is writable. Reads and executes are
   * not restricted.
   */
  write?: string[] | null;
}
/**
 * Resource limits. cgroup limits (`memory`, `pids`, `cpus`) need a
 * cgroup of our own: as root a child of the launcher's cgroup in each
 * hierarchy (v1 or v2), unprivileged a delegated v2 subtree
 * (`E_LIMIT_UNAVAILABLE` otherwise, before anything starts).
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "Limits".
 */
export interface Limits {
  /**
   * CPU time per wall time in thousandths of a CPU (1500 = 1.5 CPUs;
   * cpu.max / cfs_quota_us over a 100 ms period).
   */
  cpuMillis?: number | null;
  /**
   * Memory of the whole sandbox in bytes (cgroup memory.max /
   * memory.limit_in_bytes; no swap beyond it where the kernel accounts it).
   */
  memory?: number | null;
  /**
   * Processes and threads of the whole sandbox, its pid 1 included (pids.max); at least 2.
   */
  pids?: number | null;
  /**
   * Resource limits (setrlimit) set by pid 1 before the exec, in order.
   */
  rlimits?: Rlimit[];
  /**
   * After the timeout's SIGTERM, how long the program has to clean up
   * before the sandbox is killed (SIGKILL), in milliseconds; absent:
   * [`TIMEOUT_GRACE_MS`]; 0: killed at once.
   */
  timeoutGraceMs?: number | null;
  /**
   * Wall time in milliseconds from the start; then the program gets
   * SIGTERM, and the sandbox is killed `timeoutGraceMs` later.
   */
  timeoutMs?: number | null;
}
/**
 * One setrlimit(2).
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "Rlimit".
 */
export interface Rlimit {
  /**
   * Hard limit; absent = unlimited.
   */
  hard?: number | null;
  name: RlimitName;
  /**
   * Soft limit; absent = unlimited.
   */
  soft?: number | null;
}
/**
 * A live sandbox: its name in the caller's registry and when it ends.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "LiveSpec".
 */
export interface LiveSpec {
  /**
   * The launcher (the supervisor) leaves the caller's session once the
   * sandbox is ready and does not die with its caller.
   */
  detach?: boolean;
  end?: LiveEnd;
  /**
   * Free-form labels shown by `ps` (preset, image, ...).
   */
  labels?: {
    [k: string]: string | undefined;
  };
  /**
   * `^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$` (docker's rule), unique among the
   * caller's running sandboxes.
   */
  name: string;
}
/**
 * With its program (`argv`), as a plain run; later requests get
 * `E_SANDBOX_CLOSED`.
 */
export interface ProgramOp {
  kind: 'program';
}
/**
 * Only when stopped (`sandboxctl stop`); `argv` may be empty.
 */
export interface StopOp {
  kind: 'stop';
}
/**
 * A `--join` peer group (`argv` empty): once `count` peers have run
 * their programs and all ended, or, when fewer came within
 * `timeoutMs`, once those ended (later peers are refused).
 */
export interface GroupOp {
  count: number;
  kind: 'group';
  timeoutMs: number;
}
/**
 * A warm pool's zygote (`argv` empty; ends when stopped): pid 1 keeps
 * the user namespace and the host view, and each control connection
 * gets a sandbox of its own, forked into fresh pid, mount, ipc, uts,
 * net and cgroup namespaces (as the plan has them), its root built and
 * its privileges dropped, which runs one `exec` and ends with it
 * (init/zygote.rs). Only for plans a fork can set up alone: no fds from
 * the caller, no image root, allow-list network, limits or audit.
 */
export interface ZygoteOp {
  kind: 'zygote';
}
/**
 * Namespaces beyond user, mount and pid (always new).
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "Namespaces".
 */
export interface Namespaces {
  /**
   * New cgroup namespace.
   */
  cgroup?: boolean;
  /**
   * New IPC namespace.
   */
  ipc?: boolean;
  /**
   * New UTS namespace (hostname).
   */
  uts?: boolean;
}
/**
 * An allow-list network policy. Deny rules are checked first; a
 * destination no allow rule covers is refused, so an empty policy means
 * no network.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "NetPolicy".
 */
export interface NetPolicy {
  /**
   * Host rules: `registry.npmjs.org`, `*.example.com` (subdomains, not
   * the apex), an optional `:port`, IPv4 literals, bracketed IPv6
   * literals (`[2001:db8::1]:443`).
   */
  allow?: string[];
  /**
   * Let the program bind TCP ports inside the sandbox (local servers on
   * its own loopback); refused by Landlock otherwise.
   */
  allowLocalBinding?: boolean;
  /**
   * Named host sets allowed as well.
   */
  allowSets?: HostSet[];
  /**
   * Host rules refused even when an allow rule covers them; `*` refuses
   * everything.
   */
  deny?: string[];
}
/**
 * Bind a host path into the sandbox (`--ro-bind`, `--bind`, `--dev-bind`, `-try`).
 */
export interface BindOp {
  /**
   * Allow device nodes (`--dev-bind`); nodev otherwise.
   */
  device?: boolean;
  /**
   * Create the source directory (0700) when it does not exist.
   */
  ensure?: boolean;
  kind: 'bind';
  missingTarget?: MissingTarget;
  /**
   * Skip the op when the source does not exist (`-try`).
   */
  optional?: boolean;
  /**
   * Bind submounts too (the default); read-only then applies to all of them.
   */
  recursive?: boolean;
  /**
   * Absolute host path. Exactly one of `source` and `sourceFd`.
   */
  source?: string;
  /**
   * A caller fd naming the source (`--bind-fd`, `--ro-bind-fd`).
   */
  sourceFd?: number | null;
  /**
   * Absolute path inside the sandbox.
   */
  target: string;
  /**
   * Read-write (`--bind`); read-only otherwise.
   */
  writable?: boolean;
}
/**
 * A private proc instance (`--proc`).
 */
export interface ProcOp {
  kind: 'proc';
  target: string;
}
/**
 * A minimal /dev (`--dev`).
 */
export interface DevOp {
  kind: 'dev';
  /**
   * Also mount a private mqueue on `<target>/mqueue`.
   */
  mqueue?: boolean;
  target: string;
  /**
   * Leave the /dev tmpfs writable (hakurei's DevWritable).
   */
  writable?: boolean;
}
/**
 * A tmpfs (`--tmpfs`).
 */
export interface TmpfsOp {
  kind: 'tmpfs';
  /**
   * Permission bits of the root directory (`--perms`), default 0755.
   */
  mode?: number;
  /**
   * Mount it read-only (an empty, unwritable directory).
   */
  readOnly?: boolean;
  /**
   * Size limit in bytes (`--size`); the kernel default (half of RAM) when absent.
   */
  size?: number | null;
  target: string;
}
/**
 * A directory (`--dir`).
 */
export interface DirOp {
  kind: 'dir';
  /**
   * Permission bits (`--perms`), default 0755.
   */
  mode?: number;
  target: string;
}
/**
 * A symbolic link (`--symlink`).
 */
export interface SymlinkOp {
  /**
   * `linkname` is an absolute host symlink: copy what it points to.
   */
  dereference?: boolean;
  kind: 'symlink';
  /**
   * What the link points to; stored as given, never resolved (unless
   * `dereference`).
   */
  linkname: string;
  /**
   * Where the link is created, inside the sandbox.
   */
  target: string;
}
/**
 * A read-only file with given contents (`--file`, `--ro-bind-data`).
 */
export interface FileOp {
  /**
   * File contents as UTF-8 text. Exactly one of `data` and `source`.
   */
  data?: string | null;
  kind: 'file';
  /**
   * Permission bits (`--perms`), default 0444. The file is always mounted read-only.
   */
  mode?: number;
  /**
   * Absolute host path whose contents are copied in at setup.
   */
  source?: string | null;
  /**
   * A caller fd whose contents are read at setup (`--file FD`).
   */
  sourceFd?: number | null;
  target: string;
}
/**
 * Remount an existing mount read-only (`--remount-ro`).
 */
export interface RemountOp {
  kind: 'remount';
  /**
   * Also make it nodev.
   */
  noDev?: boolean;
  /**
   * Make the mount read-only. Only `true` is meaningful today.
   */
  readOnly?: boolean;
  /**
   * Also every mount below the target (bubblewrap's --remount-ro is not).
   */
  recursive?: boolean;
  target: string;
}
/**
 * An overlay filesystem (`--overlay`, `--tmp-overlay`, `--ro-overlay`).
 */
export interface OverlayOp {
  kind: 'overlay';
  /**
   * Host directories, uppermost first (`--overlay-src`, in order).
   */
  lowers: string[];
  mode: OverlayMode;
  target: string;
  /**
   * Host directory for writes (mode `rw`).
   */
  upper?: string | null;
  /**
   * Empty host directory on upper's filesystem (mode `rw`).
   */
  work?: string | null;
}
/**
 * A POSIX message queue filesystem (`--mqueue`).
 */
export interface MqueueOp {
  kind: 'mqueue';
  target: string;
}
/**
 * Change the mode of a path (`--chmod`).
 */
export interface ChmodOp {
  kind: 'chmod';
  mode: number;
  target: string;
}
/**
 * The host's /etc behind one symlink per entry.
 */
export interface AutoetcOp {
  kind: 'autoetc';
  /**
   * Where /etc goes, default `/etc`.
   */
  target?: string;
}
/**
 * Every top-level host entry but proc, dev, tmp, mnt and etc.
 */
export interface AutorootOp {
  kind: 'autoroot';
  /**
   * Where the entries go, default `/`.
   */
  target?: string;
  /**
   * Bind them writable.
   */
  writable?: boolean;
}
/**
 * A synthesized /etc/passwd and /etc/group for the sandbox's uid and gid.
 */
export interface PasswdOp {
  /**
   * Home directory of the sandbox user, default `/`.
   */
  home?: string | null;
  kind: 'passwd';
  style?: PasswdStyle;
  /**
   * The directory holding `passwd` and `group`, default `/etc`.
   */
  target?: string;
}
/**
 * An empty read-only stand-in where a protected path does not exist yet.
 */
export interface PlaceholderOp {
  /**
   * The directory the stand-in is made in and removed from, no symlink
   * followed below it (the project directory); default: the target's
   * parent.
   */
  base?: string | null;
  kind: 'placeholder';
  target: string;
  type: PlaceholderType;
}
/**
 * An image as the sandbox's root (issue 11; ch-run's IMAGE argument).
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "RootSpec".
 */
export interface RootSpec {
  /**
   * Size of the tmpfs holding the writes of `fake`, in tmpfs `size=`
   * syntax (`1G`, `12%`); default `12%`, as ch-run's `--write-fake`.
   */
  fakeSize?: string | null;
  format?: ImageFormat;
  /**
   * Absolute host path of the image: a directory or a SquashFS file.
   */
  image: string;
  /**
   * Bind a directory image with its submounts (ch-run's rbind).
   */
  recursive?: boolean;
  write?: RootWrite;
}
/**
 * System call filter.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "Seccomp".
 */
export interface Seccomp {
  /**
   * Root emulation (ch-run's `--seccomp`, `--fakeroot`): the chown
   * family, set*id, setgroups, capset and kexec_load succeed without
   * effect, and so does mknod of a character or block device.
   */
  fakeroot?: boolean;
  /**
   * Allow modify_ldt (16-bit segments, used by some emulators). Other
   * ABIs stay refused either way: i386 calls are killed, x32 calls
   * answer ENOSYS, as no rule could apply to their numbers.
   */
  multiarch?: boolean;
  preset?: SeccompPreset;
  /**
   * Extra rules, added to the preset's filter.
   */
  rules?: SyscallRule[];
  /**
   * Further filters, each loaded on its own after the first (stacked:
   * the kernel applies the strictest answer).
   */
  stack?: SeccompFilter[];
}
/**
 * One rule: a syscall, conditions on its arguments (all must hold), and
 * what it answers.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "SyscallRule".
 */
export interface SyscallRule {
  action: RuleAction;
  args?: ArgCondition[];
  /**
   * Syscall name as in the kernel's table, e.g. `ptrace`.
   */
  syscall: string;
}
/**
 * A condition on one argument.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "ArgCondition".
 */
export interface ArgCondition {
  /**
   * Argument index, 0 to 5.
   */
  index: number;
  /**
   * Compare only the low 32 bits (as the kernel reads int arguments).
   */
  low32?: boolean;
  /**
   * For `maskedEq`: `(arg & mask) == value`.
   */
  mask?: number | null;
  op: CmpOp;
  value: number;
}
/**
 * A filter of its own in `stack`.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "SeccompFilter".
 */
export interface SeccompFilter {
  rules: SyscallRule[];
}
