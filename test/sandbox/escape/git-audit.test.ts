/**
 * Escape suite, git and agent-tool routes of issue 8: a hostile program in
 * `--preset agent` plants what host git (or an editor, an agent, direnv,
 * the next sandboxctl run) would execute after the sandbox ends. Each case
 * runs the plant, then host `git status` and `git commit` in the project,
 * and asserts the planted command did not run: it would have created a
 * marker file on the host. The post-run audit (default `--on-taint=revert`)
 * is what holds where mounts cannot.
 *
 * At the end the suite prints a table: case, expected, observed.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '@sandboxctl/core';
import { UID, cli, requireKernel, type Ran } from '../helpers';

beforeAll(requireKernel);

const rows: { name: string; expected: string; observed: string }[] = [];
function verdict(name: string, expected: string, observed: string): void {
  rows.push({ name, expected, observed });
  expect(observed).toBe(expected);
}
afterAll(() => {
  if (rows.length === 0) return;
  const w = [Math.max(4, ...rows.map((r) => r.name.length)), 8, Math.max(8, ...rows.map((r) => r.observed.length))];
  const line = (a: string, b: string, c: string) => `| ${a.padEnd(w[0]!)} | ${b.padEnd(w[1]!)} | ${c.padEnd(w[2]!)} |`;
  const held = rows.filter((r) => r.observed === r.expected).length;
  process.stdout.write(
    ['', `Git/audit escape suite, uid ${UID}: ${held}/${rows.length} held`, line('case', 'expected', 'observed'), `|${'-'.repeat(w[0]! + 2)}|${'-'.repeat(w[1]! + 2)}|${'-'.repeat(w[2]! + 2)}|`, ...rows.map((r) => line(r.name, r.expected, r.observed)), ''].join('\n') + '\n',
  );
});

/** Where planted commands would leave their mark on the host (never inside: /tmp is private there). */
const marks = mkdtempSync('/tmp/sbx-audit-marks-');
const projects: string[] = [];
const quarantines: string[] = [];
afterAll(() => {
  for (const p of [marks, ...projects, ...quarantines]) rmSync(p, { recursive: true, force: true });
});

/** An isolated host git: no user or system config of the machine. */
const gitHome = mkdtempSync('/tmp/sbx-audit-home-');
projects.push(gitHome);
const GIT_ENV = { ...process.env, HOME: gitHome, XDG_CONFIG_HOME: join(gitHome, '.config'), GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };

