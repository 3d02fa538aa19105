# shellcheck shell=bash
# The fence-agent targets (component `fence`): ipmi_sim (fence_ipmilan, UDP 9623),
# sushy-emulator (fence_redfish, HTTPS 8443) and the fence_dummy status files under
# $RIG/fence: install, configs, launch, readiness, start and stop (ipmi_sim's simulated
# machine included).

# Fence targets. ipmi_sim: IPMI LAN on UDP 9623 (its VM serial interface on TCP 9624),
# user admin / password secret. sushy-emulator: Redfish over HTTPS on TCP 8443 (it does
# not check credentials; the agent still needs some: admin / secret). The tests pass the
# password themselves; `env` prints none.
IPMI_PORT=9623
IPMI_VM_PORT=9624
REDFISH_PORT=8443
FENCE_USER='admin'
FENCE_PASS=secret
FENCE_SBIN=/usr/sbin

# Three targets for Debian's fence-agents (see test-rig.md, "Fence agents"):
# - fence_dummy: no server, two status files $RIG/fence/node1.status, node2.status
#   holding `on` or `off` WITHOUT a newline (with one, every call fails).
# - ipmisim: OpenIPMI's ipmi_sim, an IPMI LAN BMC on UDP 127.0.0.1:9623 (user admin,
#   password secret) for fence_ipmilan (--lanplus --cipher=3). Its "machine" is a child
#   process `sleep 1000000` (startcmd): power off kills it, power on starts a new one.
# - sushy: sushy-tools' Redfish emulator (fake driver, two systems node1 and node2) over
#   HTTPS on 127.0.0.1:8443 (self-signed certificate) for fence_redfish (--ssl-insecure),
#   HTTP basic auth admin / secret.
FENCE_UUID1=6ae42ae4-3cb1-4a5e-9c1b-5d3e1f4a0001
FENCE_UUID2=6ae42ae4-3cb1-4a5e-9c1b-5d3e1f4a0002

