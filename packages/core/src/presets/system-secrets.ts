/**
 * Root-only secrets of the host (`agent`, root callers). A root caller is uid
 * 0 inside too and owns what only root may read: /etc/shadow, /etc/gshadow
 * and their `-` backups, ssh host keys, /etc/sudoers and sudoers.d,
 * /etc/security/opasswd, TLS private keys, saved Wi-Fi and VPN passwords...
 * Lists cannot be complete, so the rule is: what the world may not read under
 * the places below is hidden (a directory behind an empty mode-0 tmpfs, a
 * file behind /dev/null), found by a bounded walk. An unprivileged caller
 * cannot read those files anyway, and gets no op.
 */

import type { Op } from '../plan-types';
import type { HostView } from './host';
import type { OpRole } from './types';

type Add = (op: Op, role: OpRole, why: string) => void;

/** Named root-only secrets, hidden when present whatever their mode. */
export const ROOT_SECRETS = [
  '/etc/shadow',
  '/etc/shadow-',
  '/etc/gshadow',
  '/etc/gshadow-',
  '/etc/security/opasswd',
  '/etc/sudoers',
  '/etc/sudoers.d',
  '/etc/ssl/private',
  '/var/backups',
] as const;

/** Places walked, with the depth each is walked to. */
export const ROOT_SECRET_WALK: ReadonlyArray<readonly [string, number]> = [
  ['/etc', 6],
  ['/var/lib', 1],
  ['/var/spool', 2],
  ['/var/mail', 1],
  ['/var/log', 1],
];
/** Entries looked at per place. */
export const WALK_BUDGET = 6000;
/** Paths hidden at most. */
export const MAX_ROOT_HIDES = 256;

/** The ops hiding root-only files for a root caller (`uid` 0); nothing otherwise. */
export function resolveRootSecrets(host: HostView, uid: number | undefined, add: Add, skipped: string[]): void {
  if (uid !== 0) return;
  const hidden = new Set<string>();
  const hide = (path: string, type: 'dir' | 'file'): void => {
    for (const h of hidden) if (path === h || path.startsWith(`${h}/`)) return;
    if (hidden.size >= MAX_ROOT_HIDES) {
      skipped.push(`${path} is not hidden: at most ${MAX_ROOT_HIDES} root-only paths are`);
      return;
    }
    hidden.add(path);
    const why = 'readable by root only: a root caller is root inside too';
    if (type === 'dir') add({ kind: 'tmpfs', target: path, mode: 0 }, 'hidden', why);
    else add({ kind: 'bind', source: '/dev/null', target: path }, 'hidden', why);
  };
  for (const path of ROOT_SECRETS) {
    if (host.readlink(path) !== undefined) continue;
    const kind = host.kind(path);
    if (kind === 'dir' || kind === 'file') hide(path, kind);
  }
  for (const [root, depth] of ROOT_SECRET_WALK) {
    if (host.readlink(root) !== undefined || host.kind(root) !== 'dir') continue;
    let budget = WALK_BUDGET;
    const queue: Array<[string, number]> = [[root, 0]];
    while (queue.length > 0 && budget > 0) {
      const [dir, level] = queue.shift()!;
      for (const entry of host.entries(dir) ?? []) {
        if ((budget -= 1) < 0) {
          skipped.push(`the walk for root-only files stopped after ${WALK_BUDGET} entries under ${root}`);
          break;
        }
        if (entry.type !== 'dir' && entry.type !== 'file') continue;
        const path = `${dir}/${entry.name}`;
        const mode = host.mode(path);
        if (mode === undefined) continue;
        if (entry.type === 'file' && (mode & 0o004) === 0) hide(path, 'file');
        else if (entry.type === 'dir' && (mode & 0o005) !== 0o005) hide(path, 'dir');
        else if (entry.type === 'dir' && level + 1 < depth) queue.push([path, level + 1]);
      }
    }
  }
}
