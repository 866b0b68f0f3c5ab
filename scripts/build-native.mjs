#!/usr/bin/env node
// Builds the native half into packages/native: the `sandboxctl-init` launcher
// and the `sandboxctl-oci` OCI runtime (copied from cargo's release output)
// and the napi addon with its generated
// `index.js` loader and `index.d.ts` (napi-rs v3 CLI).
//
// Inputs: the Rust workspace at the repository root. Invariants: a failed step
// fails the whole script with cargo's or napi's own message; the executables
// are replaced by rename, so a running `sandboxctl-init` or `sandboxctl-oci`
// is never written over (ETXTBSY).

import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INSTALL_RUST, missingTool } from './rust-toolchain.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const missing = missingTool();
if (missing) {
  console.error(`build-native: the native half (the launcher and the addon) is built with Rust, and ${missing}: ${INSTALL_RUST}, then run \`npm run build\` again`);
  process.exit(1);
}
const nativeDir = join(root, 'packages', 'native');

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) {
    console.error(`build-native: cannot run ${command}: ${result.error.message}`);
    process.exit(1);
  }
  if (result.status !== 0) {
    console.error(`build-native: ${command} ${args.join(' ')} failed`);
    process.exit(result.status ?? 1);
  }
  return result;
}

// cargo decides where artifacts go (CARGO_TARGET_DIR, .cargo/config.toml);
// ask it rather than assume ./target.
function targetDirectory() {
  const result = run('cargo', ['metadata', '--format-version', '1', '--no-deps'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  return JSON.parse(result.stdout).target_directory;
}

// The launcher and the OCI runtime are linked statically (static-pie), as the
// npm packages ship them: the launcher starts faster (no dynamic loader: ~25%
// of its instructions were in ld.so) and pid 1 stays under 1 MiB resident
// (804 KiB against 1468 KiB dynamic, bench/README.md); the runtime is the
// same core doing the same work. That needs an explicit --target.
const host = run('rustc', ['-vV'], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })
  .stdout.split('\n')
  .find((l) => l.startsWith('host: '))
  .slice('host: '.length)
  .trim();
const rustflags = [process.env.RUSTFLAGS, '-C target-feature=+crt-static'].filter(Boolean).join(' ');
run('cargo', ['build', '--release', '-p', 'sandbox-init', '-p', 'sandbox-oci', '-p', 'sandbox-bwrap', '-p', 'sandbox-front', '--target', host], { env: { ...process.env, RUSTFLAGS: rustflags } });
for (const name of ['sandboxctl-init', 'sandboxctl-oci', 'sandboxctl-bwrap', 'sandboxctl-front']) {
  const built = join(targetDirectory(), host, 'release', name);
  const dest = join(nativeDir, name);
  const staging = `${dest}.tmp-${process.pid}`;
  copyFileSync(built, staging);
  chmodSync(staging, 0o755);
  renameSync(staging, dest);
}

// binaryName (`sandboxctl`) and targets come from packages/native/package.json.
run(join(root, 'node_modules', '.bin', 'napi'), [
  'build',
  '--platform',
  '--release',
  '--manifest-path', join(root, 'crates', 'sandbox-napi', 'Cargo.toml'),
  '--package-json-path', join(nativeDir, 'package.json'),
  '--output-dir', nativeDir,
  '--js', 'index.js',
  '--dts', 'index.d.ts',
]);

// Name the loader as generated in its first line (napi's own mark sits below
// its lint and type-check switches); .gitattributes marks both files too.
const BANNER = '// GENERATED FILE, DO NOT EDIT: the napi-rs loader of the addon (crates/sandbox-napi), written by `napi build` through scripts/build-native.mjs (`npm run build`).\n';
for (const name of ['index.js', 'index.d.ts']) {
  const file = join(nativeDir, name);
  const text = readFileSync(file, 'utf8');
  if (!text.startsWith(BANNER)) writeFileSync(file, BANNER + text);
}
