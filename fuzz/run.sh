#!/usr/bin/env bash
# `npm run fuzz [-- SECONDS [TARGET]]`: a short libFuzzer run (default 30 s)
# of a cargo-fuzz target (default plan_check) over the seed corpus and the
# plan dictionary. Installs cargo-fuzz from crates.io when missing. Uses the
# nightly toolchain when rustup has one, else stable with RUSTC_BOOTSTRAP=1
# (cargo-fuzz passes -Z flags). Exits non-zero on a crash; the input that
# crashed is in fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-30}
target=${2:-plan_check}
export PATH="$HOME/.cargo/bin:$PATH"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz (cargo install cargo-fuzz --locked)"
  cargo install cargo-fuzz --locked
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  toolchain=()
  export RUSTC_BOOTSTRAP=1
fi

mkdir -p "corpus/$target"
echo "== cargo ${toolchain[*]:-} fuzz run $target for ${secs}s"
cargo "${toolchain[@]}" fuzz run "$target" "corpus/$target" "seeds/$target" -- \
  -dict=plan.dict -max_len=65536 -timeout=10 -max_total_time="$secs" -print_final_stats=1 2>&1 |
  tee "corpus/$target.log" | grep -E '^(#[0-9]+[[:space:]]+(INITED|DONE)|Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|panicked|artifact_prefix|Test unit written)' || true
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
  echo "fuzz: $target failed (status $status); log in fuzz/corpus/$target.log" >&2
  exit "$status"
fi
echo "fuzz: $target ran ${secs}s without a crash; corpus in fuzz/corpus/$target"
