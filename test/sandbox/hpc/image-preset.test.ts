/**
 * The image preset from inside (issue 11, HPC): what ch-run 0.31 cannot be
 * compared on, or where we go further. Attacks on the read-only image,
 * root emulation (--fakeroot), the bind rules (no mount point made below an
 * earlier bind, a link in the image resolved in the image), the marker and
 * the image's environment file, a SquashFS image, and cross-memory attach
 * allowed (no seccomp filter) unless --seccomp strict.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, requireKernel, tempDir, TRY, UID } from '../helpers';
import { busyboxRoot, mksquashfs, requireImageTools } from '../image/fixtures';

const USER = UID === 0 ? 'root' : spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim();
let base = '';
let image = '';
let sqfs = '';
beforeAll(() => {
  requireKernel();
  requireImageTools();
  base = tempDir('sbx-hpc-');
  image = join(base, 'rootfs');
  busyboxRoot(image);
  mkdirSync(join(image, 'ch'));
  writeFileSync(join(image, 'ch/environment'), "IMG_VAR='from image'\nIMG_PATH=$PATH:/opt/app\n");
  symlinkSync('/etc', join(image, 'mnt/etc'));
  sqfs = join(base, 'app.sqfs');
  mksquashfs(image, sqfs);
});
afterAll(() => base && rmSync(base, { recursive: true, force: true }));

const ENV = () => ({ PATH: '/usr/bin:/bin', USER, HOME: base });
/** `sandboxctl run --image IMG FLAGS -- /bin/sh -c SCRIPT` with a small host environment. */
const inImage = (flags: string[], script: string, img = image, env: Record<string, string> = {}) =>
  cli(['run', '--no-config', '--no-tty', '--image', img, ...flags, '--', '/bin/sh', '-c', script], { env: { ...ENV(), ...env }, cwd: base });

describe('the read-only image stays read-only from inside', () => {
  test.each([
    ['a write to the root', 'touch /x'],
    ['a write below it', 'echo x > /etc/image-marker'],
    ['a new directory', 'mkdir /newdir'],
    ['a remount read-write, then a write', 'mount -o remount,rw / 2>/dev/null; touch /x'],
    ['a bind of / over itself read-write, then a write', 'mount --bind / /mnt 2>/dev/null; touch /mnt/x'],
    ['unmounting the root', 'umount -l / 2>/dev/null; touch /x'],
  ])('%s fails', async (_name, script) => {
    const r = await inImage([], `(${script}) 2>&1; echo "rc=$?"`);
    expect(r.stdout).toMatch(/rc=[1-9]/);
    expect(r.stdout).toMatch(/Read-only file system|Permission denied|Operation not permitted/);
    expect(existsSync(join(image, 'x'))).toBe(false);
    expect(existsSync(join(image, 'newdir'))).toBe(false);
    expect(readFileSync(join(image, 'etc/image-marker'), 'utf8')).toBe('inside the image\n');
  });

  test('every mount of the image is ro, nosuid and nodev', async () => {
    const r = await inImage([], 'awk \'$5 == "/" { print $6 }\' /proc/self/mountinfo');
    expect(r.stdout.trim().split(',')).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev']));
  });
});

describe('--fakeroot', () => {
  test('uid 0; chown, mknod c and b succeed with nothing made; a FIFO is really made; setuid answers 0', async () => {
    const script = [
      'cd /root',
      'id -u; id -g',
      'touch f && chown 123:45 f && echo chown=ok && stat -c "%u:%g" f',
      'mknod c1 c 1 3 && echo mknod-c=ok',
      'mknod b1 b 8 0 && echo mknod-b=ok',
      'ls c1 b1 2>&1 | wc -l',
      'test -e c1 || test -e b1 || echo no-device-made',
      'mkfifo p1 && test -p p1 && echo fifo-made',
    ].join('; ');
    const r = await inImage(['--write-fake', '--fakeroot'], script);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('0\n0\nchown=ok\n0:0\nmknod-c=ok\nmknod-b=ok\n2\nno-device-made\nfifo-made\n');
  });

  test('setuid and setgroups answer 0 (sbx-try, on the host libraries bound into a fake image)', async () => {
    const binds = ['--image-bind', '/usr', '--image-bind', '/lib', '--image-bind', '/lib64', '--image-bind', `${TRY}:/sbx-try`];
    const r = await inImage(['--write-fake', '--fakeroot', ...binds], '/sbx-try ids');
    expect(r.stdout).toContain('setuid(other)=ok');
    expect(r.stdout).toContain('setgroups(same)=ok');
    const plain = await inImage(['--write-fake', ...binds], '/sbx-try ids');
    expect(plain.stdout).not.toContain('setuid(other)=ok');
  });

  test('needs a writable image, before any sandbox', async () => {
    const r = await inImage(['--fakeroot'], 'true');
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^sandboxctl: E_USAGE: --fakeroot needs a writable image/);
  });
});

