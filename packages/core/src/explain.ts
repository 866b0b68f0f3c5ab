/**
 * A plan in words: what the program sees of the host, what it can write,
 * what is hidden from it, what it is denied, and what running the plan
 * leaves on the host. Works on any plan (from flags, a config file, a
 * preset); a preset's notes add the reason for each of its ops.
 *
 * Inputs: the plan, optional per-op notes, a view of the host (to tell which
 * mount points the init will have to create on it). It replays the ops as
 * mounts in order (a later mount shadows an earlier one below its target)
 * to tell a read-only bind inside a writable place ("protected") from one in
 * a read-only place ("visible"). Never prints; {@link formatExplanation}
 * makes the text.
 */

import { posix } from 'node:path';
import { describeOps } from './plan/describe';
import type { EnvStep, Op, Plan, RootSpec } from './plan-types';
import { realHost, type HostView } from './presets/host';
import { isWithin } from './plan/paths';
import type { OpNote } from './presets/types';

export { describeOp, describeOps, opDescriptionsFromSchema } from './plan/describe';

export type ExplainSection = 'visible' | 'writable' | 'hidden' | 'protected' | 'other';

export interface ExplainItem {
  /** Path inside the sandbox. */
  path: string;
  /** What is there, in words. */
  what: string;
  /** The op as a line (`ro-bind / on /`). */
  op: string;
  /** Index in `plan.ops`. */
  index: number;
  /** Why the preset put it there. */
  why?: string;
}

export interface Explanation {
  argv: string[];
  /** Working directory inside the sandbox; undefined: the caller's when visible, else /. */
  cwd?: string;
  preset?: string;
  config?: string;
  /** The image the sandbox runs in as its root (`plan.root`), in words; undefined: an empty root. */
  root?: string;
  /** Whether anything of the host's root is visible (a bind or overlay of /, or autoroot). */
  hostRoot: boolean;
  visible: ExplainItem[];
  writable: ExplainItem[];
  hidden: ExplainItem[];
  protected: ExplainItem[];
  other: ExplainItem[];
  /** Host paths the run creates (mount points under writable binds), left there after it. */
  hostChanges: string[];
  /** What the program is refused, one line per topic. */
  denied: Array<{ topic: string; text: string }>;
}

export interface ExplainOptions {
  /** Per-op notes (a preset's), same index as `plan.ops`. */
  notes?: readonly (OpNote | undefined)[];
  preset?: string;
  config?: string;
  /** Default: the real filesystem. */
  host?: HostView;
  /** Op kind → the plan schema's description, for ops the addon cannot describe (a kind it does not know). */
  opDescriptions?: Readonly<Record<string, string>>;
  /** The kernel's Landlock ABI (`probe().landlockAbi`), to say what the write allow-list enforces here. */
  landlockAbi?: number;
}

interface Mount {
  target: string;
  writable: boolean;
  /** Host path behind it, for binds. */
  source?: string;
}

type AnyOp = Op & Record<string, unknown>;

