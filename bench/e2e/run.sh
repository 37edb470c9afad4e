#!/usr/bin/env bash
# Runs the end-to-end gRPC benchmark and writes its table into the
# "## End-to-end gRPC" section of bench/RESULTS.md (only that section).
#   bench/e2e/run.sh build/bench/e2e_bench [e2e_bench options]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$1; shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
nice "$bin" "$@" | tee "$out"
/usr/bin/python3 - "$top/bench/RESULTS.md" "$out" "$*" <<'PY'
import sys, datetime, os, platform
path, table, args = sys.argv[1], open(sys.argv[2]).read().rstrip(), sys.argv[3]
cpu = ""
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip(); break
except OSError:
    pass
cmd = "make bench-e2e" + (' E2E_ARGS="%s"' % args if args else "")
sec = ["## End-to-end gRPC", "",
       "Search over gRPC (the rpc/ server on the gRPC C core, driven by the C client in rpc/client.c,",
       "one channel per client thread, one query in flight per client) against the same searches",
       "in-process (odx_search), in one run and one process: server and clients share the machine's",
       "cores. Latency is per call, client side. Reproduce with `%s`." % cmd, "",
       "Run %s on %s (%d CPUs):" % (datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"), cpu, os.cpu_count()),
       "", table, ""]
notes = os.path.join(os.path.dirname(os.path.abspath(path)), "e2e", "notes.md")
if os.path.exists(notes):
    sec += [open(notes).read().rstrip(), ""]
text = open(path).read() if os.path.exists(path) else "# omnidex benchmark results\n"
lines = text.split("\n")
start = next((i for i, l in enumerate(lines) if l.strip() == "## End-to-end gRPC"), None)
if start is None:
    lines = lines + ([""] if lines and lines[-1] else []) + sec
else:
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    lines = lines[:start] + sec + lines[end:]
open(path, "w").write("\n".join(lines).rstrip() + "\n")
print("bench/RESULTS.md: section 'End-to-end gRPC' updated")
PY
