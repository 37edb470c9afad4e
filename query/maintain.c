/* Index maintenance: loading checkpoints and replaying the change log at
 * open, rebuilding an index from LMDB (auto Flat->HNSW, IVF/PQ training once
 * enough vectors exist, compaction of tombstones, recovery from a broken
 * index), and checkpointing. Rebuilds run off to the side on a snapshot and
 * catch up from the change log under the index lock, so searches continue
 * on the old index meanwhile. A background thread schedules the work. */
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

#define CKPT_INTERVAL_S 30.0
#define CKPT_CHANGES 50000
#define COMPACT_MIN 1000
#define COMPACT_FRACTION 0.2
#define TRAIN_SAMPLE_MAX 100000
/* A build hands FAISS the live vectors in runs of up to this many bytes, so
 * a collection of up to ~1 GiB of vectors is added in one call: FAISS's
 * HNSW add inserts one call's vectors upper levels first, in a random order,
 * and a graph built in one call is far better than one built in thousands
 * of small ones when the stored order follows the data's clusters
 * (docs/core.md, "Index specs"). The run is a copy: peak memory during a
 * rebuild grows by up to this much. */
#define BUILD_RUN_BYTES ((size_t)1 << 30)

void odx_coll_index_path(odx_engine *db, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/indexes/%s.faiss", db->dir, name);
}

/* The factory to build for a collection of `live` vectors. `current` (may be
 * NULL) gives hysteresis to auto: HNSW stays until half the threshold. */
static void choose_factory(const odx_coll_desc *d, uint64_t live, const char *current, char *buf, size_t len,
                           char *why, size_t wlen)
{
    why[0] = '\0';
    if (!strcmp(d->spec, "auto")) {
        uint64_t at = current && strstr(current, "HNSW") ? ODX_AUTO_HNSW_AT / 2 : ODX_AUTO_HNSW_AT;
        snprintf(buf, len, "%s", live >= at ? "HNSW32,Flat" : "Flat");
        return;
    }
    size_t need = odx_index_train_min(d->spec);
    if (need && live < need) {
        snprintf(buf, len, "Flat");
        snprintf(why, wlen, "'%s' needs %zu vectors to train, has %llu: exact search until then", d->spec, need,
                 (unsigned long long)live);
        return;
    }
    snprintf(buf, len, "%s", d->spec);
}


int odx_coll_needs_rebuild(odx_coll *c, char *why, size_t len)
{
    pthread_rwlock_rdlock(&c->ilock);
    int need = 0;
    uint64_t live = c->desc.count, ntotal = odx_index_ntotal(c->idx);
    char want[128], w2[200];
    choose_factory(&c->desc, live, odx_index_factory(c->idx), want, sizeof want, w2, sizeof w2);
    if (c->index_broken) {
        need = 1;
        snprintf(why, len, "index update failed earlier");
    } else if (strcmp(want, odx_index_factory(c->idx))) {
        need = 1;
        snprintf(why, len, "index type %s -> %s at %llu vectors", odx_index_factory(c->idx), want,
                 (unsigned long long)live);
    } else if (ntotal > live && ntotal - live >= COMPACT_MIN && (double)(ntotal - live) >= COMPACT_FRACTION * ntotal) {
        need = 1;
        snprintf(why, len, "compaction: %llu of %llu indexed vectors are deleted", (unsigned long long)(ntotal - live),
                 (unsigned long long)ntotal);
    }
    pthread_rwlock_unlock(&c->ilock);
    return need;
}

/* ---- building from LMDB ---- */

struct build {
    odx_index *ix;
    const odx_bitmap *live;
    int dim;
    /* training sample */
    float *sample;
    size_t nsample, want_sample, stride, seen;
    /* the run of live vectors gathered for the next add */
    float *run;
    uint64_t *run_seqs;
    size_t nrun, run_cap;
};

