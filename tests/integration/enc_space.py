"""Spaces: a model directory with and without space.json, by path and by
name under $OMNIDEX_MODELS, embedding text and image payloads through
`enc-tool embed` (the JSON of `omnidex embed --json`), compared with the
Python tokenizer + PyTorch reference; and space.json errors."""
import json
import os
import shutil
import tempfile

import numpy as np
import torch
from PIL import Image
from skimage import data as skdata

from enc_common import TOP, report, tool, finish
import ref_clip
from ref_clip_tokenizer import ClipTokenizer


def embed(space, flag, arg, env=None, check=True):
    r = tool("embed", space, flag, arg, check=False) if env is None else None
    if env is not None:
        import subprocess
        from enc_common import TOOL
        r = subprocess.run([TOOL, "embed", space, flag, arg], capture_output=True, env=env)
    if check and r.returncode != 0:
        raise RuntimeError(r.stderr.decode())
    return r


def main():
    tmp = tempfile.mkdtemp(prefix="enc_space_")
    try:
        bpe = os.path.join(TOP, "tests", "fixtures", "encoders", "bpe")
        tok = ClipTokenizer(os.path.join(bpe, "vocab.json"), os.path.join(bpe, "merges.txt"))
        cfg = json.loads(json.dumps(ref_clip.TINY))
        cfg["text_config"].update(vocab_size=len(tok.vocab), bos_token_id=tok.bos, eos_token_id=tok.eos)
        models = os.path.join(tmp, "models")
        d = os.path.join(models, "tiny-clip")
        w = ref_clip.write_model(d, cfg, seed=21)
        for f in ("vocab.json", "merges.txt"):
            shutil.copy(os.path.join(bpe, f), d)
        json.dump({"size": {"shortest_edge": 32}, "crop_size": {"height": 32, "width": 32}},
                  open(os.path.join(d, "preprocessor_config.json"), "w"))
        text = "a photo of a cat"
        ids = tok.encode(text)
        ref_t = ref_clip.text_features(cfg, w, torch.tensor([ids])).numpy()[0]
        r = embed(d, "--text", text)
        out = json.loads(r.stdout)
        ok = out["modality"] == "text" and out["dim"] == 24 and len(out["vector"]) == 24
        diff = float(np.abs(np.array(out["vector"]) - ref_t).max())
        report(f"space without space.json: text embedding JSON matches the reference (max abs diff {diff:.1e})",
               ok and diff <= 1e-4)
        img = os.path.join(tmp, "cat.png")
        Image.fromarray(skdata.chelsea()).save(img)
        im = Image.open(img).convert("RGB")
        iw, ih = im.size
        im = im.resize((int(32 * iw / ih), 32), Image.BICUBIC)
        a = np.array(im)
        left = (a.shape[1] - 32) // 2
        a = (a[:, left:left + 32].astype(np.float64) * (1 / 255)).astype(np.float32)
        mean = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
        std = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
        px = torch.from_numpy(((a - mean) / std).transpose(2, 0, 1)[None].copy())
        ref_i = ref_clip.image_features(cfg, w, px).numpy()[0]
        env = dict(os.environ, OMNIDEX_MODELS=models)
        r = embed("tiny-clip", "--image", img, env=env)
        out = json.loads(r.stdout)
        diff = float(np.abs(np.array(out["vector"]) - ref_i).max())
        report(f"space by name under $OMNIDEX_MODELS: image embedding matches (max abs diff {diff:.1e})",
               out["modality"] == "image" and diff <= 1e-4)
        # space.json limiting the space to text.
        json.dump({"format": 1, "name": "tiny-text-only", "family": "clip", "dim": 24, "metric": "cosine",
                   "modalities": ["text"], "model": "."}, open(os.path.join(d, "space.json"), "w"))
        r = embed(d, "--image", img, check=False)
        report("space.json without image: image embedding refused (EPRECOND)",
               r.returncode != 0 and b"no image encoder" in r.stderr, r.stderr.decode())
        r = embed(d, "--text", text)
        report("space.json text-only: text still embeds", json.loads(r.stdout)["dim"] == 24)
        for bad, needle in (({"format": 2}, "format 2"), ({"dim": 512}, "dim 512"),
                            ({"family": "imagebind"}, "family"), ({"modalities": ["smell"]}, "smell"),
                            ({"model": "missing"}, "config.json")):
            sj = {"format": 1, "family": "clip", "model": "."}
            sj.update(bad)
            json.dump(sj, open(os.path.join(d, "space.json"), "w"))
            r = embed(d, "--text", text, check=False)
            report(f"bad space.json ({bad}) refused with a clear error", r.returncode != 0 and needle.encode() in r.stderr,
                   r.stderr.decode())
        r = embed(os.path.join(tmp, "nothing") + "/", "--text", text, check=False)
        report("directory with no model refused", r.returncode != 0 and b"neither" in r.stderr, r.stderr.decode())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


main()
