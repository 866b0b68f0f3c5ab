/**
 * The escape suite once more, inside an OCI container (issue 12): every
 * probe of test/sandbox/escape/probes.ts, run by `sbx-try` in a bundle made
 * by hand (config.json from `sandboxctl oci spec`, the host's /usr bound in
 * read-only, a tmpfs /tmp, the probe binary and the runtime itself bound where
 * the sandbox suites put sbx-try and sandboxctl-init), through
 * `sandboxctl-oci run --bundle DIR ID` with its own `--root`. Each probe's
 * answer must be one the sandbox suite accepts, except the few listed in
 * OCI_EXPECTED, where a container of runc's default spec (real root, no user
 * namespace, runc's three default capabilities; no `linux.seccomp`, so our
 * default filter, the one `sandboxctl run` loads) legitimately answers
 * otherwise: each has its own answer and its reason. EXTRA adds attacks of
 * the classes that filter closes; the second suite checks what no spec can
 * turn off. Root only, like the other OCI suites.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probes } from '../sandbox/escape/probes';
import { INIT_IN, TRY, TRY_IN } from '../sandbox/helpers';
import { CLI, describeAsRoot, runtimePath } from './helpers';

/**
 * Probes a container of `sandboxctl oci spec` answers differently from a
 * sandbox for a reason that is the spec's, not a hole (keyed by the probe's
 * sbx-try arguments): the answers expected, why. In a sandbox pid 1 is our
 * init; in a container it is the program itself (runc's model), and the
 * program is real root holding runc's three default capabilities only.
 */
const OCI_EXPECTED: Record<string, [string[], string]> = {
  'read /proc/1/exe': [['ok'], 'pid 1 is the container\'s own program: its /bin/sh, from the read-only /usr'],
  'read /proc/1/mem': [['EIO'], 'pid 1 is the container\'s own program: allowed, offset 0 is unmapped'],
  'read /proc/1/environ': [['ok'], 'pid 1 is the container\'s own program: its environment is the spec\'s'],
  'read /proc/1/root/etc/passwd': [['ENOENT'], 'pid 1\'s root is the container\'s rootfs (no /etc), not a setup root'],
  'open /proc/1/cwd/. r': [['ok'], 'pid 1\'s cwd is the container\'s /'],
  'syscall setns-pid1-mnt': [['EPERM'], 'our filter refuses setns (the sandbox\'s EACCES is its non-dumpable init, which the kernel checks first there)'],
};

/**
 * More attacks of the classes our default filter closes in a container
 * (issue 12), beyond the sandbox suite's probes: the other io_uring calls,
 * process_vm_writev on itself, TIOCSETD to N_TTY.
 */
const EXTRA: [string, string, string[]][] = [
  ['io_uring_enter without a ring', 'syscall io_uring_enter', ['EPERM']],
  ['io_uring_register without a ring', 'syscall io_uring_register', ['EPERM']],
  ['process_vm_writev into itself (ptrace without ptrace)', 'syscall process_vm_writev-self', ['EPERM']],
  ['TIOCSETD even back to N_TTY', 'syscall ioctl-tiocsetd-ntty', ['EPERM']],
];

/** The probes (name, sbx-try args) that must be refused whatever the spec grants: no capability lifts them (oci/seccomp.rs lifted_by). */
const NEVER_LIFTED = [...probes, ...EXTRA].filter(([, a]) => /^syscall (ioctl-|keyctl|add_key|request_key|io_uring|socket-vsock|modify_ldt|int80-|x32-)/.test(a));
const TTY = NEVER_LIFTED.filter(([, a]) => a.startsWith('syscall ioctl-'));

/** The parts of `oci spec`'s config.json the suites change. */
interface Spec {
  mounts: object[];
  process: { args: string[]; capabilities?: Record<string, string[]>; noNewPrivileges?: boolean };
  linux: { seccomp?: object };
}

/**
 * Runs `list` in one container of `oci spec`'s default spec changed by
 * `patch`, through `sandboxctl-oci run`; every answer by probe name. Checks
 * that run leaves no state and no mount behind.
 */
function runProbes(dir: string, runtime: string, list: [string, string, string[]][], patch: (spec: Spec) => void): Map<string, string> {
  const answers = new Map<string, string>();
  const bundle = join(dir, 'bundle');
  mkdirSync(join(bundle, 'rootfs'), { recursive: true });
  for (const [link, target] of [['bin', 'usr/bin'], ['lib', 'usr/lib'], ['lib64', 'usr/lib64']]) symlinkSync(target!, join(bundle, 'rootfs', link!));
  const spec = JSON.parse(execFileSync(process.execPath, [CLI, 'oci', 'spec'], { encoding: 'utf8' })) as Spec;
  spec.mounts.push(
    { destination: '/usr', type: 'bind', source: '/usr', options: ['rbind', 'ro', 'nosuid', 'nodev'] },
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
    { destination: TRY_IN, type: 'bind', source: TRY, options: ['bind', 'ro'] },
    // The runtime's own binary where the sandbox suites bind sandboxctl-init (runc CVE-2019-5736 overwrote the runtime).
    { destination: INIT_IN, type: 'bind', source: runtime, options: ['bind', 'ro'] },
  );
  // pid 1 is a shell that only waits for the one running the probes: a
  // PTRACE_ATTACH that succeeds would leave pid 1 stopped when the tracer
  // exits, so every probe is followed by SIGCONT to pid 1 (SIGCONT resumes
  // even where pid 1 ignores the signal).
  const script = list.map(([, args], i) => `echo "${i} $(${TRY_IN} ${args} 2>&1)"; kill -CONT 1`).join('\n');
  spec.process.args = ['/bin/sh', '-c', '/bin/sh -c "$0"; exit $?', script];
  patch(spec);
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  const root = join(dir, 'state');
  const id = `sbx-escape-${process.pid}`;
  const r = spawnSync(runtime, ['--root', root, 'run', '--bundle', bundle, id], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
  try {
    expect([r.status, r.stderr]).toEqual([0, '']);
    for (const line of r.stdout.trim().split('\n')) {
      const [i, ...rest] = line.split(' ');
      answers.set(list[Number(i)]![0], rest.join(' '));
    }
    // run deletes what it made: no state left under --root, no mount of the bundle's here.
    expect(existsSync(root) ? readdirSync(root) : []).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(dir))).toEqual([]);
  } finally {
    spawnSync(runtime, ['--root', root, 'delete', '--force', id]);
  }
  return answers;
}

