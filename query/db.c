/* Opening and closing a data directory, the collection registry, and
 * collection administration. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "query/engine.h"

static int check_name(const char *name)
{
    if (!odx_name_valid(name, name ? strlen(name) : 0, ODX_MAX_NAME_LEN, ODX_NAME_NO_LEADING_DOT))
        return odx_error(ODX_EINVAL, "invalid collection name '%.80s' (1-%d chars of A-Z a-z 0-9 _ - ., not starting with '.')",
                         name ? name : "(null)", ODX_MAX_NAME_LEN);
    return 0;
}

void odx_coll_free(odx_coll *c)
{
    if (!c) return;
    odx_coll_gpu_free(c);
    odx_index_free(c->idx);
    odx_bitmap_free(&c->live);
    pthread_rwlock_destroy(&c->ilock);
    pthread_mutex_destroy(&c->mmu);
    odx_free(c);
}

static odx_coll *coll_new(const char *name, const odx_coll_desc *d, const odx_coll_dbis *dbis, unsigned psize)
{
    odx_coll *c = odx_calloc(1, sizeof *c);
    if (!c) return NULL;
    snprintf(c->name, sizeof c->name, "%s", name);
    c->desc = *d;
    c->dbis = *dbis;
    c->per_block = odx_vstore_per_block(d->dim, psize);
    pthread_rwlock_init(&c->ilock, NULL);
    pthread_mutex_init(&c->mmu, NULL);
    atomic_init(&c->refs, 1); /* the registry's reference */
    return c;
}

int odx_coll_acquire(odx_engine *db, const char *name, odx_coll **out)
{
    if (!name) return odx_error(ODX_EINVAL, "collection name is NULL");
    pthread_rwlock_rdlock(&db->clock);
    for (size_t i = 0; i < db->ncolls; i++) {
        if (!strcmp(db->colls[i]->name, name)) {
            atomic_fetch_add(&db->colls[i]->refs, 1);
            *out = db->colls[i];
            pthread_rwlock_unlock(&db->clock);
            return 0;
        }
    }
    pthread_rwlock_unlock(&db->clock);
    return odx_error(ODX_ENOTFOUND, "no collection named '%.128s'", name);
}

void odx_coll_release(odx_coll *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1) odx_coll_free(c);
}

static int registry_add(odx_engine *db, odx_coll *c)
{
    pthread_rwlock_wrlock(&db->clock);
    int rc = odx_grow(&db->colls, &db->capcolls, db->ncolls + 1, sizeof *db->colls);
    if (!rc) db->colls[db->ncolls++] = c;
    pthread_rwlock_unlock(&db->clock);
    return rc;
}

void odx_engine_close(odx_engine *db)
{
    if (!db) return;
    odx_maint_stop(db);
    odx_encoders_close(db);
    odx_fetch_policy_free(&db->fetch);
    for (size_t i = 0; i < db->ncolls; i++) odx_coll_release(db->colls[i]);
    odx_free(db->colls);
    odx_store_close(db->st);
    pthread_rwlock_destroy(&db->clock);
    pthread_mutex_destroy(&db->wmu);
    pthread_mutex_destroy(&db->qmu);
    pthread_cond_destroy(&db->qcv);
    pthread_mutex_destroy(&db->bgmu);
    pthread_cond_destroy(&db->bgcv);
    pthread_mutex_destroy(&db->spmu);
    odx_free(db->dir);
    odx_free(db);
}

