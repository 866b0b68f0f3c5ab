/** `sandboxctl ps [--json]`: the caller's running live sandboxes. */

import { Command } from 'clipanion';
import { list } from '@sandboxctl/core';
import type { SandboxctlContext } from '../context';
import { clipanionOption } from '../flags';

/** `1h2m`, `3m4s`, `5s`. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

export class PsCommand extends Command<SandboxctlContext> {
  static override paths = [['ps']];
  static override usage = Command.Usage({
    description: 'list the running live sandboxes',
    details: `
      Lists your sandboxes started with \`sandboxctl run --name\` (or \`start()\` from the library) that are still running: name, pid 1 on the host, age, preset and command. Entries of sandboxes that died are removed on the way, whatever killed them. The registry lives in your private runtime directory (\`$XDG_RUNTIME_DIR/sandboxctl\`, or a 0700 directory of yours).
    `,
    examples: [
      ['List them', '$0 ps'],
      ['As JSON', '$0 ps --json'],
    ],
  });

  json = clipanionOption('--json', { description: 'Print the list as JSON' }) as boolean;

  async execute(): Promise<number> {
    const all = list();
    if (this.json) {
      this.context.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
      return 0;
    }
    const now = Date.now();
    const rows = [['NAME', 'PID', 'AGE', 'PRESET', 'COMMAND']];
    for (const s of all) rows.push([s.name, String(s.pid1), formatAge(now - s.createdMs), s.labels.preset ?? '-', s.argv.join(' ') || '-']);
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    const lines = rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2))).join(''));
    this.context.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  }
}
