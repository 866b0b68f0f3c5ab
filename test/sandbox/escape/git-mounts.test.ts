/**
 * Escape suite, git and protected paths under `--preset agent` (issue 8
 * routes 1, 4 and 5): the program inside tries to make host git (and
 * editors) run its code after the sandbox has ended. Every case plants code
 * that would create a marker file, then runs host `git status` and `git
 * commit` after the run and checks the marker does not exist and the
 * protected files are as they were.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { cli, requireKernel, tempDir, until } from '../helpers';
import { spawn } from 'node:child_process';
import { CLI } from '../helpers';

beforeAll(requireKernel);
jest.setTimeout(120_000);

let root: string;
let home: string;
let project: string;
let marker: string;
let env: NodeJS.ProcessEnv;
const identity = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t.invalid' };

beforeEach(() => {
  root = tempDir('sbx-gitesc-');
  home = `${root}/home`;
  project = `${home}/project`;
  marker = `${root}/PLANTED-CODE-RAN`;
  mkdirSync(project, { recursive: true });
  env = { ...process.env, ...identity, HOME: home, XDG_RUNTIME_DIR: '', GIT_CONFIG_NOSYSTEM: '1' };
  git(project, 'init', '-q', '-b', 'main');
  writeFileSync(`${project}/a.txt`, 'a\n');
  git(project, 'add', '-A');
  git(project, 'commit', '-qm', 'init');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function git(cwd: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('git', args, { cwd, env, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `sandboxctl run --preset agent -- sh -c SCRIPT` in `cwd`. */
const agent = (script: string, cwd = project) => cli(['run', '--preset', 'agent', '--', '/bin/sh', '-c', script], { cwd, env });

/** Code that leaves the marker when something runs it. */
const payload = () => `#!/bin/sh\ntouch ${marker}\n`;

/** After the sandbox: host git runs hooks, fsmonitor and the like; nothing planted may have run. */
function hostGitRunsNothingPlanted(cwd = project): void {
  git(cwd, 'status');
  git(cwd, 'commit', '--allow-empty', '-qm', 'after the sandbox');
  git(cwd, 'log', '-1');
  expect(existsSync(marker)).toBe(false);
}

/** A script line per attempt: `name=STATUS`. */
const attempt = (name: string, cmd: string) => `( ${cmd} ) >/dev/null 2>&1; echo "${name}=$?"; `;
const statuses = (out: string) => Object.fromEntries(out.trim().split('\n').filter((l) => /^[\w-]+=\d+$/.test(l)).map((l) => l.split('=') as [string, string]).map(([k, v]) => [k, Number(v)]));

test('.git cannot be renamed away and replaced by a planted one', async () => {
  const r = await agent(
    attempt('mv', 'mv .git .git.old') +
      attempt('plant', `mkdir -p .git.new/hooks && printf '${payload().replace(/\n/g, '\\n')}' > .git.new/hooks/pre-commit && chmod +x .git.new/hooks/pre-commit && mv .git .git.x && mv .git.new .git`),
  );
  const s = statuses(r.stdout);
  expect(s.mv).not.toBe(0);
  expect(s.plant).not.toBe(0);
  expect(lstatSync(`${project}/.git`).isDirectory()).toBe(true);
  expect(existsSync(`${project}/.git.old`)).toBe(false);
  hostGitRunsNothingPlanted();
});

test('rm -rf .git fails: .git, its config and hooks stay', async () => {
  const config = readFileSync(`${project}/.git/config`, 'utf8');
  const r = await agent(attempt('rm', 'rm -rf .git'));
  expect(statuses(r.stdout).rm).not.toBe(0);
  expect(lstatSync(`${project}/.git`).isDirectory()).toBe(true);
  expect(readFileSync(`${project}/.git/config`, 'utf8')).toBe(config);
  expect(existsSync(`${project}/.git/hooks`)).toBe(true);
  git(project, 'status');
  expect(existsSync(marker)).toBe(false);
});

