/**
 * No set-uid or set-gid bit can be created from inside (issue 8, route 3: a
 * root caller's `chmod 4755` left a set-uid-root binary in the project). One
 * case per syscall, each with S_ISUID, S_ISGID and both, plus a 0755 control
 * that shows the probe really creates or changes the file; the directory is
 * a host directory bound read-write, and after the run the host's own
 * `stat` of every entry must show neither bit. The setxattr family answers
 * EOPNOTSUPP (security.capability would be a file capability on the host).
 * Runs as root and as the unprivileged user (`npm test` does both).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BASE, TRY_IN, cli, requireKernel } from '../helpers';

const x64 = process.arch === 'x64';
/** Calls that create the file with the mode. */
const CREATE = [...(x64 ? ['creat', 'open', 'mknod'] : []), 'openat', 'tmpfile', 'mknodat'];
/** mkdir: the kernel itself drops both bits from the mode (the filter lets it be: `cp -r` of a set-gid directory asks for them). */
const MKDIR = [...(x64 ? ['mkdir'] : []), 'mkdirat'];
/** Calls that change the mode of an existing (0644) file. */
const CHANGE = [...(x64 ? ['chmod'] : []), 'fchmod', 'fchmodat', 'fchmodat2'];
const MODES = ['4755', '2755', '6755', '0755'];
const XATTR = ['setxattr', 'lsetxattr', 'fsetxattr', 'setxattrat'];

let root: string;

/** `stat -c '%a %n'` of every entry under `dir`, by the host's own stat. */
function hostModes(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  const names = readdirSync(dir);
  if (names.length === 0) return out;
  const text = execFileSync('stat', ['-c', '%a %n', ...names.map((n) => join(dir, n))], { encoding: 'utf8' });
  for (const line of text.trim().split('\n')) {
    const [mode, path] = line.split(' ');
    out.set(path.slice(dir.length + 1), parseInt(mode, 8));
  }
  return out;
}

/** Run `sbx-try` probes in one sandbox with `dir` bound read-write: `key answer` lines. */
async function probe(dir: string, probes: [string, string][], extra: string[] = []): Promise<Map<string, string>> {
  const script = probes.map(([key, args]) => `echo "${key} $(${TRY_IN} ${args} 2>&1)"`).join('\n');
  const r = await cli(['run', ...BASE, '--bind', dir, dir, ...extra, '--', '/bin/sh', '-c', script]);
  expect([r.stderr, r.code]).toEqual(['', 0]);
  return new Map(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]));
}

