/**
 * Escape suite: attacks that broke real sandboxes, re-created from inside
 * ours with `sbx-try` (which reports the errno, or the signal that killed it)
 * or by observing the effect. Each case is named after the CVE or peer bug it
 * re-creates. Only cases whose protection exists today are here; the ones
 * waiting on features are listed in README.md beside this file.
 *
 * At the end the suite prints a table: case, expected, observed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, chmodSync, constants as fsc } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { BASE, CLI, INIT, INIT_IN, TRY, TRY_IN, UID, cli, hostProcessesWith, parseMountinfo, requireKernel, sh, until } from '../helpers';
import { probes } from './probes';

beforeAll(requireKernel);

interface Row {
  name: string;
  expected: string;
  observed: string;
}
const rows: Row[] = [];

/** Record a case in the table and assert it: observed must be one of `expected`. */
function verdict(name: string, expected: string[], observed: string): void {
  rows.push({ name, expected: expected.join(' or '), observed });
  expect(expected).toContain(observed);
}

/** What a probe printed; when it printed nothing, why (exit status and stderr). */
const said = (r: { code: number | null; stdout: string; stderr: string }): string => r.stdout.trim() || `(exit ${r.code}: ${r.stderr.trim()})`;

afterAll(() => {
  if (rows.length === 0) return;
  const w = [Math.max(4, ...rows.map((r) => r.name.length)), Math.max(8, ...rows.map((r) => r.expected.length)), Math.max(8, ...rows.map((r) => r.observed.length))];
  const line = (a: string, b: string, c: string) => `| ${a.padEnd(w[0])} | ${b.padEnd(w[1])} | ${c.padEnd(w[2])} |`;
  const out = [
    '',
    `Escape suite, uid ${UID}: ${rows.filter((r) => r.expected.split(' or ').includes(r.observed)).length}/${rows.length} held`,
    line('case', 'expected', 'observed'),
    `|${'-'.repeat(w[0] + 2)}|${'-'.repeat(w[1] + 2)}|${'-'.repeat(w[2] + 2)}|`,
    ...rows.map((r) => line(r.name, r.expected, r.observed)),
    '',
  ];
  process.stdout.write(out.join('\n') + '\n');
});


describe('probes from inside one sandbox', () => {
  const answers = new Map<string, string>();

  beforeAll(async () => {
    const script = probes.map(([, args], i) => `echo "${i} $(${TRY_IN} ${args} 2>&1)"`).join('\n');
    const r = await sh(script);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const line of r.stdout.trim().split('\n')) {
      const [i, ...rest] = line.split(' ');
      answers.set(probes[Number(i)][0], rest.join(' '));
    }
  });

  test.each(probes)('%s', (name, _args, expected) => {
    verdict(name, expected, answers.get(name) ?? 'no answer');
  });
});

