/* Search: validate and normalise queries, resolve the filter to a candidate
 * set from the field index, then answer exactly (brute force over the stored
 * vectors of the candidates) when the set is small or the caller asks, or by
 * ANN with a selector and a widened search otherwise; finally map seqs to
 * ids (and metadata) in one read transaction. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/limits.h"
#include "common/util.h"
#include "query/engine.h"
#include "query/topk.h"

#define EXACT_MAX_CANDIDATES 4096 /* always exact at or below this */
#define EXACT_FRACTION 0.02       /* ...or when the filter keeps <= 2% */


/* ---- exact search over stored vectors ---- */

struct exact_ctx {
    const odx_bitmap *cand;
    const float *q;
    size_t nq, dim;
    int l2;
    odx_topk *tk;
};

static int exact_block(void *ctx, uint64_t first, size_t n, const float *data)
{
    struct exact_ctx *e = ctx;
    size_t dim = e->dim;
    /* Skip blocks with no candidates quickly. */
    int any = 0;
    for (size_t i = 0; i < n && !any; i++) any = odx_bitmap_get(e->cand, first + i);
    if (!any) return 0;
#pragma omp parallel for if (e->nq >= 8) schedule(static)
    for (size_t qi = 0; qi < e->nq; qi++) {
        const float *q = e->q + qi * dim;
        for (size_t i = 0; i < n; i++) {
            if (!odx_bitmap_get(e->cand, first + i)) continue;
            const float *v = data + i * dim;
            float s = 0;
            if (e->l2) {
#pragma omp simd reduction(+ : s)
                for (size_t j = 0; j < dim; j++) { float d = q[j] - v[j]; s += d * d; }
            } else {
#pragma omp simd reduction(+ : s)
                for (size_t j = 0; j < dim; j++) s += q[j] * v[j];
            }
            odx_topk_push(&e->tk[qi], s, first + i);
        }
    }
    return 0;
}

static int exact_search(MDB_txn *txn, odx_coll *c, const odx_bitmap *cand, const float *q, size_t nq, int k,
                        float *dist, uint64_t *seqs)
{
    odx_topk *tk = odx_calloc(nq, sizeof *tk);
    float *sb = odx_malloc(nq * (size_t)k * sizeof *sb);
    uint64_t *ib = odx_malloc(nq * (size_t)k * sizeof *ib);
    int rc = 0;
    if (!tk || !sb || !ib) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto out; }
    for (size_t i = 0; i < nq; i++) odx_topk_init(&tk[i], sb + i * k, ib + i * k, (size_t)k, c->desc.metric == ODX_METRIC_L2);
    struct exact_ctx e = {cand, q, nq, (size_t)c->desc.dim, c->desc.metric == ODX_METRIC_L2, tk};
    if ((rc = odx_vstore_scan(txn, c->dbis.vec, c->desc.dim, c->per_block, exact_block, &e))) goto out;
    for (size_t i = 0; i < nq; i++) {
        size_t got = odx_topk_drain(&tk[i], dist + i * k, seqs + i * k);
        for (size_t j = got; j < (size_t)k; j++) seqs[i * k + j] = UINT64_MAX;
    }
out:
    odx_free(tk);
    odx_free(sb);
    odx_free(ib);
    return rc;
}

static int bitmap_member(void *ctx, uint64_t seq) { return odx_bitmap_get((const odx_bitmap *)ctx, seq); }

/* Fills results from seqs (UINT64_MAX = none) by reading ids and records. */
static int resolve(MDB_txn *txn, odx_coll *c, size_t nq, int k, const float *dist, const uint64_t *seqs,
                   int with_meta, odx_results **out)
{
    odx_results *r;
    int rc = odx_results_alloc(nq, (size_t)k, &r);
    if (rc) return rc;
    for (size_t q = 0; q < nq && !rc; q++) {
        for (size_t i = 0; i < (size_t)k && !rc; i++) {
            uint64_t s = seqs[q * k + i];
            if (s == UINT64_MAX) continue;
            const char *id;
            size_t idlen;
            odx_modality mod;
            rc = odx_seq_get(txn, c->dbis.seqs, s, &mod, &id, &idlen);
            if (rc == ODX_ENOTFOUND) { rc = 0; continue; } /* deleted since */
            if (rc) break;
            odx_meta *meta = NULL;
            if (with_meta) {
                odx_rec rec;
                rc = odx_rec_get(txn, c->dbis.items, id, idlen, &rec);
                if (rc == ODX_ENOTFOUND) { rc = 0; continue; }
                size_t used;
                if (rc || (rc = odx_meta_new(&meta)) || (rc = odx_meta_decode(rec.meta, rec.meta_len, &used, meta))) {
                    odx_meta_free(meta);
                    break;
                }
            }
            char *copy = odx_strndup(id, idlen);
            if (!copy) {
                odx_meta_free(meta);
                rc = odx_error(ODX_ENOMEM, "out of memory");
                break;
            }
            rc = odx_results_push(r, q, copy, dist[q * k + i], mod, meta);
        }
    }
    if (rc) { odx_results_free(r); return rc; }
    *out = r;
    return 0;
}

