/**
 * Image fixtures, built per test run from Debian's busybox-static and
 * squashfs-tools (installed by .ci/run): a directory image, a SquashFS of
 * it made by mksquashfs, one with a corrupt superblock and one file with
 * another magic. Each probe fails with what to install, never skips.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers';

export const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p)) ?? '/bin/busybox';
export const MKSQUASHFS = ['/usr/bin/mksquashfs', '/usr/sbin/mksquashfs'].find((p) => existsSync(p)) ?? 'mksquashfs';

/** Fail with the install line when a component is missing. */
export function requireImageTools(): void {
  const missing: string[] = [];
  if (!existsSync(BUSYBOX)) missing.push('busybox-static');
  if (spawnSync(MKSQUASHFS, ['-version']).error) missing.push('squashfs-tools');
  if (missing.length > 0) throw new Error(`image tests need: apt-get install ${missing.join(' ')}`);
  try {
    execFileSync('sh', ['-c', 'exec 3<>/dev/fuse']);
  } catch {
    throw new Error('/dev/fuse is not open to this user: chmod 0666 /dev/fuse (what udev does on Debian), as .ci/run does');
  }
}

export interface Images {
  base: string;
  dir: string;
  sqfs: string;
  corrupt: string;
  otherMagic: string;
}

/** A busybox root: every applet linked, passwd and group, the usual mount points. */
export function busyboxRoot(dir: string): void {
  for (const d of ['bin', 'etc', 'proc', 'dev', 'sys', 'tmp', 'home', 'mnt', 'out', 'root']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(dir, 'etc/image-marker'), 'inside the image\n');
}

/**
 * A SquashFS of `src`, its files stored as root's (`-all-root`), as images
 * usually are and as `image pack` will store them: the sandbox shows owner 0
 * as its user.
 */
export function mksquashfs(src: string, out: string, extra: string[] = []): void {
  execFileSync(MKSQUASHFS, [src, out, '-noappend', '-quiet', '-no-progress', '-all-root', ...extra], { stdio: 'ignore' });
}

export function buildImages(): Images {
  const base = tempDir('sbx-img-');
  const dir = join(base, 'rootfs');
  busyboxRoot(dir);
  const sqfs = join(base, 'app.sqfs');
  mksquashfs(dir, sqfs);
  const corrupt = join(base, 'corrupt.sqfs');
  const bytes = readFileSync(sqfs);
  bytes.writeUInt32LE(0, 4); // inode count 0
  writeFileSync(corrupt, bytes);
  const otherMagic = join(base, 'notes.txt');
  writeFileSync(otherMagic, 'You are not an image\n');
  return { base, dir, sqfs, corrupt, otherMagic };
}

/** A plan running `script` in `image` with proc, dev and tmp from the ops. */
export function imagePlan(image: string, script: string, root: object = {}, ops: object[] = []): object {
  return {
    argv: ['/bin/sh', '-c', script],
    root: { image, ...root },
    ops: [{ kind: 'proc', target: '/proc' }, { kind: 'dev', target: '/dev' }, { kind: 'tmpfs', target: '/tmp' }, ...ops],
    env: { inherit: false, set: { PATH: '/bin', HOME: '/' } },
  };
}

/** The line of mountinfo for the root. */
export const ROOT_LINE = `awk '$5 == "/"' /proc/self/mountinfo`;

/**
 * The suite's images: built once before its tests (after the given probes
 * and the image tools' own), removed after them. Read `images()` inside a test.
 */
export function useImages(...probes: Array<() => void>): () => Images {
  let img: Images | undefined;
  beforeAll(() => {
    for (const probe of probes) probe();
    requireImageTools();
    img = buildImages();
  });
  afterAll(() => img && rmSync(img.base, { recursive: true, force: true }));
  return () => {
    if (!img) throw new Error('the images were not built');
    return img;
  };
}

/**
 * Temporary directories of one suite, removed after it: `const scratchDir =
 * useScratchDirs()` at the top of the file, then `scratchDir(prefix)`.
 */
export function useScratchDirs(): (prefix: string) => string {
  const made: string[] = [];
  afterAll(() => {
    for (const d of made) {
      // An image may hold directories without write permission (0555).
      spawnSync('chmod', ['-R', 'u+rwx', d]);
      rmSync(d, { recursive: true, force: true });
    }
  });
  return (prefix) => {
    const d = tempDir(prefix);
    made.push(d);
    return d;
  };
}
