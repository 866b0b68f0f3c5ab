/**
 * An image as the root (issue 11), for real: a busybox directory image and
 * a SquashFS of it, read-only, writable and with fake writes, checked from
 * inside; bad images refused before any namespace; the FUSE server's
 * lifetime (alive for a daemonised child, gone after SIGINT and SIGKILL of
 * the launcher, never a mount on the host).
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { INIT, native, requireKernel, tempDir, UID, until } from '../helpers';
import { busyboxRoot, imagePlan, mksquashfs, ROOT_LINE, useImages } from './fixtures';

const images = useImages(requireKernel);

/** The line of mountinfo for the root. */
const READ = 'id -u; cat /etc/image-marker; touch /x 2>&1; mount -o remount,rw / 2>&1; ' + ROOT_LINE;

describe.each([
  ['directory', () => images().dir, '(?!fuse|overlay)\\S+'],
  ['SquashFS', () => images().sqfs, 'fuse.sandboxctl'],
])('a %s image', (_kind, image, fstype) => {
  test('is the read-only root, submounts and remount included', async () => {
    const r = await native(imagePlan(image(), READ));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [uid, marker, touch, ...rest] = r.stdout.trim().split('\n');
    expect(uid).toBe(String(UID));
    expect(marker).toBe('inside the image');
    expect(touch).toMatch(/Read-only file system/);
    const root = rest.find((l) => l.split(' ')[4] === '/')!;
    expect(root.split(' ')[5].split(',')).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev']));
    expect(root.split(' - ')[1]).toMatch(new RegExp(`^(${fstype}) `));
    expect(rest.join('\n')).toMatch(/mount: permission denied|mount: .*not permitted|Operation not permitted/);
  });

  test('takes fake writes that vanish with the sandbox', async () => {
    const script = 'echo hi > /etc/new && mkdir -p /opt/a/b && cat /etc/new && ls -d /opt/a/b && ' + ROOT_LINE;
    const r = await native(imagePlan(image(), script, { write: 'fake', fakeSize: '8m' }));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^hi\n\/opt\/a\/b\n.* \/ \/ rw,nosuid,nodev.* - overlay overlay .*userxattr/);
    const again = await native(imagePlan(image(), 'cat /etc/new 2>&1; ls /opt 2>&1; true', { write: 'fake' }));
    expect(again.stdout).toMatch(/No such file or directory\n.*No such file or directory/);
    expect(existsSync(join(images().dir, 'etc/new'))).toBe(false);
  });

  test('a fake-writes size tmpfs cannot take is refused before the sandbox', async () => {
    // Caught by validation first: the size syntax.
    const r = await native(imagePlan(image(), 'true', { write: 'fake', fakeSize: '1T' }));
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/E_PLAN_INVALID: plan.root.fakeSize: size "1T" is not a tmpfs size/);
  });
});

test('a writable directory image keeps what the sandbox wrote', async () => {
  const r = await native(imagePlan(images().dir, 'echo kept > /root/w && ' + ROOT_LINE, { write: 'writable' }));
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout.split(' ')[5]).toMatch(/^rw,nosuid,nodev/);
  expect(readFileSync(join(images().dir, 'root/w'), 'utf8')).toBe('kept\n');
  rmSync(join(images().dir, 'root/w'));
});

test('a SquashFS image cannot be writable', async () => {
  const r = await native(imagePlan(images().sqfs, 'true', { write: 'writable' }));
  expect(r.code).toBe(125);
  expect(r.stderr).toMatch(/E_IMAGE_INVALID: .*app\.sqfs: a SquashFS image cannot be written/);
});

