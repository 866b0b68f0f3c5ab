/**
 * GENERATED FILE, DO NOT EDIT.
 * Source: schema/report.schema.json (from crates/sandbox-core/src/report.rs).
 * Regenerate with `npm run gen`; a unit test fails when this file drifts.
 */

/**
 * One report line, told apart by its `event`.
 */
export type Report =
  | ErrorReport
  | SpawnedReport
  | StartedReport
  | ReadyReport
  | AuditReport
  | ImageReport
  | ProgressReport
  | LimithitReport
  | (Denial & DeniedReport)
  | NamespacesReport;
/**
 * Stable error codes, the one list for Rust and TypeScript. Never rename
 * one: callers match on them. Some are raised only by the Node side
 * (their doc says so); they are listed here so there is one source.
 */
export type Code =
  | 'E_PLAN_INVALID'
  | 'E_SOURCE_MISSING'
  | 'E_USERNS_UNAVAILABLE'
  | 'E_MOUNT'
  | 'E_SETUP'
  | 'E_EXEC'
  | 'E_INIT_MISSING'
  | 'E_OCI_MISSING'
  | 'E_NATIVE_MISSING'
  | 'E_CONFIG_INVALID'
  | 'E_CONFIG_UNTRUSTED'
  | 'E_TAINTED'
  | 'E_SPEC_INVALID'
  | 'E_OCI_STATE'
  | 'E_OCI_NOT_FOUND'
  | 'E_OCI_EXISTS'
  | 'E_HOOK'
  | 'E_IMAGE_INVALID'
  | 'E_FUSE_UNAVAILABLE'
  | 'E_TARGET_MISSING'
  | 'E_IMAGE_UNSAFE'
  | 'E_IMAGE_EXISTS'
  | 'E_NAME_INVALID'
  | 'E_NAME_IN_USE'
  | 'E_SANDBOX_NOT_FOUND'
  | 'E_SANDBOX_CLOSED'
  | 'E_CONTROL_DENIED'
  | 'E_REGISTRY_UNSAFE'
  | 'E_NOT_FOUND'
  | 'E_NOT_DIR'
  | 'E_IS_DIR'
  | 'E_EXISTS'
  | 'E_NOT_EMPTY'
  | 'E_READ_ONLY'
  | 'E_PERMISSION'
  | 'E_CP_UNSAFE'
  | 'E_USAGE'
  | 'E_INTERNAL'
  | 'E_LIMIT_UNAVAILABLE'
  | 'E_JOIN'
  | 'E_JOIN_TIMEOUT'
  | 'E_BWRAP_MISSING'
  | 'E_NS_JOIN'
  | 'E_IMAGE_USER';
/**
 * What the audit does when it finds something.
 */
export type OnTaint = 'revert' | 'fail' | 'warn';
/**
 * Whether the run created the path or changed it.
 */
export type TaintChange = ('created' | 'changed') | 'unknown';
/**
 * What a finding is about.
 */
export type TaintKind =
  'git-config' | 'git-hook' | 'git-redirect' | 'git-file' | 'gitlink' | 'tool-file' | 'incomplete';
/**
 * What the audit did about a finding.
 */
export type TaintOutcome = 'restored' | 'quarantined' | 'left' | 'failed';
/**
 * Which limit ended the program (the `limitHit` report line).
 */
export type LimitKind = 'memory' | 'pids' | 'timeout';
/**
 * What was refused, told apart by its `kind`. The `--report` file's lines
 * are these; other kinds (`write`) may join as variants.
 */
export type Denial =
  | {
      /**
       * The host as the program asked for it (a name or an address).
       */
      host: string;
      kind: 'network';
      port: number;
      /**
       * Why, in words.
       */
      reason: string;
      /**
       * The rule that refused it; absent when no allow rule covered it.
       */
      rule?: string;
      /**
       * Through which proxy: `http` or `socks`.
       */
      via: string;
    }
  | {
      kind: 'limit';
      limit: LimitKind;
    }
  | {
      /**
       * The errno the call failed with.
       */
      errno: number;
      kind: 'syscall';
      /**
       * Its name on the caller's architecture (`nr N` when unknown).
       */
      name: string;
      nr: number;
      /**
       * The calling process, as the caller's pid namespace sees it.
       */
      pid: number;
    };

/**
 * Setup failed (the launcher or pid 1 then exits 125, or 126/127 for `E_EXEC`).
 */
export interface ErrorReport {
  code: Code;
  event: 'error';
  /**
   * How to fix it, when known.
   */
  hint?: string;
  /**
   * Lower case, no trailing period.
   */
  message: string;
  /**
   * The plan op the error is about.
   */
  opIndex?: number;
  /**
   * JSON path of the offending plan field, e.g. `plan.ops[3].source`.
   */
  path?: string;
}
/**
 * The launcher cloned pid 1.
 */
export interface SpawnedReport {
  event: 'spawned';
  /**
   * pid 1 of the sandbox, as the caller's pid namespace sees it.
   */
  pid: number;
}
/**
 * The program is running (its image replaced the fork's); the socket closes after this line.
 */
export interface StartedReport {
  event: 'started';
}
/**
 * A live sandbox is registered and serves requests (its program, if
 * any, is running).
 */
