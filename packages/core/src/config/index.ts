/**
 * sandboxctl.json: a preset, extra ops and policy in a file, found in the
 * current directory or the nearest parent that has one. It is checked by the
 * addon against the Rust `ConfigFile` type (crates/sandbox-core/src/config.rs,
 * whose JSON Schema is schema/config.schema.json) before anything else, and
 * every error is `E_CONFIG_INVALID` naming the file and the JSON path of the value.
 * Relative paths in ops, `cwd`, `inputs` and `output` resolve against the
 * file's directory.
 *
 * A discovered file must be owned by the caller or root and not writable by
 * group or others, and it must be trusted (`sandboxctl trust`, see ./trust.ts):
 * anyone who can write a directory the search passes through, a sandboxed
 * program in its project included, would otherwise decide what the next
 * sandbox allows. Its content is hashed and parsed from one read. A file named
 * explicitly (`--config FILE`, the library's `config` option) is trusted.
 * An empty file is no config (discovery looks further up).
 *
 * `~` and `~/…` in path values mean the real home (password database); `~user`
 * is refused: a literal `~` would otherwise become a directory named `~`
 * under the file's directory.
 */

import { readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { SandboxError } from '../errors';
import { loadNative } from '../native';
import type { Op } from '../plan-types';
import type { PlanLayer } from '../plan/compose';
import type { FilesystemRules } from '../plan/fsrules';
import type { LimitsOption } from '../plan/limits';
import { mapOpPaths, resolveOpPaths } from '../plan/paths';
import type { PresetOptions } from '../presets';
import type { PresetName } from '../presets/types';
import { checkTrust, readTrustStore, realHome, shellQuote, trustCommand, type TrustCheck } from './trust';

export const CONFIG_FILE = 'sandboxctl.json';

/** Keys of sandboxctl.json that are not plan fields. */
const CONFIG_KEYS = ['$schema', 'preset', 'allowEnv', 'inputs', 'output', 'filesystem', 'limits'] as const;

export interface SandboxConfig {
  /** Absolute path of the file. */
  file: string;
  preset?: PresetName;
  allowEnv: string[];
  /** Absolute. */
  inputs?: string[];
  /** Absolute. */
  output?: string;
  /** The file's ops and policy, paths absolute. */
  layer: PlanLayer;
  /** Filesystem rules, relative paths made absolute against the file's directory. */
  filesystem?: FilesystemRules;
  /** Resource limits as written. */
  limits?: LimitsOption;
  /**
   * Set when the file was discovered, is not trusted and was loaded anyway
   * (`allowUntrusted`, for `explain`): the error a run would fail with.
   */
  untrusted?: SandboxError;
  /** With `untrusted`: why (never trusted, changed since, or reached through a link not trusted). */
  untrustedReason?: 'untrusted' | 'changed' | 'link';
}

export interface LoadConfigOptions {
  /**
   * The file was found by {@link findConfig}: check who may write it, and
   * refuse it with `E_CONFIG_UNTRUSTED` unless it is trusted.
   */
  discovered?: boolean;
  /** Trust store to check against (default: the caller's, see {@link trustStorePath}). */
  trustStore?: string;
  /** The file's content, already read (`sandboxctl trust` checks and hashes one read). */
  content?: Uint8Array;
  /**
   * Load a discovered file that is not trusted instead of throwing, with the
   * error in `untrusted` (`explain` shows a file before the user trusts it).
   */
  allowUntrusted?: boolean;
}

/** A JSON Schema document. */
export type Schema = Record<string, unknown>;

/** What is wrong with a config file: the JSON path of the value ('' for the whole file) and why. */
export interface SchemaProblem {
  path: string;
  message: string;
}

let cachedSchema: Schema | undefined;

/** The JSON Schema of sandboxctl.json, from the addon (the same as schema/config.schema.json). */
export function configSchema(): Schema {
  cachedSchema ??= JSON.parse(loadNative().configSchema()) as Schema;
  return cachedSchema;
}

/**
 * The first problem of a parsed config file's value, checked natively against
 * the config type, or null.
 */
export function checkConfig(value: unknown): SchemaProblem | null {
  return loadNative().checkConfig(JSON.stringify(value));
}

/** The nearest non-empty sandboxctl.json in `dir` or a parent, or undefined. */
export function findConfig(dir: string): string | undefined {
  for (let at = resolve(dir); ; at = dirname(at)) {
    const file = join(at, CONFIG_FILE);
    try {
      const st = statSync(file);
      if (st.isFile() && readFileSync(file, 'utf8').trim() !== '') return file;
    } catch {
      // not here, or unreadable: look further up
    }
    if (dirname(at) === at) return undefined;
  }
}

/** Reads and checks a config file. Throws `E_CONFIG_INVALID` naming the file and the JSON path. */
export function loadConfig(path: string, options: LoadConfigOptions = {}): SandboxConfig {
  const file = resolve(path);
  const shown = display(file);
  const invalid = (where: string, message: string, hint?: string): SandboxError =>
    new SandboxError('E_CONFIG_INVALID', `${shown}${where ? `: ${where}` : ''}: ${message}`, { path: where || undefined, hint });

  let bytes: Buffer;
  try {
    bytes = options.content === undefined ? readFileSync(file) : Buffer.from(options.content);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw invalid('', code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot read it (${code ?? String(error)})`);
  }
  let base = dirname(file);
  let refused: SandboxError | undefined;
  let refusedReason: SandboxConfig['untrustedReason'];
  if (options.discovered) {
    checkOwner(file, invalid);
    const verdict = checkTrust(file, bytes, readTrustStore(options.trustStore));
    if (!verdict.trusted) {
      if (!options.allowUntrusted) throw untrustedError(file, verdict);
      refused = untrustedError(file, verdict);
      refusedReason = verdict.reason;
    }
    // Relative paths mean what they meant in the file the user trusted.
    base = dirname(realpathSync(file));
  }
  const text = bytes.toString('utf8');

  let value: unknown = {};
  if (text.trim() !== '') {
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw invalid('', `not valid JSON: ${jsonError(error, text)}`);
    }
  }
  const problem = checkConfig(value);
  if (problem) {
    throw invalid(problem.path, problem.message, 'see schema/config.schema.json (editors complete it from "$schema")');
  }

  const raw = value as Record<string, unknown>;
  const home = (where: string, path: string): string => expandHome(path, where, invalid);
  const config: SandboxConfig = { file, allowEnv: [...((raw.allowEnv as string[] | undefined) ?? [])], layer: {} };
  if (raw.preset !== undefined) config.preset = raw.preset as PresetName;
  if (raw.inputs !== undefined) config.inputs = (raw.inputs as string[]).map((p, i) => resolve(base, home(`inputs[${i}]`, p)));
  if (raw.output !== undefined) config.output = resolve(base, home('output', raw.output as string));
  // Filesystem rules: relative to this file's directory; `~` stays for the rules to expand from the real home.
  if (raw.filesystem !== undefined) {
    const rules = raw.filesystem as Record<string, string[]>;
    config.filesystem = Object.fromEntries(Object.entries(rules).map(([k, list]) => [k, list.map((p) => (p === '~' || p.startsWith('~/') ? p : resolve(base, p)))]));
  }
  if (raw.limits !== undefined) config.limits = raw.limits as LimitsOption;
  const layer: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(raw)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) layer[key] = item;
  }
  if (Array.isArray(layer.ops)) layer.ops = (layer.ops as Op[]).map((op, i) => resolveOpPaths(expandOpHome(op, `ops[${i}]`, home), base));
  if (typeof layer.cwd === 'string') layer.cwd = resolve(base, home('cwd', layer.cwd));
  config.layer = layer;
  if (refused) {
    config.untrusted = refused;
    config.untrustedReason = refusedReason;
  }
  return config;
}

/**
 * The preset a run with `config` starts from: `preset` when given, else the
 * config's; the config's `allowEnv`, `inputs` and `output` join its options
 * (those given in `preset` win).
 */
export function presetWithConfig(preset: PresetName | PresetOptions | undefined, config: SandboxConfig): PresetOptions | undefined {
  const options: PresetOptions | undefined = typeof preset === 'string' ? { name: preset } : preset ? { ...preset } : config.preset && { name: config.preset };
  if (options === undefined) return undefined;
  options.allowEnv = [...config.allowEnv, ...(options.allowEnv ?? [])];
  if (options.inputs === undefined && config.inputs !== undefined) options.inputs = config.inputs;
  if (options.output === undefined && config.output !== undefined) options.output = config.output;
  return options;
}

/** The op with `~` in its path fields expanded (see {@link expandHome}). */
function expandOpHome(op: Op, where: string, home: (where: string, path: string) => string): Op {
  return mapOpPaths(op, (path, field) => home(`${where}.${field}`, path));
}

/**
 * `~` and `~/rest` as the real home (from the password database, as the
 * shell's tilde expansion would give it); `~user` is refused.
 */
export function expandHome(
  path: string,
  where: string,
  invalid: (where: string, message: string, hint?: string) => SandboxError = (w, m, h) => new SandboxError('E_CONFIG_INVALID', `${w}: ${m}`, { path: w, hint: h }),
): string {
  if (path === '~') return realHome();
  if (path.startsWith('~/')) return join(realHome(), path.slice(2));
  if (path.startsWith('~')) {
    throw invalid(where, `${JSON.stringify(path)}: only ~ and ~/ (your own home) are expanded`, 'write the absolute path');
  }
  return path;
}

/** `E_CONFIG_UNTRUSTED` for a discovered file, naming it and the command that trusts it. */
export function untrustedError(file: string, verdict: Extract<TrustCheck, { trusted: false }>): SandboxError {
  const shown = display(file);
  const command = `\`${trustCommand(resolve(file))}\``;
  const why =
    verdict.reason === 'changed'
      ? `changed since you trusted it; review it, then run ${command}`
      : verdict.reason === 'link'
        ? `a symlink to ${verdict.entry!.path}, which you trusted but not through this link; to use it from here run ${command}`
        : `not trusted (a sandboxctl.json found by looking up from the current directory applies only once you trust it); review it, then run ${command}`;
  return new SandboxError('E_CONFIG_UNTRUSTED', `${shown}: ${why}`, {
    hint: `\`sandboxctl explain --config ${shellQuote(shown)}\` shows what it would do; --no-config ignores it`,
  });
}

/**
 * The config a run in `dir` uses: the nearest non-empty sandboxctl.json (see
 * {@link findConfig}), loaded as a discovered file (owner and trust checked),
 * or undefined when there is none.
 */
export function discoverConfig(dir: string, options: Omit<LoadConfigOptions, 'discovered'> = {}): SandboxConfig | undefined {
  const file = findConfig(dir);
  return file === undefined ? undefined : loadConfig(file, { ...options, discovered: true });
}

/** What the upward search finds from `dir` and whether a run would accept it. */
export interface ConfigStatus {
  /** The file found, if any. */
  file?: string;
  trusted?: boolean;
  /** Why it would be refused (`E_CONFIG_UNTRUSTED` or `E_CONFIG_INVALID`). */
  error?: SandboxError;
  config?: SandboxConfig;
}

/** The config a run in `dir` would use (see {@link findConfig}), checked as the run checks it. */
export function configStatus(dir: string, options: Omit<LoadConfigOptions, 'discovered'> = {}): ConfigStatus {
  const file = findConfig(dir);
  if (file === undefined) return {};
  try {
    return { file, trusted: true, config: loadConfig(file, { ...options, discovered: true }) };
  } catch (error) {
    if (!(error instanceof SandboxError)) throw error;
    return { file, trusted: error.code !== 'E_CONFIG_UNTRUSTED' && isTrustedNow(file, options.trustStore), error };
  }
}

function isTrustedNow(file: string, store: string | undefined): boolean {
  try {
    return checkTrust(file, readFileSync(file), readTrustStore(store)).trusted;
  } catch {
    return false;
  }
}

/** Throws `E_CONFIG_INVALID` unless `file` is owned by the caller or root and not writable by group or others. */
export function checkConfigOwner(file: string): void {
  checkOwner(file, (_where, message, hint) => new SandboxError('E_CONFIG_INVALID', `${display(resolve(file))}: ${message}`, { hint }));
}

function checkOwner(file: string, invalid: (where: string, message: string, hint?: string) => SandboxError): void {
  const st = statSync(file);
  const uid = process.getuid?.();
  const hint = `it was found by looking up from the current directory; fix its owner or mode, or pass --config FILE or --no-config`;
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) throw invalid('', `owned by uid ${st.uid}, not by you (uid ${uid}) or root`, hint);
  if ((st.mode & 0o022) !== 0) throw invalid('', `writable by ${st.mode & 0o002 ? 'anyone' : 'its group'} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`, hint);
}

// V8's messages differ between versions and not all give a position; the
// line and column come from our own scan of the text.
function jsonError(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const token = /^Unexpected token '?(.)'?/.exec(message);
  const what = token ? `unexpected ${JSON.stringify(token[1])}` : /end of JSON/i.test(message) ? 'unexpected end of the file' : lower(message.split(/[,\n]| in JSON/)[0]!);
  const offset = jsonErrorOffset(text);
  const before = text.slice(0, offset).split('\n');
  return `${what} at line ${before.length}, column ${before[before.length - 1]!.length + 1}`;
}

/** Offset of the first character a strict JSON reader cannot take. */
function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i += 1;
  };
  const fail = (): never => {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- the reader's escape: the bare offset is caught at the end of this function and never leaves it
    throw i;
  };
  const expect = (c: string): void => {
    if (text[i] !== c) fail();
    i += 1;
  };
  const string = (): void => {
    expect('"');
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail();
      i += text[i] === '\\' ? 2 : 1;
    }
    expect('"');
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i += 1;
      ws();
      if (text[i] === '}') {
        i += 1;
        return;
      }
      for (;;) {
        ws();
        string();
        ws();
        expect(':');
        value();
        ws();
        if (text[i] === ',') i += 1;
        else return expect('}');
      }
    }
    if (c === '[') {
      i += 1;
      ws();
      if (text[i] === ']') {
        i += 1;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i += 1;
        else return expect(']');
      }
    }
    if (c === '"') return string();
    const literal = /^(true|false|null|-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?)/.exec(text.slice(i));
    if (!literal) fail();
    i += literal![0].length;
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
  } catch (at) {
    if (typeof at === 'number') return at;
    throw at;
  }
  return text.length;
}

function lower(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function display(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

export * from './trust';
