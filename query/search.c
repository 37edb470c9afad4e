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
#include "common/util.h"
#include "query/engine.h"

#define EXACT_MAX_CANDIDATES 4096 /* always exact at or below this */
#define EXACT_FRACTION 0.02       /* ...or when the filter keeps <= 2% */


int odx_search_params_new(odx_search_params **out)
{
    odx_search_params *p = odx_calloc(1, sizeof *p);
    if (!p) return odx_error(ODX_ENOMEM, "out of memory");
    p->k = 10;
    *out = p;
    return 0;
}

void odx_search_params_free(odx_search_params *p) { odx_free(p); }

int odx_search_params_set_k(odx_search_params *p, int k)
{
    if (k < 1 || k > ODX_MAX_K) return odx_error(ODX_EINVAL, "k = %d out of range (1..%d)", k, ODX_MAX_K);
    p->k = k;
    return 0;
}

int odx_search_params_set_ef_search(odx_search_params *p, int ef)
{
    if (ef < 0 || ef > ODX_MAX_EF_SEARCH)
        return odx_error(ODX_EINVAL, "efSearch = %d out of range (0..%d)", ef, ODX_MAX_EF_SEARCH);
    p->ef = ef;
    return 0;
}

int odx_search_params_set_nprobe(odx_search_params *p, int nprobe)
{
    if (nprobe < 0 || nprobe > ODX_MAX_NPROBE)
        return odx_error(ODX_EINVAL, "nprobe = %d out of range (0..%d)", nprobe, ODX_MAX_NPROBE);
    p->nprobe = nprobe;
    return 0;
}

int odx_search_params_set_filter(odx_search_params *p, const odx_filter *f)
{
    p->filter = f;
    return 0;
}

int odx_search_params_set_modalities(odx_search_params *p, unsigned mask)
{
    if (mask >> ODX_MODALITY_COUNT) return odx_error(ODX_EINVAL, "modality mask 0x%x has unknown bits", mask);
    p->modalities = mask;
    return 0;
}

int odx_search_params_set_exact(odx_search_params *p, int exact)
{
    p->exact = exact != 0;
    return 0;
}

int odx_search_params_set_gpu(odx_search_params *p, int on)
{
    p->no_gpu = !on;
    return 0;
}

int odx_search_params_set_with_meta(odx_search_params *p, int on)
{
    p->with_meta = on != 0;
    return 0;
}

int odx_search_params_set(odx_search_params *p, const char *nv)
{
    const char *eq = nv ? strchr(nv, '=') : NULL;
    if (!eq) return odx_error(ODX_EINVAL, "parameter '%s' is not name=value", nv ? nv : "");
    char *end;
    errno = 0;
    long v = strtol(eq + 1, &end, 10);
    if (*end || end == eq + 1 || errno || v < INT32_MIN || v > INT32_MAX)
        return odx_error(ODX_EINVAL, "parameter '%s': value is not an integer", nv);
    size_t n = (size_t)(eq - nv);
    if (n == 8 && !strncasecmp(nv, "efSearch", n)) return odx_search_params_set_ef_search(p, (int)v);
    if ((n == 6 && !strncasecmp(nv, "nprobe", n))) return odx_search_params_set_nprobe(p, (int)v);
    if (n == 1 && nv[0] == 'k') return odx_search_params_set_k(p, (int)v);
    if (n == 5 && !strncasecmp(nv, "exact", n)) return odx_search_params_set_exact(p, (int)v);
    if (n == 3 && !strncasecmp(nv, "gpu", n)) return odx_search_params_set_gpu(p, (int)v);
    return odx_error(ODX_EINVAL, "unknown search parameter '%.*s' (efSearch, nprobe, k, exact, gpu)", (int)n, nv);
}

/* ---- results ---- */



