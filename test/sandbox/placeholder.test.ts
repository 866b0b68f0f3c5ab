/**
 * The agent preset's stand-ins for protected directories that do not exist
 * yet: read-only inside, gone from the user's tree after the run, kept while
 * another sandbox in the same directory still relies on them, recovered
 * after a launcher killed with SIGKILL, never made through a symlink, and
 * safe under 100 concurrent runs in one directory.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CLI, UID, requireKernel, tempDir, until } from './helpers';
import * as core from '@sandboxctl/core';

beforeAll(requireKernel);

let root: string;
let project: string;
let env: NodeJS.ProcessEnv;
beforeEach(() => {
  root = tempDir('sbx-placeholder-');
  project = `${root}/home/project`;
  mkdirSync(project, { recursive: true });
  writeFileSync(`${project}/a.txt`, 'a\n');
  spawnSync('git', ['init', '-q'], { cwd: project });
  rmSync(`${project}/.git/hooks`, { recursive: true, force: true });
  env = { ...process.env, HOME: `${root}/home`, XDG_RUNTIME_DIR: '' };
});
const cleanup: string[] = [];
afterEach(() => {
  for (const dir of [root, ...cleanup.splice(0)]) rmSync(dir, { recursive: true, force: true });
});

const agent = (script: string, cwd = project) =>
  spawn(process.execPath, [CLI, 'run', '--preset', 'agent', '--', '/bin/sh', '-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });

function finish(c: ReturnType<typeof agent>): Promise<{ code: number | null; out: string }> {
  let out = '';
  c.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  c.stderr.setEncoding('utf8').on('data', (d) => (out += d));
  return new Promise((r) => c.on('close', (code) => r({ code, out })));
}

const standIns = ['.vscode', '.idea', '.claude'];

test('inside: missing protected directories cannot be created; after: the project holds nothing new and git sees nothing', async () => {
  const before = readdirSync(project).sort();
  const r = await finish(agent('mkdir .vscode/x 2>&1; mkdir -p .git/hooks/x 2>&1; echo ok > b.txt && git status --porcelain && echo wrote'));
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/\.vscode\/x.*Read-only file system/);
  expect(r.out).toMatch(/\.git\/hooks\/x.*Read-only file system/);
  // the stand-ins are empty directories: invisible to git inside
  expect(r.out).toMatch(/^\?\? a\.txt\n\?\? b\.txt\nwrote\n$/m);
  expect(readdirSync(project).sort()).toEqual([...before, 'b.txt'].sort());
  expect(readdirSync(`${project}/.git`)).not.toContain('hooks');
  expect(spawnSync('git', ['status', '--porcelain'], { cwd: project, encoding: 'utf8' }).stdout).toBe('?? a.txt\n?? b.txt\n');
});

test('a stand-in stays while another sandbox in the same directory uses it, then goes', async () => {
  // Both wait for a file the test creates, so their lifetimes surely overlap.
  const a = agent('echo ready; while [ ! -e go-a ]; do sleep 0.05; done');
  const b = agent('echo ready; while [ ! -e go-b ]; do sleep 0.05; done; mkdir .vscode/late 2>&1; true');
  let outA = '';
  let outB = '';
  a.stdout.setEncoding('utf8').on('data', (d) => (outA += d));
  b.stdout.setEncoding('utf8').on('data', (d) => (outB += d));
  const ra = new Promise((r) => a.on('close', r));
  const rb = new Promise((r) => b.on('close', r));
  expect(await until(() => outA.includes('ready') && outB.includes('ready'), 15000)).toBe(true);
  writeFileSync(`${project}/go-a`, '');
  await ra; // A ended; B still runs with .vscode mounted
  expect(readdirSync(project)).toContain('.vscode');
  writeFileSync(`${project}/go-b`, '');
  await rb;
  expect(outB).toMatch(/\.vscode\/late.*Read-only file system/); // still protected after A left
  for (const name of standIns) expect(readdirSync(project)).not.toContain(name);
});

test('a directory the user puts in place of a stand-in during the run is theirs and stays', async () => {
  const c = agent('sleep 1.5');
  const done = finish(c);
  expect(await until(() => readdirSync(project).includes('.idea'), 5000)).toBe(true);
  await new Promise((r) => setTimeout(r, 300));
  // the host side (outside the sandbox) is the user's: another inode now
  rmSync(`${project}/.idea`, { recursive: true });
  mkdirSync(`${project}/.idea`);
  await done;
  expect(readdirSync(project)).toContain('.idea');
  expect(readdirSync(project)).not.toContain('.vscode');
});

test("the user's own protected directory is readable, read-only, and untouched after", async () => {
  mkdirSync(`${project}/.vscode`);
  writeFileSync(`${project}/.vscode/settings.json`, '{"a":1}\n');
  const r = await finish(agent('cat .vscode/settings.json; echo x > .vscode/new.json 2>&1; true'));
  expect(r.out).toMatch(/^\{"a":1\}\n.*Read-only file system/s);
  expect(readdirSync(`${project}/.vscode`)).toEqual(['settings.json']);
});

test('stand-ins a launcher killed with SIGKILL left are removed by the next run in that directory', async () => {
  const preset = { name: 'agent' as const, cwd: project, home: `${root}/home` };
  const p = core.spawn({ argv: ['/bin/sh', '-c', 'echo ready; sleep 60'], preset, stdio: 'pipe' });
  let out = '';
  p.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  expect(await until(() => out.includes('ready'), 15000)).toBe(true);
  process.kill(p.pid!, 'SIGKILL');
  await p.exited.catch(() => undefined);
  // left behind: the launcher had no chance to clean up
  expect(readdirSync(project)).toEqual(expect.arrayContaining(standIns));
  expect(existsSync(`${project}/.git/hooks`)).toBe(true);
  const r = await core.run({ argv: ['/bin/true'], preset });
  expect(r.code).toBe(0);
  for (const name of standIns) expect(readdirSync(project)).not.toContain(name);
  expect(existsSync(`${project}/.git/hooks`)).toBe(false);
});

test('a stand-in whose parent is swapped for a symlink during the run: the launcher removes its own inode, nothing outside', async () => {
  const outside = `${root}/outside`;
  mkdirSync(`${outside}/hooks`, { recursive: true });
  const c = agent('echo ready; while [ ! -e go ]; do sleep 0.05; done');
  let seen = '';
  c.stdout.on('data', (d) => (seen += d));
  const done = finish(c);
  // the sandbox is set up (its mounts made) once the program runs
  expect(await until(() => seen.includes('ready'), 15000)).toBe(true);
  expect(existsSync(`${project}/.git/hooks`)).toBe(true);
  // another process (a second sandbox in a parent directory, say) swaps .git for a symlink
  renameSync(`${project}/.git`, `${project}/.git.moved`);
  symlinkSync(outside, `${project}/.git`);
  writeFileSync(`${project}/go`, '');
  const r = await done;
  expect(r.code).toBe(0);
  // the post-run audit catches the planted link too, and moves it aside
  expect(r.out).toMatch(new RegExp(`^ready\\nsandboxctl: the post-run audit found 1 thing[^\\n]*\\nsandboxctl: +git-file ${project}/\\.git \\(created\\): symlink to ${outside}; moved to `));
  expect(lstatSync(`${project}/.git`, { throwIfNoEntry: false })).toBeUndefined();
  expect(readdirSync(outside)).toEqual(['hooks']); // untouched
  expect(readdirSync(`${project}/.git.moved`)).not.toContain('hooks'); // the stand-in, removed through the pinned parent
});

test('a .git symlink to a directory outside the project: the launcher makes nothing there', async () => {
  // Outside the project: under the agent preset /var/tmp is private too, so
  // inside the link may dangle (ENOENT) or land read-only (EROFS); either
  // way the program cannot write there, and the launcher must make nothing.
  const outside = `${mkdtempSync('/var/tmp/sbx-outside-')}/r.git`;
  cleanup.push(dirname(outside));
  spawnSync('git', ['init', '-q', '--bare', outside]);
  rmSync(`${outside}/hooks`, { recursive: true, force: true });
  rmSync(`${project}/.git`, { recursive: true, force: true });
  symlinkSync(outside, `${project}/.git`);
  const r = await finish(agent('mkdir .git/hooks 2>&1; ls -a .git/ | grep -c hooks; true'));
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/Read-only file system|No such file or directory/);
  expect(readdirSync(outside)).not.toContain('hooks');
});

test('a directory the caller cannot write needs no stand-in: the run just works and leaves nothing', async () => {
  // Root owns /usr/share/doc: the unprivileged user cannot write it, root can and gets its stand-ins removed.
  const cwd = '/usr/share/doc';
  const before = readdirSync(cwd).sort();
  const r = await finish(agent('pwd; ls -d .vscode 2>&1; true', cwd));
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/^\/usr\/share\/doc\n/);
  expect(readdirSync(cwd).sort()).toEqual(before);
  if (UID !== 0) expect(r.out).toMatch(/\.vscode.*No such file/);
});

test('100 concurrent agent runs in one directory all succeed and leave nothing behind', async () => {
  // A runtime directory of the test's own: the agent preset hides the session's, and another
  // suite on the machine may create and remove /run/user/UID while this one runs.
  mkdirSync(`${root}/run`, { mode: 0o700 });
  env.XDG_RUNTIME_DIR = `${root}/run`;
  const n = 100;
  const runs = Array.from({ length: n }, (_, i) => finish(agent(`git status --porcelain >/dev/null && echo ${i} > out-${i}`)));
  const results = await Promise.all(runs);
  const failed = results.map((r, i) => ({ i, ...r })).filter((r) => r.code !== 0);
  expect(failed).toEqual([]);
  const left = readdirSync(project).filter((f) => !f.startsWith('out-')).sort();
  expect(left).toEqual(['.git', 'a.txt']);
  expect(readdirSync(`${project}/.git`)).not.toContain('hooks');
  expect(readdirSync(project).filter((f) => f.startsWith('out-'))).toHaveLength(n);
}, 180_000);
