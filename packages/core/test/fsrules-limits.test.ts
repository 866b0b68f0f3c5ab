// Filesystem rules (order, precedence, globs, missing paths) and limit
// parsing, without a sandbox: the ops and plan fields they make. The
// sandbox suites (test/sandbox/fsrules, test/sandbox/limits) check them
// from inside.

import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandGlob, fsRuleOps, parseRlimitFlag, planLimits, resolvePlan, SandboxError } from '../src';

let dir: string;
beforeAll(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'fsrules-')));
  for (const d of ['s/keep/deep', 'w/src', '.hidden']) mkdirSync(join(dir, d), { recursive: true });
  for (const f of ['a.pem', 'b.pem', 's/k', 'w/src/x.c', '.hidden/c.pem']) writeFileSync(join(dir, f), '');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const name = (kind: string, i: number): string => `${kind}[${i}]`;
const ops = (rules: Parameters<typeof fsRuleOps>[0]) => fsRuleOps(rules, { cwd: dir, home: dir, name }).map((o) => o.op);

test('globs: *, ? and ** (dot files only for a dotted pattern)', () => {
  expect(expandGlob(`${dir}/*.pem`)).toEqual([`${dir}/a.pem`, `${dir}/b.pem`]);
  expect(expandGlob(`${dir}/?.pem`)).toEqual([`${dir}/a.pem`, `${dir}/b.pem`]);
  expect(expandGlob(`${dir}/**/*.c`)).toEqual([`${dir}/w/src/x.c`]);
  expect(expandGlob(`${dir}/.*/c.pem`)).toEqual([`${dir}/.hidden/c.pem`]);
  expect(expandGlob(`${dir}/*.nothing`)).toEqual([]);
});

test('denyRead: tmpfs over a directory, /dev/null over a file, read-only unless something is re-opened inside', () => {
  expect(ops({ denyRead: ['s', 'a.pem'] })).toEqual([
    { kind: 'tmpfs', target: `${dir}/s`, mode: 0o755, readOnly: true },
    { kind: 'bind', source: '/dev/null', target: `${dir}/a.pem`, device: true },
  ]);
});

test('the most specific path wins, and the re-opened tree is remounted read-only last', () => {
  expect(ops({ denyRead: ['s', 's/keep/deep'], allowRead: ['s/keep'] })).toEqual([
    { kind: 'tmpfs', target: `${dir}/s`, mode: 0o755, readOnly: false },
    { kind: 'bind', source: `${dir}/s/keep`, target: `${dir}/s/keep` },
    { kind: 'tmpfs', target: `${dir}/s/keep/deep`, mode: 0o755, readOnly: true },
    { kind: 'remount', target: `${dir}/s`, readOnly: true },
  ]);
});

test('on the same path deny wins: it comes last', () => {
  expect(ops({ allowWrite: ['w'], denyWrite: ['w'], denyRead: ['w'] }).map((o) => o.kind)).toEqual(['bind', 'bind', 'tmpfs']);
  expect(ops({ denyWrite: ['w'], allowWrite: ['w'] })[1]).toEqual({ kind: 'bind', source: `${dir}/w`, target: `${dir}/w` });
});

test('a missing denyWrite path gets a placeholder at its first missing component', () => {
  expect(ops({ denyWrite: ['w/.vscode/settings.json'] })).toEqual([{ kind: 'placeholder', target: `${dir}/w/.vscode`, type: 'dir' }]);
});

test('~ is the home, relative paths the working directory', () => {
  expect(fsRuleOps({ allowWrite: ['~/w'] }, { cwd: '/', home: dir, name }).map((o) => o.op)).toEqual([{ kind: 'bind', source: `${dir}/w`, target: `${dir}/w`, writable: true }]);
});

