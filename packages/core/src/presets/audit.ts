/**
 * The post-run audit as presets and options set it (the launcher does the
 * work: crates/sandbox-core/src/audit). `auditRoots` is the one place that
 * says which host directories the agent preset has audited; callers that
 * know of more (the enclosing repository's worktree and git directories when
 * the current directory is inside one) pass them in.
 */

import { posix } from 'node:path';
import { SandboxError } from '../errors';
import type { AuditSpec, OnTaint } from '../plan-types';

/** The modes of `onTaint`, in the order the help lists them. */
export const ON_TAINT_MODES: readonly OnTaint[] = ['revert', 'fail', 'warn'];

/**
 * The directories to audit: the current directory and `extra`, normalized,
 * without duplicates and without one that lies inside another (the walk of
 * the outer one covers it). `/` is never a root: the walk would be the host.
 */
export function auditRoots(ctx: { readonly cwd: string }, extra: readonly string[] = []): string[] {
  const all = [ctx.cwd, ...extra].map((p) => posix.normalize(p)).map((p) => (p.length > 1 ? p.replace(/\/+$/, '') : p));
  const roots = [...new Set(all)].filter((p) => posix.isAbsolute(p) && p !== '/');
  return roots.filter((p) => !roots.some((q) => q !== p && (p + '/').startsWith(q + '/')));
}

/** The audit the agent preset sets up for these roots. */
export function auditSpec(roots: readonly string[], onTaint: OnTaint = 'revert'): AuditSpec {
  return { roots: [...roots], onTaint };
}

/**
 * `audit` with `onTaint` set. Without an audit there is nothing to act on:
 * `E_PLAN_INVALID` naming `what` (the option or flag given).
 */
export function withOnTaint(audit: AuditSpec | null | undefined, onTaint: OnTaint, what: string): AuditSpec {
  if (!(ON_TAINT_MODES as readonly string[]).includes(onTaint)) {
    throw new SandboxError('E_PLAN_INVALID', `${what} must be one of ${ON_TAINT_MODES.join(', ')}, got ${JSON.stringify(onTaint)}`, { path: 'audit.onTaint' });
  }
  if (audit === undefined || audit === null) {
    throw new SandboxError('E_PLAN_INVALID', `${what} applies to the post-run audit, and this plan has none`, {
      path: 'audit',
      hint: 'use the agent preset (--preset agent), or give plan.audit with the directories to audit',
    });
  }
  return { ...audit, onTaint };
}
