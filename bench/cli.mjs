// Section 3: the CLI from a cold start, as a shell user runs it (the
// package's bin: the native front for `run`'s and `explain`'s plain flags,
// --help and a healthy install's `doctor` (with one small `node -e`), Node
// for the rest), interleaved:
// - `sandboxctl run … -- true`, `sandboxctl --help`, `explain` and `doctor`
//   against the floor `node -e 0` (every Node CLI pays it; goal ≤ 1.3×),
//   and the Node CLI's own `run`, `--help`, `explain` and `doctor` beside them;
// - `sandboxctl run --preset agent -- true` against `srt true` (Anthropic's
//   sandbox runtime, npm `@anthropic-ai/sandbox-runtime`, a dev dependency:
//   bwrap, socat and ripgrep from Debian; goal: ours ≥ 4× faster). Both run in
//   the same small git project (a package.json and a source file), where an
//   agent works: the agent preset walks the current directory for paths to
//   protect, so a huge tree costs more (the repository itself: see README).
// bwrap is in the table for scale. `SANDBOXCTL_BENCH_CLI_BASELINE=FILE` adds
// rows for another build's `bin/sandboxctl.js` (an older commit's), run the
// same way in the same rounds: before and after side by side.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BWRAP_FULL, median, ms, quantile, since, table, which, interleave } from './lib.mjs';

function timed(cmd, argv, cwd, env) {
  const t = ms();
  const r = spawnSync(cmd, argv, { stdio: 'ignore', cwd, env });
  const dt = since(t);
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status ?? r.signal}`);
  return dt;
}

/** A small git project, as an agent's working directory. */
function project() {
  const dir = mkdtempSync(join(tmpdir(), 'sbx-bench-project-'));
  execFileSync('git', ['init', '-q', dir]);
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'package.json'), '{ "name": "demo", "version": "1.0.0" }\n');
  writeFileSync(join(dir, 'src/index.js'), 'console.log(1);\n');
  return dir;
}

export async function benchCli({ runs, root }) {
  // What users run: the package's bin (packages/cli/bin/sandboxctl, the
  // script that starts the native front, crates/sandbox-front, or Node);
  // the Node CLI itself (`node bin/sandboxctl.js`) in rows of its own.
  const bin = join(root, 'packages/cli/bin/sandboxctl');
  const cli = join(root, 'packages/cli/bin/sandboxctl.js');
  const node = process.execPath;
  const cwd = project();
  const srtBin = [join(root, 'node_modules/.bin/srt'), which('srt')].find((p) => p && existsSync(p));
  const RUN = ['run', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--', 'true'];
  const variants = [
    { name: 'node -e 0 (floor)', fn: () => timed(node, ['-e', '0']), floor: true },
    { name: 'sandboxctl run --ro-bind / / --proc /proc --dev /dev -- true', fn: () => timed(bin, RUN) },
    { name: 'sandboxctl --help', fn: () => timed(bin, ['--help']) },
    { name: 'sandboxctl explain --ro-bind / / --proc /proc --dev /dev', fn: () => timed(bin, ['explain', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--', 'true']) },
    { name: 'sandboxctl doctor', fn: () => timed(bin, ['doctor']) },
    { name: 'sandboxctl run --preset agent -- true (in a small project)', fn: () => timed(bin, ['run', '--preset', 'agent', '--', 'true'], cwd), agent: true },
    { name: 'Node CLI: node bin/sandboxctl.js run --ro-bind / / --proc /proc --dev /dev -- true', fn: () => timed(node, [cli, ...RUN]) },
    { name: 'Node CLI: node bin/sandboxctl.js --help', fn: () => timed(node, [cli, '--help']) },
    { name: 'Node CLI: node bin/sandboxctl.js explain --ro-bind / / --proc /proc --dev /dev', fn: () => timed(node, [cli, 'explain', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--', 'true']) },
    { name: 'Node CLI: node bin/sandboxctl.js doctor', fn: () => timed(node, [cli, 'doctor']) },
    { name: 'bwrap --ro-bind / / --proc --dev --unshare-all true (scale)', fn: () => timed('bwrap', [...BWRAP_FULL, 'true']) },
  ];
  const baseline = process.env.SANDBOXCTL_BENCH_CLI_BASELINE;
  if (baseline) {
    // The baseline's own dependencies resolve from this checkout.
    const env = { ...process.env, NODE_PATH: join(root, 'node_modules') };
    variants.push(
      { name: 'baseline: sandboxctl run --ro-bind / / --proc /proc --dev /dev -- true', fn: () => timed(node, [baseline, 'run', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--', 'true'], undefined, env) },
      { name: 'baseline: sandboxctl --help', fn: () => timed(node, [baseline, '--help'], undefined, env) },
      { name: 'baseline: sandboxctl run --preset agent -- true', fn: () => timed(node, [baseline, 'run', '--preset', 'agent', '--', 'true'], cwd, env) },
    );
  }
  if (srtBin) variants.push({ name: 'srt true (in the same project)', fn: () => timed(srtBin, ['true'], cwd), srt: true });

  const samples = await interleave(variants, runs, 3);
  rmSync(cwd, { recursive: true, force: true });
  const med = samples.map(median);
  const floor = med[0];
  const agent = med[variants.findIndex((v) => v.agent)];
  const srtIndex = variants.findIndex((v) => v.srt);
  const rows = variants.map((v, i) => ({ variant: v.name, medianMs: +med[i].toFixed(2), p90Ms: +quantile(samples[i], 0.9).toFixed(2), vsNode: +(med[i] / floor).toFixed(2) }));
  const srtOverAgent = srtIndex >= 0 ? +(med[srtIndex] / agent).toFixed(2) : undefined;
  return {
    name: 'cli',
    title: `3. CLI cold start, ${runs} interleaved runs each${srtBin ? '' : ' (srt is not installed: its row is left out)'}`,
    markdown:
      table(['command', 'median ms', 'p90 ms', 'ratio to node -e 0'], rows.map((r) => [r.variant, r.medianMs.toFixed(1), r.p90Ms.toFixed(1), `${r.vsNode.toFixed(2)}×`])) +
      (srtOverAgent === undefined ? '' : `\n\n\`srt true\` / \`sandboxctl run --preset agent -- true\`: ${srtOverAgent.toFixed(2)}× (goal ≥ 4×)`),
    json: { runs, srtInstalled: Boolean(srtBin), rows, srtOverAgent },
  };
}
