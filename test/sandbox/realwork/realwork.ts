/**
 * Helpers for the real-work suite (issue 9): run a real tool inside
 * `--preset agent` or `--preset build` in a fresh project, and fail with a
 * message that names the tool, the command and what it printed.
 *
 * Projects live under /var/tmp: the presets' private /tmp would hide them.
 * The home is the caller's real one (password database), as the presets
 * resolve it; tests that plant files there remove exactly what they planted.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants as fsc, existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { cli, type Ran } from '../helpers';

export type Preset = 'agent' | 'build';

export interface Inside extends Ran {
  /** The command as a user would type it, for failure messages. */
  command: string;
  cwd: string;
}

/** Shell-quote one word for a message. */
export const q = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The caller's home as the password database has it. */
export const HOME = realpathSync(userInfo().homedir);

/** A fresh project directory under /var/tmp, removed by `cleanup()`. */
export function project(prefix: string): string {
  return mkdtempSync(`/var/tmp/sandboxctl-realwork-${prefix}-`);
}

export function cleanup(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/**
 * The preset's flags: `build` writes only its output directory, which is the
 * project itself unless `output` says otherwise.
 */
export function presetArgs(preset: Preset, output = '.'): string[] {
  return preset === 'agent' ? ['--preset', 'agent'] : ['--preset', 'build', '--output', output];
}

export interface RunOpts {
  /** Flags after the preset (e.g. `--input DIR`, `--setenv K V`). */
  extra?: string[];
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** The build preset's output directory (default: the project, `.`). */
  output?: string;
}

/** `cd CWD && sandboxctl run --preset P [EXTRA] -- ARGV…` */
export async function inside(preset: Preset, cwd: string, argv: string[], opts: RunOpts = {}): Promise<Inside> {
  const args = ['run', ...presetArgs(preset, opts.output), ...(opts.extra ?? []), '--', ...argv];
  const r = await cli(args, { cwd, env: opts.env ?? process.env, input: opts.input });
  return { ...r, command: `cd ${q(cwd)} && sandboxctl ${args.map(q).join(' ')}`, cwd };
}

/** `inside(…, ['/bin/sh', '-c', SCRIPT])`. */
export function insideSh(preset: Preset, cwd: string, script: string, opts: RunOpts = {}): Promise<Inside> {
  return inside(preset, cwd, ['/bin/sh', '-c', script], opts);
}

const tail = (s: string, n: number): string => (s.length > n ? `…${s.slice(-n)}` : s);

/** The failure text: which tool, which command, how it ended, what it said. */
export function report(tool: string, r: Inside, why: string): string {
  return [
    `${tool}: ${why}`,
    `  command: ${r.command}`,
    `  exit: ${r.code ?? 'none'}${r.signal ? ` (signal ${r.signal})` : ''}`,
    `  stdout:\n${tail(r.stdout, 3000).replace(/^/gm, '    ')}`,
    `  stderr:\n${tail(r.stderr, 6000).replace(/^/gm, '    ')}`,
  ].join('\n');
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace jest {
    interface Matchers<R> {
      /** The run exited with `code` (default 0); the message names the tool and shows stderr. */
      toHaveRun(tool: string, code?: number): R;
      /** The run's stdout matches `re`; the message names the tool and shows stderr. */
      toHavePrinted(tool: string, re: RegExp): R;
      /** `{ ok, message }`: ok holds; otherwise the message is the failure. */
      toBeOk(): R;
    }
  }
}

expect.extend({
  toHaveRun(r: Inside, tool: string, code = 0) {
    const pass = r.code === code && r.signal === null;
    return { pass, message: () => report(tool, r, `expected exit ${code}${pass ? ' not to happen' : ''}`) };
  },
  toHavePrinted(r: Inside, tool: string, re: RegExp) {
    const pass = re.test(r.stdout);
    return { pass, message: () => report(tool, r, `expected stdout ${pass ? 'not ' : ''}to match ${re}`) };
  },
  toBeOk(v: { ok: boolean; message: string }) {
    return { pass: v.ok, message: () => v.message };
  },
});

/** Run a host command (set-up and checks after the run); throws with its stderr. */
export function host(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GIT_TERMINAL_PROMPT: '0', ...GIT_IDENTITY, ...env },
  });
}

/** Git identity for commits on the host and inside (the build preset clears the environment). */
export const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: 'Real Work',
  GIT_AUTHOR_EMAIL: 'realwork@example.org',
  GIT_COMMITTER_NAME: 'Real Work',
  GIT_COMMITTER_EMAIL: 'realwork@example.org',
};

/** The same identity as shell exports, for scripts run inside. */
export const EXPORT_IDENTITY = Object.entries(GIT_IDENTITY)
  .map(([k, v]) => `export ${k}=${q(v)}`)
  .join('; ');

/** A program on this user's PATH that this user can execute, or null. */
export function which(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, fsc.X_OK);
      return p;
    } catch {
      /* not here, or not ours to run */
    }
  }
  return null;
}

/** Like `which`, but a missing tool fails the test saying what CI installs. */
export function need(name: string, debianPackage: string, also: string[] = []): string {
  const found = which(name) ?? also.find((p) => existsSync(p) && canRun(p)) ?? null;
  if (!found) {
    throw new Error(`${name} is not installed for uid ${process.getuid!()}: the real-work suite needs it (Debian: apt-get install ${debianPackage}; .ci/run installs it)`);
  }
  return found;
}

function canRun(p: string): boolean {
  try {
    accessSync(p, fsc.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The real cargo binary (not the rustup proxy) and its toolchain directory,
 * for the build preset, which shows only the system and its inputs.
 */
export function cargoToolchain(): { cargo: string; dir: string } {
  const cargo = need('cargo', 'cargo');
  const r = spawnSync('rustup', ['which', 'cargo'], { encoding: 'utf8' });
  const real = r.status === 0 ? r.stdout.trim() : realpathSync(cargo);
  return { cargo: real, dir: dirname(dirname(real)) };
}

/** Flags that make a toolchain directory outside /usr visible to the build preset. */
export function toolchainInput(dir: string): string[] {
  return dir === '/usr' || dir.startsWith('/usr/') ? [] : ['--input', dir];
}