int odx_engine_open(const char *path, unsigned flags, odx_engine **out)
{
    if (!path || !*path) return odx_error(ODX_EINVAL, "data directory path is empty");
    int ro = (flags & ODX_OPEN_READONLY) != 0;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno != ENOENT) return odx_error(ODX_EIO, "%s: %s", path, strerror(errno));
        if (!(flags & ODX_OPEN_CREATE) || ro)
            return odx_error(ODX_ENOTFOUND, "data directory %s does not exist", path);
        if (mkdir(path, 0755) != 0 && errno != EEXIST) return odx_error(ODX_EIO, "cannot create %s: %s", path, strerror(errno));
    } else if (!S_ISDIR(sb.st_mode)) {
        return odx_error(ODX_EINVAL, "%s is not a directory", path);
    }
    odx_engine *db = odx_calloc(1, sizeof *db);
    if (!db) return odx_error(ODX_ENOMEM, "out of memory");
    pthread_rwlock_init(&db->clock, NULL);
    pthread_mutex_init(&db->wmu, NULL);
    pthread_mutex_init(&db->qmu, NULL);
    pthread_cond_init(&db->qcv, NULL);
    pthread_mutex_init(&db->bgmu, NULL);
    pthread_cond_init(&db->bgcv, NULL);
    pthread_mutex_init(&db->spmu, NULL);
    odx_fetch_policy_init(&db->fetch);
    db->readonly = ro;
    int rc;
    if (!(db->dir = odx_strdup(path))) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto fail; }
    if ((rc = odx_store_open(path, ro, &db->st))) goto fail;
    if ((flags & ODX_OPEN_GPU) && (rc = odx_gpu_open(db))) goto fail;
    if (!ro) {
        char ip[4096];
        snprintf(ip, sizeof ip, "%s/indexes", path);
        if (mkdir(ip, 0755) != 0 && errno != EEXIST) { rc = odx_error(ODX_EIO, "cannot create %s: %s", ip, strerror(errno)); goto fail; }
    }
    /* Open every collection's databases and index. */
    MDB_txn *txn;
    char **names = NULL;
    size_t n = 0;
    if ((rc = odx_txn_begin(db->st, ro ? 0 : 1, &txn))) goto fail;
    if ((rc = odx_catalog_list(txn, db->st, &names, &n))) { odx_txn_abort(db->st, txn); goto fail; }
    for (size_t i = 0; i < n && !rc; i++) {
        odx_coll_desc d;
        odx_coll_dbis dbis;
        if ((rc = odx_catalog_get(txn, db->st, names[i], &d))) break;
        if ((rc = odx_coll_dbis_open(txn, d.cid, 0, &dbis))) break;
        odx_coll *c = coll_new(names[i], &d, &dbis, odx_store_page_size(db->st));
        if (!c) { rc = odx_error(ODX_ENOMEM, "out of memory"); break; }
        if ((rc = registry_add(db, c))) odx_coll_free(c);
    }
    odx_free(names);
    if (rc) { odx_txn_abort(db->st, txn); goto fail; }
    /* DBI handles opened in a transaction persist only once it commits. */
    if ((rc = odx_txn_commit(db->st, txn))) goto fail;
    for (size_t i = 0; i < db->ncolls && !rc; i++) rc = odx_coll_open_index(db, db->colls[i]);
    if (rc) goto fail;
    if ((rc = odx_maint_start(db))) goto fail;
    *out = db;
    return 0;
fail:
    odx_engine_close(db);
    return rc;
}

/* ---- collection administration ---- */

struct create_ctx {
    odx_engine *db;
    const char *name;
    odx_coll_desc d;
    odx_coll_dbis dbis;
};

static int create_txn(void *ctx, MDB_txn *txn)
{
    struct create_ctx *cc = ctx;
    odx_coll_desc existing;
    int rc = odx_catalog_get(txn, cc->db->st, cc->name, &existing);
    if (rc == 0) return odx_error(ODX_EEXIST, "collection '%s' already exists", cc->name);
    if (rc != ODX_ENOTFOUND) return rc;
    char **names;
    size_t n;
    if ((rc = odx_catalog_list(txn, cc->db->st, &names, &n))) return rc;
    odx_free(names);
    if (n >= ODX_MAX_COLLECTIONS) return odx_error(ODX_ELIMIT, "at most %d collections per data directory", ODX_MAX_COLLECTIONS);
    if ((rc = odx_catalog_next_cid(txn, cc->db->st, &cc->d.cid))) return rc;
    if ((rc = odx_coll_dbis_open(txn, cc->d.cid, 1, &cc->dbis))) return rc;
    return odx_catalog_put(txn, cc->db->st, cc->name, &cc->d);
}

