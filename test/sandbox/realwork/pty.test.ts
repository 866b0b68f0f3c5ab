/**
 * An interactive bash on a terminal (issue 9, item 5): when stdin is a
 * terminal the CLI gives the sandbox a pseudo-terminal of its own and relays
 * it, so job control, Ctrl-C, Ctrl-Z/fg, a resize and the exit status behave
 * as under ssh or `docker run -it`. The terminal is a real pty driven by
 * python3's pty support (pty-driver.py beside this file).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { CLI, requireKernel } from '../helpers';
import { cleanup, need, presetArgs, project, q, type Preset } from './realwork';

beforeAll(requireKernel);

const DRIVER = join(__dirname, 'pty-driver.py');
const PRESETS: Preset[] = ['agent', 'build'];

type Step = { send: string } | { expect: string; timeout?: number } | { size: [number, number] } | { sleep: number };

interface Driven {
  ok: boolean;
  failed: number | null;
  why: string | null;
  status: number;
  transcript: string;
}

function drive(cwd: string, steps: Step[], argv: string[]): Promise<Driven & { command: string; stderr: string }> {
  const python = need('python3', 'python3');
  const command = `cd ${q(cwd)} && sandboxctl ${argv.map(q).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn(python, [DRIVER, JSON.stringify(steps), '--', process.execPath, CLI, ...argv], {
      cwd,
      env: { ...process.env, TERM: 'xterm' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve({ ...JSON.parse(out), command, stderr: err });
      } catch {
        reject(new Error(`pty-driver.py exited ${code} without a result: ${err}`));
      }
    });
  });
}

/** Typed at the prompt; `$((…))` makes the answer differ from the echoed line. */
const SESSION: Step[] = [
  { size: [24, 80] },
  { send: 'stty size; test -t 0 && echo T$((3+4))\r' },
  { expect: '24 80' },
  { expect: 'T7' },
  // Job control: monitor mode on (bash turns it off when it cannot own the
  // terminal), a background job, `jobs`, `kill %1`.
  { send: '[[ $- == *m* ]] && echo M$((4+4))\r' },
  { expect: 'M8' },
  { send: 'sleep 100 &\r' },
  { expect: '\\[1\\] \\d+' },
  { send: 'jobs\r' },
  { expect: 'Running\\s+sleep 100' },
  { send: 'kill %1; wait; echo K$((1+2))\r' },
  { expect: 'K3' },
  // Ctrl-C stops the foreground program, not the shell.
  { send: 'sleep 100\r' },
  { sleep: 1 },
  { send: '\x03' },
  { send: 'echo C$? A$((2+3))\r' },
  { expect: 'C130 A5' },
  // Ctrl-Z stops it, fg resumes it, a second Ctrl-C later still only stops it.
  { send: 'sleep 100\r' },
  { sleep: 1 },
  { send: '\x1a' },
  { expect: 'Stopped\\s+sleep 100' },
  { send: 'fg\r' },
  { expect: 'sleep 100' },
  { sleep: 1 },
  { send: '\x03' },
  { send: 'echo F$? Z$((6+6))\r' },
  { expect: 'F130 Z12' },
  // A resize reaches the program's terminal.
  { size: [37, 91] },
  { sleep: 0.5 },
  { send: 'stty size\r' },
  { expect: '37 91' },
  // The exit status comes back.
  { send: 'exit 7\r' },
];

let dir: string;
beforeEach(() => (dir = project('pty')));
afterEach(() => cleanup(dir));

describe.each(PRESETS)('--preset %s', (preset) => {
  test('bash -i on a terminal: job control, Ctrl-C, Ctrl-Z/fg, resize, exit status', async () => {
    const argv = ['run', ...presetArgs(preset), '--', '/bin/bash', '--noediting', '--norc', '--noprofile', '-i'];
    const d = await drive(dir, SESSION, argv);
    const at = d.failed === null ? 'after the last step' : `at step ${d.failed} ${JSON.stringify(SESSION[d.failed] ?? 'exit')}`;
    const message = [
      `bash under a pty: ${d.why ?? `exit status ${d.status}, expected 7`} (${at})`,
      `  command: ${d.command}`,
      `  terminal transcript:\n${d.transcript.replace(/\r/g, '').replace(/^/gm, '    ')}`,
      d.stderr ? `  driver stderr:\n${d.stderr}` : '',
    ].join('\n');
    expect({ ok: d.ok && d.status === 7, message }).toBeOk();
  }, 60000);
});

test('--no-tty on a terminal: no terminal of its own; the program has no controlling terminal', async () => {
  // The opt-out: the program gets the caller's streams as they are (still a
  // terminal for `test -t 0`) in a new session without a controlling
  // terminal, so /dev/tty cannot be opened; a pty of its own would open.
  const script = 'if (: </dev/tty) 2>/dev/null; then echo ctty; else echo noctty; fi; exit 3';
  const d = await drive(dir, [{ expect: 'noctty' }], ['run', '--preset', 'agent', '--no-tty', '--', '/bin/sh', '-c', script]);
  const message = `sh --no-tty: ${d.why ?? ''} status ${d.status}, expected 3\n  command: ${d.command}\n  transcript:\n${d.transcript}`;
  expect({ ok: d.ok && d.status === 3, message }).toBeOk();
}, 30000);
