"""A newcomer's everyday workflows (issue 13, sections 2 and 4): help for
every command, a collection sized by its space, `models verify` on every
tower (and a broken one found), a server and the CLI on the same data
(ingest, embed and models through --server, compaction and checkpoints over
the network, readers beside a writing process), and a read-only open that
rebuilds an index saving it for the next one. Everything runs the real
binary and a real `omnidex serve` on loopback, on the shipped omni-tiny."""
import json
import os
import shutil
import socket
import struct
import subprocess
import time

from core_tap import OMNIDEX, done, free_port, jlines, ok, tmpdir, write_fvecs

TOP = os.environ.get("OMNIDEX_TOP", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
MODELS = os.path.join(TOP, "models")
d = tmpdir("omnidex-workflows-")
ENV = dict(os.environ, OMNIDEX_MODELS=MODELS)
ENV.pop("OMNIDEX_DATA", None)


def cli(*args, env=ENV, timeout=300):
    p = subprocess.run([OMNIDEX, *args], capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


# ---- help -------------------------------------------------------------------
rc, out, err = cli("help")
ok(rc == 0 and "Commands:" in out and "help [COMMAND]" in out, "omnidex help prints the command list", err)
for cmd in ["collection", "put", "search", "get", "delete", "ingest", "embed", "models", "demo", "serve", "version"]:
    rc, out, err = cli("help", cmd)
    ok(rc == 0 and "usage" in out.lower() and not err, "omnidex help %s" % cmd, out[:300] + err)
    rc, out2, err = cli(cmd, "--help")
    ok(rc == 0 and out2 == out, "omnidex %s --help is the same text" % cmd, err)
for sub in [["models", "pull", "--help"], ["models", "verify", "--help"], ["collection", "create", "--help"]]:
    rc, out, err = cli(*sub)
    ok(rc == 0 and "usage" in out, "omnidex %s" % " ".join(sub), out[:200] + err)
rc, out, err = cli("help", "frobnicate")
ok(rc == 2 and "no command 'frobnicate'" in err, "help for an unknown command is a usage error", err)

# ---- a collection sized by its space ------------------------------------------
db = os.path.join(d, "db")
rc, out, err = cli("--data", db, "collection", "create", "media", "--space", "omni-tiny")
ok(rc == 0 and "dim 128" in out, "collection create --space takes the space's dimension", out + err)
rc, out, err = cli("--data", db, "collection", "info", "media", "--json")
ok(rc == 0 and json.loads(out)["dim"] == 128, "the collection's dimension is the space's", out + err)
rc, out, err = cli("--data", db, "collection", "create", "bad", "--space", "omni-tiny", "--dim", "64")
ok(rc == 1 and "128" in err and "64" in err, "a --dim that differs from the space's is an error naming both", err)
rc, out, err = cli("--data", db, "collection", "create", "none")
ok(rc == 2 and "--dim" in err and "--space" in err, "create without --dim or --space is a usage error", err)

# ---- models verify --------------------------------------------------------------
rc, out, err = cli("models", "verify", "omni-tiny", "--json")
v = json.loads(out) if rc == 0 else {}
ok(rc == 0 and v.get("ok") is True and [t["modality"] for t in v.get("towers", [])] ==
   ["text", "image", "audio", "video", "mesh"], "models verify runs every tower of omni-tiny", out + err)

# A copy whose audio tower holds NaN weights: opening succeeds (shapes are
# right), verify must find the broken tower and only that one.
broken_models = os.path.join(d, "models")
shutil.copytree(os.path.join(MODELS, "omni-tiny"), os.path.join(broken_models, "broken"))
st = os.path.join(broken_models, "broken", "model.safetensors")
with open(st, "r+b") as f:
    hlen = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(hlen))
    names = [k for k in header if k.startswith("audio_model.") and k.endswith("weight") and "proj" in k]
    ok(len(names) > 0, "the copy has audio tower weights to break", list(header)[:20])
    for k in names:
        a, b = header[k]["data_offsets"]
        f.seek(8 + hlen + a)
        f.write(b"\xff" * (b - a))
benv = dict(ENV, OMNIDEX_MODELS=broken_models)
rc, out, err = cli("models", "verify", "broken", env=benv)
ok(rc == 1 and "verify audio" in err and "non-finite" in err and "verify: text  ok" in out and
   "verify: image ok" in out, "models verify fails on the broken audio tower, names it, passes the others", out + err)

# ---- media for the server workflows ------------------------------------------------
media = os.path.join(d, "media")
os.makedirs(media)
img = os.path.join(media, "boot.png")
subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=1", "-frames:v", "1", img],
               check=True)
