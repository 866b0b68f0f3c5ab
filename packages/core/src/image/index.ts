/**
 * The `image` commands as a library: `importImage` (an OCI layout, OCI
 * archive or docker save archive into a directory or SquashFS image),
 * `packImage` (a directory into SquashFS) and `inspectImage`. The work is
 * native (`sandboxctl-init image …`, crates/sandbox-core/src/image/), in a
 * process of its own: Node never blocks on a large tree. It answers with
 * one report line on stdout, an `image` line ({@link ImageInfo}) or an
 * `error` line, which becomes a {@link SandboxError} (`E_IMAGE_INVALID`,
 * `E_IMAGE_UNSAFE`, `E_IMAGE_EXISTS`, `E_USAGE`). Nothing is printed.
 */

import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { SandboxError } from '../errors';
import { resolveInit } from '../launcher/init';
import type { ImageReport, ProgressReport, Report } from '../report-types';

export type { ImageMeta, ImportCounts, PackCounts } from '../report-types';

/** How far an import or pack got: a `progress` report line without its `event`. */
export type ImageProgress = Omit<ProgressReport, 'event'>;

/** An image made or inspected: the `image` report line without its `event`. */
export type ImageInfo = Omit<ImageReport, 'event'>;

export interface ImportImageOptions {
  /** Replace an existing destination. */
  force?: boolean;
  /** `os/arch[/variant]` of the manifest to take from a multi-platform index (default: this host's). */
  platform?: string;
  signal?: AbortSignal;
  /** Called at most ten times a second with how far it got (bytes: of the layers as stored). */
  onProgress?: (progress: ImageProgress) => void;
}

export type Compression = 'gzip' | 'zstd' | 'xz';

export interface PackImageOptions {
  /** Replace an existing output file. */
  force?: boolean;
  /** Default `gzip`, as mksquashfs. */
  compression?: Compression;
  signal?: AbortSignal;
  /** Called at most ten times a second with how far it got (bytes: of file data). */
  onProgress?: (progress: ImageProgress) => void;
}

export interface InspectImageOptions {
  signal?: AbortSignal;
}

/** The answer of `sandboxctl-init image …`: its `image` line, or its error. */
export function parseImageAnswer(stdout: string, status: number | null, stderr: string): ImageInfo {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const last = lines.at(-1);
  let report: Report | undefined;
  try {
    report = last === undefined ? undefined : (JSON.parse(last) as Report);
  } catch {
    report = undefined;
  }
  if (report?.event === 'image' && status === 0) {
    const { event: _event, ...info } = report;
    return info;
  }
  if (report?.event === 'error') {
    const { event: _event, ...error } = report;
    throw SandboxError.fromReport(error, status ?? undefined);
  }
  const why = stderr.trim().split('\n').at(-1) ?? '';
  throw new SandboxError('E_INTERNAL', `sandboxctl-init image ended with status ${status} and no answer${why ? `: ${why}` : ''}`);
}

function runImage(args: string[], signal?: AbortSignal, onProgress?: (progress: ImageProgress) => void): Promise<ImageInfo> {
  signal?.throwIfAborted();
  const init = resolveInit();
  if (onProgress) args.push('--progress');
  return new Promise((resolveInfo, reject) => {
    const child = spawn(init, ['image', ...args], { stdio: ['ignore', 'pipe', 'pipe'], signal });
    const out: string[] = [];
    const err: Buffer[] = [];
    let partial = '';
    // Progress lines as they come; the rest is kept for the answer.
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (onProgress && line.startsWith('{"event":"progress"')) {
          const { event: _event, ...progress } = JSON.parse(line) as ProgressReport;
          onProgress(progress);
        } else out.push(`${line}\n`);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.once('error', reject);
    child.once('close', (status) => {
      try {
        resolveInfo(parseImageAnswer(out.join('') + partial, status, Buffer.concat(err).toString('utf8')));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

/** Import `source` into `dest` (a directory, or SquashFS when it ends in `.sqfs`/`.squashfs`). */
export function importImage(source: string, dest: string, options: ImportImageOptions = {}): Promise<ImageInfo> {
  const args = ['import', resolve(source), resolve(dest)];
  if (options.force) args.push('--force');
  if (options.platform !== undefined) args.push('--platform', options.platform);
  return runImage(args, options.signal, options.onProgress);
}

/** Pack the directory `dir` into the SquashFS file `out`. */
export function packImage(dir: string, out: string, options: PackImageOptions = {}): Promise<ImageInfo> {
  const args = ['pack', resolve(dir), resolve(out)];
  if (options.force) args.push('--force');
  if (options.compression !== undefined) args.push('--compression', options.compression);
  return runImage(args, options.signal, options.onProgress);
}

/** What `image` is: its format, size, entries and stored defaults. */
export function inspectImage(image: string, options: InspectImageOptions = {}): Promise<ImageInfo> {
  return runImage(['inspect', resolve(image)], options.signal);
}

/**
 * The defaults an import stored in `image` (its `.sandboxctl/image.json`),
 * read natively (never through a symlink the image ships); `undefined` when
 * it has none. Synchronous: plan resolution uses it when no command is given.
 */
export function imageDefaults(image: string): ImageInfo['meta'] {
  return imageRunDefaults(image).meta;
}

/**
 * What `run` with an image and no command takes from it: the stored
 * defaults and, when their `user` names an account, its ids from the
 * image's own /etc/passwd and /etc/group (`E_IMAGE_USER` when the image
 * does not list it).
 */
export function imageRunDefaults(image: string): Pick<ImageInfo, 'meta' | 'userIds'> {
  const r = spawnSync(resolveInit(), ['image', 'inspect', '--meta-only', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw new SandboxError('E_INIT_MISSING', `cannot run sandboxctl-init: ${r.error.message}`);
  const info = parseImageAnswer(r.stdout, r.status, r.stderr);
  return { meta: info.meta, userIds: info.userIds };
}
