#!/usr/bin/env bash
# The vector-only core used alone (docs/core.md "Library split"):
# build/<variant>/core-only/vector_only is linked with libomnidex-core.a and
# only the core's libraries (Makefile, CORE_TEST_BINS), so that it exists
# proves the core links without libav*, assimp, sndfile, fftw, curl or gRPC.
# (Those stay installed for the rest of the suite; leaving them off the link
# line is the proof.) Here it runs: its vector database checks, then on a
# data directory that the full omnidex made, with a collection bound to the
# shipped space omni-tiny, where text must be refused as unsupported.
set -u
top=${OMNIDEX_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
b=${OMNIDEX_BUILD:-build/rel}
bin=${OMNIDEX_BIN:-$top/$b/omnidex}
cd "$top"
core="$b/core-only/vector_only"
if [ ! -x "$core" ]; then echo "not ok - $core not built"; exit 1; fi
tmp=$(mktemp -d /tmp/odx-core-only-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if out=$(OMNIDEX_MODELS="$top/models" "$bin" --data "$tmp/db" collection create photos --space omni-tiny 2>&1); then
  echo "ok - the full omnidex creates a collection bound to omni-tiny"
else
  echo "not ok - the full omnidex creates a collection bound to omni-tiny"; echo "$out" | sed 's/^/# /'; exit 1
fi
# No spaces on the path: the core must not find or need them.
OMNIDEX_MODELS="$tmp/none" "$core" "$tmp/db"