export interface ReadyReport {
  event: 'ready';
  /**
   * The sandbox's name in the caller's registry.
   */
  name: string;
  /**
   * pid 1 of the sandbox, as the caller's pid namespace sees it.
   */
  pid: number;
  /**
   * The control socket's path.
   */
  socket: string;
}
/**
 * The post-run audit's findings, after pid 1 was reaped.
 */
export interface AuditReport {
  action: OnTaint;
  event: 'audit';
  findings: TaintFinding[];
  /**
   * The run's quarantine directory, when something was moved there.
   */
  quarantine?: string;
  /**
   * The program's exit status (128+N for signal N).
   */
  status: number;
}
/**
 * One thing the run planted, as the launcher reports it.
 */
export interface TaintFinding {
  change: TaintChange;
  /**
   * What in it is dangerous, e.g. `core.fsmonitor = "touch /tmp/x"`.
   */
  detail: string;
  /**
   * Why reverting failed.
   */
  error?: string;
  kind: TaintKind;
  outcome: TaintOutcome;
  /**
   * Absolute host path.
   */
  path: string;
  /**
   * Where the run's version now is, when it was moved.
   */
  quarantinedAs?: string;
}
/**
 * `sandboxctl-init image import|pack|inspect`: the image made or inspected (the last line).
 */
export interface ImageReport {
  /**
   * A SquashFS image's file size; a directory's file data in bytes.
   */
  bytes: number;
  /**
   * A SquashFS image's compression (`gzip`, `zstd`, `xz`…).
   */
  compression?: string;
  /**
   * The image's `/ch/environment`, as text.
   */
  environment?: string;
  event: 'image';
  /**
   * Entries below the root (files, directories, links, others).
   */
  files: number;
  /**
   * `dir` or `squashfs`.
   */
  format: string;
  /**
   * What `image import` applied.
   */
  imported?: ImportCounts | null;
  /**
   * The defaults an import stored in the image.
   */
  meta?: ImageMeta | null;
  /**
   * What `image pack` stored.
   */
  packed?: PackCounts | null;
  /**
   * The image's path, as given.
   */
  path: string;
  /**
   * The image config's `User`, when it names an account, resolved in the
   * image's own /etc/passwd and /etc/group (`image inspect --meta-only`,
   * what `run --image` with no command asks).
   */
  userIds?: UserIds | null;
}
/**
 * The counts of an import, over all layers.
 */
export interface ImportCounts {
  bytes: number;
  /**
   * Character and block devices in the layers, not made (an image's `/dev` is the host's).
   */
  devicesSkipped: number;
  dirs: number;
  fifos: number;
  files: number;
  hardlinks: number;
  layers: number;
  symlinks: number;
  whiteouts: number;
}
/**
 * An image's defaults, from the config it was imported from.
 */
export interface ImageMeta {
  /**
   * The config's `Cmd` (absent: none).
   */
  cmd?: string[];
  /**
   * The config blob's digest (`sha256:…`).
   */
  configDigest?: string;
  /**
   * The config's `Entrypoint` (absent: none).
   */
  entrypoint?: string[];
  /**
   * The config's `Env`: `NAME=VALUE` each.
   */
  env?: string[];
  /**
   * What the image came from: `oci-layout`, `oci-archive` or `docker-archive`.
   */
  source: string;
  /**
   * The config's `User`: with no command, the ids the caller is mapped to (`UID[:GID]`, `root`, or a name resolved in the image's own /etc/passwd and /etc/group: image/user.rs).
   */
  user?: string;
  /**
   * The config's `WorkingDir`.
   */
  workingDir?: string;
}
/**
 * The counts of a pack.
 */
export interface PackCounts {
  /**
   * Bytes of file data read.
   */
  bytes: number;
  dirs: number;
  files: number;
  /**
   * Extra names of hard-linked files, stored as separate files sharing their data (backhand's writer has no hard-link inodes).
   */
  hardlinksSplit: number;
  /**
   * Mount points below the directory, kept as empty directories.
   */
  mountsSkipped: number;
  /**
   * FIFOs, sockets, device nodes.
   */
  others: number;
  symlinks: number;
  /**
   * Entries whose extended attributes were not stored (backhand's writer has no xattr table).
   */
  xattrsDropped: number;
}
/**
 * Ids an image's `User` names (image/user.rs).
 */
export interface UserIds {
  /**
   * The user's primary group, or the group named; absent for `UID` alone.
   */
  gid?: number;
  uid: number;
}
/**
 * `sandboxctl-init image import|pack --progress`: how far it got (at most ten a second).
 */
export interface ProgressReport {
  bytes: number;
  event: 'progress';
  files: number;
  /**
   * `import` (bytes: of the layers as stored) or `pack` (bytes: of file data).
   */
  phase: string;
  totalBytes?: number;
  totalFiles?: number;
}
/**
 * A limit of plan.limits ended the program (an OOM kill, a refused
 * fork, the timeout), after pid 1 was reaped.
 */
export interface LimithitReport {
  event: 'limithit';
  limit: LimitKind;
}
export interface DeniedReport {
  event: 'denied';
}
/**
 * pid 1's namespaces by name (`mnt`, `pid`, ...) and inode number, sent
 * first thing when plan.reportNamespaces (bubblewrap's `--info-fd`).
 */
export interface NamespacesReport {
  event: 'namespaces';
  ids: {
    [k: string]: number | undefined;
  };
}