wav = os.path.join(media, "say.wav")
subprocess.run(["espeak-ng", "-w", wav, "an ankle boot"], check=True)
ok(os.path.getsize(img) > 100 and os.path.getsize(wav) > 1000, "test media made (ffmpeg PNG, espeak-ng WAV)")


def serve(data):
    port = free_port()
    p = subprocess.Popen([OMNIDEX, "--data", data, "serve", "--listen", "127.0.0.1:%d" % port], env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return p, "127.0.0.1:%d" % port
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise RuntimeError("server did not start: " + p.stderr.read())


# The client process gets no models directory at all: the server embeds.
CENV = dict(ENV, OMNIDEX_MODELS=os.path.join(d, "no-models-here"), HOME=d)
srv, addr = serve(db)
try:
    S = ["--server", addr]
    rc, out, err = cli(*S, "ingest", "media", img, wav, env=CENV)
    ok(rc == 0 and "2 items" in out and ", 0 failed" in out, "ingest over --server sends the files' bytes", out + err)
    rc, out, err = cli(*S, "collection", "info", "media", "--json", env=CENV)
    ok(rc == 0 and json.loads(out)["count"] == 2, "the server stored both", out + err)
    rc, out, err = cli(*S, "get", "media", "say.wav", "--json", env=CENV)
    rec = json.loads(out) if rc == 0 else {}
    ok(rec.get("source") == os.path.realpath(wav) and rec.get("metadata", {}).get("filename") == "say.wav",
       "an item ingested over --server keeps its source path and metadata", out + err)
    rc, out, err = cli(*S, "search", "media", "--audio", wav, "--k", "2", "--json", env=CENV)
    ok(rc == 0 and len(jlines(out)[0]["hits"]) == 2, "search --audio FILE over --server", out + err)

    # embed: the server's vector equals the local one (same weights, same code;
    # BLAS may order sums differently in another process, so within 1e-5).
    rc, rout, err = cli(*S, "embed", "--space", "omni-tiny", "--file", wav, "--json", env=CENV)
    rc2, lout, err2 = cli("embed", "--space", "omni-tiny", "--file", wav, "--json")
    if rc == 0 and rc2 == 0:
        a, b = json.loads(rout), json.loads(lout)
        diff = max(abs(x - y) for x, y in zip(a["vector"], b["vector"]))
        ok(a["dim"] == 128 and a["modality"] == "audio" and diff < 1e-5,
           "embed over --server equals the local embedding (max diff %.2g)" % diff)
    else:
        ok(False, "embed over --server and locally", err + err2)
    rc, out, err = cli(*S, "embed", "--space", "omni-tiny", "--text", "a sneaker", env=CENV)
    ok(rc == 0 and out.startswith("text, 128 dimensions:"), "embed --text over --server", out[:100] + err)
    rc, out, err = cli(*S, "embed", "--space", "nope", "--text", "x", env=CENV)
    ok(rc == 1 and "nope" in err, "embed with an unknown space over --server: a clear error", err)

    rc, out, err = cli(*S, "models", "list", env=CENV)
    ok(rc == 0 and out.split() == ["omni-tiny"], "models list over --server lists the server's spaces", out + err)
    rc, out, err = cli(*S, "models", "info", "omni-tiny", "--json", env=CENV)
    ok(rc == 0 and json.loads(out)["dim"] == 128 and json.loads(out)["server"] == addr, "models info over --server", out + err)
    rc, out, err = cli(*S, "models", "verify", "omni-tiny", env=CENV)
    ok(rc == 0 and out.count(" ok (") == 5, "models verify over --server runs every tower on the server", out + err)
    rc, out, err = cli(*S, "models", "pull", "x/y", env=CENV)
    ok(rc == 1 and "server's host" in err, "models pull over --server says where to run it", err)

    # Readers beside the writing server: they see what it committed.
    rc, out, err = cli("--data", db, "collection", "list")
    ok(rc == 0 and "media" in out.split(), "collection list works on the directory a server writes", out + err)
    rc, out, err = cli("--data", db, "collection", "info", "media", "--json")
    ok(rc == 0 and json.loads(out)["count"] == 2, "collection info beside the server sees its commits", out + err)
    rc, out, err = cli("--data", db, "search", "media", "--text", "an ankle boot", "--k", "2", "--json")
    ok(rc == 0 and len(jlines(out)[0]["hits"]) == 2, "search beside the server", out + err)
    ids = [h["id"] for h in jlines(out)[0]["hits"]] if rc == 0 else ["?"]
    rc, out, err = cli("--data", db, "get", "media", ids[0])
    ok(rc == 0, "get beside the server", out + err)
    rc, out, err = cli("--data", db, "delete", "media", "whatever")
    ok(rc == 1 and "in use by another omnidex process that writes" in err and "--server" in err,
       "a second writer is refused with a clear message", err)

    # Maintenance over the network.
    rc, out, err = cli(*S, "collection", "checkpoint", "media", env=CENV)
    ok(rc == 0 and "checkpointed collection 'media'" in out, "collection checkpoint over --server", out + err)
    rc, out, err = cli(*S, "collection", "info", "media", "--json", env=CENV)
    info = json.loads(out) if rc == 0 else {}
    ok(info.get("checkpoint_lsn") == info.get("lsn") and info.get("lsn", 0) > 0,
       "after the checkpoint the index file reflects the last LSN", out + err)
    rc, out, err = cli(*S, "search", "media", "--audio", wav, "--k", "1", "--json", env=CENV)
    audio_id = jlines(out)[0]["hits"][0]["id"] if rc == 0 else "?"
    rc, out, err = cli(*S, "delete", "media", audio_id, env=CENV)
    ok(rc == 0, "delete over --server", out + err)
    rc, out, err = cli(*S, "collection", "info", "media", "--json", env=CENV)
    ok(rc == 0 and json.loads(out)["tombstones"] == 1, "a delete leaves a tombstone", out + err)
    rc, out, err = cli(*S, "collection", "compact", "media", env=CENV)
    ok(rc == 0 and "compacted collection 'media'" in out, "collection compact over --server", out + err)
    rc, out, err = cli(*S, "collection", "info", "media", "--json", env=CENV)
    ok(rc == 0 and json.loads(out)["tombstones"] == 0 and json.loads(out)["count"] == 1,
       "compaction over the network dropped the tombstone", out + err)
    rc, out, err = cli(*S, "collection", "compact", "nope", env=CENV)
    ok(rc == 1 and "no collection named 'nope'" in err, "compact of an unknown collection over --server", err)
finally:
    srv.terminate()
    srv.wait(timeout=30)
ok(srv.returncode == 0, "server exits 0 on SIGTERM")

# ---- a read-only open saves the index it had to rebuild ---------------------------
vdb = os.path.join(d, "vdb")
rows = [[((i * 7919 + j * 104729) % 1000) / 1000.0 for j in range(16)] for i in range(3000)]
fv = os.path.join(d, "v.fvecs")
write_fvecs(fv, rows)
cli("--data", vdb, "collection", "create", "v", "--dim", "16", "--index", "HNSW16")
rc, out, err = cli("--data", vdb, "put", "v", "--fvecs", fv)
ok(rc == 0, "put 3,000 vectors", err)
ipath = os.path.join(vdb, "indexes")
files = [f for f in os.listdir(ipath) if f.endswith(".faiss")] if os.path.isdir(ipath) else []
ok(len(files) == 1, "the writer left one index checkpoint", os.listdir(ipath) if os.path.isdir(ipath) else "none")
for f in files:
    os.unlink(os.path.join(ipath, f))  # as if the writer had been killed before its checkpoint
rc, out, err = cli("--data", vdb, "search", "v", "--vector", ",".join("0.5" for _ in range(16)), "--k", "3")
ok(rc == 0 and "rebuilt" in err and "saved it as the checkpoint" in err,
   "the first read-only search rebuilds the index and saves it", err)
ok(len([f for f in os.listdir(ipath) if f.endswith(".faiss")]) == 1, "the checkpoint is back on disk")
rc, out2, err = cli("--data", vdb, "search", "v", "--vector", ",".join("0.5" for _ in range(16)), "--k", "3")
ok(rc == 0 and "rebuilt" not in err and out2 == out, "the next search loads it: no rebuild, same hits", err)

shutil.rmtree(d, ignore_errors=True)
done()
