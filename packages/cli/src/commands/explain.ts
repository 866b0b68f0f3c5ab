/**
 * `sandboxctl explain [flags] [-- CMD ARGS...]`: the plan `run` would use, in
 * words: what is visible, writable, hidden and protected, what the run
 * leaves on the host, and what the program is denied. Runs nothing.
 */

import { Command, Option } from 'clipanion';
import { checkPlan, escapeControl, probe, explainPlan, formatExplanation, opDescriptionsFromSchema, planSchema, SandboxError, trustCommand, type OpOrigin, type SandboxConfig } from '@sandboxctl/core';
import { clipanionOption } from '../flags';
import { PlanCommand } from '../plan-command';

export class ExplainCommand extends PlanCommand {
  static override paths = [['explain']];
  static override usage = Command.Usage({
    description: 'say in words what a sandbox would allow',
    details: `
      Takes the same flags as \`sandboxctl run\` (the command is optional) and describes the resolved plan: the host paths the program can read and write, what is hidden from it (secrets behind empty directories or /dev/null), what stays read-only inside writable places, the mount points the run will create on the host, and what it is denied: network, system calls, privileges, environment variables.

      Each line names the op behind it with \`--json\`; ops a preset added carry the preset's reason. Nothing is run and nothing is created.

      The config line says which sandboxctl.json applies and whether it is trusted. One found by looking up that is not trusted (or changed since) is shown all the same, so you can review it before \`sandboxctl trust\`; \`run\` refuses it.
    `,
    examples: [
      ['What the agent preset allows in this directory', '$0 explain --preset agent'],
      ['The same with the network and a writable ./out', '$0 explain --preset agent --share-net --bind ./out ./out -- npm test'],
      ['As JSON', '$0 explain --preset build --json'],
    ],
  });

  json = clipanionOption('--json', { description: 'Print the explanation as JSON' }) as boolean;
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
      // An untrusted config is shown, so it can be reviewed before `sandboxctl trust`.
      resolved = this.resolvePlan(undefined, { allowUntrusted: true });
    } catch (error) {
      throw this.explain(error);
    }
    const { plan, origins, preset, config } = resolved;
    const notes = origins.map((origin: OpOrigin) => (origin.from === 'preset' ? origin.note : undefined));
    // The plan is checked as `run` would, with a stand-in program when none was given.
    const problem = checkPlan(plan.argv.length > 0 ? plan : { ...plan, argv: ['true'] });
    if (problem) throw this.explain(SandboxError.fromReport(problem));
    const options: Parameters<typeof explainPlan>[1] = { notes, opDescriptions: opDescriptionsFromSchema(parseSchema()) };
    if (preset) options.preset = preset.name;
    if (plan.landlock?.write) options.landlockAbi = probe().landlockAbi;
    const trust = config && configTrust(config, this.flagString('--config') !== undefined);
    if (config) options.config = this.json ? config.file : `${config.file} (${trust!.text})`;
    const explanation = explainPlan(plan, options);
    if (this.json) {
      const extra = { skipped: preset?.skipped ?? [], removedEnv: preset?.removedEnv ?? [], ...(config && { configFile: config.file, configTrust: trust!.state }) };
      this.context.stdout.write(`${JSON.stringify({ ...explanation, ...extra }, null, 2)}\n`);
    } else {
      let text = formatExplanation(explanation);
      for (const line of preset?.skipped ?? []) text += `note: ${escapeControl(line)}\n`;
      this.context.stdout.write(text);
    }
    return 0;
  }
}

/** Whether a run would use the config: trusted, named with --config, or refused. */
function configTrust(config: SandboxConfig, named: boolean): { state: 'trusted' | 'given' | 'untrusted'; text: string } {
  if (named) return { state: 'given', text: 'given with --config, so trusted' };
  if (config.untrusted === undefined) return { state: 'trusted', text: 'trusted' };
  const what = config.untrustedReason === 'changed' ? 'CHANGED since you trusted it' : config.untrustedReason === 'link' ? 'NOT trusted through this link' : 'NOT trusted';
  return { state: 'untrusted', text: `${what}: runs here refuse it until you review it and run \`${trustCommand(config.file)}\`` };
}

function parseSchema(): unknown {
  try {
    return JSON.parse(planSchema());
  } catch {
    return undefined;
  }
}
