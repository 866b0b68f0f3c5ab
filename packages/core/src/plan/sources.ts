/**
 * Where a plan comes from, and how the sources combine: a preset, then a
 * config file, then the caller's own ops (bare ops or a builder's whole
 * plan), then single options, then `plan` overriding everything. Ops append
 * in that order; policy of a later source replaces an earlier one's, and
 * the environment merges ({@link composePlan}). `image` sets the root. `spawn`, `run`, `buildPlan`
 * and the CLI's `run`, `plan` and `explain` all resolve their plan here.
 */

import { isAbsolute, resolve } from 'node:path';
import { loadConfig, presetWithConfig, type SandboxConfig } from '../config';
import { resolvePreset, type OpNote, type PresetName, type PresetOptions, type ResolvedPreset } from '../presets';
import { withOnTaint } from '../presets/audit';
import { impliedWrite, resolveImagePreset, RUNNING_VAR, type ImagePresetOptions } from '../presets/image';
import { SandboxError } from '../errors';
import type { EnvPolicy, EnvStep, ImageFormat, Network, OnTaint, Op, Plan, RootSpec, RootWrite } from '../plan-types';
import { noArgv } from './argv';
import { imageRunDefaults } from '../image';
import { isPlanBuilder, PLAN_VERSION, type PlanBuilder } from './builder';
import { composePlan, mergeEnv } from './compose';
import { resolveOpPaths } from './paths';
import { fsRuleOps, type FilesystemRules, type FsRuleName } from './fsrules';
import { planLimits, type LimitName, type LimitsOption } from './limits';
import { passwdHome } from '../passwd-home';
import { homedir } from 'node:os';

/**
 * An image as the sandbox's root, as `image` gives it (the plan's `root`,
 * docs/images.md), and the `image` preset's options (docs/hpc.md: ch-run's
 * defaults, `--home`, `--private-tmp`, `--cd`, `--fakeroot`).
 */
export interface ImageOption extends ImagePresetOptions {
  /** A directory or a SquashFS file; relative to `relativeTo`, else to the current directory. */
  path: string;
  /** `readOnly` (default), `writable` (a directory image, ch-run's `--write`) or `fake` (writes to a tmpfs, gone after the run). */
  write?: RootWrite;
  /** Size of the tmpfs of `write: 'fake'` in tmpfs `size=` syntax (`1G`, `12%`); default `12%`. */
  fakeSize?: string;
  /** `auto` (default): a directory, else the SquashFS magic. */
  format?: ImageFormat;
  /** false: the bare image, none of the `image` preset's defaults (give /proc, /dev, /tmp as ops). Default true. */
  preset?: boolean;
}

/** The option names errors can name ({@link PlanSources.optionName}). */
export type SourceOption = 'onTaint' | 'image' | 'image.write' | 'image.fakeSize' | 'image.home' | 'image.fakeroot' | 'image.cd' | 'image.omit' | 'env.steps';

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
  /**
   * `none` (default: loopback only), `host`, or an allow list reached
   * through the sandbox's proxy: `{ allow: ['registry.npmjs.org', '*.github.com:443'], allowSets: ['pypi'], deny: [...] }`
   * (an empty `allow` means no network).
   */
  network?: Network;
  /** Report what the policy refused: the result's `denials` (the CLI's `--report`). */
  report?: boolean;
  /**
   * Give the program a pseudo-terminal of its own (`docker run -it`): job
   * control, Ctrl-C/Ctrl-Z, window size and exit status behave as on a local
   * terminal, and TIOCSTI inside reaches only the sandbox's pty. stdin and
   * stdout must be terminals (`stdio: 'inherit'` on a terminal, or terminal
   * fds) and the plan must mount a private /dev (every preset does); see
   * `canUseTty`. Default false.
   */
  tty?: boolean;
  /**
   * An image as the root (`plan.root`): a path, read-only, or the path and
   * how writes go. The ops then build on the image instead of an empty
   * root, so give them yourself (`/proc`, `/dev`, `/tmp`); the presets
   * build on the host's directories and do not combine with it.
   */
  image?: string | ImageOption;
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
  optionName?: (option: SourceOption) => string;
  /**
   * Filesystem rules on host paths (docs/limits.md): `denyRead`, `allowRead`,
   * `allowWrite`, `denyWrite`; relative paths from `relativeTo` (else the
   * current directory), `~` from the real home, globs expanded now. Their
   * ops come after every other op. Added to the config file's.
   */
  filesystem?: FilesystemRules;
  /** Resource limits (`memory`, `pids`, `cpus`, `timeout`, `rlimits`); each replaces the config file's. */
  limits?: LimitsOption;
  /** How errors name a rule's entry (default `filesystem.denyRead[0]`) and a limit (default `limits.memory`). */
  ruleName?: FsRuleName;
  limitName?: LimitName;
}

