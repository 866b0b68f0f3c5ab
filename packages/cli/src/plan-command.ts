/**
 * The base of `run`, `plan` and `explain`: the flags of the table
 * (./flags.ts) as clipanion options, the program, and the plan they
 * describe. The plan is resolved by the library, as for any caller
 * (`resolvePlan`): the preset (`--preset`, its parameters), the config file
 * (`--config FILE`, else the nearest sandboxctl.json when trusted, none with
 * `--no-config`), then the flags' own ops and policy. Relative paths in op
 * flags and `--chdir` resolve against the current directory, as they would
 * for the shell.
 */

import { isAbsolute, relative, resolve } from 'node:path';
import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import {
  discoverConfig,
  getPreset,
  IMAGE_ITEMS,
  type ImageOption,
  isFdOpen,
  loadConfig,
  PlanBuilder,
  resolvePlan,
  SandboxError,
  type OnTaint,
  type PlanSources,
  type PresetName,
  type PresetOptions,
  type ResolvedPlan,
  type SandboxConfig,
  type SourceOption,
  type FilesystemRules,
  type FsRuleKind,
  type LimitsOption,
  parseRlimitFlag,
} from '@sandboxctl/core';
import type { SandboxctlContext } from './context';
import { applyFlags, clipanionOption, closedFd, flagKey, flagSpec, type FdReader, type FlagOccurrence, type FlagSpec, type FlagValue, PLAN_FLAGS, readFdText, scanFlagOrder, usage } from './flags';

let onlyFlags: ReadonlySet<string> | undefined;

/**
 * Makes the plan commands built from now on register only the table's flags
 * that `args` could name (`undefined`: every flag again). clipanion compiles
 * one state machine for every option registered, in time that grows faster
 * than the count: with the table's 80-odd flags it was most of the CLI's
 * start-up (bench/README.md). The parse of arguments that name only these
 * flags is the same either way; `main` parses again with every flag when
 * this parse fails, so errors and help are the whole table's.
 */
export function onlyPlanFlags(args: readonly string[] | undefined): void {
  onlyFlags = args === undefined ? undefined : namedFlags(args);
}

/** The table's flags that some argument could be: `--x`, `--x=V`, `--no-x`, a short flag alone or in a batch (`-bv`). */
function namedFlags(args: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const arg of args) {
    if (arg.startsWith('--')) {
      const name = arg.split('=', 1)[0]!;
      names.add(name);
      if (name.startsWith('--no-')) names.add(`--${name.slice(5)}`);
    } else if (arg.startsWith('-')) {
      for (const c of arg.slice(1).split('=', 1)[0]!) names.add(`-${c}`);
    }
  }
  const flags = new Set<string>();
  for (const spec of PLAN_FLAGS) if (names.has(spec.flag) || (spec.short !== undefined && names.has(spec.short))) flags.add(spec.flag);
  return flags;
}

export abstract class PlanCommand extends Command<SandboxctlContext> {
  /** `--share-net` and `--unshare-net` exclude each other, as do `--write` and `--write-fake`. */
  static override schema = [
    t.hasMutuallyExclusiveKeys(['shareNet', 'unshareNet'], { missingIf: 'falsy' }),
    t.hasMutuallyExclusiveKeys(['write', 'writeFake'], { missingIf: 'falsy' }),
  ];

  // The program.
  program = Option.String({ name: 'command', required: true });
  args = Option.Proxy({ name: 'args' });

  /** For each op of the flags' own part, the flag and values it came from, as typed. */
  private opOrigins: string[] = [];
  private resolved: ResolvedPlan | undefined;

  constructor() {
    super();
    // One clipanion option per flag of the table, on the property that is the flag in camelCase.
    // Under `onlyPlanFlags`, a flag the arguments do not name gets the value
    // clipanion gives an absent option instead (`false` or undefined).
    const self = this as unknown as Record<string, unknown>;
    for (const spec of PLAN_FLAGS) {
      if (onlyFlags === undefined || onlyFlags.has(spec.flag)) self[flagKey(spec.flag)] = clipanionOption(spec.flag);
      else if (spec.initial === false) self[flagKey(spec.flag)] = false;
    }
  }

