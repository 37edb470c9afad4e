/* Client mode (`omnidex --server HOST:PORT ...`): a database handle whose
 * every call goes over the gRPC API (rpc/client.h), so each CLI command runs
 * unchanged and prints the same output as on a local data directory. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/alloc.h"
#include "common/error.h"
#include "common/meta.h"
#include "query/engine.h"
#include "rpc/client.h"

static Omnidex__V1__Modality to_pb_mod(odx_modality m) { return (Omnidex__V1__Modality)(m + 1); }
static odx_modality from_pb_mod(Omnidex__V1__Modality m)
{
    return m >= 1 && m <= ODX_MODALITY_COUNT ? (odx_modality)(m - 1) : ODX_MODALITY_VECTOR;
}

static void r_close(void *ctx) { odx_rpc_client_close(ctx); }

static int r_create(void *ctx, const char *name, int dim, odx_metric metric, const char *spec, const char *space)
{
    Omnidex__V1__CreateCollectionRequest req = OMNIDEX__V1__CREATE_COLLECTION_REQUEST__INIT;
    req.name = (char *)name;
    req.dim = (uint32_t)dim;
    req.metric = (Omnidex__V1__Metric)(metric + 1);
    req.index_spec = (char *)(spec ? spec : "");
    req.space = (char *)(space ? space : "");
    Omnidex__V1__CreateCollectionResponse *resp;
    int rc = odx_rpc_create_collection(ctx, &req, &resp);
    if (!rc) odx_rpc_free(&resp->base);
    return rc;
}

static int r_drop(void *ctx, const char *name)
{
    Omnidex__V1__DropCollectionRequest req = OMNIDEX__V1__DROP_COLLECTION_REQUEST__INIT;
    req.name = (char *)name;
    Omnidex__V1__DropCollectionResponse *resp;
    int rc = odx_rpc_drop_collection(ctx, &req, &resp);
    if (!rc) odx_rpc_free(&resp->base);
    return rc;
}

static int r_list(void *ctx, char ***names, size_t *count)
{
    Omnidex__V1__ListCollectionsRequest req = OMNIDEX__V1__LIST_COLLECTIONS_REQUEST__INIT;
    Omnidex__V1__ListCollectionsResponse *resp;
    int rc = odx_rpc_list_collections(ctx, &req, &resp);
    if (rc) return rc;
    size_t bytes = 0;
    for (size_t i = 0; i < resp->n_names; i++) bytes += strlen(resp->names[i]) + 1;
    char **out = odx_malloc((resp->n_names + 1) * sizeof *out + bytes);
    if (!out) { odx_rpc_free(&resp->base); return odx_error(ODX_ENOMEM, "out of memory"); }
    char *p = (char *)(out + resp->n_names + 1);
    for (size_t i = 0; i < resp->n_names; i++) {
        size_t l = strlen(resp->names[i]) + 1;
        memcpy(p, resp->names[i], l);
        out[i] = p;
        p += l;
    }
    out[resp->n_names] = NULL;
    *names = out;
    *count = resp->n_names;
    odx_rpc_free(&resp->base);
    return 0;
}

static int r_describe(void *ctx, const char *name, odx_collection_info **out)
{
    Omnidex__V1__DescribeCollectionRequest req = OMNIDEX__V1__DESCRIBE_COLLECTION_REQUEST__INIT;
    req.name = (char *)name;
    Omnidex__V1__DescribeCollectionResponse *resp;
    int rc = odx_rpc_describe_collection(ctx, &req, &resp);
    if (rc) return rc;
    const Omnidex__V1__CollectionInfo *c = resp->collection;
    odx_collection_info *in = odx_calloc(1, sizeof *in);
    if (!in || !c) {
        odx_free(in);
        odx_rpc_free(&resp->base);
        return in ? odx_error(ODX_EINTERNAL, "server sent no collection") : odx_error(ODX_ENOMEM, "out of memory");
    }
    snprintf(in->name, sizeof in->name, "%s", c->name);
    in->d.dim = (int)c->dim;
    in->d.metric = c->metric >= 1 && c->metric <= 3 ? (odx_metric)(c->metric - 1) : ODX_METRIC_COSINE;
    snprintf(in->d.spec, sizeof in->d.spec, "%s", c->index_spec);
    snprintf(in->d.space, sizeof in->d.space, "%s", c->space);
    snprintf(in->index_type, sizeof in->index_type, "%s", c->index_type);
    in->d.count = c->count;
    in->d.lsn = c->lsn;
    in->d.created = c->created_unix;
    in->d.updated = c->updated_unix;
    in->ntotal = c->index_ntotal;
    in->tombstones = c->tombstones;
    in->ckpt_lsn = c->checkpoint_lsn;
    in->vector_bytes = c->vector_bytes;
    odx_rpc_free(&resp->base);
    *out = in;
    return 0;
}

/* Protobuf values for metadata, built in one arena-like bundle per call. */
struct pb_meta {
    Omnidex__V1__Item__MetadataEntry *entries;
    Omnidex__V1__Item__MetadataEntry **ptrs;
    Omnidex__V1__Value *values;
};

