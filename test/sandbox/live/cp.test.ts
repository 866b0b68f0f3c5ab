/**
 * `sandboxctl cp` against docker cp's rules (moby's integration/container/
 * copy_test.go behaviours as our own table), from the CLI and the library,
 * and its attacks: a read-only target, a symlinked parent on the host.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attach, copy, plan, SandboxError, start } from '@sandboxctl/core';
import { requireKernel } from '../helpers';
import { detached, execSh, lcli, privateRuntimeDir, stopAll } from './live-helpers';

let work: string;
beforeAll(async () => {
  requireKernel();
  privateRuntimeDir();
  work = realpathSync(mkdtempSync(join(tmpdir(), 'sbx-cp-')));
  mkdirSync(join(work, 'src/sub'), { recursive: true });
  writeFileSync(join(work, 'src/a.txt'), 'hello');
  writeFileSync(join(work, 'src/sub/b'), 'deep');
  symlinkSync('a.txt', join(work, 'src/link'));
  symlinkSync('/etc/passwd', join(work, 'src/abs'));
  await detached('cp');
});
afterAll(stopAll);

const inside = async (script: string): Promise<string> => (await execSh('cp', script)).stdout;
const cp = (src: string, dest: string) => lcli(['cp', src, dest]);

describe('into the sandbox', () => {
  test.each([
    ['a directory into an existing directory keeps its name', 'src', '/tmp/in1', true, 'ls /tmp/in1/src', 'a.txt\nabs\nlink\nsub\n'],
    ['a directory onto a new name becomes it', 'src', '/tmp/in2', false, 'ls /tmp/in2', 'a.txt\nabs\nlink\nsub\n'],
    ['SRC/. copies the contents into an existing directory', 'src/.', '/tmp/in3', true, 'ls /tmp/in3', 'a.txt\nabs\nlink\nsub\n'],
    ['a file onto a new name', 'src/a.txt', '/tmp/in4.txt', false, 'cat /tmp/in4.txt', 'hello'],
    ['a file into an existing directory', 'src/a.txt', '/tmp/in5', true, 'cat /tmp/in5/a.txt', 'hello'],
    ['links are copied as links', 'src', '/tmp/in6', true, 'readlink /tmp/in6/src/link /tmp/in6/src/abs', 'a.txt\n/etc/passwd\n'],
    ['a link source is copied as the link', 'src/link', '/tmp/in7', true, 'readlink /tmp/in7/link', 'a.txt\n'],
    ['a link source with a trailing slash... is a file: followed when it ends in /', 'src/sub/', '/tmp/in8', true, 'cat /tmp/in8/sub/b', 'deep'],
  ])('%s', async (_name, src, dest, makeDest, check, expected) => {
    if (makeDest) expect((await execSh('cp', `mkdir -p ${dest}`)).code).toBe(0);
    const r = await cp(`${work}/${src}`, `cp:${dest}`);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(await inside(check)).toBe(expected);
  });

  test('a file onto an existing file replaces it; ownership is the sandbox user\'s', async () => {
    await inside('echo old > /tmp/over.txt');
    expect((await cp(join(work, 'src/a.txt'), 'cp:/tmp/over.txt')).code).toBe(0);
    expect(await inside('cat /tmp/over.txt; echo; stat -c %u /tmp/over.txt')).toBe(`hello\n${process.getuid!()}\n`);
  });

  test.each([
    ['a missing source', 'nope', '/tmp', 'E_NOT_FOUND'],
    ['a directory onto a file', 'src', '/etc/hostname', 'E_NOT_DIR'],
    ['a destination with a trailing slash that does not exist', 'src/a.txt', '/tmp/none/', 'E_NOT_FOUND'],
    ['a destination whose parent does not exist', 'src', '/tmp/no/such', 'E_NOT_FOUND'],
    ['a read-only target', 'src', '/usr/', 'E_READ_ONLY'],
    ['an unknown sandbox', 'src', 'nosuch:/tmp', 'E_SANDBOX_NOT_FOUND'],
  ])('%s is refused with exit 125', async (_name, src, dest, code) => {
    const r = await cp(join(work, src), dest.includes(':') ? dest : `cp:${dest}`);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(code);
  });

  test('a path that tries to climb out lands inside: cp x web:/../../etc/x is /etc/x of the sandbox', async () => {
    await inside('mkdir -p /tmp/climb');
    const r = await cp(join(work, 'src/a.txt'), 'cp:/../../tmp/climb/x');
    expect(r.code).toBe(0);
    expect(await inside('cat /tmp/climb/x')).toBe('hello');
    expect(existsSync('/tmp/climb/x')).toBe(false);
  });
});

describe('out of the sandbox', () => {
  test('a tree made inside (on its tmpfs) comes out with its links as links', async () => {
    await inside('mkdir -p /tmp/out/d && echo made > /tmp/out/d/f && ln -s /etc/shadow /tmp/out/link');
    const dest = join(work, 'o1');
    mkdirSync(dest);
    expect((await cp('cp:/tmp/out', dest)).code).toBe(0);
    expect(readFileSync(join(dest, 'out/d/f'), 'utf8')).toBe('made\n');
    expect(readlinkSync(join(dest, 'out/link'))).toBe('/etc/shadow');
  });

  test('docker cp\'s rebasing: new name, /. contents, a file into a directory, errors', async () => {
    await inside('mkdir -p /tmp/out2 && echo 1 > /tmp/out2/one');
    expect((await cp('cp:/tmp/out2', join(work, 'o2'))).code).toBe(0);
    expect(readFileSync(join(work, 'o2/one'), 'utf8')).toBe('1\n');
    mkdirSync(join(work, 'o3'));
    expect((await cp('cp:/tmp/out2/.', join(work, 'o3'))).code).toBe(0);
    expect(readFileSync(join(work, 'o3/one'), 'utf8')).toBe('1\n');
    expect((await cp('cp:/tmp/out2/one', join(work, 'o3'))).code).toBe(0);
    const missing = await cp('cp:/nope', work);
    expect([missing.code, missing.stderr]).toEqual([125, 'sandboxctl: E_NOT_FOUND: could not find /nope in sandbox cp\n']);
    writeFileSync(join(work, 'afile'), '');
    expect((await cp('cp:/tmp/out2', join(work, 'afile'))).stderr).toContain('E_NOT_DIR');
  });

  test('a symlink planted on the host where a directory lands is replaced, never followed', async () => {
    const victim = join(work, 'victim');
    mkdirSync(victim);
    const dest = join(work, 'o4');
    mkdirSync(dest);
    symlinkSync(victim, join(dest, 'out'));
    expect((await cp('cp:/tmp/out', dest)).code).toBe(0);
    expect(lstatSync(join(dest, 'out')).isDirectory()).toBe(true);
    expect(existsSync(join(victim, 'd'))).toBe(false);
  });
});

test('the library: copyIn and copyOut with the same rules and codes', async () => {
  const ops = plan(['/bin/true']).roBind('/', '/').proc('/proc').dev('/dev').tmpfs('/tmp').build().ops;
  const sb = await start({ ops, name: 'cp-lib' });
  try {
    await sb.copyIn(join(work, 'src'), '/tmp/x');
    expect((await sb.exec(['/bin/cat', '/tmp/x/sub/b'], { stdio: 'pipe' })).stdout).toBe('deep');
    await sb.copyOut('/tmp/x/a.txt', join(work, 'lib-out.txt'));
    expect(readFileSync(join(work, 'lib-out.txt'), 'utf8')).toBe('hello');
    await expect(sb.copyIn(join(work, 'src'), '/usr/')).rejects.toMatchObject({ code: 'E_READ_ONLY' });
    await expect((await attach('cp-lib')).copyOut('/nope', work)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  } finally {
    await sb.stop();
  }
});

describe('hard links, fifos and devices (docker cp copies them as such)', () => {
  test('out: a hard-linked pair stays one file, a fifo a fifo; a device node only where the user may make one', async () => {
    await inside('mkdir /tmp/hl && echo x > /tmp/hl/a && ln /tmp/hl/a /tmp/hl/b && mkfifo -m 640 /tmp/hl/p');
    const dest = join(work, 'hl-out');
    const r = await cp('cp:/tmp/hl', dest);
    expect([r.code, r.stderr]).toEqual([0, '']);
    const [a, b, p] = ['a', 'b', 'p'].map((n) => lstatSync(join(dest, n)));
    expect([a!.ino === b!.ino, a!.nlink]).toEqual([true, 2]);
    expect([p!.isFIFO(), p!.mode & 0o777]).toEqual([true, 0o640]);
    const dev = await cp('cp:/dev/null', join(work, 'devnull'));
    expect([dev.code, dev.stderr]).toEqual([0, '']);
    // root may mknod on the host; a user may not, and the node is left out, as GNU tar run by a user does
    expect(existsSync(join(work, 'devnull'))).toBe(process.getuid!() === 0);
    if (process.getuid!() === 0) expect(lstatSync(join(work, 'devnull')).isCharacterDevice()).toBe(true);
  });

  test('in: the same inside the sandbox', async () => {
    const src = join(work, 'hl-src');
    mkdirSync(src);
    writeFileSync(join(src, 'a'), 'x');
    linkSync(join(src, 'a'), join(src, 'b'));
    execFileSync('mkfifo', ['-m', '600', join(src, 'p')]);
    expect((await cp(src, 'cp:/tmp/')).code).toBe(0);
    expect(await inside('cd /tmp/hl-src && [ "$(stat -c %i a)" = "$(stat -c %i b)" ] && stat -c "%h %F %a" a p')).toBe('2 regular file 644\n1 fifo 600\n');
  });
});

test('a directory swapped for a link during cp, both ways: nothing lands behind the link', async () => {
  await detached('cprace', ['/bin/sh', '-c', 'mkdir -p /tmp/keep /tmp/out && echo canary > /tmp/keep/canary; while :; do mkdir -p /tmp/out/a /tmp/in/src/sub 2>/dev/null; echo f > /tmp/out/a/f; rm -rf /tmp/out/a /tmp/in/src/sub; ln -sfn /tmp/keep /tmp/out/a; ln -sfn /tmp/keep /tmp/in/src/sub 2>/dev/null; rm -f /tmp/out/a /tmp/in/src/sub; done']);
  const host = join(work, 'race-host');
  mkdirSync(host);
  // the swapper races each copy: a refusal (E_CP_UNSAFE) or a vanished path is an answer; only where bytes land matters
  const raced = (e: unknown) => {
    if (!(e instanceof SandboxError)) throw e;
  };
  for (let round = 1; round <= 40; round++) {
    await copy('cprace:/tmp/out', join(host, `o${round}`)).catch(raced);
    await copy(join(work, 'src'), 'cprace:/tmp/in/').catch(raced);
  }
  // out: each copy holds only what /tmp/out held: `a` as a directory with `f`, or as the link itself, never /tmp/keep's canary
  let met = 0;
  for (const o of readdirSync(host)) {
    for (const e of readdirSync(join(host, o))) expect(e).toBe('a');
    const a = join(host, o, 'a');
    if (readdirSync(join(host, o)).length > 0) met++;
    if (existsSync(a) && lstatSync(a).isDirectory()) expect(readdirSync(a).filter((n) => n !== 'f')).toEqual([]);
  }
  // the copies did meet the swapper's `a` (as a directory or as the link), not only an empty /tmp/out
  expect(met).toBeGreaterThan(0);
  // in: nothing written through the swapped link into /tmp/keep
  expect((await lcli(['exec', 'cprace', '--', '/bin/ls', '/tmp/keep'])).stdout).toBe('canary\n');
  await lcli(['stop', '--timeout', '1', 'cprace']);
}, 120_000);
