/**
 * The filesystem view (`sb.fs()`, seed 001's containerFSView) from outside
 * and attacked: every operation checked against what a program inside
 * sees; links aimed at the host, `..`, a directory swapped for a link while
 * operations run, read-only places, a view after stop.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FsError, plan, SandboxError, start, type Sandbox } from '@sandboxctl/core';
import { requireKernel, tempDir, UID } from '../helpers';
import { privateRuntimeDir, stopAll } from './live-helpers';

beforeAll(() => {
  requireKernel();
  privateRuntimeDir();
});
afterEach(stopAll);

/** The host read-only at `/`, the sandbox's own /tmp. */
const hostOps = plan(['/bin/true']).roBind('/', '/').proc('/proc').dev('/dev').tmpfs('/tmp').build().ops;
/** A root of its own (tmpfs): only /usr of the host, read-only; nothing else of it exists inside. */
const ownRootOps = plan(['/bin/true'])
  .roBind('/usr', '/usr')
  .symlink('usr/bin', '/bin')
  .symlink('usr/lib', '/lib')
  .symlink('usr/lib64', '/lib64')
  .proc('/proc')
  .dev('/dev')
  .tmpfs('/tmp')
  .dir('/keep')
  .build().ops;

const sh = async (sb: Sandbox, script: string) => {
  const r = await sb.exec(['/bin/sh', '-c', script], { stdio: 'pipe' });
  expect(r.stderr).toBe('');
  return r.stdout;
};

