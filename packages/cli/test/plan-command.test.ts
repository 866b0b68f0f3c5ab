// CLI argv -> plan: bubblewrap-style flags become ops in argv order, with
// --perms/--size modifying the next op, and every user mistake is E_USAGE.

import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planOf, runCli, usageError } from './helpers';
import { native, resetNative } from '../../core/test/support/native-mock';

const mockCheckPlan = native.checkPlan;
jest.mock('@sandboxctl/native', () => jest.requireActual<typeof import('../../core/test/support/native-mock')>('../../core/test/support/native-mock').native);

beforeEach(resetNative);

describe('ops', () => {
  it('keeps the argv order of mixed op flags', async () => {
    const plan = await planOf([
      '--tmpfs', '/tmp',
      '--ro-bind', '/usr', '/usr',
      '--symlink', 'usr/bin', '/bin',
      '--proc', '/proc',
      '--ro-bind', '/etc', '/etc',
      '--dir', '/work',
      '--dev', '/dev',
      '--bind', '/srv', '/srv',
      '--remount-ro', '/srv',
      '--tmpfs', '/run',
      '--', 'sh', '-c', 'echo hi',
    ]);
    expect(plan.ops).toEqual([
      { kind: 'tmpfs', target: '/tmp' },
      { kind: 'bind', source: '/usr', target: '/usr' },
      { kind: 'symlink', target: '/bin', linkname: 'usr/bin' },
      { kind: 'proc', target: '/proc' },
      { kind: 'bind', source: '/etc', target: '/etc' },
      { kind: 'dir', target: '/work' },
      { kind: 'dev', target: '/dev' },
      { kind: 'bind', source: '/srv', target: '/srv', writable: true },
      { kind: 'remount', target: '/srv' },
      { kind: 'tmpfs', target: '/run' },
    ]);
    expect(plan.argv).toEqual(['sh', '-c', 'echo hi']);
    expect(plan.version).toBe(1);
  });

  it('maps every bind flavour', async () => {
    const plan = await planOf([
      '--bind', '/a', '/a',
      '--bind-try', '/b', '/b',
      '--ro-bind', '/c', '/c',
      '--ro-bind-try', '/d', '/d',
      '--dev-bind', '/e', '/e',
      '--dev-bind-try', '/f', '/f',
      'true',
    ]);
    expect(plan.ops).toEqual([
      { kind: 'bind', source: '/a', target: '/a', writable: true },
      { kind: 'bind', source: '/b', target: '/b', writable: true, optional: true },
      { kind: 'bind', source: '/c', target: '/c' },
      { kind: 'bind', source: '/d', target: '/d', optional: true },
      { kind: 'bind', source: '/e', target: '/e', writable: true, device: true },
      { kind: 'bind', source: '/f', target: '/f', writable: true, device: true, optional: true },
    ]);
  });

  it('accepts --flag=value for single-value flags', async () => {
    const plan = await planOf(['--perms=0700', '--tmpfs=/tmp', '--hostname=box', 'true']);
    expect(plan.ops).toEqual([{ kind: 'tmpfs', target: '/tmp', mode: 0o700 }]);
    expect(plan.hostname).toBe('box');
  });

  it('takes the program without `--`, and everything after it verbatim', async () => {
    expect((await planOf(['--proc', '/proc', 'ls', '-la', '--bind', 'x'])).argv).toEqual(['ls', '-la', '--bind', 'x']);
    const plan = await planOf(['--proc', '/proc', '--', '--weird-program', '--tmpfs', '/x']);
    expect(plan.argv).toEqual(['--weird-program', '--tmpfs', '/x']);
    expect(plan.ops).toEqual([{ kind: 'proc', target: '/proc' }]);
  });

  it('stores --file-data text as a file op', async () => {
    const plan = await planOf(['--file-data', 'nameserver 10.0.0.1\n', '/etc/resolv.conf', 'true']);
    expect(plan.ops).toEqual([{ kind: 'file', target: '/etc/resolv.conf', data: 'nameserver 10.0.0.1\n' }]);
  });

  describe('--file and --ro-bind-data', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'sandboxctl-cli-test-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const openWith = (name: string, content: string | Buffer): number => {
      const file = join(dir, name);
      writeFileSync(file, content);
      return openSync(file, 'r');
    };

    it('read the fd now, as UTF-8, in argv order, and close it', async () => {
      const a = openWith('a', 'héllo\n');
      const b = openWith('b', 'second');
      const plan = await planOf(['--perms', '0600', '--file', String(a), '/etc/a', '--dir', '/d', '--ro-bind-data', String(b), '/etc/b', 'true']);
      expect(plan.ops).toEqual([
        { kind: 'file', target: '/etc/a', data: 'héllo\n', mode: 0o600 },
        { kind: 'dir', target: '/d' },
        { kind: 'file', target: '/etc/b', data: 'second' },
      ]);
      expect(() => fstatSync(a)).toThrow(expect.objectContaining({ code: 'EBADF' }));
      expect(() => fstatSync(b)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    });

    it('refuse a bad or closed fd and invalid UTF-8', async () => {
      expect((await usageError(['plan', '--file', 'x', '/etc/a', 'true'])).message).toBe(
        '--file takes a file descriptor number, got "x"',
      );
      const closed = openWith('c', 'x');
      closeSync(closed);
      const closedRun = await runCli(['plan', '--file', String(closed), '/etc/a', 'true']);
      expect(closedRun.status).toBe(125);
      expect(closedRun.stderr).toMatch(new RegExp(`^sandboxctl: E_PLAN_INVALID: --file ${closed}: fd ${closed} is not open\n`));
      const binary = openWith('d', Buffer.from([0xff, 0xfe, 0x00]));
      expect((await usageError(['plan', '--ro-bind-data', String(binary), '/etc/a', 'true'])).message).toBe(
        `cannot read --ro-bind-data fd ${binary}: not valid UTF-8`,
      );
    });
  });
});

