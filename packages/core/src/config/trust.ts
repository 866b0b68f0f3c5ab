/**
 * Trust for sandboxctl.json files found by looking up from the current
 * directory, as direnv (`direnv allow`) and mise (`mise trust`) do it: a
 * discovered file applies only when the user has trusted that exact file with
 * that exact content. Anyone who can write a directory the upward search
 * passes through (a sandboxed program writing its project, a cloned
 * repository) could otherwise plant a config that widens the next run.
 *
 * The store is one JSON file, `$XDG_STATE_HOME/sandboxctl/trust.json` or
 * `~/.local/state/sandboxctl/trust.json` under the real home (from the
 * password database, never `$HOME` alone). It records, per real file (symlinks
 * resolved), the SHA-256 of its content and the symlinks the user trusted it
 * through. Invariants: the store and its directory belong to the caller and
 * are not writable by others (a symlink or a foreign owner is refused, never
 * followed); it is replaced atomically (a fresh 0600 file renamed over it),
 * and read-modify-write happens under a lock directory beside it, so two
 * `sandboxctl trust` at once both land; a config is hashed and parsed from
 * the same bytes, read once.
 */

import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmdirSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { SandboxError } from '../errors';
import { passwdHome } from '../passwd-home';

/** One trusted file. */
export interface TrustEntry {
  /** The real path of the file (symlinks resolved). */
  path: string;
  /** SHA-256 of its content when it was trusted, hex. */
  sha256: string;
  /** When it was trusted (ISO 8601). */
  trustedAt: string;
  /**
   * Symlinks the user trusted it through (`sandboxctl trust LINK`): a
   * discovered symlink applies only when it is listed here, so a planted link
   * to some other trusted file is not trusted.
   */
  links?: string[];
}

/** What a trusted entry's file looks like now. */
export type TrustStatus = 'trusted' | 'changed' | 'missing';

/** The verdict on one discovered file. */
export type TrustCheck =
  | { trusted: true; entry: TrustEntry }
  | { trusted: false; reason: 'untrusted' | 'changed' | 'link'; entry?: TrustEntry };

const STORE_VERSION = 1;

/** The caller's home from the password database, symlinks resolved; an error when it has none. */
export function realHome(): string {
  const home = passwdHome();
  if (home === undefined) throw untrusted(`the password database gives no absolute home directory for uid ${process.geteuid?.()}`);
  return home;
}

/** `$XDG_STATE_HOME/sandboxctl` when it is absolute (the XDG spec ignores relative ones), else under the real home. */
export function stateDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, 'sandboxctl');
  return join(realHome(), '.local', 'state', 'sandboxctl');
}

/** Path of the trust store. */
export function trustStorePath(env?: Readonly<Record<string, string | undefined>>): string {
  return join(stateDir(env), 'trust.json');
}

/** SHA-256 of `bytes`, hex. */
export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Where a path sits with its directories resolved but its last component kept:
 * a symlink's own location, for matching it against `links`.
 */
export function linkLocation(path: string): string {
  const abs = resolve(path);
  try {
    return join(realpathSync(dirname(abs)), basename(abs));
  } catch {
    return abs;
  }
}

/** The entries of the store; an absent store is empty. Throws `E_CONFIG_UNTRUSTED` for an unsafe or unreadable one. */
export function readTrustStore(path: string = trustStorePath()): TrustEntry[] {
  if (!checkStoreDir(dirname(path), false)) return [];
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    if (code === 'ELOOP') throw unsafeStore(path, 'is a symlink');
    throw untrusted(`cannot read the trust store ${path}: ${code ?? String(error)}`);
  }
  let text: string;
  try {
    checkOwnedFile(path, fstatSync(fd));
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw untrusted(`the trust store ${path} is not valid JSON`, `remove it and trust your config files again with \`sandboxctl trust FILE\``);
  }
  const entries = (value as { trusted?: unknown } | null)?.trusted;
  if (!Array.isArray(entries)) throw untrusted(`the trust store ${path} has no "trusted" list`, `remove it and trust your config files again with \`sandboxctl trust FILE\``);
  return entries.filter(
    (e: unknown): e is TrustEntry =>
      typeof e === 'object' && e !== null && 'path' in e && typeof e.path === 'string' && 'sha256' in e && typeof e.sha256 === 'string',
  );
}

