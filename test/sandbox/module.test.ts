/**
 * Both module systems reach the same library: `import` (the generated
 * dist/index.mjs) and `require` (the CommonJS build), from `sandboxctl` and
 * from `@sandboxctl/core`, each running a real sandbox.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, requireKernel } from './helpers';

beforeAll(() => {
  requireKernel();
  for (const pkg of ['core', 'cli']) {
    const entry = join(ROOT, 'packages', pkg, 'dist', 'index.mjs');
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\``);
  }
});

let dir: string;
beforeEach(() => {
  // Both package names resolve through the checkout's node_modules (the
  // workspace links), which an unprivileged run cannot write into.
  dir = mkdtempSync('/var/tmp/sandboxctl-module-');
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const body = `
  const r = await lib.run({ argv: ['/bin/sh', '-c', 'echo $$'], preset: { name: 'strict' }, ops: [
    { kind: 'bind', source: '/usr', target: '/usr' }, { kind: 'symlink', target: '/bin', linkname: 'usr/bin' },
    { kind: 'symlink', target: '/lib', linkname: 'usr/lib' }, { kind: 'symlink', target: '/lib64', linkname: 'usr/lib64' } ], stdio: 'pipe' });
  let code;
  try { lib.spawn({ argv: ['x'], ops: [{ kind: 'dir', target: 'rel' }] }); } catch (e) { code = e instanceof lib.SandboxError && e.code; }
  console.log(JSON.stringify({ out: r.stdout, code: r.code, error: code, presets: lib.PRESET_NAMES }));
`;

function node(file: string, text: string): { status: number | null; stdout: string; stderr: string } {
  writeFileSync(join(dir, file), text);
  const r = spawnSync(process.execPath, [join(dir, file)], { encoding: 'utf8', cwd: dir });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const expected = { out: '2\n', code: 0, error: 'E_PLAN_INVALID', presets: ['strict', 'ro-host', 'agent', 'build'] };

test.each(['sandboxctl', '@sandboxctl/core'])('import { … } from %s', (pkg) => {
  const r = node('esm.mjs', `import * as lib from '${pkg}';\nimport { run } from '${pkg}';\nif (run !== lib.run) throw new Error('two instances');\n${body}`);
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toEqual(expected);
});

test.each(['sandboxctl', '@sandboxctl/core'])('require(%s)', (pkg) => {
  const r = node('cjs.cjs', `const lib = require('${pkg}');\n(async () => {${body}})();`);
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toEqual(expected);
});

test('import and require give the same objects', () => {
  const r = node(
    'both.mjs',
    "import { createRequire } from 'node:module';\nimport { SandboxError, run } from 'sandboxctl';\nconst require = createRequire(import.meta.url);\nconsole.log(require('sandboxctl').run === run && require('@sandboxctl/core').SandboxError === SandboxError);",
  );
  expect(r.stdout).toBe('true\n');
});
