#!/usr/bin/env node
'use strict';

// The CLI in one file (scripts/bundle-cli.mjs, built by `npm run build`).
const cli = require('../dist/cli.js');

cli.exitQuietlyOnBrokenPipe();
cli
  .main(process.argv.slice(2))
  .then((status) => {
    process.exitCode = status;
  });
