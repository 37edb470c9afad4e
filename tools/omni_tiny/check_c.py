"""Checks that the C engine embeds with omni-tiny what the PyTorch references
compute from the same weights: captions (enc-tool texts), test PNGs and
112 x 112 video frames (enc-tool images, through the C preprocessor), WAV
files (audio-tool embed) and mesh files in every format the demo writes
(mesh-tool embed). Prints the max abs difference per path; exit 1 when one
exceeds 1e-4 (the encoders' parity bar).

  /usr/bin/python3 tools/omni_tiny/check_c.py BUILD_DIR [MODEL_DIR]
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
import data  # noqa: E402
import ref_audio  # noqa: E402
import ref_clip  # noqa: E402
import ref_point  # noqa: E402
import safetensors_io  # noqa: E402
from ref_clip_tokenizer import ClipTokenizer  # noqa: E402

TOL = 1e-4


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("OMNIDEX_BUILD", "build/rel")
    model = sys.argv[2] if len(sys.argv) > 2 else os.path.join(data.TOP, "models", "omni-tiny")
    torch.set_num_threads(2)
    cfg = json.load(open(os.path.join(model, "config.json")))
    pre = json.load(open(os.path.join(model, "preprocessor_config.json")))
    w = safetensors_io.load(os.path.join(model, "model.safetensors"))
    tok = ClipTokenizer(os.path.join(model, "vocab.json"), os.path.join(model, "merges.txt"))
    ctx = cfg["text_config"]["max_position_embeddings"]
    fails = 0
    tmp = tempfile.mkdtemp(prefix="omni-check-")

    def report(name, a, b):
        nonlocal fails
        d = float(np.abs(np.asarray(a) - np.asarray(b)).max())
        ok = d <= TOL
        fails += not ok
        print(f"{'ok' if ok else 'not ok'} - {name}: {len(a)} embeddings, max abs diff {d:.2e}")

    # Text: held-out captions of both domains.
    texts = [data.caption(t, syn[0]) for t, syn in zip(data.FASHION_TEMPLATES_HELDOUT * 2, data.FASHION_SYNONYMS)]
    texts += [data.caption(t, syn[1]) for t, syn in zip(data.SHAPE_TEMPLATES_HELDOUT * 2, data.SHAPE_SYNONYMS)]
    out = os.path.join(tmp, "t.bin")
    subprocess.run([os.path.join(build, "enc-tool"), "texts", model, out], input="\n".join(texts) + "\n",
                   text=True, check=True)
    c_txt = np.fromfile(out, np.float32).reshape(len(texts), -1)
    py_txt = torch.cat([ref_clip.text_features(cfg, w, torch.tensor([tok.encode(t, ctx)])) for t in texts])
    report("text (enc-tool texts)", c_txt, py_txt.numpy())

    # Images: test PNGs (28 x 28 grey) and video-sized frames (112 x 112).
    x, _ = data.load_fashion("test")
    files, pix = [], []
    mean = torch.tensor(pre["image_mean"]).view(3, 1, 1)
    std = torch.tensor(pre["image_std"]).view(3, 1, 1)
    s = pre["size"]["shortest_edge"]
    for i in range(8):
        img = Image.fromarray(x[i * 997])
        if i % 2:
            img = Image.fromarray(data.video_frames(x[i * 997], seed=i)[i])
        p = os.path.join(tmp, f"img{i}.png")
        img.save(p)
        files.append(p)
        rgb = Image.open(p).convert("RGB").resize((s, s), Image.BICUBIC)  # square: resize, crop is a no-op
        t = torch.from_numpy(np.asarray(rgb, np.float32).copy()).permute(2, 0, 1) * pre["rescale_factor"]
        pix.append((t - mean) / std)
    out = os.path.join(tmp, "i.bin")
    subprocess.run([os.path.join(build, "enc-tool"), "images", model, out] + files, check=True)
    c_img = np.fromfile(out, np.float32).reshape(len(files), -1)
    py_img = ref_clip.image_features(cfg, w, torch.stack(pix))
    report("image + video frames (enc-tool images)", c_img, py_img.numpy())

    # Audio: 16 kHz WAVs of held-out voices (one longer than a clip).
    tool = os.path.join(build, "audio-tool")
    if os.path.exists(tool):
        _, held = data.voice_split()
        items = data.speech_items(5, held, data.SPEECH_TEMPLATES_HELDOUT, seed=5)
        items[0]["text"] = "i am looking for a pair of trousers and a long evening dress please"
        c_a, py_a = [], []
        for k, it in enumerate(items):
            p = os.path.join(tmp, f"a{k}.wav")
            data.write_wav(p, data.render_speech(it))
            r = subprocess.run([tool, "embed", model, p], check=True, capture_output=True, text=True)
            c_a.append(json.loads(r.stdout)["vector"])
            wave, _sr = data.read_wav(p)
            with torch.no_grad():
                py_a.append(ref_audio.embed_wave(cfg["audio_config"], w, torch.from_numpy(wave)).numpy())
        report("audio (audio-tool embed, WAV)", np.array(c_a), np.array(py_a))
    else:
        print("# audio-tool not built: audio not checked")

    # 3D: one file per format the demo writes.
    tool = os.path.join(build, "mesh-tool")
    if os.path.exists(tool):
        files, py_m = [], []
        pc = cfg["point_config"]
        for k in range(8):
            v, f = data.random_shape(k, 123 + k)
            fmt = ["ply", "bply", "obj", "stl"][k % 4]
            p = os.path.join(tmp, f"m{k}.{'ply' if fmt == 'bply' else fmt}")
            if fmt == "bply":
                data.write_ply(p, v, f, binary=True)
            else:
                data.write_mesh(p, v, f)
            files.append(p)
            v32 = np.asarray(v, np.float32)
            if fmt == "stl":  # a triangle soup: three fresh vertices per face
                v32, f = v32[np.asarray(f)].reshape(-1, 3), np.arange(3 * len(f)).reshape(-1, 3)
            centres, neigh = ref_point.mesh_inputs(v32, f, pc)
            with torch.no_grad():
                py_m.append(ref_point.point_features(pc, w, centres, neigh)[0].numpy())
        r = subprocess.run([tool, "embed", model] + files, check=True, capture_output=True, text=True)
        c_m = [json.loads(ln) for ln in r.stdout.split("\n") if ln.strip()]
        c_m = [m["vector"] if isinstance(m, dict) else m for m in c_m]
        report("3d (mesh-tool embed, PLY ascii/binary, OBJ, STL)", np.array(c_m), np.array(py_m))
    else:
        print("# mesh-tool not built: 3d not checked")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
