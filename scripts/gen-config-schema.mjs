#!/usr/bin/env node
// Writes schema/config.schema.json (the JSON Schema of sandboxctl.json) from
// schema/plan.schema.json and the preset names in
// packages/core/src/presets/types.ts. `npm run gen` runs it after the plan
// schema; a unit test fails when the committed file drifts. `--stdout`
// prints instead of writing.

import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { configSchema } = require(join(root, 'packages/core/config-schema.js'));

const plan = JSON.parse(readFileSync(join(root, 'schema/plan.schema.json'), 'utf8'));
const types = readFileSync(join(root, 'packages/core/src/presets/types.ts'), 'utf8');
const list = /PRESET_NAMES = \[([^\]]*)\] as const/.exec(types);
if (!list) {
  console.error('gen-config-schema: PRESET_NAMES not found in packages/core/src/presets/types.ts');
  process.exit(1);
}
const names = [...list[1].matchAll(/'([^']+)'/g)].map((m) => m[1]);
const text = `${JSON.stringify(configSchema(plan, names), null, 2)}\n`;
if (process.argv.includes('--stdout')) process.stdout.write(text);
else writeFileSync(join(root, 'schema/config.schema.json'), text);
