#!/usr/bin/env bash
# The OCI runtime's engine suites (issue 12) by hand, root only: podman's
# matrix (root and rootless), containerd through ctr, and runtime-tools'
# validation against runc, on the runtime `npm run build` put in the native
# package (`sandboxctl oci path`). Each prints its own wall time. `npm test`
# runs the same scripts through jest (test/oci/engines.test.ts); run this
# one as `unshare -m --propagation private bash test/oci/run.sh` so the
# engines' mounts stay out of the host's namespace.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"
for tool in podman conmon runc containerd ctr busybox go; do
  if ! command -v "$tool" >/dev/null; then
    echo "missing $tool: apt-get install podman conmon runc containerd busybox-static golang-go"; exit 1
  fi
done
rt=$(node packages/cli/bin/sandboxctl.js oci path)
t0=$(date +%s)
bash test/oci/podman.sh "$rt"
echo "== podman: $(( $(date +%s) - t0 )) s"
t0=$(date +%s)
bash test/oci/containerd.sh "$rt"
echo "== containerd: $(( $(date +%s) - t0 )) s"
t0=$(date +%s)
bash test/oci/validation.sh "$rt" runc
echo "== runtime-tools validation: $(( $(date +%s) - t0 )) s"
