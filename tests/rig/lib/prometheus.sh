# shellcheck shell=bash
# Prometheus (Debian's, on 9090, scraping HAProxy, etcd, Traefik and Envoy): install,
# config, launch (early, right after etcd), readiness and the wait for the first scrapes.

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

prometheus_install() {
  if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
    log "prometheus already installed"
  else
    apt_install prometheus
  fi
}
