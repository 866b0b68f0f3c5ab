/**
 * `sandboxctl bwrap-path` prints the absolute path of `sandboxctl-bwrap`,
 * the bubblewrap drop-in (bubblewrap's command line over our init, no
 * Node): what callers of `bwrap` are given (`BWRAP=...`, a symlink named
 * bwrap on PATH). See docs/bwrap.md.
 */

import { Command } from 'clipanion';
import { resolveBwrap } from '@sandboxctl/core';
import type { SandboxctlContext } from '../context';

export class BwrapPathCommand extends Command<SandboxctlContext> {
  static override paths = [['bwrap-path']];
  static override usage = Command.Usage({
    description: 'print the path of sandboxctl-bwrap, the bubblewrap drop-in',
    details: `
      Prints the absolute path of \`sandboxctl-bwrap\`, shipped in the platform package beside \`sandboxctl-init\` (\`$SANDBOXCTL_BWRAP\` overrides it). It takes bubblewrap's whole command line (0.11) and runs it on sandboxctl's init; \`--sandboxctl-defaults\` adds sandboxctl's default seccomp filter and Landlock scopes. See docs/bwrap.md. It fails with \`E_BWRAP_MISSING\` (exit 125) when the executable is not there.
    `,
    examples: [
      ['Run a bubblewrap command line on sandboxctl', '"$(sandboxctl bwrap-path)" --ro-bind / / --proc /proc --dev /dev --unshare-all -- sh'],
      ['Give it to a tool that runs bwrap', 'ln -s "$(sandboxctl bwrap-path)" ~/.local/bin/bwrap'],
    ],
  });

  async execute(): Promise<number> {
    this.context.stdout.write(`${resolveBwrap()}\n`);
    return 0;
  }
}