void odx_results_free(odx_results *r)
{
    if (!r) return;
    for (size_t i = 0; r->hits && i < r->nq * r->k; i++) {
        odx_free(r->hits[i].id);
        odx_meta_free(r->hits[i].meta);
    }
    odx_free(r->hits);
    odx_free(r->count);
    odx_free(r);
}

int odx_results_alloc(size_t nq, size_t k, odx_results **out)
{
    odx_results *r = odx_calloc(1, sizeof *r);
    if (!r) return odx_error(ODX_ENOMEM, "out of memory");
    r->nq = nq;
    r->k = k;
    r->count = odx_calloc(nq ? nq : 1, sizeof *r->count);
    r->hits = odx_calloc(nq * k > 0 ? nq * k : 1, sizeof *r->hits);
    if (!r->count || !r->hits) { odx_results_free(r); return odx_error(ODX_ENOMEM, "out of memory"); }
    *out = r;
    return 0;
}

int odx_results_push(odx_results *r, size_t q, char *id, float score, odx_modality m, odx_meta *meta)
{
    if (q >= r->nq || r->count[q] >= r->k) {
        odx_free(id);
        odx_meta_free(meta);
        return odx_error(ODX_EINTERNAL, "result slot out of range");
    }
    struct odx_hit *h = &r->hits[q * r->k + r->count[q]++];
    h->id = id;
    h->score = score;
    h->modality = m;
    h->meta = meta;
    return 0;
}

size_t odx_results_nq(const odx_results *r) { return r->nq; }
size_t odx_results_count(const odx_results *r, size_t q) { return q < r->nq ? r->count[q] : 0; }
static const struct odx_hit *hit(const odx_results *r, size_t q, size_t i)
{
    return q < r->nq && i < r->count[q] ? &r->hits[q * r->k + i] : NULL;
}
const char *odx_results_id(const odx_results *r, size_t q, size_t i)
{
    const struct odx_hit *h = hit(r, q, i);
    return h ? h->id : NULL;
}
float odx_results_score(const odx_results *r, size_t q, size_t i)
{
    const struct odx_hit *h = hit(r, q, i);
    return h ? h->score : NAN;
}
odx_modality odx_results_modality(const odx_results *r, size_t q, size_t i)
{
    const struct odx_hit *h = hit(r, q, i);
    return h ? h->modality : ODX_MODALITY_VECTOR;
}
const odx_meta *odx_results_meta(const odx_results *r, size_t q, size_t i)
{
    const struct odx_hit *h = hit(r, q, i);
    return h ? h->meta : NULL;
}

/* ---- exact search over stored vectors ---- */

/* A bounded heap of the k best (score, seq); the root is the worst kept. */
struct topk {
    float *s;
    uint64_t *id;
    size_t n, k;
    int lower_better;
};

static int worse(const struct topk *t, float a, float b) { return t->lower_better ? a > b : a < b; }

static void topk_push(struct topk *t, float s, uint64_t id)
{
    if (t->n < t->k) {
        size_t i = t->n++;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!worse(t, s, t->s[p])) break;
            t->s[i] = t->s[p];
            t->id[i] = t->id[p];
            i = p;
        }
        t->s[i] = s;
        t->id[i] = id;
        return;
    }
    if (!worse(t, t->s[0], s)) return;
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        float ms = s;
        if (l < t->n && worse(t, t->s[l], ms)) { m = l; ms = t->s[l]; }
        if (r < t->n && worse(t, t->s[r], ms)) { m = r; }
        if (m == i) break;
        t->s[i] = t->s[m];
        t->id[i] = t->id[m];
        i = m;
    }
    t->s[i] = s;
    t->id[i] = id;
}

