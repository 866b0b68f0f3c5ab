// Presets as data: the ops each one produces for the fixed example host
// (snapshots), and the rules behind them: what is hidden only when present,
// what is protected even when missing, which variables are removed, and the
// directories a preset refuses.

import { composePlan, mergeEnv } from '../src/plan/compose';
import { credentialNames, looksLikeCredential } from '../src/presets/credentials';
import { EXAMPLE_CWD, EXAMPLE_ENV, EXAMPLE_HOME, exampleOptions } from '../src/presets/example';
import { fakeHost } from '../src/presets/host';
import { PRESET_NAMES, PRESETS, getPreset, resolvePreset, type PresetOptions } from '../src/presets';
import { buildPlan } from '../src/run';
import type { Op } from '../src/plan-types';

const targets = (ops: readonly Op[]): string[] => ops.map((op) => ('target' in op ? String(op.target) : op.kind));

describe.each(PRESET_NAMES)('preset %s on the example host', (name) => {
  it('resolves to these ops and this policy', () => {
    const resolved = resolvePreset(exampleOptions(name));
    expect(resolved.ops).toMatchSnapshot('ops');
    expect(resolved.policy).toMatchSnapshot('policy');
    expect(resolved.notes).toHaveLength(resolved.ops.length);
    for (const note of resolved.notes) expect(note.why.length).toBeGreaterThan(0);
  });

  it('is registered under its own name with a summary and a description', () => {
    expect(PRESETS[name].name).toBe(name);
    expect(PRESETS[name].summary.length).toBeGreaterThan(20);
    expect(PRESETS[name].description.length).toBeGreaterThan(0);
  });
});

/** A git directory as git recognizes one. */
function repo(dir: string): Record<string, string> {
  return { [`${dir}/HEAD`]: 'file:ref: refs/heads/main\n', [`${dir}/objects`]: 'dir', [`${dir}/refs`]: 'dir' };
}

