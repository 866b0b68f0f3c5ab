/**
 * Presets in real sandboxes, checked from inside and from the host. The fake
 * home and project live under /var/tmp: the presets' private /tmp would hide
 * a home under /tmp and make "~/.ssh is unreadable" true for the wrong
 * reason. `npm test` runs this as root and as an unprivileged user.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildPlan, runToCompletion, SandboxProcess } from '@sandboxctl/core';
import { cli, requireKernel, type Ran } from './helpers';

beforeAll(requireKernel);

let base: string;
let home: string;
let project: string;

const TOKEN = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';

beforeEach(() => {
  base = mkdtempSync('/var/tmp/sandboxctl-presets-');
  home = join(base, 'home');
  project = join(home, 'project');
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  writeFileSync(join(home, '.ssh', 'id_ed25519'), 'PRIVATE KEY\n', { mode: 0o600 });
  mkdirSync(join(home, '.aws'));
  writeFileSync(join(home, '.aws', 'credentials'), 'aws_secret_access_key = SECRET\n');
  writeFileSync(join(home, '.netrc'), 'machine example.org password NETRC-SECRET\n');
  writeFileSync(join(home, '.bashrc'), '# rc\n');
  mkdirSync(project);
  execFileSync('git', ['init', '-q', project]);
  rmSync(join(project, '.git', 'hooks'), { recursive: true, force: true });
  writeFileSync(join(project, 'README'), 'project\n');
});

afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

/** `sandboxctl ARGS -- /bin/sh -c SCRIPT` in the project, with the fake home. */
function inProject(args: string[], script: string, env: Record<string, string> = {}): Promise<Ran> {
  return cli([...args, '--', '/bin/sh', '-c', script], {
    cwd: project,
    env: { ...process.env, HOME: home, GIT_AUTHOR_NAME: 'A', GIT_AUTHOR_EMAIL: 'a@example.org', GIT_COMMITTER_NAME: 'A', GIT_COMMITTER_EMAIL: 'a@example.org', ...env },
  });
}

