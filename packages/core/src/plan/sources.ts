/**
 * Where a plan comes from, and how the sources combine: a preset, then a
 * config file, then the caller's own ops (bare ops or a builder's whole
 * plan), then single options, then `plan` overriding everything. Ops append
 * in that order; policy of a later source replaces an earlier one's, and
 * the environment merges ({@link composePlan}). `spawn`, `run`, `buildPlan`
 * and the CLI's `run`, `plan` and `explain` all resolve their plan here.
 */

import { resolve } from 'node:path';
import { loadConfig, presetWithConfig, type SandboxConfig } from '../config';
import { resolvePreset, type OpNote, type PresetName, type PresetOptions, type ResolvedPreset } from '../presets';
import { withOnTaint } from '../presets/audit';
import type { EnvPolicy, Network, OnTaint, Op, Plan } from '../plan-types';
import { noArgv } from './argv';
import { isPlanBuilder, PLAN_VERSION, type PlanBuilder } from './builder';
import { composePlan, mergeEnv } from './compose';
import { resolveOpPaths } from './paths';

/** The sources of a plan. */
export interface PlanSources {
  /** The program and its arguments. */
  argv?: string[];
  /**
   * A preset to start from (`'agent'`, or options such as `allowEnv`); its
   * ops come first and every option below applies on top of it.
   */
  preset?: PresetName | PresetOptions;
  /** Filesystem ops in order, or a builder whose whole plan is the starting point. */
  ops?: readonly Op[] | PlanBuilder;
  /**
   * Environment policy (default: inherit the caller's), merged onto the
   * preset's or builder's: `unset` lists join, `set` maps merge, and
   * `inherit: false` starts over.
   */
  env?: EnvPolicy;
  /** Working directory inside the sandbox. */
  cwd?: string;
  uid?: number;
  gid?: number;
  hostname?: string;
  /** `none` (default) or `host`. */
  network?: Network;
  /**
   * Give the program a pseudo-terminal of its own (`docker run -it`): job
   * control, Ctrl-C/Ctrl-Z, window size and exit status behave as on a local
   * terminal, and TIOCSTI inside reaches only the sandbox's pty. stdin and
   * stdout must be terminals (`stdio: 'inherit'` on a terminal, or terminal
   * fds) and the plan must mount a private /dev (every preset does); see
   * `canUseTty`. Default false.
   */
  tty?: boolean;
  /** Plan fields that override everything above. */
  plan?: Partial<Plan>;
  /**
   * A sandboxctl.json the caller trusts (as `--config FILE`), or one already
   * loaded (`loadConfig`, `discoverConfig`): its preset (unless `preset` is
   * given), ops and policy come between the preset's and these options. The
   * library never looks for one by itself.
   */
  config?: string | SandboxConfig;
  /**
   * What the post-run audit (the agent preset's, or `plan.audit`) does with
   * what the run planted: `revert` (default), `fail` (reject with
   * `E_TAINTED`, files left) or `warn` (only `ExitResult.taint`).
   */
  onTaint?: OnTaint;
  /**
   * Resolve relative paths in `ops` and `cwd` against this host directory,
   * as a shell resolves a command's arguments (the CLI passes its current
   * directory). Default: none; the native check refuses relative paths.
   */
  relativeTo?: string;
  /** How errors name an option, e.g. as the CLI flag that gave it (`--on-taint`); default the option's name. */
  optionName?: (option: 'onTaint') => string;
}

/** Where one op of a resolved plan came from. */
export type OpOrigin =
  | { from: 'preset'; preset: string; note: OpNote }
  | { from: 'config'; file: string; index: number }
  /** `ops` (or `plan.ops`, which replaces every other source's): its index there. */
  | { from: 'ops'; index: number };

/** A plan and what it was made of. */
export interface ResolvedPlan {
  plan: Plan;
  /** Where each op came from, same index as `plan.ops`. */
  origins: OpOrigin[];
  /** The preset, resolved for this host. */
  preset?: ResolvedPreset;
  /** The config file used. */
  config?: SandboxConfig;
}

/** The plan the sources describe (see the module comment). */
export function resolvePlan(sources: PlanSources): ResolvedPlan {
  if (sources.argv !== undefined && !Array.isArray(sources.argv)) throw noArgv();
  const own = ownLayer(sources.ops, sources.relativeTo);
  const config = typeof sources.config === 'string' ? loadConfig(sources.config) : sources.config;
  const presetOption = config ? presetWithConfig(sources.preset, config) : sources.preset;
  let preset: ResolvedPreset | undefined;
  if (presetOption !== undefined) {
    // The network the plan ends with decides whether the preset keeps DNS.
    const presetOptions: PresetOptions = typeof presetOption === 'string' ? { name: presetOption } : { ...presetOption };
    const network = sources.plan?.network ?? sources.network ?? own.network ?? config?.layer.network;
    if (presetOptions.network === undefined && network !== undefined) presetOptions.network = network;
    preset = resolvePreset(presetOptions);
  }

  const plan = composePlan(sources.argv ?? [], preset && { ops: preset.ops, ...preset.policy }, config?.layer, own);
  if (sources.env !== undefined) plan.env = mergeEnv(plan.env, sources.env);
  if (sources.cwd !== undefined) plan.cwd = sources.relativeTo === undefined ? sources.cwd : resolve(sources.relativeTo, sources.cwd);
  if (sources.uid !== undefined) plan.uid = sources.uid;
  if (sources.gid !== undefined) plan.gid = sources.gid;
  if (sources.hostname !== undefined) plan.hostname = sources.hostname;
  if (sources.network !== undefined) plan.network = sources.network;
  if (sources.tty !== undefined) plan.tty = sources.tty;
  if (sources.onTaint !== undefined) plan.audit = withOnTaint(plan.audit, sources.onTaint, sources.optionName?.('onTaint') ?? 'onTaint');

  const origins: OpOrigin[] = [];
  for (const note of preset?.notes ?? []) origins.push({ from: 'preset', preset: preset!.name, note });
  (config?.layer.ops ?? []).forEach((_, index) => origins.push({ from: 'config', file: config!.file, index }));
  (own.ops ?? []).forEach((_, index) => origins.push({ from: 'ops', index }));

  const out: ResolvedPlan = { plan, origins };
  if (sources.plan) {
    Object.assign(plan, structuredClone(sources.plan));
    if (sources.plan.ops !== undefined) out.origins = (sources.plan.ops ?? []).map((_, index) => ({ from: 'ops', index }));
  }
  if (preset) out.preset = preset;
  if (config) out.config = config;
  return out;
}

/** The caller's own layer: a builder's whole plan, or bare ops; relative paths resolved when asked. */
function ownLayer(ops: PlanSources['ops'], relativeTo: string | undefined): Plan {
  const own: Plan = isPlanBuilder(ops) ? ops.build() : { version: PLAN_VERSION, argv: [], ops: structuredClone([...(ops ?? [])]) };
  if (relativeTo !== undefined) {
    own.ops = (own.ops ?? []).map((op) => resolveOpPaths(op, relativeTo));
    if (typeof own.cwd === 'string') own.cwd = resolve(relativeTo, own.cwd);
  }
  return own;
}
