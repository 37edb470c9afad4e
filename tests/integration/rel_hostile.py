"""Hostile input corpus (tests/fixtures/bad/, made by tools/make_bad_corpus.py)
through the CLI and over gRPC. A file named refuse_* must be refused with a
clear error (CLI: exit status 1 and an "omnidex: error:" line; gRPC: a
client-fault status with a message); any_* may be accepted or refused. Never
a crash, a signal or INTERNAL/UNKNOWN; the server is healthy afterwards and
still answers a normal search. Media go to a collection bound to a tiny CLIP
space (tools/ref_clip.py), vectors to a plain one of the same dimension."""
import json
import os
import shutil
import struct
import subprocess
import sys

TOP = os.environ.get("OMNIDEX_TOP", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
sys.path.insert(0, os.path.join(TOP, "tools"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_clip  # noqa: E402
from ref_clip_tokenizer import ClipTokenizer  # noqa: E402
import rpc_common  # noqa: E402
from core_tap import OMNIDEX, tmpdir  # noqa: E402

ok = rpc_common.ok
BAD = os.path.join(TOP, "tests", "fixtures", "bad")
CRASH_WORDS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "Segmentation fault", "Aborted", "core dumped")

d = tmpdir("omnidex-hostile-")
models = os.path.join(d, "models")
os.environ["OMNIDEX_MODELS"] = models
from tiny_space import make_tiny_space  # noqa: E402
space_dir, cfg, _, tok = make_tiny_space(models, towers=True)  # every media decoder is reached
DIM = cfg["projection_dim"]
# One space per malformed safetensors file: a copy of the working one.
st_files = sorted(os.listdir(os.path.join(BAD, "safetensors")))
for i, name in enumerate(st_files):
    sd = os.path.join(models, "bad-st-%02d" % i)
    shutil.copytree(space_dir, sd)
    weights = [x for x in os.listdir(sd) if x.endswith(".safetensors")]
    for w in weights:
        shutil.copy(os.path.join(BAD, "safetensors", name), os.path.join(sd, w))

data = os.path.join(d, "db")


def cli(*args):
    p = subprocess.run([OMNIDEX, "--data", data, *args], capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


for args in (("collection", "create", "mm", "--dim", str(DIM), "--space", "tiny-clip"),
             ("collection", "create", "vec", "--dim", str(DIM), "--metric", "l2")):
    rc, out, err = cli(*args)
    ok(rc == 0, "setup: " + " ".join(args[:3]), err)
good = [0.1 + 0.01 * i for i in range(DIM)]
seed_jsonl = os.path.join(d, "seed.jsonl")
with open(seed_jsonl, "w") as f:
    for i in range(20):
        f.write(json.dumps({"id": "s%d" % i, "vector": [x * (1 + i % 5) + 0.01 * i for x in good],
                            "metadata": {"n": i, "label": "even" if i % 2 == 0 else "odd"}}) + "\n")
rc, out, err = cli("put", "vec", "--jsonl", seed_jsonl)
ok(rc == 0, "setup: 20 good vectors", err)


def files(sub):
    p = os.path.join(BAD, sub)
    return [(n, os.path.join(p, n)) for n in sorted(os.listdir(p))]


def check_cli(tally, name, rc, err, max_lines=1):
    """One outcome of a CLI run on a corpus file. `ingest` names the file
    twice (the item's error, then "skipped"): tests/RELIABILITY.md."""
    must = name.startswith("refuse_")
    lines = [x for x in err.splitlines() if x.strip()]
    crashed = rc < 0 or rc >= 128 or any(w in err for w in CRASH_WORDS)
    has_err = any(x.startswith("omnidex: error:") for x in lines)
    good_err = rc == 1 and has_err and len([x for x in lines if x.startswith("omnidex: error:")]) <= max_lines
    if crashed:
        tally["crash"].append("%s: rc %d %s" % (name, rc, err[-300:]))
    elif must and not good_err:
        tally["bad"].append("%s: rc %d stderr %r" % (name, rc, err[-300:]))
    elif not must and rc not in (0, 1):
        tally["bad"].append("%s: rc %d" % (name, rc))
    elif rc == 1 and not has_err:
        tally["bad"].append("%s: exit 1 without an error line: %r" % (name, err[-300:]))
    tally["n"] += 1


def report(tally, what):
    ok(not tally["crash"], "%s: no crash over %d files" % (what, tally["n"]), "\n".join(tally["crash"][:10]))
    ok(not tally["bad"], "%s: clear errors (%d files)" % (what, tally["n"]), "\n".join(tally["bad"][:10]))


def new_tally():
    return {"n": 0, "crash": [], "bad": []}


# ---- CLI ----------------------------------------------------------------------
t = new_tally()
for name, path in files("media") + files("text"):
    rc, out, err = cli("ingest", "mm", path)
    check_cli(t, name, rc, err, max_lines=2)
report(t, "CLI ingest of media and text")

t = new_tally()
for name, path in files("media"):
    if name.endswith((".jpg", ".png", ".webp", ".gif", ".bmp")):
        rc, out, err = cli("search", "mm", "--image", path, "--k", "3")
        check_cli(t, name, rc, err)
report(t, "CLI search --image")

t = new_tally()
for name, path in files("vectors"):
    rc, out, err = cli("put", "vec", "--fvecs" if name.endswith(".fvecs") else "--jsonl", path)
    check_cli(t, name, rc, err)
report(t, "CLI put of bad vectors")
# Every refuse_*.jsonl holds a good row "ok1" then a bad row (id "a" where
# the id is not the fault): the bad rows are nowhere.
rc, out, err = cli("get", "vec", "a")
ok(rc == 1 and "omnidex: error:" in err, "no bad row was stored", out + err)

t = new_tally()
for name, path in files("filters"):
    with open(path, "rb") as f:
        expr = f.read()
    rc, out, err = (lambda p: (p.returncode, "", p.stderr.decode(errors="replace")))(subprocess.run(
        [OMNIDEX, "--data", data, "search", "vec", "--vector", ",".join(str(x) for x in good), "--filter", expr],
        capture_output=True, timeout=120))
    check_cli(t, name, rc, err)
report(t, "CLI search --filter")

t = new_tally()
for i, name in enumerate(st_files):
    rc, out, err = cli("embed", "--space", "bad-st-%02d" % i, "--text", "a cat")
    check_cli(t, name, rc, err)
    rc, out, err = cli("models", "verify", "bad-st-%02d" % i)
    check_cli(t, name, rc, err)
report(t, "CLI embed/verify with malformed safetensors")

# ---- gRPC ---------------------------------------------------------------------
rpc_common.gen_stubs()
import grpc  # noqa: E402
from odx_health import health_pb2, health_pb2_grpc  # noqa: E402
from omnidex.v1 import omnidex_pb2 as pb, omnidex_pb2_grpc as pbg  # noqa: E402

FAULT = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.RESOURCE_EXHAUSTED,
         grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.ALREADY_EXISTS}


def varint(v):
    out = b""
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def fld(num, payload):
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def check_rpc(tally, name, fn, internal_ok=False):
    """internal_ok: a corrupt file on the server's side (a model) may
    answer INTERNAL (tests/RELIABILITY.md); the server must live on."""
    must = name.startswith("refuse_")
    try:
        fn()
        code, details = grpc.StatusCode.OK, ""
    except grpc.RpcError as e:
        code, details = e.code(), e.details() or ""
    tally["n"] += 1
    if internal_ok and code == grpc.StatusCode.INTERNAL and details.strip():
        pass
    elif code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNAVAILABLE):
        tally["crash"].append("%s: %s %s" % (name, code, details[:200]))
    elif code == grpc.StatusCode.OK:
        if must:
            tally["bad"].append("%s: accepted" % name)
    elif code not in FAULT or not details.strip():
        tally["bad"].append("%s: %s %r" % (name, code, details[:200]))
    tally.setdefault("codes", {}).setdefault(code.name, 0)
    tally["codes"][code.name] += 1


MOD = {"jpg": pb.MODALITY_IMAGE, "png": pb.MODALITY_IMAGE, "webp": pb.MODALITY_IMAGE, "gif": pb.MODALITY_IMAGE,
       "bmp": pb.MODALITY_IMAGE, "bin": pb.MODALITY_IMAGE, "wav": pb.MODALITY_AUDIO, "mp3": pb.MODALITY_AUDIO,
       "flac": pb.MODALITY_AUDIO, "mp4": pb.MODALITY_VIDEO, "webm": pb.MODALITY_VIDEO, "ply": pb.MODALITY_MESH,
       "obj": pb.MODALITY_MESH, "stl": pb.MODALITY_MESH}

os.makedirs(os.path.join(d, "srv"))
srv = rpc_common.Server("--max-message-mb", "8", data=os.path.join(d, "srv"), models=models)
srv.start()
try:
    ch = grpc.insecure_channel(srv.addr)
    stub = pbg.OmnidexStub(ch)
    raw = lambda m: ch.unary_unary("/omnidex.v1.Omnidex/" + m)  # noqa: E731
    stub.CreateCollection(pb.CreateCollectionRequest(name="mm", dim=DIM, space="tiny-clip"), timeout=30)
    stub.CreateCollection(pb.CreateCollectionRequest(name="c", dim=DIM, metric=pb.METRIC_L2), timeout=30)
    stub.Upsert(pb.UpsertRequest(collection="c", items=[pb.Item(id="g%d" % i, vector=pb.Vector(values=[x + i for x in good]))
                                                        for i in range(10)]), timeout=30)

    t = new_tally()
    for name, path in files("media"):
        with open(path, "rb") as f:
            blob = f.read()
        ext = name.rsplit(".", 1)[1]
        check_rpc(t, name, lambda: stub.Upsert(pb.UpsertRequest(collection="mm", items=[
            pb.Item(id=name, media=pb.Media(modality=MOD[ext], data=blob))]), timeout=60))
        if MOD[ext] == pb.MODALITY_IMAGE:
            check_rpc(t, name, lambda: stub.Search(pb.SearchRequest(collection="mm", parts=[
                pb.QueryPart(media=pb.Media(modality=MOD[ext], data=blob))]), timeout=60))
    report(t, "gRPC Upsert/Search of media")
    print("# media status codes: %s" % json.dumps(t.get("codes", {})))

    t = new_tally()
    for name, path in files("text"):
        with open(path, "rb") as f:
            blob = f.read()
        # Over gRPC an empty text is a valid (empty) caption (a NUL inside is
        # refused by the wire check, as invalid UTF-8 is).
        if name == "refuse_empty.txt":
            name = name.replace("refuse_", "any_")
        req = fld(1, b"mm") + fld(2, fld(1, name.encode()) + fld(4, blob))
        check_rpc(t, name, lambda: raw("Upsert")(req, timeout=60))
        sreq = fld(1, b"mm") + fld(2, fld(3, blob))
        check_rpc(t, name, lambda: raw("Search")(sreq, timeout=60))
    report(t, "gRPC text payloads")

    t = new_tally()
    for name, path in files("vectors"):
        if not name.endswith(".jsonl"):
            continue
        with open(path, "rb") as f:
            last = f.read().splitlines()[-1]
        try:
            row = json.loads(last)
            vals = [float(x) for x in row["vector"]]
            md = {k: v for k, v in (row.get("metadata") or {}).items()}
            item = pb.Item(id=row.get("id", ""), vector=pb.Vector(values=vals))
            for k, v in md.items():
                if isinstance(v, bool):
                    item.metadata[k].bool_value = v
                elif isinstance(v, int):
                    item.metadata[k].int_value = v
                elif isinstance(v, float):
                    item.metadata[k].float_value = v
                elif isinstance(v, str):
                    item.metadata[k].string_value = v
                else:
                    raise ValueError("nested")
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            continue  # not expressible as an Item: the CLI part covers it
        check_rpc(t, name, lambda: stub.Upsert(pb.UpsertRequest(collection="c", items=[item]), timeout=30))
    for dim in (0, 1, DIM - 1, DIM + 1, 5000):
        check_rpc(t, "refuse_dim_%d" % dim, lambda: stub.Upsert(pb.UpsertRequest(
            collection="c", items=[pb.Item(id="w", vector=pb.Vector(values=[0.5] * dim))]), timeout=30))
        check_rpc(t, "refuse_query_dim_%d" % dim, lambda: stub.Search(pb.SearchRequest(
            collection="c", parts=[pb.QueryPart(vector=pb.Vector(values=[0.5] * dim))]), timeout=30))
    for bad in (float("nan"), float("inf"), float("-inf")):
        check_rpc(t, "refuse_value_%s" % bad, lambda: stub.Upsert(pb.UpsertRequest(
            collection="c", items=[pb.Item(id="w", vector=pb.Vector(values=[bad] + good[1:]))]), timeout=30))
        check_rpc(t, "refuse_query_value_%s" % bad, lambda: stub.Search(pb.SearchRequest(
            collection="c", parts=[pb.QueryPart(vector=pb.Vector(values=[bad] + good[1:]))]), timeout=30))
    report(t, "gRPC bad vectors")

    t = new_tally()
    vec = fld(2, fld(1, struct.pack("<%df" % DIM, *good)))
    for name, path in files("filters"):
        with open(path, "rb") as f:
            expr = f.read()
        req = fld(1, b"c") + fld(2, vec) + fld(4, fld(6, expr))
        check_rpc(t, name, lambda: raw("Search")(req, timeout=60))
    report(t, "gRPC Search with bad filter expressions")

    t = new_tally()
    for name, path in files("proto"):
        method = name[len("refuse_"):].split("__")[0]
        with open(path, "rb") as f:
            blob = f.read()
        check_rpc(t, name, lambda: raw(method)(blob, timeout=30))
    report(t, "gRPC raw malformed request bytes")
    print("# proto status codes: %s" % json.dumps(t.get("codes", {})))

    t = new_tally()
    for i, name in enumerate(st_files):
        check_rpc(t, name, lambda: stub.Embed(pb.EmbedRequest(space="bad-st-%02d" % i, text="a cat"), timeout=60))
    report(t, "gRPC Embed with malformed safetensors")

    h = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
    ok(srv.alive() and h.status == health_pb2.HealthCheckResponse.SERVING, "server healthy after the whole corpus")
    r = stub.Search(pb.SearchRequest(collection="c", parts=[pb.QueryPart(vector=pb.Vector(values=good))], k=3), timeout=30)
    ok(len(r.hits) == 3 and r.hits[0].id == "g0", "a normal search still answers", str(r))
    ch.close()
finally:
    rc = srv.stop()
ok(rc == 0, "server exits 0 on SIGTERM after the corpus", srv.stderr())
ok(not any(w in srv.stderr() for w in CRASH_WORDS), "no sanitizer report in the server log", srv.stderr())
n = sum(len(os.listdir(os.path.join(BAD, s))) for s in os.listdir(BAD))
ok(n >= 200, "corpus has %d files" % n)
shutil.rmtree(d, ignore_errors=True)
rpc_common.done()
