/**
 * Every flag of the CLI that names values, and every flag of `run`, `plan`
 * and `explain`, in one table: the flag, the names of its values (their
 * count is its arity; none: a boolean), its description, and how it adds
 * to the plan. The table drives clipanion's options ({@link clipanionOption}),
 * the help's value names (`--bind SRC DEST`, ./help.ts) and the one ordered
 * pass over argv ({@link applyFlags}).
 *
 * Ops apply in argv order, but clipanion collects each option into its own
 * list and forgets how different options interleave. So clipanion parses
 * and validates (help, typanion validators, `--flag=value`, `--no-flag`),
 * and the pass walks the raw argv (which `main` keeps in the context) the
 * way bubblewrap's `parse_args_recurse` does: the k-th `--bind` takes the
 * k-th validated value of `--bind`. `--perms` and `--size` modify the op
 * that follows them, `--overlay-src` layers feed the next overlay op, and
 * `--setenv`, `--unsetenv` and `--clearenv` also apply in order.
 */

import { closeSync, readFileSync } from 'node:fs';
import { Option } from 'clipanion';
import * as t from 'typanion';
import { checkPlan, type HostSet, IMAGE_ITEMS, ON_TAINT_MODES, PRESET_NAMES, type PlanBuilder, type PresetOptions, SandboxError } from '@sandboxctl/core';

const UINT32_MAX = 0xffff_ffff;
const isUint32 = t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(0, UINT32_MAX)]);
const isOctal = t.cascade(t.isString(), [t.matchesRegExp(/^[0-7]+$/)]);
const isByteCount = t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(1)]);
const MAX_MODE = 0o7777;

/** Reads an inherited fd to its end as UTF-8 (`--file FD DEST`, `--ro-bind-data FD DEST`). */
export type FdReader = (fd: number) => string;

/**
 * Reads the fd, then closes it as bubblewrap does (except 0-2, which the
 * launcher inherits). Invalid UTF-8 is refused rather than mangled.
 */
export const readFdText: FdReader = (fd) => {
  const bytes = readFileSync(fd);
  if (fd > 2) closeSync(fd);
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
};

/** A typanion validator of a flag's value (clipanion's options want non-null results). */
export type Validator = t.StrictValidator<unknown, NonNullable<unknown>>;

/** A flag's value as clipanion hands it over: validated, one occurrence of a repeated flag. */
export type FlagValue = string | number | boolean | readonly string[];

/** The ops' modifiers. */
export type Modifier = 'perms' | 'size';

/** The state of one ordered pass. */
export interface FlagPass {
  readonly builder: PlanBuilder;
  readonly readFd: FdReader;
  /** The flag being applied, as typed. */
  flag: string;
  /** Modifier values waiting for the op they apply to. */
  readonly mods: { perms?: { mode: number; flag: string }; size?: { bytes: number; flag: string } };
  /** `--overlay-src` layers waiting for the overlay op that takes them. */
  lowers: string[];
}

/** Where a flag belongs. */
export type FlagGroup = 'op' | 'modifier' | 'policy' | 'source' | 'other';

export interface FlagSpec {
  flag: `--${string}`;
  /** A one-letter alias (ch-run's `-b` for `--image-bind`). */
  short?: `-${string}`;
  /** The names of its values, as help shows them; none: a boolean. */
  values: readonly string[];
  description: string;
  group: FlagGroup;
  /** Every occurrence counts (a list); otherwise the last one given decides. */
  repeat?: true;
  /** typanion validator of a value (of the list, for a repeated flag). */
  validator?: Validator;
  /** A boolean's value when absent: `false`, or `undefined` when absent means "decide yourself" (`--tty`/`--no-tty`). */
  initial?: false;
  /** Ops: the modifiers it takes, and whether it takes the `--overlay-src` layers. */
  op?: { takes?: readonly Modifier[]; overlay?: true };
  /** Source flags: the preset parameter it sets. */
  presetParam?: keyof PresetOptions;
  /** Its value (the first, of several) is a caller fd that `run` checks open first. */
  callerFd?: true;
  /** How one occurrence adds to the plan, in argv order (for a flag that is not repeated: its last occurrence, with the final value). */
  add?(pass: FlagPass, value: FlagValue): void;
}

const strings = (value: FlagValue): readonly string[] => (typeof value === 'string' ? [value] : (value as readonly string[]));
/** The values of an occurrence, by position. */
const v = (value: FlagValue, i: number): string => strings(value)[i]!;

const FILE_TAKES: readonly Modifier[] = ['perms'];

/** A boolean flag's add: `apply` when the flag's final value is true (`--no-FLAG` leaves the plan alone). */
const ifOn =
  (apply: (builder: PlanBuilder) => unknown) =>
  (p: FlagPass, on: FlagValue): void => {
    if (on === true) apply(p.builder);
  };

/** `--file FD DEST`, `--ro-bind-data FD DEST`: a file holding what the fd reads now. */
function fileFromFd(p: FlagPass, x: FlagValue): void {
  p.builder.file(v(x, 1), fromFd(p.flag, v(x, 0), p.readFd), { mode: p.mods.perms?.mode });
}

/** The named host sets `--allow-hosts` takes: every HostSet of the generated plan types, no other (a Record keys them all). */
const HOST_SET_KEYS: Record<HostSet, true> = { npm: true, pypi: true, crates: true, github: true, go: true, maven: true, debian: true };
export const HOST_SETS = Object.keys(HOST_SET_KEYS) as readonly HostSet[];

