/**
 * Seccomp from inside real sandboxes: the strict preset's additions answer
 * EPERM, the plan's own rules and stacked filters apply with their own
 * answers, and the raw program `sandboxctl seccomp export` writes is one
 * bubblewrap loads. Each errno is checked against a run without the filter,
 * so it is the filter's and not the kernel's.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASE, CLI, INIT, TRY, TRY_IN, cli, requireKernel, sh, type Ran } from './helpers';

let dir: string;
let bwrap: string;

beforeAll(() => {
  requireKernel();
  const which = spawnSync('sh', ['-c', 'command -v bwrap'], { encoding: 'utf8' });
  bwrap = which.stdout.trim();
  if (which.status !== 0 || bwrap === '') {
    throw new Error('bwrap is missing: install bubblewrap (`apt-get install -y bubblewrap`; .ci/run installs it) to prove exported filters load');
  }
  dir = mkdtempSync('/tmp/sbx-seccomp-');
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** `sbx-try syscall NAME` in a sandbox with the BASE set-up and `extra` flags. */
async function tryIn(name: string, extra: string[] = []): Promise<string> {
  const r = await sh(`${TRY_IN} syscall ${name}`, extra);
  if (r.code !== 0) throw new Error(`sbx-try syscall ${name}: status ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}

/** The plan `sandboxctl run BASE -- ARGV` would use, with `seccomp` (and more) set. */
async function planWith(argv: string[], fields: object): Promise<object> {
  const r = await cli(['plan', '--json', ...BASE, '--', ...argv]);
  if (r.code !== 0) throw new Error(`sandboxctl plan: ${r.stderr}`);
  return { ...JSON.parse(r.stdout), ...fields };
}

/** Run a plan through `sandboxctl-init --plan -`. */
function runPlan(plan: object): Promise<Ran> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(INIT, ['--plan', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolveRun({ code, signal, stdout, stderr }));
    child.stdin.end(JSON.stringify(plan));
  });
}

/** Each `sbx-try syscall NAME` under the plan's seccomp: NAME=answer, or NAME=status N when killed. */
async function answersUnder(seccomp: object, names: string[], fields: object = {}): Promise<Record<string, string>> {
  const script = names.map((n) => `printf '%s=' ${n}; ${TRY_IN} syscall ${n} || echo "status $?"`).join('; ');
  const r = await runPlan(await planWith(['/bin/sh', '-c', script], { seccomp, ...fields }));
  if (r.code !== 0) throw new Error(`status ${r.code}: ${r.stderr}`);
  return Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split('=') as [string, string]));
}

describe('strict preset additions', () => {
  const added = ['io_uring_setup', 'io_uring_enter', 'io_uring_register', 'userfaultfd', 'process_vm_readv-self', 'process_vm_writev-self'];

  test.each(added)('%s answers EPERM', async (name) => {
    expect(await tryIn(name)).toBe('EPERM');
  });

  test('without the filter the same calls reach the kernel', async () => {
    const none = ['--seccomp', 'none'];
    expect(await tryIn('io_uring_enter', none)).toBe('EBADF');
    expect(await tryIn('io_uring_register', none)).not.toBe('EPERM');
    expect(await tryIn('process_vm_readv-self', none)).toBe('EFAULT');
    expect(await tryIn('process_vm_writev-self', none)).toBe('EFAULT');
    // io_uring_setup and userfaultfd also answer EPERM from host sysctls
    // (kernel.io_uring_disabled, vm.unprivileged_userfaultfd): compare only when open.
    const sysctl = (name: string) => {
      try {
        return readFileSync(`/proc/sys/${name}`, 'utf8').trim();
      } catch {
        return undefined;
      }
    };
    if (sysctl('kernel/io_uring_disabled') === '0') expect(await tryIn('io_uring_setup', none)).toBe('ok');
  });

  test('x32 numbers answer ENOSYS, as on a kernel without x32', async () => {
    if (process.arch !== 'x64') return; // x32 is an x86_64 ABI
    expect(await tryIn('x32-unshare-user')).toBe('ENOSYS');
  });
});

describe('custom rules and stacked filters from the plan', () => {
  test('a rule answers with its own errno; without it the call succeeds', async () => {
    const rules = [{ syscall: 'getcwd', action: { errno: 13 } }];
    expect(await answersUnder({ rules }, ['getcwd', 'keyctl'])).toEqual({ getcwd: 'EACCES', keyctl: 'EPERM' });
    expect(await answersUnder({}, ['getcwd'])).toEqual({ getcwd: 'ok' });
    // preset none: the rule alone
    const alone = await answersUnder({ preset: 'none', rules }, ['getcwd', 'keyctl']);
    expect(alone.getcwd).toBe('EACCES');
    expect(alone.keyctl).not.toBe('EPERM');
  });

  test('argument conditions select the calls', async () => {
    const rules = [{ syscall: 'io_uring_enter', args: [{ index: 0, op: 'eq', value: 0xffffffff, low32: true }], action: { errno: 22 } }];
    // sbx-try passes fd -1: its low 32 bits are 0xffffffff
    expect(await answersUnder({ preset: 'none', rules }, ['io_uring_enter'])).toEqual({ io_uring_enter: 'EINVAL' });
    const other = [{ ...rules[0], args: [{ index: 0, op: 'eq', value: 3, low32: true }] }];
    expect(await answersUnder({ preset: 'none', rules: other }, ['io_uring_enter'])).toEqual({ io_uring_enter: 'EBADF' });
  });

  test('stacked filters each apply; the last loaded wins a tie; kill kills', async () => {
    const seccomp = {
      preset: 'none',
      rules: [{ syscall: 'getcwd', action: { errno: 13 } }],
      stack: [
        { rules: [{ syscall: 'getcwd', action: { errno: 1 } }, { syscall: 'io_uring_enter', action: { errno: 22 } }] },
        { rules: [{ syscall: 'keyctl', action: 'kill' }] },
      ],
    };
    expect(await answersUnder(seccomp, ['getcwd', 'io_uring_enter', 'keyctl', 'socket-inet'])).toEqual({
      getcwd: 'EPERM',
      io_uring_enter: 'EINVAL',
      keyctl: 'status 159', // 128 + SIGSYS
      'socket-inet': 'ok',
    });
  });

  test('preset none with the session kept still refuses TIOCSTI', async () => {
    expect(await answersUnder({ preset: 'none' }, ['ioctl-tiocsti-high'], { newSession: false })).toEqual({ 'ioctl-tiocsti-high': 'EPERM' });
    expect(await answersUnder({ preset: 'none' }, ['ioctl-tiocsti-high'])).not.toEqual({ 'ioctl-tiocsti-high': 'EPERM' });
  });

  test('an unknown syscall name fails before the sandbox starts, naming the rule', async () => {
    const r = await runPlan(await planWith(['/bin/true'], { seccomp: { rules: [{ syscall: 'getpid', action: 'log' }, { syscall: 'nope', action: 'kill' }] } }));
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^sandboxctl: E_[A-Z_]+: .*plan\.seccomp\.rules\[1\]\.syscall: unknown syscall "nope" on (x86_64|aarch64)$/m);
  });
});

describe('sandboxctl seccomp export', () => {
  /** `sandboxctl seccomp export ARGS > FILE`, returning FILE. */
  function exportTo(name: string, args: string[]): string {
    const file = join(dir, name);
    const fd = openSync(file, 'w');
    try {
      const r = spawnSync(process.execPath, [CLI, 'seccomp', 'export', ...args], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`seccomp export ${args.join(' ')}: ${r.stderr}`);
    } finally {
      closeSync(fd);
    }
    return file;
  }

  /** `bwrap --ro-bind / / --dev /dev FLAGS -- sbx-try syscall NAME`, the filter files on fds 9, 10... */
  function bwrapTry(name: string, flag: '--seccomp' | '--add-seccomp-fd' | null, files: string[] = []): string {
    const fds = files.map((f) => openSync(f, 'r'));
    try {
      const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'pipe', 'pipe', ...Array(6).fill('ignore'), ...fds];
      const seccomp = flag ? fds.flatMap((_, i) => [flag, String(9 + i)]) : [];
      const r = spawnSync(bwrap, ['--ro-bind', '/', '/', '--dev', '/dev', ...seccomp, '--', TRY, 'syscall', name], { stdio, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`bwrap: status ${r.status}: ${r.stderr}`);
      return r.stdout.trim();
    } finally {
      fds.forEach((fd) => closeSync(fd));
    }
  }

  test('bubblewrap loads the exported strict filter', () => {
    const strict = exportTo('strict.bpf', ['--preset', 'strict']);
    expect(readFileSync(strict).length % 8).toBe(0);
    expect(bwrapTry('keyctl', null)).not.toBe('EPERM');
    expect(bwrapTry('keyctl', '--seccomp', [strict])).toBe('EPERM');
    expect(bwrapTry('io_uring_enter', '--seccomp', [strict])).toBe('EPERM');
    expect(bwrapTry('clone3', '--seccomp', [strict])).toBe('ENOSYS');
    expect(bwrapTry('socket-packet', '--seccomp', [strict])).toBe('EAFNOSUPPORT');
    expect(bwrapTry('socket-inet', '--seccomp', [strict])).toBe('ok');
  });

  test('a plan\'s stacked filters, exported one by one, stack under bubblewrap too', () => {
    const plan = join(dir, 'plan.json');
    writeFileSync(
      plan,
      JSON.stringify({
        argv: ['/bin/true'],
        seccomp: { preset: 'none', rules: [{ syscall: 'getcwd', action: { errno: 13 } }], stack: [{ rules: [{ syscall: 'io_uring_enter', action: { errno: 22 } }] }] },
      }),
    );
    const first = exportTo('first.bpf', ['--plan', plan]);
    const second = exportTo('second.bpf', ['--plan', plan, '--filter', '1']);
    expect(bwrapTry('getcwd', '--add-seccomp-fd', [first, second])).toBe('EACCES');
    expect(bwrapTry('io_uring_enter', '--add-seccomp-fd', [first, second])).toBe('EINVAL');
    expect(bwrapTry('io_uring_enter', '--add-seccomp-fd', [first])).toBe('EBADF');
  });
});
