#!/usr/bin/env node
// Writes packages/core/src/error-codes.ts from schema/error-codes.json, which
// is itself generated from the Rust `Code` enum (crates/sandbox-core/src/error.rs)
// by `npm run gen`. `--stdout` prints instead of writing (the drift test).

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const codes = JSON.parse(readFileSync(join(root, 'schema', 'error-codes.json'), 'utf8'));

const lines = [
  '/**',
  ' * GENERATED FILE, DO NOT EDIT.',
  ' * Source: schema/error-codes.json (from the `Code` enum in crates/sandbox-core/src/error.rs).',
  ' * Regenerate with `npm run gen`; a unit test fails when this file drifts.',
  ' */',
  '',
  '/** The stable error codes, as `SandboxError.code` carries them. */',
  'export const ERROR_CODES = [',
];
for (const { code, description } of codes) {
  lines.push(`  /** ${description.replace(/\*\//g, '*\\/')} */`, `  '${code}',`);
}
lines.push('] as const;', '');
const text = lines.join('\n');

if (process.argv.includes('--stdout')) process.stdout.write(text);
else writeFileSync(join(root, 'packages', 'core', 'src', 'error-codes.ts'), text);
