"""Writes the omni-tiny demo corpus from HELD-OUT data only, as real files:

  images/   Fashion-MNIST test images (PNG)
  audio/    spoken captions by espeak-ng voices never heard in training
            (16 kHz WAV, every fourth one MP3 through ffmpeg)
  video/    2 s, 10 fps, 112 x 112 clips of test images slowly panning and
            zooming (H.264 MP4, every fourth one VP9 WebM), via ffmpeg
  meshes/   generated shapes with seeds training never used (PLY ascii,
            PLY binary, OBJ, STL in turn)
  queries/  query media (held-out items that are not in the corpus)
  manifest.jsonl  one line per corpus file: path, modality, label, class_name
  queries.jsonl   one line per query: pair, parts, label, target_modality

Labels: 0..9 the Fashion-MNIST classes, 10..19 the shape classes. Paths are
relative to OUTDIR.

  /usr/bin/python3 tools/omni_tiny/demo_corpus.py OUTDIR [--per-class N] [--small]
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402

N_FASHION = len(data.FASHION_CLASSES)


def class_name(label):
    return data.FASHION_CLASSES[label] if label < N_FASHION else data.SHAPE_CLASSES[label - N_FASHION]


def ffmpeg(args):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"] + args, check=True,
                   stdin=subprocess.DEVNULL)


def write_video(path, frames, fps=10):
    """Grey uint8 frames -> H.264 MP4 or VP9 WebM by extension."""
    h, w = frames[0].shape
    codec = ["-c:v", "libvpx-vp9", "-b:v", "200k", "-deadline", "realtime", "-cpu-used", "8"] \
        if path.endswith(".webm") else ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20"]
    p = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo",
                          "-pix_fmt", "gray", "-s", f"{w}x{h}", "-r", str(fps), "-i", "-"] + codec +
                         ["-pix_fmt", "yuv420p", "-threads", "1", path], stdin=subprocess.PIPE)
    p.communicate(np.stack(frames).astype(np.uint8).tobytes())
    if p.returncode:
        raise RuntimeError(f"ffmpeg failed for {path}")


def write_audio(path, wave):
    """16 kHz WAV, or MP3 (ffmpeg + LAME) for .mp3."""
    if path.endswith(".wav"):
        data.write_wav(path, wave)
        return
    with tempfile.TemporaryDirectory() as d:
        tmp = os.path.join(d, "a.wav")
        data.write_wav(tmp, wave)
        ffmpeg(["-i", tmp, "-c:a", "libmp3lame", "-b:a", "64k", path])


def held_out_text(rng, label):
    if label < N_FASHION:
        t, syn = data.FASHION_TEMPLATES_HELDOUT, data.FASHION_SYNONYMS[label]
    else:
        t, syn = data.SHAPE_TEMPLATES_HELDOUT, data.SHAPE_SYNONYMS[label - N_FASHION]
    return data.caption(rng.choice(t), rng.choice(syn))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--per-class", type=int, default=100, help="images per class (other media scale with it)")
    ap.add_argument("--queries", type=int, default=100, help="queries per pair")
    ap.add_argument("--small", action="store_true", help="a bounded sample for make test")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if args.small:
        args.per_class, args.queries = 4, 5
    n_img = args.per_class
    n_aud = max(2, args.per_class // 4)
    n_vid = max(1, args.per_class * 3 // 20)
    n_mesh = max(2, args.per_class // 5)
    nq = args.queries
    out = args.outdir
    for d in ("images", "audio", "video", "meshes", "queries"):
        shutil.rmtree(os.path.join(out, d), ignore_errors=True)
        os.makedirs(os.path.join(out, d))
    rng = random.Random(args.seed)
    manifest, queries = [], []

    def add(path, modality, label):
        manifest.append({"path": path, "modality": modality, "label": label, "class_name": class_name(label)})

    # Fashion-MNIST test split: disjoint pools for corpus images, videos
    # and image queries.
    x, y = data.load_fashion("test")
    by_class = [list(np.flatnonzero(y == c)) for c in range(N_FASHION)]
    for lst in by_class:
        rng.shuffle(lst)
    q_images = []   # per class: test images in neither the corpus nor the videos
    for c in range(N_FASHION):
        idx = by_class[c]
        for k, i in enumerate(idx[:n_img]):
            p = f"images/{data.FASHION_CLASSES[c].replace('/', '-').replace(' ', '_').lower()}_{i:05d}.png"
            Image.fromarray(x[i]).save(os.path.join(out, p))
            add(p, "image", c)
        for k, i in enumerate(idx[n_img:n_img + n_vid]):
            ext = "webm" if k % 4 == 3 else "mp4"
            p = f"video/{c}_{i:05d}.{ext}"
            write_video(os.path.join(out, p), data.video_frames(x[i], seed=args.seed * 100003 + int(i)))
            add(p, "video", c)
        q_images.append(idx[n_img + n_vid:n_img + n_vid + nq])

    # Speech by held-out voices (never heard in training), held-out templates.
    _, held = data.voice_split()
    speech = data.speech_items(N_FASHION * n_aud + 2 * nq, held, data.SPEECH_TEMPLATES_HELDOUT, seed=args.seed + 1000)
    corpus_speech, query_speech = speech[:N_FASHION * n_aud], speech[N_FASHION * n_aud:]
    for k, it in enumerate(corpus_speech):
        ext = "mp3" if k % 4 == 3 else "wav"
        p = f"audio/{it['label']}_{k:04d}.{ext}"
        write_audio(os.path.join(out, p), data.render_speech(it))
        add(p, "audio", it["label"])

    # Shapes with seeds disjoint from training's (train.py draws its seeds
    # from random.Random(31/32); these come from another stream).
    fmts = ["ply", "bply", "obj", "stl"]
    shapes = data.shape_items(len(data.SHAPE_CLASSES) * n_mesh + nq, seed=args.seed + 2000)
    def write_shape(stem, k, c, s):
        """Shape c with seed s as PLY ascii, PLY binary, OBJ or STL by k; returns its path."""
        fmt = fmts[k % 4]
        p = f"{stem}.{'ply' if fmt == 'bply' else fmt}"
        v, f = data.random_shape(c, s)
        if fmt == "bply":
            data.write_ply(os.path.join(out, p), v, f, binary=True)
        else:
            data.write_mesh(os.path.join(out, p), v, f)
        return p

    for k, (c, s) in enumerate(shapes[:len(data.SHAPE_CLASSES) * n_mesh]):
        add(write_shape(f"meshes/{data.SHAPE_CLASSES[c]}_{k:04d}", k, c, s), "3d", N_FASHION + c)
    q_shapes = shapes[len(data.SHAPE_CLASSES) * n_mesh:len(data.SHAPE_CLASSES) * n_mesh + nq]

    # Queries, nq per pair, labels cycling through the classes.
    def q(pair, parts, label, target):
        queries.append({"pair": pair, "parts": parts, "label": label, "target_modality": target})

    for k in range(nq):
        c = k % N_FASHION
        q("text->image", [{"modality": "text", "text": held_out_text(rng, c)}], c, "image")
        q("text->audio", [{"modality": "text", "text": held_out_text(rng, c)}], c, "audio")
        q("text->video", [{"modality": "text", "text": held_out_text(rng, c)}], c, "video")
        s = N_FASHION + k % len(data.SHAPE_CLASSES)
        q("text->3d", [{"modality": "text", "text": held_out_text(rng, s)}], s, "3d")
    for k in range(nq):
        c = k % N_FASHION
        i = q_images[c][k // N_FASHION]
        p = f"queries/image_{i:05d}.png"
        Image.fromarray(x[i]).save(os.path.join(out, p))
        q("image->image", [{"modality": "image", "path": p}], c, "image")
    for k, it in enumerate(query_speech):
        p = f"queries/speech_{k:04d}.{'mp3' if k % 5 == 4 else 'wav'}"
        write_audio(os.path.join(out, p), data.render_speech(it))
        if k < nq:
            q("audio->image", [{"modality": "audio", "path": p}], it["label"], "image")
        else:
            q("audio+text->image", [{"modality": "audio", "path": p},
                                    {"modality": "text", "text": held_out_text(rng, it["label"])}],
              it["label"], "image")
    for k, (c, s) in enumerate(q_shapes):
        q("3d->3d", [{"modality": "3d", "path": write_shape(f"queries/shape_{k:04d}", k, c, s)}], N_FASHION + c, "3d")

    with open(os.path.join(out, "manifest.jsonl"), "w") as fp:
        for m in manifest:
            fp.write(json.dumps(m) + "\n")
    with open(os.path.join(out, "queries.jsonl"), "w") as fp:
        for m in queries:
            fp.write(json.dumps(m) + "\n")
    counts = {}
    for m in manifest:
        counts[m["modality"]] = counts.get(m["modality"], 0) + 1
    print(f"{out}: {len(manifest)} corpus files {counts}, {len(queries)} queries")


if __name__ == "__main__":
    main()
