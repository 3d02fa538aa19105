#!/usr/bin/env bash
# The huge-body figure: runs the console headless (`switchboard watch --for SECS`)
# against five sources (an HTTP probe, Envoy, Traefik, Prometheus and Patroni) whose
# address answers an endless body, and prints its peak RSS (VmHWM from
# /proc/PID/status) and each source's words. The endless server is a small local
# Python server in this script, on purpose: no real server answers without end.
# Fails when the peak is over LIMIT_MB or a source did not go down in words.
# Usage: tests/hostile-memory.sh <switchboard binary>; env SECS (20), LIMIT_MB (200).
set -euo pipefail
BIN=${1:?usage: tests/hostile-memory.sh <switchboard binary>}
SECS=${SECS:-20}
LIMIT_MB=${LIMIT_MB:-200}
TMP=$(mktemp -d)
trap 'kill "${SPID:-}" "${APID:-}" 2>/dev/null || true; rm -rf "$TMP"' EXIT

# The endless answer: 200, no length, JSON-looking bytes until the client hangs up.
cat >"$TMP/endless.py" <<'EOF'
import http.server, socketserver, sys

class Endless(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        block = b"garbage-" * 8192
        try:
            self.wfile.write(b'{"data":"')
            while True:
                self.wfile.write(block)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

server = Server(("127.0.0.1", 0), Endless)
with open(sys.argv[1], "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
EOF
python3 "$TMP/endless.py" "$TMP/port" & SPID=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
ADDR=127.0.0.1:$(cat "$TMP/port")

cat >"$TMP/config.toml" <<EOF
[[environment]]
name = "hostile"

[[environment.source]]
kind = "http_probe"
name = "probe"
url = "http://$ADDR/ready"
interval_secs = 1.0
timeout_secs = 5.0

[[environment.source]]
kind = "envoy"
name = "envoy"
admin = "http://$ADDR"
timeout_millis = 5000

[[environment.source]]
kind = "traefik"
name = "traefik"
api = "http://$ADDR"
timeout_millis = 5000

[[environment.source]]
kind = "prometheus"
name = "prometheus"
url = "http://$ADDR"
timeout_secs = 5.0
[[environment.source.query]]
breaker = "b"
service = "s"
expr = "up"

[[environment.source]]
kind = "patroni"
name = "patroni"
endpoints = ["http://$ADDR"]
timeout_millis = 5000
EOF

"$BIN" watch --json --for "$SECS" --config "$TMP/config.toml" --data-dir "$TMP/data" \
    >"$TMP/watch.log" 2>&1 & APID=$!
peak_kb=0
while kill -0 "$APID" 2>/dev/null; do
    kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$APID/status" 2>/dev/null || true)
    [ -n "$kb" ] && [ "$kb" -gt "$peak_kb" ] && peak_kb=$kb
    sleep 0.2
done
wait "$APID" || true
APID=

# Each source's first failure in words (watch --json prints one event a line).
said() { grep -F "\"source\":\"$1\"" "$TMP/watch.log" | grep -m1 -o '"detail":"[^"]*answer larger than[^"]*"' || true; }
fail=0
for s in probe envoy traefik prometheus patroni; do
    words=$(said "$s")
    echo "$s: ${words:-no 'answer larger than'}"
    [ -n "$words" ] || { echo "FAIL: $s never went down in words" >&2; fail=1; }
done
echo "peak RSS: $((peak_kb / 1024)) MB over ${SECS} s against five endless-body sources"
[ "$peak_kb" -gt 0 ] || { echo "FAIL: no RSS read" >&2; fail=1; }
[ $((peak_kb / 1024)) -lt "$LIMIT_MB" ] || { echo "FAIL: peak RSS over $LIMIT_MB MB" >&2; fail=1; }
exit "$fail"
