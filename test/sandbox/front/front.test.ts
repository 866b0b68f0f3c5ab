/**
 * The native front (crates/sandbox-front, started by the package's
 * bin/sandboxctl script): what it answers itself must be what the Node CLI
 * answers, byte for byte, and everything else must reach Node.
 *
 * - drift: plans (`sandboxctl-front --front-plan` against `sandboxctl plan
 *   --json`) for command lines in the subset; command lines just outside
 *   it are refused by the front; help and version bytes, plain, coloured
 *   and on a terminal; the colour decision against Node's own; errors
 *   (stderr and status) for bad input;
 * - reach: a `--require` in NODE_OPTIONS marks every Node start, so each
 *   command line shows which side answered;
 * - real runs through the bin: mounts, namespaces, exit statuses, signals
 *   forwarded, stdin, a terminal, no leaked fds, the program's environment.
 */
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { WriteStream } from 'node:tty';
import { join, relative as relative_ } from 'node:path';
import { colorDepthOf } from '../../../packages/cli/src/help';
import { joinArgs, parseJoinPid, resolveJoin, type JoinOptions } from '../../../packages/core/src/launcher/join';
import { CLI, INIT, ROOT, hostProcessesWith, requireKernel, tempDir, until } from '../helpers';
import { useImages } from '../image/fixtures';

const BIN = join(ROOT, 'packages/cli/bin/sandboxctl');
const FRONT = join(ROOT, 'packages/native/sandboxctl-front');
const FULL = ['--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev'];

const work = tempDir('sbx-front-');
const marker = join(work, 'marker.js');
writeFileSync(marker, "require('node:fs').writeSync(2, 'NODE-STARTED\\n');\n");
/** The environment of every command here: Node announces itself on stderr. */
const ENV: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, PWD: work, LANG: 'C.UTF-8', NODE_OPTIONS: `--require ${marker}` };
const NODE_MARK = 'NODE-STARTED\n';

/** A process's start time (field 22 of /proc/PID/stat), or undefined once it is gone. */
function startOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

interface Out {
  status: number | null;
  stdout: string;
  stderr: string;
  node: boolean;
}

function ran(r: ReturnType<typeof spawnSync>): Out {
  const stderr = String(r.stderr ?? '');
  return { status: r.status, stdout: String(r.stdout ?? ''), stderr: stderr.replace(NODE_MARK, ''), node: stderr.includes(NODE_MARK) };
}

/** `sandboxctl ARGS` as users run it: the package's bin. */
function bin(args: string[], opts: SpawnSyncOptions = {}): Out {
  return ran(spawnSync(BIN, args, { cwd: work, encoding: 'utf8', input: '', timeout: 30_000, ...opts, env: { ...ENV, ...(opts.env ?? {}) } }));
}

/** The same through Node, as before the front existed. */
function node(args: string[], opts: SpawnSyncOptions = {}): Out {
  return ran(spawnSync(process.execPath, [CLI, ...args], { cwd: work, encoding: 'utf8', input: '', timeout: 30_000, ...opts, env: { ...ENV, ...(opts.env ?? {}) } }));
}

/** The plan the front makes for `run ARGS`, or null when it leaves them to Node. */
function frontPlan(args: string[], cwd = work, env: NodeJS.ProcessEnv = {}): string | null {
  const r = spawnSync(FRONT, ['--front-plan', CLI, 'run', ...args], { cwd, encoding: 'utf8', env: { ...ENV, ...env } });
  if (r.status === 3) return null;
  expect(r.status).toBe(0);
  return r.stdout;
}