/** The plan in words (see the module comment). */
export function explainPlan(plan: Plan, options: ExplainOptions = {}): Explanation {
  const host = options.host ?? realHost;
  const out: Explanation = {
    argv: [...plan.argv],
    hostRoot: false,
    visible: [],
    writable: [],
    hidden: [],
    protected: [],
    other: [],
    hostChanges: [],
    denied: [],
  };
  if (typeof plan.cwd === 'string') out.cwd = plan.cwd;
  if (options.preset !== undefined) out.preset = options.preset;
  if (options.config !== undefined) out.config = options.config;
  if (plan.root) out.root = describeRoot(plan.root);

  const mounts: Mount[] = [];
  const ops = (plan.ops ?? []) as AnyOp[];
  const lines = describeOps(ops, options.opDescriptions);
  ops.forEach((op, index) => {
    const note = options.notes?.[index];
    const target = typeof op.target === 'string' ? op.target : undefined;
    if (target !== undefined) noteHostChange(op, target, mounts, host, out.hostChanges);
    const item = (path: string, what: string): ExplainItem => {
      const entry: ExplainItem = { path, what, op: lines[index]!, index };
      // The reasons of plain ops (the host, /tmp, /proc) say what `what` says.
      if (note && ['hidden', 'protected', 'placeholder', 'input', 'output', 'system', 'cache', 'sanitized'].includes(note.role)) entry.why = note.why;
      else if (note?.role === 'writable' || note?.role === 'host') entry.what = note.why;
      return entry;
    };
    const covering = target === undefined ? undefined : coveringMount(mounts, target);
    switch (op.kind) {
      case 'bind': {
        const source = typeof op.source === 'string' ? op.source : `fd ${String(op.sourceFd)}`;
        const path = target!;
        if (source === '/dev/null' && !op.device) {
          const placeholder = note?.role === 'placeholder';
          (placeholder ? out.protected : out.hidden).push(
            item(path, placeholder ? 'missing, so an empty read-only placeholder (/dev/null, unreadable)' : 'unreadable, /dev/null is bound over it'),
          );
        } else if (op.writable) {
          out.writable.push(item(path, source === path ? 'writable' : `writable: host ${source}`));
        } else if (covering?.writable) {
          out.protected.push(item(path, source === path ? 'read-only' : `read-only: host ${source}`));
        } else {
          out.visible.push(item(path, source === path ? 'read-only' : `read-only: host ${source}`));
        }
        if (path === '/' && !op.writable) out.hostRoot = true;
        if (path === '/' && op.writable) out.hostRoot = true;
        mounts.push({ target: path, writable: Boolean(op.writable), source: typeof op.source === 'string' ? op.source : undefined });
        break;
      }
      case 'placeholder': {
        const present = host.kind(target!) !== 'missing' || host.readlink(target!) !== undefined;
        const what =
          op.type === 'link'
            ? 'a symlink kept in place: it cannot be removed or replaced'
            : present
              ? 'read-only'
              : op.type === 'dir'
                ? 'missing, so an empty read-only stand-in for the run (removed after it)'
                : 'missing: read-only if it appears before the run';
        out.protected.push(item(target!, what));
        mounts.push({ target: target!, writable: false });
        break;
      }
      case 'tmpfs': {
        const mode = typeof op.mode === 'number' ? op.mode : 0o755;
        const readOnly = op.readOnly === true;
        if (note?.role === 'placeholder' || (readOnly && covering?.writable)) {
          out.protected.push(item(target!, 'missing, so an empty read-only placeholder'));
        } else if (note?.role === 'hidden' || mode === 0) {
          out.hidden.push(item(target!, mode === 0 ? 'an empty directory nobody may enter (mode 0000)' : `an empty private directory (mode ${octal(mode)})`));
        } else if (readOnly) {
          out.visible.push(item(target!, 'an empty read-only directory'));
        } else {
          const size = typeof op.size === 'number' ? `, at most ${bytes(op.size)}` : '';
          out.writable.push(item(target!, `private: empty at the start, gone after the run${size}`));
        }
        mounts.push({ target: target!, writable: !readOnly });
        break;
      }
      case 'remount': {
        // A remount of a mount itself turns its line read-only; one of a path
        // below a mount is protection inside it.
        const existing = coveringMount(mounts, target!);
        if (existing && existing.target === target) {
          existing.writable = false;
          const at = out.writable.map((i) => i.path).lastIndexOf(target);
          if (at !== -1) {
            const [moved] = out.writable.splice(at, 1);
            out.visible.push({ ...moved!, what: `${moved!.what}, then made read-only` });
            break;
          }
        }
        const inWritable = coveringMount(mounts.filter((m) => m !== existing || existing.target !== target), target!)?.writable === true;
        (inWritable ? out.protected : out.visible).push(item(target!, 'made read-only'));
        break;
      }
      case 'overlay': {
        const mode = op.mode as string;
        const lowers = Array.isArray(op.lowers) ? op.lowers.join(', ') : '';
        if (mode === 'rw') out.writable.push(item(target!, `overlay of ${lowers}; writes go to host ${String(op.upper)}`));
        else if (mode === 'tmp') out.writable.push(item(target!, `overlay of ${lowers}; writes are private and gone after the run`));
        else out.visible.push(item(target!, `read-only overlay of ${lowers}`));
        if (target === '/') out.hostRoot = true;
        mounts.push({ target: target!, writable: mode !== 'ro' });
        break;
      }
      case 'autoroot':
        out.hostRoot = true;
        (op.writable ? out.writable : out.visible).push(
          item(target ?? '/', `every top-level host directory but /proc, /dev, /tmp, /mnt and /etc, ${op.writable ? 'writable' : 'read-only'}`),
        );
        break;
      case 'file': {
        const size = typeof op.data === 'string' ? `${Buffer.byteLength(op.data)} bytes` : typeof op.source === 'string' ? `a copy of host ${op.source}` : 'read from a caller fd';
        const text = note?.role === 'sanitized' && op.data === '' ? 'an empty file, read-only' : `a file written for the run (${size}), read-only`;
        (covering?.writable ? out.protected : out.visible).push(item(target!, text));
        break;
      }
      case 'proc':
        out.other.push(item(target!, 'a private proc: processes of this sandbox only'));
        mounts.push({ target: target!, writable: false });
        break;
      case 'dev':
        out.other.push(item(target!, 'a minimal /dev: null, zero, full, random, urandom, tty, a private pts and shm'));
        mounts.push({ target: target!, writable: false });
        break;
      default:
        out.other.push(item(target ?? `(${op.kind})`, lines[index]!));
    }
  });

  out.denied = deniedLines(plan, out.hostRoot, options.landlockAbi);
  return out;
}

