/**
 * CLI argv → plan, property-tested with fast-check, in-process through the
 * CLI's `main` (`sandboxctl plan … -- /bin/true`):
 *
 * - any sequence of well-formed op flags gives a plan with the same ops in
 *   argv order, which the native checker accepts;
 * - any argv at all (known flags with hostile values, unknown flags, NUL
 *   bytes, `..`, relative paths, long strings) ends in exit 0 with a valid plan
 *   or exit 125 with `sandboxctl: E_CODE: …`, never a crash or E_INTERNAL.
 *
 * Seeds are printed by fast-check on failure; re-run one with
 * FC_SEED=<seed> (and FC_RUNS for more runs).
 */
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { requireKernel } from '../helpers';
import { PLAN_FLAGS } from '../../../packages/cli/src/flags';
import { main } from 'sandboxctl';
import { checkPlan } from '@sandboxctl/core';

beforeAll(requireKernel);

const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined;
const runs = (n: number) => Number(process.env.FC_RUNS) || n;

async function plan(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, cb) {
        add(chunk.toString());
        cb();
      },
    });
  const status = await main(['plan', '--json', ...args, '--', '/bin/true'], {
    stdout: sink((s) => (stdout += s)),
    stderr: sink((s) => (stderr += s)),
    colorDepth: 1,
  });
  return { status, stdout, stderr };
}

const segment = fc.stringMatching(/^[a-z0-9_-][a-z0-9._-]{0,7}$/).filter((s) => s !== '.' && s !== '..');
const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`);
const source = fc.constantFrom('/', '/usr', '/etc', '/tmp', '/var');

/** One well-formed op flag: its argv and what the plan's op must look like. */
type Gen = { argv: string[]; op: Record<string, unknown> };
const opFlag: fc.Arbitrary<Gen> = fc.oneof(
  fc.tuple(fc.constantFrom('--ro-bind', '--bind', '--dev-bind'), source, path).map(([f, s, d]) => ({
    argv: [f, s, d],
    op: { kind: 'bind', source: s, target: d, ...(f !== '--ro-bind' && { writable: true }), ...(f === '--dev-bind' && { device: true }) },
  })),
  fc.tuple(fc.constantFrom('--ro-bind-try', '--bind-try'), fc.oneof(source, fc.constant('/nonexistent-sbx-fuzz')), path).map(([f, s, d]) => ({
    argv: [f, s, d],
    op: { kind: 'bind', source: s, target: d, optional: true },
  })),
  fc.tuple(fc.constantFrom('--proc', '--dev', '--mqueue', '--remount-ro'), path).map(([f, d]) => ({
    argv: [f, d],
    op: { kind: { '--proc': 'proc', '--dev': 'dev', '--mqueue': 'mqueue', '--remount-ro': 'remount' }[f], target: d },
  })),
  fc.tuple(fc.option(fc.integer({ min: 0, max: 0o7777 })), fc.option(fc.integer({ min: 1, max: 2 ** 40 })), path).map(([mode, size, d]) => ({
    argv: [...(mode === null ? [] : ['--perms', mode.toString(8)]), ...(size === null ? [] : ['--size', String(size)]), '--tmpfs', d],
    op: { kind: 'tmpfs', target: d, ...(mode !== null && { mode }), ...(size !== null && { size }) },
  })),
  fc.tuple(fc.option(fc.integer({ min: 0, max: 0o7777 })), path).map(([mode, d]) => ({
    argv: [...(mode === null ? [] : ['--perms', mode.toString(8)]), '--dir', d],
    op: { kind: 'dir', target: d, ...(mode !== null && { mode }) },
  })),
  fc.tuple(fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\0') && !s.startsWith('-')), path).map(([l, d]) => ({
    argv: ['--symlink', l, d],
    op: { kind: 'symlink', linkname: l, target: d },
  })),
  fc.tuple(fc.string({ maxLength: 200 }).filter((s) => !s.startsWith('-')), path).map(([text, d]) => ({
    argv: ['--file-data', text, d],
    op: { kind: 'file', data: text, target: d },
  })),
  fc.tuple(fc.integer({ min: 0, max: 0o7777 }), path).map(([mode, d]) => ({
    argv: ['--chmod', mode.toString(8).padStart(4, '0'), d],
    op: { kind: 'chmod', mode, target: d },
  })),
);

test('well-formed op flags: the plan has the same ops in argv order, and it checks', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opFlag, { maxLength: 12 }), async (gens) => {
      const r = await plan(gens.flatMap((g) => g.argv));
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const p = JSON.parse(r.stdout);
      expect(p.ops).toHaveLength(gens.length);
      gens.forEach((g, i) => expect(p.ops[i]).toMatchObject(g.op));
      expect(checkPlan(r.stdout)).toBeNull();
    }),
    { numRuns: runs(300), seed },
  );
});

// fd-reading flags read this process's descriptors: left out, they are not argv.
const flags = PLAN_FLAGS.filter((f) => f.group !== 'source' && f.flag !== '--file' && f.flag !== '--ro-bind-data').map((f) => f.flag);
const hostile = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.fullUnicodeString({ maxLength: 10 }),
  path,
  fc.constantFrom('', '/', '..', '/..', '/a/../b', 'relative', './x', '/a\0b', '\0', '-1', '0', '4294967295', '4294967296', '0x10', '1e3', '777', '99999', '--', '-', '/proc/self/fd/0'),
  fc.integer().map(String),
  fc.constant('/' + 'x'.repeat(5000)),
);
// Multi-value flags in `--flag=value` form (`--ro-bind=/ /x`, `--setenv=A B`)
// are a usage error that says how to write them (they once crashed as E_INTERNAL).
const token = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...flags) },
  { weight: 3, arbitrary: hostile },
  { weight: 1, arbitrary: fc.constantFrom('--no-such-flag', '-x', '--tmpfs=/t', '--uid=0', '--perms=0700', '--share-net', '--unshare-net', '--help', '--ro-bind=/', '--setenv=A', '--overlay=/u') },
);

test('any argv: exit 0 with a plan that checks, or 125 with a stable code; never a crash', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(token, { maxLength: 14 }), async (args) => {
      if (args.includes('--help')) return; // prints usage, exit 0, no plan
      const r = await plan(args);
      expect([0, 125]).toContain(r.status);
      if (r.status === 0) {
        expect(checkPlan(r.stdout)).toBeNull();
      } else {
        expect(r.stderr).toMatch(/^sandboxctl: E_[A-Z_]+: /);
        expect(r.stderr).not.toMatch(/E_INTERNAL|\n\s+at /);
      }
    }),
    { numRuns: runs(400), seed },
  );
});