/* Pops into best-first order. */
static size_t topk_drain(struct topk *t, float *s, uint64_t *id)
{
    size_t n = t->n;
    for (size_t j = n; j-- > 0;) {
        s[j] = t->s[0];
        id[j] = t->id[0];
        t->n--;
        t->s[0] = t->s[t->n];
        t->id[0] = t->id[t->n];
        /* sift down */
        size_t i = 0;
        for (;;) {
            size_t l = 2 * i + 1, r = l + 1, m = i;
            if (l < t->n && worse(t, t->s[l], t->s[m])) m = l;
            if (r < t->n && worse(t, t->s[r], t->s[m])) m = r;
            if (m == i) break;
            float ts = t->s[i]; t->s[i] = t->s[m]; t->s[m] = ts;
            uint64_t ti = t->id[i]; t->id[i] = t->id[m]; t->id[m] = ti;
            i = m;
        }
    }
    return n;
}

struct exact_ctx {
    const odx_bitmap *cand;
    const float *q;
    size_t nq, dim;
    int l2;
    struct topk *tk;
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
            topk_push(&e->tk[qi], s, first + i);
        }
    }
    return 0;
}

static int exact_search(MDB_txn *txn, odx_coll *c, const odx_bitmap *cand, const float *q, size_t nq, int k,
                        float *dist, uint64_t *seqs)
{
    struct topk *tk = odx_calloc(nq, sizeof *tk);
    float *sb = odx_malloc(nq * (size_t)k * sizeof *sb);
    uint64_t *ib = odx_malloc(nq * (size_t)k * sizeof *ib);
    int rc = 0;
    if (!tk || !sb || !ib) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto out; }
    for (size_t i = 0; i < nq; i++) {
        tk[i].s = sb + i * k;
        tk[i].id = ib + i * k;
        tk[i].k = (size_t)k;
        tk[i].lower_better = c->desc.metric == ODX_METRIC_L2;
    }
    struct exact_ctx e = {cand, q, nq, (size_t)c->desc.dim, c->desc.metric == ODX_METRIC_L2, tk};
    if ((rc = odx_vstore_scan(txn, c->dbis.vec, c->desc.dim, c->per_block, exact_block, &e))) goto out;
    for (size_t i = 0; i < nq; i++) {
        size_t got = topk_drain(&tk[i], dist + i * k, seqs + i * k);
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
    odx_results *r = odx_calloc(1, sizeof *r);
    if (!r) return odx_error(ODX_ENOMEM, "out of memory");
    r->nq = nq;
    r->k = (size_t)k;
    r->count = odx_calloc(nq, sizeof *r->count);
    r->hits = odx_calloc(nq * (size_t)k, sizeof *r->hits);
    if (!r->count || !r->hits) { odx_results_free(r); return odx_error(ODX_ENOMEM, "out of memory"); }
    int rc = 0;
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
            struct odx_hit *h = &r->hits[q * k + r->count[q]];
            if (!(h->id = odx_strndup(id, idlen))) { rc = odx_error(ODX_ENOMEM, "out of memory"); break; }
            h->score = dist[q * k + i];
            h->modality = mod;
            if (with_meta) {
                odx_rec rec;
                rc = odx_rec_get(txn, c->dbis.items, id, idlen, &rec);
                if (rc == ODX_ENOTFOUND) { rc = 0; odx_free(h->id); h->id = NULL; continue; }
                if (rc) { odx_free(h->id); h->id = NULL; break; }
                size_t used;
                if ((rc = odx_meta_new(&h->meta)) || (rc = odx_meta_decode(rec.meta, rec.meta_len, &used, h->meta))) {
                    odx_free(h->id);
                    h->id = NULL;
                    odx_meta_free(h->meta);
                    h->meta = NULL;
                    break;
                }
            }
            r->count[q]++;
        }
    }
    if (rc) { odx_results_free(r); return rc; }
    *out = r;
    return 0;
}

