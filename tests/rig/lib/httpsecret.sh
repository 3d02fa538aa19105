# shellcheck shell=bash
# The passwords of the rig's authenticated HTTP servers (prometheustls, haproxytls,
# traefiktls, proxy): made at start, one file each in $RIG/httptls (mode 600, the
# password alone on one line), never in a config of ours, a command line or a log.
# `rig.sh env` gives their paths (*_PASSWORD_FILE); tests hand the console the path.

# http_secret NAME: print the path of NAME's password file, making it if missing.
http_secret() {
  local f=$RIG/httptls/$1.password
  mkdir -p "$RIG/httptls"
  if [ ! -s "$f" ]; then
    ( umask 077; openssl rand -hex 12 > "$f" ) || die "cannot make the password file $f"
  fi
  echo "$f"
}

# http_bcrypt USER NAME: USER's bcrypt hash of NAME's password (htpasswd, cost 10), as
# Prometheus' web config and Traefik's basicAuth take it. The password is read from its
# file on stdin (-i), so it is never on a command line.
http_bcrypt() {
  local line
  line=$(htpasswd -niBC 10 "$1" < "$(http_secret "$2")") || die "htpasswd failed for $2"
  echo "${line#*:}"
}

# httpsecret_install: htpasswd (apache2-utils) and openssl.
httpsecret_install() {
  command -v htpasswd >/dev/null || apt_install apache2-utils
  command -v openssl >/dev/null || apt_install openssl
}
