// --image, --write, --write-fake and --write-fake-size: the flag table's
// image rows, as `plan` prints and `explain` tells them, and their usage errors.

import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planOf, runCli, usageError } from './helpers';
import { resetNative } from '../../core/test/support/native-mock';

jest.mock('@sandboxctl/native', () => jest.requireActual<typeof import('../../core/test/support/native-mock')>('../../core/test/support/native-mock').native);

beforeEach(resetNative);

describe('--image', () => {
  let cwd: string;
  let dir: string;
  beforeEach(() => {
    cwd = process.cwd();
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'sandboxctl-image-flags-')));
    process.chdir(dir);
  });
  afterEach(() => {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  });

  it('sets a read-only root, relative to the current directory, under the op flags in argv order', async () => {
    const built = await planOf(['--no-config', '--proc', '/proc', '--image', './app.sqfs', '--dev', '/dev', '--tmpfs', '/tmp', '--', '/bin/sh', '-c', 'id']);
    expect(built.root).toEqual({ image: join(dir, 'app.sqfs'), write: 'readOnly' });
    // The image preset's ops first, then the flags' in argv order.
    expect(built.ops!.slice(-3)).toEqual([
      { kind: 'proc', target: '/proc' },
      { kind: 'dev', target: '/dev' },
      { kind: 'tmpfs', target: '/tmp' },
    ]);
    expect(built.argv).toEqual(['/bin/sh', '-c', 'id']);
  });

  it('--write makes it writable, --write-fake fake with an optional --write-fake-size', async () => {
    expect((await planOf(['--no-config', '--image', '/srv/rootfs', '--write', 'true'])).root).toEqual({ image: '/srv/rootfs', write: 'writable' });
    expect((await planOf(['--no-config', '--image', '/srv/rootfs', '--write-fake', 'true'])).root).toEqual({ image: '/srv/rootfs', write: 'fake' });
    expect((await planOf(['--no-config', '--write-fake-size', '512m', '--write-fake', '--image=/srv/rootfs', 'true'])).root).toEqual({ image: '/srv/rootfs', write: 'fake', fakeSize: '512m' });
  });

  it('leaves the root alone without it', async () => {
    expect((await planOf(['--no-config', 'true'])).root).toBeUndefined();
  });

  it('is named by explain', async () => {
    const result = await runCli(['explain', '--no-config', '--image', '/srv/app.sqfs', '--write-fake', '--write-fake-size', '1G', '--proc', '/proc', 'true']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('root:      image /srv/app.sqfs, writable in memory (at most 1G): writes are gone after the run');
    const readOnly = await runCli(['explain', '--no-config', '--image', '/srv/rootfs', 'true']);
    expect(readOnly.stdout).toContain('root:      image /srv/rootfs, read-only');
    expect(readOnly.stdout).toContain('(nothing else of the host but the image)\n');
    const plain = await runCli(['explain', '--no-config', 'true']);
    expect(plain.stdout).not.toContain('root:');
    expect(plain.stdout).toContain('visible, read-only:\n  nothing of the host\n');
    const json = await runCli(['explain', '--json', '--no-config', '--image', '/srv/rootfs', '--write', 'true']);
    expect(JSON.parse(json.stdout)).toMatchObject({ root: 'image /srv/rootfs, writable: writes change the image' });
  });

  it('usage errors: the write flags without it or together, a bad size, a preset', async () => {
    expect(await usageError(['plan', '--write', 'true'])).toEqual({ message: '--write only applies to --image', hint: 'add --image PATH' });
    expect((await usageError(['plan', '--write-fake', '--write-fake-size', '1G', 'true'])).message).toBe('--write-fake, --write-fake-size only apply to --image');
    expect((await usageError(['plan', '--image', '/a', '--write', '--write-fake', 'true'])).message).toMatch(/mutually exclusive properties --write and --write-fake$/);
    expect((await usageError(['plan', '--image', '/a', '--write-fake-size', '1G', 'true'])).message).toBe('--write-fake-size applies only to --write-fake');
    expect((await usageError(['plan', '--image', '/a', '--write', '--write-fake-size', '1G', 'true'])).message).toBe('--write-fake-size applies only to --write-fake');
    expect((await usageError(['plan', '--image', '/a', '--write-fake', '--write-fake-size', '1 GB', 'true'])).message).toMatch(/^invalid value for --write-fake-size/);
    expect((await usageError(['run', '--image', '/a', '--preset', 'strict', 'true'])).message).toMatch(/^--image does not combine with --preset strict/);
  });

  it('appears in run --help with its value name', async () => {
    const help = await runCli(['run', '--help']);
    expect(help.stdout).toMatch(/--image PATH/);
    expect(help.stdout).toMatch(/--write-fake-size SIZE/);
  });
});
