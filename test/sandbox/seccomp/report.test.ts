/**
 * Denied system calls in the report (issue 14): with `--report` the strict
 * filter's errno denials reach a listener outside the sandbox (seccomp user
 * notification) that writes a `{kind: 'syscall'}` line and answers with the
 * filter's own errno. Checked from inside: the program sees the same answers
 * with and without a report, the lines come while it runs, and no process
 * of the sandbox holds the listener.
 */
import { mkdtempSync, readFileSync, rmSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { run, type Denial } from '@sandboxctl/core';
import { BASE, BASE_OPS, TRY_IN, cli, requireKernel } from '../helpers';

let dir: string;
beforeAll(() => {
  requireKernel();
  dir = mkdtempSync('/var/tmp/sbx-sysreport-');
  chmodSync(dir, 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sh = (script: string, extra: string[] = []) => cli(['run', ...BASE, ...extra, '--', '/bin/sh', '-c', script]);
const lines = (text: string): Denial[] =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Denial);
const syscalls = (ds: Denial[]) => ds.filter((d) => d.kind === 'syscall');

/** Probes the strict preset refuses (and the errno it answers) and ones it allows. */
const PROBES = ['keyctl', 'ptrace-traceme', 'userfaultfd', 'io_uring_setup', 'personality-linux32', 'socket-alg', 'socket-packet', 'ioctl-tiocsti', 'perf_event_open', 'add_key', 'socket-inet', 'personality-query', 'unshare-user', 'mount', 'chroot'];
const probeAll = PROBES.map((p) => `printf '%s=' ${p}; ${TRY_IN} syscall ${p}`).join('; ');

describe('syscall denials in --report', () => {
  test('a denied call is a report line with its name, errno and pid; the program gets the errno', async () => {
    const file = join(dir, 'one.jsonl');
    const r = await sh(`${TRY_IN} syscall keyctl; ${TRY_IN} syscall socket-alg; echo $$`, ['--report', file]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    const [keyctl, alg, pid] = r.stdout.trim().split('\n');
    expect([keyctl, alg]).toEqual(['EPERM', 'EAFNOSUPPORT']);
    const ds = syscalls(lines(readFileSync(file, 'utf8')));
    expect(ds.map((d) => d.kind === 'syscall' && [d.name, d.errno])).toEqual([
      ['keyctl', 1],
      ['socket', 97],
    ]);
    // The callers are the shell's children: host pids, not the shell's own.
    for (const d of ds) if (d.kind === 'syscall') expect(d.pid).not.toBe(Number(pid));
  });

  test('the program sees exactly the same answers with and without --report', async () => {
    const plain = await sh(probeAll);
    const reported = await sh(probeAll, ['--report', '-']);
    expect(plain.code).toBe(0);
    expect(reported.code).toBe(0);
    expect(reported.stdout).toBe(plain.stdout);
    expect(plain.stdout).toContain('socket-inet=ok\npersonality-query=ok\n');
    // One line per refused probe, in order; the allowed ones have none.
    expect(syscalls(lines(reported.stderr)).map((d) => d.kind === 'syscall' && `${d.name}:${d.errno}`)).toEqual([
      'keyctl:1',
      'ptrace:1',
      'userfaultfd:1',
      'io_uring_setup:1',
      'personality:1',
      'socket:97',
      'socket:97',
      'ioctl:1',
      'perf_event_open:1',
      'add_key:1',
      'unshare:1',
      'mount:1',
      'chroot:1',
    ]);
    expect(plain.stderr).toBe('');
  });

  test('no process of the sandbox holds the listener; without --report there is none', async () => {
    const look = 'for f in /proc/[0-9]*/fd/*; do readlink "$f"; done 2>/dev/null | grep -c seccomp; grep Seccomp_filters /proc/self/status';
    for (const extra of [['--report', '-'], []]) {
      const r = await sh(look, extra);
      expect(r.stdout).toBe('0\nSeccomp_filters:\t1\n');
    }
  });

  test('lines are written while the program runs: it reads its own line from inside', async () => {
    const sub = mkdtempSync(join(dir, 'live-'));
    chmodSync(sub, 0o755);
    const script = `${TRY_IN} syscall ptrace-traceme >/dev/null; for i in $(seq 100); do grep -q '"name":"ptrace"' ${sub}/r.jsonl 2>/dev/null && { echo seen; exit 0; }; sleep 0.05; done; echo unseen`;
    const r = await sh(script, ['--ro-bind', sub, sub, '--report', join(sub, 'r.jsonl')]);
    expect([r.code, r.stdout.trim()]).toEqual([0, 'seen']);
    // Each line is a whole JSON line.
    for (const l of readFileSync(join(sub, 'r.jsonl'), 'utf8').split('\n').filter(Boolean)) expect(() => JSON.parse(l)).not.toThrow();
  });

  test('the library: onDenial gets each line before the run ends, the result has them all', async () => {
    const seen: Denial[] = [];
    let settled = false;
    const r = await run({
      argv: ['/bin/sh', '-c', `${TRY_IN} syscall keyctl; ${TRY_IN} syscall userfaultfd`],
      ops: BASE_OPS as never[],
      report: true,
      stdio: 'pipe',
      onDenial: (d) => {
        expect(settled).toBe(false);
        seen.push(d);
      },
    });
    settled = true;
    expect(r.code).toBe(0);
    expect(syscalls(seen).map((d) => d.kind === 'syscall' && d.name)).toEqual(['keyctl', 'userfaultfd']);
    expect(r.denials).toEqual(seen);
  });

  test('a program hammering a denied call: every call answered and reported', async () => {
    const nr = process.arch === 'arm64' ? 219 : 250; // keyctl
    const py = `import ctypes, os; libc = ctypes.CDLL(None, use_errno=True)\nfor _ in range(2000):\n  assert libc.syscall(${nr}, 0) == -1 and ctypes.get_errno() == 1\nprint("ok")`;
    const file = join(dir, 'many.jsonl');
    const r = await cli(['run', ...BASE, '--report', file, '--', '/usr/bin/python3', '-c', py]);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'ok\n', '']);
    const ds = syscalls(lines(readFileSync(file, 'utf8')));
    expect(ds).toHaveLength(2000);
    expect(new Set(ds.map((d) => d.kind === 'syscall' && d.name))).toEqual(new Set(['keyctl']));
  });

  test('with an allow-list network too: the proxy and the listener both report, in one run, and it ends', async () => {
    const r = await sh(`curl -sS -o /dev/null -w '%{http_code}\\n' http://127.0.0.1:9/; ${TRY_IN} syscall keyctl`, ['--allow-host', '127.0.0.1:1', '--report', '-']);
    expect([r.code, r.stdout]).toEqual([0, '403\nEPERM\n']);
    expect(lines(r.stderr).map((d) => d.kind)).toEqual(['network', 'syscall']);
  }, 20_000);

  test('without --report the library result has no syscall denials', async () => {
    const r = await run({ argv: [TRY_IN, 'syscall', 'keyctl'], ops: BASE_OPS as never[], stdio: 'pipe' });
    expect(r.denials).toEqual([]);
  });
});
