"""CLIP's byte-level BPE tokenizer in Python, written independently of the C
one (encoders/tokenizer/clip_bpe.c) to check it. It follows OpenAI's
simple_tokenizer / Hugging Face's CLIPTokenizerFast rules: NFC, whitespace
runs -> one space, strip, lowercase, the CLIP regex (with the `regex`
module for \\p{L} / \\p{N}), GPT-2's byte-to-unicode table, "</w>" on the last
symbol of each word, greedy lowest-rank merges, <|startoftext|> ... 
<|endoftext|>, truncation to the context length keeping the end token.
(ftfy's mojibake repair and html.unescape of OpenAI's original are not
applied: Hugging Face's fast tokenizer does not apply them either.)"""
import json
import unicodedata

import regex

PAT = regex.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
                    regex.IGNORECASE)
WS = regex.compile(r"\s+")


def byte_table():
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


class ClipTokenizer:
    def __init__(self, vocab_path, merges_path):
        self.vocab = json.load(open(vocab_path, encoding="utf-8"))
        lines = open(merges_path, encoding="utf-8").read().split("\n")
        if lines and lines[0].startswith("#version"):
            lines = lines[1:]
        self.ranks = {}
        for i, ln in enumerate(x for x in lines if x):
            a, b = ln.split(" ")
            self.ranks.setdefault((a, b), i)
        self.table = byte_table()
        self.bos = self.vocab["<|startoftext|>"]
        self.eos = self.vocab["<|endoftext|>"]
        self.cache = {}

    def clean(self, text):
        text = unicodedata.normalize("NFC", text)
        text = WS.sub(" ", text).strip()
        return text.lower()

    def bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        syms = list(word[:-1]) + [word[-1] + "</w>"]
        while len(syms) > 1:
            best = min(((self.ranks.get((syms[i], syms[i + 1]), 1 << 60), i) for i in range(len(syms) - 1)))
            if best[0] == 1 << 60:
                break
            a, b = syms[best[1]], syms[best[1] + 1]
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == a and syms[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            syms = out
        self.cache[word] = syms
        return syms

    def encode(self, text, context=77):
        ids = [self.bos]
        for tok in PAT.findall(self.clean(text)):
            if tok == "<|startoftext|>":
                ids.append(self.bos)
                continue
            if tok == "<|endoftext|>":
                ids.append(self.eos)
                continue
            word = "".join(self.table[b] for b in tok.encode("utf-8"))
            ids.extend(self.vocab.get(s, self.eos) for s in self.bpe(word))
        ids = ids[: context - 1] + [self.eos]
        return ids
