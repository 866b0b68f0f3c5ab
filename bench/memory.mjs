// Section 5: memory. The resident size of each process of a sleeping
// sandbox, read from the host's /proc/PID/status: our launcher (outside) and
// pid 1 (inside) against bwrap's monitor (outside) and its pid 1 (inside),
// same set-up. VmRSS counts shared pages of libraries too; RssAnon is what
// the process alone costs.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { BWRAP_FULL, OPS_FULL, median, table } from './lib.mjs';

const require = createRequire(import.meta.url);
const sleep = (t) => new Promise((r) => setTimeout(r, t));

function status(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: kib('VmRSS'), anon: kib('RssAnon') };
}

function childrenOf(pid) {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1] === String(pid);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function until(cond, ms = 3000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = cond();
    if (v) return v;
    await sleep(10);
  }
  throw new Error('memory bench: the sandbox did not come up');
}

export async function benchMemory({ samples }) {
  const { spawn: spawnSandbox } = require('@sandboxctl/core');
  const ours = { launcher: [], pid1: [], launcherAnon: [], pid1Anon: [] };
  const peer = { launcher: [], pid1: [], launcherAnon: [], pid1Anon: [] };
  for (let i = 0; i < samples; i++) {
    const p = spawnSandbox({ argv: ['/bin/sleep', '30'], ops: OPS_FULL, stdio: 'ignore' });
    await p.started;
    await until(() => p.sandboxPid);
    await sleep(100);
    const l = status(p.pid);
    const one = status(p.sandboxPid);
    ours.launcher.push(l.rss), ours.launcherAnon.push(l.anon), ours.pid1.push(one.rss), ours.pid1Anon.push(one.anon);
    p.kill('SIGKILL');
    await p.exited.catch(() => {});

    const b = spawn('bwrap', [...BWRAP_FULL, 'sleep', '30'], { stdio: 'ignore' });
    const inner = await until(() => childrenOf(b.pid).find((c) => readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'bwrap'));
    await until(() => childrenOf(inner).length > 0);
    await sleep(100);
    const bl = status(b.pid);
    const bi = status(inner);
    peer.launcher.push(bl.rss), peer.launcherAnon.push(bl.anon), peer.pid1.push(bi.rss), peer.pid1Anon.push(bi.anon);
    b.kill('SIGKILL');
    await new Promise((r) => b.on('exit', r));
  }
  const m = (xs) => median(xs);
  const row = (what, o, p) => [what, m(o), m(p), `${(m(o) / m(p)).toFixed(2)}×`];
  const rows = [
    row('pid 1 inside: VmRSS KiB', ours.pid1, peer.pid1),
    row('pid 1 inside: RssAnon KiB', ours.pid1Anon, peer.pid1Anon),
    row('launcher outside: VmRSS KiB', ours.launcher, peer.launcher),
    row('launcher outside: RssAnon KiB', ours.launcherAnon, peer.launcherAnon),
    row('both: VmRSS KiB', ours.pid1.map((x, i) => x + ours.launcher[i]), peer.pid1.map((x, i) => x + peer.launcher[i])),
  ];
  return {
    name: 'memory',
    title: `5. Memory of a sleeping sandbox (same set-up), median of ${samples} sandboxes, from the host's /proc/PID/status`,
    markdown: table(['process', 'sandboxctl', 'bwrap', 'ratio'], rows),
    json: { samples, rows: rows.map(([what, o, p]) => ({ what, sandboxctl: o, bwrap: p })) },
  };
}
