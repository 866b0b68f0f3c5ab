/**
 * The agent preset's stand-ins for protected paths that do not exist yet:
 * read-only inside, gone from the user's tree after the run, and kept while
 * another sandbox in the same directory still relies on them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { CLI, requireKernel, tempDir, until } from './helpers';

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
  env = { ...process.env, HOME: `${root}/home`, XDG_RUNTIME_DIR: '' };
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const agent = (script: string, extra: string[] = []) =>
  spawn(process.execPath, [CLI, 'run', '--preset', 'agent', ...extra, '--', '/bin/sh', '-c', script], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'] });

function finish(c: ReturnType<typeof agent>): Promise<{ code: number | null; out: string }> {
  let out = '';
  c.stdout!.setEncoding('utf8').on('data', (d) => (out += d));
  c.stderr!.setEncoding('utf8').on('data', (d) => (out += d));
  return new Promise((r) => c.on('close', (code) => r({ code, out })));
}

test('inside: the missing paths cannot be created; after: the project holds nothing new', async () => {
  const before = readdirSync(project).sort();
  const r = await finish(agent('mkdir .vscode/x 2>&1; echo {} > .mcp.json 2>&1; mkdir -p .git/hooks/x 2>&1; echo ok > b.txt && echo wrote'));
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/\.vscode\/x.*Read-only file system/);
  expect(r.out).toMatch(/\.mcp\.json: Permission denied/);
  expect(r.out).toMatch(/wrote\n$/);
  expect(readdirSync(project).sort()).toEqual([...before, 'b.txt'].sort());
  expect(readdirSync(`${project}/.git`)).not.toContain('nothing');
  expect(spawnSync('git', ['status', '--porcelain'], { cwd: project, encoding: 'utf8' }).stdout).toBe('?? a.txt\n?? b.txt\n');
});

test('a stand-in stays while another sandbox in the same directory uses it, then goes', async () => {
  // Both wait for a file the test creates, so their lifetimes surely overlap.
  const a = agent('echo ready; while [ ! -e go-a ]; do sleep 0.05; done');
  const b = agent('echo ready; while [ ! -e go-b ]; do sleep 0.05; done; mkdir .vscode/late 2>&1; true');
  let outA = '';
  let outB = '';
  a.stdout!.setEncoding('utf8').on('data', (d) => (outA += d));
  b.stdout!.setEncoding('utf8').on('data', (d) => (outB += d));
  const ra = new Promise((r) => a.on('close', r));
  const rb = new Promise((r) => b.on('close', r));
  expect(await until(() => outA.includes('ready') && outB.includes('ready'), 15000)).toBe(true);
  writeFileSync(`${project}/go-a`, '');
  await ra; // A ended; B still runs with .vscode mounted
  expect(readdirSync(project)).toContain('.vscode');
  writeFileSync(`${project}/go-b`, '');
  await rb;
  expect(outB).toMatch(/\.vscode\/late.*Read-only file system/); // still protected after A left
  expect(readdirSync(project)).not.toContain('.vscode');
  expect(readdirSync(project)).not.toContain('.mcp.json');
});

test('a path the user fills in during the run is theirs and stays', async () => {
  // The post-run audit cannot tell the user's writes during the run from the
  // program's: by default it would move this .mcp.json into the quarantine.
  // warn keeps this case about the stand-in's release (and says so).
  const c = agent('sleep 1.5', ['--on-taint=warn']);
  const done = finish(c);
  expect(await until(() => readdirSync(project).includes('.idea'), 5000)).toBe(true);
  // the host side (outside the sandbox) is the user's: they may use the path
  await new Promise((r) => setTimeout(r, 300));
  rmSync(`${project}/.mcp.json`, { force: true });
  writeFileSync(`${project}/.mcp.json`, '{"servers":{}}\n');
  const r = await done;
  expect(r.out).toContain(`tool-file ${project}/.mcp.json (created)`);
  expect(readdirSync(project)).toContain('.mcp.json');
  expect(readdirSync(project)).not.toContain('.idea');
});

test("the user's own protected directory is readable, read-only, and untouched after", async () => {
  mkdirSync(`${project}/.vscode`);
  writeFileSync(`${project}/.vscode/settings.json`, '{"a":1}\n');
  const r = await finish(agent('cat .vscode/settings.json; echo x > .vscode/new.json 2>&1; true'));
  expect(r.out).toMatch(/^\{"a":1\}\n.*Read-only file system/s);
  expect(readdirSync(`${project}/.vscode`)).toEqual(['settings.json']);
});
