// Raw FAISS through its C++ API: IndexHNSWFlat(d, 32) and IndexFlat, the
// indexes omnidex's "HNSW32,Flat" and "Flat" specs make. The same source is
// built twice: against the AVX2 source build (build/faiss/install) and
// against Debian's generic libfaiss.a; the two cannot share one binary.
// Labels are FAISS positions, which are the dataset row numbers here.
//
// With --hnsw-from FILE the HNSW graph is not built but read from an omnidex
// index checkpoint (index/index.c: a 192-byte header whose bytes 40..47 hold
// the vector count n, then n 8-byte seqs, then FAISS's own write_index
// payload). Raw FAISS then searches the very graph omnidex searches, which
// isolates omnidex's own overhead and saves a build of several minutes.
//
// --M and --efc set the HNSW build (defaults 32 and 40, FAISS's own).
//
//   ann_faiss --data DIR --metric l2|ip --label NAME [--hnsw-from FILE] [--M 32] [--efc 40] [harness options]
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/index_io.h>
#include <faiss/utils/utils.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/ann/harness.h"

namespace {

struct Contender {
    faiss::Index *index;
    faiss::IndexHNSW *hnsw; // null for Flat
};

int faiss_search(void *self, size_t nq, const float *q, int k, int ef, int64_t *labels)
{
    Contender *c = static_cast<Contender *>(self);
    try {
        if (c->hnsw) c->hnsw->hnsw.efSearch = ef;
        static thread_local std::vector<float> dist;
        dist.resize(nq * (size_t)k);
        c->index->search((faiss::Index::idx_t)nq, q, k, dist.data(), labels);
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "ann_faiss: %s\n", e.what());
        return -1;
    }
}

// Reads the FAISS index inside an omnidex checkpoint; throws on mismatch.
faiss::IndexHNSW *load_omnidex_hnsw(const char *path, size_t n, int d)
{
    FILE *f = std::fopen(path, "rb");
    if (!f) throw std::runtime_error(std::string("cannot open ") + path);
    unsigned char h[192];
    uint64_t cnt = 0;
    bool ok = std::fread(h, 1, sizeof h, f) == sizeof h && !std::memcmp(h, "ODXIDX01", 8);
    for (int i = 7; ok && i >= 0; i--) cnt = (cnt << 8) | h[40 + i];
    ok = ok && cnt == n && !std::fseek(f, (long)(sizeof h + 8 * cnt), SEEK_SET);
    faiss::Index *ix = nullptr;
    if (ok) {
        try {
            ix = faiss::read_index(f);
        } catch (...) {
            std::fclose(f);
            throw;
        }
    }
    std::fclose(f);
    auto *hn = dynamic_cast<faiss::IndexHNSW *>(ix);
    if (!hn || hn->ntotal != (faiss::Index::idx_t)n || hn->d != d) {
        delete ix;
        throw std::runtime_error(std::string(path) + ": not an omnidex HNSW checkpoint of this dataset");
    }
    return hn;
}

} // namespace

int main(int argc, char **argv)
{
    bench_ctx b;
    bench_init(&b, argc, argv);
    std::string label = bench_arg(argc, argv, "--label", "faiss");
    faiss::MetricType metric = b.ip ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
    std::string opts = faiss::get_compile_options();
    while (!opts.empty() && opts.back() == ' ') opts.pop_back();
    std::string extra = "\"faiss_compile_options\":\"" + opts + "\"";
    const char *from = bench_arg(argc, argv, "--hnsw-from", nullptr);
    const int M = std::atoi(bench_arg(argc, argv, "--M", "32"));
    const int efc = std::atoi(bench_arg(argc, argv, "--efc", "40"));
    if (M < 2 || M > 256 || efc < 1) {
        std::fprintf(stderr, "ann_faiss: bad --M or --efc\n");
        return 2;
    }
    char spec[64];
    std::snprintf(spec, sizeof spec, "HNSW%d,Flat,efC=%d", M, efc);
    std::unique_ptr<faiss::IndexHNSW> hnsw;
    std::unique_ptr<faiss::IndexFlat> flat;
    Contender ch{nullptr, nullptr}, cf{nullptr, nullptr};
    try {
        if (bench_wants(&b, "hnsw")) {
            bench_set_threads(b.threads);
            double t = bench_now();
            if (from) {
                hnsw.reset(load_omnidex_hnsw(from, b.base.n, b.base.d));
            } else {
                hnsw.reset(new faiss::IndexHNSWFlat(b.base.d, M, metric));
                hnsw->hnsw.efConstruction = efc;
                hnsw->add((faiss::Index::idx_t)b.base.n, b.base.x);
            }
            double build = bench_now() - t;
            if (hnsw->metric_type != metric) throw std::runtime_error("loaded index has another metric");
            char e[256];
            std::snprintf(e, sizeof e, ",\"M\":%d,\"M0\":%d,\"efConstruction\":%d,\"graph\":\"%s\"",
                          hnsw->hnsw.nb_neighbors(1), hnsw->hnsw.nb_neighbors(0), hnsw->hnsw.efConstruction,
                          from ? "loaded from omnidex's checkpoint" : "built here");
            bench_emit_build(&b, label.c_str(), from ? "HNSW32,Flat" : spec, build, (extra + e).c_str());
            ch = Contender{hnsw.get(), hnsw.get()};
            bench_contender bc = {label.c_str(), from ? "HNSW32,Flat" : spec, "hnsw", faiss_search, &ch, 0};
            bench_add(&b, &bc);
        }
        if (bench_wants(&b, "flat")) {
            flat.reset(new faiss::IndexFlat(b.base.d, metric));
            double t = bench_now();
            flat->add((faiss::Index::idx_t)b.base.n, b.base.x);
            bench_emit_build(&b, label.c_str(), "Flat", bench_now() - t, extra.c_str());
            cf = Contender{flat.get(), nullptr};
            bench_contender bc = {label.c_str(), "Flat", "flat", faiss_search, &cf, 0};
            bench_add(&b, &bc);
        }
        bench_main(&b);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "ann_faiss: %s\n", e.what());
        return 1;
    }
    bench_free(&b);
    return 0;
}
