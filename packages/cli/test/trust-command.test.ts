// `sandboxctl trust`: trusting, listing and forgetting config files, and what
// `plan`, `run` and `explain` do with a found config that is not trusted.

import { chmodSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers';

jest.mock('@sandboxctl/native', () => jest.requireActual<typeof import('../../core/test/support/native-mock')>('../../core/test/support/native-mock').native);

let dir: string;
let project: string;
let file: string;
const savedCwd = process.cwd();
const savedEnv = { ...process.env };

beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'sandboxctl-trust-cli-')));
  project = join(dir, 'project');
  mkdirSync(join(project, 'pkg'), { recursive: true });
  file = join(project, 'sandboxctl.json');
  writeFileSync(file, JSON.stringify({ hostname: 'from-config' }));
  chmodSync(file, 0o644);
  process.env.XDG_STATE_HOME = join(dir, 'state');
  process.chdir(join(project, 'pkg'));
});

afterEach(() => {
  process.chdir(savedCwd);
  process.env = { ...savedEnv };
  rmSync(dir, { recursive: true, force: true });
});

function failureOf(result: { status: number; stderr: string }): { code: string; message: string; hint?: string } {
  expect(result.status).toBe(125);
  const match = /^sandboxctl: (E_[A-Z_]+): ([^\n]*)\n(?:sandboxctl: hint: ([^\n]*)\n)?$/.exec(result.stderr);
  if (!match) throw new Error(`not a tool failure: ${JSON.stringify(result.stderr)}`);
  return { code: match[1]!, message: match[2]!, hint: match[3] };
}

describe('a found config that is not trusted', () => {
  it('makes plan and run fail with E_CONFIG_UNTRUSTED naming the file and the exact command', async () => {
    for (const command of ['plan', 'run']) {
      const f = failureOf(await runCli([command, '--', 'true']));
      expect(f.code).toBe('E_CONFIG_UNTRUSTED');
      expect(f.message).toContain(file);
      expect(f.message).toContain(`\`sandboxctl trust ${file}\``);
      expect(f.hint).toMatch(/--no-config/);
    }
  });

  it('is used once trusted, refused again after a change, and --no-config skips it', async () => {
    const trusted = await runCli(['trust']);
    expect(trusted.status).toBe(0);
    expect(trusted.stdout).toMatch(new RegExp(`^trusted ${file}, sha256 [0-9a-f]{16}…\\n$`));
    const plan = await runCli(['plan', '--json', '--', 'true']);
    expect(JSON.parse(plan.stdout).hostname).toBe('from-config');
    writeFileSync(file, JSON.stringify({ hostname: 'from-config', network: 'host' }));
    const f = failureOf(await runCli(['plan', '--', 'true']));
    expect(f).toMatchObject({ code: 'E_CONFIG_UNTRUSTED', message: expect.stringMatching(/changed since you trusted it/) });
    const skipped = await runCli(['plan', '--json', '--no-config', '--', 'true']);
    expect(JSON.parse(skipped.stdout).hostname).toBeUndefined();
  });

  it('counts as trusted when named with --config', async () => {
    const plan = await runCli(['plan', '--json', '--config', file, '--', 'true']);
    expect(plan.status).toBe(0);
    expect(JSON.parse(plan.stdout).hostname).toBe('from-config');
  });

  it('is shown by explain, which says whether it is trusted', async () => {
    const untrusted = await runCli(['explain', '--', 'true']);
    expect(untrusted.status).toBe(0);
    expect(untrusted.stdout).toContain(`config:    ${file} (NOT trusted: runs here refuse it until you review it and run \`sandboxctl trust ${file}\`)\n`);
    expect(JSON.parse((await runCli(['explain', '--json'])).stdout)).toMatchObject({ configFile: file, configTrust: 'untrusted' });
    await runCli(['trust', file]);
    expect((await runCli(['explain'])).stdout).toContain(`config:    ${file} (trusted)\n`);
    expect(JSON.parse((await runCli(['explain', '--json', '--config', file])).stdout)).toMatchObject({ configTrust: 'given' });
    writeFileSync(file, JSON.stringify({ hostname: 'changed' }));
    expect((await runCli(['explain'])).stdout).toContain(`config:    ${file} (CHANGED since you trusted it: runs here refuse it`);
  });
});

describe('sandboxctl trust', () => {
  it('lists, as text and JSON, and removes', async () => {
    expect((await runCli(['trust', '--list'])).stdout).toMatch(/^no trusted config files/);
    await runCli(['trust', file]);
    const text = await runCli(['trust', '--list']);
    expect(text.stdout).toMatch(new RegExp(`^${file}: trusted \\(sha256 [0-9a-f]{16}…, \\d{4}-`));
    const json = JSON.parse((await runCli(['trust', '--list', '--json'])).stdout);
    expect(json).toMatchObject({ store: join(dir, 'state', 'sandboxctl', 'trust.json'), trusted: [{ path: file, status: 'trusted' }] });
    const removed = await runCli(['trust', '--remove', file]);
    expect(removed).toMatchObject({ status: 0, stdout: `no longer trusted: ${file}\n` });
    expect(failureOf(await runCli(['trust', '--remove', file])).code).toBe('E_USAGE');
    expect(failureOf(await runCli(['plan', '--', 'true'])).code).toBe('E_CONFIG_UNTRUSTED');
  });

  it('records a symlinked file as the real file, through the link', async () => {
    const real = join(dir, 'shared', 'sandboxctl.json');
    mkdirSync(join(dir, 'shared'));
    writeFileSync(real, JSON.stringify({ hostname: 'shared' }));
    chmodSync(real, 0o644);
    rmSync(file);
    symlinkSync(real, file);
    const r = await runCli(['trust']);
    expect(r.stdout).toMatch(new RegExp(`^trusted ${real} \\(through ${file}\\)`));
    const json = JSON.parse((await runCli(['trust', '--list', '--json'])).stdout);
    expect(json.trusted).toEqual([expect.objectContaining({ path: real, links: [file] })]);
    expect(JSON.parse((await runCli(['plan', '--json', '--', 'true'])).stdout).hostname).toBe('shared');
  });

  it('refuses an invalid file, a missing one, nothing to find, and --json without --list', async () => {
    writeFileSync(file, '{ "preset": "nope" }');
    expect(failureOf(await runCli(['trust'])).code).toBe('E_CONFIG_INVALID');
    chmodSync(file, 0o666);
    writeFileSync(file, '{}');
    expect(failureOf(await runCli(['trust'])).code).toBe('E_CONFIG_INVALID');
    expect(failureOf(await runCli(['trust', join(dir, 'nope.json')])).code).toBe('E_USAGE');
    rmSync(file);
    expect(failureOf(await runCli(['trust'])).code).toBe('E_USAGE');
    expect(failureOf(await runCli(['trust', '--json'])).code).toBe('E_USAGE');
    expect(failureOf(await runCli(['trust', '--list', '--remove', 'x'])).code).toBe('E_USAGE');
    expect(existsSync(join(dir, 'state', 'sandboxctl', 'trust.json'))).toBe(false);
  });
});