  /** A flag's parsed value: the list of a repeated flag, the final value of another. */
  protected flag(flag: string): FlagValue | readonly FlagValue[] | undefined {
    return (this as unknown as Record<string, FlagValue | readonly FlagValue[] | undefined>)[flagKey(flag)];
  }

  /** A one-value flag's final value. */
  protected flagString(flag: string): string | undefined {
    return this.flag(flag) as string | undefined;
  }

  /** Whether a boolean flag ended up on. */
  protected flagOn(flag: string): boolean {
    return this.flag(flag) === true;
  }

  /**
   * The whole plan and where its ops came from. Throws `E_USAGE`,
   * `E_CONFIG_INVALID`, `E_CONFIG_UNTRUSTED` (unless `allowUntrusted`: the
   * config then carries the error), `E_PLAN_INVALID`. `--file` fds are read
   * (and closed) here.
   */
  resolvePlan(readFd: FdReader = readFdText, { allowUntrusted = false } = {}): ResolvedPlan {
    const cwd = process.cwd();
    if (this.flag('--config') !== undefined && this.flagOn('--no-config')) throw usage('--config and --no-config exclude each other', 'keep one');
    const config = this.loadConfigFile(cwd, allowUntrusted);
    const presetName = (this.flagString('--preset') as PresetName | undefined) ?? config?.preset;
    const params = this.presetParams(presetName);

    const allowList = ['--allow-host', '--allow-hosts', '--deny-host', '--allow-local-binding'].filter((f) => this.flagOn(f) || ((this.flag(f) as unknown[] | undefined)?.length ?? 0) > 0);
    if (this.flagOn('--share-net') && allowList.length > 0) throw usage(`--share-net and ${allowList[0]} exclude each other`, "--share-net gives the host's whole network; an allow list gives only the hosts named");
    const { builder, opOrigins } = applyFlags(new PlanBuilder(), this.flagOrder(), (spec) => this.flag(spec.flag), readFd);
    this.opOrigins = opOrigins;
    // bubblewrap's --unshare-net/--unshare-all say "no network"; --share-net wins.
    if (!this.flagOn('--share-net') && (this.flagOn('--unshare-net') || this.flagOn('--unshare-all'))) builder.network('none');

    const sources: PlanSources = {
      argv: this.program === undefined ? [] : [this.program, ...this.args],
      ops: builder,
      relativeTo: cwd,
      optionName: (option) => OPTION_FLAGS[option],
    };
    const image = this.imageOption();
    if (image !== undefined) sources.image = image;
    if (config) sources.config = config;
    if (presetName !== undefined) sources.preset = { name: presetName, cwd, ...params };
    const onTaint = this.flagString('--on-taint') as OnTaint | undefined;
    if (onTaint !== undefined) sources.onTaint = onTaint;
    // Filesystem rules and limits (issue 14): the flags name the entries in errors.
    const rules: FilesystemRules = {};
    for (const [kind, flag] of Object.entries(RULE_FLAGS) as [FsRuleKind, string][]) {
      const list = this.flag(flag) as string[] | undefined;
      if (list !== undefined && list.length > 0) rules[kind] = list;
    }
    if (Object.keys(rules).length > 0) sources.filesystem = rules;
    sources.ruleName = (kind) => RULE_FLAGS[kind];
    const limits: LimitsOption = {};
    for (const key of ['memory', 'pids', 'cpus', 'timeout'] as const) {
      const value = this.flag(`--${key}`) as string | undefined;
      if (value !== undefined) (limits as Record<string, unknown>)[key] = key === 'timeout' ? value : value;
    }
    const grace = this.flag('--timeout-grace') as string | undefined;
    if (grace !== undefined) limits.timeoutGrace = grace;
    const rl = this.flag('--rlimit') as string[] | undefined;
    if (rl !== undefined && rl.length > 0) {
      limits.rlimits = {};
      for (const text of rl) {
        const r = parseRlimitFlag('--rlimit', text);
        limits.rlimits[r.name] = `${r.soft ?? 'unlimited'}:${r.hard ?? 'unlimited'}`;
      }
    }
    if (Object.keys(limits).length > 0) sources.limits = limits;
    sources.limitName = (key) => (key === 'rlimit' ? '--rlimit' : key === 'timeoutGrace' ? '--timeout-grace' : `--${key}`);
    this.resolved = resolvePlan(sources);
    if (this.resolved.plan.argv.length === 0 && image !== undefined && this.program === undefined) {
      throw usage('no command given, and the image stores none (an Entrypoint or Cmd kept by `sandboxctl image import`)', 'give the command after the flags: `-- CMD ARGS...`');
    }
    return this.resolved;
  }

