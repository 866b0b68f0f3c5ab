#!/usr/bin/env node
// `node bench/net.mjs [--runs N] [--quick]`: the network allow list side by
// side with srt (`@anthropic-ai/sandbox-runtime`, a dev dependency; it needs
// Debian's bubblewrap, socat and ripgrep, installed here when root and
// missing). Same policy on both: only 127.0.0.1 (the bench's own server, on a
// port the kernel picks). Rows:
//   1. cold start of `true` (the proxy set up and torn down each time)
//   2. one HTTP GET through the proxy to a local server (curl's time_total,
//      20 GETs in one sandbox, median), and direct from the host
//   3. a 200 MB download through the proxy (curl's speed_download), and direct
//   4. 50 concurrent 1 MB GETs through the proxy (curl --parallel, wall time)
// Prints a markdown table; writes bench/results/net.json and its chart net.svg.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTools, median, numberOption, table, timedSync } from './lib.mjs';
import { writeChart } from './charts.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const args = process.argv.slice(2);
const runs = numberOption(args, '--runs', 20, 5);
ensureTools([['bwrap', 'bubblewrap'], ['socat', 'socat'], ['rg', 'ripgrep'], ['curl', 'curl']]);

const srt = join(root, 'node_modules/.bin/srt');
const cli = join(root, 'packages/cli/bin/sandboxctl.js');

const MB = Buffer.alloc(1 << 20, 120);
const server = createServer((req, res) => {
  const mb = req.url === '/big' ? 200 : req.url === '/mb' ? 1 : 0;
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': mb === 0 ? 6 : mb << 20 });
  if (mb === 0) return res.end('small\n');
  let left = mb;
  const more = () => {
    while (left > 0) {
      left -= 1;
      if (!res.write(MB)) return res.once('drain', more);
    }
    res.end();
  };
  more();
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
const url = (p) => `http://127.0.0.1:${port}${p}`;

const dir = mkdtempSync(join(tmpdir(), 'sbx-bench-net-'));
const settings = join(dir, 'srt.json');
writeFileSync(settings, JSON.stringify({ network: { allowedDomains: ['127.0.0.1'], deniedDomains: [] }, filesystem: { denyRead: [], allowWrite: ['/tmp'], denyWrite: [] } }));

// Both through their proxy: `--noproxy ''` keeps curl off srt's NO_PROXY (127.0.0.1 is in it).
const ours = (script) => [process.execPath, [cli, 'run', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--allow-host', '127.0.0.1', '--', '/bin/sh', '-c', script]];
const theirs = (script) => [srt, ['-s', settings, '-c', script]];

/** Run a script in the sandbox; its stdout (curl's -w numbers, one a line), async so the server keeps serving. */
async function inside([cmd, argv]) {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${argv.join(' ')}: exit ${code}: ${err}`))));
  });
}

const nums = (out) => out.trim().split('\n').map(Number);
const results = {};

// 1. Cold start, interleaved.
{
  const a = [];
  const b = [];
  for (let i = 0; i < runs; i += 1) {
    const [c1, a1] = ours('true');
    a.push(timedSync(c1, a1));
    const [c2, a2] = theirs('true');
    b.push(timedSync(c2, a2));
  }
  results.start = { sandboxctl: median(a), srt: median(b) };
}

// 2. One GET: 20 in a row inside one sandbox, curl's own time.
const gets = `for i in $(seq 20); do curl --noproxy '' -s -o /dev/null -w '%{time_total}\\n' ${url('/small')}; done`;
results.get = {
  sandboxctl: median(nums(await inside(ours(gets)))) * 1000,
  srt: median(nums(await inside(theirs(gets)))) * 1000,
  direct: median(nums(await inside(['/bin/sh', ['-c', gets]]))) * 1000,
};

// 3. 200 MB, three downloads each, the median speed in MB/s.
const big = `for i in 1 2 3; do curl --noproxy '' -s -o /dev/null -w '%{speed_download}\\n' ${url('/big')}; done`;
results.download = {
  sandboxctl: median(nums(await inside(ours(big)))) / 1e6,
  srt: median(nums(await inside(theirs(big)))) / 1e6,
  direct: median(nums(await inside(['/bin/sh', ['-c', big]]))) / 1e6,
};

// 4. 50 concurrent 1 MB GETs (curl --parallel), wall time inside.
const urls = Array.from({ length: 50 }, () => url('/mb')).join(' ');
const par = `s=$(date +%s%N); curl --noproxy '' -s --parallel --parallel-max 50 ${urls.split(' ').map(() => '-o /dev/null').join(' ')} ${urls} || exit 1; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))`;
results.concurrent = {
  sandboxctl: median(await Promise.all([0, 1, 2].map(async () => nums(await inside(ours(par)))[0]))),
  srt: median(await Promise.all([0, 1, 2].map(async () => nums(await inside(theirs(par)))[0]))),
  direct: nums(await inside(['/bin/sh', ['-c', par]]))[0],
};
server.close();

const r = results;
const f = (x) => x.toFixed(1);
const rows = [
  ['cold start of `true`, ms (median of ' + runs + ')', f(r.start.sandboxctl), f(r.start.srt), '', `${(r.start.srt / r.start.sandboxctl).toFixed(1)}× faster`],
  ['one GET through the proxy, ms', f(r.get.sandboxctl), f(r.get.srt), f(r.get.direct), `${(r.get.srt / r.get.sandboxctl).toFixed(1)}× faster`],
  ['200 MB download, MB/s', f(r.download.sandboxctl), f(r.download.srt), f(r.download.direct), `${(r.download.sandboxctl / r.download.srt).toFixed(1)}× srt, ${(r.download.sandboxctl / r.download.direct).toFixed(2)}× direct`],
  ['50 concurrent 1 MB GETs, wall ms', f(r.concurrent.sandboxctl), f(r.concurrent.srt), f(r.concurrent.direct), `${(r.concurrent.srt / r.concurrent.sandboxctl).toFixed(1)}× faster`],
];
const md = table(['same allow list (127.0.0.1)', 'sandboxctl', 'srt 0.0.78', 'direct (host)', 'sandboxctl vs'], rows);
console.log(md);
mkdirSync(join(here, 'results'), { recursive: true });
const netJson = { date: new Date().toISOString(), uid: process.getuid(), runs, results };
writeFileSync(join(here, 'results/net.json'), `${JSON.stringify(netJson, null, 2)}\n`);
writeChart(join(here, 'results'), 'net', netJson);
