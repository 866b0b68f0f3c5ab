/**
 * The escape suite once more, inside an OCI container (issue 12): every
 * probe of test/sandbox/escape/probes.ts, run by `sbx-try` in a bundle made
 * by hand (config.json from `sandboxctl oci spec`, the host's /usr bound in
 * read-only, a tmpfs /tmp, the probe binary and the runtime itself bound where
 * the sandbox suites put sbx-try and sandboxctl-init), through
 * `sandboxctl-oci run --bundle DIR ID` with its own `--root`. Each probe's
 * answer must be one the sandbox suite accepts, except the few listed in
 * OCI_EXPECTED, where a container of runc's default spec (real root, no user
 * namespace, runc's three default capabilities, no seccomp filter of ours)
 * legitimately answers otherwise: each has its own answer and its reason.
 * Root only, like the other OCI suites.
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
  'syscall ptrace-pid1': [['ok'], 'pid 1 is the container\'s own program (same uid and capabilities), not our init'],
  'syscall ptrace-traceme': [['ok'], 'no seccomp filter in the spec; the tracer would be the container\'s own shell'],
  'vm-read 1': [['EFAULT'], 'pid 1 is the container\'s own program: allowed, the probe\'s address is unmapped'],
  'read /proc/1/exe': [['ok'], 'pid 1 is the container\'s own program: its /bin/sh, from the read-only /usr'],
  'read /proc/1/mem': [['EIO'], 'pid 1 is the container\'s own program: allowed, offset 0 is unmapped'],
  'read /proc/1/environ': [['ok'], 'pid 1 is the container\'s own program: its environment is the spec\'s'],
  'read /proc/1/root/etc/passwd': [['ENOENT'], 'pid 1\'s root is the container\'s rootfs (no /etc), not a setup root'],
  'open /proc/1/cwd/. r': [['ok'], 'pid 1\'s cwd is the container\'s /'],
  'syscall setns-pid1-mnt': [['EPERM'], 'no CAP_SYS_ADMIN (the sandbox\'s EACCES is its non-dumpable init)'],
  'syscall clone3': [['EINVAL'], 'no seccomp filter in the spec, so nothing to hide flags from; the probe\'s bogus args fail'],
  'syscall open_tree': [['ok'], 'an O_PATH fd of its own tree; OPEN_TREE_CLONE needs CAP_SYS_ADMIN'],
  'syscall fsconfig': [['EINVAL'], 'no filter: the probe\'s bad fd fails first; fsopen needs CAP_SYS_ADMIN (EPERM above)'],
  'syscall mount_setattr': [['EINVAL'], 'no filter: the probe\'s bad arguments fail first; mounting needs CAP_SYS_ADMIN'],
  'syscall move_mount': [['EPERM'], 'no filter: CAP_SYS_ADMIN missing'],
  'syscall fsopen': [['EPERM'], 'no filter: CAP_SYS_ADMIN missing'],
  'syscall fsmount': [['EPERM'], 'no filter: CAP_SYS_ADMIN missing'],
  'syscall fspick': [['EPERM'], 'no filter: CAP_SYS_ADMIN missing'],
  'syscall setns': [['EBADF'], 'no filter: the probe\'s fd is bad; joining needs CAP_SYS_ADMIN'],
  'syscall perf_event_open': [['EFAULT'], 'no filter: the probe\'s null attr fails before the paranoid check'],
  'syscall clock_settime': [['EFAULT'], 'no filter: the probe\'s null time fails before the CAP_SYS_TIME check'],
  'syscall adjtimex': [['ok'], 'no filter: modes 0 only reads the clock; setting needs CAP_SYS_TIME'],
  'syscall personality-linux32': [['ok'], 'its own execution domain; noNewPrivileges keeps set-id binaries from inheriting it'],
  'syscall personality-no-aslr': [['ok'], 'its own ASLR; noNewPrivileges keeps set-id binaries from inheriting it'],
  'syscall move_pages': [['ok'], 'its own pages'],
  'syscall set_mempolicy': [['ok'], 'its own memory policy'],
  'syscall socket-packet': [['EPERM'], 'no filter: the kernel refuses AF_PACKET, CAP_NET_RAW missing'],
  'syscall quotactl': [['ENODEV', 'EPERM'], 'no filter: the probe\'s device does not exist; quotas need CAP_SYS_ADMIN'],
  ...Object.fromEntries(['init_module', 'finit_module', 'delete_module', 'kexec_load', 'kexec_file_load', 'uselib'].map((c) => [`syscall ${c}`, [['ENOSYS', 'EPERM'], 'no filter: the kernel may be built without it (ENOSYS), else CAP_SYS_MODULE/BOOT missing']])),
  ...Object.fromEntries(['setxattr', 'fsetxattr', 'setxattrat'].map((c) => [`xattr ${c} /tmp/sbx-cap-${c} security.capability`, [['EPERM'], 'no filter: the kernel refuses, CAP_SETFCAP missing']])),
  // Set-uid files on the container's own tmpfs /tmp (nosuid, gone with the
  // container) by its root, the file's owner: what runc allows too.
  ...Object.fromEntries(probes.filter(([, a]) => a.startsWith('mode ')).map(([, a]) => [a, [['ok'], 'set-id bits on the container\'s own nosuid tmpfs, by the file\'s owner (no seccomp in the spec)']])),
};

/**
 * Holes in a container of the default spec, reported (issue 12): the spec
 * from `sandboxctl oci spec` has no `linux.seccomp`, and the runtime adds no
 * filter of its own ("Not yet" in docs/oci.md), so kernel attack surface a
 * sandbox filters stays reachable. Pinned to today's answer so a fix shows
 * up here: move the probe out of this table then.
 */
