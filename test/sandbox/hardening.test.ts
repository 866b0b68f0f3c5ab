/**
 * Privileges, descriptors, Landlock scopes and mount-target safety, checked
 * from inside real sandboxes (as root and unprivileged).
 */
import { createServer, type Server } from 'node:net';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { BASE_OPS, TRY_IN, native, requireKernel, tempDir } from './helpers';

beforeAll(requireKernel);

const status = (text: string) => Object.fromEntries(text.trim().split('\n').map((l) => l.split(/:\s+/)));

describe('capabilities', () => {
  test('capAdd keeps a named capability inside the user namespace, nothing else', async () => {
    const r = await native({ argv: ['/bin/grep', '-E', '^Cap(Eff|Prm|Inh|Bnd|Amb):', '/proc/self/status'], ops: BASE_OPS, capAdd: ['CAP_NET_ADMIN'] });
    const s = status(r.stdout);
    for (const k of ['CapEff', 'CapPrm', 'CapInh', 'CapBnd', 'CapAmb']) expect([k, s[k]]).toEqual([k, '0000000000001000']);
  });

  test('capDrop removes from capAdd; an unknown name is a plan error', async () => {
    const r = await native({ argv: ['/bin/grep', '^CapEff:', '/proc/self/status'], ops: BASE_OPS, capAdd: ['ALL'], capDrop: ['CAP_SYS_ADMIN'] });
    const eff = BigInt('0x' + status(r.stdout).CapEff);
    expect(eff & (1n << 21n)).toBe(0n);
    expect(eff & (1n << 12n)).toBe(1n << 12n);
    const bad = await native({ argv: ['/bin/true'], capAdd: ['CAP_FLY'] });
    expect(bad.code).toBe(125);
    expect(bad.stderr).toBe('sandboxctl: E_PLAN_INVALID: plan.capAdd[0]: unknown capability "CAP_FLY"\n');
  });
});

describe('descriptors, argv0 and status', () => {
  test('a caller fd passes in at the number asked for, and only it', async () => {
    const r = await native({ argv: ['/bin/sh', '-c', `${TRY_IN} fds; echo through >&7`], ops: BASE_OPS, fds: [{ fd: 3, target: 7 }] }, ['pipe']);
    expect(r.stdout).toBe('0 1 2 7\n');
    expect(r.pipes[0]).toBe('through\n');
  });

  test('argv0 is what the program sees', async () => {
    const r = await native({ argv: ['/bin/sh', '-c', 'echo $0'], ops: BASE_OPS, argv0: 'my-name' });
    // sh -c puts its first operand after the script in $0; with none, argv[0]
    expect(r.stdout).toBe('my-name\n');
  });

  test('the JSON status fd gets the child pid then the exit code, as bubblewrap', async () => {
    const r = await native({ argv: ['/bin/sh', '-c', 'exit 5'], ops: BASE_OPS, statusFd: 3 }, ['pipe']);
    expect(r.code).toBe(5);
    const lines = r.pipes[0].trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([{ 'child-pid': expect.any(Number) }, { 'exit-code': 5 }]);
  });
});

describe('landlock scopes', () => {
  let server: Server;
  const name = `sbx-abstract-${process.pid}`;
  beforeAll(async () => {
    server = createServer((c) => c.on('error', () => {}).end());
    await new Promise<void>((ok) => server.listen(`\0${name}`, ok));
  });
  afterAll(() => server.close());

  test('abstract unix sockets outside the sandbox are out of reach, unless allowed', async () => {
    // A shared network namespace shares the abstract socket namespace: only Landlock stands between.
    const plan = { argv: [TRY_IN, 'connect-abstract', name], ops: BASE_OPS, network: 'host' };
    expect((await native(plan)).stdout).toBe('EPERM\n');
    expect((await native({ ...plan, landlock: { allowAbstractUnix: true } })).stdout).toBe('ok\n');
    // In its own network namespace the host's sockets do not exist at all.
    expect((await native({ ...plan, network: 'none' })).stdout).toBe('ECONNREFUSED\n');
  });
});

describe('mount targets stay inside the new root', () => {
  let image: string;
  let outside: string;
  beforeAll(() => {
    image = tempDir('sbx-image-');
    outside = tempDir('sbx-outside-');
    // An image whose directories are symlinks to host paths, absolute and relative.
    for (const d of ['usr', 'proc']) mkdirSync(`${image}/${d}`);
    symlinkSync(outside, `${image}/abs`);
    symlinkSync('../../../../../../..' + outside, `${image}/rel`);
    symlinkSync(`${outside}/file`, `${image}/filelink`);
  });
  afterAll(() => {
    rmSync(image, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  const imageOps = () => [
    { kind: 'bind', source: image, target: '/', writable: true },
    { kind: 'bind', source: '/usr', target: '/usr' },
    ...['bin', 'lib', 'lib64'].map((d) => ({ kind: 'symlink', target: `/${d}`, linkname: `usr/${d}` })),
  ];

  test('a link to a host path the image lacks: setup stops, nothing is created or mounted outside', async () => {
    for (const op of [
      { kind: 'tmpfs', target: '/abs/t1' },
      { kind: 'dir', target: '/rel/d1' },
      { kind: 'file', target: '/filelink', data: 'x' },
      { kind: 'bind', source: '/usr', target: '/abs/b1' },
    ]) {
      const before = readFileSync('/proc/self/mountinfo', 'utf8');
      const r = await native({ argv: ['/bin/true'], ops: [...imageOps(), op] });
      expect([op.target, r.code]).toEqual([op.target, 125]);
      expect(r.stderr).toMatch(/^sandboxctl: E_(MOUNT|SETUP): cannot .*: no such file or directory\n$/);
      expect(readdirSync(outside)).toEqual([]);
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).toBe(before);
    }
  });

  test('links resolve as seen from inside the image: absolute and relative land in the image', async () => {
    // The same host path exists inside the image: that is where the links lead.
    mkdirSync(`${image}${outside}`, { recursive: true });
    const r = await native({
      argv: ['/bin/sh', '-c', 'cat /proc/self/mountinfo | cut -d" " -f5 | grep -c t1; ls /abs'],
      ops: [
        ...imageOps(),
        { kind: 'proc', target: '/proc' },
        { kind: 'tmpfs', target: '/abs/t1' },
        { kind: 'dir', target: '/rel/d1' },
        { kind: 'symlink', target: '/abs/l1', linkname: 'x' },
      ],
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1\nd1\nl1\nt1\n');
    expect(readdirSync(outside)).toEqual([]);
    expect(readdirSync(`${image}${outside}`).sort()).toEqual(['d1', 'l1', 't1']);
  });

  test('bind sources are pinned: the mount comes from the fd opened in early', async () => {
    const dir = tempDir('sbx-pin-');
    mkdirSync(`${dir}/real`);
    writeFileSync(`${dir}/real/marker`, 'real\n');
    const r = await native({ argv: ['/bin/sh', '-c', 'cat /proc/self/mountinfo; cat /tmp/b/marker'], ops: [...BASE_OPS, { kind: 'bind', source: `${dir}/real`, target: '/tmp/b' }] });
    expect(r.stdout).toMatch(/real\n$/);
    const line = r.stdout.split('\n').find((l) => l.split(' ')[4] === '/tmp/b')!;
    // The mount's root is the real directory (as seen in its filesystem), never a /proc/self/fd path.
    expect(line.split(' ')[3]).toMatch(/\/real$/);
    expect(line).not.toMatch(/proc\/self\/fd/);
    rmSync(dir, { recursive: true });
  });
});
