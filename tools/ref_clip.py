"""PyTorch reference of Hugging Face's CLIP towers (CLIPModel semantics),
written here from the model's definition because `transformers` is not in
Debian. Used by tests/integration/enc_clip_parity.py and bench/encoders.

Semantics reproduced (transformers' modeling_clip.py):
  vision: conv patch embedding (no bias) -> [class_embedding | patches] +
          position_embedding -> pre_layrnorm -> encoder layers ->
          post_layernorm(last_hidden[:, 0]) -> visual_projection (no bias)
  text:   token_embedding + position_embedding -> encoder layers with a
          causal mask -> final_layer_norm -> pooled at the EOS position
          (legacy eos_token_id == 2: argmax of input_ids; otherwise the first
          position equal to eos_token_id) -> text_projection (no bias)
  layer:  x + out_proj(attn(layer_norm1(x))); x + fc2(act(fc1(layer_norm2(x))))
          with q scaled by head_dim ** -0.5 before q @ k^T.
get_*_features are then L2-normalised, as CLIPModel.forward does.
"""
import json
import math

import torch
import torch.nn.functional as F

ACTS = {
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
    "gelu": lambda x: F.gelu(x),
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}

TINY = {
    "projection_dim": 24,
    "text_config": {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4,
                    "num_hidden_layers": 2, "max_position_embeddings": 77, "vocab_size": 1000,
                    "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "bos_token_id": 998,
                    "eos_token_id": 999, "pad_token_id": 1},
    "vision_config": {"hidden_size": 48, "intermediate_size": 96, "num_attention_heads": 4,
                      "num_hidden_layers": 2, "image_size": 32, "patch_size": 8,
                      "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5},
}

# openai/clip-vit-base-patch32's sizes (its config.json keeps the legacy
# bos/eos ids 0/2 in text_config, which selects argmax pooling).
VIT_B32 = {
    "projection_dim": 512,
    "text_config": {"hidden_size": 512, "intermediate_size": 2048, "num_attention_heads": 8,
                    "num_hidden_layers": 12, "max_position_embeddings": 77, "vocab_size": 49408,
                    "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "bos_token_id": 0,
                    "eos_token_id": 2, "pad_token_id": 1},
    "vision_config": {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12,
                      "num_hidden_layers": 12, "image_size": 224, "patch_size": 32,
                      "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5},
}

# openai/clip-vit-large-patch14-336's sizes (577 image tokens).
VIT_L14_336 = {
    "projection_dim": 768,
    "text_config": {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12,
                    "num_hidden_layers": 12, "max_position_embeddings": 77, "vocab_size": 49408,
                    "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "bos_token_id": 0,
                    "eos_token_id": 2, "pad_token_id": 1},
    "vision_config": {"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16,
                      "num_hidden_layers": 24, "image_size": 336, "patch_size": 14,
                      "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5},
}


def full_config(cfg):
    c = json.loads(json.dumps(cfg))
    c["architectures"] = ["CLIPModel"]
    c["model_type"] = "clip"
    c["logit_scale_init_value"] = 2.6592
    c["text_config"]["projection_dim"] = c["projection_dim"]
    c["vision_config"]["projection_dim"] = c["projection_dim"]
    return c


def encoder_layer_weights(w, prefix, c, rn):
    """Random weights of the pre-LN encoder layers under prefix (CLIP's names:
    prefix.encoder.layers.{i}.*), drawn with rn(*shape, std=, mean=) in a
    fixed order; every tower's reference (text, vision, audio, point) uses it."""
    h, f = c["hidden_size"], c["intermediate_size"]
    for i in range(c["num_hidden_layers"]):
        p = f"{prefix}.encoder.layers.{i}."
        for ln in ("layer_norm1", "layer_norm2"):
            w[p + ln + ".weight"] = rn(h, std=0.1, mean=1.0)
            w[p + ln + ".bias"] = rn(h, std=0.05)
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            w[p + "self_attn." + proj + ".weight"] = rn(h, h, std=h ** -0.5)
            w[p + "self_attn." + proj + ".bias"] = rn(h, std=0.05)
        w[p + "mlp.fc1.weight"] = rn(f, h, std=h ** -0.5)
        w[p + "mlp.fc1.bias"] = rn(f, std=0.05)
        w[p + "mlp.fc2.weight"] = rn(h, f, std=f ** -0.5)
        w[p + "mlp.fc2.bias"] = rn(h, std=0.05)


def random_weights(cfg, seed=0, dtype=torch.float32):
    """Random tensors with CLIPModel's names and shapes."""
    g = torch.Generator().manual_seed(seed)

    def rn(*shape, std=0.02, mean=0.0):
        return (torch.randn(*shape, generator=g) * std + mean).to(dtype)

    w = {}

    def layers(prefix, c):
        encoder_layer_weights(w, prefix, c, rn)

    pd = cfg["projection_dim"]
    t = cfg["text_config"]
    if t is not None:
        h = t["hidden_size"]
        w["text_model.embeddings.token_embedding.weight"] = rn(t["vocab_size"], h, std=0.5)
        w["text_model.embeddings.position_embedding.weight"] = rn(t["max_position_embeddings"], h, std=0.2)
        w["text_model.final_layer_norm.weight"] = rn(h, std=0.1, mean=1.0)
        w["text_model.final_layer_norm.bias"] = rn(h, std=0.05)
        w["text_projection.weight"] = rn(pd, h, std=h ** -0.5)
        layers("text_model", t)
    v = cfg["vision_config"]
    if v is not None:
        h, p, s = v["hidden_size"], v["patch_size"], v["image_size"]
        n = (s // p) ** 2 + 1
        w["vision_model.embeddings.patch_embedding.weight"] = rn(h, 3, p, p, std=(3 * p * p) ** -0.5)
        w["vision_model.embeddings.class_embedding"] = rn(h, std=0.5)
        w["vision_model.embeddings.position_embedding.weight"] = rn(n, h, std=0.2)
        w["vision_model.pre_layrnorm.weight"] = rn(h, std=0.1, mean=1.0)
        w["vision_model.pre_layrnorm.bias"] = rn(h, std=0.05)
        w["vision_model.post_layernorm.weight"] = rn(h, std=0.1, mean=1.0)
        w["vision_model.post_layernorm.bias"] = rn(h, std=0.05)
        w["visual_projection.weight"] = rn(pd, h, std=h ** -0.5)
        layers("vision_model", v)
    w["logit_scale"] = torch.tensor(2.6592).to(dtype)
    return w


def _attention(x, w, p, heads, causal):
    b, t, h = x.shape
    d = h // heads
    q = F.linear(x, w[p + "q_proj.weight"].float(), w[p + "q_proj.bias"].float()) * d ** -0.5
    k = F.linear(x, w[p + "k_proj.weight"].float(), w[p + "k_proj.bias"].float())
    v = F.linear(x, w[p + "v_proj.weight"].float(), w[p + "v_proj.bias"].float())
    q, k, v = (z.view(b, t, heads, d).transpose(1, 2) for z in (q, k, v))
    s = q @ k.transpose(-1, -2)
    if causal:
        mask = torch.full((t, t), torch.finfo(s.dtype).min).triu(1)
        s = s + mask
    a = torch.softmax(s, dim=-1) @ v
    a = a.transpose(1, 2).reshape(b, t, h)
    return F.linear(a, w[p + "out_proj.weight"].float(), w[p + "out_proj.bias"].float())


def _encoder(x, w, prefix, c, causal):
    act = ACTS[c.get("hidden_act", "quick_gelu")]
    eps = c.get("layer_norm_eps", 1e-5)
    h = c["hidden_size"]
    for i in range(c["num_hidden_layers"]):
        p = f"{prefix}.encoder.layers.{i}."
        r = F.layer_norm(x, (h,), w[p + "layer_norm1.weight"].float(), w[p + "layer_norm1.bias"].float(), eps)
        x = x + _attention(r, w, p + "self_attn.", c["num_attention_heads"], causal)
        r = F.layer_norm(x, (h,), w[p + "layer_norm2.weight"].float(), w[p + "layer_norm2.bias"].float(), eps)
        r = act(F.linear(r, w[p + "mlp.fc1.weight"].float(), w[p + "mlp.fc1.bias"].float()))
        x = x + F.linear(r, w[p + "mlp.fc2.weight"].float(), w[p + "mlp.fc2.bias"].float())
    return x


@torch.no_grad()
def image_features(cfg, w, pixels):
    """pixels: [B, 3, S, S] float32 -> [B, projection_dim], L2-normalised."""
    v = cfg["vision_config"]
    h, eps = v["hidden_size"], v.get("layer_norm_eps", 1e-5)
    x = F.conv2d(pixels, w["vision_model.embeddings.patch_embedding.weight"].float(), stride=v["patch_size"])
    x = x.flatten(2).transpose(1, 2)
    cls = w["vision_model.embeddings.class_embedding"].float().expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1) + w["vision_model.embeddings.position_embedding.weight"].float()
    x = F.layer_norm(x, (h,), w["vision_model.pre_layrnorm.weight"].float(), w["vision_model.pre_layrnorm.bias"].float(), eps)
    x = _encoder(x, w, "vision_model", v, causal=False)
    pooled = F.layer_norm(x[:, 0], (h,), w["vision_model.post_layernorm.weight"].float(),
                          w["vision_model.post_layernorm.bias"].float(), eps)
    out = F.linear(pooled, w["visual_projection.weight"].float())
    return out / out.norm(dim=-1, keepdim=True)


@torch.no_grad()
def text_features(cfg, w, input_ids):
    """input_ids: [B, T] int64 (padded as the caller likes) -> [B, dim]."""
    t = cfg["text_config"]
    h, eps = t["hidden_size"], t.get("layer_norm_eps", 1e-5)
    n = input_ids.shape[1]
    x = w["text_model.embeddings.token_embedding.weight"].float()[input_ids]
    x = x + w["text_model.embeddings.position_embedding.weight"].float()[:n]
    x = _encoder(x, w, "text_model", t, causal=True)
    x = F.layer_norm(x, (h,), w["text_model.final_layer_norm.weight"].float(),
                     w["text_model.final_layer_norm.bias"].float(), eps)
    eos = t.get("eos_token_id", 2)
    if eos == 2:
        pos = input_ids.to(torch.int).argmax(dim=-1)
    else:
        pos = (input_ids == eos).int().argmax(dim=-1)
    pooled = x[torch.arange(x.shape[0]), pos]
    out = F.linear(pooled, w["text_projection.weight"].float())
    return out / out.norm(dim=-1, keepdim=True)


def write_model(dirpath, cfg, seed=0, dtype=torch.float32):
    """Writes config.json + model.safetensors; returns the weights dict."""
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import safetensors_io
    os.makedirs(dirpath, exist_ok=True)
    w = random_weights(cfg, seed, dtype)
    with open(os.path.join(dirpath, "config.json"), "w") as f:
        json.dump(full_config(cfg), f, indent=2)
    safetensors_io.save(w, os.path.join(dirpath, "model.safetensors"))
    return w
