// Presets and config files on the command line: `plan` shows the composed
// plan (preset ops, then the config file's, then the flags'), `explain`
// says it in words, `presets` lists and shows; every mistake is a usage or
// config error with status 125.

import { chmodSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trustFile, type Plan } from '@sandboxctl/core';
import { planOf, runCli } from './helpers';
import { native, resetNative } from '../../core/test/support/native-mock';

const mockCheckPlan = native.checkPlan;
jest.mock('@sandboxctl/native', () => jest.requireActual<typeof import('../../core/test/support/native-mock')>('../../core/test/support/native-mock').native);

let dir: string;
let home: string;
let project: string;
const savedCwd = process.cwd();
const savedEnv = { ...process.env };

beforeEach(() => {
  resetNative();
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'sandboxctl-sources-')));
  home = join(dir, 'home');
  project = join(home, 'project');
  mkdirSync(join(home, '.ssh'), { recursive: true });
  writeFileSync(join(home, '.netrc'), 'x');
  mkdirSync(join(project, '.git', 'hooks'), { recursive: true });
  writeFileSync(join(project, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  mkdirSync(join(project, '.git', 'objects'));
  mkdirSync(join(project, '.git', 'refs'));
  process.env = { PATH: savedEnv.PATH, HOME: home, GITHUB_TOKEN: 'x', XDG_RUNTIME_DIR: join(dir, 'no-runtime'), XDG_STATE_HOME: join(dir, 'state') };
  process.chdir(project);
});

afterEach(() => {
  process.chdir(savedCwd);
  process.env = { ...savedEnv };
  rmSync(dir, { recursive: true, force: true });
});

async function failure(args: string[]): Promise<{ code: string; message: string; hint?: string }> {
  const result = await runCli(args);
  expect(result.status).toBe(125);
  const match = /^sandboxctl: (E_[A-Z_]+): ([^\n]*)\n(?:sandboxctl: hint: ([^\n]*)\n)?$/.exec(result.stderr);
  if (!match) throw new Error(`not a tool failure: ${JSON.stringify(result.stderr)}`);
  return { code: match[1]!, message: match[2]!, hint: match[3] };
}

const targets = (plan: Plan): string[] => (plan.ops ?? []).map((op) => ('target' in op ? String(op.target) : op.kind));

