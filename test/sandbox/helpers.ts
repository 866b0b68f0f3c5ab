/**
 * Helpers for the real-sandbox suites: run the CLI as a user would, read
 * results from inside the sandbox. Every suite starts by probing the kernel
 * and fails (never skips) with the probe's message when support is missing.
 */
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';

export const ROOT = resolve(__dirname, '../..');
export const CLI = join(ROOT, 'packages/cli/bin/sandboxctl.js');
export const INIT = join(ROOT, 'packages/native/sandboxctl-init');
export const TRY = join(ROOT, 'target/release/sbx-try');
export const UID = process.getuid!();
export const GID = process.getgid!();

/** Where the helpers appear inside a sandbox made with BASE. */
export const TRY_IN = '/tmp/sbx-try';
export const INIT_IN = '/tmp/sandboxctl-init';

/**
 * The usual set-up: host root read-only, private proc, dev and tmp, plus the
 * test helpers bound in explicitly: the checkout itself may live under /tmp,
 * which the sandbox's own tmpfs hides.
 */
export const BASE = ['--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--ro-bind', TRY, TRY_IN, '--ro-bind', INIT, INIT_IN];

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `sandboxctl ARGS…` to completion. */
export function cli(args: string[], opts: SpawnOptions & { input?: string } = {}): Promise<Ran> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolveRun({ code, signal, stdout, stderr }));
    child.stdin!.end(opts.input ?? '');
  });
}

/** `sandboxctl run BASE… -- sh -c SCRIPT`. */
export function sh(script: string, extra: string[] = []): Promise<Ran> {
  return cli(['run', ...BASE, ...extra, '--', '/bin/sh', '-c', script]);
}

/** Fail the suite with the probe's words when the kernel lacks user namespaces. */
export function requireKernel(): void {
  for (const f of [CLI, INIT, TRY]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: run \`npm install\` (it builds everything) and \`npm test\``);
  }
  const r = spawnSync(process.execPath, [CLI, 'doctor', '--json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sandboxctl doctor failed: ${r.stderr}`);
  const d = JSON.parse(r.stdout);
  const userns = d.kernel?.userns ?? d.probe?.userns ?? d.userns;
  if (!userns?.available) {
    throw new Error(`this machine should support unprivileged user namespaces: ${userns?.problem ?? 'unknown'} (${userns?.hint ?? ''})`);
  }
}

export interface MountEntry {
  root: string;
  mountPoint: string;
  options: string[];
  fsType: string;
  source: string;
}

/** Parse /proc/self/mountinfo text. */
export function parseMountinfo(text: string): MountEntry[] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pre, post] = line.split(' - ');
      const f = pre.split(' ');
      const [fsType, source] = post.split(' ');
      const unescape = (s: string) => s.replace(/\\(\d{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
      return { root: unescape(f[3]), mountPoint: unescape(f[4]), options: f[5].split(','), fsType, source };
    });
}

/**
 * Processes on the host whose command line contains `marker`; with `comm`,
 * only those with that process name (the CLI's own argv often holds the
 * marker too).
 */
export function hostProcessesWith(marker: string, comm?: string): number[] {
  const out = new Set<number>();
  const marked: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes(marker) || Number(pid) === process.pid) continue;
      marked.push(Number(pid));
      if (comm !== undefined && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== comm) continue;
      out.add(Number(pid));
    } catch {
      /* gone */
    }
  }
  // pid 1 of a sandbox shows only the launcher's name (its argv is
  // rewritten): it counts through the marked processes below it, as do
  // the launchers above them.
  if (comm === undefined) {
    for (const pid of marked) {
      for (let p = parentOf(pid); p !== undefined && p !== process.pid && commOf(p)?.startsWith('sandboxctl'); p = parentOf(p)) out.add(p);
    }
  }
  return [...out];
}

function commOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function parentOf(pid: number): number | undefined {
  try {
    // comm may hold spaces and parentheses: the fields after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return ppid > 0 ? ppid : undefined;
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until `cond()` holds, up to `ms`. */
export async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(25);
  }
  return cond();
}

/**
 * Run a plan through the native fast path (`sandboxctl-init --plan -`), with
 * extra caller fds (`extra[i]` becomes fd 3+i of the launcher).
 */
export function native(
  plan: object,
  extra: Array<'pipe' | 'ignore' | number> = [],
): Promise<Ran & { pipes: string[] }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(INIT, ['--plan', '-'], { stdio: ['pipe', 'pipe', 'pipe', ...extra] });
    let stdout = '';
    let stderr = '';
    const pipes = extra.map(() => '');
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    extra.forEach((e, i) => {
      if (e === 'pipe') (child.stdio[3 + i] as Readable).setEncoding('utf8').on('data', (d: string) => (pipes[i] += d));
    });
    child.on('error', reject);
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => resolveRun({ code, signal, stdout, stderr, pipes }));
    child.stdin!.end(JSON.stringify(plan));
  });
}

/** The usual ops as plan JSON (host root read-only, proc, dev, tmp, the try helper). */
export const BASE_OPS = [
  { kind: 'bind', source: '/', target: '/' },
  { kind: 'proc', target: '/proc' },
  { kind: 'dev', target: '/dev' },
  { kind: 'tmpfs', target: '/tmp' },
  { kind: 'bind', source: TRY, target: TRY_IN },
];

/** A fresh directory the current user owns. */
export function tempDir(prefix = 'sbx-'): string {
  return mkdtempSync(`/tmp/${prefix}`);
}
