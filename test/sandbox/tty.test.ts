/**
 * The pseudo-terminal (`--tty`, the default on a terminal) and the launcher's
 * signal policy, in real sandboxes driven from a terminal the test owns: a
 * small python3 `pty` driver plays the user (keystrokes, window resizes,
 * signals to the CLI) and records everything the terminal shows.
 */
import { KILL_GRACE_MS, run } from '@sandboxctl/core';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASE, CLI, cli, hostProcessesWith, requireKernel, tempDir } from './helpers';

beforeAll(requireKernel);

/**
 * The driver: runs `argv` on a new pty (its controlling terminal, 33x99),
 * then plays `steps` and prints `{ output, status, checks, error }` as JSON.
 *   { send: TEXT }                  type TEXT (control characters included)
 *   { expect: REGEX, timeout? }     wait until the output since the last expect matches
 *   { resize: [ROWS, COLS] }        resize the terminal (the kernel sends SIGWINCH)
 *   { kill: SIG, exe, marker }      signal the processes whose argv[0] is `exe`
 *                                   and whose command line holds `marker`
 *   { exists: PATH, as: NAME }      record whether PATH exists now
 *   { sleep: SECONDS }
 */
const DRIVER = String.raw`
import fcntl, json, os, pty, re, select, signal, struct, sys, termios, time
spec = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.chdir(spec['cwd'])
    os.execvpe(spec['argv'][0], spec['argv'], spec['env'])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 33, 99, 0, 0))
out = bytearray()
seen = 0
checks = {}
def pump(seconds):
    end = time.time() + seconds
    while True:
        left = end - time.time()
        if left <= 0:
            return True
        r, _, _ = select.select([fd], [], [], min(left, 0.05))
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return False
            if not data:
                return False
            out.extend(data)
def finish(error=None):
    status = None
    end = time.time() + (3 if error else 30)
    while time.time() < end:
        pump(0.05)
        p, st = os.waitpid(pid, os.WNOHANG)
        if p == pid:
            status = os.waitstatus_to_exitcode(st)
            break
    if status is None:
        os.kill(pid, signal.SIGKILL)
        error = error or 'the command did not exit'
    pump(0.2)
    print(json.dumps({'output': out.decode('utf-8', 'replace'), 'status': status, 'checks': checks, 'error': error}))
    sys.exit(0)
for step in spec['steps']:
    if 'send' in step:
        os.write(fd, step['send'].encode())
    elif 'expect' in step:
        end = time.time() + step.get('timeout', 30)
        while True:
            m = re.search(step['expect'].encode(), bytes(out[seen:]))
            if m:
                seen += m.end()
                break
            if time.time() > end:
                finish('never saw %r' % step['expect'])
            if not pump(0.05) and not re.search(step['expect'].encode(), bytes(out[seen:])):
                finish('never saw %r before the end' % step['expect'])
    elif 'resize' in step:
        rows, cols = step['resize']
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
    elif 'kill' in step:
        hit = 0
        for p in os.listdir('/proc'):
            try:
                args = open('/proc/%s/cmdline' % p, 'rb').read().split(b'\0')
            except OSError:
                continue
            if args[0].decode() == step['exe'] and step['marker'].encode() in b' '.join(args):
                os.kill(int(p), getattr(signal, step['kill']))
                hit += 1
        if hit != 1:
            finish('%s reached %d processes' % (step['kill'], hit))
    elif 'exists' in step:
        checks[step['as']] = os.path.exists(step['exists'])
    elif 'sleep' in step:
        pump(step['sleep'])
finish()
`;

type Step =
  | { send: string }
  | { expect: string; timeout?: number }
  | { resize: [number, number] }
  | { kill: 'SIGTERM' | 'SIGINT'; exe: string; marker: string }
  | { exists: string; as: string }
  | { sleep: number };

interface Driven {
  output: string;
  status: number | null;
  checks: Record<string, boolean>;
  error: string | null;
}