describe('--preset', () => {
  it('puts the preset ops first and the flag ops after, flags overriding the policy', async () => {
    mkdirSync(join(project, 'out'));
    const plan = await planOf(['--preset', 'agent', '--bind', './out', './out', '--share-net', 'claude']);
    const t = targets(plan);
    expect(t.slice(0, 4)).toEqual(['/', '/proc', '/dev', '/tmp']);
    expect(t[t.length - 1]).toBe(join(project, 'out'));
    expect(plan.ops![plan.ops!.length - 1]).toEqual({ kind: 'bind', source: join(project, 'out'), target: join(project, 'out'), writable: true });
    // $HOME names a home of its own: an empty private tmpfs, its secrets not on the allow-list.
    expect(t).toEqual(expect.arrayContaining([home, join(project, '.git', 'hooks')]));
    expect(t).not.toContain(join(home, '.ssh'));
    expect(t).not.toContain(join(home, '.netrc'));
    expect(plan.network).toBe('host');
    expect(plan.cwd).toBe(project);
    expect(plan.env).toEqual({ unset: ['GITHUB_TOKEN'] });
    expect(plan.argv).toEqual(['claude']);
  });

  it('keeps --setenv on top of the removed credentials, and --allow-env lets one through', async () => {
    // Without a network npm is told not to retry: it would for over a minute.
    const offline = { npm_config_fetch_retries: '0' };
    expect((await planOf(['--preset', 'agent', '--setenv', 'A', '1', 'true'])).env).toEqual({ unset: ['GITHUB_TOKEN'], set: { ...offline, A: '1' } });
    expect((await planOf(['--preset', 'agent', '--allow-env', 'GITHUB_TOKEN', 'true'])).env).toEqual({ set: offline });
    expect((await planOf(['--preset', 'agent', '--setenv', 'GITHUB_TOKEN', 'other', 'true'])).env).toEqual({ set: { ...offline, GITHUB_TOKEN: 'other' } });
    expect((await planOf(['--preset', 'agent', '--share-net', '--allow-env', 'GITHUB_TOKEN', 'true'])).env).toBeUndefined();
  });

  it('passes --allow-home and --allow-socket to the preset, and --share-net keeps DNS instead of an empty resolv.conf', async () => {
    mkdirSync(join(home, '.config', 'nvim'), { recursive: true });
    mkdirSync(join(dir, 'sock'));
    writeFileSync(join(dir, 'sock', 's'), '');
    const plan = await planOf(['--preset', 'agent', '--allow-home', '.config/nvim', '--allow-socket', '../../sock/s', 'true']);
    expect(plan.ops).toContainEqual({ kind: 'bind', source: join(home, '.config', 'nvim'), target: join(home, '.config', 'nvim') });
    expect(plan.ops).toContainEqual({ kind: 'bind', source: join(dir, 'sock', 's'), target: join(dir, 'sock', 's') });
    const resolvConf = (p: Plan) => (p.ops ?? []).some((op) => op.kind === 'file' && op.data === '' && /resolv/.test(op.target));
    expect(resolvConf(plan)).toBe(true);
    expect(resolvConf(await planOf(['--preset', 'agent', '--share-net', 'true']))).toBe(false);
    const outside = await failure(['plan', '--preset', 'agent', '--allow-home', '/etc', 'true']);
    expect(outside.code).toBe('E_PLAN_INVALID');
  });

  it('passes --input and --output to the build preset', async () => {
    mkdirSync(join(project, 'src'));
    const plan = await planOf(['--preset', 'build', '--input', 'src', '--output', 'dist', 'make']);
    expect(plan.ops!.slice(-2)).toEqual([
      { kind: 'bind', source: join(project, 'src'), target: join(project, 'src') },
      { kind: 'bind', source: join(project, 'dist'), target: join(project, 'dist'), writable: true },
    ]);
    expect(plan.hostname).toBe('build');
  });

  it.each([
    [['--preset', 'nope', 'true'], 'E_USAGE', /--preset/],
    [['--allow-env', 'X', 'true'], 'E_USAGE', /--allow-env only apply to a preset/],
    [['--preset', 'agent', '--input', 'src', 'true'], 'E_USAGE', /preset agent takes no --input/],
    [['--preset', 'ro-host', '--allow-env', 'X', 'true'], 'E_USAGE', /preset ro-host takes no --allow-env/],
    [['--allow-home', 'x', 'true'], 'E_USAGE', /--allow-home only apply to a preset/],
    [['--preset', 'build', '--allow-socket', '/s', 'true'], 'E_USAGE', /preset build takes no --allow-socket/],
    [['--config', 'a.json', '--no-config', 'true'], 'E_USAGE', /--config and --no-config/],
  ])('refuses %j', async (args, code, message) => {
    const f = await failure(['plan', ...args]);
    expect(f.code).toBe(code);
    expect(f.message).toMatch(message);
  });

  it('refuses the agent preset where the current directory holds $HOME', async () => {
    process.chdir(dir);
    const f = await failure(['run', '--preset', 'agent', '--', 'true']);
    expect(f.code).toBe('E_PLAN_INVALID');
    expect(f.hint).toMatch(/project directory/);
  });

  it('names the flag behind a native plan error in an op after the preset', async () => {
    mockCheckPlan.mockImplementation((json) => {
      const index = (JSON.parse(json) as Plan).ops!.length - 1;
      return { code: 'E_SOURCE_MISSING', message: `plan.ops[${index}].source (bind): source /nope does not exist`, opIndex: index };
    });
    const f = await failure(['plan', '--preset', 'agent', '--bind', '/nope', '/x', 'true']);
    expect(f).toMatchObject({ code: 'E_SOURCE_MISSING', message: expect.stringMatching(/does not exist \(from --bind \/nope \/x\)$/) });
  });

  it('names the preset op behind a native plan error', async () => {
    mockCheckPlan.mockImplementation((json) => {
      const ops = (JSON.parse(json) as Plan).ops!;
      const index = ops.findIndex((op) => 'target' in op && op.target === home);
      return { code: 'E_MOUNT', message: `plan.ops[${index}]: test`, opIndex: index };
    });
    const f = await failure(['plan', '--preset', 'agent', 'true']);
    expect(f).toMatchObject({ code: 'E_MOUNT', message: expect.stringMatching(/\(from preset agent: your home: empty and private, writable in memory only, gone after the run\)$/) });
  });
});

