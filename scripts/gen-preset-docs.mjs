#!/usr/bin/env node
// Rewrites the generated part of docs/presets/<name>.md from the preset data
// (packages/core/src/presets, built to packages/core/dist by `npm run build`),
// keeping any hand-written text after the end marker. A unit test fails when
// a page's generated part is out of date.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const dist = join(root, 'packages/core/dist/presets/docs.js');
if (!existsSync(dist)) {
  console.error('gen-preset-docs: build first (`npm run build`)');
  process.exit(1);
}
const { renderPresetDoc, DOC_END } = require(dist);
const { PRESET_NAMES } = require(join(root, 'packages/core/dist/presets/types.js'));

mkdirSync(join(root, 'docs/presets'), { recursive: true });
for (const name of PRESET_NAMES) {
  const file = join(root, 'docs/presets', `${name}.md`);
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const cut = old.indexOf(DOC_END);
  const tail = cut === -1 ? '' : old.slice(cut + DOC_END.length + 1);
  writeFileSync(file, renderPresetDoc(name) + tail);
}
