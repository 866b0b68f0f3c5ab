/**
 * Where a command's plan comes from besides its op flags: a preset
 * (`--preset NAME`) and a config file (`--config FILE`, else the nearest
 * sandboxctl.json when trusted, none with `--no-config`). The plan is the preset's ops,
 * then the config file's, then the flags'; policy from the flags over the
 * config's over the preset's; the environment merged so a later `--setenv`
 * does not undo the preset's removal of credentials (`composePlan`).
 * Relative paths in op flags and `--chdir` resolve against the current
 * directory, as they would for the shell.
 *
 * `run`, `plan` and `explain` extend {@link SourcedPlanCommand}; its flags
 * join the argv-order scanner through `extraFlagArity`.
 */

import { isAbsolute, relative, resolve } from 'node:path';
import { Option } from 'clipanion';
import * as t from 'typanion';
import {
  composePlan,
  findConfig,
  getPreset,
  loadConfig,
  PRESET_NAMES,
  resolveOpPaths,
  resolvePreset,
  SandboxError,
  type OpNote,
  type Plan,
  type PresetOptions,
  type ResolvedPreset,
  type SandboxConfig,
  withOnTaint,
} from '@sandboxctl/core';
import { type FdReader, PlanFlagsCommand, readFdText } from './plan-flags';

/** Arity of the flags this file adds, for the order scanner. */
export const SOURCE_FLAG_ARITY: Readonly<Record<string, number>> = {
  '--preset': 1,
  '--config': 1,
  '--no-config': 0,
  '--allow-env': 1,
  '--allow-home': 1,
  '--allow-socket': 1,
  '--allow-write': 1,
  '--input': 1,
  '--output': 1,
};

/** Where a plan op came from, for error messages. */
interface Origin {
  from: 'preset' | 'config' | 'flags';
  text: string;
  /** Index among the flag ops, for `from: 'flags'`. */
  flagIndex?: number;
}

/** What {@link SourcedPlanCommand.resolvePlan} found. */
export interface ResolvedCommandPlan {
  plan: Plan;
  /** The preset's note for each of its ops; undefined for config and flag ops. */
  notes: (OpNote | undefined)[];
  preset?: ResolvedPreset;
  config?: SandboxConfig;
}

export abstract class SourcedPlanCommand extends PlanFlagsCommand {
  static override extraFlagArity: Readonly<Record<string, number>> = SOURCE_FLAG_ARITY;

  preset = Option.String('--preset', {
    description: `Start from a preset (${PRESET_NAMES.join(', ')}); flags add to it and override it`,
    validator: t.isEnum(PRESET_NAMES),
  });
  config = Option.String('--config', { description: 'Read this config file instead of looking for sandboxctl.json' });
  noConfig = Option.Boolean('--no-config', false, { description: 'Ignore sandboxctl.json files' });
  allowEnv = Option.Array('--allow-env', { description: 'Keep variable NAME whatever it holds (agent; a trailing * is a prefix)' });
  allowHome = Option.Array('--allow-home', { description: 'Show one more path of the home, read-only (agent; relative to the home)' });
  allowSocket = Option.Array('--allow-socket', { description: 'Leave the host socket at PATH reachable (agent, strict)' });
  allowWrite = Option.Array('--allow-write', { description: 'Let the program write PATH although the preset protects it, e.g. .git/hooks (agent)' });
  input = Option.Array('--input', { description: 'A path the build preset may read (default: the current directory)' });
  output = Option.String('--output', { description: 'The directory the build preset may write (default: ./out)' });

  private origins: Origin[] = [];

