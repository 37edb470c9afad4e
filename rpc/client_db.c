/* The client-backed database handle (omnidex_rpc.h: odx_rpc_db_open): an
 * odx_db whose every call is one request to an omnidex server over the gRPC
 * API (rpc/client.h), so a program, or `omnidex --server HOST:PORT ...`,
 * runs unchanged and sees the server's answers and messages as it would see
 * the engine's. It reads the caller's objects through omnidex_backend.h's
 * views and converts both ways with rpc/convert.c, as the server does; the
 * request messages are built in call memory, one arena per call. */
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "omnidex_backend.h"
#include "omnidex_rpc.h"
#include "rpc/call_mem.h"
#include "rpc/client.h"
#include "rpc/convert.h"

/* Only the call-memory part of a call: rpc_alloc and friends need no more. */
struct rpc_call {
    struct rpc_call_base base;
};

static int oom(void) { return odx_error(ODX_ENOMEM, "out of memory"); }

static void c_close(void *ctx) { odx_rpc_client_close(ctx); }

static int c_set_option(void *ctx, const char *name, const char *value)
{
    (void)ctx;
    (void)value;
    return odx_error(ODX_EUNSUPPORTED, "option %.64s is set on the server, not through a client", name);
}

static int c_create(void *ctx, const char *name, int dim, odx_metric metric, const char *spec, const char *space)
{
    Omnidex__V1__CreateCollectionRequest req = OMNIDEX__V1__CREATE_COLLECTION_REQUEST__INIT;
    req.name = (char *)name;
    req.dim = dim > 0 ? (uint32_t)dim : 0;
    req.metric = rpc_metric_to_proto(metric);
    req.index_spec = (char *)(spec ? spec : "");
    req.space = (char *)(space ? space : "");
    Omnidex__V1__CreateCollectionResponse *resp;
    int rc = odx_rpc_create_collection(ctx, &req, &resp);
    if (!rc) odx_rpc_free(&resp->base);
    return rc;
}

static int c_drop(void *ctx, const char *name)
{
    Omnidex__V1__DropCollectionRequest req = OMNIDEX__V1__DROP_COLLECTION_REQUEST__INIT;
    req.name = (char *)name;
    Omnidex__V1__DropCollectionResponse *resp;
    int rc = odx_rpc_drop_collection(ctx, &req, &resp);
    if (!rc) odx_rpc_free(&resp->base);
    return rc;
}

/* n strings -> one allocation holding the array and the strings (the
 * convention of odx_collection_list). */
static int name_array(char *const *src, size_t n, size_t stride, char ***names, size_t *count)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) bytes += strlen(*(char *const *)((const char *)src + i * stride)) + 1;
    char **out = odx_malloc((n + 1) * sizeof *out + bytes);
    if (!out) return oom();
    char *p = (char *)(out + n + 1);
    for (size_t i = 0; i < n; i++) {
        const char *s = *(char *const *)((const char *)src + i * stride);
        size_t l = strlen(s) + 1;
        memcpy(p, s, l);
        out[i] = p;
        p += l;
    }
    out[n] = NULL;
    *names = out;
    *count = n;
    return 0;
}

static int c_list(void *ctx, char ***names, size_t *count)
{
    Omnidex__V1__ListCollectionsRequest req = OMNIDEX__V1__LIST_COLLECTIONS_REQUEST__INIT;
    Omnidex__V1__ListCollectionsResponse *resp;
    int rc = odx_rpc_list_collections(ctx, &req, &resp);
    if (rc) return rc;
    rc = name_array(resp->names, resp->n_names, sizeof *resp->names, names, count);
    odx_rpc_free(&resp->base);
    return rc;
}

static int c_describe(void *ctx, const char *name, odx_collection_info **out)
{
    Omnidex__V1__DescribeCollectionRequest req = OMNIDEX__V1__DESCRIBE_COLLECTION_REQUEST__INIT;
    req.name = (char *)name;
    Omnidex__V1__DescribeCollectionResponse *resp;
    int rc = odx_rpc_describe_collection(ctx, &req, &resp);
    if (rc) return rc;
    rc = resp->collection ? rpc_info_from_proto(resp->collection, out) : odx_error(ODX_EINTERNAL, "server sent no collection");
    odx_rpc_free(&resp->base);
    return rc;
}

