import { createServer } from 'node:net';
import { openSync, closeSync } from 'node:fs';
import { checkJoinTag, countFromEnv, joinArgs, parseJoinCount, parseJoinPid, pmiFd, resolveJoin, tagFromEnv } from '../src/launcher/join';
import { SandboxError } from '../src/errors';

const usage = (f: () => unknown, message: RegExp) => {
  let error: unknown;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(SandboxError);
  expect((error as SandboxError).code).toBe('E_USAGE');
  expect((error as SandboxError).message).toMatch(message);
};

describe("--join-ct: digits only, 1 to INT_MAX (ch-run's messages)", () => {
  test.each([
    ['4', 4],
    [4, 4],
    ['2147483647', 2147483647],
  ])('%j → %d', (v, n) => expect(parseJoinCount(v)).toBe(n));
  test.each([
    ['', /no digits found/],
    ['x', /no digits found/],
    ['-1', /no digits found/],
    ['4x', /extra characters after digits/],
    ['4 ', /extra characters after digits/],
    ['2147483648', /out of range/],
    ['99999999999999999999', /out of range/],
    ['0', /at least 1 peer/],
  ])('%j refused', (v, message) => usage(() => parseJoinCount(v), message));
});

describe('defaults from the environment, as ch-run reads them', () => {
  test('the first set of OMPI_COMM_WORLD_LOCAL_SIZE, SLURM_STEP_TASKS_PER_NODE, SLURM_CPUS_ON_NODE; trailing junk ignored there', () => {
    expect(
      countFromEnv({
        OMPI_COMM_WORLD_LOCAL_SIZE: '3',
        SLURM_STEP_TASKS_PER_NODE: '4',
      }),
    ).toBe(3);
    expect(
      countFromEnv({
        SLURM_STEP_TASKS_PER_NODE: '4(x2)',
        SLURM_CPUS_ON_NODE: '8',
      }),
    ).toBe(4);
    expect(countFromEnv({ SLURM_CPUS_ON_NODE: '8' })).toBe(8);
    expect(countFromEnv({ OMPI_COMM_WORLD_LOCAL_SIZE: '', SLURM_CPUS_ON_NODE: '2' })).toBe(2);
    usage(() => countFromEnv({}), /join: no valid peer group size found/);
    usage(() => countFromEnv({ SLURM_STEP_TASKS_PER_NODE: 'x' }), /no digits found/);
    usage(() => countFromEnv({ SLURM_CPUS_ON_NODE: '0' }), /out of range/);
  });

  test('the tag: job.step under Slurm (two jobs on a node never meet), the step alone, else the parent pid', () => {
    expect(tagFromEnv({ SLURM_JOB_ID: '77', SLURM_STEP_ID: '0' }, 5)).toBe('77.0');
    expect(tagFromEnv({ SLURM_STEP_ID: '3' }, 5)).toBe('3');
    expect(tagFromEnv({}, 5)).toBe('5');
    expect(
      resolveJoin(
        {},
        {
          SLURM_JOB_ID: '77',
          SLURM_STEP_ID: '0',
          SLURM_STEP_TASKS_PER_NODE: '4',
        },
        1,
      ),
    ).toEqual({ kind: 'group', count: 4, tag: '77.0', timeoutMs: 30_000 });
    expect(resolveJoin({ count: 2, tag: 'x', timeoutSeconds: 1.5 }, {}, 1)).toEqual({ kind: 'group', count: 2, tag: 'x', timeoutMs: 1500 });
  });

  test('tags, timeouts and pids are checked', () => {
    usage(() => checkJoinTag(''), /cannot be empty/);
    usage(() => checkJoinTag('a/b'), /bad tag/);
    usage(() => checkJoinTag('a'.repeat(59)), /bad tag/);
    expect(checkJoinTag('a'.repeat(58))).toHaveLength(58);
    usage(() => resolveJoin({ count: 2, tag: 'x', timeoutSeconds: 0 }, {}, 1), /--join-timeout/);
    usage(() => resolveJoin({ count: 2, tag: 'x', timeoutSeconds: Number.NaN }, {}, 1), /--join-timeout/);
    expect(parseJoinPid('12')).toBe(12);
    for (const bad of ['0', '-1', 'x', '1.5', '2147483648']) usage(() => parseJoinPid(bad), /--join-pid: bad pid/);
  });

  test("sandboxctl-init join's arguments", () => {
    expect(joinArgs({ kind: 'group', count: 4, tag: '7.0', timeoutMs: 30_000 })).toEqual(['--tag', '7.0', '--count', '4', '--timeout-ms', '30000']);
    expect(joinArgs({ kind: 'pid', pid: 9 })).toEqual(['--pid', '9']);
  });
});

describe("PMI_FD: a rank's PMI-2 socket is passed only when it is an open socket", () => {
  test('an open socket is passed at its number', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
      expect(fd).toBeGreaterThan(2);
      expect(pmiFd({ PMI_FD: String(fd) })).toBe(fd);
    } finally {
      server.close();
    }
  });
  test('a regular file, a closed fd, stdio, a number out of range or not a number is not', () => {
    const file = openSync(__filename, 'r');
    try {
      expect(pmiFd({ PMI_FD: String(file) })).toBeUndefined();
    } finally {
      closeSync(file);
    }
    expect(pmiFd({ PMI_FD: String(file) })).toBeUndefined();
    for (const v of [undefined, '', '1', '2', '1024', '99999', '-4', '4x', ' 4']) expect(pmiFd({ PMI_FD: v })).toBeUndefined();
  });
});
