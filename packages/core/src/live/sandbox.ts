/**
 * A live sandbox from Node: {@link start} one (named, registered, serving
 * requests), {@link attach} to one by name, {@link list} them. Programs go
 * in with {@link Sandbox.exec} / {@link Sandbox.spawn}: the sandbox's own
 * pid 1 forks them after its privilege drop, so they get exactly its
 * restrictions. Node never enters a namespace: an exec connects to the
 * sandbox's control socket through the addon and passes its stdio fds to
 * pid 1 (./exec.ts); only `tty` still goes through a native client process
 * (`sandboxctl-init client exec --tty`), which relays the terminal.
 */

import { spawn as spawnChild, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { SandboxError } from '../errors';
import { ExecProcess, LiveConnection } from './exec';
import { FsView } from './fs';
import { resolveInit, SandboxProcess, type LaunchOptions } from '../launcher';
import type { Plan } from '../plan-types';
import { buildPlan, runToCompletion, type RunResult } from '../run';
import type { PlanSources } from '../plan/sources';

/** A running sandbox as `sandboxctl ps` shows it (the registry's `state.json`). */
export interface SandboxState {
  version: number;
  name: string;
  /** The supervisor (the launcher) on the host. */
  supervisorPid: number;
  /** The sandbox's pid 1 as the host sees it. */
  pid1: number;
  createdMs: number;
  argv: string[];
  detached: boolean;
  labels: Record<string, string>;
  /** The control socket. */
  socket?: string;
}

export interface StartOptions extends PlanSources, LaunchOptions {
  /** The sandbox's own program; without one it runs until {@link Sandbox.stop}. */
  argv?: string[];
  /** `^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`; default `sb-` and 8 random characters. */
  name?: string;
  /** Survive this process (the sandbox otherwise dies with it). */
  detach?: boolean;
  /** Shown by `ps`. */
  labels?: Record<string, string>;
}

export interface ExecOptions extends LaunchOptions {
  /** `KEY: VALUE` added to (or replacing in) the sandbox's environment. */
  env?: Record<string, string>;
  /** Only `env`: none of the sandbox's environment. */
  clearEnv?: boolean;
  /** Working directory inside; the sandbox's by default. */
  cwd?: string;
  /** A pseudo-terminal from the sandbox's devpts, relayed to this process's terminal (stdio must be `'inherit'` terminals). */
  tty?: boolean;
  /** Written to stdin when piped (exec only). */
  input?: string | Uint8Array;
}

/** @internal What the library's own callers add to {@link StartOptions}. */
export interface StartInternal {
  /** A warm pool's zygote (live.end `zygote`, crates/sandbox-core/src/init/zygote.rs): each connection gets a sandbox of its own, forked for it. */
  zygote?: boolean;
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** `sb-` and 8 random base32 characters. */
export function generateName(): string {
  return `sb-${[...randomBytes(8)].map((b) => BASE32[b & 31]).join('')}`;
}

/** The error a native client printed (`sandboxctl: E_CODE: message`), or a generic one. */
function clientError(stderr: string, status: number | null, what: string): SandboxError {
  const lines = stderr.split('\n');
  const found = lines.map((l) => /(E_[A-Z_]+): (.*)$/.exec(l)).find((m) => m !== null);
  const hint = lines.map((l) => /hint: (.*)$/.exec(l)).find((m) => m !== null)?.[1];
  if (found) return new SandboxError(found[1]!, found[2]!, { hint, exitStatus: status ?? undefined });
  return new SandboxError('E_SETUP', `${what} failed with status ${status}: ${stderr.trim()}`);
}

function checkArgv(argv: readonly string[]): readonly string[] {
  if (argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
    throw new SandboxError('E_USAGE', 'exec: give the program to run and its arguments, a non-empty array of strings');
  }
  return argv;
}

/** A live sandbox. */
export class Sandbox {
  readonly #process: SandboxProcess | undefined;
  readonly #views = new Set<FsView>();

  /** @internal {@link start} and {@link attach} make them. */
  constructor(
    readonly name: string,
    /** pid 1 as the host sees it. */
    readonly pid: number,
    process?: SandboxProcess,
  ) {
    this.#process = process;
  }

  /** The launcher run of a sandbox this process started (undefined when attached or detached). */
  get process(): SandboxProcess | undefined {
    return this.#process;
  }

  /**
   * Starts `argv` in the sandbox, its exit status the program's: an
   * {@link ExecProcess} (stdio streams, `started`, `exited`, `kill`), or with
   * `tty` a {@link SandboxProcess} of the native client that relays the terminal.
   */
  spawn(argv: readonly string[], options: ExecOptions = {}): ExecProcess | SandboxProcess {
    if (options.tty === true) return this.#spawnClient(checkArgv(argv), options);
    return this.spawnOn(new LiveConnection(this.name), argv, options);
  }

  /** @internal {@link spawn} over a connection opened ahead (the pool's). */
  spawnOn(conn: LiveConnection, argv: readonly string[], options: ExecOptions = {}): ExecProcess {
    checkArgv(argv);
    options.signal?.throwIfAborted();
    const env = Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`);
    const request = { argv, env, clearEnv: options.clearEnv === true, ...(options.cwd === undefined ? {} : { cwd: options.cwd }) };
    return new ExecProcess(conn, request, options, this.pid > 0 ? this.pid : undefined);
  }

  #spawnClient(argv: readonly string[], options: ExecOptions): SandboxProcess {
    const args = ['exec', '--report-fd', '3'];
    if (options.tty === true) args.push('--tty');
    if (options.clearEnv === true) args.push('--clear-env');
    for (const [k, v] of Object.entries(options.env ?? {})) args.push('--env', `${k}=${v}`);
    if (options.cwd !== undefined) args.push('--cwd', options.cwd);
    args.push(this.name, '--', ...argv);
    return SandboxProcess.client(args, options);
  }

  /** Runs `argv` in the sandbox to completion: the same result as `run()`. */
  exec(argv: readonly string[], options: ExecOptions = {}): Promise<RunResult> {
    return runToCompletion(this.spawn(argv, options), options.input);
  }

  /**
   * Copies the host path `src` into the sandbox at `dest`, by `docker cp`'s
   * rules (a trailing `/.` copies a directory's contents; links are copied as
   * links unless `src` ends in `/`; `E_NOT_DIR` for a directory onto a file,
   * `E_READ_ONLY` for a read-only target, `E_NOT_FOUND` for what is missing).
   */
  copyIn(src: string, dest: string): Promise<void> {
    return copy(src, `${this.name}:${dest}`);
  }

  /** Copies `src` inside the sandbox to the host path `dest`; `E_CP_UNSAFE` when a parent on the host is a symlink. */
  copyOut(src: string, dest: string): Promise<void> {
    return copy(`${this.name}:${src}`, dest);
  }

  /**
   * A filesystem view of the sandbox (seed 001's `containerFSView`): file
   * operations run inside it by a worker with exactly its restrictions,
   * every path resolved inside its root. Close it with {@link FsView.close}
   * (or `await using`); it also ends with the sandbox.
   */
  fs(): FsView {
    const view = new FsView(this.name);
    this.#views.add(view);
    return view;
  }

  /** SIGTERM to every process inside, SIGKILL after `timeoutMs` (default 10 s); resolves once the sandbox is gone. */
  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    const timeout = Math.max(0, Math.floor(options.timeoutMs ?? 10_000));
    const child = spawnChild(resolveInit(), ['client', 'stop', '--timeout-ms', String(timeout), this.name], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    if (status !== 0) {
      const error = clientError(stderr, status, `sandboxctl-init client stop ${this.name}`);
      // Already gone: what stop was for.
      if (error.code !== 'E_SANDBOX_NOT_FOUND' || this.#process === undefined) throw error;
    }
    await this.#process?.exited.catch(() => {});
    // Its views ended with it: wait for their clients too.
    await Promise.all([...this.#views].map((v) => v.close()));
    this.#views.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop().catch((error: unknown) => {
      if (!(error instanceof SandboxError && error.code === 'E_SANDBOX_NOT_FOUND')) throw error;
    });
  }
}

/** `sandboxctl cp SRC DEST`: one of them `NAME:PATH`. */
export async function copy(src: string, dest: string): Promise<void> {
  const child = spawnChild(resolveInit(), ['client', 'cp', src, dest], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env } });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  if (status !== 0) throw clientError(stderr, status, `sandboxctl-init client cp ${src} ${dest}`);
}

/** The plan {@link start} runs. */
export function buildLivePlan(options: StartOptions, internal: StartInternal = {}): Plan {
  const name = options.name ?? generateName();
  const plan = buildPlan({ ...options, argv: options.argv ?? [] });
  plan.live = { name, detach: options.detach === true, end: { kind: internal.zygote === true ? 'zygote' : (options.argv ?? []).length > 0 ? 'program' : 'stop' } };
  const preset = typeof options.preset === 'string' ? options.preset : options.preset?.name;
  const labels = { ...(preset === undefined ? {} : { preset }), ...options.labels };
  if (Object.keys(labels).length > 0) plan.live.labels = labels;
  if (options.detach === true) plan.dieWithParent = false;
  return plan;
}

/**
 * Starts a live sandbox and resolves once it serves requests. Without
 * `detach` it dies with this process; stop it with {@link Sandbox.stop}
 * (or `await using`).
 */
export async function start(options: StartOptions = {}, internal: StartInternal = {}): Promise<Sandbox> {
  const plan = buildLivePlan(options, internal);
  const process = SandboxProcess.start(plan, { ...options, stdio: options.stdio ?? 'ignore' });
  // A failure before ready rejects both; `ready` carries it.
  process.exited.catch(() => {});
  const ready = await process.ready;
  if (options.detach === true) {
    process.release();
    return new Sandbox(ready.name, ready.pid);
  }
  return new Sandbox(ready.name, ready.pid, process);
}

/** The caller's running sandboxes; entries of dead ones are removed on the way. */
export function list(): SandboxState[] {
  const out = spawnSync(resolveInit(), ['client', 'ps'], { encoding: 'utf8', env: { ...process.env } });
  if (out.status !== 0) throw clientError(out.stderr, out.status, 'sandboxctl-init client ps');
  return JSON.parse(out.stdout) as SandboxState[];
}

/** The running sandbox `name`; rejects with `E_SANDBOX_NOT_FOUND` when there is none. */
// eslint-disable-next-line @typescript-eslint/require-await -- a Promise, so later versions may ask the sandbox itself
export async function attach(name: string): Promise<Sandbox> {
  const found = list().find((s) => s.name === name);
  if (!found) throw new SandboxError('E_SANDBOX_NOT_FOUND', `no running sandbox named ${name}`, { hint: '`sandboxctl ps` lists them' });
  return new Sandbox(found.name, found.pid1);
}
