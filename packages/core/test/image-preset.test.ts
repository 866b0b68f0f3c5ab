// The image preset through the library's `image` option (resolvePlan):
// what it adds, the order of the environment steps, how the options change
// it, and its refusals.

jest.mock('@sandboxctl/native', () => jest.requireActual<typeof import('./support/native-mock')>('./support/native-mock').native);

import { plan } from '../src/plan/builder';
import { resolvePlan } from '../src/plan/sources';
import { IMAGE_HOST_FILES } from '../src/presets/image';

const withEnv = <T>(env: Record<string, string | undefined>, f: () => T): T => {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return f();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
};

describe('image preset', () => {
  it('is the preset of the resolved plan, each op with its reason', () => {
    const r = resolvePlan({ argv: ['true'], image: '/srv/rootfs' });
    expect(r.preset?.name).toBe('image');
    expect(r.origins).toHaveLength(r.plan.ops!.length);
    for (const o of r.origins) expect(o).toMatchObject({ from: 'preset', preset: 'image', note: { why: expect.any(String) } });
    expect(r.plan.ops!.filter((op) => op.kind === 'bind' && op.missingTarget === 'skip')).toHaveLength(IMAGE_HOST_FILES.length);
  });

  it('puts the caller\'s steps between its adjustments and the marker; a builder\'s too', () => {
    const own = plan().chUnsetEnv('SLURM*').chSetEnv('A=1');
    const steps = resolvePlan({ argv: ['true'], image: '/srv/rootfs', ops: own, relativeTo: '/work' }).plan.env!.steps!;
    expect(steps.map((s) => s.kind)).toEqual(['appendPath', 'unset', 'file', 'unset', 'assign', 'set']);
    expect(steps[steps.length - 1]).toEqual({ kind: 'set', name: 'SANDBOXCTL_RUNNING', value: '1' });
    const file = resolvePlan({ argv: ['true'], image: '/srv/rootfs', ops: plan().chSetEnv('vars.env'), relativeTo: '/work' }).plan.env!.steps!;
    expect(file).toContainEqual({ kind: 'file', path: '/work/vars.env', expand: true });
  });

  it('turns "refuse" binds into "create" in a writable or fake image only', () => {
    const ops = plan().op({ kind: 'bind', source: '/d', target: '/d', writable: true, missingTarget: 'refuse' });
    const last = (write: 'readOnly' | 'writable' | 'fake') => resolvePlan({ argv: ['true'], image: { path: '/srv/rootfs', write }, ops }).plan.ops!.slice(-1)[0];
    expect(last('readOnly')).toMatchObject({ missingTarget: 'refuse' });
    expect(last('writable')).toMatchObject({ missingTarget: 'create' });
    expect(last('fake')).toMatchObject({ missingTarget: 'create' });
  });

  it('preset: false is the bare image', () => {
    const r = resolvePlan({ argv: ['true'], image: { path: '/srv/rootfs', preset: false } });
    expect(r.plan.ops).toEqual([]);
    expect(r.preset).toBeUndefined();
    expect(r.plan.env?.steps).toBeUndefined();
  });

  it('refuses: steps without an image, --home without $USER or $HOME, fakeroot on a read-only image, an unknown item, a relative cd', () => {
    const invalid = (message: RegExp) => expect.objectContaining({ code: 'E_PLAN_INVALID', message: expect.stringMatching(message) });
    expect(() => resolvePlan({ argv: ['true'], ops: plan().chSetEnv('A=1') })).toThrow(invalid(/^env\.steps apply to an image's environment only/));
    withEnv({ USER: undefined, HOME: '/home/x' }, () => expect(() => resolvePlan({ argv: ['true'], image: { path: '/i', home: true } })).toThrow(invalid(/^image\.home: \$USER is not set/)));
    withEnv({ USER: 'x', HOME: 'rel' }, () => expect(() => resolvePlan({ argv: ['true'], image: { path: '/i', home: true } })).toThrow(invalid(/^image\.home: \$HOME is not set to an absolute path/)));
    withEnv({ USER: '..', HOME: '/h' }, () => expect(() => resolvePlan({ argv: ['true'], image: { path: '/i', home: true } })).toThrow(invalid(/\$USER is not set to a user name/)));
    expect(() => resolvePlan({ argv: ['true'], image: { path: '/i', fakeroot: true } })).toThrow(invalid(/^image\.fakeroot needs a writable image/));
    expect(() => resolvePlan({ argv: ['true'], image: { path: '/i', omit: ['etc' as never] } })).toThrow(invalid(/^image\.omit "etc" is not an item of the image preset/));
    expect(() => resolvePlan({ argv: ['true'], image: { path: '/i', cd: 'work' } })).toThrow(invalid(/^image\.cd work is not an absolute path/));
  });

  it('--home with a read-only image makes the writes fake; fakeroot then needs nothing more', () => {
    withEnv({ USER: 'alice', HOME: '/home/alice' }, () => {
      const r = resolvePlan({ argv: ['true'], image: { path: '/i', home: true, fakeroot: true } });
      expect(r.plan.root!.write).toBe('fake');
      expect([r.plan.uid, r.plan.gid]).toEqual([0, 0]);
      expect(r.plan.seccomp).toEqual({ preset: 'none', fakeroot: true });
    });
  });
});
