#!/usr/bin/env bash
# Runs omnidex's tests and sums their results. Every test program or script
# prints TAP-style lines: "ok - NAME" or "not ok - NAME" (diagnostics start
# with "#"). A program that exits non-zero without a "not ok" line, or prints
# no result at all, counts as one failure. The last line is
# "N passed, N failed"; the exit status is non-zero when anything failed.
#   usage: run-tests.sh BUILD_DIR TEST_BIN... -- TEST_SCRIPT...
set -u
B=$1; shift
bins=(); scripts=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; scripts=("$@"); break; fi
  bins+=("$1"); shift
done
export OMNIDEX_BUILD="$B"
export OMNIDEX_BIN="$PWD/$B/omnidex"
export OMNIDEX_TOP="$PWD"
pass=0; fail=0; failed_names=()
logdir="$B/test-logs"; mkdir -p "$logdir"
tmo=${OMNIDEX_TEST_TIMEOUT:-1200}

run_one() {
  local name=$1; shift
  local log="$logdir/$(echo "$name" | tr '/' '_').log"
  local t0=$SECONDS
  timeout --signal=KILL "$tmo" "$@" >"$log" 2>&1
  local rc=$?
  local p f
  p=$(grep -c '^ok ' "$log")
  f=$(grep -c '^not ok ' "$log")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "not ok - $name exited with status $rc" >>"$log"; fi
  if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; echo "not ok - $name reported no result" >>"$log"; fi
  pass=$((pass + p)); fail=$((fail + f))
  printf '%-48s %4d passed %3d failed  (%ds)\n' "$name" "$p" "$f" $((SECONDS - t0))
  if [ "$f" -gt 0 ]; then
    failed_names+=("$name")
    grep -E '^(not ok|#)' "$log" | head -40 | sed 's/^/    /'
  fi
}

for t in "${bins[@]}"; do run_one "${t#$B/}" "$t"; done
for s in "${scripts[@]}"; do
  case "$s" in
    *.py) run_one "$s" /usr/bin/python3 "$s" ;;
    *) run_one "$s" bash "$s" ;;
  esac
done
echo
[ "$fail" -gt 0 ] && echo "failed: ${failed_names[*]} (logs in $logdir)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
