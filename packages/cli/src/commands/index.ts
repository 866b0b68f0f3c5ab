/**
 * Every command, in the order `sandboxctl --help` lists them: the one list
 * `main` registers and routes, and failures name (./report.ts).
 */

import { CpCommand } from './cp';
import { DoctorCommand } from './doctor';
import { ExecCommand } from './exec';
import { ExplainCommand } from './explain';
import { PrintPlanCommand } from './plan';
import { PresetsCommand } from './presets';
import { PresetsShowCommand } from './presets/show';
import { PsCommand } from './ps';
import { RunCommand } from './run';
import { SeccompExportCommand } from './seccomp/export';
import { StopCommand } from './stop';
import { TrustCommand } from './trust';

export const COMMANDS = [RunCommand, ExecCommand, CpCommand, PsCommand, StopCommand, PrintPlanCommand, DoctorCommand, ExplainCommand, TrustCommand, PresetsCommand, PresetsShowCommand, SeccompExportCommand] as const;

/** The first words of the commands (`run`, `seccomp`…), without repeats, in {@link COMMANDS} order. */
export const COMMAND_NAMES: readonly string[] = [...new Set(COMMANDS.flatMap((command) => command.paths.map((path) => path[0]!)))];

/** The command whose help a mistake under the first word `name` points to (`seccomp` → `seccomp export`). */
export function helpPath(name: string): string | undefined {
  return COMMANDS.flatMap((command) => command.paths).find((path) => path[0] === name)?.join(' ');
}
