/**
 * Ranks that share one sandbox (`run --join`, ch-run's `--join`): the
 * options, their defaults from the launcher's environment as ch-run reads
 * them, and the arguments of `sandboxctl-init join` (crates/sandbox-core/src/launch/join.rs,
 * which runs the election and passes each peer's program to the group's pid 1).
 */

import { fstatSync } from 'node:fs';
import { SandboxError } from '../errors';

export interface JoinOptions {
  /**
   * How many peers share the sandbox. Default: the first set of
   * `OMPI_COMM_WORLD_LOCAL_SIZE`, `SLURM_STEP_TASKS_PER_NODE`,
   * `SLURM_CPUS_ON_NODE` (ch-run's order; a trailing non-digit part such as
   * Slurm's `4(x2)` is ignored there, not in this option).
   */
  count?: number | string;
  /**
   * The group's name among the caller's sandboxes. Default:
   * `SLURM_JOB_ID.SLURM_STEP_ID` under Slurm (ch-run takes only the step id,
   * so two jobs of one user on a node would meet), else the parent's pid.
   */
  tag?: string;
  /** Seconds the peers have to come (default 30, ch-run's). */
  timeoutSeconds?: number;
}

/** What `sandboxctl-init join` is told. */
export type JoinSpec = { kind: 'group'; count: number; tag: string; timeoutMs: number } | { kind: 'pid'; pid: number };

const DEFAULT_TIMEOUT_S = 30;
const INT_MAX = 2 ** 31 - 1;

function usage(message: string, hint?: string): SandboxError {
  return new SandboxError('E_USAGE', message, hint === undefined ? {} : { hint });
}

/** A count from the command line or the library: digits only, 1 to INT_MAX. */
export function parseJoinCount(value: number | string, what = '--join-ct'): number {
  const text = String(value);
  const m = /^[0-9]+/.exec(text);
  if (!m) throw usage(`${what}: no digits found in ${JSON.stringify(text)}`);
  if (m[0].length !== text.length) throw usage(`${what}: extra characters after digits in ${JSON.stringify(text)}`);
  const n = Number(m[0]);
  if (!Number.isSafeInteger(n) || n > INT_MAX) throw usage(`${what}: ${text} is out of range (at most ${INT_MAX})`);
  if (n < 1) throw usage(`${what}: the peer group needs at least 1 peer`);
  return n;
}

/** The group size from the environment: the first set variable, its leading digits. */
export function countFromEnv(env: NodeJS.ProcessEnv): number {
  for (const name of ['OMPI_COMM_WORLD_LOCAL_SIZE', 'SLURM_STEP_TASKS_PER_NODE', 'SLURM_CPUS_ON_NODE']) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    const m = /^[0-9]+/.exec(value);
    if (!m) throw usage(`join: ${name}=${JSON.stringify(value)}: no digits found`);
    const n = Number(m[0]);
    if (n < 1 || n > INT_MAX) throw usage(`join: ${name}=${value} is out of range`);
    return n;
  }
  throw usage('join: no valid peer group size found', 'give --join-ct N, or run under srun or mpirun (they set SLURM_STEP_TASKS_PER_NODE or OMPI_COMM_WORLD_LOCAL_SIZE)');
}

/** The group tag from the environment. */
export function tagFromEnv(env: NodeJS.ProcessEnv, ppid: number): string {
  const step = env.SLURM_STEP_ID;
  if (step !== undefined && step !== '') {
    const job = env.SLURM_JOB_ID;
    return job !== undefined && job !== '' ? `${job}.${step}` : step;
  }
  return String(ppid);
}

/** A tag: non-empty, at most 58 of `[A-Za-z0-9_.-]` (the group's sandbox is `join.TAG`). */
export function checkJoinTag(tag: string): string {
  if (tag === '') throw usage('join: peer group tag cannot be empty string');
  if (!/^[A-Za-z0-9_.-]{1,58}$/.test(tag)) throw usage(`--join-tag: bad tag ${JSON.stringify(tag)}: use at most 58 letters, digits, '_', '.' or '-'`);
  return tag;
}

/** The group of `options` with its defaults filled in. */
export function resolveJoin(options: JoinOptions, env: NodeJS.ProcessEnv = process.env, ppid: number = process.ppid): JoinSpec {
  const count = options.count !== undefined ? parseJoinCount(options.count) : countFromEnv(env);
  const tag = checkJoinTag(options.tag ?? tagFromEnv(env, ppid));
  const seconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_S;
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 86_400) throw usage(`--join-timeout: ${seconds} is not between 0 and 86400 seconds`);
  return { kind: 'group', count, tag, timeoutMs: Math.ceil(seconds * 1000) };
}

/** A pid for `--join-pid`: digits, greater than 0. */
export function parseJoinPid(value: number | string): number {
  const text = String(value);
  if (!/^[0-9]+$/.test(text) || Number(text) < 1 || Number(text) > INT_MAX) throw usage(`--join-pid: bad pid ${JSON.stringify(text)}`);
  return Number(text);
}

/**
 * The fd a rank must keep (PMI-2's socket to its launcher: srun --mpi=pmi2
 * and MPICH's hydra give each rank `PMI_FD`), or undefined. Only an open
 * socket counts: the variable cannot hand any other file of ours to the
 * sandbox.
 */
export function pmiFd(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const text = env.PMI_FD;
  if (text === undefined || !/^[0-9]{1,4}$/.test(text)) return undefined;
  const fd = Number(text);
  if (fd < 3 || fd > 1023) return undefined;
  try {
    return fstatSync(fd).isSocket() ? fd : undefined;
  } catch {
    return undefined;
  }
}

/** `sandboxctl-init join`'s arguments after `--plan-fd 3`. */
export function joinArgs(spec: JoinSpec): string[] {
  return spec.kind === 'pid' ? ['--pid', String(spec.pid)] : ['--tag', spec.tag, '--count', String(spec.count), '--timeout-ms', String(spec.timeoutMs)];
}
