#!/usr/bin/env bash
# runtime-tools' validation suite against sandboxctl-oci, with a reference
# runtime from Debian in the same run: every case the reference passes,
# ours must pass too. Root only (the suite needs it).
#
#   test/oci/validation.sh OURS [REFERENCE...]     (default: crun runc)
#
# Every case any reference passes must pass for ours. The module comes from
# the Go module proxy (test/oci/runtime-tools.version; the proxy here serves
# tagged versions only, and v0.9.0 predates the module's go.mod, so one is
# made with the dependency versions its Godeps pinned, near enough to build
# with today's Go). Debian's crun refuses a hybrid cgroup layout ("cgroups in
# hybrid mode not supported, drop all controllers from cgroupv2"): in a
# private mount namespace (the test runs this script under `unshare -m`) the
# cgroup2 mount at /sys/fs/cgroup/unified is taken away first, so every
# runtime here sees the same v1-only layout and crun runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ours=$(realpath "$1"); shift
refs=("$@"); [ ${#refs[@]} -gt 0 ] || refs=(crun runc)
if mountpoint -q /sys/fs/cgroup/unified && [ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ]; then
  umount -l /sys/fs/cgroup/unified
  echo "== /sys/fs/cgroup/unified unmounted in this mount namespace (v1 only, for crun)"
fi
version=$(cat "$here/runtime-tools.version")
work=${SANDBOXCTL_RT_DIR:-/tmp/sandboxctl-runtime-tools-$version}
export GOPATH=${GOPATH:-$work/gopath} GOFLAGS=-mod=mod CGO_ENABLED=0
export PATH="$PATH:/usr/local/go/bin"
mapfile -t list < <(grep -v '^#' "$here/validation.list")

if [ ! -x "$work/rt/runtimetest" ]; then
  echo "== runtime-tools $version: download and build (once per machine)"
  t0=$(date +%s)
  mkdir -p "$work"
  dir=$(cd "$work" && go mod download -json "github.com/opencontainers/runtime-tools@$version" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  rm -rf "$work/rt"; cp -r "$dir" "$work/rt"; chmod -R u+w "$work/rt"
  cd "$work/rt"
  rm -rf Godeps
  [ -f go.mod ] || go mod init github.com/opencontainers/runtime-tools >/dev/null 2>&1
  go get github.com/opencontainers/runtime-spec@v1.0.2 github.com/satori/go.uuid@v1.1.0 github.com/opencontainers/selinux@v1.0.0 >/dev/null 2>&1
  go mod tidy >/dev/null 2>&1 || true
  go build -o runtimetest ./cmd/runtimetest
  echo "   built in $(( $(date +%s) - t0 )) s"
fi
cd "$work/rt"
for t in "${list[@]}"; do [ -x "validation/$t.t" ] || go build -o "validation/$t.t" "./validation/$t"; done

run() { # runtime outdir
  mkdir -p "$2"
  printf '%s\n' "${list[@]}" | xargs -P 2 -I{} sh -c "RUNTIME='$1' timeout 60 validation/{}.t > '$2/{}.tap' 2>&1; echo \$? > '$2/{}.rc'"
}
out=$(mktemp -d /tmp/sandboxctl-validation.XXXXXX)
for r in "${refs[@]}"; do
  t0=$(date +%s); run "$r" "$out/$r"; echo "== reference $r: $(( $(date +%s) - t0 )) s"
done
t0=$(date +%s); run "$ours" "$out/ours"; echo "== sandboxctl-oci: $(( $(date +%s) - t0 )) s; TAP in $out"
# Per program: its `ok` cases (a `# SKIP` counts as ok), each named by its
# description and the how-many-th time that description appears, not by its
# number: a runtime that fails an early check shifts every later number
# (runc fails memory checks crun passes, and then its "memory swap" is
# number 15 where crun's is 14). Sorted for comm.
oks() { grep -E '^ok [0-9]+' "$1" 2>/dev/null | sed -E 's/^ok [0-9]+ *-? *//; s/ *# *SKIP.*//' | awk '{ n[$0]++; print $0 " #" n[$0] }' | LC_ALL=C sort || true; }
# Cases a reference passes that ours fails on purpose, each with its reason
# (printed every run): program, the case as oks names it, why.
known=(
  'hooks_stdin|the state of the container MUST be passed to "prestart" hook over stdin #1|compares the pid the hook got with the one `state` gives once the container has stopped; our `state` has no pid then (issue 12: state never points at a recycled pid); crun reports the stale one, runc fails it too'
  'hooks_stdin|the state of the container MUST be passed to "poststart" hook over stdin #1|the same pid comparison as prestart'
)
# The union of the references' ok cases, per program, as the reference,
# less the known ones.
mkdir -p "$out/ref"
for t in "${list[@]}"; do
  for r in "${refs[@]}"; do oks "$out/$r/$t.tap"; done | LC_ALL=C sort -u > "$out/ref/$t.all"
  printf '%s\n' "${known[@]}" | awk -F'|' -v t="$t" '$1 == t { print $2 }' | LC_ALL=C sort > "$out/ref/$t.known"
  comm -23 "$out/ref/$t.all" "$out/ref/$t.known" > "$out/ref/$t.oks"
done
for k in "${known[@]}"; do IFS='|' read -r t c why <<< "$k"; echo "== known difference, $t: $c: $why"; done
ref=$(IFS=+; echo "${refs[*]}")
fail=0; total_ref=0; total_ours=0
declare -A total
printf '%-30s' program; for r in "${refs[@]}"; do printf ' %10s' "$r"; done; printf ' %10s %10s\n' "$ref" sandboxctl-oci
for t in "${list[@]}"; do
  printf '%-30s' "$t"
  for x in "${refs[@]}"; do n=$(oks "$out/$x/$t.tap" | wc -l); total[$x]=$(( ${total[$x]:-0} + n )); printf ' %10s' "$n"; done
  r=$(wc -l < "$out/ref/$t.oks"); o=$(oks "$out/ours/$t.tap" | wc -l)
  missing=$(comm -23 "$out/ref/$t.oks" <(oks "$out/ours/$t.tap") | tr '\n' ';')
  mark=""
  # Some programs race with themselves (killsig signals pid 1 as soon as
  # `start` returns, maybe before its shell has set the trap; pid 1 drops a
  # signal it has no handler for): a program that fails where the
  # reference passed runs again, twice at most, and the retry is printed.
  for retry in 1 2; do
    [ -n "$missing" ] || break
    RUNTIME="$ours" timeout 60 "validation/$t.t" > "$out/ours/$t.retry$retry.tap" 2>&1 || true
    first=$missing
    missing=$(comm -23 "$out/ref/$t.oks" <(oks "$out/ours/$t.retry$retry.tap") | tr '\n' ';')
    mark="  (failed $first, retry $retry: ${missing:-passed})"
    o=$(oks "$out/ours/$t.retry$retry.tap" | wc -l)
  done
  if [ -n "$missing" ]; then mark="$mark  <- fails where $ref passes: $missing"; fail=1; fi
  total_ref=$((total_ref + r)); total_ours=$((total_ours + o))
  printf ' %10s %10s%s\n' "$r" "$o" "$mark"
done
for x in "${refs[@]}"; do printf '== ok cases: %s %s\n' "$x" "${total[$x]}"; done
echo "== ok cases: $ref $total_ref, sandboxctl-oci $total_ours"
if [ $fail -ne 0 ]; then
  echo "FAIL: cases the reference passes fail for sandboxctl-oci (TAP in $out)"; exit 1
fi
rm -rf "$out"
