#!/usr/bin/env bash
# A real window under Xvfb on a relay: `switchboard serve` on the rig's etcd and HAProxy
# (TLS, people's certificates from the rig's PKI), the window of alice following it,
# a screenshot; then the relay stops on SIGTERM and must say it served that window.
# Usage: tests/relay-window.sh <binary> <out.png>
set -euo pipefail
BIN=$1; OUT=$2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$("$ROOT/tests/rig/rig.sh" pki)
TMP=$(mktemp -d)
RPID=
cleanup() {
  if [ -n "$RPID" ]; then kill "$RPID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

cat > "$TMP/relay.toml" <<CFG
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
listen = "127.0.0.1:0"
cert_file = "$T/server.pem"
key_file = "$T/server-key.pem"
client_ca_file = "$T/ca.pem"
operators = ["alice"]
CFG
"$BIN" --config "$TMP/relay.toml" --data-dir "$TMP/relay" serve 2>"$TMP/serve.log" & RPID=$!
for _ in $(seq 100); do grep -q '^switchboard: serving' "$TMP/serve.log" && break; sleep 0.1; done
ADDR=$(sed -n 's/^switchboard: serving rig on \([^ ]*\) .*/\1/p' "$TMP/serve.log")
[ -n "$ADDR" ] || { echo "the relay did not start:"; cat "$TMP/serve.log"; exit 1; }

cat > "$TMP/console.toml" <<CFG
[[environment]]
name = "rig"
relay = "https://$ADDR"
relay_tls = { ca_file = "$T/ca.pem", cert_file = "$T/alice.pem", key_file = "$T/alice-key.pem" }
CFG
"$ROOT/tests/screenshot.sh" "$BIN" "$OUT" --config "$TMP/console.toml" --no-record --data-dir "$TMP/alice"

kill -TERM "$RPID"; wait "$RPID" || { echo "the relay did not stop cleanly:"; cat "$TMP/serve.log"; exit 1; }
RPID=
grep -q 'relay stopped; [1-9][0-9]* subscriptions' "$TMP/serve.log" ||
  { echo "the relay served no window:"; cat "$TMP/serve.log"; exit 1; }
echo "relay window: $OUT ($(grep 'relay stopped' "$TMP/serve.log"))"
