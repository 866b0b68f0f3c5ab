/**
 * The filesystem view of a live sandbox ({@link Sandbox.fs}): moby's
 * `containerFSView` (seed 001) from Node. A worker that the sandbox's pid 1
 * forks after its privilege drop (so with exactly the sandbox's
 * restrictions, root, tmpfs and overlay contents) serves the operations
 * over the stdin/stdout of a native client process (`sandboxctl-init client
 * fs NAME`): JSON-line frames, `len` raw bytes after a line for file data
 * (crates/sandbox-core/src/live/view.rs). Every path is resolved inside the
 * sandbox's root as openat2's RESOLVE_IN_ROOT does: `..` stops at `/`, an
 * absolute symlink starts again at `/`.
 *
 * One operation at a time per view (calls queue, in order); the working
 * directory set by {@link FsView.chdir} persists across calls; many views
 * may be open at once. {@link FsView.close} ends the worker; the view also
 * ends with the sandbox, after which every call rejects with
 * `E_SANDBOX_CLOSED`.
 */

import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { SandboxError } from '../errors';
import { resolveInit } from '../launcher';
import type { FsDirent, FsStat, Op, ViewReply } from './view-types';

// The protocol's types are generated from crates/sandbox-core/src/live/view.rs
// (`npm run gen`, drift-tested): stat results, entries, replies, requests.
export type { FsDirent, FsEntryType, FsStat } from './view-types';

/**
 * A failed view operation: a {@link SandboxError} (`E_NOT_FOUND`,
 * `E_NOT_DIR`, `E_IS_DIR`, `E_EXISTS`, `E_NOT_EMPTY`, `E_READ_ONLY`,
 * `E_PERMISSION`, `E_USAGE`, or `E_SETUP` for the rest) carrying Node's
 * `errno` name (`ENOENT`...), `syscall` and the path inside.
 */
export class FsError extends SandboxError {
  constructor(
    code: string,
    message: string,
    /** Node's name of the errno, e.g. `ENOENT`. */
    readonly errno: string,
    readonly syscall: string,
    /** The path inside the sandbox, as given. */
    readonly fsPath: string,
  ) {
    super(code, message);
  }
}

interface Pending {
  resolve: (value: { result: unknown; data: Buffer }) => void;
  reject: (error: Error) => void;
}

/** A filesystem view of a live sandbox; from {@link Sandbox.fs}. */
export class FsView {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #queue: Promise<unknown> = Promise.resolve();
  #buffer: Buffer = Buffer.alloc(0);
  /** The reply line read, waiting for its `len` bytes. */
  #head: ViewReply | undefined;
  #closed: SandboxError | undefined;
  #stderr = '';
  readonly #exited: Promise<void>;

