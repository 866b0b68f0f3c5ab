#!/usr/bin/env node
// Generates packages/core/src/plan-types.ts from schema/plan.schema.json, which
// is itself generated from the Rust serde types (`npm run gen` does both).
//
// Usage: node scripts/gen-types.mjs            write the file
//        node scripts/gen-types.mjs --stdout   print it instead (the drift test)
//        node scripts/gen-types.mjs --check    exit 1 when the file is stale
//
// Invariants: the output depends only on the schema and the pinned
// json-schema-to-typescript/prettier versions (explicit style, no config
// lookup), so regenerating an unchanged schema is a no-op.

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const schemaPath = join(root, 'schema', 'plan.schema.json');
const outPath = join(root, 'packages', 'core', 'src', 'plan-types.ts');

const banner = `/**
 * GENERATED FILE, DO NOT EDIT.
 * Source: schema/plan.schema.json (from crates/sandbox-core/src/plan.rs).
 * Regenerate with \`npm run gen\`; a unit test fails when this file drifts.
 */`;

// Op variants carry no title in the schema; name each after its `kind`
// (`bind` -> BindOp) so the union reads as a discriminated union of named types.
// (The normalizer has turned `const` into a one-value `enum` by now.)
function customName(schema) {
  const kindSchema = schema?.properties?.kind;
  const kind = kindSchema?.const ?? (kindSchema?.enum?.length === 1 ? kindSchema.enum[0] : undefined);
  if (typeof kind !== 'string') return undefined;
  const pascal = kind.replace(/(^|-)([a-z])/g, (_, __, c) => c.toUpperCase());
  return `${pascal}Op`;
}

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

export async function generate() {
  const schema = toDraft7(JSON.parse(readFileSync(schemaPath, 'utf8')));
  return compile(schema, 'Plan', {
    bannerComment: banner,
    additionalProperties: false,
    strictIndexSignatures: true,
    unknownAny: true,
    unreachableDefinitions: true,
    customName,
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

const mode = process.argv[2];
const text = await generate();
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
