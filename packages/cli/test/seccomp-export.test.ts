// `sandboxctl seccomp export`: what reaches the compiler, what is written,
// and every refusal as a coded error. The addon is mocked; one test hands the
// mock the real compiler to pin the exported bytes.

import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../src/main';
import { native } from '../../core/test/support/native-mock';

const mockCompile = native.compileSeccomp;
jest.mock('@sandboxctl/native', () => jest.requireActual<typeof import('../../core/test/support/native-mock')>('../../core/test/support/native-mock').native);

interface Exported {
  status: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs the CLI, keeping stdout as bytes. */
async function exportWith(args: string[], opts: { tty?: boolean } = {}): Promise<Exported> {
  const out: Buffer[] = [];
  let err = '';
  const stdout = Object.assign(
    new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        out.push(Buffer.from(chunk));
        callback();
      },
    }),
    opts.tty ? { isTTY: true } : {},
  );
  const stderr = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      err += chunk.toString();
      callback();
    },
  });
  const status = await main(['seccomp', 'export', ...args], { stdout, stderr, colorDepth: 1 });
  return { status, stdout: Buffer.concat(out), stderr: err };
}

/** The coded failure: `sandboxctl: CODE: message` and the optional hint. */
function failure(r: Exported): { code: string; message: string; hint?: string } {
  expect(r.status).toBe(125);
  expect(r.stdout.length).toBe(0);
  const m = /^sandboxctl: (E_[A-Z_]+): (.*)\n(?:sandboxctl: hint: (.*)\n)?$/.exec(r.stderr);
  if (!m) throw new Error(`not a coded failure: ${JSON.stringify(r.stderr)}`);
  return { code: m[1]!, message: m[2]!, hint: m[3] };
}

const FILTER_A = Buffer.from([0x06, 0, 0, 0, 0, 0, 0xff, 0x7f]);
const FILTER_B = Buffer.from([0x06, 0, 0, 0, 1, 0, 0x05, 0x00]);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sandboxctl-seccomp-export-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeEach(() => {
  mockCompile.mockReset();
  mockCompile.mockReturnValue([FILTER_A]);
});

function planFile(name: string, plan: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof plan === 'string' ? plan : JSON.stringify(plan));
  return file;
}

