/**
 * Bad input: malformed plans are rejected with a stable code before any
 * namespace exists. Every field of the schema gets a value of the wrong type
 * in turn (generated from schema/plan.schema.json, so new fields are covered
 * as they come), then values of the right type that are wrong: huge strings,
 * NUL bytes, relative paths, `..`, 10,000 ops.
 *
 * Each plan goes to the library's checkPlan and to `sandboxctl-init
 * --plan-fd 3`, whose report channel proves nothing was created: the launcher
 * sends `spawned` right after clone, and it must never come.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { INIT, ROOT, requireKernel } from '../helpers';
import { checkPlan } from '@sandboxctl/core';

beforeAll(requireKernel);

type Schema = { type?: string | string[]; $ref?: string; oneOf?: Schema[]; enum?: unknown[]; const?: unknown; properties?: Record<string, Schema>; required?: string[]; items?: Schema };
const schema = JSON.parse(readFileSync(join(ROOT, 'schema/plan.schema.json'), 'utf8')) as Schema & { $defs: Record<string, Schema> };
const resolveRef = (s: Schema): Schema => (s.$ref ? resolveRef(schema.$defs[s.$ref.replace('#/$defs/', '')]) : s);

const jsonType = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v);

/** A value the field's schema does not allow. */
function wrongValue(field: Schema): unknown {
  const s = resolveRef(field);
  const enumValues = s.enum ?? s.oneOf?.map((o) => resolveRef(o).const ?? resolveRef(o).enum?.[0]).filter((v) => v !== undefined);
  if (enumValues && enumValues.length > 0 && enumValues.every((v) => typeof v === 'string')) return 'no-such-value';
  const allowed = new Set(([] as string[]).concat(s.type ?? (s.properties ? 'object' : [])));
  if (allowed.has('integer')) allowed.add('number');
  if (allowed.size === 0) return 'no-such-value';
  return [12345, 'wrong', true, { wrong: 1 }, [{ wrong: 1 }], 1.5, -1].find((v) => !allowed.has(jsonType(v)) && !(jsonType(v) === 'integer' && allowed.has('number')));
}

/** A value of the right type, for required fields of an op under test. */
function validValue(name: string, field: Schema): unknown {
  const s = resolveRef(field);
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum[0];
  if (s.oneOf) return validValue(name, s.oneOf[0]);
  const t = ([] as string[]).concat(s.type ?? 'object')[0];
  if (t === 'string') return name === 'mode' ? 'ro' : '/sbx-valid';
  if (t === 'integer' || t === 'number') return 0o755;
  if (t === 'boolean') return false;
  if (t === 'array') return ['/'];
  return {};
}

interface Case {
  name: string;
  plan: string;
  /** Expected start of the JSON path of the error (undefined: not checked). */
  path?: string;
}

const minimal = { argv: ['/bin/true'] };
const cases: Case[] = [];

// Every top-level field, wrong type.
for (const [key, field] of Object.entries(schema.properties!)) {
  cases.push({ name: `plan.${key}: wrong type`, plan: JSON.stringify({ ...minimal, [key]: wrongValue(field) }), path: key === 'argv' ? 'plan.argv' : `plan.${key}` });
}
// Every field of every nested object (env, namespaces, landlock, seccomp …), wrong type.
for (const [key, field] of Object.entries(schema.properties!)) {
  const s = resolveRef(field);
  for (const [sub, subField] of Object.entries(s.properties ?? {})) {
    cases.push({ name: `plan.${key}.${sub}: wrong type`, plan: JSON.stringify({ ...minimal, [key]: { [sub]: wrongValue(subField) } }), path: `plan.${key}` });
  }
}
// Every field of every op kind, wrong type; plus an unknown field and a missing required one.
for (const variant of resolveRef(schema.$defs.Op).oneOf!) {
  const props = variant.properties!;
  const kind = props.kind.const as string;
  const valid: Record<string, unknown> = {};
  for (const r of variant.required ?? []) valid[r] = validValue(r, props[r]);
  for (const [key, field] of Object.entries(props)) {
    if (key === 'kind') continue;
    cases.push({ name: `ops[0] (${kind}).${key}: wrong type`, plan: JSON.stringify({ ...minimal, ops: [{ ...valid, [key]: wrongValue(field) }] }), path: 'plan.ops[0]' });
  }
  cases.push({ name: `ops[0] (${kind}): unknown field`, plan: JSON.stringify({ ...minimal, ops: [{ ...valid, bogus: 1 }] }), path: 'plan.ops[0]' });
  for (const r of (variant.required ?? []).filter((k) => k !== 'kind')) {
    const without = { ...valid };
    delete without[r];
    cases.push({ name: `ops[0] (${kind}): ${r} missing`, plan: JSON.stringify({ ...minimal, ops: [without] }), path: 'plan.ops[0]' });
  }
}