static int sample_block(void *ctx, uint64_t first, size_t n, const float *data)
{
    struct build *b = ctx;
    for (size_t i = 0; i < n && b->nsample < b->want_sample; i++) {
        if (!odx_bitmap_get(b->live, first + i)) continue;
        if (b->seen++ % b->stride) continue;
        memcpy(b->sample + b->nsample * b->dim, data + i * b->dim, (size_t)b->dim * sizeof(float));
        b->nsample++;
    }
    return 0;
}

static int flush_run(struct build *b)
{
    if (!b->nrun) return 0;
    int rc = odx_index_add(b->ix, b->nrun, b->run, b->run_seqs);
    b->nrun = 0;
    return rc;
}

/* Gathers the live vectors of a block into the run, adding it when full. */
static int add_block(void *ctx, uint64_t first, size_t n, const float *data)
{
    struct build *b = ctx;
    for (size_t i = 0; i < n; i++) {
        if (!odx_bitmap_get(b->live, first + i)) continue;
        if (b->nrun == b->run_cap) {
            int rc = flush_run(b);
            if (rc) return rc;
        }
        memcpy(b->run + b->nrun * b->dim, data + i * b->dim, (size_t)b->dim * sizeof(float));
        b->run_seqs[b->nrun++] = first + i;
    }
    return 0;
}

/* Builds a fresh index of the live vectors visible in txn. */
static int build_index(MDB_txn *txn, odx_coll *c, const odx_coll_desc *d, const odx_bitmap *live, uint64_t nlive,
                       const char *factory, odx_index **out)
{
    odx_index *ix;
    int rc = odx_index_create(factory, d->dim, d->metric, &ix);
    if (rc) return rc;
    struct build b = {ix, live, d->dim, NULL, 0, 0, 1, 0, NULL, NULL, 0, 0};
    if (!odx_index_is_trained(ix)) {
        size_t need = odx_index_train_min(factory);
        size_t want = need * 2 > TRAIN_SAMPLE_MAX ? TRAIN_SAMPLE_MAX : need * 2;
        if (want < need) want = need;
        if (want > nlive) want = (size_t)nlive;
        b.want_sample = want;
        b.stride = want ? (size_t)(nlive / want) : 1;
        if (b.stride == 0) b.stride = 1;
        b.sample = odx_malloc(want * (size_t)d->dim * sizeof(float) + 1);
        if (!b.sample) { odx_index_free(ix); return odx_error(ODX_ENOMEM, "out of memory for a training sample"); }
        rc = odx_vstore_scan(txn, c->dbis.vec, d->dim, c->per_block, sample_block, &b);
        if (!rc) {
            double t0 = odx_now_mono();
            rc = odx_index_train(ix, b.nsample, b.sample);
            odx_log(ODX_LOG_INFO, "collection '%s': trained %s on %zu vectors in %.1f s", c->name, factory, b.nsample,
                    odx_now_mono() - t0);
        }
        odx_free(b.sample);
        if (rc) { odx_index_free(ix); return rc; }
    }
    size_t per_run = BUILD_RUN_BYTES / ((size_t)d->dim * sizeof(float));
    b.run_cap = nlive < per_run ? (size_t)nlive : per_run;
    if (b.run_cap == 0) b.run_cap = 1;
    b.run = odx_malloc(b.run_cap * (size_t)d->dim * sizeof(float));
    b.run_seqs = odx_malloc(b.run_cap * sizeof *b.run_seqs);
    if (!b.run || !b.run_seqs) rc = odx_error(ODX_ENOMEM, "out of memory for %zu vectors to index", b.run_cap);
    double t0 = odx_now_mono();
    if (!rc) rc = odx_vstore_scan(txn, c->dbis.vec, d->dim, c->per_block, add_block, &b);
    if (!rc) rc = flush_run(&b);
    odx_free(b.run);
    odx_free(b.run_seqs);
    if (rc) { odx_index_free(ix); return rc; }
    odx_log(ODX_LOG_DEBUG, "collection '%s': added %llu vectors to %s in %.1f s", c->name, (unsigned long long)nlive,
            factory, odx_now_mono() - t0);
    *out = ix;
    return 0;
}

struct replay {
    odx_coll *c;
    MDB_txn *txn;
    odx_index *ix;
    const odx_bitmap *live;
    uint64_t added;
};

