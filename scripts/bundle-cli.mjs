#!/usr/bin/env node
// Writes packages/cli/dist/cli.js: the `sandboxctl` executable's code in one
// file (the CLI, @sandboxctl/core, clipanion, typanion), bundled by esbuild
// from the CommonJS that `tsc -b` built. One file is one read and one
// compile instead of some 150 module resolutions and reads: most of what the
// CLI spent before its first line ran (bench/README.md, "CLI start-up").
// The native addon stays outside (`@sandboxctl/native`: a .node file, loaded
// only by the commands that need it). The library (`require('sandboxctl')`)
// is still dist/index.js: users get the modules, the executable the bundle.
//
// Modules are evaluated on first use, not when they are required (as yarn
// berry's bundle does with Babel's `lazy` CommonJS option): a
// `const x_1 = require("y")` whose binding is only ever read as `x_1.name`
// becomes a proxy that requires `y` on its first property read, and
// `__exportStar(require("./plan"), exports)` defines one getter per name
// (the names read here, at build time). So `sandboxctl run` evaluates run's
// command, the plan code and clipanion, not `image`, `trust` (node:crypto),
// `oci` or readline; Node's built-in modules the same (on the development
// VM child_process took 12 ms to load, tty 8, readline 5).
//
// Last, the V8 code caches that bin/sandboxctl.js hands to the compiler
// (CACHES below): the bundle compiled as the executable compiles it and run
// on a command's usual command lines, so the functions they ran are in the
// cache compiled. The bundle ends with its key (a SHA-256 of its text),
// which each cache begins with.

import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { Script } from 'node:vm';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'packages/cli');

/** Built-in modules Node has loaded before any user code: nothing to defer. */
const EAGER = new Set(['fs', 'node:fs', 'path', 'node:path']);

/** `source` with each deferrable top-level require made lazy (see above). */
export function lazyRequires(source, file) {
  const requireHere = createRequire(file);
  let out = source.replace(/^(const|var) ([A-Za-z_$][\w$]*) = require\((["'`])([^"'`]+)\3\);$/gm, (whole, kind, name, quote, id) => {
    if (EAGER.has(id)) return whole;
    // Every mention of the binding but this declaration must be a property read.
    const uses = source.match(new RegExp(`(?<![\\w$.])${name.replace(/\$/g, '\\$')}(?![\\w$])(.)?`, 'g')) ?? [];
    if (uses.length < 2 || uses.filter((u) => !u.endsWith('.')).length !== 1) return whole;
    return `${kind} ${name} = __sbxLazy(() => require(${quote}${id}${quote}));`;
  });
  out = out.replace(/^__exportStar\(require\("([^"]+)"\), exports\);$/gm, (whole, id) => {
    const names = Object.keys(requireHere(id)).filter((n) => n !== 'default' && n !== '__esModule');
    return `__sbxLazyExports(exports, () => require("${id}"), ${JSON.stringify(names)});`;
  });
  return out;
}

const LAZY_RUNTIME = `
function __sbxLazy(load) {
  let m;
  const get = () => (m ??= load());
  return new Proxy({}, {
    get: (_, k) => get()[k],
    set: (_, k, v) => ((get()[k] = v), true),
    has: (_, k) => k in get(),
    ownKeys: () => Reflect.ownKeys(get()),
    getOwnPropertyDescriptor: (_, k) => {
      const d = Reflect.getOwnPropertyDescriptor(get(), k);
      return d && { ...d, configurable: true };
    },
  });
}
function __sbxLazyExports(exports, load, names) {
  let m;
  for (const n of names) {
    if (!Object.prototype.hasOwnProperty.call(exports, n)) Object.defineProperty(exports, n, { enumerable: true, get: () => (m ??= load())[n] });
  }
}`;

const lazyPlugin = {
  name: 'lazy-requires',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, (args) => {
      if (!args.path.startsWith(root)) return undefined;
      return { contents: lazyRequires(readFileSync(args.path, 'utf8'), args.path), loader: 'js' };
    });
  },
};

/**
 * The code caches, each made by running the bundle on these command lines
 * (in a small project: the agent preset walks it): `cli-NAME.cache` serves
 * `sandboxctl NAME …`, `cli-help.cache` `sandboxctl [--help]`, `cli.cache`
 * every other command. V8 reads a whole cache before the first line runs
 * (the whole one: 12.8 ms, run's: 8.9 ms, mean of 5 on the loaded
 * development VM), so the commands people and agents run all the time get
 * one holding only what they run. A `run` here
 * starts a real sandbox where the build machine can; where it cannot, the
 * cache still holds the code up to the launcher's start.
 */
