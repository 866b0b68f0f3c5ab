/**
 * Toolchains (issue 9, item 4): a Python venv with pip and pytest, `go build`
 * and `cargo build` of small real projects, offline, with their caches where
 * the tools put them by default (under $HOME: ~/.cache/pip, ~/.cache/go-build,
 * ~/.cargo). Under agent the home takes the writes privately and drops them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { requireKernel } from '../helpers';
import { WHEEL, files, makeCrate } from './fixtures';
import { cargoToolchain, cleanup, insideSh, need, project, q, toolchainInput, type Preset } from './realwork';

beforeAll(requireKernel);

const PRESETS: Preset[] = ['agent', 'build'];

let dir: string;
beforeEach(() => (dir = project('tools')));
afterEach(() => cleanup(dir));

describe.each(PRESETS)('--preset %s', (preset) => {
  test('python3 -m venv --system-site-packages, pip install of a local wheel, pytest', async () => {
    const python = need('python3', 'python3-venv');
    files(dir, {
      'tests/test_calc.py': 'from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_str():\n    assert add("a", "b") == "ab"\n',
    });
    // A wheel made by hand on the host (offline: no build backend needed inside).
    execFileSync(python, ['-c', WHEEL, join(dir, 'calc-0.1.0-py3-none-any.whl')]);
    const r = await insideSh(
      preset,
      dir,
      [
        'set -e',
        'python3 -m venv --system-site-packages .venv',
        '. .venv/bin/activate',
        'set -x',
        'python -m pip install --no-index --no-deps --disable-pip-version-check ./calc-0.1.0-py3-none-any.whl',
        'python -c "import calc; print(calc.__file__)"',
        'python -m pytest -q --junitxml=report.xml',
      ].join('\n'),
    );
    expect(r).toHaveRun('python venv + pip + pytest');
    expect(r).toHavePrinted('pytest', /2 passed/);
    expect(r).toHavePrinted('pip install', /\.venv\/lib\/python3[.\d]*\/site-packages\/calc\/__init__\.py/);
    expect(readFileSync(join(dir, 'report.xml'), 'utf8')).toMatch(/tests="2"/);
    expect(existsSync(join(dir, '.pytest_cache'))).toBe(true);
  }, 90000);

  test('go build of a module (stdlib only, GOFLAGS=-mod=mod, default GOCACHE under $HOME)', async () => {
    const go = need('go', 'golang-go', ['/usr/local/go/bin/go', '/usr/lib/go/bin/go']);
    files(dir, {
      'go.mod': 'module example.org/realwork\n\ngo 1.19\n',
      // The smallest program (no imports: a cold cache still compiles the
      // runtime); the comment makes its build unique to this run.
      'main.go': `package main\n\n// ${dir}\nfunc main() {\n\tprintln("HELLO FROM GO")\n}\n`,
    });
    const cache = execFileSync(go, ['env', 'GOCACHE'], { encoding: 'utf8' }).trim();
    const marker = join(dir, '.started');
    writeFileSync(marker, '');
    const r = await insideSh(
      preset,
      dir,
      // The build preset's PATH is the system's; the tool's directory goes first in both.
      `set -ex; export PATH=${q(dirname(go))}:$PATH GOFLAGS=-mod=mod; go build -o hello .; ./hello 2>&1`,
    );
    expect(r).toHaveRun('go build');
    expect(r).toHavePrinted('go build', /^HELLO FROM GO$/m);
    expect(existsSync(join(dir, 'hello'))).toBe(true);
    if (preset === 'agent') {
      // The host's build cache got none of the run's entries.
      const fresh = existsSync(cache) ? execFileSync('find', [cache, '-type', 'f', '-newer', marker], { encoding: 'utf8' }) : '';
      expect({ cache, fresh }).toEqual({ cache, fresh: '' });
    }
  }, 120000);

  test('cargo build --offline --locked of a crate with a Cargo.lock and a path dependency', async () => {
    makeCrate(dir);
    const lock = readFileSync(join(dir, 'Cargo.lock'), 'utf8');
    let script = 'set -ex; cargo build --offline --locked; ./target/debug/app';
    let extra: string[] = [];
    if (preset === 'build') {
      // The build preset shows the system only: the toolchain is an input.
      const { dir: tc } = cargoToolchain();
      extra = toolchainInput(tc);
      script = `export PATH=${q(join(tc, 'bin'))}:$PATH; ${script}`;
    } else {
      need('cargo', 'cargo');
    }
    const r = await insideSh(preset, dir, script, { extra });
    expect(r).toHaveRun('cargo build');
    expect(r).toHavePrinted('cargo build', /^sum=5$/m);
    expect(readFileSync(join(dir, 'Cargo.lock'), 'utf8')).toBe(lock);
  }, 180000);
});