  /**
   * The whole plan (see the module comment). Throws `E_USAGE`,
   * `E_CONFIG_INVALID`, `E_CONFIG_UNTRUSTED` (unless `allowUntrusted`: the
   * config then carries the error), `E_PLAN_INVALID`.
   */
  resolvePlan(readFd: FdReader = readFdText, { allowUntrusted = false } = {}): ResolvedCommandPlan {
    const cwd = process.cwd();
    if (this.config !== undefined && this.noConfig) throw usage('--config and --no-config exclude each other', 'keep one');
    const config = this.loadConfigFile(cwd, allowUntrusted);
    const presetName = this.preset ?? config?.preset;
    this.checkPresetParams(presetName);

    const builder = this.planBuilder(readFd);
    if (this.program === undefined) builder.argv([]);
    const flags = builder.build();
    flags.ops = (flags.ops ?? []).map((op) => resolveOpPaths(op, cwd));
    if (typeof flags.cwd === 'string') flags.cwd = resolve(cwd, flags.cwd);
    // bubblewrap's --unshare-net/--unshare-all say "no network"; --share-net wins.
    if (!this.shareNet && (this.unshareNet || this.unshareAll)) flags.network = 'none';

    let preset: ResolvedPreset | undefined;
    if (presetName !== undefined) {
      const options: PresetOptions = {
        name: presetName,
        cwd,
        allowEnv: [...(config?.allowEnv ?? []), ...(this.allowEnv ?? [])],
        allowHome: this.allowHome ?? [],
        allowSocket: (this.allowSocket ?? []).map((p) => resolve(cwd, p)),
      };
      const inputs = this.input?.map((p) => resolve(cwd, p)) ?? config?.inputs;
      const output = this.output !== undefined ? resolve(cwd, this.output) : config?.output;
      if (inputs !== undefined) options.inputs = inputs;
      if (output !== undefined) options.output = output;
      if (this.allowWrite !== undefined) options.allowWrite = this.allowWrite.map((p) => resolve(cwd, p));
      // The network the plan ends with decides whether the preset keeps DNS.
      const network = flags.network ?? config?.layer.network;
      if (network !== undefined) options.network = network;
      preset = resolvePreset(options);
    }

    const plan = composePlan(flags.argv, preset && { ops: preset.ops, ...preset.policy }, config?.layer, flags);
    if (this.onTaint !== undefined) plan.audit = withOnTaint(plan.audit, this.onTaint, '--on-taint');
    const notes: (OpNote | undefined)[] = [];
    this.origins = [];
    if (preset) {
      preset.notes.forEach((note) => {
        notes.push(note);
        this.origins.push({ from: 'preset', text: `preset ${preset.name}: ${note.why}` });
      });
    }
    (config?.layer.ops ?? []).forEach((_, i) => {
      notes.push(undefined);
      this.origins.push({ from: 'config', text: `${display(config!.file)} ops[${i}]` });
    });
    (flags.ops ?? []).forEach((_, i) => {
      notes.push(undefined);
      this.origins.push({ from: 'flags', text: '', flagIndex: i });
    });
    const out: ResolvedCommandPlan = { plan, notes };
    if (preset) out.preset = preset;
    if (config) out.config = config;
    return out;
  }

  /**
   * Names where the op behind a plan error came from: the preset, the config
   * file (whose plan errors become `E_CONFIG_INVALID`) or the flag as typed.
   */
  override explain(error: unknown): unknown {
    if (!(error instanceof SandboxError) || error.opIndex === undefined) return error;
    const origin = this.origins[error.opIndex];
    if (origin === undefined) return error;
    let message = `${error.message} (from ${origin.text})`;
    if (origin.from === 'flags') {
      const shifted = new SandboxError(error.code, error.message, { opIndex: origin.flagIndex });
      const named = super.explain(shifted);
      message = named instanceof Error ? named.message : error.message;
    }
    const code = origin.from === 'config' && error.code === 'E_PLAN_INVALID' ? 'E_CONFIG_INVALID' : error.code;
    return new SandboxError(code, message, {
      opIndex: error.opIndex,
      path: error.path,
      hint: error.hint,
      exitStatus: error.exitStatus,
      cause: error,
    });
  }

  // A file named with --config is trusted as given; one found by looking up
  // must be trusted (`sandboxctl trust`).
  private loadConfigFile(cwd: string, allowUntrusted: boolean): SandboxConfig | undefined {
    if (this.noConfig) return undefined;
    if (this.config !== undefined) return loadConfig(resolve(cwd, this.config));
    const found = findConfig(cwd);
    return found === undefined ? undefined : loadConfig(found, { discovered: true, allowUntrusted });
  }

  private checkPresetParams(presetName: string | undefined): void {
    const given = [
      this.allowEnv ? ['--allow-env', 'allowEnv'] : undefined,
      this.allowHome ? ['--allow-home', 'allowHome'] : undefined,
      this.allowSocket ? ['--allow-socket', 'allowSocket'] : undefined,
      this.allowWrite ? ['--allow-write', 'allowWrite'] : undefined,
      this.input ? ['--input', 'inputs'] : undefined,
      this.output !== undefined ? ['--output', 'output'] : undefined,
    ].filter((g): g is string[] => g !== undefined);
    if (given.length === 0) return;
    if (presetName === undefined) {
      throw usage(`${given.map((g) => g[0]).join(', ')} only apply to a preset`, 'add --preset NAME (see `sandboxctl presets`)');
    }
    const params = getPreset(presetName).params as readonly string[];
    const stray = given.filter((g) => !params.includes(g[1]!)).map((g) => g[0]);
    if (stray.length > 0) {
      throw usage(`preset ${presetName} takes no ${stray.join(' or ')}`, `see \`sandboxctl presets show ${presetName}\``);
    }
  }
}

function usage(message: string, hint?: string): SandboxError {
  return new SandboxError('E_USAGE', message, { hint });
}

function display(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}
