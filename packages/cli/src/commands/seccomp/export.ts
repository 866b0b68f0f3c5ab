/**
 * `sandboxctl seccomp export [--preset NAME | --plan FILE] > filter.bpf`:
 * writes one compiled seccomp filter as raw classic BPF, the `struct
 * sock_filter` array (8 bytes per instruction) that bubblewrap's
 * `--seccomp FD` and `--add-seccomp-fd FD` read. The compiler is the one the
 * launcher uses, so the bytes are exactly what `sandboxctl run` loads.
 */

import { readFileSync } from 'node:fs';
import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { compileSeccomp, SandboxError, type Plan, type Seccomp } from '@sandboxctl/core';
import type { SandboxctlContext } from '../../context';
import { clipanionOption } from '../../flags';


const ARCHES = ['x86_64', 'aarch64'] as const;
const isIndex = t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(0, 1023)]);

export class SeccompExportCommand extends Command<SandboxctlContext> {
  static override paths = [['seccomp', 'export']];
  static override schema = [t.hasMutuallyExclusiveKeys(['preset', 'plan'], { missingIf: 'undefined' })];
  static override usage = Command.Usage({
    description: 'write a seccomp filter as raw BPF, for bubblewrap',
    details: `
      Compiles a seccomp policy with the compiler \`sandboxctl run\` uses and writes the program to stdout as raw BPF: the kernel's \`struct sock_filter\` array, 8 bytes per instruction, with nothing around it. That is what bubblewrap reads from \`--seccomp FD\` or \`--add-seccomp-fd FD\`. It is binary: redirect stdout to a file.

      \`--preset\` exports a preset (\`strict\`, the default, or \`none\`); \`--plan\` exports the \`seccomp\` section of a plan file such as \`sandboxctl plan\` prints, with its custom rules and stacked filters, and the deny-tty rules when the plan keeps the session.

      bubblewrap's \`--seccomp\` takes exactly one filter. A policy with \`seccomp.stack\` compiles to several; only the first is written unless \`--filter N\` picks another (numbered from 0, in load order). Load them all with one \`--add-seccomp-fd\` each, in that order.

      \`preset: none\` without rules has no filter to export (add \`--keep-session\` for the deny-tty rules alone). The filter refuses other architectures' calls: i386 calls kill the process and, unless \`--multiarch\`, x32 calls answer ENOSYS.
    `,
    examples: [
      ['Run bubblewrap under the strict filter', '$0 seccomp export > strict.bpf && bwrap --ro-bind / / --seccomp 9 9<strict.bpf -- sh'],
      ['Export the filter of a saved plan', '$0 plan --seccomp strict -- true > plan.json && $0 seccomp export --plan plan.json > filter.bpf'],
      ['The second stacked filter of a plan', '$0 seccomp export --plan plan.json --filter 1 > stacked.bpf'],
      ['The strict filter for an aarch64 machine', '$0 seccomp export --arch aarch64 > strict-aarch64.bpf'],
    ],
  });

  preset = clipanionOption('--preset', {
    description: 'The preset to export: strict (default) or none',
    validator: t.isEnum(['strict', 'none'] as const),
  }) as 'strict' | 'none' | undefined;
  plan = clipanionOption('--plan') as string | undefined;
  multiarch = Option.Boolean('--multiarch', false, { description: 'Allow modify_ldt and x32 calls (seccomp.multiarch)' });
  keepSession = Option.Boolean('--keep-session', false, {
    description: 'Add the deny-tty rules whatever the preset, as run --keep-session does',
  });
  arch = clipanionOption('--arch', { validator: t.isEnum(ARCHES) }) as (typeof ARCHES)[number] | undefined;
  filter = clipanionOption('--filter', { validator: isIndex }) as number | undefined;

  async execute(): Promise<number> {
    const { policy, keepSession } = this.policy();
    const filters = compile(policy, keepSession, this.arch);
    if (filters.length === 0) {
      throw usage(
        'the policy has no filter to export (preset none without rules)',
        'export `--preset strict`, or add `--keep-session` for the deny-tty rules alone',
      );
    }
    const index = this.filter ?? 0;
    const program = filters[index];
    if (program === undefined) {
      throw usage(`--filter ${index}: the policy has ${filters.length} filter${filters.length === 1 ? '' : 's'}, numbered from 0`);
    }
    if ((this.context.stdout as { isTTY?: boolean }).isTTY) {
      throw usage('refusing to write binary BPF to a terminal', 'redirect the output: `sandboxctl seccomp export > filter.bpf`');
    }
    this.context.stdout.write(program);
    return 0;
  }

  /** The policy to compile, from the preset flags or the plan file. */
  private policy(): { policy: Seccomp; keepSession: boolean } {
    let policy: Seccomp = { preset: this.preset ?? 'strict' };
    let keepSession = this.keepSession;
    if (this.plan !== undefined) {
      const plan = readPlan(this.plan);
      policy = plan.seccomp ?? {};
      keepSession ||= plan.newSession === false;
    }
    if (this.multiarch) policy = { ...policy, multiarch: true };
    return { policy, keepSession };
  }
}

function readPlan(file: string): Plan {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw usage(`--plan ${file}: ${reason}`);
  }
  let plan: unknown;
  try {
    plan = JSON.parse(text);
  } catch (error) {
    throw usage(`--plan ${file}: not JSON: ${(error as Error).message}`, 'pass a plan such as `sandboxctl plan ... > plan.json` writes');
  }
  if (typeof plan !== 'object' || plan === null || Array.isArray(plan)) {
    throw usage(`--plan ${file}: not a plan (a JSON object)`, 'pass a plan such as `sandboxctl plan ... > plan.json` writes');
  }
  return plan as Plan;
}

/** The library's compiler (the addon is loaded on first use, so `--help` works without it). */
function compile(policy: Seccomp, keepSession: boolean, arch: string | undefined): Buffer[] {
  return compileSeccomp(policy, keepSession, arch);
}

function usage(message: string, hint?: string): SandboxError {
  return new SandboxError('E_USAGE', message, { hint });
}
