#!/usr/bin/env bash
# bubblewrap's own test suite, from Debian's source package, against any `bwrap`.
#
#   .ci/bwrap-suite.sh fetch                 as root: a deb-src entry for this machine's suite,
#                                            `apt-get source bubblewrap`, its test helper built
#   .ci/bwrap-suite.sh run BWRAP OUT.tsv     run the suite with $BWRAP, one line per case in OUT.tsv:
#                                            script <TAB> n <TAB> pass|fail|skip|missing <TAB> description
#   .ci/bwrap-suite.sh compare REF.tsv OURS.tsv
#                                            every case REF passes must pass in OURS; prints the counts
#                                            and each regression; exit 1 when there is one
#
# The source is never copied into the repository: it lives in $SANDBOXCTL_BWRAP_SRC
# (default /var/cache/sandboxctl/bubblewrap), readable by every user so the suite runs as
# root and as the unprivileged test user. tests/test-utils.c is left out: it unit-tests
# bubblewrap's own C helpers (utils.c), not the `bwrap` binary, so it says nothing of a
# drop-in. Python tests run with Debian's /usr/bin/python3 (python3-seccomp, python3-tap).
set -euo pipefail

src=${SANDBOXCTL_BWRAP_SRC:-/var/cache/sandboxctl/bubblewrap}
scripts=(test-run.sh test-seccomp.py test-specifying-pidns.sh test-specifying-userns.sh)
per_script_timeout=${SANDBOXCTL_BWRAP_SUITE_TIMEOUT:-600}

die() { echo "bwrap-suite: $*" >&2; exit 2; }

fetch() {
  [ "$(id -u)" = 0 ] || die "fetch needs root (apt-get)"
  if [ -x "$src/tests/try-syscall" ] && [ -f "$src/tests/test-run.sh" ]; then
    echo "bwrap-suite: source already in $src"
    return
  fi
  # deb-src entries mirroring the machine's own deb entries (its distribution and
  # suites, Debian's or Ubuntu's), in both of apt's formats.
  local list=/etc/apt/sources.list.d/sandboxctl-src.sources
  if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -rqs '^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    {
      for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && [ "$f" != "$list" ] || continue
        sed -n '/^Types:.*\bdeb\b/,/^$/p' "$f" | sed 's/^Types:.*/Types: deb-src/'
        echo
      done
      for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        sed -n 's/^deb \(.*\)/deb-src \1/p' "$f"
      done
    } > "$list.tmp"
    # One-line entries must live in a .list file.
    grep '^deb-src ' "$list.tmp" > "${list%.sources}.list" || rm -f "${list%.sources}.list"
    grep -v '^deb-src ' "$list.tmp" > "$list"
    rm -f "$list.tmp"
    grep -q '^Types: deb-src' "$list" || rm -f "$list"
    apt-get update -qq
  fi
  local need=()
  command -v dpkg-source >/dev/null || need+=(dpkg-dev)
  /usr/bin/python3 -c 'import seccomp' 2>/dev/null || need+=(python3-seccomp)
  /usr/bin/python3 -c 'import tap.runner' 2>/dev/null || need+=(python3-tap)
  command -v getpcaps >/dev/null || need+=(libcap2-bin)
  if [ ${#need[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get source -qq bubblewrap >/dev/null 2>&1) || die "apt-get source bubblewrap failed (is a deb-src entry reachable?)"
  local dir
  dir=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d -name 'bubblewrap-*' | head -1)
  [ -n "$dir" ] || die "apt-get source gave no bubblewrap-* directory"
  gcc -O2 -o "$dir/tests/try-syscall" "$dir/tests/try-syscall.c"
  mkdir -p "$(dirname "$src")"
  rm -rf "$src"
  mv "$dir" "$src"
  rm -rf "$tmp"
  chmod -R a+rX "$src"
  echo "bwrap-suite: bubblewrap $(head -1 "$src/debian/changelog" | sed 's/.*(\(.*\)).*/\1/') source and its test helper in $src"
}

