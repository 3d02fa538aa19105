# shellcheck shell=bash
# The rig's private PKI in $RIG/tls, made with openssl by the first TLS component that
# starts (`start` removes it first, so each start has a fresh CA). Recipe as in
# /work/shared/docs/production.md section 0: EC P-256 keys, SANs and extendedKeyUsage
# from an extfile. Keys are mode 600.
#   ca.pem ca-key.pem              the rig's CA (10 years)
#   server.pem server-key.pem      SANs IP:127.0.0.1, DNS:localhost, DNS:etcd.rig.test;
#                                  serverAuth + clientAuth (etcd peers present it as a client)
#   client.pem client-key.pem      CN switchboard, clientAuth
#   expiring.pem expiring-key.pem  a server certificate like server.pem that expires in
#                                  3 days (etcdtls member mt3 serves it)
#   expired.pem expired-key.pem    a server certificate like server.pem whose notAfter
#                                  was yesterday (grpctls's second server presents it)
#   other-ca.pem other-ca-key.pem  a second, unrelated CA: the wrong CA for tests
#   alice.pem bob.pem wall.pem     people's client certificates (CN alice, bob, wall),
#   (and their -key.pem)           for the relay: the journal and notes name them

TLS_SANS="IP:127.0.0.1,DNS:localhost,DNS:etcd.rig.test"

# tls_ca NAME CN: a self-signed CA, NAME.pem and NAME-key.pem.
tls_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1-key.pem" -out "$1.pem" \
    -days 3650 -subj "/CN=$2" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
}

# tls_leaf NAME CN DAYS EKU [SANS]: NAME.pem and NAME-key.pem, signed by ca.pem.
tls_leaf() {
  local ext
  ext="extendedKeyUsage=$4"$'\n'"keyUsage=critical,digitalSignature,keyEncipherment"$'\n'
  if [ -n "${5:-}" ]; then ext+="subjectAltName=$5"$'\n'; fi
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1-key.pem" -out "$1.csr" -subj "/CN=$2" \
    || return 1
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days "$3" -out "$1.pem" \
    -extfile <(printf '%s' "$ext") || return 1
  rm -f "$1.csr"
}

# tls_pki: make $RIG/tls unless it is there (components started after the first reuse it).
tls_pki() {
  local d=$RIG/tls
  [ -s "$d/ca.pem" ] && [ -s "$d/expired.pem" ] && [ -s "$d/wall.pem" ] && return 0
  rm -rf "$d"; mkdir -p "$d"
  (
    cd "$d"
    umask 077   # the keys are born mode 600
    # Each step checked: `set -e` does not act in a subshell followed by `||`.
    tls_ca ca "switchboard rig CA" || exit 1
    tls_ca other-ca "switchboard rig OTHER CA" || exit 1
    tls_leaf server etcd.rig.test 825 serverAuth,clientAuth "$TLS_SANS" || exit 1
    tls_leaf client switchboard 825 clientAuth || exit 1
    tls_leaf expiring etcd.rig.test 3 serverAuth,clientAuth "$TLS_SANS" || exit 1
    # -days -1: notAfter is a day before it is made (OpenSSL 3.0 has no -not_after).
    tls_leaf expired etcd.rig.test -1 serverAuth "$TLS_SANS" || exit 1
    for person in alice bob wall; do tls_leaf "$person" "$person" 825 clientAuth || exit 1; done
    openssl verify -CAfile ca.pem server.pem client.pem expiring.pem || exit 1
    rm -f ca.srl
    chmod 644 ./*.pem && chmod 600 ./*-key.pem
  ) >"$RIG/tls.log" 2>&1 || { show_log_tail tls; die "openssl could not make the rig's PKI in $d"; }
}
