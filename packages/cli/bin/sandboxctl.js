#!/usr/bin/env node
'use strict';

// The CLI is one bundled file (scripts/bundle-cli.mjs, built by `npm run
// build`), compiled here with V8's code cache: Node 20 has no compile cache
// of its own (`module.enableCompileCache` is 22.1+), and compiling the
// bundle, then each function it runs, was the largest part of the CLI's
// start after Node's own (bench/README.md, issue 15). The cache comes with
// the package (dist/cli.cache, written at build time by the same Node);
// when V8 refuses it (another Node version, other V8 flags) one made by
// this Node is kept in the user's own cache directory and used from then on. Each cache
// begins with the key the bundle ends with (a hash of its text): V8 itself
// checks only the text's length.

const { closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } = require('node:fs');
const { dirname, join } = require('node:path');
const Module = require('node:module');
const { Script } = require('node:vm');

const file = join(__dirname, '../dist/cli.js');
const source = readFileSync(file, 'utf8');
const KEY_MARK = '//# sandboxctl-code-cache-key=';
const mark = source.lastIndexOf(KEY_MARK);
const key = mark === -1 ? '' : source.slice(mark + KEY_MARK.length).trim();
// A bundle without its key (built by hand) is compiled without any cache.
const keyed = /^[0-9a-f]{64}$/.test(key);
const header = Buffer.from(`${key}\n`);

/** The V8 data in the cache at `path`, when it is for this bundle. */
function cached(path) {
  let data;
  try {
    data = readFileSync(path);
  } catch {
    return undefined;
  }
  return keyed && data.subarray(0, header.length).equals(header) ? data.subarray(header.length) : undefined;
}

/** The user's cache directory for this Node, when it is theirs alone. */
function userCacheFile() {
  const base = process.env.XDG_CACHE_HOME || (process.env.HOME && join(process.env.HOME, '.cache'));
  if (!keyed || !base || !base.startsWith('/')) return undefined;
  return join(base, 'sandboxctl', `cli-${key.slice(0, 16)}-${process.version}-${process.arch}.cache`);
}

function ownedDir(dir) {
  try {
    const st = statSync(dir);
    return st.isDirectory() && st.uid === process.getuid() && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

// This Node's own cache when an earlier start had to make one (the shipped
// caches were refused), else the cache of the command named
// (scripts/bundle-cli.mjs), else the whole one.
const userCache = userCacheFile();
const mine = userCache && ownedDir(dirname(userCache)) ? cached(userCache) : undefined;
const word = process.argv[2];
const named = word === undefined || word === '--help' || word === '-h' ? 'help' : /^[a-z]+$/.test(word) ? word : undefined;
const cachedData = mine ?? ((named && cached(join(__dirname, `../dist/cli-${named}.cache`))) || cached(join(__dirname, '../dist/cli.cache')));
const script = new Script(Module.wrap(source), { filename: file, cachedData });
const keep = userCache !== undefined && (cachedData === undefined || script.cachedDataRejected);

const cliModule = { exports: {} };
script.runInThisContext().call(cliModule.exports, cliModule.exports, Module.createRequire(file), cliModule, file, dirname(file));
const cli = cliModule.exports;

/** Writes this Node's cache for the next start (once per Node version; never fails the command). */
function keepCache() {
  try {
    mkdirSync(dirname(userCache), { recursive: true, mode: 0o700 });
    if (!ownedDir(dirname(userCache))) return;
    const tmp = `${userCache}.${process.pid}`;
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, header);
      writeSync(fd, script.createCachedData());
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, userCache);
  } catch {
    // A read-only or missing home: the next start compiles again.
  }
}

cli.exitQuietlyOnBrokenPipe();
cli.main(process.argv.slice(2)).then((status) => {
  if (keep) keepCache();
  process.exitCode = status;
});
