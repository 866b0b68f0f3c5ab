/**
 * Paths in plan ops. Host and sandbox paths in a plan are absolute (the
 * native check refuses others); the layers that let users write relative
 * ones (config files, the CLI's flags) resolve them here first.
 */

import { isAbsolute, resolve } from 'node:path';
import type { Op } from '../plan-types';

/** Op fields holding host or sandbox paths (besides `lowers`). */
export const OP_PATH_FIELDS = ['source', 'target', 'upper', 'work'] as const;

/** `op` with each of its path fields (and `lowers`) mapped by `map(value, where)`; `where` is `field` or `lowers[i]`. */
export function mapOpPaths(op: Op, map: (path: string, where: string) => string): Op {
  const out = { ...op } as Record<string, unknown>;
  for (const field of OP_PATH_FIELDS) {
    if (typeof out[field] === 'string') out[field] = map(out[field], field);
  }
  if (Array.isArray(out.lowers)) out.lowers = (out.lowers as string[]).map((p, i) => map(p, `lowers[${i}]`));
  return out as unknown as Op;
}

/** `op` with its relative path fields (source, target, upper, work, lowers) resolved against `base`. */
export function resolveOpPaths(op: Op, base: string): Op {
  return mapOpPaths(op, (path) => (isAbsolute(path) ? path : resolve(base, path)));
}

/** True when `path` is `dir` or below it. */
export function isWithin(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}