describe('sandboxctl.json', () => {
  // Written and trusted, as the user would after reviewing it.
  const config = (path: string, value: unknown, mode = 0o644): void => {
    writeFileSync(path, JSON.stringify(value));
    chmodSync(path, mode);
    trustFile(path, readFileSync(path));
  };

  it('is found from a subdirectory; its ops follow the preset and precede the flags; flags override its policy', async () => {
    config(join(project, 'sandboxctl.json'), { preset: 'ro-host', ops: [{ kind: 'tmpfs', target: 'scratch' }], hostname: 'cfg', network: 'host' });
    mkdirSync(join(project, 'sub'));
    process.chdir(join(project, 'sub'));
    const plan = await planOf(['--tmpfs', '/flag', '--hostname', 'flag', 'true']);
    const t = targets(plan);
    expect(t.slice(-2)).toEqual([join(project, 'scratch'), '/flag']);
    expect(t[4]).toBe(join(project, 'sub'));
    expect(plan).toMatchObject({ hostname: 'flag', network: 'host' });
    expect((await planOf(['--unshare-net', 'true'])).network).toBe('none');
  });

  it('--config names another file; --no-config ignores the one found', async () => {
    config(join(project, 'sandboxctl.json'), { hostname: 'found' });
    config(join(dir, 'other.json'), { hostname: 'named' });
    expect((await planOf(['true'])).hostname).toBe('found');
    expect((await planOf(['--config', '../../other.json', 'true'])).hostname).toBe('named');
    expect((await planOf(['--no-config', 'true'])).hostname).toBeUndefined();
  });

  it('takes allowEnv, inputs and output for the preset, relative to its directory', async () => {
    config(join(project, 'sandboxctl.json'), { preset: 'build', inputs: ['.'], output: 'out' });
    const plan = await planOf(['true']);
    expect(plan.ops!.slice(-2)).toEqual([
      { kind: 'bind', source: project, target: project },
      { kind: 'bind', source: join(project, 'out'), target: join(project, 'out'), writable: true },
    ]);
  });

  it('reports schema errors as E_CONFIG_INVALID with the file and the JSON path', async () => {
    config(join(project, 'sandboxctl.json'), { ops: [{ kind: 'tmpfs', target: '/t' }, { kind: 'bind', source: '/x' }] });
    const f = await failure(['run', '--', 'true']);
    expect(f).toMatchObject({ code: 'E_CONFIG_INVALID', message: 'sandboxctl.json: ops[1]: target is required' });
  });

  it('turns a native plan error in one of its ops into E_CONFIG_INVALID', async () => {
    config(join(project, 'sandboxctl.json'), { ops: [{ kind: 'tmpfs', target: '/t' }] });
    mockCheckPlan.mockReturnValue({ code: 'E_PLAN_INVALID', message: 'plan.ops[0].target (tmpfs): bad', opIndex: 0, path: 'plan.ops[0].target' });
    const f = await failure(['plan', 'true']);
    expect(f).toMatchObject({ code: 'E_CONFIG_INVALID', message: 'plan.ops[0].target (tmpfs): bad (from sandboxctl.json ops[0])' });
  });

  it('refuses a discovered file others may write', async () => {
    config(join(project, 'sandboxctl.json'), {}, 0o666);
    const f = await failure(['plan', 'true']);
    expect(f).toMatchObject({ code: 'E_CONFIG_INVALID', message: 'sandboxctl.json: writable by anyone (mode 0666)' });
    expect(f.hint).toMatch(/--no-config/);
  });
});

