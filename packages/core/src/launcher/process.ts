/**
 * One run of the launcher. Node never forks or unshares (it is
 * multi-threaded; see docs/internals.md): it spawns the single-threaded
 * `sandboxctl-init`, hands it the plan on the report channel (fd 3) and the
 * caller fds the plan names on fds 4, 5…, and follows the reports until the
 * launcher exits.
 *
 * Invariants: the plan is checked natively, its caller fds open and the
 * launcher found before anything is spawned; fd 3 is destroyed once the
 * launcher exits, so no descriptor outlives a run; nothing is printed.
 */

import * as childProcess from 'node:child_process';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { SandboxError } from '../errors';
import { missingNativeHint } from '../install-hint';
import { assertPlanJson } from '../native';
import { assertArgv } from '../plan/argv';
import type { Plan } from '../plan-types';
import type { Denial, LimitKind, TaintFinding } from '../report-types';
import type { ReadyReport, Report } from '../report-types';
import { assertCallerFdsOpen, FIRST_PASSED_FD, remapCallerFds } from './fds';
import { resolveInit } from './init';
import { joinArgs, pmiFd, type JoinSpec } from './join';
import { ReportChannel } from './reports';
import { assertTerminals, normalizeStdio, type StdioOption } from './terminal';

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

/** How a plan is started: the stdio and how the run may be stopped. */
export interface LaunchOptions {
  /** Default `'pipe'`. */
  stdio?: StdioOption;
  /**
   * Aborting sends SIGTERM to the launcher (passed on to the program), a
   * second SIGTERM after {@link KILL_GRACE_MS} (the launcher then SIGKILLs the
   * sandbox and still cleans up), and SIGKILL of the launcher itself only
   * after {@link CLEANUP_GRACE_MS} more.
   */
  signal?: AbortSignal;
  /** Like `signal`, after this many milliseconds. */
  timeoutMs?: number;
  /**
   * `false`: {@link SandboxProcess.start} leaves the plan's check to the
   * launcher, which makes the same check (the same Rust code, codes and
   * messages) before it creates anything; a bad plan then rejects `exited`
   * instead of throwing, and this process never loads the native addon (the
   * CLI's `run`: 5-20 ms of its start). Default `true`: checked here first.
   */
  checkPlan?: boolean;
  /**
   * Called with each denial as the launcher reports it, while the program
   * runs (network connections the proxy refused, system calls the seccomp
   * filter refused, a limit hit), when the plan asks for a report
   * (`report: true`). The result's `denials` has them all again, in order.
   * A callback that throws (or returns a rejected promise) does not stop the
   * run or the next calls: the error is kept in the result's
   * `onDenialErrors` (a rejection that comes after the result was delivered
   * is dropped).
   */
  onDenial?: (denial: Denial) => void;
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
  /**
   * What the sandbox's policy refused, in order (network connections the
   * proxy refused, system calls the seccomp filter refused, the limit
   * hit): filled when the plan asks for it (`report: true`,
   * `--report`), else empty.
   */
  denials: Denial[];
  /** The run's quarantine directory, when the audit moved something there. */
  quarantine?: string;
  /** The limit of `limits` that ended the program: an OOM kill (`memory`), a refused fork (`pids`), the wall time (`timeout`). */
  limit?: LimitKind;
  /**
   * What the `onDenial` callback threw or rejected with, in order, when it
   * failed: the run goes on, so a failing callback is reported here instead.
   */
  onDenialErrors?: unknown[];
}

/**
 * How long `exited` waits, at most, for output the program wrote before it
 * ended to reach the caller's listeners: the exit and the last bytes come on
 * different fds, in either order. A stream still held open by a process that
 * outlived the program (a daemon in a live sandbox) delays `exited` no longer.
 */
export const OUTPUT_DRAIN_MS = 200;

/**
 * Resolves once each of `streams` that is flowing (a `data` listener or a
 * pipe attached) has ended, so what the program wrote has been delivered,
 * or after `capMs`. A paused stream keeps its data for a later read: not
 * waited for.
 */
export function drained(streams: readonly (Readable | null)[], capMs = OUTPUT_DRAIN_MS): Promise<void> {
  const flowing = streams.filter((s): s is Readable => s !== null && s.readableFlowing === true && !s.readableEnded && !s.destroyed);
  if (flowing.length === 0) return Promise.resolve();
  return new Promise((done) => {
    let left = flowing.length;
    const timer = setTimeout(done, capMs);
    const one = (): void => {
      if (--left === 0) {
        clearTimeout(timer);
        done();
      }
    };
    for (const s of flowing) {
      let counted = false;
      const once = (): void => {
        if (counted) return;
        counted = true;
        one();
      };
      s.once('end', once);
      s.once('close', once);
      s.once('error', once);
    }
  });
}

