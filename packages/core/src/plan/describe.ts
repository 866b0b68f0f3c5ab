/**
 * Ops in words: the Rust side's `Display` of each op through the addon, the
 * one description `explain`, `presets show` and the preset docs use.
 */

import { describeOpsJson } from '../native';
import type { Op } from '../plan-types';

type AnyOp = Op & Record<string, unknown>;

/**
 * One op as a line: the Rust side's `Display` through the addon, the one
 * description of an op (see {@link describeOps}).
 */
export function describeOp(op: Op, descriptions: Readonly<Record<string, string>> = {}): string {
  return describeOps([op], descriptions)[0]!;
}

/**
 * Each op as a line, in order, in one call to the addon (the Rust side's
 * `Display`). An op the addon cannot decode (a kind this build does not know,
 * or a field it refuses) is named by its kind and target, with the plan
 * schema's description of the kind when `descriptions` has one.
 */
export function describeOps(ops: readonly Op[], descriptions: Readonly<Record<string, string>> = {}): string[] {
  try {
    return describeOpsJson(JSON.stringify(ops));
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'E_PLAN_INVALID') throw error;
  }
  if (ops.length !== 1) return ops.map((op) => describeOp(op, descriptions));
  const o = ops[0] as AnyOp;
  const target = typeof o.target === 'string' ? o.target : undefined;
  const description = descriptions[o.kind];
  return [`${o.kind}${target ? ` on ${target}` : ''}${description ? `: ${lowerFirst(description.replace(/\.$/, ''))}` : ''}`];
}

/** Op kind → description, from a plan JSON Schema (`$defs.Op.oneOf`). */
export function opDescriptionsFromSchema(schema: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const variants = (schema as { $defs?: { Op?: { oneOf?: unknown[] } } } | undefined)?.$defs?.Op?.oneOf ?? [];
  for (const variant of variants as Array<{ description?: string; properties?: { kind?: { const?: string } } }>) {
    const kind = variant.properties?.kind?.const;
    if (typeof kind === 'string' && typeof variant.description === 'string') out[kind] = variant.description;
  }
  return out;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
