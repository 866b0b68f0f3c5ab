/**
 * A bundle by hand through the CLI, as issue 12's usage block says:
 * `sandboxctl oci spec > config.json && sandboxctl oci run --bundle . ID`,
 * run by a shell with `sandboxctl` on PATH, the runtime being the one the
 * platform package ships. Root only (the spec `spec` writes has no user
 * namespace; `spec --rootless` is the unprivileged form).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, describeAsRoot, requireTools } from './helpers';

describeAsRoot('sandboxctl oci with a bundle by hand', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const id = `sbx-bundle-${process.pid}`;

  beforeAll(() => {
    requireTools({ busybox: 'busybox-static' });
    dir = mkdtempSync(join(tmpdir(), 'sandboxctl-oci-bundle-'));
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'bin', 'sandboxctl'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@"\n`);
    chmodSync(join(dir, 'bin', 'sandboxctl'), 0o755);
    mkdirSync(join(dir, 'bundle', 'rootfs', 'bin'), { recursive: true });
    copyFileSync(execFileSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).trim(), join(dir, 'bundle', 'rootfs', 'bin', 'busybox'));
    for (const applet of ['sh', 'hostname', 'grep', 'touch']) symlinkSync('busybox', join(dir, 'bundle', 'rootfs', 'bin', applet));
    env = { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}` };
  });

  afterAll(() => {
    spawnSync(process.execPath, [CLI, 'oci', 'delete', '--force', id]);
    rmSync(dir, { recursive: true, force: true });
  });

  const sh = (script: string, input = '') => spawnSync('sh', ['-c', script], { cwd: join(dir, 'bundle'), env, input, encoding: 'utf8', timeout: 60_000 });

  test('spec > config.json, then run --bundle . ID: the program runs in the container and its status comes back', () => {
    rmSync(join(dir, 'bundle', 'config.json'), { force: true });
    const program = 'echo "host=$(hostname)"; grep NoNewPrivs /proc/self/status; touch /x 2>&1; exit 3\n';
    const r = sh(`sandboxctl oci spec > config.json && sandboxctl oci run --bundle . ${id}`, program);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^host=sandboxctl\nNoNewPrivs:\s+1\ntouch: \/x: Read-only file system\n$/);
    expect(r.status).toBe(3);
    const spec = JSON.parse(readFileSync(join(dir, 'bundle', 'config.json'), 'utf8'));
    expect(spec).toMatchObject({ root: { path: 'rootfs', readonly: true }, process: { terminal: false, args: ['sh'] } });
    // run deletes what it created: no state is left under --root.
    const state = sh(`sandboxctl oci state ${id}`);
    expect(state.status).toBe(1);
    expect(state.stderr).toContain('E_OCI_NOT_FOUND');
  });

  // runc relays a terminal for a foreground run, and refuses without one
  // ("open /dev/tty: no such device or address"): so do we (the suite has no
  // controlling terminal; crates/sandbox-oci/tests/lifecycle.rs relays one).
  test('a spec that asks for a terminal, run without one and without --console-socket, is refused before anything exists', () => {
    const spec = JSON.parse(readFileSync(join(dir, 'bundle', 'config.json'), 'utf8'));
    spec.process.terminal = true;
    writeFileSync(join(dir, 'bundle', 'config.json'), JSON.stringify(spec));
    // setsid: no controlling terminal even when jest was started from one.
    const r = sh(`setsid -w sandboxctl oci run --bundle . ${id}`);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/E_SPEC_INVALID: config.json: process.terminal: true needs a terminal to relay: cannot open \/dev\/tty: no such device or address/);
    expect(existsSync(`/run/sandboxctl-oci/${id}`)).toBe(false);
  });

  test('spec refuses to overwrite a config.json it would write into the bundle', () => {
    const r = sh('sandboxctl oci spec --bundle .');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('E_OCI_EXISTS');
  });
});