static int maintain(void *ctx, const char *name, Omnidex__V1__Maintenance op)
{
    Omnidex__V1__MaintainCollectionRequest req = OMNIDEX__V1__MAINTAIN_COLLECTION_REQUEST__INIT;
    req.name = (char *)name;
    req.operation = op;
    Omnidex__V1__MaintainCollectionResponse *resp;
    int rc = odx_rpc_maintain_collection(ctx, &req, &resp);
    if (!rc) odx_rpc_free(&resp->base);
    return rc;
}

static int c_checkpoint(void *ctx, const char *name)
{
    return maintain(ctx, name, OMNIDEX__V1__MAINTENANCE__MAINTENANCE_CHECKPOINT);
}

static int c_compact(void *ctx, const char *name) { return maintain(ctx, name, OMNIDEX__V1__MAINTENANCE__MAINTENANCE_COMPACT); }

/* Text or media bytes (or a URI) as the wire's Media or text, in call memory. */
static int payload_to_proto(rpc_call *m, odx_modality mod, const void *data, size_t len, const char *uri, char **text,
                            Omnidex__V1__Media **media)
{
    *text = NULL;
    *media = NULL;
    if (mod == ODX_MODALITY_TEXT && data) {
        /* The wire's text is a C string: copy the bytes and end them. */
        return (*text = rpc_strndup(m, data, len)) ? 0 : oom();
    }
    Omnidex__V1__Media *md = rpc_alloc(m, sizeof *md);
    if (!md) return oom();
    omnidex__v1__media__init(md);
    md->modality = rpc_modality_to_proto(mod);
    if (data) {
        md->source_case = OMNIDEX__V1__MEDIA__SOURCE_DATA;
        md->data.data = (uint8_t *)data;
        md->data.len = len;
    } else {
        md->source_case = OMNIDEX__V1__MEDIA__SOURCE_URI;
        md->uri = (char *)(uri ? uri : "");
    }
    *media = md;
    return 0;
}

static int item_to_proto(rpc_call *m, const odx_item_view *v, Omnidex__V1__Item *it)
{
    omnidex__v1__item__init(it);
    it->id = (char *)v->id;
    it->modality = rpc_modality_to_proto(v->modality);
    /* A payload sent as bytes keeps its URI (e.g. the file's path) as the source. */
    it->source = (char *)(v->source ? v->source : v->data && v->uri ? v->uri : "");
    int rc = rpc_meta_to_proto(m, v->meta, &omnidex__v1__item__metadata_entry__descriptor, &it->metadata,
                               &it->n_metadata);
    if (rc) return rc;
    if (v->vec) {
        Omnidex__V1__Vector *vec = rpc_alloc(m, sizeof *vec);
        if (!vec) return oom();
        omnidex__v1__vector__init(vec);
        vec->n_values = (size_t)v->dim;
        vec->values = (float *)v->vec;
        it->payload_case = OMNIDEX__V1__ITEM__PAYLOAD_VECTOR;
        it->vector = vec;
        return 0;
    }
    char *text;
    Omnidex__V1__Media *media;
    if ((rc = payload_to_proto(m, v->modality, v->data, v->len, v->uri, &text, &media))) return rc;
    if (text) {
        it->payload_case = OMNIDEX__V1__ITEM__PAYLOAD_TEXT;
        it->text = text;
    } else {
        it->payload_case = OMNIDEX__V1__ITEM__PAYLOAD_MEDIA;
        it->media = media;
    }
    return 0;
}

static int c_upsert(void *ctx, const char *coll, const odx_batch *b)
{
    rpc_call m = {{0}};
    size_t n = odx_batch_size(b);
    Omnidex__V1__Item *items = rpc_alloc(&m, (n ? n : 1) * sizeof *items);
    Omnidex__V1__Item **ptrs = rpc_alloc(&m, (n ? n : 1) * sizeof *ptrs);
    int rc = items && ptrs ? 0 : oom();
    for (size_t i = 0; !rc && i < n; i++) {
        odx_item_view v;
        if (!(rc = odx_batch_item(b, i, &v))) rc = item_to_proto(&m, &v, &items[i]);
        ptrs[i] = &items[i];
    }
    if (!rc) {
        Omnidex__V1__UpsertRequest req = OMNIDEX__V1__UPSERT_REQUEST__INIT;
        req.collection = (char *)coll;
        req.n_items = n;
        req.items = ptrs;
        Omnidex__V1__UpsertResponse *resp;
        if (!(rc = odx_rpc_upsert(ctx, &req, &resp))) odx_rpc_free(&resp->base);
    }
    rpc_call_base_reset(&m.base);
    return rc;
}