static int meta_to_pb(const odx_meta *m, struct pb_meta *pm, size_t *n)
{
    size_t cnt = m ? m->n : 0;
    memset(pm, 0, sizeof *pm);
    *n = cnt;
    if (!cnt) return 0;
    pm->entries = odx_calloc(cnt, sizeof *pm->entries);
    pm->ptrs = odx_calloc(cnt, sizeof *pm->ptrs);
    pm->values = odx_calloc(cnt, sizeof *pm->values);
    if (!pm->entries || !pm->ptrs || !pm->values) return odx_error(ODX_ENOMEM, "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        const struct odx_meta_entry *e = &m->e[i];
        Omnidex__V1__Item__MetadataEntry init = OMNIDEX__V1__ITEM__METADATA_ENTRY__INIT;
        Omnidex__V1__Value vinit = OMNIDEX__V1__VALUE__INIT;
        pm->entries[i] = init;
        pm->values[i] = vinit;
        pm->entries[i].key = e->key;
        pm->entries[i].value = &pm->values[i];
        Omnidex__V1__Value *v = &pm->values[i];
        switch (e->val.type) {
        case ODX_VALUE_STRING: v->kind_case = OMNIDEX__V1__VALUE__KIND_STRING_VALUE; v->string_value = e->val.v.str.s; break;
        case ODX_VALUE_INT: v->kind_case = OMNIDEX__V1__VALUE__KIND_INT_VALUE; v->int_value = e->val.v.i; break;
        case ODX_VALUE_FLOAT: v->kind_case = OMNIDEX__V1__VALUE__KIND_FLOAT_VALUE; v->float_value = e->val.v.f; break;
        case ODX_VALUE_BOOL: v->kind_case = OMNIDEX__V1__VALUE__KIND_BOOL_VALUE; v->bool_value = e->val.v.b; break;
        }
        pm->ptrs[i] = &pm->entries[i];
    }
    return 0;
}

static void pb_meta_free(struct pb_meta *pm)
{
    odx_free(pm->entries);
    odx_free(pm->ptrs);
    odx_free(pm->values);
}

/* Hit and item metadata entries share a layout (key, value). */
static int meta_from_pb(Omnidex__V1__Item__MetadataEntry **es, size_t n, odx_meta **out)
{
    odx_meta *m;
    int rc = odx_meta_new(&m);
    for (size_t i = 0; !rc && i < n; i++) {
        const Omnidex__V1__Value *v = es[i]->value;
        if (!v) continue;
        switch (v->kind_case) {
        case OMNIDEX__V1__VALUE__KIND_STRING_VALUE:
            rc = odx_meta_set_string(m, es[i]->key, v->string_value, strlen(v->string_value));
            break;
        case OMNIDEX__V1__VALUE__KIND_INT_VALUE: rc = odx_meta_set_int(m, es[i]->key, v->int_value); break;
        case OMNIDEX__V1__VALUE__KIND_FLOAT_VALUE: rc = odx_meta_set_float(m, es[i]->key, v->float_value); break;
        case OMNIDEX__V1__VALUE__KIND_BOOL_VALUE: rc = odx_meta_set_bool(m, es[i]->key, v->bool_value); break;
        default: break;
        }
    }
    if (rc) { odx_meta_free(m); return rc; }
    *out = m;
    return 0;
}

