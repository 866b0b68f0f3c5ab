// The TypeScript and JavaScript linter: `npm run lint`, run first by
// scripts/test.sh (`npm test`, and so by CI). eslint's recommended rules for
// every file; typescript-eslint's recommended-type-checked for the
// TypeScript, with type information from tsconfig.eslint.json. Generated
// files are not linted: `npm run gen` / `npm run build` rewrite them, and
// .gitattributes marks them linguist-generated.

import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      'target/**',
      // generated (see .gitattributes)
      'packages/core/src/plan-types.ts',
      'packages/core/src/report-types.ts',
      'packages/core/src/error-codes.ts',
      'packages/core/src/live/view-types.ts',
      'packages/native/index.js',
      'packages/native/index.d.ts',
    ],
  },
  {
    files: ['**/*.{js,mjs,cjs}'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { project: './tsconfig.eslint.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // tsc's convention: a leading `_` names a binding kept on purpose
      // (a parameter a signature needs, a key destructured to leave it out).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
  {
    // clipanion's Command.execute returns a Promise: a command whose work is
    // synchronous is still written `async execute()`.
    files: ['packages/cli/src/commands/**/*.ts'],
    rules: { '@typescript-eslint/require-await': 'off' },
  },
  {
    files: ['**/*.d.ts'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    // Tests read `any` on purpose: JSON.parse of the CLI's output, plans
    // malformed on purpose to prove they are refused, and expect() on the
    // result. The assertions are the type checks there, so the no-unsafe-*
    // rules that track `any` through a program apply to the sources only;
    // the promise rules (floating, misused, await-thenable) stay on.
    files: ['packages/*/test/**/*.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
