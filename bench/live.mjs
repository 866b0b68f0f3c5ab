#!/usr/bin/env node
// `node bench/live.mjs [--runs N] [--files N] [--mb N] [--quick]`: live
// sandboxes (issue 13) side by side in one run, as the current user.
//
//   1. start-to-exit of `true`: `sb.exec(['true'])` into a running sandbox
//      from the library, against a fresh `run()` of the same set-up, and (as
//      root) `nsenter --all -t PID1 true`; interleaved, medians and ratios.
//      Goal: exec <= 0.5x run.
//   2. cp of a tree of N files totalling M MB into and out of a sandbox
//      (`sandboxctl-init client cp`), against `tar c | tar x` on the host.
//      Goal: >= 0.8x the host's throughput. Like for like: disk to disk both
//      ways (into a writable bind of a directory on the same disk, and out
//      to it), besides into the sandbox's tmpfs; and memory to memory (the
//      host's side in /dev/shm). `sync` before each timed copy so no run
//      pays for the dirty pages of the one before; `--cp-rounds N` (6).
//   3. the same tree with the CLI (`sandboxctl cp`, peak RSS of the CLI and
//      its native client from /usr/bin/time) against the `docker cp`-like
//      baseline a user has without cp: a tar pipe through `sandboxctl exec`.
// Prints markdown tables; the figures go to bench/README.md by hand.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { interleave, median, ms, numberOption, since, table, which } from './lib.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const core = await import(join(root, 'packages/core/dist/index.js'));
const INIT = join(root, 'packages/native/sandboxctl-init');
const args = process.argv.slice(2);
const opt = (name, dflt, small) => numberOption(args, name, dflt, small);
const runs = opt('--runs', 100, 10);
const files = opt('--files', 10000, 1000);
const mb = opt('--mb', 1024, 50);

// A private registry for the run.
process.env.XDG_RUNTIME_DIR = mkdtempSync(join(tmpdir(), 'sbx-bench-live-'));
// The host side of the copies lives on disk (/var/tmp: /tmp may be a tmpfs).
const work = mkdtempSync(join('/var/tmp', 'sbx-bench-cp-'));
const disk = join(work, 'disk');
mkdirSync(disk);
const ops = core.plan(['/bin/true']).roBind('/', '/').proc('/proc').dev('/dev').tmpfs('/tmp', { size: (mb + 256) * 1024 * 1024 }).bind(disk, '/tmp/data').build().ops;
const sb = await core.start({ ops, name: 'bench' });
const ratio = (a, b) => (a / b).toFixed(2);