describe('the same probes under each preset', () => {
  // One sandbox per preset, run from a throwaway project (the agent preset
  // refuses / and any directory above HOME). Where the helper can go differs:
  // strict and build show nothing of the host, ro-host and agent a read-only one.
  const presets: [string, string[], string][] = [
    ['strict', ['--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64', '--ro-bind', TRY, '/opt/sbx-try'], '/opt/sbx-try'],
    ['ro-host', ['--ro-bind', TRY, '/tmp/sbx-try'], '/tmp/sbx-try'],
    ['agent', ['--ro-bind', TRY, '/tmp/sbx-try'], '/tmp/sbx-try'],
    ['build', ['--input', 'src', '--output', 'out', '--ro-bind', TRY, '/opt/sbx-try'], '/opt/sbx-try'],
  ];
  // Probes of what BASE itself binds in (the init binary) have no meaning here.
  const general = probes.filter(([, args]) => !args.includes(INIT_IN));
  const answers = new Map<string, string>();
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync('/tmp/sbx-escape-presets-');
    const project = `${dir}/home/project`;
    for (const d of ['src', 'out']) mkdirSync(`${project}/${d}`, { recursive: true });
    const env = { ...process.env, HOME: `${dir}/home` };
    for (const [preset, extra, at] of presets) {
      const script = general.map(([, args], i) => `echo "${i} $(${at} ${args} 2>&1)"`).join('\n');
      const r = await cli(['run', '--preset', preset, ...extra, '--', '/bin/sh', '-c', script], { cwd: project, env });
      expect([preset, r.stderr, r.code]).toEqual([preset, '', 0]);
      for (const line of r.stdout.trim().split('\n')) {
        const [i, ...rest] = line.split(' ');
        answers.set(`${preset}: ${general[Number(i)][0]}`, rest.join(' '));
      }
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.each(presets.flatMap(([preset]) => general.map(([name, , expected]) => [`${preset}: ${name}`, expected] as const)))('%s', (name, expected) => {
    verdict(name, [...expected], answers.get(name) ?? 'no answer');
  });
});

describe('a real terminal', () => {
  // script(1) gives the CLI a pseudo-terminal as stdin; with --no-tty the
  // program inherits that very terminal (in its own session) instead of a pty
  // of the sandbox's own, which is the case under attack here. After the run, the host reads that terminal's line
  // discipline itself: N_TTY (0) means nothing was left changed.
  function inPty(inside: string, extra: string[] = []): string {
    const run = [process.execPath, CLI, 'run', ...BASE, '--no-tty', ...extra, '--', '/bin/sh', '-c', inside].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const r = spawnSync('script', ['-qec', `${run}; ${TRY} ldisc`, '/dev/null'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status !== 0) throw new Error(`script: status ${r.status}: ${r.stderr}`);
    return r.stdout.replace(/\r/g, '').trim().split('\n').join(' ');
  }

  test('TIOCSETD to N_NULL and the console ioctls on a real terminal are refused; the host finds N_TTY after (control: N_TTY again passes without the filter)', () => {
    const probes = ['ioctl-tiocsetd', 'ioctl-tiocsetd-ntty', 'ioctl-tiocvhangup', 'ioctl-kdskbsent', 'ioctl-tiocsti'].map((p) => `${TRY_IN} syscall ${p}`).join('; ');
    const strict = inPty(`${TRY_IN} ldisc; ${probes}`);
    const control = inPty(`${TRY_IN} syscall ioctl-tiocsetd-ntty`, ['--seccomp', 'none']);
    verdict('TIOCSETD, TIOCVHANGUP, KDSKBSENT, TIOCSTI on a pty (inside ldisc; answers; host ldisc after) (control --seccomp none)', ['0 EPERM EPERM EPERM EPERM EPERM 0 (control ok 0)'], `${strict} (control ${control})`);
  });
});

describe('pid 1', () => {
  test('pid 1\'s command line (readable whatever the dumpable flag) names no path of the host, however the sandbox was started', async () => {
    // pid 1 is a fork of the launcher, whose argv holds its host path (and,
    // through the bin, the caller's whole command line): it is rewritten to
    // the launcher's name alone.
    const read = `tr '\\0' '|' < /proc/1/cmdline; echo; cat /proc/1/comm`;
    const secret = mkdtempSync('/tmp/sbx-escape-secret-');
    try {
      const through = {
        node: await cli(['run', ...BASE, '--ro-bind', secret, '/mnt', '--', '/bin/sh', '-c', read]),
        bin: await new Promise<{ code: number | null; stdout: string }>((res) => {
          const c = spawn(CLI.replace(/\.js$/, ''), ['run', ...BASE, '--ro-bind', secret, '/mnt', '--', '/bin/sh', '-c', read], { stdio: ['ignore', 'pipe', 'inherit'] });
          let out = '';
          c.stdout.setEncoding('utf8').on('data', (d) => (out += d));
          c.on('close', (code) => res({ code, stdout: out }));
        }),
        plan: ((r) => ({ code: r.status, stdout: r.stdout }))(
          spawnSync(INIT, ['--plan', '-'], {
            input: JSON.stringify({ argv: ['/bin/sh', '-c', read], ops: [{ kind: 'bind', source: '/', target: '/' }, { kind: 'proc', target: '/proc' }] }),
            encoding: 'utf8',
          }),
        ),
      };
      const seen = Object.entries(through).map(([how, r]) => `${how}: ${r.code} ${r.stdout.trim().split('\n').join(' ')}`);
      verdict('pid 1\'s /proc/1/cmdline and comm through the Node CLI, the bin and sandboxctl-init --plan', [
        'node: 0 sandboxctl-init| sandboxctl-init / bin: 0 sandboxctl-front| sandboxctl-fron / plan: 0 sandboxctl-init| sandboxctl-init',
      ], seen.join(' / '));
      for (const r of Object.values(through)) expect(r.stdout).not.toContain(secret);
    } finally {
      rmSync(secret, { recursive: true });
    }
  });

  test('kill -9 of pid 1 from inside is ignored: the program goes on', async () => {
    const r = await sh(`${TRY_IN} kill 1 9; sleep 0.1; ${TRY_IN} kill 1 0; echo alive`);
    verdict('SIGKILL to pid 1 from inside the sandbox', ['ok ok alive'], r.stdout.trim().split('\n').join(' '));
    expect(r.code).toBe(0);
  });
});

describe('file descriptors', () => {
  test('runc CVE-2024-21626: a host directory fd leaked by the caller never reaches the program', async () => {
    // The caller holds a directory of the host open without O_CLOEXEC in
    // every slot from 3 to 9; inside, only stdio exists and no /proc/self/fd
    // entry leads back to the host.
    const dir = mkdtempSync('/tmp/sbx-escape-leak-');
    chmodSync(dir, 0o755);
    const fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
    try {
      const script = `${TRY_IN} fds; for n in 3 4 5 6 7 8 9; do ${TRY_IN} open /proc/self/fd/$n/.. r; done | sort -u; ${TRY_IN} open ${dir} r`;
      const child = spawn(process.execPath, [CLI, 'run', ...BASE, '--', '/bin/sh', '-c', script], {
        stdio: ['ignore', 'pipe', 'pipe', fd, fd, fd, fd, fd, fd, fd],
      });
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (d) => (out += d));
      const code = await new Promise((r) => child.on('close', r));
      expect(code).toBe(0);
      verdict('runc CVE-2024-21626 leaked host dir fds 3-9 (fds inside; /proc/self/fd/N/..; the dir by path)', ['0 1 2 | ENOENT | ENOENT'], out.trim().split('\n').join(' | '));
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true });
    }
  });

  test('the native --plan path closes a leaked host dir fd too', async () => {
    const dir = mkdtempSync('/tmp/sbx-escape-leak-');
    chmodSync(dir, 0o755);
    const fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
    try {
      const plan = JSON.stringify({ argv: [TRY, 'fds'], ops: [{ kind: 'bind', source: '/', target: '/' }] });
      const child = spawn(INIT, ['--plan', '-'], { stdio: ['pipe', 'pipe', 'inherit', fd, fd, fd] });
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (d) => (out += d));
      child.stdin!.end(plan);
      expect(await new Promise((r) => child.on('close', r))).toBe(0);
      verdict('runc CVE-2024-21626 leaked fds through sandboxctl-init --plan', ['0 1 2'], out.trim());
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true });
    }
  });
});

