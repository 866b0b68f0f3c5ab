/**
 * Attacks on a live sandbox (design §6.3): what a program started with
 * `exec` holds compared with the main program, what it can reach of the
 * machinery that started it (pid 1, the control socket, the registry), and
 * what a stale or forged registry entry can make us do. Then the escape
 * suite's probes once more, through `exec`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { plan, start } from '@sandboxctl/core';
import { CLI, INIT_IN, TRY, TRY_IN, UID, requireKernel, until } from '../helpers';
import { probes } from '../escape/probes';
import { alive, detached, execSh, lcli, privateRuntimeDir, ps, stopAll } from './live-helpers';

let runtime: string;
beforeAll(() => {
  requireKernel();
  runtime = privateRuntimeDir();
});
afterEach(stopAll);

const STATUS_LINES = "grep -E '^(Seccomp|Seccomp_filters|NoNewPrivs|CapInh|CapPrm|CapEff|CapBnd|CapAmb):' /proc/self/status";

describe('an exec\'d program has exactly the sandbox\'s restrictions', () => {
  test('Seccomp, NoNewPrivs and every Cap* line equal the main program\'s', async () => {
    await detached('same', ['/bin/sh', '-c', `${STATUS_LINES} > /tmp/main.txt; sleep 1000`]);
    const r = await execSh('same', `while [ ! -s /tmp/main.txt ]; do sleep 0.05; done; ${STATUS_LINES} > /tmp/exec.txt; cat /tmp/exec.txt; echo ---; cat /tmp/main.txt`);
    const [mine, main] = r.stdout.split('---\n');
    expect(mine).toBe(main);
    expect(mine).toMatch(/Seccomp:\s+2/);
    expect(mine).toMatch(/NoNewPrivs:\s+1/);
    expect(mine).toMatch(/CapEff:\s+0000000000000000/);
    expect(mine).toMatch(/CapBnd:\s+0000000000000000/);
  });

  test('the same Landlock domain: the host\'s abstract unix sockets stay out of reach, as for the main program', async () => {
    await detached('ll', ['sleep', '1000'], ['--share-net']);
    const name = `sbx-live-abstract-${process.pid}`;
    const server = spawn(process.execPath, ['-e', `require('net').createServer().listen({path: '\\0${name}'}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => server.stdout.once('data', r));
    try {
      const r = await execSh('ll', `${TRY_IN} connect-abstract ${name}`);
      expect(r.stdout.trim()).toBe('EPERM');
    } finally {
      server.kill();
    }
  });

  test('pid 1 cannot be traced, its memory and fds not read; no control fd leaks into the program', async () => {
    await detached('pid1');
    const r = await execSh('pid1', `${TRY_IN} syscall ptrace-pid1; ${TRY_IN} vm-read 1; ${TRY_IN} read /proc/1/mem; ls /proc/1/fd 2>&1 >/dev/null | head -c 0; ${TRY_IN} open /proc/1/fd/3 r; ${TRY_IN} fds`);
    const [ptrace, vm, mem, fd3, fds] = r.stdout.trim().split('\n');
    expect([ptrace, vm, mem]).toEqual(['EPERM', 'EPERM', 'EACCES']);
    expect(['EACCES', 'ENOENT']).toContain(fd3);
    // only stdin, stdout, stderr: nothing of the control socket or the channel
    expect(fds).toBe('0 1 2');
  });
});

describe('the control socket and the registry', () => {
  test('a process inside a sandbox, with the registry bound in, is refused: E_CONTROL_DENIED', async () => {
    await detached('target');
    await detached('attacker', ['sleep', '1000'], ['--bind', runtime, runtime, '--setenv', 'XDG_RUNTIME_DIR', runtime]);
    const r = await execSh('attacker', `ls ${runtime}/sandboxctl/sandboxes; ${INIT_IN} client exec target -- /bin/sh -c 'echo escaped > /tmp/pwned'; echo "status $?"; ${INIT_IN} client stop target; echo "stop $?"`);
    expect(r.stdout).toContain('target');
    expect(r.stdout).toContain('status 125');
    expect(r.stdout).toContain('stop 125');
    expect(r.stderr).toContain('E_CONTROL_DENIED');
    expect(r.stderr).not.toContain('E_REGISTRY_UNSAFE');
    // target untouched
    expect((await execSh('target', 'test ! -e /tmp/pwned')).code).toBe(0);
    expect(ps().map((s) => s.name).sort()).toEqual(['attacker', 'target']);
  });

  test('the registry is not visible inside a sandbox of the agent preset, nor under BASE\'s /tmp', async () => {
    await detached('vis');
    const r = await execSh('vis', `test -e ${runtime}/sandboxctl && echo visible || echo absent`);
    expect(r.stdout.trim()).toBe('absent');
    const agent = await lcli(['run', '--preset', 'agent', '--', '/bin/sh', '-c', `for d in ${runtime}/sandboxctl /run/sandboxctl /run/user/${UID}/sandboxctl; do test -e $d && echo "visible $d"; done; echo done`]);
    expect(agent.stdout.trim()).toBe('done');
  });

  test('the socket, the entry and the registry are owner-only', async () => {
    await detached('modes');
    const root = `${runtime}/sandboxctl`;
    const mode = (p: string): number => spawnSync('stat', ['-c', '%a', p], { encoding: 'utf8' }).stdout.trim() as unknown as number;
    expect([mode(root), mode(`${root}/sandboxes`), mode(`${root}/sandboxes/modes`)].map(String)).toEqual(['700', '700', '700']);
    expect(String(mode(`${root}/sandboxes/modes/control.sock`))).toBe('600');
  });

  test('an unsafe registry root is refused with E_REGISTRY_UNSAFE before anything is made: a symlink, a 0755 directory, another user\'s', () => {
    const base = realpathSync(mkdtempSync(join(tmpdir(), 'sbx-reg-')));
    const cases: [string, () => void][] = [
      ['symlink', () => {
        mkdirSync(join(base, 'symlink-real'), { mode: 0o700 });
        mkdirSync(join(base, 'symlink'), { mode: 0o700 });
        symlinkSync(join(base, 'symlink-real'), join(base, 'symlink', 'sandboxctl'));
      }],
      ['open', () => {
        mkdirSync(join(base, 'open'), { mode: 0o700 });
        mkdirSync(join(base, 'open', 'sandboxctl'), { mode: 0o755 });
        chmodSync(join(base, 'open', 'sandboxctl'), 0o755);
      }],
    ];
    if (UID === 0) {
      cases.push(['theirs', () => {
        mkdirSync(join(base, 'theirs'), { mode: 0o700 });
        mkdirSync(join(base, 'theirs', 'sandboxctl'), { mode: 0o700 });
        chownSync(join(base, 'theirs', 'sandboxctl'), 65534, 65534);
      }]);
    } else {
      // Another user's directory planted where ours should be: root's /root is what we can name.
      cases.push(['theirs', () => {
        mkdirSync(join(base, 'theirs'), { mode: 0o700 });
        symlinkSync('/root', join(base, 'theirs', 'sandboxctl'));
      }]);
    }
    for (const [name, make] of cases) {
      make();
      const env = { ...process.env, XDG_RUNTIME_DIR: join(base, name) };
      const r = spawnSync(process.execPath, [CLI, 'run', '--name', 'x', '--detach', '--ro-bind', '/', '/', '--', 'true'], { encoding: 'utf8', env });
      expect([name, r.status]).toEqual([name, 125]);
      expect(r.stderr).toContain('E_REGISTRY_UNSAFE');
      const p = spawnSync(process.execPath, [CLI, 'ps'], { encoding: 'utf8', env });
      expect(p.stderr).toContain('E_REGISTRY_UNSAFE');
      expect(existsSync(join(base, name, 'sandboxctl', 'sandboxes'))).toBe(false);
    }
  });

  test('a stale entry whose state.json names the test runner as pid 1 is removed, never signalled; a held one is reached only through its socket', async () => {
    const dir = `${runtime}/sandboxctl/sandboxes`;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const forged = { version: 1, name: 'evil', supervisorPid: process.pid, pid1: process.pid, createdMs: 0, argv: ['x'], detached: true, labels: {} };
    mkdirSync(`${dir}/evil`, { mode: 0o700 });
    writeFileSync(`${dir}/evil/lock`, '', { mode: 0o600 });
    writeFileSync(`${dir}/evil/state.json`, JSON.stringify(forged), { mode: 0o600 });
    const stop = await lcli(['stop', '--timeout', '0', 'evil']);
    expect(stop.code).toBe(125);
    expect(stop.stderr).toContain('E_SANDBOX_NOT_FOUND');
    expect(existsSync(`${dir}/evil`)).toBe(false);
    // the same, its lock held by someone (flock(1)), no socket: stop cannot reach it and signals nothing
    mkdirSync(`${dir}/held`, { mode: 0o700 });
    writeFileSync(`${dir}/held/lock`, '', { mode: 0o600 });
    writeFileSync(`${dir}/held/state.json`, JSON.stringify({ ...forged, name: 'held' }), { mode: 0o600 });
    // --no-fork: the holder is the one process holding the lock, so killing it frees it.
    const holder = spawn('flock', ['--no-fork', `${dir}/held/lock`, 'sleep', '30'], { stdio: 'ignore' });
    try {
      expect(await until(() => ps().some((s) => s.name === 'held'), 5000)).toBe(true);
      const s2 = await lcli(['stop', '--timeout', '0', 'held']);
      expect(s2.code).toBe(125);
      expect(s2.stderr).toContain('E_SANDBOX_CLOSED');
      const e2 = await execSh('held', 'true');
      expect(e2.stderr).toContain('E_SANDBOX_CLOSED');
    } finally {
      holder.kill('SIGKILL');
    }
    // the runner is alive (we are), and once the lock is free the entry goes
    expect(await until(() => ps().every((s) => s.name !== 'held'), 5000)).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('kill -9 of any of our processes leaves nothing after the next ps', () => {
  const gone = async (name: string, pids: number[]): Promise<void> => {
    expect(await until(() => ps().every((s) => s.name !== name) && pids.every((p) => !alive(p)), 8000)).toBe(true);
    expect(existsSync(`${runtime}/sandboxctl/sandboxes/${name}`)).toBe(false);
  };

  // Never the first entry of ps: a forged one could name any pid (see above).
  const entry = (name: string) => ps().find((s) => s.name === name);

  test('the supervisor', async () => {
    await detached('k-sup');
    const s = entry('k-sup');
    process.kill(s!.supervisorPid, 'SIGKILL');
    await gone('k-sup', [s!.supervisorPid, s!.pid1]);
  });

  test('pid 1', async () => {
    await detached('k-pid1');
    const s = entry('k-pid1');
    process.kill(s!.pid1, 'SIGKILL');
    await gone('k-pid1', [s!.supervisorPid, s!.pid1]);
  });

  test('a client: the program it started goes with it, the sandbox stays', async () => {
    await detached('k-client');
    const client = spawn(process.execPath, [CLI, 'exec', 'k-client', '--', '/bin/sh', '-c', 'echo $$ > /tmp/victim; exec sleep 1000'], { stdio: 'ignore', env: { ...process.env } });
    expect((await execSh('k-client', 'for i in $(seq 100); do [ -s /tmp/victim ] && break; sleep 0.05; done; cat /tmp/victim')).code).toBe(0);
    // The CLI holds the control connection itself (no native client process
    // since the addon's exec path): it has no child, and its death ends the connection.
    expect(spawnSync('pgrep', ['-P', String(client.pid)], { encoding: 'utf8' }).stdout.trim()).toBe('');
    process.kill(client.pid!, 'SIGKILL');
    const r = await execSh('k-client', 'for i in $(seq 100); do kill -0 $(cat /tmp/victim) 2>/dev/null || { echo gone; exit 0; }; sleep 0.05; done; echo alive');
    expect(r.stdout.trim()).toBe('gone');
    expect(ps().map((s) => s.name)).toEqual(['k-client']);
  });
});

describe('many at once', () => {
  test('100 parallel execs into one sandbox: exact statuses, and no fd left behind in the supervisor or pid 1', async () => {
    const ops = plan(['/bin/true']).roBind('/', '/').proc('/proc').dev('/dev').tmpfs('/tmp').roBind(TRY, TRY_IN).build().ops;
    const sb = await start({ ops, name: 'many' });
    const s = ps().find((x) => x.name === 'many');
    // pid 1 is not dumpable: only root reads its fd table from outside (inside, nobody: see above).
    const watched = UID === 0 ? [s!.supervisorPid, s!.pid1] : [s!.supervisorPid];
    const fds = (): string => JSON.stringify(watched.map((pid) => readdirSync(`/proc/${pid}/fd`).sort()));
    const before = fds();
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => sb.exec(['/bin/sh', '-c', `echo ${i}; exit ${i % 64}`], { stdio: 'pipe' })));
    expect(results.map((r) => r.code)).toEqual(Array.from({ length: 100 }, (_, i) => i % 64));
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 100 }, (_, i) => `${i}\n`));
    expect(await until(() => fds() === before, 3000)).toBe(true);
    // and a program started after them still holds only its stdio
    expect((await sb.exec([TRY_IN, 'fds'], { stdio: 'pipe' })).stdout).toBe('0 1 2\n');
    await sb.stop();
  });
});

describe('pid 1\'s memory while it starts a program', () => {
  test('a program racing every start (no seccomp filter, so ptrace and /proc/PID/mem are open to it) never reaches pid 1\'s memory through the child that shares it until the exec', async () => {
    // pid 1 starts each program from a child that shares its memory until
    // the exec (sys/exec.rs). That memory is not dumpable, so no access
    // check a program can pass lets it in before the exec; after it, the
    // program's own memory is the program's, open to its siblings as usual
    // here (the control: without it, the race would prove nothing).
    const sb = await start({ ops: plan(['/bin/true']).roBind('/', '/').proc('/proc').dev('/dev').tmpfs('/tmp').seccomp('none'), name: 'race' });
    const attacker = `
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
me, seen, opened, refused = os.getpid(), set(), [], 0
def readable(path):
    try:
        open(path, 'rb').close()
        return True
    except OSError:
        return False
# PTRACE_ATTACH (16) and the memory file of pid 1 itself
pid1 = [libc.ptrace(16, 1, None, None) == 0, readable('/proc/1/mem')]
open('/tmp/ready', 'w').close()
end = time.time() + 4
while time.time() < end and not os.path.exists('/tmp/stop'):
    for d in os.listdir('/proc'):
        if not d.isdigit() or int(d) in (1, me) or int(d) in seen:
            continue
        try:
            f = open(f'/proc/{d}/mem', 'rb')
        except OSError:
            refused += 1
            continue
        seen.add(int(d))
        try:
            exe = os.readlink(f'/proc/{d}/exe')
        except OSError as e:
            exe = f'? {e.errno}'
        f.close()
        opened.append(exe)
print('pid1', pid1)
print('refused', refused)
print('opened', sorted(set(opened)))
`;
    const race = sb.exec(['python3', '-c', attacker], { stdio: 'pipe' });
    expect((await sb.exec(['/bin/sh', '-c', 'while [ ! -e /tmp/ready ]; do sleep 0.01; done'])).code).toBe(0);
    for (let i = 0; i < 100; i++) {
      const codes = await Promise.all([sb.exec(['/bin/sleep', '0.01']), sb.exec(['/bin/true'])]);
      expect([i, codes.map((r) => r.code)]).toEqual([i, [0, 0]]);
    }
    await sb.exec(['/bin/sh', '-c', 'touch /tmp/stop']);
    const r = await race;
    expect([r.code, r.stderr]).toEqual([0, '']);
    const lines = r.stdout!.trim().split('\n');
    // pid 1 itself: neither attachable nor readable
    expect(lines[0]).toBe('pid1 [False, False]');
    const opened = lines[2];
    // the control: started programs were reached, after their exec
    expect(opened).toMatch(/\/(usr\/)?bin\/(sleep|true)|\/bin\/sh/);
    // and never the launcher's image, which is what a child sharing pid 1's memory runs until the exec
    expect(opened).not.toMatch(/sandboxctl-init/);
    await sb.stop();
  });
});

describe('the escape suite once more, through exec', () => {
  const answers = new Map<string, string>();
  beforeAll(async () => {
    await detached('escape');
    const script = probes.map(([, args], i) => `echo "${i} $(${TRY_IN} ${args} 2>&1)"`).join('\n');
    const r = await execSh('escape', script);
    expect(r.stderr).toBe('');
    for (const line of r.stdout.trim().split('\n')) {
      const [i, ...rest] = line.split(' ');
      answers.set(probes[Number(i)]![0], rest.join(' '));
    }
    await stopAll();
  });

  test.each(probes)('%s', (name, _args, expected) => {
    expect(expected).toContain(answers.get(name) ?? 'no answer');
  });
});

// The registry's own files, read back for the record.
test('state.json holds what ps shows', async () => {
  await detached('rec');
  const state = JSON.parse(readFileSync(`${runtime}/sandboxctl/sandboxes/rec/state.json`, 'utf8')) as { name: string; pid1: number };
  expect(state.name).toBe('rec');
  expect(ps()[0]!.pid1).toBe(state.pid1);
});