// Right type, wrong value.
const huge = `/${'a'.repeat(5000)}`;
const valueCases: [string, object, string][] = [
  ['argv empty', { argv: [] }, 'plan.argv'],
  ['argv[0] empty', { argv: [''] }, 'plan.argv[0]'],
  ['argv with a NUL byte', { argv: ['/bin/true', 'a\u0000b'] }, 'plan.argv[1]'],
  ['an argument of 200,000 bytes', { argv: ['/bin/true', 'x'.repeat(200_000)] }, 'plan.argv[1]'],
  ['version 2', { ...minimal, version: 2 }, 'plan.version'],
  ['cwd relative', { ...minimal, cwd: 'tmp' }, 'plan.cwd'],
  ['cwd with ..', { ...minimal, cwd: '/tmp/../etc' }, 'plan.cwd'],
  ['cwd with a NUL byte', { ...minimal, cwd: '/tmp\u0000x' }, 'plan.cwd'],
  ['cwd of 5,000 bytes', { ...minimal, cwd: huge }, 'plan.cwd'],
  ['uid 4294967295', { ...minimal, uid: 4294967295 }, 'plan.uid'],
  ['uid 4294967296', { ...minimal, uid: 4294967296 }, 'plan.uid'],
  ['gid -1', { ...minimal, gid: -1 }, 'plan.gid'],
  ['hostname empty', { ...minimal, hostname: '' }, 'plan.hostname'],
  ['hostname of 65 bytes', { ...minimal, hostname: 'h'.repeat(65) }, 'plan.hostname'],
  ['hostname with /', { ...minimal, hostname: 'a/b' }, 'plan.hostname'],
  ['hostname with a NUL byte', { ...minimal, hostname: 'a\u0000b' }, 'plan.hostname'],
  ['lingerMs beyond 600000', { ...minimal, lingerMs: 600_001 }, 'plan.lingerMs'],
  ['env name with =', { ...minimal, env: { set: { 'A=B': 'c' } } }, 'plan.env.set'],
  ['env name empty', { ...minimal, env: { unset: [''] } }, 'plan.env.unset[0]'],
  ['env value with a NUL byte', { ...minimal, env: { set: { A: 'x\u0000y' } } }, 'plan.env.set.A'],
  ['op target relative', { ...minimal, ops: [{ kind: 'dir', target: 'tmp' }] }, 'plan.ops[0].target'],
  ['op target with ..', { ...minimal, ops: [{ kind: 'dir', target: '/tmp/../../etc' }] }, 'plan.ops[0].target'],
  ['op target ..', { ...minimal, ops: [{ kind: 'tmpfs', target: '/..' }] }, 'plan.ops[0].target'],
  ['op target with a NUL byte', { ...minimal, ops: [{ kind: 'dir', target: '/a\u0000b' }] }, 'plan.ops[0].target'],
  ['op target empty', { ...minimal, ops: [{ kind: 'proc', target: '' }] }, 'plan.ops[0].target'],
  ['op target of 5,000 bytes', { ...minimal, ops: [{ kind: 'dir', target: huge }] }, 'plan.ops[0].target'],
  ['bind source relative', { ...minimal, ops: [{ kind: 'bind', source: 'etc', target: '/etc' }] }, 'plan.ops[0].source'],
  ['bind source with ..', { ...minimal, ops: [{ kind: 'bind', source: '/usr/../etc', target: '/etc' }] }, 'plan.ops[0].source'],
  ['bind source with a NUL byte', { ...minimal, ops: [{ kind: 'bind', source: '/us\u0000r', target: '/usr' }] }, 'plan.ops[0].source'],
  ['bind source missing', { ...minimal, ops: [{ kind: 'bind', source: '/nonexistent-sbx-bad-input', target: '/x' }] }, 'plan.ops[0].source'],
  ['tmpfs size 0', { ...minimal, ops: [{ kind: 'tmpfs', target: '/t', size: 0 }] }, 'plan.ops[0]'],
  ['dir mode beyond 07777', { ...minimal, ops: [{ kind: 'dir', target: '/d', mode: 0o17777 }] }, 'plan.ops[0].mode'],
  ['file data of 17 MiB', { ...minimal, ops: [{ kind: 'file', target: '/f', data: 'x'.repeat(17 << 20) }] }, 'plan.ops[0]'],
  ['the 10,000th of 10,000 ops bad', { ...minimal, ops: [...Array.from({ length: 9_999 }, (_, i) => ({ kind: 'dir', target: `/d${i}` })), { kind: 'dir', target: 'bad' }] }, 'plan.ops'],
  ['10,000 valid ops (more than allowed)', { ...minimal, ops: Array.from({ length: 10_000 }, (_, i) => ({ kind: 'dir', target: `/d${i}` })) }, 'plan.ops'],
];
for (const [name, plan, path] of valueCases) cases.push({ name, plan: JSON.stringify(plan), path });

