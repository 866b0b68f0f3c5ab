/**
 * npm (issue 9, item 4): `npm ci` and `npm test` of a small real package, no
 * registry needed (its one dependency is a local tarball). The test script
 * does what coverage runners do: V8 coverage into the project, and a cache
 * plus a spawn-wrap style directory in $HOME (nyc). Under agent the home
 * takes the writes privately and drops them: nothing reaches the host's home.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireKernel } from '../helpers';
import { makeNpmPackage } from './fixtures';
import { HOME, cleanup, insideSh, need, project, type Preset } from './realwork';

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
  makeNpmPackage(dir, id);
});
afterEach(() => {
  cleanup(dir);
  cleanup(join(HOME, '.cache', `realwork-${id}`));
});

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

test('agent, no network: `npm install` of a registry package fails fast, not after a minute of retries', async () => {
  // The preset has no network; a resolver that cannot be reached must fail
  // at once (issue 9 saw 71 s of DNS retries). `timeout 20` bounds the case.
  const started = Date.now();
  const r = await insideSh('agent', dir, 'timeout 20 npm install --no-audit --no-fund left-pad; echo "npm=$?"');
  const seconds = (Date.now() - started) / 1000;
  expect(r).toHaveRun('npm install (no network)');
  expect(r).toHavePrinted('npm install (no network)', /^npm=(?!0$|124$)\d+$/m);
  expect({ seconds: Math.round(seconds), fast: seconds < 15 }).toEqual({ seconds: Math.round(seconds), fast: true });
}, 60000);
