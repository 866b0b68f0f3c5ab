/**
 * Faults: each part of the chain killed, stopped or starved in turn. Every
 * case must end with a clear status, leave no process behind (found by a
 * unique marker in argv) and nothing on the host: the host's mount table is
 * unchanged and the temporary directory handed to the run stays empty.
 */
import { spawn as spawnChild } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { BASE, CLI, INIT, cli, hostProcessesWith, requireKernel, sleep, until } from '../helpers';
import { run, spawn, type Op } from '@sandboxctl/core';

beforeAll(requireKernel);

const ops: Op[] = [
  { kind: 'bind', source: '/', target: '/' },
  { kind: 'proc', target: '/proc' },
  { kind: 'dev', target: '/dev' },
];

const hostMounts = () => readFileSync('/proc/self/mountinfo', 'utf8');

let seq = 0;
/** A `sleep` duration no other process has: its argv is the marker. */
const marker = () => `900.${process.pid}${++seq}${Date.now() % 100000}`;

let tmp: string;
let mountsBefore: string;
beforeEach(() => {
  tmp = mkdtempSync('/tmp/sbx-faults-');
  chmodSync(tmp, 0o777);
  process.env.TMPDIR = tmp;
  mountsBefore = hostMounts();
});
afterEach(() => {
  delete process.env.TMPDIR;
  rmSync(tmp, { recursive: true, force: true });
});

/** Nothing left: no process with the marker, no mount, no temporary file. */
async function expectNothingLeft(mark: string): Promise<void> {
  expect(await until(() => hostProcessesWith(mark).length === 0, 5000)).toBe(true);
  expect(readdirSync(tmp)).toEqual([]);
  expect(hostMounts()).toBe(mountsBefore);
}

/**
 * pid of the sandboxed `sleep` whose argv holds `mark` (the CLI's own argv
 * holds it too, so the command name tells them apart).
 */
async function sleeperOf(mark: string): Promise<number> {
  const find = () => hostProcessesWith(mark).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep';
    } catch {
      return false;
    }
  });
  expect(await until(() => find().length === 1)).toBe(true);
  return find()[0];
}

describe('killed', () => {
  test('kill -9 of the CLI: the sandbox dies with it', async () => {
    const mark = marker();
    const child = spawnChild(process.execPath, [CLI, 'run', ...BASE, '--', '/bin/sleep', mark], { stdio: 'ignore' });
    await sleeperOf(mark);
    child.kill('SIGKILL');
    const [code, signal] = await new Promise<[number | null, string | null]>((r) => child.on('close', (c, s) => r([c, s])));
    expect([code, signal]).toEqual([null, 'SIGKILL']);
    await expectNothingLeft(mark);
  });

  test('kill -9 of the launcher: pid 1 and the program die (parent-death signal)', async () => {
    const mark = marker();
    const p = spawn({ argv: ['/bin/sleep', mark], ops, stdio: 'ignore' });
    await p.started;
    process.kill(p.pid!, 'SIGKILL');
    const r = await p.exited;
    expect([r.code, r.signal]).toEqual([null, 'SIGKILL']);
    await expectNothingLeft(mark);
  });

  test('kill -9 of pid 1: the launcher exits 137 and the program is gone', async () => {
    const mark = marker();
    const p = spawn({ argv: ['/bin/sleep', mark], ops, stdio: 'ignore' });
    await p.started;
    expect(await until(() => p.sandboxPid !== undefined)).toBe(true);
    process.kill(p.sandboxPid!, 'SIGKILL');
    const r = await p.exited;
    expect([r.code, r.signal]).toEqual([137, null]);
    await expectNothingLeft(mark);
  });

  test('kill -9 of the program: exit 137', async () => {
    const mark = marker();
    const p = spawn({ argv: ['/bin/sleep', mark], ops, stdio: 'ignore' });
    process.kill(await sleeperOf(mark), 'SIGKILL');
    const r = await p.exited;
    expect([r.code, r.signal]).toEqual([137, null]);
    await expectNothingLeft(mark);
  });

  test('SIGSTOP then SIGCONT of pid 1: the program\'s status still comes through', async () => {
    const mark = marker();
    const p = spawn({ argv: ['/bin/sh', '-c', 'sleep 0.3; exit 5', mark], ops, stdio: 'ignore' });
    await p.started;
    expect(await until(() => p.sandboxPid !== undefined)).toBe(true);
    process.kill(p.sandboxPid!, 'SIGSTOP');
    let done = false;
    void p.exited.then(() => (done = true)); // awaited below
    await sleep(800); // the program has exited meanwhile; pid 1 cannot reap it
    expect(done).toBe(false);
    process.kill(p.sandboxPid!, 'SIGCONT');
    const r = await p.exited;
    expect([r.code, r.signal]).toEqual([5, null]);
    await expectNothingLeft(mark);
  });
});