static int c_remove(void *ctx, const char *coll, const char *const *ids, size_t n, size_t *deleted)
{
    Omnidex__V1__DeleteRequest req = OMNIDEX__V1__DELETE_REQUEST__INIT;
    req.collection = (char *)coll;
    req.n_ids = n;
    req.ids = (char **)ids;
    Omnidex__V1__DeleteResponse *resp;
    int rc = odx_rpc_delete(ctx, &req, &resp);
    if (rc) return rc;
    if (deleted) *deleted = (size_t)resp->deleted;
    odx_rpc_free(&resp->base);
    return 0;
}

static int c_get(void *ctx, const char *coll, const char *id, odx_record **out)
{
    Omnidex__V1__GetRequest req = OMNIDEX__V1__GET_REQUEST__INIT;
    req.collection = (char *)coll;
    req.id = (char *)id;
    Omnidex__V1__GetResponse *resp;
    int rc = odx_rpc_get(ctx, &req, &resp);
    if (rc) return rc;
    const Omnidex__V1__Item *it = resp->item;
    odx_meta *meta = NULL;
    odx_modality mod = ODX_MODALITY_VECTOR;
    if (!it) rc = odx_error(ODX_EINTERNAL, "server sent no item");
    else if (it->modality != OMNIDEX__V1__MODALITY__MODALITY_UNSPECIFIED) rc = rpc_modality_from_proto(it->modality, &mod);
    if (!rc) rc = rpc_meta_from_proto(it->metadata, it->n_metadata, &meta);
    if (!rc) {
        const Omnidex__V1__Vector *v = it->payload_case == OMNIDEX__V1__ITEM__PAYLOAD_VECTOR ? it->vector : NULL;
        rc = odx_record_new(it->id, mod, meta, v ? v->values : NULL, v ? (int)v->n_values : 0, it->source,
                            resp->created_unix, resp->updated_unix, out);
    }
    odx_rpc_free(&resp->base);
    return rc;
}

/* k, filter (in the filter language: the server parses it), modalities and
 * params of a SearchRequest, in call memory. */
static int params_to_proto(rpc_call *m, const odx_search_params *p, Omnidex__V1__SearchRequest *req)
{
    odx_search_params_view v;
    odx_search_params_view_of(p, &v);
    req->k = (uint32_t)v.k;
    req->with_metadata = v.with_meta != 0;
    Omnidex__V1__SearchParams *sp = rpc_alloc(m, sizeof *sp);
    Omnidex__V1__Modality *mods = rpc_alloc(m, ODX_MODALITY_COUNT * sizeof *mods);
    if (!sp || !mods) return oom();
    omnidex__v1__search_params__init(sp);
    sp->ef_search = (uint32_t)v.ef_search;
    sp->nprobe = (uint32_t)v.nprobe;
    sp->exact = v.exact != 0;
    req->params = sp;
    for (int b = 0; b < ODX_MODALITY_COUNT; b++)
        if (v.modalities & (1u << b)) mods[req->n_modalities++] = rpc_modality_to_proto((odx_modality)b);
    req->modalities = mods;
    if (v.filter) {
        char *expr;
        int rc = odx_filter_to_string(v.filter, &expr);
        if (rc) return rc;
        Omnidex__V1__Filter *f = rpc_alloc(m, sizeof *f);
        char *copy = f ? rpc_strndup(m, expr, strlen(expr)) : NULL;
        odx_free(expr);
        if (!copy) return oom();
        omnidex__v1__filter__init(f);
        f->kind_case = OMNIDEX__V1__FILTER__KIND_EXPR;
        f->expr = copy;
        req->filter = f;
    }
    return 0;
}

/* Hits of one list into query q of r. */
static int hits_from_proto(Omnidex__V1__Hit **hits, size_t n, int with_meta, odx_results *r, size_t q)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        const Omnidex__V1__Hit *h = hits[i];
        odx_meta *meta = NULL;
        odx_modality mod = ODX_MODALITY_VECTOR;
        if (h->modality != OMNIDEX__V1__MODALITY__MODALITY_UNSPECIFIED && (rc = rpc_modality_from_proto(h->modality, &mod)))
            break;
        if (with_meta &&
            (rc = rpc_meta_from_proto((Omnidex__V1__Item__MetadataEntry **)h->metadata, h->n_metadata, &meta)))
            break;
        rc = odx_results_add(r, q, h->id, h->score, mod, meta);
    }
    return rc;
}

