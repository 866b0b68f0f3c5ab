/**
 * `sandboxctl presets show NAME [--json]`: what a preset does, and the exact
 * ops it makes for the current directory, home and host.
 */

import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { describeOp, escapeControl, exampleOptions, getPreset, isSandboxError, PRESET_NAMES, resolvePreset, type ResolvedPreset } from '@sandboxctl/core';
import type { SandboxctlContext } from '../../context';

export class PresetsShowCommand extends Command<SandboxctlContext> {
  static override paths = [['presets', 'show']];
  static override usage = Command.Usage({
    description: 'show what a preset does and the ops it makes here',
    details: `
      Prints the preset's description, the parameters it takes, and the ops and policy it resolves to in the current directory with your home directory and this host: secrets are hidden only where they exist, protected paths get placeholders only where they are missing, and credential-looking variables are named (never their values).
    `,
    examples: [
      ['The agent preset, here', '$0 presets show agent'],
      ['As JSON, for tools', '$0 presets show build --json'],
    ],
  });

  name = Option.String({ name: 'name', validator: t.isEnum(PRESET_NAMES) });
  json = Option.Boolean('--json', false, { description: 'Print the preset and its ops as JSON' });

  async execute(): Promise<number> {
    const preset = getPreset(this.name);
    // A preset that refuses this directory (agent in $HOME) is shown for the
    // example project instead, with the reason.
    let where = process.cwd();
    let refused: string | undefined;
    let resolved: ResolvedPreset;
    try {
      resolved = resolvePreset({ name: this.name, cwd: where });
    } catch (error) {
      if (!isSandboxError(error) || error.path !== 'preset') throw error;
      refused = error.message;
      const example = exampleOptions(this.name);
      where = `${example.cwd!}, an example: ${error.message}`;
      resolved = resolvePreset(example);
    }
    if (this.json) {
      const out = {
        name: preset.name,
        summary: preset.summary,
        description: preset.description,
        params: preset.params,
        ops: resolved.ops,
        notes: resolved.notes,
        policy: resolved.policy,
        removedEnv: resolved.removedEnv,
        skipped: resolved.skipped,
        ...(refused === undefined ? {} : { refusedHere: refused }),
      };
      this.context.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    const lines: string[] = [`${preset.name}: ${preset.summary}`, ''];
    for (const paragraph of preset.description) lines.push(...wrap(paragraph, 88), '');
    lines.push(`ops here (${where}):`);
    resolved.ops.forEach((op, i) => lines.push(`  ${String(i + 1).padStart(2)}. ${describeOp(op)}  # ${resolved.notes[i]!.why}`));
    lines.push('', 'policy:');
    for (const [key, value] of Object.entries(resolved.policy)) lines.push(`  ${key}: ${JSON.stringify(value)}`);
    for (const note of resolved.skipped) lines.push(`note: ${note}`);
    this.context.stdout.write(`${lines.map(escapeControl).join('\n')}\n`);
    return 0;
  }
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') out.push(line);
  return out;
}
