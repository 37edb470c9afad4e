#!/usr/bin/env python3
"""Every PLY/OBJ/OFF/STL/GLB file of Debian's assimp-testmodels through
`mesh-tool decode`: each one decodes or fails with a clear error
(ODX_EMEDIA/ODX_ELIMIT, the format named, no crash, no hang). For PLY, OFF
and STL the vertex and triangle counts are checked against an independent
Python parse written here from the format descriptions; where that parse
finds the file broken, the C decoder must refuse it too.
"""
import json
import os
import re
import struct
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import enc_common as E  # noqa: E402

MESH_TOOL = os.path.join(E.BUILD, "mesh-tool")
EXTS = (".ply", ".obj", ".off", ".stl", ".glb")


class Broken(Exception):
    pass


PLY_T = {"char": "b", "int8": "b", "uchar": "B", "uint8": "B", "short": "h", "int16": "h",
         "ushort": "H", "uint16": "H", "int": "i", "int32": "i", "uint": "I", "uint32": "I",
         "float": "f", "float32": "f", "double": "d", "float64": "d"}


def parse_ply(data):
    """(vertices, triangles after fan triangulation)."""
    end = data.find(b"end_header")
    if end < 0:
        raise Broken("no end_header")
    nl = data.index(b"\n", end) + 1
    header = data[:nl].decode("latin-1").splitlines()
    fmt, elems = None, []
    for line in header[1:]:
        w = line.split()
        if not w:
            continue
        if w[0] == "format":
            fmt = w[1]
        elif w[0] == "element":
            elems.append((w[1], int(w[2]), []))
        elif w[0] == "property":
            elems[-1][2].append(w[1:])
    body = data[nl:]
    nv = tris = 0
    if fmt == "ascii":
        toks = body.split()
        pos = 0

        def nxt():
            nonlocal pos
            if pos >= len(toks):
                raise Broken("truncated")
            pos += 1
            return float(toks[pos - 1])
        for name, count, props in elems:
            for _ in range(count):
                for p in props:
                    if p[0] == "list":
                        n = nxt()
                        if n != int(n) or n < 0:
                            raise Broken("bad list length")
                        n = int(n)
                        for _ in range(n):
                            nxt()
                        if name == "face" and p[-1] in ("vertex_indices", "vertex_index") and n >= 3:
                            tris += n - 2
                    else:
                        nxt()
            if name == "vertex":
                nv = count
    else:
        e = "<" if fmt == "binary_little_endian" else ">"
        pos = 0

        def rd(t):
            nonlocal pos
            s = struct.calcsize(PLY_T[t])
            if pos + s > len(body):
                raise Broken("truncated")
            v = struct.unpack_from(e + PLY_T[t], body, pos)[0]
            pos += s
            return v
        for name, count, props in elems:
            for _ in range(count):
                for p in props:
                    if p[0] == "list":
                        n = rd(p[1])
                        for _ in range(n):
                            rd(p[2])
                        if name == "face" and p[-1] in ("vertex_indices", "vertex_index") and n >= 3:
                            tris += n - 2
                    else:
                        rd(p[0])
            if name == "vertex":
                nv = count
    return nv, tris


def parse_off(data):
    lines = [ln.split("#")[0].split() for ln in data.decode("latin-1").splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines or not lines[0][0].endswith("OFF"):
        raise Broken("no OFF keyword")
    counts = lines[0][1:] if len(lines[0]) > 1 else lines[1]
    rest = lines[1:] if len(lines[0]) > 1 else lines[2:]
    try:
        nv, nf = int(counts[0]), int(counts[1])
    except (ValueError, IndexError):
        raise Broken("bad counts")
    if nv > 5000000:
        raise Broken("limit")
    if len(rest) < nv + nf:
        raise Broken("truncated")
    for ln in rest[:nv]:
        if len(ln) < 3:
            raise Broken("short vertex line")
        [float(x) for x in ln[:3]]
    tris = 0
    for ln in rest[nv:nv + nf]:
        n = int(ln[0])
        if len(ln) < 1 + n or any(not 0 <= int(x) < nv for x in ln[1:1 + n]):
            raise Broken("bad face")
        tris += max(n - 2, 0)
    return nv, tris


def parse_stl(data):
    if len(data) >= 84:
        n = struct.unpack_from("<I", data, 80)[0]
        if 84 + 50 * n == len(data):
            return 3 * n, n
    text = data.decode("latin-1")
    n = len(re.findall(r"\bendfacet\b", text))
    if not text.lstrip().startswith("solid") or n == 0:
        raise Broken("not ascii STL")
    return 3 * n, n


PARSERS = {".ply": parse_ply, ".off": parse_off, ".stl": parse_stl}


def main():
    r = subprocess.run(["dpkg", "-L", "assimp-testmodels"], capture_output=True, text=True)
    files = sorted(p for p in r.stdout.split() if p.lower().endswith(EXTS) and os.path.isfile(p))
    if not files:
        E.report("assimp-testmodels installed", False, "dpkg -L assimp-testmodels lists no meshes")
        E.finish()
    decoded = refused = 0
    per_ext = {}
    for path in files:
        ext = os.path.splitext(path)[1].lower()
        name = os.path.relpath(path, "/usr/share/assimp/models")
        try:
            p = subprocess.run([MESH_TOOL, "decode", path], capture_output=True, timeout=60)
        except subprocess.TimeoutExpired:
            E.report("%s: decodes within 60 s" % name, False)
            continue
        if p.returncode not in (0, 2):
            E.report("%s: exit %d (crash?)" % (name, p.returncode), False, p.stderr.decode(errors="replace")[-400:])
            continue
        out = json.loads(p.stdout)
        st = per_ext.setdefault(ext, [0, 0])
        if p.returncode == 0:
            decoded += 1
            st[0] += 1
            ok = out["vertices"] > 0 and out["faces"] >= 0 and all(np.isfinite(out["bbox"][0] + out["bbox"][1]))
            detail = "%s: %d vertices, %d triangles" % (out["format"], out["vertices"], out["faces"])
        else:
            refused += 1
            st[1] += 1
            ok = out["error"] in ("bad media", "over a limit") and len(out["message"]) > 5
            fmt_named = out["format"] == "unknown" or out["format"] in out["message"] or out["message"].startswith("empty")
            ok = ok and fmt_named
            detail = "refused: %s: %s" % (out["error"], out["message"])
        if ext in PARSERS:
            data = open(path, "rb").read()
            try:
                want = PARSERS[ext](data)
            except (Broken, ValueError, struct.error, IndexError) as e:
                want = None
                why = str(e)
            if want is None:
                same = p.returncode == 2
                detail += "; Python parse: broken (%s)" % why
            else:
                same = p.returncode == 0 and (out["vertices"], out["faces"]) == want
                detail += "; Python parse: %d vertices, %d triangles" % want
            ok = ok and same
        E.report("%s: %s" % (name, "decodes" if p.returncode == 0 else "clear error"), ok, detail)
    summary = ", ".join("%s %d decoded / %d refused" % (e, d, f) for e, (d, f) in sorted(per_ext.items()))
    E.report("%d files: %d decoded, %d refused with a clear error (%s)" % (len(files), decoded, refused, summary),
             decoded + refused == len(files))
    E.finish()


if __name__ == "__main__":
    main()
