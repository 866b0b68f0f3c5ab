/**
 * The engines and the conformance suite against the shipped runtime
 * (`sandboxctl oci path`), root only: podman's matrix (root and rootless),
 * containerd through `ctr run --runc-binary`, and runtime-tools' validation
 * with crun and runc as the reference. Each script checks and prints its own cases;
 * a failing case fails the test with the script's whole output.
 */
import { describeAsRoot, requireTools, runScript, runtimePath } from './helpers';

const MINUTE = 60_000;

describeAsRoot('OCI engines', () => {
  let runtime: string;
  beforeAll(() => {
    requireTools({ podman: 'podman', conmon: 'conmon', runc: 'runc', crun: 'crun', containerd: 'containerd', ctr: 'containerd', busybox: 'busybox-static', script: 'bsdutils', newuidmap: 'uidmap', go: 'golang-go' });
    runtime = runtimePath();
  });

  test('podman 4 runs, execs, stops and removes containers through sandboxctl-oci, as root and rootless', () => {
    const r = runScript('podman.sh', [runtime], 10 * MINUTE);
    expect(r.output).toMatch(/^ok +run\b/m);
    expect(r.output).not.toMatch(/^FAIL/m);
    expect(r.status).toBe(0);
  }, 11 * MINUTE);

  test('containerd runs, execs, kills and deletes tasks with --runc-binary sandboxctl-oci', () => {
    const r = runScript('containerd.sh', [runtime], 5 * MINUTE);
    expect(r.output).toMatch(/^ok +run\b/m);
    expect(r.output).not.toMatch(/^FAIL/m);
    expect(r.status).toBe(0);
  }, 6 * MINUTE);

  test('runtime-tools validation: every case crun or runc passes, sandboxctl-oci passes', () => {
    const r = runScript('validation.sh', [runtime, 'crun', 'runc'], 25 * MINUTE);
    expect(r.output).toMatch(/^== ok cases: crun\+runc \d+, sandboxctl-oci \d+$/m);
    expect(r.status).toBe(0);
  }, 26 * MINUTE);
});
