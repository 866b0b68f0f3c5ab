/**
 * Slurm for real (issue 11): `srun -n 4 sandboxctl run --image IMG.sqfs
 * --join -- …` on the one-node cluster `.ci/slurm.sh` starts (munged,
 * slurmctld, slurmd on localhost, CPUs=2, so `--overcommit`). The four
 * ranks must share the mount, user and pid namespaces and see each other;
 * four ranks without --join must not. `sbatch --wait` of a script doing
 * the same. The --join tests run each rank through the Node CLI and through
 * the package's bin, whose native front runs a peer without Node. Run as root and as the unprivileged user (srun runs the tasks
 * as its caller). Outside CI a machine without srun skips with the reason;
 * in CI (CI=true) a missing or down cluster fails. srun runs with --quiet:
 * a job queued while the previous one's node is still completing prints
 * "queued and waiting for resources", which is not an error.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ROOT, requireKernel, tempDir } from '../helpers';
import { busyboxRoot, mksquashfs, requireImageTools } from '../image/fixtures';

const srunPath = spawnSync('sh', ['-c', 'command -v srun'], {
  encoding: 'utf8',
}).stdout.trim();
const cluster = srunPath !== '' && spawnSync('srun', ['-n', '1', '-t', '1', 'true'], { timeout: 30_000 }).status === 0;
const CI = process.env.CI === 'true';
if (!cluster && CI) {
  throw new Error('srun is missing or the one-node cluster is down: .ci/run starts it with .ci/slurm.sh (as root)');
}
const suite = cluster ? describe : describe.skip;
if (!cluster) console.warn('slurm.test.ts skipped: no working srun on this machine (run .ci/slurm.sh as root)');

let base = '';
let sqfs = '';
beforeAll(() => {
  if (!cluster) return;
  requireKernel();
  requireImageTools();
  base = tempDir('sbx-slurm-');
  busyboxRoot(join(base, 'rootfs'));
  sqfs = join(base, 'app.sqfs');
  mksquashfs(join(base, 'rootfs'), sqfs);
});
afterAll(() => base && rmSync(base, { recursive: true, force: true }));

/** Each rank: its pid into the sandbox's private /tmp, then once four are there (at most 5 s) the peers it sees, its namespaces. */
const RANK = [
  'echo $$ > /tmp/.rank.$$ && mv /tmp/.rank.$$ /tmp/rank.$$',
  'i=0; while [ "$(ls /tmp | grep -c "^rank\\.")" -lt 4 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done',
  'seen=0; for f in /tmp/rank.*; do p=$(cat $f); [ "$p" != "$$" ] && [ -d /proc/$p ] && seen=$((seen+1)); done',
  'echo "rank=$SLURM_PROCID pid=$$ seen=$seen ns=$(readlink /proc/self/ns/mnt)/$(readlink /proc/self/ns/user)/$(readlink /proc/self/ns/pid)"',
  'sleep 1',
].join('; ');

/** Each rank's sandboxctl: the Node CLI, or the package's bin, whose native front answers `run --join` without Node. */
const VIA_NODE = (): string[] => [process.execPath, CLI];
const VIA_BIN = (): string[] => [join(ROOT, 'packages/cli/bin/sandboxctl')];
const LAUNCHERS: [string, () => string[]][] = [
  ['through Node', VIA_NODE],
  ['through the bin (no Node)', VIA_BIN],
];
/** The environment of a run: through the bin, a Node started anyway would say so on stderr, which must stay empty. */
const envFor = (launcher: () => string[]): NodeJS.ProcessEnv => {
  if (launcher === VIA_NODE) return process.env;
  const marker = join(base, 'node-started.js');
  writeFileSync(marker, "require('node:fs').writeSync(2, 'NODE-STARTED\\n');\n");
  return { ...process.env, NODE_OPTIONS: `--require ${marker}` };
};

const runArgs = (join: boolean, launcher = VIA_NODE) => [...launcher(), 'run', '--no-config', '--image', sqfs, '--private-tmp', ...(join ? ['--join'] : []), '--', '/bin/sh', '-c', RANK];

function ranks(stdout: string): Array<{ rank: string; pid: string; seen: number; ns: string }> {
  return [...stdout.matchAll(/^rank=(\d+) pid=(\d+) seen=(\d+) ns=(\S+)$/gm)].map((m) => ({ rank: m[1]!, pid: m[2]!, seen: Number(m[3]), ns: m[4]! }));
}

