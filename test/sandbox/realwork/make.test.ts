/**
 * make and ninja with real recipes (issue 9, item 1): GNU make starts its
 * recipes through posix_spawn with POSIX_SPAWN_RESETIDS, which calls
 * setgid/setuid with the ids the process already has.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireKernel } from '../helpers';
import { cleanup, insideSh, need, project, type Preset } from './realwork';

beforeAll(requireKernel);

const PRESETS: Preset[] = ['agent', 'build'];
const TARGETS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

const MAKEFILE = [
  'OUT := out',
  `TARGETS := ${TARGETS.map((t) => `$(OUT)/${t}.txt`).join(' ')}`,
  'all: $(OUT)/all.txt',
  '$(OUT)/all.txt: $(TARGETS)',
  '\tcat $^ > $@',
  '$(OUT)/%.txt: src/%.in | $(OUT)',
  '\tsleep 0.2; tr a-z A-Z < $< > $@',
  '$(OUT):',
  '\tmkdir -p $@',
  'clean:',
  '\trm -rf $(OUT)',
  '.PHONY: all clean',
  '',
].join('\n');

const NINJA = [
  'rule upper',
  '  command = sleep 0.2; tr a-z A-Z < $in > $out',
  'rule cat',
  '  command = cat $in > $out',
  ...TARGETS.map((t) => `build nout/${t}.txt: upper src/${t}.in`),
  `build nout/all.txt: cat ${TARGETS.map((t) => `nout/${t}.txt`).join(' ')}`,
  'default nout/all.txt',
  '',
].join('\n');

let dir: string;
beforeEach(() => {
  dir = project('make');
  mkdirSync(join(dir, 'src'));
  for (const t of TARGETS) writeFileSync(join(dir, 'src', `${t}.in`), `${t}${t}\n`);
  writeFileSync(join(dir, 'Makefile'), MAKEFILE);
  writeFileSync(join(dir, 'build.ninja'), NINJA);
});
afterEach(() => cleanup(dir));

const expected = TARGETS.map((t) => `${t}${t}\n`.toUpperCase()).join('');

describe.each(PRESETS)('--preset %s', (preset) => {
  test('make runs its recipes, serially and with -j4, and `make clean`', async () => {
    need('make', 'make');
    const r = await insideSh(preset, dir, 'set -ex; make; make clean; make -j4; make -q all');
    expect(r).toHaveRun('make');
    expect(readFileSync(join(dir, 'out', 'all.txt'), 'utf8')).toBe(expected);
  }, 30000);

  test('ninja builds with -j4', async () => {
    need('ninja', 'ninja-build');
    const r = await insideSh(preset, dir, 'set -ex; ninja -j4; ninja -n | grep -q "no work to do"');
    expect(r).toHaveRun('ninja');
    expect(readFileSync(join(dir, 'nout', 'all.txt'), 'utf8')).toBe(expected);
  }, 30000);
});
