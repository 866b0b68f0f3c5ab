/**
 * The host's root kept in place (issue 15 part 4, init/root.rs): when a
 * plan's first op binds `/` on `/` (`--ro-bind / /`), pid 1 keeps the mount
 * namespace's own copy of the host's tree as the root instead of copying it
 * into an intermediate root, pivoting and detaching the rest. This suite
 * runs the same set-up both ways and attacks both from inside:
 *   kept   = BASE (the usual set-up: kept in place),
 *   copied = BASE + `--remount-ro /` (a mount on the root itself needs the
 *            intermediate root: the copy, as before; same mounts otherwise).
 * Both must show the same mounts with the same flags, nothing of the setup,
 * nothing of the host beyond the plan, the same errors, and the same answers
 * to attacks made with every capability kept and no filter.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { BASE, cli, native, parseMountinfo, requireKernel, type Ran } from '../helpers';

beforeAll(requireKernel);

const MODES: [string, string[]][] = [
  ['kept', []],
  ['copied', ['--remount-ro', '/']],
];

const run = (extra: string[], script: string, before: string[] = []): Promise<Ran> => cli(['run', ...before, ...BASE, ...extra, '--', '/bin/sh', '-c', script]);

/** Mountinfo without what differs between any two sandboxes (ids, anonymous device numbers). */
function mounts(text: string): string[] {
  return parseMountinfo(text).map((m) => `${m.mountPoint} ${m.root} ${m.fsType} ${m.source} ${m.options.join(',')}`);
}

describe('the same sandbox both ways', () => {
  const seen = new Map<string, string>();

  beforeAll(async () => {
    for (const [mode, extra] of MODES) {
      const r = await run(extra, 'cat /proc/self/mountinfo');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      seen.set(mode, r.stdout);
    }
  });

  test('the same mounts, with the same flags, in the same order', () => {
    expect(mounts(seen.get('kept')!)).toEqual(mounts(seen.get('copied')!));
  });

  test.each(MODES)('%s: nothing of the setup is mounted anywhere', (mode) => {
    for (const m of parseMountinfo(seen.get(mode)!)) {
      expect(m.mountPoint).not.toMatch(/^\/(host|sysroot|files|overlay\.\d+)(\/|$)/);
      expect(m.mountPoint).not.toMatch(/^\/proc\/(self|\d+)\/fd(\/|$)/);
    }
  });

  test.each(MODES)("%s: every mount is nosuid; only the plan's own are writable; only the devices and devpts lack nodev", (mode) => {
    const list = parseMountinfo(seen.get(mode)!);
    const devices = ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty'];
    const writable = [...devices, '/proc', '/dev/pts', '/dev/shm', '/tmp'];
    for (const m of list) {
      const at = m.mountPoint;
      expect({ at, nosuid: m.options.includes('nosuid') }).toEqual({
        at,
        nosuid: true,
      });
      if (!writable.includes(at))
        expect({ at, ro: m.options.includes('ro') }).toEqual({
          at,
          ro: true,
        });
      if (![...devices, '/dev/pts'].includes(at))
        expect({ at, nodev: m.options.includes('nodev') }).toEqual({
          at,
          nodev: true,
        });
    }
    for (const d of devices) {
      const m = list.filter((x) => x.mountPoint === d);
      expect(m.length).toBe(1);
      expect(m[0].options).toEqual(expect.arrayContaining(['rw', 'nosuid', 'noexec']));
      expect(m[0].options).not.toContain('nodev');
    }
  });
});

