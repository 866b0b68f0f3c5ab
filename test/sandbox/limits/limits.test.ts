/**
 * Resource limits from inside real sandboxes (issue 14): a memory hog, a
 * fork loop, a CPU spinner, a sleeper past its timeout, every rlimit read
 * back. cgroup limits need a cgroup of our own: as root one is made (this
 * machine: cgroup v1 hybrid); unprivileged only inside a delegated cgroup
 * v2 subtree, which this machine has not (no systemd): there the suite
 * asserts the clear E_LIMIT_UNAVAILABLE refusal instead, and that nothing
 * started.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '@sandboxctl/core';
import { BASE, CLI, cli, requireKernel, TRY, UID } from '../helpers';

const ROOT = UID === 0;

/** Every `sandboxctl.*` directory under the cgroup mounts (what a run must not leave). */
function leftovers(): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number): void => {
    let names: string[];
    try {
      names = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      return;
    }
    for (const n of names) {
      if (n.startsWith('sandboxctl.')) out.push(join(dir, n));
      if (depth < 4) walk(join(dir, n), depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return out;
}

/** 300M on stdout. */
const HOG = 'head -c 300000000 /dev/zero | tr "\\0" a';
const sh = (script: string, extra: string[]) => cli(['run', ...BASE, ...extra, '--', '/bin/sh', '-c', script]);

beforeAll(() => requireKernel());
afterEach(() => expect(leftovers()).toEqual([]));

describe('cgroup limits', () => {
  if (ROOT) {
    test('a memory hog is killed and the result says memory', async () => {
      // The shell keeps 300M of output in a variable.
      const r = await sh(`x=$(${HOG}); echo survived \${#x}`, ['--memory', '64M']);
      expect(r.stderr).toContain('limit: memory');
      expect(r.stdout).not.toContain('survived 0');
    });

    test('the library result carries limit: memory', async () => {
      const r = await run({ argv: ['/bin/sh', '-c', `x=$(${HOG}); echo \${#x}`], ops: BASE_OPS(), limits: { memory: '64M' }, stdio: 'pipe' });
      expect(r.limit).toBe('memory');
      expect(r.code).not.toBe(0);
    });

    test('a fork loop is capped by pids and the result says pids', async () => {
      const r = await sh('n=0; while [ $n -lt 200 ]; do sleep 1 & n=$((n+1)); done 2>/dev/null; wait; echo done', ['--pids', '20']);
      expect(r.stderr).toContain('limit: pids');
      // Inside, pids.max of the sandbox's own cgroup reads back (cgroup namespace root).
      const back = await sh('cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || true', ['--pids', '20', '--ro-bind', '/sys', '/sys']);
      expect(back.code).toBe(0);
    });

    test('a CPU spinner gets about the CPUs it is given', async () => {
      // 2 spinners for 2 s of wall time with 0.5 CPU: about 1 s of CPU, never 4.
      const script = '(while :; do :; done) & a=$!; (while :; do :; done) & b=$!; sleep 2; kill $a $b; wait; times';
      const r = await sh(script, ['--cpus', '0.5']);
      expect(r.code).toBe(0);
      // `times` prints the children's user and system time on its second line: "0m0.95s 0m0.01s".
      const line = r.stdout.trim().split('\n').pop()!;
      const secs = line.split(/\s+/).map((t) => {
        const m = /^(\d+)m([\d.]+)s$/.exec(t);
        return m ? Number(m[1]) * 60 + Number(m[2]) : 0;
      });
      const cpu = secs[0]! + secs[1]!;
      expect(cpu).toBeGreaterThan(0.3);
      expect(cpu).toBeLessThan(1.6);
    });
  } else {
    test.each([
      ['--memory', '64M'],
      ['--pids', '20'],
      ['--cpus', '0.5'],
    ])('unprivileged without a delegated subtree, %s is refused with the way to get one', async (flag, value) => {
      const marker = `/tmp/limits-marker-${process.pid}`;
      const r = await cli(['run', ...BASE, flag, value, '--', '/bin/sh', '-c', `touch ${marker}`]);
      expect(r.code).toBe(125);
      expect(r.stderr).toContain('E_LIMIT_UNAVAILABLE');
      expect(r.stderr).toContain('systemd-run --user --scope -p Delegate=yes');
      expect(() => execFileSync('test', ['-e', marker])).toThrow();
    });

    test('the library rejects with E_LIMIT_UNAVAILABLE', async () => {
      await expect(run({ argv: ['/bin/true'], ops: BASE_OPS(), limits: { pids: 20 } })).rejects.toMatchObject({ code: 'E_LIMIT_UNAVAILABLE' });
    });
  }
});

/** BASE as plan ops. */
function BASE_OPS(): never[] {
  return [
    { kind: 'bind', source: '/', target: '/' },
    { kind: 'proc', target: '/proc' },
    { kind: 'dev', target: '/dev' },
    { kind: 'tmpfs', target: '/tmp' },
    { kind: 'bind', source: TRY, target: '/tmp/sbx-try' },
  ] as never[];
}

describe('timeout and rlimits (no cgroup needed)', () => {
  test('a sleeper past its timeout is killed and the result says timeout', async () => {
    const t0 = Date.now();
    const r = await sh('sleep 30; echo woke', ['--timeout', '1s']);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(r.stdout).not.toContain('woke');
    expect(r.stderr).toContain('limit: timeout');
    const lib = await run({ argv: ['/bin/sleep', '30'], ops: BASE_OPS(), limits: { timeout: 500 } });
    expect(lib.limit).toBe('timeout');
    expect(lib.denials).toEqual([]);
  });

  test('with a report, the limit is a line of it too: --report - and the library\'s denials', async () => {
    const r = await sh('sleep 30', ['--timeout', '1s', '--report', '-']);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('{'));
    expect(lines.map((l) => JSON.parse(l))).toEqual([{ kind: 'limit', limit: 'timeout' }]);
    const lib = await run({ argv: ['/bin/sleep', '30'], ops: BASE_OPS(), limits: { timeout: 500 }, report: true });
    expect([lib.limit, lib.denials]).toEqual(['timeout', [{ kind: 'limit', limit: 'timeout' }]]);
  });

  test('--timeout: SIGTERM first, and a program trapping it gets to clean up (its own status, limit: timeout)', async () => {
    const t0 = Date.now();
    // sh runs a trap only between commands: the sleeper is waited for in the background, and ended by the trap.
    const r = await sh(`trap 'kill $!; echo cleaning; sleep 0.3; echo cleaned; exit 7' TERM; echo started; sleep 30 & wait`, ['--timeout', '1s']);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.stdout).toBe('started\ncleaning\ncleaned\n');
    expect(r.code).toBe(7);
    expect(r.stderr).toContain('limit: timeout');
  });

  test('--timeout: a program that ends on SIGTERM ends the sandbox at once, its background processes with it (no linger, no grace)', async () => {
    // The trap exits 7 and leaves its sleeper running; sh without a trap dies of the SIGTERM itself.
    let t0 = Date.now();
    const trapped = await sh(`trap 'echo cleaned; exit 7' TERM; echo started; sleep 30 & wait`, ['--timeout', '500ms', '--timeout-grace', '20s']);
    expect(Date.now() - t0).toBeLessThan(4_000);
    expect([trapped.stdout, trapped.code]).toEqual(['started\ncleaned\n', 7]);
    expect(trapped.stderr).toContain('limit: timeout');
    t0 = Date.now();
    const plain = await sh('sleep 30; echo never', ['--timeout', '500ms', '--timeout-grace', '20s']);
    expect(Date.now() - t0).toBeLessThan(4_000);
    expect([plain.stdout, plain.code]).toEqual(['', 128 + 15]);
  });

  test('--timeout-grace: a program that goes on after SIGTERM is killed when the grace ends; 0 kills at once', async () => {
    const stubborn = `trap 'echo got TERM' TERM; echo started; while :; do sleep 0.05; done`;
    let t0 = Date.now();
    const r = await sh(stubborn, ['--timeout', '500ms', '--timeout-grace', '700ms']);
    const took = Date.now() - t0;
    expect(r.stdout).toBe('started\ngot TERM\n');
    expect(r.code).toBe(137);
    expect(took).toBeGreaterThanOrEqual(1150);
    expect(took).toBeLessThan(10_000);
    t0 = Date.now();
    const now = await sh(stubborn, ['--timeout', '500ms', '--timeout-grace', '0']);
    expect(now.stdout).toBe('started\n');
    expect(now.code).toBe(137);
    const lib = await run({ argv: ['/bin/sh', '-c', stubborn], ops: BASE_OPS(), limits: { timeout: 300, timeoutGrace: 200 }, stdio: 'pipe' });
    expect([lib.limit, lib.code]).toEqual(['timeout', 137]);
  });

  test('a bad --timeout-grace is refused naming the flag', async () => {
    const r = await sh('true', ['--timeout', '1s', '--timeout-grace', 'soon']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('E_PLAN_INVALID: --timeout-grace "soon": not a duration');
  });

  test('an rlimit the launcher refuses names the --rlimit flag as typed, not the plan field', () => {
    // A lower hard limit for the launcher: raising it back is refused, as root too.
    const r = spawnSync('/bin/sh', ['-c', 'ulimit -n 1000; exec "$@"', 'sh', process.execPath, CLI, 'run', ...BASE, '--rlimit', 'nofile=2000', '--', '/bin/sh', '-c', 'ulimit -Hn'], { encoding: 'utf8' });
    expect(r.status).toBe(125);
    expect(r.stderr.trim()).toBe('sandboxctl: E_PLAN_INVALID: --rlimit "nofile=2000": hard limit 2000 is above the caller\'s hard limit 1000: a hard limit can only be lowered');
  });

  test('a program that ends in time has no limit in its result', async () => {
    const lib = await run({ argv: ['/bin/true'], ops: BASE_OPS(), limits: { timeout: '1m' } });
    expect(lib.code).toBe(0);
    expect(lib.limit).toBeUndefined();
  });

  // prlimit(1) reads them back from inside; each resource lowered below the caller's hard limit.
  const RES = ['as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'];
  test('every rlimit is set before the program and reads back from inside', async () => {
    // Each one lowered from the caller's: hard one below it (or 2e9 when unlimited), soft one below that.
    const host = new Map(
      execFileSync('prlimit', ['--raw', '--noheadings', '-o', 'RESOURCE,HARD'], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/) as [string, string]),
    );
    const want = new Map<string, string>();
    for (const n of RES) {
      const h = host.get(n.toUpperCase())!;
      const hard = h === 'unlimited' ? 2_000_000_000 : Math.max(Number(h) - 1, 0);
      want.set(n, `${Math.max(hard - 1, 0)}:${hard}`);
    }
    const flags = RES.flatMap((n) => ['--rlimit', `${n}=${want.get(n)}`]);
    const r = await cli(['run', ...BASE, ...flags, '--', 'prlimit', '--raw', '--noheadings', '-o', 'RESOURCE,SOFT,HARD']);
    expect(r.stderr).toBe('');
    const seen = new Map(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => {
          const [n, soft, hard] = l.trim().split(/\s+/);
          return [n!.toLowerCase(), `${soft}:${hard}`];
        }),
    );
    for (const n of RES) expect([n, seen.get(n)]).toEqual([n, want.get(n)]);
  });

  test.each([
    ['--memory', 'lots', /--memory "lots"/],
    ['--pids', '1', /--pids/],
    ['--cpus', '0', /--cpus "0"/],
    ['--timeout', '10x', /--timeout "10x"/],
    ['--rlimit', 'bogus=1', /--rlimit "bogus"/],
    ['--rlimit', 'nofile=10:5', /soft limit is above the hard limit/],
    ['--rlimit', 'nofile=1:unlimited', /hard limit unlimited is above/],
  ])('%s %s is refused before anything starts', async (flag, value, msg) => {
    const r = await cli(['run', ...BASE, flag, value, '--', '/bin/true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('E_PLAN_INVALID');
    expect(r.stderr).toMatch(msg);
  });

  test('a host tool runs normally afterwards (nothing planted)', () => {
    expect(execFileSync('git', ['--version'], { encoding: 'utf8' })).toMatch(/^git version/);
    expect(execFileSync('prlimit', ['--nofile', '--raw', '--noheadings', '-o', 'SOFT'], { encoding: 'utf8' }).trim()).not.toBe('64');
  });
});