static int search_locked(odx_engine *db, odx_coll *c, const float *q, size_t nq, const odx_search_params *p,
                         const odx_filter *filter, odx_results **out)
{
    int k = p->k, rc;
    float *dist = odx_malloc(nq * (size_t)k * sizeof *dist);
    uint64_t *seqs = odx_malloc(nq * (size_t)k * sizeof *seqs);
    odx_bitmap cand = {0};
    MDB_txn *txn = NULL;
    if (!dist || !seqs) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto out; }
    if ((rc = odx_txn_begin(db->st, 0, &txn))) goto out;
    uint64_t nlive = c->desc.count;
    const odx_bitmap *members = &c->live;
    uint64_t ncand = nlive;
    if (filter) {
        if ((rc = odx_fields_eval(txn, c->dbis.fields, filter, &c->live, &cand))) goto out;
        members = &cand;
        ncand = odx_bitmap_count(&cand);
    }
    int exact = p->exact || !odx_index_is_trained(c->idx) ||
                (filter && (ncand <= EXACT_MAX_CANDIDATES || (double)ncand <= EXACT_FRACTION * (double)nlive));
    if (ncand == 0) {
        for (size_t i = 0; i < nq * (size_t)k; i++) seqs[i] = UINT64_MAX;
    } else if (c->gpu && !p->no_gpu && odx_coll_gpu_search(c, nq, q, k, p->nprobe, members, dist, seqs) == 0) {
        /* Answered exactly by the GPU mirror, filters and deletes included. */
    } else if (exact) {
        rc = exact_search(txn, c, members, q, nq, k, dist, seqs);
    } else {
        int ef = p->ef, nprobe = p->nprobe;
        if (filter && ncand < nlive) {
            /* Widen the search in proportion to what the filter removes. */
            double widen = (double)nlive / (double)ncand;
            if (widen > 16) widen = 16;
            int base_ef = ef > 0 ? ef : 64;
            ef = (int)(base_ef * widen);
            if (ef < 2 * k) ef = 2 * k;
            if (ef > 2048) ef = 2048;
            int base_np = nprobe > 0 ? nprobe : odx_index_default_nprobe(c->idx);
            if (base_np > 0) nprobe = (int)(base_np * widen);
        }
        uint64_t ntotal = odx_index_ntotal(c->idx);
        int need_sel = filter || ntotal != nlive;
        rc = odx_index_search(c->idx, nq, q, k, ef, nprobe, need_sel ? bitmap_member : NULL, (void *)members, dist,
                              seqs);
    }
    if (!rc) rc = resolve(txn, c, nq, k, dist, seqs, p->with_meta, out);
out:
    if (txn) odx_txn_abort(db->st, txn);
    odx_bitmap_free(&cand);
    odx_free(dist);
    odx_free(seqs);
    return rc;
}

/* The one search path: nq query vectors against an acquired collection.
 * Checks the dimension and finiteness, normalises for cosine, ANDs the
 * modality restriction into the filter, then searches under the index lock. */
static int search_coll(odx_engine *db, odx_coll *c, const float *queries, size_t nq, int dim,
                       const odx_search_params *p, odx_results **out)
{
    int rc = 0;
    float *q = NULL;
    odx_filter *mod = NULL, *combined = NULL;
    if (dim != c->desc.dim)
        return odx_error(ODX_EDIM, "collection '%s' has dimension %d; the query has %d", c->name, c->desc.dim, dim);
    for (size_t i = 0; i < nq * (size_t)dim; i++)
        if (!isfinite(queries[i]))
            return odx_error(ODX_EVECTOR, "query %zu: component %zu is NaN or Inf", i / dim, i % dim);
    if (!(q = odx_malloc(nq * (size_t)dim * sizeof *q + 1))) return odx_error(ODX_ENOMEM, "out of memory");
    memcpy(q, queries, nq * (size_t)dim * sizeof *q);
    if (c->desc.metric == ODX_METRIC_COSINE)
        for (size_t i = 0; i < nq; i++)
            if ((rc = odx_vec_normalize(q + i * dim, (size_t)dim))) {
                rc = odx_error(ODX_EVECTOR, "query %zu is a zero vector (cosine needs a direction)", i);
                goto out;
            }
    const odx_filter *filter = p->filter;
    if (p->modalities) {
        if ((rc = odx_filter_modalities(p->modalities, &mod))) goto out;
        filter = mod;
        if (p->filter) {
            /* AND the caller's filter (borrowed) with the modality set. */
            combined = odx_calloc(1, sizeof *combined);
            if (!combined) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto out; }
            combined->kind = ODX_FK_AND;
            combined->a = (odx_filter *)p->filter;
            combined->b = mod;
            filter = combined;
        }
    }
    pthread_rwlock_rdlock(&c->ilock);
    rc = search_locked(db, c, q, nq, p, filter, out);
    pthread_rwlock_unlock(&c->ilock);
