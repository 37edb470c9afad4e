"""Soak (issue 7, tests/RELIABILITY.md): OMNIDEX_SOAK_CLIENTS client threads
(default 32), each with its own grpcio channel, mix Upsert, Search, Delete
and Get against one `omnidex serve` for OMNIDEX_SOAK_SECONDS (default 60),
while the server's memory is sampled from /proc/PID/status.

Criteria:
  - 0 errors: every call answers OK, every Get returns the vector this client
    last wrote for that id, every Delete deletes what the client knows is
    live (each client owns its ids, so its view is exact);
  - memory flat after warm-up: samples of the first 20% of the run are
    warm-up; of the rest, max(last third) <= max(first third) * 1.2 + 16 MiB,
    applied to RssAnon (heap, ASan shadow and quarantine: where a leak would
    show). VmRSS also counts LMDB's file pages, which grow with the file, so
    it is reported, not judged;
  - the server exits 0 on SIGTERM and its stderr has no LeakSanitizer,
    AddressSanitizer or UBSan report.

In `make test` it runs only in the sanitizer build (OMNIDEX_BUILD ending in
/san); `make soak` runs it for 10 minutes against build/san/omnidex."""
import os
import random
import re
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rpc_common import Server, done, gen_stubs, ok  # noqa: E402

build = os.environ.get("OMNIDEX_BUILD", "").rstrip("/")
if not build.endswith("/san") and build != "san" and not os.environ.get("OMNIDEX_SOAK_SECONDS"):
    print("ok - soak # skip: runs in the sanitizer build", flush=True)
    sys.exit(0)

SECONDS = float(os.environ.get("OMNIDEX_SOAK_SECONDS", "60"))
CLIENTS = int(os.environ.get("OMNIDEX_SOAK_CLIENTS", "32"))
SAMPLE_S = float(os.environ.get("OMNIDEX_SOAK_SAMPLE_S", str(max(1.0, min(5.0, SECONDS / 40)))))
DIM, POOL = 32, 200

gen_stubs()
import grpc  # noqa: E402
import numpy as np  # noqa: E402
from omnidex.v1 import omnidex_pb2 as pb  # noqa: E402
from omnidex.v1 import omnidex_pb2_grpc as pbg  # noqa: E402

# A smaller ASan quarantine than the 256 MiB default, so that RSS reaches
# its plateau within a one-minute run; detection of use-after-free stays on.
os.environ["ASAN_OPTIONS"] = ":".join(x for x in [os.environ.get("ASAN_OPTIONS", ""), "quarantine_size_mb=32"] if x)
srv = Server("--workers", "4").start()
os.environ.pop("ASAN_OPTIONS")
ch0 = grpc.insecure_channel(srv.addr)
admin = pbg.OmnidexStub(ch0)
admin.CreateCollection(pb.CreateCollectionRequest(name="s", dim=DIM, metric=pb.METRIC_L2,
                                                  index_spec="HNSW32,Flat"), timeout=60)

stop = threading.Event()
lock = threading.Lock()
errors = []
ops = {"upsert": 0, "search": 0, "get": 0, "delete": 0}


def err(msg):
    with lock:
        errors.append(msg)


def client(t):
    r = random.Random(1000 + t)
    g = np.random.default_rng(1000 + t)
    ch = grpc.insecure_channel(srv.addr)
    st = pbg.OmnidexStub(ch)
    live = {}  # id -> vector last written
    n = {k: 0 for k in ops}
    try:
        while not stop.is_set():
            x = r.random()
            try:
                if x < 0.35 or not live:
                    ids = [f"c{t}-{r.randrange(POOL)}" for _ in range(r.randint(1, 10))]
                    ids = list(dict.fromkeys(ids))
                    vs = g.standard_normal((len(ids), DIM)).astype(np.float32)
                    items = [pb.Item(id=i, vector=pb.Vector(values=v.tolist()),
                                     metadata={"g": pb.Value(int_value=r.randrange(4)),
                                               "t": pb.Value(string_value=f"c{t}")})
                             for i, v in zip(ids, vs)]
                    rep = st.Upsert(pb.UpsertRequest(collection="s", items=items), timeout=60)
                    if rep.upserted != len(ids):
                        err(f"client {t}: upserted {rep.upserted} of {len(ids)}")
                    live.update(zip(ids, vs))
                    n["upsert"] += 1
                elif x < 0.70:
                    q = pb.QueryPart(vector=pb.Vector(values=g.standard_normal(DIM).astype(np.float32).tolist()))
                    req = pb.SearchRequest(collection="s", parts=[q], k=10)
                    if r.random() < 0.3:
                        req.filter.expr = f't = "c{t}" AND g != 3'
                    rep = st.Search(req, timeout=60)
                    if req.HasField("filter") and any(not h.id.startswith(f"c{t}-") for h in rep.hits):
                        err(f"client {t}: filtered search returned another client's item")
                    n["search"] += 1
                elif x < 0.85:
                    i = r.choice(list(live))
                    rep = st.Get(pb.GetRequest(collection="s", id=i), timeout=60)
                    if not np.array_equal(np.array(rep.item.vector.values, dtype=np.float32), live[i]):
                        err(f"client {t}: Get {i}: not the vector last written")
                    n["get"] += 1
                else:
                    ids = r.sample(list(live), min(len(live), r.randint(1, 5)))
                    rep = st.Delete(pb.DeleteRequest(collection="s", ids=ids), timeout=60)
                    if rep.deleted != len(ids):
                        err(f"client {t}: deleted {rep.deleted} of {len(ids)} live ids")
                    for i in ids:
                        del live[i]
                    n["delete"] += 1
            except grpc.RpcError as e:
                err(f"client {t}: {e.code().name}: {e.details()}")
                time.sleep(0.1)
    finally:
        ch.close()
        with lock:
            for k in ops:
                ops[k] += n[k]


