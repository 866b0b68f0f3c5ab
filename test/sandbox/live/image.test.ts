/**
 * A live sandbox of an image (`--image`): programs `exec` starts get the
 * environment the first program got, ch-run's steps included (the image's
 * /ch/environment, --set-env, --unset-env), not the launcher's half of it.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireKernel, tempDir } from '../helpers';
import { busyboxRoot, requireImageTools } from '../image/fixtures';
import { lcli, privateRuntimeDir, stopAll } from './live-helpers';

let base = '';
let image = '';
beforeAll(() => {
  requireKernel();
  requireImageTools();
  privateRuntimeDir();
  base = tempDir('sbx-live-image-');
  image = join(base, 'rootfs');
  busyboxRoot(image);
  mkdirSync(join(image, 'ch'));
  writeFileSync(join(image, 'ch/environment'), "IMG_VAR='from image'\nIMG_PATH=$PATH:/opt/app\n");
});
afterEach(stopAll);
afterAll(() => base && rmSync(base, { recursive: true, force: true }));

test("exec in an image sandbox gets ch-run's environment steps like the first program", async () => {
  process.env.HOST_ONLY = 'x';
  const flags = ['--no-config', '--image', image, '--set-env', 'LATER=$IMG_VAR', '--unset-env', 'HOST_ONLY'];
  const print = 'echo "$IMG_VAR|$IMG_PATH|$LATER|[$HOST_ONLY]|$SANDBOXCTL_RUNNING"';
  const first = await lcli(['run', ...flags, '--', '/bin/sh', '-c', print]);
  expect([first.stderr, first.code]).toEqual(['', 0]);
  expect(first.stdout).toMatch(/^from image\|.*:\/opt\/app\|from image\|\[\]\|1\n$/);
  const started = await lcli(['run', '--name', 'img', '--detach', ...flags, '--', '/bin/sleep', '1000']);
  expect([started.code, started.stdout, started.stderr]).toEqual([0, 'img\n', '']);
  const x = await lcli(['exec', 'img', '--', '/bin/sh', '-c', print]);
  expect([x.stderr, x.code]).toEqual(['', 0]);
  expect(x.stdout).toBe(first.stdout);
  // -e still changes it, after the steps
  const y = await lcli(['exec', '-e', 'IMG_VAR=mine', 'img', '--', '/bin/sh', '-c', 'echo "$IMG_VAR|$LATER"']);
  expect(y.stdout).toBe('mine|from image\n');
});
