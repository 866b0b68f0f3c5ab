/** The program of a plan: `argv`, a non-empty array of strings. */

import { SandboxError } from '../errors';

/** `E_PLAN_INVALID` for a missing or malformed `argv`. */
export function noArgv(): SandboxError {
  return new SandboxError('E_PLAN_INVALID', 'argv: give the program to run and its arguments, a non-empty array of strings', {
    path: 'argv',
    hint: "e.g. run({ argv: ['ls', '-l'], preset: 'agent' })",
  });
}

/** Throws {@link noArgv} unless `argv` is a non-empty array of strings. */
export function assertArgv(argv: unknown): asserts argv is [string, ...string[]] {
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) throw noArgv();
}
