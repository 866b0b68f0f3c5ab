/**
 * `tty: true`: the program gets a pseudo-terminal of its own from the
 * sandbox's devpts, relayed by the launcher to the caller's terminal. It
 * needs terminals on stdin and stdout, and the foreground job.
 */

import { readFileSync } from 'node:fs';
import { isatty } from 'node:tty';
import type { Stream } from 'node:stream';
import { SandboxError } from '../errors';
import type { Plan } from '../plan-types';

/** How one of the program's standard streams is connected. */
export type StdioEntry = 'inherit' | 'pipe' | 'ignore' | number | Stream;
export type StdioOption = 'inherit' | 'pipe' | 'ignore' | [StdioEntry, StdioEntry, StdioEntry];

/**
 * Whether `tty: true` can work for this plan here: stdin and stdout are
 * terminals, we are in the terminal's foreground job, the program gets a
 * session of its own and the plan mounts a private /dev (whose devpts holds
 * the pty). The CLI's default.
 */
export function canUseTty(plan: Pick<Plan, 'ops' | 'newSession'>): boolean {
  const privateDev = (plan.ops ?? []).some((op) => op.kind === 'dev' && op.target.replace(/\/+$/, '') === '/dev');
  return privateDev && plan.newSession !== false && isatty(0) && isatty(1) && inForeground();
}

/**
 * The launcher runs in a session of its own, where the kernel's job control
 * would not stop it from taking over the terminal of a background job
 * (`sandboxctl run … &`): relay only from the foreground (proc(5): the
 * process group and the terminal's foreground group in /proc/self/stat).
 */
function inForeground(): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[2] === fields[5];
  } catch {
    return true;
  }
}

/** `tty: true` relays the caller's terminal: stdin and stdout must be one. */
export function assertTerminals(stdio: [StdioEntry, StdioEntry, StdioEntry]): void {
  for (const i of [0, 1] as const) {
    const entry = stdio[i];
    const fd = entry === 'inherit' ? i : typeof entry === 'number' ? entry : fdOf(entry);
    if (fd === undefined || !isatty(fd)) {
      const name = i === 0 ? 'stdin' : 'stdout';
      const what = fd === undefined ? JSON.stringify(typeof entry === 'string' ? entry : 'a stream') : `fd ${fd}, not a terminal`;
      throw new SandboxError('E_SETUP', `tty needs a terminal on ${name}, and stdio[${i}] is ${what}`, {
        hint: "pass stdio: 'inherit' when running on a terminal, or leave tty off",
      });
    }
  }
}

function fdOf(entry: StdioEntry): number | undefined {
  const fd = (entry as { fd?: unknown }).fd;
  return typeof entry === 'object' && typeof fd === 'number' ? fd : undefined;
}

/** The three entries of a {@link StdioOption}. */
export function normalizeStdio(stdio: StdioOption): [StdioEntry, StdioEntry, StdioEntry] {
  if (typeof stdio === 'string') return [stdio, stdio, stdio];
  if (!Array.isArray(stdio) || stdio.length !== 3) {
    throw new TypeError('stdio must be "inherit", "pipe", "ignore" or an array of three entries');
  }
  return [stdio[0], stdio[1], stdio[2]];
}
