/* omnidex.v1.Omnidex: each method turns its request into odx_* calls on the
 * served database and its results into the reply. Errors come back as odx
 * statuses and are mapped by rpc_fail_odx (rpc/status.c). */
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/limits.h"
#include "common/util.h"
#include "rpc/convert.h"

#define RPC_STREAM_BATCH 1024      /* UpsertStream commits every this many items */

#define REPLY(type, init, var)                                                           \
    type *var = rpc_alloc(c, sizeof *var);                                               \
    if (!var) return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");      \
    init(var)

static void free_info(void *p) { odx_collection_info_free(p); }
static void free_results(void *p) { odx_results_free(p); }
static void free_record(void *p) { odx_record_free(p); }
static void free_plain(void *p) { odx_free(p); }

static grpc_status_code need_name(rpc_call *c, const char *what, const char *name)
{
    if (!name || !name[0]) return rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "%s is empty", what);
    return GRPC_STATUS_OK;
}

/* Describes a collection into call memory; NULL with the status set. */
static Omnidex__V1__CollectionInfo *describe(rpc_call *c, const char *name, grpc_status_code *st)
{
    odx_collection_info *info;
    int rc = odx_collection_describe(rpc_call_db(c), name, &info);
    if (rc) {
        *st = rpc_fail_odx(c, rc, NULL);
        return NULL;
    }
    if (rpc_defer(c, free_info, info)) {
        *st = rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    Omnidex__V1__CollectionInfo *ci = rpc_info_to_proto(c, info);
    if (!ci) *st = rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    return ci;
}

/* ---- collections ------------------------------------------------------------- */

static grpc_status_code create_collection(rpc_call *c, const ProtobufCMessage *m, ProtobufCMessage **resp)
{
    const Omnidex__V1__CreateCollectionRequest *r = (const void *)m;
    grpc_status_code st = need_name(c, "collection name", r->name);
    if (st) return st;
    /* The engine checks the dimension (0 with a space: the space's); a
     * uint32 over INT_MAX would wrap in its int, so only that is refused here. */
    if (r->dim > ODX_MAX_DIM)
        return rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "dim = %u out of range (1..%d)", r->dim, ODX_MAX_DIM);
    odx_metric metric;
    int rc = rpc_metric_from_proto(r->metric, &metric);
    if (rc) return rpc_fail_odx(c, rc, NULL);
    rc = odx_collection_create(rpc_call_db(c), r->name, (int)r->dim, metric,
                               r->index_spec[0] ? r->index_spec : NULL, r->space[0] ? r->space : NULL);
    if (rc) return rpc_fail_odx(c, rc, NULL);
    REPLY(Omnidex__V1__CreateCollectionResponse, omnidex__v1__create_collection_response__init, out);
    out->collection = describe(c, r->name, &st);
    if (!out->collection) return st;
    *resp = &out->base;
    return GRPC_STATUS_OK;
}

static grpc_status_code drop_collection(rpc_call *c, const ProtobufCMessage *m, ProtobufCMessage **resp)
{
    const Omnidex__V1__DropCollectionRequest *r = (const void *)m;
    grpc_status_code st = need_name(c, "collection name", r->name);
    if (st) return st;
    int rc = odx_collection_drop(rpc_call_db(c), r->name);
    if (rc) return rpc_fail_odx(c, rc, NULL);
    REPLY(Omnidex__V1__DropCollectionResponse, omnidex__v1__drop_collection_response__init, out);
    *resp = &out->base;
    return GRPC_STATUS_OK;
}

static grpc_status_code list_collections(rpc_call *c, const ProtobufCMessage *m, ProtobufCMessage **resp)
{
    (void)m;
    char **names;
    size_t n;
    int rc = odx_collection_list(rpc_call_db(c), &names, &n);
    if (rc) return rpc_fail_odx(c, rc, NULL);
    if (rpc_defer(c, free_plain, names)) return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    REPLY(Omnidex__V1__ListCollectionsResponse, omnidex__v1__list_collections_response__init, out);
    out->n_names = n;
    out->names = names;
    *resp = &out->base;
    return GRPC_STATUS_OK;
}

