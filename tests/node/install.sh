#!/usr/bin/env bash
# Installs the Node clients the gRPC tests use (@grpc/grpc-js,
# @grpc/proto-loader, @bufbuild/buf) into tests/node/node_modules, once:
# a stamp holding package.json's hash makes reruns free.
set -euo pipefail
cd "$(dirname "$0")"
want=$(sha256sum package.json | cut -d' ' -f1)
if [ -f node_modules/.omnidex-stamp ] && [ "$(cat node_modules/.omnidex-stamp)" = "$want" ] &&
   [ -x node_modules/.bin/buf ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm is missing (make deps installs it)" >&2; exit 1; }
npm install --no-audit --no-fund --loglevel=error >&2
echo "$want" > node_modules/.omnidex-stamp
