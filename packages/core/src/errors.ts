/**
 * Errors of the library. Every failure the caller can act on is a
 * {@link SandboxError} with a stable `code` (docs/internals.md); tests and
 * callers branch on the code, never on the wording.
 */

import { ERROR_CODES } from './error-codes';

/** The stable error codes, generated from the Rust `Code` enum (the one list). */
export { ERROR_CODES };

export type ErrorCode = (typeof ERROR_CODES)[number];

import type { TaintFinding } from './report-types';

/** Optional facts attached to a {@link SandboxError}. */
export interface SandboxErrorDetails {
  /** Index of the plan op the error is about. */
  opIndex?: number;
  /** JSON path of the offending plan field, e.g. `plan.ops[3].source`. */
  path?: string;
  /** How to fix it, when known. */
  hint?: string;
  /** Exit status of `sandboxctl-init` when the error came from it. */
  exitStatus?: number;
  /** `E_TAINTED`: what the post-run audit found. */
  taint?: TaintFinding[];
  cause?: unknown;
}

/** An error report as the native side writes it (report line or `checkPlan`). */
export interface ErrorReport {
  code: string;
  message: string;
  opIndex?: number | null;
  path?: string | null;
  hint?: string | null;
}

export class SandboxError extends Error {
  /**
   * One of {@link ERROR_CODES}; typed open-ended because a newer launcher may
   * report a code this library does not know yet.
   */
  readonly code: ErrorCode | (string & {});
  // `declare`: absent facts stay absent (no own property set to undefined).
  declare readonly opIndex?: number;
  declare readonly path?: string;
  declare readonly hint?: string;
  declare readonly exitStatus?: number;
  declare readonly taint?: TaintFinding[];

  constructor(code: ErrorCode | (string & {}), message: string, details: SandboxErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'SandboxError';
    this.code = code;
    const facts = this as { opIndex?: number; path?: string; hint?: string; exitStatus?: number; taint?: TaintFinding[] };
    if (details.opIndex !== undefined) facts.opIndex = details.opIndex;
    if (details.path !== undefined) facts.path = details.path;
    if (details.hint !== undefined) facts.hint = details.hint;
    if (details.exitStatus !== undefined) facts.exitStatus = details.exitStatus;
    if (details.taint !== undefined) facts.taint = details.taint;
  }

  /** Builds the error from a native report; absent and `null` fields are dropped. */
  static fromReport(report: ErrorReport, exitStatus?: number): SandboxError {
    return new SandboxError(report.code, report.message, {
      opIndex: report.opIndex ?? undefined,
      path: report.path ?? undefined,
      hint: report.hint ?? undefined,
      exitStatus,
    });
  }

  /** The plain-data view, as `--json` output and report lines use it. */
  toJSON(): ErrorReport {
    const out: ErrorReport = { code: this.code, message: this.message };
    if (this.opIndex !== undefined) out.opIndex = this.opIndex;
    if (this.path !== undefined) out.path = this.path;
    if (this.hint !== undefined) out.hint = this.hint;
    return out;
  }
}

/** True for a {@link SandboxError}, also one from another copy of this package. */
export function isSandboxError(error: unknown): error is SandboxError {
  return (
    error instanceof SandboxError ||
    (error instanceof Error && error.name === 'SandboxError' && typeof (error as { code?: unknown }).code === 'string')
  );
}
