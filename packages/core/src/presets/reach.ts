/**
 * What the program can reach of the host's services (`agent`): pathname unix
 * sockets and the resolver. Network namespaces do not cover pathname
 * sockets, and Landlock can restrict them only from ABI 9
 * (LANDLOCK_ACCESS_FS_RESOLVE_UNIX; `doctor` says which is in force), so the
 * plan itself takes them away:
 *
 * - `/run` (and `/var/run` when it is a directory, not the usual symlink)
 *   and `/var/tmp` become private tmpfs, the session's runtime directory an
 *   empty private one; with the host's network, what DNS needs under /run
 *   (the directory `/etc/resolv.conf` points into, systemd-resolved's) is
 *   bound back read-only;
 * - a bounded scan of the other usual places (the home paths bound
 *   read-only: toolchains and `allowHome`, `$TMUX_TMPDIR`, /var (/var/tmp too
 *   when it holds the current directory), /srv, /opt, /mnt, /media) finds
 *   the sockets there, and each is masked with /dev/null (connect then
 *   fails); so does one of the current directory, whose masks come after it
 *   is bound (a host dev server's socket in the project). Copy-on-write
 *   caches are not scanned: a socket seen through overlayfs is its inode,
 *   not the listener's, and connect() finds no listener (ECONNREFUSED);
 * - `allowSocket` paths are bound back read-only and never masked;
 * - without a network, /etc/resolv.conf is an empty file: resolvers fail at
 *   once instead of retrying a nameserver they cannot reach.
 *
 * A socket created on the host after the plan was made, outside the private
 * places, is not masked: the scan sees the host as it is when the plan is made.
 */

import { posix } from 'node:path';
import type { Op } from '../plan-types';
import type { HostView } from './host';
import { isWithin } from '../plan/paths';
import type { OpRole } from './types';

type Add = (op: Op, role: OpRole, why: string) => void;

export interface ReachContext {
  host: HostView;
  cwd: string;
  runtimeDir?: string;
  /** Whether the program has the host's network. */
  network: boolean;
  /** Socket paths the caller allows (absolute). */
  allowSocket: readonly string[];
  /** Extra places to scan (the home paths bound read-only, `$TMUX_TMPDIR`). */
  scan: readonly string[];
  /** Directories already hidden behind an empty tmpfs: nothing there to mask. */
  hidden?: readonly string[];
}

/** Places scanned for sockets besides `ReachContext.scan`, with the depth each is walked to. */
export const SOCKET_SCAN: ReadonlyArray<readonly [string, number]> = [
  ['/var', 4],
  ['/srv', 3],
  ['/opt', 3],
  ['/mnt', 3],
  ['/media', 3],
];
/** Large directories of the usual places that hold package data, never a service's socket: not walked. */
export const SCAN_SKIP = new Set([
  '/var/cache',
  '/var/log',
  '/var/lib/apt',
  '/var/lib/dpkg',
  '/var/lib/rpm',
  '/var/lib/dnf',
  '/var/lib/pacman',
  '/var/lib/docker',
  '/var/lib/containers',
  '/var/lib/snapd',
  '/var/lib/flatpak',
  '/var/lib/texmf',
]);
/** Depth the extra places are walked to. */
const EXTRA_DEPTH = 2;
/** Directory entries looked at per place: the scan stays fast on any host. */
export const SCAN_BUDGET = 4000;
/** Depth the current directory is walked to, and the directories skipped there (large, never a service's socket). */
const CWD_DEPTH = 4;
const CWD_SKIP = new Set(['.git', 'node_modules', 'target', '.venv', 'venv', '__pycache__', 'dist', 'build', 'vendor']);
/** Sockets masked at most; the rest are named in `skipped`. */
export const MAX_MASKS = 64;

/** The places {@link resolvePrivateRun} makes private, with their modes and reasons. */
function privateRunPlaces(ctx: ReachContext): Array<[string, number, string]> {
  const places: Array<[string, number, string]> = [
    ['/run', 0o755, 'host services (sockets of docker, D-Bus, systemd, databases): replaced by an empty private /run'],
    ['/var/run', 0o755, 'host services: replaced by an empty private /var/run'],
    ['/var/tmp', 0o1777, 'private /var/tmp, empty, gone after the run (host sockets and files there stay out of reach)'],
  ];
  if (ctx.runtimeDir !== undefined) {
    places.push([ctx.runtimeDir, 0o700, 'session sockets (D-Bus, ssh-agent, gpg-agent, wayland): replaced by an empty private directory']);
  }
  return places;
}

/** Whether `path` becomes private: a real directory that does not hold the current directory. */
function becomesPrivate(ctx: ReachContext, path: string): boolean {
  return ctx.host.readlink(path) === undefined && ctx.host.kind(path) === 'dir' && !isWithin(ctx.cwd, path);
}

/** Paths where nothing of the host shows in the plan (the scan skips them). */
function privatePlaces(ctx: ReachContext): string[] {
  // /tmp and /dev are private in every preset that scans; /proc and /sys hold no sockets.
  const out = ['/tmp', '/dev', '/proc', '/sys', ...(ctx.hidden ?? [])];
  for (const [path] of privateRunPlaces(ctx)) if (becomesPrivate(ctx, path)) out.push(path);
  return out;
}

