/**
 * The host as presets see it while they turn into a plan: what exists at a
 * path, and what a symlink points to. Presets look before they leap (a secret
 * that is not there is not hidden, a system directory that is a symlink stays
 * one), so the plan they produce depends on the host; tests pass a fake view
 * to get the same plan everywhere.
 */

import { lstatSync, readdirSync, readlinkSync, readFileSync, realpathSync, statSync } from 'node:fs';

/** What is at a path, symlinks followed. */
export type PathKind = 'dir' | 'file' | 'other' | 'missing';

/** A directory entry's type, symlinks not followed. */
export type EntryType = 'dir' | 'file' | 'symlink' | 'socket' | 'other';

/** One entry of a directory, as listed (no symlink followed). */
export interface DirEntry {
  name: string;
  type: EntryType;
}

export interface HostView {
  /** What is at `path`, symlinks followed (`missing` for a dangling link). */
  kind(path: string): PathKind;
  /** The link's text when `path` itself is a symlink, else undefined. */
  readlink(path: string): string | undefined;
  /** The first `limit` bytes of a regular file as UTF-8, undefined when unreadable. */
  readText(path: string, limit: number): string | undefined;
  /** The names in a directory, sorted; undefined when it cannot be listed. */
  list(path: string): string[] | undefined;
  /** The entries of a directory with their types, sorted by name; undefined when it cannot be listed. */
  entries(path: string): DirEntry[] | undefined;
  /** The path with every symlink resolved (realpath(3)); undefined when it does not resolve. */
  realpath(path: string): string | undefined;
  /** Permission bits of `path` itself (symlinks not followed); undefined when missing. */
  mode(path: string): number | undefined;
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
  entries(path) {
    try {
      return readdirSync(path, { withFileTypes: true })
        .map((d): DirEntry => ({
          name: d.name,
          type: d.isDirectory() ? 'dir' : d.isFile() ? 'file' : d.isSymbolicLink() ? 'symlink' : d.isSocket() ? 'socket' : 'other',
        }))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    } catch {
      return undefined;
    }
  },
  realpath(path) {
    try {
      return realpathSync(path);
    } catch {
      return undefined;
    }
  },
  mode(path) {
    try {
      return lstatSync(path).mode & 0o7777;
    } catch {
      return undefined;
    }
  },
};

/**
 * A made-up host for tests and generated docs: paths map to `dir`, `file`,
 * `other`, `socket`, `symlink:TEXT` (a link whose target kind is looked up
 * in turn), file contents as `file:TEXT`, or `private` / `private-dir` (a
 * file of mode 0600 / a directory of mode 0700: unreadable to others).
 * Parents of listed paths are directories (mode 0755).
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
    if (what.startsWith('file:') || what === 'private') return 'file';
    if (what === 'private-dir') return 'dir';
    if (what === 'socket') return 'other';
    return what as PathKind;
  };
  const entryType = (what: string): EntryType => {
    if (what.startsWith('symlink:')) return 'symlink';
    if (what.startsWith('file:') || what === 'file' || what === 'private') return 'file';
    if (what === 'dir' || what === 'private-dir') return 'dir';
    return what === 'socket' ? 'socket' : 'other';
  };
  const children = (path: string): string[] | undefined => {
    const what = table.get(path);
    if (what !== 'dir' && what !== 'private-dir') return undefined;
    const prefix = path === '/' ? '/' : `${path}/`;
    return [...table.keys()]
      .filter((p) => p.startsWith(prefix) && p.length > prefix.length && !p.slice(prefix.length).includes('/'))
      .map((p) => p.slice(prefix.length))
      .sort();
  };
  const realpath = (path: string, depth = 0): string | undefined => {
    if (depth > 8 || !path.startsWith('/')) return undefined;
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    let at = '/';
    for (let i = 0; i < parts.length; i += 1) {
      const part = parts[i]!;
      if (part === '..') {
        at = parent(at) ?? '/';
        continue;
      }
      const next = at === '/' ? `/${part}` : `${at}/${part}`;
      const what = table.get(next);
      if (what === undefined) return undefined;
      if (what.startsWith('symlink:')) {
        const resolved = realpath(resolveLink(next, what.slice(8)), depth + 1);
        if (resolved === undefined) return undefined;
        at = resolved;
      } else {
        at = next;
      }
    }
    return at;
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
    list: children,
    entries: (path) => children(path)?.map((name) => ({ name, type: entryType(table.get(path === '/' ? `/${name}` : `${path}/${name}`)!) })),
    realpath: (path) => realpath(path),
    mode: (path) => {
      const what = table.get(path);
      if (what === undefined) return undefined;
      if (what === 'private') return 0o600;
      if (what === 'private-dir') return 0o700;
      if (what.startsWith('symlink:')) return 0o777;
      return what === 'dir' ? 0o755 : 0o644;
    },
  };
}

function parent(path: string): string | undefined {
  if (path === '/' || !path.startsWith('/')) return undefined;
  const cut = path.lastIndexOf('/');
  return cut === 0 ? '/' : path.slice(0, cut);
}
