/**
 * An image config's `User` given as a name (`app`, `app:staff`,
 * `1234:staff`, `app:77`): resolved in the image's own /etc/passwd and
 * /etc/group (inside the image root, symlinks too, never the host's), for a
 * directory and a SquashFS image alike, with `run --image` and no command;
 * a name the image does not list is E_IMAGE_USER naming it. Checked from
 * inside with `id`.
 */
import { join } from 'node:path';
import { cli, requireKernel } from '../helpers';
import { busyboxLayer, dir, file, ociArchive, symlink, tar } from './archives';
import { requireImageTools, useScratchDirs } from './fixtures';

const scratchDir = useScratchDirs();
const IMAGE_OPS = ['--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp'];
const IDS = { Cmd: ['/bin/sh', '-c', 'echo $(id -u) $(id -g)'] };
const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napplication:x:7:7::/:/bin/sh\napp:x:1000:100:app:/home/app:/bin/sh\n';
const GROUP = 'root:x:0:\nusers:x:100:\nstaff:x:50:app\n';

let bb: Buffer;
beforeAll(() => {
  requireKernel();
  requireImageTools();
  bb = busyboxLayer();
});

/** An image (a directory, or SquashFS for `.sqfs`) of busybox, `extra` and `User`. */
async function image(name: string, user: string, extra: Buffer): Promise<string> {
  const parent = scratchDir('sbx-imguser-');
  const out = join(parent, name);
  const r = await cli(['image', 'import', ociArchive(join(parent, 'a.tar'), [bb, extra], { ...IDS, User: user }), out, '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return out;
}

const accounts = () => tar([dir('etc'), file('etc/passwd', PASSWD), file('etc/group', GROUP)]);

async function ids(img: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await cli(['run', ...IMAGE_OPS, '--image', img]);
  return { code: r.code ?? -1, stdout: r.stdout.trim(), stderr: r.stderr };
}

describe.each([['a directory', 'rootfs'], ['SquashFS', 'app.sqfs']])('in %s image', (_kind, name) => {
  test.each([
    ['app', '1000 100'],
    ['app:staff', '1000 50'],
    ['1234:staff', '1234 50'],
    ['app:77', '1000 77'],
  ])('User %s is the ids of the image\'s own passwd and group', async (user, want) => {
    const r = await ids(await image(name, user, accounts()));
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(want);
    expect(r.code).toBe(0);
  });

  test.each([
    ['ghost', '"ghost", which is not in the image\'s /etc/passwd'],
    // On the host, not in the image: the host's files are never read.
    ['daemon', '"daemon", which is not in the image\'s /etc/passwd'],
    ['app:wheel', '"wheel", which is not in the image\'s /etc/group'],
    // A prefix of a listed name is not that name.
    ['ap', '"ap", which is not in the image\'s /etc/passwd'],
  ])('User %s the image does not list is E_IMAGE_USER naming it, and nothing runs', async (user, named) => {
    const img = await image(name, user, accounts());
    const r = await ids(img);
    expect(r.code).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('E_IMAGE_USER');
    expect(r.stderr).toContain(named);
    expect(r.stderr).toContain(img);
  });

  test('symlinked passwd and group resolve inside the image root, never on the host', async () => {
    // `..` past the image's root stays at it (as RESOLVE_IN_ROOT): ../../../../etc/accounts/passwd is the image's.
    const extra = tar([
      dir('etc'),
      dir('etc/accounts'),
      file('etc/accounts/passwd', 'app:x:4321:4322::/:/bin/sh\n'),
      file('etc/accounts/group', 'staff:x:4323:\n'),
      symlink('etc/passwd', '../../../../etc/accounts/passwd'),
      symlink('etc/group', '/etc/accounts/group'),
    ]);
    const r = await ids(await image(name, 'app:staff', extra));
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('4321 4323');
  });

  test('a FIFO or a symlink to a device as the image\'s /etc/passwd is no passwd: E_IMAGE_USER at once, no hang', async () => {
    for (const extra of [tar([dir('etc'), { name: 'etc/passwd', type: '6', mode: 0o644 }]), tar([dir('etc'), symlink('etc/passwd', '/dev/zero')])]) {
      const started = Date.now();
      const r = await ids(await image(name, 'app', extra));
      expect(r.code).toBe(125);
      expect(r.stderr).toContain('"app", and the image has no /etc/passwd');
      expect(Date.now() - started).toBeLessThan(20_000);
    }
  });

  test('an image with no /etc/passwd: E_IMAGE_USER says so', async () => {
    // A symlink to the host's passwd by absolute path: inside the image it names nothing.
    const r = await ids(await image(name, 'root2', tar([dir('etc'), symlink('etc/passwd', '/proc/1/root/etc/passwd')])));
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('E_IMAGE_USER');
    expect(r.stderr).toMatch(/"root2", (which is not in the image's \/etc\/passwd|and the image has no \/etc\/passwd)/);
  });
});
