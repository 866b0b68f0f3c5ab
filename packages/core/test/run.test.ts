// The library's side of the launcher protocol, against a fake launcher
// (fixtures/fake-init.js) that speaks it without making a sandbox. The native
// addon is replaced so these tests run without a Rust build; real sandboxes
// are the `sandbox` project's business.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isatty } from 'node:tty';
import { native, resetNative } from './support/native-mock';

const mockCheckPlan = native.checkPlan;
jest.mock('@sandboxctl/native', () => jest.requireActual<typeof import('./support/native-mock')>('./support/native-mock').native);

import { buildPlan, canUseTty, CLEANUP_GRACE_MS, KILL_GRACE_MS, resolveInit, run, spawn } from '../src/run';
import { plan } from '../src/plan/builder';
import { SandboxError } from '../src/errors';

const FAKE_INIT = join(__dirname, 'fixtures', 'fake-init.js');
let dir: string;
let record: string;
const savedEnv = { ...process.env };

beforeAll(() => {
  chmodSync(FAKE_INIT, 0o755);
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sandboxctl-run-test-'));
  record = join(dir, 'plan.json');
  process.env.SANDBOXCTL_INIT = FAKE_INIT;
  process.env.FAKE_INIT_RECORD = record;
  resetNative();
});

afterEach(() => {
  process.env = { ...savedEnv };
  rmSync(dir, { recursive: true, force: true });
});

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('buildPlan', () => {
  it('puts argv on bare ops', () => {
    expect(buildPlan({ argv: ['id', '-u'], ops: [{ kind: 'proc', target: '/proc' }] })).toEqual({
      version: 1,
      argv: ['id', '-u'],
      ops: [{ kind: 'proc', target: '/proc' }],
    });
  });

  it("starts from a builder's whole plan, then applies options, then `plan` overrides", () => {
    const builder = plan(['ignored']).tmpfs('/tmp').hostname('from-builder').seccomp('none');
    const built = buildPlan({
      argv: ['sh'],
      ops: builder,
      hostname: 'from-options',
      cwd: '/tmp',
      uid: 1,
      gid: 2,
      network: 'host',
      env: { inherit: false },
      plan: { lingerMs: 10, cwd: '/override' },
    });
    expect(built).toEqual({
      version: 1,
      argv: ['sh'],
      ops: [{ kind: 'tmpfs', target: '/tmp' }],
      hostname: 'from-options',
      seccomp: { preset: 'none' },
      cwd: '/override',
      uid: 1,
      gid: 2,
      network: 'host',
      env: { inherit: false },
      lingerMs: 10,
    });
  });

  it('does not share arrays with the caller', () => {
    const ops = [{ kind: 'dir' as const, target: '/d' }];
    const argv = ['true'];
    const built = buildPlan({ argv, ops });
    built.ops!.push({ kind: 'proc', target: '/proc' });
    built.argv.push('x');
    expect(ops).toHaveLength(1);
    expect(argv).toEqual(['true']);
  });
});

describe('tty', () => {
  it('sets plan.tty; refuses non-terminal stdio with E_SETUP before spawning anything', () => {
    expect(buildPlan({ argv: ['sh'], tty: true }).tty).toBe(true);
    expect(buildPlan({ argv: ['sh'] }).tty).toBeUndefined();
    for (const stdio of ['pipe', 'ignore', ['inherit', 'pipe', 'inherit']] as const) {
      expect(() => spawn({ argv: ['sh'], tty: true, stdio: stdio as never })).toThrow(expect.objectContaining({ code: 'E_SETUP' }));
    }
    // jest's own stdin is no terminal either.
    expect(() => spawn({ argv: ['sh'], tty: true, stdio: [9999, 1, 2] })).toThrow(expect.objectContaining({ code: 'E_SETUP' }));
    expect(existsSync(record)).toBe(false);
  });

  it('canUseTty needs a private /dev and a new session', () => {
    expect(canUseTty({ ops: [{ kind: 'proc', target: '/proc' }] })).toBe(false);
    expect(canUseTty({ ops: [{ kind: 'dev', target: '/dev' }], newSession: false })).toBe(false);
    expect(canUseTty({ ops: [{ kind: 'dev', target: '/dev/' }] })).toBe(isatty(0) && isatty(1));
  });
});

