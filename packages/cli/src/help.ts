/**
 * Help as a terminal and a pipe each want it. clipanion names option values
 * `#0 #1`; the flag table (./flags.ts) names them (`--bind SRC DEST`), applied
 * where clipanion builds each command's usage so its columns stay aligned.
 * Colour only when stdout is a terminal, as Node's own colour rules say
 * (`FORCE_COLOR` first, then `NO_COLOR`, then the terminal's depth);
 * clipanion's default asks a terminal prototype and so colours pipes too.
 */

import { Cli } from 'clipanion';
import type { SandboxctlContext } from './context';
import { valueNames } from './flags';

/** `text` with every `--flag #0 #1` given its operand names. */
export function nameOperands(text: string): string {
  return text.replace(/(--[a-z0-9-]+)((?: #\d+)+)/g, (whole, flag: string, values: string) => {
    const names = valueNames(flag);
    const count = values.trim().split(' ').length;
    return names && names.length === count ? `${flag} ${names.join(' ')}` : whole;
  });
}

type UsageOptions = Parameters<Cli['usage']>[1] & { inlineOptions?: boolean };
type Usage = { usage: string; options: { preferredName: string; nameSet: string[]; definition: string; description: string; required: boolean }[] };

/** clipanion's `Cli` with named operands in every usage it builds. */
export class SandboxctlCli extends Cli<SandboxctlContext> {
  protected override getUsageByIndex(n: number, opts?: UsageOptions): Usage {
    const { usage, options } = super.getUsageByIndex(n, opts) as Usage;
    return { usage: nameOperands(usage), options: options.map((o) => ({ ...o, definition: nameOperands(o.definition) })) };
  }
}

/** Constructs the CLI; `colorDepth` decides whether help is coloured. */
export function makeCli(options: { binaryLabel?: string; binaryName: string; binaryVersion?: string }, colorDepth: number): SandboxctlCli {
  return new SandboxctlCli({ ...options, enableColors: colorDepth > 1 });
}

/** The colour depth for `stream` as Node decides it for terminals; 1 (none) for anything else unless FORCE_COLOR says otherwise. */
export function colorDepthOf(stream: unknown, env: Readonly<Record<string, string | undefined>> = process.env): number {
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === '0' || force === 'false') return 1;
    if (force === '2') return 8;
    if (force === '3') return 24;
    return 4;
  }
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 1;
  const tty = stream as { isTTY?: boolean; getColorDepth?: (env?: object) => number } | undefined;
  if (tty?.isTTY && typeof tty.getColorDepth === 'function') return tty.getColorDepth(env);
  return 1;
}
