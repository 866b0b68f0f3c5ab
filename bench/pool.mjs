// Section 7: the warm pool (createPool, packages/core/src/pool) against
// bubblewrap's full set-up spawned from the same Node process, same set-up
// (host root read-only, proc, dev, every namespace).
// - Latency: one `await pool.run(['true'])` on a pool whose sandboxes are
//   ready (the replacement is set up between samples, as a service's idle
//   time between requests would) against `await spawn('bwrap', …)`;
//   `await run()` for scale. Interleaved.
// - Throughput: `count` programs at concurrency 1 and 8 through a pool of
//   that size (the replacements now compete with the runs for the CPU)
//   against spawn(bwrap) at the same concurrency. Batches alternate.
// Both kinds of pool: sandboxes forked by the pool's zygote (the default)
// and whole live sandboxes (`zygote: false`, the pool before the zygote).
import { createRequire } from 'node:module';
import { BWRAP_FULL, OPS_FULL, interleave, median, ms, pool as inFlight, quantile, since, spawnAsync, table } from './lib.mjs';

const require = createRequire(import.meta.url);

// Every sandbox ready and the last one used gone: the pool between requests.
const settle = async (p) => {
  while (p.stats.ready < p.stats.target || p.stats.busy > 0) await new Promise((r) => setTimeout(r, 1));
};

export async function benchPool({ runs, count, rounds, levels = [1, 8] }) {
  const { createPool, run } = require('@sandboxctl/core');
  const warmPool = await createPool({ ops: OPS_FULL, size: 2 });
  const wholePool = await createPool({ ops: OPS_FULL, size: 2, zygote: false });
  const check = (r) => {
    if (r.code !== 0) throw new Error(`exited ${r.code}`);
  };
  const variants = [
    { name: "await spawn('bwrap', … --unshare-all true)", fn: async () => { const t = ms(); await spawnAsync('bwrap', [...BWRAP_FULL, 'true']); return since(t); } },
    { name: "await pool.run(['true']) (ro-bind /, proc, dev)", fn: async () => { await settle(warmPool); const t = ms(); check(await warmPool.run(['true'], { stdio: 'ignore' })); return since(t); } },
    { name: "await pool.run(['true']), zygote: false (whole sandboxes)", fn: async () => { await settle(wholePool); const t = ms(); check(await wholePool.run(['true'], { stdio: 'ignore' })); return since(t); } },
    { name: 'await run() (scale)', fn: async () => { const t = ms(); check(await run({ argv: ['true'], ops: OPS_FULL, stdio: 'ignore' })); return since(t); } },
  ];
  for (const v of variants) {
    const fn = v.fn;
    v.fn = () => fn().catch((e) => { throw new Error(`${v.name}: ${e.message}`, { cause: e }); });
  }
  const samples = await interleave(variants, runs, 5);
  await warmPool.close();
  await wholePool.close();
  const bwrapMed = median(samples[0]);
  const latency = variants.map((v, i) => ({ variant: v.name, medianMs: +median(samples[i]).toFixed(2), p90Ms: +quantile(samples[i], 0.9).toFixed(2), vsBwrap: +(median(samples[i]) / bwrapMed).toFixed(2) }));

  const rows = [];
  for (const c of levels) {
    const p = await createPool({ ops: OPS_FULL, size: c });
    const w = await createPool({ ops: OPS_FULL, size: c, zygote: false });
    const batch = async (task) => {
      const t = ms();
      await inFlight(count, c, task);
      return count / (since(t) / 1000);
    };
    const ours = async () => check(await p.run(['true'], { stdio: 'ignore' }).catch((e) => { throw new Error(`pool.run at concurrency ${c}: ${e.message}`, { cause: e }); }));
    const whole = async () => check(await w.run(['true'], { stdio: 'ignore' }).catch((e) => { throw new Error(`pool.run (zygote: false) at concurrency ${c}: ${e.message}`, { cause: e }); }));
    const bwrap = () => spawnAsync('bwrap', [...BWRAP_FULL, 'true']);
    const o = [];
    const wh = [];
    const b = [];
    const steps = [
      async () => { await settle(p); o.push(await batch(ours)); },
      async () => { await settle(w); wh.push(await batch(whole)); },
      async () => b.push(await batch(bwrap)),
    ];
    for (let r = 0; r < rounds; r++) {
      // Each round in another order: none always runs first or last.
      for (let i = 0; i < steps.length; i++) await steps[(i + r) % steps.length]();
    }
    await p.close();
    await w.close();
    rows.push({ concurrency: c, poolPerSec: +median(o).toFixed(1), wholePerSec: +median(wh).toFixed(1), bwrapPerSec: +median(b).toFixed(1), ratio: +(median(o) / median(b)).toFixed(2), wholeRatio: +(median(wh) / median(b)).toFixed(2) });
  }
  return {
    name: 'pool',
    title: `7. Warm pool: latency (${runs} interleaved runs each, ms) and throughput (${count} programs per batch, median of ${rounds} batches, per second)`,
    markdown:
      table(['variant', 'median ms', 'p90 ms', 'ratio to bwrap'], latency.map((r) => [r.variant, r.medianMs.toFixed(2), r.p90Ms.toFixed(2), `${r.vsBwrap.toFixed(2)}×`])) +
      '\n\n' +
      table(['concurrency', 'pool.run() /s', 'zygote: false /s', 'spawn(bwrap) /s', 'pool / bwrap', 'zygote: false / bwrap'], rows.map((r) => [r.concurrency, r.poolPerSec.toFixed(0), r.wholePerSec.toFixed(0), r.bwrapPerSec.toFixed(0), `${r.ratio.toFixed(2)}×`, `${r.wholeRatio.toFixed(2)}×`])),
    json: { runs, count, rounds, latency, rows },
  };
}
