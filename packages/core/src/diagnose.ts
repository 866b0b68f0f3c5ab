/**
 * Facts for `sandboxctl doctor`: which addon and launcher this install uses,
 * their versions, and what the kernel supports. Gathers, never prints; every
 * finding that stops sandboxes from working becomes a problem with a hint.
 */

import { execFileSync } from 'node:child_process';
import { accessSync, constants as fsConstants, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { initCandidates, initPath, ociCandidates, ociPath } from '@sandboxctl/native/init-path';
import { configStatus } from './config';
import { isSandboxError } from './errors';
import { missingNativeHint } from './install-hint';
import { loadNative, type Probe } from './native';

export interface Problem {
  /** The error code a run would fail with. */
  code: string;
  message: string;
  hint?: string;
}

export interface Diagnosis {
  /** No problem found. */
  ok: boolean;
  node: { version: string; napi: string | undefined };
  core: { version: string };
  addon: {
    loaded: boolean;
    /** The `.node` file that was loaded, when known. */
    path?: string;
    /** Version of the native crates, from the addon. */
    version?: string;
    error?: string;
  };
  init: Executable;
  /** The OCI runtime `sandboxctl-oci` (`sandboxctl oci path`); its `version` is the first line of `--version`. */
  oci: Executable;
  kernel?: Probe;
  /** How host pathname unix sockets are kept out of reach under `agent` (see {@link socketReach}). */
  sockets?: SocketReach;
  /** The sandboxctl.json a run here would use (none when `path` is absent). */
  /** The sandboxctl.json a run here would find; `trusted` says whether a run accepts it (`sandboxctl trust`). */
  config: { path?: string; preset?: string; trusted?: boolean; error?: string; code?: string };
  problems: Problem[];
}

/** A native executable of this install: `sandboxctl-init` or `sandboxctl-oci`. */
export interface Executable {
  /** Absolute path, from its variable (`$SANDBOXCTL_INIT`, `$SANDBOXCTL_OCI`), a source build or the platform package. */
  path: string;
  fromEnv: boolean;
  /** Where it was found: the variable's name, `source build` or the platform package's name. */
  from?: string;
  exists: boolean;
  executable: boolean;
  /** The first line of its `--version`. */
  version?: string;
}

const INIT_VERSION_TIMEOUT_MS = 5000;

/** Landlock's ABI with LANDLOCK_ACCESS_FS_RESOLVE_UNIX (connect to pathname unix sockets by path). */
export const LANDLOCK_UNIX_ABI = 9;

export interface SocketReach {
  /** The kernel's Landlock can restrict connecting to pathname unix sockets (ABI 9+). */
  landlockCanRestrict: boolean;
  /** What keeps them out of reach now: the plan's mounts (private /run, masks). */
  inForce: 'mount-masks';
  /** In words, for `doctor`. */
  text: string;
}

/**
 * Whether Landlock could restrict pathname unix sockets on this kernel
 * (probed: the ABI landlock_create_ruleset reports). sandboxctl does not use
 * that right yet, so the agent preset's private /run and masked sockets are
 * what is in force either way; this says so instead of implying more.
 */
export function socketReach(landlockAbi: number): SocketReach {
  const can = landlockAbi >= LANDLOCK_UNIX_ABI;
  return {
    landlockCanRestrict: can,
    inForce: 'mount-masks',
    text: can
      ? `masked by the plan (private /run, sockets found masked); Landlock ABI ${landlockAbi} could restrict them too, not used yet`
      : `masked by the plan (private /run, sockets found masked); Landlock ${landlockAbi > 0 ? `ABI ${landlockAbi}` : 'absent'} cannot restrict them (needs ABI ${LANDLOCK_UNIX_ABI})`,
  };
}

export function diagnose(): Diagnosis {
  const problems: Problem[] = [];
  const diagnosis: Diagnosis = {
    ok: false,
    node: { version: process.version, napi: process.versions.napi },
    // By name, not __dirname: the CLI's one-file bundle holds this module too.
    core: { version: packageVersion(require.resolve('@sandboxctl/core/package.json')) },
    addon: { loaded: false },
    init: inspectExecutable(problems, { name: 'sandboxctl-init', env: 'SANDBOXCTL_INIT', code: 'E_INIT_MISSING', path: initPath(), candidates: initCandidates() }),
    oci: inspectExecutable(problems, { name: 'sandboxctl-oci', env: 'SANDBOXCTL_OCI', code: 'E_OCI_MISSING', path: ociPath(), candidates: ociCandidates() }),
    config: {},
    problems,
  };

  try {
    const native = loadNative();
    diagnosis.addon = { loaded: true, version: native.version() };
    const path = addonPath();
    if (path !== undefined) diagnosis.addon.path = path;
    diagnosis.kernel = native.probe();
    diagnosis.sockets = socketReach(diagnosis.kernel.landlockAbi);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    diagnosis.addon.error = message;
    problems.push({
      code: isSandboxError(error) ? error.code : 'E_NATIVE_MISSING',
      message,
      hint: isSandboxError(error) ? error.hint : undefined,
    });
  }

  const kernel = diagnosis.kernel;
  if (kernel && !kernel.userns.available) {
    problems.push({
      code: 'E_USERNS_UNAVAILABLE',
      message: kernel.userns.problem ?? 'unprivileged user namespaces are not available',
      hint: kernel.userns.hint,
    });
  }
  if (kernel && !kernel.seccomp) {
    problems.push({
      code: 'E_SETUP',
      message: 'the kernel has no seccomp filter support',
      hint: 'run with `--seccomp none` (plan `seccomp.preset: "none"`), or use a kernel built with CONFIG_SECCOMP_FILTER',
    });
  }
  if (diagnosis.addon.loaded) diagnosis.config = inspectConfig(problems);
  diagnosis.ok = problems.length === 0;
  return diagnosis;
}

interface Wanted {
  name: string;
  env: string;
  code: string;
  path: string;
  candidates: { path: string; from: string }[];
}

function inspectExecutable(problems: Problem[], wanted: Wanted): Executable {
  const path = resolve(wanted.path);
  const fromEnv = Boolean(process.env[wanted.env]);
  const info: Executable = { path, fromEnv, exists: false, executable: false };
  const from = wanted.candidates.find((c) => resolve(c.path) === path)?.from;
  if (from !== undefined) info.from = from;
  try {
    info.exists = statSync(path).isFile();
  } catch {
    // stays false
  }
  if (!info.exists) {
    problems.push({
      code: wanted.code,
      message: `${wanted.name} not found at ${path}`,
      hint: fromEnv ? `${wanted.env} names a file that does not exist; fix or unset it` : missingNativeHint(),
    });
    return info;
  }
  try {
    accessSync(path, fsConstants.X_OK);
    info.executable = true;
  } catch {
    problems.push({ code: wanted.code, message: `${path} is not executable`, hint: `chmod +x ${path}` });
    return info;
  }
  try {
    const out = execFileSync(path, ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: INIT_VERSION_TIMEOUT_MS,
    }).trim();
    if (out !== '') info.version = out.split('\n')[0]!;
  } catch {
    problems.push({
      code: wanted.code,
      message: `${path} --version failed`,
      hint: 'rebuild it with `npm run build`; the file may be for another architecture',
    });
  }
  return info;
}

