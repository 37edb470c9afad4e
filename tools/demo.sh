#!/usr/bin/env bash
# make demo: the real-data demo. Until the encoders land it is the vector
# demo on Fashion-MNIST (tools/demo_vectors.py) through the omnidex CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMNIDEX_BIN=${OMNIDEX_BIN:-build/rel/omnidex}
exec /usr/bin/python3 tools/demo_vectors.py
