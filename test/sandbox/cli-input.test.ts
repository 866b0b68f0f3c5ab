/**
 * Smaller items of issues 8 and 9 through the real CLI and library: closed
 * caller fds, an empty sandbox, a closed stdout, help in a pipe, `~` in a
 * config file, run() without argv. Each asserts the code and, where it
 * matters, that nothing was left on the host.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { run, spawn as sandboxSpawn } from '@sandboxctl/core';
import { BASE, CLI, cli, requireKernel } from './helpers';

beforeAll(requireKernel);

let dir: string;
beforeEach(() => {
  dir = realpathSync(mkdtempSync('/var/tmp/sandboxctl-cli-input-'));
  chmodSync(dir, 0o755);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** An fd number certainly closed in a freshly started CLI. */
const CLOSED = '99';

describe('closed caller fds', () => {
  test.each([
    ['--pass-fd', ['--pass-fd', CLOSED]],
    ['--json-status-fd', ['--json-status-fd', CLOSED]],
    ['--bind-fd', ['--bind-fd', CLOSED, '/x']],
    ['--ro-bind-fd', ['--ro-bind-fd', CLOSED, '/x']],
    ['--file', ['--file', CLOSED, '/x']],
  ])('%s: E_PLAN_INVALID naming the flag, exit 125, not E_INTERNAL spawn EBADF', async (flag, args) => {
    const r = await cli(['run', ...BASE, ...args, '--', '/bin/true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(new RegExp(`^sandboxctl: E_PLAN_INVALID: ${flag} ${CLOSED}: fd ${CLOSED} is not open\\n`));
    expect(r.stderr).not.toMatch(/E_INTERNAL|EBADF/);
  });

  test('the library refuses a closed fd in the plan before spawning, E_PLAN_INVALID naming the field', () => {
    const fd = openSync(dir, 'r');
    closeSync(fd);
    expect(() => sandboxSpawn({ argv: ['/bin/true'], ops: [{ kind: 'bind', source: '/', target: '/' }], plan: { fds: [{ fd }] } })).toThrow(
      expect.objectContaining({ code: 'E_PLAN_INVALID', path: 'plan.fds[0].fd' }),
    );
  });
});

test('`sandboxctl run -- ls` with no preset and no ops: E_EXEC 127 saying the sandbox is empty, suggesting --preset', async () => {
  const r = await cli(['run', '--no-config', '--', 'ls'], { cwd: dir });
  expect(r.code).toBe(127);
  expect(r.stderr).toMatch(/^sandboxctl: E_EXEC: cannot execute ls: no such file or directory: the sandbox is empty/m);
  expect(r.stderr).toMatch(/^sandboxctl: hint: start from a preset, e\.g\. `sandboxctl run --preset/m);
  // With an op, a missing program is just missing.
  const withOps = await cli(['run', ...BASE, '--', '/nonexistent/program']);
  expect(withOps.code).toBe(127);
  expect(withOps.stderr).not.toMatch(/sandbox is empty/);
});

test('`sandboxctl plan … | true` exits quietly with 141, as a tool killed by SIGPIPE', () => {
  // The reader is gone before the CLI writes: the write fails with EPIPE every time.
  const r = spawnSync('/bin/bash', ['-c', `set -o pipefail; { sleep 0.3; exec "${process.execPath}" "${CLI}" plan ${BASE.join(' ')} -- /bin/true; } | true; echo status=$?`], {
    encoding: 'utf8',
  });
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe('status=141\n');
});

test('--help into a pipe has no colour codes and names option values', async () => {
  const r = await cli(['run', '--help'], { env: { ...process.env, FORCE_COLOR: undefined, NO_COLOR: undefined } });
  expect(r.code).toBe(0);
  expect(r.stdout).not.toContain('\u001b[');
  expect(r.stdout).toMatch(/--bind SRC DEST/);
  expect(r.stdout).not.toMatch(/#\d/);
  const forced = await cli(['run', '--help'], { env: { ...process.env, FORCE_COLOR: '1' } });
  expect(forced.stdout).toContain('\u001b[');
});

test('~ in a config file is the real home, and no directory named ~ appears in the project', async () => {
  const file = join(dir, 'sandboxctl.json');
  writeFileSync(file, JSON.stringify({ preset: 'ro-host', ops: [{ kind: 'bind', source: '~', target: '/tmp/realhome' }], cwd: '~' }));
  chmodSync(file, 0o644);
  const env = { ...process.env, HOME: join(dir, 'not-home'), XDG_STATE_HOME: join(dir, 'state') };
  expect((await cli(['trust'], { cwd: dir, env })).code).toBe(0);
  const r = await cli(['run', '--', '/bin/sh', '-c', 'stat -c %i /tmp/realhome; pwd'], { cwd: dir, env });
  const home = realpathSync(userInfo().homedir);
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe(`${statSync(home).ino}\n${home}\n`);
  expect(readdirSync(dir).sort()).toEqual(['sandboxctl.json', 'state']);
});

test('run() without argv rejects with SandboxError E_PLAN_INVALID, not a TypeError', async () => {
  await expect(run({} as Parameters<typeof run>[0])).rejects.toMatchObject({ name: 'SandboxError', code: 'E_PLAN_INVALID' });
  await expect(run({ argv: [], preset: 'ro-host' })).rejects.toMatchObject({ name: 'SandboxError', code: 'E_PLAN_INVALID' });
  expect(() => sandboxSpawn({ argv: undefined as unknown as string[] })).toThrow(expect.objectContaining({ code: 'E_PLAN_INVALID' }));
});

test('concurrent `sandboxctl trust` runs all land in the store (read-modify-write under a lock)', async () => {
  const env = { ...process.env, XDG_STATE_HOME: join(dir, 'state') };
  const files = Array.from({ length: 8 }, (_, i) => {
    const file = join(dir, `c${i}.json`);
    writeFileSync(file, JSON.stringify({ hostname: `h${i}` }));
    chmodSync(file, 0o644);
    return file;
  });
  const results = await Promise.all(files.map((file) => cli(['trust', file], { env })));
  expect(results.map((r) => r.code)).toEqual(files.map(() => 0));
  const listed = JSON.parse((await cli(['trust', '--list', '--json'], { env })).stdout) as { trusted: { path: string }[] };
  expect(listed.trusted.map((e) => e.path).sort()).toEqual([...files].sort());
});