beforeAll(() => {
  requireKernel();
  for (const d of ['sub/dir', 'src', 'out']) mkdirSync(join(work, d), { recursive: true });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('plans: the front builds exactly the Node CLI plan', () => {
  const inside: string[][] = [
    [...FULL, '--', 'true'],
    [...FULL, 'true', '--bind', 'a', 'b', '-h2'],
    ['--bind', 'src', 'src', '--bind-try', './out', '/out', '--ro-bind-try', '/nope', '/n', '--dev-bind', '/dev/null', '/null', '--dev-bind-try', 'x/../sub', 'y', '--', 'ls', '-l'],
    ['--tmpfs', '/tmp', '--perms', '0700', '--size', '4096', '--tmpfs', 't', '--perms', '755', '--dir', 'sub/dir', '--dir', '/d', '--', 'true'],
    ['--symlink', 'usr/bin', '/bin', '--symlink', '../x', 'rel/link', '--file-data', 'hello\nworld "q"', '/etc/x', '--perms', '0600', '--file-data', '\u00e9t\u00e9', 'f', '--', 'true'],
    ['--remount-ro', '/', '--mqueue', '/dev/mqueue', '--chmod', '0700', '/tmp', '--chmod', '7', 'rel', '--autoetc', '/etc', '--autoroot', '/', '--passwd', '/etc', '--', 'true'],
    ['--hostname', 'a', '--share-net', '--hostname', 'b', '--unshare-all', '--uid', '0', '--gid', '4294967294', '--chdir', 'sub/../src/', '--', 'true'],
    ['--unshare-net', '--unshare-user', '--unshare-user-try', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup', '--unshare-cgroup-try', '--die-with-parent', '--new-session', '--', 'true'],
    ['--unshare-all', '--share-net', '--', 'true'],
    ['--setenv', 'A', '1', '--unsetenv', 'B', '--setenv', 'B', '2', '--unsetenv', 'A', '--unsetenv', 'C', '--', 'env'],
    ['--unsetenv', 'X', '--setenv', 'X', 'y', '--', 'env'],
    ['--setenv', 'A', '1', '--clearenv', '--setenv', 'B', '2', '--unsetenv', 'B', '--unsetenv', 'C', '--', 'env'],
    ['--clearenv', '--setenv', 'PATH', '/usr/bin', '--', 'env'],
    ['--seccomp', 'none', '--seccomp', 'strict', '--linger-ms', '0', '--cap-add', 'CAP_NET_ADMIN', '--cap-add', 'ALL', '--cap-drop', 'CAP_SYS_ADMIN', '--argv0', 'x y', '--', 'true'],
    ['--keep-session', '--allow-abstract-unix', '--allow-signals', '--no-config', '--', 'true'],
    ['--tty', '--allow-signals', '--dev', '/dev', '--', 'true'],
    ['--tty', '--no-tty', '--dev', '/dev/', '--', 'true'],
    ['--chdir', '/a//b/./c/..', '--chdir', '/x', '--', 'true'],
    ['--ro-bind', '/', '/', 'sh', '-c', 'echo "$0"', '--', '-x', '--bind'],
  ];
  test.each(inside.map((a) => [a.join(' '), a]))('%s', (_name, args) => {
    const mine = frontPlan(args);
    const theirs = node(['plan', '--json', ...(args)]);
    expect(theirs.status).toBe(0);
    expect(mine).toBe(theirs.stdout);
  });

  // Just outside the subset: the front says "Node's", whatever Node then says.
  const outside: string[][] = [
    ['--preset', 'agent', '--', 'true'],
    ['--preset', 'strict', '--', 'true'],
    ['--report', '-', ...FULL, '--', 'true'],
    ['--json-status-fd', '1', '--', 'true'],
    ['--file', '0', '/x', '--', 'true'],
    ['--bind=/', '/', '--', 'true'],
    ['--hostname=x', '--', 'true'],
    ['--seccomp', 'loose', '--', 'true'],
    ['--uid', '0x10', '--', 'true'],
    ['--uid', '4294967296', '--', 'true'],
    ['--size', '0', '--tmpfs', '/t', '--', 'true'],
    ['--perms', '0700', '--proc', '/proc', '--', 'true'],
    ['--perms', '0700', '--perms', '0700', '--dir', '/d', '--', 'true'],
    ['--perms', '17777', '--dir', '/d', '--', 'true'],
    ['--chmod', '08', '/x', '--', 'true'],
    ['--share-net', '--unshare-net', '--', 'true'],
    ['--setenv', 'A', '-x', '--', 'true'],
    ['--setenv', '1', 'x', '--', 'true'],
    ['--setenv', '__proto__', 'x', '--', 'true'],
    ['--hostname', '', '--', 'true'],
    ['--no-share-net', '--', 'true'],
    ['--config', 'x.json', '--', 'true'],
    ['--allow-host', 'example.org', '--', 'true'],
    ['--memory', '1G', '--', 'true'],
    ['--name', 'x', '--', 'true'],
    ['--image', '/x', '--image-omit', 'tmp', '--', 'true'],
    ['--overlay-src', '/a', '--tmp-overlay', '/b', '--', 'true'],
    ['-b', '/x', '--', 'true'],
    [...FULL, '--'],
    [...FULL],
    [...FULL, '-h'],
    [...FULL, '--', 'ls', '--help'],
    [...FULL, '-', 'x'],
    ['--unknown-flag', '--', 'true'],
  ];
  test.each(outside.map((a) => [a.join(' '), a]))('left to Node: %s', (_name, args) => {
    expect(frontPlan(args)).toBeNull();
  });

  test('a sandboxctl.json here or in a parent, or SANDBOXCTL_INIT, leaves run to Node', () => {
    const parent = join(work, 'proj');
    mkdirSync(join(parent, 'deep/er'), { recursive: true });
    writeFileSync(join(parent, 'sandboxctl.json'), '{ "ops": [] }\n');
    try {
      expect(frontPlan([...FULL, '--', 'true'], parent)).toBeNull();
      expect(frontPlan([...FULL, '--', 'true'], join(parent, 'deep/er'))).toBeNull();
      // --no-config: no search, as in Node.
      expect(frontPlan(['--no-config', ...FULL, '--', 'true'], join(parent, 'deep/er'))).not.toBeNull();
      const r = bin(['run', ...FULL, '--', 'true'], { cwd: join(parent, 'deep/er') });
      expect(r.node).toBe(true);
      expect(r).toEqual(node(['run', ...FULL, '--', 'true'], { cwd: join(parent, 'deep/er') }));
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
    const viaInit = bin(['run', ...FULL, '--', 'true'], { env: { SANDBOXCTL_INIT: INIT } });
    expect(viaInit).toMatchObject({ status: 0, node: true });
  });
});

describe('help and version: the same bytes without Node', () => {
  test.each([[[]], [['--help']], [['-h']], [['--version']], [['-v']]])('sandboxctl %j', (args) => {
    for (const env of [{}, { FORCE_COLOR: '1' }, { FORCE_COLOR: '0' }, { NO_COLOR: '1' }]) {
      const mine = bin(args, { env });
      const theirs = node(args, { env });
      expect(theirs.node).toBe(true);
      expect(mine).toEqual({ ...theirs, node: false });
    }
    if (args.length === 0 || args[0] === '--help') expect(bin(args, { env: { FORCE_COLOR: '1' } }).stdout).toContain('\u001b[');
  });

  test('`help`, `--help run` and `--version x` are Node\'s', () => {
    for (const args of [['help'], ['--help', 'run'], ['run', '--help'], ['--version', 'x']]) {
      const mine = bin(args);
      expect(mine.node).toBe(true);
      expect(mine).toEqual(node(args));
    }
  });

  test('colour on a terminal: the front decides as Node does', () => {
    const depth = (env: Record<string, string>): number =>
      colorDepthOf({ isTTY: true, getColorDepth: (e?: object) => WriteStream.prototype.getColorDepth.call(null, e as Record<string, string>) }, env);
    const cases: Record<string, string>[] = [
      {},
      { TERM: 'xterm' },
      { TERM: 'xterm-256color' },
      { TERM: 'dumb' },
      { TERM: 'dumb', FORCE_COLOR: '2' },
      { TERM: 'vt100' },
      { TERM: 'screen.linux' },
      { TERM: 'con132x43' },
      { TERM: 'CONSOLE' },
      { TERM: 'unknown' },
      { TERM: 'unknown', COLORTERM: 'x' },
      { COLORTERM: 'truecolor' },
      { NO_COLOR: '' , TERM: 'xterm' },
      { NO_COLOR: '1', TERM: 'xterm' },
      { NODE_DISABLE_COLORS: '', TERM: 'xterm' },
      { TMUX: '1' },
      { CI: '1', TERM: 'xterm' },
      { CI: '1', GITHUB_ACTIONS: '' },
      { CI: 'true', CI_NAME: 'codeship' },
      { TEAMCITY_VERSION: '9.1.2' },
      { TEAMCITY_VERSION: '9.0.2' },
      { TEAMCITY_VERSION: '10.0' },
      { TERM_PROGRAM: 'Apple_Terminal' },
      { TERM_PROGRAM: 'vscode', TERM: 'xterm-256color' },
      { FORCE_COLOR: 'false' },
      { FORCE_COLOR: '' },
      { FORCE_COLOR: '7' },
    ];
    for (const env of cases) {
      const r = spawnSync(FRONT, ['--front-color'], { env, encoding: 'utf8' });
      expect([env, r.stdout.trim()]).toEqual([env, depth(env) > 1 ? 'color' : 'plain']);
    }
    // FORCE_COLOR beside NO_COLOR: Node may warn; the front leaves it to Node.
    expect(spawnSync(FRONT, ['--front-color'], { env: { FORCE_COLOR: '1', NO_COLOR: '1' }, encoding: 'utf8' }).stdout).toBe('node\n');
  });

  test('on a terminal, the coloured help is byte for byte Node\'s', () => {
    for (const term of ['xterm-256color', 'dumb']) {
      const mine = onPty([BIN, '--help'], { TERM: term });
      const theirs = onPty([process.execPath, CLI, '--help'], { TERM: term });
      expect(mine.node).toBe(false);
      expect(theirs.node).toBe(true);
      expect(mine.output).toBe(theirs.output);
      expect(mine.output.includes('\u001b[')).toBe(term !== 'dumb');
    }
  });
});

describe('errors: the same message and status', () => {
  const cases: [string, string[]][] = [
    ['a missing bind source', ['run', '--ro-bind', '/nope-front', '/x', '--', 'true']],
    ['a missing relative bind source', ['run', ...FULL, '--bind', 'no such', '/y', '--', 'true']],
    ['a program not found', ['run', ...FULL, '--', '/nonexistent/prog']],
    ['a program not executable', ['run', ...FULL, '--', '/etc']],
    ['a hostname too long', ['run', ...FULL, '--hostname', 'h'.repeat(70), '--', 'true']],
    ['a chmod of nothing', ['run', ...FULL, '--tmpfs', '/tmp', '--chmod', '0700', '/tmp/none', '--', 'true']],
    ['a reserved gid', ['run', ...FULL, '--gid', '4294967295', '--', 'true']],
    ['a working directory missing', ['run', ...FULL, '--chdir', '/nope-front', '--', 'true']],
    ['a bad hostname', ['run', ...FULL, '--hostname', 'a b', '--', 'true']],
    ['a bad capability', ['run', ...FULL, '--cap-add', 'CAP_NOPE', '--', 'true']],
    ['a relative symlink target', ['run', '--symlink', 'x', '/a', '--symlink', 'y', '/a', '--', 'true']],
    ['a bad variable name', ['run', ...FULL, '--setenv', 'A=B', 'c', '--', 'true']],
  ];
  test.each(cases)('%s (native)', (_name, args) => {
    const mine = bin(args);
    const theirs = node(args);
    expect(mine.node).toBe(false);
    expect(mine.stderr).toMatch(/^sandboxctl: E_[A-Z_]+: /);
    expect(mine).toEqual({ ...theirs, node: false });
  });

  const viaNode: [string, string[]][] = [
    ['a bad --seccomp value', ['run', ...FULL, '--seccomp', 'loose', '--', 'true']],
    ['an unknown flag', ['run', '--ro-bindd', '/', '/', '--', 'true']],
    ['--perms before the wrong op', ['run', '--perms', '0700', '--proc', '/proc', '--', 'true']],
    ['no program', ['run', ...FULL]],
    ['--tty without a terminal', ['run', ...FULL, '--tty', '--', 'true']],
  ];
  test.each(viaNode)('%s (Node)', (_name, args) => {
    const mine = bin(args);
    const theirs = node(args);
    expect(mine.node).toBe(true);
    expect(mine.status).toBe(125);
    expect(mine).toEqual(theirs);
  });

  test('out-of-subset command lines reach Node', () => {
    for (const args of [['run', '--preset', 'agent', '--', 'true'], ['run', '--report', '-', ...FULL, '--', 'true'], ['plan', ...FULL, '--', 'true'], ['doctor', '-h'], ['explain', '--preset', 'agent']]) {
      expect([args, bin(args).node]).toEqual([args, true]);
    }
  });
});

describe('explain and doctor: the Node CLI\'s bytes, without it', () => {
  /** `explain ARGS` through the bin and through Node: the same status and bytes; whether Node's CLI answered. */
  const same = (args: string[], opts: SpawnSyncOptions = {}): boolean => {
    const mine = bin(['explain', ...args], opts);
    const theirs = node(['explain', ...args], opts);
    expect(theirs.node).toBe(true);
    expect([args, { ...mine, node: true }]).toEqual([args, theirs]);
    return mine.node;
  };
  const w = (p: string): string => join(work, p);
  const native: string[][] = [
    FULL,
    [...FULL, '--json'],
    ['--json', ...FULL, '--', 'sh', '-c', 'echo "$0" \'q\''],
    [...FULL, 'ls', 'x y'],
    [...FULL, '--'],
    [],
    ['--json'],
    // Nothing of the host but what is listed; mode 0000 hides; sizes in words.
    ['--ro-bind', '/usr', '/usr', '--perms', '0000', '--tmpfs', '/secret', '--size', '1048576', '--tmpfs', '/tmp', '--size', '4096', '--tmpfs', '/t2', '--size', '1000', '--tmpfs', '/t3', '--', 'true'],
    // Read-only inside writable places, a remount of a writable mount and of a path inside one, /dev/null over a file.
    [...FULL, '--bind', work, work, '--ro-bind', '/etc', w('src'), '--remount-ro', w('out'), '--bind', w('sub'), '/sub', '--remount-ro', '/sub', '--ro-bind', '/dev/null', '/etc/hostname', '--dev-bind', '/dev/null', '/null'],
    // Mount points a run would leave on the host, of each kind; and none where the path exists.
    [...FULL, '--bind', work, work, '--tmpfs', w('new-dir'), '--dir', w('new-d'), '--symlink', 'x', w('new-link'), '--file-data', 'é\n', w('new-file'), '--ro-bind', '/etc/hostname', w('new-bound'), '--ro-bind', '/etc', w('new-etc'), '--tmpfs', w('src')],
    // Policy lines: network, filter, capabilities, environment, hostname, working directory.
    ['--ro-bind', '/', '/', '--share-net', '--seccomp', 'none', '--cap-add', 'CAP_NET_RAW', '--cap-add', 'CAP_CHOWN', '--setenv', 'A', '1', '--unsetenv', 'B', '--unsetenv', 'C', '--hostname', 'box', '--chdir', '/tmp', '--', 'env'],
    ['--ro-bind', '/', '/', '--clearenv', '--setenv', 'PATH', '/usr/bin', '--setenv', 'HOME', '/h', '--unshare-all', '--allow-signals', '--uid', '0', '--', 'env'],
    ['--ro-bind', '/', '/', '--clearenv', '--json'],
    ['--ro-bind', '/', '/', '--setenv', 'X', 'y', '--', 'env'],
    // Other ops in their own words; long and non-ASCII paths set the column.
    ['--ro-bind', '/', '/', '--tmpfs', '/tmp', '--dir', '/tmp/d', '--mqueue', '/dev/mqueue', '--chmod', '0700', '/tmp', '--autoetc', '/etc', '--passwd', '/etc', '--tmpfs', '/tmp/été-\u00e9\u{1f600}', '--tmpfs', `/tmp/${'long/'.repeat(12)}end`],
    ['--autoroot', '/', '--proc', '/proc', '--', 'true'],
    // A program word that is printed escaped.
    [...FULL, '--', 'printf', 'a\u001b[31mred\u202e'],
    [...FULL, '--json', '--', 'printf', 'a\u001b[31mred'],
  ];
  test.each(native.map((a) => [a.join(' '), a]))('native: explain %s', (_name, args) => {
    expect(same(args)).toBe(false);
  });

  const viaNode: string[][] = [
    ['--preset', 'agent'],
    ['--preset', 'strict', '--json'],
    ['--json=true', ...FULL],
    [...FULL, 'ls', '--json'],
    [...FULL, 'ls', '--', 'x'],
    ['--allow-write', '/tmp', ...FULL],
    ['--ro-bind', '/', '/', '--bind', '/nope-front', '/x'],
    ['--tmpfs', '/a//b'],
    ['--ro-bind', '/', '/', '--tmpfs', '/tmp/'],
    ['--ro-bind', '/', '/', '--hostname', 'a b'],
    ['-h'],
    [...FULL, '--', '-', 'x'],
  ];
  test.each(viaNode.map((a) => [a.join(' '), a]))('Node: explain %s', (_name, args) => {
    expect(same(args)).toBe(true);
  });

  test('a sandboxctl.json nearby (shown for review) leaves explain to Node; --no-config does not', () => {
    const dir = join(work, 'proj-explain');
    mkdirSync(join(dir, 'deep'), { recursive: true });
    writeFileSync(join(dir, 'sandboxctl.json'), '{ "ops": [] }\n');
    try {
      expect(same(FULL, { cwd: join(dir, 'deep') })).toBe(true);
      expect(same(['--no-config', ...FULL], { cwd: join(dir, 'deep') })).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('doctor and doctor --json: the Node CLI\'s bytes and status', () => {
    for (const args of [['doctor'], ['doctor', '--json']]) {
      const mine = bin(args);
      const theirs = node(args);
      expect(theirs).toMatchObject({ status: 0, node: true });
      // The front asks one small `node -e` for Node's facts (its stderr not shown): not the CLI.
      expect(mine).toEqual({ ...theirs, node: false });
    }
    expect(bin(['doctor']).stdout).toMatch(/^sandboxctl \S+ \(core \S+\), node v\d+\.\d+\.\d+, N-API \d+\naddon: {4}\/.*\.node \(native /);
    // The launcher named by SANDBOXCTL_INIT: said so, still native.
    const named = bin(['doctor'], { env: { SANDBOXCTL_INIT: INIT } });
    expect(named).toEqual({ ...node(['doctor'], { env: { SANDBOXCTL_INIT: INIT } }), node: false });
    expect(named.stdout).toContain('(from SANDBOXCTL_INIT): ok');
    // A relative, unnormalized one: the front's early `--version` run of the
    // path it guessed is not the one Node names; it runs the named one.
    const relative = { SANDBOXCTL_INIT: `./${relative_(work, INIT)}` };
    const rel = bin(['doctor'], { env: relative });
    expect(rel).toEqual({ ...node(['doctor'], { env: relative }), node: false });
    expect(rel.stdout).toContain(`init:     ${INIT} (from SANDBOXCTL_INIT): ok`);
  });

  test('doctor of an installed package: the addon and the executables from the platform package, found without Node\'s module loader; the Node CLI\'s bytes', () => {
    // node_modules as npm lays it out: the CLI, the core, the native package
    // (its loader, init-path.js and the front) and the platform package
    // holding the addon and the executables.
    const proj = join(work, 'installed project');
    const nm = join(proj, 'node_modules');
    const libc = readFileSync('/usr/bin/ldd', 'utf8').includes('musl') ? 'musl' : 'gnu';
    const plat = `@sandboxctl/native-linux-${process.arch}-${libc}`;
    const addon = `sandboxctl.linux-${process.arch}-${libc}.node`;
    mkdirSync(join(nm, plat), { recursive: true });
    for (const part of ['bin', 'dist', 'package.json']) cpSync(join(ROOT, 'packages/cli', part), join(nm, 'sandboxctl', part), { recursive: true });
    for (const part of ['dist', 'package.json']) cpSync(join(ROOT, 'packages/core', part), join(nm, '@sandboxctl/core', part), { recursive: true });
    cpSync(join(ROOT, 'packages/native'), join(nm, '@sandboxctl/native'), { recursive: true, filter: (src) => !/\.node$|sandboxctl-(init|oci|bwrap)$/.test(src) });
    for (const f of [addon, 'sandboxctl-init', 'sandboxctl-oci']) cpSync(join(ROOT, 'packages/native', f), join(nm, plat, f));
    writeFileSync(join(nm, plat, 'package.json'), JSON.stringify({ name: plat, version: '0.1.0', main: addon }));
    const me = join(nm, 'sandboxctl/bin/sandboxctl');
    const theirs = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      ran(spawnSync(process.execPath, [join(nm, 'sandboxctl/bin/sandboxctl.js'), ...args], { cwd: proj, env: { ...ENV, ...env }, encoding: 'utf8' }));
    const mine = (args: string[], env: NodeJS.ProcessEnv = {}) => ran(spawnSync(me, args, { cwd: proj, env: { ...ENV, ...env }, encoding: 'utf8' }));
    for (const args of [['doctor'], ['doctor', '--json']]) {
      const node = theirs(args);
      expect(node).toMatchObject({ status: 0, node: true });
      expect(mine(args)).toEqual({ ...node, node: false });
    }
    const text = mine(['doctor']).stdout;
    expect(text).toContain(`addon:    ${join(nm, plat, addon)} (native `);
    expect(text).toContain(`init:     ${join(nm, plat, 'sandboxctl-init')} (from ${plat}): ok`);
    // A variable the addon's loader reads: the full `node -e` answers, the same bytes.
    const env = { NAPI_RS_ENFORCE_VERSION_CHECK: '1' };
    expect(mine(['doctor'], env)).toEqual({ ...theirs(['doctor'], env), node: false });
    // The platform package's launcher gone: the source-build path is named, missing; Node's CLI words the problem.
    rmSync(join(nm, plat, 'sandboxctl-init'));
    const broken = mine(['doctor']);
    expect(broken).toMatchObject({ status: 1, node: true });
    expect(broken).toEqual(theirs(['doctor']));
  });

  test('doctor with a problem, or a sandboxctl.json nearby, is the Node CLI\'s', () => {
    const broken = join(work, 'not-executable');
    writeFileSync(broken, '#!/bin/sh\n');
    chmodSync(broken, 0o644);
    const failing = join(work, 'failing-init');
    writeFileSync(failing, '#!/bin/sh\nexit 3\n');
    chmodSync(failing, 0o755);
    for (const env of [{ SANDBOXCTL_INIT: join(work, 'missing-init') }, { SANDBOXCTL_OCI: broken }, { SANDBOXCTL_INIT: failing }]) {
      const mine = bin(['doctor'], { env });
      expect(mine).toMatchObject({ status: 1, node: true });
      expect(mine).toEqual(node(['doctor'], { env }));
      expect(mine.stdout).toMatch(/\nproblem: E_(INIT|OCI)_MISSING: /);
    }
    // No node on PATH for the small one: the front leaves doctor to Node as
    // the bin would have started it (here: not found, as without the front).
    const noNode = bin(['doctor'], { env: { PATH: '/nonexistent' } });
    expect(noNode.status).toBe(127);
    expect(noNode.stderr).toBe('sandboxctl: cannot execute node: No such file or directory\n');
    const dir = join(work, 'proj-doctor');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'sandboxctl.json'), '{ "ops": [] }\n');
    try {
      const mine = bin(['doctor'], { cwd: dir });
      expect(mine.node).toBe(true);
      expect(mine).toEqual(node(['doctor'], { cwd: dir }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('images: `run --image` without Node (issue 11: every rank of an srun pays the start)', () => {
  const images = useImages();
  const home = join(work, 'home-u');
  /** A caller with a user name and a home, as a login shell gives (`--home` reads both). */
  const USER_ENV = { USER: 'u', HOME: home };
  beforeAll(() => mkdirSync(home, { recursive: true }));

  test('plans: the image preset, the flags over it, the root, as the Node CLI makes them', () => {
    const { dir, sqfs } = images();
    const lines: [string[], NodeJS.ProcessEnv][] = [
      [['--image', dir, '--', 'true'], {}],
      [['--image', sqfs, '--', '/bin/sh', '-c', 'echo "$0"', '--', '-x'], {}],
      [['--image', 'rel/../x', '--cd', '/tmp', '--cd', '/out', '--', 'true'], {}],
      [['--image', dir, '--image', sqfs, '--write-fake', '--write-fake-size', '12%', '--private-tmp', '--', 'true'], {}],
      [['--image', dir, '--write', '--write-fake-size', '1G', '--write-fake', '--', 'true'].filter((a) => a !== '--write'), {}],
      [['--image', dir, '--write', '--chdir', 'sub', '--share-net', '--unshare-net', '--', 'true'].filter((a) => a !== '--share-net'), {}],
      [['--image', dir, '--home', '--', 'true'], USER_ENV],
      [['--image', dir, '--home', '--write', '--', 'true'], USER_ENV],
      [['--image', dir, '--', 'true'], { TMPDIR: work }],
      [['--image', dir, '--', 'true'], { TMPDIR: 'relative' }],
      // The flags' policy replaces the preset's in place; their ops follow the preset's; their env merges over it.
      [['--seccomp', 'strict', '--hostname', 'h', '--image', dir, '--ro-bind', '/usr', '/usr', '--tmpfs', '/tmp', '--setenv', 'A', '1', '--unsetenv', 'B', '--', 'env'], {}],
      [['--image', dir, '--unsetenv', 'X', '--setenv', 'X', '2', '--', 'env'], {}],
      [['--image', dir, '--clearenv', '--setenv', 'PATH', '/bin', '--', 'env'], {}],
      [['--image', dir, '--bind-try', '/nope', '/nope', '--cap-add', 'CAP_NET_RAW', '--uid', '0', '--', 'true'], {}],
    ];
    for (const [args, env] of lines) {
      const theirs = node(['plan', '--json', ...args], { env });
      expect([args, theirs.status]).toEqual([args, 0]);
      expect([args, frontPlan(args, work, env)]).toEqual([args, theirs.stdout]);
    }
  });

  test('left to Node: what the front does not reproduce, and every error of the image flags', () => {
    const { dir } = images();
    const lines: [string[], NodeJS.ProcessEnv][] = [
      [['--image', dir, '--image-omit', 'tmp', '--', 'true'], {}],
      [['--image', dir, '--fakeroot', '--write-fake', '--', 'true'], {}],
      [['--image', dir, '--image-bind', '/usr', '--', 'true'], {}],
      [['--image', dir, '-b', '/usr', '--', 'true'], {}],
      [['--image', dir, '--set-env', 'A=1', '--', 'true'], {}],
      [['--image', dir, '--unset-env', 'A', '--', 'true'], {}],
      [['--image', dir, '--join', '--', 'true'], {}],
      [['--image', dir, '--no-write', '--', 'true'], {}],
      [['--image', dir], {}],
      [['--image', dir, '--'], {}],
      [['--image', dir, '--preset', 'agent', '--', 'true'], {}],
      [['--image=' + dir, '--', 'true'], {}],
      [['--image', '', '--', 'true'], {}],
      // Errors the Node CLI words: a write flag without its pair, the flags without --image, --home without a user, a relative --cd.
      [['--image', dir, '--write', '--write-fake', '--', 'true'], {}],
      [['--image', dir, '--write-fake-size', '1G', '--', 'true'], {}],
      [['--image', dir, '--write-fake', '--write-fake-size', '1x', '--', 'true'], {}],
      [['--home', '--', 'true'], USER_ENV],
      [['--write-fake', '--ro-bind', '/', '/', '--', 'true'], {}],
      [['--cd', '/x', '--', 'true'], {}],
      [['--image', dir, '--home', '--', 'true'], {}],
      [['--image', dir, '--home', '--', 'true'], { USER: 'a/b', HOME: home }],
      [['--image', dir, '--home', '--', 'true'], { USER: 'u', HOME: 'rel' }],
      [['--image', dir, '--cd', 'rel', '--', 'true'], {}],
      // A $TMPDIR Node would normalize.
      [['--image', dir, '--', 'true'], { TMPDIR: `${work}/` }],
      [['--image', dir, '--', 'true'], { TMPDIR: `${work}//sub/..` }],
    ];
    for (const [args, env] of lines) expect([args, frontPlan(args, work, env)]).toEqual([args, null]);
    // And the bin then runs Node, which says what is wrong.
    for (const args of [['run', '--image', dir, '--write-fake-size', '1G', '--', 'true'], ['run', '--image', dir, '--cd', 'rel', '--', 'true'], ['explain', '--image', dir, '--', 'true']]) {
      const mine = bin(args);
      expect([args, mine.node]).toEqual([args, true]);
      expect(mine).toEqual(node(args));
    }
  });

  test('runs: the same output and status as through Node, for a directory and a SquashFS image', () => {
    const { dir, sqfs } = images();
    const script = 'echo "$SANDBOXCTL_RUNNING $PATH $TMPDIR"; cat /etc/image-marker; id -u; pwd; grep -c . /etc/passwd; grep Seccomp: /proc/self/status; grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status; echo pid $$; touch /x 2>/dev/null || echo RO';
    for (const image of [dir, sqfs]) {
      const args = ['run', '--image', image, '--cd', '/tmp', '--', '/bin/sh', '-c', script];
      const mine = bin(args, { env: { TMPDIR: work } });
      expect([image, mine.node, mine.status, mine.stderr]).toEqual([image, false, 0, '']);
      expect(mine.stdout).toContain('inside the image\n');
      expect(mine.stdout).toContain('\nSeccomp:\t0\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\npid 2\nRO\n');
      expect(mine).toEqual({ ...node(args, { env: { TMPDIR: work } }), node: false });
    }
    // Fake writes are gone after the run; the image is unchanged.
    const fake = bin(['run', '--image', sqfs, '--write-fake', '--', '/bin/sh', '-c', 'echo w > /etc/image-marker && cat /etc/image-marker']);
    expect(fake).toMatchObject({ node: false, status: 0, stdout: 'w\n' });
    expect(bin(['run', '--image', sqfs, '--', '/bin/cat', '/etc/image-marker'])).toMatchObject({ node: false, status: 0, stdout: 'inside the image\n' });
    // --home: the caller's home, writable, at /home/$USER; HOME set to it.
    writeFileSync(join(home, 'mine'), 'at home\n');
    const h = bin(['run', '--image', dir, '--home', '--', '/bin/sh', '-c', 'echo $HOME; cat ~/mine; echo w > ~/written'], { env: USER_ENV });
    expect(h).toMatchObject({ node: false, status: 0, stdout: '/home/u\nat home\n' });
    expect(readFileSync(join(home, 'written'), 'utf8')).toBe('w\n');
    // The program's status, and 128+N for a signal, as through Node.
    expect(bin(['run', '--image', sqfs, '--', '/bin/sh', '-c', 'exit 7'])).toMatchObject({ node: false, status: 7 });
    expect(bin(['run', '--image', sqfs, '--', '/bin/sh', '-c', 'kill -TERM $$'])).toMatchObject({ node: false, status: 143 });
    // Nothing of the image's server is left on the host: no mount, no process.
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(sqfs);
    expect(hostProcessesWith(sqfs)).toEqual([]);
  });

  test('errors: the same message, hint and status as through Node', () => {
    const { dir, otherMagic, corrupt } = images();
    const bare = join(work, 'bare-image');
    mkdirSync(join(bare, 'bin'), { recursive: true });
    const cases: [string, string[]][] = [
      ['an image that is not there', ['run', '--image', join(work, 'no-image'), '--', '/bin/true']],
      ['a file that is no image', ['run', '--image', otherMagic, '--', '/bin/true']],
      ['a corrupt SquashFS', ['run', '--image', corrupt, '--', '/bin/true']],
      ['--write on a file: the flag\'s hint', ['run', '--image', otherMagic, '--write', '--', '/bin/true']],
      ['a preset item with no mount point in a read-only image: the image hint, naming the item', ['run', '--image', bare, '--', '/bin/true']],
      ['a program the image lacks', ['run', '--image', dir, '--', '/nonexistent']],
      ['a bind source missing', ['run', '--image', dir, '--ro-bind', '/nope-front', '/out', '--', '/bin/true']],
      ['a working directory missing in the image', ['run', '--image', dir, '--cd', '/nope', '--', '/bin/true']],
    ];
    for (const [name, args] of cases) {
      const mine = bin(args);
      expect([name, mine.node]).toEqual([name, false]);
      expect([name, mine.stderr]).toEqual([name, expect.stringMatching(/^sandboxctl: E_[A-Z_]+: /)]);
      expect([name, mine]).toEqual([name, { ...node(args), node: false }]);
    }
    expect(bin(['run', '--image', bare, '--', '/bin/true']).stderr).toContain('sandboxctl: hint: the image has no mount point for it');
    expect(bin(['run', '--image', otherMagic, '--write', '--', '/bin/true']).stderr).toContain('sandboxctl: hint: --write changes a directory image');
  });
});

describe('peers: `run --join` without Node (issue 11: srun starts one per rank)', () => {
  const images = useImages();
  let tags = 0;
  const newTag = () => `f${process.pid}-${++tags}`;
  const registry = (): string => spawnSync(INIT, ['client', 'root'], { encoding: 'utf8' }).stdout.trim();
  const joinEntries = (): string[] => {
    const dir = join(registry(), 'sandboxes');
    return existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('join.')) : [];
  };
  /** The front's plan and join arguments for `run ARGS`, or null (Node's). */
  const frontJoin = (args: string[], env: NodeJS.ProcessEnv = {}): { plan: string; join: string[] } | null => {
    const r = spawnSync(FRONT, ['--front-plan', CLI, 'run', ...args], { cwd: work, encoding: 'utf8', env: { ...ENV, ...env } });
    if (r.status === 3) return null;
    expect([args, r.status, r.stderr]).toEqual([args, 0, '']);
    const [plan, second] = r.stdout.split('\n');
    return { plan: `${plan}\n`, join: (JSON.parse(second!) as { join: string[] }).join };
  };
  /** `sandboxctl ARGS` through the bin, not waited for. */
  const binAsync = (args: string[], env: NodeJS.ProcessEnv = {}, launcher: string[] = [BIN]): Promise<Out> =>
    new Promise((done, fail) => {
      const child = spawn(launcher[0]!, [...launcher.slice(1), ...args], { cwd: work, env: { ...ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', fail);
      child.on('close', (status) => done({ status, stdout, stderr: stderr.replace(NODE_MARK, ''), node: stderr.includes(NODE_MARK) }));
    });
  const viaNode = [process.execPath, CLI];

  test("plans and the launcher's join arguments, as the Node CLI computes them (resolveJoin, joinArgs)", () => {
    const { sqfs } = images();
    const slurm = { SLURM_STEP_TASKS_PER_NODE: '4(x2)', SLURM_JOB_ID: '77', SLURM_STEP_ID: '3' };
    const lines: [string[], NodeJS.ProcessEnv, JoinOptions | { pid: string }][] = [
      [['--image', sqfs, '--join', '--', 'true'], slurm, {}],
      [['--image', sqfs, '--private-tmp', '--join', '--', 'true'], { OMPI_COMM_WORLD_LOCAL_SIZE: '2', SLURM_CPUS_ON_NODE: '9', SLURM_STEP_ID: '5' }, {}],
      [['--image', sqfs, '--join-ct', '007', '--join-tag', 'a.b-c_9', '--join-timeout', '1.001', '--', 'true'], {}, { count: '007', tag: 'a.b-c_9', timeoutSeconds: 1.001 }],
      [['--image', sqfs, '--join-ct', '2', '--no-tty', '--', 'true'], {}, { count: '2' }],
      [['--ro-bind', '/', '/', '--join-timeout', '5', '--', 'true'], { SLURM_CPUS_ON_NODE: '2' }, { timeoutSeconds: 5 }],
      [['--image', sqfs, '--join-pid', '0042', '--', 'true'], {}, { pid: '0042' }],
    ];
    for (const [args, env, options] of lines) {
      const mine = frontJoin(args, env);
      expect(mine).not.toBeNull();
      // The plan is run's, as `plan --json` prints it without the join flags (they are not the plan's).
      const planArgs = args.filter((a, i) => !a.startsWith('--join') && !args[i - 1]?.match(/^--join-(ct|tag|timeout|pid)$/));
      expect([args, mine!.plan]).toEqual([args, node(['plan', '--json', ...planArgs], { env }).stdout]);
      // The front's parent is this process, as it would be Node's.
      const spec = 'pid' in options ? { kind: 'pid' as const, pid: parseJoinPid(options.pid) } : resolveJoin(options, { ...ENV, ...env }, process.pid);
      expect([args, mine!.join]).toEqual([args, joinArgs(spec)]);
    }
  });

  test('left to Node: every error of the join flags, explain with them, and what Node reads its own way', () => {
    const { sqfs } = images();
    const lines: [string[], NodeJS.ProcessEnv][] = [
      [['--image', sqfs, '--join', '--', 'true'], {}],
      [['--image', sqfs, '--join', '--', 'true'], { SLURM_CPUS_ON_NODE: 'x4' }],
      [['--image', sqfs, '--join-ct', '0', '--', 'true'], {}],
      [['--image', sqfs, '--join-ct', '2x', '--', 'true'], {}],
      [['--image', sqfs, '--join-ct', '2', '--join-tag', 'a/b', '--', 'true'], {}],
      [['--image', sqfs, '--join-ct', '2', '--join-timeout', '0', '--', 'true'], {}],
      [['--image', sqfs, '--join-ct', '2', '--join-timeout', '1e3', '--', 'true'], {}],
      [['--image', sqfs, '--join-ct', '2', '--tty', '--', 'true'], {}],
      [['--image', sqfs, '--join-pid', '5', '--join', '--', 'true'], { SLURM_CPUS_ON_NODE: '2' }],
      [['--image', sqfs, '--join-pid', '0', '--', 'true'], {}],
      [['--image', sqfs, '--join-ct=2', '--', 'true'], {}],
      [['--image', sqfs, '--no-join', '--', 'true'], {}],
    ];
    for (const [args, env] of lines) expect([args, frontJoin(args, env)]).toEqual([args, null]);
    for (const [args, env] of [...lines.slice(0, 3), lines[7]!, lines[8]!]) {
      const mine = bin(['run', ...args], { env });
      expect([args, mine.node, mine.status]).toEqual([args, true, 125]);
      expect(mine).toEqual(node(['run', ...args], { env }));
    }
    expect(bin(['explain', '--image', sqfs, '--join-ct', '2', '--', 'true']).node).toBe(true);
  });

  test('three peers, two through the bin and one through Node, share one sandbox; each its own status; nothing left', async () => {
    const { sqfs } = images();
    const tag = newTag();
    const rank = [
      'echo $$ > /tmp/.rank.$$ && mv /tmp/.rank.$$ /tmp/rank.$$',
      'i=0; while [ "$(ls /tmp | grep -c "^rank\\.")" -lt 3 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done',
      'seen=0; for f in /tmp/rank.*; do p=$(cat $f); [ "$p" != "$$" ] && [ -d /proc/$p ] && seen=$((seen+1)); done',
      'echo "rank=$RANK ppid=$PPID seen=$seen ns=$(readlink /proc/self/ns/mnt)/$(readlink /proc/self/ns/user)/$(readlink /proc/self/ns/pid) $(grep NoNewPrivs /proc/self/status | tr -d "\t")"',
      'sleep 1',
      'exit $RANK',
    ].join('; ');
    const args = ['run', '--image', sqfs, '--private-tmp', '--join-ct', '3', '--join-tag', tag, '--', '/bin/sh', '-c', rank];
    const runs = await Promise.all([
      binAsync(args, { RANK: '0' }),
      binAsync(args, { RANK: '1' }),
      binAsync(args, { RANK: '2' }, viaNode),
    ]);
    expect(runs.map((r) => [r.status, r.stderr, r.node])).toEqual([
      [0, '', false],
      [1, '', false],
      [2, '', true],
    ]);
    const out = runs.map((r) => /^rank=(\d) ppid=(\d+) seen=(\d) ns=(\S+) (\S+)$/.exec(r.stdout.trim())!.slice(1));
    expect(out.map((o) => o[0])).toEqual(['0', '1', '2']);
    for (const o of out) expect([o[1], o[2], o[4]]).toEqual(['1', '2', 'NoNewPrivs:1']);
    expect(new Set(out.map((o) => o[3])).size).toBe(1);
    expect(await until(() => !joinEntries().includes(`join.${tag}`), 5000)).toBe(true);
    expect(hostProcessesWith(sqfs)).toEqual([]);
  });

  test('the group\'s defaults from Slurm\'s environment; a peer alone past its timeout is warned as through Node', async () => {
    const { sqfs } = images();
    const env = { SLURM_STEP_TASKS_PER_NODE: '2(x3)', SLURM_JOB_ID: `8${process.pid}`, SLURM_STEP_ID: String(++tags) };
    const args = ['run', '--image', sqfs, '--join', '--', '/bin/sh', '-c', 'readlink /proc/self/ns/mnt; echo $SLURM_STEP_ID'];
    const [a, b] = await Promise.all([binAsync(args, env), binAsync(args, env)]);
    expect([a.status, a.stderr, a.node, b.status, b.stderr, b.node]).toEqual([0, '', false, 0, '', false]);
    expect(a.stdout).toBe(b.stdout);
    // One peer of two: the other never comes; the same warning and status either way.
    const tag = newTag();
    const lone = ['run', '--image', sqfs, '--join-ct', '2', '--join-tag', tag, '--join-timeout', '1', '--', '/bin/sh', '-c', 'sleep 2; echo alone'];
    const mine = await binAsync(lone);
    expect(await until(() => !joinEntries().includes(`join.${tag}`), 5000)).toBe(true);
    const theirs = await binAsync(lone, {}, viaNode);
    expect(mine).toEqual({ ...theirs, node: false });
    expect(mine.stdout).toBe('alone\n');
  });

  test("kill -9 of a peer's front: its program is killed, the other peer finishes, the group is cleaned", async () => {
    const { sqfs } = images();
    const tag = newTag();
    const marker = `sleep ${700 + (process.pid % 5000)}`;
    const child = spawn(BIN, ['run', '--image', sqfs, '--join-ct', '2', '--join-tag', tag, '--', '/bin/sh', '-c', `exec ${marker}`], { cwd: work, env: ENV, stdio: 'ignore' });
    const other = binAsync(['run', '--image', sqfs, '--join-ct', '2', '--join-tag', tag, '--', '/bin/sh', '-c', 'sleep 2; echo other-done']);
    expect(await until(() => spawnSync('pgrep', ['-f', `^${marker}$`]).status === 0, 10_000)).toBe(true);
    child.kill('SIGKILL');
    expect(await until(() => spawnSync('pgrep', ['-f', `^${marker}$`]).status !== 0, 5000)).toBe(true);
    expect(await other).toEqual({ status: 0, stdout: 'other-done\n', stderr: '', node: false });
    expect(await until(() => !joinEntries().includes(`join.${tag}`), 5000)).toBe(true);
  });

  test('a SIGTERM to a peer\'s front reaches its program once; the status is what Node gives', async () => {
    const { sqfs } = images();
    const statuses: Out[] = [];
    for (const launcher of [[BIN], viaNode]) {
      const tag = newTag();
      const script = 'trap "echo got-term; exit 9" TERM; echo up; while :; do sleep 0.1; done';
      const child = spawn(launcher[0]!, [...launcher.slice(1), 'run', '--image', sqfs, '--join-ct', '1', '--join-tag', tag, '--', '/bin/sh', '-c', script], { cwd: work, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      expect(await until(() => stdout.includes('up\n'), 10_000)).toBe(true);
      child.kill('SIGTERM');
      const status = await new Promise<number | null>((done) => child.on('close', (code) => done(code)));
      statuses.push({ status, stdout, stderr: stderr.replace(NODE_MARK, ''), node: stderr.includes(NODE_MARK) });
      expect(await until(() => !joinEntries().includes(`join.${tag}`), 5000)).toBe(true);
    }
    expect(statuses[0]).toEqual({ status: 9, stdout: 'up\ngot-term\n', stderr: '', node: false });
    expect(statuses[1]).toEqual({ ...statuses[0], node: true });
  });

  test('--join-pid: into the running sandbox that holds the pid; not one of the caller\'s: E_JOIN as through Node', () => {
    const { sqfs } = images();
    const name = `fj${process.pid}`;
    const started = node(['run', '--no-config', '--image', sqfs, '--private-tmp', '--name', name, '--detach', '--', '/bin/sh', '-c', 'echo hi > /tmp/mark; sleep 30']);
    expect([started.status, started.stderr]).toEqual([0, '']);
    try {
      const ps = JSON.parse(spawnSync(INIT, ['client', 'ps'], { encoding: 'utf8' }).stdout) as Array<{ name: string; pid1: number }>;
      const pid1 = ps.find((s) => s.name === name)!.pid1;
      const mine = bin(['run', '--join-pid', String(pid1), '--', '/bin/sh', '-c', 'cat /tmp/mark; echo $PPID']);
      expect(mine).toEqual({ status: 0, stdout: 'hi\n1\n', stderr: '', node: false });
    } finally {
      node(['stop', name]);
    }
    for (const pid of ['1', String(process.pid), '2147483647']) {
      const args = ['run', '--join-pid', pid, '--', 'true'];
      const mine = bin(args);
      expect([pid, mine.node, mine.status, mine.stderr]).toEqual([pid, false, 125, expect.stringMatching(/^sandboxctl: E_JOIN: /)]);
      expect(mine).toEqual({ ...node(args), node: false });
    }
  });

  test('attack: a rank goes for the registry, its pid 1 and its peer; nothing it plants runs later', async () => {
    const { sqfs } = images();
    const tag = newTag();
    const reg = registry();
    const planted = join(work, 'planted-by-rank');
    const attack = [
      `ls ${reg} >/dev/null 2>&1 && echo REGISTRY-SEEN`,
      `mkdir -p ${reg}/sandboxes/join.${tag}-evil 2>/dev/null && echo REGISTRY-WRITTEN`,
      `(echo "touch ${planted}" > ${reg}/hook) 2>/dev/null && echo HOOK-WRITTEN`,
      'cat /proc/1/environ >/dev/null 2>&1 && echo PID1-ENVIRON',
      'head -c1 /proc/1/mem >/dev/null 2>&1 && echo PID1-MEM',
      'readlink /proc/1/fd/0 /proc/1/fd/3 /proc/1/exe /proc/1/root/ 2>/dev/null && echo PID1-LINKS',
      'kill -KILL 1 2>/dev/null; kill -STOP 1 2>/dev/null',
      'for p in /proc/[0-9]*; do n=${p#/proc/}; [ "$n" != 1 ] && [ "$n" != $$ ] && kill -KILL $n 2>/dev/null && echo KILLED-$n; done',
      'ls /proc/self/fd | tr "\\n" " "; echo',
      'echo attacker-done',
    ].join('; ');
    // The peer sleeps past the attack: it must survive it (its client is not in the sandbox; only programs are).
    const victim = binAsync(['run', '--image', sqfs, '--join-ct', '2', '--join-tag', tag, '--', '/bin/sh', '-c', 'sleep 1; echo victim-done']);
    const attacker = await binAsync(['run', '--image', sqfs, '--join-ct', '2', '--join-tag', tag, '--', '/bin/sh', '-c', attack]);
    expect([attacker.status, attacker.stderr, attacker.node]).toEqual([0, '', false]);
    // No registry, no pid 1 links or memory, pid 1 not killed or stopped, only stdio and the listing's own fd.
    // The peer's program is a sibling it can signal (one pid namespace, as ranks need for cross-memory
    // attach): the loop may end it (KILLED-n); pid 1 and the host it must not reach.
    expect(attacker.stdout.replace(/^KILLED-\d+\n/gm, '')).toBe('0 1 2 3 \nattacker-done\n');
    const v = await victim;
    expect([v.stderr, v.node]).toEqual(['', false]);
    expect([0, 137]).toContain(v.status);
    expect(await until(() => !joinEntries().some((e) => e.startsWith(`join.${tag}`)), 5000)).toBe(true);
    expect(existsSync(join(reg, 'hook'))).toBe(false);
    // Host tools and the next run afterwards: nothing planted runs.
    const repo = join(work, 'host-repo');
    mkdirSync(repo, { recursive: true });
    expect(spawnSync('git', ['init', '-q', repo]).status).toBe(0);
    expect(spawnSync('git', ['-C', repo, 'status', '--porcelain'], { encoding: 'utf8' })).toMatchObject({ status: 0, stdout: '' });
    const next = await binAsync(['run', '--image', sqfs, '--join-ct', '1', '--join-tag', tag, '--', '/bin/sh', '-c', 'echo next-ok']);
    expect(next).toEqual({ status: 0, stdout: 'next-ok\n', stderr: '', node: false });
    expect(existsSync(planted)).toBe(false);
  });

  test("the caller's other fds stay out; a rank's PMI_FD socket reaches its program at its number", () => {
    const { sqfs } = images();
    const extra = openSync(join(work, 'held-join'), 'w');
    try {
      const script = 'ls /proc/self/fd | sort -n | tr "\\n" " "; echo; readlink /proc/self/fd/$PMI_FD | cut -d: -f1; echo ping >&$PMI_FD';
      // fd 4 a plain file, fd 9 the rank's socket (PMI_FD must name a socket), both open in the bin.
      const r = spawnSync(
        'python3',
        [
          '-c',
          [
            'import os, socket, subprocess, sys',
            'a, b = socket.socketpair()',
            'os.dup2(a.fileno(), 9); os.set_inheritable(9, True)',
            'p = subprocess.run(sys.argv[1:], pass_fds=(4, 9), capture_output=True, text=True, env=dict(os.environ, PMI_FD="9"))',
            'sys.stdout.write(p.stdout); sys.stderr.write(p.stderr)',
            'b.settimeout(5); sys.stdout.write("peer got " + b.recv(100).decode())',
            'sys.exit(p.returncode)',
          ].join('\n'),
          BIN,
          'run',
          '--image',
          sqfs,
          '--join-ct',
          '1',
          '--join-tag',
          newTag(),
          '--',
          '/bin/sh',
          '-c',
          script,
        ],
        { cwd: work, env: ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', 'ignore', extra] },
      );
      expect([r.status, r.stderr]).toEqual([0, '']);
      expect(r.stdout).toBe('0 1 2 3 9 \nsocket\npeer got ping\n');
    } finally {
      closeSync(extra);
    }
  });
});

describe('real runs through the bin', () => {
  /** Runs through the bin; `node` says whether Node started. */
  const run = (script: string, extra: string[] = [], opts: SpawnSyncOptions = {}): Out => bin(['run', ...FULL, '--tmpfs', '/tmp', ...extra, '--', '/bin/sh', '-c', script], opts);

  test('mounts, namespaces and the filter, from inside', () => {
    const r = run('touch /etc/x 2>/dev/null && echo WROTE; touch /tmp/y && echo TMP; for n in user pid mnt net ipc uts cgroup; do readlink /proc/self/ns/$n; done; grep " /proc " /proc/self/mountinfo | grep -c " - proc "; grep Seccomp: /proc/self/status; grep NoNewPrivs /proc/self/status; grep CapEff /proc/self/status; echo pid $$');
    expect(r.node).toBe(false);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('TMP');
    const host = ['user', 'pid', 'mnt', 'net', 'ipc', 'uts', 'cgroup'].map((n) => spawnSync('readlink', [`/proc/self/ns/${n}`], { encoding: 'utf8' }).stdout.trim());
    lines.slice(1, 8).forEach((ns, i) => expect(ns).not.toBe(host[i]));
    expect(Number(lines[8])).toBeGreaterThan(0);
    expect(lines.slice(9)).toEqual(['Seccomp:\t2', 'NoNewPrivs:\t1', 'CapEff:\t0000000000000000', 'pid 2']);
    // Node's path gives the same view.
    const theirs = node(['run', ...FULL, '--tmpfs', '/tmp', '--', '/bin/sh', '-c', 'grep " /proc " /proc/self/mountinfo | grep -c " - proc "; grep Seccomp: /proc/self/status; grep NoNewPrivs /proc/self/status; grep CapEff /proc/self/status; echo pid $$']);
    expect(theirs.stdout.trim().split('\n')).toEqual(lines.slice(8));
  });

  test('exit statuses: the program\'s, 128+N for a signal', () => {
    expect(run('exit 7')).toMatchObject({ status: 7, node: false });
    expect(run('kill -TERM $$')).toMatchObject({ status: 143, node: false });
    expect(run('kill -KILL $$')).toMatchObject({ status: 137, node: false });
  });

  test('stdin, and the environment as Node\'s path gives it', () => {
    expect(run('cat', [], { input: 'hello from stdin\n' })).toMatchObject({ status: 0, stdout: 'hello from stdin\n', node: false });
    const env = { FOO: 'bar baz', SANDBOXCTL_X: '1' };
    const mine = run('env | sort', ['--setenv', 'A', 'b', '--unsetenv', 'FOO'], { env });
    const theirs = node(['run', ...FULL, '--tmpfs', '/tmp', '--setenv', 'A', 'b', '--unsetenv', 'FOO', '--', '/bin/sh', '-c', 'env | sort'], { env });
    expect(mine.node).toBe(false);
    expect(mine.stdout).toBe(theirs.stdout);
    expect(mine.stdout).toContain('A=b\n');
    expect(mine.stdout).not.toContain('FOO=');
  });

  test('no caller fd reaches the program', () => {
    const extra = openSync(join(work, 'held'), 'w');
    try {
      const script = 'ls /proc/self/fd | sort -n | tr "\\n" " "';
      const mine = spawnSync(BIN, ['run', ...FULL, '--', '/bin/sh', '-c', script], { cwd: work, env: ENV, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe', extra, 'pipe', extra] });
      expect(mine.stderr).not.toContain(NODE_MARK);
      expect(mine.stdout).toBe('0 1 2 3 ');
    } finally {
      closeSync(extra);
    }
  });

  test('signals are forwarded: the first SIGTERM reaches the program; a second SIGINT kills the sandbox', async () => {
    const child = spawn(BIN, ['run', ...FULL, '--', '/bin/sh', '-c', 'trap "echo got TERM; exit 3" TERM; echo ready; while :; do sleep 0.05; done'], { cwd: work, env: ENV });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const closed = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    expect(await until(() => out.includes('ready'), 10_000)).toBe(true);
    // The bin exec'd the front: this pid is the native monitor, not Node.
    expect(readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim()).toBe('sandboxctl-fron');
    child.kill('SIGTERM');
    expect(await closed).toBe(3);
    expect(out).toContain('got TERM');

    const stubborn = spawn(BIN, ['run', ...FULL, '--', '/bin/sh', '-c', 'trap "" INT TERM; echo ready; while :; do sleep 0.05; done'], { cwd: work, env: ENV });
    let out2 = '';
    stubborn.stdout.on('data', (d: Buffer) => (out2 += d.toString()));
    const closed2 = new Promise<number | null>((res) => stubborn.on('close', (code) => res(code)));
    expect(await until(() => out2.includes('ready'), 10_000)).toBe(true);
    stubborn.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 200));
    stubborn.kill('SIGINT');
    expect(await closed2).toBe(130);
  });

  test('the sandbox does not outlive sandboxctl: SIGKILL of the front ends it all', async () => {
    const marker = `front-dies-${process.pid}`;
    const child = spawn(BIN, ['run', ...FULL, '--', '/bin/sh', '-c', 'echo ready; sleep 1000; :', marker], { cwd: work, env: ENV });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const closed = new Promise<NodeJS.Signals | null>((res) => child.on('close', (_code, signal) => res(signal)));
    // The front, the launcher (a fork of it) and the shell carry the
    // marker; pid 1 (its argv rewritten) is found above the shell.
    expect(await until(() => out.includes('ready') && hostProcessesWith(marker).length >= 4, 10_000)).toBe(true);
    const seen = hostProcessesWith(marker).map((pid) => [pid, startOf(pid)] as const);
    child.kill('SIGKILL');
    expect(await closed).toBe('SIGKILL');
    // Every one of them, not only those still named: gone (or its pid reused).
    expect(await until(() => seen.every(([pid, start]) => startOf(pid) !== start), 5000)).toBe(true);
    expect(hostProcessesWith(marker)).toEqual([]);
  });

  test('a terminal: the program gets a pseudo-terminal of its own, as through Node', () => {
    const script = 'tty; [ -t 0 ] && echo stdin-tty; stty size';
    const mine = onPty([BIN, 'run', ...FULL, '--', '/bin/sh', '-c', script], { TERM: 'xterm' });
    const theirs = onPty([process.execPath, CLI, 'run', ...FULL, '--', '/bin/sh', '-c', script], { TERM: 'xterm' });
    expect(mine.node).toBe(false);
    expect(mine.status).toBe(0);
    expect(mine.output).toMatch(/^\/dev\/pts\/\d+\r\nstdin-tty\r\n33 99\r\n$/);
    expect(mine.output).toBe(theirs.output);
    expect(onPty([BIN, 'run', ...FULL, '--no-tty', '--', '/bin/sh', '-c', 'tty'], {}).output).toMatch(/^\/dev\/pts\/\d+\r\n$|not a tty/);
  });

  test('an error with a hint, on a terminal: --tty without a private /dev', () => {
    const args = ['run', '--ro-bind', '/', '/', '--tty', '--', 'true'];
    const mine = onPty([BIN, ...args], {});
    const theirs = onPty([process.execPath, CLI, ...args], {});
    expect([mine.node, theirs.node]).toEqual([false, true]);
    expect(mine.status).toBe(125);
    expect(mine.output).toMatch(/^sandboxctl: E_SETUP: .*\r\nsandboxctl: hint: /);
    expect(mine).toEqual({ ...theirs, node: false });
  });

  test('a ^C typed on the terminal reaches the program once, with and without a pseudo-terminal', () => {
    const script = 'trap "echo got-INT; exit 5" INT; echo ready; while :; do sleep 0.05; done';
    for (const extra of [[], ['--no-tty']]) {
      const mine = onPty([BIN, 'run', ...FULL, ...extra, '--', '/bin/sh', '-c', script], {}, { after: 'ready', text: '\u0003' });
      expect([extra, mine.node, mine.status, mine.output.match(/got-INT/g)?.length]).toEqual([extra, false, 5, 1]);
    }
  });
});

describe('the bin script', () => {
  test('found from node_modules/.bin in a directory with spaces; Node exactly as before without the native front', () => {
    const proj = join(work, 'a project "with" spaces');
    const pkg = join(proj, 'node_modules/sandboxctl');
    mkdirSync(join(proj, 'node_modules/.bin'), { recursive: true });
    mkdirSync(join(proj, 'node_modules/@sandboxctl'), { recursive: true });
    for (const part of ['bin', 'dist', 'package.json']) cpSync(join(ROOT, 'packages/cli', part), join(pkg, part), { recursive: true });
    symlinkSync('../sandboxctl/bin/sandboxctl', join(proj, 'node_modules/.bin/sandboxctl'));
    // Without the native package's front: Node, as `#!/usr/bin/env node` ran it.
    const nativeCopy = join(proj, 'node_modules/@sandboxctl/native');
    cpSync(join(ROOT, 'packages/native'), nativeCopy, { recursive: true, filter: (src) => !src.endsWith('sandboxctl-front') });
    const dotBin = join(proj, 'node_modules/.bin/sandboxctl');
    const slow = ran(spawnSync(dotBin, ['--version'], { cwd: proj, env: ENV, encoding: 'utf8' }));
    expect(slow).toEqual({ status: 0, stdout: '0.1.0\n', stderr: '', node: true });
    cpSync(FRONT, join(nativeCopy, 'sandboxctl-front'));
    chmodSync(join(nativeCopy, 'sandboxctl-front'), 0o755);
    for (const me of [dotBin, join(pkg, 'bin/sandboxctl')]) {
      const fast = ran(spawnSync(me, ['--version'], { cwd: proj, env: ENV, encoding: 'utf8' }));
      expect(fast).toEqual({ status: 0, stdout: '0.1.0\n', stderr: '', node: false });
      // Arguments with spaces and quotes reach the program as given; a relative path names the project's.
      const r = ran(spawnSync(me, ['run', ...FULL, '--', '/bin/sh', '-c', 'printf "[%s]" "$@"', 'sh', 'a b', '"q"', '', '*'], { cwd: proj, env: ENV, encoding: 'utf8' }));
      expect(r).toEqual({ status: 0, stdout: '[a b]["q"][][*]', stderr: '', node: false });
    }
    // Through a relative $0 from inside the project.
    const rel = ran(spawnSync('node_modules/.bin/sandboxctl', ['-v'], { cwd: proj, env: ENV, encoding: 'utf8' }));
    expect(rel).toEqual({ status: 0, stdout: '0.1.0\n', stderr: '', node: false });
    // A global install (PREFIX/bin/sandboxctl -> ../lib/node_modules/sandboxctl/bin/sandboxctl),
    // and a link anywhere else (found with readlink -f).
    const prefix = join(work, 'prefix dir');
    mkdirSync(join(prefix, 'bin'), { recursive: true });
    mkdirSync(join(prefix, 'lib'), { recursive: true });
    symlinkSync(join(proj, 'node_modules'), join(prefix, 'lib/node_modules'));
    symlinkSync('../lib/node_modules/sandboxctl/bin/sandboxctl', join(prefix, 'bin/sandboxctl'));
    symlinkSync(join(pkg, 'bin/sandboxctl'), join(prefix, 'elsewhere'));
    for (const me of [join(prefix, 'bin/sandboxctl'), join(prefix, 'elsewhere')]) {
      expect([me, ran(spawnSync(me, ['run', ...FULL, '--', 'true'], { cwd: work, env: ENV, encoding: 'utf8' }))]).toEqual([me, { status: 0, stdout: '', stderr: '', node: false }]);
    }
    // A CLI package of another version than the front's (a mixed install): run is Node's.
    writeFileSync(join(pkg, 'dist/front/version.txt'), '0.0.9\n');
    expect(ran(spawnSync(dotBin, ['run', ...FULL, '--', 'true'], { cwd: proj, env: ENV, encoding: 'utf8' }))).toMatchObject({ status: 0, node: true });
    // Fall-through argv is unchanged.
    const plan = ran(spawnSync(dotBin, ['plan', '--json', '--setenv', 'A', 'x y', '--', 'a b', ''], { cwd: proj, env: ENV, encoding: 'utf8' }));
    expect(plan.node).toBe(true);
    expect(JSON.parse(plan.stdout).argv).toEqual(['a b', '']);
  });

  test('a `node` planted earlier in PATH runs only where the Node CLI would run it anyway', () => {
    const evil = join(work, 'evil');
    mkdirSync(evil, { recursive: true });
    writeFileSync(join(evil, 'node'), '#!/bin/sh\necho PLANTED >&2\nexit 99\n', { mode: 0o755 });
    const env = { PATH: `${evil}:${ENV.PATH}` };
    expect(bin(['--version'], { env })).toMatchObject({ status: 0, stderr: '' });
    expect(bin(['run', ...FULL, '--', 'true'], { env })).toMatchObject({ status: 0, stderr: '' });
    // What goes to Node goes to the `node` in PATH, as `#!/usr/bin/env node` did.
    expect(bin(['doctor'], { env })).toMatchObject({ status: 99, stderr: 'PLANTED\n' });
  });
});

/** Runs argv on a new terminal (33x99) and returns what it showed. */
function onPty(argv: string[], env: Record<string, string>, send?: { after: string; text: string }): { output: string; status: number | null; node: boolean } {
  const driver = String.raw`
import fcntl, json, os, pty, select, struct, sys, termios
spec = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.chdir(spec['cwd'])
    os.execvpe(spec['argv'][0], spec['argv'], spec['env'])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 33, 99, 0, 0))
out = bytearray()
send = spec.get('send')
while True:
    if send and send['after'].encode() in out:
        os.write(fd, send['text'].encode())
        send = None
    r, _, _ = select.select([fd], [], [], 20)
    if not r:
        break
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    out.extend(data)
_, st = os.waitpid(pid, 0)
sys.stdout.write(json.dumps({'output': out.decode('utf-8', 'replace'), 'status': os.waitstatus_to_exitcode(st)}))
`;
  const r = spawnSync('python3', ['-c', driver, JSON.stringify({ argv, cwd: work, env: { ...ENV, ...env }, send })], { encoding: 'utf8', timeout: 60_000 });
  const res = JSON.parse(r.stdout) as { output: string; status: number | null };
  const node = res.output.includes('NODE-STARTED\r\n');
  return { output: res.output.replace('NODE-STARTED\r\n', ''), status: res.status, node };
}
