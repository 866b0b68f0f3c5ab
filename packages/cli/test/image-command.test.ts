// `sandboxctl image import|pack|inspect`: mistakes on the command line are
// usage errors (exit 125, E_USAGE, nothing on stdout) before anything runs;
// the native side's answers become the CLI's output or its error. The
// commands against real archives and images are in test/sandbox/image/.

import { parseImageAnswer } from '@sandboxctl/core';
import { progressLine } from '../src/commands/image/format';
import { runCli, usageError } from './helpers';

describe('usage errors', () => {
  it.each([
    [['image', 'import'], 'not enough positional arguments'],
    [['image', 'import', 'a.tar'], 'not enough positional arguments'],
    [['image', 'import', 'a.tar', 'b', 'c'], 'extraneous positional argument ("c")'],
    [['image', 'pack', 'dir'], 'not enough positional arguments'],
    [['image', 'inspect'], 'not enough positional arguments'],
    [['image', 'pack', 'dir', 'out.sqfs', '--compression', 'lzo'], 'invalid value for --compression: expected one of "gzip", "zstd", or "xz" (got "lzo")'],
    [['image', 'import', 'a.tar', 'out', '--platform', 'amd64'], 'invalid value for --platform: expected to match the pattern /^[a-z0-9]+\\/[a-z0-9_]+(\\/[a-z0-9]+)?$/ (got "amd64")'],
    [['image', 'import', 'a.tar', 'out', '--no-such'], 'unsupported option name ("--no-such")'],
  ])('%j', async (args, message) => {
    expect((await usageError(args)).message).toBe(message);
  });

  it('lists the image commands in the overview', async () => {
    const help = (await runCli(['--help'])).stdout;
    expect(help).toMatch(/sandboxctl image import \[--force\] \[--platform OS\/ARCH\] \[--json\] <source> <dest>/);
    expect(help).toMatch(/sandboxctl image pack \[--force\] \[--compression ALGO\] \[--json\] <dir> <out>/);
    expect(help).toMatch(/sandboxctl image inspect \[--json\] <image>/);
  });
});

describe('the native answer', () => {
  it('an image line is the result, without its event', () => {
    const line = JSON.stringify({ event: 'image', path: '/x.sqfs', format: 'squashfs', bytes: 4096, files: 3 });
    expect(parseImageAnswer(`${line}\n`, 0, '')).toEqual({ path: '/x.sqfs', format: 'squashfs', bytes: 4096, files: 3 });
  });

  it('an error line is a SandboxError with its code, message and hint', () => {
    const line = JSON.stringify({ event: 'error', code: 'E_IMAGE_UNSAFE', message: 'layer 1 (sha256:ab): entry ../x escapes the target: has a .. component' });
    expect(() => parseImageAnswer(line, 125, '')).toThrow(expect.objectContaining({ code: 'E_IMAGE_UNSAFE', message: expect.stringContaining('entry ../x') }));
    const exists = JSON.stringify({ event: 'error', code: 'E_IMAGE_EXISTS', message: '/o exists', hint: 'pass --force to replace it' });
    expect(() => parseImageAnswer(exists, 125, '')).toThrow(expect.objectContaining({ code: 'E_IMAGE_EXISTS', hint: 'pass --force to replace it' }));
  });

  it('no answer (a crash) is E_INTERNAL with the last stderr line', () => {
    expect(() => parseImageAnswer('', 134, 'thread main panicked\nabort\n')).toThrow(expect.objectContaining({ code: 'E_INTERNAL', message: 'sandboxctl-init image ended with status 134 and no answer: abort' }));
    expect(() => parseImageAnswer('{"event":"image"', 0, '')).toThrow(expect.objectContaining({ code: 'E_INTERNAL' }));
  });
});

describe('progress on a terminal', () => {
  function tty(isTTY: boolean): { stream: NodeJS.WritableStream; text: () => string } {
    let text = '';
    const stream = { isTTY, write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream;
    return { stream, text: () => text };
  }

  it('one line redrawn with files, bytes, rate and time left, wiped at the end', () => {
    const out = tty(true);
    let t = 0;
    const p = progressLine(out.stream, false, () => t);
    t = 2000;
    p.onProgress!({ phase: 'import', files: 10, bytes: 2 * 1024 * 1024, totalBytes: 6 * 1024 * 1024 });
    expect(out.text()).toBe('\rimport: 10 files, 2.0 MiB of 6.0 MiB, 1.0 MiB/s, 4 s left\x1b[K');
    p.done();
    expect(out.text().endsWith('\r\x1b[K')).toBe(true);
  });

  it('nothing in a pipe or with --json: the native side is not even asked', () => {
    expect(progressLine(tty(false).stream, false).onProgress).toBeUndefined();
    expect(progressLine(tty(true).stream, true).onProgress).toBeUndefined();
  });
});
