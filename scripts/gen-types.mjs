#!/usr/bin/env node
// Generates the TypeScript types of a contract from its JSON Schema, which is
// itself generated from the Rust serde types (`npm run gen` does both):
//   plan    schema/plan.schema.json   -> packages/core/src/plan-types.ts
//   report  schema/report.schema.json -> packages/core/src/report-types.ts
//   view    schema/view.schema.json   -> packages/core/src/live/view-types.ts (the filesystem view)
//
// Usage: node scripts/gen-types.mjs [plan|report|view]            write the file
//        node scripts/gen-types.mjs [plan|report] --stdout   print it instead (the drift test)
//        node scripts/gen-types.mjs [plan|report] --check    exit 1 when the file is stale
// The contract defaults to `plan`.
//
// Invariants: the output depends only on the schema and the pinned
// json-schema-to-typescript/prettier versions (explicit style, no config
// lookup), so regenerating an unchanged schema is a no-op.

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// Union variants carry no title in the schema; name each after its tag
// (an op's `kind`: `bind` -> BindOp; a report line's `event`: `error` ->
// ErrorReport) so the union reads as a discriminated union of named types.
// (The normalizer has turned `const` into a one-value `enum` by now.)
function tagName(tag, suffix) {
  return (schema) => {
    // A variant that names itself (`#[schemars(title = ...)]`) keeps its name.
    if (typeof schema?.title === 'string' && schema?.properties?.[tag] !== undefined) return schema.title;
    const tagSchema = schema?.properties?.[tag];
    const value = tagSchema?.const ?? (tagSchema?.enum?.length === 1 ? tagSchema.enum[0] : undefined);
    if (typeof value !== 'string') return undefined;
    return `${value.replace(/(^|-)([a-z])/g, (_, __, c) => c.toUpperCase())}${suffix}`;
  };
}

const contracts = {
  plan: { schema: 'plan.schema.json', out: 'plan-types.ts', title: 'Plan', rust: 'plan.rs', customName: tagName('kind', 'Op') },
  report: { schema: 'report.schema.json', out: 'report-types.ts', title: 'Report', rust: 'report.rs', customName: tagName('event', 'Report') },
  view: { schema: 'view.schema.json', out: 'live/view-types.ts', title: 'ViewProtocol', rust: 'live/view.rs', customName: tagName('op', 'Request') },
};

// json-schema-to-typescript reads draft-07 `definitions`, and turns a `$ref`
// with sibling keywords (schemars puts `description` and `default` beside it)
// into a second, numbered copy of the referenced type. Rewrite the schema into
// that dialect: `$defs` -> `definitions`, bare `$ref`s.
function toDraft7(node) {
  if (Array.isArray(node)) return node.map(toDraft7);
  if (node === null || typeof node !== 'object') return node;
  if (typeof node.$ref === 'string') {
    return { $ref: node.$ref.replace('#/$defs/', '#/definitions/') };
  }
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    out[key === '$defs' ? 'definitions' : key] = toDraft7(value);
  }
  return out;
}

export async function generate(contract) {
  const schema = toDraft7(JSON.parse(readFileSync(join(root, 'schema', contract.schema), 'utf8')));
  const banner = `/**
 * GENERATED FILE, DO NOT EDIT.
 * Source: schema/${contract.schema} (from crates/sandbox-core/src/${contract.rust}).
 * Regenerate with \`npm run gen\`; a unit test fails when this file drifts.
 */`;
  return compile(schema, contract.title, {
    bannerComment: banner,
    additionalProperties: false,
    strictIndexSignatures: true,
    unknownAny: true,
    unreachableDefinitions: true,
    customName: contract.customName,
    format: true,
    style: {
      parser: 'typescript',
      printWidth: 100,
      singleQuote: true,
      semi: true,
      trailingComma: 'all',
      tabWidth: 2,
      useTabs: false,
      bracketSpacing: true,
      endOfLine: 'lf',
    },
  });
}

const args = process.argv.slice(2);
const name = args[0] !== undefined && !args[0].startsWith('--') ? args.shift() : 'plan';
const contract = contracts[name];
if (contract === undefined) {
  console.error(`gen-types: unknown contract ${name} (expected ${Object.keys(contracts).join(' or ')})`);
  process.exit(2);
}
const outPath = join(root, 'packages', 'core', 'src', contract.out);
const mode = args[0];
const text = await generate(contract);
if (mode === '--stdout') {
  process.stdout.write(text);
} else if (mode === '--check') {
  let current = '';
  try {
    current = readFileSync(outPath, 'utf8');
  } catch {
    // a missing file is stale
  }
  if (current !== text) {
    console.error(`${relative(root, outPath)} is stale: run npm run gen`);
    process.exit(1);
  }
} else if (mode === undefined) {
  writeFileSync(outPath, text);
} else {
  console.error(`gen-types: unknown argument ${mode} (expected --stdout or --check)`);
  process.exit(2);
}
