#!/usr/bin/env node
// Writes everything that lists the error codes from schema/error-codes.json,
// which is itself generated from the Rust `Code` enum
// (crates/sandbox-core/src/error.rs) by `npm run gen`:
//   packages/core/src/error-codes.ts                    ERROR_CODES
//   README.md, docs/api.md, docs/internals.md           the table between
//     `<!-- error-codes:begin … -->` and `<!-- error-codes:end -->`
//
// Usage: node scripts/gen-error-codes.mjs            write them
//        node scripts/gen-error-codes.mjs --stdout   print error-codes.ts instead
//        node scripts/gen-error-codes.mjs --check    exit 1 when any of them is stale

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const codes = JSON.parse(readFileSync(join(root, 'schema', 'error-codes.json'), 'utf8'));

function typescript() {
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
  return lines.join('\n');
}

export const BEGIN = '<!-- error-codes:begin (generated from crates/sandbox-core/src/error.rs by `npm run gen`; do not edit) -->';
export const END = '<!-- error-codes:end -->';

// The docs' form of a description: lower case, no trailing period.
function when(description) {
  const text = description.replace(/\.$/, '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return text.charAt(0).toLowerCase() + text.slice(1);
}

export function table() {
  const rows = codes.map(({ code, description }) => `| \`${code}\` | ${when(description)} |`);
  return [BEGIN, '| code | when |', '|---|---|', ...rows, END].join('\n');
}

const docs = ['README.md', 'docs/api.md', 'docs/internals.md'];

// The file with its marked table regenerated.
function spliced(file) {
  const text = readFileSync(join(root, file), 'utf8');
  const start = text.indexOf(BEGIN.slice(0, BEGIN.indexOf(' (')));
  const end = text.indexOf(END);
  if (start < 0 || end < start) {
    console.error(`gen-error-codes: ${file} has no error-codes:begin/end markers`);
    process.exit(1);
  }
  return text.slice(0, start) + table() + text.slice(end + END.length);
}

const outputs = () => [['packages/core/src/error-codes.ts', typescript()], ...docs.map((file) => [file, spliced(file)])];

const mode = process.argv[2];
if (mode === '--stdout') {
  process.stdout.write(typescript());
} else if (mode === '--check') {
  const stale = outputs().filter(([file, text]) => readFileSync(join(root, file), 'utf8') !== text);
  for (const [file] of stale) console.error(`${file} is stale: run npm run gen`);
  process.exit(stale.length === 0 ? 0 : 1);
} else if (mode === undefined) {
  for (const [file, text] of outputs()) writeFileSync(join(root, file), text);
} else {
  console.error(`gen-error-codes: unknown argument ${mode} (expected --stdout or --check)`);
  process.exit(2);
}
