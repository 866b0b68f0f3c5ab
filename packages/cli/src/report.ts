/**
 * How the CLI reports its own failures: one form for all of them,
 * `sandboxctl: E_CODE: message` then an optional `sandboxctl: hint: ...` line
 * (the native launcher's form), on stderr,
 * and exit status 125 so they never pass for the program's own status.
 */

import { isSandboxError } from '@sandboxctl/core';
import { COMMAND_NAMES, helpPath } from './commands';

/** Exit status of a tool failure (as `env`, `timeout` and the launcher use it). */
export const TOOL_FAILURE = 125;

export interface Failure {
  code: string;
  message: string;
  hint?: string;
  exitStatus: number;
}

/** Classifies anything thrown while parsing or executing a command. */
export function describeFailure(error: unknown, args: readonly string[]): Failure {
  if (isSandboxError(error)) {
    // The launcher's own 126/127 say "could not execute" / "not found", as in
    // shells; keep them rather than folding them into 125.
    const exec = error.code === 'E_EXEC' && (error.exitStatus === 126 || error.exitStatus === 127);
    return {
      code: error.code,
      message: error.message,
      hint: error.hint,
      exitStatus: exec ? error.exitStatus : TOOL_FAILURE,
    };
  }
  if (isClipanionError(error)) {
    const known = args[0] !== undefined && COMMAND_NAMES.includes(args[0]);
    if (!known && /^Command not found/.test(error.message)) {
      return {
        code: 'E_USAGE',
        message: args[0] === undefined ? 'no command given' : `unknown command ${JSON.stringify(args[0])}`,
        hint: `the commands are ${COMMAND_NAMES.join(', ')}; see \`sandboxctl --help\``,
        exitStatus: TOOL_FAILURE,
      };
    }
    const message = /^Command not found/.test(error.message)
      ? `cannot make sense of the arguments of \`sandboxctl ${args[0]}\``
      : flagNames(sentence(error.message));
    return {
      code: 'E_USAGE',
      message,
      hint: `see \`${known ? `sandboxctl ${helpPath(args[0]!) ?? args[0]}` : 'sandboxctl'} --help\``,
      exitStatus: TOOL_FAILURE,
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'E_INTERNAL', message, hint: 'this is a bug in sandboxctl; please report it', exitStatus: TOOL_FAILURE };
}

export function formatFailure(failure: Failure): string {
  return `sandboxctl: ${failure.code}: ${failure.message}\n${failure.hint ? `sandboxctl: hint: ${failure.hint}\n` : ''}`;
}

function isClipanionError(error: unknown): error is Error {
  return error instanceof Error && typeof (error as { clipanion?: unknown }).clipanion === 'object';
}

// Schema errors name command properties ("shareNet"); the user typed flags,
// and every property is its flag in camelCase.
function flagNames(message: string): string {
  if (!message.startsWith('invalid option schema')) return message;
  return message.replace(/"([a-z][a-zA-Z0-9]*)"/g, (_, name: string) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
}

// clipanion writes "Unsupported option name ("--x").\n\n$ usage...": keep the
// first line, in the house form (lower case, no trailing period).
function sentence(message: string): string {
  const first = (message.split('\n')[0] ?? '').trim().replace(/[.:]$/, '');
  return first.charAt(0).toLowerCase() + first.slice(1);
}
