/**
 * npm (issue 9, item 4): `npm ci` and `npm test` of a small real package, no
 * registry needed (its one dependency is a local tarball). The test script
 * does what coverage runners do: V8 coverage into the project, and a cache
 * plus a spawn-wrap style directory in $HOME (nyc). Under agent the home
 * takes the writes privately and drops them: nothing reaches the host's home.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireKernel } from '../helpers';
import { HOME, cleanup, host, insideSh, need, project, type Preset } from './realwork';

beforeAll(() => {
  requireKernel();
  need('npm', 'npm');
});

const PRESETS: Preset[] = ['agent', 'build'];

let dir: string;
let id: string;
beforeEach(() => {
  dir = project('npm');
  id = dir.slice(-6);
  makePackage(dir, id);
});
afterEach(() => {
  cleanup(dir);
  cleanup(join(HOME, '.cache', `realwork-${id}`));
});

/** A package with a local tarball dependency, a lock file and a test script that writes coverage. */
export function makePackage(dir: string, id: string): void {
  const dep = join(dir, 'dep-src', 'package');
  mkdirSync(dep, { recursive: true });
  writeFileSync(join(dep, 'package.json'), JSON.stringify({ name: 'realwork-dep', version: '1.0.0', main: 'index.js', license: 'MIT' }, null, 2));
  writeFileSync(join(dep, 'index.js'), 'exports.add = (a, b) => a + b;\n');
  host('tar', ['-czf', join(dir, 'realwork-dep-1.0.0.tgz'), '-C', join(dir, 'dep-src'), 'package'], dir);
  host('rm', ['-rf', 'dep-src'], dir);
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify(
      {
        name: 'realwork-app',
        version: '1.0.0',
        private: true,
        license: 'MIT',
        dependencies: { 'realwork-dep': 'file:realwork-dep-1.0.0.tgz' },
        scripts: { test: 'node test/run.js' },
      },
      null,
      2,
    ),
  );
  mkdirSync(join(dir, 'test'));
  writeFileSync(join(dir, 'cache-id'), `realwork-${id}\n`);
  writeFileSync(
    join(dir, 'test', 'unit.js'),
    ["const assert = require('node:assert');", "const { add } = require('realwork-dep');", 'assert.strictEqual(add(2, 3), 5);', "console.log('1 passed');", ''].join('\n'),
  );
  writeFileSync(
    join(dir, 'test', 'run.js'),
    [
      "const { execFileSync } = require('node:child_process');",
      "const fs = require('node:fs');",
      "const os = require('node:os');",
      "const path = require('node:path');",
      '// V8 coverage of the test process, into the project.',
      "execFileSync(process.execPath, ['test/unit.js'], { stdio: 'inherit', env: { ...process.env, NODE_V8_COVERAGE: 'coverage' } });",
      '// A cache and a spawn-wrap style directory in the home, as nyc writes them.',
      "const name = fs.readFileSync('cache-id', 'utf8').trim();",
      "const cache = path.join(os.homedir(), '.cache', name);",
      'fs.mkdirSync(cache, { recursive: true });',
      "fs.writeFileSync(path.join(cache, 'cache.json'), '{}');",
      "const wrap = fs.mkdtempSync(path.join(os.homedir(), '.node-spawn-wrap-' + name + '-'));",
      "fs.writeFileSync(path.join(wrap, 'node'), '#!/bin/sh\\n');",
      'fs.rmSync(wrap, { recursive: true });',
      "console.log('coverage written');",
      '',
    ].join('\n'),
  );
  // The lock file, made on the host once; the dependency is local, so offline.
  host('npm', ['install', '--package-lock-only', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], dir);
}

describe.each(PRESETS)('--preset %s', (preset) => {
  test('npm ci and npm test with coverage into the project and a cache in $HOME', async () => {
    const r = await insideSh(preset, dir, 'set -ex; npm ci --no-audit --no-fund; npm test');
    expect(r).toHaveRun('npm ci && npm test');
    expect(r).toHavePrinted('npm test', /1 passed\ncoverage written/);
    expect(readFileSync(join(dir, 'node_modules', 'realwork-dep', 'index.js'), 'utf8')).toContain('add');
    const coverage = readdirSync(join(dir, 'coverage')).filter((f) => f.endsWith('.json'));
    expect(coverage.some((f) => readFileSync(join(dir, 'coverage', f), 'utf8').includes('unit.js'))).toBe(true);
    // The home's writes stayed inside: nothing of them on the host.
    expect(existsSync(join(HOME, '.cache', `realwork-${id}`))).toBe(false);
  }, 60000);
});
