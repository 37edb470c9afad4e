// omnidex's HNSW search over FAISS's graph (see hnsw_search.h for why).
//
// Algorithm (Malkov & Yashunin): greedy descent from the entry point through
// the upper levels, then a best-first search on level 0 that keeps the ef
// closest nodes seen (the stop rule) and, apart from them, the k closest
// nodes that pass the selector (the answer). Nodes the selector rejects are
// walked through like any other, so a filter changes the answer, not the
// route, as in FAISS.
//
// Internally every distance is "smaller is better": squared L2, or the
// negated inner product; the sign is restored on output.
//
// The whole per-query routine is compiled three times (generic, AVX2+FMA,
// AVX-512) by inlining one template body into functions with different
// target attributes; the variant is chosen once from __builtin_cpu_supports.
#include "index/hnsw_search.h"

#include <faiss/IndexFlat.h>

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cstdint>
#include <exception>
#include <new>
#include <vector>

#define ODX_INLINE inline __attribute__((always_inline))

namespace odx {
namespace {

using idx_t = faiss::Index::idx_t;
using node_t = faiss::HNSW::storage_idx_t;

struct Item {
    float d;
    node_t id;
};
struct Closer { // max-heap on distance: top is the farthest
    bool operator()(const Item &a, const Item &b) const { return a.d < b.d; }
};
struct Farther { // min-heap on distance: top is the closest
    bool operator()(const Item &a, const Item &b) const { return a.d > b.d; }
};

/* Per-thread scratch, kept between calls: the visited tags (one epoch per
 * query, cleared only when the 16-bit epoch wraps) and the heaps. */
struct Scratch {
    std::vector<uint16_t> tag;
    uint16_t epoch = 0;
    std::vector<Item> cand, top, res;
    std::vector<node_t> fresh;