static grpc_status_code maintain_collection(rpc_call *c, const ProtobufCMessage *m, ProtobufCMessage **resp)
{
    const Omnidex__V1__MaintainCollectionRequest *r = (const void *)m;
    grpc_status_code st = need_name(c, "collection name", r->name);
    if (st) return st;
    double t0 = odx_now_mono();
    int rc;
    switch (r->operation) {
    case OMNIDEX__V1__MAINTENANCE__MAINTENANCE_COMPACT: rc = odx_collection_compact(rpc_call_db(c), r->name); break;
    case OMNIDEX__V1__MAINTENANCE__MAINTENANCE_CHECKPOINT: rc = odx_collection_checkpoint(rpc_call_db(c), r->name); break;
    default:
        return rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "operation must be MAINTENANCE_COMPACT or MAINTENANCE_CHECKPOINT, not %d",
                        (int)r->operation);
    }
    if (rc) return rpc_fail_odx(c, rc, NULL);
    REPLY(Omnidex__V1__MaintainCollectionResponse, omnidex__v1__maintain_collection_response__init, out);
    out->seconds = odx_now_mono() - t0;
    out->collection = describe(c, r->name, &st);
    if (!out->collection) return st;
    *resp = &out->base;
    return GRPC_STATUS_OK;
}

static grpc_status_code describe_collection(rpc_call *c, const ProtobufCMessage *m, ProtobufCMessage **resp)
{
    const Omnidex__V1__DescribeCollectionRequest *r = (const void *)m;
    grpc_status_code st = need_name(c, "collection name", r->name);
    if (st) return st;
    REPLY(Omnidex__V1__DescribeCollectionResponse, omnidex__v1__describe_collection_response__init, out);
    out->collection = describe(c, r->name, &st);
    if (!out->collection) return st;
    *resp = &out->base;
    return GRPC_STATUS_OK;
}

/* ---- writes -------------------------------------------------------------------- */

/* Adds one item to a batch; odx status with the item named in the message. */
static int add_item(odx_batch *b, const Omnidex__V1__Item *it)
{
    odx_meta *meta = NULL;
    int rc = 0;
    if (!it->id[0]) return odx_error(ODX_EINVAL, "an item has an empty id");
    if (it->n_metadata && (rc = rpc_meta_from_proto(it->metadata, it->n_metadata, &meta)) != 0)
        return odx_error_wrap(rc, "item '%.200s'", it->id);
    odx_modality mod;
    switch (it->payload_case) {
    case OMNIDEX__V1__ITEM__PAYLOAD_VECTOR: {
        mod = ODX_MODALITY_VECTOR;
        if (it->modality != OMNIDEX__V1__MODALITY__MODALITY_UNSPECIFIED &&
            (rc = rpc_modality_from_proto(it->modality, &mod)) != 0)
            break;
        if (it->vector->n_values > ODX_MAX_DIM) { /* before narrowing to int */
            rc = odx_error(ODX_EDIM, "vector of %zu values (must be the collection's dimension)",
                           it->vector->n_values);
            break;
        }
        rc = odx_batch_add(b, it->id, it->vector->values, (int)it->vector->n_values, meta, mod,
                           it->source[0] ? it->source : NULL);
        break;
    }
    case OMNIDEX__V1__ITEM__PAYLOAD_TEXT:
        rc = odx_batch_add_payload(b, it->id, ODX_MODALITY_TEXT, it->text, strlen(it->text),
                                   it->source[0] ? it->source : NULL, meta);
        break;
    case OMNIDEX__V1__ITEM__PAYLOAD_MEDIA: {
        const Omnidex__V1__Media *md = it->media;
        if ((rc = rpc_modality_from_proto(md->modality, &mod)) != 0) break;
        if (mod == ODX_MODALITY_VECTOR || mod == ODX_MODALITY_TEXT) {
            rc = odx_error(ODX_EINVAL, "media modality must be IMAGE, AUDIO, VIDEO or MESH");
            break;
        }
        /* Bytes are embedded; Item.source (a path, a URL) is only recorded. */
        if (md->source_case == OMNIDEX__V1__MEDIA__SOURCE_DATA)
            rc = odx_batch_add_payload(b, it->id, mod, md->data.data, md->data.len,
                                       it->source[0] ? it->source : NULL, meta);
        else if (md->source_case == OMNIDEX__V1__MEDIA__SOURCE_URI)
            rc = odx_batch_add_payload(b, it->id, mod, NULL, 0, md->uri, meta);
        else
            rc = odx_error(ODX_EINVAL, "media has neither data nor uri");
        break;
    }
    default:
        rc = odx_error(ODX_EINVAL, "no payload (set vector, text or media)");
    }
    odx_meta_free(meta);
    if (rc) return odx_error_wrap(rc, "item '%.200s'", it->id);
    return 0;
}

