/*
 * omnidex_backend.h - implementing an odx_db behind the public API.
 *
 * An odx_db handle is a table of operations and a context. The embedded
 * engine (odx_db_open) is one implementation; the gRPC client-backed handle
 * (omnidex_rpc.h: odx_rpc_db_open) is another; a cluster router would be a
 * third. Every function of omnidex.h that takes an odx_db forwards to its
 * table, so callers never know which one they hold, and no implementation
 * needs to know about the others.
 *
 * An implementation reads the caller's builder objects (odx_batch,
 * odx_query, odx_search_params) through the views below and builds the
 * objects it returns (odx_results, odx_record, odx_collection_info) with the
 * constructors below: it never sees their layouts. An operation left NULL
 * answers ODX_EUNSUPPORTED naming the operation.
 */
#ifndef OMNIDEX_BACKEND_H
#define OMNIDEX_BACKEND_H

#include "omnidex.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct odx_backend_ops {
    const char *name; /* for messages: "engine", "gRPC client" */
    void (*close)(void *ctx);
    void (*write_stats)(void *ctx, uint64_t *requests, uint64_t *transactions);
    int (*set_option)(void *ctx, const char *name, const char *value);
    int (*collection_create)(void *ctx, const char *name, int dim, odx_metric metric, const char *index_spec,
                             const char *space);
    int (*collection_drop)(void *ctx, const char *name);
    int (*collection_list)(void *ctx, char ***names, size_t *count);
    int (*collection_describe)(void *ctx, const char *name, odx_collection_info **out);
    int (*collection_set_gpu)(void *ctx, const char *name, int on);
    int (*collection_checkpoint)(void *ctx, const char *name);
    int (*collection_compact)(void *ctx, const char *name);
    int (*upsert)(void *ctx, const char *collection, const odx_batch *b);
    int (*remove)(void *ctx, const char *collection, const char *const *ids, size_t n, size_t *deleted);
    int (*get)(void *ctx, const char *collection, const char *id, odx_record **out);
    /* params is never NULL here (the defaults are filled in) */
    int (*search)(void *ctx, const char *collection, const float *queries, size_t nq, int dim,
                  const odx_search_params *params, odx_results **out);
    int (*search_query)(void *ctx, const char *collection, const odx_query *q, const odx_search_params *params,
                        odx_results **out);
    int (*embed)(void *ctx, const char *space, odx_modality m, const void *data, size_t len, const char *uri,
                 float **vec, int *dim);
    int (*space_list)(void *ctx, char ***names, size_t *count);
    int (*space_info)(void *ctx, const char *space, int *dim, unsigned *modalities);
} odx_backend_ops;

/* Wraps ops + ctx in a database handle; odx_db_close calls ops->close(ctx). */
int odx_db_open_backend(const odx_backend_ops *ops, void *ctx, odx_db **out);

/* ---- reading the caller's builder objects (views live as long as the object) ---- */

typedef struct odx_item_view {
    const char *id;
    odx_modality modality;
    const float *vec; /* NULL for a payload item */
    int dim;
    const odx_meta *meta;   /* may be NULL */
    const char *source;     /* may be NULL */
    const void *data;       /* payload bytes, or NULL with a uri */
    size_t len;
    const char *uri;        /* may be NULL */
} odx_item_view;
int odx_batch_item(const odx_batch *b, size_t i, odx_item_view *out);

typedef struct odx_query_part_view {
    odx_modality modality; /* ODX_MODALITY_VECTOR for vector and item parts */
    float weight;
    const float *vec; /* a vector part */
    int dim;
    const char *id;   /* an item part */
    const void *data; /* a text or media part: bytes, or NULL with a uri */
    size_t len;
    const char *uri;
} odx_query_part_view;
size_t odx_query_count(const odx_query *q);
int odx_query_part(const odx_query *q, size_t i, odx_query_part_view *out);

typedef struct odx_search_params_view {
    int k, ef_search, nprobe, exact, with_meta, gpu;
    unsigned modalities;
    const odx_filter *filter;
} odx_search_params_view;
void odx_search_params_view_of(const odx_search_params *p, odx_search_params_view *out);

/* ---- building what a backend returns ---- */

/* Results of nq queries, up to k hits each. odx_results_add appends a hit to
 * query q, copying id and taking ownership of meta (may be NULL; freed on
 * failure too). */
int odx_results_new(size_t nq, size_t k, odx_results **out);
int odx_results_add(odx_results *r, size_t q, const char *id, float score, odx_modality m, odx_meta *meta);

/* A record: strings and the vector are copied, meta is taken (may be NULL). */
int odx_record_new(const char *id, odx_modality m, odx_meta *meta, const float *vec, int dim, const char *source,
                   int64_t created, int64_t updated, odx_record **out);

typedef struct odx_collection_fields {
    const char *name, *index_spec, *index_type, *space;
    int dim;
    odx_metric metric;
    uint64_t count, index_ntotal, tombstones, lsn, checkpoint_lsn, vector_bytes;
    int64_t created, updated;
    int gpu;
} odx_collection_fields;
int odx_collection_info_new(const odx_collection_fields *f, odx_collection_info **out);

#ifdef __cplusplus
}
#endif
#endif /* OMNIDEX_BACKEND_H */
