# shellcheck shell=bash
# etcd: the 3-member cluster (m1..m3, client ports 12379/22379/32379, peer ports
# 12380/22380/32380, data in $RIG/etcdN): install, launch, readiness, start, restart of
# one member, etcd-readd (a removed member joins again) and stop (followers first).

ETCD_CLUSTER="m1=http://127.0.0.1:12380,m2=http://127.0.0.1:22380,m3=http://127.0.0.1:32380"
ETCD_EPS="127.0.0.1:12379,127.0.0.1:22379,127.0.0.1:32379"

etcd_launch() {   # etcd_launch I: start member mI (same flags for first start and restart)
  local i=$1
  bg "etcd$i" etcd --name "m$i" --data-dir "$RIG/etcd$i" \
    --listen-client-urls "http://127.0.0.1:${i}2379" --advertise-client-urls "http://127.0.0.1:${i}2379" \
    --listen-peer-urls "http://127.0.0.1:${i}2380" --initial-advertise-peer-urls "http://127.0.0.1:${i}2380" \
    --initial-cluster "$ETCD_CLUSTER" --initial-cluster-token switchboard-rig --initial-cluster-state new
}

etcd_cluster_ready() {
  local i; for i in 1 2 3; do alive "etcd$i" || return 125; done
  etcdctl --dial-timeout=1s --command-timeout=2s --endpoints="$ETCD_EPS" endpoint health
}

etcd_member_ready() {   # the member's client port answers (even without quorum)
  alive "etcd$1" || return 125
  etcdctl --dial-timeout=1s --command-timeout=2s --endpoints="127.0.0.1:${1}2379" endpoint status
}

etcd_start() {
  local i t0
  t0=$(now_ms)
  check_ports_free 12379 22379 32379 12380 22380 32380 || die "cannot start etcd"
  for i in 1 2 3; do etcd_launch "$i"; done
  if ! waitfor 30 etcd_cluster_ready; then
    for i in 1 2 3; do alive "etcd$i" || { log "etcd$i is not running"; show_log_tail "etcd$i"; }; done
    die "etcd cluster did not become healthy"
  fi
  log "etcd: 3 members healthy after $(since "$t0")"
}

etcd_restart() {
  local i=$1 t0
  t0=$(now_ms)
  [ -d "$RIG/etcd$i/member" ] || die "no data dir $RIG/etcd$i/member; run 'rig.sh start' first"
  if alive "etcd$i"; then log "etcd$i is running; stopping it first"; stop_procs "etcd$i"; fi
  check_ports_free "${i}2379" "${i}2380" || die "cannot restart etcd$i"
  # --initial-cluster-state new is ignored once the data dir holds data.
  etcd_launch "$i"
  waitfor 20 etcd_member_ready "$i" || { show_log_tail "etcd$i"; die "etcd$i did not answer"; }
  log "etcd$i: answering after $(since "$t0")"
}

etcd_member_add() {
  etcdctl --dial-timeout=1s --command-timeout=5s --endpoints="$ETCD_EPS" \
    member add "m$1" --peer-urls="http://127.0.0.1:${1}2380"
}

# etcd-readd I: member mI was removed from the cluster (a workflow's `etcd-remove`): add
# it back as a new member (`member add`), with an empty data dir, joining the existing
# cluster. Waits until the whole cluster is healthy again.
etcd_readd() {
  local i=$1 t0 cl
  t0=$(now_ms)
  if alive "etcd$i"; then stop_procs "etcd$i"; fi
  check_ports_free "${i}2379" "${i}2380" || die "cannot re-add etcd$i"
  if contains ", m$i, " "$(etcdctl --dial-timeout=1s --command-timeout=3s --endpoints="$ETCD_EPS" member list 2>/dev/null)"; then
    die "m$i is still a member; remove it first (or use 'restart etcd$i')"
  fi
  # etcd refuses `member add` ("unhealthy cluster") while a member connected less than
  # 5 s ago (its strict reconfiguration check): ask again for a while.
  waitfor 30 etcd_member_add "$i" || die "member add m$i failed"
  rm -rf "$RIG/etcd$i"
  cl=$ETCD_CLUSTER
  bg "etcd$i" etcd --name "m$i" --data-dir "$RIG/etcd$i" \
    --listen-client-urls "http://127.0.0.1:${i}2379" --advertise-client-urls "http://127.0.0.1:${i}2379" \
    --listen-peer-urls "http://127.0.0.1:${i}2380" --initial-advertise-peer-urls "http://127.0.0.1:${i}2380" \
    --initial-cluster "$cl" --initial-cluster-token switchboard-rig --initial-cluster-state existing
  waitfor 30 etcd_cluster_ready || { show_log_tail "etcd$i"; die "the cluster is not healthy with m$i back"; }
  log "etcd$i: re-added as a new member, cluster healthy after $(since "$t0")"
}

etcd_is_leader() {   # etcd_is_leader I [PORT]: member mI (on client port PORT) says it leads
  local f mid ld
  f=$(etcdctl --dial-timeout=1s --command-timeout=1s --endpoints="127.0.0.1:${2:-${1}2379}" \
        endpoint status -w fields 2>/dev/null) || return 1
  mid=$(sed -n 's/^"MemberID" : //p' <<<"$f"); ld=$(sed -n 's/^"Leader" : //p' <<<"$f")
  [ -n "$mid" ] && [ "$mid" = "$ld" ]
}

# Stop followers first, the leader last. A leader that gets SIGTERM first hands its
# leadership to a peer; if that peer is stopping too, the leader hangs 5-7 s (measured:
# SIGTERM to all three at once took 7 s every time, followers first about 50 ms).
etcd_stop() {
  local i first=() last=()
  for i in 1 2 3; do
    if alive "etcd$i" && etcd_is_leader "$i"; then last+=("etcd$i"); else first+=("etcd$i"); fi
  done
  stop_procs "${first[@]}"
  stop_procs "${last[@]}"
}

# etcd_install: Debian's etcd-server and etcd-client, unless etcd and etcdctl are there.
etcd_install() {
  if command -v etcd >/dev/null && command -v etcdctl >/dev/null; then
    log "etcd and etcdctl already installed"
  else
    apt_install etcd-server etcd-client
  fi
}
