/**
 * Toolchains (issue 9, item 4): a Python venv with pip and pytest, `go build`
 * and `cargo build` of small real projects, offline, with their caches where
 * the tools put them by default (under $HOME: ~/.cache/pip, ~/.cache/go-build,
 * ~/.cargo). Under agent the home takes the writes privately and drops them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { requireKernel } from '../helpers';
import { cargoToolchain, cleanup, host, insideSh, need, project, q, toolchainInput, type Preset } from './realwork';

beforeAll(requireKernel);

const PRESETS: Preset[] = ['agent', 'build'];

let dir: string;
beforeEach(() => (dir = project('tools')));
afterEach(() => cleanup(dir));

function files(root: string, tree: Record<string, string>): void {
  for (const [name, text] of Object.entries(tree)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
}

/** Writes a pure-Python wheel of package `calc` to argv[1]. */
const WHEEL = `
import base64, hashlib, sys, zipfile
files = {
    "calc/__init__.py": "def add(a, b):\\n    return a + b\\n",
    "calc-0.1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: calc\\nVersion: 0.1.0\\n",
    "calc-0.1.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: realwork\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
record = []
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for name, text in files.items():
        data = text.encode()
        z.writestr(name, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("calc-0.1.0.dist-info/RECORD,,")
    z.writestr("calc-0.1.0.dist-info/RECORD", "\\n".join(record) + "\\n")
`;

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
    files(dir, {
      'Cargo.toml': '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nutil = { path = "util" }\n',
      'src/main.rs': 'fn main() {\n    println!("sum={}", util::add(2, 3));\n}\n',
      'util/Cargo.toml': '[package]\nname = "util"\nversion = "0.1.0"\nedition = "2021"\n',
      'util/src/lib.rs': 'pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n',
      // Version 3: read by every cargo from Debian's 0.66 to today's.
      'Cargo.lock':
        '# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 3\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = [\n "util",\n]\n\n[[package]]\nname = "util"\nversion = "0.1.0"\n',
    });
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
