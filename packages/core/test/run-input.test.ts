// Bad input to run()/spawn() is a SandboxError with a code, found before
// anything is spawned: no argv, and caller fds (bind/file sources, passed
// fds, the status fd) that are not open.

import { closeSync, openSync } from 'node:fs';
import { withoutLauncher } from './support/no-launcher';

jest.mock('@sandboxctl/native', () => jest.requireActual<typeof import('./support/native-mock')>('./support/native-mock').native);

import { callerFds } from '../src/launcher/fds';
import { buildPlan, run, spawn, type SpawnOptions } from '../src/run';

// Never reached: a launcher that does not exist proves nothing was spawned.
const noLauncher = withoutLauncher('sandboxctl-input-');

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('argv', () => {
  it.each([
    ['absent', {}],
    ['empty', { argv: [] }],
    ['not an array', { argv: 'ls' }],
    ['not strings', { argv: ['ls', 3] }],
  ])('%s: spawn throws E_PLAN_INVALID, run rejects with it', async (_what, options) => {
    expect(thrown(() => spawn(options as unknown as SpawnOptions))).toMatchObject({ name: 'SandboxError', code: 'E_PLAN_INVALID', path: 'argv' });
    await expect(run(options as unknown as SpawnOptions)).rejects.toMatchObject({ name: 'SandboxError', code: 'E_PLAN_INVALID' });
  });

  it('may be absent or empty for buildPlan, which only shows the plan (explain uses that)', () => {
    expect(buildPlan({ ops: [] }).argv).toEqual([]);
    expect(buildPlan({ argv: [] }).argv).toEqual([]);
    expect(thrown(() => buildPlan({ argv: 'ls' } as unknown as SpawnOptions))).toMatchObject({ code: 'E_PLAN_INVALID', path: 'argv' });
  });

  it('is fine when plan.argv supplies it', () => {
    expect(thrown(() => spawn({ plan: { argv: ['true'] } } as unknown as SpawnOptions))).toMatchObject({ code: 'E_INIT_MISSING' });
  });
});

describe('caller fds', () => {
  it('finds each fd the plan names, with its JSON path', () => {
    expect(
      callerFds({
        version: 1,
        argv: ['x'],
        ops: [{ kind: 'tmpfs', target: '/t' }, { kind: 'bind', sourceFd: 7, target: '/b' }, { kind: 'file', sourceFd: 8, target: '/f' }],
        fds: [{ fd: 9 }],
        statusFd: 10,
      }),
    ).toEqual([
      { fd: 7, path: 'plan.ops[1].sourceFd', opIndex: 1 },
      { fd: 8, path: 'plan.ops[2].sourceFd', opIndex: 2 },
      { fd: 9, path: 'plan.fds[0].fd' },
      { fd: 10, path: 'plan.statusFd' },
    ]);
  });

  it.each([
    ['a passed fd', (fd: number) => ({ plan: { fds: [{ fd }] } }), 'plan.fds[0].fd'],
    ['the status fd', (fd: number) => ({ plan: { statusFd: fd } }), 'plan.statusFd'],
    ['a bind source fd', (fd: number) => ({ ops: [{ kind: 'bind' as const, sourceFd: fd, target: '/x' }] }), 'plan.ops[0].sourceFd'],
  ])('%s that is closed is E_PLAN_INVALID naming it, before anything is spawned', (_what, options, path) => {
    const fd = noLauncher.closedFd();
    const error = thrown(() => spawn({ argv: ['true'], ...options(fd) }));
    expect(error).toMatchObject({ code: 'E_PLAN_INVALID', path, message: `${path}: fd ${fd} is not open` });
  });

  it('an open one passes on to the launcher (here: missing, E_INIT_MISSING)', () => {
    const fd = openSync(noLauncher.dir(), 'r');
    try {
      expect(thrown(() => spawn({ argv: ['true'], plan: { fds: [{ fd }] } }))).toMatchObject({ code: 'E_INIT_MISSING' });
    } finally {
      closeSync(fd);
    }
  });
});
