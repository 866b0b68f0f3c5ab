/**
 * GENERATED FILE, DO NOT EDIT.
 * Source: schema/report.schema.json (from crates/sandbox-core/src/report.rs).
 * Regenerate with `npm run gen`; a unit test fails when this file drifts.
 */

/**
 * One report line, told apart by its `event`.
 */
export type Report = ErrorReport | SpawnedReport | StartedReport | ReadyReport | AuditReport;
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
  | 'E_NATIVE_MISSING'
  | 'E_CONFIG_INVALID'
  | 'E_CONFIG_UNTRUSTED'
  | 'E_TAINTED'
  | 'E_IMAGE_INVALID'
  | 'E_FUSE_UNAVAILABLE'
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
  | 'E_INTERNAL';
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