describe('the environment', () => {
  test("the image's /ch/environment is applied after the adjustments; --set-env after it; SANDBOXCTL_RUNNING last and kept", async () => {
    const r = await inImage(['--set-env', 'LATER=$IMG_VAR', '--unset-env', '*RUNNING'], 'echo "$IMG_VAR|$IMG_PATH|$LATER|$SANDBOXCTL_RUNNING"');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('from image|/usr/bin:/bin:/opt/app|from image|1\n');
    const off = await inImage(['--image-omit', 'image-env'], 'echo "[$IMG_VAR]"');
    expect(off.stdout).toBe('[]\n');
  });

  test('a bad line in the image file fails before the program, naming the file and line', async () => {
    const bad = join(base, 'bad-env');
    spawnSync('cp', ['-a', image, bad]);
    writeFileSync(join(bad, 'ch/environment'), 'A=1\noops\n');
    const r = await inImage([], 'echo ran', bad);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/E_PLAN_INVALID: cannot parse variable: no delimiter: \/ch\/environment:2/);
    // A FIFO there would hang pid 1: refused.
    rmSync(join(bad, 'ch/environment'));
    spawnSync('mkfifo', [join(bad, 'ch/environment')]);
    const fifo = await inImage([], 'echo ran', bad);
    expect(fifo.stderr).toMatch(/E_PLAN_INVALID: cannot read environment file \/ch\/environment: not a regular file/);
  });

  test('the other presets never get the steps', async () => {
    const r = await cli(['run', '--no-config', '--preset', 'strict', '--set-env', 'A=1', '--', '/bin/true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/E_USAGE: --set-env only applies to --image/);
  });
});

describe('binds', () => {
  test('a missing destination in a read-only image is E_TARGET_MISSING with the hint; with --write-fake it is made, in memory', async () => {
    const src = join(base, 'src1');
    mkdirSync(src);
    writeFileSync(join(src, 'f'), 'bound\n');
    const ro = await inImage(['--image-bind', `${src}:/data/in`], 'true');
    expect(ro.code).toBe(125);
    expect(ro.stderr).toMatch(/E_TARGET_MISSING: cannot bind .*: \/data\/in does not exist in the read-only image/);
    expect(ro.stderr).toMatch(/hint: .*--write-fake/);
    const fake = await inImage(['--write-fake', '--image-bind', `${src}:/data/in`], 'cat /data/in/f');
    expect(fake.stdout).toBe('bound\n');
    expect(existsSync(join(image, 'data'))).toBe(false);
  });

  test('no mount point is made below an earlier bind (it would be made on the host)', async () => {
    const src = join(base, 'src2');
    mkdirSync(src);
    const tmp = join(base, 'hosttmp');
    mkdirSync(tmp);
    const r = await inImage(['--write-fake', '--image-bind', `${src}:/tmp/made/here`], 'true', image, { TMPDIR: tmp });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/E_MOUNT: cannot create \/tmp\/made\/here: \/tmp is a bind mount/);
    expect(existsSync(join(tmp, 'made'))).toBe(false);
  });

  test("an absolute link at the destination resolves in the image, never on the host's /etc", async () => {
    const src = join(base, 'src3');
    writeFileSync(src, 'through the link\n');
    const r = await inImage(['--write-fake', '--image-bind', `${src}:/mnt/etc/linked-file`], 'cat /etc/linked-file');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('through the link\n');
    expect(existsSync('/etc/linked-file')).toBe(false);
  });
});

