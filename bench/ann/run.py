#!/usr/bin/python3
"""bench/ann driver: omnidex vs raw FAISS (AVX2 source build and Debian's
generic libfaiss.a) vs hnswlib, on fashion-mnist-784 and synthetic-512, in
one run. Writes the "## ANN (bench/ann)" section of bench/RESULTS.md (other
sections are left as they are) and the raw measurements to
build/bench/ann-<mode>.jsonl.

How the run is arranged, so that the ratios are fair on a shared machine:
every contender is a separate process (the two FAISS builds cannot share one
binary). The processes build their indexes one after another (a build has
the machine to itself, as far as this run goes), then all stay alive and
the driver interleaves the measurements: for each round, each efSearch and
each mode, every contender runs once, in a rotating order. Each figure is
the best of the rounds, so a burst of load from elsewhere hits all
contenders alike and is discarded.

  make bench-ann                  (full size; ~15 min on 2 cores)
  make bench-ann BENCH_QUICK=1    (20k base vectors; ~2 min)
  /usr/bin/python3 bench/ann/run.py [--quick] [--rounds N] [--no-write]
"""
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "build", "bench")
DATA = os.path.join(BIN, "data")
RESULTS = os.path.join(ROOT, "bench", "RESULTS.md")
SECTION = "## ANN (bench/ann)"
THREADS = 2
TARGET = 0.95

# Per dataset: metric, efSearch sweep and query counts (single-query loops
# use a prefix of the queries; exact (Flat) search is costly, so it uses
# fewer). share_graph: raw FAISS searches the HNSW graph omnidex built
# (read from omnidex's checkpoint) instead of building its own; on the
# 200k-vector set each HNSW32 build takes ~5 minutes on 2 busy cores, and the
# run has a 15-minute budget. m16: also run hnswlib with M=16.
FULL = {
    "fashion-mnist-784": dict(metric="l2", efs=[10, 16, 24, 32, 48, 64, 128],
                              nq_single=500, nq_batch=2000, flat_single=40, flat_batch=400,
                              share_graph=False, m16=True),
    "synthetic-512": dict(metric="ip", efs=[32, 48, 64, 96, 128, 192, 256],
                          nq_single=200, nq_batch=600, flat_single=20, flat_batch=200,
                          share_graph=True, m16=False),
}
QUICK = {
    "fashion-mnist-784-quick": dict(metric="l2", efs=[10, 16, 32, 64, 128], nq_single=500, nq_batch=2000,
                                    flat_single=100, flat_batch=500, share_graph=False, m16=True),
    "synthetic-512-quick": dict(metric="ip", efs=[16, 32, 64, 128, 256], nq_single=500, nq_batch=1000,
                                flat_single=100, flat_batch=500, share_graph=True, m16=True),
}
ROUNDS = 2

# name, binary, extra arguments, which index kinds. "DB" stands for the
# omnidex data directory, "COPY" for a copy of it, "GRAPH" for omnidex's HNSW
# checkpoint when the dataset shares its graph (else the option is dropped).
CONTENDERS = [
    ("omnidex", "ann_omnidex", [], "hnsw,flat"),
    ("omnidex+effix", "ann_omnidex_hnswfix", ["--reuse", "1", "--db", "COPY"], "hnsw"),
    ("faiss-avx2", "ann_faiss_avx2", ["--label", "faiss-avx2", "--hnsw-from", "GRAPH"], "hnsw,flat"),
    ("faiss-debian", "ann_faiss_generic", ["--label", "faiss-debian", "--hnsw-from", "GRAPH"], "hnsw,flat"),
    ("hnswlib", "ann_hnswlib", ["--M", "32", "--efc", "40"], "hnsw"),
    ("hnswlib-M16", "ann_hnswlib", ["--M", "16", "--efc", "40"], "hnsw"),
]


