# shellcheck shell=bash
# Patroni + PostgreSQL 15 (component `patroni`): three members node1..3 (REST 8001-8003,
# PostgreSQL 5441-5443, data in $RIG/pg) on the rig's etcd: install, config, launch,
# readiness, start (launch step and wait), restart of one member, stop (with the
# postmasters a killed Patroni leaves), pg-kill-postmaster, pg-walreceiver and
# pg-corrupt.

# Patroni (Debian's 3.0.2, run as `postgres`) and PostgreSQL 15.
PATRONI_BIN=/usr/bin/patroni
PG_BIN=/usr/lib/postgresql/15/bin

# Three Patroni 3.0.2 members (scope pgha, node1..3) on the rig's etcd (etcd3 API), each
# running a PostgreSQL 15: REST 127.0.0.1:800N, PostgreSQL 127.0.0.1:544N, data dir
# $RIG/pg/dataN. They run as `postgres` (PostgreSQL refuses root). The postmaster is NOT
# a child of Patroni (its PPID is 1): killing Patroni leaves PostgreSQL running.
patroni_config() {
  local i d=$RIG/pg
  mkdir -p "$d"
  # Run once by Patroni (as postgres) on the bootstrapping node; $1 is a superuser DSN.
  # (3.0.2 still reads bootstrap.users, Patroni 4 does not.) The console's read-only login.
  cat > "$d/post_bootstrap.sh" <<SH
#!/bin/sh
exec $PG_BIN/psql -X -q -v ON_ERROR_STOP=1 -d "\$1" \\
  -c "CREATE ROLE switchboard LOGIN PASSWORD 'rigwatch' IN ROLE pg_monitor"
SH
  for i in 1 2 3; do
    cat > "$d/node$i.yml" <<CFG
scope: pgha
name: node$i
log:
  level: INFO
restapi:
  listen: 127.0.0.1:800$i
  connect_address: 127.0.0.1:800$i
etcd3:
  hosts: $ETCD_EPS
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
        # A replica often starts before the leader has made its slot ("replication slot
        # nodeN does not exist"); the walreceiver then retries after this (default 5 s).
        wal_retrieve_retry_interval: 1s
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    # As production should run: a page damaged on disk fails its checksum when read
    # (pg_stat_database.checksum_failures) instead of being served as good.
    - data-checksums
  post_bootstrap: $d/post_bootstrap.sh
postgresql:
  listen: 127.0.0.1:544$i
  connect_address: 127.0.0.1:544$i
  data_dir: $d/data$i
  bin_dir: $PG_BIN
  pgpass: $d/pgpass$i
  authentication:
    superuser: { username: postgres, password: rigsecret }
    replication: { username: replicator, password: rigsecret }
  parameters:
    unix_socket_directories: "$d"
  pg_hba:
    - local all all peer
    - host replication replicator 127.0.0.1/32 md5
    - host all all 127.0.0.1/32 md5
CFG
  done
  chmod 600 "$d"/node?.yml; chmod 755 "$d/post_bootstrap.sh"
  chown -R postgres:postgres "$d"; chmod 750 "$d"
  as_postgres test -w "$d" ||
    die "user postgres cannot write $d (is a parent directory of RIG=$RIG closed to it?)"
}
# AS_POSTGRES CMD...: run CMD as the OS user postgres (setpriv, not su/runuser: it execs,
# so bg's PID file holds Patroni's own PID). A clean PATH: pyenv's shims under /root are
# closed to postgres.
AS_POSTGRES=(setpriv --reuid=postgres --regid=postgres --init-groups
  env -u PYTHONPATH -u PYTHONHOME HOME=/var/lib/postgresql PATH=/usr/local/bin:/usr/bin:/bin)
as_postgres() { "${AS_POSTGRES[@]}" "$@"; }
patroni_launch() {   # patroni_launch I: start member nodeI (same for first start and restart)
  { [ -x "$PATRONI_BIN" ] && [ -x "$PG_BIN/postgres" ]; } || die "no Patroni or PostgreSQL 15; run 'rig.sh install patroni'"
  bg "patroni$1" "${AS_POSTGRES[@]}" "$PATRONI_BIN" "$RIG/pg/node$1.yml"
}

