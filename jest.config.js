// Three projects: `unit` (packages/*/test: no kernel features, no sandboxes),
// `sandbox` (test/sandbox: real sandboxes through the built launcher) and
// `oci` (test/oci: the OCI runtime with podman, containerd, runtime-tools). All
// compile the TypeScript sources directly (ts-jest, type-checked), so none
// needs `tsc -b` to have run; the packages resolve to their src/ here.

const path = require('node:path');
const base = require('./tsconfig.base.json').compilerOptions;

const sources = {
  '@sandboxctl/core': path.join(__dirname, 'packages/core/src/index.ts'),
  sandboxctl: path.join(__dirname, 'packages/cli/src/index.ts'),
};

const transform = {
  '^.+\\.ts$': [
    'ts-jest',
    {
      tsconfig: {
        ...base,
        // ts-jest type-checks only with a non-hybrid module kind; the emitted
        // CommonJS is the same as tsc's for these sources.
        module: 'commonjs',
        moduleResolution: 'node10',
        types: ['node', 'jest'],
        noUnusedLocals: false,
        noUnusedParameters: false,
        paths: Object.fromEntries(Object.entries(sources).map(([name, file]) => [name, [file]])),
      },
    },
  ],
};

const moduleNameMapper = Object.fromEntries(
  Object.entries(sources).map(([name, file]) => [`^${name.replace('/', '\\/')}$`, file]),
);

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      displayName: 'unit',
      rootDir: __dirname,
      testEnvironment: 'node',
      testMatch: ['<rootDir>/packages/*/test/**/*.test.ts'],
      transform,
      moduleNameMapper,
    },
    {
      displayName: 'sandbox',
      rootDir: __dirname,
      testEnvironment: 'node',
      testMatch: ['<rootDir>/test/sandbox/**/*.test.ts'],
      transform,
      moduleNameMapper,
    },
    {
      // The OCI runtime with real engines (test/oci), root only: run once,
      // by scripts/test.sh, after the sandbox suites.
      displayName: 'oci',
      rootDir: __dirname,
      testEnvironment: 'node',
      testMatch: ['<rootDir>/test/oci/**/*.test.ts'],
      transform,
      moduleNameMapper,
    },
  ],
  // Real sandboxes take a while to start under load. jest 29 reads the
  // timeout from the global config only, so it covers both projects.
  testTimeout: 30000,
};
