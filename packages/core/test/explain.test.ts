// explainPlan on plans of any origin: the sections an op lands in follow the
// mounts before it, mount points under writable binds that do not exist on
// the host are named as left behind, and unknown op kinds fall back to the
// schema's description.

import { describeOp, describeOps, explainPlan, formatExplanation, opDescriptionsFromSchema } from '../src/explain';
import { fakeHost } from '../src/presets/host';
import type { Op, Plan } from '../src/plan-types';

const host = fakeHost({ '/w/p/src': 'dir', '/w/p/file': 'file', '/usr': 'dir' });
const planOf = (ops: unknown[], extra: Partial<Plan> = {}): Plan => ({ version: 1, argv: ['x'], ops: ops as Op[], ...extra });

it('tells read-only binds inside writable places from those outside, and follows remounts', () => {
  const e = explainPlan(
    planOf([
      { kind: 'bind', source: '/usr', target: '/usr' },
      { kind: 'bind', source: '/w/p', target: '/w/p', writable: true },
      { kind: 'bind', source: '/w/p/src', target: '/w/p/src' },
      { kind: 'remount', target: '/w/p' },
      { kind: 'tmpfs', target: '/t', size: 64 << 20 },
    ]),
    { host },
  );
  expect(e.visible.map((i) => [i.path, i.what])).toEqual([
    ['/usr', 'read-only'],
    ['/w/p', 'writable, then made read-only'],
  ]);
  expect(e.writable.map((i) => [i.path, i.what])).toEqual([['/t', 'private: empty at the start, gone after the run, at most 64 MiB']]);
  expect(e.protected.map((i) => i.path)).toEqual(['/w/p/src']);
  expect(e.hostRoot).toBe(false);
  expect(e.denied.find((d) => d.topic === 'filesystem')?.text).toBe('every host path not listed above');
});

it('names the mount points a run creates on the host under writable binds', () => {
  const e = explainPlan(
    planOf([
      { kind: 'bind', source: '/w/p', target: '/inside', writable: true },
      { kind: 'tmpfs', target: '/inside/new-dir', readOnly: true },
      { kind: 'bind', source: '/dev/null', target: '/inside/new-file' },
      { kind: 'bind', source: '/w/p/file', target: '/inside/file' },
      { kind: 'dir', target: '/elsewhere' },
    ]),
    { host },
  );
  expect(e.hostChanges).toEqual(['/w/p/new-dir (an empty directory)', '/w/p/new-file (an empty file)']);
  expect(e.hidden.map((i) => i.path)).toEqual(['/inside/new-file']);
  expect(e.protected.map((i) => i.path)).toEqual(['/inside/new-dir', '/inside/file']);
});

it('describes ops by the Rust side\'s Display (through the addon) and unknown kinds by their schema description', () => {
  expect(describeOp({ kind: 'bind', source: '/a', target: '/b', writable: true, optional: true })).toBe('bind /a on /b (if present)');
  expect(describeOp({ kind: 'tmpfs', target: '/t', mode: 0o700 })).toBe('tmpfs on /t mode 700');
  expect(describeOp({ kind: 'symlink', target: '/bin', linkname: 'usr/bin' })).toBe('symlink /bin -> usr/bin');
  const schema = { $defs: { Op: { oneOf: [{ description: 'A future op.', properties: { kind: { const: 'future' } } }] } } };
  const descriptions = opDescriptionsFromSchema(schema);
  expect(descriptions).toEqual({ future: 'A future op.' });
  expect(describeOp({ kind: 'future', target: '/f' } as unknown as Op, descriptions)).toBe('future on /f: a future op');
  // one call for many; an op the addon refuses is named by kind and target, the others keep their description
  expect(describeOps([{ kind: 'dir', target: '/d' }, { kind: 'future', target: '/f' }, { kind: 'proc', target: '/proc', bogus: 1 }] as unknown as Op[], descriptions)).toEqual([
    'directory /d mode 755',
    'future on /f: a future op',
    'proc on /proc',
  ]);
});

it('states the policy it denies', () => {
  const e = explainPlan(
    planOf([{ kind: 'bind', source: '/', target: '/' }], { network: 'host', seccomp: { preset: 'none' }, env: { inherit: false, set: { PATH: '/bin' } }, hostname: 'h' }),
    { host },
  );
  const denied = Object.fromEntries(e.denied.map((d) => [d.topic, d.text]));
  expect(denied).toMatchObject({
    network: "not denied: the host's network is shared",
    'system calls': 'no preset filter',
    environment: 'empty but PATH',
    hostname: "h (not the host's)",
  });
  expect(denied.filesystem).toBeUndefined();
  expect(formatExplanation(e)).toMatch(/^program: +x\ndirectory: +the caller's, when the sandbox shows it; else \/\n/);
});