static int search_locked(odx_db *db, odx_coll *c, const float *q, size_t nq, const odx_search_params *p,
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

/* Over the network each query vector is one Search call; the replies are
 * gathered into one result set. */
static int remote_search_vectors(odx_db *db, const char *collection, const float *queries, size_t nq, int dim,
                                 const odx_search_params *p, odx_results **out)
{
    if (!db->remote->search) return odx_remote_unsupported("search");
    odx_results *all;
    int rc = odx_results_alloc(nq, (size_t)p->k, &all);
    for (size_t i = 0; !rc && i < nq; i++) {
        odx_query *q;
        odx_results *one = NULL;
        if ((rc = odx_query_new(&q))) break;
        rc = odx_query_add_vector(q, queries + i * dim, dim, 1.0f);
        if (!rc) rc = db->remote->search(db->remote_ctx, collection, q, p, &one);
        odx_query_free(q);
        for (size_t j = 0; !rc && j < one->count[0]; j++) {
            struct odx_hit *h = &one->hits[j];
            rc = odx_results_push(all, i, h->id, h->score, h->modality, h->meta);
            h->id = NULL;
            h->meta = NULL;
        }
        odx_results_free(one);
    }
    if (rc) { odx_results_free(all); return rc; }
    *out = all;
    return 0;
}

int odx_search(odx_db *db, const char *collection, const float *queries, size_t nq, int dim,
               const odx_search_params *params, odx_results **out)
{
    if (nq && (dim < 1 || dim > ODX_MAX_DIM)) return odx_error(ODX_EDIM, "query vector of dimension %d", dim);
    if (!db || (!queries && nq)) return odx_error(ODX_EINVAL, "NULL argument");
    if (nq > ODX_MAX_QUERIES) return odx_error(ODX_ELIMIT, "%zu queries in one call (max %d)", nq, ODX_MAX_QUERIES);
    odx_search_params defaults = {.k = 10};
    const odx_search_params *p = params ? params : &defaults;
    if (db->remote) return remote_search_vectors(db, collection, queries, nq, dim, p, out);
    odx_coll *c;
    int rc = odx_coll_acquire(db, collection, &c);
    if (rc) return rc;
    float *q = NULL;
    odx_filter *mod = NULL, *combined = NULL;
    if (dim != c->desc.dim) {
        rc = odx_error(ODX_EDIM, "collection '%s' has dimension %d; the query has %d", c->name, c->desc.dim, dim);
        goto out;
    }
    for (size_t i = 0; i < nq * (size_t)dim; i++)
        if (!isfinite(queries[i])) {
            rc = odx_error(ODX_EVECTOR, "query %zu: component %zu is NaN or Inf", i / dim, i % dim);
            goto out;
        }
    if (!(q = odx_malloc(nq * (size_t)dim * sizeof *q + 1))) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto out; }
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
    odx_coll_release(c);
    return rc;
}

/* ---- multi-part queries ---- */



int odx_query_new(odx_query **out)
{
    odx_query *q = odx_calloc(1, sizeof *q);
    if (!q) return odx_error(ODX_ENOMEM, "out of memory");
    *out = q;
    return 0;
}

void odx_query_free(odx_query *q)
{
    if (!q) return;
    for (size_t i = 0; i < q->n; i++) {
        odx_free(q->parts[i].vec);
        odx_free(q->parts[i].id);
        odx_free(q->parts[i].data);
        odx_free(q->parts[i].uri);
    }
    odx_free(q->parts);
    odx_free(q);
}

static int part_new(odx_query *q, float weight, struct odx_qpart **out)
{
    if (!isfinite(weight)) return odx_error(ODX_EINVAL, "query part weight is NaN or Inf");
    if (q->n >= ODX_MAX_QUERY_PARTS)
        return odx_error(ODX_ELIMIT, "more than %d parts in one query", ODX_MAX_QUERY_PARTS);
    int rc = odx_grow(&q->parts, &q->cap, q->n + 1, sizeof *q->parts);
    if (rc) return rc;
    *out = &q->parts[q->n];
    memset(*out, 0, sizeof **out);
    (*out)->weight = weight;
    return 0;
}

