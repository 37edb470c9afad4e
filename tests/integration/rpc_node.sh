#!/usr/bin/env bash
# Drives the omnidex gRPC server from Node (@grpc/grpc-js + @grpc/proto-loader
# from npm): see rpc_node.js. Installs the npm packages once (idempotent).
set -u
top=${OMNIDEX_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
if ! "$top/tests/node/install.sh" >/dev/null 2>&1; then
  echo "not ok - npm install of @grpc/grpc-js, @grpc/proto-loader failed"; exit 1
fi
# certificates for the TLS part: a CA, a server cert for 127.0.0.1, a client cert
tls=$(mktemp -d /tmp/odx-node-tls-XXXXXX)
trap 'rm -rf "$tls"' EXIT
( cd "$tls" &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=odx-ca &&
  openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=srv &&
  printf 'subjectAltName=IP:127.0.0.1\n' > srv.ext &&
  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile srv.ext &&
  openssl req -newkey rsa:2048 -nodes -keyout cli.key -out cli.csr -subj /CN=cli &&
  openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cli.pem -days 2 ) >/dev/null 2>&1
ODX_TLS_DIR=$tls NODE_PATH="$top/tests/node/node_modules" node "$top/tests/integration/rpc_node.js"
