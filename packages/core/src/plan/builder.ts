/**
 * The typed plan builder. Ops are the generated discriminated union
 * (`{ kind: 'bind', ... }`); the builder appends them in call order, which is
 * the order the launcher applies them in. It writes only what the caller set:
 * every omitted field takes the Rust side's default, and validation is left to
 * the native `checkPlan`, the one source of truth.
 */

import type { AutoetcOp, AutorootOp, BindOp, ChmodOp, DevOp, DirOp, EnvPolicy, EnvStep, FileOp, HostSet, MqueueOp, Namespaces, NetPolicy, Network, Op, OverlayOp, PasswdOp, Plan, ProcOp, RemountOp, SeccompPreset, SymlinkOp, TmpfsOp } from '../plan-types';

/** Plan format version written by this library. */
export const PLAN_VERSION = 1;

export interface TmpfsOptions {
  /** Size limit in bytes; the kernel default (half of RAM) when absent. */
  size?: number;
  /** Permission bits of the root directory; 0o755 when absent. */
  mode?: number;
}

export interface ModeOptions {
  /** Permission bits. */
  mode?: number;
}

export class PlanBuilder {
  #plan: Plan;
  /** Whether later {@link chSetEnv} values get ch-run's `$VAR` expansion. */
  #expand = true;

  constructor(argv: readonly string[] = []) {
    this.#plan = { version: PLAN_VERSION, argv: [...argv], ops: [] };
  }

  /** Ops appended so far, in order. */
  get ops(): readonly Op[] {
    return this.#plan.ops ?? [];
  }

