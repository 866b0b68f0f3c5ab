/**
 * `sandboxctl image import` with real archives (podman's oci-archive and
 * docker-archive of a busybox root) and hand-written ones (an OCI layout
 * directory, layers in gzip, zstd and plain tar with whiteouts and opaque
 * directories), then `run --image` of what it made, checked from inside.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importImage, run, type ImageInfo, type ImageMeta, type ImageProgress, type ImportCounts } from '@sandboxctl/core';
import { CLI, cli, requireKernel, UID } from '../helpers';
import { busyboxLayer, dir, dockerArchive, file, ociArchive, ociMembers, podmanArchives, symlink, tar, type PodmanArchives } from './archives';
import { requireImageTools, useScratchDirs } from './fixtures';

const scratchDir = useScratchDirs();

const IMAGE_OPS = ['--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp'];

let base: string;
let real: PodmanArchives;
let bb: Buffer;

beforeAll(() => {
  requireKernel();
  requireImageTools();
  base = scratchDir('sbx-import-');
  real = podmanArchives(base);
  bb = busyboxLayer();
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** `image import --json`, parsed; fails the test on an error. */
async function imported(src: string, dest: string, extra: string[] = []): Promise<ImageInfo & { imported: ImportCounts; meta: ImageMeta }> {
  const r = await cli(['image', 'import', src, dest, '--json', ...extra]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as ImageInfo & { imported: ImportCounts; meta: ImageMeta };
}

async function inImage(image: string, script: string): Promise<string> {
  const r = await cli(['run', '--image', image, ...IMAGE_OPS, '--', '/bin/sh', '-c', script]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

/** No staging directory or file left beside `dest`. */
function noStaging(parent: string): void {
  expect(readdirSync(parent).filter((n) => /\.(import|pack)-/.test(n))).toEqual([]);
}

describe.each([
  ['podman oci-archive', () => real.oci, 'oci-archive'],
  ['podman docker-archive', () => real.docker, 'docker-archive'],
])('a %s', (_name, archive, source) => {
  test.each([['a directory', 'rootfs'], ['SquashFS', 'app.sqfs']])('into %s, then run from inside', async (_kind, name) => {
    const out = join(scratchDir('sbx-imp-'), name);
    const info = await imported(archive(), out);
    expect(info.format).toBe(name.endsWith('.sqfs') ? 'squashfs' : 'dir');
    expect(info.meta).toMatchObject({ source, env: expect.arrayContaining(['GREETING=from-the-config']), entrypoint: ['/bin/sh', '-c'], cmd: ['echo cmd ran in $(pwd)'], workingDir: '/etc' });
    expect(info.environment).toContain('GREETING=from-the-config\n');
    expect(info.imported.layers).toBe(1);
    expect(await inImage(out, 'cat /etc/image-marker; id -u; cat /ch/environment | grep GREETING; busybox | head -1 | cut -d" " -f1')).toBe(
      `inside the image\n${UID}\nGREETING=from-the-config\nBusyBox\n`,
    );
    // What inspect reads back is what import reported.
    const again = await cli(['image', 'inspect', out, '--json']);
    expect((JSON.parse(again.stdout) as ImageInfo).meta).toEqual(info.meta);
    noStaging(join(out, '..'));
  });
});

test('with no command, run --image runs the image\'s own; an image without one is a usage error', async () => {
  const out = join(scratchDir('sbx-imp-'), 'rootfs');
  await imported(real.docker, out);
  const r = await cli(['run', '--image', out, ...IMAGE_OPS]);
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe('cmd ran in /etc\n');
  const chdir = await cli(['run', '--image', out, ...IMAGE_OPS, '--chdir', '/bin']);
  expect(chdir.stdout).toBe('cmd ran in /bin\n');
  const bare = join(scratchDir('sbx-imp-'), 'bare');
  await imported(ociArchive(join(base, 'bare.tar'), [bb]), bare);
  const none = await cli(['run', '--image', bare, ...IMAGE_OPS]);
  expect(none.code).toBe(125);
  expect(none.stderr).toMatch(/^sandboxctl: E_USAGE: no command given, and the image stores none/);
  const noImage = await cli(['run', ...IMAGE_OPS]);
  expect(noImage.stderr).toMatch(/^sandboxctl: E_USAGE: not enough positional arguments\n/);
});

test('with no command, run({ image }) runs the image\'s entrypoint and cmd in its working directory', async () => {
  const out = join(scratchDir('sbx-imp-'), 'app.sqfs');
  await imported(real.oci, out);
  const r = await run({ image: out, argv: [], ops: [{ kind: 'proc', target: '/proc' }, { kind: 'dev', target: '/dev' }], stdio: ['ignore', 'pipe', 'pipe'] });
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe('cmd ran in /etc\n');
  expect(r.code).toBe(0);
});

test('with no command, the config\'s User is the id the caller is mapped to (as ch-run --uid/--gid); a command or --uid keep the caller; a name the image does not list is E_IMAGE_USER (user.test.ts resolves names)', async () => {
  const parent = scratchDir('sbx-imp-user-');
  const ids = { Cmd: ['/bin/sh', '-c', 'echo $(id -u) $(id -g)'] };
  const numeric = join(parent, 'numeric.sqfs');
  await imported(ociArchive(join(parent, 'numeric.tar'), [bb], { ...ids, User: '1234:5678' }), numeric);
  const named = join(parent, 'named');
  await imported(ociArchive(join(parent, 'named.tar'), [bb], { ...ids, User: 'app' }), named);
  const rootUser = join(parent, 'root');
  await imported(ociArchive(join(parent, 'root.tar'), [bb], { ...ids, User: 'root' }), rootUser);
  const out = async (args: string[]) => {
    const r = await cli(['run', ...IMAGE_OPS, ...args]);
    expect(r.stderr).toBe('');
    return r.stdout.trim();
  };
  const gid = process.getgid!();
  expect(await out(['--image', numeric])).toBe('1234 5678');
  expect(await out(['--image', rootUser])).toBe('0 0');
  expect(await out(['--image', numeric, '--uid', '42'])).toBe(`42 ${gid}`);
  expect(await out(['--image', numeric, '--', '/bin/sh', '-c', 'echo $(id -u) $(id -g)'])).toBe(`${UID} ${gid}`);
  const r = await cli(['run', ...IMAGE_OPS, '--image', named]);
  expect(r.stderr).toContain('E_IMAGE_USER: ');
  expect(r.stderr).toContain('"app", which is not in the image\'s /etc/passwd');
  expect(r.stdout).toBe('');
  expect(r.code).toBe(125);
  // With a command the User is not used: the caller, as before.
  expect(await out(['--image', named, '--', '/bin/sh', '-c', 'echo $(id -u) $(id -g)'])).toBe(`${UID} ${gid}`);
});

test('an OCI layout directory; layers in gzip, zstd and plain tar; whiteouts and opaque directories applied in order', async () => {
  const layout = join(scratchDir('sbx-layout-'), 'layout');
  const layers = [
    bb,
    tar([dir('data'), file('data/a', 'A'), file('data/b', 'B'), dir('old'), file('old/x', 'x'), dir('old/sub'), file('old/sub/y', 'y'), file('etc/version', '1')]),
    tar([file('data/.wh.a'), dir('old'), file('old/.wh..wh..opq'), file('old/new', 'new'), file('etc/version', '2')]),
    tar([symlink('data/link', 'b'), file('.wh.nothing-there')]),
  ];
  for (const m of ociMembers(layers, { Env: ['A=1'], Cmd: ['/bin/sh'] }, { compression: ['gzip', 'gzip', 'zstd', 'none'] })) {
    mkdirSync(join(layout, m.name, '..'), { recursive: true });
    writeFileSync(join(layout, m.name), m.data);
  }
  const out = join(scratchDir('sbx-imp-'), 'rootfs');
  const info = await imported(layout, out);
  expect(info.meta.source).toBe('oci-layout');
  expect(info.imported).toMatchObject({ layers: 4, whiteouts: 3 });
  expect(await inImage(out, 'ls /data; ls -A /old; cat /etc/version; echo; readlink /data/link')).toBe('b\nlink\nnew\n2\nb\n');
});

test('a docker save archive with more than one layer, checked against the config\'s diff_ids', async () => {
  const out = join(scratchDir('sbx-imp-'), 'app.sqfs');
  const archive = dockerArchive(join(base, 'two.tar'), [bb, tar([file('etc/second', 'layer 2')])], { WorkingDir: '/tmp' });
  const info = await imported(archive, out);
  expect(info.meta).toMatchObject({ source: 'docker-archive', workingDir: '/tmp' });
  expect(await inImage(out, 'cat /etc/second')).toBe('layer 2');
});

test('an existing destination is E_IMAGE_EXISTS, left as it was; --force replaces it', async () => {
  const parent = scratchDir('sbx-imp-');
  for (const name of ['rootfs', 'app.sqfs']) {
    const out = join(parent, name);
    writeFileSync(out, 'keep me');
    const r = await cli(['image', 'import', real.oci, out]);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(new RegExp(`^sandboxctl: E_IMAGE_EXISTS: .*${name} exists\\nsandboxctl: hint: pass --force to replace it\\n$`));
    expect(readFileSync(out, 'utf8')).toBe('keep me');
    await imported(real.oci, out, ['--force']);
    expect(await inImage(out, 'cat /etc/image-marker')).toBe('inside the image\n');
  }
  // A directory made by an import, 0555 directories and all, is replaced too.
  await imported(real.docker, join(parent, 'rootfs'), ['--force']);
  noStaging(parent);
});

test('a blob whose digest lies, a layer that is not what the config says: E_IMAGE_INVALID, nothing left', async () => {
  const parent = scratchDir('sbx-imp-');
  const lying = ociArchive(join(base, 'lie.tar'), [bb, tar([file('x', 'y')])], {}, { lie: 1 });
  const r = await cli(['image', 'import', lying, join(parent, 'rootfs')]);
  expect(r.code).toBe(125);
  expect(r.stderr).toMatch(/^sandboxctl: E_IMAGE_INVALID: layer 2 \(sha256:[0-9a-f]{64}\): its blob is sha256:[0-9a-f]{64}, not the sha256:[0-9a-f]{64} the image names\n$/);
  const docker = dockerArchive(join(base, 'dlie.tar'), [tar([file('x', 'y')])]);
  // Rewrite the layer's content after its diff_id was taken.
  const bytes = readFileSync(docker);
  bytes.write('z', bytes.indexOf(Buffer.from('y\0')), 'latin1');
  writeFileSync(docker, bytes);
  const d = await cli(['image', 'import', docker, join(parent, 'd.sqfs')]);
  expect(d.stderr).toMatch(/E_IMAGE_INVALID: layer 1 .*its uncompressed content is sha256:/);
  expect(readdirSync(parent)).toEqual([]);
});

test('what is not an image archive is E_IMAGE_INVALID naming the file and what was found', async () => {
  const parent = scratchDir('sbx-imp-');
  const notes = join(parent, 'notes.txt');
  writeFileSync(notes, 'You are not an archive\n');
  const gz = join(parent, 'app.tar.gz');
  spawnSync('sh', ['-c', `gzip -c < ${real.oci} > ${gz}`]);
  const plain = join(parent, 'plain.tar');
  writeFileSync(plain, tar([file('hello', 'world')]));
  const cases: Array<[string, RegExp]> = [
    [notes, /notes\.txt: not an OCI layout directory or an image archive \(not a tar: magic 59 6f 75 20\)/],
    [gz, /app\.tar\.gz: a gzip-compressed file; decompress it first/],
    [plain, /plain\.tar: a tar, but neither an OCI archive \(no index\.json\) nor a docker save archive \(no manifest\.json\)/],
    [parent, /not an OCI image layout/],
    [join(parent, 'missing.tar'), /cannot open .*missing\.tar: no such file or directory/],
  ];
  for (const [src, message] of cases) {
    const r = await cli(['image', 'import', src, join(parent, 'out')]);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^sandboxctl: E_IMAGE_INVALID: /);
    expect(r.stderr).toMatch(message);
  }
  expect(readdirSync(parent).sort()).toEqual(['app.tar.gz', 'notes.txt', 'plain.tar']);
});

test('progress: the library gets it, up to the whole; a terminal shows it, a pipe does not', async () => {
  const parent = scratchDir('sbx-imp-');
  const seen: ImageProgress[] = [];
  const info = await importImage(real.oci, join(parent, 'p.sqfs'), { onProgress: (p) => seen.push(p) });
  expect(info.format).toBe('squashfs');
  const imports = seen.filter((p) => p.phase === 'import');
  const packs = seen.filter((p) => p.phase === 'pack');
  expect(imports.at(-1)).toMatchObject({ bytes: imports.at(-1)!.totalBytes });
  expect(packs.at(-1)).toMatchObject({ files: packs.at(-1)!.totalFiles, bytes: packs.at(-1)!.totalBytes });
  // On a terminal (script(1) gives one): a line redrawn in place, then wiped.
  const r = spawnSync('script', ['-qec', `${process.execPath} ${CLI} image import ${real.docker} ${join(parent, 'tty')}`, '/dev/null'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/\rimport: \d+ files, [0-9.]+ [KM]iB of [0-9.]+ [KM]iB, /);
  expect(r.stdout).toContain('\r\x1b[K');
  expect(r.stdout).toMatch(/tty: directory/);
});
