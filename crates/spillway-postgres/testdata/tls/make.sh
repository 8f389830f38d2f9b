#!/bin/sh
# Regenerates the certificates the TLS unit tests use (test material only, never a real
# secret). Valid for 100 years.
set -eu
cd "$(dirname "$0")"
days=36500
ext() { printf '%s\n' "$@" > ext.cnf; }

# A CA, and a server certificate for localhost signed by it.
openssl req -x509 -new -nodes -newkey rsa:2048 -keyout ca.key -out ca.pem -days $days \
    -subj "/CN=spillway test CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
openssl req -new -nodes -newkey rsa:2048 -keyout server.key -out server.csr -subj "/CN=localhost"
ext "basicConstraints=CA:FALSE" "subjectAltName=DNS:localhost" "extendedKeyUsage=serverAuth"
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
    -days $days -extfile ext.cnf

# A client certificate signed by the same CA; its EC key as SEC1 and as PKCS#8.
openssl ecparam -name prime256v1 -genkey -noout -out client-sec1.key
openssl pkcs8 -topk8 -nocrypt -in client-sec1.key -out client-pkcs8.key
openssl req -new -key client-sec1.key -out client.csr -subj "/CN=postgres"
ext "basicConstraints=CA:FALSE" "extendedKeyUsage=clientAuth"
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem \
    -days $days -extfile ext.cnf
# The same key, encrypted (not supported).
openssl pkcs8 -topk8 -in client-sec1.key -out client-encrypted.key -passout pass:secret

# A self-signed server certificate made the way PostgreSQL's documentation shows: marked
# as a CA, no subject alternative names, only a common name.
openssl req -x509 -new -nodes -newkey rsa:2048 -keyout selfsigned.key -out selfsigned.pem \
    -days $days -subj "/CN=localhost"

# Another CA, that signed nothing here.
openssl req -x509 -new -nodes -newkey rsa:2048 -keyout other-ca.key -out other-ca.pem \
    -days $days -subj "/CN=another CA"

rm -f ext.cnf ./*.csr ./*.srl ca.key other-ca.key
