#!/usr/bin/env bash
# Network faults for the rig's servers, with nftables (the machines' kernel has no
# netem, so no delay; drops and random loss are what netfilter does). Rules match
# TCP to the given ports on this host, in both directions, so connections already
# made go silent too (a partition after connect), not only new ones (a blackhole:
# SYNs dropped, the connect never answered). They live in one table, switchboard_faults,
# which `clear` removes whole.
#
#   fault.sh drop PORT...          every packet to or from these ports is dropped
#   fault.sh loss PERCENT PORT...  that share of them, at random
#   fault.sh clear                 no fault
#   fault.sh install               nftables from Debian (CI runs on a fresh machine)
set -euo pipefail
TABLE=switchboard_faults

die() { echo "fault: $*" >&2; exit 1; }

table() {
  nft list table inet "$TABLE" >/dev/null 2>&1 && return 0
  nft add table inet "$TABLE"
  # Output as well as input: on loopback both hooks see each packet; dropping on
  # output stops it before any socket is involved.
  nft add chain inet "$TABLE" out '{ type filter hook output priority 0; policy accept; }'
}

ports() {
  local p set=""
  for p in "$@"; do
    [[ $p =~ ^[0-9]+$ ]] || die "not a port: $p"
    set+="${set:+, }$p"
  done
  [ -n "$set" ] || die "no port given"
  echo "{ $set }"
}

case ${1:-} in
  install)
    command -v nft >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q nftables >/dev/null ;;
  drop)
    shift; command -v nft >/dev/null || die "nft is missing: run 'fault.sh install'"
    set_=$(ports "$@"); table
    nft add rule inet "$TABLE" out tcp dport "$set_" drop
    nft add rule inet "$TABLE" out tcp sport "$set_" drop ;;
  loss)
    shift; pct=${1:-}; shift || true
    if ! [[ $pct =~ ^[0-9]+$ ]] || [ "$pct" -lt 1 ] || [ "$pct" -gt 100 ]; then
      die "loss needs a percent 1..100"
    fi
    set_=$(ports "$@"); table
    nft add rule inet "$TABLE" out tcp dport "$set_" numgen random mod 100 lt "$pct" drop
    nft add rule inet "$TABLE" out tcp sport "$set_" numgen random mod 100 lt "$pct" drop ;;
  clear)
    nft delete table inet "$TABLE" 2>/dev/null || true ;;
  *)
    echo "usage: fault.sh install | drop PORT... | loss PERCENT PORT... | clear" >&2; exit 2 ;;
esac