  /**
   * Names where the op behind a plan error came from: the preset, the config
   * file (whose plan errors become `E_CONFIG_INVALID`) or the flag as typed.
   */
  explain(error: unknown): unknown {
    const limit = this.explainLimit(error);
    if (limit !== undefined) return limit;
    // The root's errors name plan fields (`write "fake"`); say the flag.
    if (error instanceof SandboxError && error.code === 'E_IMAGE_INVALID' && this.flagOn('--write') && error.hint === undefined) {
      return new SandboxError(error.code, error.message, { hint: '--write changes a directory image; for writes that vanish with the sandbox, use --write-fake', path: error.path, exitStatus: error.exitStatus, cause: error });
    }
    if (!(error instanceof SandboxError) || error.opIndex === undefined) return error;
    const origin = this.resolved?.origins[error.opIndex];
    if (origin === undefined) return error;
    const text =
      origin.from === 'preset' ? `preset ${origin.preset}: ${origin.note.why}` : origin.from === 'config' ? `${display(origin.file)} ops[${origin.index}]` : origin.from === 'filesystem' ? origin.rule : this.opOrigins[origin.index];
    if (text === undefined) return error;
    const code = origin.from === 'config' && error.code === 'E_PLAN_INVALID' ? 'E_CONFIG_INVALID' : error.code;
    // An item of the image preset whose mount point a read-only image lacks (ch-run fails alike);
    // anything an op would make inside a bind of the host (a link in the image leads there).
    const imageHint =
      origin.from === 'preset' && origin.preset === 'image' && /read-only file system$/.test(error.message)
        ? `the image has no mount point for it: add it to the image, run with --write-fake, or leave the item out with --image-omit (items: ${IMAGE_ITEMS.join(', ')})`
        : /invalid cross-device link$/.test(error.message) && this.resolved?.plan.root !== undefined
          ? 'it would be made inside an earlier bind of a host path (a link in the image may lead there): nothing is created there, as in ch-run'
          : undefined;
    return new SandboxError(code, `${error.message} (from ${text})`, {
      opIndex: error.opIndex,
      path: error.path,
      hint: error.hint ?? imageHint,
      exitStatus: error.exitStatus,
      cause: error,
    });
  }

