#!/usr/bin/env node
// `npm run pack -- DIR`: writes installable npm tarballs to DIR: the main
// package `sandboxctl` (CLI and library, clipanion and typanion bundled so an
// offline install needs nothing else), `@sandboxctl/core`,
// `@sandboxctl/native` (the loader) and the platform package for the target,
// `@sandboxctl/native-<platform>`, holding the napi addon and the statically
// linked `sandboxctl-init` and `sandboxctl-oci` (mode 755). `sandboxctl` and `@sandboxctl/native`
// list every platform package as an optional dependency, so npm installs the
// one that fits the host.
//
//   node scripts/pack.mjs [options] DIR
//     --no-build         use what is built (dist/, the addon, the static init)
//     --build-only       build the static init and OCI runtime and stop (no DIR)
//     --target TRIPLE    Rust target (default: this host's); other than the
//                        host's needs --addon and --init (CI cross builds)
//     --addon FILE       the .node file for the target
//     --init FILE        the sandboxctl-init for the target
//     --oci FILE         the sandboxctl-oci for the target
//     --bwrap FILE       the sandboxctl-bwrap for the target
//     --front FILE       the sandboxctl-front (the native front of `sandboxctl`) for the target
//     --platform-only    only the platform package
//     --main-only        only sandboxctl, @sandboxctl/core, @sandboxctl/native
//
// The launcher and the runtime are built with `-C target-feature=+crt-static`
// (static-pie with glibc; musl targets are static anyway) and refused unless
// their ELF header has no interpreter. Staging happens in a temporary directory; the
// checkout is only read, so an unprivileged user can pack a root's build.

import { spawnSync } from 'node:child_process';
import { INSTALL_RUST, missingTool } from './rust-toolchain.mjs';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** Rust target → napi platform name and ELF machine number. */
const TARGETS = {
  'x86_64-unknown-linux-gnu': { platform: 'linux-x64-gnu', machine: 62 },
  'x86_64-unknown-linux-musl': { platform: 'linux-x64-musl', machine: 62 },
  'aarch64-unknown-linux-gnu': { platform: 'linux-arm64-gnu', machine: 183 },
  'aarch64-unknown-linux-musl': { platform: 'linux-arm64-musl', machine: 183 },
};
const BUNDLED = ['clipanion', 'typanion'];

function fail(message) {
  console.error(`pack: ${message}`);
  process.exit(1);
}

function parseArgs(argv) {
  const opts = { build: true, buildOnly: false, target: undefined, addon: undefined, init: undefined, oci: undefined, bwrap: undefined, front: undefined, platform: true, main: true, dir: undefined };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const value = () => argv[++i] ?? fail(`${a} needs a value`);
    if (a === '--no-build') opts.build = false;
    else if (a === '--build-only') opts.buildOnly = true;
    else if (a === '--target') opts.target = value();
    else if (a === '--addon') opts.addon = resolve(value());
    else if (a === '--init') opts.init = resolve(value());
    else if (a === '--oci') opts.oci = resolve(value());
    else if (a === '--bwrap') opts.bwrap = resolve(value());
    else if (a === '--front') opts.front = resolve(value());
    else if (a === '--platform-only') opts.main = false;
    else if (a === '--main-only') opts.platform = false;
    else if (a.startsWith('-')) fail(`unknown option ${a}`);
    else if (opts.dir === undefined) opts.dir = resolve(a);
    else fail(`one directory only (got ${opts.dir} and ${a})`);
  }
  if (!opts.buildOnly && opts.dir === undefined) fail('usage: npm run pack -- [--no-build] [--target TRIPLE] [--addon FILE] [--init FILE] [--oci FILE] [--bwrap FILE] [--front FILE] DIR');
  return opts;
}

function run(command, args, options = {}) {
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (r.error) fail(`cannot run ${command}: ${r.error.message}`);
  if (r.status !== 0) fail(`${command} ${args.join(' ')} failed (status ${r.status})`);
  return r;
}

function hostTarget() {
  const rustc = spawnSync('rustc', ['-vV'], { encoding: 'utf8' });
  const host = rustc.status === 0 ? /^host: (.+)$/m.exec(rustc.stdout)?.[1] : undefined;
  if (host) return host;
  const arch = { x64: 'x86_64', arm64: 'aarch64' }[process.arch];
  const musl = !process.report.getReport().header.glibcVersionRuntime;
  return `${arch}-unknown-linux-${musl ? 'musl' : 'gnu'}`;
}