function git(cwd: string, ...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('git', ['-c', 'user.name=host', '-c', 'user.email=host@example.invalid', ...args], { cwd, env: GIT_ENV, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A project; `repo`: `git init` and one commit, made on the host. */
function project(repo: boolean, setup?: (dir: string) => void): string {
  const dir = mkdtempSync('/tmp/sbx-audit-proj-');
  projects.push(dir);
  writeFileSync(join(dir, 'README'), 'hello\n');
  if (repo) {
    git(dir, 'init', '-q', '-b', 'main');
    setup?.(dir);
    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '-m', 'init');
  } else {
    setup?.(dir);
  }
  return dir;
}

/** The shell command a planted hook or config runs: it leaves a mark named `name`. */
function mark(name: string): string {
  return `touch ${marks}/${name}`;
}
const ran = (name: string) => existsSync(join(marks, name));

async function agent(dir: string, script: string, extra: string[] = []): Promise<Ran> {
  const r = await cli(['run', '--preset', 'agent', '--no-config', ...extra, '--', '/bin/sh', '-ec', script], { cwd: dir });
  // Only a run directory of the quarantine is removed afterwards, never more.
  const q = /^sandboxctl: quarantine: (\/\S+\/\.local\/state\/sandboxctl\/quarantine\/\d+-\d+) /m.exec(r.stderr)?.[1];
  if (q !== undefined) quarantines.push(q);
  return r;
}

/** Host git after the run, where a developer would run it. */
function hostGit(...dirs: string[]): void {
  for (const d of dirs) {
    git(d, 'status');
    git(d, 'commit', '-q', '--allow-empty', '-m', 'after the run');
  }
}

// An fsmonitor command ends in ` #`: the comment eats the arguments git adds.

/** `cat > FILE` of TEXT inside the sandbox script. */
const put = (file: string, text: string) => `mkdir -p "$(dirname '${file}')"\ncat > '${file}' <<'SBX_EOF'\n${text}SBX_EOF\n`;

/** One route: how the project looks on the host, what the program plants, where host git then runs. */
interface Route {
  name: string;
  repo: boolean;
  setup?: (dir: string) => void;
  /** The plant; `m(x)` is the command leaving mark x. */
  script: (dir: string, m: (x: string) => string) => string;
  /** Where host git runs after the run (default: the project). */
  hostDirs?: (dir: string) => string[];
  /** More host commands a developer runs there. */
  after?: (dir: string) => void;
  marks: string[];
  /** False where nothing could run even without the audit (the control says so). */
  live: boolean;
  /**
   * The mounts refuse the plant during the run (read-only .git/info, hooksPath
   * directory): the program's writes fail, so its status is not asserted, and
   * the control shows the route dead even when the audit only warns.
   */
  mounts?: boolean;
  /** What the revert run must also show. */
  check?: (dir: string, r: Ran) => void;
}

const worktreeConfig = (d: string) => void git(d, 'config', 'extensions.worktreeConfig', 'true');

const ROUTES: Route[] = [
  {
    name: '.git/commondir -> planted config + hooks',
    repo: true,
    script: (_, m) =>
      `mkdir -p evil/hooks; cp -r .git/objects .git/refs evil/; cp .git/HEAD evil/\n` +
      put('evil/config', `[core]\n\tfsmonitor = "${m('fsmonitor')} #"\n`) +
      put('evil/hooks/pre-commit', `#!/bin/sh\n${m('hook')}\n`) +
      `chmod +x evil/hooks/pre-commit; echo ../evil > .git/commondir`,
    marks: ['fsmonitor', 'hook'],
    live: true,
    check: (dir, r) => {
      expect(existsSync(join(dir, '.git/commondir'))).toBe(false);
      expect(r.stderr).toContain('git-redirect');
    },
  },
  {
    name: '.git/config.worktree fsmonitor',
    repo: true,
    setup: worktreeConfig,
    script: (_, m) => put('.git/config.worktree', `[core]\n\tfsmonitor = "${m('fsmonitor')} #"\n`),
    marks: ['fsmonitor'],
    live: true,
    check: (_, r) => expect(r.stderr).toContain('core.fsmonitor'),
  },
  {
    name: '.git/worktrees/x/config.worktree',
    repo: true,
    setup: worktreeConfig,
    script: (_, m) =>
      `mkdir -p .git/worktrees/x wt; git rev-parse HEAD > .git/worktrees/x/HEAD; echo ../.. > .git/worktrees/x/commondir\n` +
      `echo "$PWD/wt/.git" > .git/worktrees/x/gitdir; echo "gitdir: $PWD/.git/worktrees/x" > wt/.git\n` +
      put('.git/worktrees/x/config.worktree', `[core]\n\tfsmonitor = "${m('fsmonitor')} #"\n`),
    hostDirs: (dir) => [dir, join(dir, 'wt')],
    marks: ['fsmonitor'],
    live: true,
    check: (dir) => expect(existsSync(join(dir, '.git/worktrees/x/config.worktree'))).toBe(false),
  },
  {
    name: '.git/modules/x config + hooks + gitlink',
    repo: true,
    script: (_, m) =>
      `git init -q --bare .git/modules/x; mkdir x; echo "gitdir: ../.git/modules/x" > x/.git\n` +
      `git config -f .git/modules/x/config core.bare false; git config -f .git/modules/x/config core.worktree ../../../x\n` +
      `git config -f .git/modules/x/config core.fsmonitor "${m('fsmonitor')} #"\n` +
      put('.git/modules/x/hooks/post-checkout', `#!/bin/sh\n${m('hook')}\n`) +
      `chmod +x .git/modules/x/hooks/post-checkout; (cd x && git -c user.name=a -c user.email=a@b commit -q --allow-empty -m x)\n` +
      `git update-index --add --cacheinfo 160000,$(git -C x rev-parse HEAD),x`,
    after: (dir) => void git(dir, 'submodule', 'update'),
    marks: ['fsmonitor', 'hook'],
    live: true,
    check: (_, r) => expect(r.stderr).toContain('.git/modules/x/config'),
  },
  {
    name: '.git/info/attributes + exclude',
    repo: true,
    script: () => put('.git/info/attributes', '* diff=evil filter=evil\n') + put('.git/info/exclude', '*\n'),
    mounts: true,
    after: (dir) => void git(dir, 'diff', 'HEAD~1'),
    marks: [],
    live: false,
  },
  {
    name: '.git as a gitfile / nested gitfile + symlink',
    repo: true,
    script: (_, m) =>
      `{ rm -rf .git || true; echo "gitdir: ../evil" > .git; } 2>/dev/null || true\n` +
      `git init -q --bare evil; git config -f evil/config core.fsmonitor "${m('fsmonitor')} #"; git config -f evil/config core.bare false\n` +
      `mkdir -p sub sub2; echo "gitdir: ../evil" > sub/.git; ln -s ../evil sub2/.git`,
    hostDirs: (dir) => [dir, join(dir, 'sub'), join(dir, 'sub2')],
    marks: ['fsmonitor'],
    live: true,
    check: (dir) => expect(statSync(join(dir, '.git')).isDirectory()).toBe(true),
  },
  {
    name: 'nested repository + gitlink in .git/index',
    repo: true,
    script: (_, m) =>
      `git init -q nested; git -C nested config core.fsmonitor "${m('fsmonitor')} #"\n` +
      `git -C nested -c user.name=a -c user.email=a@b commit -q --allow-empty -m x\n` +
      `git update-index --add --cacheinfo 160000,$(git -C nested rev-parse HEAD),nested`,
    marks: ['fsmonitor'],
    live: true,
    check: (_, r) => expect(r.stderr).toContain('gitlink'),
  },
  {
    name: 'project turned into a bare repository',
    repo: false,
    script: (dir, m) =>
      `mkdir -p objects refs/heads; echo "ref: refs/heads/main" > HEAD\n` +
      put('config', `[core]\n\tbare = false\n\tworktree = ${dir}\n\tfsmonitor = "${m('fsmonitor')} #"\n[alias]\n\tst = "!${m('alias')}"\n`),
    // git 2.39 refuses `status` there ("must be run in a work tree") but
    // runs the repository's aliases.
    after: (dir) => void git(dir, 'st'),
    marks: ['fsmonitor', 'alias'],
    live: true,
    check: (dir) => expect(existsSync(join(dir, 'config'))).toBe(false),
  },
  {
    name: 'git init + hostile config/alias/hook',
    repo: true,
    script: (_, m) =>
      `git init -q evil; git -C evil config core.pager "${m('pager')} #"; git -C evil config alias.st "!${m('alias')}"\n` +
      put('evil/.git/hooks/pre-commit', `#!/bin/sh\n${m('hook')}\n`) +
      `chmod +x evil/.git/hooks/pre-commit\n` +
      `git init -q plain; echo x > plain/f; git -C plain add f; git -C plain -c user.name=a -c user.email=a@b commit -q -m x`,
    hostDirs: (dir) => [join(dir, 'evil')],
    after: (dir) => {
      git(join(dir, 'evil'), '-p', 'log');
      git(join(dir, 'evil'), 'st');
    },
    marks: ['pager', 'alias', 'hook'],
    live: true,
    check: (dir, r) => {
      // The plain repository is whole: its commit is there, nothing moved.
      expect(git(join(dir, 'plain'), 'log', '--oneline').out).toMatch(/^[0-9a-f]+ x$/m);
      expect(r.stderr).not.toContain('/plain/');
    },
  },
  {
    name: 'new repository whose hooks/ is a symlink to planted hooks',
    repo: true,
    script: (_, m) =>
      `git init -q sub\n` +
      put('evilhooks/pre-commit', `#!/bin/sh\n${m('hook')}\n`) +
      `chmod +x evilhooks/pre-commit; rm -rf sub/.git/hooks; ln -s ../../evilhooks sub/.git/hooks`,
    hostDirs: (dir) => [join(dir, 'sub')],
    marks: ['hook'],
    live: true,
    check: (dir) => expect(existsSync(join(dir, 'sub/.git/hooks'))).toBe(false),
  },
  {
    name: '.husky/pre-commit with core.hooksPath',
    repo: true,
    setup: (d) => {
      mkdirSync(join(d, '.husky'));
      writeFileSync(join(d, '.husky/pre-commit'), '#!/bin/sh\nexit 0\n');
      chmodSync(join(d, '.husky/pre-commit'), 0o755);
      git(d, 'config', 'core.hooksPath', '.husky');
    },
    script: (_, m) => put('.husky/pre-commit', `#!/bin/sh\n${m('hook')}\n`) + put('.husky/post-commit', `#!/bin/sh\n${m('new-hook')}\n`) + 'chmod +x .husky/pre-commit .husky/post-commit',
    marks: ['hook', 'new-hook'],
    live: false,
    mounts: true,
    check: (dir) => {
      expect(readFileSync(join(dir, '.husky/pre-commit'), 'utf8')).toBe('#!/bin/sh\nexit 0\n');
      expect(statSync(join(dir, '.husky/pre-commit')).mode & 0o777).toBe(0o755);
      expect(existsSync(join(dir, '.husky/post-commit'))).toBe(false);
    },
  },
];

async function runRoute(route: Route, tag: string, extra: string[]): Promise<{ dir: string; r: Ran; ran: string[] }> {
  const dir = project(route.repo, route.setup);
  const m = (x: string) => mark(`${tag}-${x}`);
  const r = await agent(dir, route.script(dir, m), extra);
  if (route.mounts) expect(r.stderr).toMatch(/Read-only file system/);
  else expect(r.code).toBe(0);
  hostGit(...(route.hostDirs?.(dir) ?? [dir]));
  route.after?.(dir);
  return { dir, r, ran: route.marks.filter((x) => ran(`${tag}-${x}`)) };
}

describe('git routes after `run --preset agent` (default --on-taint=revert)', () => {
  ROUTES.forEach((route, i) => {
    it(route.name, async () => {
      const { dir, r, ran: marked } = await runRoute(route, `revert${i}`, []);
      route.check?.(dir, r);
      verdict(route.name, 'held', marked.length === 0 ? 'held' : `RAN ${marked.join(' ')}`);
    });
  });

  it('agent and editor files: .vscode/tasks.json, .claude/settings.json, .mcp.json, sub/sandboxctl.json, .envrc', async () => {
    const dir = project(true);
    const files = ['.vscode/tasks.json', '.claude/settings.json', '.mcp.json', 'sub/sandboxctl.json', 'pkg/.envrc'];
    const r = await agent(dir, files.map((f) => `mkdir -p "$(dirname ${f})" 2>/dev/null || true; echo '{}' > ${f} 2>/dev/null || true`).join('\n'));
    expect(r.code).toBe(0);
    const left = files.filter((f) => existsSync(join(dir, f)));
    verdict('agent/editor files planted anywhere', 'held', left.length === 0 ? 'held' : `left: ${left.join(' ')}`);
    // (.vscode, .claude and .mcp.json may also be refused by the mounts during the run.)
    for (const f of files.slice(3)) expect(r.stderr).toContain(`${dir}/${f}`);
    expect(r.stderr).toMatch(/quarantine: \/\S+\/\.local\/state\/sandboxctl\/quarantine\/\d+-\d+/);
  });

  it('a clean run says nothing and moves nothing', async () => {
    const dir = project(true);
    const r = await agent(dir, `echo more >> README; git add README; git -c user.name=a -c user.email=a@b commit -q -m more; git config user.name x 2>/dev/null || true`);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(git(dir, 'log', '--oneline').out.split('\n').filter(Boolean)).toHaveLength(2);
  });
});

describe('control: the same routes are live when the audit only warns', () => {
  // Without this, a route that held only because it never worked would pass.
  ROUTES.forEach((route, i) => {
    it(route.name, async () => {
      const { ran: marked } = await runRoute(route, `warn${i}`, ['--on-taint=warn']);
      expect(marked.length > 0).toBe(route.live);
    });
  });
});

describe('--on-taint=fail and warn', () => {
  it('fail: files left, E_TAINTED, exit 125 after the program ran', async () => {
    const dir = project(true);
    const r = await agent(dir, 'mkdir sub; echo "{}" > sub/sandboxctl.json; echo ran', ['--on-taint=fail']);
    expect(r.stdout).toBe('ran\n');
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('E_TAINTED');
    expect(r.stderr).toContain(`${dir}/sub/sandboxctl.json (created)`);
    expect(existsSync(join(dir, 'sub/sandboxctl.json'))).toBe(true);
    verdict('--on-taint=fail leaves and fails', 'held', r.code === 125 ? 'held' : `exit ${r.code}`);
  });

  it('warn: files left, the program status kept, a report on stderr', async () => {
    const dir = project(true);
    const r = await agent(dir, 'echo x > .envrc; exit 3', ['--on-taint=warn']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`tool-file ${dir}/.envrc (created)`);
    expect(r.stderr).toContain('left in place');
    expect(existsSync(join(dir, '.envrc'))).toBe(true);
  });

  it('--on-taint without an audit is refused', async () => {
    const r = await cli(['run', '--no-config', '--ro-bind', '/', '/', '--on-taint=warn', '--', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('E_PLAN_INVALID');
  });
});

describe('the library result', () => {
  it('ExitResult.taint lists the findings; onTaint is an option; E_TAINTED carries them', async () => {
    const dir = project(true);
    const clean = await run({ argv: ['true'], preset: { name: 'agent', cwd: dir } });
    expect(clean.taint).toEqual([]);
    const r = await run({ argv: ['/bin/sh', '-c', 'echo "{}" > .envrc'], preset: { name: 'agent', cwd: dir }, onTaint: 'warn' });
    expect(r.code).toBe(0);
    expect(r.taint).toEqual([{ kind: 'tool-file', path: `${dir}/.envrc`, change: 'created', detail: 'editor, agent or shell settings', outcome: 'left' }]);
    // .envrc exists now, so the mounts keep it read-only; --allow-write lifts
    // the mount, and the audit still puts the old content back by default.
    const reverted = await run({ argv: ['/bin/sh', '-c', 'echo "{\\"x\\":1}" > .envrc'], preset: { name: 'agent', cwd: dir, allowWrite: ['.envrc'] } });
    expect(reverted.taint.map((f) => [f.kind, f.change, f.outcome])).toEqual([['tool-file', 'changed', 'restored']]);
    expect(reverted.quarantine).toMatch(/\/\.local\/state\/sandboxctl\/quarantine\/\d+-\d+$/);
    if (/\/\.local\/state\/sandboxctl\/quarantine\/\d+-\d+$/.test(reverted.quarantine!)) quarantines.push(reverted.quarantine!);
    expect(readFileSync(join(dir, '.envrc'), 'utf8')).toBe('{}\n');
    expect(statSync(reverted.quarantine!).mode & 0o777).toBe(0o700);
    await expect(run({ argv: ['/bin/sh', '-c', 'echo x > .envrc'], preset: { name: 'agent', cwd: dir, allowWrite: ['.envrc'] }, onTaint: 'fail' })).rejects.toMatchObject({
      code: 'E_TAINTED',
      taint: [{ kind: 'tool-file', path: `${dir}/.envrc`, outcome: 'left' }],
    });
  });
});
