/**
 * The generated part of docs/presets/<name>.md: the preset's description,
 * how to use it, its lists, and the exact ops and policy it resolves to on
 * the example host (example.ts). A unit test fails when a committed page's
 * generated part differs; `node scripts/gen-preset-docs.mjs` rewrites it and
 * keeps the hand-written text after it.
 */

import { describeOp } from '../plan/describe';
import { ENV_ALLOW } from './credentials';
import { EXAMPLE_CWD, EXAMPLE_DESCRIPTION, exampleOptions } from './example';
import { HOME_CACHES, HOME_TOOLCHAINS } from './home';
import { PRESETS, resolvePreset } from './index';
import type { PresetName, PresetStep } from './types';

export const DOC_BEGIN = '<!-- generated from packages/core/src/presets by scripts/gen-preset-docs.mjs: do not edit until the end marker -->';
export const DOC_END = '<!-- end of generated part -->';

const PARAM_TEXT: Record<string, string> = {
  allowEnv: '`--allow-env NAME` (repeatable; config `allowEnv`): keep a variable whatever it holds (a trailing `*` is a prefix)',
  allowHome: '`--allow-home PATH` (repeatable; library `allowHome`): show one more path of the home, read-only (relative to the home, or absolute below it); known secret files inside it stay hidden',
  allowSocket: '`--allow-socket PATH` (repeatable; library `allowSocket`): leave the host socket at PATH reachable, bound read-only at its own path',
  allowWrite: '`--allow-write PATH` (repeatable; library `filesystem.allowWrite` or the preset option `allowWrite`, config `filesystem.allowWrite`): let the program write this protected path (e.g. `.git/hooks`, `.vscode`); the filesystem rule also binds it writable (docs/limits.md)',
  inputs: '`--input PATH` (repeatable; config `inputs`): a path readable in the sandbox, default the current directory',
  output: '`--output DIR` (config `output`): the one writable directory, default `./out`; it must exist',
};

