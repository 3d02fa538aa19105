#!/usr/bin/env bash
# A production estate's size, headless: the drill at SIZE instances (default 100,000)
# from the start of the process to its first complete `status --json` (every source
# reported), with the process's peak RSS (VmHWM from /proc, sampled every 20 ms) and
# the instances the status lists. Prints one line per run; fails when a run takes
# longer than LIMIT_SECS (default 3) or lists fewer instances than SIZE.
# Usage: tests/scale.sh <switchboard binary>; env SIZE, RUNS (3), LIMIT_SECS.
set -euo pipefail
BIN=${1:?usage: tests/scale.sh <switchboard binary>}
SIZE=${SIZE:-100000}
RUNS=${RUNS:-3}
LIMIT_SECS=${LIMIT_SECS:-3}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

status=0
for run in $(seq "$RUNS"); do
  start=$(date +%s.%N)
  "$BIN" --drill --drill-size "$SIZE" --data-dir "$TMP/data" \
    status --json --wait 60 >"$TMP/status.json" 2>"$TMP/stderr" &
  pid=$!
  peak=0
  while kill -0 "$pid" 2>/dev/null; do
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "${hwm:-0}" -gt "$peak" ] && peak=$hwm
    sleep 0.02
  done
  wait "$pid" || { echo "run $run: status failed:"; cat "$TMP/stderr"; exit 1; }
  end=$(date +%s.%N)
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')
  instances=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["instances"]["total"])' "$TMP/status.json")
  bytes=$(stat -c %s "$TMP/status.json")
  printf 'run %s: first complete status of %s instances in %.2f s, peak RSS %d MB, status JSON %.1f MB\n' \
    "$run" "$instances" "$secs" $((peak / 1024)) "$(awk -v b="$bytes" 'BEGIN {print b / 1e6}')"
  if awk -v s="$secs" -v l="$LIMIT_SECS" 'BEGIN {exit !(s > l)}' || [ "$instances" -lt "$SIZE" ]; then
    status=1
  fi
done
exit $status
