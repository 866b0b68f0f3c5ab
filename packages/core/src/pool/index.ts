/**
 * A warm pool of sandboxes for many short programs (code interpreters,
 * graders, agent tool calls). Each sandbox is a live sandbox (../live)
 * started ahead with no program of its own: namespaces made, mounts done,
 * seccomp and Landlock loaded, its pid 1 waiting for one request. A run takes
 * one, execs the program in it, and discards it; a replacement starts in the
 * background. A sandbox is never used twice, so nothing a program leaves
 * (files in tmpfs, IPC objects, abstract sockets, background processes) is
 * there for the next one: the kernel objects die with the sandbox's
 * namespaces. A sandbox whose launcher or pid 1 dies while it waits leaves
 * the pool at once and is replaced; it is never handed out.
 *
 * By default one native zygote serves the pool (issue 15, part 2): a live
 * sandbox whose pid 1 keeps the pool's user namespace and forks, for each
 * control connection, a sandbox of its own in fresh pid, mount, ipc, uts,
 * net and cgroup namespaces, its root built and its privileges dropped, that
 * runs the one program the connection asks for and ends with it
 * (crates/sandbox-core/src/init/zygote.rs). Here a warm sandbox is such a
 * connection, opened ahead and greeted once its sandbox is set up: a run
 * sends one request, a replacement is one more connection; no process is
 * spawned and no registry entry written per run. Plans a fork cannot set up
 * alone (a caller's fds, an image root, an allow-list network, limits, an
 * audit) are refused as a zygote's (`E_PLAN_INVALID` at `plan.live.end`),
 * and the pool then starts a whole live sandbox per program as before
 * (`zygote: false` asks for that).
 *
 * The pool keeps `target` sandboxes warm (ready or starting), between `min`
 * and `max`: a run that finds none ready raises it by one, and every `idleMs`
 * without such a wait lowers it by one, down to `min`.
 */

import { SandboxError } from '../errors';
import type { PlanSources } from '../plan/sources';
import { runToCompletion, type RunResult } from '../run';
import { LiveConnection } from '../live/exec';
import { generateName, start, type ExecOptions, type Sandbox } from '../live/sandbox';

export interface PoolOptions extends Omit<PlanSources, 'argv'> {
  /** Sandboxes kept warm at first; default 2. */
  size?: number;
  /** The fewest kept warm; default `size`. */
  min?: number;
  /** The most kept warm; default `size`. */
  max?: number;
  /** How long the pool goes without a run that had to wait before it keeps one sandbox fewer warm (down to `min`); default 30 s. */
  idleMs?: number;
  /** Shown by `sandboxctl ps` on every sandbox of the pool (with `pool: ID`). */
  labels?: Record<string, string>;
  /** One zygote forks each run's sandbox (default, where the plan allows it); false: a whole live sandbox started per run. */
  zygote?: boolean;
}

/** What a run takes: as {@link Sandbox.exec} (stdio, timeoutMs, signal, env, cwd, input). */
export type PoolRunOptions = Omit<ExecOptions, 'tty'>;

export interface PoolStats {
  /** Ready and waiting for a program. */
  ready: number;
  /** Being set up. */
  starting: number;
  /** Running a program (or being discarded after one). */
  busy: number;
  /** How many the pool keeps warm now (ready + starting), between min and max. */
  target: number;
  /** Sandboxes set up so far. */
  started: number;
  /** Sandboxes that died while waiting and were replaced. */
  broken: number;
}

interface Warm {
  /** Its own live sandbox, or the pool's zygote (`forked`). */
  sandbox: Sandbox;
  /** Its control connection, opened (and greeted) while it waits: a run only sends its request. */
  conn: LiveConnection;
  dead: boolean;
  /** A sandbox the zygote forked for `conn`: it ends when `conn` does. */
  forked?: boolean;
}

const DEFAULT_SIZE = 2;
const DEFAULT_IDLE_MS = 30_000;
const RETRY_MS = 200;
/** Broken sandboxes replaced at once before replacements wait RETRY_MS. */
const MAX_BROKEN_IN_A_ROW = 3;
/** Sandboxes a run tries when the one it took turns out dead before the program started. */
const MAX_ATTEMPTS = 3;

function isSandboxGone(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'E_SANDBOX_CLOSED' || code === 'E_SANDBOX_NOT_FOUND';
}

/** The launcher refused the plan as a zygote's: the pool starts whole sandboxes instead. */
function isZygoteRefused(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  return e?.code === 'E_PLAN_INVALID' && typeof e.message === 'string' && e.message.includes('live.end');
}

function count(value: number | undefined, fallback: number, what: string, least: number): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < least) throw new SandboxError('E_USAGE', `createPool: ${what} must be an integer of at least ${least}, not ${String(value)}`);
  return n;
}

