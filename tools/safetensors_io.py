"""A small safetensors writer and reader (the format, not the library: the
`safetensors` package is not in Debian). Used by the encoder parity tests to
write random weights in Hugging Face names and shapes, and to build corrupt
files on purpose.

Format: u64 little-endian header length, JSON header {name: {dtype, shape,
data_offsets: [begin, end]}, "__metadata__": {...}}, padded with spaces to a
multiple of 8, then the tensors' bytes back to back.
"""
import json
import struct

import numpy as np
import torch

_DT = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64",
       torch.int32: "I32", torch.uint8: "U8"}


def tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def encode(tensors, metadata=None):
    """dict name -> torch tensor  =>  bytes of a .safetensors file."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        b = tensor_bytes(t)
        header[name] = {"dtype": _DT[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def save(tensors, path, metadata=None):
    with open(path, "wb") as f:
        f.write(encode(tensors, metadata or {"format": "pt"}))


def load(path):
    """.safetensors -> dict name -> torch tensor (float types only)."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, d in header.items():
        if name == "__metadata__":
            continue
        b, e = d["data_offsets"]
        buf = data[b:e]
        if d["dtype"] == "F32":
            a = torch.from_numpy(np.frombuffer(buf, dtype=np.float32).copy())
        elif d["dtype"] == "F16":
            a = torch.from_numpy(np.frombuffer(buf, dtype=np.float16).copy())
        elif d["dtype"] == "BF16":
            a = torch.from_numpy(np.frombuffer(buf, dtype=np.int16).copy()).view(torch.bfloat16)
        else:
            continue
        out[name] = a.reshape(d["shape"])
    return out
