#!/usr/bin/env node
// `node bench/image.mjs [--runs N] [--files N] [--mb N] [--reads N] [--quick] [--before INIT] [--start-only]`: images
// (issue 11) side by side in one run, as the current user.
//
//   1. start in a SquashFS and a directory image: ours (sandboxctl-init
//      with plan.root: the bench's own `sh -c :` plan, the CLI's plan for
//      `run --image X -- true`, the Node CLI and the package's bin, whose
//      native front starts no Node) against ch-run 0.31 (its
//      internal squashfuse), interleaved runs, medians and ratios;
//      Then four peers sharing one sandbox (--join-ct 4), started at once:
//      ours through the bin and the Node CLI against ch-run --join;
//   2. reading inside the SquashFS image: `find / | wc -l` over the tree and
//      `cat` of one big file, ours against squashfuse_ll mounted on the host
//      (root only: unprivileged it would need fusermount3);
//   3. the FUSE server's VmRSS idle and after that load.
// Prints markdown tables; the figures go to bench/README.md by hand.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, copyFileSync, chmodSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, ms, numberOption, since, spawnAsync, table, timedSync, which } from './lib.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const INIT = join(root, 'packages/native/sandboxctl-init');
const args = process.argv.slice(2);
const opt = (name, dflt, small) => numberOption(args, name, dflt, small);
const runs = opt('--runs', 100, 10);
const files = opt('--files', 20000, 2000);
const mb = opt('--mb', 200, 20);

for (const [cmd, pkg] of [['ch-run', 'charliecloud-runtime'], ['mksquashfs', 'squashfs-tools'], ['squashfuse_ll', 'squashfuse']]) {
  if (!which(cmd)) throw new Error(`bench/image: ${cmd} is missing (apt-get install ${pkg})`);
}
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
if (!BUSYBOX) throw new Error('bench/image: busybox is missing (apt-get install busybox-static)');

const work = mkdtempSync('/tmp/sandboxctl-bench-image-');
const dir = join(work, 'rootfs');
for (const d of ['bin', 'etc', 'proc', 'dev', 'sys', 'tmp', 'home', 'mnt', 'data']) mkdirSync(join(dir, d), { recursive: true });
copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
chmodSync(join(dir, 'bin/busybox'), 0o755);
for (const a of execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox')) symlinkSync('busybox', join(dir, 'bin', a));
writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
writeFileSync(join(dir, 'etc/group'), 'root:x:0:\n');
for (let i = 0; i < files; i++) {
  const sub = join(dir, 'data', `d${Math.floor(i / 500)}`);
  if (i % 500 === 0) mkdirSync(sub);
  writeFileSync(join(sub, `f${i}`), `file ${i}\n`);
}
// Incompressible enough to make the read a read: random blocks, repeated.
const block = Buffer.alloc(1 << 20);
for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i);
const big = join(dir, 'data/big');
writeFileSync(big, '');
for (let i = 0; i < mb; i++) writeFileSync(big, block, { flag: 'a' });
const sqfs = join(work, 'app.sqfs');
execFileSync('mksquashfs', [dir, sqfs, '-noappend', '-quiet', '-no-progress', '-all-root'], { stdio: 'ignore' });

