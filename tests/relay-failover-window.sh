#!/usr/bin/env bash
# Two relays of one configuration (`switchboard serve`, TLS, people's certificates)
# elect a leader on the rig's etcd; alice's real window under Xvfb follows the leader;
# the leader is killed with SIGKILL and the window must follow the other relay within
# the lease's TTL + 2 s. The screenshot is taken there, on the survivor.
# Usage: tests/relay-failover-window.sh <binary> <out.png>
set -euo pipefail
BIN=$1; OUT=$2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$("$ROOT/tests/rig/rig.sh" pki)
TTL=5
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_for FILE TEXT SECS: until FILE holds TEXT; fails after SECS.
wait_for() {
  local i
  for i in $(seq $(($3 * 20))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "no \"$2\" in $1 after $3 s:"; cat "$1"; return 1
}

PORTS=("$(free_port)" "$(free_port)")
for i in 0 1; do
  cat > "$TMP/relay$i.toml" <<CFG
[[environment]]
name = "rig"
[[environment.source]]
kind = "etcd"
name = "etcd"
endpoints = ["127.0.0.1:12379", "127.0.0.1:22379", "127.0.0.1:32379"]
[[environment.source]]
kind = "haproxy"
name = "haproxy"
stats_url = "http://127.0.0.1:8404/stats;csv"
[environment.serve]
listen = "127.0.0.1:${PORTS[$i]}"
cert_file = "$T/server.pem"
key_file = "$T/server-key.pem"
client_ca_file = "$T/ca.pem"
operators = ["alice"]
elect = { advertise = "https://127.0.0.1:${PORTS[$i]}", ttl_secs = $TTL }
CFG
  RUST_LOG=warn,switchboard_core::relay=info "$BIN" --config "$TMP/relay$i.toml" \
    --data-dir "$TMP/relay$i" serve 2>"$TMP/relay$i.log" & PIDS+=($!)
done
LEADER=
for _ in $(seq 400); do
  for i in 0 1; do grep -q 'this relay leads' "$TMP/relay$i.log" 2>/dev/null && LEADER=$i; done
  [ -n "$LEADER" ] && break
  sleep 0.05
done
[ -n "$LEADER" ] || { echo "no relay leads:"; cat "$TMP"/relay?.log; exit 1; }
SURVIVOR=$((1 - LEADER))

cat > "$TMP/console.toml" <<CFG
[[environment]]
name = "rig"
relay = ["https://127.0.0.1:${PORTS[0]}", "https://127.0.0.1:${PORTS[1]}"]
relay_tls = { ca_file = "$T/ca.pem", cert_file = "$T/alice.pem", key_file = "$T/alice-key.pem" }
CFG
SHOT_AFTER_SECS=18 "$ROOT/tests/screenshot.sh" "$BIN" "$OUT" --config "$TMP/console.toml" \
  --no-record --data-dir "$TMP/alice" >"$TMP/shot.log" 2>&1 & SHOT=$!
wait_for "$TMP/relay$LEADER.log" 'alice follows this relay' 30

kill -KILL "${PIDS[$LEADER]}"
T0=$(date +%s%N)
{ wait "${PIDS[$LEADER]}"; } 2>/dev/null || true
wait_for "$TMP/relay$SURVIVOR.log" 'alice follows this relay' 20
MS=$((($(date +%s%N) - T0) / 1000000))
wait "$SHOT" || { echo "the screenshot failed:"; cat "$TMP/shot.log"; exit 1; }
echo "relay failover window: the leader SIGKILLed, alice's window on the other relay after $MS ms (lease TTL $TTL s); $OUT"
[ "$MS" -le $(((TTL + 2) * 1000)) ] || { echo "more than the TTL + 2 s"; exit 1; }
