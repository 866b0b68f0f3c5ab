/**
 * The git layout around the current directory, from git's own rules (`git
 * help repository-layout`, `gitrepository-layout`, `git help config`), and
 * what of it the agent preset keeps from the program:
 *
 * - The repository is found as git finds it: the current directory or the
 *   nearest parent with a `.git` directory (HEAD plus objects/ and refs/, or
 *   a commondir) or a `.git` file (`gitdir: PATH`: linked worktrees,
 *   submodule checkouts). An empty `.git` is not a repository and hides none.
 * - Its git directory, and the common directory a linked worktree's
 *   `commondir` names, are bound writable onto themselves: git commits,
 *   branches and stashes, and each is a mount point, so `mv .git x` and
 *   `rm -rf .git` fail (EBUSY) and the directory cannot be replaced.
 * - What git reads code from stays read-only: `config`, `hooks/` (an empty
 *   stand-in when missing), `info/`, and when they exist `commondir`,
 *   `config.worktree`, `worktrees/NAME/{commondir,gitdir,config.worktree}`,
 *   `modules/**` submodule git directories' `{config,hooks,info}`, a `.git`
 *   file, and the `core.hooksPath` directory the config names (husky's
 *   `.husky/_`, and `.husky` whose scripts its stubs run).
 * - When the current directory is below the work tree's root, that root is
 *   shown read-only (git reads the whole tree) and the current directory is
 *   bound writable again over it.
 *
 * A new file the program creates (a `commondir`, `config.worktree`, a new
 * nested repository) cannot be prevented by a mount: the post-run audit
 * reverts it. Nothing here creates anything: no `.git` stand-in, so `git
 * init` works and a parent repository stays visible.
 */

import { posix } from 'node:path';
import type { HostView } from './host';

/** Submodule git directories looked at under one modules/ before it is protected whole. */
export const MODULES_LIMIT = 256;
const MODULES_DEPTH = 6;
const SMALL_FILE = 64 * 1024;

/** A path git executes from or is redirected by, kept read-only. */
export interface GitProtect {
  /** Absolute host path. */
  path: string;
  type: 'dir' | 'file';
  /** A missing directory gets an empty stand-in (only `hooks/` of a git directory). */
  placeholder: boolean;
  /** The directory stand-ins are made beneath (a writable git directory or the current directory). */
  base: string;
}

export interface GitLayout {
  /** The work tree's root when it lies above the current directory. */
  root?: string;
  /** Git directories bound writable onto themselves, parents first. */
  gitDirs: string[];
  /** A `.git` that is a symlink: the link itself kept in place. */
  links: string[];
  protect: GitProtect[];
  /** What was not protected, and why. */
  skipped: string[];
}

/** A directory git accepts as a git directory (setup.c is_git_directory). */
export function isGitDir(path: string, host: HostView): boolean {
  if (host.kind(path) !== 'dir') return false;
  if (host.kind(`${path}/HEAD`) !== 'file') return false;
  if (host.kind(`${path}/commondir`) === 'file') return true;
  return host.kind(`${path}/objects`) === 'dir' && host.kind(`${path}/refs`) === 'dir';
}

/** The git directory a `.git` file names, absolute, when it is one. */
export function gitfileTarget(file: string, host: HostView): string | undefined {
  const text = host.readText(file, SMALL_FILE);
  const match = text === undefined ? null : /^gitdir: *(.+?)\s*$/m.exec(text);
  if (!match) return undefined;
  return posix.resolve(posix.dirname(file), match[1]!);
}

/** The repository holding `dir`, as git discovers it walking up. */
export function findRepository(dir: string, host: HostView): { worktree: string; dotGit: string; gitDir: string } | undefined {
  for (let at = dir; ; at = posix.dirname(at)) {
    const dotGit = at === '/' ? '/.git' : `${at}/.git`;
    const kind = host.kind(dotGit);
    const link = host.readlink(dotGit);
    const real = link === undefined ? dotGit : posix.resolve(at, link);
    if (kind === 'dir' && isGitDir(real, host)) return { worktree: at, dotGit, gitDir: real };
    if (kind === 'file') {
      const target = gitfileTarget(dotGit, host);
      if (target !== undefined && isGitDir(target, host)) return { worktree: at, dotGit, gitDir: target };
    }
    if (at === '/') return undefined;
  }
}

