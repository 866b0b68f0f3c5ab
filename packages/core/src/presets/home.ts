/**
 * The home directory shown through an allow-list (`agent`). The home is the
 * caller's entry in the password database, resolved with realpath(3) (never
 * `$HOME` alone: `HOME=/nonexistent` or a home reached through a symlink
 * must not change what is hidden). It becomes an empty private tmpfs, the
 * directory of homes (`/home`) too, so other users' homes are gone for a
 * root caller. Into it come, when present on the host:
 *
 * - toolchains, read-only (version managers, rustup, cargo's bin, go SDKs…);
 * - caches, copy-on-write (`overlay` mode `tmp`): the host's cache is read,
 *   writes stay in memory and are dropped, so a hostile program cannot
 *   poison the host's next install. A missing cache needs no op: the home is
 *   a writable tmpfs, so `npm install` creates ~/.npm there;
 * - git's configuration, sanitized (identity and harmless settings only) and
 *   `.npmrc` without tokens, as read-only files (`file` op), when present;
 * - what the caller adds with `allowHome`, read-only, minus the known secret
 *   files and directories inside it.
 *
 * Everything else the program writes under the home lands in the tmpfs and is
 * gone after the run. Inputs: a {@link HomeContext}; nothing here touches the
 * host but through the {@link HostView}.
 */

import { posix } from 'node:path';
import { SandboxError } from '../errors';
import type { Op } from '../plan-types';
import { sanitizeGitConfig, sanitizeNpmrc } from './home-files';
import type { HostView } from './host';
import { isWithin } from '../plan/paths';
import type { OpRole } from './types';

/** Toolchains: read-only, relative to the home. `python*` entries are globbed below `.local/lib`. */
export const HOME_TOOLCHAINS = [
  '.nvm',
  '.volta',
  '.fnm',
  '.local/share/fnm',
  '.nodenv',
  '.asdf',
  '.local/share/mise',
  '.pyenv',
  '.rbenv',
  '.rustup',
  '.cargo/bin',
  '.goenv',
  'go/bin',
  'sdk',
  '.sdkman/candidates',
  '.jenv',
  '.bun/bin',
  '.deno/bin',
  '.dotnet',
  '.ghcup',
  '.elan',
  '.local/bin',
  '.local/share/uv/python',
  '.local/share/uv/tools',
  '.local/share/pipx',
  '.local/pipx',
] as const;

/** Caches: copy-on-write, relative to the home. */
export const HOME_CACHES = [
  '.npm',
  '.cache/pip',
  '.cache/uv',
  '.cache/go-build',
  '.cache/yarn',
  '.yarn/berry/cache',
  '.cache/pnpm',
  '.local/share/pnpm/store',
  '.cache/node-gyp',
  '.cache/node',
  '.cache/pre-commit',
  '.cache/pypoetry',
  '.cache/ms-playwright',
  '.cache/puppeteer',
  '.cache/Cypress',
  '.cache/typescript',
  '.cache/deno',
  '.cache/bazel',
  '.cache/ccache',
  '.cache/sccache',
  '.cache/electron',
  '.cache/composer',
  '.cache/coursier',
  '.cargo/registry',
  '.cargo/git',
  'go/pkg/mod',
  '.m2/repository',
  '.gradle/caches',
  '.gradle/wrapper',
  '.ivy2/cache',
  '.nuget/packages',
  '.bun/install/cache',
] as const;

/**
 * Secrets that stay hidden inside a path the caller shows with `allowHome`
 * (a directory behind an empty mode-0 tmpfs, a file behind /dev/null).
 */
