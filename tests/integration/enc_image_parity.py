"""Image decoding + CLIP preprocessing in C vs the Hugging Face path in
Python (PIL decode, ImageOps.exif_transpose, convert("RGB"), PIL bicubic
resize of the shortest edge, HF's centre crop, rescale, normalise), on
python3-skimage's real photos saved in every supported format and colour
layout. Tolerance: 1e-5 max abs difference of the normalised tensor, i.e.
identical 8-bit pixels after resizing (one 8-bit step is 1/255/0.26 = 0.015
here, so any pixel difference fails). Also: decompression bombs refused by
the pixel limit, corrupt files refused, and whole images through a tiny
model vs PyTorch."""
import io
import json
import os
import shutil
import struct
import tempfile
import zlib

import numpy as np
import torch
from PIL import Image, ImageOps
from skimage import data as skdata

from enc_common import report, tool, finish, hf_preprocess
import ref_clip

TOL = 1e-5
def samples(tmp):
    """(name, path) of real photos in many encodings."""
    out = []
    photos = {"astronaut": skdata.astronaut(), "coffee": skdata.coffee(), "chelsea": skdata.chelsea(),
              "rocket": skdata.rocket(), "camera": skdata.camera(), "coins": skdata.coins()}
    for name, a in photos.items():
        im = Image.fromarray(a)
        if name == "astronaut":
            im = im.crop((3, 10, 3 + 301, 10 + 457))   # odd, portrait: exercises crop rounding
        if name == "coffee":
            im = im.resize((1000, 667), Image.BICUBIC)  # large downscale
        if name == "coins":
            im = im.crop((0, 0, 150, 120))             # upscale (smaller than 224)
        for fmt, ext, kw in (("JPEG", "jpg", {"quality": 90}), ("PNG", "png", {}), ("WEBP", "webp", {"quality": 80}),
                             ("BMP", "bmp", {}), ("GIF", "gif", {})):
            if fmt == "BMP" and name not in ("chelsea", "camera"):
                continue
            p = os.path.join(tmp, f"{name}.{ext}")
            im.save(p, fmt, **kw)
            out.append((f"{name}.{ext} ({im.mode})", p))
    ch = Image.fromarray(photos["chelsea"])
    p = os.path.join(tmp, "chelsea_rgba.png")
    rgba = ch.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(ch.size))
    rgba.save(p)
    out.append(("chelsea RGBA png (alpha dropped)", p))
    p = os.path.join(tmp, "chelsea_palette.png")
    ch.convert("P", palette=Image.ADAPTIVE, colors=64).save(p)
    out.append(("chelsea palette png", p))
    p = os.path.join(tmp, "chelsea_palette_trns.png")
    # A palette with a tRNS chunk (what pngquant writes): alpha per entry.
    ch.convert("P", palette=Image.ADAPTIVE, colors=64).save(p, transparency=bytes((i * 4) % 256 for i in range(64)))
    out.append(("chelsea palette png with transparency (alpha dropped)", p))
    p = os.path.join(tmp, "rocket_16bit.png")
    a16 = photos["rocket"].astype(np.uint16) * 257
    # 16-bit RGB PNG written by hand (PIL cannot write 16-bit RGB).
    hgt, wid = a16.shape[:2]
    raw = b"".join(b"\0" + a16[y].astype(">u2").tobytes() for y in range(hgt))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", wid, hgt, 16, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    open(p, "wb").write(png)
    out.append(("rocket 16-bit RGB png", p))
    p = os.path.join(tmp, "chelsea_cmyk.jpg")
    ch.convert("CMYK").save(p, "JPEG", quality=95)
    out.append(("chelsea CMYK jpeg", p))
    for o in range(2, 9):
        p = os.path.join(tmp, f"astronaut_exif{o}.jpg")
        ex = Image.Exif()
        ex[0x0112] = o
        Image.fromarray(photos["astronaut"]).crop((0, 0, 400, 300)).save(p, "JPEG", quality=90, exif=ex.tobytes())
        out.append((f"astronaut jpeg with EXIF orientation {o}", p))
    return out