  /**
   * A limit the launcher refused names the flag as typed, not the plan field:
   * `plan.limits.rlimits[0]: …` → `--rlimit "nofile=99999999": …`; a failed
   * setrlimit or a machine that cannot give a cgroup limit says which flags
   * asked for it.
   */
  explainLimit(error: unknown): SandboxError | undefined {
    if (!(error instanceof SandboxError)) return undefined;
    const typed = (this.flag('--rlimit') as string[] | undefined) ?? [];
    const rlimitFlag = (name: string | undefined): string | undefined => {
      const text = typed.filter((t) => t.slice(0, t.indexOf('=')).toLowerCase().replace(/^rlimit_/, '') === name).at(-1);
      return text === undefined ? undefined : `--rlimit ${JSON.stringify(text)}`;
    };
    const keep = { path: error.path, hint: error.hint, exitStatus: error.exitStatus, cause: error };
    const field = /^plan\.limits\.rlimits\[(\d+)\](?:\.\w+)?/.exec(error.path ?? '');
    if (field) {
      const flag = rlimitFlag(this.resolved?.plan.limits?.rlimits?.[Number(field[1])]?.name);
      if (flag === undefined) return undefined;
      const message = error.message.startsWith(field[0]) ? `${flag}${error.message.slice(field[0].length)}` : `${error.message} (from ${flag})`;
      return new SandboxError(error.code, message, keep);
    }
    const setrlimit = /^cannot set rlimit (\w+)/.exec(error.message);
    if (setrlimit && error.code === 'E_PLAN_INVALID') {
      const flag = rlimitFlag(setrlimit[1]);
      return flag === undefined ? undefined : new SandboxError(error.code, `${error.message} (from ${flag})`, keep);
    }
    if (error.code === 'E_LIMIT_UNAVAILABLE') {
      const flags = (['--memory', '--pids', '--cpus'] as const).flatMap((f) => {
        const v = this.flag(f) as string | undefined;
        return v === undefined ? [] : [`${f} ${v}`];
      });
      return flags.length === 0 ? undefined : new SandboxError(error.code, `${error.message} (from ${flags.join(', ')})`, keep);
    }
    return undefined;
  }

  /** Throws `E_PLAN_INVALID` for the first caller fd a flag names that is not open. */
  checkFlagFds(): void {
    for (const spec of PLAN_FLAGS) {
      if (!spec.callerFd) continue;
      const value = this.flag(spec.flag);
      const given = value === undefined ? [] : spec.repeat ? (value as readonly FlagValue[]) : [value as FlagValue];
      for (const one of given) {
        const fd = Number(Array.isArray(one) ? one[0] : one);
        if (Number.isInteger(fd) && !isFdOpen(fd)) throw closedFd(spec.flag, fd);
      }
    }
  }

  // A file named with --config is trusted as given; one found by looking up
  // must be trusted (`sandboxctl trust`).
  private loadConfigFile(cwd: string, allowUntrusted: boolean): SandboxConfig | undefined {
    if (this.flagOn('--no-config')) return undefined;
    const named = this.flagString('--config');
    if (named !== undefined) return loadConfig(resolve(cwd, named));
    return discoverConfig(cwd, { allowUntrusted });
  }

