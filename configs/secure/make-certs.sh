#!/bin/sh
# Make a throwaway CA and the certificates configs/secure/ uses, in ./certs (never commit it).
# Usage: sh configs/secure/make-certs.sh [DIR]   (default: configs/secure/certs)
# Production: use your own CA; the names below are what the configs expect.
set -eu
DIR=${1:-$(dirname "$0")/certs}
mkdir -p "$DIR" && cd "$DIR"
umask 077
key() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null; }
sign() { # name, days, extra extension lines
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$2" -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 825 -subj /CN=fogline-example-ca 2>/dev/null
key cloud cloud.example;      sign cloud 397 'subjectAltName=DNS:localhost,DNS:cloud.example,IP:127.0.0.1'
key gateway gw-secure-1;      sign gateway 397 'subjectAltName=DNS:localhost,IP:127.0.0.1'
key node gw-secure-1;         sign node 397 ''
key sensor-1 sensor-1;        sign sensor-1 397 ''
chmod 644 ca.pem cloud.pem gateway.pem node.pem sensor-1.pem
echo "wrote $(pwd): ca.pem (+ca.key: keep it offline), cloud.*, gateway.*, node.*, sensor-1.*"