test('.git/config, hooks and info cannot be written', async () => {
  const config = readFileSync(`${project}/.git/config`, 'utf8');
  const r = await agent(
    attempt('config', `printf '[core]\\n\\tfsmonitor = touch ${marker}\\n' >> .git/config`) +
      attempt('gitconfig', `git config core.fsmonitor 'touch ${marker}'`) +
      attempt('hook', `printf '${payload().replace(/\n/g, '\\n')}' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit`) +
      attempt('hookdir', 'mv .git/hooks .git/hooks.old') +
      attempt('info', "printf '* diff=evil\\n' > .git/info/attributes") +
      attempt('infodir', 'mv .git/info .git/info.old'),
  );
  expect(statuses(r.stdout)).toEqual({ config: 2, gitconfig: expect.any(Number), hook: 2, hookdir: 1, info: 2, infodir: 1 });
  expect(statuses(r.stdout).gitconfig).not.toBe(0);
  expect(readFileSync(`${project}/.git/config`, 'utf8')).toBe(config);
  expect(existsSync(`${project}/.git/hooks/pre-commit`)).toBe(false);
  expect(existsSync(`${project}/.git/info/attributes`)).toBe(false);
  hostGitRunsNothingPlanted();
});

test("a linked worktree's .git file cannot be replaced, and its git directory's redirects stay", async () => {
  const wt = `${root}/home/wt`;
  git(project, 'worktree', 'add', '-q', wt);
  const evil = `${wt}/evil`;
  const r = await agent(
    attempt('rm', 'rm -f .git') +
      attempt('replace', `mkdir -p evil/hooks && printf 'gitdir: ${evil}\\n' > .git`) +
      attempt('commondir', `printf '${evil}\\n' > ${project}/.git/worktrees/wt/commondir`) +
      attempt('commit', 'echo w > w && git add -A && git commit -qm w'),
    wt,
  );
  const s = statuses(r.stdout);
  expect(s).toMatchObject({ rm: 1, replace: 2, commondir: 2, commit: 0 });
  expect(readFileSync(`${wt}/.git`, 'utf8')).toMatch(/^gitdir: .*\.git\/worktrees\/wt\n$/);
  hostGitRunsNothingPlanted(wt);
  expect(git(wt, 'log', '--format=%s').stdout).toContain('w\n');
});

test('core.hooksPath (husky): the hooks directory and the scripts its stubs run stay read-only', async () => {
  mkdirSync(`${project}/.husky/_`, { recursive: true });
  writeFileSync(`${project}/.husky/_/pre-commit`, '#!/bin/sh\n. "$(dirname "$0")/../pre-commit"\n');
  writeFileSync(`${project}/.husky/pre-commit`, 'true\n');
  chmodSync(`${project}/.husky/_/pre-commit`, 0o755);
  git(project, 'config', 'core.hooksPath', '.husky/_');
  git(project, 'add', '-A');
  git(project, 'commit', '-qm', 'husky');
  const r = await agent(
    attempt('script', `echo 'touch ${marker}' > .husky/pre-commit`) +
      attempt('stub', `printf '${payload().replace(/\n/g, '\\n')}' > .husky/_/pre-commit`) +
      attempt('newhook', `printf '${payload().replace(/\n/g, '\\n')}' > .husky/_/post-commit && chmod +x .husky/_/post-commit`) +
      attempt('swap', 'mv .husky .husky.old'),
  );
  expect(statuses(r.stdout)).toEqual({ script: 2, stub: 2, newhook: 2, swap: 1 });
  expect(readFileSync(`${project}/.husky/pre-commit`, 'utf8')).toBe('true\n');
  hostGitRunsNothingPlanted();
});

test('a protected symlink (.vscode -> tools/vscode) cannot be removed or replaced, and its target is read-only', async () => {
  mkdirSync(`${project}/tools/vscode`, { recursive: true });
  writeFileSync(`${project}/tools/vscode/settings.json`, '{}\n');
  symlinkSync('tools/vscode', `${project}/.vscode`);
  const r = await agent(
    attempt('rm', 'rm .vscode') +
      attempt('mv', 'mv .vscode v') +
      attempt('replace', 'rm -f .vscode; mkdir .vscode && echo "{\\"evil\\":1}" > .vscode/settings.json') +
      attempt('target', 'echo "{\\"evil\\":1}" > tools/vscode/settings.json') +
      attempt('through', 'echo "{\\"evil\\":1}" > .vscode/tasks.json') +
      attempt('targetdir', 'mv tools/vscode tools/v2'),
  );
  expect(statuses(r.stdout)).toEqual({ rm: 1, mv: 1, replace: 1, target: 2, through: 2, targetdir: 1 });
  expect(readlinkSync(`${project}/.vscode`)).toBe('tools/vscode');
  expect(readdirSync(`${project}/tools/vscode`)).toEqual(['settings.json']);
  expect(readFileSync(`${project}/tools/vscode/settings.json`, 'utf8')).toBe('{}\n');
});

