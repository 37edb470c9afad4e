/* The builder objects seen from a backend (omnidex_backend.h): read-only
 * views of what the caller built, and constructors for what a backend
 * returns. The layouts stay in query/engine.h. */
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "omnidex_backend.h"
#include "query/engine.h"

int odx_batch_item(const odx_batch *b, size_t i, odx_item_view *out)
{
    if (!b || !out || i >= b->n) return odx_error(ODX_EINVAL, "batch item %zu out of range", i);
    const struct odx_item *it = &b->items[i];
    out->id = it->id;
    out->modality = it->modality;
    out->vec = it->vec;
    out->dim = it->vec ? b->dim : 0;
    out->meta = it->meta;
    out->source = it->source;
    out->data = it->data;
    out->len = it->len;
    out->uri = it->uri;
    return 0;
}

size_t odx_query_count(const odx_query *q) { return q ? q->n : 0; }

int odx_query_part(const odx_query *q, size_t i, odx_query_part_view *out)
{
    if (!q || !out || i >= q->n) return odx_error(ODX_EINVAL, "query part %zu out of range", i);
    const struct odx_qpart *p = &q->parts[i];
    out->modality = p->modality;
    out->weight = p->weight;
    out->vec = p->vec;
    out->dim = p->dim;
    out->id = p->id;
    out->data = p->data;
    out->len = p->len;
    out->uri = p->uri;
    return 0;
}

void odx_search_params_view_of(const odx_search_params *p, odx_search_params_view *out)
{
    out->k = p->k;
    out->ef_search = p->ef;
    out->nprobe = p->nprobe;
    out->exact = p->exact;
    out->with_meta = p->with_meta;
    out->gpu = !p->no_gpu;
    out->modalities = p->modalities;
    out->filter = p->filter;
}

int odx_results_new(size_t nq, size_t k, odx_results **out) { return odx_results_alloc(nq, k, out); }

int odx_results_add(odx_results *r, size_t q, const char *id, float score, odx_modality m, odx_meta *meta)
{
    char *copy = id ? odx_strdup(id) : NULL;
    if (!copy) {
        odx_meta_free(meta);
        return odx_error(ODX_ENOMEM, "out of memory");
    }
    return odx_results_push(r, q, copy, score, m, meta);
}

int odx_record_new(const char *id, odx_modality m, odx_meta *meta, const float *vec, int dim, const char *source,
                   int64_t created, int64_t updated, odx_record **out)
{
    odx_record *r = odx_calloc(1, sizeof *r);
    if (!r || !(r->id = odx_strdup(id ? id : "")) || !(r->source = odx_strdup(source ? source : "")) ||
        (vec && dim > 0 && !(r->vec = odx_malloc((size_t)dim * sizeof *vec)))) {
        odx_meta_free(meta);
        odx_record_free(r);
        return odx_error(ODX_ENOMEM, "out of memory");
    }
    if (r->vec) {
        memcpy(r->vec, vec, (size_t)dim * sizeof *vec);
        r->dim = dim;
    }
    r->modality = m;
    r->meta = meta;
    r->created = created;
    r->updated = updated;
    *out = r;
    return 0;
}

int odx_collection_info_new(const odx_collection_fields *f, odx_collection_info **out)
{
    odx_collection_info *in = odx_calloc(1, sizeof *in);
    if (!in) return odx_error(ODX_ENOMEM, "out of memory");
    snprintf(in->name, sizeof in->name, "%s", f->name ? f->name : "");
    snprintf(in->d.spec, sizeof in->d.spec, "%s", f->index_spec ? f->index_spec : "");
    snprintf(in->d.space, sizeof in->d.space, "%s", f->space ? f->space : "");
    snprintf(in->index_type, sizeof in->index_type, "%s", f->index_type ? f->index_type : "");
    in->d.dim = f->dim;
    in->d.metric = f->metric;
    in->d.count = f->count;
    in->d.lsn = f->lsn;
    in->d.created = f->created;
    in->d.updated = f->updated;
    in->d.flags = f->gpu ? ODX_COLL_GPU : 0;
    in->gpu_serving = f->gpu > 1;
    in->ntotal = f->index_ntotal;
    in->tombstones = f->tombstones;
    in->ckpt_lsn = f->checkpoint_lsn;
    in->vector_bytes = f->vector_bytes;
    *out = in;
    return 0;
}