/** Where one op of a resolved plan came from. */
export type OpOrigin =
  | { from: 'preset'; preset: string; note: OpNote }
  | { from: 'config'; file: string; index: number }
  /** `ops` (or `plan.ops`, which replaces every other source's): its index there. */
  | { from: 'ops'; index: number }
  /** A filesystem rule: the option or flag and its entry. */
  | { from: 'filesystem'; rule: string };

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
    // A path the rules make writable is not one the preset protects.
    const allowWrite = [...(config?.filesystem?.allowWrite ?? []), ...(sources.filesystem?.allowWrite ?? [])];
    if (allowWrite.length > 0) presetOptions.allowWrite = [...(presetOptions.allowWrite ?? []), ...allowWrite];
    preset = resolvePreset(presetOptions);
  }

  const optionName = sources.optionName ?? ((o: SourceOption) => o);
  const root = sources.image === undefined ? undefined : imageRoot(sources.image, sources.relativeTo, optionName);
  const imageOption: ImageOption | undefined = sources.image === undefined ? undefined : typeof sources.image === 'string' ? { path: sources.image } : sources.image;
  if (root !== undefined && presetOption !== undefined) {
    const name = typeof presetOption === 'string' ? presetOption : presetOption.name;
    const what = (sources.optionName ?? ((o) => o))('image');
    throw new SandboxError('E_PLAN_INVALID', `${what} does not combine with preset ${name}: its ops build on the host's directories, not the image's`, {
      path: 'root',
      hint: `drop the preset${config?.preset !== undefined && sources.preset === undefined ? ` (the config file ${config.file} names it)` : ''}, and give /proc, /dev and /tmp as ops`,
    });
  }

  // `image` implies its preset (ch-run's defaults), unless asked for the bare image.
  let imageSteps: EnvStep[] | undefined;
  if (root !== undefined && imageOption?.preset !== false) {
    root.write = impliedWrite(root, imageOption ?? {});
    const resolved = resolveImagePreset(root, imageOption ?? {}, {
      env: process.env,
      name: (o) => optionName(o === 'omit' ? 'image.omit' : o === 'cd' ? 'image.cd' : o === 'home' ? 'image.home' : 'image.fakeroot'),
    });
    imageSteps = resolved.steps;
    preset = resolved;
  }

  const plan = composePlan(sources.argv ?? [], preset && { ops: preset.ops, ...preset.policy }, config?.layer, own);
  if (imageSteps !== undefined) {
    // ch-run's order: its adjustments, the caller's --set-env/--unset-env, the marker last.
    plan.env = { ...plan.env, steps: [...imageSteps, ...absoluteSteps(plan.env?.steps ?? [], sources.relativeTo), { kind: 'set', name: RUNNING_VAR, value: '1' }] };
    if (imageOption?.fakeroot) {
      plan.uid = 0;
      plan.gid = 0;
    }
  } else if ((plan.env?.steps ?? []).length > 0) {
    throw new SandboxError('E_PLAN_INVALID', `${optionName('env.steps')} apply to an image's environment only`, { path: 'env.steps', hint: 'add an image (--image PATH); other presets keep their own environment rules' });
  }
  // A bind that must find its target in a read-only image may create it in a writable one.
  if (root !== undefined && root.write !== 'readOnly') {
    for (const op of plan.ops ?? []) if (op.kind === 'bind' && op.missingTarget === 'refuse') op.missingTarget = 'create';
  }
  if (sources.env !== undefined) plan.env = mergeEnv(plan.env, sources.env);
  if (sources.cwd !== undefined) plan.cwd = sources.relativeTo === undefined ? sources.cwd : resolve(sources.relativeTo, sources.cwd);
  if (sources.uid !== undefined) plan.uid = sources.uid;
  if (sources.gid !== undefined) plan.gid = sources.gid;
  if (sources.hostname !== undefined) plan.hostname = sources.hostname;
  if (sources.network !== undefined) plan.network = sources.network;
  if (sources.report === true) plan.report = true;
  if (sources.tty !== undefined) plan.tty = sources.tty;
  if (root !== undefined) plan.root = root;
  if (root !== undefined && plan.argv.length === 0 && sources.plan?.argv === undefined) {
    // The image preset's working directory is only its default (`/`, as ch-run's): the image's own wins over it.
    const cwdIsDefault = imageOption?.cd === undefined && own.cwd === undefined && config?.layer.cwd === undefined && sources.cwd === undefined;
    withImageDefaults(plan, root.image, cwdIsDefault);
  }
  if (sources.onTaint !== undefined) plan.audit = withOnTaint(plan.audit, sources.onTaint, sources.optionName?.('onTaint') ?? 'onTaint');

  const origins: OpOrigin[] = [];
  for (const note of preset?.notes ?? []) origins.push({ from: 'preset', preset: preset!.name, note });
  (config?.layer.ops ?? []).forEach((_, index) => origins.push({ from: 'config', file: config!.file, index }));
  (own.ops ?? []).forEach((_, index) => origins.push({ from: 'ops', index }));

  // Filesystem rules and limits: the config file's, then the caller's.
  const rules: FilesystemRules = {};
  for (const layer of [config?.filesystem, sources.filesystem]) {
    for (const [k, list] of Object.entries(layer ?? {})) (rules as Record<string, string[]>)[k] = [...((rules as Record<string, string[]>)[k] ?? []), ...(list as string[])];
  }
  if (Object.keys(rules).length > 0) {
    const ruleName = sources.ruleName ?? ((kind, i) => `filesystem.${kind}[${i}]`);
    const skipped: string[] = [];
    const writable = (plan.ops ?? []).flatMap((op) => (op.kind === 'bind' && op.writable ? [op.target] : []));
    const made = fsRuleOps(rules, { cwd: sources.relativeTo ?? process.cwd(), home: passwdHome() ?? homedir(), name: ruleName, writable }, skipped);
    plan.ops = [...(plan.ops ?? []), ...made.map((m) => m.op)];
    for (const m of made) origins.push({ from: 'filesystem', rule: m.rule });
    if (preset) preset.skipped.push(...skipped);
    // The second layer (Landlock, where the kernel has it): writes only to
    // allowWrite, the preset's own writable places and the private mounts,
    // even through a writable bind given some other way.
    if ((rules.allowWrite ?? []).length > 0) {
      const home = passwdHome() ?? homedir();
      const cwd = sources.relativeTo ?? process.cwd();
      const writable = (rules.allowWrite ?? []).map((p) => {
        const abs = p === '~' ? home : p.startsWith('~/') ? resolve(home, p.slice(2)) : resolve(cwd, p);
        return made.find((m) => m.op.kind === 'bind' && m.op.writable && m.rule.endsWith(` ${p}`))?.op.target ?? abs;
      });
      for (const op of preset?.ops ?? []) if (op.kind === 'bind' && op.writable) writable.push(op.target);
      plan.landlock = { ...plan.landlock, write: [...new Set([...(plan.landlock?.write ?? []), ...writable])] };
    }
  }
  const limitsOption: LimitsOption = { ...config?.limits, ...sources.limits };
  if (config?.limits?.rlimits && sources.limits?.rlimits) limitsOption.rlimits = { ...config.limits.rlimits, ...sources.limits.rlimits };
  if (Object.keys(limitsOption).length > 0) plan.limits = planLimits(limitsOption, sources.limitName);

  const out: ResolvedPlan = { plan, origins };
  if (sources.plan) {
    Object.assign(plan, structuredClone(sources.plan));
    if (sources.plan.ops !== undefined) out.origins = (sources.plan.ops ?? []).map((_, index) => ({ from: 'ops', index }));
  }
  if (preset) out.preset = preset;
  if (config) out.config = config;
  return out;
}