describe('setup paths and mounts', () => {
  test('bwrap CVE-2019-12439: the setup uses no path on the host that another user could pre-create', async () => {
    // Point every per-user temporary location at empty directories, watch
    // them while a sandbox runs, and check that none of them is touched.
    const dirs = ['tmp', 'runtime', 'home'].map((n) => {
      const d = mkdtempSync(`/tmp/sbx-escape-${n}-`);
      chmodSync(d, 0o777);
      return d;
    });
    const seen = new Set<string>();
    const watch = setInterval(() => dirs.forEach((d) => readdirSync(d).forEach((e) => seen.add(`${d}/${e}`))), 5);
    try {
      const r = await cli(['run', ...BASE, '--', '/bin/sh', '-c', 'sleep 0.3; cat /proc/self/mountinfo'], {
        env: { ...process.env, TMPDIR: dirs[0], XDG_RUNTIME_DIR: dirs[1], HOME: dirs[2] },
      });
      expect(r.code).toBe(0);
      dirs.forEach((d) => readdirSync(d).forEach((e) => seen.add(`${d}/${e}`)));
      verdict('bwrap CVE-2019-12439 entries created in $TMPDIR, $XDG_RUNTIME_DIR, $HOME', ['none'], seen.size === 0 ? 'none' : [...seen].join(' '));
    } finally {
      clearInterval(watch);
      dirs.forEach((d) => rmSync(d, { recursive: true }));
    }
  });

  test('nothing of the setup shows in mountinfo', async () => {
    const r = await sh('cat /proc/self/mountinfo');
    const leaks = parseMountinfo(r.stdout).filter(
      (e) => /^\/(host|sysroot)(\/|$)|\/proc\/self\/fd|\(deleted\)/.test(e.mountPoint) || /sysroot|^\/host\b|deleted/.test(e.root),
    );
    verdict('setup mounts (intermediate root, sysroot, host) in mountinfo', ['none'], leaks.length === 0 ? 'none' : leaks.map((e) => e.mountPoint).join(' '));
  });

  test('every mount a program could be executed from is nosuid', async () => {
    // The device nodes --dev binds (character devices: nothing to execute)
    // are left out; see README.md, findings.
    const r = await sh('cat /proc/self/mountinfo');
    const suid = parseMountinfo(r.stdout).filter((e) => !e.options.includes('nosuid'));
    verdict('mounts without nosuid (device-node binds included)', ['none'], suid.length === 0 ? 'none' : suid.map((e) => e.mountPoint).join(' '));
  });

  test('a setuid-root binary (chfn) gains no privilege', async () => {
    // chfn blocks reading its input (a password, or as root the new
    // values); meanwhile its credentials are read from /proc and it is killed
    // before it reads anything. On the host its euid is 0 with every
    // capability.
    const r = await sh(
      'sleep 30 | /usr/bin/chfn >/dev/null 2>&1 & sleep 0.5; for p in /proc/[0-9]*; do case "$(cat $p/comm 2>/dev/null)" in chfn) awk \'/^Uid:/{print "euid=" $3} /^CapEff:/{print "capeff=" $2}\' $p/status; kill -9 ${p#/proc/};; esac; done; for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = sleep ] && kill -9 ${p#/proc/}; done; wait',
    );
    verdict('setuid-root chfn: euid and effective capabilities', [`euid=${UID} capeff=0000000000000000`], r.stdout.trim().split('\n').join(' '));
  });
});

