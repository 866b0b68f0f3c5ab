/**
 * From preset data to plan ops for one host. Each step becomes zero or more
 * ops, each with a note saying why it is there; a secret that is not on the
 * host produces no op, a protected path that is not there gets a placeholder
 * or nothing, as its data says. The host is only looked at (through a
 * {@link HostView}), never changed: the placeholders are made by the init,
 * as mount points, when the plan runs.
 */

import { posix } from 'node:path';
import { SandboxError } from '../errors';
import type { EnvPolicy, Op, Plan } from '../plan-types';
import { auditRoots, auditSpec } from './audit';
import { credentialNames, disallowedNames } from './credentials';
import { gitProtectedPaths } from './git';
import { resolveHome } from './home';
import type { HostView } from './host';
import { resolvePrivateRun, resolveResolver, resolveSockets } from './reach';
import { resolveRootSecrets } from './system-secrets';
import type { PresetDefinition, PresetStep, ProtectedPath } from './types';

/** What an op does for the preset, for `explain` and the docs. */
export type OpRole =
  | 'host'
  | 'system'
  | 'input'
  | 'writable'
  | 'output'
  | 'private'
  | 'kernel'
  | 'hidden'
  | 'protected'
  | 'placeholder'
  /** A host cache, copy-on-write. */
  | 'cache'
  /** A file the preset writes (a sanitized copy of a host file, an empty resolv.conf). */
  | 'sanitized';

export interface OpNote {
  role: OpRole;
  /** Why the op is there, in words. */
  why: string;
}

/** Everything a preset's plan depends on. */
export interface PresetContext {
  /** Absolute host path of the current directory. */
  cwd: string;
  /** Absolute host path of the caller's home directory (password database, realpath). */
  home: string;
  /** The caller's environment, for credential detection (values never leave). */
  env: Readonly<Record<string, string | undefined>>;
  /** The session's runtime directory ($XDG_RUNTIME_DIR), if any. */
  runtimeDir?: string;
  host: HostView;
  /** Variable names kept even though they look like credentials. */
  allowEnv: readonly string[];
  /** Absolute paths readable in `build` (default: the current directory). */
  inputs?: readonly string[];
  /** Absolute path writable in `build` (default: `out` in the current directory). */
  output?: string;
  /** The caller's uid (0: root-only files get hidden). */
  uid?: number;
  /** The network the plan ends up with, when the caller overrides the preset's. */
  network?: Plan['network'];
  /** Home paths shown read-only on request (absolute, or relative to the home). */
  allowHome?: readonly string[];
  /** Host socket paths left reachable (absolute). */
  allowSocket?: readonly string[];
}

/** The policy part of a plan that a preset sets. */
export type PresetPlanPolicy = Pick<Plan, 'network' | 'seccomp' | 'hostname' | 'cwd' | 'env' | 'audit'>;

export interface ResolvedPreset {
  name: string;
  ops: Op[];
  /** One per op, same index. */
  notes: OpNote[];
  policy: PresetPlanPolicy;
  /** Variables removed from the environment because they look like credentials. */
  removedEnv: string[];
  /** What the preset would have done but did not, and why. */
  skipped: string[];
}

