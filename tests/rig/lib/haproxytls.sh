# shellcheck shell=bash
# haproxytls: an HAProxy whose stats speak TLS with `stats auth` (production.md section
# 4): user admin, password in $RIG/httptls/haproxy.password.
#   44640  stats over TLS + basic auth (/stats)
#   44641  the same, also requiring a client certificate signed by the rig's CA
#   44642  the same stats, with lib/tls.sh's expired.pem (signed by the rig's CA,
#          SANs as server.pem, notAfter yesterday): the "expired" case
#   44643, 44644  two plain HTTP frontends that answer 200 "ok": the servers app1 and
#          app2 of backend be_app (checked every second), so the stats have rows
# One process; config in $RIG/httptls/haproxy.cfg.

HAPROXYTLS_PORTS=(44640 44641 44642 44643 44644)

haproxytls_config() {
  local d=$RIG/httptls t=$RIG/tls
  mkdir -p "$d"
  # HAProxy takes the certificate and its key in one file.
  ( umask 077; cat "$t/server.pem" "$t/server-key.pem" > "$d/haproxy-server.pem"
    cat "$t/expired.pem" "$t/expired-key.pem" > "$d/haproxy-expired.pem" )
  # `stats auth` needs the password in the config: the file is mode 600, like the key.
  ( umask 077; cat > "$d/haproxy.cfg" <<CFG
global
    ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend stats_tls
    bind 127.0.0.1:44640 ssl crt $d/haproxy-server.pem
    stats enable
    stats uri /stats
    stats show-legends
    stats auth admin:$(cat "$(http_secret haproxy)")
frontend stats_mtls
    bind 127.0.0.1:44641 ssl crt $d/haproxy-server.pem verify required ca-file $t/ca.pem
    stats enable
    stats uri /stats
    stats show-legends
    stats auth admin:$(cat "$(http_secret haproxy)")
frontend stats_expired
    bind 127.0.0.1:44642 ssl crt $d/haproxy-expired.pem
    stats enable
    stats uri /stats
    stats auth admin:$(cat "$(http_secret haproxy)")
frontend app1
    bind 127.0.0.1:44643
    http-request return status 200 content-type text/plain string ok
frontend app2
    bind 127.0.0.1:44644
    http-request return status 200 content-type text/plain string ok
backend be_app
    option httpchk GET /
    default-server inter 1s fall 2 rise 1
    server app1 127.0.0.1:44643 check
    server app2 127.0.0.1:44644 check
CFG
  )
  haproxy -c -q -f "$d/haproxy.cfg" || die "haproxytls' haproxy.cfg is invalid"
}
haproxytls_launch() { bg haproxytls haproxy -f "$RIG/httptls/haproxy.cfg" -db; }
# haproxytls_curl PORT PATH [CURL ARGS]: with the rig's CA and the password (from a curl
# config on stdin, on no command line).
haproxytls_curl() {
  local port=$1 path=$2; shift 2
  printf 'user = "admin:%s"\n' "$(cat "$(http_secret haproxy)")" |
    curl -sf --cacert "$RIG/tls/ca.pem" -K - "$@" "https://127.0.0.1:$port$path"
}
# Both servers checked L7OK, through the TLS stats (so TLS and auth work).
haproxytls_checked() {
  local csv
  running haproxytls || return 125
  csv=$(haproxytls_curl 44640 '/stats;csv') || return 1
  grep -q '^be_app,app1,.*L7OK' <<<"$csv" && grep -q '^be_app,app2,.*L7OK' <<<"$csv"
}
haproxytls_start() {
  local t0; t0=$(now_ms)
  check_ports_free "${HAPROXYTLS_PORTS[@]}" || die "cannot start haproxytls"
  tls_pki
  haproxytls_config; haproxytls_launch
  waitfor 15 haproxytls_checked || { show_log_tail haproxytls; die "haproxytls' servers were not checked"; }
  log "haproxytls: stats over TLS (+mTLS on 44641), both servers L7OK after $(since "$t0")"
}
haproxytls_install() {
  haproxy_install
  httpsecret_install
}
