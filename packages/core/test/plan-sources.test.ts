// resolvePlan: the one composition of preset, config file, own ops and
// options that spawn, buildPlan and the CLI share, and where each op of the
// result came from.

import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

jest.mock('@sandboxctl/native', () => jest.requireActual<typeof import('./support/native-mock')>('./support/native-mock').native);

import { loadConfig } from '../src/config';
import { plan } from '../src/plan/builder';
import { imageUser, resolvePlan } from '../src/plan/sources';

let dir: string;
beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'sandboxctl-sources-')));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function configFile(content: object): string {
  const file = join(dir, 'sandboxctl.json');
  writeFileSync(file, JSON.stringify(content));
  return file;
}

describe('resolvePlan', () => {
  it('says where each op came from: preset, config file, own ops', () => {
    const file = configFile({ ops: [{ kind: 'dir', target: '/from-config' }] });
    const { plan: built, origins, preset, config } = resolvePlan({ argv: ['true'], preset: { name: 'strict', cwd: dir }, config: file, ops: [{ kind: 'dir', target: '/own' }] });
    const presetOps = preset!.ops.length;
    expect(built.ops!.slice(presetOps)).toEqual([
      { kind: 'dir', target: '/from-config' },
      { kind: 'dir', target: '/own' },
    ]);
    expect(origins).toHaveLength(built.ops!.length);
    expect(origins.slice(0, presetOps)).toEqual(preset!.notes.map((note) => ({ from: 'preset', preset: 'strict', note })));
    expect(origins.slice(presetOps)).toEqual([
      { from: 'config', file, index: 0 },
      { from: 'ops', index: 0 },
    ]);
    expect(config?.file).toBe(file);
  });

  it('takes a config already loaded as well as a file name', () => {
    const file = configFile({ hostname: 'from-config' });
    expect(resolvePlan({ argv: ['true'], config: loadConfig(file) }).plan).toEqual(resolvePlan({ argv: ['true'], config: file }).plan);
    expect(resolvePlan({ argv: ['true'], config: file }).plan.hostname).toBe('from-config');
  });

  it('resolves relative paths in own ops and cwd against relativeTo, and leaves them otherwise', () => {
    const ops = plan().bind('src', 'dst').overlay('/o', ['l1', '/l2'], 'up', 'work').cwd('here');
    expect(resolvePlan({ argv: ['true'], ops, relativeTo: dir }).plan).toMatchObject({
      ops: [
        { kind: 'bind', source: join(dir, 'src'), target: join(dir, 'dst') },
        { kind: 'overlay', target: '/o', lowers: [join(dir, 'l1'), '/l2'], upper: join(dir, 'up'), work: join(dir, 'work') },
      ],
      cwd: join(dir, 'here'),
    });
    expect(resolvePlan({ argv: ['true'], cwd: 'x', relativeTo: dir }).plan.cwd).toBe(join(dir, 'x'));
    expect(resolvePlan({ argv: ['true'], ops }).plan).toMatchObject({ ops: [{ source: 'src', target: 'dst' }, { upper: 'up' }], cwd: 'here' });
  });

  it('names onTaint as the caller names it', () => {
    expect(() => resolvePlan({ argv: ['true'], onTaint: 'fail' })).toThrow(expect.objectContaining({ code: 'E_PLAN_INVALID', message: expect.stringMatching(/^onTaint applies/) }));
    expect(() => resolvePlan({ argv: ['true'], onTaint: 'fail', optionName: () => '--on-taint' })).toThrow(expect.objectContaining({ message: expect.stringMatching(/^--on-taint applies/) }));
  });

  it('lets plan.ops replace every source, and says so', () => {
    const { plan: built, origins } = resolvePlan({ argv: ['true'], ops: [{ kind: 'dir', target: '/a' }], plan: { ops: [{ kind: 'proc', target: '/proc' }] } });
    expect(built.ops).toEqual([{ kind: 'proc', target: '/proc' }]);
    expect(origins).toEqual([{ from: 'ops', index: 0 }]);
  });
});

