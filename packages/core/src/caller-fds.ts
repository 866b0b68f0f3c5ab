/**
 * The caller's fds a plan names (`sourceFd` of bind and file ops, `fds`,
 * `statusFd`) must be open before anything is spawned: Node's spawn would
 * otherwise fail with a bare `EBADF` after the plan was accepted.
 */

import { fstatSync } from 'node:fs';
import { SandboxError } from './errors';
import type { Plan } from './plan-types';

/** One caller fd of a plan and the JSON path that names it. */
export interface CallerFd {
  fd: number;
  path: string;
  opIndex?: number;
}

/** Every caller fd the plan names, in plan order. */
export function callerFds(plan: Plan): CallerFd[] {
  const out: CallerFd[] = [];
  (plan.ops ?? []).forEach((op, i) => {
    if ((op.kind === 'bind' || op.kind === 'file') && typeof op.sourceFd === 'number') {
      out.push({ fd: op.sourceFd, path: `plan.ops[${i}].sourceFd`, opIndex: i });
    }
  });
  (plan.fds ?? []).forEach((f, i) => out.push({ fd: f.fd, path: `plan.fds[${i}].fd` }));
  if (typeof plan.statusFd === 'number') out.push({ fd: plan.statusFd, path: 'plan.statusFd' });
  return out;
}

/** True when `fd` is open in this process. */
export function isFdOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EBADF') return false;
    throw error;
  }
}

/** Throws `E_PLAN_INVALID` naming the first caller fd of the plan that is not open. */
export function assertCallerFdsOpen(plan: Plan): void {
  for (const { fd, path, opIndex } of callerFds(plan)) {
    if (!isFdOpen(fd)) {
      throw new SandboxError('E_PLAN_INVALID', `${path}: fd ${fd} is not open`, {
        path,
        opIndex,
        hint: `open fd ${fd} in this process before spawning (a shell: end the command with \`${fd}<FILE\`)`,
      });
    }
  }
}