describe('resolveInit', () => {
  it('honours SANDBOXCTL_INIT and returns an absolute path', () => {
    expect(resolveInit()).toBe(FAKE_INIT);
  });

  it('throws E_INIT_MISSING for a missing or non-executable file', () => {
    process.env.SANDBOXCTL_INIT = join(dir, 'nope');
    expect(() => resolveInit()).toThrow(expect.objectContaining({ code: 'E_INIT_MISSING' }));
    const plain = join(dir, 'plain');
    writeFileSync(plain, '');
    chmodSync(plain, 0o644);
    process.env.SANDBOXCTL_INIT = plain;
    // root may execute nothing without an x bit either
    expect(() => resolveInit()).toThrow(expect.objectContaining({ code: 'E_INIT_MISSING' }));
    process.env.SANDBOXCTL_INIT = dir;
    expect(() => resolveInit()).toThrow(expect.objectContaining({ code: 'E_INIT_MISSING' }));
  });
});

describe('spawn and run', () => {
  it('hands the plan to the launcher on fd 3 and resolves its exit status', async () => {
    const result = await run({ argv: ['sh', '-c', 'exit 3'], ops: plan().tmpfs('/tmp') });
    expect(result.code).toBe(3);
    expect(result.signal).toBeNull();
    expect(result.timedOut).toBe(false);
    expect(result.aborted).toBe(false);
    expect(result.durationMs).toBeGreaterThan(0);
    expect(typeof result.sandboxPid).toBe('number');
    expect(JSON.parse(readFileSync(record, 'utf8'))).toEqual({
      version: 1,
      argv: ['sh', '-c', 'exit 3'],
      ops: [{ kind: 'tmpfs', target: '/tmp' }],
    });
    expect(mockCheckPlan).toHaveBeenCalledWith(readFileSync(record, 'utf8'));
  });

  it('collects piped output and feeds input', async () => {
    const result = await run({ argv: ['sh', '-c', 'cat; echo err >&2'], input: 'hello\n' });
    expect(result).toMatchObject({ code: 0, stdout: 'hello\n', stderr: 'err\n' });
  });

  it('leaves output out of the result when it is not piped', async () => {
    const result = await run({ argv: ['true'], stdio: 'ignore' });
    expect(result.code).toBe(0);
    expect(result).not.toHaveProperty('stdout');
    expect(result).not.toHaveProperty('stderr');
  });

  it('accepts per-stream stdio', async () => {
    const result = await run({ argv: ['sh', '-c', 'echo out; echo err >&2'], stdio: ['ignore', 'pipe', 'ignore'] });
    expect(result.stdout).toBe('out\n');
    expect(result).not.toHaveProperty('stderr');
  });

  it('passes the environment policy', async () => {
    process.env.SBX_KEEP = 'kept';
    process.env.SBX_DROP = 'dropped';
    const result = await run({
      argv: ['sh', '-c', 'echo "$SBX_KEEP/${SBX_DROP-unset}/$SBX_NEW"'],
      env: { unset: ['SBX_DROP'], set: { SBX_NEW: 'new' } },
    });
    expect(result.stdout).toBe('kept/unset/new\n');
  });

  it('throws E_PLAN_INVALID before spawning anything', () => {
    mockCheckPlan.mockReturnValue({
      code: 'E_PLAN_INVALID',
      message: 'plan.ops[0].target (dir): path relative is not absolute',
      opIndex: 0,
      path: 'plan.ops[0].target',
    });
    let thrown: unknown;
    try {
      spawn({ argv: ['true'], ops: [{ kind: 'dir', target: 'relative' }] });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SandboxError);
    expect(thrown).toMatchObject({ code: 'E_PLAN_INVALID', opIndex: 0, path: 'plan.ops[0].target' });
    expect(existsSync(record)).toBe(false);
  });

  it('checkPlan: false leaves the check to the launcher: its E_PLAN_INVALID rejects exited, the addon is not asked', async () => {
    const handle = spawn({ argv: ['fake:plan-invalid'], ops: [{ kind: 'dir', target: '/d' }], checkPlan: false });
    const error = await handle.exited.catch((e: unknown) => e);
    expect(mockCheckPlan).not.toHaveBeenCalled();
    expect(error).toBeInstanceOf(SandboxError);
    expect(error).toMatchObject({ code: 'E_PLAN_INVALID', opIndex: 0, path: 'plan.ops[0].target', exitStatus: 125 });
  });

  it('run rejects with E_INIT_MISSING when the launcher is not there', async () => {
    process.env.SANDBOXCTL_INIT = join(dir, 'no-such-init');
    await expect(run({ argv: ['true'] })).rejects.toMatchObject({ name: 'SandboxError', code: 'E_INIT_MISSING' });
  });

  it('rejects with the reported setup error and its op, after the launcher exited', async () => {
    const handle = spawn({ argv: ['fake:setup-error'], ops: [{ kind: 'tmpfs', target: '/tmp' }] });
    const error = await handle.exited.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SandboxError);
    expect(error).toMatchObject({
      code: 'E_MOUNT',
      message: 'cannot mount tmpfs on /tmp: permission denied',
      opIndex: 0,
      path: 'plan.ops[0]',
      hint: 'fake hint',
      exitStatus: 125,
    });
    await expect(handle.started).rejects.toBe(error);
  });

  it('keeps the launcher exit status on E_EXEC', async () => {
    await expect(run({ argv: ['fake:exec-missing', '/nope'] })).rejects.toMatchObject({ code: 'E_EXEC', exitStatus: 127 });
  });

  it('treats a launcher exit without any report as a setup failure', async () => {
    await expect(run({ argv: ['fake:silent-exit', '0'] })).rejects.toMatchObject({ code: 'E_SETUP', exitStatus: 0 });
  });

  it('treats an unreadable report line as a setup failure', async () => {
    await expect(run({ argv: ['fake:garbage', 'true'] })).rejects.toMatchObject({ code: 'E_SETUP' });
  });

  it('reports a launcher killed by a signal as such', async () => {
    const result = await run({ argv: ['fake:kill-self'] });
    expect(result).toMatchObject({ code: null, signal: 'SIGKILL' });
  });

  it('exposes the launcher pid, the sandbox pid and the started promise', async () => {
    const handle = spawn({ argv: ['sh', '-c', 'read x'], stdio: 'pipe' });
    expect(typeof handle.pid).toBe('number');
    await handle.started;
    expect(typeof handle.sandboxPid).toBe('number');
    handle.stdin!.end('\n');
    const result = await handle.exited;
    expect(result.code).toBe(0);
    expect(result.sandboxPid).toBe(handle.sandboxPid);
  });

  it('kill() signals the launcher, which forwards it', async () => {
    const handle = spawn({ argv: ['sleep', '30'], stdio: 'ignore' });
    await handle.started;
    expect(handle.kill('SIGTERM')).toBe(true);
    const result = await handle.exited;
    expect(result.code).toBe(128 + 15);
    expect(handle.kill()).toBe(false);
  });

  it('timeoutMs sends SIGTERM and marks the result', async () => {
    // Long enough for the stand-in launcher to be up on a loaded machine.
    const timeoutMs = 1000;
    const started = Date.now();
    const result = await run({ argv: ['sleep', '30'], timeoutMs });
    expect(result).toMatchObject({ code: 143, signal: null, timedOut: true, aborted: false });
    expect(Date.now() - started).toBeGreaterThanOrEqual(timeoutMs);
    expect(Date.now() - started).toBeLessThan(timeoutMs + KILL_GRACE_MS);
  });

  // Abort only once the launcher runs the program: a signal that reaches the
  // stand-in launcher (a node script) before it installs its handlers would
  // kill it and orphan the program, which a loaded machine makes likely.
  it('an AbortSignal sends SIGTERM and marks the result', async () => {
    const controller = new AbortController();
    const child = spawn({ argv: ['sleep', '30'], signal: controller.signal, stdio: 'ignore' });
    await child.started;
    controller.abort();
    await expect(child.exited).resolves.toMatchObject({ code: 143, aborted: true, timedOut: false });
  });

  it('sends a second SIGTERM (the launcher kills the sandbox and cleans up), and SIGKILL only after the clean-up grace', async () => {
    const controller = new AbortController();
    const child = spawn({ argv: ['fake:hang'], signal: controller.signal, stdio: 'ignore' });
    await child.started;
    const aborted = Date.now();
    controller.abort();
    await expect(child.exited).resolves.toMatchObject({ code: null, signal: 'SIGKILL', aborted: true });
    expect(Date.now() - aborted).toBeGreaterThanOrEqual(KILL_GRACE_MS + CLEANUP_GRACE_MS);
    expect(readFileSync(`${record}.signals`, 'utf8')).toBe('SIGTERM\nSIGTERM\n');
  }, KILL_GRACE_MS + CLEANUP_GRACE_MS + 10_000);

  it('refuses an already aborted signal without spawning', () => {
    const controller = new AbortController();
    controller.abort();
    expect(() => spawn({ argv: ['true'], signal: controller.signal })).toThrow(expect.objectContaining({ name: 'AbortError' }));
    expect(existsSync(record)).toBe(false);
  });

  it('leaks no descriptor', async () => {
    await run({ argv: ['true'], stdio: 'ignore' });
    const before = openFds();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => run({ argv: ['sh', '-c', `exit ${i}`], stdio: 'ignore' })),
    );
    expect(results.map((r) => r.code)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    await expect(run({ argv: ['fake:setup-error'], stdio: 'ignore' })).rejects.toMatchObject({ code: 'E_MOUNT' });
    expect(openFds()).toBe(before);
  });
});