describeAsRoot('the escape suite inside an OCI container', () => {
  const answers = new Map<string, string>();
  let dir: string;
  let runtime: string;

  beforeAll(() => {
    if (!existsSync(TRY)) throw new Error(`${TRY} is missing: cargo build --release -p sandbox-testkit`);
    runtime = runtimePath();
    dir = mkdtempSync(join(tmpdir(), 'sandboxctl-oci-escape-'));
    for (const [k, v] of runProbes(dir, runtime, [...probes, ...EXTRA], () => {})) answers.set(k, v);
    const same = probes.filter(([name, , expected]) => expected.includes(answers.get(name) ?? '')).length;
    const own = (table: Record<string, [string[], string]>) => probes.filter(([, a]) => a in table).map(([name, a, expected]) => `  ${a}: ${answers.get(name)} (sandbox: ${expected.join(' or ')}): ${table[a]![1]}`);
    process.stdout.write(
      [`OCI escape suite: ${probes.length} probes, ${same} answered as in a sandbox`, 'OCI-specific answers:', ...own(OCI_EXPECTED), ''].join('\n'),
    );
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test.each(probes)('%s', (name, args, expected) => {
    const oci = OCI_EXPECTED[args];
    expect(oci ? oci[0] : expected).toContain(answers.get(name) ?? 'no answer');
  });

  test.each(EXTRA)('%s', (name, _args, expected) => {
    expect(expected).toContain(answers.get(name) ?? 'no answer');
  });

  test('the tables name only probes that exist, none twice', () => {
    const all = new Set(probes.map(([, args]) => args));
    expect(all.size).toBe(probes.length);
    expect(Object.keys(OCI_EXPECTED).filter((k) => !all.has(k))).toEqual([]);
    expect(EXTRA.filter(([, a]) => all.has(a))).toEqual([]);
  });
});

/** linux/capability.h, in number order. */
const CAP_NAMES = ['CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF', 'CHECKPOINT_RESTORE'].map((c) => `CAP_${c}`);

/**
 * What no spec turns off: a spec with its own filter (here one that allows
 * everything) still gets our terminal deny list stacked on it; a spec
 * without one that grants every capability (podman --privileged sends no
 * filter) gets the calls those capabilities lift back, and nothing else.
 */
describeAsRoot('our filter under a spec that asks for more', () => {
  let dir: string;
  let runtime: string;
  /** Each probe whose answer is not one of those expected, with the answer. */
  const wrong = (list: [string, string, string[]][], answers: Map<string, string>) =>
    list.filter(([name, , expected]) => !expected.includes(answers.get(name) ?? 'no answer')).map(([name, , expected]) => `${name}: ${answers.get(name)} (expected ${expected.join(' or ')})`);

  beforeAll(() => {
    if (!existsSync(TRY)) throw new Error(`${TRY} is missing: cargo build --release -p sandbox-testkit`);
    runtime = runtimePath();
    dir = mkdtempSync(join(tmpdir(), 'sandboxctl-oci-escape-more-'));
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a spec filter that allows everything: the terminal ioctls are still refused', () => {
    const answers = runProbes(join(dir, 'allow'), runtime, TTY, (spec) => {
      spec.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW' };
    });
    expect(wrong(TTY, answers)).toEqual([]);
  });

  test('every capability we hold and no filter: mount and unshare come back, the keyring, io_uring, vsock and the rest do not', () => {
    // Every capability this harness holds (it may lack some: CAP_SYS_RESOURCE here), so capset can grant them.
    const bnd = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]}`);
    const names = CAP_NAMES.filter((_, i) => (bnd >> BigInt(i)) & 1n);
    expect(names).toContain('CAP_SYS_ADMIN');
    const lifted: [string, string, string[]][] = [['nested user namespace, lifted by CAP_SYS_ADMIN', 'syscall unshare-user', ['ok']]];
    const list = [...NEVER_LIFTED, ...lifted];
    const answers = runProbes(join(dir, 'privileged'), runtime, list, (spec) => {
      spec.process.capabilities = { bounding: names, effective: names, permitted: names };
      spec.process.noNewPrivileges = false;
    });
    expect(wrong(list, answers)).toEqual([]);
  });
});
