/**
 * `sandboxctl plan [flags] -- CMD ARGS...`: prints the plan `run` would use,
 * checked, as JSON that `sandboxctl-init --plan FILE` accepts.
 */

import { Command } from 'clipanion';
import { checkPlan, SandboxError } from '@sandboxctl/core';
import { clipanionOption } from '../flags';
import { PlanCommand } from '../plan-command';

export class PrintPlanCommand extends PlanCommand {
  static override paths = [['plan']];
  static override usage = Command.Usage({
    description: 'print the plan for a sandbox without running it',
    details: `
      Takes the same flags as \`sandboxctl run\` and prints the resulting plan, validated by the native checker, as indented JSON: the preset's ops, then those of the config file, then the flags', with relative paths resolved. The output can be saved and run with \`sandboxctl-init --plan FILE\`, or edited first.

      With \`--json\` the plan is printed compact on one line, the form the launcher reads from \`--plan-fd\`.

      \`--file FD DEST\` reads the fd now; its contents end up in the plan.
    `,
    examples: [
      ['Show the plan for a read-only shell', '$0 plan --ro-bind / / --proc /proc --dev /dev -- sh'],
      ['The ops the agent preset makes for this directory', '$0 plan --preset agent -- npm test'],
      ['Save a plan and run it with the launcher', '$0 plan --ro-bind /usr /usr --tmpfs /tmp -- /usr/bin/env > plan.json && sandboxctl-init --plan plan.json'],
    ],
  });

  json = clipanionOption('--json', { description: 'Print the plan compact, on one line' }) as boolean;

  async execute(): Promise<number> {
    let plan;
    try {
      ({ plan } = this.resolvePlan());
    } catch (error) {
      throw this.explain(error);
    }
    const problem = checkPlan(plan);
    if (problem) throw this.explain(SandboxError.fromReport(problem));
    this.context.stdout.write(`${this.json ? JSON.stringify(plan) : JSON.stringify(plan, null, 2)}\n`);
    return 0;
  }
}
