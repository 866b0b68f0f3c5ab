/**
 * The bubblewrap-style flags shared by `run` and `plan`, and their conversion
 * into a plan.
 *
 * Ops apply in argv order, but clipanion 3 collects each option into its own
 * array and forgets how different options interleave. So clipanion parses and
 * validates (help, typanion validators, `--flag=value`), and afterwards
 * {@link scanFlagOrder} re-reads the raw argv, which `main` passes in the
 * context, only for the order of flag names: the k-th `--bind` in argv takes
 * the k-th entry of `this.bind`, already validated. The scanner skips values
 * by arity from {@link FLAG_ARITY}; a unit test checks that table against the
 * options clipanion registered. `--perms` and `--size` modify the op that
 * follows them; `--setenv`, `--unsetenv` and `--clearenv` also apply in order,
 * as in bubblewrap.
 */

import { closeSync, readFileSync } from 'node:fs';
import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { PlanBuilder, SandboxError } from '@sandboxctl/core';
import type { SandboxctlContext } from './context';

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

/** Modifier values waiting for the op they apply to. */
interface Modifiers {
  perms?: { mode: number; flag: string };
  size?: { bytes: number; flag: string };
}

type ModifierName = keyof Modifiers;

/** `--overlay-src` layers waiting for the overlay op that takes them. */
interface PendingLowers {
  lowers: string[];
}

/** An op flag: the command property holding its values, and how it builds the op. */
interface OpFlag {
  key: OpKey;
  arity: 1 | 2 | 3;
  /** Which modifiers the op accepts. */
  takes: readonly ModifierName[];
  /** Takes the pending `--overlay-src` layers. */
  overlay?: true;
  apply(builder: PlanBuilder, values: readonly string[], mods: Modifiers, readFd: FdReader, flag: string, lowers: string[]): void;
}

function fdNumber(flag: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 0x7fff_ffff) {
    throw usage(`${flag} takes a file descriptor number, got ${JSON.stringify(text)}`, `e.g. \`${flag} 3 /data 3</srv/data\``);
  }
  return Number(text);
}

const FILE_MODIFIERS: readonly ModifierName[] = ['perms'];

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

