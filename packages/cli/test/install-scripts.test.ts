// Building from a clone without a usable Rust toolchain: `npm run build`
// (scripts/build-native.mjs) and `npm run pack -- DIR` say in one line what
// to install (pack: or --no-build), instead of `spawnSync rustc EACCES`.

import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sandboxctl-norust-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A PATH directory holding `cargo` and `rustc` as given (script text and mode), or nothing. */
function toolchain(script?: string, mode = 0o755): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  if (script !== undefined) {
    for (const tool of ['cargo', 'rustc']) {
      writeFileSync(join(bin, tool), script);
      chmodSync(join(bin, tool), mode);
    }
  }
  return bin;
}

function script(name: string, args: string[], path: string) {
  return spawnSync(process.execPath, [join(root, 'scripts', name), ...args], { cwd: root, encoding: 'utf8', env: { PATH: path, HOME: dir } });
}

describe.each([
  ['no cargo on PATH', () => toolchain(), /cargo is not on PATH/],
  ['a cargo the user cannot execute (EACCES)', () => toolchain('#!/bin/sh\nexit 0\n', 0o644), /cargo cannot run \(EACCES\)/],
  ['a cargo older than rust-version', () => toolchain('#!/bin/sh\necho "cargo 1.65.0"\n'), /cargo is 1\.65\.0, older than the 1\.\d+ sandboxctl needs/],
])('%s', (_what, makePath, problem) => {
  it('npm run build says in one line what to install', () => {
    const r = script('build-native.mjs', [], makePath());
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(problem);
    expect(r.stderr).toMatch(/rustup/);
    expect(r.stderr).not.toMatch(/spawnSync/);
  });

  it('npm run pack -- DIR says to install Rust or pass --no-build, and writes nothing', () => {
    const out = join(dir, 'out');
    const r = script('pack.mjs', [out], makePath());
    expect(r.status).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(problem);
    expect(r.stderr).toMatch(/rustup.*--no-build/);
    expect(() => readdirSync(out)).toThrow();
  });
});