# pat_code PATH I: the HTTP status of GET PATH on member I's REST API (000: no answer).
pat_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:800$2$1" || true; }
# patroni_members: "name role state" lines of /cluster, from the first member that answers.
patroni_members() {
  local i j
  for i in 1 2 3; do
    j=$(curl -sf -m 2 "http://127.0.0.1:800$i/cluster") || continue
    /usr/bin/python3 -c 'import json, sys
for m in json.load(sys.stdin).get("members", []):
    print(m.get("name"), m.get("role"), m.get("state"))' <<<"$j" && return 0
  done
  return 1
}
# patroni_leader: the number I of the member whose /primary answers 200 (in 3.0.2: the
# member holds the leader key; PostgreSQL may still be promoting).
patroni_leader() {
  local i; for i in 1 2 3; do [ "$(pat_code /primary "$i")" = 200 ] && { echo "$i"; return 0; }; done
  return 1
}
# pg_sql I SQL: run SQL on node I's PostgreSQL as the console's login (switchboard, a
# pg_monitor member, made by post_bootstrap.sh); prints the unaligned result.
pg_sql() {
  PGPASSWORD=rigwatch PGCONNECT_TIMEOUT=2 "$PG_BIN/psql" -X -At -h 127.0.0.1 -p "544$1" -U switchboard \
    -d postgres -c "$2"
}
# A leader that is a running primary, both others replicas in /cluster that are running
# (3.0.2) or streaming (4.x), and the primary sees both streaming (pg_stat_replication;
# this also proves the switchboard login works).
patroni_cluster_ready() {
  local i m l
  for i in 1 2 3; do running "patroni$i" || return 125; done
  l=$(patroni_leader) || return 1
  m=$(patroni_members) || return 1
  [ "$(awk '$2 == "leader" && $3 == "running"' <<<"$m" | wc -l)" = 1 ] || return 1
  [ "$(awk '($2 == "replica" || $2 == "sync_standby") && ($3 == "running" || $3 == "streaming")' <<<"$m" | wc -l)" = 2 ] || return 1
  [ "$(pg_sql "$l" "select count(*) from pg_stat_replication where state = 'streaming'")" = 2 ]
}
# patroni_member_ready I: PostgreSQL runs (/health 200) and member I has settled: it is
# the primary (/primary 200), or a replica (/replica 200) whose PostgreSQL streams WAL
# (pg_stat_wal_receiver). /health and /replica alone are not enough: /health is 200 at
# once when Patroni adopts a postmaster still running as a primary (split brain), and
# /replica was 200 for a moment before Patroni stopped that PostgreSQL again to
# pg_rewind it.
patroni_member_ready() {
  running "patroni$1" || return 125
  [ "$(pat_code /health "$1")" = 200 ] || return 1
  [ "$(pat_code /primary "$1")" = 200 ] && return 0
  [ "$(pat_code /replica "$1")" = 200 ] &&
    [ "$(pg_sql "$1" "select status from pg_stat_wal_receiver")" = streaming ]
}

# `start` launches node1 right after etcd, and node2/node3 once node1 has taken the
# `initialize` key (so node1 is always the one that bootstraps and the first leader);
# the other components start meanwhile, and patroni_wait waits last.
PG_T0=0
patroni_launch_step() {
  check_ports_free 8001 8002 8003 5441 5442 5443 || die "cannot start Patroni"
  patroni_config
  patroni_launch 1
  waitfor 30 patroni_initialize_taken || { show_log_tail patroni1; die "node1 did not take the initialize key"; }
  patroni_launch 2; patroni_launch 3
  log "patroni: node1 bootstrapping, node2 and node3 launched after $(since "$PG_T0")"
}
patroni_initialize_taken() {
  running patroni1 || return 125
  # The key appears (empty) when node1 wins the race, before its initdb; it then holds
  # the system id.
  [ -n "$(etcdctl --dial-timeout=1s --command-timeout=2s --endpoints="$ETCD_EPS" get --keys-only /service/pgha/initialize)" ]
}
patroni_wait() {
  local i
  if ! waitfor 90 patroni_cluster_ready; then
    for i in 1 2 3; do show_log_tail "patroni$i"; done
    die "Patroni: no primary with two streaming replicas"
  fi
  log "patroni: primary node$(patroni_leader) and 2 replicas streaming after $(since "$PG_T0")"
  orders_start
}

