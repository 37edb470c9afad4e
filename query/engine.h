/* Internal state of an open omnidex database: the engine behind omnidex.h.
 * Locking order (never taken the other way round):
 *   db->wmu (single writer)  ->  coll->ilock  ->  a store transaction
 *   coll->mmu (maintenance)  ->  coll->ilock  ->  a store transaction
 * and nobody waits for db->wmu while holding coll->ilock. */
#ifndef ODX_QUERY_ENGINE_H
#define ODX_QUERY_ENGINE_H
#include <pthread.h>
#include <stdatomic.h>

#include "common/bitmap.h"
#include "common/filter.h"
#include "common/meta.h"
#include "index/index.h"
#include "query/fetch.h"
#include "storage/store.h"

typedef struct odx_engine odx_engine;

#define ODX_AUTO_HNSW_AT 50000 /* auto: Flat below, HNSW32 above */

typedef struct odx_coll {
    char name[129];
    odx_coll_desc desc;   /* committed state; written under ilock (write) */
    odx_coll_dbis dbis;
    uint32_t per_block;
    pthread_rwlock_t ilock; /* idx, live, desc */
    pthread_mutex_t mmu;    /* one rebuild/checkpoint at a time */
    odx_index *idx;
    odx_bitmap live;        /* seq -> live */
    uint64_t indexed_lsn;   /* lsn reflected by idx */
    uint64_t ckpt_lsn;      /* lsn reflected by the checkpoint file */
    double ckpt_time;
    int index_broken;       /* an add failed: rebuild needed */
    struct odx_gpu_index *gpu; /* GPU mirror of the vectors (make GPU=1), or NULL */
    atomic_int refs;
    int dropped;
} odx_coll;

struct odx_item {
    char *id;
    size_t idlen;
    odx_modality modality;
    float *vec;      /* NULL for payload items */
    odx_meta *meta;  /* may be NULL */
    char *source;    /* may be NULL */
    void *data;      /* payload bytes (text or media) */
    size_t len;
    char *uri;
};

struct odx_batch {
    struct odx_item *items;
    size_t n, cap;
    int dim; /* of the vector items; 0 until the first */
};

struct odx_engine {
    odx_store *st;
    char *dir;
    int readonly;
    int gpu_on; /* ODX_OPEN_GPU and a usable device */
    pthread_rwlock_t clock; /* colls */
    odx_coll **colls;
    size_t ncolls, capcolls;
    pthread_mutex_t wmu;
    /* group commit */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    struct odx_wreq *qhead, *qtail;
    int leader;
    uint64_t stat_requests, stat_txns; /* under qmu */
    /* embedding spaces, opened on first use (embed_space.c) */
    pthread_mutex_t spmu;
    struct odx_space *spaces[16];
    char space_names[16][129];
    size_t nspaces;
    /* media by URL (fetch.c); set through odx_db_set_option before serving */
    odx_fetch_policy fetch;
    /* background maintenance */
    pthread_t bg;
    int bg_started, bg_stop;
    pthread_mutex_t bgmu;
    pthread_cond_t bgcv;
};

/* The public builder objects' layouts (the engine reads them directly;
 * other backends use the accessors of omnidex_backend.h). */
struct odx_search_params {
    int k, ef, nprobe, exact, with_meta, no_gpu;
    unsigned modalities;
    const odx_filter *filter;
};

struct odx_hit {
    char *id;
    float score;
    odx_modality modality;
    odx_meta *meta;
};

struct odx_results {
    size_t nq, k;
    size_t *count;
    struct odx_hit *hits; /* nq x k */
};

struct odx_qpart {
    odx_modality modality;
    float weight;
    float *vec;
    int dim;
    char *id;
    void *data;
    size_t len;
    char *uri;
};

struct odx_query {
    struct odx_qpart *parts;
    size_t n, cap;
};

struct odx_record {
    char *id;
    odx_modality modality;
    odx_meta *meta;
    float *vec;
    int dim;
    char *source;
    int64_t created, updated;
};

struct odx_collection_info {
    odx_coll_desc d;
    char name[129];
    char index_type[256];
    uint64_t ntotal, tombstones, ckpt_lsn, vector_bytes;
    int gpu_serving;
};

/* Results builder: nq queries of up to k hits; odx_results_push takes
 * ownership of id and meta (meta may be NULL). */
int odx_results_alloc(size_t nq, size_t k, odx_results **out);
int odx_results_push(odx_results *r, size_t q, char *id, float score, odx_modality m, odx_meta *meta);

/* The engine's entry points: what omnidex.h promises for a local data
 * directory, forwarded to by query/api.c (the same contracts). */
int odx_engine_open(const char *path, unsigned flags, odx_engine **out);
void odx_engine_close(odx_engine *db);
void odx_engine_write_stats(odx_engine *db, uint64_t *requests, uint64_t *transactions);
int odx_engine_set_option(odx_engine *db, const char *name, const char *value);
int odx_engine_collection_create(odx_engine *db, const char *name, int dim, odx_metric metric,
                                 const char *index_spec, const char *space);
