/**
 * The Node API's options against real sandboxes: presets, timeoutMs, the
 * AbortSignal, streams, and the error codes callers branch on.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireKernel } from './helpers';
import { KILL_GRACE_MS, SandboxError, plan, run, spawn } from '@sandboxctl/core';

beforeAll(requireKernel);

const ops = plan().roBind('/', '/').proc('/proc').dev('/dev').tmpfs('/tmp').build().ops;
let base: string;
let home: string;
let project: string;

beforeEach(() => {
  base = mkdtempSync('/var/tmp/sandboxctl-api-');
  home = join(base, 'home');
  project = join(home, 'project');
  mkdirSync(join(home, '.ssh'), { recursive: true });
  writeFileSync(join(home, '.ssh', 'id_rsa'), 'KEY\n');
  mkdirSync(project);
  execFileSync('git', ['init', '-q', project]);
});

afterEach(() => rmSync(base, { recursive: true, force: true }));

describe('preset', () => {
  test('run({ preset }) applies the preset for the given directory and home; options go on top', async () => {
    const r = await run({
      argv: ['/bin/sh', '-c', 'cat ~/.ssh/id_rsa 2>/dev/null || echo hidden; pwd; echo ok > written; echo ${API_TOKEN:-gone} $KEEP'],
      preset: { name: 'agent', cwd: project, home, env: { API_TOKEN: 'x' } },
      env: { set: { HOME: home, KEEP: 'kept' }, unset: ['API_TOKEN'] },
      stdio: 'pipe',
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`hidden\n${project}\ngone kept\n`);
    expect(r.code).toBe(0);
    expect(existsSync(join(project, 'written'))).toBe(true);
  });

  test('a preset refusing the directory throws before anything is spawned', () => {
    expect(() => spawn({ argv: ['true'], preset: { name: 'agent', cwd: '/', home } })).toThrow(
      expect.objectContaining({ code: 'E_PLAN_INVALID', path: 'preset' }),
    );
  });

  test('many agent sandboxes at once over the same directory, no descriptor left behind', async () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    const preset = { name: 'agent' as const, cwd: project, home };
    await run({ argv: ['/bin/true'], preset });
    const before = fds();
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => run({ argv: ['/bin/sh', '-c', `test ! -w .git/hooks && echo ${i} > f${i}`], preset })),
    );
    expect(results.map((r) => r.code)).toEqual(Array(12).fill(0));
    expect(fds()).toBe(before);
  });
});

describe('timeoutMs and AbortSignal', () => {
  test('timeoutMs stops the program with SIGTERM and says so', async () => {
    const started = Date.now();
    const r = await run({ argv: ['/bin/sleep', '30'], ops, timeoutMs: 300 });
    expect(r).toMatchObject({ code: 143, signal: null, timedOut: true, aborted: false });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(300);
    expect(elapsed).toBeLessThan(300 + KILL_GRACE_MS);
  });

  test('AbortSignal.timeout works as the signal', async () => {
    const r = await run({ argv: ['/bin/sleep', '30'], ops, signal: AbortSignal.timeout(300) });
    expect(r).toMatchObject({ code: 143, aborted: true, timedOut: false });
  });

  test('an already aborted signal throws and spawns nothing', () => {
    const ac = new AbortController();
    ac.abort();
    expect(() => spawn({ argv: ['/bin/true'], ops, signal: ac.signal })).toThrow(expect.objectContaining({ name: 'AbortError' }));
  });
});

describe('streams', () => {
  test('stdin, stdout and stderr are separate streams; the exit comes with the code', async () => {
    const p = spawn({ argv: ['/bin/sh', '-c', 'read line; echo "out:$line"; echo "err:$line" >&2; exit 7'], ops, stdio: 'pipe' });
    let out = '';
    let err = '';
    p.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.stdin!.end('hello\n');
    await p.started;
    expect(p.sandboxPid).toBeGreaterThan(0);
    const r = await p.exited;
    expect([out, err, r.code]).toEqual(['out:hello\n', 'err:hello\n', 7]);
  });

  test('run passes input and collects large output', async () => {
    const r = await run({ argv: ['/bin/sh', '-c', 'cat; head -c 1048576 /dev/zero | tr "\\0" x'], ops, input: 'in\n', stdio: 'pipe' });
    expect(r.stdout!.slice(0, 3)).toBe('in\n');
    expect(r.stdout!.length).toBe(3 + 1048576);
  });
});

describe('error codes', () => {
  test('E_PLAN_INVALID is thrown synchronously with the op index and JSON path', () => {
    try {
      spawn({ argv: ['/bin/true'], ops: [{ kind: 'tmpfs', target: 'relative' }] });
      throw new Error('no error');
    } catch (error) {
      expect(error).toBeInstanceOf(SandboxError);
      expect(error).toMatchObject({ code: 'E_PLAN_INVALID', opIndex: 0, path: 'plan.ops[0].target' });
    }
  });

  test('E_SOURCE_MISSING names the op', () => {
    expect(() => spawn({ argv: ['/bin/true'], ops: [{ kind: 'bind', source: join(base, 'nope'), target: '/x' }] })).toThrow(
      expect.objectContaining({ code: 'E_SOURCE_MISSING', opIndex: 0 }),
    );
  });

  test('E_EXEC when the program is missing, with the launcher status 127', async () => {
    await expect(run({ argv: ['/no/such/program'], ops })).rejects.toMatchObject({ code: 'E_EXEC', exitStatus: 127 });
  });

  test('E_INIT_MISSING when SANDBOXCTL_INIT names nothing', () => {
    const saved = process.env.SANDBOXCTL_INIT;
    process.env.SANDBOXCTL_INIT = join(base, 'missing-init');
    try {
      expect(() => spawn({ argv: ['/bin/true'], ops })).toThrow(expect.objectContaining({ code: 'E_INIT_MISSING', hint: expect.any(String) }));
    } finally {
      if (saved === undefined) delete process.env.SANDBOXCTL_INIT;
      else process.env.SANDBOXCTL_INIT = saved;
    }
  });
});
