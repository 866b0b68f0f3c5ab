/**
 * Ranks that share one sandbox (`run --join`, issue 11), started by hand
 * (four background CLI runs) so the protocol is tested without Slurm; the
 * same through srun is slurm.test.ts. Every check is made from inside: the
 * namespaces each rank reads in /proc/self/ns, the other ranks' pids each
 * one finds in its /proc, its parent (the sandbox's pid 1), its status line.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, cli, INIT, requireKernel, sleep, tempDir, UID, until, type Ran } from '../helpers';
import { busyboxRoot, mksquashfs, requireImageTools } from '../image/fixtures';

const USER = UID === 0 ? 'root' : spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim();
let base = '';
let image = '';
let sqfs = '';
let registry = '';
beforeAll(() => {
  requireKernel();
  requireImageTools();
  base = tempDir('sbx-join-');
  image = join(base, 'rootfs');
  busyboxRoot(image);
  sqfs = join(base, 'app.sqfs');
  mksquashfs(image, sqfs);
  registry = spawnSync(INIT, ['client', 'root'], {
    encoding: 'utf8',
  }).stdout.trim();
});
afterAll(() => base && rmSync(base, { recursive: true, force: true }));

const ENV = (extra: Record<string, string> = {}) => ({
  PATH: '/usr/bin:/bin',
  USER,
  HOME: base,
  ...extra,
});
let tags = 0;
const newTag = () => `t${process.pid}-${++tags}`;

/**
 * What a rank prints: its pid (written into the sandbox's private /tmp,
 * where the peers find it), its parent, its namespaces, the peers' pids it
 * sees in /proc once `expect` pid files are there (at most 5 s), its status line.
 */
const RANK = (expect: number) =>
  [
    // written whole, then renamed: a peer never reads a half-written file
    'echo $$ > /tmp/.rank.$$ && mv /tmp/.rank.$$ /tmp/rank.$$',
    'i=0; while [ "$(ls /tmp | grep -c "^rank\\.")" -lt ' + expect + ' ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done',
    'echo "pid=$$ ppid=$PPID rank=$RANK"',
    'echo "ns=$(readlink /proc/self/ns/mnt) $(readlink /proc/self/ns/user) $(readlink /proc/self/ns/pid)"',
    'seen=""; for f in /tmp/rank.*; do p=$(cat $f); [ "$p" != "$$" ] && [ -d /proc/$p ] && seen="$seen $p"; done; echo "seen=$seen"',
    'echo "status=$(grep -E "^(Seccomp|NoNewPrivs|CapEff):" /proc/self/status | tr -s "\\t " " " | tr "\\n" ";")"',
    // The peers wait for each other before leaving, so every pid is alive while they look.
    'sleep 1',
    'exit $RANK',
  ].join('; ');

interface RankOut {
  pid: string;
  ppid: string;
  rank: string;
  ns: string;
  seen: string[];
  status: string;
}
function parseRank(r: Ran): RankOut {
  const get = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(r.stdout)?.[1] ?? '';
  const [pid, ppid, rank] = /^pid=(\S+) ppid=(\S+) rank=(\S*)$/m.exec(r.stdout)?.slice(1) ?? ['', '', ''];
  return {
    pid: pid!,
    ppid: ppid!,
    rank: rank!,
    ns: get('ns'),
    seen: get('seen').trim().split(/\s+/).filter(Boolean),
    status: get('status'),
  };
}

const peer = (flags: string[], script: string, env: Record<string, string> = {}, img = sqfs) =>
  cli(['run', '--no-config', '--image', img, '--private-tmp', ...flags, '--', '/bin/sh', '-c', script], { env: ENV(env), cwd: base });

const joinEntries = () => (existsSync(join(registry, 'sandboxes')) ? readdirSync(join(registry, 'sandboxes')).filter((n) => n.includes('join.')) : []);
const shmList = () => readdirSync('/dev/shm').sort();

