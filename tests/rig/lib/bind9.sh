# shellcheck shell=bash
# BIND9 (component `bind9`): named1, the primary of switchboard.test on 5301, and
# named2, its secondary on 5302: install, configs (TSIG key, zone), launch, readiness,
# start and bind9-reset (the zone back as start left it).

# Two servers of Debian's BIND 9.18 for the zone switchboard.test, run as root in the
# foreground (`named -g`: its log on stderr, so in NAME.log), each with its own config
# and directory under $RIG/bind9, on 127.0.0.1 only (UDP and TCP):
# - named1: the primary on 5301. Its zone file is written at start; RFC 2136 updates
#   signed with the TSIG key switchboard-key (hmac-sha256, made by tsig-keygen at each
#   start) go to its journal. It NOTIFYs named2 only (`notify explicit`: both NS names
#   point at 127.0.0.1 port 53, where nothing should be told).
# - named2: the secondary on 5302, transferring the zone from named1 (allowed from
#   127.0.0.1) on NOTIFY. The SOA refresh is 1 h, so a change reaching it within
#   seconds came by NOTIFY, not by polling.
# No rndc (`controls { };`), no recursion, no DNSSEC validation.
DNS_ZONE=switchboard.test
DNS_PORT1=5301
DNS_PORT2=5302
DNS_KEY_NAME=switchboard-key
NAMED_BIN=/usr/sbin/named

