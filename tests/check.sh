#!/usr/bin/env bash
# The whole test suite, as CI runs it. Self-sufficient on a fresh Debian 12 machine:
# installs what it needs (apt: protoc, Xvfb and GL/Vulkan runtime, etcd, nftables for
# the network faults), starts the real test rig, runs fmt, clippy -D warnings, docs,
# the dependency guard and every test (unit, property, GUI via egui_kittest, CLI, real
# servers, network faults), takes a real-window screenshot under Xvfb, builds the .deb
# and checks it, and stops the rig.
#
# Env: CARGO_TARGET_DIR (default ~/.cache/switchboard-target, outside the clone so a
# later run on the same machine reuses the build), RIG (rig state dir).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/switchboard-target}
export CARGO_TERM_COLOR=never
export RIG=${RIG:-/tmp/switchboard-rig}
# The real servers the tests use; named, so a server that fails to install or start
# fails the run instead of skipping its tests.
RIG_COMPONENTS=${RIG_COMPONENTS:-"etcd haproxy traefik envoy grpchealth fence bind9 etcdtls grpctls prometheus patroni prometheustls haproxytls traefiktls proxy patronitls aws"}
step() { printf '\n=== %s (%s)\n' "$*" "$(date +%T)"; }

step "install system packages"
PKGS="protobuf-compiler libprotobuf-dev xvfb xauth x11-utils imagemagick xdotool \
  libgl1 libglx-mesa0 libgl1-mesa-dri libegl1 libegl-mesa0 libx11-6 libx11-xcb1 \
  libxcursor1 libxi6 libxrandr2 libxkbcommon-x11-0 libvulkan1 mesa-vulkan-drivers shellcheck \
  desktop-file-utils appstream nftables"
missing=$(for p in $PKGS; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"; done)
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  updated=no
  for i in $(seq 30); do
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing && break
    [ "$i" = 30 ] && { echo "apt-get install failed" >&2; exit 1; }
    if [ $updated = no ]; then apt-get update -q || true; updated=yes; else sleep 10; fi
  done
fi
# shellcheck disable=SC2086  # a list of component names
tests/rig/rig.sh install $RIG_COMPONENTS

step "format"
cargo fmt --all -- --check
shellcheck -x tests/*.sh tests/rig/rig.sh tests/rig/lib/*.sh tests/rig/fence_rig_node tests/faults/*.sh .ci/run

step "clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "dependency guard: the core links no GUI crate"
if cargo tree -p switchboard-core -e normal --locked | grep -E '\b(egui|eframe|egui_tiles|egui_plot|winit|wgpu|glow)[a-z_-]* v'; then
  echo "switchboard-core depends on a GUI crate (above)" >&2; exit 1
fi
echo "ok: no GUI crate in switchboard-core's tree"

step "start the test rig"
trap 'tests/faults/fault.sh clear || true; tests/rig/rig.sh stop || true' EXIT
# shellcheck disable=SC2086
tests/rig/rig.sh start $RIG_COMPONENTS

step "tests"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}; chmod 700 "$XDG_RUNTIME_DIR"
unset DISPLAY WAYLAND_DISPLAY UPDATE_SNAPSHOTS
# Each rig test runs when its component is named here.
export SWITCHBOARD_RIG=$RIG_COMPONENTS
# The HTTP sources take the proxy variables as curl does, loopback included: a CI
# machine behind a proxy must still reach the rig directly.
export NO_PROXY=${NO_PROXY:+$NO_PROXY,}127.0.0.1,localhost no_proxy=${no_proxy:+$no_proxy,}127.0.0.1,localhost
# The rig's simulated BMCs' password (ipmi_sim, sushy-emulator; tests/rig/README.md):
# the fence tests hand it to the agents from the environment, as a real config would.
export SWITCHBOARD_RIG_BMC_PASSWORD=secret
# The TLS Patroni's secrets, random at each start (tests/rig/README.md), by name, as a
# config's password_env reads them: the REST API's password and sbpass's.
PGTLS_SECRETS=${RIG:-/tmp/switchboard-rig}/pgtls
if [ -s "$PGTLS_SECRETS/rest.password" ]; then
  SWITCHBOARD_RIG_PATRONI_REST_PASSWORD=$(cat "$PGTLS_SECRETS/rest.password")
  SWITCHBOARD_RIG_PG_PASSWORD=$(cat "$PGTLS_SECRETS/sbpass.password")
  export SWITCHBOARD_RIG_PATRONI_REST_PASSWORD SWITCHBOARD_RIG_PG_PASSWORD
fi
cargo test --workspace --all-targets --locked -- --nocapture 2>&1 | tee "$CARGO_TARGET_DIR/test-output.txt"

step "real window under Xvfb"
mkdir -p "$ROOT/artifacts"
tests/screenshot.sh "$CARGO_TARGET_DIR/debug/switchboard" "$ROOT/artifacts/operator-drill.png" \
  --drill --no-record --data-dir "$(mktemp -d)"
# A wall exports its view as a PNG on F12 (read back from the renderer, written off the UI thread).
WALL_DATA=$(mktemp -d)
ACTIONS="key F12; sleep 3" tests/screenshot.sh "$CARGO_TARGET_DIR/debug/switchboard" \
  "$ROOT/artifacts/wall-drill.png" --drill --wall --no-record --data-dir "$WALL_DATA"
EXPORTED=$(find "$WALL_DATA/screenshots" -name 'switchboard-drill-*.png' 2>/dev/null | head -1)
[ -n "$EXPORTED" ] || { echo "F12 wrote no PNG under $WALL_DATA/screenshots"; exit 1; }
SIZE=$(identify -format '%m %wx%h' "$EXPORTED")
[ "$SIZE" = "PNG 1440x900" ] || { echo "exported view is $SIZE, not PNG 1440x900"; exit 1; }
echo "exported view: $EXPORTED ($SIZE)"
# A window following a relay (`switchboard serve` on the rig, TLS, people's certificates).
tests/relay-window.sh "$CARGO_TARGET_DIR/debug/switchboard" "$ROOT/artifacts/operator-relay.png"
# Two relays electing a leader; the leader SIGKILLed; the window follows the other.
tests/relay-failover-window.sh "$CARGO_TARGET_DIR/debug/switchboard" "$ROOT/artifacts/operator-relay-failover.png"

step "hostile endpoints: memory bounded"
# Five sources whose address answers an endless body: the console's peak RSS stays
# under 200 MB and each source goes down in words (tests/README.md, Bounds).
SECS=10 tests/hostile-memory.sh "$CARGO_TARGET_DIR/debug/switchboard"

step "package (.deb)"
tests/package.sh

step "summary"
grep -E '^test result:' "$CARGO_TARGET_DIR/test-output.txt" | awk '{p+=$4; f+=$6; i+=$8} END {printf "%d passed, %d failed, %d skipped\n", p, f, i}'