try {
  // 1. exec vs a fresh run
  const variants = [
    { name: 'exec into the running sandbox (library)', fn: async () => { const t = ms(); const r = await sb.exec(['true']); if (r.code !== 0) throw new Error('exec failed'); return since(t); } },
    { name: 'fresh run() of the same set-up', fn: async () => { const t = ms(); const r = await core.run({ argv: ['true'], ops }); if (r.code !== 0) throw new Error('run failed'); return since(t); } },
  ];
  if (process.getuid() === 0 && which('nsenter')) {
    variants.push({ name: 'nsenter --all -t PID1 true (root)', fn: () => { const t = ms(); execFileSync('nsenter', ['--all', '-t', String(sb.pid), 'true']); return since(t); } });
  }
  const samples = await interleave(variants, runs, 3);
  const base = median(samples[1]);
  console.log(`\n### exec vs a fresh sandbox (${runs} interleaved runs each, ms)\n`);
  console.log(table(['variant', 'median', 'ratio to run()'], variants.map((v, i) => [v.name, median(samples[i]).toFixed(2), ratio(median(samples[i]), base)])));

  // 2. cp in and out vs tar | tar on the host, twice: with the host's side
  // on the disk (the disk's own speed swings the most here: each pair of
  // copies is interleaved and the medians compared), and with it in memory
  // (/dev/shm, a tmpfs), which leaves only the copying itself to compare.
  const mkTree = (dir) => {
    const per = Math.floor((mb * 1024 * 1024) / files);
    const chunk = Buffer.alloc(per, 7);
    for (let d = 0; d < Math.ceil(files / 100); d++) {
      mkdirSync(join(dir, `d${d}`), { recursive: true });
      for (let f = 0; f < 100 && d * 100 + f < files; f++) writeFileSync(join(dir, `d${d}`, `f${f}`), chunk);
    }
  };
  const src = join(work, 'tree');
  mkTree(src);
  const sync = () => execFileSync('sync');
  const sh = (cmd) => { sync(); const t = ms(); execFileSync('sh', ['-c', cmd], { stdio: 'ignore' }); return since(t); };
  const cp = (a, b) => { sync(); const t = ms(); const r = spawnSync(INIT, ['client', 'cp', a, b], { env: process.env, encoding: 'utf8' }); if (r.status !== 0) throw new Error(r.stderr); return since(t); };
  const rounds = args.includes('--quick') ? 1 : opt('--cp-rounds', 6, 1);
  const mem = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/sbx-bench-cp-') : undefined;
  const msrc = mem && join(mem, 'tree');
  if (msrc) mkTree(msrc);
  const s = { host: [], cin: [], cdisk: [], cout: [], mhost: [], min: [], mout: [] };
  const renew = (dir) => { rmSync(dir, { recursive: true, force: true }); mkdirSync(dir); };
  try {
    // The disk writers take turns going first: this VM's disk is fastest for
    // whoever writes first after a pause, so a fixed order would favour one.
    const diskSteps = [
      async () => { renew(join(work, 'h')); s.host.push(sh(`tar -C ${work} -cf - tree | tar -C ${work}/h -xf -`)); },
      async () => { rmSync(join(disk, 'tree'), { recursive: true, force: true }); s.cdisk.push(cp(src, 'bench:/tmp/data/')); },
      async () => { renew(join(work, 'o')); s.cout.push(cp('bench:/tmp/tree', join(work, 'o'))); },
    ];
    for (let i = 0; i < rounds; i++) {
      await sb.exec(['rm', '-rf', '/tmp/tree']);
      s.cin.push(cp(src, 'bench:/tmp/'));
      for (let k = 0; k < diskSteps.length; k++) await diskSteps[(i + k) % diskSteps.length]();
      if (mem) {
        renew(join(mem, 'h'));
        s.mhost.push(sh(`tar -C ${mem} -cf - tree | tar -C ${mem}/h -xf -`));
        await sb.exec(['rm', '-rf', '/tmp/tree']);
        s.min.push(cp(msrc, 'bench:/tmp/'));
        renew(join(mem, 'o'));
        s.mout.push(cp('bench:/tmp/tree', join(mem, 'o')));
        rmSync(join(mem, 'h'), { recursive: true, force: true });
        rmSync(join(mem, 'o'), { recursive: true, force: true });
      }
    }
  } finally {
    if (mem) rmSync(mem, { recursive: true, force: true });
  }
  const mbps = (t) => (mb / (t / 1000)).toFixed(0);
  const row = (name, xs, base) => [name, median(xs).toFixed(0), mbps(median(xs)), ratio(median(base), median(xs))];
  const rows = [
    row('tar c piped to tar x on the host (disk to disk)', s.host, s.host),
    row('cp into the sandbox (disk to a writable bind on the same disk)', s.cdisk, s.host),
    row('cp into the sandbox (disk to its tmpfs)', s.cin, s.host),
    row('cp out of the sandbox (its tmpfs to the disk)', s.cout, s.host),
  ];
  if (mem) {
    rows.push(
      row('tar c piped to tar x on the host (tmpfs to tmpfs, /dev/shm)', s.mhost, s.mhost),
      row('cp into the sandbox (host tmpfs to its tmpfs)', s.min, s.mhost),
      row('cp out of the sandbox (its tmpfs to the host tmpfs)', s.mout, s.mhost),
    );
  }
  console.log(`\n### cp of ${files} files, ${mb} MB (median of ${rounds} interleaved rounds; ratios to the host's tar on the same media)\n`);
  console.log(table(['variant', 'ms', 'MB/s', 'throughput vs host'], rows));

  // 3. The CLI's cp (peak RSS: it must stream) against tar through exec.
  const CLI = join(root, 'packages/cli/bin/sandboxctl.js');
  const timed = (cmd) => {
    sync();
    const t = ms();
    const r = spawnSync('/usr/bin/time', ['-f', '%M', 'sh', '-c', cmd], { env: process.env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
    return { ms: since(t), rssKiB: Number(r.stderr.trim().split('\n').pop()) };
  };
  const node = process.execPath;
  const fresh = async () => {
    await sb.exec(['rm', '-rf', '/tmp/tree']);
    rmSync(join(work, 'o'), { recursive: true, force: true });
    mkdirSync(join(work, 'o'));
  };
  const cli = [];
  await fresh();
  cli.push(['sandboxctl cp DIR bench:/tmp/', timed(`${node} ${CLI} cp ${src} bench:/tmp/`)]);
  cli.push(['sandboxctl cp bench:/tmp/tree DIR', timed(`${node} ${CLI} cp bench:/tmp/tree ${join(work, 'o')}`)]);
  await fresh();
  cli.push(['tar c DIR | sandboxctl exec -i bench -- tar x', timed(`tar -C ${work} -cf - tree | ${node} ${CLI} exec -i bench -- tar -C /tmp -xf -`)]);
  cli.push(['sandboxctl exec bench -- tar c | tar x', timed(`${node} ${CLI} exec bench -- tar -C /tmp -cf - tree | tar -C ${join(work, 'o')} -xf -`)]);
  console.log(`\n### the CLI, ${files} files, ${mb} MB (one run each; peak RSS of the largest process, /usr/bin/time %M)\n`);
  console.log(table(['command', 'ms', 'MB/s', 'peak RSS MiB'], cli.map(([n, r]) => [n, r.ms.toFixed(0), mbps(r.ms), (r.rssKiB / 1024).toFixed(1)])));
} finally {
  await sb.stop();
  rmSync(work, { recursive: true, force: true });
}