export const HOME_SECRETS = [
  '.ssh',
  '.gnupg',
  '.aws',
  '.azure',
  '.config/gcloud',
  '.kube',
  '.docker',
  '.config/gh',
  '.config/hub',
  '.config/op',
  '.config/doctl',
  '.config/Bitwarden CLI',
  '.config/containers/auth.json',
  '.config/git/credentials',
  '.config/google-chrome',
  '.config/chromium',
  '.config/BraveSoftware',
  '.oci',
  '.terraform.d',
  '.terraformrc',
  '.password-store',
  '.local/share/keyrings',
  '.pki',
  '.mozilla',
  '.thunderbird',
  '.claude/.credentials.json',
  '.codex/auth.json',
  '.cache/huggingface/token',
  '.huggingface/token',
  '.netrc',
  '.npmrc',
  '.yarnrc.yml',
  '.pypirc',
  '.git-credentials',
  '.cargo/credentials',
  '.cargo/credentials.toml',
  '.gem/credentials',
  '.vault-token',
  '.pgpass',
  '.my.cnf',
  '.s3cfg',
  '.boto',
  '.bash_history',
  '.zsh_history',
  '.python_history',
  '.node_repl_history',
  '.psql_history',
  '.mysql_history',
  '.local/share/fish/fish_history',
] as const;

export interface HomeContext {
  /** The real home (password database, realpath). */
  home: string;
  /** `$HOME` as given, when it names another existing directory (it gets the same view). */
  envHome?: string;
  cwd: string;
  host: HostView;
  /** Paths the caller shows, absolute or relative to the home. */
  allowHome: readonly string[];
}

type Add = (op: Op, role: OpRole, why: string) => void;

