"""omnidex gRPC API driven by Python grpcio (Debian) with stubs generated
at test time: collection admin, Upsert, UpsertStream of 10k vectors, Get,
Delete, Search with filters checked against a brute-force reference, health
(Check and Watch), every error code, deadlines, cancellation mid-stream,
bearer-token auth, and graceful shutdown."""
import os
import subprocess
import struct
import queue
import signal
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rpc_common import ok, done, gen_stubs, Server, code_of, structured_vectors, tmpdir, BIN  # noqa: E402

gen_stubs()
import grpc  # noqa: E402
from omnidex.v1 import omnidex_pb2 as pb, omnidex_pb2_grpc as pbg  # noqa: E402
from odx_health import health_pb2, health_pb2_grpc  # noqa: E402

SC = grpc.StatusCode
DIM = 16


def vec(v):
    return pb.Vector(values=v)


def item(id_, v, **meta):
    it = pb.Item(id=id_, vector=vec(v))
    for k, x in meta.items():
        if isinstance(x, bool):
            it.metadata[k].bool_value = x
        elif isinstance(x, int):
            it.metadata[k].int_value = x
        elif isinstance(x, float):
            it.metadata[k].float_value = x
        else:
            it.metadata[k].string_value = x
    return it


def l2(a, b):
    return sum((x - y) * (x - y) for x, y in zip(a, b))


def main():
    srv = Server().start()
    try:
        run(srv)
    finally:
        srv.kill()
    done()


