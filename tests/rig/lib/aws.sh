# shellcheck shell=bash
# AWS (component `aws`): moto, an EMULATOR of AWS's APIs (PyPI's moto[server], in the
# venv), not AWS. Two servers on loopback: aws-iam on 5400 with IAM enforced (EC2; every
# call must be signed with a key moto issued) and aws-r53 on 5402 without (Route53:
# moto's own signature check refuses Route53 reads with a query string, boto3's too).
# aws_seed.py makes the key, three EC2 instances and the zone switchboard.test; what it
# made is in $RIG/aws/seed.json (the key's secret too: a rig-only key, 0600), with
# $RIG/aws/credentials (profile rig, as ~/.aws/credentials) and $RIG/estate-region.toml.

AWS_IAM_PORT=5400
AWS_R53_PORT=5402

aws_install() {
  if [ -x "$RIG_VENV/bin/moto_server" ] && "$RIG_VENV/bin/python" -c 'import boto3' 2>/dev/null; then
    log "venv $RIG_VENV already has moto"; return 0
  fi
  if [ ! -x "$RIG_VENV/bin/pip" ]; then
    /usr/bin/python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
    /usr/bin/python3 -m venv "$RIG_VENV" || die "cannot create the venv $RIG_VENV"
  fi
  local try
  for try in 1 2 3; do
    "$RIG_VENV/bin/pip" install -q 'moto[server]' boto3 && { log "venv: installed moto[server] and boto3"; return 0; }
    log "pip install failed (attempt $try/3); retrying in 3 s"; sleep 3
  done
  die "could not pip install moto[server] into $RIG_VENV"
}
aws_up() { curl -s -o /dev/null "http://127.0.0.1:$1/moto-api/" 2>/dev/null; }
aws_start() {
  local t0 out; t0=$(now_ms)
  [ -x "$RIG_VENV/bin/moto_server" ] || die "no moto in $RIG_VENV; run 'rig.sh install aws'"
  check_ports_free "$AWS_IAM_PORT" "$AWS_R53_PORT" || die "cannot start moto"
  mkdir -p "$RIG/aws"
  INITIAL_NO_AUTH_ACTION_COUNT=3 bg aws-iam "$RIG_VENV/bin/moto_server" -H 127.0.0.1 -p "$AWS_IAM_PORT"
  bg aws-r53 "$RIG_VENV/bin/moto_server" -H 127.0.0.1 -p "$AWS_R53_PORT"
  waitfor 30 aws_up "$AWS_IAM_PORT" || { show_log_tail aws-iam; die "moto (IAM) did not start"; }
  waitfor 30 aws_up "$AWS_R53_PORT" || { show_log_tail aws-r53; die "moto (Route53) did not start"; }
  out=$( ( umask 077; RIG="$RIG" "$RIG_VENV/bin/python" "$RIG_DIR/aws_seed.py" \
    "http://127.0.0.1:$AWS_IAM_PORT" "http://127.0.0.1:$AWS_R53_PORT" > "$RIG/aws/seed.json" ) 2>&1) ||
    die "seeding moto: $out"
  log "aws: moto (an emulator, not AWS) on $AWS_IAM_PORT (EC2, IAM enforced) and $AWS_R53_PORT (Route53), seeded after $(since "$t0")"
}
