#!/usr/bin/env python3
"""Generates the seed corpora of the fuzz targets (tests/fuzz/corpus/<t>/),
deterministically, from scratch: filter expressions, encoded metadata,
omnidex.v1 request messages (protobuf, stubs made at run time), safetensors
files, tokenizer inputs, small images (PIL), index checkpoints (made by the
omnidex CLI). Run with /usr/bin/python3 (make fuzz-seeds)."""
import argparse
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(TOP, "tests", "fuzz", "corpus")


def save(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def filters():
    exprs = [
        'label = "sneaker"',
        'label = "sneaker" AND price < 100 AND NOT (tag IN ("a","b"))',
        'a >= 1 OR b <= 2.5e3 OR c != false',
        '(x = 1 AND (y = 2 OR (z = 3 AND NOT w = true)))',
        'name IN ("caf\\u00e9", "\\"quoted\\"", "tab\\there")',
        'n > -9223372036854775808 AND f < 1.7976931348623157e308',
        'not (a = 1) and b in (1, 2.5, true, "x")',
        'k = 0.1 OR k = -0.0 OR k = 1e-320',
        'x.y-z_1 = "v"',
        '((((((((a = 1))))))))',
        # Regressions (tests/RELIABILITY.md): printed forms that once nested
        # deeper than their input and failed to parse again.
        'NOT ' * 40 + 'a = 1',
        'a = 1 OR b = 1 AND (' * 40 + 'c = 1' + ')' * 40,
    ]
    for i, e in enumerate(exprs):
        save("filter", "seed%02d" % i, e)


def meta_entry(key, typ, val):
    k = key.encode()
    out = bytes([len(k)]) + k + bytes([typ])
    if typ == 1:
        b = val.encode()
        out += struct.pack(">H", len(b)) + b
    elif typ == 2:
        out += struct.pack(">q", val)
    elif typ == 3:
        out += struct.pack(">d", val)
    else:
        out += bytes([1 if val else 0])
    return out


def metas():
    sets = [
        [],
        [("label", 1, "sneaker")],
        [("label", 1, "caf\u00e9"), ("n", 2, -5), ("price", 3, 9.99), ("ok", 4, True)],
        [("k%d" % i, 2, i * 1000003) for i in range(20)],
        [("s", 1, "x" * 400)],
    ]
    for i, s in enumerate(sets):
        save("meta", "seed%02d" % i, struct.pack(">H", len(s)) + b"".join(meta_entry(*e) for e in s))


def rpcs():
    sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
    import rpc_common
    rpc_common.gen_stubs()
    from omnidex.v1 import omnidex_pb2 as pb
    methods = ["CreateCollection", "DropCollection", "ListCollections", "DescribeCollection", "Upsert",
               "UpsertStream", "Delete", "Get", "Search", "Embed", "ListModels", "Stats"]

    def put(method, tag, msg):
        save("rpc", "%s_%s" % (method, tag), bytes([methods.index(method)]) + msg.SerializeToString())

    def item(i, dim=4):
        it = pb.Item(id="i%d" % i, vector=pb.Vector(values=[0.1 * (i + j + 1) for j in range(dim)]))
        it.metadata["label"].string_value = "odd" if i % 2 else "even"
        it.metadata["n"].int_value = i
        it.metadata["p"].float_value = i / 3.0
        it.metadata["b"].bool_value = bool(i % 3)
        return it

    put("CreateCollection", "flat", pb.CreateCollectionRequest(name="x1", dim=4, metric=pb.METRIC_L2, index_spec="Flat"))
    put("CreateCollection", "hnsw", pb.CreateCollectionRequest(name="x2", dim=8, index_spec="HNSW16,Flat"))
    put("CreateCollection", "space", pb.CreateCollectionRequest(name="x3", dim=4, space="omni-tiny"))
    put("DropCollection", "x1", pb.DropCollectionRequest(name="x1"))
    put("ListCollections", "all", pb.ListCollectionsRequest())
    put("DescribeCollection", "c", pb.DescribeCollectionRequest(name="c"))
    put("Upsert", "c", pb.UpsertRequest(collection="c", items=[item(i) for i in range(3)]))
    put("Upsert", "h", pb.UpsertRequest(collection="h", items=[item(i + 10) for i in range(4)]))
    put("Upsert", "text", pb.UpsertRequest(collection="c", items=[pb.Item(id="t", text="a photo of a cat")]))
    put("Upsert", "media", pb.UpsertRequest(collection="c", items=[
        pb.Item(id="m", media=pb.Media(modality=pb.MODALITY_IMAGE, data=b"\x89PNG\r\n\x1a\n"))]))
    put("Upsert", "uri", pb.UpsertRequest(collection="c", items=[
        pb.Item(id="u", media=pb.Media(modality=pb.MODALITY_IMAGE, uri="http://127.0.0.1/x.png"))]))
    put("UpsertStream", "c", pb.UpsertRequest(collection="c", items=[item(i + 20) for i in range(2)]))
    put("Delete", "c", pb.DeleteRequest(collection="c", ids=["1", "2", "nope"]))
    put("Get", "c", pb.GetRequest(collection="c", id="3"))
    put("Get", "nov", pb.GetRequest(collection="c", id="4", without_vector=True))
    q = pb.QueryPart(vector=pb.Vector(values=[1, 0.5, 0, 1]))
    f1 = pb.Filter(compare=pb.Comparison(field="label", op=pb.Comparison.OP_EQ, value=pb.Value(string_value="odd")))
    f2 = pb.Filter(in_set=pb.InSet(field="n", values=[pb.Value(int_value=1), pb.Value(int_value=3)]))
    f3 = pb.Filter(all_of=pb.FilterList(filters=[f1, pb.Filter(negate=f2)]))
    put("Search", "plain", pb.SearchRequest(collection="c", parts=[q], k=3))
    put("Search", "filter", pb.SearchRequest(collection="c", parts=[q], k=5, filter=f3, with_metadata=True))
    put("Search", "expr", pb.SearchRequest(collection="c", parts=[q], filter=pb.Filter(expr='n < 4 OR label = "even"')))
    put("Search", "anyof", pb.SearchRequest(collection="h", parts=[q, pb.QueryPart(item_id="i10", weight=0.5)],
                                            filter=pb.Filter(any_of=pb.FilterList(filters=[f1, f2])),
                                            params=pb.SearchParams(ef_search=32), modalities=[pb.MODALITY_VECTOR]))
    put("Search", "text", pb.SearchRequest(collection="c", parts=[pb.QueryPart(text="cat")]))
    put("Search", "exact", pb.SearchRequest(collection="c", parts=[q], params=pb.SearchParams(exact=True, nprobe=4)))
    put("Embed", "text", pb.EmbedRequest(space="omni-tiny", text="a cat"))
    put("Embed", "coll", pb.EmbedRequest(collection="c", media=pb.Media(modality=pb.MODALITY_IMAGE, data=b"GIF89a")))
    put("ListModels", "all", pb.ListModelsRequest())
    put("Stats", "all", pb.StatsRequest())


def safetensors():
    def st(header, payload):
        h = json.dumps(header, separators=(",", ":")).encode()
        return struct.pack("<Q", len(h)) + h + payload

    save("safetensors", "f32", st({"__metadata__": {"format": "pt"},
                                   "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}},
                                  struct.pack("<6f", *range(6))))
    save("safetensors", "mixed", st({"w": {"dtype": "F16", "shape": [4], "data_offsets": [0, 8]},
                                     "b": {"dtype": "BF16", "shape": [2], "data_offsets": [8, 12]},
                                     "i": {"dtype": "I64", "shape": [1], "data_offsets": [12, 20]}}, bytes(range(20))))
    save("safetensors", "empty", st({}, b""))
    save("safetensors", "scalar", st({"s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}, b"\0\0\x80?"))


def tokenizer():
    texts = ["a photo of a cat", "caf\u00e9 \u6771\u4eac \U0001F600 it's", "<|startoftext|>x<|endoftext|>",
             "HELLO   world\t\n 123 don't", "x" * 300]
    for i, t in enumerate(texts):
        save("tokenizer", "text%02d" % i, b"\x00" + t.encode())
    with open(os.path.join(TOP, "tests", "fixtures", "encoders", "bpe", "merges.txt"), "rb") as f:
        merges = f.read()
    save("tokenizer", "merges", b"\x01" + merges[:2000])


def images():
    from PIL import Image
    img = Image.new("RGB", (12, 9))
    img.putdata([((x * 20) % 256, (y * 28) % 256, (x * y * 7) % 256) for y in range(9) for x in range(12)])
    for fmt, name, kw in [("JPEG", "jpg", {"quality": 80}), ("PNG", "png", {}), ("WEBP", "webp", {"quality": 70}),
                          ("GIF", "gif", {}), ("BMP", "bmp", {}), ("JPEG", "prog.jpg", {"progressive": True}),
                          ("WEBP", "lossless.webp", {"lossless": True})]:
        b = io.BytesIO()
        img.save(b, fmt, **kw)
        save("image", name, b.getvalue())
    b = io.BytesIO()
    img.convert("L").save(b, "PNG")
    save("image", "gray.png", b.getvalue())
    b = io.BytesIO()
    img.convert("RGBA").save(b, "PNG")
    save("image", "rgba.png", b.getvalue())
    b = io.BytesIO()
    ex = Image.Exif()
    ex[0x0112] = 6
    img.save(b, "JPEG", exif=ex.tobytes())
    save("image", "exif6.jpg", b.getvalue())


def checkpoints(omnidex):
    d = tempfile.mkdtemp(prefix="odx-seeds-")
    try:
        vec = os.path.join(d, "v.jsonl")
        with open(vec, "w") as f:
            for i in range(6):
                f.write(json.dumps({"id": str(i), "vector": [((i * 7 + j * 3) % 11) / 10.0 + 0.05 for j in range(4)]}) + "\n")
        for spec, name in [("Flat", "flat"), ("HNSW4,Flat", "hnsw"), ("SQ8", "sq8")]:
            data = os.path.join(d, name)
            subprocess.run([omnidex, "--data", data, "collection", "create", "c", "--dim", "4", "--index", spec,
                            "--metric", "l2"], check=True, capture_output=True)
            subprocess.run([omnidex, "--data", data, "put", "c", "--jsonl", vec], check=True, capture_output=True)
            subprocess.run([omnidex, "--data", data, "collection", "checkpoint", "c"], check=True, capture_output=True)
            with open(os.path.join(data, "indexes", "c.faiss"), "rb") as f:
                save("index", name, f.read())
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--omnidex", default=os.path.join(TOP, "build", "rel", "omnidex"))
    a = ap.parse_args()
    filters()
    metas()
    rpcs()
    safetensors()
    tokenizer()
    images()
    checkpoints(os.path.abspath(a.omnidex))
    for t in sorted(os.listdir(OUT)):
        print("%-12s %d seeds" % (t, len(os.listdir(os.path.join(OUT, t)))))


if __name__ == "__main__":
    main()
