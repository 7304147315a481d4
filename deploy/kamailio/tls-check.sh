#!/bin/sh
# Checks the certificates and keys named in Kamailio's tls.cfg before
# Kamailio starts (deploy/systemd/kamailio.service.d/tls.conf runs it as
# ExecStartPre). Kamailio refuses a missing file or a key that is not the
# certificate's, but would serve an expired certificate, or one not valid
# yet, and every phone would then fail its handshake: this stops the start
# instead, with the file named.
#
#   tls-check.sh [/etc/kamailio/tls.cfg]     exit 0: all good; 1: the reason on stderr
set -eu
cfg="${1:-/etc/kamailio/tls.cfg}"
fail() {
    echo "kamailio tls: $*" >&2
    exit 1
}
[ -r "$cfg" ] || fail "cannot read $cfg"
command -v openssl >/dev/null 2>&1 || fail "openssl is not installed (apt install openssl)"

# "key = value" lines, comments and sections aside
value() {
    sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\([^#[:space:]]*\).*/\1/p" "$cfg"
}
certs=$(value certificate)
keys=$(value private_key)
[ -n "$certs" ] || fail "$cfg names no certificate"
n=0
for cert in $certs; do
    n=$((n + 1))
    key=$(echo "$keys" | sed -n "${n}p")
    [ -r "$cert" ] || fail "cannot read the certificate $cert (named in $cfg)"
    openssl x509 -in "$cert" -noout 2>/dev/null || fail "$cert is not a PEM certificate"
    from=$(openssl x509 -in "$cert" -noout -startdate | cut -d= -f2)
    until=$(openssl x509 -in "$cert" -noout -enddate | cut -d= -f2)
    if ! openssl x509 -in "$cert" -noout -checkend 0 >/dev/null; then
        fail "the certificate $cert is expired (valid from $from to $until)"
    fi
    now=$(date -u +%s)
    start=$(date -u -d "$from" +%s 2>/dev/null || echo 0)
    [ "$start" -le "$now" ] || fail "the certificate $cert is not valid yet (valid from $from to $until)"
    [ -n "$key" ] || fail "$cfg names no private_key for $cert"
    [ -r "$key" ] || fail "cannot read the private key $key (named in $cfg)"
    kpub=$(openssl pkey -in "$key" -pubout 2>/dev/null) || fail "$key is not a PEM private key"
    cpub=$(openssl x509 -in "$cert" -noout -pubkey)
    [ "$kpub" = "$cpub" ] || fail "the private key $key is not the key of the certificate $cert"
    echo "kamailio tls: $cert valid until $until, key $key matches"
done
