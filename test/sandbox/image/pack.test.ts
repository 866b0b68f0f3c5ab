/**
 * `sandboxctl image pack`: a directory into SquashFS with the built-in
 * writer (backhand), checked with Debian's own reader (`unsquashfs -lln`,
 * `unsquashfs -cat`) and from inside `run --image` (served by our FUSE server, image/serve.rs).
 * Modes, owners, symlinks, hard links, empty directories, a FIFO and a large
 * sparse file with data at its ends; what the writer cannot store (hard-link
 * inodes, xattrs) is counted. Then `image inspect` and the errors.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, linkSync, mkdirSync, openSync, readdirSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageInfo, PackCounts } from '@sandboxctl/core';
import { cli, requireKernel, UID } from '../helpers';
import { busyboxRoot, requireImageTools, useScratchDirs } from './fixtures';

const scratchDir = useScratchDirs();

const BIG = 300 * 1024 * 1024 + 7;

let base: string;
let src: string;

beforeAll(() => {
  requireKernel();
  requireImageTools();
  base = scratchDir('sbx-pack-');
  src = join(base, 'rootfs');
  busyboxRoot(src);
  mkdirSync(join(src, 'srv/private/deep'), { recursive: true });
  mkdirSync(join(src, 'srv/empty'));
  chmodSync(join(src, 'srv/private'), 0o750);
  writeFileSync(join(src, 'srv/private/secret'), 'secret\n', { mode: 0o600 });
  chmodSync(join(src, 'srv/private/secret'), 0o600);
  writeFileSync(join(src, 'srv/tool'), '#!/bin/sh\necho tool\n');
  chmodSync(join(src, 'srv/tool'), 0o4755);
  symlinkSync('private/secret', join(src, 'srv/rel'));
  symlinkSync('/etc/image-marker', join(src, 'srv/abs'));
  symlinkSync('/etc', join(src, 'srv/host-etc'));
  linkSync(join(src, 'etc/passwd'), join(src, 'srv/passwd-link'));
  execFileSync('mkfifo', ['-m', '0640', join(src, 'srv/fifo')]);
  // A large sparse file with data at its start, middle and end.
  const fd = openSync(join(src, 'srv/big'), 'w');
  writeSync(fd, 'start', 0);
  writeSync(fd, 'middle', Math.floor(BIG / 2));
  writeSync(fd, 'end', BIG - 3);
  closeSync(fd);
});

async function packed(out: string, extra: string[] = []): Promise<ImageInfo & { packed: PackCounts }> {
  const r = await cli(['image', 'pack', src, out, '--json', ...extra]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as ImageInfo & { packed: PackCounts };
}

test.each(['gzip', 'zstd', 'xz'])('%s: unsquashfs reads back modes, owners, links, empty directories, a FIFO and a large file', async (compression) => {
  const out = join(base, `app-${compression}.sqfs`);
  const info = await packed(out, ['--compression', compression]);
  expect(info).toMatchObject({ format: 'squashfs', compression, packed: { hardlinksSplit: 1, mountsSkipped: 0 } });
  const list = execFileSync('unsquashfs', ['-lln', out], { encoding: 'utf8' });
  const line = (path: string): string => {
    const l = list.split('\n').find((x) => x.endsWith(`squashfs-root${path}`) || x.includes(`squashfs-root${path} -> `));
    if (l === undefined) throw new Error(`${path} not in the listing:\n${list}`);
    return l.replace(/ +/g, ' ');
  };
  expect(line('/srv/private')).toMatch(/^drwxr-x--- 0\/0 /);
  expect(line('/srv/private/secret')).toMatch(/^-rw------- 0\/0 7 /);
  expect(line('/srv/tool')).toMatch(/^-rwsr-xr-x 0\/0 /);
  expect(line('/srv/rel')).toMatch(/^lrwxrwxrwx 0\/0 .* squashfs-root\/srv\/rel -> private\/secret$/);
  expect(line('/srv/host-etc')).toMatch(/ -> \/etc$/);
  expect(line('/srv/empty')).toMatch(/^drwxr-xr-x 0\/0 /);
  expect(line('/srv/fifo')).toMatch(/^prw-r----- 0\/0 /);
  expect(line('/srv/big')).toMatch(new RegExp(`^-rw-r--r-- 0/0 ${BIG} `));
  expect(line('/bin/busybox')).toMatch(/^-rwxr-xr-x 0\/0 /);
  // A symlink to the host's /etc is stored as a link, never followed.
  expect(list).not.toMatch(/squashfs-root\/srv\/host-etc\//);
  const cat = (path: string): Buffer => execFileSync('unsquashfs', ['-cat', out, path], { maxBuffer: 1 << 30 });
  expect(cat('srv/private/secret').toString()).toBe('secret\n');
  expect(cat('srv/passwd-link').toString()).toBe(cat('etc/passwd').toString());
  const big = cat('srv/big');
  expect(big.length).toBe(BIG);
  expect([big.subarray(0, 5).toString(), big.subarray(Math.floor(BIG / 2), Math.floor(BIG / 2) + 6).toString(), big.subarray(BIG - 3).toString()]).toEqual(['start', 'middle', 'end']);
}, 120_000);

test('run --image of a packed image: busybox runs, files are the user\'s, the data reads back', async () => {
  const out = join(base, 'run.sqfs');
  await packed(out);
  const script = [
    'cat /etc/image-marker',
    'stat -c "%a %u" /srv/private /srv/private/secret',
    'cat /srv/rel',
    'readlink /srv/abs; cat /srv/abs',
    'ls -A /srv/empty | wc -l',
    'stat -c %s /srv/big; tail -c 3 /srv/big; echo',
    'stat -c %F /srv/fifo',
    'cmp /etc/passwd /srv/passwd-link && echo same',
  ].join('; ');
  // The image's own /etc/passwd (the image preset would put ch-run's in its place).
  const r = await cli(['run', '--image', out, '--image-omit', 'passwd', '--', '/bin/sh', '-c', script]);
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe(
    `inside the image\n750 ${UID}\n600 ${UID}\nsecret\n/etc/image-marker\ninside the image\n0\n${BIG}\nend\nfifo\nsame\n`,
  );
}, 60_000);

test('image inspect: a packed image, a directory, a corrupt one and a stranger', async () => {
  const out = join(base, 'inspect.sqfs');
  const made = await packed(out);
  const r = await cli(['image', 'inspect', out, '--json']);
  const info = JSON.parse(r.stdout) as ImageInfo;
  expect(info).toEqual({ path: out, format: 'squashfs', compression: 'gzip', bytes: made.bytes, files: made.files });
  const human = await cli(['image', 'inspect', out]);
  expect(human.stdout).toMatch(new RegExp(`^${out}: SquashFS \\(gzip\\), [0-9.]+ [KM]iB, ${made.files} entries\\n$`));
  const d = JSON.parse((await cli(['image', 'inspect', src, '--json'])).stdout) as ImageInfo;
  expect(d).toMatchObject({ format: 'dir', files: made.files });
  const corrupt = join(base, 'corrupt.sqfs');
  const bytes = execFileSync('cat', [out]);
  bytes.writeUInt32LE(0, 4);
  writeFileSync(corrupt, bytes);
  const notes = join(base, 'notes.txt');
  writeFileSync(notes, 'You are not an image\n');
  for (const [path, message] of [
    [corrupt, /E_IMAGE_INVALID: .*corrupt\.sqfs: cannot read the SquashFS superblock: inode count 0/],
    [notes, /E_IMAGE_INVALID: .*notes\.txt: not a directory or SquashFS image \(magic 59 6f 75 20\)/],
    [join(base, 'nope'), /E_IMAGE_INVALID: cannot open the image .*nope: no such file or directory/],
  ] as const) {
    const bad = await cli(['image', 'inspect', path]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(message);
  }
});

test('errors: an existing OUT (E_IMAGE_EXISTS; --force replaces it), OUT not *.sqfs, DIR not a directory; nothing left', async () => {
  const dir = scratchDir('sbx-pack-err-');
  const out = join(dir, 'x.sqfs');
  writeFileSync(out, 'keep');
  const exists = await cli(['image', 'pack', src, out]);
  expect(exists.code).toBe(125);
  expect(exists.stderr).toMatch(/^sandboxctl: E_IMAGE_EXISTS: .*x\.sqfs exists\nsandboxctl: hint: pass --force to replace it\n$/);
  await packed(out, ['--force']);
  expect(spawnSync('unsquashfs', ['-s', out]).status).toBe(0);
  const name = await cli(['image', 'pack', src, join(dir, 'x.img')]);
  expect(name.stderr).toMatch(/^sandboxctl: E_USAGE: .*x\.img: the output of image pack is a SquashFS file: name it \*\.sqfs or \*\.squashfs\n/);
  const notDir = await cli(['image', 'pack', out, join(dir, 'y.sqfs')]);
  expect(notDir.stderr).toMatch(/^sandboxctl: E_IMAGE_INVALID: cannot open the directory .*x\.sqfs: not a directory\n$/);
  expect(readdirSync(dir)).toEqual(['x.sqfs']);
});
