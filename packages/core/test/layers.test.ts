/**
 * The import graph of packages/: the CLI uses the library only through its
 * package name, the library never reaches the CLI, no file imports itself
 * back through a circle (type-only imports count), and inside the library
 * every import points down the layers below. A failure names the file and
 * the import that broke the rule. (crates/sandbox-core/tests/layers.rs is the
 * same check for the Rust core.)
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const packages = join(__dirname, '..', '..');

/**
 * packages/core/src, lowest first: a file may import files of its own layer
 * or lower ones. The most specific entry (a file before its folder) decides.
 */
const CORE_LAYERS: readonly (readonly string[])[] = [
  ['plan-types.ts', 'report-types.ts', 'error-codes.ts', 'install-hint.ts', 'passwd-home.ts'],
  ['errors.ts'],
  ['native.ts'],
  ['plan/types.ts', 'plan/builder.ts', 'plan/compose.ts', 'plan/paths.ts', 'plan/argv.ts', 'plan/describe.ts', 'plan/fsrules.ts', 'plan/limits.ts'],
  ['presets/', 'config/'],
  ['plan/sources.ts', 'plan/index.ts', 'launcher/', 'image/', 'explain.ts', 'diagnose.ts'],
  ['run.ts'],
  ['live/'],
  ['pool/'],
  ['index.ts'],
];

function layerOf(file: string): number {
  let best: { layer: number; length: number } | undefined;
  CORE_LAYERS.forEach((row, layer) => {
    for (const entry of row) {
      const hit = entry.endsWith('/') ? file.startsWith(entry) : file === entry;
      if (hit && (!best || entry.length > best.length)) best = { layer, length: entry.length };
    }
  });
  if (!best) throw new Error(`packages/core/src/${file} is in no layer: add it to CORE_LAYERS`);
  return best.layer;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

interface Import {
  from: string;
  specifier: string;
  /** The file it names, for a relative specifier. */
  file?: string;
}

function imports(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const out: Import[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/g)) {
    const specifier = m[1]!;
    const imp: Import = { from: file, specifier };
    if (specifier.startsWith('.')) {
      const base = normalize(join(dirname(file), specifier.replace(/\.js$/, '')));
      imp.file = [`${base}.ts`, join(base, 'index.ts')].find((c) => {
        try {
          return statSync(c).isFile();
        } catch {
          return false;
        }
      });
      if (!imp.file) throw new Error(`${relative(packages, file)}: '${specifier}' names no file`);
    }
    out.push(imp);
  }
  return out;
}

const core = join(packages, 'core', 'src');
const cli = join(packages, 'cli', 'src');
const all = [...sources(core), ...sources(cli)];
const graph = new Map(all.map((f) => [f, imports(f)]));
const rel = (f: string): string => relative(packages, f);

test('the CLI uses the library only by its package name, and the library never uses the CLI', () => {
  const wrong: string[] = [];
  for (const [file, list] of graph) {
    for (const imp of list) {
      const inCore = file.startsWith(core);
      if (imp.file && !imp.file.startsWith(inCore ? core : cli)) wrong.push(`${rel(file)}: '${imp.specifier}' leaves its package`);
      if (inCore && imp.specifier === 'sandboxctl') wrong.push(`${rel(file)}: the library imports the CLI`);
    }
  }
  expect(wrong).toEqual([]);
});

test('no file reaches itself through its imports (type-only imports count)', () => {
  const circles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const imp of graph.get(file) ?? []) {
      if (!imp.file) continue;
      if (state.get(imp.file) === 'open') circles.push([...stack.slice(stack.indexOf(imp.file)), imp.file].map(rel).join(' -> '));
      else if (!state.has(imp.file)) visit(imp.file);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of all) if (!state.has(file)) visit(file);
  expect(circles).toEqual([]);
});

test('inside the library every import points down a layer (or stays in its own)', () => {
  const wrong: string[] = [];
  for (const [file, list] of graph) {
    if (!file.startsWith(core)) continue;
    const mine = layerOf(relative(core, file));
    for (const imp of list) {
      if (!imp.file) continue;
      const theirs = layerOf(relative(core, imp.file));
      if (theirs > mine) wrong.push(`${rel(file)} (layer ${mine}) imports ${rel(imp.file)} (layer ${theirs})`);
    }
  }
  expect(wrong).toEqual([]);
});

test('every library file has a layer', () => {
  for (const file of sources(core)) expect(() => layerOf(relative(core, file))).not.toThrow();
});
