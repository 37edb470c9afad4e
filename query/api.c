/* The public API over database handles: an odx_db is a table of operations
 * and a context (omnidex_backend.h). odx_db_open wraps the embedded engine;
 * other backends (the gRPC client-backed handle in rpc/) come through
 * odx_db_open_backend. Each public call forwards here, once, so the engine
 * itself knows nothing of other backends. */
#include "common/alloc.h"
#include "common/error.h"
#include "omnidex_backend.h"
#include "query/engine.h"

struct odx_db {
    const odx_backend_ops *ops;
    void *ctx;
};

static int unsupported(const odx_db *db, const char *what)
{
    return odx_error(ODX_EUNSUPPORTED, "%s is not available through this %s handle", what,
                     db->ops->name ? db->ops->name : "database");
}

#define FORWARD(op, what, ...)                                                   \
    do {                                                                        \
        if (!db) return odx_error(ODX_EINVAL, "NULL database handle");          \
        return db->ops->op ? db->ops->op(db->ctx, __VA_ARGS__) : unsupported(db, what); \
    } while (0)

int odx_db_open_backend(const odx_backend_ops *ops, void *ctx, odx_db **out)
{
    if (!ops || !out) return odx_error(ODX_EINVAL, "NULL argument");
    odx_db *db = odx_calloc(1, sizeof *db);
    if (!db) return odx_error(ODX_ENOMEM, "out of memory");
    db->ops = ops;
    db->ctx = ctx;
    *out = db;
    return 0;
}

void odx_db_close(odx_db *db)
{
    if (!db) return;
    if (db->ops->close) db->ops->close(db->ctx);
    odx_free(db);
}

void odx_db_write_stats(odx_db *db, uint64_t *requests, uint64_t *transactions)
{
    if (requests) *requests = 0;
    if (transactions) *transactions = 0;
    if (db && db->ops->write_stats) db->ops->write_stats(db->ctx, requests, transactions);
}

int odx_db_set_option(odx_db *db, const char *name, const char *value)
{
    FORWARD(set_option, "setting options", name, value);
}

int odx_collection_create(odx_db *db, const char *name, int dim, odx_metric metric, const char *index_spec,
                          const char *space)
{
    FORWARD(collection_create, "collection create", name, dim, metric, index_spec, space);
}

int odx_collection_drop(odx_db *db, const char *name) { FORWARD(collection_drop, "collection drop", name); }

int odx_collection_list(odx_db *db, char ***names, size_t *count)
{
    FORWARD(collection_list, "collection list", names, count);
}

int odx_collection_describe(odx_db *db, const char *name, odx_collection_info **out)
{
    FORWARD(collection_describe, "collection info", name, out);
}

int odx_collection_set_gpu(odx_db *db, const char *name, int on)
{
    FORWARD(collection_set_gpu, "collection gpu", name, on);
}

int odx_collection_checkpoint(odx_db *db, const char *name)
{
    FORWARD(collection_checkpoint, "collection checkpoint", name);
}

int odx_collection_compact(odx_db *db, const char *name) { FORWARD(collection_compact, "collection compact", name); }

int odx_upsert(odx_db *db, const char *collection, const odx_batch *b) { FORWARD(upsert, "upsert", collection, b); }

int odx_delete(odx_db *db, const char *collection, const char *const *ids, size_t n, size_t *deleted)
{
    FORWARD(remove, "delete", collection, ids, n, deleted);
}

int odx_get(odx_db *db, const char *collection, const char *id, odx_record **out)
{
    FORWARD(get, "get", collection, id, out);
}

static const odx_search_params default_params = {.k = 10};

int odx_search(odx_db *db, const char *collection, const float *queries, size_t nq, int dim,
               const odx_search_params *params, odx_results **out)
{
    FORWARD(search, "search", collection, queries, nq, dim, params ? params : &default_params, out);
}

int odx_search_query(odx_db *db, const char *collection, const odx_query *q, const odx_search_params *params,
                     odx_results **out)
{
    FORWARD(search_query, "search", collection, q, params ? params : &default_params, out);
}