/* A batch of vectors is one Search call (SearchRequest.batch). */
static int c_search(void *ctx, const char *coll, const float *queries, size_t nq, int dim, const odx_search_params *p,
                    odx_results **out)
{
    if (nq == 0) return odx_results_new(0, 1, out);
    if (dim < 1) return odx_error(ODX_EDIM, "query dimension %d", dim);
    rpc_call m = {{0}};
    Omnidex__V1__SearchRequest req = OMNIDEX__V1__SEARCH_REQUEST__INIT;
    req.collection = (char *)coll;
    Omnidex__V1__Vector *vecs = rpc_alloc(&m, nq * sizeof *vecs);
    Omnidex__V1__Vector **vp = rpc_alloc(&m, nq * sizeof *vp);
    int rc = vecs && vp ? params_to_proto(&m, p, &req) : oom();
    for (size_t i = 0; !rc && i < nq; i++) {
        omnidex__v1__vector__init(&vecs[i]);
        vecs[i].n_values = (size_t)dim;
        vecs[i].values = (float *)(queries + i * (size_t)dim);
        vp[i] = &vecs[i];
    }
    req.n_batch = nq;
    req.batch = vp;
    Omnidex__V1__SearchResponse *resp = NULL;
    odx_results *r = NULL;
    if (!rc) rc = odx_rpc_search(ctx, &req, &resp);
    if (!rc && resp->n_batch != nq) rc = odx_error(ODX_EINTERNAL, "server answered %zu lists for %zu queries", resp->n_batch, nq);
    if (!rc) rc = odx_results_new(nq, (size_t)(req.k ? req.k : 10), &r);
    for (size_t q = 0; !rc && q < nq; q++)
        rc = hits_from_proto(resp->batch[q]->hits, resp->batch[q]->n_hits, req.with_metadata, r, q);
    if (resp) odx_rpc_free(&resp->base);
    rpc_call_base_reset(&m.base);
    if (rc) { odx_results_free(r); return rc; }
    *out = r;
    return 0;
}

static int c_search_query(void *ctx, const char *coll, const odx_query *q, const odx_search_params *p,
                          odx_results **out)
{
    rpc_call m = {{0}};
    size_t n = odx_query_count(q);
    if (n == 0) return odx_error(ODX_EINVAL, "query has no parts");
    Omnidex__V1__SearchRequest req = OMNIDEX__V1__SEARCH_REQUEST__INIT;
    req.collection = (char *)coll;
    Omnidex__V1__QueryPart *parts = rpc_alloc(&m, n * sizeof *parts);
    Omnidex__V1__QueryPart **pp = rpc_alloc(&m, n * sizeof *pp);
    int rc = parts && pp ? params_to_proto(&m, p, &req) : oom();
    for (size_t i = 0; !rc && i < n; i++) {
        odx_query_part_view v;
        if ((rc = odx_query_part(q, i, &v))) break;
        omnidex__v1__query_part__init(&parts[i]);
        parts[i].weight = v.weight;
        pp[i] = &parts[i];
        if (v.vec) {
            Omnidex__V1__Vector *vec = rpc_alloc(&m, sizeof *vec);
            if (!vec) { rc = oom(); break; }
            omnidex__v1__vector__init(vec);
            vec->n_values = (size_t)v.dim;
            vec->values = (float *)v.vec;
            parts[i].part_case = OMNIDEX__V1__QUERY_PART__PART_VECTOR;
            parts[i].vector = vec;
        } else if (v.id) {
            parts[i].part_case = OMNIDEX__V1__QUERY_PART__PART_ITEM_ID;
            parts[i].item_id = (char *)v.id;
        } else {
            char *text;
            Omnidex__V1__Media *media;
            if ((rc = payload_to_proto(&m, v.modality, v.data, v.len, v.uri, &text, &media))) break;
            if (text) {
                parts[i].part_case = OMNIDEX__V1__QUERY_PART__PART_TEXT;
                parts[i].text = text;
            } else {
                parts[i].part_case = OMNIDEX__V1__QUERY_PART__PART_MEDIA;
                parts[i].media = media;
            }
        }
    }
    req.n_parts = n;
    req.parts = pp;
    Omnidex__V1__SearchResponse *resp = NULL;
    odx_results *r = NULL;
    if (!rc) rc = odx_rpc_search(ctx, &req, &resp);
    if (!rc) rc = odx_results_new(1, resp->n_hits > req.k ? resp->n_hits : (req.k ? req.k : 10), &r);
    if (!rc) rc = hits_from_proto(resp->hits, resp->n_hits, req.with_metadata, r, 0);
    if (resp) odx_rpc_free(&resp->base);
    rpc_call_base_reset(&m.base);
    if (rc) { odx_results_free(r); return rc; }
    *out = r;
    return 0;
}

