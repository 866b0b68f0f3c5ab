/**
 * Running a plan: `spawn` and `run` resolve the plan from their sources
 * (./plan/sources.ts) and start it through the launcher
 * ({@link SandboxProcess}, ./launcher/). Nothing is printed.
 */

import type { Readable } from 'node:stream';
import { parseJoinPid, resolveJoin, SandboxProcess, type ExitResult, type JoinOptions, type JoinSpec, type LaunchOptions } from './launcher';
import { resolvePlan, type PlanSources } from './plan/sources';
import type { Plan } from './plan-types';

export {
  canUseTty,
  CLEANUP_GRACE_MS,
  KILL_GRACE_MS,
  remapCallerFds,
  parseJoinPid,
  resolveInit,
  resolveJoin,
  SandboxProcess,
  type JoinOptions,
  type JoinSpec,
  type ExitResult,
  type LaunchOptions,
  type StdioEntry,
  type StdioOption,
} from './launcher';

export interface SpawnOptions extends PlanSources, LaunchOptions {
  /** The program and its arguments. */
  argv: string[];
  /**
   * Share one sandbox with the peers started alongside (`--join`): `true`
   * for the defaults (Slurm's or Open MPI's environment), the group's
   * options, or `{ pid }` to run in the sandbox holding that process
   * (`--join-pid`). See docs/hpc.md.
   */
  join?: boolean | JoinOptions | { pid: number };
}

export interface RunOptions extends SpawnOptions {
  /** Written to the program's stdin when stdin is piped; stdin is then closed. */
  input?: string | Uint8Array;
}

export interface RunResult extends ExitResult {
  /** The program's output, when stdout was piped. */
  stdout?: string;
  /** The program's error output, when stderr was piped. */
  stderr?: string;
}

/**
 * The plan `spawn` would run: the preset's ops and policy, then the config
 * file's, then the builder's plan (or bare ops), then the explicit options,
 * then `options.plan`, each overriding the one before (ops append; the
 * environment merges). {@link resolvePlan} also says where each op came from.
 */
export function buildPlan(options: PlanSources): Plan {
  return resolvePlan(options).plan;
}

/**
 * Starts the program in a sandbox. Throws a {@link SandboxError} synchronously
 * when the plan is invalid or the launcher is missing; nothing is spawned then.
 * The CLI resolves the plan itself ({@link resolvePlan}) and starts it with
 * {@link SandboxProcess.start}, as this does.
 */
export function spawn(options: SpawnOptions): SandboxProcess {
  options.signal?.throwIfAborted();
  if (options.join !== undefined && options.join !== false) {
    const j = options.join === true ? {} : options.join;
    const spec: JoinSpec = 'pid' in j ? { kind: 'pid', pid: parseJoinPid(j.pid) } : resolveJoin(j);
    return SandboxProcess.join(buildPlan(options), spec, options);
  }
  return SandboxProcess.start(buildPlan(options), options);
}

/**
 * Runs the program to completion. Piped stdout/stderr are collected into the
 * result as UTF-8; piped stdin receives `input` (or nothing) and is closed.
 */
export async function run(options: RunOptions): Promise<RunResult> {
  return runToCompletion(spawn(options), options.input);
}

/** Feeds `input` to a started program and collects its piped output and exit: {@link run}'s result. */
export async function runToCompletion(handle: Pick<SandboxProcess, 'stdin' | 'stdout' | 'stderr' | 'exited'>, input: RunOptions['input']): Promise<RunResult> {
  if (handle.stdin) {
    handle.stdin.on('error', () => {}); // EPIPE when the program ignores its input
    handle.stdin.end(input ?? '');
  }
  const [result, stdout, stderr] = await Promise.all([handle.exited, collect(handle.stdout), collect(handle.stderr)]);
  const out: RunResult = { ...result };
  if (stdout !== undefined) out.stdout = stdout;
  if (stderr !== undefined) out.stderr = stderr;
  return out;
}

function collect(stream: Readable | null): Promise<string | undefined> {
  if (!stream) return Promise.resolve(undefined);
  return new Promise((resolveText) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    const done = (): void => resolveText(Buffer.concat(chunks).toString('utf8'));
    stream.once('end', done);
    stream.once('close', done);
    stream.once('error', done);
  });
}
