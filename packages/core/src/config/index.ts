/**
 * sandboxctl.json: a preset, extra ops and policy in a file, found in the
 * current directory or the nearest parent that has one. It is checked against
 * the config JSON Schema (built from the plan schema compiled into the addon,
 * the same as schema/config.schema.json) before anything else, and every
 * error is `E_CONFIG_INVALID` naming the file and the JSON path of the value.
 * Relative paths in ops, `cwd`, `inputs` and `output` resolve against the
 * file's directory.
 *
 * A discovered file must be owned by the caller or root and not writable by
 * group or others: anyone who can write it decides what the sandbox allows.
 * An empty file is no config (discovery looks further up): that is what the
 * agent preset's read-only placeholder leaves behind.
 */

import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { SandboxError } from '../errors';
import { planSchema } from '../native';
import type { Op } from '../plan-types';
import type { PlanLayer } from '../presets/compose';
import { PRESET_NAMES, type PresetName } from '../presets/types';
import { checkSchema, type Schema } from './json-schema';
import { configSchema as buildConfigSchema } from '../../config-schema';

export const CONFIG_FILE = 'sandboxctl.json';

/** Keys of sandboxctl.json that are not plan fields. */
const CONFIG_KEYS = ['$schema', 'preset', 'allowEnv', 'inputs', 'output'] as const;
/** Op fields holding host or sandbox paths, resolved against the file's directory. */
const PATH_FIELDS = ['source', 'target', 'upper', 'work'] as const;

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
}

export interface LoadConfigOptions {
  /** The file was found by {@link findConfig}: check who may write it. */
  discovered?: boolean;
  /** Schema to check against; default: built from the addon's plan schema. */
  schema?: Schema;
}

let cachedSchema: Schema | undefined;

/**
 * The JSON Schema of sandboxctl.json: from the given plan schema, or from the
 * one compiled into the addon (built once).
 */
export function configSchema(planSchemaJson?: string): Schema {
  if (planSchemaJson !== undefined) return buildConfigSchema(JSON.parse(planSchemaJson) as Schema, PRESET_NAMES) as Schema;
  cachedSchema ??= buildConfigSchema(JSON.parse(planSchema()) as Schema, PRESET_NAMES) as Schema;
  return cachedSchema;
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

  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw invalid('', code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot read it (${code ?? String(error)})`);
  }
  if (options.discovered) checkOwner(file, invalid);

  let value: unknown = {};
  if (text.trim() !== '') {
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw invalid('', `not valid JSON: ${jsonError(error, text)}`);
    }
  }
  const problem = checkSchema(value, options.schema ?? configSchema());
  if (problem) {
    throw invalid(problem.path, problem.message, 'see schema/config.schema.json (editors complete it from "$schema")');
  }

  const raw = value as Record<string, unknown>;
  const base = dirname(file);
  const config: SandboxConfig = { file, allowEnv: [...((raw.allowEnv as string[] | undefined) ?? [])], layer: {} };
  if (raw.preset !== undefined) config.preset = raw.preset as PresetName;
  if (raw.inputs !== undefined) config.inputs = (raw.inputs as string[]).map((p) => resolve(base, p));
  if (raw.output !== undefined) config.output = resolve(base, raw.output as string);
  const layer: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(raw)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) layer[key] = item;
  }
  if (Array.isArray(layer.ops)) layer.ops = (layer.ops as Op[]).map((op) => resolveOpPaths(op, base));
  if (typeof layer.cwd === 'string') layer.cwd = resolve(base, layer.cwd);
  config.layer = layer as PlanLayer;
  return config;
}

/** `op` with its relative path fields (source, target, upper, work, lowers) resolved against `base`. */
export function resolveOpPaths(op: Op, base: string): Op {
  const out = { ...op } as Record<string, unknown>;
  for (const field of PATH_FIELDS) {
    if (typeof out[field] === 'string' && !isAbsolute(out[field] as string)) out[field] = resolve(base, out[field] as string);
  }
  if (Array.isArray(out.lowers)) out.lowers = (out.lowers as string[]).map((p) => (isAbsolute(p) ? p : resolve(base, p)));
  return out as unknown as Op;
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

export { checkSchema, KNOWN_KEYWORDS, type Schema, type SchemaProblem } from './json-schema';