int odx_query_add_vector(odx_query *q, const float *vec, int dim, float weight)
{
    if (!vec || dim < 1 || dim > ODX_MAX_DIM) return odx_error(ODX_EDIM, "query vector of dimension %d", dim);
    if (!odx_vec_finite(vec, (size_t)dim)) return odx_error(ODX_EVECTOR, "query vector holds NaN or Inf");
    struct odx_qpart *p;
    int rc = part_new(q, weight, &p);
    if (rc) return rc;
    if (!(p->vec = odx_malloc((size_t)dim * sizeof(float)))) return odx_error(ODX_ENOMEM, "out of memory");
    memcpy(p->vec, vec, (size_t)dim * sizeof(float));
    p->dim = dim;
    p->modality = ODX_MODALITY_VECTOR;
    q->n++;
    return 0;
}

int odx_query_add_item(odx_query *q, const char *id, float weight)
{
    if (!id || !*id || strlen(id) > ODX_MAX_ID_LEN) return odx_error(ODX_EINVAL, "query item id is empty or too long");
    struct odx_qpart *p;
    int rc = part_new(q, weight, &p);
    if (rc) return rc;
    if (!(p->id = odx_strdup(id))) return odx_error(ODX_ENOMEM, "out of memory");
    p->modality = ODX_MODALITY_VECTOR;
    q->n++;
    return 0;
}

int odx_query_add_payload(odx_query *q, odx_modality modality, const void *data, size_t len, const char *uri,
                          float weight)
{
    if (modality == ODX_MODALITY_VECTOR || (int)modality < 0 || (int)modality >= ODX_MODALITY_COUNT)
        return odx_error(ODX_EINVAL, "query payload needs a text or media modality");
    if (!data && !uri) return odx_error(ODX_EINVAL, "query payload has neither bytes nor a URI");
    struct odx_qpart *p;
    int rc = part_new(q, weight, &p);
    if (rc) return rc;
    p->modality = modality;
    if (data && !(p->data = odx_malloc(len + 1))) return odx_error(ODX_ENOMEM, "out of memory");
    if (data) memcpy(p->data, data, len);
    p->len = len;
    if (uri && !(p->uri = odx_strdup(uri))) { odx_free(p->data); return odx_error(ODX_ENOMEM, "out of memory"); }
    q->n++;
    return 0;
}

int odx_search_query(odx_db *db, const char *collection, const odx_query *q, const odx_search_params *params,
                     odx_results **out)
{
    if (!q || q->n == 0) return odx_error(ODX_EINVAL, "query has no parts");
    if (db->remote) {
        odx_search_params defaults = {.k = 10};
        return db->remote->search ? db->remote->search(db->remote_ctx, collection, q, params ? params : &defaults, out)
                                  : odx_remote_unsupported("search");
    }
    odx_coll *c;
    int rc = odx_coll_acquire(db, collection, &c);
    if (rc) return rc;
    int dim = c->desc.dim, cosine = c->desc.metric == ODX_METRIC_COSINE;
    char space[128];
    snprintf(space, sizeof space, "%s", c->desc.space);
    odx_coll_release(c);
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
            odx_record *r;
            if ((rc = odx_get(db, collection, p->id, &r))) goto out;
            memcpy(tmp, odx_record_vector(r, NULL), (size_t)dim * sizeof(float));
            odx_record_free(r);
        } else if ((rc = odx_engine_embed(db, collection, space, dim, p->modality, p->data, p->len, p->uri, tmp))) {
            odx_error_wrap(rc, "query part %zu", i);
            goto out;
        }
        if (cosine && odx_vec_normalize(tmp, (size_t)dim)) {
            rc = odx_error(ODX_EVECTOR, "query part %zu is a zero vector", i);
            goto out;
        }
        for (int j = 0; j < dim; j++) fused[j] += p->weight * tmp[j];
    }
    rc = odx_search(db, collection, fused, 1, dim, params, out);
out:
    odx_free(fused);
    odx_free(tmp);
    return rc;
}
