/**
 * `sandboxctl doctor [--json]`: what this install uses and what the kernel
 * allows, with a fix for each problem. Exits 0 when sandboxes can run, 1 when
 * a problem was found.
 */

import { Command, Option } from 'clipanion';
import { diagnose, type Diagnosis } from '@sandboxctl/core';
import type { SandboxctlContext } from '../context';
import { VERSION } from '../version';

export class DoctorCommand extends Command<SandboxctlContext> {
  static override paths = [['doctor']];
  static override usage = Command.Usage({
    description: 'check that sandboxes can run here',
    details: `
      Loads the native addon, asks the kernel what it supports (unprivileged user namespaces and the sysctls that restrict them, seccomp, landlock) and checks the \`sandboxctl-init\` launcher and the \`sandboxctl-oci\` OCI runtime: their absolute paths and where they came from (\`$SANDBOXCTL_INIT\` or \`$SANDBOXCTL_OCI\`, a source build or the prebuilt platform package), whether they exist and are executable, and their versions. It also checks the sandboxctl.json a run here would use: that it is valid and trusted (\`sandboxctl trust\`).

      Every problem comes with the error code a run would fail with and a hint. The exit status is 0 when no problem was found, 1 otherwise.
    `,
    examples: [
      ['Check this machine', '$0 doctor'],
      ['The same facts as JSON', '$0 doctor --json'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print the findings as JSON' });

  async execute(): Promise<number> {
    const diagnosis = diagnose();
    const report = { cli: { version: VERSION }, ...diagnosis };
    this.context.stdout.write(this.json ? `${JSON.stringify(report, null, 2)}\n` : formatDiagnosis(diagnosis));
    return diagnosis.ok ? 0 : 1;
  }
}

/** Which sandboxctl.json a run here uses, and whether it is trusted. */
export function formatConfig(c: Diagnosis['config']): string {
  if (c.path === undefined) return 'none (no sandboxctl.json here or above)';
  if (c.code === 'E_CONFIG_UNTRUSTED') return `${c.path}: not trusted, not used (\`sandboxctl trust\`)`;
  if (c.error !== undefined) return `${c.path}: invalid${c.trusted ? ' (trusted)' : ''}`;
  return `${c.path} (${c.preset ? `preset ${c.preset}, ` : ''}trusted)`;
}

/** One native executable: its path, where it came from, and whether it runs. */
function formatExecutable(e: Diagnosis['init'], env: string): string {
  const state = !e.exists ? 'missing' : !e.executable ? 'not executable' : 'ok';
  return `${e.path}${e.from ? ` (from ${e.from})` : e.fromEnv ? ` (from ${env})` : ''}: ${state}${e.version ? ` (${e.version})` : ''}`;
}

/** The text form of `doctor`. */
export function formatDiagnosis(d: Diagnosis): string {
  const lines: string[] = [];
  const yes = (on: boolean, text = 'yes'): string => (on ? text : 'no');
  lines.push(`sandboxctl ${VERSION} (core ${d.core.version}), node ${d.node.version}, N-API ${d.node.napi ?? 'unknown'}`);
  lines.push(
    d.addon.loaded
      ? `addon:    ${d.addon.path ?? 'loaded'} (native ${d.addon.version ?? 'unknown'})`
      : 'addon:    not loaded',
  );
  lines.push(`init:     ${formatExecutable(d.init, 'SANDBOXCTL_INIT')}`);
  lines.push(`oci:      ${formatExecutable(d.oci, 'SANDBOXCTL_OCI')}`);
  lines.push(`config:   ${formatConfig(d.config)}`);
  const k = d.kernel;
  if (k) {
    lines.push(`kernel:   ${k.kernelRelease}`);
    const sysctls = [
      k.userns.maxUserNamespaces !== undefined ? `user.max_user_namespaces=${k.userns.maxUserNamespaces}` : undefined,
      k.userns.unprivilegedUsernsClone !== undefined
        ? `kernel.unprivileged_userns_clone=${k.userns.unprivilegedUsernsClone}`
        : undefined,
      k.userns.apparmorRestrictUnprivilegedUserns !== undefined
        ? `kernel.apparmor_restrict_unprivileged_userns=${k.userns.apparmorRestrictUnprivilegedUserns}`
        : undefined,
    ].filter((s) => s !== undefined);
    lines.push(`userns:   ${yes(k.userns.available)}${sysctls.length ? ` (${sysctls.join(', ')})` : ''}`);
    lines.push(`seccomp:  ${yes(k.seccomp)}`);
    lines.push(
      `landlock: ${k.landlockAbi > 0 ? `ABI ${k.landlockAbi} (scopes ${k.landlockAbi >= 6 ? 'enforced' : 'need ABI 6'}; the --allow-write write allow-list enforced${k.landlockAbi < 3 ? ', without truncate control (ABI 3)' : ''})` : 'no'}`,
    );
  }
  if (d.sockets) lines.push(`sockets:  ${d.sockets.text}`);
  lines.push('');
  if (d.problems.length === 0) {
    lines.push('no problems found');
  } else {
    for (const p of d.problems) {
      lines.push(`problem: ${p.code}: ${p.message}`);
      if (p.hint) lines.push(`  hint: ${p.hint}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
