/**
 * What every program expects from the process it starts in (issue 9, items
 * 2, 7 and 8): default signal dispositions (SIGPIPE), scripts without `#!`
 * run by /bin/sh as execvp callers do, and a directory the caller cannot
 * write is simply a directory the program cannot write either.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireKernel } from '../helpers';
import { cleanup, host, inside, insideSh, project, type Preset } from './realwork';

beforeAll(requireKernel);

const PRESETS: Preset[] = ['agent', 'build'];

let dir: string;
beforeEach(() => (dir = project('basics')));
afterEach(() => {
  chmodSync(dir, 0o755);
  cleanup(dir);
});

describe.each(PRESETS)('--preset %s', (preset) => {
  test('`seq 1 100000 | head -1`: seq dies of SIGPIPE (status 141), quietly', async () => {
    const r = await inside(preset, dir, ['/bin/bash', '-c', 'seq 1 100000 | head -1; echo "status=${PIPESTATUS[0]}"']);
    expect(r).toHaveRun('seq | head');
    expect(r).toHavePrinted('seq | head', /^1\nstatus=141\n$/);
    expect(r.stderr).toBe('');
  }, 20000);

  test('a signal disposition or mask set by the caller does not reach the program', async () => {
    // /proc/self/status of the program itself: nothing ignored, nothing blocked.
    const r = await inside(preset, dir, ['/bin/sh', '-c', 'grep -E "^Sig(Blk|Ign):" /proc/self/status']);
    expect(r).toHaveRun('grep /proc/self/status');
    expect(r).toHavePrinted('grep /proc/self/status', /^SigBlk:\s+0+\nSigIgn:\s+0+\n$/);
  }, 20000);

  test('an executable script without `#!` runs with /bin/sh, as a shell would run it', async () => {
    writeFileSync(join(dir, 'noshebang'), 'echo "ran by $0 with $#"\nexit 0\n', { mode: 0o755 });
    const direct = await inside(preset, dir, ['./noshebang', 'one']);
    expect(direct).toHaveRun('./noshebang (no #!)');
    expect(direct).toHavePrinted('./noshebang (no #!)', /^ran by \.\/noshebang with 1\n$/);
    // The same script run by a shell inside: the behaviour being matched.
    const viaShell = await insideSh(preset, dir, './noshebang one');
    expect(viaShell).toHaveRun('sh -c ./noshebang');
    expect(viaShell.stdout).toBe(direct.stdout);
  }, 20000);

  test('a directory the program cannot write: the run just runs', async () => {
    // A checkout the caller owns but has made read-only (mode 0555 on every
    // directory, a repository without .git/hooks); as root a mode does not
    // stop the caller, so the unprivileged run (npm test runs both) is the
    // one where nothing there can be written.
    host('git', ['init', '-q', '.'], dir);
    writeFileSync(join(dir, 'README'), 'read-only checkout\n');
    host('git', ['add', '-A'], dir);
    host('git', ['commit', '-qm', 'init'], dir);
    host('rm', ['-rf', '.git/hooks'], dir);
    host('chmod', ['-R', 'a-w', '.'], dir);
    try {
      const r = await inside(preset, dir, ['/bin/sh', '-c', 'cat README && git log --format=%s'], preset === 'build' ? { output: dir } : {});
      expect(r).toHaveRun('sh in a read-only directory');
      expect(r).toHavePrinted('sh in a read-only directory', /^read-only checkout\ninit\n$/);
      expect(host('git', ['status', '--porcelain', '--ignored'], dir)).toBe('');
    } finally {
      host('chmod', ['-R', 'u+w', '.'], dir);
    }
  }, 20000);
});

describe('a root-owned directory', () => {
  test('--preset agent -- true in a directory owned by root that the caller cannot write', async () => {
    // /usr/share is root-owned on every Debian; an unprivileged caller cannot
    // write it, root can (there this case shows a root-owned system directory
    // is left as it was: no stand-in remains).
    const target = '/usr/share';
    const before = host('ls', ['-A', target], '/');
    const r = await inside('agent', target, ['true']);
    expect(r).toHaveRun('true in /usr/share');
    expect(host('ls', ['-A', target], '/')).toBe(before);
  }, 20000);

  test('--preset agent -- git status in a read-only repository: clean, no stand-in shows', async () => {
    // The shape of a root-owned checkout (the unprivileged run cannot create
    // root-owned files, so the caller's own, made read-only).
    mkdirSync(join(dir, 'repo'));
    const repo = join(dir, 'repo');
    host('git', ['init', '-q', '.'], repo);
    writeFileSync(join(repo, 'f'), 'f\n');
    host('git', ['add', '-A'], repo);
    host('git', ['commit', '-qm', 'init'], repo);
    host('rm', ['-rf', '.git/hooks'], repo);
    host('chmod', ['-R', 'a-w', '.'], repo);
    try {
      const r = await inside('agent', repo, ['git', '-c', `safe.directory=${repo}`, 'status', '--porcelain']);
      expect(r).toHaveRun('git status in a read-only repository');
      expect(r.stdout).toBe('');
    } finally {
      host('chmod', ['-R', 'u+w', '.'], repo);
    }
  }, 20000);
});
