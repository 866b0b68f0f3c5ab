/**
 * `image import` under attack: archives whose entries aim outside the
 * destination. Each must end in E_IMAGE_UNSAFE naming the entry, with
 * nothing outside the destination changed (a snapshot of the area around
 * it and of a victim file before and after), no staging directory left and
 * no destination made. The targets are this test's own files, never a real
 * host file, so a broken protection fails the test without harming the host.
 * Then: a 100,000-entry layer streams in bounded memory.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cli, INIT, requireKernel } from '../helpers';
import { dir, file, hardlink, ociArchive, symlink, tar, type Entry } from './archives';
import { useScratchDirs } from './fixtures';

const scratchDir = useScratchDirs();

beforeAll(requireKernel);

/** Every path below `root` with its type and content hash, sorted. */
function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    for (const name of readdirSync(p)) {
      const path = join(p, name);
      const st = lstatSync(path);
      if (st.isDirectory()) {
        out.push(`${path}/ ${(st.mode & 0o7777).toString(8)}`);
        walk(path);
      } else if (st.isSymbolicLink()) out.push(`${path} -> ${readlinkSync(path)}`);
      else out.push(`${path} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`);
    }
  };
  walk(root);
  return out.sort();
}

/**
 * A scratch area: `victim/passwd` and `victim/dir/` are what the attacks
 * aim at; `out/` will hold the destination.
 */
function scratch(): { base: string; victim: string; out: string } {
  const base = scratchDir('sbx-attack-');
  const victim = join(base, 'victim');
  execFileSync('mkdir', ['-p', join(victim, 'dir'), join(base, 'out')]);
  writeFileSync(join(victim, 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  writeFileSync(join(victim, 'dir/keep'), 'keep\n');
  return { base, victim, out: join(base, 'out') };
}

type Attack = (victim: string) => Entry[][];

const ATTACKS: Array<[string, Attack, RegExp]> = [
  ['an absolute path', (v) => [[file(`${v}/passwd`, 'pwned')]], /layer 1 \(sha256:\w+\): entry \/.*\/victim\/passwd escapes the target: is an absolute path/],
  ['a ../ path', () => [[file('../victim/passwd', 'pwned')]], /entry \.\.\/victim\/passwd escapes the target: has a \.\. component/],
  ['a ../ deep in the path', () => [[dir('a'), dir('a/b'), file('a/b/../../../victim/passwd', 'pwned')]], /has a \.\. component/],
  ['a layer-1 symlink a -> / then a layer-2 file through it', (v) => [[symlink('a', '/')], [file(`a${v}/passwd`, 'pwned')]], /layer 2 .*entry a\/.*escapes the target: its parent a is a symlink/],
  ['a symlink a -> .. then a/x in the same layer', () => [[symlink('a', '..'), file('a/victim/passwd', 'pwned')]], /its parent a is a symlink/],
  ['a symlink to the victim\'s directory, then a file in it', (v) => [[symlink('d', `${v}/dir`)], [file('d/keep', 'pwned')]], /its parent d is a symlink/],
  ['a hard link to /etc/passwd', () => [[hardlink('h', '/etc/passwd')]], /entry h escapes the target: its hard link target \/etc\/passwd is an absolute path/],
  ['a hard link to ../../victim/passwd', () => [[hardlink('h', '../../victim/passwd')]], /its hard link target \.\.\/\.\.\/victim\/passwd has a \.\. component/],
  ['a hard link through a symlink', (v) => [[symlink('l', `${v}`), hardlink('h', 'l/passwd')]], /its parent l is a symlink/],
  ['a whiteout ../.wh.x', () => [[file('../.wh.victim')]], /entry \.\.\/\.wh\.victim escapes the target: has a \.\. component/],
  ['a whiteout of ..', () => [[dir('a')], [file('a/.wh..')]], /entry a\/\.wh\.\. escapes the target: is a whiteout of/],
  ['a PAX path with ..', () => [[{ ...file('innocent', 'pwned'), pax: { path: '../victim/passwd' } }]], /entry \.\.\/victim\/passwd escapes the target: has a \.\. component/],
  ['a PAX path that is absolute', (v) => [[{ ...file('innocent', 'pwned'), pax: { path: `${v}/passwd` } }]], /is an absolute path/],
  ['a PAX linkpath to outside', () => [[{ ...hardlink('h', 'innocent'), pax: { linkpath: '../victim/passwd' } }]], /its hard link target \.\.\/victim\/passwd has a \.\. component/],
  ['a GNU long name with ..', () => [[file(`${'x'.repeat(120)}/../../victim/passwd`, 'pwned')]], /has a \.\. component/],
  ['a symlink loop', () => [[symlink('l1', 'l2'), symlink('l2', 'l1'), file('l1/x', 'x')]], /its parent l1 is a symlink/],
  ['an opaque marker under a symlink', (v) => [[symlink('o', `${v}/dir`)], [file('o/.wh..wh..opq')]], /entry o\/\.wh\.\.wh\.\.opq escapes the target: its parent o is a symlink/],
  ['a whiteout under a symlink', (v) => [[symlink('o', `${v}/dir`)], [file('o/.wh.keep')]], /its parent o is a symlink/],
];

describe.each(['rootfs', 'app.sqfs'])('into %s', (name) => {
  test.each(ATTACKS)('%s: E_IMAGE_UNSAFE, nothing outside changed, nothing left', async (_what, layers, message) => {
    const { base, victim, out } = scratch();
    const archive = join(base, 'evil.tar');
    ociArchive(archive, layers(victim).map(tar));
    const before = snapshot(base);
    const r = await cli(['image', 'import', archive, join(out, name)]);
    expect(r.stderr).toMatch(/^sandboxctl: E_IMAGE_UNSAFE: /);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(125);
    expect(snapshot(base)).toEqual(before);
    expect(readdirSync(out)).toEqual([]);
    rmSync(base, { recursive: true, force: true });
  });
});

test('a symlink replaced by a directory in a later layer, then written: lands inside', async () => {
  const { base, victim, out } = scratch();
  const archive = ociArchive(join(base, 'ok.tar'), [tar([symlink('d', `${victim}/dir`)]), tar([dir('d'), file('d/keep', 'mine')])]);
  const before = snapshot(victim);
  const r = await cli(['image', 'import', archive, join(out, 'rootfs')]);
  expect(r.stderr).toBe('');
  expect(readFileSync(join(out, 'rootfs/d/keep'), 'utf8')).toBe('mine');
  expect(lstatSync(join(out, 'rootfs/d')).isDirectory()).toBe(true);
  expect(snapshot(victim)).toEqual(before);
});

test('device nodes are not made, and counted; setuid bits dropped', async () => {
  const { base, out } = scratch();
  const archive = ociArchive(join(base, 'dev.tar'), [tar([dir('dev'), { name: 'dev/sda', type: '3', mode: 0o666 }, file('su', '#!/bin/sh\n', 0o4755)])]);
  const r = await cli(['image', 'import', archive, join(out, 'rootfs'), '--json']);
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout).imported.devicesSkipped).toBe(1);
  expect(readdirSync(join(out, 'rootfs/dev'))).toEqual([]);
  expect(lstatSync(join(out, 'rootfs/su')).mode & 0o7777).toBe(0o755);
});

