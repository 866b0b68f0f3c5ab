/**
 * Presets: named, documented starting points for a plan. Each is plain data
 * ({@link PresetDefinition}) that {@link resolvePreset} turns into ops and
 * policy for the current host, home and directory. Ops given by the caller
 * come after the preset's, and the caller's policy overrides the preset's.
 */

import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { SandboxError } from '../errors';
import { passwdHome } from '../passwd-home';
import { agent } from './agent';
import { build } from './build';
import { realHost } from './host';
import { resolveWith, type PresetContext, type ResolvedPreset } from './resolve';
import { roHost } from './ro-host';
import { strict } from './strict';
import { PRESET_NAMES, type PresetDefinition, type PresetName, type PresetOptions } from './types';

export { auditRoots, auditSpec, ON_TAINT_MODES, withOnTaint } from './audit';
export { credentialNames, disallowedNames, ENV_ALLOW, looksLikeCredential } from './credentials';
export { HOME_CACHES, HOME_SECRETS, HOME_TOOLCHAINS } from './home';
export { IMAGE_ENV_FILE, IMAGE_HOST_FILES, IMAGE_ITEMS, RUNNING_VAR, type ImageItem, type ImagePresetOptions } from './image';
export { sanitizeGitConfig, sanitizeNpmrc } from './home-files';
export { fakeHost, realHost, type DirEntry, type EntryType, type HostView, type PathKind } from './host';
export { EXAMPLE_CWD, EXAMPLE_ENV, EXAMPLE_HOME, EXAMPLE_HOST, exampleOptions } from './example';
export { isWithin } from '../plan/paths';
export { type PresetContext, type PresetPlanPolicy, type ResolvedPreset } from './resolve';
export { PRESET_NAMES, type OpNote, type OpRole, type PresetDefinition, type PresetOptions, type PresetName, type PresetParam, type PresetStep, type ProtectedPath } from './types';

/** Every preset, by name. */
export const PRESETS: Readonly<Record<PresetName, PresetDefinition>> = {
  strict,
  'ro-host': roHost,
  agent,
  build,
};

export function isPresetName(name: unknown): name is PresetName {
  return typeof name === 'string' && (PRESET_NAMES as readonly string[]).includes(name);
}

/** The preset's data; throws `E_PLAN_INVALID` naming the presets for an unknown name. */
export function getPreset(name: string): PresetDefinition {
  if (!isPresetName(name)) {
    throw new SandboxError('E_PLAN_INVALID', `unknown preset ${JSON.stringify(name)}`, {
      path: 'preset',
      hint: `the presets are ${PRESET_NAMES.join(', ')}`,
    });
  }
  return PRESETS[name];
}

/** The preset's ops and policy for this host and directory. */
export function resolvePreset(preset: PresetName | PresetOptions): ResolvedPreset {
  const options: PresetOptions = typeof preset === 'string' ? { name: preset } : preset;
  const definition = getPreset(options.name);
  const env = options.env ?? process.env;
  const cwd = resolve(options.cwd ?? process.cwd());
  const uid = options.uid ?? process.getuid?.();
  const host = options.host ?? realHost;
  // A home given as a symlink is the directory it leads to (the one to hide).
  const givenHome = options.home === undefined ? undefined : resolve(options.home);
  const ctx: PresetContext = {
    cwd,
    home: givenHome === undefined ? realHome(env) : (host.realpath(givenHome) ?? givenHome),
    env,
    host,
    allowEnv: options.allowEnv ?? [],
    allowHome: options.allowHome ?? [],
    allowSocket: (options.allowSocket ?? []).map((p) => resolve(cwd, p)),
  };
  if (uid !== undefined) ctx.uid = uid;
  if (options.network !== undefined) ctx.network = options.network;
  const runtimeDir = env.XDG_RUNTIME_DIR || (uid === undefined ? undefined : `/run/user/${uid}`);
  if (runtimeDir !== undefined && isAbsolute(runtimeDir)) ctx.runtimeDir = runtimeDir;
  if (options.inputs !== undefined) ctx.inputs = options.inputs.map((p) => resolve(cwd, p));
  if (options.output !== undefined) ctx.output = resolve(cwd, options.output);
  if (options.allowWrite !== undefined) ctx.allowWrite = options.allowWrite.map((p) => resolve(cwd, p));
  return resolveWith(definition, ctx);
}

/** The password database's home; `$HOME` or os.homedir() only when the database has none. */
function realHome(env: Readonly<Record<string, string | undefined>>): string {
  const home = passwdHome();
  if (home !== undefined) return home;
  const fallback = env.HOME || homedir();
  try {
    return realpathSync(fallback);
  } catch {
    return fallback;
  }
}
