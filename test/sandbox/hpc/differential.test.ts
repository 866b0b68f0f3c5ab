/**
 * Differential test against Debian's charliecloud-runtime (ch-run 0.31) on
 * the same busybox directory image, where the features overlap: ids,
 * passwd and group, the environment for a table of host environments and
 * --set-env/--unset-env cases, --cd, --private-tmp, --home, binds and their
 * errors, the mounts visible. Equal answers, or a difference listed in
 * docs/hpc.md ("Differences from ch-run") and checked here as such. Runs as
 * root and as the unprivileged user (scripts/test.sh).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, requireKernel, tempDir, UID } from '../helpers';
import { busyboxRoot, requireImageTools } from '../image/fixtures';

const CH_RUN = '/usr/bin/ch-run';
const USER = UID === 0 ? 'root' : spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim();

let base = '';
let image = '';
beforeAll(() => {
  requireKernel();
  requireImageTools();
  const version = spawnSync(CH_RUN, ['--version'], { encoding: 'utf8', env: { USER } });
  if (version.error) throw new Error('the differential test needs ch-run 0.31: apt-get install charliecloud-runtime');
  expect(`${version.stdout}${version.stderr}`.trim()).toBe('0.31');
  base = tempDir('sbx-hpc-diff-');
  image = join(base, 'rootfs');
  busyboxRoot(image);
  // Destinations for the optional host files, so both bind them.
  writeFileSync(join(image, 'etc/hosts'), '');
  writeFileSync(join(image, 'etc/resolv.conf'), '');
  mkdirSync(join(image, 'mnt/0'));
});
afterAll(() => base && rmSync(base, { recursive: true, force: true }));

/** A flag as [name, value?]: ch-run takes `--name=value`, sandboxctl `--name value`. */
type Flag = [string, string?];

interface Both {
  theirs: { code: number | null; stdout: string; stderr: string };
  ours: { code: number | null; stdout: string; stderr: string };
}

const CH_NAMES: Record<string, string> = { '--image-bind': '--bind', '--cd': '--cd' };

/** The same command under ch-run and `sandboxctl run --image`, with the host environment `env`. */
function both(flags: Flag[], argv: string[], env: Record<string, string> = {}): Both {
  const hostEnv = { PATH: '/usr/bin:/bin', USER, HOME: '/', ...env };
  for (const [k, v] of Object.entries(hostEnv)) if (v === '\0unset') delete (hostEnv as Record<string, string>)[k];
  const chFlags = flags.map(([name, value]) => (value === undefined ? CH_NAMES[name] ?? name : `${CH_NAMES[name] ?? name}=${value}`));
  const ourFlags = flags.flatMap(([name, value]) => (value === undefined ? [name] : [name, value]));
  const t = spawnSync(CH_RUN, [...chFlags, image, '--', ...argv], { encoding: 'utf8', env: hostEnv, cwd: base });
  const o = spawnSync(process.execPath, [CLI, 'run', '--no-config', '--no-tty', '--image', image, ...ourFlags, '--', ...argv], { encoding: 'utf8', env: hostEnv, cwd: base });
  return { theirs: { code: t.status, stdout: t.stdout, stderr: t.stderr }, ours: { code: o.status, stdout: o.stdout, stderr: o.stderr } };
}

/** `env` output, sorted, without the marker each sets (a listed difference). */
const envOf = (out: string): string[] =>
  out
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('CH_RUNNING=') && !l.startsWith('SANDBOXCTL_RUNNING='))
    .sort();

test('the same ids, passwd and group, as the caller', () => {
  const r = both([], ['/bin/sh', '-c', 'id -u; id -g; id -un; id -gn; cat /etc/passwd; echo --; cat /etc/group']);
  expect(r.ours.stderr).toBe('');
  expect(r.ours.stdout).toBe(r.theirs.stdout);
  expect(r.ours.stdout).toMatch(new RegExp(`^${UID}\n${process.getgid!()}\n${USER}\n`));
  expect(r.ours.stdout).toContain('nobody:x:65534:65534:nobody:/:/bin/false\n');
});

