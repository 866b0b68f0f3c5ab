/**
 * The caller's home directory as the password database has it, symlinks
 * resolved: never `$HOME`, which any parent process (or a sandboxed program
 * starting the next run) can set. The presets, the trust store and `~` in
 * config files all use this one answer.
 */

import { realpathSync } from 'node:fs';
import { userInfo } from 'node:os';
import { isAbsolute } from 'node:path';

/** The home of this process's uid in the password database, or undefined when it has none. */
export function passwdHome(): string | undefined {
  let home: string;
  try {
    home = userInfo().homedir;
  } catch {
    return undefined;
  }
  if (!home || !isAbsolute(home)) return undefined;
  try {
    return realpathSync(home);
  } catch {
    return home;
  }
}
