// The op and policy flags of the complete set (overlay, mqueue, chmod, fds,
// capabilities, Landlock, session) as `sandboxctl plan` turns them into JSON.

import { remapCallerFds } from '@sandboxctl/core';
import { runCli } from './helpers';

async function planOf(args: string[]): Promise<Record<string, unknown>> {
  const r = await runCli(['plan', ...args, '--', 'true']);
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

async function usageOf(args: string[]): Promise<string> {
  const r = await runCli(['plan', ...args, '--', 'true']);
  expect(r.status).toBe(125);
  expect(r.stderr).toMatch(/^sandboxctl: E_USAGE: /);
  return r.stderr;
}

describe('overlay flags', () => {
  it('--overlay-src layers feed the next overlay op, in order', async () => {
    const p = await planOf([
      '--overlay-src', '/l1', '--overlay-src', '/l2', '--tmp-overlay', '/a',
      '--overlay-src', '/l3', '--overlay', '/up', '/work', '/b',
      '--overlay-src', '/l4', '--overlay-src', '/l5', '--ro-overlay', '/c',
    ]);
    expect(p.ops).toEqual([
      { kind: 'overlay', target: '/a', lowers: ['/l1', '/l2'], mode: 'tmp' },
      { kind: 'overlay', target: '/b', lowers: ['/l3'], mode: 'rw', upper: '/up', work: '/work' },
      { kind: 'overlay', target: '/c', lowers: ['/l4', '/l5'], mode: 'ro' },
    ]);
  });

  it('layers must be used by an overlay op, and ro needs two', async () => {
    expect(await usageOf(['--overlay-src', '/l1', '--tmpfs', '/t'])).toMatch(/--overlay-src \/l1 is followed by --tmpfs/);
    expect(await usageOf(['--overlay-src', '/l1'])).toMatch(/is not followed by an overlay op/);
    expect(await usageOf(['--tmp-overlay', '/a'])).toMatch(/--tmp-overlay needs --overlay-src layers/);
    expect(await usageOf(['--overlay-src', '/l1', '--ro-overlay', '/a'])).toMatch(/needs at least two --overlay-src layers/);
  });
});

describe('other op flags', () => {
  it('mqueue, chmod, fd binds, autoetc, autoroot, passwd', async () => {
    const p = await planOf([
      '--mqueue', '/dev/mqueue', '--chmod', '0700', '/work', '--bind-fd', '5', '/rw', '--ro-bind-fd', '6', '/ro',
      '--autoetc', '/etc', '--autoroot', '/', '--passwd', '/etc',
    ]);
    expect(p.ops).toEqual([
      { kind: 'mqueue', target: '/dev/mqueue' },
      { kind: 'chmod', target: '/work', mode: 0o700 },
      { kind: 'bind', sourceFd: 5, target: '/rw', writable: true },
      { kind: 'bind', sourceFd: 6, target: '/ro' },
      { kind: 'autoetc', target: '/etc' },
      { kind: 'autoroot', target: '/' },
      { kind: 'passwd', target: '/etc' },
    ]);
  });

  it('refuses a bad mode and a bad fd', async () => {
    expect(await usageOf(['--chmod', '999', '/w'])).toMatch(/--chmod 999 is not a permission mode/);
    expect(await usageOf(['--bind-fd', 'x', '/w'])).toMatch(/--bind-fd takes a file descriptor number/);
  });
});

describe('policy flags', () => {
  it('capabilities, argv0, status fd, passed fds, session, landlock', async () => {
    const p = await planOf([
      '--cap-add', 'CAP_NET_ADMIN', '--cap-add', 'CAP_SYS_TIME', '--cap-drop', 'CAP_SYS_TIME', '--argv0', 'me',
      '--json-status-fd', '9', '--pass-fd', '5', '--pass-fd', '7', '--keep-session', '--allow-abstract-unix',
    ]);
    expect(p).toMatchObject({
      capAdd: ['CAP_NET_ADMIN', 'CAP_SYS_TIME'],
      capDrop: ['CAP_SYS_TIME'],
      argv0: 'me',
      statusFd: 9,
      fds: [{ fd: 5 }, { fd: 7 }],
      newSession: false,
      landlock: { allowAbstractUnix: true },
    });
    expect((p.landlock as Record<string, unknown>).allowSignals).toBeUndefined();
  });
});

describe('caller fds reach the launcher at fixed numbers', () => {
  it('remapCallerFds moves them to 4, 5… and keeps the program-side numbers', () => {
    const { plan, fds } = remapCallerFds({
      argv: ['true'],
      ops: [{ kind: 'bind', sourceFd: 9, target: '/a' }, { kind: 'file', sourceFd: 3, target: '/f' }],
      fds: [{ fd: 9 }, { fd: 11, target: 5 }],
      statusFd: 12,
    });
    expect(fds).toEqual([9, 3, 11, 12]);
    expect(plan.ops).toEqual([{ kind: 'bind', sourceFd: 4, target: '/a' }, { kind: 'file', sourceFd: 5, target: '/f' }]);
    expect(plan.fds).toEqual([{ fd: 4, target: 9 }, { fd: 6, target: 5 }]);
    expect(plan.statusFd).toBe(7);
  });
});
