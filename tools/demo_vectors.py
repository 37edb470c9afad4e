"""`make demo` (vector edition): Fashion-MNIST from Debian's
dataset-fashion-mnist through the omnidex CLI, end to end.

  1. writes the 60k training images as JSONL (784 pixel values + label
     metadata) and the 10k test images as fvecs queries;
  2. omnidex collection create / put (auto index: HNSW above 50k vectors);
  3. omnidex search for every test image: k-NN label accuracy, queries/s;
  4. exact search for a sample: recall@10 of the index;
  5. a filtered query.
Every number printed is measured by the omnidex binary in this run."""
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import time

import numpy as np

OMNIDEX = os.environ.get("OMNIDEX_BIN", "build/rel/omnidex")
SRC = "/usr/share/datasets/fashion-mnist"
OUT = os.environ.get("OMNIDEX_DEMO_DIR", "demo/out/vectors")
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows * cols)
    return np.frombuffer(data, dtype=np.uint8, offset=8)


def sh(*args, capture=True):
    t0 = time.time()
    p = subprocess.run([OMNIDEX, "--data", db, *args], capture_output=capture, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stderr if capture else "")
        sys.exit(f"demo: omnidex {' '.join(args[:2])} failed")
    return p, time.time() - t0


def write_fvecs(path, x):
    rec = np.empty((len(x), x.shape[1] + 1), dtype=np.float32)
    rec[:, 0] = np.frombuffer(np.int32(x.shape[1]).tobytes(), dtype=np.float32)[0]
    rec[:, 1:] = x
    with open(path, "wb") as f:
        f.write(rec.tobytes())


os.makedirs(OUT, exist_ok=True)
db = os.path.join(OUT, "db")
shutil.rmtree(db, ignore_errors=True)
xtr, ytr = idx(f"{SRC}/train-images-idx3-ubyte.gz"), idx(f"{SRC}/train-labels-idx1-ubyte.gz")
xte, yte = idx(f"{SRC}/t10k-images-idx3-ubyte.gz"), idx(f"{SRC}/t10k-labels-idx1-ubyte.gz")
print(f"Fashion-MNIST: {len(xtr)} training images, {len(xte)} test images, 784 pixels each")

jl = os.path.join(OUT, "train.jsonl")
with open(jl, "w") as f:
    for i in range(len(xtr)):
        f.write(json.dumps({"id": f"train-{i}", "vector": xtr[i].tolist(),
                            "metadata": {"label": CLASSES[ytr[i]], "label_id": int(ytr[i])}},
                           separators=(",", ":")) + "\n")
qf = os.path.join(OUT, "test.fvecs")
write_fvecs(qf, xte.astype(np.float32))

sh("collection", "create", "fmnist", "--dim", "784", "--metric", "l2", "--index", "auto")
print("\n$ omnidex put fmnist --jsonl train.jsonl")
p, el = sh("put", "fmnist", "--jsonl", jl, capture=False)
p, _ = sh("collection", "info", "fmnist")
print(p.stdout)

print("$ omnidex search fmnist --fvecs test.fvecs --k 10 --json     (10,000 queries)")
p, el = sh("search", "fmnist", "--fvecs", qf, "--k", "10", "--json")
res = [json.loads(l) for l in p.stdout.splitlines()]
sys.stdout.write("  " + p.stderr)
correct = 0
for r, y in zip(res, yte):
    votes = np.bincount([ytr[int(h["id"][6:])] for h in r["hits"]], minlength=10)
    correct += int(np.argmax(votes) == y)
print(f"  10-NN label accuracy: {correct / len(yte):.4f}")

n_exact = 1000
write_fvecs(os.path.join(OUT, "sample.fvecs"), xte[:n_exact].astype(np.float32))
p, _ = sh("search", "fmnist", "--fvecs", os.path.join(OUT, "sample.fvecs"), "--k", "10", "--json", "--exact")
exact = [json.loads(l) for l in p.stdout.splitlines()]
hit = sum(len({h["id"] for h in a["hits"]} & {h["id"] for h in e["hits"]}) for a, e in zip(res[:n_exact], exact))
print(f"  recall@10 of the index vs exact search ({n_exact} queries): {hit / (10 * n_exact):.4f}")

print('\n$ omnidex search fmnist --vector <test image 0, an ankle boot> --k 5 --filter \'label = "Sneaker"\'')
vec = ",".join(str(v) for v in xte[0].tolist())
p, _ = sh("search", "fmnist", "--vector", vec, "--k", "5", "--filter", 'label = "Sneaker"')
print(p.stdout)
p, _ = sh("search", "fmnist", "--vector", vec, "--k", "1000", "--filter", 'label = "Sneaker" AND label_id >= 7', "--json")
hits = json.loads(p.stdout)["hits"]
print(f"  filter check: {len(hits)} hits, all Sneakers: {all(ytr[int(h['id'][6:])] == 7 for h in hits)}")
print(f"\ndata directory: {db}")
