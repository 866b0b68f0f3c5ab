'use strict';
// Where the `sandboxctl-init` launcher lives, first match wins:
//   1. $SANDBOXCTL_INIT (tests, system packages, custom builds);
//   2. beside this file, where scripts/build-native.mjs puts a source build;
//   3. in the prebuilt platform package, @sandboxctl/native-linux-<arch>-<libc>,
//      this host's libc first. The launcher there is linked statically, so the
//      other libc's package works too when it is the one installed.
// The returned path is not checked to exist when nothing matched: it is the
// source-build location, which the caller's error message then names.
const fs = require('node:fs');
const path = require('node:path');

const INIT = 'sandboxctl-init';

function isMusl() {
  try {
    return fs.readFileSync('/usr/bin/ldd', 'utf8').includes('musl');
  } catch {
    // no ldd: ask the process report whether glibc is loaded
  }
  try {
    return !process.report.getReport().header.glibcVersionRuntime;
  } catch {
    return false;
  }
}

/** The platform packages that may hold the launcher here, preferred first. */
function platformPackages() {
  if (process.platform !== 'linux') return [];
  const libcs = isMusl() ? ['musl', 'gnu'] : ['gnu', 'musl'];
  return libcs.map((libc) => `@sandboxctl/native-linux-${process.arch}-${libc}`);
}

/** Every place looked at, in order, with where each came from. */
function initCandidates() {
  const out = [];
  if (process.env.SANDBOXCTL_INIT) out.push({ path: process.env.SANDBOXCTL_INIT, from: 'SANDBOXCTL_INIT' });
  out.push({ path: path.join(__dirname, INIT), from: 'source build' });
  for (const pkg of platformPackages()) {
    try {
      out.push({ path: path.join(path.dirname(require.resolve(`${pkg}/package.json`)), INIT), from: pkg });
    } catch {
      // not installed
    }
  }
  return out;
}

function initPath() {
  if (process.env.SANDBOXCTL_INIT) return process.env.SANDBOXCTL_INIT;
  const candidates = initCandidates();
  const found = candidates.find((c) => fs.existsSync(c.path));
  return (found || candidates[0]).path;
}

module.exports = { initPath, initCandidates, platformPackages };
