// Search with parameters and a selector for FAISS 1.7.3's C API, which gained
// faiss_Index_search_with_params only in 1.7.4. Written in the C API's
// conventions: exceptions stop here, the message goes to the C API's own
// last-error slot (faiss_get_last_error) and the function returns -1.
#include "index/faiss_ext.h"
#include "index/hnsw_search.h"

#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/invlists/InvertedLists.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

// The C API keeps its last error in a thread-local std::string defined in
// error_impl.cpp; we set it the same way its CATCH_AND_HANDLE macro does.
extern thread_local std::exception_ptr faiss_last_exception;

namespace {

struct CallbackSelector : faiss::IDSelector {
    odx_faiss_member_fn fn;
    void *ctx;
    CallbackSelector(odx_faiss_member_fn f, void *c) : fn(f), ctx(c) {}
    bool is_member(faiss::Index::idx_t id) const override { return fn(ctx, id) != 0; }
};

/* Which loop searches an HNSW index over flat storage: omnidex's own
 * (default) or FAISS's. ODX_HNSW_FAISS=1 in the environment, read once,
 * selects FAISS's; odx_faiss_hnsw_own() changes it at run time (tests). */
std::atomic<int> &hnsw_own()
{
    static std::atomic<int> own([] {
        const char *e = getenv("ODX_HNSW_FAISS");
        return (e && e[0] == '1') ? 0 : 1;
    }());
    return own;
}

} // namespace

extern "C" int odx_faiss_hnsw_own(int on)
{
    if (on >= 0) hnsw_own().store(on ? 1 : 0);
    return hnsw_own().load();
}

extern "C" int odx_faiss_search(const FaissIndex *cindex, idx_t n, const float *x, idx_t k,
                                int ef_search, int nprobe, odx_faiss_member_fn member,
                                void *ctx, float *distances, idx_t *labels)
{
    try {
        const faiss::Index *index = reinterpret_cast<const faiss::Index *>(cindex);
        CallbackSelector sel(member, ctx);
        faiss::IDSelector *selp = member ? &sel : nullptr;
        if (auto *h = dynamic_cast<const faiss::IndexHNSW *>(index)) {
            if (hnsw_own().load(std::memory_order_relaxed) && odx::hnsw_search_supported(*h)) {
                odx::hnsw_search(*h, n, x, k, ef_search, member, ctx, distances, labels);
                return 0;
            }
            faiss::SearchParametersHNSW p;
            // FAISS needs efSearch >= k to return k hits (with the index's
            // default too, which odx_index_search leaves to this call).
            p.efSearch = std::max(ef_search > 0 ? ef_search : h->hnsw.efSearch, (int)std::min<idx_t>(k, INT32_MAX));
            p.sel = selp;
            index->search(n, x, k, distances, labels, &p);
            return 0;
        }
        if (auto *ivf = dynamic_cast<const faiss::IndexIVF *>(index)) {
            faiss::SearchParametersIVF p;
            p.nprobe = nprobe > 0 ? (size_t)nprobe : ivf->nprobe;
            p.max_codes = ivf->max_codes;
            p.sel = selp;
            index->search(n, x, k, distances, labels, &p);
            return 0;
        }
        if (dynamic_cast<const faiss::IndexFlat *>(index) ||
            dynamic_cast<const faiss::IndexScalarQuantizer *>(index)) {
            if (!selp) {
                index->search(n, x, k, distances, labels);
            } else {
                faiss::SearchParameters p;
                p.sel = selp;
                index->search(n, x, k, distances, labels, &p);
            }
            return 0;
        }
        index->search(n, x, k, distances, labels);
        return selp ? ODX_FAISS_EXT_NOSEL : 0;
    } catch (...) {
        faiss_last_exception = std::current_exception();
        return -1;
    }
}

extern "C" int odx_faiss_set_defaults(FaissIndex *cindex, int ef_search, int nprobe)
{
    try {
        faiss::Index *index = reinterpret_cast<faiss::Index *>(cindex);
        if (auto *h = dynamic_cast<faiss::IndexHNSW *>(index)) {
            if (ef_search > 0) h->hnsw.efSearch = ef_search;
        }
        if (auto *ivf = dynamic_cast<faiss::IndexIVF *>(index)) {
            if (nprobe > 0) ivf->nprobe = (size_t)nprobe;
        }
        return 0;
    } catch (...) {
        faiss_last_exception = std::current_exception();
        return -1;
    }
}

