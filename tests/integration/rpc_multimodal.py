"""Text and image payloads over gRPC (Python grpcio): a space made here (a
tiny CLIP model with random weights in Hugging Face layout, built with the
project's PyTorch reference tools/ref_clip.py), then ListModels, Embed
checked against PyTorch, Upsert of text and image items, Search by text, by
image bytes, by item id and by a two-part query, modality restriction, and
the errors: media that does not decode, a modality the space lacks, a
collection bound to no space."""
import io
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rpc_common import ok, done, gen_stubs, Server, code_of, tmpdir, TOP  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data as skdata  # noqa: E402

sys.path.insert(0, os.path.join(TOP, "tools"))
import ref_clip  # noqa: E402
from ref_clip_tokenizer import ClipTokenizer  # noqa: E402

gen_stubs()
import grpc  # noqa: E402
from omnidex.v1 import omnidex_pb2 as pb, omnidex_pb2_grpc as pbg  # noqa: E402

SC = grpc.StatusCode


def make_space(models):
    from tiny_space import make_tiny_space
    _, cfg, w, tok = make_tiny_space(models)
    return cfg, w, tok


def png(arr):
    b = io.BytesIO()
    Image.fromarray(arr).save(b, format="PNG")
    return b.getvalue()


def main():
    models = tmpdir("odx-rpc-models-")
    cfg, w, tok = make_space(models)
    dim = cfg["projection_dim"]
    srv = Server(models=models).start()
    try:
        run(srv, cfg, w, tok, dim)
    finally:
        srv.kill()
        shutil.rmtree(models, ignore_errors=True)
    done()


