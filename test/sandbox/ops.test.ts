/** Every op of the complete set, from inside real sandboxes. */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { BASE_OPS, UID, native, parseMountinfo, requireKernel, tempDir } from './helpers';

beforeAll(requireKernel);

const sh = (script: string, ops: object[], extra: object = {}) => native({ argv: ['/bin/sh', '-c', script], ops: [...BASE_OPS, ...ops], ...extra });

describe('overlay', () => {
  let dir: string;
  let lowers: string[];
  beforeAll(() => {
    dir = tempDir('sbx-overlay-');
    // Awkward names: overlayfs' option parser splits on , and : and honours \.
    lowers = ['low,er', 'lo:wer', 'lo\\wer'].map((n, i) => {
      const p = `${dir}/${n}`;
      mkdirSync(p);
      writeFileSync(`${p}/f${i}`, `layer${i}\n`);
      return p;
    });
  });
  // overlayfs leaves work/work at mode 000: give it back before removing.
  afterAll(() => {
    spawnSync('chmod', ['-R', 'u+rwx', dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('tmp overlay: layers merged, writes stay inside and vanish', async () => {
    const r = await sh('cat /tmp/o/f0 /tmp/o/f1 /tmp/o/f2; echo new > /tmp/o/n; cat /tmp/o/n', [{ kind: 'overlay', target: '/tmp/o', lowers, mode: 'tmp' }]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('layer0\nlayer1\nlayer2\nnew\n');
    for (const l of lowers) expect(existsSync(`${l}/n`)).toBe(false);
  });

  test('rw overlay: writes land in the host upper directory', async () => {
    const upper = `${dir}/up,per`;
    const work = `${dir}/work`;
    mkdirSync(upper);
    mkdirSync(work);
    const r = await sh('echo kept > /tmp/o/new; rm /tmp/o/f0; ls /tmp/o', [{ kind: 'overlay', target: '/tmp/o', lowers: [lowers[0]], mode: 'rw', upper, work }]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('new\n');
    expect(readFileSync(`${upper}/new`, 'utf8')).toBe('kept\n');
    expect(existsSync(`${lowers[0]}/f0`)).toBe(true); // the lower is untouched
  });

  test('ro overlay: two layers, no writes', async () => {
    const r = await sh('ls /tmp/o; touch /tmp/o/x 2>&1; true', [{ kind: 'overlay', target: '/tmp/o', lowers: lowers.slice(0, 2), mode: 'ro' }]);
    expect(r.stdout).toMatch(/^f0\nf1\n.*Read-only file system/s);
  });

  test('a missing layer is E_SOURCE_MISSING before anything runs', async () => {
    const r = await sh('true', [{ kind: 'overlay', target: '/tmp/o', lowers: [`${dir}/nope`], mode: 'tmp' }]);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/E_SOURCE_MISSING: overlay layer .*nope does not exist/);
  });
});

describe('filesystem ops', () => {
  test('mqueue, on its own and with dev', async () => {
    const r = await sh('cat /proc/self/mountinfo', [{ kind: 'mqueue', target: '/tmp/mq' }, { kind: 'dev', target: '/tmp/d', mqueue: true }]);
    const mq = parseMountinfo(r.stdout).filter((m) => m.fsType === 'mqueue').map((m) => m.mountPoint);
    expect(mq).toEqual(['/tmp/mq', '/tmp/d/mqueue']);
  });

  test('chmod changes the mode inside', async () => {
    const r = await sh('stat -c %a /tmp/w', [{ kind: 'dir', target: '/tmp/w' }, { kind: 'chmod', target: '/tmp/w', mode: 0o700 }]);
    expect(r.stdout).toBe('700\n');
  });

  test('a read-only tmpfs and a recursive remount', async () => {
    const r = await sh('touch /tmp/ro/x 2>&1; touch /tmp/t/inner/x 2>&1; true', [
      { kind: 'tmpfs', target: '/tmp/ro', readOnly: true },
      { kind: 'tmpfs', target: '/tmp/t' },
      { kind: 'tmpfs', target: '/tmp/t/inner' },
      { kind: 'remount', target: '/tmp/t', recursive: true },
    ]);
    expect(r.stdout.match(/Read-only file system/g)).toHaveLength(2);
  });

  test('passwd: the sandbox user has the host name of its uid', async () => {
    const r = await sh('id -un; grep -c . /etc/passwd', [{ kind: 'passwd', target: '/etc' }]);
    const name = UID === 0 ? 'root' : readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.split(':')[2] === String(UID))!.split(':')[0];
    expect(r.stdout).toBe(`${name}\n${UID === 0 ? 2 : 3}\n`);
  });

  test('passwd for an id the host does not know', async () => {
    const r = await sh('id -un; id -gn', [{ kind: 'passwd', target: '/etc' }], { uid: 4242, gid: 4242 });
    expect(r.stdout).toBe('sandbox\nsandbox\n');
  });

  test('autoetc: host /etc through per-entry links, its own files possible beside', async () => {
    const r = await native({
      argv: ['/bin/sh', '-c', 'readlink /etc/hostname; cat /etc/hostname; readlink /etc/mtab; cat /etc/motd; test -e /etc/passwd || echo no-passwd'],
      ops: [
        { kind: 'bind', source: '/usr', target: '/usr' },
        { kind: 'symlink', target: '/bin', linkname: 'usr/bin' },
        { kind: 'symlink', target: '/lib', linkname: 'usr/lib' },
        { kind: 'symlink', target: '/lib64', linkname: 'usr/lib64' },
        { kind: 'proc', target: '/proc' },
        { kind: 'file', target: '/etc/motd', data: 'ours\n' },
        { kind: 'autoetc' },
      ],
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`.host/hostname\n${readFileSync('/etc/hostname', 'utf8')}/proc/mounts\nours\nno-passwd\n`);
  });

  test('autoroot: every top-level host entry but the sandbox’s own', async () => {
    const r = await native({ argv: ['/bin/sh', '-c', 'ls -a /; readlink /bin'], ops: [{ kind: 'autoroot' }, { kind: 'proc', target: '/proc' }] });
    const inside = r.stdout.trim().split('\n');
    const bin = inside.pop();
    const host = readdirSync('/').filter((n) => !['proc', 'dev', 'tmp', 'mnt', 'etc'].includes(n));
    expect(inside.filter((n) => n !== '.' && n !== '..').sort()).toEqual([...host, 'proc'].sort());
    expect(bin).toBe(lstatSync('/bin').isSymbolicLink() ? readlinkSync('/bin') : undefined);
  });

  test('bind ensure creates the source (0700), optional skips a missing one', async () => {
    const dir = tempDir('sbx-ensure-');
    const r = await sh('ls -d /tmp/cache /tmp/gone 2>&1; true', [
      { kind: 'bind', source: `${dir}/made/cache`, target: '/tmp/cache', ensure: true, writable: true },
      { kind: 'bind', source: `${dir}/missing`, target: '/tmp/gone', optional: true },
    ]);
    expect(r.stdout).toMatch(/^\/tmp\/cache$/m);
    expect(r.stdout).toMatch(/cannot access '\/tmp\/gone': No such file/);
    expect(statSync(`${dir}/made/cache`).mode & 0o777).toBe(0o700);
    rmSync(dir, { recursive: true });
  });

  test('symlink dereference copies a host link', async () => {
    const dir = tempDir('sbx-deref-');
    symlinkSync('/usr/share/some/where', `${dir}/link`);
    const r = await sh('readlink /tmp/l', [{ kind: 'symlink', target: '/tmp/l', linkname: `${dir}/link`, dereference: true }]);
    expect(r.stdout).toBe('/usr/share/some/where\n');
    rmSync(dir, { recursive: true });
  });

  test('a file from a caller fd', async () => {
    const dir = tempDir('sbx-fd-');
    writeFileSync(`${dir}/data`, 'from fd\n');
    const fd = openSync(`${dir}/data`, 'r');
    const r = await sh('cat /tmp/f', [{ kind: 'file', target: '/tmp/f', sourceFd: 3 }], {});
    // fd 3 of the launcher is the first extra stdio entry
    const r2 = await native({ argv: ['/bin/cat', '/tmp/f'], ops: [...BASE_OPS, { kind: 'file', target: '/tmp/f', sourceFd: 3 }] }, [fd]);
    closeSync(fd);
    expect(r.code).toBe(125); // without the fd: a clear setup error
    expect(r.stderr).toMatch(/E_SETUP: cannot read fd 3/);
    expect(r2.stdout).toBe('from fd\n');
    rmSync(dir, { recursive: true });
  });
});
