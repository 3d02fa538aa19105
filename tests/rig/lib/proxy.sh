# shellcheck shell=bash
# proxy: two forward proxies (Debian's tinyproxy, production.md section 7) whose access
# logs prove that a client went through them:
#   proxy      127.0.0.1:44628, open to 127.0.0.1; log $RIG/httptls/proxy-access.log
#   proxyauth  127.0.0.1:44629, BasicAuth user proxyuser, password in
#              $RIG/httptls/proxy.password (407 without it); log $RIG/httptls/proxyauth-access.log
# CONNECT is allowed to every port (no ConnectPort lines). At LogLevel Connect each
# request logs "Request (file descriptor N): CONNECT host:port HTTP/1.1".

PROXY_PORT=44628
PROXYAUTH_PORT=44629

# proxy_config NAME PORT [BasicAuth line]: $RIG/httptls/NAME.conf. tinyproxy takes no
# trailing comments.
proxy_config() {
  local d=$RIG/httptls
  mkdir -p "$d"
  ( umask 077; {
    printf 'Port %s\nListen 127.0.0.1\nTimeout 30\nLogFile "%s"\nLogLevel Connect\n' "$2" "$d/$1-access.log"
    printf 'MaxClients 20\nAllow 127.0.0.1\n'
    [ -z "${3:-}" ] || printf '%s\n' "$3"
  } > "$d/$1.conf" )
}
# -d: in the foreground, so the PID file is tinyproxy's.
proxy_launch() { bg "$1" tinyproxy -d -c "$RIG/httptls/$1.conf"; }
proxy_ready() { running "$1" && [ -e "$RIG/httptls/$1-access.log" ] && port_busy "$2"; }
proxy_start() {
  local t0; t0=$(now_ms)
  check_ports_free "$PROXY_PORT" "$PROXYAUTH_PORT" || die "cannot start the proxies"
  proxy_config proxy "$PROXY_PORT"
  proxy_config proxyauth "$PROXYAUTH_PORT" "BasicAuth proxyuser $(cat "$(http_secret proxy)")"
  proxy_launch proxy; proxy_launch proxyauth
  waitfor 10 proxy_ready proxy "$PROXY_PORT" || { show_log_tail proxy; die "tinyproxy did not listen"; }
  waitfor 10 proxy_ready proxyauth "$PROXYAUTH_PORT" || { show_log_tail proxyauth; die "tinyproxy (BasicAuth) did not listen"; }
  log "proxy: tinyproxy on $PROXY_PORT and $PROXYAUTH_PORT (BasicAuth) after $(since "$t0")"
}
proxy_install() {
  command -v tinyproxy >/dev/null || apt_install tinyproxy
  httpsecret_install
}
