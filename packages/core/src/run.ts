/**
 * Running a plan. Node never forks or unshares (it is multi-threaded; see
 * docs/internals.md): it spawns the single-threaded `sandboxctl-init`
 * launcher, hands it the plan as one JSON line on fd 3 (a socketpair, Node's
 * `'pipe'` stdio entry) and reads report lines back on the same fd.
 *
 * Invariants: the plan is checked natively before anything is spawned; fd 3 is
 * destroyed once the launcher exits, so no descriptor outlives a run; nothing
 * is printed.
 */

import * as childProcess from 'node:child_process';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { resolve } from 'node:path';
import type { Readable, Stream, Writable } from 'node:stream';
import { initPath } from '@sandboxctl/native/init-path';
import { SandboxError, type ErrorReport } from './errors';
import { missingNativeHint } from './install-hint';
import { assertPlanJson } from './native';
import { isPlanBuilder, PLAN_VERSION, type PlanBuilder } from './ops';
import type { EnvPolicy, Network, Op, Plan } from './plan-types';
import { resolvePreset, type PresetName, type PresetOptions } from './presets';
import { composePlan, mergeEnv } from './presets/compose';

/** How one of the program's standard streams is connected. */
export type StdioEntry = 'inherit' | 'pipe' | 'ignore' | number | Stream;
export type StdioOption = 'inherit' | 'pipe' | 'ignore' | [StdioEntry, StdioEntry, StdioEntry];

export interface SpawnOptions {
  /** The program and its arguments. */
  argv: string[];
  /**
   * A preset to start from (`'agent'`, or options such as `allowEnv`); its
   * ops come first and every option below applies on top of it.
   */
  preset?: PresetName | PresetOptions;
  /** Filesystem ops in order, or a builder whose whole plan is the starting point. */
  ops?: readonly Op[] | PlanBuilder;
  /**
   * Environment policy (default: inherit the caller's), merged onto the
   * preset's or builder's: `unset` lists join, `set` maps merge, and
   * `inherit: false` starts over.
   */
  env?: EnvPolicy;
  /** Working directory inside the sandbox. */
  cwd?: string;
  uid?: number;
  gid?: number;
  hostname?: string;
  /** `none` (default) or `host`. */
  network?: Network;
  /** Default `'pipe'`. */
  stdio?: StdioOption;
  /** Aborting sends SIGTERM to the launcher, then SIGKILL after 2 s. */
  signal?: AbortSignal;
  /** Like `signal`, after this many milliseconds. */
  timeoutMs?: number;
  /** Plan fields that override everything above. */
  plan?: Partial<Plan>;
}

export interface RunOptions extends SpawnOptions {
  /** Written to the program's stdin when stdin is piped; stdin is then closed. */
  input?: string | Uint8Array;
}

export interface ExitResult {
  /** The launcher's exit status: the program's, 128+N when it died by signal N. */
  code: number | null;
  /** Set when the launcher itself was killed by a signal. */
  signal: NodeJS.Signals | null;
  /** Wall time from spawn to exit. */
  durationMs: number;
  /** The sandbox's pid 1 as seen from the caller, once the program was started. */
  sandboxPid?: number;
  /** The run was stopped because `timeoutMs` elapsed. */
  timedOut: boolean;
  /** The run was stopped through `signal`. */
  aborted: boolean;
}

export interface RunResult extends ExitResult {
  /** The program's output, when stdout was piped. */
  stdout?: string;
  /** The program's error output, when stderr was piped. */
  stderr?: string;
}

export interface SandboxProcess {
  /** The launcher's pid (undefined if it could not be spawned). */
  readonly pid: number | undefined;
  /** The sandbox's pid 1 as seen from the caller, once the launcher reported it. */
  readonly sandboxPid: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** Resolves once the program was executed; rejects like `exited` when it never was. */
  readonly started: Promise<void>;
  /** Resolves when the launcher has exited; rejects with a {@link SandboxError} on setup failure. */
  readonly exited: Promise<ExitResult>;
  /** Signals the launcher, which forwards SIGTERM, SIGINT, SIGHUP and SIGQUIT to the program. */
  kill(signal?: NodeJS.Signals | number): boolean;
}

