/**
 * The new user's afternoon (issue 8's "Done when", issue 9's): a real git
 * project with husky (`core.hooksPath=.husky`), a nested repository, npm,
 * Python and cargo parts, and common secrets in the real home. Inside
 * `sandboxctl run --preset agent -- sh` the everyday work succeeds (git
 * commit with its hook, npm test, pytest, cargo build), the secrets cannot be
 * read, and the routes by which a hostile program would make the host's git
 * run its code later do not work: after the run, `git status` and
 * `git commit` on the host run none of what was planted.
 *
 * The secrets go in the caller's real home (the preset finds the home in the
 * password database, not in $HOME); only files that are missing are
 * created, and exactly those are removed afterwards.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { requireKernel } from '../helpers';
import { files, makeCrate, makeNpmPackage } from './fixtures';
import { GIT_IDENTITY, HOME, cleanup, host, inside, need, project, report, type Inside } from './realwork';

beforeAll(requireKernel);

const NESTED = ['nested', 'other'];
const SECRETS = ['.ssh/id_rsa', '.aws/credentials', '.git-credentials'];
const TOKEN = 'ghp_realworkrealworkrealworkrealwork0123';

const planted: string[] = [];
const plantedDirs: string[] = [];

beforeAll(() => {
  for (const rel of SECRETS) {
    const file = join(HOME, rel);
    if (existsSync(file)) continue;
    for (let d = dirname(file); d !== HOME && !existsSync(d); d = dirname(d)) plantedDirs.unshift(d);
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `REALWORK-SECRET ${rel}\n`, { mode: 0o600 });
    planted.push(file);
  }
});
afterAll(() => {
  for (const f of planted) rmSync(f, { force: true });
  for (const d of plantedDirs.reverse()) rmdirSync(d);
});

/**
 * Routes by which the program would make the host's git run its code later:
 * name, the marker file the planted code would create, the command (given
 * the command that creates the marker).
 */
const ROUTES: [string, string, (touch: string) => string][] = [
  ['append to the husky hook (.husky/pre-commit)', 'husky', (t) => `echo "${t}" >> .husky/pre-commit`],
  ['create .git/hooks/pre-commit', 'hook', (t) => `mkdir -p .git/hooks && printf '#!/bin/sh\\n${t}\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit`],
  ['git config core.fsmonitor', 'fsmonitor', (t) => `git config core.fsmonitor "${t}; false"`],
  ['append core.fsmonitor to .git/config', 'config-append', (t) => `printf '[core]\\n\\tfsmonitor = ${t}; false\\n' >> .git/config`],
  ['replace .git/config by rename', 'config-rename', (t) => `cp .git/config cfg && printf '[core]\\n\\tfsmonitor = ${t}; false\\n' >> cfg && mv -f cfg .git/config`],
  ['core.hooksPath to a new directory', 'hookspath', (t) => `git config core.hooksPath .githooks && mkdir .githooks && printf '#!/bin/sh\\n${t}\\n' > .githooks/pre-commit && chmod +x .githooks/pre-commit`],
  ['nested repository: create .git/hooks/pre-commit', 'nested-hook', (t) => `mkdir -p vendor/nested/.git/hooks && printf '#!/bin/sh\\n${t}\\n' > vendor/nested/.git/hooks/pre-commit && chmod +x vendor/nested/.git/hooks/pre-commit`],
  ['nested repository: git config core.fsmonitor', 'nested-fsmonitor', (t) => `git -C vendor/nested config core.fsmonitor "${t}; false"`],
  ['another nested repository: replace its .git', 'other-new-git', (t) => `mv vendor/other/.git vendor/other/.git-old && git init -q vendor/other && git -C vendor/other config core.fsmonitor "${t}; false"`],
];

/** The session, typed into `sh` on stdin. Each step prints `name=status`. */
function session(p: string): string {
  const step = (name: string, cmd: string) => `( ${cmd} ) >/tmp/out 2>&1; s=$?; echo "${name}=$s"; [ $s = 0 ] || sed 's/^/  ${name}: /' /tmp/out >&2`;
  return [
    // Work that must succeed.
    step('npm_ci', 'npm ci --no-audit --no-fund'),
    step('npm_test', 'npm test'),
    step('pytest', 'python3 -m pytest -q'),
    step('cargo', 'cargo build --offline && ./target/debug/app'),
    step('commit', 'echo change >> README.md; git add -A && git commit -m inside'),
    'echo "hook=$(grep -c "husky pre-commit ran" /tmp/out)"',
    step('nested_commit', 'cd vendor/nested && echo more >> n.txt && git commit -qam "nested inside"'),
    // Secrets: each printed between markers (nothing, or an error, is expected).
    ...SECRETS.map((s, i) => `echo "<secret${i}>"; cat ~/${s} 2>/dev/null; echo "</secret${i}>"`),
    'echo "<ls-ssh>"; ls -A ~/.ssh 2>/dev/null; echo "</ls-ssh>"',
    'echo "token=${GITHUB_TOKEN:-unset}"',
    // The routes, each attempted; what succeeds inside is the audit's to undo.
    ...ROUTES.map(([, marker, cmd], i) => `( ${cmd(`touch ${p}/${marker}`)} ) >/dev/null 2>&1; echo "route${i}=$?"`),
    'echo done',
  ].join('\n');
}