static int r_upsert(void *ctx, const char *coll, const odx_batch *b)
{
    size_t n = b->n;
    Omnidex__V1__Item *items = odx_calloc(n ? n : 1, sizeof *items);
    Omnidex__V1__Item **ptrs = odx_calloc(n ? n : 1, sizeof *ptrs);
    Omnidex__V1__Vector *vecs = odx_calloc(n ? n : 1, sizeof *vecs);
    Omnidex__V1__Media *media = odx_calloc(n ? n : 1, sizeof *media);
    struct pb_meta *pms = odx_calloc(n ? n : 1, sizeof *pms);
    char **texts = odx_calloc(n ? n : 1, sizeof *texts);
    int rc = items && ptrs && vecs && media && pms && texts ? 0 : odx_error(ODX_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        const struct odx_item *it = &b->items[i];
        Omnidex__V1__Item init = OMNIDEX__V1__ITEM__INIT;
        items[i] = init;
        items[i].id = it->id;
        items[i].modality = to_pb_mod(it->modality);
        /* A payload sent as bytes keeps its URI (e.g. the file's path) as the source. */
        items[i].source = it->source ? it->source : it->data && it->uri ? it->uri : "";
        if ((rc = meta_to_pb(it->meta, &pms[i], &items[i].n_metadata))) break;
        items[i].metadata = pms[i].ptrs;
        if (it->vec) {
            Omnidex__V1__Vector vi = OMNIDEX__V1__VECTOR__INIT;
            vecs[i] = vi;
            vecs[i].n_values = (size_t)b->dim;
            vecs[i].values = it->vec;
            items[i].payload_case = OMNIDEX__V1__ITEM__PAYLOAD_VECTOR;
            items[i].vector = &vecs[i];
        } else if (it->modality == ODX_MODALITY_TEXT && it->data) {
            if (!(texts[i] = odx_strndup(it->data, it->len))) { rc = odx_error(ODX_ENOMEM, "out of memory"); break; }
            items[i].payload_case = OMNIDEX__V1__ITEM__PAYLOAD_TEXT;
            items[i].text = texts[i];
        } else {
            Omnidex__V1__Media mi = OMNIDEX__V1__MEDIA__INIT;
            media[i] = mi;
            media[i].modality = to_pb_mod(it->modality);
            if (it->data) {
                media[i].source_case = OMNIDEX__V1__MEDIA__SOURCE_DATA;
                media[i].data.data = it->data;
                media[i].data.len = it->len;
            } else {
                media[i].source_case = OMNIDEX__V1__MEDIA__SOURCE_URI;
                media[i].uri = it->uri;
            }
            items[i].payload_case = OMNIDEX__V1__ITEM__PAYLOAD_MEDIA;
            items[i].media = &media[i];
        }
        ptrs[i] = &items[i];
    }
    if (!rc) {
        Omnidex__V1__UpsertRequest req = OMNIDEX__V1__UPSERT_REQUEST__INIT;
        req.collection = (char *)coll;
        req.n_items = n;
        req.items = ptrs;
        Omnidex__V1__UpsertResponse *resp;
        rc = odx_rpc_upsert(ctx, &req, &resp);
        if (!rc) odx_rpc_free(&resp->base);
    }
    for (size_t i = 0; pms && i < n; i++) pb_meta_free(&pms[i]);
    for (size_t i = 0; texts && i < n; i++) odx_free(texts[i]);
    odx_free(items);
    odx_free(ptrs);
    odx_free(vecs);
    odx_free(media);
    odx_free(pms);
    odx_free(texts);
    return rc;
}

static int r_remove(void *ctx, const char *coll, const char *const *ids, size_t n, size_t *deleted)
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

