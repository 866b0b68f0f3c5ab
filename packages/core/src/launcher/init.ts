/**
 * Where the native executables are: the launcher `sandboxctl-init` from
 * `$SANDBOXCTL_INIT`, the OCI runtime `sandboxctl-oci` from `$SANDBOXCTL_OCI`,
 * else a source build or the prebuilt platform package
 * (`@sandboxctl/native/init-path`), checked to be an executable file before
 * anything is spawned.
 */

import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { bwrapPath, initPath, ociPath } from '@sandboxctl/native/init-path';
import { SandboxError, type ErrorCode } from '../errors';
import { missingNativeHint } from '../install-hint';

/** How to get a launcher, for `E_INIT_MISSING`. */
export function missingInitHint(): string {
  return `${missingNativeHint()}; or point SANDBOXCTL_INIT at a sandboxctl-init executable`;
}

/** How to get the OCI runtime, for `E_OCI_MISSING`. */
export function missingOciHint(): string {
  return `${missingNativeHint()}; or point SANDBOXCTL_OCI at a sandboxctl-oci executable`;
}

function checkExecutable(path: string, name: string, code: ErrorCode, hint: string): string {
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    throw new SandboxError(code, `${name} not found at ${path}`, { hint });
  }
  if (!isFile) throw new SandboxError(code, `${path} is not a file`, { hint });
  try {
    accessSync(path, fsConstants.X_OK);
  } catch {
    throw new SandboxError(code, `${path} is not executable`, { hint: `chmod +x ${path}` });
  }
  return path;
}

/** Absolute path of the launcher; throws `E_INIT_MISSING` unless it is an executable file. */
export function resolveInit(): string {
  return checkExecutable(resolve(initPath()), 'sandboxctl-init', 'E_INIT_MISSING', missingInitHint());
}

/** Absolute path of the OCI runtime; throws `E_OCI_MISSING` unless it is an executable file. */
export function resolveOci(): string {
  return checkExecutable(resolve(ociPath()), 'sandboxctl-oci', 'E_OCI_MISSING', missingOciHint());
}

/** Absolute path of the bubblewrap drop-in; throws `E_BWRAP_MISSING` unless it is an executable file. */
export function resolveBwrap(): string {
  return checkExecutable(resolve(bwrapPath()), 'sandboxctl-bwrap', 'E_BWRAP_MISSING', `${missingNativeHint()}; or point SANDBOXCTL_BWRAP at a sandboxctl-bwrap executable`);
}
