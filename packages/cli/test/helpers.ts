/** Runs the CLI in-process with captured output. */

import { Writable } from 'node:stream';
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