const OP_FLAGS: Readonly<Record<string, OpFlag>> = {
  '--bind': { arity: 2, key: 'bind', takes: [], apply: (b, [s, d]) => b.bind(s!, d!) },
  '--bind-try': { arity: 2, key: 'bindTry', takes: [], apply: (b, [s, d]) => b.bindTry(s!, d!) },
  '--ro-bind': { arity: 2, key: 'roBind', takes: [], apply: (b, [s, d]) => b.roBind(s!, d!) },
  '--ro-bind-try': { arity: 2, key: 'roBindTry', takes: [], apply: (b, [s, d]) => b.roBindTry(s!, d!) },
  '--dev-bind': { arity: 2, key: 'devBind', takes: [], apply: (b, [s, d]) => b.devBind(s!, d!) },
  '--dev-bind-try': { arity: 2, key: 'devBindTry', takes: [], apply: (b, [s, d]) => b.devBindTry(s!, d!) },
  '--proc': { arity: 1, key: 'proc', takes: [], apply: (b, [d]) => b.proc(d!) },
  '--dev': { arity: 1, key: 'dev', takes: [], apply: (b, [d]) => b.dev(d!) },
  '--tmpfs': {
    arity: 1,
    key: 'tmpfs',
    takes: ['perms', 'size'],
    apply: (b, [d], m) => b.tmpfs(d!, { mode: m.perms?.mode, size: m.size?.bytes }),
  },
  '--dir': { arity: 1, key: 'dir', takes: ['perms'], apply: (b, [d], m) => b.dir(d!, { mode: m.perms?.mode }) },
  '--symlink': { arity: 2, key: 'symlink', takes: [], apply: (b, [link, d]) => b.symlink(link!, d!) },
  '--file': {
    arity: 2,
    key: 'file',
    takes: FILE_MODIFIERS,
    apply: (b, [fd, d], m, readFd, flag) => b.file(d!, fromFd(flag, fd!, readFd), { mode: m.perms?.mode }),
  },
  '--ro-bind-data': {
    arity: 2,
    key: 'roBindData',
    takes: FILE_MODIFIERS,
    apply: (b, [fd, d], m, readFd, flag) => b.file(d!, fromFd(flag, fd!, readFd), { mode: m.perms?.mode }),
  },
  '--file-data': {
    arity: 2,
    key: 'fileData',
    takes: FILE_MODIFIERS,
    apply: (b, [text, d], m) => b.file(d!, text!, { mode: m.perms?.mode }),
  },
  '--remount-ro': { arity: 1, key: 'remountRo', takes: [], apply: (b, [d]) => b.remountRo(d!) },
  '--overlay': { arity: 3, key: 'overlay', takes: [], overlay: true, apply: (b, [up, work, d], _m, _r, _f, lowers) => b.overlay(d!, lowers, up!, work!) },
  '--tmp-overlay': { arity: 1, key: 'tmpOverlay', takes: [], overlay: true, apply: (b, [d], _m, _r, _f, lowers) => b.tmpOverlay(d!, lowers) },
  '--ro-overlay': {
    arity: 1,
    key: 'roOverlay',
    takes: [],
    overlay: true,
    apply: (b, [d], _m, _r, flag, lowers) => {
      if (lowers.length < 2) throw usage(`${flag} needs at least two --overlay-src layers`, 'give --overlay-src twice or more before it');
      b.roOverlay(d!, lowers);
    },
  },
  '--mqueue': { arity: 1, key: 'mqueue', takes: [], apply: (b, [d]) => b.mqueue(d!) },
  '--chmod': {
    arity: 2,
    key: 'chmod',
    takes: [],
    apply: (b, [mode, d], _m, _r, flag) => {
      if (!/^[0-7]{1,4}$/.test(mode!)) throw usage(`${flag} ${mode} is not a permission mode`, 'use octal, e.g. --chmod 0700 /work');
      b.chmod(d!, parseInt(mode!, 8));
    },
  },
  '--bind-fd': { arity: 2, key: 'bindFd', takes: [], apply: (b, [fd, d], _m, _r, flag) => b.bindFd(fdNumber(flag, fd!), d!, { writable: true }) },
  '--ro-bind-fd': { arity: 2, key: 'roBindFd', takes: [], apply: (b, [fd, d], _m, _r, flag) => b.bindFd(fdNumber(flag, fd!), d!) },
  '--autoetc': { arity: 1, key: 'autoetc', takes: [], apply: (b, [d]) => b.autoetc(d) },
  '--autoroot': { arity: 1, key: 'autoroot', takes: [], apply: (b, [d]) => b.autoroot(d) },
  '--passwd': { arity: 1, key: 'passwd', takes: [], apply: (b, [d]) => b.passwd(d) },
};