// The config file a run in this directory would pick up, checked as the run
// would check it: a broken or untrusted one fails every run here.
function inspectConfig(problems: Problem[]): Diagnosis['config'] {
  const status = configStatus(process.cwd());
  if (status.file === undefined) return {};
  const path = status.file;
  if (status.config) {
    return status.config.preset === undefined ? { path, trusted: true } : { path, preset: status.config.preset, trusted: true };
  }
  const error = status.error!;
  problems.push({
    code: error.code,
    message: error.message,
    hint: `${error.hint ? `${error.hint}; ` : ''}runs here fail until it is ${error.code === 'E_CONFIG_UNTRUSTED' ? 'trusted' : 'fixed'}, or pass --no-config`,
  });
  return { path, trusted: status.trusted ?? false, error: error.message, code: error.code };
}

function packageVersion(file: string): string {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

// The napi-rs loader picks one of several `.node` files; the module cache
// says which. Failing that, the native package's own directory is listed.
function addonPath(): string | undefined {
  const loaded = Object.keys(require.cache).find((key) => /sandboxctl\.[^/]*\.node$/.test(key));
  if (loaded !== undefined) return loaded;
  try {
    const dir = dirname(require.resolve('@sandboxctl/native'));
    const file = readdirSync(dir).find((name) => /^sandboxctl\..*\.node$/.test(name));
    return file === undefined ? undefined : join(dir, file);
  } catch {
    return undefined;
  }
}
