/* One collection's ANN index: a FAISS index (through its C API) whose labels
 * are positions 0..ntotal-1, plus the position -> seq map. The index is a
 * cache of LMDB: it can always be rebuilt from the stored vectors. This
 * module knows nothing of LMDB; membership (live, filtered) comes in through
 * a callback on seqs. Not thread-safe by itself: the caller serialises
 * writers against searchers. */
#ifndef ODX_INDEX_INDEX_H
#define ODX_INDEX_INDEX_H
#include <stddef.h>
#include <stdint.h>

#include "omnidex.h"

typedef struct odx_index odx_index;

/* Non-zero keeps seq in the results. */
typedef int (*odx_seq_member_fn)(void *ctx, uint64_t seq);

/* HNSW build and search defaults, for a spec that does not set them
 * (docs/core.md, "Index specs", has the measurements behind them), and the
 * largest values a spec may ask for. */
#define ODX_HNSW_EFC_DEFAULT 200
#define ODX_HNSW_EFS_DEFAULT 64
#define ODX_HNSW_EFC_MAX 4096
#define ODX_HNSW_EFS_MAX 65536

/* A spec is a FAISS factory string whose components omnidex checks first
 * (Flat, HNSW<M>, IVF<nlist>, PQ, SQ, OPQ, PCA, L2norm), plus, for HNSW,
 * omnidex's own components efC=<n> (efConstruction) and efS=<n> (the
 * default efSearch), e.g. "HNSW32,Flat,efC=200,efS=64". Checks that FAISS
 * accepts it for dim/metric; ODX_EINVAL with the reason otherwise. */
int odx_index_spec_check(const char *spec, int dim, odx_metric metric);
/* Vectors needed before an index of this spec can be trained (0: none). */
size_t odx_index_train_min(const char *spec);
/* Creates an empty index of a spec (see odx_index_spec_check). */
int odx_index_create(const char *spec, int dim, odx_metric metric, odx_index **out);
void odx_index_free(odx_index *ix);
int odx_index_is_trained(const odx_index *ix);
int odx_index_train(odx_index *ix, size_t n, const float *x);
/* Appends n vectors whose seqs are given. For HNSW, one call with many
 * vectors makes a better graph than many calls with few (FAISS inserts the
 * upper-level nodes of a call first): builders should pass large runs. */
int odx_index_add(odx_index *ix, size_t n, const float *x, const uint64_t *seqs);
uint64_t odx_index_ntotal(const odx_index *ix);
/* The spec the index was made from. */
const char *odx_index_factory(const odx_index *ix);
/* e.g. "HNSW32 (efSearch=64, efConstruction=40)". */
void odx_index_describe(const odx_index *ix, char *buf, size_t len);
/* The nprobe an IVF index uses by default (0 for other types). */
int odx_index_default_nprobe(const odx_index *ix);
/* Highest seq in the index + 1 (0 when empty). */
uint64_t odx_index_max_seq(const odx_index *ix);

/* k-NN search. seqs_out[q*k + i] is the seq of hit i of query q, or
 * UINT64_MAX past the last hit. member may be NULL (every seq). When the
 * index type cannot apply a selector, results are filtered afterwards with
 * a widened k. ef_search / nprobe <= 0 use the index defaults. */
int odx_index_search(const odx_index *ix, size_t nq, const float *q, int k, int ef_search, int nprobe,
                     odx_seq_member_fn member, void *ctx, float *dist, uint64_t *seqs_out);

/* Checkpoint file: header (magic, dims, lsn, next_seq, crc32 of the rest),
 * the position -> seq map, then the FAISS index. Written to a temporary file,
 * fsynced and renamed, so a crash leaves the old checkpoint or the new one. */
int odx_index_save(const odx_index *ix, const char *path, uint64_t lsn, uint64_t next_seq);
/* Loads and verifies a checkpoint. ODX_ENOTFOUND when the file is absent,
 * ODX_ECORRUPT when it fails any check. */
int odx_index_load(const char *path, int dim, odx_metric metric, odx_index **out, uint64_t *lsn,
                   uint64_t *next_seq);

#endif
