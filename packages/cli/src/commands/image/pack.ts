/**
 * `sandboxctl image pack DIR OUT.sqfs [--force] [--compression C] [--json]`:
 * a directory into a SquashFS image (@sandboxctl/core's packImage).
 */

import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { packImage } from '@sandboxctl/core';
import type { SandboxctlContext } from '../../context';
import { clipanionOption } from '../../flags';
import { formatImage, progressLine } from './format';

export class ImagePackCommand extends Command<SandboxctlContext> {
  static override paths = [['image', 'pack']];
  static override usage = Command.Usage({
    description: 'pack a directory into a SquashFS image',
    details: `
      Writes OUT (named \`*.sqfs\` or \`*.squashfs\`) with a SquashFS writer built into sandboxctl (the backhand crate; no mksquashfs needed). No symlink is followed, and a mount point below DIR is kept as an empty directory. Modes, mtimes, symlinks, empty directories, FIFOs and device nodes are stored; owners are stored as root's (as \`mksquashfs -all-root\`), which \`run --image\` shows as yours.

      Two things the writer cannot store, said in the output when DIR has them: hard links become separate files that share their data (only the link count differs), and extended attributes are left out.

      An existing OUT is E_IMAGE_EXISTS unless --force.
    `,
    examples: [
      ['A root filesystem into an image', '$0 image pack ./rootfs ./app.sqfs'],
      ['Smaller and faster to read, with zstd', '$0 image pack ./rootfs ./app.sqfs --compression zstd'],
    ],
  });

  dir = Option.String({ name: 'dir' });
  out = Option.String({ name: 'out' });
  force = Option.Boolean('--force', false, { description: 'Replace OUT when it exists' });
  compression = clipanionOption('--compression', { validator: t.isEnum(['gzip', 'zstd', 'xz'] as const) }) as 'gzip' | 'zstd' | 'xz' | undefined;
  json = clipanionOption('--json', { description: 'Print what was made as JSON' }) as boolean;

  async execute(): Promise<number> {
    const progress = progressLine(this.context.stderr, this.json);
    let info;
    try {
      info = await packImage(this.dir, this.out, {
        force: this.force,
        ...(this.compression === undefined ? {} : { compression: this.compression }),
        ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
      });
    } finally {
      progress.done();
    }
    this.context.stdout.write(this.json ? `${JSON.stringify(info, null, 2)}\n` : formatImage(info));
    return 0;
  }
}
