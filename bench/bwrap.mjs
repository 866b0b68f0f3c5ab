// The bubblewrap drop-in (issue 15): the same bubblewrap command lines run by
// Debian's /usr/bin/bwrap and by sandboxctl-bwrap, interleaved run by run, wall
// clock from Node (spawnSync), plus the CPU time (user + sys) of each.
//
//   node bench/bwrap.mjs [--runs N]
//
// Ratios are ours / bubblewrap's: below 1 is faster.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus } from 'node:os';
import { median, numberOption, quantile, table, which, ms, since } from './lib.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const runs = numberOption(args, '--runs', 100, 10);
const ours = process.env.SANDBOXCTL_BWRAP ?? join(root, 'packages/native/sandboxctl-bwrap');
const theirs = which('bwrap');
if (!existsSync(ours)) throw new Error(`${ours} is missing: npm run build`);
if (!theirs) throw new Error('bubblewrap is missing: apt-get install bubblewrap');

const HOST = ['--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp'];
const cases = [
  ['host read-only, /proc, /dev, /tmp: `true`', [...HOST, 'true']],
  ['the same, --unshare-all', [...HOST, '--unshare-all', 'true']],
  ['the same, --unshare-all --die-with-parent --new-session', [...HOST, '--unshare-all', '--die-with-parent', '--new-session', 'true']],
];

function once(bin, argv) {
  const t = ms();
  const r = spawnSync(bin, argv, { stdio: 'ignore' });
  const wall = since(t);
  if (r.status !== 0) throw new Error(`${bin} ${argv.join(' ')} exited ${r.status ?? r.signal}`);
  return wall;
}

/** CPU time per run of `n` runs, from the shell's `times` (its children's user + sys, 10 ms ticks). */
function cpuOf(bin, argv, n) {
  const script = `i=0; while [ $i -lt ${n} ]; do "$0" "$@" || exit 1; i=$((i+1)); done; times`;
  const r = spawnSync('sh', ['-c', script, bin, ...argv], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cpu loop of ${bin} failed: ${r.stderr}`);
  // `times`: the shell's own line, then the children's "XmY.YYYs XmZ.ZZZs".
  const line = r.stdout.trim().split('\n').pop();
  const secs = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return ((secs[0] + secs[1]) * 1000) / n;
}

const load = () => spawnSync('sh', ['-c', 'cut -d" " -f1-3 /proc/loadavg'], { encoding: 'utf8' }).stdout.trim();
const bwrapVersion = spawnSync(theirs, ['--version'], { encoding: 'utf8' }).stdout.trim();
console.log(`bench/bwrap.mjs: ${runs} interleaved runs per case, ${cpus().length} CPUs, uid ${process.getuid()}, load ${load()}`);
console.log(`peer: ${theirs} (${bwrapVersion}); ours: ${ours}`);

const rows = [];
for (const [name, argv] of cases) {
  // Warm both (page cache, binaries).
  for (let i = 0; i < 3; i++) {
    once(theirs, argv);
    once(ours, argv);
  }
  const a = [];
  const b = [];
  for (let i = 0; i < runs; i++) {
    if (i % 2) {
      a.push(once(theirs, argv));
      b.push(once(ours, argv));
    } else {
      b.push(once(ours, argv));
      a.push(once(theirs, argv));
    }
  }
  const cpuN = Math.max(20, runs);
  const cA = cpuOf(theirs, argv, cpuN);
  const cB = cpuOf(ours, argv, cpuN);
  rows.push([
    name,
    median(a).toFixed(2),
    median(b).toFixed(2),
    (median(b) / median(a)).toFixed(2) + '×',
    quantile(a, 0.9).toFixed(2),
    quantile(b, 0.9).toFixed(2),
    cA.toFixed(2),
    cB.toFixed(2),
  ]);
}
console.log(
  table(['bubblewrap command line', 'bwrap median ms', 'ours median ms', 'ours / bwrap', 'bwrap p90', 'ours p90', 'bwrap CPU ms', 'ours CPU ms'], rows, [false, true, true, true, true, true, true, true]),
);
console.log(`load after: ${load()}`);
