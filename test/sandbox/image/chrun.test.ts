/**
 * Side by side with Debian's charliecloud-runtime (ch-run 0.31) on the
 * same images, where the root stage overlaps: the same answers, or a
 * listed difference (each test says which and why). ch-run 0.31 has no
 * --write-fake; its SquashFS support is its internal squashfuse.
 * The environment, passwd and default binds are the `image` preset's
 * (HPC) and are compared there.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { native, requireKernel, tempDir, UID } from '../helpers';
import { imagePlan, mksquashfs, useImages } from './fixtures';

const CH_RUN = '/usr/bin/ch-run';
const requireChRun = (): void => {
  if (spawnSync(CH_RUN, ['--version']).error) throw new Error('the ch-run comparison needs ch-run 0.31: apt-get install charliecloud-runtime');
};
const images = useImages(requireKernel, requireChRun);

function chRun(args: string[], script: string): { code: number | null; stdout: string; stderr: string } {
  const user = process.env.USER ?? (UID === 0 ? 'root' : spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim());
  const r = spawnSync(CH_RUN, [...args, '--', '/bin/sh', '-c', script], { encoding: 'utf8', env: { PATH: '/bin:/usr/bin', USER: user, HOME: '/' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const SCRIPT = 'id -u; id -g; cat /etc/image-marker; touch /x 2>&1; awk \'$5 == "/" { print $6 }\' /proc/self/mountinfo | tr , "\\n" | grep -x ro';

describe.each([
  ['directory', () => images().dir],
  ['SquashFS', () => images().sqfs],
])('a %s image', (_kind, image) => {
  test('same ids, same files, same read-only root', async () => {
    const theirs = chRun([image()], SCRIPT);
    const ours = await native(imagePlan(image(), SCRIPT));
    expect(theirs.stderr).toBe('');
    expect(ours.stderr).toBe('');
    expect(ours.stdout).toBe(theirs.stdout);
    expect(ours.stdout).toBe(`${UID}\n${process.getgid!()}\ninside the image\ntouch: /x: Read-only file system\nro\n`);
  });
});

test('a bind destination missing in a read-only image: both refuse, naming the read-only image', async () => {
  const src = tempDir('sbx-chrun-src-');
  const theirs = chRun(['-b', `${src}:/mnt/nope`, images().dir], 'true');
  const ours = await native(imagePlan(images().dir, 'true', {}, [{ kind: 'bind', source: src, target: '/mnt/nope' }]));
  expect(theirs.code).not.toBe(0);
  expect(theirs.stderr).toMatch(/can't mkdir: .*\/mnt\/nope: Read-only file system/);
  expect(ours.code).toBe(125);
  expect(ours.stderr).toMatch(/E_MOUNT: cannot bind .* on \/mnt\/nope: read-only file system/);
  rmSync(src, { recursive: true });
});

test('difference: an absolute link at a bind destination resolves in the image here, on the host in ch-run', async () => {
  const base = tempDir('sbx-chrun-link-');
  const root = join(base, 'rootfs');
  spawnSync('cp', ['-a', images().dir, root]);
  symlinkSync('/etc', join(root, 'mnt/etc'));
  const src = join(base, 'src');
  writeFileSync(src, 'bound\n');
  const theirs = chRun(['-b', `${src}:/mnt/etc/image-marker`, root], 'cat /etc/image-marker');
  // ch-run follows /etc to the host's, finds no image-marker there and will
  // not create one through an absolute link.
  expect(theirs.stderr).toMatch(/can't mkdir: symlink not relative: .*\/mnt\/etc/);
  const ours = await native(imagePlan(root, 'cat /etc/image-marker', {}, [{ kind: 'bind', source: src, target: '/mnt/etc/image-marker' }]));
  expect(ours.stderr).toBe('');
  expect(ours.stdout).toBe('bound\n');
  rmSync(base, { recursive: true, force: true });
});

test('difference: a daemonised child still reads a SquashFS image after the command exits (ch-run #1161)', async () => {
  const script = (out: string) => `setsid sh -c "sleep 1; cat /etc/image-marker > ${out}/late" </dev/null >/dev/null 2>&1 & echo started`;
  const theirsOut = tempDir('sbx-chrun-out-');
  chRun(['-b', `${theirsOut}:/mnt`, images().sqfs], script('/mnt'));
  await new Promise((r) => setTimeout(r, 2000));
  let theirs = '';
  try {
    theirs = readFileSync(join(theirsOut, 'late'), 'utf8');
  } catch {
    /* never written */
  }
  // ch-run unmounts the image when the command exits: the child reads nothing.
  expect(theirs).toBe('');
  const oursOut = tempDir('sbx-chrun-out-');
  mkdirSync(join(oursOut, 'x'));
  const ours = await native(imagePlan(images().sqfs, script('/mnt'), {}, [{ kind: 'bind', source: oursOut, target: '/mnt', writable: true }]));
  expect(ours.stdout).toBe('started\n');
  expect(readFileSync(join(oursOut, 'late'), 'utf8')).toBe('inside the image\n');
  rmSync(theirsOut, { recursive: true, force: true });
  rmSync(oursOut, { recursive: true, force: true });
});

test('files a SquashFS image stores as root are the user\'s, a 0700 directory open to them, as in ch-run', async () => {
  const base = tempDir('sbx-chrun-perm-');
  const root = join(base, 'rootfs');
  spawnSync('cp', ['-a', images().dir, root]);
  mkdirSync(join(root, 'root/private'), { recursive: true, mode: 0o700 });
  writeFileSync(join(root, 'root/private/f'), 'private\n', { mode: 0o600 });
  spawnSync('chmod', ['0700', join(root, 'root'), join(root, 'root/private')]);
  const sq = join(base, 'p.sqfs');
  // Stored as root's, as images usually are.
  mksquashfs(root, sq);
  const theirs = chRun([sq], 'cat /root/private/f');
  const ours = await native(imagePlan(sq, 'cat /root/private/f'));
  expect(theirs.stdout).toBe('private\n');
  expect(ours.stdout).toBe(theirs.stdout);
  // Both show the files stored as root's as the user's: the FUSE mount is
  // made in a namespace that maps 0 to the user (ch-run's outer namespace).
  const theirsOwner = chRun([sq], 'stat -c %u /root/private/f');
  const owner = await native(imagePlan(sq, 'stat -c %u /root/private/f'));
  expect(owner.stdout).toBe(`${UID}\n`);
  expect(owner.stdout).toBe(theirsOwner.stdout);
  rmSync(base, { recursive: true, force: true });
});

test('files a SquashFS image stores under another owner (the user\'s own uid, packed unprivileged) are shown alike', async () => {
  const sq = join(images().base, 'own.sqfs');
  spawnSync('mksquashfs', [images().dir, sq, '-noappend', '-quiet', '-no-progress']);
  const theirs = chRun([sq], 'stat -c %u /bin/busybox');
  const ours = await native(imagePlan(sq, 'stat -c %u /bin/busybox'));
  // Root packs and sees 0; an unprivileged user sees the overflow id 65534
  // in both: one id is mapped, and it stands for owner 0.
  expect(ours.stdout).toBe(UID === 0 ? '0\n' : '65534\n');
  expect(ours.stdout).toBe(theirs.stdout);
});
