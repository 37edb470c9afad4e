/* The write path. Every write is acknowledged only after its LMDB
 * transaction commits. Concurrent writers are group-committed: the first
 * waiting writer becomes the leader and applies every queued request in one
 * transaction (each in a nested transaction, so one bad request fails
 * alone), commits once, then updates the in-memory indexes and wakes the
 * others. MDB_MAP_FULL grows the map and replays the group. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "query/engine.h"

#define GROUP_MAX_REQS 64
#define GROUP_MAX_BYTES (64u << 20)

enum { WREQ_UPSERT = 1, WREQ_DELETE = 2 };

struct odx_wreq {
    int kind;
    odx_coll *c;
    const odx_batch *batch;
    const char *const *ids;
    size_t nids;
    size_t bytes;
    /* outcome */
    int rc;
    char err[1024];
    size_t deleted;
    int done;
    struct odx_wreq *next;
    /* staged by the transaction, applied to the index after commit */
    uint64_t first_seq;
    size_t nadd;
    float *vecs;
    uint64_t *dead;
    size_t ndead, capdead;
    odx_coll_desc after; /* the collection's descriptor after this request */
};

static int wreq_dead_push(struct odx_wreq *r, uint64_t seq)
{
    int rc = odx_grow(&r->dead, &r->capdead, r->ndead + 1, sizeof *r->dead);
    if (!rc) r->dead[r->ndead++] = seq;
    return rc;
}

static void wreq_reset(struct odx_wreq *r)
{
    odx_free(r->vecs);
    odx_free(r->dead);
    r->vecs = NULL;
    r->dead = NULL;
    r->ndead = r->capdead = r->nadd = 0;
    r->rc = 0;
    r->err[0] = '\0';
    r->deleted = 0;
}

/* Per-group working copy of each touched collection's descriptor. */
struct work {
    odx_coll *c;
    odx_coll_desc d;
};

static odx_coll_desc *work_desc(struct work *w, size_t *nw, odx_coll *c)
{
    for (size_t i = 0; i < *nw; i++)
        if (w[i].c == c) return &w[i].d;
    w[*nw].c = c;
    pthread_rwlock_rdlock(&c->ilock);
    w[*nw].d = c->desc;
    pthread_rwlock_unlock(&c->ilock);
    return &w[(*nw)++].d;
}

/* Removes the stored item with this id, if any; records its seq as dead. */
static int remove_existing(MDB_txn *txn, odx_coll *c, odx_coll_desc *d, struct odx_wreq *r,
                           const char *id, size_t idlen, int64_t *created)
{
    odx_rec old;
    int rc = odx_rec_get(txn, c->dbis.items, id, idlen, &old);
    if (rc == ODX_ENOTFOUND) return ODX_ENOTFOUND;
    if (rc) return rc;
    if (created) *created = old.created;
    odx_meta m = {0};
    size_t used;
    rc = odx_meta_decode(old.meta, old.meta_len, &used, &m);
    uint64_t seq = old.seq;
    odx_modality mod = old.modality;
    if (!rc) rc = odx_fields_del(txn, c->dbis.fields, seq, mod, &m);
    odx_meta_clear(&m);
    odx_free(m.e);
    if (!rc) rc = odx_seq_del(txn, c->dbis.seqs, seq);
    if (!rc) rc = odx_wal_append(txn, c->dbis.log, ++d->lsn, ODX_WAL_DEL, seq);
    if (!rc) rc = wreq_dead_push(r, seq);
    if (!rc && d->count) d->count--;
    return rc;
}

static int apply_upsert(MDB_txn *txn, odx_coll *c, odx_coll_desc *d, struct odx_wreq *r)
{
    const odx_batch *b = r->batch;
    size_t dim = (size_t)d->dim;
    for (size_t i = 0; i < b->n; i++) {
        const struct odx_item *it = &b->items[i];
        if (!it->vec) /* odx_upsert embeds payloads before they get here */
            return odx_error(ODX_EINTERNAL, "item '%.*s' reached the writer without a vector", (int)it->idlen, it->id);
        if (b->dim != d->dim)
            return odx_error(ODX_EDIM, "collection '%s' has dimension %d; item '%.*s' has %d", c->name, d->dim,
                             (int)it->idlen, it->id, b->dim);
    }
    r->vecs = odx_malloc(b->n * dim * sizeof(float));
    if (!r->vecs && b->n) return odx_error(ODX_ENOMEM, "out of memory");
    r->first_seq = d->next_seq;
    int64_t now = odx_now_unix();
    for (size_t i = 0; i < b->n; i++) {
        const struct odx_item *it = &b->items[i];
        float *v = r->vecs + i * dim;
        memcpy(v, it->vec, dim * sizeof(float));
        if (d->metric == ODX_METRIC_COSINE) {
            int rc = odx_vec_normalize(v, dim);
            if (rc) return odx_error(ODX_EVECTOR, "item '%.*s': zero vector in a cosine collection", (int)it->idlen, it->id);
        }
        int64_t created = now;
        int rc = remove_existing(txn, c, d, r, it->id, it->idlen, &created);
        if (rc && rc != ODX_ENOTFOUND) return rc;
        uint64_t seq = d->next_seq++;
        if ((rc = odx_rec_put(txn, c->dbis.items, it->id, it->idlen, seq, it->modality, created, now, it->source,
                              it->meta)) ||
            (rc = odx_seq_put(txn, c->dbis.seqs, seq, it->modality, it->id, it->idlen)) ||
            (rc = odx_fields_add(txn, c->dbis.fields, seq, it->modality, it->meta)) ||
            (rc = odx_wal_append(txn, c->dbis.log, ++d->lsn, ODX_WAL_ADD, seq)))
            return rc;
        d->count++;
        r->nadd++;
    }
    int rc = odx_vstore_put(txn, c->dbis.vec, d->dim, c->per_block, r->first_seq, r->nadd, r->vecs);
    if (rc) return rc;
    d->updated = now;
    return 0;
}

