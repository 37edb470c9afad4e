"""A tiny CLIP space with random weights in Hugging Face layout, for tests:
the text and vision towers of ref_clip.TINY, the committed BPE fixture as its
tokenizer, and a 32-pixel preprocessor config."""
import json
import os
import shutil

import ref_clip
from ref_clip_tokenizer import ClipTokenizer

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def make_tiny_space(models, name="tiny-clip", seed=5):
    """Writes models/name; returns (space_dir, config, weights, tokenizer)."""
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
    return space_dir, cfg, w, tok
