#!/usr/bin/env bash
# Replays every saved fuzz corpus (tests/fuzz/corpus/<target>/) through the
# plain replay build of its target (tests/fuzz/replay_main.c). In the
# sanitizer build (make SANITIZE=address,undefined test) ASan/UBSan watch
# every input. One TAP line per target.
set -u
top=${OMNIDEX_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
b=${OMNIDEX_BUILD:-build/rel}
cd "$top"
fail=0
for d in tests/fuzz/corpus/*/; do
  t=$(basename "$d")
  bin="$b/fuzz-replay/fuzz_$t"
  if [ ! -x "$bin" ]; then echo "not ok - fuzz_$t: $bin not built"; fail=1; continue; fi
  out=$(LSAN_OPTIONS="suppressions=$top/tests/fuzz/lsan.supp" "$bin" "$d" 2>&1); rc=$?
  if [ $rc -eq 0 ]; then echo "$out" | grep '^ok'
  else echo "not ok - fuzz_$t replay exited $rc"; echo "$out" | tail -15 | sed 's/^/# /'; fail=1; fi
done
exit $fail
