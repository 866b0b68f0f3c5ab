/**
 * How pid 1 starts the program (issue 9): as a shell would. Every signal at
 * its default disposition and an empty mask, whatever the caller ignored or
 * blocked (Node ignores SIGPIPE, and so does init's Rust runtime), so
 * `seq | head` ends seq with SIGPIPE; and a script without `#!` runs with
 * /bin/sh, as execvp does. Through the CLI, spawned from Node.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASE, BASE_OPS, INIT, cli, requireKernel, sh } from './helpers';

let dir: string;

beforeAll(() => {
  requireKernel();
  dir = mkdtempSync('/tmp/sbx-exec-');
  chmodSync(dir, 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** SigBlk, SigIgn and SigCgt of cat's own status (cat catches nothing), as hex masks. */
const SIGNALS = `cat /proc/self/status | grep -E '^Sig(Ign|Blk|Cgt):' | tr -s '\\t ' ' ' | tr '\\n' ' '`;
const CLEAN = 'SigBlk: 0000000000000000 SigIgn: 0000000000000000 SigCgt: 0000000000000000 ';

describe('signals', () => {
  test('seq 1 100000 | head -1: seq dies of SIGPIPE (141 in the pipeline status), no "Broken pipe"', async () => {
    const r = await sh('seq 1 100000 | head -1; bash -c \'seq 1 100000 | head -1; echo "status ${PIPESTATUS[*]}"\'');
    expect([r.code, r.stdout, r.stderr]).toEqual([0, '1\n1\nstatus 141 0\n', '']);
  });

  test('with pipefail the sandbox itself exits 141', async () => {
    const r = await cli(['run', ...BASE, '--', '/bin/bash', '-c', 'set -o pipefail; seq 1 100000 | head -1 >/dev/null']);
    expect([r.code, r.stderr]).toEqual([141, '']);
  });

  test('the program starts with no signal ignored, blocked or caught', async () => {
    const r = await sh(SIGNALS);
    expect([r.code, r.stdout]).toEqual([0, CLEAN]);
  });

  test('even when the caller of the launcher ignores SIGINT, SIGHUP, SIGPIPE and SIGTERM (nohup, a shell\'s trap \'\')', () => {
    // Node resets its children's signals itself, so the launcher is run
    // straight from a shell here, as a script or bwrap user would run it.
    const plan = JSON.stringify({ argv: ['/bin/sh', '-c', SIGNALS], ops: BASE_OPS });
    const r = spawnSync('/bin/sh', ['-c', `trap '' INT HUP PIPE TERM; ${SIGNALS}; echo; exec "$0" --plan -`, INIT], { input: plan, encoding: 'utf8' });
    // The caller's own view shows what it ignores; the program inside starts clean.
    const [outer, inner] = r.stdout.split('\n');
    expect(outer).toMatch(/SigIgn: 0000000000005003 /); // HUP (1), INT (2), PIPE (13), TERM (15)
    expect([r.status, inner, r.stderr]).toEqual([0, CLEAN, '']);
  });
});

describe('a script without #!', () => {
  beforeAll(() => {
    writeFileSync(join(dir, 'plain'), 'echo "plain ran: $0 $*"\nexit 7\n', { mode: 0o755 });
  });

  test('runs with /bin/sh, by path, with its arguments and exit status', async () => {
    const r = await cli(['run', ...BASE, '--ro-bind', dir, dir, '--', join(dir, 'plain'), 'one', 'two']);
    expect([r.code, r.stdout, r.stderr]).toEqual([7, `plain ran: ${join(dir, 'plain')} one two\n`, '']);
  });

  test('runs with /bin/sh when found through PATH', async () => {
    const r = await cli(['run', ...BASE, '--ro-bind', dir, dir, '--setenv', 'PATH', `${dir}:/usr/bin:/bin`, '--', 'plain']);
    expect([r.code, r.stdout]).toEqual([7, `plain ran: ${join(dir, 'plain')} \n`]);
  });

  test('without /bin/sh in the sandbox it is E_EXEC, 126: the file\'s own exec format error', async () => {
    const r = await cli(['run', '--ro-bind', dir, '/x', '--', '/x/plain']);
    expect(r.code).toBe(126);
    expect(r.stderr).toMatch(/^sandboxctl: E_EXEC: /);
  });

  test('an empty executable file runs as an empty script and exits 0, as execvp runs it', async () => {
    writeFileSync(join(dir, 'empty'), '', { mode: 0o755 });
    const r = await cli(['run', ...BASE, '--ro-bind', dir, dir, '--', join(dir, 'empty')]);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, '', '']);
  });
});