# The "orders" service (tests/rig/orders_app.py on 127.0.0.1:9010): its /ready needs a
# session on the primary, so a connection leak or a lost primary fails it. Part of the
# `patroni` component.
orders_launch() { bg orders /usr/bin/python3 "$RIG_DIR/orders_app.py" 9010; }
orders_ready() { running orders && [ "$(curl -s --max-time 2 http://127.0.0.1:9010/ready)" = ready ]; }
orders_start() {
  check_ports_free 9010 || die "cannot start orders"
  orders_launch
  waitfor 20 orders_ready || { show_log_tail orders; die "orders: /ready did not answer ready"; }
}

patroni_restart() {   # patroni_restart I: start member I again (after a kill or a crash)
  local i=$1 t0
  t0=$(now_ms)
  [ -e "$RIG/pg/node$i.yml" ] || die "no $RIG/pg/node$i.yml; run 'rig.sh start patroni' first"
  if alive "patroni$i"; then cmd_kill "patroni$i"; waitfor 5 ports_free "800$i" 2>/dev/null || true; fi
  # Only the REST port: a postmaster left running (split brain) keeps 544I, and Patroni
  # adopts it.
  check_ports_free "800$i" || die "cannot restart patroni$i"
  patroni_launch "$i"
  waitfor 90 patroni_member_ready "$i" || { show_log_tail "patroni$i"; die "patroni$i did not come back"; }
  log "patroni$i: back as $(if [ "$(pat_code /primary "$i")" = 200 ]; then echo primary; else echo replica; fi) after $(since "$t0")"
}

# pm_pid I: the PID of node I's postmaster (first line of dataI/postmaster.pid), if that
# process is alive (not a zombie) and is a postgres for that data dir (not a reused PID).
pm_pid() {
  local f=$RIG/pg/data$1/postmaster.pid pid st
  [ -s "$f" ] || return 1
  pid=$(head -n 1 "$f" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  st=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  st=${st##*) }
  case ${st%% *} in Z|X|x) return 1 ;; esac
  grep -qxF "$RIG/pg/data$1" <<<"$(tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null)" || return 1
  echo "$pid"
}
# pm_kill SIGNAL I...: send SIGNAL to the live postmasters of nodes I...; wait (up to 10 s)
# until they and their children (backends, walsenders...) are dead. The children must be
# gone before a new postmaster can start (they hold the old shared memory). Fails if any
# is left.
pm_kill() {
  local sig=$1 i pid pids=() kids=(); shift
  for i in "$@"; do
    pid=$(pm_pid "$i") || continue
    mapfile -t kids < <(pgrep -P "$pid" || true)
    kill "-$sig" "$pid" 2>/dev/null || true
    pids+=("$pid" "${kids[@]}")
  done
  [ ${#pids[@]} -eq 0 ] && return 0
  STOPPED_PIDS+=("${pids[@]}")
  waitfor 10 pids_dead "${pids[@]}"
}
cmd_pg_kill_postmaster() {
  local i=${1:-} pid
  case $i in 1|2|3) ;; *) die "pg-kill-postmaster: expected 1, 2 or 3, got '$i'" ;; esac
  if ! pid=$(pm_pid "$i"); then log "the postmaster of node$i was not running"; return 0; fi
  pm_kill KILL "$i" || die "the postmaster of node$i (pid $pid) or its children did not die"
  log "node$i: postmaster $pid and its children SIGKILLed"
}

# pg-walreceiver N stop|cont: freeze (SIGSTOP) or thaw (SIGCONT) the WAL receiver of
# node N's PostgreSQL. Frozen, the replica really falls behind as the primary writes
# (Patroni reports the growing lag); thawed, it catches up. A replica only.
cmd_pg_walreceiver() {
  local i=${1:-} how=${2:-} pm wr
  case $i in 1|2|3) ;; *) die "pg-walreceiver: expected 1, 2 or 3, got '$i'" ;; esac
  case $how in stop|cont) ;; *) die "pg-walreceiver: expected stop or cont, got '$how'" ;; esac
  pm=$(pm_pid "$i") || die "the postmaster of node$i is not running"
  wr=$(pgrep -P "$pm" -f walreceiver) || die "node$i has no WAL receiver (not a streaming replica?)"
  kill "-${how^^}" "$wr"
  log "node$i: WAL receiver $wr $( [ "$how" = stop ] && echo frozen || echo thawed)"
}

