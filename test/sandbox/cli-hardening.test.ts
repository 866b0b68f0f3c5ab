/** The complete set's CLI flags in real sandboxes: caller fds, overlays, caps, session. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { BASE, CLI, TRY_IN, hostProcessesWith, requireKernel, tempDir, until } from './helpers';

beforeAll(requireKernel);

/** `sandboxctl run ARGS` with extra caller fds at 3, 4…, collecting pipes. */
function cliWith(args: string[], extra: Array<number | 'pipe'>): Promise<{ code: number | null; stdout: string; stderr: string; pipes: string[] }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CLI, 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe', ...extra] });
    let stdout = '';
    let stderr = '';
    const pipes = extra.map(() => '');
    c.stdout!.setEncoding('utf8').on('data', (d) => (stdout += d));
    c.stderr!.setEncoding('utf8').on('data', (d) => (stderr += d));
    extra.forEach((e, i) => e === 'pipe' && (c.stdio[3 + i] as NodeJS.ReadableStream).setEncoding('utf8').on('data', (d: string) => (pipes[i] += d)));
    c.on('close', (code) => resolve({ code, stdout, stderr, pipes }));
  });
}

test('--ro-bind-fd binds what the caller opened, --pass-fd and --json-status-fd reach their fds', async () => {
  const dir = tempDir('sbx-cli-fd-');
  mkdirSync(`${dir}/data`);
  writeFileSync(`${dir}/data/x`, 'via fd\n');
  const dfd = openSync(`${dir}/data`, 'r');
  const r = await cliWith(
    [...BASE, '--ro-bind-fd', '3', '/tmp/in', '--pass-fd', '4', '--json-status-fd', '5', '--', '/bin/sh', '-c', `cat /tmp/in/x; ${TRY_IN} fds; echo piped >&4`],
    [dfd, 'pipe', 'pipe'],
  );
  closeSync(dfd);
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe('via fd\n0 1 2 4\n');
  expect(r.pipes[1]).toBe('piped\n');
  expect(r.pipes[2].trim().split('\n').map((l) => Object.keys(JSON.parse(l))[0])).toEqual(['child-pid', 'exit-code']);
  rmSync(dir, { recursive: true });
});

test('--overlay-src … --tmp-overlay from the CLI', async () => {
  const dir = tempDir('sbx-cli-ov-');
  mkdirSync(`${dir}/base`);
  writeFileSync(`${dir}/base/f`, 'base\n');
  const r = await cliWith([...BASE, '--overlay-src', `${dir}/base`, '--tmp-overlay', '/tmp/o', '--', '/bin/sh', '-c', 'echo w > /tmp/o/f; cat /tmp/o/f'], []);
  expect(r.stdout).toBe('w\n');
  rmSync(dir, { recursive: true });
});

test('--cap-add, --argv0, --chmod, --mqueue from the CLI', async () => {
  const r = await cliWith(
    [...BASE, '--dir', '/tmp/w', '--chmod', '0711', '/tmp/w', '--mqueue', '/tmp/mq', '--cap-add', 'CAP_NET_RAW', '--argv0', 'named', '--',
      '/bin/sh', '-c', 'echo $0; stat -c %a /tmp/w; grep -c " /tmp/mq " /proc/self/mountinfo; grep CapEff /proc/self/status'],
    [],
  );
  expect(r.stdout).toBe('named\n711\n1\nCapEff:\t0000000000002000\n');
});

test('--keep-session keeps the caller’s session; the default does not', async () => {
  // Inside a new pid namespace the caller's session leader is invisible: sid reads 0.
  const kept = await cliWith([...BASE, '--keep-session', '--', '/bin/sh', '-c', 'cut -d" " -f6 /proc/self/stat'], []);
  const fresh = await cliWith([...BASE, '--', '/bin/sh', '-c', 'cut -d" " -f6 /proc/self/stat'], []);
  expect(kept.stdout).toBe('0\n');
  expect(fresh.stdout).toBe('2\n');
});

test('a second signal to the CLI kills the whole sandbox, even a program that ignores the first', async () => {
  // Only the sleep's argv holds the marker: the script computes it.
  const n = 1_000_000 + (process.pid % 1000) * 1000 + (Date.now() % 1000);
  const marker = `600.${n + 1}`;
  const c = spawn(process.execPath, [CLI, 'run', ...BASE, '--', '/bin/sh', '-c', `trap "" INT; sleep 600.$((${n} + 1)) & echo ready; wait`], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    expect(await until(() => out.includes('ready'))).toBe(true);
    expect(await until(() => hostProcessesWith(marker).length === 1)).toBe(true);
    c.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    expect(hostProcessesWith(marker)).toHaveLength(1); // ignored: still running
    const closed = new Promise((r) => c.on('close', r));
    c.kill('SIGINT');
    // The launcher SIGKILLs the sandbox, cleans up and exits as a shell would.
    expect(await closed).toBe(130);
    expect(await until(() => hostProcessesWith(marker).length === 0, 3000)).toBe(true);
  } finally {
    c.kill('SIGKILL');
  }
});

test("--keep-session on a terminal binds the caller's tty on /dev/console", () => {
  // script(1) (util-linux) gives the CLI a real terminal.
  const inner = `${process.execPath} ${CLI} run --ro-bind / / --proc /proc --dev /dev --keep-session -- /bin/sh -c 'stat -c %t:%T /dev/console; grep -c " /dev/console " /proc/self/mountinfo'`;
  const r = spawnSync('script', ['-qec', inner, '/dev/null'], { encoding: 'utf8' });
  if (r.error) throw new Error(`script(1) from util-linux is needed for this test: ${r.error.message}`);
  const [major, count] = r.stdout.trim().split(/\r?\n/);
  expect(parseInt(major!.split(':')[0], 16)).toBe(136); // a pseudo-terminal (Unix98 pty major)
  expect(count).toBe('1');
  // Without --keep-session there is no console.
  const plain = spawnSync('script', ['-qec', inner.replace(' --keep-session', ''), '/dev/null'], { encoding: 'utf8' });
  expect(plain.stdout).toMatch(/No such file or directory/);
});
