/**
 * The shape of a preset: plain data (ops with `{cwd}`/`{home}` in their
 * paths, lists of paths to hide or protect, a policy) that
 * {@link resolvePreset} turns into plan ops for one host, one home and one
 * current directory. Nothing here touches the host.
 */

import type { Network, Op, SeccompPreset } from '../plan-types';
import type { HostView } from './host';

/** The presets sandboxctl ships. */
export const PRESET_NAMES = ['strict', 'ro-host', 'agent', 'build'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** A path in preset data may start with `{cwd}`, `{home}` or `{runtimeDir}`. */
export type PathTemplate = string;

/** A path under the current directory that the program must not change. */
export interface ProtectedPath {
  /** Relative to the current directory. */
  readonly path: string;
  /** What a placeholder for it is when it does not exist. */
  readonly type: 'dir' | 'file';
  /** Also protect it when it does not exist, with an empty read-only placeholder (directories only). */
  readonly placeholder: boolean;
  /** Also protect it where it exists in a subdirectory (found by a bounded walk). */
  readonly nested?: boolean;
}

export type PresetStep =
  /** One op as written, templates in its paths replaced. */
  | { readonly op: Op; readonly why: string }
  /**
   * Host paths hidden when they exist: a directory behind an empty tmpfs of
   * `mode` (default 0: no access), anything else behind a read-only /dev/null.
   */
  | { readonly hide: readonly PathTemplate[]; readonly mode?: number; readonly why: string }
  /** Paths under the current directory kept read-only (see {@link ProtectedPath}). */
  | { readonly protect: readonly ProtectedPath[]; readonly why: string }
  /** The git metadata git executes from: hooks, config, redirects, submodules. */
  | { readonly protectGit: true; readonly why: string }
  /** Host system paths, read-only; a symlink (merged /usr) stays a symlink. */
  | { readonly system: readonly string[]; readonly why: string }
  /** The declared inputs, read-only (default: the current directory). */
  | { readonly inputs: true; readonly why: string }
  /** The declared output directory, writable (default: `out` in the current directory). */
  | { readonly output: true; readonly why: string }
  /** The home through an allow-list: toolchains, caches copy-on-write, sanitized configs (home.ts). */
  | { readonly home: true; readonly why: string }
  /** `/run`, `/var/run`, `/var/tmp` and the runtime directory private (reach.ts). */
  | { readonly privateRun: true; readonly why: string }
  /**
   * Host sockets (reach.ts): `host`: those a bounded scan of the usual places
   * finds masked and the `allowSocket` ones bound; `cwd`: those in the current
   * directory masked (after it is bound); `allowed`: only the `allowSocket`
   * ones bound (the host is not shown anyway).
   */
  | { readonly sockets: 'host' | 'cwd' | 'allowed'; readonly why: string }
  /** Without a network, an empty /etc/resolv.conf (reach.ts). */
  | { readonly resolver: true; readonly why: string }
  /** Root-only files hidden from a root caller (system-secrets.ts). */
  | { readonly rootSecrets: true; readonly why: string };

export interface PresetPolicy {
  readonly network: Network;
  readonly seccomp: SeccompPreset;
  readonly hostname?: string;
  /** Run the program in the current directory (when the sandbox shows it). */
  readonly cwdHere: boolean;
  readonly env: {
    /** Start from an empty environment (`--clearenv`). */
    readonly clear: boolean;
    readonly set?: Readonly<Record<string, string>>;
    /** Remove variables that look like credentials, unless allowed by name. */
    readonly removeCredentials: boolean;
    /** Keep only the names of the allow-list (credentials.ts `ENV_ALLOW`) and those allowed by name. */
    readonly allowList?: boolean;
    /** Variables set when the plan has no network (so tools fail at once instead of retrying). */
    readonly offlineSet?: Readonly<Record<string, string>>;
  };
  /**
   * After the run, audit the current directory (see `auditRoots`) for what
   * host tools would execute that the run created or changed, and revert it.
   */
  readonly audit?: boolean;
}

/** Parameters a preset reads from its options (CLI flags, config keys). */
export type PresetParam = 'allowEnv' | 'allowHome' | 'allowSocket' | 'allowWrite' | 'inputs' | 'output';

export interface PresetDefinition {
  readonly name: PresetName;
  /** One line, for `sandboxctl presets`. */
  readonly summary: string;
  /** Paragraphs, for `presets show` and docs/presets. */
  readonly description: readonly string[];
  readonly steps: readonly PresetStep[];
  readonly policy: PresetPolicy;
  /** Refuse a current directory of `/` or one that contains $HOME. */
  readonly refuseCwd: readonly ('root' | 'above-home')[];
  readonly params: readonly PresetParam[];
}

/** What an op does for the preset, for `explain` and the docs. */
export type OpRole =
  | 'host'
  | 'system'
  | 'input'
  | 'writable'
  | 'output'
  | 'private'
  | 'kernel'
  | 'hidden'
  | 'protected'
  | 'placeholder'
  /** A host cache, copy-on-write. */
  | 'cache'
  /** A file the preset writes (a sanitized copy of a host file, an empty resolv.conf). */
  | 'sanitized';

export interface OpNote {
  role: OpRole;
  /** Why the op is there, in words. */
  why: string;
}

/** A preset and what it should be resolved against; unset fields come from this process. */
export interface PresetOptions {
  name: PresetName;
  /** Host directory made writable (`ro-host`, `agent`) or read (`build`); default `process.cwd()`. */
  cwd?: string;
  /**
   * The caller's home. Default: the password database's entry for this
   * process's uid (`os.userInfo()`), symlinks resolved; `$HOME` only when
   * there is no entry. `agent` shows it through an allow-list.
   */
  home?: string;
  /** The environment credentials are looked for in; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Variable names `agent` keeps whatever they hold (a trailing `*` is a prefix). */
  allowEnv?: readonly string[];
  /** `agent`: home paths shown read-only besides the allow-list (relative to the home, or absolute below it). */
  allowHome?: readonly string[];
  /** `agent`, `strict`: host socket paths left reachable; relative ones resolve against `cwd`. */
  allowSocket?: readonly string[];
  /** The network the plan will have when the caller overrides the preset's (`agent` keeps DNS then). */
  network?: Network;
  /** The caller's uid; default this process's (0: `agent` hides root-only files). */
  uid?: number;
  /** Protected paths `agent` lets the program write; relative ones resolve against `cwd`. */
  allowWrite?: readonly string[];
  /** `build`: paths readable (default: the current directory); relative ones resolve against `cwd`. */
  inputs?: readonly string[];
  /** `build`: the one writable directory (default: `out` under `cwd`). */
  output?: string;
  /** Default: the real filesystem. */
  host?: HostView;
}
