/* omnidex's own k-NN search over a FAISS 1.7.3 HNSW graph whose vectors sit
 * in an IndexFlat (IndexHNSWFlat). FAISS's HNSW loop allocates a visited
 * table per call, scans its candidate queue linearly, makes a virtual call
 * per distance and never prefetches; this walks the same public graph
 * (hnsw.levels/offsets/neighbors) with per-thread epoch-tagged visited
 * arrays, binary heaps, prefetch of the next neighbours' vectors and an FMA
 * kernel chosen at run time. Internal to index/: C++ only. */
#ifndef ODX_INDEX_HNSW_SEARCH_H
#define ODX_INDEX_HNSW_SEARCH_H
#include <faiss/IndexHNSW.h>

#include "index/faiss_ext.h"

namespace odx {

/* True when hnsw_search can answer for this index (storage an IndexFlat with
 * the index's metric, inner product or L2). */
bool hnsw_search_supported(const faiss::IndexHNSW &index);

/* Searches n queries (nq > 1 in an OpenMP parallel for). ef <= 0 uses the
 * index default; the queue holds max(ef, k). member (may be NULL) keeps a
 * label out of the results when it returns 0; such nodes are still walked
 * through, as FAISS does. Results as FAISS reports them: best first, inner
 * product (higher better) or squared L2, label -1 past the hits with
 * distance -FLT_MAX (IP) or FLT_MAX (L2). Throws std::bad_alloc. */
void hnsw_search(const faiss::IndexHNSW &index, faiss::Index::idx_t n, const float *x,
                 faiss::Index::idx_t k, int ef, odx_faiss_member_fn member, void *ctx,
                 float *distances, faiss::Index::idx_t *labels);

} // namespace odx
#endif
