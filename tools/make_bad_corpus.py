#!/usr/bin/env python3
"""Writes the hostile input corpus tests/fixtures/bad/ (deterministic: same
bytes on every run). Every file's name says what a correct omnidex must do
with it, and tests/integration/rel_hostile.py checks exactly that:

  refuse_*   must be refused with a clear error (CLI: exit 1 and one line
             "omnidex: error: ..."; gRPC: a client-fault status + message)
  any_*      may be accepted or refused (e.g. a JPEG cut inside its
             entropy-coded data still decodes), but never crash or hang

Directories: media/ (images, audio, video, meshes, empty files, bombs),
vectors/ (jsonl and fvecs for `put`, and the same rows for gRPC Upsert),
text/ (payloads for text items), filters/ (filter expressions), proto/
(raw request bytes for the wire; the name says which method), safetensors/
(model files installed into a copy of a working space).

Run with /usr/bin/python3 (PIL from Debian): tools/make_bad_corpus.py"""
import io
import json
import os
import random
import shutil
import struct
import sys
import zlib

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(TOP, "tests", "fixtures", "bad")
rnd = random.Random(20261128)
count = 0


def save(sub, name, data):
    global count
    d = os.path.join(OUT, sub)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    count += 1


def flip(data, n, start=0):
    b = bytearray(data)
    for _ in range(n):
        i = rnd.randrange(start, len(b))
        b[i] ^= 1 << rnd.randrange(8)
    return bytes(b)


# ---- images -----------------------------------------------------------------
def images():
    from PIL import Image
    img = Image.new("RGB", (48, 40))
    img.putdata([((x * 5) % 256, (y * 6) % 256, ((x + y) * 3) % 256) for y in range(40) for x in range(48)])
    encoded = {}
    for fmt, ext, kw in [("JPEG", "jpg", {"quality": 85}), ("PNG", "png", {}), ("WEBP", "webp", {"quality": 80}),
                         ("GIF", "gif", {}), ("BMP", "bmp", {})]:
        b = io.BytesIO()
        img.save(b, fmt, **kw)
        encoded[ext] = b.getvalue()
    for ext, data in encoded.items():
        n = len(data)
        # Cut inside the header: nothing decodable remains.
        for cut in (4, 12, 20, 30):
            # "GIF8" and "RIFF" alone are plain text to `ingest`'s sniffer.
            kind = "any" if cut == 4 and ext in ("gif", "webp") else "refuse"
            save("media", "%s_%s_cut%d.%s" % (kind, ext, cut, ext), data[:cut])
        # Cut inside the data.
        for frac in (0.3, 0.5, 0.8, 0.95):
            save("media", "any_%s_cut%02d.%s" % (ext, int(frac * 100), ext), data[:int(n * frac)])
        # Flipped bits past the magic.
        for i in range(4):
            save("media", "any_%s_flip%d.%s" % (ext, i, ext), flip(data, 1 + 4 * i, start=8))
        # The magic, then garbage.
        magic = data[:12] if ext == "webp" else data[:8]
        save("media", "refuse_%s_garbage.%s" % (ext, ext), magic + bytes(rnd.randrange(256) for _ in range(300)))
    bombs()


def png_chunk(typ, body):
    return struct.pack(">I", len(body)) + typ + body + struct.pack(">I", zlib.crc32(typ + body) & 0xffffffff)