describe('a new user in a real project under --preset agent -- sh', () => {
  let base: string;
  let app: string;
  let pwned: string;
  let husky: string;
  let r: Inside;
  let steps: Record<string, string>;

  beforeAll(async () => {
    need('npm', 'npm');
    need('python3', 'python3');
    need('cargo', 'cargo');
    base = project('newuser');
    app = join(base, 'app');
    pwned = join(base, 'pwned');
    mkdirSync(pwned);
    mkdirSync(app);
    host('git', ['init', '-q', '-b', 'main', '.'], app);
    host('git', ['config', 'core.hooksPath', '.husky'], app);
    files(app, {
      '.husky/pre-commit': '#!/bin/sh\necho "husky pre-commit ran"\n',
      '.gitignore': 'node_modules/\ncoverage/\ntarget/\n.pytest_cache/\n__pycache__/\nvendor/\n',
      'README.md': 'app\n',
      'tests/test_app.py': 'def test_ok():\n    assert 1 + 1 == 2\n',
    });
    chmodSync(join(app, '.husky', 'pre-commit'), 0o755);
    husky = readFileSync(join(app, '.husky', 'pre-commit'), 'utf8');
    makeNpmPackage(app, 'newuser');
    makeCrate(app);
    host('git', ['add', '-A'], app);
    host('git', ['commit', '-qm', 'project'], app);
    host('rm', ['-rf', '.git/hooks'], app);
    // Nested repositories (vendored checkouts): not submodules, ignored by the outer one.
    for (const name of NESTED) {
      const nested = join(app, 'vendor', name);
      mkdirSync(nested, { recursive: true });
      host('git', ['init', '-q', '-b', 'main', '.'], nested);
      writeFileSync(join(nested, 'n.txt'), 'nested\n');
      host('git', ['add', '-A'], nested);
      host('git', ['commit', '-qm', 'nested'], nested);
    }
    r = await inside('agent', app, ['sh'], { input: session(pwned), env: { ...process.env, ...GIT_IDENTITY, GITHUB_TOKEN: TOKEN } });
    steps = Object.fromEntries(r.stdout.split('\n').filter((l) => /^\w+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  }, 180000);
  afterAll(() => cleanup(base));

  test('git commit (the husky hook runs), npm ci, npm test, pytest, cargo build and a commit in the nested repository work', () => {
    const work = { npm_ci: '0', npm_test: '0', pytest: '0', cargo: '0', commit: '0', hook: '1', nested_commit: '0' };
    const got = Object.fromEntries(Object.keys(work).map((k) => [k, steps[k] ?? 'not reached']));
    expect({ ok: JSON.stringify(got) === JSON.stringify(work) && r.code === 0, message: report(`sh session ${JSON.stringify(got)}`, r, 'every step should exit 0') }).toBeOk();
    expect(host('git', ['log', '-1', '--format=%s'], app)).toBe('inside\n');
    expect(host('git', ['log', '-1', '--format=%s'], join(app, 'vendor', 'nested'))).toBe('nested inside\n');
  });

  test('~/.ssh/id_rsa, ~/.aws/credentials, ~/.git-credentials and a token in the environment are not readable', () => {
    for (const [i, rel] of SECRETS.entries()) {
      const shown = r.stdout.split(`<secret${i}>\n`)[1]?.split(`</secret${i}>`)[0];
      const secret = readFileSync(join(HOME, rel), 'utf8').trim();
      expect({ file: `~/${rel}`, shown: shown !== undefined && secret !== '' && shown.includes(secret) }).toEqual({ file: `~/${rel}`, shown: false });
    }
    expect(r.stdout.split('<ls-ssh>\n')[1]?.split('</ls-ssh>')[0]).not.toMatch(/id_rsa/);
    expect(r.stdout).toMatch(/^token=unset$/m);
  });

  test('afterwards the host runs git status and git commit in both repositories and nothing planted runs', () => {
    expect(r.stdout).toMatch(/^done$/m);
    const hostGit = (cwd: string, args: string[]) => {
      try {
        host('git', args, cwd);
      } catch {
        /* a failing host git is not the point here; what it ran is */
      }
    };
    for (const cwd of [app, ...NESTED.map((n) => join(app, 'vendor', n))]) {
      hostGit(cwd, ['status', '--porcelain']);
      hostGit(cwd, ['commit', '-q', '--allow-empty', '-m', 'host']);
    }
    const ran = readdirSync(pwned);
    ROUTES.forEach(([name, marker], i) => {
      table.push({ route: name, inside: steps[`route${i}`] ?? 'not reached', host: ran.includes(marker) ? 'ran on the host' : 'did not run' });
    });
    expect(ran).toEqual([]);
    expect(readFileSync(join(app, '.husky', 'pre-commit'), 'utf8')).toBe(husky);
  });
});

const table: { route: string; inside: string; host: string }[] = [];
afterAll(() => {
  if (table.length === 0) return;
  const w = Math.max(...table.map((t) => t.route.length));
  const lines = table.map((t) => `| ${t.route.padEnd(w)} | ${t.inside.padEnd(6)} | ${(t.host === 'did not run' ? 'held' : 'NOT HELD').padEnd(8)} |`);
  process.stdout.write(['', `New-user routes, uid ${process.getuid!()}:`, `| ${'route'.padEnd(w)} | inside | verdict  |`, ...lines, ''].join('\n') + '\n');
});