suite('srun -n 4 sandboxctl run --image IMG.sqfs', () => {
  test.each(LAUNCHERS)('--join %s: the four ranks share mount, user and pid namespaces and each sees the three others', (_how, launcher) => {
    const r = spawnSync('srun', ['--quiet', '-n', '4', '--overcommit', '-t', '2', ...runArgs(true, launcher)], { encoding: 'utf8', cwd: base, timeout: 90_000, env: envFor(launcher) });
    expect([r.status, r.stderr]).toEqual([0, '']);
    const out = ranks(r.stdout);
    expect(out.map((o) => o.rank).sort()).toEqual(['0', '1', '2', '3']);
    expect(new Set(out.map((o) => o.ns)).size).toBe(1);
    expect(new Set(out.map((o) => o.pid)).size).toBe(4);
    for (const o of out) expect(o.seen).toBe(3);
  });

  test('without --join: four sandboxes, none sees another', () => {
    const r = spawnSync('srun', ['--quiet', '-n', '4', '--overcommit', '-t', '2', ...runArgs(false)], { encoding: 'utf8', cwd: base, timeout: 90_000 });
    expect([r.status, r.stderr]).toEqual([0, '']);
    const out = ranks(r.stdout);
    expect(out).toHaveLength(4);
    expect(new Set(out.map((o) => o.ns)).size).toBe(4);
    for (const o of out) expect(o.seen).toBe(0);
  });

  test.each(LAUNCHERS)("--join %s: each rank keeps its own CPU binding (srun --cpu-bind), not the first rank's", (_how, launcher) => {
    const rank = 'echo "rank=$SLURM_PROCID $(grep Cpus_allowed_list /proc/self/status | tr -d "\t ")"; sleep 1';
    // Rank 0 on CPU 1 and rank 1 on CPU 0: whoever builds the sandbox, each program keeps its own.
    const r = spawnSync('srun', ['--quiet', '-n', '2', '--cpu-bind=map_cpu:1,0', '-t', '2', ...launcher(), 'run', '--no-config', '--image', sqfs, '--join', '--', '/bin/sh', '-c', rank], {
      encoding: 'utf8',
      cwd: base,
      timeout: 90_000,
      env: envFor(launcher),
    });
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(['rank=0 Cpus_allowed_list:1', 'rank=1 Cpus_allowed_list:0']);
  });

  test.each(LAUNCHERS)("--join under srun --mpi=pmi2 %s: each rank's PMI_FD reaches its program and speaks PMI-2 with srun", (_how, launcher) => {
    // PMI-2's wire protocol in busybox sh: the PMI-1 style init line, then a
    // length-prefixed fullinit; srun answers with this rank's rank and the job's size.
    const rank = [
      'printf "cmd=init pmi_version=2 pmi_subversion=0\\n" >&$PMI_FD',
      'read -r init <&$PMI_FD',
      'msg="cmd=fullinit;pmijobid=$PMI_JOBID;pmirank=$PMI_RANK;threaded=FALSE;"',
      'printf "%-6d%s" ${#msg} "$msg" >&$PMI_FD',
      'len=$(dd bs=1 count=6 <&$PMI_FD 2>/dev/null)',
      'reply=$(dd bs=1 count=$len <&$PMI_FD 2>/dev/null)',
      'echo "rank=$SLURM_PROCID fd=$(readlink /proc/self/fd/$PMI_FD | cut -d: -f1) init=$init reply=$reply"',
      'sleep 1',
    ].join('; ');
    const r = spawnSync('srun', ['--quiet', '--mpi=pmi2', '-n', '2', '--overcommit', '-t', '2', ...launcher(), 'run', '--no-config', '--image', sqfs, '--join', '--', '/bin/sh', '-c', rank], {
      encoding: 'utf8',
      cwd: base,
      timeout: 90_000,
      env: envFor(launcher),
    });
    expect([r.status, r.stderr]).toEqual([0, '']);
    const lines = r.stdout.split('\n').filter(Boolean).sort();
    expect(lines).toHaveLength(2);
    lines.forEach((line, i) => {
      expect(line).toMatch(new RegExp(`^rank=${i} fd=socket init=cmd=response_to_init rc=0 pmi_version=2 pmi_subversion=0 reply=cmd=fullinit-response;rc=0;.*;rank=${i};size=2;`));
    });
  });

  test('sbatch --wait of a script that does the same', () => {
    const script = join(base, 'job.sh');
    const outFile = join(base, 'job.out');
    const quote = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
    writeFileSync(script, `#!/bin/sh\n#SBATCH -n 4\n#SBATCH --overcommit\n#SBATCH -t 2\nsrun ${runArgs(true).map(quote).join(' ')}\n`);
    const r = spawnSync('sbatch', ['--wait', '-o', outFile, script], {
      encoding: 'utf8',
      cwd: base,
      timeout: 120_000,
    });
    expect([r.status, r.stderr]).toEqual([0, '']);
    const out = ranks(readFileSync(outFile, 'utf8'));
    expect(out).toHaveLength(4);
    expect(new Set(out.map((o) => o.ns)).size).toBe(1);
    for (const o of out) expect(o.seen).toBe(3);
  });
});
