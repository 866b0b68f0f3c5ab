/**
 * @sandboxctl/core: build sandbox plans and run programs in them. The
 * Promise-based API never prints; failures are {@link SandboxError}s with
 * stable codes.
 */

import { isPlanBuilder, type PlanBuilder } from './plan/builder';
import { checkPlanJson, nativeVersion, probe as nativeProbe, type PlanProblem, type Probe } from './native';
import type { Plan } from './plan-types';

export * from './plan';
/** The launcher's report lines and the audit's findings (generated from crates/sandbox-core/src/report.rs). */
export type { Report, ErrorReport, SpawnedReport, StartedReport, AuditReport, TaintFinding, TaintKind, TaintOutcome, TaintChange, Denial, DeniedReport } from './report-types';
export * from './errors';
export * from './run';
export { assertCallerFdsOpen, callerFds, isFdOpen, resolveBwrap, resolveOci, type CallerFd } from './launcher';
export * from './image';
export * from './diagnose';
export * from './presets';
export * from './config';
export * from './explain';
export type { PlanProblem, Probe } from './native';
export { compileSeccomp, planSchema } from './native';

/** Checks a plan natively without running it: its first problem, or `null`. */
export function checkPlan(plan: Plan | PlanBuilder | string): PlanProblem | null {
  const json = typeof plan === 'string' ? plan : JSON.stringify(isPlanBuilder(plan) ? plan.build() : plan);
  return checkPlanJson(json);
}

/** What the kernel supports: user namespaces, seccomp, landlock. */
export function probe(): Probe {
  return nativeProbe();
}

/** Version of the native crates (addon and launcher are built together). */
export function version(): string {
  return nativeVersion();
}
export { attach, buildLivePlan, copy, generateName, list, Sandbox, start, type ExecOptions, type SandboxState, type StartOptions } from './live/sandbox';
export { ExecProcess } from './live/exec';
export { FsError, FsView, type FsDirent, type FsEntryType, type FsStat } from './live/fs';
export type { ReadyReport } from './report-types';
export { createPool, Pool, type PoolOptions, type PoolRunOptions, type PoolStats } from './pool';