int odx_engine_collection_create(odx_engine *db, const char *name, int dim, odx_metric metric, const char *index_spec,
                          const char *space)
{
    int rc = check_name(name);
    if (rc) return rc;
    if (db->readonly) return odx_error(ODX_EREADONLY, "data directory opened read-only");
    /* No dimension with a space: the space's own. */
    if (dim == 0 && space && *space && (rc = odx_engine_space_info(db, space, &dim, NULL)))
        return odx_error_wrap(rc, "collection '%s'", name);
    if (dim < 1 || dim > ODX_MAX_DIM) return odx_error(ODX_EINVAL, "dimension %d out of range (1..%d)", dim, ODX_MAX_DIM);
    if (metric != ODX_METRIC_COSINE && metric != ODX_METRIC_IP && metric != ODX_METRIC_L2)
        return odx_error(ODX_EINVAL, "unknown metric %d", (int)metric);
    if (!index_spec || !*index_spec) index_spec = "auto";
    if (strlen(index_spec) > ODX_MAX_SPEC_LEN)
        return odx_error(ODX_EINVAL, "index spec longer than %d characters", ODX_MAX_SPEC_LEN);
    if (space && strlen(space) > ODX_MAX_SPEC_LEN)
        return odx_error(ODX_EINVAL, "space name longer than %d characters", ODX_MAX_SPEC_LEN);
    if (strcmp(index_spec, "auto") && (rc = odx_index_spec_check(index_spec, dim, metric)))
        return odx_error_wrap(rc, "collection '%s'", name);
    if (space && *space && (rc = odx_engine_space_check(db, space, dim))) return rc;
    odx_coll *tmp;
    if (odx_coll_acquire(db, name, &tmp) == 0) {
        odx_coll_release(tmp);
        return odx_error(ODX_EEXIST, "collection '%s' already exists", name);
    }
    struct create_ctx cc = {db, name, {0}, {0}};
    cc.d.dim = dim;
    cc.d.metric = metric;
    snprintf(cc.d.spec, sizeof cc.d.spec, "%s", index_spec);
    snprintf(cc.d.space, sizeof cc.d.space, "%s", space ? space : "");
    cc.d.created = cc.d.updated = odx_now_unix();
    /* A stale checkpoint of an earlier collection of this name must go. */
    char path[4096];
    odx_coll_index_path(db, name, path, sizeof path);
    unlink(path);
    if ((rc = odx_write_txn(db, create_txn, &cc))) return rc;
    odx_coll *c = coll_new(name, &cc.d, &cc.dbis, odx_store_page_size(db->st));
    if (!c) return odx_error(ODX_ENOMEM, "out of memory");
    if ((rc = odx_coll_open_index(db, c)) || (rc = registry_add(db, c))) {
        odx_coll_free(c);
        return rc;
    }
    return 0;
}

struct drop_ctx {
    odx_engine *db;
    odx_coll *c;
};

static int drop_txn(void *ctx, MDB_txn *txn)
{
    struct drop_ctx *dc = ctx;
    int rc = odx_coll_dbis_drop(txn, &dc->c->dbis);
    if (!rc) rc = odx_catalog_del(txn, dc->db->st, dc->c->name);
    if (!rc) dc->c->dropped = 1; /* under the writer lock: no group sees it half-dropped */
    return rc;
}

int odx_engine_collection_drop(odx_engine *db, const char *name)
{
    if (db->readonly) return odx_error(ODX_EREADONLY, "data directory opened read-only");
    odx_coll *c;
    int rc = odx_coll_acquire(db, name, &c);
    if (rc) return rc;
    pthread_mutex_lock(&c->mmu); /* no rebuild or checkpoint in flight */
    struct drop_ctx dc = {db, c};
    rc = odx_write_txn(db, drop_txn, &dc);
    pthread_mutex_unlock(&c->mmu);
    if (rc) { c->dropped = 0; odx_coll_release(c); return rc; }
    pthread_rwlock_wrlock(&db->clock);
    for (size_t i = 0; i < db->ncolls; i++) {
        if (db->colls[i] == c) {
            memmove(&db->colls[i], &db->colls[i + 1], (db->ncolls - i - 1) * sizeof *db->colls);
            db->ncolls--;
            odx_coll_release(c); /* the registry's reference */
            break;
        }
    }
    pthread_rwlock_unlock(&db->clock);
    char path[4096];
    odx_coll_index_path(db, name, path, sizeof path);
    unlink(path);
    odx_coll_release(c);
    return 0;
}

int odx_engine_collection_list(odx_engine *db, char ***names, size_t *count)
{
    MDB_txn *txn;
    int rc = odx_txn_begin(db->st, 0, &txn);
    if (rc) return rc;
    rc = odx_catalog_list(txn, db->st, names, count);
    odx_txn_abort(db->st, txn);
    return rc;
}


int odx_engine_collection_describe(odx_engine *db, const char *name, odx_collection_info **out)
{
    odx_coll *c;
    int rc = odx_coll_acquire(db, name, &c);
    if (rc) return rc;
    odx_collection_info *info = odx_calloc(1, sizeof *info);
    if (!info) { odx_coll_release(c); return odx_error(ODX_ENOMEM, "out of memory"); }
    snprintf(info->name, sizeof info->name, "%s", c->name);
    pthread_rwlock_rdlock(&c->ilock);
    info->d = c->desc;
    odx_index_describe(c->idx, info->index_type, sizeof info->index_type);
    info->ntotal = odx_index_ntotal(c->idx);
    /* Every live item is in the index (writes and rebuilds keep it so), so
     * what else it holds is deleted: no scan of the index needed. */
    info->tombstones = info->ntotal > c->desc.count ? info->ntotal - c->desc.count : 0;
    info->ckpt_lsn = c->ckpt_lsn;
    info->gpu_serving = c->gpu != NULL;
    pthread_rwlock_unlock(&c->ilock);
    MDB_txn *txn;
    if (!(rc = odx_txn_begin(db->st, 0, &txn))) {
        rc = odx_dbi_bytes(txn, c->dbis.vec, odx_store_page_size(db->st), &info->vector_bytes);
        odx_txn_abort(db->st, txn);
    }
    odx_coll_release(c);
    if (rc) { odx_free(info); return rc; }
    *out = info;
    return 0;
}