/** Turns preset data into ops and policy for this context. */
export function resolveWith(preset: PresetDefinition, ctx: PresetContext): ResolvedPreset {
  const cwd = posix.normalize(ctx.cwd);
  const home = posix.normalize(ctx.home);
  checkCwd(preset, cwd, home);
  // `$HOME`, when it names another directory, is a home too (home.ts shows it the same way).
  const envHome = ctx.env.HOME !== undefined && posix.isAbsolute(ctx.env.HOME) ? ctx.host.realpath(ctx.env.HOME) : undefined;
  if (envHome !== undefined && envHome !== home && envHome !== '/' && ctx.host.kind(envHome) === 'dir') checkCwd(preset, cwd, envHome);
  const out: ResolvedPreset = { name: preset.name, ops: [], notes: [], policy: {}, removedEnv: [], skipped: [] };
  const add = (op: Op, role: OpRole, why: string): void => {
    out.ops.push(op);
    out.notes.push({ role, why });
  };
  const fill = (template: string): string | undefined => {
    if (template.includes('{runtimeDir}') && ctx.runtimeDir === undefined) return undefined;
    const path = template.replace('{cwd}', cwd).replace('{home}', home).replace('{runtimeDir}', ctx.runtimeDir ?? '');
    return posix.normalize(path);
  };

  const state: StepState = { shownHome: [], hidden: [] };
  for (const step of preset.steps) resolveStep(step, { ...ctx, cwd, home }, fill, add, out.skipped, state, preset);

  const { policy } = preset;
  out.policy.network = policy.network;
  out.policy.seccomp = { preset: policy.seccomp };
  if (policy.hostname !== undefined) out.policy.hostname = policy.hostname;
  if (policy.cwdHere && out.ops.some((op) => op.kind === 'bind' && isWithin(cwd, op.target))) out.policy.cwd = cwd;
  const env: EnvPolicy = {};
  if (policy.env.clear) env.inherit = false;
  if (policy.env.allowList) {
    out.removedEnv = disallowedNames(ctx.env, ctx.allowEnv);
    if (out.removedEnv.length > 0) env.unset = [...out.removedEnv];
  } else if (policy.env.removeCredentials) {
    out.removedEnv = credentialNames(ctx.env, ctx.allowEnv);
    if (out.removedEnv.length > 0) env.unset = [...out.removedEnv];
  }
  if (policy.env.set) env.set = { ...policy.env.set };
  if (policy.env.offlineSet && (ctx.network ?? policy.network) === 'none') env.set = { ...env.set, ...policy.env.offlineSet };
  if (Object.keys(env).length > 0) out.policy.env = env;
  if (policy.audit) out.policy.audit = auditSpec(auditRoots({ cwd }));
  return out;
}

type Add = (op: Op, role: OpRole, why: string) => void;

/** What one step leaves for a later one. */
interface StepState {
  /** Home paths the home step showed (the socket scan looks there). */
  shownHome: string[];
  /** Directories hidden behind an empty tmpfs (the socket scan skips them). */
  hidden: string[];
}

function resolveStep(
  step: PresetStep,
  ctx: PresetContext,
  fill: (template: string) => string | undefined,
  add: Add,
  skipped: string[],
  state: StepState,
  preset: PresetDefinition,
): void {
  const { host, cwd } = ctx;
  const network = (ctx.network ?? preset.policy.network) === 'host';
  if ('home' in step) {
    const home: Parameters<typeof resolveHome>[0] = { home: ctx.home, cwd, host, allowHome: ctx.allowHome ?? [] };
    const envHome = ctx.env.HOME;
    if (envHome !== undefined && posix.isAbsolute(envHome)) home.envHome = envHome;
    state.shownHome.push(...resolveHome(home, add, skipped));
    return;
  }
  if ('privateRun' in step || 'sockets' in step || 'resolver' in step) {
    const scan = [...state.shownHome];
    const tmux = ctx.env.TMUX_TMPDIR;
    if (tmux !== undefined && posix.isAbsolute(tmux)) scan.push(posix.normalize(tmux));
    const reach: Parameters<typeof resolveSockets>[0] = { host, cwd, network, allowSocket: ctx.allowSocket ?? [], scan, hidden: state.hidden };
    if (ctx.runtimeDir !== undefined) reach.runtimeDir = ctx.runtimeDir;
    if ('privateRun' in step) resolvePrivateRun(reach, add, skipped);
    else if ('sockets' in step) resolveSockets(reach, add, skipped, step.sockets);
    else resolveResolver(reach, add);
    return;
  }
  if ('rootSecrets' in step) {
    resolveRootSecrets(
      host,
      ctx.uid,
      (op, role, why) => {
        if (op.kind === 'tmpfs') state.hidden.push(op.target);
        add(op, role, why);
      },
      skipped,
    );
    return;
  }
  if ('op' in step) {
    const op = { ...step.op } as Op & { source?: string; target?: string };
    if (typeof op.source === 'string') op.source = fill(op.source);
    if (typeof op.target === 'string') op.target = fill(op.target);
    add(op, roleOf(op), step.why);
    return;
  }
  if ('hide' in step) {
    for (const template of step.hide) {
      const path = fill(template);
      if (path === undefined) continue;
      const kind = host.kind(path);
      if (kind === 'missing') continue;
      if (isWithin(cwd, path)) {
        skipped.push(`${path} is not hidden: it holds the current directory`);
        continue;
      }
      if (kind === 'dir') add({ kind: 'tmpfs', target: path, mode: step.mode ?? 0 }, 'hidden', step.why);
      else add({ kind: 'bind', source: '/dev/null', target: path }, 'hidden', step.why);
    }
    return;
  }
  if ('protectGit' in step) {
    protect(gitProtectedPaths(cwd, host), ctx, step.why, add, skipped);
    return;
  }
  if ('protect' in step) {
    protect(step.protect, ctx, step.why, add, skipped);
    return;
  }
  if ('system' in step) {
    for (const path of step.system) {
      const link = host.readlink(path);
      if (link !== undefined) add({ kind: 'symlink', target: path, linkname: link }, 'system', `${step.why} (a symlink on the host)`);
      else if (host.kind(path) !== 'missing') add({ kind: 'bind', source: path, target: path }, 'system', step.why);
    }
    return;
  }
  if ('inputs' in step) {
    for (const input of ctx.inputs ?? [cwd]) add({ kind: 'bind', source: input, target: input }, 'input', step.why);
    return;
  }
  const output = ctx.output ?? posix.join(cwd, 'out');
  add({ kind: 'bind', source: output, target: output, writable: true }, 'output', step.why);
}