def mem():
    out = {}
    try:
        with open(f"/proc/{srv.proc.pid}/status") as f:
            for line in f:
                m = re.match(r"(VmRSS|RssAnon|RssFile):\s+(\d+) kB", line)
                if m:
                    out[m.group(1)] = int(m.group(2)) / 1024.0
    except OSError:
        pass
    return out


samples = []  # (seconds since start, VmRSS MiB, RssAnon MiB)
t0 = time.time()
threads = [threading.Thread(target=client, args=(t,)) for t in range(CLIENTS)]
for th in threads:
    th.start()
while time.time() - t0 < SECONDS:
    time.sleep(min(SAMPLE_S, max(0.0, SECONDS - (time.time() - t0))))
    m = mem()
    if m:
        samples.append((time.time() - t0, m.get("VmRSS", 0), m.get("RssAnon", 0)))
    if not srv.alive():
        break
stop.set()
for th in threads:
    th.join(120)
elapsed = time.time() - t0

total = sum(ops.values())
print(f"# soak: {CLIENTS} clients, {elapsed:.0f} s, {total} calls ({total / max(elapsed, 1):.0f}/s): "
      + ", ".join(f"{k} {v}" for k, v in ops.items()), flush=True)
ok(srv.alive(), "soak: the server is alive at the end", srv.stderr())
ok(not errors, f"soak: 0 errors in {total} calls ({len(errors)} errors)", "\n".join(errors[:10]))
ok(total > CLIENTS, f"soak: the clients got work done ({total} calls)")

try:
    info = admin.DescribeCollection(pb.DescribeCollectionRequest(name="s"), timeout=60).collection
    stats = admin.Stats(pb.StatsRequest(), timeout=60)
    print(f"# collection: count {info.count}, indexed {info.index_ntotal}, tombstones {info.tombstones}, "
          f"lsn {info.lsn}; server calls {stats.calls_total}, failed {stats.calls_failed}", flush=True)
    ok(info.index_ntotal - info.tombstones == info.count, "soak: index agrees with LMDB at the end")
except grpc.RpcError as e:
    ok(False, "soak: Describe/Stats at the end", e.details())

print("# memory samples (s, VmRSS MiB, RssAnon MiB): " +
      " ".join(f"{s:.0f}:{v:.0f}/{a:.0f}" for s, v, a in samples), flush=True)
steady = [x for x in samples if x[0] >= 0.2 * SECONDS]
if len(steady) >= 6:
    third = len(steady) // 3
    first, last = steady[:third], steady[-third:]
    for col, name in ((2, "RssAnon"), (1, "VmRSS")):
        f_max = max(x[col] for x in first)
        l_max = max(x[col] for x in last)
        limit = f_max * 1.2 + 16
        line = (f"{name}: first third max {f_max:.1f} MiB, last third max {l_max:.1f} MiB, "
                f"limit {limit:.1f} MiB")
        if name == "RssAnon":
            ok(l_max <= limit, f"soak: memory flat after warm-up ({line})")
        else:
            print(f"# {line} (reported only: includes LMDB file pages)", flush=True)
else:
    ok(False, f"soak: too few memory samples after warm-up ({len(steady)})")

ch0.close()
rc = srv.stop(timeout=120)
err_text = open(srv.errlog).read()
reports = [ln for ln in err_text.splitlines()
           if re.search(r"LeakSanitizer|AddressSanitizer|runtime error:|ThreadSanitizer", ln)]
ok(rc == 0, f"soak: server exits 0 on SIGTERM (rc {rc})", err_text[-2000:])
ok(not reports, "soak: no sanitizer report in the server's stderr", "\n".join(reports[:10]))
for d in (srv.data, srv.models):
    shutil.rmtree(d, ignore_errors=True)
try:
    os.unlink(srv.errlog)
except OSError:
    pass
done()
