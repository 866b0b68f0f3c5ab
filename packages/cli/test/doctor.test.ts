import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trustFile, type Diagnosis } from '@sandboxctl/core';
import { formatDiagnosis } from '../src/commands/doctor';
import { runCli } from './helpers';
import { native } from '../../core/test/support/native-mock';

const mockProbe = native.probe;
jest.mock('@sandboxctl/native', () => jest.requireActual<typeof import('../../core/test/support/native-mock')>('../../core/test/support/native-mock').native);

const FAKE_INIT = join(__dirname, '..', '..', 'core', 'test', 'fixtures', 'fake-init.js');
const FAKE_OCI = join(__dirname, '..', '..', 'core', 'test', 'fixtures', 'fake-oci.js');
const savedInit = process.env.SANDBOXCTL_INIT;
const savedOci = process.env.SANDBOXCTL_OCI;

const goodKernel = {
  kernelRelease: '6.8.0-test',
  userns: { available: true, maxUserNamespaces: 15000 },
  seccomp: true,
  landlockAbi: 4,
};

beforeEach(() => {
  process.env.SANDBOXCTL_INIT = FAKE_INIT;
  process.env.SANDBOXCTL_OCI = FAKE_OCI;
  mockProbe.mockReset();
  mockProbe.mockReturnValue(goodKernel);
});

afterAll(() => {
  if (savedInit === undefined) delete process.env.SANDBOXCTL_INIT;
  else process.env.SANDBOXCTL_INIT = savedInit;
  if (savedOci === undefined) delete process.env.SANDBOXCTL_OCI;
  else process.env.SANDBOXCTL_OCI = savedOci;
});

describe('sandboxctl doctor', () => {
  it('--json reports the kernel, the addon and the absolute init path; exit 0 when all is well', async () => {
    const result = await runCli(['doctor', '--json']);
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({
      ok: true,
      cli: { version: (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version },
      addon: { loaded: true, version: '0.0.0-test' },
      init: { path: FAKE_INIT, fromEnv: true, exists: true, executable: true, version: 'sandboxctl-init 0.0.0-fake' },
      oci: { path: FAKE_OCI, fromEnv: true, exists: true, executable: true, version: 'sandboxctl-oci version 0.0.0-fake' },
      kernel: goodKernel,
      problems: [],
    });
    expect(report.node.version).toBe(process.version);
  });

  it('names each problem with its code and a hint, and exits 1', async () => {
    mockProbe.mockReturnValue({
      ...goodKernel,
      userns: {
        available: false,
        apparmorRestrictUnprivilegedUserns: 1,
        problem: 'AppArmor restricts unprivileged user namespaces',
        hint: 'sysctl kernel.apparmor_restrict_unprivileged_userns=0',
      },
      seccomp: false,
    });
    process.env.SANDBOXCTL_INIT = '/nonexistent/sandboxctl-init';
    process.env.SANDBOXCTL_OCI = '/nonexistent/sandboxctl-oci';
    const result = await runCli(['doctor', '--json']);
    expect(result.status).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p: { code: string }) => p.code)).toEqual(['E_INIT_MISSING', 'E_OCI_MISSING', 'E_USERNS_UNAVAILABLE', 'E_SETUP']);
    expect(report.problems[1]).toMatchObject({ message: 'sandboxctl-oci not found at /nonexistent/sandboxctl-oci', hint: 'SANDBOXCTL_OCI names a file that does not exist; fix or unset it' });
    expect(report.problems[2]).toEqual({
      code: 'E_USERNS_UNAVAILABLE',
      message: 'AppArmor restricts unprivileged user namespaces',
      hint: 'sysctl kernel.apparmor_restrict_unprivileged_userns=0',
    });
    expect(report.init).toMatchObject({ path: '/nonexistent/sandboxctl-init', exists: false, executable: false });

    const text = await runCli(['doctor']);
    expect(text.status).toBe(1);
    expect(text.stdout).toContain('problem: E_USERNS_UNAVAILABLE: AppArmor restricts unprivileged user namespaces\n  hint: sysctl kernel.apparmor_restrict_unprivileged_userns=0\n');
    expect(text.stdout).toContain('init:     /nonexistent/sandboxctl-init (from SANDBOXCTL_INIT): missing');
    expect(text.stdout).toContain('oci:      /nonexistent/sandboxctl-oci (from SANDBOXCTL_OCI): missing');
  });
});