  /** Appends any op. */
  op(op: Op): this {
    (this.#plan.ops ??= []).push({ ...op });
    return this;
  }

  /** `--ro-bind SRC DEST`: read-only bind of a host path. */
  roBind(source: string, target: string): this {
    return this.#bind(source, target, {});
  }

  /** `--bind SRC DEST`: read-write bind. */
  bind(source: string, target: string): this {
    return this.#bind(source, target, { writable: true });
  }

  /** `--dev-bind SRC DEST`: read-write bind that keeps device nodes usable. */
  devBind(source: string, target: string): this {
    return this.#bind(source, target, { writable: true, device: true });
  }

  /** `--ro-bind-try`: like {@link roBind}, skipped when the source does not exist. */
  roBindTry(source: string, target: string): this {
    return this.#bind(source, target, { optional: true });
  }

  /** `--bind-try`. */
  bindTry(source: string, target: string): this {
    return this.#bind(source, target, { writable: true, optional: true });
  }

  /** `--dev-bind-try`. */
  devBindTry(source: string, target: string): this {
    return this.#bind(source, target, { writable: true, device: true, optional: true });
  }

  /** `--proc DEST`: a private proc instance. */
  proc(target: string): this {
    return this.op({ kind: 'proc', target } satisfies ProcOp);
  }

  /** `--dev DEST`: a minimal /dev. */
  dev(target: string): this {
    return this.op({ kind: 'dev', target } satisfies DevOp);
  }

  /** `--tmpfs DEST` (`--size`, `--perms`). */
  tmpfs(target: string, options: TmpfsOptions = {}): this {
    const op: TmpfsOp = { kind: 'tmpfs', target };
    if (options.size !== undefined) op.size = options.size;
    if (options.mode !== undefined) op.mode = options.mode;
    return this.op(op);
  }

  /** `--dir DEST` (`--perms`). */
  dir(target: string, options: ModeOptions = {}): this {
    const op: DirOp = { kind: 'dir', target };
    if (options.mode !== undefined) op.mode = options.mode;
    return this.op(op);
  }

  /** `--symlink SRC DEST`: a link at `target` pointing to `linkname`, stored as given. */
  symlink(linkname: string, target: string): this {
    return this.op({ kind: 'symlink', target, linkname } satisfies SymlinkOp);
  }

  /** A read-only file at `target` holding `data` (`--file`, `--ro-bind-data`, `--file-data`). */
  file(target: string, data: string, options: ModeOptions = {}): this {
    const op: FileOp = { kind: 'file', target, data };
    if (options.mode !== undefined) op.mode = options.mode;
    return this.op(op);
  }

  /** `--remount-ro DEST`. */
  remountRo(target: string): this {
    return this.op({ kind: 'remount', target } satisfies RemountOp);
  }

  /** `--overlay-src L… --overlay UPPER WORK DEST`: writes go to host dir `upper`. */
  overlay(target: string, lowers: readonly string[], upper: string, work: string): this {
    return this.op({ kind: 'overlay', target, lowers: [...lowers], mode: 'rw', upper, work } satisfies OverlayOp);
  }

  /** `--overlay-src L… --tmp-overlay DEST`: writes go to a tmpfs and vanish. */
  tmpOverlay(target: string, lowers: readonly string[]): this {
    return this.op({ kind: 'overlay', target, lowers: [...lowers], mode: 'tmp' } satisfies OverlayOp);
  }

  /** `--overlay-src L1 --overlay-src L2… --ro-overlay DEST`: read-only, two layers or more. */
  roOverlay(target: string, lowers: readonly string[]): this {
    return this.op({ kind: 'overlay', target, lowers: [...lowers], mode: 'ro' } satisfies OverlayOp);
  }

  /** `--mqueue DEST`. */
  mqueue(target: string): this {
    return this.op({ kind: 'mqueue', target } satisfies MqueueOp);
  }

  /** `--chmod OCTAL PATH`. */
  chmod(target: string, mode: number): this {
    return this.op({ kind: 'chmod', target, mode } satisfies ChmodOp);
  }

  /** `--bind-fd FD DEST` / `--ro-bind-fd FD DEST`: bind what a caller fd names. */
  bindFd(fd: number, target: string, options: { writable?: boolean } = {}): this {
    const op: BindOp = { kind: 'bind', sourceFd: fd, target };
    if (options.writable) op.writable = true;
    return this.op(op);
  }

  /** `--autoetc DEST`: host /etc behind per-entry symlinks. */
  autoetc(target = '/etc'): this {
    return this.op({ kind: 'autoetc', target } satisfies AutoetcOp);
  }

  /** `--autoroot DEST`: every top-level host entry but proc, dev, tmp, mnt, etc. */
  autoroot(target = '/', options: { writable?: boolean } = {}): this {
    const op: AutorootOp = { kind: 'autoroot', target };
    if (options.writable) op.writable = true;
    return this.op(op);
  }

  /** `--passwd DIR`: synthesized passwd and group for the sandbox's ids. */
  passwd(target = '/etc'): this {
    return this.op({ kind: 'passwd', target } satisfies PasswdOp);
  }

  /** `--cap-add CAP`: keep a capability inside the user namespace. */
  capAdd(cap: string): this {
    (this.#plan.capAdd ??= []).push(cap);
    return this;
  }

  /** `--cap-drop CAP`. */
  capDrop(cap: string): this {
    (this.#plan.capDrop ??= []).push(cap);
    return this;
  }

  /** `--argv0 NAME`. */
  argv0(name: string): this {
    this.#plan.argv0 = name;
    return this;
  }

  /** `--json-status-fd FD`. */
  statusFd(fd: number): this {
    this.#plan.statusFd = fd;
    return this;
  }

  /** `--pass-fd FD`: a caller fd the program gets at the same number (or `target`). */
  passFd(fd: number, target?: number): this {
    (this.#plan.fds ??= []).push(target === undefined ? { fd } : { fd, target });
    return this;
  }

  /** `--keep-session`: no new session (job control kept; TIOCSTI is still refused by seccomp). */
  keepSession(): this {
    this.#plan.newSession = false;
    return this;
  }

  /**
   * `--tty`: the program gets a pseudo-terminal of its own from the sandbox's
   * devpts (needs a `dev` op on /dev), relayed to the launcher's terminal.
   */
  tty(on = true): this {
    this.#plan.tty = on;
    return this;
  }

  /** `--allow-signals`, `--allow-abstract-unix`: widen the Landlock scopes. */
  landlock(allow: { signals?: boolean; abstractUnix?: boolean }): this {
    const l = (this.#plan.landlock ??= {});
    if (allow.signals) l.allowSignals = true;
    if (allow.abstractUnix) l.allowAbstractUnix = true;
    return this;
  }

  /** Replaces the program and its arguments. */
  argv(argv: readonly string[]): this {
    this.#plan.argv = [...argv];
    return this;
  }

  /** `--chdir DIR`. */
  cwd(dir: string): this {
    this.#plan.cwd = dir;
    return this;
  }

  /** `--uid N`. */
  uid(uid: number): this {
    this.#plan.uid = uid;
    return this;
  }

  /** `--gid N`. */
  gid(gid: number): this {
    this.#plan.gid = gid;
    return this;
  }

  /** `--hostname NAME`. */
  hostname(name: string): this {
    this.#plan.hostname = name;
    return this;
  }

  /** `none` (default: new network namespace, loopback only) or `host`. */
  network(mode: Network): this {
    this.#plan.network = mode;
    return this;
  }

  /** `--share-net`. */
  shareNet(): this {
    return this.network('host');
  }

  /** The allow-list policy, made (empty: no network) when the network was a mode. */
  #policy(): NetPolicy {
    const n = this.#plan.network;
    if (typeof n === 'object') return n;
    const policy: NetPolicy = { allow: [] };
    this.#plan.network = policy;
    return policy;
  }

  /** `--allow-host H`: reach H (`name`, `*.domain`, `:port`, IP literal, `[v6]`) through the sandbox's proxy. */
  allowHost(rule: string): this {
    const p = this.#policy();
    (p.allow ??= []).push(rule);
    return this;
  }

  /** `--allow-hosts npm,pypi`: named host sets. */
  allowHosts(...sets: HostSet[]): this {
    const p = this.#policy();
    p.allow ??= [];
    for (const s of sets) if (!(p.allowSets ??= []).includes(s)) p.allowSets.push(s);
    return this;
  }

  /** `--deny-host H`: refused even when an allow rule covers it (checked first). */
  denyHost(rule: string): this {
    const p = this.#policy();
    p.allow ??= [];
    (p.deny ??= []).push(rule);
    return this;
  }

  /** `--allow-local-binding`: the program may bind TCP ports on the sandbox's own loopback. */
  allowLocalBinding(): this {
    this.#policy().allowLocalBinding = true;
    return this;
  }

  /** `--report`: denial lines come back (the result's `denials`). */
  report(on = true): this {
    if (on) this.#plan.report = true;
    else delete this.#plan.report;
    return this;
  }

  /** Replaces the whole environment policy. */
  env(policy: EnvPolicy): this {
    this.#plan.env = structuredClone(policy);
    return this;
  }

  /** `--setenv K V`; a later call for the same name wins, as in bubblewrap. */
  setenv(name: string, value: string): this {
    const env = this.#env();
    env.unset = env.unset?.filter((n) => n !== name);
    if (env.unset?.length === 0) delete env.unset;
    (env.set ??= {})[name] = value;
    return this;
  }

  /** `--unsetenv K`: also drops an earlier {@link setenv} of the name. */
  unsetenv(name: string): this {
    const env = this.#env();
    if (env.set && name in env.set) {
      delete env.set[name];
      if (Object.keys(env.set).length === 0) delete env.set;
    }
    if (env.inherit !== false && !env.unset?.includes(name)) (env.unset ??= []).push(name);
    return this;
  }

  /** Appends one of ch-run's environment steps (`plan.env.steps`, an image root's). */
  envStep(step: EnvStep): this {
    (this.#env().steps ??= []).push(structuredClone(step));
    return this;
  }

  /**
   * ch-run's `--set-env ARG`: `NAME=VALUE` (one pair of single quotes
   * stripped, `$VAR` items expanded unless {@link envNoExpand}), else a
   * host file of such lines.
   */
  chSetEnv(arg: string): this {
    const expand = this.#expand;
    return this.envStep(arg.includes('=') ? { kind: 'assign', text: arg, expand } : { kind: 'file', path: arg, expand });
  }

  /** ch-run's `--unset-env GLOB`: fnmatch with extglob over the names. */
  chUnsetEnv(glob: string): this {
    return this.envStep({ kind: 'unset', glob });
  }

  /**
   * ch-run's `--env-no-expand`: every {@link chSetEnv} value, before and
   * after, is taken as written (ch-run 0.31 reads the flag before any
   * `--set-env`, wherever it is given).
   */
  envNoExpand(): this {
    this.#expand = false;
    for (const step of this.#plan.env?.steps ?? []) if (step.kind === 'assign' || step.kind === 'file') step.expand = false;
    return this;
  }

  /** `--clearenv`: start from an empty environment; earlier settings are dropped. */
  clearenv(): this {
    this.#plan.env = { inherit: false };
    return this;
  }

  /** `--seccomp strict|none`. */
  seccomp(preset: SeccompPreset): this {
    this.#plan.seccomp = { preset };
    return this;
  }

  /** `--linger-ms N`: how long leftover processes may run after the program exits. */
  lingerMs(ms: number): this {
    this.#plan.lingerMs = ms;
    return this;
  }

  /** Whether the sandbox dies with its launcher's parent (default true). */
  dieWithParent(on: boolean): this {
    this.#plan.dieWithParent = on;
    return this;
  }

  /** Whether the program runs in a new session (default true). */
  newSession(on: boolean): this {
    this.#plan.newSession = on;
    return this;
  }

  /** Which optional namespaces are created (all by default). */
  namespaces(namespaces: Namespaces): this {
    this.#plan.namespaces = { ...namespaces };
    return this;
  }

  /** The plan, as a fresh copy: later builder calls do not change it. */
  build(): Plan {
    return structuredClone(this.#plan);
  }

  #bind(source: string, target: string, flags: Pick<BindOp, 'writable' | 'device' | 'optional'>): this {
    return this.op({ kind: 'bind', source, target, ...flags } satisfies BindOp);
  }

  #env(): EnvPolicy {
    return (this.#plan.env ??= {});
  }
}

/** Starts a plan: `plan(['sh', '-c', 'id']).roBind('/usr', '/usr').proc('/proc').build()`. */
export function plan(argv?: readonly string[]): PlanBuilder {
  return new PlanBuilder(argv);
}

/** True for a {@link PlanBuilder}. */
export function isPlanBuilder(value: unknown): value is PlanBuilder {
  return value instanceof PlanBuilder;
}
