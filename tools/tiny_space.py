"""A tiny CLIP space with random weights in Hugging Face layout, for tests:
the text and vision towers of ref_clip.TINY, the committed BPE fixture as its
tokenizer, and a 32-pixel preprocessor config. With towers=True it also holds
a small audio tower (tools/ref_audio.py) and point tower (tools/ref_point.py)
over the same checkpoint, so every modality has an encoder."""
import json
import os
import shutil

import ref_clip
from ref_clip_tokenizer import ClipTokenizer

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


TINY_AUDIO = {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2, "num_hidden_layers": 1,
              "num_mel_bins": 32, "target_length": 48, "patch_size": 16, "patch_stride": 16,
              "clip_seconds": 0.5, "clips": 2}
TINY_POINT = {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2, "num_hidden_layers": 1,
              "num_points": 256, "num_groups": 16, "group_size": 16, "encoder_channels": [16, 32, 64]}


def make_tiny_space(models, name="tiny-clip", seed=5, towers=False):
    """Writes models/name; returns (space_dir, config, weights, tokenizer).
    With towers, config holds audio_config and point_config and weights the
    audio_model.* / point_model.* tensors too."""
    space_dir = os.path.join(models, name)
    bpe = os.path.join(TOP, "tests", "fixtures", "encoders", "bpe")
    tok = ClipTokenizer(os.path.join(bpe, "vocab.json"), os.path.join(bpe, "merges.txt"))
    cfg = json.loads(json.dumps(ref_clip.TINY))
    cfg["text_config"].update(vocab_size=len(tok.vocab), bos_token_id=tok.bos, eos_token_id=tok.eos)
    w = ref_clip.write_model(space_dir, cfg, seed=seed)
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(bpe, f), space_dir)
    with open(os.path.join(space_dir, "preprocessor_config.json"), "w") as f:
        json.dump({"size": {"shortest_edge": 32}, "crop_size": {"height": 32, "width": 32}}, f)
    if towers:
        import ref_audio
        import ref_point
        import safetensors_io
        pd = cfg["projection_dim"]
        ac, pc = ref_audio.config(TINY_AUDIO), ref_point.config(TINY_POINT)
        w.update(ref_audio.random_weights(ac, pd, seed=seed + 1))
        w.update(ref_point.random_weights(pc, pd, seed=seed + 2))
        safetensors_io.save(w, os.path.join(space_dir, "model.safetensors"))
        path = os.path.join(space_dir, "config.json")
        with open(path) as f:
            full = json.load(f)
        full["audio_config"], full["point_config"] = ac, pc
        with open(path, "w") as f:
            json.dump(full, f, indent=2)
        cfg["audio_config"], cfg["point_config"] = ac, pc
    return space_dir, cfg, w, tok