test('--home writes reach the host home; the image itself is untouched', async () => {
  const home = join(base, 'home');
  mkdirSync(home);
  const r = await inImage(['--home'], 'echo $HOME; echo hi > $HOME/out; touch /fake-write && echo fake-ok', image, { HOME: home });
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe(`/home/${USER}\nfake-ok\n`);
  expect(readFileSync(join(home, 'out'), 'utf8')).toBe('hi\n');
  expect(existsSync(join(image, 'fake-write'))).toBe(false);
});

test('a SquashFS image gets the same preset: passwd, the environment, the host /dev', async () => {
  const r = await inImage([], 'id -un; echo "$IMG_VAR"; test -c /dev/null && echo dev; cat /proc/self/mountinfo | awk \'$5 == "/dev" { print "host-dev" }\'', sqfs);
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe(`${USER}\nfrom image\ndev\nhost-dev\n`);
});

test("cross-memory attach works (no seccomp filter, MPI's CMA), and not with --seccomp strict", async () => {
  const binds = ['--write-fake', '--image-bind', '/usr', '--image-bind', '/lib', '--image-bind', '/lib64', '--image-bind', `${TRY}:/sbx-try`];
  // process_vm_readv of our own shell at a bad address: EFAULT once past the permission check.
  const open = await inImage(binds, '/sbx-try vm-read $$');
  expect(open.stdout.trim()).toBe('EFAULT');
  const strict = await inImage([...binds, '--seccomp', 'strict'], '/sbx-try vm-read $$');
  expect(strict.stdout.trim()).toBe('EPERM');
});

test("an image lacking a preset item's mount point: the error names the item, the hint the ways out, and each way works", async () => {
  const bare = join(base, 'bare');
  spawnSync('cp', ['-a', image, bare]);
  rmSync(join(bare, 'etc/group'));
  rmSync(join(bare, 'tmp'), { recursive: true });
  const r = await inImage([], 'echo ran', bare);
  expect(r.code).toBe(125);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/E_MOUNT: cannot place file \/etc\/group: read-only file system \(from preset image: passwd and group/);
  expect(r.stderr).toMatch(/hint: .*--write-fake.*--image-omit/);
  const fake = await inImage(['--write-fake'], 'grep -c . /etc/group; test -d /tmp && echo tmp', bare);
  expect(fake.stdout).toBe(`${UID === 0 ? 2 : 3}\ntmp\n`);
  const omitted = await inImage(['--image-omit', 'passwd', '--image-omit', 'tmp'], 'test -e /etc/group || echo no-group', bare);
  expect(omitted.stdout).toBe('no-group\n');
  expect(existsSync(join(bare, 'tmp'))).toBe(false);
});

describe('a link in the image into a bind of the host creates nothing on the host', () => {
  test.each([
    // /etc leads to the host's /dev (bound first): the passwd item would make /dev/passwd there (a root caller could).
    ['the passwd item, /etc -> /dev', [], 'etc', '/dev', '/dev/passwd'],
    // /work leads to the host's $TMPDIR (bound on /tmp): a --dir op would make the directory there.
    ['a --dir op, /work -> /tmp', ['--dir', '/work/made-by-image'], 'work', '/tmp', 'TMP/made-by-image'],
  ])('%s', async (_name, flags, link, into, made) => {
    const evil = join(base, `evil-${link}`);
    spawnSync('cp', ['-a', image, evil]);
    rmSync(join(evil, link), { recursive: true, force: true });
    symlinkSync(into, join(evil, link));
    const tmp = join(base, `tmp-${link}`);
    mkdirSync(tmp);
    const existed = existsSync(made.replace('TMP', tmp));
    const r = await inImage(['--write-fake', ...flags], 'echo ran', evil, { TMPDIR: tmp });
    expect(r.stdout).toBe('');
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/E_(MOUNT|SETUP): .*invalid cross-device link/);
    expect(r.stderr).toMatch(/hint: it would be made inside an earlier bind of a host path/);
    if (!existed) expect(existsSync(made.replace('TMP', tmp))).toBe(false);
  });
});
