#!/usr/bin/env node
// Writes packages/cli/dist/cli.js: the `sandboxctl` executable's code in one
// file (the CLI, @sandboxctl/core, clipanion, typanion), bundled by esbuild
// from the CommonJS that `tsc -b` built. One file is one read and one
// compile instead of some 150 module resolutions and reads: most of what the
// CLI spent before its first line ran (bench/README.md, "CLI start-up").
// The native addon stays outside (`@sandboxctl/native`: a .node file, loaded
// only by the commands that need it). The library (`require('sandboxctl')`)
// is still dist/index.js: users get the modules, the executable the bundle.

import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'packages/cli');

await build({
  entryPoints: [join(cli, 'dist/main.js')],
  outfile: join(cli, 'dist/cli.js'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['@sandboxctl/native', '@sandboxctl/core/package.json'],
  // Readable in a stack trace; minifying saved under a millisecond.
  minify: false,
  legalComments: 'inline',
  logLevel: 'warning',
});
