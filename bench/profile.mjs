#!/usr/bin/env node
// Where the start-up time goes: the full set-up with one part of the default
// policy taken away at a time (seccomp, Landlock, the network namespace, the
// ipc/uts/cgroup namespaces, proc, dev), every variant interleaved, median and
// difference to the default. Optional extra builds of the init are timed
// with the default plan (e.g. a static build, to price dynamic linking):
//
//   RUSTFLAGS="-C target-feature=+crt-static" cargo build --release -p sandbox-init \
//     --target x86_64-unknown-linux-gnu --target-dir /tmp/static-target
//   cargo build --release -p sandbox-init --target x86_64-unknown-linux-gnu --target-dir /tmp/dyn-target
//   node bench/profile.mjs --runs 300 \
//     --init dynamic=/tmp/dyn-target/x86_64-unknown-linux-gnu/release/sandboxctl-init \
//     --init static=/tmp/static-target/x86_64-unknown-linux-gnu/release/sandboxctl-init
//
// Run it as the unprivileged user (as root it re-runs itself as sbxtest).
// Prints a markdown table; writes bench/results/profile.json.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, chmodSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BWRAP_FULL, OPS_FULL, median, planFiles, table, timedSync, interleave } from './lib.mjs';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 200;
const inits = args.flatMap((a, i) => (a === '--init' ? [args[i + 1].split('=')] : []));

if (process.getuid() === 0) {
  const out = mkdtempSync('/tmp/sandboxctl-profile-');
  chmodSync(out, 0o777);
  const r = spawnSync('runuser', ['-u', process.env.SANDBOXCTL_TEST_USER || 'sbxtest', '--', process.execPath, fileURLToPath(import.meta.url), ...args, '--out', out], { stdio: 'inherit' });
  if (r.status === 0) copyFileSync(join(out, 'profile.json'), join(here, 'results', 'profile.json'));
  process.exit(r.status ?? 1);
}

const init = require('@sandboxctl/native/init-path').initPath();
const base = { argv: ['/bin/true'], ops: OPS_FULL };
const plans = {
  default: base,
  noSeccomp: { ...base, seccomp: { preset: 'none' } },
  noLandlock: { ...base, landlock: { allowAbstractUnix: true, allowSignals: true } },
  hostNet: { ...base, network: 'host' },
  fewerNs: { ...base, namespaces: { ipc: false, uts: false, cgroup: false } },
  noDev: { ...base, ops: OPS_FULL.filter((o) => o.kind !== 'dev') },
  noProc: { ...base, ops: OPS_FULL.filter((o) => o.kind !== 'proc') },
  bare: { argv: ['/bin/true'], ops: OPS_FULL.filter((o) => o.kind === 'bind'), seccomp: { preset: 'none' }, landlock: { allowAbstractUnix: true, allowSignals: true }, network: 'host', namespaces: { ipc: false, uts: false, cgroup: false } },
};
const files = planFiles(plans);
const variants = [
  { name: 'default (ro-bind /, proc, dev; every namespace, seccomp, Landlock)', fn: () => timedSync(init, ['--plan', files.default]), base: true },
  { name: '− seccomp (preset none)', fn: () => timedSync(init, ['--plan', files.noSeccomp]) },
  { name: '− Landlock scopes', fn: () => timedSync(init, ['--plan', files.noLandlock]) },
  { name: '− network namespace (host network)', fn: () => timedSync(init, ['--plan', files.hostNet]) },
  { name: '− ipc, uts, cgroup namespaces', fn: () => timedSync(init, ['--plan', files.fewerNs]) },
  { name: '− dev op', fn: () => timedSync(init, ['--plan', files.noDev]) },
  { name: '− proc op', fn: () => timedSync(init, ['--plan', files.noProc]) },
  { name: 'bare: ro-bind / only, user+mount+pid namespaces, no seccomp, no Landlock', fn: () => timedSync(init, ['--plan', files.bare]) },
  ...inits.map(([name, path]) => ({ name: `build ${name}: default plan`, fn: () => timedSync(path, ['--plan', files.default]) })),
  { name: 'bwrap --ro-bind / / --proc --dev --unshare-all true', fn: () => timedSync('bwrap', [...BWRAP_FULL, 'true']) },
  { name: 'bwrap --ro-bind / / --proc --dev --unshare-all --share-net true', fn: () => timedSync('bwrap', [...BWRAP_FULL, '--share-net', 'true']) },
  { name: 'bwrap --ro-bind / / true (user+mount only)', fn: () => timedSync('bwrap', ['--ro-bind', '/', '/', 'true']) },
];
const samples = await interleave(variants, runs, 10);
const med = samples.map(median);
const b = med[variants.findIndex((v) => v.base)];
const rows = variants.map((v, i) => ({ variant: v.name, medianMs: +med[i].toFixed(3), deltaMs: +(med[i] - b).toFixed(3) }));
console.log(`\nStart-up by part, ${runs} interleaved runs each, uid ${process.getuid()}\n`);
console.log(table(['variant', 'median ms', 'Δ to default ms'], rows.map((r) => [r.variant, r.medianMs.toFixed(2), (r.deltaMs > 0 ? '+' : '') + r.deltaMs.toFixed(2)])));
const outDir = args.includes('--out') ? args[args.indexOf('--out') + 1] : join(here, 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'profile.json'), JSON.stringify({ runs, uid: process.getuid(), date: new Date().toISOString(), rows }, null, 2) + '\n');