beforeAll(() => {
  requireKernel();
  root = mkdtempSync('/tmp/sbx-suid-');
  chmodSync(root, 0o755);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('set-uid and set-gid modes under the strict filter', () => {
  const answers = new Map<string, string>();
  let dir: string;

  beforeAll(async () => {
    dir = join(root, 'strict');
    mkdirSync(dir);
    const probes: [string, string][] = [...CREATE, ...CHANGE, ...MKDIR].flatMap((call) => MODES.map((m): [string, string] => [`${call}-${m}`, `mode ${call} ${dir}/${call}-${m} ${m}`]));
    probes.push(...MODES.map((m): [string, string] => [`openat2-${m}`, `mode openat2 ${dir}/openat2-${m} ${m}`]));
    probes.push(...XATTR.flatMap((call) => ['security.capability', 'user.sbx'].map((name): [string, string] => [`${call}:${name}`, `xattr ${call} ${dir}/x-${call} ${name}`])));
    for (const [k, v] of await probe(dir, probes)) answers.set(k, v);
  });

  test.each([...CREATE, ...CHANGE])('%s: S_ISUID, S_ISGID and both answer EPERM; 0755 works', (call) => {
    expect(MODES.map((m) => answers.get(`${call}-${m}`))).toEqual(['EPERM', 'EPERM', 'EPERM', 'ok']);
  });

  test.each(MKDIR)('%s with the bits succeeds, as the kernel drops them (the host check below)', (call) => {
    expect(MODES.map((m) => answers.get(`${call}-${m}`))).toEqual(['ok', 'ok', 'ok', 'ok']);
  });

  test('openat2 answers ENOSYS whatever the mode: its struct is out of the filter\'s reach', () => {
    expect(MODES.map((m) => answers.get(`openat2-${m}`))).toEqual(['ENOSYS', 'ENOSYS', 'ENOSYS', 'ENOSYS']);
  });

  test.each(XATTR)('%s answers EOPNOTSUPP, for security.capability and any other name', (call) => {
    expect([answers.get(`${call}:security.capability`), answers.get(`${call}:user.sbx`)]).toEqual(['EOPNOTSUPP', 'EOPNOTSUPP']);
  });

  test('on the host, no entry has a set-uid or set-gid bit; the controls exist with their mode', () => {
    const modes = hostModes(dir);
    const withBits = [...modes].filter(([, m]) => (m & 0o6000) !== 0).map(([n, m]) => `${n} ${m.toString(8)}`);
    expect(withBits).toEqual([]);
    // the 0755 controls were really made: the probes do reach the file system
    for (const call of [...CREATE, ...CHANGE]) expect([call, modes.get(`${call}-0755`)]).toEqual([call, 0o755]);
    // the refused changes left the files as they were made, 0644
    for (const call of CHANGE) expect([call, modes.get(`${call}-4755`)]).toEqual([call, 0o644]);
    for (const call of CREATE) expect([call, modes.has(`${call}-4755`)]).toEqual([call, false]);
    // directories made with the bits asked for have neither
    for (const call of MKDIR) expect([call, modes.get(`${call}-6755`)]).toEqual([call, 0o755]);
  });
});

describe('without the filter the same probes reach the kernel (the answers above are the filter\'s)', () => {
  test('openat2 creates the file, TIOCSETD meets a non-terminal, a user attribute is set', async () => {
    const dir = join(root, 'none');
    mkdirSync(dir);
    const a = await probe(dir, [['openat2', `mode openat2 ${dir}/openat2 0755`], ['tioc', 'syscall ioctl-tiocsetd'], ['xattr', `xattr setxattr ${dir}/x user.sbx`]], ['--seccomp', 'none']);
    expect(a.get('openat2')).toBe('ok');
    expect(a.get('tioc')).toBe('ENOTTY');
    expect(a.get('xattr')).toBe('ok');
    expect(hostModes(dir).get('openat2')).toBe(0o755);
  });
});

describe('the agent preset: the route of issue 8 re-created with real tools', () => {
  test('cp /usr/bin/id x; chmod 4755 x; chmod g+s; install -m 4755; python os.chmod; ln of a set-uid binary: refused, and nothing on the host has the bit', async () => {
    // the escape suite's setuid-root binary: the hard link below needs one
    expect((statSync('/usr/bin/chfn').mode & 0o4000) !== 0).toBe(true);
    const home = join(root, 'home');
    const project = join(home, 'project');
    mkdirSync(project, { recursive: true });
    mkdirSync(join(project, 's'));
    chmodSync(join(project, 's'), 0o2775);
    const script = [
      'cp /usr/bin/id x',
      'chmod 4755 x; echo "chmod=$?"',
      'chmod u+s x; echo "u+s=$?"',
      'chmod g+s x; echo "g+s=$?"',
      'install -m 4755 /usr/bin/id y; echo "install=$?"',
      '/usr/bin/python3 -c "import os; os.chmod(\'x\', 0o6755)" 2>/dev/null; echo "python=$?"',
      'mkdir -m 2775 d; echo "mkdir=$?"', // mkdir(2) makes it, the chmod(2) that follows is refused
      'cp -r s s2; echo "cp-r=$?"', // a set-gid directory (made so on the host) copied without -p: works, without the bit
      'cp -a s s3 2>/dev/null; echo "cp-a=$?"', // with -p the bit cannot be kept: cp says so
      // a hard link keeps the inode's set-uid bit: the project and /usr are one file system on many hosts
      'ln /usr/bin/chfn chfn-link 2>/dev/null; echo "ln=$?"',
      'chmod 755 x; echo "plain=$?"',
    ].join('; ');
    const r = await cli(['run', '--preset', 'agent', '--', '/bin/sh', '-c', script], { cwd: project, env: { ...process.env, HOME: home } });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['chmod=1', 'u+s=1', 'g+s=1', 'install=1', 'python=1', 'mkdir=1', 'cp-r=0', 'cp-a=1', 'ln=1', 'plain=0']);
    const withBits = [...hostModes(project)].filter(([n, m]) => n !== 's' && (m & 0o6000) !== 0);
    expect(withBits).toEqual([]);
    expect(hostModes(project).get('s')).toBe(0o2775); // the host's own, untouched
    expect(hostModes(project).get('x')).toBe(0o755);
  });
});
