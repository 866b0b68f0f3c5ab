import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, isSandboxError, SandboxError } from '../src/errors';

describe('SandboxError', () => {
  it('is an Error carrying a stable code and the optional facts', () => {
    const error = new SandboxError('E_SOURCE_MISSING', 'plan.ops[3] (bind): source /nope does not exist', {
      opIndex: 3,
      path: 'plan.ops[3].source',
      hint: 'use --ro-bind-try to skip missing sources',
      exitStatus: 125,
    });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('SandboxError');
    expect(error.code).toBe('E_SOURCE_MISSING');
    expect(error.message).toBe('plan.ops[3] (bind): source /nope does not exist');
    expect(error.opIndex).toBe(3);
    expect(error.path).toBe('plan.ops[3].source');
    expect(error.hint).toBe('use --ro-bind-try to skip missing sources');
    expect(error.exitStatus).toBe(125);
    expect(String(error)).toBe('SandboxError: plan.ops[3] (bind): source /nope does not exist');
  });

  it('leaves absent facts undefined rather than present-but-empty', () => {
    const error = new SandboxError('E_SETUP', 'cannot set hostname: operation not permitted');
    expect(Object.keys(error)).not.toEqual(expect.arrayContaining(['opIndex', 'path', 'hint', 'exitStatus']));
    expect(error.opIndex).toBeUndefined();
    expect(error.cause).toBeUndefined();
  });

  it('keeps the cause', () => {
    const cause = new Error('ENOENT');
    expect(new SandboxError('E_INIT_MISSING', 'x', { cause }).cause).toBe(cause);
  });

  it('is built from a native report, dropping nulls', () => {
    const error = SandboxError.fromReport(
      { code: 'E_PLAN_INVALID', message: 'plan.ops[0] (tmpfs): target must be absolute', opIndex: 0, path: 'plan.ops[0].target', hint: null },
      125,
    );
    expect(error.code).toBe('E_PLAN_INVALID');
    expect(error.opIndex).toBe(0);
    expect(error.path).toBe('plan.ops[0].target');
    expect(error.hint).toBeUndefined();
    expect(error.exitStatus).toBe(125);
  });

  it('serializes to the report form', () => {
    const error = new SandboxError('E_MOUNT', 'cannot mount proc on /proc: permission denied', { opIndex: 1, hint: 'h' });
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      code: 'E_MOUNT',
      message: 'cannot mount proc on /proc: permission denied',
      opIndex: 1,
      hint: 'h',
    });
  });

  it('passes through codes from a newer launcher', () => {
    expect(SandboxError.fromReport({ code: 'E_FUTURE', message: 'm' }).code).toBe('E_FUTURE');
  });
});

describe('isSandboxError', () => {
  it('recognises instances and look-alikes from another copy of the package', () => {
    expect(isSandboxError(new SandboxError('E_EXEC', 'x'))).toBe(true);
    const foreign = Object.assign(new Error('x'), { name: 'SandboxError', code: 'E_EXEC' });
    expect(isSandboxError(foreign)).toBe(true);
  });

  it('rejects other errors and non-errors', () => {
    expect(isSandboxError(new Error('x'))).toBe(false);
    expect(isSandboxError(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe(false);
    expect(isSandboxError({ name: 'SandboxError', code: 'E_EXEC' })).toBe(false);
    expect(isSandboxError(undefined)).toBe(false);
  });
});

describe('ERROR_CODES', () => {
  it('holds every code the TypeScript sources name, once each', () => {
    const packages = join(__dirname, '..', '..');
    const named = new Set<string>();
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (name.endsWith('.ts')) for (const m of readFileSync(path, 'utf8').matchAll(/'(E_[A-Z_]+)'/g)) named.add(m[1]!);
      }
    };
    walk(join(packages, 'core', 'src'));
    walk(join(packages, 'cli', 'src'));
    expect(named.size).toBeGreaterThan(10);
    expect([...named].filter((code) => !(ERROR_CODES as readonly string[]).includes(code))).toEqual([]);
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });
});

describe('error-codes.ts (generated from the Rust Code enum)', () => {
  const root = join(__dirname, '..', '..', '..');

  it('is what gen-error-codes.mjs makes from schema/error-codes.json (run `npm run gen` when it drifts)', () => {
    const regenerated = execFileSync(process.execPath, [`${root}/scripts/gen-error-codes.mjs`, '--stdout'], { encoding: 'utf8' });
    expect(readFileSync(`${root}/packages/core/src/error-codes.ts`, 'utf8')).toBe(regenerated);
  });

  it('holds every code of schema/error-codes.json, and docs/internals.md lists each one', () => {
    const listed = (JSON.parse(readFileSync(`${root}/schema/error-codes.json`, 'utf8')) as { code: string }[]).map((c) => c.code);
    expect([...ERROR_CODES]).toEqual(listed);
    expect(ERROR_CODES).toContain('E_CONFIG_UNTRUSTED');
    const docs = readFileSync(`${root}/docs/internals.md`, 'utf8');
    for (const code of ERROR_CODES) expect([code, docs.includes(`| \`${code}\` |`)]).toEqual([code, true]);
  });
});
