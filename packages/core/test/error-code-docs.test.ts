// The error-code tables of README.md, docs/api.md and docs/internals.md and
// packages/core/src/error-codes.ts are generated from the Rust `Code` enum
// (through schema/error-codes.json) by scripts/gen-error-codes.mjs: a drifted
// table means someone edited it by hand or changed a code without `npm run gen`.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');

describe('generated error-code tables', () => {
  it('are what gen-error-codes.mjs makes from schema/error-codes.json (run `npm run gen` when they drift)', () => {
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'gen-error-codes.mjs'), '--check'], { cwd: root, encoding: 'utf8' });
    expect([r.status, r.stderr]).toEqual([0, '']);
  });

  it.each(['README.md', 'docs/api.md', 'docs/internals.md'])('%s lists every code once, between the markers', (file) => {
    const codes = (JSON.parse(readFileSync(join(root, 'schema', 'error-codes.json'), 'utf8')) as { code: string }[]).map((c) => c.code);
    const text = readFileSync(join(root, file), 'utf8');
    const begin = text.indexOf('<!-- error-codes:begin');
    const end = text.indexOf('<!-- error-codes:end -->');
    expect(begin).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(begin);
    for (const code of codes) {
      const rows = text.split(`| \`${code}\` |`).length - 1;
      expect([code, rows]).toEqual([code, 1]);
      expect(text.indexOf(`| \`${code}\` |`)).toBeGreaterThan(begin);
    }
  });
});
