/**
 * The caller's fds a plan names (`sourceFd` of bind and file ops, `fds`,
 * `statusFd`): checked open before anything is spawned (Node's spawn would
 * otherwise fail with a bare `EBADF` after the plan was accepted), then
 * passed to the launcher at fixed numbers, the plan renumbered to match.
 */

import { fstatSync } from 'node:fs';
import { SandboxError } from '../errors';
import type { Plan } from '../plan-types';

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

/** First launcher fd for caller fds: 0-2 are stdio, 3 the report socket. */
export const FIRST_PASSED_FD = 4;

/**
 * Caller fds the plan names (bind/file `sourceFd`, `fds`, `statusFd`) reach
 * the launcher as fds 4, 5…; the plan it receives names those numbers. A
 * passed fd keeps the number it had in the caller unless it names a target.
 */
export function remapCallerFds(plan: Plan): { plan: Plan; fds: number[] } {
  const fds: number[] = [];
  const map = (fd: number): number => {
    let i = fds.indexOf(fd);
    if (i < 0) i = fds.push(fd) - 1;
    return FIRST_PASSED_FD + i;
  };
  const out: Plan = structuredClone(plan);
  for (const op of out.ops ?? []) {
    if ((op.kind === 'bind' || op.kind === 'file') && typeof op.sourceFd === 'number') op.sourceFd = map(op.sourceFd);
  }
  if (out.fds) out.fds = out.fds.map((f) => ({ fd: map(f.fd), target: f.target ?? f.fd }));
  if (typeof out.statusFd === 'number') out.statusFd = map(out.statusFd);
  return { plan: out, fds };
}
