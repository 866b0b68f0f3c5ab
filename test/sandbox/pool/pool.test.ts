/**
 * The warm pool (packages/core/src/pool): a program per sandbox set up ahead,
 * nothing of one run seen by the next, the size between min and max, a
 * broken sandbox replaced and never used, close() leaving nothing behind.
 * The common checks run for both kinds of pool: sandboxes forked by the
 * pool's zygote (the default) and whole live sandboxes (`zygote: false`);
 * zygote.test.ts attacks what is the zygote's own. Each check runs real
 * sandboxes and looks from inside and from the host.
 */
import { readdirSync } from 'node:fs';
import { createPool, list } from '@sandboxctl/core';
import { requireKernel, until } from '../helpers';
import { alive, privateRuntimeDir } from '../live/live-helpers';
import { MARK, WRITER, closePools, expectNothingLeft, forget, hostProcesses, pool } from './pool-helpers';

let runtime: string;
beforeAll(() => {
  requireKernel();
  runtime = privateRuntimeDir();
});
afterEach(closePools);

describe.each([
  ['forked by the zygote', { zygote: true }],
  ['whole sandboxes', { zygote: false }],
])('%s', (_name, mode) => {
  test('the issue\'s example: python3 in a strict pool of 4, with the output and the status', async () => {
    const p = await pool({ ...mode,  size: 4 });
    expect(p.stats).toMatchObject({ ready: 4, starting: 0, target: 4 });
    const r = await p.run(['python3', '-c', 'print(1)'], { stdio: 'pipe', timeoutMs: 2000 });
    expect(r).toMatchObject({ code: 0, stdout: '1\n', stderr: '', signal: null, timedOut: false });
    const failed = await p.run(['sh', '-c', 'echo no >&2; exit 7'], { stdio: 'pipe' });
    expect([failed.code, failed.stderr]).toEqual([7, 'no\n']);
    const slow = await p.run(['sleep', '10'], { timeoutMs: 300 });
    expect(slow.timedOut).toBe(true);
  });

  test('nothing one run leaves (files, abstract socket, SysV and POSIX IPC, a background process) is seen by the next', async () => {
    const p = await pool({ ...mode,  size: 2 });
    const wrote = await p.run(['python3', '-c', WRITER], { stdio: 'pipe', timeoutMs: 5000 });
    expect([wrote.code, wrote.stderr]).toEqual([0, '']);
    const done = JSON.parse(wrote.stdout!) as Record<string, unknown>;
    // The attack reached something: the private /tmp and /dev/shm, the namespaces' socket and IPC tables.
    expect(done).toMatchObject({ '/tmp': 'written', '/dev/shm': 'written', abstract: 'bound', 'sysv-M': 0, 'sysv-Q': 0, 'sysv-S': 0 });
    expect(done.mq).not.toBe(-1);
    for (let i = 0; i < 4; i++) {
      const seen = await expectNothingLeft(p);
      // pid 1 and the checker itself: nothing else lives in a fresh sandbox.
      expect((seen.pids as number[]).length).toBeLessThanOrEqual(2);
    }
    // The background process died with its sandbox, on the host too.
    expect(await until(() => hostProcesses(MARK).length === 0, 5000)).toBe(true);
  });

  test('the size grows to max under load and falls back to min when idle', async () => {
    // idleMs long enough for the grown pool to fill up on a loaded machine before it shrinks.
    const p = await pool({ ...mode,  size: 1, min: 1, max: 3, idleMs: 3000 });
    expect(p.stats.target).toBe(1);
    const runs = Array.from({ length: 4 }, () => p.run(['sleep', '0.3']));
    expect((await Promise.all(runs)).map((r) => r.code)).toEqual([0, 0, 0, 0]);
    expect(p.stats.target).toBe(3);
    expect(await until(() => p.stats.ready === 3, 10_000)).toBe(true);
    expect(await until(() => p.stats.target === 1 && p.stats.ready === 1, 20_000)).toBe(true);
    expect(await until(() => list().length === 1, 5000)).toBe(true);
  }, 60_000);

  test('bad options and a plan that cannot be set up are refused, leaving nothing', async () => {
    await expect(createPool({ ...mode, size: 0 })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(createPool({ ...mode, size: 2, min: 3, max: 2 })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(createPool({ ...mode, ops: [{ kind: 'bind', source: '/nonexistent-pool-src', target: '/x' }], size: 2 })).rejects.toMatchObject({ code: expect.stringMatching(/^E_/) });
    expect(list()).toEqual([]);
    expect(readdirSync(`${runtime}/sandboxctl/sandboxes`)).toEqual([]);
  });
});

describe('whole sandboxes (zygote: false): one registry entry each', () => {
  test('each run gets a sandbox of its own: a different pid 1 every time, never one used before', async () => {
    const p = await pool({ zygote: false,  size: 2 });
    const seen = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const r = await p.run(['sh', '-c', 'cat /proc/1/stat; touch /tmp/used; ls /tmp'], { stdio: 'pipe' });
      expect(r.code).toBe(0);
      // Inside, /tmp holds only this run's file.
      expect(r.stdout!.split('\n').slice(1)).toEqual(['used', '']);
      expect(r.sandboxPid).toBeDefined();
      expect(seen.has(r.sandboxPid!)).toBe(false);
      seen.add(r.sandboxPid!);
    }
    // Two set up first, and one replacement per run (the last ones set up after their run's result).
    expect(await until(() => p.stats.started >= 8, 10_000)).toBe(true);
  });

  test('a sandbox whose pid 1 is killed from outside is replaced and never used', async () => {
    const p = await pool({ zygote: false,  size: 2 });
    const mine = list().filter((s) => s.labels.pool === p.id);
    expect(mine).toHaveLength(2);
    for (const s of mine) process.kill(s.pid1, 'SIGKILL');
    expect(await until(() => p.stats.broken === 2 && p.stats.ready === 2, 10_000)).toBe(true);
    const killed = new Set(mine.map((s) => s.pid1));
    for (let i = 0; i < 4; i++) {
      const r = await p.run(['true']);
      expect(r.code).toBe(0);
      expect(killed.has(r.sandboxPid!)).toBe(false);
    }
    expect(list().map((s) => s.name).filter((n) => mine.some((m) => m.name === n))).toEqual([]);
  });

  test('a run that takes a sandbox killed a moment before, not yet seen dead, runs in another one', async () => {
    for (let round = 0; round < 3; round++) {
      const p = await pool({ zygote: false,  size: 2 });
      const mine = list().filter((s) => s.labels.pool === p.id);
      // Killed, and the run asked for at once: the pool has not seen the exits yet.
      for (const s of mine) process.kill(s.pid1, 'SIGKILL');
      const r = await p.run(['sh', '-c', 'echo ran'], { stdio: 'pipe' });
      expect([r.code, r.stdout]).toEqual([0, 'ran\n']);
      expect(mine.map((s) => s.pid1)).not.toContain(r.sandboxPid);
    }
  });

  test('close() stops every sandbox, ready or busy, and leaves no process and no registry entry', async () => {
    const p = await pool({ zygote: false,  size: 3 });
    const mine = list().filter((s) => s.labels.pool === p.id);
    expect(mine).toHaveLength(3);
    // Its outcome taken at once: it ends (rejected or killed) during close().
    const busy = p.run(['python3', '-c', 'import time; time.sleep(1000)', MARK]).then(
      (r) => r.code,
      (e: { code?: string }) => e.code,
    );
    expect(await until(() => hostProcesses(MARK).length > 0, 5000)).toBe(true);
    await p.close();
    // The run under way ends with its sandbox: killed, or an error.
    expect(await busy).not.toBe(0);
    expect(list()).toEqual([]);
    expect(readdirSync(`${runtime}/sandboxctl/sandboxes`)).toEqual([]);
    for (const s of mine) expect([s.pid1, alive(s.pid1), alive(s.supervisorPid)]).toEqual([s.pid1, false, false]);
    expect(hostProcesses(MARK)).toEqual([]);
    await expect(p.run(['true'])).rejects.toMatchObject({ code: 'E_SANDBOX_CLOSED' });
    forget(p);
  });

});