describe('sandboxctl explain', () => {
  it('says what the agent preset allows, hides and protects, and that the run leaves nothing on the host', async () => {
    const result = await runCli(['explain', '--preset', 'agent', '--', 'claude', '--flag']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const text = result.stdout;
    expect(text).toMatch(/^program: +claude --flag\n/);
    expect(text).toContain(`directory: ${project}\n`);
    expect(text).toMatch(/visible, read-only:\n {2}\/ +the host, read-only\n/);
    expect(text).toMatch(new RegExp(`writable:\\n  /tmp +private.*\\n(.*\\n)*  ${home} +your home: empty and private, writable in memory only, gone after the run\\n(.*\\n)*  ${project} +the current directory, writable\\n`));
    expect(text).toMatch(/hidden:\n {2}\/run +host services .*: an empty private directory \(mode 0755\)\n/);
    expect(text).not.toContain(`${home}/.ssh`);
    expect(text).toMatch(new RegExp(`  ${project}/.git/hooks +git acts on it: read-only`));
    expect(text).toMatch(new RegExp(`  ${project}/.vscode +.*missing, so an empty read-only stand-in for the run \\(removed after it\\)`));
    // a missing file gets no stand-in (the post-run audit's), and the way to allow a protected path is said
    expect(text).not.toContain(`${project}/.git/config`);
    expect(text).toMatch(new RegExp(`  ${project}/.git +git directory, writable for commits; a mount point`));
    expect(text).toContain('(to let the program write one of these: --allow-write PATH)');
    expect(text).not.toContain('left on the host');
    expect(text).toMatch(/denied:\n {2}network +none: a new network namespace with only loopback\n/);
    expect(text).toMatch(/ {2}environment +the caller's, minus 1: GITHUB_TOKEN; set: npm_config_fetch_retries\n/);
  });

  it('--json carries the items, the op behind each and the removed variable names', async () => {
    const result = await runCli(['explain', '--json', '--preset', 'agent']);
    const e = JSON.parse(result.stdout);
    expect(e.argv).toEqual([]);
    expect(e.preset).toBe('agent');
    expect(e.hidden[0]).toEqual({ path: '/run', what: expect.any(String), why: expect.stringMatching(/^host services/), op: 'tmpfs on /run mode 755', index: expect.any(Number) });
    expect(e.writable).toContainEqual({ path: home, what: expect.stringMatching(/^your home/), op: `tmpfs on ${home} mode 700`, index: expect.any(Number) });
    expect(e.removedEnv).toEqual(['GITHUB_TOKEN']);
  });

  it('escapes control characters in paths and notes', async () => {
    const result = await runCli(['explain', '--preset', 'agent', '--allow-home', 'x\u001b]0;owned\u0007', '--tmpfs', '/t\u001b[2J', '--', 'true']);
    expect(result.status).toBe(0);
    // eslint-disable-next-line no-control-regex
    expect(result.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(result.stdout).toContain('/t\\x1b[2J');
    expect(result.stdout).toContain('x\\x1b]0;owned\\x07 is not shown (allowHome): it does not exist');
  });

  it('works on plain flags and says when nothing of the host is visible', async () => {
    const result = await runCli(['explain', '--ro-bind', '/usr', '/usr', '--tmpfs', '/tmp', '--', 'ls']);
    expect(result.stdout).toMatch(/visible, read-only:\n {2}\/usr +read-only\n {2}\(nothing else of the host\)/);
    expect(result.stdout).toMatch(/filesystem +every host path not listed above/);
  });
});

describe('sandboxctl presets', () => {
  it('lists every preset with its summary', async () => {
    const result = await runCli(['presets']);
    expect(result.status).toBe(0);
    expect(result.stdout.split('\n').slice(0, 4).map((l) => l.split(' ')[0])).toEqual(['strict', 'ro-host', 'agent', 'build']);
    const json = JSON.parse((await runCli(['presets', '--json'])).stdout);
    expect(json.map((p: { name: string }) => p.name)).toEqual(['strict', 'ro-host', 'agent', 'build']);
  });

  it('shows one: description, ops here with their reasons, policy', async () => {
    const result = await runCli(['presets', 'show', 'agent']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^agent: for AI coding agents/);
    expect(result.stdout).toContain(`ops here (${project}):\n   1. ro-bind / on /  # the host, read-only\n`);
    expect(result.stdout).toMatch(/policy:\n {2}network: "none"/);
    const json = JSON.parse((await runCli(['presets', 'show', 'build', '--json'])).stdout);
    expect(json).toMatchObject({ name: 'build', params: ['inputs', 'output'], policy: { hostname: 'build' } });
  });

  it('shows the example project when the preset refuses this directory', async () => {
    process.chdir(home);
    const result = await runCli(['presets', 'show', 'agent']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/ops here \(\/home\/user\/project, an example: preset agent makes the current directory writable/);
  });

  it('refuses an unknown preset name', async () => {
    const f = await failure(['presets', 'show', 'nope']);
    expect(f.code).toBe('E_USAGE');
  });
});