def log(msg):
    print(f"[bench-ann {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Proc:
    """One contender process in --serve mode."""

    def __init__(self, name, argv):
        self.name = name
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.builds = []
        self.indexes = []
        while True:
            rec = self.read()
            if rec["phase"] == "build":
                rec["contender"] = name
                self.builds.append(rec)
            elif rec["phase"] == "ready":
                self.indexes = rec["indexes"]
                break

    def read(self):
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise SystemExit(f"bench-ann: {self.name} exited early (status {self.p.wait()})")
            if line.startswith("{"):
                return json.loads(line)

    def search(self, i, mode, ef):
        self.p.stdin.write(f"search {i} {mode} {ef}\n")
        self.p.stdin.flush()
        rec = self.read()
        rec["contender"] = self.name
        return rec

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        if self.p.wait() != 0:
            raise SystemExit(f"bench-ann: {self.name} failed (status {self.p.returncode})")


def run_dataset(name, cfg, rounds, rows):
    ddir = os.path.join(DATA, name)
    db = os.path.join(BIN, "db", name)
    shutil.rmtree(db, ignore_errors=True)
    os.makedirs(os.path.dirname(db), exist_ok=True)
    common = ["--data", ddir, "--metric", cfg["metric"], "--threads", str(THREADS), "--k", "10",
              "--nq-single", str(cfg["nq_single"]), "--nq-batch", str(cfg["nq_batch"]),
              "--flat-nq-single", str(cfg["flat_single"]), "--flat-nq-batch", str(cfg["flat_batch"]),
              "--reps", "1", "--serve", "1", "--db", db]
    procs = []
    try:
        for cname, binary, extra, kinds in CONTENDERS:
            if cname == "hnswlib-M16" and not cfg["m16"]:
                continue
            if "GRAPH" in extra:
                at = extra.index("GRAPH")
                if cfg["share_graph"]:
                    extra = extra[:at] + [os.path.join(db, "indexes", "hnsw.faiss")] + extra[at + 1:]
                else:
                    extra = extra[:at - 1] + extra[at + 1:]
            log(f"{name}: {cname}: building")
            t = time.time()
            if "COPY" in extra:
                # omnidex locks its data directory per process: give the
                # diagnostic binary a copy of the (idle, checkpointed) one.
                copy = db + "-copy"
                shutil.rmtree(copy, ignore_errors=True)
                shutil.copytree(db, copy, ignore=shutil.ignore_patterns("LOCK", "lock.mdb"))
                extra = [copy if a == "COPY" else a for a in extra]
            pr = Proc(cname, [os.path.join(BIN, binary)] + common + extra + ["--only", kinds])
            procs.append(pr)
            rows.extend(pr.builds)
            log(f"{name}: {cname}: ready in {time.time() - t:.0f} s")
        best = {}
        t = time.time()
        for r in range(rounds):
            step = 0
            for kind, efs in (("hnsw", cfg["efs"]), ("flat", [0])):
                for ef in efs:
                    for mode in ("batch", "single"):
                        order = [(pr, ix) for pr in procs for ix in pr.indexes if ix["kind"] == kind]
                        rot = (r + step) % len(order)
                        step += 1
                        for pr, ix in order[rot:] + order[:rot]:
                            rec = pr.search(ix["i"], mode, ef)
                            key = (rec["contender"], rec["index"], mode, ef)
                            rec["rounds"] = r + 1
                            if key not in best:
                                best[key] = rec
                            else:  # best wall-clock and best CPU time, each over the rounds
                                b = best[key]
                                b["rounds"] = r + 1
                                if rec["seconds"] < b["seconds"]:
                                    b["seconds"], b["qps"] = rec["seconds"], rec["qps"]
                                if rec["cpu_seconds"] < b["cpu_seconds"]:
                                    b["cpu_seconds"], b["qps_cpu"] = rec["cpu_seconds"], rec["qps_cpu"]
            log(f"{name}: round {r + 1}/{rounds} done ({time.time() - t:.0f} s)")
        rows.extend(best.values())
    finally:
        for pr in procs:
            pr.close()
    shutil.rmtree(db, ignore_errors=True)
    shutil.rmtree(db + "-copy", ignore_errors=True)


# ---- report ----

def fmt_qps(q):
    return f"{q:,.0f}" if q >= 100 else f"{q:,.1f}"


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    flags = open("/proc/cpuinfo").read()
    isa = [x for x in ("avx2", "fma", "avx512f") if re.search(rf"\b{x}\b", flags)]
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()
    return dict(nproc=os.cpu_count(), cpu=cpu, isa=" ".join(isa), mem_gib=round(mem, 1),
                kernel=platform.release(), load=load)


def search_rows(rows, dataset, kind):
    return [r for r in rows if r["phase"] == "search" and r["dataset"] == dataset
            and (r["ef"] == 0) == (kind == "flat")]


def at_target(rows, contender, mode):
    """The row of contender/mode at the lowest efSearch whose batch recall
    (the larger query set) is >= TARGET, or None; and the best recall seen."""
    rs = sorted((r for r in rows if r["contender"] == contender and r["mode"] == "batch"), key=lambda r: r["ef"])
    best = max((r["recall"] for r in rs), default=0.0)
    for r in rs:
        if r["recall"] >= TARGET:
            return next((x for x in rows if x["contender"] == contender and x["mode"] == mode
                         and x["ef"] == r["ef"]), None), best
    return None, best


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "n/a"


def render(rows, quick, cmd, started, elapsed, mach):
    out = [SECTION, ""]
    datasets = []
    for r in rows:
        if r["dataset"] not in datasets:
            datasets.append(r["dataset"])
    out.append(f"Run {started} ({elapsed / 60:.1f} min), {'QUICK mode (20k-vector subsets; not the headline figures)' if quick else 'full size'}. "
               f"Machine: {mach['nproc']} CPUs, {mach['cpu']} ({mach['isa']}), {mach['mem_gib']} GiB, "
               f"Linux {mach['kernel']}; shared with other work while it ran (load average at the end "
               f"{mach['load'][0]:.1f} / {mach['load'][1]:.1f} / {mach['load'][2]:.1f}), which is why the driver "
               f"interleaves the contenders and keeps the best of {max((r.get('rounds', 1) for r in rows), default=1)} rounds. "
               "QPS figures are computed from the process's CPU time (CLOCK_PROCESS_CPUTIME_ID) divided by the thread "
               "count, i.e. the rate on dedicated cores: under this load wall-clock QPS swung by 2x between rounds, "
               "CPU time far less. Wall-clock QPS is shown beside the headline figures and kept in the raw file. "
               "CPU time slightly favours a contender with serial phases (its idle thread costs nothing): omnidex "
               "maps hits to ids on one thread after the parallel search, ~2% of its search time in a profile.")
    out.append("")
    out.append(f"Reproduce every figure in this section: `{cmd}` (driver: `bench/ann/run.py`; data and exact ground "
               f"truth are cached in `build/bench/data/`; raw measurements in `build/bench/ann-{'quick' if quick else 'full'}.jsonl`).")
    out.append("")
    out.append("Method. recall@10 against exact brute-force neighbours (float64 re-scored; a returned id counts when it "
               "is no farther than the true 10th neighbour, so exact ties count either way). *batch*: all queries in "
               f"one call on {THREADS} threads (OMP_NUM_THREADS={THREADS}; FAISS and omnidex parallelise over queries with "
               "OpenMP, hnswlib with an OpenMP `parallel for` over `searchKnn`, dynamic schedule). *single*: one query "
               "per call in a loop, 1 thread (as ann-benchmarks measures). omnidex is timed through `odx_search` + "
               "reading the hit ids + `odx_results_free`; raw FAISS through `Index::search`; hnswlib through "
               "`searchKnn`. Graph parameters are matched: FAISS `HNSW32` has 64 links on layer 0 and 32 above, "
               "which is hnswlib M=32 (`maxM0 = 2*M`); efConstruction 40 everywhere (FAISS's default, which omnidex "
               "inherits); hnswlib M=16 (32 links on layer 0) is shown as an extra point. hnswlib and the AVX2 FAISS "
               "are compiled with `-O3 -mavx2 -mfma -mf16c -mpopcnt`; Debian's libfaiss.a reports `OPTIMIZE GENERIC`. "
               "omnidex uses the L2 metric on fashion-mnist and cosine on synthetic-512 (unit vectors; the "
               "raw libraries use inner product there). Builds are 2 threads; omnidex's build is `odx_upsert` of "
               "10,000-vector batches (durable LMDB commits plus the FAISS add), its checkpoint timed apart. "
               "`omnidex+effix` is a diagnostic, not a product: the same omnidex data directory opened read-only "
               "by a binary whose FAISS has one line of `HNSW.cpp` changed (see docs/bench-notes.md). Where a build "
               "table says *not built*, raw FAISS searches the very graph omnidex built (read from omnidex's index "
               "checkpoint; same FAISS 1.7.3 file format), so at equal efSearch omnidex and raw FAISS return the same "
               "neighbours and the QPS ratio is omnidex's own overhead; the full-size 200k x 512 set does this "
               "because each HNSW32 build there takes minutes, and the whole run has a 15-minute budget.")
    out.append("")
    for ds in datasets:
        drows = [r for r in rows if r["dataset"] == ds]
        b0 = next(r for r in drows if r["phase"] == "build")
        out.append(f"### {ds} ({b0['n']:,} x {b0['dim']}, {b0['metric']}, k=10)")
        out.append("")
        hn = search_rows(rows, ds, "hnsw")
        cont = []
        for r in hn:
            if r["contender"] not in cont:
                cont.append(r["contender"])
        # headline
        out.append(f"QPS at recall@10 >= {TARGET} (each contender at its lowest efSearch whose batch recall reaches it; "
                   "QPS from CPU time, wall-clock in brackets):")
        out.append("")
        out.append("| contender | index | ef | batch R@10 | batch QPS | (wall) | single R@10 | single QPS | (wall) |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        head = {}
        for c in cont:
            cells = []
            idx = next(r["index"] for r in hn if r["contender"] == c)
            for mode in ("batch", "single"):
                r, best = at_target(hn, c, mode)
                head[(c, mode)] = r["qps_cpu"] if r else None
                if mode == "batch":
                    cells.append(str(r["ef"]) if r else "-")
                cells += [f"{r['recall']:.3f}", fmt_qps(r["qps_cpu"]), fmt_qps(r["qps"])] if r else \
                    [f"max {best:.3f}", "not reached", ""]
            out.append(f"| {c} | {idx} | " + " | ".join(cells) + " |")
        out.append("")
        out.append("Ratios at that recall (omnidex QPS / other QPS; goal: >= 1.0x Debian FAISS, >= 0.9x hnswlib):")
        out.append("")
        out.append("| numerator | mode | / faiss-debian | / faiss-avx2 | / hnswlib (M=32) | / hnswlib-M16 |")
        out.append("|---|---|---|---|---|---|")
        for num in ("omnidex", "omnidex+effix"):
            if num not in cont:
                continue
            for mode in ("batch", "single"):
                a = head.get((num, mode))
                out.append(f"| {num} | {mode} | " + " | ".join(
                    ratio(a, head.get((o, mode))) for o in ("faiss-debian", "faiss-avx2", "hnswlib", "hnswlib-M16")) + " |")
        out.append("")
        # same-ef comparison: omnidex overhead over the FAISS it wraps
        efs = sorted({r["ef"] for r in hn})
        out.append("omnidex's overhead over the FAISS it wraps, at equal efSearch (same recall within noise; "
                   "omnidex QPS / faiss-avx2 QPS):")
        out.append("")
        out.append("| mode | " + " | ".join(f"ef {e}" for e in efs) + " |")
        out.append("|---|" + "---|" * len(efs))
        for num in ("omnidex", "omnidex+effix"):
            for mode in ("batch", "single"):
                cells = []
                for e in efs:
                    a = next((r for r in hn if r["contender"] == num and r["mode"] == mode and r["ef"] == e), None)
                    b = next((r for r in hn if r["contender"] == "faiss-avx2" and r["mode"] == mode and r["ef"] == e), None)
                    cells.append(ratio(a and a["qps_cpu"], b and b["qps_cpu"]))
                out.append(f"| {num} {mode} | " + " | ".join(cells) + " |")
        out.append("")
        # full sweep
        for mode in ("batch", "single"):
            nq = next(r["nq"] for r in hn if r["mode"] == mode)
            out.append(f"Sweep, {mode} ({nq:,} queries; {'1 thread' if mode == 'single' else f'{THREADS} threads'}): "
                       "QPS (recall@10) per efSearch")
            out.append("")
            out.append("| contender | " + " | ".join(f"ef {e}" for e in efs) + " |")
            out.append("|---|" + "---|" * len(efs))
            for c in cont:
                cells = []
                for e in efs:
                    r = next((x for x in hn if x["contender"] == c and x["mode"] == mode and x["ef"] == e), None)
                    cells.append(f"{fmt_qps(r['qps_cpu'])} ({r['recall']:.3f})" if r else "")
                out.append(f"| {c} | " + " | ".join(cells) + " |")
            out.append("")
        # flat
        fl = search_rows(rows, ds, "flat")
        if fl:
            out.append("Exact search (Flat):")
            out.append("")
            out.append("| contender | batch QPS (queries) | R@10 | single QPS (queries) | R@10 |")
            out.append("|---|---|---|---|---|")
            for c in [x for x in ("omnidex", "faiss-avx2", "faiss-debian")]:
                rb = next((r for r in fl if r["contender"] == c and r["mode"] == "batch"), None)
                rs = next((r for r in fl if r["contender"] == c and r["mode"] == "single"), None)
                if rb and rs:
                    out.append(f"| {c} | {fmt_qps(rb['qps_cpu'])} ({rb['nq']:,}) | {rb['recall']:.3f} | "
                               f"{fmt_qps(rs['qps_cpu'])} ({rs['nq']:,}) | {rs['recall']:.3f} |")
            out.append("")
        # builds
        out.append("Builds (2 threads):")
        out.append("")
        out.append("| contender | index | parameters | seconds | notes |")
        out.append("|---|---|---|---|---|")
        for r in drows:
            if r["phase"] != "build":
                continue
            params = ""
            if "M" in r:
                params = f"M={r['M']} (layer 0: {r['M0']}), efConstruction={r['efConstruction']}"
            elif r["contender"].startswith("omnidex") and "HNSW" in r["index"]:
                params = "M=32 (layer 0: 64), efConstruction=40 (FAISS defaults)"
            notes = []
            if "checkpoint_seconds" in r:
                notes.append(f"upserts of {r['upsert_batch']:,}; checkpoint {r['checkpoint_seconds']:.1f} s apart; "
                             f"index in use: {r['index_type']}; metric {r['omnidex_metric']}")
            if "faiss_compile_options" in r:
                notes.append(r["faiss_compile_options"])
            secs = f"{r['seconds']:.1f}"
            if r.get("graph", "").startswith("loaded"):
                secs = f"not built (loaded omnidex's graph in {r['seconds']:.1f} s)"
                notes.insert(0, "searches the graph omnidex built, read from its checkpoint")
            out.append(f"| {r['contender']} | {r['index']} | {params} | {secs} | {'; '.join(notes)} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def write_section(text):
    """Replaces only the ANN section of bench/RESULTS.md (up to the next
    '## ' heading), keeping every other section as it is."""
    old = open(RESULTS).read() if os.path.exists(RESULTS) else "# Benchmark results\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, l in enumerate(lines) if l.rstrip() == SECTION), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        keep_notes = [l for l in lines[start:end]]
        # A hand-written analysis kept under "<!-- ann-notes -->" survives re-runs.
        marker = next((i for i, l in enumerate(keep_notes) if l.strip() == "<!-- ann-notes -->"), None)
        notes = "".join(keep_notes[marker:]).rstrip("\n") + "\n" if marker is not None else ""
        tail = "".join(lines[end:])
        new = "".join(lines[:start]) + text + ("\n" + notes if notes else "") + ("\n" + tail if tail else "")
    tmp = RESULTS + ".tmp"
    with open(tmp, "w") as f:
        f.write(new)
    os.replace(tmp, RESULTS)


def main():
    args = sys.argv[1:]
    quick = "--quick" in args
    rounds = ROUNDS
    if "--rounds" in args:
        rounds = int(args[args.index("--rounds") + 1])
    only = None
    if "--datasets" in args:
        only = args[args.index("--datasets") + 1].split(",")
    os.environ["OMP_NUM_THREADS"] = str(THREADS)
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    t0 = time.time()
    subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "ann", "prep.py"), DATA]
                   + (["--quick"] if quick else []), check=True)
    cfgs = QUICK if quick else FULL
    rows = []
    for name, cfg in cfgs.items():
        if only and not any(name.startswith(o) for o in only):
            continue
        run_dataset(name, cfg, rounds, rows)
    elapsed = time.time() - t0
    raw = os.path.join(BIN, f"ann-{'quick' if quick else 'full'}.jsonl")
    with open(raw, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    cmd = "make bench-ann" + (" BENCH_QUICK=1" if quick else "")
    text = render(rows, quick, cmd, started, elapsed, machine())
    if "--no-write" in args:
        sys.stdout.write(text)
    else:
        write_section(text)
        log(f"wrote {RESULTS} ({SECTION}); raw rows in {raw}")
    log(f"total {elapsed / 60:.1f} min")


if __name__ == "__main__":
    main()