/** A promise with its settle functions (the launcher's and live exec's started/exited). */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A program running in a sandbox: {@link SandboxProcess.start}, or `spawn`. */
export class SandboxProcess {
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** Resolves once the program was executed; rejects like `exited` when it never was. */
  readonly started: Promise<void>;
  /** Resolves when the launcher has exited and what the program wrote has reached the flowing stdout and stderr ({@link drained}); rejects with a {@link SandboxError} on setup failure. */
  readonly exited: Promise<ExitResult>;
  /**
   * A live sandbox (`plan.live`): resolves once it is registered and serves
   * requests; rejects like `exited` when it ends before.
   */
  readonly ready: Promise<ReadyReport>;

  readonly #child: childProcess.ChildProcess;
  readonly #channel: ReportChannel | undefined;
  readonly #options: LaunchOptions;
  readonly #init: string;
  readonly #startTime = performance.now();
  readonly #started = deferred<void>();
  readonly #exited = deferred<ExitResult>();
  readonly #ready = deferred<ReadyReport>();
  #isReady = false;
  readonly #onResize = (): void => {
    if (!this.#settled && this.#child.exitCode === null) this.#child.kill('SIGWINCH');
  };
  readonly #onAbort = (): void => {
    this.#aborted = true;
    this.#terminate();
  };

  #sandboxPid: number | undefined;
  #taint: TaintFinding[] = [];
  #limit: LimitKind | undefined;
  #denials: Denial[] = [];
  #onDenialErrors: unknown[] = [];
  #quarantine: string | undefined;
  #programStarted = false;
  #setupError: SandboxError | undefined;
  #signalledByCaller = false;
  #timedOut = false;
  #aborted = false;
  #settled = false;
  /** The result went to the caller: later callback failures have nowhere to go. */
  #delivered = false;
  #killTimer: NodeJS.Timeout | undefined;
  #timeoutTimer: NodeJS.Timeout | undefined;

  /**
   * Starts `plan` (complete: `argv` and all). Throws a {@link SandboxError}
   * synchronously when the plan is invalid (unless `checkPlan: false`), a
   * caller fd it names is closed, `tty` has no terminal or the launcher is
   * missing; nothing is spawned then.
   */
  static start(plan: Plan, options: LaunchOptions = {}): SandboxProcess {
    options.signal?.throwIfAborted();
    // A live sandbox ended only by `stop` may start without a program.
    if (plan.argv.length > 0 || (plan.live?.end?.kind !== 'stop' && plan.live?.end?.kind !== 'zygote')) assertArgv(plan.argv);
    if (options.checkPlan !== false) assertPlanJson(JSON.stringify(plan));
    assertCallerFdsOpen(plan);
    const init = resolveInit();
    return new SandboxProcess(plan, init, options);
  }

  /**
   * Runs `plan`'s program as a peer of a sandbox shared by several runs
   * (`--join`, launcher/join.ts): the peers elect one that builds the
   * sandbox; every peer's program is started by its pid 1. The same
   * reports, result and signals as a run of that program.
   */
  static join(plan: Plan, spec: JoinSpec, options: LaunchOptions = {}): SandboxProcess {
    options.signal?.throwIfAborted();
    assertArgv(plan.argv);
    for (const [bad, what] of [
      [plan.live !== undefined, '--name or --detach (the peer group is its own live sandbox, join.TAG)'],
      [plan.tty === true, '--tty (each peer passes its own stdio)'],
      [(plan.fds ?? []).length > 0 || plan.statusFd !== undefined, 'passed file descriptors (--file FD, --json-status-fd, fds)'],
      [plan.audit !== undefined, "the post-run audit (the agent preset's)"],
    ] as const) {
      if (bad) throw new SandboxError('E_USAGE', `--join cannot be combined with ${what}`);
    }
    assertPlanJson(JSON.stringify(plan));
    // A rank's PMI-2 socket goes along, after the plan's own fds, to reach the program at its number.
    const pmi = pmiFd();
    const pass = pmi === undefined ? [] : ['--pass-fd', `${FIRST_PASSED_FD + remapCallerFds(plan).fds.length}:${pmi}`];
    return new SandboxProcess(plan, resolveInit(), options, undefined, ['join', ...joinArgs(spec), ...pass], pmi === undefined ? [] : [pmi]);
  }

  /**
   * Runs the native client, `sandboxctl-init client ARGS...` (the args name
   * `--report-fd 3`), on a live sandbox: the same reports, result and
   * signals as a run, for a program `exec` started in it. `tty`: the client
   * relays its terminal (stdin must be one).
   */
  static client(args: readonly string[], options: LaunchOptions & { tty?: boolean } = {}): SandboxProcess {
    options.signal?.throwIfAborted();
    return new SandboxProcess(null, resolveInit(), options, { args, tty: options.tty === true });
  }

  private constructor(
    plan: Plan | null,
    init: string,
    options: LaunchOptions,
    client?: { args: readonly string[]; tty: boolean },
    mode: readonly string[] = [],
    extraFds: readonly number[] = [],
  ) {
    this.#options = options;
    this.#init = init;
    const stdio = normalizeStdio(options.stdio ?? 'pipe');
    const tty = client ? client.tty : plan?.tty === true;
    if (tty) assertTerminals(stdio);
    const { plan: launched, fds: callerFds } = plan ? remapCallerFds(plan) : { plan: null, fds: [] };
    // With a new session (the default) the program never shares our terminal's
    // process group, so the launcher gets its own session too: a terminal ^C then
    // reaches the program once, through whoever forwards it, not twice.
    const child = childProcess.spawn(init, client ? ['client', ...client.args] : mode.length > 0 ? [mode[0]!, '--plan-fd', '3', ...mode.slice(1)] : ['--plan-fd', '3'], {
      stdio: [...stdio, 'pipe', ...callerFds, ...extraFds],
      env: { ...process.env },
      detached: plan?.newSession !== false,
    });
    this.#child = child;
    this.stdin = child.stdin;
    this.stdout = child.stdout;
    this.stderr = child.stderr;
    this.started = this.#started.promise;
    this.exited = this.#exited.promise;
    this.ready = this.#ready.promise;
    // `started` and `ready` are optional to observe; their failure is also `exited`'s.
    this.started.catch(() => {});
    this.ready.catch(() => {});

    const socket = child.stdio[3] as Socket | null;
    if (socket) {
      this.#channel = new ReportChannel(socket, {
        report: (report) => this.#onReport(report),
        unreadable: (error) => {
          this.#setupError ??= error;
        },
      });
      if (launched) this.#channel.sendPlan(launched);
      else socket.end();
    }

    // With a pseudo-terminal the launcher relays window sizes, but it runs in
    // a session of its own: the terminal's SIGWINCH reaches us, not it.
    if (tty) process.on('SIGWINCH', this.#onResize);
    child.on('exit', (code, signal) => this.#onExit(code, signal));
    child.on('error', (error: NodeJS.ErrnoException) => this.#onSpawnError(error));
    options.signal?.addEventListener('abort', this.#onAbort, { once: true });
    if (options.timeoutMs !== undefined) {
      this.#timeoutTimer = setTimeout(() => {
        this.#timedOut = true;
        this.#terminate();
      }, options.timeoutMs);
    }
  }

  /** The launcher's pid (undefined if it could not be spawned). */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** The sandbox's pid 1 as seen from the caller, once the launcher reported it. */
  get sandboxPid(): number | undefined {
    return this.#sandboxPid;
  }

  /**
   * Lets go of a detached live sandbox once it is ready: this process no
   * longer waits for the launcher (its supervisor), its streams and report
   * channel are closed, and `exited` never settles.
   */
  release(): void {
    this.#settled = true;
    this.#cleanup();
    for (const stream of [this.stdin, this.stdout, this.stderr]) stream?.destroy();
    this.#child.unref();
  }

  /** Signals the launcher, which forwards SIGTERM, SIGINT, SIGHUP and SIGQUIT to the program. */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.#settled) return false;
    this.#signalledByCaller = true;
    return this.#child.kill(signal);
  }

  #onReport(report: Report): void {
    switch (report.event) {
      case 'spawned':
        this.#sandboxPid ??= report.pid;
        return;
      case 'started':
        this.#programStarted = true;
        this.#started.resolve();
        return;
      case 'ready':
        this.#isReady = true;
        this.#ready.resolve(report);
        return;
      case 'error':
        this.#setupError ??= SandboxError.fromReport(report);
        return;
      case 'limithit':
        this.#limit = report.limit;
        break;
      case 'denied': {
        const { event: _event, ...denial } = report;
        this.#denials.push(denial);
        this.#callOnDenial(denial);
        return;
      }
      case 'audit':
        this.#taint = report.findings;
        if (typeof report.quarantine === 'string') this.#quarantine = report.quarantine;
        return;
    }
  }

  // The caller's callback runs inside the report channel's data handler: a
  // throw there (or an async callback's rejection) would be an uncaught
  // exception that ends the caller's process and loses the run's result. The
  // denial is already in `denials`; the callback's failure goes into the
  // result's `onDenialErrors` while the result is still to come.
  #callOnDenial(denial: Denial): void {
    const onDenial = this.#options.onDenial;
    if (!onDenial) return;
    const failed = (error: unknown): void => {
      if (!this.#delivered) this.#onDenialErrors.push(error);
    };
    try {
      const returned: unknown = onDenial(denial);
      if (returned instanceof Promise) returned.catch(failed);
    } catch (error) {
      failed(error);
    }
  }

  // Report lines may still sit in the socket when 'exit' fires: read until
  // the launcher's end closes, bounded in case a leftover process holds it.
  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    const channel = this.#channel;
    if (!channel || channel.done) {
      this.#settle(code, signal);
      return;
    }
    const drained = (): void => {
      clearTimeout(timer);
      this.#settle(code, signal);
    };
    // The bound runs in the timers phase, which comes before the poll phase
    // of the same loop turn: after a stalled loop (many sandboxes starting at
    // once) lines already written by the launcher would not have been read
    // yet. Settle only after one more poll phase (setImmediate runs after it).
    const timer = setTimeout(() => setImmediate(drained), DRAIN_MS);
    channel.socket.once('end', drained);
    channel.socket.once('close', drained);
  }

  #onSpawnError(error: NodeJS.ErrnoException): void {
    if (this.#child.pid !== undefined || this.#settled) return; // kill() failures; the exit tells the rest
    this.#settled = true;
    this.#cleanup();
    const missing = error.code === 'ENOENT' || error.code === 'EACCES';
    const failure = new SandboxError(missing ? 'E_INIT_MISSING' : 'E_SETUP', `cannot start ${this.#init}: ${error.message}`, {
      cause: error,
      hint: missing ? `${missingNativeHint()}; or set SANDBOXCTL_INIT` : undefined,
    });
    this.#started.reject(failure);
    this.#exited.reject(failure);
  }

  #alive(): boolean {
    return !this.#settled && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  // SIGTERM is passed on to the program; a second one makes the launcher
  // SIGKILL the sandbox and then clean up (stand-ins, audit), so the
  // launcher itself is SIGKILLed only as a last resort, much later.
  #terminate(): void {
    if (!this.#alive() || this.#killTimer !== undefined) return;
    this.#child.kill('SIGTERM');
    this.#killTimer = setTimeout(() => {
      if (!this.#alive()) return;
      this.#child.kill('SIGTERM');
      this.#killTimer = setTimeout(() => {
        if (this.#alive()) this.#child.kill('SIGKILL');
      }, CLEANUP_GRACE_MS);
    }, KILL_GRACE_MS);
  }

  #cleanup(): void {
    process.off('SIGWINCH', this.#onResize);
    clearTimeout(this.#killTimer);
    clearTimeout(this.#timeoutTimer);
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    this.#channel?.socket.destroy();
  }

  #settle(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#channel?.flush();
    // Resolve only once the report socket is really closed: a settled run
    // holds no descriptor (destroy() closes it on a later loop turn).
    const socket = this.#channel?.socket;
    if (socket && !socket.closed) {
      socket.once('close', () => this.#finish(code, signal));
      this.#cleanup();
      return;
    }
    this.#cleanup();
    this.#finish(code, signal);
  }

  #finish(code: number | null, signal: NodeJS.Signals | null): void {
    const durationMs = performance.now() - this.#startTime;
    const stopped = this.#signalledByCaller || this.#timedOut || this.#aborted || signal !== null;
    let error: SandboxError | undefined;
    if (this.#setupError) {
      error = code === null ? this.#setupError : withExitStatus(this.#setupError, code);
      if (error.code === 'E_TAINTED') error = withTaint(error, this.#taint);
    } else if (!this.#programStarted && !stopped && !this.#isReady) {
      error = new SandboxError('E_SETUP', `sandboxctl-init exited with status ${code} before starting the program`, {
        exitStatus: code ?? undefined,
      });
    }
    if (!this.#isReady) this.#ready.reject(error ?? new SandboxError('E_SANDBOX_CLOSED', `the sandbox ended (status ${code ?? signal}) before it was ready`));
    if (error) {
      this.#started.reject(error);
      this.#exited.reject(error);
      return;
    }
    if (!this.#programStarted && !this.#isReady) {
      this.#started.reject(new SandboxError('E_SETUP', 'the sandbox was stopped before the program started'));
    }
    const result: ExitResult = { code, signal, durationMs, timedOut: this.#timedOut, aborted: this.#aborted, taint: this.#taint, denials: this.#denials };
    if (this.#limit !== undefined) result.limit = this.#limit;
    if (this.#quarantine !== undefined) result.quarantine = this.#quarantine;
    if (this.#sandboxPid !== undefined) result.sandboxPid = this.#sandboxPid;
    if (this.#onDenialErrors.length > 0) result.onDenialErrors = this.#onDenialErrors;
    this.#delivered = true;
    void drained([this.stdout, this.stderr]).then(() => this.#exited.resolve(result));
  }
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
