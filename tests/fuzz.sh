#!/usr/bin/env bash
# Fuzzes every parser for a million inputs each (core/tests/fuzz_parsers.rs), in
# release mode, one target at a time, and prints a table of inputs, rate, refusals,
# peak allocation and the longest error per target. CI runs the same targets for about
# 10 s each as an ordinary `cargo test`; this is the long pass behind the figures in
# tests/README.md.
#
# Usage: tests/fuzz.sh [TARGET...]   (default: every target; names as in `--list`)
# Env: FUZZ_CASES (default 1000000), FUZZ_SECS (a time limit per target, default 0:
# none), FUZZ_SEED (default 17), FUZZ_SEEDS (a directory of extra samples laid out as
# core/tests/fixtures, e.g. the shared fixture tree), FUZZ_BIN (a fuzz_parsers binary
# already built: no build), CARGO_TARGET_DIR.
# A crash stops the run and names the input; it is also saved to
# $TMPDIR/switchboard-fuzz-TARGET.bin.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/switchboard-target}
export CARGO_TERM_COLOR=never
export SWITCHBOARD_FUZZ_CASES=${FUZZ_CASES:-1000000}
export SWITCHBOARD_FUZZ_SECS=${FUZZ_SECS:-0}
export SWITCHBOARD_FUZZ_SEED=${FUZZ_SEED:-17}
if [ -n "${FUZZ_SEEDS:-}" ]; then
  export SWITCHBOARD_FUZZ_SEEDS=$FUZZ_SEEDS
fi

bin=${FUZZ_BIN:-}
if [ -z "$bin" ]; then
  bin=$(cargo test --release --locked -p switchboard-core --test fuzz_parsers --no-run \
    --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*fuzz_parsers[^"]*\)".*/\1/p' | tail -n 1)
fi
[ -x "$bin" ] || { echo "fuzz.sh: the fuzz binary did not build" >&2; exit 1; }

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <("$bin" --list 2>/dev/null | sed -n 's/^\(fuzz_[a-z_]*\): test$/\1/p')
fi

log=$(mktemp)
trap 'rm -f "$log" "$log.one"' EXIT
failed=()
for t in "${targets[@]}"; do
  printf '=== %s (%s)\n' "$t" "$(date +%T)"
  # libtest prints `test NAME ... ` before the test's own line: each figure is put on a
  # line of its own.
  if ! "$bin" --exact "$t" --nocapture --test-threads 1 >"$log.one" 2>&1; then
    failed+=("$t")
  fi
  sed 's/^test [a-z_]* \.\.\. //' "$log.one" | tee -a "$log" |
    grep -E -A3 '^(fuzz |test result|.*panicked)' || true
done

printf '\n%-20s %10s %8s %8s %10s %8s %s\n' target inputs secs per_sec refused peak_KiB longest_error
sed -n 's/^fuzz \([a-z_]*\): \([0-9]*\) inputs in \([0-9.]*\) s (\([0-9]*\)\/s), \([0-9]*\) refused, peak \([0-9]*\) KiB allocated, longest error \([0-9]*\) chars$/\1 \2 \3 \4 \5 \6 \7/p' "$log" |
  while read -r name inputs secs rate refused peak longest; do
    printf '%-20s %10s %8s %8s %10s %8s %s\n' "$name" "$inputs" "$secs" "$rate" "$refused" "$peak" "$longest"
  done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: failed: ${failed[*]}" >&2
  exit 1
fi
