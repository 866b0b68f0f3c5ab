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
import { accessSync, constants as fsConstants, readFileSync, statSync } from 'node:fs';
import { isatty } from 'node:tty';
import type { Socket } from 'node:net';
import { resolve } from 'node:path';
import type { Readable, Stream, Writable } from 'node:stream';
import { initPath } from '@sandboxctl/native/init-path';
import { assertCallerFdsOpen } from './caller-fds';
import { loadConfig, presetWithConfig } from './config';
import { SandboxError, type ErrorReport } from './errors';
import { missingNativeHint } from './install-hint';
import { assertPlanJson } from './native';
import { isPlanBuilder, PLAN_VERSION, type PlanBuilder } from './ops';
import type { EnvPolicy, Network, OnTaint, Op, Plan, TaintFinding } from './plan-types';
import { withOnTaint } from './presets/audit';
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
  /**
   * Give the program a pseudo-terminal of its own (`docker run -it`): job
   * control, Ctrl-C/Ctrl-Z, window size and exit status behave as on a local
   * terminal, and TIOCSTI inside reaches only the sandbox's pty. stdin and
   * stdout must be terminals (`stdio: 'inherit'` on a terminal, or terminal
   * fds) and the plan must mount a private /dev (every preset does); see
   * {@link canUseTty}. Default false.
   */
  tty?: boolean;
  /**
   * Aborting sends SIGTERM to the launcher (passed on to the program), a
   * second SIGTERM after {@link KILL_GRACE_MS} (the launcher then SIGKILLs the
   * sandbox and still cleans up), and SIGKILL of the launcher itself only
   * after {@link CLEANUP_GRACE_MS} more.
   */
  signal?: AbortSignal;
  /** Like `signal`, after this many milliseconds. */
  timeoutMs?: number;
  /** Plan fields that override everything above. */
  plan?: Partial<Plan>;
  /**
   * A sandboxctl.json the caller trusts (as `--config FILE`): its preset
   * (unless `preset` is given), ops and policy come between the preset's and
   * these options. The library never looks for one by itself.
   */
  config?: string;
  /**
   * What the post-run audit (the agent preset's, or `plan.audit`) does with
   * what the run planted: `revert` (default), `fail` (reject with
   * `E_TAINTED`, files left) or `warn` (only `ExitResult.taint`).
   */
  onTaint?: OnTaint;
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
  /**
   * What the post-run audit found that the run created or changed and a host
   * tool would execute (git config and hooks, editor and agent settings),
   * and what was done about it. Empty when there was nothing, or no audit.
   */
  taint: TaintFinding[];
  /** The run's quarantine directory, when the audit moved something there. */
  quarantine?: string;
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

/** Grace period between the first and the second SIGTERM on abort or timeout. */
export const KILL_GRACE_MS = 2000;
/**
 * After the second SIGTERM, how long the launcher may take to reap the
 * sandbox and clean up (stand-ins, audit) before it is SIGKILLed as a last
 * resort.
 */
export const CLEANUP_GRACE_MS = 10_000;
/** How long to wait for the report channel to drain after the launcher exited. */
const DRAIN_MS = 500;

/**
 * The plan `spawn` would run: the preset's ops and policy, then the builder's
 * plan (or bare ops), then the explicit options, then `options.plan`, each
 * overriding the one before (ops append; the environment merges).
 */
export function buildPlan(options: SpawnOptions): Plan {
  const { ops } = options;
  if (options.argv !== undefined && !Array.isArray(options.argv)) throw noArgv();
  const own: Plan = isPlanBuilder(ops) ? ops.build() : { version: PLAN_VERSION, argv: [], ops: structuredClone([...(ops ?? [])]) };
  let base = own;
  const config = options.config === undefined ? undefined : loadConfig(options.config);
  const presetOption = config ? presetWithConfig(options.preset, config) : options.preset;
  if (presetOption !== undefined) {
    // The network the plan ends with decides whether the preset keeps DNS.
    const presetOptions: PresetOptions = typeof presetOption === 'string' ? { name: presetOption } : { ...presetOption };
    const network = options.plan?.network ?? options.network ?? own.network ?? config?.layer.network;
    if (presetOptions.network === undefined && network !== undefined) presetOptions.network = network;
    const preset = resolvePreset(presetOptions);
    base = composePlan([], { ops: preset.ops, ...preset.policy }, config?.layer, own);
  } else if (config) {
    base = composePlan([], config.layer, own);
  }
  const plan: Plan = { ...base, argv: [...(options.argv ?? [])] };
  if (options.env !== undefined) plan.env = mergeEnv(plan.env, options.env);
  if (options.cwd !== undefined) plan.cwd = options.cwd;
  if (options.uid !== undefined) plan.uid = options.uid;
  if (options.gid !== undefined) plan.gid = options.gid;
  if (options.hostname !== undefined) plan.hostname = options.hostname;
  if (options.network !== undefined) plan.network = options.network;
  if (options.tty !== undefined) plan.tty = options.tty;
  if (options.onTaint !== undefined) plan.audit = withOnTaint(plan.audit, options.onTaint, 'onTaint');
  return options.plan ? { ...plan, ...structuredClone(options.plan) } : plan;
}

