// Help names option values (`--bind SRC DEST`, never `#0 #1`) and is
// coloured only for a terminal; a reader that goes away ends the CLI
// quietly.

import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { colorDepthOf, nameOperands } from '../src/help';
import { BROKEN_PIPE_STATUS, createCli, exitQuietlyOnBrokenPipe, main } from '../src/main';
import { runCli } from './helpers';

jest.mock('@sandboxctl/native', () => jest.requireActual<typeof import('../../core/test/support/native-mock')>('../../core/test/support/native-mock').native);

const ESC = '\u001b[';

async function captured(args: string[], env: Record<string, string | undefined> = {}): Promise<string> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      text += chunk.toString();
      cb();
    },
  });
  try {
    // No colorDepth given: main decides from the stream, as the executable does.
    await main(args, { stdout: sink, stderr: sink });
  } finally {
    process.env = saved;
  }
  return text;
}

describe('operand names', () => {
  it('replace #N in every command help and in the overview, keeping the columns aligned', async () => {
    const paths = createCli()
      .definitions()
      .map((d) => d.path.split(' ').slice(1));
    expect(paths.length).toBeGreaterThan(5);
    for (const path of [[], ...paths]) {
      const help = (await runCli([...path, '--help'])).stdout;
      expect([path.join(' '), /#\d/.test(help)]).toEqual([path.join(' '), false]);
    }
    const run = (await runCli(['run', '--help'])).stdout;
    expect(run).toMatch(/^ {2}--bind SRC DEST +Bind host path SRC read-write on DEST$/m);
    expect(run).toMatch(/^ {2}--overlay RWSRC WORKDIR DEST +Overlay on DEST/m);
    expect(run).toMatch(/^ {2}--setenv VAR VALUE +Set environment variable VAR to VALUE$/m);
    const columns = run.split('\n').filter((l) => /^ {2}--/.test(l)).map((l) => /^ {2}--\S+(?: [A-Z0-9]+)* +/.exec(l)![0].length);
    expect(new Set(columns).size).toBe(1);
    expect((await runCli(['trust', '--help'])).stdout).toMatch(/--remove FILE/);
  });

  it('leave unknown flags and mismatched counts alone', () => {
    expect(nameOperands('[--bind #0 #1] [--nope #0] [--proc #0 #1]')).toBe('[--bind SRC DEST] [--nope #0] [--proc #0 #1]');
  });
});

describe('colour', () => {
  it('is off when stdout is not a terminal, unless FORCE_COLOR asks', async () => {
    expect(await captured(['run', '--help'], { FORCE_COLOR: undefined, NO_COLOR: undefined })).not.toContain(ESC);
    expect(await captured(['--help'], { FORCE_COLOR: undefined })).not.toContain(ESC);
    expect(await captured(['run', '--help'], { FORCE_COLOR: '1' })).toContain(ESC);
  });

  it('follows the terminal, NO_COLOR and FORCE_COLOR as Node does', () => {
    const tty = { isTTY: true, getColorDepth: () => 8 };
    expect(colorDepthOf(tty, {})).toBe(8);
    expect(colorDepthOf(tty, { NO_COLOR: '1' })).toBe(1);
    expect(colorDepthOf(tty, { FORCE_COLOR: '0' })).toBe(1);
    expect(colorDepthOf({ isTTY: false }, {})).toBe(1);
    expect(colorDepthOf(undefined, { FORCE_COLOR: '' })).toBe(4);
    expect(colorDepthOf(undefined, { FORCE_COLOR: '3', NO_COLOR: '1' })).toBe(24);
  });
});

describe('a broken pipe', () => {
  function fakeProcess() {
    const stdout = new EventEmitter();
    const stderr = new EventEmitter();
    const exit = jest.fn();
    exitQuietlyOnBrokenPipe({ stdout, stderr, exit } as unknown as NodeJS.Process);
    return { stdout, stderr, exit };
  }

  it('on stdout or stderr exits with 141 and prints nothing', () => {
    const p = fakeProcess();
    p.stdout.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    expect(p.exit).toHaveBeenCalledWith(BROKEN_PIPE_STATUS);
    const q = fakeProcess();
    q.stderr.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    expect(q.exit).toHaveBeenCalledWith(141);
  });

  it('leaves other write errors loud', () => {
    const p = fakeProcess();
    expect(() => p.stdout.emit('error', Object.assign(new Error('write EIO'), { code: 'EIO' }))).toThrow('write EIO');
    expect(p.exit).not.toHaveBeenCalled();
  });
});