static int apply_delete(MDB_txn *txn, odx_coll *c, odx_coll_desc *d, struct odx_wreq *r)
{
    for (size_t i = 0; i < r->nids; i++) {
        const char *id = r->ids[i];
        size_t len = strlen(id);
        if (len == 0 || len > ODX_MAX_ID_LEN) continue;
        int rc = remove_existing(txn, c, d, r, id, len, NULL);
        if (rc == ODX_ENOTFOUND) continue;
        if (rc) return rc;
        if ((rc = odx_rec_del(txn, c->dbis.items, id, len))) return rc;
        r->deleted++;
    }
    if (r->deleted) d->updated = odx_now_unix();
    return 0;
}

/* Applies a committed request to the collection's index and live set. */
static void apply_to_index(odx_coll *c, struct odx_wreq *r)
{
    pthread_rwlock_wrlock(&c->ilock);
    if (odx_bitmap_resize(&c->live, r->after.next_seq ? r->after.next_seq : 1)) {
        c->index_broken = 1;
    } else {
        /* Adds first: a batch that names one id twice kills its own earlier seq. */
        for (size_t i = 0; i < r->nadd; i++) odx_bitmap_set(&c->live, r->first_seq + i);
        for (size_t i = 0; i < r->ndead; i++) odx_bitmap_clear(&c->live, r->dead[i]);
    }
    if (r->nadd && !c->index_broken) {
        uint64_t *seqs = odx_malloc(r->nadd * sizeof *seqs);
        int rc = seqs ? 0 : odx_error(ODX_ENOMEM, "out of memory for %zu seqs", r->nadd);
        for (size_t i = 0; seqs && i < r->nadd; i++) seqs[i] = r->first_seq + i;
        if (!rc) rc = odx_index_add(c->idx, r->nadd, r->vecs, seqs);
        odx_free(seqs);
        if (rc) {
            /* The write is durable in LMDB; the index will be rebuilt. */
            odx_log(ODX_LOG_ERROR, "collection '%s': index update failed (%s); rebuilding from LMDB", c->name,
                    odx_last_error());
            c->index_broken = 1;
        }
    }
    odx_coll_gpu_apply(c, r->first_seq, r->nadd, r->vecs, r->dead, r->ndead);
    c->desc = r->after;
    if (!c->index_broken) c->indexed_lsn = r->after.lsn;
    pthread_rwlock_unlock(&c->ilock);
}

static size_t wreq_bytes(const struct odx_wreq *r)
{
    if (r->kind == WREQ_DELETE) return r->nids * 64;
    return r->batch->n * ((size_t)(r->batch->dim > 0 ? r->batch->dim : 1) * 4 + 128);
}