    /* Starts a query over ntotal nodes; returns the epoch that marks visits. */
    uint16_t begin(size_t ntotal)
    {
        if (tag.size() < ntotal) tag.resize(ntotal, 0);
        if (++epoch == 0) {
            std::fill(tag.begin(), tag.end(), 0);
            epoch = 1;
        }
        cand.clear();
        top.clear();
        res.clear();
        return epoch;
    }
};
thread_local Scratch scratch;

/* Distance kernels: 32 independent lanes (4 AVX2 / 2 AVX-512 registers of
 * accumulators) so the compiler vectorises without reassociating, then one
 * horizontal sum. */
template <bool IP>
ODX_INLINE float distance(const float *a, const float *b, size_t d)
{
    float acc[32] = {0};
    size_t i = 0;
    for (; i + 32 <= d; i += 32)
        for (int j = 0; j < 32; j++) {
            if (IP) {
                acc[j] += a[i + j] * b[i + j];
            } else {
                float t = a[i + j] - b[i + j];
                acc[j] += t * t;
            }
        }
    for (; i + 8 <= d; i += 8)
        for (int j = 0; j < 8; j++) {
            if (IP) {
                acc[j] += a[i + j] * b[i + j];
            } else {
                float t = a[i + j] - b[i + j];
                acc[j] += t * t;
            }
        }
    for (; i < d; i++) {
        if (IP) {
            acc[0] += a[i] * b[i];
        } else {
            float t = a[i] - b[i];
            acc[0] += t * t;
        }
    }
    for (int j = 0; j < 16; j++) acc[j] += acc[j + 16];
    for (int j = 0; j < 8; j++) acc[j] += acc[j + 8];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    return IP ? -s : s;
}

struct Query {
    const faiss::HNSW *g;
    const float *xb; // storage vectors, ntotal x d
    size_t d, ntotal;
    size_t k, ef;
    odx_faiss_member_fn member;
    void *ctx;
};

ODX_INLINE void prefetch_vector(const float *v, size_t bytes)
{
    const char *p = reinterpret_cast<const char *>(v);
    if (bytes > 1024) bytes = 1024; // the hardware prefetcher follows the rest
    for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
}

/* One query: fills dist/lab with up to k hits, best first, internal sign.
 * Returns the number of hits. */
template <bool IP>
ODX_INLINE size_t search_body(const Query &qp, const float *q, float *dist, idx_t *lab)
{
    const faiss::HNSW &g = *qp.g;
    const float *xb = qp.xb;
    const size_t d = qp.d, bytes = d * sizeof(float);
    const node_t *nbr = g.neighbors.data();
    Scratch &s = scratch;

    node_t cur = g.entry_point;
    float dcur = distance<IP>(q, xb + (size_t)cur * d, d);

    // Greedy descent through the upper levels.
    for (int level = g.max_level; level >= 1; level--) {
        const size_t lo = (size_t)g.cum_nneighbor_per_level[level];
        const size_t hi = (size_t)g.cum_nneighbor_per_level[level + 1];
        for (bool moved = true; moved;) {
            moved = false;
            const node_t *row = nbr + g.offsets[cur];
            size_t m = lo;
            while (m < hi && row[m] >= 0) m++;
            if (m > lo) prefetch_vector(xb + (size_t)row[lo] * d, bytes);
            node_t best = cur;
            for (size_t j = lo; j < m; j++) {
                if (j + 1 < m) prefetch_vector(xb + (size_t)row[j + 1] * d, bytes);
                float dd = distance<IP>(q, xb + (size_t)row[j] * d, d);
                if (dd < dcur) {
                    dcur = dd;
                    best = row[j];
                }
            }
            if (best != cur) {
                cur = best;
                moved = true;
            }
        }
    }

    // Best-first search on level 0.
    const uint16_t ep = s.begin(qp.ntotal);
    uint16_t *tag = s.tag.data();
    const size_t ef = qp.ef, k = qp.k;
    const size_t width = (size_t)g.cum_nneighbor_per_level[1];
    if (s.fresh.size() < width) s.fresh.resize(width);
    node_t *fresh = s.fresh.data();
    auto &cand = s.cand, &top = s.top, &res = s.res;

    auto offer_result = [&](float dd, node_t id) {
        if (res.size() >= k && dd >= res.front().d) return;
        if (qp.member && !qp.member(qp.ctx, (idx_t)id)) return;
        res.push_back({dd, id});
        std::push_heap(res.begin(), res.end(), Closer());
        if (res.size() > k) {
            std::pop_heap(res.begin(), res.end(), Closer());
            res.pop_back();
        }
    };

    tag[cur] = ep;
    cand.push_back({dcur, cur});
    top.push_back({dcur, cur});
    offer_result(dcur, cur);

    while (!cand.empty()) {
        const Item c = cand.front();
        if (top.size() >= ef && c.d > top.front().d) break;
        std::pop_heap(cand.begin(), cand.end(), Farther());
        cand.pop_back();

        const node_t *row = nbr + g.offsets[c.id];
        size_t nf = 0;
        for (size_t j = 0; j < width; j++) {
            node_t v = row[j];
            if (v < 0) break;
            if (tag[v] == ep) continue;
            tag[v] = ep;
            fresh[nf++] = v;
        }
        if (nf > 0) prefetch_vector(xb + (size_t)fresh[0] * d, bytes);
        if (nf > 1) prefetch_vector(xb + (size_t)fresh[1] * d, bytes);
        for (size_t j = 0; j < nf; j++) {
            if (j + 2 < nf) prefetch_vector(xb + (size_t)fresh[j + 2] * d, bytes);
            const node_t v = fresh[j];
            const float dd = distance<IP>(q, xb + (size_t)v * d, d);
            if (top.size() < ef || dd < top.front().d) {
                cand.push_back({dd, v});
                std::push_heap(cand.begin(), cand.end(), Farther());
                top.push_back({dd, v});
                std::push_heap(top.begin(), top.end(), Closer());
                if (top.size() > ef) {
                    std::pop_heap(top.begin(), top.end(), Closer());
                    top.pop_back();
                }
            }
            offer_result(dd, v);
        }
    }

    std::sort_heap(res.begin(), res.end(), Closer()); // ascending distance
    for (size_t i = 0; i < res.size(); i++) {
        dist[i] = res[i].d;
        lab[i] = res[i].id;
    }
    return res.size();
}

using search_fn = size_t (*)(const Query &, const float *, float *, idx_t *);

template <bool IP> size_t search_generic(const Query &qp, const float *q, float *dist, idx_t *lab)
{
    return search_body<IP>(qp, q, dist, lab);
}
#if defined(__x86_64__) || defined(__i386__)
template <bool IP>
__attribute__((target("avx2,fma"))) size_t search_avx2(const Query &qp, const float *q, float *dist, idx_t *lab)
{
    return search_body<IP>(qp, q, dist, lab);
}
template <bool IP>
__attribute__((target("avx512f,avx2,fma,prefer-vector-width=512"))) size_t
search_avx512(const Query &qp, const float *q, float *dist, idx_t *lab)
{
    return search_body<IP>(qp, q, dist, lab);
}
#endif

search_fn pick(bool ip)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return ip ? search_avx512<true> : search_avx512<false>;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return ip ? search_avx2<true> : search_avx2<false>;
#endif
    return ip ? search_generic<true> : search_generic<false>;
}

/* Writes one query's answer in FAISS's convention. */
void finish(const Query &qp, bool ip, size_t got, float *dist, idx_t *lab)
{
    if (ip)
        for (size_t i = 0; i < got; i++) dist[i] = -dist[i];
    for (size_t i = got; i < qp.k; i++) {
        dist[i] = ip ? -FLT_MAX : FLT_MAX;
        lab[i] = -1;
    }
}

} // namespace

