#!/usr/bin/env python3
"""Generates the seed corpora of the fuzz targets (tests/fuzz/corpus/<t>/),
deterministically, from scratch: filter expressions, encoded metadata,
omnidex.v1 request messages (protobuf, stubs made at run time), safetensors
files, tokenizer inputs, small images (PIL), index checkpoints (made by the
omnidex CLI), audio and video clips (the ffmpeg CLI, bit-exact flags, one
thread) and meshes (written here). Run with /usr/bin/python3 (make
fuzz-seeds); --only audio,video,mesh regenerates some targets."""
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


def ffmpeg(args, out=None):
    """Runs the ffmpeg CLI with bit-exact output (no encoder version strings,
    no timestamps of the run) and one thread, so that a rerun writes the
    same bytes; returns the output file's bytes (or stdout for a pipe)."""
    exact = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact", "-threads", "1",
             "-map_metadata", "-1"]
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"] + args[:-1] + exact + [args[-1]]
    r = subprocess.run(cmd, check=True, capture_output=True)
    if args[-1] == "pipe:1":
        return r.stdout
    with open(args[-1], "rb") as f:
        return f.read()


def sine(rate, secs, freq=440, ch=1):
    src = "sine=frequency=%d:sample_rate=%d:duration=%g" % (freq, rate, secs)
    if ch == 1:
        return ["-f", "lavfi", "-i", src]
    return ["-f", "lavfi", "-i", src, "-f", "lavfi", "-i", "sine=frequency=%d:sample_rate=%d:duration=%g"
            % (freq * 3 // 2, rate, secs), "-filter_complex", "[0:a][1:a]amerge=inputs=2[a]", "-map", "[a]"]


def audio():
    """Each container and sample format libsndfile reads, a few KB each:
    8/16/24-bit and float WAV, stereo (the downmix), a rate that resamples
    by a non-integer ratio, FLAC, Ogg Vorbis and Opus, MP3 with and without
    a Xing header (the truncation check), AIFF, and a WAV of zero frames."""
    d = tempfile.mkdtemp(prefix="odx-seeds-")
    try:
        def enc(name, args):
            save("audio", name, ffmpeg(args + [os.path.join(d, name)]))
        enc("u8.wav", sine(8000, 0.25) + ["-c:a", "pcm_u8"])
        enc("s16.wav", sine(8000, 0.25) + ["-c:a", "pcm_s16le"])
        enc("s24.wav", sine(8000, 0.25) + ["-c:a", "pcm_s24le"])
        enc("f32.wav", sine(8000, 0.25) + ["-c:a", "pcm_f32le"])
        enc("stereo.wav", sine(8000, 0.2, ch=2) + ["-c:a", "pcm_s16le"])
        enc("s16_22050.wav", sine(22050, 0.1) + ["-c:a", "pcm_s16le"])
        enc("empty.wav", sine(8000, 0.25) + ["-t", "0", "-c:a", "pcm_s16le"])
        enc("mono.flac", sine(8000, 0.5) + ["-c:a", "flac"])
        enc("stereo.flac", sine(16000, 0.25, ch=2) + ["-c:a", "flac"])
        enc("vorbis.ogg", sine(8000, 0.5) + ["-c:a", "libvorbis", "-q:a", "0"])
        enc("opus.opus", sine(48000, 0.3) + ["-c:a", "libopus", "-b:a", "16k"])
        enc("xing.mp3", sine(8000, 0.5) + ["-c:a", "libmp3lame", "-b:a", "16k"])
        enc("noxing.mp3", sine(8000, 0.5) + ["-c:a", "libmp3lame", "-b:a", "16k", "-write_xing", "0"])
        enc("s16be.aiff", sine(8000, 0.2) + ["-c:a", "pcm_s16be"])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def video():
    """32x24 testsrc clips, 1 s at 5 fps, in each container and a few
    codecs: H.264 and MPEG-4 Part 2 in MP4 (one with an AAC soundtrack,
    one fragmented), MJPEG in MOV with a 90-degree display matrix, VP8 in
    WebM with a Vorbis track, VP9 in WebM written to a pipe (no duration or
    cues: the demux pass measures it), FFV1 + FLAC in Matroska, and GIF."""
    d = tempfile.mkdtemp(prefix="odx-seeds-")
    src = ["-f", "lavfi", "-i", "testsrc=size=32x24:rate=5:duration=1"]
    snd = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000:duration=1"]
    try:
        def enc(name, args):
            save("video", name, ffmpeg(args + [os.path.join(d, name)]))
        x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-x264-params", "threads=1"]
        enc("h264.mp4", src + x264)
        enc("mpeg4_aac.mp4", src + snd + ["-c:v", "mpeg4", "-q:v", "10", "-c:a", "aac", "-b:a", "16k", "-shortest"])
        enc("frag.mp4", src + x264 + ["-movflags", "frag_keyframe+empty_moov"])
        # The display matrix is written only on a stream copy (ffmpeg 5.1).
        ffmpeg(src + ["-c:v", "mjpeg", "-q:v", "20", os.path.join(d, "plain.mov")])
        enc("rot90.mov", ["-i", os.path.join(d, "plain.mov"), "-c", "copy", "-metadata:s:v:0", "rotate=90"])
        enc("vp8_vorbis.webm", src + snd + ["-c:v", "libvpx", "-b:v", "50k", "-deadline", "good", "-cpu-used", "4",
                                           "-c:a", "libvorbis", "-q:a", "0", "-shortest"])
        data = ffmpeg(src + ["-c:v", "libvpx-vp9", "-b:v", "50k", "-deadline", "good", "-cpu-used", "8",
                             "-row-mt", "0", "-f", "webm", "pipe:1"])
        save("video", "vp9_stream.webm", data)
        enc("ffv1_flac.mkv", src + snd + ["-c:v", "ffv1", "-c:a", "flac", "-shortest"])
        enc("anim.gif", src + ["-c:v", "gif"])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def meshes():
    """One small file per reader path: PLY ascii (extra properties, a
    quad), binary little- and big-endian, a point cloud; OFF and COFF; STL
    ascii and binary; OBJ with normals, texture coordinates, negative
    indices and an mtllib the importer may not open; GLB and glTF (data: URI
    buffer, a node transform) with one triangle or a quad."""
    cube_v = [(x, y, z) for x in (0, 1) for y in (0, 1) for z in (0, 1)]
    cube_f = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    tris = [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)]
    tri_f = [(0, 2, 1), (0, 1, 3), (0, 3, 2), (1, 2, 3)]

    def ply_ascii(v, f, extra=True):
        h = ["ply", "format ascii 1.0", "comment made by make_seeds.py", "element vertex %d" % len(v),
             "property float x", "property float y", "property float z"]
        if extra:
            h += ["property uchar red", "property uchar green", "property uchar blue"]
        if f:
            h += ["element face %d" % len(f), "property list uchar int vertex_indices"]
        h.append("end_header")
        rows = ["%g %g %g" % p + (" 200 100 50" if extra else "") for p in v]
        rows += ["%d " % len(t) + " ".join(map(str, t)) for t in f]
        return "\n".join(h + rows) + "\n"

    def ply_bin(v, f, be):
        e = ">" if be else "<"
        h = ("ply\nformat binary_%s_endian 1.0\nelement vertex %d\nproperty float x\nproperty float y\n"
             "property float z\nelement face %d\nproperty list uchar uint vertex_indices\nend_header\n"
             % ("big" if be else "little", len(v), len(f))).encode()
        body = b"".join(struct.pack(e + "3f", *p) for p in v)
        body += b"".join(struct.pack(e + "B%dI" % len(t), len(t), *t) for t in f)
        return h + body

    save("mesh", "tetra.ply", ply_ascii(tris, tri_f))
    save("mesh", "cube_le.ply", ply_bin(cube_v, cube_f, False))
    save("mesh", "cube_be.ply", ply_bin(cube_v, cube_f, True))
    save("mesh", "cloud.ply", ply_ascii([(i * 0.1, (i * 7 % 5) * 0.2, (i * 3 % 4) * 0.3) for i in range(12)], [],
                                        extra=False))
    save("mesh", "cube.off", "OFF\n# a cube\n8 6 12\n" + "".join("%g %g %g\n" % p for p in cube_v) +
         "".join("4 %d %d %d %d\n" % q for q in cube_f))
    save("mesh", "tetra.coff", "COFF\n4 4\n" + "".join("%g %g %g 255 0 0 255\n" % p for p in tris) +
         "".join("3 %d %d %d\n" % t for t in tri_f))

    def normal(a, b, c):
        u = [b[i] - a[i] for i in range(3)]
        w = [c[i] - a[i] for i in range(3)]
        return (u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0])

    lines = ["solid tetra"]
    for t in tri_f:
        a, b, c = (tris[i] for i in t)
        lines += ["  facet normal %g %g %g" % normal(a, b, c), "    outer loop"]
        lines += ["      vertex %g %g %g" % p for p in (a, b, c)]
        lines += ["    endloop", "  endfacet"]
    lines.append("endsolid tetra")
    save("mesh", "tetra_ascii.stl", "\n".join(lines) + "\n")
    b = b"binary STL made by make_seeds.py".ljust(80, b"\0") + struct.pack("<I", len(tri_f))
    for t in tri_f:
        a, bb, c = (tris[i] for i in t)
        b += struct.pack("<12fH", *normal(a, bb, c), *a, *bb, *c, 0)
    save("mesh", "tetra_bin.stl", b)
    obj = ["# cube", "mtllib cube.mtl", "o cube", "g sides"]
    obj += ["v %g %g %g" % p for p in cube_v] + ["vt 0 0", "vt 1 0", "vt 1 1", "vt 0 1"] + ["vn 0 0 1"]
    obj.append("usemtl red")
    for q in cube_f[:3]:
        obj.append("f " + " ".join("%d/%d/1" % (i + 1, k + 1) for k, i in enumerate(q)))
    obj.append("s off")
    for q in cube_f[3:]:
        obj.append("f " + " ".join(str(i - 8) for i in q))
    save("mesh", "cube.obj", "\n".join(obj) + "\n")

    def gltf_parts(quad):
        pos = [(0, 0, 0), (1, 0, 0), (0, 1, 0)] + ([(1, 1, 0)] if quad else [])
        idx = [0, 1, 2] + ([2, 1, 3] if quad else [])
        vb = b"".join(struct.pack("<3f", *p) for p in pos)
        ib = struct.pack("<%dH" % len(idx), *idx)
        ib += b"\0" * (-len(ib) % 4)
        buf = vb + ib
        doc = {"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}],
               "nodes": [{"children": [1], "translation": [0.5, 0, 0]}, {"mesh": 0, "scale": [2, 2, 2]}],
               "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1, "mode": 4}]}],
               "accessors": [{"bufferView": 0, "componentType": 5126, "count": len(pos), "type": "VEC3",
                              "min": [0, 0, 0], "max": [1, 1, 0]},
                             {"bufferView": 1, "componentType": 5123, "count": len(idx), "type": "SCALAR"}],
               "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(vb), "target": 34962},
                               {"buffer": 0, "byteOffset": len(vb), "byteLength": len(idx) * 2, "target": 34963}],
               "buffers": [{"byteLength": len(buf)}]}
        return doc, buf

    doc, buf = gltf_parts(False)
    js = json.dumps(doc, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    glb = struct.pack("<I4s", len(js), b"JSON") + js + struct.pack("<I4s", len(buf), b"BIN\0") + buf
    save("mesh", "triangle.glb", b"glTF" + struct.pack("<II", 2, 12 + len(glb)) + glb)
    import base64
    doc, buf = gltf_parts(True)
    doc["buffers"][0]["uri"] = "data:application/octet-stream;base64," + base64.b64encode(buf).decode()
    save("mesh", "quad.gltf", json.dumps(doc, indent=1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--omnidex", default=os.path.join(TOP, "build", "rel", "omnidex"))
    ap.add_argument("--only", help="comma-separated targets to regenerate (default: all)")
    a = ap.parse_args()
    gens = [("filter", filters), ("meta", metas), ("rpc", rpcs), ("safetensors", safetensors),
            ("tokenizer", tokenizer), ("image", images),
            ("index", lambda: checkpoints(os.path.abspath(a.omnidex))),
            ("audio", audio), ("video", video), ("mesh", meshes)]
    only = set(a.only.split(",")) if a.only else None
    for name, gen in gens:
        if only is None or name in only:
            gen()
    for t in sorted(os.listdir(OUT)):
        print("%-12s %d seeds" % (t, len(os.listdir(os.path.join(OUT, t)))))


if __name__ == "__main__":
    main()
