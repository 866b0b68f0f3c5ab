/**
 * `sandboxctl explain [flags] [-- CMD ARGS...]`: the plan `run` would use, in
 * words: what is visible, writable, hidden and protected, what the run
 * leaves on the host, and what the program is denied. Runs nothing.
 */

import { Command, Option } from 'clipanion';
import { checkPlan, escapeControl, explainPlan, formatExplanation, opDescriptionsFromSchema, planSchema, SandboxError } from '@sandboxctl/core';
import { PLAN_FLAGS_SCHEMA } from '../plan-flags';
import { SOURCE_FLAG_ARITY, SourcedPlanCommand } from '../plan-sources';

export class ExplainCommand extends SourcedPlanCommand {
  static override paths = [['explain']];
  static override schema = PLAN_FLAGS_SCHEMA;
  static override usage = Command.Usage({
    description: 'say in words what a sandbox would allow',
    details: `
      Takes the same flags as \`sandboxctl run\` (the command is optional) and describes the resolved plan: the host paths the program can read and write, what is hidden from it (secrets behind empty directories or /dev/null), what stays read-only inside writable places, the mount points the run will create on the host, and what it is denied: network, system calls, privileges, environment variables.

      Each line names the op behind it with \`--json\`; ops a preset added carry the preset's reason. Nothing is run and nothing is created.
    `,
    examples: [
      ['What the agent preset allows in this directory', '$0 explain --preset agent'],
      ['The same with the network and a writable ./out', '$0 explain --preset agent --share-net --bind ./out ./out -- npm test'],
      ['As JSON', '$0 explain --preset build --json'],
    ],
  });

  static override extraFlagArity = { ...SOURCE_FLAG_ARITY, '--json': 0 };

  json = Option.Boolean('--json', false, { description: 'Print the explanation as JSON' });
  // Optional here; typed as the base's `string` (clipanion reads the option
  // from this field), and `resolvePlan` gives an absent one an empty argv.
  override program = Option.String({ name: 'command', required: false }) as string;
  // A proxy would swallow the flags once the command is optional; the
  // program's own flags then follow `--`.
  override args = Option.Rest({ name: 'args' });

  async execute(): Promise<number> {
    // clipanion hands everything after `--` to the rest list.
    if (this.program === undefined && this.args.length > 0) [this.program, ...this.args] = this.args as [string, ...string[]];
    let resolved;
    try {
      resolved = this.resolvePlan();
    } catch (error) {
      throw this.explain(error);
    }
    const { plan, notes, preset, config } = resolved;
    // The plan is checked as `run` would, with a stand-in program when none was given.
    const problem = checkPlan(plan.argv.length > 0 ? plan : { ...plan, argv: ['true'] });
    if (problem) throw this.explain(SandboxError.fromReport(problem));
    const options: Parameters<typeof explainPlan>[1] = { notes, opDescriptions: opDescriptionsFromSchema(parseSchema()) };
    if (preset) options.preset = preset.name;
    if (config) options.config = config.file;
    const explanation = explainPlan(plan, options);
    if (this.json) {
      this.context.stdout.write(`${JSON.stringify({ ...explanation, skipped: preset?.skipped ?? [], removedEnv: preset?.removedEnv ?? [] }, null, 2)}\n`);
    } else {
      let text = formatExplanation(explanation);
      for (const line of preset?.skipped ?? []) text += `note: ${escapeControl(line)}\n`;
      this.context.stdout.write(text);
    }
    return 0;
  }
}

function parseSchema(): unknown {
  try {
    return JSON.parse(planSchema());
  } catch {
    return undefined;
  }
}
