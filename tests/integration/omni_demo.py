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

# ---- a newcomer's first commands, exactly as printed -------------------------
# The demo's last lines and the README's "First commands" block are run as
# they stand, from a fresh working directory, with no OMNIDEX_MODELS and an
# empty HOME: the binary must find the shipped omni-tiny by itself. Only the
# demo's output folder differs (this test's temporary one stands for
# demo/out), and `make install` gets a temporary PREFIX.
import re
import shlex

new_home = tempfile.mkdtemp(prefix="odx-newcomer-home-")
work = tempfile.mkdtemp(prefix="odx-newcomer-cwd-")
prefix = tempfile.mkdtemp(prefix="odx-newcomer-prefix-")
clean = {k: v for k, v in os.environ.items() if k not in ("OMNIDEX_MODELS", "OMNIDEX_DATA")}
clean["HOME"] = new_home


def sh(cmd, cwd, env=clean, timeout=600):
    return subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


tries = [l for l in p.stdout.splitlines() if l.startswith("try: ")]
ok(len(tries) == 1 and ("--data %s/data search demo" % out) in tries[0], "the demo ends with a command to try", p.stdout[-800:])
if tries:
    r = sh(tries[0][5:], TOP)
    hits = [l for l in r.stdout.splitlines() if l.strip()]
    ok(r.returncode == 0 and len(hits) >= 5, "the demo's 'try:' command runs as printed (from the project directory)",
       tries[0] + "\n" + r.stdout + r.stderr)

# make install into a temporary prefix (the same variant as this test run).
san = os.environ.get("ODX_SANITIZE", "")
r = subprocess.run(["make", "-s", "-C", TOP, "install", "PREFIX=" + prefix] + (["SANITIZE=" + san] if san else []),
                   capture_output=True, text=True, timeout=1200, env=clean)
ok(r.returncode == 0 and os.access(os.path.join(prefix, "bin", "omnidex"), os.X_OK) and
   os.path.exists(os.path.join(prefix, "share", "omnidex", "models", "omni-tiny", "space.json")) and
   os.path.exists(os.path.join(prefix, "include", "omnidex.h")) and
   os.path.exists(os.path.join(prefix, "lib", "pkgconfig", "omnidex.pc")),
   "make install PREFIX=DIR lays out bin, include, lib, pkgconfig and the shipped spaces", r.stdout + r.stderr)
inst = dict(clean, PATH=os.path.join(prefix, "bin") + ":" + clean.get("PATH", ""))
after = [l for l in p.stdout.splitlines() if l.startswith("or, after 'make install': ")]
if after:
    r = sh(after[0].split(": ", 1)[1], work, inst)
    ok(r.returncode == 0 and len([l for l in r.stdout.splitlines() if l.strip()]) >= 5,
       "the demo's installed-binary command runs as printed", r.stdout + r.stderr)
else:
    ok(False, "the demo prints the command for after 'make install'", p.stdout[-800:])

# The README's block between the newcomer markers, line by line.
readme = open(os.path.join(TOP, "README.md")).read()
blk = re.search(r"<!-- newcomer:begin -->\s*```[a-z]*\n(.*?)```\s*<!-- newcomer:end -->", readme, re.S)
ok(blk is not None, "README has the first-commands block")
cmds = [l.split("#", 1)[0].strip() for l in (blk.group(1).splitlines() if blk else [])]
cmds = [c for c in cmds if c]
ok(len(cmds) >= 5, "the first-commands block has commands", cmds)
for c in cmds:
    run_c = c.replace("demo/out", out)
    if run_c.startswith("make install"):
        continue  # done above, into the temporary prefix
    r = sh(run_c, work, inst)
    ok(r.returncode == 0, "README: " + c, r.stdout[-1500:] + r.stderr[-1500:])
    if "search" in c and "--text" in c:
        ok(len([l for l in r.stdout.splitlines() if l.strip()]) >= 3, "README: %s finds items" % c, r.stdout)
    if "models verify" in c:
        ok(sum(" ok (" in l for l in r.stdout.splitlines()) == 5, "models verify checks all five of omni-tiny's modalities",
           r.stdout)

# The installed library and header: a program built with pkg-config alone.
prog = os.path.join(work, "hello.c")
with open(prog, "w") as f:
    f.write(r"""
#include <omnidex.h>
#include <stdio.h>
int main(int argc, char **argv) {
    odx_db *db; odx_batch *b; odx_results *r;
    float v[3][4] = {{1,0,0,0},{0,1,0,0},{0.9f,0.1f,0,0}};
    const char *ids[3] = {"a", "b", "c"};
    if (odx_db_open(argv[1], ODX_OPEN_CREATE, &db)) { fprintf(stderr, "%s\n", odx_last_error()); return 1; }
    if (odx_collection_create(db, "t", 4, ODX_METRIC_COSINE, "Flat", NULL)) return 2;
    odx_batch_new(&b);
    for (int i = 0; i < 3; i++) odx_batch_add(b, ids[i], v[i], 4, NULL, ODX_MODALITY_VECTOR, NULL);
    if (odx_upsert(db, "t", b)) return 3;
    if (odx_search(db, "t", v[0], 1, 4, NULL, &r)) return 4;
    for (size_t i = 0; i < odx_results_count(r, 0); i++) printf("%s\n", odx_results_id(r, 0, i));
    odx_results_free(r); odx_batch_free(b); odx_db_close(db);
    printf("omnidex %s\n", odx_version());
    return argc > 2;
}
""")
pc_env = dict(clean, PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
flags = "-fsanitize=" + san if san else ""
r = sh("cc %s -o hello hello.c $(pkg-config --cflags --libs --static omnidex) && ./hello %s" %
       (flags, shlex.quote(os.path.join(work, "db-c"))), work, pc_env)
ok(r.returncode == 0 and r.stdout.split() [:3] == ["a", "c", "b"],
   "a C program builds against the installed omnidex.h + libomnidex.a via pkg-config and searches", r.stdout + r.stderr)

for d in (out, new_home, work, prefix):
    shutil.rmtree(d, ignore_errors=True)
print("# %d failed" % failed)
sys.exit(1 if failed else 0)
