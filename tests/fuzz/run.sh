#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS (make fuzz FUZZ_SECONDS=N). The
# committed seeds (tests/fuzz/corpus/<t>) are read; what the fuzzer finds
# goes to build/fuzz/corpus/<t>, crashes to build/fuzz/artifacts/<t>/.
# Prints one summary line per target (executions, corpus size, crashes) and
# writes them to build/fuzz/summary.txt.
#   usage: run.sh SECONDS TARGET...
set -u
secs=$1; shift
top=$(cd "$(dirname "$0")/../.." && pwd)
fd="$top/build/fuzz"
export OMNIDEX_TOP="$top"
: > "$fd/summary.txt"
status=0
for t in "$@"; do
  mkdir -p "$fd/corpus/$t" "$fd/artifacts/$t" "$fd/logs"
  log="$fd/logs/$t.log"
  # -rss_limit_mb: the image target may allocate its 4 Mpixel cap several times.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 LSAN_OPTIONS=suppressions="$top/tests/fuzz/lsan.supp" \
    "$fd/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=3072 -timeout=20 \
      -max_len=65536 -artifact_prefix="$fd/artifacts/$t/" "$fd/corpus/$t" "$top/tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  crashes=$(ls "$fd/artifacts/$t" 2>/dev/null | wc -l)
  line=$(printf '%-12s %4ss  executions %10s  edges %6s  corpus %5s  artifacts %s  exit %s' \
         "$t" "$secs" "${execs:-?}" "${cov:-?}" "$(ls "$fd/corpus/$t" | wc -l)" "$crashes" "$rc")
  echo "$line" | tee -a "$fd/summary.txt"
  [ "$rc" -ne 0 ] && { status=1; grep -m3 -E 'ERROR|SUMMARY|invariant' "$log" | sed 's/^/    /'; }
done
exit $status