void odx_collection_info_free(odx_collection_info *info) { odx_free(info); }
const char *odx_info_name(const odx_collection_info *i) { return i->name; }
int odx_info_dim(const odx_collection_info *i) { return i->d.dim; }
odx_metric odx_info_metric(const odx_collection_info *i) { return i->d.metric; }
const char *odx_info_index_spec(const odx_collection_info *i) { return i->d.spec; }
const char *odx_info_index_type(const odx_collection_info *i) { return i->index_type; }
const char *odx_info_space(const odx_collection_info *i) { return i->d.space; }
uint64_t odx_info_count(const odx_collection_info *i) { return i->d.count; }
uint64_t odx_info_index_ntotal(const odx_collection_info *i) { return i->ntotal; }
uint64_t odx_info_tombstones(const odx_collection_info *i) { return i->tombstones; }
uint64_t odx_info_lsn(const odx_collection_info *i) { return i->d.lsn; }
uint64_t odx_info_checkpoint_lsn(const odx_collection_info *i) { return i->ckpt_lsn; }
int64_t odx_info_created(const odx_collection_info *i) { return i->d.created; }
int64_t odx_info_updated(const odx_collection_info *i) { return i->d.updated; }
uint64_t odx_info_vector_bytes(const odx_collection_info *i) { return i->vector_bytes; }
int odx_info_gpu(const odx_collection_info *i) { return (i->d.flags & ODX_COLL_GPU) ? 1 + i->gpu_serving : 0; }

struct gpu_flag_ctx {
    odx_engine *db;
    odx_coll *c;
    int on;
    odx_coll_desc d;
};

static int gpu_flag_txn(void *ctx, MDB_txn *txn)
{
    struct gpu_flag_ctx *g = ctx;
    int rc = odx_catalog_get(txn, g->db->st, g->c->name, &g->d);
    if (rc) return rc;
    g->d.flags = g->on ? (g->d.flags | ODX_COLL_GPU) : (g->d.flags & ~ODX_COLL_GPU);
    return odx_catalog_put(txn, g->db->st, g->c->name, &g->d);
}

int odx_engine_collection_set_gpu(odx_engine *db, const char *name, int on)
{
    if (db->readonly) return odx_error(ODX_EREADONLY, "data directory opened read-only");
    odx_coll *c;
    int rc = odx_coll_acquire(db, name, &c);
    if (rc) return rc;
    struct gpu_flag_ctx g = {db, c, on, {0}};
    /* The writer lock keeps group commits from racing the flag into c->desc. */
    pthread_mutex_lock(&c->mmu);
    rc = odx_write_txn(db, gpu_flag_txn, &g);
    if (!rc) {
        MDB_txn *txn;
        pthread_rwlock_wrlock(&c->ilock);
        c->desc.flags = g.d.flags;
        if (!(rc = odx_txn_begin(db->st, 0, &txn))) {
            odx_coll_gpu_build(db, c, txn); /* frees the mirror when off */
            odx_txn_abort(db->st, txn);
        }
        pthread_rwlock_unlock(&c->ilock);
    }
    pthread_mutex_unlock(&c->mmu);
    odx_coll_release(c);
    return rc;
}

int odx_engine_collection_checkpoint(odx_engine *db, const char *name)
{
    odx_coll *c;
    int rc = odx_coll_acquire(db, name, &c);
    if (rc) return rc;
    char why[300];
    if (odx_coll_needs_rebuild(c, why, sizeof why)) rc = odx_coll_rebuild(db, c, why);
    else rc = odx_coll_checkpoint(db, c);
    odx_coll_release(c);
    return rc;
}

int odx_engine_collection_compact(odx_engine *db, const char *name)
{
    if (db->readonly) return odx_error(ODX_EREADONLY, "data directory opened read-only");
    odx_coll *c;
    int rc = odx_coll_acquire(db, name, &c);
    if (rc) return rc;
    rc = odx_coll_rebuild(db, c, "compaction requested");
    odx_coll_release(c);
    return rc;
}
