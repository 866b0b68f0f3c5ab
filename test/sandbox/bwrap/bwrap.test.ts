/**
 * sandboxctl-bwrap, the bubblewrap drop-in (docs/bwrap.md): real sandboxes
 * through target/release/sandboxctl-bwrap, checked from inside; bubblewrap's
 * messages, exit statuses and fd protocols; and the attacks a drop-in must
 * refuse where bubblewrap's semantics alone would not (ptrace of pid 1, our
 * own fds leaking in, TIOCSTI, writing into the host). Runs as root and as
 * the unprivileged user (scripts/test.sh).
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, TRY, UID, requireKernel, tempDir } from '../helpers';

const BWRAP = join(ROOT, 'target/release/sandboxctl-bwrap');
const RO = ['--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp'];

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The fds a program spawned like this gets from us without a sandbox: the ones the sandbox must show. */
function callerFds(stdio: SpawnSyncOptions['stdio']): string {
  return String(spawnSync(TRY, ['fds'], { stdio, encoding: 'utf8' }).stdout).trim();
}

function bwrap(args: string[], opts: SpawnSyncOptions = {}): Ran {
  const r = spawnSync(BWRAP, args, { encoding: 'utf8', timeout: 30_000, ...opts });
  if (r.error) throw r.error;
  return { status: r.status, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

let dir = '';
beforeAll(() => {
  requireKernel();
  if (!existsSync(BWRAP)) throw new Error(`${BWRAP} is missing: cargo build --release -p sandbox-bwrap`);
  if (!existsSync(TRY)) throw new Error(`${TRY} is missing: cargo build --release -p sandbox-testkit`);
  dir = tempDir('sbx-bwrap-');
});
afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

describe('command line', () => {
  test('--help is on stdout and starts as bubblewrap’s, exit 0', () => {
    const r = bwrap(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith(`usage: ${BWRAP} [OPTIONS...] [--] COMMAND [ARGS...]\n`)).toBe(true);
    expect(r.stdout).toContain('--userns-block-fd FD');
  });

  test('no arguments: usage on stderr, exit 1', () => {
    const r = bwrap([]);
    expect(r.status).toBe(1);
    expect(r.stderr.startsWith('usage: ')).toBe(true);
  });

  test('errors are bubblewrap’s: one bwrap: line, exit 1, nothing run', () => {
    for (const [args, line] of [
      [['--nope', 'true'], 'bwrap: Unknown option --nope\n'],
      [['--perms', '8', '--dir', '/d', 'true'], 'bwrap: --perms takes an octal argument <= 07777\n'],
      [['--size', '0', '--tmpfs', '/t', 'true'], 'bwrap: --size takes a non-zero number of bytes\n'],
      [['--hostname', 'h', 'true'], 'bwrap: Specifying --hostname requires --unshare-uts\n'],
      [['--level-prefix', '--bind', '/nonexistent-src', '/x', 'true'], '<3>bwrap: Can\'t find source path /nonexistent-src: No such file or directory\n'],
    ] as const) {
      const r = bwrap([...args]);
      expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status: 1, stderr: line });
    }
  });

  test('the program’s status is the exit status; a signal is 128+N', () => {
    expect(bwrap([...RO, 'sh', '-c', 'exit 42']).status).toBe(42);
    expect(bwrap([...RO, 'sh', '-c', 'kill -TERM $$']).status).toBe(128 + 15);
    const r = bwrap([...RO, '/nonexistent-program']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^bwrap: execvp \/nonexistent-program: /);
  });

  test('--args FD: NUL-separated options from a file', () => {
    const file = join(dir, 'args');
    writeFileSync(file, '--setenv\0FROM_ARGS\0yes\0--dir\0/tmp/made\0');
    const fd = openSync(file, 'r');
    try {
      const r = bwrap([...RO, '--args', '3', 'sh', '-c', 'test -d /tmp/made && echo $FROM_ARGS'], { stdio: ['ignore', 'pipe', 'pipe', fd] });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('yes\n');
    } finally {
      closeSync(fd);
    }
  });
});