def bombs_and_corrupt(tmp):
    small = os.path.join(tmp, "small.png")
    Image.new("RGB", (8, 8), (1, 2, 3)).save(small)
    b = bytearray(open(small, "rb").read())
    b[16:24] = struct.pack(">II", 50000, 50000)          # IHDR width/height: 2.5e9 pixels
    b[29:33] = struct.pack(">I", zlib.crc32(bytes(b[12:29])) & 0xffffffff)
    bomb_png = os.path.join(tmp, "bomb.png")
    open(bomb_png, "wb").write(bytes(b))
    sj = io.BytesIO()
    Image.new("RGB", (8, 8)).save(sj, "JPEG")
    j = bytearray(sj.getvalue())
    i = j.find(b"\xff\xc0")
    j[i + 5:i + 9] = struct.pack(">HH", 60000, 60000)   # SOF0 height/width
    bomb_jpg = os.path.join(tmp, "bomb.jpg")
    open(bomb_jpg, "wb").write(bytes(j))
    sg = io.BytesIO()
    Image.new("P", (8, 8)).save(sg, "GIF")
    g = bytearray(sg.getvalue())
    g[6:10] = struct.pack("<HH", 65535, 65535)
    bomb_gif = os.path.join(tmp, "bomb.gif")
    open(bomb_gif, "wb").write(bytes(g))
    for name, p in (("png", bomb_png), ("jpeg", bomb_jpg), ("gif", bomb_gif)):
        r = tool("preprocess", "-", p, os.path.join(tmp, "o.bin"), check=False)
        err = r.stderr.decode()
        report(f"decompression bomb ({name}) refused by the pixel limit", r.returncode != 0 and "over the limit" in err, err)
    full = open(os.path.join(tmp, "chelsea.jpg"), "rb").read()
    cases = {"truncated jpeg": full[: len(full) // 2], "garbage": os.urandom(5000), "empty": b"",
             "truncated png": open(os.path.join(tmp, "chelsea.png"), "rb").read()[:3000],
             "truncated webp": open(os.path.join(tmp, "chelsea.webp"), "rb").read()[:500],
             "truncated gif": open(os.path.join(tmp, "chelsea.gif"), "rb").read()[:800]}
    for name, blob in cases.items():
        p = os.path.join(tmp, "bad.bin")
        open(p, "wb").write(blob)
        r = tool("preprocess", "-", p, os.path.join(tmp, "o.bin"), check=False)
        err = r.stderr.decode()
        report(f"corrupt image ({name}) refused", r.returncode != 0 and "media" in err, err)


def main():
    tmp = tempfile.mkdtemp(prefix="enc_img_")
    try:
        worst = 0.0
        items = samples(tmp)
        for name, p in items:
            ref = hf_preprocess(p)
            r = tool("preprocess", "-", p, os.path.join(tmp, "o.bin"), check=False)
            if r.returncode != 0:
                report(f"preprocess {name} matches PIL/HF", False, r.stderr.decode())
                continue
            got = np.fromfile(os.path.join(tmp, "o.bin"), dtype=np.float32).reshape(ref.shape)
            diff = float(np.abs(got - ref).max())
            worst = max(worst, diff)
            report(f"preprocess {name} matches PIL/HF (max abs diff {diff:.2e} <= {TOL})", diff <= TOL)
        print(f"# worst preprocessing difference over {len(items)} images: {worst:.3e}")
        # A non-default preprocessor_config.json (shortest edge 256, crop 240x200, bilinear, other mean/std).
        cfgp = os.path.join(tmp, "pre.json")
        json.dump({"do_resize": True, "size": {"shortest_edge": 256}, "resample": 2, "do_center_crop": True,
                   "crop_size": {"height": 240, "width": 200}, "do_rescale": True, "rescale_factor": 1 / 255,
                   "do_normalize": True, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}, open(cfgp, "w"))
        p = os.path.join(tmp, "coffee.png")
        im = Image.open(p).convert("RGB")
        w, h = im.size
        im = im.resize((int(256 * w / h), 256), Image.BILINEAR)
        a = np.array(im)
        top, left = (256 - 240) // 2, (a.shape[1] - 200) // 2
        a = a[top:top + 240, left:left + 200]
        ref = (((a.astype(np.float64) * (1 / 255)).astype(np.float32) - 0.5) / 0.5).transpose(2, 0, 1)
        tool("preprocess", cfgp, p, os.path.join(tmp, "o.bin"))
        got = np.fromfile(os.path.join(tmp, "o.bin"), dtype=np.float32).reshape(ref.shape)
        diff = float(np.abs(got - ref).max())
        report(f"preprocessor_config.json (256 bilinear, crop 240x200) matches (max abs diff {diff:.2e})", diff <= TOL)
        bombs_and_corrupt(tmp)
        # Whole images through a tiny model: files -> C decode/preprocess/tower vs PIL + PyTorch.
        d = os.path.join(tmp, "model")
        w = ref_clip.write_model(d, ref_clip.TINY, seed=2)
        json.dump({"size": {"shortest_edge": 32}, "crop_size": {"height": 32, "width": 32}, "resample": 3},
                  open(os.path.join(d, "preprocessor_config.json"), "w"))
        files = [os.path.join(tmp, f) for f in ("chelsea.jpg", "camera.png", "rocket.webp")]
        px = torch.from_numpy(np.stack([hf_preprocess(f, 32, 32) for f in files]))
        ref = ref_clip.image_features(ref_clip.TINY, w, px).numpy()
        tool("images", d, os.path.join(tmp, "o.bin"), *files)
        got = np.fromfile(os.path.join(tmp, "o.bin"), dtype=np.float32).reshape(ref.shape)
        diff = float(np.abs(got - ref).max())
        report(f"image files through a tiny model match PIL + PyTorch (max abs diff {diff:.2e} <= 1e-4)", diff <= 1e-4)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


main()