/** Lines `name=status` for each shell step, so one run checks many things. */
const steps = (r: Ran): Record<string, string> =>
  Object.fromEntries(
    r.stdout
      .split('\n')
      .filter((l) => /^[\w.-]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

describe('agent', () => {
  test('secrets are unreadable, writes to the home stay in memory, credentials are gone from the environment', async () => {
    const r = await inProject(
      ['run', '--preset', 'agent'],
      [
        'cat ~/.ssh/id_ed25519 >/dev/null 2>&1; echo ssh_key=$?',
        'ls ~/.ssh >/dev/null 2>&1; echo ssh_list=$?',
        'cat ~/.aws/credentials >/dev/null 2>&1; echo aws=$?',
        'cat ~/.netrc 2>/dev/null | grep -c NETRC-SECRET; echo netrc=$?',
        'echo x 2>/dev/null >> ~/.bashrc; echo bashrc=$?',
        'touch ~/.zshrc 2>/dev/null; echo zshrc=$?',
        'echo token=${GITHUB_TOKEN:-unset} api=${MY_API_KEY:-unset} author=${GIT_AUTHOR_NAME:-unset}',
      ].join('\n'),
      { GITHUB_TOKEN: TOKEN, MY_API_KEY: 'k' },
    );
    expect(r.stderr).toBe('');
    const s = steps(r);
    expect(s.ssh_key).not.toBe('0');
    expect(s.ssh_list).not.toBe('0');
    expect(s.aws).not.toBe('0');
    expect(s.netrc).not.toBe('0');
    // The home is a private tmpfs: writes succeed there and never reach the host.
    expect(s.bashrc).toBe('0');
    expect(s.zshrc).toBe('0');
    expect(s.token).toBe('unset api=unset author=A');
    expect(r.stdout).not.toContain('PRIVATE');
    expect(r.code).toBe(0);
    expect(readFileSync(join(home, '.bashrc'), 'utf8')).toBe('# rc\n');
    expect(existsSync(join(home, '.zshrc'))).toBe(false);
  });

  test('--allow-env lets a named credential through', async () => {
    const r = await inProject(['run', '--preset', 'agent', '--allow-env', 'GITHUB_TOKEN'], 'echo "$GITHUB_TOKEN"', { GITHUB_TOKEN: TOKEN });
    expect(r.stdout).toBe(`${TOKEN}\n`);
  });

  test('the current directory is writable and git works, but .git/hooks cannot be created or written even though it did not exist', async () => {
    const r = await inProject(
      ['run', '--preset', 'agent'],
      [
        'echo new > made-inside; echo write=$?',
        'git add README && git commit -qm first; echo commit=$?',
        'mkdir -p .git/hooks 2>/dev/null; echo hooks_mkdir=$?',
        'printf "#!/bin/sh\\necho pwned\\n" > .git/hooks/pre-commit 2>/dev/null; echo hook=$?',
        'echo "[core] fsmonitor = evil" >> .git/config 2>/dev/null; echo config=$?',
        'mkdir -p .vscode 2>/dev/null; echo "{}" > .vscode/tasks.json 2>/dev/null; echo vscode=$?',
        'echo "{}" > .claude/settings.json 2>/dev/null; echo claude=$?',
      ].join('\n'),
    );
    const s = steps(r);
    expect(s.write).toBe('0');
    expect(s.commit).toBe('0');
    // .mcp.json and sandboxctl.json that do not exist get no stand-in: the post-run audit handles a file the run creates.
    for (const name of ['hook', 'config', 'vscode', 'claude']) expect([name, s[name]]).not.toEqual([name, '0']);
    expect(r.code).toBe(0);
    // From the host: the write landed, the hook did not, the config is intact.
    expect(readFileSync(join(project, 'made-inside'), 'utf8')).toBe('new\n');
    expect(existsSync(join(project, '.git', 'hooks', 'pre-commit'))).toBe(false);
    expect(readFileSync(join(project, '.git', 'config'), 'utf8')).not.toContain('evil');
    // The stand-ins are gone: nothing of the run is left in the project.
    expect(existsSync(join(project, '.git', 'hooks'))).toBe(false);
    expect(existsSync(join(project, '.vscode'))).toBe(false);
    expect(existsSync(join(project, '.claude'))).toBe(false);
    // git on the host works as before.
    expect(execFileSync('git', ['-C', project, 'log', '--format=%s'], { encoding: 'utf8' })).toBe('first\n');
  });

  test('an existing .git/hooks stays read-only, and a second run over the placeholders works the same', async () => {
    mkdirSync(join(project, '.git', 'hooks'));
    writeFileSync(join(project, '.git', 'hooks', 'post-checkout'), '#!/bin/sh\n', { mode: 0o755 });
    for (let round = 0; round < 2; round += 1) {
      const r = await inProject(['run', '--preset', 'agent'], 'echo evil > .git/hooks/post-checkout 2>/dev/null; echo hook=$?; echo x > .vscode/x 2>/dev/null; echo vscode=$?');
      expect(steps(r)).toEqual({ hook: expect.not.stringMatching(/^0$/), vscode: expect.not.stringMatching(/^0$/) });
    }
    expect(readFileSync(join(project, '.git', 'hooks', 'post-checkout'), 'utf8')).toBe('#!/bin/sh\n');
  });

  test('no network but loopback; --share-net gives the host network back', async () => {
    const none = await inProject(['run', '--preset', 'agent'], 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "');
    expect(none.stdout).toBe('lo\n');
    const shared = await inProject(['run', '--preset', 'agent', '--share-net'], 'tail -n +3 /proc/net/dev | wc -l');
    expect(Number(shared.stdout.trim())).toBe(readFileSync('/proc/net/dev', 'utf8').trim().split('\n').length - 2);
  });

  test('flags compose: a bind after the preset makes ./out writable at its own path', async () => {
    const out = join(project, 'out');
    mkdirSync(out);
    const r = await inProject(['run', '--preset', 'agent', '--bind', './out', './out'], 'echo built > out/artifact; echo out=$?');
    expect(steps(r).out).toBe('0');
    expect(readFileSync(join(out, 'artifact'), 'utf8')).toBe('built\n');
  });

  test('a host socket gone between the scan and the set-up leaves nothing to mask: the run goes on and nothing is made on the host', async () => {
    // The race a stopping server makes: the preset finds the socket, pid 1
    // builds the root after it is gone. One socket in the project (bound
    // writable) and one beside it under the read-only host (/var/tmp holds
    // the current directory, so it is scanned, not private).
    mkdirSync(join(project, 'tmp'));
    mkdirSync(join(base, 'srv'));
    const sockets = [join(project, 'tmp', 'dev.sock'), join(base, 'srv', 'app.sock')];
    for (const path of sockets) execFileSync('python3', ['-c', `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(path)})`]);
    const plan = buildPlan({ preset: { name: 'agent', cwd: project }, argv: ['/bin/sh', '-c', 'echo ran; ls -a tmp'] });
    const masked = (plan.ops ?? []).flatMap((op) => (op.kind === 'bind' && op.source === '/dev/null' ? [op.target] : []));
    expect(masked).toEqual(expect.arrayContaining(sockets));
    for (const path of sockets) rmSync(path);
    const r = await runToCompletion(SandboxProcess.start(plan, { stdio: 'pipe' }), '');
    expect([r.code, r.stderr, r.stdout]).toEqual([0, '', 'ran\n.\n..\n']);
    for (const path of sockets) expect(existsSync(path)).toBe(false);
  });

  test('refuses a current directory that holds the home directory', async () => {
    const r = await cli(['run', '--preset', 'agent', '--', '/bin/true'], { cwd: base, env: { ...process.env, HOME: home } });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^sandboxctl: E_PLAN_INVALID: preset agent makes the current directory writable/);
  });
});

describe('ro-host', () => {
  test('the host is read-only, the current directory writable, /tmp private', async () => {
    writeFileSync(join(base, 'outside'), 'keep\n');
    const r = await inProject(
      ['run', '--preset', 'ro-host'],
      [`echo x > ${join(base, 'outside')} 2>/dev/null; echo outside=$?`, 'echo x > inside; echo inside=$?', 'ls -A /tmp | wc -l | tr -d " " | sed "s/^/tmp=/"', 'cat ~/.netrc >/dev/null; echo netrc=$?'].join('\n'),
    );
    expect(steps(r)).toEqual({ outside: expect.not.stringMatching(/^0$/), inside: '0', tmp: '0', netrc: '0' });
    expect(readFileSync(join(base, 'outside'), 'utf8')).toBe('keep\n');
  });
});

describe('strict', () => {
  test('nothing of the host but what is listed, an empty environment, its own hostname', async () => {
    const r = await inProject(
      ['run', '--preset', 'strict', '--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64'],
      'ls /; echo ---; env | sort | cut -d= -f1; hostname',
      { SOME_VAR: 'x' },
    );
    expect(r.stderr).toBe('');
    const [root, rest] = r.stdout.split('---\n');
    expect(root!.trim().split('\n').sort()).toEqual(['bin', 'dev', 'lib', 'lib64', 'proc', 'tmp', 'usr']);
    const names = rest!.trim().split('\n');
    expect(names).not.toContain('SOME_VAR');
    expect(names).toEqual(expect.arrayContaining(['HOME', 'PATH']));
    expect(names[names.length - 1]).toBe('sandbox');
  });
});

describe('build', () => {
  test('declared inputs read-only, the output writable, nothing else of the host, clean environment', async () => {
    mkdirSync(join(project, 'src'));
    writeFileSync(join(project, 'src', 'main.c'), 'int main(void) { return 0; }\n');
    mkdirSync(join(project, 'dist'));
    const r = await inProject(
      ['run', '--preset', 'build', '--input', 'src', '--output', 'dist'],
      [
        'cat src/main.c >/dev/null; echo input=$?',
        'echo x > src/new 2>/dev/null; echo input_write=$?',
        'cp src/main.c dist/; echo output=$?',
        `test -e ${join(home, '.ssh')}; echo home=$?`,
        'test -e README; echo readme=$?',
        'echo host=$(hostname) path=$PATH token=${GITHUB_TOKEN:-unset}',
        'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sed "s/^/net=/"',
      ].join('\n'),
      { GITHUB_TOKEN: TOKEN },
    );
    const s = steps(r);
    expect(s).toMatchObject({ input: '0', output: '0', home: '1', readme: '1', net: 'lo' });
    expect(s.input_write).not.toBe('0');
    expect(s.host).toBe('build path=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin token=unset');
    expect(readFileSync(join(project, 'dist', 'main.c'), 'utf8')).toContain('main');
  });
});

describe('config file', () => {
  test('sandboxctl.json found from a subdirectory supplies the preset and ops; flags override its policy', async () => {
    mkdirSync(join(project, 'sub'));
    const data = join(home, 'data');
    mkdirSync(data);
    // Relative paths resolve against the file's directory, not the caller's.
    writeFileSync(
      join(project, 'sandboxctl.json'),
      JSON.stringify({ preset: 'ro-host', ops: [{ kind: 'bind', source: '../data', target: '../data', writable: true }], hostname: 'from-config' }),
      { mode: 0o644 },
    );
    const script = `echo x > ${data}/f; echo data=$?; echo y 2>/dev/null > ${project}/g; echo project=$?; hostname`;
    // A found file applies once trusted; the trust store lives in this test's own state dir.
    const env = { ...process.env, HOME: home, XDG_STATE_HOME: join(base, 'state') };
    const trusted = await cli(['trust', join(project, 'sandboxctl.json')], { env });
    expect(trusted.code).toBe(0);
    const r = await cli(['run', '--hostname', 'from-flag', '--', '/bin/sh', '-c', script], { cwd: join(project, 'sub'), env });
    expect(r.stderr).toBe('');
    // ro-host made the caller's directory (sub) writable, not the project above it.
    expect(r.stdout).toBe('data=0\nproject=2\nfrom-flag\n');
    expect(readFileSync(join(data, 'f'), 'utf8')).toBe('x\n');
  });
});