int odx_engine_collection_drop(odx_engine *db, const char *name);
int odx_engine_collection_list(odx_engine *db, char ***names, size_t *count);
int odx_engine_collection_describe(odx_engine *db, const char *name, odx_collection_info **out);
int odx_engine_collection_set_gpu(odx_engine *db, const char *name, int on);
int odx_engine_collection_checkpoint(odx_engine *db, const char *name);
int odx_engine_collection_compact(odx_engine *db, const char *name);
int odx_engine_upsert(odx_engine *db, const char *collection, const odx_batch *b);
int odx_engine_delete(odx_engine *db, const char *collection, const char *const *ids, size_t n, size_t *deleted);
int odx_engine_get(odx_engine *db, const char *collection, const char *id, odx_record **out);
int odx_engine_search(odx_engine *db, const char *collection, const float *queries, size_t nq, int dim,
                      const odx_search_params *params, odx_results **out);
int odx_engine_search_query(odx_engine *db, const char *collection, const odx_query *q,
                            const odx_search_params *params, odx_results **out);
int odx_engine_embed_payload(odx_engine *db, const char *space, odx_modality m, const void *data, size_t len,
                             const char *uri, float **vec, int *dim);
int odx_engine_space_list(odx_engine *db, char ***names, size_t *count);
int odx_engine_space_info(odx_engine *db, const char *space, int *dim, unsigned *modalities);

/* Collections registry. */
int odx_coll_acquire(odx_engine *db, const char *name, odx_coll **out);
void odx_coll_release(odx_coll *c);
/* Loads or rebuilds the index of c at open (no locks needed then). */
int odx_coll_open_index(odx_engine *db, odx_coll *c);
void odx_coll_free(odx_coll *c);
void odx_coll_index_path(odx_engine *db, const char *name, char *buf, size_t len);

/* Maintenance (maintain.c). */
int odx_coll_needs_rebuild(odx_coll *c, char *why, size_t len);
int odx_coll_rebuild(odx_engine *db, odx_coll *c, const char *why);
int odx_coll_checkpoint(odx_engine *db, odx_coll *c);
int odx_maint_start(odx_engine *db);
void odx_maint_stop(odx_engine *db);

/* The optional GPU mirror (gpu.c; no-ops without ODX_HAVE_CUDA). Build and
 * apply run with c->ilock held for writing (or before c is shared). */
int odx_gpu_open(odx_engine *db);
void odx_coll_gpu_build(odx_engine *db, odx_coll *c, MDB_txn *txn);
void odx_coll_gpu_apply(odx_coll *c, uint64_t first_seq, size_t nadd, const float *vecs, const uint64_t *dead,
                        size_t ndead);
/* 0 when the GPU answered; anything else: search on the CPU. */
int odx_coll_gpu_search(odx_coll *c, size_t nq, const float *q, int k, int nprobe, const odx_bitmap *members,
                        float *dist, uint64_t *seqs);
void odx_coll_gpu_free(odx_coll *c);

/* Embedding payloads through a collection's space (embed.c): the
 * collection's own checks, then the encoders. */
int odx_engine_embed(odx_engine *db, const char *coll, const char *space, int dim, odx_modality m, const void *data,
                     size_t len, const char *uri, float *out);
/* Checks that a space exists and embeds into dim dimensions. */
int odx_engine_space_check(odx_engine *db, const char *space, int dim);

/* The encoders, as the engine reaches them: these few functions are all the
 * core needs from the encoder side (docs/core.md "Library split"). They are
 * chosen at link time: query/embed_space.c (spaces from encoders/, media by
 * URL through fetch.c) in libomnidex.a; query/embed_none.c, which answers
 * ODX_EUNSUPPORTED, in the vector-only libomnidex-core.a. */
/* Embeds one payload (bytes, or uri fetched under db->fetch) with space into
 * out (dim floats); the caller has checked space and payload are given. */
int odx_encoders_embed(odx_engine *db, const char *coll, const char *space, int dim, odx_modality m,
                       const void *data, size_t len, const char *uri, float *out);
/* Dimension and modality mask of space (either out pointer may be NULL). */
int odx_encoders_space_info(odx_engine *db, const char *space, int *dim, unsigned *modalities);
/* Releases the spaces db opened (at odx_db_close). */
void odx_encoders_close(odx_engine *db);

/* Write path (write.c). */
int odx_write_upsert(odx_engine *db, odx_coll *c, const odx_batch *b);
int odx_write_delete(odx_engine *db, odx_coll *c, const char *const *ids, size_t n, size_t *deleted);
/* Runs fn inside a write transaction under the writer lock, growing the map
 * and retrying on MDB_MAP_FULL. */
int odx_write_txn(odx_engine *db, int (*fn)(void *ctx, MDB_txn *txn), void *ctx);

#endif