describe('four peers started by hand share one sandbox', () => {
  test('--join-ct 4: one mount, user and pid namespace; each sees the others; each exits with its own status; nothing left', async () => {
    const tag = newTag();
    const shmBefore = shmList();
    const runs = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        peer(['--join-ct', '4', '--join-tag', tag], RANK(4), {
          RANK: String(i),
        }),
      ),
    );
    const out = runs.map(parseRank);
    for (const [i, r] of runs.entries()) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(i);
      // each keeps its own environment
      expect(out[i]!.rank).toBe(String(i));
      // every rank is a child of the sandbox's pid 1, as the winner's is
      expect(out[i]!.ppid).toBe('1');
      // and sees the three others, alive, in its own /proc
      expect(out[i]!.seen.sort()).toEqual(
        out
          .filter((_, j) => j !== i)
          .map((o) => o.pid)
          .sort(),
      );
    }
    expect(new Set(out.map((o) => o.ns)).size).toBe(1);
    expect(out[0]!.ns).toMatch(/^mnt:\[\d+\] user:\[\d+\] pid:\[\d+\]$/);
    // the same restrictions: seccomp, no_new_privs, no capabilities
    expect(new Set(out.map((o) => o.status)).size).toBe(1);
    expect(out[0]!.status).toMatch(/NoNewPrivs: 1;/);
    // the group's sandbox is gone with its last peer; no /dev/shm objects, ever
    expect(await until(() => !joinEntries().includes(`join.${tag}`), 5000)).toBe(true);
    expect(shmList()).toEqual(shmBefore);
  });

  test('the same restrictions as a plain run of the image', async () => {
    const tag = newTag();
    const [a, b] = await Promise.all(
      [0, 1].map((i) =>
        peer(['--join-ct', '2', '--join-tag', tag], RANK(2), {
          RANK: String(i),
        }),
      ),
    );
    const plain = await peer([], RANK(1), { RANK: '0' });
    expect(parseRank(a!).status).toBe(parseRank(plain).status);
    expect(parseRank(b!).status).toBe(parseRank(plain).status);
  });

  test('four runs without --join do not share anything', async () => {
    const runs = await Promise.all([0, 1, 2, 3].map((i) => peer([], RANK(4), { RANK: String(i) })));
    const out = runs.map(parseRank);
    expect(runs.map((r) => r.code)).toEqual([0, 1, 2, 3]);
    expect(new Set(out.map((o) => o.ns.split(' ')[0])).size).toBe(4);
    expect(new Set(out.map((o) => o.ns.split(' ')[2])).size).toBe(4);
    for (const o of out) expect(o.seen).toEqual([]);
  });

  test('a directory image, and Slurm-like defaults: the count and tag from the environment', async () => {
    const env = {
      SLURM_STEP_TASKS_PER_NODE: '2(x3)',
      SLURM_JOB_ID: `9${process.pid}`,
      SLURM_STEP_ID: String(tags++),
    };
    const runs = await Promise.all([0, 1].map((i) => peer(['--join'], RANK(2), { ...env, RANK: String(i) }, image)));
    const out = runs.map(parseRank);
    expect(runs.map((r) => [r.code, r.stderr])).toEqual([
      [0, ''],
      [1, ''],
    ]);
    expect(out[0]!.ns).toBe(out[1]!.ns);
    expect(out[0]!.seen).toEqual([out[1]!.pid]);
  });

  test('the group waits for no one: a peer that ends first leaves the others running', async () => {
    const tag = newTag();
    const fast = peer(['--join-ct', '2', '--join-tag', tag], 'echo fast');
    const slow = peer(['--join-ct', '2', '--join-tag', tag], 'sleep 2; echo slow; readlink /proc/self/ns/pid');
    const [f, s] = await Promise.all([fast, slow]);
    expect([f.code, f.stdout, f.stderr]).toEqual([0, 'fast\n', '']);
    expect([s.code, s.stderr]).toEqual([0, '']);
    expect(s.stdout).toMatch(/^slow\npid:\[\d+\]\n$/);
  });
});

