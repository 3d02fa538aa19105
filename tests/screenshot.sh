#!/usr/bin/env bash
# Opens the console in a real window under Xvfb and takes a screenshot of it.
# Usage: tests/screenshot.sh <binary> <out.png> [extra switchboard args...]
set -euo pipefail
BIN=$1; OUT=$2; shift 2
SIZE=${SCREEN_SIZE:-1440x900}
WAIT=${SHOT_AFTER_SECS:-4}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}; chmod 700 "$XDG_RUNTIME_DIR"
export LIBGL_ALWAYS_SOFTWARE=1 WINIT_X11_SCALE_FACTOR=1
unset WAYLAND_DISPLAY
LOG=$(mktemp)
# Let Xvfb pick a free display and tell us which (no clash with other X servers).
Xvfb -displayfd 3 -screen 0 "${SIZE}x24" -nolisten tcp 3>"$LOG.display" >"$LOG.xvfb" 2>&1 & XPID=$!
cleanup() { kill "${APID:-}" 2>/dev/null || true; kill "$XPID" 2>/dev/null || true; rm -f "$LOG" "$LOG".*; }
trap cleanup EXIT
for _ in $(seq 100); do [ -s "$LOG.display" ] && break; sleep 0.1; done
DISP=:$(head -1 "$LOG.display")
for _ in $(seq 50); do xdpyinfo -display "$DISP" >/dev/null 2>&1 && break; sleep 0.1; done
export DISPLAY=$DISP
"$BIN" --exit-after $((WAIT + 20)) "$@" >"$LOG" 2>&1 & APID=$!
for _ in $(seq 100); do xdotool search --onlyvisible --name Switchboard >/dev/null 2>&1 && break; sleep 0.1; done
sleep "$WAIT"
if ! kill -0 "$APID" 2>/dev/null; then echo "switchboard exited early:"; cat "$LOG"; exit 1; fi
import -window root "$OUT"
echo "screenshot: $OUT"