ipmisim_config() {
  local d=$RIG/fence
  mkdir -p "$d/ipmistate"
  # The `serial 15 ... codec VM` line is required: without it `chassis power off`
  # answers "Invalid data field in request" and fence_ipmilan times out.
  cat > "$d/ipmi.conf" <<CFG
name "rig"
set_working_mc 0x20
startlan 1
  addr 127.0.0.1 $IPMI_PORT
  priv_limit admin
  allowed_auths_callback none md2 md5 straight
  allowed_auths_user none md2 md5 straight
  allowed_auths_operator none md2 md5 straight
  allowed_auths_admin none md2 md5 straight
  guid a123456789abcdefa123456789abcdef
endlan
serial 15 127.0.0.1 $IPMI_VM_PORT codec VM
startcmd "sleep 1000000"
startnow true
poweroff_wait 2
kill_wait 1
user 2 true "$FENCE_USER" "$FENCE_PASS" admin 10 none md2 md5 straight
CFG
  printf 'mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nmc_enable 0x20\n' \
    > "$d/ipmi.emu"
}
ipmisim_launch() {
  command -v ipmi_sim >/dev/null || die "no ipmi_sim; run 'rig.sh install fence'"
  bg ipmisim ipmi_sim -c "$RIG/fence/ipmi.conf" -f "$RIG/fence/ipmi.emu" -s "$RIG/fence/ipmistate" -n
}
# The agent as a test runs it (fence_ipmilan runs ipmitool); rc 0 = power ON.
ipmi_status() {
  timeout 10 "$FENCE_SBIN/fence_ipmilan" --ip=127.0.0.1 --ipport="$IPMI_PORT" --username="$FENCE_USER" \
    --password="$FENCE_PASS" --lanplus --cipher=3 --action=status
}
# Ready: the UDP port is bound, then the agent reads power status ON. (Asked before the
# port is bound, ipmitool waits for its own timeouts, seconds.)
ipmisim_ready() { running ipmisim && port_busy "$IPMI_PORT/udp" && ipmi_status; }
# ipmisim_machines: PIDs of the simulated machines (`sleep 1000000`) of this rig's
# ipmi_sim, running or orphaned (an ipmi_sim killed with SIGKILL leaves its machine
# behind, re-parented to PID 1). Found by the tag they inherit from ipmi_sim.
ipmisim_machines() {
  local f pid
  while read -r f; do
    pid=${f#/proc/}; pid=${pid%/environ}
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sleep ] && echo "$pid"
  done < <(grep -lzxF "SWITCHBOARD_RIG_PROC=$RIG/ipmisim" /proc/[0-9]*/environ 2>/dev/null)
  return 0
}
# ipmisim_stop: ipmi_sim (SIGTERM; it leaves its machine running), then its machines.
ipmisim_stop() {
  local pids=()
  stop_if_any ipmisim
  mapfile -t pids < <(ipmisim_machines)
  [ ${#pids[@]} -eq 0 ] && return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  STOPPED_PIDS+=("${pids[@]}")
  waitfor 5 pids_dead "${pids[@]}" || { kill -KILL "${pids[@]}" 2>/dev/null || true; waitfor 5 pids_dead "${pids[@]}"; } ||
    log "warning: ipmi_sim's machine still alive: ${pids[*]}"
}

sushy_config() {
  local d=$RIG/fence
  mkdir -p "$d/sushystate"
  # Self-signed: fence_redfish only speaks HTTPS (give it --ssl-insecure).
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/sushy.key" -out "$d/sushy.crt" -days 30 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null || die "openssl could not make a certificate"
  # Basic auth (bcrypt only; 4 rounds keep each request fast).
  FENCE_USER=$FENCE_USER FENCE_PASS=$FENCE_PASS "$RIG_VENV/bin/python" -c 'import bcrypt, os
print(os.environ["FENCE_USER"] + ":" + bcrypt.hashpw(os.environ["FENCE_PASS"].encode(), bcrypt.gensalt(4)).decode())' \
    > "$d/sushy.htpasswd" || die "cannot write $d/sushy.htpasswd (bcrypt from sushy-tools)"
  # external_notifier False: otherwise the fake driver POSTs each change to localhost:9999
  # (HAProxy's runtime API in this rig).
  cat > "$d/sushy.conf" <<CFG
SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'
SUSHY_EMULATOR_LISTEN_PORT = $REDFISH_PORT
SUSHY_EMULATOR_SSL_CERT = '$d/sushy.crt'
SUSHY_EMULATOR_SSL_KEY = '$d/sushy.key'
SUSHY_EMULATOR_AUTH_FILE = '$d/sushy.htpasswd'
SUSHY_EMULATOR_STATE_DIR = '$d/sushystate'
SUSHY_EMULATOR_FAKE_DRIVER = True
SUSHY_EMULATOR_FAKE_SYSTEMS = [
    {'uuid': '$FENCE_UUID1', 'name': 'node1', 'power_state': 'On', 'external_notifier': False, 'nics': []},
    {'uuid': '$FENCE_UUID2', 'name': 'node2', 'power_state': 'On', 'external_notifier': False, 'nics': []},
]
CFG
}
sushy_launch() {
  [ -x "$RIG_VENV/bin/sushy-emulator" ] || die "no $RIG_VENV/bin/sushy-emulator; run 'rig.sh install fence'"
  bg sushy "$RIG_VENV/bin/sushy-emulator" --config "$RIG/fence/sushy.conf" --fake \
    --ssl-certificate "$RIG/fence/sushy.crt" --ssl-key "$RIG/fence/sushy.key"
}
# Ready: both systems are listed over HTTPS with the credentials.
sushy_ready() {
  local s
  running sushy || return 125
  s=$(curl -skf -m 2 -u "$FENCE_USER:$FENCE_PASS" "https://127.0.0.1:$REDFISH_PORT/redfish/v1/Systems") || return 1
  grep -q "$FENCE_UUID1" <<<"$s" && grep -q "$FENCE_UUID2" <<<"$s"
}

fence_dummy_files() {
  mkdir -p "$RIG/fence"
  printf on > "$RIG/fence/node1.status"; printf on > "$RIG/fence/node2.status"
}

# Reverse start order: sushy, then ipmi_sim and its machine.
fence_stop() { stop_if_any sushy; ipmisim_stop; }

fence_start() {
  local t0 ti; t0=$(now_ms)
  check_ports_free "$IPMI_PORT/udp" "$IPMI_VM_PORT" "$REDFISH_PORT" || die "cannot start the fence targets"
  { [ -x "$FENCE_SBIN/fence_ipmilan" ] && [ -x "$RIG_VENV/bin/sushy-emulator" ]; } ||
    die "no fence agents in $FENCE_SBIN or no sushy-emulator in $RIG_VENV; run 'rig.sh install fence'"
  rm -rf "$RIG/fence"
  fence_dummy_files
  ipmisim_config; sushy_config
  ipmisim_launch; sushy_launch
  waitfor 20 ipmisim_ready || { show_log_tail ipmisim; die "ipmi_sim: fence_ipmilan status is not ON"; }
  ti=$(since "$t0")
  waitfor 20 sushy_ready || { show_log_tail sushy; die "sushy-emulator does not list its systems"; }
  log "fence: ipmi_sim answers fence_ipmilan (ON) after $ti, sushy lists node1 and node2 after $(since "$t0")"
}

# fence: the agents (Debian's fence-agents: fence_dummy, fence_ipmilan, fence_redfish in
# /usr/sbin), ipmi_sim (openipmi), ipmitool (fence_ipmilan runs it), openssl (the
# emulator's certificate). sushy-emulator comes from the venv (venv_install).
fence_install() {
  if [ -x "$FENCE_SBIN/fence_dummy" ] && [ -x "$FENCE_SBIN/fence_ipmilan" ] && [ -x "$FENCE_SBIN/fence_redfish" ] &&
     command -v ipmi_sim >/dev/null && command -v ipmitool >/dev/null && command -v openssl >/dev/null; then
    log "fence-agents, openipmi, ipmitool and openssl already installed"
  else
    apt_install fence-agents openipmi ipmitool openssl
  fi
}