describe('timeouts, late peers and crashes', () => {
  test('peers that never come: the running peers are warned (E_JOIN_TIMEOUT) and go on; a late one is refused (E_JOIN)', async () => {
    const tag = newTag();
    const first = peer(['--join-ct', '3', '--join-tag', tag, '--join-timeout', '1'], 'sleep 3; echo done');
    await sleep(2000);
    const late = await peer(['--join-ct', '3', '--join-tag', tag, '--join-timeout', '1'], 'echo should-not-run');
    expect(late.code).toBe(125);
    expect(late.stdout).toBe('');
    expect(late.stderr).toMatch(/E_JOIN: peer group \S+ closed after 1 s with 1 of 3 peers/);
    const r = await first;
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('done\n');
    expect(r.stderr).toMatch(/warning: E_JOIN_TIMEOUT: peer group \S+: only 1 of 3 peers came within 1 s/);
    expect(await until(() => !joinEntries().includes(`join.${tag}`), 5000)).toBe(true);
  });

  test('a winner that never comes up: E_JOIN_TIMEOUT, nothing run', async () => {
    const tag = newTag();
    // An entry held by a process that never finishes building it.
    const dir = join(registry, 'sandboxes', `join.${tag}`);
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, 'lock'), '', { mode: 0o600 });
    const holder = spawn('flock', [join(dir, 'lock'), 'sleep', '10'], {
      stdio: 'ignore',
    });
    try {
      await sleep(300);
      const r = await peer(['--join-ct', '2', '--join-tag', tag, '--join-timeout', '1'], 'echo should-not-run');
      expect(r.code).toBe(125);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/E_JOIN_TIMEOUT: peer group \S+: the winner's sandbox did not come up within 1 s/);
    } finally {
      holder.kill('SIGKILL');
    }
    // The holder gone, the lock is free: the next group of that tag takes the entry over.
    await sleep(200);
    const again = await peer(['--join-ct', '1', '--join-tag', tag], 'echo ok');
    expect([again.code, again.stdout, again.stderr]).toEqual([0, 'ok\n', '']);
  });

  test("kill -9 of a peer's CLI: its program is killed, the others finish, the group ends and is cleaned", async () => {
    const tag = newTag();
    // A sleep of a duration no other process here has.
    const marker = `sleep ${600 + (process.pid % 5000)}`;
    const child = spawn(process.execPath, [CLI, 'run', '--no-config', '--image', sqfs, '--join-ct', '2', '--join-tag', tag, '--', '/bin/sh', '-c', `exec ${marker}`], {
      env: ENV(),
      cwd: base,
      stdio: 'ignore',
    });
    const other = peer(['--join-ct', '2', '--join-tag', tag], 'sleep 2; echo other-done');
    expect(await until(() => spawnSync('pgrep', ['-f', `^${marker}$`]).status === 0, 10_000)).toBe(true);
    child.kill('SIGKILL');
    expect(await until(() => spawnSync('pgrep', ['-f', `^${marker}$`]).status !== 0, 5000)).toBe(true);
    const r = await other;
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'other-done\n', '']);
    expect(await until(() => !joinEntries().includes(`join.${tag}`), 5000)).toBe(true);
  });

  test('kill -9 of the supervisor: every peer ends with E_SANDBOX_CLOSED, and the tag can be used again at once', async () => {
    const tag = newTag();
    const peers = [0, 1].map(() => peer(['--join-ct', '2', '--join-tag', tag], 'sleep 60'));
    let supervisor = 0;
    expect(
      await until(() => {
        const ps = spawnSync(INIT, ['client', 'ps'], { encoding: 'utf8' });
        const found = (
          JSON.parse(ps.stdout || '[]') as Array<{
            name: string;
            supervisorPid: number;
          }>
        ).find((s) => s.name === `join.${tag}`);
        supervisor = found?.supervisorPid ?? 0;
        return supervisor > 0;
      }, 10_000),
    ).toBe(true);
    await sleep(500);
    process.kill(supervisor, 'SIGKILL');
    const runs = await Promise.all(peers);
    for (const r of runs) {
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/E_SANDBOX_CLOSED/);
    }
    const again = await Promise.all([0, 1].map(() => peer(['--join-ct', '2', '--join-tag', tag], 'readlink /proc/self/ns/mnt')));
    expect(again.map((r) => [r.code, r.stderr])).toEqual([
      [0, ''],
      [0, ''],
    ]);
    expect(again[0]!.stdout).toBe(again[1]!.stdout);
    expect(await until(() => !joinEntries().includes(`join.${tag}`), 5000)).toBe(true);
  });
});