describe('the environment, for each host environment and --set-env/--unset-env case', () => {
  const A = { A: '1', AB: '3', B: '2' };
  const cases: Array<[string, Flag[], Record<string, string>]> = [
    ['nothing given', [], {}],
    ['TMPDIR is unset', [], { TMPDIR: '/var/tmp' }],
    ['PATH gets /bin', [], { PATH: '/usr/local/bin:/usr/bin' }],
    ['PATH holding /bin is kept', [], { PATH: '/bin:/usr/bin' }],
    ['PATH ending in :/bin is kept', [], { PATH: '/usr/bin:/bin' }],
    ['an unset PATH stays unset', [], { PATH: '\0unset' }],
    ['HOME passes through', [], { HOME: '/somewhere' }],
    ['expansion drops unset items with their colon', [['--set-env', 'X=$A:$NOPE:z']], A],
    ['single quotes stripped once', [['--set-env', "Y='q'"], ['--set-env', "T=''''"], ['--set-env', 'S="d"'], ['--set-env', "R='a"]], A],
    ['odd items', [['--set-env', 'Z=a::b:$A:'], ['--set-env', 'W=$'], ['--set-env', 'V=$NOPE'], ['--set-env', 'Q=$A$A:x$A'], ['--set-env', 'C=a=b']], A],
    ['--env-no-expand applies to every value, wherever given (0.31)', [['--set-env', 'X=$A'], ['--env-no-expand'], ['--set-env', 'Y=$A:$B']], A],
    ['set and unset in command-line order', [['--unset-env', 'A*'], ['--set-env', 'A=9'], ['--unset-env', '?']], A],
    ['an extglob keeps the wanted ones', [['--unset-env', '!(WANTED_*|ALSO_WANTED_*)']], { WANTED_1: 'a', ALSO_WANTED_2: 'b', OTHER: 'c' }],
    ['everything unset', [['--unset-env', '*']], A],
    ['Slurm variables hidden', [['--unset-env', 'SLURM*']], { SLURM_JOB_ID: '7', SLURM_PROCID: '0', KEEP: 'k' }],
    ['a file of assignments', [['--set-env', 'vars.env']], A],
  ];
  beforeAll(() => writeFileSync(join(base, 'vars.env'), "F1='one'\n\nF2=$A:x\nF3=a b\n"));

  test.each(cases)('%s', (_name, flags, env) => {
    const r = both(flags, ['/bin/env'], env);
    expect(r.ours.stderr).toBe('');
    expect(r.ours.code).toBe(0);
    expect(r.theirs.code).toBe(0);
    expect(envOf(r.ours.stdout)).toEqual(envOf(r.theirs.stdout));
  });

  test('difference: the marker is SANDBOXCTL_RUNNING=1, set last, where ch-run sets CH_RUNNING', () => {
    const r = both([['--unset-env', '*RUNNING']], ['/bin/env']);
    expect(r.theirs.stdout).toContain('CH_RUNNING=Weird Al Yankovic\n');
    expect(r.ours.stdout.split('\n').filter((l) => l.includes('RUNNING'))).toEqual(['SANDBOXCTL_RUNNING=1']);
  });

  test('a bad assignment or file line: both refuse, naming it (file:line)', () => {
    writeFileSync(join(base, 'bad.env'), 'A=1\n\nnodelim\n');
    for (const [flag, theirs, ours] of [
      ['=foo', /can't parse variable: empty name: =foo/, /E_PLAN_INVALID: .*cannot parse variable: empty name: =foo/],
      ['bad.env', /can't parse variable: no delimiter: bad\.env:3/, /E_PLAN_INVALID: cannot parse variable: no delimiter: .*\/bad\.env:3/],
      ['missing.env', /can't open: missing\.env: No such file or directory/, /E_PLAN_INVALID: cannot open environment file .*\/missing\.env/],
    ] as const) {
      const r = both([['--set-env', flag]], ['/bin/true']);
      expect(r.theirs.stderr).toMatch(theirs);
      expect(r.ours.stderr).toMatch(ours);
      // Exit codes differ: ch-run 0.31 exits 1, sandboxctl 125 (listed).
      expect([r.theirs.code, r.ours.code]).toEqual([1, 125]);
    }
  });
});

test('--cd: the same directory; the default is /; a missing one fails in both', () => {
  for (const flags of [[], [['--cd', '/bin']]] as Flag[][]) {
    const r = both(flags, ['/bin/pwd']);
    expect(r.ours.stdout).toBe(r.theirs.stdout);
  }
  const missing = both([['--cd', '/goops']], ['/bin/true']);
  expect(missing.theirs.stderr).toMatch(/can't cd to \/goops: No such file or directory/);
  expect(missing.ours.stderr).toMatch(/E_EXEC: cannot enter working directory \/goops/);
  expect([missing.theirs.code, missing.ours.code]).toEqual([1, 127]);
});

test('/tmp: the host $TMPDIR in both; --private-tmp empty in both', () => {
  const tmp = join(base, 'hosttmp');
  mkdirSync(tmp);
  writeFileSync(join(tmp, 'marker'), 'x');
  const shared = both([], ['/bin/ls', '-A', '/tmp'], { TMPDIR: tmp });
  expect(shared.ours.stdout).toBe('marker\n');
  expect(shared.ours.stdout).toBe(shared.theirs.stdout);
  const priv = both([['--private-tmp']], ['/bin/ls', '-A', '/tmp'], { TMPDIR: tmp });
  expect(priv.ours.stdout).toBe('');
  expect(priv.ours.stdout).toBe(priv.theirs.stdout);
});

test('--home: $HOME at /home/$USER, HOME set to it, its files there', () => {
  const home = join(base, 'home-of-user');
  mkdirSync(home);
  chmodSync(home, 0o755);
  writeFileSync(join(home, 'marker'), 'mine\n');
  const r = both([['--home']], ['/bin/sh', '-c', 'echo $HOME; ls /home; cat $HOME/marker'], { HOME: home });
  expect(r.ours.stderr).toBe('');
  expect(r.ours.stdout).toBe(`/home/${USER}\n${USER}\nmine\n`);
  expect(r.ours.stdout).toBe(r.theirs.stdout);
});

test('binds: SRC alone and SRC:DST see the same files; the program\'s exit status is the same', () => {
  const src = join(base, 'data');
  mkdirSync(src);
  writeFileSync(join(src, 'f'), 'data\n');
  const r = both([['--image-bind', `${src}:/mnt/0`]], ['/bin/sh', '-c', 'cat /mnt/0/f; exit 7']);
  expect(r.ours.stdout).toBe('data\n');
  expect(r.ours.stdout).toBe(r.theirs.stdout);
  expect([r.theirs.code, r.ours.code]).toEqual([7, 7]);
});

test('bind errors: both refuse each, with ch-run\'s words where the check is the same', () => {
  const src = join(base, 'data2');
  mkdirSync(src);
  const cases: Array<[string, RegExp, RegExp]> = [
    [`${src}:/`, /--bind: destination can't be \//, /E_USAGE: --image-bind: destination can't be \//],
    [`${src}:rel`, /--bind: destination must be absolute/, /E_USAGE: --image-bind: destination must be absolute/],
    [`:/mnt/0`, /--bind: no source provided/, /E_USAGE: --image-bind: no source provided/],
    [`${src}:`, /--bind: no destination provided/, /E_USAGE: --image-bind: no destination provided/],
    ['/nope:/mnt/0', /can't bind: source not found: \/nope/, /E_SOURCE_MISSING: .*source \/nope does not exist/],
    // A destination missing in the read-only image (listed: our message and code differ).
    [`${src}:/mnt/new`, /can't mkdir: .*\/mnt\/new: Read-only file system/, /E_TARGET_MISSING: cannot bind .*: \/mnt\/new does not exist in the read-only image/],
  ];
  for (const [arg, theirs, ours] of cases) {
    const r = both([['--image-bind', arg]], ['/bin/true']);
    expect(r.theirs.stderr).toMatch(theirs);
    expect(r.ours.stderr).toMatch(ours);
    expect(r.theirs.code).toBe(1);
    expect(r.ours.code).toBe(125);
  }
});

test('the mounts: the same mount points for the root, /dev, /etc/passwd, /etc/group, the host files and /tmp', () => {
  const points = '/bin/awk \'{ print $5 }\' /proc/self/mountinfo';
  const r = both([], ['/bin/sh', '-c', points]);
  const keep = new Set(['/', '/dev', '/dev/pts', '/dev/shm', '/proc', '/sys', '/etc/passwd', '/etc/group', '/etc/hosts', '/etc/resolv.conf', '/tmp']);
  const reduce = (out: string) => [...new Set(out.split('\n').filter((p) => keep.has(p)))].sort();
  expect(reduce(r.ours.stdout)).toEqual(reduce(r.theirs.stdout));
  expect(reduce(r.ours.stdout)).toEqual([...keep].sort());
});

test('difference: /proc is the sandbox\'s own (a pid namespace); ch-run shows the host\'s', () => {
  const r = both([], ['/bin/sh', '-c', 'ls /proc | grep -c "^[0-9]"']);
  expect(Number(r.ours.stdout)).toBeLessThan(Number(r.theirs.stdout));
  expect(Number(r.ours.stdout)).toBeLessThanOrEqual(4);
});

test('difference: /sys is read-only here; ch-run binds it as the host lets it', () => {
  const r = both([], ['/bin/sh', '-c', 'awk \'$5 == "/sys" { print $6 }\' /proc/self/mountinfo | cut -d, -f1']);
  expect(r.ours.stdout).toBe('ro\n');
  expect(r.theirs.stdout).toBe('rw\n');
});

test('difference: the image\'s /ch/environment applies by default here; ch-run 0.31 needs --set-env without a value', () => {
  mkdirSync(join(image, 'ch'), { recursive: true });
  writeFileSync(join(image, 'ch/environment'), 'FROM_IMAGE=yes\n');
  try {
    const r = both([], ['/bin/env']);
    expect(r.ours.stdout).toContain('FROM_IMAGE=yes\n');
    expect(r.theirs.stdout).not.toContain('FROM_IMAGE');
  } finally {
    rmSync(join(image, 'ch'), { recursive: true, force: true });
  }
});
