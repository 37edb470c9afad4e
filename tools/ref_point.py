"""Reference of omnidex's 3D point path (docs/modalities.md, "3D"): surface
sampling with the contract's splitmix64 PRNG, normalisation, PointBERT
grouping (farthest point sampling + kNN) in numpy float32 with the C code's
arithmetic order, and the point tower in PyTorch over the safetensors names.

Used by tests/integration/enc_point_parity.py (C vs Python: sampling and
grouping must be identical, embeddings within 1e-4) and by the training
script of the omni-tiny space, which optimises the dict returned by
random_weights(): point_features() is differentiable in the tensors of `w`.

Import as:  sys.path.insert(0, 'tools'); import ref_point
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_clip import ACTS, _encoder, encoder_layer_weights  # noqa: E402,F401  (the shared CLIP layer semantics)

# Every point_config key with its default: PointBERT's sizes (384 wide, 12
# layers, 6 heads, 64 groups of 32 points out of 1024) and the mini-PointNet
# channel widths of its group encoder.
DEFAULT_POINT_CONFIG = {
    "hidden_size": 384,
    "intermediate_size": 1536,
    "num_attention_heads": 6,
    "num_hidden_layers": 12,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-5,
    "num_points": 1024,
    "num_groups": 64,
    "group_size": 32,
    "encoder_channels": [128, 256, 512],
}

SEED = 0x6F6D6E69646578  # "omnidex"
POS_HIDDEN = 128         # width of pos_embed.0 (fixed by the contract)

_M64 = (1 << 64) - 1
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def config(cfg=None):
    """cfg with every missing key filled from DEFAULT_POINT_CONFIG."""
    c = dict(DEFAULT_POINT_CONFIG)
    if cfg:
        c.update(cfg)
    c["encoder_channels"] = list(c["encoder_channels"])
    return c


def splitmix64_uniform(count, seed=SEED, start=0):
    """The uniforms u_k = (next_k >> 11) * 2^-53, k = start .. start+count-1,
    of splitmix64 seeded with `seed` (the k-th output mixes seed + (k+1)*gamma,
    so the stream is computed in closed form, vectorised, mod 2^64)."""
    k = np.arange(start + 1, start + count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(seed & _M64) + k * _GAMMA
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (2.0 ** -53)


def triangle_areas(v, f):
    """Areas in double: 0.5 * |(b-a) x (c-a)| with float64 differences."""
    v = np.asarray(v, dtype=np.float32).astype(np.float64)
    f = np.asarray(f, dtype=np.int64).reshape(-1, 3)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    e1, e2 = b - a, c - a
    cx = e1[:, 1] * e2[:, 2] - e1[:, 2] * e2[:, 1]
    cy = e1[:, 2] * e2[:, 0] - e1[:, 0] * e2[:, 2]
    cz = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    return 0.5 * np.sqrt(cx * cx + cy * cy + cz * cz)


def sample_surface(v, f, n):
    """n points [n,3] float32 uniformly by area on the triangles f [F,3] of
    vertices v [V,3] (the C odx_points_sample, bit for bit).

    Per point, three draws of the one PRNG stream: u0 picks the triangle (the
    first i with cum[i] > u0 * total, cum = running sum of the areas in
    double, clamped to F-1), then u1, u2: r1 = sqrt(u1), s = r1 * (1 - u2),
    t = r1 * u2, p = a + s*(b-a) + t*(c-a) in double, rounded to float32.
    No faces or total area 0 (a point cloud, a degenerate mesh): one draw per
    point, vertex index floor(u * V) clamped to V-1."""
    v = np.asarray(v, dtype=np.float32).reshape(-1, 3)
    f = np.asarray(f, dtype=np.int64).reshape(-1, 3) if f is not None else np.zeros((0, 3), np.int64)
    if len(v) == 0:
        raise ValueError("no vertices")
    total = 0.0
    if len(f):
        cum = np.cumsum(triangle_areas(v, f))  # sequential, as the C loop
        total = float(cum[-1])
    if not total > 0.0:
        u = splitmix64_uniform(n)
        idx = np.minimum(np.floor(u * len(v)).astype(np.int64), len(v) - 1)
        return v[idx].copy()
    u = splitmix64_uniform(3 * n).reshape(n, 3)
    tri = np.searchsorted(cum, u[:, 0] * total, side="right")
    tri = np.minimum(tri, len(f) - 1)
    r1 = np.sqrt(u[:, 1])
    s = (r1 * (1.0 - u[:, 2]))[:, None]
    t = (r1 * u[:, 2])[:, None]
    vd = v.astype(np.float64)
    a, b, c = vd[f[tri, 0]], vd[f[tri, 1]], vd[f[tri, 2]]
    p = a + s * (b - a) + t * (c - a)
    return p.astype(np.float32)


def normalize_points(p):
    """Centroid (sequential sum in double / n, rounded to float32)
    subtracted in float32, then divided (float32) by the largest norm
    sqrt(x*x + y*y + z*z) in float32, when it is > 0."""
    p = np.asarray(p, dtype=np.float32).reshape(-1, 3)
    c = (np.cumsum(p.astype(np.float64), axis=0)[-1] / len(p)).astype(np.float32)
    q = p - c
    norm = np.sqrt(q[:, 0] * q[:, 0] + q[:, 1] * q[:, 1] + q[:, 2] * q[:, 2])
    m = norm.max()
    if m > 0:
        q = q / m
    return q.astype(np.float32)


def _sqdist(p, c):
    """float32 squared distances of the rows of p to one point c, summed
    dx*dx + dy*dy + dz*dz in that order."""
    d = p - c
    return d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2]


def fps(p, g):
    """Farthest point sampling: g indices, first 0, then argmax (lowest index
    on ties) of the running min squared distance to the chosen centres."""
    p = np.asarray(p, dtype=np.float32).reshape(-1, 3)
    idx = np.zeros(g, dtype=np.int64)
    d = _sqdist(p, p[0])
    for i in range(1, g):
        j = int(np.argmax(d))
        idx[i] = j
        d = np.minimum(d, _sqdist(p, p[j]))
    return idx


def knn(p, centres_idx, k):
    """[G,K] indices: for each centre the k nearest points, ascending squared
    distance, ties by lower index."""
    p = np.asarray(p, dtype=np.float32).reshape(-1, 3)
    out = np.zeros((len(centres_idx), k), dtype=np.int64)
    for i, c in enumerate(centres_idx):
        out[i] = np.argsort(_sqdist(p, p[c]), kind="stable")[:k]
    return out


def group_points(p, cfg=None):
    """Normalised points [N,3] -> (centres [G,3], neighbourhoods [G,K,3]
    relative to their centre), float32."""
    c = config(cfg)
    p = np.asarray(p, dtype=np.float32).reshape(-1, 3)
    ci = fps(p, c["num_groups"])
    nb = knn(p, ci, c["group_size"])
    centres = p[ci]
    neigh = p[nb] - centres[:, None, :]
    return centres.astype(np.float32), neigh.astype(np.float32)


def mesh_inputs(v, f, cfg=None):
    """The whole C front end: sample num_points, normalise, group."""
    c = config(cfg)
    return group_points(normalize_points(sample_surface(v, f, c["num_points"])), c)


def random_weights(cfg=None, proj_dim=128, seed=0):
    """Random float32 tensors with the point tower's safetensors names."""
    c = config(cfg)
    g = torch.Generator().manual_seed(seed)

    def rn(*shape, std=0.02, mean=0.0):
        return torch.randn(*shape, generator=g) * std + mean

    h = c["hidden_size"]
    c1, c2, c3 = c["encoder_channels"]
    w = {}
    ge = "point_model.group_encoder."
    for name, (o, i) in (("first.0", (c1, 3)), ("first.1", (c2, c1)),
                         ("second.0", (c3, 2 * c2)), ("second.1", (h, c3))):
        w[ge + name + ".weight"] = rn(o, i, std=i ** -0.5)
        w[ge + name + ".bias"] = rn(o, std=0.05)
    w["point_model.pos_embed.0.weight"] = rn(POS_HIDDEN, 3, std=1.0)
    w["point_model.pos_embed.0.bias"] = rn(POS_HIDDEN, std=0.05)
    w["point_model.pos_embed.1.weight"] = rn(h, POS_HIDDEN, std=POS_HIDDEN ** -0.5)
    w["point_model.pos_embed.1.bias"] = rn(h, std=0.05)
    w["point_model.cls_token"] = rn(h, std=0.5)
    w["point_model.cls_pos"] = rn(h, std=0.2)
    encoder_layer_weights(w, "point_model", c, rn)
    w["point_model.post_layernorm.weight"] = rn(h, std=0.1, mean=1.0)
    w["point_model.post_layernorm.bias"] = rn(h, std=0.05)
    w["point_projection.weight"] = rn(proj_dim, 2 * h, std=(2 * h) ** -0.5)
    return w