describe('operations', () => {
  test('the issue\'s example, then every operation, checked from inside', async () => {
    const sb = await start({ ops: hostOps, name: 'view' });
    const view = sb.fs();
    const data = JSON.stringify({ hello: 'world' });
    await view.writeFile('/tmp/in.json', data);
    expect(await sh(sb, 'cat /tmp/in.json; stat -c " %u %a" /tmp/in.json')).toBe(`${data} ${UID} 644\n`);
    // what only exists inside (the sandbox's tmpfs) is what the view sees
    await sh(sb, 'mkdir -p /tmp/a/b && printf inner > /tmp/a/b/f && ln -s /tmp/a/b/f /tmp/link && ln -s /nowhere /tmp/broken');
    expect(await view.readFile('/tmp/a/b/f', 'utf8')).toBe('inner');
    expect(Buffer.isBuffer(await view.readFile('/tmp/a/b/f'))).toBe(true);
    expect(await view.lstat('/tmp/link')).toMatchObject({ name: 'link', type: 'symlink', linkTarget: '/tmp/a/b/f' });
    expect(await view.stat('/tmp/link')).toMatchObject({ name: 'link', type: 'file', size: 5, uid: UID, linkTarget: '/tmp/a/b/f' });
    expect(await view.lstat('/tmp/broken')).toMatchObject({ type: 'symlink', linkTarget: '/nowhere' });
    expect(await view.stat('/tmp/a')).toMatchObject({ type: 'dir', linkTarget: null });
    expect(await view.readdir('/tmp')).toEqual([
      { name: 'a', type: 'dir' },
      { name: 'broken', type: 'symlink' },
      { name: 'in.json', type: 'file' },
      { name: 'link', type: 'symlink' },
    ]);
    await view.mkdir('/tmp/x/y/z', { recursive: true });
    await view.mkdir('/tmp/x/y/z', { recursive: true });
    await view.mkdir('/tmp/m', { mode: 0o700 });
    await view.writeFile('/tmp/x/y/z/f', new Uint8Array([0, 1, 2, 255]), { mode: 0o600 });
    await view.writeFile('/tmp/x/y/z/f', 'more', { flag: 'a' });
    await view.rename('/tmp/x/y/z/f', '/tmp/x/g');
    await view.symlink('../x/g', '/tmp/a/rel');
    expect(await view.readlink('/tmp/a/rel')).toBe('../x/g');
    expect(await view.realpath('/tmp/a/rel')).toBe('/tmp/x/g');
    await view.chmod('/tmp/a/rel', 0o640);
    expect(await sh(sb, 'stat -c %a /tmp/m; stat -c "%a %s" /tmp/x/g; od -An -tu1 -N4 /tmp/x/g; [ -e /tmp/x/y/z/f ] || echo moved')).toBe(
      '700\n640 8\n   0   1   2 255\nmoved\n',
    );
    await view.rm('/tmp/x', { recursive: true });
    await view.rm('/tmp/link');
    await view.rm('/tmp/nothing', { force: true });
    expect(await sh(sb, 'ls /tmp /tmp/a/b')).toBe('/tmp:\na\nbroken\nin.json\nm\n\n/tmp/a/b:\nf\n');
    // a large file goes through whole, both ways
    const big = Buffer.alloc(8 << 20, 7);
    await view.writeFile('/tmp/big', big);
    expect((await view.readFile('/tmp/big')).equals(big)).toBe(true);
    expect(await sh(sb, 'wc -c < /tmp/big')).toBe(`${8 << 20}\n`);
    await view.close();
    expect(view.open).toBe(false);
    await expect(view.stat('/')).rejects.toMatchObject({ code: 'E_SANDBOX_CLOSED' });
    await sb.stop();
  });

  test('errors are SandboxErrors with stable codes and Node\'s errno, syscall and path', async () => {
    const sb = await start({ ops: hostOps, name: 'errs' });
    const view = sb.fs();
    await sh(sb, 'mkdir /tmp/full && touch /tmp/full/f /tmp/file');
    const cases: [Promise<unknown>, string, string][] = [
      [view.stat('/tmp/none'), 'E_NOT_FOUND', 'ENOENT'],
      [view.readFile('/tmp/file/x'), 'E_NOT_DIR', 'ENOTDIR'],
      [view.readFile('/tmp/full'), 'E_IS_DIR', 'EISDIR'],
      [view.mkdir('/tmp/full'), 'E_EXISTS', 'EEXIST'],
      [view.writeFile('/tmp/file', 'x', { flag: 'wx' }), 'E_EXISTS', 'EEXIST'],
      [view.rename('/tmp/file', '/tmp/full'), 'E_IS_DIR', 'EISDIR'],
      [view.rm('/tmp/full'), 'E_IS_DIR', 'EISDIR'],
      [view.rm('/'), 'E_USAGE', 'EBUSY'],
      [view.readlink('/tmp/file'), 'E_USAGE', 'EINVAL'],
      [view.chdir('/tmp/file'), 'E_NOT_DIR', 'ENOTDIR'],
    ];
    for (const [p, code, errno] of cases) {
      const e = await p.then(
        () => null,
        (error: unknown) => error,
      );
      expect(e).toBeInstanceOf(SandboxError);
      expect(e).toBeInstanceOf(FsError);
      expect(e).toMatchObject({ code, errno });
    }
    await expect(view.stat('/tmp/none')).rejects.toMatchObject({ syscall: 'stat', fsPath: '/tmp/none' });
    // the view still serves after its errors
    expect(await view.readdir('/tmp/full')).toEqual([{ name: 'f', type: 'file' }]);
    await sb.stop();
  });

  test('chdir persists per view; several views at once; calls queue in order', async () => {
    const sb = await start({ ops: hostOps, name: 'views' });
    const [a, b] = [sb.fs(), sb.fs()];
    await a.mkdir('/tmp/one/deep', { recursive: true });
    await b.mkdir('/tmp/two');
    expect(await a.chdir('/tmp/one')).toBe('/tmp/one');
    expect(await b.chdir('/tmp/two')).toBe('/tmp/two');
    await Promise.all([a.writeFile('f', 'a'), b.writeFile('f', 'b')]);
    expect(await a.chdir('deep/../..')).toBe('/tmp');
    expect([await a.cwd(), await b.cwd()]).toEqual(['/tmp', '/tmp/two']);
    expect(await a.readFile('one/f', 'utf8')).toBe('a');
    expect(await b.readFile('f', 'utf8')).toBe('b');
    // 200 calls without waiting: done one at a time, in order (each append sees the last)
    const all = [];
    for (let i = 0; i < 200; i++) all.push(a.writeFile('/tmp/log', `${i}\n`, { flag: 'a' }));
    all.push(a.readFile('/tmp/log', 'utf8'));
    const results = await Promise.all(all);
    expect(results.at(-1)).toBe(Array.from({ length: 200 }, (_, i) => `${i}\n`).join(''));
    await Promise.all([a.close(), b.close()]);
    await sb.stop();
  });
});