describe('starved', () => {
  test('a program that forks 1,000 children and exits: its status, then every child is gone', async () => {
    const mark = marker();
    const t0 = Date.now();
    const r = await run({
      argv: ['/bin/sh', '-c', `i=0; while [ $i -lt 1000 ]; do sleep ${mark} & i=$((i+1)); done; exit 4`],
      ops,
      plan: { lingerMs: 200 },
      stdio: 'pipe',
    });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/timeout exceeded waiting for lingering processes/);
    expect(Date.now() - t0).toBeLessThan(20_000);
    await expectNothingLeft(mark);
  }, 30_000);

  test('a full size-limited tmpfs answers ENOSPC inside; the program decides its status', async () => {
    const r = await cli(['run', ...BASE, '--size', '65536', '--tmpfs', '/tmp/small', '--', '/bin/sh', '-c',
      'dd if=/dev/zero of=/tmp/small/f bs=4096 count=64 2>&1; echo rc=$?; echo more >> /tmp/small/f || exit 28']);
    expect(r.stdout).toMatch(/No space left on device/);
    expect(r.stdout).toMatch(/rc=1/);
    expect(r.code).toBe(28);
    await expectNothingLeft('/tmp/small');
  });
});

describe('broken plumbing', () => {
  test('the plan fd closed before any plan was written: E_PLAN_INVALID, exit 125, no sandbox', async () => {
    const child = spawnChild(INIT, ['--plan-fd', '3'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    child.stdio[3]!.on('error', () => {});
    (child.stdio[3] as import('node:net').Socket).destroy();
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d) => (stderr += d));
    const [code, signal] = await new Promise<[number | null, string | null]>((r) => child.on('close', (c, s) => r([c, s])));
    expect([code, signal]).toEqual([125, null]);
    expect(stderr).toMatch(/^sandboxctl: E_PLAN_INVALID: /m);
    await expectNothingLeft(`--plan-fd`);
  });

  test('the plan fd closed halfway through a plan: E_PLAN_INVALID, exit 125', async () => {
    const child = spawnChild(INIT, ['--plan-fd', '3'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    const sock = child.stdio[3] as import('node:net').Socket;
    const reports: string[] = [];
    sock.setEncoding('utf8').on('data', (d: string) => reports.push(...d.trim().split('\n')));
    sock.on('error', () => {});
    sock.end('{"argv":["/bin/true"],"ops":[{"kind":"bind","sou');
    const code = await new Promise((r) => child.on('close', r));
    expect(code).toBe(125);
    expect(reports.map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ event: 'error', code: 'E_PLAN_INVALID' })]);
    await expectNothingLeft('--plan-fd');
  });

  test('a missing init executable: E_INIT_MISSING from the library and the CLI, nothing spawned', async () => {
    const saved = process.env.SANDBOXCTL_INIT;
    const notExec = `${tmp}/not-executable`;
    const dir = `${tmp}/a-directory`;
    try {
      for (const path of ['/nonexistent/sandboxctl-init', notExec, dir]) {
        if (path === notExec) writeFileSync(notExec, '#!/bin/sh\n');
        if (path === dir) mkdirSync(dir);
        process.env.SANDBOXCTL_INIT = path;
        await expect(run({ argv: ['/bin/true'], ops })).rejects.toMatchObject({ code: 'E_INIT_MISSING' });
        const r = await cli(['run', ...BASE, '--', '/bin/true'], { env: { ...process.env } });
        expect([r.code, r.stderr]).toEqual([125, expect.stringMatching(/^sandboxctl: E_INIT_MISSING: /m)]);
      }
    } finally {
      if (saved === undefined) delete process.env.SANDBOXCTL_INIT;
      else process.env.SANDBOXCTL_INIT = saved;
      rmSync(notExec, { force: true });
      rmSync(dir, { recursive: true, force: true });
    }
    await expectNothingLeft('/nonexistent/sandboxctl-init');
  });
});