/** The value of `section.key` in a git config file (last one wins), without includes. */
export function configValue(text: string, section: string, key: string): string | undefined {
  let current = '';
  let value: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const head = /^\[\s*([^\]\s"]+)(?:\s+"[^"]*")?\s*\]\s*(.*)$/.exec(line);
    let rest = line;
    if (head) {
      current = head[1]!.toLowerCase();
      rest = head[2]!;
    }
    if (current !== section) continue;
    const kv = /^([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*))?$/.exec(rest);
    if (!kv || kv[1]!.toLowerCase() !== key) continue;
    let v = (kv[2] ?? 'true').replace(/\s[#;].*$/, '').trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    value = v;
  }
  return value;
}

/** The git layout of `cwd` for the agent preset; `home` keeps a home repository out of reach. */
export function gitLayout(cwd: string, home: string, host: HostView): GitLayout {
  const out: GitLayout = { gitDirs: [], links: [], protect: [], skipped: [] };
  const repo = findRepository(cwd, host);
  if (repo === undefined) return out;
  const link = host.readlink(repo.dotGit);
  if (link !== undefined) {
    // A `.git` symlink (perhaps planted by an earlier run): followed only
    // to a git directory inside the current directory, never made a way to
    // write another repository.
    out.links.push(repo.dotGit);
    const target = posix.resolve(posix.dirname(repo.dotGit), link);
    if (repo.worktree !== cwd || !isWithin(target, cwd) || host.readlink(target) !== undefined || target === cwd) {
      out.skipped.push(`${repo.dotGit} is a symlink to ${target}: that git directory stays as the host has it (read-only outside the current directory)`);
      return out;
    }
  }
  if (repo.worktree !== cwd && (isWithin(home, repo.worktree) || repo.worktree === '/')) {
    out.skipped.push(`${repo.dotGit} stays read-only: the repository above the current directory holds your home directory`);
    return out;
  }
  if (repo.worktree !== cwd) out.root = repo.worktree;
  const common = commonDir(repo.gitDir, host);
  for (const dir of [common, repo.gitDir]) if (!out.gitDirs.includes(dir)) out.gitDirs.push(dir);
  out.gitDirs.sort((a, b) => a.length - b.length);

  const add = (path: string, type: 'dir' | 'file', placeholder = false, base = baseOf(path, out.gitDirs, cwd)): void => {
    if (out.protect.some((p) => p.path === path)) return;
    if (placeholder || host.kind(path) !== 'missing' || host.readlink(path) !== undefined) out.protect.push({ path, type, placeholder, base });
  };
  if (repo.dotGit !== repo.gitDir) add(repo.dotGit, 'file', false, cwd);
  protectGitDir(common, true, host, add, out.skipped);
  if (repo.gitDir !== common) {
    for (const name of ['commondir', 'gitdir', 'config.worktree']) add(`${repo.gitDir}/${name}`, 'file');
  }
  for (const hooks of hooksPaths(repo.worktree, [common, repo.gitDir], home, host)) {
    // A missing one gets a stand-in: git would run what the program puts there.
    if (isWithin(hooks, cwd) || out.gitDirs.some((d) => isWithin(hooks, d))) add(hooks, 'dir', true);
  }
  return out;
}

/** The nested repository at `dotGit` (a `.git` found below the current directory). */
export function nestedGit(dotGit: string, cwd: string, host: HostView): GitProtect[] {
  const out: GitProtect[] = [];
  const add = (path: string, type: 'dir' | 'file', placeholder = false): void => {
    if (out.some((p) => p.path === path)) return;
    if (host.kind(path) !== 'missing' || host.readlink(path) !== undefined) out.push({ path, type, placeholder, base: cwd });
  };
  const kind = host.kind(dotGit);
  if (kind === 'file') add(dotGit, 'file');
  if (kind === 'dir' && isGitDir(dotGit, host)) protectGitDir(dotGit, false, host, add, []);
  return out;
}

function commonDir(gitDir: string, host: HostView): string {
  const text = host.readText(`${gitDir}/commondir`, SMALL_FILE);
  if (text === undefined) return gitDir;
  const dir = posix.resolve(gitDir, text.trim());
  return host.kind(dir) === 'dir' ? dir : gitDir;
}

type Add = (path: string, type: 'dir' | 'file', placeholder?: boolean) => void;

function protectGitDir(dir: string, top: boolean, host: HostView, add: Add, skipped: string[]): void {
  add(`${dir}/config`, 'file');
  add(`${dir}/hooks`, 'dir', top && host.readlink(`${dir}/hooks`) === undefined);
  add(`${dir}/info`, 'dir');
  add(`${dir}/commondir`, 'file');
  add(`${dir}/config.worktree`, 'file');
  const worktrees = host.list(`${dir}/worktrees`) ?? [];
  if (worktrees.length > MODULES_LIMIT) {
    add(`${dir}/worktrees`, 'dir');
    skipped.push(`${dir}/worktrees is read-only as a whole: more than ${MODULES_LIMIT} linked worktrees`);
  } else {
    for (const name of worktrees) for (const file of ['commondir', 'gitdir', 'config.worktree']) add(`${dir}/worktrees/${name}/${file}`, 'file');
  }
  const modules: string[] = [];
  const complete = moduleDirs(`${dir}/modules`, host, 0, modules);
  if (!complete) {
    add(`${dir}/modules`, 'dir');
    skipped.push(`${dir}/modules is read-only as a whole: more than ${MODULES_LIMIT} submodule git directories`);
    return;
  }
  for (const m of modules) for (const [name, type] of [['config', 'file'], ['hooks', 'dir'], ['info', 'dir']] as const) add(`${m}/${name}`, type);
}

// A submodule's git directory sits at modules/<name>, and <name> may hold
// slashes, so every directory below modules/ is either a git directory or a
// step on the way to one. False when there are too many to list.
function moduleDirs(dir: string, host: HostView, depth: number, out: string[]): boolean {
  if (depth >= MODULES_DEPTH) return true;
  for (const name of host.list(dir) ?? []) {
    const sub = `${dir}/${name}`;
    if (host.readlink(sub) !== undefined || host.kind(sub) !== 'dir') continue;
    const entries = host.list(sub) ?? [];
    if (entries.includes('HEAD') || entries.includes('config')) {
      out.push(sub);
      if (out.length > MODULES_LIMIT) return false;
      if (!moduleDirs(`${sub}/modules`, host, depth + 1, out)) return false;
    } else if (!moduleDirs(sub, host, depth + 1, out)) return false;
  }
  return true;
}

/** `core.hooksPath` of the repository, absolute; husky's `_` stubs bring their parent. */
function hooksPaths(worktree: string, gitDirs: string[], home: string, host: HostView): string[] {
  let value: string | undefined;
  for (const dir of gitDirs) {
    for (const file of ['config', 'config.worktree']) {
      const text = host.readText(`${dir}/${file}`, SMALL_FILE);
      const v = text === undefined ? undefined : configValue(text, 'core', 'hookspath');
      if (v !== undefined) value = v;
    }
  }
  if (value === undefined || value === '') return [];
  const path = value.startsWith('~/') ? posix.join(home, value.slice(2)) : posix.resolve(worktree, value);
  return posix.basename(path) === '_' ? [posix.dirname(path), path] : [path];
}

function baseOf(path: string, gitDirs: string[], cwd: string): string {
  const within = gitDirs.filter((d) => isWithin(path, d) && path !== d);
  return within.length > 0 ? within[within.length - 1]! : cwd;
}

function isWithin(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}