/** The generated part of docs/presets/NAME.md, markers included. */
export function renderPresetDoc(name: PresetName): string {
  const preset = PRESETS[name];
  const resolved = resolvePreset(exampleOptions(name));
  const out: string[] = [DOC_BEGIN, `# Preset \`${name}\``, '', `${capital(preset.summary)}.`, ''];
  for (const paragraph of preset.description) out.push(paragraph, '');
  out.push('## Use', '', '```sh', `sandboxctl run --preset ${name} -- CMD ARGS...`, `sandboxctl explain --preset ${name}`, '```', '');
  out.push('```js', `await run({ argv: ['CMD'], preset: '${name}' }); // or { name: '${name}', cwd, home, ... }`, '```', '');
  out.push(`In sandboxctl.json: \`{ "preset": "${name}" }\`. Flags and config ops come after the preset's ops; their policy overrides the preset's.`, '');
  if (preset.params.length > 0) {
    out.push('Parameters:', '');
    for (const param of preset.params) out.push(`- ${PARAM_TEXT[param]}`);
    out.push('');
  }
  out.push('## What it does', '');
  for (const step of preset.steps) out.push(`- ${stepText(step)}`);
  const env = preset.policy.env;
  out.push(
    `- network: ${preset.policy.network === 'none' ? 'none (a new network namespace with only loopback)' : 'the host’s'}; seccomp: ${preset.policy.seccomp}${preset.policy.hostname ? `; hostname: \`${preset.policy.hostname}\`` : ''}`,
    `- environment: ${env.clear ? `empty but ${Object.entries(env.set ?? {}).map(([k, v]) => `\`${k}=${v}\``).join(', ')}` : "the caller's"}${env.allowList ? `, only the names ${ENV_ALLOW.map((n) => `\`${n}\``).join(', ')} and CA bundle settings (\`*_CA_BUNDLE\`, \`*_CA_CERTS\`, \`*_SSL_CERT_FILE\`…), minus those whose name or value looks like a credential` : env.removeCredentials ? ', minus variables that look like credentials (see below)' : ''}${env.offlineSet ? `; without a network also ${Object.entries(env.offlineSet).map(([k, v]) => `\`${k}=${v}\``).join(', ')}` : ''}`,
    `- working directory: ${preset.policy.cwdHere ? 'the current directory (when the sandbox shows it)' : "the caller's when the sandbox shows it, else /"}`,
    '',
  );
  out.push('## Exact ops on an example host', '', `${EXAMPLE_DESCRIPTION} \`sandboxctl plan --preset ${name}\` in \`${EXAMPLE_CWD}\` gives:`, '');
  out.push('| # | op | why |', '|--:|---|---|');
  resolved.ops.forEach((op, i) => out.push(`| ${i + 1} | \`${describeOp(op)}\` | ${resolved.notes[i]!.why} |`));
  out.push('', 'The ops as JSON:', '', '```json', JSON.stringify(resolved.ops, null, 2), '```', '', 'The policy:', '', '```json', JSON.stringify(resolved.policy, null, 2), '```', '');
  if (resolved.removedEnv.length > 0) out.push(`Variables removed in the example: ${resolved.removedEnv.map((v) => `\`${v}\``).join(', ')}.`, '');
  out.push(DOC_END);
  return `${out.join('\n')}\n`;
}

function stepText(step: PresetStep): string {
  if ('op' in step) return `${step.why}: \`${describeOp(step.op)}\``;
  if ('hide' in step) {
    const list = step.hide.map((p) => p.replace('{home}/', '~/').replace('{runtimeDir}', '$XDG_RUNTIME_DIR'));
    const how = step.mode !== undefined ? `an empty private tmpfs (mode ${step.mode.toString(8).padStart(4, '0')})` : 'an empty tmpfs of mode 0000 if a directory, /dev/null if not';
    return `hidden when present (${step.why}), behind ${how}: ${list.map((p) => `\`${p}\``).join(', ')}`;
  }
  if ('protect' in step) {
    const withPlaceholder = step.protect.filter((p) => p.placeholder).map((p) => `\`${p.path}\``);
    const present = step.protect.filter((p) => !p.placeholder).map((p) => `\`${p.path}\``);
    return `read-only in the current directory (${step.why}): ${withPlaceholder.join(', ')} even when missing (an empty read-only placeholder); ${present.join(', ')} when present`;
  }
  if ('protectGit' in step) {
    return `read-only git metadata (${step.why}): \`.git/hooks\` and \`.git/config\` (placeholders when missing), \`.git/commondir\` and \`.git/config.worktree\` when present, the same in every submodule git directory under \`.git/modules\`; a \`.git\` file and the git directory it names when that is under the current directory; an empty read-only \`.git\` where there is none`;
  }
  if ('home' in step) {
    return `your home (password database, symlinks resolved) and /home as empty private tmpfs, writable in memory only; into it, when present: toolchains read-only (${HOME_TOOLCHAINS.map((p) => `\`~/${p}\``).join(', ')}, \`~/.local/lib/python*\`), caches copy-on-write (${HOME_CACHES.map((p) => `\`~/${p}\``).join(', ')}), a sanitized \`~/.gitconfig\` and \`~/.config/git/config\`, \`~/.config/git/ignore\` and \`attributes\`, \`~/.npmrc\` without tokens, and each \`--allow-home\` path`;
  }
  if ('privateRun' in step) return 'host services: `/run`, `/var/run` (when a directory), `/var/tmp` and `$XDG_RUNTIME_DIR` replaced by empty private tmpfs; with the host network, the directory `/etc/resolv.conf` points into under /run and `/run/systemd/resolve` bound back read-only';
  if ('rootSecrets' in step) return 'root callers only: what the world may not read under /etc (/etc/shadow, /etc/gshadow, ssh host keys, sudoers…), /var/lib, /var/spool, /var/mail, /var/log and /var/backups hidden (a bounded walk)';
  if ('resolver' in step) return 'without a network: an empty `/etc/resolv.conf` (where it leads, when it is a symlink), so name lookups fail at once';
  if ('sockets' in step) {
    if (step.sockets === 'host') return 'host sockets found by a bounded scan of the home paths bound read-only, `$TMUX_TMPDIR`, /var, /srv, /opt, /mnt and /media masked with /dev/null (copy-on-write caches need none: overlayfs refuses connections there); each `--allow-socket` path bound read-only';
    if (step.sockets === 'cwd') return 'host sockets found by a bounded scan of the current directory (a host dev server\'s socket in the project) masked with /dev/null, after it is bound';
    return 'each `--allow-socket` path bound read-only (no other host socket is visible)';
  }
  if ('system' in step) return `${step.why}: ${step.system.map((p) => `\`${p}\``).join(', ')}, each bound read-only, or recreated as the same symlink when it is one on the host, when present`;
  if ('inputs' in step) return `${step.why}: each \`--input\` (default: the current directory), bound onto itself`;
  return `${step.why}: \`--output\` (default \`./out\`), bound writable onto itself`;
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
