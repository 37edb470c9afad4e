"""Writes the hand-made corrupt safetensors files replayed by
tests/unit/test_enc_safetensors.c (tests/fixtures/encoders/safetensors_corrupt).
Each file name says what is wrong with it. Run once; the files are committed."""
import json
import os
import struct

out = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "encoders", "safetensors_corrupt")
os.makedirs(out, exist_ok=True)


def st(header, data=b"", raw_header=None, hlen=None):
    h = raw_header if raw_header is not None else json.dumps(header).encode()
    n = len(h) if hlen is None else hlen
    return struct.pack("<Q", n) + h + data


good = {"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}
cases = {
    "empty": b"",
    "short_length": b"\x05\x00\x00",
    "header_past_end": st(good, b"\0" * 16, hlen=4096),
    "header_len_huge": st(good, b"\0" * 16, hlen=(1 << 63)),
    "not_json": st(None, b"", raw_header=b"{not json"),
    "json_array": st([1, 2, 3]),
    "bad_dtype": st({"a": {"dtype": "F33", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
    "negative_dim": st({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4),
    "fractional_dim": st({"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}, b"\0" * 4),
    "rank_9": st({"a": {"dtype": "F32", "shape": [1] * 9, "data_offsets": [0, 4]}}, b"\0" * 4),
    "offsets_past_end": st({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8),
    "offsets_reversed": st({"a": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}}, b"\0" * 8),
    "size_mismatch": st({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}, b"\0" * 16),
    "overflow_shape": st({"a": {"dtype": "F32", "shape": [1 << 40, 1 << 40], "data_offsets": [0, 16]}}, b"\0" * 16),
    "overlap": st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                   "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 16),
    "missing_offsets": st({"a": {"dtype": "F32", "shape": [2]}}, b"\0" * 8),
    "one_offset": st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}, b"\0" * 8),
    "metadata_not_object": st({"__metadata__": 3, **good}, b"\0" * 16),
    "tensor_not_object": st({"a": [1, 2]}, b""),
    "truncated_json": st(None, b"", raw_header=json.dumps(good).encode()[:-5]),
}
for name, data in cases.items():
    with open(os.path.join(out, name + ".safetensors"), "wb") as f:
        f.write(data)
print(len(cases), "files in", out)