describe('bad images fail before any namespace, naming the file', () => {
  test.each([
    ['another magic', () => images().otherMagic, /E_IMAGE_INVALID: .*notes\.txt: not a directory or SquashFS image \(magic 59 6f 75 20\)/],
    ['a corrupt superblock', () => images().corrupt, /E_IMAGE_INVALID: .*corrupt\.sqfs: cannot read the SquashFS superblock: inode count 0/],
    ['a missing path', () => '/nonexistent/image', /E_IMAGE_INVALID: cannot open the image \/nonexistent\/image: no such file or directory/],
    ['a relative path', () => 'rootfs', /E_PLAN_INVALID: plan.root.image: path rootfs is not absolute/],
  ])('%s', async (_what, image, message) => {
    const r = await native(imagePlan(image(), 'echo ran'));
    expect(r.code).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
  });
});

/** The FUSE servers the launcher `pid` started (its children named squashfuse_ll). */
function serversOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(fields[1]) === pid && readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'sandboxctl-sqfs';
      } catch {
        return false;
      }
    })
    .map(Number);
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

function hostHasFuseMount(): boolean {
  return /fuse\.sandboxctl image/.test(readFileSync('/proc/self/mountinfo', 'utf8'));
}

describe('the FUSE server', () => {
  test('is out of the sandbox\'s sight and reach: not in its /proc, alive after kill -9 -1 inside', async () => {
    const script = 'cat /proc/[0-9]*/comm | grep -c sandboxctl-sqfs; sleep 30 & kill -9 -1; cat /etc/image-marker';
    const r = await native(imagePlan(images().sqfs, script));
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('0\ninside the image\n');
  });

  test('refuses an image whose tables are corrupt before the sandbox, naming the file, leaving nothing', async () => {
    // A sane superblock (detect passes it) over a garbled inode table: the
    // server's reader refuses it and the launcher reports why.
    const bytes = readFileSync(images().sqfs);
    const inodes = Number(bytes.readBigUInt64LE(64));
    bytes.fill(0xff, inodes, inodes + 64);
    const bad = join(tempDir('sbx-img-tables-'), 'tables.sqfs');
    writeFileSync(bad, bytes);
    const before = serversOf(process.pid).length;
    const r = await native(imagePlan(bad, 'echo ran'));
    expect(r.code).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/E_IMAGE_INVALID: .*tables\.sqfs: cannot read the SquashFS image/);
    expect(hostHasFuseMount()).toBe(false);
    expect(serversOf(process.pid).length).toBe(before);
  });

  test('that is killed while the sandbox runs leaves errors inside, not a hang', async () => {
    const child = spawn(INIT, ['--plan', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const code = new Promise((r) => child.on('close', r));
    child.stdin.end(JSON.stringify(imagePlan(images().sqfs, 'echo up; sleep 2; cd /not-seen-yet 2>&1; echo done')));
    expect(await until(() => stdout.includes('up'), 10_000)).toBe(true);
    const servers = serversOf(child.pid!);
    expect(servers).toHaveLength(1);
    process.kill(servers[0], 'SIGKILL');
    expect(await until(() => !alive(servers[0]), 5000)).toBe(true);
    // The sandbox ends by itself: the builtin cd fails with ENOTCONN, or the
    // shell dies of SIGBUS on a page of busybox not yet in the page cache.
    expect([0, 128 + 7]).toContain(await code);
    expect(stdout).toMatch(/^up\n/);
    expect(stdout).not.toMatch(/^up\ndone/);
    expect(hostHasFuseMount()).toBe(false);
  });

  test('serves a daemonised child after the program exited (ch-run #1161)', async () => {
    const out = tempDir('sbx-img-out-');
    const script = 'setsid sh -c "sleep 1; cat /etc/image-marker > /out/late" </dev/null >/dev/null 2>&1 & echo started';
    const r = await native(imagePlan(images().sqfs, script, {}, [{ kind: 'bind', source: out, target: '/out', writable: true }]));
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('started\n');
    expect(readFileSync(join(out, 'late'), 'utf8')).toBe('inside the image\n');
    rmSync(out, { recursive: true });
  });

  test.each([['SIGINT'], ['SIGKILL']] as const)('and every mount are gone after %s of the launcher (ch-run #1212)', async (signal) => {
    expect(hostHasFuseMount()).toBe(false);
    const child = spawn(INIT, ['--plan', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const closed = new Promise((r) => child.on('close', r));
    child.stdin.end(JSON.stringify(imagePlan(images().sqfs, 'cat /etc/image-marker; exec sleep 60')));
    expect(await until(() => stdout.includes('inside the image'), 10_000)).toBe(true);
    const servers = serversOf(child.pid!);
    expect(servers).toHaveLength(1);
    // Not dumpable (PR_SET_DUMPABLE 0): its /proc files are root's, so the
    // caller's processes cannot ptrace it or read its memory.
    expect(statSync(`/proc/${servers[0]}/mem`).uid).toBe(0);
    expect(hostHasFuseMount()).toBe(false);
    child.kill(signal);
    await closed;
    expect(await until(() => !alive(servers[0]), 5000)).toBe(true);
    expect(hostHasFuseMount()).toBe(false);
  });
});

describe('attacks from the image', () => {
  let evil: string;
  let hostDir: string;

  beforeAll(() => {
    evil = tempDir('sbx-img-evil-');
    hostDir = tempDir('sbx-img-host-');
    writeFileSync(join(hostDir, 'secret'), 'host secret\n');
    const root = join(evil, 'rootfs');
    mkdirSync(root);
    busyboxRoot(root);
    symlinkSync(hostDir, join(root, 'mnt/abs'));
    symlinkSync('../../../../../../..' + hostDir, join(root, 'mnt/dotdot'));
    symlinkSync('/proc/self/root', join(root, 'mnt/selfroot'));
    symlinkSync('/etc', join(root, 'mnt/etc'));
    copyFileSync(join(root, 'bin/busybox'), join(root, 'bin/busybox-suid'));
    chmodSync(join(root, 'bin/busybox-suid'), 0o4755);
  });

  afterAll(() => {
    rmSync(evil, { recursive: true, force: true });
    rmSync(hostDir, { recursive: true, force: true });
  });

  test.each([['mnt/abs'], ['mnt/dotdot']])('a bind target through the link %s resolves inside the image, never on the host', async (link) => {
    const src = tempDir('sbx-img-src-');
    const before = readdirSync(hostDir).sort();
    for (const write of ['readOnly', 'fake']) {
      // No tmpfs on /tmp here: the links lead to /tmp/… in the image.
      const plan = imagePlan(join(evil, 'rootfs'), `ls /${link}/ 2>&1; true`, { write });
      const r = await native({ ...plan, ops: [{ kind: 'proc', target: '/proc' }, { kind: 'bind', source: src, target: `/${link}/x` }] });
      if (write === 'readOnly') {
        // The target does not exist in the image and cannot be made there.
        expect(r.code).toBe(125);
        expect(r.stderr).toMatch(/E_MOUNT: cannot bind .* on \/mnt\/(abs|dotdot)\/x: no such file or directory/);
      } else {
        // RootFs never creates through a link: the target's parent must exist.
        expect(r.code).toBe(125);
        expect(r.stderr).toMatch(/E_MOUNT: cannot bind .* on \/mnt\/(abs|dotdot)\/x: no such file or directory/);
      }
      expect(readdirSync(hostDir).sort()).toEqual(before);
    }
    rmSync(src, { recursive: true });
  });

  test('an absolute link in a bind target resolves against the image root (ch-run resolves it on the host)', async () => {
    const src = join(hostDir, 'bound');
    writeFileSync(src, 'bound from the host\n');
    const plan = imagePlan(join(evil, 'rootfs'), 'cat /etc/image-marker');
    const r = await native({ ...plan, ops: [{ kind: 'proc', target: '/proc' }, { kind: 'bind', source: src, target: '/mnt/etc/image-marker' }] });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('bound from the host\n');
    expect(readFileSync('/etc/hostname', 'utf8')).not.toContain('bound');
    rmSync(src);
  });

  test('an image whose /etc is a link out of it: ops on /etc fail closed, never reach the host', async () => {
    const root = join(evil, 'etclink');
    busyboxRoot(root);
    rmSync(join(root, 'etc'), { recursive: true });
    symlinkSync('../../../../../..' + hostDir, join(root, 'etc'));
    const before = readdirSync(hostDir).sort();
    const ops = [{ kind: 'proc', target: '/proc' }, { kind: 'file', target: '/etc/injected', data: 'planted\n' }, { kind: 'passwd' }];
    // Read-only: the link leads to a directory the image lacks; nothing is made.
    const ro = await native({ ...imagePlan(root, 'true'), ops });
    expect(ro.code).toBe(125);
    expect(ro.stderr).toMatch(/E_(MOUNT|SETUP): .*(no such file or directory|read-only file system)/);
    // Fake writes: still nothing is created through the link (RootFs makes
    // parents only as directories it creates itself), in the image or out.
    const fake = await native({ ...imagePlan(root, 'true', { write: 'fake' }), ops });
    expect(fake.code).toBe(125);
    expect(fake.stderr).toMatch(/E_MOUNT: cannot place file \/etc\/injected: no such file or directory/);
    expect(readdirSync(hostDir).sort()).toEqual(before);
    expect(readFileSync(join(hostDir, 'secret'), 'utf8')).toBe('host secret\n');
  });

  test('a /proc/self/root link reaches the sandbox root, not the host', async () => {
    const r = await native(imagePlan(join(evil, 'rootfs'), 'cat /mnt/selfroot/etc/image-marker; ls /mnt/selfroot' + hostDir + ' 2>&1; true'));
    expect(r.stdout).toMatch(/^inside the image\n.*No such file or directory/);
  });

  test('a setuid file in the image gives nothing (nosuid, no_new_privs)', async () => {
    const r = await native(imagePlan(join(evil, 'rootfs'), '/bin/busybox-suid id -u; ' + ROOT_LINE));
    expect(r.stderr).toBe('');
    const [uid, root] = r.stdout.trim().split('\n');
    expect(uid).toBe(String(UID));
    expect(root.split(' ')[5]).toMatch(/nosuid/);
  });

  test('a device node in the image cannot be opened (nodev)', async () => {
    // Only root can make the node in the fixture; the mount flag is checked either way.
    const root = join(evil, 'rootfs');
    if (UID === 0) execFileSync('mknod', [join(root, 'dev/evil-mem'), 'c', '1', '1']);
    // No dev op: /dev is the image's own.
    const plan = imagePlan(root, '' + ROOT_LINE + '; head -c1 /dev/evil-mem 2>&1; true');
    const r = await native({ ...plan, ops: [{ kind: 'proc', target: '/proc' }] });
    const [mount, opened] = r.stdout.split('\n');
    expect(mount.split(' ')[5]).toMatch(/nodev/);
    if (UID === 0) expect(opened).toMatch(/Permission denied|Operation not permitted/);
  });

  test('a SquashFS image with hostile names is served as names, nothing more', async () => {
    const root = join(evil, 'names');
    busyboxRoot(root);
    const names = ['with\nnewline', '..."', '-rf', ' space', 'x'.repeat(255), 'tab\there', 'ünïcödé'];
    for (const n of names) writeFileSync(join(root, 'tmp', n), n);
    const sq = join(evil, 'names.sqfs');
    mksquashfs(root, sq);
    const r = await native({ ...imagePlan(sq, 'ls -A /tmp | wc -l; find /tmp -mindepth 1 | wc -l; cat /tmp/-rf; echo; cat "/tmp/ space"; echo'), ops: [{ kind: 'proc', target: '/proc' }] });
    expect(r.stderr).toBe('');
    // ls shows the newline as '?': one line per name; find prints it raw.
    expect(r.stdout).toBe(`${names.length}\n${names.length + 1}\n-rf\n space\n`);
  });
});