static grpc_status_code upsert(rpc_call *c, const ProtobufCMessage *m, ProtobufCMessage **resp)
{
    const Omnidex__V1__UpsertRequest *r = (const void *)m;
    grpc_status_code st = need_name(c, "collection", r->collection);
    if (st) return st;
    if (r->n_items > ODX_RPC_MAX_ITEMS)
        return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "%zu items in one request (limit %d; use UpsertStream)",
                        r->n_items, ODX_RPC_MAX_ITEMS);
    odx_batch *b;
    int rc = odx_batch_new(&b);
    if (rc) return rpc_fail_odx(c, rc, NULL);
    for (size_t i = 0; i < r->n_items && rc == 0; i++) rc = add_item(b, r->items[i]);
    if (rc == 0 && rpc_call_cancelled(c)) {
        odx_batch_free(b);
        return rpc_fail(c, GRPC_STATUS_CANCELLED, "cancelled before the write");
    }
    if (rc == 0 && r->n_items) rc = odx_upsert(rpc_call_db(c), r->collection, b);
    odx_batch_free(b);
    if (rc) return rpc_fail_odx(c, rc, NULL);
    if (r->n_items == 0 && !describe(c, r->collection, &st)) return st; /* NOT_FOUND for no items too */
    REPLY(Omnidex__V1__UpsertResponse, omnidex__v1__upsert_response__init, out);
    out->upserted = r->n_items;
    out->messages = 1;
    *resp = &out->base;
    return GRPC_STATUS_OK;
}

struct stream_state {
    odx_batch *batch;
    char collection[256];
    uint64_t upserted, messages;
};

static void stream_free(void *p)
{
    struct stream_state *s = p;
    odx_batch_free(s->batch);
    odx_free(s);
}

static grpc_status_code stream_flush(rpc_call *c, struct stream_state *s)
{
    size_t n = odx_batch_size(s->batch);
    if (!n) return GRPC_STATUS_OK;
    int rc = odx_upsert(rpc_call_db(c), s->collection, s->batch);
    if (rc) return rpc_fail_odx(c, rc, NULL);
    s->upserted += n;
    odx_batch_clear(s->batch);
    return GRPC_STATUS_OK;
}

static grpc_status_code stream_message(rpc_call *c, const ProtobufCMessage *m, ProtobufCMessage **resp)
{
    (void)resp;
    const Omnidex__V1__UpsertRequest *r = (const void *)m;
    struct stream_state *s = *rpc_call_state(c);
    if (!s) {
        s = odx_calloc(1, sizeof *s);
        if (!s || odx_batch_new(&s->batch) != 0) {
            odx_free(s);
            return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        *rpc_call_state(c) = s;
        if (!r->collection[0])
            return rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "the first UpsertStream message must name the collection");
        if (strlen(r->collection) >= sizeof s->collection)
            return rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "collection name too long");
        snprintf(s->collection, sizeof s->collection, "%s", r->collection);
    } else if (r->collection[0] && strcmp(r->collection, s->collection) != 0) {
        return rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT,
                        "message %llu names collection '%.128s' but the stream writes '%.128s' (%llu items committed)",
                        (unsigned long long)s->messages + 1, r->collection, s->collection,
                        (unsigned long long)s->upserted);
    }
    s->messages++;
    if (r->n_items > ODX_RPC_MAX_ITEMS)
        return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "%zu items in one message (limit %d)", r->n_items,
                        ODX_RPC_MAX_ITEMS);
    for (size_t i = 0; i < r->n_items; i++) {
        int rc = add_item(s->batch, r->items[i]);
        if (rc) {
            rpc_fail_odx(c, rc, NULL);
            goto committed;
        }
        if (odx_batch_size(s->batch) >= RPC_STREAM_BATCH && stream_flush(c, s) != GRPC_STATUS_OK) goto committed;
    }
    return GRPC_STATUS_OK;
committed:
    return rpc_fail_append(c, " (%llu items committed before this)", (unsigned long long)s->upserted);
}

