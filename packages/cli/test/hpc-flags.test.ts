// The image preset's flags (issue 11, HPC): what `--image` implies, ch-run's
// --image-bind, --set-env, --unset-env and --env-no-expand in argv order,
// --home, --private-tmp, --cd, --fakeroot, --image-omit, and their usage errors.

import { planOf, runCli, usageError } from './helpers';
import { resetNative } from '../../core/test/support/native-mock';

jest.mock('@sandboxctl/native', () => jest.requireActual<typeof import('../../core/test/support/native-mock')>('../../core/test/support/native-mock').native);

beforeEach(resetNative);

const RUNNING = { kind: 'set', name: 'SANDBOXCTL_RUNNING', value: '1' };
const ADJUST = [
  { kind: 'appendPath', name: 'PATH', dir: '/bin' },
  { kind: 'unset', glob: 'TMPDIR' },
  { kind: 'file', path: '/ch/environment', scope: 'root', expand: true, optional: true },
];

describe('--image implies the image preset', () => {
  it('with ch-run defaults: host /dev, a proc, /sys read-only, optional host files, passwd, /tmp; host network, no seccomp, the environment steps', async () => {
    const p = await planOf(['--no-config', '--image', '/srv/rootfs', 'true']);
    const targets = p.ops!.map((op) => ('target' in op ? op.target : ''));
    expect(targets.slice(0, 3)).toEqual(['/dev', '/proc', '/sys']);
    expect(p.ops![0]).toEqual({ kind: 'bind', source: '/dev', target: '/dev', writable: true, device: true });
    expect(p.ops![2]).toEqual({ kind: 'bind', source: '/sys', target: '/sys' });
    for (const path of ['/etc/hosts', '/etc/resolv.conf', '/etc/machine-id', '/var/lib/hugetlbfs', '/opt/cray/xpmem', '/var/spool/slurmd']) {
      expect(p.ops).toContainEqual(expect.objectContaining({ kind: 'bind', source: path, target: path, optional: true, missingTarget: 'skip' }));
    }
    expect(p.ops).toContainEqual({ kind: 'passwd', target: '/etc', style: 'chRun' });
    expect(p.ops![p.ops!.length - 1]).toMatchObject({ kind: 'bind', target: '/tmp', writable: true });
    expect(p.network).toBe('host');
    expect(p.seccomp).toEqual({ preset: 'none' });
    expect(p.cwd).toBe('/');
    expect(p.env!.steps).toEqual([...ADJUST, RUNNING]);
    expect(p.uid).toBeUndefined();
  });

  it('keeps --set-env and --unset-env in argv order, --env-no-expand for all of them (ch-run 0.31), host files absolute', async () => {
    const p = await planOf(['--no-config', '--image', '/srv/rootfs', '--unset-env', 'SLURM*', '--set-env', "A='1'", '--env-no-expand', '--set-env', 'B=$A', '--set-env', 'vars.env', 'true']);
    expect(p.env!.steps).toEqual([
      ...ADJUST,
      { kind: 'unset', glob: 'SLURM*' },
      { kind: 'assign', text: "A='1'", expand: false },
      { kind: 'assign', text: 'B=$A', expand: false },
      { kind: 'file', path: `${process.cwd()}/vars.env`, expand: false },
      RUNNING,
    ]);
  });

  it('--home binds $HOME at /home/$USER on a private /home, sets HOME first and makes the writes fake', async () => {
    const saved = { USER: process.env.USER, HOME: process.env.HOME };
    process.env.USER = 'alice';
    process.env.HOME = '/home/alice-real';
    try {
      const p = await planOf(['--no-config', '--image', '/srv/rootfs', '--home', 'true']);
      expect(p.root).toEqual({ image: '/srv/rootfs', write: 'fake' });
      expect(p.ops).toContainEqual({ kind: 'tmpfs', target: '/home', mode: 0o755 });
      expect(p.ops).toContainEqual({ kind: 'bind', source: '/home/alice-real', target: '/home/alice', writable: true });
      expect(p.env!.steps![0]).toEqual({ kind: 'set', name: 'HOME', value: '/home/alice' });
      expect((await planOf(['--no-config', '--image', '/srv/rootfs', '--home', '--write', 'true'])).root!.write).toBe('writable');
      delete process.env.USER;
      expect((await usageError(['plan', '--no-config', '--image', '/srv/rootfs', '--home', 'true'])).message).toMatch(/--home: \$USER is not set/);
    } finally {
      Object.assign(process.env, saved);
    }
  });

  it('explain lists every item of the preset with its reason, and the environment steps', async () => {
    const r = await runCli(['explain', '--no-config', '--image', '/srv/rootfs', '--set-env', 'A=1', 'true']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('preset:    image\n');
    for (const path of ['/dev ', '/sys ', '/etc/hosts ', '/var/spool/slurmd ', '/tmp ', '/proc ', '/etc ']) expect(r.stdout).toContain(`\n  ${path}`);
    expect(r.stdout).toMatch(/environment +then ch-run's rules in order: PATH \+= :\/bin; unset TMPDIR; the image's \/ch\/environment if present; A=1; SANDBOXCTL_RUNNING=1\n/);
    expect(r.stdout).toMatch(/system calls +no preset filter/);
    expect(r.stdout).toMatch(/network +not denied/);
  });

  it('--private-tmp, --cd, --fakeroot and --image-omit', async () => {
    const p = await planOf(['--no-config', '--image', '/srv/rootfs', '--write-fake', '--private-tmp', '--cd', '/work', '--fakeroot', '--image-omit', 'sys', '--image-omit', 'image-env', 'true']);
    expect(p.ops).toContainEqual({ kind: 'tmpfs', target: '/tmp', mode: 0o1777 });
    expect(p.ops).not.toContainEqual(expect.objectContaining({ target: '/sys' }));
    expect(p.cwd).toBe('/work');
    expect(p.seccomp).toEqual({ preset: 'none', fakeroot: true });
    expect([p.uid, p.gid]).toEqual([0, 0]);
    expect(p.env!.steps).not.toContainEqual(expect.objectContaining({ kind: 'file' }));
    // Policy flags override the preset's.
    const q = await planOf(['--no-config', '--image', '/srv/rootfs', '--seccomp', 'strict', '--unshare-net', 'true']);
    expect([q.seccomp, q.network]).toEqual([{ preset: 'strict' }, 'none']);
  });

  it('--image-bind SRC[:DST] as ch-run: rw, the target must exist in a read-only image, may be made in a writable one', async () => {
    const ro = await planOf(['--no-config', '--image', '/srv/rootfs', '--image-bind', '/data', '--image-bind', '/scratch:/mnt/s', 'true']);
    expect(ro.ops!.slice(-2)).toEqual([
      { kind: 'bind', source: '/data', target: '/data', writable: true, missingTarget: 'refuse' },
      { kind: 'bind', source: '/scratch', target: '/mnt/s', writable: true, missingTarget: 'refuse' },
    ]);
    // ch-run's -b, in argv order with the long form.
    const short = await planOf(['--no-config', '--image', '/srv/rootfs', '-b', '/a:/mnt/a', '--image-bind', '/b', '-b', '/c', 'true']);
    expect(short.ops!.slice(-3).map((op) => ('target' in op ? op.target : ''))).toEqual(['/mnt/a', '/b', '/c']);
    const fake = await planOf(['--no-config', '--image', '/srv/rootfs', '--write-fake', '--image-bind', '/data', 'true']);
    expect(fake.ops!.slice(-1)).toEqual([{ kind: 'bind', source: '/data', target: '/data', writable: true, missingTarget: 'create' }]);
  });
});

describe('usage errors with ch-run\'s words', () => {
  it.each([
    [['--image-bind', ':/x'], '--image-bind: no source provided'],
    [['--image-bind', '/x:'], '--image-bind: no destination provided'],
    [['--image-bind', '/x:/'], "--image-bind: destination can't be /"],
    [['--image-bind', '/x://'], "--image-bind: destination can't be /"],
    [['--image-bind', '/x:rel'], '--image-bind: destination must be absolute'],
    [['--unset-env', ''], '--unset-env: GLOB must have non-zero length'],
    [['--fakeroot'], '--fakeroot needs a writable image'],
    [['--cd', 'rel'], '--cd rel: give an absolute path in the image'],
  ])('%j', async (flags, message) => {
    expect((await usageError(['plan', '--no-config', '--image', '/srv/rootfs', ...flags, 'true'])).message).toBe(message);
  });

  it('the image flags without --image', async () => {
    for (const flags of [['--set-env', 'A=1'], ['--unset-env', 'A'], ['--home'], ['--private-tmp'], ['--cd', '/x'], ['--image-bind', '/x'], ['--image-omit', 'sys'], ['--env-no-expand']]) {
      expect((await usageError(['plan', '--no-config', ...flags, 'true'])).message).toMatch(new RegExp(`^${flags[0]} only applies to --image`));
    }
  });
});