def bombs():
    # PNG declaring 100000 x 100000 (valid CRCs, a tiny IDAT).
    for w, h, tag in [(100000, 100000, "100k"), (1 << 30, 1, "wide"), (20000, 20000, "400mp")]:
        ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
        save("media", "refuse_bomb_png_%s.png" % tag, b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
             png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b""))
    # GIF with a 65535 x 65535 screen and image.
    gif = b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x80\x00\x00" + b"\0\0\0\xff\xff\xff" + \
        b"," + struct.pack("<HHHH", 0, 0, 65535, 65535) + b"\x00" + b"\x02\x02\x44\x01\x00" + b";"
    save("media", "refuse_bomb_gif_64k.gif", gif)
    # JPEG: SOI, a baseline SOF0 of 65500 x 65500, then EOI.
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, 65500, 65500, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    save("media", "refuse_bomb_jpeg_65k.jpg", b"\xff\xd8" + sof + b"\xff\xd9")
    # WebP VP8X canvas 16384 x 16384 with no image data.
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (16383).to_bytes(3, "little") * 2
    save("media", "refuse_bomb_webp_vp8x.webp", b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x)
    # BMP of 100000 x 100000, 24-bit, no pixels.
    bmp = b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, 100000, 100000, 1, 24, 0, 0,
                                                                     2835, 2835, 0, 0)
    save("media", "refuse_bomb_bmp_100k.bmp", bmp)