/** Grace period between SIGTERM and SIGKILL on abort or timeout. */
export const KILL_GRACE_MS = 2000;
/** How long to wait for the report channel to drain after the launcher exited. */
const DRAIN_MS = 500;

/**
 * The plan `spawn` would run: the preset's ops and policy, then the builder's
 * plan (or bare ops), then the explicit options, then `options.plan`, each
 * overriding the one before (ops append; the environment merges).
 */
export function buildPlan(options: SpawnOptions): Plan {
  const { ops } = options;
  const own: Plan = isPlanBuilder(ops) ? ops.build() : { version: PLAN_VERSION, argv: [], ops: structuredClone([...(ops ?? [])]) };
  let base = own;
  if (options.preset !== undefined) {
    // The network the plan ends with decides whether the preset keeps DNS.
    const presetOptions: PresetOptions = typeof options.preset === 'string' ? { name: options.preset } : { ...options.preset };
    const network = options.plan?.network ?? options.network ?? own.network;
    if (presetOptions.network === undefined && network !== undefined) presetOptions.network = network;
    const preset = resolvePreset(presetOptions);
    base = composePlan([], { ops: preset.ops, ...preset.policy }, own);
  }
  const plan: Plan = { ...base, argv: [...options.argv] };
  if (options.env !== undefined) plan.env = mergeEnv(plan.env, options.env);
  if (options.cwd !== undefined) plan.cwd = options.cwd;
  if (options.uid !== undefined) plan.uid = options.uid;
  if (options.gid !== undefined) plan.gid = options.gid;
  if (options.hostname !== undefined) plan.hostname = options.hostname;
  if (options.network !== undefined) plan.network = options.network;
  return options.plan ? { ...plan, ...structuredClone(options.plan) } : plan;
}

/** First launcher fd for caller fds: 0-2 are stdio, 3 the report socket. */
const FIRST_PASSED_FD = 4;

/**
 * Caller fds the plan names (bind/file `sourceFd`, `fds`, `statusFd`) reach
 * the launcher as fds 4, 5…; the plan it receives names those numbers. A
 * passed fd keeps the number it had in the caller unless it names a target.
 */
export function remapCallerFds(plan: Plan): { plan: Plan; fds: number[] } {
  const fds: number[] = [];
  const map = (fd: number): number => {
    let i = fds.indexOf(fd);
    if (i < 0) i = fds.push(fd) - 1;
    return FIRST_PASSED_FD + i;
  };
  const out: Plan = structuredClone(plan);
  for (const op of out.ops ?? []) {
    if ((op.kind === 'bind' || op.kind === 'file') && typeof op.sourceFd === 'number') op.sourceFd = map(op.sourceFd);
  }
  if (out.fds) out.fds = out.fds.map((f) => ({ fd: map(f.fd), target: f.target ?? f.fd }));
  if (typeof out.statusFd === 'number') out.statusFd = map(out.statusFd);
  return { plan: out, fds };
}

/** Absolute path of the launcher; throws `E_INIT_MISSING` unless it is an executable file. */
export function resolveInit(): string {
  const path = resolve(initPath());
  const hint = `${missingNativeHint()}; or point SANDBOXCTL_INIT at a sandboxctl-init executable`;
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    throw new SandboxError('E_INIT_MISSING', `sandboxctl-init not found at ${path}`, { hint });
  }
  if (!isFile) throw new SandboxError('E_INIT_MISSING', `${path} is not a file`, { hint });
  try {
    accessSync(path, fsConstants.X_OK);
  } catch {
    throw new SandboxError('E_INIT_MISSING', `${path} is not executable`, { hint: `chmod +x ${path}` });
  }
  return path;
}

