/**
 * The CLI entry: builds the clipanion `Cli`, runs one command and turns every
 * failure into `sandboxctl: E_CODE: message` on stderr with status 125.
 * clipanion's own `run` would print errors on stdout with status 1, so parsing
 * and execution are driven here.
 */

import { type BaseContext, Builtins, Cli, type Command } from 'clipanion';
import { onlyPlanFlags } from './plan-command';
import { COMMANDS } from './commands';
import { ociArgv } from './commands/oci';
import { RunImageDefaultsCommand } from './commands/run';
import { describeFailure, formatFailure } from './report';
import { VERSION } from './version';
import { colorDepthOf, makeCli } from './help';
import type { SandboxctlContext } from './context';

/**
 * The CLI; with `args`, only the commands their first word names (all when
 * it names none). clipanion compiles one parser for everything registered,
 * and run, plan and explain each have some 80 options: on the development VM
 * `cli.process` took 64 ms with every command and 16 ms with one, and a whole
 * `sandboxctl run` got about 25 ms faster (133 against 157 ms median, 80
 * interleaved runs).
 */
export function createCli(args?: readonly string[], colorDepth = 1): Cli<SandboxctlContext> {
  const cli = makeCli({ binaryLabel: 'sandboxctl', binaryName: 'sandboxctl', binaryVersion: VERSION }, colorDepth);
  const named = COMMANDS.filter((command) => command.paths?.some((path) => path[0] === args?.[0]));
  // `run` without a command (an image's own) is a second command on the path
  // `run`; for help, and for the whole list, `run` alone answers.
  const help = args === undefined || args.slice(0, Math.max(0, args.indexOf('--')) || args.length).some((a) => a === '-h' || a === '--help');
  for (const command of named.length > 0 ? named : COMMANDS) if (!(help && command === RunImageDefaultsCommand)) cli.register(command);
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  return cli;
}

/**
 * A reader that went away (`sandboxctl plan … | head -1`, `| true`) ends the
 * CLI quietly, with status 141 (128 + SIGPIPE) as a tool that dies of
 * SIGPIPE would: Node ignores SIGPIPE and would report the EPIPE write error
 * with a stack trace. A broken stderr is dropped the same way. Called by the
 * `sandboxctl` executable only: a library caller owns its process.
 */
export function exitQuietlyOnBrokenPipe(proc: Pick<NodeJS.Process, 'stdout' | 'stderr' | 'exit'> = process): void {
  for (const stream of [proc.stdout, proc.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      proc.exit(BROKEN_PIPE_STATUS);
    });
  }
}

/** The status of a process killed by SIGPIPE, as a shell reports it. */
export const BROKEN_PIPE_STATUS = 141;

/**
 * The command `input` names, parsed by a CLI whose plan commands know only
 * the flags the arguments name (./plan-command.ts, `onlyPlanFlags`); help,
 * and anything that parse refuses, go to the CLI with every flag, so what
 * the user sees is the same.
 */
function parse(args: readonly string[], input: readonly string[], ctx: SandboxctlContext): { cli: Cli<SandboxctlContext>; command: Command<SandboxctlContext> } {
  const help = input.some((a) => a === '-h' || a === '--help');
  if (input.length === 1 && help) {
    // `sandboxctl --help` is clipanion's HelpCommand, which prints
    // `cli.usage()`: it needs every command registered, not the parser that
    // `process` would compile for them all first.
    const cli = createCli(args, ctx.colorDepth);
    const command = new Builtins.HelpCommand();
    command.path = [input[0]!];
    return { cli, command };
  }
  if (!help) {
    onlyPlanFlags(input);
    try {
      const cli = createCli(args, ctx.colorDepth);
      return { cli, command: cli.process(input as string[], ctx) };
    } catch {
      // Parsed again below, with every flag, for the whole table's error.
    } finally {
      onlyPlanFlags(undefined);
    }
  }
  const cli = createCli(args, ctx.colorDepth);
  return { cli, command: cli.process(input as string[], ctx) };
}

/** Runs the CLI on `args` (without node and the script); resolves the exit status. */
export async function main(args: readonly string[], context: Partial<BaseContext> = {}): Promise<number> {
  const input = ociArgv(args);
  const ctx: SandboxctlContext = { ...Cli.defaultContext, ...context, argv: input };
  // clipanion's default depth asks a terminal prototype, not our stdout.
  if (context.colorDepth === undefined) ctx.colorDepth = colorDepthOf(ctx.stdout);
  try {
    const { cli, command } = parse(args, input, ctx);
    // Our commands report their own failures (below); help, --version and
    // --help on a command print through clipanion itself.
    if (COMMANDS.some((c) => command instanceof c) && !command.help) return await command.validateAndExecute();
    return await cli.run(command, ctx);
  } catch (error) {
    const failure = describeFailure(error, input);
    ctx.stderr.write(formatFailure(failure));
    return failure.exitStatus;
  }
}
