"""Media encoder throughput: omnidex's C audio, video and 3D paths beside a
PyTorch pipeline doing the same work (Debian python3-torch, the project's
references tools/ref_audio.py, ref_clip.py, ref_point.py), random weights at
real sizes, the same thread count, alternating in one run so both sides see
the same moments of the (shared) machine. Each row splits the time between
the front end (decode / preprocess) and the tower.

  audio  ImageBind-size audio tower (ref_audio DEFAULT_AUDIO_CONFIG: 768 x 12,
         128 mels, 3 clips of 2 s) on ~10 s of espeak-ng speech (WAV at
         22.05 kHz, so both sides resample, and MP3).
         C: `audio-tool bench` (libsndfile/mpg123 + soxr, FFTW fbank, tower).
         PyTorch: torchaudio.load + torchaudio.functional.resample,
         ref_audio.audio_inputs (torchaudio Kaldi fbank), ref_audio tower.
  video  CLIP ViT-B/32 image tower, 8 frames per clip, ffmpeg testsrc2 clips
         640x360 25 fps (H.264 10 s and 30 s, VP9 20 s).
         C: `video-tool bench-embed` (libav decode of the 8 sampled frames,
         PIL-exact preprocessing, tower on the 8 frames as a batch).
         PyTorch: ffprobe for the duration and ONE ffmpeg CLI process seeking
         to the 8 times (one -ss input per frame; torchvision.io needs PyAV,
         which Debian lacks), PIL preprocessing (CLIPImageProcessor's steps,
         tests/integration/enc_common.hf_preprocess), ref_clip tower.
  3D     PointBERT-size point tower (ref_point DEFAULT_POINT_CONFIG: 384 x 12,
         1024 points, 64 groups of 32) on assimp-testmodels files and
         generated binary PLY spheres (10k and 100k triangles).
         C: `mesh-tool bench` (load, sample + normalise + FPS/kNN grouping,
         tower). PyTorch: a numpy mesh loader (below), ref_point.mesh_inputs
         (numpy sampling/grouping), ref_point tower.
         Multi-view (spaces without a point tower): C `mesh-tool bench-views`
         (load, 6 depth views of 224, preprocessing, ViT-B/32 on the 6 views).
         There is no Python renderer, so the PyTorch side takes the views the
         C renderer drew (not timed) through PIL preprocessing + ref_clip.

Timing: per stage, the best of ROUNDS x ITERS runs on each side (the C tools
report their best of ITERS per process; PyTorch runs one warm-up first).
Throughput = media seconds (or clips, meshes) / sum of the best stages.
Writes the "## Media encoders (audio, video, 3D)" section of bench/RESULTS.md
(only that section).

usage: /usr/bin/python3 bench/encoders/media_bench.py [--threads 2] [--rounds 2] [--iters 2]
           [--point-iters 6] [--build build/rel] [--only audio,video,3d] [--no-write]
"""
import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tools"))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

SECTION = "## Media encoders (audio, video, 3D)"
SPEECH = ("Omnidex keeps every vector it is given next to the file it came from. A question in words, "
          "a picture, a sound or a shape becomes a vector of its own, and the nearest ones come back.")
ASSIMP = "/usr/share/assimp/models"
# (PLY/pond.0.ply, the largest, is a truncated file: omnidex refuses it.)
MESHES = ["PLY/Wuson.ply", "STL/Spider_binary.stl", "STL/Spider_ascii.stl", "OFF/Wuson.off",
          "OBJ/WusonOBJ.obj", "OBJ/spider.obj"]
VIEW_MESHES = ["PLY/Wuson.ply", "STL/Spider_binary.stl", "sphere-100k.ply"]


def sh(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True).stdout