static grpc_status_code stream_end(rpc_call *c, ProtobufCMessage **resp)
{
    struct stream_state *s = *rpc_call_state(c);
    uint64_t upserted = 0, messages = 0;
    if (s) {
        grpc_status_code st = stream_flush(c, s);
        if (st) return st;
        upserted = s->upserted;
        messages = s->messages;
        if (upserted == 0 && !describe(c, s->collection, &st)) return st; /* a stream of no items */
    }
    REPLY(Omnidex__V1__UpsertResponse, omnidex__v1__upsert_response__init, out);
    out->upserted = upserted;
    out->messages = messages;
    *resp = &out->base;
    return GRPC_STATUS_OK;
}

static grpc_status_code delete_items(rpc_call *c, const ProtobufCMessage *m, ProtobufCMessage **resp)
{
    const Omnidex__V1__DeleteRequest *r = (const void *)m;
    grpc_status_code st = need_name(c, "collection", r->collection);
    if (st) return st;
    if (r->n_ids > ODX_RPC_MAX_IDS)
        return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "%zu ids in one Delete (limit %d)", r->n_ids, ODX_RPC_MAX_IDS);
    size_t deleted = 0;
    int rc = r->n_ids ? odx_delete(rpc_call_db(c), r->collection, (const char *const *)r->ids, r->n_ids, &deleted) : 0;
    if (rc) return rpc_fail_odx(c, rc, NULL);
    if (r->n_ids == 0 && !describe(c, r->collection, &st)) return st;
    REPLY(Omnidex__V1__DeleteResponse, omnidex__v1__delete_response__init, out);
    out->deleted = deleted;
    *resp = &out->base;
    return GRPC_STATUS_OK;
}

/* ---- reads --------------------------------------------------------------------- */

static grpc_status_code get_item(rpc_call *c, const ProtobufCMessage *m, ProtobufCMessage **resp)
{
    const Omnidex__V1__GetRequest *r = (const void *)m;
    grpc_status_code st = need_name(c, "collection", r->collection);
    if (st || (st = need_name(c, "id", r->id))) return st;
    odx_record *rec;
    int rc = odx_get(rpc_call_db(c), r->collection, r->id, &rec);
    if (rc) return rpc_fail_odx(c, rc, NULL);
    if (rpc_defer(c, free_record, rec)) return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    REPLY(Omnidex__V1__GetResponse, omnidex__v1__get_response__init, out);
    REPLY(Omnidex__V1__Item, omnidex__v1__item__init, it);
    it->id = (char *)odx_record_id(rec);
    it->modality = rpc_modality_to_proto(odx_record_modality(rec));
    const char *src = odx_record_source(rec);
    it->source = (char *)(src ? src : "");
    if (rpc_meta_to_proto(c, odx_record_meta(rec), &omnidex__v1__item__metadata_entry__descriptor,
                          &it->metadata, &it->n_metadata))
        return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    int dim = 0;
    const float *v = odx_record_vector(rec, &dim);
    if (!r->without_vector && v && dim > 0) {
        REPLY(Omnidex__V1__Vector, omnidex__v1__vector__init, vec);
        vec->n_values = (size_t)dim;
        vec->values = (float *)v;
        it->payload_case = OMNIDEX__V1__ITEM__PAYLOAD_VECTOR;
        it->vector = vec;
    }
    out->item = it;
    out->created_unix = odx_record_created(rec);
    out->updated_unix = odx_record_updated(rec);
    *resp = &out->base;
    return GRPC_STATUS_OK;
}

static int add_part(odx_query *q, const Omnidex__V1__QueryPart *p, size_t i)
{
    float w = p->weight == 0.0f ? 1.0f : p->weight;
    int rc;
    odx_modality mod;
    switch (p->part_case) {
    case OMNIDEX__V1__QUERY_PART__PART_VECTOR:
        if (p->vector->n_values > ODX_MAX_DIM) /* before narrowing to int */
            return odx_error(ODX_EDIM, "query part %zu: vector of %zu values", i, p->vector->n_values);
        rc = odx_query_add_vector(q, p->vector->values, (int)p->vector->n_values, w);
        break;
    case OMNIDEX__V1__QUERY_PART__PART_TEXT:
        rc = odx_query_add_payload(q, ODX_MODALITY_TEXT, p->text, strlen(p->text), NULL, w);
        break;
    case OMNIDEX__V1__QUERY_PART__PART_MEDIA:
        if ((rc = rpc_modality_from_proto(p->media->modality, &mod)) != 0) break;
        if (p->media->source_case == OMNIDEX__V1__MEDIA__SOURCE_DATA)
            rc = odx_query_add_payload(q, mod, p->media->data.data, p->media->data.len, NULL, w);
        else if (p->media->source_case == OMNIDEX__V1__MEDIA__SOURCE_URI)
            rc = odx_query_add_payload(q, mod, NULL, 0, p->media->uri, w);
        else
            rc = odx_error(ODX_EINVAL, "media has neither data nor uri");
        break;
    case OMNIDEX__V1__QUERY_PART__PART_ITEM_ID:
        rc = odx_query_add_item(q, p->item_id, w);
        break;
    default:
        rc = odx_error(ODX_EINVAL, "empty (set vector, text, media or item_id)");
    }
    if (rc) return odx_error_wrap(rc, "query part %zu", i);
    return 0;
}

