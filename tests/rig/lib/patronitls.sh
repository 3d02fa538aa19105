# shellcheck shell=bash
# patronitls: a Patroni cluster as production runs it (component `patronitls`). Three
# Patroni 3.0.2 members tnode1..3 (processes patronitls1..3), scope pgtls, their DCS the
# rig's `etcdtls` (client certificate), REST over TLS with restapi.authentication on
# 127.0.0.1:44701-44703, PostgreSQL 15 with `ssl = on` on 127.0.0.1:44711-44713 and
# pg_hba `hostssl` only (plaintext clients are rejected). Data, configs and secrets in
# $RIG/pgtls. Recipe: /work/shared/docs/production.md section 2.
#
# Logins (both in pg_monitor and pg_signal_backend, for the console's reads and the
# runbook's terminate_sessions):
#   sbpass  by password (scram-sha-256); the password is in $RIG/pgtls/pgpass (a
#           PGPASSFILE line) and $RIG/pgtls/sbpass.password, never in `rig.sh env`
#   sbcert  by client certificate (pg_hba `cert`): $RIG/tls/pgcert.pem (CN sbcert)
# $RIG/pgtls/pg_service.conf holds a service `pgtls` (verify-full, sbpass) for PGSERVICE.
# The database `switchboard`, owned by sbpass, is the relays' team record (serve.record);
# made by copying files (a checkpoint of its own) so that no dirty buffers slow the
# replicas' base backups, whose spread checkpoint would wait minutes for them.
# Beside the cluster, a lone PostgreSQL 15 (process pgexpired) on 127.0.0.1:44720 serves
# a certificate from the rig's CA that expired yesterday (tls/expired.pem): the
# expired-certificate case on a real server (login: postgres, trust, over TLS only).
# The REST API's user and password are in $RIG/pgtls/rest.user / rest.password.

PATRONITLS_REST_PORTS=(44701 44702 44703)
PATRONITLS_PG_PORTS=(44711 44712 44713)

patronitls_rest_port() { echo "${PATRONITLS_REST_PORTS[$(( $1 - 1 ))]}"; }
patronitls_pg_port() { echo "${PATRONITLS_PG_PORTS[$(( $1 - 1 ))]}"; }
patronitls_ports() { echo "${PATRONITLS_REST_PORTS[*]} ${PATRONITLS_PG_PORTS[*]}"; }