def tool_stages(build, keys, *args):
    """Runs a C tool's bench command; (wall, cpu): its best seconds per stage
    (keys: the JSON names without _s / _cpu_s), and the JSON."""
    r = subprocess.run([os.path.join(build, args[0])] + [str(a) for a in args[1:]], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("%s failed: %s" % (" ".join(map(str, args)), r.stderr.strip()))
    j = json.loads(r.stdout.strip().splitlines()[-1])
    return ([j[k + "_s"] for k in keys], [j[k + "_cpu_s"] for k in keys]), j


class Stages:
    """Wall and CPU time between marks; CPU = this process (all threads) plus
    the children waited for meanwhile (the ffmpeg CLI), as the C tools count
    their process's CPU time."""

    def __init__(self):
        self.marks = [self.now()]

    @staticmethod
    def now():
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.perf_counter(), time.process_time() + ch.ru_utime + ch.ru_stime

    def mark(self):
        self.marks.append(self.now())

    def result(self):
        m = self.marks
        return [b[0] - a[0] for a, b in zip(m, m[1:])], [b[1] - a[1] for a, b in zip(m, m[1:])]


def best_stages(fn, iters, warm):
    """fn() -> Stages.result(); a warm-up run when warm (the first round of
    an item), then the best of each stage over iters runs, wall and CPU
    separately."""
    if warm:
        fn()
    best = None
    for _ in range(iters):
        best = merge_min(best, fn())
    return best


def merge_min(a, b):
    """Per-stage minimum of two (wall, cpu) pairs of lists."""
    return b if a is None else tuple([min(x, y) for x, y in zip(u, v)] for u, v in zip(a, b))


# ---- a numpy mesh loader for the Python side (vertices, triangles) ---------
PLY_T = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
         "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
         "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}


def fan(polys):
    return np.array([(p[0], p[i], p[i + 1]) for p in polys for i in range(1, len(p) - 1)], dtype=np.int64).reshape(-1, 3)


def load_ply(data):
    nl = data.index(b"\n", data.index(b"end_header")) + 1
    fmt, elems = None, []
    for line in data[:nl].decode("latin-1").splitlines()[1:]:
        w = line.split()
        if w and w[0] == "format":
            fmt = w[1]
        elif w and w[0] == "element":
            elems.append((w[1], int(w[2]), []))
        elif w and w[0] == "property":
            elems[-1][2].append(w[1:])
    v, f, body = None, np.zeros((0, 3), np.int64), data[nl:]
    if fmt == "ascii":
        rows = body.decode("latin-1").splitlines()
        pos = 0
        for name, count, props in elems:
            chunk = rows[pos:pos + count]
            pos += count
            if name == "vertex":
                names = [p[-1] for p in props]
                a = np.array([r.split() for r in chunk], dtype=np.float64)
                v = a[:, [names.index(c) for c in "xyz"]].astype(np.float32)
            elif name == "face":
                f = fan([[int(x) for x in r.split()[1:]] for r in chunk])
        return v, f
    end = "<" if fmt == "binary_little_endian" else ">"
    pos = 0
    for name, count, props in elems:
        if any(p[0] == "list" for p in props):
            # faces: fixed-size when every face is a triangle (checked)
            lp = [p for p in props if p[0] == "list"][0]
            dt = np.dtype([("n", end + PLY_T[lp[1]]), ("i", end + PLY_T[lp[2]], 3)])
            a = np.frombuffer(body, dtype=dt, count=count, offset=pos)
            if not (a["n"] == 3).all() or len(props) != 1:
                raise ValueError("this loader reads triangle-only binary PLY faces")
            f = a["i"].astype(np.int64)
            pos += dt.itemsize * count
        else:
            dt = np.dtype([(p[-1], end + PLY_T[p[0]]) for p in props])
            a = np.frombuffer(body, dtype=dt, count=count, offset=pos)
            pos += dt.itemsize * count
            if name == "vertex":
                v = np.stack([a[c] for c in "xyz"], axis=1).astype(np.float32)
    return v, f


def load_stl(data):
    if len(data) >= 84 and 84 + 50 * int(np.frombuffer(data, "<u4", 1, 80)[0]) == len(data):
        n = int(np.frombuffer(data, "<u4", 1, 80)[0])
        a = np.frombuffer(data, np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")]), n, 84)
        v = a["v"].reshape(-1, 3).copy()
    else:
        v = np.array(re.findall(rb"vertex\s+(\S+)\s+(\S+)\s+(\S+)", data), dtype=np.float32)
    return v, np.arange(len(v), dtype=np.int64).reshape(-1, 3)


def load_off(data):
    toks = [ln.split("#")[0].split() for ln in data.decode("latin-1").splitlines()]
    toks = [t for t in toks if t]
    head = toks[0][1:] if len(toks[0]) > 1 else toks[1]
    rest = toks[1:] if len(toks[0]) > 1 else toks[2:]
    nv, nf = int(head[0]), int(head[1])
    v = np.array([r[:3] for r in rest[:nv]], dtype=np.float32)
    return v, fan([[int(x) for x in r[1:1 + int(r[0])]] for r in rest[nv:nv + nf]])


def load_obj(data):
    v, polys = [], []
    for ln in data.decode("latin-1").splitlines():
        w = ln.split()
        if not w:
            continue
        if w[0] == "v":
            v.append(w[1:4])
        elif w[0] == "f":
            polys.append([int(x.split("/")[0]) for x in w[1:]])
    v = np.array(v, dtype=np.float32)
    polys = [[i - 1 if i > 0 else len(v) + i for i in p] for p in polys]
    return v, fan(polys)


LOADERS = {".ply": load_ply, ".stl": load_stl, ".off": load_off, ".obj": load_obj}


def load_mesh(path):
    with open(path, "rb") as fp:
        data = fp.read()
    return LOADERS[os.path.splitext(path)[1].lower()](data)


def write_sphere_ply(path, n_theta, n_phi, seed):
    """A bumpy closed sphere, 2 * n_theta * n_phi triangles, binary PLY."""
    rng = np.random.default_rng(seed)
    th = np.linspace(0, np.pi, n_theta + 1)[1:-1]
    ph = np.linspace(0, 2 * np.pi, n_phi, endpoint=False)
    T, P = np.meshgrid(th, ph, indexing="ij")
    r = 1 + 0.15 * np.sin(3 * T) * np.cos(5 * P) + 0.01 * rng.standard_normal(T.shape)
    ring = np.stack([r * np.sin(T) * np.cos(P), r * np.sin(T) * np.sin(P), r * np.cos(T)], -1).reshape(-1, 3)
    v = np.concatenate([[[0, 0, 1]], ring, [[0, 0, -1]]]).astype(np.float32)
    idx = lambda i, j: 1 + i * n_phi + (j % n_phi)  # noqa: E731
    f = [(0, idx(0, j), idx(0, j + 1)) for j in range(n_phi)]
    for i in range(n_theta - 2):
        for j in range(n_phi):
            a, b, c, d = idx(i, j), idx(i, j + 1), idx(i + 1, j), idx(i + 1, j + 1)
            f += [(a, c, b), (b, c, d)]
    last = len(v) - 1
    f += [(last, idx(n_theta - 2, j + 1), idx(n_theta - 2, j)) for j in range(n_phi)]
    f = np.array(f, dtype=np.int32)
    with open(path, "wb") as fp:
        fp.write(("ply\nformat binary_little_endian 1.0\nelement vertex %d\nproperty float x\nproperty float y\n"
                  "property float z\nelement face %d\nproperty list uchar int vertex_indices\nend_header\n"
                  % (len(v), len(f))).encode())
        fp.write(v.tobytes())
        rec = np.zeros(len(f), np.dtype([("n", "u1"), ("i", "<i4", 3)]))
        rec["n"], rec["i"] = 3, f
        fp.write(rec.tobytes())
    return len(f)


# ---- the three benchmarks ---------------------------------------------------
def bench_audio(a, tmp, torch, rows):
    import torchaudio
    import ref_audio
    import safetensors_io
    cfg = ref_audio.config({})
    d = os.path.join(tmp, "audio-model")
    os.makedirs(d)
    w = ref_audio.random_weights({}, 512, seed=0)
    with open(os.path.join(d, "config.json"), "w") as fp:
        json.dump({"projection_dim": 512, "audio_config": {}}, fp)
    safetensors_io.save(w, os.path.join(d, "model.safetensors"))
    wav, mp3 = os.path.join(tmp, "speech.wav"), os.path.join(tmp, "speech.mp3")
    sh("espeak-ng", "-w", wav, SPEECH)  # 22.05 kHz mono 16-bit
    sh("ffmpeg", "-nostdin", "-loglevel", "error", "-i", wav, "-c:a", "libmp3lame", "-q:a", "4", mp3)
    rate = cfg["sample_rate"]

    def pytorch(path):
        st = Stages()
        x, sr = torchaudio.load(path)
        x = x.mean(0)
        if sr != rate:
            x = torchaudio.functional.resample(x, sr, rate)
        st.mark()
        inp = ref_audio.audio_inputs(x, cfg)
        st.mark()
        e = ref_audio.audio_features(cfg, w, inp).mean(0)
        e = e / e.norm()
        st.mark()
        return st.result()

    for path in (wav, mp3):
        c = p = None
        secs = 0
        for rnd in range(a.rounds):
            t, r = tool_stages(a.build, ("decode", "fbank", "tower"), "audio-tool", "bench", d, path, a.iters)
            secs = r["audio_seconds"]
            c = merge_min(c, t)
            with torch.inference_mode():
                p = merge_min(p, best_stages(lambda: pytorch(path), a.iters, rnd == 0))
        rows.append(dict(kind="audio", item="speech %s (%.1f s)" % (os.path.splitext(path)[1][1:].upper(), secs),
                         units=secs, c=c, p=p))
        log(rows[-1])


def bench_video(a, tmp, torch, rows, clip_dir, clip_w):
    import enc_common
    import ref_clip
    cfg = ref_clip.VIT_B32
    n = 8
    clips = []
    for name, codec, secs in (("H.264", ["-c:v", "libx264", "-pix_fmt", "yuv420p"], 10),
                              ("H.264", ["-c:v", "libx264", "-pix_fmt", "yuv420p"], 30),
                              ("VP9", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M"], 20)):
        path = os.path.join(tmp, "clip%d.%s" % (secs, "mp4" if name == "H.264" else "webm"))
        sh("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
           "testsrc2=size=640x360:rate=25:duration=%d" % secs, *codec, path)
        clips.append((name, secs, path))
    fdir = os.path.join(tmp, "frames")
    os.makedirs(fdir)

    def pytorch(path):
        st = Stages()
        out = sh("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                 "stream=duration:format=duration", "-of", "json", path)
        j = json.loads(out)
        dur = float(j["streams"][0].get("duration") or j["format"]["duration"])
        args, outs = [], []
        for i in range(n):
            args += ["-ss", "%.6f" % ((i + 0.5) * dur / n), "-i", path]
            outs += ["-map", "%d:v:0" % i, "-frames:v", "1", os.path.join(fdir, "f%d.ppm" % i)]
        sh("ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args, *outs)
        st.mark()
        px = torch.from_numpy(np.stack([enc_common.hf_preprocess(os.path.join(fdir, "f%d.ppm" % i))
                                        for i in range(n)]))
        st.mark()
        e = ref_clip.image_features(cfg, clip_w, px).mean(0)
        e = e / e.norm()
        st.mark()
        return st.result()

    for name, secs, path in clips:
        c = p = None
        dur = secs
        for rnd in range(a.rounds):
            t, r = tool_stages(a.build, ("decode", "preprocess", "tower"), "video-tool", "bench-embed", clip_dir, path,
                               n, a.iters)
            dur = r["duration"]
            if r["frames"] != n:
                raise SystemExit("video-tool sampled %d frames, not %d" % (r["frames"], n))
            c = merge_min(c, t)
            with torch.inference_mode():
                p = merge_min(p, best_stages(lambda: pytorch(path), a.iters, rnd == 0))
        rows.append(dict(kind="video", item="%s 640x360 %.0f s" % (name, dur), units=dur, c=c, p=p))
        log(rows[-1])


def bench_3d(a, tmp, torch, rows, clip_dir, clip_w):
    import enc_common
    import ref_clip
    import ref_point
    pc = ref_point.config(None)
    pdir = os.path.join(tmp, "point-model")
    pw = ref_point.write_model(pdir, None, proj_dim=512, seed=0)
    meshes = [(m, os.path.join(ASSIMP, m)) for m in MESHES if os.path.exists(os.path.join(ASSIMP, m))]
    for label, (nt, nph) in (("sphere-10k.ply", (50, 100)), ("sphere-100k.ply", (158, 316))):
        path = os.path.join(tmp, label)
        write_sphere_ply(path, nt, nph, seed=1)
        meshes.append(("generated " + label, path))

    def pytorch(path):
        st = Stages()
        v, f = load_mesh(path)
        st.mark()
        centres, neigh = ref_point.mesh_inputs(v, f if len(f) else None, pc)
        st.mark()
        ref_point.point_features(pc, pw, torch.from_numpy(centres)[None], torch.from_numpy(neigh)[None])
        st.mark()
        return st.result()

    for label, path in meshes:
        c = p = None
        for rnd in range(a.rounds):
            t, r = tool_stages(a.build, ("load", "sample_group", "tower"), "mesh-tool", "bench", pdir, path,
                               a.point_iters)
            c = merge_min(c, t)
            with torch.inference_mode():
                p = merge_min(p, best_stages(lambda: pytorch(path), a.point_iters, rnd == 0))
        rows.append(dict(kind="3d", item="%s (%d v, %d f)" % (label, r["vertices"], r["faces"]), units=1, c=c, p=p))
        log(rows[-1])

    cfg = ref_clip.VIT_B32
    vdir = os.path.join(tmp, "views")
    for label, path in meshes:
        if not any(label.startswith(m) or m in label for m in VIEW_MESHES):
            continue
        os.makedirs(vdir, exist_ok=True)
        sh(os.path.join(a.build, "mesh-tool"), "render", path, 6, 224, vdir)  # the C views, untimed

        def pytorch_views():
            st = Stages()
            st.mark()  # load and render: not done here (no Python renderer)
            st.mark()
            px = torch.from_numpy(np.stack([enc_common.hf_preprocess(os.path.join(vdir, "view_%d.pgm" % i))
                                            for i in range(6)]))
            st.mark()
            e = ref_clip.image_features(cfg, clip_w, px).mean(0)
            e = e / e.norm()
            st.mark()
            return st.result()

        c = p = None
        for rnd in range(a.rounds):
            t, r = tool_stages(a.build, ("load", "render", "preprocess", "tower"), "mesh-tool", "bench-views", clip_dir,
                               path, 6, a.iters)
            c = merge_min(c, t)
            with torch.inference_mode():
                p = merge_min(p, best_stages(pytorch_views, a.iters, rnd == 0))
        rows.append(dict(kind="views", item="%s (%d v, %d f)" % (label, r["vertices"], r["faces"]), units=1,
                         c=c, p=p))
        log(rows[-1])


def log(r):
    for i, what in ((0, "wall"), (1, "CPU")):
        c, p = r["c"][i], r["p"][i]
        print("%-6s %-4s %-40s C %s = %.3f s | PyTorch %s = %.3f s | ratio %.2fx"
              % (r["kind"], what, r["item"], "+".join("%.3f" % x for x in c), sum(c),
                 "+".join("%.3f" % x for x in p), sum(p), sum(p) / sum(c)), flush=True)


# ---- RESULTS.md ---------------------------------------------------------------
def ms(x):
    return "%.0f" % (x * 1e3) if x >= 0.01 else "%.1f" % (x * 1e3)


def summary(rows):
    """Lines computed from the rows: where the time goes and omnidex /
    PyTorch stage by stage (sums over the rows), so a rerun keeps the reading
    in step with its tables."""
    out = ["Computed from the rows above (sums over the rows of each table; omnidex / PyTorch per stage, wall clock "
           "and CPU time in brackets):", ""]
    kinds = (("audio", "Audio", ("decode", "fbank", "tower")),
             ("video", "Video", ("decode", "preprocess", "tower")),
             ("3d", "3D point tower", ("load", "sample+group", "tower")),
             ("views", "3D multi-view", ("load", "render", "preprocess", "tower")))
    for kind, title, stages in kinds:
        rs = [r for r in rows if r["kind"] == kind]
        if not rs:
            continue
        tot = lambda side, i, k: sum(r[side][i][k] for r in rs)  # noqa: E731
        n = len(stages)
        c_all = sum(tot("c", 0, k) for k in range(n))
        p_all = sum(tot("p", 0, k) for k in range(n))
        # the PyTorch multi-view side has no load/render: those are omnidex's alone
        ks = range(2, n) if kind == "views" else range(n)
        per = ", ".join("%s %.2fx (%.2fx)" % (stages[k], tot("p", 0, k) / tot("c", 0, k), tot("p", 1, k) / tot("c", 1, k))
                        for k in ks)
        line = ("- %s: the tower takes %.1f%% of omnidex's time and %.1f%% of PyTorch's; %s."
                % (title, 100 * tot("c", 0, n - 1) / c_all, 100 * tot("p", 0, n - 1) / p_all, per))
        if len(rs) >= 2:
            rt = [r["p"][0][-1] / r["c"][0][-1] for r in rs]
            line += (" The tower's input has the same shape on every row, so the spread of its per-row ratio, "
                     "%.2fx to %.2fx (median %.2fx), is this run's noise." % (min(rt), max(rt), statistics.median(rt)))
        out.append(line)
    return out + [""]


def section(a, rows, torch, load0, load1, cmd, wall):
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    out = [SECTION, "",
           "Random weights at real sizes, C (omnidex's tools over the library) beside a PyTorch %s pipeline "
           "(Debian, /usr/bin/python3, the project's reference towers) on the same files, %d threads on both "
           "sides (OMP_NUM_THREADS / torch.set_num_threads), alternating per file; per stage the best of %d "
           "rounds x %d runs (%d for the point tower rows; PyTorch after one warm-up run per item; each C tool process keeps the best of "
           "its runs, so its cold first run counts only if it was the fastest). Measured %s on %s (%d cores, "
           "shared with other "
           "work): load average (1 min) %.1f at start, %.1f at end; the run took %.0f s. Both sides are slowed "
           "alike by the other work: compare the ratio (omnidex rate / PyTorch rate). Wall-clock ratios of "
           "2-thread OpenMP runs swing widely when other processes take one of the cores, so each table "
           "also gives the ratio by CPU time (per stage the least process CPU seconds, all threads, plus "
           "child processes such as the ffmpeg CLI): the work each side spends per item, far less sensitive "
           "to the load, though it does not count a side that leaves a core idle. Reproduce: `%s` "
           "(or `make enc-bench`). Script and what each side does: `bench/encoders/media_bench.py`."
           % (torch.__version__, a.threads, a.rounds, a.iters, a.point_iters, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              cpu, os.cpu_count(), load0, load1, wall, cmd), ""]
    au = [r for r in rows if r["kind"] == "audio"]
    if au:
        out += ["Audio: ImageBind-size audio tower (768 x 12 layers, 128 mels x 204 frames, 3 clips of 2 s per "
                "embedding) on espeak-ng speech. Front end = decode + resample to 16 kHz, then the Kaldi fbank "
                "of the 3 clips. C: libsndfile/libmpg123 + soxr, FFTW; PyTorch: torchaudio.load + "
                "torchaudio.functional.resample, torchaudio.compliance.kaldi.fbank.", "",
                "| file | C decode ms | C fbank ms | C tower ms | C audio s/s | PyTorch decode ms | PyTorch fbank ms "
                "| PyTorch tower ms | PyTorch audio s/s | omnidex / PyTorch | by CPU time |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in au:
            (c, cc), (p, pc) = r["c"], r["p"]
            out.append("| %s | %s | %s | %s | %.1f | %s | %s | %s | %.1f | %.2fx | %.2fx |"
                       % (r["item"], ms(c[0]), ms(c[1]), ms(c[2]), r["units"] / sum(c), ms(p[0]), ms(p[1]), ms(p[2]),
                          r["units"] / sum(p), sum(p) / sum(c), sum(pc) / sum(cc)))
        out.append("")
    vi = [r for r in rows if r["kind"] == "video"]
    if vi:
        out += ["Video: CLIP ViT-B/32 image tower on 8 frames per clip (one batch), ffmpeg testsrc2 clips "
                "640x360 at 25 fps. Decode = the 8 sampled frames to RGB (C: libav in-process with keyframe "
                "seeks; PyTorch side: ffprobe + one ffmpeg CLI process with one seeking input per frame, PPM "
                "out); preprocess = resize 224 bicubic + centre crop + normalise (C: PIL-exact; PyTorch side: "
                "PIL + numpy).", "",
                "| clip | C decode ms | C preprocess ms | C tower ms | C video s/s | C clips/s | PyTorch decode ms "
                "| PyTorch preprocess ms | PyTorch tower ms | PyTorch video s/s | PyTorch clips/s | omnidex / PyTorch "
                "| by CPU time |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in vi:
            (c, cc), (p, pc) = r["c"], r["p"]
            out.append("| %s | %s | %s | %s | %.1f | %.2f | %s | %s | %s | %.1f | %.2f | %.2fx | %.2fx |"
                       % (r["item"], ms(c[0]), ms(c[1]), ms(c[2]), r["units"] / sum(c), 1 / sum(c), ms(p[0]),
                          ms(p[1]), ms(p[2]), r["units"] / sum(p), 1 / sum(p), sum(p) / sum(c), sum(pc) / sum(cc)))
        out.append("")
    td = [r for r in rows if r["kind"] == "3d"]
    if td:
        out += ["3D, point tower: PointBERT size (384 x 12 layers, 1024 points, 64 groups of 32, mini-PointNet "
                "128/256/512) on /usr/share/assimp/models files and generated bumpy spheres (binary PLY). "
                "Load = file to vertices + triangles (C: own PLY/OFF/STL parsers, libassimp for OBJ; PyTorch "
                "side: a numpy loader in the script); sample + group = area-weighted sampling, normalisation, "
                "FPS + kNN (C; PyTorch side: tools/ref_point.py's numpy).", "",
                "| mesh | C load ms | C sample+group ms | C tower ms | C meshes/s | PyTorch load ms "
                "| PyTorch sample+group ms | PyTorch tower ms | PyTorch meshes/s | omnidex / PyTorch | by CPU time |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in td:
            (c, cc), (p, pc) = r["c"], r["p"]
            out.append("| %s | %s | %s | %s | %.1f | %s | %s | %s | %.1f | %.2fx | %.2fx |"
                       % (r["item"], ms(c[0]), ms(c[1]), ms(c[2]), 1 / sum(c), ms(p[0]), ms(p[1]), ms(p[2]),
                          1 / sum(p), sum(p) / sum(c), sum(pc) / sum(cc)))
        out.append("")
    mv = [r for r in rows if r["kind"] == "views"]
    if mv:
        out += ["3D, multi-view (a space without a point tower): 6 depth views of 224 x 224 through CLIP "
                "ViT-B/32 as one batch. No Python renderer exists, so the PyTorch side starts from the views "
                "the C renderer drew (load and render not timed there): its ratio compares preprocess + "
                "tower only; the C total includes load and render.", "",
                "| mesh | C load ms | C render ms | C preprocess ms | C tower ms | C meshes/s | PyTorch preprocess ms "
                "| PyTorch tower ms | PyTorch meshes/s (no load/render) | omnidex / PyTorch (preprocess + tower) "
                "| by CPU time |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in mv:
            (c, cc), (p, pc) = r["c"], r["p"]
            out.append("| %s | %s | %s | %s | %s | %.2f | %s | %s | %.2f | %.2fx | %.2fx |"
                       % (r["item"], ms(c[0]), ms(c[1]), ms(c[2]), ms(c[3]), 1 / sum(c), ms(p[2]), ms(p[3]),
                          1 / sum(p), (p[2] + p[3]) / (c[2] + c[3]), (pc[2] + pc[3]) / (cc[2] + cc[3])))
        out.append("")
    return "\n".join(out + summary(rows)) + "\n"


def write_section(text):
    path = os.path.join(TOP, "bench", "RESULTS.md")
    old = open(path).read() if os.path.exists(path) else "# omnidex benchmark results\n"
    m = re.search(r"^" + re.escape(SECTION) + r"\n.*?(?=^## |\Z)", old, flags=re.S | re.M)
    old = old[: m.start()] + text + ("\n" if m.end() < len(old) else "") + old[m.end():] if m \
        else old.rstrip("\n") + "\n\n" + text
    with open(path, "w") as fp:
        fp.write(old)
    print("wrote the %r section of %s" % (SECTION, path))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--iters", type=int, default=2)
    ap.add_argument("--point-iters", type=int, default=6, help="runs per round for the (cheap) point tower rows")
    ap.add_argument("--build", default=os.environ.get("OMNIDEX_BUILD", "build/rel"))
    ap.add_argument("--only", default="audio,video,3d")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    if not os.path.isabs(a.build):
        a.build = os.path.join(TOP, a.build)
    only = set(a.only.split(","))
    os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(a.threads)
    import torch
    import ref_clip
    torch.set_num_threads(a.threads)
    cmd = "/usr/bin/python3 bench/encoders/media_bench.py --threads %d --rounds %d --iters %d --point-iters %d " \
          "--build %s" % (a.threads, a.rounds, a.iters, a.point_iters, os.path.relpath(a.build, TOP))
    if only != {"audio", "video", "3d"}:
        cmd += " --only " + a.only
    load0, t0 = os.getloadavg()[0], time.time()
    rows = []
    tmp = tempfile.mkdtemp(prefix="media_bench_")
    try:
        clip_dir, clip_w = os.path.join(tmp, "clip-vit-b32"), None
        if only & {"video", "3d"}:
            clip_w = ref_clip.write_model(clip_dir, ref_clip.VIT_B32, seed=1)
        if "audio" in only:
            bench_audio(a, tmp, torch, rows)
        if "video" in only:
            bench_video(a, tmp, torch, rows, clip_dir, clip_w)
        if "3d" in only:
            bench_3d(a, tmp, torch, rows, clip_dir, clip_w)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = section(a, rows, torch, load0, os.getloadavg()[0], cmd, time.time() - t0)
    print(text)
    if not a.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
