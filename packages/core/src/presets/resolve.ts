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
import { gitLayout, isGitDir, nestedGit, type GitProtect } from './git';
import { resolveHome } from './home';
import type { HostView } from './host';
import { isWithin } from '../plan/paths';
import { resolvePrivateRun, resolveResolver, resolveSockets } from './reach';
import { resolveRootSecrets } from './system-secrets';
import type { OpNote, OpRole, PresetDefinition, PresetStep } from './types';

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
  /** Absolute protected paths the caller lets the program write (`--allow-write`). */
  allowWrite?: readonly string[];
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
  /** Absolute paths kept read-only for the program (for refusals and `explain`). */
  protectedPaths: string[];
}

/** The most ops a plan may hold (validate.rs MAX_OPS). */
export const MAX_PLAN_OPS = 4096;

/** Turns preset data into ops and policy for this context. */
export function resolveWith(preset: PresetDefinition, ctx: PresetContext): ResolvedPreset {
  const cwd = posix.normalize(ctx.cwd);
  const home = posix.normalize(ctx.home);
  checkCwd(preset, cwd, home);
  // `$HOME`, when it names another directory, is a home too (home.ts shows it the same way).
  const envHome = ctx.env.HOME !== undefined && posix.isAbsolute(ctx.env.HOME) ? ctx.host.realpath(ctx.env.HOME) : undefined;
  if (envHome !== undefined && envHome !== home && envHome !== '/' && ctx.host.kind(envHome) === 'dir') checkCwd(preset, cwd, envHome);
  const out: ResolvedPreset = { name: preset.name, ops: [], notes: [], policy: {}, removedEnv: [], skipped: [], protectedPaths: [] };
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
  const counts: { why: string; n: number }[] = [];
  const nestedNames = preset.steps.flatMap((s) => ('protect' in s ? s.protect.filter((p) => p.nested).map((p) => p.path) : []));
  let walked: Walked | undefined;
  const walk = (): Walked => (walked ??= walkProtected(cwd, nestedNames, ctx.host, out.skipped));
  for (const step of preset.steps) {
    const before = out.ops.length;
    resolveStep(step, { ...ctx, cwd, home }, fill, add, out, walk, state, preset);
    counts.push({ why: step.why, n: out.ops.length - before });
  }
  if (out.ops.length > MAX_PLAN_OPS) {
    const top = counts.reduce((a, b) => (b.n > a.n ? b : a));
    throw new SandboxError(
      'E_PLAN_INVALID',
      `preset ${preset.name} would make ${out.ops.length} ops, more than the ${MAX_PLAN_OPS} a plan may hold: ${top.n} of them from "${top.why}" in ${cwd}`,
      { path: 'preset', hint: 'run it from a smaller directory, or remove what multiplies them there' },
    );
  }
  for (const allowed of ctx.allowWrite ?? []) {
    if (!out.skipped.some((s) => s.startsWith(`${allowed} `) || s.startsWith(`${allowed}/`))) out.skipped.push(`--allow-write ${allowed}: no protected path there`);
  }

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
  if (policy.audit) {
    // The project, and the git directories the run may write that lie outside
    // it (the enclosing repository's, a linked worktree's common directory).
    const layout = gitLayout(cwd, home, ctx.host);
    out.policy.audit = auditSpec(auditRoots({ cwd }, layout.gitDirs));
  }
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
  out: ResolvedPreset,
  walk: () => Walked,
  state: StepState,
  preset: PresetDefinition,
): void {
  const { host, cwd } = ctx;
  const skipped = out.skipped;
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
    const layout = gitLayout(cwd, ctx.home, host);
    skipped.push(...layout.skipped);
    const writable = [cwd, ...layout.gitDirs];
    if (layout.root !== undefined) {
      add({ kind: 'bind', source: layout.root, target: layout.root }, 'host', 'the enclosing repository\'s work tree, read-only: git reads it');
      add({ kind: 'bind', source: cwd, target: cwd, writable: true }, 'writable', 'the current directory, writable (again, over the enclosing work tree)');
    }
    for (const path of layout.links) {
      add({ kind: 'placeholder', target: path, type: 'link' }, 'protected', `${step.why} (a symlink: kept in place)`);
      out.protectedPaths.push(path);
    }
    for (const dir of layout.gitDirs) {
      add({ kind: 'bind', source: dir, target: dir, writable: true }, 'writable', 'git directory, writable for commits; a mount point, so it cannot be renamed, removed or replaced');
    }
    const gits = walk().gits;
    for (const g of gits) {
      if (host.readlink(g) === undefined && isGitDir(g, host)) {
        add({ kind: 'bind', source: g, target: g, writable: true }, 'writable', 'a nested repository\'s git directory: a mount point, so it cannot be renamed, removed or replaced');
      }
    }
    const nested = gits.flatMap((g) => nestedGit(g, cwd, host));
    for (const p of [...layout.protect, ...nested]) protectOne(p, ctx, writable, step.why, add, out);
    return;
  }
  if ('protect' in step) {
    const names = step.protect.filter((p) => p.nested).map((p) => p.path);
    for (const entry of step.protect) {
      protectOne({ path: posix.join(cwd, entry.path), type: entry.type, placeholder: entry.placeholder, base: cwd }, ctx, [cwd], step.why, add, out);
    }
    if (names.length > 0) {
      for (const found of walk().names) {
        const entry = step.protect.find((p) => p.path === posix.basename(found))!;
        protectOne({ path: found, type: entry.type, placeholder: false, base: cwd }, ctx, [cwd], `${step.why} (in a subdirectory)`, add, out);
      }
    }
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

/** Names whose directory may be a stand-in (another run's): protected through the placeholder op, which takes its lock. */
const STAND_IN_NAMES = new Set(['.vscode', '.idea', '.claude', 'hooks']);

/** How far {@link walkProtected} looks below the current directory. */
export const WALK_LIMITS = { dirs: 4000, depth: 10, found: 256 };

/**
 * A bounded walk below `cwd` (not following symlinks, not into `.git` or
 * `node_modules`) for protected names that exist in subdirectories and for
 * nested `.git` entries. Hitting a bound is said in `skipped`.
 */
interface Walked {
  /** Protected names found in subdirectories. */
  names: string[];
  /** `.git` entries found in subdirectories (nested repositories, submodule checkouts). */
  gits: string[];
}

function walkProtected(cwd: string, names: readonly string[], host: HostView, skipped: string[]): Walked {
  const wanted = new Set(names);
  const out = { names: [] as string[], gits: [] as string[] };
  let queue: string[] = [cwd];
  let visited = 0;
  for (let depth = 0; depth < WALK_LIMITS.depth && queue.length > 0; depth += 1) {
    const next: string[] = [];
    for (const dir of queue) {
      visited += 1;
      if (visited > WALK_LIMITS.dirs) {
        skipped.push(`protected names were looked for in ${WALK_LIMITS.dirs} directories below ${cwd} only; the rest are not protected during the run`);
        return out;
      }
      // One readdir per directory: its entries' types spare an lstat and a
      // stat of every entry (most of `--preset agent`'s start-up in a big tree).
      for (const { name, type } of host.entries(dir) ?? []) {
        const path = `${dir}/${name}`;
        if (depth > 0 && (wanted.has(name) || name === '.git') && host.kind(path) !== 'missing') {
          const list = name === '.git' ? out.gits : out.names;
          if (out.names.length + out.gits.length >= WALK_LIMITS.found) {
            skipped.push(`more than ${WALK_LIMITS.found} protected names below ${cwd}: ${path} and those after it are not protected during the run`);
            return out;
          }
          list.push(path);
          continue;
        }
        if (name === '.git' || name === 'node_modules' || type === 'symlink') continue;
        if (type === 'dir') next.push(path);
      }
    }
    queue = next;
  }
  return out;
}

/**
 * One protected path: what exists is bound read-only onto itself (a
 * directory that may be a stand-in through the placeholder op, which takes
 * its lock); a missing directory with a placeholder gets one when its
 * parent is a real directory (never a stand-in in a stand-in); a missing
 * file gets nothing (the post-run audit's). A symlink is kept in place (the
 * link itself a mount point) and what it points to inside a writable area is
 * protected too.
 */
function protectOne(p: GitProtect, ctx: PresetContext, writable: readonly string[], why: string, add: Add, out: ResolvedPreset): void {
  const { host } = ctx;
  const allowed = (ctx.allowWrite ?? []).find((a) => isWithin(p.path, a));
  if (allowed !== undefined) {
    out.skipped.push(`${allowed} is writable (--allow-write): ${p.path} is not protected`);
    return;
  }
  if (out.protectedPaths.includes(p.path)) return;
  const link = host.readlink(p.path);
  if (link !== undefined) {
    const target = posix.resolve(posix.dirname(p.path), link);
    if (writable.some((w) => isWithin(target, w))) {
      if (host.readlink(target) !== undefined) out.skipped.push(`${target} (where ${p.path} points) is not protected: it is a symlink again`);
      else protectOne({ ...p, path: target, placeholder: p.type === 'dir' }, ctx, writable, `${why} (where the symlink ${p.path} points)`, add, out);
    }
    add({ kind: 'placeholder', target: p.path, type: 'link' }, 'protected', `${why} (a symlink)`);
    out.protectedPaths.push(p.path);
    return;
  }
  const kind = host.kind(p.path);
  const standIn = p.type === 'dir' && STAND_IN_NAMES.has(posix.basename(p.path));
  if (kind === 'missing') {
    if (!p.placeholder || p.type !== 'dir' || !realDir(posix.dirname(p.path), p.base, host)) return;
    add({ kind: 'placeholder', target: p.path, type: 'dir', base: p.base }, 'placeholder', why);
  } else if (kind === 'dir' && (standIn || p.placeholder)) {
    add({ kind: 'placeholder', target: p.path, type: 'dir', base: p.base }, 'protected', why);
  } else {
    add({ kind: 'bind', source: p.path, target: p.path }, 'protected', why);
  }
  out.protectedPaths.push(p.path);
}

/** `dir` exists below (or at) `base` with no symlink on the way: a stand-in can be made in it. */
function realDir(dir: string, base: string, host: HostView): boolean {
  if (!isWithin(dir, base)) return false;
  for (let at = dir; ; at = posix.dirname(at)) {
    if (host.readlink(at) !== undefined || host.kind(at) !== 'dir') return false;
    if (at === base) return true;
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
