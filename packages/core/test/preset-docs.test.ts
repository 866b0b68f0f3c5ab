// docs/presets/<name>.md start with the part generated from the preset data;
// a page that drifts from the data fails here (regenerate it with
// `npm run build && node scripts/gen-preset-docs.mjs`).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOC_END, renderPresetDoc } from '../src/presets/docs';
import { PRESET_NAMES, resolvePreset } from '../src/presets';
import { exampleOptions } from '../src/presets/example';

const root = join(__dirname, '..', '..', '..');

describe.each(PRESET_NAMES)('docs/presets/%s.md', (name) => {
  const page = readFileSync(join(root, 'docs', 'presets', `${name}.md`), 'utf8');

  it('begins with the generated part, up to date', () => {
    const generated = renderPresetDoc(name);
    expect(page.slice(0, generated.length)).toBe(generated);
  });

  it('lists the exact ops of the example host as JSON', () => {
    const ops = resolvePreset(exampleOptions(name)).ops;
    expect(page).toContain(`\`\`\`json\n${JSON.stringify(ops, null, 2)}\n\`\`\``);
    expect(page.indexOf(DOC_END)).toBeGreaterThan(0);
  });
});
