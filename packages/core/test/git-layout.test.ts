/**
 * The agent preset's git layouts on made-up hosts: which git directories
 * become writable mount points, what stays read-only, where stand-ins may be
 * made, and what is skipped and said.
 */
import { fakeHost, resolvePreset, type PresetOptions } from '../src/presets';
import { configValue, findRepository, MODULES_LIMIT } from '../src/presets/git';
import { MAX_PLAN_OPS, resolveWith, WALK_LIMITS } from '../src/presets/resolve';
import type { Op } from '../src/plan-types';

/** A git directory as git recognizes one. */
function repo(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return { [`${dir}/HEAD`]: 'file:ref: refs/heads/main\n', [`${dir}/objects`]: 'dir', [`${dir}/refs`]: 'dir', ...extra };
}

// The home exists (an empty directory), as it does on a real host.
const agent = (cwd: string, entries: Record<string, string>, extra: Partial<PresetOptions> = {}) =>
  resolvePreset({ name: 'agent', cwd, home: '/h', env: {}, host: fakeHost({ '/h': 'dir', ...entries }), ...extra });

const targets = (ops: Op[]) => ops.map((op) => op.target ?? '');
const gitOps = (ops: Op[]) => ops.filter((op) => (op.target ?? '').includes('.git') || (op.target ?? '').includes('.husky'));
const writableBind = (path: string) => ({ kind: 'bind', source: path, target: path, writable: true });
const roBind = (path: string) => ({ kind: 'bind', source: path, target: path });

describe('finding the repository as git does', () => {
  it('walks up to a .git directory git accepts, or a gitfile, and skips an empty .git', () => {
    const host = fakeHost({ ...repo('/w/p/.git'), '/w/p/a/b': 'dir', '/w/p/a/.git': 'dir' });
    expect(findRepository('/w/p/a/b', host)).toEqual({ worktree: '/w/p', dotGit: '/w/p/.git', gitDir: '/w/p/.git' });
    const file = fakeHost({ '/w/wt/.git': 'file:gitdir: ../p/.git/worktrees/wt\n', ...repo('/w/p/.git/worktrees/wt', { '/w/p/.git/worktrees/wt/commondir': 'file:../..\n' }) });
    expect(findRepository('/w/wt', file)).toEqual({ worktree: '/w/wt', dotGit: '/w/wt/.git', gitDir: '/w/p/.git/worktrees/wt' });
    expect(findRepository('/w/x', fakeHost({ '/w/x': 'dir' }))).toBeUndefined();
  });

  it('reads core.hooksPath as git config does: sections and keys in any case, quotes, comments, last one wins', () => {
    const text = '[core]\n\tbare = false\n[Core]\n\tHooksPath = "first"\n[user]\n\thookspath = no\n[core]\n\thooksPath = .husky/_ # husky\n';
    expect(configValue(text, 'core', 'hookspath')).toBe('.husky/_');
    expect(configValue('[core]\n', 'core', 'hookspath')).toBeUndefined();
  });
});