/**
 * A report line. `started` means the program was executed; the sandbox's pid
 * comes with it or in an earlier or later `spawned` line (the launcher sends
 * `spawned` right after clone, pid 1 sends `started`, and the two may race).
 */
type Report = { event: string; pid?: unknown } & Partial<ErrorReport>;

/**
 * Starts the program in a sandbox. Throws a {@link SandboxError} synchronously
 * when the plan is invalid or the launcher is missing; nothing is spawned then.
 */
export function spawn(options: SpawnOptions): SandboxProcess {
  options.signal?.throwIfAborted();
  const plan = buildPlan(options);
  const line = JSON.stringify(plan);
  assertPlanJson(line);
  const init = resolveInit();

  const stdio = normalizeStdio(options.stdio ?? 'pipe');
  const { plan: launched, fds: callerFds } = remapCallerFds(plan);
  const startTime = performance.now();
  // With a new session (the default) the program never shares our terminal's
  // process group, so the launcher gets its own session too: a terminal ^C then
  // reaches the program once, through whoever forwards it, not twice.
  const child = childProcess.spawn(init, ['--plan-fd', '3'], {
    stdio: [...stdio, 'pipe', ...callerFds],
    env: { ...process.env },
    detached: plan.newSession !== false,
  });
  const control = child.stdio[3] as Socket | null;

  let sandboxPid: number | undefined;
  let programStarted = false;
  let setupError: SandboxError | undefined;
  let signalledByCaller = false;
  let timedOut = false;
  let aborted = false;
  let settled = false;
  let killTimer: NodeJS.Timeout | undefined;
  let timeoutTimer: NodeJS.Timeout | undefined;

  let resolveStarted!: () => void;
  let rejectStarted!: (error: unknown) => void;
  const started = new Promise<void>((res, rej) => {
    resolveStarted = res;
    rejectStarted = rej;
  });
  // `started` is optional to observe; its failure is also `exited`'s.
  started.catch(() => {});

  let resolveExited!: (result: ExitResult) => void;
  let rejectExited!: (error: unknown) => void;
  const exited = new Promise<ExitResult>((res, rej) => {
    resolveExited = res;
    rejectExited = rej;
  });

  const onReport = (text: string): void => {
    let report: Report;
    try {
      report = JSON.parse(text) as Report;
    } catch {
      setupError ??= new SandboxError('E_SETUP', `unreadable report from sandboxctl-init: ${JSON.stringify(text.slice(0, 200))}`);
      return;
    }
    if (typeof report.pid === 'number') sandboxPid ??= report.pid;
    if (report.event === 'error' && typeof report.code === 'string') {
      setupError ??= SandboxError.fromReport({ ...report, code: report.code, message: String(report.message ?? '') });
    } else if (report.event === 'started') {
      programStarted = true;
      resolveStarted();
    }
    // Other events (`spawned`, or from a newer launcher) only carry the pid.
  };

  let pending = '';
  if (control) {
    // EPIPE/ECONNRESET when the launcher died early: its exit status says why.
    control.on('error', () => {});
    control.setEncoding('utf8');
    control.on('data', (chunk: string) => {
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf('\n')) !== -1) {
        const text = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        if (text !== '') onReport(text);
      }
    });
    control.end(`${JSON.stringify(launched)}\n`);
  }

  const cleanup = (): void => {
    clearTimeout(killTimer);
    clearTimeout(timeoutTimer);
    options.signal?.removeEventListener('abort', onAbort);
    control?.destroy();
  };

  const settle = (code: number | null, signal: NodeJS.Signals | null): void => {
    if (settled) return;
    settled = true;
    if (pending.trim() !== '') onReport(pending.trim());
    // Resolve only once the report socket is really closed: a settled run
    // holds no descriptor (destroy() closes it on a later loop turn).
    if (control && !control.closed) {
      control.once('close', () => finish(code, signal));
      cleanup();
      return;
    }
    cleanup();
    finish(code, signal);
  };

  const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
    const durationMs = performance.now() - startTime;
    const stopped = signalledByCaller || timedOut || aborted || signal !== null;
    let error: SandboxError | undefined;
    if (setupError) {
      error = code === null ? setupError : withExitStatus(setupError, code);
    } else if (!programStarted && !stopped) {
      error = new SandboxError('E_SETUP', `sandboxctl-init exited with status ${code} before starting the program`, {
        exitStatus: code ?? undefined,
      });
    }
    if (error) {
      rejectStarted(error);
      rejectExited(error);
      return;
    }
    if (!programStarted) {
      rejectStarted(new SandboxError('E_SETUP', 'the sandbox was stopped before the program started'));
    }
    const result: ExitResult = { code, signal, durationMs, timedOut, aborted };
    if (sandboxPid !== undefined) result.sandboxPid = sandboxPid;
    resolveExited(result);
  };

  child.on('exit', (code, signal) => {
    // Report lines may still sit in the socket when 'exit' fires: read until
    // the launcher's end closes, bounded in case a leftover process holds it.
    if (!control || control.destroyed || control.readableEnded) {
      settle(code, signal);
      return;
    }
    const timer = setTimeout(() => drained(), DRAIN_MS);
    const drained = (): void => {
      clearTimeout(timer);
      settle(code, signal);
    };
    control.once('end', drained);
    control.once('close', drained);
  });

  child.on('error', (error: NodeJS.ErrnoException) => {
    if (child.pid !== undefined || settled) return; // kill() failures; the exit tells the rest
    settled = true;
    cleanup();
    const missing = error.code === 'ENOENT' || error.code === 'EACCES';
    const failure = new SandboxError(
      missing ? 'E_INIT_MISSING' : 'E_SETUP',
      `cannot start ${init}: ${error.message}`,
      { cause: error, hint: missing ? `${missingNativeHint()}; or set SANDBOXCTL_INIT` : undefined },
    );
    rejectStarted(failure);
    rejectExited(failure);
  });

  const terminate = (): void => {
    if (settled || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    killTimer ??= setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, KILL_GRACE_MS);
  };
  function onAbort(): void {
    aborted = true;
    terminate();
  }
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.timeoutMs !== undefined) {
    timeoutTimer = setTimeout(() => {
      timedOut = true;
      terminate();
    }, options.timeoutMs);
  }

  return {
    get pid() {
      return child.pid;
    },
    get sandboxPid() {
      return sandboxPid;
    },
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    started,
    exited,
    kill(signal: NodeJS.Signals | number = 'SIGTERM') {
      if (settled) return false;
      signalledByCaller = true;
      return child.kill(signal);
    },
  };
}