describe('image', () => {
  it('sets plan.root: a path is a read-only image, an object says how writes go', () => {
    expect(resolvePlan({ argv: ['true'], image: '/srv/app.sqfs' }).plan.root).toEqual({ image: '/srv/app.sqfs', write: 'readOnly' });
    expect(resolvePlan({ argv: ['true'], image: { path: '/srv/rootfs', write: 'writable' } }).plan.root).toEqual({ image: '/srv/rootfs', write: 'writable' });
    expect(resolvePlan({ argv: ['true'], image: { path: '/srv/rootfs', write: 'fake', fakeSize: '1G', format: 'dir' } }).plan.root).toEqual({
      image: '/srv/rootfs',
      write: 'fake',
      fakeSize: '1G',
      format: 'dir',
    });
  });

  it('keeps the ops and policy the caller gives on top of the image', () => {
    const { plan: built } = resolvePlan({ argv: ['/bin/sh'], image: { path: '/srv/rootfs', preset: false }, ops: plan().proc('/proc').dev('/dev'), hostname: 'box' });
    expect(built.ops).toEqual([
      { kind: 'proc', target: '/proc' },
      { kind: 'dev', target: '/dev' },
    ]);
    expect(built.hostname).toBe('box');
    // With the image preset (the default), after its ops.
    const { plan: preset } = resolvePlan({ argv: ['/bin/sh'], image: '/srv/rootfs', ops: plan().proc('/proc').dev('/dev'), hostname: 'box' });
    expect(preset.ops!.slice(-2)).toEqual([
      { kind: 'proc', target: '/proc' },
      { kind: 'dev', target: '/dev' },
    ]);
    expect(preset.hostname).toBe('box');
  });

  it('resolves a relative path against relativeTo, else the current directory', () => {
    expect(resolvePlan({ argv: ['true'], image: './app.sqfs', relativeTo: dir }).plan.root!.image).toBe(join(dir, 'app.sqfs'));
    expect(resolvePlan({ argv: ['true'], image: { path: 'rootfs' } }).plan.root!.image).toBe(join(process.cwd(), 'rootfs'));
  });

  it('is overridden by plan.root, as plan overrides every option', () => {
    expect(resolvePlan({ argv: ['true'], image: '/a', plan: { root: { image: '/b' } } }).plan.root).toEqual({ image: '/b' });
  });

  it('refuses bad values and combinations with E_PLAN_INVALID at root, naming the option', () => {
    const invalid = (message: RegExp): ReturnType<typeof expect.objectContaining> => expect.objectContaining({ code: 'E_PLAN_INVALID', path: 'root', message: expect.stringMatching(message) });
    expect(() => resolvePlan({ argv: ['true'], image: '' })).toThrow(invalid(/^image must be a path/));
    expect(() => resolvePlan({ argv: ['true'], image: { path: 3 } as never })).toThrow(invalid(/^image must be a path/));
    expect(() => resolvePlan({ argv: ['true'], image: { path: '/a', write: 'rw' as never } })).toThrow(invalid(/^image\.write must be one of readOnly, writable, fake/));
    expect(() => resolvePlan({ argv: ['true'], image: { path: '/a', format: 'tar' as never } })).toThrow(invalid(/^image format must be one of/));
    expect(() => resolvePlan({ argv: ['true'], image: { path: '/a', fakeSize: '1G' } })).toThrow(invalid(/^image\.fakeSize applies only to fake writes/));
    expect(() => resolvePlan({ argv: ['true'], image: { path: '/a', write: 'writable', fakeSize: '1G' } })).toThrow(invalid(/^image\.fakeSize applies only/));
    expect(() => resolvePlan({ argv: ['true'], image: { path: '/a', write: 'fake', fakeSize: '1 GB' } })).toThrow(invalid(/^image\.fakeSize must be a tmpfs size/));
    expect(() => resolvePlan({ argv: ['true'], image: '/a', preset: 'strict' })).toThrow(invalid(/^image does not combine with preset strict/));
    expect(() => resolvePlan({ argv: ['true'], image: '/a', config: configFile({ preset: 'strict' }) })).toThrow(
      expect.objectContaining({ code: 'E_PLAN_INVALID', hint: expect.stringContaining('the config file') }),
    );
    expect(() => resolvePlan({ argv: ['true'], image: '', optionName: (o) => `--${o}` })).toThrow(invalid(/^--image must be a path/));
  });
});

describe('imageUser (an OCI config\'s User as ids)', () => {
  test.each([
    ['1234', { uid: 1234 }],
    ['1234:5678', { uid: 1234, gid: 5678 }],
    ['0', { uid: 0 }],
    ['root', { uid: 0, gid: 0 }],
    ['root:root', { uid: 0, gid: 0 }],
    ['app', undefined],
    ['app:app', undefined],
    ['1000:staff', undefined],
    ['', undefined],
    [undefined, undefined],
    ['4294967295', undefined],
    ['-1', undefined],
    ['12:34:56', undefined],
  ])('%j', (user, want) => {
    expect(imageUser(user)).toEqual(want);
  });
});
