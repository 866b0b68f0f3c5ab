/**
 * Escape route 2 of issue 8: a sandboxctl.json planted by a sandboxed
 * program (or shipped in a cloned repository) was obeyed by the next run
 * started below it. Now a file found by looking up applies only when the user
 * trusted that exact file with that exact content: these cases plant,
 * change, forge trust for and re-point config files from inside a real
 * `--preset agent` run, then start the next run from the host as a user
 * would, and check that nothing planted applied.
 *
 * Each test has its own project under /var/tmp (the presets' private /tmp
 * would hide it) and its own trust store (XDG_STATE_HOME), outside the
 * project as the real one is. `npm test` runs this as root and unprivileged.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, requireKernel, type Ran } from '../helpers';

beforeAll(requireKernel);

let base: string;
let home: string;
let project: string;
let pkg: string;
let state: string;
let env: NodeJS.ProcessEnv;

beforeEach(() => {
  base = realpathSync(mkdtempSync('/var/tmp/sandboxctl-trust-'));
  chmodSync(base, 0o755);
  home = join(base, 'home');
  project = join(home, 'project');
  pkg = join(project, 'pkg');
  state = join(base, 'state');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(home, 'secret'), 'SECRET\n');
  env = { ...process.env, HOME: home, XDG_STATE_HOME: state };
});

afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

/** What a hostile program writes: the host network, no seccomp, the home writable. */
const hostile = (): string =>
  JSON.stringify({
    network: 'host',
    seccomp: { preset: 'none' },
    ops: [{ kind: 'bind', source: home, target: home, writable: true }],
  });

/** `sandboxctl run --preset agent -- /bin/sh -c SCRIPT` in `cwd`, as the user would type it. */
function agent(cwd: string, script: string, extra: string[] = []): Promise<Ran> {
  return cli(['run', '--preset', 'agent', ...extra, '--', '/bin/sh', '-c', script], { cwd, env });
}

/**
 * A script proving what the sandbox got: seccomp mode, network interfaces,
 * and a write to the home (the agent preset's home is private memory, so the
 * test checks on the host that the write did not land there).
 */
const probe = (): string =>
  `grep '^Seccomp:' /proc/self/status | tr -d '\\t '; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' '; echo; (echo x > ${home}/pwned) 2>/dev/null; echo probed`;

function expectUntrusted(r: Ran, file: string): void {
  expect(r.code).toBe(125);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^sandboxctl: E_CONFIG_UNTRUSTED: /);
  expect(r.stderr).toContain(`\`sandboxctl trust ${file}\``);
}

describe('a sandboxctl.json planted below the project', () => {
  test('a run plants pkg/sandboxctl.json; the next `cd pkg && sandboxctl run --preset agent` refuses it and nothing of it applies', async () => {
    const file = join(pkg, 'sandboxctl.json');
    const plant = await agent(project, `cat > pkg/sandboxctl.json <<'EOF'\n${hostile()}\nEOF\nchmod 644 pkg/sandboxctl.json; echo planted=$?`);
    expect(plant.stdout).toContain('planted=');
    // The post-run audit may have moved it aside; a cloned repository (or
    // --on-taint=warn) leaves it. The trust check must hold either way.
    if (!existsSync(file)) {
      writeFileSync(file, hostile());
      chmodSync(file, 0o644);
    }
    const refused = await agent(pkg, `echo ran > ${project}/ran; ${probe()}`);
    expectUntrusted(refused, file);
    expect(existsSync(join(project, 'ran'))).toBe(false);
    expect(existsSync(join(home, 'pwned'))).toBe(false);

    // Without the file the run is the agent preset's own: strict seccomp, no network, home read-only.
    const plain = await agent(pkg, probe(), ['--no-config']);
    expect(plain.stderr).toBe('');
    expect(plain.stdout).toBe('Seccomp:2\nlo \nprobed\n');
    expect(existsSync(join(home, 'pwned'))).toBe(false);
  });

  test('a run cannot forge trust: the store outside the project stays unwritten and the next run refuses', async () => {
    const file = join(pkg, 'sandboxctl.json');
    writeFileSync(file, hostile());
    chmodSync(file, 0o644);
    const { createHash } = await import('node:crypto');
    const forged = JSON.stringify({ version: 1, trusted: [{ path: file, sha256: createHash('sha256').update(hostile()).digest('hex'), trustedAt: '2026-01-01T00:00:00.000Z' }] });
    const store = join(state, 'sandboxctl', 'trust.json');
    // The user's store exists (another project trusted earlier), as it usually does.
    const other = join(base, 'other.json');
    writeFileSync(other, '{}');
    expect((await cli(['trust', other], { env })).code).toBe(0);
    const before = readFileSync(store, 'utf8');
    const attempt = await agent(project, `printf '%s' '${forged}' > ${store} 2>/dev/null; echo store=$?; mkdir -p ${state}/sandboxctl 2>/dev/null; printf '%s' '${forged}' > ${state}/sandboxctl/forged 2>/dev/null; echo dir=$?`);
    expect(attempt.stdout).not.toContain('store=0');
    expect(attempt.stdout).not.toContain('dir=0');
    expect(readFileSync(store, 'utf8')).toBe(before);
    expectUntrusted(await agent(pkg, `echo ran > ${project}/ran`), file);
    expect(existsSync(join(project, 'ran'))).toBe(false);
  });
});

