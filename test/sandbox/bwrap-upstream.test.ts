/**
 * bubblewrap's own test suite (Debian's source package, fetched by `.ci/bwrap-suite.sh fetch`,
 * never copied into the repository), run in the same job with Debian's `/usr/bin/bwrap` and with
 * our drop-in `sandboxctl-bwrap`: every case Debian's bwrap passes here must pass with ours. The
 * sandbox project runs this file as root and again as the unprivileged user, so the counts are
 * per user. A FUSE mount owned by the user is provided for the run, so the suite's FUSE cases
 * (skipped without one) run for both. Nothing is excused: `test-specifying-userns.sh` and
 * `test-specifying-pidns.sh` join a first sandbox's namespaces through /proc/PID/ns of the
 * `child-pid` --info-fd names, which is our program's process (docs/bwrap.md).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers';

const SUITE = join(ROOT, '.ci/bwrap-suite.sh');
const SRC = process.env.SANDBOXCTL_BWRAP_SRC ?? '/var/cache/sandboxctl/bubblewrap';
const OURS = join(ROOT, 'packages/native/sandboxctl-bwrap');
const DEBIAN = '/usr/bin/bwrap';

interface Case {
  script: string;
  n: number;
  status: 'pass' | 'fail' | 'skip' | 'missing';
  desc: string;
}

function parse(file: string): Case[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [script, n, status, desc] = line.split('\t');
      return { script, n: Number(n), status: status as Case['status'], desc };
    });
}

let work: string;
let fuseDir: string | undefined;

beforeAll(() => {
  if (!existsSync(join(SRC, 'tests/test-run.sh'))) {
    throw new Error(`bubblewrap's test suite is not in ${SRC}: run '.ci/bwrap-suite.sh fetch' as root (it adds a deb-src entry and runs apt-get source bubblewrap)`);
  }
  for (const bin of [OURS, DEBIAN]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing (npm run build builds ours; .ci/run installs Debian's bubblewrap)`);
  }
  work = mkdtempSync(join(tmpdir(), 'sbx-bwsuite-'));
  // A FUSE filesystem mounted by this user: libtest.sh binds it in the FUSE cases.
  const img = join(work, 'fuse.sqfs');
  const content = join(work, 'content');
  mkdirSync(content);
  writeFileSync(join(content, 'hello'), 'hello\n');
  const pack = spawnSync('mksquashfs', [content, img, '-quiet', '-no-progress', '-noappend'], { encoding: 'utf8' });
  if (pack.status !== 0) throw new Error(`mksquashfs: ${pack.stderr}`);
  const mnt = join(work, 'fuse');
  mkdirSync(mnt);
  const mount = spawnSync('squashfuse', [img, mnt], { encoding: 'utf8' });
  if (mount.status !== 0) throw new Error(`squashfuse ${img}: ${mount.stderr}`);
  fuseDir = mnt;
});

afterAll(() => {
  if (fuseDir) spawnSync('fusermount', ['-u', fuseDir]);
  if (work) rmSync(work, { recursive: true, force: true });
});

function runSuite(bwrap: string, out: string): Case[] {
  const r = spawnSync('bash', [SUITE, 'run', bwrap, out], { encoding: 'utf8', timeout: 20 * 60_000 });
  // The summary line goes to stdout; a script's failure tail to stderr.
  process.stdout.write(r.stdout);
  if (r.stderr) process.stdout.write(r.stderr);
  if (r.status !== 0) throw new Error(`bwrap-suite run ${bwrap} exited ${r.status}: ${r.stderr}`);
  return parse(out);
}

test('every case Debian’s bwrap passes also passes with sandboxctl-bwrap', () => {
  const ref = runSuite(DEBIAN, join(work, 'debian.tsv'));
  const ours = runSuite(OURS, join(work, 'ours.tsv'));

  const refPassed = ref.filter((c) => c.status === 'pass');
  // The suite really ran: test-run.sh alone has 59 cases; most pass with Debian's bwrap.
  expect(ref.length).toBeGreaterThanOrEqual(60);
  expect(refPassed.length).toBeGreaterThanOrEqual(50);
  // With a user-owned FUSE mount present the FUSE cases are not skipped.
  expect(ref.filter((c) => /FUSE/.test(c.desc) && c.status === 'pass').length).toBe(4);

  const key = (c: Case) => `${c.script}#${c.n}`;
  const oursBy = new Map(ours.map((c) => [key(c), c]));
  const regressions = refPassed
    .filter((c) => {
      const o = oursBy.get(key(c));
      return !o || o.status !== 'pass' || o.desc !== c.desc;
    })
    .map((c) => `${key(c)} ${c.desc}: ours ${oursBy.get(key(c))?.status ?? 'absent'}`);

  const user = spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim();
  const count = (cs: Case[], s: Case['status']) => cs.filter((c) => c.status === s).length;
  process.stdout.write(
    `Debian source: ${readFileSync(join(SRC, 'debian/changelog'), 'utf8').split('\n')[0]}\n` +
      `as ${user}: Debian's bwrap ${count(ref, 'pass')} pass / ${count(ref, 'skip')} skip / ${count(ref, 'fail')} fail of ${ref.length}; ` +
      `sandboxctl-bwrap ${count(ours, 'pass')} pass / ${count(ours, 'skip')} skip / ${count(ours, 'fail') + count(ours, 'missing')} fail of ${ours.length}\n`,
  );
  // The two cases that join namespaces ran and passed with Debian's bwrap (not skipped).
  for (const k of ['test-specifying-userns.sh#1', 'test-specifying-pidns.sh#1']) {
    expect(ref.find((c) => key(c) === k)?.status).toBe('pass');
  }
  expect(regressions).toEqual([]);
}, 40 * 60_000);
