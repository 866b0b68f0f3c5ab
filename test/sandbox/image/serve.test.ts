/**
 * What our FUSE server (image/serve.rs over the lazy reader image/sqfs.rs)
 * serves beyond bytes, checked from inside a SquashFS image that Debian's
 * mksquashfs wrote: hard links as one inode with the image's link count,
 * directories' link counts, extended attributes (`user.*`, one value long
 * enough to be stored out of line when shared), a large directory listed
 * and looked up in full, and a file read across blocks and its fragment.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { INIT, native, requireKernel, tempDir, TRY, TRY_IN } from '../helpers';
import { BUSYBOX, busyboxRoot, imagePlan, mksquashfs, requireImageTools } from './fixtures';

const LONG = 'v'.repeat(300);
let sqfs: string;
let big: Buffer;

beforeAll(() => {
  requireKernel();
  requireImageTools();
  const base = tempDir('sbx-img-serve-');
  const root = join(base, 'rootfs');
  busyboxRoot(root);
  // The host's /usr (read-only) runs sbx-try inside; Debian's merged /usr.
  mkdirSync(join(root, 'usr'));
  execFileSync('ln', ['-s', 'usr/lib', join(root, 'lib')]);
  execFileSync('ln', ['-s', 'usr/lib64', join(root, 'lib64')]);
  mkdirSync(join(root, 'srv/a/x'), { recursive: true });
  mkdirSync(join(root, 'srv/a/y'));
  writeFileSync(join(root, 'srv/one'), 'one inode\n');
  linkSync(join(root, 'srv/one'), join(root, 'srv/two'));
  linkSync(join(root, 'srv/one'), join(root, 'srv/a/three'));
  writeFileSync(join(root, 'srv/plain'), 'no attributes\n');
  // Extended attributes set on the host (python3 is in Debian's base).
  const set = (file: string, name: string, value: string) =>
    execFileSync('python3', ['-c', 'import os,sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode())', join(root, file), name, value]);
  set('srv/plain', 'user.none', '');
  execFileSync('python3', ['-c', 'import os,sys; os.removexattr(sys.argv[1], "user.none")', join(root, 'srv/plain')]);
  set('srv/one', 'user.color', 'blue');
  set('srv/one', 'user.long', LONG);
  set('srv/a', 'user.long', LONG);
  set('srv/a', 'user.dir', 'yes');
  mkdirSync(join(root, 'many'));
  for (let i = 0; i < 3000; i++) writeFileSync(join(root, 'many', `entry-${String(i).padStart(5, '0')}`), `${i}\n`);
  big = Buffer.alloc(3 * 128 * 1024 + 777);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
  writeFileSync(join(root, 'srv/big'), big);
  sqfs = join(base, 'serve.sqfs');
  mksquashfs(root, sqfs);
});

const run = (script: string) =>
  native(imagePlan(sqfs, script, {}, [{ kind: 'bind', source: '/usr', target: '/usr' }, { kind: 'bind', source: TRY, target: TRY_IN }]));

test('hard links are one inode with the image\'s link count; directories count their subdirectories', async () => {
  const r = await run('stat -c "%h %i %n" /srv/one /srv/two /srv/a/three /srv/plain; stat -c "%h %n" /srv/a /srv; cat /srv/a/three');
  expect(r.stderr).toBe('');
  const lines = r.stdout.trim().split('\n');
  const [one, two, three, plain] = lines.slice(0, 4).map((l) => l.split(' '));
  expect([one[0], two[0], three[0], plain[0]]).toEqual(['3', '3', '3', '1']);
  expect(two[1]).toBe(one[1]);
  expect(three[1]).toBe(one[1]);
  expect(plain[1]).not.toBe(one[1]);
  // /srv/a: itself, its entry and x/.. and y/..; /srv: itself, its entry and a/..
  expect(lines.slice(4, 6)).toEqual(['4 /srv/a', '3 /srv']);
  expect(lines[6]).toBe('one inode');
});

test('extended attributes are served: listed, read, shared long values, none where none', async () => {
  const r = await run(`for f in /srv/one /srv/two /srv/a /srv/plain /bin/busybox; do echo "$f"; ${TRY_IN} xattrs $f; done`);
  expect(r.stderr).toBe('');
  const sections: Record<string, string[]> = {};
  let file = '';
  for (const line of r.stdout.trim().split('\n')) {
    if (line.startsWith('/')) sections[(file = line)] = [];
    else sections[file].push(line);
  }
  const at = (f: string) => sections[f];
  expect(at('/srv/one').sort()).toEqual(['user.color=blue', `user.long=${LONG}`]);
  expect(at('/srv/two').sort()).toEqual(['user.color=blue', `user.long=${LONG}`]);
  expect(at('/srv/a').sort()).toEqual(['user.dir=yes', `user.long=${LONG}`]);
  expect(at('/srv/plain')).toEqual(['none']);
  expect(at('/bin/busybox')).toEqual(['none']);
});

test('a directory of 3000 entries is listed and looked up in full; a file reads back across blocks', async () => {
  const r = await run('ls /many | wc -l; ls /many | head -1; ls /many | tail -1; cat /many/entry-02999 /many/entry-00000; cat /srv/big | md5sum; ls /many/nope 2>&1');
  const md5 = execFileSync('md5sum', { input: big, encoding: 'utf8' }).split(' ')[0];
  expect(r.stdout).toBe(`3000\nentry-00000\nentry-02999\n2999\n0\n${md5}  -\nls: /many/nope: No such file or directory\n`);
  expect(readFileSync(sqfs).subarray(0, 4).toString()).toBe('hsqs');
});

/** The threads of the FUSE server that is a child of `launcher` (comm sandboxctl-sqfs), by name. */
function serverThreads(launcher: number): string[] {
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== launcher) continue;
      if (readFileSync(`/proc/${p}/comm`, 'utf8').trim() !== 'sandboxctl-sqfs') continue;
      return readdirSync(`/proc/${p}/task`).map((t) => readFileSync(`/proc/${p}/task/${t}/comm`, 'utf8').trim());
    } catch {
      /* gone */
    }
  }
  return [];
}

