/**
 * The npm install a user gets: `scripts/pack.mjs` writes the tarballs
 * (sandboxctl, @sandboxctl/core, @sandboxctl/native and this host's platform
 * package), they are installed into an empty project offline, with the
 * registry pointed at a closed port and no Rust toolchain on PATH, and
 * `npx sandboxctl run --preset agent` runs there. `npm test` builds the
 * static launcher first (`node scripts/pack.mjs --build-only`) and runs this
 * as root and as an unprivileged user.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT, requireKernel } from './helpers';

const TRIPLES: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64' };
const libc = (process.report as unknown as { getReport(): { header: { glibcVersionRuntime?: string } } }).getReport().header.glibcVersionRuntime ? 'gnu' : 'musl';
const TARGET = `${TRIPLES[process.arch]}-unknown-linux-${libc}`;
const PLATFORM = `linux-${process.arch}-${libc}`;
const STATIC_INIT = join(process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target'), TARGET, 'release', 'sandboxctl-init');

let base: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  requireKernel();
  if (!existsSync(STATIC_INIT)) throw new Error(`${STATIC_INIT} is missing: run \`node scripts/pack.mjs --build-only\` (npm test does)`);
  base = mkdtempSync('/var/tmp/sandboxctl-pack-test-');
  mkdirSync(join(base, 'home', '.ssh'), { recursive: true });
  writeFileSync(join(base, 'home', '.ssh', 'id_ed25519'), 'PRIVATE\n');
  // Node and the system, nothing else: no cargo, no rustc, no sandboxctl
  // checkout. The system's own commands come through a directory of links that
  // leaves out a distribution's Rust (CI installs Debian's cargo for the
  // unprivileged user's real-work suite), so the machine looks like one without it.
  const sysbin = join(base, 'sysbin');
  mkdirSync(sysbin);
  for (const dir of [dirname(process.execPath), '/usr/bin', '/bin']) {
    for (const name of readdirSync(dir)) {
      if (/^(cargo|rustc|rustdoc|rustup|rust-)/.test(name) || existsSync(join(sysbin, name))) continue;
      symlinkSync(join(dir, name), join(sysbin, name));
    }
  }
  env = {
    PATH: sysbin,
    HOME: join(base, 'home'),
    npm_config_cache: join(base, 'npm-cache'),
    npm_config_registry: 'http://127.0.0.1:9/',
    npm_config_offline: 'true',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };
});

afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

/**
 * Prints the code caches of the bundle in DIR (argv[1]), and the extra files
 * named after it, that begin with the bundle's key and that V8 accepts.
 */
const CACHE_CHECK = `
const { readFileSync, readdirSync } = require('node:fs');
const { basename, join } = require('node:path');
const Module = require('node:module');
const { Script } = require('node:vm');
const [dir, ...extra] = process.argv.slice(1);
const file = join(dir, 'cli.js');
const source = readFileSync(file, 'utf8');
const key = source.slice(source.lastIndexOf('key=') + 4).trim();
const ok = [];
for (const cache of [...readdirSync(dir).filter((f) => f.endsWith('.cache')).sort().map((f) => join(dir, f)), ...extra]) {
  const data = readFileSync(cache);
  if (data.subarray(0, 65).toString() !== key + '\\n') continue;
  const script = new Script(Module.wrap(source), { filename: file, cachedData: data.subarray(65) });
  if (!script.cachedDataRejected) ok.push(basename(cache));
}
console.log(ok.join(' '));
`;

function sh(command: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 60_000 });
}

/** True when the ELF file asks for no interpreter (statically linked). */
function isStaticElf(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(64);
    readSync(fd, head, 0, 64, 0);
    expect(head.readUInt32BE(0)).toBe(0x7f454c46);
    const phoff = Number(head.readBigUInt64LE(0x20));
    const size = head.readUInt16LE(0x36);
    const count = head.readUInt16LE(0x38);
    const table = Buffer.alloc(size * count);
    readSync(fd, table, 0, table.length, phoff);
    return Array.from({ length: count }, (_, i) => table.readUInt32LE(i * size)).every((type) => type !== 3);
  } finally {
    closeSync(fd);
  }
}