static grpc_status_code build_params(rpc_call *c, const Omnidex__V1__SearchRequest *r, odx_search_params *p,
                                     odx_filter **filter)
{
    /* k, ef_search and nprobe are uint32 on the wire: one past INT_MAX would
     * wrap in the engine's int, so the engine's bounds are checked here first,
     * naming the value given. */
    if (r->k > ODX_MAX_K)
        return rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "k = %u out of range (1..%d)", r->k, ODX_MAX_K);
    int rc = odx_search_params_set_k(p, r->k ? (int)r->k : 10);
    if (rc) return rpc_fail_odx(c, rc, NULL);
    if (r->params) {
        if (r->params->ef_search > ODX_MAX_EF_SEARCH)
            return rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "ef_search = %u out of range (0..%d)",
                            r->params->ef_search, ODX_MAX_EF_SEARCH);
        if (r->params->nprobe > ODX_MAX_NPROBE)
            return rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "nprobe = %u out of range (0..%d)", r->params->nprobe,
                            ODX_MAX_NPROBE);
        if ((rc = odx_search_params_set_ef_search(p, (int)r->params->ef_search)) != 0 ||
            (rc = odx_search_params_set_nprobe(p, (int)r->params->nprobe)) != 0 ||
            (rc = odx_search_params_set_exact(p, r->params->exact)) != 0)
            return rpc_fail_odx(c, rc, "params");
    }
    unsigned mask = 0;
    for (size_t i = 0; i < r->n_modalities; i++) {
        odx_modality mod;
        if ((rc = rpc_modality_from_proto(r->modalities[i], &mod)) != 0) return rpc_fail_odx(c, rc, "modalities");
        mask |= 1u << mod;
    }
    if ((rc = odx_search_params_set_modalities(p, mask)) != 0) return rpc_fail_odx(c, rc, "modalities");
    if ((rc = odx_search_params_set_with_meta(p, r->with_metadata)) != 0) return rpc_fail_odx(c, rc, NULL);
    if (r->filter) {
        if ((rc = rpc_filter_from_proto(r->filter, filter)) != 0) return rpc_fail_odx(c, rc, "filter");
        if ((rc = odx_search_params_set_filter(p, *filter)) != 0) return rpc_fail_odx(c, rc, "filter");
    }
    return GRPC_STATUS_OK;
}

/* Hits of query q of res as Hit messages in call memory. */
static grpc_status_code hits_to_proto(rpc_call *c, const odx_results *res, size_t q, int with_meta,
                                      Omnidex__V1__Hit ***out, size_t *count)
{
    size_t n = odx_results_count(res, q);
    Omnidex__V1__Hit **hp = rpc_alloc(c, (n ? n : 1) * sizeof *hp);
    Omnidex__V1__Hit *h = rpc_alloc(c, (n ? n : 1) * sizeof *h);
    if (!hp || !h) return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i < n; i++) {
        omnidex__v1__hit__init(&h[i]);
        h[i].id = (char *)odx_results_id(res, q, i);
        h[i].score = odx_results_score(res, q, i);
        h[i].modality = rpc_modality_to_proto(odx_results_modality(res, q, i));
        if (with_meta &&
            rpc_meta_to_proto(c, odx_results_meta(res, q, i), &omnidex__v1__hit__metadata_entry__descriptor,
                              (Omnidex__V1__Item__MetadataEntry ***)&h[i].metadata, &h[i].n_metadata))
            return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        hp[i] = &h[i];
    }
    *out = hp;
    *count = n;
    return GRPC_STATUS_OK;
}