/**
 * Runs the program to completion. Piped stdout/stderr are collected into the
 * result as UTF-8; piped stdin receives `input` (or nothing) and is closed.
 */
export async function run(options: RunOptions): Promise<RunResult> {
  const handle = spawn(options);
  if (handle.stdin) {
    handle.stdin.on('error', () => {}); // EPIPE when the program ignores its input
    handle.stdin.end(options.input ?? '');
  }
  const [result, stdout, stderr] = await Promise.all([
    handle.exited,
    collect(handle.stdout),
    collect(handle.stderr),
  ]);
  const out: RunResult = { ...result };
  if (stdout !== undefined) out.stdout = stdout;
  if (stderr !== undefined) out.stderr = stderr;
  return out;
}

function normalizeStdio(stdio: StdioOption): [StdioEntry, StdioEntry, StdioEntry] {
  if (typeof stdio === 'string') return [stdio, stdio, stdio];
  if (!Array.isArray(stdio) || stdio.length !== 3) {
    throw new TypeError('stdio must be "inherit", "pipe", "ignore" or an array of three entries');
  }
  return [stdio[0], stdio[1], stdio[2]];
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

function withExitStatus(error: SandboxError, exitStatus: number): SandboxError {
  return new SandboxError(error.code, error.message, {
    opIndex: error.opIndex,
    path: error.path,
    hint: error.hint,
    exitStatus,
  });
}