# ---- audio, video, meshes ------------------------------------------------------
def wav(seconds=0.2, rate=8000, declared=None):
    n = int(seconds * rate)
    pcm = b"".join(struct.pack("<h", int(8000 * ((i * 7) % 50 - 25) / 25)) for i in range(n))
    size = declared if declared is not None else len(pcm)
    return b"RIFF" + struct.pack("<I", min(36 + size, 0xffffffff)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + \
        b"data" + struct.pack("<I", size) + pcm


def av_mesh():
    w = wav()
    save("media", "any_wav_ok.wav", w)  # a valid WAV: embedded where the space hears
    for cut in (10, 30, 44, len(w) // 2):
        save("media", "refuse_wav_cut%d.wav" % cut, w[:cut])
    save("media", "refuse_wav_bomb_duration.wav", wav(0.01, declared=0xfffffff0))
    save("media", "refuse_wav_zero_rate.wav", w[:24] + b"\0\0\0\0" + w[28:])
    for i in range(3):
        save("media", "any_wav_flip%d.wav" % i, flip(w, 6, start=12))
    mp3_frame = b"\xff\xfb\x90\x64" + bytes((i * 31) % 256 for i in range(413))
    mp3 = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\0" * 10 + mp3_frame * 4
    save("media", "any_mp3_ok.mp3", mp3)
    for cut in (3, 12, 30, 500):
        # cut after whole frames, an MP3 still decodes (as players do)
        save("media", ("any" if cut >= 500 else "refuse") + "_mp3_cut%d.mp3" % cut, mp3[:cut] if cut > 3 else b"ID3")
    save("media", "refuse_mp3_id3_huge.mp3", b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + b"\0" * 20)
    save("media", "any_mp3_bare_frames.mp3", mp3_frame * 3)
    streaminfo = struct.pack(">HH", 4096, 4096) + b"\0\0\0\0\0\0" + bytes([0x0a, 0xc4, 0x40, 0xf0]) + \
        b"\xff\xff\xff\xff" + b"\0" * 16
    flac = b"fLaC" + b"\x80" + (len(streaminfo)).to_bytes(3, "big") + streaminfo + b"\xff\xf8\x69\x08" + b"\0" * 64
    save("media", "any_flac_ok.flac", flac)
    for cut in (4, 8, 20, 42):
        save("media", "refuse_flac_cut%d.flac" % cut, flac[:cut])
    save("media", "refuse_flac_bomb_samples.flac", flac[:8 + 14] + b"\xff\xff\xff\xff" + flac[26:])

    def box(typ, body):
        return struct.pack(">I", 8 + len(body)) + typ + body
    mp4 = box(b"ftyp", b"isom\0\0\x02\0isomiso2mp41") + box(b"moov", box(b"mvhd", b"\0" * 100)) + box(b"mdat", b"\0" * 200)
    save("media", "refuse_mp4_ok.mp4", mp4)
    for cut in (8, 16, 40, 120):
        save("media", "refuse_mp4_cut%d.mp4" % cut, mp4[:cut])
    save("media", "refuse_mp4_box_huge.mp4", mp4[:32] + struct.pack(">I", 0xfffffff0) + b"moov" + b"\0" * 40)
    save("media", "refuse_mp4_box_zero.mp4", mp4[:32] + struct.pack(">I", 0) + b"moov")
    ebml = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm" + \
        b"\x42\x87\x81\x04\x42\x85\x81\x02"
    webm = ebml + b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff" + b"\x16\x54\xae\x6b\x80" * 10
    save("media", "refuse_webm_ok.webm", webm)
    for cut in (4, 10, 30, 60):
        save("media", "refuse_webm_cut%d.webm" % cut, webm[:cut])
    save("media", "refuse_webm_len_huge.webm", ebml[:4] + b"\x01\xff\xff\xff\xff\xff\xff\xfe" + b"\0" * 30)
    ply = "ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\nproperty float y\nproperty float z\n" \
          "element face 2\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 1 2\n3 0 2 3\n"
    save("media", "any_ply_ok.ply", ply)
    save("media", "refuse_ply_cut.ply", ply[:60])
    save("media", "refuse_ply_bomb_vertices.ply", ply.replace("element vertex 4", "element vertex 4000000000"))
    save("media", "refuse_ply_bad_index.ply", ply.replace("3 0 2 3", "3 0 2 99999"))
    save("media", "refuse_ply_binary_cut.ply", "ply\nformat binary_little_endian 1.0\nelement vertex 1000000\n"
         "property float x\nproperty float y\nproperty float z\nend_header\n" + "\0" * 12)
    # OBJ and ASCII STL are plain UTF-8 text: `ingest` sniffs them as text
    # (tests/RELIABILITY.md), so they may be stored as captions.
    obj = "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
    save("media", "any_obj_ok.obj", obj)
    save("media", "any_obj_bad_index.obj", obj + "f 1 2 99999\n")
    save("media", "any_obj_cut.obj", obj[:12])
    save("media", "any_obj_nan.obj", "v nan inf -inf\n" + obj)
    stl_ascii = "solid t\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\nendsolid t\n"
    save("media", "any_stl_ascii.stl", stl_ascii)
    save("media", "any_stl_ascii_cut.stl", stl_ascii[:40])
    tri = struct.pack("<12fH", 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0)
    stl = b"\0" * 80 + struct.pack("<I", 2) + tri * 2
    save("media", "any_stl_binary_ok.stl", stl)
    save("media", "refuse_stl_binary_bomb.stl", b"\0" * 80 + struct.pack("<I", 0xffffffff) + tri)
    save("media", "refuse_stl_binary_cut.stl", stl[:90])
    save("media", "refuse_empty.bin", b"")
    save("media", "refuse_empty.jpg", b"")
    save("media", "refuse_empty.wav", b"")
    save("media", "refuse_nul_bytes.bin", b"\0" * 64)
    save("media", "refuse_random.bin", bytes([0]) + bytes(rnd.randrange(256) for _ in range(511)))


# ---- vectors ------------------------------------------------------------------
DIM = 24  # the dimension of the tiny CLIP space (tools/ref_clip.py TINY)


def vectors():
    good = [round(0.1 + 0.01 * i, 3) for i in range(DIM)]

    def jl(name, rows):
        save("vectors", name, "".join(r + "\n" for r in rows))

    def row(v, id_="a", meta=None):
        return json.dumps({"id": id_, "vector": v, **({"metadata": meta} if meta else {})})
    bad_rows = {
        "nan": '{"id":"a","vector":[%s]}' % ",".join(["NaN"] + [str(x) for x in good[1:]]),
        "inf": '{"id":"a","vector":[%s]}' % ",".join(["Infinity"] + [str(x) for x in good[1:]]),
        "overflow": '{"id":"a","vector":[%s]}' % ",".join(["1e39"] + [str(x) for x in good[1:]]),
        "short": row(good[:-1]),
        "long": row(good + [0.5]),
        "empty_vec": row([]),
        "zero_dim": '{"id":"a","vector":0}',
        "string_elem": '{"id":"a","vector":[%s]}' % ",".join(['"x"'] + [str(x) for x in good[1:]]),
        "no_id": json.dumps({"vector": good}),
        "empty_id": row(good, id_=""),
        "long_id": row(good, id_="x" * 300),
        "nested": json.dumps({"id": "a", "vector": [good]}),
        "truncated": row(good)[:40],
        "not_json": "id=a vector=1,2,3",
        "bad_meta_key": row(good, meta={"bad key!": 1}),
        "meta_string_long": row(good, meta={"s": "y" * 500}),
        "meta_nested": row(good, meta={"o": {"x": 1}}),
    }
    for k, r in bad_rows.items():
        jl("refuse_%s.jsonl" % k, [row(good, id_="ok1"), r])
    jl("refuse_deep_json.jsonl", ['{"id":"a","vector":' + "[" * 5000 + "]" * 5000 + "}"])
    # Ids are "any bytes but NUL" (omnidex.h), so this one may be stored.
    save("vectors", "any_invalid_utf8_id.jsonl", b'{"id":"\xff\xfe","vector":[' + ",".join(str(x) for x in good).encode() + b"]}\n")

    def fv(name, rows, dims=None):
        b = b""
        for i, r in enumerate(rows):
            d = dims[i] if dims else len(r)
            b += struct.pack("<i", d) + struct.pack("<%df" % len(r), *r)
        save("vectors", name, b)
    fv("refuse_fvecs_nan.fvecs", [good, [float("nan")] + good[1:]])
    fv("refuse_fvecs_inf.fvecs", [good, [float("inf")] + good[1:]])
    fv("refuse_fvecs_wrong_dim.fvecs", [good[:8], good[:8]])
    fv("refuse_fvecs_negative_dim.fvecs", [good], dims=[-5])
    fv("refuse_fvecs_huge_dim.fvecs", [good], dims=[1 << 30])
    fv("refuse_fvecs_mixed_dims.fvecs", [good, good[:10]])
    save("vectors", "refuse_fvecs_truncated.fvecs", struct.pack("<i", DIM) + struct.pack("<10f", *good[:10]))
    save("vectors", "refuse_fvecs_empty_header.fvecs", b"\x18\x00")


# ---- text ---------------------------------------------------------------------
def texts():
    save("text", "refuse_invalid_utf8_ff.txt", b"a photo of \xff\xfe a cat")
    save("text", "refuse_invalid_utf8_overlong.txt", b"over\xc0\xaflong")
    save("text", "refuse_invalid_utf8_surrogate.txt", b"sur\xed\xa0\x80rogate")
    save("text", "refuse_invalid_utf8_truncated.txt", b"cut \xe6\x9d")
    save("text", "refuse_nul_inside.txt", b"a\0b")
    save("text", "refuse_oversized_1200k.txt", ("a photo of a cat " * 70000).encode())  # 1.2 MiB, over the 1 MiB text cap
    save("text", "refuse_empty.txt", b"")
    save("text", "any_long_line.txt", ("word " * 20000).encode())
    save("text", "any_control_chars.txt", bytes(range(1, 32)) + b"cat")
    save("text", "any_combining_marks.txt", ("e" + "\u0301" * 2000).encode())


# ---- filters ------------------------------------------------------------------
def filters():
    f = {
        "parens_65": "(" * 65 + "a = 1" + ")" * 65,
        "parens_1000": "(" * 1000 + "a = 1" + ")" * 1000,
        "parens_20000": "(" * 20000 + "a = 1" + ")" * 20000,
        "nots_100": "NOT " * 100 + "a = 1",
        "nots_10000": "NOT " * 10000 + "a = 1",
        "unbalanced_open": "(" * 10 + "a = 1",
        "unbalanced_close": "a = 1" + ")" * 10,
        "unterminated_string": 'label = "abc',
        "bad_escape": 'label = "\\q"',
        "bad_unicode_escape": 'label = "\\u12"',
        "missing_value": "price <",
        "missing_operator": "price 100",
        "trailing_and": "a = 1 AND",
        "leading_or": "OR a = 1",
        "empty": "",
        "blank": "   \t ",
        "bad_field": "bad field = 1",
        "field_too_long": "f" * 100 + " = 1",
        "in_empty": "a IN ()",
        "in_unclosed": "a IN (1, 2",
        "bool_range": "flag < true",
        "number_garbage": "a = 12abc",
        "huge_int": "a = 99999999999999999999999999",
        "terms_5000": " OR ".join("a = %d" % i for i in range(5000)),
        "in_5000": "a IN (" + ", ".join(str(i) for i in range(5000)) + ")",
        "double_op": "a == = 1",
        "just_not": "NOT",
    }
    for k, v in f.items():
        save("filters", "refuse_%s.txt" % k, v)
    save("filters", "refuse_invalid_utf8_field.txt", b"\xff\xfe = 1")


# ---- raw protobuf request bytes -------------------------------------------------
def varint(v):
    out = b""
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, wt, payload):
    if wt == 2:
        return varint(num << 3 | 2) + varint(len(payload)) + payload
    if wt == 0:
        return varint(num << 3) + varint(payload)
    return varint(num << 3 | wt) + payload


def protos():
    # The names carry the method: refuse_<Method>__<what>.bin
    vec = field(1, 2, struct.pack("<%df" % DIM, *([0.1] * DIM)))
    item_ok = field(1, 2, b"x") + field(3, 2, vec)
    cases = {
        "Upsert__truncated_varint": b"\x0a\x80\x80\x80",
        "Upsert__len_overrun": b"\x0a\xff\x01abc",
        "Upsert__len_huge": b"\x0a\xff\xff\xff\xff\x0f",
        "Upsert__bad_wire_type": b"\x0f\x01\x02",
        "Upsert__group_start": b"\x0b\x0c",
        "Upsert__field_zero": b"\x02\x01a",
        "Upsert__item_truncated": field(1, 2, b"c") + b"\x12\x20" + item_ok[:5],
        "Upsert__string_as_varint": field(1, 0, 7),
        "Upsert__invalid_utf8_collection": field(1, 2, b"\xff\xfe") + field(2, 2, item_ok),
        "Upsert__unknown_modality_99": field(1, 2, b"c") + field(2, 2, field(1, 2, b"m") + field(5, 2, field(1, 0, 99) + field(2, 2, b"\x89PNG"))),
        "Upsert__vector_odd_bytes": field(1, 2, b"c") + field(2, 2, field(1, 2, b"v") + field(3, 2, field(1, 2, b"\0\0\x80"))),
        "Upsert__empty": b"",
        "Upsert__random": bytes(rnd.randrange(256) for _ in range(200)),
        "Search__random": bytes(rnd.randrange(256) for _ in range(300)),
        "Search__deep_negate_200": None,
        "Search__deep_negate_5000": None,
        "Search__k_wrong_type": field(1, 2, b"c") + field(3, 2, b"xx"),
        "Search__unknown_op": field(1, 2, b"c") + field(2, 2, field(2, 2, vec)) + field(4, 2, field(1, 2, field(1, 2, b"a") + field(2, 0, 42))),
        "Search__unknown_target_modality": field(1, 2, b"c") + field(2, 2, field(2, 2, vec)) + field(5, 0, 77),
        "Search__empty_in_set": field(1, 2, b"c") + field(2, 2, field(2, 2, vec)) + field(4, 2, field(2, 2, field(1, 2, b"a"))),
        "Search__empty_all_of": field(1, 2, b"c") + field(2, 2, field(2, 2, vec)) + field(4, 2, field(3, 2, b"")),
        "Get__truncated": b"\x0a\x05ab",
        "Get__bad_wire_type": b"\x0e",
        "Delete__len_overrun": field(1, 2, b"c") + b"\x12\x7fabc",
        "CreateCollection__dim_zero": field(1, 2, b"x") + field(2, 0, 0),
        "CreateCollection__dim_huge": field(1, 2, b"x") + field(2, 0, 1 << 31),
        "CreateCollection__unknown_metric": field(1, 2, b"x") + field(2, 0, 4) + field(3, 0, 42),
        # (An IVF with 10^9 lists is not here: it takes the server down,
        # tests/fuzz/crashers/rpc_create_ivf_1e9_oom.bin, RELIABILITY.md.)
        "CreateCollection__bad_spec": field(1, 2, b"x") + field(2, 0, 4) + field(4, 2, b"HNSW-3,Nope"),
        "CreateCollection__pq_not_dividing": field(1, 2, b"x") + field(2, 0, 5) + field(4, 2, b"PQ4"),
        "CreateCollection__bad_name": field(1, 2, b"../../etc") + field(2, 0, 4),
        "DescribeCollection__overlong_varint": b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
    }
    for depth in (200, 5000):
        inner = field(1, 2, field(1, 2, b"a") + field(2, 0, 1) + field(3, 2, field(2, 0, 1)))
        for _ in range(depth):
            inner = field(5, 2, inner)
        cases["Search__deep_negate_%d" % depth] = field(1, 2, b"c") + field(2, 2, field(2, 2, vec)) + field(4, 2, inner)
    for k, v in cases.items():
        save("proto", "refuse_%s.bin" % k, v)


# ---- safetensors ----------------------------------------------------------------
def safetensors():
    def st(header, payload=b"", hlen=None):
        h = json.dumps(header, separators=(",", ":")).encode() if isinstance(header, dict) else header
        return struct.pack("<Q", len(h) if hlen is None else hlen) + h + payload
    t = {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}
    p16 = struct.pack("<4f", 1, 2, 3, 4)
    cases = {
        "header_len_lies_big": st({"a": t}, p16, hlen=1 << 40),
        "header_len_past_end": st({"a": t}, p16, hlen=200),
        "header_len_zero": st(b"", b""),
        "header_not_json": st(b"{nope", p16),
        "header_array": st(b"[1,2,3]", p16),
        "overlapping_offsets": st({"a": t, "b": {"dtype": "F32", "shape": [2, 2], "data_offsets": [8, 24]}}, p16 * 2),
        "offsets_past_end": st({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 1600]}}, p16),
        "offsets_reversed": st({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [16, 0]}}, p16),
        "shape_mismatch": st({"a": {"dtype": "F32", "shape": [3, 3], "data_offsets": [0, 16]}}, p16),
        "shape_overflow": st({"a": {"dtype": "F32", "shape": [1 << 62, 4], "data_offsets": [0, 16]}}, p16),
        "negative_dim": st({"a": {"dtype": "F32", "shape": [-1, 4], "data_offsets": [0, 16]}}, p16),
        "wrong_dtype": st({"a": {"dtype": "Q4_K", "shape": [2, 2], "data_offsets": [0, 16]}}, p16),
        "dtype_not_string": st({"a": {"dtype": 7, "shape": [2, 2], "data_offsets": [0, 16]}}, p16),
        "truncated_file": st({"a": t}, p16)[:20],
        "empty_file": b"",
        "seven_bytes": b"\x10\0\0\0\0\0\0",
    }
    for k, v in cases.items():
        save("safetensors", "refuse_%s.safetensors" % k, v)


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    images()
    av_mesh()
    vectors()
    texts()
    filters()
    protos()
    safetensors()
    print("%d files in %s" % (count, os.path.relpath(OUT, TOP)))
    for sub in sorted(os.listdir(OUT)):
        print("  %-12s %d" % (sub, len(os.listdir(os.path.join(OUT, sub)))))


if __name__ == "__main__":
    sys.exit(main())
