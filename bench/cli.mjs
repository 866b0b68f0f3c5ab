// Section 3: the CLI from a cold start, as a shell user runs it:
// `sandboxctl run … -- true` against the floor `node -e ''` (every Node CLI
// pays it) and, when it is installed, `srt true` (Anthropic's sandbox
// runtime, which wraps bwrap). bwrap is in the table for scale. Interleaved.
import { join } from 'node:path';
import { BWRAP_FULL, median, quantile, table, timedSync, which, interleave } from './lib.mjs';

export async function benchCli({ runs, root }) {
  const cli = join(root, 'packages/cli/bin/sandboxctl.js');
  const variants = [
    { name: "node -e '' (floor)", fn: () => timedSync(process.execPath, ['-e', '']), floor: true },
    { name: 'sandboxctl run --ro-bind / / --proc /proc --dev /dev -- true', fn: () => timedSync(process.execPath, [cli, 'run', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--', 'true']) },
    { name: 'bwrap --ro-bind / / --proc --dev --unshare-all true (scale)', fn: () => timedSync('bwrap', [...BWRAP_FULL, 'true']) },
  ];
  const srt = which('srt');
  if (srt) variants.push({ name: 'srt true', fn: () => timedSync(srt, ['true']) });

  const samples = await interleave(variants, runs, 3);
  const med = samples.map(median);
  const floor = med[0];
  const rows = variants.map((v, i) => ({ variant: v.name, medianMs: +med[i].toFixed(2), p90Ms: +quantile(samples[i], 0.9).toFixed(2), vsNode: +(med[i] / floor).toFixed(2) }));
  return {
    name: 'cli',
    title: `3. CLI cold start, ${runs} interleaved runs each${srt ? '' : ' (srt is not installed: its row is left out)'}`,
    markdown: table(['command', 'median ms', 'p90 ms', "ratio to node -e ''"], rows.map((r) => [r.variant, r.medianMs.toFixed(1), r.p90Ms.toFixed(1), `${r.vsNode.toFixed(2)}×`])),
    json: { runs, srtInstalled: Boolean(srt), rows },
  };
}