static int r_get(void *ctx, const char *coll, const char *id, odx_record **out)
{
    Omnidex__V1__GetRequest req = OMNIDEX__V1__GET_REQUEST__INIT;
    req.collection = (char *)coll;
    req.id = (char *)id;
    Omnidex__V1__GetResponse *resp;
    int rc = odx_rpc_get(ctx, &req, &resp);
    if (rc) return rc;
    const Omnidex__V1__Item *it = resp->item;
    odx_record *r = odx_calloc(1, sizeof *r);
    if (!r || !it) {
        odx_free(r);
        odx_rpc_free(&resp->base);
        return r ? odx_error(ODX_EINTERNAL, "server sent no item") : odx_error(ODX_ENOMEM, "out of memory");
    }
    r->id = odx_strdup(it->id);
    r->source = odx_strdup(it->source ? it->source : "");
    r->modality = from_pb_mod(it->modality);
    r->created = resp->created_unix;
    r->updated = resp->updated_unix;
    if (!r->id || !r->source) rc = odx_error(ODX_ENOMEM, "out of memory");
    if (!rc) rc = meta_from_pb(it->metadata, it->n_metadata, &r->meta);
    if (!rc && it->payload_case == OMNIDEX__V1__ITEM__PAYLOAD_VECTOR && it->vector) {
        r->dim = (int)it->vector->n_values;
        if (!(r->vec = odx_malloc(it->vector->n_values * sizeof(float) + 1))) rc = odx_error(ODX_ENOMEM, "out of memory");
        else memcpy(r->vec, it->vector->values, it->vector->n_values * sizeof(float));
    }
    odx_rpc_free(&resp->base);
    if (rc) { odx_record_free(r); return rc; }
    *out = r;
    return 0;
}

static int r_search(void *ctx, const char *coll, const odx_query *q, const odx_search_params *p, odx_results **out)
{
    size_t n = q->n;
    Omnidex__V1__QueryPart *parts = odx_calloc(n ? n : 1, sizeof *parts);
    Omnidex__V1__QueryPart **ptrs = odx_calloc(n ? n : 1, sizeof *ptrs);
    Omnidex__V1__Vector *vecs = odx_calloc(n ? n : 1, sizeof *vecs);
    Omnidex__V1__Media *media = odx_calloc(n ? n : 1, sizeof *media);
    char **texts = odx_calloc(n ? n : 1, sizeof *texts);
    char *expr = NULL;
    int rc = parts && ptrs && vecs && media && texts ? 0 : odx_error(ODX_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        const struct odx_qpart *qp = &q->parts[i];
        Omnidex__V1__QueryPart init = OMNIDEX__V1__QUERY_PART__INIT;
        parts[i] = init;
        parts[i].weight = qp->weight;
        if (qp->vec) {
            Omnidex__V1__Vector vi = OMNIDEX__V1__VECTOR__INIT;
            vecs[i] = vi;
            vecs[i].n_values = (size_t)qp->dim;
            vecs[i].values = qp->vec;
            parts[i].part_case = OMNIDEX__V1__QUERY_PART__PART_VECTOR;
            parts[i].vector = &vecs[i];
        } else if (qp->id) {
            parts[i].part_case = OMNIDEX__V1__QUERY_PART__PART_ITEM_ID;
            parts[i].item_id = qp->id;
        } else if (qp->modality == ODX_MODALITY_TEXT && qp->data) {
            if (!(texts[i] = odx_strndup(qp->data, qp->len))) { rc = odx_error(ODX_ENOMEM, "out of memory"); break; }
            parts[i].part_case = OMNIDEX__V1__QUERY_PART__PART_TEXT;
            parts[i].text = texts[i];
        } else {
            Omnidex__V1__Media mi = OMNIDEX__V1__MEDIA__INIT;
            media[i] = mi;
            media[i].modality = to_pb_mod(qp->modality);
            if (qp->data) {
                media[i].source_case = OMNIDEX__V1__MEDIA__SOURCE_DATA;
                media[i].data.data = qp->data;
                media[i].data.len = qp->len;
            } else {
                media[i].source_case = OMNIDEX__V1__MEDIA__SOURCE_URI;
                media[i].uri = qp->uri;
            }
            parts[i].part_case = OMNIDEX__V1__QUERY_PART__PART_MEDIA;
            parts[i].media = &media[i];
        }
        ptrs[i] = &parts[i];
    }
    Omnidex__V1__Filter filter = OMNIDEX__V1__FILTER__INIT;
    if (!rc && p->filter) {
        /* The filter travels in the filter language; the server parses it. */
        rc = odx_filter_to_string(p->filter, &expr);
        filter.kind_case = OMNIDEX__V1__FILTER__KIND_EXPR;
        filter.expr = expr;
    }
    Omnidex__V1__Modality mods[ODX_MODALITY_COUNT];
    size_t nmods = 0;
    for (int m = 0; m < ODX_MODALITY_COUNT; m++)
        if (p->modalities & (1u << m)) mods[nmods++] = to_pb_mod((odx_modality)m);
    Omnidex__V1__SearchResponse *resp = NULL;
    if (!rc) {
        Omnidex__V1__SearchParams sp = OMNIDEX__V1__SEARCH_PARAMS__INIT;
        sp.ef_search = (uint32_t)p->ef;
        sp.nprobe = (uint32_t)p->nprobe;
        sp.exact = p->exact;
        Omnidex__V1__SearchRequest req = OMNIDEX__V1__SEARCH_REQUEST__INIT;
        req.collection = (char *)coll;
        req.n_parts = n;
        req.parts = ptrs;
        req.k = (uint32_t)p->k;
        req.filter = p->filter ? &filter : NULL;
        req.n_modalities = nmods;
        req.modalities = mods;
        req.params = &sp;
        req.with_metadata = p->with_meta;
        rc = odx_rpc_search(ctx, &req, &resp);
    }
    odx_results *r = NULL;
    if (!rc) rc = odx_results_alloc(1, resp->n_hits > (size_t)p->k ? resp->n_hits : (size_t)p->k, &r);
    for (size_t i = 0; !rc && i < resp->n_hits; i++) {
        const Omnidex__V1__Hit *h = resp->hits[i];
        odx_meta *m = NULL;
        char *id = odx_strdup(h->id);
        if (!id) { rc = odx_error(ODX_ENOMEM, "out of memory"); break; }
        if (p->with_meta && (rc = meta_from_pb((Omnidex__V1__Item__MetadataEntry **)h->metadata, h->n_metadata, &m))) {
            odx_free(id);
            break;
        }
        rc = odx_results_push(r, 0, id, h->score, from_pb_mod(h->modality), m);
    }
    if (resp) odx_rpc_free(&resp->base);
    for (size_t i = 0; texts && i < n; i++) odx_free(texts[i]);
    odx_free(parts);
    odx_free(ptrs);
    odx_free(vecs);
    odx_free(media);
    odx_free(texts);
    odx_free(expr);
    if (rc) { odx_results_free(r); return rc; }
    *out = r;
    return 0;
}