/* SearchRequest.batch: every vector searched on its own, one engine call. */
static grpc_status_code search_batch(rpc_call *c, const Omnidex__V1__SearchRequest *r, ProtobufCMessage **resp)
{
    if (r->n_batch > ODX_RPC_MAX_BATCH)
        return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "%zu query vectors in one call (limit %d)", r->n_batch,
                        ODX_RPC_MAX_BATCH);
    size_t dim = r->batch[0]->n_values;
    if (dim == 0 || dim > ODX_MAX_DIM) return rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "query vector of %zu values", dim);
    float *all = rpc_alloc(c, r->n_batch * dim * sizeof *all);
    if (!all) return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i < r->n_batch; i++) {
        if (r->batch[i]->n_values != dim)
            return rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "batch vector %zu has %zu values, the first has %zu", i,
                            r->batch[i]->n_values, dim);
        memcpy(all + i * dim, r->batch[i]->values, dim * sizeof *all);
    }
    odx_search_params *params = NULL;
    odx_filter *filter = NULL;
    odx_results *res = NULL;
    int rc = odx_search_params_new(&params);
    if (rc) return rpc_fail_odx(c, rc, NULL);
    grpc_status_code st = build_params(c, r, params, &filter);
    if (st == GRPC_STATUS_OK && rpc_call_cancelled(c)) st = rpc_fail(c, GRPC_STATUS_CANCELLED, "cancelled before the search");
    if (st == GRPC_STATUS_OK && (rc = odx_search(rpc_call_db(c), r->collection, all, r->n_batch, (int)dim, params, &res)))
        st = rpc_fail_odx(c, rc, NULL);
    odx_search_params_free(params);
    odx_filter_free(filter);
    if (st != GRPC_STATUS_OK) return st;
    if (rpc_defer(c, free_results, res)) {
        odx_results_free(res);
        return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    Omnidex__V1__SearchResponse *out = rpc_alloc(c, sizeof *out);
    Omnidex__V1__HitList **lp = rpc_alloc(c, r->n_batch * sizeof *lp);
    Omnidex__V1__HitList *l = rpc_alloc(c, r->n_batch * sizeof *l);
    if (!out || !lp || !l) return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    omnidex__v1__search_response__init(out);
    for (size_t q = 0; q < r->n_batch; q++) {
        omnidex__v1__hit_list__init(&l[q]);
        if ((st = hits_to_proto(c, res, q, r->with_metadata, &l[q].hits, &l[q].n_hits))) return st;
        lp[q] = &l[q];
    }
    out->n_batch = r->n_batch;
    out->batch = lp;
    *resp = &out->base;
    return GRPC_STATUS_OK;
}

