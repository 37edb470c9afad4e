"""Audio embedding throughput: audio seconds embedded per second of wall
time, split into decode + resample (libsndfile + libsoxr), fbank of the
clips (FFTW), and the tower, for the C path (audio-tool bench, best of N),
beside the PyTorch reference (torchaudio fbank + tools/ref_audio.py tower)
on the same samples. Random weights: ImageBind's audio size and a small
config. Prints a markdown table.

  OMNIDEX_BUILD=build/rel /usr/bin/python3 bench/encoders/audio_bench.py [--iters N]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tools"))
import ref_audio  # noqa: E402
import safetensors_io  # noqa: E402

BUILD = os.environ.get("OMNIDEX_BUILD", "build/rel")
if not os.path.isabs(BUILD):
    BUILD = os.path.join(TOP, BUILD)
TOOL = os.path.join(BUILD, "audio-tool")
TEXT = ("The quick brown fox jumps over the lazy dog. Omnidex stores vectors and finds the nearest ones. "
        "Sound is cut into three clips of two seconds, embedded, and averaged.")
SMALL = {"hidden_size": 128, "intermediate_size": 256, "num_attention_heads": 4, "num_hidden_layers": 4,
         "num_mel_bins": 64, "patch_stride": 16}


def run(*a):
    return subprocess.run([str(x) for x in a], check=True, capture_output=True).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    tmp = tempfile.mkdtemp(prefix="audio_bench_")
    try:
        wav = os.path.join(tmp, "speech.wav")
        run("espeak-ng", "-w", wav, TEXT)  # 22.05 kHz: the resampler runs
        mp3 = os.path.join(tmp, "speech.mp3")
        run("ffmpeg", "-nostdin", "-loglevel", "error", "-i", wav, "-c:a", "libmp3lame", "-q:a", "4", mp3)
        rows = []
        for name, cfg in (("ImageBind size (768 x 12, 128 mels)", {}), ("small (128 x 4, 64 mels)", SMALL)):
            d = os.path.join(tmp, "m")
            os.makedirs(d, exist_ok=True)
            w = ref_audio.random_weights(cfg, 512 if not cfg else 128, seed=0)
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump({"projection_dim": 512 if not cfg else 128, "audio_config": cfg}, f)
            safetensors_io.save(w, os.path.join(d, "model.safetensors"))
            for path in (wav, mp3):
                r = json.loads(run(TOOL, "bench", d, path, args.iters))
                total = r["decode_s"] + r["fbank_s"] + r["tower_s"]
                # PyTorch on the C-decoded 16 kHz samples (decoding excluded).
                raw = os.path.join(tmp, "pcm.f32")
                run(TOOL, "decode", path, "--rate", 16000, "--raw", raw)
                pcm = torch.from_numpy(np.fromfile(raw, dtype=np.float32))
                best_fb = best_tw = 1e30
                with torch.no_grad():
                    for _ in range(args.iters):
                        t0 = time.perf_counter()
                        x = ref_audio.audio_inputs(pcm, cfg)
                        t1 = time.perf_counter()
                        ref_audio.audio_features(cfg, w, x)
                        t2 = time.perf_counter()
                        best_fb, best_tw = min(best_fb, t1 - t0), min(best_tw, t2 - t1)
                rows.append((name, os.path.basename(path), r["audio_seconds"], r["decode_s"], r["fbank_s"],
                             r["tower_s"], r["audio_seconds"] / total, best_fb, best_tw,
                             r["audio_seconds"] / (best_fb + best_tw)))
            shutil.rmtree(d)
        print("| model | file | audio s | C decode+resample ms | C fbank ms | C tower ms | C audio s/s |"
              " PyTorch fbank ms | PyTorch tower ms | PyTorch audio s/s (no decode) |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print("| %s | %s | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |"
                  % (r[0], r[1], r[2], r[3] * 1e3, r[4] * 1e3, r[5] * 1e3, r[6], r[7] * 1e3, r[8] * 1e3, r[9]))
        print("\n(3 clips of 2 s per file; best of %d; %d threads)" % (args.iters, torch.get_num_threads()))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