test('a 100,000-entry layer streams: bounded memory, every entry made', () => {
  const { base, out } = scratch();
  const entries: Entry[] = [];
  for (let d = 0; d < 100; d += 1) {
    entries.push(dir(`d${d}`));
    for (let f = 0; f < 1000; f += 1) entries.push(file(`d${d}/f${f}`, f === 0 ? `${d}` : ''));
  }
  const layer = tar(entries);
  const archive = ociArchive(join(base, 'many.tar'), [layer]);
  // The layer alone is 50 MiB uncompressed; memory must not grow with it.
  expect(layer.length).toBeGreaterThan(50_000_000);
  const r = spawnSync('/usr/bin/time', ['-f', 'maxrss=%M', INIT, 'image', 'import', archive, join(out, 'rootfs')], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  const info = JSON.parse(r.stdout) as { files: number; imported: { files: number; dirs: number } };
  expect(info.imported).toMatchObject({ files: 100_000, dirs: 100 });
  // Plus /.sandboxctl and its image.json.
  expect(info.files).toBe(100_100 + 2);
  const kib = Number(/maxrss=(\d+)/.exec(r.stderr)?.[1]);
  // The paths of one layer are kept for the opaque rule (a few MiB); no file data is.
  expect(kib).toBeLessThan(64 * 1024);
  expect(readFileSync(join(out, 'rootfs/d99/f0'), 'utf8')).toBe('99');
  rmSync(base, { recursive: true, force: true });
}, 120_000);

test('a gzip bomb of a header: a 1 TiB size claim in a short stream is E_IMAGE_INVALID, nothing left', async () => {
  const { base, out } = scratch();
  const bogus = tar([file('big', 'tiny')]);
  // Claim 2^40 bytes of data that never come.
  bogus.write(`${(2 ** 40).toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  bogus.fill(' ', 148, 156);
  let sum = 0;
  for (const b of bogus.subarray(0, 512)) sum += b;
  bogus.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  const archive = ociArchive(join(base, 'bomb.tar'), [bogus]);
  expect(gzipSync(bogus).length).toBeLessThan(4096);
  const r = await cli(['image', 'import', archive, join(out, 'rootfs')]);
  expect(r.code).toBe(125);
  expect(r.stderr).toMatch(/^sandboxctl: E_IMAGE_INVALID: layer 1 .*(cannot write big|not a readable tar)/);
  expect(readdirSync(out)).toEqual([]);
});
