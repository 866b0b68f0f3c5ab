/**
 * Live sandboxes from outside: `run --name --detach`, `ps`, `exec`, `stop`
 * and the library's start/exec/stop/attach/list, with their errors.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { attach, list, plan, SandboxError, start } from '@sandboxctl/core';
import { BASE, CLI, requireKernel, until } from '../helpers';
import { alive, detached, execSh, lcli, privateRuntimeDir, ps, stopAll } from './live-helpers';

let runtime: string;
beforeAll(() => {
  requireKernel();
  runtime = privateRuntimeDir();
});
afterEach(stopAll);

const ops = plan(['/bin/true']).roBind('/', '/').proc('/proc').dev('/dev').tmpfs('/tmp').build().ops;

describe('the CLI', () => {
  test('run --name --detach prints the name once it runs; ps lists it; exec gives exact statuses; stop ends it', async () => {
    const r = await detached('web');
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'web\n', '']);
    const [entry] = ps();
    expect(entry).toMatchObject({ name: 'web', argv: ['sleep', '1000'] });
    expect(alive(entry!.pid1)).toBe(true);
    const text = await lcli(['ps']);
    expect(text.stdout).toMatch(/^NAME +PID +AGE +PRESET +COMMAND\nweb +\d+ +\d+s +- +sleep 1000\n$/);
    for (const status of [0, 1, 3, 42]) {
      const x = await execSh('web', `echo out; echo err >&2; exit ${status}`);
      expect([x.code, x.stdout, x.stderr]).toEqual([status, 'out\n', 'err\n']);
    }
    const stopped = await lcli(['stop', 'web']);
    expect([stopped.code, stopped.stderr]).toEqual([0, '']);
    expect(ps()).toEqual([]);
    expect(alive(entry!.pid1)).toBe(false);
    expect(readdirSync(`${runtime}/sandboxctl/sandboxes`)).toEqual([]);
  });

  test('exec passes stdin, -e and --cwd; the sandbox\'s environment is the default', async () => {
    await detached('env', ['sleep', '1000'], ['--setenv', 'FROM_RUN', 'yes']);
    const x = await lcli(['exec', '-e', 'A=1', '--cwd', '/tmp', 'env', '--', '/bin/sh', '-c', 'echo "$A $FROM_RUN $(pwd)"; cat'], { input: 'piped' });
    expect([x.code, x.stdout]).toEqual([0, '1 yes /tmp\npiped']);
    // a program that cannot be run: 127 as a shell says, with E_EXEC
    const missing = await lcli(['exec', 'env', '--', '/nonexistent']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('E_EXEC');
    const badCwd = await lcli(['exec', '--cwd', '/nonexistent', 'env', '--', '/bin/true']);
    expect(badCwd.code).toBe(127);
    // stdin a pipe that stays empty for a while: the program blocks on it
    // rather than failing with EAGAIN (Node makes its own stdin non-blocking,
    // the same open file the program reads)
    const slow = spawnSync('/bin/sh', ['-c', `(sleep 0.5; echo late) | ${process.execPath} ${CLI} exec env -- /bin/cat`], { encoding: 'utf8', env: { ...process.env }, timeout: 20_000 });
    expect([slow.status, slow.stdout, slow.stderr]).toEqual([0, 'late\n', '']);
  });

  test('the sandbox\'s state is shared: a file one exec writes, the next reads, and the main program sees it', async () => {
    await detached('shared', ['/bin/sh', '-c', 'while [ ! -e /tmp/go ]; do sleep 0.05; done; echo main > /tmp/main-saw-it; sleep 1000']);
    expect((await execSh('shared', 'echo hi > /tmp/go')).code).toBe(0);
    const r = await execSh('shared', 'for i in $(seq 100); do [ -e /tmp/main-saw-it ] && break; sleep 0.05; done; cat /tmp/go /tmp/main-saw-it');
    expect(r.stdout).toBe('hi\nmain\n');
  });

  test('bad input: unknown name, name in use, invalid name; exit 125 and nothing changed', async () => {
    const none = await execSh('nope', 'true');
    expect(none.code).toBe(125);
    expect(none.stderr).toContain('E_SANDBOX_NOT_FOUND');
    await detached('taken');
    const before = ps();
    const again = await detached('taken', ['true']);
    expect(again.code).toBe(125);
    expect(again.stderr).toContain('E_NAME_IN_USE');
    expect(ps()).toEqual(before);
    expect((await execSh('taken', 'exit 7')).code).toBe(7);
    const bad = await lcli(['run', '--name', '../x', '--detach', ...BASE, '--', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/E_USAGE|E_NAME_INVALID/);
    const stop = await lcli(['stop', 'nope']);
    expect(stop.code).toBe(125);
    expect(stop.stderr).toContain('E_SANDBOX_NOT_FOUND');
  });

  test('without --name a name is generated; the sandbox ends with its program and leaves ps', async () => {
    const gen = await lcli(['run', '--detach', ...BASE, '--', 'sleep', '0.3']);
    expect(gen.code).toBe(0);
    expect(gen.stdout).toMatch(/^sb-[a-z2-7]{8}\n$/);
    expect(await until(() => ps().every((s) => s.name !== gen.stdout.trim()), 8000)).toBe(true);
    const after = await execSh(gen.stdout.trim(), 'true');
    expect(after.stderr).toMatch(/E_SANDBOX_NOT_FOUND|E_SANDBOX_CLOSED/);
  });

  test('stop --timeout: a program that ignores SIGTERM is killed after it', async () => {
    await detached('stubborn', ['/bin/sh', '-c', 'trap "" TERM; while :; do sleep 0.1; done']);
    const t0 = Date.now();
    const r = await lcli(['stop', '--timeout', '1', 'stubborn']);
    expect(r.code).toBe(0);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(6000);
    expect(ps()).toEqual([]);
  });
});

describe('the library', () => {
  test('start() without a program, exec with run()\'s result shape, spawn, attach, list, stop', async () => {
    const sb = await start({ ops, name: 'lib' });
    expect(sb.name).toBe('lib');
    expect(list().map((s) => s.name)).toEqual(['lib']);
    const r = await sb.exec(['/bin/sh', '-c', 'echo "$X"; cat; exit 5'], { env: { X: 'x' }, input: 'in', stdio: 'pipe' });
    expect(r).toMatchObject({ code: 5, stdout: 'x\nin', stderr: '', signal: null, timedOut: false, aborted: false });
    const p = sb.spawn(['/bin/cat'], { stdio: 'pipe' });
    p.stdin!.end('through spawn');
    let out = '';
    p.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    expect((await p.exited).code).toBe(0);
    expect(out).toBe('through spawn');
    // pid 1's word that the program exited and its last bytes come on
    // different fds: `exited` waits for what was written (CI57 saw '' here).
    for (let i = 0; i < 60; i++) {
      const c = sb.spawn(['/bin/cat'], { stdio: 'pipe' });
      c.stdin!.end('through spawn');
      let got = '';
      c.stdout!.setEncoding('utf8').on('data', (d: string) => (got += d));
      expect((await c.exited).code).toBe(0);
      expect([i, got]).toEqual([i, 'through spawn']);
    }
    for (let i = 0; i < 20; i++) {
      const q = sb.spawn(['/bin/sh', '-c', 'head -c 300000 /dev/zero; echo end >&2'], { stdio: 'pipe' });
      let n = 0;
      let err = '';
      q.stdout!.on('data', (d: Buffer) => (n += d.length));
      q.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
      expect((await q.exited).code).toBe(0);
      expect([i, n, err]).toEqual([i, 300000, 'end\n']);
    }
    const again = await attach('lib');
    expect(again.pid).toBe(sb.pid);
    expect((await again.exec(['/bin/true'])).code).toBe(0);
    await sb.stop({ timeoutMs: 1000 });
    expect(list()).toEqual([]);
    await expect(sb.exec(['/bin/true'])).rejects.toMatchObject({ code: 'E_SANDBOX_NOT_FOUND' });
    await expect(attach('lib')).rejects.toThrow(SandboxError);
  });

  test('pid 1 does not grow with the programs it starts: their child allocates nothing in its memory, exec or no exec', async () => {
    // pid 1 starts each program from a child that shares its memory until
    // the exec (sys/exec.rs): anything that child allocated would stay in
    // pid 1's heap. 1000 variables make each start's envp array 8 KB, so
    // 200 programs that exec would leave 1.6 MB; a PATH of five places and
    // a missing program try every place, and a script without `#!` runs
    // through /bin/sh.
    const sb = await start({ ops, name: 'heap' });
    const env: Record<string, string> = { PATH: '/nowhere/a:/nowhere/b:/nowhere/c:/nowhere/d:/usr/bin:/bin' };
    for (let i = 0; i < 1000; i++) env[`V${i}`] = 'x'.repeat(20);
    const anon = (): number => Number(/RssAnon:\s+(\d+)/.exec(readFileSync(`/proc/${sb.pid}/status`, 'utf8'))![1]);
    const starts = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const codes = await Promise.all([
          sb.exec(['true'], { env }),
          // refused with its status: 127
          sb.exec(['no-such-program'], { env }).catch((e: SandboxError) => ({ code: e.exitStatus })),
          sb.exec(['/tmp/script'], { env }),
        ]);
        expect([i, codes.map((r) => r.code)]).toEqual([i, [0, 127, 3]]);
      }
    };
    expect((await sb.exec(['/bin/sh', '-c', 'printf "exit 3\\n" > /tmp/script; chmod +x /tmp/script'])).code).toBe(0);
    await starts(20);
    const before = anon();
    await starts(100);
    expect(anon() - before).toBeLessThan(256);
    await sb.stop();
  });

  test('a signal and a timeout reach the exec\'d program', async () => {
    const sb = await start({ ops, name: 'sig' });
    const ac = new AbortController();
    const pending = sb.exec(['/bin/sleep', '30'], { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 300));
    ac.abort();
    const r = await pending;
    expect([r.code, r.aborted]).toEqual([143, true]);
    const t = await sb.exec(['/bin/sleep', '30'], { timeoutMs: 300 });
    expect([t.code, t.timedOut]).toEqual([143, true]);
    await sb.stop();
  });

  test('a name in use rejects with E_NAME_IN_USE; a bad name with E_NAME_INVALID; nothing is left', async () => {
    const sb = await start({ ops, name: 'one' });
    await expect(start({ ops, name: 'one' })).rejects.toMatchObject({ code: 'E_NAME_IN_USE' });
    await expect(start({ ops, name: 'a/b' })).rejects.toMatchObject({ code: 'E_NAME_INVALID' });
    expect(list().map((s) => s.name)).toEqual(['one']);
    await sb.stop();
    expect(existsSync(`${runtime}/sandboxctl/sandboxes/one`)).toBe(false);
  });
});

describe('exec -it', () => {
  test('a program gets a pseudo-terminal of the sandbox\'s own devpts, relayed; its status comes back', async () => {
    await detached('tty');
    const cmd = `${process.execPath} ${CLI} exec -it tty -- /bin/sh -c 'tty; test -t 0 && echo stdin-is-tty; exit 3'`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env }, timeout: 20_000 });
    expect(r.status).toBe(3);
    expect(r.stdout).toMatch(/\/dev\/pts\/\d+\r?\n/);
    expect(r.stdout).toContain('stdin-is-tty');
    // without a terminal: a clear error, nothing started
    const none = await lcli(['exec', '-it', 'tty', '--', '/bin/true']);
    expect(none.code).toBe(125);
    expect(none.stderr).toContain('E_SETUP');
  });
});
