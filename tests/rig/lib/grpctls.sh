# shellcheck shell=bash
# grpctls: the gRPC health server (grpc_health_server.py) as production runs it: TLS
# only, client certificates required. grpctls on 127.0.0.1:44801 presents server.pem;
# grpcexpired on 127.0.0.1:44802 presents expired.pem (same CA and names, notAfter
# yesterday). Certificates from lib/tls.sh in $RIG/tls.

GRPCTLS_PORT=44801
GRPCEXPIRED_PORT=44802

grpctls_launch() {   # grpctls_launch NAME PORT CERT
  [ -x "$RIG_VENV/bin/python" ] || die "no venv $RIG_VENV; run 'rig.sh install'"
  bg "$1" "$RIG_VENV/bin/python" -u "$RIG_DIR/grpc_health_server.py" "127.0.0.1:$2" --tls "$RIG/tls" --cert "$3"
}
grpctls_ready() { running "$1" && grep -q '^listening' <<<"$(log_since_start "$1")"; }
grpctls_start() {
  local t0; t0=$(now_ms)
  check_ports_free "$GRPCTLS_PORT" "$GRPCEXPIRED_PORT" || die "cannot start the TLS gRPC health servers"
  tls_pki
  grpctls_launch grpctls "$GRPCTLS_PORT" server
  grpctls_launch grpcexpired "$GRPCEXPIRED_PORT" expired
  waitfor 20 grpctls_ready grpctls || { show_log_tail grpctls; die "grpctls did not start"; }
  waitfor 20 grpctls_ready grpcexpired || { show_log_tail grpcexpired; die "grpcexpired did not start"; }
  log "grpctls: TLS gRPC health on :$GRPCTLS_PORT (and an expired certificate on :$GRPCEXPIRED_PORT) after $(since "$t0")"
}