# patronitls_pki: the rig's PKI (lib/tls.sh) plus the client certificate of the `sbcert`
# login (pgcert.pem, CN = the role's name), made once per PKI; then the copies
# PostgreSQL and Patroni read, owned by postgres (PostgreSQL refuses a key that others
# can read, and root's keys are closed to it).
patronitls_pki() {
  local t=$RIG/tls c=$RIG/pgtls/certs
  tls_pki
  if [ ! -s "$t/pgcert.pem" ]; then
    ( cd "$t" && umask 077 && tls_leaf pgcert sbcert 825 clientAuth && rm -f ca.srl &&
        chmod 644 pgcert.pem && chmod 600 pgcert-key.pem ) >>"$RIG/tls.log" 2>&1 ||
      { show_log_tail tls; die "openssl could not make the sbcert client certificate"; }
  fi
  mkdir -p "$c"
  cp "$t/ca.pem" "$t/server.pem" "$t/server-key.pem" "$t/client.pem" "$t/client-key.pem" "$c/"
  chmod 600 "$c"/*-key.pem
}

patronitls_config() {
  local i d=$RIG/pgtls c=$RIG/pgtls/certs restpw pw supw rest pg
  mkdir -p "$d"
  patronitls_pki
  restpw=$(openssl rand -hex 12); pw=$(openssl rand -hex 12); supw=$(openssl rand -hex 12)
  ( umask 077
    echo patroni > "$d/rest.user"; echo "$restpw" > "$d/rest.password"
    echo "$pw" > "$d/sbpass.password"
    # host:port:db:user:password (libpq's PGPASSFILE); a wildcard port for all members.
    echo "127.0.0.1:*:*:sbpass:$pw" > "$d/pgpass" )
  cat > "$d/pg_service.conf" <<SVC
# The console's login to the rig's TLS PostgreSQL (libpq's PGSERVICEFILE format).
[pgtls]
host=127.0.0.1
port=$(patronitls_pg_port 1)
dbname=postgres
user=sbpass
sslmode=verify-full
sslrootcert=$RIG/tls/ca.pem
SVC
  # Run once by Patroni (as postgres) on the bootstrapping node; $1 is a superuser DSN.
  cat > "$d/post_bootstrap.sh" <<SH
#!/bin/sh
exec $PG_BIN/psql -X -q -v ON_ERROR_STOP=1 -d "\$1" \\
  -c "CREATE ROLE sbpass LOGIN PASSWORD '$pw' IN ROLE pg_monitor, pg_signal_backend" \\
  -c "CREATE ROLE sbcert LOGIN IN ROLE pg_monitor, pg_signal_backend" \\
  -c "CREATE DATABASE switchboard OWNER sbpass STRATEGY FILE_COPY"
SH
  for i in 1 2 3; do
    rest=$(patronitls_rest_port "$i"); pg=$(patronitls_pg_port "$i")
    mkdir -p "$d/tnode$i"
    cat > "$d/tnode$i.yml" <<CFG
scope: pgtls
name: tnode$i
log:
  level: INFO
restapi:
  listen: 127.0.0.1:$rest
  connect_address: 127.0.0.1:$rest
  certfile: $c/server.pem
  keyfile: $c/server-key.pem
  cafile: $c/ca.pem
  verify_client: optional
  authentication: { username: patroni, password: $restpw }
ctl: { certfile: $c/client.pem, keyfile: $c/client-key.pem, cacert: $c/ca.pem }
etcd3:
  hosts: ${ETCDTLS_EPS//https:\/\//}
  protocol: https
  cacert: $c/ca.pem
  cert: $c/client.pem
  key: $c/client-key.pem
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 2
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_log_hints: "on"
        max_connections: 100
        wal_retrieve_retry_interval: 1s
        ssl: "on"
        ssl_cert_file: $c/server.pem
        ssl_key_file: $c/server-key.pem
        ssl_ca_file: $c/ca.pem
        password_encryption: scram-sha-256
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
  post_bootstrap: $d/post_bootstrap.sh
postgresql:
  listen: 127.0.0.1:$pg
  connect_address: 127.0.0.1:$pg
  data_dir: $d/tnode$i/data
  bin_dir: $PG_BIN
  pgpass: $d/tnode$i/pgpass
  use_unix_socket: true
  authentication:
    superuser: { username: postgres, password: $supw, sslmode: verify-full, sslrootcert: $c/ca.pem }
    replication: { username: replicator, password: $supw, sslmode: verify-full, sslrootcert: $c/ca.pem }
  parameters:
    unix_socket_directories: "$d/tnode$i"
  pg_hba:
    - local all all peer
    - hostssl replication replicator 127.0.0.1/32 scram-sha-256
    - hostssl all sbcert 127.0.0.1/32 cert
    - hostssl all all 127.0.0.1/32 scram-sha-256
    - hostnossl all all 0.0.0.0/0 reject
CFG
  done
  chmod 600 "$d"/tnode?.yml; chmod 750 "$d/post_bootstrap.sh"
  chown -R postgres:postgres "$d"; chmod 750 "$d"
  # The test reads the secrets as root; pgpass must stay 0600 (libpq ignores it otherwise).
  chown root:root "$d/pgpass" "$d/sbpass.password" "$d/rest.user" "$d/rest.password" "$d/pg_service.conf"
  as_postgres test -w "$d" ||
    die "user postgres cannot write $d (is a parent directory of RIG=$RIG closed to it?)"
}

patronitls_launch() {   # patronitls_launch I: start member tnodeI
  { [ -x "$PATRONI_BIN" ] && [ -x "$PG_BIN/postgres" ]; } || die "no Patroni or PostgreSQL 15; run 'rig.sh install patronitls'"
  bg "patronitls$1" "${AS_POSTGRES[@]}" "$PATRONI_BIN" "$RIG/pgtls/tnode$1.yml"
}

# pt_get PATH I: GET PATH on member I's REST API over TLS (no auth: GETs need none).
pt_get() { curl -s -m 2 --cacert "$RIG/tls/ca.pem" "https://127.0.0.1:$(patronitls_rest_port "$2")$1"; }
pt_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' --cacert "$RIG/tls/ca.pem" \
  "https://127.0.0.1:$(patronitls_rest_port "$2")$1" || true; }
patronitls_leader() {
  local i; for i in 1 2 3; do [ "$(pt_code /primary "$i")" = 200 ] && { echo "$i"; return 0; }; done
  return 1
}
# pt_sql I SQL: SQL on member I as sbpass, over verified TLS (as every client must).
pt_sql() {
  PGPASSFILE=$RIG/pgtls/pgpass PGCONNECT_TIMEOUT=2 "$PG_BIN/psql" -X -At \
    "host=127.0.0.1 port=$(patronitls_pg_port "$1") dbname=postgres user=sbpass sslmode=verify-full sslrootcert=$RIG/tls/ca.pem" \
    -c "$2"
}
patronitls_members() {
  local i j
  for i in 1 2 3; do
    j=$(pt_get /cluster "$i") || continue
    /usr/bin/python3 -c 'import json, sys
for m in json.load(sys.stdin).get("members", []):
    print(m.get("name"), m.get("role"), m.get("state"))' <<<"$j" && return 0
  done
  return 1
}
# One primary, two running replicas, and the primary sees both streaming over TLS.
patronitls_ready() {
  local i l m
  for i in 1 2 3; do running "patronitls$i" || return 125; done
  l=$(patronitls_leader) || return 1
  m=$(patronitls_members) || return 1
  [ "$(awk '$2 == "leader" && $3 == "running"' <<<"$m" | wc -l)" = 1 ] || return 1
  [ "$(awk '($2 == "replica" || $2 == "sync_standby") && ($3 == "running" || $3 == "streaming")' <<<"$m" | wc -l)" = 2 ] || return 1
  [ "$(pt_sql "$l" "select count(*) from pg_stat_replication r join pg_stat_ssl s using (pid) where r.state = 'streaming' and s.ssl")" = 2 ]
}
patronitls_initialize_taken() {
  running patronitls1 || return 125
  [ -n "$(etcdtls_ctl "$ETCDTLS_EPS" get --keys-only /service/pgtls/initialize)" ]
}

PGEXPIRED_PORT=44720
# pgexpired_start: initdb, the PKI's expired certificate, TLS only, start, wait for it.
pgexpired_start() {
  local d=$RIG/pgtls/expired t=$RIG/tls
  mkdir -p "$d"
  # The PKI's certificate that expired yesterday (lib/tls.sh).
  cp "$t/expired.pem" "$d/pgexpired.pem"; cp "$t/expired-key.pem" "$d/pgexpired-key.pem"
  chown -R postgres:postgres "$d"; chmod 700 "$d"
  as_postgres "$PG_BIN/initdb" -D "$d/data" -U postgres --auth-local=peer --auth-host=reject -E UTF8 \
    --locale=C.UTF-8 >>"$RIG/pgexpired.log" 2>&1 || { show_log_tail pgexpired; die "initdb failed for pgexpired"; }
  cat >> "$d/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGEXPIRED_PORT
unix_socket_directories = '$d'
ssl = on
ssl_cert_file = '$d/pgexpired.pem'
ssl_key_file = '$d/pgexpired-key.pem'
max_connections = 20
CONF
  printf '%s\n' "local all all peer" "hostssl all postgres 127.0.0.1/32 trust" \
    "hostnossl all all 0.0.0.0/0 reject" > "$d/data/pg_hba.conf"
  bg pgexpired "${AS_POSTGRES[@]}" "$PG_BIN/postgres" -D "$d/data"
  waitfor 20 pgexpired_ready || { show_log_tail pgexpired; die "pgexpired did not accept connections"; }
}
pgexpired_ready() { running pgexpired || return 125; "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PGEXPIRED_PORT"; }

patronitls_start() {
  local t0 i
  t0=$(now_ms)
  # shellcheck disable=SC2046  # a list of port numbers
  check_ports_free $(patronitls_ports) "$PGEXPIRED_PORT" || die "cannot start patronitls"
  alive etcdtls1 || die "patronitls needs etcdtls (its DCS), which is not running"
  patronitls_config
  patronitls_launch 1
  waitfor 30 patronitls_initialize_taken || { show_log_tail patronitls1; die "tnode1 did not take the initialize key"; }
  patronitls_launch 2; patronitls_launch 3
  if ! waitfor 90 patronitls_ready; then
    for i in 1 2 3; do show_log_tail "patronitls$i"; done
    die "patronitls: no primary with two replicas streaming over TLS"
  fi
  log "patronitls: primary tnode$(patronitls_leader) and 2 replicas streaming over TLS after $(since "$t0")"
  pgexpired_start
  log "patronitls: and pgexpired (an expired certificate) after $(since "$t0")"
}

# patronitls_member_ready I: PostgreSQL runs and member I is the primary, or a replica
# streaming WAL (see patroni_member_ready in lib/patroni.sh for why both checks).
patronitls_member_ready() {
  running "patronitls$1" || return 125
  [ "$(pt_code /health "$1")" = 200 ] || return 1
  [ "$(pt_code /primary "$1")" = 200 ] && return 0
  [ "$(pt_code /replica "$1")" = 200 ] &&
    [ "$(pt_sql "$1" "select status from pg_stat_wal_receiver")" = streaming ]
}
patronitls_restart() {   # patronitls_restart I: start member I again (after a kill or a crash)
  local i=$1 t0
  t0=$(now_ms)
  [ -e "$RIG/pgtls/tnode$i.yml" ] || die "no $RIG/pgtls/tnode$i.yml; run 'rig.sh start patronitls' first"
  if alive "patronitls$i"; then cmd_kill "patronitls$i"; waitfor 5 ports_free "$(patronitls_rest_port "$i")" 2>/dev/null || true; fi
  # Only the REST port: a postmaster left running keeps its port, and Patroni adopts it.
  check_ports_free "$(patronitls_rest_port "$i")" || die "cannot restart patronitls$i"
  patronitls_launch "$i"
  waitfor 90 patronitls_member_ready "$i" || { show_log_tail "patronitls$i"; die "patronitls$i did not come back"; }
  log "patronitls$i: back as $(if [ "$(pt_code /primary "$i")" = 200 ]; then echo primary; else echo replica; fi) after $(since "$t0")"
}

# patronitls_pm_pid I: the live postmaster of member I (see pm_pid in lib/patroni.sh).
patronitls_pm_pid() {
  local f=$RIG/pgtls/tnode$1/data/postmaster.pid pid st
  [ -s "$f" ] || return 1
  pid=$(head -n 1 "$f" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  st=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  st=${st##*) }
  case ${st%% *} in Z|X|x) return 1 ;; esac
  grep -qxF "$RIG/pgtls/tnode$1/data" <<<"$(tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null)" || return 1
  echo "$pid"
}
# Patroni stops its PostgreSQL; a postmaster left behind (a killed Patroni's) gets a fast
# shutdown (SIGINT), SIGKILL after 10 s.
patronitls_stop() {
  local i pid pids=()
  stop_if_any pgexpired patronitls1 patronitls2 patronitls3
  for i in 1 2 3; do
    pid=$(patronitls_pm_pid "$i") || continue
    kill -INT "$pid" 2>/dev/null || true; pids+=("$pid")
  done
  [ ${#pids[@]} -eq 0 ] && return 0
  STOPPED_PIDS+=("${pids[@]}")
  waitfor 10 pids_dead "${pids[@]}" && return 0
  kill -KILL "${pids[@]}" 2>/dev/null || true
  waitfor 10 pids_dead "${pids[@]}" || log "warning: postgres processes of patronitls still alive"
}

patronitls_install() {
  etcdtls_install
  patroni_install
  command -v curl >/dev/null || apt_install curl
}
