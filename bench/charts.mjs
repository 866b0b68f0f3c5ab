#!/usr/bin/env node
// One SVG chart per benchmark section: ours beside the peer measured in the
// same run, each comparison's ratio written beside its bars and marked
// against the goal (met / not met). `npm run bench` writes them next to the
// section's JSON (bench/all.mjs, bench/net.mjs); `node bench/charts.mjs [DIR]`
// draws them again from the JSON already in DIR (default bench/results).
//
// Plain SVG, no dependency: horizontal bars, one group per comparison.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OURS = '#2b6cb0';
const PEER = '#a0aec0';
const FLOOR = '#e2e8f0';
const MET = '#2f855a';
const MISSED = '#c53030';

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/**
 * A goal on a ratio: `{ ratio, max }` (lower is better: at most `max`) or
 * `{ ratio, min }` (higher is better: at least `min`), or neither (the
 * ratio shown, no goal), with the words that say what the ratio is of.
 */
function verdict(goal) {
  if (!goal || !Number.isFinite(goal.ratio)) return undefined;
  if (goal.max === undefined && goal.min === undefined) return { text: `${goal.ratio.toFixed(2)}× ${goal.of}`, met: undefined };
  const met = goal.max !== undefined ? goal.ratio <= goal.max : goal.ratio >= goal.min;
  const want = goal.max !== undefined ? `≤ ${goal.max}×` : `≥ ${goal.min}×`;
  return { text: `${goal.ratio.toFixed(2)}× ${goal.of} (goal ${want}: ${met ? 'met' : 'not met'})`, met };
}

/**
 * The chart: `groups` of bars `{ name, value, kind: 'ours' | 'peer' | 'floor' }`,
 * each group with an optional `goal` ({@link verdict}) and `unit`. Bars of
 * one unit share one scale (that unit's largest value).
 */