describe('identity', () => {
  test('bwrap CVE-2020-5291: uid 0 inside (--uid 0) holds no capability and cannot change identity', async () => {
    const r = await sh(`grep -E '^(Uid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status; ${TRY_IN} syscall setuid-other`, ['--uid', '0', '--gid', '0']);
    const lines = r.stdout.trim().split('\n');
    const status = Object.fromEntries(lines.slice(0, -1).map((l) => l.split(/:\s+/)));
    const caps = ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'].every((k) => status[k] === '0000000000000000') ? 'none' : 'some';
    const observed = `uid=${status.Uid?.split(/\s+/)[1]} caps=${caps} no_new_privs=${status.NoNewPrivs} setuid(1)=${lines.at(-1)}`;
    verdict('bwrap CVE-2020-5291 uid 0 inside (--uid 0): caps, no_new_privs, setuid to uid 1', ['uid=0 caps=none no_new_privs=1 setuid(1)=EINVAL'], observed);
  });

  test('CVE-2017-5226 second line: the program runs in its own session, without a controlling terminal', async () => {
    // Fields 6 and 7 of /proc/self/stat: session id and tty_nr.
    const r = await sh('read -r stat < /proc/self/stat; set -- ${stat##*) }; echo "pid=$$ sid=$4 tty=$5"');
    verdict('session and controlling terminal of the program', ['pid=2 sid=2 tty=0'], r.stdout.trim());
  });
});