function noArgv(): SandboxError {
  return new SandboxError('E_PLAN_INVALID', 'argv: give the program to run and its arguments, a non-empty array of strings', {
    path: 'argv',
    hint: "e.g. run({ argv: ['ls', '-l'], preset: 'agent' })",
  });
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
type Report = { event: string; pid?: unknown; findings?: unknown; quarantine?: unknown } & Partial<ErrorReport>;

/**
 * Starts the program in a sandbox. Throws a {@link SandboxError} synchronously
 * when the plan is invalid or the launcher is missing; nothing is spawned then.
 */
export function spawn(options: SpawnOptions): SandboxProcess {
  options.signal?.throwIfAborted();
  const plan = buildPlan(options);
  if (!Array.isArray(plan.argv) || plan.argv.length === 0 || !plan.argv.every((a) => typeof a === 'string')) throw noArgv();
  const line = JSON.stringify(plan);
  assertPlanJson(line);
  assertCallerFdsOpen(plan);
  const init = resolveInit();

  const stdio = normalizeStdio(options.stdio ?? 'pipe');
  if (plan.tty === true) assertTerminals(stdio);
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
  let taint: TaintFinding[] = [];
  let quarantine: string | undefined;
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
    } else if (report.event === 'audit') {
      if (Array.isArray(report.findings)) taint = report.findings as TaintFinding[];
      if (typeof report.quarantine === 'string') quarantine = report.quarantine;
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

  // With a pseudo-terminal the launcher relays window sizes, but it runs in
  // a session of its own: the terminal's SIGWINCH reaches us, not it.
  const onResize = (): void => {
    if (!settled && child.exitCode === null) child.kill('SIGWINCH');
  };
  if (plan.tty === true) process.on('SIGWINCH', onResize);

  const cleanup = (): void => {
    process.off('SIGWINCH', onResize);
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
      if (error.code === 'E_TAINTED') error = withTaint(error, taint);
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
    const result: ExitResult = { code, signal, durationMs, timedOut, aborted, taint };
    if (quarantine !== undefined) result.quarantine = quarantine;
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

  // SIGTERM is passed on to the program; a second one makes the launcher
  // SIGKILL the sandbox and then clean up (stand-ins, audit), so the
  // launcher itself is SIGKILLed only as a last resort, much later.
  const alive = (): boolean => !settled && child.exitCode === null && child.signalCode === null;
  const terminate = (): void => {
    if (!alive() || killTimer !== undefined) return;
    child.kill('SIGTERM');
    killTimer = setTimeout(() => {
      if (!alive()) return;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => {
        if (alive()) child.kill('SIGKILL');
      }, CLEANUP_GRACE_MS);
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

/**
 * Whether `tty: true` can work for this plan here: stdin and stdout are
 * terminals, we are in the terminal's foreground job, the program gets a
 * session of its own and the plan mounts a private /dev (whose devpts holds
 * the pty). The CLI's default.
 */
export function canUseTty(plan: Pick<Plan, 'ops' | 'newSession'>): boolean {
  const privateDev = (plan.ops ?? []).some((op) => op.kind === 'dev' && op.target.replace(/\/+$/, '') === '/dev');
  return privateDev && plan.newSession !== false && isatty(0) && isatty(1) && inForeground();
}

/**
 * The launcher runs in a session of its own, where the kernel's job control
 * would not stop it from taking over the terminal of a background job
 * (`sandboxctl run … &`): relay only from the foreground (proc(5): the
 * process group and the terminal's foreground group in /proc/self/stat).
 */
function inForeground(): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[2] === fields[5];
  } catch {
    return true;
  }
}

/** `tty: true` relays the caller's terminal: stdin and stdout must be one. */
function assertTerminals(stdio: [StdioEntry, StdioEntry, StdioEntry]): void {
  for (const i of [0, 1] as const) {
    const entry = stdio[i];
    const fd = entry === 'inherit' ? i : typeof entry === 'number' ? entry : fdOf(entry);
    if (fd === undefined || !isatty(fd)) {
      const name = i === 0 ? 'stdin' : 'stdout';
      const what = fd === undefined ? JSON.stringify(typeof entry === 'string' ? entry : 'a stream') : `fd ${fd}, not a terminal`;
      throw new SandboxError('E_SETUP', `tty needs a terminal on ${name}, and stdio[${i}] is ${what}`, {
        hint: "pass stdio: 'inherit' when running on a terminal, or leave tty off",
      });
    }
  }
}

function fdOf(entry: StdioEntry): number | undefined {
  const fd = (entry as { fd?: unknown }).fd;
  return typeof entry === 'object' && typeof fd === 'number' ? fd : undefined;
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

function withTaint(error: SandboxError, taint: TaintFinding[]): SandboxError {
  return new SandboxError(error.code, error.message, { hint: error.hint, exitStatus: error.exitStatus, taint });
}

function withExitStatus(error: SandboxError, exitStatus: number): SandboxError {
  return new SandboxError(error.code, error.message, {
    opIndex: error.opIndex,
    path: error.path,
    hint: error.hint,
    exitStatus,
  });
}
