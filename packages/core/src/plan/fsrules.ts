/**
 * Filesystem rules (issue 14): `denyRead`, `allowRead`, `allowWrite` and
 * `denyWrite` host paths turned into mount ops appended after every other
 * op. Paths: relative ones from the working directory, `~` from the real
 * home; globs (`*`, `?`, `[...]`, `**`) expanded now, on the host, and a
 * glob that matches nothing is `E_PLAN_INVALID` naming the option and entry.
 * Existing paths are taken with their symlinks resolved, so every name of
 * the same file meets the same mount.
 *
 * Precedence (docs/limits.md): the most specific path wins; on the same
 * path, deny wins over allow. So the ops go by path depth, shallow first,
 * and on one path in the order allowRead, allowWrite, denyWrite, denyRead:
 *
 * | rule       | existing directory                          | existing file              | missing path                          |
 * |------------|---------------------------------------------|----------------------------|---------------------------------------|
 * | denyRead   | empty read-only tmpfs over it               | /dev/null bound over it    | nothing to hide (noted)               |
 * | allowRead  | read-only bind of the host path (only inside a denied tree; else a no-op) | same | refused |
 * | allowWrite | writable bind of the host path onto itself (inside a writable bind already there: only un-protected) | same | refused (create it first), unless inside a writable bind |
 * | denyWrite  | read-only bind onto itself                  | same                       | a placeholder at its first missing component |
 */

import { lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { SandboxError } from '../errors';
import type { Op } from '../plan-types';
import { isWithin } from './paths';

/** `filesystem` as the library and sandboxctl.json take it: host paths. */
export interface FilesystemRules {
  /** Hidden: a directory becomes an empty read-only tmpfs, a file reads as empty (/dev/null). */
  denyRead?: readonly string[];
  /** Readable again inside a denied tree (read-only). */
  allowRead?: readonly string[];
  /** Writable binds of existing host paths (over the read-only host of the presets). */
  allowWrite?: readonly string[];
  /** Read-only inside a writable tree; a missing path is covered so it cannot be created. */
  denyWrite?: readonly string[];
}

export type FsRuleKind = keyof FilesystemRules;
export const FS_RULE_KINDS: readonly FsRuleKind[] = ['allowRead', 'allowWrite', 'denyWrite', 'denyRead'];

/** How errors and origins name an entry: `--deny-read` or `filesystem.denyRead[2]`. */
export type FsRuleName = (kind: FsRuleKind, index: number) => string;

/** An op made by a rule, with the rule that made it. */
export interface FsRuleOp {
  op: Op;
  rule: string;
}

const GLOB = /[*?[]/;

function bad(name: string, entry: string, why: string, hint?: string): SandboxError {
  return new SandboxError('E_PLAN_INVALID', `${name} ${JSON.stringify(entry)}: ${why}`, { path: 'filesystem', hint });
}

/** Absolute form of an entry: `~` from the home, relative from `cwd`. */
function absolute(entry: string, cwd: string, home: string): string {
  if (entry === '~') return home;
  if (entry.startsWith('~/')) return posix.join(home, entry.slice(2));
  return posix.resolve(cwd, entry);
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** One glob component as a regular expression (no `/` inside). */
function componentRegExp(part: string): RegExp {
  let re = '';
  for (let i = 0; i < part.length; i++) {
    const ch = part[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = part.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        const body = part.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  // A leading dot is matched only by a pattern that starts with one (shell rule).
  return new RegExp(`^${part.startsWith('.') ? '' : '(?!\\.)'}${re}$`);
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** Every existing host path matching an absolute pattern. `**` is any number of directories (symlinks not followed). */
export function expandGlob(pattern: string): string[] {
  const parts = pattern.split('/').filter((p) => p !== '');
  let found = ['/'];
  for (const part of parts) {
    const next: string[] = [];
    if (part === '**') {
      for (const base of found) {
        const stack = [base];
        while (stack.length > 0) {
          const d = stack.pop()!;
          next.push(d);
          for (const name of entries(d)) {
            const p = posix.join(d, name);
            if (name.startsWith('.')) continue;
            try {
              if (lstatSync(p).isDirectory()) stack.push(p);
            } catch {
              /* gone */
            }
          }
        }
      }
    } else if (GLOB.test(part)) {
      const re = componentRegExp(part);
      for (const base of found) for (const name of entries(base)) if (re.test(name)) next.push(posix.join(base, name));
    } else {
      for (const base of found) {
        const p = posix.join(base, part);
        if (exists(p)) next.push(p);
      }
    }
    found = [...new Set(next)];
  }
  return found.sort();
}

/** The ops for the rules, in the order they must be applied; `skipped` gets what did nothing. */
export function fsRuleOps(rules: FilesystemRules, ctx: { cwd: string; home: string; name: FsRuleName; writable?: readonly string[] }, skipped: string[] = []): FsRuleOp[] {
  // Inside a writable bind already made (the agent's project), allowWrite only lifts a preset's protection:
  // binding a file onto itself would make renames over it (git's lock files) fail with EBUSY.
  const alreadyWritable = (p: string): boolean => (ctx.writable ?? []).some((w) => isWithin(p, w));
  if (typeof rules !== 'object' || rules === null) throw bad('filesystem', String(rules), 'must be an object { denyRead, allowRead, allowWrite, denyWrite }');
  for (const key of Object.keys(rules)) if (!(FS_RULE_KINDS as readonly string[]).includes(key)) throw bad(`filesystem.${key}`, key, 'unknown rule', `the rules are ${FS_RULE_KINDS.join(', ')}`);
  type Entry = { kind: FsRuleKind; path: string; missing: boolean; rule: string };
  const list: Entry[] = [];
  for (const kind of FS_RULE_KINDS) {
    const given = rules[kind];
    if (given === undefined) continue;
    if (!Array.isArray(given)) throw bad(`filesystem.${kind}`, String(given), 'must be a list of paths');
    given.forEach((entry: unknown, i: number) => {
      const name = ctx.name(kind, i);
      if (typeof entry !== 'string' || entry === '' || entry.includes('\0')) throw bad(name, String(entry), 'must be a non-empty path');
      const abs = absolute(entry, ctx.cwd, ctx.home);
      const rule = `${name} ${entry}`;
      if (GLOB.test(abs)) {
        const matches = expandGlob(abs);
        if (matches.length === 0) throw bad(name, entry, 'the glob matches nothing', 'globs are expanded when the sandbox starts; give a pattern that matches, or drop it');
        for (const m of matches) list.push({ kind, path: realpathSync(m), missing: false, rule });
        return;
      }
      let path = posix.normalize(abs);
      const missing = !exists(path);
      if (!missing) path = realpathSync(path);
      if (path === '/' && (kind === 'denyRead' || kind === 'denyWrite')) throw bad(name, entry, 'cannot be the whole filesystem', 'name the directories to hide or protect');
      if (missing && kind === 'allowWrite' && alreadyWritable(path)) {
        list.push({ kind, path, missing, rule });
        return;
      }
      if (missing && (kind === 'allowWrite' || kind === 'allowRead')) throw bad(name, entry, `${path} does not exist`, kind === 'allowWrite' ? 'create it first (mkdir -p), then run again' : undefined);
      list.push({ kind, path, missing, rule });
    });
  }
  const depth = (p: string): number => (p === '/' ? 0 : p.split('/').length - 1);
  const rank = (k: FsRuleKind): number => FS_RULE_KINDS.indexOf(k);
  list.sort((a, b) => depth(a.path) - depth(b.path) || rank(a.kind) - rank(b.kind));

  const out: FsRuleOp[] = [];
  const masks: { path: string; at: number }[] = [];
  list.forEach((e, i) => {
    const later = list.slice(i + 1).some((o) => o.path !== e.path && isWithin(o.path, e.path));
    switch (e.kind) {
      case 'denyRead':
        if (e.missing) {
          skipped.push(`${e.rule}: ${e.path} does not exist, nothing to hide`);
        } else if (isDir(e.path)) {
          // Writable only until what is re-opened inside has its mount point; then read-only.
          out.push({ op: { kind: 'tmpfs', target: e.path, mode: 0o755, readOnly: !later }, rule: e.rule });
          if (later) masks.push({ path: e.path, at: out.length - 1 });
        } else {
          // device: /dev/null itself must open (a nodev bind would answer EACCES); read-only, so it reads as empty.
          out.push({ op: { kind: 'bind', source: '/dev/null', target: e.path, device: true }, rule: e.rule });
        }
        break;
      case 'allowRead':
        if (!masks.some((m) => isWithin(e.path, m.path) && m.path !== e.path) && !list.some((o) => o.kind === 'denyRead' && !o.missing && isWithin(e.path, o.path) && o.path !== e.path)) {
          skipped.push(`${e.rule}: not inside a denied path, already readable`);
          break;
        }
        out.push({ op: { kind: 'bind', source: e.path, target: e.path }, rule: e.rule });
        break;
      case 'allowWrite':
        if (alreadyWritable(e.path) && !list.some((o) => o.kind !== 'allowWrite' && o.kind !== 'allowRead' && isWithin(e.path, o.path))) {
          skipped.push(`${e.rule}: already writable (${e.path}), only un-protected`);
          break;
        }
        out.push({ op: { kind: 'bind', source: e.path, target: e.path, writable: true }, rule: e.rule });
        break;
      case 'denyWrite':
        if (e.missing) {
          // Covered at its first missing component, so nothing can create it (the placeholder op's stand-in).
          let first = e.path;
          while (!exists(posix.dirname(first))) first = posix.dirname(first);
          out.push({ op: { kind: 'placeholder', target: first, type: 'dir' }, rule: e.rule });
        } else {
          out.push({ op: { kind: 'bind', source: e.path, target: e.path }, rule: e.rule });
        }
        break;
    }
  });
  for (const m of masks) out.push({ op: { kind: 'remount', target: m.path, readOnly: true }, rule: (out[m.at] as FsRuleOp).rule });
  return out;
}
