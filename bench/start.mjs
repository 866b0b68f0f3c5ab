// Sections 1 and 2: start-up time of a sandboxed /bin/true, side by side with
// bubblewrap, every variant interleaved (each round runs every variant once,
// in rotating order) so machine noise falls on all of them alike.
//
// 1. Native start: `sandboxctl-init --plan FILE` vs bwrap for two set-ups,
//    with floors (/bin/true, unshare) in the same table; spawnSync from Node.
// 2. Node API, warm process: `await run()` vs child_process.spawn of bwrap
//    with the same set-up, awaited the same way, from the same process.
import { createRequire } from 'node:module';
import { BWRAP_FULL, BWRAP_RO, OPS_FULL, OPS_RO, median, quantile, planFiles, since, ms, spawnAsync, table, timedSync, interleave } from './lib.mjs';

const require = createRequire(import.meta.url);

export async function benchStart({ runs }) {
  const { initPath } = require('@sandboxctl/native/init-path');
  const { run } = require('@sandboxctl/core');
  const init = initPath();
  const files = planFiles({ full: { argv: ['/bin/true'], ops: OPS_FULL }, ro: { argv: ['/bin/true'], ops: OPS_RO } });

  // SANDBOXCTL_BENCH_INIT_BASELINE=PATH: another build of the init (e.g. a
  // copy of main's) timed with the full set-up in the same rounds.
  const baseline = process.env.SANDBOXCTL_BENCH_INIT_BASELINE;
  const variants = [
    { name: '/bin/true (floor)', fn: () => timedSync('/bin/true', []) },
    { name: 'unshare -Urmpf --mount-proc true (floor without a network namespace)', fn: () => timedSync('unshare', ['-Urmpf', '--mount-proc', 'true']) },
    // Issue 15's floor: the same namespaces as ours but ipc, uts and cgroup.
    { name: 'unshare -Urmpfn --mount-proc true (floor)', fn: () => timedSync('unshare', ['-Urmpfn', '--mount-proc', 'true']) },
    { name: 'bwrap --ro-bind / / true', fn: () => timedSync('bwrap', [...BWRAP_RO, 'true']), peer: 'ro' },
    { name: 'sandboxctl-init --plan (ro-bind /)', fn: () => timedSync(init, ['--plan', files.ro]), ours: 'ro' },
    { name: 'bwrap --ro-bind / / --proc --dev --unshare-all true', fn: () => timedSync('bwrap', [...BWRAP_FULL, 'true']), peer: 'full' },
    { name: 'sandboxctl-init --plan (ro-bind /, proc, dev)', fn: () => timedSync(init, ['--plan', files.full]), ours: 'full' },
    ...(baseline ? [{ name: `baseline ${baseline} --plan (ro-bind /, proc, dev)`, fn: () => timedSync(baseline, ['--plan', files.full]), ours: 'full' }] : []),
    {
      name: 'Node: await child_process.spawn(bwrap … --unshare-all true)',
      fn: async () => {
        const t = ms();
        await spawnAsync('bwrap', [...BWRAP_FULL, 'true']);
        return since(t);
      },
      peer: 'node',
    },
    {
      name: 'Node: await run() (ro-bind /, proc, dev)',
      fn: async () => {
        const t = ms();
        const r = await run({ argv: ['/bin/true'], ops: OPS_FULL, stdio: 'ignore' });
        if (r.code !== 0) throw new Error(`run exited ${r.code}`);
        return since(t);
      },
      ours: 'node',
    },
  ];

  const samples = await interleave(variants, runs, 10);
  const med = samples.map(median);
  const peerOf = (tag) => med[variants.findIndex((v) => v.peer === tag)];
  const rows = variants.map((v, i) => ({
    variant: v.name,
    medianMs: +med[i].toFixed(3),
    p90Ms: +quantile(samples[i], 0.9).toFixed(3),
    vsBwrap: v.ours ? +(med[i] / peerOf(v.ours)).toFixed(2) : null,
  }));
  return {
    name: 'start',
    title: `1–2. Start-up of a sandboxed /bin/true, ${runs} interleaved runs each (ms, wall clock from Node)`,
    markdown: table(
      ['variant', 'median ms', 'p90 ms', 'ratio to bwrap (same set-up, same way)'],
      rows.map((r) => [r.variant, r.medianMs.toFixed(2), r.p90Ms.toFixed(2), r.vsBwrap === null ? '' : `${r.vsBwrap.toFixed(2)}×`]),
    ),
    json: { runs, rows },
  };
}
