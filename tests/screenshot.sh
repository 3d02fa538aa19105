#!/usr/bin/env bash
# Opens the console in a real window under Xvfb and takes a screenshot of it.
# Usage: tests/screenshot.sh <binary> <out.png> [extra switchboard args...]
# Env: SCREEN_SIZE (1440x900), SCALE (1; the HiDPI factor winit uses, e.g. 2 on 2880x1800),
#      SHOT_AFTER_SECS (4), CLICK_AT ("x,y": click there, then wait 1 s),
#      ACTIONS: xdotool commands run before the shot, ';'-separated, e.g.
#      "key ctrl+k; sleep 1; type 'drain web1'; key Return; sleep 2".
set -euo pipefail
BIN=$1; OUT=$2; shift 2
SIZE=${SCREEN_SIZE:-1440x900}
WAIT=${SHOT_AFTER_SECS:-4}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}; chmod 700 "$XDG_RUNTIME_DIR"
export LIBGL_ALWAYS_SOFTWARE=1 WINIT_X11_SCALE_FACTOR=${SCALE:-1}
unset WAYLAND_DISPLAY
TMP=$(mktemp -d)
XPID=; APID=
cleanup() {
  if [ -n "$APID" ]; then kill "$APID" 2>/dev/null || true; fi
  if [ -n "$XPID" ]; then kill "$XPID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

shot() {
  # Xvfb picks a free display and tells us which (no clash with other X servers).
  : > "$TMP/display"
  Xvfb -displayfd 3 -screen 0 "${SIZE}x24" -nolisten tcp 3>"$TMP/display" >"$TMP/xvfb.log" 2>&1 & XPID=$!

  for _ in $(seq 200); do [ -s "$TMP/display" ] && break; sleep 0.05; done
  [ -s "$TMP/display" ] || { echo "Xvfb did not start:"; cat "$TMP/xvfb.log"; return 1; }
  DISPLAY=:$(head -1 "$TMP/display"); export DISPLAY
  for _ in $(seq 200); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.05; done
  xdpyinfo >/dev/null 2>&1 || { echo "X server $DISPLAY does not answer"; return 1; }
  "$BIN" --exit-after $((WAIT + 30)) "$@" >"$TMP/app.log" 2>&1 & APID=$!
  for _ in $(seq 200); do xdotool search --onlyvisible --name Switchboard >/dev/null 2>&1 && break; sleep 0.1; done
  sleep "$WAIT"
  kill -0 "$APID" 2>/dev/null || { echo "switchboard exited early:"; cat "$TMP/app.log"; return 1; }
  if [ -n "${CLICK_AT:-}" ]; then
    xdotool mousemove "${CLICK_AT%,*}" "${CLICK_AT#*,}" click 1; sleep 1
  fi
  if [ -n "${ACTIONS:-}" ]; then
    local act acts=()
    IFS=';' read -ra acts <<<"$ACTIONS"
    for act in "${acts[@]}"; do
      act=${act# }
      case $act in
        sleep\ *) sleep "${act#sleep }" ;;
        *) eval "xdotool $act" ;;
      esac
    done
  fi
  import -window root "$OUT"
}

for attempt in 1 2; do
  if shot "$@"; then echo "screenshot: $OUT"; exit 0; fi
  echo "attempt $attempt failed" >&2
  cleanup; XPID=; APID=; TMP=$(mktemp -d)
done
exit 1
