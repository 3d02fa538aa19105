# shellcheck shell=bash
# prometheustls: a Prometheus as production runs it (production.md section 3): every
# path behind TLS (the rig's server certificate from lib/tls.sh) and basic auth (user
# prom, password in $RIG/httptls/prometheus.password), on 127.0.0.1:44690. It scrapes
# itself over the same TLS and auth, so `up{job="self"}` is 1 once it runs. Config in
# $RIG/httptls/prometheus-{web,config}.yml, data in $RIG/httptls/promdata.

PROMTLS_PORT=44690

prometheustls_config() {
  local d=$RIG/httptls t=$RIG/tls hash out
  mkdir -p "$d"
  hash=$(http_bcrypt prom prometheus)
  cat > "$d/prometheus-web.yml" <<CFG
tls_server_config:
  cert_file: $t/server.pem
  key_file: $t/server-key.pem
basic_auth_users:
  prom: '$hash'
CFG
  # The self-scrape reads the password from its file, as the console does.
  cat > "$d/prometheus-config.yml" <<CFG
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: self
    scheme: https
    tls_config: { ca_file: $t/ca.pem }
    basic_auth: { username: prom, password_file: $(http_secret prometheus) }
    static_configs: [{ targets: ["127.0.0.1:$PROMTLS_PORT"] }]
CFG
  out=$(promtool check web-config "$d/prometheus-web.yml" 2>&1) || die "prometheus-web.yml is invalid: $out"
  promtool check config "$d/prometheus-config.yml" >/dev/null || die "prometheus-config.yml is invalid"
}
prometheustls_launch() {
  bg prometheustls prometheus --config.file="$RIG/httptls/prometheus-config.yml" \
    --web.config.file="$RIG/httptls/prometheus-web.yml" --storage.tsdb.path="$RIG/httptls/promdata" \
    --web.listen-address="127.0.0.1:$PROMTLS_PORT"
}
# prometheustls_curl PATH: curl with the rig's CA and the password (from its file, via
# a curl config on stdin, so it is on no command line).
prometheustls_curl() {
  printf 'user = "prom:%s"\n' "$(cat "$(http_secret prometheus)")" |
    curl -sf --cacert "$RIG/tls/ca.pem" -K - "https://127.0.0.1:$PROMTLS_PORT$1"
}
prometheustls_ready() { running prometheustls && prometheustls_curl /-/ready >/dev/null; }
# Its self-scrape went through (TLS and auth both work from a client too).
prometheustls_scraped() {
  running prometheustls || return 125
  contains '"job":"self"' "$(prometheustls_curl '/api/v1/query?query=up%7Bjob%3D%22self%22%7D%3D%3D1')"
}
prometheustls_start() {
  local t0; t0=$(now_ms)
  check_ports_free "$PROMTLS_PORT" || die "cannot start prometheustls"
  tls_pki
  prometheustls_config; prometheustls_launch
  waitfor 20 prometheustls_ready || { show_log_tail prometheustls; die "prometheustls is not ready"; }
  waitfor 30 prometheustls_scraped || { show_log_tail prometheustls; die "prometheustls has not scraped itself"; }
  log "prometheustls: TLS + basic auth, scraping itself after $(since "$t0")"
}
prometheustls_install() {
  prometheus_install
  httpsecret_install
}