test('on one core the server serves with one thread (what it falls back to when threads cannot start): listings, look-ups, misses and reads', async () => {
  // sched_getaffinity says one core: one fuser thread, on the mount's own fd.
  const plan = imagePlan(sqfs, 'sleep 1; ls /many | wc -l; cat /many/entry-01234; ls /many/nope /many/nope 2>&1; cat /srv/big | md5sum', {});
  const child = spawn('taskset', ['-c', '0', INIT, '--plan', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  child.stdin.end(JSON.stringify(plan));
  await new Promise((r) => setTimeout(r, 500));
  const threads = serverThreads(child.pid!);
  const code = await closed;
  const md5 = execFileSync('md5sum', { input: big, encoding: 'utf8' }).split(' ')[0];
  expect(stderr).toBe('');
  // A name looked up twice is absent twice (the second from the kernel's negative entry).
  expect(stdout).toBe(`3000\n1234\nls: /many/nope: No such file or directory\nls: /many/nope: No such file or directory\n${md5}  -\n`);
  expect(code).toBe(0);
  expect(threads.filter((t) => t.startsWith('fuser-')).sort()).toEqual(['fuser-0']);
  expect(threads.filter((t) => t === 'fuser-probe')).toEqual([]);
});

test('the program\'s blocks decompressed ahead (the server\'s prefetch of argv[0]) read back as the image has them', async () => {
  // argv[0] is the image's busybox: the server decompresses its blocks into its cache while the
  // sandbox is set up; the exec and then md5sum's reads of the same file are answered from there.
  const plan = { ...imagePlan(sqfs, ''), argv: ['/bin/busybox', 'sh', '-c', 'md5sum /bin/busybox; busybox md5sum /bin/busybox'] };
  const r = await native(plan);
  const md5 = execFileSync('md5sum', [BUSYBOX], { encoding: 'utf8' }).split(' ')[0];
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe(`${md5}  /bin/busybox\n${md5}  /bin/busybox\n`);
  expect(r.code).toBe(0);
});

test('an image rebuilt at its path is served as rebuilt, the program decompressed ahead included; readers at once read the same bytes', async () => {
  // Each run mounts the image afresh (its own FUSE connection, kernel caches and server): nothing of
  // the first build may reach the second. The program is argv[0], so the server decompresses its
  // blocks ahead; it is compressible, several blocks long, and differs from build to build.
  const base = tempDir('sbx-img-rebuilt-');
  const root = join(base, 'rootfs');
  busyboxRoot(root);
  const image = join(base, 'app.sqfs');
  const prog = join(root, 'bin/prog');
  const build = (tag: string) => {
    const body = `#!/bin/sh\necho ${tag}\nfor i in 1 2 3 4; do md5sum /bin/prog & done; wait\n`;
    writeFileSync(prog, body + `# ${tag}: the same line again and again, to be compressed\n`.repeat(20000));
    chmodSync(prog, 0o755);
    mksquashfs(root, image);
    return execFileSync('md5sum', [prog], { encoding: 'utf8' }).split(' ')[0];
  };
  for (const tag of ['first', 'second']) {
    const md5 = build(tag);
    const r = await native({ ...imagePlan(image, ''), argv: ['/bin/prog'] });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${tag}\n${`${md5}  /bin/prog\n`.repeat(4)}`);
    expect(r.code).toBe(0);
  }
});