// Not JSON, or not a plan.
for (const [name, plan] of [
  ['empty input', ''],
  ['not JSON', 'argv=/bin/true'],
  ['truncated JSON', '{"argv":["/bin/true"],"ops":[{"kind":"dir"'],
  ['a JSON array', '["/bin/true"]'],
  ['JSON null', 'null'],
  ['a string', '"/bin/true"'],
  ['nesting 10,000 deep', `{"argv":["/bin/true"],"env":${'['.repeat(10_000)}${']'.repeat(10_000)}}`],
] as [string, string][]) {
  cases.push({ name, plan });
}

/** The plan through `sandboxctl-init --plan-fd 3`: exit status and report lines. */
function throughInit(plan: string | Buffer): Promise<{ code: number | null; reports: Record<string, unknown>[]; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(INIT, ['--plan-fd', '3'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    const sock = child.stdio[3] as Socket;
    let text = '';
    let stderr = '';
    sock.setEncoding('utf8').on('data', (d: string) => (text += d));
    sock.on('error', () => {});
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    sock.end(typeof plan !== 'string' || plan.includes('\n') ? plan : `${plan}\n`);
    child.on('close', (code) => resolve({ code, stderr, reports: text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) }));
  });
}

test('the generated cases cover every field of the schema', () => {
  const topLevel = Object.keys(schema.properties!).length;
  const opKinds = resolveRef(schema.$defs.Op).oneOf!.length;
  expect(topLevel).toBeGreaterThanOrEqual(14);
  expect(opKinds).toBeGreaterThanOrEqual(8);
  expect(cases.length).toBeGreaterThan(topLevel + opKinds * 2 + valueCases.length);
});

describe.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
  test('checkPlan names a code and the field', () => {
    const problem = checkPlan(c.plan);
    expect(problem).not.toBeNull();
    expect(['E_PLAN_INVALID', 'E_SOURCE_MISSING']).toContain(problem!.code);
    if (c.path) expect(problem!.path!.startsWith(c.path) || c.path.startsWith(problem!.path!)).toBe(true);
  });

  test('sandboxctl-init rejects it with exit 125 and creates nothing', async () => {
    const r = await throughInit(c.plan);
    expect(r.code).toBe(125);
    expect(r.reports.map((l) => l.event)).toEqual(['error']);
    expect(['E_PLAN_INVALID', 'E_SOURCE_MISSING']).toContain(r.reports[0].code);
    expect(r.stderr).toBe('');
  });
});

test('invalid UTF-8 (a string no JavaScript caller can send, so init only)', async () => {
  const bytes = Buffer.concat([Buffer.from('{"argv":["/bin/'), Buffer.from([0xff, 0xfe]), Buffer.from('"]}\n')]);
  const r = await throughInit(bytes);
  expect(r.code).toBe(125);
  expect(r.reports).toEqual([expect.objectContaining({ event: 'error', code: 'E_PLAN_INVALID', path: 'plan.argv[0]' })]);
});

test('the same rejections through `sandboxctl-init --plan -` go to stderr with the code', async () => {
  for (const c of cases.filter((_, i) => i % 7 === 0)) {
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(INIT, ['--plan', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.stdin.on('error', () => {});
      child.stdin.end(c.plan);
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect([c.name, r.code]).toEqual([c.name, 125]);
    expect(r.stderr).toMatch(/^sandboxctl: E_(PLAN_INVALID|SOURCE_MISSING): /);
  }
});
