#!/usr/bin/env bash
# The GPU backend's one prepared run (docs/gpu.md), for a machine with a GPU:
# build with GPU=1, the correctness test at 100k x 512, then the benchmark
# (QPS vs batch size 1..4096 for 1M x 512 fp32 and fp16, single-query share
# of HBM bandwidth, CPU FAISS Flat in the same run). Markdown on stdout,
# progress on stderr. Under 8 minutes on an H200 by design (each stage has
# its own timeout); nothing here has been run on a GPU yet.
#
#   bench/gpu/run.sh                 build, test, bench
#   GPU_PREBUILT=1 bench/gpu/run.sh  use build/rel-gpu binaries built elsewhere
#                                    (carry build/rel-gpu/tests/unit/test_gpu and
#                                    build/rel-gpu/bench/gpu/bench_gpu; they need
#                                    only libstdc++, libgomp, libopenblas, cudart, cublas)
#   BENCH_N=200000 bench/gpu/run.sh  a smaller benchmark
set -uo pipefail
cd "$(dirname "$0")/../.."
B=build/rel-gpu
N=${BENCH_N:-1000000}
T0=$SECONDS
say() { echo "[$((SECONDS - T0))s] $*" >&2; }

# The top Makefile includes index/cuda/module.mk and the -gpu variant once the
# lead wires them (docs/gpu.md); until then a patched copy under build/ does.
MK=Makefile
if ! grep -q 'index/cuda/module.mk\|\*/\*/module.mk' Makefile; then
  mkdir -p build/gpu-make
  sed -e 's#^include \$(sort \$(wildcard \*/module.mk))#include $(sort $(wildcard */module.mk)) index/cuda/module.mk#' \
      -e 's#^B := build/\$(VARIANT)#ifeq ($(GPU),1)\n  VARIANT := $(VARIANT)-gpu\nendif\nB := build/$(VARIANT)#' \
      Makefile > build/gpu-make/Makefile
  MK=build/gpu-make/Makefile
fi

echo "# GPU backend run ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
echo
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.memory --format=csv,noheader 2>/dev/null | sed 's/^/GPU: /'
echo

if [ -z "${GPU_PREBUILT:-}" ]; then
  say "building (make GPU=1)"
  if ! timeout 300 make -f "$MK" -j"$(nproc)" GPU=1 "$B/tests/unit/test_gpu" "$B/tests/unit/test_gpu_host" \
       "$B/bench/gpu/bench_gpu" >build/gpu-build.log 2>&1; then
    echo "build failed; last lines of build/gpu-build.log:"; echo '```'; tail -30 build/gpu-build.log; echo '```'
    exit 1
  fi
fi

say "host-logic test"
echo "## Tests"
echo
echo '```'
"$B/tests/unit/test_gpu_host" | grep -E '^(ok|not ok)'
say "correctness test, 100k x 512"
timeout 180 "$B/tests/unit/test_gpu"; rc=$?
echo '```'
echo
echo "test_gpu exit status: $rc"
echo

say "benchmark, $N x 512"
timeout 240 "$B/bench/gpu/bench_gpu" --n "$N" --dim 512 --k 10 --secs 1.0 --cpu-secs 16
brc=$?
say "done (bench exit $brc)"
echo
echo "Total wall time: $((SECONDS - T0)) s."
[ "$rc" -eq 0 ] && [ "$brc" -eq 0 ]
