// The post-run audit on stderr: what, where, what was done, where the
// quarantine is; names from the sandbox never reach the terminal raw.

import type { Plan, TaintFinding } from '@sandboxctl/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTaint, printable } from '../src/taint-report';
import { runCli } from './helpers';

jest.mock('@sandboxctl/native', () => jest.requireActual<typeof import('../../core/test/support/native-mock')>('../../core/test/support/native-mock').native);

const finding = (over: Partial<TaintFinding>): TaintFinding => ({
  kind: 'git-hook',
  path: '/p/.git/hooks/pre-commit',
  change: 'created',
  detail: 'a hook git would run',
  outcome: 'quarantined',
  quarantinedAs: '/home/u/.local/state/sandboxctl/quarantine/1-2/p/.git/hooks/pre-commit',
  ...over,
});

describe('formatTaint', () => {
  it('says nothing without findings', () => {
    expect(formatTaint([])).toBe('');
  });

  it('names each finding, what was done and the quarantine', () => {
    const text = formatTaint(
      [
        finding({}),
        finding({ kind: 'git-config', path: '/p/.git/config', change: 'changed', detail: 'core.fsmonitor = x', outcome: 'restored', quarantinedAs: '/q/p/.git/config' }),
        finding({ kind: 'tool-file', path: '/p/.mcp.json', outcome: 'failed', quarantinedAs: undefined, error: 'cannot move: permission denied' }),
        finding({ kind: 'gitlink', path: '/p/.git/index', outcome: 'left', quarantinedAs: undefined, detail: 'gitlink x -> repository /p/x/.git' }),
        finding({ kind: 'incomplete', path: '/p', change: 'unknown', outcome: 'left', quarantinedAs: undefined, detail: 'more than 500000 entries' }),
      ],
      '/home/u/.local/state/sandboxctl/quarantine/1-2',
    );
    expect(text).toBe(
      [
        'sandboxctl: the post-run audit found 4 things the run created or changed that host tools would execute:',
        'sandboxctl:   git-hook /p/.git/hooks/pre-commit (created): a hook git would run; moved to /home/u/.local/state/sandboxctl/quarantine/1-2/p/.git/hooks/pre-commit',
        "sandboxctl:   git-config /p/.git/config (changed): core.fsmonitor = x; put back as it was before the run; the run's version is in /q/p/.git/config",
        'sandboxctl:   tool-file /p/.mcp.json (created): a hook git would run; NOT undone: cannot move: permission denied',
        'sandboxctl:   gitlink /p/.git/index (created): gitlink x -> repository /p/x/.git; left in place',
        'sandboxctl:   incomplete /p: more than 500000 entries; nothing undone',
        'sandboxctl: quarantine: /home/u/.local/state/sandboxctl/quarantine/1-2 (look at it, then delete it)',
        '',
      ].join('\n'),
    );
  });

  it('only an incomplete audit', () => {
    expect(formatTaint([finding({ kind: 'incomplete', path: '/p', change: 'unknown', outcome: 'left', detail: 'x' })])).toBe(
      'sandboxctl: the post-run audit is incomplete:\nsandboxctl:   incomplete /p: x; nothing undone\n',
    );
  });

  it('escapes control characters the sandbox put in names and values', () => {
    expect(printable('a\u001b]0;pwned\u0007b\nc\u009bd')).toBe('a\\x1b]0;pwned\\x07b\\x0ac\\x9bd');
    const text = formatTaint([finding({ path: '/p/\u001b[2Jx', detail: 'core.pager = \u001b[31m' })]);
    expect(text).not.toContain('\u001b');
    expect(text).toContain('/p/\\x1b[2Jx');
  });
});

describe('--on-taint', () => {
  let dir: string;
  const cwd = process.cwd();
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sbx-on-taint-'));
    process.chdir(dir);
  });
  afterEach(() => {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  });

  async function planOf(args: string[]): Promise<Plan> {
    const r = await runCli(['plan', '--json', '--no-config', ...args, '--', 'true']);
    if (r.status !== 0) throw new Error(`status ${r.status}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Plan;
  }

  it('the agent preset audits the current directory and reverts by default', async () => {
    expect((await planOf(['--preset', 'agent'])).audit).toEqual({ roots: [dir], onTaint: 'revert' });
  });

  it.each(['revert', 'fail', 'warn'])('sets onTaint %s', async (mode) => {
    expect((await planOf(['--preset', 'agent', `--on-taint=${mode}`])).audit).toEqual({ roots: [dir], onTaint: mode });
  });

  it('refuses other modes and plans without an audit', async () => {
    const bad = await runCli(['plan', '--json', '--no-config', '--preset', 'agent', '--on-taint=ignore', '--', 'true']);
    expect(bad.status).not.toBe(0);
    const none = await runCli(['plan', '--json', '--no-config', '--ro-bind', '/', '/', '--on-taint=warn', '--', 'true']);
    expect(none.status).toBe(125);
    expect(none.stderr).toContain('E_PLAN_INVALID');
  });
});