/** Replaces the store atomically: a new 0600 file in the same directory (0700), synced, renamed over the old one. */
export function writeTrustStore(entries: readonly TrustEntry[], path: string = trustStorePath()): void {
  const dir = dirname(path);
  mkdirPrivate(dir);
  checkStoreDir(dir, true);
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) throw unsafeStore(path, 'is a symlink');
    checkOwnedFile(path, st);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const text = `${JSON.stringify({ version: STORE_VERSION, trusted: entries }, null, 2)}\n`;
  const temp = join(dir, `.trust.json.${process.pid}.${randomBytes(6).toString('hex')}`);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temp, path);
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // closed already
    }
    try {
      unlinkSync(temp);
    } catch {
      // renamed already, or never made
    }
    throw untrusted(`cannot write the trust store ${path}: ${(error as Error).message}`);
  }
  const dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/**
 * Whether `file`, read as `bytes`, is trusted: its real path has an entry
 * with this content's hash, and when `file` itself is a symlink, the entry
 * lists it.
 */
export function checkTrust(file: string, bytes: Uint8Array | string, entries: readonly TrustEntry[] = readTrustStore()): TrustCheck {
  const real = realpathSync(file);
  const entry = entries.find((e) => e.path === real);
  if (entry === undefined) return { trusted: false, reason: 'untrusted' };
  if (entry.sha256 !== sha256(bytes)) return { trusted: false, reason: 'changed', entry };
  const at = linkLocation(file);
  if (at !== real && !(entry.links ?? []).includes(at)) return { trusted: false, reason: 'link', entry };
  return { trusted: true, entry };
}

/**
 * Records `file`'s current content as trusted (replacing an older record of
 * the same real file); a symlink given as `file` is recorded as one of the
 * entry's links. Returns the entry.
 */
export function trustFile(file: string, bytes: Uint8Array | string, store: string = trustStorePath()): TrustEntry {
  const real = realpathSync(file);
  const at = linkLocation(file);
  return withStoreLock(store, () => {
    const entries = readTrustStore(store);
    const old = entries.find((e) => e.path === real);
    const links = new Set(old?.links ?? []);
    if (at !== real) links.add(at);
    const entry: TrustEntry = { path: real, sha256: sha256(bytes), trustedAt: new Date().toISOString() };
    if (links.size > 0) entry.links = [...links].sort();
    writeTrustStore([...entries.filter((e) => e !== old), entry], store);
    return entry;
  });
}

/**
 * Forgets `file`: the entry of its real path (with all its links), or, for a
 * file that no longer exists, the entry or link recorded under that path.
 * Returns the removed entries.
 */
export function untrustFile(file: string, store: string = trustStorePath()): TrustEntry[] {
  const abs = resolve(file);
  let real: string | undefined;
  try {
    real = realpathSync(abs);
  } catch {
    real = undefined;
  }
  const at = linkLocation(abs);
  return withStoreLock(store, () => {
    const removed: TrustEntry[] = [];
    const kept: TrustEntry[] = [];
    for (const entry of readTrustStore(store)) {
      if (entry.path === real || entry.path === abs || entry.path === at) {
        removed.push(entry);
      } else if ((entry.links ?? []).includes(at)) {
        const links = entry.links!.filter((l) => l !== at);
        removed.push(entry);
        kept.push(links.length > 0 ? { ...entry, links } : omitLinks(entry));
      } else {
        kept.push(entry);
      }
    }
    if (removed.length > 0) writeTrustStore(kept, store);
    return removed;
  });
}