static int r_maintain(void *ctx, const char *name, int compact)
{
    Omnidex__V1__MaintainCollectionRequest req = OMNIDEX__V1__MAINTAIN_COLLECTION_REQUEST__INIT;
    req.name = (char *)name;
    req.operation = compact ? OMNIDEX__V1__MAINTENANCE__MAINTENANCE_COMPACT : OMNIDEX__V1__MAINTENANCE__MAINTENANCE_CHECKPOINT;
    Omnidex__V1__MaintainCollectionResponse *resp;
    int rc = odx_rpc_maintain_collection(ctx, &req, &resp);
    if (!rc) odx_rpc_free(&resp->base);
    return rc;
}

static int r_embed(void *ctx, const char *space, odx_modality m, const void *data, size_t len, const char *uri,
                   float **vec, int *dim)
{
    Omnidex__V1__EmbedRequest req = OMNIDEX__V1__EMBED_REQUEST__INIT;
    Omnidex__V1__Media media = OMNIDEX__V1__MEDIA__INIT;
    char *text = NULL;
    req.space = (char *)space;
    if (m == ODX_MODALITY_TEXT) {
        /* The wire's text is a C string: copy the bytes and end them. */
        if (!(text = odx_malloc(len + 1))) return odx_error(ODX_ENOMEM, "out of memory");
        memcpy(text, data, len);
        text[len] = 0;
        req.input_case = OMNIDEX__V1__EMBED_REQUEST__INPUT_TEXT;
        req.text = text;
    } else {
        media.modality = to_pb_mod(m);
        if (data) {
            media.source_case = OMNIDEX__V1__MEDIA__SOURCE_DATA;
            media.data.data = (uint8_t *)data;
            media.data.len = len;
        } else {
            media.source_case = OMNIDEX__V1__MEDIA__SOURCE_URI;
            media.uri = (char *)uri;
        }
        req.input_case = OMNIDEX__V1__EMBED_REQUEST__INPUT_MEDIA;
        req.media = &media;
    }
    Omnidex__V1__EmbedResponse *resp;
    int rc = odx_rpc_embed(ctx, &req, &resp);
    odx_free(text);
    if (rc) return rc;
    if (!resp->vector || !resp->vector->n_values || resp->vector->n_values > ODX_MAX_DIM) {
        odx_rpc_free(&resp->base);
        return odx_error(ODX_EINTERNAL, "server sent no vector");
    }
    float *v = odx_malloc(resp->vector->n_values * sizeof *v);
    if (!v) { odx_rpc_free(&resp->base); return odx_error(ODX_ENOMEM, "out of memory"); }
    memcpy(v, resp->vector->values, resp->vector->n_values * sizeof *v);
    *vec = v;
    *dim = (int)resp->vector->n_values;
    odx_rpc_free(&resp->base);
    return 0;
}