static int c_embed(void *ctx, const char *space, odx_modality mod, const void *data, size_t len, const char *uri,
                   float **vec, int *dim)
{
    rpc_call m = {{0}};
    Omnidex__V1__EmbedRequest req = OMNIDEX__V1__EMBED_REQUEST__INIT;
    req.space = (char *)space;
    char *text;
    Omnidex__V1__Media *media;
    int rc = payload_to_proto(&m, mod, data, len, uri, &text, &media);
    if (!rc && text) {
        req.input_case = OMNIDEX__V1__EMBED_REQUEST__INPUT_TEXT;
        req.text = text;
    } else if (!rc) {
        req.input_case = OMNIDEX__V1__EMBED_REQUEST__INPUT_MEDIA;
        req.media = media;
    }
    Omnidex__V1__EmbedResponse *resp = NULL;
    if (!rc) rc = odx_rpc_embed(ctx, &req, &resp);
    rpc_call_base_reset(&m.base);
    if (rc) return rc;
    size_t n = resp->vector ? resp->vector->n_values : 0;
    float *v = NULL;
    if (n == 0 || n > ODX_MAX_DIM) rc = odx_error(ODX_EINTERNAL, "server sent no vector");
    else if (!(v = odx_malloc(n * sizeof *v))) rc = oom();
    else memcpy(v, resp->vector->values, n * sizeof *v);
    odx_rpc_free(&resp->base);
    if (rc) return rc;
    *vec = v;
    *dim = (int)n;
    return 0;
}

static int list_models(void *ctx, Omnidex__V1__ListModelsResponse **resp)
{
    Omnidex__V1__ListModelsRequest req = OMNIDEX__V1__LIST_MODELS_REQUEST__INIT;
    return odx_rpc_list_models(ctx, &req, resp);
}

static int c_space_list(void *ctx, char ***names, size_t *count)
{
    Omnidex__V1__ListModelsResponse *resp;
    int rc = list_models(ctx, &resp);
    if (rc) return rc;
    char **tmp = odx_malloc((resp->n_models ? resp->n_models : 1) * sizeof *tmp);
    if (!tmp) rc = oom();
    for (size_t i = 0; !rc && i < resp->n_models; i++) tmp[i] = resp->models[i]->space;
    if (!rc) rc = name_array(tmp, resp->n_models, sizeof *tmp, names, count);
    odx_free(tmp);
    odx_rpc_free(&resp->base);
    return rc;
}

static int c_space_info(void *ctx, const char *space, int *dim, unsigned *modalities)
{
    Omnidex__V1__ListModelsResponse *resp;
    int rc = list_models(ctx, &resp);
    if (rc) return rc;
    rc = odx_error(ODX_EPRECOND, "space '%s' is not installed on the server", space);
    for (size_t i = 0; i < resp->n_models; i++) {
        const Omnidex__V1__Model *md = resp->models[i];
        if (strcmp(md->space, space)) continue;
        if (!md->dim) { rc = odx_error(ODX_EPRECOND, "space '%s' does not open on the server", space); break; }
        unsigned mask = 0;
        for (size_t k = 0; k < md->n_modalities; k++) {
            odx_modality mod;
            if (rpc_modality_from_proto(md->modalities[k], &mod) == 0) mask |= 1u << mod;
        }
        if (dim) *dim = (int)md->dim;
        if (modalities) *modalities = mask;
        rc = 0;
        break;
    }
    odx_rpc_free(&resp->base);
    return rc;
}

static const odx_backend_ops client_ops = {
    .name = "gRPC client",
    .close = c_close,
    .set_option = c_set_option,
    .collection_create = c_create,
    .collection_drop = c_drop,
    .collection_list = c_list,
    .collection_describe = c_describe,
    .collection_checkpoint = c_checkpoint,
    .collection_compact = c_compact,
    .upsert = c_upsert,
    .remove = c_remove,
    .get = c_get,
    .search = c_search,
    .search_query = c_search_query,
    .embed = c_embed,
    .space_list = c_space_list,
    .space_info = c_space_info,
};

int odx_rpc_db_open(const char *target, const odx_rpc_client_options *o, odx_db **out)
{
    odx_rpc_client *cl;
    int rc = odx_rpc_client_open(target, o, &cl);
    if (rc) return rc;
    if ((rc = odx_db_open_backend(&client_ops, cl, out))) odx_rpc_client_close(cl);
    return rc;
}
