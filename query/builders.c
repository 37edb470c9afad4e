/* The caller's search objects: parameters, multi-part queries and results
 * (include/omnidex.h), shared by every backend through their accessors. */
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

