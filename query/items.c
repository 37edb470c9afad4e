/* Batches of items to write, records read back, and the write entry points. */
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/util.h"
#include "query/engine.h"

int odx_batch_new(odx_batch **out)
{
    odx_batch *b = odx_calloc(1, sizeof *b);
    if (!b) return odx_error(ODX_ENOMEM, "out of memory");
    *out = b;
    return 0;
}

static void item_free(struct odx_item *it)
{
    odx_free(it->id);
    odx_free(it->vec);
    odx_meta_free(it->meta);
    odx_free(it->source);
    odx_free(it->data);
    odx_free(it->uri);
}

void odx_batch_clear(odx_batch *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->n; i++) item_free(&b->items[i]);
    b->n = 0;
    b->dim = 0;
}

void odx_batch_free(odx_batch *b)
{
    if (!b) return;
    odx_batch_clear(b);
    odx_free(b->items);
    odx_free(b);
}

size_t odx_batch_size(const odx_batch *b) { return b ? b->n : 0; }

static int check_id(const char *id)
{
    if (!id) return odx_error(ODX_EINVAL, "item id is NULL");
    size_t n = strlen(id);
    if (n == 0) return odx_error(ODX_EINVAL, "item id is empty");
    if (n > ODX_MAX_ID_LEN) return odx_error(ODX_EINVAL, "item id of %zu bytes (max %d)", n, ODX_MAX_ID_LEN);
    return 0;
}

/* Fills the common fields of a new item; the caller sets the payload. */
static int item_init(odx_batch *b, const char *id, const odx_meta *meta, odx_modality mod, const char *source,
                     struct odx_item **out)
{
    int rc = check_id(id);
    if (rc) return rc;
    if ((int)mod < 0 || (int)mod >= ODX_MODALITY_COUNT) return odx_error(ODX_EINVAL, "item '%s': unknown modality %d", id, (int)mod);
    if (source && strlen(source) > ODX_MAX_SOURCE_LEN)
        return odx_error(ODX_EINVAL, "item '%s': source longer than %d bytes", id, ODX_MAX_SOURCE_LEN);
    if ((rc = odx_grow(&b->items, &b->cap, b->n + 1, sizeof *b->items))) return rc;
    struct odx_item *it = &b->items[b->n];
    memset(it, 0, sizeof *it);
    it->modality = mod;
    it->idlen = strlen(id);
    if (!(it->id = odx_strdup(id))) goto nomem;
    if (source && !(it->source = odx_strdup(source))) goto nomem;
    if (meta) {
        if ((rc = odx_meta_new(&it->meta)) || (rc = odx_meta_copy(it->meta, meta))) { item_free(it); return rc; }
    }
    *out = it;
    return 0;
nomem:
    item_free(it);
    return odx_error(ODX_ENOMEM, "out of memory");
}

int odx_batch_add(odx_batch *b, const char *id, const float *vec, int dim, const odx_meta *meta,
                  odx_modality modality, const char *source)
{
    if (!b) return odx_error(ODX_EINVAL, "batch is NULL");
    if (!vec || dim < 1 || dim > ODX_MAX_DIM) return odx_error(ODX_EDIM, "item '%.256s': vector of dimension %d", id ? id : "", dim);
    if (b->dim && b->dim != dim)
        return odx_error(ODX_EDIM, "item '%.256s' has dimension %d; the batch's vectors have %d", id ? id : "", dim, b->dim);
    for (int i = 0; i < dim; i++)
        if (!odx_vec_finite(&vec[i], 1))
            return odx_error(ODX_EVECTOR, "item '%.256s': component %d is NaN or Inf", id ? id : "", i);
    struct odx_item *it;
    int rc = item_init(b, id, meta, modality, source, &it);
    if (rc) return rc;
    if (!(it->vec = odx_malloc((size_t)dim * sizeof(float)))) { item_free(it); return odx_error(ODX_ENOMEM, "out of memory"); }
    memcpy(it->vec, vec, (size_t)dim * sizeof(float));
    b->dim = dim;
    b->n++;
    return 0;
}

int odx_batch_add_payload(odx_batch *b, const char *id, odx_modality modality, const void *data, size_t len,
                          const char *uri, const odx_meta *meta)
{
    if (!b) return odx_error(ODX_EINVAL, "batch is NULL");
    if (modality == ODX_MODALITY_VECTOR) return odx_error(ODX_EINVAL, "item '%.256s': a vector payload needs odx_batch_add", id ? id : "");
    if (!data && !uri) return odx_error(ODX_EINVAL, "item '%.256s': payload has neither bytes nor a URI", id ? id : "");
    if (len > ODX_MAX_PAYLOAD) return odx_error(ODX_ELIMIT, "item '%.256s': payload of %zu bytes (max %u)", id ? id : "", len, ODX_MAX_PAYLOAD);
    struct odx_item *it;
    int rc = item_init(b, id, meta, modality, uri, &it);
    if (rc) return rc;
    if (data && !(it->data = odx_malloc(len))) { item_free(it); return odx_error(ODX_ENOMEM, "out of memory"); }
    if (data) memcpy(it->data, data, len);
    it->len = len;
    if (uri && !(it->uri = odx_strdup(uri))) { item_free(it); return odx_error(ODX_ENOMEM, "out of memory"); }
    b->n++;
    return 0;
}

