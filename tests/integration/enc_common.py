"""Shared helpers for the encoder integration tests (TAP output, enc-tool)."""
import os
import subprocess
import sys

TOP = os.environ.get("OMNIDEX_TOP", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("OMNIDEX_BUILD", "build/rel")
if not os.path.isabs(BUILD):
    BUILD = os.path.join(TOP, BUILD)
TOOL = os.path.join(BUILD, "enc-tool")
sys.path.insert(0, os.path.join(TOP, "tools"))

failed = 0

MEAN = [0.48145466, 0.4578275, 0.40821073]  # CLIP's image_mean / image_std defaults
STD = [0.26862954, 0.26130258, 0.27577711]


def hf_preprocess(path, edge=224, crop=224, mean=MEAN, std=STD):
    """CLIPImageProcessor's steps, written out (transformers is not in Debian)."""
    import numpy as np
    from PIL import Image, ImageOps
    im = ImageOps.exif_transpose(Image.open(path))
    im = im.convert("RGB")
    w, h = im.size
    short, long = (w, h) if w <= h else (h, w)
    nl = int(edge * long / short)
    size = (edge, nl) if w <= h else (nl, edge)
    if size != im.size:
        im = im.resize(size, resample=Image.BICUBIC)
    a = np.array(im)
    hh, ww = a.shape[:2]
    top, left = (hh - crop) // 2, (ww - crop) // 2
    a = a[top:top + crop, left:left + crop]
    f = (a.astype(np.float64) * (1 / 255)).astype(np.float32)
    f = (f - np.array(mean, dtype=np.float32)) / np.array(std, dtype=np.float32)
    return f.transpose(2, 0, 1)


def report(name, ok, detail=""):
    global failed
    if detail:
        for line in str(detail).splitlines():
            print("# " + line)
    print(("ok - " if ok else "not ok - ") + name, flush=True)
    if not ok:
        failed += 1


def tool(*args, stdin=None, check=True):
    r = subprocess.run([TOOL] + [str(a) for a in args], input=stdin, capture_output=True)
    if check and r.returncode != 0:
        raise RuntimeError("enc-tool %s failed: %s" % (args[0], r.stderr.decode(errors="replace")))
    return r


def finish():
    sys.exit(1 if failed else 0)
