# shellcheck shell=bash
# etcd-scratch: a throwaway 3-member etcd (x1..x3, client ports 12479/22479/32479, peer
# ports 12480/22480/32480, data in $RIG/etcdxN) for damage the shared cluster must not
# take: Patroni and the other tests stand on `etcd`. Not a component: `etcd-scratch
# start` starts it, `etcd-scratch diverge N` makes member xN hold different data,
# `etcd-scratch stop` (or `rig.sh stop`) stops it.
#
# How xN comes to differ: its data directory is restored (`etcdctl snapshot restore`,
# same name, token and peer URLs, so the same member id) from a snapshot taken 50 writes
# earlier. The restored directory's raft log ends at the membership entries, while its
# key space already holds the first 50 writes; with the whole cluster restarted (a
# leader that remembered xN's old match index would crash it), the new leader sends xN
# every entry after the membership again and xN applies them on top of the data it
# has: its revision runs ahead and its key space differs from its peers'. etcd 3.4 does
# not check this itself unless started with --experimental-initial-corrupt-check.

SCRATCH_CLUSTER="x1=http://127.0.0.1:12480,x2=http://127.0.0.1:22480,x3=http://127.0.0.1:32480"
SCRATCH_EPS="127.0.0.1:12479,127.0.0.1:22479,127.0.0.1:32479"

scratch_launch() {   # scratch_launch I
  local i=$1
  bg "etcdx$i" etcd --name "x$i" --data-dir "$RIG/etcdx$i" \
    --listen-client-urls "http://127.0.0.1:${i}2479" --advertise-client-urls "http://127.0.0.1:${i}2479" \
    --listen-peer-urls "http://127.0.0.1:${i}2480" --initial-advertise-peer-urls "http://127.0.0.1:${i}2480" \
    --initial-cluster "$SCRATCH_CLUSTER" --initial-cluster-token switchboard-scratch --initial-cluster-state new
}

scratch_ready() {
  local i; for i in 1 2 3; do alive "etcdx$i" || return 125; done
  etcdctl --dial-timeout=1s --command-timeout=2s --endpoints="$SCRATCH_EPS" endpoint health
}

scratch_put() {   # scratch_put FROM TO VALUE: keys scratch/FROM..TO
  local k
  for k in $(seq "$1" "$2"); do
    etcdctl --dial-timeout=1s --command-timeout=3s --endpoints="$SCRATCH_EPS" put "scratch/$k" "$3-$k" >/dev/null \
      || die "etcd-scratch: put scratch/$k failed"
  done
}

scratch_stop() {   # followers first: a leader stopped with its peers hangs (see etcd_stop)
  local i first=() last=()
  for i in 1 2 3; do
    if alive "etcdx$i" && etcd_is_leader "$i" "${i}2479"; then last+=("etcdx$i"); else first+=("etcdx$i"); fi
  done
  stop_procs "${first[@]}"
  stop_procs "${last[@]}"
}

scratch_start() {
  local i t0
  t0=$(now_ms)
  scratch_stop
  check_ports_free 12479 22479 32479 12480 22480 32480 || die "cannot start etcd-scratch"
  rm -rf "$RIG"/etcdx[123] "$RIG/etcdx.snap"
  for i in 1 2 3; do scratch_launch "$i"; done
  waitfor 30 scratch_ready || { show_log_tail etcdx1; die "etcd-scratch did not become healthy"; }
  scratch_put 1 20 first
  log "etcd-scratch: 3 members healthy after $(since "$t0")"
}

scratch_diverge() {   # scratch_diverge I
  local i=$1 t0 j
  t0=$(now_ms)
  scratch_ready >/dev/null 2>&1 || die "etcd-scratch is not running; 'rig.sh etcd-scratch start' first"
  scratch_put 21 70 older
  rm -f "$RIG/etcdx.snap"
  etcdctl --dial-timeout=1s --command-timeout=10s --endpoints="127.0.0.1:${i}2479" \
    snapshot save "$RIG/etcdx.snap" >/dev/null 2>&1 || die "etcd-scratch: snapshot of x$i failed"
  scratch_put 71 120 newer
  scratch_stop
  rm -rf "$RIG/etcdx$i"
  etcdctl snapshot restore "$RIG/etcdx.snap" --name "x$i" --data-dir "$RIG/etcdx$i" \
    --initial-cluster "$SCRATCH_CLUSTER" --initial-cluster-token switchboard-scratch \
    --initial-advertise-peer-urls "http://127.0.0.1:${i}2480" >/dev/null 2>&1 \
    || die "etcd-scratch: restore of x$i failed"
  for j in 1 2 3; do scratch_launch "$j"; done
  waitfor 30 scratch_ready || { show_log_tail "etcdx$i"; die "etcd-scratch did not come back"; }
  scratch_put 121 130 after
  log "etcd-scratch: x$i restored from an older snapshot and diverged after $(since "$t0")"
}

cmd_etcd_scratch() {   # cmd_etcd_scratch start | diverge N | stop
  case ${1:-} in
    start) scratch_start ;;
    stop) scratch_stop ;;
    diverge) case ${2:-} in 1|2|3) scratch_diverge "$2" ;; *) die "etcd-scratch diverge: expected 1, 2 or 3" ;; esac ;;
    *) die "etcd-scratch: expected start, diverge N or stop" ;;
  esac
}
