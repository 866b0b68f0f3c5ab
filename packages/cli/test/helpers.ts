/** Runs the CLI in-process with captured output. */

import { Writable } from 'node:stream';
import type { Plan } from '@sandboxctl/core';
import { main } from '../src/main';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  return { stream, text: () => text };
}

export async function runCli(args: string[]): Promise<CliResult> {
  const out = sink();
  const err = sink();
  const status = await main(args, { stdout: out.stream, stderr: err.stream, colorDepth: 1 });
  return { status, stdout: out.text(), stderr: err.text() };
}

/** `sandboxctl plan --json ARGS`, parsed; fails the test on a non-zero status or anything on stderr. */
export async function planOf(args: string[]): Promise<Plan> {
  const result = await runCli(['plan', '--json', ...args]);
  if (result.status !== 0) throw new Error(`status ${result.status}: ${result.stderr}`);
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as Plan;
}

/** A usage error (exit 125, nothing on stdout): its message and hint. */
export async function usageError(args: string[]): Promise<{ message: string; hint: string | undefined }> {
  const result = await runCli(args);
  expect(result.stdout).toBe('');
  expect(result.status).toBe(125);
  const match = /^sandboxctl: E_USAGE: (.*)\n(?:sandboxctl: hint: (.*)\n)?$/.exec(result.stderr);
  if (!match) throw new Error(`not a usage error: ${JSON.stringify(result.stderr)}`);
  return { message: match[1]!, hint: match[2] };
}
