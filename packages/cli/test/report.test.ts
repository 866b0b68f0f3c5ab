import { UsageError } from 'clipanion';
import { SandboxError } from '@sandboxctl/core';
import { describeFailure, formatFailure, TOOL_FAILURE } from '../src/report';
import * as cliPackage from '../src/index';

describe('describeFailure', () => {
  it('keeps the code, message and hint of a SandboxError, with status 125', () => {
    const failure = describeFailure(
      new SandboxError('E_USERNS_UNAVAILABLE', 'cannot create a user namespace: operation not permitted', {
        hint: 'sysctl user.max_user_namespaces=15000',
        exitStatus: 125,
      }),
      ['run'],
    );
    expect(failure).toEqual({
      code: 'E_USERNS_UNAVAILABLE',
      message: 'cannot create a user namespace: operation not permitted',
      hint: 'sysctl user.max_user_namespaces=15000',
      exitStatus: TOOL_FAILURE,
    });
    expect(TOOL_FAILURE).toBe(125);
  });

  it("keeps the launcher's 126/127 for E_EXEC", () => {
    expect(describeFailure(new SandboxError('E_EXEC', 'x', { exitStatus: 127 }), []).exitStatus).toBe(127);
    expect(describeFailure(new SandboxError('E_EXEC', 'x', { exitStatus: 126 }), []).exitStatus).toBe(126);
    expect(describeFailure(new SandboxError('E_EXEC', 'x'), []).exitStatus).toBe(125);
    expect(describeFailure(new SandboxError('E_MOUNT', 'x', { exitStatus: 127 }), []).exitStatus).toBe(125);
  });

  it('turns clipanion errors into E_USAGE in the house form', () => {
    const failure = describeFailure(new UsageError('Invalid value for --uid: expected a number (got "x").'), ['run', '--uid', 'x']);
    expect(failure).toEqual({
      code: 'E_USAGE',
      message: 'invalid value for --uid: expected a number (got "x")',
      hint: 'see `sandboxctl run --help`',
      exitStatus: 125,
    });
  });

  it('names flags, not properties, in schema errors', () => {
    const failure = describeFailure(
      new UsageError('Invalid option schema: mutually exclusive properties "shareNet" and "unshareNet"'),
      ['plan'],
    );
    expect(failure.message).toBe('invalid option schema: mutually exclusive properties --share-net and --unshare-net');
  });

  it('reports anything else as an internal error', () => {
    const failure = describeFailure(new RangeError('boom'), []);
    expect(failure).toMatchObject({ code: 'E_INTERNAL', message: 'boom', exitStatus: 125 });
  });
});

describe('formatFailure', () => {
  it('prints the code line and the hint line', () => {
    expect(formatFailure({ code: 'E_MOUNT', message: 'cannot mount proc on /proc: permission denied', hint: 'h', exitStatus: 125 })).toBe(
      'sandboxctl: E_MOUNT: cannot mount proc on /proc: permission denied\nsandboxctl: hint: h\n',
    );
    expect(formatFailure({ code: 'E_SETUP', message: 'm', exitStatus: 125 })).toBe('sandboxctl: E_SETUP: m\n');
  });
});

describe('the sandboxctl package', () => {
  it('re-exports the library beside the CLI entry', () => {
    const sandboxctl = cliPackage as Record<string, unknown>;
    for (const name of ['run', 'spawn', 'plan', 'SandboxError', 'checkPlan', 'probe', 'version', 'main', 'createCli']) {
      expect(typeof sandboxctl[name]).toBe('function');
    }
  });
});
