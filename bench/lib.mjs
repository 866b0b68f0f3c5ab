// Shared by the benchmark sections: tool checks, statistics, markdown
// tables, and the two set-ups every section compares.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';

export function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Installs Debian packages for missing commands when root; else says what is missing. */
export function ensureTools(tools) {
  const missing = tools.filter(([cmd]) => !which(cmd));
  if (missing.length === 0) return;
  const pkgs = missing.map(([, pkg]) => pkg);
  if (process.getuid() !== 0) {
    throw new Error(`bench: missing ${pkgs.join(', ')} (apt-get install ${pkgs.join(' ')}); only root can install them`);
  }
  execFileSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${pkgs.join(' ')}`], { stdio: 'inherit' });
}

/** A numeric option of a bench script: `--name N`, else `small` with `--quick`, else `dflt`. */
export const numberOption = (args, name, dflt, small) =>
  Number(args.includes(name) ? args[args.indexOf(name) + 1] : args.includes('--quick') ? small : dflt);

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/** A markdown table: right-aligned columns for numbers. */
export function table(headers, rows, numeric = headers.map((_, i) => i > 0)) {
  const out = [`| ${headers.join(' | ')} |`, `|${headers.map((_, i) => (numeric[i] ? '---:' : '---')).join('|')}|`];
  for (const r of rows) out.push(`| ${r.map((c) => (c === null || c === undefined ? '' : String(c))).join(' | ')} |`);
  return out.join('\n');
}

export const ms = () => process.hrtime.bigint();
export const since = (t) => Number(process.hrtime.bigint() - t) / 1e6;

/** spawnSync a command, return the wall time in ms; a non-zero exit is an error. */
export function timedSync(cmd, argv) {
  const t = ms();
  const r = spawnSync(cmd, argv, { stdio: 'ignore' });
  const dt = since(t);
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status ?? r.signal}`);
  return dt;
}

/** child_process.spawn a command and await its exit (the Node way to run bwrap). */
export function spawnAsync(cmd, argv) {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, argv, { stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code ?? signal}`))));
  });
}

/** Run `count` tasks with at most `limit` in flight. */
export async function pool(count, limit, task) {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

/** bubblewrap with the full set-up: the host root read-only, proc, dev, every namespace. */
export const BWRAP_FULL = ['--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--unshare-all'];
export const BWRAP_RO = ['--ro-bind', '/', '/'];
/** Ours, the same: plus its default seccomp filter, cap drop and fd closing. */
export const OPS_FULL = [
  { kind: 'bind', source: '/', target: '/' },
  { kind: 'proc', target: '/proc' },
  { kind: 'dev', target: '/dev' },
];
export const OPS_RO = [{ kind: 'bind', source: '/', target: '/' }];

/** Writes plan files readable by the benchmark user; returns their paths. */
export function planFiles(plans) {
  const dir = mkdtempSync('/tmp/sandboxctl-bench-plan-');
  chmodSync(dir, 0o755);
  return Object.fromEntries(
    Object.entries(plans).map(([name, plan]) => {
      const file = join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify(plan));
      return [name, file];
    }),
  );
}

export const kernel = () => execFileSync('uname', ['-r']).toString().trim();
export const bwrapVersion = () => execFileSync('bwrap', ['--version']).toString().trim();

/**
 * Runs every variant `runs` times, interleaved: round i runs them all once,
 * starting at a rotating index, so machine noise falls on all of them alike.
 * `warmup` unmeasured runs each first. `fn` may be sync or async; returns
 * one array of samples per variant, in order.
 */
export async function interleave(variants, runs, warmup = 0) {
  for (const v of variants) for (let i = 0; i < warmup; i++) await v.fn();
  const samples = variants.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < variants.length; k++) {
      const j = (i + k) % variants.length;
      samples[j].push(await variants[j].fn());
    }
  }
  return samples;
}
