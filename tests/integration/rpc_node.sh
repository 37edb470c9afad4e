#!/usr/bin/env bash
# Drives the omnidex gRPC server from Node (@grpc/grpc-js + @grpc/proto-loader
# from npm): see rpc_node.js. Installs the npm packages once (idempotent).
set -u
top=${OMNIDEX_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
if ! "$top/tests/node/install.sh" >/dev/null 2>&1; then
  echo "not ok - npm install of @grpc/grpc-js, @grpc/proto-loader failed"; exit 1
fi
NODE_PATH="$top/tests/node/node_modules" exec node "$top/tests/integration/rpc_node.js"