test(
  'the packed tarballs install offline without Rust and `npx sandboxctl run --preset agent` works there',
  () => {
    const started = Date.now();
    expect(sh('sh', ['-c', 'command -v cargo || command -v rustc'], base).status).not.toBe(0);

    const tarballs = join(base, 'tarballs');
    const packed = sh(process.execPath, [join(ROOT, 'scripts', 'pack.mjs'), '--no-build', tarballs], ROOT);
    expect(packed.stderr).toBe('');
    expect(readdirSync(tarballs).sort()).toEqual([
      'sandboxctl-0.1.0.tgz',
      'sandboxctl-core-0.1.0.tgz',
      'sandboxctl-native-0.1.0.tgz',
      `sandboxctl-native-${PLATFORM}-0.1.0.tgz`,
    ]);

    const project = join(base, 'home', 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), '{ "name": "empty", "version": "1.0.0", "private": true }\n');
    const install = sh('npm', ['install', '--offline', ...readdirSync(tarballs).map((f) => join(tarballs, f))], project);
    expect(install.status).toBe(0);

    const init = join(project, 'node_modules', '@sandboxctl', `native-${PLATFORM}`, 'sandboxctl-init');
    expect(statSync(init).mode & 0o777).toBe(0o755);
    expect(isStaticElf(init)).toBe(true);
    expect(existsSync(join(project, 'node_modules', 'sandboxctl', 'node_modules', 'clipanion', 'package.json'))).toBe(true);
    expect(existsSync(join(project, 'node_modules', 'sandboxctl', 'schema', 'config.schema.json'))).toBe(true);

    const script = 'cat ~/.ssh/id_ed25519 2>/dev/null || echo hidden; echo pid=$$; echo ok > made; mkdir .vscode/tasks 2>/dev/null || echo vscode-refused';
    const ran = sh('npx', ['--offline', 'sandboxctl', 'run', '--preset', 'agent', '--', '/bin/sh', '-c', script], project);
    expect(ran.stderr).toBe('');
    expect(ran.stdout).toBe('hidden\npid=2\nvscode-refused\n');
    expect(ran.status).toBe(0);
    expect(existsSync(join(project, 'made'))).toBe(true);

    const doctor = sh('npx', ['--offline', 'sandboxctl', 'doctor', '--json'], project);
    const report = JSON.parse(doctor.stdout);
    expect(report.init).toMatchObject({ path: init, from: `@sandboxctl/native-${PLATFORM}`, executable: true });
    expect(report.ok).toBe(true);

    // Both module systems, from the installed packages.
    const esm = sh(process.execPath, ['--input-type=module', '-e', "import { run, PRESET_NAMES } from 'sandboxctl'; const r = await run({ argv: ['/bin/true'], preset: 'ro-host' }); console.log(r.code, PRESET_NAMES.length)"], project);
    expect([esm.stderr, esm.stdout]).toEqual(['', '0 4\n']);
    const cjs = sh(process.execPath, ['-e', "require('sandboxctl').run({ argv: ['/bin/true'], preset: 'ro-host' }).then((r) => console.log(r.code))"], project);
    expect([cjs.stderr, cjs.stdout]).toEqual(['', '0\n']);

    expect(Date.now() - started).toBeLessThan(60_000);

    // The CLI's bundle comes with V8 code caches made for it (scripts/bundle-cli.mjs):
    // each begins with the key the bundle ends with, and this Node accepts each.
    const dist = join(project, 'node_modules', 'sandboxctl', 'dist');
    const accepts = sh(process.execPath, ['-e', CACHE_CHECK, dist], project);
    expect([accepts.stderr, accepts.stdout]).toEqual(['', 'cli-doctor.cache cli-explain.cache cli-help.cache cli-run.cache cli.cache\n']);
    // The bin starts the platform package's native front (static, like the
    // launcher), which answers --help itself; the Node CLI is bin/sandboxctl.js.
    const front = join(project, 'node_modules', '@sandboxctl', `native-${PLATFORM}`, 'sandboxctl-front');
    expect(statSync(front).mode & 0o777).toBe(0o755);
    expect(isStaticElf(front)).toBe(true);
    // Node never starts for it: a --require in NODE_OPTIONS would speak on stderr.
    const speak = join(base, 'speak.js');
    writeFileSync(speak, "process.stderr.write('NODE\\n');\n");
    const native = spawnSync(join(project, 'node_modules', '.bin', 'sandboxctl'), ['run', '--ro-bind', '/', '/', '--proc', '/proc', '--', '/bin/sh', '-c', 'echo pid=$$'], { cwd: project, env: { ...env, NODE_OPTIONS: `--require ${speak}` }, encoding: 'utf8' });
    expect([native.status, native.stdout, native.stderr]).toEqual([0, 'pid=2\n', '']);
    expect(sh(join(project, 'node_modules', '.bin', 'sandboxctl'), ['--version'], project).stdout).toBe('0.1.0\n');
    const bin = join(project, 'node_modules', 'sandboxctl', 'bin', 'sandboxctl.js');
    expect(sh(process.execPath, [bin, '--help'], project).stdout).toMatch(/^sandboxctl - 0\.1\.0\n/);
    // A cache V8 refuses (here: not V8's data at all) is not used: the CLI
    // compiles the bundle and keeps a cache of its own in the user's cache
    // directory (0700, the file 0600), which the next start uses.
    const help = join(dist, 'cli-help.cache');
    writeFileSync(help, Buffer.concat([readFileSync(help).subarray(0, 65), Buffer.alloc(4096, 0x5a)]));
    const first = sh(process.execPath, [bin, '--help'], project);
    expect([first.status, first.stderr]).toEqual([0, '']);
    expect(first.stdout).toMatch(/^sandboxctl - 0\.1\.0\n/);
    const mine = join(base, 'home', '.cache', 'sandboxctl');
    expect(statSync(mine).mode & 0o777).toBe(0o700);
    const kept = readdirSync(mine);
    expect(kept).toEqual([expect.stringMatching(new RegExp(`^cli-[0-9a-f]{16}-${process.version.replace(/\./g, '\\.')}-${process.arch}\\.cache$`))]);
    expect(statSync(join(mine, kept[0]!)).mode & 0o777).toBe(0o600);
    const again = sh(process.execPath, ['-e', CACHE_CHECK, dist, join(mine, kept[0]!)], project);
    expect([again.stderr, again.stdout]).toEqual(['', `cli-doctor.cache cli-explain.cache cli-run.cache cli.cache ${kept[0]}\n`]);
    expect(sh(process.execPath, [bin, '--help'], project).stdout).toBe(first.stdout);
  },
  150_000,
);