describe.each(MODES)('%s: from inside', (mode, extra) => {
  test('the root and the host paths under it are read-only; /dev/null and /tmp are writable', async () => {
    const r = await run(
      extra,
      'for p in / /usr /etc /var; do touch $p/.sbx-in-place 2>/dev/null && echo "$p writable"; done; echo x > /dev/null && echo devnull; echo x > /tmp/x && echo tmp',
    );
    expect(r.stdout.trim().split('\n')).toEqual(['devnull', 'tmp']);
  });

  test('pid 1 holds nothing of the setup: its cwd and root are /, and the program gets only stdio', async () => {
    const r = await run(extra, 'for l in cwd root; do readlink -v /proc/1/$l 2>&1; done; ls /proc/self/fd', ['--cap-add', 'ALL']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    // pid 1 is not dumpable: its links are not readable, which also hides them
    expect(lines.slice(0, 2).every((l) => l === '/' || /Permission denied/.test(l))).toBe(true);
    expect(lines.slice(2).sort()).toEqual(['0', '1', '2', '3']); // 3: ls's own directory
  });
});

/**
 * With every capability and no filter (what `--cap-add ALL --seccomp none`
 * asks for), the program can mount and unmount in its own namespace: both
 * ways must answer the same, and what the host's mounts hide stays locked.
 */
describe('attacks with every capability kept and no filter', () => {
  const attacks = [
    // remount the root writable: the flags the sandbox set are its own (as with bubblewrap)
    'mount -o remount,bind,rw / 2>/dev/null; echo "remount-rw-root $?"',
    // detach the root, /sys (a host mount: locked), and what covers /proc, /dev, /tmp
    'umount -l / 2>/dev/null; echo "umount-root $?"',
    'umount /sys 2>/dev/null; echo "umount-sys $?"',
    'umount /proc/sys 2>/dev/null; echo "umount-proc-sys $?"',
    'umount -l /proc 2>/dev/null; echo "umount-proc $?"; grep -c . /proc/self/mountinfo >/dev/null 2>&1; echo "mountinfo-after $?"',
    'umount -l /dev 2>/dev/null; echo "umount-dev $?"',
    'umount -l /tmp 2>/dev/null; echo "umount-tmp $?"',
    // every mount point the sandbox lists is a path inside it
    'awk \'{print $5}\' /proc/self/mountinfo | while read p; do [ -e "$p" ] || echo "missing $p"; done; echo listed',
  ];

  test('both ways answer the same', async () => {
    const out: string[] = [];
    for (const [, extra] of MODES) {
      const r = await run(extra, attacks.join('; '), ['--cap-add', 'ALL', '--seccomp', 'none']);
      expect(r.code).toBe(0);
      out.push(r.stdout);
    }
    expect(out[0]).toBe(out[1]);
    // host mounts are locked in both: /sys cannot be taken away to show what it covers
    expect(out[0]).toContain('umount-sys 32');
    expect(out[0]).toContain('listed');
  });
});

describe.each(MODES)('%s: op targets and errors', (mode, extra) => {
  let dir: string;
  beforeEach(() => {
    // Not under /tmp: the sandbox's own tmpfs covers that.
    dir = mkdtempSync(join(homedir(), '.sbx-in-place-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('a target through a symlink to a writable host directory creates nothing on the host', async () => {
    const victim = join(dir, 'victim');
    mkdirSync(victim);
    symlinkSync(victim, join(dir, 'link'));
    const r = await cli(['run', ...BASE, ...extra, '--dir', join(dir, 'link', 'made'), '--', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/read-only file system/);
    expect(readdirSync(victim)).toEqual([]);
  });

  test('a missing source is E_SOURCE_MISSING, a mount point under the read-only root cannot be made', async () => {
    const missing = await cli(['run', ...BASE, ...extra, '--ro-bind', '/nonexistent-sbx', '/x', '--', 'true']);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/source \/nonexistent-sbx does not exist/);
    const point = await cli(['run', ...BASE, ...extra, '--ro-bind', '/usr', join(dir, 'nope', 'usr'), '--', 'true']);
    expect(point.code).toBe(125);
    expect(point.stderr).toMatch(/cannot bind \/usr on .*: read-only file system/);
  });
});

/**
 * The same plan both ways through `sandboxctl-init --plan -`: kept, then
 * copied (a `dir` op on `/` appended: an op on the root itself needs the
 * intermediate root, and this one changes nothing, whatever the root's flags).
 */
async function bothWays(ops: object[], script: string): Promise<string[]> {
  const out: string[] = [];
  for (const extra of [[], [{ kind: 'dir', target: '/' }]]) {
    const r = await native({
      argv: ['/bin/sh', '-c', script],
      ops: [...ops, ...extra],
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    out.push(r.stdout);
  }
  return out;
}

describe('roots and binds whose flags differ from the first op', () => {
  const root = { kind: 'bind', source: '/', target: '/' };
  const proc = { kind: 'proc', target: '/proc' };
  const dev = { kind: 'dev', target: '/dev' };
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(homedir(), '.sbx-in-place-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('a writable bind without submounts below a read-only root: writable both ways, the same mounts', async () => {
    const ops = [
      root,
      proc,
      dev,
      {
        kind: 'bind',
        source: dir,
        target: dir,
        writable: true,
        recursive: false,
      },
    ];
    const [kept, copied] = await bothWays(ops, `touch ${dir}/f && echo wrote; touch /usr/.sbx 2>/dev/null || echo usr-ro; cat /proc/self/mountinfo`);
    expect(kept.split('\n').slice(0, 2)).toEqual(['wrote', 'usr-ro']);
    expect(mounts(kept.split('\n').slice(2).join('\n'))).toEqual(mounts(copied.split('\n').slice(2).join('\n')));
  });

  test('a writable bind with its submounts below a read-only root takes the intermediate root, and is writable', async () => {
    const ops = [root, proc, dev, { kind: 'bind', source: dir, target: dir, writable: true }];
    const [kept] = await bothWays(ops, `touch ${dir}/g && echo wrote`);
    expect(kept.trim()).toBe('wrote');
  });

  test.each([
    ['--dev-bind / /', { ...root, writable: true, device: true }],
    ['--bind / /', { ...root, writable: true }],
  ])('%s, then proc and dev: the same mounts both ways', async (_name, first) => {
    const [kept, copied] = await bothWays([first, proc, dev], 'cat /proc/self/mountinfo');
    expect(mounts(kept)).toEqual(mounts(copied));
    expect(mounts(kept).find((l) => l.startsWith('/ '))).toMatch(/ rw,nosuid/);
  });
});
