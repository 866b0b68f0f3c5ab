/** The human output of the `image` commands (their `--json` prints the {@link ImageInfo} as is). */

import { escapeControl, type ImageInfo, type ImageProgress } from '@sandboxctl/core';

function size(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u += 1;
  }
  return u === 0 ? `${n} B` : `${n.toFixed(1)} ${units[u]}`;
}

/** `info` in lines for a terminal. */
export function formatImage(info: ImageInfo): string {
  const lines: string[] = [];
  const kind = info.format === 'squashfs' ? `SquashFS (${info.compression ?? 'unknown compression'}), ${size(info.bytes)}` : `directory, ${size(info.bytes)} of files`;
  lines.push(`${info.path}: ${kind}, ${info.files} entries`);
  const imported = info.imported;
  if (imported) {
    lines.push(
      `imported: ${imported.layers} layer${imported.layers === 1 ? '' : 's'}, ${imported.files} files, ${imported.dirs} directories, ${imported.symlinks} symlinks, ${imported.hardlinks} hard links, ${imported.whiteouts} whiteouts`,
    );
    if (imported.devicesSkipped > 0) lines.push(`note: ${imported.devicesSkipped} device node${imported.devicesSkipped === 1 ? '' : 's'} not made (an image's /dev is the host's)`);
  }
  const packed = info.packed;
  if (packed) {
    lines.push(`packed: ${packed.files} files, ${packed.dirs} directories, ${packed.symlinks} symlinks, ${packed.others} others, ${size(packed.bytes)} of data`);
    if (packed.hardlinksSplit > 0) lines.push(`note: ${packed.hardlinksSplit} hard link${packed.hardlinksSplit === 1 ? '' : 's'} stored as separate files sharing their data (the SquashFS writer has no hard links)`);
    if (packed.xattrsDropped > 0) lines.push(`note: the extended attributes of ${packed.xattrsDropped} entr${packed.xattrsDropped === 1 ? 'y were' : 'ies were'} not stored (the SquashFS writer has no xattrs)`);
    if (packed.mountsSkipped > 0) lines.push(`note: ${packed.mountsSkipped} mount point${packed.mountsSkipped === 1 ? '' : 's'} kept as empty directories (one filesystem)`);
  }
  const meta = info.meta;
  if (meta) {
    lines.push(`defaults (${meta.source}${meta.configDigest ? ` ${meta.configDigest}` : ''}):`);
    if (meta.entrypoint) lines.push(`  entrypoint: ${JSON.stringify(meta.entrypoint)}`);
    if (meta.cmd) lines.push(`  cmd: ${JSON.stringify(meta.cmd)}`);
    if (meta.workingDir) lines.push(`  workingDir: ${meta.workingDir}`);
    if (meta.user) lines.push(`  user: ${meta.user} (not applied: the sandbox runs as you)`);
    for (const e of meta.env ?? []) lines.push(`  env: ${e}`);
  }
  return `${lines.map(escapeControl).join('\n')}\n`;
}

/**
 * Progress on a terminal: one line redrawn in place (files, bytes, rate,
 * time left), wiped when done. `undefined` (no progress asked of the native
 * side) when `stream` is not a terminal or the output is JSON.
 */
export function progressLine(stream: NodeJS.WritableStream, json: boolean, now: () => number = Date.now): { onProgress?: (p: ImageProgress) => void; done: () => void } {
  if (json || !(stream as Partial<NodeJS.WriteStream>).isTTY) return { done: () => {} };
  const start = now();
  let drawn = false;
  return {
    onProgress: (p) => {
      const seconds = Math.max((now() - start) / 1000, 0.001);
      const rate = p.bytes / seconds;
      const total = p.totalBytes ?? undefined;
      const parts = [`${p.phase}: ${p.files}${p.totalFiles == null ? '' : `/${p.totalFiles}`} files`, `${size(p.bytes)}${total === undefined ? '' : ` of ${size(total)}`}`, `${size(rate)}/s`];
      if (total !== undefined && rate > 0 && p.bytes < total) parts.push(`${Math.ceil((total - p.bytes) / rate)} s left`);
      stream.write(`\r${parts.join(', ')}\x1b[K`);
      drawn = true;
    },
    done: () => {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}
