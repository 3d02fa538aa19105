# shellcheck shell=bash
# etcdtls: a second 3-member etcd as production runs it: TLS only, client certificates
# required (--client-cert-auth), peer TLS with peer certificates too. Members mt1..mt3
# (processes etcdtls1..3), client ports 42379/52379/62379, peer ports 42380/52380/62380,
# data in $RIG/etcdtlsN, certificates from lib/tls.sh in $RIG/tls. Member mt3 serves
# clients the certificate that expires in 3 days (expiring.pem, same names and CA), as
# one forgotten renewal in a cluster does. Launch, readiness, start, restart of one
# member, stop (followers first, as lib/etcd.sh explains).

ETCDTLS_CLUSTER="mt1=https://127.0.0.1:42380,mt2=https://127.0.0.1:52380,mt3=https://127.0.0.1:62380"
ETCDTLS_EPS="https://127.0.0.1:42379,https://127.0.0.1:52379,https://127.0.0.1:62379"

etcdtls_port() { echo "$(( $1 + 3 ))2379"; }        # member I's client port
etcdtls_peer_port() { echo "$(( $1 + 3 ))2380"; }   # and its peer port

etcdtls_launch() {   # etcdtls_launch I: start member mtI (same flags for first start and restart)
  local i=$1 t=$RIG/tls c p cert=server
  c=$(etcdtls_port "$i"); p=$(etcdtls_peer_port "$i")
  if [ "$i" = 3 ]; then cert=expiring; fi
  bg "etcdtls$i" etcd --name "mt$i" --data-dir "$RIG/etcdtls$i" \
    --listen-client-urls "https://127.0.0.1:$c" --advertise-client-urls "https://127.0.0.1:$c" \
    --listen-peer-urls "https://127.0.0.1:$p" --initial-advertise-peer-urls "https://127.0.0.1:$p" \
    --initial-cluster "$ETCDTLS_CLUSTER" --initial-cluster-token switchboard-rig-tls --initial-cluster-state new \
    --client-cert-auth --trusted-ca-file "$t/ca.pem" --cert-file "$t/$cert.pem" --key-file "$t/$cert-key.pem" \
    --peer-client-cert-auth --peer-trusted-ca-file "$t/ca.pem" \
    --peer-cert-file "$t/server.pem" --peer-key-file "$t/server-key.pem"
}

# etcdtls_ctl ENDPOINTS ARGS...: etcdctl with the rig's CA and client certificate.
etcdtls_ctl() {
  local eps=$1; shift
  etcdctl --dial-timeout=1s --command-timeout=2s --endpoints="$eps" \
    --cacert "$RIG/tls/ca.pem" --cert "$RIG/tls/client.pem" --key "$RIG/tls/client-key.pem" "$@"
}

etcdtls_cluster_ready() {
  local i; for i in 1 2 3; do alive "etcdtls$i" || return 125; done
  etcdtls_ctl "$ETCDTLS_EPS" endpoint health
}

etcdtls_member_ready() {   # the member's client port answers (even without quorum)
  alive "etcdtls$1" || return 125
  etcdtls_ctl "https://127.0.0.1:$(etcdtls_port "$1")" endpoint status
}

etcdtls_ports() { echo 42379 52379 62379 42380 52380 62380; }

etcdtls_start() {
  local i t0
  t0=$(now_ms)
  # shellcheck disable=SC2046  # a list of port numbers
  check_ports_free $(etcdtls_ports) || die "cannot start etcdtls"
  tls_pki
  for i in 1 2 3; do etcdtls_launch "$i"; done
  if ! waitfor 30 etcdtls_cluster_ready; then
    for i in 1 2 3; do alive "etcdtls$i" || { log "etcdtls$i is not running"; show_log_tail "etcdtls$i"; }; done
    die "etcdtls cluster did not become healthy"
  fi
  log "etcdtls: 3 TLS members healthy after $(since "$t0") (PKI included)"
}

etcdtls_restart() {
  local i=$1 t0
  t0=$(now_ms)
  [ -d "$RIG/etcdtls$i/member" ] || die "no data dir $RIG/etcdtls$i/member; run 'rig.sh start etcdtls' first"
  [ -s "$RIG/tls/server.pem" ] || die "no $RIG/tls; run 'rig.sh start etcdtls' first"
  if alive "etcdtls$i"; then log "etcdtls$i is running; stopping it first"; stop_procs "etcdtls$i"; fi
  check_ports_free "$(etcdtls_port "$i")" "$(etcdtls_peer_port "$i")" || die "cannot restart etcdtls$i"
  etcdtls_launch "$i"
  waitfor 20 etcdtls_member_ready "$i" || { show_log_tail "etcdtls$i"; die "etcdtls$i did not answer"; }
  log "etcdtls$i: answering after $(since "$t0")"
}

etcdtls_is_leader() {   # etcdtls_is_leader I: member mtI answers and says it is the leader
  local f mid ld
  [ -s "$RIG/tls/client.pem" ] || return 1
  f=$(etcdtls_ctl "https://127.0.0.1:$(etcdtls_port "$1")" --command-timeout=1s \
        endpoint status -w fields 2>/dev/null) || return 1
  mid=$(sed -n 's/^"MemberID" : //p' <<<"$f"); ld=$(sed -n 's/^"Leader" : //p' <<<"$f")
  [ -n "$mid" ] && [ "$mid" = "$ld" ]
}

etcdtls_stop() {   # followers first, the leader last (see etcd_stop)
  local i first=() last=()
  for i in 1 2 3; do
    [ -e "$(pidfile "etcdtls$i")" ] || continue
    if alive "etcdtls$i" && etcdtls_is_leader "$i"; then last+=("etcdtls$i"); else first+=("etcdtls$i"); fi
  done
  [ ${#first[@]} -eq 0 ] || stop_procs "${first[@]}"
  [ ${#last[@]} -eq 0 ] || stop_procs "${last[@]}"
}

# etcdtls_install: etcd (lib/etcd.sh) and openssl.
etcdtls_install() {
  etcd_install
  command -v openssl >/dev/null || apt_install openssl
}
