/**
 * `sandboxctl image inspect IMAGE [--json]`: an image's format, size,
 * entries and the defaults an import stored (@sandboxctl/core's inspectImage).
 */

import { Command, Option } from 'clipanion';
import { inspectImage } from '@sandboxctl/core';
import type { SandboxctlContext } from '../../context';
import { clipanionOption } from '../../flags';
import { formatImage } from './format';

export class ImageInspectCommand extends Command<SandboxctlContext> {
  static override paths = [['image', 'inspect']];
  static override usage = Command.Usage({
    description: 'show what an image is and the defaults it keeps',
    details: `
      IMAGE is a directory or a SquashFS file, told apart as \`run --image\` does (anything else is E_IMAGE_INVALID naming what was found). Prints its format (and a SquashFS image's compression), its size, how many entries it holds, and what \`image import\` kept of its config: Env, Entrypoint, Cmd, WorkingDir, User. Nothing is mounted.
    `,
    examples: [
      ['An image', '$0 image inspect ./app.sqfs'],
      ['As JSON, for tools', '$0 image inspect ./rootfs --json'],
    ],
  });

  image = Option.String({ name: 'image' });
  json = clipanionOption('--json', { description: 'Print it as JSON' }) as boolean;

  async execute(): Promise<number> {
    const info = await inspectImage(this.image);
    this.context.stdout.write(this.json ? `${JSON.stringify(info, null, 2)}\n` : formatImage(info));
    return 0;
  }
}