describe('agent', () => {
  const agentWith = (entries: Record<string, string>, extra: Partial<PresetOptions> = {}) =>
    resolvePreset({ name: 'agent', cwd: '/w/p', home: '/h', env: {}, host: fakeHost(entries), ...extra });

  it('shows the home through an allow-list: an empty private tmpfs, secrets not on it get no op', () => {
    const r = agentWith({ '/h/.ssh': 'dir', '/h/.netrc': 'file', '/w/p/.git/HEAD': 'file' });
    expect(r.ops).toContainEqual({ kind: 'tmpfs', target: '/h', mode: 0o700 });
    expect(targets(r.ops).filter((t) => t.startsWith('/h/'))).toEqual([]);
  });

  it('puts the host, /tmp, the private /run and the home first, the writable current directory after them and the protected paths after it', () => {
    const r = agentWith({ '/h/.ssh': 'dir', '/run': 'dir', ...repo('/w/p/.git'), '/w/p/.git/hooks': 'dir' });
    const t = targets(r.ops);
    expect(t.slice(0, 4)).toEqual(['/', '/proc', '/dev', '/tmp']);
    const cwd = r.ops.findIndex((op) => op.kind === 'bind' && op.writable === true);
    expect(r.ops[cwd]).toEqual({ kind: 'bind', source: '/w/p', target: '/w/p', writable: true });
    expect(cwd).toBeGreaterThan(t.indexOf('/h'));
    expect(cwd).toBeGreaterThan(t.indexOf('/run'));
    expect(t.indexOf('/w/p/.git/hooks')).toBeGreaterThan(cwd);
    expect(r.policy).toMatchObject({ network: 'none', cwd: '/w/p', seccomp: { preset: 'strict' } });
  });

  it('keeps existing protected paths read-only: placeholder ops for stand-in directories, binds elsewhere', () => {
    const r = agentWith({ ...repo('/w/p/.git'), '/w/p/.git/hooks': 'dir', '/w/p/.git/config': 'file', '/w/p/.bashrc': 'file', '/w/p/.mcp.json': 'file' });
    expect(r.ops).toEqual(
      expect.arrayContaining([
        // present now, but possibly another sandbox's stand-in: the op holds its lock and binds what is there
        { kind: 'placeholder', target: '/w/p/.git/hooks', type: 'dir', base: '/w/p/.git' },
        { kind: 'bind', source: '/w/p/.git/config', target: '/w/p/.git/config' },
        { kind: 'bind', source: '/w/p/.bashrc', target: '/w/p/.bashrc' },
        { kind: 'bind', source: '/w/p/.mcp.json', target: '/w/p/.mcp.json' },
      ]),
    );
  });

  it('gives only missing directories a stand-in, never a file (an empty directory is invisible to git)', () => {
    const r = agentWith(repo('/w/p/.git'));
    const placeholders = r.ops.filter((_, i) => r.notes[i]!.role === 'placeholder');
    expect(placeholders).toEqual([
      { kind: 'placeholder', target: '/w/p/.git/hooks', type: 'dir', base: '/w/p/.git' },
      { kind: 'placeholder', target: '/w/p/.vscode', type: 'dir', base: '/w/p' },
      { kind: 'placeholder', target: '/w/p/.idea', type: 'dir', base: '/w/p' },
      { kind: 'placeholder', target: '/w/p/.claude', type: 'dir', base: '/w/p' },
    ]);
    expect(targets(r.ops)).not.toContain('/w/p/.mcp.json');
    expect(targets(r.ops)).not.toContain('/w/p/sandboxctl.json');
    expect(targets(r.ops)).not.toContain('/w/p/.bashrc');
    expect(targets(r.ops)).not.toContain('/w/p/.git/commondir');
  });

  it('gives a directory without .git no .git at all, so git init works and a parent repository stays visible', () => {
    const r = agentWith({ '/w/p/src': 'dir' });
    expect(targets(r.ops).filter((t) => t.includes('.git'))).toEqual([]);
    // an empty .git (a stand-in an old version left) is no repository: nothing is made in it
    const empty = agentWith({ '/w/p/.git': 'dir' });
    expect(targets(empty.ops).filter((t) => t.includes('.git'))).toEqual([]);
  });

  it('replaces /run and the runtime directory with private empty ones', () => {
    const r = agentWith({ '/run/user/7': 'dir', '/run/docker.sock': 'socket' }, { env: { XDG_RUNTIME_DIR: '/run/user/7' } });
    expect(r.ops).toEqual(expect.arrayContaining([{ kind: 'tmpfs', target: '/run', mode: 0o755 }, { kind: 'tmpfs', target: '/run/user/7', mode: 0o700 }]));
    // Under the private /run already: no mask needed.
    expect(targets(r.ops)).not.toContain('/run/docker.sock');
  });

  it('does not show a toolchain or cache that holds the current directory, and the current directory is bound after the home', () => {
    const r = resolvePreset({ name: 'agent', cwd: '/h/.npm/tool', home: '/h', env: {}, host: fakeHost({ '/h/.npm/tool': 'dir' }) });
    expect(targets(r.ops)).not.toContain('/h/.npm');
    expect(targets(r.ops).indexOf('/h/.npm/tool')).toBeGreaterThan(targets(r.ops).indexOf('/h'));
  });

  it('refuses / and directories holding $HOME as the current directory', () => {
    for (const cwd of ['/', '/h', '/home']) {
      expect(() => resolvePreset({ name: 'agent', cwd, home: cwd === '/home' ? '/home/u' : '/h', env: {}, host: fakeHost({}) })).toThrow(
        expect.objectContaining({ code: 'E_PLAN_INVALID', path: 'preset' }),
      );
    }
    expect(() => resolvePreset({ name: 'ro-host', cwd: '/', home: '/h', env: {}, host: fakeHost({}) })).toThrow(
      expect.objectContaining({ code: 'E_PLAN_INVALID' }),
    );
    expect(() => resolvePreset({ name: 'ro-host', cwd: '/h', home: '/h', env: {}, host: fakeHost({}) })).not.toThrow();
  });

  it('removes variables not on the allow-list and credential-looking ones, unless allowed by name', () => {
    const r = resolvePreset({ ...exampleOptions('agent'), allowEnv: ['GITHUB_TOKEN'] });
    expect(r.removedEnv).toEqual(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'DATABASE_URL', 'DBUS_SESSION_BUS_ADDRESS', 'MYSQL_PWD', 'SSH_AUTH_SOCK']);
    expect(r.policy.env).toEqual({ unset: r.removedEnv, set: { npm_config_fetch_retries: '0' } });
    expect(resolvePreset({ ...exampleOptions('agent'), allowEnv: ['GITHUB_TOKEN'], network: 'host' }).policy.env).toEqual({ unset: r.removedEnv });
  });
});