describe('semantics, checked from inside', () => {
  test('only the namespaces asked for: the host network unless --unshare-net', () => {
    const hostNet = readlinkSync('/proc/self/ns/net');
    expect(bwrap([...RO, 'readlink', '/proc/self/ns/net']).stdout.trim()).toBe(hostNet);
    const own = bwrap([...RO, '--unshare-net', 'sh', '-c', 'readlink /proc/self/ns/net; cat /proc/net/dev']);
    expect(own.stdout.split('\n')[0]).not.toBe(hostNet);
    expect(own.stdout).toContain(' lo:');
    expect(own.stdout).not.toMatch(/eth|ens|enp|veth/);
  });

  test('--unshare-uts with --hostname; --uid/--gid in the user namespace; --chdir; --clearenv', () => {
    const r = bwrap([...RO, '--unshare-user', '--unshare-uts', '--hostname', 'bw-test', '--uid', '1234', '--gid', '4321', '--chdir', '/tmp', '--clearenv', '--setenv', 'ONLY', '1', 'sh', '-c', 'hostname; id -u; id -g; pwd; env | grep -v ^PWD= | sort']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('bw-test\n1234\n4321\n/tmp\nONLY=1\n');
  });

  test('no seccomp filter of ours beyond the terminal rules; caller’s fds at their numbers', () => {
    const stdio: SpawnSyncOptions['stdio'] = ['ignore', 'pipe', 'pipe', 'ignore', 'ignore', 'pipe'];
    const r = bwrap([...RO, '--ro-bind', TRY, '/tmp/sbx-try', 'sh', '-c', '/tmp/sbx-try syscall chroot; /tmp/sbx-try syscall personality-query; /tmp/sbx-try fds'], { stdio });
    expect(r.stderr).toBe('');
    const [chroot, personality, fds] = r.stdout.trim().split('\n');
    // chroot reaches the kernel, not a filter: EPERM without a capability;
    // a root caller keeps its own (bubblewrap's semantics), so it works
    expect([chroot, personality]).toEqual([UID === 0 ? 'ok' : 'EPERM', 'ok']);
    // the pipe the caller left open at fd 5 is there, as every fd the caller
    // passes, and nothing else
    expect(fds).toContain(' 5');
    expect(fds).toBe(callerFds(stdio));
  });

  test('--info-fd and --json-status-fd: bubblewrap’s JSON, exit-code only when the program ran', () => {
    const r = spawnSync(BWRAP, [...RO, '--unshare-pid', '--unshare-net', '--info-fd', '3', '--json-status-fd', '4', 'sh', '-c', 'exit 7'], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    expect(r.status).toBe(7);
    const info = JSON.parse(String(r.output[3]));
    expect(info['child-pid']).toBeGreaterThan(1);
    expect(Object.keys(info).sort()).toEqual(['child-pid', 'mnt-namespace', 'net-namespace', 'pid-namespace']);
    const lines = String(r.output[4]).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toEqual(info);
    expect(lines[1]).toEqual({ 'exit-code': 7 });
    const failed = spawnSync(BWRAP, [...RO, '--json-status-fd', '3', '/'], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], encoding: 'utf8' });
    expect(failed.status).toBe(1);
    expect(String(failed.output[3])).not.toContain('exit-code');
  });

  test('--as-pid-1: the program is pid 1', () => {
    expect(bwrap([...RO, '--unshare-pid', '--as-pid-1', 'sh', '-c', 'echo $$']).stdout).toBe('1\n');
    expect(bwrap([...RO, '--unshare-pid', 'sh', '-c', 'echo $$']).stdout).toBe('2\n');
  });

  test('--seccomp FD: the caller’s program on the program alone (our init still starts it)', () => {
    // A one-instruction allow-all program would be trivial; this one answers
    // EPERM to everything but the calls exec and the program need is hard to
    // write portably, so: RET ERRNO(ENOSYS) for chroot, ALLOW otherwise.
    const nr = process.arch === 'x64' ? 161 : 51;
    const insn = (code: number, jt: number, jf: number, k: number) => {
      const b = Buffer.alloc(8);
      b.writeUInt16LE(code, 0);
      b.writeUInt8(jt, 2);
      b.writeUInt8(jf, 3);
      b.writeUInt32LE(k >>> 0, 4);
      return b;
    };
    const prog = Buffer.concat([insn(0x20, 0, 0, 0), insn(0x15, 0, 1, nr), insn(0x06, 0, 0, 0x00050000 | 38), insn(0x06, 0, 0, 0x7fff0000)]);
    const file = join(dir, 'filter.bpf');
    writeFileSync(file, prog);
    const fd = openSync(file, 'r');
    try {
      const r = bwrap([...RO, '--ro-bind', TRY, '/tmp/sbx-try', '--seccomp', '3', '/tmp/sbx-try', 'syscall', 'chroot'], { stdio: ['ignore', 'pipe', 'pipe', fd] });
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe('ENOSYS');
    } finally {
      closeSync(fd);
    }
  });
});

