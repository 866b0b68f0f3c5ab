#!/usr/bin/env bash
# The OCI runtime's engine suites (issue 12), root only: podman's matrix
# (root and rootless), containerd through ctr, and runtime-tools'
# validation against runc. Each
# prints its own wall time. Called by scripts/test.sh after the user suites.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"
for tool in podman conmon runc containerd ctr busybox go; do
  if ! command -v "$tool" >/dev/null; then
    echo "missing $tool: apt-get install podman conmon runc containerd busybox-static golang-go"; exit 1
  fi
done
cargo build --release --quiet -p sandbox-oci
rt=$PWD/target/release/sandboxctl-oci
t0=$(date +%s)
bash test/oci/podman.sh "$rt"
echo "== podman: $(( $(date +%s) - t0 )) s"
t0=$(date +%s)
bash test/oci/containerd.sh "$rt"
echo "== containerd: $(( $(date +%s) - t0 )) s"
t0=$(date +%s)
bash test/oci/validation.sh "$rt" runc
echo "== runtime-tools validation: $(( $(date +%s) - t0 )) s"
