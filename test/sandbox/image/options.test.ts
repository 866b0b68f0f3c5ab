/**
 * An image as the root the way users ask for it: the CLI's `--image`,
 * `--write`, `--write-fake` and `--write-fake-size`, and the library's
 * `image` option, on the busybox directory image and its SquashFS, checked
 * from inside.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { plan, run } from '@sandboxctl/core';
import { cli, requireKernel, UID } from '../helpers';
import { ROOT_LINE, useImages } from './fixtures';

const images = useImages(requireKernel);

const OPS = ['--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp'];

/** `sandboxctl ARGS… -- /bin/sh -c SCRIPT` in the images' directory, so `./rootfs` and `./app.sqfs` name them. */
const inImages = (args: string[], script: string) => cli([...args, '--', '/bin/sh', '-c', script], { cwd: images().base });

describe.each([
  ['directory', './rootfs'],
  ['SquashFS', './app.sqfs'],
])('sandboxctl run --image, a %s', (_kind, path) => {
  test('is the read-only root, with the op flags on top', async () => {
    const r = await inImages(['run', '--image', path, ...OPS], 'id -u; cat /etc/image-marker; touch /x 2>&1; ls /proc/self/exe; ' + ROOT_LINE);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [uid, marker, touch, exe, root] = r.stdout.trim().split('\n');
    expect(uid).toBe(String(UID));
    expect(marker).toBe('inside the image');
    expect(touch).toMatch(/Read-only file system/);
    expect(exe).toBe('/proc/self/exe');
    expect(root!.split(' ')[5]!.split(',')).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev']));
  });

  test('--write-fake --write-fake-size: writes in memory, gone after the run', async () => {
    const r = await inImages(['run', '--image', path, '--write-fake', '--write-fake-size', '8m', ...OPS], 'echo hi > /etc/new && cat /etc/new && ' + ROOT_LINE);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^hi\n.* \/ \/ rw,nosuid,nodev.* - overlay overlay /);
    const again = await inImages(['run', '--image', path, '--write-fake', ...OPS], 'cat /etc/new 2>&1; true');
    expect(again.stdout).toMatch(/No such file or directory/);
    expect(existsSync(join(images().dir, 'etc/new'))).toBe(false);
  });

  test('sandboxctl explain and plan name the root', async () => {
    const explained = await inImages(['explain', '--no-config', '--image', path, '--write-fake', ...OPS], 'true');
    expect(explained.code).toBe(0);
    expect(explained.stdout).toContain(`root:      image ${join(images().base, path)}, writable in memory (at most 12%): writes are gone after the run`);
    const planned = await inImages(['plan', '--no-config', '--json', '--image', path, ...OPS], 'true');
    expect(JSON.parse(planned.stdout).root).toEqual({ image: join(images().base, path), write: 'readOnly' });
  });
});

test('sandboxctl run --image DIR --write changes the directory image', async () => {
  const r = await inImages(['run', '--image', './rootfs', '--write', ...OPS], 'echo kept > /root/w');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(readFileSync(join(images().dir, 'root/w'), 'utf8')).toBe('kept\n');
  rmSync(join(images().dir, 'root/w'));
});

test('sandboxctl run: a SquashFS image with --write, a file that is no image, a missing one', async () => {
  const sqfs = await inImages(['run', '--image', './app.sqfs', '--write', ...OPS], 'true');
  expect(sqfs.code).toBe(125);
  expect(sqfs.stderr).toMatch(/E_IMAGE_INVALID: .*app\.sqfs: a SquashFS image cannot be written/);
  expect(sqfs.stderr).toMatch(/\nsandboxctl: hint: --write changes a directory image; for writes that vanish with the sandbox, use --write-fake\n$/);
  const notes = await inImages(['run', '--image', './notes.txt', ...OPS], 'true');
  expect(notes.code).toBe(125);
  expect(notes.stderr).toMatch(/E_IMAGE_INVALID: .*notes\.txt: not a directory or SquashFS image \(magic 59 6f 75 20\)/);
  const missing = await inImages(['run', '--image', './nope', ...OPS], 'true');
  expect(missing.code).toBe(125);
  expect(missing.stderr).toMatch(/^sandboxctl: E_\w+: .*nope/);
});

test('sandboxctl run: the write flags without --image are usage errors, before any sandbox', async () => {
  const r = await inImages(['run', '--write-fake', ...OPS], 'true');
  expect(r.code).toBe(125);
  expect(r.stderr).toMatch(/^sandboxctl: E_USAGE: --write-fake only applies to --image/);
});

describe('run({ image })', () => {
  const ops = () => plan().proc('/proc').dev('/dev').tmpfs('/tmp');

  test.each([
    ['directory', () => images().dir],
    ['SquashFS', () => images().sqfs],
  ])('a %s path is the read-only root', async (_kind, image) => {
    const r = await run({ argv: ['/bin/sh', '-c', 'id -u; cat /etc/image-marker; touch /x 2>&1; true'], image: image(), ops: ops(), stdio: 'pipe' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${UID}\ninside the image\n.*Read-only file system\n$`));
  });

  test('{ path, write: "fake", fakeSize } takes writes that vanish; a relative path resolves against relativeTo', async () => {
    const r = await run({ argv: ['/bin/sh', '-c', 'echo hi > /etc/new && cat /etc/new'], image: { path: 'app.sqfs', write: 'fake', fakeSize: '8m' }, relativeTo: images().base, ops: ops() });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('hi\n');
  });

  test('{ write: "writable" } on a SquashFS image rejects with E_IMAGE_INVALID; with a preset, E_PLAN_INVALID', async () => {
    await expect(run({ argv: ['/bin/true'], image: { path: images().sqfs, write: 'writable' }, ops: ops() })).rejects.toMatchObject({ code: 'E_IMAGE_INVALID' });
    await expect(run({ argv: ['/bin/true'], image: images().dir, preset: 'strict' })).rejects.toMatchObject({ code: 'E_PLAN_INVALID', path: 'root' });
  });
});