static int replay_entry(void *ctx, uint64_t lsn, int op, uint64_t seq)
{
    struct replay *r = ctx;
    if (op != ODX_WAL_ADD || !odx_bitmap_get(r->live, seq)) return 0;
    const float *v;
    int rc = odx_vstore_get(r->txn, r->c->dbis.vec, r->c->desc.dim, r->c->per_block, seq, &v);
    if (rc == ODX_ENOTFOUND) return odx_error(ODX_ECORRUPT, "log entry %llu names seq %llu with no vector",
                                              (unsigned long long)lsn, (unsigned long long)seq);
    if (rc) return rc;
    rc = odx_index_add(r->ix, 1, v, &seq);
    if (!rc) r->added++;
    return rc;
}

/* Adds to ix every live vector whose ADD is in the log after `after`.
 * ODX_ECORRUPT when the log no longer reaches back that far. */
static int replay_log(MDB_txn *txn, odx_coll *c, odx_index *ix, const odx_bitmap *live, uint64_t after,
                      uint64_t upto, uint64_t *added)
{
    struct replay r = {c, txn, ix, live, 0};
    uint64_t first;
    int rc = odx_wal_scan(txn, c->dbis.log, after, replay_entry, &r, &first);
    if (rc) return rc;
    if (upto > after && first != after + 1)
        return odx_error(ODX_ECORRUPT, "change log starts at lsn %llu, checkpoint needs %llu",
                         (unsigned long long)first, (unsigned long long)after + 1);
    *added = r.added;
    return 0;
}

/* A read-only handle that had to rebuild an index (or replay much of the log)
 * saves it as the checkpoint, so the next reader does not pay again. Only
 * while no writer process runs (it holds the writer lock for the save) and
 * only when the data is still at the LSN the index reflects: a writer that
 * ran since this open may have checkpointed further and trimmed the log, and
 * an older checkpoint must never replace its newer one. */
static void readonly_persist(odx_engine *db, odx_coll *c, const char *what, double seconds)
{
    int fd = -1, rc = odx_store_writer_try(db->st, &fd);
    if (rc == ODX_EREADONLY) {
        odx_log(ODX_LOG_WARN,
                "collection '%s': %s in memory (%.1f s) and could not save it: %s is not writable; to keep it, run "
                "'omnidex --data %s collection checkpoint %s' as a user who can write there",
                c->name, what, seconds, db->dir, db->dir, c->name);
        return;
    }
    if (rc) {
        odx_log(ODX_LOG_DEBUG, "collection '%s': %s; a writer process runs, it will checkpoint", c->name, what);
        return;
    }
    MDB_txn *txn;
    odx_coll_desc now;
    if (odx_txn_begin(db->st, 0, &txn) == 0) {
        rc = odx_catalog_get(txn, db->st, c->name, &now);
        odx_txn_abort(db->st, txn);
        if (!rc && now.lsn == c->indexed_lsn && now.next_seq == c->desc.next_seq) {
            char path[4096];
            snprintf(path, sizeof path, "%s/indexes", db->dir);
            mkdir(path, 0755); /* a read-only open does not make it */
            odx_coll_index_path(db, c->name, path, sizeof path);
            if (odx_index_save(c->idx, path, c->indexed_lsn, c->desc.next_seq) == 0) {
                c->ckpt_lsn = c->indexed_lsn;
                odx_log(ODX_LOG_INFO, "collection '%s': %s (%.1f s) and saved it as the checkpoint", c->name, what,
                        seconds);
            } else {
                odx_log(ODX_LOG_WARN, "collection '%s': %s; saving the checkpoint failed: %s", c->name, what,
                        odx_last_error());
            }
        }
    }
    odx_store_writer_release(fd);
}

/* Replayed adds past which a read-only open saves the checkpoint it made. */
#define READONLY_PERSIST_ADDS 1000

