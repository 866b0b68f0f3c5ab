#!/usr/bin/env node
// `npm run bench [-- options]`: every benchmark side by side with bubblewrap
// in one run, unprivileged. Prints each section as a markdown table and
// writes bench/results/<section>.json, its chart <section>.svg (bench/charts.mjs)
// and bench/results/summary.md.
//
//   --runs N        start-up runs per variant (default 300; sections 1, 1b, 2)
//   --cli-runs N    CLI cold-start runs per variant (default 60)
//   --pool-runs N   warm-pool latency runs per variant (default 200)
//   --count N       sandboxes per throughput batch (default 500)
//   --rounds N      throughput batches per level and seccomp rounds (default 3 / 7)
//   --calls N       getppid calls in the seccomp loop (default 10,000,000)
//   --only a,b      sections: start, hyperfine, cli, throughput, memory, seccomp, pool
//   --quick         small numbers everywhere, for a smoke run
//
// As root it installs bubblewrap and hyperfine from Debian when missing and
// re-runs itself as an unprivileged user (the product's user).
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, chmodSync, readdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bwrapVersion, ensureTools, kernel } from './lib.mjs';
import { writeChart } from './charts.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const quick = args.includes('--quick');
const num = (name, dflt, small) => Number(opt(name, quick ? small : dflt));

ensureTools([['bwrap', 'bubblewrap'], ['hyperfine', 'hyperfine']]);

if (process.getuid() === 0 && !process.env.SANDBOXCTL_BENCH_AS_ROOT) {
  const user = process.env.SANDBOXCTL_TEST_USER || 'sbxtest';
  if (spawnSync('id', [user]).status !== 0) execFileSync('useradd', ['--create-home', '--shell', '/bin/sh', user]);
  const out = mkdtempSync('/tmp/sandboxctl-bench-');
  chmodSync(out, 0o777);
  const r = spawnSync('runuser', ['-u', user, '--', process.execPath, fileURLToPath(import.meta.url), ...args, '--out', out], { stdio: 'inherit' });
  if (r.status === 0) {
    const dest = join(here, quick ? 'results/quick' : 'results');
    mkdirSync(dest, { recursive: true });
    for (const f of readdirSync(out)) copyFileSync(join(out, f), join(dest, f));
  }
  process.exit(r.status ?? 1);
}

const outDir = opt('--out', join(here, quick ? 'results/quick' : 'results'));
mkdirSync(outDir, { recursive: true });
const only = opt('--only', 'start,hyperfine,cli,throughput,memory,seccomp,pool').split(',');
const sections = {
  start: async () => (await import('./start.mjs')).benchStart({ runs: num('--runs', 300, 30) }),
  hyperfine: async () => (await import('./hyperfine.mjs')).benchHyperfine({ runs: num('--runs', 300, 30) }),
  cli: async () => (await import('./cli.mjs')).benchCli({ runs: num('--cli-runs', 60, 10), root }),
  throughput: async () => (await import('./throughput.mjs')).benchThroughput({ count: num('--count', 500, 100), rounds: num('--rounds', 3, 1) }),
  memory: async () => (await import('./memory.mjs')).benchMemory({ samples: quick ? 3 : 15 }),
  seccomp: async () => (await import('./seccomp.mjs')).benchSeccomp({ calls: num('--calls', 10_000_000, 1_000_000), rounds: quick ? 3 : num('--rounds', 7, 3), root }),
  pool: async () => (await import('./pool.mjs')).benchPool({ runs: num('--pool-runs', 200, 20), count: num('--count', 500, 100), rounds: num('--rounds', 3, 1) }),
};

const header = `uid ${process.getuid()}, kernel ${kernel()}, ${bwrapVersion()}, node ${process.version}, ${new Date().toISOString()}`;
console.log(`\nsandboxctl benchmarks: ${header}`);
const parts = [`# sandboxctl benchmarks\n\n${header}\n`];
for (const name of only) {
  if (!sections[name]) throw new Error(`unknown section ${name}; known: ${Object.keys(sections).join(', ')}`);
  const t = Date.now();
  const result = await sections[name]();
  if (!result) {
    console.log(`\n(${name}: skipped, its tool is not installed)`);
    continue;
  }
  const text = `## ${result.title}\n\n${result.markdown}\n`;
  console.log(`\n${text}(${((Date.now() - t) / 1000).toFixed(0)} s)`);
  parts.push(text);
  const json = { header, date: new Date().toISOString(), uid: process.getuid(), ...result.json };
  writeFileSync(join(outDir, `${result.name}.json`), JSON.stringify(json, null, 2) + '\n');
  // The section's chart beside it (bench/charts.mjs): ours and the peer, ratios against the goals.
  writeChart(outDir, result.name, json);
}
// The summary stands for a whole run only.
if (!args.includes('--only')) writeFileSync(join(outDir, 'summary.md'), parts.join('\n'));
