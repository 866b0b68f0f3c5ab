/**
 * The host as presets see it while they turn into a plan: what exists at a
 * path, and what a symlink points to. Presets look before they leap (a secret
 * that is not there is not hidden, a system directory that is a symlink stays
 * one), so the plan they produce depends on the host; tests pass a fake view
 * to get the same plan everywhere.
 */

import { lstatSync, readdirSync, readlinkSync, readFileSync, statSync } from 'node:fs';

/** What is at a path, symlinks followed. */
export type PathKind = 'dir' | 'file' | 'other' | 'missing';

export interface HostView {
  /** What is at `path`, symlinks followed (`missing` for a dangling link). */
  kind(path: string): PathKind;
  /** The link's text when `path` itself is a symlink, else undefined. */
  readlink(path: string): string | undefined;
  /** The first `limit` bytes of a regular file as UTF-8, undefined when unreadable. */
  readText(path: string, limit: number): string | undefined;
  /** The names in a directory, sorted; undefined when it cannot be listed. */
  list(path: string): string[] | undefined;
}

/** The real host filesystem. */
export const realHost: HostView = {
  kind(path) {
    try {
      const st = statSync(path);
      return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
    } catch {
      return 'missing';
    }
  },
  readlink(path) {
    try {
      return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : undefined;
    } catch {
      return undefined;
    }
  },
  readText(path, limit) {
    try {
      return readFileSync(path).subarray(0, limit).toString('utf8');
    } catch {
      return undefined;
    }
  },
  list(path) {
    try {
      return readdirSync(path).sort();
    } catch {
      return undefined;
    }
  },
};

/**
 * A made-up host for tests and generated docs: paths map to `dir`, `file`,
 * `other`, `symlink:TEXT` (a link whose target kind is looked up in turn),
 * or file contents as `file:TEXT`. Parents of listed paths are directories.
 */
export function fakeHost(entries: Readonly<Record<string, string>>): HostView {
  const table = new Map<string, string>();
  for (const [path, what] of Object.entries(entries)) {
    table.set(path, what);
    for (let p = parent(path); p !== undefined; p = parent(p)) if (!table.has(p)) table.set(p, 'dir');
  }
  const resolveLink = (path: string, text: string): string => (text.startsWith('/') ? text : `${parent(path) ?? ''}/${text}`.replace(/\/+/g, '/'));
  const kind = (path: string, depth = 0): PathKind => {
    const what = table.get(path);
    if (what === undefined || depth > 8) return 'missing';
    if (what.startsWith('symlink:')) return kind(resolveLink(path, what.slice(8)), depth + 1);
    if (what.startsWith('file:')) return 'file';
    return what as PathKind;
  };
  return {
    kind: (path) => kind(path),
    readlink: (path) => {
      const what = table.get(path);
      return what?.startsWith('symlink:') ? what.slice(8) : undefined;
    },
    readText: (path, limit) => {
      const what = table.get(path);
      return what?.startsWith('file:') ? what.slice(5, 5 + limit) : undefined;
    },
    list: (path) => {
      if (table.get(path) !== 'dir') return undefined;
      const prefix = path === '/' ? '/' : `${path}/`;
      return [...table.keys()]
        .filter((p) => p.startsWith(prefix) && p.length > prefix.length && !p.slice(prefix.length).includes('/'))
        .map((p) => p.slice(prefix.length))
        .sort();
    },
  };
}

function parent(path: string): string | undefined {
  if (path === '/' || !path.startsWith('/')) return undefined;
  const cut = path.lastIndexOf('/');
  return cut === 0 ? '/' : path.slice(0, cut);
}