describe('attacks', () => {
  const TRY_ARGS = [...RO, '--ro-bind', TRY, '/tmp/sbx-try', '--unshare-pid'];

  test('pid 1 cannot be ptraced, nor its memory or fds read', () => {
    const r = bwrap([...TRY_ARGS, 'sh', '-c', '/tmp/sbx-try syscall ptrace-pid1; /tmp/sbx-try vm-read 1; ls /proc/1/fd 2>&1 >/dev/null | head -n 1; cat /proc/1/environ 2>&1 | head -c 200; echo']);
    const [ptrace, vm, fd, environ] = r.stdout.split('\n');
    expect(ptrace).toBe('EPERM');
    expect(vm).toBe('EPERM');
    // A root caller's program keeps root's capabilities inside (bubblewrap's
    // semantics); without them pid 1's /proc entries are closed too.
    if (UID !== 0) {
      expect(fd).toMatch(/Permission denied/);
      expect(environ).toMatch(/Permission denied/);
    }
  });

  test('pid 1\'s command line shows our name, not the caller\'s arguments or our path', () => {
    const secret = tempDir('sbx-bwrap-secret-');
    try {
      const r = bwrap([...TRY_ARGS, '--ro-bind', secret, '/mnt', 'sh', '-c', "tr '\\0' '|' < /proc/1/cmdline"]);
      expect([r.status, r.stderr]).toEqual([0, '']);
      expect(r.stdout).toBe('sandboxctl-bwrap|');
    } finally {
      rmSync(secret, { recursive: true });
    }
  });

  test('none of our own fds reach the program, even with every caller fd passed', () => {
    // Many caller fds open (not close-on-exec): the program sees exactly
    // them; the report socket, pid 1's and the launcher's fds never appear.
    const stdio: SpawnSyncOptions['stdio'] = ['ignore', 'pipe', 'pipe', 'pipe', 'pipe', 'ignore', 'pipe'];
    const r = bwrap([...TRY_ARGS, '/tmp/sbx-try', 'fds'], { stdio });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toMatch(/^0 1 2 3 4 6\b/);
    expect(r.stdout.trim()).toBe(callerFds(stdio));
    // and what the report socket would be (a socket of ours) is not among them
    const links = bwrap([...TRY_ARGS, 'sh', '-c', 'for f in /proc/self/fd/*; do readlink $f; done'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const outside = spawnSync('sh', ['-c', 'for f in /proc/self/fd/*; do readlink $f; done'], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    const sockets = (t: string) => t.split('\n').filter((l) => l.startsWith('socket:')).length;
    expect(sockets(links.stdout)).toBe(sockets(String(outside.stdout)));
  });

  test('TIOCSTI and TIOCLINUX are refused on an open fd, with and without --new-session', () => {
    for (const extra of [[], ['--new-session']]) {
      const r = bwrap([...TRY_ARGS, ...extra, 'sh', '-c', '/tmp/sbx-try syscall ioctl-tiocsti; /tmp/sbx-try syscall ioctl-tiocsti-high; /tmp/sbx-try syscall ioctl-tioclinux'], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      expect(r.stdout.trim().split('\n')).toEqual(['EPERM', 'EPERM', 'EPERM']);
    }
  });

  test('a file planted into a read-only host path is refused and not there afterwards', () => {
    // Outside /tmp (a tmpfs of the sandbox's own here): the worktree's target/.
    const target = join(ROOT, 'target', `sbx-bwrap-plant-${UID}-${process.pid}`);
    const r = bwrap([...RO, 'sh', '-c', `printf '#!/bin/sh\\necho pwned\\n' > ${target}/post-checkout 2>&1; mkdir -p ${target} 2>&1; echo done`]);
    expect(r.stdout).toMatch(/Read-only file system[\s\S]*done/);
    expect(existsSync(target)).toBe(false);
  });

  test('--disable-userns: no user namespace from inside', () => {
    const r = bwrap([...TRY_ARGS, '--unshare-user', '--disable-userns', 'sh', '-c', '/tmp/sbx-try syscall unshare-user; /tmp/sbx-try syscall clone-newuser']);
    expect(r.stdout.trim().split('\n')).toEqual(['EPERM', 'EPERM']);
    expect(bwrap([...RO, '--assert-userns-disabled', 'true']).stderr).toBe('bwrap: creation of new user namespaces was not disabled as requested\n');
  });

  test('the sandbox ends with sandboxctl-bwrap', () => {
    const mark = `bwrapmark-${UID}-${process.pid}`;
    const child = spawnSync('sh', ['-c', `${BWRAP} --ro-bind / / --proc /proc --dev /dev --unshare-pid --argv0 ${mark} sleep 300 & b=$!; sleep 0.5; pgrep -f "^${mark}" >/dev/null || echo missing; kill -9 $b; sleep 0.5; pgrep -f "^${mark}" || echo gone`], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(child.stdout.trim()).toBe('gone');
  });

  test('the fds bubblewrap reads do not reach the program', () => {
    const file = join(dir, 'data');
    writeFileSync(file, 'secret\n');
    const fd = openSync(file, 'r');
    try {
      const r = bwrap([...TRY_ARGS, '--ro-bind-data', '3', '/tmp/data', 'sh', '-c', 'cat /tmp/data; /tmp/sbx-try fds'], { stdio: ['ignore', 'pipe', 'pipe', fd] });
      expect(r.stdout).toBe(`secret\n${callerFds(['ignore', 'pipe', 'pipe'])}\n`);
    } finally {
      closeSync(fd);
    }
  });
});

test('sandboxctl bwrap-path prints the drop-in', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'packages/cli/bin/sandboxctl.js'), 'bwrap-path'], { encoding: 'utf8', env: { ...process.env, SANDBOXCTL_BWRAP: BWRAP } });
  expect(r.stdout).toBe(`${BWRAP}\n`);
  expect(readFileSync(BWRAP).subarray(0, 4).toString('latin1')).toBe('\x7fELF');
});
