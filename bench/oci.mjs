// OCI runtime, side by side in one run (issue 12): a bundle's `run` (create,
// start, wait, delete) and `podman run --rm IMAGE true`, with sandboxctl-oci,
// runc and crun interleaved (each round runs each once, rotating order).
// Root only. Debian's crun refuses a hybrid cgroup layout: run under
// `unshare -m --propagation private` and the cgroup2 mount at
// /sys/fs/cgroup/unified is taken away in that namespace first, so all
// three runtimes see the same v1-only layout (test/oci/validation.sh does
// the same); crun is still reported, not fatal, when it cannot run.
//
//   node bench/oci.mjs [--runs N] [--runtime PATH]   (default: the shipped
//   packages/native/sandboxctl-oci, what `sandboxctl oci path` prints)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, copyFileSync, symlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
};
const runs = Number(arg('--runs', 30));
const privateNs = spawnSync('readlink', ['/proc/self/ns/mnt']).stdout.toString() !== spawnSync('readlink', ['/proc/1/ns/mnt']).stdout.toString();
if (privateNs && spawnSync('mountpoint', ['-q', '/sys/fs/cgroup/unified']).status === 0) {
  spawnSync('umount', ['-l', '/sys/fs/cgroup/unified']);
  console.log('/sys/fs/cgroup/unified unmounted in this mount namespace (v1 only, for crun)');
}
const ours = resolve(arg('--runtime', 'packages/native/sandboxctl-oci'));
const work = mkdtempSync(join(tmpdir(), 'sandboxctl-bench-oci-'));
const rootfs = join(work, 'bundle/rootfs');
for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp']) mkdirSync(join(rootfs, d), { recursive: true });
copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
symlinkSync('busybox', join(rootfs, 'bin/true'));
const spec = spawnSync('runc', ['spec'], { cwd: join(work, 'bundle') });
if (spec.status !== 0) throw new Error(`runc spec: ${spec.stderr}`);
const cfgPath = join(work, 'bundle/config.json');
const cfg = JSON.parse(spawnSync('cat', [cfgPath]).stdout.toString());
cfg.process.terminal = false;
cfg.process.args = ['/bin/true'];
writeFileSync(cfgPath, JSON.stringify(cfg));

const runtimes = { 'sandboxctl-oci': ours, runc: 'runc', crun: 'crun' };
const bundleCmd = (name, rt, i) => [rt, ['--root', join(work, `root-${name}`), 'run', '--bundle', join(work, 'bundle'), `b${i}`]];
const podmanCmd = (name, rt) => [
  'podman',
  ['--runtime', rt, '--cgroup-manager=cgroupfs', '--events-backend=file', 'run', '--rm', '--network=none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', 'localhost/sandboxctl-busybox:test', 'true'],
];

function measure(label, make) {
  const times = Object.fromEntries(Object.keys(runtimes).map((k) => [k, []]));
  const broken = {};
  const names = Object.keys(runtimes);
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(i + j) % names.length];
      if (broken[name]) continue;
      const [cmd, args] = make(name, runtimes[name], i);
      const t0 = process.hrtime.bigint();
      const r = spawnSync(cmd, args);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 0) broken[name] = (r.stderr.toString() || r.stdout.toString()).trim().split('\n').pop();
      else times[name].push(ms);
    }
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const base = median(times['sandboxctl-oci']);
  console.log(`\n### ${label} (${runs} rounds, interleaved)\n\n| runtime | median ms | ratio to sandboxctl-oci |\n|---|---|---|`);
  for (const n of names) {
    if (broken[n]) console.log(`| ${n} | fails here: ${broken[n]} | |`);
    else console.log(`| ${n} | ${median(times[n]).toFixed(1)} | ${(median(times[n]) / base).toFixed(2)} |`);
  }
}

measure('runtime alone: `run` of a bundle (create + start + wait + delete) of /bin/true', bundleCmd);
const hasImage = spawnSync('podman', ['image', 'exists', 'localhost/sandboxctl-busybox:test']).status === 0;
if (hasImage) measure('`podman run --rm IMAGE true`', podmanCmd);
else console.log('\n(podman section skipped: run test/oci/podman.sh first to make localhost/sandboxctl-busybox:test)');
rmSync(work, { recursive: true, force: true });