const OCI_GAPS: Record<string, [string[], string]> = {
  'syscall unshare-user': [['ok'], 'nested user namespace (CVE-2022-0185 class): no default filter'],
  'syscall clone-newuser': [['ok'], 'nested user namespace: no default filter'],
  'syscall int80-unshare-user': [['ok'], 'nested user namespace through the i386 ABI: no default filter'],
  // Keys are not namespaced: the container's real root shares uid 0's user keyring with the host.
  'syscall keyctl': [['EINVAL'], 'kernel keyring reachable (CVE-2016-0728 class): no default filter'],
  'syscall add_key': [['EINVAL'], 'kernel keyring reachable: no default filter'],
  'syscall request_key': [['ENOKEY'], 'kernel keyring reachable: no default filter'],
  'syscall modify_ldt': [['ok'], 'modify_ldt reachable: no default filter (Docker\'s profile denies it)'],
  'syscall socket-vsock': [['ok'], 'AF_VSOCK reachable: no default filter'],
  'syscall io_uring_setup': [['ok'], 'io_uring reachable: no default filter'],
  // Without a filter TIOCSTI reaches whatever terminal fd 0 is: here a pipe
  // (ENOTTY); `oci run` from a terminal with process.terminal false hands the
  // caller's own terminal in, as runc does.
  ...Object.fromEntries(probes.filter(([, a]) => /ioctl-(tiocsti|tioclinux|tiocsetd|tioccons|tiocvhangup|tiocslcktrmios|kdskbsent|vt-activate)/.test(a)).map(([, a]) => [a, [['ENOTTY'], 'terminal ioctls unfiltered; stdio here are pipes, so ENOTTY']])),
};

describeAsRoot('the escape suite inside an OCI container', () => {
  const answers = new Map<string, string>();
  let dir: string;
  let runtime: string;

  beforeAll(() => {
    if (!existsSync(TRY)) throw new Error(`${TRY} is missing: cargo build --release -p sandbox-testkit`);
    runtime = runtimePath();
    dir = mkdtempSync(join(tmpdir(), 'sandboxctl-oci-escape-'));
    const bundle = join(dir, 'bundle');
    mkdirSync(join(bundle, 'rootfs'), { recursive: true });
    for (const [link, target] of [['bin', 'usr/bin'], ['lib', 'usr/lib'], ['lib64', 'usr/lib64']]) symlinkSync(target!, join(bundle, 'rootfs', link!));
    const spec = JSON.parse(execFileSync(process.execPath, [CLI, 'oci', 'spec'], { encoding: 'utf8' }));
    spec.mounts.push(
      { destination: '/usr', type: 'bind', source: '/usr', options: ['rbind', 'ro', 'nosuid', 'nodev'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
      { destination: TRY_IN, type: 'bind', source: TRY, options: ['bind', 'ro'] },
      // The runtime's own binary where the sandbox suites bind sandboxctl-init (runc CVE-2019-5736 overwrote the runtime).
      { destination: INIT_IN, type: 'bind', source: runtime, options: ['bind', 'ro'] },
    );
    // pid 1 is a shell that only waits for the one running the probes: the
    // PTRACE_ATTACH probe succeeds here (see OCI_EXPECTED) and leaves pid 1
    // stopped when the tracer exits, so every probe is followed by SIGCONT
    // to pid 1 (SIGCONT resumes even where pid 1 ignores the signal).
    const script = probes.map(([, args], i) => `echo "${i} $(${TRY_IN} ${args} 2>&1)"; kill -CONT 1`).join('\n');
    spec.process.args = ['/bin/sh', '-c', '/bin/sh -c "$0"; exit $?', script];
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
    const root = join(dir, 'state');
    const id = `sbx-escape-${process.pid}`;
    const r = spawnSync(runtime, ['--root', root, 'run', '--bundle', bundle, id], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
    try {
      expect([r.status, r.stderr]).toEqual([0, '']);
      for (const line of r.stdout.trim().split('\n')) {
        const [i, ...rest] = line.split(' ');
        answers.set(probes[Number(i)]![0], rest.join(' '));
      }
      // run deletes what it made: no state left under --root, no mount of the bundle's here.
      expect(existsSync(root) ? readdirSync(root) : []).toEqual([]);
      expect(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(dir))).toEqual([]);
    } finally {
      spawnSync(runtime, ['--root', root, 'delete', '--force', id]);
    }
    const same = probes.filter(([name, , expected]) => expected.includes(answers.get(name) ?? '')).length;
    const own = (table: Record<string, [string[], string]>) => probes.filter(([, a]) => a in table).map(([name, a, expected]) => `  ${a}: ${answers.get(name)} (sandbox: ${expected.join(' or ')}): ${table[a]![1]}`);
    process.stdout.write(
      [`OCI escape suite: ${probes.length} probes, ${same} answered as in a sandbox`, 'OCI-specific answers:', ...own(OCI_EXPECTED), 'Known holes (no default seccomp filter):', ...own(OCI_GAPS), ''].join('\n'),
    );
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test.each(probes)('%s', (name, args, expected) => {
    const oci = OCI_GAPS[args] ?? OCI_EXPECTED[args];
    expect(oci ? oci[0] : expected).toContain(answers.get(name) ?? 'no answer');
  });

  test('the tables name only probes that exist, none twice', () => {
    const all = new Set(probes.map(([, args]) => args));
    expect(all.size).toBe(probes.length);
    expect([...Object.keys(OCI_EXPECTED), ...Object.keys(OCI_GAPS)].filter((k) => !all.has(k))).toEqual([]);
    expect(Object.keys(OCI_GAPS).filter((k) => k in OCI_EXPECTED)).toEqual([]);
  });
});
