import { join } from 'node:path';
import { runCli } from './helpers';

const FAKE_OCI = join(__dirname, '..', '..', 'core', 'test', 'fixtures', 'fake-oci.js');
const saved = process.env.SANDBOXCTL_OCI;

beforeEach(() => {
  process.env.SANDBOXCTL_OCI = FAKE_OCI;
});

afterAll(() => {
  if (saved === undefined) delete process.env.SANDBOXCTL_OCI;
  else process.env.SANDBOXCTL_OCI = saved;
});

describe('sandboxctl oci', () => {
  it('path prints the runtime\'s absolute path and nothing else', async () => {
    expect(await runCli(['oci', 'path'])).toEqual({ status: 0, stdout: `${FAKE_OCI}\n`, stderr: '' });
  });

  it('path fails with E_OCI_MISSING (exit 125) naming the missing file and how to get it', async () => {
    process.env.SANDBOXCTL_OCI = '/nonexistent/sandboxctl-oci';
    const result = await runCli(['oci', 'path']);
    expect(result.status).toBe(125);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^sandboxctl: E_OCI_MISSING: sandboxctl-oci not found at \/nonexistent\/sandboxctl-oci\n.*SANDBOXCTL_OCI/s);
  });

  it('a runtime that is not executable is E_OCI_MISSING too', async () => {
    process.env.SANDBOXCTL_OCI = join(__dirname, 'helpers.ts');
    const result = await runCli(['oci', 'spec']);
    expect(result.status).toBe(125);
    expect(result.stderr).toMatch(/E_OCI_MISSING: .*helpers\.ts is not executable/);
  });

  it('anything else goes to the runtime unchanged, options included, with its output', async () => {
    const argv = ['--root', '/tmp/r', 'run', '--bundle', '.', '--pid-file=/p', 'id2'];
    const result = await runCli(['oci', ...argv]);
    expect(result).toEqual({ status: 0, stdout: `${JSON.stringify(argv)}\n`, stderr: 'stderr\n' });
    expect(JSON.parse((await runCli(['oci', 'spec'])).stdout)).toEqual(['spec']);
    expect(JSON.parse((await runCli(['oci', '--debug', '--version'])).stdout)).toEqual(['--debug', '--version']);
    expect(JSON.parse((await runCli(['oci', '--', 'list'])).stdout)).toEqual(['list']);
    expect(JSON.parse((await runCli(['oci', 'exec', 'c1', '--', 'sh', '-c', 'x'])).stdout)).toEqual(['exec', 'c1', '--', 'sh', '-c', 'x']);
  });

  it('passes the runtime\'s exit status through, and 128+N for a signal', async () => {
    expect((await runCli(['oci', 'fake:exit', '3'])).status).toBe(3);
    expect((await runCli(['oci', 'fake:exit', '1'])).status).toBe(1);
    expect((await runCli(['oci', 'fake:signal'])).status).toBe(128 + 15);
  });

  it('--help alone is this command\'s help, naming path and the engines', async () => {
    const result = await runCli(['oci', '--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('sandboxctl oci path');
    expect(result.stdout).toContain('podman --runtime');
  });

  it('needs an argument: a usage error', async () => {
    const result = await runCli(['oci']);
    expect(result.status).toBe(125);
    expect(result.stderr).toMatch(/E_USAGE/);
  });
});
