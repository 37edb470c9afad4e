#!/usr/bin/env python3
"""3D path parity: C (mesh-tool) vs the reference (tools/ref_point.py).

- Sampling: the C points from a file == ref_point.sample_surface on the
  same geometry parsed here in Python, bit for bit (generated meshes with
  triangles of very different areas, a real OFF file, a point cloud), and the
  same after normalisation.
- Grouping: FPS centres and kNN neighbourhoods identical.
- Tower: embeddings within 1e-4 of point_features (PyTorch) with random
  weights, default PointBERT sizes and a small config; batch of several;
  end to end (file -> embedding). A negative control shows the comparison
  sees a small change of the model (the [g, f] halves swapped).
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import enc_common as E  # noqa: E402
import ref_point as R  # noqa: E402

MESH_TOOL = os.path.join(E.BUILD, "mesh-tool")
TOL = 1e-4


def mt(*args):
    r = subprocess.run([MESH_TOOL] + [str(a) for a in args], capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("mesh-tool %s: %s" % (args[0], r.stderr.decode(errors="replace")))
    return r.stdout.decode()


def f32(path, shape):
    return np.fromfile(path, dtype=np.float32).reshape(shape)


def write_ply_bin(path, v, f):
    with open(path, "wb") as fp:
        fp.write(("ply\nformat binary_little_endian 1.0\nelement vertex %d\nproperty float x\nproperty float y\n"
                  "property float z\nelement face %d\nproperty list uchar int vertex_indices\nend_header\n"
                  % (len(v), len(f))).encode())
        fp.write(np.asarray(v, "<f4").tobytes())
        for t in f:
            fp.write(struct.pack("<B3i", 3, *t))


def read_off(path):
    """Independent OFF reader (triangles and fan-triangulated polygons)."""
    toks = []
    for line in open(path):
        line = line.split("#")[0].split()
        if line:
            toks.append(line)
    nv, nf = int(toks[1][0]), int(toks[1][1])
    v = np.array([[float(x) for x in t[:3]] for t in toks[2:2 + nv]], np.float32)
    f = []
    for t in toks[2 + nv:2 + nv + nf]:
        n = int(t[0])
        idx = [int(x) for x in t[1:1 + n]]
        f += [[idx[0], idx[k], idx[k + 1]] for k in range(1, n - 1)]
    return v, np.array(f, np.int64)


def blob(seed, n_theta=20, n_phi=40):
    """A bumpy closed surface: triangle areas vary by orders of magnitude."""
    rng = np.random.default_rng(seed)
    th = np.linspace(0, np.pi, n_theta)
    ph = np.linspace(0, 2 * np.pi, n_phi, endpoint=False)
    T, P = np.meshgrid(th, ph, indexing="ij")
    r = 1 + 0.3 * rng.standard_normal(T.shape) ** 2
    v = np.stack([r * np.sin(T) * np.cos(P) * 3, r * np.cos(T), r * np.sin(T) * np.sin(P) + 5], -1).reshape(-1, 3)
    f = []
    for i in range(n_theta - 1):
        for j in range(n_phi):
            a, b = i * n_phi + j, i * n_phi + (j + 1) % n_phi
            c, d = a + n_phi, b + n_phi
            f += [[a, b, d], [a, d, c]]
    return v.astype(np.float32), np.array(f, np.int64)


def main():
    tmp = tempfile.mkdtemp(prefix="enc_point_")
    meshes = []
    for s in range(3):
        v, f = blob(s)
        p = os.path.join(tmp, "blob%d.ply" % s)
        write_ply_bin(p, v, f)
        meshes.append(("blob%d" % s, p, v, f))
    wuson = "/usr/share/assimp/models/OFF/Wuson.off"
    if os.path.exists(wuson):
        v, f = read_off(wuson)
        meshes.append(("Wuson.off", wuson, v, f))
    pc = os.path.join(tmp, "cloud.ply")
    pv = np.random.default_rng(7).standard_normal((300, 3)).astype(np.float32)
    with open(pc, "w") as fp:
        fp.write("ply\nformat ascii 1.0\nelement vertex 300\nproperty float x\nproperty float y\nproperty float z\nend_header\n")
        for x in pv:
            fp.write("%r %r %r\n" % tuple(float(c) for c in x))
    meshes.append(("point cloud", pc, pv, np.zeros((0, 3), np.int64)))

    # Sampling and grouping, bit for bit.
    for name, path, v, f in meshes:
        out = os.path.join(tmp, "pts.f32")
        mt("sample", path, 1024, out)
        c_pts = f32(out, (1024, 3))
        r_pts = R.sample_surface(v, f, 1024)
        same = np.array_equal(c_pts, r_pts)
        E.report("sampling %s: C == Python (1024 points)" % name, same,
                 "" if same else "max diff %g, first differing row %d" % (np.abs(c_pts - r_pts).max(), int(np.argmax(np.any(c_pts != r_pts, 1)))))
        mt("sample", path, 1024, out, "--normalize")
        c_n = f32(out, (1024, 3))
        r_n = R.normalize_points(r_pts)
        E.report("normalised %s: C == Python" % name, np.array_equal(c_n, r_n),
                 "" if np.array_equal(c_n, r_n) else "max diff %g" % np.abs(c_n - r_n).max())
        cf, nf_ = os.path.join(tmp, "c.f32"), os.path.join(tmp, "n.f32")
        for g, k in ((64, 32), (17, 5)):
            mt("group", out, g, k, cf, nf_)
            rc, rn = R.group_points(r_n, {"num_groups": g, "group_size": k})
            ok = np.array_equal(f32(cf, (g, 3)), rc) and np.array_equal(f32(nf_, (g, k, 3)), rn)
            E.report("grouping %s G=%d K=%d: identical" % (name, g, k), ok)

    # Tower parity: default sizes and a small config.
    small = {"hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 4, "num_hidden_layers": 2,
             "hidden_act": "quick_gelu", "layer_norm_eps": 1e-6, "num_points": 256, "num_groups": 16,
             "group_size": 8, "encoder_channels": [32, 48, 80]}
    for cname, cfg, proj in (("default", None, 128), ("small", small, 24)):
        c = R.config(cfg)
        mdir = os.path.join(tmp, cname)
        w = R.write_model(mdir, c, proj, seed=3)
        cents, neighs = [], []
        for name, path, v, f in meshes:
            ce, ne = R.mesh_inputs(v, f, c)
            cents.append(ce)
            neighs.append(ne)
        cents, neighs = np.stack(cents), np.stack(neighs)
        n = len(cents)
        cf, nf_, of = (os.path.join(tmp, x) for x in ("bc.f32", "bn.f32", "out.f32"))
        cents.tofile(cf)
        neighs.tofile(nf_)
        mt("embed-groups", mdir, cf, nf_, n, of)
        c_out = f32(of, (n, proj))
        with torch.no_grad():
            r_out = R.point_features(c, w, cents, neighs).numpy()
        d = float(np.abs(c_out - r_out).max())
        E.report("tower %s: batch of %d, max abs diff %.3g <= %g" % (cname, n, d, TOL), d <= TOL)
        # Negative control: the second layer's halves swapped in the reference.
        w2 = dict(w)
        s0 = w["point_model.group_encoder.second.0.weight"]
        h = s0.shape[1] // 2
        w2["point_model.group_encoder.second.0.weight"] = torch.cat([s0[:, h:], s0[:, :h]], 1)
        with torch.no_grad():
            bad = R.point_features(c, w2, cents, neighs).numpy()
        db = float(np.abs(c_out - bad).max())
        E.report("tower %s: negative control differs (%.3g > %g)" % (cname, db, TOL), db > TOL)
        # End to end: files -> embeddings.
        lines = mt("embed", mdir, *[m[1] for m in meshes]).strip().splitlines()
        c_e2e = np.array([json.loads(x) for x in lines], np.float32)
        d = float(np.abs(c_e2e - r_out).max())
        E.report("end to end %s: mesh-tool embed FILE vs reference, max abs diff %.3g" % (cname, d), d <= TOL)
        norms = np.linalg.norm(c_e2e, axis=1)
        E.report("end to end %s: unit norms" % cname, bool(np.all(np.abs(norms - 1) < 1e-5)))
    shutil.rmtree(tmp, ignore_errors=True)
    E.finish()


if __name__ == "__main__":
    main()
