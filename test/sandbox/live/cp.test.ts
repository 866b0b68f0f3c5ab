/**
 * `sandboxctl cp` against docker cp's rules (moby's integration/container/
 * copy_test.go behaviours as our own table), from the CLI and the library,
 * and its attacks: a read-only target, a symlinked parent on the host.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attach, plan, start } from '@sandboxctl/core';
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