static int list_models(void *ctx, Omnidex__V1__ListModelsResponse **resp)
{
    Omnidex__V1__ListModelsRequest req = OMNIDEX__V1__LIST_MODELS_REQUEST__INIT;
    return odx_rpc_list_models(ctx, &req, resp);
}

static int r_space_list(void *ctx, char ***names, size_t *count)
{
    Omnidex__V1__ListModelsResponse *resp;
    int rc = list_models(ctx, &resp);
    if (rc) return rc;
    size_t bytes = 0;
    for (size_t i = 0; i < resp->n_models; i++) bytes += strlen(resp->models[i]->space) + 1;
    char **out = odx_malloc((resp->n_models + 1) * sizeof *out + bytes);
    if (!out) { odx_rpc_free(&resp->base); return odx_error(ODX_ENOMEM, "out of memory"); }
    char *p = (char *)(out + resp->n_models + 1);
    for (size_t i = 0; i < resp->n_models; i++) {
        size_t l = strlen(resp->models[i]->space) + 1;
        memcpy(p, resp->models[i]->space, l);
        out[i] = p;
        p += l;
    }
    out[resp->n_models] = NULL;
    *names = out;
    *count = resp->n_models;
    odx_rpc_free(&resp->base);
    return 0;
}

static int r_space_info(void *ctx, const char *space, int *dim, unsigned *modalities)
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
        for (size_t k = 0; k < md->n_modalities; k++) mask |= 1u << from_pb_mod(md->modalities[k]);
        if (dim) *dim = (int)md->dim;
        if (modalities) *modalities = mask;
        rc = 0;
        break;
    }
    odx_rpc_free(&resp->base);
    return rc;
}

static const struct odx_remote_ops ops = {
    r_close, r_create, r_drop, r_list, r_describe, r_upsert, r_remove, r_get, r_search,
    r_maintain, r_embed, r_space_list, r_space_info,
};

int cli_open_remote(const struct cli *g, odx_db **db)
{
    odx_rpc_client_options o;
    odx_rpc_client_options_init(&o);
    char token[4096];
    if (g->token_file) {
        FILE *f = fopen(g->token_file, "r");
        if (!f) return cli_fail("cannot read --token-file %s", g->token_file);
        size_t n = fread(token, 1, sizeof token - 1, f);
        fclose(f);
        token[n] = 0;
        while (n && (token[n - 1] == '\n' || token[n - 1] == '\r' || token[n - 1] == ' ')) token[--n] = 0;
        o.token = token;
    }
    odx_rpc_client *cl;
    int rc = odx_rpc_client_open(g->server, &o, &cl);
    if (rc) return cli_fail_rc(rc, g->server);
    if ((rc = odx_db_attach_remote(&ops, cl, db))) {
        odx_rpc_client_close(cl);
        return cli_fail_rc(rc, "client");
    }
    return 0;
}