  /** `--image` and how it is written; `E_USAGE` for the write flags without it (the schema refuses them together). */
  private imageOption(): ImageOption | undefined {
    const path = this.flagString('--image');
    const write = this.flagOn('--write');
    const fake = this.flagOn('--write-fake');
    const size = this.flagString('--write-fake-size');
    const omit = (this.flag('--image-omit') as readonly string[] | undefined) ?? [];
    const cd = this.flagString('--cd');
    const listed = (flag: string): boolean => ((this.flag(flag) as readonly unknown[] | undefined)?.length ?? 0) > 0;
    const onlyImage: Array<string | false> = [
      write && '--write',
      fake && '--write-fake',
      size !== undefined && '--write-fake-size',
      this.flagOn('--home') && '--home',
      this.flagOn('--private-tmp') && '--private-tmp',
      cd !== undefined && '--cd',
      this.flagOn('--fakeroot') && '--fakeroot',
      omit.length > 0 && '--image-omit',
      listed('--image-bind') && '--image-bind',
      listed('--set-env') && '--set-env',
      listed('--unset-env') && '--unset-env',
      this.flagOn('--env-no-expand') && '--env-no-expand',
    ];
    const given = onlyImage.filter((f): f is string => typeof f === 'string');
    if (path === undefined) {
      if (given.length > 0) throw usage(`${given.join(', ')} only ${given.length === 1 ? 'applies' : 'apply'} to --image`, 'add --image PATH');
      return undefined;
    }
    if (size !== undefined && !fake) throw usage('--write-fake-size applies only to --write-fake', 'add --write-fake');
    if (this.flagString('--preset') !== undefined) {
      throw usage(`--image does not combine with --preset ${this.flagString('--preset')}: its ops build on the host's directories, not the image's`, 'drop --preset: --image brings the image preset (ch-run\'s defaults)');
    }
    const image: ImageOption = { path, write: write ? 'writable' : fake ? 'fake' : 'readOnly' };
    if (size !== undefined) image.fakeSize = size;
    if (this.flagOn('--home')) {
      // ch-run's checks, as usage errors (the library's are E_PLAN_INVALID).
      if (!process.env.USER) throw usage('--home: $USER is not set to a user name', 'set USER, as a login shell does');
      if (!process.env.HOME?.startsWith('/')) throw usage('--home: $HOME is not set to an absolute path', 'set HOME to your home directory');
      image.home = true;
    }
    if (this.flagOn('--private-tmp')) image.privateTmp = true;
    if (this.flagOn('--fakeroot')) {
      if (!write && !fake && !this.flagOn('--home')) throw usage('--fakeroot needs a writable image', 'add --write-fake (writes gone after the run) or --write');
      image.fakeroot = true;
    }
    if (cd !== undefined) {
      if (!cd.startsWith('/')) throw usage(`--cd ${cd}: give an absolute path in the image`, 'e.g. --cd /work');
      image.cd = cd;
    }
    if (omit.length > 0) image.omit = omit as ImageOption['omit'];
    return image;
  }

  /** The preset parameters the flags give; `E_USAGE` when there is no preset or it takes none of them. */
  private presetParams(presetName: string | undefined): Partial<PresetOptions> {
    const given = PLAN_FLAGS.filter((spec): spec is FlagSpec & { presetParam: keyof PresetOptions } => spec.presetParam !== undefined && this.flag(spec.flag) !== undefined);
    if (given.length === 0) return {};
    if (presetName === undefined) {
      throw usage(`${given.map((g) => g.flag).join(', ')} only apply to a preset`, 'add --preset NAME (see `sandboxctl presets`)');
    }
    const params = getPreset(presetName).params as readonly string[];
    const stray = given.filter((g) => !params.includes(g.presetParam)).map((g) => g.flag);
    if (stray.length > 0) {
      throw usage(`preset ${presetName} takes no ${stray.join(' or ')}`, `see \`sandboxctl presets show ${presetName}\``);
    }
    return Object.fromEntries(given.map((g) => [g.presetParam, this.flag(g.flag)]));
  }

  /** The flags in argv order, from the raw args `main` put in the context. */
  private flagOrder(): FlagOccurrence[] {
    const argv = this.context.argv;
    if (!Array.isArray(argv) || this.path.some((part, i) => argv[i] !== part)) {
      throw new Error('assertion failed: the context lacks the raw args (run commands through main())');
    }
    return scanFlagOrder(argv, this.path.length, (flag) => flagSpec(flag)?.values.length);
  }
}

/** The flag behind each library option, for the library's errors. */
/** The flag of each filesystem rule. */
const RULE_FLAGS: Record<FsRuleKind, string> = { denyRead: '--deny-read', allowRead: '--allow-read', allowWrite: '--allow-write', denyWrite: '--deny-write' };

const OPTION_FLAGS: Record<SourceOption, string> = {
  onTaint: '--on-taint',
  image: '--image',
  'image.write': '--write-fake',
  'image.fakeSize': '--write-fake-size',
  'image.home': '--home',
  'image.fakeroot': '--fakeroot',
  'image.cd': '--cd',
  'image.omit': '--image-omit',
  'env.steps': '--set-env and --unset-env',
};

function display(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}
