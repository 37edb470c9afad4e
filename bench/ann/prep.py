#!/usr/bin/python3
"""Datasets and exact ground truth for bench/ann, cached under build/bench/data.

Each dataset directory holds base.fvecs, query.fvecs, gt.ivecs (the exact
top-100 ids per query) and gt.fvecs (their exact distances: squared L2, or
inner product), plus info.json. Ground truth is brute force, independent of
every contender: float32 GEMM to shortlist 400 candidates per query, then the
shortlist re-scored in float64 and sorted.

  fashion-mnist-784: Debian's dataset-fashion-mnist, 60k train rows as the
      base, 10k test rows as queries, raw pixel values 0..255, L2 (the way
      ann-benchmarks uses it).
  synthetic-512: a low-rank latent plus isotropic noise, unit-normalised,
      inner product; queries drawn from the same distribution; seeded.

Run with /usr/bin/python3 (Debian's numpy): prep.py OUTDIR [--quick]
"""
import gzip
import json
import os
import struct
import sys
import time

import numpy as np

FASHION = "/usr/share/datasets/fashion-mnist"
GT_K = 100
SHORTLIST = 400


def write_fvecs(path, x):
    x = np.ascontiguousarray(x, dtype=np.float32)
    n, d = x.shape
    rows = np.empty((n, d + 1), dtype=np.float32)
    rows[:, 0] = np.array([d], dtype=np.int32).view(np.float32)[0]
    rows[:, 1:] = x
    tmp = path + ".tmp"
    rows.tofile(tmp)
    os.replace(tmp, path)


def write_ivecs(path, x):
    x = np.ascontiguousarray(x, dtype=np.int32)
    n, d = x.shape
    rows = np.empty((n, d + 1), dtype=np.int32)
    rows[:, 0] = d
    rows[:, 1:] = x
    tmp = path + ".tmp"
    rows.tofile(tmp)
    os.replace(tmp, path)


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        buf = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", buf[:16])
    if magic != 2051:
        raise SystemExit(f"{path}: not an IDX image file (magic {magic})")
    if len(buf) != 16 + n * rows * cols:
        raise SystemExit(f"{path}: size does not match its header")
    return np.frombuffer(buf, dtype=np.uint8, offset=16).reshape(n, rows * cols).astype(np.float32)


def synthetic(n, nq, dim, rank, noise, seed):
    """Rows z @ B + noise * g with z ~ N(0, I_rank) and B ~ N(0, 1/rank),
    normalised to unit length. Base and queries come from one stream."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((rank, dim)) / np.sqrt(rank)
    out = np.empty((n + nq, dim), dtype=np.float32)
    step = 20000
    for s in range(0, n + nq, step):
        m = min(step, n + nq - s)
        z = rng.standard_normal((m, rank))
        x = z @ basis + noise * rng.standard_normal((m, dim))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[s:s + m] = x
    return out[:n], out[n:]


def ground_truth(base, queries, metric):
    """Exact top-GT_K: float32 shortlist, float64 re-score."""
    n = base.shape[0]
    k = min(GT_K, n)
    sl = min(SHORTLIST, n)
    ids = np.empty((queries.shape[0], k), dtype=np.int32)
    dist = np.empty((queries.shape[0], k), dtype=np.float32)
    norms = (base.astype(np.float64) ** 2).sum(1) if metric == "l2" else None
    base64 = base.astype(np.float64)
    step = 500
    for s in range(0, queries.shape[0], step):
        q = queries[s:s + step]
        ip = q @ base.T  # float32 GEMM
        if metric == "l2":
            score = norms[None, :].astype(np.float32) - 2 * ip  # smaller is nearer
        else:
            score = -ip
        cand = np.argpartition(score, sl - 1, axis=1)[:, :sl]
        q64 = q.astype(np.float64)
        for i in range(q.shape[0]):
            c = cand[i]
            v = base64[c]
            if metric == "l2":
                d = ((v - q64[i]) ** 2).sum(1)
                order = np.lexsort((c, d))[:k]
            else:
                d = v @ q64[i]
                order = np.lexsort((c, -d))[:k]
            ids[s + i] = c[order]
            dist[s + i] = d[order]
    return ids, dist


def prepare(outdir, name, make, metric, params):
    d = os.path.join(outdir, name)
    info_path = os.path.join(d, "info.json")
    want = dict(params, name=name, metric=metric, gt_k=GT_K, version=1)
    if os.path.exists(info_path):
        with open(info_path) as f:
            have = json.load(f)
        if all(have.get(k) == v for k, v in want.items()):
            print(f"prep: {name}: cached in {d}", file=sys.stderr)
            return
    os.makedirs(d, exist_ok=True)
    t = time.time()
    base, queries = make()
    write_fvecs(os.path.join(d, "base.fvecs"), base)
    write_fvecs(os.path.join(d, "query.fvecs"), queries)
    t_gt = time.time()
    ids, dist = ground_truth(base, queries, metric)
    write_ivecs(os.path.join(d, "gt.ivecs"), ids)
    write_fvecs(os.path.join(d, "gt.fvecs"), dist)
    want.update(n=int(base.shape[0]), nq=int(queries.shape[0]), dim=int(base.shape[1]),
                gt_seconds=round(time.time() - t_gt, 1))
    with open(info_path, "w") as f:
        json.dump(want, f, indent=1)
    print(f"prep: {name}: {base.shape[0]} x {base.shape[1]}, {queries.shape[0]} queries, "
          f"{time.time() - t:.0f} s (ground truth {time.time() - t_gt:.0f} s)", file=sys.stderr)


def main():
    if len(sys.argv) < 2:
        raise SystemExit("usage: prep.py OUTDIR [--quick]")
    outdir = sys.argv[1]
    quick = "--quick" in sys.argv[2:]
    nf, nfq = (20000, 2000) if quick else (60000, 10000)
    ns, nsq = (20000, 1000) if quick else (200000, 5000)
    syn = dict(dim=512, rank=32, noise=0.35, seed=20240601)

    def fashion():
        base = read_idx_images(os.path.join(FASHION, "train-images-idx3-ubyte.gz"))[:nf]
        queries = read_idx_images(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz"))[:nfq]
        return base, queries

    def synth():
        return synthetic(ns, nsq, syn["dim"], syn["rank"], syn["noise"], syn["seed"])

    sfx = "-quick" if quick else ""
    prepare(outdir, "fashion-mnist-784" + sfx, fashion, "l2", dict(n_req=nf, nq_req=nfq, source=FASHION))
    prepare(outdir, "synthetic-512" + sfx, synth, "ip", dict(syn, n_req=ns, nq_req=nsq))


if __name__ == "__main__":
    main()
