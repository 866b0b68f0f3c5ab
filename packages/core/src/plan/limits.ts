/**
 * Resource limits as people write them (`2G`, `1.5`, `10m`,
 * `nofile=1024:4096`) turned into the plan's `limits` (issue 14). Every bad
 * value is `E_PLAN_INVALID` naming the option (the CLI flag or config key)
 * and the value, before anything starts.
 */

import { SandboxError } from '../errors';
import type { Limits, Rlimit, RlimitName } from '../plan-types';

/** The rlimit names, as prlimit(1) spells them (`--rlimit NAME=SOFT[:HARD]`). */
export const RLIMIT_NAMES: readonly RlimitName[] = ['as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'];

/** `limits` as the library and sandboxctl.json take it. */
export interface LimitsOption {
  /** Memory of the whole sandbox: bytes, or `512M`, `2G` (K, M, G, T: powers of 1024). */
  memory?: number | string;
  /** Processes and threads of the whole sandbox, its pid 1 included (at least 2). */
  pids?: number;
  /** CPUs' worth of time per wall time, e.g. 1.5. */
  cpus?: number | string;
  /**
   * Wall time: milliseconds, or `90s`, `10m`, `1h`, `500ms`; then the program
   * gets SIGTERM, the sandbox is killed `timeoutGrace` later, and the result
   * says `limit: 'timeout'`.
   */
  timeout?: number | string;
  /** Per resource: `SOFT[:HARD]` (numbers or `unlimited`; one value sets both), or a number for both. */
  rlimits?: Partial<Record<RlimitName, string | number>>;
  /** After the timeout's SIGTERM, the time the program has to clean up before SIGKILL (as `timeout`; `0`: at once). Default 5s. */
  timeoutGrace?: number | string;
}

/** How errors name a limit: its flag (`--memory`) or config path (`limits.memory`). */
export type LimitName = (key: keyof LimitsOption | 'rlimit') => string;

const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
const TIME: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function bad(name: string, value: unknown, why: string, hint?: string): SandboxError {
  return new SandboxError('E_PLAN_INVALID', `${name} ${JSON.stringify(value)}: ${why}`, { path: 'limits', hint });
}

/** `2G`, `512m`, `1048576` → bytes. */
export function parseSize(name: string, value: number | string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(String(value).trim());
  const n = m ? Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!) : NaN;
  if (!Number.isSafeInteger(n) || n < 2 ** 20) throw bad(name, value, 'not a size of at least 1M', 'e.g. 512M or 2G');
  return n;
}

/** `10m`, `90s`, `1h`, `500ms`, a bare number of seconds (CLI) → milliseconds. */
export function parseDuration(name: string, value: number | string, bareUnit: 's' | 'ms'): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)?$/.exec(String(value).trim());
  const ms = m ? Math.round(Number(m[1]) * TIME[m[2] ?? bareUnit]!) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 1 || ms > 2 ** 40) throw bad(name, value, 'not a duration', 'e.g. 90s, 10m or 1h');
  return ms;
}

/** `1.5` → 1500 thousandths of a CPU. */
export function parseCpus(name: string, value: number | string): number {
  const n = typeof value === 'number' ? value : /^[0-9]+(\.[0-9]+)?$/.test(value.trim()) ? Number(value) : NaN;
  const millis = Math.round(n * 1000);
  if (!Number.isFinite(n) || millis < 10 || millis > 1_000_000) throw bad(name, value, 'not a number of CPUs between 0.01 and 1000', 'e.g. 1.5');
  return millis;
}

function rlimitValue(name: string, text: string, whole: unknown): number | undefined {
  if (/^(unlimited|infinity|inf)$/i.test(text)) return undefined;
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(Number(text))) throw bad(name, whole, `${JSON.stringify(text)} is not a number or "unlimited"`, 'e.g. nofile=1024:4096');
  return Number(text);
}

/** `nofile`, `1024:4096` → one plan rlimit. */
export function parseRlimit(name: string, resource: string, value: string | number): Rlimit {
  const res = resource.toLowerCase().replace(/^rlimit_/, '') as RlimitName;
  if (!RLIMIT_NAMES.includes(res)) throw bad(name, resource, 'unknown resource', `the resources are ${RLIMIT_NAMES.join(', ')}`);
  const [softText, hardText, extra] = String(value).split(':');
  if (extra !== undefined || softText === undefined || softText === '') throw bad(name, `${resource}=${value}`, 'not SOFT[:HARD]', 'e.g. nofile=1024:4096');
  const soft = rlimitValue(name, softText, `${resource}=${value}`);
  const hard = hardText === undefined ? soft : rlimitValue(name, hardText, `${resource}=${value}`);
  if ((soft ?? Infinity) > (hard ?? Infinity)) throw bad(name, `${resource}=${value}`, 'the soft limit is above the hard limit');
  const out: Rlimit = { name: res };
  if (soft !== undefined) out.soft = soft;
  if (hard !== undefined) out.hard = hard;
  return out;
}

/** `NAME=SOFT[:HARD]` as `--rlimit` takes it. */
export function parseRlimitFlag(name: string, text: string): Rlimit {
  const eq = text.indexOf('=');
  if (eq <= 0) throw bad(name, text, 'not NAME=SOFT[:HARD]', `e.g. nofile=1024:4096; the resources are ${RLIMIT_NAMES.join(', ')}`);
  return parseRlimit(name, text.slice(0, eq), text.slice(eq + 1));
}

/** The plan's `limits` from the option; `name` says how errors name each key. */
export function planLimits(option: LimitsOption, name: LimitName = (k) => `limits.${k === 'rlimit' ? 'rlimits' : k}`): Limits {
  if (typeof option !== 'object' || option === null) throw bad('limits', option, 'must be an object { memory, pids, cpus, timeout, timeoutGrace, rlimits }');
  const known = ['memory', 'pids', 'cpus', 'timeout', 'rlimits', 'timeoutGrace'];
  for (const key of Object.keys(option)) if (!known.includes(key)) throw bad(`limits.${key}`, (option as Record<string, unknown>)[key], 'unknown limit', `the limits are ${known.join(', ')}`);
  const out: Limits = {};
  if (option.memory !== undefined) out.memory = parseSize(name('memory'), option.memory);
  if (option.pids !== undefined) {
    const p = typeof option.pids === 'string' && /^[0-9]+$/.test(option.pids) ? Number(option.pids) : option.pids;
    if (!Number.isInteger(p) || p < 2 || p > 4_194_304) throw bad(name('pids'), option.pids, 'not a whole number of processes of at least 2 (pid 1 and the program)');
    out.pids = p;
  }
  if (option.cpus !== undefined) out.cpuMillis = parseCpus(name('cpus'), option.cpus);
  if (option.timeout !== undefined) out.timeoutMs = parseDuration(name('timeout'), option.timeout, typeof option.timeout === 'number' ? 'ms' : 's');
  if (option.timeoutGrace !== undefined) {
    const g = option.timeoutGrace;
    out.timeoutGraceMs = g === 0 || (typeof g === 'string' && /^0+(\.0*)?\s*(ms|s|m|h|d)?$/.test(g.trim())) ? 0 : parseDuration(name('timeoutGrace'), g, typeof g === 'number' ? 'ms' : 's');
  }
  if (option.rlimits !== undefined) {
    if (typeof option.rlimits !== 'object' || option.rlimits === null) throw bad(name('rlimit'), option.rlimits, 'must map resource names to SOFT[:HARD]');
    out.rlimits = Object.entries(option.rlimits).map(([res, value]) => parseRlimit(name('rlimit'), res, value));
  }
  return out;
}
