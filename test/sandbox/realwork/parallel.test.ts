/**
 * Parallel agents (issue 9, item 6): agents run tool calls in parallel, so
 * many `--preset agent` runs at once in one directory (a repository without
 * .git/hooks, .vscode or .mcp.json, so every run needs the same stand-ins)
 * must all succeed and leave the directory as it was plus what they wrote.
 * 100 runs through the library (one Node process, 100 launchers: the race
 * is the launchers'), and 25 through the CLI as a user would start them.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireKernel } from '../helpers';
import { HOME, cleanup, host, insideSh, project, report } from './realwork';
import { run } from '@sandboxctl/core';

beforeAll(requireKernel);

let dir: string;
let before: string[];
beforeEach(() => {
  dir = project('parallel');
  host('git', ['init', '-q', '.'], dir);
  writeFileSync(join(dir, 'README'), 'parallel\n');
  host('git', ['add', '-A'], dir);
  host('git', ['commit', '-qm', 'init'], dir);
  host('rm', ['-rf', '.git/hooks'], dir);
  before = readdirSync(dir).sort();
});
afterEach(() => cleanup(dir));

const SCRIPT = (i: number) => `git status --porcelain >/dev/null && echo ${i} > out-${i}`;

/** Every run wrote its file; nothing else is left (no stand-in, no .git/hooks). */
function leftAsItWas(n: number): void {
  for (let i = 0; i < n; i++) expect(readFileSync(join(dir, `out-${i}`), 'utf8')).toBe(`${i}\n`);
  const outs = Array.from({ length: n }, (_, i) => `out-${i}`);
  expect(readdirSync(dir).sort()).toEqual([...before, ...outs].sort());
  expect(existsSync(join(dir, '.git', 'hooks'))).toBe(false);
}

test('100 concurrent agent runs (library) in one directory all exit 0', async () => {
  const n = 100;
  const preset = { name: 'agent' as const, cwd: dir, home: HOME };
  const runs: { code: number | null; signal: string | null; stderr?: string }[] = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      run({ argv: ['/bin/sh', '-c', SCRIPT(i)], preset, stdio: 'pipe' }).catch((e: { code?: string; message: string }) => ({
        code: null,
        signal: null,
        stderr: `rejected: ${e.code}: ${e.message}`,
      })),
    ),
  );
  const failed = runs.map((r, i) => ({ r, i })).filter(({ r }) => r.code !== 0 || r.signal !== null);
  const message = `sh (git status; echo): ${failed.length} of ${n} concurrent run({ preset: agent }) failed in ${dir}; the first ones:\n${failed
    .slice(0, 5)
    .map(({ r, i }) => `  run ${i}: exit ${r.code} signal ${r.signal}: ${r.stderr}`)
    .join('\n')}`;
  expect({ ok: failed.length === 0, message }).toBeOk();
  leftAsItWas(n);
}, 120000);

test('25 concurrent `sandboxctl run --preset agent` in one directory all exit 0', async () => {
  const n = 25;
  const runs = await Promise.all(Array.from({ length: n }, (_, i) => insideSh('agent', dir, SCRIPT(i))));
  const failed = runs.map((r, i) => ({ r, i })).filter(({ r }) => r.code !== 0 || r.signal !== null);
  const message = `${failed.length} of ${n} concurrent CLI runs failed; the first ones:\n${failed
    .slice(0, 3)
    .map(({ r, i }) => report(`sh (run ${i})`, r, 'expected exit 0'))
    .join('\n')}`;
  expect({ ok: failed.length === 0, message }).toBeOk();
  leftAsItWas(n);
}, 120000);
