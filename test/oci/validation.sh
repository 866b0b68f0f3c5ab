#!/usr/bin/env bash
# runtime-tools' validation suite against sandboxctl-oci, with a reference
# runtime from Debian in the same run: every case the reference passes,
# ours must pass too. Root only (the suite needs it).
#
#   test/oci/validation.sh OURS [REFERENCE]     (REFERENCE default: runc)
#
# The module comes from the Go module proxy (test/oci/runtime-tools.version;
# the proxy here serves tagged versions only, and v0.9.0 predates the
# module's go.mod, so one is made with the dependency versions its Godeps
# pinned, near enough to build with today's Go). crun is not the reference
# on this machine: it refuses the hybrid cgroup layout ("cgroups in hybrid
# mode not supported, drop all controllers from cgroupv2"); runc runs it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ours=$(realpath "$1"); ref=${2:-runc}
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
t0=$(date +%s); run "$ref" "$out/ref"; t1=$(date +%s); run "$ours" "$out/ours"; t2=$(date +%s)
echo "== reference $ref: $((t1 - t0)) s; sandboxctl-oci: $((t2 - t1)) s; TAP in $out"

# Per program: the numbers of the `ok` lines (a `# SKIP` counts as ok).
# Sorted as text: comm needs the order of sort, not sort -n (10 before 9).
oks() { grep -E '^ok [0-9]+' "$1" 2>/dev/null | awk '{print $2}' | sort || true; }
fail=0; total_ref=0; total_ours=0
printf '%-30s %10s %10s\n' program "$ref" sandboxctl-oci
for t in "${list[@]}"; do
  r=$(oks "$out/ref/$t.tap" | wc -l); o=$(oks "$out/ours/$t.tap" | wc -l)
  missing=$(comm -23 <(oks "$out/ref/$t.tap") <(oks "$out/ours/$t.tap") | tr '\n' ' ')
  mark=""
  # Some programs race with themselves (killsig signals pid 1 as soon as
  # `start` returns, maybe before its shell has set the trap; pid 1 drops a
  # signal it has no handler for): a program that fails where the
  # reference passed runs again, twice at most, and the retry is printed.
  for retry in 1 2; do
    [ -n "$missing" ] || break
    RUNTIME="$ours" timeout 60 "validation/$t.t" > "$out/ours/$t.retry$retry.tap" 2>&1 || true
    first=$missing
    missing=$(comm -23 <(oks "$out/ref/$t.tap") <(oks "$out/ours/$t.retry$retry.tap") | tr '\n' ' ')
    mark="  (failed $first, retry $retry: ${missing:-passed})"
    o=$(oks "$out/ours/$t.retry$retry.tap" | wc -l)
  done
  if [ -n "$missing" ]; then mark="$mark  <- fails where $ref passes: $missing"; fail=1; fi
  total_ref=$((total_ref + r)); total_ours=$((total_ours + o))
  printf '%-30s %10s %10s%s\n' "$t" "$r" "$o" "$mark"
done
echo "== ok cases: $ref $total_ref, sandboxctl-oci $total_ours"
if [ $fail -ne 0 ]; then
  echo "FAIL: cases the reference passes fail for sandboxctl-oci (TAP in $out)"; exit 1
fi
rm -rf "$out"