describe('--join-pid', () => {
  test('runs in the sandbox that holds the pid, through its pid 1', async () => {
    const name = `jp${process.pid}`;
    const started = await cli(['run', '--no-config', '--image', sqfs, '--private-tmp', '--name', name, '--detach', '--', '/bin/sh', '-c', 'echo hi > /tmp/mark; sleep 30'], {
      env: ENV(),
      cwd: base,
    });
    expect([started.code, started.stderr]).toEqual([0, '']);
    try {
      const ps = JSON.parse(spawnSync(INIT, ['client', 'ps'], { encoding: 'utf8' }).stdout) as Array<{ name: string; pid1: number }>;
      const pid1 = ps.find((s) => s.name === name)!.pid1;
      // pid 1 itself, and a process below it (the sleep)
      const child = spawnSync('pgrep', ['-P', String(pid1)], {
        encoding: 'utf8',
      })
        .stdout.trim()
        .split('\n')[0]!;
      for (const target of [String(pid1), child]) {
        const r = await cli(['run', '--no-config', '--join-pid', target, '--', '/bin/sh', '-c', 'cat /tmp/mark; echo $PPID'], { env: ENV(), cwd: base });
        expect([r.code, r.stdout, r.stderr]).toEqual([0, 'hi\n1\n', '']);
      }
    } finally {
      await cli(['stop', name]);
    }
  });

  test.each([
    ['pid 1 of the host', '1', /E_JOIN: pid 1 is not in a running sandboxctl sandbox of yours/],
    ['a pid that does not exist', '2147483647', /E_JOIN: no process with pid 2147483647/],
    ['this test process', String(process.pid), /E_JOIN: pid \d+ is not in a running sandboxctl sandbox of yours/],
  ])('%s: E_JOIN, exit 125', async (_what, pid, message) => {
    const r = await cli(['run', '--no-config', '--join-pid', pid, '--', 'true'], { env: ENV(), cwd: base });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(message);
  });
});

describe('bad combinations are refused before anything starts', () => {
  test.each([
    [['--join-pid', '5', '--join'], /--join-pid cannot be combined with --join/],
    [['--join-pid', '5', '--join-ct', '2'], /--join-pid cannot be combined/],
    [['--join', '--join-ct', '2', '--name', 'x'], /cannot be combined with --name or --detach/],
    [['--join-ct', '2', '--detach'], /cannot be combined with --name or --detach/],
    [['--join-ct', '2', '--tty'], /cannot be combined with --tty/],
    [['--join-ct', 'abc'], /--join-ct: no digits found/],
    [['--join-ct', '4x'], /--join-ct: extra characters after digits/],
    [['--join-ct', '0'], /at least 1 peer/],
    [['--join-ct', '99999999999'], /out of range/],
    [['--join-ct', '2', '--join-tag', ''], /peer group tag cannot be empty/],
    [['--join-ct', '2', '--join-tag', 'a/b'], /--join-tag: bad tag/],
    [['--join'], /join: no valid peer group size found/],
    [['--join-pid', 'x1'], /--join-pid: bad pid/],
  ])('%j', async (flags, message) => {
    const before = joinEntries();
    const r = await cli(['run', '--no-config', '--image', sqfs, ...flags, '--', 'true'], { env: ENV(), cwd: base });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/E_USAGE/);
    expect(r.stderr).toMatch(message);
    expect(joinEntries().filter((e) => !before.includes(e))).toEqual([]);
  });
});
