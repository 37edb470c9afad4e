"""Text and image payloads through the engine and the CLI: a collection bound
to a space (a tiny CLIP model with random weights, written here in Hugging
Face layout), `omnidex embed` against the PyTorch reference, `omnidex ingest`
of real photos and text files with content sniffing, searches by text, image,
item id and multi-part queries, modality restriction, and the errors for
spaces and files that cannot be embedded."""
import json
import os
import shutil
import struct
import sys

import numpy as np
import torch
from PIL import Image
from skimage import data as skdata

TOP = os.environ.get("OMNIDEX_TOP", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
sys.path.insert(0, os.path.join(TOP, "tools"))
import ref_clip  # noqa: E402
from ref_clip_tokenizer import ClipTokenizer  # noqa: E402

from core_tap import done, jlines, ok, run, tmpdir  # noqa: E402

d = tmpdir("omnidex-mm-")
models = os.path.join(d, "models")
os.environ["OMNIDEX_MODELS"] = models
from tiny_space import make_tiny_space  # noqa: E402
space_dir, cfg, w, tok = make_tiny_space(models)
DIM = cfg["projection_dim"]
data = os.path.join(d, "db")

# omnidex embed vs the PyTorch reference.
text = "a photo of a cat"
rc, out, err = run(data, "embed", "--space", "tiny-clip", "--text", text, "--json")
ref = ref_clip.text_features(cfg, w, torch.tensor([tok.encode(text)])).numpy()[0]
if ok(rc == 0, "omnidex embed --text", err):
    e = json.loads(out)
    diff = float(np.abs(np.array(e["vector"]) - ref).max())
    ok(e["modality"] == "text" and e["dim"] == DIM and diff <= 1e-4, f"embedding matches PyTorch (max abs diff {diff:.1e})")

rc, out, err = run(data, "models", "list", "--json")
ok(rc == 0 and json.loads(out) == ["tiny-clip"], "models list", out + err)
rc, out, err = run(data, "models", "info", "tiny-clip", "--json")
ok(rc == 0 and json.loads(out)["dim"] == DIM and json.loads(out)["modalities"] == ["text", "image", "video", "mesh"], "models info (video and 3D through the image tower)",
   out + err)
rc, out, err = run(data, "models", "verify", "tiny-clip")
ok(rc == 0 and [l.split()[1] for l in out.splitlines() if " ok (" in l] == ["text", "image", "video", "mesh"],
   "models verify embeds a sample through each of the space's modalities", out + err)
rc, out, err = run(data, "collection", "create", "media", "--dim", str(DIM), "--space", "nope")
ok(rc == 1 and "space 'nope' is not installed" in err, "unknown space at create", err)
rc, out, err = run(data, "collection", "create", "media", "--dim", "512", "--space", "tiny-clip")
ok(rc == 1 and "24 dimensions" in err, "space dimension mismatch at create", err)
rc, out, err = run(data, "collection", "create", "media", "--dim", str(DIM), "--space", "tiny-clip")
ok(rc == 0, "collection bound to a space", err)

# A corpus of real photos (skimage) in several formats, and text files.
corpus = os.path.join(d, "corpus")
os.makedirs(os.path.join(corpus, "sub"))
photos = {"chelsea.png": skdata.chelsea(), "astronaut.jpg": skdata.astronaut(), "coffee.webp": skdata.coffee(),
          "sub/rocket.gif": skdata.rocket(), "sub/camera.bmp": skdata.camera()}
for name, arr in photos.items():
    Image.fromarray(arr).save(os.path.join(corpus, name))
# A misleading extension: the content decides.
shutil.copy(os.path.join(corpus, "chelsea.png"), os.path.join(corpus, "really-a-png.txt"))
texts = {"cat.txt": text, "boot.txt": "an ankle boot", "cjk.txt": "猫の写真 😺"}
for name, t in texts.items():
    with open(os.path.join(corpus, name), "w") as f:
        f.write(t)
# Inside a directory only media are taken unless --modality says otherwise;
# an item's id is the directory's name and the path below it.
rc, out, err = run(data, "ingest", "media", "--modality", "all", corpus)
n_items = len(photos) + len(texts) + 1
ok(rc == 0 and f"ingest: {n_items} items" in out, "ingest a directory of photos and texts", out + err)


def cid(name):
    return "corpus/" + name


rc, out, err = run(data, "get", "media", cid("really-a-png.txt"), "--json")
ok(rc == 0 and json.loads(out)["modality"] == "image" and json.loads(out)["metadata"]["format"] == "PNG",
   "modality sniffed from content, not the extension", out + err)

for name in photos:
    p = os.path.join(corpus, name)
    rc, out, err = run(data, "search", "media", "--image", p, "--k", "3", "--json", "--modality", "image")
    hits = jlines(out)[0]["hits"] if rc == 0 else []
    # chelsea.png has an identical twin (really-a-png.txt): either is a right answer.
    want = {cid(name)} | ({cid("really-a-png.txt")} if name == "chelsea.png" else set())
    ok(hits and hits[0]["id"] in want and hits[0]["score"] > 0.9999, f"image -> image finds {name}", out + err)

rc, out, err = run(data, "search", "media", "--text", text, "--k", "20", "--json", "--meta")
hits = jlines(out)[0]["hits"] if rc == 0 else []
ok(hits and hits[0]["id"] == cid("cat.txt") and abs(hits[0]["score"] - 1) < 1e-4,
   "text -> text finds the same caption", out + err)
ok(len(hits) == n_items and {h["modality"] for h in hits} == {"text", "image"}, "text query ranks every item", out)
# The score of each hit is the cosine of the two embeddings computed alone.
rc2, out2, _ = run(data, "embed", "--space", "tiny-clip", "--image", os.path.join(corpus, "astronaut.jpg"), "--json")
if rc2 == 0:
    iv = np.array(json.loads(out2)["vector"])
    cos = float(np.dot(iv, ref))
    got = [h["score"] for h in hits if h["id"].endswith("astronaut.jpg")]
    ok(got and abs(got[0] - cos) < 1e-4, f"text -> image score is the cosine of the embeddings ({cos:.4f})", out)
rc, out, err = run(data, "search", "media", "--text", text, "--modality", "image", "--json")
hits = jlines(out)[0]["hits"] if rc == 0 else []
ok(rc == 0 and len(hits) == len(photos) + 1, "--modality image keeps only images", out + err)
rc, out, err = run(data, "search", "media", "--text", text, "--filter", 'format = "JPEG"', "--json")
hits = jlines(out)[0]["hits"] if rc == 0 else []
ok(rc == 0 and [h["id"] for h in hits] == [cid("astronaut.jpg")], "filter on ingest metadata", out + err)
rc, out, err = run(data, "search", "media", "--item", cid("sub/rocket.gif"), "--k", "1", "--json")
ok(rc == 0 and jlines(out)[0]["hits"][0]["id"].endswith("rocket.gif"), "search by an existing item id", out + err)
rc, out, err = run(data, "search", "media", "--image", os.path.join(corpus, "coffee.webp"), "--weight", "0.2",
                   "--text", "an ankle boot", "--weight", "5", "--k", "1", "--json")
ok(rc == 0 and jlines(out)[0]["hits"][0]["id"].endswith("boot.txt"), "two-part query follows the heavier part", out + err)

# Files that cannot be embedded: clear per-file errors, nothing else lost.
bad = os.path.join(d, "bad")
os.makedirs(bad)
with open(os.path.join(bad, "noise.bin"), "wb") as f:
    f.write(bytes(range(256)) * 4)
with open(os.path.join(bad, "tone.wav"), "wb") as f:
    f.write(b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16) + b"data\0\0\0\0")