describe('--perms and --size', () => {
  it('apply to the next op only', async () => {
    const plan = await planOf([
      '--tmpfs', '/a',
      '--size', '1048576', '--perms', '1777', '--tmpfs', '/b',
      '--tmpfs', '/c',
      '--perms', '0750', '--dir', '/d',
      '--perms', '0400', '--file-data', 'x', '/e',
      '--size', '4096', '--tmpfs', '/f',
      'true',
    ]);
    expect(plan.ops).toEqual([
      { kind: 'tmpfs', target: '/a' },
      { kind: 'tmpfs', target: '/b', size: 1048576, mode: 0o1777 },
      { kind: 'tmpfs', target: '/c' },
      { kind: 'dir', target: '/d', mode: 0o750 },
      { kind: 'file', target: '/e', data: 'x', mode: 0o400 },
      { kind: 'tmpfs', target: '/f', size: 4096 },
    ]);
  });

  it('may be separated from their op by policy flags', async () => {
    const plan = await planOf(['--perms', '0700', '--setenv', 'A', '1', '--share-net', '--dir', '/d', 'true']);
    expect(plan.ops).toEqual([{ kind: 'dir', target: '/d', mode: 0o700 }]);
  });

  it('are usage errors before an op that cannot take them', async () => {
    const perms = await usageError(['plan', '--perms', '0700', '--bind', '/a', '/b', 'true']);
    expect(perms.message).toBe('--perms 0700 cannot apply to --bind');
    expect(perms.hint).toBe('--perms only modifies the next --tmpfs, --dir, --file, --ro-bind-data or --file-data');
    expect((await usageError(['plan', '--size', '100', '--dir', '/d', 'true'])).message).toBe('--size 100 cannot apply to --dir');
    expect((await usageError(['plan', '--size', '100', '--file-data', 'x', '/f', 'true'])).message).toBe(
      '--size 100 cannot apply to --file-data',
    );
    expect((await usageError(['plan', '--perms', '0700', '--symlink', 'a', '/b', 'true'])).message).toBe(
      '--perms 0700 cannot apply to --symlink',
    );
  });

  it('are usage errors when no op follows', async () => {
    const error = await usageError(['plan', '--tmpfs', '/t', '--perms', '0700', 'true']);
    expect(error.message).toBe('--perms 0700 is not followed by an op');
    expect((await usageError(['plan', '--size', '10', '--', 'true'])).message).toBe('--size 10 is not followed by an op');
  });

  it('are usage errors when given twice for one op', async () => {
    expect((await usageError(['plan', '--perms', '0700', '--perms', '0755', '--dir', '/d', 'true'])).message).toBe(
      '--perms given twice before the same op',
    );
    expect((await usageError(['plan', '--size', '1', '--size', '2', '--tmpfs', '/t', 'true'])).message).toBe(
      '--size given twice before the same op',
    );
  });

  it('validate their values', async () => {
    expect((await usageError(['plan', '--perms', '0789', '--dir', '/d', 'true'])).message).toMatch(/^invalid value for --perms/);
    expect((await usageError(['plan', '--perms', '17777', '--dir', '/d', 'true'])).message).toBe(
      '--perms 17777 is not a permission mode',
    );
    expect((await usageError(['plan', '--size', '0', '--tmpfs', '/t', 'true'])).message).toMatch(/^invalid value for --size/);
    expect((await usageError(['plan', '--size', '1.5', '--tmpfs', '/t', 'true'])).message).toMatch(/^invalid value for --size/);
    expect((await usageError(['plan', '--size', '1k', '--tmpfs', '/t', 'true'])).message).toMatch(/^invalid value for --size/);
  });
});