/** A pool of warm sandboxes; see {@link createPool}. */
export class Pool {
  readonly id = generateName().replace(/^sb-/, 'pool-');
  readonly #sources: Omit<PlanSources, 'argv'>;
  readonly #labels: Record<string, string>;
  readonly #min: number;
  readonly #max: number;
  #target: number;
  readonly #ready: Warm[] = [];
  #starting = 0;
  readonly #busy = new Set<Promise<unknown>>();
  readonly #all = new Set<Warm>();
  readonly #waiters: { resolve: (w: Warm) => void; reject: (e: unknown) => void }[] = [];
  #started = 0;
  #broken = 0;
  #brokenInARow = 0;
  #serial = 0;
  #closed = false;
  #waited = false;
  #lastError: Error | undefined;
  /** Called (once each) when a set-up ends, well or not. */
  #changed: (() => void)[] = [];
  readonly #timer: NodeJS.Timeout;
  /** Whether set-ups go through the zygote (until the plan is refused as a zygote's). */
  #useZygote: boolean;
  /** The zygote, once asked for; undefined after it died or was refused. */
  #zygote: Promise<Sandbox | undefined> | undefined;
  #zygotes = 0;

  /** @internal {@link createPool} makes them. */
  constructor(options: PoolOptions) {
    const { size: sizeOption, min: minOption, max: maxOption, idleMs, labels, zygote, ...sources } = options;
    this.#useZygote = zygote !== false;
    const size = count(sizeOption, DEFAULT_SIZE, 'size', 1);
    this.#min = count(minOption, size, 'min', 0);
    this.#max = count(maxOption, Math.max(size, this.#min), 'max', 1);
    if (this.#min > this.#max) throw new SandboxError('E_USAGE', `createPool: min (${this.#min}) is more than max (${this.#max})`);
    this.#target = Math.min(this.#max, Math.max(this.#min, size));
    this.#sources = sources;
    this.#labels = { ...labels, pool: this.id };
    const idle = count(idleMs, DEFAULT_IDLE_MS, 'idleMs', 1);
    this.#timer = setInterval(() => this.#shrink(), idle);
    this.#timer.unref();
  }

  /** How many are ready, starting and busy, and the current target. */
  get stats(): PoolStats {
    return { ready: this.#ready.length, starting: this.#starting, busy: this.#busy.size, target: this.#target, started: this.#started, broken: this.#broken };
  }

  /** @internal Resolves once `target` sandboxes are ready; rejects with a set-up failure when none is left starting. */
  async warm(): Promise<void> {
    this.#fill();
    while (this.#ready.length < this.#target) {
      if (this.#closed) throw new SandboxError('E_SANDBOX_CLOSED', 'the pool was closed');
      if (this.#starting === 0 && this.#lastError !== undefined) throw this.#lastError;
      await new Promise<void>((resolve) => this.#changed.push(resolve));
    }
  }

  /**
   * Runs `argv` in a sandbox of its own, set up ahead, and discards that
   * sandbox: the same result as `run()` (code, signal, stdout and stderr when
   * piped, timedOut; `sandboxPid` is the host's pid of that sandbox's pid 1).
   */
  async run(argv: readonly string[], options: PoolRunOptions = {}): Promise<RunResult> {
    for (let attempt = 1; ; attempt += 1) {
      if (this.#closed) throw new SandboxError('E_SANDBOX_CLOSED', 'the pool was closed', { hint: 'make another with createPool()' });
      const warm = await this.#take();
      const handle = warm.sandbox.spawnOn(warm.conn, argv, options);
      let started = false;
      handle.started.then(
        () => (started = true),
        () => {},
      );
      const run = runToCompletion(handle, options.input);
      // The replacement is set up once the program is done, and after the
      // caller has its result (setImmediate): its plan and spawn are
      // synchronous work, and on a busy machine the set-up would share the
      // CPU with the run; either way the run would wait for a set-up it does
      // not need (bench/README.md, section 7).
      this.#track(
        run
          .catch(() => {})
          .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
          .then(() => {
            this.#fill();
            return this.#discard(warm);
          }),
      );
      try {
        // The host's pid of the sandbox's pid 1: which sandbox ran it (a
        // forked one's is not known on the host's side: none).
        const result = await run;
        if (!warm.forked) return { ...result, sandboxPid: warm.sandbox.pid };
        delete result.sandboxPid;
        return result;
      } catch (error) {
        // Its pid 1 died after it was taken, before the pool saw it go
        // (killed from outside): the program never started; another sandbox runs it.
        // A killed zygote takes every sandbox it forked with it, ready ones
        // included: as many more tries as the pool may hold.
        const attempts = warm.forked ? MAX_ATTEMPTS + this.#max : MAX_ATTEMPTS;
        if (!started && attempt < attempts && isSandboxGone(error)) continue;
        throw error;
      }
    }
  }

  /** Stops every sandbox of the pool (ready, starting and busy ones) and resolves once they are gone. Runs under way end with the sandbox. */
  async close(): Promise<void> {
    if (this.#closed) {
      while (this.#busy.size > 0 || this.#starting > 0) await Promise.allSettled([...this.#busy, new Promise((r) => setTimeout(r, 5))]);
      return;
    }
    this.#closed = true;
    clearInterval(this.#timer);
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new SandboxError('E_SANDBOX_CLOSED', 'the pool was closed'));
    for (const warm of this.#ready.splice(0)) this.#track(this.#discard(warm));
    for (const warm of this.#all) this.#track(this.#discard(warm));
    // Those still starting are discarded as they become ready (#started).
    while (this.#busy.size > 0 || this.#starting > 0) await Promise.allSettled([...this.#busy, new Promise((r) => setTimeout(r, 5))]);
    // The zygote last: its end ends every sandbox it forked.
    const zygote = await this.#zygote?.catch(() => undefined);
    this.#zygote = undefined;
    if (zygote) await this.#stop(zygote);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #take(): Promise<Warm> {
    for (;;) {
      const warm = this.#ready.shift();
      if (warm === undefined) break;
      if (!warm.dead) return Promise.resolve(warm);
    }
    // None ready: the pool was too small for this load.
    this.#waited = true;
    if (this.#target < this.#max) this.#target += 1;
    this.#fill();
    if (this.#starting === 0 && this.#lastError !== undefined) return Promise.reject(this.#lastError);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Starts sandboxes until ready + starting reaches the target (plus one for each waiting run). */
  #fill(): void {
    if (this.#closed) return;
    while (this.#ready.length + this.#starting < this.#target + this.#waiters.length) this.#startOne();
  }

  /** The pool's zygote, started on first use (again after it died); undefined when the plan cannot have one. */
  #zygoteSandbox(): Promise<Sandbox | undefined> {
    if (this.#zygote) return this.#zygote;
    this.#zygotes += 1;
    const p: Promise<Sandbox | undefined> = start({ ...this.#sources, name: `${this.id}-z${this.#zygotes}`, labels: this.#labels }, { zygote: true }).then(
      (sandbox) => {
        const gone = (): void => {
          if (this.#zygote === p) this.#zygote = undefined;
        };
        void sandbox.process?.exited.then(gone, gone);
        return sandbox;
      },
      (error: unknown) => {
        if (this.#zygote === p) this.#zygote = undefined;
        if (!isZygoteRefused(error)) throw error;
        this.#useZygote = false;
        return undefined;
      },
    );
    this.#zygote = p;
    return p;
  }

  /** Forgets `zygote` (gone or ending) and makes sure it ends. */
  async #dropZygote(zygote: Sandbox): Promise<void> {
    const current = await this.#zygote?.catch(() => undefined);
    if (current === zygote) this.#zygote = undefined;
    await this.#stop(zygote);
  }

  /** One warm sandbox: a connection to the zygote, greeted once the sandbox forked for it is set up; else a live sandbox of its own. */
  async #setUp(): Promise<Warm> {
    for (let attempt = 1; this.#useZygote; attempt += 1) {
      // No new zygote once the pool closes.
      if (this.#closed) throw new SandboxError('E_SANDBOX_CLOSED', 'the pool was closed');
      const zygote = await this.#zygoteSandbox();
      if (!zygote) break;
      const conn = new LiveConnection(zygote.name);
      try {
        await conn.hello;
        return { sandbox: zygote, conn, dead: false, forked: true };
      } catch (error) {
        conn.close();
        // The zygote itself is gone or ending (killed from outside): the
        // next set-up starts another one.
        if (isSandboxGone(error) && attempt < MAX_ATTEMPTS) {
          await this.#dropZygote(zygote);
          continue;
        }
        throw error;
      }
    }
    this.#serial += 1;
    const sandbox = await start({ ...this.#sources, name: `${this.id}-${this.#serial}`, labels: this.#labels });
    return { sandbox, conn: new LiveConnection(sandbox.name), dead: false };
  }

  #startOne(): void {
    this.#starting += 1;
    this.#setUp().then(
      (warm) => this.#onStarted(warm),
      (error: unknown) => {
        this.#starting -= 1;
        this.#lastError = error instanceof Error ? error : new SandboxError('E_SETUP', `a sandbox of the pool could not be set up: ${String(error)}`);
        this.#notify();
        // Set-up itself fails (a bad plan, no user namespaces): give it to the runs waiting, rather than retrying forever.
        for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#lastError);
        // A plan that worked before failed once (the host short of something for a moment): try again shortly.
        if (this.#started > 0) setTimeout(() => this.#fill(), RETRY_MS).unref();
      },
    );
  }

  #notify(): void {
    for (const resolve of this.#changed.splice(0)) resolve();
  }

  #onStarted(warm: Warm): void {
    this.#notify();
    this.#starting -= 1;
    this.#started += 1;
    this.#lastError = undefined;
    this.#all.add(warm);
    if (warm.forked) {
      // Its sandbox (or the zygote) died while it waits: the connection ends.
      // A run's ExecProcess takes the replies over once it is used.
      warm.conn.listen((reply) => {
        if (reply === null) this.#onDied(warm);
      });
      this.#brokenInARow = 0;
    }
    if (!warm.forked) {
      // Dead while it waits (its pid 1 killed, its launcher gone): out of the pool, replaced.
      void warm.sandbox.process?.exited.then(
        () => this.#onDied(warm),
        () => this.#onDied(warm),
      );
      // A connection refused or lost while it waits: broken too, and its
      // launcher killed (it may still run: a sandbox nobody can reach).
      warm.conn.hello.then(
        () => (this.#brokenInARow = 0),
        () => this.#onDied(warm, true),
      );
    }
    if (this.#closed) {
      this.#track(this.#discard(warm));
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(warm);
    else this.#ready.push(warm);
  }

  #onDied(warm: Warm, unreachable = false): void {
    if (warm.dead) return;
    const i = this.#ready.indexOf(warm);
    if (unreachable) this.#track(this.#discard(warm));
    else {
      this.#all.delete(warm);
      warm.dead = true;
    }
    if (i >= 0) {
      this.#ready.splice(i, 1);
      this.#broken += 1;
      // Sandboxes that break as soon as they start (the host short of pids,
      // a control socket that cannot be reached) are replaced after a pause,
      // never in a tight loop.
      this.#brokenInARow += 1;
      if (this.#brokenInARow > MAX_BROKEN_IN_A_ROW) setTimeout(() => this.#fill(), RETRY_MS).unref();
      else this.#fill();
    }
  }

  /** Every `idleMs`: one fewer kept warm when no run had to wait meanwhile. */
  #shrink(): void {
    if (!this.#waited && this.#target > this.#min) {
      this.#target -= 1;
      const warm = this.#ready.length > this.#target ? this.#ready.pop() : undefined;
      if (warm) this.#track(this.#discard(warm));
    }
    this.#waited = false;
  }

  #track(p: Promise<void>): void {
    this.#busy.add(p);
    void p.finally(() => this.#busy.delete(p));
  }

  async #discard(warm: Warm): Promise<void> {
    const was = warm.dead;
    warm.dead = true;
    warm.conn.close();
    if (warm.forked) {
      // Its sandbox ends with the connection (its program SIGKILLed with it).
      this.#all.delete(warm);
      return;
    }
    const launcher = warm.sandbox.process;
    if (!was) {
      // Two signals to the launcher (crates/sandbox-core/src/live/supervisor.rs):
      // the first asks pid 1 to end, the second SIGKILLs it, which ends the
      // whole pid namespace at once; the launcher then removes the registry
      // entry. Two different signals, as two SIGTERMs could merge into one.
      // Cheaper than `stop()`, which starts a client process.
      if (launcher) {
        launcher.kill('SIGINT');
        launcher.kill('SIGTERM');
      } else await warm.sandbox.stop({ timeoutMs: 0 }).catch(() => {});
    }
    await launcher?.exited.catch(() => {});
    this.#all.delete(warm);
  }

  /** Ends a live sandbox as {@link #discard} does (the zygote: with every sandbox it forked). */
  async #stop(sandbox: Sandbox): Promise<void> {
    const launcher = sandbox.process;
    if (launcher) {
      launcher.kill('SIGINT');
      launcher.kill('SIGTERM');
      await launcher.exited.catch(() => {});
    } else await sandbox.stop({ timeoutMs: 0 }).catch(() => {});
  }
}

/**
 * A pool of `size` warm sandboxes built from `options` (a preset, ops,
 * environment... as for `run()`); resolves once they are ready. Each
 * `pool.run(argv)` gets a fresh one; `pool.close()` stops them all.
 *
 * ```js
 * const pool = await createPool({ preset: 'strict', ops: [...], size: 4 });
 * const r = await pool.run(['python3', '-c', 'print(1)'], { stdio: 'pipe', timeoutMs: 2000 });
 * await pool.close();
 * ```
 */
export async function createPool(options: PoolOptions = {}): Promise<Pool> {
  const pool = new Pool(options);
  try {
    await pool.warm();
  } catch (error) {
    await pool.close();
    throw error;
  }
  return pool;
}
