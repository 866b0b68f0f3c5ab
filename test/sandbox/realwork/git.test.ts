/**
 * git in every layout (issue 9, item 3): init, add -A, commit, branch, stash,
 * checkout and log inside `--preset agent` and `--preset build`, in a new
 * directory, an existing repository, a subdirectory of one, a linked worktree
 * and a repository with a submodule. `git status` inside and on the host
 * afterwards must show nothing untracked: a stand-in the sandbox made for a
 * missing protected path must never look like a file to git.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireKernel } from '../helpers';
import { EXPORT_IDENTITY, cleanup, host, insideSh, need, project, type Preset } from './realwork';

beforeAll(() => {
  requireKernel();
  need('git', 'git');
});

const PRESETS: Preset[] = ['agent', 'build'];

interface Layout {
  /** Where the program starts. */
  cwd: string;
  /** The build preset's output: what git writes must lie under it. */
  output: string;
  /** The repository (work tree) the commits land in, as the host sees it. */
  top: string;
  init: boolean;
}

let base: string;
beforeEach(() => (base = project('git')));
afterEach(() => cleanup(base));

/** A repository with one commit (and no .git/hooks, the stand-in's case). */
function repo(dir: string, files: Record<string, string> = { 'README.md': 'hello\n' }): string {
  mkdirSync(dir, { recursive: true });
  host('git', ['init', '-q', '-b', 'main', '.'], dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  host('git', ['add', '-A'], dir);
  host('git', ['commit', '-qm', 'host commit'], dir);
  host('rm', ['-rf', '.git/hooks'], dir);
  return dir;
}

const LAYOUTS: Record<string, () => Layout> = {
  'a new directory': () => {
    const top = join(base, 'new');
    mkdirSync(top);
    return { cwd: top, output: top, top, init: true };
  },
  'an existing repository': () => {
    const top = repo(join(base, 'repo'));
    return { cwd: top, output: top, top, init: false };
  },
  'a subdirectory of a repository': () => {
    const top = repo(join(base, 'repo'), { 'README.md': 'hello\n', 'sub/deep/file.txt': 'deep\n' });
    return { cwd: join(top, 'sub', 'deep'), output: top, top, init: false };
  },
  'a linked worktree': () => {
    const main = repo(join(base, 'repo'));
    host('git', ['worktree', 'add', '-q', '-b', 'wt', join(base, 'wt')], main);
    return { cwd: join(base, 'wt'), output: base, top: join(base, 'wt'), init: false };
  },
  'a repository with a submodule': () => {
    const lib = repo(join(base, 'lib'), { 'lib.txt': 'lib\n' });
    const top = repo(join(base, 'repo'));
    host('git', ['-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', `file://${lib}`, 'lib'], top);
    host('git', ['commit', '-qm', 'add lib'], top);
    host('rm', ['-rf', '.git/modules/lib/hooks'], top);
    return { cwd: top, output: top, top, init: false };
  },
};

/** The everyday sequence; prints `status<…>` for `git status` at the end. */
function script(l: Layout, submodule: boolean): string {
  return [
    'set -ex',
    EXPORT_IDENTITY,
    l.init ? 'git init -q' : ':',
    'echo one > work.txt',
    'git add -A',
    'git commit -qm "one inside"',
    'git branch side',
    'echo two >> work.txt',
    'git stash -q',
    'git checkout -q side',
    'git stash pop -q',
    'git add -A',
    'git commit -qm "two inside"',
    'git checkout -q -',
    'git log --format=%s side',
    ...(submodule
      ? ['cd lib', 'echo more >> lib.txt', 'git add -A', 'git commit -qm "lib inside"', 'cd ..', 'git add lib', 'git commit -qm "bump lib"', 'git submodule status']
      : []),
    'set +x',
    'echo "status<$(git status --porcelain --untracked-files=all)>"',
  ].join('\n');
}

describe.each(PRESETS)('--preset %s', (preset) => {
  test.each(Object.keys(LAYOUTS))('git init/add/commit/branch/stash/checkout/log in %s; git status shows no stand-in', async (name) => {
    const l = LAYOUTS[name]();
    const sub = name.includes('submodule');
    const r = await insideSh(preset, l.cwd, script(l, sub), { output: l.output });
    expect(r).toHaveRun(`git (${name})`);
    expect(r).toHavePrinted(`git (${name})`, /^two inside\none inside\n/m);
    expect(r).toHavePrinted(`git status (${name})`, /^status<>$/m);
    // The host sees the same history and a clean tree.
    expect(host('git', ['log', '--format=%s', 'side'], l.top).split('\n').slice(0, 2)).toEqual(['two inside', 'one inside']);
    expect(host('git', ['status', '--porcelain', '--untracked-files=all'], l.top)).toBe('');
    if (sub) {
      expect(host('git', ['log', '-1', '--format=%s'], join(l.top, 'lib'))).toBe('lib inside\n');
      expect(host('git', ['log', '-1', '--format=%s'], l.top)).toBe('bump lib\n');
    }
  }, 30000);
});

describe('git config inside', () => {
  // What happens, documented (README.md beside this file): under agent the
  // repository's .git/config is read-only (it names programs git runs), so
  // `git config user.name` fails and the host's config is untouched;
  // `git -c user.name=…` or GIT_AUTHOR_NAME work for one command, and
  // `--allow-write .git/config` un-protects it. Under build nothing is
  // protected inside the output.
  test('agent: `git config user.name` is refused, the host config untouched; -c and the environment work', async () => {
    const top = repo(join(base, 'repo'));
    const before = readFileSync(join(top, '.git', 'config'), 'utf8');
    const r = await insideSh(
      'agent',
      top,
      [
        'git config user.name Inside; echo "config=$?"',
        'echo x > f; git add f',
        'git -c user.name=Dash -c user.email=dash@example.org commit -qm dash; echo "dash=$?"',
        'GIT_AUTHOR_NAME=Env GIT_AUTHOR_EMAIL=env@example.org GIT_COMMITTER_NAME=Env GIT_COMMITTER_EMAIL=env@example.org git commit -q --allow-empty -m env; echo "env=$?"',
      ].join('\n'),
    );
    expect(r).toHaveRun('git config user.name (agent)');
    expect(r).toHavePrinted('git config user.name (agent)', /^config=[1-9]\d*\ndash=0\nenv=0\n$/);
    expect(readFileSync(join(top, '.git', 'config'), 'utf8')).toBe(before);
    expect(host('git', ['log', '--format=%an', '-2'], top)).toBe('Env\nDash\n');
  }, 30000);

  test('agent with --allow-write .git/config: `git config user.name` lands in the host config', async () => {
    const top = repo(join(base, 'repo'));
    const r = await insideSh('agent', top, 'git config user.name Inside', { extra: ['--allow-write', join(top, '.git', 'config')] });
    expect(r).toHaveRun('git config user.name (agent, --allow-write .git/config)');
    expect(host('git', ['config', '--local', 'user.name'], top)).toBe('Inside\n');
  }, 30000);

  test('build: `git config user.name` inside the output works', async () => {
    const top = repo(join(base, 'repo'));
    const r = await insideSh('build', top, 'git config user.name Inside');
    expect(r).toHaveRun('git config user.name (build)');
    expect(host('git', ['config', '--local', 'user.name'], top)).toBe('Inside\n');
  }, 30000);
});

describe('a checkout that changes a protected path', () => {
  // Known limit, said plainly: git treats a file it cannot unlink as a
  // warning (unpack-trees' unlink_entry), so a checkout that changes a tracked
  // file under a read-only protected path exits 0 with that file left as it
  // was. What holds: git names the file and why, the protected file on the
  // host is untouched, and --allow-write lets the same checkout complete.
  test('agent: a checkout that changes a tracked .vscode file names it as read-only and leaves it untouched; --allow-write .vscode completes it', async () => {
    const top = repo(join(base, 'repo'), { 'README.md': 'main\n', '.vscode/settings.json': '{"main":true}\n' });
    host('git', ['checkout', '-q', '-b', 'other'], top);
    writeFileSync(join(top, '.vscode', 'settings.json'), '{"other":true}\n');
    writeFileSync(join(top, 'README.md'), 'other\n');
    host('git', ['commit', '-qam', 'other'], top);
    host('git', ['checkout', '-q', 'main'], top);
    const r = await insideSh('agent', top, 'git checkout -q other; echo "checkout=$?"');
    expect(r).toHaveRun('git checkout (agent)');
    expect(r.stderr).toMatch(/\.vscode\/settings\.json'?: Read-only file system/);
    expect(readFileSync(join(top, '.vscode', 'settings.json'), 'utf8')).toBe('{"main":true}\n');
    host('git', ['checkout', '-q', '-f', 'main'], top);
    const allowed = await insideSh('agent', top, 'git checkout -q other; echo "checkout=$?"', { extra: ['--allow-write', '.vscode', '--on-taint=warn'] });
    expect(allowed).toHaveRun('git checkout (agent, --allow-write .vscode)');
    expect(allowed.stdout).toMatch(/^checkout=0$/m);
    const status = host('git', ['status', '--porcelain', '--untracked-files=all'], top);
    const branch = host('git', ['rev-parse', '--abbrev-ref', 'HEAD'], top).trim();
    expect({ branch, status, settings: readFileSync(join(top, '.vscode', 'settings.json'), 'utf8') }).toEqual({ branch: 'other', status: '', settings: '{"other":true}\n' });
  }, 30000);
});
