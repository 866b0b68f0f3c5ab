// The flag table drives clipanion's options and the ordered pass over argv
// that clipanion accepted: it must describe exactly the options the
// commands register.

import { createCli } from '../src/main';
import { flagSpec, PLAN_FLAGS, scanFlagOrder } from '../src/flags';

// A flag's one-letter alias (ch-run's -b) is registered with it.
const FLAG_ARITY: Readonly<Record<string, number>> = Object.fromEntries(PLAN_FLAGS.flatMap((spec) => [[spec.flag, spec.values.length], ...(spec.short ? [[spec.short, spec.values.length]] : [])]));
const arityOf = (table: Readonly<Record<string, number>>) => (flag: string) => table[flag];

/** name -> arity, from the definitions clipanion builds (`--bind SRC DEST`). */
function registeredArity(path: string): Record<string, number> {
  const definition = createCli()
    .definitions()
    .find((d) => d.path === path);
  if (!definition) throw new Error(`no command ${path}`);
  const arity: Record<string, number> = {};
  for (const { definition: text } of definition.options) {
    const [names, ...values] = text.split(' ');
    for (const name of names!.split(',')) arity[name] = values.length;
  }
  return arity;
}

describe('the flag table', () => {
  it('is exactly the options `run` registers', () => {
    // and run's own --name and --detach (live sandboxes) and --join* (docs/hpc.md)
    const join = { '--join': 0, '--join-ct': 1, '--join-tag': 1, '--join-timeout': 1, '--join-pid': 1 };
    expect({ ...FLAG_ARITY, '--name': 1, '--detach': 0, ...join }).toEqual(registeredArity('sandboxctl run'));
  });

  it('and `plan` and `explain`, with their --json', () => {
    expect({ ...FLAG_ARITY, '--json': 0 }).toEqual(registeredArity('sandboxctl plan'));
    expect({ ...FLAG_ARITY, '--json': 0 }).toEqual(registeredArity('sandboxctl explain'));
  });

  it('gives every flag of every command that takes values its names, as many as it takes', () => {
    for (const definition of createCli().definitions()) {
      for (const [flag, arity] of Object.entries(registeredArity(definition.path))) {
        // short aliases (exec's -e) are not in the table; their long names are
        if (arity > 0 && flag.startsWith('--')) expect([definition.path, flag, flagSpec(flag)?.values.length]).toEqual([definition.path, flag, arity]);
      }
    }
  });
});

describe('scanFlagOrder', () => {
  const scan = (args: string[]) => scanFlagOrder(args, 1, arityOf({ ...FLAG_ARITY, '--json': 0 })).map((o) => o.flag);

  it('lists flags in argv order, skipping their values', () => {
    expect(scan(['run', '--bind', '/a', '/b', '--tmpfs', '/t', '--perms', '0700', '--dir', '/d', '--', 'ls'])).toEqual([
      '--bind',
      '--tmpfs',
      '--perms',
      '--dir',
    ]);
  });

  it('does not mistake values for flags', () => {
    // clipanion refuses values that start with `-`, except `-` itself.
    expect(scan(['run', '--file-data', '-', '/f', '--setenv', 'X', '--tmpfs', 'ls'])).toEqual(['--file-data', '--setenv']);
  });

  it('stops at `--` and at the program', () => {
    expect(scan(['run', '--proc', '/proc', 'ls', '--bind', 'a', 'b'])).toEqual(['--proc']);
    expect(scan(['run', '--', '--bind', 'a', 'b'])).toEqual([]);
    expect(scan(['run', '-'])).toEqual([]);
  });

  it('refuses = on a flag with several values as a usage error that says how to write it', () => {
    expect(() => scan(['run', '--ro-bind=/', '/x', 'ls'])).toThrow(expect.objectContaining({ code: 'E_USAGE', hint: 'write them apart: `--ro-bind A B`' }));
    expect(() => scan(['run', '--setenv=A', 'B', 'ls'])).toThrow(/--setenv takes 2 values and they cannot be joined with =/);
  });

  it('reads bound values and negated booleans', () => {
    const found = scanFlagOrder(['run', '--perms=0755', '--no-clearenv', '--clearenv', 'ls'], 1, arityOf(FLAG_ARITY));
    expect(found).toEqual([
      { flag: '--perms', negated: false, index: 1 },
      { flag: '--clearenv', negated: true, index: 2 },
      { flag: '--clearenv', negated: false, index: 3 },
    ]);
  });

  it('treats a flag it does not know as a bug', () => {
    expect(() => scan(['run', '--nope', 'ls'])).toThrow(/assertion failed/);
    expect(() => scan(['run', '--nope=/a', 'ls'])).toThrow(/assertion failed/);
  });
});
