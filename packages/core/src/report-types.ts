/**
 * GENERATED FILE, DO NOT EDIT.
 * Source: schema/report.schema.json (from the `Report` enum in crates/sandbox-core/src/report.rs).
 * Regenerate with `npm run gen`; a unit test fails when this file drifts.
 *
 * (Until the generator lands this file is written by hand with exactly the
 * contract's shape; the generated one replaces it.)
 */

import type { OnTaint, TaintFinding } from './plan-types';

/** One line the launcher writes on the report channel, discriminated on `event`. */
export type Report = ErrorReport | SpawnedReport | StartedReport | AuditReport;

/** Setup failed; the launcher exits 125 (126/127 for `E_EXEC`). */
export interface ErrorReport {
  event: 'error';
  /** One of the stable error codes (error-codes.ts). */
  code: string;
  message: string;
  /** The plan op the error is about. */
  opIndex?: number;
  /** JSON path of the offending plan field. */
  path?: string;
  hint?: string;
}

/** The sandbox's pid 1 as the caller sees it, right after clone. */
export interface SpawnedReport {
  event: 'spawned';
  pid: number;
}

/** The program was executed. */
export interface StartedReport {
  event: 'started';
}

/** What the post-run audit found and did. */
export interface AuditReport {
  event: 'audit';
  action: OnTaint;
  findings: TaintFinding[];
  /** The run's quarantine directory, when something was moved there. */
  quarantine?: string;
  /** The program's exit status (128+N for signal N). */
  status: number;
}