/** The flags of `run`, `plan` and `explain`, in the order their help lists them. */
export const PLAN_FLAGS: readonly FlagSpec[] = [
  // Ops, applied in argv order.
  { flag: '--bind', values: ['SRC', 'DEST'], group: 'op', repeat: true, op: {}, description: 'Bind host path SRC read-write on DEST', add: (p, x) => p.builder.bind(v(x, 0), v(x, 1)) },
  { flag: '--bind-try', values: ['SRC', 'DEST'], group: 'op', repeat: true, op: {}, description: 'Like --bind, skipped when SRC does not exist', add: (p, x) => p.builder.bindTry(v(x, 0), v(x, 1)) },
  { flag: '--ro-bind', values: ['SRC', 'DEST'], group: 'op', repeat: true, op: {}, description: 'Bind host path SRC read-only on DEST', add: (p, x) => p.builder.roBind(v(x, 0), v(x, 1)) },
  { flag: '--ro-bind-try', values: ['SRC', 'DEST'], group: 'op', repeat: true, op: {}, description: 'Like --ro-bind, skipped when SRC does not exist', add: (p, x) => p.builder.roBindTry(v(x, 0), v(x, 1)) },
  { flag: '--dev-bind', values: ['SRC', 'DEST'], group: 'op', repeat: true, op: {}, description: 'Bind SRC read-write on DEST, device nodes usable', add: (p, x) => p.builder.devBind(v(x, 0), v(x, 1)) },
  { flag: '--dev-bind-try', values: ['SRC', 'DEST'], group: 'op', repeat: true, op: {}, description: 'Like --dev-bind, skipped when SRC does not exist', add: (p, x) => p.builder.devBindTry(v(x, 0), v(x, 1)) },
  { flag: '--proc', values: ['DEST'], group: 'op', repeat: true, op: {}, description: 'Mount a private proc on DEST', add: (p, x) => p.builder.proc(v(x, 0)) },
  { flag: '--dev', values: ['DEST'], group: 'op', repeat: true, op: {}, description: 'Mount a minimal /dev on DEST', add: (p, x) => p.builder.dev(v(x, 0)) },
  {
    flag: '--tmpfs',
    values: ['DEST'],
    group: 'op',
    repeat: true,
    op: { takes: ['perms', 'size'] },
    description: 'Mount a tmpfs on DEST (takes --perms, --size)',
    add: (p, x) => p.builder.tmpfs(v(x, 0), { mode: p.mods.perms?.mode, size: p.mods.size?.bytes }),
  },
  { flag: '--dir', values: ['DEST'], group: 'op', repeat: true, op: { takes: ['perms'] }, description: 'Create directory DEST (takes --perms)', add: (p, x) => p.builder.dir(v(x, 0), { mode: p.mods.perms?.mode }) },
  { flag: '--symlink', values: ['SRC', 'DEST'], group: 'op', repeat: true, op: {}, description: 'Create symlink DEST pointing to SRC', add: (p, x) => p.builder.symlink(v(x, 0), v(x, 1)) },
  { flag: '--file', values: ['FD', 'DEST'], group: 'op', repeat: true, op: { takes: FILE_TAKES }, description: 'Copy the contents of fd FD to read-only file DEST (takes --perms)', add: fileFromFd },
  { flag: '--ro-bind-data', values: ['FD', 'DEST'], group: 'op', repeat: true, op: { takes: FILE_TAKES }, description: 'Same as --file FD DEST', add: fileFromFd },
  {
    flag: '--file-data',
    values: ['TEXT', 'DEST'],
    group: 'op',
    repeat: true,
    op: { takes: FILE_TAKES },
    description: 'Create read-only file DEST holding TEXT (takes --perms)',
    add: (p, x) => p.builder.file(v(x, 1), v(x, 0), { mode: p.mods.perms?.mode }),
  },
  { flag: '--remount-ro', values: ['DEST'], group: 'op', repeat: true, op: {}, description: 'Remount DEST read-only', add: (p, x) => p.builder.remountRo(v(x, 0)) },
  {
    flag: '--overlay-src',
    values: ['SRC'],
    group: 'modifier',
    repeat: true,
    description: 'A lower layer (host dir) for the next overlay op; repeat, uppermost first',
    add: (p, x) => {
      p.lowers.push(v(x, 0));
    },
  },
  {
    flag: '--overlay',
    values: ['RWSRC', 'WORKDIR', 'DEST'],
    group: 'op',
    repeat: true,
    op: { overlay: true },
    description: 'Overlay on DEST of the --overlay-src layers, writes to host dir RWSRC (WORKDIR: empty, same filesystem)',
    add: (p, x) => p.builder.overlay(v(x, 2), p.lowers, v(x, 0), v(x, 1)),
  },
  {
    flag: '--tmp-overlay',
    values: ['DEST'],
    group: 'op',
    repeat: true,
    op: { overlay: true },
    description: 'Overlay on DEST of the --overlay-src layers, writes kept in memory and dropped',
    add: (p, x) => p.builder.tmpOverlay(v(x, 0), p.lowers),
  },
  {
    flag: '--ro-overlay',
    values: ['DEST'],
    group: 'op',
    repeat: true,
    op: { overlay: true },
    description: 'Read-only overlay on DEST of two or more --overlay-src layers',
    add: (p, x) => {
      if (p.lowers.length < 2) throw usage(`${p.flag} needs at least two --overlay-src layers`, 'give --overlay-src twice or more before it');
      p.builder.roOverlay(v(x, 0), p.lowers);
    },
  },
  { flag: '--mqueue', values: ['DEST'], group: 'op', repeat: true, op: {}, description: 'Mount a POSIX message queue filesystem on DEST', add: (p, x) => p.builder.mqueue(v(x, 0)) },
  {
    flag: '--chmod',
    values: ['OCTAL', 'PATH'],
    group: 'op',
    repeat: true,
    op: {},
    description: 'Change the mode of PATH to octal OCTAL',
    add: (p, x) => {
      const mode = v(x, 0);
      if (!/^[0-7]{1,4}$/.test(mode)) throw usage(`${p.flag} ${mode} is not a permission mode`, 'use octal, e.g. --chmod 0700 /work');
      p.builder.chmod(v(x, 1), parseInt(mode, 8));
    },
  },
  {
    flag: '--bind-fd',
    values: ['FD', 'DEST'],
    group: 'op',
    repeat: true,
    op: {},
    callerFd: true,
    description: 'Bind what fd FD names (an open dir or file) read-write on DEST',
    add: (p, x) => p.builder.bindFd(fdNumber(p.flag, v(x, 0)), v(x, 1), { writable: true }),
  },
  {
    flag: '--ro-bind-fd',
    values: ['FD', 'DEST'],
    group: 'op',
    repeat: true,
    op: {},
    callerFd: true,
    description: 'Bind what fd FD names read-only on DEST',
    add: (p, x) => p.builder.bindFd(fdNumber(p.flag, v(x, 0)), v(x, 1)),
  },
  { flag: '--autoetc', values: ['DEST'], group: 'op', repeat: true, op: {}, description: "The host's /etc on DEST (usually /etc) through one symlink per entry", add: (p, x) => p.builder.autoetc(v(x, 0)) },
  {
    flag: '--autoroot',
    values: ['DEST'],
    group: 'op',
    repeat: true,
    op: {},
    description: 'Every top-level host entry but proc, dev, tmp, mnt, etc on DEST (usually /), read-only',
    add: (p, x) => p.builder.autoroot(v(x, 0)),
  },
  {
    flag: '--image-bind',
    short: '-b',
    values: ['SPEC'],
    group: 'op',
    repeat: true,
    op: {},
    description: "ch-run's --bind SRC[:DST]: host SRC read-write on DST (default SRC) in the --image; DST must exist in a read-only image",
    add: (p, x) => {
      const { source, target } = imageBind(v(x, 0));
      p.builder.op({ kind: 'bind', source, target, writable: true, missingTarget: 'refuse' });
    },
  },
  { flag: '--passwd', values: ['DEST'], group: 'op', repeat: true, op: {}, description: 'Synthesized passwd and group for the sandbox user in directory DEST (usually /etc)', add: (p, x) => p.builder.passwd(v(x, 0)) },
  {
    flag: '--perms',
    values: ['OCTAL'],
    group: 'modifier',
    repeat: true,
    validator: isOctal,
    description: 'Octal permission bits for the next --tmpfs, --dir or file op',
    add: (p, x) => {
      const text = v(x, 0);
      if (p.mods.perms) throw usage(`${p.flag} given twice before the same op`, 'give one --perms per op');
      const mode = parseInt(text, 8);
      if (mode > MAX_MODE) throw usage(`${p.flag} ${text} is not a permission mode`, 'use at most four octal digits, e.g. --perms 0755');
      p.mods.perms = { mode, flag: `${p.flag} ${text}` };
    },
  },
  {
    flag: '--size',
    values: ['BYTES'],
    group: 'modifier',
    repeat: true,
    validator: isByteCount,
    description: 'Size limit in bytes for the next --tmpfs',
    add: (p, x) => {
      if (p.mods.size) throw usage(`${p.flag} given twice before the same op`, 'give one --size per --tmpfs');
      p.mods.size = { bytes: x as number, flag: `${p.flag} ${String(x)}` };
    },
  },

  // Policy.
  { flag: '--share-net', values: [], group: 'policy', initial: false, description: "Use the host's network (default: none, loopback only)", add: ifOn((b) => b.shareNet()) },
  // bubblewrap's --unshare-net/--unshare-all say "no network"; --share-net wins (see applyFlags).
  { flag: '--unshare-net', values: [], group: 'policy', initial: false, description: 'New network namespace (the default)' },
  { flag: '--unshare-all', values: [], group: 'policy', initial: false, description: 'Accepted for bubblewrap compatibility: the default' },
  ...['--unshare-user', '--unshare-user-try', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup', '--unshare-cgroup-try', '--die-with-parent', '--new-session'].map(
    (flag): FlagSpec => ({ flag: flag as `--${string}`, values: [], group: 'policy', initial: false, description: 'Accepted for bubblewrap compatibility: the default' }),
  ),
  { flag: '--uid', values: ['UID'], group: 'policy', validator: isUint32, description: 'User id inside the sandbox (default: yours)', add: (p, x) => p.builder.uid(x as number) },
  { flag: '--gid', values: ['GID'], group: 'policy', validator: isUint32, description: 'Group id inside the sandbox (default: yours)', add: (p, x) => p.builder.gid(x as number) },
  { flag: '--hostname', values: ['NAME'], group: 'policy', description: 'Hostname inside the sandbox', add: (p, x) => p.builder.hostname(v(x, 0)) },
  { flag: '--chdir', values: ['DIR'], group: 'policy', description: 'Working directory inside the sandbox', add: (p, x) => p.builder.cwd(v(x, 0)) },
  { flag: '--setenv', values: ['VAR', 'VALUE'], group: 'policy', repeat: true, description: 'Set environment variable VAR to VALUE', add: (p, x) => p.builder.setenv(v(x, 0), v(x, 1)) },
  { flag: '--unsetenv', values: ['VAR'], group: 'policy', repeat: true, description: 'Remove environment variable VAR', add: (p, x) => p.builder.unsetenv(v(x, 0)) },
  { flag: '--clearenv', values: [], group: 'policy', initial: false, description: 'Start from an empty environment', add: ifOn((b) => b.clearenv()) },
  {
    flag: '--set-env',
    values: ['SETTING'],
    group: 'policy',
    repeat: true,
    description: "ch-run's --set-env VAR=VALUE or FILE (--image): set VAR (quotes, $VAR items as ch-run), or each VAR=VALUE line of host FILE, in order",
    add: (p, x) => p.builder.chSetEnv(v(x, 0)),
  },
  {
    flag: '--unset-env',
    values: ['GLOB'],
    group: 'policy',
    repeat: true,
    description: "ch-run's --unset-env (--image): remove the variables whose names match GLOB (extglob: '!(A*|B*)' keeps A* and B*)",
    add: (p, x) => {
      if (v(x, 0) === '') throw usage('--unset-env: GLOB must have non-zero length', "to remove everything, give '*'");
      p.builder.chUnsetEnv(v(x, 0));
    },
  },
  { flag: '--env-no-expand', values: [], group: 'policy', initial: false, description: "Take every --set-env value as written, no $VAR expansion (ch-run 0.31's, wherever given)", add: ifOn((b) => b.envNoExpand()) },
  {
    flag: '--seccomp',
    values: ['PRESET'],
    group: 'policy',
    validator: t.isEnum(['strict', 'none'] as const),
    description: 'System call filter: strict (default) or none',
    add: (p, x) => p.builder.seccomp(x as 'strict' | 'none'),
  },
  {
    flag: '--linger-ms',
    values: ['MS'],
    group: 'policy',
    validator: isUint32,
    description: 'How long processes left behind may run after the program exits (default 5000)',
    add: (p, x) => p.builder.lingerMs(x as number),
  },
  { flag: '--cap-add', values: ['CAP'], group: 'policy', repeat: true, description: 'Keep capability CAP (e.g. CAP_NET_ADMIN, or ALL) inside the user namespace', add: (p, x) => p.builder.capAdd(v(x, 0)) },
  { flag: '--cap-drop', values: ['CAP'], group: 'policy', repeat: true, description: 'Drop capability CAP again (after --cap-add ALL)', add: (p, x) => p.builder.capDrop(v(x, 0)) },
  { flag: '--argv0', values: ['NAME'], group: 'policy', description: 'argv[0] as the program sees it', add: (p, x) => p.builder.argv0(v(x, 0)) },
  {
    flag: '--json-status-fd',
    values: ['FD'],
    group: 'policy',
    validator: isUint32,
    callerFd: true,
    description: 'Write {"child-pid": N} then {"exit-code": N} lines to fd FD',
    add: (p, x) => p.builder.statusFd(x as number),
  },
  {
    flag: '--pass-fd',
    values: ['FD'],
    group: 'policy',
    repeat: true,
    validator: isUint32,
    callerFd: true,
    description: 'Pass open fd FD into the program at the same number (others are closed)',
    add: (p, x) => p.builder.passFd(x as number),
  },
  { flag: '--keep-session', values: [], group: 'policy', initial: false, description: "Keep the caller's session (job control); TIOCSTI stays refused", add: ifOn((b) => b.keepSession()) },
  {
    flag: '--tty',
    values: [],
    group: 'policy',
    description:
      "Give the program a pseudo-terminal of its own relayed to yours, as docker run -it (run's default when stdin and stdout are terminals and the sandbox has a private /dev); --no-tty: never",
    add: (p, on) => p.builder.tty(on as boolean),
  },
  {
    flag: '--on-taint',
    values: ['MODE'],
    group: 'policy',
    validator: t.isEnum(ON_TAINT_MODES),
    description: 'What the post-run audit (agent preset) does with what the run planted: revert (default), fail or warn',
  },
  {
    flag: '--allow-signals',
    values: [],
    group: 'policy',
    initial: false,
    description: 'Let the sandbox signal processes outside it (Landlock scope off)',
    add: ifOn((b) => b.landlock({ signals: true })),
  },
  {
    flag: '--allow-abstract-unix',
    values: [],
    group: 'policy',
    initial: false,
    description: 'Let the sandbox reach abstract unix sockets outside it (Landlock scope off)',
    add: ifOn((b) => b.landlock({ abstractUnix: true })),
  },

  // Where the plan starts from: a preset and its parameters, a config file.
  {
    flag: '--preset',
    values: ['NAME'],
    group: 'source',
    validator: t.isEnum(PRESET_NAMES),
    description: `Start from a preset (${PRESET_NAMES.join(', ')}); flags add to it and override it`,
  },
  {
    flag: '--image',
    values: ['PATH'],
    group: 'source',
    description: "Run in this image as the root, a directory or SquashFS file, read-only, with ch-run's defaults (the image preset: host /dev, /sys and network, a passwd, /tmp)",
  },
  { flag: '--write', values: [], group: 'source', initial: false, description: 'Let the program write to the --image directory itself' },
  { flag: '--write-fake', values: [], group: 'source', initial: false, description: 'Let the program write to the --image, in memory: the writes are gone after the run' },
  {
    flag: '--write-fake-size',
    values: ['SIZE'],
    group: 'source',
    validator: t.cascade(t.isString(), [t.matchesRegExp(/^[0-9]+[kmgKMG%]?$/)]),
    description: 'At most this much written with --write-fake, tmpfs syntax (1G, 512m, 12%; default 12%)',
  },
  { flag: '--home', values: [], group: 'source', initial: false, description: 'Bind your $HOME at /home/$USER in the --image, writable (implies --write-fake unless --write)' },
  { flag: '--private-tmp', values: [], group: 'source', initial: false, description: "A private /tmp in the --image instead of the host's $TMPDIR or /tmp" },
  { flag: '--cd', values: ['DIR'], group: 'source', description: 'Start in DIR of the --image (default /)' },
  { flag: '--fakeroot', values: [], group: 'source', initial: false, description: 'Root emulation in the --image: uid 0, chown, set*id and device mknod pretend to work (needs --write or --write-fake)' },
  {
    flag: '--image-omit',
    values: ['ITEM'],
    group: 'source',
    repeat: true,
    validator: t.isEnum(IMAGE_ITEMS),
    description: `Leave an item of the image preset out: ${IMAGE_ITEMS.join(', ')}`,
  },
  { flag: '--config', values: ['FILE'], group: 'source', description: 'Read this config file instead of looking for sandboxctl.json' },
  { flag: '--no-config', values: [], group: 'source', initial: false, description: 'Ignore sandboxctl.json files' },
  { flag: '--allow-env', values: ['NAME'], group: 'source', repeat: true, presetParam: 'allowEnv', description: 'Keep variable NAME whatever it holds (agent; a trailing * is a prefix)' },
  { flag: '--allow-home', values: ['PATH'], group: 'source', repeat: true, presetParam: 'allowHome', description: 'Show one more path of the home, read-only (agent; relative to the home)' },
  { flag: '--allow-socket', values: ['PATH'], group: 'source', repeat: true, presetParam: 'allowSocket', description: 'Leave the host socket at PATH reachable (agent, strict)' },
  {
    flag: '--allow-write',
    values: ['PATH'],
    group: 'source',
    repeat: true,
    description: 'Bind host PATH writable onto itself, and let the program write it although the preset protects it, e.g. ./build or .git/hooks (globs expanded)',
  },
  { flag: '--input', values: ['PATH'], group: 'source', repeat: true, presetParam: 'inputs', description: 'A path the build preset may read (default: the current directory)' },
  { flag: '--output', values: ['DIR'], group: 'source', presetParam: 'output', description: 'The directory the build preset may write (default: ./out)' },
  // Filesystem rules and limits (issue 14; docs/limits.md): read by the plan command into the plan's sources.
  { flag: '--deny-read', values: ['PATH'], group: 'source', repeat: true, description: 'Hide host PATH: a directory shows empty, a file reads as empty (globs expanded; relative to here, ~ your home)' },
  { flag: '--allow-read', values: ['PATH'], group: 'source', repeat: true, description: 'Show PATH again, read-only, inside a --deny-read directory' },
  { flag: '--deny-write', values: ['PATH'], group: 'source', repeat: true, description: 'Keep PATH read-only inside a writable tree; a missing PATH cannot be created' },
  { flag: '--memory', values: ['SIZE'], group: 'source', description: 'Memory of the whole sandbox, e.g. 512M or 2G (a cgroup: as root, or in a delegated cgroup v2 subtree)' },
  { flag: '--pids', values: ['N'], group: 'source', description: 'Processes and threads of the whole sandbox, its pid 1 included (a cgroup)' },
  { flag: '--cpus', values: ['N'], group: 'source', description: "CPUs' worth of time, e.g. 1.5 (a cgroup)" },
  { flag: '--timeout', values: ['DURATION'], group: 'source', description: 'After this wall time the program gets SIGTERM, and SIGKILL --timeout-grace later: 90s, 10m, 1h (a bare number is seconds)' },
  { flag: '--rlimit', values: ['LIMIT'], group: 'source', repeat: true, description: 'NAME=SOFT[:HARD]: setrlimit before the program starts, e.g. nofile=1024:4096 (as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack)' },
  // The network allow list (issue 14): the sandbox reaches these hosts through its proxy, nothing else.
  { flag: '--allow-host', values: ['HOST'], group: 'policy', repeat: true, description: 'Reach HOST through the sandbox\'s proxy: a name, *.domain (its subdomains), :PORT, an IP or [IPv6] literal', add: (p, x) => p.builder.allowHost(hostRule(p.flag, v(x, 0))) },
  {
    flag: '--allow-hosts',
    values: ['SETS'],
    group: 'policy',
    repeat: true,
    validator: t.cascade(t.isString(), [t.matchesRegExp(/^[a-z]+(,[a-z]+)*$/)]),
    description: `Reach the hosts of named sets, comma-separated: ${HOST_SETS.join(', ')}`,
    add: (p, x) => p.builder.allowHosts(...hostSets(p.flag, v(x, 0))),
  },
  { flag: '--deny-host', values: ['HOST'], group: 'policy', repeat: true, description: 'Refuse HOST even when an allow rule covers it (checked first; * refuses all)', add: (p, x) => p.builder.denyHost(hostRule(p.flag, v(x, 0), true)) },
  { flag: '--allow-local-binding', values: [], group: 'policy', initial: false, description: 'With an allow list: let the program listen on TCP ports of the sandbox\'s own loopback', add: ifOn((b) => b.allowLocalBinding()) },
  { flag: '--report', values: ['FILE'], group: 'other', description: 'Write what the policy refused (connections, system calls, the limit hit) as JSON lines to FILE (- for stderr) as it happens', add: (p) => p.builder.report() },
  { flag: '--timeout-grace', values: ['DURATION'], group: 'source', description: 'After --timeout\'s SIGTERM, the time the program has to clean up before SIGKILL: 10s, 500ms, 0 (default 5s)' },
];

