/**
 * The seam to `@sandboxctl/native`. The addon is loaded on first use, not at
 * import, so building plans and parsing flags work (and are testable) without a
 * compiled addon; a missing addon becomes an `E_NATIVE_MISSING` error that says
 * how to build it.
 */

import type * as NativeModule from '@sandboxctl/native';
import { SandboxError } from './errors';
import { missingNativeHint } from './install-hint';

export type Native = typeof NativeModule;
export type Probe = NativeModule.Probe;
export type PlanProblem = NativeModule.PlanProblem;

let cached: Native | undefined;

/** The addon, loaded once. Throws `E_NATIVE_MISSING` when it cannot be loaded. */
export function loadNative(): Native {
  if (cached === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, not at import (see the top of this file)
      cached = require('@sandboxctl/native') as Native;
    } catch (error) {
      const reason = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
      throw new SandboxError('E_NATIVE_MISSING', `cannot load the native addon: ${reason}`, {
        hint: missingNativeHint(),
        cause: error,
      });
    }
  }
  return cached;
}

/** Validates the plan JSON natively; `null` when it is acceptable. */
export function checkPlanJson(json: string): PlanProblem | null {
  return loadNative().checkPlan(json);
}

/**
 * Throws the plan's first problem as a {@link SandboxError} (usually
 * `E_PLAN_INVALID`), before anything is spawned.
 */
export function assertPlanJson(json: string): void {
  const problem = checkPlanJson(json);
  if (problem) throw SandboxError.fromReport(problem);
}

/**
 * Each op of a JSON ops array in words, in order: the Rust side's description
 * of an op. An op that does not decode throws an error with the code
 * `E_PLAN_INVALID` naming its JSON path.
 */
export function describeOpsJson(json: string): string[] {
  return loadNative().describeOps(json);
}

/** What the kernel supports: user namespaces, seccomp, landlock. */
export function probe(): Probe {
  return loadNative().probe();
}

/** Version of the native crates. */
export function nativeVersion(): string {
  return loadNative().version();
}

/** The plan JSON Schema compiled into the addon. */
export function planSchema(): string {
  return loadNative().planSchema();
}

/**
 * Compiles a seccomp policy (the plan's `seccomp` field) to raw BPF, one
 * buffer per filter in load order, as bubblewrap's --seccomp FD reads it.
 * A bad rule is an `E_PLAN_INVALID` SandboxError naming the field.
 */
export function compileSeccomp(policy: unknown, keepSession = false, arch?: string): Buffer[] {
  const native = loadNative();
  try {
    return native.compileSeccomp(JSON.stringify(policy), keepSession, arch);
  } catch (error) {
    const e = error as { code?: unknown; message?: unknown };
    if (e.code !== 'E_PLAN_INVALID') throw error;
    const message = String(e.message);
    // The message starts with the field at fault: `plan.seccomp.rules[2].syscall: ...`.
    const path = /^(plan\.seccomp[^:\s]*):/.exec(message)?.[1];
    throw new SandboxError('E_PLAN_INVALID', message, { path, cause: error });
  }
}
