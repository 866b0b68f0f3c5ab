// The generated contract types must match what scripts/gen-types.mjs makes
// from the committed schemas today (themselves generated from the Rust serde
// types): a drifted file means someone edited it by hand or changed a schema
// without `npm run gen`.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ErrorReport, Report } from '../src/report-types';

const root = join(__dirname, '..', '..', '..');

describe.each(['plan', 'report', 'view'])('%s-types.ts', (contract) => {
  it(`is what gen-types.mjs generates from schema/${contract}.schema.json`, () => {
    const regenerated = execFileSync(process.execPath, [join(root, 'scripts', 'gen-types.mjs'), contract, '--stdout'], {
      cwd: root,
      encoding: 'utf8',
    });
    const committed = readFileSync(join(root, 'packages', 'core', 'src', contract === 'view' ? 'live' : '', `${contract}-types.ts`), 'utf8');
    expect(regenerated.length).toBeGreaterThan(0);
    // A plain equality check; on failure, run `npm run gen`.
    expect(committed).toBe(regenerated);
  });
});

describe('plan-types.ts', () => {
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

describe('report-types.ts', () => {
  it('names every event of the schema', () => {
    const schema = JSON.parse(readFileSync(join(root, 'schema', 'report.schema.json'), 'utf8')) as {
      oneOf: Array<{ properties?: { event: { const: string } }; allOf?: Array<{ properties?: { event: { const: string } } }> }>;
    };
    const types = readFileSync(join(root, 'packages', 'core', 'src', 'report-types.ts'), 'utf8');
    // A variant wrapping a tagged enum (`denied`) has its event in an allOf beside the $ref.
    const events = schema.oneOf.map((variant) => (variant.properties ?? variant.allOf?.find((p) => p.properties)?.properties)!.event.const);
    expect(events).toEqual(['error', 'spawned', 'started', 'ready', 'audit', 'image', 'progress', 'limithit', 'denied', 'namespaces']);
    for (const event of events) {
      const name = `${event.charAt(0).toUpperCase()}${event.slice(1)}Report`;
      expect(types).toContain(`export interface ${name} {`);
      expect(types).toContain(`event: '${event}';`);
    }
  });

  it('narrows on event', () => {
    const line: Report = JSON.parse('{"event":"error","code":"E_MOUNT","message":"m","opIndex":2}') as Report;
    const error: ErrorReport | undefined = line.event === 'error' ? line : undefined;
    expect(error?.opIndex).toBe(2);
  });
});
