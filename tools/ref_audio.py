"""PyTorch reference of omnidex's audio path (docs/modalities.md, "Audio"):
the Kaldi fbank front end as ImageBind computes it, the clip split, and the
ImageBind-style audio ViT over CLIP vision's weight names.

Used by tests/integration/enc_audio_parity.py (C vs PyTorch) and by the
training script of the omni-tiny space, which optimises the dict returned by
random_weights(): audio_features() is differentiable in the tensors of `w`.

Import as:  sys.path.insert(0, 'tools'); import ref_audio
"""
import math
import os
import sys

import torch
import torch.nn.functional as F
import torchaudio.compliance.kaldi as kaldi

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_clip import _encoder, encoder_layer_weights  # noqa: E402  (the shared CLIP layer semantics)

# Every audio_config key with its default (ImageBind's audio tower sizes and
# front end: 128 mels x 204 frames, 16x16 patches with stride 10).
DEFAULT_AUDIO_CONFIG = {
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-6,
    "sample_rate": 16000,
    "num_mel_bins": 128,
    "frame_length_ms": 25.0,
    "frame_shift_ms": 10.0,
    "window": "hanning",
    "low_freq": 20.0,
    "high_freq": 0.0,
    "target_length": 204,
    "mean": -4.268,
    "std": 9.138,
    "patch_size": 16,
    "patch_stride": 10,
    "clip_seconds": 2.0,
    "clips": 3,
}


def config(cfg=None):
    """cfg with every missing key filled from DEFAULT_AUDIO_CONFIG."""
    c = dict(DEFAULT_AUDIO_CONFIG)
    if cfg:
        c.update(cfg)
    return c


def grid(cfg):
    """(gh, gw): patch rows (mel) and columns (time)."""
    c = config(cfg)
    p, s = c["patch_size"], c["patch_stride"]
    return (c["num_mel_bins"] - p) // s + 1, (c["target_length"] - p) // s + 1


def fbank(wave, cfg=None):
    """wave: 1-D float32 tensor at cfg sample_rate -> normalised [M, T].

    Fewer samples than one frame give zero frames (Kaldi's snip_edges frame
    count), i.e. a fully padded input; torchaudio itself refuses such input."""
    c = config(cfg)
    wave = wave.to(torch.float32).reshape(-1)
    m, t = c["num_mel_bins"], c["target_length"]
    win = int(c["sample_rate"] * c["frame_length_ms"] * 0.001)
    if wave.numel() < win:
        feats = torch.zeros(m, 0)
    else:
        wave = wave - wave.mean()
        feats = kaldi.fbank(
            wave.unsqueeze(0), htk_compat=True, sample_frequency=float(c["sample_rate"]),
            use_energy=False, window_type=c["window"], num_mel_bins=m, dither=0.0,
            frame_length=float(c["frame_length_ms"]), frame_shift=float(c["frame_shift_ms"]),
            low_freq=float(c["low_freq"]), high_freq=float(c["high_freq"]),
            remove_dc_offset=True, preemphasis_coefficient=0.97, round_to_power_of_two=True,
            snip_edges=True, use_log_fbank=True, use_power=True).transpose(0, 1)
    n = feats.shape[1]
    if n < t:
        feats = F.pad(feats, (0, t - n))
    elif n > t:
        feats = feats[:, :t]
    return (feats - c["mean"]) / c["std"]


def clip_starts(n_samples, cfg=None):
    """Start sample of each clip (docs/modalities.md "Clips")."""
    c = config(cfg)
    length = int(round(c["clip_seconds"] * c["sample_rate"]))
    k = c["clips"]
    if n_samples <= length:
        return [0]
    if k == 1:
        return [0]
    return [(i * (n_samples - length)) // (k - 1) for i in range(k)]


def clip_length(cfg=None):
    c = config(cfg)
    return int(round(c["clip_seconds"] * c["sample_rate"]))


def audio_inputs(wave, cfg=None):
    """wave: 1-D float32 at sample_rate -> [clips, 1, M, T] normalised fbanks."""
    c = config(cfg)
    wave = wave.to(torch.float32).reshape(-1)
    length = clip_length(c)
    out = [fbank(wave[s:s + length], c) for s in clip_starts(wave.numel(), c)]
    return torch.stack(out).unsqueeze(1)


def random_weights(cfg, proj_dim, seed=0, dtype=torch.float32):
    """Random tensors in the audio tower's safetensors names and shapes
    (audio_model.* and audio_projection.weight)."""
    c = config(cfg)
    g = torch.Generator().manual_seed(seed)

    def rn(*shape, std=0.02, mean=0.0):
        return (torch.randn(*shape, generator=g) * std + mean).to(dtype)

    h, p = c["hidden_size"], c["patch_size"]
    gh, gw = grid(c)
    pre = "audio_model."
    w = {
        pre + "embeddings.patch_embedding.weight": rn(h, 1, p, p, std=(p * p) ** -0.5),
        pre + "embeddings.class_embedding": rn(h, std=0.5),
        pre + "embeddings.position_embedding.weight": rn(1 + gh * gw, h, std=0.2),
        pre + "pre_layrnorm.weight": rn(h, std=0.1, mean=1.0),
        pre + "pre_layrnorm.bias": rn(h, std=0.05),
        pre + "post_layernorm.weight": rn(h, std=0.1, mean=1.0),
        pre + "post_layernorm.bias": rn(h, std=0.05),
        "audio_projection.weight": rn(proj_dim, h, std=h ** -0.5),
    }
    encoder_layer_weights(w, pre.rstrip("."), c, rn)
    return w


def audio_features(cfg, w, x):
    """x: [B, 1, M, T] normalised fbanks -> [B, P], L2-normalised.
    Differentiable in the tensors of w (no torch.no_grad here)."""
    c = config(cfg)
    h, eps = c["hidden_size"], c["layer_norm_eps"]
    pre = "audio_model."
    x = F.conv2d(x.float(), w[pre + "embeddings.patch_embedding.weight"].float(), stride=c["patch_stride"])
    x = x.flatten(2).transpose(1, 2)  # [B, gh*gw, H], row (mel) index outer
    cls = w[pre + "embeddings.class_embedding"].float().expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1) + w[pre + "embeddings.position_embedding.weight"].float()
    x = F.layer_norm(x, (h,), w[pre + "pre_layrnorm.weight"].float(), w[pre + "pre_layrnorm.bias"].float(), eps)
    x = _encoder(x, w, "audio_model", c, causal=False)
    pooled = F.layer_norm(x[:, 0], (h,), w[pre + "post_layernorm.weight"].float(),
                          w[pre + "post_layernorm.bias"].float(), eps)
    out = F.linear(pooled, w["audio_projection.weight"].float())
    return out / out.norm(dim=-1, keepdim=True)


def embed_wave(cfg, w, wave):
    """wave: 1-D float32 at sample_rate -> [P]: mean of the clips' embeddings,
    L2-normalised."""
    e = audio_features(cfg, w, audio_inputs(wave, cfg)).mean(dim=0)
    return e / e.norm()


if __name__ == "__main__":
    # Smoke check: a small config, a 3 s chirp, one embedding.
    small = {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
             "num_hidden_layers": 2, "num_mel_bins": 64, "patch_stride": 16}
    t = torch.arange(48000) / 16000.0
    wave = torch.sin(2 * math.pi * (200 + 300 * t) * t)
    ww = random_weights(small, 32)
    print(embed_wave(small, ww, wave)[:4])
