"""Trains a small BPE vocabulary with CLIP's layout (256 byte symbols, the
same with "</w>", one token per merge, then <|startoftext|>, <|endoftext|>).

Run as a program it writes tests/fixtures/encoders/bpe/{vocab.json,merges.txt}:
the corpus is the licence texts Debian ships plus multilingual phrases, so
merges exist for Latin, accented, CJK, Cyrillic, Greek and emoji byte
sequences. Run once; the output is committed (no real CLIP vocabulary can be
downloaded here). `train_bpe` and `write_bpe` are also imported by the
omni-tiny training (tools/omni_tiny/train.py) for its caption vocabulary."""
import collections
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_clip_tokenizer import PAT, byte_table  # noqa: E402

MERGES = 4000
PHRASES = [
    "a photo of a cat", "a photo of a dog", "ankle boot", "the quick brown fox jumps over the lazy dog",
    "café crème brûlée naïve façade jalapeño Ångström über straße", "élève à côté",
    "東京は日本の首都です", "我喜欢吃北京烤鸭", "こんにちは世界", "カタカナのテスト", "한국어 문장입니다",
    "Привет мир как дела", "Καλημέρα κόσμε οδός", "مرحبا بالعالم", "नमस्ते दुनिया",
    "😀😃😄 👍🏽 👨‍👩‍👧 🇫🇷 ❤️ 🐈 🐕", "it's don't we'll they've I'm you'd we're",
    "12345 3.14159 2026-11-28 $100 50% #hashtag @user", "red green blue yellow black white",
]


def train_bpe(texts, max_merges):
    """Texts -> (vocab dict token -> id, merges list of pairs), CLIP layout:
    lowercased, split by CLIP's regex, GPT-2 byte symbols, "</w>" on the last
    symbol, the most frequent pair merged each round (ties: the larger pair)."""
    table = byte_table()
    counts = collections.Counter()
    for t in texts:
        for tok in PAT.findall(t.lower()):
            counts["".join(table[b] for b in tok.encode("utf-8"))] += 1
    words = {tuple(w[:-1]) + (w[-1] + "</w>",): c for w, c in counts.items()}
    merges = []
    for _ in range(max_merges):
        pairs = collections.Counter()
        for w, c in words.items():
            for i in range(len(w) - 1):
                pairs[w[i], w[i + 1]] += c
        if not pairs:
            break
        (a, b), _n = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        merges.append((a, b))
        nw = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            nw[tuple(out)] = nw.get(tuple(out), 0) + c
        words = nw
    vocab = list(table.values())
    vocab += [v + "</w>" for v in vocab]
    for a, b in merges:
        vocab.append(a + b)
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    seen, ids = set(), {}
    for v in vocab:
        if v not in seen:
            seen.add(v)
            ids[v] = len(ids)
    return ids, merges


def write_bpe(out, ids, merges):
    """Writes out/vocab.json and out/merges.txt as Hugging Face lays them out."""
    os.makedirs(out, exist_ok=True)
    json.dump(ids, open(os.path.join(out, "vocab.json"), "w", encoding="utf-8"), ensure_ascii=False)
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")


def main():
    text = []
    for f in sorted(glob.glob("/usr/share/common-licenses/*")):
        if os.path.isfile(f):
            text.append(open(f, encoding="utf-8", errors="ignore").read())
    text.extend(PHRASES * 30)
    ids, merges = train_bpe(text, MERGES)
    out = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "encoders", "bpe")
    write_bpe(out, ids, merges)
    print(len(ids), "tokens,", len(merges), "merges")


if __name__ == "__main__":
    main()