# The zone as `start` and `bind9-reset` leave it (serial 1). www is the failover record
# (TTL 15); api another TTL-15 name.
bind9_zone() {
  cat > "$1" <<ZONE
\$ORIGIN $DNS_ZONE.
\$TTL 300
@               SOA    ns1.$DNS_ZONE. hostmaster.$DNS_ZONE. 1 3600 600 86400 15
                NS     ns1.$DNS_ZONE.
                NS     ns2.$DNS_ZONE.
ns1             A      127.0.0.1
ns2             A      127.0.0.1
www          15 CNAME  primary-region.$DNS_ZONE.
primary-region  A      127.0.0.1
standby-region  A      127.0.0.2
api          15 A      127.0.0.1
ZONE
}
# named_options DIR PORT: the options both servers share. Every file named writes is
# under DIR: the default pid-file and session-keyfile are in /run/named, shared by every
# named on the machine (a second named, exiting, deleted both while the first still
# ran). lock-file has no default in 9.18; set so that two starts on one DIR collide.
named_options() {
  cat <<CFG
options {
    directory "$1";
    pid-file "$1/named.pid";
    lock-file "$1/named.lock";
    session-keyfile "$1/session.key";
    managed-keys-directory "$1";
    listen-on port $2 { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion no;
    dnssec-validation no;
};
controls { };
CFG
}
# bind9_check: named-checkconf (with the primary's zone loaded) and named-checkzone;
# their own words on failure.
bind9_check() {
  local d=$RIG/bind9 out
  out=$(named-checkconf -z "$d/primary/named.conf" 2>&1) || die "named-checkconf $d/primary/named.conf: $out"
  out=$(named-checkconf "$d/secondary/named.conf" 2>&1) || die "named-checkconf $d/secondary/named.conf: $out"
  out=$(named-checkzone "$DNS_ZONE" "$d/primary/$DNS_ZONE.db" 2>&1) || die "named-checkzone $DNS_ZONE: $out"
}
# bind9_config: the key (tsig.key in BIND's format, tsig.secret the base64 secret alone,
# one line), both configs and the primary's zone file.
bind9_config() {
  local d=$RIG/bind9 key
  mkdir -p "$d/primary" "$d/secondary"
  key=$(tsig-keygen -a hmac-sha256 "$DNS_KEY_NAME" 2>&1) || die "tsig-keygen: $key"
  ( umask 077
    printf '%s\n' "$key" > "$d/tsig.key"
    sed -n 's/^[[:space:]]*secret "\([^"]*\)";$/\1/p' "$d/tsig.key" > "$d/tsig.secret" )
  [ -s "$d/tsig.secret" ] || die "no secret found in $d/tsig.key"
  {
    named_options "$d/primary" "$DNS_PORT1"
    cat <<CFG
include "$d/tsig.key";
zone "$DNS_ZONE" {
    type primary;
    file "$DNS_ZONE.db";
    allow-update { key $DNS_KEY_NAME; };
    allow-transfer { 127.0.0.1; };
    notify explicit;
    also-notify { 127.0.0.1 port $DNS_PORT2; };
    // The default (5 s) holds back the NOTIFY of any change made within 5 s of the
    // last one: a failover then a restore reached the secondary 4.5 s late.
    notify-delay 0;
};
CFG
  } > "$d/primary/named.conf"
  {
    named_options "$d/secondary" "$DNS_PORT2"
    cat <<CFG
zone "$DNS_ZONE" {
    type secondary;
    primaries { 127.0.0.1 port $DNS_PORT1; };
    file "$DNS_ZONE.db";
    masterfile-format text;
    allow-transfer { 127.0.0.1; };
    notify no;
};
CFG
  } > "$d/secondary/named.conf"
  bind9_zone "$d/primary/$DNS_ZONE.db"
  bind9_check
}
# named_launch I: start named1 (the primary) or named2 (the secondary). -n 1: one worker
# thread is plenty on loopback and spares the shared cores.
named_launch() {
  local role=primary; [ "$1" = 2 ] && role=secondary
  [ -x "$NAMED_BIN" ] || die "no $NAMED_BIN; run 'rig.sh install bind9'"
  bg "named$1" "$NAMED_BIN" -g -4 -n 1 -c "$RIG/bind9/$role/named.conf"
}
dns_port() { if [ "$1" = 2 ]; then echo "$DNS_PORT2"; else echo "$DNS_PORT1"; fi; }
# dns_ask I DIG-ARGS...: one query to named I (1 s, no retry), `+short`.
dns_ask() { local p; p=$(dns_port "$1"); shift; dig @127.0.0.1 -p "$p" +time=1 +tries=1 +short "$@"; }
# dns_serial I [+tcp]: the zone's SOA serial on named I; fails unless it is a number.
dns_serial() {
  local s
  s=$(dns_ask "$1" "${@:2}" "$DNS_ZONE" SOA) || return 1
  s=$(awk '{ print $3 }' <<<"$s")
  [[ $s =~ ^[0-9]+$ ]] && echo "$s"
}
# named_ready I: named I answers the zone's SOA over UDP and TCP. Not that the serials
# agree: a secondary restarted after missing a change serves its old copy until the
# next NOTIFY (it did not refresh at load: 390 s and 234 s behind), which tests may want.
named_ready() {
  running "named$1" || return 125
  dns_serial "$1" >/dev/null && dns_serial "$1" +tcp >/dev/null
}
# bind9_ready: both serve the start's www (over UDP) and agree on the serial (over TCP).
bind9_ready() {
  local i s1 s2
  for i in 1 2; do
    running "named$i" || return 125
    [ "$(dns_ask "$i" "www.$DNS_ZONE" CNAME)" = "primary-region.$DNS_ZONE." ] || return 1
  done
  s1=$(dns_serial 1 +tcp) && s2=$(dns_serial 2 +tcp) && [ "$s1" = "$s2" ]
}
bind9_launch_both() {
  named_launch 1; named_launch 2
  if ! waitfor 20 bind9_ready; then
    show_log_tail named1; show_log_tail named2
    die "BIND9: the primary and the secondary do not both serve $DNS_ZONE"
  fi
}
bind9_start() {
  local t0; t0=$(now_ms)
  check_ports_free "$DNS_PORT1" "$DNS_PORT1/udp" "$DNS_PORT2" "$DNS_PORT2/udp" || die "cannot start BIND9"
  { [ -x "$NAMED_BIN" ] && command -v dig >/dev/null && command -v nsupdate >/dev/null && command -v tsig-keygen >/dev/null; } ||
    die "no named, dig, nsupdate or tsig-keygen; run 'rig.sh install bind9'"
  rm -rf "$RIG/bind9"
  bind9_config
  bind9_launch_both
  log "bind9: primary :$DNS_PORT1 and secondary :$DNS_PORT2 serve $DNS_ZONE (serial 1) after $(since "$t0")"
}
# bind9-reset: the zone back to its start state (serial 1, www -> primary-region), for a
# test that moved a record: both servers stopped, their zone files and journals replaced
# by the start's zone, both started again. The key stays the same.
cmd_bind9_reset() {
  local t0 d=$RIG/bind9; t0=$(now_ms)
  { [ -s "$d/primary/named.conf" ] && [ -s "$d/tsig.key" ]; } || die "no $d; run 'rig.sh start bind9' first"
  stop_if_any named2 named1
  waitfor 5 ports_free "$DNS_PORT1" "$DNS_PORT2" 2>/dev/null || true
  check_ports_free "$DNS_PORT1" "$DNS_PORT1/udp" "$DNS_PORT2" "$DNS_PORT2/udp" || die "cannot restart BIND9"
  rm -f "$d/primary/$DNS_ZONE".db* "$d/secondary/$DNS_ZONE".db*
  bind9_zone "$d/primary/$DNS_ZONE.db"
  bind9_check
  bind9_launch_both
  log "bind9: $DNS_ZONE reset to serial 1 on both servers after $(since "$t0")"
}
bind9_install() {
  if [ -x "$NAMED_BIN" ] && command -v dig >/dev/null && command -v nsupdate >/dev/null && command -v tsig-keygen >/dev/null &&
     command -v named-checkconf >/dev/null && command -v named-checkzone >/dev/null; then
    log "bind9, bind9-dnsutils and bind9-utils already installed"
  else
    apt_install bind9 bind9-dnsutils bind9-utils
  fi
}
