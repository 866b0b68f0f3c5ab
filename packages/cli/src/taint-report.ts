/**
 * The post-run audit's findings on stderr: what was planted, where, what was
 * done about it and where the quarantine is. Paths and details come from
 * the sandboxed program (file names, config values), so control characters
 * are shown escaped, never sent to the terminal.
 */

import type { TaintFinding } from '@sandboxctl/core';

/** Control characters (C0, DEL, C1) as `\xNN`. */
export function printable(text: string): string {
  return text.replace(/\p{Cc}/gu, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function outcome(f: TaintFinding): string {
  switch (f.outcome) {
    case 'restored':
      return `put back as it was before the run${f.quarantinedAs ? `; the run's version is in ${printable(f.quarantinedAs)}` : ''}`;
    case 'quarantined':
      return `moved to ${f.quarantinedAs ? printable(f.quarantinedAs) : 'the quarantine'}`;
    case 'failed':
      return `NOT undone: ${printable(f.error ?? 'unknown error')}`;
    default:
      return f.kind === 'incomplete' ? 'nothing undone' : 'left in place';
  }
}

/** Lines for stderr, each prefixed `sandboxctl: `; empty without findings. */
export function formatTaint(taint: readonly TaintFinding[], quarantine?: string): string {
  if (taint.length === 0) return '';
  const planted = taint.filter((f) => f.kind !== 'incomplete').length;
  const lines = [
    planted > 0
      ? `the post-run audit found ${planted} thing${planted === 1 ? '' : 's'} the run created or changed that host tools would execute:`
      : 'the post-run audit is incomplete:',
  ];
  for (const f of taint) {
    const change = f.change === 'unknown' ? '' : ` (${f.change})`;
    lines.push(`  ${f.kind} ${printable(f.path)}${change}: ${printable(f.detail)}; ${outcome(f)}`);
  }
  if (quarantine !== undefined) lines.push(`quarantine: ${printable(quarantine)} (look at it, then delete it)`);
  return lines.map((l) => `sandboxctl: ${l}\n`).join('');
}