describe('a trusted sandboxctl.json', () => {
  test('applies once trusted; changed after trust (from inside a run or on the host) it is refused', async () => {
    const file = join(pkg, 'sandboxctl.json');
    writeFileSync(file, JSON.stringify({ hostname: 'trusted-one' }));
    chmodSync(file, 0o644);
    const trust = await cli(['trust'], { cwd: pkg, env });
    expect(trust.code).toBe(0);
    const used = await agent(pkg, 'hostname');
    expect(used.stderr).toBe('');
    expect(used.stdout).toBe('trusted-one\n');

    // A run tries to rewrite it: either the write is refused (a protected
    // name) or the next run refuses the changed file.
    await agent(project, `cat > pkg/sandboxctl.json <<'EOF'\n${hostile()}\nEOF`);
    if (readFileSync(file, 'utf8') !== JSON.stringify({ hostname: 'trusted-one' })) {
      expectUntrusted(await agent(pkg, `echo ran > ${project}/ran`), file);
      expect(existsSync(join(project, 'ran'))).toBe(false);
    }

    // Changed on the host after trust (same size, one value): refused, nothing runs.
    writeFileSync(file, JSON.stringify({ hostname: 'trusted-two' }));
    const changed = await agent(pkg, `echo ran > ${project}/ran`);
    expectUntrusted(changed, file);
    expect(changed.stderr).toMatch(/changed since you trusted it/);
    expect(existsSync(join(project, 'ran'))).toBe(false);
  });

  test('trust of a symlinked file records the real file; re-pointing the link or another link to it is refused', async () => {
    const conf = join(project, 'conf');
    mkdirSync(conf);
    const real = join(conf, 'real.json');
    writeFileSync(real, JSON.stringify({ hostname: 'via-link' }));
    chmodSync(real, 0o644);
    const link = join(pkg, 'sandboxctl.json');
    symlinkSync('../conf/real.json', link);
    const trust = await cli(['trust'], { cwd: pkg, env });
    expect(trust.code).toBe(0);
    const list = JSON.parse((await cli(['trust', '--list', '--json'], { env })).stdout);
    expect(list.trusted).toEqual([expect.objectContaining({ path: real, links: [link], status: 'trusted' })]);
    const viaLink = await agent(pkg, 'hostname');
    expect([viaLink.stdout, viaLink.stderr]).toEqual(['via-link\n', '']);

    // A run re-points the link at a file of its own.
    const repoint = await agent(project, `cat > conf/evil.json <<'EOF'\n${hostile()}\nEOF\nchmod 644 conf/evil.json; ln -sfn ../conf/evil.json pkg/sandboxctl.json; echo repointed=$?`);
    expect(repoint.stdout).toContain('repointed=');
    if (!lstatSync(link).isSymbolicLink() || realpathSync(link) !== real) {
      if (existsSync(link)) expectUntrusted(await agent(pkg, `echo ran > ${project}/ran`), link);
      expect(existsSync(join(project, 'ran'))).toBe(false);
    }

    // Another link to the trusted file, planted elsewhere, is not trusted.
    const elsewhere = join(project, 'elsewhere');
    mkdirSync(elsewhere);
    symlinkSync('../conf/real.json', join(elsewhere, 'sandboxctl.json'));
    expectUntrusted(await agent(elsewhere, `echo ran > ${project}/ran`), join(elsewhere, 'sandboxctl.json'));
    expect(existsSync(join(project, 'ran'))).toBe(false);
  });
});