/** `/run`, `/var/run`, `/var/tmp` and the runtime directory private; DNS kept with the network. */
export function resolvePrivateRun(ctx: ReachContext, add: Add, skipped: string[]): void {
  const { host } = ctx;
  for (const [path, mode, why] of privateRunPlaces(ctx)) {
    if (host.readlink(path) !== undefined || host.kind(path) !== 'dir') continue;
    if (!becomesPrivate(ctx, path)) {
      skipped.push(`${path} is not made private: it holds the current directory (the socket scan looks there instead)`);
      continue;
    }
    add({ kind: 'tmpfs', target: path, mode }, 'hidden', why);
    if (path === '/run' && ctx.network) {
      for (const dns of dnsPaths(host)) add({ kind: 'bind', source: dns, target: dns }, 'host', 'what DNS needs under /run, read-only (the host network is shared)');
    }
  }
}

/** Directories under /run that name resolution reads when the network is shared. */
function dnsPaths(host: HostView): string[] {
  const out = new Set<string>();
  const conf = host.realpath('/etc/resolv.conf');
  if (conf !== undefined && isWithin(conf, '/run') && conf !== '/run') out.add(posix.dirname(conf));
  if (host.kind('/run/systemd/resolve') === 'dir') out.add('/run/systemd/resolve');
  return [...out].filter((p) => p !== '/run').sort();
}

/** Without a network, an empty /etc/resolv.conf (where its symlinks lead, when it is one). */
export function resolveResolver(ctx: ReachContext, add: Add): void {
  if (ctx.network) return;
  const { host } = ctx;
  let target = '/etc/resolv.conf';
  const link = host.readlink(target);
  if (link !== undefined) {
    const real = host.realpath(target);
    // A dangling link (its target under the private /run) is followed by hand.
    target = real ?? posix.resolve('/etc', link);
  }
  add({ kind: 'file', target, data: '' }, 'sanitized', 'no nameserver: there is no network, so name lookups fail at once instead of retrying');
}

/**
 * The sockets a bounded scan finds, masked; allowed ones bound back. `host`:
 * the usual places (before the current directory is bound); `cwd`: the
 * current directory itself (after it is bound, so the masks land on top of
 * it: a host dev server's socket in the project, `tmp/sockets/puma.sock`);
 * `allowed`: only the allowed sockets.
 */
export function resolveSockets(ctx: ReachContext, add: Add, skipped: string[], mode: 'host' | 'cwd' | 'allowed'): void {
  const { host, cwd } = ctx;
  const allowed = new Set(ctx.allowSocket.map((p) => posix.normalize(p)));
  // The current directory is bound from the host wherever it is, /tmp included.
  const privates = mode === 'cwd' ? [] : privatePlaces(ctx);
  const found: string[] = [];
  let truncated = false;
  const seen = new Set<string>();
  // A root is walked only when it is outside every private place (and, for
  // the host, outside the current directory), so an entry below it is inside
  // one only when it is that place itself: a set lookup per entry.
  const skip = new Set(mode === 'host' ? [...privates, cwd] : privates);
  const walk = (root: string, depth: number): void => {
    let budget = SCAN_BUDGET;
    const queue: Array<[string, number]> = [[root, 0]];
    for (let next = 0; next < queue.length; next += 1) {
      const [dir, level] = queue[next]!;
      if (seen.has(dir)) continue;
      seen.add(dir);
      for (const entry of host.entries(dir) ?? []) {
        budget -= 1;
        if (budget < 0) {
          truncated = true;
          return;
        }
        const path = dir === '/' ? `/${entry.name}` : `${dir}/${entry.name}`;
        if (skip.has(path)) continue;
        if (mode === 'cwd' && entry.type === 'dir' && CWD_SKIP.has(entry.name)) continue;
        if (mode === 'host' && entry.type === 'dir' && SCAN_SKIP.has(path)) continue;
        if (entry.type === 'socket') found.push(path);
        else if (entry.type === 'dir' && level + 1 < depth) queue.push([path, level + 1]);
      }
    }
  };
  const roots: Array<[string, number]> =
    mode === 'host'
      ? [...SOCKET_SCAN.map(([p, d]) => [p, d] as [string, number]), ...ctx.scan.map((p) => [p, EXTRA_DEPTH] as [string, number])]
      : mode === 'cwd'
        ? [[cwd, CWD_DEPTH]]
        : [];
  for (const [root, depth] of roots) {
    if (privates.some((p) => isWithin(root, p)) || host.readlink(root) !== undefined || host.kind(root) !== 'dir') continue;
    // A place that holds the current directory is walked around it (above: the set).
    if (mode === 'host' && isWithin(root, cwd)) continue;
    walk(root, depth);
  }
  if (truncated) skipped.push(`the socket scan stopped after ${SCAN_BUDGET} entries in a place; sockets deeper there are not masked`);
  const masks = [...new Set(found)].filter((p) => !allowed.has(p)).sort();
  // A socket found by the scan may be gone when pid 1 builds the root (a
  // server stopped meanwhile): nothing is left to mask then, and making its
  // mount point would fail on the read-only host or plant an empty file in
  // the project.
  for (const path of masks.slice(0, MAX_MASKS)) {
    add({ kind: 'bind', source: '/dev/null', target: path, missingTarget: 'skip' }, 'hidden', 'a host socket: connecting to it fails (masked with /dev/null)');
  }
  if (masks.length > MAX_MASKS) skipped.push(`${masks.length - MAX_MASKS} more host sockets are not masked (at most ${MAX_MASKS}): ${masks.slice(MAX_MASKS, MAX_MASKS + 5).join(', ')}…`);
  if (mode === 'cwd') return;
  for (const path of [...allowed].sort()) {
    if (host.kind(path) === 'missing') {
      skipped.push(`${path} is not shown (allowSocket): it does not exist`);
      continue;
    }
    add({ kind: 'bind', source: path, target: path }, 'host', 'a host socket shown on request (allowSocket)');
  }
}