/** Builds the static launcher and OCI runtime for `target`. */
function buildStatic(target) {
  const rustflags = [process.env.RUSTFLAGS, '-C target-feature=+crt-static'].filter(Boolean).join(' ');
  run('cargo', ['build', '--release', '-p', 'sandbox-init', '-p', 'sandbox-oci', '-p', 'sandbox-bwrap', '-p', 'sandbox-front', '--target', target], { env: { ...process.env, RUSTFLAGS: rustflags } });
}

/** Where cargo put the static `name` (`sandboxctl-init`, `sandboxctl-oci`) for `target`. */
function staticPath(target, name) {
  const fromEnv = process.env.CARGO_TARGET_DIR;
  return join(fromEnv ? resolve(fromEnv) : join(root, 'target'), target, 'release', name);
}

/** ELF facts: 64-bit, machine, and whether it asks for an interpreter (dynamic). */
function elfInfo(file) {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(64);
    readSync(fd, head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return { elf: false };
    const machine = head.readUInt16LE(0x12);
    const phoff = Number(head.readBigUInt64LE(0x20));
    const phentsize = head.readUInt16LE(0x36);
    const phnum = head.readUInt16LE(0x38);
    const table = Buffer.alloc(phentsize * phnum);
    readSync(fd, table, 0, table.length, phoff);
    let interp = false;
    for (let i = 0; i < phnum; i += 1) if (table.readUInt32LE(i * phentsize) === 3) interp = true;
    return { elf: true, machine, static: !interp };
  } finally {
    closeSync(fd);
  }
}

function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

function writeJson(file, value) {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Copies a built dist/ without source maps and build info. */
function copyDist(from, to) {
  cpSync(from, to, { recursive: true, filter: (src) => !/\.(map|tsbuildinfo)$/.test(src) });
}

/** `npm pack` of a staged directory into `dest`; returns the tarball's path. */
function npmPack(dir, dest) {
  const r = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dest], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) fail(`npm pack in ${dir} failed:\n${r.stderr}`);
  const [info] = JSON.parse(r.stdout);
  return join(dest, info.filename);
}

/** npm's provenance check wants `repository` to name the repository that built it. */
function withRepository(pkg) {
  const repo = process.env.GITHUB_REPOSITORY;
  if (repo && !pkg.repository) pkg.repository = { type: 'git', url: `git+https://github.com/${repo}.git` };
  return pkg;
}

function platformPackageNames(version) {
  return Object.fromEntries(Object.values(TARGETS).map(({ platform }) => [`@sandboxctl/native-${platform}`, version]));
}

const opts = parseArgs(process.argv.slice(2));
const target = opts.target ?? hostTarget();
const facts = TARGETS[target] ?? fail(`no platform package for target ${target}; known: ${Object.keys(TARGETS).join(', ')}`);
const isHost = target === hostTarget();

if (opts.build || opts.buildOnly) {
  if (!isHost && (!opts.addon || !opts.init || !opts.oci || !opts.bwrap || !opts.front)) fail(`building for ${target} is CI's business here; pass --addon, --init, --oci, --bwrap and --front, or --no-build`);
  const missing = missingTool();
  if (missing) fail(`building needs Rust, and ${missing}: ${INSTALL_RUST}; or pass --no-build to pack what is already built`);
  if (!opts.buildOnly) run('npm', ['run', 'build']);
  if (!opts.init || !opts.oci || !opts.bwrap || !opts.front) buildStatic(target);
  if (opts.buildOnly) process.exit(0);
}

const nativeDir = join(root, 'packages', 'native');
const version = readJson(join(nativeDir, 'package.json')).version;
const addon = opts.addon ?? join(nativeDir, `sandboxctl.${facts.platform}.node`);
const executables = { 'sandboxctl-init': opts.init ?? staticPath(target, 'sandboxctl-init'), 'sandboxctl-oci': opts.oci ?? staticPath(target, 'sandboxctl-oci'), 'sandboxctl-bwrap': opts.bwrap ?? staticPath(target, 'sandboxctl-bwrap'), 'sandboxctl-front': opts.front ?? staticPath(target, 'sandboxctl-front') };
mkdirSync(opts.dir, { recursive: true });
const stage = mkdtempSync(join(tmpdir(), 'sandboxctl-pack-'));
const written = [];

