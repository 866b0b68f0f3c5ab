/**
 * Image archives written by hand for the import suites: a tar writer that
 * takes any name (absolute, `..`: tar tools refuse to write those, the
 * attacks need them), and OCI and docker save archives around its layers,
 * with real digests. Real ones come from podman (`podmanArchives`).
 */
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { tempDir } from '../helpers';
import { busyboxRoot } from './fixtures';

export interface Entry {
  name: string;
  /** '0' file, '1' hard link, '2' symlink, '3' char device, '5' directory, '6' fifo. */
  type?: '0' | '1' | '2' | '3' | '5' | '6';
  data?: string | Buffer;
  link?: string;
  mode?: number;
  /** PAX extended header records (`path`, `linkpath`…) written before the entry. */
  pax?: Record<string, string>;
}

export const file = (name: string, data: string | Buffer = '', mode = 0o644): Entry => ({ name, type: '0', data, mode });
export const dir = (name: string, mode = 0o755): Entry => ({ name, type: '5', mode });
export const symlink = (name: string, link: string): Entry => ({ name, type: '2', link, mode: 0o777 });
export const hardlink = (name: string, link: string): Entry => ({ name, type: '1', link, mode: 0o644 });

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

/** One ustar header (names up to 100 bytes, else a GNU long-name entry first). */
function header(e: Entry, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(e.name.slice(0, 100), 0, 'latin1');
  h.write(octal(e.mode ?? 0o644, 8), 100, 'latin1');
  h.write(octal(0, 8), 108, 'latin1');
  h.write(octal(0, 8), 116, 'latin1');
  h.write(octal(size, 12), 124, 'latin1');
  h.write(octal(1_700_000_000, 12), 136, 'latin1');
  h.write(e.type ?? '0', 156, 'latin1');
  h.write((e.link ?? '').slice(0, 100), 157, 'latin1');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

function pad(b: Buffer): Buffer {
  const rest = b.length % 512;
  return rest === 0 ? b : Buffer.concat([b, Buffer.alloc(512 - rest)]);
}

/** A tar stream of the entries, in order. */
export function tar(entries: Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    if (e.pax !== undefined) {
      const records = Object.entries(e.pax).map(([k, v]) => {
        const body = ` ${k}=${v}\n`;
        let n = body.length + 1;
        while (`${n}${body}`.length !== n) n = `${n}${body}`.length;
        return `${n}${body}`;
      });
      const data = Buffer.from(records.join(''));
      parts.push(header({ name: 'PaxHeader', type: 'x' as Entry['type'] }, data.length), pad(data));
    }
    if (Buffer.byteLength(e.name) > 100) {
      const long = Buffer.from(`${e.name}\0`);
      parts.push(header({ name: '././@LongLink', type: 'L' as Entry['type'] }, long.length), pad(long));
    }
    const data = Buffer.from(e.data ?? '');
    parts.push(header(e, data.length), pad(data));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export interface ImageConfig {
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  User?: string;
}

export type Compression = 'gzip' | 'zstd' | 'none';

function compress(layer: Buffer, how: Compression): Buffer {
  if (how === 'gzip') return gzipSync(layer);
  if (how === 'zstd') return execFileSync('zstd', ['-q', '-c'], { input: layer, maxBuffer: 1 << 30 });
  return layer;
}

const MEDIA: Record<Compression, string> = {
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  none: 'application/vnd.oci.image.layer.v1.tar',
};

export interface Blob {
  name: string;
  data: Buffer;
}

/**
 * The members of an OCI layout: `oci-layout`, `index.json` and the blobs.
 * `lie` replaces the bytes of layer N after its digest was taken.
 */
export function ociMembers(layers: Buffer[], config: ImageConfig = {}, opts: { compression?: Compression[]; lie?: number } = {}): Blob[] {
  const blobs: Blob[] = [];
  const descs = layers.map((l, i) => {
    const how = opts.compression?.[i] ?? 'gzip';
    const data = compress(l, how);
    const digest = sha(data);
    blobs.push({ name: `blobs/sha256/${digest}`, data: opts.lie === i ? compress(tar([file('lie', 'not what the digest says')]), how) : data });
    return { mediaType: MEDIA[how], digest: `sha256:${digest}`, size: data.length };
  });
  const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config, rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${sha(l)}`) } }));
  blobs.push({ name: `blobs/sha256/${sha(cfg)}`, data: cfg });
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha(cfg)}`, size: cfg.length }, layers: descs }),
  );
  blobs.push({ name: `blobs/sha256/${sha(manifest)}`, data: manifest });
  const index = { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${sha(manifest)}`, size: manifest.length }] };
  blobs.push({ name: 'oci-layout', data: Buffer.from('{"imageLayoutVersion": "1.0.0"}') });
  blobs.push({ name: 'index.json', data: Buffer.from(JSON.stringify(index)) });
  return blobs;
}

/** An OCI archive (a tar of the layout) at `path`. */
export function ociArchive(path: string, layers: Buffer[], config: ImageConfig = {}, opts: { compression?: Compression[]; lie?: number } = {}): string {
  const members = ociMembers(layers, config, opts);
  writeFileSync(path, tar([dir('blobs'), dir('blobs/sha256'), ...members.map((m) => file(m.name, m.data))]));
  return path;
}

/** A `docker save` archive at `path` (uncompressed layers, `ID/layer.tar`). */
export function dockerArchive(path: string, layers: Buffer[], config: ImageConfig = {}): string {
  const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config, rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${sha(l)}`) } }));
  const names = layers.map((l) => `${sha(l)}/layer.tar`);
  const manifest = [{ Config: `${sha(cfg)}.json`, RepoTags: ['test:1'], Layers: names }];
  writeFileSync(
    path,
    tar([
      ...layers.flatMap((l, i) => [dir(sha(l)), file(names[i]!, l)]),
      file(`${sha(cfg)}.json`, cfg),
      file('manifest.json', JSON.stringify(manifest)),
    ]),
  );
  return path;
}