int odx_embed(odx_db *db, const char *space, odx_modality m, const void *data, size_t len, const char *uri,
              float **vec, int *dim)
{
    FORWARD(embed, "embed", space, m, data, len, uri, vec, dim);
}

int odx_space_info(odx_db *db, const char *space, int *dim, unsigned *modalities)
{
    FORWARD(space_info, "models info", space, dim, modalities);
}

int odx_db_space_list(odx_db *db, char ***names, size_t *count)
{
    if (!db) return odx_space_list(names, count);
    FORWARD(space_list, "models list", names, count);
}

/* ---- the embedded engine as a backend ---- */

static void e_close(void *ctx) { odx_engine_close(ctx); }
static void e_write_stats(void *ctx, uint64_t *r, uint64_t *t) { odx_engine_write_stats(ctx, r, t); }
static int e_set_option(void *ctx, const char *n, const char *v) { return odx_engine_set_option(ctx, n, v); }
static int e_create(void *ctx, const char *name, int dim, odx_metric m, const char *spec, const char *space)
{
    return odx_engine_collection_create(ctx, name, dim, m, spec, space);
}
static int e_drop(void *ctx, const char *name) { return odx_engine_collection_drop(ctx, name); }
static int e_list(void *ctx, char ***names, size_t *n) { return odx_engine_collection_list(ctx, names, n); }
static int e_describe(void *ctx, const char *name, odx_collection_info **out)
{
    return odx_engine_collection_describe(ctx, name, out);
}
static int e_set_gpu(void *ctx, const char *name, int on) { return odx_engine_collection_set_gpu(ctx, name, on); }
static int e_checkpoint(void *ctx, const char *name) { return odx_engine_collection_checkpoint(ctx, name); }
static int e_compact(void *ctx, const char *name) { return odx_engine_collection_compact(ctx, name); }
static int e_upsert(void *ctx, const char *coll, const odx_batch *b) { return odx_engine_upsert(ctx, coll, b); }
static int e_remove(void *ctx, const char *coll, const char *const *ids, size_t n, size_t *deleted)
{
    return odx_engine_delete(ctx, coll, ids, n, deleted);
}
static int e_get(void *ctx, const char *coll, const char *id, odx_record **out) { return odx_engine_get(ctx, coll, id, out); }
static int e_search(void *ctx, const char *coll, const float *q, size_t nq, int dim, const odx_search_params *p,
                    odx_results **out)
{
    return odx_engine_search(ctx, coll, q, nq, dim, p, out);
}
static int e_search_query(void *ctx, const char *coll, const odx_query *q, const odx_search_params *p, odx_results **out)
{
    return odx_engine_search_query(ctx, coll, q, p, out);
}
static int e_embed(void *ctx, const char *space, odx_modality m, const void *data, size_t len, const char *uri,
                   float **vec, int *dim)
{
    return odx_engine_embed_payload(ctx, space, m, data, len, uri, vec, dim);
}
static int e_space_list(void *ctx, char ***names, size_t *n) { return odx_engine_space_list(ctx, names, n); }
static int e_space_info(void *ctx, const char *space, int *dim, unsigned *mods)
{
    return odx_engine_space_info(ctx, space, dim, mods);
}

static const odx_backend_ops engine_ops = {
    "engine",      e_close,     e_write_stats, e_set_option,  e_create, e_drop,   e_list,
    e_describe,    e_set_gpu,   e_checkpoint,  e_compact,     e_upsert, e_remove, e_get,
    e_search,      e_search_query, e_embed,    e_space_list,  e_space_info,
};

int odx_db_open(const char *path, unsigned flags, odx_db **out)
{
    odx_engine *e;
    int rc = odx_engine_open(path, flags, &e);
    if (rc) return rc;
    if ((rc = odx_db_open_backend(&engine_ops, e, out))) odx_engine_close(e);
    return rc;
}