extern "C" int odx_faiss_set_ef_construction(FaissIndex *cindex, int ef_construction)
{
    try {
        if (auto *h = dynamic_cast<faiss::IndexHNSW *>(reinterpret_cast<faiss::Index *>(cindex)))
            if (ef_construction > 0) h->hnsw.efConstruction = ef_construction;
        return 0;
    } catch (...) {
        faiss_last_exception = std::current_exception();
        return -1;
    }
}

extern "C" int odx_faiss_describe(const FaissIndex *cindex, char *buf, size_t len)
{
    const faiss::Index *index = reinterpret_cast<const faiss::Index *>(cindex);
    if (auto *h = dynamic_cast<const faiss::IndexHNSW *>(index)) {
        int m = h->hnsw.nb_neighbors(1);
        snprintf(buf, len, "HNSW%d (efSearch=%d, efConstruction=%d)", m, h->hnsw.efSearch,
                 h->hnsw.efConstruction);
    } else if (auto *ivf = dynamic_cast<const faiss::IndexIVF *>(index)) {
        snprintf(buf, len, "IVF%zu (nprobe=%zu%s)", ivf->nlist, ivf->nprobe,
                 ivf->is_trained ? "" : ", untrained");
    } else if (dynamic_cast<const faiss::IndexFlat *>(index)) {
        snprintf(buf, len, "Flat");
    } else if (dynamic_cast<const faiss::IndexScalarQuantizer *>(index)) {
        snprintf(buf, len, "SQ");
    } else {
        snprintf(buf, len, "other");
    }
    return 0;
}

extern "C" int odx_faiss_validate(const FaissIndex *cindex, char *why, size_t len)
{
    const faiss::Index *index = reinterpret_cast<const faiss::Index *>(cindex);
    const int64_t n = index->ntotal;
    if (n < 0) { snprintf(why, len, "negative ntotal"); return 1; }
    if (auto *h = dynamic_cast<const faiss::IndexHNSW *>(index)) {
        const faiss::HNSW &g = h->hnsw;
        if (!h->storage || h->storage->ntotal != n) { snprintf(why, len, "HNSW storage count differs"); return 1; }
        if ((int64_t)g.levels.size() != n || (int64_t)g.offsets.size() != n + 1 || g.offsets[0] != 0 ||
            g.offsets[n] != g.neighbors.size()) {
            snprintf(why, len, "HNSW level/offset tables do not match %lld vectors", (long long)n);
            return 1;
        }
        if (g.max_level < -1 || g.max_level + 1 >= (int)g.cum_nneighbor_per_level.size() ||
            g.entry_point < -1 || g.entry_point >= n || (n > 0) != (g.entry_point >= 0)) {
            snprintf(why, len, "HNSW entry point or top level out of range");
            return 1;
        }
        for (int64_t i = 0; i < n; i++) {
            int l = g.levels[i];
            if (l < 1 || l > g.max_level + 1 || g.offsets[i + 1] < g.offsets[i] ||
                g.offsets[i + 1] - g.offsets[i] != (size_t)g.cum_nneighbor_per_level[l]) {
                snprintf(why, len, "HNSW node %lld has a bad level or neighbour count", (long long)i);
                return 1;
            }
        }
        for (auto nb : g.neighbors)
            if (nb < -1 || nb >= n) { snprintf(why, len, "HNSW link to node %d of %lld", (int)nb, (long long)n); return 1; }
        return 0;
    }
    if (auto *ivf = dynamic_cast<const faiss::IndexIVF *>(index)) {
        const faiss::InvertedLists *il = ivf->invlists;
        if (!il || il->nlist != ivf->nlist || !ivf->quantizer || ivf->quantizer->ntotal != (int64_t)ivf->nlist) {
            snprintf(why, len, "IVF lists or quantizer do not match nlist %zu", ivf->nlist);
            return 1;
        }
        int64_t total = 0;
        for (size_t l = 0; l < il->nlist; l++) {
            size_t sz = il->list_size(l);
            total += (int64_t)sz;
            if (total > n) break;
            const faiss::Index::idx_t *ids = il->get_ids(l);
            for (size_t j = 0; j < sz; j++)
                if (ids[j] < 0 || ids[j] >= n) {
                    il->release_ids(l, ids);
                    snprintf(why, len, "IVF list %zu holds id %lld of %lld", l, (long long)ids[j], (long long)n);
                    return 1;
                }
            il->release_ids(l, ids);
        }
        if (total != n) { snprintf(why, len, "IVF lists hold %lld vectors, index says %lld", (long long)total, (long long)n); return 1; }
        return 0;
    }
    if (auto *f = dynamic_cast<const faiss::IndexFlat *>(index)) {
        if (f->codes.size() != (size_t)n * f->code_size) { snprintf(why, len, "Flat storage size differs"); return 1; }
    }
    return 0;
}
