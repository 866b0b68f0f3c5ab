// `sandboxctl run` end to end against the fake launcher of the core tests:
// exit statuses, failures, and signal forwarding. No kernel features needed.

import { join } from 'node:path';
import { exitStatus, forwardSignals, FORWARDED_SIGNALS } from '../src/commands/run';
import { runCli } from './helpers';
import { native, resetNative } from '../../core/test/support/native-mock';

const mockCheckPlan = native.checkPlan;
jest.mock('@sandboxctl/native', () => jest.requireActual<typeof import('../../core/test/support/native-mock')>('../../core/test/support/native-mock').native);

const FAKE_INIT = join(__dirname, '..', '..', 'core', 'test', 'fixtures', 'fake-init.js');
const savedInit = process.env.SANDBOXCTL_INIT;

beforeEach(() => {
  process.env.SANDBOXCTL_INIT = FAKE_INIT;
  resetNative();
});

afterAll(() => {
  if (savedInit === undefined) delete process.env.SANDBOXCTL_INIT;
  else process.env.SANDBOXCTL_INIT = savedInit;
});

describe('exitStatus', () => {
  it("is the launcher's status, or 128+N for its death by signal N", () => {
    expect(exitStatus({ code: 0, signal: null })).toBe(0);
    expect(exitStatus({ code: 137, signal: null })).toBe(137);
    expect(exitStatus({ code: null, signal: 'SIGKILL' })).toBe(137);
    expect(exitStatus({ code: null, signal: 'SIGTERM' })).toBe(143);
  });
});

describe('forwardSignals', () => {
  it('forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT until stopped, without the default exit', () => {
    const before = FORWARDED_SIGNALS.map((s) => process.listenerCount(s));
    for (const signal of FORWARDED_SIGNALS) {
      const kill = jest.fn<boolean, [NodeJS.Signals]>(() => true);
      const stop = forwardSignals({ kill });
      process.emit(signal, signal);
      expect(kill.mock.calls.map(([s]) => s)).toEqual([signal]);
      stop();
    }
    expect(FORWARDED_SIGNALS.map((s) => process.listenerCount(s))).toEqual(before);
  });

  it('never kills the launcher: a second signal is forwarded too, and the launcher escalates', () => {
    const kill = jest.fn<boolean, [NodeJS.Signals]>(() => true);
    const stop = forwardSignals({ kill });
    process.emit('SIGINT', 'SIGINT');
    process.emit('SIGINT', 'SIGINT');
    process.emit('SIGTERM', 'SIGTERM');
    expect(kill.mock.calls.map(([s]) => s)).toEqual(['SIGINT', 'SIGINT', 'SIGTERM']);
    stop();
  });
});

describe('sandboxctl run', () => {
  it("exits with the program's status", async () => {
    expect((await runCli(['run', '--tmpfs', '/tmp', '--', 'sh', '-c', 'exit 7'])).status).toBe(7);
    expect((await runCli(['run', '--', 'true'])).status).toBe(0);
  });

  it('exits 128+N when the launcher dies by signal N', async () => {
    expect((await runCli(['run', '--', 'fake:kill-self'])).status).toBe(137);
  });

  it('reports a setup failure with its code and exits 125', async () => {
    const result = await runCli(['run', '--tmpfs', '/tmp', '--', 'fake:setup-error']);
    expect(result.status).toBe(125);
    expect(result.stderr).toBe(
      'sandboxctl: E_MOUNT: cannot mount tmpfs on /tmp: permission denied (from --tmpfs /tmp)\nsandboxctl: hint: fake hint\n',
    );
  });

  it('exits 127 with E_EXEC when the program is missing', async () => {
    const result = await runCli(['run', '--', 'fake:exec-missing', '/nope']);
    expect(result.status).toBe(127);
    // No ops: the sandbox is empty, and the message says so.
    expect(result.stderr).toMatch(/^sandboxctl: E_EXEC: cannot execute \/nope: no such file or directory: the sandbox is empty .*\nsandboxctl: hint: start from a preset/);
  });

  it('reports a missing launcher as E_INIT_MISSING, exit 125', async () => {
    process.env.SANDBOXCTL_INIT = '/nonexistent/sandboxctl-init';
    const result = await runCli(['run', '--', 'true']);
    expect(result.status).toBe(125);
    expect(result.stderr).toMatch(/^sandboxctl: E_INIT_MISSING: sandboxctl-init not found at \/nonexistent\/sandboxctl-init\nsandboxctl: hint: /);
  });

  it("leaves the plan check to the launcher, whose E_PLAN_INVALID reads as the addon's would", async () => {
    // The launcher checks the plan before it creates anything (the same Rust
    // check): the CLI does not load the addon to check it first.
    const result = await runCli(['run', '--dir', 'd', '--', 'fake:plan-invalid']);
    expect(mockCheckPlan).not.toHaveBeenCalled();
    expect(result.status).toBe(125);
    expect(result.stderr).toBe('sandboxctl: E_PLAN_INVALID: plan.ops[0].target (dir): path d is not absolute (from --dir d)\n');
  });
});
