"""The layer rules of docs/architecture.md, checked over every #include of
the shipped code, so they stay true:
  - protobuf-c, gRPC and the generated omnidex.v1 headers only inside rpc/;
  - query/engine.h (the engine's private layouts) only inside query/;
  - index/ never sees LMDB or storage/; storage/ never sees FAISS or index/;
  - encoders/ knows nothing of collections (no query/, storage/, index/, rpc/);
  - rpc/ reaches the engine only through the public headers (no query/);
  - cli/ includes only public headers (include/) and its own cli/ headers;
  - no include cycle between folders, and none between files inside one.
Each rule is checked on the tree as it is; a violation names the file and
line."""
import os
import re
import sys

TOP = os.environ.get("OMNIDEX_TOP", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
SHIPPED = ["common", "storage", "index", "encoders", "query", "rpc", "cli", "include"]
failed = 0


def ok(cond, name, detail=""):
    global failed
    print(("ok - " if cond else "not ok - ") + name, flush=True)
    if not cond:
        failed += 1
        for line in str(detail).splitlines()[:30]:
            print("# " + line)


inc_re = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
files = []
for d in SHIPPED:
    for root, _, names in os.walk(os.path.join(TOP, d)):
        for n in names:
            if n.endswith((".c", ".h", ".cpp", ".cu")):
                files.append(os.path.relpath(os.path.join(root, n), TOP))
ok(len(files) > 50, "found the shipped sources (%d files)" % len(files))

includes = {}  # file -> [(line, kind, target)]
for f in files:
    with open(os.path.join(TOP, f), errors="replace") as fh:
        for i, line in enumerate(fh, 1):
            m = inc_re.match(line)
            if m:
                includes.setdefault(f, []).append((i, m.group(1), m.group(2)))


def folder(path):
    return path.split("/", 1)[0]


def resolve(f, target):
    """A quoted include as a path from the top (the build uses -I. -Iinclude)."""
    for cand in (target, os.path.join("include", target), os.path.join(os.path.dirname(f), target)):
        if os.path.exists(os.path.join(TOP, cand)):
            return os.path.normpath(cand)
    return None


def violations(pred):
    out = []
    for f, incs in sorted(includes.items()):
        for line, kind, target in incs:
            why = pred(f, kind, target)
            if why:
                out.append("%s:%d: #include %s%s%s (%s)" % (f, line, kind, target, ">" if kind == "<" else '"', why))
    return out


def pb_outside_rpc(f, kind, t):
    if folder(f) == "rpc":
        return None
    if t.startswith(("protobuf-c/", "grpc/")) or t.endswith(".pb-c.h"):
        return "protobuf-c/gRPC outside rpc/"
    return None


def engine_outside_query(f, kind, t):
    if t == "query/engine.h" and folder(f) != "query":
        return "engine internals outside query/"
    return None


def index_storage(f, kind, t):
    if folder(f) == "index" and (t == "lmdb.h" or t.startswith("storage/")):
        return "index/ must not see LMDB"
    if folder(f) == "storage" and (t.startswith("faiss/") or t.startswith("index/")):
        return "storage/ must not see FAISS"
    return None


def encoders_alone(f, kind, t):
    if folder(f) == "encoders" and kind == '"' and t.split("/")[0] in ("query", "storage", "index", "rpc", "cli"):
        return "encoders/ knows nothing of collections"
    return None


def rpc_public(f, kind, t):
    if folder(f) == "rpc" and kind == '"' and t.split("/")[0] in ("query", "storage", "index", "encoders", "cli"):
        return "rpc/ uses the public API only"
    return None


def cli_public(f, kind, t):
    if folder(f) != "cli" or kind == "<":
        return None
    top = t.split("/")[0]
    if "/" not in t and os.path.exists(os.path.join(TOP, "include", t)):
        return None  # a public header
    if top == "cli":
        return None
    return "cli/ includes public headers and cli/ only"


for name, pred in [("protobuf-c and gRPC headers only inside rpc/", pb_outside_rpc),
                   ("query/engine.h only inside query/", engine_outside_query),
                   ("index/ without LMDB, storage/ without FAISS", index_storage),
                   ("encoders/ include no collection layer", encoders_alone),
                   ("rpc/ reaches the engine through public headers only", rpc_public),
                   ("cli/ includes only public headers (and its own)", cli_public)]:
    v = violations(pred)
    ok(not v, name, "\n".join(v))

# Folder graph: an edge A -> B when a file of A includes a file of B.
edges = {}
for f, incs in includes.items():
    for line, kind, t in incs:
        if kind != '"':
            continue
        r = resolve(f, t)
        if r and folder(r) != folder(f):
            edges.setdefault(folder(f), set()).add(folder(r))


def find_cycle(graph):
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if not state.get(m):
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if not state.get(n):
            c = visit(n)
            if c:
                return c
    return None


c = find_cycle(edges)
ok(c is None, "no include cycle between folders", " -> ".join(c or []) + "\n" +
   "\n".join("%s -> %s" % (a, ", ".join(sorted(b))) for a, b in sorted(edges.items())))
fgraph = {}
for f, incs in includes.items():
    for line, kind, t in incs:
        r = resolve(f, t) if kind == '"' else None
        if r and r != f:
            fgraph.setdefault(f, set()).add(r)
c = find_cycle(fgraph)
ok(c is None, "no include cycle between files", " -> ".join(c or []))
print("# folder graph: " + "; ".join("%s -> %s" % (a, ",".join(sorted(b))) for a, b in sorted(edges.items())))
sys.exit(1 if failed else 0)
