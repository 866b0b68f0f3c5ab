/**
 * `image`: ch-run's defaults, for a sandbox whose root is an image (issue
 * 11; `--image` implies it). Unlike the other presets it does not show the
 * host's directories: it builds on the image, and adds what an HPC program
 * expects of charliecloud's `ch-run` (0.31, as measured in docs/hpc.md):
 * the host's devices, a proc, the host's /sys, the host files a cluster
 * node provides when the image has a place for them, a passwd and group
 * in ch-run's form, a /tmp, the host's network, the host's environment
 * with ch-run's adjustments, and no seccomp filter (MPI's cross-memory
 * attach needs process_vm_readv, which strict refuses). Each item can be
 * left out ({@link ImageItem}); caps are dropped, no_new_privs and the
 * Landlock scopes are on as for every sandbox.
 */

import { posix } from 'node:path';
import { SandboxError } from '../errors';
import type { EnvStep, Op, RootSpec } from '../plan-types';
import type { ResolvedPreset } from './resolve';
import type { OpNote } from './types';

/** What the preset gives that a caller can leave out. */
export const IMAGE_ITEMS = ['dev', 'proc', 'sys', 'host-files', 'passwd', 'tmp', 'image-env'] as const;
export type ImageItem = (typeof IMAGE_ITEMS)[number];

/**
 * Host files bound when the image has a place for them (ch-run's
 * BINDS_DEFAULT, optional ones): name resolution, the machine id, Cray
 * hugepages and interconnect, Slurm's spool (digest A3).
 */
export const IMAGE_HOST_FILES: readonly { path: string; writable?: true; why: string }[] = [
  { path: '/etc/hosts', why: 'host names of the cluster' },
  { path: '/etc/resolv.conf', why: "the host's DNS resolver" },
  { path: '/etc/machine-id', why: "the host's machine id" },
  { path: '/var/lib/hugetlbfs', writable: true, why: 'Cray hugepages (MPI allocates there)' },
  { path: '/etc/opt/cray/wlm_detect', why: 'Cray workload manager detection' },
  { path: '/opt/cray/wlm_detect', why: 'Cray workload manager detection' },
  { path: '/opt/cray/alps', why: 'Cray ALPS' },
  { path: '/opt/cray/udreg', why: 'Cray Gemini/Aries interconnect' },
  { path: '/opt/cray/ugni', why: 'Cray Gemini/Aries interconnect' },
  { path: '/opt/cray/xpmem', why: 'Cray XPMEM' },
  { path: '/var/opt/cray/alps', why: 'Cray ALPS' },
  { path: '/var/spool/slurmd', why: 'Slurm (Cray Shasta/Slingshot)' },
];

/** The marker the program finds in its environment (ch-run's is CH_RUNNING). */
export const RUNNING_VAR = 'SANDBOXCTL_RUNNING';
/** The image's own environment file (ch-image writes Dockerfile ENV there). */
export const IMAGE_ENV_FILE = '/ch/environment';

/** How the preset is asked for (the `image` option's fields that shape it). */
export interface ImagePresetOptions {
  /** Bind the caller's `$HOME` at `/home/$USER` (writable) and set `HOME` to it (ch-run's `--home`). */
  home?: boolean;
  /** A private tmpfs on /tmp instead of the host's `$TMPDIR` or /tmp (ch-run's `--private-tmp`). */
  privateTmp?: boolean;
  /** Working directory inside (ch-run's `--cd`); default `/`. */
  cd?: string;
  /** Items of the preset left out. */
  omit?: readonly ImageItem[];
  /** Root emulation (ch-run's `--seccomp`): uid and gid 0, ownership and id changes pretend to work. Needs writes. */
  fakeroot?: boolean;
}

/** What the preset reads of the caller. */
export interface ImagePresetContext {
  env: Readonly<Record<string, string | undefined>>;
  /** How errors name an option (the CLI's flag). */
  name: (option: 'home' | 'fakeroot' | 'cd' | 'omit') => string;
}

