/**
 * What the OCI suites (test/oci, root only) share: the shipped runtime's
 * path through the CLI (`sandboxctl oci path`), the root gate, the tool
 * probe, and a runner for the engine scripts inside a private mount
 * namespace so the mounts podman and containerd make on the way cannot
 * outlive the suite or reach the other suites on the host.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const REPO = join(__dirname, '..', '..');
export const CLI = join(REPO, 'packages', 'cli', 'bin', 'sandboxctl.js');
export const IS_ROOT = process.getuid?.() === 0;

/** `describe` as root; elsewhere skipped, the reason in the suite's name (jest lists it as skipped). */
export function describeAsRoot(name: string, body: () => void): void {
  if (IS_ROOT) {
    describe(name, body);
    return;
  }
  const reason = `${name}: skipped, the OCI suites need root (uid ${process.getuid?.()})`;
  process.stderr.write(`${reason}\n`);
  describe.skip(reason, body);
}

/** The runtime the platform package ships, as users find it. */
export function runtimePath(): string {
  return execFileSync(process.execPath, [CLI, 'oci', 'path'], { encoding: 'utf8' }).trim();
}

const PATH = `${process.env.PATH ?? ''}:/usr/local/go/bin`;

/** Fails (never skips) when a tool the suite needs is missing, naming the package. */
export function requireTools(tools: Record<string, string>): void {
  const missing = Object.entries(tools).filter(([tool]) => spawnSync('sh', ['-c', `command -v ${tool}`], { env: { ...process.env, PATH } }).status !== 0);
  if (missing.length > 0) {
    throw new Error(`missing ${missing.map(([t]) => t).join(', ')}: apt-get install ${[...new Set(missing.map(([, p]) => p))].join(' ')} (.ci/run installs them)`);
  }
}

/** Runs `bash test/oci/SCRIPT ARGS` in a private mount namespace; its status and output. */
export function runScript(script: string, args: string[], timeoutMs: number): { status: number | null; output: string } {
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'bash', join(REPO, 'test', 'oci', script), ...args], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, PATH },
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}`;
  process.stdout.write(`== test/oci/${script}\n${output}`);
  return { status: r.status, output };
}