/** A host rule checked now, so the error names the flag and the entry (E_PLAN_INVALID). */
function hostRule(flag: string, rule: string, deny = false): string {
  const problem = checkPlan({ version: 1, argv: ['true'], network: deny ? { allow: [], deny: [rule] } : { allow: [rule] } });
  if (problem) throw new SandboxError('E_PLAN_INVALID', `${flag} ${rule}: ${problem.message.replace(/^plan\.network\.\w+\[0\]: /, '')}`);
  return rule;
}

function hostSets(flag: string, list: string): HostSet[] {
  return list.split(',').map((name) => {
    if (!(HOST_SETS as readonly string[]).includes(name)) throw new SandboxError('E_PLAN_INVALID', `${flag} ${list}: unknown host set ${JSON.stringify(name)}`, { hint: `the sets are ${HOST_SETS.join(', ')}` });
    return name as HostSet;
  });
}

/** Flags of other commands that take values; their commands declare them with {@link clipanionOption}. */
export const OTHER_FLAGS: readonly FlagSpec[] = [
  { flag: '--json', values: [], group: 'other', initial: false, description: 'Print the result as JSON' },
  { flag: '--remove', values: ['FILE'], group: 'other', description: 'Stop trusting FILE' },
  { flag: '--plan', values: ['FILE'], group: 'other', description: 'Export the seccomp section of this plan file instead of a preset' },
  { flag: '--arch', values: ['ARCH'], group: 'other', description: "Target architecture: x86_64 or aarch64 (default: this machine's)" },
  { flag: '--filter', values: ['N'], group: 'other', description: 'Which filter to write when the policy stacks several, from 0 (default 0)' },
  // Live sandboxes: run's --name and --detach; exec, stop (packages/cli/src/commands/{exec,stop,ps}.ts).
  { flag: '--name', values: ['NAME'], group: 'other', validator: t.cascade(t.isString(), [t.matchesRegExp(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/)]), description: 'Name the sandbox and keep it reachable: sandboxctl exec, cp, stop NAME' },
  { flag: '--detach', values: [], group: 'other', initial: false, description: 'With a live sandbox: print its name once it runs and return; it outlives this command' },
  { flag: '--env', values: ['KEY=VALUE'], group: 'other', repeat: true, validator: t.cascade(t.isString(), [t.matchesRegExp(/^[A-Za-z_][A-Za-z0-9_]*=/)]), description: 'Set an environment variable for the program' },
  { flag: '--cwd', values: ['DIR'], group: 'other', description: "Working directory inside the sandbox (default: the sandbox's)" },
  { flag: '--timeout', values: ['SECONDS'], group: 'other', validator: t.cascade(t.isNumber(), [t.isAtLeast(0)]), description: 'Seconds between SIGTERM and SIGKILL (default 10)' },
  { flag: '--platform', values: ['OS/ARCH'], group: 'other', description: "OS/ARCH[/VARIANT] of the image to take from a multi-platform index (default: this host's)" },
  { flag: '--compression', values: ['ALGO'], group: 'other', description: 'SquashFS compression: gzip (default), zstd or xz' },
  // run --join: ranks that share one sandbox (docs/hpc.md; packages/core/src/launcher/join.ts checks the values).
  { flag: '--join', values: [], group: 'other', initial: false, description: 'Share one sandbox with the peers started alongside (srun, mpirun or by hand): one builds it, every peer runs its program in it' },
  { flag: '--join-ct', values: ['N'], group: 'other', description: 'How many peers share it (implies --join; default from OMPI_COMM_WORLD_LOCAL_SIZE, SLURM_STEP_TASKS_PER_NODE or SLURM_CPUS_ON_NODE)' },
  { flag: '--join-tag', values: ['TAG'], group: 'other', description: "The peer group's name (implies --join; default SLURM_JOB_ID.SLURM_STEP_ID, else the parent's pid)" },
  { flag: '--join-timeout', values: ['SECONDS'], group: 'other', validator: t.cascade(t.isNumber(), [t.isAtLeast(0)]), description: 'Seconds the peers have to come (default 30)' },
  { flag: '--join-pid', values: ['PID'], group: 'other', description: 'Run the program in the running sandbox that holds process PID (yours; see sandboxctl ps)' },
];

