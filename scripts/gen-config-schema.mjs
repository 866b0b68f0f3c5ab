#!/usr/bin/env node
// Writes schema/config.schema.json (the JSON Schema of sandboxctl.json) from
// the Rust `ConfigFile` type (crates/sandbox-core/src/config.rs), the type
// the addon checks config files with. `npm run gen` runs it after the plan
// schema; tests fail when the committed file drifts (cargo test's
// committed_json_schema_is_fresh, and packages/core/test/config.test.ts
// against the addon). `--stdout` prints instead of writing.

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const result = spawnSync('cargo', ['run', '-q', '-p', 'sandbox-core', '--example', 'gen-config-schema'], {
  cwd: root,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
});
if (result.error || result.status !== 0) {
  console.error(`gen-config-schema: cargo run --example gen-config-schema failed${result.error ? `: ${result.error.message}` : ''}`);
  process.exit(1);
}
if (process.argv.includes('--stdout')) process.stdout.write(result.stdout);
else writeFileSync(join(root, 'schema/config.schema.json'), result.stdout);
