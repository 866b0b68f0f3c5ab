/**
 * `run` checks the caller fds its flags name before anything is spawned, so
 * a closed one is `E_PLAN_INVALID` naming the flag, not Node's `spawn EBADF`.
 * (`--file` and `--ro-bind-data` fds are read, and checked, while the plan is
 * built; the library checks the plan's fds again on its own.)
 */

import { isFdOpen } from '@sandboxctl/core';
import { closedFd, type PlanFlagsCommand } from './plan-flags';

/** Throws `E_PLAN_INVALID` for the first fd flag whose fd is not open. */
export function checkFlagFds(command: Pick<PlanFlagsCommand, 'bindFd' | 'roBindFd' | 'passFd' | 'jsonStatusFd'>): void {
  const named: [string, number][] = [
    ...(command.bindFd ?? []).map(([fd]) => ['--bind-fd', Number(fd)] as [string, number]),
    ...(command.roBindFd ?? []).map(([fd]) => ['--ro-bind-fd', Number(fd)] as [string, number]),
    ...(command.passFd ?? []).map((fd) => ['--pass-fd', fd] as [string, number]),
    ...(command.jsonStatusFd === undefined ? [] : [['--json-status-fd', command.jsonStatusFd] as [string, number]]),
  ];
  for (const [flag, fd] of named) {
    if (Number.isInteger(fd) && !isFdOpen(fd)) throw closedFd(flag, fd);
  }
}
