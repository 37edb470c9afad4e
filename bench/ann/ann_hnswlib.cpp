// hnswlib (Debian libhnswlib-dev 0.6.2, header-only), compiled with the same
// instruction-set flags as the AVX2 FAISS build. Parameters are matched to
// FAISS's HNSW32: FAISS's HNSW(M=32) keeps 2*M = 64 links on layer 0 and M =
// 32 above, which is hnswlib's M=32 (maxM0_ = 2*M); both use level
// multiplier 1/ln(M) and efConstruction 40 (FAISS's default, which omnidex
// uses). Build and batched search run on an OpenMP team of the harness'
// thread count (parallel for, dynamic schedule), the way FAISS parallelises.
//
//   ann_hnswlib --data DIR --metric l2|ip [--M 32] [--efc 40] [harness options]
#include <hnswlib/hnswlib.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>

#include "bench/ann/harness.h"

namespace {

struct Contender {
    hnswlib::HierarchicalNSW<float> *index;
    int dim;
};

int hnsw_search(void *self, size_t nq, const float *q, int k, int ef, int64_t *labels)
{
    Contender *c = static_cast<Contender *>(self);
    c->index->setEf((size_t)ef);
    int fail = 0;
#pragma omp parallel for schedule(dynamic, 4) if (nq > 1)
    for (size_t i = 0; i < nq; i++) {
        try {
            auto res = c->index->searchKnn(q + i * (size_t)c->dim, (size_t)k);
            int64_t *l = labels + i * (size_t)k;
            size_t n = res.size();
            for (size_t j = n; j < (size_t)k; j++) l[j] = -1;
            for (size_t j = n; j-- > 0;) {
                l[j] = (int64_t)res.top().second;
                res.pop();
            }
        } catch (const std::exception &e) {
#pragma omp critical
            {
                std::fprintf(stderr, "ann_hnswlib: %s\n", e.what());
                fail = 1;
            }
        }
    }
    return fail;
}

} // namespace

int main(int argc, char **argv)
{
    bench_ctx b;
    bench_init(&b, argc, argv);
    int M = std::atoi(bench_arg(argc, argv, "--M", "32"));
    int efc = std::atoi(bench_arg(argc, argv, "--efc", "40"));
    if (M < 2 || M > 256 || efc < 1) {
        std::fprintf(stderr, "ann_hnswlib: bad --M or --efc\n");
        return 2;
    }
    std::unique_ptr<hnswlib::SpaceInterface<float>> space;
    if (b.ip) space.reset(new hnswlib::InnerProductSpace((size_t)b.base.d));
    else space.reset(new hnswlib::L2Space((size_t)b.base.d));
    char name[64];
    std::snprintf(name, sizeof name, "HNSW M=%d efC=%d", M, efc);
    try {
        bench_set_threads(b.threads);
        double t = bench_now();
        hnswlib::HierarchicalNSW<float> index(space.get(), b.base.n, (size_t)M, (size_t)efc, 100);
        if (b.base.n) index.addPoint(b.base.x, 0);
#pragma omp parallel for schedule(dynamic, 64)
        for (size_t i = 1; i < b.base.n; i++) index.addPoint(b.base.x + i * (size_t)b.base.d, i);
        double build = bench_now() - t;
        char e[128];
        std::snprintf(e, sizeof e, "\"M\":%d,\"M0\":%d,\"efConstruction\":%d", M, 2 * M, efc);
        bench_emit_build(&b, "hnswlib", name, build, e);
        Contender c{&index, b.base.d};
        bench_contender bc = {"hnswlib", name, "hnsw", hnsw_search, &c, 0};
        bench_add(&b, &bc);
        bench_main(&b);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "ann_hnswlib: %s\n", e.what());
        return 1;
    }
    bench_free(&b);
    return 0;
}
