/**
 * Load from one Node process: many sandboxes at once, and many in a row.
 * Every run must end with the right status, leave no process behind, and the
 * parent's descriptors, memory and children must stay flat.
 *
 * `npm test` runs 1,000 sequential runs; `npm run test:soak` sets
 * SANDBOXCTL_SOAK_RUNS=5000.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { hostProcessesWith, requireKernel, until } from '../helpers';
import { run, type Op } from '@sandboxctl/core';

beforeAll(requireKernel);

const ops: Op[] = [
  { kind: 'bind', source: '/', target: '/' },
  { kind: 'proc', target: '/proc' },
  { kind: 'dev', target: '/dev' },
];

/** Run `count` tasks with at most `limit` in flight. */
async function pool<T>(count: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return out;
}

/** This process's children (pid, state), from /proc. */
function children(): { pid: number; state: string }[] {
  const out: { pid: number; state: string }[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const rest = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
      if (Number(rest[1]) === process.pid) out.push({ pid: Number(p), state: rest[0] });
    } catch {
      /* gone */
    }
  }
  return out;
}

const fdCount = () => readdirSync('/proc/self/fd').length;

test('500 sandboxes started in parallel (16 at a time) all exit with their status; none is left', async () => {
  const marker = `sbx-load-${process.pid}-${Date.now()}`;
  const codes = await pool(500, 16, async (i) => {
    const r = await run({ argv: ['/bin/sh', '-c', `exit ${i % 100}`, marker], ops, stdio: 'ignore' });
    return r.code;
  });
  expect(codes).toEqual(Array.from({ length: 500 }, (_, i) => i % 100));
  expect(await until(() => hostProcessesWith(marker).length === 0, 2000)).toBe(true);
  expect(children()).toEqual([]);
}, 120_000);

const runs = Number(process.env.SANDBOXCTL_SOAK_RUNS) || 1000;

/** V8's collector, reachable without --expose-gc on the command line. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc');
}

test(`${runs} sequential runs: descriptors, memory and children stay flat`, async () => {
  const gc = collector();
  const sample = () => {
    gc();
    const m = process.memoryUsage();
    return { fds: fdCount(), rss: m.rss / 2 ** 20, heap: m.heapUsed / 2 ** 20, kids: children() };
  };
  const warm = Math.min(200, runs / 5);
  const samples: { at: number; fds: number; rssMiB: number; heapMiB: number; kids: number }[] = [];
  let base = sample();
  for (let i = 0; i < runs; i++) {
    const r = await run({ argv: ['/bin/true'], ops, stdio: 'ignore' });
    if (r.code !== 0) throw new Error(`run ${i} exited ${r.code}`);
    if (i + 1 === warm) base = sample();
    if ((i + 1) % Math.max(1, runs / 5) === 0) {
      const s = sample();
      samples.push({ at: i + 1, fds: s.fds, rssMiB: +s.rss.toFixed(1), heapMiB: +s.heap.toFixed(2), kids: s.kids.length });
    }
  }
  const end = sample();
  process.stdout.write(`\n${runs} sequential runs, after each fifth: ${JSON.stringify(samples)}\n`);
  expect(end.fds).toBe(base.fds);
  expect(end.kids).toEqual([]);
  // The JavaScript heap after a full collection: a leaked listener, socket or
  // timer per run would add up to megabytes.
  expect(end.heap - base.heap).toBeLessThan(2);
  // Resident size also moves with the allocator: a plain child_process.spawn
  // of /bin/true grows it by ~17 MiB over the first few thousand runs before
  // it levels off. A native leak of 10 KiB a run would exceed this bound.
  expect(end.rss - base.rss).toBeLessThan(40);
}, 900_000);
