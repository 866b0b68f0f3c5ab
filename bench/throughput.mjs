// Section 4: throughput from one Node process. N sandboxes of /bin/true at
// concurrency 1, 2, 8 and 32: ours through `run()`, bwrap through
// child_process.spawn, both awaited the same way, same set-up. Batches
// alternate ours/bwrap (in alternating order each round); the median batch
// rate is reported.
import { createRequire } from 'node:module';
import { BWRAP_FULL, OPS_FULL, median, ms, pool, since, spawnAsync, table } from './lib.mjs';

const require = createRequire(import.meta.url);

export async function benchThroughput({ count, rounds, levels = [1, 2, 8, 32] }) {
  const { run } = require('@sandboxctl/core');
  const ours = async () => {
    const r = await run({ argv: ['/bin/true'], ops: OPS_FULL, stdio: 'ignore' });
    if (r.code !== 0) throw new Error(`run exited ${r.code}`);
  };
  const bwrap = () => spawnAsync('bwrap', [...BWRAP_FULL, 'true']);
  const batch = async (task, c) => {
    const t = ms();
    await pool(count, c, task);
    return count / (since(t) / 1000);
  };
  await batch(ours, 8); // warm up
  await batch(bwrap, 8);
  const rows = [];
  for (const c of levels) {
    const o = [];
    const b = [];
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        o.push(await batch(ours, c));
        b.push(await batch(bwrap, c));
      } else {
        b.push(await batch(bwrap, c));
        o.push(await batch(ours, c));
      }
    }
    rows.push({ concurrency: c, oursPerSec: +median(o).toFixed(1), bwrapPerSec: +median(b).toFixed(1), ratio: +(median(o) / median(b)).toFixed(2) });
  }
  return {
    name: 'throughput',
    title: `4. Throughput: ${count} sandboxes of /bin/true per batch from one Node process, median of ${rounds} batches (sandboxes/s; higher is better)`,
    markdown: table(
      ['concurrency', 'await run() /s', 'spawn(bwrap) /s', 'ours / bwrap'],
      rows.map((r) => [r.concurrency, r.oursPerSec.toFixed(0), r.bwrapPerSec.toFixed(0), `${r.ratio.toFixed(2)}×`]),
    ),
    json: { count, rounds, rows },
  };
}