static grpc_status_code search(rpc_call *c, const ProtobufCMessage *m, ProtobufCMessage **resp)
{
    const Omnidex__V1__SearchRequest *r = (const void *)m;
    grpc_status_code st = need_name(c, "collection", r->collection);
    if (st) return st;
    if (r->n_batch > 0 && r->n_parts > 0)
        return rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "a request has either parts or a batch of vectors, not both");
    if (r->n_batch > 0) return search_batch(c, r, resp);
    if (r->n_parts == 0) return rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "the query has no parts");
    /* More than ODX_MAX_QUERY_PARTS: odx_query_add_* refuses the next part
     * (ODX_ELIMIT, RESOURCE_EXHAUSTED). */
    odx_search_params *params = NULL;
    odx_filter *filter = NULL;
    odx_query *q = NULL;
    odx_results *res = NULL;
    int rc = odx_search_params_new(&params);
    if (rc) return rpc_fail_odx(c, rc, NULL);
    if ((st = build_params(c, r, params, &filter)) != GRPC_STATUS_OK) goto out;
    const Omnidex__V1__QueryPart *p0 = r->parts[0];
    if (rpc_call_cancelled(c)) {
        st = rpc_fail(c, GRPC_STATUS_CANCELLED, "cancelled before the search");
        goto out;
    }
    if (r->n_parts == 1 && p0->part_case == OMNIDEX__V1__QUERY_PART__PART_VECTOR &&
        (p0->weight == 0.0f || p0->weight == 1.0f)) {
        /* One plain vector: the direct path, no fusion. */
        if (p0->vector->n_values > ODX_MAX_DIM) { /* before narrowing to int */
            st = rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "query vector of %zu values", p0->vector->n_values);
            goto out;
        }
        rc = odx_search(rpc_call_db(c), r->collection, p0->vector->values, 1, (int)p0->vector->n_values,
                        params, &res);
    } else {
        if ((rc = odx_query_new(&q)) == 0)
            for (size_t i = 0; i < r->n_parts && rc == 0; i++) rc = add_part(q, r->parts[i], i);
        if (rc == 0) rc = odx_search_query(rpc_call_db(c), r->collection, q, params, &res);
    }
    if (rc) {
        st = rpc_fail_odx(c, rc, NULL);
        goto out;
    }
    if (rpc_defer(c, free_results, res)) {
        res = NULL;
        st = rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    Omnidex__V1__SearchResponse *out = rpc_alloc(c, sizeof *out);
    if (!out) {
        st = rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    omnidex__v1__search_response__init(out);
    if ((st = hits_to_proto(c, res, 0, r->with_metadata, &out->hits, &out->n_hits))) goto out;
    *resp = &out->base;
out:
    odx_query_free(q);
    odx_search_params_free(params); /* the filter outlives the params' use */
    odx_filter_free(filter);
    return st;
}

/* ---- models and stats -------------------------------------------------------------- */

static grpc_status_code embed(rpc_call *c, const ProtobufCMessage *m, ProtobufCMessage **resp)
{
    const Omnidex__V1__EmbedRequest *r = (const void *)m;
    odx_modality mod = ODX_MODALITY_TEXT;
    const void *data = NULL;
    size_t len = 0;
    const char *uri = NULL;
    if (r->input_case == OMNIDEX__V1__EMBED_REQUEST__INPUT_TEXT) {
        data = r->text;
        len = strlen(r->text);
    } else if (r->input_case == OMNIDEX__V1__EMBED_REQUEST__INPUT_MEDIA) {
        int rc = rpc_modality_from_proto(r->media->modality, &mod);
        if (rc) return rpc_fail_odx(c, rc, "media");
        if (mod == ODX_MODALITY_VECTOR || mod == ODX_MODALITY_TEXT)
            return rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "media modality must be IMAGE, AUDIO, VIDEO or MESH");
        if (r->media->source_case == OMNIDEX__V1__MEDIA__SOURCE_DATA) {
            data = r->media->data.data;
            len = r->media->data.len;
        } else if (r->media->source_case == OMNIDEX__V1__MEDIA__SOURCE_URI) {
            uri = r->media->uri;
        } else {
            return rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "media has neither data nor uri");
        }
    } else {
        return rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "nothing to embed (set text or media)");
    }
    const char *space = r->space;
    if (!space[0]) {
        if (!r->collection[0])
            return rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "name a space or a collection to embed into");
        grpc_status_code st;
        Omnidex__V1__CollectionInfo *ci = describe(c, r->collection, &st);
        if (!ci) return st;
        if (!ci->space[0])
            return rpc_fail(c, GRPC_STATUS_FAILED_PRECONDITION,
                            "collection '%.128s' is a plain vector collection: it has no space to embed %s into",
                            r->collection, odx_modality_name(mod));
        space = ci->space;
    }
    float *vec = NULL;
    int dim = 0;
    int rc = odx_embed(rpc_call_db(c), space, mod, data, len, uri, &vec, &dim);
    if (rc) return rpc_fail_odx(c, rc, NULL);
    if (rpc_defer(c, free_plain, vec)) return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    REPLY(Omnidex__V1__EmbedResponse, omnidex__v1__embed_response__init, out);
    REPLY(Omnidex__V1__Vector, omnidex__v1__vector__init, v);
    v->n_values = (size_t)dim;
    v->values = vec;
    out->vector = v;
    out->space = (char *)space;
    *resp = &out->base;
    return GRPC_STATUS_OK;
}

static grpc_status_code list_models(rpc_call *c, const ProtobufCMessage *m, ProtobufCMessage **resp)
{
    (void)m;
    char **names;
    size_t n;
    int rc = odx_space_list(&names, &n);
    if (rc) return rpc_fail_odx(c, rc, NULL);
    if (rpc_defer(c, free_plain, names)) return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    REPLY(Omnidex__V1__ListModelsResponse, omnidex__v1__list_models_response__init, out);
    Omnidex__V1__Model **mp = rpc_alloc(c, (n ? n : 1) * sizeof *mp);
    Omnidex__V1__Model *md = rpc_alloc(c, (n ? n : 1) * sizeof *md);
    Omnidex__V1__Modality *mods = rpc_alloc(c, (n ? n : 1) * ODX_MODALITY_COUNT * sizeof *mods);
    if (!mp || !md || !mods) return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int dim = 0;
        unsigned mask = 0;
        /* A space that fails to load is listed without dim/modalities; its
         * error shows when it is used (Embed, collection create). */
        if (odx_space_info(rpc_call_db(c), names[i], &dim, &mask) != 0) {
            dim = 0;
            mask = 0;
        }
        omnidex__v1__model__init(&md[k]);
        md[k].space = names[i];
        md[k].dim = dim > 0 ? (uint32_t)dim : 0;
        md[k].modalities = mods + k * ODX_MODALITY_COUNT;
        for (int b = 0; b < ODX_MODALITY_COUNT; b++)
            if (mask & (1u << b)) md[k].modalities[md[k].n_modalities++] = rpc_modality_to_proto((odx_modality)b);
        mp[k] = &md[k];
        k++;
    }
    out->n_models = k;
    out->models = mp;
    *resp = &out->base;
    return GRPC_STATUS_OK;
}

