'use strict';
// Where the `sandboxctl-init` launcher lives: $SANDBOXCTL_INIT when set (tests,
// system packages), else beside this file, where scripts/build-native.mjs puts it.
const path = require('node:path');

function initPath() {
  return process.env.SANDBOXCTL_INIT || path.join(__dirname, 'sandboxctl-init');
}

module.exports = { initPath };