/** The preset's ops, notes and policy for this root and caller. */
export function resolveImagePreset(root: RootSpec, options: ImagePresetOptions, ctx: ImagePresetContext): ResolvedPreset & { steps: EnvStep[] } {
  const omit = new Set(options.omit ?? []);
  for (const item of omit) {
    if (!(IMAGE_ITEMS as readonly string[]).includes(item)) {
      throw new SandboxError('E_PLAN_INVALID', `${ctx.name('omit')} ${JSON.stringify(item)} is not an item of the image preset`, { path: 'root', hint: `the items are ${IMAGE_ITEMS.join(', ')}` });
    }
  }
  const ops: Op[] = [];
  const notes: OpNote[] = [];
  const add = (op: Op, note: OpNote): void => {
    ops.push(op);
    notes.push(note);
  };
  if (!omit.has('dev')) {
    add({ kind: 'bind', source: '/dev', target: '/dev', writable: true, device: true }, { role: 'host', why: "the host's devices (GPUs, interconnects, /dev/shm for MPI), as ch-run" });
  }
  if (!omit.has('proc')) add({ kind: 'proc', target: '/proc' }, { role: 'kernel', why: 'processes of this sandbox only (ch-run shows the host\'s: it has no pid namespace)' });
  if (!omit.has('sys')) add({ kind: 'bind', source: '/sys', target: '/sys' }, { role: 'host', why: "the host's /sys, read-only (ch-run's is writable where the host lets it)" });
  if (!omit.has('host-files')) {
    for (const f of IMAGE_HOST_FILES) {
      const op: Op = { kind: 'bind', source: f.path, target: f.path, optional: true, missingTarget: 'skip' };
      if (f.writable) op.writable = true;
      add(op, { role: 'host', why: `${f.why}; skipped when the host or the image lacks it` });
    }
  }
  if (!omit.has('passwd')) add({ kind: 'passwd', target: '/etc', style: 'chRun' }, { role: 'sanitized', why: 'passwd and group in ch-run\'s form: you (or a stand-in), root and nobody' });
  if (!omit.has('tmp')) {
    if (options.privateTmp) add({ kind: 'tmpfs', target: '/tmp', mode: 0o1777 }, { role: 'private', why: 'a private /tmp, gone after the run (--private-tmp)' });
    else {
      const tmp = ctx.env.TMPDIR !== undefined && posix.isAbsolute(ctx.env.TMPDIR) ? posix.normalize(ctx.env.TMPDIR) : '/tmp';
      add({ kind: 'bind', source: tmp, target: '/tmp', writable: true }, { role: 'writable', why: `the host's ${tmp === '/tmp' ? '/tmp' : `$TMPDIR (${tmp})`} on /tmp, as ch-run` });
    }
  }
  let home: string | undefined;
  if (options.home) {
    const user = ctx.env.USER;
    const hostHome = ctx.env.HOME;
    if (!user || user.includes('/') || user === '.' || user === '..') {
      throw new SandboxError('E_PLAN_INVALID', `${ctx.name('home')}: $USER is not set to a user name`, { path: 'root', hint: 'set USER, as a login shell does' });
    }
    if (!hostHome || !posix.isAbsolute(hostHome)) throw new SandboxError('E_PLAN_INVALID', `${ctx.name('home')}: $HOME is not set to an absolute path`, { path: 'root' });
    home = `/home/${user}`;
    // ch-run 0.31's way: a tmpfs on /home holds the mount point, so no
    // directory has to be made in the image's root-owned /home (which an
    // unprivileged user cannot do, overlay or not).
    add({ kind: 'tmpfs', target: '/home', mode: 0o755 }, { role: 'private', why: "an empty /home over the image's, holding your home's mount point (--home, as ch-run 0.31)" });
    add({ kind: 'bind', source: hostHome, target: home, writable: true }, { role: 'writable', why: `your home ${hostHome} at ${home}, writable (--home)` });
  }
  if (options.fakeroot && root.write === 'readOnly') {
    throw new SandboxError('E_PLAN_INVALID', `${ctx.name('fakeroot')} needs a writable image`, { path: 'root', hint: 'add --write-fake (writes gone after the run) or --write' });
  }

  // ch-run's environment: the host's, adjusted; then the caller's steps; the marker last (resolvePlan).
  const steps: EnvStep[] = [];
  if (home !== undefined) steps.push({ kind: 'set', name: 'HOME', value: home });
  steps.push({ kind: 'appendPath', name: 'PATH', dir: '/bin' }, { kind: 'unset', glob: 'TMPDIR' });
  if (!omit.has('image-env')) steps.push({ kind: 'file', path: IMAGE_ENV_FILE, scope: 'root', expand: true, optional: true });

  const cwd = options.cd ?? '/';
  if (!posix.isAbsolute(cwd)) throw new SandboxError('E_PLAN_INVALID', `${ctx.name('cd')} ${cwd} is not an absolute path`, { path: 'cwd' });
  return {
    name: 'image',
    ops,
    notes,
    policy: { network: 'host', seccomp: { preset: 'none', ...(options.fakeroot && { fakeroot: true }) }, cwd, env: { inherit: true } },
    removedEnv: [],
    skipped: [],
    protectedPaths: [],
    steps,
  };
}

/** The write mode `--home` implies: fake writes unless the image is written (ch-run). */
export function impliedWrite(root: RootSpec, options: ImagePresetOptions): RootSpec['write'] {
  if (options.home && (root.write ?? 'readOnly') === 'readOnly') return 'fake';
  return root.write ?? 'readOnly';
}