/** Top-level directories that are never treated as a home or a directory of homes. */
const SYSTEM_DIRS = new Set(['/', '/usr', '/etc', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/opt', '/var', '/proc', '/dev', '/sys', '/run', '/tmp', '/boot', '/srv', '/mnt', '/media', '/nix', '/snap']);

/** Never a home: `/`, the top-level system directories, anything in /usr, /etc, /proc, /sys, /dev, /boot. */
function isSystemPath(path: string): boolean {
  return SYSTEM_DIRS.has(path) || ['/usr', '/etc', '/proc', '/sys', '/dev', '/boot'].some((d) => isWithin(path, d));
}

/**
 * The directories holding users' homes: `/home` and the one holding yours,
 * each an empty tmpfs so no other user's home shows (a root caller's
 * included); your own home is rebuilt inside.
 */
function homeParents(ctx: HomeContext): string[] {
  const parents = new Set<string>();
  // The home's parent only when it is a top-level directory of homes (/home, /users), never /var/lib.
  const parent = posix.dirname(ctx.home);
  for (const dir of ['/home', ...(posix.dirname(parent) === '/' ? [parent] : [])]) {
    if (dir === ctx.home || isSystemPath(dir)) continue;
    if (ctx.host.kind(dir) === 'dir' && ctx.host.readlink(dir) === undefined) parents.add(dir);
  }
  return [...parents].sort();
}

/** The ops showing the home through the allow-list (see the module comment). */
export function resolveHome(ctx: HomeContext, add: Add, skipped: string[]): string[] {
  const { host, cwd } = ctx;
  for (const dir of homeParents(ctx)) {
    // A current directory below it is bound back later; one that holds it stays whole.
    if (isWithin(dir, cwd)) {
      skipped.push(`${dir} is not emptied: the current directory ${cwd} holds it`);
      continue;
    }
    add({ kind: 'tmpfs', target: dir, mode: 0o755 }, 'hidden', 'the homes of all users: emptied, only yours is rebuilt from an allow-list');
  }
  const homes = [ctx.home];
  if (ctx.envHome !== undefined) {
    const other = host.realpath(ctx.envHome);
    if (other !== undefined && other !== ctx.home && host.kind(other) === 'dir' && !isSystemPath(other) && !isWithin(other, cwd)) homes.push(other);
  }
  const shown: string[] = [];
  for (const home of homes) shown.push(...resolveOneHome(home, ctx, add, skipped));
  return shown;
}

function resolveOneHome(home: string, ctx: HomeContext, add: Add, skipped: string[]): string[] {
  const { host, cwd } = ctx;
  if (host.kind(home) !== 'dir') {
    skipped.push(`${home} is not shown: it is not a directory on the host`);
    return [];
  }
  if (isSystemPath(home)) {
    // A daemon's home of / or /var is not emptied: the system would go with it.
    skipped.push(`${home} is not emptied: it is a system directory, not a home`);
    return [];
  }
  add({ kind: 'tmpfs', target: home, mode: 0o700 }, 'writable', 'your home: empty and private, writable in memory only, gone after the run');
  const shown: string[] = [];
  const usable = (abs: string): boolean => !isWithin(abs, cwd) && !isWithin(cwd, abs);

  const toolchains: string[] = [...HOME_TOOLCHAINS];
  for (const entry of host.entries(posix.join(home, '.local/lib')) ?? []) {
    if (/^python\d/.test(entry.name)) toolchains.push(`.local/lib/${entry.name}`);
  }
  for (const rel of toolchains) {
    const abs = posix.join(home, rel);
    if (host.kind(abs) !== 'dir' || !usable(abs)) continue;
    add({ kind: 'bind', source: abs, target: abs }, 'host', `toolchain, read-only`);
    shown.push(abs);
  }
  for (const rel of HOME_CACHES) {
    const abs = posix.join(home, rel);
    if (host.kind(abs) !== 'dir' || !usable(abs)) continue;
    add({ kind: 'overlay', target: abs, lowers: [abs], mode: 'tmp' }, 'cache', 'cache, copy-on-write: the host cache is read, writes stay private and are dropped');
    // Not in `shown`: the socket scan passes caches by. A socket seen
    // through the overlay is an overlay inode, not the listener's, so
    // connect() finds no listener there (ECONNREFUSED: the escape suite's
    // route 6 connects to one in ~/.cache/pip). Caches are the largest
    // trees of a home (root's ~/.cache here: 3,373 of the scan's 5,200
    // entries), so this is most of the preset's walk.
  }

  for (const rel of ['.gitconfig', '.config/git/config']) {
    const abs = posix.join(home, rel);
    if (host.kind(abs) !== 'file') continue;
    const data = sanitizeGitConfig(host.readText(abs, 1 << 20) ?? '');
    add({ kind: 'file', target: abs, data }, 'sanitized', 'git configuration, sanitized: identity and harmless settings only (no credential helpers, url rewrites, includes, ! aliases, executables)');
  }
  for (const rel of ['.config/git/ignore', '.config/git/attributes']) {
    const abs = posix.join(home, rel);
    if (host.kind(abs) === 'file') add({ kind: 'bind', source: abs, target: abs }, 'host', 'git ignore and attribute patterns, read-only');
  }
  const npmrc = posix.join(home, '.npmrc');
  if (host.kind(npmrc) === 'file') {
    const data = sanitizeNpmrc(host.readText(npmrc, 1 << 20) ?? '');
    add({ kind: 'file', target: npmrc, data }, 'sanitized', 'npm settings without tokens or passwords');
  }

  for (const given of ctx.allowHome) shown.push(...allowOne(given, home, ctx, add, skipped));
  return shown;
}

/** One `allowHome` path: shown read-only, minus the secrets inside it. */
function allowOne(given: string, home: string, ctx: HomeContext, add: Add, skipped: string[]): string[] {
  const { host } = ctx;
  const rel = given.startsWith('~/') ? given.slice(2) : given;
  const abs = posix.normalize(posix.isAbsolute(rel) ? rel : posix.join(home, rel));
  if (!isWithin(abs, home) || abs === home) {
    if (home !== ctx.home) return [];
    throw new SandboxError('E_PLAN_INVALID', `allowHome ${JSON.stringify(given)} is not a path inside your home ${home}`, {
      path: 'allowHome',
      hint: 'give a path relative to the home (`.config/nvim`) or below it; showing the whole home would show its secrets',
    });
  }
  const kind = host.kind(abs);
  if (kind === 'missing') {
    skipped.push(`${abs} is not shown (allowHome): it does not exist`);
    return [];
  }
  add({ kind: 'bind', source: abs, target: abs }, 'host', 'shown on request (allowHome), read-only');
  if (kind === 'dir') {
    for (const secret of HOME_SECRETS) {
      const path = posix.join(home, secret);
      if (!isWithin(path, abs) || path === abs) continue;
      const what = host.kind(path);
      if (what === 'dir') add({ kind: 'tmpfs', target: path, mode: 0 }, 'hidden', 'secret, inside a path shown with allowHome');
      else if (what !== 'missing') add({ kind: 'bind', source: '/dev/null', target: path }, 'hidden', 'secret, inside a path shown with allowHome');
    }
  }
  return [abs];
}