const plan = (image, script) => {
  const f = join(work, `plan-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(f, JSON.stringify({ argv: ['/bin/sh', '-c', script], root: { image }, ops: [{ kind: 'proc', target: '/proc' }, { kind: 'dev', target: '/dev' }], env: { inherit: false, set: { PATH: '/bin' } } }));
  return f;
};
const user = process.env.USER || execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
process.env.USER = user;

// 1. start. The plans: the bench's own (`sh -c :`, proc and dev only), and
// the one the CLI makes for `run --image X -- true` (the image preset:
// ch-run's binds, synthesized passwd and group, /tmp, the environment
// steps), run natively (what the library and the CLI hand the launcher) and
// through the CLI as users run it (Node's own start included). With
// `--before FILE`, an older sandboxctl-init runs the same CLI plans in the
// same rounds (before/after side by side).
const CLI = join(root, 'packages/cli/bin/sandboxctl.js');
const BIN = join(root, 'packages/cli/bin/sandboxctl');
const cliPlan = (image) => {
  const f = join(work, `cli-plan-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(f, execFileSync(process.execPath, [CLI, 'plan', '--image', image, '--', 'true'], { encoding: 'utf8' }));
  return f;
};
const before = args.includes('--before') ? args[args.indexOf('--before') + 1] : undefined;
const sqfsPlan = cliPlan(sqfs);
const dirPlan = cliPlan(dir);
// [name, command, argv, index of the ch-run row it is compared with]
const variants = [
  ['ours, SquashFS, `sh -c :`', INIT, ['--plan', plan(sqfs, ':')], 1],
  ['ch-run 0.31, SquashFS, `sh -c :`', 'ch-run', [sqfs, '--', '/bin/sh', '-c', ':'], 1],
  ['ours, directory, `sh -c :`', INIT, ['--plan', plan(dir, ':')], 3],
  ['ch-run 0.31, directory, `sh -c :`', 'ch-run', [dir, '--', '/bin/sh', '-c', ':'], 3],
  ['ours, SquashFS, `true`, the CLI\'s plan, native', INIT, ['--plan', sqfsPlan], 5],
  ['ch-run 0.31, SquashFS, `true`', 'ch-run', [sqfs, '--', 'true'], 5],
  ['ours, directory, `true`, the CLI\'s plan, native', INIT, ['--plan', dirPlan], 7],
  ['ch-run 0.31, directory, `true`', 'ch-run', [dir, '--', 'true'], 7],
  ['ours, SquashFS, `sandboxctl run --image X -- true` (CLI)', process.execPath, [CLI, 'run', '--image', sqfs, '--', 'true'], 5],
  ['ours, directory, `sandboxctl run --image X -- true` (CLI)', process.execPath, [CLI, 'run', '--image', dir, '--', 'true'], 7],
  // The package's bin as users run it: its native front builds the plan and runs it without Node.
  ['ours, SquashFS, `sandboxctl run --image X -- true` (bin, native front)', BIN, ['run', '--image', sqfs, '--', 'true'], 5],
  ['ours, directory, `sandboxctl run --image X -- true` (bin, native front)', BIN, ['run', '--image', dir, '--', 'true'], 7],
];
if (before) {
  variants.push(['before: SquashFS, `true`, the CLI\'s plan, native', before, ['--plan', sqfsPlan], 5]);
  variants.push(['before: directory, `true`, the CLI\'s plan, native', before, ['--plan', dirPlan], 7]);
}
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const loadBefore = load();
const times = variants.map(() => []);
for (let i = 0; i < runs; i++) variants.forEach(([, cmd, argv], v) => times[v].push(timedSync(cmd, argv)));
const med = times.map(median);
console.log(`### Start in an image, ${runs} interleaved runs each (ms, median; load ${loadBefore} before, ${load()} after)\n`);
console.log(table(['variant', 'median ms', 'ratio to ch-run'], variants.map(([name, , , peer], v) => [name, med[v].toFixed(1), v === peer ? '1.00' : (med[v] / med[peer]).toFixed(2)])));

// 1b. A node's ranks sharing one sandbox: `PEERS` peers started at once with
// the same --join-ct/--join-tag, wall time until the last has exited, ours
// through the package's bin (its native front) and through the Node CLI,
// against ch-run 0.31 --join (the same image). The program sleeps 300 ms:
// ch-run's peers enter the winner's namespaces through its program's pid,
// so a winner whose program has already ended fails the late peers ("join:
// no PID ...: /proc/PID/ns/mnt not found"), which ours does not (pid 1 holds
// the group). The table gives the time over those 300 ms. A new tag each round.
const PEERS = 4;
const NAP_MS = 300;
const rounds = Math.max(5, Math.round(runs / 5));
let round = 0;
const peerGroup = (cmd, pre, image) => () => {
  const tag = `bench${process.pid}-${++round}`;
  const nap = ['/bin/sleep', String(NAP_MS / 1000)];
  const argv = cmd === 'ch-run' ? [`--join-ct=${PEERS}`, `--join-tag=${tag}`, image, '--', ...nap] : [...pre, 'run', '--image', image, '--join-ct', String(PEERS), '--join-tag', tag, '--', ...nap];
  const t = ms();
  return Promise.all(Array.from({ length: PEERS }, () => spawnAsync(cmd, argv))).then(() => since(t));
};
const groups = [
  [`ours, SquashFS, ${PEERS} peers (bin, native front)`, peerGroup(BIN, [], sqfs), 2],
  [`ours, SquashFS, ${PEERS} peers (Node CLI)`, peerGroup(process.execPath, [CLI], sqfs), 2],
  [`ch-run 0.31, SquashFS, ${PEERS} peers`, peerGroup('ch-run', [], sqfs), 2],
  [`ours, directory, ${PEERS} peers (bin, native front)`, peerGroup(BIN, [], dir), 5],
  [`ours, directory, ${PEERS} peers (Node CLI)`, peerGroup(process.execPath, [CLI], dir), 5],
  [`ch-run 0.31, directory, ${PEERS} peers`, peerGroup('ch-run', [], dir), 5],
];
const groupTimes = groups.map(() => []);
for (let i = 0; i < rounds; i++) for (const [v, [, go]] of groups.entries()) groupTimes[v].push(await go());
const gmed = groupTimes.map((t) => median(t) - NAP_MS);
console.log(`\n### ${PEERS} peers that share one sandbox (--join-ct ${PEERS}), started at once, ${rounds} interleaved rounds (ms until the last exits beyond its ${NAP_MS} ms sleep, median; load ${load()} after)\n`);
console.log(table(['variant', 'median ms over the sleep', 'ratio to ch-run'], groups.map(([name, , peer], v) => [name, gmed[v].toFixed(1), v === peer ? '1.00' : (gmed[v] / gmed[peer]).toFixed(2)])));

if (args.includes('--start-only')) {
  rmSync(work, { recursive: true, force: true });
  process.exit(0);
}

// 2 and 3. reading, and the server's memory
const script = `find / -xdev | wc -l >/dev/null; cat /data/big >/dev/null`;
function timeIn(cmd, argv) {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${cmd} exited ${r.status}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}
const findPlan = plan(sqfs, 'find / -xdev | wc -l >/dev/null');
const catPlan = plan(sqfs, 'cat /data/big >/dev/null');
const rows = [];
const reads = opt('--reads', 5, 3);
// Ours includes a sandbox's start: take its median off (section 1).
const start = med[0];
const mnt = join(work, 'mnt');
mkdirSync(mnt);
// A fresh mount for every run: each sandbox's FUSE mount starts cold too.
const cold = (sh) => {
  execFileSync('squashfuse_ll', [sqfs, mnt]);
  try {
    return timeIn('sh', ['-c', sh]);
  } finally {
    spawnSync('umount', [mnt]);
  }
};
const asRoot = process.getuid() === 0;
// Interleaved: ours then the host's, run after run.
const t = { ours: { find: [], cat: [] }, host: { find: [], cat: [] } };
for (let i = 0; i < reads; i++) {
  t.ours.find.push(timeIn(INIT, ['--plan', findPlan]) - start);
  // The image's own busybox, loaded through the mount, as inside.
  if (asRoot) t.host.find.push(cold(`${mnt}/bin/busybox find ${mnt} -xdev | ${mnt}/bin/busybox wc -l >/dev/null`));
  t.ours.cat.push(timeIn(INIT, ['--plan', catPlan]) - start);
  if (asRoot) t.host.cat.push(cold(`${mnt}/bin/busybox cat ${mnt}/data/big >/dev/null`));
}
const ours = { find: median(t.ours.find), cat: median(t.ours.cat) };
const host = asRoot ? { find: median(t.host.find), cat: median(t.host.cat) } : null;
const count = files + 300;
rows.push([`find / \\| wc -l (~${count} entries)`, ours.find.toFixed(0), host ? host.find.toFixed(0) : 'root only', host ? (host.find / ours.find).toFixed(2) : '']);
rows.push([`cat of ${mb} MB`, ours.cat.toFixed(0), host ? host.cat.toFixed(0) : 'root only', host ? (host.cat / ours.cat).toFixed(2) : '']);
console.log(`\n### Reading inside the SquashFS image (ms, median of ${reads} cold mounts, interleaved; ours less the median start of section 1)\n`);
console.log(table(['load', 'ours', 'squashfuse_ll on the host', 'throughput ratio (≥1 is ours faster)'], rows));

// 3. memory: the server is the launcher's child named sandboxctl-sqfs (image/serve.rs).
function serverRss(launcher) {
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== launcher) continue;
      if (readFileSync(`/proc/${p}/comm`, 'utf8').trim() !== 'sandboxctl-sqfs') continue;
      return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))[1]);
    } catch {
      /* gone */
    }
  }
  return NaN;
}
const c = spawn(INIT, ['--plan', plan(sqfs, `sleep 1; ${script}; sleep 1`)], { stdio: 'ignore' });
let done = false;
const exited = new Promise((r) => c.on('exit', () => r((done = true))));
await new Promise((r) => setTimeout(r, 700));
const idle = serverRss(c.pid);
// The peak while find and cat run: sampled every 50 ms until the end.
let loaded = 0;
while (!done) {
  const rss = serverRss(c.pid);
  if (rss > loaded) loaded = rss;
  await new Promise((r) => setTimeout(r, 50));
}
await exited;
const rss = (pid) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  } catch {
    return NaN;
  }
};
// The peer: squashfuse_ll in the foreground on the host, the same load through it.
let peer = ['root only', 'root only'];
if (asRoot) {
  const s = spawn('squashfuse_ll', ['-f', sqfs, mnt], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  const peerIdle = rss(s.pid);
  const load = spawn('sh', ['-c', `${mnt}/bin/busybox find ${mnt} -xdev | ${mnt}/bin/busybox wc -l >/dev/null; ${mnt}/bin/busybox cat ${mnt}/data/big >/dev/null`], { stdio: 'ignore' });
  let over = false;
  const ended = new Promise((r) => load.on('exit', () => r((over = true))));
  let peak = 0;
  while (!over) {
    peak = Math.max(peak, rss(s.pid) || 0);
    await new Promise((r) => setTimeout(r, 50));
  }
  await ended;
  spawnSync('umount', [mnt]);
  peer = [peerIdle, peak];
}
console.log(`\n### The FUSE server's memory (VmRSS, KiB)\n`);
console.log(table(['state', 'ours KiB', 'squashfuse_ll KiB'], [['idle, after mount', idle, peer[0]], ['peak during find and cat', loaded, peer[1]]]));
rmSync(work, { recursive: true, force: true });
