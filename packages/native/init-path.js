'use strict';
// Where the native executables live: the `sandboxctl-init` launcher and the
// `sandboxctl-oci` OCI runtime and the `sandboxctl-bwrap` bubblewrap drop-in. For each, first match wins:
//   1. its environment variable ($SANDBOXCTL_INIT, $SANDBOXCTL_OCI: tests,
//      system packages, custom builds);
//   2. beside this file, where scripts/build-native.mjs puts a source build;
//   3. in the prebuilt platform package, @sandboxctl/native-linux-<arch>-<libc>,
//      this host's libc first. Both executables there are linked statically,
//      so the other libc's package works too when it is the one installed.
// The returned path is not checked to exist when nothing matched: it is the
// source-build location, which the caller's error message then names.
const fs = require('node:fs');
const path = require('node:path');

/** The native executables: file name and the variable that overrides it. */
const EXECUTABLES = {
  init: { file: 'sandboxctl-init', env: 'SANDBOXCTL_INIT' },
  oci: { file: 'sandboxctl-oci', env: 'SANDBOXCTL_OCI' },
  bwrap: { file: 'sandboxctl-bwrap', env: 'SANDBOXCTL_BWRAP' },
};

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

/** The platform packages that may hold the executables here, preferred first. */
function platformPackages() {
  if (process.platform !== 'linux') return [];
  const libcs = isMusl() ? ['musl', 'gnu'] : ['gnu', 'musl'];
  return libcs.map((libc) => `@sandboxctl/native-linux-${process.arch}-${libc}`);
}

function candidates(which) {
  const { file, env } = EXECUTABLES[which];
  const out = [];
  if (process.env[env]) out.push({ path: process.env[env], from: env });
  out.push({ path: path.join(__dirname, file), from: 'source build' });
  for (const pkg of platformPackages()) {
    try {
      out.push({ path: path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file), from: pkg });
    } catch {
      // not installed
    }
  }
  return out;
}

function pathOf(which) {
  const env = process.env[EXECUTABLES[which].env];
  if (env) return env;
  const list = candidates(which);
  const found = list.find((c) => fs.existsSync(c.path));
  return (found || list[0]).path;
}

/** Every place the launcher is looked for, in order, with where each came from. */
function initCandidates() {
  return candidates('init');
}

function initPath() {
  return pathOf('init');
}

/** Every place the OCI runtime is looked for, in order, with where each came from. */
function ociCandidates() {
  return candidates('oci');
}

function ociPath() {
  return pathOf('oci');
}

/** Every place the bubblewrap drop-in is looked for, in order, with where each came from. */
function bwrapCandidates() {
  return candidates('bwrap');
}

function bwrapPath() {
  return pathOf('bwrap');
}

module.exports = { initPath, initCandidates, ociPath, ociCandidates, bwrapPath, bwrapCandidates, platformPackages };