describe('credentials', () => {
  it.each([
    ['GITHUB_TOKEN', 'x'],
    ['NPM_TOKEN', 'x'],
    ['OPENAI_API_KEY', 'x'],
    ['ANTHROPIC_APIKEY', 'x'],
    ['PGPASSWORD', 'x'],
    ['MY_SECRET', 'x'],
    ['AWS_SESSION_TOKEN', 'x'],
    ['SSH_AUTH_SOCK', 'x'],
    ['STRIPE_KEY', 'x'],
    ['GOOGLE_APPLICATION_CREDENTIALS', 'x'],
    ['sentry_dsn', 'x'],
    ['XAUTHORITY', 'x'],
    ['ANYTHING', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789'],
    ['ANYTHING', 'AKIAABCDEFGHIJKLMNOP'],
    ['ANYTHING', 'https://user:hunter2@example.org/x'],
    ['ANYTHING', 'sk-ant-abcdefghijklmnopqrstuvwxyz'],
  ])('%s=%s looks like a credential', (name, value) => {
    expect(looksLikeCredential(name, value)).toBe(true);
  });

  it.each([
    ['PATH', '/usr/bin'],
    ['HOME', '/home/u'],
    ['GIT_AUTHOR_NAME', 'A'],
    ['GIT_AUTHOR_EMAIL', 'a@example.org'],
    ['KEYMAP', 'us'],
    ['TERM', 'xterm'],
    ['HTTP_PROXY', 'http://proxy:3128'],
    ['URL', 'https://user@example.org/'],
    ['AWS_CA_BUNDLE', '/etc/ssl/certs/ca-certificates.crt'],
    ['AWS_REGION', 'eu-west-1'],
    ['PWD', '/w/p'],
  ])('%s=%s does not', (name, value) => {
    expect(looksLikeCredential(name, value)).toBe(false);
  });

  it('lists names sorted, minus the allowed ones', () => {
    expect(credentialNames({ B_TOKEN: '1', A_SECRET: '2', PATH: '/bin' }, ['B_TOKEN'])).toEqual(['A_SECRET']);
  });
});

describe('build', () => {
  it('keeps host symlinks as symlinks, binds declared inputs read-only and the output writable', () => {
    const r = resolvePreset({
      name: 'build',
      cwd: '/w/p',
      home: '/h',
      env: { SECRET_TOKEN: 'x' },
      inputs: ['src', '/opt/sdk'],
      output: 'dist',
      host: fakeHost({ '/usr': 'dir', '/bin': 'symlink:usr/bin', '/lib64': 'dir', '/etc': 'dir', '/w/p/src': 'dir', '/opt/sdk': 'dir' }),
    });
    expect(r.ops).toEqual([
      { kind: 'bind', source: '/usr', target: '/usr' },
      { kind: 'symlink', target: '/bin', linkname: 'usr/bin' },
      { kind: 'bind', source: '/lib64', target: '/lib64' },
      { kind: 'bind', source: '/etc', target: '/etc' },
      { kind: 'proc', target: '/proc' },
      { kind: 'dev', target: '/dev' },
      { kind: 'tmpfs', target: '/tmp' },
      { kind: 'bind', source: '/w/p/src', target: '/w/p/src' },
      { kind: 'bind', source: '/opt/sdk', target: '/opt/sdk' },
      { kind: 'bind', source: '/w/p/dist', target: '/w/p/dist', writable: true },
    ]);
    // The current directory itself is not visible: the program starts in / then.
    expect(r.policy.cwd).toBeUndefined();
    expect(r.policy.env).toEqual({ inherit: false, set: { PATH: expect.any(String), HOME: '/tmp', LANG: 'C.UTF-8', TZ: 'UTC' } });
    expect(r.policy.hostname).toBe('build');
  });
});

describe('getPreset', () => {
  it('names the presets for an unknown one', () => {
    expect(() => getPreset('nope')).toThrow(expect.objectContaining({ code: 'E_PLAN_INVALID', hint: 'the presets are strict, ro-host, agent, build' }));
  });
});

describe('composition', () => {
  it('puts preset ops first, then the caller ops; options override the policy and merge the environment', () => {
    const plan = buildPlan({
      argv: ['sh'],
      preset: exampleOptions('agent'),
      ops: [{ kind: 'bind', source: `${EXAMPLE_CWD}/out`, target: '/out', writable: true }],
      network: 'host',
      env: { set: { FOO: '1' } },
    });
    // The preset is resolved for the network the plan ends with (no empty resolv.conf then).
    const preset = resolvePreset({ ...exampleOptions('agent'), network: 'host' });
    expect(targets(preset.ops)).not.toContain('/etc/resolv.conf');
    expect(plan.ops).toEqual([...preset.ops, { kind: 'bind', source: `${EXAMPLE_CWD}/out`, target: '/out', writable: true }]);
    expect(plan.network).toBe('host');
    expect(plan.cwd).toBe(EXAMPLE_CWD);
    expect(plan.env).toEqual({ unset: preset.removedEnv, set: { FOO: '1' } });
  });

  it('lets an explicit set bring back a removed variable, and inherit:false start over', () => {
    expect(mergeEnv({ unset: ['A', 'B'] }, { set: { A: 'x' } })).toEqual({ unset: ['B'], set: { A: 'x' } });
    expect(mergeEnv({ unset: ['A'] }, { inherit: false })).toEqual({ inherit: false });
    expect(mergeEnv(undefined, undefined)).toBeUndefined();
  });

  it('composes layers in order', () => {
    expect(
      composePlan(['x'], { ops: [{ kind: 'proc', target: '/proc' }], network: 'none', env: { unset: ['T'] } }, { ops: [{ kind: 'dir', target: '/d' }], network: 'host' }),
    ).toEqual({ version: 1, argv: ['x'], ops: [{ kind: 'proc', target: '/proc' }, { kind: 'dir', target: '/d' }], network: 'host', env: { unset: ['T'] } });
  });

  it('uses the example context deterministically', () => {
    expect(resolvePreset(exampleOptions('agent'))).toEqual(resolvePreset(exampleOptions('agent')));
    expect(EXAMPLE_ENV.HOME).toBe(EXAMPLE_HOME);
  });
});