describe('agent: the git layouts', () => {
  it('a repository here: .git a writable mount point, then config, hooks (a stand-in when missing) and info read-only', () => {
    const r = agent('/w/p', { ...repo('/w/p/.git'), '/w/p/.git/config': 'file', '/w/p/.git/info': 'dir' });
    expect(gitOps(r.ops)).toEqual([
      writableBind('/w/p/.git'),
      roBind('/w/p/.git/config'),
      { kind: 'placeholder', target: '/w/p/.git/hooks', type: 'dir', base: '/w/p/.git' },
      roBind('/w/p/.git/info'),
    ]);
    expect(r.protectedPaths).toEqual(expect.arrayContaining(['/w/p/.git/config', '/w/p/.git/hooks', '/w/p/.git/info']));
  });

  it('existing redirect files and worktree records are read-only; missing ones get no stand-in', () => {
    const r = agent('/w/p', {
      ...repo('/w/p/.git'),
      '/w/p/.git/commondir': 'file:.\n',
      '/w/p/.git/config.worktree': 'file',
      '/w/p/.git/worktrees/a/gitdir': 'file',
      '/w/p/.git/worktrees/a/commondir': 'file',
    });
    expect(targets(r.ops)).toEqual(
      expect.arrayContaining(['/w/p/.git/commondir', '/w/p/.git/config.worktree', '/w/p/.git/worktrees/a/gitdir', '/w/p/.git/worktrees/a/commondir']),
    );
    expect(targets(r.ops)).not.toContain('/w/p/.git/worktrees/a/config.worktree');
  });

  it('a subdirectory of a repository: the work tree shown read-only, the current directory writable again, the git directory writable', () => {
    const r = agent('/w/p/sub', { ...repo('/w/p/.git'), '/w/p/sub/x': 'file' });
    const t = targets(r.ops);
    const root = r.ops.findIndex((op) => op.kind === 'bind' && op.target === '/w/p' && !op.writable);
    expect(root).toBeGreaterThan(t.indexOf('/w/p/sub'));
    expect(r.ops[root + 1]).toEqual(writableBind('/w/p/sub'));
    expect(r.ops[root + 2]).toEqual(writableBind('/w/p/.git'));
    expect(r.ops).toEqual(expect.arrayContaining([{ kind: 'placeholder', target: '/w/p/.git/hooks', type: 'dir', base: '/w/p/.git' }]));
    // no stand-in hides the parent's .git
    expect(t).not.toContain('/w/p/sub/.git');
  });

  it('a repository holding the home directory is not made writable, and says so', () => {
    const r = resolvePreset({ name: 'agent', cwd: '/h/proj', home: '/h', env: {}, host: fakeHost({ ...repo('/h/.git'), '/h/proj/x': 'file' }) });
    expect(gitOps(r.ops)).toEqual([]);
    expect(r.skipped).toEqual([expect.stringContaining('/h/.git stays read-only')]);
  });

  it('a linked worktree: the .git file read-only, its git directory and the common directory writable with their protections', () => {
    const r = agent('/w/wt', {
      '/w/wt/.git': 'file:gitdir: /w/p/.git/worktrees/wt\n',
      ...repo('/w/p/.git', { '/w/p/.git/config': 'file', '/w/p/.git/hooks': 'dir' }),
      '/w/p/.git/worktrees/wt/HEAD': 'file',
      '/w/p/.git/worktrees/wt/commondir': 'file:../..\n',
      '/w/p/.git/worktrees/wt/gitdir': 'file:/w/wt/.git\n',
    });
    expect(gitOps(r.ops)).toEqual([
      writableBind('/w/p/.git'),
      writableBind('/w/p/.git/worktrees/wt'),
      roBind('/w/wt/.git'),
      roBind('/w/p/.git/config'),
      { kind: 'placeholder', target: '/w/p/.git/hooks', type: 'dir', base: '/w/p/.git' },
      roBind('/w/p/.git/worktrees/wt/commondir'),
      roBind('/w/p/.git/worktrees/wt/gitdir'),
    ]);
  });

  it("submodules: their git directories' config, hooks and info, names with slashes, and the checkouts' .git files", () => {
    const r = agent('/w/p', {
      ...repo('/w/p/.git'),
      '/w/p/.git/modules/lib/HEAD': 'file',
      '/w/p/.git/modules/lib/hooks': 'dir',
      '/w/p/.git/modules/lib/config': 'file',
      '/w/p/.git/modules/vendor/deep/config': 'file',
      '/w/p/.git/modules/vendor/deep/info': 'dir',
      '/w/p/lib/.git': 'file:gitdir: ../.git/modules/lib\n',
    });
    expect(targets(r.ops)).toEqual(
      expect.arrayContaining([
        '/w/p/.git/modules/lib/hooks',
        '/w/p/.git/modules/lib/config',
        '/w/p/.git/modules/vendor/deep/config',
        '/w/p/.git/modules/vendor/deep/info',
        '/w/p/lib/.git',
      ]),
    );
    expect(r.ops).toEqual(expect.arrayContaining([roBind('/w/p/lib/.git'), roBind('/w/p/.git/modules/lib/config')]));
  });

  it('more submodule git directories or worktrees than the bound: the directory read-only as a whole, said in skipped', () => {
    const entries: Record<string, string> = repo('/w/p/.git');
    for (let i = 0; i <= MODULES_LIMIT; i += 1) entries[`/w/p/.git/modules/m${i}/config`] = 'file';
    for (let i = 0; i <= MODULES_LIMIT; i += 1) entries[`/w/p/.git/worktrees/w${i}/gitdir`] = 'file';
    const r = agent('/w/p', entries);
    expect(r.ops).toEqual(expect.arrayContaining([roBind('/w/p/.git/modules'), roBind('/w/p/.git/worktrees')]));
    expect(r.ops.length).toBeLessThan(100);
    expect(r.skipped).toEqual(expect.arrayContaining([expect.stringContaining('/w/p/.git/modules is read-only as a whole'), expect.stringContaining('/w/p/.git/worktrees is read-only as a whole')]));
  });

  it("core.hooksPath: the directory read-only, and husky's .husky with its _ stubs", () => {
    const r = agent('/w/p', { ...repo('/w/p/.git'), '/w/p/.git/config': 'file:[core]\n\thooksPath = .husky/_\n', '/w/p/.husky/_/pre-commit': 'file', '/w/p/.husky/pre-commit': 'file' });
    expect(r.ops).toEqual(
      expect.arrayContaining([
        { kind: 'placeholder', target: '/w/p/.husky', type: 'dir', base: '/w/p' },
        { kind: 'placeholder', target: '/w/p/.husky/_', type: 'dir', base: '/w/p' },
      ]),
    );
    const plain = agent('/w/p', { ...repo('/w/p/.git'), '/w/p/.git/config': 'file:[core]\nhooksPath=tools/hooks\n', '/w/p/tools/hooks/pre-commit': 'file' });
    expect(plain.ops).toEqual(expect.arrayContaining([{ kind: 'placeholder', target: '/w/p/tools/hooks', type: 'dir', base: '/w/p' }]));
    // set but missing: a stand-in, so the program cannot plant it
    const missing = agent('/w/p', { ...repo('/w/p/.git'), '/w/p/.git/config': 'file:[core]\nhooksPath=.githooks\n' });
    expect(missing.ops).toEqual(expect.arrayContaining([{ kind: 'placeholder', target: '/w/p/.githooks', type: 'dir', base: '/w/p' }]));
    // outside anything writable: nothing to protect
    const outside = agent('/w/p', { ...repo('/w/p/.git'), '/w/p/.git/config': 'file:[core]\nhooksPath=/etc/hooks\n', '/etc/hooks': 'dir' });
    expect(targets(outside.ops)).not.toContain('/etc/hooks');
  });

  it('a nested repository below: its .git a mount point and its config and hooks read-only', () => {
    const r = agent('/w/p', { '/w/p/vendor/x/src': 'dir', ...repo('/w/p/vendor/x/.git', { '/w/p/vendor/x/.git/config': 'file', '/w/p/vendor/x/.git/hooks': 'dir' }) });
    expect(gitOps(r.ops)).toEqual([
      writableBind('/w/p/vendor/x/.git'),
      roBind('/w/p/vendor/x/.git/config'),
      { kind: 'placeholder', target: '/w/p/vendor/x/.git/hooks', type: 'dir', base: '/w/p' },
    ]);
  });

  it('no .git: nothing git-related at all (git init works); an empty .git is no repository', () => {
    expect(gitOps(agent('/w/p', { '/w/p/src': 'dir' }).ops)).toEqual([]);
    expect(gitOps(agent('/w/p', { '/w/p/.git': 'dir' }).ops)).toEqual([]);
  });

  it('a .git symlink is kept in place and followed only inside the current directory', () => {
    const outside = agent('/w/p', { '/w/p/.git': 'symlink:/elsewhere/r.git', ...repo('/elsewhere/r.git') });
    expect(gitOps(outside.ops)).toEqual([{ kind: 'placeholder', target: '/w/p/.git', type: 'link' }]);
    expect(outside.skipped).toEqual([expect.stringContaining('/w/p/.git is a symlink to /elsewhere/r.git')]);
    const inside = agent('/w/p', { '/w/p/.git': 'symlink:.repo/git', ...repo('/w/p/.repo/git') });
    expect(inside.ops).toEqual(
      expect.arrayContaining([
        { kind: 'placeholder', target: '/w/p/.git', type: 'link' },
        writableBind('/w/p/.repo/git'),
        { kind: 'placeholder', target: '/w/p/.repo/git/hooks', type: 'dir', base: '/w/p/.repo/git' },
      ]),
    );
  });
});

