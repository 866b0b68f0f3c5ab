/**
 * Ordinary programs under the strict filter (issue 9, item 1): what they do
 * harmlessly must work, inside real sandboxes, and what the user namespace
 * refuses must still fail. GNU make runs its recipes through posix_spawn with
 * POSIX_SPAWN_RESETIDS (a no-op seteuid/setegid), python's subprocess and
 * Node's child_process set their own ids when asked, bash job control makes
 * process groups, setarch asks for PER_LINUX. CI installs make and
 * ninja-build (.ci/run); a missing tool fails the suite with its package name.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASE, TRY_IN, cli, requireKernel, type Ran } from '../helpers';

let dir: string;

/** Run `sh -c SCRIPT` under BASE with `dir` writable and the working directory. */
function inDir(script: string, extra: string[] = []): Promise<Ran> {
  return cli(['run', ...BASE, '--bind', dir, dir, '--chdir', dir, ...extra, '--', '/bin/sh', '-c', script]);
}

beforeAll(() => {
  requireKernel();
  for (const [tool, pkg] of [['make', 'make'], ['ninja', 'ninja-build'], ['bash', 'bash'], ['/usr/bin/python3', 'python3'], ['setarch', 'util-linux']]) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is missing: install it (\`apt-get install -y ${pkg}\`; .ci/run does)`);
  }
  dir = mkdtempSync('/tmp/sbx-programs-');
  chmodSync(dir, 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('build tools', () => {
  test('make runs recipes, in parallel with -j4, under the default filter', async () => {
    writeFileSync(
      join(dir, 'Makefile'),
      ['OBJS := a b c d e f g h', 'all: out/all', 'out/all: $(OBJS:%=out/%.o)', '\t@cat $^ > $@ && echo linked', 'out/%.o: | out', '\t@echo $* > $@', 'out:', '\tmkdir -p out', ''].join('\n'),
    );
    const r = await inDir('make -j4 -s && make -s && cat out/all | tr -d "\\n"');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('linked\nabcdefgh');
    expect(r.code).toBe(0);
    expect(readdirSync(join(dir, 'out')).sort()).toEqual(['a.o', 'all', 'b.o', 'c.o', 'd.o', 'e.o', 'f.o', 'g.o', 'h.o']);
  });

  test('make under --preset build, the preset\'s own help example', async () => {
    const project = mkdtempSync(join(dir, 'build-'));
    writeFileSync(join(project, 'M'), 'all:\n\ttrue\n\techo made > out/m\n');
    mkdirSync(join(project, 'out'));
    const r = await cli(['run', '--preset', 'build', '--output', 'out', '--', 'make', '-f', 'M'], { cwd: project });
    expect([r.code, r.stderr]).toEqual([0, '']);
  });

  test('ninja runs its rules in parallel', async () => {
    writeFileSync(join(dir, 'build.ninja'), ['rule w', '  command = echo $out > $out', ...['n1', 'n2', 'n3', 'n4'].map((n) => `build ${n}.txt: w`), 'build all: phony n1.txt n2.txt n3.txt n4.txt', ''].join('\n'));
    const r = await inDir('ninja -j4 all >/dev/null && cat n1.txt n4.txt');
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'n1.txt\nn4.txt\n', '']);
  });
});

