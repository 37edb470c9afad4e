"""omni-tiny end to end, as `make demo` runs it, on a bounded sample: the
demo corpus is built from held-out data (tools/omni_tiny/demo_corpus.py:
Fashion-MNIST test PNGs, speech by unseen voices as WAV/MP3, ffmpeg videos,
generated meshes), ingested with `omnidex ingest` into a fresh data
directory, and `omnidex demo --json` measures P@10 per pair in the engine.

Every encoder, the tokenizer, the preprocessing and the decoders sit on this
path, so a regression in any of them collapses these numbers. Floors are
the committed model's measured values (models/omni-tiny/README.md, the
engine's figures from `make demo`) less a margin for the smaller sample;
the issue's quality bars are printed beside them."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

TOP = os.environ.get("OMNIDEX_TOP", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BIN = os.environ.get("OMNIDEX_BIN", os.path.join(TOP, "build", "rel", "omnidex"))
failed = 0


def ok(cond, name, detail=""):
    global failed
    for line in str(detail).splitlines()[-30:] if detail else []:
        print("# " + line)
    print(("ok - " if cond else "not ok - ") + name, flush=True)
    failed += 0 if cond else 1


# Regression floors for this sample (see the docstring) and the bars.
# This sample measured (2026-11-28): text->image 1.000, image->image 0.808,
# audio->image 0.833, text->audio 0.992, text->video 0.925, text->3d 1.000,
# 3d->3d 0.992, audio+text->image 1.000.
FLOORS = {"text->image": 0.85, "image->image": 0.75, "audio->image": 0.65, "text->audio": 0.85,
          "text->video": 0.80, "text->3d": 0.85, "3d->3d": 0.80, "audio+text->image": 0.85}
BARS = {"text->image": 0.85, "audio->image": 0.80, "image->image": 0.80, "text->3d": 0.90, "text->video": 0.85}

ok(os.path.exists(os.path.join(TOP, "models", "omni-tiny", "model.safetensors")), "models/omni-tiny is in the tree")
out = tempfile.mkdtemp(prefix="odx-omni-demo-")
env = dict(os.environ, OMNIDEX_BIN=BIN, OMNIDEX_DEMO_OUT=out, OMNIDEX_MODELS=os.path.join(TOP, "models"),
           OMNIDEX_DEMO_ARGS="--per-class 100 --queries 12")
p = subprocess.run(["bash", os.path.join(TOP, "tools", "demo.sh")], capture_output=True, text=True, env=env,
                   timeout=1500)
ok(p.returncode == 0, "tools/demo.sh (corpus, ingest, omnidex demo) runs", p.stdout[-3000:] + p.stderr[-3000:])
try:
    with open(os.path.join(out, "metrics.json")) as f:
        m = json.load(f)
except (OSError, ValueError):
    m = {}
ok(sorted(m) == sorted(FLOORS), "omnidex demo --json has one key per pair", m)
for pair, floor in FLOORS.items():
    got = m.get(pair, -1)
    bar = BARS.get(pair)
    ok(got >= floor, "%s P@10 %.3f >= floor %.2f%s" % (pair, got, floor,
                                                          "" if bar is None else " (issue bar %.2f: %s)" %
                                                          (bar, "met" if got >= bar else "not met")))
ok("ingest:" in p.stdout and ", 0 failed" in p.stdout, "every corpus file ingested", p.stdout[-2000:])
# The corpus directories hold only media: every file is an item, none skipped.
nfiles = sum(len(fs) for dd in ("images", "audio", "video", "meshes")
             for _, _, fs in os.walk(os.path.join(out, "corpus", dd)))
ok(f"ingest: {nfiles} items" in p.stdout and "ingest: skipped" not in p.stdout,
   f"one item per corpus file ({nfiles})", p.stdout[-2000:])
ok(os.path.getsize(os.path.join(out, "index.html")) > 1000 if os.path.exists(os.path.join(out, "index.html")) else False,
   "HTML contact sheet written")
shutil.rmtree(out, ignore_errors=True)
print("# %d failed" % failed)
sys.exit(1 if failed else 0)
