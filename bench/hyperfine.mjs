// Section 1, measured a second way: hyperfine (no shell, -N) times the
// native start of both set-ups, bwrap against ours, outside Node. A check
// that section 1's numbers are not an artefact of measuring from Node.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { OPS_FULL, OPS_RO, planFiles, table, which } from './lib.mjs';

const require = createRequire(import.meta.url);

export async function benchHyperfine({ runs }) {
  if (!which('hyperfine')) return null;
  const { initPath } = require('@sandboxctl/native/init-path');
  const init = initPath();
  const files = planFiles({ full: { argv: ['/bin/true'], ops: OPS_FULL }, ro: { argv: ['/bin/true'], ops: OPS_RO } });
  const commands = [
    ['bwrap --ro-bind / / true', 'bwrap --ro-bind / / true', 'ro-peer'],
    ['sandboxctl-init --plan (ro-bind /)', `${init} --plan ${files.ro}`, 'ro'],
    ['bwrap --ro-bind / / --proc --dev --unshare-all true', 'bwrap --ro-bind / / --proc /proc --dev /dev --unshare-all true', 'full-peer'],
    ['sandboxctl-init --plan (ro-bind /, proc, dev)', `${init} --plan ${files.full}`, 'full'],
  ];
  const out = join(mkdtempSync('/tmp/sandboxctl-bench-hf-'), 'hf.json');
  const r = spawnSync('hyperfine', ['-N', '--warmup', '20', '--runs', String(runs), '--export-json', out, ...commands.map(([, c]) => c)], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`hyperfine exited ${r.status}`);
  const results = JSON.parse(readFileSync(out, 'utf8')).results;
  const medOf = (tag) => results[commands.findIndex((c) => c[2] === tag)].median * 1000;
  const rows = commands.map(([name, , tag], i) => ({
    variant: name,
    medianMs: +(results[i].median * 1000).toFixed(3),
    meanMs: +(results[i].mean * 1000).toFixed(3),
    stddevMs: +(results[i].stddev * 1000).toFixed(3),
    vsBwrap: tag.endsWith('-peer') ? null : +(medOf(tag) / medOf(`${tag}-peer`)).toFixed(2),
  }));
  return {
    name: 'hyperfine',
    title: `1b. Native start measured by hyperfine -N (${runs} runs each, not interleaved)`,
    markdown: table(
      ['command', 'median ms', 'mean ± σ ms', 'ratio to bwrap'],
      rows.map((x) => [x.variant, x.medianMs.toFixed(2), `${x.meanMs.toFixed(2)} ± ${x.stddevMs.toFixed(2)}`, x.vsBwrap === null ? '' : `${x.vsBwrap.toFixed(2)}×`]),
    ),
    json: { runs, rows },
  };
}
