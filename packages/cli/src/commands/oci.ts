/**
 * `sandboxctl oci path` prints the absolute path of the `sandboxctl-oci`
 * runtime (what engines are given: `podman --runtime "$(sandboxctl oci
 * path)"`); `sandboxctl oci ARGS…` runs that runtime with ARGS unchanged,
 * stdio inherited, and exits with its status (128+N when a signal N ended
 * it), so `sandboxctl oci spec` and `sandboxctl oci run --bundle . ID` are
 * runc's command line. Engines should call the runtime itself: this CLI is
 * Node, and the runtime's point is to start without it.
 */

import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { Command, Option } from 'clipanion';
import { resolveOci } from '@sandboxctl/core';
import type { SandboxctlContext } from '../context';

/** Signals a terminal or a supervisor sends to the CLI, passed on to the runtime. */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

export class OciCommand extends Command<SandboxctlContext> {
  static override paths = [['oci']];
  static override usage = Command.Usage({
    description: "the OCI runtime: its path, or runc's command line",
    details: `
      \`sandboxctl oci path\` prints the absolute path of \`sandboxctl-oci\`, the OCI runtime shipped in the platform package beside \`sandboxctl-init\` (\`$SANDBOXCTL_OCI\` overrides it); give that path to podman (\`--runtime\`), containerd (\`BinaryName\`, \`ctr run --runc-binary\`) or Docker (\`daemon.json\` \`runtimes\`), see docs/oci.md. It fails with \`E_OCI_MISSING\` (exit 125) when the runtime is not there.

      Anything else is runc's command line, passed to the runtime unchanged with stdio inherited; the exit status is the runtime's (128+N when signal N ended it). \`sandboxctl oci spec\` prints a starting config.json when stdout is not a terminal (else writes ./config.json; \`--bundle DIR\` writes DIR/config.json), and \`sandboxctl oci run --bundle DIR ID\` runs a bundle. \`sandboxctl oci --help\` is this text; the runtime's own usage is \`$(sandboxctl oci path) --help\`.
    `,
    examples: [
      ['Run a container with podman through sandboxctl', 'podman --runtime "$(sandboxctl oci path)" run --rm -it IMAGE sh'],
      ['Run a container with containerd', 'ctr run --runc-binary "$(sandboxctl oci path)" --rm IMAGE id1 true'],
      ['A bundle by hand (rootfs/ beside config.json)', '$0 oci spec > config.json && $0 oci run --bundle . id2'],
    ],
  });

  args = Option.Proxy({ required: 1 });

  async execute(): Promise<number> {
    const runtime = resolveOci();
    if (this.args.length === 1 && this.args[0] === 'path') {
      this.context.stdout.write(`${runtime}\n`);
      return 0;
    }
    return forward(runtime, this.args, this.context);
  }
}

/**
 * The argv clipanion should parse for `args`: after `oci`, everything is the
 * runtime's, options before the first word included (`oci --root D list`),
 * so a `--` is put after `oci`; `oci --help` alone stays this command's help.
 */
export function ociArgv(args: readonly string[]): string[] {
  if (args[0] !== 'oci' || args.length < 2 || args[1] === '--') return [...args];
  if (args.length === 2 && (args[1] === '--help' || args[1] === '-h')) return [...args];
  return ['oci', '--', ...args.slice(1)];
}

/**
 * Runs the runtime with `args`; resolves its exit status. The CLI's own
 * stdout and stderr are inherited when they are the process's (the normal
 * case), else piped into the context's streams (tests, library callers).
 */
function forward(runtime: string, args: readonly string[], context: SandboxctlContext): Promise<number> {
  const own = (stream: NodeJS.WritableStream, fd: number): 'inherit' | 'pipe' =>
    stream === (fd === 1 ? process.stdout : process.stderr) ? 'inherit' : 'pipe';
  const child = spawn(runtime, [...args], { stdio: ['inherit', own(context.stdout, 1), own(context.stderr, 2)] });
  child.stdout?.pipe(context.stdout, { end: false });
  child.stderr?.pipe(context.stderr, { end: false });
  const relay = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  for (const signal of FORWARDED) process.on(signal, relay);
  return new Promise((resolveStatus, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const s of FORWARDED) process.off(s, relay);
      resolveStatus(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}