describe('process tools', () => {
  test('bash job control: background jobs, jobs, fg, kill %N, wait', async () => {
    const r = await inDir(`bash -c 'set -m; sleep 0.2 & jobs | wc -l; fg %1 >/dev/null; echo "fg=$?"; sleep 5 & kill %1; wait $!; echo "killed=$?"; (exit 3) & wait $!; echo "wait=$?"'`);
    // (bash reports the finished jobs on stderr)
    expect([r.code, r.stdout]).toEqual([0, '1\nfg=0\nkilled=143\nwait=3\n']);
  });

  test('python subprocess, with its own ids, a new session and a process group', async () => {
    const py = [
      'import os, subprocess',
      'print(subprocess.run(["sh", "-c", "exit 3"]).returncode)',
      'print(subprocess.run(["id", "-u"], user=os.getuid(), group=os.getgid(), capture_output=True, text=True).stdout.strip() == str(os.getuid()))',
      'print(subprocess.run(["true"], start_new_session=True).returncode, subprocess.run(["true"], process_group=0).returncode)',
      'os.setgid(os.getgid()); os.setuid(os.getuid()); print("ids kept")',
    ].join('\n');
    const r = await inDir(`/usr/bin/python3 -c '${py}'`);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, '3\nTrue\n0 0\nids kept\n', '']);
  });

  test('node child_process, with its own uid and gid', async () => {
    const js = `const c = require("node:child_process"); console.log(c.execFileSync("sh", ["-c", "echo hi"]).toString().trim()); const r = c.spawnSync("id", ["-u"], { uid: process.getuid(), gid: process.getgid() }); console.log(r.status, r.error ? r.error.code : String(r.stdout).trim() === String(process.getuid()))`;
    const r = await inDir(`${process.execPath} -e '${js}'`);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'hi\n0 true\n', '']);
  });

  test('npm runs package scripts (lifecycle scripts spawn sh and node)', async () => {
    const pkg = mkdtempSync(join(dir, 'npm-'));
    writeFileSync(
      join(pkg, 'package.json'),
      JSON.stringify({ name: 'p', version: '1.0.0', scripts: { hello: 'echo hello from $npm_package_name', test: 'node -e "require(\'child_process\').execSync(\'true\')" && echo tested' } }),
    );
    const r = await cli(['run', ...BASE, '--bind', pkg, pkg, '--chdir', pkg, '--setenv', 'HOME', '/tmp', '--', '/bin/sh', '-c', 'npm run -s hello && npm test -s']);
    expect([r.code, r.stdout]).toEqual([0, 'hello from p\ntested\n']);
  });

  test('setarch with the machine\'s own personality runs; -R (no ASLR) is still refused', async () => {
    const r = await inDir('setarch "$(uname -m)" true; echo "linux=$?"; setarch "$(uname -m)" -R true 2>/dev/null; echo "no-aslr=$?"');
    expect([r.code, r.stdout]).toEqual([0, 'linux=0\nno-aslr=1\n']);
  });
});

describe('identity calls: no-ops pass, real changes fail in the kernel', () => {
  test('sbx-try ids', async () => {
    const r = await inDir(`${TRY_IN} ids`);
    expect(r.code).toBe(0);
    const got = Object.fromEntries(r.stdout.trim().split(' ').map((kv) => kv.split('=')));
    for (const call of ['setuid(own)', 'setgid(own)', 'seteuid(own)', 'setegid(own)', 'setreuid(-1,own)', 'setresuid(own)', 'setresgid(own)', 'setfsuid(own)', 'fchown(own)']) {
      expect([call, got[call]]).toEqual([call, 'ok']);
    }
    // one uid and one gid are mapped: another id is invalid; without CAP_SETGID setgroups fails
    for (const call of ['setuid(other)', 'setgid(other)', 'setresuid(other)', 'fchown(other)']) {
      expect([call, got[call]]).toEqual([call, 'EINVAL']);
    }
    expect(got['setgroups(same)']).toBe('EPERM');
  });

  test('--uid 0 inside: setuid(0) is a no-op, a change to another uid fails', async () => {
    const r = await inDir(`${TRY_IN} syscall setuid-0; ${TRY_IN} syscall setuid-other; ${TRY_IN} syscall setgroups-other`, ['--uid', '0', '--gid', '0']);
    expect([r.code, r.stdout]).toEqual([0, 'ok\nEINVAL\nEPERM\n']);
  });

  test('prctl reads, get_mempolicy and personality(PER_LINUX) pass', async () => {
    const r = await inDir(`for c in prctl-reads get_mempolicy personality-linux personality-query; do ${TRY_IN} syscall $c; done`);
    expect([r.code, r.stdout]).toEqual([0, 'ok\nok\nok\nok\n']);
  });
});
