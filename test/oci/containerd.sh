#!/usr/bin/env bash
# containerd (Debian's 1.6) with `ctr run --runc-binary` ours: the path
# Kubernetes takes through CRI (the runc v2 shim). Root only. A private
# containerd (temp root, state and socket; no CRI) is started and stopped
# here; the image is the busybox one test/oci/podman.sh makes.
#
#   test/oci/containerd.sh RUNTIME
set -uo pipefail
rt=$(realpath "$1")
image=localhost/sandboxctl-busybox:test
d=$(mktemp -d /tmp/sandboxctl-containerd.XXXXXX)
cat > "$d/config.toml" <<TOML
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$d/sock"
TOML
containerd --config "$d/config.toml" > "$d/log" 2>&1 &
daemon=$!
# Leave nothing behind: every task killed and deleted while the daemon still
# runs (their shims exit with them), then the daemon, its mounts and files.
cleanup() {
  for c in $(ctr -a "$d/sock" task ls -q 2>/dev/null); do
    ctr -a "$d/sock" task kill -s KILL "$c" >/dev/null 2>&1
    ctr -a "$d/sock" task delete -f "$c" >/dev/null 2>&1
  done
  for c in $(ctr -a "$d/sock" container ls -q 2>/dev/null); do ctr -a "$d/sock" container delete "$c" >/dev/null 2>&1; done
  kill $daemon 2>/dev/null; wait $daemon 2>/dev/null
  umount -R "$d/state" "$d/root" 2>/dev/null
  grep -o " $d/[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$d"
}
trap cleanup EXIT
for _ in $(seq 50); do [ -S "$d/sock" ] && break; sleep 0.1; done
C=(ctr -a "$d/sock")
podman save --format oci-archive -o "$d/image.tar" "$image" >/dev/null 2>&1
"${C[@]}" image import "$d/image.tar" >/dev/null
fail=0
check() { # name want_rc want_substring cmd...
  local name=$1 rc=$2 want=$3; shift 3
  local out; out=$(timeout 60 "$@" 2>&1); local got=$?
  if [ "$got" = "$rc" ] && [[ "$out" == *"$want"* ]]; then printf 'ok   %-10s\n' "$name"
  else printf 'FAIL %-10s rc=%s (want %s) output: %s\n' "$name" "$got" "$rc" "$(echo "$out" | tr '\n' '|' | cut -c1-300)"; fail=1; fi
}
t0=$(date +%s%N)
check run     0 "hi from ctr" "${C[@]}" run --runc-binary "$rt" --rm "$image" c1 sh -c 'echo hi from ctr'
check status  3 ""            "${C[@]}" run --runc-binary "$rt" --rm "$image" c2 sh -c 'exit 3'
check detach  0 ""            "${C[@]}" run -d --runc-binary "$rt" "$image" c3 sleep 100
check exec    0 "in exec"     "${C[@]}" task exec --exec-id e1 c3 sh -c 'echo in exec'
check exec-cgroup 0 "same-cgroup" "${C[@]}" task exec --exec-id e2 c3 sh -c 'test "$(cat /proc/self/cgroup)" = "$(cat /proc/1/cgroup)" && echo same-cgroup'
check kill    0 ""            "${C[@]}" task kill -s KILL c3
for _ in $(seq 50); do "${C[@]}" task ls | grep -q 'c3.*STOPPED' && break; sleep 0.1; done
check delete  0 ""            "${C[@]}" task delete c3
check rm      0 ""            "${C[@]}" container delete c3
echo "== containerd with $(basename "$rt"): $(( ($(date +%s%N) - t0) / 1000000 )) ms"
exit $fail