with open(os.path.join(bad, "broken.jpg"), "wb") as f:
    f.write(open(os.path.join(corpus, "astronaut.jpg"), "rb").read()[:300])
# Named on the command line, each is an error ...
rc, out, err = run(data, "ingest", "media", *[os.path.join(bad, n) for n in ("noise.bin", "tone.wav", "broken.jpg")])
ok(rc == 1 and "noise.bin: unknown binary data, not a format" in err, "unrecognised binary named", err)
ok("no audio encoder" in err, "audio file into a text+image space", err)
ok("broken.jpg" in err and "ingest: 0 items" in out and "3 failed" in out, "truncated JPEG refused with its name", out + err)
ok(len(err.strip().splitlines()) == 3, "one error line per refused file", err)
# ... inside a directory, what is not media the space embeds is skipped and counted.
rc, out, err = run(data, "ingest", "media", bad)
ok(rc == 1 and "1 failed" in out and "broken.jpg" in err and len(err.strip().splitlines()) == 1
   and "1 audio file (space 'tiny-clip' has no audio encoder)" in out and "1 of unknown format" in out,
   "a directory's unknown and unembeddable files are counted, its broken JPEG fails", out + err)
# Meshes in a space without a point tower: rendered views through the image tower.
meshes = os.path.join(d, "meshes")
os.makedirs(meshes)
with open(os.path.join(meshes, "tri.obj"), "w") as f:
    f.write("# a triangle\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
with open(os.path.join(meshes, "tri.stl"), "w") as f:
    f.write("solid t\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\nendsolid t\n")
rc, out, err = run(data, "ingest", "media", meshes)
ok(rc == 0 and "ingest: 2 items" in out, "OBJ and ASCII STL sniffed as meshes and embedded by rendering", out + err)
rc, out, err = run(data, "search", "media", "--item", "meshes/tri.obj", "--k", "1", "--modality", "3d",
                   "--json")
ok(rc == 0 and jlines(out)[0]["hits"][0]["id"].endswith(("tri.obj", "tri.stl")), "the same triangle from OBJ and STL",
   out + err)
n_items += 2
rc, out, err = run(data, "search", "media", "--audio", os.path.join(corpus, "chelsea.png"))
ok(rc == 1 and "holds PNG data" in err, "--audio with an image file", err)
rc, out, err = run(data, "collection", "info", "media", "--json")
ok(rc == 0 and json.loads(out)["count"] == n_items, "failed ingests left the collection intact", out)

# omnidex models pull from a hub on loopback serving the Hugging Face layout
# ({hub}/{repo}/resolve/{rev}/{file}), into a fresh models directory.
import http.server
import socketserver
import threading
hubroot = os.path.join(d, "hub")
files = os.path.join(hubroot, "acme", "tiny-clip-hub", "resolve", "main")
shutil.copytree(space_dir, files)
handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=hubroot, **kw)
http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
srv = socketserver.TCPServer(("127.0.0.1", 0), handler)
threading.Thread(target=srv.serve_forever, daemon=True).start()
hub = f"http://127.0.0.1:{srv.server_address[1]}"
os.environ["OMNIDEX_MODELS"] = os.path.join(d, "models2")
rc, out, err = run(data, "models", "pull", "acme/tiny-clip-hub", "--hub", hub)
ok(rc == 0 and "space 'tiny-clip-hub', 24 dimensions" in out, "models pull from a local hub", out + err)
pulled = os.path.join(d, "models2", "tiny-clip-hub")
same = all(open(os.path.join(pulled, f), "rb").read() == open(os.path.join(space_dir, f), "rb").read()
           for f in ("config.json", "model.safetensors", "vocab.json", "merges.txt"))
ok(same, "pulled files are byte-identical")
rc2, out2, _ = run(data, "embed", "--space", "tiny-clip-hub", "--text", text, "--json")
ok(rc2 == 0 and np.abs(np.array(json.loads(out2)["vector"]) - ref).max() <= 1e-4, "the pulled space embeds like the original", out2)
rc, out, err = run(data, "models", "pull", "acme/nothing-here", "--hub", hub)
ok(rc == 1 and "omnidex: error: models pull" in err, "pull of a missing repo is a clear error", err)
srv.shutdown()
os.environ["OMNIDEX_MODELS"] = models

# A collection without a space refuses payloads with a precondition error.
run(data, "collection", "create", "plain", "--dim", str(DIM))
rc, out, err = run(data, "search", "plain", "--text", "hello")
ok(rc == 1 and "bound to no space" in err, "text query on a vectors-only collection", err)
shutil.rmtree(d, ignore_errors=True)
done()
