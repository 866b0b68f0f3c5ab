/**
 * Bad input and refused kernels: a stable code, exit 125 from the CLI, and
 * nothing left behind on the host (no mount, no process).
 */
import { SandboxError, run as runSandbox } from '@sandboxctl/core';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { BASE, CLI, INIT, INIT_IN, ROOT, cli, hostProcessesWith, requireKernel, until } from './helpers';

beforeAll(requireKernel);

const hostMounts = () => readFileSync('/proc/self/mountinfo', 'utf8');

describe('error codes', () => {
  test('E_SOURCE_MISSING names the op, exits 125 and leaves no mount or process', async () => {
    const before = hostMounts();
    const r = await cli(['run', '--ro-bind', '/', '/', '--proc', '/proc', '--ro-bind', '/nonexistent-sandboxctl', '/x', '--', '/bin/true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^sandboxctl: E_SOURCE_MISSING: plan\.ops\[2\]\.source \(bind\): source \/nonexistent-sandboxctl does not exist/m);
    expect(hostMounts()).toBe(before);
    expect(hostProcessesWith('/nonexistent-sandboxctl')).toEqual([]);
  });

  test('E_PLAN_INVALID from the native path names the JSON path', async () => {
    const dir = mkdtempSync('/tmp/sbx-plan-');
    chmodSync(dir, 0o755);
    const file = `${dir}/plan.json`;
    writeFileSync(file, JSON.stringify({ argv: ['/bin/true'], ops: [{ kind: 'dir', target: 'relative' }] }));
    const r = await run(INIT, ['--plan', file]);
    expect(r.code).toBe(125);
    expect(r.stderr).toBe('sandboxctl: E_PLAN_INVALID: plan.ops[0].target (dir): path relative is not absolute\n');
    writeFileSync(file, '{"argv":["/bin/true"],"opz":[]}');
    const r2 = await run(INIT, ['--plan', file]);
    expect(r2.stderr).toMatch(/^sandboxctl: E_PLAN_INVALID: plan\.opz: unknown field `opz`/);
    rmSync(dir, { recursive: true });
  });

  test('E_USAGE for an unknown flag, exit 125', async () => {
    const r = await cli(['run', '--no-such-flag', '--', '/bin/true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/E_USAGE/);
  });

  test('E_EXEC for a program that does not exist: 127, for one that cannot run: 126', async () => {
    const r = await cli(['run', ...BASE, '--', '/nonexistent/program']);
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/E_EXEC: cannot execute \/nonexistent\/program: no such file or directory/);
    const r2 = await cli(['run', ...BASE, '--file-data', 'not a program', '/tmp/data', '--', '/tmp/data']);
    expect(r2.code).toBe(126);
    expect(r2.stderr).toMatch(/E_EXEC: cannot execute \/tmp\/data: permission denied/);
  });

  test('E_USERNS_UNAVAILABLE with a hint when the kernel refuses a user namespace', async () => {
    // Inside a sandbox the seccomp filter refuses clone(CLONE_NEWUSER): a real
    // refusal of the kernel, as on a host that restricts user namespaces.
    const r = await cli(['run', ...BASE, '--', INIT_IN, '--plan', '-'], { input: JSON.stringify({ argv: ['/bin/true'] }) });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^sandboxctl: E_USERNS_UNAVAILABLE: cannot create a user namespace: operation not permitted$/m);
    expect(r.stderr).toMatch(/^sandboxctl: hint: .*user\.max_user_namespaces/m);
  });

  test('the library rejects with SandboxError before spawning anything', async () => {
    await expect(runSandbox({ argv: ['/bin/true'], ops: [{ kind: 'bind', source: '/nope-sbx', target: '/x' }] })).rejects.toMatchObject({
      code: 'E_SOURCE_MISSING',
      opIndex: 0,
      path: 'plan.ops[0].source',
    });
    const err = await runSandbox({ argv: ['/bin/true'], ops: [{ kind: 'tmpfs', target: '/t', size: 0 }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxError);
    expect(err).toMatchObject({ code: 'E_PLAN_INVALID', opIndex: 0 });
  });

  test('E_INIT_MISSING when the init executable cannot be found', async () => {
    const saved = process.env.SANDBOXCTL_INIT;
    process.env.SANDBOXCTL_INIT = `${ROOT}/no-such-init`;
    try {
      await expect(runSandbox({ argv: ['/bin/true'] })).rejects.toMatchObject({ code: 'E_INIT_MISSING' });
    } finally {
      if (saved === undefined) delete process.env.SANDBOXCTL_INIT;
      else process.env.SANDBOXCTL_INIT = saved;
    }
  });

  test('a setup failure inside the sandbox reports E_MOUNT with the op index', async () => {
    // A tmpfs on a read-only bind's missing directory cannot be created.
    const r = await cli(['run', '--ro-bind', '/', '/', '--tmpfs', '/nonexistent-dir-sbx/t', '--', '/bin/true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^sandboxctl: E_MOUNT: cannot mount tmpfs on \/nonexistent-dir-sbx\/t: read-only file system/m);
  });
});

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    c.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

void CLI;
void until;