describe('attacks', () => {
  let host = '';
  beforeAll(() => {
    host = tempDir('sbx-view-host-');
    writeFileSync(join(host, 'secret'), 'host secret');
    mkdirSync(join(host, 'dir'));
  });
  afterAll(() => rmSync(host, { recursive: true, force: true }));

  test('links aimed at the host and `..` stay in the sandbox\'s root', async () => {
    const sb = await start({ ops: ownRootOps, name: 'esc' });
    const view = sb.fs();
    await sh(sb, `ln -s ${host} /tmp/abs && ln -s ../../../../../../..${host} /tmp/rel && ln -s /proc/self/root/${host} /tmp/magic && mkdir -p /tmp${host} && echo decoy > /tmp${host}/secret`);
    // the host's directory does not exist inside; reads see nothing of the host
    for (const p of [`${host}/secret`, `/tmp/abs/secret`, `/tmp/rel/secret`, `/../../..${host}/secret`, `/tmp/magic/secret`]) {
      await expect(view.readFile(p)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    }
    // `..` above the root is the root
    expect(await view.realpath('/../../..')).toBe('/');
    expect(await view.realpath(`/tmp/../../../tmp${host}/..`)).toBe(`/tmp${host.slice(0, host.lastIndexOf('/'))}`);
    expect(await view.readFile(`/tmp/../../..//tmp${host}/secret`, 'utf8')).toBe('decoy\n');
    // writes, mkdir, symlink, rename and chmod through the links: inside or refused, never on the host
    await expect(view.writeFile('/tmp/abs/secret', 'pwned')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    // mkdir -p does not make a dangling link's target (coreutils' and Node's rule); through a live one it lands inside
    await expect(view.mkdir('/tmp/rel/new', { recursive: true })).rejects.toMatchObject({ code: expect.stringMatching(/^E_(NOT_FOUND|EXISTS)$/) });
    await view.symlink(`../../../../../tmp${host}`, '/tmp/rel3');
    await view.mkdir('/tmp/rel3/new/deeper', { recursive: true });
    await expect(view.symlink('/etc/passwd', '/tmp/abs/planted')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await expect(view.chmod('/tmp/abs/secret', 0o777)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await expect(view.rename('/tmp/abs', '/tmp/renamed')).resolves.toBeUndefined();
    await view.rm('/tmp/renamed', { recursive: true });
    expect(readFileSync(join(host, 'secret'), 'utf8')).toBe('host secret');
    expect(readdirSync(host).sort()).toEqual(['dir', 'secret']);
    // the link's target in stat is resolved in scope
    expect(await view.lstat('/tmp/rel')).toMatchObject({ type: 'symlink', linkTarget: host });
    // mkdir -p through the `..`-link landed inside
    expect(await sh(sb, `[ -d /tmp${host}/new/deeper ] && echo inside`)).toBe('inside\n');
    expect(existsSync(join(host, 'new'))).toBe(false);
    await sb.stop();
  });

  test('read-only places stay read-only: E_READ_ONLY', async () => {
    const sb = await start({ ops: hostOps, name: 'ro' });
    const view = sb.fs();
    await expect(view.writeFile('/etc/sbx-view-x', 'x')).rejects.toMatchObject({ code: 'E_READ_ONLY', errno: 'EROFS' });
    await expect(view.mkdir('/usr/sbx-view-x')).rejects.toMatchObject({ code: 'E_READ_ONLY' });
    await expect(view.rm('/etc/hostname')).rejects.toMatchObject({ code: 'E_READ_ONLY' });
    await expect(view.rename('/etc/hostname', '/etc/h2')).rejects.toMatchObject({ code: 'E_READ_ONLY' });
    await expect(view.chmod('/etc/hostname', 0o777)).rejects.toMatchObject({ code: expect.stringMatching(/^E_(READ_ONLY|PERMISSION)$/) });
    await expect(view.symlink('x', '/etc/sbx-view-link')).rejects.toMatchObject({ code: 'E_READ_ONLY' });
    expect(existsSync('/etc/sbx-view-x') || existsSync('/usr/sbx-view-x') || existsSync('/etc/sbx-view-link')).toBe(false);
    // /proc/sys is read-only inside too
    await expect(view.writeFile('/proc/sys/kernel/hostname', 'x')).rejects.toBeInstanceOf(SandboxError);
    await sb.stop();
  });

  test('a directory swapped for a link during rm -r and writes: nothing behind the link is touched', async () => {
    const sb = await start({ ops: ownRootOps, name: 'race' });
    const view = sb.fs();
    await sh(sb, 'mkdir -p /keep/sub && echo canary > /keep/canary && echo canary > /keep/sub/canary');
    const swapper = sb.spawn(
      ['/bin/sh', '-c', 'while :; do mkdir -p /tmp/r/d/sub 2>/dev/null; rm -rf /tmp/r/d/sub; ln -sfn /keep /tmp/r/d/sub 2>/dev/null; rm -f /tmp/r/d/sub; done'],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 4000;
    let rounds = 0;
    while (Date.now() < deadline) {
      rounds++;
      await view.rm('/tmp/r/d', { recursive: true, force: true }).catch((e: unknown) => {
        // the swapper races us: a vanished or reappearing entry is fine, a followed link is not
        if (!(e instanceof SandboxError) || !['E_NOT_FOUND', 'E_NOT_EMPTY', 'E_NOT_DIR', 'E_SETUP'].includes(e.code)) throw e;
      });
      await view.writeFile('/tmp/r/d/sub/w', 'w').catch(() => {});
      await view.rm('/tmp/r/d/sub', { recursive: true, force: true }).catch(() => {});
    }
    swapper.kill('SIGKILL');
    await swapper.exited.catch(() => {});
    expect(rounds).toBeGreaterThan(50);
    // rm never went through the link: the canaries stand. A write that followed
    // the link landed inside the sandbox (a link is followed for `w`, as Node does).
    expect(await sh(sb, 'cat /keep/canary /keep/sub/canary')).toBe('canary\ncanary\n');
    await sb.stop();
  }, 30_000);

  test('a view after stop rejects with E_SANDBOX_CLOSED; a new one with E_SANDBOX_NOT_FOUND; nothing is left', async () => {
    const sb = await start({ ops: hostOps, name: 'gone' });
    const view = sb.fs();
    await view.writeFile('/tmp/x', 'x');
    const pending = view.readFile('/tmp/x', 'utf8');
    expect(await pending).toBe('x');
    await sb.stop({ timeoutMs: 1000 });
    expect(view.open).toBe(false);
    await expect(view.readFile('/tmp/x')).rejects.toMatchObject({ code: 'E_SANDBOX_CLOSED' });
    const late = sb.fs();
    await expect(late.stat('/')).rejects.toMatchObject({ code: 'E_SANDBOX_NOT_FOUND' });
    await late.close();
  });

  test('a view whose sandbox is killed under it ends its pending calls', async () => {
    const sb = await start({ ops: hostOps, name: 'killed' });
    const view = sb.fs();
    await view.stat('/');
    process.kill(sb.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    await expect(view.readFile('/etc/hostname')).rejects.toMatchObject({ code: 'E_SANDBOX_CLOSED' });
    await sb.stop().catch(() => {});
  });
});