describe('sandboxctl seccomp export', () => {
  it('writes the first filter of the strict preset by default, raw, and nothing else', async () => {
    const r = await exportWith([]);
    expect(r).toEqual({ status: 0, stdout: FILTER_A, stderr: '' });
    expect(mockCompile).toHaveBeenCalledWith(JSON.stringify({ preset: 'strict' }), false, undefined);
  });

  it('passes --preset, --multiarch, --keep-session and --arch to the compiler', async () => {
    await exportWith(['--preset', 'none', '--multiarch', '--keep-session', '--arch', 'aarch64']);
    expect(mockCompile).toHaveBeenCalledWith(JSON.stringify({ preset: 'none', multiarch: true }), true, 'aarch64');
  });

  it('--plan exports the seccomp section of a plan; a kept session adds deny-tty', async () => {
    const seccomp = { preset: 'none', rules: [{ syscall: 'getcwd', action: { errno: 13 } }] };
    await exportWith(['--plan', planFile('p1.json', { argv: ['true'], seccomp, newSession: false })]);
    expect(mockCompile).toHaveBeenCalledWith(JSON.stringify(seccomp), true, undefined);
    // no seccomp section: the plan's default (strict)
    await exportWith(['--plan', planFile('p2.json', { argv: ['true'] })]);
    expect(mockCompile).toHaveBeenLastCalledWith('{}', false, undefined);
  });

  it('--filter picks one of several stacked filters', async () => {
    mockCompile.mockReturnValue([FILTER_A, FILTER_B]);
    expect((await exportWith([])).stdout).toEqual(FILTER_A);
    expect((await exportWith(['--filter', '1'])).stdout).toEqual(FILTER_B);
    const f = failure(await exportWith(['--filter', '2']));
    expect(f).toEqual({ code: 'E_USAGE', message: '--filter 2: the policy has 2 filters, numbered from 0', hint: undefined });
  });

  it('refuses a policy without a filter, with a way out', async () => {
    mockCompile.mockReturnValue([]);
    const f = failure(await exportWith(['--preset', 'none']));
    expect(f.code).toBe('E_USAGE');
    expect(f.hint).toMatch(/--keep-session/);
  });

  it('refuses to write binary to a terminal', async () => {
    const f = failure(await exportWith([], { tty: true }));
    expect(f.code).toBe('E_USAGE');
    expect(f.hint).toMatch(/> filter\.bpf/);
  });

  it('reports compiler errors as E_PLAN_INVALID, naming the field', async () => {
    mockCompile.mockImplementation(() => {
      throw Object.assign(new Error('plan.seccomp.rules[2].syscall: unknown syscall "foo" on x86_64'), { code: 'E_PLAN_INVALID' });
    });
    const f = failure(await exportWith(['--plan', planFile('p3.json', { argv: ['true'], seccomp: {} })]));
    expect(f).toEqual({ code: 'E_PLAN_INVALID', message: 'plan.seccomp.rules[2].syscall: unknown syscall "foo" on x86_64', hint: undefined });
  });

  it('rejects bad flags and unreadable plans as usage errors', async () => {
    for (const args of [
      ['--preset', 'lax'],
      ['--arch', 'mips'],
      ['--filter', '-1'],
      ['--preset', 'strict', '--plan', 'x.json'],
      ['--plan', join(dir, 'missing.json')],
      ['--plan', planFile('bad.json', '{"argv":')],
      ['--plan', planFile('array.json', '[]')],
    ]) {
      const f = failure(await exportWith(args));
      expect([args, f.code]).toEqual([args, 'E_USAGE']);
    }
    expect(mockCompile).not.toHaveBeenCalled();
  });

  it('points `sandboxctl seccomp` alone at the help of its command', async () => {
    let err = '';
    const sink = new Writable({ write: (c, _e, cb) => ((err += c.toString()), cb()) });
    const status = await main(['seccomp'], { stdout: sink, stderr: sink, colorDepth: 1 });
    expect(status).toBe(125);
    expect(err).toMatch(/^sandboxctl: E_USAGE: .*\nsandboxctl: hint: see `sandboxctl seccomp export --help`\n$/);
  });

  it('--help explains the one-filter limit of bubblewrap', async () => {
    const r = await exportWith(['--help']);
    expect(r.status).toBe(0);
    const help = r.stdout.toString();
    expect(help).toMatch(/--seccomp FD/);
    expect(help).toMatch(/only the first is written/);
    expect(help).toMatch(/--add-seccomp-fd/);
  });

  // The real compiler: the exported bytes are the ones whose SHA-256 the
  // Rust tests pin (crates/sandbox-core/src/seccomp/tests.rs, golden_hashes).
  it('exports the pinned strict programs through the real addon', async () => {
    const real = jest.requireActual<typeof import('@sandboxctl/native')>('@sandboxctl/native');
    mockCompile.mockImplementation((json, keep, arch) => real.compileSeccomp(json, keep, arch));
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const x86 = await exportWith(['--arch', 'x86_64']);
    expect(x86.status).toBe(0);
    expect(x86.stdout.length % 8).toBe(0);
    expect(sha(x86.stdout)).toBe('0523d6e1edfb9d8f76da26ded252b3f8ec1976861af98be7a1118141f8a808d1');
    expect(sha((await exportWith(['--arch', 'aarch64'])).stdout)).toBe('ea4bec0e7133e1958b85c387e8d7e817cff16eaac05e998752c114a3bb052d20');
    expect(sha((await exportWith(['--preset', 'none', '--keep-session', '--arch', 'x86_64'])).stdout)).toBe(
      '18128b666dbeee8e8e368b8ad63c18e40b23e56858e1b14dab167ce6973359e6',
    );
    const f = failure(await exportWith(['--plan', planFile('foo.json', { argv: ['true'], seccomp: { rules: [{ syscall: 'foo', action: 'kill' }] } }), '--arch', 'x86_64']));
    expect(f).toEqual({ code: 'E_PLAN_INVALID', message: 'plan.seccomp.rules[0].syscall: unknown syscall "foo" on x86_64', hint: undefined });
  });
});