out:
    if (combined) odx_free(combined); /* its children are freed separately */
    odx_filter_free(mod);
    odx_free(q);
    return rc;
}

static const odx_search_params default_params = {.k = 10};

int odx_engine_search(odx_engine *db, const char *collection, const float *queries, size_t nq, int dim,
                      const odx_search_params *params, odx_results **out)
{
    if (nq && (dim < 1 || dim > ODX_MAX_DIM)) return odx_error(ODX_EDIM, "query vector of dimension %d", dim);
    if (!db || (!queries && nq)) return odx_error(ODX_EINVAL, "NULL argument");
    if (nq > ODX_MAX_QUERIES) return odx_error(ODX_ELIMIT, "%zu queries in one call (max %d)", nq, ODX_MAX_QUERIES);
    odx_coll *c;
    int rc = odx_coll_acquire(db, collection, &c);
    if (rc) return rc;
    rc = search_coll(db, c, queries, nq, dim, params ? params : &default_params, out);
    odx_coll_release(c);
    return rc;
}

/* ---- multi-part queries ---- */

/* The stored vector of item id of c into out (dim floats). */
static int item_vector(odx_engine *db, odx_coll *c, const char *id, float *out)
{
    if (!id || !*id || strlen(id) > ODX_MAX_ID_LEN) return odx_error(ODX_EINVAL, "query item id is empty or too long");
    MDB_txn *txn;
    int rc = odx_txn_begin(db->st, 0, &txn);
    if (rc) return rc;
    odx_rec rec;
    const float *v;
    rc = odx_rec_get(txn, c->dbis.items, id, strlen(id), &rec);
    if (rc == ODX_ENOTFOUND) rc = odx_error(ODX_ENOTFOUND, "no item '%.256s' in collection '%s'", id, c->name);
    if (!rc && (rc = odx_vstore_get(txn, c->dbis.vec, c->desc.dim, c->per_block, rec.seq, &v)) == ODX_ENOTFOUND)
        rc = odx_error(ODX_ECORRUPT, "item '%s' has no stored vector", id);
    if (!rc) memcpy(out, v, (size_t)c->desc.dim * sizeof *out);
    odx_txn_abort(db->st, txn);
    return rc;
}

/* Parts are embedded (or read) into the collection's space, weighted,
 * summed; the fused vector goes down the one search path. */
int odx_engine_search_query(odx_engine *db, const char *collection, const odx_query *q,
                            const odx_search_params *params, odx_results **out)
{
    if (!q || q->n == 0) return odx_error(ODX_EINVAL, "query has no parts");
    odx_coll *c;
    int rc = odx_coll_acquire(db, collection, &c);
    if (rc) return rc;
    int dim = c->desc.dim, cosine = c->desc.metric == ODX_METRIC_COSINE;
    float *fused = odx_calloc((size_t)dim, sizeof(float));
    float *tmp = odx_malloc((size_t)dim * sizeof(float));
    if (!fused || !tmp) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto out; }
    for (size_t i = 0; i < q->n; i++) {
        const struct odx_qpart *p = &q->parts[i];
        if (p->vec) {
            if (p->dim != dim) {
                rc = odx_error(ODX_EDIM, "query part %zu has dimension %d; collection '%s' has %d", i, p->dim, collection, dim);
                goto out;
            }
            memcpy(tmp, p->vec, (size_t)dim * sizeof(float));
        } else if (p->id) {
            if ((rc = item_vector(db, c, p->id, tmp))) goto out;
        } else if ((rc = odx_engine_embed(db, collection, c->desc.space, dim, p->modality, p->data, p->len, p->uri, tmp))) {
            odx_error_wrap(rc, "query part %zu", i);
            goto out;
        }
        if (cosine && odx_vec_normalize(tmp, (size_t)dim)) {
            rc = odx_error(ODX_EVECTOR, "query part %zu is a zero vector", i);
            goto out;
        }
        for (int j = 0; j < dim; j++) fused[j] += p->weight * tmp[j];
    }
    rc = search_coll(db, c, fused, 1, dim, params ? params : &default_params, out);
out:
    odx_free(fused);
    odx_free(tmp);
    odx_coll_release(c);
    return rc;
}