/**
 * Existing paths are bound read-only onto themselves. A missing one with a
 * placeholder gets one at its first missing component (the `placeholder`
 * op): an empty read-only stand-in, created on the host by the launcher for
 * the run and removed after it by the last sandbox using it.
 */
function protect(paths: readonly ProtectedPath[], ctx: PresetContext, why: string, add: Add, skipped: string[]): void {
  const { host, cwd } = ctx;
  const placed = new Set<string>();
  for (const entry of paths) {
    const abs = posix.join(cwd, entry.path);
    const kind = host.kind(abs);
    if (kind !== 'missing' && entry.placeholder && (kind === 'dir' || kind === 'file') && host.readlink(abs) === undefined) {
      // Even when present: it may be another sandbox's stand-in, and every
      // sandbox using the path must hold its lock (ops/placeholder.rs).
      if (!placed.has(abs)) add({ kind: 'placeholder', target: abs, type: kind }, 'protected', why);
      placed.add(abs);
      continue;
    }
    if (kind !== 'missing') {
      add({ kind: 'bind', source: abs, target: abs }, 'protected', why);
      continue;
    }
    if (!entry.placeholder) continue;
    let at = cwd;
    let type: 'dir' | 'file' = 'dir';
    const parts = entry.path.split('/');
    for (let i = 0; i < parts.length; i += 1) {
      at = posix.join(at, parts[i]!);
      if (host.readlink(at) !== undefined && host.kind(at) === 'missing') {
        skipped.push(`${abs} is not protected: ${at} is a dangling symlink`);
        at = '';
        break;
      }
      if (host.kind(at) === 'missing') {
        type = i === parts.length - 1 ? entry.type : 'dir';
        break;
      }
    }
    if (at === '' || placed.has(at)) continue;
    placed.add(at);
    add({ kind: 'placeholder', target: at, type }, 'placeholder', why);
  }
}

function checkCwd(preset: PresetDefinition, cwd: string, home: string): void {
  const hint = 'run it from a project directory, or pick another preset (`sandboxctl presets`)';
  if (preset.refuseCwd.includes('root') && cwd === '/') {
    throw new SandboxError('E_PLAN_INVALID', `preset ${preset.name} makes the current directory writable, and it is /`, { path: 'preset', hint });
  }
  if (preset.refuseCwd.includes('above-home') && isWithin(home, cwd)) {
    throw new SandboxError(
      'E_PLAN_INVALID',
      `preset ${preset.name} makes the current directory writable, and ${cwd} holds your home directory ${home} (~/.bashrc, ~/.local/bin and your secrets would be writable)`,
      { path: 'preset', hint },
    );
  }
}

function roleOf(op: Op): OpRole {
  switch (op.kind) {
    case 'proc':
    case 'dev':
      return 'kernel';
    case 'tmpfs':
      return 'private';
    case 'bind':
      return op.writable ? 'writable' : 'host';
    default:
      return 'host';
  }
}

/** True when `path` is `dir` or below it. */
export function isWithin(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}
