/* Embedding on the engine's side: the checks that belong to a collection
 * (is it bound to a space? is there a payload?), the public odx_embed /
 * odx_space_info / odx_db_space_list with their client-mode forwarding, and
 * the handle's URL options. The work itself is the encoders' (engine.h,
 * "The encoders"): query/embed_space.c in libomnidex.a, query/embed_none.c
 * (ODX_EUNSUPPORTED) in the vector-only libomnidex-core.a. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "query/engine.h"

int odx_engine_space_check(odx_engine *db, const char *space, int dim)
{
    int d;
    int rc = odx_encoders_space_info(db, space, &d, NULL);
    if (rc) return rc;
    if (d != dim) return odx_error(ODX_EDIM, "space '%s' embeds into %d dimensions, not %d", space, d, dim);
    return 0;
}

int odx_engine_embed(odx_engine *db, const char *coll, const char *space, int dim, odx_modality m, const void *data,
                     size_t len, const char *uri, float *out)
{
    if (!space || !*space)
        return odx_error(ODX_EPRECOND, "collection '%s' is bound to no space, so it cannot embed %s; send vectors, "
                         "or create the collection with --space", coll, odx_modality_name(m));
    if (!data && !uri) return odx_error(ODX_EINVAL, "payload has neither bytes nor a URI");
    return odx_encoders_embed(db, coll, space, dim, m, data, len, uri, out);
}

int odx_engine_set_option(odx_engine *db, const char *name, const char *value)
{
    if (!db || !name || !value) return odx_error(ODX_EINVAL, "NULL argument");
    char *end = NULL;
    if (!strcmp(name, "fetch.allow_private")) {
        if (strcmp(value, "0") && strcmp(value, "1")) return odx_error(ODX_EINVAL, "fetch.allow_private is 0 or 1");
        db->fetch.allow_private = value[0] == '1';
        return 0;
    }
    if (!strcmp(name, "fetch.file_root")) return odx_fetch_policy_add_root(&db->fetch, value);
    if (!strcmp(name, "fetch.max_bytes") || !strcmp(name, "fetch.timeout_ms")) {
        errno = 0;
        unsigned long long v = strtoull(value, &end, 10);
        if (errno || end == value || *end || v == 0 || v > (1ull << 40) || value[0] == '-')
            return odx_error(ODX_EINVAL, "%s must be a positive integer", name);
        if (name[6] == 'm') db->fetch.max_bytes = (size_t)v;
        else db->fetch.timeout_ms = (long)v;
        return 0;
    }
    return odx_error(ODX_EINVAL, "unknown option '%.64s' (fetch.allow_private, fetch.file_root, fetch.max_bytes, "
                     "fetch.timeout_ms)", name);
}

int odx_engine_embed_payload(odx_engine *db, const char *space, odx_modality m, const void *data, size_t len, const char *uri,
              float **vec, int *dim)
{
    if (!db || !space) return odx_error(ODX_EINVAL, "NULL argument");
    if (m == ODX_MODALITY_VECTOR || (int)m < 0 || (int)m >= ODX_MODALITY_COUNT)
        return odx_error(ODX_EINVAL, "embedding needs a text or media modality");
    int d;
    int rc = odx_encoders_space_info(db, space, &d, NULL);
    if (rc) return rc;
    float *v = odx_malloc((size_t)d * sizeof *v);
    if (!v) return odx_error(ODX_ENOMEM, "out of memory");
    if ((rc = odx_engine_embed(db, "(embed)", space, d, m, data, len, uri, v))) { odx_free(v); return rc; }
    *vec = v;
    *dim = d;
    return 0;
}

int odx_engine_space_info(odx_engine *db, const char *space, int *dim, unsigned *modalities)
{
    if (!db || !space) return odx_error(ODX_EINVAL, "NULL argument");
    return odx_encoders_space_info(db, space, dim, modalities);
}

int odx_engine_space_list(odx_engine *db, char ***names, size_t *count)
{
    return odx_space_list(names, count);
}
