/**
 * Git works inside `--preset agent` in every layout (issue 9 item 3): a new
 * directory (`git init`), a repository, a subdirectory of one, a linked
 * worktree and a repository with a submodule; add -A, commit, branch,
 * stash, checkout and log. Stand-ins never show up to git, and what the run
 * committed is there for host git afterwards.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, requireKernel, tempDir } from './helpers';

beforeAll(requireKernel);
jest.setTimeout(120_000);

let root: string;
let project: string;
let env: NodeJS.ProcessEnv;
const identity = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t.invalid' };

beforeEach(() => {
  root = tempDir('sbx-gitagent-');
  project = `${root}/home/project`;
  mkdirSync(project, { recursive: true });
  env = { ...process.env, ...identity, HOME: `${root}/home`, XDG_RUNTIME_DIR: '', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', ['-c', 'init.defaultBranch=main', '-c', 'protocol.file.allow=always', ...args], { cwd, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`host git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

function repo(dir: string): void {
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q');
  writeFileSync(`${dir}/a.txt`, 'a\n');
  mkdirSync(`${dir}/sub`);
  writeFileSync(`${dir}/sub/s.txt`, 's\n');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'init');
}

/** The everyday sequence, run inside the sandbox; prints what it saw. */
const WORK = [
  'set -e',
  'echo new > new.txt',
  'git add -A',
  'git commit -qm inside',
  'git branch feature',
  'echo change >> new.txt',
  'git stash -q',
  'git checkout -q feature',
  'git checkout -q -',
  'git stash pop -q',
  'git add -A && git commit -qm second',
  'git status --porcelain',
  'git log --format=%s -3',
].join('\n');

async function agent(cwd: string, script: string): Promise<string> {
  const r = await cli(['run', '--preset', 'agent', '--', '/bin/sh', '-c', script], { cwd, env });
  if (r.code !== 0) throw new Error(`sandboxctl run --preset agent -- sh -c '${script}' in ${cwd} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

test('git init in a new directory, then add -A and commit (no .git stand-in, no file stand-ins in the way)', async () => {
  const out = await agent(project, `git -c init.defaultBranch=main init -q && echo a > a && git add -A && git commit -qm first && git status --porcelain && git log --format=%s`);
  expect(out).toBe('first\n');
  expect(git(project, 'log', '--format=%s')).toBe('first\n');
});

test('a repository: add -A, commit, branch, stash, checkout, log; the stand-ins never show as untracked', async () => {
  repo(project);
  const out = await agent(project, WORK);
  expect(out).toBe('second\ninside\ninit\n');
  expect(git(project, 'branch', '--format=%(refname:short)')).toBe('feature\nmain\n');
  expect(git(project, 'status', '--porcelain')).toBe('');
});

test('a subdirectory of a repository: the enclosing repository is found and writable', async () => {
  repo(project);
  const out = await agent(`${project}/sub`, WORK);
  expect(out).toBe('second\ninside\ninit\n');
  expect(git(project, 'log', '--format=%s', '-1')).toBe('second\n');
  expect(git(project, 'ls-files')).toContain('sub/new.txt\n');
});

test('a linked worktree: its git directory and the common directory are writable', async () => {
  repo(project);
  const wt = `${root}/home/wt`;
  git(project, 'worktree', 'add', '-q', '-b', 'wt', wt);
  const out = await agent(wt, WORK.replace('git branch feature', 'git branch feature2').replace('checkout -q feature', 'checkout -q feature2'));
  expect(out).toBe('second\ninside\ninit\n');
  expect(git(project, 'log', '--format=%s', '-1', 'wt')).toBe('second\n');
});

test('a repository with a submodule: commits in the submodule and the superproject', async () => {
  const lib = `${root}/home/lib`;
  repo(lib);
  repo(project);
  git(project, 'submodule', 'add', '-q', lib, 'lib');
  git(project, 'commit', '-qm', 'add lib');
  const out = await agent(
    project,
    'set -e; cd lib; echo l > l.txt; git add -A; git commit -qm in-lib; cd ..; git add -A; git commit -qm bump; git submodule status >/dev/null; git status --porcelain; git log --format=%s -2',
  );
  expect(out).toBe('bump\nadd lib\n');
  expect(git(`${project}/lib`, 'log', '--format=%s', '-1')).toBe('in-lib\n');
  // and from inside the submodule checkout
  const inside = await agent(`${project}/lib`, 'set -e; echo m > m.txt; git add -A; git commit -qm in-lib-2; git log --format=%s -1');
  expect(inside).toBe('in-lib-2\n');
});

describe('refusals say what is protected and how to allow it', () => {
  test('a failed run names the protected paths and --allow-write; --allow-write un-protects one', async () => {
    repo(project);
    const refused = await cli(['run', '--preset', 'agent', '--', '/bin/sh', '-c', 'git config user.name x'], { cwd: project, env });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/^sandboxctl: note: preset agent keeps these read-only: .*\.git\/config.*allow it with --allow-write PATH/m);
    const allowed = await cli(['run', '--preset', 'agent', '--allow-write', '.git/config', '--', '/bin/sh', '-c', 'git config user.name x && git config user.name'], { cwd: project, env });
    expect(allowed).toMatchObject({ code: 0, stdout: 'x\n', stderr: '' });
    const hooks = await cli(['run', '--preset', 'agent', '--allow-write', '.git/hooks', '--', '/bin/sh', '-c', 'mkdir -p .git/hooks && echo true > .git/hooks/h && echo ok'], { cwd: project, env });
    expect(hooks).toMatchObject({ code: 0, stdout: 'ok\n' });
  });

  test('a successful run prints no note; --allow-write without a preset is a writable bind', async () => {
    const ok = await cli(['run', '--preset', 'agent', '--', '/bin/true'], { cwd: project, env });
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    // Without a preset, --allow-write is the filesystem rule alone: a writable bind over the read-only host (docs/limits.md).
    mkdirSync(join(project, 'allowed'), { recursive: true });
    const noPreset = await cli(['run', '--ro-bind', '/', '/', '--allow-write', 'allowed', '--', '/bin/sh', '-c', 'touch allowed/x && echo ok'], { cwd: project, env });
    expect(noPreset).toMatchObject({ code: 0, stdout: 'ok\n', stderr: '' });
    rmSync(join(project, 'allowed'), { recursive: true });
    const explain = await cli(['explain', '--preset', 'agent', '--', 'true'], { cwd: project, env });
    expect(explain.stdout).toContain('(to let the program write one of these: --allow-write PATH)');
  });
});