/**
 * No command given with an image: the image's own, as an import stored it
 * (entrypoint then cmd, in its working directory unless a `cwd` was given;
 * docs/images.md). An image without defaults, or one that cannot be read,
 * leaves the plan as it was: the launcher then reports what is wrong.
 */
function withImageDefaults(plan: Plan, image: string, cwdIsDefault: boolean): void {
  let meta: ReturnType<typeof imageRunDefaults>['meta'];
  let userIds: ReturnType<typeof imageRunDefaults>['userIds'];
  try {
    ({ meta, userIds } = imageRunDefaults(image));
  } catch (e) {
    // A User the image does not list is the user's to fix: said, not run as the caller.
    if (e instanceof SandboxError && e.code === 'E_IMAGE_USER') throw e;
    return;
  }
  const argv = [...(meta?.entrypoint ?? []), ...(meta?.cmd ?? [])];
  if (argv.length === 0) return;
  plan.argv = argv;
  if ((plan.cwd === undefined || cwdIsDefault) && meta?.workingDir) plan.cwd = meta.workingDir;
  // The config's User, as the ids the caller is mapped to (ch-run's --uid/--gid: one id each,
  // never a privilege), unless uid or gid was given.
  // A name (`app`, `app:staff`, `1000:staff`) is resolved in the image's own
  // /etc/passwd and /etc/group by the native side (image/user.rs).
  const user = userIds ?? imageUser(meta?.user);
  if (user !== undefined && plan.uid === undefined && plan.gid === undefined) {
    plan.uid = user.uid;
    if (user.gid !== undefined) plan.gid = user.gid;
  }
}

