/**
 * Filesystem rules checked from inside real sandboxes (issue 14): denyRead
 * (directory and file, globs), allowRead inside a denied tree, allowWrite
 * over the read-only host, denyWrite inside a writable tree (existing and
 * missing), and the precedence between them (docs/limits.md).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { BASE, cli, requireKernel } from '../helpers';

let dir: string;
beforeAll(() => {
  requireKernel();
  // Under /var/tmp: BASE hides /tmp behind the sandbox's own tmpfs.
  dir = mkdtempSync('/var/tmp/fsrules-');
  chmodSync(dir, 0o755);
  for (const d of ['secrets/keep/deep', 'work/build', 'work/src', 'proj/.git/hooks']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'secrets/a.key'), 'A');
  writeFileSync(join(dir, 'secrets/keep/ok.txt'), 'OK');
  writeFileSync(join(dir, 'secrets/keep/deep/no.txt'), 'NO');
  writeFileSync(join(dir, 'token.env'), 'TOKEN');
  writeFileSync(join(dir, 'one.pem'), 'PEM1');
  writeFileSync(join(dir, 'two.pem'), 'PEM2');
  writeFileSync(join(dir, 'work/src/main.c'), 'int main;');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run a script with the rules; its stdout lines. */
async function inside(rules: string[], script: string): Promise<string> {
  const r = await cli(['run', ...BASE, ...rules, '--', '/bin/sh', '-c', script], { cwd: dir });
  expect(r.stderr).toBe('');
  return r.stdout;
}
/** `[content]`, or `-` when it cannot be read. */
const cat = (p: string) => `{ c=$(cat ${p} 2>/dev/null) && echo "[$c]" || echo -; }`;
const canWrite = (p: string) => `(echo x > ${p}) 2>/dev/null && echo w || echo ro`;

test.each([
  // [rules, script, expected stdout]
  [['--deny-read', 'secrets'], `ls -A secrets | wc -l; ${cat('secrets/a.key')}`, '0\n-\n'],
  [['--deny-read', 'token.env'], `${cat('token.env')}; ${cat('one.pem')}`, '[]\n[PEM1]\n'],
  [['--deny-read', '*.pem'], `${cat('one.pem')}; ${cat('two.pem')}; ${cat('token.env')}`, '[]\n[]\n[TOKEN]\n'],
  [['--deny-read', 'secrets', '--allow-read', 'secrets/keep'], `${cat('secrets/keep/ok.txt')}; ${cat('secrets/a.key')}`, '[OK]\n-\n'],
  // the most specific wins: deny inside allow inside deny
  [['--deny-read', 'secrets', '--allow-read', 'secrets/keep', '--deny-read', 'secrets/keep/deep'], `${cat('secrets/keep/ok.txt')}; ${cat('secrets/keep/deep/no.txt')}; ls -A secrets/keep/deep | wc -l`, '[OK]\n-\n0\n'],
  // a denied tree stays unwritable even around what is re-opened
  [['--deny-read', 'secrets', '--allow-read', 'secrets/keep'], `${canWrite('secrets/new')}; ${canWrite('secrets/keep/ok.txt')}`, 'ro\nro\n'],
  [['--allow-write', 'work/build'], `${canWrite('work/build/out.o')}; ${canWrite('work/src/x')}`, 'w\nro\n'],
  // same path: deny wins
  [['--allow-write', 'work/build', '--deny-write', 'work/build'], canWrite('work/build/out2.o'), 'ro\n'],
  [['--allow-write', 'work', '--deny-write', 'work/src'], `${canWrite('work/build/y')}; ${canWrite('work/src/main.c')}`, 'w\nro\n'],
  // a missing denyWrite path cannot be created
  [['--allow-write', 'proj', '--deny-write', 'proj/.vscode/settings.json'], `(mkdir -p proj/.vscode && echo {} > proj/.vscode/settings.json) 2>/dev/null && echo made || echo refused`, 'refused\n'],
  // denyRead beats allowWrite on the same path
  [['--allow-write', 'work', '--deny-read', 'work'], `ls -A work | wc -l; ${canWrite('work/z')}`, '0\nro\n'],
])('%j', async (rules, script, want) => {
  expect(await inside(rules, script)).toBe(want);
});

test('nothing the rules refused reached the host, and what they allowed did', () => {
  expect(existsSync(join(dir, 'work/build/out.o'))).toBe(true);
  expect(existsSync(join(dir, 'work/src/x'))).toBe(false);
  expect(existsSync(join(dir, 'proj/.vscode'))).toBe(false);
  expect(readFileSync(join(dir, 'work/src/main.c'), 'utf8')).toBe('int main;');
});

test.each([
  [['--deny-read', 'nothing-*'], /--deny-read "nothing-\*": the glob matches nothing/],
  [['--allow-write', 'no-such-dir'], /--allow-write "no-such-dir": .* does not exist/],
  [['--deny-read', '/'], /cannot be the whole filesystem/],
])('%j is refused before anything starts', async (rules, msg) => {
  const r = await cli(['run', ...BASE, ...(rules), '--', '/bin/true'], { cwd: dir });
  expect(r.code).toBe(125);
  expect(r.stderr).toContain('E_PLAN_INVALID');
  expect(r.stderr).toMatch(msg);
});

test('second layer: with --allow-write, a writable --bind elsewhere is refused by Landlock; private mounts stay writable', async () => {
  mkdirSync(join(dir, 'other'), { recursive: true });
  const other = join(dir, 'other');
  const r = await cli(
    ['run', ...BASE, '--bind', other, other, '--allow-write', 'work/build', '--', '/bin/sh', '-c', `${canWrite('work/build/ll')}; ${canWrite(`${other}/y`)}; ${canWrite('/tmp/t')}; ${canWrite('/dev/null')}`],
    { cwd: dir },
  );
  expect(r.stdout).toBe('w\nro\nw\nw\n');
  expect(existsSync(join(other, 'y'))).toBe(false);
  // Without --allow-write there is no write allow-list: the same bind is writable.
  const open = await cli(['run', ...BASE, '--bind', other, other, '--', '/bin/sh', '-c', canWrite(`${other}/y`)], { cwd: dir });
  expect(open.stdout).toBe('w\n');
  const explained = await cli(['explain', ...BASE, '--bind', other, other, '--allow-write', 'work/build', '--', 'true'], { cwd: dir });
  expect(explained.stdout).toMatch(/writes.*only beneath .*work\/build.*Landlock ABI \d+: enforced/);
});