int odx_coll_open_index(odx_engine *db, odx_coll *c)
{
    char path[4096];
    odx_coll_index_path(db, c->name, path, sizeof path);
    MDB_txn *txn;
    int rc = odx_txn_begin(db->st, 0, &txn);
    if (rc) return rc;
    if ((rc = odx_bitmap_resize(&c->live, c->desc.next_seq ? c->desc.next_seq : 1)) ||
        (rc = odx_seq_scan_live(txn, c->dbis.seqs, &c->live))) {
        odx_txn_abort(db->st, txn);
        return rc;
    }
    c->live.nbits = c->desc.next_seq;
    uint64_t nlive = odx_bitmap_count(&c->live);
    if (nlive != c->desc.count) {
        odx_log(ODX_LOG_WARN, "collection '%s': catalog count %llu, seq map %llu; using the seq map", c->name,
                (unsigned long long)c->desc.count, (unsigned long long)nlive);
        c->desc.count = nlive;
    }
    odx_index *ix = NULL;
    uint64_t lsn = 0, next_seq = 0, added = 0;
    char why[600] = "";
    double t0 = odx_now_mono();
    rc = odx_index_load(path, c->desc.dim, c->desc.metric, &ix, &lsn, &next_seq);
    if (rc == 0) {
        if (lsn > c->desc.lsn || next_seq > c->desc.next_seq || odx_index_max_seq(ix) > c->desc.next_seq) {
            snprintf(why, sizeof why, "checkpoint %s is ahead of the data (lsn %llu > %llu)", path,
                     (unsigned long long)lsn, (unsigned long long)c->desc.lsn);
            odx_index_free(ix);
            ix = NULL;
        } else if ((rc = replay_log(txn, c, ix, &c->live, lsn, c->desc.lsn, &added))) {
            snprintf(why, sizeof why, "replaying the change log failed: %s", odx_last_error());
            odx_index_free(ix);
            ix = NULL;
        } else {
            odx_log(ODX_LOG_DEBUG, "collection '%s': loaded %s (lsn %llu) and replayed %llu adds", c->name, path,
                    (unsigned long long)lsn, (unsigned long long)added);
            c->ckpt_lsn = lsn;
        }
    } else if (rc == ODX_ENOTFOUND) {
        if (c->desc.next_seq > 0) snprintf(why, sizeof why, "index checkpoint %s is missing", path);
    } else {
        snprintf(why, sizeof why, "index checkpoint unusable: %s", odx_last_error());
    }
    if (!ix) {
        char factory[128], w2[300];
        choose_factory(&c->desc, nlive, NULL, factory, sizeof factory, w2, sizeof w2);
        rc = build_index(txn, c, &c->desc, &c->live, nlive, factory, &ix);
        if (rc) { odx_txn_abort(db->st, txn); return rc; }
        if (why[0])
            odx_log(ODX_LOG_INFO, "collection '%s': %s; rebuilt %s from LMDB (%llu vectors, %.1f s)", c->name, why,
                    factory, (unsigned long long)nlive, odx_now_mono() - t0);
        if (w2[0] && nlive) odx_log(ODX_LOG_INFO, "collection '%s': %s", c->name, w2);
        c->ckpt_lsn = 0;
    }
    odx_coll_gpu_build(db, c, txn);
    odx_txn_abort(db->st, txn);
    c->idx = ix;
    c->indexed_lsn = c->desc.lsn;
    c->ckpt_time = odx_now_mono();
    if (db->readonly && c->ckpt_lsn == 0 && why[0] && nlive > 0)
        readonly_persist(db, c, "rebuilt the index", odx_now_mono() - t0);
    else if (db->readonly && added >= READONLY_PERSIST_ADDS)
        readonly_persist(db, c, "replayed the change log into the index", odx_now_mono() - t0);
    return 0;
}