/* Runs one group in one transaction. Called with db->wmu held. */
static void run_group(odx_engine *db, struct odx_wreq **reqs, size_t n)
{
    struct work w[GROUP_MAX_REQS];
    for (int attempt = 0;; attempt++) {
        size_t nw = 0;
        for (size_t i = 0; i < n; i++) wreq_reset(reqs[i]);
        MDB_txn *txn;
        int rc = odx_txn_begin(db->st, 1, &txn);
        if (rc) {
            for (size_t i = 0; i < n; i++) { reqs[i]->rc = rc; snprintf(reqs[i]->err, sizeof reqs[i]->err, "%s", odx_last_error()); }
            return;
        }
        int mapfull = 0;
        for (size_t i = 0; i < n && !mapfull; i++) {
            struct odx_wreq *r = reqs[i];
            if (r->c->dropped) {
                r->rc = odx_error(ODX_ENOTFOUND, "no collection named '%s' (dropped)", r->c->name);
                snprintf(r->err, sizeof r->err, "%s", odx_last_error());
                continue;
            }
            odx_coll_desc *d = work_desc(w, &nw, r->c);
            odx_coll_desc saved = *d;
            MDB_txn *child;
            rc = odx_txn_begin_child(db->st, txn, &child);
            if (!rc) {
                rc = r->kind == WREQ_UPSERT ? apply_upsert(child, r->c, d, r) : apply_delete(child, r->c, d, r);
                if (!rc) rc = odx_catalog_put(child, db->st, r->c->name, d);
                if (!rc) rc = odx_mdb_err(mdb_txn_commit(child), "committing nested transaction");
                else mdb_txn_abort(child);
            }
            if (rc == ODX_EMAPFULL) { mapfull = 1; break; }
            if (rc) {
                *d = saved;
                r->rc = rc;
                snprintf(r->err, sizeof r->err, "%s", odx_last_error());
            } else {
                r->after = *d;
            }
        }
        if (!mapfull) {
            rc = odx_txn_commit(db->st, txn);
            if (rc == ODX_EMAPFULL) mapfull = 1;
        } else {
            odx_txn_abort(db->st, txn);
        }
        if (mapfull) {
            if (attempt >= 20 || (rc = odx_store_grow(db->st))) {
                if (!rc) rc = odx_error(ODX_EFULL, "LMDB map could not grow enough");
                for (size_t i = 0; i < n; i++) { reqs[i]->rc = rc; snprintf(reqs[i]->err, sizeof reqs[i]->err, "%s", odx_last_error()); }
                return;
            }
            continue;
        }
        if (rc) {
            /* The commit failed (disk full, I/O error): nothing is durable. */
            for (size_t i = 0; i < n; i++)
                if (!reqs[i]->rc) { reqs[i]->rc = rc; snprintf(reqs[i]->err, sizeof reqs[i]->err, "%s", odx_last_error()); }
            return;
        }
        for (size_t i = 0; i < n; i++)
            if (!reqs[i]->rc) apply_to_index(reqs[i]->c, reqs[i]);
        return;
    }
}

static int submit(odx_engine *db, struct odx_wreq *r)
{
    r->bytes = wreq_bytes(r);
    pthread_mutex_lock(&db->qmu);
    if (db->qtail) db->qtail->next = r;
    else db->qhead = r;
    db->qtail = r;
    while (!r->done) {
        if (db->leader) {
            pthread_cond_wait(&db->qcv, &db->qmu);
            continue;
        }
        /* Become the leader: take a group off the queue. */
        db->leader = 1;
        struct odx_wreq *group[GROUP_MAX_REQS];
        size_t n = 0, bytes = 0;
        while (db->qhead && n < GROUP_MAX_REQS && (n == 0 || bytes + db->qhead->bytes <= GROUP_MAX_BYTES)) {
            struct odx_wreq *q = db->qhead;
            db->qhead = q->next;
            if (!db->qhead) db->qtail = NULL;
            q->next = NULL;
            bytes += q->bytes;
            group[n++] = q;
        }
        pthread_mutex_unlock(&db->qmu);
        pthread_mutex_lock(&db->wmu);
        run_group(db, group, n);
        pthread_mutex_unlock(&db->wmu);
        pthread_mutex_lock(&db->qmu);
        db->stat_requests += n;
        db->stat_txns++;
        for (size_t i = 0; i < n; i++) group[i]->done = 1;
        db->leader = 0;
        pthread_cond_broadcast(&db->qcv);
    }
    pthread_mutex_unlock(&db->qmu);
    int rc = r->rc;
    if (rc) odx_error(rc, "%s", r->err);
    odx_free(r->vecs);
    odx_free(r->dead);
    return rc;
}

void odx_engine_write_stats(odx_engine *db, uint64_t *requests, uint64_t *transactions)
{
    pthread_mutex_lock(&db->qmu);
    if (requests) *requests = db->stat_requests;
    if (transactions) *transactions = db->stat_txns;
    pthread_mutex_unlock(&db->qmu);
}

int odx_write_upsert(odx_engine *db, odx_coll *c, const odx_batch *b)
{
    struct odx_wreq r;
    memset(&r, 0, sizeof r);
    r.kind = WREQ_UPSERT;
    r.c = c;
    r.batch = b;
    return submit(db, &r);
}

int odx_write_delete(odx_engine *db, odx_coll *c, const char *const *ids, size_t n, size_t *deleted)
{
    struct odx_wreq r;
    memset(&r, 0, sizeof r);
    r.kind = WREQ_DELETE;
    r.c = c;
    r.ids = ids;
    r.nids = n;
    int rc = submit(db, &r);
    if (!rc && deleted) *deleted = r.deleted;
    return rc;
}

int odx_write_txn(odx_engine *db, int (*fn)(void *ctx, MDB_txn *txn), void *ctx)
{
    pthread_mutex_lock(&db->wmu);
    int rc;
    for (int attempt = 0;; attempt++) {
        MDB_txn *txn;
        if ((rc = odx_txn_begin(db->st, 1, &txn))) break;
        rc = fn(ctx, txn);
        if (rc) odx_txn_abort(db->st, txn);
        else rc = odx_txn_commit(db->st, txn);
        if (rc != ODX_EMAPFULL) break;
        if (attempt >= 20 || (rc = odx_store_grow(db->st))) {
            if (!rc) rc = odx_error(ODX_EFULL, "LMDB map could not grow enough");
            break;
        }
    }
    pthread_mutex_unlock(&db->wmu);
    return rc;
}
