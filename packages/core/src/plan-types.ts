/**
 * GENERATED FILE, DO NOT EDIT.
 * Source: schema/plan.schema.json (from crates/sandbox-core/src/plan.rs).
 * Regenerate with `npm run gen`; a unit test fails when this file drifts.
 */

/**
 * Network mode.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "Network".
 */
export type Network = 'none' | 'host';
/**
 * One filesystem setup step. `kind` names it.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "Op".
 */
export type Op = BindOp | ProcOp | DevOp | TmpfsOp | DirOp | SymlinkOp | FileOp | RemountOp;
/**
 * Seccomp presets.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "SeccompPreset".
 */
export type SeccompPreset = 'strict' | 'none';

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
   * Group id inside the sandbox; the caller's when absent.
   */
  gid?: number | null;
  /**
   * Hostname inside the sandbox (needs the uts namespace).
   */
  hostname?: string | null;
  /**
   * After the program exits, how long to wait for the processes it left
   * behind before killing them, in milliseconds.
   */
  lingerMs?: number;
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
  seccomp?: Seccomp;
  /**
   * User id inside the sandbox; the caller's when absent.
   */
  uid?: number | null;
  /**
   * Plan format version; must be 1.
   */
  version?: number;
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
   * Variables set, last.
   */
  set?: {
    [k: string]: string | undefined;
  };
  /**
   * Variables removed, applied before `set`.
   */
  unset?: string[];
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
 * Bind a host path into the sandbox (`--ro-bind`, `--bind`, `--dev-bind`, `-try`).
 */
export interface BindOp {
  /**
   * Allow device nodes (`--dev-bind`); nodev otherwise.
   */
  device?: boolean;
  kind: 'bind';
  /**
   * Skip the op when the source does not exist (`-try`).
   */
  optional?: boolean;
  /**
   * Absolute host path.
   */
  source: string;
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
  target: string;
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
  kind: 'symlink';
  /**
   * What the link points to; stored as given, never resolved.
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
  target: string;
}
/**
 * Remount an existing mount read-only (`--remount-ro`).
 */
export interface RemountOp {
  kind: 'remount';
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
 * System call filter.
 *
 * This interface was referenced by `Plan`'s JSON-Schema
 * via the `definition` "Seccomp".
 */
export interface Seccomp {
  preset?: SeccompPreset;
}
