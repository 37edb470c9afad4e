"""Audio, video and 3D over gRPC, from Python grpcio: a server whose space
has every tower (a tiny space with random weights, tools/tiny_space.py
towers=True). Embed of each medium equals the embedded CLI's vector for the
same file; Upsert of real files made by espeak-ng / ffmpeg / a mesh writer;
cross-modal Search restricted by modality; broken media -> INVALID_ARGUMENT,
media over the space's limits -> RESOURCE_EXHAUSTED, the server healthy after
all of them."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rpc_common import ok, done, gen_stubs, Server, code_of, tmpdir, TOP, BIN  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(TOP, "tools"))
from tiny_space import make_tiny_space  # noqa: E402

gen_stubs()
import grpc  # noqa: E402
from omnidex.v1 import omnidex_pb2 as pb, omnidex_pb2_grpc as pbg  # noqa: E402

SC = grpc.StatusCode
d = tmpdir("odx-rpc-media-")
models = os.path.join(d, "models")
space_dir, cfg, _, _ = make_tiny_space(models, towers=True)
with open(os.path.join(space_dir, "space.json"), "w") as f:
    json.dump({"format": 1, "name": "tiny-clip", "audio": {"max_seconds": 5}, "video": {"frames": 4}}, f)
DIM = cfg["projection_dim"]


def sh(*args):
    subprocess.run(args, check=True, capture_output=True)


files = {}
sh("espeak-ng", "-w", os.path.join(d, "speech.wav"), "a photo of an ankle boot")
files["speech.wav"] = pb.MODALITY_AUDIO
sh("ffmpeg", "-loglevel", "error", "-i", os.path.join(d, "speech.wav"), os.path.join(d, "speech.mp3"))
files["speech.mp3"] = pb.MODALITY_AUDIO
sh("ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=8:duration=2", "-c:v", "libvpx",
   os.path.join(d, "clip.webm"))
files["clip.webm"] = pb.MODALITY_VIDEO
with open(os.path.join(d, "tet.ply"), "w") as f:
    f.write("ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\nproperty float y\nproperty float z\n"
            "element face 4\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n"
            "3 0 2 1\n3 0 1 3\n3 0 3 2\n3 1 2 3\n")
files["tet.ply"] = pb.MODALITY_MESH
sh("ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=300:duration=8", "-ar", "16000",
   os.path.join(d, "long.wav"))
blob = {n: open(os.path.join(d, n), "rb").read() for n in list(files) + ["long.wav"]}


def cli_vec(name):
    p = subprocess.run([BIN, "embed", "--space", "tiny-clip", "--file", os.path.join(d, name), "--json"],
                       capture_output=True, text=True, env=dict(os.environ, OMNIDEX_MODELS=models))
    return np.array(json.loads(p.stdout)["vector"]) if p.returncode == 0 else None


srv = Server(models=models).start()
try:
    st = pbg.OmnidexStub(grpc.insecure_channel(srv.addr))
    r = st.ListModels(pb.ListModelsRequest(), timeout=30)
    ok(list(r.models[0].modalities) == [pb.MODALITY_TEXT, pb.MODALITY_IMAGE, pb.MODALITY_AUDIO, pb.MODALITY_VIDEO,
                                         pb.MODALITY_MESH], "ListModels: every modality", r)
    for name, mod in files.items():
        e = st.Embed(pb.EmbedRequest(space="tiny-clip", media=pb.Media(modality=mod, data=blob[name])), timeout=60)
        ref = cli_vec(name)
        diff = float(np.abs(np.array(e.vector.values) - ref).max()) if ref is not None else 1.0
        ok(diff <= 1e-6, "Embed %s over gRPC = the CLI's vector (max abs diff %.1e)" % (name, diff))
    st.CreateCollection(pb.CreateCollectionRequest(name="m", dim=DIM, space="tiny-clip"), timeout=30)
    items = [pb.Item(id=n, media=pb.Media(modality=m, data=blob[n])) for n, m in files.items()]
    items.append(pb.Item(id="caption", text="an ankle boot"))
    r = st.Upsert(pb.UpsertRequest(collection="m", items=items), timeout=120)
    ok(r.upserted == len(items), "Upsert WAV, MP3, WebM, PLY and a caption", r)

    def search(parts, **kw):
        return st.Search(pb.SearchRequest(collection="m", parts=parts, **kw), timeout=60)
    r = search([pb.QueryPart(text="an ankle boot")], k=10, modalities=[pb.MODALITY_AUDIO])
    ok(sorted(h.id for h in r.hits) == ["speech.mp3", "speech.wav"], "text -> audio keeps the two audio items",
       [h.id for h in r.hits])
    r = search([pb.QueryPart(media=pb.Media(modality=pb.MODALITY_MESH, data=blob["tet.ply"]))], k=1)
    ok(r.hits and r.hits[0].id == "tet.ply" and r.hits[0].score > 0.9999, "3D -> 3D finds the same mesh")
    r = search([pb.QueryPart(media=pb.Media(modality=pb.MODALITY_AUDIO, data=blob["speech.wav"])),
                pb.QueryPart(text="an ankle boot")], k=10, modalities=[pb.MODALITY_VIDEO, pb.MODALITY_MESH])
    ok(sorted(h.id for h in r.hits) == ["clip.webm", "tet.ply"], "audio + text -> video and 3D", [h.id for h in r.hits])

    bad = [("truncated WAV", pb.MODALITY_AUDIO, blob["speech.wav"][:100], SC.INVALID_ARGUMENT),
           ("truncated WebM", pb.MODALITY_VIDEO, blob["clip.webm"][:300], SC.INVALID_ARGUMENT),
           ("PLY with a face index out of range", pb.MODALITY_MESH, blob["tet.ply"].replace(b"3 1 2 3", b"3 1 2 9"),
            SC.INVALID_ARGUMENT),
           ("a PLY sent as audio", pb.MODALITY_AUDIO, blob["tet.ply"], SC.INVALID_ARGUMENT),
           ("8 s of audio over the space's 5 s limit", pb.MODALITY_AUDIO, blob["long.wav"], SC.RESOURCE_EXHAUSTED),
           ("PLY declaring 4e9 vertices", pb.MODALITY_MESH,
            blob["tet.ply"].replace(b"element vertex 4", b"element vertex 4000000000"), SC.RESOURCE_EXHAUSTED)]
    for what, mod, data, want in bad:
        code, det = code_of(lambda: st.Upsert(pb.UpsertRequest(collection="m", items=[
            pb.Item(id="bad", media=pb.Media(modality=mod, data=data))]), timeout=60))
        ok(code == want and det, "%s -> %s" % (what, want.name), (code, det))
    r = st.Get(pb.GetRequest(collection="m", id="tet.ply"), timeout=30)
    ok(r.item.modality == pb.MODALITY_MESH, "earlier items intact after refused media")
    ok(srv.alive(), "server up")
finally:
    srv.kill()
shutil.rmtree(d, ignore_errors=True)
done()
