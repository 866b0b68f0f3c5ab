/**
 * `--hostname` is validated before anything is created (issue 8): RFC 1123
 * labels, no newline or control character, 64 bytes at most (the kernel's
 * limit). A bad one is E_PLAN_INVALID (exit 125) from the CLI and from
 * `sandboxctl plan`; good ones reach the program.
 */
import { BASE, cli, requireKernel } from './helpers';

beforeAll(requireKernel);

/** The code a CLI failure names on stderr. */
const code = (stderr: string) => /^sandboxctl: (E_[A-Z_]+):/m.exec(stderr)?.[1];

describe('hostname', () => {
  test.each([
    ['a newline (a forged line in prompts and logs)', 'box\nroot'],
    ['a carriage return', 'box\r'],
    ['an escape sequence', 'box\u001b[31m'],
    ['a space', 'my box'],
    ['a slash', 'a/b'],
    ['an underscore', 'a_b'],
    ['a leading hyphen', '-box'],
    ['an empty label', 'a..b'],
    ['65 bytes', 'a'.repeat(65)],
    ['a 64-byte label', `${'a'.repeat(64)}`],
  ])('%s: E_PLAN_INVALID before any sandbox, from run and plan', async (_what, name) => {
    // `--hostname=NAME`: a NAME starting with '-' would be read as a flag
    const run = await cli(['run', ...BASE, `--hostname=${name}`, '--', '/bin/true']);
    expect([run.code, code(run.stderr)]).toEqual([125, 'E_PLAN_INVALID']);
    expect(run.stderr).toContain('plan.hostname');
    // the message never carries the raw control character back to the terminal
    expect(run.stderr).not.toContain('\r');
    expect(run.stderr).not.toContain('\u001b');
    const plan = await cli(['plan', `--hostname=${name}`, '--', '/bin/true']);
    expect([plan.code, code(plan.stderr)]).toEqual([125, 'E_PLAN_INVALID']);
  });

  test.each(['box', 'web-01.example.org', `${'a'.repeat(62)}.b`, '9lives'])('%s reaches the program', async (name) => {
    const r = await cli(['run', ...BASE, '--hostname', name, '--', '/bin/hostname']);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, `${name}\n`, '']);
  });
});
