#!/usr/bin/env bash
# make demo: cross-modal retrieval on a fresh machine with omni-tiny, the
# space omnidex trains itself (models/omni-tiny). Builds a corpus of real
# files from held-out data (Fashion-MNIST test images as PNG, speech by
# unseen espeak-ng voices as WAV/MP3, ffmpeg videos, generated 3D meshes),
# ingests it through `omnidex ingest` into an embedded data directory, runs
# the cross-modal queries with `omnidex demo` (P@10 per pair, computed by the
# engine) and writes an HTML contact sheet of the image results.
#   OMNIDEX_DEMO_OUT=DIR  where corpus, data and report go (default demo/out)
#   OMNIDEX_DEMO_ARGS="--per-class N --queries N"  corpus size (default 100 images
#                         per class, 100 queries per pair; tools/omni_tiny/demo_corpus.py)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${OMNIDEX_BIN:-build/rel/omnidex}
OUT=${OMNIDEX_DEMO_OUT:-demo/out}
export OMNIDEX_MODELS=${OMNIDEX_MODELS:-$PWD/models}
t0=$SECONDS
say() { printf '\n== %s (%ds)\n' "$*" $((SECONDS - t0)); }

mkdir -p "$OUT"
say "demo corpus from held-out data -> $OUT/corpus"
/usr/bin/python3 tools/omni_tiny/demo_corpus.py "$OUT/corpus" ${OMNIDEX_DEMO_ARGS:-}
for d in images audio video meshes; do
  printf '  %-7s %5d files\n' "$d" "$(find "$OUT/corpus/$d" -type f | wc -l)"
done

say "space omni-tiny ($OMNIDEX_MODELS/omni-tiny)"
"$BIN" models info omni-tiny
dim=$("$BIN" models info omni-tiny --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["dim"])')

say "ingest through 'omnidex ingest' into $OUT/data"
rm -rf "$OUT/data"
"$BIN" --data "$OUT/data" collection create demo --dim "$dim" --space omni-tiny
"$BIN" --data "$OUT/data" ingest demo "$OUT/corpus/images" "$OUT/corpus/audio" "$OUT/corpus/video" "$OUT/corpus/meshes"
"$BIN" --data "$OUT/data" collection info demo

say "cross-modal queries (omnidex demo)"
"$BIN" --data "$OUT/data" demo --corpus "$OUT/corpus" --html "$OUT/index.html"
"$BIN" --data "$OUT/data" demo --corpus "$OUT/corpus" --json > "$OUT/metrics.json"
echo
echo "omnidex --data $OUT/data demo --corpus $OUT/corpus --json:"
cat "$OUT/metrics.json"

# The quality bars of omni-tiny on held-out data (models/omni-tiny/README.md).
/usr/bin/python3 - "$OUT/metrics.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
bars = {"text->image": 0.85, "audio->image": 0.80, "image->image": 0.80, "text->3d": 0.90, "text->video": 0.85}
bad = [f"{k} {m.get(k, 0):.3f} < {v}" for k, v in bars.items() if m.get(k, 0) < v]
print("issue quality bars: " + ("all met" if not bad else "not met: " + ", ".join(bad)))
PY
say "done"
# The next command to type, runnable as printed from this directory (the
# binary finds the shipped omni-tiny beside it), and the same after install.
echo "try: $BIN --data $OUT/data search demo --text 'a photo of an ankle boot' --modality image --k 5"
echo "or, after 'make install': omnidex --data $OUT/data search demo --text 'a photo of an ankle boot' --modality image --k 5"
