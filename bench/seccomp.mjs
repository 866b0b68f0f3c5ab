// Section 6: the cost of the seccomp filter on a syscall-bound loop:
// `sbx-try loop-getppid N` (raw getppid syscalls, timed inside the program)
// under our strict filter vs `--seccomp none`, with bwrap (no filter) and the
// bare host for scale, and a one-rule filter to tell the cost of having a
// filter at all from the cost of its length. Interleaved rounds; median ns
// per call.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { BWRAP_FULL, OPS_FULL, median, planFiles, table, interleave } from './lib.mjs';

const require = createRequire(import.meta.url);

export async function benchSeccomp({ calls, rounds, root }) {
  const tryBin = join(root, 'target/release/sbx-try');
  if (!existsSync(tryBin)) throw new Error(`${tryBin} is missing: cargo build --release -p sandbox-testkit`);
  const { initPath } = require('@sandboxctl/native/init-path');
  const init = initPath();
  const argv = [tryBin, 'loop-getppid', String(calls)];
  const files = planFiles({
    strict: { argv, ops: OPS_FULL },
    none: { argv, ops: OPS_FULL, seccomp: { preset: 'none' } },
    // The smallest filter: what having any filter at all costs per syscall.
    one: { argv, ops: OPS_FULL, seccomp: { preset: 'none', rules: [{ syscall: 'acct', action: { errno: 1 } }] } },
  });
  const nsPerCall = (cmd, args) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
    return Number(r.stdout.trim()) / calls;
  };
  const variants = [
    { name: 'host, no sandbox', fn: () => nsPerCall(tryBin, argv.slice(1)) },
    { name: 'bwrap (no filter)', fn: () => nsPerCall('bwrap', [...BWRAP_FULL, ...argv]) },
    { name: 'sandboxctl --seccomp none', fn: () => nsPerCall(init, ['--plan', files.none]), base: true },
    { name: 'sandboxctl, a one-rule filter (the cost of any filter)', fn: () => nsPerCall(init, ['--plan', files.one]) },
    { name: 'sandboxctl (strict filter, default)', fn: () => nsPerCall(init, ['--plan', files.strict]), ours: true },
  ];
  const samples = await interleave(variants, rounds, 0);
  const med = samples.map(median);
  const base = med[variants.findIndex((v) => v.base)];
  const rows = variants.map((v, i) => ({ variant: v.name, nsPerCall: +med[i].toFixed(1), vsNone: +(med[i] / base).toFixed(3) }));
  return {
    name: 'seccomp',
    title: `6. Seccomp cost: ${calls.toLocaleString('en')} getppid calls, median of ${rounds} interleaved rounds`,
    markdown: table(['variant', 'ns per call', 'ratio to --seccomp none'], rows.map((r) => [r.variant, r.nsPerCall.toFixed(1), `${r.vsNone.toFixed(3)}×`])),
    json: { calls, rounds, rows },
  };
}