function drive(argv: string[], steps: Step[], cwd = process.cwd()): Promise<Driven> {
  // A plain prompt; TERM without bracketed paste noise is not needed: the
  // tests match markers the shell computes, never the echoed input.
  const env = { ...process.env, PS1: 'sbx$ ', TERM: 'xterm' };
  return new Promise((resolve, reject) => {
    const c = spawn('python3', ['-c', DRIVER, JSON.stringify({ argv, steps, cwd, env })], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    c.on('error', (e) => reject(new Error(`python3 is needed to drive a terminal: ${e.message}`)));
    c.on('close', () => {
      try {
        resolve(JSON.parse(stdout) as Driven);
      } catch {
        reject(new Error(`pty driver failed: ${stderr}${stdout}`));
      }
    });
  });
}

/** Fails with what the terminal showed when the driver did not get through. */
function ok(d: Driven): Driven {
  if (d.error) throw new Error(`${d.error}; the terminal showed:\n${d.output}`);
  return d;
}

const node = process.execPath;
// env: a non-interactive bash around the CLI drops PS1 from the environment.
const SHELL = ['env', 'PS1=sbx$ ', 'bash', '--norc', '--noprofile', '-i'];
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** A bash line that runs the CLI between two `stty -g` snapshots of the caller's terminal. */
function bracketed(dir: string, cliArgs: string[]): string[] {
  const cli = [node, CLI, ...cliArgs].map(q).join(' ');
  return ['bash', '-c', `stty -g > ${dir}/before; ${cli}; echo "st=$?"; stty -g > ${dir}/after`];
}

test('a shell gets a pty of its own: tty, size, resize, exit status, and the caller’s terminal restored', async () => {
  const dir = tempDir('sbx-tty-');
  const d = ok(
    await drive(bracketed(dir, ['run', ...BASE, '--', ...SHELL]), [
      { expect: 'sbx\\$ ' },
      { send: 'tty; stty size; echo A$((1+1))\r' },
      { expect: 'A2' },
      { resize: [40, 120] },
      { sleep: 0.5 },
      { send: 'stty size; echo B$((1+1))\r' },
      { expect: 'B2' },
      { send: 'exit 7\r' },
      { expect: 'st=7' },
    ]),
  );
  const [first, second] = d.output.split(/A2/);
  expect(first).toMatch(/\/dev\/pts\/\d+\r\n33 99\r\n/);
  expect(second).toMatch(/40 120\r\n/);
  // Job control is on: bash found a controlling terminal it may own.
  expect(d.output).not.toMatch(/no job control/);
  expect(d.status).toBe(0);
  expect(readFileSync(`${dir}/after`, 'utf8')).toBe(readFileSync(`${dir}/before`, 'utf8'));
});

test('job control: background jobs, Ctrl-C stops the foreground program not the shell, Ctrl-Z then fg', async () => {
  const d = ok(
    await drive([node, CLI, 'run', ...BASE, '--', ...SHELL], [
      { expect: 'sbx\\$ ' },
      { send: 'sleep 100 &\r' },
      { expect: '\\[1\\] \\d+' },
      { send: 'jobs; echo J$((1+1))\r' },
      { expect: 'Running +sleep 100 &[\\s\\S]*J2' },
      { send: 'fg\r' },
      { expect: 'sleep 100\r\n' },
      { sleep: 0.3 },
      { send: '\x03' },
      { send: 'echo "st=$?" C$((1+1)); jobs; echo K$((1+1))\r' },
      { expect: 'st=130 C2\r\n(sbx\\$ )?K2' },
      { send: 'sleep 101\r' },
      { sleep: 0.5 },
      { send: '\x1a' },
      { expect: 'Stopped +sleep 101' },
      { send: 'echo Z$((1+1)); fg\r' },
      { expect: 'Z2\r\nsleep 101\r\n' },
      { sleep: 0.3 },
      { send: '\x03' },
      { send: 'echo "st=$?" F$((1+1))\r' },
      { expect: 'st=130 F2' },
      { send: 'exit 3\r' },
    ]),
  );
  expect(d.status).toBe(3);
});

test.each([
  ['the default filter', []],
  ['--seccomp none', ['--seccomp', 'none']],
])('TIOCSTI inside reaches only the sandbox’s own pty, under %s: the caller’s terminal session sees nothing', async (_, extra) => {
  const dir = tempDir('sbx-tiocsti-');
  const planted = join(dir, 'injected');
  // The sandbox sees `dir` read-only: only the caller's shell could create `planted`.
  const inject = `import fcntl, termios, os, select
n = 0
for fd in [0, 1, 2, os.open("/dev/tty", os.O_RDWR)]:
    for c in b"touch ${planted}\\n":
        try:
            fcntl.ioctl(fd, termios.TIOCSTI, bytes([c]))
            n += 1
        except OSError:
            pass
print("pushed", n)
back = os.read(0, 4096) if select.select([0], [], [], 1)[0] else b""
print("inner[%s]" % back.decode().strip())`;
  const cli = [node, CLI, 'run', ...BASE, ...extra, '--', 'python3', '-c', inject].map(q).join(' ');
  const d = ok(
    await drive(['bash', '--norc', '--noprofile', '-c', `${cli}; echo "st=$?"; read -t 2 line; echo "GOT[$line]"`], [
      { expect: 'pushed \\d+' },
      { expect: 'st=0' },
      { expect: 'GOT\\[[^\\]]*\\]' },
    ]),
  );
  const pushed = Number(/pushed (\d+)/.exec(d.output)![1]);
  const legacy = readFileSync('/proc/sys/dev/tty/legacy_tiocsti', 'utf8').trim() === '1';
  // Where the filter and the kernel allow it, what was pushed came back on the sandbox's own terminal.
  if (pushed > 0) expect(d.output).toContain(`inner[touch ${planted}]`);
  if (extra.length > 0 && legacy) expect(pushed).toBeGreaterThan(0);
  expect(d.output).toContain('GOT[]');
  expect(existsSync(planted)).toBe(false);
  expect(d.status).toBe(0);
});

test('--no-tty: a second Ctrl-C ends the sandbox, the launcher still removes its stand-ins and exits 130', async () => {
  const project = tempDir('sbx-tty-project-');
  const marker = `600.${process.pid}${Date.now() % 100000}`;
  const d = ok(
    await drive(
      [node, CLI, 'run', '--preset', 'agent', '--no-tty', '--', 'sh', '-c', `trap "" INT; echo ready$((1+1)); sleep ${marker}`],
      [
        { expect: 'ready2' },
        { exists: join(project, '.vscode'), as: 'during' },
        { send: '\x03' },
        { sleep: 1 },
        { exists: join(project, '.vscode'), as: 'afterFirst' },
        { send: '\x03' },
      ],
      project,
    ),
  );
  // The stand-in existed, the first Ctrl-C was ignored by the program...
  expect(d.checks).toEqual({ during: true, afterFirst: true });
  // ...the second ended the sandbox, and the clean-up still ran.
  expect(d.status).toBe(130);
  expect(readdirSync(project)).toEqual([]);
  expect(hostProcessesWith(marker)).toEqual([]);
});

test('with a pty, a second SIGTERM ends a program that ignores the first; stand-ins go and the terminal is restored', async () => {
  const project = tempDir('sbx-tty-project-');
  const dir = tempDir('sbx-tty-');
  const marker = `600.${process.pid}${Date.now() % 100000}`;
  const d = ok(
    await drive(
      bracketed(dir, ['run', '--preset', 'agent', '--', 'sh', '-c', `trap "" TERM HUP; echo up$((1+1)); sleep ${marker}`]),
      [
        { expect: 'up2' },
        { exists: join(project, '.vscode'), as: 'during' },
        { kill: 'SIGTERM', exe: node, marker },
        { sleep: 1 },
        { exists: join(project, '.vscode'), as: 'afterFirst' },
        { kill: 'SIGTERM', exe: node, marker },
        { expect: 'st=143' },
      ],
      project,
    ),
  );
  expect(d.checks).toEqual({ during: true, afterFirst: true });
  expect(d.status).toBe(0);
  expect(readdirSync(project)).toEqual([]);
  expect(hostProcessesWith(marker)).toEqual([]);
  expect(readFileSync(`${dir}/after`, 'utf8')).toBe(readFileSync(`${dir}/before`, 'utf8'));
});

test('--tty without a private /dev is E_SETUP with a hint; --tty without a terminal is E_SETUP; --no-tty and background jobs get no pty', async () => {
  const dir = tempDir('sbx-tty-');
  const d = ok(await drive([node, CLI, 'run', '--ro-bind', '/', '/', '--tty', '--', 'true'], []));
  expect(d.status).toBe(125);
  expect(d.output).toMatch(/E_SETUP: .*\r\n.*hint: .*--dev \/dev.*--no-tty/);
  // Not on a terminal: --tty is refused, the default is off.
  const forced = await cli(['run', ...BASE, '--tty', '--', 'true']);
  expect(forced.code).toBe(125);
  expect(forced.stderr).toMatch(/^sandboxctl: E_SETUP: /);
  const auto = await cli(['run', ...BASE, '--', 'sh', '-c', 'tty; echo st=$?']);
  expect(auto.stdout).toBe('not a tty\nst=1\n');
  // On a terminal, --no-tty leaves the program the caller's terminal as stdio, without it as controlling terminal.
  const off = ok(
    await drive([node, CLI, 'run', ...BASE, '--no-tty', '--', 'sh', '-c', 'test -t 0 && echo isterm; (: </dev/tty) 2>/dev/null && echo ctty || echo noctty; echo done$((1+1))'], [
      { expect: 'done2' },
    ]),
  );
  expect(off.output).toMatch(/isterm\r\nnoctty\r\n/);
  // A background job (`… &` with job control) does not take the terminal over by default.
  const probe = 'test -t 0 && echo isterm; (: </dev/tty) 2>/dev/null && echo ctty || echo noctty';
  const line = [node, CLI, 'run', ...BASE, '--', 'sh', '-c', probe].map(q).join(' ');
  const bg = ok(
    await drive(['bash', '--norc', '--noprofile', '-c', `set -m; stty -g > ${dir}/before; ${line} & wait $!; stty -g > ${dir}/after; echo bg$((1+1))`], [{ expect: 'bg2' }]),
  );
  expect(bg.output).toMatch(/isterm\r\nnoctty\r\n/);
  expect(readFileSync(`${dir}/after`, 'utf8')).toBe(readFileSync(`${dir}/before`, 'utf8'));
  expect(off.status).toBe(0);
});

test('a library timeout on a program that ignores SIGTERM: the second SIGTERM ends it, the launcher cleans up and is not SIGKILLed', async () => {
  const project = tempDir('sbx-tty-project-');
  const marker = `600.${process.pid}${Date.now() % 100000}`;
  const started = Date.now();
  const r = await run({ argv: ['sh', '-c', `trap "" TERM; sleep ${marker}`], preset: { name: 'agent', cwd: project }, timeoutMs: 500 });
  expect(r).toMatchObject({ code: 143, signal: null, timedOut: true });
  expect(Date.now() - started).toBeGreaterThanOrEqual(500 + KILL_GRACE_MS);
  expect(readdirSync(project)).toEqual([]);
  expect(hostProcessesWith(marker)).toEqual([]);
});