int odx_coll_rebuild(odx_engine *db, odx_coll *c, const char *why)
{
    pthread_mutex_lock(&c->mmu);
    double t0 = odx_now_mono();
    MDB_txn *txn;
    odx_index *ix = NULL;
    odx_bitmap live = {0};
    int rc = odx_txn_begin(db->st, 0, &txn);
    if (rc) goto out;
    /* A snapshot: the catalog entry and the live set as of this txn. */
    odx_coll_desc d;
    if ((rc = odx_catalog_get(txn, db->st, c->name, &d))) { odx_txn_abort(db->st, txn); goto out; }
    if (!(rc = odx_bitmap_resize(&live, d.next_seq ? d.next_seq : 1))) rc = odx_seq_scan_live(txn, c->dbis.seqs, &live);
    if (rc) { odx_txn_abort(db->st, txn); goto out; }
    live.nbits = d.next_seq;
    uint64_t nlive = odx_bitmap_count(&live);
    char factory[128], w2[300];
    pthread_rwlock_rdlock(&c->ilock);
    char cur[128];
    snprintf(cur, sizeof cur, "%s", odx_index_factory(c->idx));
    pthread_rwlock_unlock(&c->ilock);
    choose_factory(&d, nlive, cur, factory, sizeof factory, w2, sizeof w2);
    odx_log(ODX_LOG_INFO, "collection '%s': building %s over %llu vectors (%s)", c->name, factory,
            (unsigned long long)nlive, why);
    rc = build_index(txn, c, &d, &live, nlive, factory, &ix);
    odx_txn_abort(db->st, txn);
    if (rc) goto out;
    /* Catch up with writes committed since the snapshot, then swap. */
    pthread_rwlock_wrlock(&c->ilock);
    uint64_t added = 0;
    if (!(rc = odx_txn_begin(db->st, 0, &txn))) {
        rc = replay_log(txn, c, ix, &c->live, d.lsn, c->desc.lsn, &added);
        if (!rc) {
            odx_index *old = c->idx;
            c->idx = ix;
            ix = NULL;
            c->index_broken = 0;
            c->indexed_lsn = c->desc.lsn;
            odx_index_free(old);
            /* The GPU mirror is rebuilt with its CPU twin (dropping tombstones). */
            if (c->gpu) odx_coll_gpu_build(db, c, txn);
        }
        odx_txn_abort(db->st, txn);
    }
    pthread_rwlock_unlock(&c->ilock);
    if (!rc)
        odx_log(ODX_LOG_INFO, "collection '%s': %s ready (%.1f s, %llu caught up)", c->name, factory,
                odx_now_mono() - t0, (unsigned long long)added);
out:
    odx_index_free(ix);
    odx_bitmap_free(&live);
    pthread_mutex_unlock(&c->mmu);
    if (!rc && !db->readonly) rc = odx_coll_checkpoint(db, c);
    return rc;
}

struct truncate_ctx {
    odx_coll *c;
    uint64_t upto;
};

static int truncate_log(void *ctx, MDB_txn *txn)
{
    struct truncate_ctx *t = ctx;
    if (t->c->dropped) return 0;
    return odx_wal_truncate(txn, t->c->dbis.log, t->upto);
}

struct reclaim_ctx {
    odx_coll *c;
    odx_bitmap live;
    uint64_t next_seq, freed;
};

static int reclaim_blocks(void *ctx, MDB_txn *txn)
{
    struct reclaim_ctx *r = ctx;
    if (r->c->dropped) return 0;
    return odx_vstore_reclaim(txn, r->c->dbis.vec, r->c->desc.dim, r->c->per_block, &r->live, r->next_seq, &r->freed);
}