bool hnsw_search_supported(const faiss::IndexHNSW &index)
{
    auto *flat = dynamic_cast<const faiss::IndexFlat *>(index.storage);
    if (!flat || flat->d != index.d || flat->code_size != (size_t)index.d * sizeof(float)) return false;
    if (index.metric_type != faiss::METRIC_INNER_PRODUCT && index.metric_type != faiss::METRIC_L2) return false;
    return flat->metric_type == index.metric_type && flat->ntotal == index.ntotal;
}

void hnsw_search(const faiss::IndexHNSW &index, idx_t n, const float *x, idx_t k, int ef, odx_faiss_member_fn member,
                 void *ctx, float *distances, idx_t *labels)
{
    const bool ip = index.metric_type == faiss::METRIC_INNER_PRODUCT;
    static const search_fn fns[2] = {pick(false), pick(true)};
    const search_fn fn = fns[ip ? 1 : 0];
    auto *flat = static_cast<const faiss::IndexFlat *>(index.storage);
    Query qp;
    qp.g = &index.hnsw;
    qp.xb = flat->get_xb();
    qp.d = (size_t)index.d;
    qp.ntotal = (size_t)index.ntotal;
    qp.k = (size_t)k;
    qp.ef = (size_t)std::max(ef > 0 ? ef : index.hnsw.efSearch, (int)std::min<idx_t>(k, INT32_MAX));
    qp.member = member;
    qp.ctx = ctx;

    if (index.ntotal == 0 || index.hnsw.entry_point < 0) {
        for (idx_t i = 0; i < n; i++) finish(qp, ip, 0, distances + i * k, labels + i * k);
        return;
    }
    if (n == 1) {
        size_t got = fn(qp, x, distances, labels);
        finish(qp, ip, got, distances, labels);
        return;
    }
    std::atomic<bool> failed(false);
#pragma omp parallel for schedule(dynamic, 1)
    for (idx_t i = 0; i < n; i++) {
        if (failed.load(std::memory_order_relaxed)) continue;
        try {
            size_t got = fn(qp, x + i * index.d, distances + i * k, labels + i * k);
            finish(qp, ip, got, distances + i * k, labels + i * k);
        } catch (...) { // only std::bad_alloc can arise; exceptions must not leave the region
            failed.store(true);
        }
    }
    if (failed.load()) throw std::bad_alloc();
}

} // namespace odx