/** How long a writer waits for another's lock, and when a lock counts as left by a crashed one. */
const LOCK_WAIT_MS = 5000;
const LOCK_STALE_MS = 30000;

// Read-modify-write of the store under `trust.json.lock`, a directory made
// with mkdir (atomic) inside the private store directory, so only the caller
// can make it. A lock older than LOCK_STALE_MS was left by a killed writer.
function withStoreLock<T>(store: string, fn: () => T): T {
  const dir = dirname(store);
  mkdirPrivate(dir);
  checkStoreDir(dir, true);
  const lock = `${store}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      mkdirSync(lock, { mode: 0o700 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw untrusted(`cannot lock the trust store ${store}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    try {
      if (Date.now() - lstatSync(lock).mtimeMs > LOCK_STALE_MS) rmdirSync(lock);
    } catch {
      // gone meanwhile: try again
    }
    if (Date.now() > deadline) {
      throw untrusted(`the trust store ${store} is locked by another sandboxctl`, `wait for it to finish; if none is running, remove ${lock}`);
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  try {
    return fn();
  } finally {
    try {
      rmdirSync(lock);
    } catch {
      // removed as stale by another writer: nothing to undo
    }
  }
}

/** Each entry with what its file looks like now. */
export function trustList(store: string = trustStorePath()): (TrustEntry & { status: TrustStatus })[] {
  return readTrustStore(store).map((entry) => {
    let status: TrustStatus;
    try {
      status = sha256(readFileSync(entry.path)) === entry.sha256 ? 'trusted' : 'changed';
    } catch {
      status = 'missing';
    }
    return { ...entry, status };
  });
}

/** The command that trusts `file`, quoted for a POSIX shell. */
export function trustCommand(file: string): string {
  return `sandboxctl trust ${shellQuote(file)}`;
}

function omitLinks(entry: TrustEntry): TrustEntry {
  const { links: _links, ...rest } = entry;
  return rest;
}

/** `text` as one POSIX shell word. */
export function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

// Creates the missing directories of `dir` with mode 0700 (XDG: "should be
// created with permission 0700"), leaving existing ones as they are.
function mkdirPrivate(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw untrusted(`cannot create the trust store directory ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

// The store directory must be a real directory of the caller's that nobody
// else can write; `fix` narrows an owned directory to 0700 (for writing).
function checkStoreDir(dir: string, fix: boolean): boolean {
  let st;
  try {
    st = lstatSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw untrusted(`cannot inspect the trust store directory ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (st.isSymbolicLink()) throw unsafeStore(dir, 'is a symlink');
  if (!st.isDirectory()) throw unsafeStore(dir, 'is not a directory');
  const uid = process.geteuid?.();
  if (uid !== undefined && st.uid !== uid) throw unsafeStore(dir, `is owned by uid ${st.uid}, not by you (uid ${uid})`);
  if ((st.mode & 0o077) !== 0) {
    if (fix) chmodSync(dir, 0o700);
    else if ((st.mode & 0o022) !== 0) throw unsafeStore(dir, `is writable by others (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`);
  }
  return true;
}

function checkOwnedFile(path: string, st: { uid: number; mode: number; isFile(): boolean }): void {
  const uid = process.geteuid?.();
  if (!st.isFile()) throw unsafeStore(path, 'is not a regular file');
  if (uid !== undefined && st.uid !== uid) throw unsafeStore(path, `is owned by uid ${st.uid}, not by you (uid ${uid})`);
  if ((st.mode & 0o022) !== 0) throw unsafeStore(path, `is writable by others (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`);
}

function unsafeStore(path: string, what: string): SandboxError {
  return untrusted(`refusing the trust store: ${path} ${what}`, `remove it; sandboxctl recreates it (mode 0600 in a 0700 directory) on the next \`sandboxctl trust FILE\``);
}

function untrusted(message: string, hint?: string): SandboxError {
  return new SandboxError('E_CONFIG_UNTRUSTED', message, { hint });
}
