/**
 * Help as a terminal and a pipe each want it. clipanion names option values
 * `#0 #1`; {@link FLAG_OPERANDS} names them (`--bind SRC DEST`), applied
 * where clipanion builds each command's usage so its columns stay aligned.
 * Colour only when stdout is a terminal, as Node's own colour rules say
 * (`FORCE_COLOR` first, then `NO_COLOR`, then the terminal's depth);
 * clipanion's default asks a terminal prototype and so colours pipes too.
 */

import { Cli } from 'clipanion';
import type { SandboxctlContext } from './context';

/**
 * The values each flag takes, by name: the help's one source for them. A
 * unit test checks it against every flag's arity (`FLAG_ARITY` and the
 * commands' own options), so a new flag without names fails there.
 */
export const FLAG_OPERANDS: Readonly<Record<string, readonly string[]>> = {
  // Ops.
  '--bind': ['SRC', 'DEST'],
  '--bind-try': ['SRC', 'DEST'],
  '--ro-bind': ['SRC', 'DEST'],
  '--ro-bind-try': ['SRC', 'DEST'],
  '--dev-bind': ['SRC', 'DEST'],
  '--dev-bind-try': ['SRC', 'DEST'],
  '--proc': ['DEST'],
  '--dev': ['DEST'],
  '--tmpfs': ['DEST'],
  '--dir': ['DEST'],
  '--symlink': ['SRC', 'DEST'],
  '--file': ['FD', 'DEST'],
  '--ro-bind-data': ['FD', 'DEST'],
  '--file-data': ['TEXT', 'DEST'],
  '--remount-ro': ['DEST'],
  '--overlay-src': ['SRC'],
  '--overlay': ['RWSRC', 'WORKDIR', 'DEST'],
  '--tmp-overlay': ['DEST'],
  '--ro-overlay': ['DEST'],
  '--mqueue': ['DEST'],
  '--chmod': ['OCTAL', 'PATH'],
  '--bind-fd': ['FD', 'DEST'],
  '--ro-bind-fd': ['FD', 'DEST'],
  '--autoetc': ['DEST'],
  '--autoroot': ['DEST'],
  '--passwd': ['DEST'],
  // Modifiers and policy.
  '--perms': ['OCTAL'],
  '--size': ['BYTES'],
  '--uid': ['UID'],
  '--gid': ['GID'],
  '--hostname': ['NAME'],
  '--chdir': ['DIR'],
  '--setenv': ['VAR', 'VALUE'],
  '--unsetenv': ['VAR'],
  '--seccomp': ['PRESET'],
  '--linger-ms': ['MS'],
  '--cap-add': ['CAP'],
  '--cap-drop': ['CAP'],
  '--argv0': ['NAME'],
  '--json-status-fd': ['FD'],
  '--pass-fd': ['FD'],
  // Plan sources and preset parameters.
  '--preset': ['NAME'],
  '--config': ['FILE'],
  '--allow-env': ['NAME'],
  '--input': ['PATH'],
  '--output': ['DIR'],
  '--allow-home': ['PATH'],
  '--allow-socket': ['PATH'],
  '--allow-write': ['PATH'],
  '--on-taint': ['MODE'],
  // Other commands.
  '--remove': ['FILE'],
  '--plan': ['FILE'],
  '--arch': ['ARCH'],
  '--filter': ['N'],
};

/** `text` with every `--flag #0 #1` given its operand names. */
export function nameOperands(text: string): string {
  return text.replace(/(--[a-z0-9-]+)((?: #\d+)+)/g, (whole, flag: string, values: string) => {
    const names = FLAG_OPERANDS[flag];
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