describe('policy flags', () => {
  it('set the plan policy', async () => {
    const plan = await planOf([
      '--share-net', '--uid', '0', '--gid', '100', '--hostname', 'box', '--chdir', '/work',
      '--seccomp', 'none', '--linger-ms', '250', 'id',
    ]);
    expect(plan).toEqual({
      version: 1,
      argv: ['id'],
      ops: [],
      network: 'host',
      uid: 0,
      gid: 100,
      hostname: 'box',
      cwd: '/work',
      seccomp: { preset: 'none' },
      lingerMs: 250,
    });
  });

  it('accepts the bubblewrap unshare flags and friends; --unshare-net and --unshare-all say "no network" explicitly', async () => {
    const plan = await planOf([
      '--unshare-all', '--unshare-user', '--unshare-user-try', '--unshare-pid', '--unshare-ipc', '--unshare-uts',
      '--unshare-cgroup', '--unshare-cgroup-try', '--unshare-net', '--die-with-parent', '--new-session', 'true',
    ]);
    // network: none is the default; written out, it overrides a preset's or config file's `host`.
    expect(plan).toEqual({ version: 1, argv: ['true'], ops: [], network: 'none' });
    expect(await planOf(['--die-with-parent', '--new-session', '--unshare-pid', 'true'])).toEqual({ version: 1, argv: ['true'], ops: [] });
  });

  it('lets --share-net follow --unshare-all, as bubblewrap does', async () => {
    expect((await planOf(['--unshare-all', '--share-net', 'true'])).network).toBe('host');
  });

  it('refuses --share-net with --unshare-net', async () => {
    const error = await usageError(['plan', '--share-net', '--unshare-net', 'true']);
    expect(error.message).toMatch(/--share-net and --unshare-net/);
  });

  it('applies --setenv, --unsetenv and --clearenv in argv order', async () => {
    expect((await planOf(['--setenv', 'A', '1', '--unsetenv', 'B', '--setenv', 'A', '2', 'true'])).env).toEqual({
      set: { A: '2' },
      unset: ['B'],
    });
    expect((await planOf(['--setenv', 'A', '1', '--unsetenv', 'A', 'true'])).env).toEqual({ unset: ['A'] });
    expect((await planOf(['--setenv', 'A', '1', '--clearenv', '--setenv', 'PATH', '/bin', 'true'])).env).toEqual({
      inherit: false,
      set: { PATH: '/bin' },
    });
    expect((await planOf(['--setenv', 'GREETING', 'hi there', 'true'])).env).toEqual({ set: { GREETING: 'hi there' } });
  });

  it('validates ids, the seccomp preset and the linger time', async () => {
    expect((await usageError(['plan', '--uid', 'root', 'true'])).message).toMatch(/^invalid value for --uid/);
    expect((await usageError(['plan', '--gid', '4294967296', 'true'])).message).toMatch(/^invalid value for --gid/);
    expect((await usageError(['plan', '--seccomp', 'lax', 'true'])).message).toMatch(/^invalid value for --seccomp/);
    expect((await usageError(['plan', '--linger-ms', '1.5', 'true'])).message).toMatch(/^invalid value for --linger-ms/);
  });
});

