/**
 * Helpers of the live suites: a private registry per test file (its own
 * XDG_RUNTIME_DIR, 0700), sandboxes started with the escape suite's BASE,
 * and stopping whatever a test left running.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASE, CLI, cli, type Ran } from '../helpers';

/** A fresh private runtime directory for this file's registry. */
export function privateRuntimeDir(): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'sbx-live-')));
  process.env.XDG_RUNTIME_DIR = dir;
  return dir;
}

/**
 * `sandboxctl ARGS…` with this file's environment: jest gives tests a copy of
 * process.env that child processes do not inherit unless it is passed.
 */
export function lcli(args: string[], opts: { input?: string } = {}): Promise<Ran> {
  return cli(args, { env: { ...process.env }, ...opts });
}

/** `sandboxctl run --name NAME --detach BASE… EXTRA -- ARGV`. */
export function detached(name: string, argv: string[] = ['sleep', '1000'], extra: string[] = []): Promise<Ran> {
  return lcli(['run', '--name', name, '--detach', ...BASE, ...extra, '--', ...argv]);
}

/** `sandboxctl exec NAME -- sh -c SCRIPT`. */
export function execSh(name: string, script: string, opts: { input?: string } = {}): Promise<Ran> {
  return lcli(['exec', name, '--', '/bin/sh', '-c', script], opts);
}

export interface PsEntry {
  name: string;
  pid1: number;
  supervisorPid: number;
  argv: string[];
  labels: Record<string, string>;
  socket: string;
}

/** `sandboxctl ps --json`. */
export function ps(): PsEntry[] {
  const r = spawnSync(process.execPath, [CLI, 'ps', '--json'], { encoding: 'utf8', env: { ...process.env } });
  if (r.status !== 0) throw new Error(`ps failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as PsEntry[];
}

/** Stop every sandbox of this registry (after each file). */
export async function stopAll(): Promise<void> {
  const names = ps().map((s) => s.name);
  if (names.length > 0) await lcli(['stop', '--timeout', '1', ...names]);
}

/** Whether process `pid` exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
