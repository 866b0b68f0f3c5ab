/**
 * `sandboxctl`: the command-line interface, and the library re-exported so
 * `require('sandboxctl').run(...)` works.
 */

export * from '@sandboxctl/core';
export { createCli, main } from './main';
export { exitStatus } from './commands/run';
