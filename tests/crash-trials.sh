#!/usr/bin/env bash
# The crash trials' long run: the real console (`switchboard`) killed with SIGKILL at
# random moments, 1,000 times per scenario (notes being saved, a fencing workflow
# journaling its steps, a recording rolling segments, retention pruning), every
# acknowledged note, journal run and segment checked after each kill
# (app/tests/crash_trials/). CI runs the same scenarios 40 times each as an ordinary
# `cargo test`; this is the long pass behind the figures in tests/README.md.
#
# Usage: tests/crash-trials.sh [SCENARIO...]   (notes, workflow, segments, retention;
# default: all four, two at a time)
# Env: CRASH_TRIALS (default 1000), CRASH_SEED (repeat a run's kill moments),
# CARGO_TARGET_DIR. The workflow scenario needs Debian's fence-agents (`fence_dummy`):
# `tests/rig/rig.sh install fence` installs them; without them it is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/switchboard-target}
export CARGO_TERM_COLOR=never
export CRASH_TRIALS=${CRASH_TRIALS:-1000}
if command -v fence_dummy >/dev/null || [ -x /usr/sbin/fence_dummy ]; then
  export SWITCHBOARD_RIG="${SWITCHBOARD_RIG:-} fence"
  export PATH=$PATH:/usr/sbin
else
  echo "crash-trials.sh: no fence_dummy (tests/rig/rig.sh install fence): the workflow scenario is skipped" >&2
fi

bin=$(cargo test --locked -p switchboard --test crash_trials --no-run --message-format=json 2>/dev/null |
  sed -n 's/.*"executable":"\([^"]*crash_trials[^"]*\)".*/\1/p' | tail -n 1)
[ -x "$bin" ] || { echo "crash-trials.sh: the trial binary did not build" >&2; exit 1; }
# The console and the trials, copied aside: a build meanwhile does not swap them mid-run.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$bin" "$work/crash_trials"
cp "$CARGO_TARGET_DIR/debug/switchboard" "$work/switchboard"
export CRASH_TRIALS_BIN=$work/switchboard

declare -A test_of=(
  [notes]=notes::notes_acknowledged_survive_sigkill
  [workflow]=workflow::workflow_runs_killed_mid_run_are_never_left_running
  [segments]=recording::segments_of_a_killed_recording_all_replay
  [retention]=recording::pruning_killed_midway_breaks_no_start_and_spares_the_live_segment
)
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(segments workflow retention notes)
names=()
for s in "${scenarios[@]}"; do
  [ -n "${test_of[$s]:-}" ] || { echo "crash-trials.sh: no scenario $s" >&2; exit 2; }
  names+=("${test_of[$s]}")
done

started=$(date +%s)
log=$work/log
status=0
# Two scenarios at a time: the machine has two cores.
"$work/crash_trials" --exact "${names[@]}" --nocapture --test-threads 2 >"$log" 2>&1 || status=$?
grep -E '^(crash trials: .* trial |test result|.*panicked)' "$log" | head -n 40 || true

printf '\n%-10s %7s %8s %5s %8s %7s  %s\n' scenario trials killed lost failures secs found
sed -n 's/^crash-trials: \([a-z]*\) | \([0-9]*\) trials | \([0-9]*\) killed mid-run | \([0-9]*\) lost | \([0-9]*\) failures | \(.*\) | \([0-9.]*\) s$/\1|\2|\3|\4|\5|\7|\6/p' "$log" |
  while IFS='|' read -r name trials killed lost failures secs found; do
    printf '%-10s %7s %8s %5s %8s %7s  %s\n' "$name" "$trials" "$killed" "$lost" "$failures" "$secs" "$found"
  done
echo "wall time: $(( $(date +%s) - started )) s"
exit "$status"
