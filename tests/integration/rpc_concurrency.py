"""Concurrency: 16 gRPC clients (each its own channel) mix Search and Upsert
against one server for OMNIDEX_RPC_SOAK_SECONDS (default 10; the issue's
30 s run: OMNIDEX_RPC_SOAK_SECONDS=30). Checks: no call fails; every client
reads its own writes (Get returns the vector just written, an exact Search
finds it at distance 0); the final count equals the base set plus every
acknowledged upsert."""
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rpc_common import ok, done, gen_stubs, Server, structured_vectors  # noqa: E402

gen_stubs()
import grpc  # noqa: E402
from omnidex.v1 import omnidex_pb2 as pb, omnidex_pb2_grpc as pbg  # noqa: E402

DIM = 32
CLIENTS = 16
SECONDS = float(os.environ.get("OMNIDEX_RPC_SOAK_SECONDS", "10"))
BASE = 2000


def main():
    srv = Server("--workers", "4").start()
    try:
        run(srv)
    finally:
        srv.kill()
    done()


def run(srv):
    ch = grpc.insecure_channel(srv.addr)
    st = pbg.OmnidexStub(ch)
    st.CreateCollection(pb.CreateCollectionRequest(name="mix", dim=DIM, metric=pb.METRIC_L2,
                                                   index_spec="HNSW32,Flat"), timeout=60)
    base = structured_vectors(BASE, DIM, seed=3)
    st.Upsert(pb.UpsertRequest(collection="mix", items=[
        pb.Item(id="b%d" % i, vector=pb.Vector(values=v)) for i, v in enumerate(base)]), timeout=120)

    stats = {"search": 0, "upsert": 0, "get": 0}
    errors = []
    mismatches = []
    lock = threading.Lock()
    stop_at = time.time() + SECONDS

    def client(t):
        rnd = random.Random(t)
        c = pbg.OmnidexStub(grpc.insecure_channel(srv.addr))
        n = 0
        local = {"search": 0, "upsert": 0, "get": 0}
        try:
            while time.time() < stop_at:
                if rnd.random() < 0.3:
                    v = [rnd.uniform(-1, 1) for _ in range(DIM)]
                    iid = "c%d-%d" % (t, n)
                    n += 1
                    c.Upsert(pb.UpsertRequest(collection="mix", items=[
                        pb.Item(id=iid, vector=pb.Vector(values=v))]), timeout=30)
                    local["upsert"] += 1
                    g = c.Get(pb.GetRequest(collection="mix", id=iid), timeout=30)
                    local["get"] += 1
                    if max(abs(a - b) for a, b in zip(g.item.vector.values, v)) > 1e-6:
                        mismatches.append((iid, "get"))
                    r = c.Search(pb.SearchRequest(collection="mix", parts=[pb.QueryPart(vector=pb.Vector(values=v))],
                                                  k=1, params=pb.SearchParams(exact=True)), timeout=30)
                    local["search"] += 1
                    if not r.hits or r.hits[0].id != iid or r.hits[0].score > 1e-6:
                        mismatches.append((iid, "search", [(h.id, h.score) for h in r.hits]))
                else:
                    q = base[rnd.randrange(BASE)]
                    r = c.Search(pb.SearchRequest(collection="mix", parts=[pb.QueryPart(vector=pb.Vector(values=q))],
                                                  k=10, params=pb.SearchParams(ef_search=64)), timeout=30)
                    local["search"] += 1
                    if len(r.hits) != 10:
                        mismatches.append(("search-k", len(r.hits)))
        except grpc.RpcError as e:
            errors.append((t, e.code(), e.details()))
        with lock:
            for k in local:
                stats[k] += local[k]

    ths = [threading.Thread(target=client, args=(t,)) for t in range(CLIENTS)]
    t0 = time.time()
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    dt = time.time() - t0
    total = sum(stats.values())
    print("# %d clients, %.1f s: %d searches, %d upserts, %d gets (%.0f calls/s)" %
          (CLIENTS, dt, stats["search"], stats["upsert"], stats["get"], total / dt))
    ok(not errors, "16 clients, %.0f s of mixed Search/Upsert: no call failed" % SECONDS, errors[:5])
    ok(not mismatches, "every client reads its own writes (Get and exact Search)", mismatches[:5])
    ok(stats["upsert"] > 0 and stats["search"] > stats["upsert"], "both kinds of call ran", stats)
    d = st.DescribeCollection(pb.DescribeCollectionRequest(name="mix"), timeout=30)
    ok(d.collection.count == BASE + stats["upsert"], "final count = base + acknowledged upserts",
       (d.collection.count, BASE + stats["upsert"]))
    ch.close()
    ok(srv.stop(timeout=30) == 0, "server exits 0 after the soak", srv.stderr())


if __name__ == "__main__":
    main()
