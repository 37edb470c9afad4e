"""Crash safety beyond `omnidex put` (issue 7, tests/RELIABILITY.md).

1. kill -9 of `omnidex serve` at a random moment while Python grpcio clients
   write through UpsertStream and unary Upsert. An OK reply is an
   acknowledgement; every acknowledged id is recorded with its vector.
2. kill -9 of `omnidex collection compact` / `checkpoint` on an HNSW
   collection of OMNIDEX_CRASH_COMPACT_N vectors (default 30000) of which 30%
   were deleted first, so that the rebuild has work and takes long enough.
3. Disk full: the data directory on a 16 MiB tmpfs this test mounts, with a
   1 MiB initial LMDB map (OMNIDEX_INITIAL_MAP_MB=1); fill it through the
   server until writes fail; then free space and write again.

After each kill: the data directory opens (CLI and server), every
acknowledged item is there with its exact vector (gRPC Get), the index
agrees with LMDB (indexed - tombstones == count) and searches find
acknowledged items. OMNIDEX_CRASH_RUNS (default 10) kills per scenario."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rpc_common import BIN, Server, code_of, done, gen_stubs, ok  # noqa: E402

RUNS = int(os.environ.get("OMNIDEX_CRASH_RUNS", "10"))
COMPACT_N = int(os.environ.get("OMNIDEX_CRASH_COMPACT_N", "30000"))
DIM = 32
gen_stubs()
import grpc  # noqa: E402
from omnidex.v1 import omnidex_pb2 as pb  # noqa: E402
from omnidex.v1 import omnidex_pb2_grpc as pbg  # noqa: E402

rnd = random.Random(int(os.environ.get("OMNIDEX_CRASH_SEED", "20261128")))
nrng = np.random.default_rng(rnd.randrange(1 << 30))
work = tempfile.mkdtemp(prefix="odx-crash-srv-")
quiet_env = dict(os.environ, OMNIDEX_LOG="warn")


def cli(data, *args, timeout=300):
    p = subprocess.run([BIN, "--data", data, "--quiet", *args], capture_output=True, text=True,
                       timeout=timeout, env=quiet_env)
    return p.returncode, p.stdout, p.stderr


def item(i, v):
    return pb.Item(id=i, vector=pb.Vector(values=v.tolist()), metadata={"g": pb.Value(int_value=len(i) % 5)})


def stub_of(srv):
    ch = grpc.insecure_channel(srv.addr)
    return ch, pbg.OmnidexStub(ch)


def describe(stub, coll):
    return stub.DescribeCollection(pb.DescribeCollectionRequest(name=coll), timeout=30).collection


def check_items(stub, coll, want, tag):
    """Every id in want (id -> float32 vector) is there with its exact vector;
    Gets go out as futures, 256 at a time. Returns the number missing/wrong."""
    bad, first = 0, ""
    ids = list(want)
    for s in range(0, len(ids), 256):
        futs = [(i, stub.Get.future(pb.GetRequest(collection=coll, id=i), timeout=60)) for i in ids[s:s + 256]]
        for i, f in futs:
            try:
                got = np.array(f.result().item.vector.values, dtype=np.float32)
                if got.shape != want[i].shape or not np.array_equal(got, want[i]):
                    bad += 1
                    first = first or f"{i}: vector differs"
            except grpc.RpcError as e:
                bad += 1
                first = first or f"{i}: {e.code().name} {e.details()}"
    ok(bad == 0, f"{tag}: {len(ids) - bad}/{len(ids)} acknowledged items present with their exact vectors", first)
    return bad


def check_absent(stub, coll, ids, tag):
    found = [i for i in ids if code_of(lambda: stub.Get(pb.GetRequest(collection=coll, id=i), timeout=30))[0]
             != grpc.StatusCode.NOT_FOUND]
    ok(not found, f"{tag}: {len(ids)} acknowledged deletes stay deleted", ", ".join(found[:5]))


def check_search(stub, coll, want, tag, n=60):
    sample = rnd.sample(sorted(want), min(n, len(want)))
    for exact in (True, False):
        hit = 0
        for i in sample:
            q = pb.QueryPart(vector=pb.Vector(values=want[i].tolist()))
            st, r = code_of(lambda: stub.Search(pb.SearchRequest(collection=coll, parts=[q], k=1,
                                                                 params=pb.SearchParams(exact=exact)), timeout=60))
            hit += st == grpc.StatusCode.OK and len(r.hits) > 0 and r.hits[0].id == i
        need = len(sample) if exact else int(0.95 * len(sample))
        ok(hit >= need, f"{tag}: {'exact search' if exact else 'the index'} finds {hit}/{len(sample)} "
           "acknowledged items first")


def check_index(stub, coll, tag, count_lo, count_hi):
    info = describe(stub, coll)
    ok(info.index_ntotal - info.tombstones == info.count,
       f"{tag}: index agrees with LMDB (indexed {info.index_ntotal} - tombstones {info.tombstones} == "
       f"count {info.count})")
    ok(count_lo <= info.count <= count_hi, f"{tag}: count {info.count} within [{count_lo}, {count_hi}] "
       "(acknowledged, attempted)")
    return info


# ---- 1. kill -9 during UpsertStream / Upsert --------------------------------
def writer(stub, kind, tid, run, stop, acked, attempted, lock):
    seq = 0
    r = random.Random(run * 100 + tid)
    g = np.random.default_rng(run * 100 + tid)  # numpy Generators are not thread-safe
    while not stop.is_set():
        if kind == "stream":
            msgs = []
            for _ in range(r.randint(2, 6)):
                n = r.randint(5, 40)
                ids = [f"r{run}t{tid}-{seq + j}" for j in range(n)]
                seq += n
                vs = g.standard_normal((n, DIM)).astype(np.float32)
                msgs.append((ids, vs))
            with lock:
                for ids, vs in msgs:
                    attempted.update(ids)
            reqs = [pb.UpsertRequest(collection="w", items=[item(i, v) for i, v in zip(ids, vs)])
                    for ids, vs in msgs]
            call = lambda: stub.UpsertStream(iter(reqs), timeout=30)  # noqa: E731
        else:
            n = r.randint(1, 60)
            ids = [f"r{run}t{tid}-{seq + j}" for j in range(n)]
            seq += n
            vs = g.standard_normal((n, DIM)).astype(np.float32)
            msgs = [(ids, vs)]
            with lock:
                attempted.update(ids)
            call = lambda: stub.Upsert(pb.UpsertRequest(collection="w", items=[item(i, v) for i, v in zip(ids, vs)]),  # noqa: E731
                                       timeout=30)
        st, rep = code_of(call)
        if st != grpc.StatusCode.OK:
            return
        with lock:
            for ids, vs in msgs:
                for i, v in zip(ids, vs):
                    acked[i] = v


def scenario_writes():
    data = os.path.join(work, "writes")
    os.makedirs(data)
    srv = Server("--workers", "4", data=data).start()
    ch, stub = stub_of(srv)
    stub.CreateCollection(pb.CreateCollectionRequest(name="w", dim=DIM, metric=pb.METRIC_L2,
                                                     index_spec="HNSW32,Flat"), timeout=30)
    ch.close()
    acked_all, attempted_all = {}, set()
    total_acked, total_sent = 0, 0
    for run in range(RUNS):
        tag = f"writes run {run}"
        if run and run % 10 == 0:
            # A fresh directory every 10 kills keeps a run's cost flat in
            # make stress (restart time grows with the collection).
            ch, stub = stub_of(srv)
            sample = dict(rnd.sample(sorted(acked_all.items(), key=lambda kv: kv[0]), min(2000, len(acked_all))))
            check_items(stub, "w", sample, f"after kill {run}, a sample of the last 10 runs")
            ch.close()
            ok(srv.stop() == 0, f"writes: server exits 0 on SIGTERM after kill {run}", srv.stderr())
            shutil.rmtree(data, ignore_errors=True)
            os.makedirs(data)
            acked_all, attempted_all = {}, set()
            srv = Server("--workers", "4", data=data).start()
            ch, stub = stub_of(srv)
            stub.CreateCollection(pb.CreateCollectionRequest(name="w", dim=DIM, metric=pb.METRIC_L2,
                                                             index_spec="HNSW32,Flat"), timeout=30)
            ch.close()
        ch, stub = stub_of(srv)
        stop, lock = threading.Event(), threading.Lock()
        acked, attempted = {}, set()
        kinds = ["stream", "stream", "unary", "unary"]
        ths = [threading.Thread(target=writer, args=(stub, k, t, run, stop, acked, attempted, lock))
               for t, k in enumerate(kinds)]
        for t in ths:
            t.start()
        kill_at = rnd.uniform(0.2, 2.5)
        time.sleep(kill_at)
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait()
        srv.err.close()
        stop.set()
        for t in ths:
            t.join(60)
        ch.close()
        acked_all.update(acked)
        attempted_all |= attempted
        total_acked += len(acked)
        total_sent += len(attempted)
        try:
            srv = Server("--workers", "4", data=data).start()
        except RuntimeError as e:
            ok(False, f"{tag}: server restarts after kill -9 at {kill_at:.2f} s", str(e))
            return
        ok(True, f"{tag}: server restarts after kill -9 at {kill_at:.2f} s ({len(acked)} acknowledged, "
           f"{len(attempted)} sent)")
        ch, stub = stub_of(srv)
        check_index(stub, "w", tag, len(acked_all), len(attempted_all))
        check_items(stub, "w", acked, tag)
        if acked:
            check_search(stub, "w", acked, tag, n=40)
        ch.close()
    # Once more after the last kills: a sample of everything acknowledged
    # in this directory.
    ch, stub = stub_of(srv)
    sample = dict(rnd.sample(sorted(acked_all.items(), key=lambda kv: kv[0]), min(2000, len(acked_all))))
    check_items(stub, "w", sample, f"after {RUNS} kills, a sample of the last runs")
    ch.close()
    rc = srv.stop()
    ok(rc == 0, f"writes: server exits 0 on SIGTERM after the runs ({total_acked} items acknowledged in "
       f"{RUNS} runs)", srv.stderr())
    print(f"# writes: {RUNS} kills, {total_acked} acknowledged, {total_sent} sent", flush=True)
    shutil.rmtree(data, ignore_errors=True)


# ---- 2. kill -9 during compact / checkpoint ----------------------------------
def write_fvecs(path, x):
    rec = np.empty((len(x), DIM + 1), dtype=np.float32)
    rec[:, 0] = np.frombuffer(np.int32(DIM).tobytes(), dtype=np.float32)[0]
    rec[:, 1:] = x
    with open(path, "wb") as f:
        f.write(rec.tobytes())


def scenario_compact():
    base = os.path.join(work, "cbase")
    rank = 8
    x = (nrng.standard_normal((COMPACT_N, rank)) @ nrng.standard_normal((rank, DIM))
         + 0.3 * nrng.standard_normal((COMPACT_N, DIM))).astype(np.float32)
    fv = os.path.join(work, "c.fvecs")
    write_fvecs(fv, x)
    cli(base, "collection", "create", "h", "--dim", str(DIM), "--metric", "l2", "--index", "HNSW32,Flat")
    t0 = time.time()
    rc, out, err = cli(base, "put", "h", "--fvecs", fv, "--batch", "2000")
    ok(rc == 0, f"compact: {COMPACT_N} vectors put ({time.time() - t0:.1f} s)", err)
    deleted = sorted(rnd.sample(range(COMPACT_N), int(0.3 * COMPACT_N)))
    for s in range(0, len(deleted), 3000):
        rc, out, err = cli(base, "delete", "h", *[str(i) for i in deleted[s:s + 3000]])
        if rc:
            break
    ok(rc == 0, f"compact: {len(deleted)} of {COMPACT_N} deleted", err)
    dset = set(deleted)
    live = [i for i in range(COMPACT_N) if i not in dset]
    nlive = len(live)
    # How long an uninterrupted compaction and checkpoint take.
    full = {}
    for op in ("compact", "checkpoint"):
        probe = os.path.join(work, "cprobe")
        shutil.copytree(base, probe)
        t0 = time.time()
        rc, out, err = cli(probe, "collection", op, "h")
        full[op] = time.time() - t0
        ok(rc == 0, f"compact: uninterrupted {op} ({full[op]:.2f} s)", err)
        shutil.rmtree(probe, ignore_errors=True)
    kills = {"compact": 0, "checkpoint": 0}
    for run in range(RUNS):
        op = "compact" if run % 3 != 2 else "checkpoint"
        tag = f"{op} run {run}"
        data = os.path.join(work, f"c{run}")
        shutil.copytree(base, data)
        kill_at = rnd.uniform(0.02, max(0.1, full[op] * 0.95))
        p = subprocess.Popen([BIN, "--data", data, "--quiet", "collection", op, "h"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=quiet_env)
        time.sleep(kill_at)
        finished = p.poll() is not None
        p.send_signal(signal.SIGKILL)
        p.wait()
        kills[op] += not finished
        # The CLI opens it (and rebuilds or replays what it must).
        rc, out, err = cli(data, "collection", "info", "h", "--json")
        if not ok(rc == 0, f"{tag}: opens after kill -9 at {kill_at:.2f} s"
                  f"{' (had finished)' if finished else ''}", err):
            continue
        info = json.loads(out)
        ok(info["count"] == nlive and info["indexed"] - info["tombstones"] == nlive,
           f"{tag}: CLI info: count {info['count']} == {nlive}, indexed {info['indexed']} - tombstones "
           f"{info['tombstones']} == count", out)
        # One item through the CLI, exact vector.
        i = rnd.choice(live)
        rc, out, err = cli(data, "get", "h", str(i), "--json")
        ok(rc == 0 and np.array_equal(np.array(json.loads(out)["vector"], dtype=np.float32), x[i]),
           f"{tag}: omnidex get {i} --json gives its exact vector", err)
        try:
            srv = Server("--workers", "2", data=data).start()
        except RuntimeError as e:
            ok(False, f"{tag}: server opens the directory", str(e))
            continue
        ch, stub = stub_of(srv)
        check_index(stub, "h", tag, nlive, nlive)
        want = {str(i): x[i] for i in rnd.sample(live, 400)}
        check_items(stub, "h", want, tag)
        check_absent(stub, "h", [str(i) for i in rnd.sample(deleted, 50)], tag)
        check_search(stub, "h", want, tag, n=40)
        ch.close()
        srv.stop()
        shutil.rmtree(data, ignore_errors=True)
    print(f"# compact/checkpoint: {RUNS} runs, {kills['compact']} compactions and {kills['checkpoint']} "
          f"checkpoints killed before they finished; {nlive} live items checked each run", flush=True)
    shutil.rmtree(base, ignore_errors=True)


# ---- 3. disk full ---------------------------------------------------------------
def scenario_disk_full():
    mnt = os.path.join(work, "small")
    os.makedirs(mnt)
    if os.geteuid() != 0:
        print("ok - disk full # skip: needs root to mount a tmpfs", flush=True)
        return
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt], capture_output=True, text=True)
    if p.returncode != 0:
        # ulimit -f would make writes fail with EFBIG (-> ODX_EIO, not EFULL)
        # and cannot give space back, so it cannot test this contract.
        print(f"ok - disk full # skip: mount refused ({p.stderr.strip()})", flush=True)
        return
    srv = None
    try:
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * (6 << 20))
        data = os.path.join(mnt, "db")
        os.environ["OMNIDEX_INITIAL_MAP_MB"] = "1"
        srv = Server("--workers", "2", data=data)
        srv.errlog = os.path.join(work, "diskfull.stderr")  # not on the small filesystem
        try:
            srv.start()
        finally:
            del os.environ["OMNIDEX_INITIAL_MAP_MB"]
        ch, stub = stub_of(srv)
        dim = 256
        stub.CreateCollection(pb.CreateCollectionRequest(name="d", dim=dim, metric=pb.METRIC_L2,
                                                         index_spec="Flat"), timeout=30)
        acked, fails, seq = {}, [], 0
        for b in range(200):
            vs = nrng.standard_normal((100, dim)).astype(np.float32)
            ids = [f"d{seq + j}" for j in range(100)]
            seq += 100
            st, det = code_of(lambda: stub.Upsert(pb.UpsertRequest(
                collection="d", items=[item(i, v) for i, v in zip(ids, vs)]), timeout=60))
            if st == grpc.StatusCode.OK:
                acked.update(zip(ids, vs))
            else:
                fails.append((st, det))
                if len(fails) >= 4:
                    break
        st_df = os.statvfs(mnt)
        print(f"# disk full: {len(acked)} items acknowledged before the first failure; "
              f"{st_df.f_bavail * st_df.f_frsize >> 10} KiB free", flush=True)
        ok(fails, f"disk full: writes fail once the 16 MiB filesystem is full ({len(acked)} items in)")
        if fails:
            codes = sorted({s.name for s, _ in fails})
            # F10 (tests/RELIABILITY.md): LMDB reports a short write (the
            # filesystem filled up mid-commit) as EIO, which the engine keeps
            # as ODX_EIO and the server answers INTERNAL.
            f10 = [d for s, d in fails if s == grpc.StatusCode.INTERNAL and "Input/output error" in d]
            if f10:
                print(f"# known finding F10: {len(f10)} of {len(fails)} failing writes answered INTERNAL "
                      f"({f10[0]!r}), not RESOURCE_EXHAUSTED", flush=True)
            ok(all(d and (s == grpc.StatusCode.RESOURCE_EXHAUSTED or d in f10) for s, d in fails),
               f"disk full: each of {len(fails)} failing writes answers RESOURCE_EXHAUSTED (or INTERNAL/EIO, "
               f"known finding F10) with a message (got {codes}: {fails[0][1]!r})")
            # A single small write fails the same way, and a delete too (or succeeds: it frees nothing new).
            st, det = code_of(lambda: stub.Upsert(pb.UpsertRequest(
                collection="d", items=[item("tiny", np.zeros(dim, np.float32) + 1)]), timeout=60))
            print(f"# disk full: one more 1-item upsert -> {st.name}: {det if st != grpc.StatusCode.OK else ''}",
                  flush=True)
        ok(srv.alive(), "disk full: the server is still running")
        check_items(stub, "d", acked, "disk full, reads")
        check_search(stub, "d", acked, "disk full, reads", n=20)
        check_index(stub, "d", "disk full", len(acked), len(acked) + 101)
        os.unlink(filler)
        more = {}
        for b in range(3):
            vs = nrng.standard_normal((100, dim)).astype(np.float32)
            ids = [f"e{b * 100 + j}" for j in range(100)]
            st, det = code_of(lambda: stub.Upsert(pb.UpsertRequest(
                collection="d", items=[item(i, v) for i, v in zip(ids, vs)]), timeout=60))
            if not ok(st == grpc.StatusCode.OK, f"disk full: write {b + 1} after freeing 6 MiB succeeds", det):
                break
            more.update(zip(ids, vs))
        acked.update(more)
        ch.close()
        rc = srv.stop()
        ok(rc == 0, "disk full: server exits 0 on SIGTERM", srv.stderr())
        srv = Server("--workers", "2", data=data)
        srv.errlog = os.path.join(work, "diskfull2.stderr")
        srv.start()
        ch, stub = stub_of(srv)
        check_items(stub, "d", acked, "disk full, after restart")
        check_index(stub, "d", "disk full, after restart", len(acked), len(acked) + 101)
        ch.close()
        srv.stop()
        srv = None
    finally:
        if srv is not None:
            srv.kill()
            srv.err.close()
        r = subprocess.run(["umount", mnt], capture_output=True, text=True)
        if r.returncode != 0:
            time.sleep(1)
            r = subprocess.run(["umount", "-l", mnt], capture_output=True, text=True)
        ok(r.returncode == 0, "disk full: tmpfs unmounted", r.stderr)


try:
    which = os.environ.get("OMNIDEX_CRASH_SCENARIOS", "writes,compact,diskfull").split(",")
    t0 = time.time()
    if "writes" in which:
        scenario_writes()
        print(f"# writes scenario {time.time() - t0:.1f} s", flush=True)
    t0 = time.time()
    if "compact" in which:
        scenario_compact()
        print(f"# compact scenario {time.time() - t0:.1f} s", flush=True)
    t0 = time.time()
    if "diskfull" in which:
        scenario_disk_full()
        print(f"# disk-full scenario {time.time() - t0:.1f} s", flush=True)
finally:
    shutil.rmtree(work, ignore_errors=True)
done()
