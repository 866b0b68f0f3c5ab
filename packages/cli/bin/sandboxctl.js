#!/usr/bin/env node
'use strict';

// Node 22.1 and later keep the compiled bundle between runs (in the OS's
// temporary directory); Node 20 has no compile cache and skips this.
require('node:module').enableCompileCache?.();
// The CLI in one file (scripts/bundle-cli.mjs, built by `npm run build`).
const cli = require('../dist/cli.js');

cli.exitQuietlyOnBrokenPipe();
cli
  .main(process.argv.slice(2))
  .then((status) => {
    process.exitCode = status;
  });