def run(srv, cfg, w, tok, dim):
    ch = grpc.insecure_channel(srv.addr)
    st = pbg.OmnidexStub(ch)

    r = st.ListModels(pb.ListModelsRequest(), timeout=30)
    ok([m.space for m in r.models] == ["tiny-clip"] and r.models[0].dim == dim and
       list(r.models[0].modalities) == [pb.MODALITY_TEXT, pb.MODALITY_IMAGE, pb.MODALITY_VIDEO, pb.MODALITY_MESH],
       "ListModels: tiny-clip, dim, text+image (+ video and 3D through the image tower)", r)

    text = "a photo of a cat"
    r = st.Embed(pb.EmbedRequest(space="tiny-clip", text=text), timeout=60)
    ref = ref_clip.text_features(cfg, w, torch.tensor([tok.encode(text)])).numpy()[0]
    diff = float(np.abs(np.array(r.vector.values) - ref).max())
    ok(r.space == "tiny-clip" and len(r.vector.values) == dim and diff <= 1e-4,
       "Embed text matches the PyTorch reference (max abs diff %.1e)" % diff)

    st.CreateCollection(pb.CreateCollectionRequest(name="media", dim=dim, space="tiny-clip"), timeout=30)
    r = st.Embed(pb.EmbedRequest(collection="media", text=text), timeout=60)
    ok(np.abs(np.array(r.vector.values) - ref).max() <= 1e-4, "Embed via a collection's space")

    photos = {"chelsea": skdata.chelsea(), "astronaut": skdata.astronaut(), "coffee": skdata.coffee(),
              "rocket": skdata.rocket()}
    blobs = {k: png(v) for k, v in photos.items()}
    items = [pb.Item(id=k, media=pb.Media(modality=pb.MODALITY_IMAGE, data=b)) for k, b in blobs.items()]
    items += [pb.Item(id="cat.txt", text=text), pb.Item(id="boot.txt", text="an ankle boot")]
    for it in items:
        it.metadata["kind"].string_value = "image" if it.WhichOneof("payload") == "media" else "text"
    r = st.Upsert(pb.UpsertRequest(collection="media", items=items), timeout=120)
    ok(r.upserted == 6, "Upsert 4 PNG images and 2 texts (embedded by the server)", r)
    g = st.Get(pb.GetRequest(collection="media", id="coffee"), timeout=30)
    ok(g.item.modality == pb.MODALITY_IMAGE and len(g.item.vector.values) == dim, "Get: an image item with its vector")

    def search(parts, **kw):
        return st.Search(pb.SearchRequest(collection="media", parts=parts, **kw), timeout=60)
    for k, b in blobs.items():
        r = search([pb.QueryPart(media=pb.Media(modality=pb.MODALITY_IMAGE, data=b))], k=2)
        ok(r.hits and r.hits[0].id == k and r.hits[0].score > 0.9999, "image -> image finds %s" % k,
           [(h.id, h.score) for h in r.hits])
    r = search([pb.QueryPart(text=text)], k=10, with_metadata=True)
    ok(r.hits and r.hits[0].id == "cat.txt" and abs(r.hits[0].score - 1) < 1e-4 and len(r.hits) == 6,
       "text -> text finds the same caption and ranks every item", [(h.id, h.score) for h in r.hits])
    emb = st.Embed(pb.EmbedRequest(space="tiny-clip", media=pb.Media(modality=pb.MODALITY_IMAGE,
                                                                     data=blobs["astronaut"])), timeout=60)
    cos = float(np.dot(np.array(emb.vector.values), ref))
    got = [h.score for h in r.hits if h.id == "astronaut"]
    ok(got and abs(got[0] - cos) < 1e-4, "text -> image score is the cosine of the two embeddings (%.4f)" % cos, got)
    r = search([pb.QueryPart(text=text)], k=10, modalities=[pb.MODALITY_IMAGE])
    ok(len(r.hits) == 4 and all(h.modality == pb.MODALITY_IMAGE for h in r.hits), "modalities=[IMAGE] keeps images")
    r = search([pb.QueryPart(text=text)], k=10, filter=pb.Filter(expr='kind = "text"'))
    ok(sorted(h.id for h in r.hits) == ["boot.txt", "cat.txt"], "text query with a metadata filter")
    r = search([pb.QueryPart(item_id="rocket")], k=1)
    ok(r.hits and r.hits[0].id == "rocket", "search by an existing item id")
    r = search([pb.QueryPart(media=pb.Media(modality=pb.MODALITY_IMAGE, data=blobs["coffee"]), weight=0.2),
                pb.QueryPart(text="an ankle boot", weight=5)], k=1)
    ok(r.hits and r.hits[0].id == "boot.txt", "two-part query follows the heavier part", [h.id for h in r.hits])

    code, det = code_of(lambda: st.Upsert(pb.UpsertRequest(collection="media", items=[
        pb.Item(id="broken", media=pb.Media(modality=pb.MODALITY_IMAGE, data=blobs["rocket"][:200]))]), timeout=30))
    ok(code == SC.INVALID_ARGUMENT and det, "a truncated PNG -> INVALID_ARGUMENT", (code, det))
    code, det = code_of(lambda: search([pb.QueryPart(media=pb.Media(modality=pb.MODALITY_AUDIO, data=b"RIFF...."))]))
    ok(code == SC.FAILED_PRECONDITION and det, "audio into a text+image space -> FAILED_PRECONDITION", (code, det))
    code, det = code_of(lambda: st.Embed(pb.EmbedRequest(space="nope", text="x"), timeout=30))
    ok(code == SC.FAILED_PRECONDITION and "nope" in det, "Embed into a space not installed -> FAILED_PRECONDITION",
       (code, det))
    st.CreateCollection(pb.CreateCollectionRequest(name="plain", dim=dim), timeout=30)
    code, det = code_of(lambda: st.Search(pb.SearchRequest(collection="plain", parts=[pb.QueryPart(text="hi")]),
                                          timeout=30))
    ok(code == SC.FAILED_PRECONDITION and det, "text query on a collection bound to no space -> FAILED_PRECONDITION",
       (code, det))
    d = st.DescribeCollection(pb.DescribeCollectionRequest(name="media"), timeout=30)
    ok(d.collection.count == 6 and d.collection.space == "tiny-clip", "failed calls left the collection intact")
    ch.close()
    ok(srv.stop() == 0, "server exits 0 on SIGTERM")


if __name__ == "__main__":
    main()
