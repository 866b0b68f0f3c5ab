/** `sandboxctl cp SRC DEST`: copy between the host and a live sandbox, by docker cp's rules. */

import { Command, Option } from 'clipanion';
import { copy } from '@sandboxctl/core';
import type { SandboxctlContext } from '../context';

export class CpCommand extends Command<SandboxctlContext> {
  static override paths = [['cp']];
  static override usage = Command.Usage({
    description: 'copy files between the host and a running sandbox',
    details: `
      One of SRC and DEST is \`NAME:PATH\`, a path inside the live sandbox NAME (its own root: what only exists inside, a tmpfs or an overlay, is there too). The rules are docker cp's: a directory is copied with its name into an existing directory, or as DEST when DEST does not exist; \`SRC/.\` copies a directory's contents; a file onto an existing file replaces it; a directory onto a file is E_NOT_DIR; DEST ending in \`/\` must be an existing directory; symlinks are copied as links (SRC ending in \`/\` follows it). What lands inside belongs to the sandbox's user. A read-only target is E_READ_ONLY, a missing source E_NOT_FOUND. On the host no symlink is followed below DEST (E_CP_UNSAFE). The copy streams: nothing sits in memory.
    `,
    examples: [
      ['Copy fixtures in', '$0 cp ./fixtures web:/tmp/fixtures'],
      ['Copy a report out to the current directory', '$0 cp web:/tmp/report.xml .'],
      ['Copy the contents of a directory', '$0 cp ./dist/. web:/srv'],
    ],
  });

  src = Option.String({ required: true });
  dest = Option.String({ required: true });

  async execute(): Promise<number> {
    await copy(this.src, this.dest);
    return 0;
  }
}
