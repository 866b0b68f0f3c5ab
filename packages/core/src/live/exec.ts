/**
 * `exec` without a client process: Node connects to the sandbox's control
 * socket through the addon (crates/sandbox-napi/src/live.rs), sends the
 * request with the program's stdio fds (SCM_RIGHTS) and follows pid 1's
 * replies on the addon's reader thread. Nothing here forks or enters a
 * namespace: pid 1 forks the program after its own privilege drop, as for
 * the native client.
 *
 * A {@link LiveConnection} serves one exec (pid 1 allows one per
 * connection); the pool opens one ahead for each warm sandbox, so a run
 * pays only the request. Closing the connection makes pid 1 SIGKILL what it
 * started. Invariants: the fds this side made for the program are closed
 * once sent (or once the exec failed); a received fd is never leaked.
 */

import { closeSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { SandboxError } from '../errors';
import { CLEANUP_GRACE_MS, KILL_GRACE_MS, type ExitResult, type LaunchOptions } from '../launcher';
import { deferred, drained } from '../launcher/process';
import { normalizeStdio, type StdioEntry } from '../launcher/terminal';
import { loadNative } from '../native';

/** One message of pid 1 (crates/sandbox-core/src/live/proto.rs `Reply`). */
type Reply =
  | { event: 'hello'; version: number }
  | { event: 'started'; pid: number }
  | { event: 'exited'; status: number }
  | { event: 'error'; code: string; message: string }
  | { event: 'stat'; kind: string | null };

/** What an exec asks (proto.rs `ExecRequest`). */
export interface ExecRequest {
  argv: readonly string[];
  env?: string[];
  clearEnv?: boolean;
  cwd?: string;
}

/** A connection to a live sandbox's pid 1, greeted or on its way. */
export class LiveConnection {
  /** Resolves on pid 1's greeting; rejects with `E_CONTROL_DENIED`, `E_SANDBOX_CLOSED`… */
  readonly hello: Promise<void>;
  #id: number | undefined;
  #greeted = false;
  #ended = false;
  #onReply: ((reply: Reply | null) => void) | undefined;
  #helloResolve!: () => void;
  #helloReject!: (error: unknown) => void;

  constructor(readonly name: string) {
    this.hello = new Promise((resolve, reject) => {
      this.#helloResolve = resolve;
      this.#helloReject = reject;
    });
    this.hello.catch(() => {});
    // The registry's place as a child process given `process.env` would find it.
    const r = loadNative().liveConnect(name, process.env.XDG_RUNTIME_DIR, (json, fd) => this.#message(json, fd));
    if (r.id === null || r.id === undefined) {
      this.#ended = true;
      this.#helloReject(new SandboxError(r.code ?? 'E_SETUP', r.message ?? `cannot reach sandbox ${name}`, { hint: r.hint ?? undefined }));
      return;
    }
    this.#id = r.id;
  }

  /** Whether it ended (the sandbox closed it, or {@link close}). */
  get ended(): boolean {
    return this.#ended;
  }

  /** @internal The replies after the greeting go to `handler`; `null` once the connection ended. */
  listen(handler: (reply: Reply | null) => void): void {
    this.#onReply = handler;
  }

  /** @internal Sends a request with `fds`; false when the connection is gone. */
  send(request: object, fds: readonly number[] = []): boolean {
    if (this.#id === undefined || this.#ended) return false;
    return loadNative().liveSend(this.#id, JSON.stringify(request), [...fds]);
  }

  /** Ends the connection; pid 1 SIGKILLs what it started. */
  close(): void {
    if (this.#id !== undefined && !this.#ended) loadNative().liveClose(this.#id);
  }

  #message(json: string | null, fd: number | null): void {
    if (fd !== null) closeSync(fd);
    if (json === null) {
      this.#ended = true;
      if (!this.#greeted) this.#helloReject(new SandboxError('E_SANDBOX_CLOSED', `sandbox ${this.name} closed the connection`));
      this.#onReply?.(null);
      return;
    }
    let reply: Reply;
    try {
      reply = JSON.parse(json) as Reply;
    } catch {
      reply = { event: 'error', code: 'E_SETUP', message: `unreadable reply from sandbox ${this.name}` };
    }
    if (!this.#greeted) {
      if (reply.event === 'hello') {
        this.#greeted = true;
        this.#helloResolve();
      } else {
        this.#helloReject(
          reply.event === 'error' ? new SandboxError(reply.code, reply.message) : new SandboxError('E_SETUP', `unexpected greeting from sandbox ${this.name}`),
        );
        this.close();
      }
      return;
    }
    this.#onReply?.(reply);
  }
}

function signalNumber(signal: NodeJS.Signals | number): number {
  if (typeof signal === 'number') return signal;
  const n = (constants.signals as Record<string, number | undefined>)[signal];
  if (n === undefined) throw new SandboxError('E_USAGE', `unknown signal ${signal}`);
  return n;
}

/**
 * A program `exec` started in a live sandbox over a {@link LiveConnection}:
 * the same members and result as a {@link SandboxProcess} of a run
 * (stdio streams, `started`, `exited`, `kill`, `timeoutMs`, `signal`).
 */
export class ExecProcess {
  readonly stdin: Writable | null = null;
  readonly stdout: Readable | null = null;
  readonly stderr: Readable | null = null;
  readonly started: Promise<void>;
  /** Resolves on pid 1's word that the program exited, once what it wrote has reached the flowing stdout and stderr ({@link drained}). */
  readonly exited: Promise<ExitResult>;
  readonly #conn: LiveConnection;
  readonly #options: LaunchOptions;
  readonly #startTime = performance.now();
  readonly #started = deferred<void>();
  readonly #exited = deferred<ExitResult>();
  /** The program's ends of the pipes and /dev/null, closed once sent. */
  #theirs: number[] = [];
  #send: number[] = [];
  #programStarted = false;
  #error: SandboxError | undefined;
  #settled = false;
  #timedOut = false;
  #aborted = false;
  #killTimer: NodeJS.Timeout | undefined;
  #timeoutTimer: NodeJS.Timeout | undefined;
  readonly #onAbort = (): void => {
    this.#aborted = true;
    this.#terminate();
  };

  constructor(
    conn: LiveConnection,
    request: ExecRequest,
    options: LaunchOptions,
    /** The host's pid of the sandbox's pid 1 (the result's `sandboxPid`). */
    readonly sandboxPid?: number,
  ) {
    this.#conn = conn;
    this.#options = options;
    this.started = this.#started.promise;
    this.exited = this.#exited.promise;
    this.started.catch(() => {});
    const stdio = normalizeStdio(options.stdio ?? 'pipe');
    const native = loadNative();
    const streams: (Socket | null)[] = [null, null, null];
    try {
      stdio.forEach((entry: StdioEntry, i) => {
        if (entry === 'pipe') {
          const [r, w] = native.livePipe() as [number, number];
          const [ours, theirs] = i === 0 ? [w, r] : [r, w];
          this.#theirs.push(theirs);
          this.#send.push(theirs);
          streams[i] = new Socket({ fd: ours, readable: i !== 0, writable: i === 0 });
        } else if (entry === 'inherit') {
          this.#send.push(i);
        } else if (entry === 'ignore') {
          const fd = openSync('/dev/null', i === 0 ? 'r' : 'w');
          this.#theirs.push(fd);
          this.#send.push(fd);
        } else if (typeof entry === 'number') {
          this.#send.push(entry);
        } else {
          const fd = (entry as { fd?: unknown }).fd;
          if (typeof fd !== 'number') throw new TypeError(`stdio[${i}]: a stream without an fd cannot be passed to the sandbox`);
          this.#send.push(fd);
        }
      });
    } catch (error) {
      this.#closeTheirs();
      for (const s of streams) s?.destroy();
      throw error;
    }
    this.stdin = streams[0];
    this.stdout = streams[1];
    this.stderr = streams[2];

    conn.listen((reply) => this.#reply(reply));
    conn.hello.then(
      () => {
        if (this.#settled) return;
        const sent = (() => {
          try {
            return conn.send({ op: 'exec', argv: request.argv, env: request.env ?? [], clearEnv: request.clearEnv === true, cwd: request.cwd ?? null, tty: false }, this.#send);
          } catch (error) {
            this.#error ??= error instanceof SandboxError ? error : new SandboxError('E_SANDBOX_CLOSED', `cannot reach sandbox ${conn.name}: ${String(error)}`);
            return false;
          }
        })();
        this.#closeTheirs();
        if (!sent) {
          this.#error ??= new SandboxError('E_SANDBOX_CLOSED', `sandbox ${conn.name} closed the connection`);
          this.#settle(null);
        }
      },
      (error: unknown) => {
        this.#error ??= error instanceof SandboxError ? error : new SandboxError('E_SETUP', String(error));
        this.#closeTheirs();
        this.#settle(null);
      },
    );
    options.signal?.addEventListener('abort', this.#onAbort, { once: true });
    if (options.signal?.aborted === true) this.#onAbort();
    if (options.timeoutMs !== undefined) {
      this.#timeoutTimer = setTimeout(() => {
        this.#timedOut = true;
        this.#terminate();
      }, options.timeoutMs);
    }
  }

  /** Signals the program (through pid 1). */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.#settled) return false;
    return this.#conn.send({ op: 'signal', signal: signalNumber(signal) });
  }

  #closeTheirs(): void {
    for (const fd of this.#theirs.splice(0)) closeSync(fd);
  }

  // As a run's: SIGTERM, a second after the grace (here SIGKILL, since
  // nothing stands between us and the program), then the connection ends,
  // which makes pid 1 kill the program's whole group.
  #terminate(): void {
    if (this.#settled || this.#killTimer !== undefined) return;
    this.#conn.send({ op: 'signal', signal: constants.signals.SIGTERM });
    this.#killTimer = setTimeout(() => {
      if (this.#settled) return;
      this.#conn.send({ op: 'signal', signal: constants.signals.SIGKILL });
      this.#killTimer = setTimeout(() => this.#conn.close(), CLEANUP_GRACE_MS);
    }, KILL_GRACE_MS);
  }

  #reply(reply: Reply | null): void {
    if (reply === null) {
      if (!this.#settled) this.#error ??= new SandboxError('E_SANDBOX_CLOSED', `sandbox ${this.#conn.name} ended before the program did`, { exitStatus: 125 });
      this.#settle(null);
      return;
    }
    switch (reply.event) {
      case 'started':
        this.#programStarted = true;
        this.#started.resolve();
        return;
      case 'error':
        // Before `started`: the exec failed, its status (126, 127, 125) follows.
        // After: a notice while the program runs (a peer group's timeout).
        if (!this.#programStarted) this.#error ??= new SandboxError(reply.code, reply.message);
        return;
      case 'exited':
        this.#settle(reply.status);
        return;
      default:
        return;
    }
  }

  #settle(code: number | null): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#killTimer);
    clearTimeout(this.#timeoutTimer);
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    this.#closeTheirs();
    this.#conn.close();
    if (this.#error) {
      const e = this.#error;
      const error = code === null ? e : new SandboxError(e.code, e.message, { hint: e.hint, exitStatus: code });
      this.#started.reject(error);
      this.#exited.reject(error);
      for (const s of [this.stdin, this.stdout, this.stderr]) if (!this.#programStarted) s?.destroy();
      return;
    }
    const result: ExitResult = {
      code,
      signal: null,
      durationMs: performance.now() - this.#startTime,
      timedOut: this.#timedOut,
      aborted: this.#aborted,
      taint: [],
      denials: [],
    };
    if (this.sandboxPid !== undefined) result.sandboxPid = this.sandboxPid;
    // pid 1's `exited` and the program's last output come on different fds.
    void drained([this.stdout, this.stderr]).then(() => this.#exited.resolve(result));
  }
}

