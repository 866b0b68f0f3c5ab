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
import { describeFailure, formatFailure } from './report';
import { VERSION } from './version';
import type { SandboxctlContext } from './context';
import { PlanFlagsCommand } from './plan-flags';

export function createCli(): Cli<SandboxctlContext> {
  const cli = new Cli<SandboxctlContext>({ binaryLabel: 'sandboxctl', binaryName: 'sandboxctl', binaryVersion: VERSION });
  cli.register(RunCommand);
  cli.register(PlanCommand);
  cli.register(DoctorCommand);
  cli.register(ExplainCommand);
  cli.register(PresetsCommand);
  cli.register(PresetsShowCommand);
  cli.register(SeccompExportCommand);
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  return cli;
}

/** Runs the CLI on `args` (without node and the script); resolves the exit status. */
export async function main(args: readonly string[], context: Partial<BaseContext> = {}): Promise<number> {
  const cli = createCli();
  const input = [...args];
  const ctx: SandboxctlContext = { ...Cli.defaultContext, ...context, argv: input };
  try {
    const command = cli.process(input, ctx);
    if ((command instanceof PresetsCommand || command instanceof PresetsShowCommand) && !command.help) {
      return await command.validateAndExecute();
    }
    // Help, --version and --help on a command print through clipanion itself.
    if (!(command instanceof PlanFlagsCommand || command instanceof DoctorCommand || command instanceof SeccompExportCommand) || command.help) {
      return await cli.run(command, ctx);
    }
    return await command.validateAndExecute();
  } catch (error) {
    const failure = describeFailure(error, input);
    ctx.stderr.write(formatFailure(failure));
    return failure.exitStatus;
  }
}
