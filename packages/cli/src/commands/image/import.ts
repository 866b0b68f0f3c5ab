/**
 * `sandboxctl image import SOURCE DEST [--force] [--platform P] [--json]`:
 * an OCI layout, OCI archive or docker save archive into a directory or
 * SquashFS image (@sandboxctl/core's importImage).
 */

import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { importImage } from '@sandboxctl/core';
import type { SandboxctlContext } from '../../context';
import { clipanionOption } from '../../flags';
import { formatImage, progressLine } from './format';

export class ImageImportCommand extends Command<SandboxctlContext> {
  static override paths = [['image', 'import']];
  static override usage = Command.Usage({
    description: 'turn an OCI or docker image archive into a directory or SquashFS image',
    details: `
      SOURCE is an OCI image layout directory (\`oci-layout\`, \`index.json\`), an OCI archive (\`podman save --format oci-archive\`, \`skopeo copy … oci-archive:\`) or a \`docker save\` archive (\`podman save --format docker-archive\`). DEST is a new directory, or a SquashFS file when it ends in \`.sqfs\` or \`.squashfs\`.

      The layers are applied in order (gzip, zstd or uncompressed), with their whiteouts and opaque directories; each blob is checked against its digest. No entry is ever written outside DEST: absolute names, \`..\`, a parent that is a symlink (one an earlier layer planted too), a hard link to outside and a whiteout of \`..\` are refused with E_IMAGE_UNSAFE naming the layer and the entry, and nothing is left behind. Device nodes are not made (counted); files are yours, without setuid bits.

      The image config's Env, Entrypoint, Cmd, WorkingDir and User are kept in the image: Env in \`/ch/environment\` (as ch-image does), all of it in \`/.sandboxctl/image.json\`. \`sandboxctl run --image DEST\` with no command runs the entrypoint and cmd in the working directory.

      An existing DEST is E_IMAGE_EXISTS unless --force. Registries are not contacted: pull with podman, skopeo or docker, then save.
    `,
    examples: [
      ['A podman image into a SquashFS image', 'podman save --format oci-archive -o app.tar app && $0 image import app.tar app.sqfs'],
      ['A docker save archive into a directory', 'docker save -o app.tar app && $0 image import app.tar ./rootfs'],
      ['The arm64 image of a multi-platform layout', '$0 image import ./layout ./rootfs --platform linux/arm64'],
    ],
  });

  source = Option.String({ name: 'source' });
  dest = Option.String({ name: 'dest' });
  force = Option.Boolean('--force', false, { description: 'Replace DEST when it exists' });
  platform = clipanionOption('--platform', { validator: t.cascade(t.isString(), t.matchesRegExp(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/)) }) as string | undefined;
  json = clipanionOption('--json', { description: 'Print what was made as JSON' }) as boolean;

  async execute(): Promise<number> {
    const progress = progressLine(this.context.stderr, this.json);
    let info;
    try {
      info = await importImage(this.source, this.dest, {
        force: this.force,
        ...(this.platform === undefined ? {} : { platform: this.platform }),
        ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
      });
    } finally {
      progress.done();
    }
    this.context.stdout.write(this.json ? `${JSON.stringify(info, null, 2)}\n` : formatImage(info));
    return 0;
  }
}
