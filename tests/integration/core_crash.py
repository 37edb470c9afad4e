"""Crash safety of bulk writes: `omnidex put` is killed with SIGKILL at
random points (OMNIDEX_CRASH_RUNS, default 10). After each kill the data
directory must open, every acknowledged id ("acked N" printed after each
committed batch) must be present with its exact vector, batches must be
all-or-nothing, and the index must agree with LMDB (found by exact search and
by the index alike)."""
import json
import os
import random
import shutil
import signal
import subprocess
import time

import numpy as np

from core_tap import OMNIDEX, done, jlines, ok, run, tmpdir

RUNS = int(os.environ.get("OMNIDEX_CRASH_RUNS", "10"))
N, DIM, BATCH = 20000, 48, 250
rng = np.random.default_rng(20261128)
basis = rng.standard_normal((8, DIM))
x = rng.standard_normal((N, 8)) @ basis + 0.3 * rng.standard_normal((N, DIM))
x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

d = tmpdir("omnidex-crash-")
fv = os.path.join(d, "x.fvecs")
with open(fv, "wb") as f:
    rec = np.empty((N, DIM + 1), dtype=np.float32)
    rec[:, 0] = np.frombuffer(np.int32(DIM).tobytes(), dtype=np.float32)[0]
    rec[:, 1:] = x
    f.write(rec.tobytes())


def write_queries(path, idx):
    rec = np.empty((len(idx), DIM + 1), dtype=np.float32)
    rec[:, 0] = np.frombuffer(np.int32(DIM).tobytes(), dtype=np.float32)[0]
    rec[:, 1:] = x[idx]
    with open(path, "wb") as f:
        f.write(rec.tobytes())


# How long an uninterrupted put takes, to spread the kill points over it.
probe = os.path.join(d, "probe")
run(probe, "collection", "create", "c", "--dim", str(DIM), "--index", "HNSW32,Flat")
t0 = time.time()
rc, out, err = run(probe, "put", "c", "--fvecs", fv, "--batch", str(BATCH))
full = time.time() - t0
ok(rc == 0, f"uninterrupted put ({full:.2f} s)", err)
shutil.rmtree(probe, ignore_errors=True)

rnd = random.Random(7)
for r in range(RUNS):
    spec = ["Flat", "HNSW32,Flat"][r % 2]
    data = os.path.join(d, f"run{r}")
    run(data, "collection", "create", "c", "--dim", str(DIM), "--index", spec)
    kill_at = rnd.uniform(0.05, max(0.1, full * 0.9))
    p = subprocess.Popen([OMNIDEX, "--data", data, "put", "c", "--fvecs", fv, "--batch", str(BATCH),
                          "--print-acks"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(kill_at)
    p.send_signal(signal.SIGKILL)
    out, _ = p.communicate()
    acked = 0
    for line in out.splitlines():
        if line.startswith("acked "):
            acked = int(line.split()[1])
    rc, out, err = run(data, "collection", "info", "c", "--json")
    if not ok(rc == 0, f"run {r}: reopen after kill at {kill_at:.2f} s ({spec})", err):
        continue
    info = json.loads(out)
    count = info["count"]
    ok(count >= acked and count % BATCH == 0 and count <= N,
       f"run {r}: {count} items present, {acked} acknowledged, batches whole", out)
    ok(info["indexed"] - info["tombstones"] == count, f"run {r}: index agrees with LMDB", out)
    if count == 0:
        continue
    # Every acknowledged id (a sample, plus the last one) is present with its
    # vector: exact search and the index both find it first.
    sample = sorted(set(rnd.sample(range(count), min(150, count)) + [count - 1]))
    q = os.path.join(d, f"q{r}.fvecs")
    write_queries(q, sample)
    for mode in (["--exact"], []):
        rc, out, err = run(data, "search", "c", "--fvecs", q, "--k", "1", "--json", *mode)
        res = jlines(out) if rc == 0 else []
        found = sum(1 for i, s in enumerate(sample) if i < len(res) and res[i]["hits"] and res[i]["hits"][0]["id"] == str(s))
        need = len(sample) if mode else int(0.98 * len(sample))
        ok(rc == 0 and found >= need, f"run {r}: {found}/{len(sample)} acknowledged ids found by "
           f"{'exact search' if mode else 'the index'}", err)
    # The item just past the committed prefix never exists.
    rc, out, err = run(data, "get", "c", str(count))
    ok(rc == 1, f"run {r}: nothing past the last committed batch", out)
    shutil.rmtree(data, ignore_errors=True)

shutil.rmtree(d, ignore_errors=True)
done()
