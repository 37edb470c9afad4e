"""Encoder throughput: omnidex's C CLIP towers vs PyTorch (Debian
python3-torch, tools/ref_clip.py) on full-size ViT-B/32 with random weights,
same thread count, same run. Images/s and texts/s at batch 1 and 16 (texts
are 17 tokens: bos, 15 words, eos — a typical caption; both sides run the
same unpadded length). Best of N timed runs after a warm-up. Writes the
"## Encoders" section of bench/RESULTS.md (only that section).

usage: /usr/bin/python3 bench/encoders/run.py [--threads 2,1] [--iters 3] [--rounds 3]"""
import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tools"))


def best_of(fn, iters):
    fn()
    best = 1e30
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="2,1", help="comma-separated thread counts")
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--build", default=os.environ.get("OMNIDEX_BUILD", "build/rel"))
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    threads = [int(x) for x in a.threads.split(",")]
    import torch
    import ref_clip
    tool = os.path.join(TOP, a.build, "enc-tool")
    tmp = tempfile.mkdtemp(prefix="enc_bench_")
    rows = []
    load0 = os.getloadavg()[0]
    try:
        cfg = ref_clip.VIT_B32
        w = ref_clip.write_model(tmp, cfg, seed=1)
        for nt, what, batch in [(t, wh, b) for t in threads for wh in ("image", "text") for b in (1, 16)]:
            if True:
                os.environ["OMP_NUM_THREADS"] = str(nt)
                os.environ["OPENBLAS_NUM_THREADS"] = str(nt)
                torch.set_num_threads(nt)
                iters = a.iters if batch == 16 else a.iters * 4
                if what == "image":
                    px = torch.randn(batch, 3, 224, 224)
                    fn = lambda: ref_clip.image_features(cfg, w, px)
                else:
                    v = cfg["text_config"]["vocab_size"]
                    ids = torch.tensor([[0] + [(i * 31 + j * 7) % 40000 % v for j in range(1, 16)] + [v - 1]
                                        for i in range(batch)])
                    fn = lambda: ref_clip.text_features(cfg, w, ids)
                # Rounds alternate between the two so that both see the same
                # moments of the (shared) machine; best of all rounds.
                c_s = t_s = 1e30
                for _ in range(a.rounds):
                    r = subprocess.run([tool, "bench", tmp, what, str(batch), str(iters)], capture_output=True,
                                       text=True, env=dict(os.environ))
                    if r.returncode != 0:
                        raise SystemExit(r.stderr)
                    c_s = min(c_s, float(re.search(r"best_s=([0-9.]+)", r.stdout).group(1)))
                    with torch.inference_mode():
                        t_s = min(t_s, best_of(fn, iters))
                rows.append((nt, what, batch, batch / c_s, batch / t_s))
                print(f"{nt} threads {what:5s} batch {batch:2d}: omnidex {batch / c_s:8.2f}/s   pytorch {batch / t_s:8.2f}/s   "
                      f"ratio {t_s / c_s:.2f}x", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    sec = ["## Encoders", "",
           f"CLIP ViT-B/32 at full size with random weights (HF layout), the same thread count for both sides, "
           f"best of {a.rounds} alternating rounds of {a.iters} (batch 16) / {a.iters * 4} (batch 1) timed runs "
           f"after a warm-up, measured "
           f"{time.strftime('%Y-%m-%d')} on {cpu} ({os.cpu_count()} cores, shared with other work). "
           f"PyTorch {torch.__version__} (Debian) running tools/ref_clip.py; omnidex via `enc-tool bench` "
           f"(OpenBLAS sgemm, OpenMP). Texts are 17 tokens on both sides. Reproduce: "
           f"`/usr/bin/python3 bench/encoders/run.py`. Load average (1 min) {load0:.1f} at start, "
           f"{os.getloadavg()[0]:.1f} at end: other work shared the cores, so both columns are "
           f"depressed alike; compare the ratio.", "",
           "| threads | tower | batch | omnidex (items/s) | PyTorch (items/s) | omnidex / PyTorch |",
           "|---|---|---|---|---|---|"]
    for nt, what, batch, c, t in rows:
        sec.append(f"| {nt} | {what} | {batch} | {c:.1f} | {t:.1f} | {c / t:.2f}x |")
    sec.append("")
    if not a.no_write:
        path = os.path.join(TOP, "bench", "RESULTS.md")
        old = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
        m = re.search(r"^## Encoders\n.*?(?=^## |\Z)", old, flags=re.S | re.M)
        new = "\n".join(sec) + "\n"
        old = old[: m.start()] + new + old[m.end():] if m else old.rstrip("\n") + "\n\n" + new
        open(path, "w").write(old)
        print("wrote the Encoders section of", path)


main()
