// The generated types must match what scripts/gen-types.mjs makes from the
// committed schema today: a drifted file means someone edited it by hand or
// changed the schema without `npm run gen`.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');

describe('plan-types.ts', () => {
  it('is what gen-types.mjs generates from schema/plan.schema.json', () => {
    const regenerated = execFileSync(process.execPath, [join(root, 'scripts', 'gen-types.mjs'), '--stdout'], {
      cwd: root,
      encoding: 'utf8',
    });
    const committed = readFileSync(join(root, 'packages', 'core', 'src', 'plan-types.ts'), 'utf8');
    expect(regenerated.length).toBeGreaterThan(0);
    // A plain equality check; on failure, run `npm run gen`.
    expect(committed).toBe(regenerated);
  });

  it('names every op kind of the schema', () => {
    const schema = JSON.parse(readFileSync(join(root, 'schema', 'plan.schema.json'), 'utf8')) as {
      $defs: { Op: { oneOf: Array<{ properties: { kind: { const: string } } }> } };
    };
    const types = readFileSync(join(root, 'packages', 'core', 'src', 'plan-types.ts'), 'utf8');
    const kinds = schema.$defs.Op.oneOf.map((variant) => variant.properties.kind.const);
    expect(kinds.length).toBeGreaterThan(0);
    for (const kind of kinds) {
      const name = `${kind.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase())}Op`;
      expect(types).toContain(`export interface ${name} {`);
      expect(types).toContain(`kind: '${kind}';`);
    }
  });
});