export function barChart({ title, subtitle, unit, groups }) {
  const width = 860;
  const left = 330;
  const barW = 300;
  const barH = 15;
  // One scale per unit: a group may give its own (latency beside programs per second).
  const unitOf = (g) => g.unit ?? unit;
  const max = new Map();
  for (const g of groups) for (const b of g.bars) if (Number.isFinite(b.value)) max.set(unitOf(g), Math.max(max.get(unitOf(g)) ?? 1e-9, b.value));
  const lines = [];
  let y = 58;
  for (const g of groups) {
    lines.push(`<text x="12" y="${y + 12}" font-weight="bold">${esc(g.label)}</text>`);
    const v = verdict(g.goal);
    if (v) lines.push(`<text x="${left + barW + 120}" y="${y + 12}" fill="${v.met === undefined ? '#4a5568' : v.met ? MET : MISSED}" text-anchor="end" font-size="11">${esc(v.text)}</text>`);
    y += 18;
    for (const b of g.bars) {
      const w = Number.isFinite(b.value) ? Math.max(1, (b.value / max.get(unitOf(g))) * barW) : 0;
      const fill = b.kind === 'ours' ? OURS : b.kind === 'floor' ? FLOOR : PEER;
      lines.push(`<text x="${left - 8}" y="${y + 11}" text-anchor="end" font-size="11">${esc(b.name)}</text>`);
      lines.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${fill}"><title>${esc(`${b.name}: ${b.value} ${unitOf(g)}`)}</title></rect>`);
      lines.push(`<text x="${left + w + 6}" y="${y + 11}" font-size="11">${Number.isFinite(b.value) ? `${fmt(b.value)} ${esc(unitOf(g))}` : 'n/a'}</text>`);
      y += barH + 4;
    }
    y += 10;
  }
  const height = y + 24;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="12" y="40" font-size="11" fill="#4a5568">${esc(subtitle)}</text>`,
    ...lines,
    `<rect x="12" y="${height - 18}" width="10" height="10" fill="${OURS}"/><text x="26" y="${height - 9}" font-size="11">sandboxctl</text>`,
    `<rect x="110" y="${height - 18}" width="10" height="10" fill="${PEER}"/><text x="124" y="${height - 9}" font-size="11">peer, same run</text>`,
    `<rect x="230" y="${height - 18}" width="10" height="10" fill="${FLOOR}" stroke="#a0aec0"/><text x="244" y="${height - 9}" font-size="11">floor</text>`,
    '</svg>',
    '',
  ].join('\n');
}

const row = (rows, test) => (rows ?? []).find((r) => (typeof test === 'string' ? r.variant?.startsWith(test) : test(r)));
const ratio = (a, b) => (a && b ? a / b : NaN);
const when = (json) => [json.header ?? '', json.date ? `measured ${json.date}` : ''].filter(Boolean).join('; ') || 'bench/results';

/** Each section's comparisons, from its JSON. */
const SECTIONS = {
  start(j) {
    const r = (s) => row(j.rows, s)?.medianMs;
    const [bwRo, ourRo, bwFull, ourFull, floor] = [r('bwrap --ro-bind / / true'), r('sandboxctl-init --plan (ro-bind /)'), r('bwrap --ro-bind / / --proc'), r('sandboxctl-init --plan (ro-bind /, proc'), r('unshare -Urmpfn') ?? r('unshare')];
    const floorRow = row(j.rows, 'unshare -Urmpfn') ?? row(j.rows, 'unshare');
    const floorName = floorRow ? floorRow.variant.replace(/ true \(.*$/, '') : 'unshare';
    return {
      title: 'Native start, median ms (lower is better)',
      unit: 'ms',
      groups: [
        { label: 'full set-up: ro-bind /, proc, dev, every namespace', bars: [{ name: 'sandboxctl-init --plan', value: ourFull, kind: 'ours' }, { name: 'bwrap --unshare-all', value: bwFull, kind: 'peer' }, { name: floorName, value: floor, kind: 'floor' }], goal: { ratio: ratio(ourFull, bwFull), max: 0.7, of: 'bwrap' } },
        { label: 'the same against the kernel\'s floor', bars: [{ name: 'sandboxctl-init --plan', value: ourFull, kind: 'ours' }, { name: floorName, value: floor, kind: 'floor' }], goal: { ratio: ratio(ourFull, floor), max: 1.4, of: 'unshare' } },
        { label: 'ro-bind / only', bars: [{ name: 'sandboxctl-init --plan', value: ourRo, kind: 'ours' }, { name: 'bwrap --ro-bind / /', value: bwRo, kind: 'peer' }], goal: { ratio: ratio(ourRo, bwRo), of: 'bwrap (ours loads its filter and Landlock, bwrap nothing)' } },
      ],
    };
  },
  cli(j) {
    const floor = row(j.rows, 'node -e 0')?.medianMs;
    const mine = (s) => row(j.rows, s)?.medianMs;
    const cmd = (label, variant) => ({ label, bars: [{ name: label.split(':')[0], value: mine(variant), kind: 'ours' }, { name: 'node -e 0', value: floor, kind: 'floor' }], goal: { ratio: ratio(mine(variant), floor), max: 1.3, of: 'node -e 0' } });
    const agent = mine('sandboxctl run --preset agent');
    const srt = mine('srt true');
    const groups = [
      cmd('sandboxctl run … -- true', 'sandboxctl run --ro-bind'),
      cmd('sandboxctl --help', 'sandboxctl --help'),
      cmd('sandboxctl explain …', 'sandboxctl explain'),
      cmd('sandboxctl doctor', 'sandboxctl doctor'),
    ];
    if (srt) groups.push({ label: 'sandboxctl run --preset agent -- true', bars: [{ name: 'sandboxctl (agent)', value: agent, kind: 'ours' }, { name: 'srt true', value: srt, kind: 'peer' }], goal: { ratio: ratio(srt, agent), min: 4, of: 'faster than srt' } });
    return { title: 'CLI cold start, median ms (lower is better)', unit: 'ms', groups };
  },
  pool(j) {
    const lat = (s) => row(j.latency, s)?.medianMs;
    const [pool, bwrap] = [lat("await pool.run(['true']) (ro"), lat("await spawn('bwrap'")];
    const groups = [{ label: "latency of await pool.run(['true'])", unit: 'ms', bars: [{ name: 'pool.run', value: pool, kind: 'ours' }, { name: "spawn('bwrap' … --unshare-all)", value: bwrap, kind: 'peer' }], goal: { ratio: ratio(pool, bwrap), max: 0.5, of: 'bwrap' } }];
    const chart = { title: 'Warm pool: latency ms (lower is better) and programs per second (higher is better)', unit: '', groups };
    for (const r of j.rows ?? []) {
      groups.push({ label: `programs per second at concurrency ${r.concurrency}`, unit: '/s', bars: [{ name: 'pool.run', value: r.poolPerSec, kind: 'ours' }, { name: 'spawn(bwrap)', value: r.bwrapPerSec, kind: 'peer' }], goal: r.concurrency === 8 ? { ratio: r.poolPerSec / r.bwrapPerSec, min: 2, of: 'bwrap' } : undefined });
    }
    return chart;
  },
  throughput(j) {
    return {
      title: 'Throughput: sandboxes of /bin/true per second from one Node process (higher is better)',
      unit: '/s',
      groups: (j.rows ?? []).map((r) => ({ label: `concurrency ${r.concurrency}`, bars: [{ name: 'run()', value: r.oursPerSec, kind: 'ours' }, { name: 'spawn(bwrap)', value: r.bwrapPerSec, kind: 'peer' }], goal: { ratio: r.oursPerSec / r.bwrapPerSec, of: 'bwrap' } })),
    };
  },
  memory(j) {
    return {
      title: 'Memory of a sleeping sandbox, KiB (lower is better)',
      unit: 'KiB',
      groups: (j.rows ?? []).map((r) => ({ label: r.what, bars: [{ name: 'sandboxctl', value: r.sandboxctl, kind: 'ours' }, { name: 'bwrap', value: r.bwrap, kind: 'peer' }] })),
    };
  },
  seccomp(j) {
    const ns = (s) => row(j.rows, s)?.nsPerCall;
    const none = ns('bwrap (no filter)');
    return {
      title: 'Seccomp: ns per getppid call (lower is better)',
      unit: 'ns',
      groups: [
        { label: 'the strict filter, default', bars: [{ name: 'sandboxctl (strict)', value: ns('sandboxctl (strict'), kind: 'ours' }, { name: 'bwrap (no filter)', value: none, kind: 'peer' }, { name: 'host, no sandbox', value: ns('host'), kind: 'floor' }], goal: { ratio: ratio(ns('sandboxctl (strict'), none), max: 1.05, of: 'no filter' } },
        { label: 'any filter at all', bars: [{ name: 'a one-rule filter', value: ns('sandboxctl, a one-rule'), kind: 'ours' }, { name: 'bwrap (no filter)', value: none, kind: 'peer' }] },
      ],
    };
  },
  hyperfine(j) {
    const r = (s) => row(j.rows, s)?.medianMs;
    return {
      title: 'Native start measured by hyperfine -N, median ms (lower is better)',
      unit: 'ms',
      groups: [
        { label: 'full set-up', bars: [{ name: 'sandboxctl-init --plan', value: r('sandboxctl-init --plan (ro-bind /, proc'), kind: 'ours' }, { name: 'bwrap --unshare-all', value: r('bwrap --ro-bind / / --proc'), kind: 'peer' }], goal: { ratio: ratio(r('sandboxctl-init --plan (ro-bind /, proc'), r('bwrap --ro-bind / / --proc')), max: 0.7, of: 'bwrap' } },
        { label: 'ro-bind / only', bars: [{ name: 'sandboxctl-init --plan', value: r('sandboxctl-init --plan (ro-bind /)'), kind: 'ours' }, { name: 'bwrap --ro-bind / /', value: r('bwrap --ro-bind / / true'), kind: 'peer' }] },
      ],
    };
  },
  net(j) {
    const x = j.results ?? {};
    return {
      title: 'Agent network policy, the same allow list on both',
      unit: '',
      groups: [
        { label: 'start of true', unit: 'ms', bars: [{ name: 'sandboxctl --preset agent --allow-host', value: x.start?.sandboxctl, kind: 'ours' }, { name: 'srt', value: x.start?.srt, kind: 'peer' }], goal: { ratio: ratio(x.start?.srt, x.start?.sandboxctl), min: 4, of: 'faster than srt' } },
        { label: 'one HTTP GET through the proxy', unit: 'ms', bars: [{ name: 'sandboxctl', value: x.get?.sandboxctl, kind: 'ours' }, { name: 'srt', value: x.get?.srt, kind: 'peer' }, { name: 'direct', value: x.get?.direct, kind: 'floor' }] },
        { label: '200 MB download', unit: 'MB/s', bars: [{ name: 'sandboxctl', value: x.download?.sandboxctl, kind: 'ours' }, { name: 'srt', value: x.download?.srt, kind: 'peer' }, { name: 'direct', value: x.download?.direct, kind: 'floor' }], goal: { ratio: ratio(x.download?.sandboxctl, x.download?.direct), min: 0.8, of: 'direct' } },
        { label: 'the same against srt', unit: 'MB/s', bars: [{ name: 'sandboxctl', value: x.download?.sandboxctl, kind: 'ours' }, { name: 'srt', value: x.download?.srt, kind: 'peer' }], goal: { ratio: ratio(x.download?.sandboxctl, x.download?.srt), min: 2, of: 'srt' } },
      ],
    };
  },
};

/** The SVG of section `name` from its JSON, or undefined for a section without a chart. */
export function chartFor(name, json) {
  const make = SECTIONS[name];
  if (!make) return undefined;
  const spec = make(json);
  return barChart({ ...spec, subtitle: when(json) });
}

/** Writes `<name>.svg` beside `<name>.json` in `dir`; its path, or undefined. */
export function writeChart(dir, name, json) {
  const svg = chartFor(name, json);
  if (svg === undefined) return undefined;
  const file = join(dir, `${name}.svg`);
  writeFileSync(file, svg);
  return file;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), 'results');
  for (const name of Object.keys(SECTIONS)) {
    const file = join(dir, `${name}.json`);
    if (!existsSync(file)) continue;
    console.log(writeChart(dir, name, JSON.parse(readFileSync(file, 'utf8'))));
  }
}
