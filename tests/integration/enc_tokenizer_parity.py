"""The C CLIP tokenizer vs tools/ref_clip_tokenizer.py (an independent
Python implementation) on 1,500 generated strings mixing English, accents
(precomposed and combining), CJK, Hangul, Cyrillic, Greek (final sigma),
Arabic, Devanagari, emoji (ZWJ, skin tones, flags), digits, punctuation,
contractions, odd whitespace, special-token text and over-long inputs, with
the committed BPE fixture (tests/fixtures/encoders/bpe). Every id sequence
must be identical."""
import os
import random

from enc_common import TOP, report, tool, finish
from ref_clip_tokenizer import ClipTokenizer

BPE = os.path.join(TOP, "tests", "fixtures", "encoders", "bpe")
POOLS = [
    "a photo of a cat", "The Quick Brown FOX", "ankle boot", "licence", "Software Foundation", "GNU",
    "café", "CAFÉ", "cafe\u0301", "naïve", "Ångström", "ÜBER", "straße", "STRASSE", "jalapeño", "Ærø",
    "東京", "日本語のテキスト", "我喜欢吃北京烤鸭", "カタカナ", "ｶﾀｶﾅ", "한국어", "한국어 문장입니다",
    "Привет", "МИР", "ΟΔΟΣ", "Καλημέρα", "مرحبا", "नमस्ते", "ﬁ ligature", "x²", "Ⅻ", "½", "٣",
    "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "🐈🐕", "🤖✨",
    "it's", "DON'T", "we'll", "they've", "I'm", "you'd", "we're", "o'clock", "'s", "rock'n'roll",
    "12345", "3.14159", "2026-11-28", "$100", "50%", "#hashtag", "@user", "a+b=c", "<tag>", "&amp;",
    "<|startoftext|>", "<|endoftext|>", "<|ENDOFTEXT|>", "<|endof", "!!!", "...", "?!", "--", "«»", "“quoted”",
    "İstanbul", "ǅ", "Ω", "µ", "K", "\u00a0", "\u3000", "\u2028", "\u200b", "\t", "\n", "  ", "\r\n",
]


def gen(rng, n):
    out = []
    for i in range(n):
        k = rng.randint(1, 12)
        parts = [rng.choice(POOLS) for _ in range(k)]
        seps = [rng.choice([" ", " ", " ", "", "  ", "\t", "\n", ", ", ". ", "\u3000"]) for _ in range(k)]
        s = "".join(p + q for p, q in zip(parts, seps))
        if i % 97 == 0:
            s = " ".join(rng.choice(POOLS) for _ in range(60))     # truncation
        if i % 89 == 0:
            s = "".join(chr(rng.randint(0x20, 0x2FFF)) for _ in range(rng.randint(1, 40)))  # random BMP
        if i % 101 == 0:
            s = "a" * rng.randint(100, 400)                        # one long word
        if i % 103 == 0:
            s = ""
        out.append(s)
    return out


def escape(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def main():
    rng = random.Random(4)
    texts = gen(rng, 1500)
    ref = ClipTokenizer(os.path.join(BPE, "vocab.json"), os.path.join(BPE, "merges.txt"))
    stdin = ("\n".join(escape(t) for t in texts) + "\n").encode("utf-8")
    r = tool("tokenize", os.path.join(BPE, "vocab.json"), os.path.join(BPE, "merges.txt"), 77, stdin=stdin)
    lines = r.stdout.decode().split("\n")[: len(texts)]
    bad = []
    for t, line in zip(texts, lines):
        want = ref.encode(t)
        got = [int(x) for x in line.split()] if line and not line.startswith("ERR") else line
        if got != want:
            bad.append((t, want, got))
    detail = "\n".join("text %r\n want %s\n got  %s" % b for b in bad[:5])
    report(f"tokenizer: {len(texts) - len(bad)}/{len(texts)} strings identical to the Python implementation",
           len(lines) == len(texts) and not bad, detail)
    multi = sum(1 for t in texts if any(ord(c) > 0x2E80 for c in t))
    report(f"tokenizer: corpus covers CJK/emoji ({multi} strings) and truncation", multi > 300)
    finish()


main()