# pg-corrupt N TABLE: damage block 0 of TABLE's file on node N's disk (100 bytes of
# the page overwritten), as a failing disk would. The cluster is paused meanwhile
# (Patroni would restart a stopped PostgreSQL at once), node N's PostgreSQL stopped so
# no clean copy of the page stays in its memory or is written back over the damage,
# then started again and the pause lifted. Reading TABLE on node N then fails its
# checksum (data checksums are on).
cmd_pg_corrupt() {
  local i=${1:-} table=${2:-} rel f
  case $i in 1|2|3) ;; *) die "pg-corrupt: expected 1, 2 or 3, got '$i'" ;; esac
  [[ $table =~ ^[a-z_][a-z0-9_]*$ ]] || die "pg-corrupt: expected a table name, got '$table'"
  rel=$(pg_sql "$i" "select pg_relation_filepath('$table')") || die "node$i: no table $table"
  f=$RIG/pg/data$i/$rel
  curl -sf -m 5 -XPATCH -d '{"pause": true}' "http://127.0.0.1:800$i/config" >/dev/null ||
    die "could not pause the cluster through node$i"
  as_postgres "$PG_BIN/pg_ctl" -D "$RIG/pg/data$i" -m fast -w -t 30 stop >/dev/null ||
    die "node$i: pg_ctl stop failed"
  [ -s "$f" ] || die "node$i: $f is empty or missing"
  head -c 100 /dev/urandom | dd of="$f" bs=1 seek=4000 count=100 conv=notrunc status=none
  as_postgres "$PG_BIN/pg_ctl" -D "$RIG/pg/data$i" -w -t 60 -l "$RIG/pg/manual$i.log" start >/dev/null ||
    die "node$i: pg_ctl start failed (see $RIG/pg/manual$i.log)"
  curl -sf -m 5 -XPATCH -d '{"pause": false}' "http://127.0.0.1:800$i/config" >/dev/null ||
    die "could not resume the cluster through node$i"
  log "node$i: block 0 of $table ($rel) damaged on disk"
}

# All three at once (each Patroni takes 1.5-2.5 s to exit after its PostgreSQL is down:
# it waits for the postmaster to leave /proc, and PID 1 reaps it late here). Patroni
# stops its PostgreSQL (fast shutdown); a replica that got SIGTERM starts no leader race.
# Then any postmaster left behind (a killed Patroni's): SIGINT, a fast shutdown
# (SIGTERM, a smart one, waits for sessions to end), SIGKILL after 10 s.
patroni_stop() {
  local i left=()
  stop_if_any orders patroni1 patroni2 patroni3
  for i in 1 2 3; do pm_pid "$i" >/dev/null && left+=("$i"); done
  [ ${#left[@]} -eq 0 ] && return 0
  log "stopping leftover postmasters of nodes ${left[*]} (SIGINT)"
  pm_kill INT "${left[@]}" 2>/dev/null && return 0
  log "postmasters ignored SIGINT for 10 s; SIGKILL"
  pm_kill KILL "${left[@]}" || log "warning: postgres processes still alive"
}
pm_any() { local i; for i in 1 2 3; do pm_pid "$i" >/dev/null && return 0; done; return 1; }

patroni_install() {
  if [ -x "$PATRONI_BIN" ] && [ -x "$PG_BIN/postgres" ]; then
    log "patroni and postgresql-15 already installed"
  else
    # Debian's patroni does not pull in PostgreSQL: name postgresql-15 explicitly.
    apt_install patroni postgresql-15
  fi
}