const CACHES = {
  run: [
    ['run', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--', 'true'],
    ['run', '--preset', 'agent', '--', 'true'],
  ],
  explain: [['explain', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--', 'true']],
  doctor: [['doctor']],
  help: [['--help']],
  '': [
    ['--help'],
    ['run', '--help'],
    ['explain', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--', 'true'],
    ['plan', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--', 'true'],
    ['plan', '--preset', 'agent', '--', 'true'],
    ['plan', '--bind', '/nope-for-the-cache', '/x', '--', 'true'],
    ['presets'],
  ],
};

const bundle = join(cli, 'dist/cli.js');
const cacheFile = (name) => join(cli, name === '' ? 'dist/cli.cache' : `dist/cli-${name}.cache`);

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--code-cache') {
  // One cache per process: V8 would otherwise reuse the functions another
  // cache's command lines compiled, and store them again.
  await writeCodeCache(process.argv[3] ?? '');
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await build({
    entryPoints: [join(cli, 'dist/main.js')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['@sandboxctl/native', '@sandboxctl/core/package.json'],
    banner: { js: LAZY_RUNTIME.trim() },
    plugins: [lazyPlugin],
    // Readable in a stack trace; minifying saved under a millisecond.
    minify: false,
    legalComments: 'inline',
    logLevel: 'warning',
  });
  const key = createHash('sha256').update(readFileSync(bundle)).digest('hex');
  appendFileSync(bundle, `//# sandboxctl-code-cache-key=${key}\n`);
  for (const name of Object.keys(CACHES)) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--code-cache', name], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error(`bundle-cli: the code cache ${cacheFile(name)} was not written (status ${r.status ?? r.signal})`);
  }
  writeFrontTexts();
}

/**
 * What the native front (crates/sandbox-front) prints for `sandboxctl`,
 * `--help` and `--version`: the bytes this build's Node CLI prints, plain
 * and coloured (FORCE_COLOR decides, as on a terminal), in dist/front/.
 */
function writeFrontTexts() {
  const dir = join(cli, 'dist/front');
  mkdirSync(dir, { recursive: true });
  const env = { ...process.env };
  for (const name of ['NO_COLOR', 'NODE_DISABLE_COLORS', 'FORCE_COLOR']) delete env[name];
  const texts = [
    ['overview.txt', [], '0'],
    ['overview.color.txt', [], '3'],
    ['help.txt', ['--help'], '0'],
    ['help.color.txt', ['--help'], '3'],
    ['version.txt', ['--version'], '0'],
  ];
  for (const [file, args, force] of texts) {
    const r = spawnSync(process.execPath, [join(cli, 'bin/sandboxctl.js'), ...args], { env: { ...env, FORCE_COLOR: force }, stdio: ['ignore', 'pipe', 'inherit'] });
    if (r.status !== 0) throw new Error(`bundle-cli: sandboxctl ${args.join(' ')} exited ${r.status ?? r.signal}`);
    writeFileSync(join(dir, file), r.stdout);
  }
}

/** Runs the bundle on the command lines of cache `name` and writes what V8 compiled. */
async function writeCodeCache(name) {
  const source = readFileSync(bundle, 'utf8');
  const key = source.slice(source.lastIndexOf('key=') + 4).trim();
  const script = new Script(Module.wrap(source), { filename: bundle });
  const cliModule = { exports: {} };
  script.runInThisContext().call(cliModule.exports, cliModule.exports, createRequire(bundle), cliModule, bundle, dirname(bundle));
  const sink = () => new Writable({ write: (_chunk, _encoding, done) => done() });
  const project = mkdtempSync(join(tmpdir(), 'sandboxctl-code-cache-'));
  writeFileSync(join(project, 'package.json'), '{}\n');
  process.chdir(project);
  try {
    for (const args of CACHES[name]) await cliModule.exports.main(args, { stdout: sink(), stderr: sink(), colorDepth: 1 });
  } finally {
    process.chdir(root);
    rmSync(project, { recursive: true, force: true });
  }
  writeFileSync(cacheFile(name), Buffer.concat([Buffer.from(`${key}\n`), script.createCachedData()]));
}