describe('usage errors', () => {
  it('an unknown flag', async () => {
    const error = await usageError(['run', '--no-such-flag', '--', 'true']);
    expect(error.message).toBe('unsupported option name ("--no-such-flag")');
    expect(error.hint).toBe('see `sandboxctl run --help`');
  });

  it('a flag missing its values', async () => {
    expect((await usageError(['plan', '--bind', '/a'])).message).toBe('not enough arguments to option --bind');
  });

  it('no program', async () => {
    expect((await usageError(['plan', '--proc', '/proc'])).message).toBe('not enough positional arguments');
    expect((await usageError(['run'])).message).toBe('not enough positional arguments');
  });

  it('an unknown command', async () => {
    const error = await usageError(['frobnicate']);
    expect(error.message).toBe('unknown command "frobnicate"');
    expect(error.hint).toMatch(/run, exec, cp, ps, stop, plan, doctor/);
  });
});

describe('plan output', () => {
  it('is indented JSON by default and one line with --json', async () => {
    const pretty = await runCli(['plan', '--tmpfs', '/tmp', 'true']);
    expect(pretty.status).toBe(0);
    expect(pretty.stdout).toBe(
      `${JSON.stringify({ version: 1, argv: ['true'], ops: [{ kind: 'tmpfs', target: '/tmp' }] }, null, 2)}\n`,
    );
    const compact = await runCli(['plan', '--json', '--tmpfs', '/tmp', 'true']);
    expect(compact.stdout).toBe('{"version":1,"argv":["true"],"ops":[{"kind":"tmpfs","target":"/tmp"}]}\n');
  });

  it('is checked natively, and a plan error names the flag behind the op', async () => {
    mockCheckPlan.mockReturnValue({
      code: 'E_SOURCE_MISSING',
      message: 'plan.ops[1].source (bind): source /nope does not exist',
      opIndex: 1,
      path: 'plan.ops[1].source',
    });
    const result = await runCli(['plan', '--tmpfs', '/tmp', '--ro-bind', '/nope', '/my dir', 'true']);
    expect(result.status).toBe(125);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      "sandboxctl: E_SOURCE_MISSING: plan.ops[1].source (bind): source /nope does not exist (from --ro-bind /nope '/my dir')\n",
    );
    expect(JSON.parse(mockCheckPlan.mock.calls[0]![0])).toMatchObject({ ops: [{ kind: 'tmpfs' }, { kind: 'bind' }] });
  });
});

describe('help and version', () => {
  it('--version prints the package version', async () => {
    const result = await runCli(['--version']);
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`${(JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version}\n`);
  });

  it('--help on a command prints its usage with the op flags', async () => {
    const result = await runCli(['run', '--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/run a program in a new sandbox/i);
    expect(result.stdout).toContain('--ro-bind SRC DEST');
    expect(result.stdout).toContain('--perms OCTAL');
  });
});

describe('network allow list (issue 14)', () => {
  it('--allow-host, --allow-hosts, --deny-host, --allow-local-binding and --report make the policy', async () => {
    const plan = await planOf([
      '--allow-host', 'registry.npmjs.org',
      '--allow-hosts', 'npm,pypi',
      '--allow-host', '*.example.com:443',
      '--allow-hosts', 'npm',
      '--deny-host', 'bad.example.com',
      '--allow-local-binding',
      '--report', '-',
      '--', 'true',
    ]);
    expect(plan.network).toEqual({ allow: ['registry.npmjs.org', '*.example.com:443'], allowSets: ['npm', 'pypi'], deny: ['bad.example.com'], allowLocalBinding: true });
    expect(plan.report).toBe(true);
  });

  it('a deny rule alone is an empty allow list: no network', async () => {
    expect((await planOf(['--deny-host', 'x.org', '--', 'true'])).network).toEqual({ allow: [], deny: ['x.org'] });
  });

  it('--share-net with an allow list is a usage error', async () => {
    expect((await usageError(['plan', '--share-net', '--allow-host', 'a.org', '--', 'true'])).message).toBe('--share-net and --allow-host exclude each other');
  });

  it('an unknown host set names the flag, the list and the sets', async () => {
    const result = await runCli(['plan', '--allow-hosts', 'npm,nope', '--', 'true']);
    expect(result.status).toBe(125);
    expect(result.stderr).toContain('E_PLAN_INVALID: --allow-hosts npm,nope: unknown host set "nope"');
    expect(result.stderr).toContain('npm, pypi, crates, github, go, maven, debian');
  });
});
