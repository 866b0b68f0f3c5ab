/** The Node API against real sandboxes. */
import { plan, run, spawn } from '@sandboxctl/core';
import { readdirSync } from 'node:fs';
import { BASE, TRY, requireKernel } from './helpers';

beforeAll(requireKernel);

const ops = plan(['/bin/true']).roBind('/', '/').proc('/proc').dev('/dev').tmpfs('/tmp').build().ops;

test('run resolves with the exit code, no signal, a duration, and the output', async () => {
  const r = await run({ argv: ['/bin/sh', '-c', 'echo out; echo err >&2; exit 3'], ops, stdio: 'pipe' });
  expect(r.code).toBe(3);
  expect(r.signal).toBeNull();
  expect(r.durationMs).toBeGreaterThan(0);
  expect(r.stdout).toBe('out\n');
  expect(r.stderr).toBe('err\n');
});

test('spawn exposes streams and the exit', async () => {
  const p = spawn({ argv: ['/bin/cat'], ops, stdio: 'pipe' });
  let out = '';
  p.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  p.stdin!.end('echoed');
  const r = await p.exited;
  expect(r.code).toBe(0);
  expect(out).toBe('echoed');
});

test('exited comes after the program\'s last output has reached the listeners', async () => {
  for (let i = 0; i < 10; i++) {
    const p = spawn({ argv: ['/bin/sh', '-c', 'head -c 300000 /dev/zero; echo end >&2'], ops, stdio: 'pipe' });
    let n = 0;
    let err = '';
    p.stdout!.on('data', (d: Buffer) => (n += d.length));
    p.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    expect((await p.exited).code).toBe(0);
    expect([i, n, err]).toEqual([i, 300000, 'end\n']);
  }
});

test('an AbortSignal stops the program', async () => {
  const ac = new AbortController();
  const started = Date.now();
  const pending = run({ argv: ['/bin/sleep', '30'], ops, signal: ac.signal });
  setTimeout(() => ac.abort(), 200);
  const r = await pending;
  expect(r.aborted).toBe(true);
  expect(r.code).toBe(128 + 15);
  expect(Date.now() - started).toBeLessThan(5000);
});

test('many concurrent sandboxes from one process, no descriptor leak', async () => {
  const fds = () => readdirSync('/proc/self/fd').length;
  await run({ argv: ['/bin/true'], ops });
  const before = fds();
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => run({ argv: ['/bin/sh', '-c', `exit ${i % 7}`], ops })));
  expect(results.map((r) => r.code)).toEqual(Array.from({ length: 20 }, (_, i) => i % 7));
  expect(fds()).toBe(before);
});

void BASE;
void TRY;
