#!/usr/bin/env node
// Writes fuzz/plan.dict: every field name, kind and enum value of
// schema/plan.schema.json as a JSON string token, plus JSON punctuation and
// edge values, for libFuzzer's -dict. Run after the schema changes.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const schema = JSON.parse(readFileSync(join(root, 'schema/plan.schema.json'), 'utf8'));
const tokens = new Set();
const walk = (o) => {
  if (!o || typeof o !== 'object') return;
  if (o.properties) for (const k of Object.keys(o.properties)) tokens.add(k);
  if (typeof o.const === 'string') tokens.add(o.const);
  if (Array.isArray(o.enum)) for (const e of o.enum) if (typeof e === 'string') tokens.add(e);
  for (const v of Object.values(o)) walk(v);
};
walk(schema);
const lines = [...tokens].sort().map((t) => JSON.stringify(JSON.stringify(t)));
for (const t of ['{', '}', '[', ']', ':', ',', 'true', 'false', 'null', '"/"', '".."', '"/.."', '"\\u0000"', '4294967295', '18446744073709551615', '-1', '0', '1e309', '"\\ud800"']) {
  lines.push(JSON.stringify(t));
}
writeFileSync(
  join(root, 'fuzz/plan.dict'),
  `# libFuzzer dictionary: plan field names and enum values from schema/plan.schema.json, JSON tokens (fuzz/gen-dict.mjs)\n${lines.map((l, i) => `t${i}=${l}`).join('\n')}\n`,
);
