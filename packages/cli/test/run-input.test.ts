// `run` refuses closed caller fds by flag before anything is spawned, and a
// program not found in an empty sandbox says the sandbox is empty.

import { SandboxError } from '@sandboxctl/core';
import { emptySandbox } from '../src/commands/run';
import { runCli } from './helpers';
import { withoutLauncher } from '../../core/test/support/no-launcher';

jest.mock('@sandboxctl/native', () => jest.requireActual<typeof import('../../core/test/support/native-mock')>('../../core/test/support/native-mock').native);

const noLauncher = withoutLauncher('sandboxctl-run-input-');

describe('closed caller fds', () => {
  it.each([
    ['--pass-fd', (fd: string) => ['--pass-fd', fd]],
    ['--json-status-fd', (fd: string) => ['--json-status-fd', fd]],
    ['--bind-fd', (fd: string) => ['--bind-fd', fd, '/x']],
    ['--ro-bind-fd', (fd: string) => ['--ro-bind-fd', fd, '/x']],
    ['--file', (fd: string) => ['--file', fd, '/x']],
    ['--ro-bind-data', (fd: string) => ['--ro-bind-data', fd, '/x']],
  ])('%s: E_PLAN_INVALID naming the flag, exit 125, the launcher never reached', async (flag, args) => {
    const fd = String(noLauncher.closedFd());
    const r = await runCli(['run', '--ro-bind', '/', '/', ...args(fd), '--', 'true']);
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(new RegExp(`^sandboxctl: E_PLAN_INVALID: ${flag} ${fd}: fd ${fd} is not open\\n`));
  });
});

describe('an empty sandbox', () => {
  it('turns "not found" into a message that says so and suggests --preset, keeping E_EXEC and 127', () => {
    const notFound = new SandboxError('E_EXEC', 'cannot execute ls: no such file or directory', { exitStatus: 127 });
    const explained = emptySandbox(notFound) as SandboxError;
    expect(explained).toMatchObject({ code: 'E_EXEC', exitStatus: 127 });
    expect(explained.message).toMatch(/the sandbox is empty/);
    expect(explained.hint).toMatch(/--preset/);
    const other = new SandboxError('E_EXEC', 'cannot execute x: permission denied', { exitStatus: 126 });
    expect(emptySandbox(other)).toBe(other);
  });
});