const BY_FLAG: ReadonlyMap<string, FlagSpec> = new Map(
  // A plan flag's entry wins where another command uses the same name (`--preset`, `--keep-session`).
  [...OTHER_FLAGS, ...PLAN_FLAGS].flatMap((spec): [string, FlagSpec][] => (spec.short ? [[spec.flag, spec], [spec.short, spec]] : [[spec.flag, spec]])),
);

/** The table's entry for `flag`. */
export function flagSpec(flag: string): FlagSpec | undefined {
  return BY_FLAG.get(flag);
}

/** The names of the values `flag` takes (`['SRC', 'DEST']`), for help. */
export function valueNames(flag: string): readonly string[] | undefined {
  return BY_FLAG.get(flag)?.values;
}

/** The command property that holds a flag's value: the flag in camelCase (`--ro-bind` → `roBind`). */
export function flagKey(flag: string): string {
  return flag.slice(2).replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The clipanion option for a flag of the table; a command may give its own description or validator. */
export function clipanionOption(flag: string, own: { description?: string; validator?: Validator } = {}): unknown {
  const spec = BY_FLAG.get(flag);
  if (spec === undefined) throw new Error(`assertion failed: ${flag} is not in the flag table`);
  const description = own.description ?? spec.description;
  const validator = own.validator ?? spec.validator;
  const arity = spec.values.length;
  const names = spec.short ? `${spec.short},${flag}` : flag;
  if (arity === 0) return spec.initial === false ? Option.Boolean(names, false, { description }) : Option.Boolean(names, { description });
  if (spec.repeat) return Option.Array(names, { arity, description, ...(validator && { validator: t.isArray(validator) }) });
  return Option.String(names, { description, ...(validator && { validator }) });
}

/** One flag occurrence in argv order. */
export interface FlagOccurrence {
  flag: string;
  /** `--no-NAME` form of a boolean. */
  negated: boolean;
  /** Index of the flag in the scanned args. */
  index: number;
}

/**
 * Flag names in argv order, from `args[start]` up to `--` or the first
 * positional (the program). Only for args clipanion has already accepted:
 * an unknown flag here is a bug, not a usage error.
 */
export function scanFlagOrder(args: readonly string[], start: number, arity: (flag: string) => number | undefined): FlagOccurrence[] {
  const found: FlagOccurrence[] = [];
  let i = start;
  while (i < args.length) {
    const arg = args[i]!;
    if (arg === '--' || arg === '-' || !arg.startsWith('-')) break;
    const bound = /^(--[^=]+)=/.exec(arg);
    if (bound) {
      const flag = bound[1]!;
      const n = arity(flag);
      // clipanion binds `=` only for one-value flags: `--ro-bind=/ /x` is a mistake.
      if (n !== undefined && n > 1) {
        throw usage(`${flag} takes ${n} values and they cannot be joined with =`, `write them apart: \`${flag} ${['A', 'B', 'C'].slice(0, n).join(' ')}\``);
      }
      if (n !== 1) throw new Error(`assertion failed: unexpected ${arg} at argument ${i}`);
      found.push({ flag, negated: false, index: i });
      i += 1;
      continue;
    }
    const negatedName = arg.startsWith('--no-') ? `--${arg.slice(5)}` : undefined;
    if (arity(arg) === undefined && negatedName !== undefined && arity(negatedName) === 0) {
      found.push({ flag: negatedName, negated: true, index: i });
      i += 1;
      continue;
    }
    const n = arity(arg);
    if (n === undefined) throw new Error(`assertion failed: unexpected ${arg} at argument ${i}`);
    found.push({ flag: arg, negated: false, index: i });
    i += 1 + n;
  }
  return found;
}

/** What the pass made: the plan's own part, and for each of its ops the flag as typed. */
export interface AppliedFlags {
  builder: PlanBuilder;
  /** `--bind /a /b` for each op of the builder, same index. */
  opOrigins: string[];
}

/**
 * The one ordered pass: each flag occurrence in `order` adds to `builder`
 * as its table entry says, with the value clipanion validated (`values(spec)`:
 * the list of a repeated flag, the final value of another). Throws
 * `E_USAGE` for misplaced modifiers and layers and unreadable fds.
 */
export function applyFlags(
  builder: PlanBuilder,
  order: readonly FlagOccurrence[],
  values: (spec: FlagSpec) => FlagValue | readonly FlagValue[] | undefined,
  readFd: FdReader = readFdText,
): AppliedFlags {
  const pass: FlagPass = { builder, readFd, flag: '', mods: {}, lowers: [] };
  const opOrigins: string[] = [];
  const used = new Map<FlagSpec, number>();
  const last = new Map<string, number>();
  order.forEach((o, i) => last.set(o.flag, i));

  order.forEach(({ flag }, position) => {
    const spec = BY_FLAG.get(flag);
    if (spec === undefined) throw new Error(`assertion failed: ${flag} is not in the flag table`);
    let value: FlagValue | undefined;
    if (spec.repeat) {
      const index = used.get(spec) ?? 0;
      used.set(spec, index + 1);
      // clipanion filled each list from the same argv scanned here.
      value = (values(spec) as readonly FlagValue[] | undefined)?.[index];
      if (value === undefined) throw new Error(`assertion failed: no value ${index} for ${flag}`);
    } else {
      // The last occurrence set the final value (`--no-clearenv` shares the name).
      if (position !== last.get(flag)) return;
      value = values(spec) as FlagValue | undefined;
      if (value === undefined) return;
    }
    if (!spec.add) return;
    pass.flag = flag;
    if (!spec.op) {
      spec.add(pass, value);
      return;
    }
    for (const name of ['perms', 'size'] as const) {
      const mod = pass.mods[name];
      if (mod && !spec.op.takes?.includes(name)) {
        throw usage(`${mod.flag} cannot apply to ${flag}`, `${mod.flag.split(' ')[0]} only modifies the next ${takers(name)}`);
      }
    }
    if (pass.lowers.length > 0 && !spec.op.overlay) {
      throw usage(`--overlay-src ${pass.lowers[pass.lowers.length - 1]} is followed by ${flag}`, 'put --overlay-src right before --overlay, --tmp-overlay or --ro-overlay');
    }
    if (spec.op.overlay && pass.lowers.length === 0) {
      throw usage(`${flag} needs --overlay-src layers before it`, `e.g. \`--overlay-src /srv/base ${flag} …\``);
    }
    spec.add(pass, value);
    if (spec.op.overlay) pass.lowers = [];
    opOrigins[builder.ops.length - 1] = [flag, ...strings(value)].map(shellWord).join(' ');
    delete pass.mods.perms;
    delete pass.mods.size;
  });

  for (const [spec, count] of used) {
    const list = values(spec) as readonly FlagValue[] | undefined;
    if ((list?.length ?? 0) !== count) throw new Error(`assertion failed: ${spec.flag} has ${list?.length} values, argv ${count}`);
  }
  if (pass.lowers.length > 0) {
    throw usage(`--overlay-src ${pass.lowers[0]} is not followed by an overlay op`, 'end the layers with --overlay, --tmp-overlay or --ro-overlay');
  }
  const dangling = pass.mods.perms ?? pass.mods.size;
  if (dangling) {
    const which = pass.mods.perms ? 'perms' : 'size';
    throw usage(`${dangling.flag} is not followed by an op`, `put it right before the ${takers(which)} it modifies`);
  }
  return { builder, opOrigins };
}

/** Flags taking ops that accept each modifier, for error messages. */
function takers(modifier: Modifier): string {
  const names = PLAN_FLAGS.filter((f) => f.op?.takes?.includes(modifier)).map((f) => f.flag);
  return names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

/** ch-run's `--bind SRC[:DST]`, with its error messages. */
export function imageBind(arg: string): { source: string; target: string } {
  const colon = arg.indexOf(':');
  const source = colon < 0 ? arg : arg.slice(0, colon);
  const target = colon < 0 ? arg : arg.slice(colon + 1);
  const hint = 'e.g. --image-bind /data:/mnt/data';
  if (source === '') throw usage('--image-bind: no source provided', hint);
  if (target === '') throw usage('--image-bind: no destination provided', hint);
  if (!target.startsWith('/')) throw usage('--image-bind: destination must be absolute', hint);
  if (/^\/+$/.test(target)) throw usage("--image-bind: destination can't be /", hint);
  return { source, target };
}

function fdNumber(flag: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 0x7fff_ffff) {
    throw usage(`${flag} takes a file descriptor number, got ${JSON.stringify(text)}`, `e.g. \`${flag} 3 /data 3</srv/data\``);
  }
  return Number(text);
}

function fromFd(flag: string, fdText: string, readFd: FdReader): string {
  if (!/^\d+$/.test(fdText) || Number(fdText) > 0x7fff_ffff) {
    throw usage(`${flag} takes a file descriptor number, got ${JSON.stringify(fdText)}`, `e.g. \`${flag} 3 /etc/hostname 3<hostname.txt\``);
  }
  const fd = Number(fdText);
  try {
    return readFd(fd);
  } catch (error) {
    if ((error as NodeJS.ErrnoException | undefined)?.code === 'EBADF') throw closedFd(flag, fd);
    const invalid = (error as NodeJS.ErrnoException | undefined)?.code === 'ERR_ENCODING_INVALID_ENCODED_DATA';
    const reason = invalid ? 'not valid UTF-8' : describeIoError(error);
    throw usage(`cannot read ${flag} fd ${fd}: ${reason}`, `open the fd in the shell, e.g. \`${flag} ${fd} DEST ${fd}<FILE\``);
  }
}

/** A value as the user could retype it; long ones are cut. */
function shellWord(value: string): string {
  const cut = value.length > 40 ? `${value.slice(0, 37)}...` : value;
  return /^[\w@%+=:,./-]+$/.test(cut) ? cut : `'${cut.replace(/'/g, `'\\''`)}'`;
}

/** `E_PLAN_INVALID` for a caller fd that is not open, naming the flag. */
export function closedFd(flag: string, fd: number): SandboxError {
  return new SandboxError('E_PLAN_INVALID', `${flag} ${fd}: fd ${fd} is not open`, {
    hint: `open fd ${fd} where sandboxctl is started, e.g. end the command with \`${fd}<FILE\``,
  });
}

export function usage(message: string, hint?: string): SandboxError {
  return new SandboxError('E_USAGE', message, { hint });
}

function describeIoError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EBADF') return 'bad file descriptor';
  if (code === 'EISDIR') return 'is a directory';
  return error instanceof Error ? error.message : String(error);
}