describe('agent: protected names', () => {
  it('in subdirectories where they exist, found by a walk that skips node_modules, .git and symlinks', () => {
    const r = agent('/w/p', {
      '/w/p/sub/.vscode/settings.json': 'file',
      '/w/p/sub/deep/.claude': 'dir',
      '/w/p/sub/.mcp.json': 'file',
      '/w/p/pkg/sandboxctl.json': 'file',
      '/w/p/node_modules/x/.vscode': 'dir',
      '/w/p/link': 'symlink:/elsewhere',
      '/elsewhere/.vscode': 'dir',
    });
    expect(r.ops).toEqual(
      expect.arrayContaining([
        { kind: 'placeholder', target: '/w/p/sub/.vscode', type: 'dir', base: '/w/p' },
        { kind: 'placeholder', target: '/w/p/sub/deep/.claude', type: 'dir', base: '/w/p' },
        roBind('/w/p/sub/.mcp.json'),
        roBind('/w/p/pkg/sandboxctl.json'),
      ]),
    );
    expect(targets(r.ops).filter((t) => t.includes('node_modules') || t.includes('elsewhere') || t.startsWith('/w/p/link'))).toEqual([]);
  });

  it('a bounded walk: past the bound it stops and says so', () => {
    const entries: Record<string, string> = {};
    for (let i = 0; i < WALK_LIMITS.found + 10; i += 1) entries[`/w/p/d${i}/.mcp.json`] = 'file';
    const r = agent('/w/p', entries);
    expect(r.ops.filter((op) => (op.target ?? '').endsWith('.mcp.json'))).toHaveLength(WALK_LIMITS.found);
    expect(r.skipped).toEqual([expect.stringContaining(`more than ${WALK_LIMITS.found} protected names below /w/p`)]);
    const wide: Record<string, string> = {};
    for (let i = 0; i < WALK_LIMITS.dirs + 5; i += 1) wide[`/w/p/d${i}`] = 'dir';
    // the socket scan of the current directory has its own bound and says so too
    expect(agent('/w/p', wide).skipped).toEqual([
      expect.stringContaining(`looked for in ${WALK_LIMITS.dirs} directories below /w/p only`),
      expect.stringContaining('the socket scan stopped after'),
    ]);
  });

  it('a symlink is kept in place and what it points to is protected (a stand-in when missing)', () => {
    const r = agent('/w/p', { '/w/p/.vscode': 'symlink:tools/vscode', '/w/p/tools/vscode/settings.json': 'file', '/w/p/.idea': 'symlink:tools/idea' });
    expect(r.ops).toEqual(
      expect.arrayContaining([
        { kind: 'placeholder', target: '/w/p/tools/vscode', type: 'dir', base: '/w/p' },
        { kind: 'placeholder', target: '/w/p/.vscode', type: 'link' },
        { kind: 'placeholder', target: '/w/p/tools/idea', type: 'dir', base: '/w/p' },
        { kind: 'placeholder', target: '/w/p/.idea', type: 'link' },
      ]),
    );
    // pointing out of the writable directory: only the link is kept
    const out = agent('/w/p', { '/w/p/.vscode': 'symlink:/etc/vscode', '/etc/vscode': 'dir' });
    expect(targets(out.ops)).not.toContain('/etc/vscode');
    expect(targets(out.ops)).toContain('/w/p/.vscode');
  });

  it('--allow-write un-protects a path and says so; one that matches nothing is said too', () => {
    const r = agent('/w/p', repo('/w/p/.git'), { allowWrite: ['.git/hooks', '/w/p/.vscode', 'nothing-here'] });
    expect(targets(r.ops)).not.toContain('/w/p/.git/hooks');
    expect(targets(r.ops)).not.toContain('/w/p/.vscode');
    expect(targets(r.ops)).toContain('/w/p/.idea');
    expect(r.skipped).toEqual(
      expect.arrayContaining([
        '/w/p/.git/hooks is writable (--allow-write): /w/p/.git/hooks is not protected',
        '/w/p/.vscode is writable (--allow-write): /w/p/.vscode is not protected',
        '--allow-write /w/p/nothing-here: no protected path there',
      ]),
    );
  });
});

describe('the op limit', () => {
  it('a plan past it is refused, naming the preset input that made the ops', () => {
    const system = Array.from({ length: MAX_PLAN_OPS + 1 }, (_, i) => `/usr/x${i}`);
    const host = fakeHost(Object.fromEntries(system.map((p) => [p, 'dir'])));
    const preset = { name: 'strict' as const, summary: '', description: [], steps: [{ system, why: 'many system paths' }], policy: { network: 'none' as const, seccomp: 'strict' as const, cwdHere: false, env: { clear: false, removeCredentials: false } }, refuseCwd: [], params: [] };
    expect(() => resolveWith(preset, { cwd: '/w/p', home: '/h', env: {}, host, allowEnv: [] })).toThrow(
      expect.objectContaining({ code: 'E_PLAN_INVALID', message: expect.stringContaining(`${MAX_PLAN_OPS + 1} of them from "many system paths"`) }),
    );
  });
});