def group_tokens(cfg, w, neigh):
    """The mini-PointNet: [B,G,K,3] relative neighbourhoods -> [B,G,H]."""
    ge = "point_model.group_encoder."
    lin = lambda x, n: F.linear(x, w[ge + n + ".weight"], w[ge + n + ".bias"])  # noqa: E731
    f = lin(F.relu(lin(neigh, "first.0")), "first.1")          # [B,G,K,c2]
    g = f.max(dim=2, keepdim=True).values.expand_as(f)          # global feature per group
    f = lin(F.relu(lin(torch.cat([g, f], dim=-1), "second.0")), "second.1")
    return f.max(dim=2).values


def point_features(cfg, w, centres, neigh):
    """centres [B,G,3], neigh [B,G,K,3] (float32 tensors or arrays) ->
    L2-normalised [B, projection_dim]. Differentiable in w."""
    c = config(cfg)
    centres = torch.as_tensor(centres, dtype=torch.float32)
    neigh = torch.as_tensor(neigh, dtype=torch.float32)
    if centres.dim() == 2:
        centres, neigh = centres.unsqueeze(0), neigh.unsqueeze(0)
    h, eps = c["hidden_size"], c["layer_norm_eps"]
    tok = group_tokens(c, w, neigh)
    pos = F.linear(F.gelu(F.linear(centres, w["point_model.pos_embed.0.weight"], w["point_model.pos_embed.0.bias"])),
                   w["point_model.pos_embed.1.weight"], w["point_model.pos_embed.1.bias"])
    cls = (w["point_model.cls_token"] + w["point_model.cls_pos"]).expand(tok.shape[0], 1, h)
    x = torch.cat([cls, tok + pos], dim=1)
    x = _encoder(x, w, "point_model", c, causal=False)
    x = F.layer_norm(x, (h,), w["point_model.post_layernorm.weight"], w["point_model.post_layernorm.bias"], eps)
    pooled = torch.cat([x[:, 0], x[:, 1:].max(dim=1).values], dim=-1)
    out = F.linear(pooled, w["point_projection.weight"])
    return out / out.norm(dim=-1, keepdim=True)


def write_model(dirpath, cfg=None, proj_dim=128, seed=0):
    """config.json ({"point_config", "projection_dim"}) + model.safetensors
    holding only the point tower; returns the weights dict."""
    import json
    import safetensors_io
    c = config(cfg)
    os.makedirs(dirpath, exist_ok=True)
    w = random_weights(c, proj_dim, seed)
    with open(os.path.join(dirpath, "config.json"), "w") as fp:
        json.dump({"projection_dim": proj_dim, "point_config": c}, fp, indent=2)
    safetensors_io.save(w, os.path.join(dirpath, "model.safetensors"))
    return w
