/**
 * Every command, in the order `sandboxctl --help` lists them: the one list
 * `main` registers and routes, and failures name (./report.ts).
 */

import { CpCommand } from './cp';
import { DoctorCommand } from './doctor';
import { ExecCommand } from './exec';
import { ExplainCommand } from './explain';
import { ImageImportCommand } from './image/import';
import { ImageInspectCommand } from './image/inspect';
import { ImagePackCommand } from './image/pack';
import { OciCommand } from './oci';
import { BwrapPathCommand } from './bwrap-path';
import { PrintPlanCommand } from './plan';
import { PresetsCommand } from './presets';
import { PresetsShowCommand } from './presets/show';
import { PsCommand } from './ps';
import { RunCommand, RunImageDefaultsCommand } from './run';
import { SeccompExportCommand } from './seccomp/export';
import { StopCommand } from './stop';
import { TrustCommand } from './trust';

export const COMMANDS = [RunCommand, RunImageDefaultsCommand, ExecCommand, CpCommand, PsCommand, StopCommand, PrintPlanCommand, DoctorCommand, ExplainCommand, TrustCommand, PresetsCommand, PresetsShowCommand, SeccompExportCommand, OciCommand, ImageImportCommand, ImagePackCommand, ImageInspectCommand, BwrapPathCommand] as const;

/** The first words of the commands (`run`, `seccomp`…), without repeats, in {@link COMMANDS} order. */
export const COMMAND_NAMES: readonly string[] = [...new Set(COMMANDS.flatMap((command) => command.paths.map((path) => path[0]!)))];

/** The command whose help a mistake under the first word `name` points to (`seccomp` → `seccomp export`). */
export function helpPath(name: string): string | undefined {
  return COMMANDS.flatMap((command) => command.paths).find((path) => path[0] === name)?.join(' ');
}
