/**
 * How layers of a plan combine: a preset, then a config file or the caller's
 * own plan, then explicit options or flags. Ops append in that order; policy
 * fields of a later layer replace the earlier ones, except the environment,
 * which merges so a later `set` cannot silently drop a preset's removal of
 * credentials: `unset` lists join (and drop earlier `set`s of those names),
 * `set` maps merge (and win over earlier `unset`s), and only an explicit
 * `inherit: false` starts over.
 */

import type { EnvPolicy, Plan } from '../plan-types';

/** `over` applied on top of `base`; neither is modified. */
export function mergeEnv(base: EnvPolicy | undefined, over: EnvPolicy | undefined): EnvPolicy | undefined {
  if (over === undefined) return base === undefined ? undefined : structuredClone(base);
  if (base === undefined || over.inherit === false) return structuredClone(over);
  const out: EnvPolicy = {};
  const inherit = over.inherit ?? base.inherit;
  if (inherit !== undefined) out.inherit = inherit;
  const set: Record<string, string | undefined> = { ...base.set };
  for (const name of over.unset ?? []) delete set[name];
  Object.assign(set, over.set);
  const unset = [...new Set([...(base.unset ?? []), ...(over.unset ?? [])])].filter((name) => !(name in set));
  if (unset.length > 0) out.unset = unset;
  if (Object.keys(set).length > 0) out.set = set;
  // ch-run's steps run in order: the later layer's after the earlier's.
  const steps = [...(base.steps ?? []), ...(over.steps ?? [])];
  if (steps.length > 0) out.steps = structuredClone(steps);
  return out;
}

/** A layer: ops and any policy fields (argv and version are ignored). */
export type PlanLayer = Partial<Plan>;

/** `layers` in order: ops appended, policy replaced, env merged. */
export function composePlan(argv: readonly string[], ...layers: readonly (PlanLayer | undefined)[]): Plan {
  const plan: Plan = { version: 1, argv: [...argv] };
  const ops: NonNullable<Plan['ops']> = [];
  let env: EnvPolicy | undefined;
  for (const layer of layers) {
    if (layer === undefined) continue;
    const { ops: layerOps, env: layerEnv, argv: _argv, version: _version, ...policy } = structuredClone(layer);
    ops.push(...(layerOps ?? []));
    env = mergeEnv(env, layerEnv);
    Object.assign(plan, policy);
  }
  plan.ops = ops;
  if (env !== undefined) plan.env = env;
  return plan;
}
