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

struct odx_db {
    const struct odx_remote_ops *remote; /* non-NULL: every call goes there */
    void *remote_ctx;
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

/* The public objects' layouts, shared by the engine and the remote backend. */
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

/* A database handle can stand for a remote server (the CLI's --server): the
 * public API then forwards every call through these operations. An
 * operation left NULL answers ODX_EUNSUPPORTED. */
struct odx_remote_ops {
    void (*close)(void *ctx);
    int (*collection_create)(void *ctx, const char *name, int dim, odx_metric metric, const char *spec,
                             const char *space);
    int (*collection_drop)(void *ctx, const char *name);
    int (*collection_list)(void *ctx, char ***names, size_t *count);
    int (*collection_describe)(void *ctx, const char *name, odx_collection_info **out);
    int (*upsert)(void *ctx, const char *collection, const odx_batch *b);
    int (*remove)(void *ctx, const char *collection, const char *const *ids, size_t n, size_t *deleted);
    int (*get)(void *ctx, const char *collection, const char *id, odx_record **out);
    int (*search)(void *ctx, const char *collection, const odx_query *q, const odx_search_params *p,
                  odx_results **out);
    int (*maintain)(void *ctx, const char *collection, int compact); /* compact, else checkpoint */
    int (*embed)(void *ctx, const char *space, odx_modality m, const void *data, size_t len, const char *uri,
                 float **vec, int *dim);
    int (*space_list)(void *ctx, char ***names, size_t *count);
    int (*space_info)(void *ctx, const char *space, int *dim, unsigned *modalities);
};
/* Wraps a remote backend in a database handle (odx_db_close closes it). */
int odx_db_attach_remote(const struct odx_remote_ops *ops, void *ctx, odx_db **out);
int odx_remote_unsupported(const char *what);

/* Collections registry. */
int odx_coll_acquire(odx_db *db, const char *name, odx_coll **out);
void odx_coll_release(odx_coll *c);
/* Loads or rebuilds the index of c at open (no locks needed then). */
int odx_coll_open_index(odx_db *db, odx_coll *c);
void odx_coll_free(odx_coll *c);
void odx_coll_index_path(odx_db *db, const char *name, char *buf, size_t len);

/* Maintenance (maintain.c). */
int odx_coll_needs_rebuild(odx_coll *c, char *why, size_t len);
int odx_coll_rebuild(odx_db *db, odx_coll *c, const char *why);
int odx_coll_checkpoint(odx_db *db, odx_coll *c);
int odx_maint_start(odx_db *db);
void odx_maint_stop(odx_db *db);

/* The optional GPU mirror (gpu.c; no-ops without ODX_HAVE_CUDA). Build and
 * apply run with c->ilock held for writing (or before c is shared). */
int odx_gpu_open(odx_db *db);
void odx_coll_gpu_build(odx_db *db, odx_coll *c, MDB_txn *txn);
void odx_coll_gpu_apply(odx_coll *c, uint64_t first_seq, size_t nadd, const float *vecs, const uint64_t *dead,
                        size_t ndead);
/* 0 when the GPU answered; anything else: search on the CPU. */
int odx_coll_gpu_search(odx_coll *c, size_t nq, const float *q, int k, int nprobe, const odx_bitmap *members,
                        float *dist, uint64_t *seqs);
void odx_coll_gpu_free(odx_coll *c);

/* Embedding payloads through a collection's space (embed.c): the
 * collection's own checks, then the encoders. */
int odx_engine_embed(odx_db *db, const char *coll, const char *space, int dim, odx_modality m, const void *data,
                     size_t len, const char *uri, float *out);
/* Checks that a space exists and embeds into dim dimensions. */
int odx_engine_space_check(odx_db *db, const char *space, int dim);

/* The encoders, as the engine reaches them: these few functions are all the
 * core needs from the encoder side (docs/core.md "Library split"). They are
 * chosen at link time: query/embed_space.c (spaces from encoders/, media by
 * URL through fetch.c) in libomnidex.a; query/embed_none.c, which answers
 * ODX_EUNSUPPORTED, in the vector-only libomnidex-core.a. */
/* Embeds one payload (bytes, or uri fetched under db->fetch) with space into
 * out (dim floats); the caller has checked space and payload are given. */
int odx_encoders_embed(odx_db *db, const char *coll, const char *space, int dim, odx_modality m,
                       const void *data, size_t len, const char *uri, float *out);
/* Dimension and modality mask of space (either out pointer may be NULL). */
int odx_encoders_space_info(odx_db *db, const char *space, int *dim, unsigned *modalities);
/* Releases the spaces db opened (at odx_db_close). */
void odx_encoders_close(odx_db *db);

/* Write path (write.c). */
int odx_write_upsert(odx_db *db, odx_coll *c, const odx_batch *b);
int odx_write_delete(odx_db *db, odx_coll *c, const char *const *ids, size_t n, size_t *deleted);
/* Runs fn inside a write transaction under the writer lock, growing the map
 * and retrying on MDB_MAP_FULL. */
int odx_write_txn(odx_db *db, int (*fn)(void *ctx, MDB_txn *txn), void *ctx);

#endif