/** `plan.root` in words: the image, and where writes to it go. */
function describeRoot(root: RootSpec): string {
  const kind = root.format === 'dir' ? 'directory image' : root.format === 'squashfs' ? 'SquashFS image' : 'image';
  const writes =
    root.write === 'writable'
      ? 'writable: writes change the image'
      : root.write === 'fake'
        ? `writable in memory (at most ${root.fakeSize ?? '12%'}): writes are gone after the run`
        : 'read-only';
  return `${kind} ${shellWord(root.image)}, ${writes}`;
}

/** The text form of {@link explainPlan}. */
export function formatExplanation(e: Explanation): string {
  const lines: string[] = [];
  lines.push(`program:   ${e.argv.length > 0 ? e.argv.map(shellWord).join(' ') : '(none given)'}`);
  lines.push(`directory: ${e.cwd ?? "the caller's, when the sandbox shows it; else /"}`);
  if (e.preset !== undefined) lines.push(`preset:    ${e.preset}`);
  if (e.config !== undefined) lines.push(`config:    ${e.config}`);
  if (e.root !== undefined) lines.push(`root:      ${e.root}`);
  const width = Math.min(48, Math.max(16, ...[e.visible, e.writable, e.hidden, e.protected, e.other].flat().map((i) => i.path.length + 2)));
  const section = (title: string, items: ExplainItem[], empty?: string): void => {
    if (items.length === 0 && empty === undefined) return;
    lines.push('', title);
    if (items.length === 0) lines.push(`  ${empty}`);
    for (const i of items) {
      const path = i.path.length >= width ? `${i.path}  ` : i.path.padEnd(width);
      lines.push(`  ${path}${i.why !== undefined ? `${i.why}: ${i.what}` : i.what}`);
    }
  };
  // An image root is of the host too: say it is the exception.
  const besides = e.root !== undefined ? ' but the image' : '';
  section('visible, read-only:', e.visible, e.hostRoot ? undefined : `nothing of the host${besides}`);
  if (!e.hostRoot && e.visible.length > 0) lines.push(`  (nothing else of the host${besides})`);
  section('writable:', e.writable, 'nothing');
  section('hidden:', e.hidden);
  section('read-only inside writable places:', e.protected);
  if (e.preset !== undefined && e.protected.length > 0) lines.push('  (to let the program write one of these: --allow-write PATH)');
  section('also:', e.other);
  if (e.hostChanges.length > 0) {
    lines.push('', 'left on the host (mount points created for this run):');
    for (const change of e.hostChanges) lines.push(`  ${change}`);
  }
  lines.push('', 'denied:');
  const topicWidth = Math.max(...e.denied.map((d) => d.topic.length)) + 2;
  for (const d of e.denied) lines.push(`  ${d.topic.padEnd(topicWidth)}${d.text}`);
  return `${lines.map(escapeControl).join('\n')}\n`;
}