int odx_coll_checkpoint(odx_engine *db, odx_coll *c)
{
    if (db->readonly) return odx_error(ODX_EREADONLY, "cannot checkpoint a read-only database");
    pthread_mutex_lock(&c->mmu);
    char path[4096];
    odx_coll_index_path(db, c->name, path, sizeof path);
    pthread_rwlock_rdlock(&c->ilock);
    uint64_t lsn = c->indexed_lsn, next_seq = c->desc.next_seq;
    int rc = 0;
    if (c->index_broken) rc = odx_error(ODX_EINDEX, "collection '%s': index needs a rebuild first", c->name);
    else if (!c->dropped) rc = odx_index_save(c->idx, path, lsn, next_seq);
    /* Copy the live set for block reclamation outside the lock. */
    struct reclaim_ctx rc_ctx = {c, {0}, next_seq, 0};
    int have_live = !rc && odx_bitmap_resize(&rc_ctx.live, c->live.nbits ? c->live.nbits : 1) == 0;
    if (have_live) memcpy(rc_ctx.live.w, c->live.w, odx_bitmap_words(c->live.nbits) * 8);
    pthread_rwlock_unlock(&c->ilock);
    if (!rc) {
        c->ckpt_lsn = lsn;
        c->ckpt_time = odx_now_mono();
        /* The log before the checkpoint is no longer needed for recovery. */
        struct truncate_ctx t = {c, lsn};
        int trc = odx_write_txn(db, truncate_log, &t);
        if (trc) odx_log(ODX_LOG_WARN, "collection '%s': truncating the change log failed: %s", c->name, odx_last_error());
        if (have_live) {
            if (odx_write_txn(db, reclaim_blocks, &rc_ctx) == 0 && rc_ctx.freed)
                odx_log(ODX_LOG_DEBUG, "collection '%s': freed %llu dead vector blocks", c->name,
                        (unsigned long long)rc_ctx.freed);
        }
    }
    odx_bitmap_free(&rc_ctx.live);
    pthread_mutex_unlock(&c->mmu);
    return rc;
}

/* ---- background thread ---- */

static void maintain_all(odx_engine *db, int closing)
{
    pthread_rwlock_rdlock(&db->clock);
    size_t n = db->ncolls;
    odx_coll **cs = odx_malloc((n + 1) * sizeof *cs);
    for (size_t i = 0; cs && i < n; i++) {
        cs[i] = db->colls[i];
        atomic_fetch_add(&cs[i]->refs, 1);
    }
    pthread_rwlock_unlock(&db->clock);
    if (!cs) return;
    for (size_t i = 0; i < n; i++) {
        odx_coll *c = cs[i];
        char why[300];
        if (!c->dropped && odx_coll_needs_rebuild(c, why, sizeof why)) {
            if (odx_coll_rebuild(db, c, why))
                odx_log(ODX_LOG_ERROR, "collection '%s': rebuild failed: %s", c->name, odx_last_error());
        } else if (!c->dropped) {
            pthread_rwlock_rdlock(&c->ilock);
            uint64_t behind = c->indexed_lsn - c->ckpt_lsn;
            double age = odx_now_mono() - c->ckpt_time;
            pthread_rwlock_unlock(&c->ilock);
            if (behind > 0 && (closing || behind >= CKPT_CHANGES || age >= CKPT_INTERVAL_S)) {
                if (odx_coll_checkpoint(db, c))
                    odx_log(ODX_LOG_WARN, "collection '%s': checkpoint failed: %s", c->name, odx_last_error());
            }
        }
        odx_coll_release(c);
    }
    odx_free(cs);
}

static void *maint_main(void *arg)
{
    odx_engine *db = arg;
    pthread_mutex_lock(&db->bgmu);
    while (!db->bg_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&db->bgcv, &db->bgmu, &ts);
        if (db->bg_stop) break;
        pthread_mutex_unlock(&db->bgmu);
        maintain_all(db, 0);
        pthread_mutex_lock(&db->bgmu);
    }
    pthread_mutex_unlock(&db->bgmu);
    return NULL;
}

int odx_maint_start(odx_engine *db)
{
    if (db->readonly) return 0;
    if (pthread_create(&db->bg, NULL, maint_main, db)) return odx_error(ODX_EINTERNAL, "cannot start maintenance thread");
    db->bg_started = 1;
    return 0;
}

void odx_maint_stop(odx_engine *db)
{
    int was_open = db->bg_started || db->readonly;
    if (db->bg_started) {
        pthread_mutex_lock(&db->bgmu);
        db->bg_stop = 1;
        pthread_cond_broadcast(&db->bgcv);
        pthread_mutex_unlock(&db->bgmu);
        pthread_join(db->bg, NULL);
        db->bg_started = 0;
    }
    if (!db->readonly && was_open) maintain_all(db, 1);
}
