# shellcheck shell=bash
# The gRPC health server (grpc_health_server.py in the venv, on 127.0.0.1:50051): launch,
# readiness, start, and grpc-serving / grpc-not-serving (grpc_set).

GRPC_ADDR=127.0.0.1:50051

grpchealth_launch() {
  [ -x "$RIG_VENV/bin/python" ] || die "no venv $RIG_VENV; run 'rig.sh install'"
  bg grpchealth "$RIG_VENV/bin/python" -u "$RIG_DIR/grpc_health_server.py" "$GRPC_ADDR"
}
grpchealth_ready() { running grpchealth && grep -q '^listening' <<<"$(log_since_start grpchealth)"; }
# grpc_check [SERVICE] [--want STATUS]: one Check (or wait for STATUS) against the server.
grpc_check() { "$RIG_VENV/bin/python" "$RIG_DIR/grpc_health_server.py" --check "$GRPC_ADDR" "$@"; }
grpchealth_start() {
  local t0; t0=$(now_ms)
  check_ports_free 50051 || die "cannot start the gRPC health server"
  grpchealth_launch
  waitfor 20 grpchealth_ready || { show_log_tail grpchealth; die "the gRPC health server did not start"; }
  log "grpchealth: listening after $(since "$t0")"
}
grpc_set() {   # grpc_set SERVING|NOT_SERVING
  local sig=USR2; [ "$1" = NOT_SERVING ] && sig=USR1
  alive grpchealth || die "grpchealth is not running"
  kill -s "$sig" "$(pidof_rig grpchealth)"
  # Wait until a real Check says so (the signal is handled asynchronously).
  { grpc_check "" --want "$1" --timeout 5 >/dev/null && grpc_check switchboard.Test --want "$1" --timeout 5 >/dev/null; } ||
    die "the gRPC health server did not switch to $1"
  log "grpchealth: \"\" and switchboard.Test are $1"
}
