/**
 * For tests of input that must be refused before anything is spawned:
 * around each test, `SANDBOXCTL_INIT` names a launcher that does not exist
 * in a fresh temporary directory, so reaching it would be `E_INIT_MISSING`.
 */

import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NoLauncher {
  /** This test's temporary directory. */
  dir(): string;
  /** An fd number that is certainly closed: opened, then closed. */
  closedFd(): number;
}

/** Registers the `beforeEach`/`afterEach` pair; call at the top of a test file. */
export function withoutLauncher(prefix: string): NoLauncher {
  const savedInit = process.env.SANDBOXCTL_INIT;
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    process.env.SANDBOXCTL_INIT = join(dir, 'no-launcher');
  });
  afterEach(() => {
    if (savedInit === undefined) delete process.env.SANDBOXCTL_INIT;
    else process.env.SANDBOXCTL_INIT = savedInit;
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir: () => dir,
    closedFd: () => {
      const fd = openSync(dir, 'r');
      closeSync(fd);
      return fd;
    },
  };
}