# TAP on stdin -> TSV on stdout. Both of bubblewrap's styles: "ok - text" (shell)
# and "ok 3 test_x (__main__.C.test_x)" (tap.runner). A plan "1..N" larger than
# the cases seen adds "missing" rows (a script that stopped early).
tap_to_tsv() {
  local script=$1
  awk -v script="$script" '
    /^1\.\.[0-9]+/ { split($0, a, "\\.\\."); plan = a[2] + 0; next }
    /^(not )?ok( |$)/ {
      n++
      line = $0
      status = "pass"
      if (line ~ /^not ok/) { status = "fail"; sub(/^not ok */, "", line) } else { sub(/^ok */, "", line) }
      sub(/^[0-9]+ */, "", line)
      sub(/^- */, "", line)
      if (line ~ /# *SKIP/ || line ~ /# *skip/) status = "skip"
      if (status == "fail" && line ~ /# *TODO/) status = "skip"
      gsub(/\t/, " ", line)
      printf "%s\t%d\t%s\t%s\n", script, n, status, line
    }
    END { for (i = n + 1; i <= plan; i++) printf "%s\t%d\tmissing\t(not run: the script stopped before it)\n", script, i }
  '
}

run() {
  local bwrap=$1 out=$2
  [ -f "$src/tests/test-run.sh" ] || die "no bubblewrap source in $src: run '.ci/bwrap-suite.sh fetch' as root first"
  bwrap=$(command -v "$bwrap") || die "no such bwrap: $1"
  local logdir
  logdir=$(mktemp -d)
  : > "$out"
  for s in "${scripts[@]}"; do
    local interp=(bash)
    case $s in *.py) interp=(/usr/bin/python3) ;; esac
    local rc=0 pid
    # Each script cds into its own /var/tmp/tap-test.*; stdin closed, as under meson.
    # Its own process group: a script that stops early leaves its background
    # sandboxes (blocked on a fifo) behind; they are killed with the group.
    setsid env BWRAP="$bwrap" G_TEST_SRCDIR="$src" G_TEST_BUILDDIR="$src" PATH="$PATH" \
      timeout -k 10 "$per_script_timeout" "${interp[@]}" "$src/tests/$s" \
      < /dev/null > "$logdir/$s.tap" 2> "$logdir/$s.err" &
    pid=$!
    wait "$pid" || rc=$?
    kill -KILL -- "-$pid" 2>/dev/null || true
    tap_to_tsv "$s" < "$logdir/$s.tap" >> "$out"
    if [ "$rc" -ne 0 ]; then
      if ! grep -q "^$s	" "$out"; then
        printf '%s\t1\tfail\t(the script failed before any case, exit %d)\n' "$s" "$rc" >> "$out"
      fi
      echo "bwrap-suite: $s exited $rc with $bwrap; last lines of its stderr:" >&2
      tail -n 15 "$logdir/$s.err" | sed 's/^/  | /' >&2
    fi
  done
  rm -rf "$logdir"
  summarize "$out" "$bwrap"
}

summarize() {
  awk -F '\t' -v who="$2" -v user="$(id -un)" '
    { c[$3]++; t++ }
    END { printf "bwrap-suite: %s as %s: %d cases: %d pass, %d fail, %d skip, %d missing\n",
          who, user, t, c["pass"], c["fail"], c["skip"], c["missing"] }
  ' "$1"
}

compare() {
  local ref=$1 ours=$2
  # Key: script and case number; the description must match too (same case).
  awk -F '\t' '
    NR == FNR { refs[$1 "\t" $2] = $3; desc[$1 "\t" $2] = $4; next }
    { ours[$1 "\t" $2] = $3; odesc[$1 "\t" $2] = $4 }
    END {
      bad = 0; passed = 0; both = 0
      for (k in refs) {
        if (refs[k] != "pass") continue
        passed++
        if (ours[k] == "pass" && odesc[k] == desc[k]) { both++; continue }
        split(k, p, "\t")
        printf "REGRESSION %s #%s: reference passes \"%s\"; ours: %s \"%s\"\n", p[1], p[2], desc[k], (k in ours ? ours[k] : "absent"), odesc[k] | "sort -t \"#\" -k 2 -n"
        bad++
      }
      close("sort -t \"#\" -k 2 -n")
      printf "bwrap-suite: %d of the %d cases the reference passes also pass with ours\n", both, passed
      exit bad > 0
    }
  ' "$ref" "$ours"
}

case ${1:-} in
  fetch) fetch ;;
  run) [ $# -eq 3 ] || die "usage: run BWRAP OUT.tsv"; run "$2" "$3" ;;
  compare) [ $# -eq 3 ] || die "usage: compare REF.tsv OURS.tsv"; compare "$2" "$3" ;;
  *) die "usage: $0 fetch | run BWRAP OUT.tsv | compare REF.tsv OURS.tsv" ;;
esac