/**
 * An OCI config's `User` as ids when it names no account: `UID`, `UID:GID`
 * and `root` (0:0); `undefined` otherwise (a name is resolved in the image's
 * own files: `imageRunDefaults`).
 */
export function imageUser(user: string | undefined): { uid: number; gid?: number } | undefined {
  if (user === undefined || user === '') return undefined;
  if (user === 'root' || user === 'root:root') return { uid: 0, gid: 0 };
  const m = /^(\d{1,10})(?::(\d{1,10}))?$/.exec(user);
  if (!m) return undefined;
  const uid = Number(m[1]);
  const gid = m[2] === undefined ? undefined : Number(m[2]);
  if (uid > 0xfffffffe || (gid !== undefined && gid > 0xfffffffe)) return undefined;
  return gid === undefined ? { uid } : { uid, gid };
}

const WRITES: readonly RootWrite[] = ['readOnly', 'writable', 'fake'];
const FORMATS: readonly ImageFormat[] = ['auto', 'dir', 'squashfs'];
/** tmpfs `size=` as ch-run's `--write-fake` takes it. */
const FAKE_SIZE = /^[0-9]+[kmgKMG%]?$/;

/** `plan.root` from the `image` option; `E_PLAN_INVALID` naming the option for a bad value or combination. */
function imageRoot(image: string | ImageOption, relativeTo: string | undefined, name: (option: SourceOption) => string): RootSpec {
  const bad = (option: SourceOption, message: string, hint?: string): SandboxError => new SandboxError('E_PLAN_INVALID', `${name(option)} ${message}`, { path: 'root', hint });
  const option: ImageOption = typeof image === 'string' ? { path: image } : image;
  if (typeof option !== 'object' || option === null || typeof option.path !== 'string' || option.path === '') {
    throw bad('image', `must be a path or { path, write, fakeSize }, got ${JSON.stringify(image)}`);
  }
  const write = option.write ?? 'readOnly';
  if (!WRITES.includes(write)) throw bad('image.write', `must be one of ${WRITES.join(', ')}, got ${JSON.stringify(option.write)}`);
  if (option.format !== undefined && !FORMATS.includes(option.format)) throw bad('image', `format must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(option.format)}`);
  const root: RootSpec = { image: resolve(relativeTo ?? process.cwd(), option.path), write };
  if (option.format !== undefined) root.format = option.format;
  if (option.fakeSize !== undefined) {
    if (write !== 'fake') throw bad('image.fakeSize', `applies only to fake writes (${name('image.write')} fake)`, 'drop it, or make the writes fake');
    if (typeof option.fakeSize !== 'string' || !FAKE_SIZE.test(option.fakeSize)) {
      throw bad('image.fakeSize', `must be a tmpfs size (digits with k, m, g or %), got ${JSON.stringify(option.fakeSize)}`, 'e.g. 1G or 12%');
    }
    root.fakeSize = option.fakeSize;
  }
  return root;
}

/** Host environment files named relative to `relativeTo` (ch-run opens them from the current directory). */
function absoluteSteps(steps: readonly EnvStep[], relativeTo: string | undefined): EnvStep[] {
  return steps.map((step) =>
    step.kind === 'file' && (step.scope ?? 'host') === 'host' && !isAbsolute(step.path) ? { ...step, path: resolve(relativeTo ?? process.cwd(), step.path) } : step,
  );
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