describe('sandboxctl doctor and sandboxctl.json', () => {
  const saved = process.cwd();
  const savedState = process.env.XDG_STATE_HOME;
  let dir: string;
  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'sandboxctl-doctor-')));
    process.env.XDG_STATE_HOME = join(dir, 'state');
    process.chdir(dir);
  });
  afterEach(() => {
    process.chdir(saved);
    if (savedState === undefined) delete process.env.XDG_STATE_HOME;
    else process.env.XDG_STATE_HOME = savedState;
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the config file a run here would use and that it is trusted, and a broken one as a problem', async () => {
    const file = join(dir, 'sandboxctl.json');
    writeFileSync(file, '{ "preset": "agent" }', { mode: 0o644 });
    trustFile(file, readFileSync(file));
    const good = await runCli(['doctor', '--json']);
    expect(JSON.parse(good.stdout).config).toEqual({ path: file, preset: 'agent', trusted: true });
    expect((await runCli(['doctor'])).stdout).toContain(`config:   ${file} (preset agent, trusted)\n`);
    writeFileSync(file, '{ "preset": "nope" }', { mode: 0o644 });
    trustFile(file, readFileSync(file));
    const bad = await runCli(['doctor']);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/config: +\S+sandboxctl.json: invalid \(trusted\)\n/);
    expect(bad.stdout).toMatch(/problem: E_CONFIG_INVALID: \S*sandboxctl.json: preset: expected one of .*\n {2}hint: .*--no-config\n/);
  });

  it('says when the config found is not trusted, or changed since it was, with the command that trusts it', async () => {
    const file = join(dir, 'sandboxctl.json');
    writeFileSync(file, '{ "preset": "agent" }', { mode: 0o644 });
    const untrusted = await runCli(['doctor', '--json']);
    expect(untrusted.status).toBe(1);
    const report = JSON.parse(untrusted.stdout);
    expect(report.config).toMatchObject({ path: file, trusted: false, code: 'E_CONFIG_UNTRUSTED' });
    expect(report.problems).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'E_CONFIG_UNTRUSTED' })]));
    expect(report.config.error).toContain(`sandboxctl trust ${file}`);
    expect((await runCli(['doctor'])).stdout).toContain(`config:   ${file}: not trusted, not used`);
    trustFile(file, readFileSync(file));
    writeFileSync(file, '{ "preset": "agent", "network": "host" }', { mode: 0o644 });
    const changed = JSON.parse((await runCli(['doctor', '--json'])).stdout);
    expect(changed.config).toMatchObject({ trusted: false, code: 'E_CONFIG_UNTRUSTED' });
    expect(changed.config.error).toMatch(/changed since you trusted it/);
  });
});

describe('formatDiagnosis', () => {
  it('lists the facts and says when there is nothing to fix', () => {
    const diagnosis: Diagnosis = {
      ok: true,
      node: { version: 'v20.0.0', napi: '9' },
      core: { version: '1.2.3' },
      addon: { loaded: true, path: '/x/sandboxctl.linux-x64-gnu.node', version: '1.2.3' },
      init: { path: '/x/sandboxctl-init', fromEnv: false, from: '@sandboxctl/native-linux-x64-gnu', exists: true, executable: true, version: 'sandboxctl-init 1.2.3' },
      oci: { path: '/x/sandboxctl-oci', fromEnv: false, from: '@sandboxctl/native-linux-x64-gnu', exists: true, executable: true, version: 'sandboxctl-oci version 1.2.3' },
      config: { path: '/p/sandboxctl.json', preset: 'agent', trusted: true },
      kernel: {
        kernelRelease: '6.8.0',
        userns: { available: true, maxUserNamespaces: 100, unprivilegedUsernsClone: 1 },
        seccomp: true,
        landlockAbi: 0,
      },
      problems: [],
    };
    const text = formatDiagnosis(diagnosis);
    expect(text).toContain('addon:    /x/sandboxctl.linux-x64-gnu.node (native 1.2.3)\n');
    expect(text).toContain('init:     /x/sandboxctl-init (from @sandboxctl/native-linux-x64-gnu): ok (sandboxctl-init 1.2.3)\n');
    expect(text).toContain('oci:      /x/sandboxctl-oci (from @sandboxctl/native-linux-x64-gnu): ok (sandboxctl-oci version 1.2.3)\n');
    expect(text).toContain('config:   /p/sandboxctl.json (preset agent, trusted)\n');
    expect(text).toContain('userns:   yes (user.max_user_namespaces=100, kernel.unprivileged_userns_clone=1)\n');
    expect(text).toContain('landlock: no\n');
    expect(text.endsWith('no problems found\n')).toBe(true);
  });
});