try {
  if (opts.platform) {
    if (!existsSync(addon)) fail(`${addon} is missing: run \`npm run build\` (or pass --addon)`);
    for (const [name, file] of Object.entries(executables)) {
      if (!existsSync(file)) fail(`${file} is missing: run \`node scripts/pack.mjs --build-only\` (or pass --${name.slice('sandboxctl-'.length)})`);
      const elf = elfInfo(file);
      if (!elf.elf || elf.machine !== facts.machine) fail(`${file} is not a ${target} executable`);
      if (!elf.static) fail(`${file} is dynamically linked; build it with RUSTFLAGS="-C target-feature=+crt-static"`);
    }
    const dir = join(stage, 'platform');
    mkdirSync(dir);
    const pkg = readJson(join(root, 'npm', facts.platform, 'package.json'));
    pkg.version = version;
    writeJson(join(dir, 'package.json'), withRepository(pkg));
    cpSync(join(root, 'npm', facts.platform, 'README.md'), join(dir, 'README.md'));
    cpSync(addon, join(dir, `sandboxctl.${facts.platform}.node`));
    for (const [name, file] of Object.entries(executables)) {
      cpSync(file, join(dir, name));
      chmodSync(join(dir, name), 0o755);
    }
    written.push(npmPack(dir, opts.dir));
  }

  if (opts.main) {
    const platforms = platformPackageNames(version);

    const native = join(stage, 'native');
    mkdirSync(native);
    const nativePkg = readJson(join(nativeDir, 'package.json'));
    nativePkg.files = ['index.js', 'index.d.ts', 'init-path.js', 'init-path.d.ts'];
    nativePkg.optionalDependencies = platforms;
    delete nativePkg.scripts;
    writeJson(join(native, 'package.json'), withRepository(nativePkg));
    for (const f of nativePkg.files) cpSync(join(nativeDir, f), join(native, f));
    written.push(npmPack(native, opts.dir));

    const coreDir = join(root, 'packages', 'core');
    if (!existsSync(join(coreDir, 'dist', 'index.mjs'))) fail('packages/core/dist is not built: run `npm run build`');
    const core = join(stage, 'core');
    mkdirSync(core);
    const corePkg = readJson(join(coreDir, 'package.json'));
    delete corePkg.scripts;
    writeJson(join(core, 'package.json'), withRepository(corePkg));
    copyDist(join(coreDir, 'dist'), join(core, 'dist'));
    for (const f of corePkg.files.filter((f) => f !== 'dist')) cpSync(join(coreDir, f), join(core, f));
    writeFileSync(join(core, 'README.md'), '# @sandboxctl/core\n\nThe library of [sandboxctl](https://www.npmjs.com/package/sandboxctl): build sandbox plans and run programs in them. Use it through `sandboxctl`, which re-exports it.\n');
    written.push(npmPack(core, opts.dir));

    const cliDir = join(root, 'packages', 'cli');
    const cli = join(stage, 'cli');
    mkdirSync(cli);
    const cliPkg = readJson(join(cliDir, 'package.json'));
    delete cliPkg.scripts;
    cliPkg.optionalDependencies = platforms;
    cliPkg.bundleDependencies = BUNDLED;
    writeJson(join(cli, 'package.json'), withRepository(cliPkg));
    cpSync(join(cliDir, 'bin'), join(cli, 'bin'), { recursive: true });
    copyDist(join(cliDir, 'dist'), join(cli, 'dist'));
    mkdirSync(join(cli, 'schema'));
    for (const f of ['config.schema.json', 'plan.schema.json']) cpSync(join(root, 'schema', f), join(cli, 'schema', f));
    cpSync(join(root, 'README.md'), join(cli, 'README.md'));
    // The versions the CLI was built and tested with, from its own resolution.
    for (const dep of BUNDLED) {
      const from = dirname(require.resolve(`${dep}/package.json`, { paths: [cliDir] }));
      cpSync(from, join(cli, 'node_modules', dep), { recursive: true, dereference: true });
    }
    written.push(npmPack(cli, opts.dir));
  }
} finally {
  rmSync(stage, { recursive: true, force: true });
}

for (const file of written) console.log(file);
