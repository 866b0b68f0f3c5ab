/** `sandboxctl presets [--json]`: the presets, one line each. */

import { Command, Option } from 'clipanion';
import { PRESET_NAMES, PRESETS } from '@sandboxctl/core';
import type { SandboxctlContext } from '../context';

export class PresetsCommand extends Command<SandboxctlContext> {
  static override paths = [['presets']];
  static override usage = Command.Usage({
    description: 'list the presets',
    details: `
      A preset is a named starting point for a sandbox: its ops come first, and flags and sandboxctl.json add to it and override its policy. \`sandboxctl presets show NAME\` prints what one does, with the exact ops it makes in the current directory.
    `,
    examples: [
      ['List them', '$0 presets'],
      ['As JSON', '$0 presets --json'],
      ['Run a program with one', '$0 run --preset agent -- npm test'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print the list as JSON' });

  async execute(): Promise<number> {
    const presets = PRESET_NAMES.map((name) => PRESETS[name]);
    if (this.json) {
      const list = presets.map((p) => ({ name: p.name, summary: p.summary, params: p.params }));
      this.context.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      return 0;
    }
    const width = Math.max(...presets.map((p) => p.name.length)) + 2;
    const lines = presets.map((p) => `${p.name.padEnd(width)}${p.summary}`);
    lines.push('', 'Use one with `sandboxctl run --preset NAME -- CMD`; `sandboxctl presets show NAME` lists its ops.');
    this.context.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  }
}
