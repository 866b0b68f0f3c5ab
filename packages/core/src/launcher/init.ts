/**
 * Where the launcher is: `sandboxctl-init` from `$SANDBOXCTL_INIT`, a source
 * build or the prebuilt platform package (`@sandboxctl/native/init-path`),
 * checked to be an executable file before anything is spawned.
 */

import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { initPath } from '@sandboxctl/native/init-path';
import { SandboxError } from '../errors';
import { missingNativeHint } from '../install-hint';

/** How to get a launcher, for `E_INIT_MISSING`. */
export function missingInitHint(): string {
  return `${missingNativeHint()}; or point SANDBOXCTL_INIT at a sandboxctl-init executable`;
}

/** Absolute path of the launcher; throws `E_INIT_MISSING` unless it is an executable file. */
export function resolveInit(): string {
  const path = resolve(initPath());
  const hint = missingInitHint();
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    throw new SandboxError('E_INIT_MISSING', `sandboxctl-init not found at ${path}`, { hint });
  }
  if (!isFile) throw new SandboxError('E_INIT_MISSING', `${path} is not a file`, { hint });
  try {
    accessSync(path, fsConstants.X_OK);
  } catch {
    throw new SandboxError('E_INIT_MISSING', `${path} is not executable`, { hint: `chmod +x ${path}` });
  }
  return path;
}
