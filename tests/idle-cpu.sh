#!/usr/bin/env bash
# Measures the CPU the console uses in a real window under Xvfb: starts it, waits
# WARM seconds, then reads user+system CPU time from /proc over SECS seconds.
# Usage: tests/idle-cpu.sh <binary> [switchboard args...]; env WARM (10), SECS (30).
set -euo pipefail
BIN=$1; shift
WARM=${WARM:-10}; SECS=${SECS:-30}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}; chmod 700 "$XDG_RUNTIME_DIR"
export LIBGL_ALWAYS_SOFTWARE=1 WINIT_X11_SCALE_FACTOR=1
unset WAYLAND_DISPLAY
TMP=$(mktemp -d)
Xvfb -displayfd 3 -screen 0 1440x900x24 -nolisten tcp 3>"$TMP/display" >/dev/null 2>&1 & XPID=$!
trap 'kill "${APID:-}" "$XPID" 2>/dev/null || true; rm -rf "$TMP"' EXIT
for _ in $(seq 200); do [ -s "$TMP/display" ] && break; sleep 0.05; done
DISPLAY=:$(head -1 "$TMP/display"); export DISPLAY
for _ in $(seq 200); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.05; done
"$BIN" --exit-after $((WARM + SECS + 30)) "$@" >"$TMP/app.log" 2>&1 & APID=$!
sleep "$WARM"
ticks() { awk '{print $14 + $15}' "/proc/$APID/stat"; }
hz=$(getconf CLK_TCK)
a=$(ticks); sleep "$SECS"; b=$(ticks)
awk -v a="$a" -v b="$b" -v hz="$hz" -v s="$SECS" 'BEGIN { printf "cpu: %.2f %% of one core over %d s\n", (b - a) / hz / s * 100, s }'