/* When a batch carries text or media payloads, embeds them through the
 * collection's space (outside any lock: encoders are slow) into a new batch
 * of vector items. *out stays NULL when there is nothing to embed. */
static int embed_payloads(odx_engine *db, odx_coll *c, const odx_batch *b, odx_batch **out)
{
    size_t i;
    for (i = 0; i < b->n && b->items[i].vec; i++) {}
    if (i == b->n) return 0;
    int dim = c->desc.dim, rc = odx_batch_new(out);
    float *v = odx_malloc((size_t)dim * sizeof *v);
    if (!v && !rc) rc = odx_error(ODX_ENOMEM, "out of memory");
    for (i = 0; !rc && i < b->n; i++) {
        const struct odx_item *it = &b->items[i];
        if (it->vec) {
            rc = odx_batch_add(*out, it->id, it->vec, b->dim, it->meta, it->modality, it->source);
            continue;
        }
        rc = odx_engine_embed(db, c->name, c->desc.space, dim, it->modality, it->data, it->len, it->uri, v);
        if (rc) odx_error_wrap(rc, "item '%.256s'", it->id);
        else rc = odx_batch_add(*out, it->id, v, dim, it->meta, it->modality, it->source);
    }
    odx_free(v);
    if (rc) { odx_batch_free(*out); *out = NULL; }
    return rc;
}

int odx_engine_upsert(odx_engine *db, const char *collection, const odx_batch *b)
{
    if (!db || !b) return odx_error(ODX_EINVAL, "NULL argument");
    if (db->readonly) return odx_error(ODX_EREADONLY, "data directory opened read-only");
    if (b->n == 0) return 0;
    odx_coll *c;
    int rc = odx_coll_acquire(db, collection, &c);
    if (rc) return rc;
    odx_batch *emb = NULL;
    if ((rc = embed_payloads(db, c, b, &emb)) == 0) rc = odx_write_upsert(db, c, emb ? emb : b);
    odx_batch_free(emb);
    odx_coll_release(c);
    return rc;
}

int odx_engine_delete(odx_engine *db, const char *collection, const char *const *ids, size_t n, size_t *deleted)
{
    if (!db || (!ids && n)) return odx_error(ODX_EINVAL, "NULL argument");
    if (db->readonly) return odx_error(ODX_EREADONLY, "data directory opened read-only");
    for (size_t i = 0; i < n; i++) {
        int rc = check_id(ids[i]);
        if (rc) return rc;
    }
    odx_coll *c;
    int rc = odx_coll_acquire(db, collection, &c);
    if (rc) return rc;
    size_t d = 0;
    rc = n ? odx_write_delete(db, c, ids, n, &d) : 0;
    odx_coll_release(c);
    if (!rc && deleted) *deleted = d;
    return rc;
}

/* ---- records ---- */


void odx_record_free(odx_record *r)
{
    if (!r) return;
    odx_free(r->id);
    odx_meta_free(r->meta);
    odx_free(r->vec);
    odx_free(r->source);
    odx_free(r);
}

int odx_engine_get(odx_engine *db, const char *collection, const char *id, odx_record **out)
{
    int rc = check_id(id);
    if (rc) return rc;
    odx_coll *c;
    if ((rc = odx_coll_acquire(db, collection, &c))) return rc;
    MDB_txn *txn;
    odx_record *r = NULL;
    if ((rc = odx_txn_begin(db->st, 0, &txn))) { odx_coll_release(c); return rc; }
    odx_rec rec;
    rc = odx_rec_get(txn, c->dbis.items, id, strlen(id), &rec);
    if (rc == ODX_ENOTFOUND) rc = odx_error(ODX_ENOTFOUND, "no item '%.256s' in collection '%s'", id, c->name);
    if (rc) goto out;
    r = odx_calloc(1, sizeof *r);
    if (!r || odx_meta_new(&r->meta)) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto out; }
    size_t used;
    if ((rc = odx_meta_decode(rec.meta, rec.meta_len, &used, r->meta))) goto out;
    const float *v;
    rc = odx_vstore_get(txn, c->dbis.vec, c->desc.dim, c->per_block, rec.seq, &v);
    if (rc == ODX_ENOTFOUND) rc = odx_error(ODX_ECORRUPT, "item '%s' has no stored vector", id);
    if (rc) goto out;
    r->dim = c->desc.dim;
    r->vec = odx_malloc((size_t)r->dim * sizeof(float));
    r->id = odx_strdup(id);
    r->source = odx_strndup(rec.source, rec.source_len);
    if (!r->vec || !r->id || !r->source) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto out; }
    memcpy(r->vec, v, (size_t)r->dim * sizeof(float));
    r->modality = rec.modality;
    r->created = rec.created;
    r->updated = rec.updated;
out:
    odx_txn_abort(db->st, txn);
    odx_coll_release(c);
    if (rc) { odx_record_free(r); return rc; }
    *out = r;
    return 0;
}

const char *odx_record_id(const odx_record *r) { return r->id; }
odx_modality odx_record_modality(const odx_record *r) { return r->modality; }
const odx_meta *odx_record_meta(const odx_record *r) { return r->meta; }
const float *odx_record_vector(const odx_record *r, int *dim)
{
    if (dim) *dim = r->dim;
    return r->vec;
}
const char *odx_record_source(const odx_record *r) { return r->source; }
int64_t odx_record_created(const odx_record *r) { return r->created; }
int64_t odx_record_updated(const odx_record *r) { return r->updated; }