describe('the host beyond the sandbox', () => {
  let server: Server;
  let port = 0;
  let abstractServer: Server;
  const abstractName = `sbx-escape-${process.pid}`;

  beforeAll(async () => {
    // A client that connects and leaves at once resets the connection: not an error here.
    server = createServer((s) => s.on('error', () => {}).end('host secret\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
    abstractServer = createServer((s) => s.on('error', () => {}).end());
    await new Promise<void>((r) => abstractServer.listen(`\0${abstractName}`, r));
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await new Promise((r) => abstractServer.close(r));
  });

  test('a TCP server on the host\'s 127.0.0.1 cannot be reached (control: with --share-net it can)', async () => {
    const inside = await sh(`${TRY_IN} connect-tcp 127.0.0.1 ${port}`);
    const shared = await sh(`${TRY_IN} connect-tcp 127.0.0.1 ${port}`, ['--share-net']);
    verdict('host loopback TCP port (default network; control --share-net)', ['ECONNREFUSED (control ok)'], `${said(inside)} (control ${said(shared)})`);
  });

  test('an abstract unix socket of the host cannot be reached (control: from the host it can)', async () => {
    // Abstract names live in the network namespace: the default network
    // hides them (ECONNREFUSED); a Landlock scope answers EPERM.
    const inside = await sh(`${TRY_IN} connect-abstract ${abstractName}`);
    const host = await new Promise<string>((resolveOut) => {
      const c = spawn(TRY, ['connect-abstract', abstractName], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout.setEncoding('utf8').on('data', (d) => (out += d));
      c.on('close', () => resolveOut(out.trim()));
    });
    verdict('host abstract unix socket (default network; control from the host)', ['ECONNREFUSED (control ok)', 'EPERM (control ok)'], `${said(inside)} (control ${host})`);
  });

  test('with --share-net, a Landlock scope still keeps the host\'s abstract unix sockets out (control: --allow-abstract-unix)', async () => {
    const scoped = await sh(`${TRY_IN} connect-abstract ${abstractName}`, ['--share-net']);
    const allowed = await sh(`${TRY_IN} connect-abstract ${abstractName}`, ['--share-net', '--allow-abstract-unix']);
    verdict('host abstract unix socket with --share-net (Landlock scope; control --allow-abstract-unix)', ['EPERM (control ok)'], `${said(scoped)} (control ${said(allowed)})`);
  });

  test('no interface but loopback', async () => {
    const r = await sh('tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\\n" " "');
    verdict('network interfaces inside', ['lo'], r.stdout.trim());
  });

  test('signals cannot reach host processes', async () => {
    const marker = `600.${process.pid}${Date.now() % 100000}7`;
    const host = spawn('/bin/sleep', [marker], { stdio: 'ignore' });
    try {
      expect(await until(() => hostProcessesWith(marker).length === 1)).toBe(true);
      const r = await sh(`${TRY_IN} kill ${host.pid} 0; ${TRY_IN} kill ${host.pid} 9`);
      verdict('kill(host pid, 0) and kill(host pid, SIGKILL)', ['ESRCH ESRCH'], r.stdout.trim().split('\n').join(' '));
      expect(host.exitCode).toBeNull();
      expect(host.signalCode).toBeNull();
    } finally {
      host.kill('SIGKILL');
    }
  });

  test('host processes are invisible in /proc', async () => {
    const r = await sh('ls -d /proc/[0-9]* | wc -l');
    // sh, ls and wc (a pipeline) plus pid 1 at most.
    verdict('processes visible in /proc (pid 1, sh, ls, wc)', ['4', '3'], r.stdout.trim());
  });
});

