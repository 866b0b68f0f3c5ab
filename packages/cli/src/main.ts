/**
 * The CLI entry: builds the clipanion `Cli`, runs one command and turns every
 * failure into `sandboxctl: E_CODE: message` on stderr with status 125.
 * clipanion's own `run` would print errors on stdout with status 1, so parsing
 * and execution are driven here.
 */

import { type BaseContext, Builtins, Cli } from 'clipanion';
import { DoctorCommand } from './commands/doctor';
import { PlanCommand } from './commands/plan';
import { RunCommand } from './commands/run';
import { ExplainCommand } from './commands/explain';
import { PresetsCommand } from './commands/presets';
import { PresetsShowCommand } from './commands/presets/show';
import { SeccompExportCommand } from './commands/seccomp/export';
import { TrustCommand } from './commands/trust';
import { describeFailure, formatFailure } from './report';
import { VERSION } from './version';
import type { SandboxctlContext } from './context';
import { PlanFlagsCommand } from './plan-flags';

/** Every command, in the order `sandboxctl --help` lists them. */
const COMMANDS = [RunCommand, PlanCommand, DoctorCommand, ExplainCommand, TrustCommand, PresetsCommand, PresetsShowCommand, SeccompExportCommand];

/**
 * The CLI; with `args`, only the commands their first word names (all when
 * it names none). clipanion compiles one parser for everything registered,
 * and run, plan and explain each have some 80 options: on the development VM
 * `cli.process` took 64 ms with every command and 16 ms with one, and a whole
 * `sandboxctl run` got about 25 ms faster (133 against 157 ms median, 80
 * interleaved runs).
 */
export function createCli(args?: readonly string[]): Cli<SandboxctlContext> {
  const cli = new Cli<SandboxctlContext>({ binaryLabel: 'sandboxctl', binaryName: 'sandboxctl', binaryVersion: VERSION });
  const named = COMMANDS.filter((command) => command.paths?.some((path) => path[0] === args?.[0]));
  for (const command of named.length > 0 ? named : COMMANDS) cli.register(command);
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  return cli;
}

/** Runs the CLI on `args` (without node and the script); resolves the exit status. */
export async function main(args: readonly string[], context: Partial<BaseContext> = {}): Promise<number> {
  const cli = createCli(args);
  const input = [...args];
  const ctx: SandboxctlContext = { ...Cli.defaultContext, ...context, argv: input };
  try {
    const command = cli.process(input, ctx);
    if ((command instanceof PresetsCommand || command instanceof PresetsShowCommand) && !command.help) {
      return await command.validateAndExecute();
    }
    // Help, --version and --help on a command print through clipanion itself.
    if (!(command instanceof PlanFlagsCommand || command instanceof DoctorCommand || command instanceof SeccompExportCommand || command instanceof TrustCommand) || command.help) {
      return await cli.run(command, ctx);
    }
    return await command.validateAndExecute();
  } catch (error) {
    const failure = describeFailure(error, input);
    ctx.stderr.write(formatFailure(failure));
    return failure.exitStatus;
  }
}
