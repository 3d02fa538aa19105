# shellcheck shell=bash
# HAProxy and its two HTTP backends (python http.server on 9001 and 9002, also the
# upstreams of Traefik and Envoy): install, config, launch, readiness (both servers L7OK)
# and start. HAProxy listens on 8080 (web), 8404 (stats, /metrics) and 9999 (runtime API).

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

# haproxy_install: HAProxy, socat (its admin socket) and curl (the backends' checks),
# unless all three are there.
haproxy_install() {
  if command -v haproxy >/dev/null && command -v socat >/dev/null && command -v curl >/dev/null; then
    log "haproxy, socat and curl already installed"
  else
    apt_install haproxy socat curl
  fi
}
