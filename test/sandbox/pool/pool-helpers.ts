/**
 * What the pool suites share: the plan's ops, pools closed after each test,
 * host processes by marker, and the writer and checker that attack every
 * writable place and look for what the writer left.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createPool, list, type Op, type Pool } from '@sandboxctl/core';

/** `strict` shows nothing of the host: python3 and the tools need /usr. */
export const ops: Op[] = [
  { kind: 'bind', source: '/usr', target: '/usr' },
  { kind: 'symlink', target: '/bin', linkname: 'usr/bin' },
  { kind: 'symlink', target: '/lib', linkname: 'usr/lib' },
  { kind: 'symlink', target: '/lib64', linkname: 'usr/lib64' },
];

let pools: Pool[] = [];
export async function pool(options: Parameters<typeof createPool>[0]): Promise<Pool> {
  const p = await createPool({ preset: 'strict', ops, ...options });
  pools.push(p);
  return p;
}
/** Closes the pools a test made (afterEach). */
export async function closePools(): Promise<void> {
  for (const p of pools) await p.close();
  pools = [];
  expect(list()).toEqual([]);
}

/** A pool the test closed itself. */
export function forget(p: Pool): void {
  pools = pools.filter((x) => x !== p);
}

/** Host processes whose command line holds `marker`. */
export function hostProcesses(marker: string): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
    } catch {
      return false;
    }
  }).map(Number);
}

export const MARK = `pool-mark-${process.pid}`;

// Leaves a mark in every writable place it can reach and says which writes worked.
export const WRITER = `
import ctypes, json, os, socket, subprocess, sys, time
done = {}
for d in sorted({'/tmp', os.environ.get('HOME', '/tmp'), os.getcwd(), '/dev/shm', '/var/tmp', '/run', '/'}):
    try:
        open(os.path.join(d, '${MARK}'), 'w').write('x')
        done[d] = 'written'
    except OSError as e:
        done[d] = e.strerror
s = socket.socket(socket.AF_UNIX)
s.bind('\\0${MARK}'); s.listen()
done['abstract'] = 'bound'
for kind in ('-M', '-Q', '-S'):
    args = ['ipcmk', kind] + (['4096'] if kind == '-M' else ['1'] if kind == '-S' else [])
    done['sysv' + kind] = subprocess.run(args, capture_output=True).returncode
rt = ctypes.CDLL('librt.so.1', use_errno=True)
done['mq'] = rt.mq_open(b'/${MARK}', os.O_CREAT | os.O_RDWR, 0o600, None)
# The user keyring belongs to the user namespace (add_key: 248 on x86_64; -4: @u).
libc = ctypes.CDLL(None, use_errno=True)
done['key'] = libc.syscall(248, b'user', b'${MARK}', b'x', 1, ctypes.c_int(-4))
if os.fork() == 0:
    os.setsid()
    null = os.open('/dev/null', os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.execvp('python3', ['python3', '-c', 'import time; time.sleep(1000)', '${MARK}'])
print(json.dumps(done))
`;

// Looks for every mark the writer could have left.
export const CHECKER = `
import ctypes, json, os, socket
seen = {}
for d in sorted({'/tmp', os.environ.get('HOME', '/tmp'), os.getcwd(), '/dev/shm', '/var/tmp', '/run', '/'}):
    names = os.listdir(d) if os.path.isdir(d) else []
    seen[d] = any(n.startswith('${MARK}') for n in names)
s = socket.socket(socket.AF_UNIX)
try:
    s.connect('\\0${MARK}'); seen['abstract'] = True
except OSError:
    seen['abstract'] = False
for f in ('shm', 'msg', 'sem'):
    seen['sysv-' + f] = len(open('/proc/sysvipc/' + f).read().splitlines()) - 1
rt = ctypes.CDLL('librt.so.1', use_errno=True)
seen['mq'] = rt.mq_open(b'/${MARK}', os.O_RDWR, 0, None) != -1
libc = ctypes.CDLL(None, use_errno=True)
# keyctl(KEYCTL_SEARCH, @u, "user", MARK): 250 on x86_64
seen['key'] = libc.syscall(250, 10, ctypes.c_int(-4), b'user', b'${MARK}', 0) != -1
seen['pids'] = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
seen['sleepers'] = [p for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid() and b'${MARK}' in open('/proc/%s/cmdline' % p, 'rb').read()]
print(json.dumps(seen))
`;

/** Runs CHECKER in a sandbox of `p` and expects it to find none of WRITER's marks; returns what it saw. */
export async function expectNothingLeft(p: Pool): Promise<Record<string, unknown>> {
  const r = await p.run(['python3', '-c', CHECKER], { stdio: 'pipe', timeoutMs: 5000 });
  expect([r.code, r.stderr]).toEqual([0, '']);
  const seen = JSON.parse(r.stdout!) as Record<string, unknown>;
  for (const [where, value] of Object.entries(seen)) {
    if (where === 'pids') continue;
    expect([where, value]).toEqual([where, where.startsWith('sysv-') ? 0 : where === 'sleepers' ? [] : false]);
  }
  return seen;
}
