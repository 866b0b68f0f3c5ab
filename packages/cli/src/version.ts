/** The CLI package's version, read at run time so it cannot drift from package.json. */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const VERSION: string = (
  JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }
).version;
