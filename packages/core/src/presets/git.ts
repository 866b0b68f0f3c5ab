/**
 * The git metadata under the current directory that makes git run code:
 * hooks/, config (core.fsmonitor, core.hooksPath, aliases...), the redirect
 * files `commondir` and `config.worktree`, the same inside every submodule's
 * git directory under .git/modules, and for a `.git` file (linked worktree,
 * submodule checkout) the file itself and the git directory it names when
 * that lies under the current directory too.
 *
 * Placeholders only where git tolerates them: an empty hooks/ directory, an
 * empty config file, and an empty `.git` directory where there is no `.git`
 * at all (git skips a `.git` directory without HEAD and keeps looking upward,
 * so a repository above stays the repository). Never `commondir`: git refuses
 * an empty one, so a placeholder would break git on the host.
 */

import { posix } from 'node:path';
import type { HostView } from './host';
import type { ProtectedPath } from './types';

/** How deep submodule git directories are looked for under .git/modules. */
const MODULES_DEPTH = 6;
const GITFILE_LIMIT = 4096;

/** Paths relative to `cwd`, in a stable order. */
export function gitProtectedPaths(cwd: string, host: HostView): ProtectedPath[] {
  const dotGit = posix.join(cwd, '.git');
  const link = host.readlink(dotGit);
  const kind = host.kind(dotGit);
  if (kind === 'missing') {
    // A dangling symlink is left alone: a placeholder would land where it points.
    return link === undefined ? [{ path: '.git', type: 'dir', placeholder: true }] : [];
  }
  if (kind === 'dir') return gitDirPaths(cwd, '.git', host);
  const out: ProtectedPath[] = [{ path: '.git', type: 'file', placeholder: false }];
  if (kind !== 'file') return out;
  const text = host.readText(dotGit, GITFILE_LIMIT);
  const match = text === undefined ? null : /^gitdir: *(.+?)\s*$/m.exec(text);
  if (!match) return out;
  const gitDir = posix.resolve(cwd, match[1]!);
  const rel = posix.relative(cwd, gitDir);
  if (rel === '' || rel.startsWith('..') || posix.isAbsolute(rel)) return out;
  return [...out, ...gitDirPaths(cwd, rel, host)];
}

function gitDirPaths(cwd: string, rel: string, host: HostView, depth = 0): ProtectedPath[] {
  const top = depth === 0;
  const out: ProtectedPath[] = [
    { path: `${rel}/hooks`, type: 'dir', placeholder: top },
    { path: `${rel}/config`, type: 'file', placeholder: top },
    { path: `${rel}/commondir`, type: 'file', placeholder: false },
    { path: `${rel}/config.worktree`, type: 'file', placeholder: false },
  ];
  return [...out, ...modulePaths(cwd, `${rel}/modules`, host, depth)];
}

// A submodule's git directory sits at .git/modules/<name>, and <name> may
// hold slashes, so every directory below modules/ is either a git directory
// (it has HEAD or config) or a step on the way to one.
function modulePaths(cwd: string, rel: string, host: HostView, depth: number): ProtectedPath[] {
  if (depth >= MODULES_DEPTH) return [];
  const names = host.list(posix.join(cwd, rel));
  if (!names) return [];
  const out: ProtectedPath[] = [];
  for (const name of names) {
    const sub = `${rel}/${name}`;
    const abs = posix.join(cwd, sub);
    if (host.readlink(abs) !== undefined || host.kind(abs) !== 'dir') continue;
    const entries = host.list(abs) ?? [];
    if (entries.includes('HEAD') || entries.includes('config')) out.push(...gitDirPaths(cwd, sub, host, depth + 1));
    else out.push(...modulePaths(cwd, sub, host, depth + 1));
  }
  return out;
}
