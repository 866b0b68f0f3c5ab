#!/usr/bin/env node
// Start-up time of a sandboxed /bin/true, side by side with bubblewrap in one
// run, interleaved (each round runs every variant once, in rotating order),
// so machine noise falls on all of them alike. Prints medians and ratios to
// bwrap as a markdown table and writes bench/results/start.json.
//
//   npm run bench [-- --runs 300]
//
// Installs bubblewrap from Debian when it is missing and we are root. When run
// as root it re-runs itself as an unprivileged user (the product's user).
import { spawnSync, execFileSync } from 'node:child_process';
import { writeFileSync, mkdirSync, existsSync, mkdtempSync, chmodSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 300;

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

if (!which('bwrap')) {
  if (process.getuid() !== 0) {
    console.error('bench: bubblewrap is not installed (apt-get install bubblewrap), and only root can install it');
    process.exit(1);
  }
  execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap'], { stdio: 'inherit' });
}

if (process.getuid() === 0 && !process.env.SANDBOXCTL_BENCH_AS_ROOT) {
  const user = process.env.SANDBOXCTL_TEST_USER || 'sbxtest';
  if (spawnSync('id', [user]).status !== 0) execFileSync('useradd', ['--create-home', '--shell', '/bin/sh', user]);
  const out = mkdtempSync('/tmp/sandboxctl-bench-');
  chmodSync(out, 0o777);
  const r = spawnSync('runuser', ['-u', user, '--', process.execPath, fileURLToPath(import.meta.url), ...args, '--out', out], { stdio: 'inherit' });
  if (r.status === 0) {
    mkdirSync(join(here, 'results'), { recursive: true });
    execFileSync('cp', [join(out, 'start.json'), join(here, 'results', 'start.json')]);
  }
  process.exit(r.status ?? 1);
}

const { initPath } = require('@sandboxctl/native/init-path');
const { run } = require('@sandboxctl/core');
const init = initPath();
const outDir = args.includes('--out') ? args[args.indexOf('--out') + 1] : join(here, 'results');
mkdirSync(outDir, { recursive: true });

// The same set-up for both: host root read-only, private proc and dev, every
// namespace (network included); ours also loads its default seccomp filter.
const plan = { argv: ['/bin/true'], ops: [
  { kind: 'bind', source: '/', target: '/' },
  { kind: 'proc', target: '/proc' },
  { kind: 'dev', target: '/dev' },
] };
const planFile = join(mkdtempSync('/tmp/sandboxctl-plan-'), 'plan.json');
writeFileSync(planFile, JSON.stringify(plan));
const planRo = { argv: ['/bin/true'], ops: [{ kind: 'bind', source: '/', target: '/' }] };
const planRoFile = planFile.replace('plan.json', 'plan-ro.json');
writeFileSync(planRoFile, JSON.stringify(planRo));

const exec = (cmd, argv) => () => {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { stdio: 'ignore' });
  const dt = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status}`);
  return dt;
};

const variants = [
  { name: '/bin/true (floor)', fn: exec('/bin/true', []) },
  { name: 'unshare -Urmpf --mount-proc true (floor)', fn: exec('unshare', ['-Urmpf', '--mount-proc', 'true']) },
  { name: 'bwrap --ro-bind / / true', fn: exec('bwrap', ['--ro-bind', '/', '/', 'true']), peer: 'ro' },
  { name: 'sandboxctl-init --plan (ro-bind /)', fn: exec(init, ['--plan', planRoFile]), ours: 'ro' },
  { name: 'bwrap --ro-bind / / --proc --dev --unshare-all true', fn: exec('bwrap', ['--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--unshare-all', 'true']), peer: 'full' },
  { name: 'sandboxctl-init --plan (ro-bind /, proc, dev)', fn: exec(init, ['--plan', planFile]), ours: 'full' },
  {
    name: 'Node API await run() (ro-bind /, proc, dev)',
    fn: async () => {
      const t = process.hrtime.bigint();
      const r = await run({ argv: ['/bin/true'], ops: plan.ops, stdio: 'ignore' });
      if (r.code !== 0) throw new Error(`run exited ${r.code}`);
      return Number(process.hrtime.bigint() - t) / 1e6;
    },
    ours: 'full',
  },
];

for (const v of variants) for (let i = 0; i < 10; i++) await v.fn(); // warm up
const samples = variants.map(() => []);
for (let i = 0; i < runs; i++) {
  for (let k = 0; k < variants.length; k++) {
    const j = (i + k) % variants.length;
    samples[j].push(await variants[j].fn());
  }
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const med = samples.map(median);
const peerOf = (tag) => med[variants.findIndex((v) => v.peer === tag)];
const rows = variants.map((v, i) => ({
  variant: v.name,
  medianMs: +med[i].toFixed(3),
  vsBwrap: v.ours ? +(med[i] / peerOf(v.ours)).toFixed(2) : null,
}));
console.log(`\nStart-up, ${runs} interleaved runs each, uid ${process.getuid()}, kernel ${execFileSync('uname', ['-r']).toString().trim()}\n`);
console.log('| variant | median ms | ratio to bwrap (same set-up) |');
console.log('|---|---:|---:|');
for (const r of rows) console.log(`| ${r.variant} | ${r.medianMs.toFixed(2)} | ${r.vsBwrap === null ? '' : r.vsBwrap.toFixed(2) + '×'} |`);
writeFileSync(join(outDir, 'start.json'), JSON.stringify({ runs, uid: process.getuid(), date: new Date().toISOString(), rows }, null, 2) + '\n');