  /** @internal {@link Sandbox.fs} makes them. */
  constructor(readonly sandbox: string) {
    this.#child = spawnChild(resolveInit(), ['client', 'fs', sandbox], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env } });
    this.#child.stdout!.on('data', (chunk: Buffer) => this.#read(chunk));
    this.#child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.#stderr += d));
    // A write after the worker ended: the close below says why.
    this.#child.stdin!.on('error', () => {});
    this.#exited = new Promise((resolve) => {
      this.#child.on('close', (status) => {
        this.#end(status);
        resolve();
      });
      this.#child.on('error', (error) => {
        this.#closed ??= new SandboxError('E_NATIVE_MISSING', `cannot start sandboxctl-init: ${error.message}`);
        this.#end(null);
        resolve();
      });
    });
  }

  #end(status: number | null): void {
    if (this.#closed === undefined) {
      const found = /(E_[A-Z_]+): (.*)$/m.exec(this.#stderr);
      this.#closed =
        found && found[1] !== 'E_SANDBOX_CLOSED' && status !== 0
          ? new SandboxError(found[1]!, found[2]!, { exitStatus: status ?? undefined })
          : new SandboxError('E_SANDBOX_CLOSED', `the filesystem view of sandbox ${this.sandbox} is closed`);
    }
    for (const p of this.#pending.values()) p.reject(this.#closed);
    this.#pending.clear();
  }

  #read(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      if (this.#head === undefined) {
        const nl = this.#buffer.indexOf(0x0a);
        if (nl < 0) return;
        this.#head = JSON.parse(this.#buffer.subarray(0, nl).toString('utf8')) as ViewReply;
        this.#buffer = this.#buffer.subarray(nl + 1);
      }
      const len = this.#head.len ?? 0;
      if (this.#buffer.length < len) return;
      const data = Buffer.from(this.#buffer.subarray(0, len));
      this.#buffer = this.#buffer.subarray(len);
      const head = this.#head;
      this.#head = undefined;
      const p = head.id === null ? undefined : this.#pending.get(head.id);
      if (head.id !== null) this.#pending.delete(head.id);
      if (!p) continue;
      if (head.ok) p.resolve({ result: head.result, data });
      else {
        const e = head.error!;
        p.reject(new FsError(e.code, `${e.code}: ${e.message}`, e.errno, e.syscall, e.path));
      }
    }
  }

  /** One request; queued behind the ones before it. */
  #call(request: Op, data?: Uint8Array): Promise<{ result: unknown; data: Buffer }> {
    const run = (): Promise<{ result: unknown; data: Buffer }> => {
      if (this.#closed) return Promise.reject(this.#closed);
      const id = this.#nextId++;
      const line = `${JSON.stringify({ id, ...request, ...(data ? { len: data.byteLength } : {}) })}\n`;
      return new Promise((resolve, reject) => {
        this.#pending.set(id, { resolve, reject });
        const stdin = this.#child.stdin!;
        stdin.write(line);
        if (data && data.byteLength > 0) stdin.write(data);
      });
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => {});
    return next;
  }

  /** stat(2) (links followed inside the root), with `linkTarget` when `path` is a link. */
  async stat(path: string): Promise<FsStat> {
    return (await this.#call({ op: 'stat', path })).result as FsStat;
  }

  /** lstat(2): a link itself, with `linkTarget` (seed 001's `Stat`). */
  async lstat(path: string): Promise<FsStat> {
    return (await this.#call({ op: 'lstat', path })).result as FsStat;
  }

  /** The file's contents; a string with an `encoding`. */
  readFile(path: string): Promise<Buffer>;
  readFile(path: string, encoding: BufferEncoding): Promise<string>;
  async readFile(path: string, encoding?: BufferEncoding): Promise<Buffer | string> {
    const { data } = await this.#call({ op: 'readFile', path });
    return encoding === undefined ? data : data.toString(encoding);
  }

  /**
   * Writes `data`. `flag`: `'w'` (default: create or truncate, a link followed
   * inside the root), `'wx'` (fail with `E_EXISTS` if anything, even a
   * dangling link, is there), `'a'` (append). `mode` (default 0o666) is
   * masked by the sandbox programs' umask for a new file.
   */
  async writeFile(path: string, data: string | Uint8Array, options: { mode?: number; flag?: 'w' | 'wx' | 'a' } = {}): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    await this.#call({ op: 'writeFile', path, mode: options.mode ?? 0o666, flag: options.flag ?? 'w' }, bytes);
  }

  /** The entries of a directory (without `.` and `..`), sorted by name. */
  async readdir(path: string): Promise<FsDirent[]> {
    return (await this.#call({ op: 'readdir', path })).result as FsDirent[];
  }

  /** mkdir(2); `recursive`: every missing parent too, no error when it exists. */
  async mkdir(path: string, options: { recursive?: boolean; mode?: number } = {}): Promise<void> {
    await this.#call({ op: 'mkdir', path, recursive: options.recursive === true, mode: options.mode ?? 0o777 });
  }

  /** Removes a file or link (a link, never its target); a directory with `recursive`; nothing missing is an error with `force`. */
  async rm(path: string, options: { recursive?: boolean; force?: boolean } = {}): Promise<void> {
    await this.#call({ op: 'rm', path, recursive: options.recursive === true, force: options.force === true });
  }

  /** rename(2), inside the sandbox. */
  async rename(from: string, to: string): Promise<void> {
    await this.#call({ op: 'rename', from, to });
  }

  /** The path inside the sandbox with every link resolved inside its root; the path must exist. */
  async realpath(path: string): Promise<string> {
    return (await this.#call({ op: 'realpath', path })).result as string;
  }

  /** A link's target, as stored. */
  async readlink(path: string): Promise<string> {
    return (await this.#call({ op: 'readlink', path })).result as string;
  }

  /** Makes the link `path` pointing at `target` (stored as given: inside, `/` is the sandbox's root). */
  async symlink(target: string, path: string): Promise<void> {
    await this.#call({ op: 'symlink', target, path });
  }

  /** chmod(2) (a link followed inside the root). */
  async chmod(path: string, mode: number): Promise<void> {
    await this.#call({ op: 'chmod', path, mode });
  }

  /** Changes this view's working directory (relative paths start there); resolves with the new one. */
  async chdir(path: string): Promise<string> {
    return (await this.#call({ op: 'chdir', path })).result as string;
  }

  /** This view's working directory. */
  async cwd(): Promise<string> {
    return (await this.#call({ op: 'cwd' })).result as string;
  }

  /** Whether the view still serves (false once closed or once its sandbox ended). */
  get open(): boolean {
    return this.#closed === undefined;
  }

  /** Ends the worker once the calls queued before it are done; later calls reject with `E_SANDBOX_CLOSED`. */
  async close(): Promise<void> {
    await this.#queue;
    this.#child.stdin!.end();
    await this.#exited;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