test('protected names in subdirectories stay read-only: sub/.vscode, sub/.claude, sub/.mcp.json, pkg/sandboxctl.json', async () => {
  mkdirSync(`${project}/sub/.vscode`, { recursive: true });
  mkdirSync(`${project}/sub/.claude`, { recursive: true });
  mkdirSync(`${project}/pkg`, { recursive: true });
  writeFileSync(`${project}/sub/.vscode/settings.json`, '{}\n');
  writeFileSync(`${project}/sub/.mcp.json`, '{}\n');
  writeFileSync(`${project}/pkg/sandboxctl.json`, '{}\n');
  const r = await agent(
    attempt('vscode', 'echo "{\\"evil\\":1}" > sub/.vscode/settings.json') +
      attempt('claude', 'echo "{}" > sub/.claude/settings.json') +
      attempt('mcp', 'echo "{\\"evil\\":1}" > sub/.mcp.json') +
      attempt('config', 'echo "{\\"seccomp\\":\\"none\\"}" > pkg/sandboxctl.json') +
      attempt('rmdir', 'rm -rf sub/.vscode'),
  );
  expect(statuses(r.stdout)).toEqual({ vscode: 2, claude: 2, mcp: 2, config: 2, rmdir: 1 });
  expect(readFileSync(`${project}/sub/.vscode/settings.json`, 'utf8')).toBe('{}\n');
  expect(readFileSync(`${project}/sub/.mcp.json`, 'utf8')).toBe('{}\n');
  expect(readFileSync(`${project}/pkg/sandboxctl.json`, 'utf8')).toBe('{}\n');
  expect(readdirSync(`${project}/sub/.claude`)).toEqual([]);
});

test("a nested repository's .git cannot be swapped and its hooks cannot be written", async () => {
  const nested = `${project}/vendor/lib`;
  mkdirSync(nested, { recursive: true });
  git(nested, 'init', '-q');
  const r = await agent(
    attempt('mv', 'mv vendor/lib/.git vendor/lib/.git.old') +
      attempt('hook', `printf '${payload().replace(/\n/g, '\\n')}' > vendor/lib/.git/hooks/pre-commit`) +
      attempt('config', `git -C vendor/lib config core.fsmonitor 'touch ${marker}'`),
  );
  const s = statuses(r.stdout);
  expect(s.mv).toBe(1);
  expect(s.hook).toBe(2);
  expect(s.config).not.toBe(0);
  git(nested, 'status');
  hostGitRunsNothingPlanted();
});

test('a symlink planted by one sandbox while another runs never makes the launcher delete outside the project', async () => {
  // B runs in project/sub with a .vscode stand-in; A (in project) swaps sub for a symlink to a victim directory
  const victim = mkdtempSync('/var/tmp/sbx-victim-');
  try {
    mkdirSync(`${victim}/.vscode`);
    mkdirSync(`${project}/sub`);
    const b = spawn(process.execPath, [CLI, 'run', '--preset', 'agent', '--', '/bin/sh', '-c', 'echo ready; while [ ! -e ../go ]; do sleep 0.05; done'], { cwd: `${project}/sub`, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    b.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    const done = new Promise<number | null>((r) => b.on('close', r));
    expect(await until(() => out.includes('ready'), 15000)).toBe(true);
    expect(existsSync(`${project}/sub/.vscode`)).toBe(true);
    const a = await agent(`mv sub sub.old && ln -s ${victim} sub && touch go && echo swapped`);
    expect(a.stdout).toContain('swapped');
    expect(await done).toBe(0);
    expect(readdirSync(victim)).toEqual(['.vscode']); // the victim's directory is still there
    expect(readdirSync(`${project}/sub.old`)).toEqual([]); // B's stand-in, removed where it really was
  } finally {
    rmSync(victim, { recursive: true, force: true });
  }
});