/** Flags taking ops that accept each modifier, for error messages. */
function takers(modifier: ModifierName): string {
  const names = Object.entries(OP_FLAGS)
    .filter(([, f]) => f.takes.includes(modifier))
    .map(([name]) => name);
  return names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

type OpKey =
  | 'bind'
  | 'bindTry'
  | 'roBind'
  | 'roBindTry'
  | 'devBind'
  | 'devBindTry'
  | 'proc'
  | 'dev'
  | 'tmpfs'
  | 'dir'
  | 'symlink'
  | 'file'
  | 'roBindData'
  | 'fileData'
  | 'remountRo'
  | 'overlay'
  | 'tmpOverlay'
  | 'roOverlay'
  | 'mqueue'
  | 'chmod'
  | 'bindFd'
  | 'roBindFd'
  | 'autoetc'
  | 'autoroot'
  | 'passwd';

/** Arity of the flags of {@link PlanFlagsCommand} that are not ops. */
const OTHER_FLAG_ARITY: Readonly<Record<string, number>> = {
  '--perms': 1,
  '--size': 1,
  '--share-net': 0,
  '--unshare-net': 0,
  '--unshare-all': 0,
  '--unshare-user': 0,
  '--unshare-user-try': 0,
  '--unshare-pid': 0,
  '--unshare-ipc': 0,
  '--unshare-uts': 0,
  '--unshare-cgroup': 0,
  '--unshare-cgroup-try': 0,
  '--die-with-parent': 0,
  '--new-session': 0,
  '--uid': 1,
  '--gid': 1,
  '--hostname': 1,
  '--chdir': 1,
  '--setenv': 2,
  '--unsetenv': 1,
  '--clearenv': 0,
  '--seccomp': 1,
  '--linger-ms': 1,
  '--overlay-src': 1,
  '--cap-add': 1,
  '--cap-drop': 1,
  '--argv0': 1,
  '--json-status-fd': 1,
  '--pass-fd': 1,
  '--keep-session': 0,
  '--tty': 0,
  '--allow-signals': 0,
  '--allow-abstract-unix': 0,
  '--on-taint': 1,
};

/** How many values each flag of {@link PlanFlagsCommand} takes (0: a boolean). */
export const FLAG_ARITY: Readonly<Record<string, number>> = {
  ...Object.fromEntries(Object.entries(OP_FLAGS).map(([name, f]) => [name, f.arity])),
  ...OTHER_FLAG_ARITY,
};

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
export function scanFlagOrder(
  args: readonly string[],
  start: number,
  arity: Readonly<Record<string, number>>,
): FlagOccurrence[] {
  const found: FlagOccurrence[] = [];
  let i = start;
  while (i < args.length) {
    const arg = args[i]!;
    if (arg === '--' || arg === '-' || !arg.startsWith('-')) break;
    const bound = /^(--[^=]+)=/.exec(arg);
    if (bound) {
      const flag = bound[1]!;
      const n = arity[flag];
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
    if (arity[arg] === undefined && negatedName !== undefined && arity[negatedName] === 0) {
      found.push({ flag: negatedName, negated: true, index: i });
      i += 1;
      continue;
    }
    const n = arity[arg];
    if (n === undefined) throw new Error(`assertion failed: unexpected ${arg} at argument ${i}`);
    found.push({ flag: arg, negated: false, index: i });
    i += 1 + n;
  }
  return found;
}

/**
 * The flags of `run` and `plan`. Not registered itself; the commands extend it.
 * Property names mirror the flags; `planBuilder()` turns them into a plan.
 */
export abstract class PlanFlagsCommand extends Command<SandboxctlContext> {
  /** Flags a subclass adds, with their arity, for the order scanner. */
  static extraFlagArity: Readonly<Record<string, number>> = {};

  // Ops, applied in argv order.
  bind = Option.Array('--bind', { arity: 2, description: 'Bind host path SRC read-write on DEST' });
  bindTry = Option.Array('--bind-try', { arity: 2, description: 'Like --bind, skipped when SRC does not exist' });
  roBind = Option.Array('--ro-bind', { arity: 2, description: 'Bind host path SRC read-only on DEST' });
  roBindTry = Option.Array('--ro-bind-try', { arity: 2, description: 'Like --ro-bind, skipped when SRC does not exist' });
  devBind = Option.Array('--dev-bind', { arity: 2, description: 'Bind SRC read-write on DEST, device nodes usable' });
  devBindTry = Option.Array('--dev-bind-try', { arity: 2, description: 'Like --dev-bind, skipped when SRC does not exist' });
  proc = Option.Array('--proc', { description: 'Mount a private proc on DEST' });
  dev = Option.Array('--dev', { description: 'Mount a minimal /dev on DEST' });
  tmpfs = Option.Array('--tmpfs', { description: 'Mount a tmpfs on DEST (takes --perms, --size)' });
  dir = Option.Array('--dir', { description: 'Create directory DEST (takes --perms)' });
  symlink = Option.Array('--symlink', { arity: 2, description: 'Create symlink DEST pointing to SRC' });
  file = Option.Array('--file', { arity: 2, description: 'Copy the contents of fd FD to read-only file DEST (takes --perms)' });
  roBindData = Option.Array('--ro-bind-data', { arity: 2, description: 'Same as --file FD DEST' });
  fileData = Option.Array('--file-data', { arity: 2, description: 'Create read-only file DEST holding TEXT (takes --perms)' });
  remountRo = Option.Array('--remount-ro', { description: 'Remount DEST read-only' });
  overlaySrc = Option.Array('--overlay-src', { description: 'A lower layer (host dir) for the next overlay op; repeat, uppermost first' });
  overlay = Option.Array('--overlay', { arity: 3, description: 'Overlay on DEST of the --overlay-src layers, writes to host dir RWSRC (WORKDIR: empty, same filesystem)' });
  tmpOverlay = Option.Array('--tmp-overlay', { description: 'Overlay on DEST of the --overlay-src layers, writes kept in memory and dropped' });
  roOverlay = Option.Array('--ro-overlay', { description: 'Read-only overlay on DEST of two or more --overlay-src layers' });
  mqueue = Option.Array('--mqueue', { description: 'Mount a POSIX message queue filesystem on DEST' });
  chmod = Option.Array('--chmod', { arity: 2, description: 'Change the mode of PATH to octal OCTAL' });
  bindFd = Option.Array('--bind-fd', { arity: 2, description: 'Bind what fd FD names (an open dir or file) read-write on DEST' });
  roBindFd = Option.Array('--ro-bind-fd', { arity: 2, description: 'Bind what fd FD names read-only on DEST' });
  autoetc = Option.Array('--autoetc', { description: "The host's /etc on DEST (usually /etc) through one symlink per entry" });
  autoroot = Option.Array('--autoroot', { description: 'Every top-level host entry but proc, dev, tmp, mnt, etc on DEST (usually /), read-only' });
  passwd = Option.Array('--passwd', { description: 'Synthesized passwd and group for the sandbox user in directory DEST (usually /etc)' });
  perms = Option.Array('--perms', {
    description: 'Octal permission bits for the next --tmpfs, --dir or file op',
    validator: t.isArray(isOctal),
  });
  size = Option.Array('--size', {
    description: 'Size limit in bytes for the next --tmpfs',
    validator: t.isArray(isByteCount),
  });

  // Policy.
  shareNet = Option.Boolean('--share-net', false, { description: "Use the host's network (default: none, loopback only)" });
  unshareNet = Option.Boolean('--unshare-net', false, { description: 'New network namespace (the default)' });
  unshareAll = Option.Boolean('--unshare-all', false, { description: 'Accepted for bubblewrap compatibility: the default' });
  unshareUser = Option.Boolean('--unshare-user', false, { description: 'Accepted for bubblewrap compatibility: the default' });
  unshareUserTry = Option.Boolean('--unshare-user-try', false, { description: 'Accepted for bubblewrap compatibility: the default' });
  unsharePid = Option.Boolean('--unshare-pid', false, { description: 'Accepted for bubblewrap compatibility: the default' });
  unshareIpc = Option.Boolean('--unshare-ipc', false, { description: 'Accepted for bubblewrap compatibility: the default' });
  unshareUts = Option.Boolean('--unshare-uts', false, { description: 'Accepted for bubblewrap compatibility: the default' });
  unshareCgroup = Option.Boolean('--unshare-cgroup', false, { description: 'Accepted for bubblewrap compatibility: the default' });
  unshareCgroupTry = Option.Boolean('--unshare-cgroup-try', false, { description: 'Accepted for bubblewrap compatibility: the default' });
  dieWithParent = Option.Boolean('--die-with-parent', false, { description: 'Accepted for bubblewrap compatibility: the default' });
  newSession = Option.Boolean('--new-session', false, { description: 'Accepted for bubblewrap compatibility: the default' });
  uid = Option.String('--uid', { description: 'User id inside the sandbox (default: yours)', validator: isUint32 });
  gid = Option.String('--gid', { description: 'Group id inside the sandbox (default: yours)', validator: isUint32 });
  hostname = Option.String('--hostname', { description: 'Hostname inside the sandbox' });
  chdir = Option.String('--chdir', { description: 'Working directory inside the sandbox' });
  setenv = Option.Array('--setenv', { arity: 2, description: 'Set environment variable VAR to VALUE' });
  unsetenv = Option.Array('--unsetenv', { description: 'Remove environment variable VAR' });
  clearenv = Option.Boolean('--clearenv', false, { description: 'Start from an empty environment' });
  seccomp = Option.String('--seccomp', {
    description: 'System call filter: strict (default) or none',
    validator: t.isEnum(['strict', 'none'] as const),
  });
  lingerMs = Option.String('--linger-ms', {
    description: 'How long processes left behind may run after the program exits (default 5000)',
    validator: isUint32,
  });
  capAdd = Option.Array('--cap-add', { description: 'Keep capability CAP (e.g. CAP_NET_ADMIN, or ALL) inside the user namespace' });
  capDrop = Option.Array('--cap-drop', { description: 'Drop capability CAP again (after --cap-add ALL)' });
  argv0 = Option.String('--argv0', { description: 'argv[0] as the program sees it' });
  jsonStatusFd = Option.String('--json-status-fd', { description: 'Write {"child-pid": N} then {"exit-code": N} lines to fd FD', validator: isUint32 });
  passFd = Option.Array('--pass-fd', { description: 'Pass open fd FD into the program at the same number (others are closed)', validator: t.isArray(isUint32) });
  keepSession = Option.Boolean('--keep-session', false, { description: "Keep the caller's session (job control); TIOCSTI stays refused" });
  tty = Option.Boolean('--tty', {
    description: "Give the program a pseudo-terminal of its own relayed to yours, as docker run -it (run's default when stdin and stdout are terminals and the sandbox has a private /dev); --no-tty: never",
  });
  onTaint = Option.String('--on-taint', {
    description: 'What the post-run audit (agent preset) does with what the run planted: revert (default), fail or warn',
    validator: t.isEnum(['revert', 'fail', 'warn'] as const),
  });
  allowSignals = Option.Boolean('--allow-signals', false, { description: 'Let the sandbox signal processes outside it (Landlock scope off)' });
  allowAbstractUnix = Option.Boolean('--allow-abstract-unix', false, { description: 'Let the sandbox reach abstract unix sockets outside it (Landlock scope off)' });

  // The program.
  program = Option.String({ name: 'command', required: true });
  args = Option.Proxy({ name: 'args' });

  /** For each plan op, the flag and values it came from, as typed. */
  private opOrigins: string[] = [];

  /**
   * The plan the flags describe. Throws `E_USAGE` for misplaced modifiers and
   * unreadable fds. `--file` fds are read (and closed) here.
   */
  planBuilder(readFd: FdReader = readFdText): PlanBuilder {
    const builder = new PlanBuilder([this.program, ...this.args]);
    const used = new Map<string, number>();
    const take = <T>(key: string, list: readonly T[] | undefined): T => {
      const index = used.get(key) ?? 0;
      used.set(key, index + 1);
      const value = list?.[index];
      // clipanion filled each list from the same argv scanned here.
      if (value === undefined) throw new Error(`assertion failed: no value ${index} for ${key}`);
      return value;
    };
    const mods: Modifiers = {};
    const pending: PendingLowers = { lowers: [] };
    const order = this.flagOrder();
    let lastClearenv = -1;
    order.forEach((o, i) => {
      if (o.flag === '--clearenv') lastClearenv = i;
    });

    order.forEach(({ flag }, position) => {
      const opFlag = OP_FLAGS[flag];
      if (opFlag) {
        const raw = take<string | readonly string[]>(opFlag.key, this[opFlag.key]);
        for (const name of ['perms', 'size'] as const) {
          const mod = mods[name];
          if (mod && !opFlag.takes.includes(name)) {
            throw usage(`${mod.flag} cannot apply to ${flag}`, `${mod.flag.split(' ')[0]} only modifies the next ${takers(name)}`);
          }
        }
        const values = typeof raw === 'string' ? [raw] : raw;
        if (pending.lowers.length > 0 && !opFlag.overlay) {
          throw usage(`--overlay-src ${pending.lowers[pending.lowers.length - 1]} is followed by ${flag}`, 'put --overlay-src right before --overlay, --tmp-overlay or --ro-overlay');
        }
        if (opFlag.overlay && pending.lowers.length === 0) {
          throw usage(`${flag} needs --overlay-src layers before it`, `e.g. \`--overlay-src /srv/base ${flag} …\``);
        }
        opFlag.apply(builder, values, mods, readFd, flag, pending.lowers);
        if (opFlag.overlay) pending.lowers = [];
        this.opOrigins[builder.ops.length - 1] = [flag, ...values].map(shellWord).join(' ');
        delete mods.perms;
        delete mods.size;
        return;
      }
      switch (flag) {
        case '--perms': {
          const text = take<string>('perms', this.perms);
          if (mods.perms) throw usage(`${flag} given twice before the same op`, 'give one --perms per op');
          const mode = parseInt(text, 8);
          if (mode > MAX_MODE) throw usage(`${flag} ${text} is not a permission mode`, 'use at most four octal digits, e.g. --perms 0755');
          mods.perms = { mode, flag: `${flag} ${text}` };
          return;
        }
        case '--size': {
          const bytes = take<number>('size', this.size);
          if (mods.size) throw usage(`${flag} given twice before the same op`, 'give one --size per --tmpfs');
          mods.size = { bytes, flag: `${flag} ${bytes}` };
          return;
        }
        case '--overlay-src':
          pending.lowers.push(take<string>('overlaySrc', this.overlaySrc));
          return;
        case '--setenv': {
          const [name, value] = take<[string, string]>('setenv', this.setenv);
          builder.setenv(name, value);
          return;
        }
        case '--unsetenv':
          builder.unsetenv(take<string>('unsetenv', this.unsetenv));
          return;
        case '--clearenv':
          // `--no-clearenv` shares the name: the last occurrence decides,
          // and it is the one that set the final value.
          if (position === lastClearenv && this.clearenv) builder.clearenv();
          return;
      }
    });

    for (const [key, count] of used) {
      const list = (this as unknown as Record<string, unknown[] | undefined>)[key];
      if ((list?.length ?? 0) !== count) throw new Error(`assertion failed: ${key} has ${list?.length} values, argv ${count}`);
    }

    if (pending.lowers.length > 0) {
      throw usage(`--overlay-src ${pending.lowers[0]} is not followed by an overlay op`, 'end the layers with --overlay, --tmp-overlay or --ro-overlay');
    }
    const dangling = mods.perms ?? mods.size;
    if (dangling) {
      const which = mods.perms ? 'perms' : 'size';
      throw usage(`${dangling.flag} is not followed by an op`, `put it right before the ${takers(which)} it modifies`);
    }

    if (this.shareNet) builder.shareNet();
    if (this.uid !== undefined) builder.uid(this.uid);
    if (this.gid !== undefined) builder.gid(this.gid);
    if (this.hostname !== undefined) builder.hostname(this.hostname);
    if (this.chdir !== undefined) builder.cwd(this.chdir);
    if (this.seccomp !== undefined) builder.seccomp(this.seccomp);
    if (this.lingerMs !== undefined) builder.lingerMs(this.lingerMs);
    for (const cap of this.capAdd ?? []) builder.capAdd(cap);
    for (const cap of this.capDrop ?? []) builder.capDrop(cap);
    if (this.argv0 !== undefined) builder.argv0(this.argv0);
    if (this.jsonStatusFd !== undefined) builder.statusFd(this.jsonStatusFd);
    for (const fd of this.passFd ?? []) builder.passFd(fd);
    if (this.keepSession) builder.keepSession();
    if (this.tty !== undefined) builder.tty(this.tty);
    if (this.allowSignals || this.allowAbstractUnix) builder.landlock({ signals: this.allowSignals, abstractUnix: this.allowAbstractUnix });
    return builder;
  }

  /**
   * Names the flag behind a plan error: `plan.ops[2] (bind): ...` gains
   * `(from --bind /nope /x)`. Other errors pass through.
   */
  explain(error: unknown): unknown {
    if (!(error instanceof SandboxError) || error.opIndex === undefined) return error;
    const origin = this.opOrigins[error.opIndex];
    if (origin === undefined) return error;
    return new SandboxError(error.code, `${error.message} (from ${origin})`, {
      opIndex: error.opIndex,
      path: error.path,
      hint: error.hint,
      exitStatus: error.exitStatus,
      cause: error,
    });
  }

  /** The flags in argv order, from the raw args `main` put in the context. */
  private flagOrder(): FlagOccurrence[] {
    const argv = this.context.argv;
    if (!Array.isArray(argv) || this.path.some((part, i) => argv[i] !== part)) {
      throw new Error('assertion failed: the context lacks the raw args (run commands through main())');
    }
    const extra = (this.constructor as unknown as typeof PlanFlagsCommand).extraFlagArity;
    return scanFlagOrder(argv, this.path.length, { ...FLAG_ARITY, ...extra });
  }
}

/** `static schema` of the commands that extend {@link PlanFlagsCommand}. */
export const PLAN_FLAGS_SCHEMA = [t.hasMutuallyExclusiveKeys(['shareNet', 'unshareNet'], { missingIf: 'falsy' })];

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

function usage(message: string, hint?: string): SandboxError {
  return new SandboxError('E_USAGE', message, { hint });
}

function describeIoError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EBADF') return 'bad file descriptor';
  if (code === 'EISDIR') return 'is a directory';
  return error instanceof Error ? error.message : String(error);
}