static grpc_status_code stats(rpc_call *c, const ProtobufCMessage *m, ProtobufCMessage **resp)
{
    const Omnidex__V1__StatsRequest *r = (const void *)m;
    REPLY(Omnidex__V1__StatsResponse, omnidex__v1__stats_response__init, out);
    rpc_counters k;
    rpc_server_counters(rpc_call_server(c), &k);
    out->version = (char *)odx_version();
    out->uptime_seconds = k.uptime;
    out->calls_total = k.calls_total;
    out->calls_failed = k.calls_failed;
    out->in_flight = k.in_flight;
    out->workers = k.workers;
    grpc_status_code st;
    if (r->collection[0]) {
        Omnidex__V1__CollectionInfo **one = rpc_alloc(c, sizeof *one);
        if (!one) return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        if (!(one[0] = describe(c, r->collection, &st))) return st;
        out->n_collections = 1;
        out->collections = one;
    } else {
        char **names;
        size_t n;
        int rc = odx_collection_list(rpc_call_db(c), &names, &n);
        if (rc) return rpc_fail_odx(c, rc, NULL);
        if (rpc_defer(c, free_plain, names)) return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        Omnidex__V1__CollectionInfo **all = rpc_alloc(c, (n ? n : 1) * sizeof *all);
        if (!all) return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        size_t k2 = 0;
        for (size_t i = 0; i < n; i++) {
            Omnidex__V1__CollectionInfo *ci = describe(c, names[i], &st);
            if (ci) all[k2++] = ci; /* a collection dropped meanwhile is skipped */
            else if (st != GRPC_STATUS_NOT_FOUND) return st;
        }
        out->n_collections = k2;
        out->collections = all;
    }
    *resp = &out->base;
    return GRPC_STATUS_OK;
}

#define M(name, kind, req, fn, onmsg, onend, onfree)                                                 \
    {"/omnidex.v1.Omnidex/" name, kind, 0, &omnidex__v1__##req##__descriptor, fn, onmsg, onend, onfree}

const rpc_method rpc_omnidex_methods[] = {
    M("CreateCollection", RPC_UNARY, create_collection_request, create_collection, NULL, NULL, NULL),
    M("DropCollection", RPC_UNARY, drop_collection_request, drop_collection, NULL, NULL, NULL),
    M("ListCollections", RPC_UNARY, list_collections_request, list_collections, NULL, NULL, NULL),
    M("DescribeCollection", RPC_UNARY, describe_collection_request, describe_collection, NULL, NULL, NULL),
    M("MaintainCollection", RPC_UNARY, maintain_collection_request, maintain_collection, NULL, NULL, NULL),
    M("Upsert", RPC_UNARY, upsert_request, upsert, NULL, NULL, NULL),
    M("UpsertStream", RPC_CLIENT_STREAM, upsert_request, NULL, stream_message, stream_end, stream_free),
    M("Delete", RPC_UNARY, delete_request, delete_items, NULL, NULL, NULL),
    M("Get", RPC_UNARY, get_request, get_item, NULL, NULL, NULL),
    M("Search", RPC_UNARY, search_request, search, NULL, NULL, NULL),
    M("Embed", RPC_UNARY, embed_request, embed, NULL, NULL, NULL),
    M("ListModels", RPC_UNARY, list_models_request, list_models, NULL, NULL, NULL),
    M("Stats", RPC_UNARY, stats_request, stats, NULL, NULL, NULL),
};
const size_t rpc_omnidex_method_count = sizeof rpc_omnidex_methods / sizeof rpc_omnidex_methods[0];