/**
 * `text` with control characters (C0, DEL, C1) and bidirectional overrides
 * shown as `\xNN` / `\u{NNNN}`, so a path from a config file or the host
 * cannot send escape sequences to the terminal.
 */
export function escapeControl(text: string): string {
  return text.replace(/[\p{Cc}\u202a-\u202e\u2066-\u2069]/gu, (c) => {
    const code = c.codePointAt(0)!;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

// The mount the init will have to create a mount point under: a target
// below a writable host bind that does not exist on the host is created
// there (an empty file or directory) and stays after the run.
function noteHostChange(op: AnyOp, target: string, mounts: readonly Mount[], host: HostView, changes: string[]): void {
  // A placeholder's stand-in is removed after the run: no lasting change.
  if (op.kind === 'remount' || op.kind === 'chmod' || op.kind === 'placeholder') return;
  const covering = coveringMount(mounts, target);
  if (!covering?.writable || covering.source === undefined || covering.target === target) return;
  const hostPath = posix.join(covering.source, posix.relative(covering.target, target));
  if (host.kind(hostPath) !== 'missing' || host.readlink(hostPath) !== undefined) return;
  const what = op.kind === 'symlink' ? 'a symlink' : op.kind === 'dir' ? 'a directory' : isFileMount(op, host) ? 'an empty file' : 'an empty directory';
  changes.push(`${hostPath} (${what})`);
}

function isFileMount(op: AnyOp, host: HostView): boolean {
  if (op.kind === 'file' || op.kind === 'passwd') return true;
  if (op.kind === 'bind' && typeof op.source === 'string') return host.kind(op.source) !== 'dir';
  return false;
}

function coveringMount(mounts: readonly Mount[], path: string): Mount | undefined {
  for (let i = mounts.length - 1; i >= 0; i -= 1) if (isWithin(path, mounts[i]!.target)) return mounts[i];
  return undefined;
}

/** The network line: the mode, or the allow list and how it is enforced. */
function networkText(network: Plan['network']): string {
  if (network === 'host') return "not denied: the host's network is shared";
  if (network === undefined || network === 'none') return 'none: a new network namespace with only loopback';
  const allow = [...(network.allow ?? []), ...(network.allowSets ?? []).map((s) => `${s} (set)`)];
  const parts = [
    allow.length === 0 ? 'allow list empty: no host is reachable' : `only through the sandbox's proxy (HTTP 127.0.0.1:3128, SOCKS5 127.0.0.1:1080) to ${allow.join(', ')}`,
  ];
  if ((network.deny ?? []).length > 0) parts.push(`refused first: ${network.deny!.join(', ')}`);
  parts.push('names resolving to loopback, link-local, metadata or this host\'s addresses refused unless allowed as literals');
  parts.push(network.allowLocalBinding ? 'TCP ports of its own loopback may be bound' : 'Landlock (ABI 4+): TCP connect only to the proxy, no bind');
  return parts.join('; ');
}

function deniedLines(plan: Plan, hostRoot: boolean, landlockAbi?: number): Explanation['denied'] {
  const out: Explanation['denied'] = [];
  const p = plan as Plan & Record<string, unknown>;
  out.push({
    topic: 'network',
    text: networkText(plan.network),
  });
  const seccomp = plan.seccomp as (Record<string, unknown> & { preset?: string }) | undefined;
  const rules = Array.isArray(seccomp?.rules) ? seccomp.rules.length : 0;
  out.push({
    topic: 'system calls',
    text:
      seccomp?.preset === 'none'
        ? `no preset filter${rules ? `; ${rules} rule(s) of the plan` : ''}`
        : `the strict filter: kernel keyring, modules, kexec, clock, swap, reboot, mount and namespaces, identity changes, TIOCSTI/TIOCLINUX, ptrace, perf, personality, uncommon socket families${rules ? `; plus ${rules} rule(s) of the plan` : ''}`,
  });
  const kept = Array.isArray(p.capAdd) ? p.capAdd : [];
  out.push({
    topic: 'privileges',
    text: kept.length > 0 ? `every capability dropped but ${kept.join(', ')} (inside the user namespace); no_new_privs` : 'every capability dropped; no_new_privs; pid 1 cannot be traced',
  });
  const env = plan.env;
  if (env?.inherit === false) {
    const names = Object.keys(env.set ?? {});
    out.push({ topic: 'environment', text: `empty${names.length ? ` but ${names.join(', ')}` : ''}` });
  } else {
    const set = Object.keys(env?.set ?? {});
    const plus = set.length > 0 ? `; set: ${set.join(', ')}` : '';
    if (env?.unset?.length) out.push({ topic: 'environment', text: `the caller's, minus ${env.unset.length}: ${env.unset.join(', ')}${plus}` });
    else out.push({ topic: 'environment', text: `the caller's, whole${plus}` });
  }
  if (env?.steps?.length) out.push({ topic: 'environment', text: `then ch-run's rules in order: ${env.steps.map(describeEnvStep).join('; ')}` });
  if (!hostRoot) out.push({ topic: 'filesystem', text: 'every host path not listed above' });
  const audit = plan.audit;
  if (audit) {
    const act = { revert: 'put back and moved into a quarantine', fail: 'left, and the run fails with E_TAINTED', warn: 'only reported' }[audit.onTaint ?? 'revert'];
    out.push({
      topic: 'after the run',
      text: `audited: what host tools would execute that the run created or changed under ${audit.roots.map(shellWord).join(', ')} (git config, hooks and redirects, gitlinks, editor and agent settings) is ${act}`,
    });
  }
  if (typeof plan.hostname === 'string') out.push({ topic: 'hostname', text: `${plan.hostname} (not the host's)` });
  const write = plan.landlock?.write;
  if (write) {
    const level =
      landlockAbi === undefined
        ? 'Landlock, where the kernel has it'
        : landlockAbi > 0
          ? `Landlock ABI ${landlockAbi}: enforced${landlockAbi < 3 ? ' (without truncate control, ABI 3)' : ''}`
          : 'no Landlock on this kernel: not enforced, the mounts alone';
    out.push({ topic: 'writes', text: `only beneath ${write.map(shellWord).join(', ')} and the sandbox's private mounts, even through a writable mount (${level})` });
  }
  const l = plan.limits;
  if (l) {
    const parts: string[] = [];
    if (l.memory != null) parts.push(`memory ${l.memory} bytes`);
    if (l.pids != null) parts.push(`${l.pids} processes and threads`);
    if (l.cpuMillis != null) parts.push(`${l.cpuMillis / 1000} CPUs`);
    if (l.timeoutMs != null) parts.push(`killed after ${l.timeoutMs / 1000} s`);
    for (const r of l.rlimits ?? []) parts.push(`rlimit ${r.name} ${r.soft ?? 'unlimited'}:${r.hard ?? 'unlimited'}`);
    const cg = l.memory != null || l.pids != null || l.cpuMillis != null;
    out.push({ topic: 'limits', text: `${parts.join(', ')}${cg ? ' (a cgroup of its own: as root, or in a delegated cgroup v2 subtree)' : ''}` });
  }
  return out;
}

function octal(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

function bytes(n: number): string {
  if (n % (1 << 30) === 0) return `${n / (1 << 30)} GiB`;
  if (n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** One of ch-run's environment steps in words. */
function describeEnvStep(step: EnvStep): string {
  switch (step.kind) {
    case 'set':
      return `${step.name}=${step.value}`;
    case 'assign':
      return `${step.text}${step.expand ? '' : ' (as written)'}`;
    case 'unset':
      return `unset ${step.glob}`;
    case 'appendPath':
      return `${step.name} += :${step.dir}`;
    case 'file':
      return `${step.scope === 'root' ? "the image's" : 'host file'} ${step.path}${step.optional ? ' if present' : ''}`;
  }
}