test.each([
  [{ denyRead: ['nothing-*'] }, 'denyRead[0] "nothing-*": the glob matches nothing'],
  [{ allowWrite: ['missing'] }, 'allowWrite[0] "missing": '],
  [{ allowRead: ['missing'] }, 'allowRead[0] "missing": '],
  [{ denyRead: ['/'] }, 'cannot be the whole filesystem'],
  [{ denyRead: [''] }, 'must be a non-empty path'],
  [{ readOnly: ['x'] } as never, 'unknown rule'],
])('bad rules are E_PLAN_INVALID naming the entry: %j', (rules, msg) => {
  let err: unknown;
  try {
    ops(rules);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SandboxError);
  expect((err as SandboxError).code).toBe('E_PLAN_INVALID');
  expect((err as SandboxError).message).toContain(msg);
});

test('resolvePlan appends the rules after the other ops and sets the Landlock write list', () => {
  const { plan, origins } = resolvePlan({ argv: ['true'], ops: [{ kind: 'proc', target: '/proc' }], filesystem: { allowWrite: ['w'] }, relativeTo: dir });
  expect(plan.ops?.map((o) => o.kind)).toEqual(['proc', 'bind']);
  expect(origins[1]).toEqual({ from: 'filesystem', rule: 'filesystem.allowWrite[0] w' });
  expect(plan.landlock?.write).toEqual([`${dir}/w`]);
});

test('limits parse as people write them', () => {
  expect(planLimits({ memory: '2G', pids: 256, cpus: 1.5, timeout: '10m', rlimits: { nofile: '1024:4096', core: 0, stack: 'unlimited' } })).toEqual({
    memory: 2 * 2 ** 30,
    pids: 256,
    cpuMillis: 1500,
    timeoutMs: 600_000,
    rlimits: [
      { name: 'nofile', soft: 1024, hard: 4096 },
      { name: 'core', soft: 0, hard: 0 },
      { name: 'stack' },
    ],
  });
  expect(planLimits({ timeout: 1500 }).timeoutMs).toBe(1500);
  expect(planLimits({ timeout: '90' }).timeoutMs).toBe(90_000);
  // The grace after the timeout's SIGTERM: 0 (SIGKILL at once) is a value, absent is the launcher's default.
  expect(planLimits({ timeout: '1m', timeoutGrace: '10s' })).toEqual({ timeoutMs: 60_000, timeoutGraceMs: 10_000 });
  expect(planLimits({ timeoutGrace: 0 }).timeoutGraceMs).toBe(0);
  expect(planLimits({ timeoutGrace: '0' }).timeoutGraceMs).toBe(0);
  expect(planLimits({ timeoutGrace: 250 }).timeoutGraceMs).toBe(250);
  expect(planLimits({ timeout: '1m' }).timeoutGraceMs).toBeUndefined();
  expect(parseRlimitFlag('--rlimit', 'RLIMIT_NPROC=10:unlimited')).toEqual({ name: 'nproc', soft: 10 });
});

test.each([
  [{ memory: 'lots' }, 'limits.memory "lots"'],
  [{ memory: '1K' }, 'limits.memory "1K"'],
  [{ pids: 1 }, 'limits.pids 1'],
  [{ cpus: 0 }, 'limits.cpus 0'],
  [{ cpus: '-1' }, 'limits.cpus "-1"'],
  [{ timeout: '10x' }, 'limits.timeout "10x"'],
  [{ timeoutGrace: 'soon' }, 'limits.timeoutGrace "soon"'],
  [{ timeoutGrace: -1 }, 'limits.timeoutGrace -1'],
  [{ rlimits: { bogus: 1 } }, 'limits.rlimits "bogus": unknown resource'],
  [{ rlimits: { nofile: '10:5' } }, 'the soft limit is above the hard limit'],
  [{ rlimits: { nofile: '1:2:3' } }, 'not SOFT[:HARD]'],
  [{ swap: 1 }, 'limits.swap'],
])('bad limits are E_PLAN_INVALID naming the key and value: %j', (limits, msg) => {
  expect(() => planLimits(limits as never)).toThrow(expect.objectContaining({ code: 'E_PLAN_INVALID', message: expect.stringContaining(msg) }));
});