def run(srv):
    ch = grpc.insecure_channel(srv.addr)
    st = pbg.OmnidexStub(ch)
    health = health_pb2_grpc.HealthStub(ch)

    # ---- health ---------------------------------------------------------
    r = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    ok(r.status == health_pb2.HealthCheckResponse.SERVING, "health: server SERVING")
    r = health.Check(health_pb2.HealthCheckRequest(service="omnidex.v1.Omnidex"), timeout=10)
    ok(r.status == health_pb2.HealthCheckResponse.SERVING, "health: omnidex.v1.Omnidex SERVING")
    code, _ = code_of(lambda: health.Check(health_pb2.HealthCheckRequest(service="no.Such"), timeout=10))
    ok(code == SC.NOT_FOUND, "health: unknown service -> NOT_FOUND", code)
    w = health.Watch(health_pb2.HealthCheckRequest(service="no.Such"), timeout=10)
    first = next(w)
    ok(first.status == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN, "health: Watch unknown -> SERVICE_UNKNOWN")
    w.cancel()

    # ---- collection admin -----------------------------------------------
    r = st.CreateCollection(pb.CreateCollectionRequest(name="pts", dim=DIM, metric=pb.METRIC_L2, index_spec="Flat"),
                            timeout=30)
    ok(r.collection.name == "pts" and r.collection.dim == DIM and r.collection.metric == pb.METRIC_L2,
       "CreateCollection returns the descriptor", r)
    code, det = code_of(lambda: st.CreateCollection(pb.CreateCollectionRequest(name="pts", dim=DIM), timeout=10))
    ok(code == SC.ALREADY_EXISTS and "pts" in det, "CreateCollection twice -> ALREADY_EXISTS naming it", (code, det))
    code, det = code_of(lambda: st.CreateCollection(pb.CreateCollectionRequest(name="bad", dim=0), timeout=10))
    ok(code == SC.INVALID_ARGUMENT and det, "CreateCollection dim 0 -> INVALID_ARGUMENT", (code, det))
    code, det = code_of(lambda: st.CreateCollection(pb.CreateCollectionRequest(name="", dim=4), timeout=10))
    ok(code == SC.INVALID_ARGUMENT, "CreateCollection empty name -> INVALID_ARGUMENT", (code, det))
    st.CreateCollection(pb.CreateCollectionRequest(name="tmp", dim=4), timeout=30)
    names = list(st.ListCollections(pb.ListCollectionsRequest(), timeout=10).names)
    ok(names == sorted(names) and "pts" in names and "tmp" in names, "ListCollections lists both, sorted", names)
    st.DropCollection(pb.DropCollectionRequest(name="tmp"), timeout=30)
    names = list(st.ListCollections(pb.ListCollectionsRequest(), timeout=10).names)
    ok("tmp" not in names, "DropCollection removes it", names)
    code, det = code_of(lambda: st.DropCollection(pb.DropCollectionRequest(name="tmp"), timeout=10))
    ok(code == SC.NOT_FOUND and "tmp" in det, "DropCollection missing -> NOT_FOUND naming it", (code, det))
    code, det = code_of(lambda: st.DescribeCollection(pb.DescribeCollectionRequest(name="nope"), timeout=10))
    ok(code == SC.NOT_FOUND, "DescribeCollection missing -> NOT_FOUND", (code, det))

    # ---- Upsert with metadata ------------------------------------------------
    vs = structured_vectors(300, DIM, seed=7)
    labels = ["a", "b", "c"]
    data = {}
    meta = {}
    items = []
    for i, v in enumerate(vs):
        m = dict(label=labels[i % 3], price=i, ratio=i / 300.0, flag=(i % 2 == 0))
        items.append(item("u%d" % i, v, **m))
        data["u%d" % i] = v
        meta["u%d" % i] = m
    r = st.Upsert(pb.UpsertRequest(collection="pts", items=items), timeout=60)
    ok(r.upserted == 300 and r.messages == 1, "Upsert 300 items", r)
    g = st.Get(pb.GetRequest(collection="pts", id="u42"), timeout=10)
    got = list(g.item.vector.values)
    ok(g.item.id == "u42" and max(abs(a - b) for a, b in zip(got, vs[42])) < 1e-6,
       "Get returns the stored vector", got[:4])
    md = g.item.metadata
    ok(md["label"].string_value == "a" and md["price"].int_value == 42 and abs(md["ratio"].float_value - 0.14) < 1e-9
       and md["flag"].bool_value is True, "Get returns typed metadata", md)
    g2 = st.Get(pb.GetRequest(collection="pts", id="u42", without_vector=True), timeout=10)
    ok(g2.item.WhichOneof("payload") is None, "Get without_vector leaves the vector out")
    code, det = code_of(lambda: st.Get(pb.GetRequest(collection="pts", id="zzz"), timeout=10))
    ok(code == SC.NOT_FOUND and "zzz" in det, "Get missing id -> NOT_FOUND naming it", (code, det))

    # ---- UpsertStream of 10k vectors ----------------------------------------
    big = structured_vectors(10000, DIM, seed=11)

    def gen():
        for b in range(100):
            its = [item("s%d" % (b * 100 + j), big[b * 100 + j], label=labels[j % 3], price=1000 + j)
                   for j in range(100)]
            yield pb.UpsertRequest(collection="pts" if b == 0 else "", items=its)
    t0 = time.time()
    r = st.UpsertStream(gen(), timeout=300)
    dt = time.time() - t0
    ok(r.upserted == 10000 and r.messages == 100, "UpsertStream 10k vectors in 100 messages (%.1f s)" % dt, r)
    for i, v in enumerate(big):
        data["s%d" % i] = v
        meta["s%d" % i] = dict(label=labels[(i % 100) % 3], price=1000 + i % 100)
    d = st.DescribeCollection(pb.DescribeCollectionRequest(name="pts"), timeout=10)
    ok(d.collection.count == 10300, "DescribeCollection counts 10,300 items", d.collection.count)

    # ---- Search -------------------------------------------------------------
    def brute(q, k, pred=lambda m: True):
        c = sorted((l2(q, v), i) for i, v in data.items() if pred(meta[i]))
        return [i for _, i in c[:k]]

    q = big[1234]
    r = st.Search(pb.SearchRequest(collection="pts", parts=[pb.QueryPart(vector=vec(q))], k=10), timeout=10)
    ids = [h.id for h in r.hits]
    ok(ids and ids[0] == "s1234" and r.hits[0].score < 1e-4, "Search: nearest to a stored vector is itself", ids[:3])
    ok(set(ids) == set(brute(q, 10)), "Search: top-10 equals brute force", (ids, brute(q, 10)))
    scores = [h.score for h in r.hits]
    ok(scores == sorted(scores), "Search: L2 hits sorted by ascending distance", scores)

    filt = pb.Filter(all_of=pb.FilterList(filters=[
        pb.Filter(compare=pb.Comparison(field="label", op=pb.Comparison.OP_EQ, value=pb.Value(string_value="b"))),
        pb.Filter(compare=pb.Comparison(field="price", op=pb.Comparison.OP_LT, value=pb.Value(int_value=150))),
    ]))
    r = st.Search(pb.SearchRequest(collection="pts", parts=[pb.QueryPart(vector=vec(q))], k=10, filter=filt,
                                   with_metadata=True), timeout=10)
    ref = brute(q, 10, lambda m: m["label"] == "b" and m["price"] < 150)
    ids = [h.id for h in r.hits]
    ok(ids == ref, "Search with filter (label = b AND price < 150) equals brute force", (ids, ref))
    ok(all(h.metadata["label"].string_value == "b" and h.metadata["price"].int_value < 150 for h in r.hits),
       "Search with_metadata returns metadata satisfying the filter")
    filt2 = pb.Filter(all_of=pb.FilterList(filters=[
        pb.Filter(in_set=pb.InSet(field="label", values=[pb.Value(string_value="a"), pb.Value(string_value="c")])),
        pb.Filter(negate=pb.Filter(compare=pb.Comparison(field="price", op=pb.Comparison.OP_GE,
                                                         value=pb.Value(float_value=1050.0)))),
    ]))
    r = st.Search(pb.SearchRequest(collection="pts", parts=[pb.QueryPart(vector=vec(q))], k=20, filter=filt2),
                  timeout=10)
    ref = brute(q, 20, lambda m: m["label"] in ("a", "c") and not (m["price"] >= 1050))
    ok([h.id for h in r.hits] == ref, "Search with IN and NOT filter equals brute force", ([h.id for h in r.hits], ref))
    r2 = st.Search(pb.SearchRequest(collection="pts", parts=[pb.QueryPart(vector=vec(q))], k=20,
                                    filter=pb.Filter(expr='label IN ("a","c") AND NOT price >= 1050')), timeout=10)
    ok([h.id for h in r2.hits] == ref, "Search with the same filter as an expression agrees", [h.id for h in r2.hits])
    # Filters that cannot type-check against the stored values: INVALID_ARGUMENT naming field, type and value.
    def fsearch(f):
        return code_of(lambda: st.Search(pb.SearchRequest(collection="pts", parts=[pb.QueryPart(vector=vec(q))],
                                                          k=10, filter=f), timeout=10))
    for f, named in [
            (pb.Filter(compare=pb.Comparison(field="price", op=pb.Comparison.OP_GT, value=pb.Value(string_value="100"))),
             ["'price'", "integer", '"100"']),
            (pb.Filter(compare=pb.Comparison(field="label", op=pb.Comparison.OP_EQ, value=pb.Value(int_value=5))),
             ["'label'", "string", "5"]),
            (pb.Filter(in_set=pb.InSet(field="label", values=[pb.Value(string_value="a"), pb.Value(float_value=2.5)])),
             ["'label'", "string", "2.5"]),
            (pb.Filter(expr='price > "100"'), ["'price'", "integer", '"100"'])]:
        code, det = fsearch(f)
        ok(code == SC.INVALID_ARGUMENT and all(w in det for w in named) and det.count("filter:") == 1,
           "Search filter that does not type-check -> INVALID_ARGUMENT: %s" % " ".join(str(f).split()), (code, det))
    code, r = fsearch(pb.Filter(compare=pb.Comparison(field="nosuch", op=pb.Comparison.OP_EQ,
                                                      value=pb.Value(int_value=5))))
    ok(code == SC.OK and len(r.hits) == 0, "Search filter on a field no item has -> OK, 0 hits", (code, r))
    code, r = fsearch(pb.Filter(compare=pb.Comparison(field="price", op=pb.Comparison.OP_LT,
                                                      value=pb.Value(float_value=150.5))))
    ok(code == SC.OK and [h.id for h in r.hits] == brute(q, 10, lambda m: m["price"] < 150.5),
       "Search: an integer field compares with a float", (code, r))
    r = st.Search(pb.SearchRequest(collection="pts", parts=[pb.QueryPart(vector=vec(q))], k=10), timeout=10,
                  compression=grpc.Compression.Gzip)
    ok(set(h.id for h in r.hits) == set(brute(q, 10)), "Search with a gzip-compressed request", [h.id for h in r.hits])
    r = st.Search(pb.SearchRequest(collection="pts", parts=[pb.QueryPart(item_id="u7")], k=3), timeout=10)
    ok(r.hits and r.hits[0].id == "u7", "Search by item_id: the item is its own nearest", [h.id for h in r.hits])
    r = st.Search(pb.SearchRequest(collection="pts", parts=[pb.QueryPart(vector=vec(q))], k=5,
                                   params=pb.SearchParams(exact=True, ef_search=64)), timeout=10)
    ok([h.id for h in r.hits] == brute(q, 5), "Search with params exact=true")

    # modalities: a few vectors stored as IMAGE
    imgs = [pb.Item(id="img%d" % i, vector=vec(big[i]), modality=pb.MODALITY_IMAGE) for i in range(5)]
    st.Upsert(pb.UpsertRequest(collection="pts", items=imgs), timeout=30)
    r = st.Search(pb.SearchRequest(collection="pts", parts=[pb.QueryPart(vector=vec(big[3]))], k=10,
                                   modalities=[pb.MODALITY_IMAGE]), timeout=10)
    ok(len(r.hits) == 5 and all(h.modality == pb.MODALITY_IMAGE for h in r.hits) and r.hits[0].id == "img3",
       "Search restricted to IMAGE finds only the 5 image items", [(h.id, h.modality) for h in r.hits])

    # ---- batch search: several vectors in one call ----------------------------
    qs = [vs[5], vs[77], big[3]]
    rb = st.Search(pb.SearchRequest(collection="pts", batch=[vec(x) for x in qs], k=7,
                                    filter=pb.Filter(expr='label != "zz"')), timeout=10)
    one = [st.Search(pb.SearchRequest(collection="pts", parts=[pb.QueryPart(vector=vec(x))], k=7,
                                      filter=pb.Filter(expr='label != "zz"')), timeout=10) for x in qs]
    ok(len(rb.batch) == 3 and len(rb.hits) == 0 and
       all([h.id for h in rb.batch[i].hits] == [h.id for h in one[i].hits] for i in range(3)),
       "Search with a batch of 3 vectors answers each as its own Search would", [len(l.hits) for l in rb.batch])
    code, det = code_of(lambda: st.Search(pb.SearchRequest(collection="pts", batch=[vec(vs[0]), vec([1.0] * 3)]),
                                          timeout=10))
    ok(code == SC.INVALID_ARGUMENT and "batch vector 1" in det, "a batch with vectors of two sizes -> INVALID_ARGUMENT",
       (code, det))
    code, det = code_of(lambda: st.Search(pb.SearchRequest(collection="pts", batch=[vec(vs[0])],
                                                           parts=[pb.QueryPart(vector=vec(vs[0]))]), timeout=10))
    ok(code == SC.INVALID_ARGUMENT and "not both" in det, "parts and a batch in one request -> INVALID_ARGUMENT",
       (code, det))
    # The CLI's client mode sends a file of query vectors as one call.
    qf = os.path.join(tmpdir("odx-rpc-batch-"), "q.fvecs")
    with open(qf, "wb") as f:
        for x in vs[:40]:
            f.write(struct.pack("<i", DIM) + struct.pack("<%df" % DIM, *x))
    before = st.Stats(pb.StatsRequest(), timeout=10).calls_total
    p = subprocess.run([BIN, "--server", srv.addr, "search", "pts", "--fvecs", qf, "--k", "3", "--json"],
                       capture_output=True, text=True, timeout=60)
    after = st.Stats(pb.StatsRequest(), timeout=10).calls_total
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    ok(p.returncode == 0 and len(lines) == 40 and after - before == 2,
       "omnidex --server search --fvecs (40 queries) is one Search call (calls %d -> %d, the Stats call included)"
       % (before, after), p.stderr[-500:])

    # ---- errors -------------------------------------------------------------
    def search(**kw):
        return lambda: st.Search(pb.SearchRequest(**kw), timeout=10)
    qp = [pb.QueryPart(vector=vec(q))]
    cases = [
        ("dimension mismatch", search(collection="pts", parts=[pb.QueryPart(vector=vec([1.0] * 3))]),
         SC.INVALID_ARGUMENT),
        ("NaN in the query", search(collection="pts", parts=[pb.QueryPart(vector=vec([float("nan")] * DIM))]),
         SC.INVALID_ARGUMENT),
        ("k over 1024", search(collection="pts", parts=qp, k=5000), SC.INVALID_ARGUMENT),
        ("ef_search over 65536", search(collection="pts", parts=qp, params=pb.SearchParams(ef_search=65537)),
         SC.INVALID_ARGUMENT),
        ("nprobe over 2^20", search(collection="pts", parts=qp, params=pb.SearchParams(nprobe=(1 << 20) + 1)),
         SC.INVALID_ARGUMENT),
        ("query vector of no values", search(collection="pts", parts=[pb.QueryPart(vector=pb.Vector())]),
         SC.INVALID_ARGUMENT),
        ("no parts", search(collection="pts"), SC.INVALID_ARGUMENT),
        ("unknown collection", search(collection="nope", parts=qp), SC.NOT_FOUND),
        ("bad filter expression", search(collection="pts", parts=qp, filter=pb.Filter(expr="label = = 3")),
         SC.INVALID_ARGUMENT),
        ("empty filter", search(collection="pts", parts=qp, filter=pb.Filter()), SC.INVALID_ARGUMENT),
        ("comparison without op", search(collection="pts", parts=qp, filter=pb.Filter(
            compare=pb.Comparison(field="label", value=pb.Value(string_value="a")))), SC.INVALID_ARGUMENT),
        ("17 query parts", search(collection="pts", parts=qp * 17), SC.RESOURCE_EXHAUSTED),
        ("text query part (no encoder)", search(collection="pts", parts=[pb.QueryPart(text="a red shoe")]),
         SC.FAILED_PRECONDITION),
        ("image query part (no encoder)", search(collection="pts", parts=[pb.QueryPart(
            media=pb.Media(modality=pb.MODALITY_IMAGE, data=b"\x89PNG..."))]), SC.FAILED_PRECONDITION),
    ]
    deep = pb.Filter(compare=pb.Comparison(field="price", op=pb.Comparison.OP_GT, value=pb.Value(int_value=1)))
    for _ in range(70):
        deep = pb.Filter(negate=deep)
    cases.append(("filter nested 70 deep", search(collection="pts", parts=qp, filter=deep), SC.INVALID_ARGUMENT))
    for name, fn, want in cases:
        code, det = code_of(fn)
        ok(code == want and det, "Search error: %s -> %s" % (name, want.name), (code, det))
    code, det = code_of(search(collection="pts", parts=qp, filter=pb.Filter(expr="label = = 3")))
    ok(code == SC.INVALID_ARGUMENT and det.startswith("filter: ") and det.count("filter:") == 1,
       "Search with a filter that does not parse: 'filter:' said once", det)
    code, det = code_of(search(collection="pts", parts=qp, filter=pb.Filter(
        compare=pb.Comparison(field="label", value=pb.Value(string_value="a")))))
    ok(code == SC.INVALID_ARGUMENT and det.startswith("filter: ") and det.count("filter:") == 1,
       "Search with a comparison without op: 'filter:' said once", det)
    code, det = code_of(search(collection="pts", parts=qp, k=5000))
    ok(code == SC.INVALID_ARGUMENT and "5000" in det and "1025" not in det and det.count("k") == 1,
       "Search k=5000: the message names 5000 once", det)
    code, det = code_of(lambda: st.Upsert(pb.UpsertRequest(collection="pts", items=[item("x1", [1.0] * 3)]),
                                          timeout=10))
    ok(code == SC.INVALID_ARGUMENT and "x1" in det, "Upsert wrong dimension -> INVALID_ARGUMENT naming the item",
       (code, det))
    code, det = code_of(lambda: st.Upsert(pb.UpsertRequest(collection="pts", items=[pb.Item(id="x2")]), timeout=10))
    ok(code == SC.INVALID_ARGUMENT and "payload" in det, "Upsert item without payload -> INVALID_ARGUMENT",
       (code, det))
    code, det = code_of(lambda: st.Upsert(pb.UpsertRequest(collection="pts", items=[
        item("x3", [float("inf")] * DIM)]), timeout=10))
    ok(code == SC.INVALID_ARGUMENT, "Upsert Inf vector -> INVALID_ARGUMENT", (code, det))
    code, det = code_of(lambda: st.Upsert(pb.UpsertRequest(collection="pts", items=[
        pb.Item(id="t1", text="hello")]), timeout=10))
    ok(code == SC.FAILED_PRECONDITION and det, "Upsert text payload -> FAILED_PRECONDITION (no encoder)", (code, det))
    code, det = code_of(lambda: st.Upsert(pb.UpsertRequest(collection="nope", items=[item("x", [0.0] * DIM)]),
                                          timeout=10))
    ok(code == SC.NOT_FOUND, "Upsert unknown collection -> NOT_FOUND", (code, det))
    code, det = code_of(lambda: st.Get(pb.GetRequest(collection="pts", id="x1"), timeout=10))
    ok(code == SC.NOT_FOUND, "a failed Upsert wrote nothing", code)
    code, det = code_of(lambda: st.Upsert(pb.UpsertRequest(collection="nope"), timeout=10))
    ok(code == SC.NOT_FOUND, "Upsert of no items to an unknown collection -> NOT_FOUND", (code, det))
    code, det = code_of(lambda: st.UpsertStream(iter([pb.UpsertRequest(collection="nope")]), timeout=10))
    ok(code == SC.NOT_FOUND, "UpsertStream of no items to an unknown collection -> NOT_FOUND", (code, det))
    r = st.UpsertStream(iter([pb.UpsertRequest(collection="pts")]), timeout=10)
    ok(r.upserted == 0 and r.messages == 1, "UpsertStream of no items to a collection -> OK, 0 upserted", r)
    code, det = code_of(lambda: st.UpsertStream(iter([]), timeout=10))
    ok(code == SC.OK, "an empty UpsertStream (no messages) -> OK", (code, det))
    code, det = code_of(lambda: st.Embed(pb.EmbedRequest(space="omni-tiny", text="hi"), timeout=10))
    ok(code == SC.FAILED_PRECONDITION and "omni-tiny" in det,
       "Embed into a space that is not installed -> FAILED_PRECONDITION naming it", (code, det))
    code, det = code_of(lambda: st.Embed(pb.EmbedRequest(text="hi"), timeout=10))
    ok(code == SC.INVALID_ARGUMENT, "Embed without a space -> INVALID_ARGUMENT", (code, det))
    code, det = code_of(lambda: st.Embed(pb.EmbedRequest(collection="pts", text="hi"), timeout=10))
    ok(code == SC.FAILED_PRECONDITION and "pts" in det, "Embed into a plain vector collection -> FAILED_PRECONDITION",
       (code, det))

    t0 = time.time()
    code, det = code_of(lambda: ch.unary_unary("/omnidex.v1.Omnidex/NoSuchMethod")(b"", timeout=10))
    ok(code == SC.UNIMPLEMENTED and "NoSuchMethod" in det and time.time() - t0 < 5,
       "an unknown method -> UNIMPLEMENTED at once, naming it", (code, det))
    code, det = code_of(lambda: ch.stream_stream("/other.Service/Chat")(iter([b"x"]), timeout=10).next())
    ok(code == SC.UNIMPLEMENTED, "an unknown streaming method -> UNIMPLEMENTED", (code, det))

    # ---- Delete ---------------------------------------------------------------
    r = st.Delete(pb.DeleteRequest(collection="pts", ids=["u1", "u2", "missing"]), timeout=10)
    ok(r.deleted == 2, "Delete counts only existing ids", r)
    code, det = code_of(lambda: st.Delete(pb.DeleteRequest(collection="nope"), timeout=10))
    ok(code == SC.NOT_FOUND, "Delete of no ids in an unknown collection -> NOT_FOUND", (code, det))
    code, _ = code_of(lambda: st.Get(pb.GetRequest(collection="pts", id="u1"), timeout=10))
    ok(code == SC.NOT_FOUND, "Get after Delete -> NOT_FOUND")
    r = st.Search(pb.SearchRequest(collection="pts", parts=[pb.QueryPart(vector=vec(vs[2]))], k=5), timeout=10)
    ok("u2" not in [h.id for h in r.hits], "Search no longer returns a deleted item")

    # ---- models, stats ----------------------------------------------------------
    r = st.ListModels(pb.ListModelsRequest(), timeout=10)
    ok(r is not None, "ListModels answers (%d models)" % len(r.models))
    r = st.Stats(pb.StatsRequest(), timeout=10)
    ok(r.version and r.calls_total > 20 and r.calls_failed > 10 and r.workers >= 1 and
       any(c.name == "pts" for c in r.collections), "Stats: version, call counters, collections", r.calls_total)
    code, _ = code_of(lambda: st.Stats(pb.StatsRequest(collection="nope"), timeout=10))
    ok(code == SC.NOT_FOUND, "Stats of an unknown collection -> NOT_FOUND")

    # ---- deadline exceeded mid-stream -----------------------------------------
    def slow():
        yield pb.UpsertRequest(collection="pts", items=[item("late0", big[0])])
        time.sleep(1.5)
        yield pb.UpsertRequest(items=[item("late1", big[1])])
    code, det = code_of(lambda: st.UpsertStream(slow(), timeout=0.5))
    ok(code == SC.DEADLINE_EXCEEDED, "UpsertStream past its deadline -> DEADLINE_EXCEEDED", (code, det))
    code, _ = code_of(lambda: st.Get(pb.GetRequest(collection="pts", id="late0"), timeout=10))
    ok(code == SC.NOT_FOUND, "the expired stream committed nothing", code)

    # ---- cancellation mid-stream ------------------------------------------------
    gate = threading.Event()

    def blocked():
        for b in range(5):
            yield pb.UpsertRequest(collection="pts", items=[item("c%d_%d" % (b, j), big[j]) for j in range(100)])
        gate.wait(20)
    fut = st.UpsertStream.future(blocked(), timeout=30)
    time.sleep(1.0)
    fut.cancel()
    gate.set()
    try:
        fut.result()
        code = SC.OK
    except grpc.FutureCancelledError:
        code = SC.CANCELLED
    except grpc.RpcError as e:
        code = e.code()
    ok(code == SC.CANCELLED and fut.cancelled(), "UpsertStream cancelled by the client -> CANCELLED", code)
    time.sleep(0.3)
    code, _ = code_of(lambda: st.Get(pb.GetRequest(collection="pts", id="c0_0"), timeout=10))
    ok(code == SC.NOT_FOUND, "the cancelled stream's uncommitted items are not written", code)
    r = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    ok(r.status == health_pb2.HealthCheckResponse.SERVING, "server healthy after cancellations")

    # ---- oversize message -------------------------------------------------------
    code, det = code_of(lambda: st.Upsert(pb.UpsertRequest(collection="pts", items=[
        pb.Item(id="big", vector=vec([0.5] * (17 * 1024 * 1024)))]), timeout=60))
    ok(code == SC.RESOURCE_EXHAUSTED, "a 68 MiB request over the 64 MiB default -> RESOURCE_EXHAUSTED", (code, det))
    ch.close()

    # ---- auth ---------------------------------------------------------------------
    tok = os.path.join(tmpdir("odx-tok-"), "token")
    with open(tok, "w") as f:
        f.write("s3cret-token\n")
    with Server("--token-file", tok) as asrv:
        ach = grpc.insecure_channel(asrv.addr)
        ast = pbg.OmnidexStub(ach)
        code, det = code_of(lambda: ast.ListCollections(pb.ListCollectionsRequest(), timeout=10))
        ok(code == SC.UNAUTHENTICATED, "auth: no token -> UNAUTHENTICATED", (code, det))
        code, det = code_of(lambda: ast.ListCollections(pb.ListCollectionsRequest(), timeout=10,
                                                        metadata=[("authorization", "Bearer wrong")]))
        ok(code == SC.UNAUTHENTICATED, "auth: wrong token -> UNAUTHENTICATED", (code, det))
        code, det = code_of(lambda: ast.ListCollections(pb.ListCollectionsRequest(), timeout=10,
                                                        metadata=[("authorization", "Bearer s3cret-token-x")]))
        ok(code == SC.UNAUTHENTICATED, "auth: token with extra bytes -> UNAUTHENTICATED", (code, det))
        code, det = code_of(lambda: ast.ListCollections(pb.ListCollectionsRequest(), timeout=10,
                                                        metadata=[("authorization", "Bearer s3cret-token")]))
        ok(code == SC.OK, "auth: right token -> OK", (code, det))
        code, det = code_of(lambda: health_pb2_grpc.HealthStub(ach).Check(health_pb2.HealthCheckRequest(),
                                                                          timeout=10))
        ok(code == SC.OK, "auth: health needs no token", (code, det))
        ach.close()
        ok(asrv.stop() == 0, "auth server exits 0 on SIGTERM")

    # ---- --max-message-mb -------------------------------------------------------------
    with Server("--max-message-mb", "1") as msrv:
        mch = grpc.insecure_channel(msrv.addr, options=[("grpc.max_send_message_length", 8 << 20)])
        mst = pbg.OmnidexStub(mch)
        mst.CreateCollection(pb.CreateCollectionRequest(name="m", dim=1024), timeout=30)
        small = [pb.Item(id="a%d" % i, vector=vec([0.5] * 1024)) for i in range(100)]   # ~0.4 MiB
        code, det = code_of(lambda: mst.Upsert(pb.UpsertRequest(collection="m", items=small), timeout=30))
        ok(code == SC.OK, "--max-message-mb 1: a 0.4 MiB request is served", (code, det))
        large = [pb.Item(id="b%d" % i, vector=vec([0.5] * 1024)) for i in range(400)]   # ~1.6 MiB
        code, det = code_of(lambda: mst.Upsert(pb.UpsertRequest(collection="m", items=large), timeout=30))
        ok(code == SC.RESOURCE_EXHAUSTED, "--max-message-mb 1: a 1.6 MiB request -> RESOURCE_EXHAUSTED", (code, det))
        mch.close()
        ok(msrv.stop() == 0, "max-message server exits 0")
    bad = Server("--max-message-mb", "0")
    try:
        bad.start()
        ok(False, "--max-message-mb 0 is refused")
    except RuntimeError as e:
        ok(bad.proc.returncode == 2 and "max-message-mb" in str(e), "--max-message-mb 0 is refused with usage", e)

    # ---- --listen: one server per address, every port checked --------------------------
    with Server() as lsrv:
        busy = "127.0.0.1:%d" % lsrv.port
        dup = Server("--listen", busy)
        try:
            dup.start()
            ok(False, "a second server on a busy port is refused", "it printed listening on %s" % dup.port)
            dup.stop()
        except RuntimeError as e:
            ok(dup.proc.returncode == 1 and busy in str(e) and "in use" in str(e),
               "a second server on a busy port exits 1 naming the address in use", e)
        lch = grpc.insecure_channel(lsrv.addr)
        r = health_pb2_grpc.HealthStub(lch).Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        ok(r.status == health_pb2.HealthCheckResponse.SERVING, "the first server still serves")
        lch.close()
    for listen, named in [("127.0.0.1:99999", "99999"), ("127.0.0.1:-1", "'-1'"), ("127.0.0.1:", "''"),
                          ("127.0.0.1:80x", "80x"), ("::1", "brackets"), (":7600", "no host")]:
        bad = Server("--listen", listen)
        try:
            bad.start()
            ok(False, "--listen %s is refused" % listen, "it printed listening on port %s" % bad.port)
            bad.stop()
        except RuntimeError as e:
            ok(bad.proc.returncode == 2 and named in str(e), "--listen %s is a usage error naming %s" % (listen, named), e)
    # A host alone means the default port 7600 (not gRPC's "https", 443):
    # either it listens there or, if 7600 is taken, the error names it.
    dflt = Server("--listen", "localhost")
    try:
        dflt.start()
        ok(dflt.port == 7600, "--listen localhost serves on 7600", dflt.port)
        dflt.stop()
    except RuntimeError as e:
        ok("localhost:7600" in str(e), "--listen localhost means port 7600", e)
    if socket.has_ipv6:
        v6 = Server("--listen", "[::1]:0")
        try:
            v6.start()
            vch = grpc.insecure_channel("[::1]:%d" % v6.port)
            r = health_pb2_grpc.HealthStub(vch).Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
            ok(r.status == health_pb2.HealthCheckResponse.SERVING, "--listen [::1]:0 serves over IPv6")
            vch.close()
            v6.stop()
        except RuntimeError as e:
            ok("::1" in str(e), "--listen [::1]:0 serves or says why", e)

    # ---- the drain bound: a stream that outlives it is cancelled at 10 s -------------
    with Server() as dsrv:
        dch = grpc.insecure_channel(dsrv.addr)
        dst = pbg.OmnidexStub(dch)
        dst.CreateCollection(pb.CreateCollectionRequest(name="d", dim=DIM), timeout=30)

        def endless():
            for b in range(120):
                yield pb.UpsertRequest(collection="d", items=[item("e%d" % b, big[b])])
                time.sleep(0.25)
        fut = dst.UpsertStream.future(endless(), timeout=60)
        time.sleep(1.0)
        t0 = time.time()
        rc = dsrv.stop(timeout=40)
        dt = time.time() - t0
        code, det = code_of(lambda: fut.result())
        ok(rc == 0 and 9.5 <= dt <= 16, "a call outliving the 10 s drain is cancelled; exit 0 after %.1f s" % dt,
           (rc, dt, dsrv.stderr()))
        ok(code in (SC.CANCELLED, SC.UNAVAILABLE), "that stream ends with CANCELLED/UNAVAILABLE", (code, det))
        dch.close()

    # ---- graceful shutdown with a Watch stream --------------------------------------
    wch = grpc.insecure_channel(srv.addr)
    watch = health_pb2_grpc.HealthStub(wch).Watch(health_pb2.HealthCheckRequest(service=""), timeout=30)
    seen = queue.Queue()

    def reader():
        try:
            for m in watch:
                seen.put(m.status)
            seen.put("end-ok")
        except grpc.RpcError as e:
            seen.put(e.code())
    th = threading.Thread(target=reader)
    th.start()
    first = seen.get(timeout=10)
    ok(first == health_pb2.HealthCheckResponse.SERVING, "Watch: first message SERVING", first)
    # a client stream in flight when SIGTERM arrives is drained, not cut
    def trickle():
        for b in range(20):
            yield pb.UpsertRequest(collection="pts" if b == 0 else "",
                                   items=[item("drain%d_%d" % (b, j), big[j]) for j in range(10)])
            time.sleep(0.1)
    sch = grpc.insecure_channel(srv.addr)
    fut = pbg.OmnidexStub(sch).UpsertStream.future(trickle(), timeout=30)
    time.sleep(0.5)
    t0 = time.time()
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    lch = grpc.insecure_channel(srv.addr)
    code, det = code_of(lambda: pbg.OmnidexStub(lch).ListCollections(pb.ListCollectionsRequest(), timeout=5))
    ok(code == SC.UNAVAILABLE, "a new call during shutdown -> UNAVAILABLE", (code, det))
    lch.close()
    code, res = code_of(lambda: fut.result())
    ok(code == SC.OK and res.upserted == 200, "the stream in flight at SIGTERM completes (drained)", (code, res))
    sch.close()
    rc = srv.stop(timeout=30)
    th.join(10)
    rest = []
    while not seen.empty():
        rest.append(seen.get())
    ok(health_pb2.HealthCheckResponse.NOT_SERVING in rest, "Watch: NOT_SERVING pushed on shutdown", rest)
    ok(rc == 0 and time.time() - t0 < 15, "SIGTERM: graceful stop, exit 0 (%.1f s)" % (time.time() - t0),
       (rc, srv.stderr()))
    wch.close()


if __name__ == "__main__":
    main()
