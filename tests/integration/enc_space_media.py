"""Audio, video and 3D through a space, end to end in the CLI, against the
PyTorch references: a tiny space with all towers (tools/tiny_space.py,
towers=True) and a text+image-only space, where video goes through frames
and 3D through rendered depth views.

- audio: real speech (espeak-ng) as 16 kHz WAV, `omnidex embed` vs
  ref_audio.embed_wave on the same samples;
- video: an ffmpeg clip; the C embedding vs the mean of ref_clip image
  embeddings of the frames the C decoder sampled (video-tool frames), and
  with space.json video.audio_weight the soundtrack fused as stated;
- 3D: a mesh file through the point tower vs ref_point on the same mesh;
  without a point tower: rendered views, unit norm, deterministic,
  different shapes apart;
- limits from space.json (audio.max_seconds) refused with a clear error;
- ingest of a mixed directory and cross-modal searches with --modality."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import wave

import numpy as np
import torch

from enc_common import report, finish, hf_preprocess, BUILD, TOP
import ref_audio
import ref_clip
import ref_point
from tiny_space import make_tiny_space

BIN = os.environ.get("OMNIDEX_BIN", os.path.join(BUILD, "omnidex"))
tmp = tempfile.mkdtemp(prefix="odx-space-media-")
models = os.path.join(tmp, "models")
os.environ["OMNIDEX_MODELS"] = models
space_dir, cfg, w, tok = make_tiny_space(models, towers=True)
make_tiny_space(models, name="clip-only")
DIM = cfg["projection_dim"]


def sh(*args):
    subprocess.run(args, check=True, capture_output=True)


def omnidex(*args, data=None):
    cmd = [BIN] + (["--data", data] if data else []) + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def embed(space, path):
    rc, out, err = omnidex("embed", "--space", space, "--file", path, "--json")
    if rc:
        raise RuntimeError(err)
    e = json.loads(out)
    return e["modality"], np.array(e["vector"], dtype=np.float32)


def read_wav16(path):
    with wave.open(path) as f:
        assert f.getsampwidth() == 2 and f.getnchannels() == 1
        x = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        return x, f.getframerate()


def l2(v):
    return v / np.linalg.norm(v)


# ---- audio -----------------------------------------------------------------
speech = os.path.join(tmp, "speech.wav")
sh("espeak-ng", "-w", os.path.join(tmp, "raw.wav"), "find the video where a dog runs on the beach")
sh("ffmpeg", "-loglevel", "error", "-i", os.path.join(tmp, "raw.wav"), "-ar", "16000", "-ac", "1", speech)
x, rate = read_wav16(speech)
mod, got = embed("tiny-clip", speech)
with torch.no_grad():
    ref = ref_audio.embed_wave(cfg["audio_config"], w, torch.from_numpy(x)).numpy()
d = float(np.abs(got - ref).max())
report("audio file through the space = ref_audio.embed_wave (max abs diff %.1e <= 1e-4, %.2f s of speech, %d clips)"
       % (d, len(x) / rate, len(ref_audio.clip_starts(len(x), cfg["audio_config"]))),
       mod == "audio" and d <= 1e-4 and len(x) / rate > 1.0)
rc, out, err = omnidex("embed", "--space", "clip-only", "--file", speech)
report("audio into a space without an audio tower: clear error", rc == 1 and "no audio encoder" in err, err)

# ---- video -----------------------------------------------------------------
clip = os.path.join(tmp, "clip.mp4")
sh("ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=3",
   "-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:v", "libx264", "-c:a", "aac", "-shortest", clip)
frames_dir = os.path.join(tmp, "frames")
os.makedirs(frames_dir)
subprocess.run([os.path.join(BUILD, "video-tool"), "frames", clip, "8", frames_dir], check=True, capture_output=True)
ppms = sorted(f for f in os.listdir(frames_dir) if f.endswith(".ppm"))
size = 32  # tiny_space's preprocessor config
px = torch.from_numpy(np.stack([hf_preprocess(os.path.join(frames_dir, f), size, size) for f in ppms]))
with torch.no_grad():
    frame_emb = ref_clip.image_features(cfg, w, px).numpy()
ref_video = l2(frame_emb.mean(0))
mod, got = embed("tiny-clip", clip)
d = float(np.abs(got - ref_video).max())
report("video = mean of its %d sampled frames through the image tower (max abs diff %.1e <= 1e-4)" % (len(ppms), d),
       mod == "video" and len(ppms) == 8 and d <= 1e-4)
mod2, got2 = embed("clip-only", clip)
report("video in a text+image space (frames only)", mod2 == "video" and abs(np.linalg.norm(got2) - 1) < 1e-5)

# soundtrack fused by space.json's video.audio_weight
fused_dir = os.path.join(models, "tiny-fused")
shutil.copytree(space_dir, fused_dir)
with open(os.path.join(fused_dir, "space.json"), "w") as f:
    json.dump({"format": 1, "name": "tiny-fused", "video": {"frames": 8, "audio_weight": 0.25},
               "audio": {"max_seconds": 2}}, f)
# the soundtrack as the C decoder hears it (its decoding is checked against
# the ffmpeg CLI in enc_video_files.py), embedded by the reference
track = os.path.join(tmp, "track.f32")
subprocess.run([os.path.join(BUILD, "video-tool"), "audio", clip, "16000", track], check=True, capture_output=True)
pcm = np.fromfile(track, dtype="<f4")
with torch.no_grad():
    audio_ref = ref_audio.embed_wave(cfg["audio_config"], w, torch.from_numpy(pcm)).numpy()
mod, got = embed("tiny-fused", clip)
expect = l2(0.75 * ref_video + 0.25 * audio_ref)
d = float(np.abs(got - expect).max())
report("video with sound: normalise(0.75 frames + 0.25 soundtrack) (max abs diff %.1e <= 1e-4, %.2f s of sound)"
       % (d, len(pcm) / 16000), d <= 1e-4 and len(pcm) > 16000)
rc, out, err = omnidex("embed", "--space", "tiny-fused", "--file", speech)
report("space.json audio.max_seconds refuses a longer clip", rc == 1 and "limit" in err.lower(), err)

# ---- 3D ----------------------------------------------------------------------
def box(sx, sy, sz):
    v = np.array([[x, y, z] for x in (0, sx) for y in (0, sy) for z in (0, sz)], dtype=np.float32)
    f = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                  [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]], dtype=np.int64)
    return v, f


def write_obj(path, v, f):
    with open(path, "w") as fp:
        for p in v:
            fp.write("v %.9g %.9g %.9g\n" % tuple(p))
        for t in f:
            fp.write("f %d %d %d\n" % tuple(t + 1))


def tetra():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    return v, np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]], dtype=np.int64)


box_path, tet_path = os.path.join(tmp, "box.obj"), os.path.join(tmp, "tet.obj")
write_obj(box_path, *box(2, 1, 0.5))
write_obj(tet_path, *tetra())
pc = cfg["point_config"]
for path, (v, f) in ((box_path, box(2, 1, 0.5)), (tet_path, tetra())):
    centres, neigh = ref_point.mesh_inputs(v, f, pc)
    with torch.no_grad():
        ref = ref_point.point_features(pc, w, torch.from_numpy(centres)[None], torch.from_numpy(neigh)[None])[0].numpy()
    mod, got = embed("tiny-clip", path)
    d = float(np.abs(got - ref).max())
    report("%s through the point tower = ref_point (max abs diff %.1e <= 1e-4)" % (os.path.basename(path), d),
           mod == "mesh" and d <= 1e-4)
_, r1 = embed("clip-only", box_path)
_, r2 = embed("clip-only", box_path)
_, r3 = embed("clip-only", tet_path)
report("3D without a point tower: rendered views through the image tower (unit norm, deterministic, shapes apart:"
       " cos %.4f)" % float(r1 @ r3),
       abs(np.linalg.norm(r1) - 1) < 1e-5 and np.array_equal(r1, r2) and float(r1 @ r3) < 0.9999)

# ---- ingest a mixed directory and search across modalities -----------------
corpus = os.path.join(tmp, "corpus")
os.makedirs(corpus)
for p in (speech, clip, box_path, tet_path):
    shutil.copy(p, corpus)
with open(os.path.join(corpus, "note.txt"), "w") as f:
    f.write("a box and a tetrahedron")
data = os.path.join(tmp, "db")
rc, _, err = omnidex("collection", "create", "mm", "--dim", str(DIM), "--space", "tiny-clip", data=data)
rc2, out, err2 = omnidex("ingest", "mm", "--modality", "all", corpus, data=data)  # text too
report("ingest of speech, video, two meshes and a text file", rc == 0 and rc2 == 0 and "5 items" in out, err + err2 + out)
rc, out, err = omnidex("search", "mm", "--text", "a box", "--modality", "3d", "--k", "5", "--json", data=data)
hits = [json.loads(l) for l in out.splitlines() if l.strip().startswith("{")]
flat = hits[0]["hits"] if hits and "hits" in hits[0] else hits
report("text -> 3D search returns only the two meshes",
       rc == 0 and sorted(os.path.basename(h["id"]) for h in flat) == ["box.obj", "tet.obj"], out + err)
rc, out, err = omnidex("search", "mm", "--audio", speech, "--k", "1", "--json", data=data)
report("audio -> all: the same clip first", rc == 0 and "speech.wav" in out.splitlines()[0] if out else False, out + err)
rc, out, err = omnidex("search", "mm", "--mesh", box_path, "--video", clip, "--k", "2", data=data)
report("two-part query (mesh + video)", rc == 0, out + err)
rc, out, err = omnidex("search", "mm", "--video", speech, data=data)
report("--video given an audio file: clear error naming what it holds", rc == 1 and "audio" in err, err)

shutil.rmtree(tmp, ignore_errors=True)
finish()
