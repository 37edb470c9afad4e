/* What the FAISS 1.7.3 C API lacks, in the C API's own style: k-NN search
 * with per-query parameters (efSearch, nprobe) and an ID selector. Returns 0,
 * -1 on an exception (message in faiss_get_last_error()), or
 * ODX_FAISS_EXT_NOSEL when the index type cannot apply a selector (then the
 * search ran without it and the caller must filter the results itself). */
#ifndef ODX_INDEX_FAISS_EXT_H
#define ODX_INDEX_FAISS_EXT_H
#include <faiss/c_api/Index_c.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ODX_FAISS_EXT_NOSEL 1

/* Membership test for the selector: non-zero keeps label id. */
typedef int (*odx_faiss_member_fn)(void *ctx, idx_t id);

int odx_faiss_search(const FaissIndex *index, idx_t n, const float *x, idx_t k, int ef_search,
                     int nprobe, odx_faiss_member_fn member, void *ctx, float *distances,
                     idx_t *labels);

/* HNSW over flat storage is searched by omnidex's own loop
 * (index/hnsw_search.cpp) unless ODX_HNSW_FAISS=1 was set in the environment
 * (read once) or on is 0. on < 0 only reads the setting. Returns 1 when
 * omnidex's loop is in use, 0 for FAISS's. Process-wide; for tests and
 * benchmarks. */
int odx_faiss_hnsw_own(int on);

/* Sets the default efSearch (HNSW) or nprobe (IVF) stored in the index;
 * values <= 0 are ignored. Reaches the index behind an IndexIDMap too. */
int odx_faiss_set_defaults(FaissIndex *index, int ef_search, int nprobe);

/* Sets HNSW's efConstruction (used by later adds); a no-op for other
 * index types. */
int odx_faiss_set_ef_construction(FaissIndex *index, int ef_construction);

/* Checks the internal consistency of a loaded index (HNSW graph links and
 * levels, IVF list ids and sizes, storage counts), so that a checkpoint that
 * passed its checksum but holds a broken structure is rebuilt instead of
 * crashing a search. 0 when sound; 1 with the reason in why. */
int odx_faiss_validate(const FaissIndex *index, char *why, size_t len);

/* Describes the index type, e.g. "HNSW32,Flat (efSearch=64)" into buf. */
int odx_faiss_describe(const FaissIndex *index, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
