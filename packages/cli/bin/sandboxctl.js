#!/usr/bin/env node
'use strict';

const cli = require('../dist/main.js');

cli.exitQuietlyOnBrokenPipe();
cli
  .main(process.argv.slice(2))
  .then((status) => {
    process.exitCode = status;
  });