/** The busybox root as a tar stream (what `podman import` takes). */
export function busyboxLayer(): Buffer {
  const base = tempDir('sbx-bblayer-');
  const root = join(base, 'root');
  busyboxRoot(root);
  const out = execFileSync('tar', ['-C', root, '--owner=0', '--group=0', '--numeric-owner', '-cf', '-', '.'], { maxBuffer: 1 << 30 });
  execFileSync('rm', ['-rf', base]);
  return out;
}

export interface PodmanArchives {
  oci: string;
  docker: string;
}

/**
 * Real archives: the busybox root `podman import`ed with a config, then
 * `podman save`d in both formats podman writes. Fails with what to install
 * when podman is missing or cannot run as this user.
 */
export function podmanArchives(dirPath: string): PodmanArchives {
  const podman = (args: string[]): string => {
    const r = spawnSync('podman', ['--events-backend=file', ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
    if (r.error) throw new Error('the import suite needs podman (apt-get install podman uidmap), as .ci/run installs it');
    if (r.status !== 0) throw new Error(`podman ${args.join(' ')} failed (status ${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  const rootfs = join(dirPath, 'rootfs.tar');
  writeFileSync(rootfs, busyboxLayer());
  const tag = `localhost/sandboxctl-test-${process.getuid!()}-${process.pid}:1`;
  podman([
    'import',
    '--change', 'ENV GREETING=from-the-config',
    '--change', 'WORKDIR /etc',
    '--change', 'ENTRYPOINT ["/bin/sh", "-c"]',
    '--change', 'CMD ["echo cmd ran in $(pwd)"]',
    rootfs,
    tag,
  ]);
  const oci = join(dirPath, 'podman-oci.tar');
  const docker = join(dirPath, 'podman-docker.tar');
  try {
    podman(['save', '--format', 'oci-archive', '-o', oci, tag]);
    podman(['save', '--format', 'docker-archive', '-o', docker, tag]);
  } finally {
    spawnSync('podman', ['--events-backend=file', 'rmi', '-f', tag]);
  }
  return { oci, docker };
}
